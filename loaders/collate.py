"""Samples -> one batch of the batch contract (DESIGN.md): right padding, -100 labels and phi 0
at padding, zero pixels and a False image_mask for absent images."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from .sequence import IGNORE_INDEX


def collate(samples: Sequence[dict[str, Any]], pad_id: int, length: int | None = None,
            n_images: int | None = None) -> dict[str, Any]:
    """Stack ``build_sample`` outputs. ``length``/``n_images`` fix L and N (static shapes);
    by default they are the batch's longest sequence and largest image count (N at least 1)."""
    B = len(samples)
    L = length or max(len(s["input_ids"]) for s in samples)
    N = n_images if n_images is not None else max(1, max(len(s["pixels"]) for s in samples))
    frame_shape = samples[0]["pixels"].shape[1:]
    batch = {
        "input_ids": torch.full((B, L), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros(B, L, dtype=torch.bool),
        "labels": torch.full((B, L), IGNORE_INDEX, dtype=torch.long),
        "pixels": torch.zeros(B, N, *frame_shape, dtype=torch.float32),
        "image_mask": torch.zeros(B, N, dtype=torch.bool),
        "phi": torch.zeros(B, L, dtype=torch.long),
        "keys": [s["key"] for s in samples],
    }
    for b, s in enumerate(samples):
        n, m = len(s["input_ids"]), len(s["pixels"])
        if n > L or m > N:
            raise ValueError(f"sample {s['key']}: {n} tokens / {m} images exceed the batch's {L} / {N}")
        batch["input_ids"][b, :n] = s["input_ids"]
        batch["attention_mask"][b, :n] = True
        batch["labels"][b, :n] = s["labels"]
        batch["phi"][b, :n] = s["phi"]
        batch["pixels"][b, :m] = s["pixels"]
        batch["image_mask"][b, :m] = True
    return batch
