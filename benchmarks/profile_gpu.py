"""Where a GPU fit spends its time: CUDA kernels (torch.profiler) and host-side waits (cProfile).

Prints three tables for ``GLM("binomial", alpha=1e-4)`` on float32 data:

1. the CUDA kernels of one fit at n = 1e7, p = 100 (X already on the device),
   by total device time;
2. cProfile of a fit at n = 1e6 given host (NumPy) arrays and ``device="cuda"``;
3. cProfile of the same fit given the arrays already on the device;

and the wall time of each. Host-side time in (2) and (3) is where Python waits
for the device or works on the CPU; comparing them shows what the input type
changes.

Usage::

    python benchmarks/profile_gpu.py [--n 10000000] [--p 100]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

import numpy as np

import glmlib


def data(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    beta = rng.uniform(-1.0, 1.0, p) * 1.5 / np.sqrt(p / 3.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + X @ beta.astype(np.float32))))).astype(float)
    return X, y


def fit(X, y, **kw):  # type: ignore[no-untyped-def]
    return glmlib.GLM("binomial", alpha=1e-4, **kw).fit(X, y)


def host_profile(label: str, fn, torch) -> None:  # type: ignore[no-untyped-def]
    fn()
    torch.cuda.synchronize()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    fn()
    torch.cuda.synchronize()
    prof.disable()
    print(f"\n== {label}: {time.perf_counter() - t0:.3f} s (cProfile on)")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    print("\n".join(line[:150] for line in out.getvalue().splitlines()[6:]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--p", type=int, default=100)
    args = ap.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    if not torch.cuda.is_available():
        print("no CUDA device visible", file=sys.stderr)
        return 2
    X, y = data(args.n, args.p)
    Xd, yd = torch.as_tensor(X, device="cuda"), torch.as_tensor(y, device="cuda")
    fit(Xd, yd)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    model = fit(Xd, yd)
    torch.cuda.synchronize()
    print(
        f"fit n={args.n:,} p={args.p} on device: {time.perf_counter() - t0:.3f} s, {model.n_iter_} iterations"
    )
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fit(Xd, yd)
        torch.cuda.synchronize()
    table = prof.key_averages().table(
        sort_by="cuda_time_total", row_limit=25, max_name_column_width=60
    )
    print(table)
    small = args.n // 10
    Xs, ys = X[:small], y[:small]
    Xsd, ysd = Xd[:small].contiguous(), yd[:small].contiguous()
    host_profile(
        f"n={small:,} host arrays, device='cuda'", lambda: fit(Xs, ys, device="cuda"), torch
    )
    host_profile(f"n={small:,} device arrays", lambda: fit(Xsd, ysd), torch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
