"""One configuration object for a run, settable from a YAML file (one section per stage)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from interleaf.filters.config import FilterConfig

from .dedupe_logic import DedupeConfig
from .download import DownloadConfig
from .extract import ExtractConfig
from .images import ImageConfig
from .inputs import CC_PREFIX
from .shards import ShardConfig


class ConfigError(ValueError):
    pass


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
        return from_dict(cls, data, "config")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a dict, recursing into dataclass fields; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, f"{where}.{key}")
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)
