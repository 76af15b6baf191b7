"""Posterior summaries shared by the NUTS and Laplace paths: HDIs, tables, InferenceData."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._linalg import psd_root
from ._imports import arviz

__all__ = ["hdi", "hdi_labels", "laplace_idata", "summary_table"]

SUMMARY_COLUMNS = ("mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")


def hdi(draws: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Highest-density interval of each column of ``draws`` (n_draws, n), as ArviZ computes it.

    The narrowest window holding ``floor(prob * n_draws)`` consecutive sorted draws.
    """
    if not 0 < prob < 1:
        raise ValueError(f"hdi_prob must be in (0, 1), got {prob!r}")
    s = np.sort(draws, axis=0)
    n = s.shape[0]
    m = int(np.floor(prob * n))
    if m < 1 or m >= n:
        return s[0], s[-1]
    width = s[m:] - s[: n - m]
    i = np.argmin(width, axis=0)
    cols = np.arange(s.shape[1])
    return s[i, cols], s[i + m, cols]


def hdi_labels(prob: float) -> tuple[str, str]:
    """ArviZ's column names for an HDI, e.g. ('hdi_3%', 'hdi_97%')."""
    lo = 100 * (1 - prob) / 2
    return f"hdi_{lo:g}%", f"hdi_{100 - lo:g}%"


def summary_table(terms: list[str], mean: np.ndarray, sd: np.ndarray, prob: float) -> pd.DataFrame:
    """ArviZ-shaped summary of a Gaussian posterior: HDI = mean -/+ z sd; MCMC columns NaN."""
    if not 0 < prob < 1:
        raise ValueError(f"hdi_prob must be in (0, 1), got {prob!r}")
    z = stats.norm.ppf(0.5 + prob / 2)
    lo, hi = hdi_labels(prob)
    table = pd.DataFrame(
        {"mean": mean, "sd": sd, lo: mean - z * sd, hi: mean + z * sd},
        index=pd.Index(terms, name="term"),
    )
    for col in SUMMARY_COLUMNS:
        table[col] = np.nan
    return table


def laplace_idata(
    mean: np.ndarray, cov: np.ndarray, data: Any, draws: int, rng: np.random.Generator
) -> Any:
    """InferenceData of ``draws`` draws (one chain) from N(mean, cov) over (intercept, coef)."""
    k = mean.shape[0]
    root = psd_root(cov)
    theta = mean + rng.standard_normal((draws, k)) @ root.T
    start = int(data.fit_intercept)
    posterior: dict[str, np.ndarray] = {"coef": theta[None, :, start:]}
    if start:
        posterior["intercept"] = theta[None, :, 0]
    return arviz().from_dict(
        posterior=posterior, coords={"feature": data.features}, dims={"coef": ["feature"]}
    )
