"""Dense designs: an in-memory X on any array-API backend (NumPy, PyTorch, CuPy).

Every pass over the data goes through a design object (the interface is
:mod:`glmlib.design.protocol`): the linear predictor ``X @ beta``, the score
``X.T @ v`` and the weighted Gram matrix ``[1 X].T diag(d) [1 X]``. Vectors
are float64; X keeps its own dtype (float32 or float64): each block of X'DX is
formed in X's dtype and the blocks are summed in float64.
Screened fits work on a column subset. On the host a small subset (at most
1/8 of X's bytes, or 64 MB) is copied once, into a buffer that later subsets
extend column by column when they only add columns (the path's working sets
grow); a larger one, and the row samples of sampled Hessians, are views
(:class:`GatheredDense`) that gather their rows and columns block by block, in
cache, on every pass, so a fit's extra memory stays a fraction of X's size.

The helpers ``_last_subset`` (reuse of the previous column subset) and
``_with_intercept`` (bordering a Gram matrix with the intercept) are shared by
the other in-memory designs (:mod:`glmlib.design.sparse`,
:mod:`glmlib.design.categorical`, :mod:`glmlib.design.streamed`,
:mod:`glmlib.design.mixed`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .._backend import Backend, to_numpy
from .._threads import blas_threads
from .protocol import AllRowsHere

__all__ = ["DenseDesign", "GatheredDense"]

# Elements per row block when forming X.T diag(d) X. On the CPU a block that
# stays in cache between its scaling and its product is fastest (2 MB in
# float64: the Gram of n = 1e6, p = 50 took 0.15 s against 0.20 s with 32 MB
# blocks, one thread, benchmarks/gram_kernels.py); on a GPU fewer, larger
# kernel launches are.
_CHUNK_ELEMENTS = 262_144
_DEVICE_CHUNK_ELEMENTS = 16_777_216
# matvec_rmatvec_gram scales each block for its Gram matrix in this many parts.
_TRIAL_GRAM_PARTS = 4
# Host column subsets are copied (contiguous, read fast by every later pass)
# when the copy takes at most this share of X's bytes or at most this many
# bytes; larger ones are gathered block by block on each pass.
_SUBSET_COPY_SHARE = 0.125
_SUBSET_COPY_BYTES = 64 * 2**20


class DenseDesign(AllRowsHere):
    """A dense X on any backend."""

    can_sample_rows = True

    def __init__(self, X: Any, backend: Backend) -> None:
        self.X = X
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = X.shape
        self.dtype = X.dtype
        self.is_sparse = False
        #: :meth:`column_range` when validation found it (:func:`finite_column_range`).
        self.known_column_range: np.ndarray | None = None

    def _cast(self, v: Any) -> Any:
        return self.xp.astype(v, self.dtype) if v.dtype != self.dtype else v

    def subset(self, cols: Any) -> Any:
        """The design of X[:, cols].

        On a GPU, a copy. On the host, a copy when it is small (see
        ``_SUBSET_COPY_SHARE``), kept in a buffer: when ``cols`` extends the
        previous subset's columns (same order, more at the end) or is a
        prefix of them, only the new columns are gathered. A larger subset
        is a :class:`GatheredDense` view (no copy). The last subset is kept:
        consecutive points of a path often screen in the same columns.
        """
        if cols is None:
            return self
        if not self._on_host:
            return _last_subset(
                self, cols, lambda: DenseDesign(self.xp.take(self.X, cols, axis=1), self.backend)
            )
        key = np.asarray(cols, dtype=np.int64)
        last = getattr(self, "_last_subset", None)
        if last is not None and np.array_equal(last[0], key):
            return last[1]
        sub = self._host_subset(key)
        self._last_subset = (key, sub)
        return sub

    @property
    def _on_host(self) -> bool:
        return isinstance(self.X, np.ndarray) and self.X.ndim == 2

    def _host_subset(self, cols: np.ndarray) -> Any:
        """A buffered copy of X[:, cols] when small enough, else a gathering view."""
        k = cols.shape[0]
        nbytes = self.n * k * self.X.itemsize
        if nbytes > max(_SUBSET_COPY_SHARE * self.X.nbytes, _SUBSET_COPY_BYTES):
            return GatheredDense(self.X, self.backend, cols=cols)
        buf = getattr(self, "_subset_buffer", None)
        if buf is not None:
            order, store = buf
            m = order.shape[0]
            if k <= m and np.array_equal(order[:k], cols):  # a prefix: a view
                return DenseDesign(store[:, :k], self.backend)
            if k <= store.shape[1] and np.array_equal(order, cols[:m]):  # extends it
                _gather_columns(self.X, cols[m:], store, m)
                self._subset_buffer = (cols, store)
                return DenseDesign(store[:, :k], self.backend)
        # Room for the working set to grow without another full copy.
        cap = min(self.p, max(k + 8, k + k // 2))
        if self.n * cap * self.X.itemsize > max(
            _SUBSET_COPY_SHARE * self.X.nbytes, _SUBSET_COPY_BYTES
        ):
            cap = k
        store = np.empty((self.n, cap), dtype=self.X.dtype)
        _gather_columns(self.X, cols, store, 0)
        self._subset_buffer = (cols, store)
        return DenseDesign(store[:, :k], self.backend)

    def rows(self, idx: Any) -> Any:
        """The design of X[idx]: a gathering view on the host, a copy of those rows on a GPU."""
        if self._on_host:
            return GatheredDense(self.X, self.backend, rows=np.asarray(idx, dtype=np.int64))
        return DenseDesign(self.xp.take(self.X, idx, axis=0), self.backend)

    @property
    def _reduced(self) -> bool:
        """Whether X is stored in fewer than 64 bits (float32)."""
        return self.xp.finfo(self.dtype).bits < 64

    def matvec(self, beta: Any) -> Any:
        """X @ beta as a float64 vector.

        For float32 X the products accumulate in float64, row block by row
        block (each block upcast while in cache): with float32 sums the
        gradient's round-off stalls Newton above tol = 1e-8 once X is even
        mildly ill-conditioned (kappa = 10: 78 iterations instead of 5;
        benchmarks/README.md, "Mixed precision").
        """
        xp = self.xp
        if not self._reduced:
            return xp.astype(self.X @ self._cast(beta), xp.float64)
        b = xp.astype(beta, xp.float64)
        parts = [xp.astype(block, xp.float64) @ b for block in self._row_blocks()]
        return xp.concat(parts) if parts else xp.zeros(0, dtype=xp.float64, device=self._device())

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v as a float64 vector (float64 sums for float32 X, as in :meth:`matvec`)."""
        xp = self.xp
        if not self._reduced:
            return xp.astype(self.X.T @ self._cast(v), xp.float64)
        out = xp.zeros(self.p, dtype=xp.float64, device=self._device())
        start = 0
        for block in self._row_blocks():
            stop = start + block.shape[0]
            out = out + xp.astype(block, xp.float64).T @ xp.astype(v[start:stop], xp.float64)
            start = stop
        return out

    @property
    def can_fuse_rows(self) -> bool:
        """Whether :meth:`matvec_rmatvec` applies (a float64 X on the host)."""
        return self._on_host and not self._reduced

    def matvec_rmatvec(self, beta: Any, shift: float, row_pass: Any) -> tuple[Any, Any]:
        """(X @ beta + shift, X.T @ u) from one pass over X, for a float64 host X.

        Row block by row block, v = X_b @ beta + shift is written to the first
        result, then ``u_b = row_pass(start, stop, v)`` (a per-row function of
        v, such as the working weights at a trial point) and X_b.T @ u_b are
        formed while X_b is still in cache: the line search's X @ step and the
        next gradient's X.T @ score read X once instead of twice. Where
        ``row_pass`` returns None, X.T @ u is not formed (zeros are returned).

        ``row_pass`` may also offer ``row_pass.over_rows(start, stop, X_b,
        beta, shift, v, grad)``: the same work on rows start:stop as one
        compiled loop over the rows of X_b, which writes v and adds X_b.T @ u
        to ``grad``. It is taken for a C-ordered X when BLAS runs on one
        thread, over all of X at once: it reads each row once, into L1, where
        the block loop reads X from memory for the first product and from
        cache for the second, and calls ``row_pass`` on each block (0.055 ->
        0.042 s a pass at n = 1e6, p = 50; with more threads BLAS's products
        are the faster).
        """
        out = np.empty(self.n)
        grad = np.zeros(self.p)
        if self._rowwise(row_pass):
            row_pass.over_rows(0, self.n, self.X, beta, shift, out, grad)
            return out, grad
        for _ in self._trial_blocks(beta, shift, row_pass, out, grad, False):
            pass
        return out, grad

    def matvec_rmatvec_gram(
        self, beta: Any, shift: float, row_pass: Any, d: Any, intercept: bool = True
    ) -> tuple[Any, Any, Any]:
        """:meth:`matvec_rmatvec` and :meth:`gram` of ``d`` from the same pass over X.

        ``d`` is an n-vector that ``row_pass`` fills (the Fisher weights at the
        trial point, which the next Newton iteration's Gram matrix needs).
        Each block of diag(sqrt(d)) X is formed and multiplied while X_b is
        still in cache from the trial's products, so the Gram matrix costs no
        read of X of its own; it equals ``gram(d, intercept)`` to round-off
        (its sums run over quarter blocks).
        """
        out = np.empty(self.n)
        grad = np.zeros(self.p)
        g = np.zeros((self.p, self.p))
        col = np.zeros(self.p)
        # Each block scaled in parts: the buffer is alive with the trial's
        # n-vectors, at the fit's peak memory (a whole block's 2 MB counted as
        # 4 n-vectors in tests/test_glm_memory.py; a quarter costs about 3%
        # more syrk time).
        part = -(-min(_chunk_rows(self.p, True), self.n) // _TRIAL_GRAM_PARTS)
        buf = np.empty((part, self.p))
        blocks = self._trial_blocks(beta, shift, row_pass, out, grad, self._rowwise(row_pass))
        for start, stop, block in blocks:
            for a in range(0, stop - start, part):
                b = min(a + part, stop - start)
                s = np.sqrt(d[start + a : start + b])
                scaled = np.multiply(block[a:b], s[:, None], out=buf[: b - a])
                g += scaled.T @ scaled
                if intercept:
                    col += scaled.T @ s
        if not intercept:
            return out, grad, g
        return out, grad, _with_intercept(np, g, col, np.sum(d))

    def _rowwise(self, row_pass: Any) -> bool:
        """Whether ``row_pass.over_rows`` is taken (see :meth:`matvec_rmatvec`)."""
        return (
            getattr(row_pass, "over_rows", None) is not None
            and self.X.flags.c_contiguous
            and blas_threads() == 1
        )

    def _trial_blocks(
        self, beta: Any, shift: float, row_pass: Any, out: Any, grad: Any, rowwise: bool
    ) -> Any:
        """(start, stop, X_b) for each row block, once the trial's products on it are done."""
        chunk = _chunk_rows(self.p, True)
        for start in range(0, self.n, chunk):
            stop = min(start + chunk, self.n)
            block = self.X[start:stop]
            v = out[start:stop]
            if rowwise:
                row_pass.over_rows(start, stop, block, beta, shift, v, grad)
            else:
                np.matmul(block, beta, out=v)
                v += shift
                u = row_pass(start, stop, v)
                if u is not None:
                    grad += block.T @ u
            yield start, stop, block

    def _row_blocks(self) -> Any:
        chunk = _chunk_rows(self.p, self.backend.name == "numpy")
        return (self.X[start : start + chunk] for start in range(0, self.n, chunk))

    def column_range(self) -> np.ndarray:
        """max - min of each column, on the host (zero exactly for a constant column)."""
        xp = self.xp
        X = self.X
        if self.known_column_range is not None:
            return self.known_column_range
        if isinstance(X, np.ndarray) and X.flags.c_contiguous and X.shape[0] > 0:
            # One pass over the rows; NumPy's column reductions on C order
            # take two, with strided access (0.09 s against 0.05 s, 1e6 x 50).
            return _dense_column_range(X)[0].astype(np.float64)
        return to_numpy(xp.astype(xp.max(X, axis=0) - xp.min(X, axis=0), xp.float64))

    def _device(self) -> Any:
        import array_api_compat

        return array_api_compat.device(self.X)

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] (d >= 0), float64.

        With ``intercept=False`` the leading column of ones is left out. Each
        row block B = diag(sqrt(d)) X is formed once and read twice while it
        is in cache: B.T @ B (NumPy dispatches it to BLAS syrk) and, for the
        intercept row, B.T @ sqrt(d) = X.T d.
        """
        xp = self.xp
        sqrt_d = xp.sqrt(d)
        chunk = _chunk_rows(self.p, self.backend.name == "numpy")
        dev = self._device()
        g = xp.zeros((self.p, self.p), dtype=xp.float64, device=dev)
        col = xp.zeros(self.p, dtype=xp.float64, device=dev)
        buf = np.empty((min(chunk, self.n), self.p)) if self.can_fuse_rows else None
        for start in range(0, self.n, chunk):
            s = self._cast(sqrt_d[start : start + chunk])
            if buf is None:
                block = self.X[start : start + chunk] * s[:, None]
            else:  # one buffer for every block: no allocation per block
                block = np.multiply(
                    self.X[start : start + chunk], s[:, None], out=buf[: s.shape[0]]
                )
            g = g + xp.astype(block.T @ block, xp.float64)
            if intercept:
                col = col + xp.astype(block.T @ s, xp.float64)
        if self.backend.name != "numpy":  # GEMM, unlike NumPy's SYRK, is not exactly symmetric
            g = (g + g.T) * 0.5
        if not intercept:
            return g
        return _with_intercept(xp, g, col, xp.sum(d))


@numba.njit(cache=True, nogil=True)
def _gather_columns(X, cols, out, first):  # pragma: no cover - compiled
    """out[:, first + j] = X[:, cols[j]] for a C-ordered X (rows in order)."""
    for i in range(X.shape[0]):
        for j in range(cols.shape[0]):
            out[i, first + j] = X[i, cols[j]]


class GatheredDense(AllRowsHere):
    """X[rows][:, cols] of a host (NumPy) X without copying it.

    Every product gathers one block of rows at a time (a few MB, in cache)
    and works on it, so the view costs no memory beyond one block. With all
    rows, ``matvec`` and ``rmatvec`` use the whole of X (a product with
    zeros in the other columns reads the same memory as a gather would).
    ``rows`` are kept in increasing order by the caller (row samples).
    """

    can_sample_rows = False

    def __init__(self, X: np.ndarray, backend: Backend, rows: Any = None, cols: Any = None) -> None:
        self.X = X
        self.backend = backend
        self.xp = backend.xp
        self.rows_idx = rows
        self.cols = cols
        self.n = X.shape[0] if rows is None else int(rows.shape[0])
        self.p = X.shape[1] if cols is None else int(cols.shape[0])
        self.dtype = X.dtype
        self.is_sparse = False
        self._reduced = np.finfo(X.dtype).bits < 64

    def subset(self, cols: Any) -> Any:
        if cols is None:
            return self
        cols = np.asarray(cols, dtype=np.int64)
        mine = cols if self.cols is None else self.cols[cols]
        return _last_subset(
            self, cols, lambda: GatheredDense(self.X, self.backend, self.rows_idx, mine)
        )

    def _blocks(self) -> Any:
        """(start, stop, X[rows][start:stop][:, cols]) over blocks of this view's rows."""
        chunk = _chunk_rows(self.X.shape[1], True)
        for start in range(0, self.n, chunk):
            stop = min(start + chunk, self.n)
            if self.rows_idx is None:
                block = self.X[start:stop]
            else:
                block = np.take(self.X, self.rows_idx[start:stop], axis=0)
            if self.cols is not None:
                block = np.take(block, self.cols, axis=1)
            yield start, stop, block

    def _scatter(self, beta: np.ndarray) -> np.ndarray:
        full = np.zeros(self.X.shape[1])
        full[self.cols] = beta
        return full

    def matvec(self, beta: Any) -> Any:
        beta = np.asarray(beta, dtype=np.float64)
        if self.rows_idx is None and not self._reduced:
            b = beta if self.cols is None else self._scatter(beta)
            return np.asarray(self.X @ b, dtype=np.float64)
        out = np.empty(self.n)
        for start, stop, block in self._blocks():
            out[start:stop] = block.astype(np.float64, copy=False) @ beta
        return out

    def rmatvec(self, v: Any) -> Any:
        v = np.asarray(v, dtype=np.float64)
        if self.rows_idx is None and not self._reduced:
            full = np.asarray(self.X.T @ v.astype(self.dtype, copy=False), dtype=np.float64)
            return full if self.cols is None else full[self.cols]
        out = np.zeros(self.p)
        for start, stop, block in self._blocks():
            out += block.astype(np.float64, copy=False).T @ v[start:stop]
        return out

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] of the view, one gathered block at a time (float64 sums)."""
        sqrt_d = np.sqrt(np.asarray(d, dtype=np.float64))
        g = np.zeros((self.p, self.p))
        col = np.zeros(self.p)
        for s, block in self._scaled_blocks(sqrt_d):
            g += (block.T @ block).astype(np.float64, copy=False)
            if intercept:
                col += (block.T @ s).astype(np.float64, copy=False)
        if not intercept:
            return g
        return _with_intercept(self.xp, g, col, np.sum(d))

    def _scaled_blocks(self, sqrt_d: np.ndarray) -> Any:
        """(s, diag(s) X_b) for each gathered block of rows, s its part of ``sqrt_d``."""
        if self.rows_idx is not None and self.cols is None and not self._reduced:
            # Row samples: gather and scale each block in one compiled loop
            # into one reused buffer (np.take and the product took two copies).
            chunk = _chunk_rows(self.p, True)
            buf = np.empty((min(chunk, self.n), self.p))
            for start in range(0, self.n, chunk):
                stop = min(start + chunk, self.n)
                s = sqrt_d[start:stop]
                _gather_scaled_rows(self.X, self.rows_idx[start:stop], s, buf[: stop - start])
                yield s, buf[: stop - start]
            return
        for start, stop, block in self._blocks():
            s = sqrt_d[start:stop].astype(self.dtype, copy=False)
            yield s, block * s[:, None]

    def column_range(self) -> np.ndarray:
        top = np.full(self.p, -np.inf)
        bottom = np.full(self.p, np.inf)
        for _, _, block in self._blocks():
            if block.shape[0]:
                top = np.maximum(top, block.max(axis=0))
                bottom = np.minimum(bottom, block.min(axis=0))
        return (top - bottom).astype(np.float64)


@numba.njit(cache=True, nogil=True)
def _gather_scaled_rows(X, rows, s, out):  # pragma: no cover - compiled
    """out[i] = X[rows[i]] * s[i] for a C-ordered X."""
    for i in range(rows.shape[0]):
        r = rows[i]
        si = s[i]
        for j in range(X.shape[1]):
            out[i, j] = X[r, j] * si


def finite_column_range(X: np.ndarray) -> np.ndarray | None:
    """max - min of each column of a C-ordered, non-empty float NumPy X (float64), or
    None when X holds a NaN or an infinity: input validation's finiteness check and
    the column ranges (:meth:`DenseDesign.column_range`) from one pass over X."""
    spread, finite = _dense_column_range(X)
    return spread.astype(np.float64) if finite else None


@numba.njit(cache=True, nogil=True)
def _dense_column_range(X):  # pragma: no cover - compiled
    """(max - min per column, whether every entry is finite) of a C-ordered, non-empty
    2-D array, in one pass (v * 0 is NaN exactly for a NaN or infinite v)."""
    top = X[0].copy()
    bottom = X[0].copy()
    check = np.zeros_like(top)  # per column: no chain of dependent additions
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            v = X[i, j]
            check[j] += v * 0.0
            if v > top[j]:
                top[j] = v
            if v < bottom[j]:
                bottom[j] = v
    return top - bottom, np.all(check == 0.0)


def _last_subset(design: Any, cols: Any, make: Any) -> Any:
    """``make()``, unless the previous call on ``design`` asked for the same columns."""
    key = to_numpy(cols)
    last = getattr(design, "_last_subset", None)
    if last is not None and np.array_equal(last[0], key):
        return last[1]
    sub = make()
    design._last_subset = (key, sub)
    return sub


def _chunk_rows(p: int, on_host: bool) -> int:
    elements = _CHUNK_ELEMENTS if on_host else _DEVICE_CHUNK_ELEMENTS
    return max(1024, elements // max(p, 1))


def _with_intercept(xp: Any, g: Any, col: Any, total: Any) -> Any:
    """Border the Gram matrix g with the intercept's row and column."""
    top = xp.concat([xp.reshape(total, (1,)), col])
    return xp.concat([top[None, :], xp.concat([col[:, None], g], axis=1)], axis=0)
