"""Out-of-core fits with Dask: a Parquet data set larger than the fit's memory, against the in-memory fit.

Writes (once) a Parquet data set of ``--gigabytes`` of float64 features in
many files (logistic data, p = 50), then in a fresh process per variant:

* ``dask``: ``GLM("binomial", alpha=1e-4).fit`` on ``dask.dataframe.read_parquet``
  (threaded scheduler): every pass over X reads the files again, partition by
  partition;
* ``parquet``: the same fit on :func:`glmlib.parquet_matrix` of the files
  (pyarrow decodes the row groups column by column, no pandas; see
  ``glmlib/design/parquet.py``), y from ``dask.dataframe.read_parquet``;
* ``npy`` and ``zarr``: the same fit on :func:`glmlib.disk_cache` of the
  files' features in that format (decoded once into uncompressed floats next
  to the folder, in a process of its own, timed and measured apart:
  ``npy-build``, ``zarr-build``), so passes read floats instead of decoding
  Parquet; y still comes from Parquet;
* ``memory``: the same files loaded with pandas, file by file, into one
  NumPy array, then the same fit.

Reported for each: peak resident memory of the process (imports included,
``VmHWM``), the fit's wall time, its number of passes over X (products
with X and Gram matrices, counted) and the time per pass; and the largest
coefficient difference between the two fits. The files are read once before
timing, so they are in the page cache (as the issue's target assumes).

``--write plain`` writes a new folder's files without compression or
dictionary encoding (``to_parquet(compression=None, use_dictionary=False)``;
the same values); by default pandas' defaults (snappy, a dictionary page
tried, then plain pages). The json records how the files were written.

Usage::

    python benchmarks/bench_dask.py --gigabytes 4 --out benchmarks/results/bench_dask.json
    python benchmarks/bench_dask.py --gigabytes 0.2          # a short run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

P = 50
ROWS_PER_FILE = 250_000


#: How the files are written: pandas' defaults (pyarrow: snappy, a dictionary
#: page tried then plain pages), or ``plain`` (no compression, no dictionary).
WRITE_OPTIONS = {"default": {}, "plain": {"compression": None, "use_dictionary": False}}


def write_dataset(folder: Path, gigabytes: float, write: str = "default") -> int:
    """The Parquet files (x0..x49, y), created if missing; returns the number of rows.

    ``write``: a key of :data:`WRITE_OPTIONS` (the same values either way).
    """
    import numpy as np
    import pandas as pd

    n_files = max(2, round(gigabytes * 1e9 / (ROWS_PER_FILE * (P + 1) * 8)))
    marker = folder / f"complete-{n_files}"
    if marker.exists():
        return n_files * ROWS_PER_FILE
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.parquet"):
        f.unlink()
    beta = np.linspace(-1.0, 1.0, P) * 1.5 / np.sqrt(P / 3.0)
    for i in range(n_files):
        rng = np.random.default_rng(i)
        X = rng.standard_normal((ROWS_PER_FILE, P))
        y = (rng.random(ROWS_PER_FILE) < 1 / (1 + np.exp(-(0.3 + X @ beta)))).astype(float)
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(P)])
        frame["y"] = y
        frame.to_parquet(folder / f"part-{i:04d}.parquet", index=False, **WRITE_OPTIONS[write])
    marker.touch()
    return n_files * ROWS_PER_FILE


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM, which exec resets (ru_maxrss
    keeps the forking parent's peak), or ru_maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _rss_parts() -> dict[str, int]:
    """RssAnon (heap, buffers) and RssFile (mapped files, libraries) of this process, bytes."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("RssAnon", "RssFile", "VmRSS"):
                out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


class _RssSampler:
    """The largest RssAnon and RssFile seen, sampled every 20 ms on a thread.

    VmHWM is the peak of their sum; the split says whether the peak is the
    process's own memory (anonymous) or pages of mapped files.
    """

    def __init__(self) -> None:
        import threading

        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for k, v in _rss_parts().items():
                self.peak[k] = max(self.peak.get(k, 0), v)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return {f"peak_{k}_bytes": v for k, v in self.peak.items()}


