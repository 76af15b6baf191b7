"""GAM(discrete=...): the discretised design gives the dense fit.

References are the same GAM fitted on the dense model matrix
(``discrete=False``), whose agreement with mgcv and pyGAM the other GAM tests
check. Covariates take few distinct values (integers, rounded numbers,
factor levels), as in the data that discretisation is for. Stated
tolerances: EDF and fitted values 1e-8 relative (to the largest),
coefficients 1e-7 relative to the largest, deviance 1e-10 relative, log
smoothing parameters 1e-6 absolute. The two designs sum the same products in
another order; what the fits make of that round-off is the fit's own
sensitivity: refitting the dense model on the same rows permuted moves it as
much (a smoothing parameter at the end of its search range, where REML is
flat, moves most: 1e-8 to 1e-6 in log lambda).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import glmlib.gam._discrete as gam_discrete
from glmlib.gam import GAM, f, l, s, te
from glmlib.gam._terms import SplineTerm, TensorTerm


def _data(family: str, n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Integer ages, a rounded score, a coarse 2-D location and a factor."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "score": np.round(rng.uniform(0, 1, n), 2),
            "lon": rng.integers(0, 12, n) / 4.0,
            "lat": rng.integers(0, 10, n) / 3.0,
            "g": rng.choice(["u", "v", "w"], n),
            "h": pd.Categorical(rng.choice(["a", "b"], n)),
            "k": rng.integers(0, 5, n).astype(float),
        }
    )
    eta = (
        0.6 * np.sin((X["age"] - 18) / 15)
        + (X["score"] - 0.5) ** 2
        + 0.5 * np.sin(2 * X["lon"]) * np.cos(2 * X["lat"])
        + 0.3 * (X["g"] == "v")
        - 0.2 * (X["h"] == "b")
        + 0.05 * X["k"]
    ).to_numpy()
    if family == "binomial":
        return X, rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    if family == "poisson":
        return X, rng.poisson(np.exp(eta - 0.5)).astype(float)
    if family == "gamma":
        return X, rng.gamma(4.0, np.exp(eta) / 4.0)
    return X, eta + rng.normal(0, 0.4, n)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))


def _agree(dense: GAM, disc: GAM, X: pd.DataFrame | np.ndarray) -> None:
    assert dense.discrete_ is False and disc.discrete_ is True
    assert _rel(dense.coef_, disc.coef_) < 1e-7
    assert disc.intercept_ == pytest.approx(dense.intercept_, rel=1e-8, abs=1e-10)
    assert disc.deviance_ == pytest.approx(dense.deviance_, rel=1e-10)
    assert disc.null_deviance_ == pytest.approx(dense.null_deviance_, rel=1e-12)
    assert _rel(dense.edf_, disc.edf_) < 1e-8
    lam_d, lam_q = dense._lam_vector, disc._lam_vector
    np.testing.assert_allclose(np.log(lam_q), np.log(lam_d), rtol=0, atol=1e-6)
    assert _rel(dense.predict(X), disc.predict(X)) < 1e-8
    for a, b in zip(dense.terms_, disc.terms_, strict=True):
        if hasattr(a, "constraint_"):
            np.testing.assert_allclose(np.abs(b.constraint_), np.abs(a.constraint_), atol=1e-12)


TERMS = {
    "smooths": lambda: s("age") + s("score", n_splines=10),
    "all_kinds": lambda: (
        s("age", n_splines=12) + l("k") + f("g") + f("h") + te("lon", "lat", n_splines=5)
    ),
}


# The gamma fits' line searches try steps with negative means (dense and discrete alike).
@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson", "gamma"])
@pytest.mark.parametrize("terms", sorted(TERMS))
def test_discrete_equals_dense(family: str, terms: str) -> None:
    X, y = _data(family)
    fits = [GAM(TERMS[terms](), family=family, discrete=d).fit(X, y) for d in (False, True)]
    _agree(*fits, X)


@pytest.mark.parametrize("method", ["GCV", "UBRE"])
def test_discrete_equals_dense_other_criteria(method: str) -> None:
    X, y = _data("poisson", seed=3)
    terms = s("age") + f("g") + te("lon", "lat", n_splines=4)
    fits = [
        GAM(terms, family="poisson", method=method, discrete=d).fit(X, y) for d in (False, True)
    ]
    _agree(*fits, X)


def test_discrete_with_weights_offset_and_fixed_lambda() -> None:
    X, y = _data("poisson", seed=5)
    rng = np.random.default_rng(9)
    w = rng.uniform(0.5, 2.0, len(y))
    off = np.log(rng.uniform(0.2, 1.0, len(y)))
    terms = s("age", lam=3.0) + s("score") + f("g")
    fits = [
        GAM(terms, family="poisson", discrete=d).fit(X, y, sample_weight=w, offset=off)
        for d in (False, True)
    ]
    _agree(*fits, X)
    assert fits[1].lam_[0] == 3.0


def test_continuous_covariate_still_exact() -> None:
    """Every value distinct (no saving) still gives the dense fit."""
    X, y = _data("gaussian", n=1500, seed=2)
    X["x"] = np.random.default_rng(4).uniform(0, 1, len(y))
    terms = s("x", n_splines=8) + s("age") + f("g")
    fits = [GAM(terms, discrete=d).fit(X, y) for d in (False, True)]
    _agree(*fits, X)


def test_auto_switches_on_only_when_it_saves_work(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data("poisson", n=3000, seed=7)
    terms = s("age") + f("g")
    assert GAM(terms, family="poisson").fit(X, y).discrete_ is False  # too few rows
    monkeypatch.setattr(gam_discrete, "AUTO_MIN_ROWS", 1000)
    auto = GAM(terms, family="poisson").fit(X, y)
    assert auto.discrete_ is True
    _agree(GAM(terms, family="poisson", discrete=False).fit(X, y), auto, X)
    X["x"] = np.random.default_rng(1).uniform(0, 1, len(y))  # 3000 distinct values
    assert GAM(s("x") + f("g"), family="poisson").fit(X, y).discrete_ is False
    torch_fit = GAM(terms, family="poisson", backend="torch")
    pytest.importorskip("torch")
    assert torch_fit.fit(X, y).discrete_ is False


@pytest.mark.parametrize("bad", ["yes", "True", 1.5, None, [True]])
def test_bad_discrete_is_a_value_error(bad: object) -> None:
    X, y = _data("gaussian", n=300)
    with pytest.raises(ValueError, match="discrete must be 'auto', True or False"):
        GAM(s("age"), discrete=bad).fit(X, y)


def test_discrete_true_needs_numpy() -> None:
    pytest.importorskip("torch")
    X, y = _data("gaussian", n=300)
    with pytest.raises(ValueError, match="numpy backend"):
        GAM(s("age"), discrete=True, backend="torch").fit(X, y)


def test_clone_keeps_discrete() -> None:
    est = GAM(s(0), discrete=False)
    assert clone(est).get_params()["discrete"] is False
    assert GAM(s(0)).get_params()["discrete"] == "auto"


def test_term_fit_with_counts_equals_expanded_rows() -> None:
    rng = np.random.default_rng(0)
    values = np.array([0.0, 0.3, 0.5, 1.2, 2.0, 2.5, 3.1, 4.0])
    counts = rng.integers(1, 20, values.size).astype(float)
    rows = np.repeat(values, counts.astype(int))
    a = SplineTerm(0, n_splines=6).fit([rows], ["x"])
    b = SplineTerm(0, n_splines=6).fit([values], ["x"], counts=counts)
    np.testing.assert_allclose(b.constraint_, a.constraint_, atol=1e-13)
    np.testing.assert_allclose(b.penalties[0], a.penalties[0], atol=1e-12)
    np.testing.assert_allclose(b.transform([rows]), a.transform([rows]), atol=1e-13)
    pairs = np.column_stack([values, values[::-1]])
    t_rows = np.repeat(pairs, counts.astype(int), axis=0)
    ta = TensorTerm(0, 1, n_splines=4).fit([t_rows[:, 0], t_rows[:, 1]], ["x", "z"])
    tb = TensorTerm(0, 1, n_splines=4).fit([pairs[:, 0], pairs[:, 1]], ["x", "z"], counts=counts)
    np.testing.assert_allclose(tb.constraint_, ta.constraint_, atol=1e-13)


def test_array_input_summary_and_partial_dependence() -> None:
    X, y = _data("binomial", seed=11)
    Xa = X[["age", "score", "k"]].to_numpy()
    terms = s(0) + s(1, n_splines=8) + l(2)
    dense, disc = (GAM(terms, family="binomial", discrete=d).fit(Xa, y) for d in (False, True))
    _agree(dense, disc, Xa)
    a, b = dense.summary(), disc.summary()
    np.testing.assert_allclose(b["statistic"], a["statistic"], rtol=1e-7)
    np.testing.assert_allclose(b["p_value"], a["p_value"], rtol=1e-6, atol=1e-300)
    pa, pb = dense.partial_dependence(0), disc.partial_dependence(0)
    assert _rel(pa.estimate, pb.estimate) < 1e-8
    assert _rel(pa.std_err, pb.std_err) < 1e-8
