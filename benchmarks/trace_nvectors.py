"""List the n-vectors a glmlib fit holds at its traced-memory peak (tracemalloc).

A profiling hook takes a tracemalloc snapshot whenever the traced memory at a
Python call or return exceeds every earlier one; the last such snapshot is
the fit's peak as seen at call boundaries (temporaries inside one expression
show only in tracemalloc's own peak, printed beside it). Allocations of at
least 0.9 n float64 are listed by the line that made them.

Usage::

    python benchmarks/trace_nvectors.py --n 200000 --problem logistic_l1
    python benchmarks/trace_nvectors.py --n 200000 --problem logistic_l2 --dask  # DaskDesign

With ``--dask``, X is a Dask array of 20 row chunks (in memory): the fit
takes :class:`glmlib.design.dask.DaskDesign`'s path.
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc

import numpy as np

import glmlib
from glmlib.datasets import make_glm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument(
        "--problem", default="logistic_l1", choices=["logistic_l1", "logistic_l2", "poisson_l2"]
    )
    ap.add_argument("--dask", action="store_true")
    args = ap.parse_args()
    n = args.n
    family = "poisson" if args.problem == "poisson_l2" else "binomial"
    X, y, _ = make_glm(n, 50, family, random_state=1)
    X = np.ascontiguousarray(X, dtype=np.float64)
    alpha, l1 = (0.038, 1.0) if args.problem == "logistic_l1" else (1e-3, 0.0)
    glmlib.GLM(family=family, alpha=alpha, l1_ratio=l1, tol=1e-4).fit(X[:5000], y[:5000])  # warm up
    if args.dask:  # the Dask path's own compilation and imports
        import dask.array as da

        Xs = da.from_array(X[:20000], chunks=(1000, X.shape[1]))
        glmlib.GLM(family=family, alpha=alpha, l1_ratio=l1, tol=1e-4).fit(Xs, y[:20000])
    if args.dask:
        import dask.array as da

        X = da.from_array(X, chunks=(n // 20, X.shape[1]))
    vec = n * 8
    tracemalloc.start(12)
    base = tracemalloc.get_traced_memory()[0]
    best = [0, None, ""]

    def hook(frame, event, arg):  # noqa: ANN001
        cur = tracemalloc.get_traced_memory()[0]
        if cur > best[0]:
            best[0] = cur
            best[1] = tracemalloc.take_snapshot()
            best[2] = (
                f"{event} {frame.f_code.co_filename.split('glmlib/')[-1]}:{frame.f_lineno} {frame.f_code.co_name}"
            )

    sys.setprofile(hook)
    m = glmlib.GLM(family=family, alpha=alpha, l1_ratio=l1, tol=1e-4).fit(X, y)
    sys.setprofile(None)
    peak = tracemalloc.get_traced_memory()[1] - base
    print(f"{args.problem} n={n}: iterations {m.n_iter_}")
    print(f"tracemalloc peak above start: {peak / vec:.2f} n-vectors ({peak / 2**20:.1f} MiB)")
    print(f"largest at a call boundary:   {(best[0] - base) / vec:.2f} n-vectors, at {best[2]}")
    snap = best[1].filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    big = [t for t in snap.traces if t.size >= 0.9 * vec]
    print(f"{len(big)} allocations of >= 0.9 n floats alive there:")
    for t in sorted(big, key=lambda t: -t.size):
        frames = [f for f in t.traceback if "glmlib" in f.filename] or list(t.traceback)
        where = " <- ".join(
            f"{f.filename.split('glmlib/')[-1]}:{f.lineno}" for f in reversed(frames[-4:])
        )
        print(f"  {t.size / vec:5.2f} n  {where}")


if __name__ == "__main__":
    main()
