"""Image normalisation and the pure image checks, on images made here with Pillow."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from interleaf.filters.image_checks import check_dimensions, check_single_color
from interleaf.pipeline.images import ImageConfig, ImageRejected, fit_within, normalize_image

PNG_OUT = ImageConfig(format="png")  # lossless output, so pixels can be compared exactly


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def photo(width: int, height: int) -> Image.Image:
    """A smooth, non-flat test picture (gradients in every channel)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def decoded(result) -> Image.Image:
    return Image.open(io.BytesIO(result.data))


def reason_of(data: bytes, config: ImageConfig = ImageConfig()) -> str:
    with pytest.raises(ImageRejected) as e:
        normalize_image(data, config)
    return e.value.reason


def test_large_jpeg_is_resized_reencoded_and_hashed():
    data = encode(photo(3000, 2000), "JPEG", quality=85)
    r = normalize_image(data, ImageConfig())
    assert (r.width, r.height) == (1024, 683)
    assert (r.source_width, r.source_height, r.source_format) == (3000, 2000, "JPEG")
    assert r.format == "jpg" and r.sha1 == hashlib.sha1(r.data).hexdigest()
    assert len(r.phash) == 16 and int(r.phash, 16) >= 0
    out = decoded(r)
    assert out.format == "JPEG" and out.size == (1024, 683) and out.mode == "RGB"
    assert normalize_image(data, ImageConfig()) == r  # deterministic


@pytest.mark.parametrize("fmt,pillow", [("webp", "WEBP"), ("png", "PNG")])
def test_output_formats(fmt, pillow):
    r = normalize_image(encode(photo(400, 300), "PNG"), ImageConfig(format=fmt, max_side=200))
    assert decoded(r).format == pillow and (r.width, r.height) == (200, 150) and r.format == fmt


def test_small_image_is_not_upscaled_and_pixels_survive():
    src = photo(300, 200)
    r = normalize_image(encode(src, "PNG"), PNG_OUT)
    assert (r.width, r.height) == (300, 200)
    assert np.array_equal(np.asarray(decoded(r).convert("RGB")), np.asarray(src))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(orientation):
    src = photo(400, 240)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(src, "PNG", exif=exif.tobytes())
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    r = normalize_image(data, PNG_OUT)
    assert (r.width, r.height) == expected.size and (r.source_width, r.source_height) == (400, 240)
    assert np.array_equal(np.asarray(decoded(r).convert("RGB")), np.asarray(expected))


def test_exif_orientation_with_jpeg_draft_and_resize():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    data = encode(photo(3000, 2000), "JPEG", exif=exif.tobytes())
    r = normalize_image(data, ImageConfig())
    assert (r.width, r.height) == (683, 1024)


def test_alpha_is_flattened_onto_white():
    im = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    im.paste((200, 0, 0, 255), (100, 100, 200, 200))
    out = np.asarray(decoded(normalize_image(encode(im, "PNG"), PNG_OUT)).convert("RGB"))
    assert tuple(out[10, 10]) == (255, 255, 255)
    assert tuple(out[150, 150]) == (200, 0, 0)


def test_palette_transparency_is_flattened():
    im = Image.new("P", (300, 300), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 150, 300))
    out = np.asarray(decoded(normalize_image(encode(im, "PNG", transparency=0), PNG_OUT)).convert("RGB"))
    assert tuple(out[5, 5]) == (0, 0, 255) and tuple(out[5, 290]) == (255, 255, 255)


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (200, 200), c) for c in [(255, 0, 0), (0, 0, 255)]]
    for f in frames:
        f.paste((0, 255, 0), (0, 0, 50, 50))  # not single-coloured
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = np.asarray(decoded(normalize_image(data, PNG_OUT)).convert("RGB"))
    assert tuple(out[150, 150]) == (255, 0, 0)


def test_cmyk_jpeg_becomes_rgb():
    im = Image.new("CMYK", (300, 300), (0, 255, 255, 0))  # red in CMYK
    im.paste((255, 0, 0, 0), (0, 0, 100, 100))  # cyan corner
    r = normalize_image(encode(im, "JPEG", quality=95), ImageConfig())
    out = np.asarray(decoded(r))
    assert out.shape == (300, 300, 3)
    assert np.abs(out[200, 200].astype(int) - (255, 0, 0)).max() < 12
    assert np.abs(out[50, 50].astype(int) - (0, 255, 255)).max() < 12


def test_16bit_png_is_scaled_not_clipped():
    values = np.tile(np.arange(300, dtype=np.uint16) * 200, (200, 1))  # 0 .. 59800
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = np.asarray(decoded(normalize_image(data, PNG_OUT)).convert("L"))
    assert np.array_equal(out[0], (values[0] >> 8).astype(np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size: what a decompression bomb looks like to open()."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # pytest resets our module's filter
def test_bomb_rejected_from_header_by_our_limit():
    assert reason_of(png_header_only(12000, 12000)) == "too_large"


def test_bomb_rejected_by_pillow_when_our_limits_are_lifted():
    lifted = ImageConfig(max_pixels=10**12, max_input_side=10**6)
    assert reason_of(png_header_only(20000, 20000), lifted) == "too_large"


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "not_image"),
        (b"<!doctype html><html><body>404 not found</body></html>", "not_image"),
        (b"\x00\x01garbage" * 50, "not_image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"/>', "bad_format"),
        (encode(photo(300, 300), "ICO", sizes=[(256, 256)]), "bad_format"),
        (truncated(encode(photo(1000, 800), "JPEG")), "decode_error"),
        (truncated(encode(photo(1000, 800), "PNG")), "decode_error"),
        (encode(photo(100, 400), "PNG"), "too_small"),
        (encode(photo(700, 300), "PNG"), "aspect_ratio"),
        (encode(Image.new("RGB", (400, 400), (90, 90, 90)), "JPEG"), "single_color"),
        (encode(Image.new("RGBA", (400, 400), (0, 0, 0, 0)), "PNG"), "single_color"),
    ],
    ids=["empty", "html", "garbage", "svg", "ico", "cut_jpeg", "cut_png", "small", "aspect", "flat", "clear"],
)
def test_rejections(data, reason):
    assert reason_of(data) == reason


