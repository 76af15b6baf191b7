# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["remove-cell"]
# On Google Colab, install glmlib and what the chapters use from the book's repository;
# elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "glmlib[colab] @ git+https://github.com/glmlib/glmlib-book",
        ],
        check=True,
    )

# %% [markdown]
# # Scaling with cuBLAS and NCCL
#
# A GLM fit on $n$ rows and $p$ features spends almost all of its time in
# two kinds of products over the rows: $X^\top v$ and the Gram matrix
# $X^\top W X$. Everything else works on $p$-vectors and $p \times p$
# matrices. This chapter asks how far that structure carries a fit: onto one
# GPU, where cuBLAS runs the products; across several processes, where NCCL
# (on GPUs) or gloo (on CPUs) adds up each process's share; and out of
# memory, where Dask streams the rows from disk.
#
# Two kinds of numbers appear below, and each is labelled. **Live** numbers
# are computed when the chapter runs, on whatever machine runs it (printed
# at the end). **Recorded** numbers were measured on an NVIDIA H200 by
# `make gpu-check` and ship with glmlib (`glmlib.recorded`); their captions
# name the device, the date and the glmlib commit, and they are never
# numbers from your machine.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw. `quick=True` shrinks every size so that
# the chapter runs in well under two minutes on two CPU cores. `device`
# selects where the live GEMM and the live GLM sweep run; the multi-process
# sections always use CPU processes (gloo), with one thread each, whatever
# the device. `cpu_threads` caps the BLAS and PyTorch threads of the
# notebook's own process.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in well under two minutes (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
gemm_size = 2048  # the live GEMM multiplies two gemm_size x gemm_size matrices
sweep_sizes = [10_000, 100_000, 1_000_000]  # rows of the live GLM sweep (100 float32 features)
timing_repeats = 2  # best-of repeats for the live timings
cpu_threads = 1  # BLAS and torch threads of this notebook's process
n_rows = 100_000  # rows of the multi-process logistic regression
n_features = 20  # its features
gd_steps = 600  # gradient-descent steps of the DDP run
tolerance = 1e-6  # "converged": objective within this relative gap of the optimum
batch_sizes = [16, 64, 256, 1024, 4096]  # minibatch sizes of the SGD experiment
sgd_epochs = 10  # passes over the data in the SGD experiment
staleness = [0, 2, 4, 8]  # gradient delays (steps) in the asynchronous-SGD simulation
stale_updates = 600  # updates per run of that simulation (a multiple of 10)
straggler_delay = 0.05  # seconds the slow process sleeps per Newton iteration
parquet_files = 40  # Parquet files written for the out-of-core fit
parquet_rows = 50_000  # rows per Parquet file

# %%
# A bad parameter (say papermill -p gd_steps 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, ListOf, Real, check_parameters

check_parameters(
    globals(),
    gemm_size=Int(2),
    sweep_sizes=ListOf(Int(1_000)),
    timing_repeats=Int(1),
    cpu_threads=Int(1),
    n_rows=Int(1_000),
    n_features=Int(2),
    gd_steps=Int(1),
    tolerance=Real(0, 1),
    batch_sizes=ListOf(Int(1)),
    sgd_epochs=Int(1),
    staleness=ListOf(Int(0)),
    stale_updates=Int(10),
    straggler_delay=Real(0),
    parquet_files=Int(2),
    parquet_rows=Int(100),
)
if n_rows % 2 or stale_updates % 10:  # the two processes split the rows; 10 updates per report
    raise ValueError(
        f"n_rows must be even and stale_updates a multiple of 10, got {n_rows!r} and {stale_updates!r}"
    )

# %%
import inspect
import json
import os
import re
import shutil
import tempfile
import textwrap
import time
import warnings
from importlib import resources
from pathlib import Path

import dask.dataframe as dd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from scipy.special import expit
from threadpoolctl import threadpool_limits
from tqdm import TqdmWarning

# glmlib imports tqdm.auto, which warns when ipywidgets is absent; this chapter shows no
# progress bars, so that one warning is silenced before the import.
warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import glmlib
from glmlib import recorded
from glmlib.book import glue, glue_figure
from glmlib.book import scaling as workers  # what the chapter's other processes run
from glmlib.distributed import launch

start_time = time.perf_counter()
if quick:
    gemm_size, sweep_sizes, timing_repeats = min(gemm_size, 1024), [10_000, 30_000, 100_000], 1
    n_rows, gd_steps, sgd_epochs = min(n_rows, 20_000), min(gd_steps, 400), min(sgd_epochs, 5)
    stale_updates = min(stale_updates, 300)
    parquet_files, parquet_rows = min(parquet_files, 20), min(parquet_rows, 5_000)
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU
# On a small shared machine, threads competing for cores distort timings of milliseconds.
threadpool_limits(cpu_threads)
torch.set_num_threads(cpu_threads)
on_gpu = device.startswith("cuda")
rng = np.random.default_rng(seed)


def say(sentence: str) -> None:
    """Print a sentence built from computed numbers, wrapped to the page width."""
    print(textwrap.fill(sentence, width=88))


def sync() -> None:
    """Wait for the GPU's queued work, so that a timer measures it (nothing to do on a CPU)."""
    if on_gpu:
        torch.cuda.synchronize()


def best_time(fn, repeats: int = timing_repeats):  # noqa: ANN001, ANN201
    """(best wall seconds over `repeats` calls, the last result)."""
    best, out = np.inf, None
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best, out


print(
    f"device={device}, seed={seed}, quick={quick}, {os.cpu_count()} CPUs ({cpu_threads} thread(s) "
    f"here); gemm_size={gemm_size}, "
    f"sweep_sizes={sweep_sizes}, n_rows={n_rows:,}, parquet {parquet_files} x {parquet_rows:,} rows"
)

# %% [markdown]
# ## 1. cuBLAS and the Gram matrix
#
# ### A GEMM through cuBLAS, checked
#
# The research this book follows calls cuBLAS's single-precision matrix
# product (`cublasSgemm`) from C++ in its Listing 5.1; as printed, that
# listing does not compile. We do not need C++ to reach cuBLAS: on a CUDA
# device, `torch.matmul` on float32 tensors and `cupy.matmul` on float32
# arrays both call cuBLAS's GEMM (on a CPU, `torch.matmul` calls the CPU's
# BLAS). The point of the listing survives: multiply two matrices on the
# device and check the result against an independent reference, here
# NumPy's float64 product, by the relative Frobenius error
# $\lVert C - C_{64}\rVert_F / \lVert C_{64}\rVert_F$.
#
# PyTorch computes float32 products on CUDA in full float32 unless told
# otherwise (`torch.get_float32_matmul_precision()` is `"highest"` by
# default; `"high"` allows TF32 on the Tensor Cores). TF32 would change the
# error by orders of magnitude, as the recorded table further down shows.

# %%
A64 = rng.standard_normal((gemm_size, gemm_size))
B64 = rng.standard_normal((gemm_size, gemm_size))
C64 = A64 @ B64  # the reference: NumPy, float64


def relative_error(C: np.ndarray) -> float:
    return float(np.linalg.norm(C.astype(np.float64) - C64) / np.linalg.norm(C64))


A32 = torch.as_tensor(A64, dtype=torch.float32, device=device)
B32 = torch.as_tensor(B64, dtype=torch.float32, device=device)
torch.matmul(A32, B32)  # warm-up (on a GPU: cuBLAS handle and kernel selection)
gemm_seconds, C32 = best_time(lambda: torch.matmul(A32, B32), 3)
gemm_live = {
    f"torch.matmul, float32, {device}": {
        "seconds": gemm_seconds,
        "GFLOP/s": 2 * gemm_size**3 / gemm_seconds / 1e9,
        "relative error vs NumPy float64": relative_error(C32.cpu().numpy()),
    }
}
try:
    import cupy
except ImportError:
    cupy = None
if cupy is not None and on_gpu:
    Ac, Bc = cupy.asarray(A64, dtype=cupy.float32), cupy.asarray(B64, dtype=cupy.float32)
    cupy.matmul(Ac, Bc)
    cupy_seconds, Cc = best_time(lambda: cupy.matmul(Ac, Bc), 3)
    gemm_live["cupy.matmul, float32, cuda"] = {
        "seconds": cupy_seconds,
        "GFLOP/s": 2 * gemm_size**3 / cupy_seconds / 1e9,
        "relative error vs NumPy float64": relative_error(cupy.asnumpy(Cc)),
    }
