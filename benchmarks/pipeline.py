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

The Beam overhead is (beam time) / (loop time) per core: for beam-mp, twice its wall time. CPU
seconds (all threads and worker processes) are printed too: on a shared machine they vary less.
Each run of Beam pays a fixed cost (building the graph, the runner's planning of ~100
transforms), so the one-copy corpus is timed as well and the per-page ratio beyond it printed.

    python benchmarks/pipeline.py --copies 96 --corpus /tmp/interleaf-corpus
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
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


def _is_page(record) -> bool:
    return record.rec_type == "response" and (record.http_headers.get_header("Content-Type") or "").startswith("text/html")


def write_copy(i: int, out: Path) -> None:
    """Copy i: the sample generator's corpus with seed 100 + i, under hosts news{i}/cdn{i}.example.org."""
    generated = out.with_suffix(".generated")
    make_sample_corpus.build(str(generated), seed=100 + i)
    hosts = [(b"news.example.org", f"news{i}.example.org".encode()), (b"cdn.example.org", f"cdn{i}.example.org".encode())]
    tmp = out.with_suffix(".tmp")
    with open(generated, "rb") as src, open(tmp, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for record in ArchiveIterator(src):
            url = record.rec_headers.get_header("WARC-Target-URI")
            body = record.content_stream().read()
            for old, new in hosts:
                url = url.replace(old.decode(), new.decode())
                if _is_page(record):
                    body = body.replace(old, new)
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=record.http_headers,
                warc_headers_dict={"WARC-Date": record.rec_headers.get_header("WARC-Date")},
            ))
    generated.unlink()
    tmp.rename(out)  # complete copies only: an interrupted run leaves nothing to reuse


def scaled_corpus(copies: int, folder: Path) -> tuple[list[str], int]:
    """``copies`` distinct corpora, one WARC each, written to ``folder`` unless already there
    (generation takes seconds a copy); return their paths and the page count."""
    paths, pages = [], 0
    for i in range(copies):
        out = folder / f"copy-{i:03d}.warc.gz"
        if not out.exists():
            write_copy(i, out)
        with open(out, "rb") as f:
            pages += sum(_is_page(record) for record in ArchiveIterator(f))
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


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall seconds, CPU seconds of that run including child processes, value) of ``repeat`` calls."""
    best = None
    for _ in range(repeat):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, start = time.process_time(), time.perf_counter()
        value = fn()
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - cpu + (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        if best is None or wall < best[0]:
            best = (wall, cpu, value)
    return best


def runners(work: Path, warcs: list[str], config: RunConfig, repeat: int, multi: bool) -> dict[str, tuple]:
    """name -> (cores, wall s, CPU s, documents kept) for the loop and the Beam runners."""

    def loop():
        out = work / "loop"
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out / "shards")
        os.makedirs(out / "documents")
        return plain_loop(warcs, str(out), config)

    def beam(args: list[str]):
        out = str(work / "beam")
        shutil.rmtree(out, ignore_errors=True)
        return run(warcs, out, config, args).manifest["totals"]["documents"]

    todo = [("loop (floor)", 1, loop), ("beam in-process", 1, lambda: beam(["--runner", "DirectRunner"]))]
    if multi:
        args = ["--runner", "DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
        todo.append(("beam multi_processing", 2, lambda: beam(args)))
    return {name: (cores, *timed(fn, repeat)) for name, cores, fn in todo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=24, help="copies of the sample corpus (38 pages each)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timing; the fastest counts")
    parser.add_argument("--corpus", help="folder to keep the generated copies in and reuse (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="interleaf-bench-"))
    try:
        corpus = Path(args.corpus) if args.corpus else work / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        warcs, pages = scaled_corpus(args.copies, corpus)
        config = RunConfig()
        rows = runners(work, warcs, config, args.repeat, multi=True)
        one = runners(work, warcs[:1], config, args.repeat, multi=False)
        _, t_loop, cpu_loop, _ = rows["loop (floor)"]
        print(f"pages: {pages} ({args.copies} copies of the sample corpus); machine cores: {os.cpu_count()}")
        print(f"{'runner':<24}{'cores':>6}{'wall s':>9}{'CPU s':>8}{'pages/s/core':>14}{'docs kept':>11}"
              f"{'x loop/core':>13}{'x loop CPU':>12}")
        for name, (cores, t, cpu, kept) in rows.items():
            print(f"{name:<24}{cores:>6}{t:>9.2f}{cpu:>8.2f}{pages / t / cores:>14.1f}{kept:>11}"
                  f"{t * cores / t_loop:>13.2f}{cpu / cpu_loop:>12.2f}")
        # Per page, without the cost every run pays once: the difference to a one-copy run.
        (_, l1, _, _), (_, b1, _, _) = one["loop (floor)"], one["beam in-process"]
        _, b, _, _ = rows["beam in-process"]
        print(f"one copy: loop {l1:.2f} s, beam in-process {b1:.2f} s (a fixed cost of about {b1 - l1:.1f} s a run)")
        print(f"beam in-process per page beyond one copy: {(b - b1) / (t_loop - l1):.2f}x the loop")
        print("the loop computes the dedupe stages' hashes and signatures but applies none of their drops")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
