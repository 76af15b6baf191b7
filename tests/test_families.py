"""Tests for the exponential-dispersion families in ``glmlib/families.py``.

For every family: the unit deviance is zero at mu = y and positive elsewhere,
its derivative in mu is -2 (y - mu) / V(mu) (central finite differences,
rtol 1e-6), and deviance / Pearson statistics equal statsmodels' families
(an independent implementation) to 1e-10. Log-likelihood terms behind R's
AIC are checked against scipy.stats densities.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import gammaln

from glmlib import families
from glmlib.families import (
    Binomial,
    Gamma,
    Gaussian,
    InverseGaussian,
    NegativeBinomial,
    Poisson,
    Tweedie,
    get_family,
)

SMF = sm.families

#: (id, glmlib family, statsmodels family, y grid, mu grid), grids in the support.
POS = np.array([0.05, 0.3, 1.0, 2.5, 7.0, 40.0])
NONNEG = np.array([0.0, 0.3, 1.0, 2.0, 7.0, 40.0])
COUNTS = np.array([0.0, 1.0, 2.0, 5.0, 13.0, 40.0])
PROP = np.array([0.0, 0.01, 0.3, 0.5, 0.9, 1.0])
MU_POS = np.array([0.07, 0.4, 1.3, 3.0, 9.0, 35.0])
MU_PROP = np.array([0.02, 0.2, 0.45, 0.6, 0.95, 0.99])
REAL = np.array([-3.0, -0.5, 0.0, 0.7, 2.0, 10.0])

FAMILY_CASES = [
    ("gaussian", Gaussian(), SMF.Gaussian(), REAL, REAL[::-1] + 0.3),
    ("binomial", Binomial(), SMF.Binomial(), PROP, MU_PROP),
    ("poisson", Poisson(), SMF.Poisson(), COUNTS, MU_POS),
    ("gamma", Gamma(), SMF.Gamma(), POS, MU_POS),
    ("inverse_gaussian", InverseGaussian(), SMF.InverseGaussian(), POS, MU_POS),
    ("tweedie-0", Tweedie(0.0), SMF.Tweedie(var_power=0.0), REAL, REAL[::-1] + 0.3),
    ("tweedie-1", Tweedie(1.0), SMF.Tweedie(var_power=1.0), COUNTS, MU_POS),
    ("tweedie-1.5", Tweedie(1.5), SMF.Tweedie(var_power=1.5), NONNEG, MU_POS),
    ("tweedie-2", Tweedie(2.0), SMF.Tweedie(var_power=2.0), POS, MU_POS),
    ("tweedie-2.5", Tweedie(2.5), SMF.Tweedie(var_power=2.5), POS, MU_POS),
    ("tweedie-3", Tweedie(3.0), SMF.Tweedie(var_power=3.0), POS, MU_POS),
    ("negbin-0.5", NegativeBinomial(0.5), SMF.NegativeBinomial(alpha=0.5), COUNTS, MU_POS),
    ("negbin-2", NegativeBinomial(2.0), SMF.NegativeBinomial(alpha=2.0), COUNTS, MU_POS),
]
IDS = [c[0] for c in FAMILY_CASES]


def grid(y, mu):
    """All (y, mu) pairs of the two grids."""
    yy, mm = np.meshgrid(y, mu, indexing="ij")
    return yy.ravel(), mm.ravel()


@pytest.mark.parametrize(("name", "fam", "sm_fam", "y", "mu"), FAMILY_CASES, ids=IDS)
def test_unit_deviance_zero_at_mu_equals_y(name, fam, sm_fam, y, mu):
    """d(y, y) = 0 wherever y is a valid mean (y > 0 for log-type families, 0 < y < 1 binomial)."""
    valid = y if name in ("gaussian", "tweedie-0") else y[y > 0]
    if name == "binomial":
        valid = y[(y > 0) & (y < 1)]
    np.testing.assert_allclose(fam.unit_deviance(valid, valid), 0.0, atol=1e-12)


@pytest.mark.parametrize(("name", "fam", "sm_fam", "y", "mu"), FAMILY_CASES, ids=IDS)
def test_unit_deviance_positive_elsewhere(name, fam, sm_fam, y, mu):
    yy, mm = grid(y, mu)
    d = fam.unit_deviance(yy, mm)
    assert np.all(np.isfinite(d))
    assert np.all(d[yy != mm] > 0)


@pytest.mark.parametrize(("name", "fam", "sm_fam", "y", "mu"), FAMILY_CASES, ids=IDS)
def test_unit_deviance_derivative_is_minus_two_residual_over_variance(name, fam, sm_fam, y, mu):
    """d/dmu d(y, mu) = -2 (y - mu) / V(mu): central difference, h = 1e-6 mu, rtol 1e-6
    (plus an absolute round-off allowance of 1e-12 |d| / h)."""
    yy, mm = grid(y, mu)
    h = 1e-6 * np.maximum(np.abs(mm), 1e-2)
    fd = (fam.unit_deviance(yy, mm + h) - fam.unit_deviance(yy, mm - h)) / (2 * h)
    exact = -2 * (yy - mm) / fam.variance(mm)
    atol = 1e-12 * np.maximum(np.abs(fam.unit_deviance(yy, mm)), 1.0) / h
    assert np.all(np.abs(fd - exact) <= 1e-6 * np.abs(exact) + atol)


@pytest.mark.filterwarnings("ignore::RuntimeWarning:statsmodels.genmod.families.family")
@pytest.mark.parametrize(("name", "fam", "sm_fam", "y", "mu"), FAMILY_CASES, ids=IDS)
def test_deviance_and_pearson_match_statsmodels(name, fam, sm_fam, y, mu):
    """Total deviance sum w d and Pearson chi^2 equal statsmodels' with var_weights (1e-10)."""
    yy, mm = grid(y, mu)
    w = np.linspace(0.5, 2.0, yy.size)
    np.testing.assert_allclose(
        fam.deviance(yy, mm, w), sm_fam.deviance(yy, mm, var_weights=w), rtol=1e-10
    )
    np.testing.assert_allclose(
        fam.pearson_chi2(yy, mm, w), np.sum(w * (yy - mm) ** 2 / sm_fam.variance(mm)), rtol=1e-10
    )
    np.testing.assert_allclose(fam.variance(mm), sm_fam.variance(mm), rtol=1e-12)


