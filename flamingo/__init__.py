"""The bundled reference Flamingo: read ``model.py`` top to bottom for the architecture.

    from interleaf.flamingo import GPT, ViT, Flamingo, FlamingoConfig, GPTConfig, ViTConfig
    model = Flamingo(ViT(ViTConfig()), GPT(GPTConfig(vocab_size=tok.vocab_size)),
                     FlamingoConfig(trainable_token_ids=(tok.image_id, tok.eoc_id)))
    logits, loss = model(**batch)          # a batch of the loaders' batch contract

model.py      GPT, ViT, Perceiver Resampler, GATED XATTN-DENSE, Flamingo (freezing included)
adapters.py   Hugging Face causal LMs and vision towers, timm encoders, from local paths
train.py      AdamW + warmup/cosine, clipping, bf16 autocast on GPU, checkpoint/resume
generate.py   prompt encoding and greedy decoding with cached visual tokens and LM keys/values
build.py      the model spec a checkpoint stores, and rebuilding a model from it
run.py        shards -> trained model (``interleaf train``)
synthetic.py  the synthetic shapes corpus, evaluate.py its caption-accuracy check
"""

from .build import ModelSpec, build_model, load_checkpoint_model
from .generate import encode_prompt, generate, greedy_decode
from .model import GPT, ViT, Flamingo, FlamingoConfig, GPTConfig, ViTConfig
from .run import RunConfig, train_flamingo
from .train import TrainConfig, Trainer

__all__ = [
    "GPT",
    "Flamingo",
    "FlamingoConfig",
    "GPTConfig",
    "ModelSpec",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "ViT",
    "ViTConfig",
    "build_model",
    "encode_prompt",
    "generate",
    "greedy_decode",
    "load_checkpoint_model",
    "train_flamingo",
]
