"""The run manifest: per-stage counters from Beam metrics, and the shards written."""

from __future__ import annotations

import json
import posixpath
from typing import Any, Iterable

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from interleaf import __version__
from interleaf.schemas import SCHEMA_VERSION

from .shards import ShardInfo
from .stage import NAMESPACE_PREFIX


def empty_stage() -> dict[str, Any]:
    return {"in": 0, "kept": 0, "errors": 0, "dropped": {}, "nodes_dropped": {}}


def stages_from_counters(counters: Iterable[tuple[str, str, int]], order: Iterable[str]) -> dict[str, dict]:
    """Fold (namespace, name, value) counters into {stage: {in, kept, errors, dropped, nodes_dropped}}.

    Stages are listed in funnel ``order`` first, then any other stage that reported counters; a
    stage that reported nothing (not in this run's graph, or reached by no record) is left out.
    """
    stages: dict[str, dict] = {name: empty_stage() for name in order}
    for namespace, name, value in counters:
        if not namespace.startswith(NAMESPACE_PREFIX):
            continue
        stage = stages.setdefault(namespace[len(NAMESPACE_PREFIX) :], empty_stage())
        if name in ("in", "kept", "errors"):
            stage[name] += value
        elif name.startswith("dropped."):
            reason = name[len("dropped.") :]
            stage["dropped"][reason] = stage["dropped"].get(reason, 0) + value
        elif name.startswith("nodes_dropped."):
            level, reason = name[len("nodes_dropped.") :].split(".", 1)
            by_level = stage["nodes_dropped"].setdefault(level, {})
            by_level[reason] = by_level.get(reason, 0) + value
        else:
            stage.setdefault("other", {})[name] = value
    return {name: _sorted(stage) for name, stage in stages.items() if stage != empty_stage()}


def _sorted(stage: dict) -> dict:
    stage["dropped"] = dict(sorted(stage["dropped"].items()))
    stage["nodes_dropped"] = {k: dict(sorted(v.items())) for k, v in sorted(stage["nodes_dropped"].items())}
    return stage


def merge_stages(many: Iterable[dict[str, dict]]) -> dict[str, dict]:
    """Sum the stage counters of several parts, keeping the funnel order of the first."""
    flat: list[tuple[str, str, int]] = []
    order: list[str] = []
    for stages in many:
        for name, s in stages.items():
            if name not in order:
                order.append(name)
            ns = NAMESPACE_PREFIX + name
            flat += [(ns, key, s[key]) for key in ("in", "kept", "errors")]
            flat += [(ns, f"dropped.{r}", n) for r, n in s["dropped"].items()]
            flat += [(ns, f"nodes_dropped.{lvl}.{r}", n) for lvl, rs in s["nodes_dropped"].items() for r, n in rs.items()]
    return stages_from_counters(flat, order)


def pipeline_counters(result) -> list[tuple[str, str, int]]:
    """(namespace, name, value) of every counter of a finished Beam run."""
    out = []
    for c in result.metrics().query(MetricsFilter())["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        out.append((c.key.metric.namespace, c.key.metric.name, int(value or 0)))
    return out


def unbalanced_stages(stages: dict[str, dict]) -> list[str]:
    """Stages where in != kept + dropped + errors: every one of them is a bug."""
    bad = []
    for name, s in stages.items():
        if s["in"] != s["kept"] + sum(s["dropped"].values()) + s["errors"]:
            bad.append(name)
    return bad


def build_manifest(
    inputs: list[str], options: dict[str, Any], stages: dict[str, dict], shards: list[ShardInfo]
) -> dict[str, Any]:
    shards = sorted(shards, key=lambda s: s.name)
    return {
        "schema_version": SCHEMA_VERSION,
        "interleaf_version": __version__,
        "inputs": inputs,
        "options": options,
        "stages": stages,
        "totals": {
            "documents": sum(s.count for s in shards),
            "images": sum(s.images for s in shards),
            "shards": len(shards),
        },
        "balanced": not unbalanced_stages(stages),
        "shards": [s.to_dict() for s in shards],
    }


def write_json(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with FileSystems.create(tmp) as f:
        f.write(json.dumps(data, indent=2, sort_keys=False).encode())
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def read_json(path: str) -> Any:
    with FileSystems.open(path) as f:
        return json.loads(f.read())


def manifest_path(out_dir: str) -> str:
    return posixpath.join(out_dir, "manifest.json")
