"""The reference Flamingo (Alayrac et al., 2022), top to bottom in one file.

    pixels [B,N,F,C,H,W] --vision encoder (frozen)--> [M,F,S,Dv] --Perceiver Resampler--> [B,N,R,Dv]
    input_ids [B,L] --frozen decoder LM, with a GATED XATTN-DENSE block before every k-th layer--> logits

A token t cross-attends only to the R visual tokens of image phi[t] (0: none). The gates are
tanh(a), tanh(b) with a = b = 0 at init, so an untrained Flamingo *is* its language model.
Only the resampler, the cross-attention blocks and the special-token embedding rows train.

The built-in GPT and ViT are small nanoGPT-style transformers for tests and demos; any module
with the same small interface (see ``flamingo/adapters.py`` for Hugging Face and timm) plugs in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    vocab_size: int = 512
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128


@dataclass
class ViTConfig:
    image_size: int = 32
    patch_size: int = 8
    channels: int = 3
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64


@dataclass
class FlamingoConfig:
    cross_attn_every: int = 1  # a GATED XATTN-DENSE block before every k-th LM layer
    n_latents: int = 16  # R visual tokens per image
    resampler_depth: int = 2
    max_frames: int = 8  # learned time embeddings: video clips of up to this many frames
    n_head: int = 4
    dim_head: int = 32
    ff_mult: int = 4
    freeze_vision: bool = True
    trainable_token_ids: tuple[int, ...] = ()  # e.g. <image>, <|endofchunk|>: their embedding rows train


# ---------------------------------------------------------------------------- shared pieces


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """[B, T, H*D] -> [B, H, T, D]"""
    return x.view(*x.shape[:2], n_head, x.shape[-1] // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, H, T, D] -> [B, T, H*D]"""
    return x.transpose(1, 2).flatten(2)


