"""Shared data for the GAM tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def _wage_like(noise_sd: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Wage-like data: a smooth age effect, a linear year trend and an education factor."""
    rng = np.random.default_rng(12)
    n = 600
    df = pd.DataFrame(
        {
            "age": rng.uniform(18, 80, n),
            "year": rng.integers(2003, 2010, n).astype(float),
            "edu": pd.Categorical(
                rng.choice(["hs", "college", "phd"], n), ["hs", "college", "phd"]
            ),
        }
    )
    y = (
        80
        + 30 * np.sin((df["age"] - 18) / 25)
        + 1.5 * (df["year"] - 2003)
        + df["edu"].map({"hs": 0.0, "college": 15.0, "phd": 30.0}).astype(float)
        + rng.normal(0, noise_sd, n)
    )
    return df, y.to_numpy()


@pytest.fixture(scope="module")
def wage_like() -> tuple[pd.DataFrame, np.ndarray]:
    """The wage-like data with noise sd 10."""
    return _wage_like(10.0)


@pytest.fixture
def make_wage_like() -> Callable[[float], tuple[pd.DataFrame, np.ndarray]]:
    """The wage-like data for a chosen noise sd."""
    return _wage_like
