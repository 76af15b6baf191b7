"""glmlib._progress: a bar that never warns for want of ipywidgets."""

from __future__ import annotations

import importlib.util
import warnings

import pytest

from glmlib._progress import progress_bar


def test_text_bar_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real(name, *a),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto's "IProgress not found" would raise here
        bar = progress_bar(3, enabled=True, desc="x")
        bar.update(3)
        bar.close()
    assert type(bar).__module__ == "tqdm.std" and bar.n == 3


def test_disabled_bar_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress_bar(5, enabled=False, initial=2)
    bar.update(1)  # a no-op, as callers update unconditionally
    bar.close()
    assert bar.disable
    assert capsys.readouterr().err == ""