def feed_forward(dim: int, mult: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


class KVCache:
    """Keys and values of every self-attention layer, grown in place as tokens are decoded."""

    def __init__(self) -> None:
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return self.layers[0][0].shape[2] if self.layers else 0

    def update(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if i in self.layers:
            k = torch.cat([self.layers[i][0], k], dim=2)
            v = torch.cat([self.layers[i][1], v], dim=2)
        self.layers[i] = (k, v)
        return k, v


class SelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, causal: bool, layer_idx: int = 0):
        super().__init__()
        self.n_head, self.causal, self.layer_idx = n_head, causal, layer_idx
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        q, k, v = (split_heads(t, self.n_head) for t in self.qkv(x).chunk(3, dim=-1))
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        T, S = q.shape[2], k.shape[2]
        if not self.causal:
            y = F.scaled_dot_product_attention(q, k, v)
        elif T == S:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # new tokens after a cached prefix: token i sees keys up to S - T + i
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(merge_heads(y))


class Block(nn.Module):
    """Pre-norm transformer block, causal for the GPT and bidirectional for the ViT."""

    def __init__(self, n_embd: int, n_head: int, causal: bool, layer_idx: int = 0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = SelfAttention(n_embd, n_head, causal, layer_idx)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


# ---------------------------------------------------------------------------- the frozen LM


class GPT(nn.Module):
    """A small decoder LM. The interface Flamingo needs from any LM: ``decoder_layers()``,
    ``input_embeddings()``, ``n_embd``, ``new_cache()`` and ``forward(ids, attention_mask, cache)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config, self.n_embd = config, config.n_embd
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config.n_embd, config.n_head, True, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as in GPT-2
        self.apply(_init_weights)

    def decoder_layers(self) -> nn.ModuleList:
        return self.blocks

    def input_embeddings(self) -> nn.Embedding:
        return self.wte

    def new_cache(self) -> KVCache:
        return KVCache()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        # Right padding plus causal attention: real tokens never see padding, so no mask is needed.
        start = len(cache) if cache is not None else 0
        pos = torch.arange(start, start + input_ids.shape[1], device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(pos)
        for block in self.blocks:
            x = block(x, cache)
        return self.lm_head(self.ln_f(x))


# ---------------------------------------------------------------------------- the frozen vision encoder


class ViT(nn.Module):
    """A small ViT. The interface Flamingo needs from any vision encoder: ``dim``, ``image_size``,
    ``mean``/``std`` (the loader's normalisation) and ``forward(images [M,C,H,W]) -> [M, S, dim]``."""

    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config, self.dim, self.image_size = config, config.n_embd, config.image_size
        n_patches = (config.image_size // config.patch_size) ** 2
        self.patch = nn.Conv2d(config.channels, config.n_embd, config.patch_size, stride=config.patch_size)
        self.pos = nn.Parameter(torch.randn(1, n_patches, config.n_embd) * 0.02)
        self.blocks = nn.ModuleList(Block(config.n_embd, config.n_head, False) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.apply(_init_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch(images).flatten(2).transpose(1, 2) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------- Perceiver Resampler


class PerceiverAttention(nn.Module):
    """Latents attend to concat(image features, latents): x = x + attn(q=x, kv=[x_f; x])."""

    def __init__(self, dim: int, n_head: int, dim_head: int):
        super().__init__()
        self.n_head = n_head
        self.norm_media, self.norm_latents = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, n_head * dim_head, bias=False)
        self.to_kv = nn.Linear(dim, 2 * n_head * dim_head, bias=False)
        self.to_out = nn.Linear(n_head * dim_head, dim, bias=False)

    def forward(self, x_f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        x_f, x = self.norm_media(x_f), self.norm_latents(x)
        q = split_heads(self.to_q(x), self.n_head)
        k, v = (split_heads(t, self.n_head) for t in self.to_kv(torch.cat([x_f, x], dim=1)).chunk(2, dim=-1))
        return self.to_out(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class PerceiverResampler(nn.Module):
    """[M, F, S, D] features of M images (clips of F frames) -> [M, R, D]: a fixed number of
    visual tokens per image, whatever its resolution or length."""

    def __init__(self, dim: int, c: FlamingoConfig):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(c.n_latents, dim) * 0.02)
        self.time_emb = nn.Parameter(torch.zeros(c.max_frames, 1, dim))
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(dim, c.n_head, c.dim_head), feed_forward(dim, c.ff_mult)])
            for _ in range(c.resampler_depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        n_frames = feats.shape[1]
        x_f = (feats + self.time_emb[:n_frames]).flatten(1, 2)  # frames and patches in one key set
        x = self.latents.expand(feats.shape[0], -1, -1)
        for attn, ffw in self.layers:
            x = x + attn(x_f, x)
            x = x + ffw(x)
        return self.norm(x)


# ---------------------------------------------------------------------------- GATED XATTN-DENSE


@dataclass
class VisualContext:
    """What the cross-attention blocks read during one LM forward: set by Flamingo, shared by all."""

    visual: torch.Tensor | None = None  # [B, N*R, Dv] visual tokens of every image slot
    media_ids: torch.Tensor | None = None  # [N*R] which image (1..N) each visual token belongs to
    phi: torch.Tensor | None = None  # [B, L] the image each current token may see (0: none)


class GatedCrossAttention(nn.Module):
    """y = y + tanh(a) * xattn(y, visual, phi);  y = y + tanh(b) * ffw(y);  a = b = 0 at init."""

    def __init__(self, dim: int, dim_visual: int, c: FlamingoConfig):
        super().__init__()
        self.n_head = c.n_head
        self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, c.n_head * c.dim_head, bias=False)
        self.to_kv = nn.Linear(dim_visual, 2 * c.n_head * c.dim_head, bias=False)
        self.to_out = nn.Linear(c.n_head * c.dim_head, dim, bias=False)
        self.ffw = feed_forward(dim, c.ff_mult)
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(self, y: torch.Tensor, ctx: VisualContext) -> torch.Tensor:
        q = split_heads(self.to_q(self.norm(y)), self.n_head)
        k, v = (split_heads(t, self.n_head) for t in self.to_kv(ctx.visual).chunk(2, dim=-1))
        mask = ctx.phi[:, :, None] == ctx.media_ids  # [B, L, N*R]
        sees = mask.any(dim=-1, keepdim=True)  # False where phi = 0
        # A row that may see nothing attends everywhere (keeps softmax finite), then is zeroed.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=(mask | ~sees)[:, None])
        out = self.to_out(merge_heads(out)) * sees
        y = y + torch.tanh(self.attn_gate) * out
        return y + torch.tanh(self.ff_gate) * self.ffw(y)


class XAttnLayer(nn.Module):
    """An LM decoder layer with a gated cross-attention block in front; everything else the LM
    passes to its layer (masks, caches, rotary embeddings) goes through untouched."""

    def __init__(self, xattn: GatedCrossAttention, layer: nn.Module, ctx: VisualContext):
        super().__init__()
        self.xattn, self.layer, self.ctx = xattn, layer, ctx

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        return self.layer(self.xattn(hidden_states, self.ctx), *args, **kwargs)


# ---------------------------------------------------------------------------- Flamingo


class Flamingo(nn.Module):
    def __init__(self, vision: nn.Module, lm: nn.Module, config: FlamingoConfig):
        super().__init__()
        self.config, self.vision, self.lm = config, vision, lm
        self.resampler = PerceiverResampler(vision.dim, config)
        self.ctx = VisualContext()
        layers = lm.decoder_layers()
        self.xattn: list[GatedCrossAttention] = []  # a plain list: the blocks live (and save) inside the LM
        for i in range(0, len(layers), config.cross_attn_every):
            block = GatedCrossAttention(lm.n_embd, vision.dim, config)
            layers[i] = XAttnLayer(block, layers[i], self.ctx)
            self.xattn.append(block)
        self.freeze()

    def freeze(self) -> None:
        """Only the resampler, the cross-attention blocks and the special-token rows train."""
        self.requires_grad_(False)
        self.resampler.requires_grad_(True)
        for block in self.xattn:
            block.requires_grad_(True)
        self.vision.requires_grad_(not self.config.freeze_vision)
        for weight in self.token_tables() if self.config.trainable_token_ids else []:
            rows = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
            rows[list(self.config.trainable_token_ids)] = 1
            weight.requires_grad_(True)
            weight.register_hook(lambda grad, rows=rows: grad * rows.to(grad.device, grad.dtype))

    def token_tables(self) -> list[nn.Parameter]:
        """The LM's input embedding and, when not tied to it, its output embedding."""
        tables = [self.lm.input_embeddings().weight]
        out = self.lm.output_embeddings() if hasattr(self.lm, "output_embeddings") else None
        if out is not None and out.weight is not tables[0]:
            tables.append(out.weight)
        return tables

    def encode_images(self, pixels: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        """pixels [B,N,F,C,H,W], image_mask [B,N] -> visual tokens [B,N,R,Dv] (zero at empty slots).
        Only real images go through the encoder, so empty slots cost nothing and change nothing."""
        B, N, n_frames = pixels.shape[:3]
        if not image_mask.any():  # a text-only batch: encoders need not handle an empty batch
            return pixels.new_zeros(B, N, self.config.n_latents, self.vision.dim)
        real = pixels[image_mask]  # [M, F, C, H, W]
        feats = self.vision(real.flatten(0, 1))
        feats = feats.view(real.shape[0], n_frames, *feats.shape[1:])
        latents = self.resampler(feats)  # [M, R, Dv]
        out = latents.new_zeros(B, N, *latents.shape[1:])
        out[image_mask] = latents
        return out

    def forward(
        self,
        input_ids: torch.Tensor,
        phi: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        visual: torch.Tensor | None = None,
        cache=None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (logits [B,L,V], mean loss over labels != -100 or None). Pass ``visual`` from
        ``encode_images`` and an LM ``cache`` to decode incrementally; phi then covers the new tokens."""
        if visual is None:
            visual = self.encode_images(pixels, image_mask)
        B, N, R = visual.shape[:3]
        self.ctx.visual = visual.flatten(1, 2)
        self.ctx.media_ids = torch.arange(1, N + 1, device=visual.device).repeat_interleave(R)
        self.ctx.phi = phi
        logits = self.lm(input_ids, attention_mask=attention_mask, cache=cache)
        self.ctx.visual = self.ctx.phi = None  # do not keep the batch alive between steps
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        return logits, loss

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay the matrices only. Embedding rows go undecayed, or AdamW would
        shrink the frozen rows whose gradient the hook zeroes."""
        decay, no_decay = [], []
        tables = {id(t) for t in self.token_tables()}
        for p in self.parameters():
            if p.requires_grad:
                (decay if p.dim() >= 2 and id(p) not in tables else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
