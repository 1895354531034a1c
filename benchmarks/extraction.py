"""Main-content extraction: quality and speed of interleaf against trafilatura and readability-lxml.

Run by hand: ``.venv/bin/python benchmarks/extraction.py [--repeat N]``. On the same 181 real
pages of the article-extraction-benchmark it prints precision, recall and F1 of the article
text (word 4-shingles against the human-labelled articleBody) and pages per second, with the
time of a bare ``lxml.html`` parse of the same text as the floor, and speed ratios measured in
this run (machine load varies; the ratios are what count).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_scoring import load_pages, page_counts, scores  # noqa: E402


def interleaf_text(html: str, url: str) -> str:
    from interleaf.pipeline.extract import extract
    from interleaf.schemas import TextNode

    return "\n\n".join(n.text for n in extract(html, url).nodes if isinstance(n, TextNode))


def trafilatura_text(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def readability_text(html: str, url: str) -> str:
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def lxml_parse(html: str, url: str) -> str:
    import lxml.html

    lxml.html.fromstring(html)
    return ""


def run_all(extractors: dict[str, Callable[[str, str], str]], pages: list, repeat: int) -> dict:
    """name -> (texts of the first pass, best pages/second), passes interleaved across extractors
    so that a change in machine load hits them all alike."""
    texts: dict[str, list[str]] = {}
    speed: dict[str, float] = {}
    for _ in range(repeat):
        for name, fn in extractors.items():
            start = time.perf_counter()
            out = [fn(html, url) for _, url, html, _ in pages]
            speed[name] = max(speed.get(name, 0.0), len(pages) / (time.perf_counter() - start))
            texts.setdefault(name, out)
    return {name: (texts[name], speed[name]) for name in extractors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing passes per extractor (best is kept)")
    args = parser.parse_args()
    pages = load_pages()
    extractors = {
        "lxml.html parse": lxml_parse,
        "interleaf": interleaf_text,
        "trafilatura": trafilatura_text,
        "readability-lxml": readability_text,
    }
    for fn in extractors.values():  # warm up imports and caches outside the timings
        fn(pages[0][2], pages[0][1])
    results = run_all(extractors, pages, args.repeat)
    floor = results.pop("lxml.html parse")[1]
    print(f"{len(pages)} pages; speeds are the best of {args.repeat} interleaved passes in this run\n")
    print(f"{'extractor':<18} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8} {'cost/lxml':>9}")
    print(f"{'lxml.html parse':<18} {'':>9} {'':>7} {'':>6} {floor:8.1f} {1.0:9.2f}")
    for name, (texts, speed) in results.items():
        s = scores([page_counts(truth, text) for (_, _, _, truth), text in zip(pages, texts)])
        print(f"{name:<18} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} {speed:8.1f} {floor / speed:9.2f}")
    ours = results["interleaf"][1]
    for name, (_, speed) in results.items():
        if name != "interleaf":
            print(f"interleaf speed / {name}: {ours / speed:.1f}x")


if __name__ == "__main__":
    main()
