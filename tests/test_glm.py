"""Tests for :class:`glmlib.GLM` (``glmlib/glm.py``).

Independent references:

* statsmodels' ``GLM`` (fitted to tol=1e-13 on the parameters, convergence
  checked) for every family/link pair both libraries support: coefficients,
  standard errors, deviance, null deviance, Pearson scale, p-values and
  confidence intervals agree to 1e-6 relative.
* R's AIC for the Gaussian, Gamma and inverse Gaussian families, which
  statsmodels does not report, is recomputed here from R's ``family.R``
  formulas with ``scipy.stats`` densities.
* glum's ``GeneralizedLinearRegressor`` for elastic-net fits: coefficients
  within 1e-5 and glmlib's objective (computed here) no larger than glum's.
* scikit-learn's estimator checks and invariances (duplicated rows vs
  integer weights, duplicated columns under ridge).
"""

from __future__ import annotations

import math
import warnings
from unittest import SkipTest

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import estimator_checks_generator

from glmlib import GLM
from glmlib.families import NegativeBinomial, Tweedie

# ----------------------------------------------------------------------------- data

SM_LINKS = {
    "identity": sm.families.links.Identity,
    "log": sm.families.links.Log,
    "inverse": sm.families.links.InversePower,
    "inverse_squared": sm.families.links.InverseSquared,
    "sqrt": sm.families.links.Sqrt,
    "logit": sm.families.links.Logit,
    "probit": sm.families.links.Probit,
    "cloglog": sm.families.links.CLogLog,
}

#: Range of the true means: every link maps it to a valid linear predictor.
MU_RANGE = {
    "gaussian": (1.0, 5.0),
    "binomial": (0.15, 0.85),
    "poisson": (2.0, 10.0),
    "gamma": (1.0, 5.0),
    "inverse_gaussian": (1.0, 3.0),
    "tweedie": (1.0, 5.0),
    "negative_binomial": (2.0, 10.0),
}

TWEEDIE_POWER = 1.5
NB_ALPHA = 0.5

#: Every family/link pair supported by both glmlib and statsmodels.
FAMILY_LINKS = [
    ("gaussian", "identity"),
    ("gaussian", "log"),
    ("gaussian", "inverse"),
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("binomial", "log"),
    ("poisson", "log"),
    ("poisson", "identity"),
    ("poisson", "sqrt"),
    ("gamma", "inverse"),
    ("gamma", "identity"),
    ("gamma", "log"),
    ("inverse_gaussian", "inverse_squared"),
    ("inverse_gaussian", "inverse"),
    ("inverse_gaussian", "identity"),
    ("inverse_gaussian", "log"),
    ("tweedie", "log"),
    ("negative_binomial", "log"),
]

#: plain; prior weights; an offset; no intercept.
MODES = ["plain", "weights", "offset", "no_intercept"]

RTOL = 1e-6  # agreement with statsmodels / R formulas, relative


def make_data(family, link, mode="plain", n=300, seed=0):
    """A correctly specified GLM sample with means inside MU_RANGE[family].

    X ~ U(0, 1)^3; the true linear predictor runs between g(lo) and g(hi), so
    every link gives valid means, with the offset (when asked for) included.
    Returns X, y, w, offset; for the binomial, y are proportions and w the
    numbers of trials (1 unless mode == "weights").
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    lo, hi = (0.05, 0.5) if (family, link) == ("binomial", "log") else MU_RANGE[family]
    sm_link = SM_LINKS[link]()
    g_lo, g_hi = sm_link(np.array([lo, hi]))
    s = X @ np.array([0.5, 0.3, 0.2])
    off = rng.uniform(-0.1, 0.1, n) * (g_hi - g_lo) if mode == "offset" else np.zeros(n)
    mu = sm_link.inverse(g_lo + (g_hi - g_lo) * (0.1 + 0.8 * s) + off)
    w = rng.uniform(0.5, 3.0, n) if mode == "weights" else np.ones(n)
    if family == "gaussian":
        y = mu + rng.normal(scale=0.5, size=n)
    elif family == "binomial":
        trials = rng.integers(1, 11, n) if mode == "weights" else np.ones(n, dtype=int)
        y = rng.binomial(trials, mu) / trials
        w = trials.astype(float)
    elif family == "poisson":
        y = rng.poisson(mu).astype(float)
    elif family == "gamma":
        y = rng.gamma(5.0, mu / 5.0)
    elif family == "inverse_gaussian":
        y = rng.wald(mu, 10.0)
    elif family == "tweedie":
        p = TWEEDIE_POWER  # compound Poisson-gamma with dispersion 1
        counts = rng.poisson(mu ** (2 - p) / (2 - p))
        shape, scale = (2 - p) / (p - 1), (p - 1) * mu ** (p - 1)
        y = np.array(
            [rng.gamma(shape, sc, size=k).sum() for k, sc in zip(counts, scale, strict=True)]
        )
    else:
        y = rng.negative_binomial(1 / NB_ALPHA, 1 / (1 + NB_ALPHA * mu)).astype(float)
    return X, y, w, off


def glm_family(family, link):
    if family == "tweedie":
        return Tweedie(power=TWEEDIE_POWER, link=link)
    if family == "negative_binomial":
        return NegativeBinomial(alpha=NB_ALPHA, link=link)
    return family


def sm_family(family, link):
    lk = SM_LINKS[link]()
    f = sm.families
    if family == "tweedie":
        return f.Tweedie(lk, var_power=TWEEDIE_POWER)
    if family == "negative_binomial":
        return f.NegativeBinomial(lk, alpha=NB_ALPHA)
    return {
        "gaussian": f.Gaussian,
        "binomial": f.Binomial,
        "poisson": f.Poisson,
        "gamma": f.Gamma,
        "inverse_gaussian": f.InverseGaussian,
    }[family](lk)


def fit_statsmodels(family, link, X, y, w, off, fit_intercept=True, use_t=None):
    """statsmodels' fit; binomial as cbind(successes, failures), else var_weights."""
    exog = sm.add_constant(X, has_constant="add") if fit_intercept else X
    if family == "binomial":
        endog, kw = np.column_stack([y * w, w - y * w]), {}
    else:
        endog, kw = y, {"var_weights": w}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DomainWarning for non-canonical links
        model = sm.GLM(endog, exog, family=sm_family(family, link), offset=off, **kw)
        res = model.fit(tol=1e-13, tol_criterion="params", maxiter=1000, use_t=use_t)
    assert res.converged, "statsmodels did not converge: the reference is unusable"
    return res


