"""`interleaf hashes`: pHashes of evaluation images, for the pipeline's decontamination stage."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hashes", help="compute pHashes of a folder of evaluation images (decontamination)")
    p.add_argument("images_dir", help="folder of evaluation images (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="Parquet file to write (path, sha1, phash, phash_mirror)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace, extra: list[str]) -> int:
    import os

    from interleaf.pipeline.decontaminate import hash_images, iter_image_files, write_hashes

    if not os.path.isdir(args.images_dir):
        print(f"interleaf hashes: {args.images_dir} is not a folder", file=sys.stderr)
        return 2
    table, skipped = hash_images(iter_image_files(args.images_dir))
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not table.num_rows:
        print(f"interleaf hashes: no readable image in {args.images_dir}", file=sys.stderr)
        return 1
    write_hashes(table, args.output)
    print(f"{table.num_rows} images hashed -> {args.output} ({len(skipped)} skipped)")
    return 0
