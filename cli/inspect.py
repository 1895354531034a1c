"""`interleaf inspect`: read shards (or a run's dropped records) as a person would."""

from __future__ import annotations

import argparse
import json
import posixpath
import tarfile
import textwrap
from typing import Iterator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print documents of a shard, or dropped records of a run")
    p.add_argument("path", help="a shard .tar, or a run folder with --dropped/--errors")
    p.add_argument("--limit", "-n", type=int, default=3, help="how many documents or records to print")
    p.add_argument("--key", help="print only the document with this key")
    p.add_argument("--json", action="store_true", help="print the raw document JSON")
    p.add_argument("--dropped", metavar="REASON", help="examples of records dropped with REASON ('all' for any)")
    p.add_argument("--stage", help="with --dropped: only this stage")
    p.add_argument("--errors", action="store_true", help="dead-letter records of a run")
    p.set_defaults(func=main)


def iter_samples(path: str) -> Iterator[tuple[str, dict, dict[str, int]]]:
    """(key, document JSON, {member: size}) per sample of a webdataset tar, in tar order."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        key, doc, sizes = None, None, {}
        for member in tar:
            k, _, suffix = member.name.partition(".")
            if k != key and key is not None:
                yield key, doc, sizes
                doc, sizes = None, {}
            key = k
            if suffix == "json":
                doc = json.loads(tar.extractfile(member).read())
            else:
                sizes[suffix] = member.size
        if key is not None:
            yield key, doc, sizes


def render_document(doc: dict, sizes: dict[str, int], width: int = 100) -> str:
    meta = doc.get("meta", {})
    words = sum(len(n["text"].split()) for n in doc["nodes"] if n["type"] == "text")
    n_images = sum(n["type"] == "image" for n in doc["nodes"])
    lang = f"{doc.get('lang')} ({doc['lang_score']:.2f})" if doc.get("lang_score") is not None else doc.get("lang")
    out = [
        "=" * width,
        f"{doc['id']}  {doc['url']}",
        f"title: {meta.get('title', '')!r}  lang: {lang}  words: {words}  images: {n_images}",
        "-" * width,
    ]
    for n in doc["nodes"]:
        if n["type"] == "text":
            out.append(textwrap.fill(n["text"], width=width))
        else:
            size = sizes.get(n.get("member", ""), 0)
            out.append(
                f"[image {n.get('member')} {n.get('width')}x{n.get('height')} {size // 1024} KiB"
                f" alt={n.get('alt', '')!r} {n['url']}]"
            )
        out.append("")
    return "\n".join(out)


def iter_jsonl(run_dir: str, name: str) -> Iterator[dict]:
    from apache_beam.io.filesystems import FileSystems

    for m in sorted(FileSystems.match([posixpath.join(run_dir, name, "*.jsonl")])[0].metadata_list, key=lambda m: m.path):
        with FileSystems.open(m.path) as f:
            for line in f.read().decode("utf-8").splitlines():
                if line.strip():
                    yield json.loads(line)


def render_dropped(r: dict, width: int = 100) -> str:
    head = f"[{r['stage']}/{r['level']}] {r['reason']}  {r.get('detail', '')}  {r.get('url', '')}"
    sample = textwrap.indent(textwrap.fill(r["sample"][:600], width=width - 4), "    ") if r.get("sample") else ""
    return head + ("\n" + sample if sample else "")


def main(args: argparse.Namespace, extra: list[str]) -> int:
    if args.dropped or args.errors:
        name = "errors" if args.errors else "dropped"
        shown = 0
        for r in iter_jsonl(args.path, name):
            if args.dropped and args.dropped != "all" and r["reason"] != args.dropped:
                continue
            if args.stage and r["stage"] != args.stage:
                continue
            print(render_dropped(r) if name == "dropped" else f"[{r['stage']}] {r['key']}: {r['error']}\n{r['trace']}")
            shown += 1
            if shown >= args.limit:
                break
        if not shown:
            print(f"no {name} records match")
        return 0
    shown = 0
    for key, doc, sizes in iter_samples(args.path):
        if args.key and key != args.key:
            continue
        if doc is None:
            print(f"{key}: sample has no .json member")
            continue
        print(json.dumps(doc, indent=2, ensure_ascii=False) if args.json else render_document(doc, sizes))
        shown += 1
        if shown >= args.limit:
            break
    return 0
