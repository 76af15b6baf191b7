"""Benchmark glmlib against glum, scikit-learn and statsmodels on the same data.

Every library fits the same penalised GLM; this script times each fit and
scores every solution with one objective, computed here from the returned
coefficients (so no library grades its own work):

    F(b0, beta) = (1 / sum w) sum_i w_i d_i / 2
                  + alpha * (l1_ratio * ||beta||_1 + (1 - l1_ratio) / 2 * ||beta||_2^2),

with d_i the unit deviance and the intercept b0 unpenalised (w = 1 here).
Parameterisations are converted to it: glum uses it as is; scikit-learn's
LogisticRegression minimises C * sum(log-loss) + penalty with log-loss = d/2,
so C = 1 / (n * alpha); PoissonRegressor minimises 1/(2n) sum d + alpha/2
||beta||^2, so its alpha is ours; statsmodels' penalised likelihood is
loglike - pen_weight * sum(beta^2), so pen_weight = n * alpha / 2, and its
``fit_regularized`` elastic net uses -loglike / n + alpha * (...) as here.

Each fit runs in a forked child process: the data are shared copy-on-write,
a fit that runs past ``--cap-seconds`` is killed (and reported as capped), and
one library's memory use cannot slow the next. Inside the child, a small fit
on the first rows warms up imports and JIT caches before the timed fit.
Repeats are interleaved (every library once, then every library again, with
the order rotated) and the best time is reported.

Usage::

    python benchmarks/bench_glm.py                 # all problems, full size, 3 repeats
    python benchmarks/bench_glm.py --quick         # 1/100 of the size, 1 repeat (smoke test)
    python benchmarks/bench_glm.py --problems logistic_l2 poisson_l2 --repeats 5
    python benchmarks/bench_glm.py --threads 1 --out results.json --markdown

``--threads N`` sets OMP/OpenBLAS/MKL/numba thread counts for every library
(it must be applied before NumPy is imported, so it is read from sys.argv
first thing); without it each library uses its defaults, except with
``--quick``, which then uses one thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _threads import apply_thread_limit  # noqa: E402

if __name__ == "__main__":
    apply_thread_limit(sys.argv)

# Every library is imported in the parent (imports only: no fits, so no
# OpenMP thread pool exists before fork) so that forked children start warm.
import glum  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import sklearn  # noqa: E402
import statsmodels  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from scipy.special import xlogy  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, PoissonRegressor  # noqa: E402
from statsmodels.base._penalized import PenalizedMixin  # noqa: E402
from statsmodels.base._penalties import L2  # noqa: E402

import glmlib  # noqa: E402
from glmlib.datasets import make_glm  # noqa: E402

PROBLEMS = (
    "logistic_l2",
    "logistic_l1",
    "poisson_l2",
    "logistic_l2_mid",
    "logistic_enet",
    "logistic_l1_path",
    "sparse_onehot",
    "logistic_l1_cv",
)
LIBRARIES = ("glmlib", "glum", "sklearn", "statsmodels")
# Relative objective gap under which a solution counts as "the same optimum".
GAP_OK = 1e-6
# Rows of the warm-up fit run (untimed) in each child before the timed fit.
WARMUP_ROWS = 2000


# --------------------------------------------------------------------- problems
@dataclass
class Problem:
    """One penalised GLM: data, family and penalty (or a grid of penalties)."""

    name: str
    description: str
    family: str  # "binomial" or "poisson"
    X: Any  # ndarray or scipy.sparse.csr_matrix
    y: np.ndarray
    alpha: float
    l1_ratio: float
    alphas: np.ndarray | None = None  # set for a regularisation path
    frame: pd.DataFrame | None = None  # categorical DataFrame view of X (for glum)
    folds: list[tuple[np.ndarray, np.ndarray]] | None = None  # set for cross-validation

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_path(self) -> bool:
        return self.alphas is not None and self.folds is None

    @property
    def is_cv(self) -> bool:
        return self.folds is not None

    def head(self, rows: int) -> Problem:
        """The same problem on the first ``rows`` rows (for warm-up fits)."""
        rows = min(rows, self.n)
        frame = None if self.frame is None else self.frame.iloc[:rows]
        folds = None if self.folds is None else cv_folds(rows, len(self.folds))
        return Problem(
            self.name,
            self.description,
            self.family,
            self.X[:rows],
            self.y[:rows],
            self.alpha,
            self.l1_ratio,
            self.alphas,
            frame,
            folds,
        )


def _dense_logistic(n: int) -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = make_glm(n, 50, "binomial", eta_std=1.5, random_state=0)
    return X, y


def make_problem(name: str, quick: bool = False, scale: float = 1.0) -> Problem:
    """Build problem ``name`` with ``scale`` times the full number of rows.

    ``quick`` is scale 1/100 (path: 1/50, with 20 alphas instead of 100).
    """
    if quick:
        scale = 0.01
    big = round(1_000_000 * scale)
    if name == "logistic_l2":
        X, y = _dense_logistic(big)
        return Problem(
            name, f"dense logistic, n={big:,}, p=50, L2 alpha=1e-3", "binomial", X, y, 1e-3, 0.0
        )
    if name == "logistic_l1":
        X, y = _dense_logistic(big)
        alpha = 0.038  # about 20 of the 50 coefficients non-zero
        return Problem(
            name,
            f"dense logistic, n={big:,}, p=50, L1 alpha={alpha:g}",
            "binomial",
            X,
            y,
            alpha,
            1.0,
        )
    if name == "poisson_l2":
        X, y, _ = make_glm(big, 50, "poisson", random_state=1)
        return Problem(
            name, f"dense Poisson, n={big:,}, p=50, L2 alpha=1e-3", "poisson", X, y, 1e-3, 0.0
        )
    if name == "logistic_l2_mid":  # fixed per-fit costs weigh more than at n = 1e6
        mid = round(300_000 * scale)
        X, y = _dense_logistic(mid)
        return Problem(
            name, f"dense logistic, n={mid:,}, p=50, L2 alpha=1e-3", "binomial", X, y, 1e-3, 0.0
        )
    if name == "logistic_enet":
        X, y = _dense_logistic(big)
        alpha = 0.05
        return Problem(
            name,
            f"dense logistic, n={big:,}, p=50, elastic net alpha={alpha:g}, l1_ratio=0.5",
            "binomial",
            X,
            y,
            alpha,
            0.5,
        )
    if name == "logistic_l1_path":
        n, n_alphas = (2_000, 20) if quick else (round(100_000 * scale), 100)
        X, y, _ = make_glm(
            n, 200, "binomial", n_informative=40, correlation=0.2, eta_std=1.5, random_state=2
        )
        alphas = lasso_alpha_grid(X, y, n_alphas=n_alphas, eps=1e-3)
        return Problem(
            name,
            f"dense logistic L1 path, n={n:,}, p=200, {n_alphas} alphas "
            f"{alphas[0]:.3g} .. {alphas[-1]:.3g}",
            "binomial",
            X,
            y,
            float(alphas[-1]),
            1.0,
            alphas=alphas,
        )
    if name == "sparse_onehot":
        X, y, frame = onehot_poisson(big, seed=3)
        return Problem(
            name,
            f"sparse one-hot Poisson, n={big:,}, p={X.shape[1]} "
            f"(1000+100+10 levels, 5 numeric), nnz={X.nnz:,}, L2 alpha=1e-4",
            "poisson",
            X,
            y,
            1e-4,
            0.0,
            frame=frame,
        )
    if name == "logistic_l1_cv":
        n, n_alphas = (2_000, 20) if quick else (round(100_000 * scale), 50)
        X, y, _ = make_glm(n, 100, "binomial", n_informative=20, random_state=4)
        alphas = lasso_alpha_grid(X, y, n_alphas=n_alphas, eps=1e-3)
        return Problem(
            name,
            f"dense logistic L1 5-fold CV, n={n:,}, p=100, {n_alphas} alphas "
            f"{alphas[0]:.3g} .. {alphas[-1]:.3g}",
            "binomial",
            X,
            y,
            float(alphas[-1]),
            1.0,
            alphas=alphas,
            folds=cv_folds(n, 5),
        )
    raise ValueError(f"unknown problem {name!r}; choose from {PROBLEMS}")


def cv_folds(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold (train, test) row indices, given to every library alike."""
    from sklearn.model_selection import KFold

    return list(KFold(k, shuffle=True, random_state=0).split(np.zeros((n, 1))))


