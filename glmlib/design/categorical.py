"""pandas categorical columns as a design, without building the one-hot matrix.

A DataFrame whose columns are numeric or ``CategoricalDtype`` becomes a design
whose columns are the DataFrame's in order, each categorical expanded in place
into one indicator column per level (``"{column}[{level}]"``). It is stored
as a dense block of the numeric columns and one int32 code per row and
categorical, so that for the indicator columns

* ``X @ beta`` is a gather of the level coefficients,
* ``X.T @ v`` is a bincount of v,
* ``X.T diag(d) X`` is a bincount of d on its diagonal blocks, a 2-D bincount
  between two categoricals and a bincount of d * x_j against numeric column j,

all in one compiled pass over the rows: O(n (K + m)^2) for K categoricals and
m numeric columns, never O(n * levels); the numeric block's own Gram matrix
comes from the same pass, accumulated in float64. The widest categorical's
diagonal block lets the Newton step solve through a Schur complement
(:attr:`CategoricalDesign.diagonal_block`), and the line search's passes are
fused as for the dense design (:meth:`CategoricalDesign.matvec_rmatvec`).

:class:`CategoricalLayout` is the fitted part (column names, categories,
whether the first level is dropped); it maps new data onto the fitted levels
for ``predict``. A code of -1 marks a row that is zero in every indicator of
its categorical: the dropped first level, or, in a column subset, a level
that is not kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from .._backend import Backend
from .dense import _last_subset
from .protocol import AllRowsHere

__all__ = ["CategoricalDesign", "CategoricalLayout", "is_categorical"]

# Unseen levels named in the error message of predict.
_SHOW_UNSEEN = 5
# Rows per block of the fused line-search pass (a few hundred kB of codes, X and weights).
_FUSED_ROWS = 1 << 14
# Rows per block when the numeric columns are copied into one row-major array.
_COPY_ROWS = 1 << 16
# Rows per block of the Gram pass's numeric product (sqrt(d) X: 160 kB at m = 5).
_GRAM_ROWS = 1 << 12
#: Fewest levels for which the Newton step eliminates a categorical's diagonal block first.
MIN_DIAGONAL_BLOCK = 64


def is_categorical(dtype: Any) -> bool:
    """Whether a column of this dtype is expanded into indicator columns."""
    return isinstance(dtype, pd.CategoricalDtype)


@dataclass(frozen=True, eq=False)
class CategoricalLayout:
    """How the columns of a DataFrame map onto design columns (fitted state).

    Parameters
    ----------
    names : tuple of str
        Column names used in term names, one per DataFrame column.
    categories : tuple of (pandas.Index or None)
        The levels of each categorical column at fit time; None for a numeric
        column.
    drop_first : bool
        Whether each categorical's first level is left out (treatment coding).
    """

    names: tuple[str, ...]
    categories: tuple[pd.Index | None, ...]
    drop_first: bool

    @classmethod
    def from_frame(cls, X: pd.DataFrame, names: list[str], drop_first: bool) -> CategoricalLayout:
        """The layout of a validated DataFrame, with its own categories."""
        cats = tuple(
            X.iloc[:, j].cat.categories if is_categorical(dt) else None
            for j, dt in enumerate(X.dtypes)
        )
        return cls(tuple(names), cats, bool(drop_first))

    def _kept(self, levels: pd.Index) -> pd.Index:
        return levels[1:] if self.drop_first else levels

    @property
    def term_names(self) -> list[str]:
        """Names of the design's columns, in order."""
        out: list[str] = []
        for name, levels in zip(self.names, self.categories, strict=True):
            if levels is None:
                out.append(name)
            else:
                out.extend(f"{name}[{level}]" for level in self._kept(levels))
        return out

    @property
    def widths(self) -> np.ndarray:
        """Number of design columns of each DataFrame column."""
        return np.array([1 if c is None else len(self._kept(c)) for c in self.categories])

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Per-DataFrame-column values repeated over each column's design columns."""
        return np.repeat(np.asarray(values), self.widths)

    def levels_dict(self) -> dict[str, np.ndarray]:
        """{column name: its fitted levels (the dropped first one included)}."""
        return {
            name: levels.to_numpy()
            for name, levels in zip(self.names, self.categories, strict=True)
            if levels is not None
        }

    def design(self, X: pd.DataFrame, backend: Backend) -> CategoricalDesign:
        """The design of X (checked against this layout: same number of columns).

        Values of categorical columns are mapped onto the fitted levels,
        whatever X's own category order or dtype (plain strings work).
        Raises ValueError for missing values and unseen levels, naming the
        column, and for non-finite numeric values.
        """
        n = X.shape[0]
        numeric = [j for j, c in enumerate(self.categories) if c is None]
        X_num = _numeric_block(X, numeric) if numeric else np.empty((n, 0))
        num_cols: list[int] = []
        level_cols: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        col = 0
        for j, levels in enumerate(self.categories):
            if levels is None:
                num_cols.append(col)
                col += 1
                continue
            width = len(self._kept(levels))
            c = _codes(X.iloc[:, j], levels, self.names[j])
            if width:
                codes.append(c - 1 if self.drop_first else c)  # first level -> -1
                level_cols.append(np.arange(col, col + width))
            col += width
        return CategoricalDesign(
            X_num,
            np.asarray(num_cols, dtype=np.int64),
            _stack_codes(codes, n),
            level_cols,
            col,
            backend,
        )