def fit_glmlib(family, link, X, y, w, off, fit_intercept=True, **kw):
    fam = glm_family(family, link)
    model = GLM(family=fam, link=None if not isinstance(fam, str) else link, **kw)
    model.set_params(fit_intercept=fit_intercept)
    return model.fit(X, y, sample_weight=w, offset=off)


def params_of(model):
    if model.fit_intercept:
        return np.concatenate([[model.intercept_], model.coef_])
    return model.coef_


FIT_CASES = [
    pytest.param(fam, link, mode, id=f"{fam}-{link}-{mode}")
    for fam, link in FAMILY_LINKS
    for mode in MODES
]


@pytest.fixture(scope="module")
def fits():
    """Cache of (glmlib model, statsmodels result, data) per case."""
    cache = {}

    def get(family, link, mode, use_t=None):
        key = (family, link, mode, use_t)
        if key not in cache:
            X, y, w, off = make_data(family, link, mode)
            fi = mode != "no_intercept"
            ref = fit_statsmodels(family, link, X, y, w, off, fi, use_t=use_t)
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                model = fit_glmlib(family, link, X, y, w, off, fi)
            cache[key] = (model, ref, (X, y, w, off))
        return cache[key]

    return get


# ------------------------------------------------------------ statsmodels agreement


@pytest.mark.parametrize(("family", "link", "mode"), FIT_CASES)
def test_coef_se_deviance_scale_match_statsmodels(fits, family, link, mode):
    """Unpenalised fits equal statsmodels' to 1e-6 relative (coef, SE, deviance, scale)."""
    model, ref, _ = fits(family, link, mode)
    assert model.converged_
    np.testing.assert_allclose(params_of(model), ref.params, rtol=RTOL, atol=1e-10)
    se = model.summary()["std_err"].to_numpy()
    np.testing.assert_allclose(se, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=RTOL)
    np.testing.assert_allclose(model.scale_, ref.scale, rtol=RTOL)
    assert model.rank_ == len(ref.params)
    np.testing.assert_allclose(model.df_resid_, ref.df_resid, rtol=RTOL)
    X, _, _, off = fits(family, link, mode)[2]
    np.testing.assert_allclose(model.predict(X, offset=off), ref.fittedvalues, rtol=RTOL)


@pytest.mark.parametrize(("family", "link", "mode"), FIT_CASES)
def test_null_deviance_matches_r_definition(fits, family, link, mode):
    """R's null deviance: the intercept-only model with the same weights and offset
    (fitted by statsmodels to tol 1e-13), or mu = g^{-1}(offset) without an intercept."""
    smf = sm_family(family, link)
    if mode == "no_intercept":
        X, y, w, off = make_data(family, link, mode)
        mu0 = smf.link.inverse(off)
        lo, hi = (0.0, 1.0) if family == "binomial" else (0.0, np.inf)
        if family != "gaussian" and not np.all((mu0 > lo) & (mu0 < hi)):
            pytest.skip("g^{-1}(offset) is outside the family's mean range: R reports Inf")
        if not np.all(np.isfinite(mu0)):
            pytest.skip("g^{-1}(offset) is infinite: R reports Inf")
        expected = float(np.sum(w * smf.resid_dev(y, mu0) ** 2))
    else:
        model, ref, (X, y, w, off) = fits(family, link, mode)
        null = fit_statsmodels(family, link, X[:, :0], y, w, off, fit_intercept=True)
        expected = null.deviance
    model = fits(family, link, mode)[0]
    np.testing.assert_allclose(model.null_deviance_, expected, rtol=RTOL)


AIC_FAMILIES_SM = ["binomial", "poisson", "negative_binomial"]


@pytest.mark.parametrize(
    ("family", "link", "mode"), [c for c in FIT_CASES if c.values[0] in AIC_FAMILIES_SM]
)
def test_aic_llf_match_statsmodels_for_fixed_dispersion(fits, family, link, mode):
    """R's AIC, logLik and BIC equal statsmodels' for binomial, Poisson and negative binomial."""
    model, ref, (X, y, w, off) = fits(family, link, mode)
    np.testing.assert_allclose(model.aic_, ref.aic, rtol=RTOL)
    np.testing.assert_allclose(model.llf_, ref.llf, rtol=RTOL)
    df = model.rank_
    np.testing.assert_allclose(model.bic_, -2 * ref.llf + math.log(len(y)) * df, rtol=RTOL)


