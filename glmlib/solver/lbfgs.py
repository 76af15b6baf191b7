"""L-BFGS-B on the penalised objective: the first-order alternative to Newton.

For problems whose p x p Gram matrix would not fit (``GLM(solver="lbfgs")``).
The L1 part is handled exactly by splitting each coefficient into positive and
negative parts with bound constraints; only p-vectors cross to the host.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.optimize

from .._backend import to_numpy
from .problem import FitResult, Problem

__all__ = ["fit_lbfgs"]


def fit_lbfgs(
    prob: Problem,
    theta: Any,
    *,
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> FitResult:
    """L-BFGS-B on the objective, for p too large for a Gram matrix.

    The L1 part is handled exactly by splitting each coefficient into positive
    and negative parts with bound constraints. Only p-vectors cross to the host.
    """
    l1, l2 = prob.penalties()
    l1_h, l2_h = to_numpy(l1), to_numpy(l2)
    k = theta.shape[0]
    start = int(prob.fit_intercept)
    theta_h = to_numpy(theta).astype(np.float64)
    history: list[dict[str, float]] = []

    def unpack(z: np.ndarray) -> np.ndarray:
        return z[:k] - z[k:]

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        th = unpack(z)
        th_b = prob.backend.asarray(th, dtype=np.float64)
        eta = prob.eta(th_b)
        g_h = to_numpy(prob.gradient(prob.working_weights(eta)[1])) + l2_h * th
        f = (
            float(prob.loss(eta))
            + 0.5 * float(np.sum(l2_h * th**2))
            + float(np.sum(l1_h * np.abs(z[:k]) + l1_h * np.abs(z[k:])))
        )
        if not math.isfinite(f):
            return 1e300, np.zeros(2 * k)
        return f, np.concatenate([g_h + l1_h, -g_h + l1_h])

    z0 = np.concatenate([np.clip(theta_h, 0, None), np.clip(-theta_h, 0, None)])
    bounds: list[tuple[float | None, float | None]]
    free: tuple[float | None, float | None] = (None, None)
    positive: tuple[float | None, float | None] = (0.0, None)
    bounds = [free if j < start else positive for j in range(k)] * 2
    bounds[k : k + start] = [(0.0, 0.0)] * start  # the intercept lives in the positive part
    res = scipy.optimize.minimize(
        fun,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e3 * np.finfo(float).eps, "maxcor": 20},
    )
    th = prob.backend.asarray(unpack(res.x), dtype=np.float64)
    eta = prob.eta(th)
    history.append({"iteration": int(res.nit), "objective": float(res.fun)})
    return FitResult(th, eta, int(res.nit), bool(res.success), float(res.fun), False, history)
