"""BayesianGLM with NUTS: exact posteriors recovered within Monte Carlo error, input errors, warnings.

Monte Carlo tolerance: a posterior mean (sd) estimated from draws is within
4 Monte Carlo standard errors of the truth, MCSE from ArviZ's ``mcse_mean``
(``mcse_sd``) columns. Runs are small (2 chains of a few hundred draws) and
use PyMC's sampler in one process, which compiles fastest; the nutpie paths
are marked slow.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import special
from sklearn.exceptions import ConvergenceWarning

from glmlib.bayes import BayesianGLM, HalfNormal, Normal, RegularizedHorseshoe, StudentT
from glmlib.bayes._diagnostics import warn_if_not_converged
from glmlib.bayes._imports import arviz

matplotlib.use("Agg")

FAST = dict(draws=400, tune=400, chains=2, sampler="pymc", cores=1, progressbar=False)
Z = 4.0  # Monte Carlo tolerance in MCSEs


@pytest.fixture(autouse=True)
def _quiet_pymc(caplog):
    caplog.set_level("ERROR", logger="pymc")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        yield


def test_conjugate_gaussian_matches_closed_form() -> None:
    """y = X b + e, e ~ N(0, s^2) with s known; b ~ N(m0, diag(s0^2)): posterior N(m, S)."""
    rng = np.random.default_rng(0)
    n, sigma = 40, 1.0
    X = rng.normal(size=(n, 2))
    y = 0.5 + X @ [1.0, -2.0] + sigma * rng.normal(size=n)
    m0, s0 = np.array([0.0, 0.0, 1.0]), np.array([5.0, 1.0, 0.5])
    names = ["intercept", "x0", "x1"]
    priors = {k: Normal(m, s) for k, m, s in zip(names, m0, s0, strict=True)}
    model = BayesianGLM(priors={**priors, "sigma": sigma}, center=False)
    model.fit(X, y, random_seed=1, **FAST)
    X1 = np.column_stack([np.ones(n), X])
    S = np.linalg.inv(X1.T @ X1 / sigma**2 + np.diag(1 / s0**2))
    m = S @ (X1.T @ y / sigma**2 + m0 / s0**2)
    table = model.summary()
    assert list(table.index) == names
    assert np.all(np.abs(table["mean"] - m) < Z * table["mcse_mean"])
    assert np.all(np.abs(table["sd"] - np.sqrt(np.diag(S))) < Z * table["mcse_sd"])
    assert model.convergence_["max_rhat"] < 1.01


def test_hand_written_pymc_model_gives_the_same_posterior() -> None:
    """The research notebook's model: beta ~ N(0, 1), p = sigmoid(beta x), y ~ Bernoulli(p)."""
    from glmlib.bayes._imports import pymc

    pm = pymc()
    rng = np.random.default_rng(2)
    x = rng.normal(size=80)
    y = rng.binomial(1, special.expit(1.0 * x)).astype(float)
    with pm.Model():
        beta = pm.Normal("beta", mu=0.0, sigma=1.0)
        pm.Bernoulli("y", p=pm.math.sigmoid(beta * x), observed=y)
        hand = pm.sample(
            draws=400,
            tune=400,
            chains=2,
            cores=1,
            progressbar=False,
            random_seed=3,
            compute_convergence_checks=False,
        )
    ref = arviz().summary(hand, var_names=["beta"]).iloc[0]
    model = BayesianGLM("binomial", priors=Normal(0, 1), fit_intercept=False)
    got = model.fit(x[:, None], y, random_seed=4, **FAST).summary().iloc[0]
    assert abs(got["mean"] - ref["mean"]) < Z * np.hypot(got["mcse_mean"], ref["mcse_mean"])
    assert abs(got["sd"] - ref["sd"]) < Z * np.hypot(got["mcse_sd"], ref["mcse_sd"])