def _numeric_block(X: pd.DataFrame, numeric: list[int]) -> np.ndarray:
    """Columns ``numeric`` of X as one C-ordered array: float32 if all are, else float64.

    Plain NumPy float columns of that dtype are copied into the result (one
    copy, by blocks of rows so that the strided writes stay in cache; a
    DataFrame's own array of them is column-major, which ``check_array``
    would copy twice) and checked finite by their sum; anything else
    (integers, booleans, nullable dtypes, non-finite values) goes through
    ``check_array``, which converts or raises.
    """
    dtypes = [X.dtypes.iloc[j] for j in numeric]
    dtype = np.float32 if all(dt == np.float32 for dt in dtypes) else np.float64
    n = X.shape[0]
    if n and all(dt == dtype for dt in dtypes):
        out = np.empty((n, len(numeric)), dtype=dtype)
        cols = [X.iloc[:, j].to_numpy() for j in numeric]
        for start in range(0, n, _COPY_ROWS):
            stop = min(start + _COPY_ROWS, n)
            for a, col in enumerate(cols):
                out[start:stop, a] = col[start:stop]
        with np.errstate(over="ignore"):
            if np.isfinite(np.sum(out)):  # a sum of finite values that did not overflow
                return out
    return check_array(X.iloc[:, numeric], dtype=dtype, order="C")


def _codes(values: pd.Series, levels: pd.Index, name: str) -> np.ndarray:
    """int32 codes of ``values`` on ``levels``; ValueError for missing or unseen values."""
    if is_categorical(values.dtype):
        own = values.cat.codes.to_numpy()
        if values.cat.categories.equals(levels):
            codes = own.astype(np.int32)
        else:  # recode through a table; own code -1 (missing) stays -1
            table = np.append(levels.get_indexer(values.cat.categories), -1).astype(np.int32)
            codes = table[own]
    else:
        codes = levels.get_indexer(values.to_numpy()).astype(np.int32)
    bad = codes < 0
    if bad.any():
        missing = values.isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"categorical column {name!r} has {int(missing.sum())} missing values; "
                "fill them (for example with an explicit 'missing' level) before fitting"
            )
        unseen = pd.unique(values[bad].astype(object))
        shown = [str(u) for u in unseen[:_SHOW_UNSEEN]]
        more = f" and {len(unseen) - _SHOW_UNSEEN} more" if len(unseen) > _SHOW_UNSEEN else ""
        raise ValueError(
            f"column {name!r} has levels not seen in fit: {shown}{more} "
            f"(known levels: {len(levels)})"
        )
    return codes


