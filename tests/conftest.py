"""Shared pytest configuration: skip tests marked ``gpu`` when no CUDA device is usable.

The ``gpu`` and ``slow`` markers are registered in ``pyproject.toml``. Select
them with ``pytest -m gpu`` or leave them out with ``pytest -m "not slow"``.
"""

from __future__ import annotations

import functools

import pytest


@functools.cache
def cuda_available() -> bool:
    """Return True when PyTorch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    # Importing torch takes seconds: only do it when a gpu test was collected.
    if not gpu_items or cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch missing or no GPU visible)")
    for item in gpu_items:
        item.add_marker(skip)
