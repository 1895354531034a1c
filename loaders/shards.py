"""Reading webdataset shards from anywhere, tolerating damage.

Shard lists: a path or URL, brace-expanded (``shard-{00000..00099}.tar``), a list of them, or a
local directory (its ``*.tar``). Local paths open directly; ``pipe:CMD``, ``http(s)://`` and
``gs://`` go through webdataset's ``gopen`` (curl, gsutil); other schemes (``s3://``...) through
fsspec, with that scheme's fsspec backend installed.
"""

from __future__ import annotations

import tarfile
import warnings
from collections import Counter
from pathlib import Path
from typing import IO, Iterator, Sequence

import braceexpand

_GOPEN_SCHEMES = ("http", "https", "gs")


class SkippedDataWarning(UserWarning):
    """A shard, sample or image the loader skipped; training goes on."""


def expand_urls(shards: str | Sequence[str]) -> list[str]:
    """Every shard URL named by a pattern, a list of patterns or a local directory, in order."""
    patterns = [shards] if isinstance(shards, (str, Path)) else list(shards)
    urls: list[str] = []
    for pattern in patterns:
        pattern = str(pattern)
        if Path(pattern).is_dir():
            urls += sorted(str(p) for p in Path(pattern).glob("*.tar"))
        else:
            urls += braceexpand.braceexpand(pattern)
    if not urls:
        raise ValueError(f"no shards in {shards!r}")
    return urls


def open_shard(url: str) -> IO[bytes]:
    if url.startswith("pipe:"):
        return _gopen(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        return open(url, "rb")
    if scheme == "file":
        return open(url[len("file://"):], "rb")
    if scheme in _GOPEN_SCHEMES:
        return _gopen(url)
    import fsspec

    return fsspec.open(url, "rb").open()


def _gopen(url: str) -> IO[bytes]:
    from webdataset.gopen import gopen

    return gopen(url, "rb")


def split_member(name: str) -> tuple[str, str]:
    """webdataset's rule: the key is the name up to the first dot of its last path component."""
    head, _, base = name.rpartition("/")
    stem, _, suffix = base.partition(".")
    return (f"{head}/{stem}" if head else stem), suffix.lower()


def read_shard(url: str, stats: Counter) -> Iterator[dict[str, bytes | str]]:
    """Samples (``__key__``, ``__url__`` and one entry per member suffix) in tar order. A shard that
    cannot be opened or breaks off is warned about and counted (``unreadable_shard``,
    ``corrupt_shard``); the samples read completely before the damage are kept."""
    try:
        stream = open_shard(url)
    except Exception as e:
        count_skip(stats, "unreadable_shard", f"shard {url}: cannot open: {e}")
        return
    sample: dict[str, bytes | str] | None = None
    count = 0
    try:
        with stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
            for info in tar:
                if not info.isreg():
                    continue
                key, suffix = split_member(info.name)
                data = tar.extractfile(info).read()
                if sample is not None and sample["__key__"] != key:
                    yield sample
                    count += 1
                    sample = None
                if sample is None:
                    sample = {"__key__": key, "__url__": url}
                sample[suffix] = data
                tar.members = []  # streaming: do not keep every header of a large shard
    except Exception as e:  # tarfile.ReadError, OSError from a pipe, EOFError from gzip...
        # The sample in progress may lack members that were never read: drop it too.
        count_skip(stats, "corrupt_shard", f"shard {url}: unreadable after {count} samples: {e!r}")
        return
    if sample is not None:
        yield sample


def count_skip(stats: Counter, reason: str, message: str) -> None:
    """Count a skipped shard, sample or image under ``reason`` and warn with ``message``."""
    stats[reason] += 1
    warnings.warn(message, SkippedDataWarning, stacklevel=3)
