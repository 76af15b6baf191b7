"""Tests for ``glmlib.show_versions`` (``glmlib/_versions.py``)."""

from __future__ import annotations

from importlib.metadata import version

import glmlib


def test_show_versions_prints_core_and_requested_packages(capsys):
    found = glmlib.show_versions(["numpy", "no-such-package-xyz"], device="cpu", seed=3, quick=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("python ")
    assert out[1] == "device cpu, seed 3, quick True"
    assert list(found)[:5] == ["glmlib", "numpy", "scipy", "pandas", "scikit-learn"]
    assert list(found).count("numpy") == 1  # requested again, reported once
    assert found["numpy"] == version("numpy") and f"numpy {version('numpy')}" in out
    assert found["no-such-package-xyz"] == "not installed"
    assert "no-such-package-xyz not installed" in out


def test_show_versions_without_device_or_settings(capsys):
    glmlib.show_versions()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("python ") and out[1].startswith("glmlib ")
