"""Samples -> one batch of the batch contract (DESIGN.md): right padding, -100 labels and phi 0
at padding, zero pixels and a False image_mask for absent images."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch.utils.data import get_worker_info

from .config import LoaderConfig
from .images import normalize_into
from .sequence import IGNORE_INDEX


def zeros_for_transfer(shape: tuple[int, ...]) -> torch.Tensor:
    """float32 zeros; in a DataLoader worker, allocated in shared memory, as torch's own
    default_collate does, so the batch is not copied again on its way to the main process."""
    if get_worker_info() is None:
        return torch.zeros(shape)
    storage = torch.empty(0)._typed_storage()._new_shared(math.prod(shape), device="cpu")
    return torch.empty(0).new(storage).view(shape).zero_()


def collate(samples: Sequence[dict[str, Any]], pad_id: int, config: LoaderConfig | None = None,
            length: int | None = None, n_images: int | None = None) -> dict[str, Any]:
    """Stack ``build_sample`` outputs, normalising their images with ``config`` (image size, mean,
    std, frames). ``length``/``n_images`` fix L and N (static shapes); by default they are the
    batch's longest sequence and largest image count (N at least 1)."""
    config = config or LoaderConfig()
    B = len(samples)
    L = length or max(len(s["input_ids"]) for s in samples)
    N = n_images if n_images is not None else max(1, max(len(s["images"]) for s in samples))
    S = config.image_size
    batch = {
        "input_ids": torch.full((B, L), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros(B, L, dtype=torch.bool),
        "labels": torch.full((B, L), IGNORE_INDEX, dtype=torch.long),
        "pixels": zeros_for_transfer((B, N, config.frames, 3, S, S)),
        "image_mask": torch.zeros(B, N, dtype=torch.bool),
        "phi": torch.zeros(B, L, dtype=torch.long),
        "keys": [s["key"] for s in samples],
    }
    for b, s in enumerate(samples):
        n, m = len(s["input_ids"]), len(s["images"])
        if n > L or m > N:
            raise ValueError(f"sample {s['key']}: {n} tokens / {m} images exceed the batch's {L} / {N}")
        batch["input_ids"][b, :n] = s["input_ids"]
        batch["attention_mask"][b, :n] = True
        batch["labels"][b, :n] = s["labels"]
        batch["phi"][b, :n] = s["phi"]
        batch["image_mask"][b, :m] = True
        for k, image in enumerate(s["images"]):
            normalize_into(batch["pixels"][b, k, 0], image, config.mean, config.std)
            batch["pixels"][b, k, 1:] = batch["pixels"][b, k, 0]  # a still image repeats over frames
    return batch
