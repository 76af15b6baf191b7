"""Microbenchmark of the weighted Gram matrix [1 X]' diag(d) [1 X], glmlib's kernels and alternatives.

Dense (n x 50, float64): glmlib's DenseDesign.gram; the same blocks with
NumPy's ``B.T @ B`` and the intercept row from ``X.T @ d`` instead of a
concatenated column; tabmat's DenseMatrix.sandwich (glum's kernel).
Sparse (bench_glm's one-hot CSR design): glmlib's ScipySparseDesign.gram and
a numba kernel that accumulates each row's outer product into the dense Gram.
Each variant is checked against glmlib's result, then timed (best of repeats).

    python benchmarks/gram_kernels.py --threads 1 --n 100000 --sparse-scale 1.0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _threads import apply_thread_limit  # noqa: E402  (before NumPy loads)

if __name__ == "__main__":
    apply_thread_limit(sys.argv)

import numba  # noqa: E402
import numpy as np  # noqa: E402
import tabmat  # noqa: E402
from bench_glm import make_problem  # noqa: E402

from glmlib._backend import resolve_backend  # noqa: E402
from glmlib.design.dense import DenseDesign  # noqa: E402
from glmlib.design.sparse import ScipySparseDesign  # noqa: E402

_BLOCK_ELEMENTS = 4_000_000


def dense_numpy(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Row blocks scaled by sqrt(d), ``B.T @ B``; the intercept row from ``X.T @ d``."""
    n, p = X.shape
    out = np.empty((p + 1, p + 1))
    out[0, 0] = d.sum()
    out[0, 1:] = out[1:, 0] = X.T @ d
    g = np.zeros((p, p))
    step = max(1024, _BLOCK_ELEMENTS // p)
    for s in range(0, n, step):
        block = X[s : s + step] * np.sqrt(d[s : s + step])[:, None]
        g += block.T @ block
    out[1:, 1:] = g
    return out


def dense_tabmat(X: Any, d: np.ndarray, tm: Any) -> np.ndarray:
    p = X.shape[1]
    out = np.empty((p + 1, p + 1))
    out[0, 0] = d.sum()
    out[0, 1:] = out[1:, 0] = X.T @ d
    out[1:, 1:] = tm.sandwich(d)
    return out


@numba.njit(nogil=True, cache=False)
def _csr_gram(indptr, indices, data, d, p):  # pragma: no cover - compiled
    g = np.zeros((p + 1, p + 1))
    for i in range(indptr.shape[0] - 1):
        di = d[i]
        g[0, 0] += di
        for a in range(indptr[i], indptr[i + 1]):
            ja = indices[a] + 1
            va = data[a] * di
            g[0, ja] += va
            for c in range(indptr[i], indptr[i + 1]):
                jc = indices[c] + 1
                if jc >= ja:
                    g[ja, jc] += va * data[c]
    for r in range(p + 1):
        for c in range(r + 1, p + 1):
            g[c, r] = g[r, c]
    return g


def sparse_numba(X: Any, d: np.ndarray) -> np.ndarray:
    """Dense Gram of a CSR matrix (sorted indices) by per-row outer products."""
    return _csr_gram(X.indptr, X.indices, X.data, d, X.shape[1])


def race(cands: dict[str, Callable[[], np.ndarray]], repeats: int) -> None:
    ref = None
    best = dict.fromkeys(cands, float("inf"))
    for name, f in cands.items():  # correctness first (and JIT warm-up)
        g = f()
        ref = g if ref is None else ref
        err = float(np.max(np.abs(g - ref)))
        print(
            f"  {name:<48s} max |diff| to glmlib {err:.1e} (entries up to {np.max(np.abs(ref)):.1e})"
        )
    for _ in range(repeats):
        for name, f in cands.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
    base = next(iter(best.values()))
    for name, t in best.items():
        print(f"  {name:<48s} {t * 1e3:9.1f} ms  ({t / base:.2f} of glmlib's)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="rows of the dense X (p = 50)")
    ap.add_argument("--sparse-scale", type=float, default=1.0, help="scale of the one-hot problem")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, 50))
    d = rng.uniform(size=args.n)
    backend = resolve_backend(None, "cpu", X)
    dense = DenseDesign(X, backend)
    tm = tabmat.DenseMatrix(X)
    print(f"dense X {X.shape}:")
    race(
        {
            "glmlib DenseDesign.gram": lambda: dense.gram(d),
            "NumPy B.T @ B, intercept row from X.T @ d": lambda: dense_numpy(X, d),
            "tabmat DenseMatrix.sandwich (glum)": lambda: dense_tabmat(X, d, tm),
        },
        args.repeats,
    )
    Xs = make_problem("sparse_onehot", scale=args.sparse_scale).X.tocsr()
    Xs.sort_indices()
    ds = rng.uniform(size=Xs.shape[0])
    sparse = ScipySparseDesign(Xs, backend)
    print(f"one-hot CSR X {Xs.shape}, nnz {Xs.nnz:,}:")
    race(
        {
            "glmlib ScipySparseDesign.gram": lambda: sparse.gram(ds),
            "numba per-row outer products": lambda: sparse_numba(Xs, ds),
        },
        max(2, args.repeats // 2),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
