"""The problem the solver minimises, and what a fit returns.

The objective is the glmnet/glum convention

    F(b0, beta) = sum_i v_i d(y_i, mu_i) / 2 + sum_j l1_j |beta_j| + sum_j l2_j beta_j^2 / 2,

with v = w / sum(w) the normalised weights, d the unit deviance and
mu = g^{-1}(b0 + X beta + offset), plus beta' S beta / 2 when a penalty matrix
S is given (GAM smoothing penalties, Gaussian priors).

:class:`Problem` holds the data (through its design, :mod:`glmlib.design`),
the family and the penalties on one backend, and evaluates the pieces every
solver needs: the linear predictor, the loss, the working weights, the
gradient, the (optionally row-sampled) Gram matrix. :class:`FitResult` is what
:func:`glmlib.solver.newton.newton` and :func:`glmlib.solver.lbfgs.fit_lbfgs`
return.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._backend import Backend, constant_value, constant_vector, device_of
from ..design.protocol import Design, ReduceOp
from ..families import Family
from .rowwise import fused_kernel, kernel_constant

__all__ = ["FitResult", "Problem"]

_UNSET = object()
#: The kernel's eta output where there is no step (not written).
_NO_OUT = np.empty(1)
# Sampled Hessians for cold starts: the first Newton iterations, far from the
# solution, use X'WX of a random 1/16 of the rows (scaled to the full weight;
# 1/8 took the same iterations on the benchmarks' ridge problems at twice the
# cost, benchmarks/README.md "Ridge fits against L-BFGS");
# :func:`glmlib.solver.newton.newton` switches to the exact Gram matrix once a
# step is small. Only dense designs with at least _SAMPLE_MIN_ROWS rows per
# coefficient qualify (sparse one-hot columns with rare levels would be
# missing from the sample).
_SAMPLE_FRACTION = 16
_SAMPLE_MIN_ROWS = 256


@dataclass
class Problem:
    """Data and penalty of one fit, all on one backend.

    ``l1`` and ``l2`` are per-feature penalty strengths (alpha * l1_ratio * pf
    and alpha * (1 - l1_ratio) * pf); the intercept is never penalised.
    """

    design: Design
    y: Any
    # Normalised to sum to one over all rows. weights and offset may be
    # constant vectors (glmlib._backend.constant_vector: one number, stride 0)
    # when the caller gave none; they are only read, never written.
    weights: Any
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
    # The fused per-row pass (glmlib.solver.rowwise), None without one; found once.
    _kernel: Any = field(init=False, default=None, repr=False, compare=False)
    # The loss's constant that the kernel's sum leaves out.
    _kernel_constant: Any = field(init=False, default=None, repr=False, compare=False)
    # (eta, score, fisher) of the last fused pass: the accepted point of a
    # line search is where the next working weights are needed.
    _last_weights: tuple[Any, Any, Any] = field(
        init=False, default=(None, None, None), repr=False, compare=False
    )

    # (eta, X.T @ score there) of the last full_step_trial.
    _last_x_score: tuple[Any, Any] = field(
        init=False, default=(None, None), repr=False, compare=False
    )
    # (eta, the Gram matrix of the Fisher weights there) of the last
    # full_step_trial that formed one.
    _last_gram: tuple[Any, Any] = field(init=False, default=(None, None), repr=False, compare=False)

    def __post_init__(self) -> None:
        self._eta_state = _UNSET
        self._counted = _UNSET
        self._kernel = _UNSET

    def counted_rows(self) -> Any:
        """Boolean mask of the rows with positive weight, or None when every row counts."""
        if self._counted is _UNSET:
            c = constant_value(self.weights)
            if c is not None:  # absent weights: no mask of n booleans to form
                self._counted = None if c > 0 or self.admissible == "all" else self.weights > 0
                return self._counted
            mask = self.weights > 0
            every = self.admissible == "all" or bool(self.xp.all(mask))
            self._counted = None if every else mask
        return self._counted

    def with_row_sample(self, seed: int = 0) -> Problem:
        """This problem with a random 1/16 of X's rows kept for sampled Hessians.

        One row drawn at random from each run of 16 consecutive rows (a
        stratified sample: every row has the same chance, the sample comes in
        order and spans the data however they are sorted; drawing 1/16 of
        1e6 rows without replacement and sorting them took 4 ms of a 0.5 s
        fit). Unchanged when the design does not qualify (sparse, or fewer
        than 256 rows per coefficient after sampling).
        """
        design = self.design
        n, p = design.n, design.p
        k = _SAMPLE_FRACTION
        m = n // k
        if design.is_sparse or not design.can_sample_rows or m < _SAMPLE_MIN_ROWS * (p + 1):
            return self
        rows = np.arange(m, dtype=np.int64) * k + np.random.default_rng(seed).integers(0, k, m)
        idx = self.backend.asarray(rows.astype(np.int64))
        return self._moving_caches(replace(self, row_sample=(idx, design.rows(idx))))

    def with_penalties(self, l1: Any, l2: Any) -> Problem:
        """This problem with per-feature penalties ``l1`` and ``l2`` (its caches move to it)."""
        return self._moving_caches(replace(self, l1=l1, l2=l2))

    def _moving_caches(self, other: Problem) -> Problem:
        """``other`` (a copy of this problem over the same rows) given this one's last weights.

        Moved, not shared: the caller goes on with ``other``, and n-vectors
        left in this problem's caches would stay alive through its fit.
        """
        other._last_weights, self._last_weights = self._last_weights, (None, None, None)
        other._last_x_score, self._last_x_score = self._last_x_score, (None, None)
        other._last_gram, self._last_gram = self._last_gram, (None, None)
        other._last_mu, self._last_mu = self._last_mu, (None, None)
        other._kernel, other._kernel_constant = self._kernel, self._kernel_constant
        return other

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
        # The working weights (not X.T @ score: other columns) carry over.
        restricted = self._moving_caches(restricted)
        restricted._last_x_score = (None, None)
        restricted._last_gram = (None, None)
        return restricted

    def quadratic_penalty(self, theta: Any) -> tuple[Any, Any]:
        """(S theta, S), padded for the intercept."""
        xp = self.xp
        S = self.penalty_matrix
        if self.fit_intercept:
            k = S.shape[0] + 1
            padded = xp.zeros((k, k), dtype=xp.float64, device=device_of(S))
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
        if getattr(self.design, "can_fuse_rows", False) and not bool(self.xp.any(beta != 0)):
            # X @ 0 is 0 for a finite host X: no pass (cold starts from the null model).
            c = constant_value(self.offset)
            if c is not None:  # and no offset: a constant, stored as one number
                return constant_vector(self.design.n, (0.0 + float(b0)) + c)
            return self.xp.zeros(self.design.n, dtype=self.xp.float64) + b0 + self.offset
        return self.design.matvec(beta) + b0 + self.offset

    def penalties(self) -> tuple[Any, Any]:
        """Penalty vectors aligned with theta (zero for the intercept)."""
        xp = self.xp
        l1, l2 = self.l1, self.l2
        if self.fit_intercept:
            zero = xp.zeros(1, dtype=xp.float64, device=device_of(l1))
            l1 = xp.concat([zero, l1])
            l2 = xp.concat([zero, l2])
        return l1, l2

    def loss(self, eta: Any) -> Any:
        """Smooth part: sum_i v_i d_i / 2 (a 0-d array, inf when eta or mu is invalid)."""
        if self._fusable(eta):
            return self._fused_pass(eta, None, 0.0)[1]
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

    def trial_objective(
        self, eta: Any, x_step: Any, t: float, theta: Any, l1: Any, l2: Any
    ) -> tuple[Any, float]:
        """(eta + t * x_step, the objective there at ``theta``): one line-search trial.

        With a fused kernel (:mod:`glmlib.solver.rowwise`) one pass forms the
        trial point, its loss and its working weights, which
        :meth:`score_fisher` then returns if the point is accepted. A design
        that asks for few n-vectors (``lean_rows``: Dask's out-of-core X)
        gets the loss only; the weights are formed again at the accepted
        point, a pass over n rows that holds 2 n-vectors fewer at the trial.
        """
        if self._fusable(eta):
            lean = getattr(self.design, "lean_rows", False)
            eta_t, loss = self._fused_pass(eta, x_step, t, weights=not lean)
        else:
            eta_t = eta + t * x_step
            loss = self.loss(eta_t)
        value = float(loss) + self.penalty(theta, l1, l2)
        return eta_t, value if math.isfinite(value) else math.inf

    def full_step_trial(
        self,
        eta: Any,
        step: Any,
        theta: Any,
        l1: Any,
        l2: Any,
        need_x_score: bool = True,
        need_gram: bool = False,
    ) -> tuple[Any, Any, float] | None:
        """(X @ step, eta + X @ step, the objective at ``theta``) from one pass over X, or None.

        The line search's first trial (step size 1, usually accepted): the
        design forms X @ step block by block, the fused kernel the loss and
        the working weights, and the design X.T @ score while each block is
        in cache, kept for :meth:`x_score` at the trial point (left out with
        ``need_x_score=False``). ``need_gram``: the Gram matrix of the Fisher
        weights at the trial point too, from the same blocks (the next
        iteration's, when it is to be exact), kept for :meth:`gram`. None
        where the design (a float64 host X) or the kernel does not allow it.
        """
        design = self.design
        if not (self._fusable(eta) and getattr(design, "can_fuse_rows", False)):
            return None
        b0_step, beta_step = self.split(step)
        self._last_weights = (None, None, None)
        self._last_x_score = (None, None)
        self._last_gram = (None, None)
        n = eta.shape[0]
        eta_t, score, fisher = np.empty(n), np.empty(n), np.empty(n)
        y, w, kernel = self.y, self.weights, self._kernel
        total, ok = [0.0], [True]

        def row_pass(start: int, stop: int, x_step: Any) -> Any:
            part, good = kernel(
                eta[start:stop], x_step, 1.0, True, y[start:stop], w[start:stop],
                eta_t[start:stop], score[start:stop], fisher[start:stop],
            )  # fmt: skip
            total[0] += part
            ok[0] = ok[0] and good
            return score[start:stop] if need_x_score else None

        def over_rows(
            start: int, stop: int, X: Any, beta: Any, shift: float, x_step: Any, grad: Any
        ) -> None:
            # The same work as one compiled loop over the rows of X = rows start:stop.
            part, good = kernel.over_rows(
                X, np.ascontiguousarray(beta), shift, eta[start:stop], y[start:stop],
                w[start:stop], x_step, eta_t[start:stop], score[start:stop],
                fisher[start:stop], grad if need_x_score else None,
            )  # fmt: skip
            total[0] += part
            ok[0] = ok[0] and good

        row_pass.over_rows = over_rows  # type: ignore[attr-defined]
        # dense designs only (can_fuse_rows)
        if need_gram and hasattr(design, "matvec_rmatvec_gram"):
            x_step, x_score, gram = design.matvec_rmatvec_gram(
                beta_step, float(b0_step), row_pass, fisher, self.fit_intercept
            )
            self._last_gram = (eta_t, gram)
        else:
            x_step, x_score = design.matvec_rmatvec(beta_step, float(b0_step), row_pass)  # type: ignore[attr-defined]
        self._last_weights = (eta_t, score, fisher)
        self._last_x_score = (eta_t, x_score) if need_x_score else (None, None)
        loss = total[0] + self._kernel_constant if ok[0] else math.inf
        value = float(self.reduce(np.float64(loss))) + self.penalty(theta, l1, l2)
        return x_step, eta_t, value if math.isfinite(value) else math.inf

    def gram(self, eta: Any, fisher: Any) -> Any:
        """X'WX (W = diag(fisher), bordered for the intercept) at eta.

        The one :meth:`full_step_trial` formed when it was at this same eta
        (handed over, not kept), else the design's.
        """
        last_eta, gram = self._last_gram
        self._last_gram = (None, None)
        if last_eta is eta and gram is not None:
            return gram
        return self.design.gram(fisher, intercept=self.fit_intercept)

    def x_score(self, eta: Any) -> Any:
        """X.T @ score at eta when :meth:`full_step_trial` formed it there, else None."""
        last_eta, x_score = self._last_x_score
        return x_score if last_eta is eta else None

    def score_fisher(self, eta: Any) -> tuple[Any, Any]:
        """The score and Fisher weights at eta (:meth:`working_weights` without mu).

        Taken from the last fused pass when it was at this same eta, and
        handed over: the problem keeps no reference, so that the caller
        frees them (2 n-vectors) by dropping its own.
        """
        last_eta, score, fisher = self._last_weights
        self._last_weights = (None, None, None)
        if last_eta is eta and score is not None:
            return score, fisher
        if self._fusable(eta):
            self._fused_pass(eta, None, 0.0)
            score, fisher = self._last_weights[1:]
            self._last_weights = (None, None, None)
            return score, fisher
        return self.working_weights(eta)[1:]

    def _fusable(self, eta: Any) -> bool:
        """Whether a fused kernel applies to this problem and this eta."""
        if self._kernel is _UNSET:
            kernel = fused_kernel(self)
            constant = None if kernel is None else kernel_constant(self, kernel)
            self._kernel = None if constant is None else kernel
            self._kernel_constant = constant
        return (
            self._kernel is not None
            and isinstance(eta, np.ndarray)
            and eta.dtype == np.float64
            and eta.ndim == 1
        )

    def _fused_pass(self, eta: Any, x_step: Any, t: float, weights: bool = True) -> tuple[Any, Any]:
        """(eta + t * x_step or eta, the loss there) by the fused kernel.

        ``weights``: also form the working weights there and keep them.
        """
        self._last_weights = (None, None, None)  # free the old weights before the new ones
        self._last_x_score = (None, None)
        n = eta.shape[0]
        has_step = x_step is not None
        eta_t = np.empty(n) if has_step else eta
        score, fisher = (np.empty(n), np.empty(n)) if weights else (None, None)
        total, ok = self._kernel(
            eta, x_step if has_step else eta, float(t), has_step,
            self.y, self.weights, eta_t if has_step else np.empty(1), score, fisher,
        )  # fmt: skip
        if weights:
            self._last_weights = (eta_t, score, fisher)
        value = total + self._kernel_constant if ok else math.inf
        return eta_t, self.reduce(np.float64(value))

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

    def gradient(
        self, score: Any, features: Any = None, x_score: Any = None, score_sum: Any = None
    ) -> Any:
        """Gradient of the smooth loss in theta from the score weights (one X.T @ v).

        ``features``: the coefficients' part when already known (the path's
        KKT check computed it), so that only the intercept's is formed.
        ``x_score``: X.T @ score already formed (by a design's fused pass).
        ``score_sum``: the sum of the score over this process's rows, already
        formed (then ``score`` may be None).
        """
        xp = self.xp
        if features is not None:
            grad = features
        else:
            grad = -(self.design.rmatvec(score) if x_score is None else x_score)
        if self.fit_intercept:
            total = xp.sum(score) if score_sum is None else xp.asarray(score_sum)
            grad = xp.concat([-self.reduce(total)[None], grad])
        return grad

    def weights_by_rows(self, eta: Any) -> Any:
        """``rows(start, stop, score, fisher)``: the working weights at eta of rows start:stop.

        Fills ``score`` and ``fisher`` (float64 vectors of stop - start) by
        the fused kernel, so that a design can form them partition by
        partition (``rmatvec_gram_rows``) and no n-vector of them exists;
        None where no fused kernel applies (the caller forms them whole).
        The kernel releases the GIL and writes only its outputs: partitions
        may call it from several threads at once.
        """
        if not self._fusable(eta):
            return None
        self._last_weights = (None, None, None)
        self._last_x_score = (None, None)
        kernel, y, w = self._kernel, self.y, self.weights

        def rows(start: int, stop: int, score: np.ndarray, fisher: np.ndarray) -> None:
            part = eta[start:stop]
            kernel(part, part, 0.0, False, y[start:stop], w[start:stop], _NO_OUT, score, fisher)

        return rows

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
