"""Lazy imports of PyMC, PyTensor and ArviZ.

``import glmlib`` and ``import glmlib.bayes`` never import PyMC: it takes
seconds and pulls in a compiler toolchain. The functions here import it on
first use, inside a ``warnings`` guard, and work around one known
incompatibility of the environment:

* ``arviz_plots`` 0.8 (pulled in by bambi) reads ``matplotlib.style.core``,
  a submodule that Matplotlib 3.11 deprecated and no longer imports with
  ``matplotlib.style``; ``import arviz`` then fails with an AttributeError.
  Importing the submodule first (its DeprecationWarning silenced) fixes it.
* ArviZ 0.23 prints a once-a-day FutureWarning about its refactor on import;
  it says nothing about this code and is silenced here.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from types import ModuleType
from typing import Any

__all__ = ["arviz", "has_module", "pymc", "pytensor_tensor"]


def _guarded_import(name: str) -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            import matplotlib.style.core  # noqa: F401  (see the module docstring)
        except ImportError:  # pragma: no cover - Matplotlib >= 3.13 or absent
            pass
        try:
            return importlib.import_module(name)
        except ImportError as err:
            raise ImportError(
                f"glmlib.bayes needs {name.split('.')[0]}: pip install 'pymc>=5.10,<6' 'arviz<1'"
            ) from err


def pymc() -> Any:
    """The ``pymc`` module, imported on first use."""
    return _guarded_import("pymc")


def arviz() -> Any:
    """The ``arviz`` module, imported on first use."""
    return _guarded_import("arviz")


def pytensor_tensor() -> Any:
    """The ``pytensor.tensor`` module, imported on first use."""
    return _guarded_import("pytensor.tensor")


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported (without importing it)."""
    return importlib.util.find_spec(name) is not None
