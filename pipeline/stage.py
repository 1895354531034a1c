"""The one Beam wrapper every document stage uses, so accounting is uniform.

A stage is a plain function ``fn(record) -> StageResult``. ``Stage(name, fn)`` runs it and
splits the output three ways: kept documents (main output), ``Dropped`` records, and
dead-letter ``ErrorRecord``s carrying the exception text. Counters, under the Beam metrics
namespace ``interleaf.<stage>``:

    in, kept, errors, dropped.<reason>, nodes_dropped.<level>.<reason>

so that ``in == kept + sum(dropped.*) + errors`` holds for every stage.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from interleaf.schemas import Dropped, StageResult

DROPPED = "dropped"
ERRORS = "errors"
NAMESPACE_PREFIX = "interleaf."


@dataclass(frozen=True)
class ErrorRecord:
    stage: str
    key: str  # the record's id or URL, whatever identifies it best
    error: str  # exception type and message
    trace: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def record_key(record: Any) -> str:
    """Best identifier of a record for the dead-letter output."""
    for attr in ("id", "url"):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return repr(record)[:200]


class Counters:
    """Beam counters of one stage, created lazily (Metrics.counter is cheap but named)."""

    def __init__(self, stage: str) -> None:
        self.namespace = NAMESPACE_PREFIX + stage
        self._cache: dict[str, Any] = {}

    def inc(self, name: str, n: int = 1) -> None:
        counter = self._cache.get(name)
        if counter is None:
            counter = self._cache[name] = Metrics.counter(self.namespace, name)
        counter.inc(n)

    def count_drops(self, drops: Iterable[Dropped]) -> None:
        for d in drops:
            if d.level == "document":
                self.inc(f"dropped.{d.reason}")
            else:
                self.inc(f"nodes_dropped.{d.level}.{d.reason}")


def apply_stage(name: str, counters: Counters, fn: Callable[..., StageResult], record: Any, *args: Any):
    """Run one stage on one record, counting it: yields the Dropped and ErrorRecord outputs and
    returns the kept document, or None. Use as ``doc = yield from apply_stage(...)``."""
    counters.inc("in")
    try:
        result = fn(record, *args)
    except Exception as e:  # noqa: BLE001 - any failure of a record goes to the dead letter
        counters.inc("errors")
        yield beam.pvalue.TaggedOutput(
            ERRORS, ErrorRecord(name, record_key(record), f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))
        )
        return None
    counters.count_drops(result.drops)
    for d in result.drops:
        yield beam.pvalue.TaggedOutput(DROPPED, d)
    if result.doc is not None:
        counters.inc("kept")
    elif not any(d.level == "document" for d in result.drops):
        raise AssertionError(f"stage {name} dropped a record without a document-level reason")
    return result.doc


class StageDoFn(beam.DoFn):
    def __init__(self, name: str, fn: Callable[[Any], StageResult]) -> None:
        self.name = name
        self.fn = fn
        self.counters: Counters | None = None

    def setup(self) -> None:
        self.counters = Counters(self.name)

    def process(self, record: Any):
        doc = yield from apply_stage(self.name, self.counters, self.fn, record)
        if doc is not None:
            yield doc


class Stage(beam.PTransform):
    """``kept, dropped, errors = pcoll | Stage("extract", extract_page)``."""

    def __init__(self, name: str, fn: Callable[[Any], StageResult]) -> None:
        super().__init__(label=name)
        self.name = name
        self.fn = fn

    def expand(self, pcoll):
        out = pcoll | "Run" >> beam.ParDo(StageDoFn(self.name, self.fn)).with_outputs(DROPPED, ERRORS, main="kept")
        return out.kept, out[DROPPED], out[ERRORS]