print(
    f"live, on this machine: {gemm_size} x {gemm_size} GEMM (best of 3, {cpu_threads} CPU thread(s); "
    f"float32 matmul precision {torch.get_float32_matmul_precision()!r})"
)
if cupy is None or not on_gpu:
    print("(CuPy's cuBLAS binding is timed only when CuPy is installed and a GPU is present.)")
pd.DataFrame(gemm_live).T

# %% [markdown]
# A float32 product of this size should differ from the float64 one by
# roughly float32's unit roundoff ($2^{-24} \approx 6 \times 10^{-8}$) times
# a modest factor; a much larger error would mean a wrong call (transposed
# operands, the wrong leading dimension — the classic cuBLAS mistakes with
# its column-major convention) or a reduced-precision mode.
#
# ### What the H200 can do: recorded rates
#
# The recorded benchmark timed $8192^3$ products in each precision on an
# NVIDIA H200, through PyTorch and through CuPy's cuBLAS binding, and
# measured the device's copy bandwidth (recorded results; the caption says
# where and when).

# %%
gram_record = recorded.load("gpu/gram")
gemm_table = pd.DataFrame(gram_record["gemm"]).T.rename(
    columns={"tflops": "TFLOP/s", "rel_error": "relative error vs float64"}
)
bandwidth = gram_record["copy_bandwidth_bytes_per_s"]
print(f"recorded: {recorded.caption(gram_record)}")
print(
    f"GEMM size {gram_record['gemm_size']}; copy bandwidth {bandwidth / 1e12:.2f} TB/s "
    "(bytes read plus bytes written per second by a device-to-device copy)"
)
gemm_table.round({"TFLOP/s": 1})

# %% [markdown]
# Float32 and float64 run on the ordinary CUDA cores; TF32, bfloat16 and
# float16 run on the Tensor Cores, many times faster, and their errors grow
# with the shorter mantissa.
#
# ### The roofline of the Gram matrix
#
# A Newton (IRLS) iteration of a GLM forms $X^\top W X$, with $X$ of
# $n \times p$ and $W$ diagonal. As a product it costs about
# $2 n p^2$ floating-point operations (a multiply and an add for each of
# the $p^2$ entries and each of the $n$ rows; the symmetric half would do,
# but libraries count and mostly run the full GEMM). It must read $X$ at
# least once: $n p$ numbers, $4 n p$ bytes in float32. Its **arithmetic
# intensity** is therefore
#
# $$
# I = \frac{2 n p^2 \text{ FLOP}}{4 n p \text{ bytes}} = \frac{p}{2}
# \ \text{FLOP per byte (float32)}, \qquad \frac{p}{4} \text{ in float64},
# \qquad p \text{ in a 2-byte format},
# $$
#
# independent of $n$. The roofline model {cite}`williams2009` bounds the
# attainable rate by $\min(\text{peak FLOP/s},\ I \times \text{bandwidth})$:
# below the "ridge" intensity $I^* = \text{peak} / \text{bandwidth}$ a
# kernel waits for memory, above it for arithmetic. {numref}`fig-roofline` draws these
# roofs from the recorded H200 ceilings, with the recorded Gram
# measurements as points: the benchmark's own Gram kernel at $p = 100$ and
# $p = 1000$ in each precision, and glmlib's `design.gram` at
# $p = 50, 100, 300$ (float32 and float64).

# %%
bytes_per_value = {"float64": 8, "float32": 4, "tf32": 4, "bfloat16": 2, "float16": 2}
peaks = {mode: gemm_table.loc[f"torch_{mode}", "TFLOP/s"] for mode in bytes_per_value}
gram_points = pd.DataFrame(gram_record["gram"])  # the benchmark's Gram kernel
batches_record = recorded.load("gpu/gram_batches")
own = pd.DataFrame(batches_record["design_gram"]).query("batch_rows == 0")  # glmlib's design.gram
own = own.assign(mode=own["dtype"].str.removeprefix("torch."))
own["tflops"] = 2 * own["n"] * own["p"] ** 2 / own["seconds"] / 1e12
for points in (gram_points, own):
    points["intensity"] = 2 * points["p"] / points["mode"].map(bytes_per_value)

# %% tags=["remove-output"]
intensity = np.logspace(0, 3.5, 200)
colours = dict(zip(bytes_per_value, ["C0", "C1", "C2", "C3", "C4"], strict=True))
fig, ax = plt.subplots(figsize=(8.5, 5.2))
for mode, peak in peaks.items():
    roof = np.minimum(peak, intensity * bandwidth / 1e12)
    ls = "--" if mode == "float16" else "-"
    ax.loglog(intensity, roof, ls, color=colours[mode], label=f"roof {mode} ({peak:.0f} TFLOP/s)")
for points, marker, what in [
    (gram_points, "o", "benchmark kernel"),
    (own, "^", "glmlib design.gram"),
]:
    ax.scatter([], [], marker=marker, color="0.5", label=f"Gram, {what} (n = 1e7)")
    for _, r in points.iterrows():
        ax.scatter(
            r["intensity"], r["tflops"], color=colours[r["mode"]], marker=marker, s=45, zorder=3
        )
        ax.annotate(
            f"p={r['p']}",
            (r["intensity"], r["tflops"]),
            fontsize=7,
            xytext=(4, -9),
            textcoords="offset points",
        )
ax.set_xlabel("arithmetic intensity of the Gram matrix (FLOP per byte of X read)")
ax.set_ylabel("attained rate (TFLOP/s)")
ax.set_title("Roofline of X'WX on an H200 (recorded results)")
ax.legend(fontsize=7, loc="lower right")
for line, record in enumerate([gram_record, batches_record]):
    what = "roofs and benchmark kernel" if line == 0 else "glmlib design.gram"
    fig.text(
        0.01, 0.03 - 0.025 * line, f"{what}: {recorded.caption(record)}", fontsize=7, color="0.3"
    )
fig.tight_layout(rect=(0, 0.05, 1, 1))
glue_figure("fig-roofline", fig)

# %% [markdown]
# ```{glue:figure} fig-roofline
# :name: fig-roofline
#
# Roofline of the Gram matrix $X^\top W X$ on an NVIDIA H200 (recorded results; the
# device, date and commit are printed under the figure): attainable rate against
# arithmetic intensity for each precision, with the benchmark's Gram kernel
# (circles) and glmlib's `design.gram` (triangles).
# ```

# %% [markdown]
# Where does $p = 100$ sit? In exact float32 its intensity, $p/2$, lies to
# the right of the float32 ridge, so the Gram is bound by arithmetic, not
# by reading $X$: the floor set by the float32 rate is
# {glue:text}`floor_over_read:.1f` times the time it takes to stream $X$ from
# HBM once. The numbers, from the records:

# %%
engine = recorded.load("gpu/engine")["l2"]
n_e, p_e = engine["n"], engine["p"]
gram_flop = 2 * n_e * p_e**2
floor_fp32 = gram_flop / (peaks["float32"] * 1e12)
read_x = 4 * n_e * p_e / bandwidth
ridge = {mode: peak * 1e12 / bandwidth for mode, peak in peaks.items()}
glue("floor_over_read", floor_fp32 / read_x)
say(
    f"n = {n_e:.0e}, p = {p_e}: one Gram is 2np^2 = {gram_flop:.1e} FLOP. At the recorded float32 "
    f"rate ({peaks['float32']:.1f} TFLOP/s) that takes {floor_fp32 * 1e3:.2f} ms; reading X "
    f"({4 * n_e * p_e / 1e9:.1f} GB in float32) at {bandwidth / 1e12:.2f} TB/s takes "
    f"{read_x * 1e3:.2f} ms, {floor_fp32 / read_x:.1f} times less. The float32 ridge is at "
    f"{ridge['float32']:.1f} FLOP/byte, below p/2 = {p_e / 2:.0f}: the Gram becomes "
    f"arithmetic-bound in float32 from p = {2 * ridge['float32']:.0f} on."
)
say(
    f"On the Tensor Cores the ridge moves right: TF32 at {ridge['tf32']:.0f} and bfloat16 at "
    f"{ridge['bfloat16']:.0f} FLOP/byte. At p = {p_e} the Gram would then be bound by memory: "
    f"{max(gram_flop / (peaks['tf32'] * 1e12), read_x) * 1e3:.2f} ms in TF32 (reading float32 X) and "
    f"{max(gram_flop / (peaks['bfloat16'] * 1e12), read_x / 2) * 1e3:.2f} ms in bfloat16 (X stored in "
    f"2 bytes), against {floor_fp32 * 1e3:.2f} ms in exact float32."
)
own_gram_ms = 1e3 * own.query("p == @p_e and mode == 'float32'")["seconds"].iloc[0]
say(
    f"Recorded, same device: glmlib's core Newton iteration took {engine['core_iteration_seconds'] * 1e3:.1f} ms "
    f"({engine['fraction_of_bound_core']:.0%} of the one-read bound) and its float32 design.gram "
    f"{own_gram_ms:.1f} ms at this size."
)

