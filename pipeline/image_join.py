"""Joining documents with their images, as plain functions.

Inside Beam the image bytes are joined to the documents by URL (each distinct URL is decoded and
normalised once, however many pages use it), then regrouped by document id. A failed image
removes its node with a reason, never the document.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, NamedTuple

from interleaf.schemas import Document, Dropped, ImageNode, StageResult

from .images import ImageConfig, ImageRejected, NormalizedImage, normalize_image

STAGE = "images"


@dataclass(frozen=True)
class ImageOutcome:
    """What became of one image URL: its normalised image, or the reason it failed."""

    image: NormalizedImage | None
    reason: str = ""
    detail: str = ""


class NodeOutcome(NamedTuple):
    """The outcome of one image node's URL."""

    index: int  # of the node in its document
    url: str
    outcome: ImageOutcome


def without_bytes(node: NodeOutcome) -> NodeOutcome:
    """The outcome with its image's bytes left out: dedupe needs only the hashes and the size, and
    the bytes would be copied through every shuffle on the way."""
    image = node.outcome.image
    if image is None:
        return node
    return node._replace(outcome=dataclasses.replace(node.outcome, image=dataclasses.replace(image, data=b"")))


def image_refs(doc: Document) -> list[tuple[str, int]]:
    """(image url, node index) for each image node."""
    return [(n.url, i) for i, n in enumerate(doc.nodes) if isinstance(n, ImageNode)]


def attached_node(url: str, alt: str, img: NormalizedImage, member: str = "") -> ImageNode:
    """The image node of a normalised image."""
    return ImageNode(
        url=url,
        alt=alt,
        sha1=img.sha1,
        phash=img.phash,
        phash_mirror=img.phash_mirror,
        width=img.width,
        height=img.height,
        member=member,
        data=img.data,
    )


def pick_body(bodies: Iterable[bytes]) -> bytes | None:
    """Of several stored copies of one URL, a deterministic one (crawls repeat records)."""
    return min(bodies, key=lambda b: (-len(b), b), default=None)


def normalize_outcome(data: bytes, config: ImageConfig) -> ImageOutcome:
    """Normalise one image; any failure is an outcome with a reason, never an exception, so one
    bad image cannot fail the bundle that carries every page using it."""
    try:
        return ImageOutcome(normalize_image(data, config))
    except ImageRejected as e:
        return ImageOutcome(None, e.reason, e.detail)
    except Exception as e:  # noqa: BLE001 - a decoder bug on hostile bytes drops this image only
        return ImageOutcome(None, "error", f"{type(e).__name__}: {e}")


def attach_images(doc: Document, outcomes: dict[int, ImageOutcome]) -> StageResult:
    """Fill each image node from its outcome, drop failed ones, name members in node order."""
    nodes = []
    drops: list[Dropped] = []
    for i, node in enumerate(doc.nodes):
        if not isinstance(node, ImageNode):
            nodes.append(node)
            continue
        outcome = outcomes.get(i) or ImageOutcome(None, "missing", "no outcome for this node")
        if outcome.image is None:
            drops.append(Dropped(STAGE, outcome.reason, "image", doc.id, node.url, outcome.detail))
            continue
        img = outcome.image
        member = f"{sum(isinstance(n, ImageNode) for n in nodes):03d}.{img.format}"
        nodes.append(attached_node(node.url, node.alt, img, member))
    doc.nodes = nodes
    return StageResult.kept(doc, drops)
