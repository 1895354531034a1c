"""The image transform: aspect preserved, centred, padding exactly zero, JPEG draft decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from interleaf.loaders import CLIP_MEAN, CLIP_STD, decode_image, image_to_tensor


def encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("w,h", [(64, 16), (16, 64), (30, 30), (500, 7)])
def test_resize_keeps_aspect_and_pads_with_zero(w, h):
    img = Image.new("RGB", (w, h), (200, 10, 90))
    out = image_to_tensor(img, 32, CLIP_MEAN, CLIP_STD)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    content = (out != 0).any(0)
    rows, cols = content.any(1).nonzero().squeeze(1), content.any(0).nonzero().squeeze(1)
    ch, cw = len(rows), len(cols)
    assert max(ch, cw) == 32 and abs(ch / cw - h / w) < 0.1 + 2 / min(ch, cw)
    assert rows[0] == (32 - ch) // 2 and cols[0] == (32 - cw) // 2  # centred
    expected = (torch.tensor([200, 10, 90]) / 255 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(out[:, rows[ch // 2], cols[cw // 2]], expected.float(), atol=0.02)


def test_grey_and_palette_images_become_rgb_and_corrupt_bytes_raise():
    assert decode_image(encoded(Image.new("L", (8, 8), 128), "PNG")).mode == "RGB"
    assert decode_image(encoded(Image.new("P", (8, 8), 3), "PNG")).mode == "RGB"
    with pytest.raises(Exception):
        decode_image(encoded(Image.new("RGB", (64, 64)), "JPEG")[:100])


def test_jpeg_draft_decodes_smaller_but_covers_the_target():
    rng = np.random.default_rng(0)
    data = encoded(Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)), "JPEG")
    assert decode_image(data).size == (640, 480)
    small = decode_image(data, 100)
    assert small.size[0] >= 100 and small.size[0] < 640