# %% [markdown]
# So on an H200 the exact float32 Gram at $p = 100$ cannot get near the
# memory bound however well it is written: its floor is the float32
# arithmetic. The Tensor Cores would lower that floor to the time of one
# read of $X$, at the price of the larger errors in the recorded GEMM table
# (and in the recorded Gram errors below). Whether a Newton solver can
# afford those errors — in which products, and with what correction — is the
# subject of the chapter *Tensor Cores and mixed precision* (not yet
# written).

# %%
gram_errors = pd.DataFrame(gram_record["gram_error_vs_float64"]).T
gram_errors.index = [f"p = {p}" for p in gram_errors.index]
print(f"recorded Gram relative errors against float64 ({recorded.caption(gram_record)}):")
gram_errors.map(lambda v: f"{v:.1e}")

# %% [markdown]
# ## 2. One GPU
#
# ### The recorded engine problem
#
# The recorded engine benchmark fitted one logistic ridge regression with
# $n = 10^7$ rows and $p = 100$ float32 features ({glue:text}`rec_x_gb:.0f` GB of
# $X$): glmlib on the H200 with $X$ already on the device, glmlib on the same
# machine's {glue:text}`rec_cpus:d` CPU cores, and glum on those cores. The speed-ups are
# computed here from the recorded seconds.

# %%
engine_record = recorded.load("gpu/engine")
engine_table = pd.DataFrame(
    {"seconds": [engine["glum_cpu_seconds"], engine["glmlib_cpu_seconds"], engine["fit_seconds"]]},
    index=["glum, 16 CPU cores", "glmlib, 16 CPU cores", "glmlib, H200 (X on the device)"],
)
engine_table["GPU speed-up"] = engine_table["seconds"] / engine["fit_seconds"]
glue("rec_x_gb", engine["x_bytes"] / 1e9)
glue("rec_cpus", engine_record["meta"]["device"]["cpu_count"])
glue("rec_speedup_glum", engine["glum_cpu_seconds"] / engine["fit_seconds"])
glue("rec_speedup_cpu", engine["glmlib_cpu_seconds"] / engine["fit_seconds"])
glue("rec_coef_diff", engine["max_coef_difference_vs_glum"])
glue("rec_fit_over_core", engine["fit_seconds_per_iteration"] / engine["core_iteration_seconds"])
glue("rec_core_over_read", engine["core_iteration_seconds"] / engine["bandwidth_bound_seconds"])
print(f"recorded: {recorded.caption(engine_record)}")
print(
    f"logistic, n = {n_e:,}, p = {p_e}, alpha = {engine['alpha']:g}; the GPU fit took "
    f"{engine['fit_iterations']} Newton iterations; largest coefficient difference "
    f"GPU vs glum {engine['max_coef_difference_vs_glum']:.1e}, GPU vs glmlib CPU "
    f"{engine['max_coef_difference_vs_glmlib_cpu']:.1e}"
)
print(
    f"per iteration on the GPU: whole fit {engine['fit_seconds_per_iteration'] * 1e3:.1f} ms, core "
    f"iteration {engine['core_iteration_seconds'] * 1e3:.1f} ms, one read of X "
    f"{engine['bandwidth_bound_seconds'] * 1e3:.2f} ms"
)
engine_table.round(2)

# %% [markdown]
# The GPU fit was {glue:text}`rec_speedup_glum:.0f` times faster than glum and
# {glue:text}`rec_speedup_cpu:.0f` times faster than glmlib on the CPU, with
# coefficients within {glue:text}`rec_coef_diff:.0e` of glum's. It is also far
# from the hardware's limit: a whole-fit iteration took
# {glue:text}`rec_fit_over_core:.1f` times the core iteration (the fit's other
# work: validation, the null model, the statistics at the end), and the core
# iteration {glue:text}`rec_core_over_read:.0f` times one read of $X$ (the
# previous section explains the part of that gap the Gram causes).
#
# The recorded CPU-versus-GPU sweep over $n$ (`bench_gpu_scaling.py`) is
# kept only in the run's log, which ships with glmlib's recorded results;
# we read its rows from there. The GPU times
# include moving $X$ from host memory to the device. Each row is a single
# run, and the step hit its time limit before writing its JSON file. The
# log's column for $X$ already on the device is left out: those runs met a
# bug, fixed since, that copied CUDA tensors back to the host
# (`benchmarks/README.md`).

# %%
sweep_log = resources.files(recorded).joinpath("gpu", "h200_2026-12-04_43f0080.log")
recorded_sweep = None
if sweep_log.is_file():
    text = sweep_log.read_text()
    log_meta = json.loads(text[: text.index("\n}\n") + 2])  # the run's header: device, date, commit
    row = re.compile(
        r"^n=\s*([\d,]+) cpu\s+([\d.]+) s\s+gpu\s+([\d.]+) s \(with transfer\).*max\|dcoef\| (\S+)$",
        re.M,
    )
    recorded_sweep = (
        pd.DataFrame(
            [
                (int(n.replace(",", "")), float(c), float(g), float(d))
                for n, c, g, d in row.findall(text)
            ],
            columns=[
                "n",
                "glmlib CPU, 16 cores (s)",
                "glmlib H200 incl. transfer (s)",
                "max |coef difference|",
            ],
        )
        .drop_duplicates()
        .set_index("n")
    )
    recorded_sweep["speed-up"] = recorded_sweep.iloc[:, 0] / recorded_sweep.iloc[:, 1]
    sweep_caption = recorded.caption({"meta": log_meta})
    print(f"recorded ({sweep_log.name}): {sweep_caption}; p = 100 float32, best of 1")
    shown = recorded_sweep.round(3)
    shown["max |coef difference|"] = recorded_sweep["max |coef difference|"].map("{:.1e}".format)
    display(shown)
else:
    print(f"{sweep_log} is not here: this glmlib was installed without its recorded results.")

# %% [markdown]
# ### Live: this machine
#
# The same problem shape, $p = 100$ float32 logistic ridge regression
# ($\alpha = 10^{-4}$), at the sizes of `sweep_sizes`, fitted on this
# machine's CPU. When the chapter runs on a CUDA device, the sweep also fits
# on the GPU twice: from host arrays (the transfer counted) and from
# tensors already on the device. {numref}`fig-sweep` draws the live times
# with the recorded ones.


# %%
def sweep_data(n: int, p: int = 100) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng([seed, n])
    X = r.standard_normal((n, p), dtype=np.float32)
    beta = r.uniform(-1.0, 1.0, p) * 1.5 / np.sqrt(p / 3.0)
    y = (r.random(n) < expit(0.3 + X @ beta.astype(np.float32))).astype(np.float64)
    return X, y


def ridge_fit(X, y, on: str = "cpu"):  # noqa: ANN001, ANN201
    return glmlib.GLM("binomial", alpha=1e-4, device=on).fit(X, y)


ridge_fit(*sweep_data(2_000))  # warm-up: first-call costs stay out of the timings
if on_gpu:
    ridge_fit(*sweep_data(2_000), device)  # also CUDA's and cuBLAS's initialisation
live_sweep = []
for n in sweep_sizes:
    X, y = sweep_data(n)
    cpu_s, cpu_fit = best_time(lambda X=X, y=y: ridge_fit(X, y))
    row = {"n": n, "glmlib CPU (s)": cpu_s, "iterations": cpu_fit.n_iter_}
    if on_gpu:
        gpu_s, gpu_fit = best_time(lambda X=X, y=y: ridge_fit(X, y, device))
        Xd, yd = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
        dev_s, _ = best_time(lambda Xd=Xd, yd=yd: ridge_fit(Xd, yd, device))
        row |= {
            "GPU incl. transfer (s)": gpu_s,
            "GPU, X on device (s)": dev_s,
            "max |coef difference|": float(np.max(np.abs(cpu_fit.coef_ - gpu_fit.coef_))),
        }
        del Xd, yd
    live_sweep.append(row)
live_sweep = pd.DataFrame(live_sweep).set_index("n")
print(f"live, on this machine ({device}; {cpu_threads} CPU thread(s)), best of {timing_repeats}:")
if not on_gpu:
    print("no CUDA device here: the live sweep runs on the CPU only.")
