"""What a run reads: input patterns expanded to files, Common Crawl listings, index records, and
opening them wherever they live (Beam FileSystems: local, gs://, s3://; or http(s)://).

Forms of ``--input``:
- a WARC or HTML file, a glob, or a folder (read recursively);
- a Common Crawl listing ``*.paths`` / ``*.paths.gz`` (one WARC path per line, relative to
  ``cc_prefix``), as published for each crawl (``warc.paths.gz``);
- an index of single records ``*.cdx``, ``*.cdxj`` or Common Crawl's ``cdx-NNNNN.gz`` (CDX JSON
  lines: ``SURT TIMESTAMP {json}`` with filename, offset, length) or ``*.csv`` / ``*.parquet`` with
  the columnar index's ``warc_filename``, ``warc_record_offset``, ``warc_record_length`` columns:
  each record is read alone by its byte range, as OBELICS did, instead of whole WARC files.

Listings and indexes ("record lists") are not expanded by the driver: an index subset can name
millions of records, too many for a job description. The driver passes the list files on, and
workers stream their rows (``iter_list``); a malformed row is a ``BadRow``, not a failed run.
"""

from __future__ import annotations

import csv
import gzip
import http.client
import io
import json
import posixpath
import re
import time
import urllib.error
import urllib.request
from typing import IO, Callable, Iterator, NamedTuple, TypeVar

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from .sources import HTML_SUFFIXES

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
LISTING_SUFFIXES = (".paths", ".paths.gz")
INDEX_SUFFIXES = (".cdx", ".cdx.gz", ".cdxj", ".cdxj.gz", ".csv", ".csv.gz", ".parquet")
INDEX_COLUMNS = ("warc_filename", "warc_record_offset", "warc_record_length")
_CC_CDX = re.compile(r"cdx-\d+\.gz$")  # Common Crawl's own index files: CDXJ lines, gzipped
CC_PREFIX = "https://data.commoncrawl.org/"
USER_AGENT = "interleaf/0.1"
_GLOB = re.compile(r"[*?\[]")
T = TypeVar("T")


class InputFile(NamedTuple):
    path: str
    root: str = ""  # the folder it was found under (an HTML file's URL derives from the rest)
    offset: int | None = None  # with length: one record of a WARC, read by byte range
    length: int | None = None

    @property
    def key(self) -> str:
        """Stable identity, for splitting into parts."""
        return self.path if self.offset is None else f"{self.path}@{self.offset}"


def is_warc(path: str) -> bool:
    return path.endswith(WARC_SUFFIXES)


