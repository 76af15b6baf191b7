"""Discretised designs: X stored as a few small bases and one integer index per row.

Many columns of a model matrix are functions of covariates that take few
distinct values (an age in years, a bonus-malus level, a postcode's
coordinates, a factor). A B-spline smooth of such a covariate has a block
X_k = M_k[k_i], where M_k (m_k x c_k) is the basis at the m_k distinct values
and k_i says which value row i has. Products with X then cost O(n) index work
plus small dense products (Wood et al. 2017; Li and Wood 2020, the idea
behind mgcv's ``bam(discrete = TRUE)``):

* X b: each block's m_k fitted values M_k b_k, gathered by the index;
* X' v: per block, the sums of v over the rows of each value (a bincount),
  then M_k' times those m_k sums;
* X' W X: the diagonal block k is M_k' diag(s_k) M_k with s_k the bincount
  of the weights; the cross block (j, k) is M_j' C_jk M_k with C_jk the
  m_j x m_k table of weight sums over the pairs of values (a 2-D bincount),
  or, when that table would be large, M_j' T with T[a] the weighted sum of
  the rows of M_k over the rows whose j-value is a (O(n c_k) work).

Several blocks whose values occur in few joint combinations (the levels of
factors, say) can be merged into one block indexed by those combinations, so
that their cross products come with the diagonal block
(:meth:`DiscreteDesign.merged`).

Nothing is approximated: with the exact distinct values (the default of
:func:`discretise`) the products are those of the dense X, summed in another
order. :func:`discretise` rounds only when asked (``decimals``), which is
then a change of the data, as with mgcv's discretisation.

This is one more design behind the solver's interface
(:mod:`glmlib.design.protocol`): NumPy (host) arrays only.

References
----------
Wood, S. N., Li, Z., Shaddick, G. and Augustin, N. H. (2017). Generalized
additive models for gigadata: modeling the U.K. black smoke network daily
data. *JASA* 112(519), 1199-1210.
Li, Z. and Wood, S. N. (2020). Faster model matrix crossproducts for large
generalized linear models with discretized covariates. *Statistics and
Computing* 30, 19-25.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd

from .protocol import AllRowsHere

__all__ = ["DiscreteDesign", "discretise", "joint_codes"]

#: Largest table of pair counts C_jk (cells) formed for a cross block; beyond
#: it (or beyond 4 n cells) the block is accumulated row by row against the
#: narrower basis instead.
_MAX_PAIR_CELLS = 1_000_000
#: Cells of all pair tables together (64 MB of float64), for designs with many blocks.
_MAX_TOTAL_PAIR_CELLS = 8_000_000


def joint_codes(columns: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct combinations of the columns' values.

    Parameters
    ----------
    columns : sequence of array-like or Series of length n
        Compared exactly (hash-based, as :func:`pandas.factorize`).

    Returns
    -------
    codes : ndarray of shape (n,), int32
        ``codes[i]`` is the combination of row i, numbered by first appearance.
    first : ndarray of shape (m,), int64
        A row with each combination (its first), so ``column[first]`` holds the
        distinct values.
    """
    if len(columns) == 0:
        raise ValueError("joint_codes needs at least one column")
    codes: np.ndarray | None = None
    for col in columns:
        c, uniques = pd.factorize(col, use_na_sentinel=False)
        c = np.asarray(c, dtype=np.int64)
        if codes is None:
            codes = c
        else:
            codes = np.asarray(pd.factorize(codes * len(uniques) + c)[0], dtype=np.int64)
    assert codes is not None
    m = int(codes.max()) + 1 if codes.shape[0] else 0
    first = np.full(m, -1, dtype=np.int64)
    _first_rows(codes, first)
    return codes.astype(np.int32), first


@numba.njit(cache=True, nogil=True)
def _first_rows(codes, first):  # pragma: no cover - compiled
    for i in range(codes.shape[0]):
        if first[codes[i]] < 0:
            first[codes[i]] = i


