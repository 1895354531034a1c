"""Splitting a run into independent parts, so that a killed run resumes where it stopped.

Input files go to a part by a stable hash of their path. Each part is one pipeline run whose
outputs carry the part number in their names; its manifest ``RUN/parts/part-NNNNN.json`` is
written last (atomically), and is the part's completion marker. A rerun skips complete parts and
clears, then redoes, incomplete ones. Because each part's output is deterministic, the final
shards are the same whether the run went through in one go or was killed and resumed.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any

from apache_beam.io.filesystems import FileSystems

from .inputs import InputFile

PART_MANIFEST = "part-{:05d}.json"


class ResumeMismatch(RuntimeError):
    """The run folder holds parts made with other options or another part count."""


def part_of(path: str, num_parts: int) -> int:
    return int(hashlib.sha1(path.encode()).hexdigest()[:15], 16) % num_parts


def split_parts(files: list[InputFile], num_parts: int) -> list[list[InputFile]]:
    parts: list[list[InputFile]] = [[] for _ in range(num_parts)]
    for f in files:
        parts[part_of(f.key, num_parts)].append(f)
    return parts


def fingerprint(options: dict[str, Any]) -> str:
    """Hash of what decides a part's output: the config and the part count (not the runner)."""
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]


def part_manifest_path(out_dir: str, part: int) -> str:
    return posixpath.join(out_dir, "parts", PART_MANIFEST.format(part))


def completed_part(out_dir: str, part: int, expected_fingerprint: str) -> dict | None:
    """The part's manifest if the part finished with the same options, else None."""
    path = part_manifest_path(out_dir, part)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        manifest = json.loads(f.read())
    if manifest.get("fingerprint") != expected_fingerprint:
        raise ResumeMismatch(
            f"{path} was made with other options (fingerprint {manifest.get('fingerprint')} != "
            f"{expected_fingerprint}); use a new output folder or remove {out_dir}"
        )
    return manifest
