"""Evaluation-image hashes for decontamination: compute them from a folder, store them as Parquet.

``interleaf hashes IMAGES_DIR -o hashes.parquet`` writes one row per readable image (path,
sha1, phash, phash_mirror); ``load_eval_hashes`` reads it back for ``dedupe.Decontaminate``.
The mirror's hash is stored too, so a training image that is a mirrored copy is also found.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Iterable, Iterator

import imagehash
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from PIL import Image, ImageOps, UnidentifiedImageError

from .dedupe_logic import EvalHashes
from .images import to_rgb

HASHES_SCHEMA = pa.schema(
    [("path", pa.string()), ("sha1", pa.string()), ("phash", pa.string()), ("phash_mirror", pa.string())]
)


def image_hashes(data: bytes) -> tuple[str, str]:
    """(pHash, pHash of the mirror) of encoded image bytes, on the same RGB pixels the pipeline hashes."""
    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im)
        rgb = to_rgb(im)
        return str(imagehash.phash(rgb)), str(imagehash.phash(ImageOps.mirror(rgb)))


def iter_image_files(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(root, name)


def hash_images(paths: Iterable[str]) -> tuple[pa.Table, list[tuple[str, str]]]:
    """A HASHES_SCHEMA table of the readable images, and (path, reason) for the files skipped."""
    rows: dict[str, list[str]] = {name: [] for name in HASHES_SCHEMA.names}
    skipped = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        try:
            phash, mirror = image_hashes(data)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            skipped.append((path, f"{type(e).__name__}: {e}"))
            continue
        for name, value in zip(HASHES_SCHEMA.names, (path, hashlib.sha1(data).hexdigest(), phash, mirror)):
            rows[name].append(value)
    return pa.table(rows, schema=HASHES_SCHEMA), skipped


def write_hashes(table: pa.Table, path: str) -> None:
    with FileSystems.create(path) as f:
        pq.write_table(table, f)


def load_eval_hashes(path: str, mirrored: bool = True) -> EvalHashes:
    """The evaluation pHashes of a hashes Parquet file (with their mirrors' unless ``mirrored`` is False)."""
    with FileSystems.open(path) as f:
        table = pq.read_table(pa.BufferReader(f.read()))
    hashes = table.column("phash").to_pylist()
    if mirrored:
        hashes += table.column("phash_mirror").to_pylist()
    return EvalHashes(hashes)
