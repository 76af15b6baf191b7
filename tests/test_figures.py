"""Numbered figures: glmlib.book.glue_figure, and the chapters' use of it.

A chapter figure is glued in a code cell tagged ``remove-output`` and placed by a
``{glue:figure}`` directive with a caption and a ``:name:`` label, which the text
cites with ``{numref}``. These tests read the chapter sources; `make book` (-W) and
.ci/check_book.py check the rendered figures.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from glmlib.book import glue_figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
GLUE_CALL = re.compile(r"""glue_figure\(\s*["']([^"']+)["']""")
DIRECTIVE = re.compile(r"```\{glue:figure\}[ \t]*(\S+)\n((?::\S+:[^\n]*\n)*)\n(.+?)```", re.S)


def test_glue_figure_glues_shows_once_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    import myst_nb

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, fig, display: glued.append((name, display)))
    fig, _ = plt.subplots()
    glue_figure("fig-test", fig)
    assert glued == [("fig-test", True)]  # shown under the cell in Jupyter and Colab
    assert not plt.fignum_exists(fig.number)  # so the inline backend does not show it again


def test_glue_figure_without_myst_nb_only_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: import fails
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig, _ = plt.subplots()
    glue_figure("fig-test", fig)
    assert shown == [fig]
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_glued_figures_are_placed_captioned_labelled_and_cited(source: Path) -> None:
    notebook = jupytext.read(source)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    glued = [name for cell in code for name in GLUE_CALL.findall(cell.source)]
    assert len(glued) == len(set(glued)), "a glue key is used twice"
    for cell in code:
        if GLUE_CALL.search(cell.source):
            assert "remove-output" in cell.metadata.get("tags", []), (
                f"{source.name}: the cell gluing {GLUE_CALL.findall(cell.source)} is not tagged "
                "remove-output (the book would show the figure twice)"
            )
    placed = {}
    for name, options, caption in DIRECTIVE.findall(markdown):
        assert f":name: {name}" in options, f"{source.name}: {{glue:figure}} {name} has no :name:"
        assert caption.strip(), f"{source.name}: {{glue:figure}} {name} has no caption"
        placed[name] = caption
    assert sorted(placed) == sorted(glued), f"{source.name}: glued and placed figures differ"
    for name in glued:
        assert f"{{numref}}`{name}`" in markdown, f"{source.name}: no {{numref}} cites {name}"


def test_figure_labels_are_unique_across_chapters() -> None:
    # Sphinx labels are global: the same :name: in two chapters fails the -W build.
    owners: dict[str, str] = {}
    for source in SOURCES:
        markdown = "\n".join(
            c.source for c in jupytext.read(source).cells if c.cell_type == "markdown"
        )
        for label in re.findall(r"^:name:\s*(\S+)", markdown, re.M):
            assert label not in owners, f"{label} is named in {owners[label]} and {source.stem}"
            owners[label] = source.stem
    assert owners  # the chapters have labelled figures at all
