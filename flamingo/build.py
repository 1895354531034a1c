"""Which parts make a Flamingo (built-in or from local paths), as a spec a checkpoint stores so
``interleaf generate`` can rebuild the model that ``interleaf train`` saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .model import GPT, ViT, Flamingo, FlamingoConfig, GPTConfig, ViTConfig


@dataclass
class ModelSpec:
    lm: str = "builtin"  # or a local Hugging Face causal-LM directory
    vision: str = "builtin"  # or a local Hugging Face vision directory, or "timm:<arch>:<weights file>"
    gpt: GPTConfig = field(default_factory=GPTConfig)
    vit: ViTConfig = field(default_factory=ViTConfig)
    flamingo: FlamingoConfig = field(default_factory=FlamingoConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        fl = dict(d["flamingo"], trainable_token_ids=tuple(d["flamingo"]["trainable_token_ids"]))
        return cls(d["lm"], d["vision"], GPTConfig(**d["gpt"]), ViTConfig(**d["vit"]), FlamingoConfig(**fl))


def build_lm(spec: ModelSpec, vocab_size: int) -> nn.Module:
    if spec.lm == "builtin":
        spec.gpt.vocab_size = vocab_size
        return GPT(spec.gpt)
    from .adapters import HFCausalLM

    return HFCausalLM(spec.lm, vocab_size=vocab_size)


def build_vision(spec: ModelSpec) -> nn.Module:
    if spec.vision == "builtin":
        return ViT(spec.vit)
    if spec.vision.startswith("timm:"):
        from .adapters import TimmVisionEncoder

        _, arch, weights = spec.vision.split(":", 2)
        return TimmVisionEncoder(arch, weights)
    from .adapters import HFVisionEncoder

    return HFVisionEncoder(spec.vision)


def build_model(spec: ModelSpec, lm: nn.Module | None = None, vision: nn.Module | None = None) -> Flamingo:
    """Wrap an (optionally already pretrained) LM and vision encoder into a Flamingo."""
    return Flamingo(vision if vision is not None else build_vision(spec), lm, spec.flamingo)


def load_checkpoint_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Flamingo, dict]:
    """Rebuild the model a training checkpoint describes and load its weights; returns it and the state."""
    state = torch.load(path, map_location=device, weights_only=False)
    spec = ModelSpec.from_dict(state["model_spec"])
    model = build_model(spec, lm=build_lm(spec, state["vocab_size"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state
