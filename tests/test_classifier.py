"""GLMClassifier and GLMClassifierCV: scikit-learn classifiers on the binomial GLM.

References: glmlib's own GLM/GLMCV with ``family="binomial"`` on the 0/1-coded
target (the classifiers must add label handling and nothing else, so their
coefficients agree to round-off, 1e-12), scikit-learn's LogisticRegression with
C = 1 / (n alpha) (an independent solver, agreement to 1e-7), and scikit-learn's
metrics and displays computed by hand from ``predict_proba``.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.calibration import CalibrationDisplay, calibration_curve  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import RocCurveDisplay, accuracy_score, log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import glmlib  # noqa: E402
from glmlib import GLM, GLMCV, GLMClassifier, GLMClassifierCV  # noqa: E402
from glmlib.datasets import make_glm  # noqa: E402


@pytest.fixture(scope="module")
def data():
    """400 rows, 5 standardised features, a 0/1 binomial response."""
    X, y, _ = make_glm(400, 5, family="binomial", random_state=1)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y.astype(int)


LABELS = {
    "0/1": (0, 1),
    "strings": ("ham", "spam"),
    "booleans": (False, True),
    "-1/+1 floats": (-1.0, 1.0),
}


# ----------------------------------------------------------- scikit-learn API
@parametrize_with_checks([GLMClassifier(), GLMClassifierCV(n_alphas=10, cv=3)])
def test_sklearn_estimator_checks(estimator, check):
    """Every scikit-learn check, as a binary classifier (GLMClassifierCV: 10 alphas, 3 folds)."""
    check(estimator)


def test_exported_in_all():
    assert {"GLMClassifier", "GLMClassifierCV"} <= set(glmlib.__all__)


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize(("alpha", "l1_ratio"), [(0.0, 0.0), (0.01, 0.0), (0.02, 1.0)])
def test_coefficients_are_the_binomial_glm_on_the_coded_target(data, kind, alpha, l1_ratio):
    X, y01 = data
    labels = np.asarray(LABELS[kind], dtype=object if kind == "strings" else None)
    y = labels[y01]
    clf = GLMClassifier(alpha=alpha, l1_ratio=l1_ratio).fit(X, y)
    glm = GLM(family="binomial", alpha=alpha, l1_ratio=l1_ratio).fit(X, y01)
    assert clf.classes_.tolist() == list(LABELS[kind])
    np.testing.assert_allclose(clf.coef_, glm.coef_, rtol=0, atol=1e-12)
    assert clf.intercept_ == pytest.approx(glm.intercept_, abs=1e-12)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba[:, 1], glm.predict(X), rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(clf.decision_function(X), glm.predict_linear(X), atol=1e-12)
    expected = np.where(glm.predict(X) > 0.5, labels[1], labels[0])
    np.testing.assert_array_equal(clf.predict(X), expected)
    assert clf.score(X, y) == accuracy_score(y, expected)


@pytest.mark.parametrize(("alpha", "l1_ratio"), [(0.01, 0.0), (0.02, 1.0), (0.02, 0.5)])
def test_matches_sklearn_logistic_regression(data, alpha, l1_ratio):
    """glmlib's alpha is LogisticRegression's 1 / (n C): same coefficients to 1e-7."""
    X, y = data
    n = len(y)
    clf = GLMClassifier(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12).fit(X, y)
    solver = "lbfgs" if l1_ratio == 0 else "saga"
    lr = LogisticRegression(
        C=1.0 / (n * alpha), l1_ratio=l1_ratio, solver=solver, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(clf.coef_, lr.coef_[0], rtol=0, atol=1e-7)
    assert clf.intercept_ == pytest.approx(lr.intercept_[0], abs=1e-7)
    np.testing.assert_allclose(clf.predict_proba(X), lr.predict_proba(X), rtol=0, atol=1e-7)


def test_glm_binomial_predict_still_returns_probabilities(data):
    X, y = data
    mu = GLM(family="binomial").fit(X, y).predict(X)
    assert mu.dtype == np.float64 and mu.shape == (len(y),)
    assert np.all((mu > 0) & (mu < 1)) and not np.all(np.isin(mu, (0.0, 1.0)))


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_other_links_decision_function_is_the_log_odds(data, link):
    """Away from the logit link, decision_function is log(p / (1 - p)): positive iff predicted 1."""
    X, y = data
    clf = GLMClassifier(link=link).fit(X, y)
    glm = GLM(family="binomial", link=link).fit(X, y)
    p = glm.predict(X)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X), np.log(p / (1 - p)), rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), (p > 0.5).astype(int))


# ------------------------------------------------------------- bad targets
@pytest.mark.parametrize("estimator", [GLMClassifier(), GLMClassifierCV(n_alphas=5, cv=3)])
def test_more_than_two_classes_raise(data, estimator):
    X, y = data
    y3 = np.where(np.arange(len(y)) % 3 == 0, 2, y)
    with pytest.raises(ValueError, match=r"binary classification.*3 classes \(0, 1, 2\)"):
        estimator.fit(X, y3)


@pytest.mark.parametrize("estimator", [GLMClassifier(), GLMClassifierCV(n_alphas=5, cv=3)])
def test_one_class_raises(data, estimator):
    X, _ = data
    with pytest.raises(ValueError, match=r"needs two classes but y has only one class \('a'\)"):
        estimator.fit(X, np.full(X.shape[0], "a"))


def test_one_class_among_weighted_rows_raises(data):
    X, y = data
    with pytest.raises(ValueError, match="two classes among the rows with positive sample_weight"):
        GLMClassifier().fit(X, y, sample_weight=(y == 1).astype(float))


def test_continuous_target_raises(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type"):
        GLMClassifier().fit(X, np.linspace(0, 1, X.shape[0]))


# -------------------------------------------------- scoring, search, displays
def test_grid_search_neg_log_loss_scores_every_candidate(data):
    """The issue: GridSearchCV(..., scoring="neg_log_loss") gave NaN for GLM(binomial)."""
    X, y = data
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    pipe = make_pipeline(StandardScaler(), GLMClassifier())
    grid = {"glmclassifier__alpha": [0.001, 0.01, 0.1]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failing candidate would warn and score NaN
        search = GridSearchCV(pipe, grid, scoring="neg_log_loss", cv=folds).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    expected = []
    for alpha in grid["glmclassifier__alpha"]:
        fold_losses = []
        for train, test in folds.split(X, y):
            scaler = StandardScaler().fit(X[train])
            model = GLM(family="binomial", alpha=alpha).fit(scaler.transform(X[train]), y[train])
            mu = model.predict(scaler.transform(X[test]))
            fold_losses.append(log_loss(y[test], np.column_stack([1 - mu, mu])))
        expected.append(-np.mean(fold_losses))
    np.testing.assert_allclose(scores, expected, rtol=1e-10)


def test_roc_auc_scoring_matches_hand_computed_auc(data):
    X, y = data
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(GLMClassifier(alpha=0.01), X, y, cv=folds, scoring="roc_auc")
    expected = [
        roc_auc_score(
            y[test], GLM(family="binomial", alpha=0.01).fit(X[train], y[train]).predict(X[test])
        )
        for train, test in folds.split(X, y)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    assert np.all(scores > 0.5)


def test_roc_curve_and_calibration_displays(data):
    X, y = data
    labels = np.array(["no", "yes"])[y]
    clf = GLMClassifier().fit(X, labels)
    p = clf.predict_proba(X)[:, 1]
    fig, ax = plt.subplots()
    try:
        roc = RocCurveDisplay.from_estimator(clf, X, labels, ax=ax)
        assert roc.roc_auc == pytest.approx(roc_auc_score(y, p), rel=1e-12)
        cal = CalibrationDisplay.from_estimator(clf, X, labels, n_bins=5, ax=ax)
        prob_true, prob_pred = calibration_curve(y, p, n_bins=5)
        np.testing.assert_allclose(cal.prob_true, prob_true, rtol=1e-12)
        np.testing.assert_allclose(cal.prob_pred, prob_pred, rtol=1e-12)
    finally:
        plt.close(fig)


# ------------------------------------------------------------- inputs
def test_pandas_labels_weights_offset_and_formula(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["spam"] = y
    w = np.linspace(0.5, 2.0, len(y))
    offset = np.linspace(-0.2, 0.2, len(y))
    labels = pd.Series(np.where(y == 1, "spam", "ham"), dtype="category")
    clf = GLMClassifier().fit(frame.drop(columns="spam"), labels, sample_weight=w, offset=offset)
    glm = GLM(family="binomial").fit(frame.drop(columns="spam"), y, sample_weight=w, offset=offset)
    np.testing.assert_allclose(clf.coef_, glm.coef_, atol=1e-12)
    p = clf.predict_proba(frame.drop(columns="spam"), offset=offset)[:, 1]
    np.testing.assert_allclose(
        p, glm.predict(frame.drop(columns="spam"), offset=offset), atol=1e-15
    )

    formula = GLMClassifier(formula="spam ~ x0 + x1").fit(frame)
    reference = GLM(family="binomial", formula="spam ~ x0 + x1").fit(frame)
    assert formula.classes_.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(formula.coef_, reference.coef_, atol=1e-12)
    np.testing.assert_array_equal(formula.predict(frame), (reference.predict(frame) > 0.5) * 1.0)


# ------------------------------------------------------------- GLMClassifierCV
def test_classifier_cv_is_glmcv_on_the_coded_target_with_stratified_folds(data):
    """An integer cv means StratifiedKFold(cv, shuffle=True, random_state): GLMCV's path on it."""
    X, y = data
    names = np.array(["benign", "malignant"])
    labels = names[y]
    clf = GLMClassifierCV(n_alphas=15, cv=4, random_state=3).fit(X, labels)
    folds = StratifiedKFold(4, shuffle=True, random_state=3)
    ref = GLMCV(family="binomial", n_alphas=15, cv=folds).fit(X, y)
    assert clf.classes_.tolist() == ["benign", "malignant"]
    np.testing.assert_array_equal(clf.alphas_, ref.alphas_)
    np.testing.assert_allclose(clf.cv_deviance_, ref.cv_deviance_, rtol=1e-12)
    assert clf.alpha_ == ref.alpha_
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], ref.predict(X), atol=1e-15)
    np.testing.assert_array_equal(clf.predict(X), names[(ref.predict(X) > 0.5).astype(int)])


def test_torch_tensors_fit_like_numpy(data):
    """Tensors in, NumPy out: labels and probabilities are host arrays, as scikit-learn expects."""
    torch = pytest.importorskip("torch")
    X, y = data
    clf = GLMClassifier(alpha=0.01).fit(torch.tensor(X), torch.tensor(y))
    ref = GLMClassifier(alpha=0.01).fit(X, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-10)
    proba = clf.predict_proba(torch.tensor(X))
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, ref.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(clf.predict(torch.tensor(X)), ref.predict(X))


def test_distributed_classifier_is_refused_with_the_alternative():
    X = np.random.default_rng(0).normal(size=(50, 2))
    y = np.array(["a", "b"] * 25)
    with pytest.raises(NotImplementedError, match="GLM\\(family='binomial', distributed=True\\)"):
        glmlib.GLMClassifier(distributed=True).fit(X, y)