def _stack_codes(codes: list[np.ndarray], n: int) -> np.ndarray:
    """(n, K) C-contiguous int32 codes: one pass over the rows reads them together."""
    out = np.empty((n, len(codes)), dtype=np.int32)
    for k, c in enumerate(codes):
        out[:, k] = c
    return out


class CategoricalDesign(AllRowsHere):
    """A design of numeric columns and categoricals' indicator columns.

    Parameters
    ----------
    X_num : ndarray of shape (n, m)
        The numeric columns, float64 or float32, C-contiguous.
    num_cols : ndarray of int, shape (m,)
        Design column of each numeric column.
    codes : ndarray of int32, shape (n, K)
        Level of each row in each categorical; -1 for a row that is zero in
        all of that categorical's columns.
    level_cols : list of K int arrays
        Design column of each level of each categorical.
    p : int
        Number of design columns.
    backend : Backend
        The numpy backend.
    """

    def __init__(
        self,
        X_num: np.ndarray,
        num_cols: np.ndarray,
        codes: np.ndarray,
        level_cols: list[np.ndarray],
        p: int,
        backend: Backend,
    ) -> None:
        if backend.name != "numpy":
            raise ValueError("the categorical design runs on the numpy backend")
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = X_num.shape[0], int(p)
        self.dtype = X_num.dtype
        self.is_sparse = False
        self.X_num = X_num
        self.num_cols = np.asarray(num_cols, dtype=np.int64)
        self.codes = codes
        self.level_cols = [np.asarray(c, dtype=np.int64) for c in level_cols]
        widths = np.array([len(c) for c in self.level_cols], dtype=np.int64)
        # Flat index of (categorical k, level c): level_start[k] + c.
        self.level_start = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.flat_cols = np.concatenate([np.zeros(0, np.int64), *self.level_cols])
        # The (k, q) block of levels of categorical k by levels of q > k, flattened.
        sizes = [
            widths[k] * widths[q] for k in range(len(widths)) for q in range(k + 1, len(widths))
        ]
        self.pair_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def diagonal_block(self) -> np.ndarray | None:
        """Design columns whose Gram block is diagonal: the levels of the widest categorical.

        Each row is in one level of a categorical, so X'WX is diagonal
        between its levels; the Newton step then solves through the Schur
        complement onto the other columns (:class:`glmlib._arrow.ArrowFactor`).
        None when no categorical has :data:`MIN_DIAGONAL_BLOCK` levels (a
        dense factorisation costs as little).
        """
        if not self.level_cols:
            return None
        widest = max(self.level_cols, key=len)
        return widest if len(widest) >= MIN_DIAGONAL_BLOCK else None

    @property
    def m(self) -> int:
        """Number of numeric columns."""
        return self.X_num.shape[1]

    def matvec(self, beta: Any) -> np.ndarray:
        """X @ beta as a float64 vector: a dot product with the numeric columns
        and a gather of the level coefficients, in one pass over the rows."""
        beta = np.asarray(beta, dtype=np.float64)
        return _matvec(
            self.X_num, beta[self.num_cols], self.codes, self.level_start, beta[self.flat_cols]
        )

    def rmatvec(self, v: Any) -> np.ndarray:
        """X.T @ v as a float64 vector (numeric sums and per-level bincounts, one pass)."""
        num, levels = _rmatvec(
            self.X_num, self.codes, self.level_start, np.asarray(v, dtype=np.float64)
        )
        out = np.zeros(self.p)
        out[self.num_cols] = num
        out[self.flat_cols] = levels
        return out

    #: :meth:`matvec_rmatvec` applies (the solver's line search fuses its passes).
    can_fuse_rows = True

    def matvec_rmatvec(self, beta: Any, shift: float, row_pass: Any) -> tuple[Any, Any]:
        """(X @ beta + shift, X.T @ u) from one pass over the rows.

        Block by block of rows, v = X_b @ beta + shift is written to the
        first result, then ``u_b = row_pass(start, stop, v)`` (the working
        weights at the line search's trial point) and X_b.T @ u_b are formed
        while the block's codes and numeric values are in cache, as the dense
        design does (:meth:`glmlib.design.dense.DenseDesign.matvec_rmatvec`);
        when ``row_pass`` returns None, X.T @ u is not formed (zeros are returned).
        """
        beta = np.asarray(beta, dtype=np.float64)
        beta_num, beta_levels = beta[self.num_cols], beta[self.flat_cols]
        out = np.empty(self.n)
        num = np.zeros(self.m)
        levels = np.zeros(self.level_start[-1])
        for start in range(0, self.n, _FUSED_ROWS):
            stop = min(start + _FUSED_ROWS, self.n)
            X_b, codes_b = self.X_num[start:stop], self.codes[start:stop]
            v = out[start:stop]
            _matvec_into(X_b, beta_num, codes_b, self.level_start, beta_levels, shift, v)
            u = row_pass(start, stop, v)
            if u is not None:  # None: the caller needs no X.T @ u (zeros are returned)
                _rmatvec_add(X_b, codes_b, self.level_start, u, num, levels)
        grad = np.zeros(self.p)
        grad[self.num_cols] = num
        grad[self.flat_cols] = levels
        return out, grad

    def gram(self, d: Any, intercept: bool = True) -> np.ndarray:
        """[1, X].T diag(d) [1, X] (d >= 0), float64; without the 1 when ``intercept=False``.

        Every entry comes from one compiled pass over the rows into compact
        blocks (per level: sum of d and of d x_a; per pair of categoricals: a
        2-D bincount of d; the numeric block [1, X_num].T diag(d) [1, X_num]),
        then placed. One pass instead of that pass plus a BLAS product over
        all rows for the numeric block (about 30 ms against 52 ms for the
        benchmark's n = 1e6, 1000 + 100 + 10 levels, m = 5, one thread); the
        pass hands its numeric block to BLAS a few thousand rows at a time,
        while they are in cache (about 24 ms).
        """
        d = np.asarray(d, dtype=np.float64)
        per_level, pairs, num = _level_gram(
            self.X_num, self.codes, self.level_start, self.pair_start, d
        )
        g = np.zeros((self.p + 1, self.p + 1))
        lc = self.flat_cols + 1
        g[lc, 0] = g[0, lc] = g[lc, lc] = per_level[:, 0]  # indicators: x^2 = x
        m = self.m
        idx = np.concatenate([[0], self.num_cols + 1])
        block = num[:, : m + 1]
        g[np.ix_(idx, idx)] = np.triu(block) + np.triu(block, 1).T
        if m:
            nc = self.num_cols + 1
            g[np.ix_(lc, nc)] = per_level[:, 1 : 1 + m]
            g[np.ix_(nc, lc)] = per_level[:, 1 : 1 + m].T
        pair = 0
        for k, cols_k in enumerate(self.level_cols):
            for cols_q in self.level_cols[k + 1 :]:
                block = pairs[self.pair_start[pair] : self.pair_start[pair + 1]]
                block = block.reshape(len(cols_k), len(cols_q))
                g[np.ix_(cols_k + 1, cols_q + 1)] = block
                g[np.ix_(cols_q + 1, cols_k + 1)] = block.T
                pair += 1
        return g if intercept else g[1:, 1:]

    def column_range(self) -> np.ndarray:
        """max - min of each column: 1 for an indicator of a level on some but not all rows."""
        num, counts = _column_range(self.X_num, self.codes, self.level_start)
        out = np.zeros(self.p)
        out[self.num_cols] = num
        out[self.flat_cols] = ((counts > 0) & (counts < self.n)).astype(np.float64)
        return out

    def subset(self, cols: Any) -> CategoricalDesign:
        """The design of X[:, cols]: numeric columns copied, kept levels recoded.

        A categorical's codes go through a lookup table from its old levels to
        the kept ones (-1 for the others), once per subset; categoricals with
        no kept level are left out.
        """
        if cols is None:
            return self
        # consecutive points of a path often screen in the same columns
        return _last_subset(self, cols, lambda: self._subset(np.asarray(cols, dtype=np.int64)))

    def _subset(self, cols: np.ndarray) -> CategoricalDesign:
        owner = np.full(self.p, -1, dtype=np.int64)  # categorical of each column, -1: numeric
        index = np.zeros(self.p, dtype=np.int64)  # numeric column or level within it
        index[self.num_cols] = np.arange(self.m)
        for k, lc in enumerate(self.level_cols):
            owner[lc] = k
            index[lc] = np.arange(len(lc))
        kind, pos = owner[cols], index[cols]
        numeric = kind < 0
        X_num = np.ascontiguousarray(self.X_num[:, pos[numeric]])
        codes, level_cols = [], []
        for k in np.unique(kind[~numeric]):
            new_cols = np.flatnonzero(kind == k)
            table = np.full(len(self.level_cols[k]) + 1, -1, dtype=np.int32)  # [-1] maps -1
            table[pos[new_cols]] = np.arange(len(new_cols), dtype=np.int32)
            codes.append(table[self.codes[:, k]])
            level_cols.append(new_cols)
        return CategoricalDesign(
            X_num,
            np.flatnonzero(numeric),
            _stack_codes(codes, self.n),
            level_cols,
            len(cols),
            self.backend,
        )

    def to_csr(self) -> sp.csr_matrix:
        """The same matrix as scipy CSR (one-hot indicators and the numeric values)."""
        n, m = self.n, self.m
        rows = [np.repeat(np.arange(n), m)]
        cols = [np.tile(self.num_cols, n)]
        vals = [self.X_num.ravel()]
        for k, lc in enumerate(self.level_cols):
            c = self.codes[:, k]
            hit = np.flatnonzero(c >= 0)
            rows.append(hit)
            cols.append(lc[c[hit]])
            vals.append(np.ones(hit.size, dtype=self.dtype))
        coo = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, self.p),
            dtype=self.dtype,
        )
        return sp.csr_matrix(coo)