@pytest.mark.parametrize(
    ("tweedie", "special"),
    [
        (Tweedie(0.0), Gaussian()),
        (Tweedie(1.0), Poisson()),
        (Tweedie(2.0), Gamma()),
        (Tweedie(3.0), InverseGaussian()),
    ],
    ids=["p0-gaussian", "p1-poisson", "p2-gamma", "p3-inverse_gaussian"],
)
def test_tweedie_special_cases(tweedie, special):
    y, mu = grid(POS, MU_POS)
    np.testing.assert_allclose(
        tweedie.unit_deviance(y, mu), special.unit_deviance(y, mu), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(tweedie.variance(mu), special.variance(mu), rtol=1e-14)


@pytest.mark.parametrize("p", [1.0 + 1e-6, 2.0 - 1e-6, 2.0 + 1e-6])
def test_tweedie_deviance_is_continuous_in_power(p):
    """The generic formula approaches the closed forms at p = 1 and p = 2.

    At |p - round(p)| = 1e-6 the true deviances differ by O(1e-6 |log y| d) and the
    generic formula's cancellation costs ~eps / 1e-6 ~ 1e-10: rtol 1e-4 separates both."""
    y, mu = grid(POS, MU_POS)
    near = round(p)
    np.testing.assert_allclose(
        Tweedie(p).unit_deviance(y, mu), Tweedie(near).unit_deviance(y, mu), rtol=1e-4, atol=1e-9
    )


def test_binomial_deviance_at_boundaries():
    """y in {0, 1}: d = -2 log(1 - mu) and -2 log(mu) (the 0 log 0 = 0 convention)."""
    mu = MU_PROP
    fam = Binomial()
    np.testing.assert_allclose(fam.unit_deviance(np.zeros_like(mu), mu), -2 * np.log1p(-mu))
    np.testing.assert_allclose(fam.unit_deviance(np.ones_like(mu), mu), -2 * np.log(mu))


def test_poisson_deviance_at_zero_counts():
    mu = MU_POS
    np.testing.assert_allclose(Poisson().unit_deviance(np.zeros_like(mu), mu), 2 * mu)


# ----------------------------------------------------------- R's AIC terms


def test_poisson_aic_is_minus_two_loglik():
    y = COUNTS
    mu = MU_POS
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 0.5])
    expected = -2 * np.sum(w * stats.poisson.logpmf(y, mu)) + 2 * 4
    np.testing.assert_allclose(Poisson().r_aic(y, mu, w, rank=4), expected, rtol=1e-12)


