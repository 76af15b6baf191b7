"""Every result a chapter's prose states is computed by the chapter, never typed.

A chapter puts a computed number into its prose with MyST-NB's glue
(``{glue:text}`name:.3f` ``, ``{glue:}`name` ``) or with Markdown that a code
cell produces. What may remain literal in Markdown cells:

* numbers inside math (``$...$``, ``$$...$$``), inline code, roles and
  directives (``{glue:text}`...` ``, ``{numref}`...` ``, figure blocks), link
  targets and HTML comments: they are notation, code or references;
* years (1900-2099) and the constants listed per chapter in ``ALLOWED``, each
  with its reason (a data set's documented size, a confidence level, a
  listing or chapter number of the research, a parameter's stated default).

Anything else is reported with its line, so that a sentence such as "kept none
of the 21 columns" cannot survive another seed or quick mode unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

# Chapter stem -> {literal: reason}. Keep each entry's reason: it is the review.
ALLOWED: dict[str, dict[str, str]] = {
    "01_introduction": {
        "4": "a chapter number of the research: James et al. (2013), chapter 4",
    },
    "05_bayesian_glms": {
        "20": "the motivation's example of prior knowledge (an odds ratio of 20), not a result",
        "10": "the sd of the vague Normal(0, 10) prior, a choice of the analysis",
        "94%": "the credible-interval level, a choice (ArviZ's default HDI)",
    },
    "06_scaling_cublas_nccl": {
        "5.1": "a listing number of the research (its cuBLAS GEMM listing)",
        "5.2": "a listing number of the research (its DDP training listing)",
        "3": "a name: ZeRO stage 3",
    },
    "02_regularization": {
        "1.8": "a scikit-learn version (the release that deprecated `penalty`)",
        "4,000": "glmlib's documented switch from Newton to L-BFGS (GLM's docstring)",
        "10": "optuna's documented default of random start-up trials for TPE",
    },
    "03_feature_engineering": {
        "1,000": "a unit: wages in USD 1,000",
        "000": 'the name of a spam7 word feature ("000"), and the unit USD 1,000',
        "500": "the name of the S&P 500 index",
        "50%": "the accuracy of a fair coin, a reference line by definition",
    },
    "04_generalized_additive_models": {
        "1,000": "a unit: wages in USD 1,000",
        "10,000": "a unit: family income in USD 10,000",
    },
    "07_neural_glms": {
        "163,212": "beMTPL97's documented number of policies",
        "7.1": "a listing number of the research",
        "7.2": "a listing number of the research",
        "80%": "the training share of the split: a choice of the analysis",
        "20%": "the test share of the split: a choice of the analysis",
        "10%": "the networks' validation share (their validation_fraction default)",
    },
    "08_tensor_cores_mixed_precision": {
        "8.1": "a listing number of the research",
        "8.2": "a listing number of the research",
        "4": "a name: NVIDIA's 2:4 structured sparsity",
    },
    "10_conclusion": {
        "6.1": "a section number of the research (its section 6.1.4)",
        "6.2": "a section number of the research",
        "80": "the training share of the research's 80/20 split, a choice of the analysis",
        "20": "the test share of the research's 80/20 split, a choice of the analysis",
        "6": "a chapter number of this book (chapter 6, scaling)",
        "8": "a chapter number of this book (chapter 8, Tensor Cores)",
    },
    "09_experiments": {
        "6": "a chapter number of the research (its chapter 6)",
        "500": "the name of the S&P 500 index",
        "6.1": "a section number of the research (its section 6.1.4)",
        "6.2": "a section number of the research",
        "80": "the training share of the research's 80/20 split, a choice of the analysis",
        "20": "the test share of the research's 80/20 split, a choice of the analysis",
    },
}
# Everywhere: confidence levels and the like, whose value is a choice, not a result.
ALLOWED_EVERYWHERE = {
    "95%": "a confidence level is a choice of the analysis",
    "0": "notation: 0/1 outcomes, zero coefficients",
    "1": "notation: 0/1 outcomes, a dispersion fixed at one, an offset's coefficient",
    "2": "notation: -2 log-likelihood, two processes, a factor of two in a definition",
}

_HIDE = [
    re.compile(r"```.*?```", re.S),  # fenced blocks: code, directives, {glue:figure}
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$"),  # inline math (may wrap a line)
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`x:.2f`, {numref}`fig-a`, {cite}`k`
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<!--.*?-->", re.S),  # comments
    re.compile(r"^\s*#+ .*$", re.M),  # headings (section numbers, titles)
    re.compile(r"^\s*\d+\.\s", re.M),  # numbered-list markers
]
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?%?(?![\w])")
_YEAR = re.compile(r"(19|20)\d\d")


def literal_numbers(markdown: str) -> list[str]:
    """The numbers of a Markdown text outside math, code, roles, links and headings."""
    for pattern in _HIDE:
        markdown = pattern.sub(" ", markdown)
    found = []
    for match in _NUMBER.finditer(markdown):
        text = match.group().rstrip(",")
        if not _YEAR.fullmatch(text):
            found.append(text)
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_prose_states_no_literal_results(path):
    allowed = ALLOWED.get(path.stem, {}) | ALLOWED_EVERYWHERE
    notebook = jupytext.read(path)
    offending = []
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for number in literal_numbers(cell.source):
            if number not in allowed:
                line = next(
                    (ln.strip() for ln in cell.source.splitlines() if number in ln), cell.source
                )
                offending.append(f"cell {i}: {number!r} in: {line[:120]}")
    assert not offending, (
        f"{path.name} states {len(offending)} literal number(s) in its prose; glue them from "
        "the computation, or list a constant in ALLOWED with its reason:\n" + "\n".join(offending)
    )


def test_the_scanner_finds_results_and_skips_notation():
    text = (
        "Ridge kept 21 of the 44 columns (a VIF of 600.5, 3.2e-4 and 12%); see $p = 100$, "
        "`alpha=0.5`, {glue:text}`n_kept:d`, {numref}`fig-1`, [link](https://x/2) and 2019."
    )
    assert literal_numbers(text) == ["21", "44", "600.5", "3.2e-4", "12%"]
    assert literal_numbers("# 3. Results\n$$x_1 = 2$$\n<!-- 7 -->") == []
