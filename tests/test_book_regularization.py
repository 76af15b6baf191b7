"""Chapter 2's helpers (``glmlib/book/regularization.py``) against independent computations.

Designs are checked cell by cell against their definitions, scores against
closed forms (log loss, Poisson deviance), ``fold_scores`` at a huge penalty
against the null model of each fold, ``sklearn_logistic`` against glmlib at
C = 1/(n alpha) (1e-5), ``rank_correlation`` against scipy's Spearman, the
searches on a known function, and each figure's panels and labels.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.special import xlogy  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

import glmlib  # noqa: E402
from glmlib.book import WarningLog  # noqa: E402
from glmlib.book import regularization as reg  # noqa: E402


def test_standardize_uses_the_training_mean_and_sd() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 10.0, 40.0]})
    test = pd.DataFrame({"a": [2.0, 5.0], "b": [10.0, 20.0]})
    z_train, z_test = reg.standardize(train, test)
    np.testing.assert_allclose(z_train.mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose(z_train.std(), 1.0)
    np.testing.assert_allclose(z_test["a"], [0.0, 3.0])  # (x - 2) / 1
    np.testing.assert_allclose(z_test["b"], [-10 / np.sqrt(300), 0.0])


def test_credit_design_columns_follow_their_definitions() -> None:
    default = pd.DataFrame(
        {"balance": [500.0, 2000.0], "income": [30_000.0, 5_000.0], "student": ["Yes", "No"]}
    )
    X = reg.credit_design(default)
    assert X.shape == (2, 12)
    b, i, s = np.array([0.5, 2.0]), np.array([3.0, 0.5]), np.array([1.0, 0.0])
    expected = {
        "balance": b, "income": i, "student": s, "balance^2": b**2, "income^2": i**2,
        "balance^3": b**3, "income^3": i**3, "balance:income": b * i, "balance:student": b * s,
        "income:student": i * s, "balance^2:student": b**2 * s, "income^2:student": i**2 * s,
    }  # fmt: skip
    assert sorted(X.columns) == sorted(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(X[name], values, err_msg=name)


def test_interaction_design_has_main_effects_and_every_pairwise_product() -> None:
    frame = pd.DataFrame({"f": ["a", "b", "c", "a"], "g": ["x", "y", "y", "x"], "h": [1, 2, 1, 2]})
    X = reg.interaction_design(frame, ["f", "g", "h"])
    # main effects: 2 + 1 + 1; products: f x g 2, f x h 2, g x h 1
    assert X.shape == (4, 4 + 5)
    np.testing.assert_array_equal(X["f_b"], [0, 1, 0, 0])
    np.testing.assert_array_equal(X["f_c:g_y"], [0, 0, 1, 0])
    np.testing.assert_array_equal(X["g_y:h_2"], [0, 1, 0, 0])
    assert "f_b:g_y" in X and "f_c:h_2" in X
    assert not any(c.startswith(("g_", "h_")) and ":f_" in c for c in X)  # each pair once


def test_hashed_design_is_binary_with_the_requested_density() -> None:
    X, y = reg.hashed_design(2_000, 500, 0.01, np.random.default_rng(0))
    assert X.format == "csr" and X.shape == (2_000, 500)
    assert set(np.unique(X.data)) == {1.0}
    assert X.nnz == pytest.approx(0.01 * 2_000 * 500, rel=0.05)
    assert set(np.unique(y)) <= {0.0, 1.0}


def test_entered_and_left() -> None:
    path = np.array([[0, 0, 0], [1, 0, 0], [1, 2, 0], [0, 2, 0]], dtype=float)
    entered, left = reg.entered_and_left(path, [0, 1, 2])
    np.testing.assert_array_equal(entered, [True, True, False])
    np.testing.assert_array_equal(left, [True, False, False])


def test_scores_match_closed_forms() -> None:
    y = np.array([0.0, 1.0, 1.0, 0.0])
    mu = np.array([0.2, 0.7, 0.4, 0.1])
    m = reg.classification_metrics(y, mu)
    assert m["log loss"] == pytest.approx(-np.mean(y * np.log(mu) + (1 - y) * np.log(1 - mu)))
    assert m["accuracy"] == 0.75 and m["precision"] == 1.0 and m["recall"] == 0.5
    assert m["F1"] == pytest.approx(2 / 3) and m["ROC AUC"] == 1.0
    counts, pred = np.array([0.0, 2.0, 5.0]), np.array([0.5, 2.0, 4.0])
    c = reg.count_metrics(counts, pred)
    unit = 2 * (xlogy(counts, counts / pred) - (counts - pred))
    assert c["Poisson deviance"] == pytest.approx(unit.mean())
    assert c["MSE"] == pytest.approx(np.mean((counts - pred) ** 2))


def test_fold_scores_at_a_huge_penalty_are_the_null_models_of_the_folds() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.standard_normal((120, 3)))
    y = (rng.random(120) < 0.3).astype(float)
    scores = reg.fold_scores(X, y, None, "binomial", 1e6, 0.0, n_folds=4, seed=0)
    assert list(scores.columns)[:2] == ["accuracy", "precision"] and len(scores) == 4
    split = StratifiedKFold(4, shuffle=True, random_state=0).split(X, y)
    for (train, held), loss in zip(split, scores["log loss"], strict=True):
        p = y[train].mean()
        expected = -np.mean(y[held] * np.log(p) + (1 - y[held]) * np.log(1 - p))
        assert loss == pytest.approx(expected, rel=1e-4)


def test_sklearn_logistic_at_c_equal_one_over_n_alpha_is_glmlibs_fit() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 4))
    y = (rng.random(300) < 1 / (1 + np.exp(-X @ [1.0, -0.5, 0.0, 0.3]))).astype(float)
    alpha = 0.01
    ours = glmlib.GLM("binomial", alpha=alpha, l1_ratio=0.0, tol=1e-10).fit(X, y)
    sk = reg.sklearn_logistic(0.0, 1 / (len(y) * alpha), tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(sk.coef_.ravel(), ours.coef_, atol=1e-5)
    assert sk.intercept_[0] == pytest.approx(ours.intercept_, abs=1e-5)


def test_best_time_fits_repeats_times_and_rejects_zero() -> None:
    made = []

    class Model:
        def fit(self, X, y):  # noqa: ANN001, ANN202
            made.append(self)
            return self

    model, seconds = reg.best_time(Model, None, None, 3)
    assert len(made) == 3 and model is made[-1] and seconds >= 0
    with pytest.raises(ValueError, match="repeats"):
        reg.best_time(Model, None, None, 0)


def test_time_per_iteration_and_bootstrap_coefficients() -> None:
    X, y = reg.hashed_design(500, 200, 0.02, np.random.default_rng(3))
    seconds, n_iter = reg.time_per_iteration(X, y, 1)
    assert seconds > 0 and n_iter > 0
    rng = np.random.default_rng(4)
    Xb = pd.DataFrame(rng.standard_normal((80, 2)), columns=["u", "v"])
    yb = (rng.random(80) < 0.5).astype(float)
    log = WarningLog()
    boot = reg.bootstrap_coefficients(Xb, yb, {"none": 0.0, "ridge": 1.0}, 5, rng, log.record)
    assert set(boot) == {"none", "ridge"} and boot["ridge"].shape == (5, 2)
    assert list(boot["none"].columns) == ["u", "v"]
    assert (boot["ridge"].abs().to_numpy() < boot["none"].abs().to_numpy()).all()  # shrunk


def test_rank_correlation_is_spearmans() -> None:
    a, b = [3.0, 1.0, 2.0, 5.0, 4.0], [10.0, 2.0, 7.0, 6.0, 9.0]
    assert reg.rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic)


def bowl(log_alpha: float, rho: float) -> float:
    return (log_alpha + 2.0) ** 2 + (rho - 0.5) ** 2


@pytest.mark.parametrize("search", [reg.grid_search, reg.random_search, reg.tpe_search])
def test_searches_evaluate_inside_the_box(search) -> None:  # noqa: ANN001
    pytest.importorskip("optuna")
    trials = search(bowl, 12, 0)
    assert 9 <= len(trials) <= 12
    for a, r, value in trials:
        assert -4 <= a <= 0 and 0 <= r <= 1 and value == pytest.approx(bowl(a, r))
    assert trials == search(bowl, 12, 0)  # the seed fixes the trials


def test_grid_search_covers_its_grid() -> None:
    trials = reg.grid_search(bowl, 25, 1)
    assert sorted({round(r, 6) for _, r, _ in trials}) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert min(t[2] for t in trials) == pytest.approx(0.0)  # (-2, 0.5) is on the grid


def test_figures_have_their_panels_and_labels() -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.standard_normal((150, 3)), columns=["a", "b", "c"])
    y = (rng.random(150) < 1 / (1 + np.exp(-X["a"]))).astype(float)
    fits = {
        name: glmlib.GLMCV("binomial", l1_ratio=rho, n_alphas=5, cv=3).fit(X, y)
        for name, rho in [("lasso", 1.0), ("ridge", 0.0)]
    }
    fig = reg.plot_paths(fits, X.columns)
    assert [ax.get_title() for ax in fig.axes] == ["lasso", "ridge"]
    assert len(fig.axes[0].lines) == 3 + 2  # three paths and the two choices
    fig = reg.plot_cv_curves(fits)
    assert len(fig.axes) == 4 and fig.axes[2].get_ylabel() == "non-zero coefficients"
    scores = {"A": {"m1": np.array([1.0, 1.2]), "m2": np.array([50.0, 60.0])}}
    fig = reg.plot_fold_scores(scores, ["loss"], rng)
    assert "off scale: m2" in fig.axes[0].get_title()
    boot = {"u": pd.DataFrame({"mean_x": [1.0, 2.0]}), "r": pd.DataFrame({"mean_x": [0.5, 1.0]})}
    fig = reg.plot_bootstrap(boot)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["x"]
    timing = pd.DataFrame(
        {"series": ["s", "s"], "nnz": [10, 100], "n*p": [1e3, 1e3], "ms per iteration": [1.0, 2.0]}
    )
    fig = reg.plot_sparse_timing(timing, {"s": "label"})
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "label"
    fig = reg.plot_search({"grid": [[(-1.0, 0.5, 2.0), (-2.0, 0.0, 1.0)]]})
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), [2.0, 1.0])
    plt.close("all")


def test_choices_table_fold_summary_and_the_deviance_scorer() -> None:
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(6)
    X = pd.DataFrame(rng.standard_normal((150, 3)))
    y = (rng.random(150) < 1 / (1 + np.exp(-X[0]))).astype(float)
    model = glmlib.GLMCV("binomial", l1_ratio=1.0, n_alphas=6, cv=3).fit(X, y)
    table = reg.choices_table({"toy": {"lasso": model}})
    row = table.loc[("toy", "lasso")]
    assert row["alpha_min"] == model.alpha_ and row["alpha_1se"] == model.alpha_1se_
    assert row["CV deviance (min)"] == pytest.approx(model.cv_deviance_.mean(axis=0).min())
    assert row["CV deviance (1se)"] >= row["CV deviance (min)"]

    folds = {("d", "m"): pd.DataFrame({"loss": [1.0, 2.0, 6.0]}), ("e", "m"): pd.DataFrame()}
    summary = reg.fold_summary(folds, ["d"], ["loss"])
    assert list(summary.index) == [("d", "m")]
    assert summary.loc[("d", "m"), "loss mean"] == 3.0
    assert summary.loc[("d", "m"), "loss std"] == pytest.approx(np.std([1, 2, 6], ddof=1))

    # the binomial deviance per observation is twice the log loss
    mu = np.asarray(model.predict(X), dtype=float)
    assert reg.neg_binomial_deviance(model, X, y) == pytest.approx(-2 * log_loss(y, mu))
