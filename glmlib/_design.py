"""Design matrices: the only place that touches X.

Every pass over the data goes through a design object: the linear predictor
``X @ beta``, the score ``X.T @ v`` and the weighted Gram matrix
``[1 X].T diag(d) [1 X]``. Dense designs work for any array-API backend;
scipy.sparse designs cost time proportional to the number of non-zeros and are
never densified. Vectors are float64; X keeps its own dtype (float32 or
float64): each block of X'DX is formed in X's dtype and the blocks are summed
in float64.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from ._backend import Backend, to_numpy

__all__ = ["DenseDesign", "ScipySparseDesign", "TorchSparseDesign", "make_design"]

# Rows per block when forming X.T diag(d) X: bounds the temporary to about 32 MB
# for p = 50 in float64 while keeping BLAS calls large.
_CHUNK_ELEMENTS = 4_000_000


class DenseDesign:
    """A dense X on any backend."""

    def __init__(self, X: Any, backend: Backend) -> None:
        self.X = X
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = X.shape
        self.dtype = X.dtype
        self.is_sparse = False

    def _cast(self, v: Any) -> Any:
        return self.xp.astype(v, self.dtype) if v.dtype != self.dtype else v

    def _cols(self, cols: Any) -> Any:
        return self.X if cols is None else self.X[:, cols]

    def matvec(self, beta: Any, cols: Any = None) -> Any:
        """X[:, cols] @ beta as a float64 vector."""
        if cols is not None and len(cols) == 0:
            return self.xp.zeros(self.n, dtype=self.xp.float64, device=self._device())
        out = self._cols(cols) @ self._cast(beta)
        return self.xp.astype(out, self.xp.float64)

    def rmatvec(self, v: Any, cols: Any = None) -> Any:
        """X[:, cols].T @ v as a float64 vector."""
        out = self._cols(cols).T @ self._cast(v)
        return self.xp.astype(out, self.xp.float64)

    def column_std(self) -> np.ndarray:
        """Unweighted standard deviation of each column, on the host."""
        return to_numpy(self.xp.std(self.X, axis=0)).astype(np.float64)

    def _device(self) -> Any:
        import array_api_compat

        return array_api_compat.device(self.X)

    def gram(self, d: Any, cols: Any = None, intercept: bool = True) -> Any:
        """[1, X[:, cols]].T diag(d) [1, X[:, cols]] (d >= 0), float64.

        With ``intercept=False`` the leading column of ones is left out.
        """
        xp = self.xp
        X = self._cols(cols)
        k = X.shape[1] + int(intercept)
        sqrt_d = xp.sqrt(d)
        chunk = max(1024, _CHUNK_ELEMENTS // max(k, 1))
        out = xp.zeros((k, k), dtype=xp.float64, device=self._device())
        numpy_blas = self.backend.name == "numpy" and X.dtype in (np.float32, np.float64)
        for start in range(0, self.n, chunk):
            s = sqrt_d[start : start + chunk]
            block = X[start : start + chunk] * self._cast(s)[:, None]
            if intercept:
                block = xp.concat([self._cast(s)[:, None], block], axis=1)
            if numpy_blas:
                syrk = blas.dsyrk if X.dtype == np.float64 else blas.ssyrk
                g = syrk(1.0, block, trans=1, lower=0)
                g = np.triu(g) + np.triu(g, 1).T
            else:
                g = block.T @ block
            out = out + xp.astype(g, xp.float64)
        return out


class ScipySparseDesign:
    """A scipy.sparse X (CSC internally); cost proportional to nnz."""

    def __init__(self, X: Any, backend: Backend) -> None:
        if backend.name != "numpy":
            raise ValueError("scipy.sparse input runs on the numpy backend")
        self.X = sp.csc_matrix(X)
        self.Xr = sp.csr_matrix(X)
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = X.shape
        self.dtype = self.X.dtype
        self.is_sparse = True

    def column_std(self) -> np.ndarray:
        return _sparse_column_std(self.X)

    def matvec(self, beta: Any, cols: Any = None) -> Any:
        if cols is None:
            return np.asarray(self.Xr @ beta.astype(self.dtype), dtype=np.float64)
        if len(cols) == 0:
            return np.zeros(self.n)
        return np.asarray(self.X[:, cols] @ beta.astype(self.dtype), dtype=np.float64)

    def rmatvec(self, v: Any, cols: Any = None) -> Any:
        X = self.X if cols is None else self.X[:, cols]
        return np.asarray(X.T @ v.astype(self.dtype), dtype=np.float64)

    def gram(self, d: Any, cols: Any = None, intercept: bool = True) -> Any:
        X = self.X if cols is None else self.X[:, cols]
        dX = sp.csc_matrix(X.multiply(d[:, None].astype(self.dtype)))
        g = np.asarray((X.T @ dX).toarray(), dtype=np.float64)
        if not intercept:
            return g
        k = X.shape[1] + 1
        out = np.empty((k, k))
        out[0, 0] = d.sum()
        col = np.asarray(X.T @ d, dtype=np.float64)
        out[0, 1:] = col
        out[1:, 0] = col
        out[1:, 1:] = g
        return out


class TorchSparseDesign:
    """A sparse X held as a torch sparse CSR tensor (CPU or CUDA)."""

    def __init__(self, X: Any, backend: Backend) -> None:
        import torch

        Xc = sp.csr_matrix(X)
        self._host = Xc
        dev = backend._torch_device
        tdtype = torch.float32 if Xc.dtype == np.float32 else torch.float64
        self.X, self.Xt = (_torch_csr(A, tdtype, dev) for A in (Xc, sp.csr_matrix(Xc.T)))
        self._coo = self.X.to_sparse_coo().coalesce()
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = Xc.shape
        self.dtype = tdtype
        self.is_sparse = True

    def column_std(self) -> np.ndarray:
        return _sparse_column_std(self._host)

    def _sub(self, cols: Any) -> Any:
        import torch

        if cols is None:
            return self._coo
        picked = torch.index_select(self._coo, 1, torch.as_tensor(cols, device=self._coo.device))
        return picked.coalesce()

    def matvec(self, beta: Any, cols: Any = None) -> Any:
        import torch

        if cols is None:
            out = self.X @ beta.to(self.dtype)
        elif len(cols) == 0:
            return torch.zeros(self.n, dtype=torch.float64, device=beta.device)
        else:
            out = torch.sparse.mm(self._sub(cols), beta.to(self.dtype)[:, None])[:, 0]
        return out.to(torch.float64)

    def rmatvec(self, v: Any, cols: Any = None) -> Any:
        import torch

        if cols is None:
            out = self.Xt @ v.to(self.dtype)
        else:
            out = torch.sparse.mm(self._sub(cols).t(), v.to(self.dtype)[:, None])[:, 0]
        return out.to(torch.float64)

    def gram(self, d: Any, cols: Any = None, intercept: bool = True) -> Any:
        import torch

        X = self._sub(cols)
        idx = X.indices()
        scaled = torch.sparse_coo_tensor(
            idx, X.values() * d.to(self.dtype)[idx[0]], X.shape, device=X.device
        )
        g = torch.sparse.mm(X.t().coalesce(), scaled).to_dense().to(torch.float64)
        if not intercept:
            return g
        col = torch.sparse.mm(X.t(), d.to(self.dtype)[:, None])[:, 0].to(torch.float64)
        top = torch.cat([d.sum()[None], col])
        return torch.cat([top[None, :], torch.cat([col[:, None], g], dim=1)], dim=0)


def _torch_csr(A: sp.csr_matrix, dtype: Any, device: Any) -> Any:
    """A scipy CSR matrix as a torch sparse CSR tensor (torch calls its CSR support beta)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.as_tensor(A.indptr, dtype=torch.int64),
            torch.as_tensor(A.indices, dtype=torch.int64),
            torch.as_tensor(A.data, dtype=dtype),
            size=A.shape,
            device=device,
        )


def _sparse_column_std(X: Any) -> np.ndarray:
    mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
    sq = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel()
    return np.sqrt(np.clip(sq - mean**2, 0.0, None))


def make_design(X: Any, backend: Backend) -> Any:
    """Wrap validated input X in the design class for its storage and backend."""
    if sp.issparse(X):
        if backend.name == "torch":
            return TorchSparseDesign(X, backend)
        return ScipySparseDesign(X, backend)
    return DenseDesign(backend.asarray(X), backend)
