"""One configuration object for a run, settable from a YAML file (one section per stage)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from interleaf.filters.config import FilterConfig
from interleaf.schemas.config import build_config

from .dedupe_logic import DedupeConfig
from .download import DownloadConfig
from .extract import ExtractConfig
from .images import ImageConfig
from .inputs import CC_PREFIX
from .shards import ShardConfig


@dataclass
class RunConfig:
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    images: ImageConfig = field(default_factory=ImageConfig)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    # Images not stored in the input are downloaded only when this is on (Common Crawl runs).
    download_images: bool = False
    # Parquet of evaluation-image pHashes (`interleaf hashes`); their near-copies are dropped.
    decontaminate_hashes: str | None = None
    html_base_url: str | None = None  # URL prefix for files of an HTML folder input
    cc_prefix: str = CC_PREFIX  # where relative paths of Common Crawl listings and indexes live
    dropped_sample_rate: float = 1.0  # share of Dropped records written to RUN/dropped (by id hash)

    @classmethod
    def from_yaml(cls, path: str) -> "RunConfig":
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        return build_config(cls, data, "config")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
