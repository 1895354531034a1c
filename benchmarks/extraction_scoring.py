"""Article-text scoring of the article-extraction-benchmark, shared by its test and benchmark.

The method of scrapinghub/article-extraction-benchmark: a page's true positives, false
positives and false negatives are counted over word 4-shingles (with multiplicity) of the
extracted text against the human-labelled ``articleBody``, normalised so every page weighs the
same; precision and recall are means over pages, and F1 is computed from those two means.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "article-extraction-benchmark"
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    words = _WORD.findall(text or "")
    return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)) if words[i : i + n])


def page_counts(true: str, pred: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of one page over shingles, normalised to sum to 1 (all 0 when both are empty)."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]]) -> dict[str, float]:
    """Mean precision, mean recall and their F1 over pages."""

    def ratio(tp: float, other: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return tp / (tp + other) if tp + other else 0.0

    precisions = [ratio(tp, fp, fp, fn) for tp, fp, fn in counts if tp + fp > 0]
    recalls = [ratio(tp, fn, fp, fn) for tp, fp, fn in counts if tp + fn > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def load_pages(data_dir: Path = DATA_DIR) -> list[tuple[str, str, str, str]]:
    """(key, url, decoded html, true articleBody) for every page, in key order."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        raw = gzip.decompress((data_dir / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, truth[key]["url"], raw.decode("utf-8", "replace"), truth[key]["articleBody"]))
    return pages
