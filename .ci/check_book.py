"""Check the built book in headless Chromium: every page in _toc.yml loads and renders cleanly.

Usage (from the repository root, after `make book`)::

    .venv/bin/python .ci/check_book.py [_build/html] [--chromium /usr/bin/chromium] [--screenshots DIR]
        [--toc _toc.yml]

It serves the HTML directory on 127.0.0.1, opens each page listed in _toc.yml
through playwright (driving the system Chromium; playwright never downloads a
browser here), blocks every request that leaves 127.0.0.1, and fails when

- a page does not load (HTTP status other than 200) or has no <h1>;
- an image on a page has not loaded (``naturalWidth == 0``);
- a notebook chapter (a ``notebooks/...`` entry) shows no figure at all (in a
  cell's output or a ``{glue:figure}``), or its
  Colab button does not open the committed ``notebooks/<name>.ipynb``;
- any cell shows error output: a traceback, an error, stderr output, or text
  such as ``ValueError: ...`` / ``Traceback (most recent call last)``;
- a page shows untypeset TeX: once MathJax has finished (``MathJax.startup.promise``),
  text outside code still holds a TeX delimiter (``\\(``, ``\\[``, ``$$``,
  ``\\begin{``), which is what a page looks like when MathJax did not load, or a
  page with Sphinx math (``.math`` elements) has no ``mjx-container``. MathJax is
  bundled with the book (sphinx-mathjax-offline), so this holds offline.

`make check-book` installs playwright into the venv and runs this script.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

if TYPE_CHECKING:  # playwright is imported in main(): the TeX check is tested without it
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Jupyter Book (myst-nb) renders outputs in div.cell_output; these classes mark error output.
ERROR_OUTPUT = "div.cell_output .output.traceback, div.cell_output .output.error, div.cell_output .output.stderr"
# Sphinx 7.4 re-adds sphinx-thebe's inline <script> (a body-only script registered after
# Builder.init() is not recognised as a duplicate), so every page declares THEBE_JS_URL twice.
# The second declaration fails, the first has already run, and thebe is not enabled: harmless.
KNOWN_JS_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
ERROR_TEXT = r"/Traceback \(most recent call last\)|^\s*\w*(Error|Exception)\b.*:/m"

PAGE_STATE = f"""() => {{
  const main = document.querySelector("main") || document.body;
  const images = Array.from(main.querySelectorAll("img"));
  const outputs = Array.from(document.querySelectorAll("div.cell_output"));
  const colab = document.querySelector('a[href*="colab.research.google.com"]');
  return {{
    title: (main.querySelector("h1") || {{}}).textContent || "",
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    // a cell's output, or a numbered {{glue:figure}} (its cell's own output is removed)
    figures: Array.from(main.querySelectorAll("div.cell_output img, figure img"))
                  .filter(i => i.complete && i.naturalWidth > 0).length,
    errorOutputs: document.querySelectorAll({ERROR_OUTPUT!r}).length,
    errorText: outputs.map(o => o.innerText).filter(t => {ERROR_TEXT}.test(t)),
    colab: colab ? colab.getAttribute("href") : null,  // as written: "./" not resolved
  }};
}}"""


# What a formula looks like when MathJax has not typeset it. Sphinx writes inline math as
# \( ... \), display math as \[ ... \] (amsmath environments as bare \begin{...}),
# and MyST's dollarmath keeps $$ only when it did not parse the block.
TEX_DELIMITERS = re.compile(r"\\\(|\\\[|\$\$|\\begin\{")
# Text inside these elements is shown as written, never typeset (MathJax skips them too),
# or is MathJax's own output.
NOT_TYPESET = frozenset(
    {"pre", "code", "kbd", "samp", "script", "style", "textarea", "noscript", "mjx-container"}
)
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _TexFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []  # open elements whose text is not typeset
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        classes = (dict(attrs).get("class") or "").split()
        if tag in NOT_TYPESET or "highlight" in classes:
            self.open.append(tag)
        elif self.open:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag in self.open:  # tolerate unclosed children, as browsers do
            while self.open and self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self.open and TEX_DELIMITERS.search(data):
            self.found.append(" ".join(data.split())[:120])


def untypeset_tex(markup: str) -> list[str]:
    """Text snippets of `markup` that show raw TeX: a delimiter outside code and outside
    MathJax output. Empty for a page MathJax has typeset (or a page with no math)."""
    finder = _TexFinder()
    finder.feed(markup)
    finder.close()
    return finder.found


# Wait for MathJax to finish (it loads deferred and typesets asynchronously), then report
# what the page holds: Sphinx math elements, MathJax output, and the main content's HTML.
MATH_STATE = """async () => {
  const mj = window.MathJax;
  let typeset = false, error = null;
  if (mj && mj.startup && mj.startup.promise) {
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("not finished after 20 s")), 20000));
    try { await Promise.race([mj.startup.promise, timeout]); typeset = true; }
    catch (e) { error = String(e); }
  }
  const main = document.querySelector("main") || document.body;
  return {
    typeset: typeset,
    error: error,
    mathElements: main.querySelectorAll(".math").length,
    containers: main.querySelectorAll("mjx-container").length,
    html: main.outerHTML,
  };
}"""


def math_problems(state: dict) -> list[str]:
    """Problems with a page's math, from MATH_STATE's result."""
    problems = []
    if state["error"]:
        problems.append(f"MathJax failed: {state['error']}")
    if state["mathElements"] and not state["containers"]:
        loaded = "typeset nothing" if state["typeset"] else "did not load"
        problems.append(f"{state['mathElements']} math element(s) but MathJax {loaded}")
    problems += [f"untypeset TeX: {text!r}" for text in untypeset_tex(state["html"])]
    return problems


def colab_url(config: dict, entry: str) -> str:
    """The URL the Colab button of notebook `entry` must link to, as written in the page."""
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    base = Path(config["repository"].get("path_to_book") or ".") / f"{entry}.ipynb"
    return f"https://colab.research.google.com/github/{repo}/blob/{config['repository']['branch']}/{base.as_posix()}"


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_page(page: Page, url: str, entry: str, config: dict) -> list[str]:
    response = page.goto(url, wait_until="load")
    if response is None or response.status != 200:
        return [f"HTTP {response.status if response else 'no response'}"]
    page.wait_for_load_state("networkidle")
    state = page.evaluate(PAGE_STATE)
    problems = []
    if not state["title"].strip():
        problems.append("no <h1> title")
    problems += [f"image not loaded: {src}" for src in state["broken"]]
    if state["errorOutputs"]:
        problems.append(f"{state['errorOutputs']} error/traceback/stderr output(s)")
    problems += [f"error text in output: {text[:200]!r}" for text in state["errorText"]]
    problems += math_problems(page.evaluate(MATH_STATE))
    if entry.startswith("notebooks/"):
        if state["figures"] == 0:
            problems.append("notebook chapter shows no loaded figure")
        expected = colab_url(config, entry)
        if state["colab"] != expected:
            problems.append(f"Colab button opens {state['colab']}, expected {expected}")
        if not (ROOT / f"{entry}.ipynb").is_file():
            problems.append(f"Colab button targets {entry}.ipynb, which is not in the repository")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default=ROOT / "_build" / "html", type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshots", type=Path, help="save a full-page PNG of each page here")
    parser.add_argument(
        "--toc", default=ROOT / "_toc.yml", type=Path, help="pages to check (a trimmed book's)"
    )
    args = parser.parse_args()

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    entries = list(parse_toc_yaml(args.toc))  # the parser Jupyter Book itself uses
    missing = [e for e in entries if not (args.html / f"{e}.html").is_file()]
    if missing:
        print(f"FAIL: pages in _toc.yml with no HTML in {args.html}: {missing}")
        return 1

    from playwright.sync_api import Route, sync_playwright

    server = serve(args.html)
    origin = f"http://127.0.0.1:{server.server_port}"
    failures = 0
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=args.chromium, headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page()
        page.set_default_timeout(30_000)

        def offline(route: Route) -> None:  # no internet in CI: fail fast instead of waiting
            if route.request.url.startswith(origin):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", offline)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for entry in entries:
            errors.clear()
            problems = check_page(page, f"{origin}/{entry}.html", entry, config)
            problems += [f"JavaScript error: {e}" for e in errors if e not in KNOWN_JS_ERRORS]
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(
                    path=args.screenshots / f"{entry.replace('/', '_')}.png", full_page=True
                )
            print(f"{'FAIL' if problems else 'ok  '} {entry}")
            for problem in problems:
                print(f"       {problem}")
            failures += bool(problems)
        browser.close()
    server.shutdown()
    print(f"{len(entries) - failures}/{len(entries)} pages pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