def test_byte_limit_and_thresholds_are_configurable():
    data = encode(photo(700, 300), "PNG")
    assert reason_of(data, ImageConfig(max_bytes=len(data) - 1)) == "too_large"
    assert normalize_image(data, ImageConfig(max_aspect_ratio=2.5)).width == 700
    assert reason_of(data, ImageConfig(max_aspect_ratio=2.5, formats=("JPEG",))) == "bad_format"
    with pytest.raises(ValueError):
        ImageConfig(format="gif")


def test_rejection_pickles_whole():
    import pickle

    e = pickle.loads(pickle.dumps(ImageRejected("too_small", "100x100")))
    assert (e.reason, e.detail, str(e)) == ("too_small", "100x100", "too_small: 100x100")


def test_pure_checks():
    limits = dict(min_side=150, max_side=20000, max_pixels=64_000_000, max_aspect_ratio=2.0)
    assert check_dimensions(300, 600, **limits) is None
    assert check_dimensions(300, 601, **limits).reason == "aspect_ratio"
    assert check_dimensions(149, 200, **limits).reason == "too_small"
    assert check_dimensions(0, 200, **limits).reason == "too_small"
    assert check_dimensions(20001, 15000, **limits).reason == "too_large"
    assert check_dimensions(9000, 9000, **limits).reason == "too_large"
    assert check_single_color([(10, 13), (0, 3), (7, 7)], 3).reason == "single_color"
    assert check_single_color([(10, 14), (0, 3), (7, 7)], 3) is None
    assert fit_within(3000, 2000, 1024) == (1024, 683) and fit_within(500, 400, 1024) == (500, 400)


def jpeg_with_metadata(im: Image.Image, **kw) -> bytes:
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS position
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(im, "JPEG", exif=exif.tobytes(), icc_profile=icc, comment=b"secret note", **kw)
    return data + b"trailing bytes after the image"


def test_upright_jpeg_keeps_its_data_without_metadata():
    src = photo(600, 400)
    for extra in ({}, {"progressive": True}):
        data = jpeg_with_metadata(src, quality=90, **extra)
        r = normalize_image(data, ImageConfig())
        assert b"CameraMaker" not in r.data and b"secret note" not in r.data and b"Exif" not in r.data
        assert r.data.endswith(b"\xff\xd9") and len(r.data) < len(data)
        out, original = decoded(r), Image.open(io.BytesIO(data))
        assert out.info.get("icc_profile") == original.info["icc_profile"]
        assert np.array_equal(np.asarray(out), np.asarray(original))  # same compressed data, same pixels
        assert r.sha1 == hashlib.sha1(r.data).hexdigest() and (r.width, r.height) == (600, 400)


def test_jpeg_is_reencoded_when_resized_oversized_or_asked():
    data = jpeg_with_metadata(photo(600, 400), quality=90)
    noisy = jpeg_with_metadata(Image.fromarray(np.random.default_rng(0).integers(0, 256, (400, 600, 3), np.uint8)),
                               quality=100)  # fmt: skip
    assert len(noisy) > 0.5 * 600 * 400
    for d, config in [(data, ImageConfig(max_side=500)), (noisy, ImageConfig()),
                      (data, ImageConfig(passthrough_max_bytes_per_pixel=0))]:  # fmt: skip
        r = normalize_image(d, config)
        assert b"CameraMaker" not in r.data and b"secret note" not in r.data
        assert Image.open(io.BytesIO(r.data)).info.get("icc_profile") is None  # a fresh encode


def test_strip_jpeg_metadata_refuses_what_it_does_not_understand():
    from interleaf.pipeline.images import strip_jpeg_metadata

    data = encode(photo(300, 200), "JPEG")
    assert strip_jpeg_metadata(data) == data  # nothing to strip
    assert strip_jpeg_metadata(data[: len(data) // 2]) is None  # no end marker
    assert strip_jpeg_metadata(encode(photo(300, 200), "PNG")) is None
    assert strip_jpeg_metadata(b"\xff\xd8\x00garbage") is None


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "F", "I"])
def test_every_mode_in_every_allowed_format_becomes_rgb(mode):
    rgb = np.random.default_rng(1).integers(0, 256, (200, 300, 3), np.uint8)
    if mode == "I":  # 16-bit samples, as 16-bit PNGs and TIFFs hold
        src = Image.fromarray(rgb[..., 0].astype(np.int32) * 257, "I")
    else:
        src = Image.fromarray(rgb).convert(mode)
    saved = 0
    for fmt in ["PNG", "TIFF", "BMP", "GIF", "WEBP", "JPEG"]:
        buf = io.BytesIO()
        try:
            src.save(buf, fmt)
        except (OSError, KeyError, ValueError):
            continue  # Pillow cannot write this mode in this format
        saved += 1
        out = decoded(normalize_image(buf.getvalue(), ImageConfig()))
        assert (out.mode, out.size) == ("RGB", (300, 200)), (mode, fmt)
    assert saved >= 1