def test_bad_run_warns_naming_the_diagnostic() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 2))
    y = rng.poisson(np.exp(0.5 + X @ [0.3, 0.1])).astype(float)
    model = BayesianGLM("poisson", precondition=False)
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X, y, random_seed=0, **{**FAST, "draws": 15, "tune": 15})
    messages = [str(r.message) for r in record]
    assert any("bulk ESS" in m and "< 200 (100 per chain)" in m for m in messages), messages
    assert model.convergence_["min_ess_bulk"] < 200


def test_warning_messages_for_each_diagnostic() -> None:
    report = dict(
        max_rhat=1.2, min_ess_bulk=500, min_ess_tail=50, divergences=3, chains=2, draws=500
    )
    with pytest.warns(ConvergenceWarning) as record:
        msgs = warn_if_not_converged(report)
    text = " ".join(str(r.message) for r in record)
    assert len(msgs) == 3
    assert "R-hat 1.200 > 1.01" in text
    assert "tail ESS 50 < 200" in text
    assert "3 divergent transitions" in text


@pytest.fixture(scope="module")
def fitted_logistic():
    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.normal(size=(120, 2)), columns=["age", "bmi"])
    y = rng.binomial(1, special.expit(-0.3 + X.to_numpy() @ [0.8, -0.4])).astype(float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        model = BayesianGLM("binomial", priors={"age": StudentT(3, 0, 1)})
        model.fit(X, y, random_seed=7, **FAST)
    return model, X, y


def test_summary_predict_and_plots(fitted_logistic) -> None:
    model, X, y = fitted_logistic
    table = model.summary(hdi_prob=0.9)
    assert list(table.index) == ["intercept", "age", "bmi"]
    for col in ["mean", "sd", "hdi_5%", "hdi_95%", "r_hat", "ess_bulk", "mcse_mean"]:
        assert col in table.columns
    assert model.priors_["age"] == StudentT(3, 0, 1)
    mean = model.predict(X)
    assert mean.shape == (len(y),) and np.all((mean > 0) & (mean < 1))
    interval = model.predict(X.iloc[:10], kind="interval", hdi_prob=0.8, random_seed=0)
    assert np.all(interval["hdi_low"] <= interval["hdi_high"])
    draws = model.predict(X.iloc[:10], kind="predictive", random_seed=0)
    assert draws.shape == (800, 10) and set(np.unique(draws)) <= {0.0, 1.0}
    # posterior mean of mu ~ frequency of predicted ones
    np.testing.assert_allclose(draws.mean(axis=0), interval["mean"], atol=0.1)
    prior_mu = model.prior_predictive(X.iloc[:10], draws=200, random_seed=0)
    assert prior_mu.shape == (200, 10)
    for plot in (model.plot_trace, model.plot_posterior, model.plot_forest):
        assert plot() is not None
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize(
    ("kwargs", "fit_kwargs", "error", "match"),
    [
        ({"priors": {"agee": Normal()}}, {}, ValueError, "unknown terms \\['agee'\\]"),
        ({"priors": {"age": 1.0}}, {}, TypeError, "prior for 'age' must be a glmlib.bayes prior"),
        ({"priors": {"age": HalfNormal(1)}}, {}, ValueError, "must live on the real line"),
        ({"priors": "normal"}, {}, TypeError, "priors must be None, a prior"),
        ({"priors": {"age": RegularizedHorseshoe(p0=1)}}, {}, TypeError, "joint prior"),
        ({"method": "vi"}, {}, ValueError, "method must be one of"),
        ({"fit_intercept": "yes"}, {}, TypeError, "fit_intercept must be a bool"),
        ({}, {"sampler": "stan"}, ValueError, "sampler must be one of"),
        ({}, {"draws": 0}, ValueError, "draws must be an integer >= 1"),
        ({}, {"chains": 1.5}, ValueError, "chains must be an integer"),
        ({}, {"target_accept": 1.0}, ValueError, "target_accept must be in"),
        ({"family": "gaussian", "priors": {"sigma": -1.0}}, {}, ValueError, "fixed 'sigma'"),
        ({"family": "poisson"}, {}, ValueError, "poisson y must be non-negative"),
        ({"family": "wald"}, {}, ValueError, "unknown family"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, fit_kwargs, error, match) -> None:
    X = pd.DataFrame({"age": [1.0, 2.0, 3.0, 4.0], "bmi": [0.5, 0.1, 0.3, 0.9]})
    y = np.array([0.0, 1.0, 1.0, 0.0]) if kwargs.get("family") != "poisson" else -np.ones(4)
    kwargs = {"family": "binomial", **kwargs}
    with pytest.raises(error, match=match):
        BayesianGLM(**kwargs).fit(X, y, **fit_kwargs)


def test_unavailable_jax_samplers_raise_import_error() -> None:
    from glmlib.bayes._imports import has_module

    if has_module("jax") and has_module("numpyro"):
        pytest.skip("JAX and numpyro are installed")
    with pytest.raises(ImportError, match="needs JAX and numpyro"):
        BayesianGLM().fit(np.ones((3, 1)), np.ones(3), sampler="numpyro")


def test_predict_before_fit_raises() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BayesianGLM().predict(np.ones((2, 1)))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_posterior_mean_is_close_to_the_mode_for_large_n(family: str) -> None:
    """n = 20,000: the posterior is nearly Gaussian, so its mean is the core engine's MAP."""
    rng = np.random.default_rng(8)
    n = 20_000
    X = rng.normal(size=(n, 3))
    eta = 0.3 + X @ [0.5, -0.25, 0.0]
    y = rng.binomial(1, special.expit(eta)) if family == "binomial" else rng.poisson(np.exp(eta))
    priors = Normal(0, 1)
    laplace = BayesianGLM(family, priors=priors, method="laplace").fit(X, y.astype(float))
    nuts = BayesianGLM(family, priors=priors).fit(
        X, y.astype(float), draws=500, tune=500, chains=2, random_seed=9, progressbar=False
    )
    a, b = laplace.summary(), nuts.summary()
    assert np.all(np.abs(a["mean"] - b["mean"]) < Z * b["mcse_mean"] + 0.05 * a["sd"])
    np.testing.assert_allclose(b["sd"], a["sd"], rtol=0.1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "link"),
    [
        ("gaussian", None),
        ("gamma", "log"),
        ("inverse_gaussian", "log"),
        ("negative_binomial", None),
    ],
)
def test_every_family_samples_with_nutpie(family: str, link) -> None:
    rng = np.random.default_rng(10)
    X = rng.normal(size=(200, 2))
    mu = np.exp(1.0 + X @ [0.3, -0.2])
    y = {
        "gaussian": rng.normal(mu, 1.0),
        "gamma": rng.gamma(4.0, mu / 4.0),
        "inverse_gaussian": rng.wald(mu, 10.0),
        "negative_binomial": rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float),
    }[family]
    model = BayesianGLM(family, link=link)
    model.fit(
        X, y, draws=300, tune=300, chains=2, sampler="nutpie", random_seed=11, progressbar=False
    )
    assert model.sampler_ == "nutpie"
    assert model.convergence_["max_rhat"] < 1.05
    if link == "log":
        np.testing.assert_allclose(model.coef_, [0.3, -0.2], atol=0.15)


@pytest.mark.slow
def test_horseshoe_shrinks_noise_coefficients() -> None:
    rng = np.random.default_rng(12)
    X = rng.normal(size=(200, 10))
    y = X[:, 0] * 2.0 + rng.normal(size=200)
    model = BayesianGLM(priors=RegularizedHorseshoe(p0=1))
    model.fit(
        X, y, draws=500, tune=1000, chains=2, random_seed=13, progressbar=False, target_accept=0.95
    )
    assert abs(model.coef_[0] - 2.0) < 0.2
    assert np.max(np.abs(model.coef_[1:])) < 0.15