def _is_http(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def open_raw(path: str) -> IO[bytes]:
    """A byte stream of the file as stored (no decompression: warcio reads gzip members itself)."""
    if _is_http(path):
        return io.BufferedReader(HttpReader(path), buffer_size=1 << 20)
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_range(path: str, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from ``offset``: an HTTP Range request, or a seek."""
    if _is_http(path):
        data = _with_retries(lambda: _read_all(_http_get(path, offset, offset + length - 1)))
    else:
        with open_raw(path) as f:
            f.seek(offset)
            data = f.read(length)
    if len(data) != length:
        raise IOError(f"{path}: wanted {length} bytes at {offset}, got {len(data)}")
    return data


# The public crawl's server answers 503 ("slow down") under load and drops connections now and
# then; readers at scale retry those with backoff, as Common Crawl asks.
HTTP_ATTEMPTS = 5
HTTP_BACKOFF = 1.0  # seconds before the second attempt, doubling after each failure
RETRY_STATUSES = (429, 500, 502, 503, 504)


class _Retryable(IOError):
    """A failure worth another attempt: a busy server or a lost connection."""


def _http_get(url: str, start: int = 0, end: int | None = None) -> http.client.HTTPResponse:
    """GET ``url`` from byte ``start`` (to ``end``, inclusive); a ranged answer must be a 206."""
    headers = {"User-Agent": USER_AGENT}
    if start or end is not None:
        headers["Range"] = f"bytes={start}-{'' if end is None else end}"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as e:
        if e.code in RETRY_STATUSES:
            raise _Retryable(f"{url}: HTTP {e.code}") from e
        raise
    except (urllib.error.URLError, OSError) as e:
        raise _Retryable(f"{url}: {e}") from e
    if "Range" in headers and response.status != 206:
        response.close()
        raise IOError(f"{url}: the server ignored the byte range (HTTP {response.status})")
    return response


def _read_all(response: http.client.HTTPResponse) -> bytes:
    with response:
        try:
            return response.read()
        except (http.client.HTTPException, OSError) as e:  # cut short: IncompleteRead, a reset
            raise _Retryable(f"{response.url}: {type(e).__name__}: {e}") from e


def _with_retries(attempt: Callable[[], T]) -> T:
    """``attempt()``, again after a retryable failure, up to HTTP_ATTEMPTS times with backoff."""
    for n in range(HTTP_ATTEMPTS):
        try:
            return attempt()
        except _Retryable:
            if n == HTTP_ATTEMPTS - 1:
                raise
            time.sleep(HTTP_BACKOFF * 2**n)
    raise AssertionError("unreachable")


class HttpReader(io.RawIOBase):
    """A whole file over HTTP(S), streamed. A connection lost midway is taken up again by a Range
    request from the byte reached, so one reset does not cost the rest of a 1 GB WARC."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.position = 0
        self.response = _with_retries(lambda: _http_get(url))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        for n in range(HTTP_ATTEMPTS):
            try:
                read = self.response.readinto(buffer)
                if not read and len(buffer) and self.response.length:  # closed before its Content-Length
                    raise http.client.IncompleteRead(b"", self.response.length)
                self.position += read
                return read
            except (http.client.HTTPException, OSError) as e:  # IncompleteRead, a reset, a timeout
                self.response.close()
                if n == HTTP_ATTEMPTS - 1:
                    raise IOError(f"{self.url}: lost at byte {self.position}: {type(e).__name__}: {e}") from e
                time.sleep(HTTP_BACKOFF * 2**n)
                self.response = _with_retries(lambda: _http_get(self.url, self.position))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if not self.closed:
            self.response.close()
        super().close()


class BadRow(NamedTuple):
    """A row of a listing or index that names no record."""

    where: str  # PATH:LINE (or PATH:row N for Parquet)
    error: str


def is_record_list(path: str) -> bool:
    """A listing of WARC files or an index of single records, expanded by the workers."""
    return path.endswith(LISTING_SUFFIXES + INDEX_SUFFIXES) or bool(_CC_CDX.match(posixpath.basename(path)))


def _resolve(name: str, prefix: str) -> str:
    return name if "://" in name or name.startswith("/") else prefix + name


def _open_list(path: str) -> IO[bytes]:
    """A listing or index file, decompressed (.gz) and seekable where Parquet needs it."""
    if _is_http(path):
        with open_raw(path) as response:
            data = response.read()  # record lists are small next to the WARCs they name
        return io.BytesIO(gzip.decompress(data) if path.endswith(".gz") else data)
    return FileSystems.open(path)  # .gz is decompressed by extension


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line, streamed."""
    with _open_list(path) as f:
        for n, raw in enumerate(iter(f.readline, b""), start=1):
            line = raw.decode("utf-8").strip()
            if line:
                yield n, line


def _index_rows(path: str) -> Iterator[tuple[str, tuple[object, object, object]]]:
    """(where, (filename, offset, length)) of each row of an index file, streamed."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        with _open_list(path) as f:
            row = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=65536, columns=list(INDEX_COLUMNS)):
                for values in zip(*(batch.column(c).to_pylist() for c in INDEX_COLUMNS)):
                    row += 1
                    yield f"{path}:row {row}", values
    elif ".csv" in path:
        lines = _lines(path)
        _, first = next(lines, (0, ""))
        header = next(csv.reader([first]))
        missing = [c for c in INDEX_COLUMNS if c not in header]
        if missing:  # a file-level fault: one error for the file, not one per row
            raise ValueError(f"{path}: no column {', '.join(missing)} in the header {header[:8]}")
        columns = [header.index(c) for c in INDEX_COLUMNS]
        for n, line in lines:
            cells = next(csv.reader([line]))
            yield f"{path}:{n}", tuple(cells[i] if i < len(cells) else None for i in columns)
    else:  # CDXJ: SURT TIMESTAMP {json}
        for n, line in _lines(path):
            try:
                fields = json.loads(line[line.index("{") :])
                yield f"{path}:{n}", (fields.get("filename"), fields.get("offset"), fields.get("length"))
            except (ValueError, AttributeError):  # no JSON object on the line
                yield f"{path}:{n}", (None, None, None)


def _record(name: object, offset: object, length: object, prefix: str) -> InputFile:
    start, size = int(offset), int(length)  # type: ignore[call-overload]
    if not name or start < 0 or size <= 0:
        raise ValueError(f"no record at {name!r} offset {offset} length {length}")
    return InputFile(_resolve(str(name), prefix), "", start, size)


def iter_list(path: str, prefix: str = CC_PREFIX) -> Iterator[InputFile | BadRow]:
    """The WARC files of a ``warc.paths(.gz)`` listing, or the single records of an index file,
    one per row, streamed. A row that names no record is a ``BadRow``; an unreadable file raises."""
    if path.endswith(LISTING_SUFFIXES):
        for _, line in _lines(path):
            yield InputFile(_resolve(line, prefix))
        return
    for where, (name, offset, length) in _index_rows(path):
        try:
            yield _record(name, offset, length, prefix)
        except (TypeError, ValueError) as e:
            yield BadRow(where, f"{type(e).__name__}: {e}")


def expand_inputs(patterns: list[str]) -> list[InputFile]:
    """Every input file, sorted and de-duplicated. Listings and index files are returned as they
    are: the workers read their rows."""
    found: dict[str, InputFile] = {}

    def add(item: InputFile) -> None:
        found.setdefault(item.key, item)

    for pattern in patterns:
        if _is_http(pattern):
            add(InputFile(pattern))
            continue
        is_glob = bool(_GLOB.search(pattern))
        if is_glob:
            glob, root = pattern, posixpath.dirname(_GLOB.split(pattern, maxsplit=1)[0])
        elif is_warc(pattern) or pattern.endswith(HTML_SUFFIXES) or is_record_list(pattern):
            glob, root = pattern, posixpath.dirname(pattern)
        else:  # a folder, read recursively
            root = pattern.rstrip("/")
            glob = root + "/**"
        matched = FileSystems.match([glob])[0].metadata_list
        if not matched and not is_glob:
            raise FileNotFoundError(f"no such input: {pattern}")
        for m in matched:
            # A glob or a path may name index files (an export's *.parquet); a folder's stray CSV is no index.
            if is_warc(m.path) or m.path.endswith(HTML_SUFFIXES) or (glob == pattern and is_record_list(m.path)):
                add(InputFile(m.path, "" if is_record_list(m.path) else root))
    if not found:
        raise FileNotFoundError(f"no WARC, HTML, listing or index files match {patterns}")
    return [found[k] for k in sorted(found)]
