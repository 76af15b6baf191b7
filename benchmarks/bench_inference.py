"""CPU inference: glmlib's ``model.predict`` (NumPy) against the ONNX export in ONNX Runtime.

One logistic GLM with p = 50 (fitted on ``make_glm(20_000, 50, "binomial",
random_state=0)``) predicts the mean for batches of 1, 100, 1e4 and 1e6 rows
(N(0, 1) features, float64). Runners, each with 1 thread and with every core:

* ``numpy``: ``model.predict(X)`` on float64 X: input validation, the BLAS
  product (OpenBLAS threads set with threadpoolctl, outside the timed
  call) and the inverse link;
* ``ort-f64`` / ``ort-f32``: ``session.run(["mu"], feed)`` of
  ``glmlib.export.to_onnx(model, "float64" / "float32")`` on ONNX Runtime's
  CPU provider (``intra_op_num_threads`` = 1 or the core count,
  ``inter_op_num_threads`` = 1, other options at their defaults), the feed
  built once beforehand (``onnx_feed``; for float32 that includes the
  conversion of X, which is not timed).

For each batch size the runners are interleaved (every runner once per
repeat: the 1-thread runners, then the all-core ones, each group in a
rotated order); the latency is the median of the repeats and
the throughput is rows / median latency. Every runner's means are checked
against ``model.predict`` (largest relative difference in the JSON).

With ``--torch`` the same model also runs in PyTorch (on ``--device``:
the CPU, or a GPU where ONNX Runtime's GPU build and TensorRT are not
installed): ``torch-f64`` / ``torch-f32`` eager (``X @ coef + b`` and the
link's inverse under ``torch.inference_mode``, X already a tensor on the
device), ``torch-compile-f32`` (``torch.compile`` of that module; skipped with
the reason when compilation fails) and, on CUDA, ``torch-cudagraph-f32`` (the
eager call captured once per batch size as a CUDA graph, replayed on a static
input). GPU calls end with ``torch.cuda.synchronize()`` inside the timing; the
input is already on the device and the output stays there. On the CPU, torch
runners get the group's thread count with ``torch.set_num_threads``.

Usage::

    python benchmarks/bench_inference.py                      # full run (about 20 s on 2 cores)
    python benchmarks/bench_inference.py --quick              # batches up to 1e4, few repeats
    python benchmarks/bench_inference.py --torch --out benchmarks/results/bench_inference_torch.json
    python benchmarks/bench_inference.py --torch --device cuda --out gpu_inference.json
    python benchmarks/bench_inference.py --out benchmarks/results/bench_inference.json --markdown
    python benchmarks/bench_inference.py --from-json benchmarks/results/bench_inference.json --markdown
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import onnxruntime as ort
except ImportError:  # a GPU image without it: the ORT runners are named as not measured
    ort = None
from threadpoolctl import threadpool_info, threadpool_limits

import glmlib
from glmlib import GLM
from glmlib._backend import to_numpy
from glmlib.datasets import make_glm
from glmlib.export import onnx_feed, to_onnx

P = 50
BATCHES = (1, 100, 10_000, 1_000_000)
# repeats per batch size: many for the short calls, few for the 1e6-row ones
REPEATS = {1: 301, 100: 301, 10_000: 51, 1_000_000: 15}
QUICK_REPEATS = {1: 31, 100: 31, 10_000: 5}


def fit_model() -> GLM:
    X, y, _ = make_glm(20_000, P, "binomial", random_state=0)
    return GLM(family="binomial").fit(X, y)


def ort_session(model: GLM, dtype: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    proto = to_onnx(model, dtype)
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


class TorchPredictor:
    """``model.predict`` as a torch module: mu = g^{-1}(X @ coef + intercept)."""

    def __new__(cls, model: GLM, dtype: Any, device: str) -> Any:
        import torch

        link = model._family().link

        class _Predictor(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.register_buffer(
                    "coef", torch.as_tensor(model.coef_, dtype=dtype, device=device)
                )
                self.register_buffer(
                    "intercept", torch.as_tensor(model.intercept_, dtype=dtype, device=device)
                )

            def forward(self, X: Any) -> Any:
                return link.inverse(X @ self.coef + self.intercept)

        return _Predictor().eval()


_COMPILED: dict[str, Any] = {}


def torch_runners(
    model: GLM, X: np.ndarray, threads: int, device: str
) -> tuple[dict[str, Callable[[], Any]], dict[str, str]]:
    """PyTorch runners for one thread count, and the reasons of those that could not run."""
    import torch

    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    out: dict[str, Callable[[], Any]] = {}
    skipped: dict[str, str] = {}
    tag = "-cuda" if cuda else ""

    def timed(fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with torch.inference_mode():
                mu = fn()
            sync()
            return mu

        return call

    for dtype in (torch.float64, torch.float32):
        bits = "64" if dtype == torch.float64 else "32"
        module = TorchPredictor(model, dtype, device)
        Xt = torch.as_tensor(X, dtype=dtype, device=device)
        out[f"torch{tag}-f{bits} {threads}t"] = timed(lambda m=module, Xt=Xt: m(Xt))
        if dtype != torch.float32:
            continue
        name = f"torch-compile{tag}-f32 {threads}t"
        try:
            if "f32" not in _COMPILED:
                _COMPILED["f32"] = torch.compile(module)
            compiled = _COMPILED["f32"]
            with torch.inference_mode():
                compiled(Xt)  # compile for this shape, untimed
            out[name] = timed(lambda c=compiled, Xt=Xt: c(Xt))
        except Exception as exc:  # noqa: BLE001 - "where it works": the reason is recorded
            skipped[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        if cuda:
            name = f"torch-cudagraph-f32 {threads}t"
            try:
                static_X = Xt.clone()
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream), torch.inference_mode():
                    for _ in range(3):  # warm-up on a side stream, as capture requires
                        module(static_X)
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph), torch.inference_mode():
                    static_mu = module(static_X)

                def replay(graph: Any = graph, static_mu: Any = static_mu) -> Any:
                    graph.replay()
                    return static_mu

                out[name] = timed(replay)
            except Exception as exc:  # noqa: BLE001
                skipped[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return out, skipped


def runners(model: GLM, X: np.ndarray, threads: int) -> dict[str, Callable[[], Any]]:
    """name -> a call returning the means of X, for one thread count.

    The NumPy runner's BLAS thread count is set by the caller around the
    timed calls (entering ``threadpool_limits`` costs about a millisecond).
    """
    out: dict[str, Callable[[], Any]] = {f"numpy {threads}t": lambda: model.predict(X)}
    if ort is None:
        return out
    for dtype in ("float64", "float32"):
        sess = ort_session(model, dtype, threads)
        feed = onnx_feed(model, X, dtype=dtype)

        def ort_run(sess: Any = sess, feed: dict = feed) -> Any:
            return sess.run(["mu"], feed)[0]

        out[f"ort-f{dtype[-2:]} {threads}t"] = ort_run
    return out


def measure(
    model: GLM,
    batches: tuple[int, ...],
    repeats: dict[int, int],
    torch_device: str | None = None,
    skipped: dict[str, str] | None = None,
) -> list[dict]:
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    rng = np.random.default_rng(1)
    rows = []
    set_threads = _torch_threads if torch_device is not None else (lambda t: None)
    for n in batches:
        X = rng.normal(size=(n, P))
        ref = model.predict(X)
        groups = {t: runners(model, X, t) for t in thread_counts}
        if torch_device is not None:
            # A GPU's runners do not depend on the host's thread count: one group has them.
            for t in thread_counts[:1] if torch_device.startswith("cuda") else thread_counts:
                set_threads(t)
                calls, why = torch_runners(model, X, t, torch_device)
                groups[t].update(calls)
                if skipped is not None:
                    skipped.update({name.rsplit(" ", 1)[0]: reason for name, reason in why.items()})
        times: dict[str, list[float]] = {}
        max_rel_diff: dict[str, float] = {}
        for t, calls in groups.items():
            set_threads(t)
            with threadpool_limits(limits=t, user_api="blas"):
                for name, call in calls.items():  # untimed warm-up, and the correctness check
                    mu = np.asarray(to_numpy(call()), dtype=np.float64)
                    max_rel_diff[name] = float(np.max(np.abs(mu / ref - 1.0)))
                    times[name] = []
        for r in range(repeats[n]):
            for t, calls in groups.items():
                names = list(calls)
                order = names[r % len(names) :] + names[: r % len(names)]
                set_threads(t)
                with threadpool_limits(limits=t, user_api="blas"):
                    for name in order:
                        start = time.perf_counter()
                        calls[name]()
                        times[name].append(time.perf_counter() - start)
        for name, ts in times.items():
            median = statistics.median(ts)
            rows.append(
                {
                    "batch": n,
                    "runner": name,
                    "repeats": repeats[n],
                    "median_s": median,
                    "min_s": min(ts),
                    "rows_per_s": n / median,
                    "max_rel_diff_vs_predict": max_rel_diff[name],
                }
            )
        print(f"batch {n:>9,}: done (load average {os.getloadavg()[0]:.2f})", file=sys.stderr)
    return rows


def _torch_threads(t: int) -> None:
    import torch

    if torch.get_num_threads() != t:
        torch.set_num_threads(t)


def environment() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(l.split(":", 1)[1].strip() for l in fh if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = subprocess.run(
        ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    blas = [f"{i['internal_api']} {i['version']}" for i in threadpool_info()]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit or "unknown",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "glmlib": glmlib.__version__,
        "numpy": np.__version__,
        "onnxruntime": ort.__version__ if ort is not None else "not installed",
        "blas": blas,
        "loadavg_at_start": os.getloadavg(),
    }


def table(rows: list[dict], markdown: bool) -> str:
    head = ["batch", "runner", "latency (median)", "rows/s", "vs numpy same threads"]
    base = {
        (r["batch"], r["runner"].split()[-1]): r["median_s"] for r in rows if "numpy" in r["runner"]
    }
    lines = []
    for r in rows:
        ratio = base[(r["batch"], r["runner"].split()[-1])] / r["median_s"]
        lat = r["median_s"]
        lat_s = f"{lat * 1e6:.1f} us" if lat < 1e-3 else f"{lat * 1e3:.2f} ms"
        lines.append(
            [f"{r['batch']:,}", r["runner"], lat_s, f"{r['rows_per_s']:.3g}", f"{ratio:.2f}x"]
        )
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|"]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    return "\n".join("  ".join(f"{c:>20}" for c in line) for line in [head, *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="batches up to 1e4, few repeats")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--from-json", help="print the table of an earlier run")
    parser.add_argument("--torch", action="store_true", help="add the PyTorch runners")
    parser.add_argument("--device", default="cpu", help="where the PyTorch runners run")
    args = parser.parse_args()
    if args.from_json:
        with open(args.from_json) as fh:
            report = json.load(fh)
    else:
        batches = BATCHES[:3] if args.quick else BATCHES
        repeats = QUICK_REPEATS if args.quick else REPEATS
        env = environment()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit_model()
        start = time.perf_counter()
        skipped: dict[str, str] = {}
        if ort is None:
            skipped["ort"] = "onnxruntime is not installed"
        rows = measure(model, batches, repeats, args.device if args.torch else None, skipped)
        env["loadavg_at_end"] = os.getloadavg()
        env["seconds"] = round(time.perf_counter() - start, 1)
        if args.torch:
            import torch

            env["torch"] = torch.__version__
            env["torch_device"] = args.device
            if args.device.startswith("cuda"):
                env["gpu"] = torch.cuda.get_device_name(0)
        report = {
            "environment": env,
            "model": repr(model),
            "p": P,
            "rows": rows,
            "not_measured": skipped,
        }
        if args.out:
            with open(args.out, "w") as fh:
                json.dump(report, fh, indent=1)
    env = report["environment"]
    print(
        f"{env['date']}, commit {env['commit']}, {env['cpu']}, {env['cores']} cores, "
        f"load average {env['loadavg_at_start']} -> {env.get('loadavg_at_end')}"
    )
    print(table(report["rows"], args.markdown))


if __name__ == "__main__":
    main()
