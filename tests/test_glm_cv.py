"""Tests for :class:`glmlib.GLMCV` (``glmlib/glm_cv.py``).

References:

* scikit-learn's ``ElasticNetCV`` minimises the same Gaussian objective,
  (1/2n) |y - X b|^2 + alpha (rho |b|_1 + (1 - rho)/2 |b|^2), builds the same
  grid (alpha_max = max_j |x_j'(y - ybar)| / (n rho), geometric down to
  eps alpha_max) and reports held-out MSE (= Gaussian deviance per unit
  weight): alphas_, cv_deviance_ and alpha_ must agree to 1e-8 given the same
  folds.
* Every point of the path and every fold's held-out deviance are recomputed
  with independent ``GLM`` fits (1e-6).
* The KKT conditions fix alpha_max: all-zero coefficients at alphas_[0],
  non-zero just below it.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import ElasticNetCV
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from glmlib import GLM, GLMCV, glm_path
from glmlib.families import get_family


def make_data(family, n=240, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.zeros(p)
    beta[:3] = [0.8, -0.5, 0.3]
    eta = 0.2 + X @ beta
    if family == "gaussian":
        y = eta + rng.normal(size=n)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    else:  # gamma, log link
        y = rng.gamma(3.0, np.exp(0.5 * eta) / 3.0)
    return X, y


LINKS = {"gaussian": None, "binomial": None, "poisson": None, "gamma": "log"}
FAMILIES = list(LINKS)


@pytest.fixture(scope="module")
def cv_fits():
    cache = {}

    def get(family, l1_ratio=1.0, weights=False):
        key = (family, l1_ratio, weights)
        if key not in cache:
            X, y = make_data(family)
            w = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if weights else None
            model = GLMCV(
                family=family,
                link=LINKS[family],
                l1_ratio=l1_ratio,
                n_alphas=20,
                cv=KFold(4),
            ).fit(X, y, sample_weight=w)
            cache[key] = (model, X, y, w)
        return cache[key]

    return get


# ---------------------------------------------------------- scikit-learn reference


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
def test_gaussian_path_and_cv_match_sklearn_elasticnetcv(l1_ratio):
    X, y = make_data("gaussian", n=200, p=10)
    folds = KFold(5)
    model = GLMCV(l1_ratio=l1_ratio, n_alphas=30, eps=1e-3, cv=folds).fit(X, y)
    ref = ElasticNetCV(
        l1_ratio=l1_ratio, alphas=30, eps=1e-3, cv=folds, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(model.alphas_, ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(model.cv_deviance_, ref.mse_path_.T, rtol=1e-8)
    assert model.alpha_ == pytest.approx(ref.alpha_, rel=1e-10)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-8)


def test_no_intercept_matches_sklearn_elasticnetcv():
    """fit_intercept=False: alpha_max = max_j |x_j' y| / (n rho); same path and CV MSE."""
    X, y = make_data("gaussian", n=200, p=10)
    folds = KFold(5)
    model = GLMCV(l1_ratio=0.8, n_alphas=15, cv=folds, fit_intercept=False).fit(X, y)
    ref = ElasticNetCV(
        l1_ratio=0.8, alphas=15, cv=folds, fit_intercept=False, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(model.alphas_, ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(model.cv_deviance_, ref.mse_path_.T, rtol=1e-8)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-8)
    assert model.intercept_ == 0.0
    np.testing.assert_array_equal(model.intercept_path_, 0.0)


# ---------------------------------------------------------------- the alpha grid


@pytest.mark.parametrize("family", FAMILIES)
def test_alphas_descending_geometric_from_alpha_max(cv_fits, family):
    model, X, y, w = cv_fits(family)
    a = model.alphas_
    assert a.shape == (20,)
    assert np.all(np.diff(a) < 0)
    np.testing.assert_allclose(a[-1] / a[0], 1e-3, rtol=1e-10)
    np.testing.assert_allclose(np.diff(np.log(a)), np.log(1e-3) / 19, rtol=1e-10)


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_alpha_max_is_smallest_alpha_with_all_zero_coefficients(cv_fits, family, weights):
    """KKT: alpha_max = max_j |sum_i v_i x_ij (y_i - mu0) / (g'(mu0) V(mu0))|, v = w / sum w, with
    mu0 the intercept-only mean (the weighted mean of y for these links)."""
    model, X, y, w = cv_fits(family, weights=weights)
    w = np.ones(len(y)) if w is None else w
    v = w / w.sum()
    mu0 = np.sum(v * y)
    fam = get_family(family, LINKS[family])
    dmu = fam.link.inverse_deriv(fam.link.link(np.array([mu0])))[0]
    score = v * (y - mu0) * dmu / fam.variance(np.array([mu0]))[0]
    expected = np.max(np.abs(X.T @ score))
    np.testing.assert_allclose(model.alphas_[0], expected, rtol=1e-8)
    np.testing.assert_array_equal(model.coef_path_[0], 0.0)
    kw = dict(family=family, link=LINKS[family], l1_ratio=1.0)
    above = GLM(alpha=expected * (1 + 1e-6), **kw).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(above.coef_, 0.0)
    below = GLM(alpha=expected * (1 - 1e-3), **kw).fit(X, y, sample_weight=w)
    assert np.count_nonzero(below.coef_) >= 1


def test_alpha_max_scales_with_inverse_l1_ratio(cv_fits):
    lasso = cv_fits("poisson", 1.0)[0]
    enet = cv_fits("poisson", 0.5)[0]
    np.testing.assert_allclose(enet.alphas_[0], 2 * lasso.alphas_[0], rtol=1e-10)


def test_ridge_path_grid_sized_as_glmnet():
    """l1_ratio = 0 has no finite alpha_max; the grid is sized as if l1_ratio were 1e-3."""
    X, y = make_data("gaussian")
    ridge = GLMCV(l1_ratio=0.0, n_alphas=5, cv=3).fit(X, y)
    lasso = GLMCV(l1_ratio=1.0, n_alphas=5, cv=3).fit(X, y)
    np.testing.assert_allclose(ridge.alphas_[0], lasso.alphas_[0] / 1e-3, rtol=1e-10)
    assert np.all(np.isfinite(ridge.coef_path_)) and np.all(ridge.coef_path_[-1] != 0)


def test_explicit_alphas_are_sorted_descending_and_used():
    X, y = make_data("poisson")
    model = GLMCV(family="poisson", alphas=[0.01, 0.1, 0.001], cv=3).fit(X, y)
    np.testing.assert_array_equal(model.alphas_, [0.1, 0.01, 0.001])
    assert model.coef_path_.shape == (3, X.shape[1])
    assert model.cv_deviance_.shape == (3, 3)


# ------------------------------------------------------------- path and CV values


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("family", FAMILIES)
def test_path_equals_independent_glm_fits(cv_fits, family, l1_ratio):
    """coef_path_[k], intercept_path_[k] = GLM(alpha=alphas_[k]) on the full data (1e-6)."""
    model, X, y, w = cv_fits(family, l1_ratio)
    assert model.coef_path_.shape == (20, X.shape[1])
    assert model.intercept_path_.shape == (20,)
    for k in (0, 5, 12, 19):
        ref = GLM(family=family, link=LINKS[family], alpha=model.alphas_[k], l1_ratio=l1_ratio)
        ref.fit(X, y)
        np.testing.assert_allclose(model.coef_path_[k], ref.coef_, atol=1e-6)
        np.testing.assert_allclose(model.intercept_path_[k], ref.intercept_, atol=1e-6)


@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_cv_deviance_is_heldout_mean_deviance_per_unit_weight(cv_fits, family, weights):
    """cv_deviance_[f, k] = sum_{test} w d(y, mu_k) / sum_{test} w with mu_k from a GLM fitted
    on the training rows at alphas_[k] (1e-6 relative)."""
    model, X, y, w = cv_fits(family, weights=weights)
    w = np.ones(len(y)) if w is None else w
    folds = list(KFold(4).split(X))
    assert model.cv_deviance_.shape == (4, 20)
    fam = get_family(family, LINKS[family])
    for f in (0, 3):
        train, test = folds[f]
        for k in (2, 10, 19):
            ref = GLM(family=family, link=LINKS[family], alpha=model.alphas_[k], l1_ratio=1.0)
            ref.fit(X[train], y[train], sample_weight=w[train])
            d = fam.unit_deviance(y[test], ref.predict(X[test]))
            expected = np.sum(w[test] * d) / np.sum(w[test])
            np.testing.assert_allclose(model.cv_deviance_[f, k], expected, rtol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_alpha_and_alpha_1se_selection(cv_fits, family):
    """alpha_ minimises the mean CV deviance; alpha_1se_ is the largest alpha whose mean is
    within one standard error (std over folds, ddof=1, / sqrt(n_folds)) of that minimum."""
    model, X, y, w = cv_fits(family)
    mean = model.cv_deviance_.mean(axis=0)
    se = model.cv_deviance_.std(axis=0, ddof=1) / np.sqrt(model.cv_deviance_.shape[0])
    best = np.argmin(mean)
    assert model.alpha_ == model.alphas_[best]
    ok = mean <= mean[best] + se[best]
    assert model.alpha_1se_ == model.alphas_[np.flatnonzero(ok).min()]
    assert model.alpha_1se_ >= model.alpha_


@pytest.mark.parametrize("family", FAMILIES)
def test_refit_at_alpha_equals_glm(cv_fits, family):
    """coef_, intercept_ and GLM's statistics are those of GLM(alpha=alpha_).

    Tolerance 1e-7: both fits stop once a Newton step moves eta by <= tol = 1e-8, and
    Fisher scoring converges only linearly for non-canonical links (gamma/log contracts
    by ~0.2 per step), so each is within a few 1e-9 of the optimum."""
    model, X, y, w = cv_fits(family)
    ref = GLM(family=family, link=LINKS[family], alpha=model.alpha_, l1_ratio=1.0).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-7)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-7)
    np.testing.assert_allclose(model.deviance_, ref.deviance_, rtol=1e-7)
    np.testing.assert_allclose(model.null_deviance_, ref.null_deviance_, rtol=1e-7)
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=1e-7)
    with pytest.warns(UserWarning, match="penalised"):
        table = model.summary()
    assert list(table.index)[0] == "intercept" and len(table) == X.shape[1] + 1