def _matvec(X, beta_num, codes, level_start, beta_levels):
    """X_num @ beta_num plus the coefficient of each row's level of each categorical."""
    out = np.empty(X.shape[0])
    _matvec_into(X, beta_num, codes, level_start, beta_levels, 0.0, out)
    return out


def _rmatvec(X, codes, level_start, v):
    """(X_num.T @ v, sum of v over the rows of each level)."""
    num, levels = np.zeros(X.shape[1]), np.zeros(level_start[-1])
    _rmatvec_add(X, codes, level_start, v, num, levels)
    return num, levels


@numba.njit(cache=True, nogil=True)
def _matvec_into(X, beta_num, codes, level_start, beta_levels, shift, out):  # pragma: no cover
    """out = X_num @ beta_num + each row's level coefficients + shift."""
    n, m = X.shape
    for i in range(n):
        s = 0.0
        for a in range(m):
            s += X[i, a] * beta_num[a]
        for k in range(codes.shape[1]):
            c = codes[i, k]
            if c >= 0:
                s += beta_levels[level_start[k] + c]
        out[i] = s + shift


@numba.njit(cache=True, nogil=True)
def _rmatvec_add(X, codes, level_start, v, num, levels):  # pragma: no cover - compiled
    """num += X_num.T @ v; levels += the sum of v over each level's rows."""
    n, m = X.shape
    for i in range(n):
        vi = v[i]
        for a in range(m):
            num[a] += X[i, a] * vi
        for k in range(codes.shape[1]):
            c = codes[i, k]
            if c >= 0:
                levels[level_start[k] + c] += vi


