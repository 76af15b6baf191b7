"""Sparse designs: scipy.sparse X on the host, torch sparse X on PyTorch.

Their cost is proportional to the number of non-zeros and X is never
densified: :class:`ScipySparseDesign` keeps a canonical CSR matrix (CSC only
for column subsets) and forms X'DX with a compiled kernel that accumulates in
float64; :class:`TorchSparseDesign` keeps a torch sparse CSR tensor on the
fit's device.
"""

from __future__ import annotations

import warnings
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from .._backend import Backend, to_numpy
from .dense import _last_subset, _with_intercept
from .protocol import AllRowsHere

__all__ = ["ScipySparseDesign", "TorchSparseDesign"]


class ScipySparseDesign(AllRowsHere):
    """A scipy.sparse X (canonical CSR; CSC only for column subsets); cost proportional to nnz."""

    def __init__(self, X: Any, backend: Backend) -> None:
        if backend.name != "numpy":
            raise ValueError("scipy.sparse input runs on the numpy backend")
        self.X = _canonical(sp.csr_matrix(X))
        self._csc: sp.csc_matrix | None = (
            sp.csc_matrix(X) if getattr(X, "format", None) == "csc" else None
        )
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = X.shape
        self.dtype = self.X.dtype
        self.is_sparse = True

    def subset(self, cols: Any) -> ScipySparseDesign:
        """The design of X[:, cols] (a column slice of the CSC copy); the last one is kept."""
        if cols is None:
            return self
        return _last_subset(
            self, cols, lambda: ScipySparseDesign(self.csc[:, np.asarray(cols)], self.backend)
        )

    @property
    def csc(self) -> sp.csc_matrix:
        """A CSC copy, made on first use (column subsets of L1 fits)."""
        if self._csc is None:
            self._csc = sp.csc_matrix(self.X)
        return self._csc

    def column_range(self) -> np.ndarray:
        """max - min of each column, counting the implicit zeros (one pass over nnz)."""
        return _csr_column_range(self.X.indices, self.X.data, self.n, self.p)

    def matvec(self, beta: Any) -> Any:
        return np.asarray(self.X @ beta.astype(self.dtype), dtype=np.float64)

    def rmatvec(self, v: Any) -> Any:
        return np.asarray(self.X.T @ v.astype(self.dtype), dtype=np.float64)

    def gram(self, d: Any, intercept: bool = True) -> Any:
        X = self.X
        g = _csr_gram(X.indptr, X.indices, X.data, np.asarray(d, dtype=np.float64), self.p)
        return g if intercept else g[1:, 1:]


def _canonical(X: sp.csr_matrix) -> sp.csr_matrix:
    """X with sorted, unique column indices per row, never modifying the caller's arrays."""
    if X.has_canonical_format:
        return X
    X = X.copy()
    X.sum_duplicates()
    return X


@numba.njit(cache=True, nogil=True)
def _csr_column_range(indices, data, n, p):  # pragma: no cover - compiled
    """max - min per column of a canonical CSR matrix, implicit zeros included."""
    top = np.full(p, -np.inf)
    bottom = np.full(p, np.inf)
    count = np.zeros(p, dtype=np.int64)
    for a in range(indices.shape[0]):
        j = indices[a]
        v = float(data[a])
        top[j] = max(top[j], v)
        bottom[j] = min(bottom[j], v)
        count[j] += 1
    out = np.zeros(p)  # an all-zero column has range 0
    for j in range(p):
        if count[j] > 0:
            if count[j] < n:  # the column also holds an implicit zero
                top[j] = max(top[j], 0.0)
                bottom[j] = min(bottom[j], 0.0)
            out[j] = top[j] - bottom[j]
    return out


