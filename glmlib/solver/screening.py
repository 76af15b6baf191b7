"""Feature screening for L1 fits: strong rules with a KKT check.

Only the features that may be non-zero enter the Gram matrix. The candidates
are the strong set of Tibshirani et al. (2012) -- |grad_j| >= l1_ratio pf_j
(2 alpha - alpha_prev) at the previous solution -- plus the features already
non-zero; after the fit the KKT conditions are checked on every screened-out
feature and violators are added until none remain, so the result is exact.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .._backend import device_of, to_numpy
from .choice import elastic_net
from .newton import newton
from .problem import FitResult, Problem

__all__ = ["scatter", "screened_newton"]

# Relative slack in the KKT check for features screened out.
_KKT_SLACK = 1e-7
# With coarse grids (alpha_prev > 2 alpha) the strong-rule threshold turns
# negative and would keep every feature; never screen below this share of alpha.
_MIN_THRESHOLD = 0.5


def scatter(prob: Problem, theta: Any, cols: Any) -> Any:
    """Expand theta over ``cols`` to all p columns (zeros elsewhere)."""
    xp = prob.xp
    start = int(prob.fit_intercept)
    full = xp.zeros(prob.design.p + start, dtype=xp.float64, device=device_of(theta))
    if start:
        full[0] = theta[0]
    full[cols + start] = theta[start:]
    return full


def _ordered(strong: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """The indices of ``strong``: those in ``order`` first (in that order), then the others.

    Sorted when it is every column (a fit over all columns reports its
    Hessian in column order).
    """
    cols = np.flatnonzero(strong)
    if order is None or cols.size == strong.size:
        return cols
    kept = order[strong[order]]
    new = np.setdiff1d(cols, kept, assume_unique=True)
    return np.concatenate([kept, new]).astype(np.int64)


def screened_newton(
    prob: Problem,
    theta: Any,
    grad: np.ndarray,
    alpha: float,
    alpha_prev: float,
    l1_ratio: float,
    pf: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    inner: str,
    reuse_last_model: bool = True,
    sampled_start: bool = False,
    previous: FitResult | None = None,
    eta: Any = None,
    loss: float | None = None,
) -> tuple[FitResult, np.ndarray]:
    """Fit at penalty ``alpha`` from ``theta`` (all columns) with screening.

    ``grad`` is the smooth loss's gradient at ``theta``. Returns the fit (theta
    over all columns) and the gradient at the solution. ``sampled_start``
    applies to the first working set's solve only (later ones start close
    to their solution). ``previous`` is the fit at the preceding path point:
    when the working set is the same, its Hessian is tried first. ``eta``
    and ``loss`` (the linear predictor and smooth loss at ``theta``), when
    given, spare the first solve a pass over X; with ``grad`` they are what
    the previous point's KKT check already computed.

    The working set's columns are ordered as the previous point's (those
    still in it), then the new ones: a design that keeps a copy of the
    previous columns then only adds the new ones.
    """
    xp = prob.xp
    b = prob.backend
    p = prob.design.p
    start = int(prob.fit_intercept)
    prob = elastic_net(prob, alpha, l1_ratio, pf)
    l1_h = alpha * l1_ratio * pf
    beta = to_numpy(theta[start:])
    if l1_ratio > 0:
        smooth = grad + alpha * (1 - l1_ratio) * pf * beta
        threshold = max(2 * alpha - alpha_prev, _MIN_THRESHOLD * alpha)
        strong = (np.abs(smooth) >= l1_ratio * pf * threshold) | (beta != 0) | (pf == 0)
    else:
        strong = np.ones(p, dtype=bool)
    n_iter = 0
    history: list[dict[str, float]] = []
    order = None if previous is None else previous.hess_cols
    while True:
        cols_h = _ordered(strong, order)
        cols = b.asarray(cols_h.astype(np.int64))
        warm_hess = None
        if previous is not None and previous.hess_cols is not None:
            if np.array_equal(previous.hess_cols, cols_h):
                warm_hess = previous.hess
        sub = theta[:start]
        if cols_h.size:
            sub = xp.concat([sub, theta[start:][cols]])
        res = newton(
            prob,
            sub,
            cols,
            tol=tol,
            max_iter=max_iter,
            inner=inner,
            reuse_last_model=reuse_last_model,
            sampled_start=sampled_start and n_iter == 0,
            warm_hess=warm_hess,
            eta=eta,
            loss=loss,
            feature_grad=None if eta is None else b.asarray(grad[cols_h], dtype=np.float64),
        )
        n_iter += res.n_iter
        history.extend(res.history)
        theta = scatter(prob, res.theta, cols)
        grad = to_numpy(prob.full_gradient(res.eta))
        beta = to_numpy(theta[start:])
        smooth = grad + alpha * (1 - l1_ratio) * pf * beta
        violators = ~strong & (np.abs(smooth) > l1_h * (1 + _KKT_SLACK) + 1e-12)
        if not np.any(violators):
            break
        strong |= violators
        order, eta, loss = cols_h, res.eta, res.loss
    fit = replace(res, theta=theta, n_iter=n_iter, history=history)
    return fit, grad
