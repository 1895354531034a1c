"""Shards in, trained Flamingo out: what ``interleaf train`` runs, as one plain function.

    tokenizer (loaded, or trained on the shards' text)
    -> [built-in GPT only] language-model warm-up on the shards' text, then frozen
    -> Flamingo(vision, LM) -> train resampler + gated xattn -> OUT/checkpoint.pt, OUT/log.jsonl
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .build import ModelSpec, build_lm, build_model, build_vision
from .model import Flamingo
from .train import LMOnly, TrainConfig, Trainer


@dataclass
class RunConfig:
    shards: list[str]
    out: str | None = None  # checkpoint, log and tokenizer go here; an existing checkpoint resumes
    tokenizer: str | None = None  # tokenizer.json; None: train a BPE on the shards' text
    vocab_size: int = 8192
    spec: ModelSpec = field(default_factory=ModelSpec)
    loader: Any = None  # interleaf.loaders.LoaderConfig; its image size and normalisation follow the encoder
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain_lm_steps: int = 0  # built-in GPT: text-only LM steps before it is frozen
    pretrain_lr: float = 3e-3
    num_workers: int = 0
    device: str = "auto"
    blank_images: bool = False  # control run: every image replaced by zeros


class BlankImages:
    """A loader whose pixels are all zero (the "no images" control); resume state passes through."""

    def __init__(self, loader: Any):
        self.loader = loader

    def __iter__(self) -> Iterator[dict]:
        for batch in self.loader:
            batch["pixels"] = torch.zeros_like(batch["pixels"])
            yield batch

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def train_flamingo(c: RunConfig, log: Callable[[str], None] = print) -> tuple[Flamingo, Any, list[dict]]:
    """Train per ``c``; returns (model, tokenizer, log records of the Flamingo phase)."""
    from interleaf.loaders import LoaderConfig, load_tokenizer, make_dataloader, shard_texts, train_tokenizer

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if c.device == "auto" else c.device)
    out = Path(c.out) if c.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    tok_path = out / "tokenizer.json" if out else None
    if c.tokenizer:
        tok = load_tokenizer(c.tokenizer)
    elif tok_path and tok_path.exists():
        tok = load_tokenizer(tok_path)  # resuming: the tokenizer this run trained
    else:
        tok = train_tokenizer(shard_texts(c.shards), c.vocab_size, min_frequency=1)
    if tok_path:
        tok.save(tok_path)

    vision = build_vision(c.spec)
    loader_cfg = c.loader or LoaderConfig()
    loader_cfg.image_size, loader_cfg.mean, loader_cfg.std = vision.image_size, tuple(vision.mean), tuple(vision.std)
    loader = make_dataloader(c.shards, tok, loader_cfg, num_workers=c.num_workers)
    if c.blank_images:
        loader = BlankImages(loader)

    c.spec.gpt.block_size = max(c.spec.gpt.block_size, loader_cfg.max_tokens)
    c.spec.flamingo.trainable_token_ids = (tok.image_id, tok.eoc_id)
    lm = build_lm(c.spec, tok.vocab_size).to(device)
    resuming = out is not None and (out / "checkpoint.pt").exists()
    if c.spec.lm == "builtin" and c.pretrain_lm_steps and not resuming:
        log(f"language-model warm-up of the built-in GPT: {c.pretrain_lm_steps} steps on the shards' text")
        warmup = TrainConfig(steps=c.pretrain_lm_steps, lr=c.pretrain_lr, min_lr=c.pretrain_lr / 10,
                             warmup=min(50, c.pretrain_lm_steps // 10 + 1), log_every=c.train.log_every, ckpt_every=0)
        Trainer(LMOnly(lm), warmup, log=log).fit(
            make_dataloader(c.shards, tok, LoaderConfig(**{**asdict(loader_cfg), "seed": loader_cfg.seed + 1}),
                            num_workers=c.num_workers))

    model = build_model(c.spec, lm=lm, vision=vision).to(device)
    extra = {"model_spec": c.spec.to_dict(), "vocab_size": tok.vocab_size,
             "image": {"size": loader_cfg.image_size, "mean": loader_cfg.mean, "std": loader_cfg.std,
                       "frames": loader_cfg.frames}}
    trainer = Trainer(model, c.train, out, extra_state=extra, log=log)
    trainer.resume(loader)
    history = trainer.fit(loader)
    return model, tok, history
