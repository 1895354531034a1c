"""`interleaf train`: train the reference Flamingo on interleaf shards."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the reference Flamingo on shards (checkpoint/resume in --out)")
    p.add_argument("--shards", nargs="+", required=True, help="shard paths or brace patterns (shard-{00000..00009}.tar)")
    p.add_argument("--out", required=True, help="directory for checkpoint.pt, log.jsonl, tokenizer.json; resumes")
    p.add_argument("--tokenizer", help="tokenizer.json (default: train a byte-level BPE on the shards' text)")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--lm", default="builtin", help="'builtin' (small GPT) or a local Hugging Face causal-LM dir")
    p.add_argument("--vision", default="builtin",
                   help="'builtin' (small ViT), a local Hugging Face vision dir, or timm:<arch>:<weights file>")
    p.add_argument("--n-layer", type=int, default=4, help="built-in GPT layers")
    p.add_argument("--n-embd", type=int, default=256, help="built-in GPT width")
    p.add_argument("--n-head", type=int, default=4, help="built-in GPT heads")
    p.add_argument("--image-size", type=int, default=64, help="built-in ViT input side")
    p.add_argument("--patch-size", type=int, default=8, help="built-in ViT patch side")
    p.add_argument("--pretrain-lm-steps", type=int, default=0,
                   help="built-in GPT: text-only language-model steps on the shards before it is frozen")
    p.add_argument("--train-vision", action="store_true", help="train the vision encoder too (no pretrained one)")
    p.add_argument("--cross-attn-every", type=int, default=1)
    p.add_argument("--latents", type=int, default=64, help="visual tokens per image (Perceiver latents)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--max-images", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from interleaf.flamingo.build import ModelSpec
    from interleaf.flamingo.model import FlamingoConfig, GPTConfig, ViTConfig
    from interleaf.flamingo.run import RunConfig, train_flamingo
    from interleaf.flamingo.train import TrainConfig
    from interleaf.loaders import LoaderConfig

    torch.manual_seed(args.seed)
    spec = ModelSpec(
        lm=args.lm,
        vision=args.vision,
        gpt=GPTConfig(block_size=args.max_tokens, n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd),
        vit=ViTConfig(image_size=args.image_size, patch_size=args.patch_size),
        flamingo=FlamingoConfig(cross_attn_every=args.cross_attn_every, n_latents=args.latents,
                                freeze_vision=not args.train_vision),
    )
    config = RunConfig(
        shards=args.shards,
        out=args.out,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        spec=spec,
        loader=LoaderConfig(max_tokens=args.max_tokens, max_images=args.max_images, batch_size=args.batch_size,
                            seed=args.seed),
        train=TrainConfig(steps=args.steps, lr=args.lr, min_lr=args.lr / 10, warmup=args.warmup,
                          weight_decay=args.weight_decay, grad_clip=args.grad_clip, log_every=args.log_every,
                          ckpt_every=args.ckpt_every),
        pretrain_lm_steps=args.pretrain_lm_steps,
        num_workers=args.workers,
        device=args.device,
    )
    train_flamingo(config)
    print(f"checkpoint: {args.out}/checkpoint.pt")
    return 0
