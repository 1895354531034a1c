"""Hugging Face adapters, on tiny random models saved to and loaded back from a local path."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import transformers  # installed by the dev extra: a missing one must fail, not skip

from interleaf.flamingo.adapters import HFCausalLM, HFVisionEncoder  # noqa: E402
from interleaf.flamingo.generate import greedy_decode  # noqa: E402
from interleaf.flamingo.model import Flamingo, FlamingoConfig  # noqa: E402

VOCAB = 50


def save_lm(kind: str, path) -> str:
    torch.manual_seed(0)
    if kind == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2)
        model = transformers.GPT2LMHeadModel(cfg)
    else:
        cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
        model = transformers.LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    return str(path)


def save_vision(kind: str, path) -> str:
    torch.manual_seed(0)
    if kind == "vit":
        cfg = transformers.ViTConfig(image_size=16, patch_size=8, hidden_size=24, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=48)
        transformers.ViTModel(cfg).save_pretrained(path)
    else:
        cfg = transformers.CLIPVisionConfig(image_size=16, patch_size=8, hidden_size=24, num_hidden_layers=1,
                                            num_attention_heads=2, intermediate_size=48)
        transformers.CLIPVisionModel(cfg).save_pretrained(path)
    return str(path)


def make_batch(L=10, N=2):
    torch.manual_seed(3)
    ids = torch.randint(3, VOCAB + 2, (1, L))
    ids[0, 1], ids[0, 5] = VOCAB, VOCAB  # the new <image> token
    ids[0, 4], ids[0, 8] = VOCAB + 1, VOCAB + 1  # the new <|endofchunk|> token
    phi = torch.cumsum(ids == VOCAB, 1)
    return ids, phi, torch.randn(1, N, 1, 3, 16, 16), torch.ones(1, N, dtype=torch.bool)


@pytest.mark.parametrize("lm_kind,vision_kind", [("gpt2", "vit"), ("llama", "clip")])
def test_hf_flamingo_gating_freezing_and_cache(tmp_path, lm_kind, vision_kind):
    lm_path, vis_path = save_lm(lm_kind, tmp_path / "lm"), save_vision(vision_kind, tmp_path / "vis")
    lm = HFCausalLM(lm_path, vocab_size=VOCAB + 2)
    vision = HFVisionEncoder(vis_path)
    assert vision.dim == 24 and vision.image_size == 16
    cfg = FlamingoConfig(n_latents=4, resampler_depth=1, n_head=2, dim_head=8, trainable_token_ids=(VOCAB, VOCAB + 1))
    model = Flamingo(vision, lm, cfg)
    ids, phi, pixels, mask = make_batch()

    # The bare LM with the same (resized) embeddings: closed gates reproduce it exactly.
    bare = HFCausalLM(lm_path, vocab_size=VOCAB + 2)
    bare.model.get_input_embeddings().weight.data.copy_(lm.model.get_input_embeddings().weight.data)
    bare.model.get_output_embeddings().weight.data.copy_(lm.model.get_output_embeddings().weight.data)
    logits, _ = model(ids, phi, pixels=pixels, image_mask=mask)
    assert torch.equal(logits, bare(ids))

    # Only resampler, xattn blocks and the embedding (two rows) train.
    model.train()
    labels = ids.roll(-1, 1)
    labels[0, -1] = -100
    _, loss = model(ids, phi, pixels=pixels, image_mask=mask, labels=labels)
    loss.backward()
    tables = model.token_tables()
    assert len(tables) == (2 if lm_kind == "llama" else 1)  # Llama's output embedding is untied
    for name, p in model.named_parameters():
        if any(p is t for t in tables):
            others = torch.ones(p.shape[0], dtype=torch.bool)
            others[[VOCAB, VOCAB + 1]] = False
            assert torch.equal(p.grad[others], torch.zeros_like(p.grad[others])), name
            assert p.grad[VOCAB + 1].abs().sum() > 0, name  # <|endofchunk|> row learns
        elif not (name.startswith("resampler.") or ".xattn." in name):
            assert p.grad is None, name
    for block in model.xattn:
        assert block.attn_gate.grad.abs().item() > 0

    # Cached greedy decoding == argmax of full forward passes.
    with torch.no_grad():
        for block in model.xattn:
            block.attn_gate.fill_(0.5)
            block.ff_gate.fill_(0.5)
    new = greedy_decode(model, ids, phi, pixels, mask, max_new_tokens=5)
    for tok in new:
        full, _ = model(ids, phi, pixels=pixels, image_mask=mask)
        assert int(full[0, -1].argmax()) == tok
        ids = torch.cat([ids, torch.tensor([[tok]])], 1)
        phi = torch.cat([phi, phi[:, -1:]], 1)
