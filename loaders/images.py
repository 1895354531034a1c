"""Image decoding and the vision encoder's transform: aspect-preserving resize, normalise, pad to
a square. Runs in the DataLoader workers (called from ``build_sample``)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def decode_image(data: bytes | Image.Image) -> Image.Image:
    """Decode encoded bytes (any format Pillow reads) to RGB; raises on corrupt data."""
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    img.load()  # decode now, so truncated data fails here and not later in a worker's collate
    return img if img.mode == "RGB" else img.convert("RGB")


def image_to_tensor(img: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """float32 [3, size, size]: the longer side scaled to ``size``, centred, normalised; the padding
    is 0, i.e. the mean colour, as the encoder sees it."""
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    arr = np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    arr = (arr - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    out = torch.zeros(3, size, size)
    top, left = (size - h) // 2, (size - w) // 2
    out[:, top : top + h, left : left + w] = torch.from_numpy(arr).permute(2, 0, 1)
    return out
