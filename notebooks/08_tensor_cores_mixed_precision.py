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
# # Tensor Cores and mixed precision
#
# A GPU's matrix units multiply low-precision numbers many times faster than
# it multiplies float64 ones. This chapter asks what a GLM fit can take from
# that without giving up the answer it would get in float64: which products
# may be rounded, which must not, what the speed is bounded by, and how to
# fit data larger than the GPU's memory. It also runs the research's two
# mixed-precision listings in current PyTorch, and measures inference.
#
# Everything below that is labelled *live* is computed when the chapter runs,
# on the machine printed at the end (the book is built on CPUs). GPU figures
# are loaded from results recorded by `make gpu-check` on the project's lent
# GPU, each labelled with the device, date and commit; a GPU figure that was
# never recorded is named as not measured.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw; `quick=True` shrinks every problem so that
# the chapter runs in well under a minute; `device` is where the PyTorch
# parts run (the mixed-precision GLM fits always run on the CPU here, where
# the recorded GPU figures come from elsewhere).

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small problems, so the chapter runs in well under a minute
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
n_rows = 40_000  # rows of the mixed-precision IRLS problems (quick: 8,000)
n_features = 20  # columns of the mixed-precision IRLS problems
n_kappas = 9  # points of the error-against-condition-number curve, from 1 to 1e4 (quick: 5)
amp_epochs = 6  # epochs of the Listing 8.1 network, each precision (quick: 2)
stream_rows = 200_000  # rows of the streaming measurement (quick: 40,000)
cpu_threads = 1  # BLAS and torch threads (timings on a shared machine use one)

# %%
# A bad parameter (say papermill -p n_kappas 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, check_parameters

check_parameters(
    globals(),
    n_rows=Int(1_000),
    n_features=Int(2, 500),
    n_kappas=Int(2, 50),
    amp_epochs=Int(1),
    stream_rows=Int(1_000),
    cpu_threads=Int(1),
)

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import pandas as pd
import torch
from IPython.display import Markdown, display
from torch.utils.data import TensorDataset
from tqdm import TqdmWarning

warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import glmlib
from glmlib import recorded
from glmlib.book import glue, glue_figure, limit_blas_threads
from glmlib.design.mixed import round_to_bfloat16
from glmlib.export import onnx_feed, to_onnx
from glmlib.nn import GLMHead, GLMLoss, TrainConfig, init_weights, mlp, train

start_time = time.perf_counter()
if quick:
    n_rows = min(n_rows, 8_000)
    n_kappas = min(n_kappas, 5)
    amp_epochs = min(amp_epochs, 2)
    stream_rows = min(stream_rows, 40_000)
device = glmlib.resolve_device(device)
limit_blas_threads(cpu_threads)
torch.set_num_threads(cpu_threads)
torch.manual_seed(seed)
rng = np.random.default_rng(seed)


def best_time(fn, repeats=3):
    """Best wall time of `repeats` calls (and the last result)."""
    best, out = np.inf, None
    for _ in range(repeats):
        tic = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - tic)
    return best, out


# %% [markdown]
# ## What Tensor Cores are
#
# Tensor Cores are matrix-multiply-accumulate units: each instruction
# multiplies small tiles of two matrices and adds the result to an
# accumulator in a wider format. NVIDIA introduced them with Volta, for
# FP16 inputs with FP32 accumulation {cite}`nvidia_volta2017`; Ampere added
# TF32 (float32's exponent with float16's ten-bit fraction, a drop-in for
# float32 products) and BF16 (float32's exponent, a seven-bit fraction), and
# FP64 Tensor Cores {cite}`nvidia_a100_2020`; Hopper added FP8
# {cite}`nvidia_h100_2022`. The lent GPU is an H200, a Hopper part with more
# and faster memory than the H100. Its datasheet's peak rates
# {cite}`nvidia_h200` are the table below. The datasheet quotes the
# Tensor-Core rates of the reduced formats with 2:4 structured sparsity,
# which a dense Gram matrix cannot use, so the table halves them.

# %%
# The H200 (SXM) datasheet, https://www.nvidia.com/en-us/data-center/h200/ (NVIDIA, 2024).
# "sparse" marks rates quoted with 2:4 structured sparsity; dense = half of them.
H200_DATASHEET = pd.DataFrame(
    [
        ("FP64", "vector units", 34, False, 8),
        ("FP64", "Tensor Cores", 67, False, 8),
        ("FP32", "vector units", 67, False, 4),
        ("TF32", "Tensor Cores", 989, True, 4),
        ("BF16", "Tensor Cores", 1979, True, 2),
        ("FP16", "Tensor Cores", 1979, True, 2),
        ("FP8", "Tensor Cores", 3958, True, 1),
    ],
    columns=["format", "unit", "quoted TFLOP/s", "quoted with sparsity", "bytes per value"],
)
H200_DATASHEET["dense TFLOP/s"] = H200_DATASHEET["quoted TFLOP/s"] / np.where(
    H200_DATASHEET["quoted with sparsity"], 2, 1
)
H200_MEMORY = {"HBM3e GB": 141, "bandwidth TB/s": 4.8}
display(H200_DATASHEET)
print(f"memory: {H200_MEMORY['HBM3e GB']} GB at {H200_MEMORY['bandwidth TB/s']} TB/s")

