"""Input readers: WARC files and folders of HTML files, as plain generators.

They yield ``Page`` (an HTML response) and ``WarcImage`` (an image response stored in the same
WARC) records, and ``Dropped`` for records that are neither. The Beam transforms in
``pipeline/read.py`` are thin wrappers around these.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import IO, Iterator, Union

from warcio.archiveiterator import ArchiveIterator

from interleaf.schemas import Dropped, Source

STAGE = "read"
HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
PAYLOAD_TYPES = ("response", "resource")  # the WARC record types that carry a page or an image


class DamagedWarc(IOError):
    """The WARC cannot be read past some point: cut short, or a record warcio cannot parse."""


class TruncatedWarc(DamagedWarc):
    """The WARC ends inside a record (an interrupted download or copy)."""


@dataclass
class Page:
    url: str
    body: bytes
    content_type: str | None
    source: Source


@dataclass
class WarcImage:
    url: str
    body: bytes
    content_type: str | None
    source: Source


Record = Union[Page, WarcImage, Dropped]


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _check_whole(record, path: str, url: str) -> None:
    """Raise TruncatedWarc unless the record is whole: warcio stops quietly at a file cut inside a
    record. Cut in its headers, it lacks the mandatory Content-Length (or more); cut in its
    block, part of the declared length is missing. The unread rest of a skipped record is read."""
    if not (record.rec_headers.get_header("Content-Length") or "").strip().isdigit():
        raise TruncatedWarc(f"{path}: a record with no Content-Length (cut inside its headers) at {url or 'no URL'!r}")
    while record.raw_stream.read(1 << 16):
        pass
    if getattr(record.raw_stream, "limit", 0):
        raise TruncatedWarc(f"{path}: record {url!r} ends {record.raw_stream.limit} bytes early")


def _parsed(records: ArchiveIterator, path: str) -> Iterator:
    """warcio's records, with its parse errors (of any type) raised as DamagedWarc."""
    it = iter(records)
    while True:
        try:
            record = next(it)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - warcio raises ValueError, AttributeError... on damage
            raise DamagedWarc(f"{path}: unreadable after offset {records.offset}: {type(e).__name__}: {e}") from e
        yield record


def iter_warc(stream: IO[bytes], path: str, base_offset: int = 0) -> Iterator[Record]:
    """Read a WARC (gzip or plain, warcio detects which) and classify each record.

    Only ``response`` and ``resource`` records carry pages or images; the others (request,
    metadata, warcinfo...) are reported as dropped so the read stage's count stays exact.
    A damaged file (cut inside a record's block or headers, or unparseable) raises DamagedWarc
    after the records before the damage were yielded. ``base_offset`` is where ``stream`` starts
    in the file (a record read alone by its byte range).
    """
    records = ArchiveIterator(stream, arc2warc=True)
    for record in _parsed(records, path):
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        rtype = record.rec_type
        body = record.content_stream().read() if rtype in PAYLOAD_TYPES else b""
        _check_whole(record, path, url)
        if rtype not in PAYLOAD_TYPES:
            yield Dropped(STAGE, f"warc_{rtype}", "document", url=url)
            continue
        status = None
        if rtype == "response" and record.http_headers is not None:
            status = record.http_headers.get_statuscode()
            content_type = record.http_headers.get_header("Content-Type")
        else:
            content_type = record.rec_headers.get_header("Content-Type")
        if status is not None and status != "200":
            yield Dropped(STAGE, "http_status", "document", url=url, detail=f"HTTP {status}")
            continue
        mime = _mime(content_type)
        # warcio knows the record's offset only once its content has been read.
        offset = base_offset + records.get_record_offset()
        source = Source("warc", path, offset, record.rec_headers.get_header("WARC-Date"))
        if mime in HTML_TYPES:
            yield Page(url, body, content_type, source)
        elif mime.startswith("image/"):
            yield WarcImage(url, body, content_type, source)
        else:
            yield Dropped(STAGE, "unsupported_type", "document", url=url, detail=mime or "no content type")
    # A file cut a few bytes into a gzip member or a record's first line ends with no record at all:
    # the bytes read past the end of the last whole record say so.
    if records.fh.tell() > records.offset:
        raise TruncatedWarc(f"{path}: {records.fh.tell() - records.offset} bytes after the last whole record")


def html_file_url(path: str, root: str, base_url: str | None) -> str:
    """URL of an HTML file: base_url + its path below root, or a file:// URL."""
    rel = posixpath.relpath(path, root) if root else posixpath.basename(path)
    if base_url:
        return base_url.rstrip("/") + "/" + rel
    return "file://" + (path if path.startswith("/") else "/" + path)


def read_html_file(stream: IO[bytes], path: str, url: str) -> Page:
    return Page(url, stream.read(), None, Source("html", path))