def fit_variant(variant: str, folder: Path, block_mb: float | None = None) -> dict[str, Any]:
    """Run in a fresh process: fit one variant, count passes, report peak memory."""
    import numpy as np

    import glmlib
    from glmlib.design import dask as _dask
    from glmlib.design import dense as _dense

    sampler = _RssSampler()
    if variant.split("-")[0] in ("dask", "npy", "zarr", "parquet"):
        import dask.dataframe  # noqa: F401  (counted with the imports)
    else:
        import pandas  # noqa: F401
    imports_rss = _peak_rss()

    passes = {"count": 0, "seconds": 0.0}
    # Only the fit's own design: the Dask design's partitions use DenseDesign inside.
    # A pass is a product over all rows of X; X @ 0 (no pass) is not counted.
    dask_variant = variant.split("-")[0] in ("dask", "npy", "zarr", "parquet")
    for cls in (_dask.DaskDesign,) if dask_variant else (_dense.DenseDesign,):
        # matvec_rmatvec: the dense design's fused X @ step and X.T @ score (one pass)
        # rmatvec_gram_rows: the Dask design's X.T @ score and X'WX with the weights
        # formed per partition (one pass; None where it declines, then not counted)
        names = ("matvec", "rmatvec", "gram", "rmatvec_gram", "matvec_rmatvec", "rmatvec_gram_rows")
        for name in names:
            original = getattr(cls, name, None)
            if original is None:
                continue

            def counted(self: Any, *a: Any, _f: Any = original, _n: str = name, **k: Any) -> Any:
                if _n == "matvec" and not np.any(a[0]):
                    return _f(self, *a, **k)
                t = time.perf_counter()
                out = _f(self, *a, **k)
                if out is not None:
                    passes["seconds"] += time.perf_counter() - t
                    passes["count"] += 1
                return out

            setattr(cls, name, counted)
    columns = [f"x{j}" for j in range(P)]
    t0 = time.perf_counter()
    if dask_variant:
        import dask.dataframe as dd

        frame = dd.read_parquet(str(folder / "*.parquet"))
        X, y = frame[columns], frame["y"]
        fmt = variant.split("-")[0]
        if fmt == "parquet":
            budget = None if block_mb is None else int(block_mb * 2**20)
            X = glmlib.parquet_matrix(str(folder / "*.parquet"), columns, block_bytes=budget)
        store = folder.parent / f"{folder.name}-cache-{fmt}"
        if variant.endswith("-build"):  # decode once into uncompressed floats on disk
            glmlib.disk_cache(X, store, format=fmt, overwrite=True)
            return {"cache_seconds": time.perf_counter() - t0, "peak_rss_bytes": _peak_rss()}
        if fmt in ("npy", "zarr"):  # a fit on the cache built by the -build process
            budget = None if block_mb is None else int(block_mb * 2**20)
            try:
                X = glmlib.open_disk_cache(store, block_bytes=budget)[0]
            except TypeError:  # a glmlib without block_bytes (the baseline)
                X = glmlib.open_disk_cache(store)[0]
    else:
        import pandas as pd

        # Filled file by file into one array (a pandas concatenation peaked at 3.5x the data)
        files = sorted(folder.glob("*.parquet"))
        frames = [pd.read_parquet(f, columns=["y"]) for f in files]
        y = np.concatenate([f["y"].to_numpy() for f in frames])
        X = np.empty((len(y), len(columns)))
        start = 0
        for f in files:
            part = pd.read_parquet(f, columns=columns).to_numpy()
            X[start : start + len(part)] = part
            start += len(part)
            del part
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = glmlib.GLM("binomial", alpha=1e-4).fit(X, y)
    seconds = time.perf_counter() - t0
    rss = _peak_rss()
    parts = sampler.stop()
    return {
        "variant": variant,
        "imports_peak_rss_bytes": imports_rss,
        **parts,
        "chunks": len(X.chunks[0]) if hasattr(X, "chunks") and X.chunks else None,
        "load_seconds": load,
        "fit_seconds": seconds,
        "passes": passes["count"],
        "seconds_in_passes": passes["seconds"],
        "seconds_per_pass": passes["seconds"] / max(passes["count"], 1),
        "n_iter": int(model.n_iter_),
        "peak_rss_bytes": rss,
        "coef": model.coef_.tolist(),
    }


