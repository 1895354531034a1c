"""Generation: the visual tokens are computed once, the LM's keys and values are cached, and each
new token sees the latest image of the prompt (phi carries over)."""

from __future__ import annotations

from typing import Sequence, Union

import torch
from PIL import Image

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


PromptItem = Union[str, Image.Image]


def encode_prompt(tok, items: Sequence[PromptItem], image_size: int, mean: Sequence[float], std: Sequence[float],
                  frames: int = 1) -> dict[str, torch.Tensor]:
    """An interleaved prompt (text and PIL images) as a batch of one, tokenized like the loader's
    training samples: BOS, <image> at each image, <|endofchunk|> closing each image's text
    except the last, which the model continues."""
    from interleaf.loaders.images import image_to_tensor
    from interleaf.loaders.sequence import compute_phi

    segments: list[list[str]] = [[]]
    frames_list: list[torch.Tensor] = []
    for item in items:
        if isinstance(item, Image.Image):
            segments.append([])
            img = image_to_tensor(item.convert("RGB"), image_size, mean, std)
            frames_list.append(img.unsqueeze(0).expand(frames, -1, -1, -1))
        elif item.strip():
            segments[-1].append(item.strip())
    encoded = [tok.encode("\n\n".join(s)) if s else [] for s in segments]
    ids = [tok.bos_id, *encoded[0]]
    for k, seg in enumerate(encoded[1:], start=1):
        ids += [tok.image_id, *seg] + ([tok.eoc_id] if k < len(encoded) - 1 else [])
    input_ids = torch.tensor([ids])
    n = len(frames_list)
    # A text-only prompt keeps one empty slot: zero visual keys would leave attention undefined.
    pixels = torch.stack(frames_list)[None] if n else torch.zeros(1, 1, frames, 3, image_size, image_size)
    return {
        "input_ids": input_ids,
        "phi": compute_phi(input_ids, tok.image_id),
        "pixels": pixels,
        "image_mask": torch.full((1, max(n, 1)), n > 0),
    }


def generate(model: Flamingo, tok, items: Sequence[PromptItem], image_size: int, mean: Sequence[float],
             std: Sequence[float], max_new_tokens: int = 32, frames: int = 1) -> str:
    """Greedy continuation of an interleaved prompt, up to <|endofchunk|> or EOS, as text."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in encode_prompt(tok, items, image_size, mean, std, frames).items()}
    new = greedy_decode(model, **batch, max_new_tokens=max_new_tokens, stop_ids=(tok.eoc_id, tok.eos_id))
    return tok.decode(new, skip_special_tokens=True).strip()
