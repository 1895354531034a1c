"""Loader throughput against a bare webdataset read + decode of the same shards, same run.

    .venv/bin/python benchmarks/loader.py [--shards DIR] [--docs 240] [--workers 0,1,2]

The floor is ``webdataset.WebDataset(...).decode("rgb8")`` through a DataLoader with as many
workers: tar reading, JSON parsing and decoding of every image, nothing else. The loader adds
tokenization, windowing, phi/labels, resize + normalise (of at most ``max_images`` images) and
collation. Target: loader time <= 1.5x the floor's at each worker count. Each configuration runs
``--repeat`` times after a warm-up pass, floor and loader alternating; the machine's load varies,
so the row shown is the run with the median loader/floor ratio.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import webdataset as wds
from PIL import Image

from interleaf.loaders import LoaderConfig, expand_urls, make_dataloader, train_tokenizer
from interleaf.schemas import Document, ImageNode, Source, TextNode, document_id

WORDS = ("the of and a to in is was for on that with as by at from his her an which are this be has "
         "flamingo lake water bird pink feathers shallow wading colony nest chick feed algae shrimp "
         "image photo shows standing flying group river bank sunset africa species long neck legs").split()


def photo_like(rng: np.random.Generator, w: int, h: int) -> bytes:
    """A JPEG that decodes like a photo: smooth gradients plus texture, ~quality 90."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / w, y / h, (x + y) / (w + h)], -1) * rng.uniform(80, 200, 3)
    arr = np.clip(base + rng.normal(0, 18, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_corpus(root: Path, docs: int, images_per_doc: int, words: int, docs_per_shard: int) -> list[str]:
    rng, nrng = random.Random(0), np.random.default_rng(0)
    pool = [photo_like(nrng, *rng.choice([(640, 480), (480, 640), (800, 533), (512, 512)])) for _ in range(24)]
    paths = []
    for start in range(0, docs, docs_per_shard):
        path = root / f"shard-{start // docs_per_shard:05d}.tar"
        with wds.TarWriter(str(path), encoder=False) as writer:
            for i in range(start, min(docs, start + docs_per_shard)):
                url = f"https://example.org/{i}"
                nodes, members = [], {}
                for k in range(images_per_doc):
                    nodes.append(TextNode(" ".join(rng.choices(WORDS, k=words // (images_per_doc + 1)))))
                    member = f"{k:03d}.jpg"
                    nodes.append(ImageNode(url=f"{url}/{k}.jpg", member=member))
                    members[member] = rng.choice(pool)
                nodes.append(TextNode(" ".join(rng.choices(WORDS, k=words // (images_per_doc + 1)))))
                doc = Document(document_id(url), url, Source("html"), nodes, lang="en")
                writer.write({"__key__": doc.id, "json": doc.to_json().encode(), **members})
        paths.append(str(path))
    return paths


def floor(urls: list[str], workers: int) -> tuple[float, int]:
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("rgb8")
    start, n = time.perf_counter(), 0
    for _ in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers):
        n += 1
    return time.perf_counter() - start, n


def loader(urls: list[str], tok, config: LoaderConfig, workers: int) -> tuple[float, int, int]:
    start, n, tokens = time.perf_counter(), 0, 0
    for batch in make_dataloader(urls, tok, config, num_workers=workers, pin_memory=False):
        n += len(batch["keys"])
        tokens += int(batch["attention_mask"].sum())
    return time.perf_counter() - start, n, tokens


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", help="existing shards (pattern or folder); default: a synthetic corpus")
    p.add_argument("--docs", type=int, default=160)
    p.add_argument("--repeat", type=int, default=3, help="runs per worker count; the median ratio is shown")
    p.add_argument("--images-per-doc", type=int, default=4)
    p.add_argument("--words", type=int, default=400)
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--image-size", type=int, default=320)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--resample", default="bicubic", help="bicubic (CLIP's) or bilinear (faster)")
    args = p.parse_args()
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")  # the floor's rgb8 arrays
    with tempfile.TemporaryDirectory() as tmp:
        urls = expand_urls(args.shards) if args.shards else make_corpus(Path(tmp), args.docs, args.images_per_doc,
                                                                       args.words, docs_per_shard=20)
        tok = train_tokenizer((" ".join(random.Random(i).choices(WORDS, k=50)) for i in range(500)), 2000)
        config = LoaderConfig(image_size=args.image_size, batch_size=args.batch_size, shuffle_buffer=100,
                              resample=args.resample)
        floor(urls, 0)  # warm the page cache
        print(f"{len(urls)} shards; max_tokens {config.max_tokens}, max_images {config.max_images}, "
              f"image {config.image_size}px {config.resample}, batch {config.batch_size}; torch threads {torch.get_num_threads()}")
        print(f"{'workers':>7} {'floor s/s':>10} {'loader s/s':>11} {'per worker':>11} {'tokens/s':>10} "
              f"{'loader/floor time':>18}")
        for workers in (int(w) for w in args.workers.split(",")):
            runs = []
            for _ in range(args.repeat):  # alternate the two, so drifting machine load hits both alike
                t_floor, n_floor = floor(urls, workers)
                t_loader, n, tokens = loader(urls, tok, config, workers)
                assert n == n_floor, (n, n_floor)
                runs.append((t_loader / t_floor, t_floor, t_loader))
            ratio, t_floor, t_loader = sorted(runs)[len(runs) // 2]  # the median ratio's run
            print(f"{workers:>7} {n / t_floor:>10.1f} {n / t_loader:>11.1f} {n / t_loader / max(1, workers):>11.1f} "
                  f"{tokens / t_loader:>10.0f} {ratio:>17.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
