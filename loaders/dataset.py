"""Streaming shards into batches: shard shuffling, a sample shuffle buffer, splitting by rank and
DataLoader worker, deterministic order, and mid-epoch resume.

Each (rank, worker) pair is one *stream* g of ``world_size * num_workers``. Streams read disjoint
shards (or, with fewer shards than streams, every shard but disjoint samples), so no sample is
seen twice in an epoch. Everything random derives from ``seed``, the epoch and g or the sample
key, so a stream replays exactly: resuming skips the first n raw samples of each stream (reading,
not decoding, them) where n is what the training loop had consumed.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from interleaf.schemas import Document, SchemaError

from .collate import collate
from .config import LoaderConfig
from .sequence import build_sample
from .shards import count_skip, expand_urls, read_shard
from .tokenizer import InterleafTokenizer

# (stream, raw samples consumed, skip counters), in every batch and alone at a stream's end when
# samples were skipped after its last batch; InterleafLoader removes it.
STATE_KEY = "_stream_state"


def resolve_rank(config: LoaderConfig) -> tuple[int, int]:
    if config.rank is not None:
        return config.rank, config.world_size or 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def shuffle_buffer(samples: Iterator[Any], size: int, rng: random.Random) -> Iterator[Any]:
    """webdataset-style shuffle: hold ``size`` samples, emit a random one as each new one arrives."""
    if size <= 1:
        yield from samples
        return
    buffer: list[Any] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        i = rng.randrange(size)
        buffer[i], sample = sample, buffer[i]
        yield sample
    rng.shuffle(buffer)
    yield from buffer


def sample_from_members(raw: dict[str, Any], tok: InterleafTokenizer, config: LoaderConfig,
                        rng: random.Random) -> dict[str, Any]:
    """A shard sample (``json`` plus one member per image) -> ``build_sample``'s output."""
    doc = Document.from_json(raw["json"])
    images = [raw.get(node.member) if node.member else None for node in doc.images]
    return build_sample(doc, images, tok, config, rng)


class InterleafDataset(IterableDataset):
    """Yields collated batches (the batch contract plus ``keys`` and an internal stream state).
    Use ``make_dataloader``, whose loader tracks the state for ``state_dict()``."""

    def __init__(self, shards: str | Sequence[str], tokenizer: InterleafTokenizer, config: LoaderConfig) -> None:
        self.urls = expand_urls(shards)
        self.tokenizer = tokenizer
        self.config = config
        self.rank, self.world_size = resolve_rank(config)
        self.epoch = 0
        self.resume: dict[int, tuple[int, dict[str, int]]] = {}  # stream -> (consumed, counters)
        self.worker_offset = 0  # DataLoader worker i runs stream i + offset (see InterleafLoader)

    def stream_shards(self, g: int, total: int) -> tuple[list[str], bool]:
        """This stream's shards and whether it must also split them by sample."""
        urls = list(self.urls)
        if self.config.shuffle_shards:
            random.Random(f"{self.config.seed}:{self.epoch}").shuffle(urls)  # same order on every rank
        if len(urls) >= total:
            return urls[g::total], False
        return urls, True

    def raw_samples(self, g: int, total: int, stats: Counter) -> Iterator[dict[str, Any]]:
        urls, by_sample = self.stream_shards(g, total)
        i = 0
        for url in urls:
            for raw in read_shard(url, stats):
                if not by_sample or i % total == g:
                    yield raw
                i += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, (info.id + self.worker_offset) % info.num_workers) if info else (1, 0)
        g, total = self.rank * workers + worker, self.world_size * workers
        consumed, counters = self.resume.get(g, (0, {}))
        stats: Counter[str] = Counter()
        cfg = self.config
        stream = shuffle_buffer(self.raw_samples(g, total, stats), cfg.shuffle_buffer,
                                random.Random(f"{cfg.seed}:{self.epoch}:{g}"))
        batch: list[dict[str, Any]] = []
        n, reported = 0, {}
        for n, raw in enumerate(stream, start=1):
            if n <= consumed:
                if n == consumed:  # the replay has re-read exactly what the saved counters cover
                    stats.clear()
                    stats.update(counters)
                continue
            sample = self.build(raw, stats)
            if sample is not None:
                batch.append(sample)
            if len(batch) == cfg.batch_size:
                reported = dict(stats)
                yield self.collate(batch, (g, n, reported))
                batch = []
        if batch and not cfg.drop_last:
            yield self.collate(batch, (g, n, dict(stats)))
        elif dict(stats) != reported:  # skips after the last batch still reach the loader's counters
            yield {STATE_KEY: (g, n, dict(stats))}

    def build(self, raw: dict[str, Any], stats: Counter) -> dict[str, Any] | None:
        where = f"sample {raw['__key__']} of {raw['__url__']}"
        if "json" not in raw:
            count_skip(stats, "no_document", f"{where}: no .json member")
            return None
        rng = random.Random(f"{self.config.seed}:{self.epoch}:{raw['__key__']}")
        try:
            sample = sample_from_members(raw, self.tokenizer, self.config, rng)
        except SchemaError as e:
            count_skip(stats, "bad_document", f"{where}: {e}")
            return None
        except Exception as e:  # a bad sample must never stop training; it is counted and named
            count_skip(stats, "sample_error", f"{where}: {e!r}")
            return None
        stats.update(sample.pop("skipped"))
        return sample

    def collate(self, samples: list[dict[str, Any]], state: tuple[int, int, dict[str, int]]) -> dict[str, Any]:
        cfg = self.config
        fixed = cfg.fixed_shapes
        batch = collate(samples, self.tokenizer.pad_id, cfg, cfg.max_tokens if fixed else None,
                        cfg.max_images if fixed else None)
        batch[STATE_KEY] = state
        return batch


