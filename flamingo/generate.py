"""Generation: the visual tokens are computed once, the LM's keys and values are cached, and each
new token sees the latest image of the prompt (phi carries over)."""

from __future__ import annotations

import torch

from .model import Flamingo


@torch.no_grad()
def greedy_decode(
    model: Flamingo,
    input_ids: torch.Tensor,
    phi: torch.Tensor,
    pixels: torch.Tensor,
    image_mask: torch.Tensor,
    max_new_tokens: int,
    stop_ids: tuple[int, ...] = (),
) -> list[int]:
    """Greedy continuation of one prompt (batch of 1). Returns the new token ids, the stop token
    included when one ends it."""
    model.eval()
    visual = model.encode_images(pixels, image_mask)
    cache = model.lm.new_cache()
    last_phi = phi[:, -1:]
    logits, _ = model(input_ids, phi, visual=visual, cache=cache)
    out: list[int] = []
    for _ in range(max_new_tokens):
        tok = int(logits[0, -1].argmax())
        out.append(tok)
        if tok in stop_ids:
            break
        logits, _ = model(torch.tensor([[tok]], device=input_ids.device), last_phi, visual=visual, cache=cache)
    return out
