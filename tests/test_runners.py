"""The job as other runners see it: every DoFn survives pickling, and the Dataflow job description
builds offline with its options validated (``--dry_run``: nothing is submitted or staged)."""

from __future__ import annotations

import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions

from interleaf.pipeline.config import RunConfig
from interleaf.pipeline.inputs import InputFile
from interleaf.pipeline.run import build_pipeline

FILES = [
    InputFile("gs://bucket/crawl/CC-MAIN-00000.warc.gz"),
    InputFile("https://data.example.org/crawl/CC-MAIN-00001.warc.gz", "", 1234, 5678),
    InputFile("gs://bucket/cc-index/cdx-00000.gz"),  # expanded by the workers
]


def full_config(tmp_path) -> RunConfig:
    """Every optional stage on, so every DoFn is in the graph."""
    from PIL import Image

    from interleaf.pipeline.decontaminate import hash_images, write_hashes

    image = tmp_path / "eval.png"
    Image.effect_noise((200, 200), 40).convert("RGB").save(image)
    hashes = str(tmp_path / "eval.parquet")
    write_hashes(hash_images([str(image)])[0], hashes)
    return RunConfig(download_images=True, decontaminate_hashes=hashes)


def dofns(pipeline: beam.Pipeline) -> list[beam.DoFn]:
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            if isinstance(node.transform, beam.ParDo):
                found.append(node.transform.fn)

    pipeline.visit(Visitor())
    return found


def test_every_dofn_pickles_and_unpickles(tmp_path):
    p = beam.Pipeline(options=PipelineOptions(["--runner", "DirectRunner"]))
    build_pipeline(p, FILES, "gs://bucket/out", 0, full_config(tmp_path))
    fns = dofns(p)
    names = {type(fn).__name__ for fn in fns}
    assert {"ExpandLists", "KeepFirst", "ReadFiles", "StageDoFn", "ResolveImageUrls", "DownloadImagesDoFn"} <= names
    for fn in fns:
        clone = pickler.loads(pickler.dumps(fn))
        assert type(clone) is type(fn)


def test_dataflow_job_builds_offline(tmp_path):
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    options = PipelineOptions(
        [
            "--runner=DataflowRunner",
            "--project=my-project",
            "--region=us-central1",
            "--temp_location=gs://my-bucket/tmp",
            "--dry_run=True",
            "--no_auth",
        ]
    )
    p = beam.Pipeline(options=options)
    build_pipeline(p, FILES, "gs://my-bucket/out", 0, full_config(tmp_path))
    result = p.run()
    assert result.state == "DONE"
    assert isinstance(p.runner, DataflowRunner)
    names = {t.unique_name for t in p.runner.proto_pipeline.components.transforms.values()}
    assert {"Read", "Extract", "Documents", "Shards"} <= {n for n in names if "/" not in n}
    stages = {"Documents/Images", "Documents/NearDup", "Documents/ImageDedupe", "Documents/Apply"}
    assert stages <= {n for n in names if n.count("/") == 1}


def test_dataflow_options_are_validated():
    # Beam validates the Dataflow options as soon as the pipeline is made.
    with pytest.raises(ValueError, match="(?s)temp_location.*project.*region"):
        beam.Pipeline(options=PipelineOptions(["--runner=DataflowRunner", "--dry_run=True", "--no_auth"]))


def test_the_pipeline_does_not_import_torch():
    """Every worker process imports the pipeline's modules when it unpickles a DoFn: torch (the
    loaders' and model's dependency, seconds to import) must not come with them, and worker images
    are built without it (Dockerfile)."""
    code = "import sys, interleaf.pipeline.run, interleaf.cli; print(sorted(m for m in ('torch', 'webdataset') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("runner_args", [[], ["--runner", "DirectRunner"], ["--runner=direct"]])
def test_the_local_default_never_tries_prism(runner_args, tmp_path, monkeypatch):
    """Beam's DirectRunner first tries Prism, which downloads a binary from GitHub at every run;
    the local default runs on the FnApiRunner directly."""
    from apache_beam.runners.portability import prism_runner

    from interleaf.pipeline.run import run

    tried = []

    def refuse(self, *args, **kwargs):
        tried.append(self)
        raise RuntimeError("Prism was tried")

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", refuse)
    page = tmp_path / "pages" / "a.html"
    page.parent.mkdir()
    page.write_text("<html><body><p>" + "A short page about flamingos. " * 40 + "</p></body></html>")
    result = run([str(page.parent)], str(tmp_path / "out"), RunConfig(), runner_args)
    assert tried == []
    assert result.manifest["options"]["runner"] == "FnApiRunner"
    assert result.manifest["stages"]["read"]["in"] == 1
