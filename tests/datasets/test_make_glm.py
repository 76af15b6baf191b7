"""Tests for glmlib.datasets.make_glm: support, dtype, sparsity, moments, recovery."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from glmlib.datasets import make_glm
from glmlib.families import Tweedie, get_family

# (family argument, extra keyword arguments)
CASES = [
    ("gaussian", {}),
    ("binomial", {}),
    ("poisson", {}),
    ("gamma", {}),
    ("gamma", {"link": "log", "dispersion": 0.5}),
    ("inverse_gaussian", {}),
    ("inverse_gaussian", {"link": "log", "dispersion": 0.2}),
    ("tweedie", {"power": 1.5}),
    ("negative_binomial", {"alpha": 0.5}),
    ("binomial", {"link": "probit"}),
    ("poisson", {"link": "identity", "intercept": 3.0}),
]
IDS = [f + "".join(f"-{k}={v}" for k, v in kw.items()) for f, kw in CASES]


def _in_support(family: str, y: np.ndarray) -> bool:
    if family == "binomial":
        return bool(np.isin(y, (0.0, 1.0)).all())
    if family in ("poisson", "negative_binomial"):
        return bool((y >= 0).all() and (y == np.round(y)).all())
    if family == "tweedie":
        return bool((y >= 0).all())
    if family in ("gamma", "inverse_gaussian"):
        return bool((y > 0).all())
    return True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("family", "kw"), CASES, ids=IDS)
def test_finite_support_and_dtype(family: str, kw: dict, dtype: type) -> None:
    X, y, coef = make_glm(2000, 6, family, dtype=dtype, random_state=0, **kw)
    assert X.shape == (2000, 6) and y.shape == (2000,) and coef.shape == (6,)
    assert X.dtype == y.dtype == coef.dtype == dtype
    assert np.isfinite(X).all() and np.isfinite(y).all() and np.isfinite(coef).all()
    assert _in_support(family, y)


@pytest.mark.parametrize(("family", "kw"), CASES, ids=IDS)
def test_mean_and_variance_match_family(family: str, kw: dict) -> None:
    """E y = mu and E (y - mu)^2 / V(mu) = phi, checked on 40,000 draws."""
    kw = dict(kw)
    phi = kw.get("dispersion", 1.0)
    intercept = kw.pop("intercept", 0.5)
    X, y, coef = make_glm(40_000, 4, family, intercept=intercept, random_state=1, **kw)
    extra = {k: kw[k] for k in ("power", "alpha") if k in kw}
    fam = get_family(family, link=kw.get("link"), **extra)
    mu = fam.link.inverse(intercept + X @ coef)
    var = np.asarray(fam.variance(mu))
    z = (y - mu) / np.sqrt(var)
    assert abs(z.mean()) < 0.05
    scale = phi if fam.name not in ("binomial", "poisson", "negative_binomial") else 1.0
    assert np.mean(z**2) == pytest.approx(scale, rel=0.1)


def test_family_object_and_tweedie_zeros() -> None:
    X, y, _ = make_glm(5000, 3, Tweedie(power=1.2), random_state=0)
    assert (y == 0).mean() > 0.05  # compound Poisson-gamma has an atom at zero
    assert (y > 0).any()


def test_linear_predictor_scale_and_informative() -> None:
    X, _, coef = make_glm(20_000, 10, "poisson", n_informative=3, random_state=0)
    assert np.count_nonzero(coef) == 3 and np.all(coef[3:] == 0)
    assert np.std(X @ coef) == pytest.approx(0.75, rel=0.05)
    X, _, coef = make_glm(20_000, 10, "poisson", eta_std=0.5, correlation=0.6, random_state=0)
    assert np.std(X @ coef) == pytest.approx(0.5, rel=0.05)
    assert np.corrcoef(X[:, 0], X[:, 1])[0, 1] == pytest.approx(0.6, abs=0.03)


def test_default_gamma_link_keeps_eta_in_domain() -> None:
    """The gamma's canonical inverse link needs eta > 0: eta_std is shrunk to fit."""
    X, y, coef = make_glm(20_000, 5, "gamma", random_state=0)
    eta = 0.5 + X @ coef
    assert eta.min() > 0 and 0 < np.std(X @ coef) < 0.5 / 6 * 1.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse(dtype: type) -> None:
    X, y, coef = make_glm(
        3000, 40, "poisson", sparse=True, density=0.05, dtype=dtype, random_state=0
    )
    assert sp.issparse(X) and X.format == "csr"
    assert X.dtype == dtype and y.dtype == dtype
    assert X.nnz / (3000 * 40) == pytest.approx(0.05, rel=0.1)
    assert X.has_sorted_indices and X.has_canonical_format
    col_var = np.asarray(X.power(2).mean(axis=0)).ravel()
    assert col_var.mean() == pytest.approx(1.0, rel=0.1)
    X1, _, _ = make_glm(50, 5, "gaussian", sparse=True, density=1.0, random_state=0)
    assert X1.nnz == 250


@pytest.mark.parametrize("sparse", [False, True])
def test_reproducible(sparse: bool) -> None:
    a = make_glm(300, 8, "negative_binomial", sparse=sparse, random_state=42)
    b = make_glm(300, 8, "negative_binomial", sparse=sparse, random_state=42)
    c = make_glm(300, 8, "negative_binomial", sparse=sparse, random_state=43)
    dense = [x.toarray() if sp.issparse(x) else x for x in (a[0], b[0], c[0])]
    np.testing.assert_array_equal(dense[0], dense[1])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize(
    ("family", "sm_family", "tol"),
    [("gaussian", "Gaussian", 0.1), ("poisson", "Poisson", 0.1), ("binomial", "Binomial", 0.2)],
)
def test_statsmodels_recovers_coef(family: str, sm_family: str, tol: float) -> None:
    """An MLE fit at n = 5,000 recovers every coefficient within ``tol`` (about 5 SE)."""
    sm = pytest.importorskip("statsmodels.api")
    X, y, coef = make_glm(5000, 5, family, intercept=0.5, random_state=3)
    res = sm.GLM(y, sm.add_constant(X), family=getattr(sm.families, sm_family)()).fit()
    np.testing.assert_allclose(res.params[1:], coef, atol=tol)
    assert res.params[0] == pytest.approx(0.5, abs=tol)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtype": np.int64}, "dtype"),
        ({"correlation": 1.0}, "correlation"),
        ({"sparse": True, "correlation": 0.3}, "sparse"),
        ({"sparse": True, "density": 0.0}, "density"),
        ({"family": "poisson", "dispersion": 2.0}, "no dispersion"),
        ({"family": "poisson", "power": 1.5}, "power"),
        ({"family": "tweedie", "alpha": 1.0}, "alpha"),
        ({"family": "tweedie", "power": 2.5}, "power"),
        ({"n_informative": 9}, "n_informative"),
        ({"family": "gamma", "intercept": -1.0}, "domain"),
        ({"family": "gamma", "eta_std": 1.0}, "domain"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    kwargs = dict(kwargs)
    family = kwargs.pop("family", "gaussian")
    with pytest.raises(ValueError, match=match):
        make_glm(200, 5, family, random_state=0, **kwargs)