def lasso_alpha_grid(X: np.ndarray, y: np.ndarray, n_alphas: int, eps: float) -> np.ndarray:
    """Geometric grid from alpha_max (all coefficients zero) down to eps * alpha_max.

    For the logistic loss with an unpenalised intercept the null model has
    mu = mean(y), and alpha_max = max_j |X_j' (y - mean(y))| / n.
    """
    top = float(np.max(np.abs(X.T @ (y - y.mean())))) / X.shape[0]
    return np.geomspace(top, top * eps, n_alphas)


def onehot_poisson(n: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray, pd.DataFrame]:
    """Three categoricals (1000, 100, 10 levels; all levels one-hot) plus 5 numeric columns.

    Level frequencies follow a Zipf-like law (p_k proportional to 1/(k + 5)), so
    the 1000-level factor has levels with a handful of rows, as in insurance
    data. Level effects are N(0, 0.3^2), numeric effects N(0, 0.2^2), intercept -1.
    """
    rng = np.random.default_rng(seed)
    levels = (1000, 100, 10)
    codes = []
    effects = []
    for k in levels:
        prob = 1.0 / (np.arange(k) + 5.0)
        codes.append(rng.choice(k, size=n, p=prob / prob.sum()))
        effects.append(rng.normal(0.0, 0.3, size=k))
    num = rng.normal(size=(n, 5))
    eta = -1.0 + sum(e[c] for e, c in zip(effects, codes, strict=True))
    eta = eta + num @ rng.normal(0.0, 0.2, size=5)
    y = rng.poisson(np.exp(eta)).astype(np.float64)

    offsets = np.cumsum((0, *levels))
    rows = np.repeat(np.arange(n), 3)
    cols = np.column_stack([c + o for c, o in zip(codes, offsets[:-1], strict=True)]).ravel()
    onehot = sp.csr_matrix((np.ones(3 * n), (rows, cols)), shape=(n, offsets[-1]), dtype=np.float64)
    X = sp.hstack([onehot, sp.csr_matrix(num)], format="csr")
    X.sort_indices()
    frame = pd.DataFrame(
        {
            f"c{k}": pd.Categorical(c, categories=np.arange(k))
            for k, c in zip(levels, codes, strict=True)
        }
    )
    for j in range(5):
        frame[f"x{j}"] = num[:, j]
    return X, y, frame


