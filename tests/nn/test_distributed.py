"""DistributedDataParallel through glmlib.nn.train: 2 gloo processes == 1 process on the global batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    """Both ranks end with identical weights, equal to one process with batch 2 x 8 (1e-10).

    float64, unequal sample weights, gradient accumulation over 2 global batches,
    a last global batch of 4 rows (2 per process), validation and the plateau
    schedule: the processes see different rows, so only the loss shares weighted
    by the global step weight make the averaged gradient the global batch's.
    The comparison with one process is to rounding (gradients are summed in
    another order), not bitwise.
    """
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, str(HERE / "ddp_run.py"), str(tmp_path)], check=True, env=env, timeout=300
    )
    r0, r1, single = (
        torch.load(tmp_path / f, weights_only=True) for f in ("rank0.pt", "rank1.pt", "single.pt")
    )
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key
        np.testing.assert_allclose(value.numpy(), single["state"][key].numpy(), rtol=0, atol=1e-10)
    for a, b in zip(r0["history"], single["history"], strict=True):
        np.testing.assert_allclose(a["train_deviance"], b["train_deviance"], rtol=1e-12)
        np.testing.assert_allclose(a["val_deviance"], b["val_deviance"], rtol=1e-10)
    start = single["history"][0]
    assert start["train_deviance"] != single["history"][-1]["train_deviance"]  # it trained
