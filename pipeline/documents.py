"""The extract stage: an HTML page becomes a Document of text and image nodes in reading order."""

from __future__ import annotations

from interleaf.schemas import Document, Dropped, ImageNode, StageResult, document_id

from .charset import decode_html
from .extract import ExtractConfig, extract
from .sources import Page
from .urls import canonical_url

STAGE = "extract"


def page_to_document(page: Page, config: ExtractConfig) -> StageResult:
    doc = Document(id=document_id(canonical_url(page.url)), url=page.url, source=page.source)
    if len(page.body) > config.max_html_bytes:
        # Checked on the bytes, before decoding or parsing anything.
        return StageResult.dropped(doc, STAGE, "too_large", f"{len(page.body)} bytes > {config.max_html_bytes}")
    html, encoding = decode_html(page.body, page.content_type)
    result = extract(html, page.url, config)
    doc.nodes = result.nodes
    doc.meta = {"title": result.title, "encoding": encoding}
    if result.drop_reason:
        return StageResult.dropped(doc, STAGE, result.drop_reason, result.detail)
    drops = [Dropped(STAGE, reason, "image", doc.id, url) for url, reason in result.dropped_images]
    if result.image_opt_out:
        # <meta name="robots" content="noimageai">: keep the text, use none of the images.
        drops += [Dropped(STAGE, "opted_out", "image", doc.id, n.url, "noimageai") for n in doc.images]
        doc.nodes = [n for n in doc.nodes if not isinstance(n, ImageNode)]
    return StageResult.kept(doc, drops)
