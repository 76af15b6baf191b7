"""Dask collections as designs: out-of-core and cluster fits with the same solver.

``GLM().fit(X, y)`` with a ``dask.array`` or ``dask.dataframe`` X keeps X
where Dask keeps it (files read partition by partition, or a cluster's
workers) and runs every pass over it as one Dask computation on the active
scheduler: the threaded scheduler by default (data larger than memory,
streamed from disk), or a ``dask.distributed`` cluster when a ``Client`` is
active. Products over rows (``X.T @ v``, ``X'WX``) are summed per partition
and then pairwise in the task graph, so memory holds a few partitions and
O(p^2) numbers, never X.

Passes over X are what an out-of-core fit pays for (a Parquet partition is
decoded again on every pass), so the design keeps them few: validation,
partition lengths and column extremes come from one pass; X.T @ v and the
Gram matrix a Newton iteration needs come from one pass
(:meth:`DaskDesign.rmatvec_gram`, which the solver uses when a design offers
it); X @ 0 costs none. :func:`disk_cache` decodes a collection once into
uncompressed floats on local disk (NumPy files, or Zarr), so that later
passes read floats instead of decoding files (disk for 8 bytes per value).

Memory: a task holds one block of rows. The NumPy cache is read in blocks of
at most ``block_bytes`` (16 MiB by default) with explicit reads
(:func:`read_npy_rows`), not memory-mapped: pages of a mapped file count in
the process's resident memory for as long as the mapping lives, a read's
buffer only while its task runs. Products over a larger partition (a
Parquet file decoded whole) are formed over slices of rows of the same
budget, so a task copies at most that much beside its partition. An array
from :func:`parquet_matrix` is not computed chunk by chunk: its row groups
(found in its task graph) are read column by column by
:mod:`glmlib.design.parquet`.

What stays in memory are the vectors of length n (y, weights, offset and the
solver's linear predictor; a few times 8n bytes, against X's 8np), so the
design's reductions are the identity (:class:`AllRowsHere`). The working
weights of a Newton iteration are formed partition by partition in the Gram
pass (:meth:`DaskDesign.rmatvec_gram_rows`, from the problem's row kernel)
where the scheduler runs in this process, and X @ beta is written into one
vector, not concatenated from parts.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import numpy as np

from .._backend import Backend
from . import parquet as _pq
from .parquet import ParquetRowGroup, parquet_matrix, read_parquet_rows
from .protocol import AllRowsHere

__all__ = [
    "DaskDesign",
    "is_dask_collection",
    "dask_matrix",
    "validated_matrix",
    "disk_cache",
    "open_disk_cache",
    "parquet_matrix",
    "read_parquet_rows",
    "read_npy_rows",
    "block_rows",
    "BLOCK_BYTES",
]

_ZARR_CHUNK_BYTES = 16 * 2**20
#: Default memory budget of one block of rows: what a task reads from a disk
#: cache at once, and the largest slice of a partition a product copies.
BLOCK_BYTES = 16 * 2**20
_MANIFEST = "glmlib-cache.json"
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


def dask_matrix(X: Any, known_rows: bool = True) -> tuple[Any, list[str] | None]:
    """X as a 2-D floating Dask array with one column chunk, and its column names.

    With ``known_rows`` the row chunks are known (a pass over a DataFrame to
    count them); otherwise they may be unknown (NaN), as a DataFrame gives them.
    """
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
        # Partition lengths are counted on the array itself (dask-expr may
        # combine a DataFrame's partitions, so lengths=True can disagree).
        X = X.to_dask_array()
    if not isinstance(X, da.Array):
        raise TypeError(f"expected a dask array or DataFrame, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead")
    unknown = any(np.isnan(c) for c in X.chunks[0])
    if unknown and (known_rows or len(X.chunks[1]) > 1):
        X = X.compute_chunk_sizes()
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X.rechunk({1: -1}), names


def validated_matrix(X: Any) -> tuple[Any, list[str] | None, np.ndarray, np.ndarray]:
    """X as in :func:`dask_matrix`, checked in one pass over it.

    Returns (X with known row chunks, column names, column maxima, column
    minima); ValueError when X is empty or holds NaN or infinity. Partition
    lengths, finiteness and extremes come from the same pass, so a DataFrame
    read from files is decoded once here.
    """
    dask, da = _dask()
    Xd, names = dask_matrix(X, known_rows=False)
    p = int(Xd.shape[1])
    blocks = _pq.sources_of(Xd) or _row_blocks(Xd)
    stats = dask.compute(*[dask.delayed(_block_stats, pure=True)(b, p) for b in blocks])
    rows = tuple(int(r) for r, _, _, _ in stats)
    if not all(ok for _, ok, _, _ in stats):
        raise ValueError("Input X contains NaN or infinity.")
    if sum(rows) < 1 or p < 1:
        raise ValueError(f"Found array with shape {(sum(rows), p)}: X is empty")
    if any(np.isnan(c) for c in Xd.chunks[0]):
        Xd = da.Array(Xd.dask, Xd.name, (rows, (p,)), meta=Xd._meta)
    top = np.max(np.stack([t for _, _, t, _ in stats]), axis=0)
    bottom = np.min(np.stack([b for _, _, _, b in stats]), axis=0)
    return Xd, names, top, bottom


def _row_blocks(X: Any) -> list[Any]:
    """The row partitions of a one-column-chunk Dask array, as delayed objects."""
    return list(X.to_delayed().ravel())


def _block_stats(block: Any, p: int) -> tuple[int, bool, np.ndarray, np.ndarray]:
    """(rows, all finite, column maxima, column minima) of one partition (or row group)."""
    if isinstance(block, ParquetRowGroup):
        return _pq.stats(block)
    b = np.asarray(block)
    if b.shape[0] == 0:
        return 0, True, np.full(p, -np.inf), np.full(p, np.inf)
    return b.shape[0], bool(np.isfinite(b).all()), b.max(axis=0), b.min(axis=0)


def disk_cache(
    X: Any,
    path: str | Any,
    *,
    format: str = "npy",
    overwrite: bool = False,
    block_bytes: int | None = None,
) -> Any:
    """Decode a Dask collection once into float files on local disk; the Dask array that reads them.

    For out-of-core fits that pass over X many times (Newton iterations,
    paths, cross-validation): every pass over a ``dask.dataframe`` read from
    Parquet or CSV decodes the files again, while a pass over the returned
    array reads uncompressed floats. The cache costs disk: 8 bytes per value
    in float64 (4 in float32), one file (``"npy"``) or one Zarr array
    (``"zarr"``) per partition of X, so partitions keep their lengths. Put it
    on local disk (or, for a ``dask.distributed`` cluster on several machines,
    on a file system every worker sees), and delete the folder when done.

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame
        Numeric features (DataFrame columns numeric, as for ``fit``).
    path : str or path-like
        A directory for the cache (created; refused if it exists, unless
        ``overwrite``).
    format : {"npy", "zarr"}, default "npy"
        ``"npy"``: Dask's ``to_npy_stack`` layout (one NumPy ``.npy`` file per
        partition and an ``info`` file; ``dask.array.from_npy_stack`` opens
        it), read in blocks of rows with explicit reads (see ``block_bytes``).
        ``"zarr"``: a Zarr group of uncompressed arrays in 16 MB chunks (any
        Zarr reader opens it), read through Zarr's codec pipeline: measured
        3-5x slower per pass than ``"npy"`` on a loaded 2-core machine.
    overwrite : bool, default False
        Replace an existing cache at ``path``.
    block_bytes : int, optional
        Memory budget of one block of rows read from a ``"npy"`` cache (see
        :func:`open_disk_cache`; default 16 MiB).

    Returns
    -------
    dask.array.Array
        X read from the cache: ``"npy"``, one chunk per block of rows within
        ``block_bytes`` of each partition (one per partition when a partition
        fits); ``"zarr"``, one chunk per partition of X; float64 (or
        float32 when X was float32). :func:`open_disk_cache` opens the cache
        again, in this or another process, with the column names of a
        DataFrame.

    Examples
    --------
    >>> import dask.dataframe as dd  # doctest: +SKIP
    >>> frame = dd.read_parquet("data/*.parquet")  # doctest: +SKIP
    >>> X = glmlib.disk_cache(frame[features], "/scratch/X-cache")  # doctest: +SKIP
    >>> GLM("binomial").fit(X, frame["y"])  # doctest: +SKIP
    """
    import json
    import os
    import shutil

    dask, _ = _dask()
    if format not in ("npy", "zarr"):
        raise ValueError(f"format must be 'npy' or 'zarr', got {format!r}")
    path = os.fspath(path)
    if os.path.exists(path):
        if not overwrite:
            raise ValueError(f"{path!r} exists; pass overwrite=True to replace it")
        shutil.rmtree(path)
    Xd, names = dask_matrix(X, known_rows=False)
    blocks = _row_blocks(Xd)
    dtype = np.dtype(Xd.dtype)
    if format == "zarr":
        zarr = _zarr()
        zarr.open_group(path, mode="w")
    else:
        os.makedirs(path)
    rows = dask.compute(
        *[
            dask.delayed(_write_block, pure=False)(b, path, i, dtype.str, format)
            for i, b in enumerate(blocks)
        ]
    )
    manifest = {
        "glmlib": "disk_cache",
        "format": format,
        "columns": names,
        "rows": [int(r) for r in rows],
        "p": int(Xd.shape[1]),
        "dtype": dtype.str,
    }
    if format == "npy":  # the layout of dask.array.to_npy_stack
        import pickle

        info = {"chunks": (tuple(manifest["rows"]), (manifest["p"],)), "dtype": dtype, "axis": 0}
        with open(os.path.join(path, "info"), "wb") as f:
            pickle.dump(info, f)
    with open(os.path.join(path, _MANIFEST), "w") as f:
        json.dump(manifest, f)
    return open_disk_cache(path, block_bytes=block_bytes)[0]


def open_disk_cache(
    path: str | Any, *, block_bytes: int | None = None
) -> tuple[Any, list[str] | None]:
    """(the Dask array, the column names or None) of a cache written by :func:`disk_cache`.

    Parameters
    ----------
    path : str or path-like
        The cache's directory.
    block_bytes : int, optional
        Memory budget of one block of rows (default :data:`BLOCK_BYTES`,
        16 MiB). A NumPy cache's partitions are split into Dask chunks of at
        most this many bytes (at least one row), each read with explicit
        reads into its own buffer (:func:`read_npy_rows`), so a pass holds a
        few blocks in memory, not memory-mapped partitions. A Zarr cache
        keeps one chunk per partition.
    """
    import json
    import os

    _, da = _dask()
    path = os.fspath(path)
    try:
        with open(os.path.join(path, _MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path!r} is not a cache written by glmlib.disk_cache") from exc
    if manifest.get("glmlib") != "disk_cache":
        raise ValueError(f"{path!r} is not a cache written by glmlib.disk_cache")
    if manifest["format"] == "npy":
        X = _npy_blocks(path, manifest, BLOCK_BYTES if block_bytes is None else block_bytes)
    else:
        zarr = _zarr()
        parts = []
        for i in range(len(manifest["rows"])):
            z = zarr.open_array(path, path=str(i), mode="r")
            name = f"glmlib-zarr-cache-{i}-{uuid.uuid4().hex}"
            parts.append(da.from_zarr(z, chunks=z.shape, name=name))
        X = da.concatenate(parts, axis=0)  # one Dask chunk per partition
    return X, manifest["columns"]


def _slices(block: Any, step: int) -> Any:
    """Yield (first row, C-ordered rows) of a partition, at most ``step`` rows at a time.

    An array is copied slice by slice (a partition decoded by pandas is
    column-major), so a product copies one slice, never the whole partition.
    """
    block = np.asarray(block)
    for a in range(0, max(block.shape[0], 1), step):
        yield a, np.ascontiguousarray(block[a : a + step])


def block_rows(p: int, itemsize: int, block_bytes: int) -> int:
    """Rows of a block of ``p`` columns within ``block_bytes`` (at least one row)."""
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be positive, got {block_bytes}")
    return max(1, int(block_bytes) // max(1, p * itemsize))


def _npy_blocks(path: str, manifest: dict[str, Any], block_bytes: int) -> Any:
    """The Dask array of a NumPy cache: each partition's file in blocks of rows within the budget."""
    import os

    _, da = _dask()
    dtype = np.dtype(manifest["dtype"])
    p = int(manifest["p"])
    step = block_rows(p, dtype.itemsize, block_bytes)
    name = f"glmlib-npy-cache-{uuid.uuid4().hex}"
    graph: dict[Any, Any] = {}
    chunks: list[int] = []
    for i, rows in enumerate(manifest["rows"]):
        file = os.path.join(path, f"{i}.npy")
        for start in range(0, max(int(rows), 1), step):
            count = min(step, int(rows) - start)
            graph[(name, len(chunks), 0)] = (read_npy_rows, file, start, count)
            chunks.append(count)
    return da.Array(graph, name, (tuple(chunks), (p,)), dtype=dtype)


