"""The plain dedupe rules (pipeline/dedupe_logic.py), without Beam."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe_fixtures import articles, make_doc
from interleaf.pipeline import dedupe_logic as dl
from interleaf.pipeline.dedupe_logic import DedupeConfig, ImageItem
from interleaf.schemas import Document, ImageNode, TextNode


@given(st.integers(0, 2**64 - 1), st.integers(0, 12), st.randoms(use_true_random=False))
def test_values_within_distance_share_a_band(value, distance, rng):
    flipped = value
    for bit in rng.sample(range(64), rng.randint(0, distance)):
        flipped ^= 1 << bit
    a, b = set(dl.band_keys(value, distance + 1)), set(dl.band_keys(flipped, distance + 1))
    assert a & b
    assert len(dl.band_keys(value, distance + 1)) == distance + 1


def test_band_keys_cover_all_bits_once():
    # Reassembling the bands gives the value back: no bit is lost or counted twice.
    value = 0xF0E1D2C3B4A59687
    edges = [round(i * 64 / 5) for i in range(6)]
    assert sum(v << edges[i] for i, v in dl.band_keys(value, 5)) == value


def test_image_distance_compares_mirrors():
    a = ImageItem("a", 0x0F0F, 0xFFFF0000, 100)
    b = ImageItem("b", 0xFFFF0001, 0, 100)
    assert dl.hamming(a.phash, b.phash) > 20
    assert dl.image_distance(a, b) == 1 == dl.image_distance(b, a)
    assert dl.image_band_keys(a, 3) >= set(dl.band_keys(a.mirror, 4))


def test_image_rank_prefers_the_largest_then_smallest_sha1():
    items = [ImageItem("b", 0, 0, 100), ImageItem("c", 0, 0, 400), ImageItem("a", 0, 0, 100)]
    assert [i.sha1 for i in sorted(items, key=dl.image_rank)] == ["c", "a", "b"]


def test_best_neighbour_takes_the_best_ranked_near_item():
    items = sorted([ImageItem(s, p, 0, 1) for s, p in [("a", 0b1111), ("b", 0b0000), ("c", 0b0001)]], key=dl.image_rank)
    near = lambda x, y: dl.image_distance(x, y) <= 1  # noqa: E731
    by = {i.sha1: i for i in items}
    assert dl.best_neighbour(by["a"], items, dl.image_rank, near) is None  # a is ranked first
    assert dl.best_neighbour(by["b"], items, dl.image_rank, near) is None  # a is 4 bits away
    assert dl.best_neighbour(by["c"], items, dl.image_rank, near) == by["b"]


def test_phash_int_rejects_wider_hashes():
    assert dl.phash_int("ffffffffffffffff") == 2**64 - 1
    with pytest.raises(ValueError):
        dl.phash_int("1ffffffffffffffff")


def test_doc_rank_most_recent_fetch_first_unknown_last():
    new = make_doc("https://a.example/x", [], "2024-05-01T12:00:00Z")
    old = make_doc("https://a.example/x", [], "2023-05-01T12:00:00+00:00")
    naive = make_doc("https://a.example/x", [], "2023-06-01T12:00:00")
    unknown = make_doc("https://a.example/x", [], None)
    assert sorted([unknown, old, naive, new], key=dl.doc_rank) == [new, naive, old, unknown]
    assert dl.iso_time(dl.fetched_timestamp(new)) == "2024-05-01T12:00:00Z"


def test_content_hash_ignores_case_and_spacing_but_not_words_or_images():
    a = make_doc("https://a.example/1", [TextNode("Hello  World"), ImageNode("https://i/1.jpg", sha1="s1")])
    b = make_doc("https://b.example/2", [TextNode("hello world"), ImageNode("https://other/1.jpg", sha1="s1")])
    c = make_doc("https://b.example/2", [TextNode("hello world!"), ImageNode("https://i/1.jpg", sha1="s1")])
    d = make_doc("https://b.example/2", [TextNode("hello world"), ImageNode("https://i/1.jpg", sha1="s2")])
    assert dl.content_hash(a) == dl.content_hash(b)
    assert len({dl.content_hash(x) for x in (a, c, d)}) == 3


def _doc_with_images(*images: tuple[str, str]) -> Document:
    return make_doc("https://p.example/page", [TextNode("t")] + [ImageNode(u, sha1=s, phash="0" * 16) for u, s in images])


def test_apply_image_verdicts_reasons_in_order():
    doc = _doc_with_images(
        ("https://i.example/a.jpg", "sa"),
        ("https://I.example/a.jpg#x", "sx"),  # same canonical URL
        ("https://i.example/b.jpg", "sa"),  # same content
        ("https://ads.example/logo.png", "slogo"),
        ("https://i.example/c.jpg", "sbutton"),
        ("https://i.example/d.jpg", "snear"),
        ("https://i.example/e.jpg", "skeep"),
    )
    frequent = {("url", "https://ads.example/logo.png"), ("sha1", "sbutton")}
    result = dl.apply_image_verdicts(doc, frequent, {"snear": "sbest"}, DedupeConfig(), "dedupe_images")
    reasons = [d.reason for d in result.drops]
    assert reasons == ["repeated_in_document"] * 2 + ["frequent_url", "frequent_image", "near_duplicate"]
    assert [n.sha1 for n in result.doc.images] == ["sa", "skeep"]
    assert all(d.level == "image" for d in result.drops)


def test_apply_image_verdicts_link_mode_keeps_and_records():
    doc = _doc_with_images(("https://i.example/d.jpg", "snear"))
    result = dl.apply_image_verdicts(doc, set(), {"snear": "sbest"}, DedupeConfig(near_dup_images="link"), "s")
    assert result.drops == [] and len(result.doc.images) == 1
    assert result.doc.meta["near_duplicate_images"] == {"snear": "sbest"}


def test_minhash_estimates_jaccard_of_real_articles():
    config = DedupeConfig()
    text = articles(1)[0]
    words = text.split()
    half = " ".join(words[: len(words) * 3 // 4])
    true = len(dl.shingles(half, 5) & dl.shingles(text, 5)) / len(dl.shingles(half, 5) | dl.shingles(text, 5))
    est = dl.estimated_jaccard(dl.minhash_signature(text, config), dl.minhash_signature(half, config))
    assert abs(est - true) < 0.12
    assert dl.minhash_signature(text, config).dtype == np.uint32
    bands, rows = dl.lsh_bands(0.8, 128)
    assert bands * rows <= 128 and len(dl.signature_band_keys(dl.minhash_signature(text, config), config)) == bands


def test_shingles_of_short_text():
    assert dl.shingles("One two", 5) == {b"one two"}
    assert dl.shingles("", 5) == set()
    assert len(dl.shingles("a b c d e f", 5)) == 2


def test_repeated_paragraphs_removed_and_near_duplicates_dropped():
    doc = make_doc("https://www.news.example/a", [TextNode("Subscribe now!"), TextNode("The story.")])
    keys = dl.paragraph_keys(doc, DedupeConfig())
    assert {k[0] for k in keys} == {"news.example"}
    repeated = {dl.paragraph_hash("subscribe   NOW!")}
    result = dl.apply_document_verdicts(doc, None, repeated, DedupeConfig(), "repeated_paragraphs")
    assert [n.text for n in result.doc.texts] == ["The story."]
    assert [(d.level, d.reason, d.sample) for d in result.drops] == [("text", "repeated_paragraph", "Subscribe now!")]
    dropped = dl.apply_document_verdicts(doc, "other-id", set(), DedupeConfig(), "near_dup_documents")
    assert dropped.doc is None and dropped.drops[0].reason == "near_duplicate"


def test_eval_hashes_and_decontaminate():
    hashes = dl.EvalHashes(["ffff000000000000", "0000000000000000"])
    assert hashes.nearest("0000000000000003") == 2
    assert dl.EvalHashes([]).nearest("0000000000000000") == 65
    doc = make_doc(
        "https://p.example/x",
        [ImageNode("https://i/1", phash="0000000000000007"), ImageNode("https://i/2", phash="00000000ffffffff")],
    )
    result = dl.decontaminate(doc, hashes, 4, "decontaminate")
    assert [n.url for n in result.doc.images] == ["https://i/2"]
    assert result.drops[0].reason == "eval_image" and result.drops[0].detail == "pHash distance 3"


def test_config_validation():
    with pytest.raises(ValueError):
        DedupeConfig(near_dup_images="merge")
    with pytest.raises(ValueError):
        DedupeConfig(image_distance=64)
    with pytest.raises(ValueError):
        DedupeConfig(jaccard_threshold=0)
