"""Deduplication at corpus scale in Beam: verdicts computed on small facts, applied in one join.

Each document yields its facts once (``DocFacts``: rank, content hash, MinHash signature,
paragraph keys, image references). The verdict builders below shuffle only facts, hashes and
ids, never documents; they return ``(doc id, (kind, value))`` verdicts that pipeline/apply.py
joins with the documents. Nothing is held in one place: verdicts come from groupings on a key
(content hash, band, paragraph, image key, document id) whose entries are streamed, read at most
twice, never collected. Rules live in pipeline/dedupe_logic.py.

In the pipeline the builders run in this order, each on what the previous ones kept, so that
copies removed earlier do not inflate later counts:

    url_survivors ─► content_verdicts ─► near_dup_verdicts ─► paragraph_verdicts, image_verdicts

The transforms at the end (``DedupeDocuments`` ...) run one stage alone over documents, for tests
and benchmarks; the pipeline wires the builders in pipeline/document_stages.py.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import apache_beam as beam

from interleaf.schemas import Document, StageResult

from . import dedupe_logic as dl
from .apply import ApplyStages, ChainStage, Context, error_verdict
from .dedupe_logic import DedupeConfig
from .image_join import attached_node
from .stage import Stage

FACTS = "facts"
VERDICTS = "verdicts"
OCCURRENCES = "occurrences"

DEDUPE_DOCUMENTS = "dedupe_documents"
NEAR_DUP_DOCUMENTS = "near_dup_documents"
REPEATED_PARAGRAPHS = "repeated_paragraphs"
DEDUPE_IMAGES = "dedupe_images"


class _Facts(beam.DoFn):
    """doc -> (id, DocFacts); when they cannot be computed, an error verdict for ``stage``."""

    def __init__(self, config: DedupeConfig, stage: str) -> None:
        self.config = config
        self.stage = stage

    def process(self, doc: Document):
        try:
            yield doc.id, dl.doc_facts(doc, self.config)
        except Exception as e:  # noqa: BLE001 - the apply join reports it as this document's error
            yield beam.pvalue.TaggedOutput(VERDICTS, error_verdict(doc.id, self.stage, e))


@beam.ptransform_fn
def doc_facts(docs, config: DedupeConfig, stage: str = DEDUPE_DOCUMENTS):
    """docs -> ((id, DocFacts), error verdicts)."""
    out = docs | "Compute" >> beam.ParDo(_Facts(config, stage)).with_outputs(VERDICTS, main=FACTS)
    return out[FACTS], out[VERDICTS]


def _best_fetch(facts):
    return min(facts, key=operator.attrgetter("rank"))


@beam.ptransform_fn
def url_survivors(facts):
    """(id, DocFacts) with several fetches per id -> the best-ranked fetch's facts per id."""
    return facts | "Best" >> beam.CombinePerKey(_best_fetch)


def _keep_best_content(element):
    """(content hash, facts) -> the best-ranked (id, facts); a verdict for each other document."""
    _, facts = element
    best = _best_fetch(facts)  # a first pass over the group; the second streams it again
    yield best.id, best
    detail = dl.duplicate_detail(best.rank)
    for f in facts:
        if f.id != best.id:
            yield beam.pvalue.TaggedOutput(VERDICTS, (f.id, ("duplicate_content", detail)))


@beam.ptransform_fn
def content_verdicts(facts):
    """(id, DocFacts), one per id -> (the facts kept, one per content hash; verdicts for the others)."""
    out = (
        facts
        | "ByContent" >> beam.MapTuple(lambda _, f: (f.content, f))
        | "GroupContent" >> beam.GroupByKey()
        | "KeepBest" >> beam.FlatMap(_keep_best_content).with_outputs(VERDICTS, main=FACTS)
    )
    return out[FACTS], out[VERDICTS]


