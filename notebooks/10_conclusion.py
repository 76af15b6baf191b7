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
# # Conclusion
#
# The research this book follows ends by concluding that regularisation,
# feature engineering, generalized additive models, Bayesian GLMs and GPU
# acceleration "significantly improve" GLMs. The chapters before this one
# built each of these methods and measured them; the experiments chapter then
# put every quantitative claim to a test on three domains. This page restates
# the research's findings from those measurements: what held, what did not,
# what the hardware behind the measurements could and could not show, and
# what is left to do.
#
# Nothing here is measured anew. Every figure is loaded from the results that
# the book's long runs committed (the experiments grid, run by
# `make experiments`, and the GPU run of `make gpu-check`), and each table
# names the machine, date and glmlib commit that produced it.

# %% [markdown]
# ## Parameters
#
# The page computes nothing expensive, so `quick` changes nothing; `seed` and
# `device` are there because every chapter takes them.

# %% tags=["parameters"]
seed = 0  # every chapter's seed; this page draws nothing at random
quick = False  # every chapter's quick flag; this page only reads recorded results
device = "auto"  # every chapter's device; this page runs no model

# %%
# A bad parameter (say papermill -p device tpu) stops the page here, with a message that names it.
from glmlib.book import check_parameters

check_parameters(globals())

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import glmlib
from glmlib import recorded
from glmlib.book import glue, glue_figure

# %% [markdown]
# ## Where the numbers come from

# %%
experiments = recorded.load("experiments/full")
engine = recorded.load("gpu/engine")
gram = recorded.load("gpu/gram")
gpu_check = recorded.load("gpu/check")
for name, record in [
    ("experiments grid", experiments),
    ("GPU engine", engine),
    ("GPU Gram", gram),
    ("GPU test run", gpu_check),
]:
    print(f"{name}: {recorded.caption(record)}")

# %% [markdown]
# ## The research's claims, measured
#
# The experiments chapter turned each quantitative claim of the research's
# sections 6.1.4 and 6.2 into a comparison on held-out data, repeated over
# 80/20 splits, with every tuning choice made inside the training part. A
# claim is *supported* when the method improved on its baseline on every data
# set where it was measured (the 95% interval of the paired difference over
# the repeats lying wholly on the improving side), *not supported* when it
# improved on none, *mixed* in between, and *not measured* when no
# measurement exists.

# %%
from glmlib.experiments import (
    MODELS,
    claim_comparisons,
    claims_table,
    results_frame,
    select_best,
)

results = results_frame(experiments)
claims = claims_table(results)
counts = claims["verdict"].value_counts()
for verdict_name in ["supported", "not supported", "mixed", "not measured"]:
    glue(f"n_{verdict_name.replace(' ', '_')}", int(counts.get(verdict_name, 0)))
glue("n_claims", len(claims))
glue("n_datasets", results["dataset"].nunique())
glue("n_models", results["model"].nunique())
glue("n_repeats", int(results["repeat"].nunique()))
glue("n_fits", len(results))
glue("experiments_hours", experiments["meta"]["wall_seconds"] / 3600)
glue("max_train_rows", int(results["n_train"].max()))
claims[["section", "statement", "verdict"]].style.hide(axis="index")

# %% [markdown]
# Of the {glue:}`n_claims` claims, {glue:}`n_supported` held on every data set
# where they were measured, {glue:}`n_not_supported` held on none,
# {glue:}`n_mixed` held on some data sets and not on others, and
# {glue:}`n_not_measured` could not be measured. The grid behind these
# verdicts fitted {glue:}`n_models` model families to {glue:}`n_datasets`
# data sets over {glue:}`n_repeats` splits ({glue:}`n_fits` fits in
# {glue:text}`experiments_hours:.1f` hours). The measurements, claim by claim:

