"""GPU benchmark of the GLM engine: Newton iterations against the memory-bandwidth bound.

Issue 2's GPU problem: logistic regression, n = 1e7 rows, p = 100 float32
features (X is 4 GB), fitted by ``glmlib.GLM(device="cuda")``. Reports

* the time per Newton iteration, measured two ways: the whole fit divided by
  its iterations (set-up and post-fit statistics included), and the core of
  one iteration alone (working weights, gradient X'v, Gram X'WX, X @ step and
  one objective evaluation, timed with CUDA synchronisation);
* the memory-bandwidth bound: the bytes of X divided by the device's
  bandwidth, measured here with a device-to-device copy of a 2 GB buffer
  (read + write); an iteration that reads X once at that bandwidth would take
  exactly the bound, so "fraction of bound" = bound / measured time
  (the issue's target: >= 50%);
* optionally (``--glum``) glum on the same data on this machine's CPUs, and
  glmlib on the CPU, for the speed-up.

Usage::

    python benchmarks/bench_gpu.py                        # the issue's problem on CUDA
    python benchmarks/bench_gpu.py --glum --cpu           # plus glum and glmlib on the CPUs
    python benchmarks/bench_gpu.py --device cpu --n 200000 --p 50   # smoke test without a GPU
    python benchmarks/bench_gpu.py --out gpu.json

Without CUDA and without ``--device cpu`` it exits with status 2 and says so.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _threads import apply_thread_limit  # noqa: E402  (before NumPy loads)

if __name__ == "__main__":
    apply_thread_limit(sys.argv)

import numpy as np  # noqa: E402

import glmlib  # noqa: E402
from glmlib._backend import resolve_backend  # noqa: E402
from glmlib.design.make import make_design  # noqa: E402
from glmlib.families import get_family  # noqa: E402
from glmlib.solver.problem import Problem  # noqa: E402


def make_data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X ~ N(0, 1) float32, y ~ Bernoulli(logistic(0.3 + X beta)) with sd(eta) about 1.5."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), dtype=np.float32)
    block = 1_000_000
    for start in range(0, n, block):  # in blocks: a float64 n x p temporary would be 8 GB
        X[start : start + block] = rng.standard_normal((min(block, n - start), p), dtype=np.float32)
    beta = rng.uniform(-1.0, 1.0, p) * 1.5 / np.sqrt(p / 3.0)
    eta = 0.3 + X @ beta.astype(np.float32)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return X, y


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def copy_bandwidth(device: str, nbytes: int = 2 << 30, repeats: int = 5) -> float:
    """Device memory bandwidth in bytes/s from a device-to-device copy (read + write)."""
    import torch

    n = nbytes // 4
    src = torch.empty(n, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        dst.copy_(src)
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def iteration_core(X: Any, y: Any, device: str, repeats: int) -> float:
    """Best time of one Newton iteration's passes over X on the device (seconds)."""
    import torch

    backend = resolve_backend("torch", device)
    design = make_design(X, backend)
    n = design.n
    prob = Problem(
        design=design,
        y=backend.asarray(y, dtype=np.float64),
        weights=backend.asarray(np.full(n, 1.0 / n), dtype=np.float64),
        offset=backend.asarray(np.zeros(n), dtype=np.float64),
        family=get_family("binomial"),
        l1=backend.asarray(np.zeros(design.p), dtype=np.float64),
        l2=backend.asarray(np.zeros(design.p), dtype=np.float64),
        backend=backend,
    )
    theta = torch.zeros(design.p + 1, dtype=torch.float64, device=device)
    l1, l2 = prob.penalties()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        eta = prob.eta(theta)
        _, score, fisher = prob.working_weights(eta)
        grad = prob.gradient(score)
        hess = design.gram(fisher)
        step, _ = backend.cholesky_solve(hess, -grad)
        x_step = design.matvec(step[1:]) + step[0]
        prob.objective(eta + x_step, theta + step, l1, l2)
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def objective(X: np.ndarray, y: np.ndarray, intercept: float, coef: np.ndarray, pen: dict) -> float:
    """Mean logistic loss (half the mean deviance) plus the elastic-net penalty, as glum's."""
    eta = (X @ coef.astype(np.float32)).astype(np.float64) + intercept
    loss = float(np.mean(np.logaddexp(0.0, eta) - y * eta))
    a, r = pen["alpha"], pen["l1_ratio"]
    return loss + a * (r * np.abs(coef).sum() + (1 - r) / 2 * float(coef @ coef))