def r_aic(family, y, mu, w, rank):
    """R's glm() AIC, from family.R's aic functions, with scipy.stats densities.

    gaussian: -2 sum log N(y; mu, disp / w) + 2 with disp = dev / n
              (= n (log(2 pi dev / n) + 1) + 2 - sum log w)
    Gamma:    -2 sum w log dgamma(y, shape = 1/disp, scale = mu disp) + 2, disp = dev / sum w
    inverse.gaussian: -2 sum w log dinvgauss(y; mu, lambda = 1/disp) + 2, disp = dev / sum w
              (= sum w (log(2 pi dev / sum w) + 1) + 3 sum w log y + 2)
    then + 2 rank.
    """
    if family == "gaussian":
        disp = np.sum(w * (y - mu) ** 2) / len(y)
        ll = np.sum(stats.norm.logpdf(y, loc=mu, scale=np.sqrt(disp / w)))
        return -2 * ll + 2 + 2 * rank
    if family == "gamma":
        dev = np.sum(w * 2 * (-np.log(y / mu) + (y - mu) / mu))
        disp = dev / np.sum(w)
        ll = np.sum(w * stats.gamma.logpdf(y, a=1 / disp, scale=mu * disp))
        return -2 * ll + 2 + 2 * rank
    dev = np.sum(w * (y - mu) ** 2 / (mu**2 * y))
    lam = np.sum(w) / dev
    ll = np.sum(w * stats.invgauss.logpdf(y, mu / lam, scale=lam))
    return -2 * ll + 2 + 2 * rank


AIC_FAMILIES_R = ["gaussian", "gamma", "inverse_gaussian"]


@pytest.mark.parametrize(
    ("family", "link", "mode"), [c for c in FIT_CASES if c.values[0] in AIC_FAMILIES_R]
)
def test_aic_llf_bic_match_r_formulas_for_free_dispersion(fits, family, link, mode):
    """R counts the dispersion as a parameter: df = rank + 1, logLik = df - AIC/2."""
    model, ref, (X, y, w, off) = fits(family, link, mode)
    mu = ref.fittedvalues  # statsmodels' means: the reference is independent of glmlib
    expected = r_aic(family, y, mu, w, len(ref.params))
    np.testing.assert_allclose(model.aic_, expected, rtol=RTOL)
    df = model.rank_ + 1
    np.testing.assert_allclose(model.llf_, df - expected / 2, rtol=RTOL)
    np.testing.assert_allclose(
        model.bic_, -2 * (df - expected / 2) + math.log(len(y)) * df, rtol=RTOL
    )


def test_r_aic_formula_helper_matches_closed_forms():
    """The scipy.stats route above equals R's closed forms (guards the reference itself)."""
    rng = np.random.default_rng(3)
    y = rng.uniform(0.5, 3, 50)
    mu = y * rng.uniform(0.8, 1.2, 50)
    w = rng.uniform(0.5, 2, 50)
    n = len(y)
    dev = np.sum(w * (y - mu) ** 2)
    closed = n * (np.log(2 * np.pi * dev / n) + 1) + 2 - np.sum(np.log(w))
    np.testing.assert_allclose(r_aic("gaussian", y, mu, w, 0), closed, rtol=1e-12)
    dev = np.sum(w * (y - mu) ** 2 / (mu**2 * y))
    closed = np.sum(w) * (np.log(2 * np.pi * dev / np.sum(w)) + 1) + 3 * np.sum(w * np.log(y)) + 2
    np.testing.assert_allclose(r_aic("inverse_gaussian", y, mu, w, 0), closed, rtol=1e-12)


def test_tweedie_has_no_likelihood():
    """Tweedie's density has no closed form: llf_ and aic_ are NaN, as in R."""
    X, y, w, off = make_data("tweedie", "log")
    model = fit_glmlib("tweedie", "log", X, y, w, off)
    assert math.isnan(model.aic_) and math.isnan(model.llf_)


DISPERSION = {"gaussian", "gamma", "inverse_gaussian", "tweedie"}