# %%
lines = []
for row in claims.itertuples():
    lines.append(f"- **{row.statement}** ({row.section}): *{row.verdict}*. {row.numbers}.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# {numref}`fig-claim-comparisons` puts every comparison behind these verdicts on one
# scale: the change of the held-out metric relative to the baseline's mean
# (left) and the ratio of training times (right), each with its 95% interval
# over the repeated splits. Of its {glue:}`n_comparisons` comparisons,
# {glue:}`n_better` improved in the direction the research claims,
# {glue:}`n_worse` went the other way and {glue:}`n_tie` could not tell the
# two apart.

# %% tags=["remove-output"]
comparisons = claim_comparisons(results)
measured = comparisons[comparisons["outcome"] != "unmeasured"]
for outcome in ["better", "worse", "tie"]:
    glue(f"n_{outcome}", int((measured["outcome"] == outcome).sum()))
glue("n_comparisons", len(measured))
colours = {"better": "C2", "worse": "C3", "tie": "grey"}
panels = [
    ("accuracy", measured[measured["metric"] != "fit_seconds"]),
    ("time", measured[measured["metric"] == "fit_seconds"]),
]
heights = [max(len(rows), 1) for _, rows in panels]
fig, axes = plt.subplots(1, 2, figsize=(12, 0.28 * max(heights) + 1.8), constrained_layout=True)
for ax, (kind, rows) in zip(axes, panels, strict=True):
    y = np.arange(len(rows))
    scale = 100.0 if kind == "accuracy" else 1.0
    shift = 0.0 if kind == "accuracy" else 1.0  # times: relative change + 1 is the ratio
    centre = scale * (rows["relative"].to_numpy() + shift)
    lo = scale * (rows["relative_lo"].to_numpy() + shift)
    hi = scale * (rows["relative_hi"].to_numpy() + shift)
    for yi, c, a, b, outcome in zip(y, centre, lo, hi, rows["outcome"], strict=True):
        ax.plot([a, b], [yi, yi], color=colours[outcome], lw=2)
        ax.plot(c, yi, "o", color=colours[outcome])
    ax.axvline(0.0 if kind == "accuracy" else 1.0, color="black", lw=0.8)
    labels = [f"{r.claim} ({r.model} vs {r.baseline}): {r.dataset}" for r in rows.itertuples()]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    if kind == "accuracy":
        ax.set_xlabel("change of test log-loss / deviance vs baseline, % (left is better)")
    else:
        ax.set_xscale("log")
        ax.set_xlabel("training time, model / baseline (log scale)")
for outcome, colour in colours.items():
    axes[0].plot([], [], "o-", color=colour, label=outcome)
fig.legend(title="in the claimed direction", loc="outside lower center", ncols=3)
fig.suptitle(f"Every measured comparison of the claims; {recorded.caption(experiments)}")
glue_figure("fig-claim-comparisons", fig)

# %% [markdown]
# ```{glue:figure} fig-claim-comparisons
# :name: fig-claim-comparisons
#
# Each comparison of a claim on one data set: the mean over the repeats with
# its 95% t-interval, coloured by whether it moved in the direction the
# research claims (green), against it (red) or neither (grey). Left: the
# held-out metric relative to the baseline's mean (for regularisation the
# baseline is the plain GLM; for feature engineering the unpenalised
# engineered GLM). Right: the ratio of training times.
# ```

# %% [markdown]
# ## Where the research's conclusion does not hold
#
# The research concludes that each method "significantly improves" GLMs. The
# measurements say something narrower. The claims that did not hold, or held
# only in part, are listed below with the measurement that decided them; the
# list is generated from the verdicts, so it changes if the recorded run does.

# %%
weak = claims[claims["verdict"].isin(["not supported", "mixed"])]
if weak.empty:
    display(Markdown("Every measured claim held on every data set where it was measured."))
else:
    display(
        Markdown(
            "\n".join(
                f"- **{row.statement}** was *{row.verdict}*: {row.measurement}."
                for row in weak.itertuples()
            )
        )
    )

# %% [markdown]
# ## Which model each data set chose
#
# A practitioner does not run one method; they choose among several on data
# that the final report does not use. The table gives, for each data set, the
# model with the best mean validation score inside the training part, and its
# mean test score on the held-out fifth (log-loss for binary outcomes, mean
# deviance for counts and continuous outcomes).

# %%
best = select_best(results)
best["label"] = [MODELS[m].label for m in best["model"]]
best["GLM family"] = [MODELS[m].glm for m in best["model"]]
best[["dataset", "label", "GLM family", "metric", "val_score", "test_score"]]

# %%
n_glm, n_all = int(best["GLM family"].sum()), len(best)
others = ", ".join(f"{r.label} on {r.dataset}" for r in best[~best["GLM family"]].itertuples())
display(
    Markdown(
        f"On {n_glm} of the {n_all} data sets the model chosen on validation data was a GLM "
        "or one of its extensions (penalised, engineered, additive, Bayesian or neural)"
        + (f"; on the others it was a non-GLM baseline ({others})." if others else ".")
        + " The choice is made on validation scores, so the test scores beside it are an "
        "honest estimate of the chosen model, not the best of several test scores."
    )
)

# %% [markdown]
# ## GPU acceleration, as far as it was measured
#
# The research's GPU chapters claim faster training and more efficient
# memory use. The book had one GPU for a few minutes: an NVIDIA H200 lent for
# {glue:text}`gpu_tests:.0f` GPU tests and a handful of benchmarks. What that
# run measured:

# %%
l2 = engine["l2"]
glue("gpu_tests", gpu_check["tests"]["tests"])
glue("gpu_tests_failed", gpu_check["tests"]["failures"] + gpu_check["tests"]["errors"])
glue("gpu_n", l2["n"])
glue("gpu_p", l2["p"])
glue("gpu_fit_s", l2["fit_seconds"])
glue("gpu_vs_glum", l2["glum_cpu_seconds"] / l2["fit_seconds"])
glue("gpu_vs_cpu", l2["glmlib_cpu_seconds"] / l2["fit_seconds"])
glue("gpu_cpu_cores", engine["meta"]["device"]["cpu_count"])
glue("gpu_fraction_of_bound", 100 * l2["fraction_of_bound_core"])
gemm = gram["gemm"]
glue("gemm_fp64", gemm["torch_float64"]["tflops"])
glue("gemm_bf16", gemm["torch_bfloat16"]["tflops"])
glue("gemm_bf16_error", gemm["torch_bfloat16"]["rel_error"])
pd.DataFrame(
    {
        "what": [
            f"logistic ridge fit, n = {l2['n']:,}, p = {l2['p']}",
            "same fit, glmlib on the host's CPU cores",
            "same fit, glum on the host's CPU cores",
        ],
        "seconds": [l2["fit_seconds"], l2["glmlib_cpu_seconds"], l2["glum_cpu_seconds"]],
    }
).style.hide(axis="index").format({"seconds": "{:.3g}"}).set_caption(recorded.caption(engine))

# %% [markdown]
# The GPU fit of a logistic ridge regression with {glue:text}`gpu_n:,.0f`
# rows and {glue:}`gpu_p` features took {glue:text}`gpu_fit_s:.2f` s:
# {glue:text}`gpu_vs_glum:.0f` times faster than glum and
# {glue:text}`gpu_vs_cpu:.0f` times faster than glmlib itself on the
# machine's {glue:}`gpu_cpu_cores` CPU cores, with the same coefficients. So
# the claim holds for large problems. It says little about the experiments'
# data sets, whose largest training part had {glue:text}`max_train_rows:,.0f`
# rows in the recorded run: at that size a fit takes
# milliseconds on a CPU and a GPU's launch and transfer costs dominate
# (chapter 6 measures the crossover). Reduced precision is where Tensor Cores
# come in: the H200 multiplied matrices at {glue:text}`gemm_bf16:.0f` TFLOP/s
# in bfloat16 against {glue:text}`gemm_fp64:.0f` TFLOP/s in float64, at a
# relative error of {glue:text}`gemm_bf16_error:.1e`; chapter 8 shows how
# glmlib's mixed-precision fit keeps float64 accuracy from such products.
# The iteration itself ran at {glue:text}`gpu_fraction_of_bound:.0f`% of the
# memory-bandwidth bound, far from what the hardware allows.

# %% [markdown]
# ## What the hardware could and could not show
#
# - **CPU.** Every chapter, every test and the experiments grid ran on a
#   small shared virtual machine; the table below gives the machine that ran
#   the recorded grid. Timings on it are comparable within one run
#   (the benchmarks report ratios for that reason), not across machines.
# - **GPU.** One GPU, lent for minutes, once. No multi-GPU run, no NCCL
#   all-reduce across devices, no streaming beyond device memory, no GPU
#   inference and no mixed-precision fit on Tensor Cores have been measured;
#   the chapters that discuss them show CPU measurements and say which GPU
#   figures are missing.
# - **Scale.** The experiments' data sets were capped in size so that the
#   grid finished on the shared machine (the record's configuration, printed
#   below, gives the caps); the scaling chapters use synthetic data for
#   size.

# %%
meta = experiments["meta"]
pd.Series(
    {
        "recorded run": recorded.caption(experiments),
        "CPU count": meta.get("device", {}).get("cpu_count"),
        "wall time (hours)": round(meta["wall_seconds"] / 3600, 2),
        "rows per data set at most": experiments["config"].get("max_rows"),
        "repeats": experiments["config"].get("repeats"),
        "note": experiments["config"].get("note", ""),
    }
).to_frame("value")

# %% [markdown]
# ## Future work
#
# - Run `make gpu-check` on a GPU again, and on several, so that the GPU
#   claims that are now "not measured" get numbers: multi-GPU NCCL fits,
#   streaming, mixed precision on Tensor Cores, GPU inference.
# - Time the experiments' models on a GPU as well, at sizes where the GPU
#   matters, so that the training-time claim is tested on the same data as
#   the accuracy claims.
# - Compare with R's `mgcv` and `glmnet` side by side on one machine rather
#   than against figures measured elsewhere.
# - Larger and more varied data sets per domain, so that verdicts rest on
#   more than a few thousand rows each.
#
# ## Versions
#
# The packages this page ran with.

# %%
_ = glmlib.show_versions(["pandas"], device=device, seed=seed, quick=quick)