def test_binomial_aic_is_minus_two_loglik_of_counts():
    trials = np.array([1.0, 4.0, 10.0, 3.0, 7.0, 2.0])
    k = np.array([0.0, 1.0, 5.0, 3.0, 2.0, 1.0])
    mu = MU_PROP
    expected = -2 * np.sum(stats.binom.logpmf(k, trials, mu)) + 2 * 3
    np.testing.assert_allclose(Binomial().r_aic(k / trials, mu, trials, rank=3), expected)


def test_negative_binomial_aic_is_minus_two_loglik():
    a = 0.5
    y, mu = COUNTS, MU_POS
    n = 1 / a
    expected = -2 * np.sum(stats.nbinom.logpmf(y, n, n / (n + mu))) + 2 * 2
    np.testing.assert_allclose(NegativeBinomial(a).r_aic(y, mu, np.ones(6), rank=2), expected)


def test_zero_weights_drop_out_of_aic():
    y, mu = COUNTS, MU_POS
    w = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    keep = w > 0
    np.testing.assert_allclose(
        Poisson().r_aic(y, mu, w, 1), Poisson().r_aic(y[keep], mu[keep], w[keep], 1)
    )


@pytest.mark.parametrize("cls", [Gaussian, Gamma, InverseGaussian, Poisson, Binomial])
def test_n_params_extra_counts_free_dispersion(cls):
    assert cls().n_params_extra() == int(cls.has_dispersion)


# ------------------------------------------------------------------ checks


@pytest.mark.parametrize(
    ("fam", "y", "match"),
    [
        (Poisson(), [0.0, -1.0], "non-negative"),
        (NegativeBinomial(), [1.0, -0.5], "non-negative"),
        (Binomial(), [0.5, 1.5], r"\[0, 1\]"),
        (Binomial(), [-0.1, 0.5], r"\[0, 1\]"),
        (Gamma(), [1.0, 0.0], "strictly positive"),
        (InverseGaussian(), [1.0, -2.0], "strictly positive"),
        (Tweedie(1.5), [1.0, -2.0], ">= 0"),
        (Tweedie(2.5), [1.0, 0.0], "> 0"),
    ],
)
def test_check_y_rejects_values_outside_support(fam, y, match):
    with pytest.raises(ValueError, match=match):
        fam.check_y(np.asarray(y))


@pytest.mark.parametrize(
    ("fam", "y"),
    [
        (Poisson(), [0.0, 3.0]),
        (Binomial(), [0.0, 1.0, 0.5]),
        (Gamma(), [0.1, 3.0]),
        (Tweedie(1.5), [0.0, 3.0]),
        (Gaussian(), [-5.0, 3.0]),
    ],
)
def test_check_y_accepts_support(fam, y):
    fam.check_y(np.asarray(y))


