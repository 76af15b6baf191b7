"""Fitting a GAM on the core: penalised IRLS with smoothness selection.

With the smoothing parameters fixed, a GAM is a GLM with a quadratic penalty:
the core's :class:`glmlib._solver.Problem` with ``penalty_matrix`` holds the
data, family and objective on the fit's backend (NumPy or PyTorch). The core
minimises the normalised objective sum_i v_i d_i / 2 + theta' S theta / 2 with
v = w / sum(w); mgcv's and pyGAM's penalised deviance
sum_i w_i d_i + sum_j lambda_j beta' P_j beta is 2 sum(w) times that, so the
core receives S = S_lambda / sum(w).

Selecting lambda uses the *performance iteration* (Gu 1992; Wood 2004): each
iteration makes one pass over the data at the current linear predictor to form
the working model's statistics (X'WX, accumulated in chunks by the core's
design, and X'W(z - eta)), chooses log(lambda) for that working model by
minimising REML, GCV or UBRE on the host (:mod:`._smoothing`, p x p work
only), and then takes the penalised Newton (Fisher scoring) step for the new
lambda, with a backtracking line search on the core's objective. When lambda
has settled it is frozen and the same iteration runs to convergence. The
intercept-only (null) model is the core's :func:`glmlib._null.null_intercept`.

The cost is one pass over the data per iteration (plus O(n) work per line-search
trial), on whatever backend holds the data; no n x p factorisation is formed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import device_of, to_numpy
from .._linalg import SymmetricFactor, rank_rtol
from .._null import null_intercept
from .._solver import Problem
from ._smoothing import RHO_RANGE, Criterion, PenaltyStructure, WorkingModel, select_smoothing
from ._threads import small_blas

__all__ = ["GAMFit", "working_model", "fit_null", "fit_gam"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 40
#: Stop the performance iteration when log(lambda) moves less than this.
_RHO_TOL = 1e-3
#: ... and the linear predictor less than this (then lambda is frozen).
_SETTLED = 1e-4
#: Predicted decreases below this (relative to the objective) are rounding noise.
_NOISE = 1e-11


@dataclass
class GAMFit:
    theta: Any
    eta: Any
    rho: np.ndarray
    n_iter: int
    converged: bool
    history: list[dict[str, float]] = field(default_factory=list)
    model: WorkingModel | None = None


def working_model(prob: Problem, theta: Any, eta: Any) -> tuple[WorkingModel, np.ndarray]:
    """The working linear model at theta on R's scale, and the normalised Gram diagonal.

    One pass over the data: W (Fisher weights), the working residuals
    z - eta = (y - mu) g'(mu), A = [1 X]' W [1 X], r = [1 X]' W (z - eta) and
    c = sum W (z - eta)^2. Only these p x p and p-sized results reach the host.
    """
    xp = prob.xp
    _, score, fisher = prob.working_weights(eta)
    gram = prob.design.gram(fisher, intercept=True)
    r = xp.concat([xp.sum(score)[None], prob.design.rmatvec(score)])
    safe = xp.where(fisher > 0, fisher, 1.0)
    c = xp.sum(xp.where(fisher > 0, score * score / safe, 0.0))
    ws = prob.weight_sum
    gram_h = to_numpy(gram)
    n = float(to_numpy(xp.sum(xp.astype(prob.weights > 0, xp.float64))))
    model = WorkingModel(
        A=gram_h * ws, r=to_numpy(r) * ws, c=float(c) * ws, theta=to_numpy(theta).copy(), n=n
    )
    return model, np.diag(gram_h)


def fit_null(prob: Problem, tol: float, max_iter: int) -> tuple[Any, Any]:
    """Intercept-only fit (with the offset): (theta of all coefficients, eta)."""
    xp = prob.xp
    # Newton's start, as before. The selection's sensitivity to round-off in the
    # start came from unidentified directions (PenaltyStructure.pin_unidentified,
    # tests/gam/test_gam_identifiability.py); switching to the closed form is untested.
    b0 = null_intercept(prob, tol, max_iter, closed_form=False)
    theta = xp.concat([b0, xp.zeros(prob.design.p, dtype=xp.float64, device=device_of(b0))])
    return theta, prob.offset + b0


def _set_penalty(prob: Problem, S: np.ndarray) -> None:
    """Hand S_lambda (q x q, intercept first, R scale) to the core, normalised."""
    prob.penalty_matrix = prob.backend.asarray(S[1:, 1:] / prob.weight_sum, dtype=np.float64)


def fit_gam(
    prob: Problem,
    theta: Any,
    eta: Any,
    structure: PenaltyStructure,
    *,
    method: str,
    scale: float | None,
    gamma: float,
    tol: float,
    max_iter: int,
) -> GAMFit:
    """Penalised IRLS, choosing lambda at each iteration until it settles.

    The first iteration also pins the coefficient directions that neither the
    data nor any penalty determines (:meth:`PenaltyStructure.pin_unidentified`,
    which adds a fixed ridge to ``structure``). Each iteration: one pass over
    the data for the working model at theta;
    while lambda is free, minimise the criterion over log(lambda) (host,
    p x p); the penalised Newton step for the current lambda with a
    backtracking line search. Once log(lambda) moves less than 1e-3 and the
    coefficients have nearly settled, lambda is frozen and the iteration
    continues as plain penalised IRLS until no coefficient moves the linear
    predictor by more than ``tol``. With every lambda fixed in advance this is
    penalised IRLS from the start.

    Parameters
    ----------
    prob : Problem
        The core's problem; its ``penalty_matrix`` is set here.
    theta, eta : arrays on the backend
        Starting coefficients (intercept first) and linear predictor.
    structure : PenaltyStructure
        Penalties and which lambdas are free.
    method : {"REML", "GCV", "UBRE"}
    scale : float or None
        Known dispersion, or None when it is estimated.
    gamma : float
        Degrees-of-freedom weight of GCV/UBRE.
    tol : float
        Convergence tolerance (largest change of the linear predictor).
    max_iter : int
        Iteration limit (lambda is frozen after ``max_iter // 2`` iterations
        at the latest).

    Returns
    -------
    GAMFit
        With ``model``: the working model of the last iteration (for EDF and
        covariances).
    """
    history: list[dict[str, float]] = []
    frozen = structure.n_free == 0
    rho = np.zeros(structure.n_free)
    S = structure.matrix(np.exp(rho))
    bounds: list[tuple[float, float]] = []
    converged = False
    lam_settled = frozen
    model = None
    it = 0
    for it in range(1, max_iter + 1):
        model, diag = working_model(prob, theta, eta)
        row: dict[str, float] = {"iteration": it}
        if it == 1:
            rho = structure.balanced_log_lambda(model.A)
            structure.pin_unidentified(model.A, rho)
            S = structure.matrix(np.exp(rho))
            bounds = [(c - RHO_RANGE, c + RHO_RANGE) for c in rho]
        if not frozen:
            crit = Criterion(model, structure, method, scale, gamma)
            new_rho, value, nfev = select_smoothing(crit, rho, bounds)
            rho_change = float(np.max(np.abs(new_rho - rho))) if it > 1 else math.inf
            rho = new_rho
            S = structure.matrix(np.exp(rho))
            row.update(criterion=value, evaluations=nfev, max_rho_change=rho_change)
        with small_blas():
            beta = _penalised_solve(model, S)
        _set_penalty(prob, S)
        theta, eta, t, change = _line_search(prob, theta, eta, beta, model, S, diag)
        row.update(step_size=t, max_change=change, frozen=float(frozen))
        history.append(row)
        if frozen:
            if change <= tol:
                converged = True
                break
        elif (rho_change <= _RHO_TOL and change <= _SETTLED) or it >= max_iter // 2:
            lam_settled = rho_change <= _RHO_TOL
            frozen = True
    assert model is not None
    return GAMFit(theta, eta, rho, it, converged and lam_settled, history, model)


def _penalised_solve(model: WorkingModel, S: np.ndarray) -> np.ndarray:
    """Minimiser of the working model's penalised sum of squares for penalty S."""
    h = model.A + S
    # Equilibrated Cholesky; minimum-norm least squares (eigenvalues below q eps
    # of the largest dropped, as numpy.linalg.lstsq does) when it breaks down.
    factor = SymmetricFactor(h, pivot_rtol=0.0, eig_rtol=rank_rtol(h.shape[0], 1.0))
    return model.theta + factor.solve(model.r - S @ model.theta)


