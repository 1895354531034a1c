"""Does the model name what it sees? Held-out synthetic documents, each image prompted with the
document's earlier (image, caption) pairs as shots; the greedy caption is parsed and compared."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image

from interleaf.schemas import Document, ImageNode

from .generate import generate
from .model import Flamingo
from .synthetic import COLOURS, COUNTS, SHAPES, TEMPLATES, parse_caption

CHANCE = {"shape": 1 / len(SHAPES), "colour": 1 / len(COLOURS), "count": 1 / len(COUNTS)}


def read_documents(shards: Iterable[str | Path]) -> Iterable[tuple[Document, list[Image.Image]]]:
    """Documents of interleaf shards with their images decoded, in shard order."""
    import webdataset as wds

    for sample in wds.WebDataset([str(s) for s in shards], shardshuffle=False, empty_check=False):
        doc = Document.from_json(sample["json"])
        images = [Image.open(io.BytesIO(sample[n.member])).convert("RGB") for n in doc.images]
        yield doc, images


def caption_accuracy(model: Flamingo, tok, shards: Sequence[str | Path], image_size: int, mean: Sequence[float],
                     std: Sequence[float], max_prompts: int = 200, blank: bool = False) -> dict:
    """Accuracy of the generated captions on held-out documents: per attribute and exact (all
    three), overall and by number of shots; ``template`` is how often the answer uses the shots'
    phrasing (shots >= 1). ``blank`` replaces every image with a grey one."""
    hits: dict[str, list[int]] = defaultdict(list)
    n = 0
    for doc, images in read_documents(shards):
        template = doc.meta.get("template", 0)
        items: list = []
        image_iter = iter(images)
        for node in doc.nodes:
            if isinstance(node, ImageNode):
                img = next(image_iter)
                items.append(Image.new("RGB", img.size, (128, 128, 128)) if blank else img)
                continue
            truth = parse_caption(node.text)
            shots = sum(isinstance(i, Image.Image) for i in items) - 1
            answer = generate(model, tok, items, image_size, mean, std, max_new_tokens=24)
            guess = parse_caption(answer)
            for attr in ("shape", "colour", "count"):
                ok = int(guess is not None and getattr(guess, attr) == getattr(truth, attr))
                hits[attr].append(ok)
                hits[f"{attr}@{min(shots, 2)}"].append(ok)
            exact = int(guess == truth)
            hits["exact"].append(exact)
            hits[f"exact@{min(shots, 2)}"].append(exact)
            if shots >= 1:
                phrased = answer.startswith("Shape:") == TEMPLATES[template].startswith("Shape:")
                hits["template"].append(int(phrased))
            items.append(node.text)
            n += 1
            if n >= max_prompts:
                return _summarise(hits, n)
    return _summarise(hits, n)


def _summarise(hits: dict[str, list[int]], n: int) -> dict:
    out = {k: round(sum(v) / len(v), 4) for k, v in sorted(hits.items()) if v}
    out["prompts"] = n
    return out
