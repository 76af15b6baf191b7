"""The intercept-only (null) model, shared by GLM, GLMCV and GAM.

Without an offset the maximum-likelihood intercept has a closed form for every
family and link: with a constant linear predictor the score equation reduces
to sum_i w_i (y_i - mu) = 0, so mu is the weighted mean of y. With an offset
(or a mean on the boundary of the family's range) it is fitted by Newton's
method, started as R's glm.fit starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import to_numpy
from .newton import newton
from .problem import Problem

__all__ = ["null_intercept"]


def null_intercept(prob: Problem, tol: float, max_iter: int, closed_form: bool = True) -> Any:
    """The intercept of the intercept-only fit (with the offset), a 1-vector on the backend.

    ``closed_form=False`` always uses Newton's method (the GAM's smoothness
    selection keeps the start it was validated with; see glmlib.gam._fit).
    """
    b0 = _closed_form_intercept(prob) if closed_form else None
    return _newton_intercept(prob, tol, max_iter) if b0 is None else b0


def _closed_form_intercept(prob: Problem) -> Any:
    """g(weighted mean of y) without an offset; None when there is an offset, or
    when the mean is on the boundary of the family's range (all-zero counts,
    all-0 or all-1 binomial), where no finite intercept exists."""
    xp = prob.xp
    has_offset = xp.astype(xp.any(prob.offset != 0), xp.float64)
    if float(prob.reduce(has_offset, "max")) > 0:
        return None
    m = xp.reshape(prob.reduce(xp.sum(prob.weights * prob.y)), (1,))
    mean = float(m[0])
    if (prob.family.name == "binomial" and not 0 < mean < 1) or (
        prob.family.name != "gaussian" and not mean > 0
    ):
        return None
    b0 = prob.family.link.link(m)
    ok = prob.family.link.valid_eta(b0) & prob.family.valid_mu(prob.family.link.inverse(b0))
    return b0 if bool(xp.all(ok & xp.isfinite(b0))) else None


def _newton_intercept(prob: Problem, tol: float, max_iter: int) -> Any:
    xp = prob.xp
    b = prob.backend
    fam = prob.family
    m = float(prob.reduce(xp.sum(prob.weights * prob.starting_mu())))
    if fam.name == "binomial":
        m = min(max(m, 1e-8), 1 - 1e-8)
    elif fam.name != "gaussian":
        m = max(m, 1e-8)
    b0 = float(to_numpy(fam.link.link(b.asarray(np.array([m]), dtype=np.float64)))[0])
    b0 -= float(prob.reduce(xp.sum(prob.weights * prob.offset)))
    res = newton(
        prob,
        b.asarray(np.array([b0]), dtype=np.float64),
        b.asarray(np.zeros(0, dtype=np.int64)),
        tol=tol,
        max_iter=max_iter,
    )
    return res.theta