# -------------------------------------------------------------------- objective
def half_deviance(family: str, y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Unit deviance / 2 at linear predictor eta (stable forms)."""
    if family == "binomial":  # y in {0, 1}: -y log mu - (1 - y) log(1 - mu)
        return np.logaddexp(0.0, eta) - y * eta
    if family == "poisson":  # y log(y / mu) - y + mu
        return xlogy(y, y) - y * eta - y + np.exp(eta)
    raise ValueError(family)


def objective(prob: Problem, intercept: float, coef: np.ndarray, alpha: float) -> float:
    """The common objective F (see the module docstring) in float64."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    eta = np.asarray(prob.X @ coef, dtype=np.float64).ravel() + float(intercept)
    loss = float(np.mean(half_deviance(prob.family, prob.y, eta)))
    r = prob.l1_ratio
    pen = alpha * (r * np.abs(coef).sum() + (1 - r) / 2 * float(coef @ coef))
    return loss + float(pen)


def objectives(prob: Problem, fit: dict[str, Any]) -> np.ndarray:
    """F at every alpha of the problem (one value for a single fit).

    For cross-validation: F of the refit at the alpha the library chose.
    """
    if prob.is_cv:
        return np.array([objective(prob, fit["intercept"], fit["coef"], fit["alpha"])])
    if prob.is_path:
        assert prob.alphas is not None
        return np.array(
            [
                objective(prob, b0, c, a)
                for b0, c, a in zip(fit["intercepts"], fit["coefs"], prob.alphas, strict=True)
            ]
        )
    return np.array([objective(prob, fit["intercept"], fit["coef"], prob.alpha)])


# ---------------------------------------------------------------------- runners
# Each runner fits the problem and returns {"intercept", "coef"} (or, for a
# path, {"intercepts", "coefs"} of shape (n_alphas,) and (n_alphas, p)), plus
# optional "n_iter" and "note".


def glmlib_fit(prob: Problem, tol: float, frame: bool = False) -> dict[str, Any]:
    """``frame=True``: the categorical DataFrame (glmlib's categorical design, no one-hot matrix)."""
    m = glmlib.GLM(family=prob.family, alpha=prob.alpha, l1_ratio=prob.l1_ratio, tol=tol)
    m.fit(prob.frame if frame else prob.X, prob.y)
    return {"intercept": m.intercept_, "coef": m.coef_, "n_iter": m.n_iter_}


def glmlib_path(prob: Problem, tol: float) -> dict[str, Any]:
    """``glmlib.glm_path`` on the full data: GLMCV.fit's full-data path without the folds.

    (The results in benchmarks/README.md were measured before ``glm_path``
    existed, with the same steps called privately; ``glm_path`` adds the
    column-scale check, one more read of X.)
    """
    path = glmlib.glm_path(
        prob.X, prob.y, family=prob.family, l1_ratio=prob.l1_ratio, alphas=prob.alphas, tol=tol
    )
    return {"intercepts": path.intercept, "coefs": path.coef, "n_iter": int(path.n_iter.sum())}


def glmlib_cv(prob: Problem, tol: float, n_jobs: int = 1) -> dict[str, Any]:
    """``glmlib.GLMCV`` with the problem's alphas and folds (paths on each fold, then the refit)."""
    kw = {"n_jobs": n_jobs} if "n_jobs" in glmlib.GLMCV().get_params() else {}
    m = glmlib.GLMCV(
        family=prob.family, l1_ratio=prob.l1_ratio, alphas=prob.alphas, cv=prob.folds, tol=tol, **kw
    )
    m.fit(prob.X, prob.y)
    k = int(np.flatnonzero(prob.alphas == m.alpha_)[0]) if prob.alphas is not None else -1
    return {
        "intercept": m.intercept_,
        "coef": m.coef_,
        "alpha": m.alpha_,
        "note": f"alpha_ = alphas[{k}]",
    }


def glum_cv(prob: Problem, tol: float) -> dict[str, Any]:
    """glum's ``GeneralizedLinearRegressorCV`` with the same alphas and folds, one job."""
    m = glum.GeneralizedLinearRegressorCV(
        family=prob.family,
        l1_ratio=prob.l1_ratio,
        alphas=prob.alphas,
        cv=prob.folds,
        gradient_tol=tol,
        solver="irls-cd",
        n_jobs=1,
    )
    m.fit(prob.X, prob.y)
    k = int(np.flatnonzero(prob.alphas == m.alpha_)[0]) if prob.alphas is not None else -1
    return {
        "intercept": m.intercept_,
        "coef": m.coef_,
        "alpha": m.alpha_,
        "note": f"alpha_ = alphas[{k}]",
    }


def glum_fit(prob: Problem, tol: float, frame: bool = False) -> dict[str, Any]:
    m = glum.GeneralizedLinearRegressor(
        family=prob.family,
        alpha=prob.alpha,
        l1_ratio=prob.l1_ratio,
        gradient_tol=tol,
    )
    m.fit(prob.frame if frame else prob.X, prob.y)
    return {"intercept": m.intercept_, "coef": m.coef_, "n_iter": m.n_iter_, "note": m._solver}


def glum_path(prob: Problem, tol: float) -> dict[str, Any]:
    m = glum.GeneralizedLinearRegressor(
        family=prob.family,
        alpha=prob.alphas,
        alpha_search=True,
        l1_ratio=prob.l1_ratio,
        gradient_tol=tol,
        # What solver="auto" picks here; naming it avoids glum 3.4's
        # `self.alpha == 0` test on an array alpha in its auto-selection.
        solver="irls-cd",
    )
    m.fit(prob.X, prob.y)
    return {"intercepts": m.intercept_path_, "coefs": m.coef_path_, "note": m._solver}


def _logistic(prob: Problem, solver: str, alpha: float, **kw: Any) -> LogisticRegression:
    return LogisticRegression(C=1.0 / (prob.n * alpha), l1_ratio=prob.l1_ratio, solver=solver, **kw)


SKLEARN_KW: dict[str, dict[str, Any]] = {
    "lbfgs": {"max_iter": 10_000},
    "newton-cholesky": {"max_iter": 100},
    # liblinear penalises the intercept as the weight of a constant column
    # with value intercept_scaling; a large value makes that penalty negligible.
    "liblinear": {"max_iter": 10_000, "intercept_scaling": 1e3, "random_state": 0},
    "saga": {"max_iter": 10_000, "random_state": 0},
}


def sklearn_fit(prob: Problem, tol: float, solver: str) -> dict[str, Any]:
    kw = SKLEARN_KW[solver]
    if prob.family == "binomial":
        m = _logistic(prob, solver, prob.alpha, tol=tol, **kw)
        m.fit(prob.X, prob.y)
        coef, b0 = m.coef_.ravel(), float(m.intercept_[0])
    else:
        m = PoissonRegressor(alpha=prob.alpha, solver=solver, tol=tol, max_iter=kw["max_iter"])
        m.fit(prob.X, prob.y)
        coef, b0 = m.coef_, float(m.intercept_)
    return {"intercept": b0, "coef": coef, "n_iter": int(np.max(m.n_iter_))}


def sklearn_path(prob: Problem, tol: float, solver: str) -> dict[str, Any]:
    """One LogisticRegression per alpha; warm-started where the solver supports it."""
    assert prob.alphas is not None
    kw = SKLEARN_KW[solver]
    warm = solver != "liblinear"  # liblinear ignores warm_start
    m = _logistic(prob, solver, float(prob.alphas[0]), tol=tol, warm_start=warm, **kw)
    coefs = np.zeros((len(prob.alphas), prob.p))
    intercepts = np.zeros(len(prob.alphas))
    n_iter = 0
    for k, a in enumerate(prob.alphas):
        m.set_params(C=1.0 / (prob.n * float(a)))
        m.fit(prob.X, prob.y)
        coefs[k] = m.coef_.ravel()
        intercepts[k] = float(m.intercept_[0])
        n_iter += int(np.max(m.n_iter_))
    return {"intercepts": intercepts, "coefs": coefs, "n_iter": n_iter}


class GLMPenalized(PenalizedMixin, sm.GLM):
    """statsmodels GLM with a penalised likelihood (as in statsmodels' own tests)."""


def _sm_family(prob: Problem) -> Any:
    return sm.families.Binomial() if prob.family == "binomial" else sm.families.Poisson()


def _dense_with_constant(prob: Problem) -> np.ndarray:
    X = prob.X.toarray() if sp.issparse(prob.X) else prob.X
    return np.column_stack([np.ones(prob.n), X])


def statsmodels_ridge(prob: Problem, tol: float) -> dict[str, Any]:
    """Newton's method on loglike - (n alpha / 2) ||beta||^2 (intercept unpenalised)."""
    Xc = _dense_with_constant(prob)
    weights = np.r_[0.0, np.ones(prob.p)]
    model = GLMPenalized(
        prob.y,
        Xc,
        family=_sm_family(prob),
        penal=L2(weights=weights),
        pen_weight=prob.n * prob.alpha / 2,
    )
    res = model.fit(method="newton", maxiter=100, tol=tol, disp=False)
    params = np.asarray(res.params)
    return {"intercept": params[0], "coef": params[1:], "n_iter": res.mle_retvals.get("iterations")}


def statsmodels_enet(prob: Problem, tol: float) -> dict[str, Any]:
    """GLM.fit_regularized(method="elastic_net") with alpha 0 on the constant."""
    Xc = _dense_with_constant(prob)
    alpha = np.r_[0.0, np.full(prob.p, prob.alpha)]
    model = sm.GLM(prob.y, Xc, family=_sm_family(prob))
    res = model.fit_regularized(
        method="elastic_net", alpha=alpha, L1_wt=prob.l1_ratio, maxiter=1000, cnvrg_tol=tol
    )
    params = np.asarray(res.params)
    return {"intercept": params[0], "coef": params[1:]}


@dataclass
class Runner:
    """A library's way of fitting problems.

    ``applies(prob)`` returns None when the runner fits ``prob``, a reason
    when the library cannot (reported as n/a), or "" when the runner is simply
    for another kind of problem (a path runner on a single fit; not listed).
    """

    label: str
    library: str
    fit: Callable[[Problem, float], dict[str, Any]]  # (problem, tol) -> solution
    applies: Callable[[Problem], str | None]
    tol: float | None = None  # None: TOLERANCES / TOLERANCE_OVERRIDES

    def tol_for(self, prob: Problem) -> float:
        if self.tol is not None:
            return self.tol
        return TOLERANCE_OVERRIDES.get((prob.name, self.label), TOLERANCES[self.label])


def _first(prob: Problem, *checks: Callable[[Problem], str | None]) -> str | None:
    """The first check that does not return None (a reason, or "" to skip)."""
    for check in checks:
        reason = check(prob)
        if reason is not None:
            return reason
    return None


def _only_single(prob: Problem) -> str | None:
    return "" if prob.is_path else None


def _only_path(prob: Problem) -> str | None:
    return None if prob.is_path else ""


def _only_cv(prob: Problem) -> str | None:
    return None if prob.is_cv else ""


def _only_frame(prob: Problem) -> str | None:
    """Problems that also come as a categorical DataFrame (sparse_onehot)."""
    return None if prob.frame is not None else ""


def _no_l1(prob: Problem) -> str | None:
    if prob.is_path:
        return ""
    return "cannot fit an L1 penalty" if prob.l1_ratio > 0 else None


def _only_l1(prob: Problem) -> str | None:
    if prob.is_path or prob.l1_ratio == 0:
        return ""  # an L1 solver: not listed on ridge problems
    return None


def _logistic_only(prob: Problem) -> str | None:
    return None if prob.family == "binomial" else "LogisticRegression is for the binomial family"


def _sm_dense(prob: Problem) -> str | None:
    if sp.issparse(prob.X) and prob.n * prob.p * 8 > 1e9:
        gb = prob.n * (prob.p + 1) * 8 / 1e9
        return f"needs a dense X ({gb:.1f} GB as float64)"
    return _no_l1(prob)


def _sm_enet(prob: Problem) -> str | None:
    if prob.is_path:
        return "no path solver (fit_regularized would run once per alpha, from scratch)"
    if prob.l1_ratio == 0:
        return ""
    if prob.n * prob.p > 5e5:
        return "fit_regularized is a per-coordinate Python loop; run only at n*p <= 5e5 (--quick)"
    return None


# Convergence tolerance of every runner, in each library's own units: the
# loosest setting on a 10x ladder (1e-4, 1e-5, ...) whose objective came within
# 1e-7 (relative) of the best objective any library reached, measured by
# benchmarks/tol_sweep.py at 1/10 of the full size (README.md, "Tolerances").
# The libraries measure convergence differently: glmlib bounds the change of
# the linear predictor in a Newton step; glum the (sub)gradient; scikit-learn's
# lbfgs the projected gradient, newton-cholesky the Newton decrement, liblinear
# and saga their own criteria; statsmodels' Newton the change of the parameters.
TOLERANCES: dict[str, float] = {
    "glmlib": 1e-4,
    "glmlib (categorical DataFrame)": 1e-4,  # same solver and criterion as "glmlib"
    "glmlib (regularization_path)": 1e-4,
    "glum": 1e-4,
    "glum (categorical DataFrame)": 1e-4,
    "glum (alpha_search path)": 1e-4,
    "sklearn (lbfgs)": 1e-4,
    "sklearn (newton-cholesky)": 1e-4,
    "sklearn (liblinear)": 1e-4,
    "sklearn (liblinear path)": 1e-5,
    "sklearn (saga)": 1e-4,
    "sklearn (saga path, warm start)": 1e-4,
    "statsmodels (penalized Newton)": 1e-4,
    # Not swept (it runs only at --quick sizes); statsmodels' default is 1e-7.
    "statsmodels (fit_regularized)": 1e-8,
    # Cross-validation: the path runners' settings.
    "glmlib (GLMCV)": 1e-4,
    "glum (GeneralizedLinearRegressorCV)": 1e-4,
}
# Problem-specific exceptions to TOLERANCES (same rule).
TOLERANCE_OVERRIDES: dict[tuple[str, str], float] = {
    ("sparse_onehot", "sklearn (lbfgs)"): 1e-6,
}


def runners() -> list[Runner]:
    def make(label: str, library: str, fit: Any, applies: Any, **kw: Any) -> Runner:
        if applies is not _only_cv:  # single fits and paths: not on cross-validation problems
            applies = _not_cv(applies)
        return Runner(label, library, lambda prob, tol: fit(prob, tol, **kw), applies)

    out = [
        make("glmlib", "glmlib", glmlib_fit, _only_single),
        make("glmlib (categorical DataFrame)", "glmlib", glmlib_fit, _only_frame, frame=True),
        make("glmlib (regularization_path)", "glmlib", glmlib_path, _only_path),
        make("glum", "glum", glum_fit, _only_single),
        make("glum (categorical DataFrame)", "glum", glum_fit, _only_frame, frame=True),
        make("glum (alpha_search path)", "glum", glum_path, _only_path),
    ]
    for solver in ("lbfgs", "newton-cholesky"):
        out.append(make(f"sklearn ({solver})", "sklearn", sklearn_fit, _no_l1, solver=solver))
    for solver in ("liblinear", "saga"):
        l1_single = lambda prob: _first(prob, _only_l1, _logistic_only)  # noqa: E731
        out.append(make(f"sklearn ({solver})", "sklearn", sklearn_fit, l1_single, solver=solver))
        label = f"sklearn ({solver} path{', warm start' if solver == 'saga' else ''})"
        out.append(make(label, "sklearn", sklearn_path, _only_path, solver=solver))
    out.append(make("statsmodels (penalized Newton)", "statsmodels", statsmodels_ridge, _sm_dense))
    out.append(make("statsmodels (fit_regularized)", "statsmodels", statsmodels_enet, _sm_enet))
    out.append(make("glmlib (GLMCV)", "glmlib", glmlib_cv, _only_cv))
    out.append(make("glum (GeneralizedLinearRegressorCV)", "glum", glum_cv, _only_cv))
    return out


def _not_cv(applies: Callable[[Problem], str | None]) -> Callable[[Problem], str | None]:
    return lambda prob: "" if prob.is_cv else applies(prob)


# ---------------------------------------------------------------------- harness
def _child(conn: Any, runner: Runner, prob: Problem) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner.fit(prob.head(WARMUP_ROWS), runner.tol_for(prob))
        rss_before = _reset_peak_rss()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            out = runner.fit(prob, runner.tol_for(prob))
            seconds = time.perf_counter() - t0
        if rss_before is not None:
            out["extra_peak_mb"] = (_status_kb("VmHWM") - rss_before) / 1024
        msgs = sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught})
        conven = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        conn.send(("ok", seconds, out, msgs, conven))
    except BaseException:  # noqa: BLE001 - report anything, the parent carries on
        conn.send(("error", traceback.format_exc(limit=6)))
    finally:
        conn.close()


