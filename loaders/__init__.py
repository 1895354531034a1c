"""Shards -> tokenized Flamingo batches (the batch contract in DESIGN.md).

    from interleaf.loaders import LoaderConfig, load_tokenizer, make_dataloader
    tok = load_tokenizer("tokenizer.json")          # or train_tokenizer(texts, 8192, "tokenizer.json")
    loader = make_dataloader("run/shards/shard-{00000..00009}.tar", tok, LoaderConfig(batch_size=8), num_workers=2)
    for batch in loader:                            # input_ids, attention_mask, labels, pixels,
        ...                                         # image_mask, phi (+ keys: document ids)
    state = loader.state_dict()                     # resume mid-epoch: loader.load_state_dict(state)
    loader.epoch_stats(), loader.totals             # skipped shards/samples/images by reason

Samples follow M3W: ``BOS text <image> text <|endofchunk|> ... EOS``, a random ``max_tokens``
window starting at an image where possible, at most ``max_images`` images (later ``<image>``
tokens removed).

- labels are next-token targets aligned with the logits (labels[t] = input_ids[t + 1]; no shift
  in the loss), -100 where that token is ``<image>``, at padding and at the last position; EOS
  and ``<|endofchunk|>`` are trained.
- phi: the count of ``<image>`` tokens at or before each token (flamingo-pytorch's cumsum), 0 at
  padding. With probability ``p_next`` a sample uses next-image phi as OpenFlamingo does: text
  sees the image after its chunk (text before the first image sees image 1), an ``<image>``
  token its own image, text after the last image none.
- pixels: float32 [B, N, F, 3, S, S], aspect-preserving resize to S, centred, normalised with the
  config's mean/std, zero padding; zero and image_mask False for absent images.

Size the model's embeddings with ``tok.vocab_size``; special ids are ``tok.special_ids``.
"""

from .collate import collate
from .config import CLIP_MEAN, CLIP_STD, LoaderConfig
from .dataset import InterleafDataset, InterleafLoader, make_dataloader
from .images import decode_image, image_to_tensor, normalize_into, resize_image
from .sequence import IGNORE_INDEX, build_sample, compute_phi, next_token_labels
from .shards import SkippedDataWarning, expand_urls, read_shard
from .tokenizer import (
    ENDOFCHUNK_TOKEN,
    IMAGE_TOKEN,
    InterleafTokenizer,
    load_tokenizer,
    shard_texts,
    train_tokenizer,
)

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "ENDOFCHUNK_TOKEN",
    "IGNORE_INDEX",
    "IMAGE_TOKEN",
    "InterleafDataset",
    "InterleafLoader",
    "InterleafTokenizer",
    "LoaderConfig",
    "SkippedDataWarning",
    "build_sample",
    "collate",
    "compute_phi",
    "decode_image",
    "expand_urls",
    "image_to_tensor",
    "load_tokenizer",
    "make_dataloader",
    "next_token_labels",
    "normalize_into",
    "read_shard",
    "resize_image",
    "shard_texts",
    "train_tokenizer",
]
