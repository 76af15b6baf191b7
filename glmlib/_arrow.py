"""Symmetric systems with a large diagonal block: solve through the Schur complement.

The Gram matrix of a design with a categorical of many levels has that
categorical's block diagonal (each row is in one level), so after moving it
first the matrix is an *arrow*::

    A = [[D, B'],    D diagonal (k x k), C small (r x r)
         [B, C ]]

and A x = b is solved from the r x r Schur complement S = C - B D^-1 B':
O(k r^2) to form and O(r^3) to factor, against O((k + r)^3) for a dense
Cholesky (1116 columns, k = 1000: about 3 ms against 15 ms).

:class:`ArrowFactor` does this on NumPy arrays with the same scaling and the
same success test as :class:`glmlib._linalg.SymmetricFactor` (equilibrate by
the diagonal; the Cholesky pivots, those of the scaled D being 1, must be
finite and not below ``pivot_rtol`` times the largest), so it is that
factorisation of A with D's columns eliminated first. Everything other than
solves (inverse, log-determinant, rank, ...) and any A on which the test fails
go to a :class:`SymmetricFactor` of A, built when first needed.

A ridge penalty adds a diagonal to the Hessian; ``shift`` takes it as a
vector, so that the Newton step need not form the dense A + diag(shift)
(three p x p temporaries per step at p = 1116) unless the dense factor is
needed.

Tests: ``tests/test_arrow.py``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.linalg

from ._linalg import CHOL_PIVOT_RTOL, SymmetricFactor

__all__ = ["ArrowFactor", "with_diagonal"]


def with_diagonal(a: np.ndarray, shift: Any) -> np.ndarray:
    """A copy of square ``a`` plus ``diag(shift)`` (``a`` itself when ``shift`` is None).

    The same values as ``a + np.eye(k) * shift``, from one copy of ``a``
    instead of that expression's three k x k temporaries.
    """
    if shift is None:
        return a
    out = a.astype(np.result_type(a, shift))  # a copy, in the sum's dtype
    out[np.diag_indices_from(out)] += shift
    return out


class ArrowFactor:
    """Factor symmetric ``a`` whose block ``a[diag, diag]`` is diagonal.

    Parameters
    ----------
    a : ndarray of shape (k, k)
        Symmetric positive semi-definite, float64.
    diag : ndarray of int
        Indices whose block of ``a`` is diagonal (its off-diagonal entries are
        not read).
    pivot_rtol : float
        As for :class:`SymmetricFactor`.
    shift : ndarray of shape (k,) or None
        A diagonal added to ``a``: the factor is that of ``a + diag(shift)``
        (``a`` itself is not changed).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
    >>> f = ArrowFactor(a, np.array([0, 1]))
    >>> bool(f.ok), bool(np.allclose(a @ f.solve(np.ones(3)), 1.0))
    (True, True)
    """

    def __init__(
        self,
        a: np.ndarray,
        diag: np.ndarray,
        pivot_rtol: float = CHOL_PIVOT_RTOL,
        shift: np.ndarray | None = None,
    ):
        self.a, self.shift = a, shift
        self.k = int(a.shape[0])
        diag = np.asarray(diag, dtype=np.int64)
        rest = np.setdiff1d(np.arange(self.k), diag)
        dd = np.diagonal(a) if shift is None else np.diagonal(a) + shift
        self.d = np.sqrt(np.where(dd > 0, dd, 1.0))
        self.diag_idx, self.rest = diag, rest
        self.schur = self._factor_schur(a, dd, pivot_rtol)
        # Where the test fails, the dense factor decides (and solves).
        self.ok = True if self.schur is not None else self._dense.ok

    def _factor_schur(self, a: np.ndarray, dd: np.ndarray, pivot_rtol: float) -> Any:
        """The Cholesky factor of the scaled Schur complement, or None when the test fails."""
        diag, rest = self.diag_idx, self.rest
        if not np.all(dd[diag] > 0):  # D's pivots would be zero: not positive definite
            return None
        d_r, d_d = self.d[rest], self.d[diag]
        # Scaled: D_s = I, B_s = B / (d_r d_d'), C_s = C / (d_r d_r').
        self.b_s = a[np.ix_(rest, diag)] / d_r[:, None] / d_d[None, :]
        c = a[np.ix_(rest, rest)]  # a copy: the shift is added to it in place
        if self.shift is not None:
            c = c.astype(np.result_type(c, self.shift), copy=False)
            c[np.diag_indices_from(c)] += self.shift[rest]
        s = c / d_r[:, None] / d_r[None, :]
        s -= self.b_s @ self.b_s.T
        try:
            factor = scipy.linalg.cho_factor(s, lower=True, check_finite=False)[0]
        except (np.linalg.LinAlgError, ValueError):
            return None
        pivots = np.abs(np.diagonal(factor))
        if not np.all(np.isfinite(pivots)):
            return None
        top, low = float(pivots.max(initial=1.0)), float(pivots.min(initial=1.0))
        return factor if min(low, 1.0) > max(top, 1.0) * pivot_rtol else None

    @cached_property
    def _dense(self) -> SymmetricFactor:
        return SymmetricFactor(with_diagonal(self.a, self.shift))

    def __getattr__(self, name: str) -> Any:
        # inverse, logdet, rank, keep, null_basis, ...: from the dense factor
        if name.startswith("__") or name in ("_dense", "a", "shift"):
            raise AttributeError(name)
        return getattr(self._dense, name)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with a x = b, for a vector or a matrix of right-hand sides."""
        if self.schur is None:
            return self._dense.solve(b)
        d = self.d if b.ndim == 1 else self.d[:, None]
        b_s = b / d
        y_d = b_s[self.diag_idx]
        rhs = b_s[self.rest] - self.b_s @ y_d
        x_r = scipy.linalg.cho_solve((self.schur, True), rhs, check_finite=False)
        x = np.empty_like(b_s)
        x[self.rest] = x_r
        x[self.diag_idx] = y_d - self.b_s.T @ x_r
        return x / d
