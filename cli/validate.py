"""`interleaf validate`: check shards against the Document contract and the run's manifest."""

from __future__ import annotations

import argparse
import hashlib
import posixpath


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a run's shards (or single shards) against the contract and manifest")
    p.add_argument("paths", nargs="+", help="a run folder, or shard .tar files")
    p.set_defaults(func=main)


def validate_shard(path: str) -> tuple[int, list[str]]:
    """(samples read, problems) for one shard: schema, member names, keys."""
    from interleaf.schemas import Document, SchemaError

    from .inspect import iter_samples

    problems, n = [], 0
    try:
        for key, doc, sizes in iter_samples(path):
            n += 1
            if doc is None:
                problems.append(f"{path}: sample {key} has no .json member")
                continue
            try:
                document = Document.from_dict(doc)
            except SchemaError as e:
                problems.append(f"{path}: sample {key}: {e}")
                continue
            if document.id != key:
                problems.append(f"{path}: sample {key} holds document {document.id}")
            members = {n.member for n in document.images}
            if None in members:
                problems.append(f"{path}: sample {key}: an image node has no member")
            if members - {None} != set(sizes):
                problems.append(f"{path}: sample {key}: members {sorted(sizes)} != image nodes {sorted(members - {None})}")
    except Exception as e:  # noqa: BLE001 - a damaged tar is a finding, not a crash
        problems.append(f"{path}: unreadable after {n} samples: {type(e).__name__}: {e}")
    return n, problems


def validate_run(run_dir: str) -> tuple[int, list[str]]:
    """Every shard of the manifest exists with its sha256 and count, and validates."""
    from apache_beam.io.filesystems import FileSystems

    from interleaf.pipeline.manifest import manifest_path, read_json, unbalanced_stages

    manifest = read_json(manifest_path(run_dir))
    problems = [f"stage {s}: in != kept + dropped + errors" for s in unbalanced_stages(manifest["stages"])]
    total = 0
    for info in manifest["shards"]:
        path = posixpath.join(run_dir, "shards", info["name"])
        digest = hashlib.sha256()
        with FileSystems.open(path) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != info["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
        n, found = validate_shard(path)
        total += n
        problems += found
        if n != info["count"]:
            problems.append(f"{path}: {n} samples, manifest says {info['count']}")
    return total, problems


def main(args: argparse.Namespace, extra: list[str]) -> int:
    total, problems = 0, []
    for path in args.paths:
        n, found = validate_shard(path) if path.endswith(".tar") else validate_run(path)
        total += n
        problems += found
    for p in problems:
        print(p)
    print(f"{total} samples checked, {len(problems)} problems")
    return 1 if problems else 0
