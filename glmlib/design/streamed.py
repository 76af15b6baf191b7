"""Streamed designs: X on the host, passed to the device one row chunk at a time.

``GLM(stream_chunk_rows=k)`` fits with a :class:`StreamedDesign`: X stays in
host memory (page-locked when the fit runs on CUDA), and every pass over it —
the linear predictor X b, the score X'v, the Gram matrix X'WX — copies row
chunks of ``k`` rows into one of two device buffers and accumulates the
chunk's product. On CUDA the copies run on their own stream, so the copy of
chunk i + 1 overlaps the products of chunk i (double buffering; one event
says a buffer is filled, another that its products have been issued and it
may be overwritten). A fit therefore needs device memory for two chunks and
the n-vectors, not for X: n is limited by host memory.

On the CPU (NumPy, or PyTorch on the CPU) the same code runs with plain
copies into the two buffers, so small chunks exercise it in CI. Each chunk's
products are those of :class:`glmlib.design.dense.DenseDesign` on the chunk, summed
over chunks, so a streamed fit equals the in-memory one up to the order of
floating-point sums.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._backend import Backend, device_of, to_numpy
from .dense import DenseDesign, _last_subset
from .protocol import AllRowsHere

__all__ = ["StreamedDesign", "check_chunk_rows", "streamed_design"]


def check_chunk_rows(chunk_rows: Any) -> int | None:
    """``stream_chunk_rows``, validated: None or a positive integer."""
    if chunk_rows is None:
        return None
    if (
        isinstance(chunk_rows, bool | np.bool_)
        or not isinstance(chunk_rows, numbers.Integral)
        or int(chunk_rows) < 1
    ):
        raise ValueError(
            f"stream_chunk_rows must be None or a positive integer, got {chunk_rows!r}"
        )
    return int(chunk_rows)


class StreamedDesign(AllRowsHere):
    """A dense X in host memory whose passes copy row chunks to the backend's device.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Host X (float32 or float64); kept as it is (pinned on CUDA).
    backend : Backend
        NumPy, or PyTorch on the CPU or a CUDA device: where the products run.
    chunk_rows : int
        Rows per chunk (the last chunk may be shorter).
    """

    can_sample_rows = True

    def __init__(self, X: np.ndarray, backend: Backend, chunk_rows: int) -> None:
        if backend.name not in ("numpy", "torch"):
            raise ValueError(
                f"stream_chunk_rows needs the numpy or torch backend, got {backend.name!r}"
            )
        self.backend = backend
        self.xp = backend.xp
        self.host = np.ascontiguousarray(X)
        self.n, self.p = self.host.shape
        self.chunk_rows = int(min(chunk_rows, max(self.n, 1)))
        self.is_sparse = False
        self._cuda = False
        self._src: Any
        self.dtype: Any
        self._buffers: list[Any]
        if backend.name == "torch":
            import torch

            device = torch.device(backend._torch_device)
            self._cuda = device.type == "cuda"
            src = torch.from_numpy(self.host)
            # Page-locked memory: the copy engine reads it directly, asynchronously.
            self._src = src.pin_memory() if self._cuda else src
            self.dtype = self._src.dtype
            self._buffers = [
                torch.empty((self.chunk_rows, self.p), dtype=self.dtype, device=device)
                for _ in range(2)
            ]
            if self._cuda:
                self._copy_stream = torch.cuda.Stream(device=device)
                self._filled = [torch.cuda.Event() for _ in range(2)]
                self._released = [torch.cuda.Event() for _ in range(2)]
        else:
            self._src = self.host
            self.dtype = self.host.dtype
            self._buffers = [
                np.empty((self.chunk_rows, self.p), dtype=self.dtype) for _ in range(2)
            ]

    # ---------------------------------------------------------------- chunks
    def chunks(self) -> Iterator[tuple[int, int, Any]]:
        """(start, stop, device chunk) for each row chunk, the next one's copy already issued.

        The chunk is a view of a reused buffer: valid until the loop asks for
        the chunk after next. Products computed from it are new arrays.
        """
        starts = list(range(0, self.n, self.chunk_rows))
        if not starts:
            return
        self._issue_copy(starts[0], 0)
        for i, start in enumerate(starts):
            if i + 1 < len(starts):
                self._issue_copy(starts[i + 1], (i + 1) % 2)
            slot = i % 2
            stop = min(start + self.chunk_rows, self.n)
            if self._cuda:
                import torch

                torch.cuda.current_stream(self._buffers[slot].device).wait_event(self._filled[slot])
            yield start, stop, self._buffers[slot][: stop - start]
            if self._cuda:
                import torch

                # The consumer has issued every product that reads this buffer.
                self._released[slot].record(torch.cuda.current_stream(self._buffers[slot].device))

    def _issue_copy(self, start: int, slot: int) -> None:
        stop = min(start + self.chunk_rows, self.n)
        dst = self._buffers[slot][: stop - start]
        if not self._cuda:
            dst[...] = self._src[start:stop]
            return
        import torch

        with torch.cuda.stream(self._copy_stream):
            self._copy_stream.wait_event(self._released[slot])
            dst.copy_(self._src[start:stop], non_blocking=True)
            self._filled[slot].record(self._copy_stream)

    def _chunk_design(self, chunk: Any) -> DenseDesign:
        return DenseDesign(chunk, self.backend)

    # -------------------------------------------------------------- products
    def matvec(self, beta: Any) -> Any:
        """X @ beta (float64, on the device), chunk by chunk."""
        xp = self.xp
        parts = [self._chunk_design(c).matvec(beta) for _, _, c in self.chunks()]
        if not parts:
            return xp.zeros(0, dtype=xp.float64, device=self._device())
        return xp.concat(parts)

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v (float64), summed over chunks."""
        xp = self.xp
        out = xp.zeros(self.p, dtype=xp.float64, device=self._device())
        for start, stop, c in self.chunks():
            out = out + self._chunk_design(c).rmatvec(v[start:stop])
        return out

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] (float64), summed over chunks."""
        xp = self.xp
        k = self.p + int(intercept)
        g = xp.zeros((k, k), dtype=xp.float64, device=self._device())
        for start, stop, c in self.chunks():
            g = g + self._chunk_design(c).gram(d[start:stop], intercept)
        return g

    def column_range(self) -> np.ndarray:
        """max - min of each column, computed on the host."""
        return np.asarray(DenseDesign(self.host, Backend("numpy")).column_range())

    def subset(self, cols: Any) -> StreamedDesign:
        """The streamed design of X[:, cols] (a host copy; the last one is kept)."""
        if cols is None:
            return self
        return _last_subset(
            self,
            cols,
            lambda: StreamedDesign(
                np.take(self.host, to_numpy(cols), axis=1), self.backend, self.chunk_rows
            ),
        )

    def rows(self, idx: Any) -> StreamedDesign:
        """The streamed design of the rows ``idx`` (a host copy)."""
        return StreamedDesign(
            np.take(self.host, to_numpy(idx), axis=0), self.backend, self.chunk_rows
        )

    def _device(self) -> Any:
        return device_of(self._buffers[0])


def streamed_design(
    X: Any, backend: Backend, chunk_rows: int, precision: str | None
) -> StreamedDesign:
    """The streamed design of validated input X, or a ValueError saying why X cannot be streamed."""
    import pandas as pd

    if precision == "mixed":
        raise ValueError(
            "stream_chunk_rows does not combine with precision='mixed'; "
            "use precision=None, 'double' or 'single'"
        )
    if isinstance(X, pd.DataFrame) or sp.issparse(X):
        raise ValueError(
            f"stream_chunk_rows needs dense numeric X (got {type(X).__name__}); "
            "sparse and categorical X are fitted in memory"
        )
    import array_api_compat

    if array_api_compat.is_cupy_array(X) or (
        array_api_compat.is_torch_array(X) and X.device.type != "cpu"
    ):
        raise ValueError(
            "stream_chunk_rows streams host X to the device; X is already on a GPU "
            "(pass host data, or leave stream_chunk_rows=None)"
        )
    return StreamedDesign(np.asarray(to_numpy(X)), backend, chunk_rows)
