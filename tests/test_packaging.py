"""The wheel (not only the editable install) carries every subpackage and data file."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_has_every_subpackage_and_the_word_lists(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("interleaf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("schemas", "filters", "pipeline", "loaders", "flamingo", "cli"):
        assert f"interleaf/{package}/__init__.py" in names, package
    assert "interleaf/pipeline/run.py" in names and "interleaf/cli/__main__.py" in names
    assert any(n.startswith("interleaf/filters/wordlists/") and n.endswith(".txt") for n in names)
    # no generic top-level names that would collide in site-packages
    assert not {n.split("/")[0] for n in names} - {"interleaf", *{n.split("/")[0] for n in names if ".dist-info" in n}}
