"""`interleaf generate`: continue an interleaved few-shot prompt with a trained Flamingo."""

from __future__ import annotations

import argparse
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="continue an interleaved prompt: image paths and text, in order",
        description="Example: interleaf generate --checkpoint out/checkpoint.pt a.png 'two red circles.' b.png")
    p.add_argument("prompt", nargs="+", help="items in order: an existing image file is an image, anything else text")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt written by `interleaf train`")
    p.add_argument("--tokenizer", help="tokenizer.json (default: the one beside the checkpoint)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace, extra: list[str]) -> int:
    from PIL import Image

    from interleaf.flamingo.build import load_checkpoint_model
    from interleaf.flamingo.generate import generate
    from interleaf.loaders import load_tokenizer

    model, state = load_checkpoint_model(args.checkpoint, args.device)
    tok = load_tokenizer(args.tokenizer or Path(args.checkpoint).with_name("tokenizer.json"))
    items = [Image.open(item) if Path(item).suffix.lower() in IMAGE_SUFFIXES and Path(item).is_file() else item
             for item in args.prompt]
    image = state["image"]
    print(generate(model, tok, items, image["size"], image["mean"], image["std"], args.max_new_tokens, image["frames"]))
    return 0
