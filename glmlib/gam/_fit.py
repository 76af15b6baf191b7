"""Fitting a GAM on the core: penalised IRLS with smoothness selection.

With the smoothing parameters fixed, a GAM is a GLM with a quadratic penalty:
the core's :class:`glmlib.solver.problem.Problem` with ``penalty_matrix`` holds the
data, family and objective on the fit's backend (NumPy or PyTorch). The core
minimises the normalised objective sum_i v_i d_i / 2 + theta' S theta / 2 with
v = w / sum(w); mgcv's and pyGAM's penalised deviance
sum_i w_i d_i + sum_j lambda_j beta' P_j beta is 2 sum(w) times that, so the
core receives S = S_lambda / sum(w).

Selecting lambda uses the *performance iteration* (Gu 1992; Wood 2004), run on
the core's one Newton routine, :func:`glmlib.solver.newton.newton`, through its
``between_iterations`` hook (:class:`_Smoothing`). Each Newton iteration makes
one pass over the data at the current linear predictor for the gradient and
X'WX; the hook turns them into the working model's statistics on R's scale
(:func:`working_model`: no second pass), chooses log(lambda) for that working
model by minimising REML, GCV or UBRE on the host (:mod:`._smoothing`, p x p
work only) and hands the new penalty to the core, which then takes its
penalised Newton (Fisher scoring) step with its own line search. When lambda
has settled the hook freezes it and lets the core stop at its usual
convergence test. The intercept-only (null) model is the core's
:func:`glmlib.solver.null.null_intercept`.

The cost is one pass over the data per iteration (plus O(n) work per line-search
trial), on whatever backend holds the data; no n x p factorisation is formed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import device_of, to_numpy
from ..solver.choice import choose_solver, solve
from ..solver.newton import Iterate
from ..solver.null import null_intercept
from ..solver.problem import Problem
from ._smoothing import RHO_RANGE, Criterion, PenaltyStructure, WorkingModel, select_smoothing

__all__ = ["GAMFit", "working_model", "fit_null", "fit_gam"]

#: Stop the performance iteration when log(lambda) moves less than this.
_RHO_TOL = 1e-3
#: ... and the linear predictor less than this (then lambda is frozen).
_SETTLED = 1e-4


@dataclass
class GAMFit:
    theta: Any
    eta: Any
    rho: np.ndarray
    n_iter: int
    converged: bool
    history: list[dict[str, float]] = field(default_factory=list)
    model: WorkingModel | None = None


def working_model(state: Iterate) -> WorkingModel:
    """The working linear model of one Newton iteration, on R's scale.

    From what the core has formed (no further pass over X): with W the Fisher
    weights and z - eta = (y - mu) g'(mu) the working residuals,
    A = [1 X]' W [1 X] (the core's Gram matrix), r = [1 X]' W (z - eta) (minus
    its gradient) and c = sum W (z - eta)^2, one reduction over the rows. The
    core's quantities use weights summing to one; R's scale is sum(w) times.
    Only these q x q and q-sized results reach the host.
    """
    prob = state.prob
    xp = prob.xp
    score, fisher = state.score, state.fisher
    safe = xp.where(fisher > 0, fisher, 1.0)
    c = prob.reduce(xp.sum(xp.where(fisher > 0, score * score / safe, 0.0)))
    n = prob.reduce(xp.sum(xp.astype(prob.weights > 0, xp.float64)))
    ws = prob.weight_sum
    return WorkingModel(
        A=to_numpy(state.hess) * ws,
        r=-to_numpy(state.grad) * ws,
        c=float(c) * ws,
        theta=to_numpy(state.theta).copy(),
        n=float(n),
    )


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
    which adds a fixed ridge to ``structure``). This is the core's
    :func:`~glmlib.solver.newton.newton` with the :class:`_Smoothing` hook. Each
    iteration: the core's pass over the data, which also gives the working
    model at theta; while lambda is free, minimise the criterion over
    log(lambda) (host, p x p); the core's penalised Newton step for the
    current lambda with its backtracking line search. Once log(lambda) moves less than 1e-3 and the
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
    hook = _Smoothing(structure, method, scale, gamma, max_iter)
    # Smoothing penalties are quadratic: IRLS, with the penalty updated by the hook.
    n_params = prob.design.p + int(prob.fit_intercept)
    irls = choose_solver("irls", n_params=n_params, has_l1=False, device=prob.backend.device)
    res = solve(prob, theta, irls, tol=tol, max_iter=max_iter, eta=eta, between_iterations=hook)
    assert hook.model is not None
    converged = res.converged and hook.settled
    return GAMFit(res.theta, res.eta, hook.rho, res.n_iter, converged, res.history, hook.model)


class _Smoothing:
    """The performance iteration's lambda selection, as :func:`newton`'s hook.

    At each iteration: the working model (:func:`working_model`); at the first,
    balanced starting lambdas and the pinning of unidentified directions;
    while lambda is free, the criterion's minimum over log(lambda) within
    ``RHO_RANGE`` of the start; then the penalty S_lambda / sum(w) for the
    core. Lambda is frozen once log(lambda) moved less than ``_RHO_TOL`` and
    the previous step moved the linear predictor less than ``_SETTLED`` (or
    after ``max_iter // 2`` iterations, unsettled); the core may stop only then.
    """

    def __init__(
        self,
        structure: PenaltyStructure,
        method: str,
        scale: float | None,
        gamma: float,
        max_iter: int,
    ) -> None:
        self.structure, self.method, self.scale, self.gamma = structure, method, scale, gamma
        self.max_iter = max_iter
        self.frozen = structure.n_free == 0
        #: whether lambda settled (rather than being frozen at the iteration limit).
        self.settled = self.frozen
        self.rho = np.zeros(structure.n_free)
        self.rho_change = math.inf
        self.bounds: list[tuple[float, float]] = []
        #: the working model of the last iteration (for EDF and covariances).
        self.model: WorkingModel | None = None

    def __call__(self, state: Iterate) -> tuple[bool, dict[str, float]]:
        structure, it = self.structure, state.iteration
        self.model = model = working_model(state)
        if it == 1:
            self.rho = structure.balanced_log_lambda(model.A)
            structure.pin_unidentified(model.A, self.rho)
            self.bounds = [(c - RHO_RANGE, c + RHO_RANGE) for c in self.rho]
        elif not self.frozen:
            settled = self.rho_change <= _RHO_TOL
            if (settled and state.last_change <= _SETTLED) or it - 1 >= self.max_iter // 2:
                self.settled, self.frozen = settled, True
        row: dict[str, float] = {}
        if not self.frozen:
            crit = Criterion(model, structure, self.method, self.scale, self.gamma)
            new_rho, value, nfev = select_smoothing(crit, self.rho, self.bounds)
            self.rho_change = float(np.max(np.abs(new_rho - self.rho))) if it > 1 else math.inf
            self.rho = new_rho
            row.update(criterion=value, evaluations=nfev, max_rho_change=self.rho_change)
        _set_penalty(state.prob, structure.matrix(np.exp(self.rho)))
        row["frozen"] = float(self.frozen)
        return self.frozen, row
