"""Composite Beam transforms of the pipeline's own stages; each wraps plain functions."""

from __future__ import annotations

import hashlib
import posixpath

import apache_beam as beam

from interleaf.schemas import Dropped

from .image_join import ImageOutcome, NodeOutcome, normalize_outcome, pick_body
from .download import DownloadConfig, DownloadImagesDoFn
from .images import ImageConfig
from .shards import ShardConfig, sample_size, shard_count, shard_of, write_shard
from .stage import Counters


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


def _fetched_outcomes(element, config: ImageConfig):
    """(url, {refs: [refs], fetched: [FetchResult]}) -> (doc id, NodeOutcome) per ref."""
    url, grouped = element
    (refs,) = grouped["refs"]
    (result,) = grouped["fetched"]
    if result.ok:
        outcome = normalize_outcome(result.data, config)
    else:
        outcome = ImageOutcome(None, result.reason, result.detail)
    yield from _per_ref(url, refs, outcome)


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
        to_fetch = resolved[FETCH]
        fetched = to_fetch | "Urls" >> beam.Keys() | "Download" >> beam.ParDo(DownloadImagesDoFn(self.download))
        downloaded = (
            {"refs": to_fetch, "fetched": fetched}
            | "FetchedByUrl" >> beam.CoGroupByKey()
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


class WriteJsonl(beam.PTransform):
    """Records (with to_json(), or already strings) -> OUT/<name>/<name>-PPPPP-SSSSS-of-NNNNN.jsonl."""

    def __init__(self, out_dir: str, name: str, part: int, to_json: bool = True) -> None:
        super().__init__()
        self.prefix = posixpath.join(out_dir, name, f"{name}-{part:05d}")
        self.to_json = to_json

    def expand(self, records):
        if self.to_json:
            records = records | "Json" >> beam.Map(lambda r: r.to_json())
        return records | "Write" >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl")
