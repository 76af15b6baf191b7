"""GPU matrix products behind a GLM fit: GEMM rates by precision and the Gram matrix's roofline.

Measures, on one CUDA device,

* the two ceilings: device-memory bandwidth (a device-to-device copy, bytes
  read + written) and the matrix rate of an 8192^3 product in float64,
  float32 (TF32 off), TF32, bfloat16 and float16 through ``torch.matmul``, and
  in float64/float32 through CuPy's cuBLAS binding; each product is checked
  against NumPy's float64 product on a 2048^2 problem (relative error);
* one pass of the weighted Gram matrix X'WX, as glmlib forms it (row blocks
  scaled by sqrt(w), each block's B'B summed), at n = 1e7 rows and p = 100 and
  p = 1000 columns, in each precision: seconds, TFLOP/s (n p^2 multiply-adds
  counted as 2 n p^2 FLOP), the bandwidth bound (bytes of X / copy bandwidth)
  and the arithmetic bound (FLOP / measured GEMM rate);
* the error of each precision's Gram against float64 on n = 1e6 rows drawn in
  float64 (X rounded to the storage format first, so the error includes it).

Usage::

    python benchmarks/bench_gpu_gram.py --out gram.json           # on a GPU
    python benchmarks/bench_gpu_gram.py --n 200000 --quick        # a short run

Exits with status 2 when PyTorch sees no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np

MODES = ("float64", "float32", "tf32", "bfloat16", "float16")


def _storage(torch: Any, mode: str) -> Any:
    return {
        "float64": torch.float64,
        "float32": torch.float32,
        "tf32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }[mode]


def _matmul(torch: Any, a: Any, b: Any, mode: str) -> Any:
    """a @ b in `mode`; reduced formats accumulate and return float32 where torch allows it."""
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    if mode in ("bfloat16", "float16"):
        try:
            return torch.mm(a, b, out_dtype=torch.float32)
        except (TypeError, RuntimeError):  # older torch: float32 accumulation, rounded output
            return torch.mm(a, b).float()
    return torch.mm(a, b)


def timed(torch: Any, fn: Any, repeats: int, warmup: int = 2) -> float:
    """Median seconds of `fn` over `repeats` runs, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times)


def copy_bandwidth(torch: Any, nbytes: int = 4 << 30) -> float:
    src = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()
    dst = torch.empty_like(src)
    seconds = timed(torch, lambda: dst.copy_(src), repeats=10)
    return 2 * nbytes / seconds


def gemm_rates(torch: Any, size: int, repeats: int) -> dict[str, Any]:
    """TFLOP/s of a size^3 product per precision, and each precision's error at 2048^2."""
    out: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    a64, b64 = rng.standard_normal((2048, 2048)), rng.standard_normal((2048, 2048))
    ref = a64 @ b64
    for mode in MODES:
        dt = _storage(torch, mode)
        a = torch.randn(size, size, device="cuda").to(dt)
        b = torch.randn(size, size, device="cuda").to(dt)
        seconds = timed(torch, lambda a=a, b=b, mode=mode: _matmul(torch, a, b, mode), repeats)
        small = _matmul(
            torch,
            torch.as_tensor(a64, device="cuda").to(dt),
            torch.as_tensor(b64, device="cuda").to(dt),
            mode,
        )
        err = np.linalg.norm(small.double().cpu().numpy() - ref) / np.linalg.norm(ref)
        out[f"torch_{mode}"] = {"tflops": 2 * size**3 / seconds / 1e12, "rel_error": float(err)}
        del a, b
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        import cupy
    except ImportError:
        out["cupy"] = "not installed"
        return out
    for name, dt in (("float64", cupy.float64), ("float32", cupy.float32)):
        a = cupy.random.standard_normal((size, size)).astype(dt)
        b = cupy.random.standard_normal((size, size)).astype(dt)
        for _ in range(2):
            cupy.matmul(a, b)
        cupy.cuda.Device().synchronize()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            cupy.matmul(a, b)
            cupy.cuda.Device().synchronize()
            times.append(time.perf_counter() - t0)
        small = cupy.matmul(cupy.asarray(a64).astype(dt), cupy.asarray(b64).astype(dt))
        err = np.linalg.norm(cupy.asnumpy(small).astype(np.float64) - ref) / np.linalg.norm(ref)
        out[f"cupy_{name}"] = {
            "tflops": 2 * size**3 / statistics.median(times) / 1e12,
            "rel_error": float(err),
        }
        del a, b
    cupy.get_default_memory_pool().free_all_blocks()
    return out


