import io

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from interleaf.pipeline.charset import decode_html, header_charset
from interleaf.pipeline.inputs import InputFile, expand_inputs
from interleaf.pipeline.sources import DamagedWarc, Page, TruncatedWarc, WarcImage, html_file_url, iter_warc
from interleaf.schemas import Dropped


def warc_bytes(records, gzip_it=True) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_it)
    for url, status, ctype, body, rtype in records:
        headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1") if rtype == "response" else None
        w.write_record(w.create_warc_record(url, rtype, payload=io.BytesIO(body), http_headers=headers))
    return buf.getvalue()


RECORDS = [
    ("https://a.org/", "200 OK", "text/html; charset=utf-8", b"<p>hi</p>", "response"),
    ("https://a.org/x.jpg", "200 OK", "image/jpeg", b"\xff\xd8\xff", "response"),
    ("https://a.org/gone", "404 Not Found", "text/html", b"nope", "response"),
    ("https://a.org/s.css", "200 OK", "text/css", b"body{}", "response"),
]


@pytest.mark.parametrize("gzip_it", [True, False])
def test_iter_warc_classifies_every_record(gzip_it):
    data = warc_bytes(RECORDS, gzip_it)
    out = list(iter_warc(io.BytesIO(data), "x.warc"))
    assert len(out) == 4
    page, image, gone, css = out
    assert isinstance(page, Page) and page.body == b"<p>hi</p>" and page.source.offset == 0
    assert page.source.fetched and page.source.kind == "warc"
    assert isinstance(image, WarcImage) and image.body == b"\xff\xd8\xff" and image.source.offset > 0
    assert isinstance(gone, Dropped) and gone.reason == "http_status" and "404" in gone.detail
    assert isinstance(css, Dropped) and css.reason == "unsupported_type"


@pytest.mark.parametrize("gzip_it", [True, False])
def test_truncated_warc_yields_good_records_then_raises(gzip_it):
    data = warc_bytes(RECORDS, gzip_it)
    it = iter_warc(io.BytesIO(data[:-30]), "x.warc")
    assert [type(r) for r in (next(it), next(it), next(it))] == [Page, WarcImage, Dropped]
    with pytest.raises(TruncatedWarc, match="s.css"):
        next(it)


@pytest.mark.parametrize("gzip_it", [True, False])
def test_warc_cut_inside_a_record_header_raises_whatever_the_cut(gzip_it):
    """warcio ends quietly when the file stops inside a record's WARC or HTTP headers; every cut
    from the start of the last record to the end of its headers must still raise."""
    data = warc_bytes(RECORDS, gzip_it)
    records = ArchiveIterator(io.BytesIO(data))
    last = [records.get_record_offset() for _ in records][-1]  # where the last record starts
    # Compressed, the headers are the first part of the last gzip member; plain, they are bytes.
    stop = len(data) - 30 if gzip_it else data.index(b"\r\n\r\n", data.index(b"HTTP/1.1", last)) + 4
    for cut in range(last + 1, stop):
        it = iter_warc(io.BytesIO(data[:cut]), "x.warc")
        assert len([next(it) for _ in range(3)]) == 3
        with pytest.raises(DamagedWarc):  # TruncatedWarc, or warcio's own parse error
            next(it)


def test_charset_order_header_then_meta_then_detection():
    text = "caf\u00e9 \u201cquoted\u201d"
    cp = f"<html><body><p>{text}</p></body></html>".encode("cp1252")
    decoded, enc = decode_html(cp, "text/html; charset=windows-1252")
    assert text in decoded and enc == "windows-1252"
    sj = '<html><head><meta charset="shift_jis"></head><body>図書館のお知らせ</body></html>'.encode("shift_jis")
    decoded, enc = decode_html(sj, "text/html")
    assert "図書館のお知らせ" in decoded and enc == "shift_jis"
    decoded, _ = decode_html("plain caf\u00e9 text, nothing declared".encode("utf-8"))
    assert "caf\u00e9" in decoded
    assert header_charset('text/html; charset="UTF-8"') == "utf-8"
    assert header_charset("text/html") is None


def test_expand_inputs_folder_glob_and_file(tmp_path):
    (tmp_path / "site" / "a").mkdir(parents=True)
    (tmp_path / "site" / "a" / "p.html").write_text("<p>x</p>")
    (tmp_path / "site" / "q.htm").write_text("<p>y</p>")
    (tmp_path / "site" / "notes.txt").write_text("ignored")
    warc = tmp_path / "w.warc.gz"
    warc.write_bytes(warc_bytes(RECORDS))
    files = expand_inputs([str(tmp_path / "site"), str(tmp_path / "*.warc.gz"), str(warc)])
    paths = [f.path for f in files]
    assert paths == sorted({str(tmp_path / "site" / "a" / "p.html"), str(tmp_path / "site" / "q.htm"), str(warc)})
    root = {f.path: f.root for f in files}[str(tmp_path / "site" / "a" / "p.html")]
    assert html_file_url(str(tmp_path / "site" / "a" / "p.html"), root, "https://b.org/") == "https://b.org/a/p.html"
    with pytest.raises(FileNotFoundError):
        expand_inputs([str(tmp_path / "nothing-*.warc.gz")])
