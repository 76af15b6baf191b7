"""Prior specifications: validation, scaling, and densities against SciPy and PyMC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from glmlib.bayes import (
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    Laplace,
    Logistic,
    Normal,
    RegularizedHorseshoe,
    StudentT,
)

SMOOTH = [Normal(0.5, 2.0), StudentT(3.0, -1.0, 0.7), StudentT(1.0, 0.0, 2.0), Logistic(0.3, 1.5)]
ALL = [*SMOOTH, Laplace(0.2, 0.5), HalfNormal(2.0), HalfStudentT(4.0, 1.5), Exponential(0.5)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Normal(0, -1), "sigma must be a finite number > 0"),
        (lambda: Normal(float("nan"), 1), "mu must be finite"),
        (lambda: StudentT(0, 0, 1), "nu must be a finite number > 0"),
        (lambda: Laplace(0, 0), "b must be a finite number > 0"),
        (lambda: HalfNormal(math.inf), "sigma must be a finite number > 0"),
        (lambda: Exponential(-2), "lam must be a finite number > 0"),
        (lambda: RegularizedHorseshoe(), "exactly one of p0"),
        (lambda: RegularizedHorseshoe(p0=2, tau0=0.1), "exactly one of p0"),
        (lambda: RegularizedHorseshoe(p0=-1), "p0 must be a finite number > 0"),
    ],
)
def test_invalid_parameters_raise(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_non_numbers_raise_type_error() -> None:
    with pytest.raises(TypeError, match="sigma must be a number"):
        Normal(0, "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a number"):
        Normal(True, 1)  # type: ignore[arg-type]


def test_rescale_multiplies_the_scale_and_clears_autoscale() -> None:
    p = Normal(1.0, 2.5, autoscale=True).rescale(4.0)
    assert p == Normal(1.0, 10.0)
    assert StudentT(3, 0, 1, autoscale=True).rescale(2.0).sigma == 2.0
    assert Flat().rescale(3.0) == Flat()
    assert Exponential(2.0).rescale(2.0).scale == pytest.approx(1.0)


@pytest.mark.parametrize("prior", SMOOTH, ids=repr)
def test_majoriser_weight_and_curvature_match_finite_differences(prior) -> None:
    """mm_weight = rho'(r) / r and curvature = rho''(r), rho = -log p(mu + r)."""
    r = np.array([-3.0, -0.4, 0.25, 1.0, 5.0])
    h = 1e-4
    rho = lambda t: -prior.logpdf(prior.loc + t)  # noqa: E731
    d1 = (rho(r + h) - rho(r - h)) / (2 * h)
    d2 = (rho(r + h) - 2 * rho(r) + rho(r - h)) / h**2
    np.testing.assert_allclose(prior.mm_weight(r), d1 / r, rtol=1e-6)
    np.testing.assert_allclose(prior.curvature(r), d2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("prior", SMOOTH, ids=repr)
def test_majoriser_weight_is_non_increasing_in_abs_r(prior) -> None:
    r = np.linspace(0.0, 20.0, 200)
    assert np.all(np.diff(prior.mm_weight(r)) <= 1e-15)


def test_laplace_prior_is_not_smooth() -> None:
    assert not Laplace().smooth
    with pytest.raises(NotImplementedError, match="smooth"):
        Laplace().mm_weight(np.ones(2))


@pytest.mark.parametrize("prior", ALL, ids=repr)
def test_pymc_log_density_matches_scipy(prior) -> None:
    from glmlib.bayes._imports import pymc

    pm = pymc()
    x = np.array([0.1, 0.9, 2.5]) if prior.support == "positive" else np.array([-2.0, 0.1, 3.0])
    got = pm.logp(prior.dist(), x).eval()
    np.testing.assert_allclose(got, prior.logpdf(x), rtol=1e-8)  # PyMC rounds log(2 pi)


def test_flat_is_improper() -> None:
    assert Flat().precision() == 0.0
    np.testing.assert_array_equal(Flat().logpdf(np.array([1.0, -5.0])), 0.0)
    with pytest.raises(ValueError, match="improper"):
        Flat().sample(np.random.default_rng(0), 3)


def test_logistic_prior_on_the_logit_is_uniform_on_the_probability() -> None:
    """p = 1 / (1 + exp(-b)), b ~ Logistic(0, 1)  =>  p ~ Uniform(0, 1)."""
    b = Logistic(0, 1).sample(np.random.default_rng(0), 20_000)
    p = 1 / (1 + np.exp(-b))
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_horseshoe_global_scale() -> None:
    hs = RegularizedHorseshoe(p0=2)
    assert hs.global_scale(10, 100) == pytest.approx(2 / 8 / 10)
    assert RegularizedHorseshoe(tau0=0.3).global_scale(10, 100) == 0.3
    with pytest.raises(ValueError, match="smaller than the number of coefficients"):
        hs.global_scale(2, 100)
    draws = hs.sample(np.random.default_rng(0), 500, 0.01, np.ones(5))
    assert draws.shape == (500, 5)
    # most coefficients are shrunk hard towards zero
    assert np.median(np.abs(draws)) < 0.05
