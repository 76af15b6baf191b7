"""B-spline bases and difference penalties (P-splines), one covariate at a time.

A smooth f(x) = sum_k B_k(x) beta_k is a combination of ``n_splines`` B-splines
of degree ``spline_order`` on equally spaced knots spanning the training range
[lo, hi] of x (Eilers and Marx 1996). Outside [lo, hi] every basis function is
continued linearly from its value and slope at the nearest edge, so f is
extrapolated linearly. Knots, basis and extrapolation are those of pyGAM's
``b_spline_basis(..., periodic=False)``, so glmlib and pyGAM fit the same model
for the same ``n_splines`` and ``lam``.

Roughness is measured by the P-spline penalty: with D_m the m-th order
difference matrix ((n_splines - m) x n_splines), ||D_m beta||^2 = beta' P beta,
P = D_m' D_m; its null space is the polynomials of degree < m in the
coefficients (for m = 2 the straight lines). A tensor-product smooth of two or
more covariates uses the row-wise Kronecker product of the marginal bases and
one penalty per margin, P_1 (x) I (x) ... and I (x) P_2 (x) ... (Wood 2006).

References
----------
Eilers, P. H. C. and Marx, B. D. (1996). Flexible smoothing with B-splines and
penalties. *Statistical Science* 11(2), 89-121.
Wood, S. N. (2006). Low-rank scale-invariant tensor product smooths for
generalized additive mixed models. *Biometrics* 62(4), 1025-1036.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import BSpline

__all__ = [
    "bspline_knots",
    "bspline_basis",
    "dense",
    "difference_penalty",
    "row_kronecker",
    "kron_penalties",
]


def bspline_knots(lo: float, hi: float, n_splines: int, spline_order: int) -> np.ndarray:
    """Knot vector of ``n_splines`` B-splines of degree ``spline_order`` on [lo, hi].

    ``n_splines - spline_order`` equal intervals cover [lo, hi]; ``spline_order``
    further knots with the same spacing extend it on each side, so that the
    basis is a partition of unity on [lo, hi]. Returns
    ``n_splines + spline_order + 1`` knots.
    """
    if hi <= lo:
        hi = lo + 1.0  # a constant column; the caller rejects it
    inner = np.linspace(lo, hi, n_splines - spline_order + 1)
    h = inner[1] - inner[0]
    steps = np.arange(1, spline_order + 1) * h
    return np.concatenate([lo - steps[::-1], inner, hi + steps])


def bspline_basis(x: np.ndarray, knots: np.ndarray, spline_order: int) -> Any:
    """Basis matrix B[i, k] = B_k(x_i), linear beyond the boundary knots.

    Parameters
    ----------
    x : ndarray of shape (n,)
    knots : ndarray from :func:`bspline_knots`
    spline_order : int
        Degree of the splines (3: cubic).

    Returns
    -------
    scipy.sparse CSR matrix (every x inside the boundary knots: at most
    spline_order + 1 non-zeros per row) or ndarray, of shape
    (n, len(knots) - spline_order - 1).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    k = spline_order
    n_basis = len(knots) - k - 1
    lo, hi = knots[k], knots[n_basis]
    left, right = x < lo, x > hi
    # extrapolate=True only skips scipy's (slow, pure-Python) range check: the
    # points passed are inside [lo, hi].
    if not (left.any() or right.any()):
        return BSpline.design_matrix(x, knots, k, extrapolate=True)
    inside = ~(left | right)
    out = np.empty((x.shape[0], n_basis))
    if inside.any():
        out[inside] = BSpline.design_matrix(x[inside], knots, k, extrapolate=True).toarray()
    spline = BSpline(knots, np.eye(n_basis), k)
    deriv = spline.derivative() if k > 0 else None
    for mask, edge in ((left, lo), (right, hi)):
        if mask.any():
            value = spline(edge)
            slope = deriv(edge) if deriv is not None else np.zeros(n_basis)
            out[mask] = value[None, :] + (x[mask] - edge)[:, None] * slope[None, :]
    return out


def dense(a: Any) -> np.ndarray:
    """A basis matrix from :func:`bspline_basis` as a dense array."""
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def difference_penalty(n_splines: int, order: int) -> np.ndarray:
    """P = D' D with D the ``order``-th difference matrix of ``n_splines`` coefficients.

    beta' P beta = sum_j (Delta^order beta_j)^2. ``order=0`` is a ridge (P = I).
    """
    if order == 0:
        return np.eye(n_splines)
    d = np.diff(np.eye(n_splines), n=order, axis=0)
    return d.T @ d


def row_kronecker(blocks: list[np.ndarray]) -> np.ndarray:
    """Row-wise Kronecker (face-splitting) product of (n x k_j) blocks: n x prod k_j.

    Row i is kron(blocks[0][i], blocks[1][i], ...), so column (a, b, ...) holds
    B_a(x_1) B_b(x_2) ..., with the last margin varying fastest.
    """
    out = blocks[0]
    for b in blocks[1:]:
        out = (out[:, :, None] * b[:, None, :]).reshape(out.shape[0], -1)
    return out


def kron_penalties(penalties: list[np.ndarray]) -> list[np.ndarray]:
    """One penalty per margin of a tensor product: I (x) ... (x) P_j (x) ... (x) I."""
    sizes = [p.shape[0] for p in penalties]
    out = []
    for j, pj in enumerate(penalties):
        mats = [pj if i == j else sp.identity(m) for i, m in enumerate(sizes)]
        full = mats[0]
        for m in mats[1:]:
            full = sp.kron(full, m)
        out.append(np.asarray(sp.csr_matrix(full).toarray()))
    return out
