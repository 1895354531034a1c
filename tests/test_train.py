"""Training loop, checkpoint/resume and the `interleaf train` / `interleaf generate` commands, on a
small synthetic corpus written as real shards and read by the real loader."""

import json

import pytest
import torch

from interleaf.cli import main
from interleaf.flamingo.build import ModelSpec, build_model
from interleaf.flamingo.model import GPT, FlamingoConfig, GPTConfig, ViTConfig
from interleaf.flamingo.synthetic import write_corpus
from interleaf.flamingo.train import TrainConfig, Trainer, lr_at
from interleaf.loaders import LoaderConfig, make_dataloader, shard_texts, train_tokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    paths = write_corpus(out, n_train=48, n_heldout=4, image_size=16)
    return {k: [str(p) for p in v] for k, v in paths.items()}


def test_lr_warms_up_then_decays_to_min():
    c = TrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup=10)
    lrs = [lr_at(s, c) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lr_at(100, c) == pytest.approx(1e-4)


class Crash(Exception):
    pass


class CrashAfter:
    """A loader that dies after n batches, as a preempted job would."""

    def __init__(self, loader, n):
        self.loader, self.n = loader, n

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == self.n:
                raise Crash
            yield batch

    def state_dict(self):
        return self.loader.state_dict()


def tiny_model(vocab_size, image_id, eoc_id):
    torch.manual_seed(0)
    spec = ModelSpec(vit=ViTConfig(image_size=16, patch_size=8, n_layer=1, n_head=2, n_embd=16),
                     flamingo=FlamingoConfig(n_latents=2, resampler_depth=1, n_head=2, dim_head=8,
                                             trainable_token_ids=(image_id, eoc_id)))
    return build_model(spec, lm=GPT(GPTConfig(vocab_size=vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)))


def test_resume_after_a_crash_ends_where_an_uninterrupted_run_ends(corpus, tmp_path):
    tok = train_tokenizer(shard_texts(corpus["train"]), 300, min_frequency=1)
    cfg = LoaderConfig(max_tokens=48, max_images=3, image_size=16, mean=(0.5,) * 3, std=(0.5,) * 3,
                       batch_size=4, shuffle_buffer=8)
    train = TrainConfig(steps=8, lr=1e-3, warmup=2, log_every=1, ckpt_every=3)

    def run(out, crash_after=None):
        model = tiny_model(tok.vocab_size, tok.image_id, tok.eoc_id)
        loader = make_dataloader(corpus["train"], tok, LoaderConfig(**vars(cfg)))
        trainer = Trainer(model, train, out, log=lambda s: None)
        trainer.resume(loader)
        trainer.fit(CrashAfter(loader, crash_after) if crash_after else loader)
        return model, trainer

    straight, t1 = run(tmp_path / "a")
    with pytest.raises(Crash):
        run(tmp_path / "b", crash_after=4)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["step"] == 3
    resumed, t2 = run(tmp_path / "b")
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)
    logged = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(1, 9)) and all(r["loss"] > 0 for r in logged)
    # Only the trainable parameters moved; the frozen LM and ViT did not.
    fresh = tiny_model(tok.vocab_size, tok.image_id, tok.eoc_id)
    for (name, p), q in zip(straight.named_parameters(), fresh.parameters()):
        assert torch.equal(p, q) != p.requires_grad, name


def test_train_and_generate_commands(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--shards", *corpus["train"], "--out", str(out), "--vocab-size", "300", "--n-layer", "1",
            "--n-embd", "32", "--n-head", "2", "--image-size", "16", "--latents", "4", "--steps", "3",
            "--batch-size", "4", "--max-tokens", "48", "--pretrain-lm-steps", "2", "--warmup", "1",
            "--log-every", "1", "--workers", "0"]
    assert main(args) == 0
    assert (out / "checkpoint.pt").exists() and (out / "tokenizer.json").exists()
    assert len((out / "log.jsonl").read_text().splitlines()) == 3
    # Running again resumes at the last step: nothing left to do, nothing logged.
    assert main(args) == 0
    assert "resumed from" in capsys.readouterr().out
    assert len((out / "log.jsonl").read_text().splitlines()) == 3

    from interleaf.flamingo.evaluate import read_documents

    doc, images = next(iter(read_documents(corpus["heldout"])))
    paths = []
    for i, img in enumerate(images[:2]):
        paths.append(str(tmp_path / f"{i}.png"))
        img.save(paths[-1])
    prompt = [paths[0], doc.texts[0].text, paths[-1]]
    assert main(["generate", "--checkpoint", str(out / "checkpoint.pt"), "--max-new-tokens", "4", *prompt]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # one continuation, whatever this tiny model says


def test_prompt_encoding_matches_the_loaders_training_samples(corpus):
    import random

    from interleaf.flamingo.evaluate import read_documents
    from interleaf.flamingo.generate import encode_prompt
    from interleaf.loaders import build_sample, collate

    tok = train_tokenizer(shard_texts(corpus["train"]), 300, min_frequency=1)
    cfg = LoaderConfig(max_tokens=256, max_images=8, image_size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
    for doc, images in list(read_documents(corpus["heldout"])):
        sample = build_sample(doc, images, tok, cfg, random.Random(0))
        items = [img if node.type == "image" else node.text for node, img in
                 zip(doc.nodes, _align(doc, images))]
        prompt = encode_prompt(tok, items, 16, (0.5,) * 3, (0.5,) * 3)
        n = prompt["input_ids"].shape[1]
        assert prompt["input_ids"][0].tolist() == sample["input_ids"][:n].tolist()
        assert prompt["phi"][0].tolist() == sample["phi"][:n].tolist()
        torch.testing.assert_close(prompt["pixels"], collate([sample], tok.pad_id, cfg)["pixels"])


def _align(doc, images):
    """One entry per node: the decoded image for image nodes, None for text nodes."""
    it = iter(images)
    return [next(it) if node.type == "image" else None for node in doc.nodes]
