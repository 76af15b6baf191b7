"""Streaming X from host memory (``GLM(stream_chunk_rows=k)``): its cost and its throughput.

CPU (``--device cpu``, the default): a logistic fit and one Gram pass,
in memory and streamed at several chunk sizes, best of ``--repeats``; the
overhead is the streamed time over the in-memory time (on the CPU the
"device" is host memory, so this is the cost of the extra copy into the two
buffers and of the per-chunk products). One BLAS thread unless ``--threads``
says otherwise.

GPU (``--device cuda``; ``make gpu-check`` runs it):

1. the host-to-device bandwidth: the best of a few page-locked copies of 1 GiB;
2. a Gram pass of a streamed X (float32, n x p) and a copy-only pass, as
   bytes of X per second and as a fraction of that bandwidth;
3. an artificial device-memory cap (``torch.cuda.set_per_process_memory_fraction``:
   the lent H200 has more device memory than the machine has host memory, so
   X cannot be larger than the device without it): X is larger than the cap,
   the in-memory fit runs out of memory and the streamed fit is timed and
   compared with the in-memory fit of the same data without the cap;
4. if CuPy is installed, the same Gram pass over X in CUDA managed (unified)
   memory: the first pass (pages migrate on demand), a second pass (pages
   now on the device), and a pass with the pages advised to stay on the host.
   The torch cap does not limit CuPy's allocations: the managed X fits on the
   device here, which the README says.

Usage::

    python benchmarks/bench_streaming.py --device cpu --n 200000 --p 50 --out cpu.json
    python benchmarks/bench_streaming.py --device cuda --n 10000000 --p 100 --cap-gib 3 --out gpu.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import apply_thread_limit  # noqa: E402

# One BLAS thread on the CPU unless --threads says otherwise (set before NumPy loads).
if "cuda" not in sys.argv:
    _has_threads = any(a.startswith("--threads") for a in sys.argv)
    apply_thread_limit(sys.argv if _has_threads else [*sys.argv, "--threads", "1"])

import argparse  # noqa: E402
import ctypes  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import glmlib  # noqa: E402
from glmlib._backend import Backend  # noqa: E402
from glmlib.design.dense import DenseDesign  # noqa: E402
from glmlib.design.streamed import StreamedDesign  # noqa: E402

GIB = 1 << 30


def best_of(fn: Any, repeats: int, sync: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best, out


def logistic_data(n: int, p: int, seed: int = 0, dtype: Any = np.float64) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(dtype)
    eta = X @ rng.uniform(-1, 1, p).astype(dtype) / np.sqrt(p)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    return X, y


def cpu_run(args: argparse.Namespace) -> dict[str, Any]:
    X, y = logistic_data(args.n, args.p)
    backend = Backend("numpy", "cpu")
    d = np.random.default_rng(1).uniform(0.1, 0.25, args.n)
    none = lambda: None  # noqa: E731
    glmlib.GLM("binomial", stream_chunk_rows=1_000).fit(X[:5_000], y[:5_000])  # compile, warm up
    gram_mem, g_ref = best_of(lambda: DenseDesign(X, backend).gram(d), args.repeats, none)
    fit_mem, ref = best_of(lambda: glmlib.GLM("binomial").fit(X, y), args.repeats, none)
    rows = [{"chunk_rows": None, "gram_s": gram_mem, "fit_s": fit_mem, "n_iter": int(ref.n_iter_)}]
    print(f"in memory        gram {gram_mem:.4f} s  fit {fit_mem:.3f} s ({ref.n_iter_} it)")
    for k in args.chunks:
        design = StreamedDesign(X, backend, k)
        gram_s, g = best_of(lambda design=design: design.gram(d), args.repeats, none)
        fit_s, model = best_of(
            lambda k=k: glmlib.GLM("binomial", stream_chunk_rows=k).fit(X, y), args.repeats, none
        )
        err = float(np.max(np.abs(model.coef_ - ref.coef_)) / np.max(np.abs(ref.coef_)))
        gerr = float(np.max(np.abs(g - g_ref)) / np.max(np.abs(g_ref)))
        rows.append(
            {
                "chunk_rows": k,
                "gram_s": gram_s,
                "fit_s": fit_s,
                "gram_overhead": gram_s / gram_mem,
                "fit_overhead": fit_s / fit_mem,
                "n_iter": int(model.n_iter_),
                "coef_rel_error": err,
                "gram_rel_error": gerr,
            }
        )
        print(
            f"chunk {k:>9,d}  gram {gram_s:.4f} s ({gram_s / gram_mem:.2f}x)  "
            f"fit {fit_s:.3f} s ({fit_s / fit_mem:.2f}x)  coef error {err:.1e}",
            flush=True,
        )
    return {"rows": rows}


def h2d_bandwidth(torch: Any, repeats: int = 5) -> float:
    """Bytes per second of a page-locked 1 GiB host-to-device copy (best of ``repeats``)."""
    src = torch.empty(GIB, dtype=torch.uint8).pin_memory()
    dst = torch.empty(GIB, dtype=torch.uint8, device="cuda")
    seconds, _ = best_of(lambda: dst.copy_(src, non_blocking=True), repeats, torch.cuda.synchronize)
    return GIB / seconds


def gpu_data(torch: Any, n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 X and binary y generated on the GPU in blocks and gathered on the host."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    beta = torch.rand(p, device="cuda", generator=gen) * 2 - 1
    X = np.empty((n, p), dtype=np.float32)
    y = np.empty(n, dtype=np.float64)
    block = max(1, (256 << 20) // (4 * p))
    for s in range(0, n, block):
        e = min(n, s + block)
        Xb = torch.randn(e - s, p, device="cuda", generator=gen)
        eta = (Xb @ beta) / p**0.5
        u = torch.rand(e - s, device="cuda", generator=gen)
        X[s:e] = Xb.cpu().numpy()
        y[s:e] = (u < torch.sigmoid(eta)).double().cpu().numpy()
    return X, y


def gpu_run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    sync = torch.cuda.synchronize
    out: dict[str, Any] = {}
    bw = h2d_bandwidth(torch)
    out["h2d_bytes_per_s"] = bw
    print(f"host-to-device (pinned, 1 GiB): {bw / 1e9:.1f} GB/s", flush=True)
    X, y = gpu_data(torch, args.n, args.p)
    x_bytes = X.nbytes
    out.update(n=args.n, p=args.p, dtype="float32", x_bytes=x_bytes, chunk_rows=args.chunk)
    backend = Backend("torch", "cuda")
    design = StreamedDesign(X, backend, args.chunk)
    d = torch.full((args.n,), 0.2, dtype=torch.float64, device="cuda")
    gram_s, _ = best_of(lambda: design.gram(d), args.repeats, sync)
    copy_s, _ = best_of(lambda: [None for _ in design.chunks()], args.repeats, sync)
    out["stream"] = {
        "gram_pass_s": gram_s,
        "copy_pass_s": copy_s,
        "gram_bytes_per_s": x_bytes / gram_s,
        "copy_bytes_per_s": x_bytes / copy_s,
        "gram_fraction_of_h2d": x_bytes / gram_s / bw,
        "copy_fraction_of_h2d": x_bytes / copy_s / bw,
    }
    print(
        f"streamed Gram pass: {gram_s:.3f} s = {x_bytes / gram_s / 1e9:.1f} GB/s "
        f"({x_bytes / gram_s / bw:.0%} of H2D); copies alone {x_bytes / copy_s / bw:.0%}",
        flush=True,
    )
    # The in-memory fit without a cap, as the reference.
    try:
        t_mem, ref = best_of(lambda: glmlib.GLM("binomial", device="cuda").fit(X, y), 1, sync)
        out["in_memory_uncapped"] = {"fit_s": t_mem, "n_iter": int(ref.n_iter_)}
        ref_coef: np.ndarray | None = ref.coef_
        del ref
    except torch.cuda.OutOfMemoryError as exc:
        out["in_memory_uncapped"] = {"error": f"out of memory: {str(exc)[:200]}"}
        ref_coef = None
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    fraction = args.cap_gib * GIB / total
    torch.cuda.set_per_process_memory_fraction(fraction)
    out["cap"] = {
        "bytes": args.cap_gib * GIB,
        "fraction": fraction,
        "x_over_cap": x_bytes / (args.cap_gib * GIB),
    }
    print(f"device memory capped at {args.cap_gib} GiB; X is {x_bytes / GIB:.2f} GiB", flush=True)
    try:
        glmlib.GLM("binomial", device="cuda").fit(X, y)
        out["cap"]["in_memory"] = "fitted (X fitted under the cap: raise n or lower --cap-gib)"
    except torch.cuda.OutOfMemoryError:
        out["cap"]["in_memory"] = "out of memory"
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    try:
        t_stream, model = best_of(
            lambda: glmlib.GLM("binomial", device="cuda", stream_chunk_rows=args.chunk).fit(X, y),
            1,
            sync,
        )
        out["cap"]["streamed"] = {
            "fit_s": t_stream,
            "n_iter": int(model.n_iter_),
            "peak_device_bytes": int(torch.cuda.max_memory_allocated()),
            "coef_rel_error_vs_uncapped": None
            if ref_coef is None
            else float(np.max(np.abs(model.coef_ - ref_coef)) / np.max(np.abs(ref_coef))),
        }
    except torch.cuda.OutOfMemoryError as exc:  # recorded: the cap was too tight for the chunks
        out["cap"]["streamed"] = {
            "error": f"out of memory: {str(exc)[:200]}",
            "peak_device_bytes": int(torch.cuda.max_memory_allocated()),
        }
    print(
        f"capped: in memory {out['cap']['in_memory']}; streamed {out['cap']['streamed']}",
        flush=True,
    )
    torch.cuda.set_per_process_memory_fraction(1.0)
    design._buffers.clear()  # the streamed design's device buffers
    torch.cuda.empty_cache()
    out["managed"] = managed_run(X, args) if not args.no_cupy else "skipped (--no-cupy)"
    return out


def managed_run(X: np.ndarray, args: argparse.Namespace) -> Any:
    """The same Gram pass over X in CUDA managed memory through CuPy (None-safe: any error is recorded)."""
    try:
        import cupy as cp
    except ImportError:
        return "not measured: CuPy is not installed"
    try:
        n, p = X.shape
        mem = cp.cuda.malloc_managed(X.nbytes)
        Xm = cp.ndarray(X.shape, dtype=X.dtype, memptr=mem)
        # Fill through the host mapping: the pages start on the host.
        pointer = ctypes.cast(mem.ptr, ctypes.POINTER(ctypes.c_float))
        host_view = np.ctypeslib.as_array(pointer, shape=X.shape)
        host_view[...] = X
        sqrt_d = cp.full(n, 0.2**0.5, dtype=cp.float32)
        block = args.chunk

        def gram() -> Any:
            g = cp.zeros((p, p), dtype=cp.float64)
            for s in range(0, n, block):
                B = Xm[s : s + block] * sqrt_d[s : s + block, None]
                g += (B.T @ B).astype(cp.float64)
            return g

        sync = cp.cuda.Device().synchronize
        first, _ = best_of(gram, 1, sync)
        second, _ = best_of(gram, args.repeats, sync)
        result = {
            "first_pass_s": first,
            "resident_pass_s": second,
            "first_pass_bytes_per_s": X.nbytes / first,
        }
        # Advise the pages to live on the host: the GPU then reads them over the bus.
        try:
            rt = cp.cuda.runtime
            rt.memAdvise(mem.ptr, X.nbytes, 3, -1)  # cudaMemAdviseSetPreferredLocation, cpu
            host_view[...] = X  # touch on the host: pages migrate back
            advised, _ = best_of(gram, 1, sync)
            result["host_preferred_pass_s"] = advised
        except Exception as exc:  # noqa: BLE001 - the advice API differs between CUDA versions
            result["host_preferred_pass_s"] = f"not measured: {type(exc).__name__}: {exc}"[:300]
        print(f"managed memory (CuPy): {result}", flush=True)
        return result
    except Exception as exc:  # noqa: BLE001 - a measurement that failed is recorded, not fatal
        return f"not measured: {type(exc).__name__}: {exc}"[:300]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--p", type=int, default=None)
    ap.add_argument("--chunks", type=int, nargs="+", default=[2_000, 10_000, 50_000])
    ap.add_argument("--chunk", type=int, default=250_000, help="rows per chunk on the GPU")
    ap.add_argument("--cap-gib", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default=None)
    ap.add_argument("--no-cupy", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device visible: pass --device cpu", file=sys.stderr)
            return 2
        args.n = args.n or 10_000_000
        args.p = args.p or 100
        result = gpu_run(args)
    else:
        args.n = args.n or 200_000
        args.p = args.p or 50
        result = cpu_run(args)
        result.update(n=args.n, p=args.p, repeats=args.repeats)
    result["meta"] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "device": args.device,
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads or ("1" if args.device == "cpu" else "default"),
        "glmlib": glmlib.__version__,
    }
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
