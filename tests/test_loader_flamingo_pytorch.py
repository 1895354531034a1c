"""Our phi against an implementation nobody here wrote: flamingo-pytorch's MaskedCrossAttention
derives the image each token sees from the <image> positions by a cumulative sum. Changing image k
must change that module's output at exactly the real tokens where our phi == k, and tokens with
phi == 0 must get exactly zero output."""

from __future__ import annotations

import random

import torch
from flamingo_pytorch.flamingo_pytorch import MaskedCrossAttention
from loader_fixtures import random_document, tokenizer, tokenizer_path  # noqa: F401

from interleaf.loaders import LoaderConfig, build_sample, collate


def test_flamingo_pytorch_mask_agrees_with_phi_on_every_token(tokenizer):
    torch.manual_seed(0)
    rng = random.Random(0)
    config = LoaderConfig(max_tokens=96, max_images=5, p_next=0.0, image_size=8)
    docs = [random_document(rng, n_nodes=14, image_p=0.5, max_words=12) for _ in range(8)]
    samples = [build_sample(d, [n.data for n in d.images], tokenizer, config, rng) for d in docs]
    batch = collate(samples, tokenizer.pad_id, config)
    B, L = batch["input_ids"].shape
    N = batch["image_mask"].shape[1]
    assert N >= 3 and (batch["image_mask"].sum(1) >= 2).sum() >= 4  # several images per sample

    xattn = MaskedCrossAttention(dim=32, dim_head=8, heads=4, only_attend_immediate_media=True).eval()
    x = torch.randn(B, L, 32)
    media = torch.randn(B, N, 3, 32)  # 3 visual tokens per image
    locations = batch["input_ids"] == tokenizer.image_id
    real, phi = batch["attention_mask"], batch["phi"]
    with torch.no_grad():
        out = xattn(x, media, media_locations=locations)
        assert not out[real & (phi == 0)].any()  # no image seen: exactly zero
        for k in range(1, N + 1):
            changed = media.clone()
            changed[:, k - 1] += torch.randn_like(changed[:, k - 1])
            moved = (xattn(x, changed, media_locations=locations) - out).abs().amax(-1) > 1e-6
            assert torch.equal(moved[real], (phi == k)[real]), f"image {k}"
