"""Common Crawl inputs: path listings, index records read by byte range, over files and HTTP."""

from __future__ import annotations

import gzip
import http.server
import json
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import SAMPLE_WARC, load_manifest
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.inputs import InputFile, expand_inputs, read_range
from interleaf.pipeline.run import run


def sample_index() -> list[tuple[str, int, int, str]]:
    """(url, offset, length, mime) of each response record of the sample WARC."""
    rows = []
    with open(SAMPLE_WARC, "rb") as f:
        it = ArchiveIterator(f)
        for record in it:
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI")
                mime = record.http_headers.get_header("Content-Type")
                record.content_stream().read()
                rows.append((url, it.get_record_offset(), it.get_record_length(), mime))
    return rows


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves the sample WARC with HTTP Range support, as the public crawl's server does."""

    data = SAMPLE_WARC.read_bytes()

    def do_GET(self):  # noqa: N802 - http.server's naming
        spec = self.headers.get("Range")
        if spec:
            start, end = (int(x) for x in spec.removeprefix("bytes=").split("-"))
            body, status = self.data[start : end + 1], 206
        else:
            body, status = self.data, 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def warc_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_listing_resolves_relative_paths(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-18/a.warc.gz\n\ncrawl-data/CC-MAIN-2024-18/b.warc.gz\n"))
    files = expand_inputs([str(listing)], "gs://mirror/")
    assert [f.path for f in files] == [
        "gs://mirror/crawl-data/CC-MAIN-2024-18/a.warc.gz",
        "gs://mirror/crawl-data/CC-MAIN-2024-18/b.warc.gz",
    ]


def test_index_formats_agree(tmp_path):
    rows = sample_index()[:5]
    cdxj = tmp_path / "part.cdxj"
    cdxj.write_text("".join(
        f'org,example)/x 20240501120000 {json.dumps({"url": u, "filename": "w.warc.gz", "offset": str(o), "length": str(n)})}\n'
        for u, o, n, _ in rows
    ))
    csv_path = tmp_path / "part.csv"
    csv_path.write_text("url,warc_filename,warc_record_offset,warc_record_length\n" +
                        "".join(f"{u},w.warc.gz,{o},{n}\n" for u, o, n, _ in rows))
    parquet = tmp_path / "part.parquet"
    pq.write_table(pa.table({"url": [r[0] for r in rows], "warc_filename": ["w.warc.gz"] * 5,
                             "warc_record_offset": [r[1] for r in rows], "warc_record_length": [r[2] for r in rows]}),
                   parquet)
    expected = sorted((InputFile("/data/w.warc.gz", "", o, n) for _, o, n, _ in rows), key=lambda f: f.key)
    for path in (cdxj, csv_path, parquet):
        assert expand_inputs([str(path)], "/data/") == expected


def test_read_range_over_http_and_files(warc_server):
    url, offset, length, _ = sample_index()[3]
    local = read_range(str(SAMPLE_WARC), offset, length)
    assert read_range(f"{warc_server}/sample.warc.gz", offset, length) == local
    assert url.encode() in gzip.decompress(local)
    with pytest.raises(IOError, match="wanted"):
        read_range(str(SAMPLE_WARC), SAMPLE_WARC.stat().st_size - 10, 100)


def test_index_run_over_http_matches_the_whole_file_run(warc_server, sample_run, tmp_path):
    """Reading every record alone by its byte range, over HTTP, gives the same shards."""
    index = tmp_path / "sample.csv"
    with open(SAMPLE_WARC, "rb") as f:
        it = ArchiveIterator(f)
        lines = ["warc_filename,warc_record_offset,warc_record_length"]
        for record in it:
            record.content_stream().read()
            lines.append(f"sample.warc.gz,{it.get_record_offset()},{it.get_record_length()}")
    index.write_text("\n".join(lines) + "\n")
    config = RunConfig(cc_prefix=f"{warc_server}/")
    result = run([str(index)], str(tmp_path / "out"), config, ["--runner", "DirectRunner"])
    whole = load_manifest(sample_run)
    assert result.manifest["stages"] == whole["stages"]
    assert result.manifest["totals"] == whole["totals"]
    # the same documents and images; source paths name the HTTP copy instead of the local file
    assert [s["count"] for s in result.manifest["shards"]] == [s["count"] for s in whole["shards"]]