def _status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS: resident now, VmHWM: peak since reset)."""
    with open("/proc/self/status") as fh:
        return int(next(line.split()[1] for line in fh if line.startswith(field + ":")))


def _reset_peak_rss() -> int | None:
    """Reset this process's peak RSS to its current RSS; return that RSS in kB (None: no /proc).

    The forked child starts with the parent's pages (X, y) resident, so the
    peak of the fit above this value is the fit's own extra memory.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_kb("VmRSS")
    except OSError:
        return None


def run_once(runner: Runner, prob: Problem, cap: float) -> tuple[str, Any]:
    """Fit in a forked child; ("ok", result) / ("capped", cap) / ("error", text)."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, runner, prob), daemon=True)
    proc.start()
    send.close()
    # Allow the untimed warm-up on top of the cap.
    if not recv.poll(cap + 60.0):
        proc.kill()
        proc.join()
        return "capped", cap
    try:
        msg = recv.recv()
    except EOFError:
        proc.join()
        return "error", f"child exited with code {proc.exitcode} (killed for memory?)"
    proc.join()
    if msg[0] == "ok":
        _, seconds, out, msgs, conven = msg
        if seconds > cap:
            return "capped", seconds
        return "ok", {
            "seconds": seconds,
            "fit": out,
            "warnings": msgs,
            "convergence_warning": conven,
        }
    return "error", msg[1]


@dataclass
class Entry:
    runner: Runner
    times: list[float] = field(default_factory=list)
    fit: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    convergence_warning: bool = False
    status: str = "ok"
    detail: str = ""


def bench_problem(
    prob: Problem, libs: list[str], repeats: int, cap: float, budget: float
) -> list[Entry]:
    entries = []
    for r in runners():
        if r.library not in libs:
            continue
        reason = r.applies(prob)
        if reason == "":
            continue
        e = Entry(r)
        if reason is not None:
            e.status, e.detail = "n/a", reason
        entries.append(e)
    live = [e for e in entries if e.status == "ok"]
    for rep in range(repeats):
        order = live[rep % len(live) :] + live[: rep % len(live)] if live else []
        for e in order:
            if e.status != "ok":
                continue
            spent = sum(e.times)
            if e.times and spent + min(e.times) > budget:
                continue  # another repeat would exceed this library's budget
            status, value = run_once(e.runner, prob, cap)
            if status == "ok":
                e.times.append(value["seconds"])
                if e.fit is None:
                    e.fit = value["fit"]
                    e.warnings = value["warnings"]
                    e.convergence_warning = value["convergence_warning"]
                print(
                    f"    {e.runner.label:<40s} rep {rep + 1}: {value['seconds']:8.2f} s",
                    flush=True,
                )
            elif status == "capped":
                e.status, e.detail = "capped", f"killed at {cap:.0f} s (cap)"
                print(f"    {e.runner.label:<40s} rep {rep + 1}: capped at {cap:.0f} s", flush=True)
            else:
                e.status, e.detail = "error", str(value).strip().splitlines()[-1]
                print(f"    {e.runner.label:<40s} rep {rep + 1}: ERROR {e.detail}", flush=True)
                print(value, file=sys.stderr)
    return entries


def summarise(prob: Problem, entries: list[Entry]) -> list[dict[str, Any]]:
    """Seconds, ratio to glmlib and objective gap for every entry."""
    ref = next((e for e in entries if e.runner.library == "glmlib" and e.fit is not None), None)
    ref_obj = objectives(prob, ref.fit) if ref is not None and ref.fit else None
    ref_t = min(ref.times) if ref is not None and ref.times else None
    rows = []
    for e in entries:
        row: dict[str, Any] = {
            "label": e.runner.label,
            "library": e.runner.library,
            "tol": e.runner.tol_for(prob),
            "status": e.status,
            "detail": e.detail,
            "times": e.times,
            "seconds": min(e.times) if e.times else None,
            "repeats": len(e.times),
            "warnings": e.warnings,
            "convergence_warning": e.convergence_warning,
        }
        if e.fit is not None:
            obj = objectives(prob, e.fit)
            row["objective"] = float(obj[-1]) if not prob.is_path else obj.tolist()
            row["n_iter"] = e.fit.get("n_iter")
            row["note"] = e.fit.get("note")
            coef = e.fit["coef"] if not prob.is_path else e.fit["coefs"][-1]
            row["nonzero"] = int(np.count_nonzero(np.abs(np.asarray(coef)) > 0))
            if e.fit.get("extra_peak_mb") is not None:
                row["extra_peak_mb"] = e.fit["extra_peak_mb"]
                row["extra_peak_share_of_X"] = e.fit["extra_peak_mb"] * 2**20 / _nbytes(prob.X)
            if ref_obj is not None:
                gap = (obj - ref_obj) / np.abs(ref_obj)
                row["gap"] = float(np.max(gap))  # worst over the path
                row["gap_min"] = float(np.min(gap))
            if ref_t and row["seconds"]:
                row["ratio"] = row["seconds"] / ref_t
        rows.append(row)
    return rows


def _nbytes(X: Any) -> int:
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(X.nbytes)


def _fmt(x: Any, spec: str, empty: str = "") -> str:
    return empty if x is None else format(x, spec)


def table(is_path: bool, rows: list[dict[str, Any]], markdown: bool) -> str:
    """The results of one problem as a plain-text or Markdown table."""
    gap_name = "gap (max over path)" if is_path else "gap"
    head = ["library", "seconds", "x glmlib", gap_name, "tol", "iters", "extra MB", "note"]
    lines = []
    for r in rows:
        if r["status"] in ("n/a", "error") or (r["status"] == "capped" and not r["times"]):
            seconds = "n/a" if r["status"] == "n/a" else r["status"]
            cells = [r["label"], seconds, "", "", "", "", "", r["detail"]]
        else:
            note = [str(r.get("note") or "")]
            if r["convergence_warning"]:
                note.append("ConvergenceWarning")
            if r["repeats"] > 0:
                note.append(f"best of {r['repeats']}")
            cells = [
                r["label"],
                _fmt(r["seconds"], ".2f"),
                _fmt(r.get("ratio"), ".2f"),
                _fmt(r.get("gap"), "+.1e"),
                _fmt(r.get("tol"), ".0e"),
                _fmt(r.get("n_iter"), "d") if isinstance(r.get("n_iter"), int) else "",
                _mem_cell(r),
                "; ".join(x for x in note if x),
            ]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        + [fmt.format(*c) for c in lines]
    )


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets for one problem: no slower than glum, 3x faster than sklearn."""
    ok = [r for r in rows if r["seconds"] is not None and r.get("gap") is not None]
    # glmlib's fastest input representation against each library's fastest one
    # (on sparse_onehot: CSR or the categorical DataFrame, for glmlib and glum alike).
    mine = [r for r in ok if r["library"] == "glmlib" and abs(r["gap"]) <= GAP_OK]
    if not mine:
        return {"glmlib": "no result"}
    g = min(mine, key=lambda r: r["seconds"])
    out: dict[str, Any] = {"glmlib_seconds": g["seconds"], "glmlib_label": g["label"]}
    for lib, factor in (("glum", 1.0), ("sklearn", 3.0)):
        cands = [r for r in ok if r["library"] == lib]
        good = [r for r in cands if r["gap"] <= GAP_OK]
        pool = good or cands
        if not pool:
            out[lib] = {"met": None, "why": "no comparable result"}
            continue
        best = min(pool, key=lambda r: r["seconds"])
        speedup = best["seconds"] / g["seconds"]
        # gaps in the rows are relative to the first glmlib row; re-base on g
        gap = best["gap"] - g["gap"]
        out[lib] = {
            "against": best["label"],
            "seconds": best["seconds"],
            "speedup": speedup,
            "required": factor,
            "objective_gap": gap,
            "reached_objective": bool(good),
            "met": bool(speedup >= factor and gap >= -GAP_OK),
        }
    return out