@pytest.mark.parametrize(("family", "link", "mode"), FIT_CASES)
def test_summary_matches_statsmodels(fits, family, link, mode):
    """z, p-values and 95% intervals equal statsmodels' (normal for fixed-dispersion
    families, Student t with the residual df, use_t=True, when the dispersion is estimated)."""
    use_t = family in DISPERSION
    model, ref, _ = fits(family, link, mode, use_t=use_t)
    table = model.summary()
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_low", "ci_high"]
    np.testing.assert_allclose(table["z"], ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(table["p_value"], ref.pvalues, rtol=1e-5, atol=1e-300)
    ci = np.asarray(ref.conf_int(0.05))
    np.testing.assert_allclose(table[["ci_low", "ci_high"]].to_numpy(), ci, rtol=RTOL, atol=1e-9)


def test_summary_index_is_intercept_then_dataframe_columns():
    X, y, w, off = make_data("poisson", "log")
    df = pd.DataFrame(X, columns=["age", "dose", "weight"])
    model = GLM(family="poisson").fit(df, y)
    table = model.summary()
    assert list(table.index) == ["intercept", "age", "dose", "weight"]
    assert list(model.feature_names_in_) == ["age", "dose", "weight"]
    no_int = GLM(family="poisson", fit_intercept=False).fit(df, y).summary()
    assert list(no_int.index) == ["age", "dose", "weight"]


def test_summary_of_penalised_fit_warns():
    X, y, w, off = make_data("poisson", "log")
    model = GLM(family="poisson", alpha=0.01).fit(X, y)
    with pytest.warns(UserWarning, match="penalised"):
        model.summary()


# ------------------------------------------------------------------ glum agreement

GLUM_CASES = [
    ("gaussian", "normal", "identity"),
    ("binomial", "binomial", "logit"),
    ("poisson", "poisson", "log"),
    ("gamma", "gamma", "log"),
]


def glum_data(family, seed=1, n=400, p=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] *= 3.0
    beta = np.array([0.5, -0.3, 0.2, 0.0, 0.0, 0.1, 0.0, -0.4])[:p]
    eta = 0.2 + 0.5 * X @ beta
    if family == "gaussian":
        y = eta + rng.normal(size=n)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(3.0, np.exp(eta) / 3.0)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def objective(family, link, X, y, w, b0, beta, alpha, l1_ratio):
    """(1/sum w) sum w d / 2 + alpha (l1_ratio |beta|_1 + (1 - l1_ratio)/2 |beta|_2^2),
    with unit deviances written out here (not glmlib's)."""
    eta = b0 + X @ beta
    if family == "gaussian":
        mu = eta
        d = (y - mu) ** 2
    elif family == "binomial":
        mu = 1 / (1 + np.exp(-eta))
        d = 2 * (xlogy(y, y) - xlogy(y, mu) + xlogy(1 - y, 1 - y) - xlogy(1 - y, 1 - mu))
    elif family == "poisson":
        mu = np.exp(eta)
        d = 2 * (xlogy(y, y) - xlogy(y, mu) - (y - mu))
    else:
        mu = np.exp(eta)
        d = 2 * (-np.log(y / mu) + (y - mu) / mu)
    smooth = 0.5 * np.sum(w * d) / np.sum(w)
    return smooth + alpha * (l1_ratio * np.abs(beta).sum() + 0.5 * (1 - l1_ratio) * np.sum(beta**2))


@pytest.mark.parametrize("alpha", [0.01, 0.1])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize(("family", "glum_family", "link"), GLUM_CASES)
def test_elastic_net_matches_glum(family, glum_family, link, l1_ratio, alpha):
    """Same penalised optimum as glum (gradient_tol=1e-12): coef within 1e-5 and an
    objective no larger than glum's + 1e-10. glum minimises the same
    (1/sum w)-scaled objective (glum/_glm.py, GeneralizedLinearRegressor docstring)."""
    from glum import GeneralizedLinearRegressor

    X, y, w = glum_data(family)
    ref = GeneralizedLinearRegressor(
        family=glum_family,
        link=link,
        alpha=alpha,
        l1_ratio=l1_ratio,
        gradient_tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    model = GLM(family=family, link=link, alpha=alpha, l1_ratio=l1_ratio).fit(X, y, sample_weight=w)
    assert model.converged_
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-5)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)
    f_glmlib = objective(family, link, X, y, w, model.intercept_, model.coef_, alpha, l1_ratio)
    f_glum = objective(family, link, X, y, w, ref.intercept_, ref.coef_, alpha, l1_ratio)
    assert f_glmlib <= f_glum + 1e-10
    if l1_ratio > 0:  # the same variables are selected
        np.testing.assert_array_equal(model.coef_ == 0, ref.coef_ == 0)


def test_penalty_factor_matches_glum_p1_p2():
    """penalty_factor f_j scales both penalty parts, as glum's P1 = P2 = f; f_j = 0 frees beta_j."""
    from glum import GeneralizedLinearRegressor

    X, y, w = glum_data("poisson")
    pf = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 1.0, 3.0, 0.0])
    ref = GeneralizedLinearRegressor(
        family="poisson", alpha=0.05, l1_ratio=0.5, P1=pf, P2=pf, gradient_tol=1e-12
    ).fit(X, y, sample_weight=w)
    model = GLM(family="poisson", alpha=0.05, l1_ratio=0.5, penalty_factor=pf).fit(
        X, y, sample_weight=w
    )
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-5)


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson", "gamma"])
def test_lasso_alpha_max_gives_zero_coefficients(family):
    """KKT: all coefficients are zero iff alpha >= max_j |sum_i v_i x_ij (y_i - mu) g'(mu)^-1 / V(mu)|
    with v = w / sum w and mu the null model's mean (the weighted mean of y for these links)."""
    X, y, w = glum_data(family)
    link = "log" if family == "gamma" else None
    v = w / w.sum()
    mu = np.sum(v * y)
    if family in ("gaussian", "binomial", "poisson"):  # canonical link: dmu/deta = V(mu)
        score = v * (y - mu)
    else:  # gamma, log link: dmu/deta / V = 1 / mu
        score = v * (y - mu) / mu
    alpha_max = np.max(np.abs(X.T @ score))
    at = GLM(family=family, link=link, alpha=alpha_max * (1 + 1e-6), l1_ratio=1.0)
    at.fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(at.coef_, 0.0)
    below = GLM(family=family, link=link, alpha=alpha_max * 0.95, l1_ratio=1.0)
    below.fit(X, y, sample_weight=w)
    assert np.count_nonzero(below.coef_) >= 1


