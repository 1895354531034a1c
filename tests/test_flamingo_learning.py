"""Proof that the reference Flamingo learns from images: on the synthetic shapes corpus, a short
CPU run names held-out images far above chance, the same run with blanked images stays at
chance, and a few-shot prompt is answered in the shots' phrasing."""

import pytest
import torch

from interleaf.flamingo.build import ModelSpec
from interleaf.flamingo.evaluate import CHANCE, caption_accuracy
from interleaf.flamingo.model import FlamingoConfig, GPTConfig, ViTConfig
from interleaf.flamingo.run import RunConfig, train_flamingo
from interleaf.flamingo.synthetic import write_corpus
from interleaf.flamingo.train import TrainConfig
from interleaf.loaders import LoaderConfig

SIZE = 32


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    paths = write_corpus(tmp_path_factory.mktemp("shapes"), n_train=800, n_heldout=40, image_size=SIZE)
    return {k: [str(p) for p in v] for k, v in paths.items()}


@pytest.fixture
def one_thread():
    """Tiny matmuls: one thread is faster, and kinder to a shared CI machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train_and_score(corpus, blank: bool) -> dict:
    torch.manual_seed(0)
    spec = ModelSpec(gpt=GPTConfig(block_size=96, n_layer=2, n_head=2, n_embd=64),
                     vit=ViTConfig(image_size=SIZE, patch_size=8, n_layer=1, n_head=2, n_embd=64),
                     flamingo=FlamingoConfig(n_latents=8, resampler_depth=1, n_head=2, dim_head=32))
    config = RunConfig(shards=corpus["train"], vocab_size=300, spec=spec,
                       loader=LoaderConfig(max_tokens=96, max_images=4, batch_size=16, shuffle_buffer=200),
                       train=TrainConfig(steps=250, lr=1e-3, min_lr=1e-4, warmup=20, log_every=50),
                       pretrain_lm_steps=120, blank_images=blank)
    model, tok, _ = train_flamingo(config, log=lambda s: None)
    return caption_accuracy(model, tok, corpus["heldout"], SIZE, (0.5,) * 3, (0.5,) * 3, max_prompts=80)


def test_names_held_out_images_only_when_it_sees_them(corpus, one_thread):
    seen = train_and_score(corpus, blank=False)
    blind = train_and_score(corpus, blank=True)
    print("with images", seen, "\nblanked", blind)
    exact_chance = CHANCE["shape"] * CHANCE["colour"] * CHANCE["count"]  # 1/36
    assert seen["colour"] >= 0.7 and seen["count"] >= 0.5 and seen["exact"] >= 4 * exact_chance
    # Blanked: the LM can only guess from text, which says nothing about the image.
    assert blind["colour"] <= CHANCE["colour"] + 0.2 and blind["count"] <= CHANCE["count"] + 0.2
    assert blind["exact"] <= 2 * exact_chance + 0.03
    # Few-shot: after 1-3 (image, caption) shots the answer takes the shots' phrasing and is right.
    assert seen["template"] >= 0.9
    assert seen["colour@2"] >= 0.6
