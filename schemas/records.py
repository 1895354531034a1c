"""What a pipeline stage returns, so that every record is accounted for.

A stage is a plain function ``fn(doc) -> StageResult``. The document leaves the stage kept
(``result.doc`` set) or dropped (``result.doc`` is None and ``drops`` holds a document-level
Dropped). Nodes a stage removes from a kept document are listed in ``drops`` too, at level
"text" or "image". Exceptions are caught by the Beam wrapper and go to the dead-letter output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .document import Document

LEVELS = ("document", "text", "image")


@dataclass(frozen=True)
class Dropped:
    stage: str
    reason: str  # a short snake_case reason code, e.g. "too_few_words"
    level: str = "document"  # "document" | "text" | "image"
    doc_id: str = ""
    url: str = ""  # the page URL, or the image URL for level "image"
    detail: str = ""  # a human-readable detail, e.g. "12 words < 50"
    sample: str = ""  # the dropped text (truncated) so a person can judge the filter

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


@dataclass
class StageResult:
    doc: "Document | None"
    drops: list[Dropped] = field(default_factory=list)

    @classmethod
    def kept(cls, doc: "Document", drops: list[Dropped] | None = None) -> "StageResult":
        return cls(doc, list(drops or []))

    @classmethod
    def dropped(cls, doc: "Document", stage: str, reason: str, detail: str = "") -> "StageResult":
        return cls(None, [Dropped(stage, reason, "document", doc.id, doc.url, detail, doc.text()[:500])])