# --------------------------------------------------------------- scikit-learn API


# Every family runs scikit-learn's checks. Families whose y must be >= 0 (or > 0)
# declare it (target_tags.positive_only, as PoissonRegressor does), so the
# checks give them y >= 1. One kind of check fails, asserted to fail for its
# stated reason only:
# - binomial: the checks' y (continuous, or >= 1 under the tag) is outside the
#   family's [0, 1]; the checks that pass on its own data still pass, and the
#   binomial model as a classifier passes every check (tests/test_classifier.py).
# (The inverse Gaussian's canonical link 1/mu^2 passes the sample-weight
# equivalence checks since zero-weight rows no longer constrain eta > 0; see
# test_zero_weight_rows_do_not_constrain_the_fit.)
CHECKED_FAMILIES = [
    GLM(family=family)
    for family in (
        "gaussian",
        "binomial",
        "poisson",
        "gamma",
        "inverse_gaussian",
        "tweedie",
        "negative_binomial",
    )
] + [GLM(family="inverse_gaussian", link="log"), GLM(family=Tweedie(power=0, link="identity"))]
BINOMIAL_Y = "binomial y must be proportions in [0, 1]"


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


def _messages(exc: BaseException | None) -> str:
    """The messages of an exception and of the exceptions it was raised from."""
    out = []
    while exc is not None:
        out.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " | ".join(out)


def _family_checks():
    for estimator in CHECKED_FAMILIES:
        for est, check in estimator_checks_generator(estimator, mark=None):
            fam = est.family if isinstance(est.family, str) else repr(est.family)
            yield pytest.param(est, check, id=f"{fam}-{est.link}-{_check_name(check)}")


@pytest.mark.parametrize(("estimator", "check"), list(_family_checks()))
def test_sklearn_estimator_checks(estimator, check):
    name = _check_name(check)
    if estimator.family == "binomial":
        try:
            check(estimator)
        except SkipTest:  # a check scikit-learn skips here (array API without SCIPY_ARRAY_API)
            raise
        except Exception as exc:  # the message is what is tested
            assert BINOMIAL_Y in _messages(exc), f"{name} failed for another reason"
        return
    check(estimator)


@pytest.mark.parametrize(
    ("family", "link"), [("inverse_gaussian", None), ("gamma", "inverse"), ("poisson", "identity")]
)
def test_zero_weight_rows_do_not_constrain_the_fit(family, link):
    """Rows with sample_weight 0 are as if absent, even where the fit's mean is inadmissible.

    The extra rows lie where the fit on the other rows has eta <= 0 (1/mu^2 and
    1/mu need eta > 0 here, the identity link mu > 0), so had they constrained
    the valid region the fits would differ; they must agree to 1e-10.
    """
    rng = np.random.default_rng(0)
    n, p = 60, 3
    X = rng.uniform(0.0, 1.0, (n, p))
    mu = {
        "inverse_gaussian": 1 / np.sqrt(0.5 + X @ [0.3, 0.2, 0.1]),
        "gamma": 1 / (0.5 + X @ [0.3, 0.2, 0.1]),
    }
    mean = mu.get(family, 2.0 + X @ [1.0, 0.5, 0.2])
    y = rng.gamma(5.0, mean / 5.0) if family != "poisson" else rng.poisson(mean).astype(float)
    subset = GLM(family=family, link=link, tol=1e-12).fit(X, y)
    X_far = -10.0 * np.sign(subset.coef_) * np.ones((4, p))  # eta far below zero there
    eta_far = subset.intercept_ + X_far @ subset.coef_
    assert np.all(eta_far < 0), "the extra rows must lie outside the valid region"
    X_all, y_all = np.vstack([X, X_far]), np.r_[y, np.full(4, y.mean())]
    w = np.r_[np.ones(n), np.zeros(4)]
    weighted = GLM(family=family, link=link, tol=1e-12).fit(X_all, y_all, sample_weight=w)
    np.testing.assert_allclose(weighted.coef_, subset.coef_, rtol=1e-10, atol=1e-12)
    assert weighted.intercept_ == pytest.approx(subset.intercept_, rel=1e-10)
    assert weighted.deviance_ == pytest.approx(subset.deviance_, rel=1e-10)
    assert weighted.n_iter_ == subset.n_iter_


@pytest.mark.parametrize(
    ("family", "tag"),
    [
        ("gaussian", False),
        ("binomial", True),
        ("poisson", True),
        ("gamma", True),
        ("inverse_gaussian", True),
        ("tweedie", True),
        ("negative_binomial", True),
        (Tweedie(power=0), False),
        (Tweedie(power=3), True),
        ("no such family", False),
    ],
)
def test_positive_only_target_tag(family, tag):
    """Families whose y must be >= 0 say so; an invalid family leaves the error to fit."""
    from sklearn.utils import get_tags

    assert get_tags(GLM(family=family)).target_tags.positive_only is tag