def discretise(x: Any, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index and distinct values of a numeric column: ``values[codes] == x``.

    Parameters
    ----------
    x : array-like of shape (n,)
    decimals : int, optional
        Round x to this many decimals first (a change of the data, as mgcv's
        discretisation; None, the default, keeps the exact values).

    Returns
    -------
    codes : ndarray of shape (n,), int32
    values : ndarray of shape (m,), float64
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if decimals is not None:
        if isinstance(decimals, bool) or not isinstance(decimals, int | np.integer):
            raise TypeError(f"decimals must be None or an integer, got {decimals!r}")
        x = np.round(x, int(decimals))
    codes, first = joint_codes([x])
    return codes, x[first]


class DiscreteDesign(AllRowsHere):
    """X = [M_1[k_1], M_2[k_2], ...]: small bases and one index column per block.

    Parameters
    ----------
    codes : ndarray of shape (n, K), integer
        ``codes[i, k]`` is the row of ``bases[k]`` that row i of X uses.
    bases : list of K ndarrays of shape (m_k, c_k)
        Block k's distinct rows; X's columns are the blocks' columns in order.

    Notes
    -----
    Every row of every basis should occur (unused rows only cost time). The
    products are exact: they sum the same terms as a dense X in another order.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.design.discrete import DiscreteDesign, discretise
    >>> x = np.array([1.0, 2.0, 1.0, 3.0])
    >>> codes, values = discretise(x)
    >>> design = DiscreteDesign(codes[:, None], [values[:, None]])
    >>> design.rmatvec(np.ones(4)).tolist()
    [7.0]
    """

    is_sparse = False

    def __init__(self, codes: Any, bases: Sequence[Any]) -> None:
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(bases):
            raise ValueError(
                f"codes must have shape (n, {len(bases)}) (one column per basis), got {codes.shape}"
            )
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
        self.bases = [np.ascontiguousarray(b, dtype=np.float64) for b in bases]
        for k, b in enumerate(self.bases):
            if b.ndim != 2:
                raise ValueError(f"bases[{k}] must be 2-D, got shape {b.shape}")
            if codes.shape[0] and (codes[:, k].min() < 0 or codes[:, k].max() >= b.shape[0]):
                raise ValueError(f"codes[:, {k}] index outside bases[{k}]'s {b.shape[0]} rows")
        self.codes = np.ascontiguousarray(codes, dtype=np.int32)
        self.n = int(codes.shape[0])
        self.sizes = np.array([b.shape[0] for b in self.bases], dtype=np.int64)
        widths = [b.shape[1] for b in self.bases]
        self.starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.p = int(self.starts[-1])
        self.dtype = np.dtype(np.float64)
        self._offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self._plan()

    # ----------------------------------------------------------------- plan
    def _plan(self) -> None:
        """Choose, per pair of blocks, a table of pair counts or row accumulation."""
        K = len(self.bases)
        count_a, count_b, count_off = [], [], [0]
        self._accumulate: list[tuple[int, int]] = []
        for a in range(K):
            for b in range(a + 1, K):
                if self._block_width(a) == 0 or self._block_width(b) == 0:
                    continue
                cells = int(self.sizes[a] * self.sizes[b])
                fits = count_off[-1] + cells <= _MAX_TOTAL_PAIR_CELLS
                if fits and cells <= min(_MAX_PAIR_CELLS, 4 * max(self.n, 1)):
                    count_a.append(a)
                    count_b.append(b)
                    count_off.append(count_off[-1] + cells)
                else:
                    self._accumulate.append((a, b))
        self._pair_a = np.array(count_a, dtype=np.int64)
        self._pair_b = np.array(count_b, dtype=np.int64)
        self._pair_m = self.sizes[self._pair_b] if len(count_b) else np.zeros(0, np.int64)
        self._pair_off = np.array(count_off, dtype=np.int64)

    def _block_width(self, k: int) -> int:
        return int(self.starts[k + 1] - self.starts[k])

    def _slice(self, k: int) -> slice:
        return slice(int(self.starts[k]), int(self.starts[k + 1]))

    def _bins(self, v: np.ndarray) -> list[np.ndarray]:
        """Per block, the sums of v over the rows of each of its distinct rows."""
        sums = _bin_sums(self.codes, self._offsets, _f64(v), int(self._offsets[-1]))
        return [sums[self._offsets[k] : self._offsets[k + 1]] for k in range(len(self.bases))]

    # ------------------------------------------------------------- products
    def matvec(self, beta: Any) -> np.ndarray:
        """X @ beta: each block's fitted values at its distinct rows, gathered by the index."""
        beta = _f64(beta)
        if not self.bases:
            return np.zeros(self.n)
        table = np.concatenate([m @ beta[self._slice(k)] for k, m in enumerate(self.bases)]).astype(
            np.float64
        )
        return _gather_sum(self.codes, self._offsets, table)

    def rmatvec(self, v: Any) -> np.ndarray:
        """X.T @ v: per block, M_k' times the bincount of v."""
        if not self.bases:
            return np.zeros(0)
        return np.concatenate([m.T @ s for m, s in zip(self.bases, self._bins(v), strict=True)])

    def gram(self, d: Any, intercept: bool = True) -> np.ndarray:
        """[1, X].T diag(d) [1, X] from bincounts of d and small dense products."""
        d = _f64(d)
        p = self.p
        g = np.zeros((p, p))
        bins = self._bins(d) if self.bases else []
        for k, (m, s) in enumerate(zip(self.bases, bins, strict=True)):
            sl = self._slice(k)
            g[sl, sl] = m.T @ (s[:, None] * m)
        if self._pair_a.shape[0]:
            tables = _pair_sums(
                self.codes, self._pair_a, self._pair_b, self._pair_m, self._pair_off, d
            )
            for q in range(self._pair_a.shape[0]):
                a, b = int(self._pair_a[q]), int(self._pair_b[q])
                c = tables[self._pair_off[q] : self._pair_off[q + 1]]
                c = c.reshape(int(self.sizes[a]), int(self.sizes[b]))
                self._cross(g, a, b, _small_product(self.bases[a], c, self.bases[b]))
        for a, b in self._accumulate:
            # Accumulate against the narrower basis, indexed by the other block's values.
            if self._block_width(b) <= self._block_width(a):
                t = _accumulate(self.codes[:, a], self.codes[:, b], self.bases[b], d, self.sizes[a])
                self._cross(g, a, b, self.bases[a].T @ t)
            else:
                t = _accumulate(self.codes[:, b], self.codes[:, a], self.bases[a], d, self.sizes[b])
                self._cross(g, a, b, (self.bases[b].T @ t).T)
        g = (g + g.T) * 0.5
        if not intercept:
            return g
        col = (
            np.concatenate([m.T @ s for m, s in zip(self.bases, bins, strict=True)])
            if self.bases
            else np.zeros(0)
        )
        out = np.empty((p + 1, p + 1))
        out[0, 0] = float(np.sum(d))
        out[0, 1:] = col
        out[1:, 0] = col
        out[1:, 1:] = g
        return out

    def _cross(self, g: np.ndarray, a: int, b: int, block: np.ndarray) -> None:
        g[self._slice(a), self._slice(b)] = block
        g[self._slice(b), self._slice(a)] = block.T

    def column_range(self) -> np.ndarray:
        """max - min of each column over the rows (every basis row occurs)."""
        parts = [
            m.max(axis=0) - m.min(axis=0) if m.shape[0] else np.zeros(m.shape[1])
            for m in self.bases
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    # ------------------------------------------------------------- structure
    def subset(self, cols: Any) -> DiscreteDesign:
        """The design of X[:, cols]: each block keeps its index and the chosen basis columns."""
        if cols is None:
            return self
        cols = np.asarray(cols, dtype=np.int64).ravel()
        if cols.size and (cols.min() < 0 or cols.max() >= self.p):
            raise IndexError(f"column index out of range for a design with {self.p} columns")
        block_of = np.searchsorted(self.starts, cols, side="right") - 1
        codes_cols, bases = [], []
        start = 0
        while start < cols.size:  # runs of consecutive columns from the same block
            k = int(block_of[start])
            stop = start + 1
            while stop < cols.size and block_of[stop] == k:
                stop += 1
            local = cols[start:stop] - self.starts[k]
            codes_cols.append(self.codes[:, k])
            bases.append(self.bases[k][:, local])
            start = stop
        codes = np.column_stack(codes_cols) if codes_cols else np.zeros((self.n, 0), np.int32)
        return DiscreteDesign(codes, bases)

    def to_dense(self) -> np.ndarray:
        """The n x p matrix X (for checks; defeats the purpose on large data)."""
        if not self.bases:
            return np.zeros((self.n, 0))
        return np.concatenate([m[self.codes[:, k]] for k, m in enumerate(self.bases)], axis=1)

    def merged(self, groups: Sequence[Sequence[int]]) -> DiscreteDesign:
        """The same X with each group of blocks merged into one block.

        A group's block is indexed by the distinct combinations of its blocks'
        codes (found with :func:`joint_codes`); its basis stacks the blocks'
        basis rows side by side. Columns keep their order only when each
        group lists consecutive blocks in order (checked).
        """
        seen = [k for grp in groups for k in grp]
        if sorted(seen) != list(range(len(self.bases))) or seen != sorted(seen):
            raise ValueError(
                f"groups must list each of the {len(self.bases)} blocks once, in order; "
                f"got {groups}"
            )
        codes_cols, bases = [], []
        for grp in groups:
            if len(grp) == 1:
                codes_cols.append(self.codes[:, grp[0]])
                bases.append(self.bases[grp[0]])
                continue
            codes, first = joint_codes([self.codes[:, k] for k in grp])
            codes_cols.append(codes)
            bases.append(np.concatenate([self.bases[k][self.codes[first, k]] for k in grp], axis=1))
        return DiscreteDesign(np.column_stack(codes_cols), bases)


def _f64(v: Any) -> np.ndarray:
    return np.ascontiguousarray(v, dtype=np.float64)


def _small_product(ma: np.ndarray, c: np.ndarray, mb: np.ndarray) -> np.ndarray:
    """M_a' C M_b, in the cheaper order."""
    left = ma.shape[1] * c.shape[0] * c.shape[1] + ma.shape[1] * c.shape[1] * mb.shape[1]
    right = c.shape[0] * c.shape[1] * mb.shape[1] + ma.shape[1] * c.shape[0] * mb.shape[1]
    return (ma.T @ c) @ mb if left <= right else ma.T @ (c @ mb)


@numba.njit(cache=True, nogil=True)
def _bin_sums(codes, offsets, v, total):  # pragma: no cover - compiled
    """out[offsets[k] + codes[i, k]] += v[i] for every row i and block k."""
    out = np.zeros(total)
    n, K = codes.shape
    for i in range(n):
        vi = v[i]
        for k in range(K):
            out[offsets[k] + codes[i, k]] += vi
    return out


@numba.njit(cache=True, nogil=True)
def _gather_sum(codes, offsets, table):  # pragma: no cover - compiled
    """out[i] = sum_k table[offsets[k] + codes[i, k]]."""
    n, K = codes.shape
    out = np.empty(n)
    for i in range(n):
        s = 0.0
        for k in range(K):
            s += table[offsets[k] + codes[i, k]]
        out[i] = s
    return out


@numba.njit(cache=True, nogil=True)
def _pair_sums(codes, pa, pb, mb, off, d):  # pragma: no cover - compiled
    """Tables of weight sums over pairs of values, one per pair of blocks (2-D bincounts)."""
    out = np.zeros(off[-1])
    n = codes.shape[0]
    for i in range(n):
        di = d[i]
        if di == 0.0:
            continue
        for q in range(pa.shape[0]):
            out[off[q] + codes[i, pa[q]] * mb[q] + codes[i, pb[q]]] += di
    return out


@numba.njit(cache=True, nogil=True)
def _accumulate(ca, cb, mb, d, ma):  # pragma: no cover - compiled
    """T[a] = sum over rows i with ca[i] = a of d[i] * mb[cb[i]]: shape (ma, mb.shape[1])."""
    c = mb.shape[1]
    out = np.zeros((ma, c))
    for i in range(ca.shape[0]):
        di = d[i]
        if di == 0.0:
            continue
        a = ca[i]
        b = cb[i]
        for j in range(c):
            out[a, j] += di * mb[b, j]
    return out