def read_npy_rows(file: str | Any, start: int, count: int) -> np.ndarray:
    """Rows ``start:start + count`` of a 2-D C-ordered ``.npy`` file, read into a new array.

    An explicit read (``readinto`` a buffer of ``count`` rows) rather than a
    memory map: the buffer is the only memory it holds, and it is freed with
    the array. Equal to ``np.load(file, mmap_mode="r")[start:start + count]``.
    """
    with open(file, "rb", buffering=0) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if len(shape) != 2 or fortran:
            raise ValueError(f"{file!r} is not a 2-D C-ordered array")
        count = max(0, min(int(count), int(shape[0]) - int(start)))
        out = np.empty((count, int(shape[1])), dtype=dtype)
        if out.size == 0:
            return out
        f.seek(int(start) * int(shape[1]) * dtype.itemsize, 1)
        view = memoryview(cast(Any, out.reshape(-1).view(np.uint8)))
        done = 0
        while done < len(view):
            got = f.readinto(view[done:])
            if not got:
                raise EOFError(f"{file!r} ends before row {int(start) + count}")
            done += got
    return out


def _zarr() -> Any:
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - installed with dask in make test
        raise ImportError("format='zarr' needs zarr: pip install 'glmlib[distributed]'") from exc
    return zarr


def _write_block(block: Any, path: str, i: int, dtype: str, format: str) -> int:
    """Write one partition as ``path/i.npy`` or Zarr array ``path/i``; its row count."""
    import os

    b = np.ascontiguousarray(block, dtype=dtype)
    if format == "npy":
        np.save(os.path.join(path, f"{i}.npy"), b)
        return int(b.shape[0])
    zarr = _zarr()
    # Zarr chunks of about 16 MB: reading one partition then goes through
    # buffers of that size rather than one buffer as large as the partition
    # (measured: about 1.5x faster reads of 100 MB partitions).
    rows = max(1, min(b.shape[0], _ZARR_CHUNK_BYTES // max(1, b.shape[1] * b.itemsize)))
    z = zarr.create_array(
        store=path,
        name=str(i),
        shape=b.shape,
        chunks=(rows, b.shape[1]),
        dtype=b.dtype,
        compressors=None,
        overwrite=True,
    )
    z[...] = b
    return int(b.shape[0])


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
    sources : list of ParquetRowGroup, optional
        The row groups behind X, one per chunk (found in the task graph of
        an array from :func:`parquet_matrix`): products then read the row
        groups column by column (:mod:`glmlib.design.parquet`) instead of
        computing the chunks.
    """

    #: Out of core, a fit's vectors of n floats are most of its memory: the
    #: solver holds as few as it can, at the cost of extra passes over n rows
    #: (not over X; see :meth:`glmlib.solver.problem.Problem.trial_objective`).
    lean_rows = True

    def __init__(
        self,
        X: Any,
        backend: Backend,
        extremes: tuple[Any, Any] | None = None,
        sources: list[ParquetRowGroup] | None = None,
    ) -> None:
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
        self._sources = sources if sources is not None else _pq.sources_of(X)

    def _blocks(self) -> list[Any]:
        return list(self._sources) if self._sources else _row_blocks(self.X)

    def _shared(self, v: Any) -> Any:
        # One graph node per vector (named, so Dask does not hash n numbers per pass).
        dask, _ = _dask()
        return dask.delayed(v, name=f"glmlib-vector-{uuid.uuid4().hex}")

    def matvec(self, beta: Any) -> Any:
        """X @ beta (one pass; the result, n floats, in memory).

        On a scheduler in this process (threads, or synchronous) each
        partition writes its rows of one preallocated vector; elsewhere (a
        cluster) the parts are returned and concatenated (two vectors of n
        floats at once). Row groups of :func:`parquet_matrix` are read
        column by column.
        """
        b = np.asarray(beta).astype(self.dtype)
        if not np.any(b):  # X @ 0 (X is finite, or has no columns): no pass
            return np.zeros(self.n)
        dask, _ = _dask()
        if _in_process():
            out = np.empty(self.n)
            shared = self._shared(out)
            dask.compute(
                *[
                    dask.delayed(_block_matvec_into, pure=False)(block, b, shared, start, stop)
                    for block, (start, stop) in zip(self._blocks(), self._bounds, strict=True)
                ]
            )
            return out
        if self._sources:
            parts = [
                dask.delayed(_pq.matvec_into, pure=True)(s, b, np.empty(s.rows))
                for s in self._sources
            ]
            return np.concatenate(dask.compute(*parts))
        out = self.X.map_blocks(_block_matvec, b, drop_axis=1, dtype=np.float64)
        return np.asarray(out.compute(), dtype=np.float64)

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v (one pass; per-partition products summed in the graph)."""
        if self.p == 0:  # no columns (the intercept-only fit): no pass
            return np.zeros(0)
        dask, _ = _dask()
        shared = self._shared(np.asarray(v, dtype=np.float64))
        parts = [
            dask.delayed(_block_rmatvec, pure=True)(block, shared, start, stop)
            for block, (start, stop) in zip(self._blocks(), self._bounds, strict=True)
        ]
        return np.asarray(_tree_sum(dask, parts).compute(), dtype=np.float64)

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] (one pass; per-partition Gram matrices summed in the graph)."""
        if self.p == 0:  # only the intercept's entry, sum(d): no pass
            return np.full((int(intercept), int(intercept)), np.sum(d), dtype=np.float64)
        return self._gram_pass(None, d, intercept)[1]

    def rmatvec_gram(self, v: Any, d: Any, intercept: bool = True) -> tuple[Any, Any]:
        """(X.T @ v, :meth:`gram` of d) from one pass: each partition is read once for both."""
        if self.p == 0:
            return self.rmatvec(v), self.gram(d, intercept)
        return self._gram_pass(v, d, intercept)

    def rmatvec_gram_rows(self, rows: Any, intercept: bool = True) -> tuple[Any, Any, float] | None:
        """(X.T @ score, :meth:`gram` of fisher, sum(score)), the weights formed per partition.

        ``rows(start, stop, score, fisher)`` fills the working weights of a
        partition's rows (:meth:`glmlib.solver.problem.Problem.weights_by_rows`),
        so the pass holds them for the partitions in flight only, never as
        two vectors of n floats. None (the solver forms them whole) without
        columns or on a scheduler outside this process.
        """
        if self.p == 0 or not _in_process():
            return None
        x_score, gram, total = self._gram_pass(None, None, intercept, rows)
        return x_score, gram, total

    def _gram_pass(self, v: Any, d: Any, intercept: bool, rows: Any = None) -> tuple[Any, ...]:
        """(X.T @ v or None, the Gram matrix of d), per partition, summed pairwise in the graph.

        With ``rows``: v and d are the working weights it forms per partition,
        and (X.T @ v, the Gram matrix, sum(v)) is returned.
        """
        dask, _ = _dask()
        shared_v = None if v is None else self._shared(np.asarray(v, dtype=np.float64))
        shared_d = None if d is None else self._shared(np.asarray(d, dtype=np.float64))
        shared_rows = None if rows is None else self._shared(rows)
        # Row groups share their blocks within this pass (one per thread at work)
        buffers = self._shared(_pq.Buffers()) if self._sources else None
        parts = [
            dask.delayed(_block_products, pure=True)(
                block, shared_v, shared_d, start, stop, intercept, buffers, shared_rows
            )
            for block, (start, stop) in zip(self._blocks(), self._bounds, strict=True)
        ]
        packed = np.asarray(_tree_sum(dask, parts).compute(), dtype=np.float64)
        q = self.p if (v is not None or rows is not None) else 0
        k = self.p + int(intercept)
        gram = packed[q + int(rows is not None) :].reshape(k, k)
        if rows is not None:
            return packed[:q], gram, float(packed[q])
        return (None if v is None else packed[:q]), gram

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
        sources = [s.subset(cols) for s in self._sources] if self._sources else None
        return DaskDesign(self.X[:, cols], self.backend, ext, sources)


def _in_process() -> bool:
    """Whether the active scheduler runs tasks in this process (threads or synchronous)."""
    import dask.local
    import dask.threaded

    scheduler = dask.base.get_scheduler()
    return scheduler is None or scheduler in (dask.threaded.get, dask.local.get_sync)


def _block_matvec_into(
    block: Any, beta: np.ndarray, out: np.ndarray, start: int, stop: int
) -> None:
    """out[start:stop] = block @ beta (a row group read column by column)."""
    if isinstance(block, ParquetRowGroup):
        _pq.matvec_into(block, beta, out[start:stop])
    else:
        np.matmul(block, beta, out=out[start:stop])


def _block_matvec(block: Any, beta: np.ndarray) -> np.ndarray:
    return np.asarray(block @ beta, dtype=np.float64)


def _block_rmatvec(block: Any, v: np.ndarray, start: int, stop: int) -> np.ndarray:
    if isinstance(block, ParquetRowGroup):
        return _pq.rmatvec(block, v[start:stop])
    return np.asarray(block.T @ v[start:stop].astype(block.dtype), dtype=np.float64)


def _block_gram(block: Any, d: np.ndarray, start: int, stop: int, intercept: bool) -> np.ndarray:
    """The Gram matrix of one partition, summed over slices of rows within :data:`BLOCK_BYTES`.

    A slice is copied C-ordered (a partition decoded from Parquet is
    column-major), so the copy is one slice, never the whole partition.
    """
    from .dense import DenseDesign

    p = np.shape(block)[1]
    step = block_rows(p, np.dtype(block.dtype).itemsize, BLOCK_BYTES)
    total: np.ndarray | None = None
    for a, part in _slices(block, step):
        g = DenseDesign(part, Backend("numpy")).gram(
            d[start + a : start + a + part.shape[0]], intercept
        )
        total = np.asarray(g, dtype=np.float64) if total is None else total + g
    return total  # type: ignore[return-value]


def _block_products(
    block: Any,
    v: np.ndarray | None,
    d: np.ndarray,
    start: int,
    stop: int,
    intercept: bool,
    buffers: _pq.Buffers | None,
    rows: Any = None,
) -> np.ndarray:
    """[X.T @ v,] and the Gram matrix of one partition, packed into one vector (summed pairwise).

    A :class:`ParquetRowGroup` is decoded once for both
    (:func:`glmlib.design.parquet.gram_products`). With ``rows``, v and d
    are the working weights it forms for this partition's rows, and sum(v)
    is packed between the two products.
    """
    if rows is not None:
        m = stop - start
        score, fisher = np.empty(m), np.empty(m)
        rows(start, stop, score, fisher)
        packed = _block_products(block, score, fisher, 0, m, intercept, buffers)
        p = len(block.columns) if isinstance(block, ParquetRowGroup) else np.shape(block)[1]
        return np.concatenate([packed[:p], [np.sum(score)], packed[p:]])
    if isinstance(block, ParquetRowGroup):
        part_v = None if v is None else v[start:stop]
        return _pq.gram_products(block, part_v, d[start:stop], intercept, buffers)
    gram = _block_gram(block, d, start, stop, intercept).ravel()
    if v is None:
        return gram
    return np.concatenate([_block_rmatvec(block, v, start, stop), gram])
