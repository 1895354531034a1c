"""`interleaf stats` on a synthetic run folder: funnel table, reasons, HTML report."""

from __future__ import annotations

import json
import os
import re
import sys

import pyarrow.parquet as pq
import pytest

from interleaf.cli import main as cli_main
from interleaf.filters.report import format_funnel, funnel_rows, read_distributions, reason_rows, render_html
from interleaf.schemas import Document, ImageNode, Source, TextNode
from interleaf.schemas.arrow import documents_table

MANIFEST = {
    "schema_version": "1.0",
    "interleaf_version": "0.1.0",
    "inputs": ["crawl.warc.gz"],
    "options": {},
    "stages": {
        "read": {"in": 1000, "kept": 990, "errors": 2, "dropped": {"not_html": 8}, "nodes_dropped": {}},
        "extract": {
            "in": 990, "kept": 900, "errors": 0, "dropped": {"no_content": 70, "too_large": 20},
            "nodes_dropped": {"image": {"boilerplate": 3000, "too_small": 500}},
        },
        "filter": {
            "in": 900, "kept": 600, "errors": 0,
            "dropped": {"lang_not_allowed": 150, "too_few_images": 100, "empty": 50},
            "nodes_dropped": {"text": {"too_few_words": 4000, "low_stopwords": 700, "spam": 12}},
        },
    },  # fmt: skip
    "totals": {"documents": 3, "images": 4, "shards": 1},
    "balanced": True,
    "shards": [{"name": "shard-00000.tar", "sha256": "0" * 64, "count": 3, "bytes": 1000}],
}


def _doc(i: int, words: int, images: list[tuple[int, int]], lang: str) -> Document:
    nodes = [TextNode(" ".join(["word"] * words))]
    nodes += [ImageNode(url=f"https://e.org/{i}/{k}.jpg", width=w, height=h, member=f"{k:03d}.jpg") for k, (w, h) in enumerate(images)]
    return Document(id=f"d{i}", url=f"https://e.org/{i}", source=Source("warc"), nodes=nodes, lang=lang, lang_score=0.9)


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "documents").mkdir()
    docs = [_doc(0, 120, [(640, 480)], "en"), _doc(1, 300, [(800, 600), (300, 300)], "en"), _doc(2, 50, [(1024, 768)], "de")]
    pq.write_table(documents_table((d, "shard-00000.tar") for d in docs), tmp_path / "documents" / "shard-00000.parquet")
    return tmp_path


def test_funnel_and_reason_rows():
    rows = funnel_rows(MANIFEST)
    assert [r["stage"] for r in rows] == ["read", "extract", "filter"]
    assert rows[2] == {"stage": "filter", "in": 900, "kept": 600, "dropped": 300, "errors": 0, "text_removed": 4712, "images_removed": 0}
    reasons = reason_rows(MANIFEST)
    assert reasons[0] == ("read", "document", "not_html", 8)
    assert reasons[1:3] == [("extract", "image", "boilerplate", 3000), ("extract", "image", "too_small", 500)]
    assert ("filter", "text", "spam", 12) in reasons
    assert len(reasons) == 1 + 4 + 6


def test_table_text():
    text = format_funnel(MANIFEST)
    assert text.startswith("3 documents, 4 images in 1 shards")
    line = next(line for line in text.splitlines() if line.startswith("filter "))
    assert line.split() == ["filter", "900", "600", "300", "0", "66.7%", "4,712", "0"]
    assert re.search(r"^filter\s+text\s+too_few_words\s+4,000$", text, re.M)
    unbalanced = dict(MANIFEST, balanced=False)
    assert "WARNING" in format_funnel(unbalanced)


def test_distributions_from_parquet(run_dir):
    d = read_distributions(str(run_dir))
    assert sorted(d.words) == [50, 120, 300]
    assert sorted(d.images) == [1, 1, 2]
    assert d.languages == {"en": 2, "de": 1}
    assert sorted(d.image_sizes) == [(300, 300), (640, 480), (800, 600), (1024, 768)]
    assert read_distributions(str(run_dir / "nowhere")).words == []


def test_cli_prints_table_and_writes_html(run_dir, capsys):
    assert cli_main(["stats", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "kept/in" in out and "lang_not_allowed" in out
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5  # funnel, words, images, languages, sizes
    assert "Languages (top 20)" in page and "lang_not_allowed" in page
    assert "median 120 words" in page


def test_cli_without_manifest(tmp_path, capsys):
    assert cli_main(["stats", str(tmp_path), "--no-html"]) == 1
    assert "no manifest.json" in capsys.readouterr().out
    assert not os.path.exists(tmp_path / "report.html")


def test_html_without_matplotlib(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    page = render_html(MANIFEST, read_distributions(str(run_dir)))
    assert "data:image/png" not in page
    assert "matplotlib is not installed" in page and "too_few_words" in page