peak = dict(
    zip(
        H200_DATASHEET["format"] + " " + H200_DATASHEET["unit"],
        H200_DATASHEET["dense TFLOP/s"],
        strict=True,
    )
)
bf16_over_fp64 = peak["BF16 Tensor Cores"] / peak["FP64 Tensor Cores"]
glue("bf16_over_fp64", bf16_over_fp64)

# %% [markdown]
# On paper BF16 Tensor Cores multiply {glue:text}`bf16_over_fp64:.0f` times
# faster than FP64 Tensor Cores. The recorded benchmark timed large square
# products in each format on the lent H200; the next cell sets its rates
# beside the datasheet's.

# %%
gram_record = recorded.load("gpu/gram")
gram_caption = recorded.caption(gram_record)
rows = []
for mode, fmt in [
    ("float64", "FP64 Tensor Cores"),
    ("float32", "FP32 vector units"),
    ("tf32", "TF32 Tensor Cores"),
    ("bfloat16", "BF16 Tensor Cores"),
    ("float16", "FP16 Tensor Cores"),
]:
    rate = gram_record["gemm"][f"torch_{mode}"]["tflops"]
    rows.append(
        {
            "torch mode": mode,
            "datasheet (dense)": peak[fmt],
            "recorded TFLOP/s": rate,
            "share of datasheet": rate / peak[fmt],
            "relative error": gram_record["gemm"][f"torch_{mode}"]["rel_error"],
        }
    )
gemm_vs_sheet = pd.DataFrame(rows).set_index("torch mode")
print(f"GEMM of size {gram_record['gemm_size']}, {gram_caption}")
display(gemm_vs_sheet.style.format("{:.3g}"))
glue("gemm_share_bf16", gemm_vs_sheet.loc["bfloat16", "share of datasheet"] * 100)
glue("gemm_share_fp64", gemm_vs_sheet.loc["float64", "share of datasheet"] * 100)
glue("gram_caption", gram_caption)

# %% [markdown]
# The recorded bfloat16 product reached {glue:text}`gemm_share_bf16:.0f`% of
# the datasheet's dense BF16 rate and the float64 product
# {glue:text}`gemm_share_fp64:.0f`% of FP64's ({glue:text}`gram_caption`).
#
# ## When reduced precision helps: the roofline of a Gram matrix
#
# [The scaling chapter](06_scaling_cublas_nccl.ipynb) introduces the
# roofline model and cuBLAS; here it answers one question. A Newton step of
# a GLM forms $X^\top W X$: $2np^2$ floating-point operations on $np$ values
# of $X$ read from memory, an arithmetic intensity of $2p/b$ FLOP per byte
# for $b$ bytes per value. A pass takes at least
# $\max(2np^2/\text{peak},\ npb/\text{bandwidth})$. Reduced precision lowers
# both terms: fewer bytes, a higher peak. But while $p$ is below the ridge
# $p^{\star} = b\,\text{peak} / (2\,\text{bandwidth})$ the pass is bound by memory,
# and only the bytes count.

# %%
bandwidth = H200_MEMORY["bandwidth TB/s"] * 1e12
formats = {
    "float64": ("FP64 Tensor Cores", 8),
    "float32": ("FP32 vector units", 4),
    "tf32": ("TF32 Tensor Cores", 4),
    "bfloat16": ("BF16 Tensor Cores", 2),
}
ridge = {mode: b * peak[fmt] * 1e12 / (2 * bandwidth) for mode, (fmt, b) in formats.items()}
print("ridge p* (columns above which a Gram pass is compute-bound on the datasheet H200):")
for mode, value in ridge.items():
    print(f"  {mode:9s} p* = {value:,.0f}")
glue("ridge_fp64", ridge["float64"])
glue("ridge_bf16", ridge["bfloat16"])
glue("ridge_fp32", ridge["float32"])

