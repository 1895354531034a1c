"""Runs split into parts resume after a kill or a failed part; retried bundles leave no trace in the output."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

import faults
from conftest import REPO, SAMPLE_WARC, load_manifest
from interleaf.pipeline import transforms
from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.inputs import InputFile
from interleaf.pipeline.parts import ResumeMismatch, part_of, split_parts
from interleaf.pipeline.run import clear_part, run


def digests(run_dir) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / "shards").glob("*.tar"))}


@pytest.fixture(scope="module")
def many_inputs(tmp_path_factory):
    """Copies of the sample WARC, named so that each of 3 parts gets two of them."""
    folder = tmp_path_factory.mktemp("inputs")
    per_part = [0, 0, 0]
    i = 0
    while min(per_part) < 2:
        path = folder / f"crawl-{i}.warc.gz"
        part = part_of(str(path), 3)
        if per_part[part] < 2:
            path.write_bytes(SAMPLE_WARC.read_bytes())
            per_part[part] += 1
        i += 1
    return folder


@pytest.fixture(scope="module")
def clean_run(many_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    result = run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3)
    return out, result


def test_parts_are_stable_and_cover_every_file():
    files = [InputFile(f"gs://bucket/crawl/CC-MAIN-{i:05d}.warc.gz") for i in range(100)]
    parts = split_parts(files, 7)
    assert sorted(f for p in parts for f in p) == sorted(files)
    assert all(part_of(f.key, 7) == i for i, p in enumerate(parts) for f in p)
    assert split_parts(list(reversed(files)), 7) == [list(reversed(p)) for p in parts]


def test_clearing_a_part_leaves_the_other_parts_files(tmp_path):
    """Part 1's redo must not take part 0's second shard (shard-00000-00001.tar) with it."""
    names = ["shards/shard-00000-00001.tar", "shards/shard-00001-00000.tar", "shards/shard-00002-00001.tar",
             "errors/errors-00001-00007.jsonl", "dropped/dropped-00003-00001.jsonl", "documents/shard-00000-00001.parquet"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    clear_part(str(tmp_path), 1)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*"))
    assert left == sorted(n for n in names if "-00001-" not in n)


def test_rerun_of_a_complete_run_runs_nothing(clean_run, many_inputs):
    out, first = clean_run
    assert sorted(first.parts_run) == [0, 1, 2]
    before = digests(out)
    again = run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3)
    assert again.parts_run == [] and digests(out) == before
    assert again.manifest["stages"] == first.manifest["stages"]


def test_parts_run_at_once_give_the_same_output(clean_run, many_inputs, tmp_path):
    out = tmp_path / "parallel"
    result = run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3,
                 parallel_parts=3)
    clean_out, clean = clean_run
    assert sorted(result.parts_run) == [0, 1, 2]
    assert digests(out) == digests(clean_out)
    assert result.manifest["stages"] == clean.manifest["stages"]


def test_a_failed_part_starts_no_other_and_the_rerun_completes_the_run(clean_run, many_inputs, tmp_path, monkeypatch):
    from interleaf.pipeline import run as run_module

    real, started = run_module.run_part, []

    def failing_first(part, *args):
        started.append(part)
        if len(started) == 1:
            raise ConnectionError("injected: the job was cancelled")
        return real(part, *args)

    monkeypatch.setattr(run_module, "run_part", failing_first)
    out = tmp_path / "failed"
    with pytest.raises(ConnectionError, match="injected"):
        run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3)
    assert started == [0]
    monkeypatch.undo()
    resumed = run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3)
    assert sorted(resumed.parts_run) == [0, 1, 2]
    assert digests(out) == digests(clean_run[0])


def test_other_options_refuse_to_resume(clean_run, many_inputs):
    out, _ = clean_run
    config = RunConfig()
    config.shards.docs_per_shard = 7
    with pytest.raises(ResumeMismatch, match="other options"):
        run([str(many_inputs)], str(out), config, ["--runner", "DirectRunner"], num_parts=3)


def test_killed_run_resumes_to_the_same_shards(clean_run, many_inputs, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "interleaf.cli", "run", "-i", str(many_inputs), "-o", str(out),
           "--num-parts", "3", "--runner", "DirectRunner"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not list((out / "parts").glob("part-*.json")) and time.time() < deadline:
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    done = {p.name for p in (out / "parts").glob("part-*.json")}
    assert 1 <= len(done) < 3, f"killed after its first part and before its last, not with {done} complete"
    resumed = run([str(many_inputs)], str(out), RunConfig(), ["--runner", "DirectRunner"], num_parts=3)
    assert 0 < len(resumed.parts_run) < 3
    clean_out, clean = clean_run
    assert digests(out) == digests(clean_out)
    assert resumed.manifest["stages"] == clean.manifest["stages"]
    assert not list(out.rglob("*.tmp"))


def flaky_shard_writes(monkeypatch, markers) -> None:
    """Each shard write fails on its first attempt, in this process and in runner workers."""
    markers.mkdir()
    paths = [str(REPO / "tests"), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    flaky = functools.partial(faults.fail_once, real=transforms.write_shard, markers=str(markers), key=faults.shard_key)
    monkeypatch.setattr(transforms, "write_shard", flaky)


def test_failed_bundles_are_retried_without_a_trace(tmp_path, monkeypatch):
    """The bundle-based DirectRunner retries a failed bundle, as Dataflow does: each shard write
    fails on its first attempt, and the output is still identical to a clean run's."""
    flaky_shard_writes(monkeypatch, tmp_path / "failed")
    out = tmp_path / "flaky"
    result = run([str(SAMPLE_WARC)], str(out), RunConfig(), ["--runner", "BundleBasedDirectRunner"])
    monkeypatch.undo()
    assert list((tmp_path / "failed").iterdir()), "the fault was never injected"
    clean = tmp_path / "clean"
    run([str(SAMPLE_WARC)], str(clean), RunConfig(), ["--runner", "BundleBasedDirectRunner"])
    assert digests(out) == digests(clean) and digests(out)
    assert result.manifest["stages"] == json.loads((clean / "manifest.json").read_text())["stages"]


def test_a_fault_in_a_multiprocessing_worker_fails_the_part_and_the_rerun_completes_it(sample_run, tmp_path, monkeypatch):
    """The DirectRunner's engine retries no bundle, in multi_processing mode either: a shard write
    that fails in a worker process fails the part, which leaves no completion marker, and the rerun
    redoes it to the shards of a clean run."""
    flaky_shard_writes(monkeypatch, tmp_path / "failed")
    out = tmp_path / "flaky"
    args = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    with pytest.raises(Exception, match="injected: storage write failed"):
        run([str(SAMPLE_WARC)], str(out), RunConfig(), args)
    [marker] = (tmp_path / "failed").iterdir()
    assert marker.name == "0-0" and int(marker.read_text()) != os.getpid()  # it failed in a worker process
    assert not (out / "parts").exists()
    resumed = run([str(SAMPLE_WARC)], str(out), RunConfig(), args)
    assert resumed.parts_run == [0]
    assert digests(out) == digests(sample_run) and digests(out)
    assert resumed.manifest["stages"] == load_manifest(sample_run)["stages"]
