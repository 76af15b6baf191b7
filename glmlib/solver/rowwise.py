"""Fused per-row passes: the loss, the score and the Fisher weights from eta in one sweep.

A Newton iteration needs, at the accepted point of its line search, the smooth
loss sum_i v_i d_i / 2 (to accept the point) and the working weights
(score v_i (y_i - mu_i) and Fisher weight v_i V(mu_i), for the next gradient
and Gram matrix). Evaluated one array operation at a time, that is about ten
passes over n-vectors (softplus alone takes five) and as many temporaries;
here one compiled loop reads eta (or eta0 and X @ step, forming the trial
point eta0 + t X @ step itself), y and v once and writes eta_t, the score and
the Fisher weights.

Kernels exist for the natural links whose loss :class:`~glmlib.families.Family`
already evaluates from eta (binomial with logit, Poisson with log); each
reproduces the unfused formulas of :mod:`glmlib.families` and
:mod:`glmlib.links` term by term, clipping included (tests/solver/test_rowwise.py
compares them to 1e-12). NumPy arrays only: :func:`fused_kernel` returns None
for other backends, other families, and problems with zero-weight rows left
out of the loss, and :class:`~glmlib.solver.problem.Problem` then evaluates
the unfused way. Absent weights and the null model's eta arrive as constant
vectors (stride 0) and are passed to the compiled loops as one number read at
index 0, so that the loops see C-ordered, writable arrays only; a constant
eta has its terms of eta (exp, log1p) formed once.

Each kernel also has a form fused with the products by X
(``RowKernel.over_rows``, :func:`_over_rows_compiled`): for a C-ordered
float64 X, row by row, x_i . step, the row's terms above and score_i x_i
into X'score, so that the line search's full step reads each row of X once
(:meth:`glmlib.design.dense.DenseDesign.matvec_rmatvec` takes it when BLAS
runs on one thread).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from ..families import Binomial, Poisson
from ..links import Log, Logit

__all__ = ["RowKernel", "fused_kernel", "kernel_constant"]

#: (eta0, step, t, has_step, y, w, eta_out, score, fisher) -> (sum_i w_i d_i / 2
#: without the family's constant, whether every eta is finite). eta0, step and
#: w may be constant vectors (:func:`glmlib._backend.constant_vector`, stride 0);
#: score and fisher None: the loss only (no working weights written).
RowKernel = Callable[..., tuple[float, bool]]


def _packed(v: np.ndarray) -> tuple[np.ndarray, int]:
    """(array, index stride): a constant vector as one writable number read at index 0.

    The compiled passes then see C-ordered arrays only (one specialisation,
    no read-only stride-0 views) and read ``v[i * stride]``.
    """
    if v.strides == (0,):
        return np.full(1, v[0] if v.shape[0] else 0.0), 0
    return v, 1


def _row_kernel(compiled: Any, kind: int) -> RowKernel:
    """The :data:`RowKernel` over ``compiled``, which takes index strides for eta0, step and w.

    Its ``over_rows`` attribute runs the same per-row formulas fused with the
    products by X (:func:`_over_rows_compiled`).
    """

    def run(eta0, step, t, has_step, y, w, eta_out, score, fisher):  # noqa: ANN001, ANN202
        (eta0, es), (step, ss), (w, ws) = _packed(eta0), _packed(step), _packed(w)
        has_weights = score is not None
        if not has_weights:
            score = fisher = np.empty(1)  # not written
        return compiled(
            eta0, es, step, ss, t, has_step, y, w, ws, eta_out, has_weights, score, fisher
        )

    def over_rows(X, beta, shift, eta0, y, w, x_step, eta_out, score, fisher, grad):  # noqa: ANN001, ANN202
        """(X @ beta + shift into x_step, the trial at eta0 + x_step, X.T @ score added to grad).

        X is C-ordered float64; ``grad`` None leaves X.T @ score out.
        Returns what the kernel returns.
        """
        (eta0, es), (w, ws) = _packed(eta0), _packed(w)
        need_grad = grad is not None
        g = grad if need_grad else np.empty(0)
        return _over_rows_compiled(
            kind, X, beta, float(shift), eta0, es, y, w, ws, x_step, eta_out, score, fisher,
            need_grad, g,
        )  # fmt: skip

    run.compiled = compiled  # type: ignore[attr-defined]
    run.over_rows = over_rows  # type: ignore[attr-defined]
    return run


@numba.njit(cache=True, nogil=True)
def _log1p_unit(a):  # pragma: no cover - compiled
    """log(1 + a) for 0 <= a <= 1, to a few ulp, without ``math.log1p``.

    Numba's log1p costs about ten times its log (45 ns against 4 ns a call
    here), which made it the dearest term of the logit pass. Goldberg's
    rewrite log(u) * a / (u - 1), u = fl(1 + a), cancels u's rounding error
    (Goldberg 1991, "What every computer scientist should know about
    floating-point arithmetic", theorem 4).
    """
    u = 1.0 + a
    if u == 1.0:
        return a
    return math.log(u) * (a / (u - 1.0))


@numba.njit(cache=True, nogil=True)
def _logit_eta(e, eps, bound):  # pragma: no cover - compiled
    """The logit pass's terms of eta alone: (clipped eta, log(1 + exp(-|eta|)), mu).

    eta is clipped to +-``bound`` = +-log((1 - eps) / eps) for the loss and
    mu = expit(eta) to [eps, 1 - eps], as ``Binomial.eta_loss`` and
    ``Logit.inverse`` do; one exp(-|eta|) serves both the softplus and expit
    (past the clipping bound mu is clipped to eps or 1 - eps anyway).
    """
    ec = min(max(e, -bound), bound)
    a = math.exp(-abs(ec))
    mu = 1.0 / (1.0 + a) if ec >= 0.0 else a / (1.0 + a)
    return ec, _log1p_unit(a), min(max(mu, eps), 1.0 - eps)


@numba.njit(cache=True, nogil=True)
def _logit_terms(m, yi, wi):  # pragma: no cover - compiled
    """(w d/2 without the constant, score, Fisher weight) of a row from ``m = _logit_eta(eta)``.

    d/2 = y softplus(-eta) + (1 - y) softplus(eta) (+ entropy).
    """
    ec, lg, mu = m
    sp_pos = max(ec, 0.0) + lg  # softplus(eta)
    sp_neg = max(-ec, 0.0) + lg  # softplus(-eta)
    loss = wi * (yi * sp_neg + (1.0 - yi) * sp_pos)
    return loss, (yi - mu) * wi, wi * (mu * (1.0 - mu))


@numba.njit(cache=True, nogil=True)
def _log_eta(e, bound):  # pragma: no cover - compiled
    """The log pass's terms of eta alone: (clipped eta, mu = exp(eta)).

    eta is clipped to +-``bound`` = +-(log(max float) - 10) for both the loss
    and mu, as ``Poisson.eta_loss`` and ``Log.inverse`` do.
    """
    ec = min(max(e, -bound), bound)
    return ec, math.exp(ec)


@numba.njit(cache=True, nogil=True)
def _log_terms(m, yi, wi):  # pragma: no cover - compiled
    """(w d/2 without the constant, score, Fisher weight) of a row from ``m = _log_eta(eta)``.

    d/2 = exp(eta) - y eta (+ y log y - y).
    """
    ec, mu = m
    return wi * mu - (wi * yi) * ec, (yi - mu) * wi, wi * mu


@numba.njit(cache=True, nogil=True)
def _logit_compiled(
    eta0, es, step, ss, t, has_step, y, w, ws, eta_out, has_weights, score, fisher
):  # pragma: no cover
    """Binomial, logit link, over n rows (:func:`_logit_eta`, :func:`_logit_terms`).

    A constant eta (the null model's, stride 0, no step) has its terms of
    eta formed once: no exp and log per row.
    """
    eps = np.finfo(np.float64).eps
    bound = math.log((1.0 - eps) / eps)
    constant = es == 0 and not has_step
    m0 = _logit_eta(eta0[0] if y.shape[0] else 0.0, eps, bound)
    total = 0.0
    ok = True
    for i in range(y.shape[0]):
        if has_step:
            e = eta0[i * es] + t * step[i * ss]
            eta_out[i] = e
        else:
            e = eta0[i * es]
        if not abs(e) < math.inf:
            ok = False
        m = m0 if constant else _logit_eta(e, eps, bound)
        loss, sc, fi = _logit_terms(m, y[i], w[i * ws])
        total += loss
        if has_weights:
            score[i] = sc
            fisher[i] = fi
    return total, ok


@numba.njit(cache=True, nogil=True)
def _log_compiled(
    eta0, es, step, ss, t, has_step, y, w, ws, eta_out, has_weights, score, fisher
):  # pragma: no cover
    """Poisson, log link, over n rows (:func:`_log_eta`, :func:`_log_terms`; a
    constant eta's exp formed once, as in :func:`_logit_compiled`)."""
    bound = math.log(np.finfo(np.float64).max) - 10.0
    constant = es == 0 and not has_step
    m0 = _log_eta(eta0[0] if y.shape[0] else 0.0, bound)
    total = 0.0
    ok = True
    for i in range(y.shape[0]):
        if has_step:
            e = eta0[i * es] + t * step[i * ss]
            eta_out[i] = e
        else:
            e = eta0[i * es]
        if not abs(e) < math.inf:
            ok = False
        m = m0 if constant else _log_eta(e, bound)
        loss, sc, fi = _log_terms(m, y[i], w[i * ws])
        total += loss
        if has_weights:
            score[i] = sc
            fisher[i] = fi
    return total, ok


# The dot product and the update of X.T @ score over one row may reassociate
# their sums (so LLVM vectorises them, as BLAS does); the per-row formulas
# above may not (they are compared to the unfused ones to 1e-12).
_SUM_MATH = {"reassoc", "contract"}


@numba.njit(cache=True, nogil=True, fastmath=_SUM_MATH)
def _dot(x, beta):  # pragma: no cover - compiled
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] * beta[j]
    return s


@numba.njit(cache=True, nogil=True, fastmath=_SUM_MATH)
def _axpy(a, x, out):  # pragma: no cover - compiled
    for j in range(x.shape[0]):
        out[j] += a * x[j]


_LOGIT, _LOG = 0, 1


@numba.njit(cache=True, nogil=True)
def _over_rows_compiled(
    kind, X, beta, shift, eta0, es, y, w, ws, x_step, eta_out, score, fisher, need_grad, grad
):  # pragma: no cover
    """A full-step trial row by row of a C-ordered X: one read of each row, while in L1.

    For each row: x_step_i = x_i . beta + shift, eta_i = eta0_i + x_step_i,
    the row's loss, score and Fisher weight (``kind``: ``_LOGIT`` or
    ``_LOG``), and grad += score_i x_i when ``need_grad``.
    """
    eps = np.finfo(np.float64).eps
    bound = (
        math.log((1.0 - eps) / eps) if kind == _LOGIT else math.log(np.finfo(np.float64).max) - 10.0
    )
    total = 0.0
    ok = True
    for i in range(X.shape[0]):
        xi = X[i]
        xs = _dot(xi, beta) + shift
        x_step[i] = xs
        e = eta0[i * es] + xs
        eta_out[i] = e
        if not abs(e) < math.inf:
            ok = False
        if kind == _LOGIT:
            loss, sc, fi = _logit_terms(_logit_eta(e, eps, bound), y[i], w[i * ws])
        else:
            loss, sc, fi = _log_terms(_log_eta(e, bound), y[i], w[i * ws])
        total += loss
        score[i] = sc
        fisher[i] = fi
        if need_grad:
            _axpy(sc, xi, grad)
    return total, ok


_logit_pass = _row_kernel(_logit_compiled, _LOGIT)
_log_pass = _row_kernel(_log_compiled, _LOG)


@numba.njit(cache=True, nogil=True)
def _binomial_constant(y, w, ws):  # pragma: no cover - compiled
    """sum_i w_i [y_i log y_i + (1 - y_i) log(1 - y_i)] (0 log 0 = 0), in one pass.

    The constant of the binomial loss from eta (``Binomial.eta_loss_state``);
    zero for 0/1 responses, whose terms are all 0 log 0 or 1 log 1.
    """
    tiny = np.finfo(np.float64).tiny
    total = 0.0
    for i in range(y.shape[0]):
        yi = y[i]
        if yi == 0.0 or yi == 1.0:
            continue
        q = 1.0 - yi
        total += w[i * ws] * (yi * math.log(max(yi, tiny)) + q * math.log(max(q, tiny)))
    return total


def kernel_constant(prob: Any, kernel: RowKernel) -> float | None:
    """The family's constant to add to the kernel's sum, or None: no fused pass for ``prob``.

    Binomial: computed in one compiled pass (the unfused state's sign vector
    is not needed). Poisson: ``Family.eta_loss_constant``, None where that
    shortcut is off (large counts).
    """
    if kernel is _logit_pass:
        y = prob.y
        if not np.any((y > 0.0) & (y < 1.0)):  # 0/1 responses: every term is 0 (vectorised test)
            return 0.0
        return float(_binomial_constant(y, *_packed(prob.weights)))
    # Not the cached state: its w * y (n floats) would stay alive through the
    # fit, and the fused pass does not need it.
    return prob.family.eta_loss_constant(prob.y, prob.weights)


def fused_kernel(prob: Any) -> RowKernel | None:
    """The fused pass for ``prob`` (a :class:`~glmlib.solver.problem.Problem`), or None.

    None unless the arrays are float64 NumPy vectors, every row counts in the
    loss (:meth:`Problem.counted_rows` is None) and the family evaluates its
    loss from eta (binomial-logit; Poisson-log where its shortcut applies).
    """
    fam = prob.family
    if not fam.natural_link or prob.counted_rows() is not None:
        return None
    arrays = (prob.y, prob.weights)
    if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1 for a in arrays):
        return None
    if isinstance(fam, Binomial) and type(fam.link) is Logit:
        return _logit_pass
    if isinstance(fam, Poisson) and type(fam.link) is Log:
        return _log_pass
    return None
