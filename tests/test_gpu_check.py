"""``benchmarks/gpu_check.py`` runs every ``gpu``-marked test module, found when it runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_module_with_a_gpu_mark_is_run(tmp_path):
    found = set(load_gpu_check().gpu_test_files())
    # The modules the book's GPU claims rest on, including the NCCL fit and the neural GLMs.
    for module in ("tests/test_distributed.py", "tests/nn/test_base.py", "tests/test_backends.py"):
        assert module in found
    assert "tests/test_glm.py" not in found  # no gpu mark there


def test_marks_are_read_from_the_text(tmp_path):
    gpu_check = load_gpu_check()
    (tmp_path / "tests" / "sub").mkdir(parents=True)
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.gpu\ndef test_x(): ...\n"
    )
    (tmp_path / "tests" / "sub" / "test_b.py").write_text("pytestmark = [pytest.mark.gpu]\n")
    (tmp_path / "tests" / "test_c.py").write_text('"""Mentions pytest.mark.gpu in prose."""\n')
    assert gpu_check.gpu_test_files(tmp_path) == ["tests/sub/test_b.py", "tests/test_a.py"]