def test_clone_and_get_params_roundtrip():
    from sklearn.base import clone

    model = GLM(family=Tweedie(power=1.2), alpha=0.3, l1_ratio=0.2, fit_intercept=False)
    copy = clone(model)
    assert copy.get_params() == model.get_params()


def test_score_is_r2_for_gaussian():
    from sklearn.metrics import r2_score

    X, y, w = glum_data("gaussian")
    model = GLM().fit(X, y)
    np.testing.assert_allclose(model.score(X, y), r2_score(y, model.predict(X)), rtol=1e-10)


def test_predict_linear_and_offset():
    X, y, w, off = make_data("poisson", "log", "offset")
    model = GLM(family="poisson").fit(X, y, offset=off)
    eta = model.predict_linear(X, offset=off)
    np.testing.assert_allclose(eta, model.intercept_ + X @ model.coef_ + off, rtol=1e-12)
    np.testing.assert_allclose(model.predict(X, offset=off), np.exp(eta), rtol=1e-12)


# ------------------------------------------------------------------- invariances


@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.05, 0.0), (0.02, 1.0)])
@pytest.mark.parametrize(
    ("family", "link"),
    [("gaussian", "identity"), ("binomial", "logit"), ("poisson", "log"), ("gamma", "log")],
)
def test_duplicated_rows_equal_integer_weight_two(family, link, alpha, l1_ratio):
    """Duplicating the first 100 rows = giving them weight 2 (coef 1e-8, deviance 1e-8)."""
    X, y, w, off = make_data(family, link, n=200, seed=5)
    k = 100
    X2 = np.vstack([X, X[:k]])
    y2 = np.concatenate([y, y[:k]])
    w2 = np.ones(len(y))
    w2[:k] = 2.0
    kw = dict(family=family, link=link, alpha=alpha, l1_ratio=l1_ratio)
    rep = GLM(**kw).fit(X2, y2)
    wtd = GLM(**kw).fit(X, y, sample_weight=w2)
    np.testing.assert_allclose(rep.coef_, wtd.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(rep.intercept_, wtd.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(rep.deviance_, wtd.deviance_, rtol=1e-8)
    np.testing.assert_allclose(rep.null_deviance_, wtd.null_deviance_, rtol=1e-8)


@pytest.mark.filterwarnings("ignore:X is rank deficient:UserWarning")
@pytest.mark.parametrize(
    ("family", "link"), [("gaussian", "identity"), ("poisson", "log"), ("binomial", "logit")]
)
def test_ridge_duplicated_columns_split_coefficient(family, link):
    """Ridge on [X, X] with alpha equals ridge on X with alpha/2, coefficients halved:
    min a^2 + b^2 subject to a + b = c is a = b = c/2 (tolerance 1e-8)."""
    X, y, w, off = make_data(family, link, seed=7)
    alpha = 0.05
    both = GLM(family=family, link=link, alpha=alpha, l1_ratio=0.0).fit(np.hstack([X, X]), y)
    once = GLM(family=family, link=link, alpha=alpha / 2, l1_ratio=0.0).fit(X, y)
    p = X.shape[1]
    np.testing.assert_allclose(both.coef_[:p], once.coef_ / 2, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(both.coef_[p:], once.coef_ / 2, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(both.intercept_, once.intercept_, rtol=1e-8)


def test_unit_weights_equal_no_weights():
    X, y, w, off = make_data("gamma", "log")
    a = GLM(family="gamma", link="log").fit(X, y)
    b = GLM(family="gamma", link="log").fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)


def test_zero_weight_rows_are_ignored():
    """A zero prior weight removes the row: same fit as dropping it (1e-8)."""
    X, y, w, off = make_data("poisson", "log")
    w0 = np.ones(len(y))
    w0[:50] = 0.0
    a = GLM(family="poisson").fit(X, y, sample_weight=w0)
    b = GLM(family="poisson").fit(X[50:], y[50:])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8)
    np.testing.assert_allclose(a.deviance_, b.deviance_, rtol=1e-8)
    np.testing.assert_allclose(a.aic_, b.aic_, rtol=1e-8)
    assert a.nobs_ == b.nobs_ == len(y) - 50


# --------------------------------------------------------- degenerate data: warnings


def _finite_fit(model, X):
    assert np.all(np.isfinite(model.coef_)) and math.isfinite(model.intercept_)
    assert np.all(np.isfinite(model.predict(X)))
    assert model.n_iter_ <= model.max_iter


def test_perfect_separation_warns_and_stays_finite():
    X = np.linspace(-3, 3, 40)[:, None]
    y = (X[:, 0] > 0).astype(float)
    with pytest.warns(UserWarning, match="separated"):
        model = GLM(family="binomial").fit(X, y)
    _finite_fit(model, X)


def test_quasi_separation_with_penalty_is_finite_without_warning():
    X = np.linspace(-3, 3, 40)[:, None]
    y = (X[:, 0] > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GLM(family="binomial", alpha=0.01).fit(X, y)
    _finite_fit(model, X)


@pytest.mark.parametrize("family", ["gaussian", "poisson", "binomial"])
def test_duplicated_column_warns_and_predicts_like_single_column(family):
    link = {"gaussian": "identity", "poisson": "log", "binomial": "logit"}[family]
    X, y, w, off = make_data(family, link)
    Xd = np.hstack([X, X[:, [0]]])
    with pytest.warns(UserWarning, match="rank deficient"):
        model = GLM(family=family).fit(Xd, y)
    _finite_fit(model, Xd)
    single = GLM(family=family).fit(X, y)
    np.testing.assert_allclose(model.predict(Xd), single.predict(X), rtol=1e-8)
    # minimum-norm solution: the aliased pair shares the coefficient equally
    np.testing.assert_allclose(model.coef_[0], model.coef_[-1], rtol=1e-6)


def test_constant_column_warns():
    X, y, w, off = make_data("poisson", "log")
    Xc = np.hstack([X, np.full((len(y), 1), 3.0)])
    with pytest.warns(UserWarning, match="constant"):
        model = GLM(family="poisson").fit(Xc, y)
    _finite_fit(model, Xc)
    single = GLM(family="poisson").fit(X, y)
    np.testing.assert_allclose(model.predict(Xc), single.predict(X), rtol=1e-8)


@pytest.mark.parametrize("family", ["gaussian", "poisson", "binomial", "gamma"])
def test_extreme_column_scale_warns_and_is_equivariant(family):
    """Multiplying a column by 1e8 warns, and (unpenalised) divides its coefficient by 1e8."""
    link = {"gaussian": "identity", "poisson": "log", "binomial": "logit", "gamma": "log"}[family]
    X, y, w, off = make_data(family, link)
    Xs = X.copy()
    Xs[:, 1] *= 1e8
    with pytest.warns(UserWarning, match="scales differ"):
        model = GLM(family=family, link=link).fit(Xs, y)
    _finite_fit(model, Xs)
    ref = GLM(family=family, link=link).fit(X, y)
    np.testing.assert_allclose(model.coef_ * [1, 1e8, 1], ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(model.predict(Xs), ref.predict(X), rtol=1e-8)


def test_perfect_gaussian_fit_does_not_crash():
    """Zero residual deviance (n = number of coefficients): R reports AIC = -Inf."""
    model = GLM().fit([[1.0], [2.0]], [1.0, 3.0])
    np.testing.assert_allclose([model.intercept_, model.coef_[0]], [-1.0, 2.0], atol=1e-10)
    assert model.aic_ == -math.inf


def test_failed_line_search_is_not_reported_as_convergence():
    """A fit whose first Newton step is rejected must not claim converged_ with all-zero
    coefficients (Poisson, sqrt link, no intercept: statsmodels' answer is non-zero)."""
    X, y, w, off = make_data("poisson", "sqrt", "no_intercept")
    ref = fit_statsmodels("poisson", "sqrt", X, y, w, off, fit_intercept=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GLM(family="poisson", link="sqrt", fit_intercept=False).fit(X, y)
    agrees = np.allclose(model.coef_, ref.params, rtol=1e-6)
    assert agrees or (not model.converged_ and caught), (
        f"converged_={model.converged_} coef={model.coef_} but statsmodels gives {ref.params}"
    )


#: A small sample on which Newton's first steps leave the domain eta > 0 of the
#: inverse(-squared) links; statsmodels' MLE is interior (min eta = 0.059 and 0.253).
SMALL_IG_X = np.array(
    [
        [0.12573022, -0.13210486],
        [0.64042265, 0.10490012],
        [-0.53566937, 0.36159505],
        [1.30400005, 0.94708096],
        [-0.70373524, -1.26542147],
        [-0.62327446, 0.04132598],
        [-2.32503077, -0.21879166],
        [-1.24591095, -0.73226735],
    ]
)
SMALL_IG_Y = np.array(
    [1.25218889, 1.56783767, 1.28886162, 3.87403236, 0.82752687, 1.96670314, 1.1376227, 0.70141682]
)


@pytest.mark.parametrize("link", ["inverse_squared", "inverse"])
def test_inverse_gaussian_small_sample_matches_statsmodels(link):
    """Step halving must keep eta inside the link's domain (R's valideta); found by hypothesis."""
    ones = np.ones(len(SMALL_IG_Y))
    ref = fit_statsmodels("inverse_gaussian", link, SMALL_IG_X, SMALL_IG_Y, ones, 0 * ones)
    model = GLM(family="inverse_gaussian", link=link).fit(SMALL_IG_X, SMALL_IG_Y)
    np.testing.assert_allclose(params_of(model), ref.params, rtol=RTOL)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=RTOL)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    ("solver", "alpha", "l1_ratio", "tol"),
    [
        ("irls", 0.0, 0.0, 1e-8),
        ("irls", 0.05, 0.0, 1e-8),
        ("prox-newton", 0.0, 0.0, 1e-8),
        ("prox-newton", 0.02, 1.0, 1e-8),
        ("lbfgs", 0.05, 0.0, 1e-5),
        ("lbfgs", 0.02, 0.5, 1e-5),
    ],
)
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_solvers_agree(family, solver, alpha, l1_ratio, tol, fit_intercept):
    """Every solver reaches the optimum found by the default ("auto") one; L-BFGS, a
    first-order method stopped on the gradient, to 1e-5."""
    X, y, w = glum_data(family)
    kw = dict(family=family, alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    ref = GLM(**kw).fit(X, y, sample_weight=w)
    model = GLM(solver=solver, **kw).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=tol)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=tol)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("family", ["binomial", "poisson", "gamma"])
def test_large_n_fit_with_sampled_start_matches_statsmodels(family, backend):
    """n = 40,000 rows, p = 4: the first Newton steps use a 1/16 row sample's Hessian,
    the last ones exact ones, so coefficients and standard errors still equal
    statsmodels' to 1e-6 relative."""
    if backend == "torch":
        pytest.importorskip("torch")
    X, y, _ = glum_data(family, seed=5, n=40_000, p=4)
    link = "log" if family == "gamma" else None
    model = GLM(family=family, link=link, tol=1e-10, backend=backend).fit(X, y)
    smf = sm_family(family, link or {"binomial": "logit", "poisson": "log"}[family])
    ref = sm.GLM(y, sm.add_constant(X), family=smf).fit(tol=1e-13)
    np.testing.assert_allclose(params_of(model), ref.params, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.summary()["std_err"].to_numpy(), ref.bse, rtol=1e-6)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0])
