"""Pure image checks, after the published pipelines, on numbers already known about an image.

They run on the header (size, before any pixel is decoded) or on cheap statistics of the decoded
image, and each returns ``None`` (pass) or a ``Rejection`` with a reason code:

    too_small     the shorter side is below ``min_side`` (OBELICS and MMC4: 150 px)
    too_large     a side above ``max_side`` or more pixels than ``max_pixels`` (decompression bombs)
    aspect_ratio  longer side / shorter side above ``max_aspect_ratio`` (OBELICS: 2)
    single_color  every channel spans at most ``tolerance`` levels (spacers, placeholders)

Every threshold is an argument; the defaults live in ``interleaf.pipeline.images.ImageConfig``.
The format filter is Pillow's own ``Image.open(formats=...)`` there, so that the decoders of
formats we refuse never run at all.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence


class Rejection(NamedTuple):
    reason: str
    detail: str


def check_dimensions(
    width: int,
    height: int,
    *,
    min_side: int,
    max_side: int,
    max_pixels: int,
    max_aspect_ratio: float,
) -> Rejection | None:
    """Size rules on the source image, checked from its header before decoding."""
    short, long = sorted((width, height))
    if short <= 0:
        return Rejection("too_small", f"{width}x{height}")
    if width * height > max_pixels:
        return Rejection("too_large", f"{width}x{height} = {width * height} pixels > {max_pixels}")
    if long > max_side:
        return Rejection("too_large", f"{width}x{height}: side {long} > {max_side}")
    if short < min_side:
        return Rejection("too_small", f"{width}x{height}: side {short} < {min_side}")
    if long / short > max_aspect_ratio:
        return Rejection("aspect_ratio", f"{width}x{height}: ratio {long / short:.2f} > {max_aspect_ratio}")
    return None


def check_single_color(extrema: Sequence[tuple[int, int]], tolerance: int) -> Rejection | None:
    """``extrema`` is Pillow's ``Image.getextrema()`` of an RGB image: (min, max) per channel."""
    spread = max(hi - lo for lo, hi in extrema)
    if spread <= tolerance:
        return Rejection("single_color", f"channel spread {spread} <= {tolerance}")
    return None
