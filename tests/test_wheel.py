"""The wheel carries the data sets and the recorded results (as ``pip install git+...`` needs).

Builds a wheel from a copy of the files a build reads (pyproject.toml,
setup.py, MANIFEST.in, README.md, glmlib/, data/), installs it into an empty
folder and, from a directory outside the repository, imports that copy of
glmlib and loads every data set through its checksum and schema checks. About
15 s on two cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from glmlib.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
RECORDED = "glmlib/recorded/gpu/example.json"  # stands in for the committed results files


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the checkout, with one recorded-results file added."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "glmlib", src / "glmlib", ignore=ignore)
    shutil.copytree(ROOT / "data", src / "data", ignore=ignore)
    recorded = src / RECORDED
    recorded.parent.mkdir(parents=True, exist_ok=True)
    recorded.write_text(json.dumps({"device": "test"}))
    dist = tmp_path_factory.mktemp("dist")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), ".", cwd=src)
    (built,) = dist.glob("glmlib-*.whl")
    return built


def test_wheel_holds_every_data_file_and_recorded_results(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in DATASETS.values():
        assert f"glmlib/datasets/data/{spec.filename}" in names, spec.filename
    assert RECORDED in names
    assert "glmlib/py.typed" in names
    # chapter 6 imports its worker processes from the package and reads the recorded GPU sweep log
    assert "glmlib/book/scaling.py" in names
    assert "glmlib/recorded/gpu/h200_2026-12-04_43f0080.log" in names
    # the internal sub-packages the estimators import (packages.find picks them up)
    for package in ("solver", "design"):
        src_modules = sorted(p.name for p in (ROOT / "glmlib" / package).glob("*.py"))
        assert src_modules, package
        for name in src_modules:
            assert f"glmlib/{package}/{name}" in names, (package, name)
    assert not any(n.startswith("data/") for n in names), "data/ is not a top-level package"


def test_installed_wheel_loads_every_data_set(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(
        *pip,
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        "--target",
        str(site),
        str(wheel),
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = textwrap.dedent(
        """
        import glmlib
        from glmlib.datasets import DATASETS, get_data_dir, load
        print(glmlib.__file__)
        print(get_data_dir())
        for name, spec in DATASETS.items():
            df = load(name)
            assert len(df) == spec.n_rows, name
        print(len(DATASETS))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GLMLIB_DATA", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)  # ahead of the venv's editable install of the checkout
    out = _run(sys.executable, "-c", script, cwd=elsewhere, env=env).split()
    assert Path(out[0]) == site / "glmlib" / "__init__.py", "imported the checkout, not the wheel"
    assert Path(out[1]) == site / "glmlib" / "datasets" / "data"
    assert int(out[2]) == len(DATASETS)