def _frequent_refs(refs, limit: int, label: str):
    """(key, doc id) pairs, one per document and key -> (doc id, key) for keys on more than ``limit`` docs.

    A group is read twice, to count it and then to emit it, and never held: Beam's grouped values
    can be iterated again (on Dataflow they page in from the shuffle).
    """

    def emit(element):
        key, doc_ids = element
        if sum(1 for _ in doc_ids) > limit:
            for doc_id in doc_ids:
                yield doc_id, key

    return refs | f"{label}Group" >> beam.GroupByKey() | f"{label}Frequent" >> beam.FlatMap(emit)


def _near_links(items, band_keys: Callable, rank: Callable, is_near: Callable, max_bucket: int, label: str):
    """Banded LSH: (id, item) -> (id, best-ranked item within the threshold), for items that have one.

    An item's first field is its id (ImageItem.sha1, DocItem.id).
    Items sharing a band key are candidates. Each is compared with the ``max_bucket``
    best-ranked items of its bucket (all of them unless the bucket is hot), so memory per key is
    bounded; the best neighbour over all its buckets wins.
    Items with no link represent a cluster.
    """

    def in_bucket(element):
        return dl.bucket_links(element[1], max_bucket, rank, is_near)

    return (
        items
        | f"{label}Bands" >> beam.FlatMap(lambda kv: [(b, kv[1]) for b in band_keys(kv[1])])
        | f"{label}Buckets" >> beam.GroupByKey()
        | f"{label}Compare" >> beam.FlatMap(in_bucket)
        | f"{label}Best" >> beam.CombinePerKey(functools.partial(min, key=rank))
    )


def _unlinked(element):
    doc_id, grouped = element
    if not list(grouped["link"]):
        for facts in grouped["facts"]:
            yield doc_id, facts


@beam.ptransform_fn
def near_dup_verdicts(facts, config: DedupeConfig):
    """(id, DocFacts) -> (the facts of documents that represent their cluster; near_duplicate verdicts)."""
    links = _near_links(
        facts | "Items" >> beam.MapTuple(lambda doc_id, f: (doc_id, f.item)),
        functools.partial(dl.doc_band_keys, config=config),
        lambda item: item.rank,
        lambda a, b: dl.docs_near(a, b, config.jaccard_threshold),
        config.max_bucket,
        "Doc",
    )
    verdicts = links | "NearVerdicts" >> beam.MapTuple(lambda doc_id, rep: (doc_id, ("near_duplicate", rep.id)))
    kept = {"facts": facts, "link": links} | "WithLinks" >> beam.CoGroupByKey() | "Unlinked" >> beam.FlatMap(_unlinked)
    return kept, verdicts


@beam.ptransform_fn
def paragraph_verdicts(facts, config: DedupeConfig):
    """(id, DocFacts) -> ("repeated", paragraph hash) verdicts for paragraphs on too many pages of a domain."""
    refs = facts | "ParagraphRefs" >> beam.FlatMapTuple(lambda doc_id, f: [(k, doc_id) for k in f.paragraphs])
    repeated = _frequent_refs(refs, config.max_docs_per_paragraph, "Paragraph")
    return repeated | "ParagraphVerdicts" >> beam.MapTuple(lambda doc_id, key: (doc_id, ("repeated", key[1])))


@beam.typehints.with_output_types(tuple[str, Any])  # Beam would infer a union with TaggedOutput
class _ImageItems(beam.DoFn):
    """(doc id, [ImageFact]) -> (sha1, ImageItem) per distinct image, and (sha1, doc id) occurrences."""

    def process(self, element):
        doc_id, facts = element
        for sha1, item in sorted(dl.distinct_items(facts).items()):
            yield sha1, item
            yield beam.pvalue.TaggedOutput(OCCURRENCES, (sha1, doc_id))


