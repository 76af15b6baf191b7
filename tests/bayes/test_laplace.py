"""The Laplace approximation: its mode is the core engine's penalised fit, checked three ways.

1. Against ``glmlib.GLM(alpha, penalty_factor)`` with the penalty that a Normal
   prior implies, alpha * f_j = 1 / (W sigma_j^2) (W = sum of weights).
2. Against an independent minimisation of the log posterior written here
   with SciPy (intercept prior, non-zero prior means, Student-t priors).
3. Against the closed-form conjugate posterior of a Gaussian model with known
   variance, where the Laplace approximation is exact.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, special, stats

from glmlib import GLM
from glmlib.bayes import (
    BayesianGLM,
    Flat,
    HalfNormal,
    Laplace,
    Logistic,
    Normal,
    RegularizedHorseshoe,
    StudentT,
)
from glmlib.families import Tweedie

TOL = 1e-6


def _data(family: str, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5]
    eta = 0.2 + X @ np.array([0.8, -0.3, 0.5])
    if family == "binomial":
        y = rng.binomial(1, special.expit(eta)).astype(float)
        return X, y, None, None
    w = rng.integers(1, 4, size=n).astype(float)
    offset = rng.normal(scale=0.2, size=n)
    y = rng.poisson(np.exp(eta + offset)).astype(float)
    return X, y, w, offset


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_mode_is_the_core_ridge_fit(family: str) -> None:
    X, y, w, offset = _data(family)
    W = float(np.sum(w)) if w is not None else float(len(y))
    alpha, pf = 0.02, np.array([1.0, 0.5, 0.0])
    sig = {f"x{j}": Normal(0, 1 / np.sqrt(W * alpha * pf[j])) for j in range(2)}
    priors = {"intercept": Flat(), **sig, "x2": Flat()}
    bayes = BayesianGLM(family, priors=priors, method="laplace")
    bayes.fit(X, y, sample_weight=w, offset=offset, draws=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        core = GLM(family, alpha=alpha, penalty_factor=pf, tol=1e-12).fit(X, y, w, offset)
    np.testing.assert_allclose(bayes.coef_, core.coef_, atol=TOL)
    assert abs(bayes.intercept_ - core.intercept_) < TOL


def _neg_log_post_logistic(theta, X1, y, prior_logpdf):
    eta = X1 @ theta
    return -np.sum(y * eta - np.logaddexp(0, eta)) - prior_logpdf(theta)


@pytest.mark.parametrize("center", [True, False])
def test_mode_and_covariance_match_an_independent_optimiser(center: bool) -> None:
    """Normal priors with non-zero means, including one on the intercept."""
    X, y, _, _ = _data("binomial", n=300, seed=1)
    priors = [Normal(0.5, 2.0), Normal(1.0, 0.3), Normal(-0.2, 1.0), Normal(0.0, 0.5)]
    names = ["intercept", "x0", "x1", "x2"]
    model = BayesianGLM("binomial", priors=dict(zip(names, priors, strict=True)), center=center)
    model.set_params(method="laplace").fit(X, y, draws=10)
    xbar = X.mean(axis=0) if center else np.zeros(3)
    X1 = np.column_stack([np.ones(len(y)), X - xbar])

    def prior_logpdf(theta):  # theta = (centred intercept, coef)
        return sum(p.logpdf(t) for p, t in zip(priors, theta, strict=True))

    res = optimize.minimize(
        _neg_log_post_logistic, np.zeros(4), args=(X1, y, prior_logpdf), method="BFGS", tol=1e-12
    )
    raw = res.x.copy()
    raw[0] -= xbar @ res.x[1:]
    np.testing.assert_allclose(model.summary()["mean"].to_numpy(), raw, atol=1e-5)
    # Covariance: inverse Hessian of the negative log posterior (canonical link: Fisher = observed).
    p = special.expit(X1 @ res.x)
    hess = (X1 * (p * (1 - p))[:, None]).T @ X1 + np.diag([1 / q.sigma**2 for q in priors])
    T = np.eye(4)
    T[0, 1:] = -xbar
    cov = T @ np.linalg.inv(hess) @ T.T
    np.testing.assert_allclose(model.summary()["sd"].to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-5)


def test_student_t_mode_by_majorise_minimise() -> None:
    X, y, _, _ = _data("binomial", n=200, seed=2)
    prior = StudentT(3.0, 0.0, 0.3)
    model = BayesianGLM("binomial", priors=prior, method="laplace", center=False)
    model.fit(X, y, draws=10)
    intercept = model.priors_["intercept"]
    X1 = np.column_stack([np.ones(len(y)), X])

    def prior_logpdf(theta):
        return intercept.logpdf(theta[0]) + np.sum(prior.logpdf(theta[1:]))

    res = optimize.minimize(
        _neg_log_post_logistic, np.zeros(4), args=(X1, y, prior_logpdf), method="BFGS", tol=1e-12
    )
    theta = np.concatenate([[model.intercept_], model.coef_])
    np.testing.assert_allclose(theta, res.x, atol=1e-5)
    assert model.laplace_.converged


def test_gaussian_known_variance_is_exact() -> None:
    """Conjugate model: posterior N(m, S), S = (X'X / s^2 + D^-1)^-1, m = S (X'y / s^2 + D^-1 m0)."""
    rng = np.random.default_rng(3)
    n, sigma = 50, 1.5
    X = rng.normal(size=(n, 2))
    y = 1.0 + X @ [2.0, -1.0] + sigma * rng.normal(size=n)
    m0, s0 = np.array([0.0, 1.0, 0.0]), np.array([10.0, 0.5, 2.0])
    priors = {
        "intercept": Normal(m0[0], s0[0]),
        "x0": Normal(m0[1], s0[1]),
        "x1": Normal(m0[2], s0[2]),
        "sigma": sigma,
    }
    model = BayesianGLM(priors=priors, method="laplace", center=False).fit(X, y, draws=10)
    X1 = np.column_stack([np.ones(n), X])
    S = np.linalg.inv(X1.T @ X1 / sigma**2 + np.diag(1 / s0**2))
    m = S @ (X1.T @ y / sigma**2 + m0 / s0**2)
    table = model.summary()
    np.testing.assert_allclose(table["mean"], m, atol=1e-8)
    np.testing.assert_allclose(table["sd"], np.sqrt(np.diag(S)), rtol=1e-8)
    z = stats.norm.ppf(0.97)
    np.testing.assert_allclose(table["hdi_97%"], m + z * np.sqrt(np.diag(S)), rtol=1e-8)
    assert table[["r_hat", "ess_bulk", "mcse_mean"]].isna().all().all()


def test_gaussian_dispersion_is_plugged_in() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    y = X @ [1.0, 0.5] + 2.0 * rng.normal(size=300)
    model = BayesianGLM(priors={"sigma": HalfNormal(5.0)}, method="laplace").fit(X, y, draws=10)
    core = GLM().fit(X, y)
    assert model.dispersion_ == pytest.approx(core.scale_, rel=1e-3)
    assert model.extra_["sigma"] == pytest.approx(np.sqrt(model.dispersion_))


def test_tweedie_laplace_runs_but_nuts_refuses() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    mu = np.exp(0.5 + X @ [0.3, -0.2])
    y = rng.poisson(mu) * rng.gamma(2.0, 0.5, size=300)
    fam = Tweedie(power=1.5)
    model = BayesianGLM(fam, priors=Normal(0, 1), method="laplace").fit(X, y, draws=50)
    assert np.all(np.isfinite(model.summary()["sd"]))
    assert model.dispersion_ > 0
    with pytest.raises(NotImplementedError, match="Tweedie family with power 1.5"):
        BayesianGLM(fam).fit(X, y)


@pytest.mark.parametrize("prior", [Laplace(0, 1), RegularizedHorseshoe(p0=1)], ids=repr)
def test_non_smooth_priors_are_refused(prior) -> None:
    X, y, _, _ = _data("binomial", n=100)
    with pytest.raises(NotImplementedError, match="laplace|smooth"):
        BayesianGLM("binomial", priors=prior, method="laplace").fit(X, y)


def test_laplace_draws_and_predictions() -> None:
    X, y, _, _ = _data("binomial", n=200)
    model = BayesianGLM("binomial", priors=Normal(0, 1), method="laplace")
    model.fit(X, y, draws=4000, random_seed=0)
    post = model.idata_.posterior
    assert post["coef"].shape == (1, 4000, 3)
    np.testing.assert_allclose(post["coef"].mean(("chain", "draw")), model.coef_, atol=0.02)
    pred = model.predict(X[:5], kind="interval", random_seed=0)
    assert list(pred.columns) == ["mean", "hdi_low", "hdi_high", "pi_low", "pi_high"]
    assert np.all((pred["hdi_low"] <= pred["mean"]) & (pred["mean"] <= pred["hdi_high"]))
    assert set(np.unique(model.predict(X[:5], kind="predictive"))) <= {0.0, 1.0}


def test_intercept_only_coin_toss_without_fit_intercept() -> None:
    """A ones column, no intercept, Logistic(0, 1) prior (uniform on p): the posterior of p
    is Beta(k + 1, n - k + 1), whose mode on the logit scale is logit((k + 1) / (n + 2))."""
    y = np.array([1.0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0])
    k, n = int(y.sum()), y.size
    model = BayesianGLM("binomial", priors=Logistic(0, 1), fit_intercept=False, method="laplace")
    model.fit(np.ones((n, 1)), y, draws=10)
    assert special.expit(model.coef_[0]) == pytest.approx((k + 1) / (n + 2), abs=1e-8)
    # Fisher information n p (1 - p) plus the logistic prior's curvature p (1 - p)
    p = (k + 1) / (n + 2)
    assert model.summary()["sd"].iloc[0] == pytest.approx(1 / np.sqrt((n + 2) * p * (1 - p)))
