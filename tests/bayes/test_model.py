"""The PyMC model: its log density equals likelihood + prior written independently with SciPy.

For each family (with weights, offsets and a non-canonical link) the model's
log density is evaluated at two parameter values; the difference must equal
the difference of sum_i log p(y_i | mu_i) + sum_j log p_j(theta_j) computed
here from scipy.stats (differences cancel the constants PyMC drops and the
constant Jacobian of the preconditioning). Also: each PyTensor inverse link
against glmlib's NumPy link.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from glmlib.bayes import BayesianGLM, Normal
from glmlib.bayes._families import likelihood_for
from glmlib.bayes._links import inverse_link
from glmlib.bayes._model import build_model
from glmlib.links import get_link

LINKS = ["identity", "log", "logit", "probit", "cloglog", "inverse", "inverse_squared", "sqrt"]


def test_inverse_links_match_glmlib() -> None:
    """Every PyTensor inverse link against glmlib's NumPy one, in one compiled function."""
    import pytensor

    from glmlib.bayes._imports import pytensor_tensor

    pt = pytensor_tensor()
    names = [*LINKS, "power(1.5)"]
    positive = {"inverse", "inverse_squared", "sqrt", "power(1.5)"}
    x = pt.dvector("eta")
    f = pytensor.function([x], [inverse_link(get_link(name), x) for name in names])
    real, pos = np.linspace(-4, 4, 9), np.linspace(0.05, 3.0, 9)
    got_real, got_pos = f(real), f(pos)
    for name, a, b in zip(names, got_real, got_pos, strict=True):
        eta, got = (pos, b) if name in positive else (real, a)
        np.testing.assert_allclose(got, get_link(name).inverse(eta), rtol=1e-12, err_msg=name)


def _loglik(family: str, y, mu, w, extra):
    if family == "gaussian":
        return stats.norm.logpdf(y, mu, extra["sigma"] / np.sqrt(w))
    if family == "binomial":
        return stats.binom.logpmf(np.round(w * y), np.round(w), mu)
    if family == "poisson":
        return w * stats.poisson.logpmf(y, mu)
    if family == "gamma":
        k = extra["shape"] * w
        return stats.gamma.logpdf(y, a=k, scale=mu / k)
    if family == "inverse_gaussian":
        lam = extra["lam"] * w
        return 0.5 * np.log(lam / (2 * np.pi * y**3)) - lam * (y - mu) ** 2 / (2 * mu**2 * y)
    if family == "negative_binomial":
        a = extra["alpha"]
        return w * stats.nbinom.logpmf(y, 1 / a, 1 / (1 + a * mu))
    raise AssertionError(family)


SLOW = pytest.mark.slow
CASES = [
    pytest.param("gaussian", "identity", {"sigma": 1.3}, marks=SLOW),
    ("gaussian", "log", {"sigma": 0.7}),
    ("binomial", "logit", {}),
    ("binomial", "probit", {}),
    pytest.param("binomial", "cloglog", {}, marks=SLOW),
    ("poisson", "log", {}),
    pytest.param("poisson", "sqrt", {}, marks=SLOW),
    pytest.param("gamma", "log", {"shape": 3.0}, marks=SLOW),
    ("gamma", "inverse", {"shape": 2.0}),
    ("inverse_gaussian", "log", {"lam": 4.0}),
    ("negative_binomial", "log", {"alpha": 0.5}),
]


def _simulate(family: str, link: str, extra: dict, rng: np.random.Generator):
    n = 60
    X = rng.normal(size=(n, 2))
    w = rng.integers(1, 4, size=n).astype(float)
    offset = 0.1 * rng.normal(size=n)
    eta = {"identity": 3.0, "log": 0.5, "sqrt": 2.0, "inverse": 1.0}.get(link, 0.0)
    if family == "gaussian" and link == "log":
        eta = 2.0  # keep y > 0: the core engine's start needs log(y) (see the report)
    eta = eta + X @ [0.2, -0.1] + offset
    mu = get_link(link).inverse(eta)
    if family == "gaussian":
        y = rng.normal(mu, 1.0)
    elif family == "binomial":
        y = rng.binomial(w.astype(int), mu) / w
    elif family in ("poisson", "negative_binomial"):
        y = rng.poisson(mu).astype(float)
    elif family == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    else:
        y = rng.wald(mu, 4.0)
    return X, y, w, offset


@pytest.mark.parametrize(("family", "link", "extra"), CASES)
def test_model_log_density_matches_scipy(family: str, link: str, extra: dict) -> None:
    rng = np.random.default_rng(0)
    X, y, w, offset = _simulate(family, link, extra, rng)
    est = BayesianGLM(family, link=link, priors={"x0": Normal(0, 1), "x1": Normal(0.5, 2), **extra})
    data, fam = est._prepare(X, y, w, offset)
    lik = likelihood_for(fam)
    priors, proxy = est._resolve(data, lik)
    chol = np.linalg.cholesky(proxy.cov)
    model = build_model(data, lik, priors, proxy.theta, chol)
    logp = model.compile_logp(jacobian=False)
    Xt = data.Xt

    def reference(theta):
        mu = np.asarray(fam.link.inverse(Xt @ theta + data.offset))
        prior = sum(p.logpdf(t) for p, t in zip(priors.theta, theta, strict=True))
        return np.sum(_loglik(lik.name, data.y, mu, data.w, extra)) + prior

    z1, z2 = np.zeros(3), np.array([0.3, -0.5, 0.2])
    t1, t2 = proxy.theta + chol @ z1, proxy.theta + chol @ z2
    got = logp({"z": z2}) - logp({"z": z1})
    assert got == pytest.approx(reference(t2) - reference(t1), rel=1e-8, abs=1e-8)


def test_canonical_links_use_the_exponential_family_form() -> None:
    """Logistic and log-Poisson models: a Potential, not an observed distribution."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 1))
    y = rng.binomial(1, special.expit(X[:, 0])).astype(float)
    for family, link, observed in [("binomial", None, []), ("binomial", "probit", ["y"])]:
        est = BayesianGLM(family, link=link)
        data, fam = est._prepare(X, y, None, None)
        lik = likelihood_for(fam)
        priors, _ = est._resolve(data, lik)
        model = build_model(data, lik, priors)
        assert [v.name for v in model.observed_RVs] == observed
        assert ("y_loglik" in [p.name for p in model.potentials]) == (not observed)