def test_offset_is_used_on_path_and_in_cv():
    X, y = make_data("poisson")
    off = np.random.default_rng(2).uniform(-0.5, 0.5, len(y))
    model = GLMCV(family="poisson", n_alphas=8, cv=KFold(3)).fit(X, y, offset=off)
    k = 4
    ref = GLM(family="poisson", alpha=model.alphas_[k], l1_ratio=1.0).fit(X, y, offset=off)
    np.testing.assert_allclose(model.coef_path_[k], ref.coef_, atol=1e-6)
    np.testing.assert_allclose(
        model.predict(X, offset=off),
        GLM(family="poisson", alpha=model.alpha_, l1_ratio=1.0)
        .fit(X, y, offset=off)
        .predict(X, offset=off),
        rtol=1e-8,
    )


def test_penalty_factor_zero_keeps_feature_on_whole_path():
    X, y = make_data("binomial")
    pf = np.ones(X.shape[1])
    pf[5] = 0.0  # a noise feature, never penalised
    model = GLMCV(family="binomial", penalty_factor=pf, n_alphas=10, cv=3).fit(X, y)
    assert np.all(model.coef_path_[:, 5] != 0)
    assert np.all(model.coef_path_[0, pf > 0] == 0)


def test_random_state_makes_folds_reproducible():
    X, y = make_data("gaussian")
    a = GLMCV(n_alphas=6, cv=4, random_state=3).fit(X, y)
    b = GLMCV(n_alphas=6, cv=4, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.cv_deviance_, b.cv_deviance_)


