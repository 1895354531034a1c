"""Streaming: every sample once per epoch across ranks and workers, determinism, shuffling,
resume mid-epoch, damaged shards and samples, and the URL forms shards come from."""

from __future__ import annotations

import functools
import http.server
import random
import shutil
import tarfile
import threading
from collections import Counter

import pytest
import torch
from loader_fixtures import random_document, sample_members, tokenizer, tokenizer_path, write_shard, write_shards  # noqa: F401
from webdataset import TarWriter

from interleaf.loaders import LoaderConfig, SkippedDataWarning, expand_urls, make_dataloader


def cfg(**kw) -> LoaderConfig:
    base = dict(batch_size=4, max_tokens=40, max_images=3, image_size=8, shuffle_buffer=8, seed=3)
    return LoaderConfig(**{**base, **kw})


def keys(loader) -> list[str]:
    return [k for batch in loader for k in batch["keys"]]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(root, n_shards=5, docs_per_shard=7, seed=11)
    return root


def all_keys(root) -> list[str]:
    from interleaf.loaders import read_shard

    return [raw["__key__"] for url in expand_urls(str(root)) for raw in read_shard(url, Counter())]


def test_every_sample_once_per_epoch_across_ranks(shards, tokenizer):
    expected = sorted(all_keys(shards))
    for world in (1, 2, 3, 8):  # 8 streams > 5 shards: split by sample instead of by shard
        seen = [k for rank in range(world)
                for k in keys(make_dataloader(str(shards), tokenizer, cfg(rank=rank, world_size=world)))]
        assert sorted(seen) == expected, world


def test_workers_split_and_batches_follow_the_contract(shards, tokenizer):
    loader = make_dataloader(str(shards), tokenizer, cfg(), num_workers=2)
    seen = []
    for batch in loader:
        seen += batch["keys"]
        B, L = batch["input_ids"].shape
        assert batch["pixels"].shape[:3] == (B, batch["image_mask"].shape[1], 1) and batch["pixels"].dtype == torch.float32
        assert batch["labels"].shape == batch["phi"].shape == batch["attention_mask"].shape == (B, L)
    assert sorted(seen) == sorted(all_keys(shards))


def test_deterministic_given_seed_and_shuffled_per_epoch(shards, tokenizer):
    first = make_dataloader(str(shards), tokenizer, cfg())
    a = [b for b in first]
    b = [b for b in make_dataloader(str(shards), tokenizer, cfg())]
    assert [x["keys"] for x in a] == [x["keys"] for x in b]
    assert all(torch.equal(x["input_ids"], y["input_ids"]) and torch.equal(x["pixels"], y["pixels"]) for x, y in zip(a, b))
    epoch2 = keys(first)  # the same loader's second pass is epoch 1
    assert sorted(epoch2) == sorted(k for x in a for k in x["keys"]) and epoch2 != [k for x in a for k in x["keys"]]
    other_seed = keys(make_dataloader(str(shards), tokenizer, cfg(seed=4)))
    assert other_seed != [k for x in a for k in x["keys"]]
    unshuffled = keys(make_dataloader(str(shards), tokenizer, cfg(shuffle_shards=False, shuffle_buffer=0)))
    assert unshuffled == all_keys(shards)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_mid_epoch_gives_the_rest_of_the_epoch(shards, tokenizer, num_workers):
    config = cfg(p_next=0.5)
    full = list(make_dataloader(str(shards), tokenizer, config, num_workers=num_workers))
    loader = make_dataloader(str(shards), tokenizer, config, num_workers=num_workers)
    it = iter(loader)
    head = [next(it) for _ in range(3)]
    state = loader.state_dict()
    del it
    resumed = make_dataloader(str(shards), tokenizer, config, num_workers=num_workers)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(head) + len(rest) == len(full)
    for x, y in zip(head + rest, full):
        assert x["keys"] == y["keys"]
        for name in ("input_ids", "labels", "phi", "pixels", "image_mask"):
            assert torch.equal(x[name], y[name]), name
    assert resumed.epoch == 1 and resumed.state_dict()["consumed"] == {}


def test_resume_refuses_a_different_worker_count(shards, tokenizer):
    state = make_dataloader(str(shards), tokenizer, cfg(), num_workers=2).state_dict()
    with pytest.raises(ValueError, match="resume"):
        make_dataloader(str(shards), tokenizer, cfg(), num_workers=0).load_state_dict(state)


