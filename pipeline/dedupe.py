"""Deduplication stages as Beam transforms that scale across workers.

Each transform returns ``(kept, dropped, errors)`` like ``Stage`` and counts under its stage name
(``in``, ``kept``, ``errors``, ``dropped.<reason>``, ``nodes_dropped.<level>.<reason>``).
Nothing is held in one place: counts are ``CombinePerKey``s, verdicts travel back to documents
through ``CoGroupByKey`` on a key (URL, content hash, image hash, band, document id), and the
documents of a key are streamed, never collected. Rules live in pipeline/dedupe_logic.py.

Run them in this order, so that copies removed earlier do not inflate later counts:

    DedupeDocuments ─► NearDupDocuments ─► RepeatedParagraphs ─► DedupeImages ─► Decontaminate
"""

from __future__ import annotations

import functools
import traceback
from typing import Any, Callable, Iterable, NamedTuple

import apache_beam as beam

from interleaf.schemas import Document, Dropped, StageResult

from . import dedupe_logic as dl
from .dedupe_logic import DedupeConfig
from .stage import DROPPED, ERRORS, Counters, ErrorRecord, Stage

ERROR_MARK = "__error__"


class _Prepare(beam.DoFn):
    """doc -> (url key, (rank, content hash, doc)); a failure goes to the dead letter."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def setup(self) -> None:
        self.counters = Counters(self.stage)

    def process(self, doc: Document):
        self.counters.inc("in")
        try:
            yield dl.url_key(doc), (dl.doc_rank(doc), dl.content_hash(doc), doc)
        except Exception as e:  # noqa: BLE001 - a bad record must not stop the run
            self.counters.inc("errors")
            yield beam.pvalue.TaggedOutput(
                ERRORS, ErrorRecord(self.stage, doc.id, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
            )


class _KeepBest(beam.DoFn):
    """(key, {"docs": [(rank, ...)], "best": [rank]}) -> the best-ranked entry; the others dropped."""

    def __init__(self, stage: str, reason: str) -> None:
        self.stage = stage
        self.reason = reason

    def setup(self) -> None:
        self.counters = Counters(self.stage)

    def process(self, element):
        key, grouped = element
        (best,) = grouped["best"]
        kept = False
        for entry in grouped["docs"]:  # streamed: a hot key is never held in memory
            rank, doc = entry[0], entry[-1]
            if rank == best and not kept:  # equal ranks mean byte-identical documents: keep one
                kept = True
                yield entry
                continue
            self.counters.inc(f"dropped.{self.reason}")
            detail = f"kept {best[2]} fetched {dl.iso_time(-best[0])}"
            yield beam.pvalue.TaggedOutput(
                DROPPED, Dropped(self.stage, self.reason, "document", doc.id, doc.url, detail, doc.text()[:500])
            )


def _keep_best_per_key(keyed, stage: str, reason: str, label: str):
    """keyed (key, (rank, ..., doc)) -> (kept entries, dropped) keeping the minimum rank per key."""
    ranks = keyed | f"{label}Ranks" >> beam.MapTuple(lambda k, entry: (k, entry[0]))
    best = ranks | f"{label}Best" >> beam.CombinePerKey(min)
    out = (
        {"docs": keyed, "best": best}
        | f"{label}Join" >> beam.CoGroupByKey()
        | f"{label}Keep" >> beam.ParDo(_KeepBest(stage, reason)).with_outputs(DROPPED, main="kept")
    )
    return out.kept, out[DROPPED]


def _count_kept(entry, counters: Counters) -> Document:
    counters.inc("kept")
    return entry[-1]


class _Markers(beam.DoFn):
    """doc -> whatever ``fn(doc)`` yields; on failure one (doc id, ERROR_MARK) so the stage reports it."""

    def __init__(self, fn: Callable[[Document], Iterable[Any]]) -> None:
        self.fn = fn

    def process(self, doc: Document):
        try:
            yield from list(self.fn(doc))
        except Exception as e:  # noqa: BLE001 - reported by the stage's join as this document's error
            yield beam.pvalue.TaggedOutput(ERROR_MARK, (doc.id, f"{type(e).__name__}: {e}"))


def _frequent_refs(refs, limit: int, label: str):
    """(key, doc id) pairs, one per document and key -> (doc id, key) for keys on more than ``limit`` docs."""

    def emit(element):
        key, grouped = element
        (count,) = grouped["n"]
        if count > limit:
            for doc_id in grouped["refs"]:
                yield doc_id, key

    counts = refs | f"{label}Count" >> beam.combiners.Count.PerKey()
    joined = {"refs": refs, "n": counts} | f"{label}Join" >> beam.CoGroupByKey()
    return joined | f"{label}Frequent" >> beam.FlatMap(emit)


def _near_links(items, band_keys: Callable, rank: Callable, is_near: Callable, max_bucket: int, label: str):
    """Banded LSH: (id, item) -> (id, best-ranked item within the threshold), for items that have one.

    An item's first field is its id (ImageItem.sha1, DocItem.id).
    Items sharing a band key are candidates. Each is compared with the ``max_bucket``
    best-ranked items of its bucket (all of them unless the bucket is hot), so memory per key is
    bounded; the best neighbour over all its buckets wins. Items with no link represent a cluster.
    """

    def in_bucket(element):
        _, grouped = element
        (top,) = grouped["top"]
        top = sorted(top, key=rank)
        for item in grouped["all"]:
            other = dl.best_neighbour(item, top, rank, is_near)
            if other is not None:
                yield item[0], other

    entries = items | f"{label}Bands" >> beam.FlatMap(lambda kv: [(b, kv[1]) for b in band_keys(kv[1])])
    top = entries | f"{label}Top" >> beam.combiners.Top.PerKey(max_bucket, key=rank, reverse=True)
    return (
        {"all": entries, "top": top}
        | f"{label}Buckets" >> beam.CoGroupByKey()
        | f"{label}Compare" >> beam.FlatMap(in_bucket)
        | f"{label}Best" >> beam.CombinePerKey(functools.partial(min, key=rank))
    )


class Joined(NamedTuple):
    """A document id with everything grouped under it; ``id`` names it in dead-letter records."""

    id: str
    grouped: dict


def _join_stage(fn: Callable[[Document, dict], StageResult]) -> Callable[[Joined], StageResult]:
    """A Stage function over a Joined ({"doc": [doc], ERROR_MARK: [...], verdicts...})."""

    def run(joined: Joined) -> StageResult:
        docs = list(joined.grouped["doc"])
        if len(docs) != 1:
            raise ValueError(f"{len(docs)} documents share id {joined.id}; DedupeDocuments must run first")
        errors = list(joined.grouped[ERROR_MARK])
        if errors:
            raise ValueError(errors[0])
        return fn(docs[0], joined.grouped)

    return run


def _markers(docs, fn, label: str):
    out = docs | label >> beam.ParDo(_Markers(fn)).with_outputs(ERROR_MARK, main="main")
    return out.main, out[ERROR_MARK]


def _sha1_occurrences(doc: Document):
    return [(sha1, doc.id) for sha1 in sorted({n.sha1 for n in doc.images if n.sha1})]


def _image_items(doc: Document, match_mirrored: bool):
    seen = set()
    for node in doc.images:
        if node.sha1 in seen:  # a repeat: its (mirror) hash is already out
            continue
        seen.add(node.sha1)
        item = dl.image_item(node, match_mirrored)
        if item is not None:
            yield item.sha1, item


class _DedupeStage(beam.PTransform):
    """Shared shape: a config, a stage name, and the final join of verdicts to their documents."""

    STAGE = ""

    def __init__(self, config: DedupeConfig | None = None, stage: str | None = None) -> None:
        super().__init__()
        self.config = config or DedupeConfig()
        self.stage = stage or self.STAGE

    def _apply(self, docs, verdicts: dict, errors, fn: Callable[[Document, dict], StageResult]):
        """CoGroupByKey documents with their verdicts by id, then ``fn(doc, grouped)`` as a Stage."""
        keyed = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        return (
            {"doc": keyed, ERROR_MARK: errors, **verdicts}
            | "ByDoc" >> beam.CoGroupByKey()
            | "Joined" >> beam.MapTuple(Joined)
            | "Apply" >> Stage(self.stage, _join_stage(fn))
        )


class DedupeDocuments(_DedupeStage):
    """Exact duplicates: one document per canonical URL (the most recent fetch), then one per content hash."""

    STAGE = "dedupe_documents"

    def expand(self, docs):
        stage = self.stage
        prepared = docs | "Prepare" >> beam.ParDo(_Prepare(stage)).with_outputs(ERRORS, main="keyed")
        by_url, url_dropped = _keep_best_per_key(prepared.keyed, stage, "duplicate_url", "Url")
        by_content = by_url | "ByContent" >> beam.Map(lambda entry: (entry[1], entry))
        kept, content_dropped = _keep_best_per_key(by_content, stage, "duplicate_content", "Content")
        kept_docs = kept | "Docs" >> beam.Map(_count_kept, Counters(stage))
        dropped = (url_dropped, content_dropped) | "Dropped" >> beam.Flatten()
        return kept_docs, dropped, prepared[ERRORS]


class DedupeImages(_DedupeStage):
    """Images repeated within a document, on too many documents, or near-duplicates by pHash."""

    STAGE = "dedupe_images"

    def expand(self, docs):
        config, stage = self.config, self.stage
        refs, ref_errors = _markers(docs, lambda d: [(k, d.id) for k in sorted(dl.image_keys(d))], "Refs")
        frequent = _frequent_refs(refs, config.max_docs_per_image, "Image")

        image_items = functools.partial(_image_items, match_mirrored=config.match_mirrored)
        items, item_errors = _markers(docs, image_items, "Items")
        distinct = items | "Distinct" >> beam.CombinePerKey(min)
        d = config.image_distance
        links = _near_links(
            distinct,
            functools.partial(dl.image_band_keys, distance=d),
            dl.image_rank,
            lambda a, b: dl.image_distance(a, b) <= d,
            config.max_bucket,
            "Image",
        )
        occurrences = docs | "Occurrences" >> beam.FlatMap(_sha1_occurrences)
        near = (
            {"occ": occurrences, "rep": links}
            | "NearJoin" >> beam.CoGroupByKey()
            | "NearToDocs" >> beam.FlatMap(
                lambda kv: [(doc_id, (kv[0], rep.sha1)) for rep in kv[1]["rep"] for doc_id in kv[1]["occ"]]
            )
        )
        errors = (ref_errors, item_errors) | "MarkErrors" >> beam.Flatten()

        def apply(doc: Document, grouped: dict) -> StageResult:
            return dl.apply_image_verdicts(doc, set(grouped["frequent"]), dict(grouped["near"]), config, stage)

        return self._apply(docs, {"frequent": frequent, "near": near}, errors, apply)


class NearDupDocuments(_DedupeStage):
    """MinHash LSH over word shingles: of documents within the Jaccard threshold, the best-ranked stays."""

    STAGE = "near_dup_documents"

    def expand(self, docs):
        config, stage = self.config, self.stage
        items, errors = _markers(docs, lambda d: [(d.id, dl.doc_item(d, config))], "Signatures")
        links = _near_links(
            items,
            functools.partial(dl.doc_band_keys, config=config),
            lambda item: item.rank,
            lambda a, b: dl.docs_near(a, b, config.jaccard_threshold),
            config.max_bucket,
            "Doc",
        )
        dups = links | "RepIds" >> beam.MapTuple(lambda doc_id, rep: (doc_id, rep.id))

        def apply(doc: Document, grouped: dict) -> StageResult:
            (rep, *_) = list(grouped["dup"]) or [None]
            return dl.apply_document_verdicts(doc, rep, set(), config, stage)

        return self._apply(docs, {"dup": dups}, errors, apply)


class RepeatedParagraphs(_DedupeStage):
    """Paragraphs found on more than ``max_docs_per_paragraph`` documents of one domain are removed."""

    STAGE = "repeated_paragraphs"

    def expand(self, docs):
        config, stage = self.config, self.stage
        refs, errors = _markers(docs, lambda d: [(k, d.id) for k in sorted(dl.paragraph_keys(d, config))], "Refs")
        repeated = _frequent_refs(refs, config.max_docs_per_paragraph, "Paragraph")
        hashes = repeated | "Hashes" >> beam.MapTuple(lambda doc_id, key: (doc_id, key[1]))

        def apply(doc: Document, grouped: dict) -> StageResult:
            return dl.apply_document_verdicts(doc, None, set(grouped["repeated"]), config, stage)

        return self._apply(docs, {"repeated": hashes}, errors, apply)


class Decontaminate(beam.PTransform):
    """Drops images within ``config.decontam_distance`` of an evaluation image's pHash (or its mirror's)."""

    def __init__(self, hashes: dl.EvalHashes, config: DedupeConfig | None = None, stage: str = "decontaminate") -> None:
        super().__init__()
        self.hashes = hashes
        self.config = config or DedupeConfig()
        self.stage = stage

    def expand(self, docs):
        # Evaluation sets are small: the table travels inside the stage function to every worker.
        fn = functools.partial(
            dl.decontaminate, hashes=self.hashes, distance=self.config.decontam_distance, stage=self.stage
        )
        return docs | "Apply" >> Stage(self.stage, fn)
