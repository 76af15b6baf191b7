"""Data-parallel fits over ``torch.distributed``: every process holds a shard of the rows.

``GLM(distributed=True).fit(X, y, ...)`` called in every process of an
initialised process group treats each process's ``X``, ``y``,
``sample_weight`` and ``offset`` as its shard of the rows. Nothing else
changes: the solver is the single-machine Newton solver, given a
:class:`ShardedDesign` whose products over rows (``X.T @ v``, the Gram matrix
``X'WX``, column ranges) and whose :meth:`~ShardedDesign.reduce` hook (the
solver's sums over rows: losses, the intercept's gradient, step sizes) add up
the processes' partial results with one ``all_reduce`` each. Every process
then holds the same p-vectors and p x p matrices, takes the same Newton step
and ends with the same coefficients — those of the fit on the concatenated
data. Only O(p^2) numbers cross the network per iteration, never rows.

Launching
---------
* Scripts: ``torchrun --nproc-per-node 4 fit.py`` on one machine;
  ``torchrun --nnodes 2 --node-rank R --nproc-per-node 8
  --rdzv-backend c10d --rdzv-endpoint HOST:29500 fit.py`` on each of several
  machines. The script calls ``torch.distributed.init_process_group("gloo")``
  (CPUs) or ``("nccl")`` (one GPU per process: ``torch.cuda.set_device(local_rank)``
  and ``device="cuda"``), loads its own rows, and fits.
* Notebooks and tests: :func:`launch` starts ``nprocs`` local processes with a
  process group and returns what each one's function returned.

Failures
--------
glmlib does not own the process group, so before the collectives of a fit the
processes agree that every shard was validated (:func:`agree`): a process
whose shard is invalid raises its own error and the others raise one naming
it, instead of waiting forever in a collective. Shards with different numbers
of columns or dtypes are refused. A process that dies is detected by the
process group's timeout (:func:`launch` sets ``timeout``; ``torchrun`` users
set it in ``init_process_group``).
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable
from typing import Any

import numpy as np

from ._backend import to_numpy
from .design.protocol import ReduceOp

__all__ = [
    "ShardedDesign",
    "agree",
    "all_reduce",
    "any_process",
    "launch",
    "require_process_group",
    "share_levels",
]

_HOW_TO_START = (
    "distributed=True needs an initialised torch.distributed process group: run the script "
    "with `torchrun --nproc-per-node N script.py` and call "
    "torch.distributed.init_process_group('gloo') (CPUs) or ('nccl') (GPUs) before fitting, "
    "or use glmlib.distributed.launch(fn, nprocs) from a notebook"
)


def _dist() -> Any:
    try:
        import torch.distributed as dist
    except ImportError as exc:  # pragma: no cover - torch is a test dependency
        raise ImportError("distributed fits need PyTorch: pip install 'glmlib[torch]'") from exc
    return dist


def require_process_group(group: Any = None) -> Any:
    """Return ``group`` after checking that torch.distributed is initialised (RuntimeError if not)."""
    dist = _dist()
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(_HOW_TO_START)
    return group


def all_reduce(value: Any, op: ReduceOp = "sum", group: Any = None) -> Any:
    """Combine ``value`` over the processes of ``group``; returns a new value of the same kind.

    Torch tensors stay tensors on their device; NumPy arrays and scalars come
    back as float64 NumPy values. NCCL groups reduce on the GPU, gloo groups
    on the CPU (tensors are moved for the collective and back).
    """
    import torch

    dist = _dist()
    ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
    if op not in ops:
        raise ValueError(f"op must be one of {sorted(ops)}, got {op!r}")
    on_gpu = dist.get_backend(group) == "nccl"
    if isinstance(value, torch.Tensor):
        t = value.detach().to(torch.float64 if value.dtype == torch.bool else value.dtype)
        t = t.to("cuda" if on_gpu else "cpu", copy=True)
        dist.all_reduce(t, ops[op], group=group)
        return t.to(value.device)
    arr = np.array(to_numpy(value), dtype=np.float64)
    t = torch.from_numpy(arr)
    if on_gpu:
        t = t.cuda()
    dist.all_reduce(t, ops[op], group=group)
    out = t.cpu().numpy()
    return out if out.ndim else np.float64(out)


class ShardedDesign:
    """One process's rows of X, seen by the solver as the design of all rows.

    Parameters
    ----------
    local : Design
        The in-memory design of this process's rows.
    group : torch.distributed ProcessGroup, optional
        The processes holding the other rows (default: the whole world).
    """

    can_sample_rows = False  # a per-process sample would make the processes' iterates differ

    def __init__(self, local: Any, group: Any = None) -> None:
        require_process_group(group)
        self.local = local
        self.group = group
        self.backend = local.backend
        self.xp = local.xp
        self.n, self.p = local.n, local.p
        self.dtype = local.dtype
        self.is_sparse = local.is_sparse

    def reduce(self, value: Any, op: ReduceOp = "sum") -> Any:
        """Sum (or max/min) ``value`` over the processes: one ``all_reduce``."""
        return all_reduce(value, op, self.group)

    def matvec(self, beta: Any) -> Any:
        """X @ beta for this process's rows (no communication)."""
        return self.local.matvec(beta)

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v over all processes' rows."""
        return self.reduce(self.local.rmatvec(v))

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] over all processes' rows."""
        return self.reduce(self.local.gram(d, intercept=intercept))

    def column_range(self) -> np.ndarray:
        """max - min of each column over all processes' rows."""
        top, bottom = _local_extremes(self.local)
        return np.asarray(self.reduce(top, "max") - self.reduce(bottom, "min"))

    def subset(self, cols: Any) -> ShardedDesign:
        return ShardedDesign(self.local.subset(cols), self.group)

    def rows(self, idx: Any) -> Any:
        raise NotImplementedError("sharded designs give no row samples")


