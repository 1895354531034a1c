"""The training loader on what the pipeline really writes (the sample run's shards)."""

from __future__ import annotations

import torch

from conftest import load_manifest
from interleaf.loaders import IGNORE_INDEX, LoaderConfig, make_dataloader, shard_texts, train_tokenizer


def test_sample_run_streams_into_contract_batches(sample_run):
    shards = sorted(str(p) for p in (sample_run / "shards").glob("*.tar"))
    tok = train_tokenizer(shard_texts(shards), vocab_size=600)
    config = LoaderConfig(max_tokens=128, max_images=3, image_size=64, batch_size=4, shuffle_buffer=0, seed=1)
    loader = make_dataloader(shards, tok, config)
    n_docs = 0
    for batch in loader:
        b, length = batch["input_ids"].shape
        n_images = batch["image_mask"].shape[1]
        assert batch["pixels"].shape == (b, n_images, 1, 3, 64, 64) and batch["pixels"].dtype == torch.float32
        assert batch["attention_mask"].dtype == torch.bool and batch["phi"].shape == (b, length)
        real = batch["image_mask"].sum(1)
        assert (batch["phi"].max(1).values <= real).all()
        is_image = batch["input_ids"] == tok.image_id
        # the k-th <image> token of a row sees image k, and every real image has its token
        for row in range(b):
            positions = is_image[row].nonzero().flatten()
            assert batch["phi"][row, positions].tolist() == list(range(1, len(positions) + 1))
            assert len(positions) == real[row]
        assert (batch["labels"][~batch["attention_mask"]] == IGNORE_INDEX).all()
        assert (batch["pixels"][~batch["image_mask"]] == 0).all()
        n_docs += b
    assert n_docs == load_manifest(sample_run)["totals"]["documents"]
    assert sum(loader.totals.values()) == 0, loader.totals  # nothing skipped: the shards are sound