def test_damaged_shards_and_samples_are_skipped_counted_and_named(tmp_path, tokenizer):
    rng = random.Random(5)
    good = write_shard(tmp_path / "a.tar", [random_document(rng, image_p=0.6) for _ in range(6)])
    truncated = write_shard(tmp_path / "b.tar", [random_document(rng, image_p=0.6) for _ in range(6)])
    with tarfile.open(truncated) as tar:
        json_members = [m for m in tar.getmembers() if m.name.endswith(".json")]
    cut = json_members[4].offset_data + 10  # inside the 5th document's JSON
    truncated.write_bytes(truncated.read_bytes()[:cut])
    (tmp_path / "c.tar").write_bytes(b"this is not a tar file at all" * 50)
    bad = [random_document(rng, n_nodes=4, image_p=0.5) for _ in range(3)]
    while not bad[2].images:
        bad[2] = random_document(rng, n_nodes=4, image_p=0.5)
    with TarWriter(str(tmp_path / "d.tar"), encoder=False) as w:
        w.write({"__key__": bad[0].id, "json": b"{not json"})
        w.write({"__key__": bad[1].id, "txt": b"no document here"})
        members = sample_members(bad[2])
        members.pop(bad[2].images[0].member)  # an image whose member is missing
        w.write(members)
    loader = make_dataloader(str(tmp_path), tokenizer, cfg(shuffle_shards=False))
    with pytest.warns(SkippedDataWarning) as record:
        seen = keys(loader)
    messages = " ".join(str(r.message) for r in record)
    assert "b.tar" in messages and "c.tar" in messages and bad[0].id in messages and bad[1].id in messages
    stats = loader.totals
    assert stats["corrupt_shard"] == 2 and stats["bad_document"] == 1 and stats["no_document"] == 1
    assert stats["image_missing"] == 1
    assert set(all_keys_of(good)) <= set(seen) and bad[2].id in seen
    assert len(seen) == 6 + 4 + 1  # the truncated shard gives its 4 complete samples


def all_keys_of(path) -> list[str]:
    from interleaf.loaders import read_shard

    return [raw["__key__"] for raw in read_shard(str(path), Counter())]


def test_brace_lists_pipes_and_http(shards, tokenizer, tmp_path):
    expected = sorted(all_keys(shards))
    assert sorted(keys(make_dataloader(f"{shards}/shard-{{00000..00004}}.tar", tokenizer, cfg()))) == expected
    piped = [f"pipe:cat {p}" for p in expand_urls(str(shards))]
    assert sorted(keys(make_dataloader(piped, tokenizer, cfg()))) == expected
    served = tmp_path / "www"
    shutil.copytree(shards, served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/shard-{{00000..00004}}.tar"
        assert sorted(keys(make_dataloader(url, tokenizer, cfg(), num_workers=2))) == expected
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("drop_last", [False, True])
def test_skips_after_the_last_batch_are_counted(tmp_path, tokenizer, drop_last):
    rng = random.Random(8)
    docs = [random_document(rng) for _ in range(5)]
    with TarWriter(str(tmp_path / "a.tar"), encoder=False) as w:
        for doc in docs:
            w.write(sample_members(doc))
        w.write({"__key__": "broken", "json": b"[]"})
    loader = make_dataloader(str(tmp_path), tokenizer, cfg(shuffle_buffer=0, drop_last=drop_last))
    with pytest.warns(SkippedDataWarning, match="broken"):
        seen = keys(loader)
    assert seen == [d.id for d in docs][: 4 if drop_last else 5]
    assert loader.totals["bad_document"] == 1


def test_other_schemes_go_through_fsspec(shards, tokenizer):
    """s3:// and the like open through fsspec; its in-memory filesystem stands in for them here."""
    import fsspec

    fs = fsspec.filesystem("memory")
    urls = []
    for path in expand_urls(str(shards)):
        url = f"memory://interleaf-test/{path.rsplit('/', 1)[1]}"
        with fs.open(url, "wb") as f, open(path, "rb") as src:
            f.write(src.read())
        urls.append(url)
    try:
        assert sorted(keys(make_dataloader(urls, tokenizer, cfg()))) == sorted(all_keys(shards))
    finally:
        fs.rm("memory://interleaf-test", recursive=True)


def test_resume_after_any_batch_restores_samples_and_skip_counters(tmp_path, tokenizer):
    write_shards(tmp_path, n_shards=3, docs_per_shard=5, seed=21)
    with TarWriter(str(tmp_path / "shard-00003.tar"), encoder=False) as w:
        w.write({"__key__": "bad", "json": b"{"})
        for doc in (random_document(random.Random(i)) for i in range(3)):
            w.write(sample_members(doc))
    (tmp_path / "shard-00004.tar").write_bytes(b"\0garbage" * 100)
    config = cfg(batch_size=3, shuffle_buffer=4)
    with pytest.warns(SkippedDataWarning):
        full_loader = make_dataloader(str(tmp_path), tokenizer, config)
        full = [b["keys"] for b in full_loader]
        for k in range(1, len(full)):
            loader = make_dataloader(str(tmp_path), tokenizer, config)
            it = iter(loader)
            head = [next(it)["keys"] for _ in range(k)]
            resumed = make_dataloader(str(tmp_path), tokenizer, config)
            resumed.load_state_dict(loader.state_dict())
            assert head + [b["keys"] for b in resumed] == full, k
            assert resumed.totals == full_loader.totals == {"bad_document": 1, "corrupt_shard": 1}, k
