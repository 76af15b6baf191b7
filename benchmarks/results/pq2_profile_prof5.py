"""Issue 14 profile (branch pq2, 2026-12-06 03:06 UTC): the same file rewritten with other codecs/encodings."""

import os
import time

import pyarrow.parquet as pq

F = "/tmp/glmlib-bench-parquet-4g/part-0000.parquet"
t = pq.read_table(F)
variants = {"snappy_dict(default)": F}
for name, kw in [
    ("none_nodict", dict(compression="none", use_dictionary=False)),
    ("snappy_nodict", dict(compression="snappy", use_dictionary=False)),
    ("none_dict", dict(compression="none")),
]:
    path = f"/tmp/pq2/{name}.parquet"
    if not os.path.exists(path):
        pq.write_table(t, path, **kw)
    variants[name] = path
cols = [f"x{j}" for j in range(50)]


def best(f, k=5):
    ts = []
    for _ in range(k):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    return min(ts) * 1000


for name, path in variants.items():
    open(path, "rb").read()

    def rd(path=path):
        pf = pq.ParquetFile(path)
        for c in cols:
            pf.read_row_group(0, columns=[c], use_threads=False)

    def rdmm(path=path):
        pf = pq.ParquetFile(path, memory_map=True)
        for c in cols:
            pf.read_row_group(0, columns=[c], use_threads=False)

    print(
        f"{name:22s} size {os.path.getsize(path) / 1e6:6.1f} MB  columns {best(rd):6.1f} ms  mmap {best(rdmm):6.1f} ms"
    )