live_sweep.round(3)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(7.5, 4.5))
ax.loglog(
    live_sweep.index,
    live_sweep["glmlib CPU (s)"],
    "o-",
    color="C0",
    label=f"live: glmlib CPU, this machine ({cpu_threads} thread(s))",
)
if on_gpu:
    ax.loglog(
        live_sweep.index,
        live_sweep["GPU incl. transfer (s)"],
        "s-",
        color="C3",
        label="live: glmlib GPU incl. transfer",
    )
if recorded_sweep is not None:
    ax.loglog(
        recorded_sweep.index,
        recorded_sweep.iloc[:, 0],
        "o--",
        color="C0",
        alpha=0.5,
        label="recorded: glmlib CPU, 16 cores",
    )
    ax.loglog(
        recorded_sweep.index,
        recorded_sweep.iloc[:, 1],
        "s--",
        color="C3",
        alpha=0.5,
        label="recorded: glmlib H200 incl. transfer",
    )
    fig.text(0.01, 0.005, f"recorded: {sweep_caption}", fontsize=7, color="0.3")
ax.set_xlabel("rows n (p = 100, float32)")
ax.set_ylabel("fit time (s)")
ax.set_title("Logistic ridge regression: time against n")
ax.legend(fontsize=8)
fig.tight_layout(rect=(0, 0.03, 1, 1))
glue_figure("fig-sweep", fig)

# %% [markdown]
# ```{glue:figure} fig-sweep
# :name: fig-sweep
#
# Logistic ridge regression, $p = 100$ float32: fit time against the number of
# rows, live on the machine that ran this chapter (solid) and recorded on an
# NVIDIA H200 machine (dashed; device, date and commit under the figure).
# ```

# %%
largest, smallest = live_sweep.index.max(), live_sweep.index.min()
per_row = live_sweep["glmlib CPU (s)"] / live_sweep.index * 1e6  # microseconds per row
glue("per_row_small", per_row.loc[smallest])
glue("per_row_large", per_row.loc[largest])
glue("n_small", int(smallest))
glue("n_large", int(largest))
say(
    f"Live: at n = {largest:,} this machine's CPU fit took {live_sweep.loc[largest, 'glmlib CPU (s)']:.2f} s, "
    f"or {live_sweep.loc[largest, 'glmlib CPU (s)'] / largest * 1e6:.2f} microseconds per row."
)
if recorded_sweep is not None:
    top = recorded_sweep.index.max()
    say(
        f"Recorded: at n = {top:,} the H200 fit, transfer included, was "
        f"{recorded_sweep.loc[top, 'speed-up']:.1f}x faster than glmlib on 16 CPU cores, and at "
        f"n = {recorded_sweep.index.min():,} it was {recorded_sweep['speed-up'].iloc[0]:.1f}x: "
        "small fits do not pay for a GPU."
    )

# %% [markdown]
# On this machine the CPU fit took {glue:text}`per_row_small:.2f` microseconds per
# row at $n$ = {glue:text}`n_small:,d` and {glue:text}`per_row_large:.2f` at
# $n$ = {glue:text}`n_large:,d`. The time per row falls as $n$ grows until fixed
# costs (validation, the null model, the $p \times p$ solves) are amortised; a GPU only pays off
# once the products over rows dominate those costs, and once moving $X$ to
# the device is paid for by the iterations that reuse it.
#
# ## 3. Many processes
#
# When the rows do not fit one device, or one device is too slow, each of
# $W$ processes takes a shard of the rows. Both approaches below keep one
# copy of the model in every process and add up per-shard results with an
# **all-reduce** (NCCL between GPUs, gloo between CPU processes): *data
# parallelism*. They differ in what they add up and how often.
#
# The data: `n_rows` rows of `n_features` correlated Gaussian features
# (correlation $0.8^{|j-k|}$) and a 0/1 response from a logistic model; the
# objective is the mean log-loss plus $\frac{\alpha}{2}\lVert\beta\rVert^2$
# with $\alpha = 10^{-3}$ — what `glmlib.GLM("binomial", alpha=1e-3)`
# minimises. The reference optimum is glmlib's in-memory fit at a tight
# tolerance; "converged" means an objective within `tolerance` (relative) of
# it.

# %%
X_d, y_d = workers.make_data(n_rows, n_features, seed)
reference = glmlib.GLM("binomial", alpha=workers.ALPHA, tol=1e-12).fit(X_d, y_d)
f_opt = workers.objective(reference.intercept_, reference.coef_, X_d, y_d, workers.ALPHA)


def gaps(path: np.ndarray) -> np.ndarray:
    """Relative objective gap of each row (intercept, coefficients) of `path`."""
    f = np.empty(len(path))
    for s in range(0, len(path), 50):  # 50 parameter vectors at a time: an n x 50 block
        eta = path[s : s + 50, :1].T + X_d @ path[s : s + 50, 1:].T
        f[s : s + 50] = np.mean(np.logaddexp(0.0, eta) - y_d[:, None] * eta, axis=0)
    return (f + workers.ALPHA / 2 * np.sum(path[:, 1:] ** 2, axis=1) - f_opt) / f_opt


print(
    f"n = {n_rows:,}, p = {n_features}: optimum objective {f_opt:.10f} ({reference.n_iter_} Newton iterations)"
)

# %% [markdown]
# ### Listing 5.2, modern form: gradient descent with DDP
#
# The research's Listing 5.2 trains a model with PyTorch's
# `DistributedDataParallel`. Here it is for a GLM, in current PyTorch: a
# `Linear` layer and `BCEWithLogitsLoss` are logistic regression; the ridge
# penalty is weight decay on the coefficients (not the intercept);
# `DistributedSampler` gives each process its rows; the process group is
# opened with `init_process_group` and closed with `destroy_process_group`.
# The function lives in glmlib's module `glmlib.book.scaling`, which also
# makes it a script for `torchrun` (`torchrun ... -m glmlib.book.scaling ddp`):

# %%
display(Markdown(f"```python\n{inspect.getsource(workers.train_ddp)}```"))
display(Markdown(f"```python\n{inspect.getsource(workers.main)}```"))

# %% [markdown]
# `backward()` is where DDP communicates: it averages each bucket of
# gradients over the processes with one all-reduce (a GLM's $p + 1$
# parameters fill a single bucket), so every process takes the same step.
# We run the script with `torchrun` on one and on two CPU processes (gloo),
# full-batch gradient descent with step size $1/L$, where $L$ bounds the
# gradient's Lipschitz constant.