@beam.ptransform_fn
def image_verdicts(doc_images, config: DedupeConfig):
    """(id, [ImageFact] in node order), one per document -> "frequent" and "near_image" verdicts."""
    refs = doc_images | "ImageRefs" >> beam.FlatMapTuple(
        lambda doc_id, facts: [(k, doc_id) for k in sorted(dl.image_keys(facts))]
    )
    frequent = _frequent_refs(refs, config.max_docs_per_image, "Image")
    items = doc_images | "ImageItems" >> beam.ParDo(_ImageItems()).with_outputs(OCCURRENCES, main="distinct")
    d = config.image_distance
    links = _near_links(
        items.distinct | "Distinct" >> beam.CombinePerKey(min),
        functools.partial(dl.image_band_keys, distance=d),
        dl.image_rank,
        lambda a, b: dl.image_distance(a, b) <= d,
        config.max_bucket,
        "Image",
    )
    near = (
        {"occ": items[OCCURRENCES], "rep": links}
        | "NearJoin" >> beam.CoGroupByKey()
        | "NearToDocs" >> beam.FlatMap(
            lambda kv: [(doc_id, ("near_image", (kv[0], rep.sha1))) for rep in kv[1]["rep"] for doc_id in kv[1]["occ"]]
        )
    )
    return (
        (frequent | "FrequentVerdicts" >> beam.MapTuple(lambda doc_id, key: (doc_id, ("frequent", key))), near)
        | "ImageVerdicts" >> beam.Flatten()
    )


class _OutcomeFactsDoFn(beam.DoFn):
    """(doc id, {"alive": [...], "images": [NodeOutcome]}) -> (id, [ImageFact]) of a document still
    alive, from the images it will hold once attached; an error verdict when they cannot be made."""

    def __init__(self, config: DedupeConfig) -> None:
        self.config = config

    def process(self, element):
        doc_id, grouped = element
        if not list(grouped["alive"]):
            return
        try:
            outcomes = sorted(grouped["images"], key=operator.attrgetter("index"))
            nodes = [attached_node(n.url, "", n.outcome.image) for n in outcomes if n.outcome.image]
            yield doc_id, [dl.image_fact(node, self.config.match_mirrored) for node in nodes]
        except Exception as e:  # noqa: BLE001 - reported by the join as this document's error
            yield beam.pvalue.TaggedOutput(VERDICTS, error_verdict(doc_id, DEDUPE_IMAGES, e))


@beam.ptransform_fn
def outcome_image_facts(inputs, config: DedupeConfig):
    """{"alive": (id, DocFacts), "images": (id, NodeOutcome)} -> ((id, [ImageFact]), error verdicts)."""
    out = (
        {"alive": inputs["alive"] | "Ids" >> beam.MapTuple(lambda doc_id, _: (doc_id, True)), "images": inputs["images"]}
        | "ByDoc" >> beam.CoGroupByKey()
        | "Facts" >> beam.ParDo(_OutcomeFactsDoFn(config)).with_outputs(VERDICTS, main=FACTS)
    )
    return out[FACTS], out[VERDICTS]


# ---------------------------------------------------------------- applying verdicts to one document


def apply_near_dup(doc: Document, context: Context, config: DedupeConfig) -> StageResult:
    (rep, *_) = context.values("near_duplicate") or [None]
    return dl.apply_document_verdicts(doc, rep, set(), config, NEAR_DUP_DOCUMENTS)


def apply_repeated(doc: Document, context: Context, config: DedupeConfig) -> StageResult:
    return dl.apply_document_verdicts(doc, None, set(context.values("repeated")), config, REPEATED_PARAGRAPHS)


def apply_image_dedupe(doc: Document, context: Context, config: DedupeConfig) -> StageResult:
    frequent = set(context.values("frequent"))
    return dl.apply_image_verdicts(doc, frequent, dict(context.values("near_image")), config, DEDUPE_IMAGES)


def chain_stage(name: str, config: DedupeConfig) -> ChainStage:
    fn = {NEAR_DUP_DOCUMENTS: apply_near_dup, REPEATED_PARAGRAPHS: apply_repeated, DEDUPE_IMAGES: apply_image_dedupe}
    return ChainStage(name, functools.partial(fn[name], config=config))


# ---------------------------------------------------------------- one stage alone, over documents


