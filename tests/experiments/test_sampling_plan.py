"""glmlib.experiments.sampling_plan: the sampling strategies, metrics and the simulation.

References: scikit-learn's log_loss and roc_auc_score (metrics), statsmodels'
logistic GLM (the fits), scipy's Student-t interval (summaries), and the
properties each strategy's sample must have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import log_loss, roc_auc_score

from glmlib.experiments import sampling_plan as sp

SMALL = dict(n_population=2_000, n_initial=200, n_extra=150, n_test=2_000)


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return sp.simulate_sampling(n_reps=4, random_state=7, **SMALL)


def test_population_follows_its_model():
    rng = np.random.default_rng(0)
    X, p, y = sp.simulate_population(200_000, "well-specified", rng)
    eta = np.log(p / (1 - p))
    np.testing.assert_allclose(eta, -2.5 + X @ [1, 1 / 2, 1 / 3], rtol=1e-10)
    # Labels drawn from p: the positive rate within 5 binomial standard errors.
    assert abs(y.mean() - p.mean()) < 5 * np.sqrt(p.mean() * (1 - p.mean()) / y.size)
    Xm, pm, _ = sp.simulate_population(1_000, "misspecified", np.random.default_rng(0))
    extra = 0.75 * (Xm[:, 0] ** 2 - 1) + 0.75 * Xm[:, 0] * Xm[:, 1]
    np.testing.assert_allclose(np.log(pm / (1 - pm)), -2.5 + Xm @ [1, 1 / 2, 1 / 3] + extra)


def test_draw_sample_pools():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=5_000)
    thr = np.quantile(scores, 0.9)
    exclude = np.arange(100)
    for strategy in sp.STRATEGIES:
        idx = sp.draw_sample(
            strategy, scores, thr, 200, rng, boundary_fraction=0.2, exclude=exclude
        )
        assert idx.size == 200 and np.unique(idx).size == 200
        assert not np.isin(idx, exclude).any()
        if strategy == "flagged":
            assert (scores[idx] >= thr).all()
        if strategy == "boundary":
            # Within the 20% of items closest to the threshold.
            band = np.sort(np.abs(scores - thr))[999]
            assert (np.abs(scores[idx] - thr) <= band).all()
    # The uniform strategy reaches the whole range, the flagged one does not.
    uni = sp.draw_sample("uniform", scores, thr, 1_000, rng)
    assert (scores[uni] < thr).mean() > 0.8


def test_draw_sample_rejects_bad_input():
    rng = np.random.default_rng(0)
    scores = np.arange(100.0)
    with pytest.raises(ValueError, match="unknown strategy 'active'"):
        sp.draw_sample("active", scores, 50.0, 10, rng)
    with pytest.raises(ValueError, match="pool has 10 items"):
        sp.draw_sample("flagged", scores, 90.0, 20, rng)
    with pytest.raises(ValueError, match="boundary_fraction"):
        sp.draw_sample("boundary", scores, 50.0, 10, rng, boundary_fraction=1.5)


def test_evaluate_against_sklearn():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.99, 500)
    q = np.clip(p + rng.normal(0, 0.05, 500), 0.001, 0.999)
    y = (rng.random(500) < p).astype(float)
    out = sp.evaluate(p, q, y)
    # Expected log-loss = sklearn's log-loss on each item counted as a positive
    # with weight p and a negative with weight 1 - p (tolerance 1e-12).
    yy = np.r_[np.ones(500), np.zeros(500)]
    ref = log_loss(yy, np.r_[q, q], sample_weight=np.r_[p, 1 - p])
    assert out["log_loss"] == pytest.approx(ref, rel=1e-12)
    assert out["auc"] == pytest.approx(roc_auc_score(y, q), rel=1e-12)
    assert out["brier"] == pytest.approx(np.mean(p * (1 - q) ** 2 + (1 - p) * q**2), rel=1e-12)
    # At q = p the expected log-loss is the entropy, its minimum (Gibbs' inequality).
    assert sp.evaluate(p, p, y)["log_loss"] < out["log_loss"]


def test_second_fit_matches_statsmodels():
    rng = np.random.default_rng(3)
    X, _, y = sp.simulate_population(800, "misspecified", rng)
    ours = sp._fit_logistic(X, y)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(np.r_[ours.intercept_, ours.coef_], ref.params, atol=1e-7)


def test_simulation_is_deterministic_and_tidy(results):
    again = sp.simulate_sampling(n_reps=4, random_state=7, **SMALL)
    pd.testing.assert_frame_equal(results, again)
    other = sp.simulate_sampling(n_reps=4, random_state=8, **SMALL)
    assert not np.allclose(results["value"], other["value"])
    # Repetition r does not depend on how many repetitions run.
    first2 = sp.simulate_sampling(n_reps=2, random_state=7, **SMALL)
    pd.testing.assert_frame_equal(first2, results[results["rep"] < 2].reset_index(drop=True))
    assert len(results) == 4 * 2 * 3 * 2 * 3  # reps x scenarios x strategies x targets x metrics
    assert set(results["strategy"]) == set(sp.STRATEGIES)


def test_summaries_are_student_t_intervals(results):
    summary = sp.summarize_sampling(results, level=0.9)
    sel = (
        (results.scenario == "misspecified")
        & (results.target == "flagged")
        & (results.metric == "auc")
    )
    v = results[sel & (results.strategy == "boundary")]["value"].to_numpy()
    row = summary[
        (summary.scenario == "misspecified")
        & (summary.target == "flagged")
        & (summary.metric == "auc")
        & (summary.strategy == "boundary")
    ].iloc[0]
    lo, hi = stats.t.interval(0.9, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (v.mean(), lo, hi), rel=1e-12
    )
    diffs = sp.compare_strategies(results, level=0.9)
    u = results[sel & (results.strategy == "uniform")].sort_values("rep")["value"].to_numpy()
    b = results[sel & (results.strategy == "boundary")].sort_values("rep")["value"].to_numpy()
    d = diffs[
        (diffs.scenario == "misspecified")
        & (diffs.target == "flagged")
        & (diffs.metric == "auc")
        & (diffs.strategy == "boundary")
    ].iloc[0]
    assert d["mean_diff"] == pytest.approx((b - u).mean(), rel=1e-12)
    assert "uniform" not in set(diffs["strategy"])


def test_misspecified_model_favours_sampling_where_it_is_used():
    # The simulation's main finding, with wide margins: when the GLM is
    # misspecified, labelling flagged items lowers the log-loss on the flagged
    # items (by about 0.1 nats at these sizes) and raises it on all items.
    res = sp.simulate_sampling(n_reps=10, scenarios=["misspecified"], random_state=0)
    diffs = sp.compare_strategies(res).set_index(["target", "metric", "strategy"])
    assert diffs.loc[("flagged", "log_loss", "flagged"), "ci_high"] < 0
    assert diffs.loc[("all", "log_loss", "flagged"), "ci_low"] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategies": ["uniform", "random"]}, "unknown strategy 'random'"),
        ({"scenarios": ["nonlinear"]}, "unknown scenario"),
        ({"n_reps": 0}, "n_reps"),
        ({"flag_fraction": 0.0}, "flag_fraction"),
        ({"n_initial": 9_000, "n_extra": 2_000}, "exceeds n_population"),
    ],
)
def test_simulation_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sp.simulate_sampling(**kwargs)
    with pytest.raises(ValueError, match="baseline"):
        sp.compare_strategies(pd.DataFrame({"strategy": ["uniform"]}), baseline="best")
