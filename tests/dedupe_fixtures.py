"""Ground truth by construction for dedupe tests and benchmarks/dedupe.py.

Images: the real photographs that ship in scikit-image's wheel, each with variants (resized,
re-encoded, lightly cropped, grey, mirrored), plus distinct synthetic drawings. Every image goes
through the pipeline's own ``normalize_image``, so sha1/pHash/bytes are what a run would carry.
Texts: real article bodies of the article-extraction-benchmark in ``shared/``, with edits.
"""

from __future__ import annotations

import io
import json
import pickle
import random
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageOps

from interleaf.pipeline.images import ImageConfig, normalize_image
from interleaf.schemas import Document, ImageNode, Source, TextNode, document_id

PHOTOS = (
    "astronaut", "camera", "chelsea", "coffee", "rocket", "moon", "clock", "coins",
    "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina",
)
ARTICLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "article-extraction-benchmark" / "ground-truth.json"


def photo(name: str) -> Image.Image:
    import skimage.data

    pixels = getattr(skimage.data, name)()
    return Image.fromarray(pixels).convert("RGB")


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _crop(im: Image.Image, share: float) -> Image.Image:
    dx, dy = int(im.width * share), int(im.height * share)
    return im.crop((dx, dy, im.width - dx, im.height - dy))


# Variant name -> encoded bytes of the variant of a photo.
VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "resized": lambda im: jpeg(im.resize((im.width * 3 // 5, im.height * 3 // 5), Image.Resampling.BILINEAR)),
    "jpeg_q30": lambda im: jpeg(im, 30),
    "jpeg_q60": lambda im: jpeg(im, 60),
    "cropped_3pct": lambda im: jpeg(_crop(im, 0.03)),
    "cropped_8pct": lambda im: jpeg(_crop(im, 0.08)),
    "grey": lambda im: jpeg(ImageOps.grayscale(im).convert("RGB")),
    "mirrored": lambda im: jpeg(ImageOps.mirror(im)),
}


def drawing(seed: int, size: int = 256) -> bytes:
    """A distinct synthetic picture: random shapes and colours on a random background."""
    rng = random.Random(seed)
    im = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        box = (x0, y0, x0 + rng.randrange(20, size // 2), y0 + rng.randrange(20, size // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return jpeg(im)


def image_node(data: bytes, url: str) -> ImageNode:
    """An ImageNode as the images stage leaves it (normalised bytes, sha1, pHash, size)."""
    # 384 px keeps the bytes small: Beam pickles test inputs into the pipeline graph.
    n = normalize_image(data, ImageConfig(max_side=384))
    return ImageNode(url=url, sha1=n.sha1, phash=n.phash, phash_mirror=n.phash_mirror, width=n.width,
                     height=n.height, member="000.jpg", data=n.data)


def photo_set() -> list[tuple[str, str, ImageNode]]:
    """(photo name, variant name or "original", node) for every photo and variant."""
    out = []
    for name in PHOTOS:
        im = photo(name)
        out.append((name, "original", image_node(jpeg(im), f"https://img.example/{name}.jpg")))
        for variant, make in VARIANTS.items():
            out.append((name, variant, image_node(make(im), f"https://img.example/{name}-{variant}.jpg")))
    return out


def make_doc(url: str, nodes: list, fetched: str | None = "2024-01-01T00:00:00Z") -> Document:
    from interleaf.pipeline.urls import canonical_url

    return Document(id=document_id(canonical_url(url)), url=url, source=Source("warc", "x.warc", 0, fetched), nodes=nodes)


def articles(n: int | None = None) -> list[str]:
    """Real article bodies (at least 150 words each), in key order."""
    truth = json.loads(ARTICLES.read_text(encoding="utf-8"))
    bodies = [truth[k]["articleBody"] for k in sorted(truth)]
    return [b for b in bodies if len(b.split()) >= 150][:n]


def _words(text: str) -> list[str]:
    return text.split()


# Edit name -> a near-copy of an article (what mirrors and syndication do to a text).
EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "boilerplate_added": lambda t, r: "Subscribe to our newsletter for more stories. " + t + " Share this article.",
    "words_changed_2pct": lambda t, r: " ".join(w if r.random() > 0.02 else "xyzzy" for w in _words(t)),
    "words_changed_10pct": lambda t, r: " ".join(w if r.random() > 0.10 else "xyzzy" for w in _words(t)),
    "tail_cut_10pct": lambda t, r: " ".join(_words(t)[: int(len(_words(t)) * 0.9)]),
    "tail_cut_30pct": lambda t, r: " ".join(_words(t)[: int(len(_words(t)) * 0.7)]),
    "whitespace_case": lambda t, r: "  ".join(_words(t.upper())),
}


def edited_articles(n: int, seed: int = 0) -> list[tuple[int, str, str]]:
    """(article index, edit name or "original", text) for n articles and every edit."""
    rng = random.Random(seed)
    out = []
    for i, text in enumerate(articles(n)):
        out.append((i, "original", text))
        out += [(i, name, edit(text, rng)) for name, edit in EDITS.items()]
    return out



def run_transform(transform, docs: list[Document], tmp_path: Path) -> tuple[list[Document], list[dict], list[dict], object]:
    """Run a (kept, dropped, errors) transform on the DirectRunner: kept documents (without image
    bytes), dropped and error records as dicts, and the finished Beam result for its counters."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from interleaf.pipeline.run import LOCAL_RUNNER

    tmp_path.mkdir(parents=True, exist_ok=True)
    # Documents go through a file: Beam would pickle and compress created values into the graph many times.
    (tmp_path / "docs.pkl").write_bytes(pickle.dumps(docs))
    p = TestPipeline(runner=LOCAL_RUNNER)
    outputs = (
        p
        | beam.Create([str(tmp_path / "docs.pkl")])
        | "Load" >> beam.FlatMap(lambda path: pickle.loads(Path(path).read_bytes()))
        | transform
    )
    for name, pcoll in zip(("kept", "dropped", "errors"), outputs):
        pcoll | f"Json{name}" >> beam.Map(lambda r: r.to_json()) | f"Write{name}" >> beam.io.WriteToText(
            str(tmp_path / name), shard_name_template=""
        )
    result = p.run()
    result.wait_until_finish()
    kept, dropped, errors = ([json.loads(line) for line in (tmp_path / name).read_text().splitlines()] for name in ("kept", "dropped", "errors"))
    return [Document.from_dict(d) for d in kept], dropped, errors, result
