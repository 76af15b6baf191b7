"""Small insurance-like data for the neural estimators: numeric and categorical columns, exposure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def claims_frame(
    n: int = 1500, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """(X, claim counts, exposure weights-free offset log(expo), expo) with a non-linear age effect."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    power = rng.gamma(4.0, 15.0, n)
    region = pd.Categorical(
        rng.choice(["north", "south", "east", "west"], n),
        categories=["north", "south", "east", "west"],
    )
    fuel = pd.Categorical(rng.choice(["gasoline", "diesel"], n), categories=["gasoline", "diesel"])
    expo = rng.uniform(0.1, 1.0, n)
    eta = (
        -1.8
        + 0.9 * np.exp(-((age - 25) ** 2) / 60.0)  # young drivers, not log-linear
        + 0.004 * (power - 60)
        + np.select([region == "south", region == "east"], [0.3, -0.2], 0.0)
        + 0.15 * (fuel == "diesel")
    )
    y = rng.poisson(expo * np.exp(eta)).astype(float)
    X = pd.DataFrame({"age": age, "power": power, "region": region, "fuel": fuel})
    return X, y, np.log(expo), expo


@pytest.fixture(scope="session")
def claims():
    return claims_frame()