class _ImageFactsDoFn(beam.DoFn):
    """doc -> (id, [ImageFact]) of its image nodes; an error verdict when a node's hashes are bad."""

    def __init__(self, config: DedupeConfig) -> None:
        self.config = config

    def process(self, doc: Document):
        try:
            yield doc.id, [dl.image_fact(n, self.config.match_mirrored) for n in doc.images]
        except Exception as e:  # noqa: BLE001 - reported by the join as this document's error
            yield beam.pvalue.TaggedOutput(VERDICTS, error_verdict(doc.id, DEDUPE_IMAGES, e))


class _OneStage(beam.PTransform):
    """docs -> (kept, dropped, errors) of one dedupe stage; subclasses build the verdicts in ``expand``."""

    STAGE = ""

    def __init__(self, config: DedupeConfig | None = None) -> None:
        super().__init__()
        self.config = config or DedupeConfig()
        self.stage = self.STAGE

    def apply(self, docs, verdicts, stages: list[ChainStage], select: str | None = None):
        return {"doc": docs | "ById" >> beam.Map(lambda d: (d.id, d)), "verdicts": verdicts} | ApplyStages(stages, select)


class DedupeDocuments(_OneStage):
    """Exact duplicates: one document per canonical URL (the most recent fetch), then one per content hash."""

    STAGE = DEDUPE_DOCUMENTS

    def expand(self, docs):
        facts, errors = docs | "Facts" >> doc_facts(self.config)
        _, verdicts = facts | "BestFetch" >> url_survivors() | "Content" >> content_verdicts()
        return self.apply(docs, (errors, verdicts) | "Verdicts" >> beam.Flatten(), [], select=self.stage)


class NearDupDocuments(_OneStage):
    """MinHash LSH over word shingles: of documents within the Jaccard threshold, the best-ranked stays."""

    STAGE = NEAR_DUP_DOCUMENTS

    def expand(self, docs):
        facts, errors = docs | "Facts" >> doc_facts(self.config, self.stage)
        _, verdicts = facts | "NearDup" >> near_dup_verdicts(self.config)
        return self.apply(docs, (errors, verdicts) | "Verdicts" >> beam.Flatten(), [chain_stage(self.stage, self.config)])


class RepeatedParagraphs(_OneStage):
    """Paragraphs found on more than ``max_docs_per_paragraph`` documents of one domain are removed."""

    STAGE = REPEATED_PARAGRAPHS

    def expand(self, docs):
        facts, errors = docs | "Facts" >> doc_facts(self.config, self.stage)
        verdicts = facts | "Paragraphs" >> paragraph_verdicts(self.config)
        return self.apply(docs, (errors, verdicts) | "Verdicts" >> beam.Flatten(), [chain_stage(self.stage, self.config)])


class DedupeImages(_OneStage):
    """Images repeated within a document, on too many documents, or near-duplicates by pHash."""

    STAGE = DEDUPE_IMAGES

    def expand(self, docs):
        out = docs | "ImageFacts" >> beam.ParDo(_ImageFactsDoFn(self.config)).with_outputs(VERDICTS, main=FACTS)
        verdicts = out[FACTS] | "Images" >> image_verdicts(self.config)
        return self.apply(docs, (out[VERDICTS], verdicts) | "Verdicts" >> beam.Flatten(), [chain_stage(self.stage, self.config)])


def decontaminate_fn(hashes: dl.EvalHashes, config: DedupeConfig, stage: str = "decontaminate") -> Callable:
    """Drops images within ``config.decontam_distance`` of an evaluation image's pHash (or its mirror's).

    Evaluation sets are small: the table travels inside the stage function to every worker.
    """
    return functools.partial(dl.decontaminate, hashes=hashes, distance=config.decontam_distance, stage=stage)


class Decontaminate(beam.PTransform):
    """``decontaminate_fn`` as a stage of its own."""

    def __init__(self, hashes: dl.EvalHashes, config: DedupeConfig | None = None, stage: str = "decontaminate") -> None:
        super().__init__()
        self.fn = decontaminate_fn(hashes, config or DedupeConfig(), stage)
        self.stage = stage

    def expand(self, docs):
        return docs | "Apply" >> Stage(self.stage, self.fn)