def test_dataframe_names_reach_summary():
    import pandas as pd

    X, y = make_data("poisson")
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = GLMCV(family="poisson", n_alphas=5, cv=3).fit(df, y)
    with pytest.warns(UserWarning, match="penalised"):
        assert list(model.summary().index) == ["intercept", *df.columns]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"l1_ratio": -0.1}, "l1_ratio"),
        ({"n_alphas": 0}, "n_alphas"),
        ({"eps": 0.0}, "eps"),
        ({"eps": 2.0}, "eps"),
        ({"alphas": [0.1, -1.0]}, "alphas"),
        ({"alphas": []}, "alphas"),
        ({"family": "binomal"}, "unknown family"),
    ],
)
def test_invalid_parameters_raise(kwargs, match):
    X, y = make_data("gaussian", n=40)
    with pytest.raises(ValueError, match=match):
        GLMCV(**kwargs).fit(X, y)


# --------------------------------------------------------------- scikit-learn API


@parametrize_with_checks(
    [GLMCV(n_alphas=10, cv=3)]
    + [GLMCV(family=family, n_alphas=10, cv=3) for family in ("poisson", "gamma")]
)
def test_sklearn_estimator_checks(estimator, check):
    """A short path (10 alphas, 3 folds) keeps the ~60 checks within seconds per family.

    Poisson (y >= 0) and Gamma (y > 0) declare their targets through
    ``target_tags.positive_only`` (tests/test_glm.py runs every family for GLM,
    whose tags GLMCV shares).
    """
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([GLMCV()])
def test_sklearn_estimator_checks_default_parameters(estimator, check):
    """The same checks with the defaults (100 alphas, 5 folds): several minutes on 2 cores."""
    check(estimator)


