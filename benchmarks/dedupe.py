"""Deduplication: quality on ground truth by construction, and scaling on the DirectRunner.

Run by hand: ``.venv/bin/python benchmarks/dedupe.py [--sizes 10000 100000] [--skip-quality]``.

Quality: real photographs (scikit-image) with variants, plus distinct drawings, through
``DedupeImages`` in link mode at several pHash distances; real articles (article-extraction-
benchmark) with edits through ``NearDupDocuments`` at several Jaccard thresholds. A variant
counts as found when a near-duplicate link joins it to another copy of its own source; precision
is the share of links that join copies of one source.

Scale: synthetic documents (random words, random 64-bit pHashes with planted near-copies and
logos) generated inside the pipeline, each size in a fresh process so peak RSS is per size. The
baseline is Beam's own cost on the same documents: generate, key by id, GroupByKey, count. The
ratios against it (measured in this run) are what count; the machine's load varies.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

CHUNK = 1000  # documents generated per input element


# ---------------------------------------------------------------- quality


def _collect(transform, docs):
    """Run one transform on the DirectRunner: (kept documents, dropped record dicts)."""
    from dedupe_fixtures import run_transform

    with tempfile.TemporaryDirectory() as tmp:
        kept, dropped, _, _ = run_transform(transform, docs, Path(tmp))
    return kept, dropped


def image_quality(distances: list[int]) -> None:
    from dedupe_fixtures import VARIANTS, drawing, image_node, make_doc, photo_set

    from interleaf.pipeline.dedupe import DedupeImages
    from interleaf.pipeline.dedupe_logic import DedupeConfig
    from interleaf.schemas import TextNode

    photos = photo_set()
    drawings = [image_node(drawing(seed), f"https://img.example/d{seed}.jpg") for seed in range(300)]
    source = {n.sha1: (name, variant) for name, variant, n in photos}
    source.update({n.sha1: (f"drawing{i}", "original") for i, n in enumerate(drawings)})
    nodes = [n for _, _, n in photos] + drawings
    docs = [make_doc(f"https://site{i}.example/", [TextNode("t"), n]) for i, n in enumerate(nodes)]
    n_photos = len({name for name, _, _ in photos})
    print(f"\nNear-duplicate images: {n_photos} real photos x {len(VARIANTS)} variants + {len(drawings)} distinct drawings")
    print(f"{'variant':<14}" + "".join(f"{'d=' + str(d):>8}{'+mirror':>9}" for d in distances))
    rows: dict[str, list[str]] = defaultdict(list)
    for d in distances:
        for mirrored in (False, True):
            config = DedupeConfig(image_distance=d, match_mirrored=mirrored, near_dup_images="link")
            kept, _ = _collect(DedupeImages(config), docs)
            links = [(a, b) for doc in kept for a, b in doc.meta.get("near_duplicate_images", {}).items()]
            linked = defaultdict(set)
            for a, b in links:
                linked[a].add(source[b][0])
                linked[b].add(source[a][0])
            for variant in VARIANTS:
                found = sum(name in linked[n.sha1] for name, v, n in photos if v == variant)
                rows[variant].append(f"{found / n_photos:.2f}")
            correct = sum(source[a][0] == source[b][0] for a, b in links)
            rows["precision"].append(f"{correct / len(links):.3f}" if links else "-")
            rows["links"].append(str(len(links)))
    for name, values in rows.items():
        print(f"{name:<14}" + "".join(f"{v:>8}" if i % 2 == 0 else f"{v:>9}" for i, v in enumerate(values)))


def document_quality(thresholds: list[float], n_articles: int) -> None:
    from dedupe_fixtures import EDITS, edited_articles, make_doc

    from interleaf.pipeline.dedupe import NearDupDocuments
    from interleaf.pipeline.dedupe_logic import DedupeConfig
    from interleaf.schemas import TextNode

    edited = edited_articles(n_articles)
    docs = [make_doc(f"https://site{k}.example/", [TextNode(t)]) for k, (_, _, t) in enumerate(edited)]
    article = {doc.id: edited[k][0] for k, doc in enumerate(docs)}
    edit = {doc.id: edited[k][1] for k, doc in enumerate(docs)}
    print(f"\nNear-duplicate documents: {n_articles} real articles x {len(EDITS)} edits (MinHash, 128 perm, 5-word shingles)")
    print(f"{'edit':<22}" + "".join(f"{'J>=' + str(t):>9}" for t in thresholds))
    rows: dict[str, list[str]] = defaultdict(list)
    for t in thresholds:
        _, dropped = _collect(NearDupDocuments(DedupeConfig(jaccard_threshold=t)), docs)
        links = [(d["doc_id"], d["detail"].removeprefix("of ")) for d in dropped]
        linked = defaultdict(set)
        for a, b in links:
            linked[a].add(article[b])
            linked[b].add(article[a])
        for name in EDITS:
            ids = [i for i in article if edit[i] == name]
            rows[name].append(f"{sum(article[i] in linked[i] for i in ids) / len(ids):.2f}")
        correct = sum(article[a] == article[b] for a, b in links)
        rows["precision"].append(f"{correct / len(links):.3f}" if links else "-")
        rows["dropped"].append(str(len(links)))
    for name, values in rows.items():
        print(f"{name:<22}" + "".join(f"{v:>9}" for v in values))


# ---------------------------------------------------------------- scale


def synthetic_docs(chunk: int):
    """CHUNK documents: random-word text (10% near-copies), 1-3 images with planted near-copies and logos."""
    from interleaf.pipeline.dedupe_logic import PHASH_BITS
    from interleaf.schemas import Document, ImageNode, Source, TextNode

    rng = random.Random(chunk)
    vocab = [f"w{i}" for i in range(5000)]
    for j in range(CHUNK):
        n = chunk * CHUNK + j
        base = random.Random(n // 10 * 10 if rng.random() < 0.1 else n)  # ~10% share a base text
        words = [base.choice(vocab) for _ in range(120)]
        words = [w if rng.random() > 0.03 else rng.choice(vocab) for w in words]
        nodes = [TextNode(" ".join(words[:60])), TextNode("Share this page."), TextNode(" ".join(words[60:]))]
        for k in range(rng.randint(1, 3)):
            if rng.random() < 0.05:
                sha1, phash = "logo", 0x0123456789ABCDEF
            else:
                img = n * 3 + k
                src = img // 5 * 5 if rng.random() < 0.2 else img  # ~20% near-copies of another image
                phash = random.Random(src).getrandbits(PHASH_BITS)
                for bit in rng.sample(range(PHASH_BITS), rng.randint(0, 3) if src != img else 0):
                    phash ^= 1 << bit
                sha1 = f"{img:040x}"
            nodes.append(ImageNode(f"https://img{n % 97}.example/{sha1}.jpg", sha1=sha1, phash=f"{phash:016x}", width=300, height=200))
        fetched = f"2024-01-{1 + n % 28:02d}T00:00:00Z"
        url = f"https://site{n % 500}.example/page/{n}"
        yield Document(id=f"{n:040x}", url=url, source=Source("warc", "x", n, fetched), nodes=nodes)


def scale_run(kind: str, n_docs: int) -> dict:
    """One timed pipeline over n_docs synthetic documents, in this process."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from interleaf.pipeline.dedupe import DedupeDocuments, DedupeImages, NearDupDocuments, RepeatedParagraphs
    from interleaf.pipeline.dedupe_logic import DedupeConfig
    from interleaf.pipeline.run import LOCAL_RUNNER

    config = DedupeConfig(match_mirrored=False)  # synthetic items have hashes, no pixels
    stages = {
        "documents": DedupeDocuments(config),
        "near_dup_documents": NearDupDocuments(config),
        "repeated_paragraphs": RepeatedParagraphs(config),
        "images": DedupeImages(config),
    }
    start = time.perf_counter()
    p = beam.Pipeline(options=PipelineOptions(runner=LOCAL_RUNNER))
    docs = p | beam.Create(list(range(n_docs // CHUNK))) | beam.FlatMap(synthetic_docs)
    if kind == "baseline":  # Beam's own cost: move every document through one shuffle
        kept = docs | "Key" >> beam.Map(lambda d: (d.id, d)) | beam.GroupByKey() | "Values" >> beam.Map(lambda kv: kv[1])
    else:
        kept, _, _ = docs | stages[kind]
    kept | beam.combiners.Count.Globally() | "Done" >> beam.Map(lambda n: None)
    p.run().wait_until_finish()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def scaling(sizes: list[int], kinds: list[str]) -> None:
    print(f"\nScale on the DirectRunner (one process per cell; ratio = time / baseline time at that size)")
    print(f"{'stage':<22}{'docs':>8}{'seconds':>9}{'docs/s':>9}{'x base':>8}{'peak MB':>9}{'MB - base':>10}")
    for n in sizes:
        base = None
        for kind in ["baseline"] + kinds:
            out = subprocess.run(
                [sys.executable, __file__, "--cell", kind, str(n)], capture_output=True, text=True, check=True
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            base = base or r
            print(
                f"{kind:<22}{n:>8}{r['seconds']:>9.1f}{n / r['seconds']:>9.0f}{r['seconds'] / base['seconds']:>8.2f}"
                f"{r['peak_rss_mb']:>9.0f}{r['peak_rss_mb'] - base['peak_rss_mb']:>10.0f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--stages", nargs="*", default=["documents", "near_dup_documents", "repeated_paragraphs", "images"])
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--cell", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(scale_run(args.cell[0], int(args.cell[1]))))
        return
    if not args.skip_quality:
        image_quality([4, 8, 12])
        document_quality([0.5, 0.7, 0.8], 60)
    if args.sizes:
        scaling(args.sizes, args.stages)


if __name__ == "__main__":
    main()
