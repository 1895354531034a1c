"""Shared fixtures: the bundled sample corpus and one pipeline run over it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_WARC = REPO / "data" / "sample" / "sample.warc.gz"


@pytest.fixture(scope="session")
def sample_warc() -> Path:
    return SAMPLE_WARC


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> Path:
    """The main job on the sample corpus, in-process DirectRunner, run once per session."""
    from interleaf.pipeline.config import RunConfig
    from interleaf.pipeline.run import run

    out = tmp_path_factory.mktemp("sample_run")
    run([str(SAMPLE_WARC)], str(out), RunConfig(), ["--runner", "DirectRunner"])
    return out


def load_manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())
