"""`interleaf tokenizer`: train a byte-level BPE on shard text offline, or show a tokenizer's
special ids as the loader sees them."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokenizer", help="train a BPE tokenizer on shards, or show a tokenizer.json")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="train a byte-level BPE on the text of shards")
    train.add_argument("shards", nargs="+", help="shard paths, brace patterns, URLs or folders of .tar")
    train.add_argument("-o", "--output", required=True, help="where to write tokenizer.json")
    train.add_argument("--vocab-size", type=int, default=8192)
    train.add_argument("--min-frequency", type=int, default=2, help="merges need this many occurrences")
    show = actions.add_parser("show", help="print the vocabulary size and special token ids")
    show.add_argument("path", help="a tokenizer.json")
    p.set_defaults(func=main)


def main(args: argparse.Namespace, extra: list[str]) -> int:
    from interleaf.loaders import load_tokenizer, shard_texts, train_tokenizer

    if args.action == "train":
        tok = train_tokenizer(shard_texts(args.shards), args.vocab_size, args.output, args.min_frequency)
        print(f"wrote {args.output}: vocab {tok.vocab_size}, special ids {json.dumps(tok.special_ids)}")
    else:
        tok = load_tokenizer(args.path)
        print(json.dumps({"vocab_size": tok.vocab_size, **tok.special_ids}))
    return 0
