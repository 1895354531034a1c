"""Beam side of the input readers: expand listings and indexes into the part's files and records
(stage ``inputs``), then read each file or record and split what it holds (stage ``read``)."""

from __future__ import annotations

import io
import traceback

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from interleaf.schemas import Dropped

from .inputs import BadRow, InputFile, is_record_list, is_warc, iter_list, open_raw, read_range
from .parts import part_of
from .sources import STAGE, Page, WarcImage, html_file_url, iter_warc, read_html_file
from .stage import DROPPED, ERRORS, Counters, ErrorRecord

IMAGES = "images"
INPUTS_STAGE = "inputs"


def _error(stage: str, key: str, e: Exception) -> beam.pvalue.TaggedOutput:
    return beam.pvalue.TaggedOutput(
        ERRORS, ErrorRecord(stage, key, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
    )


class ExpandLists(beam.DoFn):
    """InputFile -> the InputFiles of one part: a listing or index file yields those of its rows
    that fall in the part, any other file itself (the driver already split files into parts).
    A malformed row goes to errors, in the part its position falls in; an unreadable list is one
    error, in the part its path falls in, after the rows read before the fault."""

    def __init__(self, part: int, num_parts: int, cc_prefix: str) -> None:
        self.part, self.num_parts, self.cc_prefix = part, num_parts, cc_prefix

    def setup(self) -> None:
        self.counters = Counters(INPUTS_STAGE)

    def process(self, element: InputFile):
        if not is_record_list(element.path):
            self.counters.inc("in")
            yield element
            return
        try:
            for item in iter_list(element.path, self.cc_prefix):
                if isinstance(item, BadRow):
                    if part_of(item.where, self.num_parts) == self.part:
                        self.counters.inc("in")
                        self.counters.inc("errors")
                        yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(INPUTS_STAGE, item.where, item.error, ""))
                elif part_of(item.key, self.num_parts) == self.part:
                    self.counters.inc("in")
                    yield item
        except Exception as e:  # noqa: BLE001 - an unreadable list is one error, its rows before the fault kept
            if part_of(element.key, self.num_parts) == self.part:  # every part fails alike; one reports it
                self.counters.inc("in")
                self.counters.inc("errors")
                yield _error(INPUTS_STAGE, element.key, e)


class KeepFirst(beam.DoFn):
    """(key, [InputFile, ...]) -> one InputFile; a record listed again is a ``duplicate_input`` drop."""

    def setup(self) -> None:
        self.counters = Counters(INPUTS_STAGE)

    def process(self, element: tuple[str, list[InputFile]]):
        key, items = element
        first, *again = sorted(items)
        self.counters.inc("kept")
        yield first
        for _ in again:
            drop = Dropped(INPUTS_STAGE, "duplicate_input", url=key, detail=f"listed {len(items)} times")
            self.counters.count_drops([drop])
            yield beam.pvalue.TaggedOutput(DROPPED, drop)


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
            yield _error(STAGE, element.key, e)

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
    """PCollection of InputFile (a part's files, and every listing and index) -> pages, images,
    dropped, errors."""

    def __init__(self, part: int, num_parts: int, cc_prefix: str, html_base_url: str | None = None) -> None:
        super().__init__()
        self.part, self.num_parts, self.cc_prefix = part, num_parts, cc_prefix
        self.html_base_url = html_base_url

    def expand(self, files):
        listed = (
            files
            # Spread the list files over workers, then each record or file by its key: the
            # grouping also finds records that several lists name.
            | "SpreadLists" >> beam.Reshuffle()
            | "Expand" >> beam.ParDo(ExpandLists(self.part, self.num_parts, self.cc_prefix)).with_outputs(
                ERRORS, main="files"
            )
        )
        unique = (
            listed.files
            | "ByKey" >> beam.Map(lambda f: (f.key, f))
            | "Group" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(KeepFirst()).with_outputs(DROPPED, main="files")
        )
        out = unique.files | "Read" >> beam.ParDo(ReadFiles(self.html_base_url)).with_outputs(
            IMAGES, DROPPED, ERRORS, main="pages"
        )
        dropped = (unique[DROPPED], out[DROPPED]) | "Dropped" >> beam.Flatten()
        errors = (listed[ERRORS], out[ERRORS]) | "Errors" >> beam.Flatten()
        return out.pages, out[IMAGES], dropped, errors
