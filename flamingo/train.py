"""Training: AdamW with linear warmup and cosine decay, gradient clipping, bf16 autocast on GPU,
JSON-lines logging and atomic checkpoints (model, optimiser, step, loader state) for resume."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

BATCH_KEYS = ("input_ids", "attention_mask", "labels", "pixels", "image_mask", "phi")


@dataclass
class TrainConfig:
    steps: int = 1000
    lr: float = 3e-4
    min_lr: float = 3e-5
    warmup: int = 50
    weight_decay: float = 0.1
    beta2: float = 0.95
    grad_clip: float = 1.0
    log_every: int = 10
    ckpt_every: int = 200  # 0: only at the end


def lr_at(step: int, c: TrainConfig) -> float:
    """Linear warmup to c.lr, then cosine decay to c.min_lr at c.steps."""
    if step < c.warmup:
        return c.lr * (step + 1) / c.warmup
    progress = min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))
    return c.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (c.lr - c.min_lr)


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: batch[k].to(device, non_blocking=True) for k in BATCH_KEYS if k in batch}


def autocast(device: torch.device):
    """bf16 autocast on GPU; on CPU full fp32 (CPU bf16 matmuls are slow and only add noise here)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write to a temporary name and rename: a crash mid-write never leaves a torn checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class Trainer:
    """Trains the parameters of ``model`` that require grad. ``model(**batch)`` must return
    ``(logits, loss)``: the Flamingo itself, or a bare LM behind ``LMOnly`` for text pretraining."""

    def __init__(self, model: nn.Module, config: TrainConfig, out_dir: str | Path | None = None,
                 extra_state: dict | None = None, log: Callable[[str], None] = print):
        self.model, self.config, self.log = model, config, log
        self.out_dir = Path(out_dir) if out_dir else None
        self.extra_state = extra_state or {}  # saved in every checkpoint, e.g. how to rebuild the model
        self.device = next(model.parameters()).device
        groups = model.param_groups(config.weight_decay) if hasattr(model, "param_groups") else [
            {"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": config.weight_decay}]
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, config.beta2),
                                           fused=self.device.type == "cuda")
        self.step = 0
        self.history: list[dict] = []

    @property
    def ckpt_path(self) -> Path | None:
        return self.out_dir / "checkpoint.pt" if self.out_dir else None

    def checkpoint(self, loader: Any = None) -> None:
        if self.ckpt_path is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.ckpt_path, {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
            "train_config": asdict(self.config),
            **self.extra_state,
        })

    def resume(self, loader: Any = None) -> bool:
        """Load the checkpoint in out_dir if there is one; returns whether it did."""
        if self.ckpt_path is None or not self.ckpt_path.exists():
            return False
        state = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        if state.get("loader") is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(state["loader"])
        self.log(f"resumed from {self.ckpt_path} at step {self.step}")
        return True

    def fit(self, loader: Iterable[dict]) -> list[dict]:
        """Run until config.steps, cycling over ``loader``; returns the logged records."""
        c, model = self.config, self.model
        model.train()
        batches = _cycle(loader)
        t0, tokens = time.perf_counter(), 0
        while self.step < c.steps:
            batch = to_device(next(batches), self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, c)
            with autocast(self.device):
                _, loss = model(**batch)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(
                [p for g in self.optimizer.param_groups for p in g["params"]], c.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            tokens += int(batch["attention_mask"].sum())
            if self.step % c.log_every == 0 or self.step == c.steps:
                dt = time.perf_counter() - t0
                record = {"step": self.step, "loss": round(loss.item(), 4), "lr": lr_at(self.step - 1, c),
                          "grad_norm": round(float(norm), 4), "tokens_per_s": round(tokens / dt, 1)}
                self._write_log(record)
                t0, tokens = time.perf_counter(), 0
            if c.ckpt_every and self.step % c.ckpt_every == 0:
                self.checkpoint(loader)
        self.checkpoint(loader)
        return self.history

    def _write_log(self, record: dict) -> None:
        self.history.append(record)
        self.log(json.dumps(record))
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")


class LMOnly(nn.Module):
    """A bare LM trained on the batches' text alone (images ignored): the language-modelling
    warm-up that gives the built-in GPT weights worth freezing."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.lm(input_ids)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return logits, loss


def _cycle(loader: Iterable[dict]) -> Iterator[dict]:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the loader yielded no batches")
