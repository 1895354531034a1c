"""Correctness of the reference Flamingo on tiny random models (CPU): gating, masking, freezing,
padding invariance and cached generation."""

import copy

import pytest
import torch

from interleaf.flamingo.generate import greedy_decode
from interleaf.flamingo.model import GPT, ViT, Flamingo, FlamingoConfig, GPTConfig, ViTConfig

V, IMAGE, EOC = 64, 5, 6  # vocab; <image> and <|endofchunk|> ids


def tiny(cross_attn_every: int = 1, seed: int = 0) -> tuple[Flamingo, GPT]:
    torch.manual_seed(seed)
    lm = GPT(GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=2, n_embd=32))
    bare = copy.deepcopy(lm)
    vit = ViT(ViTConfig(image_size=16, patch_size=8, n_layer=1, n_head=2, n_embd=24))
    cfg = FlamingoConfig(cross_attn_every=cross_attn_every, n_latents=4, resampler_depth=1, n_head=2, dim_head=8,
                         max_frames=2, trainable_token_ids=(IMAGE, EOC))
    return Flamingo(vit, lm, cfg).eval(), bare.eval()


def open_gates(model: Flamingo) -> None:
    with torch.no_grad():
        for block in model.xattn:
            block.attn_gate.fill_(0.7)
            block.ff_gate.fill_(-0.4)