def gram_pass(torch: Any, X: Any, sw: Any, mode: str, block_bytes: int = 1 << 28) -> Any:
    """sum over row blocks of (sqrt(w) X)'(sqrt(w) X) in `mode`, accumulated in float64."""
    n, p = X.shape
    rows = max(4096, block_bytes // (p * X.element_size()))
    g = torch.zeros(p, p, dtype=torch.float64, device="cuda")
    for start in range(0, n, rows):
        block = X[start : start + rows] * sw[start : start + rows, None]
        g += _matmul(torch, block.T.contiguous(), block, mode).double()
    return g


def gram_table(torch: Any, n: int, ps: list[int], bandwidth: float, gemm: dict, repeats: int):
    rows = []
    for p in ps:
        for mode in MODES:
            dt = _storage(torch, mode)
            X = torch.randn(n, p, device="cuda", dtype=torch.float32).to(dt)
            sw = torch.rand(n, device="cuda", dtype=torch.float32).to(dt)
            seconds = timed(
                torch, lambda X=X, sw=sw, m=mode: gram_pass(torch, X, sw, m), repeats, 1
            )
            x_bytes = X.numel() * X.element_size()
            flops = 2.0 * n * p * p
            rows.append(
                {
                    "n": n,
                    "p": p,
                    "mode": mode,
                    "seconds": seconds,
                    "tflops": flops / seconds / 1e12,
                    "x_bytes": x_bytes,
                    "bandwidth_bound_seconds": x_bytes / bandwidth,
                    "arithmetic_bound_seconds": flops / (gemm[f"torch_{mode}"]["tflops"] * 1e12),
                }
            )
            print(
                f"gram n={n:.0e} p={p:5d} {mode:9s} {seconds * 1e3:9.2f} ms "
                f"{rows[-1]['tflops']:7.1f} TFLOP/s  (X read once: {x_bytes / bandwidth * 1e3:.2f} ms)",
                flush=True,
            )
            del X, sw
            torch.cuda.empty_cache()
    torch.backends.cuda.matmul.allow_tf32 = False
    return rows


def gram_errors(torch: Any, n: int, p: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    X64 = torch.as_tensor(rng.standard_normal((n, p)), device="cuda")
    sw64 = torch.as_tensor(np.sqrt(rng.uniform(0.05, 0.25, n)), device="cuda")
    ref = gram_pass(torch, X64, sw64, "float64")
    out = {}
    for mode in MODES:
        dt = _storage(torch, mode)
        g = gram_pass(torch, X64.to(dt), sw64.to(dt), mode)
        out[mode] = float(torch.linalg.norm(g - ref) / torch.linalg.norm(ref))
    torch.backends.cuda.matmul.allow_tf32 = False
    return out


def design_gram_rows(torch: Any, n: int, ps: list[int], repeats: int) -> list[dict[str, Any]]:
    """glmlib's own Gram (DenseDesign.gram, float64 weights) in float32 and float64 X.

    (A batched variant, 1024-8192-row groups in one batched product, was
    measured on the H200 at commit 43f0080 and was no faster: 13.1 ms against
    11.1 ms at n = 1e7, p = 100, float32; benchmarks/README.md.)
    """
    from glmlib._backend import resolve_backend
    from glmlib.design.make import make_design

    backend = resolve_backend("torch", "cuda")
    rows = []
    for p in ps:
        for dt in (torch.float32, torch.float64):
            X = torch.randn(n, p, device="cuda", dtype=dt)
            d = torch.rand(n, device="cuda", dtype=torch.float64)
            design = make_design(X, backend)
            seconds = timed(torch, lambda design=design, d=d: design.gram(d), repeats, 1)
            rows.append({"n": n, "p": p, "dtype": str(dt), "seconds": seconds})
            print(f"design.gram n={n:.0e} p={p} {dt}: {seconds * 1e3:.2f} ms", flush=True)
            del X, d, design
            torch.cuda.empty_cache()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--p", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--gemm-size", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--design-only", action="store_true", help="only glmlib's own Gram")
    ap.add_argument("--out", help="write the results as JSON")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device visible: this benchmark needs a GPU", file=sys.stderr)
        return 2
    if args.design_only:
        result = {"design_gram": design_gram_rows(torch, args.n, args.p, args.repeats)}
        if args.out:
            with open(args.out, "w") as fh:
                json.dump(result, fh, indent=1)
        return 0
    bandwidth = copy_bandwidth(torch)
    print(f"{torch.cuda.get_device_name()}: copy bandwidth {bandwidth / 1e12:.2f} TB/s", flush=True)
    gemm = gemm_rates(torch, args.gemm_size, args.repeats)
    for key, val in gemm.items():
        print(f"gemm {args.gemm_size}^3 {key:16s} {val}", flush=True)
    result: dict[str, Any] = {
        "copy_bandwidth_bytes_per_s": bandwidth,
        "gemm_size": args.gemm_size,
        "gemm": gemm,
        "gram": gram_table(torch, args.n, args.p, bandwidth, gemm, args.repeats),
        "gram_error_vs_float64": {
            str(p): gram_errors(torch, min(args.n, 1_000_000), p) for p in args.p
        },
    }
    print("gram relative error vs float64:", result["gram_error_vs_float64"], flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