# ------------------------------------------------------------------ glm_path
@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_glm_path_is_glmcv_full_data_path(family):
    """glm_path returns GLMCV's full-data path, and each point is GLM's fit (1e-6)."""
    X, y = make_data(family)
    cv = GLMCV(family=family, n_alphas=12, cv=KFold(3)).fit(X, y)
    path = glm_path(X, y, family=family, n_alphas=12)
    np.testing.assert_array_equal(path.alphas, cv.alphas_)
    np.testing.assert_allclose(path.coef, cv.coef_path_, atol=1e-10)
    np.testing.assert_allclose(path.intercept, cv.intercept_path_, atol=1e-10)
    assert np.all(path.coef[0] == 0) and path.n_iter.shape == (12,)
    k = 7
    ref = GLM(family=family, alpha=path.alphas[k], l1_ratio=1.0).fit(X, y)
    np.testing.assert_allclose(path.coef[k], ref.coef_, atol=1e-6)
    np.testing.assert_allclose(path.intercept[k], ref.intercept_, atol=1e-6)


def test_glm_path_names_alphas_and_errors():
    import pandas as pd

    X, y = make_data("poisson")
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    path = glm_path(df, y, family="poisson", alphas=[0.01, 0.1, 0.05], l1_ratio=0.5)
    assert path.feature_names == list(df.columns)
    np.testing.assert_array_equal(path.alphas, [0.1, 0.05, 0.01])  # largest first
    with pytest.raises(ValueError, match="alphas"):
        glm_path(X, y, family="poisson", alphas=[-1.0])
    with pytest.raises(ValueError, match="contains NaN"):
        glm_path(np.full_like(X, np.nan), y, family="poisson")


