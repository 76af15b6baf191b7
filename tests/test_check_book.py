"""The book reads offline: MathJax is bundled, and .ci/check_book.py catches untypeset TeX.

The browser check itself (`make check-book`) needs Chromium; these tests cover what can
be checked without one: the configuration, and the function that decides whether a
page's HTML still shows raw TeX.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_check_book() -> ModuleType:
    """Import .ci/check_book.py (a script, not a package) without playwright."""
    spec = importlib.util.spec_from_file_location("check_book", ROOT / ".ci" / "check_book.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_book = load_check_book()


def test_config_bundles_mathjax() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    # a mathjax_path in the config would override the bundled copy (a CDN url, say)
    assert "mathjax_path" not in config["sphinx"].get("config", {})


def test_offline_extension_points_mathjax_at_static() -> None:
    pytest.importorskip("sphinx")
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec is not None, "pip install sphinx-mathjax-offline (the book extra)"
    assert spec.origin is not None
    assert (Path(spec.origin).parent / "static" / "mathjax" / "tex-chtml.js").is_file()

    class App:
        class config:  # noqa: N801 - stands in for Sphinx's app.config
            mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

        def connect(self, event: str, handler: object) -> None:
            pass

    app = App()
    importlib.import_module("sphinx-mathjax-offline").setup(app)
    assert app.config.mathjax_path == "mathjax/tex-chtml.js"  # under _static/, no network


@pytest.mark.parametrize(
    "html",
    [
        # Sphinx's markup before MathJax ran: what an offline page shows with a CDN MathJax
        '<p>a link <span class="math notranslate nohighlight">\\(g(\\mu_i) = \\eta_i\\)</span></p>',
        '<div class="math notranslate nohighlight">\\[ g(\\mu_i) = x_i^\\top \\beta \\]</div>',
        '<div class="math notranslate nohighlight">\\begin{align} a &amp;= b \\end{align}</div>',
        "<p>$$ y = X \\beta $$</p>",
        # raw TeX after a code element has closed, or beside MathJax output
        "<p><code>\\(x\\)</code> then \\(y\\)</p>",
        "<p><mjx-container>x</mjx-container> and \\(y\\)</p>",
    ],
)
def test_untypeset_tex_is_found(html: str) -> None:
    assert check_book.untypeset_tex(f"<main><h1>T</h1>{html}</main>")


@pytest.mark.parametrize(
    "html",
    [
        "<p>No math here, only prices: $5 and $10.</p>",
        # typeset by MathJax: the TeX is gone, replaced by mjx-container
        '<p><span class="math"><mjx-container class="MathJax" jax="CHTML">'
        "<mjx-math><mjx-mi></mjx-mi></mjx-math>"
        "<mjx-assistive-mml><math><mi>g</mi></math></mjx-assistive-mml></mjx-container></span></p>",
        # TeX shown as code is meant to be read as written
        "<p>write <code>\\(x\\)</code> for inline math</p>",
        '<div class="highlight"><pre><span>print("\\\\[x\\\\]")</span><br>$$</pre></div>',
        "<script>MathJax = {tex: {inlineMath: [['\\\\(', '\\\\)']]}}</script>",
        "<pre>\\begin{align}<b>x</b>\\end{align}</pre>",
    ],
)
def test_typeset_or_code_is_not_flagged(html: str) -> None:
    assert check_book.untypeset_tex(f"<main><h1>T</h1>{html}</main>") == []


def test_math_problems_name_a_page_mathjax_did_not_typeset() -> None:
    raw = '<main><span class="math">\\(x\\)</span></main>'
    state = {"typeset": False, "error": None, "mathElements": 1, "containers": 0, "html": raw}
    problems = check_book.math_problems(state)
    assert problems[0] == "1 math element(s) but MathJax did not load"
    assert problems[1] == "untypeset TeX: '\\\\(x\\\\)'"
    done = '<main><span class="math"><mjx-container></mjx-container></span></main>'
    state = {"typeset": True, "error": None, "mathElements": 1, "containers": 1, "html": done}
    assert check_book.math_problems(state) == []
    state = {"typeset": False, "error": "Error: not finished after 20 s", "mathElements": 0}
    assert check_book.math_problems({**state, "containers": 0, "html": "<main></main>"}) == [
        "MathJax failed: Error: not finished after 20 s"
    ]
