"""What a run reads: input patterns expanded to files, Common Crawl listings, index records, and
opening them wherever they live (Beam FileSystems: local, gs://, s3://; or http(s)://).

Forms of ``--input``:
- a WARC or HTML file, a glob, or a folder (read recursively);
- a Common Crawl listing ``*.paths`` / ``*.paths.gz`` (one WARC path per line, relative to
  ``cc_prefix``), as published for each crawl (``warc.paths.gz``);
- an index of single records ``*.cdx``, ``*.cdxj`` (CDX JSON lines: ``SURT TIMESTAMP {json}``
  with filename, offset, length) or ``*.csv`` / ``*.parquet`` with the columnar index's
  ``warc_filename``, ``warc_record_offset``, ``warc_record_length`` columns: each record is read
  alone by its byte range, as OBELICS did, instead of whole WARC files.
"""

from __future__ import annotations

import csv
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


def _lines(path: str) -> Iterator[str]:
    with FileSystems.open(path) as f:  # .gz is decompressed by extension
        text = f.read().decode("utf-8")
    for line in text.splitlines():
        if line.strip():
            yield line.strip()


def listing_paths(path: str, prefix: str = CC_PREFIX) -> list[InputFile]:
    """The WARC files of a Common Crawl ``warc.paths(.gz)`` listing."""
    return [InputFile(line if "://" in line or line.startswith("/") else prefix + line) for line in _lines(path)]


def index_records(path: str, prefix: str = CC_PREFIX) -> list[InputFile]:
    """Single WARC records named by a CDX(J) file or a columnar-index CSV/Parquet export."""
    rows: list[tuple[str, int, int]] = []
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        with FileSystems.open(path) as f:
            table = pq.read_table(f, columns=["warc_filename", "warc_record_offset", "warc_record_length"])
        rows = list(zip(*(table.column(c).to_pylist() for c in table.column_names)))
    elif ".csv" in path:
        for r in csv.DictReader(_lines(path)):
            rows.append((r["warc_filename"], int(r["warc_record_offset"]), int(r["warc_record_length"])))
    else:
        for line in _lines(path):
            record = json.loads(line[line.index("{") :])
            rows.append((record["filename"], int(record["offset"]), int(record["length"])))
    return [
        InputFile(name if "://" in name or name.startswith("/") else prefix + name, "", offset, length)
        for name, offset, length in rows
    ]


def expand_inputs(patterns: list[str], cc_prefix: str = CC_PREFIX) -> list[InputFile]:
    """Every input file or record, sorted and de-duplicated."""
    found: dict[str, InputFile] = {}

    def add(item: InputFile) -> None:
        found.setdefault(item.key, item)

    for pattern in patterns:
        if pattern.endswith(LISTING_SUFFIXES):
            for item in listing_paths(pattern, cc_prefix):
                add(item)
            continue
        if pattern.endswith(INDEX_SUFFIXES):
            for item in index_records(pattern, cc_prefix):
                add(item)
            continue
        if _is_http(pattern):
            add(InputFile(pattern))
            continue
        if _GLOB.search(pattern):
            glob, root = pattern, posixpath.dirname(_GLOB.split(pattern, maxsplit=1)[0])
        elif is_warc(pattern) or pattern.endswith(HTML_SUFFIXES):
            glob, root = pattern, posixpath.dirname(pattern)
        else:  # a folder, read recursively
            root = pattern.rstrip("/")
            glob = root + "/**"
        for m in FileSystems.match([glob])[0].metadata_list:
            if is_warc(m.path) or m.path.endswith(HTML_SUFFIXES):
                add(InputFile(m.path, root))
    if not found:
        raise FileNotFoundError(f"no WARC or HTML files match {patterns}")
    return [found[k] for k in sorted(found)]
