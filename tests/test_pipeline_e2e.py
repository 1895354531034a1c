"""The main job on the bundled sample corpus: accounting, webdataset read-back, determinism."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import subprocess
import sys
import tarfile

import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import REPO, load_manifest
from interleaf.cli import main as cli
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.run import run


def shard_digests(run_dir) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / "shards").glob("*.tar"))}


def test_every_stage_balances_and_read_sees_every_record(sample_run, sample_warc):
    manifest = load_manifest(sample_run)
    assert manifest["balanced"]
    for name, s in manifest["stages"].items():
        assert s["in"] == s["kept"] + sum(s["dropped"].values()) + s["errors"], name
    with open(sample_warc, "rb") as f:
        n_records = sum(1 for _ in ArchiveIterator(f))
    assert manifest["stages"]["read"]["in"] == n_records
    stages = manifest["stages"]
    # what read kept entered extraction (pages) or the image join (stored images)
    assert stages["extract"]["in"] + stages["image_records"]["in"] == stages["read"]["kept"]


def test_bad_cases_leave_with_reasons(sample_run):
    stages = load_manifest(sample_run)["stages"]
    assert stages["read"]["dropped"] == {"http_status": 1, "unsupported_type": 1}
    assert {"no_content", "opted_out"} <= set(stages["extract"]["dropped"])
    image_reasons = set(stages["images"]["nodes_dropped"]["image"])
    assert {"decode_error", "too_large", "aspect_ratio", "not_in_input"} <= image_reasons
    assert "boilerplate" in stages["extract"]["nodes_dropped"]["image"] or "tracking_pixel" in stages["extract"][
        "nodes_dropped"
    ]["image"]
    assert stages["dedupe_documents"]["dropped"] == {"duplicate_url": 1}  # the page crawled twice
    assert "too_few_images" in stages["filter"]["dropped"]
    # 30 articles, one a repeat, one with repetitive text: the rest survive every stage
    assert load_manifest(sample_run)["totals"]["documents"] >= 28


def test_dropped_records_match_the_counters(sample_run):
    stages = load_manifest(sample_run)["stages"]
    written = collections.Counter()
    for path in (sample_run / "dropped").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            written[(r["stage"], r["level"], r["reason"])] += 1
    counted = collections.Counter()
    for name, s in stages.items():
        for reason, n in s["dropped"].items():
            if name != "image_records":  # image records are counted, not written (no document)
                counted[(name, "document", reason)] += n
        for level, reasons in s["nodes_dropped"].items():
            for reason, n in reasons.items():
                counted[(name, level, reason)] += n
    assert written == counted


def test_record_lines_sample_dropped_records_and_keep_every_error_and_shard():
    from interleaf.pipeline.shards import ShardInfo
    from interleaf.pipeline.stage import ErrorRecord
    from interleaf.pipeline.transforms import record_lines
    from interleaf.schemas import Dropped

    drops = [Dropped("filter", "too_few_words", doc_id=f"{i:040x}") for i in range(400)]
    records = drops + [ErrorRecord("read", "a.warc", "DamagedWarc: cut", ""), ShardInfo("s.tar", "ab", 3, 2, 10)]
    lines = [line for r in records for line in record_lines(r, 0.25)]
    folders = collections.Counter(folder for folder, _ in lines)
    assert folders["errors"] == 1 and folders["_work"] == 1
    assert 60 < folders["dropped"] < 140  # a quarter of 400, by id hash
    assert lines == [line for r in records for line in record_lines(r, 0.25)]  # the same sample every run
    assert json.loads(lines[-1][1])["name"] == "s.tar"
    assert sum(1 for r in drops for _ in record_lines(r, 1.0)) == 400


def test_shards_read_back_with_webdataset_alone(sample_run):
    """No interleaf code on the read path: webdataset, json and Pillow only."""
    import webdataset as wds
    from PIL import Image

    manifest = load_manifest(sample_run)
    urls = [str(p) for p in sorted((sample_run / "shards").glob("*.tar"))]
    n_docs = n_images = 0
    for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
        doc = json.loads(sample["json"])
        assert doc["id"] == sample["__key__"]
        for node in doc["nodes"]:
            if node["type"] == "image":
                im = Image.open(io.BytesIO(sample[node["member"]]))
                assert im.size == (node["width"], node["height"])
                n_images += 1
        n_docs += 1
    assert n_docs == manifest["totals"]["documents"] and n_images == manifest["totals"]["images"]
    for info in manifest["shards"]:
        data = (sample_run / "shards" / info["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["bytes"]


def test_rerun_and_multiprocessing_give_identical_shards(sample_run, sample_warc, tmp_path):
    again = tmp_path / "again"
    run([str(sample_warc)], str(again), RunConfig(), ["--runner", "DirectRunner"])
    multi = tmp_path / "multi"
    run(
        [str(sample_warc)],
        str(multi),
        RunConfig(),
        ["--runner", "DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    )
    expected = shard_digests(sample_run)
    assert expected and shard_digests(again) == expected
    assert shard_digests(multi) == expected
    assert load_manifest(multi)["stages"] == load_manifest(sample_run)["stages"]


def test_html_folder_input(tmp_path):
    site = tmp_path / "site" / "blog"
    site.mkdir(parents=True)
    first = ("The harbour master opened the new footbridge to visitors on a quiet Sunday morning, and "
             "by noon more than a hundred people had crossed it to look at the boats in the old basin.")
    second = ("Children from the nearby school painted the signs that now stand at the entrance, while their "
              "teachers explained how the tides change the water level twice a day.")
    (site / "post.html").write_text(f"<html><head><title>Post</title></head><body><article><p>{first}</p>"
                                    f"<p>{second}</p></article></body></html>")
    out = tmp_path / "out"
    config = RunConfig(html_base_url="https://blog.example.org")
    config.filters.document.min_images = 0  # a text-only page, kept for this test
    run([str(tmp_path / "site")], str(out), config, ["--runner", "DirectRunner"])
    with tarfile.open(next((out / "shards").glob("*.tar"))) as tar:
        docs = [json.loads(tar.extractfile(m).read()) for m in tar if m.name.endswith(".json")]
    assert [d["url"] for d in docs] == ["https://blog.example.org/blog/post.html"]
    assert docs[0]["source"]["kind"] == "html"


def test_cli_inspect_and_dropped(sample_run, capsys):
    shard = next((sample_run / "shards").glob("*.tar"))
    assert cli(["inspect", str(shard), "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "[image 000." in out and "https://" in out and "title:" in out
    assert cli(["inspect", str(sample_run), "--dropped", "opted_out"]) == 0
    assert "no-ai.html" in capsys.readouterr().out


def test_bundled_sample_is_what_the_script_makes(tmp_path):
    out = tmp_path / "s.warc.gz"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample_corpus.py"), "-o", str(out)], check=True)
    assert out.read_bytes() == (REPO / "data" / "sample" / "sample.warc.gz").read_bytes()


def test_validate_accepts_the_run_and_finds_damage(sample_run, tmp_path, capsys):
    assert cli(["validate", str(sample_run)]) == 0
    assert " 0 problems" in capsys.readouterr().out
    shard = next((sample_run / "shards").glob("*.tar"))
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert cli(["validate", str(damaged)]) == 1
    assert "unreadable after" in capsys.readouterr().out
