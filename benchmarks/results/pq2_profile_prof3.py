"""Issue 14 profile (branch pq2, 2026-12-06 03:02 UTC): column reads into a Fortran block, and the compute on it."""

import time

import numpy as np
import pyarrow.parquet as pq

F = "/tmp/glmlib-bench-parquet-4g/part-0000.parquet"
cols = [f"x{j}" for j in range(50)]
n = 250000


def best(f, k=5):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1000


def fill(out, pre=False, buf=0):
    pf = pq.ParquetFile(F, pre_buffer=pre, buffer_size=buf)
    for j, c in enumerate(cols):
        t = pf.read_row_group(0, columns=[c], use_threads=False).column(0)
        a = 0
        for ch in t.chunks:
            m = len(ch)
            out[a : a + m, j] = ch.to_numpy()
            a += m
    return out


def fillarr(out):
    pf = pq.ParquetFile(F)
    for j, c in enumerate(cols):
        t = pf.read_row_group(0, columns=[c], use_threads=False).column(0)
        out[:, j] = t.to_numpy()
    return out


def readonly():
    pf = pq.ParquetFile(F)
    for _j, c in enumerate(cols):
        pf.read_row_group(0, columns=[c], use_threads=False)


buf = np.empty((n, 50), order="F")
buf[:] = 0
print("read columns only", best(readonly))
print("fill reused", best(lambda: fill(buf)))
print("fill reused pre_buffer", best(lambda: fill(buf, True)))
print("fill reused buf64k", best(lambda: fill(buf, False, 1 << 16)))
print("fill chunked to_numpy whole", best(lambda: fillarr(buf)))
print("fill fresh", best(lambda: fill(np.empty((n, 50), order="F"))))
d = np.random.default_rng(0).random(n)
s = np.sqrt(d)
v = np.random.default_rng(0).random(n)
b = np.ones(50)


def g1():
    B = buf
    np.multiply(B, s[:, None], out=B)
    B.T @ B
    B.T @ s


print("scale in place + syrk + col", best(g1))
print("X.T@v F", best(lambda: buf.T @ v))


def mv():
    out = np.zeros(n)
    for j in range(50):
        out += buf[:, j] * b[j]


print("matvec by columns", best(mv))
print("matvec F", best(lambda: buf @ b))


def stats():
    for j in range(50):
        c = buf[:, j]
        c.max()
        c.min()
        np.isfinite(c).all()


print("stats by col", best(stats))
