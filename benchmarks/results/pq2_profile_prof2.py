"""Issue 14 profile (branch pq2, 2026-12-06 03:01 UTC): pyarrow read variants of one row group.

Time (best of 4) and pyarrow pool peak per variant; one process per variant:
`python pq2_profile_prof2.py iter8192_64k` etc. (see the dict at the end).
"""

import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

F = "/tmp/glmlib-bench-parquet-4g/part-0000.parquet"
cols = [f"x{j}" for j in range(50)]
n = 250000


def hwm():
    for l in open("/proc/self/status"):
        if l.startswith("VmHWM"):
            return int(l.split()[1]) * 1024


def iterb(bs, buf, pre, copy):
    pf = pq.ParquetFile(F, pre_buffer=pre, buffer_size=buf)
    out = np.empty((n, 50), order="F") if copy else None
    a = 0
    for batch in pf.iter_batches(batch_size=bs, row_groups=[0], columns=cols, use_threads=False):
        m = batch.num_rows
        if copy:
            for j in range(50):
                out[a : a + m, j] = batch.column(j).to_numpy()
        a += m
    return out


def colgroups(k, pre, mm):
    pf = pq.ParquetFile(F, pre_buffer=pre, memory_map=mm)
    out = np.empty((n, 50), order="F")
    for s in range(0, 50, k):
        t = pf.read_row_group(0, columns=cols[s : s + k], use_threads=False)
        for j in range(t.num_columns):
            a = 0
            for c in t.column(j).chunks:
                m = len(c)
                out[a : a + m, s + j] = c.to_numpy()
                a += m
        del t
    return out


v = sys.argv[1]
fn = {
    "iter8192_64k": lambda: iterb(8192, 1 << 16, False, False),
    "iter8192_64k_copy": lambda: iterb(8192, 1 << 16, False, True),
    "iter65536_64k_copy": lambda: iterb(65536, 1 << 16, False, True),
    "iter65536_pre_copy": lambda: iterb(65536, 0, True, True),
    "iter250000_pre_copy": lambda: iterb(250000, 0, True, True),
    "cols1": lambda: colgroups(1, False, False),
    "cols5": lambda: colgroups(5, False, False),
    "cols5_mm": lambda: colgroups(5, False, True),
    "cols10_pre": lambda: colgroups(10, True, False),
    "cols50": lambda: colgroups(50, False, False),
}[v]
h0 = hwm()
ts = []
for _ in range(4):
    t = time.perf_counter()
    r = fn()
    ts.append(time.perf_counter() - t)
    del r
    pa.default_memory_pool().release_unused()
print(
    f"{v:22s} best {min(ts) * 1000:7.1f} ms  pool max {pa.default_memory_pool().max_memory() / 1e6:6.1f} MB  HWM delta {(hwm() - h0) / 1e6:6.1f} MB"
)
