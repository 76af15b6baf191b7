"""The solver core: one (proximal) Newton method for every family, link and backend.

The objective is the glmnet/glum convention

    F(b0, beta) = sum_i v_i d(y_i, mu_i) / 2 + sum_j l1_j |beta_j| + sum_j l2_j beta_j^2 / 2,

with v = w / sum(w) the normalised weights, d the unit deviance and
mu = g^{-1}(b0 + X beta + offset). Each outer iteration makes one pass over X
to build the Fisher-scoring quadratic model (gradient and X'WX), then

* without an L1 part, solves it with a Cholesky factorisation (IRLS);
* with an L1 part, minimises the penalised quadratic with an inner solver
  (coordinate descent with active sets on the host, FISTA on a GPU);

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
:func:`fit_lbfgs` is the first-order alternative for problems whose Gram
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
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import scipy.optimize

from ._backend import Backend, to_numpy
from ._design_protocol import Design, ReduceOp
from ._inner import coordinate_descent, fista
from .families import Family

__all__ = ["Problem", "FitResult", "Iterate", "IterationHook", "newton", "fit_lbfgs"]

_UNSET = object()
_ARMIJO = 1e-4
_MAX_HALVINGS = 50
_ETA_TOL_FACTOR = 1e-3
_ROUNDOFF_SLACK = 1e-12
# Sampled Hessians for cold starts: the first Newton iterations, far from the
# solution, use X'WX of a random 1/8 of the rows (scaled to the full weight);
# once a step moves the linear predictor by less than _SAMPLE_SWITCH the exact
# Gram matrix takes over, so the convergence test and the Fisher matrix used
# for standard errors are exact. Only dense designs with at least
# _SAMPLE_MIN_ROWS rows per coefficient qualify (sparse one-hot columns with
# rare levels would be missing from the sample).
_SAMPLE_FRACTION = 8
_SAMPLE_MIN_ROWS = 256
_SAMPLE_SWITCH = 1e-2
# Chord steps on a warm Hessian (the previous point of a path) are kept while
# the objective's decrease is within this relative distance of the decrease
# their quadratic model predicts; as they converge linearly, they stop at
# _CHORD_STOP_FACTOR * tol.
_MODEL_AGREEMENT = 0.25
_CHORD_STOP_FACTOR = 0.1


@dataclass
class Problem:
    """Data and penalty of one fit, all on one backend.

    ``l1`` and ``l2`` are per-feature penalty strengths (alpha * l1_ratio * pf
    and alpha * (1 - l1_ratio) * pf); the intercept is never penalised.
    """

    design: Design
    y: Any
    weights: Any  # normalised to sum to one over all rows
    offset: Any
    family: Family
    l1: Any
    l2: Any
    backend: Backend
    fit_intercept: bool = True
    #: sum of the caller's weights, to turn normalised quantities back into R's.
    weight_sum: float = 1.0
    #: optional p x p positive semi-definite penalty S adding beta' S beta / 2
    #: (smoothing penalties of GAMs, Gaussian priors).
    penalty_matrix: Any = None
    #: (row indices, design of those rows) for sampled Hessians; see
    #: :meth:`with_row_sample`.
    row_sample: tuple[Any, Any] | None = None
    #: Rows whose linear predictor and mean must be admissible (the link's and
    #: family's domain): "weighted", the rows with positive weight, so that a
    #: zero-weight row constrains nothing, as if it were absent; or "all", for
    #: GLMCV's folds, whose held-out rows (given zero weight) are then scored
    #: at admissible means.
    admissible: str = "weighted"
    # Not an init field: dataclasses.replace() (new weights or y) recomputes it.
    _eta_state: Any = field(init=False, default=None, repr=False, compare=False)
    # (eta, mu) of the last loss evaluation: the accepted point of a line
    # search is where the next working weights are needed.
    _last_mu: tuple[Any, Any] = field(init=False, default=(None, None), repr=False, compare=False)
    # Mask of the rows that count (see `admissible`), None when all do; computed once.
    _counted: Any = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._eta_state = _UNSET
        self._counted = _UNSET

    def counted_rows(self) -> Any:
        """Boolean mask of the rows with positive weight, or None when every row counts."""
        if self._counted is _UNSET:
            mask = self.weights > 0
            every = self.admissible == "all" or bool(self.xp.all(mask))
            self._counted = None if every else mask
        return self._counted

    def with_row_sample(self, seed: int = 0) -> Problem:
        """This problem with a random 1/8 of X's rows kept for sampled Hessians.

        Unchanged when the design does not qualify (sparse, or fewer than
        256 rows per coefficient after sampling).
        """
        design = self.design
        n, p = design.n, design.p
        m = n // _SAMPLE_FRACTION
        if design.is_sparse or not design.can_sample_rows or m < _SAMPLE_MIN_ROWS * (p + 1):
            return self
        rows = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
        idx = self.backend.asarray(rows.astype(np.int64))
        return replace(self, row_sample=(idx, design.rows(idx)))

    def sampled_gram(self, fisher: Any) -> Any | None:
        """X'WX estimated from the row sample (None when it has no weight)."""
        idx, design = self.row_sample  # type: ignore[misc]
        xp = self.xp
        f = xp.take(fisher, idx)
        total = self.reduce(xp.sum(f))
        if not float(total) > 0:
            return None
        return design.gram(f, intercept=self.fit_intercept) * (self.reduce(xp.sum(fisher)) / total)

    def restrict(self, cols: Any) -> Problem:
        """The same objective over the intercept and the columns ``cols`` only.

        The other coefficients are held at zero, so their rows and columns of
        S drop out of beta' S beta. The design's column subset is copied once
        here, not gathered again on every pass over X.
        """
        xp = self.xp
        S = self.penalty_matrix
        if S is not None:
            S = xp.take(xp.take(S, cols, axis=0), cols, axis=1)
        sample = self.row_sample
        if sample is not None:
            sample = (sample[0], sample[1].subset(cols))
        restricted = replace(
            self,
            design=self.design.subset(cols),
            l1=xp.take(self.l1, cols),
            l2=xp.take(self.l2, cols),
            penalty_matrix=S,
            row_sample=sample,
        )
        restricted._eta_state = self._eta_state  # same y and weights
        return restricted

    def quadratic_penalty(self, theta: Any) -> tuple[Any, Any]:
        """(S theta, S), padded for the intercept."""
        xp = self.xp
        S = self.penalty_matrix
        if self.fit_intercept:
            k = S.shape[0] + 1
            padded = xp.zeros((k, k), dtype=xp.float64, device=_dev(S))
            padded[1:, 1:] = S
            S = padded
        return S @ theta, S

    @property
    def xp(self) -> Any:
        return self.backend.xp

    def reduce(self, value: Any, op: ReduceOp = "sum") -> Any:
        """A sum (or extreme) over the local rows, combined over all rows by the design."""
        return self.design.reduce(value, op)

    def starting_mu(self) -> Any:
        """The family's starting means, with y's weighted mean taken over all rows."""
        ybar = self.reduce(self.xp.sum(self.weights * self.y))  # the weights sum to one
        return self.family.starting_mu(self.y, self.weights, ybar)

    @property
    def penalized(self) -> bool:
        """Whether any coefficient carries an L1, L2 or quadratic-matrix penalty."""
        xp = self.xp
        return bool(xp.any(self.l1 > 0) or xp.any(self.l2 > 0)) or self.penalty_matrix is not None

    def split(self, theta: Any) -> tuple[Any, Any]:
        """(intercept, coefficients) from a stacked parameter vector."""
        if self.fit_intercept:
            return theta[0], theta[1:]
        return 0.0, theta

    def eta(self, theta: Any) -> Any:
        b0, beta = self.split(theta)
        return self.design.matvec(beta) + b0 + self.offset

    def penalties(self) -> tuple[Any, Any]:
        """Penalty vectors aligned with theta (zero for the intercept)."""
        xp = self.xp
        l1, l2 = self.l1, self.l2
        if self.fit_intercept:
            zero = xp.zeros(1, dtype=xp.float64, device=_dev(l1))
            l1 = xp.concat([zero, l1])
            l2 = xp.concat([zero, l2])
        return l1, l2

    def loss(self, eta: Any) -> Any:
        """Smooth part: sum_i v_i d_i / 2 (a 0-d array, inf when eta or mu is invalid)."""
        xp = self.xp
        fam = self.family
        state = self._eta_loss_state()
        if state is not None:  # the family's shortcut from eta (natural links)
            value, ok, mu = fam.eta_loss(self.y, eta, self.weights, state)
            self._last_mu = (eta, mu)
        else:
            mu = fam.link.inverse(eta)
            self._last_mu = (eta, mu)
            counted = self.counted_rows()
            if counted is None:
                value = 0.5 * xp.sum(self.weights * fam.unit_deviance(self.y, mu))
                ok = xp.all(fam.link.valid_eta(eta) & fam.valid_mu(mu))
            else:  # zero-weight rows: neither their deviance nor their validity counts
                y, w, eta_c, mu_c = (
                    self.y[counted],
                    self.weights[counted],
                    eta[counted],
                    mu[counted],
                )
                value = 0.5 * xp.sum(w * fam.unit_deviance(y, mu_c))
                ok = fam.link.valid_eta(eta_c) & fam.valid_mu(mu_c)
        # One reduction over rows: an invalid row anywhere makes the loss infinite.
        value = self.reduce(xp.where(ok, value, math.inf))
        return value

    def mean(self, eta: Any) -> Any:
        """mu = g^{-1}(eta), reused from the last loss evaluation at this same eta."""
        last_eta, mu = self._last_mu
        if last_eta is eta and mu is not None:
            return mu
        return self.family.link.inverse(eta)

    def _eta_loss_state(self) -> Any:
        """The family's per-fit constants for its eta shortcut (None: no shortcut), computed once."""
        if self._eta_state is _UNSET:
            self._eta_state = self.family.eta_loss_state(self.y, self.weights)
        return self._eta_state

    def objective(self, eta: Any, theta: Any, l1: Any, l2: Any) -> float:
        value = float(self.loss(eta)) + self.penalty(theta, l1, l2)
        return value if math.isfinite(value) else math.inf

    def penalty(self, theta: Any, l1: Any, l2: Any) -> float:
        """The penalty part of the objective at theta (l1, l2 from :meth:`penalties`)."""
        xp = self.xp
        value = float(xp.sum(l1 * xp.abs(theta)) + 0.5 * xp.sum(l2 * theta**2))
        if self.penalty_matrix is not None:
            value += 0.5 * float(xp.sum(theta * self.quadratic_penalty(theta)[0]))
        return value

    def working_weights(self, eta: Any) -> tuple[Any, Any, Any]:
        """mu, the score weights and the Fisher weights at eta."""
        xp = self.xp
        link, fam = self.family.link, self.family
        mu = self.mean(eta)
        if fam.natural_link:  # d mu / d eta = V(mu): no derivative or division needed
            score = self.y - mu
            score *= self.weights  # in place: one n-vector fewer at once
            fisher = self.weights * fam.variance(mu)
        else:
            dmu = link.inverse_deriv(eta)
            var = fam.variance(mu)
            tiny = float(xp.finfo(var.dtype).tiny) ** 0.5
            var = xp.clip(var, tiny, None)
            score = self.weights * (self.y - mu) * dmu / var
            fisher = self.weights * dmu * dmu / var
        counted = self.counted_rows()
        if counted is not None:  # a zero-weight row's mean may be inadmissible (nan)
            score, fisher = xp.where(counted, score, 0.0), xp.where(counted, fisher, 0.0)
        return mu, score, fisher

    def gradient(self, score: Any, features: Any = None, x_score: Any = None) -> Any:
        """Gradient of the smooth loss in theta from the score weights (one X.T @ v).

        ``features``: the coefficients' part when already known (the path's
        KKT check computed it), so that only the intercept's is formed.
        ``x_score``: X.T @ score already formed (by a design's fused pass).
        """
        xp = self.xp
        if features is not None:
            grad = features
        else:
            grad = -(self.design.rmatvec(score) if x_score is None else x_score)
        if self.fit_intercept:
            grad = xp.concat([-self.reduce(xp.sum(score))[None], grad])
        return grad

    def full_gradient(self, eta: Any) -> Any:
        """Gradient of the smooth loss in all p coefficients (for KKT checks)."""
        if self.family.natural_link:  # the score weights only, no Fisher weights
            score = self.y - self.mean(eta)
            score *= self.weights
            counted = self.counted_rows()
            if counted is not None:  # a zero-weight row's mean may be inadmissible (nan)
                score = self.xp.where(counted, score, 0.0)
        else:
            score = self.working_weights(eta)[1]
        return -self.design.rmatvec(score)


