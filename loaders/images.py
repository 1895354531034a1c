"""Image decoding and the vision encoder's transform: aspect-preserving resize, normalise, pad to
a square. Decoding and resizing run in the DataLoader workers (``build_sample``); normalising
runs there too, writing straight into the batch (``collate``), so a batch's float pixels are
written once."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def decode_image(data: bytes | Image.Image, size: int | None = None) -> Image.Image:
    """Decode encoded bytes (any format Pillow reads) to RGB; raises on corrupt data. With ``size``,
    a JPEG decodes at the smallest DCT scale whose longer side still covers ``size`` (faster on
    large photos, and no loss once the image is resized to ``size``)."""
    img = data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data))
    if size is not None and img.format == "JPEG":
        scale = size / max(img.size)
        img.draft("RGB", (max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    img.load()  # decode now, so truncated data fails here and not later in a worker's collate
    return img if img.mode == "RGB" else img.convert("RGB")


def resize_image(img: Image.Image, size: int, resample: str = "bicubic") -> np.ndarray:
    """uint8 [h, w, 3] with the longer side scaled to ``size``, aspect preserved."""
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    return np.asarray(img.resize((w, h), Image.Resampling[resample.upper()]), dtype=np.uint8)


def normalize_into(out: torch.Tensor, image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    """Write ``(image / 255 - mean) / std`` centred into ``out`` (float32 [3, S, S], zero outside the
    image: zero is the mean colour as the encoder sees it, so the padding is neutral)."""
    h, w = image.shape[:2]
    size = out.shape[-1]
    top, left = (size - h) // 2, (size - w) // 2
    dst = out[:, top : top + h, left : left + w].numpy()
    # numpy, single-threaded: torch's intra-op threads cost more than they save on one image.
    np.subtract(image.transpose(2, 0, 1), np.asarray(mean, np.float32)[:, None, None] * 255, out=dst)
    dst *= (1.0 / (np.asarray(std, np.float32) * 255))[:, None, None]


def image_to_tensor(img: Image.Image, size: int, mean: tuple[float, ...], std: tuple[float, ...],
                    resample: str = "bicubic") -> torch.Tensor:
    """float32 [3, size, size]: one image as the loader feeds it to the encoder (for prompts)."""
    out = torch.zeros(3, size, size)
    normalize_into(out, resize_image(img, size, resample), mean, std)
    return out
