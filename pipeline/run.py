"""The pipeline: input files -> documents -> images -> shards, with every record accounted for.

    files ─► read ─► extract ─► dedupe_documents ─► images (stored or downloaded)
          ─► near_dup_documents ─► repeated_paragraphs ─► dedupe_images ─► decontaminate
          ─► filter ─► shards + manifest
    every stage ─► dropped / errors

The stages from dedupe_documents to filter decide on small facts and meet the documents once
(pipeline/document_stages.py).

``build_pipeline`` wires the graph of one part; ``run`` splits the inputs into parts (see
pipeline/parts.py), runs the parts not yet complete, and writes the run's manifest.
"""

from __future__ import annotations

import functools
import json
import posixpath
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from .config import RunConfig
from .document_stages import DocumentStages
from .documents import page_to_document
from .manifest import (
    build_manifest,
    manifest_path,
    merge_stages,
    pipeline_counters,
    stages_from_counters,
    write_json,
)
from .parts import completed_part, fingerprint, part_manifest_path, split_parts
from .inputs import InputFile, expand_inputs, is_record_list
from .read import ReadInputs
from .shards import ShardInfo
from .stage import Stage
from .transforms import WriteRecords, WriteShards, record_lines

# Funnel order of the stages in the manifest.
STAGES = (
    "inputs",
    "read",
    "extract",
    "dedupe_documents",
    "image_records",
    "download",
    "images",
    "near_dup_documents",
    "repeated_paragraphs",
    "dedupe_images",
    "decontaminate",
    "filter",
)
OUTPUT_FOLDERS = ("shards", "documents", "dropped", "errors", "_work")
# The DirectRunner's own engine for batch pipelines, named directly: Beam's DirectRunner first
# tries its Prism runner, which downloads a binary from GitHub at every run (offline it fails
# after the attempt; online the job runs on Prism, where the direct_* options do not apply).
LOCAL_RUNNER = "FnApiRunner"


@dataclass
class RunResult:
    manifest: dict
    out_dir: str
    parts_run: list[int]  # parts this call ran; the others were already complete


def build_pipeline(
    p: beam.Pipeline, files: list[InputFile], out_dir: str, part: int, config: RunConfig, num_parts: int = 1
) -> None:
    """The graph of one part: ``files`` are its own files plus every listing and index, whose
    rows the workers filter down to the part's."""
    read = ReadInputs(part, num_parts, config.cc_prefix, config.html_base_url)
    pages, stored_images, *read_out = p | "Files" >> beam.Create(files, reshuffle=False) | "Read" >> read
    docs, *extract_out = pages | "Extract" >> Stage("extract", functools.partial(page_to_document, config=config.extract))
    docs, *stages_out = (docs, stored_images) | "Documents" >> DocumentStages(config)
    outs = [read_out, extract_out, stages_out]

    shard_infos = docs | "Shards" >> WriteShards(out_dir, part, config.shards)
    # One Flatten of every record for the run folder: each one it passes is materialised once.
    records = [shard_infos] + [pcoll for out in outs for pcoll in out]
    (
        records
        | "AllRecords" >> beam.Flatten()
        | "Lines" >> beam.FlatMap(record_lines, config.dropped_sample_rate)
        | "WriteRecords" >> WriteRecords(out_dir, part)
    )


def _match(pattern: str) -> list[str]:
    return [m.path for m in FileSystems.match([pattern])[0].metadata_list]


def clear_part(out_dir: str, part: int) -> None:
    """Remove what an interrupted attempt at this part left, so a rerun cannot mix attempts."""
    # Output files are named NAME-PART-INDEX.EXT; the pattern must not catch another part's INDEX.
    stale = [path for folder in OUTPUT_FOLDERS for path in _match(posixpath.join(out_dir, folder, f"*-{part:05d}-*"))]
    if stale:
        FileSystems.delete(stale)


def run_part(
    part: int,
    num_parts: int,
    files: list[InputFile],
    out_dir: str,
    config: RunConfig,
    options: PipelineOptions,
    fp: str,
) -> dict:
    clear_part(out_dir, part)
    if files:
        p = beam.Pipeline(options=options)
        build_pipeline(p, files, out_dir, part, config, num_parts)
        result = p.run()
        result.wait_until_finish()
        counters = pipeline_counters(result)
    else:
        counters = []
    infos = []
    for path in _match(posixpath.join(out_dir, "_work", f"_work-{part:05d}*")):
        with FileSystems.open(path) as f:
            infos += [ShardInfo(**json.loads(line)) for line in f.read().decode().splitlines() if line.strip()]
        FileSystems.delete([path])
    manifest = build_manifest(
        inputs=[f.key for f in files],
        options={"config": config.to_dict()},
        stages=stages_from_counters(counters, STAGES),
        shards=infos,
    )
    manifest["fingerprint"] = fp
    write_json(part_manifest_path(out_dir, part), manifest)  # written last: the completion marker
    return manifest


def run(
    inputs: list[str],
    out_dir: str,
    config: RunConfig,
    beam_args: list[str] | None = None,
    num_parts: int = 1,
    parallel_parts: int = 1,
) -> RunResult:
    """Run every part not yet complete, ``parallel_parts`` at a time (each its own Beam job: on
    Dataflow or Flink several jobs share the cluster instead of waiting for one another)."""
    options = PipelineOptions(beam_args or [])
    standard = options.view_as(StandardOptions)
    if standard.runner is None or str(standard.runner).split(".")[-1].lower() in ("direct", "directrunner"):
        standard.runner = LOCAL_RUNNER
    files = expand_inputs(inputs)
    lists = [f for f in files if is_record_list(f.path)]  # every part reads them, keeping its rows
    fp = fingerprint({"config": config.to_dict(), "num_parts": num_parts})
    parts = split_parts([f for f in files if f not in lists], num_parts)
    manifests = [completed_part(out_dir, part, fp) for part in range(num_parts)]  # a mismatch stops here
    ran = [part for part, done in enumerate(manifests) if done is None]
    # Parts run in pool threads even one at a time: a Ctrl-C in the thread that runs Beam's
    # FnApiRunner leaves it hung, while here the part under way finishes and the run then stops.
    with ThreadPoolExecutor(max_workers=max(1, parallel_parts)) as pool:
        jobs = {
            part: pool.submit(run_part, part, num_parts, parts[part] + lists, out_dir, config, options, fp)
            for part in ran
        }
        # After a failure no new part starts; those running finish (and stay complete for a rerun).
        for job in wait(jobs.values(), return_when=FIRST_EXCEPTION).not_done:
            job.cancel()
    for part, job in jobs.items():
        if not job.cancelled():
            manifests[part] = job.result()  # the first failed part raises here
    manifest = build_manifest(
        inputs=[f.key for f in files],
        options={
            "config": config.to_dict(),
            "num_parts": num_parts,
            "runner": str(options.view_as(StandardOptions).runner),
        },
        stages=merge_stages(m["stages"] for m in manifests),
        shards=[ShardInfo(**s) for m in manifests for s in m["shards"]],
    )
    write_json(manifest_path(out_dir), manifest)
    work = posixpath.join(out_dir, "_work")
    if FileSystems.exists(work) and not _match(posixpath.join(work, "*")):
        FileSystems.delete([work])  # the empty local folder; object stores have none
    return RunResult(manifest, out_dir, ran)