@dataclass
class FitResult:
    theta: Any
    eta: Any
    n_iter: int
    converged: bool
    objective: float
    rank_deficient: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    #: Fisher information of the smooth loss (normalised weights) from the last
    #: quadratic model, over the intercept and the fitted columns: at the
    #: iterate one step before ``theta`` (as R's glm.fit reports), or at
    #: ``theta`` itself when the last step was rejected. None for L-BFGS.
    hess: Any = None
    #: host indices of the columns ``hess`` covers after the intercept (None: all).
    hess_cols: np.ndarray | None = None
    #: the smooth part sum_i v_i d_i / 2 at ``eta`` (None: not tracked).
    loss: float | None = None
    #: the factorisation of ``hess`` + diag(l2) (+ S) when the last step was a
    #: Cholesky solve with ``hess`` (None otherwise), for effective df.
    factor: Any = None


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


def _dev(a: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(a)


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
    change = math.inf
    extra: dict[str, float]  # the hook's entries for the history row
    for it in range(1, max_iter + 1):
        ls = x_step = None  # the last step's X @ step is not held through this iteration
        score, fisher = prob.working_weights(eta)[1:]  # mu is not kept (n floats)
        pending_gram = None
        if fused is not None and not sampled:
            x_score, pending_gram = fused(score, fisher, prob.fit_intercept)
            grad = prob.gradient(score, x_score=x_score)
        else:
            grad = prob.gradient(score, feature_grad if it == 1 else None)
        if hook is None:
            score = None  # not needed past the gradient: n floats less at the peak
        if sampled:
            approx = prob.sampled_gram(fisher)
            if approx is None:
                sampled = False
            else:
                step, _, decrease = model.step(theta, grad, approx)
                ls = _line_search(prob, theta, eta, f, step, decrease)
                if ls is not None:
                    theta, eta, f, t, x_step = ls
                    change = model.scaled_change(step, approx) * t
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
        if pending_gram is not None:
            hess = pending_gram
        else:
            hess = prob.design.gram(fisher, intercept=prob.fit_intercept)
        may_stop, extra = True, {}  # without a hook: stop at convergence, nothing to add
        if hook is not None:
            before = prob.penalty(theta, l1, l2)
            may_stop, extra = hook(Iterate(prob, it, theta, eta, score, fisher, grad, hess, change))
            f += prob.penalty(theta, l1, l2) - before  # the hook may have changed S
            score = None
        pending_gram = fisher = None  # as score: not held through the line search
        step, ok, decrease = model.step(theta, grad, hess)
        rank_deficient |= not ok
        ls = _line_search(prob, theta, eta, f, step, decrease)
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
        change = model.scaled_change(step, hess) * t
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


def _max_abs(xp: Any, a: Any) -> Any:
    """max |a| (0 for no local rows)."""
    return xp.max(xp.abs(a)) if a.shape[0] else xp.asarray(0.0, dtype=xp.float64)


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
        hess_s = hess + xp.eye(hess.shape[0], dtype=hess.dtype, device=_dev(hess)) * l2
        if prob.penalty_matrix is not None:
            s_theta, s_full = prob.quadratic_penalty(theta)
            grad_s = grad_s + s_theta
            hess_s = hess_s + s_full
        ok = True
        if not self.has_l1:
            if self._factored is None or self._factored[0] is not hess:
                self._factored = (hess, prob.backend.factorize(hess_s))
            factor = self._factored[1]
            step = factor.solve(-grad_s)
            return step, factor.ok, float(xp.sum(grad_s * step))
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
    prob: Problem, theta: Any, eta: Any, f: float, step: Any, model_decrease: float
) -> tuple[Any, Any, float, float, Any] | None:
    """Backtracking (Armijo) along ``step``; X @ step is formed once, so trials cost O(n).

    Returns (theta, eta, objective, step size, X @ step), or None when no step
    size decreases the objective.
    """
    l1, l2 = prob.penalties()
    b0_step, beta_step = prob.split(step)
    x_step = prob.design.matvec(beta_step) + b0_step
    t = 1.0
    # Round-off in a deviance summed over many rows exceeds a few eps near
    # the optimum; without this slack Armijo would halve converged steps.
    slack = _ROUNDOFF_SLACK * max(abs(f), 1.0) if math.isfinite(f) else 0.0
    for _ in range(_MAX_HALVINGS):
        eta_t = eta + t * x_step
        theta_t = theta + t * step
        f_t = prob.objective(eta_t, theta_t, l1, l2)
        if f_t <= f + _ARMIJO * t * min(model_decrease, 0.0) + slack:
            return theta_t, eta_t, f_t, t, x_step
        t *= 0.5
    return None


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
