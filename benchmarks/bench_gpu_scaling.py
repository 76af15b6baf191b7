"""glmlib on the CPU against glmlib on one GPU, from small n to the largest n the device holds.

For a float32 logistic ridge fit (p = 100 by default) at each n of a sweep:

* ``glmlib.GLM`` on the CPU (NumPy, all of this machine's cores);
* ``glmlib.GLM(device="cuda")`` given host arrays: transfer included;
* the same given X already on the device: fit alone;
* the largest absolute coefficient difference between the CPU and GPU fits.

Then the largest n that fits: X and y are drawn on the device (no host copy)
at growing n until the fit runs out of device memory or the time budget
(``--max-seconds``) is spent; each success records n, the bytes of X, the fit
time and the peak device memory per row.

Usage::

    python benchmarks/bench_gpu_scaling.py --out scaling.json
    python benchmarks/bench_gpu_scaling.py --sizes 10000 100000 --no-largest   # short run

Exits with status 2 when PyTorch sees no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

import glmlib

ALPHA = 1e-4  # a light ridge: a well-posed problem at every n


def make_data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    beta = rng.uniform(-1.0, 1.0, p) * 1.5 / np.sqrt(p / 3.0)
    eta = 0.3 + X @ beta.astype(np.float32)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return X, y


def best_of(fn: Any, repeats: int, sync: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best, out


def sweep(
    torch: Any, sizes: list[int], p: int, repeats: int, save: Any = None
) -> list[dict[str, Any]]:
    sync = torch.cuda.synchronize
    rows = []
    for n in sizes:
        X, y = make_data(n, p, seed=n)
        cpu_s, cpu = best_of(
            lambda X=X, y=y: glmlib.GLM("binomial", alpha=ALPHA).fit(X, y), repeats, sync
        )
        gpu_s, gpu = best_of(
            lambda X=X, y=y: glmlib.GLM("binomial", alpha=ALPHA, device="cuda").fit(X, y),
            repeats,
            sync,
        )
        Xd, yd = torch.as_tensor(X, device="cuda"), torch.as_tensor(y, device="cuda")
        dev_s, _ = best_of(
            lambda Xd=Xd, yd=yd: glmlib.GLM("binomial", alpha=ALPHA).fit(Xd, yd), repeats, sync
        )
        row = {
            "n": n,
            "p": p,
            "cpu_seconds": cpu_s,
            "gpu_seconds_with_transfer": gpu_s,
            "gpu_seconds_on_device": dev_s,
            "cpu_iterations": int(cpu.n_iter_),
            "gpu_iterations": int(gpu.n_iter_),
            "max_coef_difference": float(np.max(np.abs(cpu.coef_ - gpu.coef_))),
        }
        rows.append(row)
        if (
            save is not None
        ):  # after every row: a run stopped at its time limit keeps what it measured
            save({"alpha": ALPHA, "sweep": rows})
        print(
            f"n={n:>10,} cpu {cpu_s:8.3f} s  gpu {gpu_s:8.3f} s (with transfer) "
            f"{dev_s:8.3f} s (on device)  speed-up {cpu_s / gpu_s:6.1f}x  "
            f"max|dcoef| {row['max_coef_difference']:.1e}",
            flush=True,
        )
        Xd = yd = None
        torch.cuda.empty_cache()
    return rows


def largest(torch: Any, p: int, start: int, factor: float, max_seconds: float) -> dict[str, Any]:
    """Fit at growing n on device-drawn data until memory or time runs out."""
    found: list[dict[str, Any]] = []
    n, t_begin, stop_reason = start, time.perf_counter(), "time budget"
    gen = torch.Generator(device="cuda").manual_seed(0)
    while time.perf_counter() - t_begin < max_seconds:
        X = y = None
        try:
            torch.cuda.reset_peak_memory_stats()
            X = torch.randn(n, p, device="cuda", dtype=torch.float32, generator=gen)
            beta = torch.linspace(-0.3, 0.3, p, device="cuda", dtype=torch.float32)
            prob = torch.sigmoid(0.3 + X @ beta)
            y = (torch.rand(n, device="cuda", generator=gen) < prob).to(torch.float64)
            del prob
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model = glmlib.GLM("binomial", alpha=ALPHA).fit(X, y)
            torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            peak = torch.cuda.max_memory_allocated()
            found.append(
                {
                    "n": n,
                    "x_bytes": n * p * 4,
                    "fit_seconds": seconds,
                    "n_iter": int(model.n_iter_),
                    "peak_device_bytes": peak,
                    "peak_bytes_per_row": peak / n,
                }
            )
            print(
                f"largest-n search: n={n:,} fitted in {seconds:.2f} s, peak {peak / 1e9:.1f} GB",
                flush=True,
            )
        except torch.OutOfMemoryError:
            stop_reason = f"out of device memory at n={n}"
            print(f"largest-n search: {stop_reason}", flush=True)
            break
        finally:
            del X, y
            torch.cuda.empty_cache()
        n = int(n * factor)
    total = torch.cuda.get_device_properties(0).total_memory
    return {"p": p, "fits": found, "stopped": stop_reason, "device_total_bytes": total}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6, 10**7])
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-largest", action="store_true")
    ap.add_argument("--largest-start", type=int, default=50_000_000)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device visible: this benchmark needs a GPU", file=sys.stderr)
        return 2

    def save(result: dict[str, Any]) -> None:
        if args.out:
            with open(args.out, "w") as fh:
                json.dump(result, fh, indent=1)

    result: dict[str, Any] = {
        "alpha": ALPHA,
        "sweep": sweep(torch, args.sizes, args.p, args.repeats, save),
    }
    if not args.no_largest:
        result["largest"] = largest(torch, args.p, args.largest_start, 2.0, args.max_seconds)
    save(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
