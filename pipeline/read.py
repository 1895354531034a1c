"""Beam side of the input readers: read each input file or record, split what it holds."""

from __future__ import annotations

import io
import traceback

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from interleaf.schemas import Dropped

from .inputs import InputFile, is_warc, open_raw, read_range
from .sources import STAGE, Page, WarcImage, html_file_url, iter_warc, read_html_file
from .stage import DROPPED, ERRORS, Counters, ErrorRecord

IMAGES = "images"


class ReadFiles(beam.DoFn):
    """InputFile -> Page (main), WarcImage (tag 'images'), Dropped, ErrorRecord."""

    def __init__(self, html_base_url: str | None = None) -> None:
        self.html_base_url = html_base_url

    def setup(self) -> None:
        self.counters = Counters(STAGE)

    def process(self, element: InputFile):
        path, root, offset, length = element
        try:
            if offset is not None:
                record = io.BytesIO(read_range(path, offset, length))
                yield from self._emit_all(iter_warc(record, path, base_offset=offset))
            elif is_warc(path):
                with open_raw(path) as f:
                    yield from self._emit_all(iter_warc(f, path))
            else:
                with FileSystems.open(path) as f:
                    yield from self._emit_all([read_html_file(f, path, html_file_url(path, root, self.html_base_url))])
        except Exception as e:  # noqa: BLE001 - a damaged file is one error, its good records were kept
            self.counters.inc("in")
            self.counters.inc("errors")
            yield beam.pvalue.TaggedOutput(
                ERRORS, ErrorRecord(STAGE, element.key, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
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
    """PCollection of InputFile -> pages, images, dropped, errors."""

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