def test_ridge_effective_df_is_the_trace_formula(backend, alpha):
    """df_model_ of an L2 fit (taken from the solver's Cholesky factor) equals
    tr(H (H + n alpha I)^{-1}) computed directly, to 1e-10 relative."""
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 6)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    y = rng.poisson(np.exp(0.2 + 0.3 * X[:, 0])).astype(float)
    model = GLM(family="poisson", alpha=alpha, backend=backend).fit(X, y)
    H = model._fisher_info
    D = np.diag(np.r_[0.0, np.full(6, alpha * len(y))])
    expected = np.trace(H @ np.linalg.inv(H + D))
    np.testing.assert_allclose(model.df_model_, expected, rtol=1e-10)


def _no_row_sample(monkeypatch):
    """Make every design too small for sampled Hessians."""
    import glmlib.solver.problem as problem_module

    monkeypatch.setattr(problem_module, "_SAMPLE_MIN_ROWS", 10**9)


def test_sampled_start_with_trials_offset_and_zero_weights_matches_statsmodels():
    """Binomial proportions with trials as weights, some zero, and an offset, at a size
    where the sampled start is used: coefficients and SEs equal statsmodels' to 1e-6."""
    rng = np.random.default_rng(11)
    n = 40_000
    X = rng.normal(size=(n, 3))
    off = rng.normal(0.0, 0.3, n)
    trials = rng.integers(0, 6, n).astype(float)  # about 1/6 zero weights
    p = 1 / (1 + np.exp(-(0.2 + off + X @ np.array([0.4, -0.3, 0.1]))))
    y = np.divide(rng.binomial(trials.astype(int), p), trials, out=np.zeros(n), where=trials > 0)
    model = GLM(family="binomial", tol=1e-10).fit(X, y, sample_weight=trials, offset=off)
    keep = trials > 0
    endog = np.column_stack([y * trials, trials - y * trials])[keep]
    ref = sm.GLM(
        endog, sm.add_constant(X[keep]), family=sm.families.Binomial(), offset=off[keep]
    ).fit(tol=1e-13)
    np.testing.assert_allclose(params_of(model), ref.params, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.summary()["std_err"].to_numpy(), ref.bse, rtol=1e-6)


