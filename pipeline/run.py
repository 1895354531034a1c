"""The pipeline: input files -> documents -> images -> shards, with every record accounted for.

    files ─► read ─► extract ─► images ─► shards + manifest
                 └──────── dropped / errors ──────┘

``build_pipeline`` wires the graph; ``run`` executes it and writes the manifest.
"""

from __future__ import annotations

import functools
import json
import posixpath
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from .config import RunConfig
from .documents import page_to_document
from .manifest import build_manifest, manifest_path, pipeline_counters, stages_from_counters, write_json
from .read import ReadInputs, expand_inputs
from .shards import ShardInfo
from .transforms import AttachImages, WriteJsonl, WriteShards, keep_sample
from .stage import Stage

# Funnel order of the stages in the manifest.
STAGES = ("read", "extract", "image_records", "images")


@dataclass
class RunResult:
    manifest: dict
    out_dir: str


def build_pipeline(p: beam.Pipeline, files: list[tuple[str, str]], out_dir: str, config: RunConfig) -> None:
    pages, stored_images, read_dropped, read_errors = (
        p | "Files" >> beam.Create(files) | "Read" >> ReadInputs(config.html_base_url)
    )
    docs, extract_dropped, extract_errors = pages | "Extract" >> Stage(
        "extract", functools.partial(page_to_document, config=config.extract)
    )
    docs, image_dropped, image_errors = (docs, stored_images) | "Images" >> AttachImages(config.images)

    shard_infos = docs | "Shards" >> WriteShards(out_dir, config.shards)
    # Shard infos go through a file: the manifest is assembled by the driver after the run.
    (
        shard_infos
        | "ShardInfoJson" >> beam.Map(lambda s: json.dumps(s.to_dict(), sort_keys=True))
        | "WriteShardInfo" >> beam.io.WriteToText(posixpath.join(out_dir, "_work", "shards"), file_name_suffix=".jsonl")
    )
    rate = config.dropped_sample_rate
    (
        (read_dropped, extract_dropped, image_dropped)
        | "AllDropped" >> beam.Flatten()
        | "Sample" >> beam.Filter(keep_sample, rate)
        | "WriteDropped" >> WriteJsonl(out_dir, "dropped")
    )
    (read_errors, extract_errors, image_errors) | "AllErrors" >> beam.Flatten() | "WriteErrors" >> WriteJsonl(
        out_dir, "errors"
    )


def _read_shard_infos(out_dir: str) -> list[ShardInfo]:
    infos = []
    for m in FileSystems.match([posixpath.join(out_dir, "_work", "shards*.jsonl")])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            infos += [ShardInfo(**json.loads(line)) for line in f.read().decode().splitlines() if line.strip()]
    return infos


def _delete_tree(path: str) -> None:
    matched = FileSystems.match([posixpath.join(path, "**")])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])
    if FileSystems.exists(path):  # a local folder; object stores have no empty folders left
        FileSystems.delete([path])


def clear_outputs(out_dir: str) -> None:
    """Remove a previous run's outputs so a rerun cannot mix old and new shards."""
    for sub in ("shards", "documents", "dropped", "errors", "_work"):
        _delete_tree(posixpath.join(out_dir, sub))


def run(inputs: list[str], out_dir: str, config: RunConfig, beam_args: list[str] | None = None) -> RunResult:
    options = PipelineOptions(beam_args or [])
    if not options.view_as(StandardOptions).runner:
        # The default must be explicit: Beam's Prism runner downloads a binary and fails offline.
        options.view_as(StandardOptions).runner = "DirectRunner"
    files = expand_inputs(inputs)
    clear_outputs(out_dir)
    p = beam.Pipeline(options=options)
    build_pipeline(p, files, out_dir, config)
    result = p.run()
    result.wait_until_finish()
    stages = stages_from_counters(pipeline_counters(result), STAGES)
    manifest = build_manifest(
        inputs=[path for path, _ in files],
        options={"config": config.to_dict(), "runner": str(options.view_as(StandardOptions).runner)},
        stages=stages,
        shards=_read_shard_infos(out_dir),
    )
    write_json(manifest_path(out_dir), manifest)
    _delete_tree(posixpath.join(out_dir, "_work"))
    return RunResult(manifest, out_dir)
