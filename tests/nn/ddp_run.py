"""Train one small network with glmlib.nn.train in 2 gloo processes and in one; save the weights.

Run by tests/nn/test_distributed.py as ``python tests/nn/ddp_run.py OUT_DIR``. Each of
the two processes (forked by torch.multiprocessing, joined by a gloo process group
through a file store) holds the whole data set; with ``batch_size=8`` per process they
train on the same global batches of 16 rows that the single process (``batch_size=16``)
trains on. Writes ``rank0.pt``, ``rank1.pt`` and ``single.pt`` (state dicts and histories).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import TensorDataset

from glmlib.nn import GLMHead, GLMLoss, TrainConfig, init_weights, mlp, train

WORLD = 2
BATCH = 8


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = mlp(4, (8, 4), "tanh")
        self.head = GLMHead(4, "poisson")
        init_weights(self, "tanh", torch.Generator().manual_seed(0))
        self.double()

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x), offset)


def data(n: int, seed: int) -> TensorDataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    off = np.log(rng.uniform(0.5, 1.0, n))
    y = rng.poisson(np.exp(off + 0.3 + np.sin(X[:, 0]) + 0.5 * X[:, 1]))
    w = rng.uniform(0.5, 2.0, n)  # unequal weights: the shares must be global
    return TensorDataset(*(torch.as_tensor(a, dtype=torch.float64) for a in (X, off, y, w)))


def config(batch_size: int) -> TrainConfig:
    # 100 rows: 6 global batches of 16 and one of 4 (2 rows per process); 2 per step
    return TrainConfig(
        max_epochs=4,
        batch_size=batch_size,
        accumulation_steps=2,
        learning_rate=0.02,
        patience=50,
        seed=7,
    )


def run(model: nn.Module, batch_size: int):
    return train(model, GLMLoss("poisson"), data(100, 0), data(30, 1), config(batch_size))


def worker(rank: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{out}/store", rank=rank, world_size=WORLD)
    try:
        model = Net()
        res = run(model, BATCH)
        torch.save({"state": model.state_dict(), "history": res.history}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def main(out: str) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    # fork: the children inherit the imports (spawn would import torch and glmlib again);
    # nothing has run a torch operation in this process yet
    mp.start_processes(worker, args=(out,), nprocs=WORLD, join=True, start_method="fork")
    model = Net()
    res = run(model, BATCH * WORLD)
    torch.save({"state": model.state_dict(), "history": res.history}, f"{out}/single.pt")


if __name__ == "__main__":
    main(sys.argv[1])