@pytest.mark.parametrize(
    ("name", "cls", "canonical"),
    [
        ("gaussian", Gaussian, "identity"),
        ("normal", Gaussian, "identity"),
        ("binomial", Binomial, "logit"),
        ("poisson", Poisson, "log"),
        ("gamma", Gamma, "inverse"),
        ("inverse_gaussian", InverseGaussian, "inverse_squared"),
        ("Inverse-Gaussian", InverseGaussian, "inverse_squared"),
        ("tweedie", Tweedie, "log"),
        ("negative_binomial", NegativeBinomial, "log"),
    ],
)
def test_get_family_by_name_and_default_link(name, cls, canonical):
    fam = get_family(name)
    assert type(fam) is cls and fam.link.name == canonical


def test_get_family_with_instance_and_new_link():
    tw = Tweedie(power=1.3)
    assert get_family(tw) is tw
    tw_id = get_family(tw, link="identity")
    assert isinstance(tw_id, Tweedie) and tw_id.power == 1.3 and tw_id.link.name == "identity"
    nb = get_family(NegativeBinomial(alpha=0.7), link="sqrt")
    assert nb.alpha == 0.7 and nb.link.name == "sqrt"
    assert get_family("tweedie", power=2.5).power == 2.5


@pytest.mark.parametrize(
    ("family", "link"),
    [
        ("poisson", "logit"),
        ("binomial", "identity"),
        ("binomial", "inverse"),
        ("gamma", "logit"),
        ("inverse_gaussian", "probit"),
        ("negative_binomial", "inverse"),
    ],
)
def test_invalid_link_for_family_raises(family, link):
    with pytest.raises(ValueError, match=f"link '{link}' is not valid for the"):
        get_family(family, link)


def test_unknown_family_raises():
    with pytest.raises(ValueError, match="unknown family 'poison'"):
        get_family("poison")
    with pytest.raises(TypeError, match="family must be a string"):
        get_family(3)


@pytest.mark.parametrize("power", [0.5, -1.0, np.nan, np.inf])
def test_tweedie_rejects_invalid_power(power):
    with pytest.raises(ValueError, match="Tweedie power"):
        Tweedie(power)


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.nan, np.inf])
def test_negative_binomial_rejects_invalid_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be > 0"):
        NegativeBinomial(alpha)


def test_families_compare_by_value():
    assert Poisson() == Poisson()
    assert Tweedie(1.5) == Tweedie(1.5) and Tweedie(1.5) != Tweedie(1.6)
    assert Gamma() != Gamma(link="log")
    assert hash(Tweedie(1.5)) == hash(Tweedie(1.5))


@pytest.mark.parametrize(("name", "fam", "sm_fam", "y", "mu"), FAMILY_CASES, ids=IDS)
def test_torch_float64_matches_numpy(name, fam, sm_fam, y, mu):
    torch = pytest.importorskip("torch")
    yy, mm = grid(y, mu)
    t = fam.unit_deviance(torch.as_tensor(yy), torch.as_tensor(mm))
    # atol 1e-14: the negative binomial deviance is a difference of terms of order
    # 10, so its last digits depend on each library's vectorised log.
    np.testing.assert_allclose(t.numpy(), fam.unit_deviance(yy, mm), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(
        fam.variance(torch.as_tensor(mm)).numpy(), fam.variance(mm), rtol=1e-14
    )


def test_all_families_are_listed():
    assert set(families.__all__) >= {
        "Binomial",
        "Gamma",
        "Gaussian",
        "InverseGaussian",
        "NegativeBinomial",
        "Poisson",
        "Tweedie",
    }


# --- the half deviance evaluated from eta (natural links) ---------------------


def _half_deviance(fam, y, eta, w):
    return 0.5 * float(np.sum(w * fam.unit_deviance(y, fam.link.inverse(eta))))


@pytest.mark.parametrize(
    ("fam", "y"),
    [
        (Binomial(), np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])),  # 0/1: one softplus
        (Binomial(), np.array([0.0, 0.25, 1.0, 0.5, 0.9, 0.1])),  # proportions
        (Poisson(), np.array([0.0, 1.0, 3.0, 0.0, 12.0, 2.0])),
    ],
    ids=["binomial-binary", "binomial-proportions", "poisson"],
)
def test_eta_loss_equals_the_unit_deviance_form(fam, y):
    rng = np.random.default_rng(0)
    eta = rng.normal(0.0, 2.0, y.shape)
    w = rng.uniform(0.5, 2.0, y.shape)
    state = fam.eta_loss_state(y, w)
    assert state is not None
    value, ok, _ = fam.eta_loss(y, eta, w, state)
    assert bool(ok)
    np.testing.assert_allclose(float(value), _half_deviance(fam, y, eta, w), rtol=1e-13)


