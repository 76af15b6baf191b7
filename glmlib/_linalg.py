"""Symmetric positive semi-definite systems: scale, factor, fall back to an eigen-decomposition.

Every p x p system glmlib solves (the Newton step, the Fisher information
behind standard errors, the GAM's penalised normal equations and REML
log-determinants, the Laplace posterior covariance) is symmetric and
positive semi-definite, and is handled the same way, here, once:

1. **Scale.** Equilibrate by the diagonal, A_s = D^-1 A D^-1 with
   D = sqrt(diag A) (1 where the diagonal is not positive), so that columns
   of very different scale cost no accuracy and a column of small scale is
   not mistaken for a null direction.
2. **Factor.** Cholesky-factorise A_s = L L'. It counts as successful when it
   runs, its pivots are finite and the smallest pivot is not below
   ``pivot_rtol`` times the largest (an exactly singular matrix leaves a
   last pivot of about sqrt(k eps) after round-off).
3. **Fall back** to the eigen-decomposition A_s = V diag(e) V' when Cholesky
   fails (or is not wanted): eigenvalues above ``eig_rtol`` times the largest
   count as non-zero (``keep``), the others span the null space, and solves
   return the minimum-norm least-squares solution (the pseudo-inverse).

:class:`SymmetricFactor` does this on any array backend (NumPy, PyTorch,
CuPy); it gives solves, the inverse and its diagonal, the (pseudo-)
log-determinant, the numerical rank and an orthonormal basis of the null
space. :func:`psd_eigh` is step 3 alone, for callers that want the spectrum of
an unscaled matrix (the range of a penalty matrix). :func:`device_of` is the
one way to ask an array for its device.

Tests: ``tests/test_linalg.py``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import array_api_compat
import numpy as np
import scipy.linalg

__all__ = [
    "CHOL_PIVOT_RTOL",
    "PINV_RTOL",
    "SymmetricFactor",
    "device_of",
    "pinv_solve",
    "psd_eigh",
    "psd_root",
    "rank_rtol",
]

#: Smallest Cholesky pivot, relative to the largest, of an equilibrated matrix
#: that counts as non-singular (condition number up to about 1e12).
CHOL_PIVOT_RTOL = 1e-6
#: Default cut-off of the eigen fallback for solves (relative to the largest
#: eigenvalue): round-off in a Gram matrix summed over many rows reaches well
#: above k * eps.
PINV_RTOL = 1e-12


def rank_rtol(k: int, factor: float = 100.0) -> float:
    """The relative eigenvalue cut-off ``factor * k * eps`` for a k x k matrix.

    Used where the numerical rank matters (covariances, null spaces): an
    eigenvalue that small relative to the largest is round-off.
    """
    return factor * k * float(np.finfo(np.float64).eps)


def device_of(a: Any) -> Any:
    """The device an array lives on (``"cpu"`` for NumPy; a ``torch.device`` for tensors)."""
    return array_api_compat.device(a)


def _library(a: Any) -> str:
    if array_api_compat.is_torch_array(a):
        return "torch"
    if array_api_compat.is_cupy_array(a):
        return "cupy"
    return "numpy"


def psd_eigh(a: Any, rtol: float) -> tuple[Any, Any, Any]:
    """Eigen-decomposition of a symmetric positive semi-definite matrix, with its rank.

    Parameters
    ----------
    a : array of shape (k, k)
    rtol : float
        Eigenvalues above ``rtol * max(largest eigenvalue, 0)`` count as non-zero.

    Returns
    -------
    evals, evecs : arrays of shape (k,) and (k, k)
        Ascending eigenvalues and orthonormal eigenvectors (columns).
    keep : boolean array of shape (k,)
        Which eigenvalues count as non-zero; ``keep.sum()`` is the numerical rank.
    """
    xp = array_api_compat.array_namespace(a)
    evals, evecs = xp.linalg.eigh(a)
    top = float(xp.max(evals)) if evals.shape[0] else 0.0
    return evals, evecs, evals > max(top, 0.0) * rtol


def psd_root(a: Any) -> Any:
    """A square root R of a symmetric PSD matrix with R R' = a (negative round-off eigenvalues as 0).

    R = V diag(sqrt(max(e, 0))) from the eigen-decomposition a = V diag(e) V',
    which exists for singular matrices too: draws from N(0, a) are R z, and
    R' is a factor with (R')' R' = a for Wald statistics.
    """
    xp = array_api_compat.array_namespace(a)
    evals, evecs = xp.linalg.eigh(a)
    return evecs * xp.sqrt(xp.clip(evals, 0.0, None))


def _pinv_apply(evals: Any, evecs: Any, keep: Any, b: Any) -> Any:
    """V diag(1/e over kept e) V' b for a vector or matrix b."""
    xp = array_api_compat.array_namespace(evals)
    inv = xp.where(keep, 1.0 / xp.where(keep, evals, 1.0), 0.0)
    if b.ndim == 1:
        return evecs @ (inv * (evecs.T @ b))
    return evecs @ (inv[:, None] * (evecs.T @ b))


