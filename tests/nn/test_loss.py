"""GLMLoss against glmlib's own deviance, an independent integral, and closed-form gradients.

Every family and every link glmlib allows for it. Tolerances: 1e-10 relative
against ``family.deviance(y, mu, w) / sum(w)`` in float64 (same definition,
different code path: torch tensors and, where the family has one, the eta
form); 1e-8 against the deviance as the integral
2 * int_mu^y (y - t) / V(t) dt by scipy's quad (the definition of the unit
deviance, McCullagh and Nelder 1989, section 2.3); 1e-8 for the gradient
against -2 w (y - mu) / V(mu) * dmu/deta / sum(w).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from glmlib.families import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    NegativeBinomial,
    Poisson,
    Tweedie,
)
from glmlib.links import get_link
from glmlib.nn import GLMLoss

FAMILIES: list[Family] = [
    Gaussian(),
    Binomial(),
    Poisson(),
    Gamma(),
    InverseGaussian(),
    Tweedie(power=1.5),
    Tweedie(power=0),
    Tweedie(power=1),
    Tweedie(power=2),
    Tweedie(power=3),
    NegativeBinomial(alpha=0.7),
]
LINK_SPELLING = {"power": "power(1.5)"}


def _pairs() -> list[Family]:
    out = []
    for fam in FAMILIES:
        for name in fam.valid_links:
            params = fam.init_params()
            params["link"] = get_link(LINK_SPELLING.get(name, name))
            out.append(type(fam)(**params))
    return out


PAIRS = _pairs()


def _id(fam: Family) -> str:
    return repr(fam)


def _data(fam: Family, n: int = 60, seed: int = 0, fractional: bool = False):
    """mu inside the family's range, eta = g(mu), y in the support, positive weights."""
    rng = np.random.default_rng(seed)
    if fam.name == "binomial":
        mu = rng.uniform(0.05, 0.95, n)
        trials = rng.integers(1, 6, n).astype(float) if fractional else np.ones(n)
        y = rng.binomial(trials.astype(int), mu) / trials
        w = trials
    else:
        mu = rng.uniform(0.3, 3.0, n)
        w = rng.uniform(0.5, 2.0, n)
        if fam.name in ("poisson", "negative_binomial") or (
            fam.name == "tweedie" and 1 <= fam.power < 2
        ):
            y = rng.poisson(mu).astype(float)
            if fam.name == "tweedie" and fam.power > 1:
                y = y * rng.uniform(0.5, 1.5, n)  # compound Poisson-gamma-like: zeros and reals
        elif fam.name == "gaussian" or (fam.name == "tweedie" and fam.power == 0):
            y = mu + rng.normal(size=n)
        else:
            y = mu * rng.gamma(4.0, 0.25, n)
    eta = np.asarray(fam.link.link(mu), dtype=np.float64)
    return eta, y, w


