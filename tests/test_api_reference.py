"""book/api.md documents glmlib's public API (the page itself is built by `make book`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import glmlib

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "book" / "api.md").read_text()
# Names documented on the page: autodoc directives, and the summary table under currentmodule glmlib.
DOCUMENTED = set(re.findall(r"^\.\. auto(?:class|function|module|exception)::\s*(\S+)", PAGE, re.M))
PUBLIC = {
    "glmlib.GLM",
    "glmlib.GLMCV",
    "glmlib.glm_path",
    "glmlib.GLMClassifier",
    "glmlib.GLMClassifierCV",
    "glmlib.GAM",
    "glmlib.BayesianGLM",
    "glmlib.MixedPrecisionWarning",
    "glmlib.resolve_device",
    "glmlib.show_versions",
    "glmlib.families",
    "glmlib.links",
    "glmlib.datasets.load",
    "glmlib.datasets.make_glm",
    "glmlib.distributed.launch",
    "glmlib.distributed.ShardedDesign",
    "glmlib.recorded",
    "glmlib.experiments",
    "glmlib.export",
    "glmlib.nn",
}


def qualified(name: str) -> str:
    return name if name.startswith("glmlib.") else f"glmlib.{name}"


def test_every_public_name_is_documented() -> None:
    documented = {qualified(name) for name in DOCUMENTED}
    assert sorted(PUBLIC - documented) == []


def test_top_level_exports_are_documented() -> None:
    """A new class or function in glmlib.__all__ gets a place on the page."""
    documented = {qualified(name) for name in DOCUMENTED}
    subpackages = {"bayes", "gam", "datasets", "export", "families", "links"}
    missing = [
        name
        for name in glmlib.__all__
        if name not in subpackages and f"glmlib.{name}" not in documented
    ]
    assert missing == []


def test_api_page_is_in_the_book_and_autodoc_is_enabled() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    extensions = config["sphinx"]["extra_extensions"]
    assert {"sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"} <= set(
        extensions
    )
    assert "book/api" in (ROOT / "_toc.yml").read_text()
