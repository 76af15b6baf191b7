"""Dask collections as designs: out-of-core and cluster fits with the same solver.

``GLM().fit(X, y)`` with a ``dask.array`` or ``dask.dataframe`` X keeps X
where Dask keeps it (files read partition by partition, or a cluster's
workers) and runs every pass over it as one Dask computation on the active
scheduler: the threaded scheduler by default (data larger than memory,
streamed from disk), or a ``dask.distributed`` cluster when a ``Client`` is
active. Products over rows (``X.T @ v``, ``X'WX``) are summed per partition
and then pairwise in the task graph, so memory holds a few partitions and
O(p^2) numbers, never X.

What stays in memory are the vectors of length n (y, weights, offset and the
solver's linear predictor and working weights; a few times 8n bytes, against
X's 8np), so the design's reductions are the identity (:class:`AllRowsHere`)
and the solver is unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from ._backend import Backend
from ._design_protocol import AllRowsHere

__all__ = ["DaskDesign", "is_dask_collection", "dask_matrix"]

_EXTRA = "Dask fits need dask: pip install 'glmlib[distributed]'"


def is_dask_collection(a: Any) -> bool:
    """Whether ``a`` is a Dask array, DataFrame or Series (without importing dask)."""
    return type(a).__module__.split(".")[0] == "dask" or hasattr(a, "__dask_graph__")


def _dask() -> tuple[Any, Any]:
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is installed by make test
        raise ImportError(_EXTRA) from exc
    return dask, da


def dask_matrix(X: Any) -> tuple[Any, list[str] | None]:
    """X as a 2-D floating Dask array with known row chunks and one column chunk, and its column names."""
    dask, da = _dask()
    names = None
    if hasattr(X, "columns") and hasattr(X, "to_dask_array"):  # dask DataFrame
        names = [str(c) for c in X.columns]
        bad = [c for c, t in X.dtypes.items() if not _is_real_number(t)]
        if bad:
            raise TypeError(
                f"Dask DataFrame columns {bad} are not numeric; encode categorical columns "
                "(with their categories known) before fitting"
            )
        # Partition lengths from one pass over the array itself (dask-expr may
        # combine a DataFrame's partitions, so lengths=True can disagree).
        X = X.to_dask_array().compute_chunk_sizes()
    if not isinstance(X, da.Array):
        raise TypeError(f"expected a dask array or DataFrame, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X.rechunk({1: -1}), names


def _is_real_number(dtype: Any) -> bool:
    """A NumPy integer, boolean or floating dtype (pandas extension dtypes such as strings: no)."""
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def dask_vector(v: Any) -> Any:
    """A Dask vector (array or Series) computed into memory; anything else as given."""
    if is_dask_collection(v):
        return np.asarray(v.compute())
    return v


def _tree_sum(dask: Any, parts: list[Any]) -> Any:
    """Pairwise sums of delayed partial results: log-depth, a few partials in memory at once."""
    while len(parts) > 1:
        paired = [
            dask.delayed(np.add, pure=True)(a, b)
            for a, b in zip(parts[::2], parts[1::2], strict=False)
        ]
        parts = paired + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


class DaskDesign(AllRowsHere):
    """A Dask array X (row chunks, one column chunk) behind the design interface.

    Parameters
    ----------
    X : dask.array.Array
        From :func:`dask_matrix`.
    backend : Backend
        The NumPy backend (the vectors live in host memory).
    extremes : (ndarray, ndarray), optional
        Column maxima and minima, when validation already computed them.
    """

    def __init__(self, X: Any, backend: Backend, extremes: tuple[Any, Any] | None = None) -> None:
        if backend.name != "numpy":
            raise ValueError("Dask fits run on the numpy backend (device='cpu')")
        self.X = X
        self.backend = backend
        self.xp = backend.xp
        self.n, self.p = int(X.shape[0]), int(X.shape[1])
        self.dtype = X.dtype
        self.is_sparse = False
        stops = np.cumsum(X.chunks[0])
        self._bounds = list(
            zip(np.concatenate([[0], stops[:-1]]).tolist(), stops.tolist(), strict=True)
        )
        self._extremes = extremes

    def _blocks(self) -> list[Any]:
        return list(self.X.to_delayed().ravel())

    def _shared(self, v: Any) -> Any:
        # One graph node per vector (named, so Dask does not hash n numbers per pass).
        dask, _ = _dask()
        return dask.delayed(v, name=f"glmlib-vector-{uuid.uuid4().hex}")

    def matvec(self, beta: Any) -> Any:
        """X @ beta (one pass; the result, n floats, in memory)."""
        b = np.asarray(beta).astype(self.dtype)
        out = self.X.map_blocks(_block_matvec, b, drop_axis=1, dtype=np.float64)
        return np.asarray(out.compute(), dtype=np.float64)

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v (one pass; per-partition products summed in the graph)."""
        dask, _ = _dask()
        shared = self._shared(np.asarray(v, dtype=np.float64))
        parts = [
            dask.delayed(_block_rmatvec, pure=True)(block, shared, start, stop)
            for block, (start, stop) in zip(self._blocks(), self._bounds, strict=True)
        ]
        return np.asarray(_tree_sum(dask, parts).compute(), dtype=np.float64)

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] (one pass; per-partition Gram matrices summed in the graph)."""
        dask, _ = _dask()
        shared = self._shared(np.asarray(d, dtype=np.float64))
        parts = [
            dask.delayed(_block_gram, pure=True)(block, shared, start, stop, intercept)
            for block, (start, stop) in zip(self._blocks(), self._bounds, strict=True)
        ]
        return np.asarray(_tree_sum(dask, parts).compute(), dtype=np.float64)

    def column_range(self) -> np.ndarray:
        if self._extremes is None:
            dask, _ = _dask()
            top, bottom = dask.compute(self.X.max(axis=0), self.X.min(axis=0))
            self._extremes = (np.asarray(top), np.asarray(bottom))
        top, bottom = self._extremes
        return np.asarray(top, dtype=np.float64) - np.asarray(bottom, dtype=np.float64)

    def subset(self, cols: Any) -> DaskDesign:
        cols = np.asarray(cols)
        ext = None
        if self._extremes is not None:
            ext = (np.asarray(self._extremes[0])[cols], np.asarray(self._extremes[1])[cols])
        return DaskDesign(self.X[:, cols], self.backend, ext)


def _block_matvec(block: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.asarray(block @ beta, dtype=np.float64)


def _block_rmatvec(block: np.ndarray, v: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.asarray(block.T @ v[start:stop].astype(block.dtype), dtype=np.float64)


def _block_gram(
    block: np.ndarray, d: np.ndarray, start: int, stop: int, intercept: bool
) -> np.ndarray:
    from ._design import DenseDesign

    return np.asarray(
        DenseDesign(np.ascontiguousarray(block), Backend("numpy")).gram(d[start:stop], intercept),
        dtype=np.float64,
    )