def pinv_solve(a: Any, b: Any, rtol: float = PINV_RTOL) -> Any:
    """Minimum-norm least-squares solution of ``a x = b`` for symmetric PSD ``a`` (not scaled).

    Parameters
    ----------
    a : array of shape (k, k)
    b : array of shape (k,) or (k, m)
    rtol : float, default=PINV_RTOL
        Relative eigenvalue cut-off (see :func:`psd_eigh`).
    """
    return _pinv_apply(*psd_eigh(a, rtol), b)


class SymmetricFactor:
    """Equilibrated Cholesky factor of a symmetric PSD matrix, with an eigen fallback.

    Parameters
    ----------
    a : array of shape (k, k)
        Symmetric positive semi-definite, on any backend; results stay there.
    cholesky : bool, default=True
        Try Cholesky first. False goes straight to the eigen-decomposition
        (for callers that need the numerical rank and null space exactly).
    pivot_rtol : float, default=CHOL_PIVOT_RTOL
        Cholesky counts as failed when its smallest pivot is not above
        ``pivot_rtol`` times its largest (0: only when it breaks down).
    eig_rtol : float, default=PINV_RTOL
        Relative eigenvalue cut-off of the fallback (see :func:`psd_eigh`).

    Attributes
    ----------
    d : array of shape (k,)
        The equilibration, sqrt(diag a) (1 where the diagonal is not positive).
    a_s : array of shape (k, k)
        a / (d d').
    ok : bool
        Whether the Cholesky factor is used (``a`` numerically positive
        definite); otherwise solves are minimum-norm least squares.

    Examples
    --------
    >>> import numpy as np
    >>> f = SymmetricFactor(np.array([[4.0, 2.0], [2.0, 3.0]]))
    >>> bool(f.ok), f.solve(np.array([2.0, 1.0])).round(3).tolist(), round(f.logdet(), 6)
    (True, [0.5, 0.0], 2.079442)
    """

    def __init__(
        self,
        a: Any,
        *,
        cholesky: bool = True,
        pivot_rtol: float = CHOL_PIVOT_RTOL,
        eig_rtol: float = PINV_RTOL,
    ) -> None:
        xp = self.xp = array_api_compat.array_namespace(a)
        self.library = _library(a)
        self.k = int(a.shape[0])
        self.eig_rtol = eig_rtol
        diag = xp.linalg.diagonal(a)
        self.d = xp.sqrt(xp.where(diag > 0, diag, 1.0))
        self.a_s = a / (self.d[:, None] * self.d[None, :])
        self.factor: Any = None
        self.ok = False
        if cholesky:
            self.factor = self._cholesky()
        if self.factor is not None:
            pivots = xp.abs(xp.linalg.diagonal(self.factor))
            finite = bool(xp.all(xp.isfinite(pivots)))
            self.ok = finite and (
                self.k == 0 or float(xp.min(pivots)) > float(xp.max(pivots)) * pivot_rtol
            )

    def _cholesky(self) -> Any:
        """Lower Cholesky factor of ``a_s``, or None when it breaks down."""
        try:
            if self.library == "numpy":
                return scipy.linalg.cho_factor(self.a_s, lower=True, check_finite=False)[0]
            if self.library == "torch":
                import torch

                l_factor, info = torch.linalg.cholesky_ex(self.a_s)
                return l_factor if int(info) == 0 else None
            return self.xp.linalg.cholesky(self.a_s)
        except (np.linalg.LinAlgError, ValueError, RuntimeError):
            return None

    # ------------------------------------------------------------ eigen fallback
    @cached_property
    def _eigen(self) -> tuple[Any, Any, Any]:
        return psd_eigh(self.a_s, self.eig_rtol)

    @property
    def keep(self) -> Any:
        """Which eigenvalues of ``a_s`` count as non-zero (all, when Cholesky succeeded)."""
        if self.ok:
            return self.xp.ones(self.k, dtype=self.xp.bool, device=device_of(self.a_s))
        return self._eigen[2]

    @property
    def rank(self) -> int:
        """Numerical rank (k when Cholesky succeeded)."""
        return (
            self.k if self.ok else int(self.xp.sum(self.xp.astype(self._eigen[2], self.xp.int64)))
        )

    def null_basis(self) -> Any:
        """Orthonormal basis (k, k - rank) of the numerical null space of ``a``.

        The null directions v of ``a_s`` map to D^-1 v for ``a``
        (a D^-1 v = D a_s v = 0), orthonormalised by a QR decomposition.
        """
        evals, evecs, keep = self._eigen
        null = evecs[:, ~keep] / self.d[:, None]
        if null.shape[1] == 0:
            return null
        return self.xp.linalg.qr(null)[0]

    # ----------------------------------------------------------------- results
    def _solve_scaled(self, b_s: Any) -> Any:
        """x_s with a_s x_s = b_s (from the Cholesky factor, or minimum norm from the eigen one)."""
        if not self.ok:
            return _pinv_apply(*self._eigen, b_s)
        if self.library == "numpy":
            return scipy.linalg.cho_solve((self.factor, True), b_s, check_finite=False)
        if self.library == "torch":
            import torch

            x = torch.cholesky_solve(b_s[:, None] if b_s.ndim == 1 else b_s, self.factor)
            return x[:, 0] if b_s.ndim == 1 else x
        import cupyx.scipy.linalg as cl

        y = cl.solve_triangular(self.factor, b_s, lower=True)
        return cl.solve_triangular(self.factor.T, y, lower=False)

    def solve(self, b: Any) -> Any:
        """x with a x = b, for a vector or a matrix of right-hand sides (minimum norm when singular)."""
        d = self.d if b.ndim == 1 else self.d[:, None]
        return self._solve_scaled(b / d) / d

    def inverse(self) -> Any:
        """a^-1 = D^-1 a_s^-1 D^-1 (with the pseudo-inverse of a_s when ``a`` is singular)."""
        xp = self.xp
        if self.ok:
            eye = xp.eye(self.k, dtype=self.a_s.dtype, device=device_of(self.a_s))
            inv_s = self._solve_scaled(eye)
        else:
            evals, evecs, keep = self._eigen
            v = evecs[:, keep]
            inv_s = (v / evals[keep]) @ v.T
        return inv_s / (self.d[:, None] * self.d[None, :])

    def inverse_diagonal(self) -> Any | None:
        """diag(a^-1) from the Cholesky factor (None when it failed).

        With a_s = L L', diag(a_s^-1) holds the squared column norms of L^-1:
        one triangular inversion, a third of the work of inverting ``a``.
        """
        if not self.ok:
            return None
        xp = self.xp
        if self.library == "numpy":
            l_inv, info = scipy.linalg.lapack.dtrtri(self.factor, lower=1)
            if info != 0:
                return None
            l_inv = np.tril(l_inv)  # cho_factor leaves the input above the diagonal
        else:
            eye = xp.eye(self.k, dtype=self.factor.dtype, device=device_of(self.factor))
            if self.library == "torch":
                import torch

                l_inv = torch.linalg.solve_triangular(self.factor, eye, upper=False)
            else:
                import cupyx.scipy.linalg as cl

                l_inv = cl.solve_triangular(self.factor, eye, lower=True)
        return xp.sum(l_inv * l_inv, axis=0) / (self.d * self.d)

    def logdet(self) -> float:
        """log|a|, or the pseudo-log-determinant (over the kept eigenvalues) when singular."""
        xp = self.xp
        log_d = 2.0 * float(xp.sum(xp.log(self.d)))
        if self.ok:
            return 2.0 * float(xp.sum(xp.log(xp.linalg.diagonal(self.factor)))) + log_d
        evals, _, keep = self._eigen
        return float(xp.sum(xp.log(evals[keep]))) + log_d