@numba.njit(cache=True, nogil=True)
def _csr_gram(indptr, indices, data, d, p):  # pragma: no cover - compiled
    """[1, X].T diag(d) [1, X] for a canonical CSR X, by per-row outer products.

    Cost: sum over rows of nnz_i^2 / 2, into a dense (p + 1) x (p + 1) result.
    """
    g = np.zeros((p + 1, p + 1))
    for i in range(indptr.shape[0] - 1):
        di = d[i]
        if di == 0.0:
            continue
        g[0, 0] += di
        for a in range(indptr[i], indptr[i + 1]):
            ja = indices[a] + 1
            va = data[a] * di
            g[0, ja] += va
            for c in range(a, indptr[i + 1]):
                g[ja, indices[c] + 1] += va * data[c]
    for r in range(p + 1):
        for c in range(r + 1, p + 1):
            g[c, r] = g[r, c]
    return g


class TorchSparseDesign(AllRowsHere):
    """A sparse X held as torch sparse tensors (CPU or CUDA)."""

    def __init__(self, coo: Any, backend: Backend) -> None:
        self._coo = coo.coalesce()
        with warnings.catch_warnings():  # torch calls its CSR support beta
            warnings.simplefilter("ignore", UserWarning)
            self.X = self._coo.to_sparse_csr()
            self.Xt = self._coo.t().coalesce().to_sparse_csr()
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = self._coo.shape
        self.dtype = self._coo.dtype
        self.is_sparse = True

    @classmethod
    def from_scipy(cls, X: Any, backend: Backend) -> TorchSparseDesign:
        """Move a scipy.sparse matrix to the backend's device once."""
        import torch

        Xc = sp.coo_matrix(X)
        tdtype = torch.float32 if Xc.dtype == np.float32 else torch.float64
        idx = torch.as_tensor(np.vstack([Xc.row, Xc.col]).astype(np.int64))
        values = torch.as_tensor(Xc.data, dtype=tdtype)
        coo = torch.sparse_coo_tensor(idx, values, Xc.shape, check_invariants=False)
        coo = coo.to(backend._torch_device)
        return cls(coo, backend)

    def subset(self, cols: Any) -> TorchSparseDesign:
        """The design of X[:, cols], selected on the device."""
        import torch

        if cols is None:
            return self
        cols = torch.as_tensor(cols, device=self._coo.device)
        return TorchSparseDesign(torch.index_select(self._coo, 1, cols), self.backend)

    def column_range(self) -> np.ndarray:
        """max - min of each column, counting the implicit zeros."""
        import torch

        cols, values = self._coo.indices()[1], self._coo.values().to(torch.float64)
        zero = torch.zeros(self.p, dtype=torch.float64, device=values.device)
        top = zero.scatter_reduce(0, cols, values, reduce="amax", include_self=False)
        bottom = zero.scatter_reduce(0, cols, values, reduce="amin", include_self=False)
        full = torch.bincount(cols, minlength=self.p) == self.n
        # A column with an implicit zero has 0 among its values.
        top = torch.where(full, top, torch.clamp(top, min=0.0))
        bottom = torch.where(full, bottom, torch.clamp(bottom, max=0.0))
        return to_numpy(top - bottom)

    def matvec(self, beta: Any) -> Any:
        import torch

        if self.p == 0:
            return torch.zeros(self.n, dtype=torch.float64, device=beta.device)
        return (self.X @ beta.to(self.dtype)).to(torch.float64)

    def rmatvec(self, v: Any) -> Any:
        import torch

        if self.p == 0:
            return torch.zeros(0, dtype=torch.float64, device=v.device)
        return (self.Xt @ v.to(self.dtype)).to(torch.float64)

    def gram(self, d: Any, intercept: bool = True) -> Any:
        import torch

        X = self._coo
        idx = X.indices()
        scaled = torch.sparse_coo_tensor(
            idx,
            X.values() * d.to(self.dtype)[idx[0]],
            X.shape,
            device=X.device,
            check_invariants=False,
        )
        g = torch.sparse.mm(X.t().coalesce(), scaled).to_dense().to(torch.float64)
        g = (g + g.T) * 0.5  # the sparse product is not exactly symmetric
        if not intercept:
            return g
        return _with_intercept(self.xp, g, self.rmatvec(d), torch.sum(d))
