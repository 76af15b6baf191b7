"""Tests for the link functions in ``glmlib/links.py``.

Every link is checked numerically over a grid of its valid linear predictors:
``link(inverse(eta)) == eta`` (rtol 1e-10), ``inverse(link(mu)) == mu``,
``inverse_deriv`` against a central finite difference of ``inverse``
(rtol 1e-6), and ``deriv(mu) == 1 / inverse_deriv(link(mu))``; values are
compared with statsmodels' link classes as an independent reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from glmlib import links
from glmlib.links import Link, Power, get_link

SM = sm.families.links

#: (glmlib link, statsmodels link, eta grid inside the link's valid range).
#: Grids stop where float64 round-off of the mean, not the link, dominates:
#: e.g. 1 - logit^{-1}(eta) loses all digits for eta > 36.
LINK_CASES = [
    ("identity", links.Identity(), SM.Identity(), np.linspace(-50, 50, 101)),
    ("log", links.Log(), SM.Log(), np.linspace(-30, 30, 101)),
    ("logit", links.Logit(), SM.Logit(), np.linspace(-15, 15, 101)),
    ("probit", links.Probit(), SM.Probit(), np.linspace(-6, 6, 101)),
    ("cloglog", links.CLogLog(), SM.CLogLog(), np.linspace(-15, 2.5, 101)),
    ("inverse", links.Inverse(), SM.InversePower(), np.linspace(0.01, 50, 101)),
    ("inverse_squared", links.InverseSquared(), SM.InverseSquared(), np.linspace(0.01, 50, 101)),
    ("sqrt", links.Sqrt(), SM.Sqrt(), np.linspace(0.01, 50, 101)),
    ("power(2)", Power(2.0), SM.Power(2.0), np.linspace(0.01, 50, 101)),
    ("power(1/3)", Power(1 / 3), SM.Power(1 / 3), np.linspace(0.05, 5, 101)),
    ("power(-0.5)", Power(-0.5), SM.Power(-0.5), np.linspace(0.05, 20, 101)),
]
IDS = [c[0] for c in LINK_CASES]


EPS = np.finfo(np.float64).eps


def roundoff(link, eta):
    """Error of link(inverse(eta)) that float64 alone causes: mu carries an error of
    about eps * max(mu, 1 - mu) (mu is stored near 1 for the binary links), and
    the link amplifies it by 1 / |dmu/deta|."""
    mu = link.inverse(eta)
    return 4 * EPS * np.maximum(np.abs(mu), 1.0) / np.abs(link.inverse_deriv(eta))


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_link_inverts_inverse(name, link, sm_link, eta):
    """|link(inverse(eta)) - eta| <= 1e-12 |eta| + the float64 round-off bound above."""
    err = np.abs(link.link(link.inverse(eta)) - eta)
    assert np.all(err <= 1e-12 * np.abs(eta) + roundoff(link, eta))


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_inverse_inverts_link(name, link, sm_link, eta):
    mu = sm_link.inverse(eta)
    np.testing.assert_allclose(link.inverse(link.link(mu)), mu, rtol=1e-12)


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_inverse_deriv_matches_finite_difference(name, link, sm_link, eta):
    """Central difference with h = 1e-6 (1 + |eta|): truncation error ~h^2 (rtol 1e-6),
    round-off ~eps max(mu, 1) / h (absolute; it dominates in the binary links' tails)."""
    h = 1e-6 * (1 + np.abs(eta))
    fd = (link.inverse(eta + h) - link.inverse(eta - h)) / (2 * h)
    mu = link.inverse(eta)
    atol = 4 * EPS * np.maximum(np.abs(mu), 1.0) / h
    assert np.all(np.abs(link.inverse_deriv(eta) - fd) <= 1e-6 * np.abs(fd) + atol)


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_deriv_is_reciprocal_of_inverse_deriv(name, link, sm_link, eta):
    """deriv(mu) = 1 / inverse_deriv(link(mu)); mu = inverse(eta) is exact for this check."""
    mu = link.inverse(eta)
    np.testing.assert_allclose(link.deriv(mu) * link.inverse_deriv(link.link(mu)), 1.0, rtol=1e-12)


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_matches_statsmodels(name, link, sm_link, eta):
    """Same functions as statsmodels' links (an independent implementation), rtol 1e-10."""
    np.testing.assert_allclose(link.inverse(eta), sm_link.inverse(eta), rtol=1e-10)
    np.testing.assert_allclose(link.inverse_deriv(eta), sm_link.inverse_deriv(eta), rtol=1e-10)
    mu = sm_link.inverse(eta)
    np.testing.assert_allclose(link.link(mu), sm_link(mu), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_inverse_is_monotone_and_deriv_has_its_sign(name, link, sm_link, eta):
    mu = link.inverse(eta)
    d = np.diff(mu)
    sign = np.sign(link.inverse_deriv(eta))
    assert np.all(sign == sign[0]) and sign[0] != 0
    assert np.all(d * sign[0] > 0)


@pytest.mark.parametrize(("name", "link", "sm_link", "eta"), LINK_CASES, ids=IDS)
def test_torch_float64_matches_numpy(name, link, sm_link, eta):
    torch = pytest.importorskip("torch")
    t = torch.as_tensor(eta, dtype=torch.float64)
    # atol 1e-15: torch.special.ndtr differs from scipy's by ~1e-17 absolute in the tails
    np.testing.assert_allclose(link.inverse(t).numpy(), link.inverse(eta), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        link.inverse_deriv(t).numpy(), link.inverse_deriv(eta), rtol=1e-12, atol=1e-15
    )
    mu = link.inverse(eta)
    np.testing.assert_allclose(
        link.link(torch.as_tensor(mu)).numpy(), link.link(mu), rtol=1e-13, atol=1e-13
    )


@pytest.mark.parametrize(
    "link",
    [links.Logit(), links.Probit(), links.CLogLog()],
    ids=["logit", "probit", "cloglog"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_links_stay_strictly_inside_unit_interval(link, dtype):
    """Extreme eta (|eta| up to 1e300, in float32 up to 1e30) gives 0 < mu < 1 and finite derivatives."""
    big = 1e30 if dtype == np.float32 else 1e300
    eta = np.array([-big, -1e3, -50, 0, 50, 1e3, big], dtype=dtype)
    with np.errstate(all="ignore"):  # over/underflow inside is fine; the results must not be
        mu = link.inverse(eta)
        d = link.inverse_deriv(eta)
    assert np.all((mu > 0) & (mu < 1))
    assert np.all(np.isfinite(d) & (d > 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_inverse_never_overflows(dtype):
    eta = np.array([-1e4, -800, 0, 800, 1e4], dtype=dtype)
    with np.errstate(over="raise"):
        mu = links.Log().inverse(eta)
    assert np.all(np.isfinite(mu) & (mu > 0))


@pytest.mark.parametrize("link", [links.InverseSquared(), links.Sqrt()])
def test_power_links_keep_means_positive_and_finite(link):
    eta = np.array([-5.0, -1e-300, 0.0, 1e-300, 1.0])
    mu = link.inverse(eta)
    assert np.all(np.isfinite(mu) & (mu > 0))
    assert np.all(np.isfinite(link.inverse_deriv(eta)))


@pytest.mark.parametrize("link", [links.Inverse(), links.InverseSquared(), links.Sqrt()])
def test_power_links_reject_eta_outside_their_domain(link):
    """R's valideta: eta > 0 for power links, eta != 0 for the inverse link."""
    assert bool(link.valid_eta(np.array([0.5, 1.0, 2.0])))
    assert not bool(link.valid_eta(np.array([0.5, 0.0])))
    assert bool(link.valid_eta(np.array([-1.0, 2.0]))) == (link.name == "inverse")


def test_inverse_link_is_exact_on_both_signs():
    """The inverse link is 1/eta on both sides of zero (Gaussian models may have mu < 0)."""
    eta = np.array([-4.0, -0.5, 0.25, 2.0])
    np.testing.assert_allclose(links.Inverse().inverse(eta), 1 / eta, rtol=1e-15)
    np.testing.assert_allclose(links.Inverse().inverse_deriv(eta), -1 / eta**2, rtol=1e-15)


# ------------------------------------------------------------------ get_link


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("identity", links.Identity),
        ("log", links.Log),
        ("logit", links.Logit),
        ("probit", links.Probit),
        ("cloglog", links.CLogLog),
        ("inverse", links.Inverse),
        ("inverse_squared", links.InverseSquared),
        ("inverse-squared", links.InverseSquared),
        ("  Log ", links.Log),
        ("sqrt", links.Sqrt),
        ("power(1)", links.Identity),
        ("power(0)", links.Log),
    ],
)
def test_get_link_by_name(spec, cls):
    assert type(get_link(spec)) is cls


def test_get_link_power_string_and_passthrough():
    p = get_link("power(2.5)")
    assert isinstance(p, Power) and p.power == 2.5
    lk = links.Probit()
    assert get_link(lk) is lk


@pytest.mark.parametrize("spec", ["logitt", "power(x)", "", "exp"])
def test_get_link_unknown_name_raises(spec):
    with pytest.raises(ValueError, match="link"):
        get_link(spec)


@pytest.mark.parametrize("spec", [1, None, 2.0, ["log"]])
def test_get_link_wrong_type_raises(spec):
    with pytest.raises(TypeError, match="link must be a string"):
        get_link(spec)


@pytest.mark.parametrize("power", [0.0, np.inf, np.nan])
def test_power_link_rejects_invalid_power(power):
    with pytest.raises(ValueError, match="power"):
        Power(power)


def test_links_compare_by_value():
    assert links.Log() == links.Log()
    assert Power(2.0) == Power(2.0) and Power(2.0) != Power(3.0)
    assert links.Inverse() != links.InverseSquared()
    assert hash(Power(2.0)) == hash(Power(2.0))
    assert all(isinstance(c[1], Link) for c in LINK_CASES)