def batch(B=2, L=12, N=3, F=1, seed=1):
    """Random ids with <image> tokens at fixed places; phi = index of the latest <image>."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, V, (B, L), generator=g)
    ids[:, 2], ids[:, 6], ids[:, 9] = IMAGE, IMAGE, IMAGE
    phi = torch.cumsum(ids == IMAGE, dim=1)
    pixels = torch.randn(B, N, F, 3, 16, 16, generator=g)
    return dict(input_ids=ids, phi=phi, attention_mask=torch.ones(B, L, dtype=torch.bool),
                pixels=pixels, image_mask=torch.ones(B, N, dtype=torch.bool))


def test_closed_gates_give_the_bare_lm_logits_exactly():
    model, bare = tiny()
    b = batch()
    logits, _ = model(**b)
    assert torch.equal(logits, bare(b["input_ids"]))


def test_open_gates_change_the_logits():
    model, bare = tiny()
    open_gates(model)
    b = batch()
    assert not torch.allclose(model(**b)[0], bare(b["input_ids"]), atol=1e-4)


@pytest.mark.parametrize("changed", [1, 2, 3])
def test_a_token_only_sees_image_phi(changed):
    model, _ = tiny()
    open_gates(model)
    b = batch()
    before, _ = model(**b)
    b2 = copy.deepcopy(b)
    b2["pixels"][:, changed - 1] += torch.randn_like(b2["pixels"][:, changed - 1])
    after, _ = model(**b2)
    # Cross-attention alone: the xattn output of the first block at token t.
    block = model.xattn[0]
    y = torch.randn(2, 12, 32)
    outs = []
    for bb in (b, b2):
        visual = model.encode_images(bb["pixels"], bb["image_mask"])
        model.ctx.visual, model.ctx.phi = visual.flatten(1, 2), bb["phi"]
        model.ctx.media_ids = torch.arange(1, 4).repeat_interleave(visual.shape[2])
        with torch.no_grad():
            block.ff_gate.zero_()
        outs.append(block(y, model.ctx) - y)
    same = b["phi"] != changed
    assert torch.equal(outs[0][same], outs[1][same])
    assert not torch.allclose(outs[0][~same], outs[1][~same])
    # Through the whole causal LM: tokens before the changed image's <image> token are untouched.
    first = int((b["phi"][0] == changed).nonzero()[0])
    assert torch.equal(before[:, :first], after[:, :first])
    assert not torch.allclose(before[:, first:], after[:, first:])


def test_tokens_with_phi_zero_get_exactly_zero_cross_attention():
    model, _ = tiny()
    open_gates(model)
    b = batch()
    block = model.xattn[0]
    with torch.no_grad():
        block.ff_gate.zero_()
    visual = model.encode_images(b["pixels"], b["image_mask"])
    model.ctx.visual, model.ctx.phi = visual.flatten(1, 2), b["phi"]
    model.ctx.media_ids = torch.arange(1, 4).repeat_interleave(visual.shape[2])
    y = torch.randn(2, 12, 32)
    out = block(y, model.ctx) - y
    assert (b["phi"] == 0).sum() == 4
    assert torch.equal(out[b["phi"] == 0], torch.zeros_like(out[b["phi"] == 0]))
    assert out[b["phi"] > 0].abs().sum(-1).min() > 0


def pad(b, L2, N2):
    """Right-pad a batch to L2 tokens and N2 image slots with junk that must not matter."""
    B, L = b["input_ids"].shape
    N = b["pixels"].shape[1]
    out = dict(b)
    out["input_ids"] = torch.cat([b["input_ids"], torch.full((B, L2 - L), 3)], 1)
    out["phi"] = torch.cat([b["phi"], torch.zeros(B, L2 - L, dtype=torch.long)], 1)
    out["attention_mask"] = torch.cat([b["attention_mask"], torch.zeros(B, L2 - L, dtype=torch.bool)], 1)
    extra = torch.zeros(B, N2 - N, *b["pixels"].shape[2:])
    out["pixels"] = torch.cat([b["pixels"], extra], 1)
    out["image_mask"] = torch.cat([b["image_mask"], torch.zeros(B, N2 - N, dtype=torch.bool)], 1)
    return out


def test_padding_empty_slots_and_batch_mates_do_not_change_real_logits():
    model, _ = tiny()
    open_gates(model)
    b = batch()
    ref, _ = model(**b)
    padded, _ = model(**pad(b, 20, 5))
    torch.testing.assert_close(padded[:, :12], ref, atol=1e-5, rtol=1e-5)
    # Sample 0 alone, and sample 0 next to a different, longer sample with more images.
    alone = {k: v[:1] for k, v in b.items()}
    other = pad(batch(B=1, seed=7), 20, 5)
    mixed = {k: torch.cat([pad(alone, 20, 5)[k], other[k]]) for k in b}
    torch.testing.assert_close(model(**alone)[0][0], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(**mixed)[0][0, :12], ref[0], atol=1e-5, rtol=1e-5)


def test_only_adapters_train_and_gates_get_gradient_at_step_zero():
    model, _ = tiny()
    model.train()
    b = batch()
    labels = b["input_ids"].roll(-1, 1)
    labels[:, -1] = -100
    _, loss = model(**b, labels=labels)
    loss.backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        n.startswith("resampler.") or ".xattn." in n or n == "lm.wte.weight" for n in trainable
    ), trainable
    for n, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, n
    emb = model.lm.wte.weight.grad
    others = torch.ones(V, dtype=torch.bool)
    others[[IMAGE, EOC]] = False
    assert torch.equal(emb[others], torch.zeros_like(emb[others]))
    assert emb[IMAGE].abs().sum() > 0
    for block in model.xattn:
        assert block.attn_gate.grad.abs().item() > 0 and block.ff_gate.grad.abs().item() > 0


def test_cross_attention_every_k_layers():
    model, _ = tiny(cross_attn_every=2)
    assert len(model.xattn) == 1
    assert type(model.lm.blocks[0]).__name__ == "XAttnLayer" and type(model.lm.blocks[1]).__name__ == "Block"


def test_video_frames_use_time_embeddings():
    model, _ = tiny()
    open_gates(model)
    with torch.no_grad():
        model.resampler.time_emb.normal_()
    b = batch(F=2)
    logits, _ = model(**b)
    swapped = dict(b, pixels=b["pixels"].flip(2))  # same frames, other order
    assert not torch.allclose(model(**swapped)[0], logits, atol=1e-5)


def test_cached_greedy_decoding_equals_full_forward_argmax():
    model, _ = tiny()
    open_gates(model)
    b = {k: v[:1] for k, v in batch().items()}
    new = greedy_decode(model, b["input_ids"], b["phi"], b["pixels"], b["image_mask"], max_new_tokens=8)
    ids, phi = b["input_ids"], b["phi"]
    for tok in new:
        logits, _ = model(ids, phi, pixels=b["pixels"], image_mask=b["image_mask"])
        assert int(logits[0, -1].argmax()) == tok
        ids = torch.cat([ids, torch.tensor([[tok]])], 1)
        phi = torch.cat([phi, phi[:, -1:]], 1)


def test_a_batch_without_any_image_is_the_bare_lm_even_with_open_gates_on_attention():
    model, bare = tiny()
    with torch.no_grad():
        for block in model.xattn:
            block.attn_gate.fill_(0.7)  # ffw gate stays 0: only cross-attention could change anything
    b = batch()
    b["input_ids"][b["input_ids"] == IMAGE] = 11
    b["phi"].zero_()
    b["image_mask"].zero_()
    logits, _ = model(**b)
    assert torch.equal(logits, bare(b["input_ids"]))


def test_bf16_autocast_forward_and_backward_run_and_stay_finite():
    # The GPU path trains under bf16 autocast; CPU autocast exercises the same dtype mixing.
    model, _ = tiny()
    open_gates(model)
    model.train()
    b = batch()
    labels = b["input_ids"].roll(-1, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(**b, labels=labels)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
