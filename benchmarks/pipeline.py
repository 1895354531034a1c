"""Whole-pipeline throughput: Beam against a plain Python loop over the same functions.

The sample corpus is scaled up: copy i is the sample generator's corpus with seed i (other text,
other pictures, the same bad cases) under other hosts (news{i}.example.org, cdn{i}.example.org),
one WARC per copy, so no copy is a duplicate of another. Three timings in one run, on the same
WARCs:

- loop: the whole pipeline in one process, the same functions in the same order with dicts where
  Beam groups (document dedupe, images once per URL, near-duplicate LSH, repeated paragraphs,
  image dedupe, the chain of stages, shards and dropped records). This is the floor: no Beam.
  It writes the same shards as Beam, byte for byte: the table shows a hash of each run's shards.
- beam: `interleaf run` on the in-process DirectRunner (one worker).
- beam-mp: the DirectRunner in multi_processing mode with 2 workers.

The Beam overhead is (beam time) / (loop time) per core: for beam-mp, twice its wall time. CPU
seconds (all threads and worker processes) are printed too: on a shared machine they vary less.
Each run of Beam pays a fixed cost (building the graph, the runner's planning of ~100
transforms, for beam-mp starting the worker processes), so the one-copy corpus is timed as well
and the per-page ratio beyond it printed for both Beam modes.

    python benchmarks/pipeline.py --copies 96 --corpus /tmp/interleaf-corpus
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_sample_corpus  # noqa: E402 - the generator script, imported for its build()

from interleaf.pipeline import dedupe_logic as dl
from interleaf.pipeline.apply import Context
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.document_stages import chain
from interleaf.pipeline.documents import page_to_document
from interleaf.pipeline.image_join import ImageOutcome, attached_node, normalize_outcome, pick_body
from interleaf.pipeline.inputs import open_raw
from interleaf.pipeline.run import run
from interleaf.pipeline.shards import shard_count, shard_of, sample_size, write_shard
from interleaf.pipeline.sources import Page, WarcImage, iter_warc
from interleaf.pipeline.transforms import write_lines

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


def near_links(items: dict, band_keys, rank, is_near, max_bucket: int) -> dict:
    """id -> best-ranked near item, as pipeline/dedupe.py's _near_links does with GroupByKeys."""
    buckets = defaultdict(list)
    for item in items.values():
        for key in band_keys(item):
            buckets[key].append(item)
    links: dict = {}
    for bucket in buckets.values():
        for item_id, other in dl.bucket_links(bucket, max_bucket, rank, is_near):
            if item_id not in links or rank(other) < rank(links[item_id]):
                links[item_id] = other
    return links


def plain_loop(warcs: list[str], out_dir: str, config: RunConfig) -> int:
    """The whole pipeline in one process: the same functions in the same order, with dicts where
    Beam groups, and the same outputs (shards, dropped records). Returns documents kept."""
    dd = config.dedupe
    fetches, stored, drops = defaultdict(list), defaultdict(list), []
    for warc in warcs:
        with open_raw(warc) as f:
            for record in iter_warc(f, warc):
                if isinstance(record, Page):
                    result = page_to_document(record, config.extract)
                    drops += result.drops
                    if result.doc is not None:
                        fetches[result.doc.id].append(result.doc)
                elif isinstance(record, WarcImage):
                    stored[record.url].append(record.body)
    # Document dedupe: the best fetch per id, then the best per content.
    best = {doc_id: min((dl.doc_facts(d, dd) for d in docs), key=lambda f: f.rank) for doc_id, docs in fetches.items()}
    by_content = defaultdict(list)
    for facts in best.values():
        by_content[facts.content].append(facts)
    kept, duplicate_of = {}, {}
    for group in by_content.values():
        top = min(group, key=lambda f: f.rank)
        kept[top.id] = top
        duplicate_of.update((f.id, dl.duplicate_detail(top.rank)) for f in group if f.id != top.id)
    # Images, each URL once.
    outcomes = {}
    for facts in kept.values():
        for url, _ in facts.images:
            if url not in outcomes:
                bodies = stored.get(url)
                outcomes[url] = normalize_outcome(pick_body(bodies), config.images) if bodies else ImageOutcome(None, "not_in_input")
    # Near-duplicate documents, then repeated paragraphs and image dedupe over what they leave.
    near = near_links({i: f.item for i, f in kept.items()}, functools.partial(dl.doc_band_keys, config=dd),
                      lambda item: item.rank, lambda a, b: dl.docs_near(a, b, dd.jaccard_threshold), dd.max_bucket)
    alive = {i: f for i, f in kept.items() if i not in near}
    paragraph_docs = Counter(k for f in alive.values() for k in f.paragraphs)
    image_facts = {
        i: [dl.image_fact(attached_node(url, "", outcomes[url].image), dd.match_mirrored)
            for url, _ in f.images if outcomes[url].image]
        for i, f in alive.items()
    }
    image_docs = Counter(k for facts in image_facts.values() for k in dl.image_keys(facts))
    items = {}
    for facts in image_facts.values():
        for sha1, item in dl.distinct_items(facts).items():
            items[sha1] = min(item, items.get(sha1, item))
    near_images = near_links(items, functools.partial(dl.image_band_keys, distance=dd.image_distance), dl.image_rank,
                             lambda a, b: dl.image_distance(a, b) <= dd.image_distance, dd.max_bucket)
    # The chain, per document id, as pipeline/document_stages.py applies it.
    out = []
    for doc_id, docs in fetches.items():
        doc = None
        for result in dl.dedupe_fetches(docs, duplicate_of.get(doc_id), "dedupe_documents"):
            drops += result.drops
            doc = result.doc or doc
        if doc is None:
            continue
        facts = image_facts.get(doc_id, [])
        context = Context(
            {
                "near_duplicate": [near[doc_id].id] if doc_id in near else [],
                "repeated": [k[1] for k in kept[doc_id].paragraphs if paragraph_docs[k] > dd.max_docs_per_paragraph],
                "frequent": [k for k in dl.image_keys(facts) if image_docs[k] > dd.max_docs_per_image],
                "near_image": [(s, near_images[s].sha1) for s in dl.distinct_items(facts) if s in near_images],
            },
            {i: outcomes[url] for url, i in kept[doc_id].images},
        )
        for stage in chain(config):
            result = stage.fn(doc, context)
            drops += result.drops
            doc = result.doc
            if doc is None:
                break
        if doc is not None:
            out.append(doc)
    n = shard_count(len(out), sum(sample_size(d) for d in out), config.shards)
    groups: dict[int, list] = defaultdict(list)
    for doc in out:
        groups[shard_of(doc.id, n)].append(doc)
    for index, group in groups.items():
        write_shard(out_dir, 0, index, group)
    write_lines(os.path.join(out_dir, "dropped.jsonl"), (d.to_json() for d in drops))
    return len(out)


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds including child processes, value) of one call."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, start = time.process_time(), time.perf_counter()
    value = fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return wall, cpu, value


