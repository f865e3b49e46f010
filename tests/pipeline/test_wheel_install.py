"""A regular (non-editable) install works away from the source tree, with the default model.

The wheel is built from a copy of the sources (so the checkout gets no build/ folder), then
installed without its dependencies into a fresh venv that sees the project venv's packages
through a .pth file (installing torch again would take minutes). The analysis runs from a
temporary folder, so nothing can come from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_and_analyses_with_the_default_model_outside_the_source_tree(clips, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / f, src / f)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "fervideo", src / "fervideo", ignore=ignore)
    shutil.copytree(ROOT / "models", src / "models", ignore=ignore)
    dist = tmp_path / "dist"
    run = dict(capture_output=True, text=True, timeout=300)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-v", "-w", str(dist)], **run)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Deprecat" not in r.stdout + r.stderr  # project.license as an SPDX string, no table
    wheel = next(dist.glob("fervideo-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, **run)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", str(wheel)], **run)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, **run).stdout.strip()
    # the dependencies (torch, av, ...) from the project venv; its editable fervideo is not
    # activated (.pth files of a directory added this way are not processed)
    Path(site, "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy2(clips["face"], work / "sample.mp4")
    env = {k: v for k, v in os.environ.items() if k not in ("FERVIDEO_MODELS", "PYTHONPATH")}
    where = subprocess.run([str(py), "-c", "import fervideo, sys; print(fervideo.__file__)"], cwd=work, env=env, check=True, **run)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the wheel's copy, not the checkout
    r = subprocess.run([str(venv / "bin" / "fervideo"), "analyze", "sample.mp4", "--out", "out", "--no-render"],
                       cwd=work, env=env, **run)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    meta = subprocess.run([str(py), "-c", "from fervideo.io.tables import read_metadata; import json; "
                           "print(json.dumps(read_metadata('out/sample/timeline.parquet')['models']))"],
                          cwd=work, env=env, check=True, **run).stdout
    assert str(venv / "share" / "fervideo" / "models" / "fervit-fer2013") in meta, meta
    listed = subprocess.run([str(venv / "bin" / "fervideo"), "models", "list"], cwd=work, env={**env, "COLUMNS": "250"}, **run)
    assert "fervit-fer2013" in listed.stdout + listed.stderr
