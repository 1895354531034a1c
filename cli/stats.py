"""`interleaf stats RUN_DIR`: the funnel of a run as a table, and an HTML report with plots."""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="print a run's funnel and write an HTML report with distributions")
    p.add_argument("run_dir", help="a run folder (holds manifest.json)")
    p.add_argument("--html", metavar="PATH", help="where to write the report (default RUN_DIR/report.html)")
    p.add_argument("--no-html", action="store_true", help="only print the table")
    p.set_defaults(func=main)


def main(args: argparse.Namespace, extra: list[str]) -> int:
    from interleaf.filters.report import format_funnel, read_distributions, read_manifest, render_html

    try:
        manifest = read_manifest(args.run_dir)
    except FileNotFoundError:
        print(f"interleaf stats: no manifest.json in {args.run_dir}")
        return 1
    print(format_funnel(manifest), end="")
    if not args.no_html:
        path = args.html or os.path.join(args.run_dir, "report.html")
        page = render_html(manifest, read_distributions(args.run_dir), title=f"interleaf run {os.path.abspath(args.run_dir)}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
        print(f"\nreport: {path}")
    return 0
