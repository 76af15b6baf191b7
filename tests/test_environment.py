"""environment.yml mirrors pyproject.toml: the same dependencies, with the same versions.

The mirrored set is pyproject's runtime ``dependencies`` plus its ``book`` and
``torch`` extras (the book's GPU chapters need torch). conda-forge spells a few
names differently; ``CONDA_ALIASES`` maps them to their PyPI names.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
MIRRORED_EXTRAS = ("book", "torch")
CONDA_ALIASES = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}  # the environment itself, not a dependency of glmlib
CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def pyproject_requirements() -> dict[str, str]:
    """Name -> version specifier of pyproject's runtime and mirrored extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in MIRRORED_EXTRAS:
        lines += project["optional-dependencies"][extra]
    requirements: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        requirements[canonicalize_name(req.name)] = str(req.specifier)
    return requirements


def environment_requirements() -> dict[str, str]:
    """Name -> version specifier of environment.yml's conda and pip sections."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    requirements: dict[str, str] = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):  # the pip section
            for line in entry["pip"]:
                if line.startswith("-"):  # "-e ." installs glmlib itself
                    continue
                req = Requirement(line)
                requirements[canonicalize_name(req.name)] = str(req.specifier)
            continue
        match = CONDA_SPEC.match(entry)
        assert match, f"cannot parse conda dependency {entry!r}"
        name, spec = match.groups()
        if name in CONDA_ONLY:
            continue
        name = CONDA_ALIASES.get(name, name)
        requirements[canonicalize_name(name)] = str(Requirement(f"x{spec}").specifier)
    return requirements


def test_environment_pins_python_311() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "conda-forge" in env["channels"]


def test_environment_installs_glmlib_with_pip() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict)]
    assert len(pip_sections) == 1, "expected exactly one pip section"
    assert "-e ." in pip_sections[0]


def test_same_dependency_names() -> None:
    pyproject, environment = pyproject_requirements(), environment_requirements()
    assert sorted(pyproject.keys() - environment.keys()) == [], "missing from environment.yml"
    assert sorted(environment.keys() - pyproject.keys()) == [], "missing from pyproject.toml"


def test_same_version_specifiers() -> None:
    pyproject, environment = pyproject_requirements(), environment_requirements()
    differing = {
        name: (pyproject[name], environment[name])
        for name in pyproject.keys() & environment.keys()
        if pyproject[name] != environment[name]
    }
    assert differing == {}, "(pyproject.toml, environment.yml) specifiers differ"