# %% tags=["remove-output"]
measured = pd.DataFrame(gram_record["gram"])
n_gram = int(measured["n"].iloc[0])
ps = np.logspace(1, 4, 200)
fig, ax = plt.subplots(figsize=(6.5, 4.2))
colours = {"float64": "C0", "float32": "C1", "tf32": "C2", "bfloat16": "C3"}
for mode, (fmt, b) in formats.items():
    bound = np.maximum(2 * n_gram * ps**2 / (peak[fmt] * 1e12), n_gram * ps * b / bandwidth)
    ax.loglog(ps, bound * 1e3, color=colours[mode], label=f"{mode}: datasheet bound")
    here = measured[measured["mode"] == mode]
    ax.loglog(here["p"], here["seconds"] * 1e3, "o", color=colours[mode])
ax.set_xlabel("columns p")
ax.set_ylabel(f"one Gram pass at n = {n_gram:.0e} (ms)")
ax.set_title("Gram pass time against p: bounds (lines) and recorded H200 passes (dots)")
ax.legend(fontsize=8)
ax.text(0.01, 0.01, gram_caption, transform=ax.transAxes, fontsize=7, color="0.3")
glue_figure("fig-gram-bounds", fig)

# %%

p_small = int(measured["p"].min())
p_large = int(measured["p"].max())


def recorded_seconds(mode, p):
    return float(measured[(measured["mode"] == mode) & (measured["p"] == p)]["seconds"].iloc[0])


def bound_seconds(mode, p):
    fmt, b = formats[mode]
    return max(2 * n_gram * p**2 / (peak[fmt] * 1e12), n_gram * p * b / bandwidth)


def pass_sentence(p):
    """What the recorded passes at p columns show, worded by the numbers."""
    gain = recorded_seconds("float32", p) / recorded_seconds("bfloat16", p)
    over = recorded_seconds("bfloat16", p) / bound_seconds("bfloat16", p)
    fastest = min(formats, key=lambda mode: recorded_seconds(mode, p))
    text = (
        f"At p = {p:,} the recorded bfloat16 pass took {recorded_seconds('bfloat16', p) * 1e3:.1f} ms, "
        f"{gain:.2f} times {'faster' if gain >= 1 else 'slower'} than float32 and {over:.0f} times "
        f"its datasheet bound; the fastest format was {fastest}. "
    )
    if over > 3:
        text += (
            "So far above the bound, the pass is limited neither by reading X nor by the "
            "Tensor Cores' rate but by other costs of the kernel (candidates, not profiled "
            "here: its row blocks, their scaling by the square root of the weights, the "
            "float32 result of each block)"
            + (", and reduced precision gains little." if gain < 1.5 else ".")
        )
    return text


display(Markdown(" ".join(pass_sentence(p) for p in (p_small, p_large))))

# %% [markdown]
# ```{glue:figure} fig-gram-bounds
# :name: fig-gram-bounds
#
# Time of one pass of $X^\top W X$ against the number of columns: lines are
# the datasheet bound $\max(\text{FLOP}/\text{peak},\ \text{bytes}/\text{bandwidth})$
# of each format, dots the recorded passes of glmlib's Gram kernel on the
# lent H200 (labelled with device, date and commit).
# ```
#
# On the datasheet the ridge lies at $p^{\star}$ = {glue:text}`ridge_fp64:.0f`
# columns for float64, {glue:text}`ridge_fp32:.0f` for float32 and
# {glue:text}`ridge_bf16:.0f` for bfloat16. {numref}`fig-gram-bounds` sets
# the recorded passes against these bounds, and the sentences under the
# previous cell read them: where the dots lie far above the lines, a faster
# format or a faster unit changes little.
#
# ## Listing 8.1 in current PyTorch: automatic mixed precision
#
# The research's Listing 8.1 trains a network with `torch.cuda.amp`, which
# current PyTorch replaces by `torch.amp.autocast(device_type, dtype)` and
# `torch.amp.GradScaler(device_type)`. The scaler exists for float16, whose
# small exponent range lets small gradients underflow
# {cite}`micikevicius2018`; bfloat16 has float32's exponent range and needs
# none. The loop below is the
# listing; `glmlib.nn.train` runs the same steps with
# `TrainConfig(amp="bfloat16")` or `TrainConfig(amp="float16")`.


# %%
def amp_step(model, loss_fn, optimizer, scaler, batch, device_type, dtype):
    """One optimizer step under autocast (Listing 8.1): the forward pass in `dtype`,
    the loss and the weights in float32, the gradient scaled when `scaler` is enabled."""
    *inputs, y, w = batch
    optimizer.zero_grad(set_to_none=True)
    with torch.amp.autocast(device_type, dtype=dtype):
        eta = model(*inputs)
    loss = loss_fn(eta.float(), y, w)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach())


# %% [markdown]
# The network is a neural GLM for claim counts: a multilayer perceptron
# whose last layer is a Poisson GLM output layer (log link, an offset for
# exposure; `glmlib.nn.GLMHead`), trained on simulated policies with a
# non-linear true frequency. Both runs start from the same weights and see
# the same batches.


