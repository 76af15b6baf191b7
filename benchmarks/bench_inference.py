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

Usage::

    python benchmarks/bench_inference.py                      # full run (about 20 s on 2 cores)
    python benchmarks/bench_inference.py --quick              # batches up to 1e4, few repeats
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
import onnxruntime as ort
from threadpoolctl import threadpool_info, threadpool_limits

import glmlib
from glmlib import GLM
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


def runners(model: GLM, X: np.ndarray, threads: int) -> dict[str, Callable[[], Any]]:
    """name -> a call returning the means of X, for one thread count.

    The NumPy runner's BLAS thread count is set by the caller around the
    timed calls (entering ``threadpool_limits`` costs about a millisecond).
    """
    out: dict[str, Callable[[], Any]] = {f"numpy {threads}t": lambda: model.predict(X)}
    for dtype in ("float64", "float32"):
        sess = ort_session(model, dtype, threads)
        feed = onnx_feed(model, X, dtype=dtype)

        def ort_run(sess: Any = sess, feed: dict = feed) -> Any:
            return sess.run(["mu"], feed)[0]

        out[f"ort-f{dtype[-2:]} {threads}t"] = ort_run
    return out


def measure(model: GLM, batches: tuple[int, ...], repeats: dict[int, int]) -> list[dict]:
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    rng = np.random.default_rng(1)
    rows = []
    for n in batches:
        X = rng.normal(size=(n, P))
        ref = model.predict(X)
        groups = {t: runners(model, X, t) for t in thread_counts}
        times: dict[str, list[float]] = {}
        max_rel_diff: dict[str, float] = {}
        for t, calls in groups.items():
            with threadpool_limits(limits=t, user_api="blas"):
                for name, call in calls.items():  # untimed warm-up, and the correctness check
                    mu = np.asarray(call(), dtype=np.float64)
                    max_rel_diff[name] = float(np.max(np.abs(mu / ref - 1.0)))
                    times[name] = []
        for r in range(repeats[n]):
            for t, calls in groups.items():
                names = list(calls)
                order = names[r % len(names) :] + names[: r % len(names)]
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
        "onnxruntime": ort.__version__,
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
        rows = measure(model, batches, repeats)
        env["loadavg_at_end"] = os.getloadavg()
        env["seconds"] = round(time.perf_counter() - start, 1)
        report = {"environment": env, "model": repr(model), "p": P, "rows": rows}
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
