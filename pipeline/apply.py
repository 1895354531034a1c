"""The join that applies verdicts: documents meet what the other stages decided about them.

Dedupe verdicts are computed on small facts (pipeline/dedupe.py) and image outcomes by URL
(pipeline/transforms.py), each keyed by document id. ``ApplyStages`` groups them with the
documents by id and runs a chain of stages on each document in order, so a document is shuffled
once for all of them. Each stage counts and reports like ``Stage`` (pipeline/stage.py).

Image outcomes are ``(doc id, NodeOutcome)``; verdicts are ``(doc id, (kind, value))``; the kind ``error`` carries ``(stage, message)`` for a
document whose facts could not be computed, and that stage sends it to the dead letter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

import apache_beam as beam

from interleaf.schemas import Document, StageResult

from . import dedupe_logic as dl
from .stage import DROPPED, ERRORS, Counters, apply_stage

ERROR = "error"


@dataclass
class Context:
    """Everything grouped with one document id besides the documents themselves."""

    verdicts: dict[str, list] = field(default_factory=dict)  # kind -> values
    images: dict[int, Any] = field(default_factory=dict)  # node index -> ImageOutcome

    def values(self, kind: str) -> list:
        return self.verdicts.get(kind, [])


class ChainStage(NamedTuple):
    """A stage of the chain: ``fn(doc, context) -> StageResult``."""

    name: str
    fn: Callable[[Document, Context], StageResult]


class Plain:
    """A ``fn(doc) -> StageResult`` stage function as a chain stage function (it needs no context)."""

    def __init__(self, fn: Callable[[Document], StageResult]) -> None:
        self.fn = fn

    def __call__(self, doc: Document, context: Context) -> StageResult:
        return self.fn(doc)


def error_verdict(doc_id: str, stage: str, error: Exception) -> tuple[str, tuple[str, tuple[str, str]]]:
    return doc_id, (ERROR, (stage, f"{type(error).__name__}: {error}"))


def _failed(message: str) -> Callable:
    def fail(*_: Any) -> StageResult:
        raise ValueError(message)

    return fail


def _given(result: StageResult) -> StageResult:
    return result


class _ApplyDoFn(beam.DoFn):
    def __init__(self, stages: list[ChainStage], select: str | None) -> None:
        self.stages = stages
        self.select = select

    def setup(self) -> None:
        names = [s.name for s in self.stages] + ([self.select] if self.select else [])
        self.counters = {name: Counters(name) for name in names}

    def process(self, element):
        doc_id, grouped = element
        verdicts: dict[str, list] = defaultdict(list)
        for kind, value in grouped.get("verdicts", ()):
            verdicts[kind].append(value)
        errors = dict(verdicts.pop(ERROR, ()))
        context = Context(dict(verdicts), {n.index: n.outcome for n in grouped.get("images", ())})
        docs = grouped["doc"]
        if self.select:
            doc = yield from self._select(docs, context, errors)
        else:
            doc = yield from self._single(doc_id, docs)
        for stage in self.stages:
            if doc is None:
                return
            fn = _failed(errors[stage.name]) if stage.name in errors else stage.fn
            doc = yield from apply_stage(stage.name, self.counters[stage.name], fn, doc, context)
        if doc is not None:
            yield doc

    def _select(self, docs: Iterable[Document], context: Context, errors: dict):
        """Document dedupe: the best fetch of the id stays unless its content is another's."""
        name, counters = self.select, self.counters[self.select]
        docs = list(docs)
        message = errors.get(name)  # the facts of one fetch failed; which one is unknown
        if message is None:
            (duplicate_of, *_) = context.values("duplicate_content") or [None]
            try:
                results = dl.dedupe_fetches(docs, duplicate_of, name)
            except Exception as e:  # noqa: BLE001 - a rank that cannot be computed fails these fetches, not the bundle
                message = f"{type(e).__name__}: {e}"
        if message is not None:
            for doc in docs:
                yield from apply_stage(name, counters, _failed(message), doc)
            return None
        kept = None
        for result in results:
            kept = (yield from apply_stage(name, counters, _given, result)) or kept
        return kept

    def _single(self, doc_id: str, docs: Iterable[Document]):
        docs = list(docs)
        if len(docs) == 1:
            return docs[0]
        if docs:  # without document dedupe in the chain, ids must already be unique
            counters = self.counters[self.stages[0].name]
            message = f"{len(docs)} documents share id {doc_id}; document dedupe must run first"
            for doc in docs:
                yield from apply_stage(self.stages[0].name, counters, _failed(message), doc)
        return None


class ApplyStages(beam.PTransform):
    """{"doc": (id, doc), "verdicts": (id, verdict), "images": (id, NodeOutcome)} -> kept, dropped, errors.

    ``select`` names the document dedupe stage when the documents may hold several fetches per id.
    """

    def __init__(self, stages: list[ChainStage], select: str | None = None) -> None:
        super().__init__()
        self.stages = stages
        self.select = select

    def expand(self, inputs: dict):
        out = (
            inputs
            | "ByDoc" >> beam.CoGroupByKey()
            | "Apply" >> beam.ParDo(_ApplyDoFn(self.stages, self.select)).with_outputs(DROPPED, ERRORS, main="kept")
        )
        return out.kept, out[DROPPED], out[ERRORS]
