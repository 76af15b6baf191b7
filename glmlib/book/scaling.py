"""Chapter 6's code that runs in other processes: a DDP training script and two workers.

Functions that ``torchrun`` or :func:`glmlib.distributed.launch` (``spawn``)
start must be importable by the new processes, so they live in the package
rather than in the notebook: a chapter run from a wheel install, on Colab or
anywhere outside the book's repository, needs nothing but glmlib.

* :func:`make_data`: the chapter's logistic-regression data, the same in every process.
* :func:`train_ddp`: logistic regression trained by gradient descent with
  ``DistributedDataParallel`` and ``DistributedSampler`` (Listing 5.2 of the
  research, in its modern form); :func:`main` is the script around it::

      torchrun --standalone --nproc-per-node 2 -m glmlib.book.scaling ddp --out ddp.json

* :func:`newton_worker`: glmlib's distributed Newton fit (``GLM(distributed=True)``)
  on this process's rows, counting its collectives; optionally one rank is
  slowed on purpose (a straggler).
* :func:`peak_memory`: a Dask or in-memory fit of Parquet files in a fresh
  process, reporting its peak resident memory::

      python -m glmlib.book.scaling peak-memory dask FOLDER

Tests: ``tests/test_book_scaling.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "main",
    "make_data",
    "newton_worker",
    "objective",
    "peak_memory",
    "step_size",
    "train_ddp",
]

ALPHA = 1e-3  # ridge penalty of the chapter's logistic regression


def make_data(n: int, p: int, seed: int, rho: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """n rows of p AR(1)-correlated N(0, 1) features (correlation rho^|j-k|) and a 0/1 response."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p))
    X = np.empty_like(z)
    X[:, 0] = z[:, 0]
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * z[:, j]
    beta = np.linspace(-1.0, 1.0, p) * 1.5 / np.sqrt(p / 3.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + X @ beta)))).astype(np.float64)
    return X, y


def objective(
    intercept: float, coef: np.ndarray, X: np.ndarray, y: np.ndarray, alpha: float
) -> float:
    """Mean logistic loss plus alpha/2 ||coef||^2: glmlib's objective for this problem."""
    eta = intercept + X @ coef
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta) + alpha / 2 * coef @ coef)


def step_size(X: np.ndarray, alpha: float) -> float:
    """1 / L, with L = 0.25 * largest eigenvalue of [1, X]'[1, X] / n + alpha (the gradient's Lipschitz bound)."""
    A = np.column_stack([np.ones(len(X)), X])
    return 1.0 / (0.25 * np.linalg.eigvalsh(A.T @ A / len(X)).max() + alpha)


