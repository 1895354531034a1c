"""Sample building on random documents: every invariant of the batch contract, per sample and
after collation."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loader_fixtures import png_bytes, random_document, tokenizer, tokenizer_path  # noqa: F401

from interleaf.loaders import IGNORE_INDEX, LoaderConfig, build_sample, collate, compute_phi
from interleaf.schemas import Document, ImageNode, Source, TextNode

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def solid_colour(pixels: torch.Tensor, config: LoaderConfig) -> tuple[int, ...]:
    """The RGB colour at the centre of a normalised solid-colour image [F, 3, S, S]."""
    c = config.image_size // 2
    mean, std = torch.tensor(config.mean), torch.tensor(config.std)
    return tuple(((pixels[0, :, c, c] * std + mean) * 255).round().int().tolist())


def image_colours(doc: Document) -> list[tuple[int, ...]]:
    from interleaf.loaders import decode_image

    return [decode_image(n.data).getpixel((0, 0)) for n in doc.images]


documents = st.builds(
    lambda seed, n, p, words: random_document(random.Random(seed), n_nodes=n, image_p=p, max_words=words),
    st.integers(0, 2**32), st.integers(0, 25), st.sampled_from([0.0, 0.2, 0.5, 0.9]), st.sampled_from([3, 30, 120]),
)
configs = st.builds(
    lambda L, N, p: LoaderConfig(max_tokens=L, max_images=N, p_next=p, image_size=8),
    st.integers(2, 200), st.integers(0, 6), st.sampled_from([0.0, 0.5, 1.0]),
)


@SETTINGS
@given(doc=documents, config=configs, seed=st.integers(0, 1000))
def test_sample_invariants(tokenizer, doc, config, seed):
    tok = tokenizer
    s = build_sample(doc, [n.data for n in doc.images], tok, config, random.Random(seed))
    ids, phi, labels = s["input_ids"], s["phi"], s["labels"]
    pixels = collate([s], tok.pad_id, config)["pixels"][0]
    is_image = ids == tok.image_id
    n = int(is_image.sum())
    assert ids[0] == tok.bos_id and 2 <= len(ids) <= config.max_tokens or len(ids) == 1
    assert n == len(s["images"]) == len(s["image_index"]) <= config.max_images
    assert all(max(im.shape[:2]) == config.image_size and im.dtype == np.uint8 for im in s["images"])
    # Kept images are in document order, and the k-th <image> token's pixels are that image's.
    assert s["image_index"] == sorted(s["image_index"])
    colours = image_colours(doc)
    for k, i in enumerate(s["image_index"]):
        assert solid_colour(pixels[k], config) == colours[i]
    # phi: bounded by the image count; the k-th <image> token sees image k.
    assert 0 <= int(phi.min()) and int(phi.max()) <= n
    assert phi[is_image].tolist() == list(range(1, n + 1))
    if not s["next_image"]:
        assert torch.equal(phi, is_image.cumsum(0))
        first = int(is_image.nonzero()[0]) if n else len(ids)
        assert not phi[:first].any()  # tokens before the first image see none
    else:
        # Text sees the image after its chunk; none after the last image.
        text = ~is_image
        assert torch.equal(phi[text], torch.where(is_image.cumsum(0)[text] + 1 > n, 0, is_image.cumsum(0)[text] + 1))
    # labels: next-token targets, ignored at <image> targets and the end; EOS and <|endofchunk|> trained.
    expected = torch.cat([ids[1:], torch.tensor([IGNORE_INDEX])])
    expected[expected == tok.image_id] = IGNORE_INDEX
    assert torch.equal(labels, expected)
    if config.p_next == 0.0:
        assert not s["next_image"]
    if config.p_next == 1.0:
        assert s["next_image"]


@SETTINGS
@given(doc=documents, seed=st.integers(0, 1000))
def test_whole_document_when_it_fits(tokenizer, doc, seed):
    """A short document keeps all its text, its images in place, each closed by <|endofchunk|>."""
    config = LoaderConfig(max_tokens=100_000, max_images=1000, image_size=8)
    s = build_sample(doc, [n.data for n in doc.images], tokenizer, config, random.Random(seed))
    ids = s["input_ids"].tolist()
    assert ids[-1] == tokenizer.eos_id
    assert s["image_index"] == list(range(len(doc.images)))
    chunks: list[list[str]] = [[]]  # text before the first image, then after each image
    for node in doc.nodes:
        if isinstance(node, ImageNode):
            chunks.append([])
        else:
            chunks[-1].append(node.text)
    runs: list[list[int]] = [[]]  # token runs between <image> tokens
    for t in ids[1:]:
        if t == tokenizer.image_id:
            runs.append([])
        else:
            runs[-1].append(t)
    assert [tokenizer.decode(r, skip_special_tokens=True).split() for r in runs] == \
        [" ".join(c).split() for c in chunks]
    # One <|endofchunk|> right before each later <image> and before EOS when images exist.
    eoc_after = [ids[i + 1] for i, t in enumerate(ids) if t == tokenizer.eoc_id]
    assert len(eoc_after) == len(doc.images)
    assert all(t in (tokenizer.image_id, tokenizer.eos_id) for t in eoc_after)


def long_doc(n_images: int, words: int = 40) -> Document:
    rng = random.Random(n_images)
    nodes = []
    for k in range(n_images):
        nodes.append(ImageNode(url=f"u{k}", member=f"{k:03d}.png", data=png_bytes(rng)))
        nodes.append(TextNode(" ".join(["flamingo"] * words)))
    return Document(id=f"doc{n_images}", url="https://example.org/x", source=Source("html"), nodes=nodes)


def test_window_starts_at_an_image_and_caps_images(tokenizer):
    doc = long_doc(12)
    config = LoaderConfig(max_tokens=64, max_images=2, image_size=8)
    starts = set()
    for seed in range(30):
        s = build_sample(doc, [n.data for n in doc.images], tokenizer, config, random.Random(seed))
        ids = s["input_ids"].tolist()
        assert len(ids) == 64 and ids[1] == tokenizer.image_id
        assert len(s["image_index"]) == 2 and s["image_index"][1] == s["image_index"][0] + 1
        starts.add(s["image_index"][0])
    assert len(starts) > 3  # the window start is random


def test_images_beyond_max_are_removed_and_the_window_refills(tokenizer):
    doc = long_doc(6, words=6)
    config = LoaderConfig(max_tokens=30, max_images=1, image_size=8)
    s = build_sample(doc, [n.data for n in doc.images], tokenizer, config, random.Random(0))
    ids = s["input_ids"].tolist()
    assert ids.count(tokenizer.image_id) == 1 and len(ids) == 30
    assert ids.count(tokenizer.eoc_id) > 1  # text of the later images' chunks fills the window


def test_missing_and_corrupt_images_are_skipped_and_counted(tokenizer):
    doc = long_doc(4, words=3)
    images = [n.data for n in doc.images]
    images[1] = None
    images[2] = images[2][:40]  # truncated PNG
    s = build_sample(doc, images, tokenizer, LoaderConfig(image_size=8), random.Random(0))
    assert s["image_index"] == [0, 3]
    assert s["skipped"] == {"image_missing": 1, "image_undecodable": 1}
    assert s["phi"].max() == 2 and len(s["images"]) == 2


def test_literal_special_token_text_is_not_an_image(tokenizer):
    doc = Document(id="x", url="u", source=Source("html"),
                   nodes=[TextNode("see <image> and <|endofchunk|> here")])
    s = build_sample(doc, [], tokenizer, LoaderConfig(image_size=8), random.Random(0))
    assert tokenizer.image_id not in s["input_ids"].tolist() and not s["phi"].any()


def test_build_sample_accepts_a_document_dict(tokenizer):
    doc = long_doc(2, words=3)
    s = build_sample(doc.to_dict(), [n.data for n in doc.images], tokenizer, LoaderConfig(image_size=8),
                     random.Random(0))
    assert len(s["images"]) == 2


@SETTINGS
@given(docs=st.lists(documents, min_size=1, max_size=4), extra_len=st.integers(0, 20), extra_n=st.integers(0, 3),
       seed=st.integers(0, 100))
def test_collate_contract_and_padding_invariance(tokenizer, docs, extra_len, extra_n, seed):
    config = LoaderConfig(max_tokens=80, max_images=3, p_next=0.5, image_size=8)
    samples = [build_sample(d, [n.data for n in d.images], tokenizer, config, random.Random(seed)) for d in docs]
    tight = collate(samples, tokenizer.pad_id, config)
    B, L = tight["input_ids"].shape
    N = tight["image_mask"].shape[1]
    loose = collate(samples, tokenizer.pad_id, config, length=L + extra_len, n_images=N + extra_n)
    assert loose["pixels"].dtype == torch.float32 and loose["pixels"].shape == (B, N + extra_n, 1, 3, 8, 8)
    for name in ("input_ids", "labels", "phi", "attention_mask"):
        assert torch.equal(loose[name][:, :L], tight[name]), name
    assert torch.equal(loose["pixels"][:, :N], tight["pixels"]) and not loose["pixels"][:, N:].any()
    pad = ~loose["attention_mask"]
    assert (loose["labels"][pad] == IGNORE_INDEX).all() and not loose["phi"][pad].any()
    assert (loose["input_ids"][pad] == tokenizer.pad_id).all()
    for b, s in enumerate(samples):
        m = len(s["images"])
        assert loose["image_mask"][b].tolist() == [True] * m + [False] * (N + extra_n - m)
        assert not loose["pixels"][b, m:].any()
        assert int(loose["phi"][b].max()) <= m
        assert int(loose["attention_mask"][b].sum()) == len(s["input_ids"])
    # The contract's cross-attention mask never points at an absent image.
    mask = loose["phi"][..., None] == torch.arange(1, N + extra_n + 1)
    assert not (mask & ~loose["image_mask"][:, None, :]).any()


def test_compute_phi_batched_modes():
    ids = torch.tensor([[0, 5, 7, 7, 5, 7, 1], [0, 7, 5, 7, 7, 5, 7]])
    prev = compute_phi(ids, image_id=5)
    nxt = compute_phi(ids, image_id=5, next_image=torch.tensor([True, True]))
    assert prev.tolist() == [[0, 1, 1, 1, 2, 2, 2], [0, 0, 1, 1, 1, 2, 2]]
    assert nxt.tolist() == [[1, 1, 2, 2, 2, 0, 0], [1, 1, 1, 2, 2, 2, 0]]
    mixed = compute_phi(ids, image_id=5, next_image=torch.tensor([False, True]))
    assert mixed[0].tolist() == prev[0].tolist() and mixed[1].tolist() == nxt[1].tolist()


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        LoaderConfig(p_next=1.5)
    with pytest.raises(ValueError):
        LoaderConfig(max_tokens=1)


def test_frames_repeat_a_still_image_and_resample_is_configurable(tokenizer):
    doc = long_doc(2, words=3)
    for resample in ("bicubic", "bilinear"):
        config = LoaderConfig(frames=3, image_size=8, resample=resample)
        s = build_sample(doc, [n.data for n in doc.images], tokenizer, config, random.Random(0))
        pixels = collate([s], tokenizer.pad_id, config)["pixels"]
        assert pixels.shape == (1, 2, 3, 3, 8, 8)
        assert torch.equal(pixels[0, :, 0], pixels[0, :, 2]) and pixels[0, :, 1].abs().sum() > 0
