"""The dedupe stages as Beam transforms on the DirectRunner: outputs, accounting, determinism."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest

from dedupe_fixtures import drawing, edited_articles, image_node, make_doc, photo_set, run_transform
from interleaf.pipeline.dedupe import (
    Decontaminate,
    DedupeDocuments,
    DedupeImages,
    NearDupDocuments,
    RepeatedParagraphs,
)
from interleaf.pipeline.apply import ApplyStages, ChainStage
from interleaf.pipeline.dedupe_logic import DedupeConfig
from interleaf.pipeline.manifest import pipeline_counters, stages_from_counters, unbalanced_stages
from interleaf.schemas import Document, ImageNode, StageResult, TextNode


def run_stage(transform: beam.PTransform, docs: list[Document], tmp_path: Path) -> tuple[list, list, list, dict]:
    """(kept documents, dropped dicts, error dicts, the stage's counters) of one transform."""
    kept, dropped, errors, result = run_transform(transform, docs, tmp_path)
    stages = stages_from_counters(pipeline_counters(result), [transform.stage])
    assert unbalanced_stages(stages) == []
    counts = stages[transform.stage]
    assert counts["in"] == len(docs)
    return kept, dropped, errors, counts


def test_dedupe_documents_keeps_most_recent_fetch_and_one_per_content(tmp_path):
    text = [TextNode("An article about flamingos.")]
    docs = [
        make_doc("https://News.example/a?utm_source=x", text, "2024-01-01T00:00:00Z"),
        make_doc("https://news.example:443/a#top", [TextNode("An article, updated.")], "2024-03-01T00:00:00Z"),
        make_doc("https://news.example/a", text, None),
        make_doc("https://mirror.example/copy", [TextNode("an  ARTICLE about flamingos.")], "2024-02-01T00:00:00Z"),
        make_doc("https://other.example/b", [TextNode("Something else.")]),
        make_doc("https://other.example/c", [TextNode("An article, updated.")], "2023-01-01T00:00:00Z"),
    ]
    outputs = []
    for seed in range(2):  # arrival order must not matter
        shuffled = docs[:]
        random.Random(seed).shuffle(shuffled)
        kept, dropped, errors, counts = run_stage(DedupeDocuments(), shuffled, tmp_path / str(seed))
        outputs.append(sorted(d.to_json() for d in kept))
    assert outputs[0] == outputs[1]
    assert sorted(d.url for d in kept) == ["https://mirror.example/copy", "https://news.example:443/a#top", "https://other.example/b"]
    assert counts["dropped"] == {"duplicate_url": 2, "duplicate_content": 1}
    assert errors == [] and counts["kept"] == 3
    assert {d["url"] for d in dropped if d["reason"] == "duplicate_content"} == {"https://other.example/c"}


def test_dedupe_documents_errors_go_to_dead_letter(tmp_path):
    bad = make_doc("https://a.example/x", [TextNode("x")], "not a date")
    kept, dropped, errors, counts = run_stage(DedupeDocuments(), [bad, make_doc("https://a.example/y", [])], tmp_path)
    assert len(kept) == 1 and counts["errors"] == 1 and "ValueError" in errors[0]["error"]


@pytest.fixture(scope="module")
def photos():
    return photo_set()


def _one_image_docs(nodes: list[ImageNode]) -> list[Document]:
    return [make_doc(f"https://site{i}.example/p", [TextNode(f"page {i}"), n]) for i, n in enumerate(nodes)]


def test_near_duplicate_images_real_photos(photos, tmp_path):
    """Each photo and its variants on separate pages: variants within d of the original are dropped."""
    distinct = [image_node(drawing(seed), f"https://img.example/d{seed}.jpg") for seed in range(30)]
    nodes = [n for _, _, n in photos] + distinct
    truth = {n.sha1: (name, variant) for name, variant, n in photos}
    kept, dropped, errors, counts = run_stage(DedupeImages(DedupeConfig(image_distance=4)), _one_image_docs(nodes), tmp_path)
    assert errors == [] and counts["kept"] == len(nodes)
    kept_sha1 = {n.sha1 for d in kept for n in d.images}
    assert {n.sha1 for n in distinct} <= kept_sha1  # precision: no distinct drawing is a duplicate
    by_variant = Counter(truth[n.sha1][1] for _, _, n in photos if n.sha1 not in kept_sha1)
    n_photos = len({name for name, _, _ in photos})
    # Every photo keeps exactly one of its copies that are within reach (or more where crops fall outside d).
    for name in {name for name, _, _ in photos}:
        assert any(truth[s][0] == name for s in kept_sha1 if s in truth)
    # Resizing, re-encoding, greying and mirroring stay within 4 bits on these photos.
    for variant in ("resized", "jpeg_q30", "jpeg_q60", "grey", "mirrored"):
        assert by_variant[variant] + by_variant["original"] >= n_photos - 1, (variant, by_variant)
    assert sum(by_variant.values()) == counts["nodes_dropped"]["image"]["near_duplicate"]


def test_mirrors_are_missed_without_mirror_matching(photos, tmp_path):
    nodes = [n for _, v, n in photos if v in ("original", "mirrored")]
    kept, _, _, counts = run_stage(DedupeImages(DedupeConfig(match_mirrored=False)), _one_image_docs(nodes), tmp_path)
    assert counts["nodes_dropped"].get("image", {}) == {}


def test_frequent_and_repeated_images(photos, tmp_path):
    logo = photos[0][2]
    button_url = "https://cdn.example/button.png"
    docs = []
    for i in range(12):
        nodes = [TextNode("text"), ImageNode(f"https://site{i}.example/logo.png", sha1=logo.sha1, phash=logo.phash)]
        if i < 10:  # on exactly 10 documents: kept (OBELICS drops only more than 10)
            nodes.append(ImageNode(f"https://img.example/ten-{i}.jpg", sha1="f" * 40, phash="0123456789abcdef"))
        if i < 11:
            nodes.append(ImageNode(button_url, sha1=f"{i:040d}", phash=f"{random.Random(i).getrandbits(64):016x}"))
        docs.append(make_doc(f"https://site{i}.example/", nodes))
    docs[0].nodes.append(ImageNode("https://img.example/ten-0.jpg#again", sha1="e" * 40, phash="fedcba9876543210"))
    config = DedupeConfig(match_mirrored=False, image_distance=2)
    kept, dropped, errors, counts = run_stage(DedupeImages(config), docs, tmp_path)
    assert counts["nodes_dropped"]["image"] == {"frequent_image": 12, "frequent_url": 11, "repeated_in_document": 1}
    assert all([n.sha1 for n in d.images] == ["f" * 40] for d in kept if d.url < "https://site10")


def test_hot_bucket_is_bounded_and_deterministic(tmp_path):
    """200 images with the same pHash: with 8 candidates per bucket all still link to the best one."""
    nodes = [ImageNode(f"https://i.example/{i}.jpg", sha1=f"{i:040x}", phash="00000000ffffffff", width=200, height=200) for i in range(200)]
    config = DedupeConfig(max_bucket=8, match_mirrored=False)
    kept, _, _, counts = run_stage(DedupeImages(config), _one_image_docs(nodes), tmp_path)
    assert [n.sha1 for d in kept for n in d.images] == [f"{0:040x}"]
    assert counts["nodes_dropped"]["image"]["near_duplicate"] == 199


def test_link_mode_keeps_near_duplicates(photos, tmp_path):
    nodes = [n for _, v, n in photos[:8] if v in ("original", "jpeg_q30")]
    kept, _, _, counts = run_stage(DedupeImages(DedupeConfig(near_dup_images="link")), _one_image_docs(nodes), tmp_path)
    assert counts["nodes_dropped"].get("image", {}) == {}
    assert sum("near_duplicate_images" in d.meta for d in kept) == 1


def test_bad_phash_is_an_error_not_a_crash(tmp_path):
    docs = _one_image_docs([ImageNode("https://i.example/x.jpg", sha1="a" * 40, phash="nothex")])
    docs.append(make_doc("https://fine.example/", [TextNode("fine")]))
    kept, _, errors, counts = run_stage(DedupeImages(), docs, tmp_path)
    assert counts["errors"] == 1 and len(kept) == 1 and "nothex" in errors[0]["error"]
    assert errors[0]["key"] == docs[0].id and errors[0]["stage"] == "dedupe_images"


def test_near_duplicate_documents_real_articles(tmp_path):
    edited = edited_articles(12)
    docs = [make_doc(f"https://site{k}.example/{i}", [TextNode(t)]) for k, (i, _, t) in enumerate(edited)]
    kept, dropped, errors, counts = run_stage(NearDupDocuments(DedupeConfig(jaccard_threshold=0.7)), docs, tmp_path)
    assert errors == []
    article_of = {d.id: edited[k][0] for k, d in enumerate(docs)}
    edit_of = {d.id: edited[k][1] for k, d in enumerate(docs)}
    kept_articles = Counter(article_of[d.id] for d in kept)
    assert set(kept_articles) == set(range(12))  # precision: no article loses all its copies
    dropped_edits = Counter(edit_of[d["doc_id"]] for d in dropped)
    for edit in ("whitespace_case", "boilerplate_added", "words_changed_2pct", "tail_cut_10pct"):
        assert dropped_edits[edit] + dropped_edits["original"] >= 11, (edit, dropped_edits)
    # Representatives are the best-ranked (same fetch time here: smallest id), so the outcome is stable.
    again, _, _, _ = run_stage(NearDupDocuments(DedupeConfig(jaccard_threshold=0.7)), docs[::-1], tmp_path / "again")
    assert sorted(d.id for d in again) == sorted(d.id for d in kept)


def test_repeated_paragraphs_per_domain(tmp_path):
    boiler = "Subscribe to our newsletter."
    docs = [make_doc(f"https://blog.example/{i}", [TextNode(f"Post number {i}."), TextNode(boiler)]) for i in range(4)]
    docs += [make_doc(f"https://other.example/{i}", [TextNode(f"Other {i}."), TextNode(boiler)]) for i in range(3)]
    kept, dropped, errors, counts = run_stage(RepeatedParagraphs(DedupeConfig(max_docs_per_paragraph=3)), docs, tmp_path)
    assert counts["nodes_dropped"]["text"] == {"repeated_paragraph": 4}
    assert all(boiler not in d.text() for d in kept if "blog" in d.url)
    assert all(boiler in d.text() for d in kept if "other" in d.url)


def test_decontaminate_with_hashes_cli(photos, tmp_path):
    from interleaf.cli import main
    from interleaf.pipeline.decontaminate import load_eval_hashes

    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    (eval_dir / "a.jpg").write_bytes(photos[0][2].data)  # astronaut, original
    (eval_dir / "notes.txt").write_text("not an image")
    assert main(["hashes", str(eval_dir), "-o", str(tmp_path / "h.parquet")]) == 0
    hashes = load_eval_hashes(str(tmp_path / "h.parquet"))
    assert len(hashes) == 2  # the image and its mirror
    nodes = [n for name, v, n in photos if name == "astronaut" and v in ("original", "resized", "mirrored", "jpeg_q60")]
    nodes.append(photos[-1][2])  # another photo
    kept, dropped, _, counts = run_stage(Decontaminate(hashes), _one_image_docs(nodes), tmp_path / "run")
    assert counts["nodes_dropped"]["image"] == {"eval_image": 4}
    assert [len(d.images) for d in sorted(kept, key=lambda d: d.url)] == [0, 0, 0, 0, 1]


class _AllStages(beam.PTransform):
    """The dedupe stages chained in the documented order, as the pipeline wires them."""

    stage = "dedupe_images"

    def expand(self, docs):
        config = DedupeConfig(max_docs_per_paragraph=2)
        dropped, errors = [], []
        for transform in (DedupeDocuments(config), NearDupDocuments(config), RepeatedParagraphs(config), DedupeImages(config)):
            docs, d, e = docs | transform.stage >> transform
            dropped.append(d)
            errors.append(e)
        return docs, dropped | "D" >> beam.Flatten(), errors | "E" >> beam.Flatten()


def test_stages_chain_and_each_balances(photos, tmp_path):
    article = [a for a in edited_articles(2) if a[1] in ("original", "boilerplate_added", "whitespace_case")]
    logo = photos[0][2]
    docs = []
    for k, (_, edit, text) in enumerate(article):
        nodes = [TextNode(text), TextNode("Follow us."), ImageNode(logo.url, sha1=logo.sha1, phash=logo.phash)]
        docs.append(make_doc(f"https://blog.example/{k}", nodes, f"2024-01-{k + 1:02d}T00:00:00Z"))
    docs.append(make_doc("https://blog.example/0?utm_source=feed", docs[0].nodes[:], "2023-01-01T00:00:00Z"))
    kept, dropped, errors, result = run_transform(_AllStages(), docs, tmp_path)
    order = ["dedupe_documents", "near_dup_documents", "repeated_paragraphs", "dedupe_images"]
    stages = stages_from_counters(pipeline_counters(result), order)
    assert unbalanced_stages(stages) == [] and errors == []
    assert stages["dedupe_documents"]["in"] == len(docs)
    for before, after in zip(order[:-1], order[1:]):
        assert stages[after]["in"] == stages[before]["kept"], (before, after)
    # The case/spacing edit is an exact duplicate once normalised; the boilerplate edit a near one.
    assert stages["dedupe_documents"]["dropped"] == {"duplicate_url": 1, "duplicate_content": 2}
    assert stages["near_dup_documents"]["dropped"] == {"near_duplicate": 2} and len(kept) == 2
    # 5 input pages carry "Follow us." (limit 2) but only 2 remain when paragraphs are counted.
    assert all("Follow us." in d.text() and len(d.images) == 1 for d in kept)


def _fails_on_second(doc: Document, context) -> StageResult:
    if doc.url.endswith("/2"):
        raise RuntimeError("broken")
    return StageResult.kept(doc)


def _drops_first(doc: Document, context) -> StageResult:
    if doc.url.endswith("/1"):
        return StageResult.dropped(doc, "second", "unwanted")
    return StageResult.kept(doc)


class _Chain(beam.PTransform):
    """Two chain stages after document dedupe, applied in one join."""

    stage = "first"

    def expand(self, docs):
        verdicts = docs.pipeline | "NoVerdicts" >> beam.Create([])
        by_id = docs | "ById" >> beam.Map(lambda d: (d.id, d))
        stages = [ChainStage("first", _fails_on_second), ChainStage("second", _drops_first)]
        return {"doc": by_id, "verdicts": verdicts} | ApplyStages(stages, select="dedupe_documents")


def test_chain_counts_each_stage_on_what_the_previous_kept(tmp_path):
    docs = [make_doc(f"https://chain.example/{i}", [TextNode(f"page {i}")]) for i in range(4)]
    docs.append(make_doc("https://chain.example/3?utm_source=x", [TextNode("page 3, older")], "2020-01-01T00:00:00Z"))
    kept, dropped, errors, result = run_transform(_Chain(), docs, tmp_path)
    stages = stages_from_counters(pipeline_counters(result), ["dedupe_documents", "first", "second"])
    assert unbalanced_stages(stages) == []
    assert stages["dedupe_documents"]["in"] == 5 and stages["dedupe_documents"]["dropped"] == {"duplicate_url": 1}
    assert stages["first"]["in"] == 4 and stages["first"]["errors"] == 1
    assert stages["second"]["in"] == 3 and stages["second"]["dropped"] == {"unwanted": 1}
    assert sorted(d.url for d in kept) == ["https://chain.example/0", "https://chain.example/3"]
    assert [(e["stage"], e["key"]) for e in errors] == [("first", docs[2].id)]
