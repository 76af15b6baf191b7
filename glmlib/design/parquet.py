"""Parquet row groups read by pyarrow for out-of-core fits, and the products over them.

:func:`parquet_matrix` makes a Dask array with one chunk per row group; each
chunk's task is a :class:`ParquetRowGroup`, so the design over the array
(:class:`glmlib.design.dask.DaskDesign`) finds the row groups in the array's
own task graph and runs its products over them here instead of computing
the chunks:

* X @ beta, X.T @ v and the validation's extremes stream the row group one
  column at a time (``read_row_group(columns=[name])``): pyarrow holds one
  decoded column (8 bytes per row) and the product needs nothing else, and
  X @ beta is written straight into the caller's vector of n floats;
* the Gram matrix (alone or with X.T @ v) needs every column of the rows at
  once: the columns are copied, each once and contiguously, into a
  Fortran-ordered block reused from row group to row group within a pass
  (:class:`Buffers`), which is then scaled in place by sqrt(w) and
  multiplied by its transpose in cache-sized slices of rows. A row group
  whose block would pass ``block_bytes`` is decoded instead in batches of
  rows (``iter_batches``; slower, its memory bounded by the batch).

Why columns: on a file written by ``DataFrame.to_parquet`` (snappy, a
dictionary page tried then plain pages of 1 MB, 250,000 rows x 50 float64
per row group), decoding whole columns costs about 40 ms per row group on
one core, against about 225 ms for batches of 8,192 rows copied into
C-ordered arrays (the per-batch overhead and the strided copy), and holds
about 9 MB of pyarrow's pool against 118 MB (each of the 50 columns read in
step holds its dictionary and a decoded page); see benchmarks/README.md,
"Out of core with Dask".

Tests: ``tests/design/test_parquet.py`` and the Parquet fits in
``tests/design/test_dask.py``.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import numpy as np

__all__ = [
    "ParquetRowGroup",
    "Buffers",
    "parquet_matrix",
    "read_parquet_rows",
    "sources_of",
    "ROW_GROUP_BYTES",
]

#: Default ``block_bytes`` of :func:`parquet_matrix`: a row group whose
#: float block is at most this large is read column by column into one block
#: for a Gram matrix; a larger one is decoded in batches of rows.
ROW_GROUP_BYTES = 256 * 2**20
#: Bytes of one decoded batch of rows, for row groups read in batches: a
#: batch transposed in the CPU's cache measured about 2x faster than 16 MiB.
_DECODE_BYTES = 4 * 2**20
#: Rows per Gram product of a block: a slice of 50 float64 columns in L2.
_GRAM_ROWS = 4096


def _rows_within(p: int, itemsize: int, budget: int) -> int:
    return max(1, int(budget) // max(1, p * itemsize))


def parquet_matrix(
    files: Any,
    columns: list[str] | None = None,
    *,
    dtype: Any = np.float64,
    block_bytes: int | None = None,
) -> Any:
    """Columns of Parquet files as a Dask array read with pyarrow, one chunk per row group.

    An alternative to ``dask.dataframe.read_parquet(...)[columns]`` for
    out-of-core fits that is faster and uses less memory per partition: no
    pandas DataFrame, each column decoded once by pyarrow and copied once.
    A fit on the array does not compute its chunks: its products read each
    row group column by column (X @ beta, X.T @ v: one decoded column in
    memory at a time) or into one reused block of the row group's floats
    (the Gram matrix), see :mod:`glmlib.design.parquet`. ``compute()``,
    ``predict`` and :func:`glmlib.disk_cache` get each row group as one
    Fortran-ordered array.

    Parameters
    ----------
    files : str, path-like or sequence of them
        Parquet files, or a glob pattern (``"data/*.parquet"``), read in
        sorted order.
    columns : list of str, optional
        The feature columns (default: all columns of the first file), numeric.
    dtype : float64 or float32, default float64
    block_bytes : int, optional
        Largest block of one row group's floats (rows x columns x itemsize)
        that a Gram matrix reads whole (default :data:`ROW_GROUP_BYTES`,
        256 MiB); a Gram pass holds one such block per Dask thread. Larger
        row groups are decoded in batches of rows within
        ``min(block_bytes, 4 MiB)`` (slower). The row group size is set when
        the files are written (``pyarrow.parquet.write_table``'s
        ``row_group_size``).

    Returns
    -------
    dask.array.Array
        n x len(columns), row counts known from the files' metadata (no pass).

    Examples
    --------
    >>> X = glmlib.parquet_matrix("data/*.parquet", features)  # doctest: +SKIP
    >>> y = dask.dataframe.read_parquet("data/*.parquet", columns=["y"])["y"]  # doctest: +SKIP
    >>> GLM("binomial").fit(X, y)  # doctest: +SKIP
    """
    import glob
    import os

    import dask.array as da
    import pyarrow.parquet as pq

    if isinstance(files, (str, os.PathLike)):
        path = os.fspath(files)
        found = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    else:
        found = [os.fspath(f) for f in files]
    if not found:
        raise ValueError(f"no Parquet files match {files!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    budget = ROW_GROUP_BYTES if block_bytes is None else int(block_bytes)
    if budget < 1:
        raise ValueError(f"block_bytes must be positive, got {block_bytes}")
    if columns is None:
        columns = list(pq.read_schema(found[0]).names)
    columns = [str(c) for c in columns]
    p = len(columns)
    step = _rows_within(p, dtype.itemsize, min(budget, _DECODE_BYTES))
    name = f"glmlib-parquet-{uuid.uuid4().hex}"
    graph: dict[Any, Any] = {}
    chunks: list[int] = []
    for file in found:
        meta = pq.read_metadata(file)
        for g in range(meta.num_row_groups):
            rows = int(meta.row_group(g).num_rows)
            whole = rows * p * dtype.itemsize <= budget
            source = ParquetRowGroup(file, g, columns, dtype.str, None if whole else step, rows)
            # The task is the row group itself (it is callable): the design
            # finds the sources in the graph (sources_of), no registry needed.
            graph[(name, len(chunks), 0)] = (source,)
            chunks.append(rows)
    return da.Array(graph, name, (tuple(chunks), (p,)), dtype=dtype)


def sources_of(X: Any) -> list[ParquetRowGroup] | None:
    """The row groups behind a :func:`parquet_matrix` array, one per chunk, else None.

    Read from the array's own task graph: found for the array as made (or
    rechunked to itself), not for anything computed from it (a column
    subset is a new array: :meth:`ParquetRowGroup.subset` follows it).
    """
    layers = getattr(getattr(X, "dask", None), "layers", None)
    name = getattr(X, "name", None)
    if layers is None or name not in layers or len(getattr(X, "chunks", ((), ()))[1]) != 1:
        return None
    layer = layers[name]
    found = []
    for i in range(len(X.chunks[0])):
        task = layer.get((name, i, 0)) if hasattr(layer, "get") else None
        # A legacy tuple (source,), or a Task object of newer Dask versions
        head = task[0] if isinstance(task, tuple) and task else getattr(task, "func", None)
        if not isinstance(head, ParquetRowGroup):
            return None
        found.append(head)
    return found


def read_parquet_rows(
    file: str | Any, row_group: int, columns: list[str], dtype: Any, batch_rows: int | None = None
) -> np.ndarray:
    """One row group's ``columns`` as a Fortran-ordered array of ``dtype``.

    Equal to ``pq.read_table(file).to_pandas()[columns].to_numpy(dtype)`` on
    that row group; decoded column by column (``batch_rows=None``) or
    ``batch_rows`` rows at a time.
    """
    import pyarrow.parquet as pq

    rows = int(pq.read_metadata(file).row_group(row_group).num_rows)
    return ParquetRowGroup(file, row_group, columns, dtype, batch_rows, rows).read()


class ParquetRowGroup:
    """One row group of a Parquet file's ``columns``, decoded by pyarrow on demand (picklable).

    Calling it (the Dask task of a :func:`parquet_matrix` chunk) returns
    :meth:`read`. :meth:`column_pieces` decodes one column at a time;
    :meth:`fill` copies every column into a caller's block; with
    ``batch_rows`` set, :meth:`batches` decodes that many rows of all
    columns at a time (for row groups too large for one block). Unused
    memory of pyarrow's pool is returned after each row group.
    """

    __slots__ = ("file", "row_group", "columns", "dtype", "batch_rows", "rows")

    def __init__(
        self,
        file: str,
        row_group: int,
        columns: list[str],
        dtype: str,
        batch_rows: int | None,
        rows: int,
    ) -> None:
        self.file, self.row_group, self.columns = file, int(row_group), list(columns)
        self.dtype = np.dtype(dtype).str
        self.batch_rows = None if batch_rows is None else max(1, int(batch_rows))
        self.rows = int(rows)

    def __call__(self) -> np.ndarray:
        return self.read()

    def __dask_tokenize__(self) -> Any:
        return (type(self).__name__, self.file, self.row_group, tuple(self.columns), self.dtype)

    def __reduce__(self) -> Any:  # __slots__ without __dict__: pickle by arguments
        return (
            ParquetRowGroup,
            (self.file, self.row_group, self.columns, self.dtype, self.batch_rows, self.rows),
        )

    @property
    def in_batches(self) -> bool:
        """Whether a Gram matrix decodes rows in batches (the row group is over the block budget)."""
        return self.batch_rows is not None

    def subset(self, cols: Any) -> ParquetRowGroup:
        """The same row group with the columns at positions ``cols``."""
        names = [self.columns[int(c)] for c in np.asarray(cols).reshape(-1)]
        return ParquetRowGroup(
            self.file, self.row_group, names, self.dtype, self.batch_rows, self.rows
        )

    def column_pieces(self, wanted: Any = None) -> Any:
        """Yield (position, [arrays of dtype in row order]) for each column, one decoded at a time.

        ``wanted``: positions to read (default all). The arrays are views of
        pyarrow's memory where no conversion is needed (float columns of
        ``dtype``); they are valid until the next column is yielded.
        Raises ValueError on missing values or a wrong row count.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        dtype = np.dtype(self.dtype)
        positions = range(len(self.columns)) if wanted is None else wanted
        pf = pq.ParquetFile(self.file)
        try:
            for j in positions:
                name = self.columns[j]
                col = pf.read_row_group(self.row_group, columns=[name], use_threads=False)
                col = col.column(0)
                if col.null_count:
                    raise ValueError(f"column {name!r} of {self.file!r} has missing values")
                if len(col) != self.rows:
                    raise ValueError(
                        f"{self.file!r} row group {self.row_group} has {len(col)} rows, "
                        f"expected {self.rows}"
                    )
                pieces = [
                    c.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
                    for c in col.chunks
                    if len(c)
                ]
                yield j, pieces
                del col, pieces
        finally:
            pf.close()
            pa.default_memory_pool().release_unused()

    def fill(self, out: np.ndarray) -> np.ndarray:
        """Copy every column into ``out`` (rows x columns; Fortran order: one contiguous copy each)."""
        for j, pieces in self.column_pieces():
            start = 0
            for a in pieces:
                out[start : start + a.shape[0], j] = a
                start += a.shape[0]
        return out

    def read(self) -> np.ndarray:
        """All rows as one new Fortran-ordered array."""
        out = np.empty((self.rows, len(self.columns)), dtype=np.dtype(self.dtype), order="F")
        return self.fill(out)

    def batches(self) -> Any:
        """Yield the row group's rows as (rows, columns) arrays, ``batch_rows`` at a time, in order.

        Each is the transpose of a C-ordered (columns, rows) buffer filled one
        contiguous column at a time. Raises ValueError on a column with
        missing values.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        dtype = np.dtype(self.dtype)
        p = len(self.columns)
        # Each column being read holds its read buffer, a decoded page (1 MB
        # by default) and a dictionary page: reads of 64 KiB rather than 1 MiB
        # measured 105-112 MB of pyarrow's pool per row group of 50 columns
        # instead of 158 MB (216 MB with the column chunks read whole).
        pf = pq.ParquetFile(self.file, pre_buffer=False, buffer_size=1 << 16)
        done = 0
        try:
            for batch in pf.iter_batches(
                batch_size=self.batch_rows or _rows_within(p, dtype.itemsize, _DECODE_BYTES),
                row_groups=[self.row_group],
                columns=self.columns,
                use_threads=False,
            ):
                cols = np.empty((p, batch.num_rows), dtype=dtype)
                for j in range(p):
                    col = batch.column(j)
                    if col.null_count:
                        raise ValueError(
                            f"column {self.columns[j]!r} of {self.file!r} has missing values"
                        )
                    cols[j] = col.to_numpy(zero_copy_only=False)
                del batch
                done += cols.shape[1]
                yield cols.T
        finally:
            pf.close()
            pa.default_memory_pool().release_unused()
        if done != self.rows:
            raise ValueError(
                f"{self.file!r} row group {self.row_group} has {done} rows, expected {self.rows}"
            )


class Buffers:
    """Blocks of memory reused by the tasks of one pass (one per thread at work).

    A Gram pass over row groups fills one block per row group; taking a
    block another row group has given back saves allocating (and faulting
    in) 100 MB per row group. Pickled (to a ``dask.distributed`` worker) it
    arrives empty: each task there allocates its own block.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[np.ndarray] = []

    def __reduce__(self) -> Any:
        return (Buffers, ())

    def take(self, rows: int, p: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """(the flat buffer, a Fortran-ordered rows x p view of it), reused when one fits."""
        dtype = np.dtype(dtype)
        size = rows * p
        with self._lock:
            for i, flat in enumerate(self._free):
                if flat.dtype == dtype and flat.size >= size:
                    del self._free[i]
                    break
            else:
                flat = np.empty(size, dtype=dtype)
        return flat, flat[:size].reshape((rows, p), order="F")

    def give(self, flat: np.ndarray) -> None:
        with self._lock:
            self._free.append(flat)


def matvec_into(source: ParquetRowGroup, beta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[:] = (the row group's X) @ beta, one column at a time; columns with beta 0 are not read.

    X is finite (validated), so a column times 0 adds exactly nothing.
    """
    from scipy.linalg.blas import daxpy

    out[:] = 0.0
    wanted = np.flatnonzero(beta)
    for j, pieces in source.column_pieces(wanted.tolist()):
        start = 0
        for a in pieces:
            stop = start + a.shape[0]
            if a.dtype == np.float64 and out.flags.c_contiguous:  # in place, no temporary
                daxpy(a, out[start:stop], a=float(beta[j]))
            else:
                out[start:stop] += a * beta[j]
            start = stop
    return out


def rmatvec(source: ParquetRowGroup, v: np.ndarray) -> np.ndarray:
    """(the row group's X).T @ v for its own rows' v, one column at a time (float64)."""
    total = np.zeros(len(source.columns))
    for j, pieces in source.column_pieces():
        start, acc = 0, 0.0
        for a in pieces:
            stop = start + a.shape[0]
            acc += float(a @ v[start:stop].astype(a.dtype, copy=False))
            start = stop
        total[j] = acc
    return total


def stats(source: ParquetRowGroup) -> tuple[int, bool, np.ndarray, np.ndarray]:
    """(rows, all finite, column maxima, column minima), one column at a time."""
    p = len(source.columns)
    finite, top, bottom = True, np.full(p, -np.inf), np.full(p, np.inf)
    for j, pieces in source.column_pieces():
        for a in pieces:
            finite = finite and bool(np.isfinite(a).all())
            top[j] = max(top[j], float(a.max()))
            bottom[j] = min(bottom[j], float(a.min()))
    return source.rows, finite, top, bottom


def gram_products(
    source: ParquetRowGroup,
    v: np.ndarray | None,
    d: np.ndarray,
    intercept: bool,
    buffers: Buffers | None = None,
) -> np.ndarray:
    """[X.T @ v,] then the Gram matrix [1, X].T diag(d) [1, X] of the row group, packed flat.

    ``v`` and ``d`` are the row group's own rows (d >= 0). Each decoded
    column gives its entry of X.T @ v and is copied, scaled by sqrt(d), into
    a Fortran-ordered block (from ``buffers``), whose Gram matrix is summed
    over slices of :data:`_GRAM_ROWS` rows in float64 (the dense design's
    arithmetic); a row group over the block budget is summed over its
    decoded batches instead.
    """
    from .._backend import Backend
    from .dense import DenseDesign

    p = len(source.columns)
    dtype = np.dtype(source.dtype)
    xv = np.zeros(p if v is not None else 0)
    k = p + int(intercept)
    g = np.zeros((k, k))
    if source.in_batches:
        start = 0
        for b in source.batches():
            rows = slice(start, start + b.shape[0])
            b = np.ascontiguousarray(b)
            if v is not None:
                xv += b.T @ v[rows].astype(dtype, copy=False)
            g += DenseDesign(b, Backend("numpy")).gram(d[rows], intercept)
            start += b.shape[0]
        return np.concatenate([xv, g.ravel()])
    pool = buffers if buffers is not None else Buffers()
    flat, block = pool.take(source.rows, p, dtype)
    s = np.sqrt(d).astype(dtype, copy=False)
    v_cast = None if v is None else v.astype(dtype, copy=False)
    try:
        # Each column is read once: X.T @ v from it, then copied scaled by sqrt(d)
        for j, pieces in source.column_pieces():
            start = 0
            for a in pieces:
                stop = start + a.shape[0]
                if v_cast is not None:
                    xv[j] += float(a @ v_cast[start:stop])
                np.multiply(a, s[start:stop], out=block[start:stop, j])
                start = stop
        inner, col = g[int(intercept) :, int(intercept) :], np.zeros(p)
        for a in range(0, source.rows, _GRAM_ROWS):
            part = block[a : a + _GRAM_ROWS]
            inner += part.T @ part
            if intercept:
                col += part.T @ s[a : a + _GRAM_ROWS]
    finally:
        pool.give(flat)
    if intercept:
        g[0, 0] = np.sum(d)
        g[0, 1:] = g[1:, 0] = col
    return np.concatenate([xv, g.ravel()])
