"""Beam side of the input readers: expand input patterns, read each file, split the records."""

from __future__ import annotations

import posixpath
import re
import traceback

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from interleaf.schemas import Dropped

from .sources import HTML_SUFFIXES, STAGE, Page, WarcImage, html_file_url, iter_warc, read_html_file
from .stage import DROPPED, ERRORS, Counters, ErrorRecord

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
IMAGES = "images"


def is_warc(path: str) -> bool:
    return path.endswith(WARC_SUFFIXES)


def expand_inputs(patterns: list[str]) -> list[tuple[str, str]]:
    """(file path, root it was found under) for every input file, sorted and de-duplicated.

    A pattern is a file, a glob, or a folder (read recursively). The root lets an HTML file's
    URL be derived from its path below the folder.
    """
    found: dict[str, str] = {}
    for pattern in patterns:
        if re.search(r"[*?\[]", pattern):
            glob, root = pattern, posixpath.dirname(re.split(r"[*?\[]", pattern, maxsplit=1)[0])
        elif is_warc(pattern) or pattern.endswith(HTML_SUFFIXES):
            glob, root = pattern, posixpath.dirname(pattern)
        else:  # a folder, read recursively
            root = pattern.rstrip("/")
            glob = root + "/**"
        for m in FileSystems.match([glob])[0].metadata_list:
            if is_warc(m.path) or m.path.endswith(HTML_SUFFIXES):
                found.setdefault(m.path, root)
    if not found:
        raise FileNotFoundError(f"no WARC or HTML files match {patterns}")
    return sorted(found.items())


class ReadFiles(beam.DoFn):
    """(path, root) -> Page (main), WarcImage (tag 'images'), Dropped, ErrorRecord."""

    def __init__(self, html_base_url: str | None = None) -> None:
        self.html_base_url = html_base_url

    def setup(self) -> None:
        self.counters = Counters(STAGE)

    def process(self, element: tuple[str, str]):
        path, root = element
        try:
            if is_warc(path):
                # warcio reads gzip members itself and needs the raw bytes to report offsets.
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                    yield from self._emit_all(iter_warc(f, path))
            else:
                with FileSystems.open(path) as f:
                    yield from self._emit_all([read_html_file(f, path, html_file_url(path, root, self.html_base_url))])
        except Exception as e:  # noqa: BLE001 - a damaged file is one error, its good records were kept
            self.counters.inc("in")
            self.counters.inc("errors")
            yield beam.pvalue.TaggedOutput(
                ERRORS, ErrorRecord(STAGE, path, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
            )

    def _emit_all(self, records):
        for record in records:
            self.counters.inc("in")
            if isinstance(record, Dropped):
                self.counters.count_drops([record])
                yield beam.pvalue.TaggedOutput(DROPPED, record)
            elif isinstance(record, WarcImage):
                self.counters.inc("kept")
                yield beam.pvalue.TaggedOutput(IMAGES, record)
            else:
                assert isinstance(record, Page)
                self.counters.inc("kept")
                yield record


class ReadInputs(beam.PTransform):
    """PCollection of (path, root) -> pages, images, dropped, errors."""

    def __init__(self, html_base_url: str | None = None) -> None:
        super().__init__()
        self.html_base_url = html_base_url

    def expand(self, files):
        out = (
            files
            # Spread files over workers before the expensive read.
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadFiles(self.html_base_url)).with_outputs(IMAGES, DROPPED, ERRORS, main="pages")
        )
        return out.pages, out[IMAGES], out[DROPPED], out[ERRORS]
