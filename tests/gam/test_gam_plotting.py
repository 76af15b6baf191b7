"""glmlib.gam.plotting: one labelled panel per term, with bands."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from glmlib.gam import GAM, f, l, plot_partial_dependence, s, te  # noqa: E402


@pytest.fixture(scope="module")
def fitted() -> tuple[GAM, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "age": rng.uniform(20, 70, n),
            "bmi": rng.uniform(18, 40, n),
            "sex": rng.choice(["f", "m"], n),
            "z": rng.normal(size=n),
        }
    )
    y = np.sin(X["age"] / 8) + 0.05 * X["bmi"] + 0.3 * (X["sex"] == "m") + rng.normal(0, 0.3, n)
    gam = GAM(s("age") + s("bmi", n_splines=8) + f("sex") + l("z") + te("age", "bmi", n_splines=4))
    return gam.fit(X, y), X


def test_default_panels_are_the_smooths(fitted: tuple[GAM, pd.DataFrame]) -> None:
    gam, X = fitted
    axes = plot_partial_dependence(gam, rug=True, X=X)
    visible = [ax for ax in axes if ax.get_visible()]
    assert len(visible) == 3
    assert [ax.get_ylabel() for ax in visible[:2]] == ["s(age)", "s(bmi)"]
    assert [ax.get_xlabel() for ax in visible] == ["age", "bmi", "age"]
    assert visible[2].get_ylabel() == "bmi"  # the te() contour: covariates on both axes
    assert visible[0].collections  # the band
    plt.close("all")


def test_chosen_terms_on_given_axes(fitted: tuple[GAM, pd.DataFrame]) -> None:
    gam, _ = fitted
    _, axes = plt.subplots(1, 2)
    out = plot_partial_dependence(gam, ["f(sex)", 3], axes=axes)
    assert out[0].get_ylabel() == "f(sex)" and out[1].get_ylabel() == "l(z)"
    with pytest.raises(ValueError, match="need 3 axes"):
        plot_partial_dependence(gam, [0, 1, 2], axes=axes)
    plt.close("all")