def _mem_cell(r: dict[str, Any]) -> str:
    """Extra peak RSS of the timed fit (first repeat) and its share of X's bytes."""
    mb = r.get("extra_peak_mb")
    if mb is None:
        return ""
    return f"{mb:.0f} ({100 * r['extra_peak_share_of_X']:.0f}% of X)"


def target_text(tgt: dict[str, Any]) -> str:
    """One line per target: met or not, with the numbers."""
    if "glmlib_seconds" not in tgt:
        return "targets: no glmlib result"
    lines = []
    for lib, what in (("glum", "no slower than glum"), ("sklearn", "3x faster than scikit-learn")):
        t = tgt.get(lib, {})
        if t.get("met") is None:
            lines.append(f"- {what}: not measured ({t.get('why', 'no result')})")
            continue
        verdict = "met" if t["met"] else "NOT met"
        reached = "" if t["reached_objective"] else "; it did not reach the 1e-6 objective gap"
        mine = tgt.get("glmlib_label", "glmlib")
        lines.append(
            f"- {what}: {verdict}: {mine} {tgt['glmlib_seconds']:.2f} s, {t['against']} "
            f"{t['seconds']:.2f} s, speed-up {t['speedup']:.2f}x (needed {t['required']:g}x); "
            f"its objective gap to glmlib {t['objective_gap']:+.1e}{reached}"
        )
    return "\n".join(lines)