def _local_extremes(design: Any) -> tuple[np.ndarray, np.ndarray]:
    """Column maxima and minima of a local design's rows (-inf / +inf with no rows)."""
    if design.n == 0:
        return np.full(design.p, -np.inf), np.full(design.p, np.inf)
    design = getattr(design, "full", design)  # a mixed-precision design: its full-precision X
    if hasattr(design, "codes"):  # categorical design: numeric columns and level indicators
        top, bottom = np.empty(design.p), np.empty(design.p)
        if design.X_num.shape[1]:
            top[design.num_cols] = design.X_num.max(axis=0)
            bottom[design.num_cols] = design.X_num.min(axis=0)
        widths = np.diff(design.level_start)
        counts = np.concatenate(
            [
                np.bincount(design.codes[:, k][design.codes[:, k] >= 0], minlength=int(w))
                for k, w in enumerate(widths)
            ]
            or [np.zeros(0, dtype=np.int64)]
        )
        top[design.flat_cols] = (counts > 0).astype(np.float64)
        bottom[design.flat_cols] = np.where(counts < design.n, 0.0, 1.0)
        return top, bottom
    X = getattr(design, "X", None)
    if X is None:
        raise NotImplementedError(
            f"sharded fits take dense or scipy.sparse X; {type(design).__name__} is not supported"
        )
    if hasattr(X, "tocsc"):  # scipy.sparse: implicit zeros count
        return (
            np.asarray(X.max(axis=0).toarray(), dtype=np.float64).ravel(),
            np.asarray(X.min(axis=0).toarray(), dtype=np.float64).ravel(),
        )
    xp = design.xp
    return (
        to_numpy(xp.max(X, axis=0)).astype(np.float64),
        to_numpy(xp.min(X, axis=0)).astype(np.float64),
    )


def agree(error: BaseException | None, what: str, group: Any = None) -> None:
    """Make every process fail if any did: call it in every process after a local step.

    A process that failed re-raises its own ``error``; the others raise a
    RuntimeError naming the failed ranks and their messages. Without any
    failure it returns on every process.
    """
    dist = _dist()
    message = None if error is None else f"{type(error).__name__}: {error}"
    messages: list[str | None] = [None] * dist.get_world_size(group)
    dist.all_gather_object(messages, message, group=group)
    failed = {rank: m for rank, m in enumerate(messages) if m is not None}
    if not failed:
        return
    if error is not None:
        raise error
    detail = "; ".join(f"rank {r}: {m}" for r, m in failed.items())
    raise RuntimeError(f"{what} failed on rank(s) {sorted(failed)}: {detail}")


