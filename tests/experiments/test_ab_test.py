"""glmlib.experiments.ab_test against independent references.

References: statsmodels' binomial GLM (Wald statistics, deviances), the
two-group binomial likelihood maximised by scipy (profile-likelihood bounds),
statsmodels.stats.multitest.multipletests (adjusted p-values),
statsmodels.stats.proportion (sample size), numerical integration (P(rate_t >
rate_A)) and simulation (power, family-wise error).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import integrate, optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import power_proportions_2indep

from glmlib.experiments import ab_test as ab

CLICKS = {"A": 32, "B": 39, "C": 29, "D": 47, "E": 51}
SENDS = {"A": 1000, "B": 900, "C": 1100, "D": 1000, "E": 950}


@pytest.fixture
def data() -> pd.DataFrame:
    return ab.ab_data(CLICKS, SENDS)


def _statsmodels_fit(data: pd.DataFrame, columns: list[str] | None = None):
    X = pd.get_dummies(data["template"], drop_first=True).astype(float)
    if columns is not None:
        X = X[columns]
    X = sm.add_constant(X, has_constant="add")
    endog = np.column_stack([data["clicks"], data["sends"] - data["clicks"]])
    with warnings.catch_warnings():  # the saturated fit has no residual degrees of freedom
        warnings.simplefilter("ignore")
        return sm.GLM(endog, X, family=sm.families.Binomial()).fit(tol=1e-14)


def test_ab_data_default_is_the_documented_illustration():
    d = ab.ab_data()
    assert list(d["template"]) == list(ab.ILLUSTRATIVE_CLICKS)
    assert (d["sends"] == ab.ILLUSTRATIVE_SENDS).all()
    np.testing.assert_allclose(d["rate"], d["clicks"] / d["sends"])


@pytest.mark.parametrize(
    ("clicks", "sends", "match"),
    [
        ([5, -1], 100, "clicks must be >= 0"),
        ([5, 101], 100, "clicks exceed sends"),
        ([5, 6], [100, 0], "sends must be >= 1"),
        ([5.5, 6], 100, "whole numbers"),
        ([5], 100, "at least two templates"),
        ([5, 6, 7], [100, 100], "2 send counts for 3 templates"),
    ],
)
def test_ab_data_rejects_bad_counts(clicks, sends, match):
    with pytest.raises(ValueError, match=match):
        ab.ab_data(clicks, sends)


def test_glm_inference_refuses_zero_clicks():
    d = ab.ab_data([0, 5], 100)
    with pytest.raises(ValueError, match="infinite log-odds"):
        ab.wald_comparisons(d)
    assert ab.bayes_comparisons(d, n_draws=1000)["p_better"].iloc[1] > 0.9  # Bayes still works


def test_wald_matches_statsmodels(data):
    # Tolerance 1e-8: both are IRLS fits converged far below it.
    ours = ab.wald_comparisons(data, level=0.9)
    ref = _statsmodels_fit(data)
    np.testing.assert_allclose(ours["log_or"], ref.params.iloc[1:], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours["std_err"], ref.bse.iloc[1:], rtol=1e-8)
    np.testing.assert_allclose(ours["p_value"], ref.pvalues.iloc[1:], rtol=1e-8)
    np.testing.assert_allclose(ours[["ci_low", "ci_high"]], ref.conf_int(0.1).iloc[1:], atol=1e-8)
    np.testing.assert_allclose(ours["or"], np.exp(ours["log_or"]))


def test_wald_is_the_two_sample_log_odds_test(data):
    # The saturated GLM's Wald z is the textbook two-sample z on the log odds ratio.
    c, n = data["clicks"].to_numpy(float), data["sends"].to_numpy(float)
    z = ab._wald_z(c[0], n[0], c[1:], n[1:])
    np.testing.assert_allclose(ab.wald_comparisons(data)["z"], z, rtol=1e-8)


def test_lr_tests_match_statsmodels_deviances(data):
    ours = ab.lr_comparisons(data)
    full = _statsmodels_fit(data)
    names = list(data["template"])[1:]
    for t in names:
        reduced = _statsmodels_fit(data, [c for c in names if c != t])
        stat = reduced.deviance - full.deviance
        assert ours.loc[t, "lr_stat"] == pytest.approx(stat, rel=1e-8, abs=1e-8)
        assert ours.loc[t, "p_value"] == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-7)
    null = _statsmodels_fit(data, [])
    assert ours.loc["all", "lr_stat"] == pytest.approx(null.deviance - full.deviance, rel=1e-8)
    assert ours.loc["all", "df"] == len(names)


def test_profile_interval_against_two_group_likelihood(data):
    # Independent reference: the profile log-likelihood of the log odds ratio,
    # maximised over the reference's log-odds by scipy, drops by chi2(1)/2 at
    # the bounds. Tolerance 1e-6 on the bounds (brentq and the inner fits at 1e-10).
    ours = ab.lr_comparisons(data, level=0.95)
    c, n = data["clicks"].to_numpy(float), data["sends"].to_numpy(float)
    q = stats.chi2.ppf(0.95, 1)

    def loglik(a, b, i):
        pa, pt = stats.logistic.cdf(a), stats.logistic.cdf(a + b)
        return stats.binom.logpmf(c[0], n[0], pa) + stats.binom.logpmf(c[i], n[i], pt)

    for i, t in enumerate(list(data["template"])[1:], start=1):
        best = loglik(
            np.log(c[0] / (n[0] - c[0])),
            np.log(c[i] / (n[i] - c[i])) - np.log(c[0] / (n[0] - c[0])),
            i,
        )

        def drop(b, i=i, best=best):
            res = optimize.minimize_scalar(
                lambda a: -loglik(a, b, i),
                bounds=(-10, 5),
                method="bounded",
                options={"xatol": 1e-12},
            )
            return 2 * (best + res.fun) - q

        assert abs(drop(ours.loc[t, "ci_low"])) < 1e-5
        assert abs(drop(ours.loc[t, "ci_high"])) < 1e-5
        assert (
            ours.loc[t, "ci_low"]
            < ab.wald_comparisons(data).loc[t, "log_or"]
            < ours.loc[t, "ci_high"]
        )


def test_bayes_against_exact_posterior(data):
    out = ab.bayes_comparisons(data, prior=(0.5, 0.5), n_draws=200_000, random_state=1)
    a = 0.5 + data["clicks"].to_numpy(float)
    b = 0.5 + (data["sends"] - data["clicks"]).to_numpy(float)
    np.testing.assert_allclose(out["mean"], a / (a + b), rtol=1e-12)
    np.testing.assert_allclose(out["rate_low"], stats.beta.ppf(0.025, a, b), rtol=1e-12)
    for i in range(1, len(data)):
        # P(rate_i > rate_0) = int f_i(x) F_0(x) dx, by quadrature.
        exact = integrate.quad(
            lambda x, i=i: stats.beta.pdf(x, a[i], b[i]) * stats.beta.cdf(x, a[0], b[0]),
            0,
            0.2,
            limit=200,
        )[0]
        mc_se = np.sqrt(exact * (1 - exact) / 200_000)
        assert abs(out["p_better"].iloc[i] - exact) < 5 * mc_se
    assert np.isnan(out["p_better"].iloc[0])
    again = ab.bayes_comparisons(data, prior=(0.5, 0.5), n_draws=200_000, random_state=1)
    pd.testing.assert_frame_equal(out, again)  # seeded
    with pytest.raises(ValueError, match="prior"):
        ab.bayes_comparisons(data, prior=(0, 1))


@pytest.mark.parametrize("method", ["bonferroni", "holm"])
def test_adjust_pvalues_match_statsmodels(method):
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 8))
        p[rng.integers(len(p))] = p[0]  # ties
        ref = multipletests(p, method=method)[1]
        np.testing.assert_allclose(ab.adjust_pvalues(p, method), ref, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="method"):
        ab.adjust_pvalues([0.1], "fdr")
    with pytest.raises(ValueError, match="p_values"):
        ab.adjust_pvalues([1.5], "holm")


def test_familywise_error_by_simulation():
    out = ab.familywise_error(
        rate=0.05, sends=500, n_treatments=4, n_sims=20_000, random_state=2
    ).set_index(["design", "adjustment"])
    ind = out.loc[("independent", "none")]
    # Independent tests: FWER = 1 - (1 - per-test size)^4, within 4 Monte Carlo standard errors.
    assert abs(ind["fwer"] - (1 - (1 - ind["per_test"]) ** 4)) < 4 * ind["std_err"]
    assert ind["fwer"] > 0.15  # far above the nominal 5%
    # A shared control correlates the tests: fewer family-wise errors than independent ones.
    assert out.loc[("shared", "none"), "fwer"] < ind["fwer"] - 4 * ind["std_err"]
    for design in ("shared", "independent"):
        for method in ("bonferroni", "holm"):
            row = out.loc[(design, method)]
            assert row["fwer"] <= 0.05 + 4 * row["std_err"]
        # Under the complete null Holm and Bonferroni make the same family-wise errors.
        assert out.loc[(design, "holm"), "fwer"] == out.loc[(design, "bonferroni"), "fwer"]
    with pytest.raises(ValueError, match="rate"):
        ab.familywise_error(rate=1.5)


def test_sample_size_against_statsmodels_power():
    # At the closed-form n, statsmodels' power for two independent proportions
    # (normal approximation, pooled variance under the null) is the target (1e-6).
    for p0, p1 in [(0.032, 0.051), (0.1, 0.08), (0.3, 0.4)]:
        n = ab.sample_size(p0, p1, alpha=0.05, power=0.8)
        res = power_proportions_2indep(p1 - p0, p0, n, alpha=0.05)
        assert res.power == pytest.approx(0.8, abs=1e-6)
    with pytest.raises(ValueError, match="p_treatment"):
        ab.sample_size(0.1, 0.1)
    with pytest.raises(ValueError, match="power"):
        ab.sample_size(0.1, 0.2, power=1.0)


def test_sample_size_power_by_simulation():
    # Simulated power of the GLM's Wald test at the planned n: 0.8 within 0.03
    # (4 Monte Carlo standard errors of 4,000 draws plus the normal approximation's error).
    p0, p1 = 0.032, 0.051
    n = int(np.ceil(ab.sample_size(p0, p1)))
    rng = np.random.default_rng(5)
    c0 = rng.binomial(n, p0, 4000).astype(float)
    c1 = rng.binomial(n, p1, 4000).astype(float)
    z = ab._wald_z(c0, n, c1, n)
    power = np.mean(np.abs(z) > stats.norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=0.03)


def test_sample_sizes_table(data):
    out = ab.sample_sizes(data)
    p0 = data["rate"].iloc[0]
    assert out.loc["E", "n_per_arm"] == np.ceil(ab.sample_size(p0, out.loc["E", "rate"]))
    assert (out["n_per_arm_bonferroni"] > out["n_per_arm"]).all()
    same = ab.sample_sizes(ab.ab_data([10, 10], 100))
    assert np.isnan(same["n_per_arm"].iloc[0])