@pytest.mark.parametrize(("alpha", "l1_ratio"), [(1e-3, 0.0), (5e-3, 1.0), (2e-3, 0.5)])
def test_sampled_start_gives_the_fit_without_it(alpha, l1_ratio, monkeypatch):
    """Ridge, lasso and elastic net at n = 40,000: with and without the sampled start
    the coefficients agree to 1e-6 (both stop at tol = 1e-8) and the objective is no worse."""
    rng = np.random.default_rng(12)
    X = rng.normal(size=(40_000, 6))
    y = rng.binomial(1, 1 / (1 + np.exp(-(X @ np.array([0.8, -0.5, 0.3, 0.0, 0.0, 0.1]))))).astype(
        float
    )
    kw = dict(family="binomial", alpha=alpha, l1_ratio=l1_ratio, tol=1e-8)
    sampled = GLM(**kw).fit(X, y)
    _no_row_sample(monkeypatch)
    plain = GLM(**kw).fit(X, y)
    np.testing.assert_allclose(sampled.coef_, plain.coef_, atol=1e-6)
    np.testing.assert_allclose(sampled.intercept_, plain.intercept_, atol=1e-6)
    np.testing.assert_allclose(sampled.deviance_, plain.deviance_, rtol=1e-9)


def test_sampled_start_with_float32_input_matches_float64():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(40_000, 5))
    y = rng.poisson(np.exp(0.3 + X @ np.array([0.2, -0.1, 0.3, 0.0, 0.1]))).astype(float)
    m64 = GLM(family="poisson", alpha=1e-3).fit(X, y)
    m32 = GLM(family="poisson", alpha=1e-3).fit(X.astype(np.float32), y)
    # float32 X: coefficients to about 1e-5 (the data itself is rounded to 6e-8 relative)
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=1e-5)


def test_perfect_separation_at_sampled_size_warns_and_stays_finite():
    rng = np.random.default_rng(14)
    X = rng.normal(size=(40_000, 3))
    y = (X[:, 0] > 0).astype(float)
    with pytest.warns(UserWarning, match="separated"):
        model = GLM(family="binomial").fit(X, y)
    assert np.all(np.isfinite(model.coef_)) and np.isfinite(model.deviance_)