def _file_encoding(file: Path) -> dict[str, Any]:
    """Codec, encodings and sizes of a file's first column chunk (how the files were written)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(file)
    chunk = meta.row_group(0).column(0)
    return {
        "compression": chunk.compression,
        "encodings": list(chunk.encodings),
        "has_dictionary_page": bool(chunk.has_dictionary_page),
        "row_groups": meta.num_row_groups,
        "rows_per_row_group": meta.row_group(0).num_rows,
        "file_bytes": file.stat().st_size,
        "created_by": meta.created_by,
    }


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        )
        return done.stdout.strip() or None
    except OSError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gigabytes", type=float, default=4.0)
    ap.add_argument("--folder", default="/tmp/glmlib-bench-parquet")
    ap.add_argument(
        "--write",
        choices=sorted(WRITE_OPTIONS),
        default="default",
        help="how new files are written: default (snappy, dictionary tried) or plain "
        "(no compression, no dictionary); existing files are used as they are",
    )
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--out")
    ap.add_argument(
        "--block-mb", type=float, help="block_bytes of open_disk_cache in MiB (default: glmlib's)"
    )
    ap.add_argument(
        "--variants",
        default="dask,parquet,npy,zarr,memory",
        help="comma-separated: dask,parquet,npy,zarr,memory",
    )
    args = ap.parse_args()
    folder = Path(args.folder)
    if args.variant:  # the child process
        print(json.dumps(fit_variant(args.variant, folder, args.block_mb)))
        return 0
    n = write_dataset(folder, args.gigabytes, args.write)
    data_bytes = n * (P + 1) * 8
    encoding = _file_encoding(next(iter(sorted(folder.glob("*.parquet")))))
    print(f"files: {encoding}")
    for f in folder.glob("*.parquet"):  # into the page cache
        f.read_bytes()
    print(f"{n:,} rows x {P} features + y in Parquet: {data_bytes / 1e9:.2f} GB as float64")
    load_before = os.getloadavg()
    print(f"load average before: {load_before}")
    results = {}
    for variant in args.variants.split(","):
        if variant in ("npy", "zarr"):  # the cache is built once, in its own process
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--folder",
                    str(folder),
                    "--variant",
                    variant + "-build",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[variant + "-build"] = build = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{variant} cache built in {build['cache_seconds']:.1f} s, "
                f"peak RSS {build['peak_rss_bytes'] / 1e9:.2f} GB"
            )
        block = ["--block-mb", str(args.block_mb)] if args.block_mb else []
        done = subprocess.run(
            [sys.executable, __file__, "--folder", str(folder), "--variant", variant, *block],
            capture_output=True,
            text=True,
            check=True,
        )
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(
            f"{variant:6s}: fit {r['fit_seconds']:.1f} s, "
            f"{r['passes']} passes, {r['seconds_per_pass']:.2f} s per pass, "
            f"peak RSS {r['peak_rss_bytes'] / 1e9:.2f} GB "
            f"({r['peak_rss_bytes'] / data_bytes:.0%} of the data; imports "
            f"{r['imports_peak_rss_bytes'] / 1e9:.2f} GB, peak anon "
            f"{r.get('peak_RssAnon_bytes', 0) / 1e9:.2f} GB, file "
            f"{r.get('peak_RssFile_bytes', 0) / 1e9:.2f} GB)"
        )
    import numpy as np

    summary: dict[str, Any] = {}
    if "memory" in results:
        ref = results["memory"]
        for variant in sorted(v for v in results if v != "memory" and not v.endswith("-build")):
            r = results[variant]
            diff = float(np.max(np.abs(np.subtract(r["coef"], ref["coef"]))))
            per_pass = r["seconds_per_pass"] / ref["seconds_per_pass"]
            fit = r["fit_seconds"] / ref["fit_seconds"]
            summary[variant] = {
                "max_coef_difference": diff,
                "pass_time_ratio": per_pass,
                "fit_time_ratio": fit,
            }
            print(
                f"{variant}: max |coef difference| {diff:.1e}; against in-memory: "
                f"{per_pass:.1f}x per pass, {fit:.1f}x per fit"
            )
    if args.out:
        out = {
            "rows": n,
            "p": P,
            "data_bytes": data_bytes,
            "files": len(list(folder.glob("*.parquet"))),
            "results": results,
            "summary": summary,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "block_mb": args.block_mb,
            "file_encoding": encoding,
            "commit": _commit(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        }
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
