"""pyarrow views of the Document contract: a per-document metadata table and the
OBELICS-style layout (parallel ``texts``/``images`` lists with nulls)."""

from __future__ import annotations

from typing import Iterable

import pyarrow as pa

from .document import SCHEMA_VERSION, Document, ImageNode

_meta = {b"interleaf_schema_version": SCHEMA_VERSION.encode()}

IMAGE_STRUCT = pa.struct(
    [
        ("url", pa.string()),
        ("alt", pa.string()),
        ("sha1", pa.string()),
        ("phash", pa.string()),
        ("phash_mirror", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("member", pa.string()),
    ]
)

DOCUMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("source_kind", pa.string()),
        ("source_path", pa.string()),
        ("fetched", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float32()),
        ("title", pa.string()),
        ("n_words", pa.int32()),
        ("n_images", pa.int32()),
        # OBELICS layout: position i holds either a text or an image, the other is null.
        ("texts", pa.list_(pa.string())),
        ("images", pa.list_(IMAGE_STRUCT)),
        ("shard", pa.string()),
    ],
    metadata=_meta,
)


def obelics_lists(doc: Document) -> tuple[list[str | None], list[dict | None]]:
    texts: list[str | None] = []
    images: list[dict | None] = []
    for n in doc.nodes:
        if isinstance(n, ImageNode):
            texts.append(None)
            images.append({k: getattr(n, k) for k in IMAGE_STRUCT.names})
        else:
            texts.append(n.text)
            images.append(None)
    return texts, images


def documents_table(docs: Iterable[tuple[Document, str]]) -> pa.Table:
    """Build the metadata table from (document, shard name) pairs."""
    rows = []
    for doc, shard in docs:
        texts, images = obelics_lists(doc)
        rows.append(
            {
                "id": doc.id,
                "url": doc.url,
                "source_kind": doc.source.kind,
                "source_path": doc.source.path,
                "fetched": doc.source.fetched,
                "lang": doc.lang,
                "lang_score": doc.lang_score,
                "title": doc.meta.get("title"),
                "n_words": sum(len(t.text.split()) for t in doc.texts),
                "n_images": len(doc.images),
                "texts": texts,
                "images": images,
                "shard": shard,
            }
        )
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)
