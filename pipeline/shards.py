"""Deterministic webdataset shards: which shard a document goes to, and writing one shard.

A document's shard is a hash of its id modulo the shard count, and the shard count follows from
the corpus totals and the per-shard target; a shard's documents are written sorted by id, with
fixed tar metadata. So the same input and options give byte-identical shards whatever the
runner, the worker count or a retried bundle. Shards are written to a temporary name and
renamed when complete.
"""

from __future__ import annotations

import hashlib
import io
import math
import posixpath
import tarfile
from dataclasses import asdict, dataclass
from typing import Iterable

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from interleaf.schemas import Document
from interleaf.schemas.arrow import documents_table

SHARD_PATTERN = "shard-{part:05d}-{index:05d}.tar"


@dataclass
class ShardConfig:
    docs_per_shard: int = 1000  # count target
    bytes_per_shard: int = 512 * 1024 * 1024  # size target; the stricter of the two sets the count


@dataclass(frozen=True)
class ShardInfo:
    name: str
    sha256: str
    count: int  # documents
    images: int
    bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def sample_size(doc: Document) -> int:
    """Approximate bytes a document takes in a shard (JSON + image members + tar headers)."""
    images = sum(len(n.data or b"") for n in doc.images)
    return len(doc.to_json().encode()) + images + 512 * (1 + len(doc.images))


def shard_count(n_docs: int, n_bytes: int, config: ShardConfig) -> int:
    if n_docs == 0:
        return 0
    return max(1, math.ceil(n_docs / config.docs_per_shard), math.ceil(n_bytes / config.bytes_per_shard))


def shard_of(doc_id: str, n_shards: int) -> int:
    # Ids are hex digests already; re-hashing keeps this correct for any id string.
    return int(hashlib.sha1(doc_id.encode()).hexdigest()[:15], 16) % n_shards


def sample_members(doc: Document) -> dict[str, bytes]:
    """The webdataset sample of one document: KEY.json plus KEY.<member> per image."""
    sample = {"json": doc.to_json().encode("utf-8")}
    for node in doc.images:
        if node.member is None or node.data is None:
            raise ValueError(f"document {doc.id}: image {node.url} has no member name or bytes")
        sample[node.member] = node.data
    return sample


def write_sample(tar: tarfile.TarFile, key: str, members: dict[str, bytes]) -> None:
    """Append one webdataset sample, members in name order, with fixed metadata (mtime 0, mode
    0444, owner interleaf) so that the same documents always give the same bytes.

    The stdlib's tarfile, not webdataset's TarWriter (a thin wrapper of it): importing webdataset
    imports torch where it is installed, seconds of start-up in every pipeline worker."""
    for name in sorted(members):
        info = tarfile.TarInfo(f"{key}.{name}")
        info.size, info.mtime, info.mode = len(members[name]), 0, 0o444
        info.uname = info.gname = "interleaf"
        tar.addfile(info, io.BytesIO(members[name]))


class _HashingWriter:
    """File-like wrapper that hashes and counts what passes through."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def write_shard(out_dir: str, part: int, index: int, docs: Iterable[Document]) -> ShardInfo:
    """Write one shard (documents sorted by id) atomically, plus its metadata table."""
    ordered = sorted(docs, key=lambda d: d.id)
    name = SHARD_PATTERN.format(part=part, index=index)
    final = posixpath.join(out_dir, "shards", name)
    tmp = final + ".tmp"
    raw = FileSystems.create(tmp)
    hashing = _HashingWriter(raw)
    with tarfile.open(fileobj=hashing, mode="w|") as tar:
        for doc in ordered:
            write_sample(tar, doc.id, sample_members(doc))
    raw.close()
    if FileSystems.exists(final):
        FileSystems.delete([final])  # a retried bundle rewrites the same bytes
    FileSystems.rename([tmp], [final])
    table = documents_table((d, name) for d in ordered)
    with FileSystems.create(posixpath.join(out_dir, "documents", name.replace(".tar", ".parquet"))) as f:
        pq.write_table(table, f)
    n_images = sum(len(d.images) for d in ordered)
    return ShardInfo(name, hashing.sha256.hexdigest(), len(ordered), n_images, hashing.size)