class InterleafLoader:
    """Iterates batches through a torch DataLoader (decoding in its workers) and keeps what a
    checkpoint needs to resume mid-epoch. Iterating again after a break continues where the
    consumer stopped; a completed pass moves to the next epoch."""

    def __init__(self, dataset: InterleafDataset, num_workers: int = 0, pin_memory: bool = False,
                 prefetch_factor: int | None = None) -> None:
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.epoch = 0
        self.received = 0  # items (batches, final counters) taken from the DataLoader this epoch
        self.consumed: dict[int, int] = {}
        self.counters: dict[int, dict[str, int]] = {}
        self.totals: Counter[str] = Counter()  # skip counters of completed epochs

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.dataset.epoch = self.epoch
        self.dataset.resume = {g: (n, self.counters.get(g, {})) for g, n in self.consumed.items()}
        # The DataLoader asks its workers for batches in turn, from worker 0: rotating which stream
        # each worker runs makes a resumed epoch continue in the very order it had (exactly so
        # while no worker has run dry; the same samples in any case).
        self.dataset.worker_offset = self.received % max(1, self.num_workers)
        loader = DataLoader(self.dataset, batch_size=None, num_workers=self.num_workers,
                            pin_memory=self.pin_memory, prefetch_factor=self.prefetch_factor)
        for batch in loader:
            g, n, counters = batch.pop(STATE_KEY)
            self.consumed[g], self.counters[g] = int(n), counters
            self.received += 1
            if batch:  # empty: a stream's final counters, no samples
                yield batch
        self.totals.update(self.epoch_stats())
        self.epoch += 1
        self.received, self.consumed, self.counters = 0, {}, {}

    def epoch_stats(self) -> Counter[str]:
        """Shards, samples and images skipped so far this epoch, by reason."""
        out: Counter[str] = Counter()
        for counters in self.counters.values():
            out.update(counters)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "num_workers": self.num_workers, "world_size": self.dataset.world_size,
                "seed": self.dataset.config.seed, "received": self.received, "consumed": dict(self.consumed),
                "counters": dict(self.counters), "totals": dict(self.totals)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = (max(1, self.num_workers), self.dataset.world_size, self.dataset.config.seed)
        saved = (max(1, state["num_workers"]), state["world_size"], state["seed"])
        if mine != saved:
            raise ValueError(f"resume needs the same (workers, world size, seed): saved {saved}, now {mine}")
        self.epoch, self.received = state["epoch"], state["received"]
        self.consumed = {int(g): n for g, n in state["consumed"].items()}
        self.counters = {int(g): dict(c) for g, c in state["counters"].items()}
        self.totals = Counter(state["totals"])


def make_dataloader(shards: str | Sequence[str], tokenizer: InterleafTokenizer, config: LoaderConfig | None = None,
                    num_workers: int = 0, pin_memory: bool | None = None) -> InterleafLoader:
    """The training loader: ``for batch in make_dataloader(...)`` gives batch-contract dicts."""
    dataset = InterleafDataset(shards, tokenizer, config or LoaderConfig())
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    return InterleafLoader(dataset, num_workers, pin_memory, prefetch_factor=2 if num_workers else None)