def timed_fit(make: Any, X: Any, y: np.ndarray, device: str) -> dict[str, Any]:
    """Fit once; on CUDA also the fit's device memory above what was allocated before it.

    That extra is issue 13's memory measure on the GPU (target: at most 20% of X's
    bytes); X is already on the device, so it is not counted.
    """
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    synchronize(device)
    t0 = time.perf_counter()
    model = make().fit(X, y)
    synchronize(device)
    seconds = time.perf_counter() - t0
    extra = torch.cuda.max_memory_allocated(device) - before if cuda else None
    return {
        "extra_device_bytes": extra,
        "seconds": seconds,
        "n_iter": int(model.n_iter_),
        "coef": np.asarray(model.coef_),
        "intercept": float(model.intercept_),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--device", default="cuda", help='"cuda", "cuda:1" or "cpu" (smoke test)')
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--glum", action="store_true", help="also time glum on the CPUs")
    ap.add_argument(
        "--glum-tol", type=float, default=None, help="glum's gradient_tol (default: glum's own)"
    )
    ap.add_argument("--cpu", action="store_true", help="also time glmlib (NumPy) on the CPUs")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (set before NumPy)")
    ap.add_argument("--alpha", type=float, default=0.0, help="penalty strength (as GLM's)")
    ap.add_argument("--l1-ratio", type=float, default=0.0, help="0 = ridge, 1 = lasso")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device visible: run on a GPU machine, or pass --device cpu", file=sys.stderr)
        return 2
    penalty = {"alpha": args.alpha, "l1_ratio": args.l1_ratio}
    X, y = make_data(args.n, args.p, args.seed)
    nbytes = X.nbytes
    print(f"logistic, n={args.n:,}, p={args.p}, float32 X = {nbytes / 1e9:.2f} GB, {args.device}")
    result: dict[str, Any] = {
        "n": args.n,
        "p": args.p,
        "x_bytes": nbytes,
        **penalty,
        "device": args.device,
        "device_name": torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else platform.processor() or platform.machine(),
        "versions": {"glmlib": glmlib.__version__, "torch": torch.__version__},
    }
    Xd = torch.as_tensor(X, device=args.device)  # X moves to the device once
    core = iteration_core(Xd, y, args.device, args.repeats)
    fits = [
        timed_fit(lambda: glmlib.GLM("binomial", **penalty, device=args.device), Xd, y, args.device)
        for _ in range(args.repeats)
    ]
    best = min(fits, key=lambda r: r["seconds"])
    result.update(
        core_iteration_seconds=core,
        fit_seconds=best["seconds"],
        fit_iterations=best["n_iter"],
        fit_seconds_per_iteration=best["seconds"] / max(best["n_iter"], 1),
        fit_extra_device_bytes=best["extra_device_bytes"],
        objective=objective(X, y, best["intercept"], best["coef"], penalty),
    )
    print(f"one Newton iteration (core, best of {args.repeats}): {core * 1e3:.1f} ms")
    print(
        f"whole fit: {best['seconds']:.2f} s, {best['n_iter']} iterations, "
        f"{result['fit_seconds_per_iteration'] * 1e3:.1f} ms per iteration"
    )
    if best["extra_device_bytes"] is not None:
        extra = best["extra_device_bytes"]
        print(f"device memory of the fit above X: {extra / 1e6:.0f} MB ({extra / nbytes:.0%} of X)")
    if args.device.startswith("cuda"):
        bandwidth = copy_bandwidth(args.device)
        bound = nbytes / bandwidth
        result.update(
            copy_bandwidth_bytes_per_s=bandwidth,
            bandwidth_bound_seconds=bound,
            fraction_of_bound_core=bound / core,
            fraction_of_bound_fit=bound / result["fit_seconds_per_iteration"],
        )
        print(
            f"device copy bandwidth {bandwidth / 1e12:.2f} TB/s; one read of X takes "
            f"{bound * 1e3:.1f} ms: core iteration at {bound / core:.0%} of that bound, "
            f"whole-fit iteration at {result['fraction_of_bound_fit']:.0%} (target >= 50%)"
        )
    if args.cpu:
        cpu = timed_fit(lambda: glmlib.GLM("binomial", **penalty), X, y, "cpu")
        result["glmlib_cpu_seconds"] = cpu["seconds"]
        result["max_coef_difference_vs_glmlib_cpu"] = float(
            np.max(np.abs(cpu["coef"] - best["coef"]))
        )
        print(f"glmlib on the CPUs: {cpu['seconds']:.2f} s ({cpu['n_iter']} iterations)")
    if args.glum:
        import glum

        t0 = time.perf_counter()
        # glum's own default tolerance: at 1e-8 it fails its line search on float32 X.
        ref = glum.GeneralizedLinearRegressor(
            family="binomial", **penalty, gradient_tol=args.glum_tol
        )
        ref.fit(X, y)
        glum_seconds = time.perf_counter() - t0
        gap = float(np.max(np.abs(ref.coef_ - best["coef"])))
        result.update(
            glum_cpu_seconds=glum_seconds,
            max_coef_difference_vs_glum=gap,
            glum_objective=objective(X, y, float(ref.intercept_), ref.coef_, penalty),
            speedup_vs_glum=glum_seconds / best["seconds"],
        )
        print(
            f"glum on the CPUs: {glum_seconds:.2f} s; speed-up of glmlib on {args.device}: "
            f"{glum_seconds / best['seconds']:.1f}x; max |coef difference| {gap:.1e}"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
