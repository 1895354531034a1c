"""Reference Flamingo benchmark (run by hand): does it learn from images, and how fast does it train?

    .venv/bin/python benchmarks/flamingo.py [--train 2000 --steps 900 --size 32 --patch 4]

Prints (1) caption accuracy on held-out synthetic images, trained with images vs with images
blanked (the baseline, same run), against chance; (2) training tokens/s of the Flamingo phase
vs the text-only LM warm-up of the same GPT in the same run; (3) on a GPU, bf16 tokens/s and
model FLOPs utilisation of a larger model; without one it says so.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from interleaf.flamingo.build import ModelSpec
from interleaf.flamingo.evaluate import CHANCE, caption_accuracy
from interleaf.flamingo.model import GPT, ViT, Flamingo, FlamingoConfig, GPTConfig, ViTConfig
from interleaf.flamingo.run import RunConfig, train_flamingo
from interleaf.flamingo.synthetic import write_corpus
from interleaf.flamingo.train import TrainConfig
from interleaf.loaders import LoaderConfig

# Dense bf16 peak FLOP/s by device name fragment (no sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def learning(corpus: dict, a: argparse.Namespace, blank: bool) -> tuple[dict, dict]:
    torch.manual_seed(0)
    spec = ModelSpec(gpt=GPTConfig(block_size=96, n_layer=2, n_head=2, n_embd=64),
                     vit=ViTConfig(image_size=a.size, patch_size=a.patch, n_layer=1, n_head=2, n_embd=64),
                     flamingo=FlamingoConfig(n_latents=8, resampler_depth=1, n_head=2, dim_head=32))
    logs: list[dict] = []
    config = RunConfig(shards=corpus["train"], vocab_size=300, spec=spec, device="cpu",
                       loader=LoaderConfig(max_tokens=96, max_images=4, batch_size=16, shuffle_buffer=500),
                       train=TrainConfig(steps=a.steps, lr=1e-3, min_lr=1e-4, warmup=20, log_every=25),
                       pretrain_lm_steps=a.steps // 4, blank_images=blank)
    model, tok, history = train_flamingo(config, log=lambda s: logs.append(json.loads(s)) if s.startswith("{") else None)
    lm_logs = logs[: len(logs) - len(history)]
    speed = {"lm_tokens_per_s": _median(lm_logs), "flamingo_tokens_per_s": _median(history)}
    acc = caption_accuracy(model, tok, corpus["heldout"], a.size, (0.5,) * 3, (0.5,) * 3, max_prompts=a.prompts)
    return acc, speed


def _median(records: list[dict]) -> float:
    values = sorted(r["tokens_per_s"] for r in records[1:] or records)  # the first interval includes start-up
    return values[len(values) // 2]


def gpu_mfu(steps: int = 30) -> str:
    """bf16 training throughput of a GPT-2-small-sized LM with a ViT-B-sized encoder, and its MFU."""
    if not torch.cuda.is_available():
        return "MFU: not measured: no GPU lent (CUDA unavailable)"
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    torch.manual_seed(0)
    gpt = GPTConfig(vocab_size=32000, block_size=512, n_layer=12, n_head=12, n_embd=768)
    vit = ViTConfig(image_size=224, patch_size=16, n_layer=12, n_head=12, n_embd=768)
    model = Flamingo(ViT(vit), GPT(gpt), FlamingoConfig(cross_attn_every=4, n_latents=64, n_head=12, dim_head=64,
                                                        trainable_token_ids=(1, 2))).cuda()
    B, L, N = 16, 512, 5
    batch = {"input_ids": torch.randint(3, 32000, (B, L), device="cuda"),
             "pixels": torch.randn(B, N, 1, 3, 224, 224, device="cuda"),
             "image_mask": torch.ones(B, N, dtype=torch.bool, device="cuda")}
    batch["phi"] = torch.arange(L, device="cuda").div(L // N, rounding_mode="floor").add(1).clamp(max=N).expand(B, L)
    batch["labels"] = batch["input_ids"].roll(-1, 1)
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=1e-4, fused=True)
    for i in range(steps + 5):
        if i == 5:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss = model(**batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    flops = step_flops(model, B, L, N, vit)
    line = f"GPU {name}: {B * L / dt:,.0f} tokens/s, {flops / dt / 1e12:.1f} TFLOP/s"
    return line + (f", MFU {flops / dt / peak:.1%} of {peak / 1e12:.0f} TFLOP/s bf16" if peak else ", MFU: unknown peak")


def step_flops(model: Flamingo, B: int, L: int, N: int, vit: ViTConfig) -> float:
    """Matmul FLOPs of one training step. Forward 2 per weight per token; backward 2 more for the
    input gradient wherever gradient flows (the LM, the xattn, the resampler) and 2 more for the
    weight gradient of trainable weights only; the frozen ViT runs forward only. Attention
    scores add 4*L*d per token per layer forward (the PaLM appendix estimate)."""
    lm_frozen = sum(p.numel() for n, p in model.lm.named_parameters() if ".xattn." not in n and p.dim() == 2
                    and "wpe" not in n and "wte" not in n) + model.lm.lm_head.weight.numel()
    xattn = sum(p.numel() for b in model.xattn for p in b.parameters() if p.dim() == 2)
    resampler = sum(p.numel() for p in model.resampler.parameters() if p.dim() == 2)
    vision = sum(p.numel() for p in model.vision.parameters() if p.dim() >= 2) - model.vision.pos.numel()
    patches = (vit.image_size // vit.patch_size) ** 2
    lm_layers, d = len(model.lm.blocks), model.lm.n_embd
    tokens = B * L
    flops = tokens * (4 * lm_frozen + 6 * xattn) + tokens * lm_layers * 4 * L * d * 3
    flops += B * N * patches * 6 * resampler + B * N * patches * 2 * vision
    return float(flops)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=int, default=2000, help="training documents")
    p.add_argument("--steps", type=int, default=900)
    p.add_argument("--size", type=int, default=32, help="image side")
    p.add_argument("--patch", type=int, default=4,
                   help="ViT patch side; 4 keeps a 4x4x3 patch inside the random frozen ViT's 64 dims, 8 loses shape")
    p.add_argument("--prompts", type=int, default=200, help="held-out captions scored")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (tiny matmuls: 1 is usually fastest)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = {k: [str(s) for s in v] for k, v in write_corpus(tmp, a.train, a.prompts // 2, a.size).items()}
        t0 = time.perf_counter()
        seen, speed = learning(corpus, a, blank=False)
        blind, _ = learning(corpus, a, blank=True)
        wall = time.perf_counter() - t0
    print(f"\nheld-out caption accuracy: {a.steps // 4} LM + {a.steps} Flamingo steps, {a.train} docs, "
          f"{a.size}px / patch {a.patch}, CPU, {wall:.0f} s")
    print(f"{'metric':<10}{'images':>9}{'blanked':>9}{'chance':>9}{'ratio':>8}")
    chance = dict(CHANCE, exact=CHANCE["shape"] * CHANCE["colour"] * CHANCE["count"])
    for k in ("colour", "count", "shape", "exact", "exact@0", "exact@2", "template"):
        base = chance.get(k.split("@")[0], float("nan"))
        b = blind.get(k, float("nan"))
        ratio = seen.get(k, float("nan")) / b if b else float("inf")
        print(f"{k:<10}{seen.get(k, float('nan')):>9.3f}{blind.get(k, float('nan')):>9.3f}{base:>9.3f}{ratio:>8.2f}")
    print(f"\ntraining throughput (CPU, {torch.get_num_threads()} threads)")
    print(f"{'phase':<28}{'tokens/s':>10}")
    print(f"{'text-only LM (baseline)':<28}{speed['lm_tokens_per_s']:>10.0f}")
    print(f"{'Flamingo (resampler+xattn)':<28}{speed['flamingo_tokens_per_s']:>10.0f}")
    print(f"ratio Flamingo / LM: {speed['flamingo_tokens_per_s'] / speed['lm_tokens_per_s']:.2f}")
    print(gpu_mfu())


if __name__ == "__main__":
    main()