def _line_search(
    prob: Problem,
    theta: Any,
    eta: Any,
    beta: np.ndarray,
    model: WorkingModel,
    S: np.ndarray,
    diag: np.ndarray,
) -> tuple[Any, Any, float, float]:
    """Backtrack from theta towards beta on the penalised objective (penalty S).

    Armijo's rule uses the directional derivative of the objective at theta,
    (-r + S theta)' step / sum(w), from the working model (no extra pass).
    """
    l1, l2 = prob.penalties()
    step_h = beta - model.theta
    slope = float((-model.r + S @ model.theta) @ step_h) / prob.weight_sum
    step = prob.backend.asarray(step_h, dtype=np.float64)
    x_step = prob.design.matvec(step[1:]) + step[0]
    f0 = prob.objective(eta, theta, l1, l2)
    slack = 8 * np.finfo(float).eps * max(abs(f0), 1.0)
    if -slope <= _NOISE * max(abs(f0), 1.0):
        # The whole step changes the objective by less than summation rounding
        # can resolve: Newton's quadratic model is exact to that order, take it.
        change = float(np.max(np.abs(step_h) * np.sqrt(np.clip(diag, 0, None))))
        return theta + step, eta + x_step, 1.0, change
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        eta_t = eta + t * x_step
        theta_t = theta + t * step
        f_t = prob.objective(eta_t, theta_t, l1, l2)
        if f_t <= f0 + _ARMIJO * t * min(slope, 0.0) + slack:
            change = float(np.max(np.abs(step_h) * np.sqrt(np.clip(diag, 0, None)))) * t
            return theta_t, eta_t, t, change
        t *= 0.5
    return theta, eta, 0.0, 0.0
