"""Shared helpers for the loader tests: random interleaf documents written as real shards."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image
from webdataset import TarWriter

from interleaf.loaders import InterleafTokenizer, load_tokenizer, train_tokenizer
from interleaf.pipeline.shards import sample_members as shard_members
from interleaf.schemas import Document, ImageNode, Source, TextNode, document_id

WORDS = ("flamingo pink water bird lake stands one leg red blue green square circle triangle "
         "the a of and on in sky tree house river mountain photo picture shows two three").split()


def png_bytes(rng: random.Random, size: tuple[int, int] | None = None) -> bytes:
    w, h = size or (rng.randint(8, 40), rng.randint(8, 40))
    img = Image.new("RGB", (w, h), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def random_document(rng: random.Random, n_nodes: int | None = None, image_p: float = 0.35,
                    max_words: int = 30) -> Document:
    """A document of random text and image nodes; image nodes carry member names and bytes."""
    url = f"https://example.org/{rng.getrandbits(64):x}"
    nodes = []
    for _ in range(rng.randint(1, 12) if n_nodes is None else n_nodes):
        if rng.random() < image_p:
            k = sum(isinstance(n, ImageNode) for n in nodes)
            nodes.append(ImageNode(url=f"{url}/{k}.png", member=f"{k:03d}.png", data=png_bytes(rng)))
        else:
            nodes.append(TextNode(" ".join(rng.choices(WORDS, k=rng.randint(1, max_words)))))
    return Document(id=document_id(url), url=url, source=Source("html", "test"), nodes=nodes, lang="en")


def sample_members(doc: Document) -> dict[str, bytes | str]:
    """The pipeline's sample of ``doc``, keyed for webdataset's TarWriter."""
    return {"__key__": doc.id, **shard_members(doc)}


def write_shard(path: Path, docs: list[Document]) -> Path:
    with TarWriter(str(path), encoder=False) as writer:
        for doc in docs:
            writer.write(sample_members(doc))
    return path


def write_shards(root: Path, n_shards: int, docs_per_shard: int, seed: int = 0, **doc_kwargs) -> list[Path]:
    rng = random.Random(seed)
    return [write_shard(root / f"shard-{i:05d}.tar",
                        [random_document(rng, **doc_kwargs) for _ in range(docs_per_shard)])
            for i in range(n_shards)]


def corpus_texts(n: int = 300, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=20)) for _ in range(n)]


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(corpus_texts(), vocab_size=400, out_path=path)
    return path


@pytest.fixture(scope="session")
def tokenizer(tokenizer_path) -> InterleafTokenizer:
    return load_tokenizer(tokenizer_path)
