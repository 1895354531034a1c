"""A synthetic interleaved corpus whose text can only be predicted from its images.

Each document is 1-4 (image, caption) pairs; an image shows 1-3 shapes of one colour and the
caption after it names them, in one of two phrasings chosen per document, e.g.
    <image> two red circles. <image> one blue square.
    <image> Shape: triangle. Colour: green. Count: three. <image> Shape: ...
The caption's content words are independent of everything before them, so a model that does not
look at the image can do no better than chance on them (1/3 shape, 1/4 colour, 1/3 count).
Written as real interleaf shards (KEY.json Document + KEY.NNN.png), train and held-out splits
drawn from different seeds, so held-out images are new ones.
"""

from __future__ import annotations

import io
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from interleaf.schemas import Document, ImageNode, Source, TextNode, document_id

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30)}
SHAPES = ("circle", "square", "triangle")
COUNTS = ("one", "two", "three")
TEMPLATES = ("{count} {colour} {shapes}.", "Shape: {shape}. Colour: {colour}. Count: {count}.")


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    count: int  # 1..3

    def caption(self, template: int) -> str:
        shapes = self.shape + ("s" if self.count > 1 else "")
        word = COUNTS[self.count - 1]
        return TEMPLATES[template].format(count=word, colour=self.colour, shape=self.shape, shapes=shapes)


def parse_caption(text: str) -> Scene | None:
    """The scene a caption names (either phrasing), or None when it names no complete scene."""
    words = text.lower().replace(".", " ").replace(":", " ").split()
    shape = next((s for s in SHAPES if s in words or s + "s" in words), None)
    colour = next((c for c in COLOURS if c in words), None)
    count = next((i + 1 for i, c in enumerate(COUNTS) if c in words), None)
    return Scene(shape, colour, count) if shape and colour and count else None


def draw(scene: Scene, size: int, rng: random.Random) -> Image.Image:
    """The scene's shapes, non-overlapping, at random places and sizes on a light noisy background."""
    bg = tuple(rng.randint(225, 255) for _ in range(3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    cell = size // 2  # up to 3 shapes, one per quadrant: they never overlap
    for q in rng.sample(range(4), scene.count):
        r = rng.randint(cell // 3, cell // 2 - 1)
        cx = (q % 2) * cell + rng.randint(r, cell - r - 1)
        cy = (q // 2) * cell + rng.randint(r, cell - r - 1)
        colour = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLOURS[scene.colour])
        box = (cx - r, cy - r, cx + r, cy + r)
        if scene.shape == "circle":
            d.ellipse(box, fill=colour)
        elif scene.shape == "square":
            d.rectangle(box, fill=colour)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return img


def random_scene(rng: random.Random) -> Scene:
    return Scene(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.randint(1, 3))


def make_document(split: str, index: int, rng: random.Random, image_size: int) -> Document:
    template = rng.randrange(len(TEMPLATES))
    nodes: list = []
    for k in range(rng.randint(1, 4)):
        scene = random_scene(rng)
        buf = io.BytesIO()
        draw(scene, image_size, rng).save(buf, format="PNG")
        data = buf.getvalue()
        url = f"https://synthetic.interleaf/{split}/{index}/{k}.png"
        nodes.append(ImageNode(url=url, alt="", sha1=hashlib.sha1(data).hexdigest(), width=image_size,
                               height=image_size, member=f"{k:03d}.png", data=data))
        nodes.append(TextNode(scene.caption(template)))
    url = f"https://synthetic.interleaf/{split}/{index}"
    return Document(id=document_id(url), url=url, source=Source("url", url), nodes=nodes, lang="en",
                    lang_score=1.0, meta={"title": f"synthetic {split} {index}", "template": template})


def write_split(out_dir: str | Path, split: str, n_docs: int, seed: int, image_size: int = 32,
                docs_per_shard: int = 1000) -> list[Path]:
    """Write ``n_docs`` documents as ``out_dir/split/shard-NNNNN.tar``; returns the shard paths."""
    import webdataset as wds

    rng = random.Random(seed)
    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for start in range(0, n_docs, docs_per_shard):
        path = folder / f"shard-{len(paths):05d}.tar"
        with wds.TarWriter(str(path)) as sink:
            for i in range(start, min(n_docs, start + docs_per_shard)):
                doc = make_document(split, i, rng, image_size)
                sample = {"__key__": doc.id, "json": doc.to_json().encode("utf-8")}
                sample.update({node.member: node.data for node in doc.images})
                sink.write(sample)
        paths.append(path)
    return paths


def write_corpus(out_dir: str | Path, n_train: int, n_heldout: int, image_size: int = 32, seed: int = 0) -> dict:
    """Train and held-out splits from different seeds: held-out images are all new drawings."""
    return {
        "train": write_split(out_dir, "train", n_train, seed, image_size),
        "heldout": write_split(out_dir, "heldout", n_heldout, seed + 1_000_003, image_size),
    }