def test_binomial_eta_loss_has_no_cancellation_at_large_eta():
    """y = 1 at eta = 30: d/2 = log1p(exp(-30)) ~ 9.4e-14, kept to full relative precision."""
    fam = Binomial()
    y, w, eta = np.array([1.0]), np.array([1.0]), np.array([30.0])
    value, _, _ = fam.eta_loss(y, eta, w, fam.eta_loss_state(y, w))
    np.testing.assert_allclose(float(value), np.log1p(np.exp(-30.0)), rtol=1e-14)


@pytest.mark.parametrize(
    ("fam", "y", "eta"),
    [(Binomial(), 0.0, 40.0), (Binomial(), 1.0, 40.0), (Binomial(), 1.0, -800.0)]
    + [(Poisson(), 2.0, 710.0), (Poisson(), 0.0, 30.0), (Poisson(), 2.0, -746.0)],
)
def test_eta_loss_agrees_where_the_link_clips(fam, y, eta):
    """Beyond the range where the link clips mu (R's convention) both forms still agree."""
    ys, w, etas = np.array([y, y]), np.ones(2), np.array([0.5, eta])
    value, ok, _ = fam.eta_loss(ys, etas, w, fam.eta_loss_state(ys, w))
    assert bool(ok)
    np.testing.assert_allclose(float(value), _half_deviance(fam, ys, etas, w), rtol=1e-12)


@pytest.mark.parametrize("fam", [Binomial(), Poisson()])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_eta_loss_flags_non_finite_eta(fam, bad):
    ys, w = np.array([1.0, 0.0]), np.ones(2)
    _, ok, _ = fam.eta_loss(ys, np.array([0.5, bad]), w, fam.eta_loss_state(ys, w))
    assert not bool(ok)


def test_eta_loss_shortcut_only_for_natural_links_and_moderate_counts():
    y, w = np.array([0.0, 1.0, 1.0]), np.ones(3)
    assert Binomial(link="probit").eta_loss_state(y, w) is None
    assert Poisson(link="sqrt").eta_loss_state(y, w) is None
    assert Gamma().eta_loss_state(y + 1.0, w) is None
    # Large counts: y |log y| round-off would exceed the ratio form's; use that form.
    assert Poisson().eta_loss_state(np.array([5e3, 4e3, 6e3]), w) is None


def test_binomial_aic_for_single_binary_trials_is_the_deviance():
    """With one trial per row, -2 sum log dbinom(y, 1, mu) is the deviance, the shortcut taken."""
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    mu = np.array([0.2, 0.7, 0.9, 0.4, 0.5])
    expected = -2.0 * np.sum(stats.binom.logpmf(y, 1, mu)) + 2.0 * 3
    np.testing.assert_allclose(Binomial().r_aic(y, mu, np.ones(5), rank=3), expected, rtol=1e-13)
    dev = float(np.sum(Binomial().unit_deviance(y, mu)))
    np.testing.assert_allclose(
        Binomial().r_aic(y, mu, np.ones(5), rank=3, deviance=dev), expected, rtol=1e-13
    )