# ---------------------------------------------------------------- Listing 5.2
def train_ddp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float,
    lr: float,
    steps: int,
    batch_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Logistic regression by (stochastic) gradient descent with DistributedDataParallel.

    Call it in every process of an initialised process group; each process
    passes the whole data set and ``DistributedSampler`` picks its rows.
    ``batch_size`` is per process (None: the whole shard, i.e. full-batch
    gradient descent). Returns, from this process: the parameters after every
    step, the seconds of every step (forward, backward with its all-reduce,
    update) and of loading its batch, and the number and bytes of the gradient
    all-reduces DDP made.
    """
    import torch
    import torch.distributed as dist
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, TensorDataset

    torch.manual_seed(seed)
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    sampler: DistributedSampler[Any] = DistributedSampler(
        data, shuffle=batch_size is not None, seed=seed
    )
    per_step = len(sampler) if batch_size is None else batch_size
    # batch_size=None + a BatchSampler: the dataset is indexed with a whole batch at once.
    loader = DataLoader(
        data, sampler=BatchSampler(sampler, per_step, drop_last=False), batch_size=None
    )

    linear = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    model = DDP(linear)  # CPU tensors and gloo: no device_ids
    comm = {"calls": 0, "bytes": 0}

    def counted_allreduce(state, bucket):  # noqa: ANN001, ANN202 (DDP checks the annotations)
        """DDP's own all-reduce (average over processes), counted."""
        state["calls"] += 1
        state["bytes"] += bucket.buffer().numel() * bucket.buffer().element_size()
        return default_hooks.allreduce_hook(None, bucket)

    model.register_comm_hook(comm, counted_allreduce)
    # The ridge penalty as weight decay on the coefficients only, not on the intercept.
    optimizer = torch.optim.SGD(
        [
            {"params": [linear.weight], "weight_decay": alpha},
            {"params": [linear.bias], "weight_decay": 0.0},
        ],
        lr=lr,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()  # mean log-loss of this process's batch

    path, step_seconds, load_seconds = [], [], []
    step, epoch = 0, 0
    while step < steps:
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every process
        t_load = time.perf_counter()
        for xb, yb in loader:
            t_step = time.perf_counter()
            load_seconds.append(t_step - t_load)
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()  # DDP averages the gradients over the processes here
            optimizer.step()
            step_seconds.append(time.perf_counter() - t_step)
            path.append(torch.cat([linear.bias, linear.weight.ravel()]).detach().numpy().copy())
            step += 1
            if step == steps:
                break
            t_load = time.perf_counter()
        epoch += 1
    return {
        "rank": dist.get_rank(),
        "world": dist.get_world_size(),
        "rows_per_step": per_step,
        "path": np.array(path),
        "step_seconds": np.array(step_seconds),
        "load_seconds": np.array(load_seconds),
        "allreduce_calls": comm["calls"],
        "allreduce_bytes": comm["bytes"],
    }


def main(argv: list[str] | None = None) -> int:
    """``torchrun ... -m glmlib.book.scaling ddp`` or ``python -m glmlib.book.scaling peak-memory ...``.

    Parameters
    ----------
    argv : list of str, optional
        The command line without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status, 0.
    """
    ap = argparse.ArgumentParser(
        prog="python -m glmlib.book.scaling", description=(__doc__ or "").split("\n\n")[0]
    )
    sub = ap.add_subparsers(dest="command", required=True)
    ddp = sub.add_parser("ddp", help="DDP gradient descent; run it with torchrun")
    ddp.add_argument("--rows", type=int, default=20_000)
    ddp.add_argument("--features", type=int, default=20)
    ddp.add_argument("--seed", type=int, default=0)
    ddp.add_argument("--steps", type=int, default=500)
    ddp.add_argument(
        "--batch-size", type=int, default=None, help="per process; default: full batch"
    )
    ddp.add_argument("--out", help="rank 0 writes its result here as JSON")
    mem = sub.add_parser("peak-memory", help="one fit in this process; prints peak RSS as JSON")
    mem.add_argument("variant", choices=["dask", "memory"])
    mem.add_argument("folder")
    args = ap.parse_args(argv)

    if args.command == "peak-memory":
        print(json.dumps(peak_memory(args.variant, Path(args.folder))))
        return 0

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")  # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
    try:
        X, y = make_data(args.rows, args.features, args.seed)
        result = train_ddp(
            X,
            y,
            alpha=ALPHA,
            lr=step_size(X, ALPHA),
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        if dist.get_rank() == 0:
            final = result["path"][-1]
            print(
                f"{args.steps} steps: objective {objective(final[0], final[1:], X, y, ALPHA):.8f}"
            )
            if args.out:
                out = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in result.items()}
                Path(args.out).write_text(json.dumps(out))
    finally:
        dist.destroy_process_group()
    return 0


# ---------------------------------------------------------------- glmlib's Newton
def newton_worker(
    rank: int,
    world: int,
    n: int,
    p: int,
    seed: int,
    runs: list[tuple[int, float]],
) -> list[dict[str, Any]]:
    """glmlib's distributed fit on rows rank, rank + world, ... (as DistributedSampler picks them).

    ``runs`` lists (slow_rank, delay) pairs, one fit each: process ``slow_rank``
    sleeps ``delay`` seconds before each Gram-matrix all-reduce, i.e. once per
    Newton iteration (slow_rank = -1: nobody sleeps). Every all_reduce of the
    fit is counted and timed, and so are the all_gather_object calls with which
    the processes agree on their shards. An untimed fit comes first (warm-up).
    """
    import torch
    import torch.distributed as dist

    import glmlib
    import glmlib.distributed as gd

    torch.set_num_threads(1)
    X, y = make_data(n, p, seed)
    X, y = X[rank::world], y[rank::world]
    original_reduce, original_gather = gd.all_reduce, dist.all_gather_object
    tally: dict[str, Any] = {}

    def reduce(value: Any, op: Any = "sum", group: Any = None) -> Any:
        size = int(np.asarray(gd.to_numpy(value)).size)
        if size > (p + 1) and rank == tally["slow_rank"]:  # a Gram matrix: once per iteration
            time.sleep(tally["delay"])
            tally["slept"] += tally["delay"]
        t0 = time.perf_counter()
        out = original_reduce(value, op, group)
        tally["reduce_seconds"] += time.perf_counter() - t0
        tally["reduce_calls"] += 1
        tally["reduce_bytes"] += size * 8  # glmlib reduces NumPy values as float64
        return out

    def gather(*args: Any, **kwargs: Any) -> Any:
        tally["gather_calls"] += 1
        return original_gather(*args, **kwargs)

    gd.all_reduce = reduce  # every reduction of a sharded fit goes through this name
    dist.all_gather_object = gather
    results = []
    try:
        for i, (slow_rank, delay) in enumerate([(-1, 0.0), *runs]):
            tally.update(slow_rank=slow_rank, delay=delay, slept=0.0, reduce_seconds=0.0)
            tally.update(reduce_calls=0, reduce_bytes=0, gather_calls=0)
            dist.barrier()
            t0 = time.perf_counter()
            model = glmlib.GLM("binomial", alpha=ALPHA, distributed=True).fit(X, y)
            seconds = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up
            results.append(
                {
                    "rank": rank,
                    "slow_rank": slow_rank,
                    "delay": delay,
                    "seconds": seconds,
                    "n_iter": int(model.n_iter_),
                    "intercept": float(model.intercept_),
                    "coef": model.coef_.copy(),
                    "history": model.history_["objective"].to_numpy().copy(),
                    "slept": tally["slept"],
                    "allreduce_seconds": tally["reduce_seconds"],
                    "allreduce_calls": tally["reduce_calls"],
                    "allreduce_bytes": tally["reduce_bytes"],
                    "all_gather_calls": tally["gather_calls"],
                }
            )
    finally:
        gd.all_reduce, dist.all_gather_object = original_reduce, original_gather
    return results


# ---------------------------------------------------------------- out of core
def peak_memory(variant: str, folder: Path) -> dict[str, Any]:
    """Fit the Parquet files in ``folder`` with Dask or in memory; peak memory after each stage.

    Two high-water marks of resident memory, in bytes, after the imports
    (the same for both variants: both import pandas, Dask and glmlib), after
    loading and after the fit:

    * ``hwm``: the kernel's ``VmHWM`` of this process's address space
      (``/proc/self/status``, Linux), which starts afresh when the process
      starts its program;
    * ``maxrss``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which Linux
      carries over from the process that launched this one (it is at least
      that process's resident memory when it forked), so under a large parent
      such as a Jupyter kernel it can hide this process's own peak.
    """
    import resource

    import dask.dataframe as dd
    import pandas as pd

    import glmlib

    def peaks() -> dict[str, int]:
        out = {"maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}  # KiB
        status = Path("/proc/self/status")
        if status.is_file():
            hwm = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
            out["hwm"] = int(hwm[0].split()[1]) * 1024  # "VmHWM:  123456 kB"
        return out

    stages = {"after_imports": peaks()}
    files = sorted(folder.glob("*.parquet"))
    t0 = time.perf_counter()
    if variant == "dask":
        frame = dd.read_parquet([str(f) for f in files])
    else:
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    columns = [c for c in frame.columns if c != "y"]
    X, y = frame[columns], frame["y"]
    if variant == "memory":
        X, y = np.ascontiguousarray(X.to_numpy()), y.to_numpy()
        del frame
    stages["after_load"] = peaks()
    model = glmlib.GLM("binomial", alpha=ALPHA).fit(X, y)
    stages["after_fit"] = peaks()
    return {
        "variant": variant,
        "stages": stages,
        "seconds": time.perf_counter() - t0,
        "coef": model.coef_.tolist(),
    }


if __name__ == "__main__":
    sys.exit(main())