# %%
class FrequencyNet(torch.nn.Module):
    def __init__(self, p, seed):
        super().__init__()
        self.body = mlp(p, (64, 32), "tanh")
        self.head = GLMHead(32, "poisson")
        init_weights(self, "tanh", torch.Generator().manual_seed(seed))

    def forward(self, x, offset):
        return self.head(self.body(x), offset)


def frequency_data(n, p=8, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, p))
    exposure = g.uniform(0.2, 1.0, n)
    eta = -1.5 + np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] - 0.3 * X[:, 3] ** 2
    y = g.poisson(exposure * np.exp(eta))
    cols = (X, np.log(exposure), y, np.ones(n))
    return TensorDataset(*(torch.as_tensor(a, dtype=torch.float32) for a in cols))


n_amp = 4_000 if quick else 40_000
amp_train, amp_val = frequency_data(n_amp, seed=seed), frequency_data(n_amp // 4, seed=seed + 1)

# The listing itself, a few steps in bfloat16 on this chapter's device:
listing_model = FrequencyNet(8, seed).to(device)
optimizer = torch.optim.AdamW(listing_model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler(torch.device(device).type, enabled=False)  # bfloat16: no scaler
batch = [t[:512].to(device) for t in amp_train.tensors]
losses = [
    amp_step(
        listing_model,
        GLMLoss("poisson"),
        optimizer,
        scaler,
        batch,
        torch.device(device).type,
        torch.bfloat16,
    )
    for _ in range(5)
]
print("Listing 8.1, five bfloat16 steps, mean deviance:", np.round(losses, 4))

amp_runs = {}
for amp in (False, "bfloat16"):
    model = FrequencyNet(8, seed)
    tic = time.perf_counter()
    res = train(
        model,
        GLMLoss("poisson"),
        amp_train,
        amp_val,
        TrainConfig(
            max_epochs=amp_epochs,
            batch_size=256,
            learning_rate=3e-3,
            device=device,
            amp=amp,
            patience=None,
            seed=seed,
        ),
    )
    seconds = time.perf_counter() - tic
    amp_runs["float32" if amp is False else amp] = {
        "seconds per epoch": seconds / amp_epochs,
        "validation deviance": res.best_value,
        "start deviance": res.start_val,
    }
amp_table = pd.DataFrame(amp_runs).T
display(amp_table.style.format("{:.4g}"))
amp_speed = amp_runs["float32"]["seconds per epoch"] / amp_runs["bfloat16"]["seconds per epoch"]
amp_dev_gap = (
    amp_runs["bfloat16"]["validation deviance"] / amp_runs["float32"]["validation deviance"] - 1
)
glue("amp_device", device)
glue("amp_epochs", amp_epochs)
glue("amp_speed", amp_speed)
glue("amp_speed_word", "faster" if amp_speed > 1 else "slower")
glue("amp_speed_ratio", amp_speed if amp_speed > 1 else 1 / amp_speed)
glue("amp_dev_gap_pct", 100 * amp_dev_gap)

# %% [markdown]
# Live, on {glue:text}`amp_device` over {glue:text}`amp_epochs` epochs,
# bfloat16 autocast was {glue:text}`amp_speed_ratio:.2f` times
# {glue:text}`amp_speed_word` per epoch than float32, and its validation
# deviance differs from float32's by {glue:text}`amp_dev_gap_pct:+.2f`%.
# On the CPU autocast adds conversions between the formats; whether it
# pays depends on the processor's bfloat16 instructions and on the size of
# the network. The speed of the listing on the GPU was not measured (there
# is no recorded result).
#
# ## Listing 8.2: a reduced-precision product with float32 accumulation
#
# The research's Listing 8.2 calls cuBLAS's `cublasGemmEx` with FP16 inputs
# and an FP32 result. In PyTorch this is `torch.mm(a, b, out_dtype=torch.float32)`
# on bfloat16 or float16 tensors (CUDA). Where that kernel is missing (the
# CPU), the same arithmetic is emulated exactly: inputs rounded to the
# reduced format, then a float32 product, since the product of two bfloat16
# or float16 numbers is exact in float32. The check is against float64.


# %%
def gemm_ex(a, b, dtype):
    """a @ b with `dtype` inputs and a float32 result (cuBLAS GemmEx style), and how it ran."""
    a16, b16 = a.to(dtype), b.to(dtype)
    try:
        return torch.mm(a16, b16, out_dtype=torch.float32), "torch.mm(out_dtype=float32)"
    except (NotImplementedError, RuntimeError, TypeError):
        return a16.float() @ b16.float(), "emulated: rounded inputs, float32 product"


m = 256 if quick else 1024
ga = torch.Generator().manual_seed(seed)
A64 = torch.randn(m, m, generator=ga, dtype=torch.float64)
B64 = torch.randn(m, m, generator=ga, dtype=torch.float64)
exact = A64 @ B64


def rel_err(c):
    return float((c.double().cpu() - exact).abs().max() / exact.abs().max())


A, B = A64.to(device), B64.to(device)
gemm_rows = {"float32 inputs, float32 result": rel_err(A.float() @ B.float())}
for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
    c, how = gemm_ex(A, B, dtype)
    gemm_rows[f"{name} inputs, float32 result ({how})"] = rel_err(c)
    gemm_rows[f"{name} inputs, {name} result"] = rel_err(A.to(dtype) @ B.to(dtype))
    rounded_only = A64.to(dtype).double() @ B64.to(dtype).double()
    gemm_rows[f"{name} inputs, exact product (the rounding of the inputs alone)"] = rel_err(
        rounded_only
    )
gemm_table = pd.Series(gemm_rows, name="max |C - C64| / max |C64|").to_frame()
display(gemm_table.style.format("{:.2e}"))
glue("gemm_m", m)
glue(
    "gemm_bf16_f32",
    gemm_rows[[k for k in gemm_rows if k.startswith("bfloat16 inputs, float32")][0]],
)
glue(
    "gemm_bf16_inputs",
    gemm_rows["bfloat16 inputs, exact product (the rounding of the inputs alone)"],
)
glue("gemm_bf16_bf16", gemm_rows["bfloat16 inputs, bfloat16 result"])

# %% [markdown]
# Live, for random $m \times m$ matrices with $m$ = {glue:text}`gemm_m`, the
# bfloat16 product with a float32 result is off by
# {glue:text}`gemm_bf16_f32:.1e` (relative to the largest entry), nearly all
# of it from rounding the inputs ({glue:text}`gemm_bf16_inputs:.1e` for the
# exact product of the rounded inputs); returning the result in bfloat16
# adds its own rounding ({glue:text}`gemm_bf16_bf16:.1e`). The accumulation
# in float32 is not where the error comes from: the inputs are.
#
# ## Mixed-precision IRLS: float64 answers from a bfloat16 Hessian
#
# A Newton (IRLS) step solves $H\,\delta = -g$ with the Fisher matrix
# $H = X^\top W X$ and the gradient $g = X^\top(\ldots)$. The fixed point is
# where $g = 0$, whatever matrix is used in place of $H$, as long as the
# iteration still contracts. `GLM(precision="mixed")` therefore forms $H$
# from a bfloat16 copy of $X$ (the $np^2$ work Tensor Cores do fastest),
# factors it in float64, and computes the gradient, the deviance and the
# convergence test from $X$ itself. This is mixed-precision iterative
# refinement, established for dense linear systems {cite}`haidar2018` and
# analysed for weighted least squares, IRLS's inner problem,
# {cite}`carson_oktay2024`. Each step multiplies the error by about the
# spectral radius of $\tilde H^{-1}(\tilde H - H)$; glmlib measures it at
# the first iteration and falls back to full precision, with a
# `MixedPrecisionWarning`, when it is too large.
#
# The curve below fits logistic regressions whose $X$ has a chosen
# condition number $\kappa$ (singular values spread evenly on a log scale),
# in float64 and in mixed precision, and compares the coefficients. On a
# CPU the bfloat16 copy is emulated in float32 with the same numbers, so
# this measures the accuracy, not the speed.


# %%
def conditioned(kappa, n, p, seed):
    g = np.random.default_rng(seed)
    Q1, _ = np.linalg.qr(g.standard_normal((n, p)))
    Q2, _ = np.linalg.qr(g.standard_normal((p, p)))
    X = Q1 * np.logspace(-np.log10(kappa), 0, p) @ Q2.T * np.sqrt(n)
    eta = X @ g.uniform(-1, 1, p)
    eta /= eta.std()
    y = (g.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def rel_coef_error(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


kappas = np.logspace(0, 4, n_kappas)
curve = []
for kappa in kappas:
    X, y = conditioned(kappa, n_rows, n_features, seed)
    ref = glmlib.GLM("binomial", tol=1e-10).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", glmlib.MixedPrecisionWarning)
        mixed = glmlib.GLM("binomial", tol=1e-10, precision="mixed").fit(X, y)
    curve.append(
        {
            "kappa": kappa,
            "error vs float64": rel_coef_error(mixed.coef_, ref.coef_),
            "iterations (mixed)": mixed.n_iter_,
            "iterations (float64)": ref.n_iter_,
            "refinement factor": mixed.mixed_contraction_,
            "precision used": mixed.precision_,
            "fell back": any(issubclass(w.category, glmlib.MixedPrecisionWarning) for w in caught),
        }
    )
curve = pd.DataFrame(curve)
display(
    curve.style.format(
        {"kappa": "{:.3g}", "error vs float64": "{:.1e}", "refinement factor": "{:.2g}"}
    )
)

# %% tags=["remove-output"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
kept = curve[~curve["fell back"]]
back = curve[curve["fell back"]]
ax1.loglog(kept["kappa"], kept["error vs float64"].clip(lower=1e-17), "o-", label="mixed kept")
ax1.loglog(
    back["kappa"],
    back["error vs float64"].clip(lower=1e-17),
    "x",
    ms=9,
    label="fell back to float64",
)
ax1.axhline(1e-6, color="0.5", ls=":", label="the bar: 1e-6")
ax1.set_xlabel(r"condition number $\kappa(X)$")
ax1.set_ylabel(r"max$|\Delta\beta|$ / max$|\beta|$")
ax1.legend(fontsize=8)
ax2.semilogx(curve["kappa"], curve["iterations (mixed)"], "o-", label="mixed")
ax2.semilogx(curve["kappa"], curve["iterations (float64)"], "s--", label="float64")
ax2.set_xlabel(r"condition number $\kappa(X)$")
ax2.set_ylabel("Newton iterations")
ax2.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-mixed-kappa", fig)

# %%

ok = curve[curve["kappa"] <= 100 * (1 + 1e-9)]
glue("mixed_worst_le100", ok["error vs float64"].max())
glue("mixed_extra_iter_le100", int((ok["iterations (mixed)"] - ok["iterations (float64)"]).max()))
glue("n_rows_used", n_rows)
glue("n_features_used", n_features)
fallback_kappa = back["kappa"].min() if len(back) else np.nan
display(
    Markdown(
        f"The smallest condition number at which the fit fell back to float64 is {fallback_kappa:.3g}."
        if len(back)
        else "No fit fell back to float64 on this grid."
    )
)

# %% [markdown]
# ```{glue:figure} fig-mixed-kappa
# :name: fig-mixed-kappa
#
# Mixed-precision logistic fits against the condition number of $X$ (live,
# CPU with the bfloat16 copy emulated): left, the largest coefficient error
# relative to the float64 fit (crosses where glmlib fell back to full
# precision, whose error is then that of two float64 fits); right, the
# Newton iterations.
# ```
#
# With {glue:text}`n_rows_used` rows and {glue:text}`n_features_used`
# columns, every fit with $\kappa \le 100$ reached the float64 coefficients
# to {glue:text}`mixed_worst_le100:.1e` or better
# ({numref}`fig-mixed-kappa`), taking at most
# {glue:text}`mixed_extra_iter_le100` more Newton iterations. As $\kappa$
# grows the refinement contracts more slowly (the refinement factor in the
# table); where it would not contract glmlib falls back, and the cell above
# says whether and where that happened on this grid.
#
# ### What stays in full precision, and why
#
# Three things never see bfloat16: the gradient, the deviance and the
# convergence test. The gradient defines the answer: a fit whose gradient
# were computed from rounded $X$ would converge to the optimum *of the
# rounded data*. The deviance decides the line search and convergence,
# and its changes near the optimum are far below bfloat16's resolution.
# And the Gram matrix is the worst-conditioned object in the fit: its
# condition number is $\kappa(X)^2$, so rounding it costs more than rounding
# $X$. The next cell measures both claims.

# %%
kappa_demo = 100.0
X, y = conditioned(kappa_demo, n_rows, n_features, seed)
ref = glmlib.GLM("binomial", tol=1e-10).fit(X, y)
rounded_data = glmlib.GLM("binomial", tol=1e-10).fit(
    round_to_bfloat16(X.astype(np.float32)).astype(np.float64), y
)
mixed = glmlib.GLM("binomial", tol=1e-10, precision="mixed").fit(X, y)
mu = ref.predict(X)
w = mu * (1 - mu)
H = (X * w[:, None]).T @ X
cond_x, cond_h = np.linalg.cond(X), np.linalg.cond(H)
print(f"kappa(X) = {cond_x:.3g}, kappa(X'WX) = {cond_h:.3g}, kappa(X)^2 = {cond_x**2:.3g}")
print(
    f"fit of bfloat16-rounded X vs float64 fit: {rel_coef_error(rounded_data.coef_, ref.coef_):.1e}"
)
print(f"precision='mixed' vs float64 fit:          {rel_coef_error(mixed.coef_, ref.coef_):.1e}")
glue("cond_x", cond_x)
glue("cond_h", cond_h)
glue("rounded_data_error", rel_coef_error(rounded_data.coef_, ref.coef_))
glue("mixed_demo_error", rel_coef_error(mixed.coef_, ref.coef_))

# %% [markdown]
# For one $X$ with $\kappa(X)$ = {glue:text}`cond_x:.3g`, the Fisher
# matrix at the optimum has $\kappa(X^\top W X)$ = {glue:text}`cond_h:.3g`.
# Fitting the bfloat16-rounded data in float64 moves the coefficients by
# {glue:text}`rounded_data_error:.1e`, the error any fit whose gradient
# reads rounded $X$ would be left with; `precision="mixed"`, whose
# gradient reads $X$, ends {glue:text}`mixed_demo_error:.1e` from the
# float64 fit.
#
# ### Speed against precision on the GPU
#
# The speed of `precision="mixed"` is a GPU question (on the CPU the
# bfloat16 copy is emulated and nothing is gained). The next cell shows the
# recorded whole-fit timings of `"double"`, `"single"` and `"mixed"` if
# `make gpu-check` has recorded them.


# %%
def recorded_or_missing(topic, what):
    """The record of `topic`, or None after saying that it was not measured."""
    if topic in recorded.topics():
        record = recorded.load(topic)
        print(f"{what}: {recorded.caption(record)}")
        return record
    print(f"{what}: not measured (no recorded result '{topic}' in glmlib.recorded)")
    return None


mixed_record = recorded_or_missing("gpu/mixed", "GPU fits per precision")
if mixed_record is not None:
    display(pd.DataFrame(mixed_record["rows"]))
glue("gpu_mixed_status", "recorded" if mixed_record is not None else "not measured")

# %% [markdown]
# GPU fit timings per precision: {glue:text}`gpu_mixed_status`. The Gram
# pass above bounds what they can gain: nothing at small $p$, up to the
# bfloat16-to-float32 ratio of the recorded pass at large $p$.
#
# ## Streaming: data larger than the device's memory
#
# A GPU holds tens of gigabytes; host memory can hold more. With
# `GLM(stream_chunk_rows=k)` glmlib keeps $X$ in host memory (page-locked
# on CUDA) and copies it to the device in chunks of $k$ rows at every pass,
# into two buffers: while the products of one chunk run, the next chunk's
# copy runs on its own CUDA stream (double buffering). The device then
# needs memory for two chunks and the $n$-vectors, not for $X$. On the CPU
# the same code runs with plain copies, which is what is measured live here:
# the cost of streaming against the in-memory fit, and that the answer is
# the same.

# %%
Xs, ys = conditioned(10.0, stream_rows, n_features, seed + 1)
t_mem, in_memory = best_time(lambda: glmlib.GLM("binomial").fit(Xs, ys))
stream_rows_table = [
    {"chunk rows": "in memory", "fit seconds": t_mem, "vs in memory": 1.0, "coef difference": 0.0}
]
for k in (stream_rows // 50, stream_rows // 10, stream_rows // 2):
    t, streamed = best_time(lambda k=k: glmlib.GLM("binomial", stream_chunk_rows=k).fit(Xs, ys))
    stream_rows_table.append(
        {
            "chunk rows": k,
            "fit seconds": t,
            "vs in memory": t / t_mem,
            "coef difference": rel_coef_error(streamed.coef_, in_memory.coef_),
        }
    )
stream_table = pd.DataFrame(stream_rows_table).set_index("chunk rows")
display(
    stream_table.style.format(
        {"fit seconds": "{:.3f}", "vs in memory": "{:.2f}", "coef difference": "{:.1e}"}
    )
)
glue("stream_rows_used", stream_rows)
glue("stream_overhead_max", stream_table["vs in memory"].max())
glue("stream_overhead_min", stream_table["vs in memory"].iloc[1:].min())
glue("stream_coef_diff", stream_table["coef difference"].max())

stream_record = recorded_or_missing("gpu/streaming", "GPU streaming")
if stream_record is not None:
    print({k: v for k, v in stream_record.items() if k != "meta"})
glue("gpu_stream_status", "recorded" if stream_record is not None else "not measured")

# %% [markdown]
# Live, with {glue:text}`stream_rows_used` rows, the streamed fits took
# {glue:text}`stream_overhead_min:.2f` to {glue:text}`stream_overhead_max:.2f`
# times the in-memory fit's time and ended within
# {glue:text}`stream_coef_diff:.1e` of its coefficients: on the CPU the
# cost is the copy into the buffers and the per-chunk products. On a GPU the question is what fraction of
# the host-to-device bandwidth a streamed pass sustains, under an
# artificial device-memory cap (the lent H200 has more device memory than
# its host has memory, so $X$ cannot outgrow the device without one), and
# how CUDA managed (unified) memory through CuPy compares;
# `benchmarks/bench_streaming.py` measures that when a GPU is lent. GPU
# streaming figures: {glue:text}`gpu_stream_status`.
#
# ## Inference: ONNX Runtime on the CPU
#
# A fitted GLM predicts with one product and an inverse link. For serving,
# `glmlib.export.to_onnx` writes it as an ONNX graph that ONNX Runtime runs
# without Python's overheads. The cell below fits a logistic GLM and
# times `model.predict` against ONNX Runtime (float64 and float32 graphs)
# and PyTorch eager on one thread, per batch size; every runner's
# predictions are checked against `model.predict`.

# %%
Xi, yi = conditioned(3.0, 20_000, n_features, seed + 2)
clf = glmlib.GLM("binomial").fit(Xi, yi)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
sessions = {
    dt: ort.InferenceSession(
        to_onnx(clf, dt).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    for dt in ("float64", "float32")
}
coef_t = torch.as_tensor(clf.coef_, dtype=torch.float32)
batches = (1, 100, 10_000) if quick else (1, 100, 10_000, 200_000)
inference = []
for size in batches:
    Xb = rng.normal(size=(size, n_features))
    ref_mu = clf.predict(Xb)
    feeds = {dt: onnx_feed(clf, Xb, dtype=dt) for dt in sessions}
    Xt = torch.as_tensor(Xb, dtype=torch.float32)
    runners = {
        "numpy predict": lambda Xb=Xb: clf.predict(Xb),
        "onnxruntime float64": lambda f=feeds["float64"]: sessions["float64"].run(["mu"], f)[0],
        "onnxruntime float32": lambda f=feeds["float32"]: sessions["float32"].run(["mu"], f)[0],
        "torch eager float32": lambda Xt=Xt: torch.sigmoid(Xt @ coef_t + clf.intercept_).numpy(),
    }
    repeats = 5 if size >= 10_000 else 50
    for name, fn in runners.items():
        fn()  # warm-up
        times = []
        for _ in range(repeats):
            tic = time.perf_counter()
            mu_hat = fn()
            times.append(time.perf_counter() - tic)
        latency = float(np.median(times))
        inference.append(
            {
                "batch": size,
                "runner": name,
                "latency (ms)": latency * 1e3,
                "rows/s": size / latency,
                "max rel. diff vs predict": float(
                    np.max(np.abs(np.asarray(mu_hat, float) / ref_mu - 1))
                ),
            }
        )
inference = pd.DataFrame(inference)
display(
    inference.style.format(
        {"latency (ms)": "{:.4f}", "rows/s": "{:.3g}", "max rel. diff vs predict": "{:.1e}"}
    )
)
lat = inference.pivot(index="batch", columns="runner", values="latency (ms)")
largest = lat.index[-1]
fastest_largest = lat.loc[largest].idxmin()


def times_word(ratio):
    return f"{ratio:.1f} times faster" if ratio >= 1 else f"{1 / ratio:.1f} times slower"


display(
    Markdown(
        f"Live, one thread: for a single row ONNX Runtime (float64 graph) answered "
        f"{times_word(lat.loc[1, 'numpy predict'] / lat.loc[1, 'onnxruntime float64'])} than "
        f"`model.predict`; for one row the arithmetic is negligible and per-call costs decide. "
        f"For {largest:,} rows the float32 graph was "
        f"{times_word(lat.loc[largest, 'numpy predict'] / lat.loc[largest, 'onnxruntime float32'])} "
        f"than `model.predict`, and the fastest runner was {fastest_largest}. Float32 predictions "
        f"differ from `predict`'s by at most "
        f"{inference[inference['runner'] == 'onnxruntime float32']['max rel. diff vs predict'].max():.1e} "
        "(relative)."
    )
)
inference_record = recorded_or_missing(
    "gpu/inference", "GPU inference (PyTorch eager, compiled, CUDA graphs)"
)
glue("gpu_inference_status", "recorded" if inference_record is not None else "not measured")

# %% [markdown]
# The sentences under the cell above read the table. TensorRT and ONNX
# Runtime's GPU build are not installed on the lent machine; GPU inference is measured with PyTorch (eager,
# `torch.compile` and CUDA graphs) by `benchmarks/bench_inference.py --torch
# --device cuda`. GPU inference figures: {glue:text}`gpu_inference_status`.
#
# ## Summary
#
# Tensor Cores make reduced-precision products fast, but a Gram pass gains
# from them only when it is compute-bound (large $p$); below the ridge the
# bytes read set the time, and at small $p$ the kernel's overheads do. A GLM
# can use a bfloat16 Hessian without losing float64 accuracy, because the
# Hessian only steers Newton's iteration while the gradient, computed at
# full precision, decides where it stops; for ill-conditioned data the
# refinement stops contracting and glmlib falls back. Streaming lets a fit
# read $X$ from host memory at the price of the copies, and ONNX Runtime
# answers small batches without `predict`'s per-call Python costs.
#
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(["torch", "onnxruntime", "matplotlib"], device=device, seed=seed, quick=quick)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