def test_poisson_aic_from_the_deviance_equals_the_loglik_sum():
    """The AIC term is the deviance plus a term of y alone (any link): the same as
    -2 sum w log dpois(y, mu) for large counts, zeros and fractional weights."""
    rng = np.random.default_rng(1)
    mu = rng.gamma(2.0, 50.0, size=500)
    y = rng.poisson(mu).astype(np.float64)
    y[:20] = 0.0
    w = rng.uniform(0.1, 3.0, size=500)
    expected = -2 * np.sum(w * stats.poisson.logpmf(y, mu)) + 2 * 7
    np.testing.assert_allclose(Poisson().r_aic(y, mu, w, rank=7), expected, rtol=1e-12)


def test_poisson_aic_needs_no_means_given_the_deviance():
    """GLM.fit passes mu=None to Poisson's r_aic (aic_needs_mu is False): the same AIC."""
    y, mu = COUNTS, MU_POS
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 1.0])
    dev = float(np.sum(w * Poisson().unit_deviance(y, mu)))
    assert not Poisson.aic_needs_mu and Binomial.aic_needs_mu
    np.testing.assert_allclose(
        Poisson().r_aic(y, None, w, 3, deviance=dev), Poisson().r_aic(y, mu, w, 3), rtol=1e-13
    )


@pytest.mark.parametrize(
    "y",
    [
        np.random.default_rng(0).poisson(3.0, size=10_000).astype(np.float64),  # the count table
        np.random.default_rng(0).poisson(3.0, size=10_000) + 0.5,  # not integers: per row
        np.array([0.0, 2.0, 7e4]),  # counts past the table
    ],
    ids=["counts", "non-integer", "large"],
)
@pytest.mark.parametrize("weights", ["varying", "constant"])
def test_poisson_aic_and_loss_constant_equal_their_per_row_sums(y, weights):
    """Poisson's AIC term (from the deviance and a sum over y) and its eta-loss constant,
    taken over the distinct counts for integer y, equal the per-row sums
    -2 sum w log dpois(y, mu) (scipy.stats) and sum w (y log y - y) to 1e-12, with
    varying weights and with a stride-0 constant weight vector as fits pass."""
    from glmlib._backend import constant_vector

    n = y.shape[0]
    rng = np.random.default_rng(1)
    mu = rng.uniform(0.5, 6.0, n)
    w = rng.uniform(0.5, 2.0, n) if weights == "varying" else constant_vector(n, 0.3)
    wf = np.array(w)  # the same weights as n stored floats
    fam = Poisson()
    if np.all(y == np.round(y)):  # scipy's dpois is a density of integers only
        expected = -2.0 * np.sum(wf * stats.poisson.logpmf(y, mu)) + 4.0
        np.testing.assert_allclose(fam.r_aic(y, mu, w, rank=2), expected, rtol=1e-12)
    dev = float(np.sum(wf * fam.unit_deviance(y, mu)))
    want = dev - 2.0 * np.sum(wf * (families._np_xlogy(y, y) - y - gammaln(y + 1))) + 4.0
    np.testing.assert_allclose(fam.r_aic(y, mu, w, rank=2, deviance=dev), want, rtol=1e-12)
    state = fam.eta_loss_state(y, wf)
    if state is None:  # large counts: no shortcut either way
        assert fam.eta_loss_constant(y, w) is None
    else:
        np.testing.assert_allclose(fam.eta_loss_constant(y, w), state["constant"], rtol=1e-12)


def test_weighted_counts_only_for_integer_counts_in_the_table():
    from glmlib.families import _COUNT_TABLE_MAX, _weighted_counts

    y = np.array([0.0, 3.0, 3.0, 1.0])
    w = np.array([1.0, 0.5, 0.25, 2.0])
    np.testing.assert_array_equal(_weighted_counts(y, w), [1.0, 2.0, 0.0, 0.75])
    for bad in (y + 0.5, -y, np.array([np.nan, 1.0]), np.array([_COUNT_TABLE_MAX + 1.0])):
        assert _weighted_counts(bad, np.ones(bad.shape[0])) is None
    assert _weighted_counts(y.astype(np.float32), w) is None
