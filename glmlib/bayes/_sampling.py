"""Choosing and running a NUTS implementation through ``pm.sample``.

``"auto"`` picks nutpie (Rust NUTS on a numba-compiled log density) when it is
installed, else PyMC's own NUTS. ``"numpyro"`` and ``"blackjax"`` run the JAX
samplers through ``pm.sample(nuts_sampler=...)`` when JAX and the sampler are
importable; JAX places them on a GPU when it sees one. None of them is
required: a missing one raises ImportError naming the package.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ._imports import has_module, pymc

__all__ = ["SAMPLERS", "resolve_sampler", "run_nuts"]

SAMPLERS = ("auto", "pymc", "nutpie", "numpyro", "blackjax")


def resolve_sampler(sampler: str) -> str:
    """The concrete sampler for ``sampler``; ImportError when it is not installed."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "auto":
        return "nutpie" if has_module("nutpie") else "pymc"
    if sampler == "nutpie" and not has_module("nutpie"):
        raise ImportError("sampler='nutpie' needs nutpie: pip install nutpie")
    if sampler in ("numpyro", "blackjax"):
        missing = [m for m in ("jax", sampler) if not has_module(m)]
        if missing:
            raise ImportError(
                f"sampler={sampler!r} needs JAX and {sampler}; not importable here: {missing} "
                f"(pip install {' '.join(missing)})"
            )
    return sampler


def default_chains() -> int:
    """Two to four chains, one per core."""
    return max(2, min(4, os.cpu_count() or 1))


def run_nuts(
    model: Any,
    sampler: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: Any,
    progressbar: bool,
    target_accept: float,
    **kwargs: Any,
) -> tuple[Any, float]:
    """Sample ``model``; return (InferenceData, wall seconds including compilation)."""
    pm = pymc()
    common = dict(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        quiet=not progressbar,
        target_accept=target_accept,
        model=model,
        compute_convergence_checks=False,
    )
    t0 = time.perf_counter()
    if sampler == "pymc":
        kwargs.setdefault("cores", min(chains, os.cpu_count() or 1))
        idata = pm.sample(**common, **kwargs)
    else:
        idata = pm.sample(**common, nuts_sampler=sampler, nuts_sampler_kwargs=kwargs or None)
    return idata, time.perf_counter() - t0
