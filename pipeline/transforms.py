"""Composite Beam transforms of the pipeline's own stages; each wraps plain functions."""

from __future__ import annotations

import hashlib
import json
import posixpath
import zlib
from typing import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from interleaf.schemas import Dropped

from .download import DownloadConfig, DownloadImagesDoFn, FetchResult
from .image_join import ImageOutcome, NodeOutcome, normalize_outcome, pick_body
from .images import ImageConfig
from .shards import ShardConfig, ShardInfo, sample_size, shard_count, shard_of, write_shard
from .stage import Counters, ErrorRecord


FETCH = "fetch"


class ResolveImageUrls(beam.DoFn):
    """One image URL with its referencing nodes and stored bodies -> (doc id, NodeOutcome).

    Each distinct URL is normalised once. A URL with no stored copy goes to the ``fetch`` output
    as (url, refs) when downloads are on. Counters (stage "image_records") account for the image
    records read from the input: used, or dropped as unreferenced or as a repeated record.
    """

    def __init__(self, config: ImageConfig, download: bool) -> None:
        self.config = config
        self.download = download

    def setup(self) -> None:
        self.records = Counters("image_records")

    def process(self, element):
        url, grouped = element
        refs = list(grouped["refs"])
        bodies = list(grouped["bodies"])
        if bodies:
            self.records.inc("in", len(bodies))
            if refs:
                self.records.inc("kept")
                if len(bodies) > 1:
                    self.records.inc("dropped.duplicate_record", len(bodies) - 1)
            else:
                self.records.inc("dropped.unreferenced", len(bodies))
        if not refs:
            return
        if bodies:
            yield from _per_ref(url, refs, normalize_outcome(pick_body(bodies), self.config))
        elif self.download:
            yield beam.pvalue.TaggedOutput(FETCH, (url, refs))
        else:
            yield from _per_ref(url, refs, ImageOutcome(None, "not_in_input", "no stored copy and downloads are off"))


def _per_ref(url: str, refs, outcome: ImageOutcome):
    for doc_id, index in refs:
        yield doc_id, NodeOutcome(index, url, outcome)


def _fetched_outcomes(element: tuple[list, FetchResult], config: ImageConfig):
    """(the refs of one downloaded URL, its FetchResult) -> (doc id, NodeOutcome) per ref."""
    refs, result = element
    if result.ok:
        outcome = normalize_outcome(result.data, config)
    else:
        outcome = ImageOutcome(None, result.reason, result.detail)
    yield from _per_ref(result.url, refs, outcome)


class ResolveImages(beam.PTransform):
    """(image refs (url, (doc id, node index)), stored images) -> (doc id, NodeOutcome) per ref.

    Image bytes come from the input's own image records, else (with a DownloadConfig) from the
    network, each distinct URL fetched and normalised once.
    """

    def __init__(self, config: ImageConfig, download: DownloadConfig | None = None) -> None:
        super().__init__()
        self.config = config
        self.download = download

    def expand(self, pcolls):
        refs, stored = pcolls
        bodies = stored | "Bodies" >> beam.Map(lambda im: (im.url, im.body))
        resolved = (
            {"refs": refs, "bodies": bodies}
            | "ByUrl" >> beam.CoGroupByKey()
            | "Resolve" >> beam.ParDo(ResolveImageUrls(self.config, self.download is not None)).with_outputs(
                FETCH, main="outcomes"
            )
        )
        if self.download is None:
            return resolved.outcomes
        # Each URL is normalised where it was downloaded: its raw bytes never cross a shuffle.
        downloaded = (
            resolved[FETCH]
            | "Download" >> beam.ParDo(DownloadImagesDoFn(self.download))
            | "Normalise" >> beam.FlatMap(_fetched_outcomes, self.config)
        )
        return (resolved.outcomes, downloaded) | "AllOutcomes" >> beam.Flatten()


class WriteShards(beam.PTransform):
    """Documents -> ShardInfo per shard written under OUT/shards (see pipeline/shards.py)."""

    def __init__(self, out_dir: str, part: int, config: ShardConfig) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.part = part
        self.config = config

    def expand(self, docs):
        config = self.config
        totals = (
            docs
            | "Size" >> beam.Map(lambda d: (1, sample_size(d)))
            | "Total" >> beam.CombineGlobally(lambda pairs: tuple(map(sum, zip(*pairs))) or (0, 0))
            | "Count" >> beam.MapTuple(lambda n_docs, n_bytes: shard_count(n_docs, n_bytes, config))
        )
        n_shards = beam.pvalue.AsSingleton(totals)
        out_dir, part = self.out_dir, self.part
        return (
            docs
            | "Assign" >> beam.Map(lambda d, n: (shard_of(d.id, n), d), n_shards)
            | "Group" >> beam.GroupByKey()
            | "Write" >> beam.MapTuple(lambda index, group: write_shard(out_dir, part, index, group))
        )


def keep_sample(record: Dropped, rate: float) -> bool:
    """Deterministic sampling of diagnostic records by their document id."""
    if rate >= 1.0:
        return True
    key = (record.doc_id + record.url).encode()
    return int(hashlib.sha1(key).hexdigest()[:8], 16) / 0xFFFFFFFF < rate


def record_lines(record: ShardInfo | Dropped | ErrorRecord, dropped_rate: float) -> Iterator[tuple[str, str]]:
    """A record for the run folder -> (folder, JSON line): every error, a sample of the dropped
    records, and shard infos, which go through files to the driver that assembles the manifest."""
    if isinstance(record, ShardInfo):
        yield "_work", json.dumps(record.to_dict(), sort_keys=True)
    elif isinstance(record, Dropped):
        if keep_sample(record, dropped_rate):
            yield "dropped", record.to_json()
    else:
        yield "errors", record.to_json()


RECORD_FILES = 8  # files per folder and part: enough to spread the writing, few enough to read


def write_lines(path: str, lines: Iterable[str]) -> None:
    """Write lines to ``path`` under a temporary name, then rename: a retried bundle replaces it whole."""
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        for line in lines:
            f.write(line.encode("utf-8") + b"\n")
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


class WriteRecords(beam.PTransform):
    """(folder, JSON line) -> OUT/<folder>/<folder>-PPPPP-FFFFF.jsonl, lines spread by their hash.

    One transform for every folder of diagnostic records (a Beam WriteToText is a dozen
    transforms each, and every transform costs the job fixed time).
    """

    def __init__(self, out_dir: str, part: int) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.part = part

    def expand(self, records):
        out_dir, part = self.out_dir, self.part

        def write(key: tuple[str, int], lines: Iterable[str]) -> None:
            folder, index = key
            write_lines(posixpath.join(out_dir, folder, f"{folder}-{part:05d}-{index:05d}.jsonl"), lines)

        return (
            records
            | "File" >> beam.MapTuple(lambda folder, line: ((folder, zlib.crc32(line.encode()) % RECORD_FILES), line))
            | "Group" >> beam.GroupByKey()
            | "Write" >> beam.MapTuple(write)
        )
