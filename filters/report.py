"""The funnel of a run and the distributions people look at, as a text table and an HTML page.

Reads ``RUN/manifest.json`` (per-stage counters) and the per-document metadata table
(``RUN/documents/*.parquet`` or ``RUN/documents.parquet``, schema ``schemas/arrow.py``).
The HTML report is one self-contained file: plots are PNGs inlined as base64. matplotlib is
optional; without it the report keeps its tables and says the plots are missing.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("document", "text", "image")


@dataclass
class Distributions:
    """Per-document numbers from the metadata table (empty when the run has no table)."""

    words: list[int] = field(default_factory=list)
    images: list[int] = field(default_factory=list)
    languages: Counter = field(default_factory=Counter)
    image_sizes: list[tuple[int, int]] = field(default_factory=list)  # (width, height)


def read_manifest(run_dir: str) -> dict[str, Any]:
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def read_distributions(run_dir: str) -> Distributions:
    import pyarrow.parquet as pq

    path = os.path.join(run_dir, "documents")
    if not os.path.isdir(path):
        path = os.path.join(run_dir, "documents.parquet")
        if not os.path.exists(path):
            return Distributions()
    table = pq.read_table(path, columns=["n_words", "n_images", "lang", "images"])
    d = Distributions(
        words=[n or 0 for n in table.column("n_words").to_pylist()],
        images=[n or 0 for n in table.column("n_images").to_pylist()],
        languages=Counter(lang or "unknown" for lang in table.column("lang").to_pylist()),
    )
    for images in table.column("images").to_pylist():
        for im in images or ():
            if im and im.get("width") and im.get("height"):
                d.image_sizes.append((im["width"], im["height"]))
    return d


def funnel_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage in funnel order: in, kept, dropped, errors and nodes removed per level."""
    rows = []
    for name, s in manifest.get("stages", {}).items():
        nodes = s.get("nodes_dropped", {})
        rows.append(
            {
                "stage": name,
                "in": s.get("in", 0),
                "kept": s.get("kept", 0),
                "dropped": sum(s.get("dropped", {}).values()),
                "errors": s.get("errors", 0),
                "text_removed": sum(nodes.get("text", {}).values()),
                "images_removed": sum(nodes.get("image", {}).values()),
            }
        )
    return rows


def reason_rows(manifest: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(stage, level, reason, count) for every reason of every stage, largest first within a stage."""
    rows = []
    for name, s in manifest.get("stages", {}).items():
        by_level = {"document": s.get("dropped", {}), **s.get("nodes_dropped", {})}
        stage_rows = [(name, level, reason, n) for level in LEVELS for reason, n in by_level.get(level, {}).items()]
        rows += sorted(stage_rows, key=lambda r: (-r[3], r[1], r[2]))
    return rows


def _table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    """Aligned plain-text table; the first ``left`` columns are names, the rest numbers."""
    cells = [header] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def format_funnel(manifest: dict[str, Any]) -> str:
    """The funnel and the drop reasons as plain-text tables."""
    # No cumulative column: stages count different records (read counts pages and image records).
    stages = _table(
        ["stage", "in", "kept", "dropped", "errors", "kept/in", "text removed", "images removed"],
        [
            [r["stage"], r["in"], r["kept"], r["dropped"], r["errors"], _pct(r["kept"], r["in"]),
             r["text_removed"], r["images_removed"]]
            for r in funnel_rows(manifest)
        ],
    )  # fmt: skip
    reasons = _table(["stage", "level", "reason", "count"], [list(r) for r in reason_rows(manifest)], left=3)
    totals = manifest.get("totals", {})
    head = (
        f"{totals.get('documents', 0):,} documents, {totals.get('images', 0):,} images"
        f" in {totals.get('shards', 0):,} shards"
    )
    if manifest.get("balanced") is False:
        head += "  (WARNING: some stage's in != kept + dropped + errors)"
    return f"{head}\n\n{stages}\n\ndropped and removed, by reason\n\n{reasons}\n"


def _plots(manifest: dict[str, Any], dist: Distributions) -> list[tuple[str, str]]:
    """(title, base64 PNG) per plot; empty without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []

    out: list[tuple[str, str]] = []

    def save(fig, title: str) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        out.append((title, base64.b64encode(buf.getvalue()).decode("ascii")))

    funnel = funnel_rows(manifest)
    if funnel:
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(funnel)))
        names = [r["stage"] for r in funnel][::-1]
        ax.barh(names, [r["in"] for r in funnel][::-1], color="#ddd", label="in")
        ax.barh(names, [r["kept"] for r in funnel][::-1], color="#3a7", label="kept")
        ax.set_xlabel("records")
        ax.legend(loc="lower right")
        save(fig, "Funnel: records in and kept per stage")
    if dist.words:
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.hist(dist.words, bins=40, color="#37a")
        ax.set_xlabel("words per document")
        ax.set_ylabel("documents")
        save(fig, "Words per document")
    if dist.images:
        fig, ax = plt.subplots(figsize=(7, 3))
        counts = Counter(dist.images)
        ax.bar(list(counts), list(counts.values()), color="#a73")
        ax.set_xlabel("images per document")
        ax.set_ylabel("documents")
        save(fig, "Images per document")
    if dist.languages:
        top = dist.languages.most_common(20)
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.bar([k for k, _ in top], [v for _, v in top], color="#73a")
        ax.set_ylabel("documents")
        save(fig, "Languages (top 20)")
    if dist.image_sizes:
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.scatter([w for w, _ in dist.image_sizes], [h for _, h in dist.image_sizes], s=4, alpha=0.4)
        ax.set_xlabel("width (px)")
        ax.set_ylabel("height (px)")
        save(fig, "Image sizes (after normalisation)")
    return out


def render_html(manifest: dict[str, Any], dist: Distributions, title: str = "interleaf run") -> str:
    """A single self-contained HTML page: funnel tables, reasons, plots."""
    plots = _plots(manifest, dist)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{background:#f6f6f6;padding:1em;"
        "overflow-x:auto}img{max-width:100%}figure{margin:1.5em 0}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Funnel</h2>",
        f"<pre>{html.escape(format_funnel(manifest))}</pre>",
    ]
    if dist.words:
        n = len(dist.words)
        parts.append(
            f"<p>{n:,} documents in the metadata table; median {sorted(dist.words)[n // 2]:,} words and "
            f"{sorted(dist.images)[n // 2]} images per document; {len(dist.image_sizes):,} images with a size.</p>"
        )
    if plots:
        parts.append("<h2>Distributions</h2>")
        parts += [f"<figure><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'><figcaption>{html.escape(t)}"
                  "</figcaption></figure>" for t, b in plots]  # fmt: skip
    else:
        parts.append("<p><em>Plots omitted: matplotlib is not installed (pip install matplotlib).</em></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