def render(path: str, markdown: bool) -> None:
    """Print the tables and targets of a saved ``--out`` JSON file."""
    with open(path) as fh:
        report = json.load(fh)
    env = report["environment"]
    print(
        f"{env['date']}, revision {env.get('revision', 'unknown')}, {env['cpu']}, "
        f"{env['cores']} cores, {env['ram_gib']} GiB, threads {env.get('thread_env')}"
    )
    for name, res in report["problems"].items():
        print(f"\n### {name}: {res['description']}\n")
        print(table(isinstance(res["alpha"], list), res["rows"], markdown))
        print()
        print(target_text(res["targets"]))
        print(f"\nload average after this problem: {res.get('loadavg_after')}")


def environment() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line.split()[1] for line in fh if line.startswith("MemTotal")))
            mem = round(kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    import numba
    import scipy
    import torch
    from threadpoolctl import threadpool_info

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        import subprocess

        git = ["git", "-C", root]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "glmlib"], capture_output=True, text=True
        ).stdout
        revision = commit.strip() + (" (glmlib/ modified)" if dirty.strip() else "")
    except OSError:
        revision = "unknown"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revision": revision,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem,
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "thread_env": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
        },
        "threadpools": [
            {k: t.get(k) for k in ("internal_api", "num_threads", "filepath")}
            for t in threadpool_info()
        ],
        "versions": {
            "glmlib": glmlib.__version__,
            "glum": glum.__version__,
            "scikit-learn": sklearn.__version__,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test, < 1 min)")
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="rows as a multiple of the full size (2: n = 2e6 for the memory measurements)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed fits per library, best taken (3; 1 with --quick)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for BLAS/OpenMP/numba in every library (default: theirs; 1 with --quick)",
    )
    ap.add_argument("--cap-seconds", type=float, default=600.0, help="kill a fit after this long")
    ap.add_argument(
        "--budget-seconds",
        type=float,
        default=900.0,
        help="skip further repeats of a library once its fits on a problem took this long",
    )
    ap.add_argument("--out", help="write all results (times, objectives, warnings) as JSON")
    ap.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    ap.add_argument("--from-json", help="print the tables of a saved --out file and exit")
    args = ap.parse_args(argv)
    if args.from_json:
        render(args.from_json, args.markdown)
        return 0
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3

    env = environment()
    print(f"# {env['date']}  {env['cpu']}, {env['cores']} cores, {env['ram_gib']} GiB")
    print(f"# revision {env['revision']}")
    print("# " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    print(f"# load average at start: {env['loadavg_at_start']}; threads: {env['thread_env']}")
    report: dict[str, Any] = {"environment": env, "args": vars(args), "problems": {}}
    for name in args.problems:
        t0 = time.perf_counter()
        prob = make_problem(name, args.quick, args.scale)
        print(f"\n## {name}: {prob.description}  (data built in {time.perf_counter() - t0:.1f} s)")
        entries = bench_problem(
            prob, args.libraries, args.repeats, args.cap_seconds, args.budget_seconds
        )
        rows = summarise(prob, entries)
        tgt = targets(rows)
        print()
        print(table(prob.is_path, rows, args.markdown))
        print(target_text(tgt))
        report["problems"][name] = {
            "description": prob.description,
            "n": prob.n,
            "p": prob.p,
            "alpha": prob.alpha if not prob.is_path else prob.alphas.tolist(),
            "l1_ratio": prob.l1_ratio,
            "rows": rows,
            "targets": tgt,
            "loadavg_after": os.getloadavg(),
        }
        del prob, entries
        if args.out:  # write as we go, so a long run leaves partial results
            with open(args.out, "w") as fh:
                json.dump(report, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
