"""Loader options, one small dataclass shared by every stage of the loader."""

from __future__ import annotations

from dataclasses import dataclass

# OpenAI CLIP's normalisation, the usual choice for the vision encoders Flamingo-style models use.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class LoaderConfig:
    max_tokens: int = 256  # sequence length L per sample, BOS included (M3W: 256)
    max_images: int = 5  # images kept per sample; later <image> tokens are removed (M3W: 5)
    p_next: float = 0.0  # per-sample probability that text sees the NEXT image (paper trained 0.5)
    image_size: int = 320  # square side after aspect-preserving resize and padding (paper: 320)
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    frames: int = 1  # F: a still image is repeated over F frames
    resample: str = "bicubic"  # Pillow filter for the resize (CLIP's); "bilinear" is about 2x faster
    batch_size: int = 8
    drop_last: bool = False
    fixed_shapes: bool = False  # pad every batch to L = max_tokens and N = max_images
    shuffle_shards: bool = True
    shuffle_buffer: int = 1000  # samples held for shuffling; 0 or 1 keeps shard order
    seed: int = 0
    rank: int | None = None  # None: torch.distributed's rank when initialised, else 0
    world_size: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 2:
            raise ValueError("max_tokens must be at least 2 (BOS and one token)")
        if not 0.0 <= self.p_next <= 1.0:
            raise ValueError(f"p_next must be in [0, 1], got {self.p_next}")
        if self.resample not in ("bicubic", "bilinear", "lanczos", "box"):
            raise ValueError(f"resample must be bicubic, bilinear, lanczos or box, got {self.resample!r}")
        if self.max_images < 0 or self.frames < 1 or self.image_size < 1 or self.batch_size < 1:
            raise ValueError("max_images >= 0, frames >= 1, image_size >= 1 and batch_size >= 1 are required")
