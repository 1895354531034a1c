"""Whole-pipeline throughput: Beam against a plain Python loop over the same functions.

The sample corpus is scaled up: copy i is the sample generator's corpus with seed i (other text,
other pictures, the same bad cases) under other hosts (news{i}.example.org, cdn{i}.example.org),
one WARC per copy, so no copy is a duplicate of another. Three timings in one run, on the same
WARCs:

- loop: one process calling the stage functions directly (read, extract, URL dedupe, image
  normalisation once per URL, repeated-paragraph keys, filters, MinHash and image items for the
  dedupe stages, shard writing). This is the floor: no Beam, no grouping machinery.
- beam: `interleaf run` on the in-process DirectRunner (one worker).
- beam-mp: the DirectRunner in multi_processing mode with 2 workers.

The Beam overhead is (beam time) / (loop time) per core: for beam-mp, twice its wall time.

    python benchmarks/pipeline.py --copies 8
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import shutil
import tempfile
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_sample_corpus  # noqa: E402 - the generator script, imported for its build()

from interleaf.filters.document import filter_document
from interleaf.pipeline import dedupe_logic as dl
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.documents import page_to_document
from interleaf.pipeline.image_join import attach_images, image_refs, normalize_outcome
from interleaf.pipeline.inputs import open_raw
from interleaf.pipeline.run import run
from interleaf.pipeline.shards import shard_count, shard_of, sample_size, write_shard
from interleaf.pipeline.sources import Page, WarcImage, iter_warc

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "sample.warc.gz"


def scaled_corpus(copies: int, folder: Path) -> tuple[list[str], int]:
    """Write ``copies`` distinct corpora, one WARC each; return their paths and the page count."""
    paths, pages = [], 0
    for i in range(copies):
        generated = folder / f"generated-{i}.warc.gz"
        make_sample_corpus.build(str(generated), seed=100 + i)
        out = folder / f"copy-{i:03d}.warc.gz"
        with open(generated, "rb") as src, open(out, "wb") as f:
            writer = WARCWriter(f, gzip=True)
            for record in ArchiveIterator(src):
                hosts = (b"news.example.org", f"news{i}.example.org".encode()), (b"cdn.example.org", f"cdn{i}.example.org".encode())
                url = record.rec_headers.get_header("WARC-Target-URI")
                body = record.content_stream().read()
                for old, new in hosts:
                    url = url.replace(old.decode(), new.decode())
                    if (record.http_headers.get_header("Content-Type") or "").startswith("text/html"):
                        body = body.replace(old, new)
                pages += (record.http_headers.get_header("Content-Type") or "").startswith("text/html")
                writer.write_record(writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=record.http_headers,
                    warc_headers_dict={"WARC-Date": record.rec_headers.get_header("WARC-Date")},
                ))
        generated.unlink()
        paths.append(str(out))
    return paths, pages


def plain_loop(warcs: list[str], out_dir: str, config: RunConfig) -> int:
    """The stage functions called in order, with dicts where Beam groups. Returns documents kept."""
    docs, stored = {}, {}
    for warc in warcs:
        with open_raw(warc) as f:
            for record in iter_warc(f, warc):
                if isinstance(record, Page):
                    result = page_to_document(record, config.extract)
                    if result.doc is not None:
                        docs.setdefault(result.doc.id, result.doc)  # URL dedupe
                elif isinstance(record, WarcImage):
                    stored.setdefault(record.url, record.body)
    outcomes = {}
    for doc in docs.values():
        for url, _ in image_refs(doc):
            if url not in outcomes and url in stored:
                outcomes[url] = normalize_outcome(stored[url], config.images)
    kept = []
    for doc in docs.values():
        refs = {i: outcomes[url] for url, i in image_refs(doc) if url in outcomes}
        doc = attach_images(doc, refs).doc
        for node in doc.images:
            dl.image_item(node, config.dedupe.match_mirrored)
        dl.paragraph_keys(doc, config.dedupe)
        result = filter_document(doc, config.filters)
        if result.doc is not None:
            dl.doc_item(result.doc, config.dedupe)
            kept.append(result.doc)
    n = shard_count(len(kept), sum(sample_size(d) for d in kept), config.shards)
    groups: dict[int, list] = {}
    for doc in kept:
        groups.setdefault(shard_of(doc.id, n), []).append(doc)
    for index, group in groups.items():
        write_shard(out_dir, 0, index, group)
    return len(kept)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8, help="copies of the sample corpus (37 pages each)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="interleaf-bench-"))
    try:
        warcs, pages = scaled_corpus(args.copies, work)
        config = RunConfig()
        rows = []
        os.makedirs(work / "loop" / "shards")
        os.makedirs(work / "loop" / "documents")
        t_loop, kept = timed(lambda: plain_loop(warcs, str(work / "loop"), config))
        rows.append(("loop (floor)", 1, t_loop, kept))
        for name, cores, beam_args in [
            ("beam in-process", 1, ["--runner", "DirectRunner"]),
            ("beam multi_processing", 2, ["--runner", "DirectRunner", "--direct_running_mode=multi_processing",
                                          "--direct_num_workers=2"]),
        ]:
            t, result = timed(lambda: run(warcs, str(work / name.replace(" ", "_")), config, beam_args))
            rows.append((name, cores, t, result.manifest["totals"]["documents"]))
        print(f"pages: {pages} ({args.copies} copies of the sample corpus); machine cores: {os.cpu_count()}")
        print(f"{'runner':<24}{'cores':>6}{'wall s':>9}{'pages/s':>9}{'pages/s/core':>14}{'docs kept':>11}{'x loop/core':>13}")
        for name, cores, t, kept in rows:
            per_core = pages / t / cores
            print(f"{name:<24}{cores:>6}{t:>9.2f}{pages / t:>9.1f}{per_core:>14.1f}{kept:>11}{t * cores / t_loop:>13.2f}")
        print("the loop computes the dedupe stages' hashes and signatures but applies none of their drops")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
