"""Image normalisation, shared by WARC-embedded and downloaded images.

``normalize_image(data, config)`` turns the bytes of one image into the bytes a shard stores:

1. open with Pillow, trying only the allowed formats (the format filter: other decoders never
   run; EPS's, for one, calls Ghostscript), and check size, pixel count and aspect ratio from
   the header, before any pixel is decoded, so rejected and bomb images cost almost nothing;
2. decode; JPEGs are decoded in draft mode (DCT scaling) at the smallest 1/2^k size that is still
   at least the target size, which makes large photographs several times cheaper to decode;
   animated images give their first frame;
3. convert to 8-bit RGB: alpha flattened onto white, palettes expanded, CMYK converted, 16-bit
   samples scaled (Pillow clips them);
4. resize so the longer side is at most ``max_side`` (never upscaled), then apply the EXIF
   orientation (on the small image: cheaper, same pixels);
5. reject single-colour images, re-encode as JPEG, WebP or PNG, and hash: sha1 of the bytes and
   imagehash's pHash of the pixels (taken from a ~128 px box-reduced copy, for speed).

Metadata never reaches a shard (EXIF GPS positions, camera serials, XMP, IPTC, comments): every
image is re-encoded, except an upright RGB JPEG that needs no resizing and is not oversized in
bytes, whose compressed data is kept as it is with its metadata segments cut out
(``strip_jpeg_metadata``): no second generation of JPEG loss, and no encoding time. Colour profiles
are not applied (pixels are taken as sRGB); only a passed-through JPEG keeps its ICC profile.

Reasons of ``ImageRejected`` (see also ``interleaf.filters.image_checks``):

    not_image     empty, or not an image at all (HTML, text, unknown bytes)
    bad_format    an image in a format outside ``ImageConfig.formats`` (SVG, ICO, PSD...)
    decode_error  an allowed format whose data is corrupt or truncated
    too_large     more bytes than ``max_bytes``, a side over ``max_input_side`` or more pixels than
                  ``max_pixels`` (decompression bombs)
    too_small     shorter side under ``min_side``
    aspect_ratio  longer / shorter side over ``max_aspect_ratio``
    single_color  every channel spans at most ``single_color_tolerance`` levels
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from interleaf.filters.image_checks import Rejection, check_dimensions, check_single_color

# Pillow's save() format names, by member extension.
ENCODERS = {"jpg": "JPEG", "webp": "WEBP", "png": "PNG"}

# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112

# Pillow warns from open() on images over its own pixel limit; ImageConfig.max_pixels (checked right
# after open, before decoding) is the limit that counts, so the warning is only noise in worker logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# What a broken file makes Pillow's decoders raise.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, Image.DecompressionBombError)


@dataclass(frozen=True)
class ImageConfig:
    max_side: int = 1024  # output: the longer side is resized down to this
    format: str = "jpg"  # output format and member extension: "jpg" | "webp" | "png"
    quality: int = 90  # JPEG / WebP quality
    webp_method: int = 4  # WebP effort, 0 (fast) .. 6 (small)
    resample: str = "bicubic"  # Pillow filter for the downscale; "bilinear" is ~1.6x faster here
    min_side: int = 150  # OBELICS, MMC4
    max_input_side: int = 20000  # OBELICS
    max_aspect_ratio: float = 2.0  # OBELICS
    max_pixels: int = 64_000_000  # decompression-bomb limit, checked from the header
    max_bytes: int = 32 * 1024 * 1024
    single_color_tolerance: int = 4  # channel spread at or under this is "one colour"
    formats: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")  # Pillow open IDs; JPEG covers MPO
    # An upright RGB JPEG that needs no resizing keeps its compressed data (metadata stripped) when it
    # is at most this many bytes per pixel (quality ~95 photos are ~0.4); 0 re-encodes every image.
    passthrough_max_bytes_per_pixel: float = 0.5

    def __post_init__(self) -> None:
        if self.format not in ENCODERS:
            raise ValueError(f"format must be one of {sorted(ENCODERS)}, not {self.format!r}")
        if self.resample.upper() not in Image.Resampling.__members__:
            raise ValueError(f"unknown resample filter {self.resample!r}")


@dataclass(frozen=True)
class NormalizedImage:
    data: bytes
    format: str  # member extension: "jpg" | "webp" | "png"
    width: int
    height: int
    sha1: str  # of data
    phash: str  # hex, imagehash.phash of the output pixels, box-reduced to ~128 px first
    phash_mirror: str  # the same of the left-right mirror (a mirror changes pHash a lot), for dedupe
    source_width: int  # as stored, before orientation and resizing
    source_height: int
    source_format: str  # Pillow's name, e.g. "JPEG"


class ImageRejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)  # both in args, so the exception pickles whole
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def _reject(rejection: Rejection | None) -> None:
    if rejection is not None:
        raise ImageRejected(rejection.reason, rejection.detail)


def _unidentified(data: bytes) -> ImageRejected:
    """Why Pillow could not open ``data`` with the allowed formats: another image format, or no image."""
    head = data[:1024].lstrip().lower()
    if b"<svg" in head:
        return ImageRejected("bad_format", "SVG")
    try:
        # Only identifies the header; nothing is decoded, so no plugin runs external programs.
        with Image.open(io.BytesIO(data)) as im:
            return ImageRejected("bad_format", f"format {im.format} not allowed")
    except (UnidentifiedImageError, *DECODE_ERRORS):
        kind = "markup" if head.startswith(b"<") else "unknown bytes"
        return ImageRejected("not_image", f"{len(data)} bytes of {kind}")


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size with the longer side at most ``max_side``, aspect kept, never upscaled."""
    scale = max_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB: alpha flattened onto white, 16-bit and 32-bit samples scaled to 8 bits."""
    if im.mode == "RGB":
        return im
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode.startswith("I"):
        # Pillow clips these to 255 when converting; keep the top 8 of 16 bits instead. 32-bit "I"
        # images say nothing of their range: shift only when values go past 8 bits.
        values = np.asarray(im).astype(np.int64)
        if im.mode != "I" or values.max() > 255:
            values = values >> 8
        im = Image.fromarray(values.clip(0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im.convert("RGB")


def encode(im: Image.Image, config: ImageConfig) -> bytes:
    out = io.BytesIO()
    fmt = ENCODERS[config.format]
    if fmt == "JPEG":
        im.save(out, fmt, quality=config.quality)
    elif fmt == "WEBP":
        im.save(out, fmt, quality=config.quality, method=config.webp_method)
    else:
        im.save(out, fmt)
    return out.getvalue()


# APPn segments worth keeping, by their identifier: JFIF, the colour profile, Adobe's colour transform.
KEEP_APP = {0xE0: b"JFIF\0", 0xE2: b"ICC_PROFILE\0", 0xEE: b"Adobe"}


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    """The JPEG without EXIF, XMP, IPTC, comments, thumbnails or bytes after its end; the compressed
    image data untouched. None when the marker structure is not the plain one expected."""
    if data[:2] != b"\xff\xd8":
        return None
    out, pos = [data[:2]], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: from here on scans and tables up to the end marker
            eoi = data.find(b"\xff\xd9", end)
            return None if eoi < 0 else b"".join(out) + data[pos : eoi + 2]
        is_metadata = 0xE0 <= marker <= 0xEF or marker == 0xFE
        keep = KEEP_APP.get(marker)
        if not is_metadata or (keep is not None and data[pos + 4 : end].startswith(keep)):
            out.append(data[pos:end])
        pos = end
    return None


def normalize_image(data: bytes, config: ImageConfig) -> NormalizedImage:
    """The shard-ready form of one image; raises ``ImageRejected`` with a reason code."""
    if not data:
        raise ImageRejected("not_image", "empty body")
    if len(data) > config.max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes > {config.max_bytes}")
    try:
        im = Image.open(io.BytesIO(data), formats=config.formats)
    except UnidentifiedImageError:
        raise _unidentified(data) from None
    except Image.DecompressionBombError as e:
        raise ImageRejected("too_large", str(e)) from None
    except DECODE_ERRORS as e:
        raise ImageRejected("decode_error", f"{type(e).__name__}: {e}") from None
    # No close(): the file is a BytesIO, and close() would free the pixels that ``rgb`` may share.
    source_format, (sw, sh) = im.format or "", im.size
    _reject(
        check_dimensions(
            sw,
            sh,
            min_side=config.min_side,
            max_side=config.max_input_side,
            max_pixels=config.max_pixels,
            max_aspect_ratio=config.max_aspect_ratio,
        )
    )
    target = fit_within(sw, sh, config.max_side)
    try:
        if source_format in ("JPEG", "MPO"):
            im.draft("RGB", target)
        im.load()
        orientation = im.getexif().get(EXIF_ORIENTATION)
        rgb = to_rgb(im)
    except DECODE_ERRORS as e:
        raise ImageRejected("decode_error", f"{type(e).__name__}: {e}") from None
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling[config.resample.upper()], reducing_gap=2.0)
    if orientation in ORIENTATION:
        rgb = rgb.transpose(ORIENTATION[orientation])
    # A ~128 px box-filtered copy serves the colour check and the pHash (which shrinks to 32 px
    # anyway): an order of magnitude cheaper than both on the full image, and a 1 px line still
    # moves the spread by 255/8 levels.
    small = rgb.reduce(max(1, max(rgb.size) // 128))
    _reject(check_single_color(small.getextrema(), config.single_color_tolerance))
    out = None
    if (
        config.format == "jpg"
        and source_format == "JPEG"
        and im.mode == "RGB"
        and rgb.size == (sw, sh)
        and orientation in (None, 1)
        and len(data) <= config.passthrough_max_bytes_per_pixel * sw * sh
    ):
        out = strip_jpeg_metadata(data)
    if out is None:
        rgb.info = {}  # Pillow's savers copy some of it (JPEG comments, PNG colour profiles) otherwise
        out = encode(rgb, config)
    return NormalizedImage(
        data=out,
        format=config.format,
        width=rgb.width,
        height=rgb.height,
        sha1=hashlib.sha1(out).hexdigest(),
        phash=str(imagehash.phash(small)),
        phash_mirror=str(imagehash.phash(ImageOps.mirror(small))),
        source_width=sw,
        source_height=sh,
        source_format=source_format,
    )