# %%
def run_torchrun(nproc: int, out: Path) -> dict:
    """`torchrun --standalone --nproc-per-node nproc -m glmlib.book.scaling ddp ...`; rank 0's result."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", workers.__name__, "ddp", f"--rows={n_rows}", f"--features={n_features}", f"--seed={seed}",
        f"--steps={gd_steps}", f"--out={out}",
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=scratch)
    if done.returncode != 0:
        raise RuntimeError(f"torchrun failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    return {k: np.array(v) if isinstance(v, list) else v for k, v in result.items()}


scratch = Path(tempfile.mkdtemp(prefix="glmlib-ch6-"))
t0 = time.perf_counter()
ddp = {w: run_torchrun(w, scratch / f"ddp{w}.json") for w in (1, 2)}
ddp_wall = time.perf_counter() - t0
for w, r in ddp.items():
    r["gap"] = gaps(r["path"])
    reached = np.flatnonzero(r["gap"] <= tolerance)
    r["steps_to_tol"] = int(reached[0]) + 1 if reached.size else None
    print(
        f"{w} process(es): {len(r['gap'])} steps, final gap {r['gap'][-1]:.1e}; steps to the tolerance: "
        f"{r['steps_to_tol']}; {r['allreduce_calls']} gradient all-reduces of "
        f"{r['allreduce_bytes'] / max(r['allreduce_calls'], 1):.0f} bytes"
    )
print(f"(both torchrun runs, process start-up included: {ddp_wall:.1f} s)")

# %% [markdown]
# ### glmlib's distributed Newton method
#
# `GLM(distributed=True)` runs in every process on that process's rows (the
# same rows `DistributedSampler` gave it). Each Newton iteration all-reduces
# $X^\top W X$ and $X^\top r$ and a few scalars (losses, step-size checks),
# then every process solves the same $(p+1) \times (p+1)$ system. We start
# two processes with `glmlib.distributed.launch` and count every collective;
# the same call also runs the straggler experiment further down.

# %%
t0 = time.perf_counter()
newton = launch(
    workers.newton_worker,
    2,
    args=(n_rows, n_features, seed, [(-1, 0.0), (1, straggler_delay)]),
    timeout=120,
)
launch_wall = time.perf_counter() - t0
plain = [runs[0] for runs in newton]  # per rank, nobody slowed
fit = plain[0]
newton_gaps = (fit["history"] - f_opt) / f_opt
newton_iters = int(np.flatnonzero(newton_gaps <= tolerance)[0]) + 1
print(
    f"2 processes: {fit['n_iter']} Newton iterations, final gap {newton_gaps[-1]:.1e}, "
    f"largest coefficient difference from the in-memory fit "
    f"{np.max(np.abs(fit['coef'] - reference.coef_)):.1e}; both ranks agree to "
    f"{np.max(np.abs(plain[0]['coef'] - plain[1]['coef'])):.0e}"
)
print(f"(launch, process start-up and a warm-up fit included: {launch_wall:.1f} s)")

# %%
gd = ddp[2]
gd_k = gd["steps_to_tol"] or len(gd["gap"])  # all steps when the tolerance was not reached
comparison = pd.DataFrame(
    {
        "iterations to the tolerance": [gd_k, newton_iters],
        "all-reduce calls": [gd_k, fit["allreduce_calls"]],
        "bytes all-reduced": [
            gd_k * gd["allreduce_bytes"] / gd["allreduce_calls"],
            fit["allreduce_bytes"],
        ],
        "seconds (compute + communication)": [
            gd["step_seconds"][:gd_k].sum(),
            max(r["seconds"] for r in plain),
        ],
        "seconds loading batches": [gd["load_seconds"][:gd_k].sum(), 0.0],
    },
    index=["DDP gradient descent (float64)", "glmlib Newton (distributed=True)"],
)
print(f"live, 2 gloo processes on this machine; tolerance {tolerance:g} (relative objective gap)")
if gd["steps_to_tol"] is None:
    print(
        f"gradient descent did not reach the tolerance in {gd_steps} steps: its row is a lower bound"
    )
comparison.round(4)

# %% [markdown]
# The GD row counts the steps up to the first one within the tolerance (and
# one gradient all-reduce per step); Newton's row is the whole fit, its
# first all-gathers (the processes agreeing that the shards are valid) aside.
# The DDP data loader gathers each batch by indexing the data set with a
# list of row numbers from the sampler; that time is listed apart, since a
# real input pipeline would prepare batches in background workers.

# %%
per_call = fit["allreduce_seconds"] / fit["allreduce_calls"]
say(
    f"Gradient descent needed {gd_k} steps, {gd_k / newton_iters:.0f} times Newton's {newton_iters} "
    f"iterations, and {gd_k / fit['allreduce_calls']:.1f} times as many all-reduces "
    f"({gd_k} against {fit['allreduce_calls']}). In bytes: {comparison.iloc[0, 2]:,.0f} for gradient "
    f"descent, {gd['allreduce_bytes'] / gd['allreduce_calls']:.0f} per gradient; "
    f"{fit['allreduce_bytes']:,} for Newton, {fit['allreduce_bytes'] / fit['allreduce_calls']:.0f} "
    f"per call on average (a Gram matrix is {8 * (n_features + 1) ** 2:,} bytes)."
)
say(
    f"Here one gloo all-reduce took {per_call * 1e3:.2f} ms on average. For p + 1 = {n_features + 1} "
    f"parameters every message is small, so its cost is latency, paid once per call: "
    f"the method with fewer synchronisations wins."
)

# %% [markdown]
# Why the second-order method needs so few synchronisations for a GLM: the
# logistic loss is smooth and strongly convex under a ridge penalty, and
# Newton's method converges quadratically near the optimum, so a handful of
# iterations reach any tolerance. Each iteration's information is summed
# exactly across processes, because $X^\top W X = \sum_s X_s^\top W_s X_s$
# over shards $s$: the distributed fit is the in-memory fit, up to the
# order in which the additions are made. Gradient descent shrinks the gap
# by a factor of about $1 - 1/\kappa$ per step ($\kappa$, the condition
# number of the Hessian; the correlated features make it large) and needs
# an all-reduce for every step. The price of Newton is $(p+1)^2$ numbers per all-reduce and a
# $(p+1)^3$ solve: for $p$ in the hundreds or low thousands that is small
# next to a pass over the rows; for very large $p$, quasi-Newton methods
# (`solver="lbfgs"`) trade back towards many cheap synchronisations.
#
# ### Batch size and synchronisation overhead
#
# Minibatch SGD takes one step, hence in data-parallel training one
# all-reduce, per batch. We simulate it in one process (NumPy, the same data
# and step size $1/L$, reshuffled every epoch) for the batch sizes in
# `batch_sizes` and the full batch, and record the objective gap after
# every epoch ({numref}`fig-sgd-batch`).

# %%
A_d = np.column_stack([np.ones(n_rows), X_d])
lr = workers.step_size(X_d, workers.ALPHA)


def gradient(theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Gradient of the objective on `rows` (mean log-loss + ridge on the coefficients)."""
    A = A_d[rows]
    g = A.T @ (expit(A @ theta) - y_d[rows]) / len(rows)
    g[1:] += workers.ALPHA * theta[1:]
    return g