def _t(a: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(a, dtype=dtype)


def test_every_family_and_link_is_covered() -> None:
    names = {(f.name, f.link.name) for f in PAIRS}
    for fam in FAMILIES:
        for link in fam.valid_links:
            assert (fam.name, link) in names
    assert len(PAIRS) >= 35


@pytest.mark.parametrize("fam", PAIRS, ids=_id)
@pytest.mark.parametrize("fractional", [False, True], ids=["plain", "fractional"])
def test_equals_glmlib_deviance(fam: Family, fractional: bool) -> None:
    """forward == family.deviance(y, g^-1(eta), w) / sum(w) to 1e-10 (float64)."""
    eta, y, w = _data(fam, fractional=fractional)
    expected = float(fam.deviance(y, fam.link.inverse(eta), w)) / w.sum()
    got = GLMLoss(fam)(_t(eta), _t(y), _t(w))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(float(got), expected, rtol=1e-10, atol=0)


def _integral_deviance(fam: Family, y: float, mu: float) -> float:
    value, _ = quad(
        lambda t: (y - t) / float(fam.variance(np.array(t))), mu, y, epsabs=0, epsrel=1e-12
    )
    return 2.0 * value


@pytest.mark.parametrize("fam", PAIRS, ids=_id)
def test_equals_deviance_as_an_integral(fam: Family) -> None:
    """Mean unit deviance == mean of 2 int_mu^y (y - t)/V(t) dt, independent of glmlib (1e-8)."""
    eta, y, w = _data(fam, n=25, seed=1)
    mu = np.asarray(fam.link.inverse(eta))
    unit = np.array([_integral_deviance(fam, yi, mi) for yi, mi in zip(y, mu, strict=True)])
    expected = np.sum(w * unit) / np.sum(w)
    got = float(GLMLoss(fam)(_t(eta), _t(y), _t(w)))
    np.testing.assert_allclose(got, expected, rtol=1e-8)


@pytest.mark.parametrize("fam", PAIRS, ids=_id)
def test_gradient_is_the_score(fam: Family) -> None:
    """d loss / d eta = -2 w (y - mu) / V(mu) * dmu/deta / sum(w) (1e-8)."""
    eta, y, w = _data(fam, seed=2)
    eta_t = _t(eta).requires_grad_(True)
    GLMLoss(fam)(eta_t, _t(y), _t(w)).backward()
    mu = np.asarray(fam.link.inverse(eta))
    dmu = np.asarray(fam.link.inverse_deriv(eta))
    expected = -2.0 * w * (y - mu) / np.asarray(fam.variance(mu)) * dmu / w.sum()
    np.testing.assert_allclose(eta_t.grad.numpy(), expected, rtol=1e-8, atol=1e-14)


def test_family_parameters_by_name() -> None:
    eta, y, w = _data(Tweedie(power=1.5))
    a = GLMLoss("tweedie", power=1.5)(_t(eta), _t(y), _t(w))
    b = GLMLoss(Tweedie(power=1.5, link="log"))(_t(eta), _t(y), _t(w))
    assert float(a) == float(b)
    assert GLMLoss("negative_binomial", alpha=0.3).family.alpha == 0.3
    assert GLMLoss("gamma", link="log").link.name == "log"


def test_binomial_logit_is_stable_far_out() -> None:
    """0/1 responses at |eta| = 30 (float64): the softplus form, 2 log(1 + exp(-(2y-1) eta))."""
    eta = np.array([30.0, -30.0, 30.0, -30.0, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    expected = np.mean(2.0 * np.logaddexp(0.0, -(2 * y - 1) * eta))
    got = float(GLMLoss("binomial")(_t(eta), _t(y)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert expected > 20  # the two confidently wrong rows dominate, as they should


@pytest.mark.parametrize(
    ("family", "low", "high"), [("binomial", -15.0, 15.0), ("poisson", -20.0, 20.0)]
)
def test_float32_close_to_float64_and_finite_gradients(family: str, low: float, high: float):
    """Natural links in float32 across a wide eta range: rtol 1e-5 of the float64 loss."""
    rng = np.random.default_rng(3)
    eta = np.linspace(low, high, 401)
    if family == "binomial":
        y = rng.integers(0, 2, eta.size).astype(float)
    else:
        y = rng.poisson(np.exp(np.clip(eta, None, 8))).astype(float)
    loss = GLMLoss(family)
    ref = float(loss(_t(eta), _t(y)))
    eta32 = _t(eta, torch.float32).requires_grad_(True)
    got = loss(eta32, _t(y, torch.float32))
    got.backward()
    assert got.dtype == torch.float32
    np.testing.assert_allclose(float(got.detach()), ref, rtol=1e-5)
    assert torch.isfinite(eta32.grad).all()


def test_poisson_large_counts_use_the_ratio_form() -> None:
    """Counts ~ 1e4 (beyond the eta form's round-off bound) still match glmlib to 1e-10."""
    fam = Poisson()
    rng = np.random.default_rng(4)
    mu = rng.uniform(5e3, 2e4, 50)
    y = rng.poisson(mu).astype(float)
    eta = np.log(mu)
    expected = float(fam.deviance(y, mu, np.ones(50))) / 50
    np.testing.assert_allclose(float(GLMLoss(fam)(_t(eta), _t(y))), expected, rtol=1e-10)


def test_half_precision_eta_is_promoted() -> None:
    eta = torch.zeros(4, dtype=torch.bfloat16)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    out = GLMLoss("binomial")(eta, y)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(float(out), 2 * np.log(2), rtol=1e-6)


def test_unweighted_is_unit_weights_and_column_eta_accepted() -> None:
    eta, y, _ = _data(Poisson())
    loss = GLMLoss("poisson")
    a = loss(_t(eta), _t(y))
    b = loss(_t(eta)[:, None], _t(y), torch.ones(len(y), dtype=torch.float64))
    assert float(a) == float(b)


def test_bad_input_is_named() -> None:
    loss = GLMLoss("poisson")
    with pytest.raises(ValueError, match="eta and y"):
        loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(torch.zeros(3), torch.zeros(3), torch.ones(2))
    with pytest.raises(TypeError, match="torch tensors"):
        loss(np.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        loss(torch.zeros(3, dtype=torch.int64), torch.zeros(3))
    with pytest.raises(ValueError, match="not valid for the poisson family"):
        GLMLoss("poisson", link="logit")
    with pytest.raises(ValueError, match="unknown family"):
        GLMLoss("poison")