def shard_digest(out: Path) -> str:
    """One hash of all shards' bytes: equal when two runs wrote identical shards."""
    h = hashlib.sha256()
    for path in sorted((out / "shards").glob("*.tar")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]


def runners(
    work: Path, warcs: list[str], config: RunConfig, repeat: int, multi: bool
) -> tuple[dict[str, tuple], list[dict[str, float]]]:
    """name -> (cores, wall s, CPU s, (documents kept, shard digest)) of the fastest run, for the loop
    and the Beam runners; and each round's walls (name -> wall s)."""

    def loop():
        out = work / "loop"
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out / "shards")
        os.makedirs(out / "documents")
        return plain_loop(warcs, str(out), config), shard_digest(out)

    def beam(args: list[str]):
        out = work / "beam"
        shutil.rmtree(out, ignore_errors=True)
        return run(warcs, str(out), config, args).manifest["totals"]["documents"], shard_digest(out)

    todo = [("loop (floor)", 1, loop), ("beam in-process", 1, lambda: beam(["--runner", "DirectRunner"]))]
    if multi:
        args = ["--runner", "DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
        todo.append(("beam multi_processing", 2, lambda: beam(args)))
    # Rounds of one run each, the fastest run of each kept: this machine's speed drifts over
    # minutes, and interleaving spreads the drift over all runners alike.
    best: dict[str, tuple] = {}
    rounds: list[dict[str, float]] = []
    for _ in range(repeat):
        rounds.append({})
        for name, cores, fn in todo:
            wall, cpu, value = timed(fn)
            rounds[-1][name] = wall
            if name not in best or wall < best[name][1]:
                best[name] = (cores, wall, cpu, value)
    return best, rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=24, help="copies of the sample corpus (38 pages each)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of runs (loop, beam, beam-mp in turn); the fastest run of each counts")
    parser.add_argument("--corpus", help="folder to keep the generated copies in and reuse (default: a temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="interleaf-bench-"))
    try:
        corpus = Path(args.corpus) if args.corpus else work / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        warcs, pages = scaled_corpus(args.copies, corpus)
        config = RunConfig()
        runners(work, warcs[:1], config, 1, multi=False)  # warm-up: models loaded, lazy imports done
        rows, rounds = runners(work, warcs, config, args.repeat, multi=True)
        one, _ = runners(work, warcs[:1], config, args.repeat, multi=True)
        _, t_loop, cpu_loop, _ = rows["loop (floor)"]
        print(f"pages: {pages} ({args.copies} copies of the sample corpus); machine cores: {os.cpu_count()}")
        print(f"{'runner':<24}{'cores':>6}{'wall s':>9}{'CPU s':>8}{'pages/s/core':>14}{'docs kept':>11}"
              f"{'shards':>14}{'x loop/core':>13}{'x loop CPU':>12}")
        for name, (cores, t, cpu, (kept, digest)) in rows.items():
            print(f"{name:<24}{cores:>6}{t:>9.2f}{cpu:>8.2f}{pages / t / cores:>14.1f}{kept:>11}"
                  f"{digest:>14}{t * cores / t_loop:>13.2f}{cpu / cpu_loop:>12.2f}")
        # Each round's Beam runs against the loop run just before them: drift over minutes moves
        # the fastest runs of different rounds, less so neighbours.
        for name in ("beam in-process", "beam multi_processing"):
            ratios = sorted(r[name] * rows[name][0] / r["loop (floor)"] for r in rounds)
            print(f"{name}: x loop per core in each round {' '.join(f'{x:.2f}' for x in ratios)}"
                  f" (median {statistics.median(ratios):.2f})")
        # Per page, without the cost every run pays once (building and planning the job, starting
        # workers): the difference to a one-copy run, per core.
        _, l1, _, _ = one["loop (floor)"]
        for name in ("beam in-process", "beam multi_processing"):
            cores, b, _, _ = rows[name]
            _, b1, _, _ = one[name]
            print(f"{name}: one copy {b1:.2f} s against the loop's {l1:.2f} s (a fixed cost of about "
                  f"{b1 - l1:.1f} s a run); per page beyond one copy {(b - b1) * cores / (t_loop - l1):.2f}x the loop per core")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