sgd_rng = np.random.default_rng(seed)
sgd = {}
for batch in [*batch_sizes, n_rows]:
    theta, gap_per_epoch = np.zeros(n_features + 1), []
    for _ in range(sgd_epochs):
        order = sgd_rng.permutation(n_rows)
        for start in range(0, n_rows, batch):
            theta = theta - lr * gradient(theta, order[start : start + batch])
        gap_per_epoch.append(gaps(theta[None, :])[0])
    sgd[batch] = {"steps per epoch": -(-n_rows // batch), "gap": np.array(gap_per_epoch)}


# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for batch, r in sgd.items():
    label = "full batch" if batch == n_rows else f"batch {batch}"
    epochs = np.arange(1, sgd_epochs + 1)
    axes[0].semilogy(epochs, r["gap"], "o-", label=label)
    axes[1].loglog(epochs * r["steps per epoch"], r["gap"], "o-", label=label)
axes[0].set_xlabel("epochs (passes over the data)")
axes[1].set_xlabel("steps = all-reduces in data-parallel training")
for ax in axes:
    ax.set_ylabel("relative objective gap")
axes[0].set_title("Progress per pass over the data")
axes[1].set_title("Progress per synchronisation")
axes[1].legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-sgd-batch", fig)

# %% [markdown]
# ```{glue:figure} fig-sgd-batch
# :name: fig-sgd-batch
#
# Minibatch SGD on the chapter's logistic regression (simulated in one process):
# relative objective gap against passes over the data (left) and against steps,
# each an all-reduce in data-parallel training (right), per batch size.
# ```

# %%
sgd_target = 1e-2  # a loose accuracy, to count the synchronisations each batch size needs


def syncs_to_target(r: dict) -> int | None:
    """All-reduces until the first epoch end with a gap below sgd_target (None: not reached)."""
    hit = np.flatnonzero(r["gap"] <= sgd_target)
    return int(hit[0] + 1) * r["steps per epoch"] if hit.size else None


best_batch = min(sgd, key=lambda b: sgd[b]["gap"][-1])
say(
    f"After {sgd_epochs} epochs the smallest gap belongs to "
    + ("the full batch" if best_batch == n_rows else f"batch size {best_batch}")
    + f" ({sgd[best_batch]['gap'][-1]:.1e}); batch size {min(batch_sizes)} ends at "
    f"{sgd[min(batch_sizes)]['gap'][-1]:.1e} and the full batch at {sgd[n_rows]['gap'][-1]:.1e}."
)
glue("sgd_best", Markdown("the full batch" if best_batch == n_rows else f"batch size {best_batch}"))
glue("sgd_min_batch", min(batch_sizes))
glue("sgd_target", sgd_target)
for key, batch in [("sgd_syncs_small", min(batch_sizes)), ("sgd_syncs_full", n_rows)]:
    syncs = syncs_to_target(sgd[batch])
    glue(
        key,
        Markdown(
            f"{syncs:,}" if syncs else f"more than {sgd_epochs * sgd[batch]['steps per epoch']:,}"
        ),
    )
sgd_table = pd.DataFrame(
    {
        "steps per epoch": {b: r["steps per epoch"] for b, r in sgd.items()},
        f"gap after {sgd_epochs} epochs": {b: f"{r['gap'][-1]:.1e}" for b, r in sgd.items()},
        f"all-reduces to a gap of {sgd_target:g}": {
            b: syncs_to_target(r) or f"not in {sgd_epochs} epochs" for b, r in sgd.items()
        },
    }
).rename(index={n_rows: "full batch"})
sgd_table

# %% [markdown]
# Per pass over the data, the smallest gap here belonged to {glue:md}`sgd_best`.
# Small batches take many steps, each on a noisy gradient, and at a constant
# step size they stall at a level set by that noise; the full batch takes a
# single exact, short step per pass. Per synchronisation the picture changes:
# to reach a gap of {glue:text}`sgd_target:g`, batch size
# {glue:text}`sgd_min_batch:d` needed {glue:md}`sgd_syncs_small` all-reduces and
# the full batch {glue:md}`sgd_syncs_full`.
# In data-parallel training each step costs an all-reduce, so the batch
# size trades progress per pass against the number of synchronisations;
# large-batch training raises the step size with the batch (the "linear
# scaling rule" with warm-up of {cite}`goyal2017`) to recover progress per
# pass. For a GLM, Newton's method sidesteps the trade: full batch, and few
# steps.
#
# And the time of one step, one process against two (the torchrun runs
# above, full batch, each process with one thread):

# %%
step_table = pd.DataFrame(
    {
        f"{w} process(es)": {
            "rows per process": r["rows_per_step"],
            "median step (ms)": 1e3 * np.median(r["step_seconds"]),
            "median batch loading (ms)": 1e3 * np.median(r["load_seconds"]),
        }
        for w, r in ddp.items()
    }
)
print("live, this machine:")
step_table.round(3)

# %%
s1, s2 = (np.median(ddp[w]["step_seconds"]) for w in (1, 2))
say(
    f"Halving each process's rows changed the median step from {s1 * 1e3:.2f} ms to {s2 * 1e3:.2f} ms "
    f"({s1 / s2:.2f}x speed-up, against an ideal 2x)"
    + (
        f": at {n_features + 1} parameters and {n_rows // 2:,} rows per process a step's arithmetic "
        "is too small to pay for the all-reduce and for two processes sharing this machine's "
        f"{os.cpu_count()} cores."
        if s1 / s2 < 1.5
        else "."
    )
)

# %% [markdown]
# ## 4. Distributed-training concepts, measured small
#
# ### Synchronous data parallelism and the straggler
#
# In synchronous data parallelism every all-reduce waits for the last
# process to arrive, so an iteration takes as long as the slowest process.
# In the `launch` above, the second fit slowed process 1 on purpose: it
# slept `straggler_delay` seconds before each Gram all-reduce, i.e. once
# per Newton iteration. Process 0 did not sleep.

# %%
straggler = pd.DataFrame(
    [
        {
            "run": "nobody slowed" if r["slow_rank"] < 0 else f"rank {r['slow_rank']} slowed",
            "rank": r["rank"],
            "slept (s)": r["slept"],
            "fit (s)": r["seconds"],
            "inside all_reduce (s)": r["allreduce_seconds"],
        }
        for runs in newton
        for r in runs
    ]
).set_index(["run", "rank"])
print("live, 2 gloo processes:")
straggler.sort_index().round(3)

# %%
slow = {r["rank"]: r for runs in newton for r in runs if r["slow_rank"] == 1}
say(
    f"Rank 1 slept {slow[1]['slept']:.2f} s in all; rank 0 never slept, yet its fit took "
    f"{slow[0]['seconds']:.2f} s instead of {plain[0]['seconds']:.2f} s, and "
    f"{slow[0]['allreduce_seconds']:.2f} s of it were spent inside all_reduce, waiting for rank 1."
)

# %% [markdown]
# The whole group runs at the pace of its slowest member: a GPU with a
# throttled clock, a node with a busy neighbour, or a shard with more rows.
# Remedies are balancing the work (equal shards; glmlib accepts unequal
# ones but the largest sets the pace), or giving up synchrony.
#
# ### Asynchronous SGD and stale gradients
#
# Asynchronous schemes let each worker apply its gradient as soon as it is
# ready, against parameters that others have changed meanwhile: the
# gradient is *stale*. With $K$ workers updating in turn, each gradient was
# computed $\tau = K - 1$ updates ago. We simulate this in one process on
# the chapter's GLM: full-batch gradient descent in which step $t$ uses the
# gradient at $\theta_{t-\tau}$, for the delays in `staleness`, once with the
# step size $1/L$ and once with $1/(L(1 + \tau))$, for `stale_updates`
# updates each ({numref}`fig-stale`).

# %%
all_rows = np.arange(n_rows)
stale = {}
for tau in staleness:
    for shrink in (False, True):
        if tau == 0 and shrink:
            continue
        step = lr / (1 + tau) if shrink else lr
        thetas = [np.zeros(n_features + 1)]
        for t in range(stale_updates):
            g = gradient(thetas[max(t - tau, 0)], all_rows)
            thetas.append(thetas[-1] - step * g)
        stale[(tau, shrink)] = gaps(np.array(thetas[10::10]))  # after 10, 20, ... updates


# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for (tau, shrink), g in stale.items():
    for ax in axes if tau == 0 else [axes[int(shrink)]]:
        ax.semilogy(
            np.arange(10, stale_updates + 1, 10), np.clip(g, 1e-12, None), label=f"τ = {tau}"
        )
axes[0].set_title("step size 1/L")
axes[1].set_title("step size 1/(L(1 + τ))")
for ax in axes:
    ax.set_xlabel("updates")
    ax.legend(fontsize=8)
axes[0].set_ylabel("relative objective gap")
fig.suptitle("Gradient descent with gradients τ updates old (simulated)")
fig.tight_layout()
glue_figure("fig-stale", fig)

# %% [markdown]
# ```{glue:figure} fig-stale
# :name: fig-stale
#
# Gradient descent with gradients $\tau$ updates old (simulated on the chapter's
# logistic regression): relative objective gap against updates, at the step size
# $1/L$ (left) and $1/(L(1 + \tau))$ (right).
# ```

# %%
stale_table = pd.Series(
    {
        f"τ = {tau}, step {'1/(L(1+τ))' if shrink else '1/L'}": g[-1]
        for (tau, shrink), g in stale.items()
    },
    name=f"gap after {stale_updates} updates",
)
start_gap = gaps(np.zeros((1, n_features + 1)))[0]  # the gap at the starting point, theta = 0
say(
    "At the full step size 1/L: "
    + "; ".join(
        f"τ = {tau}: gap {stale[(tau, False)][-1]:.1e}"
        + (" (above the starting gap: diverged)" if stale[(tau, False)][-1] > start_gap else "")
        for tau in staleness
    )
    + f". The starting gap was {start_gap:.2f}."
)
tau_max = max(staleness)
glue("stale_tau_max", tau_max)
glue("stale_gap0", stale[(0, False)][-1])
glue("stale_gap_max", stale[(tau_max, False)][-1])
glue("stale_gap_max_shrunk", stale[(tau_max, True)][-1] if tau_max else stale[(0, False)][-1])
glue("stale_start_gap", start_gap)
diverged = [tau for tau in staleness if stale[(tau, False)][-1] > start_gap]
glue(
    "stale_verdict",
    Markdown(
        "delays of "
        + ", ".join(map(str, diverged))
        + " updates diverged (ended above the starting gap)"
        if diverged
        else "no delay diverged (every run ended below the starting gap)"
    ),
)
stale_table.map(lambda v: f"{v:.1e}")

# %% [markdown]
# At the full step size the gap after the last update was
# {glue:text}`stale_gap0:.1e` without delay and {glue:text}`stale_gap_max:.1e`
# with a delay of {glue:text}`stale_tau_max:d` updates (starting gap
# {glue:text}`stale_start_gap:.2f`); {glue:md}`stale_verdict`. Stale gradients make
# the iteration overshoot and oscillate: each update corrects for a gradient
# the parameters have already moved away from. Shrinking the step by
# $1 + \tau$ gave {glue:text}`stale_gap_max_shrunk:.1e` at the longest delay: it
# restores convergence, but slows it, the price asynchronous training pays for
# not waiting. HOGWILD!-style
# lock-free updates {cite}`niu2011` work when updates are sparse and rarely collide; a dense
# GLM gradient touches every coefficient at every step.
#
# ### Model parallelism, pipelines, FSDP and ZeRO: not for a GLM
#
# Model and pipeline parallelism split a model's layers or tensors across
# devices, and fully sharded data parallelism (FSDP) and ZeRO
# {cite}`rajbhandari2020` shard its parameters, gradients and optimizer
# state, because a large network's training state does not fit one device.
# A GLM's does, by orders of magnitude: its state is $p$ coefficients, and
# Newton's method adds a $p \times p$ matrix, while the data are $n p$
# numbers. The arithmetic, for the recorded problem's shape and for $p = 1000$:

# %%
glm_memory = pd.DataFrame(
    [
        {
            "n": n,
            "p": p,
            "coefficients (bytes)": 8 * (p + 1),
            "Newton's Hessian (bytes)": 8 * (p + 1) ** 2,
            "data X, float32 (bytes)": 4 * n * p,
        }
        for n, p in [(10**7, 100), (10**7, 1000), (10**9, 1000)]
    ]
).set_index(["n", "p"])
glm_memory["state / data"] = (glm_memory.iloc[:, 0] + glm_memory.iloc[:, 1]) / glm_memory.iloc[:, 2]
glm_memory.map(lambda v: f"{v:.2g}")

# %% [markdown]
# Sharding the state would save a few megabytes at most and add
# communication; the data are what must be split, and data parallelism does
# exactly that. For contrast, a network with $\Psi$ parameters trained with
# Adam in mixed precision keeps 2 bytes of half-precision weights, 2 of
# gradients and $K = 12$ of float32 master weights, momentum and variance per
# parameter. ZeRO's stages shard, over $N_d$ data-parallel devices, the
# optimizer state (stage 1), then the gradients (stage 2), then the weights
# (stage 3) {cite}`rajbhandari2020`; FSDP's full sharding corresponds to stage 3.

# %%
psi, devices_nd, K = 7e9, 8, 12  # a 7-billion-parameter network on 8 devices (an illustration)
zero = pd.Series(
    {
        "plain DDP: (2 + 2 + K) Ψ": (2 + 2 + K) * psi,
        "ZeRO-1: (2 + 2) Ψ + K Ψ / N_d": (2 + 2) * psi + K * psi / devices_nd,
        "ZeRO-2: 2 Ψ + (2 + K) Ψ / N_d": 2 * psi + (2 + K) * psi / devices_nd,
        "ZeRO-3 / FSDP: (2 + 2 + K) Ψ / N_d": (2 + 2 + K) * psi / devices_nd,
    },
    name=f"GB per device, Ψ = {psi:.0e}, N_d = {devices_nd}",
)
device_gb = 80  # memory of a large current accelerator (an H100), for comparison
fits_device = zero / 1e9 <= device_gb
glue("device_gb", device_gb)
glue("zero_plain_gb", zero.iloc[0] / 1e9)
glue("zero3_gb", zero.iloc[-1] / 1e9)
glue(
    "zero_verdict",
    Markdown(
        "sharding is the difference between fitting on such a device or not"
        if fits_device.iloc[-1] and not fits_device.iloc[0]
        else (
            "even plain DDP fits such a device"
            if fits_device.iloc[0]
            else "not even ZeRO-3 fits such a device"
        )
    ),
)
(zero / 1e9).round(1)

# %% [markdown]
# For the network, plain DDP needs {glue:text}`zero_plain_gb:.0f` GB per device
# and ZeRO-3 {glue:text}`zero3_gb:.0f` GB (before activations): on a
# {glue:text}`device_gb:d`-gigabyte device, {glue:md}`zero_verdict`. For the GLM above the
# model state is kilobytes to megabytes: plain data parallelism with an
# all-reduced Gram is the whole story.
#
# ### DistributedDataParallel, not DataParallel
#
# PyTorch has two data-parallel wrappers. `DataParallel` is one process
# driving all GPUs from threads: in every forward pass it copies the model to
# each GPU, scatters the batch, gathers the outputs on the first GPU and
# computes the loss there, with the Python interpreter's lock shared by all
# threads; it works within one machine only. `DistributedDataParallel` runs
# one process per device, replicates the model once at construction, and
# overlaps the all-reduce of gradient buckets with the backward pass
# {cite}`li2020`. PyTorch recommends DDP even on a single machine; the DDP
# run above made one all-reduce per step, of one bucket holding all
# $p + 1$ gradients.
#
# ### Mixed precision: one GradScaler, unscale before clipping
#
# In float16, small gradients underflow to zero. `torch.amp.GradScaler`
# multiplies the loss by a scale factor $S$ (initially $2^{16}$) before
# `backward()`, divides the gradients by $S$ before the optimizer step,
# skips steps whose gradients overflowed and adjusts $S$ as training goes:
# halving it after an overflow, doubling it after a run of clean steps
# ({glue:text}`growth_interval:,d` by default). That history is the scaler's state, so a run creates
# **one** scaler and uses it for every step; a scaler created per step
# forgets what it learned and starts again from $2^{16}$ each time.
#
# Gradient clipping must see the true gradients: call
# `scaler.unscale_(optimizer)` before `clip_grad_norm_`, then
# `scaler.step(optimizer)` (which does not unscale twice) and
# `scaler.update()`. GradScaler matters only for float16 on CUDA; bfloat16
# has float32's exponent range and needs no scaling, and on a CPU the loop
# below runs in float32 with the scaler disabled, so that it is exactly a
# plain training loop. On a CUDA device it runs in float16 under autocast
# with the scaler enabled.

# %%
use_amp = on_gpu
model = torch.nn.Linear(n_features, 1, dtype=torch.float32, device=device)
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
scaler = torch.amp.GradScaler("cuda" if use_amp else "cpu", enabled=use_amp)  # one for the run
# The clean steps before the scale doubles, as the constructor's default (a disabled
# scaler keeps no state to ask).
glue(
    "growth_interval", inspect.signature(torch.amp.GradScaler).parameters["growth_interval"].default
)
Xt = torch.as_tensor(X_d, dtype=torch.float32, device=device)
yt = torch.as_tensor(y_d, dtype=torch.float32, device=device)
for _ in range(50):
    optimizer.zero_grad()
    with torch.autocast(
        device_type="cuda" if use_amp else "cpu", dtype=torch.float16, enabled=use_amp
    ):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(Xt).squeeze(1), yt)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)  # true gradients from here on
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    scaler.step(optimizer)  # skipped if the gradients overflowed
    scaler.update()
