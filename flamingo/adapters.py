"""Pretrained parts loaded from a local path, behind the same small interfaces as the built-in
GPT and ViT (see model.py). Nothing here reaches a hub: paths are directories written by
``save_pretrained`` (Hugging Face) or checkpoint files (timm)."""

from __future__ import annotations

import torch
from torch import nn

# Where common Hugging Face causal LMs keep their decoder layers.
_LAYER_PATHS = ("model.layers", "transformer.h", "model.decoder.layers", "gpt_neox.layers", "transformer.layers")


def _get(obj, dotted: str):
    for name in dotted.split("."):
        obj = getattr(obj, name)
    return obj


class HFCausalLM(nn.Module):
    """Any Hugging Face causal LM (GPT-2, Llama, OPT, GPT-NeoX, ...) loaded from a local directory."""

    def __init__(self, path: str, vocab_size: int | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
        if vocab_size is not None and vocab_size != self.model.get_input_embeddings().num_embeddings:
            self.model.resize_token_embeddings(vocab_size)  # room for <image> and <|endofchunk|>
        self.config = self.model.config
        self.n_embd = self.model.get_input_embeddings().embedding_dim
        self.model.eval()

    def train(self, mode: bool = True) -> "HFCausalLM":
        return super().train(False)  # frozen LM: its dropout stays off while the adapters train

    def decoder_layers(self) -> nn.ModuleList:
        for dotted in _LAYER_PATHS:
            try:
                return _get(self.model, dotted)
            except AttributeError:
                continue
        raise ValueError(f"cannot find the decoder layers of {type(self.model).__name__}")

    def input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def output_embeddings(self) -> nn.Module | None:
        return self.model.get_output_embeddings()

    def new_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self.config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, cache=None) -> torch.Tensor:
        out = self.model(
            input_ids=input_ids,
            attention_mask=None if cache is not None else attention_mask,
            past_key_values=cache,
            use_cache=cache is not None,
        )
        return out.logits


class HFVisionEncoder(nn.Module):
    """A Hugging Face vision tower (ViT, CLIP, SigLIP, DINOv2 ...) from a local directory:
    images -> last hidden state [M, S, dim]."""

    def __init__(self, path: str):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
        # Dual encoders (CLIP, SigLIP) keep the image tower under .vision_model.
        self.model = getattr(model, "vision_model", model)
        vcfg = getattr(config, "vision_config", config)
        self.dim, self.image_size = vcfg.hidden_size, vcfg.image_size
        self.mean, self.std = _normalisation(path)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=images).last_hidden_state


def _normalisation(path: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        return tuple(proc.image_mean), tuple(proc.image_std)
    except (OSError, ValueError, AttributeError):
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


class TimmVisionEncoder(nn.Module):
    """A timm model by architecture name with weights from a local file; its token features
    (``forward_features``) are the encoder output. timm is imported only here (it pulls torchvision)."""

    def __init__(self, name: str, checkpoint: str):
        super().__init__()
        import timm

        self.model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": checkpoint}, num_classes=0)
        cfg = self.model.pretrained_cfg
        self.dim, self.image_size = self.model.num_features, cfg["input_size"][-1]
        self.mean, self.std = tuple(cfg["mean"]), tuple(cfg["std"])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.model.forward_features(images)
        return x.flatten(2).transpose(1, 2) if x.dim() == 4 else x  # CNN maps [M,D,h,w] -> tokens
