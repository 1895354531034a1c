"""Data contracts shared by every stage: documents, their nodes, drop records, shard layout."""

from .document import (
    SCHEMA_VERSION,
    Document,
    ImageNode,
    Node,
    SchemaError,
    Source,
    TextNode,
    document_id,
)
from .records import Dropped, StageResult

__all__ = [
    "SCHEMA_VERSION",
    "Document",
    "Dropped",
    "ImageNode",
    "Node",
    "SchemaError",
    "Source",
    "StageResult",
    "TextNode",
    "document_id",
]
