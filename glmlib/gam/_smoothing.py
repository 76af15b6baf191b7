"""Smoothness selection: REML, GCV and UBRE of a weighted linear model, in log lambda.

Every criterion is a function of the smoothing parameters rho = log(lambda)
through the penalised least-squares fit of a *working* linear model

    minimise  ||sqrt(W) (z - X beta)||^2 + beta' S_lambda beta,   S_lambda = S_0 + sum_j lambda_j S_j,

(S_0: penalties with fixed lambda), which is summarised by p x p and scalar
statistics only: A = X'WX, r = X'W(z - X theta) and c = ||sqrt(W)(z - X theta)||^2
at a reference point theta (working residuals rather than z itself, so that
the residual sum of squares is not computed as a small difference of large
numbers). With H = A + S_lambda, beta = theta + H^{-1}(r - S_lambda theta),
RSS = ||sqrt(W)(z - X beta)||^2, D_p = RSS + beta' S_lambda beta,
tau = tr(H^{-1} A) (the effective degrees of freedom) and M_p the dimension of
the null space of S_lambda (unpenalised coefficients):

* REML, known scale phi (Wood 2011, eq. 4 with the Laplace approximation exact
  for a linear model)::

      V_R = [D_p / phi + log|H| - log|S_lambda|_+] / 2

* REML, unknown scale, phi profiled out (phi_hat = D_p / (n - M_p))::

      V_R = [(n - M_p) log D_p + log|H| - log|S_lambda|_+] / 2

* GCV (Craven and Wahba 1979): V_g = n RSS / (n - gamma tau)^2
* UBRE / Mallows' Cp (known scale): V_u = RSS / n - phi + 2 gamma phi tau / n

(constants in rho dropped). Derivatives are analytic, from
d beta / d rho_j = -lambda_j H^{-1} S_j beta:

    dD_p / drho_j     = lambda_j beta' S_j beta
    dlog|H| / drho_j  = lambda_j tr(H^{-1} S_j)
    dRSS / drho_j     = 2 lambda_j beta' S_lambda H^{-1} S_j beta
    dtau / drho_j     = -lambda_j tr(H^{-1} S_j H^{-1} A)

and log|S_lambda|_+ is computed block by block: rank * log(lambda) for a
single-penalty smooth; for a tensor product, the log-determinant of the
penalty sum projected on its (lambda-independent) range space.

For a Gaussian response with identity link the working model is the model
itself and these are the exact REML/GCV/UBRE scores. For other families they
are evaluated on the penalised-IRLS working model at each iteration
(performance iteration / PQL: Gu 1992; Wood 2004; Breslow and Clayton 1993).
The minimisation is L-BFGS-B over bounded log(lambda) on the host: it touches
only p x p matrices, never the data.

References
----------
Craven, P. and Wahba, G. (1979). Smoothing noisy data with spline functions.
*Numerische Mathematik* 31, 377-403.
Gu, C. (1992). Cross-validating non-Gaussian data. *J. Comput. Graph. Stat.* 1, 169-179.
Breslow, N. E. and Clayton, D. G. (1993). Approximate inference in generalized
linear mixed models. *JASA* 88, 9-25.
Wood, S. N. (2004). Stable and efficient multiple smoothing parameter estimation
for generalized additive models. *JASA* 99, 673-686.
Wood, S. N. (2011). Fast stable restricted maximum likelihood and marginal
likelihood estimation of semiparametric generalized linear models. *JRSS B*
73(1), 3-36.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from .._linalg import SymmetricFactor, psd_eigh, rank_rtol
from ._threads import small_blas

__all__ = ["PenaltyBlock", "PenaltyStructure", "WorkingModel", "Criterion", "select_smoothing"]

METHODS = ("REML", "GCV", "UBRE")
#: Half-width of the search interval for log(lambda) around the balanced value.
RHO_RANGE = 15.0


@dataclass
class PenaltyBlock:
    """The penalties of one term, on coefficients ``start:stop`` of theta.

    ``free[m]`` is the index of penalty m's lambda in rho, or None when its
    lambda is fixed at ``fixed[m]``.
    """

    start: int
    stop: int
    matrices: list[np.ndarray]
    free: list[int | None]
    fixed: list[float | None]
    rank: int = 0
    range_basis: np.ndarray | None = None
    projected: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = np.sum(self.matrices, axis=0)
        _, evecs, keep = psd_eigh(total, rank_rtol(total.shape[0]))
        self.rank = int(keep.sum())
        if len(self.matrices) > 1:
            self.range_basis = evecs[:, keep]
            self.projected = [self.range_basis.T @ s @ self.range_basis for s in self.matrices]

    def lambdas(self, lam: np.ndarray) -> list[float]:
        return [
            float(lam[j]) if j is not None else float(fx)  # type: ignore[arg-type]
            for j, fx in zip(self.free, self.fixed, strict=True)
        ]

    def logdet(self, lam: np.ndarray) -> tuple[float, dict[int, float]]:
        """log|sum_m lambda_m S_m|_+ and its derivatives in the free log lambdas."""
        lams = self.lambdas(lam)
        if self.rank == 0:
            return 0.0, {}
        if len(self.matrices) == 1:
            if lams[0] <= 0:
                return 0.0, {}
            j = self.free[0]
            return self.rank * math.log(lams[0]), ({j: float(self.rank)} if j is not None else {})
        m = sum(lm * pm for lm, pm in zip(lams, self.projected, strict=True))
        factor = SymmetricFactor(m, pivot_rtol=0.0)  # positive definite on the range
        value = factor.logdet()
        grads: dict[int, float] = {}
        for lm, pm, j in zip(lams, self.projected, self.free, strict=True):
            if j is not None:
                grads[j] = lm * float(np.trace(factor.solve(pm)))
        return value, grads


@dataclass
class PenaltyStructure:
    """All penalty blocks of a model with q coefficients (intercept first).

    ``ridge`` is a fixed penalty on the directions that neither the data nor
    any penalty determines (see :meth:`pin_unidentified`), of rank
    ``ridge_rank``; None until that is called.
    """

    q: int
    blocks: list[PenaltyBlock]
    n_free: int
    ridge: np.ndarray | None = None
    ridge_rank: int = 0

    def matrix(self, lam: np.ndarray) -> np.ndarray:
        """S_lambda as a dense q x q matrix (with the fixed ridge, if any)."""
        out = np.zeros((self.q, self.q)) if self.ridge is None else self.ridge.copy()
        for blk in self.blocks:
            for lm, sm in zip(blk.lambdas(lam), blk.matrices, strict=True):
                out[blk.start : blk.stop, blk.start : blk.stop] += lm * sm
        return out

    @property
    def null_dim(self) -> int:
        """M_p: identifiable coefficients the penalty leaves free (intercept, parametric terms,
        null spaces)."""
        return self.q - sum(b.rank for b in self.blocks) - self.ridge_rank

    def pin_unidentified(self, A: np.ndarray, rho: np.ndarray) -> int:
        """Penalise the directions z with X z = 0 and S_j z = 0 for every j; return their number.

        Such directions arise when the penalty null spaces of two terms overlap
        (``s(x) + te(x, z)``: both contain the straight line in x). Along them
        H = X'WX + S_lambda is singular for every lambda, so log|H| in REML is
        the log of a rounding error and the selected lambda is noise. They are
        found once, as the null space of the equilibrated X'WX + S_lambda at
        ``rho`` (the same for every positive lambda and weights), and given the
        fixed penalty c Z Z' (Z orthonormal, c = tr(A) / q). That changes no
        fitted value, adds only a constant to log|H| and log|S_lambda|_+
        (H = H_identified + c Z Z'), and removes the directions from M_p: the
        criteria become those of the identifiable model, whose coefficients are
        the minimum-norm ones along Z.
        """
        self.ridge, self.ridge_rank = None, 0
        h = A + self.matrix(np.exp(rho))
        basis = SymmetricFactor(h, cholesky=False, eig_rtol=rank_rtol(self.q)).null_basis()
        if basis.shape[1] == 0:
            return 0
        scale = max(float(np.trace(A)) / self.q, np.finfo(float).tiny)
        self.ridge, self.ridge_rank = scale * basis @ basis.T, basis.shape[1]
        return self.ridge_rank

    def balanced_log_lambda(self, A: np.ndarray) -> np.ndarray:
        """log lambda_j at which lambda_j S_j and the data term X'WX have equal traces."""
        rho = np.zeros(self.n_free)
        for blk in self.blocks:
            data = float(np.trace(A[blk.start : blk.stop, blk.start : blk.stop]))
            for sm, j in zip(blk.matrices, blk.free, strict=True):
                if j is not None:
                    ratio = data / max(float(np.trace(sm)), 1e-300)
                    rho[j] = math.log(ratio) if ratio > 0 else 0.0
        return rho


@dataclass
class WorkingModel:
    """Sufficient statistics of the weighted least-squares problem at theta (R scale)."""

    A: np.ndarray  # X'WX, q x q (intercept first)
    r: np.ndarray  # X'W(z - X theta)
    c: float  # ||sqrt(W)(z - X theta)||^2
    theta: np.ndarray
    n: float  # number of observations


def _factor(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(H^{-1}, equilibration d, log|H|) of a symmetric positive (semi)definite H.

    Cholesky of the equilibrated H; when that breaks down, the pseudo-inverse and
    pseudo-log-determinant over eigenvalues above 10 q eps of the largest.
    """
    factor = SymmetricFactor(h, pivot_rtol=0.0, eig_rtol=rank_rtol(h.shape[0], 10.0))
    return factor.inverse(), factor.d, factor.logdet()


class Criterion:
    """A smoothness-selection criterion of the working model as a function of rho = log lambda.

    Parameters
    ----------
    model : WorkingModel
    structure : PenaltyStructure
    method : {"REML", "GCV", "UBRE"}
    scale : float or None
        Known scale phi (1 for binomial and Poisson), or None when estimated.
    gamma : float
        Extra weight on the degrees of freedom in GCV/UBRE (mgcv's ``gamma``).
    """

    def __init__(
        self,
        model: WorkingModel,
        structure: PenaltyStructure,
        method: str,
        scale: float | None,
        gamma: float = 1.0,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.m = model
        self.st = structure
        self.method = method
        self.scale = scale
        self.gamma = gamma

    def fit(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(beta, H^{-1}, S_lambda, log|H|) at rho."""
        lam = np.exp(rho)
        S = self.st.matrix(lam)
        hinv, _, logdet_h = _factor(self.m.A + S)
        beta = self.m.theta + hinv @ (self.m.r - S @ self.m.theta)
        return beta, hinv, S, logdet_h

    def value_and_grad(self, rho: np.ndarray) -> tuple[float, np.ndarray]:
        """The criterion and its gradient in rho."""
        m, st = self.m, self.st
        lam = np.exp(rho)
        beta, hinv, S, logdet_h = self.fit(rho)
        delta = beta - m.theta
        rss = max(m.c - 2.0 * delta @ m.r + delta @ m.A @ delta, 0.0)
        bsb = float(beta @ S @ beta)
        dp = rss + bsb
        k = st.n_free
        # Per free lambda: lambda_j beta' S_j beta, lambda_j tr(H^-1 S_j) and friends.
        d_bsb, d_trace = np.zeros(k), np.zeros(k)
        need_gcv = self.method != "REML"
        d_rss, d_tau = np.zeros(k), np.zeros(k)
        if need_gcv:
            u = hinv @ (S @ beta)
            g = hinv @ m.A @ hinv
        for blk in st.blocks:
            sl = slice(blk.start, blk.stop)
            for sm, j in zip(blk.matrices, blk.free, strict=True):
                if j is None:
                    continue
                sb = sm @ beta[sl]
                d_bsb[j] = lam[j] * float(beta[sl] @ sb)
                d_trace[j] = lam[j] * float(np.sum(hinv[sl, sl] * sm))
                if need_gcv:
                    d_rss[j] = 2.0 * lam[j] * float(u[sl] @ sb)
                    d_tau[j] = -lam[j] * float(np.sum(g[sl, sl] * sm))
        if self.method == "REML":
            logdet_s, d_logdet_s = 0.0, np.zeros(k)
            for blk in st.blocks:
                v, grads = blk.logdet(lam)
                logdet_s += v
                for j, gj in grads.items():
                    d_logdet_s[j] += gj
            if self.scale is None:
                dof = m.n - st.null_dim
                dp = max(dp, 1e-300)
                value = 0.5 * (dof * math.log(dp) + logdet_h - logdet_s)
                grad = 0.5 * (dof * d_bsb / dp + d_trace - d_logdet_s)
            else:
                value = 0.5 * (dp / self.scale + logdet_h - logdet_s)
                grad = 0.5 * (d_bsb / self.scale + d_trace - d_logdet_s)
            return value, grad
        tau = st.q - float(np.sum(hinv * S))
        n, gam = m.n, self.gamma
        if self.method == "GCV":
            denom = max(n - gam * tau, 1e-8)
            value = n * rss / denom**2
            grad = n * d_rss / denom**2 + 2.0 * n * rss * gam * d_tau / denom**3
            return value, grad
        phi = 1.0 if self.scale is None else self.scale
        value = rss / n - phi + 2.0 * gam * phi * tau / n
        grad = d_rss / n + 2.0 * gam * phi * d_tau / n
        return value, grad


def select_smoothing(
    criterion: Criterion,
    rho0: np.ndarray,
    bounds: list[tuple[float, float]],
    tol: float = 1e-10,
) -> tuple[np.ndarray, float, int]:
    """Minimise the criterion over rho in ``bounds`` from ``rho0``: (rho, value, evaluations)."""
    if rho0.shape[0] == 0:
        return rho0, criterion.value_and_grad(rho0)[0], 1
    with small_blas():
        v0, _ = criterion.value_and_grad(rho0)
    # Work in units where one effective degree of freedom moves the criterion by O(1):
    # REML already is; GCV ~ phi (1 + 2 tau / n) and UBRE ~ 2 phi tau / n are not.
    n = criterion.m.n
    if criterion.method == "GCV":
        unit = max(abs(v0), 1e-300) / n
    elif criterion.method == "UBRE":
        unit = (criterion.scale or 1.0) / n
    else:
        unit = 1.0

    def fun(rho: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = criterion.value_and_grad(rho)
        if not math.isfinite(v):
            return 1e300, np.zeros_like(rho)
        return (v - v0) / unit, g / unit

    with small_blas():
        res = scipy.optimize.minimize(
            fun,
            np.clip(rho0, [b[0] for b in bounds], [b[1] for b in bounds]),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": tol, "gtol": 1e-5, "maxiter": 200},
        )
    return np.asarray(res.x), v0 + float(res.fun) * unit, int(res.nfev)
