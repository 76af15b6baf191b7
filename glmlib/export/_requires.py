"""The optional ``onnx`` package, imported on first use.

``import glmlib`` never imports onnx; an export does, and without it fails
with an ImportError that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["onnx"]

INSTALL_HINT = "pip install 'glmlib[onnx]' (or: pip install onnx onnxruntime)"


def onnx() -> ModuleType:
    """The ``onnx`` module (with ``onnx.helper`` and ``onnx.numpy_helper`` loaded)."""
    try:
        module = importlib.import_module("onnx")
        importlib.import_module("onnx.helper")
        importlib.import_module("onnx.numpy_helper")
    except ImportError as err:
        raise ImportError(f"glmlib.export needs the onnx package: {INSTALL_HINT}") from err
    return module
