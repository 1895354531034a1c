"""The `interleaf` command. Each subcommand lives in its own module with
``register(subparsers)``; heavy imports (Beam, torch) happen inside the command's handler so
that ``interleaf --help`` stays fast and the pipeline installs without torch."""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under interleaf.cli, in the order `interleaf --help` lists them.
COMMANDS = ("run", "inspect", "validate", "stats", "train", "generate", "tokenizer", "hashes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interleaf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"interleaf.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    # Only `run` passes unknown flags through (to Beam's PipelineOptions).
    if extra and not getattr(args, "accepts_extra", False):
        print(f"interleaf {args.command}: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    return int(args.func(args, extra) or 0)


if __name__ == "__main__":
    sys.exit(main())