print(
    f"50 clipped steps {'in float16 with the scaler' if use_amp else 'in float32, scaler disabled (CPU)'}: "
    f"log-loss {loss.item():.4f}; scale factor now {scaler.get_scale() if use_amp else 'n/a (disabled)'}"
)

# %% [markdown]
# What goes wrong when clipping sees the scaled gradient is plain
# arithmetic, which we can show on the CPU without pretending to run float16:
# clip the gradient of the chapter's objective at the starting point to norm
# 1, once correctly and once scaled by $S = 2^{16}$ first.

# %%
g0 = gradient(np.zeros(n_features + 1), all_rows)
S, max_norm = 2.0**16, 1.0


def clip(v: np.ndarray) -> np.ndarray:
    return v * min(1.0, max_norm / np.linalg.norm(v))


right = clip(g0)  # unscale first, then clip
wrong = clip(S * g0) / S  # clip the scaled gradient, unscale afterwards
say(
    f"Gradient norm {np.linalg.norm(g0):.3f}. Unscaled, then clipped to {max_norm:g}: the step uses "
    f"norm {np.linalg.norm(right):.3f}. Clipped while scaled, then unscaled: norm "
    f"{np.linalg.norm(wrong):.2e}, {np.linalg.norm(right) / np.linalg.norm(wrong):,.0f} times too "
    "small: training silently stalls."
)

# %% [markdown]
# ## 5. Out of core: Dask and Parquet
#
# When $X$ does not fit in memory, it can stay on disk. `GLM().fit` accepts
# a Dask array or DataFrame and streams it partition by partition: every
# product over the rows is one Dask computation that reads the files,
# computes each partition's share of $X^\top v$ or $X^\top W X$, and adds
# the shares up — the same reduction as across processes, with partitions
# in place of processes. Only vectors of length $n$ (the response, the
# linear predictor, the weights) and $p \times p$ matrices stay in memory.
#
# The chapter writes `parquet_files` Parquet files of `parquet_rows` rows
# each (the same kind of data as in the multi-process sections) to a temporary
# directory.

# %%
parquet_dir = scratch / "parquet"
parquet_dir.mkdir()
for i in range(parquet_files):
    Xi, yi = workers.make_data(parquet_rows, n_features, seed=seed * 10_000 + i)
    part = pd.DataFrame(Xi, columns=[f"x{j}" for j in range(n_features)]).assign(y=yi)
    part.to_parquet(parquet_dir / f"part-{i:04d}.parquet", index=False)
