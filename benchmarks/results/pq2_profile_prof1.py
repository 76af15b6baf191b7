"""Issue 14 profile (branch pq2, 2026-12-06 03:01 UTC): one Parquet file, pass steps per row group.

Run against main db595f3 (`ParquetRowGroup.batches`, `_block_matvec`, `_block_rmatvec_gram`
of main; this branch replaced them). `OMP_NUM_THREADS=1 python pq2_profile_prof1.py`.
"""

import os
import time

import numpy as np
import pyarrow.parquet as pq

os.environ.setdefault("OMP_NUM_THREADS", "1")
import sys

sys.path.insert(0, "/work/main")  # main db595f3 (the worktree was main when run)
from glmlib.design.dask import ParquetRowGroup, _block_matvec, _block_rmatvec_gram  # noqa: E402

F = "/tmp/glmlib-bench-parquet-4g/part-0000.parquet"
cols = [f"x{j}" for j in range(50)]
n = 250000


def best(f, k=5):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


res = {}
res["read bytes"] = best(lambda: open(F, "rb").read())
res["read_table mmap nothreads"] = best(
    lambda: pq.read_table(F, columns=cols, use_threads=False, memory_map=True)
)
res["read_table nothreads"] = best(lambda: pq.read_table(F, columns=cols, use_threads=False))
res["read_table threads"] = best(lambda: pq.read_table(F, columns=cols, use_threads=True))
t = pq.read_table(F, columns=cols, use_threads=False)
print("chunks", t.column(0).num_chunks)


def tonp():
    out = np.empty((n, 50), order="F")
    for j in range(50):
        a = 0
        for c in t.column(j).chunks:
            m = len(c)
            out[a : a + m, j] = c.to_numpy()
            a += m
    return out


res["arrow->F block"] = best(tonp)


def tonpC():
    out = np.empty((n, 50))
    for j in range(50):
        a = 0
        for c in t.column(j).chunks:
            m = len(c)
            out[a : a + m, j] = c.to_numpy()
            a += m
    return out


res["arrow->C block (strided)"] = best(tonpC)
rg = ParquetRowGroup(F, 0, cols, "<f8", 8192, n)
res["current batches() iterate"] = best(lambda: sum(1 for _ in rg.batches()), 3)
X = np.asfortranarray(tonp())
Xc = np.ascontiguousarray(X)
b = np.ones(50) * 0.01
v = np.random.default_rng(0).random(n)
d = np.random.default_rng(0).random(n)
res["X@b F"] = best(lambda: X @ b)
res["X@b C"] = best(lambda: Xc @ b)
res["X.T@v F"] = best(lambda: X.T @ v)


def gram(A):
    B = A * np.sqrt(d)[:, None]
    return B.T @ B


res["gram F (scale+syrk)"] = best(lambda: gram(X))
res["gram C"] = best(lambda: gram(Xc))
from glmlib._backend import Backend  # noqa: E402
from glmlib.design.dense import DenseDesign  # noqa: E402

res["DenseDesign.gram C"] = best(lambda: DenseDesign(Xc, Backend("numpy")).gram(d, True))
res["DenseDesign.gram F"] = best(lambda: DenseDesign(X, Backend("numpy")).gram(d, True))
res["current _block_rmatvec_gram"] = best(lambda: _block_rmatvec_gram(rg, v, d, 0, n, True), 3)
res["current _block_matvec"] = best(lambda: _block_matvec(rg, b), 3)
for k, val in res.items():
    print(f"{k:35s} {val * 1000:8.1f} ms")
