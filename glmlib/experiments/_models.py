"""The model families of the experiment grid, each fitted the same way.

Every model is a function ``(split, designs, seed, quick) -> Fitted``: it fits
on the training rows (choosing its tuning parameters by cross-validation or a
validation part *inside* those rows) and predicts the mean of the test rows.
The families, by name:

``glm``
    Unpenalised :class:`glmlib.GLM` on the linear design.
``lasso``, ``ridge``, ``enet``
    :class:`glmlib.GLMCV` (5-fold CV over a 30-alpha path; l1_ratio 1, 0, 0.5).
``fe_glm``, ``fe_enet``
    The engineered design (splines and pairwise interactions; bigrams for
    text) without a penalty, and with the elastic net chosen by CV.
``gam``
    :class:`glmlib.gam.GAM`: a P-spline smooth of every numeric column with
    at least ten values, linear terms otherwise; smoothness by REML. Not for
    text.
``bayes``
    :class:`glmlib.BayesianGLM` with its default weakly informative priors,
    posterior mean prediction. NUTS (2 chains of 400 draws after 400 tuning
    steps) on the tabular data. Its validation score (used only to choose
    models) comes from the Laplace approximation, to halve the NUTS runs. On the
    sparse text design (1000 columns) NUTS is too slow for this machine, so
    the Laplace approximation is used there, and in quick mode everywhere
    (recorded as ``method``).
``neural``
    :class:`glmlib.nn.NeuralGLM`, one hidden layer of 32 units, early stopping
    on a 10 % validation part of the training rows.
``random_forest``
    scikit-learn's random forest (300 trees, leaves of at least 5 rows).
``lightgbm``
    LightGBM gradient boosting, the number of trees chosen by early stopping
    on a 20 % validation part of the training rows.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._domains import Design, Split

__all__ = ["MODELS", "Fitted", "fit_model"]


@dataclass
class Fitted:
    """What one fit left: test predictions, its time and its convergence."""

    prediction: np.ndarray
    fit_seconds: float
    n_iter: float = float("nan")
    converged: bool | None = None
    rhat: float = float("nan")
    ess: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _glm(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
    from ..glm import GLM

    model = GLM(family=s.domain.family, alpha=0.0, max_iter=100)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(d.X_train, s.y_train)
    sec = time.perf_counter() - t0
    return Fitted(np.asarray(model.predict(d.X_test)), sec, model.n_iter_, model.converged_)


def _glmcv(l1_ratio: float) -> Callable[[Split, Design, int, bool], Fitted]:
    def fit(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
        from ..glm_cv import GLMCV

        model = GLMCV(
            family=s.domain.family,
            l1_ratio=l1_ratio,
            n_alphas=15 if quick else 30,
            cv=3 if quick else 5,
            random_state=seed,
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(d.X_train, s.y_train)
        sec = time.perf_counter() - t0
        info = {"alpha": float(model.alpha_), "nonzero": int(np.sum(model.coef_ != 0))}
        return Fitted(
            np.asarray(model.predict(d.X_test)), sec, model.n_iter_, model.converged_, info=info
        )

    return fit


def _gam(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
    from ..gam import GAM, l
    from ..gam import s as smooth

    terms: Any = None
    # Fewer basis functions when there are many smooths (30 in breast cancer).
    k = 6 if quick or len(d.numeric) > 10 else 10
    for j in range(d.X_train.shape[1]):
        rich = j in d.numeric and np.unique(d.X_train[:, j]).size >= 10
        term = smooth(j, n_splines=k) if rich else l(j)
        terms = term if terms is None else terms + term
    model = GAM(terms, family=s.domain.family)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(d.X_train, s.y_train)
    sec = time.perf_counter() - t0
    return Fitted(np.asarray(model.predict(d.X_test)), sec, model.n_iter_, model.converged_)


def _bayes(s: Split, d: Design, seed: int, quick: bool, validation: bool = False) -> Fitted:
    from ..bayes import BayesianGLM

    method = "laplace" if d.sparse or quick or validation else "nuts"
    model = BayesianGLM(family=s.domain.family, method=method)
    X = _dense(d.X_train)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "nuts":
            model.fit(
                X, s.y_train, draws=400, tune=400, chains=2, random_seed=seed, progressbar=False
            )
        else:
            model.fit(X, s.y_train, random_seed=seed, progressbar=False)
    sec = time.perf_counter() - t0
    conv = model.convergence_
    return Fitted(
        np.asarray(model.predict(_dense(d.X_test))),
        sec,
        rhat=float(conv.get("max_rhat", np.nan)),
        ess=float(conv.get("min_ess_bulk", np.nan)),
        converged=None,
        info={
            "method": method,
            "sampler": model.sampler_,
            "divergences": int(conv.get("divergences", 0)),
        },
    )


def _neural(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
    from ..nn import NeuralGLM

    model = NeuralGLM(
        s.domain.family,
        hidden_layer_sizes=(32,),
        max_epochs=20 if quick else 100,
        patience=10,
        device="cpu",
        random_state=seed,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(_dense(d.X_train).astype(np.float32), s.y_train)
    sec = time.perf_counter() - t0
    pred = np.asarray(model.predict(_dense(d.X_test).astype(np.float32)), dtype=np.float64)
    return Fitted(pred, sec, float(model.n_epochs_), bool(model.stopped_early_))


def _random_forest(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    kw = {"n_estimators": 100 if quick else 300, "min_samples_leaf": 5, "n_jobs": 1}
    binary = s.domain.task == "binary"
    model = (RandomForestClassifier if binary else RandomForestRegressor)(random_state=seed, **kw)
    t0 = time.perf_counter()
    model.fit(d.X_train, s.y_train)
    sec = time.perf_counter() - t0
    pred = model.predict_proba(d.X_test)[:, 1] if binary else model.predict(d.X_test)
    # A leaf of zero counts predicts 0, outside the Poisson deviance's domain.
    return Fitted(np.asarray(pred if binary else np.maximum(pred, 1e-6)), sec)


def _lightgbm(s: Split, d: Design, seed: int, quick: bool) -> Fitted:
    import lightgbm as lgb
    from sklearn.model_selection import train_test_split

    binary = s.domain.task == "binary"
    cls = lgb.LGBMClassifier if binary else lgb.LGBMRegressor
    model = cls(
        objective="binary" if binary else "poisson",
        n_estimators=200 if quick else 1000,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=10,
        n_jobs=1,
        random_state=seed,
        verbose=-1,
    )
    idx = np.arange(s.y_train.size)
    tr, va = train_test_split(
        idx, test_size=0.2, random_state=seed, stratify=s.y_train if binary else None
    )
    X = d.X_train
    t0 = time.perf_counter()
    model.fit(
        X[tr],
        s.y_train[tr],
        eval_X=X[va],
        eval_y=s.y_train[va],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    sec = time.perf_counter() - t0
    pred = np.asarray(model.predict_proba(d.X_test))[:, 1] if binary else model.predict(d.X_test)
    return Fitted(np.asarray(pred, dtype=np.float64), sec, float(model.best_iteration_ or 0))


@dataclass(frozen=True)
class ModelSpec:
    """A model family: its label, design, and whether it runs on text."""

    name: str
    label: str
    design: str
    fit: Callable[[Split, Design, int, bool], Fitted]
    text: bool = True
    glm: bool = True


#: The model families, by name, in the order of the tables.
MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("glm", "GLM", "linear", _glm),
        ModelSpec("lasso", "GLMCV lasso", "linear", _glmcv(1.0)),
        ModelSpec("ridge", "GLMCV ridge", "linear", _glmcv(0.0)),
        ModelSpec("enet", "GLMCV elastic net", "linear", _glmcv(0.5)),
        ModelSpec("fe_glm", "engineered GLM", "engineered", _glm),
        ModelSpec("fe_enet", "engineered GLM + elastic net", "engineered", _glmcv(0.5)),
        ModelSpec("gam", "GAM", "linear", _gam, text=False),
        ModelSpec("bayes", "Bayesian GLM", "linear", _bayes),
        ModelSpec("neural", "neural GLM", "linear", _neural),
        ModelSpec("random_forest", "random forest", "linear", _random_forest, glm=False),
        ModelSpec("lightgbm", "LightGBM", "linear", _lightgbm, glm=False),
    )
}


def fit_model(
    name: str,
    s: Split,
    designs: dict[str, Design],
    seed: int,
    quick: bool,
    validation: bool = False,
) -> Fitted:
    """Fit model family ``name`` on a split's training rows and predict its test rows.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    s : Split
    designs : dict
        ``{"linear": Design, "engineered": Design}`` of the split.
    seed : int
    quick : bool
        Smaller paths, fewer trees and epochs, the Laplace approximation for
        the Bayesian GLM.
    validation : bool, default=False
        A fit for the validation score only (the Bayesian GLM then uses the
        Laplace approximation).

    Returns
    -------
    Fitted
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {list(MODELS)}")
    spec = MODELS[name]
    if s.domain.text is not None and not spec.text:
        raise ValueError(f"model {name!r} does not apply to the text data set {s.domain.name!r}")
    if name == "bayes":
        fitted = _bayes(s, designs[spec.design], seed, quick, validation)
    else:
        fitted = spec.fit(s, designs[spec.design], seed, quick)
    pred = fitted.prediction
    if s.domain.task == "binary":
        fitted.prediction = np.clip(pred, 0.0, 1.0)
    return fitted