data_bytes = parquet_files * parquet_rows * (n_features + 1) * 8
print(
    f"{parquet_files} files x {parquet_rows:,} rows = {parquet_files * parquet_rows:,} rows, "
    f"{data_bytes / 1e6:.1f} MB as float64 in memory, {sum(f.stat().st_size for f in parquet_dir.iterdir()) / 1e6:.1f} MB on disk"
)

# %%
frame = dd.read_parquet(str(parquet_dir / "*.parquet"))
features = [c for c in frame.columns if c != "y"]
t0 = time.perf_counter()
dask_fit = glmlib.GLM("binomial", alpha=workers.ALPHA).fit(frame[features], frame["y"])
dask_seconds = time.perf_counter() - t0

in_memory = pd.read_parquet(parquet_dir)
t0 = time.perf_counter()
memory_fit = glmlib.GLM("binomial", alpha=workers.ALPHA).fit(
    in_memory[features].to_numpy(), in_memory["y"].to_numpy()
)
memory_seconds = time.perf_counter() - t0
glue("dask_coef_diff", np.max(np.abs(dask_fit.coef_ - memory_fit.coef_)))
glue("dask_seconds", dask_seconds)
glue("memory_seconds", memory_seconds)
say(
    f"Dask fit: {dask_seconds:.2f} s over {frame.npartitions} partitions; in-memory fit: "
    f"{memory_seconds:.2f} s. Largest coefficient difference {np.max(np.abs(dask_fit.coef_ - memory_fit.coef_)):.1e}, "
    f"intercepts differ by {abs(dask_fit.intercept_ - memory_fit.intercept_):.1e}; "
    f"{dask_fit.n_iter_} and {memory_fit.n_iter_} iterations."
)

# %% [markdown]
# The two fits agree to {glue:text}`dask_coef_diff:.0e`, rounding: the partition
# sums add the same numbers in a different order. The Dask fit took
# {glue:text}`dask_seconds:.2f` s against {glue:text}`memory_seconds:.2f` s in
# memory; every pass re-reads and decodes the files.
#
# What out-of-core buys is memory. We fit each way in a fresh Python
# process and read its peak resident memory after the imports, after
# loading (Dask: only the lazy frame; in memory: the whole array) and after
# the fit. The peak is the kernel's high-water mark `VmHWM` of the process
# (Linux's `/proc/self/status`). `resource.getrusage(...).ru_maxrss`, the
# portable high-water mark, is printed too, and shows a trap: Linux carries
# it over from the process that started this one, so a child of a large
# Jupyter kernel reports at least the kernel's memory. {numref}`fig-dask-memory`
# shows the peaks by stage.


# %%
def peak_memory(variant: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", workers.__name__, "peak-memory", variant, str(parquet_dir)],
        capture_output=True, text=True, cwd=scratch, env=os.environ | {"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"peak-memory {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


memory = {variant: peak_memory(variant) for variant in ("dask", "memory")}
names = {"dask": "Dask (read_parquet)", "memory": "in memory (NumPy)"}
stages = {
    "after_imports": "after imports",
    "after_load": "after loading",
    "after_fit": "after the fit",
}
mark = "hwm" if "hwm" in memory["dask"]["stages"]["after_fit"] else "maxrss"  # VmHWM on Linux
memory_table = pd.DataFrame(
    {names[v]: {stages[k]: r["stages"][k][mark] / 1e6 for k in stages} for v, r in memory.items()}
).T
memory_table["ru_maxrss after the fit"] = [
    r["stages"]["after_fit"]["maxrss"] / 1e6 for r in memory.values()
]
print(f"live, peak resident memory in MB of a fresh process on this machine ({mark}):")
memory_table.round(1)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(7.5, 4))
positions = np.arange(len(stages))
for offset, (name, r) in zip((-0.19, 0.19), memory_table.iterrows(), strict=True):
    ax.bar(positions + offset, r[list(stages.values())].to_numpy(), width=0.38, label=name)
imports = memory_table["after imports"].min()
ax.axhline(imports + data_bytes / 1e6, color="k", ls=":", label="imports + the data as float64")
ax.set_xticks(positions, list(stages.values()))
ax.set_xlabel("stage of the fitting process")
ax.set_ylabel("peak resident memory (MB)")
ax.set_title(f"Fitting {parquet_files * parquet_rows:,} rows from Parquet (live)")
ax.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-dask-memory", fig)

# %% [markdown]
# ```{glue:figure} fig-dask-memory
# :name: fig-dask-memory
#
# Peak resident memory of a fresh process fitting the Parquet data, live on the
# machine that ran this chapter: after the imports, after loading (Dask: the lazy
# frame; NumPy: the whole array) and after the fit, with the imports plus the
# data as float64 for reference (dotted).
# ```

# %%
growth = memory_table["after the fit"] - memory_table["after imports"]
say(
    f"The imports alone (pandas, Dask, glmlib, NumPy) take {imports:.0f} MB. Beyond them, the Dask "
    f"fit raised the peak by {growth.iloc[0]:.0f} MB and the in-memory fit by {growth.iloc[1]:.0f} MB; "
    f"the data are {data_bytes / 1e6:.0f} MB as float64. Largest coefficient difference between the "
    f"two processes' fits: {np.max(np.abs(np.subtract(memory['dask']['coef'], memory['memory']['coef']))):.1e}."
)

# %% [markdown]
# An honest caveat: at the sizes of a quick run the data are small next to
# the libraries, so the imports dominate the peak and the difference
# between the two ways is small, of the order of what allocators keep
# around. The in-memory fit must hold all of $X$ at once (and, while
# loading, pandas' frames as well); the Dask fit holds the $n$-vectors, the
# partitions in flight and whatever the Parquet reader's and Python's
# allocators retain, so its peak grows more slowly with the data, but not
# to nothing. `benchmarks/bench_dask.py` measures both at gigabyte sizes.
#
# ## Summary

# %%
recorded_gpu_speedup = engine["glmlib_cpu_seconds"] / engine["fit_seconds"]
lines = [
    f"- **cuBLAS GEMM (live, {device}):** relative error of the float32 product against NumPy's "
    f"float64 product {gemm_live[next(iter(gemm_live))]['relative error vs NumPy float64']:.1e}.",
    f"- **Roofline (recorded, H200):** the exact float32 Gram at p = {p_e} needs "
    f"{floor_fp32 * 1e3:.2f} ms of arithmetic against {read_x * 1e3:.2f} ms to read X: arithmetic-bound; "
    f"TF32 or bfloat16 Tensor Cores would make it memory-bound.",
    f"- **One GPU (recorded, H200):** n = {n_e:.0e}, p = {p_e} logistic fit in {engine['fit_seconds']:.2f} s, "
    f"{engine['glum_cpu_seconds'] / engine['fit_seconds']:.1f}x glum and {recorded_gpu_speedup:.1f}x glmlib "
    "on 16 CPU cores.",
    f"- **Many processes (live, 2 gloo processes):** to a relative gap of {tolerance:g}, DDP gradient "
    f"descent took {gd_k} steps and {gd_k} all-reduces; glmlib's distributed Newton {newton_iters} iterations and "
    f"{fit['allreduce_calls']} all-reduces, with coefficients equal to the in-memory fit to "
    f"{np.max(np.abs(fit['coef'] - reference.coef_)):.0e}.",
    f"- **Straggler (live):** one process sleeping {slow[1]['slept']:.2f} s in all made the other's fit "
    f"take {slow[0]['seconds']:.2f} s instead of {plain[0]['seconds']:.2f} s.",
    f"- **Stale gradients (simulated):** at the full step size, a delay of {max(staleness)} updates left a "
    f"gap of {stale[(max(staleness), False)][-1]:.1e} after {stale_updates} updates, against "
    f"{stale[(0, False)][-1]:.1e} without delay.",
    f"- **Out of core (live):** the Dask fit on {parquet_files} Parquet files matched the in-memory fit to "
    f"{np.max(np.abs(dask_fit.coef_ - memory_fit.coef_)):.0e}.",
]
display(Markdown("\n".join(lines)))

# %% [markdown]
# For a GLM, scaling out is a matter of summing the right $p \times p$
# matrices in the right places: cuBLAS forms them on one device, an
# all-reduce adds them across devices or processes, and Dask adds them over
# partitions read from disk. A second-order method keeps the number of those
# sums small, which is what makes the communication cheap; the Gram's
# arithmetic, not memory traffic, is what limits a float32 fit on a modern
# GPU.
#
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
shutil.rmtree(scratch, ignore_errors=True)  # the DDP results and the Parquet files
glmlib.show_versions(
    ["torch", "dask", "pyarrow", "matplotlib"], device=device, seed=seed, quick=quick
)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