def share_levels(frame: Any, group: Any = None) -> Any:
    """The DataFrame with every categorical column's categories made the union over all processes.

    Every process then codes the levels alike (the union is sorted, as
    ``pd.Categorical`` sorts the levels of pooled data; levels that cannot
    be sorted keep the order of first appearance by rank).
    """
    import pandas as pd

    from .design.categorical import is_categorical

    dist = _dist()
    local = None
    if isinstance(frame, pd.DataFrame):
        columns = [c for c in frame.columns if is_categorical(frame[c].dtype)]
        local = {str(c): list(frame[c].cat.categories) for c in columns}
    gathered: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, local, group=group)  # before any error: all take part
    names = [None if g is None else list(g) for g in gathered]
    if any(n != names[0] for n in names):
        raise ValueError(
            f"the shards have different categorical columns (by rank; None: not a DataFrame): {names}"
        )
    out = frame.copy()
    for c in columns:
        union = list(dict.fromkeys(level for g in gathered for level in g[str(c)]))
        try:
            union = sorted(union)
        except TypeError:
            pass
        out[c] = out[c].cat.set_categories(pd.Index(union))
    return out


def any_process(flag: bool, group: Any = None) -> bool:
    """Whether ``flag`` is true on any process of the group (every process must call it)."""
    return bool(float(all_reduce(float(flag), "max", group)) > 0)


def check_shards(p: int, dtype: Any, n_local: int, group: Any = None) -> int:
    """Check that the shards have the same columns and dtype; return the pooled number of rows."""
    dist = _dist()
    shards: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(shards, (int(p), str(dtype), int(n_local)), group=group)
    ps = {rank: s[0] for rank, s in enumerate(shards)}
    if len(set(ps.values())) > 1:
        raise ValueError(f"the shards have different numbers of columns (rank: columns): {ps}")
    dtypes = {rank: s[1] for rank, s in enumerate(shards)}
    if len(set(dtypes.values())) > 1:
        raise ValueError(f"the shards have different dtypes (rank: dtype): {dtypes}")
    return int(sum(s[2] for s in shards))


# ------------------------------------------------------------------ launching
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    rank: int,
    fn: Callable[..., Any],
    nprocs: int,
    backend: str,
    address: str,
    timeout: float,
    args: tuple[Any, ...],
    results: Any,
) -> None:
    dist = _dist()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    dist.init_process_group(
        backend,
        init_method=address,
        rank=rank,
        world_size=nprocs,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        results[rank] = fn(rank, nprocs, *args)
    finally:
        dist.destroy_process_group()


def launch(
    fn: Callable[..., Any],
    nprocs: int = 2,
    *,
    backend: str = "gloo",
    timeout: float = 60.0,
    args: tuple[Any, ...] = (),
    start_method: str = "spawn",
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``nprocs`` local processes with a process group.

    Parameters
    ----------
    fn : callable
        Importable by the child processes under ``"spawn"`` (a module-level
        function); under ``"fork"`` (Linux) a function defined in a notebook
        works too.
    nprocs : int, default=2
    backend : {"gloo", "nccl"}, default="gloo"
        gloo for CPUs; nccl for GPUs (one per process; ``fn`` picks
        ``torch.cuda.set_device(rank)``).
    timeout : float, default=60
        Seconds a collective waits for the other processes before failing
        (a process that died or hangs), instead of waiting forever.
    args : tuple
        Further arguments of ``fn`` (picklable).
    start_method : {"spawn", "fork", "forkserver"}, default="spawn"

    Returns
    -------
    list
        ``fn``'s return value in each process, by rank.

    Raises
    ------
    torch.multiprocessing.ProcessRaisedException
        When ``fn`` raises in any process (with that process's traceback).
    """
    import torch.multiprocessing as mp

    if not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"nprocs must be a positive integer, got {nprocs!r}")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    address = f"tcp://127.0.0.1:{_free_port()}"
    manager = mp.get_context(start_method).Manager()
    try:
        results = manager.dict()
        mp.start_processes(
            _worker,
            args=(fn, nprocs, backend, address, float(timeout), tuple(args), results),
            nprocs=nprocs,
            join=True,
            start_method=start_method,
        )
        return [results[rank] for rank in range(nprocs)]
    finally:
        manager.shutdown()
