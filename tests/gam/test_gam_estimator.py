"""glmlib.gam.GAM: agreement with pyGAM at fixed lambda, recovery of known functions, API."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from glmlib.gam import GAM, f, l, s, te

pygam = pytest.importorskip("pygam")

# ------------------------------------------------------------------ pyGAM
# Same basis (pyGAM's knots and linear extrapolation), same penalty D'D and the
# same lambda scale (deviance + lambda beta'P beta). pyGAM has no sum-to-zero
# constraint (it relies on a sqrt(machine eps) ridge instead), which changes no
# fitted value, so fitted values and EDF agree to the solvers' tolerance. For
# logistic and Poisson fits pyGAM's ridge moves weakly determined coefficients
# by ~1e-6 (the penalised deviances agree to 1e-13), so fitted values get 1e-5.
FIT_RTOL = 1e-6
GLM_FIT_RTOL = 1e-5


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0, 1, n), rng.normal(size=n), rng.integers(0, 3, n)])
    eta = np.sin(2 * np.pi * X[:, 0]) + 0.5 * X[:, 1] + 0.3 * X[:, 2]
    return X, eta


@pytest.mark.parametrize("lam", [0.05, 1.0, 50.0])
def test_gaussian_fit_matches_pygam(lam: float) -> None:
    X, eta = _data()
    y = eta + np.random.default_rng(1).normal(0, 0.3, X.shape[0])
    ref = pygam.LinearGAM(
        pygam.s(0, n_splines=15, lam=lam) + pygam.s(1, n_splines=10, lam=lam)
    ).fit(X, y)
    ours = GAM(s(0, n_splines=15, lam=lam) + s(1, n_splines=10, lam=lam)).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=FIT_RTOL, atol=1e-7)
    assert ours.edf_total_ == pytest.approx(ref.statistics_["edof"], rel=FIT_RTOL)
    assert ours.lam_ == [lam, lam]


def test_linear_and_factor_terms_match_pygam_unpenalised() -> None:
    X, eta = _data(seed=2)
    y = eta + np.random.default_rng(3).normal(0, 0.3, X.shape[0])
    ref = pygam.LinearGAM(
        pygam.s(0, n_splines=12, lam=0.5) + pygam.l(1, lam=0) + pygam.f(2, lam=0)
    ).fit(X, y)
    ours = GAM(s(0, n_splines=12, lam=0.5) + l(1) + f(2)).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=FIT_RTOL, atol=1e-7)
    assert ours.edf_total_ == pytest.approx(ref.statistics_["edof"], rel=FIT_RTOL)


@pytest.mark.parametrize("lam", [0.3, 3.0])
def test_logistic_fit_matches_pygam(lam: float) -> None:
    X, eta = _data(seed=4)
    y = np.random.default_rng(5).binomial(1, 1 / (1 + np.exp(-2 * eta)))
    ref = pygam.LogisticGAM(pygam.s(0, lam=lam) + pygam.s(1, lam=lam), tol=1e-8, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    ours = GAM(s(0, lam=lam) + s(1, lam=lam), family="binomial").fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict_mu(X), rtol=GLM_FIT_RTOL)
    assert ours.deviance_ == pytest.approx(ref.statistics_["deviance"], rel=FIT_RTOL)
    assert ours.edf_total_ == pytest.approx(ref.statistics_["edof"], rel=FIT_RTOL)


def test_poisson_fit_matches_pygam() -> None:
    X, _ = _data(seed=6)
    rng = np.random.default_rng(7)
    y = rng.poisson(np.exp(0.5 * np.sin(2 * np.pi * X[:, 0]) + 0.2 * X[:, 1]))
    ref = pygam.PoissonGAM(
        pygam.s(0, lam=2.0) + pygam.s(1, n_splines=10, lam=0.1), tol=1e-8, max_iter=100
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    ours = GAM(s(0, lam=2.0) + s(1, n_splines=10, lam=0.1), family="poisson").fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=GLM_FIT_RTOL)
    assert ours.deviance_ == pytest.approx(ref.statistics_["deviance"], rel=FIT_RTOL)
    assert ours.edf_total_ == pytest.approx(ref.statistics_["edof"], rel=FIT_RTOL)


def test_tensor_product_matches_pygam() -> None:
    X, _ = _data(seed=8)
    y = np.sin(3 * X[:, 0]) * X[:, 1] + np.random.default_rng(9).normal(0, 0.2, X.shape[0])
    ref = pygam.LinearGAM(pygam.te(0, 1, n_splines=[6, 5], lam=[0.5, 2.0])).fit(X, y)
    ours = GAM(te(0, 1, n_splines=[6, 5], lam=[0.5, 2.0])).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=FIT_RTOL, atol=1e-7)
    assert ours.edf_total_ == pytest.approx(ref.statistics_["edof"], rel=FIT_RTOL)
    assert ours.lam_ == [(0.5, 2.0)]


# ------------------------------------------------------- smoothness selection
def _f_sin(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * x)


def _f_exp(x: np.ndarray) -> np.ndarray:
    return np.exp(2 * x) / 4


def _f_null(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


TRUTH = [_f_sin, _f_exp, _f_null]
SIM_N = {"gaussian": 500, "binomial": 3000, "poisson": 800}


def _simulate(family: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = SIM_N[family]
    X = rng.uniform(0, 1, (n, 3))
    eta = sum(fj(X[:, j]) - fj(X[:, j]).mean() for j, fj in enumerate(TRUTH))
    if family == "gaussian":
        return X, eta + rng.normal(0, 0.5, n)
    if family == "binomial":
        return X, rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    return X, rng.poisson(np.exp(eta + 0.5)).astype(float)


def _ise(gam: GAM, X: np.ndarray) -> np.ndarray:
    """Mean squared error of each estimated smooth on a grid (both centred on the data)."""
    grid = np.linspace(0.02, 0.98, 97)
    out = []
    for j, fj in enumerate(TRUTH):
        est = gam.partial_dependence(j, grid=grid).estimate
        out.append(np.mean((est - (fj(grid) - fj(X[:, j]).mean())) ** 2))
    return np.array(out)


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("seed", [0, 1])
def test_reml_recovers_known_functions(family: str, seed: int) -> None:
    X, y = _simulate(family, seed)
    gam = GAM(s(0) + s(1) + s(2), family=family).fit(X, y)
    assert gam.converged_
    ise = _ise(gam, X)
    # Bounds: about 5x the worst of six seeds; the sine has variance 0.5.
    assert ise[0] < 0.05 and ise[1] < 0.08 and ise[2] < 0.02, ise
    assert 4.5 < gam.edf_[0] < 12  # a full period of a sine
    assert 1.0 <= gam.edf_[1] < 6  # a gentle curve
    assert gam.edf_[2] < 5  # no effect: shrunk towards its straight-line null space
    assert 0 < gam.deviance_explained_ < 1


@pytest.mark.parametrize(
    ("family", "method"), [("gaussian", "GCV"), ("binomial", "UBRE"), ("poisson", "GCV")]
)
def test_gcv_and_ubre_recover_known_functions(family: str, method: str) -> None:
    X, y = _simulate(family, 2)
    gam = GAM(s(0) + s(1) + s(2), family=family, method=method).fit(X, y)
    assert np.all(_ise(gam, X) < 0.1)
    assert 4 < gam.edf_[0] < 14


def test_gaussian_reml_lambda_maximises_the_restricted_likelihood() -> None:
    rng = np.random.default_rng(11)
    n = 60
    x = rng.uniform(0, 1, n)
    y = _f_sin(x) + rng.normal(0, 0.5, n)
    gam = GAM(s(0, n_splines=10)).fit(x[:, None], y)
    B = gam.terms_[0].transform([x])
    X = np.column_stack([np.ones(n), B])
    P = gam.terms_[0].penalties[0]
    M = 2  # intercept + the smooth's linear null space (minus the constraint)

    def neg_profile_reml(log_lam: float) -> float:
        lam = np.exp(log_lam)
        S = np.zeros((X.shape[1], X.shape[1]))
        S[1:, 1:] = lam * P
        H = X.T @ X + S
        beta = np.linalg.solve(H, X.T @ y)
        dp = np.sum((y - X @ beta) ** 2) + beta @ S @ beta
        rank = np.linalg.matrix_rank(P)
        return 0.5 * ((n - M) * np.log(dp) + np.linalg.slogdet(H)[1] - rank * np.log(lam))

    grid = np.linspace(-8, 12, 4001)
    best = grid[np.argmin([neg_profile_reml(g) for g in grid])]
    assert np.log(gam.lam_[0]) == pytest.approx(best, abs=0.02)


# ------------------------------------------------------------- fitted state
def test_dataframe_fit_attributes_and_summary(wage_like: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, y = wage_like
    gam = GAM(s("age") + s("year", n_splines=6) + f("edu")).fit(df, y)
    assert list(gam.feature_names_in_) == ["age", "year", "edu"]
    assert gam.term_labels_ == ["s(age)", "s(year)", "f(edu)"]
    assert len(gam.lam_) == 3 and gam.lam_[2] is None
    assert gam.edf_.shape == (3,)
    assert gam.edf_[2] == pytest.approx(2.0, abs=1e-6)
    assert gam.edf_total_ == pytest.approx(1 + gam.edf_.sum(), abs=1e-6)
    assert gam.coef_.shape == (19 + 5 + 2,)
    assert gam.scale_ == pytest.approx(100, rel=0.25)
    assert np.isfinite(gam.aic_) and gam.null_deviance_ > gam.deviance_
    table = gam.summary()
    assert list(table.columns) == [
        "kind",
        "n_coefs",
        "lam",
        "edf",
        "ref_df",
        "statistic",
        "p_value",
    ]
    assert table.loc["s(age)", "p_value"] < 1e-10 and table.loc["f(edu)", "p_value"] < 1e-10
    pred = gam.predict(df.iloc[:5])
    assert pred.shape == (5,)
    np.testing.assert_allclose(gam.predict_linear(df.iloc[:5]), pred)
    assert gam.score(df, y) == pytest.approx(gam.deviance_explained_, rel=1e-10)


def test_partial_dependence_grid_bands_and_unpacking(
    wage_like: tuple[pd.DataFrame, np.ndarray],
) -> None:
    df, y = wage_like
    gam = GAM(s("age") + f("edu") + te("age", "year", n_splines=4)).fit(df, y)
    pdp = gam.partial_dependence("s(age)", grid=50, width=0.9)
    assert pdp.grid.shape == (50,) and pdp.grid[0] == df["age"].min()
    assert np.all(pdp.lower < pdp.estimate) and np.all(pdp.estimate < pdp.upper)
    np.testing.assert_allclose(pdp.upper - pdp.estimate, 1.6448536 * pdp.std_err, rtol=1e-6)
    grid, est, bands = gam.partial_dependence(0)
    assert bands.shape == (100, 2)
    levels = gam.partial_dependence("f(edu)")
    assert list(levels.grid) == ["hs", "college", "phd"] and levels.estimate[0] == 0
    assert gam.partial_dependence(2, grid=7).grid.shape == (49, 2)
    at_rows = gam.partial_dependence("s(age)", X=df.iloc[:10])
    np.testing.assert_allclose(at_rows.grid, df["age"].iloc[:10])
    # The terms add up to the linear predictor.
    total = gam.intercept_ + sum(gam.partial_dependence(j, X=df).estimate for j in range(3))
    np.testing.assert_allclose(total, gam.predict_linear(df), rtol=1e-10)


def test_weights_offset_and_duplicated_rows() -> None:
    rng = np.random.default_rng(13)
    n = 300
    X = rng.uniform(0, 1, (n, 1))
    exposure = rng.uniform(0.5, 3, n)
    y = rng.poisson(exposure * np.exp(np.sin(2 * np.pi * X[:, 0])))
    terms = s(0, lam=1.0)
    w = rng.integers(1, 3, n).astype(float)
    weighted = GAM(terms, family="poisson").fit(X, y, sample_weight=w, offset=np.log(exposure))
    idx = np.repeat(np.arange(n), w.astype(int))
    stacked = GAM(terms, family="poisson").fit(X[idx], y[idx], offset=np.log(exposure[idx]))
    # (coef_ differ: the sum-to-zero constraint counts the stacked rows; fits do not)
    np.testing.assert_allclose(weighted.predict_linear(X), stacked.predict_linear(X), rtol=1e-7)
    np.testing.assert_allclose(weighted.deviance_, stacked.deviance_, rtol=1e-8)
    mu = weighted.predict(X, offset=np.log(exposure))
    assert np.all(mu > 0)


def test_sklearn_conventions() -> None:
    gam = GAM(s(0) + l(1), family="poisson", method="GCV")
    params = gam.get_params()
    assert params["family"] == "poisson" and params["method"] == "GCV"
    twin = clone(gam)
    assert twin.terms == gam.terms and twin.terms is not gam.terms
    gam.set_params(method="REML")
    assert gam.method == "REML"
    X, eta = _data(seed=14)
    y = np.random.default_rng(15).poisson(np.exp(0.3 * eta))
    fitted = clone(gam).fit(X[:, :2], y)
    assert not hasattr(gam, "coef_") and hasattr(fitted, "coef_")
    assert fitted.terms[0].__dict__.get("knots_") is None  # the specification is not mutated


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("terms", "X", "y", "error", "message"),
    [
        (
            s("nope"),
            pd.DataFrame({"a": np.arange(30.0)}),
            np.arange(30.0),
            KeyError,
            "'nope' not found",
        ),
        (s("a"), np.arange(60.0).reshape(30, 2), np.arange(30.0), ValueError, "no column names"),
        (s(5), np.arange(60.0).reshape(30, 2), np.arange(30.0), IndexError, "out of range"),
        (
            s(0),
            np.r_[np.arange(29.0), np.nan][:, None],
            np.arange(30.0),
            ValueError,
            "NaN or infinity",
        ),
        (s(0), np.arange(30.0)[:, None], np.r_[np.arange(29.0), np.nan], ValueError, "NaN"),
        (
            s(0, n_splines=3),
            np.arange(30.0)[:, None],
            np.arange(30.0),
            ValueError,
            "spline_order \\+ 1",
        ),
        (s(0), np.tile(np.arange(5.0), 6)[:, None], np.arange(30.0), ValueError, "5 unique values"),
        (
            s("g"),
            pd.DataFrame({"g": ["a", "b"] * 15}),
            np.arange(30.0),
            TypeError,
            "use f\\('g'\\)",
        ),
        (s(0) + s(0), np.arange(30.0)[:, None], np.arange(30.0), ValueError, "terms repeat"),
        ("s(0)", np.arange(30.0)[:, None], np.arange(30.0), TypeError, "sum of terms"),
        (s(0), np.arange(30.0), np.arange(30.0), ValueError, "Expected a 2D array"),
    ],
)
def test_bad_input_gets_a_clear_error(terms, X, y, error, message) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message):
        GAM(terms).fit(X, y)


def test_bad_settings_and_responses() -> None:
    X = np.linspace(0, 1, 40)[:, None]
    with pytest.raises(ValueError, match="method must be one of"):
        GAM(s(0), method="ML").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="UBRE needs a known scale"):
        GAM(s(0), method="UBRE").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="y"):
        GAM(s(0), family="poisson").fit(X, -X[:, 0])
    with pytest.raises(ValueError, match="link"):
        GAM(s(0), family="poisson", link="logit").fit(X, X[:, 0])
    gam = GAM(s(0) + f(1)).fit(np.column_stack([X[:, 0], np.arange(40) % 2]), X[:, 0])
    with pytest.raises(ValueError, match="expecting 2"):
        gam.predict(X)
    with pytest.raises(ValueError, match="unseen in training"):
        gam.predict(np.column_stack([X[:, 0], np.full(40, 7)]))
    with pytest.raises(KeyError, match="no term"):
        gam.partial_dependence("s(z)")
