"""Every stage from document dedupe to the filters, with documents shuffled once.

    documents ─► facts ─► best fetch per URL ─► one per content ─┬─► image refs ─► ResolveImages
                                                                  └─► near-duplicate clusters
                                                                        ├─► repeated paragraphs
                                                                        └─► image dedupe (with the outcomes)
    documents + image outcomes + verdicts ─► ApplyStages: dedupe_documents ─► images
        ─► near_dup_documents ─► repeated_paragraphs ─► dedupe_images ─► decontaminate ─► filter

The dedupe stages decide on small facts (pipeline/dedupe.py); the documents, with their image
outcomes and those verdicts, meet once by id (pipeline/apply.py), where each stage is applied
and counted in funnel order.
"""

from __future__ import annotations

import functools

import apache_beam as beam

from interleaf.filters.document import filter_document
from interleaf.schemas import Document, StageResult

from .apply import ApplyStages, ChainStage, Context, Plain
from .config import RunConfig
from .decontaminate import load_eval_hashes
from .dedupe import (
    DEDUPE_DOCUMENTS,
    DEDUPE_IMAGES,
    NEAR_DUP_DOCUMENTS,
    REPEATED_PARAGRAPHS,
    chain_stage,
    content_verdicts,
    decontaminate_fn,
    doc_facts,
    image_verdicts,
    near_dup_verdicts,
    outcome_image_facts,
    paragraph_verdicts,
    url_survivors,
)
from .image_join import STAGE as IMAGES, attach_images, without_bytes
from .transforms import ResolveImages


def attach_outcomes(doc: Document, context: Context) -> StageResult:
    return attach_images(doc, context.images)


def chain(config: RunConfig) -> list[ChainStage]:
    """The stages applied in the join, after document dedupe, in funnel order."""
    dedupe = config.dedupe
    stages = [ChainStage(IMAGES, attach_outcomes)]
    stages += [chain_stage(name, dedupe) for name in (NEAR_DUP_DOCUMENTS, REPEATED_PARAGRAPHS, DEDUPE_IMAGES)]
    if config.decontaminate_hashes:
        hashes = load_eval_hashes(config.decontaminate_hashes, mirrored=dedupe.match_mirrored)
        stages.append(ChainStage("decontaminate", Plain(decontaminate_fn(hashes, dedupe))))
    # Filters last: the images-per-document bounds count what the image stages left.
    stages.append(ChainStage("filter", Plain(functools.partial(filter_document, config=config.filters))))
    return stages


class DocumentStages(beam.PTransform):
    """(extracted documents, stored images) -> kept, dropped, errors."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, pcolls):
        docs, stored = pcolls
        config, dedupe = self.config, self.config.dedupe
        facts, fact_errors = docs | "Facts" >> doc_facts(dedupe)
        kept, content = facts | "BestFetch" >> url_survivors() | "Content" >> content_verdicts()
        refs = kept | "ImageRefs" >> beam.FlatMapTuple(lambda doc_id, f: [(url, (doc_id, i)) for url, i in f.images])
        download = config.download if config.download_images else None
        outcomes = (refs, stored) | "Images" >> ResolveImages(config.images, download)
        # Near-duplicate pages go before the repeat counts, so copies do not inflate them.
        alive, near = kept | "NearDup" >> near_dup_verdicts(dedupe)
        paragraphs = alive | "Paragraphs" >> paragraph_verdicts(dedupe)
        hashes = outcomes | "WithoutBytes" >> beam.MapTuple(lambda doc_id, node: (doc_id, without_bytes(node)))
        image_facts, image_errors = {"alive": alive, "images": hashes} | "ImageFacts" >> outcome_image_facts(dedupe)
        images = image_facts | "ImageDedupe" >> image_verdicts(dedupe)
        verdicts = (fact_errors, content, near, paragraphs, image_errors, images) | "Verdicts" >> beam.Flatten()
        by_id = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        return {"doc": by_id, "images": outcomes, "verdicts": verdicts} | "Apply" >> ApplyStages(
            chain(config), select=DEDUPE_DOCUMENTS
        )
