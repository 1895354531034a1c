"""The extractor on the 181 real pages of the article-extraction-benchmark: a quality floor.

The floor sits just under what the code reaches today, so a change that makes extraction
worse on real pages fails here. The data lives in ``shared/`` beside the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from extraction_scoring import DATA_DIR, load_pages, page_counts, scores  # noqa: E402

from interleaf.pipeline.extract import extract  # noqa: E402
from interleaf.schemas import ImageNode, TextNode  # noqa: E402


def test_article_text_f1_floor_on_real_pages():
    assert DATA_DIR.is_dir(), f"benchmark data missing: {DATA_DIR}"
    pages = load_pages()
    assert len(pages) == 181
    counts, n_images = [], 0
    for _, url, html, truth in pages:
        result = extract(html, url)
        assert result.drop_reason is None, (url, result.drop_reason)
        text = "\n\n".join(n.text for n in result.nodes if isinstance(n, TextNode))
        n_images += sum(isinstance(n, ImageNode) for n in result.nodes)
        counts.append(page_counts(truth, text))
    s = scores(counts)
    assert s["f1"] >= 0.955, s
    assert s["precision"] >= 0.935 and s["recall"] >= 0.97, s
    # News pages carry article images: a regression that drops them all shows here.
    assert n_images >= 430, n_images


def test_shingle_scoring():
    assert page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    tp, fp, fn = page_counts("one two three four five", "one two three four")
    assert (tp, fp, fn) == (0.5, 0.0, 0.5)
    assert scores([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]) == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3}
