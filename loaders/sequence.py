"""One document -> one training sample, after Flamingo's M3W recipe.

The token stream is ``BOS text <image> text <|endofchunk|> <image> text <|endofchunk|> ... EOS``:
an ``<image>`` token at each image's place, ``<|endofchunk|>`` closing the text that follows an
image. A random window of ``max_tokens`` (starting at an image where possible) is cut from it; the
first ``max_images`` images in the window are kept and the later ones' ``<image>`` tokens removed.
phi and labels follow the batch contract in DESIGN.md.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from interleaf.schemas import Document, ImageNode, TextNode

from .config import LoaderConfig
from .images import decode_image, resize_image
from .tokenizer import InterleafTokenizer

IGNORE_INDEX = -100


def interleave(doc: Document, present: Sequence[bool], tok: InterleafTokenizer) -> tuple[list[int], list[int]]:
    """The whole document's tokens, BOS excluded, and for each ``<image>`` token the index (into
    ``doc.images``) of its image. Images with ``present[i]`` False get no token."""
    segments: list[list[str]] = [[]]  # text before the first image, then the text after each image
    images: list[int] = []
    i = -1
    for node in doc.nodes:
        if isinstance(node, ImageNode):
            i += 1
            if present[i]:
                images.append(i)
                segments.append([])
        elif isinstance(node, TextNode) and node.text.strip():
            segments[-1].append(node.text.strip())
    encoded = tok.encode_batch(["\n\n".join(s) for s in segments])
    # A page may contain the literal text "<image>": it must not become an image token.
    special = set(tok.special_ids.values())
    encoded = [[t for t in seg if t not in special] for seg in encoded]
    ids = list(encoded[0])
    for seg in encoded[1:]:
        ids += [tok.image_id, *seg, tok.eoc_id]
    ids.append(tok.eos_id)
    return ids, images


def choose_start(ids: Sequence[int], image_id: int, width: int, max_images: int, rng: random.Random) -> int:
    """Start of a ``width``-token window: a random image from which the window fills whole (counting
    the ``<image>`` tokens past ``max_images`` that ``cut_window`` removes); failing that the last
    full window (it holds the last images); a random position in a document without images."""
    excess = len(ids) - width
    if excess <= 0:
        return 0
    positions = [p for p, t in enumerate(ids) if t == image_id]
    removed = [max(0, len(positions) - j - max_images) for j in range(len(positions))]
    fitting = [p for p, r in zip(positions, removed) if len(ids) - p - r >= width]
    if fitting:
        return rng.choice(fitting)
    return excess if positions else rng.randint(0, excess)


def cut_window(ids: Sequence[int], images: Sequence[int], start: int, width: int, image_id: int,
               max_images: int) -> tuple[list[int], list[int]]:
    """Up to ``width`` tokens from ``start``, keeping the first ``max_images`` ``<image>`` tokens and
    removing later ones (the window refills with the text after them). A trailing ``<image>``,
    with no text to condition, is removed too. Returns the tokens and the kept images."""
    n_before = sum(1 for t in ids[:start] if t == image_id)
    out: list[int] = []
    kept: list[int] = []
    k = n_before
    for t in ids[start:]:
        if len(out) == width:
            break
        if t == image_id:
            k += 1
            if len(kept) == max_images:
                continue
            kept.append(images[k - 1])
        out.append(t)
    if out and out[-1] == image_id:
        out.pop()
        kept.pop()
    return out, kept


def compute_phi(input_ids: torch.Tensor, image_id: int, next_image: bool | torch.Tensor = False) -> torch.Tensor:
    """phi [..., L]: the image (1-based) each token cross-attends to, 0 for none.

    Previous-image mode (the default): the number of ``<image>`` tokens at or before the token
    (the cumulative sum flamingo-pytorch uses). Next-image mode (``p_next``), as OpenFlamingo
    implements it: text tokens see the image after their chunk, ``<image>`` tokens their own
    image, and text after the last image sees none."""
    is_image = input_ids == image_id
    phi = is_image.long().cumsum(-1)
    next_image = torch.as_tensor(next_image, device=input_ids.device)
    if next_image.dim() == 1:
        next_image = next_image[:, None]
    shifted = phi + (~is_image).long()
    shifted = torch.where(shifted > is_image.sum(-1, keepdim=True), 0, shifted)
    return torch.where(next_image, shifted, phi)


def next_token_labels(input_ids: torch.Tensor, image_id: int) -> torch.Tensor:
    """labels[t] = input_ids[t + 1]: targets aligned with logits (no shift in the loss). -100 where
    the next token is ``<image>`` (image placement is not predicted) and at the last position.
    EOS and ``<|endofchunk|>`` are trained."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:-1] = input_ids[1:]
    labels[labels == image_id] = IGNORE_INDEX
    return labels


def build_sample(doc: Document | dict[str, Any], images: Sequence[bytes | Image.Image | None],
                 tok: InterleafTokenizer, config: LoaderConfig, rng: random.Random) -> dict[str, Any]:
    """One sample: ``input_ids``, ``labels``, ``phi`` (int64 [L]), ``images`` (the kept images,
    decoded and resized: uint8 [h, w, 3] arrays, longer side ``image_size``; ``collate`` normalises
    them into ``pixels``), ``image_index`` (the index in ``doc.images`` of each kept image), ``next_image`` (whether the
    sample drew p_next) and ``skipped``, a Counter of images left out (``image_missing``: no bytes in the sample;
    ``image_undecodable``: the bytes do not decode). ``images`` is aligned with ``doc.images``."""
    if isinstance(doc, dict):
        doc = Document.from_dict(doc)
    if len(images) != len(doc.images):
        raise ValueError(f"document {doc.id}: {len(images)} images given for {len(doc.images)} image nodes")
    skipped: Counter[str] = Counter()
    present = [data is not None for data in images]
    skipped["image_missing"] = present.count(False)
    next_image = rng.random() < config.p_next
    decoded: dict[int, np.ndarray] = {}
    while True:  # an image that fails to decode is removed and the window chosen again
        ids, refs = interleave(doc, present, tok)
        start = choose_start(ids, tok.image_id, config.max_tokens - 1, config.max_images, rng)
        window, kept = cut_window(ids, refs, start, config.max_tokens - 1, tok.image_id, config.max_images)
        failed = [i for i in kept if i not in decoded and not _decode_into(decoded, i, images[i], config)]
        if not failed:
            break
        skipped["image_undecodable"] += len(failed)
        for i in failed:
            present[i] = False
    input_ids = torch.tensor([tok.bos_id, *window], dtype=torch.long)
    return {
        "key": doc.id,
        "input_ids": input_ids,
        "labels": next_token_labels(input_ids, tok.image_id),
        "phi": compute_phi(input_ids, tok.image_id, next_image),
        "images": [decoded[i] for i in kept],
        "image_index": kept,
        "next_image": next_image,
        "skipped": +skipped,
    }


def _decode_into(decoded: dict[int, np.ndarray], i: int, data: bytes | Image.Image, config: LoaderConfig) -> bool:
    try:
        decoded[i] = resize_image(decode_image(data, config.image_size), config.image_size, config.resample)
    except Exception:  # Pillow raises many types for corrupt data; the caller counts the image
        return False
    return True
