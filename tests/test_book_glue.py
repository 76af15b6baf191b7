"""glmlib.book.glue: MyST-NB's glue where it is installed, nothing where it is not."""

from __future__ import annotations

import sys

import pytest

from glmlib.book import glue


def test_glue_passes_name_value_and_display_to_myst_nb(monkeypatch: pytest.MonkeyPatch) -> None:
    import myst_nb

    glued = []
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display: glued.append((name, value, display))
    )
    glue("n_rows", 42)
    glue("shown", 0.5, display=True)
    assert glued == [("n_rows", 42, False), ("shown", 0.5, True)]


def test_glue_without_myst_nb_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: import fails
    assert glue("n_rows", 42) is None
