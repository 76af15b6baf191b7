"""The environment a result was computed in: Python, platform, device and package versions."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["show_versions"]

_CORE = ("glmlib", "numpy", "scipy", "pandas", "scikit-learn")


def show_versions(
    packages: Iterable[str] = (), device: str | None = None, **settings: Any
) -> dict[str, str]:
    """Print (and return) the versions behind a computation.

    One line for Python and the platform, one for ``device`` and any
    ``settings`` (e.g. ``seed=0, quick=True``), the GPU's name when
    ``device`` is a CUDA device, then one line per package: glmlib, NumPy,
    SciPy, pandas and scikit-learn, followed by ``packages``. A package that
    is not installed is reported as such, not as an error.

    Parameters
    ----------
    packages : iterable of str
        Distribution names to report besides the core ones.
    device : str, optional
        The device the computation ran on ("cpu", "cuda", "cuda:1", ...).
    **settings
        Other settings to print with the device (seed, quick mode, ...).

    Returns
    -------
    dict
        Package name to version string ("not installed" when missing).
    """
    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    described = [f"device {device}"] if device is not None else []
    described += [f"{key} {value}" for key, value in settings.items()]
    if described:
        print(", ".join(described))
    if device is not None and str(device).startswith("cuda"):
        import torch

        print(f"GPU: {torch.cuda.get_device_name(device)}")
    found: dict[str, str] = {}
    for package in dict.fromkeys([*_CORE, *packages]):  # ordered, without repeats
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
        print(f"{package} {found[package]}")
    return found
