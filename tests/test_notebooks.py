"""The book's notebooks: jupytext pairs in sync, committed without outputs, parametrized.

Every chapter is ``notebooks/<name>.py`` (jupytext py:percent, the source people
edit) plus ``notebooks/<name>.ipynb`` (its pair, committed output-free for Colab
and Jupyter). These tests read only the repository's files, never execute a
notebook: ``make book`` does that.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
# The Colab cell installs glmlib from the book's repository, named once in _config.yml.
COLAB_INSTALL = "git+" + CONFIG["repository"]["url"]
REQUIRED_PARAMETERS = {"seed": 0, "quick": False, "device": "auto"}

# Chapters are notebooks/NN_<name>.py (+ .ipynb); other .py files there are helper modules
# that a chapter imports (e.g. worker functions that other processes must import).
CHAPTER = "[0-9][0-9]_*"
STEMS = sorted(
    {p.stem for p in NOTEBOOKS.glob(f"{CHAPTER}.py")}
    | {p.stem for p in NOTEBOOKS.glob(f"{CHAPTER}.ipynb")}
)
HELPERS = sorted(p for p in NOTEBOOKS.glob("*.py") if p.stem not in STEMS)


def toc_files(entry: dict[str, Any] | list[Any]) -> Iterator[str]:
    """Yield every ``root`` and ``file`` entry of a (nested) _toc.yml structure."""
    if isinstance(entry, list):
        for item in entry:
            yield from toc_files(item)
        return
    for key in ("root", "file"):
        if key in entry:
            yield entry[key]
    for key in ("parts", "chapters", "sections"):
        if key in entry:
            yield from toc_files(entry[key])


TOC = list(toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())))


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_notebooks_are_chapters_and_helpers_are_plain_modules() -> None:
    """Every notebook is a chapter (NN_<name>); a helper module has no notebook pair."""
    stray = [p.name for p in NOTEBOOKS.glob("*.ipynb") if p.stem not in STEMS]
    assert stray == [], "notebooks must be named NN_<name>.ipynb"
    paired = [p.name for p in HELPERS if p.with_suffix(".ipynb").exists()]
    assert paired == [], "a helper module must not have a notebook pair"
    jupytext_sources = [p.name for p in HELPERS if "\n# %%" in p.read_text()]
    assert jupytext_sources == [], "chapters must be named NN_<name>.py"


def test_there_is_at_least_one_notebook() -> None:
    assert any(entry.startswith("notebooks/") for entry in TOC)


@pytest.mark.parametrize("entry", TOC)
def test_toc_entry_exists(entry: str) -> None:
    if entry.startswith("notebooks/"):
        for suffix in (".py", ".ipynb"):
            path = ROOT / f"{entry}{suffix}"
            assert path.is_file(), f"_toc.yml lists {entry} but {path.name} is missing"
    else:
        candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(p.is_file() for p in candidates), f"_toc.yml lists {entry}, no such page"


def test_every_page_is_in_the_toc() -> None:
    pages = [f"notebooks/{stem}" for stem in STEMS]
    pages += [p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "book").glob("*.md")]
    assert sorted(set(pages) - set(TOC)) == [], "pages that _toc.yml does not list"


@pytest.mark.parametrize("stem", STEMS)
def test_pair_is_in_sync(stem: str) -> None:
    py, ipynb = NOTEBOOKS / f"{stem}.py", NOTEBOOKS / f"{stem}.ipynb"
    assert py.is_file(), f"{ipynb.name} has no paired {py.name}"
    assert ipynb.is_file(), f"{py.name} has no paired {ipynb.name}: run `jupytext --sync {py}`"

    def cells(path: Path) -> list[tuple[str, str, list[str]]]:
        nb = jupytext.read(path)
        return [(c.cell_type, c.source, tags(c)) for c in nb.cells]

    assert cells(py) == cells(ipynb), f"pair out of sync: run `jupytext --sync notebooks/{stem}.py`"


@pytest.mark.parametrize("stem", STEMS)
def test_committed_ipynb_has_no_outputs(stem: str) -> None:
    path = NOTEBOOKS / f"{stem}.ipynb"
    if not path.is_file():
        pytest.skip(f"{path.name} missing (reported by test_pair_is_in_sync)")
    cells = json.loads(path.read_text())["cells"]
    dirty = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs or execution counts"


def notebook(stem: str) -> Any:
    py = NOTEBOOKS / f"{stem}.py"
    return jupytext.read(py if py.is_file() else NOTEBOOKS / f"{stem}.ipynb")


@pytest.mark.parametrize("stem", STEMS)
def test_first_cell_installs_glmlib_on_colab_only(stem: str) -> None:
    first = notebook(stem).cells[0]
    assert first.cell_type == "code"
    assert '"google.colab" in sys.modules' in first.source
    targets = [
        node.value
        for node in ast.walk(ast.parse(first.source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "git+" in node.value
    ]
    # glmlib with the chapters' own dependencies, from _config.yml's repository.url
    assert targets == [f"glmlib[colab] @ {COLAB_INSTALL}"], targets


@pytest.mark.parametrize("stem", STEMS)
def test_the_colab_extra_covers_what_the_chapter_imports(stem: str) -> None:
    """Every third-party module a chapter imports is installed by glmlib[colab] or glmlib itself
    (PyTorch and Jupyter's own packages come with Colab)."""
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    provided = {
        canonicalize_name(Requirement(r).name)
        for r in project["dependencies"] + project["optional-dependencies"]["colab"]
    }
    provided |= {"glmlib", "torch", "ipython", "scipy", "numpy", "tqdm"}
    provided.add("cupy")  # chapter 6 imports it only when a GPU and CuPy are present
    modules = set()
    for node in ast.walk(ast.parse((NOTEBOOKS / f"{stem}.py").read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    helpers = {p.stem for p in HELPERS}
    distributions = packages_distributions()
    missing = {
        module: distributions.get(module, ["?"])
        for module in sorted(modules - set(sys.stdlib_module_names) - helpers)
        if not {canonicalize_name(d) for d in distributions.get(module, [module])} & provided
    }
    assert not missing, f"{stem} imports {missing}, which glmlib[colab] does not install"


def test_colab_launch_links_open_the_committed_notebooks() -> None:
    """The Colab button of a chapter links to .../blob/<branch>/notebooks/<chapter>.ipynb.

    Runs the theme's own link builder (sphinx-book-theme's add_launch_buttons) on the
    theme options Jupyter Book derives from _config.yml, for a page at the path it has
    in the staged _build/site/ (the repository's layout; see the Makefile's book target).
    """
    from types import SimpleNamespace

    from jupyter_book.config import yaml_to_sphinx
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    class Config(dict):
        __getattr__ = dict.__getitem__

    recursive, override, _ = yaml_to_sphinx(CONFIG)
    options = {**recursive.get("html_theme_options", {}), **override.get("html_theme_options", {})}
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    for page in [entry for entry in TOC if entry.startswith("notebooks/")]:
        config = Config(html_theme_options=options, html_context={})
        app = SimpleNamespace(
            config=config,
            env=SimpleNamespace(
                doc2path=lambda name: f"/site/{name}.ipynb", metadata={page: {"kernelspec": {}}}
            ),
            outdir="/site/_build/html",
        )
        update_context_with_repository_info(app)
        context = {
            **config.html_context,
            "pagename": page,
            "sourcename": f"{page}.ipynb",
            "header_buttons": [],
        }
        add_launch_buttons(app, page, "page.html", context, None)
        links = [b["url"] for group in context["header_buttons"] for b in group["buttons"]]
        expected = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{page}.ipynb"
        assert links == [expected]


@pytest.mark.parametrize("stem", STEMS)
def test_parameters_cell(stem: str) -> None:
    cells = [c for c in notebook(stem).cells if "parameters" in tags(c)]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    for name, default in REQUIRED_PARAMETERS.items():
        assert name in values, f"parameters cell lacks {name}"
        assert values[name] == default and type(values[name]) is type(default), (
            f"{name} = {values[name]!r}, expected default {default!r}"
        )


def parameters_and_check_cells(stem: str) -> tuple[Any, Any]:
    """The chapter's parameters cell and the cell right after it."""
    cells = notebook(stem).cells
    (index,) = [i for i, c in enumerate(cells) if "parameters" in tags(c)]
    return cells[index], cells[index + 1]


def parameter_names(source: str) -> list[str]:
    return [
        node.targets[0].id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    ]


@pytest.mark.parametrize("stem", STEMS)
def test_parameters_are_checked_right_after_the_parameters_cell(stem: str) -> None:
    """The next cell calls glmlib.book.check_parameters(globals(), ...) with a rule for
    every parameter besides the standard seed, quick and device (checked by default)."""
    from glmlib.book import STANDARD

    params, check = parameters_and_check_cells(stem)
    assert check.cell_type == "code", "the cell after the parameters cell must check them"
    calls = [
        node
        for node in ast.walk(ast.parse(check.source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check_parameters"
    ]
    assert len(calls) == 1, "the cell after the parameters cell must call check_parameters once"
    (call,) = calls
    assert ast.unparse(call.args[0]) == "globals()"
    ruled = {kw.arg for kw in call.keywords}
    assert ruled == set(parameter_names(params.source)) - set(STANDARD)


@pytest.mark.parametrize("stem", STEMS)
def test_a_bad_parameter_stops_the_chapter_in_the_check_cell(stem: str) -> None:
    """As papermill does: run the parameters cell, then an injected value, then the check cell.

    The defaults pass; any parameter set to a string of nonsense (or device "tpu") fails
    with a message that names it.
    """
    params, check = parameters_and_check_cells(stem)
    names = parameter_names(params.source)

    def run(injected: str) -> None:
        namespace: dict[str, Any] = {}
        exec(params.source, namespace)
        exec(injected, namespace)
        exec(check.source, namespace)

    run("")
    bad = {name: "not a valid value" for name in names} | {"device": "tpu", "n_folds": 0}
    for name in names:
        with pytest.raises((TypeError, ValueError), match=f"parameter {name} = "):
            run(f"{name} = {bad[name]!r}")


@pytest.mark.parametrize("stem", STEMS)
def test_readme_lists_the_chapter_parameters(stem: str) -> None:
    """README.md's "Chapter parameters" has a section per chapter naming its parameters."""
    from glmlib.book import STANDARD

    readme = (ROOT / "README.md").read_text()
    heading = f"\n### {stem}\n"
    assert heading in readme, f"README.md has no '### {stem}' section under Chapter parameters"
    section = readme.split(heading, 1)[1].split("\n#", 1)[0]
    params, _ = parameters_and_check_cells(stem)
    missing = [n for n in parameter_names(params.source) if n not in STANDARD]
    missing = [n for n in missing if f"| `{n}` |" not in section]
    assert missing == [], f"README.md's {stem} section lacks {missing}"