@numba.njit(cache=True, nogil=True)
def _column_range(X, codes, level_start):  # pragma: no cover - compiled
    """(max - min of each numeric column, number of rows of each level)."""
    n, m = X.shape
    top = np.full(m, -np.inf)
    bottom = np.full(m, np.inf)
    counts = np.zeros(level_start[-1], dtype=np.int64)
    for i in range(n):
        for a in range(m):
            x = float(X[i, a])
            top[a] = max(top[a], x)
            bottom[a] = min(bottom[a], x)
        for k in range(codes.shape[1]):
            c = codes[i, k]
            if c >= 0:
                counts[level_start[k] + c] += 1
    return top - bottom, counts


@numba.njit(cache=True, nogil=True)
def _level_gram(X, codes, level_start, pair_start, d):  # pragma: no cover - compiled
    """The Gram matrix's entries, in compact blocks, from one pass over the rows.

    Returns ``per_level`` (levels x at least 1 + m): for each level the sum
    of d over its rows (its diagonal entry and its intercept entry) and of
    d x_a (its entry with numeric column a); ``pairs``: for each pair of
    categoricals k < q the sum of d over the rows in level c of k and c2 of
    q, at pair_start[pair] + c * width_q + c2; and ``num`` (1 + m rows, at
    least 1 + m columns), whose upper triangle holds [1, X].T diag(d) [1, X].
    Small contiguous records keep the scattered updates in cache; padding
    them to a multiple of 4 doubles lets the compiler vectorise their update.
    The numeric block X.T diag(d) X comes from a BLAS product per block of
    rows of sqrt(d) X, kept in float64 (about 23 ms against 26 ms for the
    whole kernel, when each row added its outer product, on the benchmark).
    """
    m = X.shape[1]
    n_cat = codes.shape[1]
    stride = (m + 4) // 4 * 4
    per_level = np.zeros((level_start[n_cat], stride))
    pairs = np.zeros(pair_start[-1])
    num = np.zeros((m + 1, stride))
    w = np.zeros(stride)  # (d_i, d_i x_i1, ..., d_i x_im, 0 padding)
    scaled = np.zeros((_GRAM_ROWS, m))  # sqrt(d_i) x_i over a block of rows
    xx = np.zeros((m, m))
    widths = np.empty(n_cat, dtype=np.int64)
    for k in range(n_cat):
        widths[k] = level_start[k + 1] - level_start[k]
    n = codes.shape[0]
    for start in range(0, n, _GRAM_ROWS):
        stop = min(start + _GRAM_ROWS, n)
        for i in range(start, stop):
            j = i - start
            di = d[i]
            if di == 0.0:
                for a in range(m):
                    scaled[j, a] = 0.0
                continue
            root = math.sqrt(di)
            w[0] = di
            for a in range(m):
                x = float(X[i, a])
                w[a + 1] = di * x
                scaled[j, a] = root * x
            for b in range(stride):  # the intercept's row: sums of d and d x
                num[0, b] += w[b]
            for k in range(n_cat):
                c = codes[i, k]
                if c >= 0:
                    r = level_start[k] + c
                    for a in range(stride):
                        per_level[r, a] += w[a]
        if m:
            block = scaled[: stop - start]
            xx += np.dot(block.T, block)
    for a in range(m):
        for b in range(m):
            num[a + 1, b + 1] = xx[a, b]
    # One more sweep per pair of categoricals: its scattered updates alone in
    # the loop overlap better than between the records' (about 28 ms against
    # 40 ms for the whole kernel on the benchmark).
    pair = 0
    for k in range(n_cat):
        for q in range(k + 1, n_cat):
            base, width = pair_start[pair], widths[q]
            for i in range(codes.shape[0]):
                c, c2 = codes[i, k], codes[i, q]
                if c >= 0 and c2 >= 0:
                    pairs[base + c * width + c2] += d[i]
            pair += 1
    return per_level, pairs, num
