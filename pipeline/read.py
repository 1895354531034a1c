"""Beam side of the input readers: expand listings and indexes into the part's files and records
(stage ``inputs``), then read each file or record and split what it holds (stage ``read``)."""

from __future__ import annotations

import io
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils.windowed_value import WindowedValue

from interleaf.schemas import Dropped

from .inputs import BadRow, InputFile, is_record_list, is_warc, iter_list, open_raw, read_range
from .parts import part_of
from .sources import STAGE, Page, WarcImage, html_file_url, iter_warc, read_html_file
from .stage import DROPPED, ERRORS, Counters, ErrorRecord

IMAGES = "images"
INPUTS_STAGE = "inputs"
RECORD_READS_IN_FLIGHT = 16  # byte-range reads per reader; each waits on one request


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


def _fetched_records(fetch: Future, element: InputFile) -> Iterator:
    """The records of one byte range, once its read is done (a failed read raises here)."""
    yield from iter_warc(io.BytesIO(fetch.result()), element.path, base_offset=element.offset)


class ReadFiles(beam.DoFn):
    """InputFile -> Page (main), WarcImage (tag 'images'), Dropped, ErrorRecord.

    Single records (an index's rows) are read by byte range, ``reads_in_flight`` at a time: each is
    one request to where the WARC lives (the public crawl's HTTPS server, an object store), so one
    at a time a reader would mostly wait.
    """

    def __init__(self, html_base_url: str | None = None, reads_in_flight: int = RECORD_READS_IN_FLIGHT) -> None:
        self.html_base_url = html_base_url
        self.reads_in_flight = reads_in_flight

    def setup(self) -> None:
        self.counters = Counters(STAGE)
        self.pool = ThreadPoolExecutor(self.reads_in_flight, thread_name_prefix="read-range")

    def start_bundle(self) -> None:
        self.records: list[tuple[InputFile, Any, Any]] = []

    def process(self, element: InputFile, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        if element.offset is None:
            yield from self._read(element, self._whole_file(element))
            return
        self.records.append((element, timestamp, window))
        if len(self.records) >= 4 * self.reads_in_flight:
            yield from self._read_records()

    def finish_bundle(self):
        yield from self._read_records()

    def teardown(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def _whole_file(self, element: InputFile) -> Iterator:
        path, root, _, _ = element
        if is_warc(path):
            with open_raw(path) as f:
                yield from iter_warc(f, path)
        else:
            with FileSystems.open(path) as f:
                yield read_html_file(f, path, html_file_url(path, root, self.html_base_url))

    def _read_records(self):
        """The buffered records, their ranges fetched concurrently, their outputs in their windows."""
        batch, self.records = self.records, []
        fetches = [(self.pool.submit(read_range, e.path, e.offset, e.length), e, t, w) for e, t, w in batch]
        for fetch, element, timestamp, window in fetches:
            for out in self._read(element, _fetched_records(fetch, element)):
                tag, value = (out.tag, out.value) if isinstance(out, beam.pvalue.TaggedOutput) else (None, out)
                windowed = WindowedValue(value, timestamp, [window])
                yield windowed if tag is None else beam.pvalue.TaggedOutput(tag, windowed)

    def _read(self, element: InputFile, records: Iterator):
        """The records of a file or of one record's range, split by kind; a fault (raised while
        iterating) is one error for the file or record, after the records read before it."""
        try:
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
        except Exception as e:  # noqa: BLE001 - a damaged file is one error, its good records were kept
            self.counters.inc("in")
            self.counters.inc("errors")
            yield _error(STAGE, element.key, e)


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
