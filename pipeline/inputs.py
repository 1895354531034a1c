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
import io
import json
import posixpath
import re
import urllib.request
from typing import IO, Iterator, NamedTuple

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
        return urllib.request.urlopen(urllib.request.Request(path, headers={"User-Agent": USER_AGENT}), timeout=60)
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def read_range(path: str, offset: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from ``offset``: an HTTP Range request, or a seek."""
    if _is_http(path):
        request = urllib.request.Request(
            path, headers={"User-Agent": USER_AGENT, "Range": f"bytes={offset}-{offset + length - 1}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.status != 206:
                raise IOError(f"{path}: the server ignored the byte range (HTTP {response.status})")
            data = response.read()
    else:
        with open_raw(path) as f:
            f.seek(offset)
            data = f.read(length)
    if len(data) != length:
        raise IOError(f"{path}: wanted {length} bytes at {offset}, got {len(data)}")
    return data


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