def test_path_hands_each_points_linear_predictor_to_on_point():
    """regularization_path streams eta to on_point, one call per alpha, in order,
    each equal to X beta_k + intercept_k of the returned path (to 1e-12)."""
    from glmlib.glm_cv import regularization_path

    rng = np.random.default_rng(8)
    X = rng.normal(size=(600, 5))
    y = rng.binomial(1, 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    model = GLMCV(family="binomial", l1_ratio=1.0, n_alphas=12, cv=2)
    data, prob, pf, theta_null, _, alphas = model._path_setup(X, y, None, None)
    seen = []
    coefs, intercepts, iters = regularization_path(
        prob,
        theta_null,
        alphas,
        1.0,
        pf,
        tol=1e-8,
        max_iter=100,
        solver="auto",
        on_point=lambda k, eta: seen.append((k, np.array(eta))),
    )
    assert [k for k, _ in seen] == list(range(len(alphas))) and len(iters) == len(alphas)
    for k, eta in seen:
        np.testing.assert_allclose(eta, X @ coefs[k] + intercepts[k], rtol=1e-12, atol=1e-12)


# --- fold row copies, threads over folds (n_jobs) ------------------------------


def _cv_problem(seed=11):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1500, 12))
    eta = X[:, :3] @ np.array([1.0, -0.7, 0.5]) - 0.2
    y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def test_fold_row_copies_match_zero_weight_folds(monkeypatch):
    """Fitting each fold on a copy of its training rows gives the held-out
    deviances of the zero-weight fit over all rows (to 1e-7: both solve to tol 1e-10)."""
    import glmlib.glm_cv as glm_cv

    X, y = _cv_problem()
    kw = dict(family="binomial", n_alphas=15, cv=4, random_state=0, tol=1e-10)
    copied = GLMCV(**kw).fit(X, y)
    monkeypatch.setattr(glm_cv, "_FOLD_COPY_BYTES", 0)  # never copy: zero weights
    weighted = GLMCV(**kw).fit(X, y)
    np.testing.assert_allclose(copied.cv_deviance_, weighted.cv_deviance_, rtol=1e-7)
    assert copied.alpha_ == weighted.alpha_
    np.testing.assert_allclose(copied.coef_, weighted.coef_, atol=1e-8)


@pytest.mark.parametrize("copy_rows", [True, False])
def test_n_jobs_gives_the_same_fit(monkeypatch, copy_rows):
    """Folds in two threads: the same deviances, alpha and coefficients as one job (exactly)."""
    import glmlib.glm_cv as glm_cv

    if not copy_rows:
        monkeypatch.setattr(glm_cv, "_FOLD_COPY_BYTES", 0)
    X, y = _cv_problem(12)
    kw = dict(family="binomial", n_alphas=15, cv=4, random_state=0)
    one = GLMCV(**kw).fit(X, y)
    two = GLMCV(n_jobs=2, **kw).fit(X, y)
    np.testing.assert_array_equal(one.cv_deviance_, two.cv_deviance_)
    assert one.alpha_ == two.alpha_
    np.testing.assert_array_equal(one.coef_, two.coef_)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_n_jobs_is_checked(bad):
    X, y = _cv_problem()
    with pytest.raises(ValueError, match="n_jobs"):
        GLMCV(family="binomial", n_alphas=5, cv=2, n_jobs=bad).fit(X[:200], y[:200])


def test_invalid_held_out_means_score_as_infinite():
    """A fold's fit whose means fall outside the family's range on its held-out
    rows (gamma, inverse link) scores inf there and is never chosen."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = rng.gamma(2.0, 1.0, size=40) + 0.1
    model = GLMCV(family="gamma", link="inverse", n_alphas=10, cv=3, random_state=1).fit(X, y)
    assert not np.isnan(model.cv_deviance_).any()
    best = int(np.argmin(model.cv_deviance_.mean(axis=0)))
    assert np.isfinite(model.cv_deviance_[:, best]).all()
