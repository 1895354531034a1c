"""Hugging Face `tokenizers` behind the few ids the loader needs, plus offline BPE training.

Any ``tokenizer.json`` loads from a path (never the hub). The Flamingo special tokens
``<image>`` and ``<|endofchunk|>``, a pad token and BOS/EOS are added when the file lacks them;
added tokens get ids past the base vocabulary, so a model must size its embeddings with
``vocab_size`` (which counts them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from interleaf.schemas import Document, SchemaError, TextNode

from .shards import expand_urls, read_shard

IMAGE_TOKEN = "<image>"
ENDOFCHUNK_TOKEN = "<|endofchunk|>"
ENDOFTEXT_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<pad>"

# Spellings used by common tokenizer families, tried in order before adding our own.
_BOS_NAMES = ("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", ENDOFTEXT_TOKEN)
_EOS_NAMES = ("</s>", "<|end_of_text|>", "<eos>", ENDOFTEXT_TOKEN)
_PAD_NAMES = (PAD_TOKEN, "[PAD]", "<|pad|>", "<|padding|>")


class InterleafTokenizer:
    """A ``tokenizers.Tokenizer`` with the ids of BOS, EOS, pad, ``<image>`` and ``<|endofchunk|>``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        # GPT-2 style when the file has neither: one <|endoftext|> serves as BOS and EOS.
        self.bos_id = self._find_or_add(_BOS_NAMES, ENDOFTEXT_TOKEN)
        self.eos_id = self._find_or_add(_EOS_NAMES, ENDOFTEXT_TOKEN)
        self.pad_id = self._find_or_add(_PAD_NAMES, PAD_TOKEN)
        self.image_id = self._find_or_add((IMAGE_TOKEN,), IMAGE_TOKEN)
        self.eoc_id = self._find_or_add((ENDOFCHUNK_TOKEN,), ENDOFCHUNK_TOKEN)

    def _find_or_add(self, names: tuple[str, ...], new: str) -> int:
        for name in names:
            token_id = self.tokenizer.token_to_id(name)
            if token_id is not None:
                return token_id
        # Special, so that text never splits it and decode(skip_special_tokens=True) drops it.
        self.tokenizer.add_special_tokens([new])
        return self.tokenizer.token_to_id(new)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def special_ids(self) -> dict[str, int]:
        return {"bos": self.bos_id, "eos": self.eos_id, "pad": self.pad_id, "image": self.image_id,
                "endofchunk": self.eoc_id}

    def encode(self, text: str) -> list[int]:
        """Token ids of plain text, without BOS/EOS (the sequence builder places those)."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))


def load_tokenizer(path: str | Path) -> InterleafTokenizer:
    """Load a ``tokenizer.json`` from a local path and add the special tokens it lacks."""
    return InterleafTokenizer(Tokenizer.from_file(str(path)))


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, out_path: str | Path | None = None,
                    min_frequency: int = 2) -> InterleafTokenizer:
    """Train a byte-level BPE (GPT-2 style: any byte sequence encodes, no unknown token) on texts."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[ENDOFTEXT_TOKEN, PAD_TOKEN, IMAGE_TOKEN, ENDOFCHUNK_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    wrapped = InterleafTokenizer(tok)
    if out_path is not None:
        wrapped.save(out_path)
    return wrapped


def shard_texts(shards: str | list[str]) -> Iterator[str]:
    """The text nodes of every document in the shards, for ``train_tokenizer``. Damaged shards
    and documents are skipped (and warned about) as in training."""
    stats: Counter = Counter()
    for url in expand_urls(shards):
        for raw in read_shard(url, stats):
            try:
                doc = Document.from_json(raw["json"])
            except (KeyError, SchemaError):
                continue
            yield from (n.text for n in doc.nodes if isinstance(n, TextNode))
