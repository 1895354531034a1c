"""Common Crawl inputs: path listings, index records read by byte range, over files and HTTP."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import threading
import time
import urllib.error
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import SAMPLE_WARC, load_manifest
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline import inputs
from interleaf.pipeline.inputs import BadRow, InputFile, expand_inputs, iter_list, open_raw, read_range
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
            start, end = spec.removeprefix("bytes=").split("-")  # an open end: to the last byte
            body, status = self.data[int(start) : int(end) + 1 if end else None], 206
        else:
            body, status = self.data, 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class SlowRangeHandler(RangeHandler):
    """RangeHandler taking 50 ms a request, counting the requests in progress at once."""

    lock = threading.Lock()
    active = peak = 0

    def do_GET(self):  # noqa: N802
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            time.sleep(0.05)
            super().do_GET()
        finally:
            with cls.lock:
                cls.active -= 1


class FlakyHandler(RangeHandler):
    """The sample WARC under /busy/ (the first request for each range gets a 503), /cut/ (the first
    whole-file answer stops halfway, as a reset connection does) and /gone/ (404 always)."""

    requests: list[tuple[str, str | None]] = []  # (path, Range header), in order

    def do_GET(self):  # noqa: N802
        self.requests.append((self.path, self.headers.get("Range")))
        seen = self.requests.count(self.requests[-1])
        if self.path.startswith("/gone/"):
            self.send_error(404)
        elif self.path.startswith("/busy/") and seen == 1:
            self.send_error(503)
        elif self.path.startswith("/cut/") and seen == 1 and not self.headers.get("Range"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.data)))
            self.end_headers()
            self.wfile.write(self.data[: len(self.data) // 2])
            self.close_connection = True
        else:
            super().do_GET()


@contextlib.contextmanager
def serving(handler: type) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def warc_server():
    with serving(RangeHandler) as url:
        yield url


def test_listing_resolves_relative_paths(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-18/a.warc.gz\n\ncrawl-data/CC-MAIN-2024-18/b.warc.gz\n"))
    assert expand_inputs([str(listing)]) == [InputFile(str(listing))]  # the workers read it
    assert [f.path for f in iter_list(str(listing), "gs://mirror/")] == [
        "gs://mirror/crawl-data/CC-MAIN-2024-18/a.warc.gz",
        "gs://mirror/crawl-data/CC-MAIN-2024-18/b.warc.gz",
    ]


def test_index_formats_agree_and_name_their_bad_rows(tmp_path):
    rows = [(u, str(o), str(n)) for u, o, n, _ in sample_index()[:5]]
    rows[2] = (rows[2][0], "not-a-number", rows[2][2])
    rows[4] = (rows[4][0], rows[4][1], "")  # no length
    # Common Crawl's own index files are gzipped CDXJ named cdx-NNNNN.gz
    cdxj = tmp_path / "cdx-00042.gz"
    cdxj.write_bytes(gzip.compress("".join(
        f'org,example)/x 20240501120000 {json.dumps({"url": u, "filename": "w.warc.gz", "offset": o, "length": n})}\n'
        for u, o, n in rows
    ).encode()))
    csv_path = tmp_path / "part.csv"
    csv_path.write_text("url,warc_filename,warc_record_offset,warc_record_length\n" +
                        "".join(f"{u},w.warc.gz,{o},{n}\n" for u, o, n in rows))
    parquet = tmp_path / "part.parquet"
    pq.write_table(pa.table({"url": [r[0] for r in rows], "warc_filename": ["w.warc.gz"] * 5,
                             "warc_record_offset": [r[1] for r in rows], "warc_record_length": [r[2] for r in rows]}),
                   parquet)
    expected = [InputFile("/data/w.warc.gz", "", int(o), int(n)) for _, o, n in rows[:2] + rows[3:4]]
    for path, bad_rows in ((cdxj, ("3", "5")), (csv_path, ("4", "6")), (parquet, ("row 3", "row 5"))):
        assert expand_inputs([str(path)]) == [InputFile(str(path))]
        items = list(iter_list(str(path), "/data/"))
        assert [i for i in items if isinstance(i, InputFile)] == expected
        bad = [i for i in items if isinstance(i, BadRow)]
        assert [b.where for b in bad] == [f"{path}:{line}" for line in bad_rows]
        assert "ValueError" in bad[0].error


def test_an_index_without_its_columns_is_one_error_not_a_row_each(tmp_path):
    index = tmp_path / "wrong.csv"
    index.write_text("url,filename\nhttps://a.example/,w.warc.gz\n")
    with pytest.raises(ValueError, match="warc_record_offset"):
        list(iter_list(str(index)))


def test_a_named_input_that_does_not_exist_stops_the_run_before_it_starts(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.cdxj"):
        expand_inputs([str(SAMPLE_WARC), str(tmp_path / "missing.cdxj")])


def test_read_range_over_http_and_files(warc_server):
    url, offset, length, _ = sample_index()[3]
    local = read_range(str(SAMPLE_WARC), offset, length)
    assert read_range(f"{warc_server}/sample.warc.gz", offset, length) == local
    assert url.encode() in gzip.decompress(local)
    with pytest.raises(IOError, match="wanted"):
        read_range(str(SAMPLE_WARC), SAMPLE_WARC.stat().st_size - 10, 100)


@pytest.fixture
def flaky_server(monkeypatch):
    monkeypatch.setattr(inputs, "HTTP_BACKOFF", 0.01)
    FlakyHandler.requests = []
    with serving(FlakyHandler) as url:
        yield url


def test_http_reads_retry_a_busy_server_and_take_up_a_cut_connection(flaky_server):
    _, offset, length, _ = sample_index()[3]
    assert read_range(f"{flaky_server}/busy/sample.warc.gz", offset, length) == read_range(str(SAMPLE_WARC), offset, length)
    with open_raw(f"{flaky_server}/cut/sample.warc.gz") as f:
        assert f.read() == SAMPLE_WARC.read_bytes()
    half = SAMPLE_WARC.stat().st_size // 2
    assert FlakyHandler.requests == [
        ("/busy/sample.warc.gz", f"bytes={offset}-{offset + length - 1}"),
        ("/busy/sample.warc.gz", f"bytes={offset}-{offset + length - 1}"),
        ("/cut/sample.warc.gz", None),
        ("/cut/sample.warc.gz", f"bytes={half}-"),  # from the byte reached, not from the start
    ]
    with pytest.raises(urllib.error.HTTPError, match="404"):  # not worth another attempt
        read_range(f"{flaky_server}/gone/sample.warc.gz", offset, length)
    assert FlakyHandler.requests[4:] == [("/gone/sample.warc.gz", f"bytes={offset}-{offset + length - 1}")]


def test_a_run_over_a_flaky_server_loses_nothing(flaky_server, sample_run, tmp_path):
    result = run([f"{flaky_server}/cut/sample.warc.gz"], str(tmp_path / "out"), RunConfig())
    assert result.manifest["stages"] == load_manifest(sample_run)["stages"]


def index_lines(name: str) -> list[str]:
    """CSV rows naming every record of the sample WARC as ``name``."""
    with open(SAMPLE_WARC, "rb") as f:
        it = ArchiveIterator(f)
        lines = []
        for record in it:
            record.content_stream().read()
            lines.append(f"{name},{it.get_record_offset()},{it.get_record_length()}")
    return lines


HEADER = "warc_filename,warc_record_offset,warc_record_length"


def test_index_run_over_http_matches_the_whole_file_run(warc_server, sample_run, tmp_path):
    """Reading every record alone by its byte range, over HTTP, gives the same shards."""
    index = tmp_path / "sample.csv"
    rows = index_lines("sample.warc.gz")
    index.write_text("\n".join([HEADER, *rows]) + "\n")
    config = RunConfig(cc_prefix=f"{warc_server}/")
    result = run([str(index)], str(tmp_path / "out"), config, ["--runner", "DirectRunner"])
    whole = load_manifest(sample_run)
    assert result.manifest["stages"].pop("inputs")["kept"] == len(rows)
    assert whole["stages"].pop("inputs")["kept"] == 1  # the one WARC file
    assert result.manifest["stages"] == whole["stages"]
    assert result.manifest["totals"] == whole["totals"]
    # the same documents and images; source paths name the HTTP copy instead of the local file
    assert [s["count"] for s in result.manifest["shards"]] == [s["count"] for s in whole["shards"]]


def test_index_records_are_read_many_at_a_time(sample_run, tmp_path):
    """Each record is one request: a reader keeps several in flight instead of waiting on each."""
    index = tmp_path / "sample.csv"
    rows = index_lines("sample.warc.gz")
    index.write_text("\n".join([HEADER, *rows]) + "\n")
    with serving(SlowRangeHandler) as url:
        result = run([str(index)], str(tmp_path / "out"), RunConfig(cc_prefix=f"{url}/"))
    assert SlowRangeHandler.peak >= 4
    assert result.manifest["stages"]["read"] == load_manifest(sample_run)["stages"]["read"]


def test_indexes_expand_in_the_workers_into_parts_with_every_row_accounted_for(sample_run, tmp_path):
    """Two index files over 3 parts: each record is read once by one part; a record named twice is
    a duplicate drop, a malformed row and an unreadable index are errors, and the run goes on."""
    rows = index_lines(str(SAMPLE_WARC))
    first = tmp_path / "index-a.csv"
    first.write_text("\n".join([HEADER, *rows[:20], f"{SAMPLE_WARC},twelve,100"]) + "\n")
    second = tmp_path / "index-b.csv"
    second.write_text("\n".join([HEADER, *rows[15:]]) + "\n")  # rows 15-19 again
    broken = tmp_path / "index-c.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    result = run([str(tmp_path / "index-*")], str(tmp_path / "out"), RunConfig(), ["--runner", "DirectRunner"],
                 num_parts=3)
    assert sorted(result.parts_run) == [0, 1, 2]
    stages, whole = result.manifest["stages"], load_manifest(sample_run)["stages"]
    assert stages["inputs"] == {"in": len(rows) + 5 + 1 + 1, "kept": len(rows), "errors": 2,
                                "dropped": {"duplicate_input": 5}, "nodes_dropped": {}}
    assert result.manifest["balanced"]
    # reading and extraction are per record, so three parts add up to the whole-file run
    assert stages["read"] == whole["read"]
    assert stages["extract"] == whole["extract"]
    errors = [json.loads(line) for p in (tmp_path / "out" / "errors").glob("*.jsonl") for line in p.read_text().splitlines()]
    inputs_errors = sorted(e["key"] for e in errors if e["stage"] == "inputs")
    assert inputs_errors == [str(first) + f":{len(rows[:20]) + 2}", str(broken)]
    # the manifest names the index files, not their records
    assert result.manifest["inputs"] == sorted(str(p) for p in (first, second, broken))
