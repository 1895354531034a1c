"""Text filters on the 181 real pages of the article-extraction-benchmark.

Run by hand: ``.venv/bin/python benchmarks/filters.py [--config filters.yaml]``. The pages are
articles in several languages and many have no image, so the text filters alone are measured with
``--all-languages --ignore-images``; without those flags the allow-list and image bounds drop
pages too (by design, not wrongly).

1. Wrongly removed article text. Every page is a real article, so every word of its human-labelled
   ``articleBody`` that extraction found and the filters then removed is a wrong removal. Measured
   over word 4-shingles (the extraction benchmark's unit), each paragraph shingled on its own:
   the share of the true shingles present in the extracted paragraphs that are gone after
   filtering, summed over pages, split into what paragraph filters removed and what
   whole-document drops removed.
2. Cost: filter time against extraction time of the same pages, in the same run (the ratio is
   what counts; the machine's load varies).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_scoring import load_pages, shingles  # noqa: E402

from interleaf.filters.config import FilterConfig  # noqa: E402
from interleaf.filters.document import filter_document  # noqa: E402
from interleaf.pipeline.extract import extract  # noqa: E402
from interleaf.schemas import Document, Source, document_id  # noqa: E402


def true_hits(truth: Counter, paragraphs: list[str]) -> int:
    """True shingles found in ``paragraphs``, each shingled on its own: removing a paragraph then
    costs the shingles inside it, not the ones that straddle it and its kept neighbours (which
    would charge a removed two-word heading for eight words)."""
    found: Counter = Counter()
    for text in paragraphs:
        found.update(shingles(text))
    return sum((truth & found).values())


def timed(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", help="FilterConfig YAML (default: the built-in defaults)")
    ap.add_argument("--all-languages", action="store_true", help='languages ["*"]: keep and label every language')
    ap.add_argument("--ignore-images", action="store_true", help="turn the images-per-document bounds off")
    ap.add_argument("--repeat", type=int, default=3, help="time each phase this many times, keep the best")
    ap.add_argument("--show", type=int, default=0, help="print this many removed true paragraphs")
    args = ap.parse_args()
    config = FilterConfig.from_yaml(args.config) if args.config else FilterConfig()
    if args.all_languages:
        config.languages = ["*"]
    if args.ignore_images:
        config.document.min_images = config.document.max_images = None

    pages = load_pages()

    def extract_all() -> list[Document]:
        docs = []
        for _, url, html, _ in pages:
            ex = extract(html, url)
            docs.append(Document(document_id(url), url, Source("html"), ex.nodes, meta={"title": ex.title}))
        return docs

    # CPU time, best of --repeat, the two phases alternating so that a burst of load elsewhere on
    # the machine does not fall on one of them only.
    t_extract = t_filter = float("inf")
    for _ in range(args.repeat):
        t, docs = timed(extract_all)
        t_extract = min(t_extract, t)
        t, results = timed(lambda: [filter_document(doc, config) for doc in docs])
        t_filter = min(t_filter, t)

    before = removed_par = removed_doc = short_words = 0
    doc_reasons, par_reasons, lost_by_reason = Counter(), Counter(), Counter()
    shown = 0
    for (_, url, _, body), doc, result in zip(pages, docs, results):
        truth = shingles(body)
        hits = true_hits(truth, [t.text for t in doc.texts])
        before += hits
        if result.doc is None:
            removed_doc += hits
            doc_reasons[result.drops[0].reason] += 1
            lost_by_reason["document/" + result.drops[0].reason] += hits
            continue
        removed_par += hits - true_hits(truth, [t.text for t in result.doc.texts])
        for d in result.drops:
            par_reasons[d.reason] += 1
            if len(d.sample.split()) < 4:
                short_words += len(d.sample.split())
            # Approximate: a Dropped record carries the paragraph's first 500 characters only.
            lost_by_reason["paragraph/" + d.reason] += true_hits(truth, [d.sample])
            if shown < args.show and true_hits(truth, [d.sample]) > 0:
                shown += 1
                print(f"[{d.reason}] {d.detail}: {d.sample[:200]!r}")

    n = len(pages)
    n_words = sum(len(d.text().split()) for d in docs)
    print(f"{n} pages, {sum(len(d.texts) for d in docs)} extracted paragraphs, {n_words} words")
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| documents kept | {sum(r.doc is not None for r in results)} / {n} |")
    print(f"| true text removed by paragraph filters | {removed_par / before:.2%} |")
    print(f"| true text removed by document drops | {removed_doc / before:.2%} |")
    print(f"| true text removed, total | {(removed_par + removed_doc) / before:.2%} |")
    print(f"| words in removed paragraphs under 4 words (no 4-shingle; upper bound) | {short_words / n_words:.2%} |")
    print(f"| extraction CPU time (s) | {t_extract:.2f} |")
    print(f"| filter CPU time (s) | {t_filter:.2f} |")
    print(f"| filter / extraction time | {t_filter / t_extract:.2f} |")
    print(f"| filter throughput (pages/s) | {n / t_filter:.0f} |")
    print()
    print("documents dropped by reason:", dict(doc_reasons.most_common()))
    print("paragraphs removed by reason:", dict(par_reasons.most_common()))
    print("true text lost by reason:", {k: f"{v / before:.2%}" for k, v in lost_by_reason.most_common()})


if __name__ == "__main__":
    main()
