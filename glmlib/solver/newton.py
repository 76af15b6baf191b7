"""One (proximal) Newton method for every family, link and backend.

It minimises the objective of a :class:`~glmlib.solver.problem.Problem`
(penalised deviance, see :mod:`glmlib.solver.problem`). Each outer iteration makes one pass over X
to build the Fisher-scoring quadratic model (gradient and X'WX), then

* without an L1 part, solves it with a Cholesky factorisation (IRLS);
* with an L1 part, minimises the penalised quadratic with an inner solver
  (coordinate descent with active sets on the host, FISTA on a GPU;
  :mod:`glmlib.solver.inner`);

and finally runs a backtracking (Armijo) line search along the step, reusing
X @ step so that each trial costs O(n). Iterations stop when no coefficient
moves the linear predictor by more than ``tol`` (|step_j| * sqrt(H_jj)).
Optionally (penalised fits) each iteration first tries the previous Hessian
with the new gradient and, when that step is already below ``tol``, takes it
and stops without forming another Gram matrix.

Everything runs on the arrays' own backend; the host sees only a handful of
scalars per iteration (objective values and the convergence measure).

The order of calls in :func:`newton` is: working weights and gradient ->
Gram matrix -> the optional ``between_iterations`` hook -> ``_StepModel.step``
(Cholesky or inner solver) -> ``_line_search`` -> convergence check, repeated;
:func:`glmlib.solver.lbfgs.fit_lbfgs` is the first-order alternative for problems whose Gram
matrix would not fit.

The hook (:class:`IterationHook`) sees each iteration's quadratic model
(:class:`Iterate`) before the step and may replace ``Problem.penalty_matrix``;
it also says whether the fit may stop at that iteration. The GAM's smoothness
selection runs this way (:func:`glmlib.gam._fit.fit_gam`): it chooses lambda
for the working model the core has just formed, so a GAM fit is this one
Newton routine with its line search and convergence test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._arrow import ArrowFactor, with_diagonal
from .._backend import device_of, to_numpy
from .inner import coordinate_descent, fista
from .problem import FitResult, Problem

__all__ = ["Iterate", "IterationHook", "newton"]

_ARMIJO = 1e-4
_MAX_HALVINGS = 50
_ETA_TOL_FACTOR = 1e-3
_ROUNDOFF_SLACK = 1e-12
# Sampled Hessians (Problem.with_row_sample) are used until a step moves the
# linear predictor by less than _SAMPLE_SWITCH; the exact Gram matrix then
# takes over, so the convergence test and the Fisher matrix used for standard
# errors are exact.
_SAMPLE_SWITCH = 1e-2
# Chord steps on a warm Hessian (the previous point of a path) are kept while
# the objective's decrease is within this relative distance of the decrease
# their quadratic model predicts; as they converge linearly, they stop at
# _CHORD_STOP_FACTOR * tol.
_MODEL_AGREEMENT = 0.25
_CHORD_STOP_FACTOR = 0.1


@dataclass
class Iterate:
    """One Newton iteration's quadratic model, as :func:`newton` hands it to its hook.

    Everything is on the problem's backend and the core's normalised scale
    (weights summing to one): ``score`` and ``fisher`` are the working weights
    at ``eta``, ``grad`` and ``hess`` the smooth loss's gradient and Gram
    matrix in theta (intercept first when ``prob.fit_intercept``).
    """

    prob: Problem
    iteration: int
    theta: Any
    eta: Any
    score: Any
    fisher: Any
    grad: Any
    hess: Any
    #: the previous iteration's max_change (inf at the first iteration).
    last_change: float


class IterationHook(Protocol):
    """What :func:`newton` calls once per iteration, between the Gram matrix and the step.

    The hook may set ``state.prob.penalty_matrix``: the step, the line search
    and the objective then use the new penalty. It returns whether the fit may
    stop at this iteration, and entries for this iteration's history row.
    """

    def __call__(self, state: Iterate) -> tuple[bool, dict[str, float]]: ...


def newton(
    prob: Problem,
    theta: Any,
    cols: Any = None,
    *,
    tol: float = 1e-8,
    max_iter: int = 100,
    inner: str = "cd",
    inner_tol: float | None = None,
    reuse_last_model: bool = False,
    sampled_start: bool = False,
    warm_hess: Any = None,
    eta: Any = None,
    loss: float | None = None,
    feature_grad: Any = None,
    between_iterations: IterationHook | None = None,
) -> FitResult:
    """Minimise the objective over the intercept and the columns ``cols``.

    Parameters
    ----------
    prob : Problem
    theta : array
        Starting point ([intercept,] coefficients of ``cols``) on the backend.
    cols : array of int or None
        Columns that may be non-zero; None means all.
    tol : float
        Stop when max_j |step_j| sqrt(H_jj) <= tol.
    max_iter : int
        Outer iterations.
    inner : {"cd", "fista"}
        Inner solver for penalised quadratics with an L1 part.
    reuse_last_model : bool
        Before forming a new Hessian, try the step of the previous one with
        the new gradient; if it is below ``tol``, take it and stop. Saves the
        last pass over X that only confirms convergence, but leaves
        ``FitResult.hess`` two iterates behind the solution, so it is off for
        fits whose standard errors are reported (unpenalised ones).
    sampled_start : bool
        Use the Gram matrix of ``prob.row_sample`` (when set) until a step
        moves the linear predictor by less than 1e-2, then exact ones; meant
        for cold starts, whose first steps need no exact Hessian. The fit
        only stops after an exact Hessian, so ``FitResult.hess`` is exact.
    warm_hess : array, optional
        A Hessian over the same columns from a nearby fit (the previous point
        of a path). With ``reuse_last_model`` its steps are taken, without
        forming a Gram matrix, for as long as its quadratic model predicts the
        objective's actual decrease to within 25% (a chord method), and the
        fit stops when such a step is below ``tol / 10``; otherwise fresh
        Hessians take over, with the usual stopping rule.
    eta, loss, feature_grad : optional
        What is already known at ``theta`` (a path's previous point): the
        linear predictor, the smooth loss and the smooth loss's gradient in
        the coefficients of ``cols`` (without the intercept), so that the
        first iteration makes no pass over X to form them again.
    between_iterations : IterationHook, optional
        Called each iteration with its :class:`Iterate` after the Gram matrix
        is formed; it may change ``prob.penalty_matrix`` and may forbid
        stopping (the GAM's smoothness selection). Every iteration then forms
        a fresh Gram matrix: it excludes ``reuse_last_model``,
        ``sampled_start`` and ``warm_hess``.
    """
    hook = between_iterations
    if hook is not None and (reuse_last_model or sampled_start or warm_hess is not None):
        raise ValueError("between_iterations needs a fresh Gram matrix every iteration")
    if cols is not None:
        prob = prob.restrict(cols)
    xp = prob.xp
    l1, l2 = prob.penalties()
    model = _StepModel(prob, l1, l2, inner, tol * 1e-2 if inner_tol is None else inner_tol)
    if eta is None:
        eta, loss, feature_grad = prob.eta(theta), None, None
    if loss is None:
        f = prob.objective(eta, theta, l1, l2)
    else:
        f = loss + prob.penalty(theta, l1, l2)
        f = f if math.isfinite(f) else math.inf
    history: list[dict[str, float]] = []
    rank_deficient = False
    converged = False
    it = 0
    hess = warm_hess if reuse_last_model else None
    # Steps on a warm Hessian are taken while its quadratic model predicts the
    # objective's decrease well (the chord method); the first poor prediction
    # switches to fresh Gram matrices.
    on_warm_hess = hess is not None
    if theta.shape[0] == 0:  # nothing to fit: no intercept and no candidate columns
        return FitResult(theta, eta, 0, True, f, False, history)
    sampled = sampled_start and prob.row_sample is not None
    # Designs whose passes over X are expensive (Dask: files read again) may
    # offer X.T @ v and the Gram matrix from one pass; the Gram matrix is then
    # formed with every gradient, used whenever this iteration needs one.
    fused = getattr(prob.design, "rmatvec_gram", None)
    # Such a design may also form the working weights itself, partition by
    # partition, from the problem's row kernel: the score and Fisher weights
    # (2 n-vectors) are then never whole in memory.
    by_rows = getattr(prob.design, "rmatvec_gram_rows", None)
    change = math.inf
    extra: dict[str, float]  # the hook's entries for the history row
    for it in range(1, max_iter + 1):
        ls = x_step = None  # the last step's X @ step is not held through this iteration
        formed = None
        if by_rows is not None and not sampled and hook is None:
            rows = prob.weights_by_rows(eta)
            formed = None if rows is None else by_rows(rows, prob.fit_intercept)
        score = fisher = pending_gram = None
        if formed is not None:
            x_score, pending_gram, score_sum = formed
            grad = prob.gradient(None, x_score=x_score, score_sum=score_sum)
        elif fused is not None and not sampled:
            score, fisher = prob.score_fisher(eta)
            x_score, pending_gram = fused(score, fisher, prob.fit_intercept)
            grad = prob.gradient(score, x_score=x_score)
        else:
            score, fisher = prob.score_fisher(eta)
            x_score = prob.x_score(eta)  # formed by the line search's pass, if it could
            grad = prob.gradient(score, feature_grad if it == 1 else None, x_score=x_score)
        if hook is None:
            score = None  # not needed past the gradient: n floats less at the peak
            if pending_gram is not None:
                fisher = None  # the Gram matrix is formed: n floats less
        if sampled:
            approx = prob.sampled_gram(fisher)
            if approx is None:
                sampled = False
            else:
                # Not held through the line search; formed again (one pass
                # over n rows, not over X) in the rare case the step fails.
                fisher = None
                step, _, decrease = model.step(theta, grad, approx)
                full_change = model.scaled_change(step, approx)
                # A full step below the switch makes the next iteration exact
                # (if taken whole): its pass also forms the next Gram matrix.
                need_gram = full_change <= _SAMPLE_SWITCH
                ls = _line_search(prob, theta, eta, f, step, decrease, need_gram=need_gram)
                if ls is not None:
                    theta, eta, f, t, x_step = ls
                    change = full_change * t
                    history.append(_record(it, f, t, change, True))
                    sampled = change > _SAMPLE_SWITCH
                    continue
                sampled = False  # no descent along the sampled step: go exact
        if reuse_last_model and hess is not None:
            step, _, decrease = model.step(theta, grad, hess)
            change = model.scaled_change(step, hess)
            # Chord steps converge linearly, so they stop at a tighter threshold.
            stop_tol = tol * _CHORD_STOP_FACTOR if on_warm_hess else tol
            if change <= stop_tol or on_warm_hess:
                fisher = None  # as for sampled steps: formed again if the step fails
                ls = _line_search(prob, theta, eta, f, step, decrease)
                agrees = ls is not None and _model_agrees(
                    f, ls[2], ls[3], model.predicted_change(step, decrease, hess)
                )
                if ls is not None and (change <= stop_tol or agrees):
                    theta, eta, f, t, x_step = ls
                    history.append(_record(it, f, t, change * t, True))
                    if change <= stop_tol:
                        converged = True
                        break
                    continue
        on_warm_hess = False
        if fisher is None and (pending_gram is None or hook is not None):
            fisher = prob.score_fisher(eta)[1]
        if pending_gram is not None:
            hess = pending_gram
        else:
            hess = prob.gram(eta, fisher)  # the last full-step trial's, if it formed it here
        may_stop, extra = True, {}  # without a hook: stop at convergence, nothing to add
        if hook is not None:
            before = prob.penalty(theta, l1, l2)
            may_stop, extra = hook(Iterate(prob, it, theta, eta, score, fisher, grad, hess, change))
            f += prob.penalty(theta, l1, l2) - before  # the hook may have changed S
            score = None
        pending_gram = fisher = None  # as score: not held through the line search
        step, ok, decrease = model.step(theta, grad, hess)
        rank_deficient |= not ok
        # A full step below tol ends the fit whatever the step size (change
        # only shrinks with t): its pass need not form the next X.T @ score.
        full_change = model.scaled_change(step, hess)
        last = may_stop and full_change <= tol
        ls = _line_search(prob, theta, eta, f, step, decrease, need_x_score=not last)
        if ls is None:
            history.append({**_record(it, f, 0.0, 0.0, False), **extra})
            if not may_stop:  # the hook's next penalty may give a step that descends
                change = 0.0
                continue
            # No step decreases the objective: converged only if none could
            # (the model predicts a decrease at round-off level).
            converged = bool(abs(decrease) <= 1e3 * np.finfo(np.float64).eps * max(abs(f), 1.0))
            break
        theta, eta, f, t, x_step = ls
        change = full_change * t
        history.append({**_record(it, f, t, change, True), **extra})
        # Also converged when the fit itself has stopped moving: in a numerically
        # rank-deficient design round-off can shift coefficients along a null
        # direction on every iteration without changing eta.
        eta_change = float(prob.reduce(_max_abs(xp, x_step), "max")) * t
        if may_stop and (change <= tol or eta_change <= tol * _ETA_TOL_FACTOR):
            converged = True
            break
    hess_cols = None if cols is None else to_numpy(cols)
    loss = f - prob.penalty(theta, l1, l2)
    factor = model.factor_of(hess)
    return FitResult(
        theta, eta, it, converged, f, rank_deficient, history, hess, hess_cols, loss, factor
    )


def _factorize(prob: Problem, hess: Any, l2: Any, s_full: Any) -> Any:
    """The factorisation of the penalised Hessian hess + diag(l2) (+ S) for the Newton step.

    A design may name columns whose Gram block is diagonal (a categorical's
    levels, ``diagonal_block``); without a penalty matrix, which could fill
    that block, the step then eliminates them first (:class:`ArrowFactor`),
    which takes the ridge diagonal as it is (no dense hess + diag(l2)).
    """
    block = getattr(prob.design, "diagonal_block", None)
    if block is None or prob.penalty_matrix is not None or not isinstance(hess, np.ndarray):
        return prob.backend.factorize(_penalized_hessian(prob, hess, l2, s_full))
    return ArrowFactor(hess, block + int(prob.fit_intercept), shift=np.asarray(l2))


def _penalized_hessian(prob: Problem, hess: Any, l2: Any, s_full: Any) -> Any:
    """hess + diag(l2) (+ ``s_full``, the padded penalty matrix, unless None), a new array."""
    if isinstance(hess, np.ndarray):  # one copy, the diagonal added in place
        hess_s = with_diagonal(hess, np.asarray(l2))
    else:
        xp = prob.xp
        hess_s = hess + xp.eye(hess.shape[0], dtype=hess.dtype, device=device_of(hess)) * l2
    return hess_s if s_full is None else hess_s + s_full


def _max_abs(xp: Any, a: Any) -> Any:
    """max |a| (0 for no local rows), as max(max a, -min a): no n-vector |a|."""
    if not a.shape[0]:
        return xp.asarray(0.0, dtype=xp.float64)
    return xp.maximum(xp.max(a), -xp.min(a))


def _model_agrees(f: float, f_new: float, t: float, predicted: float) -> bool:
    """A full step whose actual decrease is within 25% of the quadratic model's.

    Too little decrease means the model is too flat (steps overshoot), too
    much that it is too curved (steps are short and convergence slow). A
    predicted decrease at round-off level cannot be checked; such a step is
    accepted when the line search took it whole.
    """
    if t != 1.0:
        return False
    if -predicted <= _ROUNDOFF_SLACK * max(abs(f), 1.0):
        return True
    ratio = (f - f_new) / -predicted
    return 1.0 - _MODEL_AGREEMENT <= ratio <= 1.0 + _MODEL_AGREEMENT


def _record(it: int, f: float, t: float, change: float, accepted: bool) -> dict[str, float]:
    return {
        "iteration": it,
        "objective": f,
        "step_size": t if accepted else 0.0,
        "max_change": change,
    }


class _StepModel:
    """The penalised quadratic model of one Newton step and its minimiser."""

    def __init__(self, prob: Problem, l1: Any, l2: Any, inner: str, inner_tol: float) -> None:
        self.prob, self.l1, self.l2 = prob, l1, l2
        self.has_l1 = bool(prob.xp.any(l1 > 0))
        self.inner, self.inner_tol = inner, inner_tol
        # The factorisation of the last Hessian, reused when the next iteration
        # first tries that Hessian's step.
        self._factored: tuple[Any, Any] | None = None

    def step(self, theta: Any, grad: Any, hess: Any) -> tuple[Any, bool, float]:
        """The step minimising the model built from ``grad`` and ``hess``.

        Returns (step, whether the Cholesky factorisation was well conditioned,
        the model's predicted change of the objective, <= 0 for descent).
        """
        prob, xp, l2 = self.prob, self.prob.xp, self.l2
        grad_s = grad + l2 * theta
        s_full = None
        if prob.penalty_matrix is not None:
            s_theta, s_full = prob.quadratic_penalty(theta)
            grad_s = grad_s + s_theta
        ok = True
        if not self.has_l1:
            # The penalised Hessian is formed only when it is factorised (not
            # for a cached factor), and not at all by an arrow factorisation.
            if self._factored is None or self._factored[0] is not hess:
                self._factored = (hess, _factorize(prob, hess, l2, s_full))
            factor = self._factored[1]
            step = factor.solve(-grad_s)
            return step, factor.ok, float(xp.sum(grad_s * step))
        hess_s = _penalized_hessian(prob, hess, l2, s_full)
        c = hess_s @ theta - grad_s
        if self.inner == "cd":
            new_np, _ = coordinate_descent(
                to_numpy(hess_s),
                to_numpy(c),
                to_numpy(self.l1),
                to_numpy(theta),
                tol=self.inner_tol,
            )
            new = prob.backend.asarray(new_np, dtype=np.float64)
        else:
            new, _ = fista(hess_s, c, self.l1, theta, tol=self.inner_tol)
        step = new - theta
        l1 = self.l1
        decrease = xp.sum(grad_s * step) + xp.sum(l1 * xp.abs(new)) - xp.sum(l1 * xp.abs(theta))
        return step, ok, float(decrease)

    def factor_of(self, hess: Any) -> Any:
        """The cached factorisation of ``hess`` + penalties, if that is the one cached."""
        if self._factored is not None and self._factored[0] is hess:
            return self._factored[1]
        return None

    def predicted_change(self, step: Any, decrease: float, hess: Any) -> float:
        """The quadratic model's change of the objective along ``step``.

        ``decrease`` (what :meth:`step` returns, the linear term plus the L1
        change) plus the curvature term step' (H + diag(l2) + S) step / 2.
        """
        xp = self.prob.xp
        curvature = xp.sum(step * (hess @ step)) + xp.sum(self.l2 * step * step)
        if self.prob.penalty_matrix is not None:
            curvature = curvature + xp.sum(step * (self.prob.quadratic_penalty(step)[1] @ step))
        return decrease + 0.5 * float(curvature)

    def scaled_change(self, step: Any, hess: Any) -> float:
        """max_j |step_j| sqrt(H_jj): the largest move of the linear predictor's scale."""
        xp = self.prob.xp
        scale = xp.sqrt(xp.clip(xp.linalg.diagonal(hess), 0.0, None))
        return float(xp.max(xp.abs(step) * scale))


def _line_search(
    prob: Problem,
    theta: Any,
    eta: Any,
    f: float,
    step: Any,
    model_decrease: float,
    need_x_score: bool = True,
    need_gram: bool = False,
) -> tuple[Any, Any, float, float, Any] | None:
    """Backtracking (Armijo) along ``step``; X @ step is formed once, so trials cost O(n).

    Returns (theta, eta, objective, step size, X @ step), or None when no step
    size decreases the objective. ``need_x_score=False``: the fit ends after
    this step, so the full step's pass leaves out the next X.T @ score.
    ``need_gram``: the full step's pass also forms the Gram matrix there
    (:meth:`Problem.gram`), for an exact next iteration.
    """
    l1, l2 = prob.penalties()
    # The full step's trial, X @ step and the next gradient's X.T @ score
    # from one pass over X where the problem allows (Problem.full_step_trial).
    first = prob.full_step_trial(eta, step, theta + step, l1, l2, need_x_score, need_gram)
    if first is None:
        b0_step, beta_step = prob.split(step)
        x_step = prob.design.matvec(beta_step)
        x_step += b0_step  # in place: one n-vector, not two, at once
    else:
        x_step = first[0]
    t = 1.0
    # Round-off in a deviance summed over many rows exceeds a few eps near
    # the optimum; without this slack Armijo would halve converged steps.
    slack = _ROUNDOFF_SLACK * max(abs(f), 1.0) if math.isfinite(f) else 0.0
    for k in range(_MAX_HALVINGS):
        theta_t = theta + t * step
        if k == 0 and first is not None:
            eta_t, f_t = first[1], first[2]
        else:
            eta_t, f_t = prob.trial_objective(eta, x_step, t, theta_t, l1, l2)
        if f_t <= f + _ARMIJO * t * min(model_decrease, 0.0) + slack:
            return theta_t, eta_t, f_t, t, x_step
        t *= 0.5
    return None
