"""`interleaf run`: the pipeline, from input files to shards and a manifest."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the pipeline: WARC/HTML inputs -> webdataset shards + manifest",
        description="Run the pipeline. Flags this command does not know (--runner, --project, "
        "--direct_running_mode, ...) are passed to Beam's PipelineOptions; the runner defaults to DirectRunner "
        "(Beam's FnApiRunner, its engine for batch jobs, never its download of Prism).",
    )
    p.add_argument("--input", "-i", action="append", required=True, help="WARC/HTML file, glob or folder (repeatable)")
    p.add_argument("--output", "-o", required=True, help="run folder (local, gs://, s3://)")
    p.add_argument("--config", help="YAML file with one section per stage (see README)")
    p.add_argument("--docs-per-shard", type=int, help="count target per shard")
    p.add_argument("--html-base-url", help="URL prefix for files of an HTML folder input")
    p.add_argument("--num-parts", type=int, default=1,
                   help="split the inputs into N parts, each its own Beam job; a rerun skips complete parts")
    p.add_argument("--parallel-parts", type=int, default=1,
                   help="parts running at once (on Dataflow, Flink or Spark: jobs sharing the cluster)")
    p.set_defaults(func=main, accepts_extra=True)


def format_summary(manifest: dict) -> str:
    stages = manifest["stages"]
    lines = [f"{'stage':<22}{'in':>8}{'kept':>8}{'dropped':>9}{'errors':>8}  top reasons"]
    for name, s in stages.items():
        dropped = sum(s["dropped"].values())
        reasons = sorted(s["dropped"].items(), key=lambda kv: -kv[1])[:3]
        nodes = [(f"{lvl}:{r}", n) for lvl, rs in s["nodes_dropped"].items() for r, n in rs.items()]
        top = ", ".join(f"{r} {n}" for r, n in reasons + sorted(nodes, key=lambda kv: -kv[1])[:3])
        lines.append(f"{name:<22}{s['in']:>8}{s['kept']:>8}{dropped:>9}{s['errors']:>8}  {top}")
    t = manifest["totals"]
    lines.append(f"documents kept: {t['documents']}   images kept: {t['images']}   shards written: {t['shards']}")
    if not manifest.get("balanced", True):
        lines.append("WARNING: a stage's in != kept + dropped + errors (see manifest.json)")
    return "\n".join(lines)


def main(args: argparse.Namespace, beam_args: list[str]) -> int:
    from interleaf.pipeline.config import RunConfig
    from interleaf.pipeline.run import run

    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    if args.docs_per_shard:
        config.shards.docs_per_shard = args.docs_per_shard
    if args.html_base_url:
        config.html_base_url = args.html_base_url
    result = run(args.input, args.output, config, beam_args, args.num_parts, args.parallel_parts)
    print(format_summary(result.manifest))
    if len(result.parts_run) < args.num_parts:
        print(f"resumed: ran parts {result.parts_run}, the other parts were already complete")
    print(f"output: {result.out_dir}/shards  manifest: {result.out_dir}/manifest.json")
    return 0 if result.manifest.get("balanced", True) else 1
