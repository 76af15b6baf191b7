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
# # Experiments: the research's claims on real data
#
# The research's chapter 6 reports that regularisation, feature engineering,
# generalized additive models, Bayesian GLMs and GPU acceleration
# "significantly improve" GLMs, and its conclusion builds on that; it shows no
# numbers. This chapter runs the comparison it describes, on real data from
# three domains (healthcare, finance, natural language), with every model
# tuned inside the training data and judged on test data it never saw, and
# says which claims hold here and which do not.
#
# The grid lives in `glmlib.experiments` (tested in `tests/experiments`), so
# that the same code runs twice: a small run in this chapter, re-executed
# whenever the book is built, and the full run, too long for the book's build,
# recorded by `make experiments` with its machine, date and commit and loaded
# here through `glmlib.recorded`. The verdicts come from the full run.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every split and random draw. `datasets`, `models` and
# `repeats` choose the chapter's own small run (None: all of them); `quick=True`
# shrinks it to three data sets and one repeat so that CI runs the chapter in
# about a minute. The full run's results are loaded, not recomputed, either way.

# %% tags=["parameters"]
seed = 0  # seed of the splits (repeat r uses seed + r) and of every model
quick = False  # True: the chapter's own run on three data sets, one repeat
device = "auto"  # kept for the book's conventions: every model here trains on the CPU
datasets = None  # data sets of the chapter's own run (None: all six)
models = None  # model families of the chapter's own run (None: all)
repeats = 2  # 80/20 splits of the chapter's own run
ab_clicks = [32, 39, 29, 47, 51]  # clicks of templates A..E (illustrative counts, not data)
ab_sends = 1000  # sends per template (illustrative)
ab_level = 0.95  # confidence level of every test and interval of the A/B test
ab_power = 0.8  # power of the sample-size plan
ab_n_sims = 20_000  # simulated null experiments for the family-wise error (quick: 5,000)
ab_n_draws = 100_000  # Monte Carlo draws from the Beta posteriors (quick: 20,000)
sampling_reps = 200  # repetitions of the sampling simulation (quick: 20)
sampling_n_population = 20_000  # items in each simulated population (quick: 5,000)
sampling_n_initial = 300  # the first classifier's labelled items
sampling_n_extra = 300  # extra labelled items for the second classifier
sampling_flag_fraction = 0.1  # share of items the first classifier flags

# %%
# A bad parameter (say papermill -p repeats 0, or -p datasets '["iris"]') stops the chapter
# here, with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Choice, Int, ListOf, Optional, Real, check_parameters
from glmlib.experiments import DOMAINS, MODELS

check_parameters(
    globals(),
    datasets=Optional(ListOf(Choice(tuple(DOMAINS)))),
    models=Optional(ListOf(Choice(tuple(MODELS)))),
    repeats=Int(1, 10),
    ab_clicks=ListOf(Int(0)),
    ab_sends=Int(1),
    ab_level=Real(0, 1),
    ab_power=Real(0, 1),
    ab_n_sims=Int(100),
    ab_n_draws=Int(100),
    sampling_reps=Int(2),
    sampling_n_population=Int(1_000),
    sampling_n_initial=Int(10),
    sampling_n_extra=Int(1),
    sampling_flag_fraction=Real(0, 1),
)

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import glmlib
from glmlib import recorded
from glmlib.book import glue, glue_figure
from glmlib.experiments import (
    ab_test,
    claims_table,
    results_frame,
    run_grid,
    sampling_plan,
    select_best,
    summarize,
)

warnings.filterwarnings("ignore")  # convergence warnings are recorded in the results instead
start_time = time.perf_counter()
if quick:
    datasets = datasets or ["pima", "smarket", "tweets"]
    repeats = 1
    ab_n_sims, ab_n_draws = min(ab_n_sims, 5_000), min(ab_n_draws, 20_000)
    sampling_reps = min(sampling_reps, 20)
    sampling_n_population = min(sampling_n_population, 5_000)
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## The data: three domains, six data sets
#
# Every data set ships with glmlib (`glmlib.datasets`, with its source,
# license and checksum in `data/README.md`): nothing is downloaded. The
# healthcare domain has two binary outcomes (diabetes in Pima women; malignant
# breast biopsies, whose thirty nucleus features are strongly correlated) and
# a count (physician visits of elderly Medicare patients, NMES 1988). Finance
# has credit-card default (rare: about one customer in thirty) and the
# direction of the S&P 500 from its five lagged daily returns and volume,
# the market-movement task on which the research says interaction terms help.
# Natural language is the tweets of one account with the phone that posted
# them (Android or iPhone), predicted from the words alone through a sparse
# TF-IDF design.

# %%
from glmlib.datasets import DATASETS

setup = pd.DataFrame(
    [
        {
            "data set": d.name,
            "domain": d.domain,
            "outcome": f"{d.outcome} ({d.task})",
            "rows": DATASETS[d.name].n_rows,
            "predictors": "TF-IDF of the words" if d.text else len(d.numeric) + len(d.categorical),
            "what": d.description,
        }
        for d in DOMAINS.values()
    ]
)
setup

# %% [markdown]
# ## The protocol
#
# Each repeat splits a data set 80/20 into training and test rows (stratified
# on a binary outcome), with the seed of the repeat. Every transformer
# (standardisation, splines, the TF-IDF vocabulary) is fitted on training
# rows only. Each model is fitted twice: on four fifths of the training rows,
# scored on the remaining fifth (the *validation* score, the only score used
# to choose between models), and on all training rows, scored on the test
# rows (the reported metrics). Penalties are chosen by cross-validation inside
# the training rows (`GLMCV`), smoothness by REML (`GAM`), the number of
# boosting rounds and the networks' epochs by early stopping on a validation
# part of the training rows. The model families:

# %%
pd.DataFrame(
    [
        {
            "model": m.name,
            "family": m.label,
            "design": m.design,
            "on text": "yes" if m.text else "no",
        }
        for m in MODELS.values()
    ]
)

# %% [markdown]
# The module's docstrings state each family's settings. Two choices matter for
# what follows. The engineered design adds cubic B-splines of every numeric
# column and pairwise products (for text: word pairs), which multiplies the
# columns; fitted without a penalty it can separate the classes and diverge,
# which is what the claim "feature engineering needs regularisation" is about.
# The Bayesian GLM samples its posterior with NUTS on the tabular data; on the
# text design a thousand-column NUTS run is too slow for this machine, so the
# Laplace approximation stands in there, and in the quick run everywhere.
#
# The metrics are the research's: accuracy, precision, recall and F1 at the
# threshold one half, log-loss, AUC and calibration (expected calibration
# error, ECE) for the binary outcomes; R², MSE and the mean Poisson deviance
# for the count; the training time on one CPU thread; the iterations (R-hat
# and effective sample size for NUTS); and the spread across repeats.

# %% [markdown]
# ## The chapter's own run
#
# A small run of the same grid, computed now: at most six hundred rows per
# data set, shorter regularisation paths, fewer trees and epochs. It shows the
# machinery working on the machine that builds the book; its numbers are not
# those of the full run below and the verdicts do not use them.

# %%
tic = time.perf_counter()
own = run_grid(datasets, models, repeats, quick=True, seed=seed)
own_seconds = time.perf_counter() - tic
glue("own_fits", len(own))
glue("own_seconds", own_seconds)
glue("own_repeats", repeats)
own_metrics = [m for m in ("log_loss", "auc", "deviance", "fit_seconds") if m in own.columns]
own_summary = summarize(own, own_metrics).round(3)
print(f"{len(own)} fits in {own_seconds:.0f} s ({repeats} repeat(s)); quick run, not the full one")
own_summary[["dataset", "model", *own_metrics, "repeats"]]

# %% [markdown]
# The chapter's own run made {glue:}`own_fits` fits in
# {glue:text}`own_seconds:.0f` seconds with {glue:}`own_repeats` repeat(s) per
# data set (the table above; its intervals need at least two repeats).

# %% [markdown]
# ## The full run
#
# The full grid (all data sets and families, three repeats, larger data)
# was run by `make experiments` and recorded; the caption of every table and
# figure below names the machine, date and commit it ran at.

# %%
full_record = recorded.load("experiments/full")
full = results_frame(full_record)
meta, config = full_record["meta"], full_record["config"]
full_caption = recorded.caption(full_record)
n_fail = int((full["error"] != "").sum())
glue("full_fits", len(full))
glue("full_failed", n_fail)
glue("full_repeats", int(config["repeats"]))
glue("full_minutes", meta["wall_seconds"] / 60)
glue("full_process_minutes", meta.get("total_process_seconds", meta["wall_seconds"]) / 60)
glue("full_rows", config.get("max_rows") or 0)
print(full_caption)
print(
    f"{len(full)} fits, {n_fail} failed; {config['repeats']} repeats; at most "
    f"{config.get('max_rows')} rows per data set; wall time {meta['wall_seconds'] / 60:.1f} min; "
    f"{config.get('note', '')}"
)
for part in config.get("parts", []):
    print(f"  part: {part}")

# %% [markdown]
# The full run made {glue:}`full_fits` fits ({glue:}`full_failed` failed) with
# {glue:}`full_repeats` repeats, every data set subsampled to at most
# {glue:}`full_rows` rows (the printout above gives each part's cap), in
# {glue:text}`full_process_minutes:.0f` process-minutes (the longest process ran
# {glue:text}`full_minutes:.0f` minutes) on a shared two-core machine, one
# thread per fit, beside other people's jobs.
#
# ### Accuracy with intervals
#
# {numref}`fig-accuracy` shows each model's test log-loss (binary outcomes) or mean
# Poisson deviance (the count) with its 95% t-interval over the repeats;
# smaller is better. The unpenalised fits that diverged are off the scale: red
# arrows at the right edge, with their values.

# %% tags=["remove-output"]
primary = {n: d.primary_metric for n, d in DOMAINS.items()}
full["primary"] = [row[primary[row["dataset"]]] for _, row in full.iterrows()]
wanted = ["primary", "auc", "accuracy", "f1", "ece", "r2", "fit_seconds"]
summary = summarize(full, [m for m in wanted if m in full.columns])
present = [d for d in DOMAINS if d in set(full["dataset"])]
order = [m for m in MODELS if m in set(full["model"])]
fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), constrained_layout=True)
for ax, name in zip(axes.flat, present, strict=False):
    sub = summary[summary["dataset"] == name].set_index("model").reindex(order).dropna(how="all")
    y = np.arange(len(sub))
    err = np.vstack([sub["primary"] - sub["primary_lo"], sub["primary_hi"] - sub["primary"]])
    ax.errorbar(sub["primary"], y, xerr=np.nan_to_num(err), fmt="o", capsize=3)
    glm_value = sub.loc["glm", "primary"] if "glm" in sub.index else np.nan
    best = sub["primary"].min()
    right = best + 0.6 * abs(best)
    ax.set_xlim(best - 0.15 * abs(best), right)
    for yi, value in zip(y, sub["primary"], strict=True):
        if value > right:  # a divergent fit: mark it at the edge with its value
            ax.plot(right, yi, ">", color="C3", clip_on=False)
            ax.annotate(f"{value:.2f}", (right, yi), xytext=(-34, 4), textcoords="offset points")
    ax.axvline(glm_value, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, sub.index)
    ax.invert_yaxis()
    ax.set_title(f"{name} ({DOMAINS[name].domain})")
    ax.set_xlabel("test " + ("log-loss" if primary[name] == "log_loss" else "Poisson deviance"))
for ax in axes.flat[len(present) :]:
    ax.axis("off")
fig.suptitle(f"Full run: mean and 95% interval over repeats; dashed: plain GLM\n{full_caption}")
glue_figure("fig-accuracy", fig)

# %% [markdown]
# ```{glue:figure} fig-accuracy
# :name: fig-accuracy
#
# Test log-loss (deviance for NMES 1988) of every model family per data set,
# mean and 95% interval over the full run's repeats; the dashed line is the
# plain GLM. Red arrows at the right edge, with their values, are fits off
# the scale (unpenalised fits that diverged).
# ```
#
# The classification metrics of the research, for every model (means over the
# repeats; the intervals of the primary metric are in the figure):

# %%
cls = summary[summary["dataset"].map(lambda n: DOMAINS[n].task == "binary")]
table = cls.pivot(index="model", columns="dataset", values="auc").reindex(order).round(3)
display(Markdown("**Test AUC** (" + full_caption + ")"))
display(table)
metrics_table = (
    full[full["task"] == "binary"]
    .groupby(["dataset", "model"], sort=False)[
        ["accuracy", "precision", "recall", "f1", "log_loss", "auc", "ece"]
    ]
    .mean()
    .round(3)
)
metrics_table

# %% [markdown]
# and for the count outcome (physician visits), R², MSE and deviance:

# %%
count_rows = full[full["task"] == "count"]
counts = (
    count_rows.groupby(["dataset", "model"], sort=False)[["r2", "mse", "deviance"]]
    .agg(["mean", "std"])
    .round(3)
    if len(count_rows)
    else "no count outcome in the full run"
)
counts

# %% [markdown]
# ### The model chosen inside the training data
#
# Which model would an analyst have picked? For each data set, the model with
# the best mean *validation* score (inside the training rows), and its test
# score; beside it the best of the GLM families alone. The test rows play no
# part in either choice.

# %%
glm_families = [m for m, spec in MODELS.items() if spec.glm]
chosen = select_best(full).merge(
    select_best(full, glm_families),
    on=["dataset", "metric"],
    suffixes=("", "_glm_family"),
)
best_model = dict(zip(chosen["dataset"], chosen["model"], strict=True))
for name in DOMAINS:
    glue(f"best_{name}", best_model.get(name, "not in the full run"))
chosen.round(4)

# %% [markdown]
# On the market direction the choice is {glue:}`best_smarket`, on the tweets
# {glue:}`best_tweets` and on the breast biopsies {glue:}`best_breast_cancer`.
#
# ### Training time, convergence and stability
#
# Training time is the wall time of the fit on all training rows, one thread,
# on a machine shared with other jobs: read ratios, not absolute values.
# Iterations are Newton iterations for the GLMs (for `GLMCV` those of the
# refit at the chosen penalty, warm-started from the path, hence few), epochs
# for the networks and boosting rounds for LightGBM; for NUTS the largest
# R-hat and the smallest bulk effective sample size over the coefficients.
# "Not converged" counts GLM fits that hit their iteration limit, and networks
# that used all their epochs without early stopping. Stability is the standard deviation of the test
# metric over the repeats.

# %%
conv = (
    full.groupby("model", sort=False)
    .agg(
        fit_seconds=("fit_seconds", "median"),
        iterations=("n_iter", "median"),
        not_converged=("converged", lambda c: int((c == False).sum())),  # noqa: E712
        max_rhat=("rhat", "max"),
        min_ess=("ess", "min"),
    )
    .reindex(order)
)
stability = summary.pivot(index="model", columns="dataset", values="primary_sd").reindex(order)
conv = conv.join(stability.add_prefix("sd "))
glue("bayes_max_rhat", float(full.loc[full["model"] == "bayes", "rhat"].max()))
glue("bayes_min_ess", float(full.loc[full["model"] == "bayes", "ess"].min()))
display(Markdown(f"Median training time, iterations and stability ({full_caption})"))
conv.round(3)

# %% tags=["remove-output"]
times = summary.pivot(index="model", columns="dataset", values="fit_seconds").reindex(order)
fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
for name in times.columns:
    ax.plot(times[name].to_numpy(), np.arange(len(order)), "o", label=name)
ax.set_xscale("log")
ax.set_yticks(np.arange(len(order)), order)
ax.invert_yaxis()
ax.set_xlabel("training time on the training rows (s, log scale, one CPU thread)")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.set_title(f"Mean training time over repeats\n{full_caption}", fontsize=9)
glue_figure("fig-times", fig)

# %% [markdown]
# ```{glue:figure} fig-times
# :name: fig-times
#
# Training time of each family per data set in the full run (mean over
# repeats, log scale): one thread of a shared CPU.
# ```
#
# {numref}`fig-times` sets the cost of each family beside its accuracy.
#
# The NUTS fits reached a largest R-hat of {glue:text}`bayes_max_rhat:.3f` and
# a smallest bulk effective sample size of {glue:text}`bayes_min_ess:.0f`
# over all coefficients, data sets and repeats.

# %% [markdown]
# ## The claims
#
# Each claim of the research's sections 6.1.4 and 6.2 is a comparison of two
# families, measured on the full run's test rows: the mean over repeats of the
# paired difference (same split) in test log-loss or deviance, or the ratio of
# training times, with its 95% t-interval. A claim is *supported* when every
# data set it names shows an improvement whose interval excludes no change,
# *not supported* when none does, *mixed* in between, and *not measured*
# without a measurement (`glmlib.experiments.claims_table` states the rules).
# With three repeats the intervals are wide: "not supported" often means that
# no improvement could be told from the noise, not that the method hurt.

# %%
claims = claims_table(full)
for _, row in claims.iterrows():
    glue(f"verdict_{row['claim']}", row["verdict"])
display(Markdown(f"Claims table, from the full run ({full_caption})"))
claims[["section", "statement", "measurement", "numbers", "verdict"]]

# %% [markdown]
# In short: regularisation under multicollinearity is
# {glue:}`verdict_regularisation`; GAMs being more accurate but slower is
# {glue:}`verdict_gam`; Bayesian GLMs being competitive but slower is
# {glue:}`verdict_bayes`; interactions improving market prediction is
# {glue:}`verdict_interactions`; feature engineering needing regularisation is
# {glue:}`verdict_feature_engineering`; and the GPU claim is
# {glue:}`verdict_gpu`, from the recorded GPU benchmark, whose problem is far
# larger than these data sets: none of the grid's fits was timed on a GPU, so
# the claim is judged on the one CPU-against-GPU timing the book has.
#
# The results behind this chapter, for the conclusion and for anyone who
# wants to check them, are `glmlib.recorded.load("experiments/full")`; the
# claims table is `glmlib.experiments.claims_table` applied to them.

# %% [markdown]
# ## The assignment's two data questions
#
# The assignment asks two questions about data that a GLM answers directly:
# which of five e-mail templates differ from the current one, and which items
# to label as extra training data for a second classifier. The first is a
# binomial GLM with one factor; the second is settled by simulating the
# three sampling plans with a logistic GLM.
#
# ### Five e-mail templates: which differ from A?
#
# The assignment gives each template's click-through rate but not the numbers
# behind it, and the answer depends on them. The counts below are
# **illustrative** (the chapter's parameters `ab_clicks` and `ab_sends`), not
# measurements: each template sent {glue:}`ab_sends` times.

# %%
ab = ab_test.ab_data(ab_clicks, ab_sends)
glue("ab_sends", ab_sends)
glue("ab_level_pct", 100 * ab_level)
glue("ab_power_pct", 100 * ab_power)
glue("ab_n_compared", len(ab) - 1)
glue("ab_alpha", 1 - ab_level)
display(ab.style.format({"rate": "{:.2%}"}).hide(axis="index"))

# %% [markdown]
# The model is a binomial GLM for the clicks of each template $t$ with A as
# the reference level,
#
# $$\operatorname{logit} p_t = \beta_0 + \beta_t, \qquad \beta_A = 0,$$
#
# so $e^{\beta_t}$ is the odds ratio of template $t$ against A. Three ways to
# ask whether $\beta_t \neq 0$ at the {glue:text}`ab_level_pct:.0f`% level:
#
# - **Wald**: $z = \hat\beta_t / \mathrm{se}(\hat\beta_t)$ and the interval
#   $\hat\beta_t \pm z_{1-\alpha/2}\,\mathrm{se}$, from `GLM.summary()`;
# - **likelihood ratio**: refit with $\beta_t = 0$ (template $t$ shares A's
#   rate) and compare deviances; the interval is the set of $\beta_t$ whose
#   profile deviance is within the $\chi^2_1$ quantile (fits with $\beta_t$
#   as an offset);
# - **Bayesian**: with a uniform $\mathrm{Beta}(1, 1)$ prior on each rate, the posterior
#   of $p_t$ is $\mathrm{Beta}(1 + \text{clicks}, 1 + \text{non-clicks})$; we report the interval of
#   $p_t - p_A$ and the posterior probability $P(p_t > p_A)$.

# %%
ab_wald = ab_test.wald_comparisons(ab, level=ab_level)
ab_lr = ab_test.lr_comparisons(ab, level=ab_level)
ab_bayes = ab_test.bayes_comparisons(ab, level=ab_level, n_draws=ab_n_draws, random_state=seed)
ab_table = pd.DataFrame(
    {
        "rate": ab.set_index("template")["rate"].iloc[1:],
        "odds ratio": ab_wald["or"],
        "Wald p": ab_wald["p_value"],
        "Wald OR interval": [
            f"{a:.2f} to {b:.2f}" for a, b in np.exp(ab_wald[["ci_low", "ci_high"]].to_numpy())
        ],
        "LR p": ab_lr["p_value"].iloc[:-1],
        "profile OR interval": [
            f"{a:.2f} to {b:.2f}"
            for a, b in np.exp(ab_lr[["ci_low", "ci_high"]].iloc[:-1].to_numpy())
        ],
        "P(better than A)": ab_bayes["p_better"].iloc[1:],
        "Holm p (Wald)": ab_test.adjust_pvalues(ab_wald["p_value"].to_numpy(), "holm"),
        "Bonferroni p (Wald)": ab_test.adjust_pvalues(ab_wald["p_value"].to_numpy(), "bonferroni"),
    }
)
display(ab_table.style.format(precision=3).format({"rate": "{:.2%}"}))

# %% tags=["remove-output"]
alpha_ab = 1 - ab_level
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
pos = np.arange(len(ab_wald))
for shift, (label, lo, hi) in zip(
    (-0.12, 0.12),
    [
        ("Wald", ab_wald["ci_low"], ab_wald["ci_high"]),
        ("profile likelihood", ab_lr["ci_low"].iloc[:-1], ab_lr["ci_high"].iloc[:-1]),
    ],
    strict=True,
):
    axes[0].errorbar(
        np.exp(ab_wald["log_or"]),
        pos + shift,
        xerr=[np.exp(ab_wald["log_or"]) - np.exp(lo), np.exp(hi) - np.exp(ab_wald["log_or"])],
        fmt="o",
        capsize=3,
        label=label,
    )
axes[0].axvline(1, color="grey", lw=1)
axes[0].set(
    xscale="log",
    xlabel="odds ratio against A (log scale)",
    yticks=pos,
    yticklabels=ab_wald.index,
    ylabel="template",
)
lo_x, hi_x = axes[0].get_xlim()
ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8) if lo_x <= t <= hi_x]
axes[0].minorticks_off()
axes[0].set_xticks(ticks, [f"{t:g}" for t in ticks])
axes[0].legend(fontsize=8)
post = ab_bayes.iloc[1:]
mid = 100 * (post["mean"] - ab_bayes["mean"].iloc[0])
axes[1].errorbar(
    mid,
    pos,
    xerr=[mid - 100 * post["diff_low"], 100 * post["diff_high"] - mid],
    fmt="o",
    capsize=3,
    color="C2",
)
axes[1].axvline(0, color="grey", lw=1)
axes[1].set(xlabel="rate minus A's rate (percentage points), posterior")
fig.tight_layout()
glue_figure("fig-ab-intervals", fig)

# %% [markdown]
# ```{glue:figure} fig-ab-intervals
# :name: fig-ab-intervals
#
# Each template against A: Wald and profile-likelihood intervals of the odds
# ratio (left) and the posterior interval of the difference in click-through
# rate (right), all at the level `ab_level`, unadjusted for multiple comparisons.
# ```
#
# {numref}`fig-ab-intervals` shows every comparison with A before any adjustment.

# %%
ab_sig_wald = list(ab_wald.index[ab_wald["p_value"] < alpha_ab])
ab_sig_lr = list(ab_lr.index[:-1][ab_lr["p_value"].iloc[:-1] < alpha_ab])
ab_sig_holm = list(ab_table.index[ab_table["Holm p (Wald)"] < alpha_ab])
ab_sig_bayes = list(post.index[(post["diff_low"] > 0) | (post["diff_high"] < 0)])
glue("ab_p_all", ab_lr.loc["all", "p_value"])
ab_gap = np.max(
    np.abs(
        np.exp(ab_wald[["ci_low", "ci_high"]].to_numpy())
        - np.exp(ab_lr[["ci_low", "ci_high"]].iloc[:-1].to_numpy())
    )
)
glue("ab_gap", ab_gap)
glue("ab_df_all", int(ab_lr.loc["all", "df"]))


def names(ts):
    return ", ".join(ts) if ts else "none"


display(
    Markdown(
        f"Unadjusted, the Wald test finds {len(ab_sig_wald)} template(s) different from A "
        f"({names(ab_sig_wald)}), the likelihood-ratio test {len(ab_sig_lr)} ({names(ab_sig_lr)}), "
        f"and {len(ab_sig_bayes)} posterior interval(s) of the difference exclude zero "
        f"({names(ab_sig_bayes)}). After Holm's adjustment for the {len(ab) - 1} comparisons, "
        f"{len(ab_sig_holm)} remain ({names(ab_sig_holm)})."
    )
)

# %% [markdown]
# With tens of clicks per template the log-likelihood is close to quadratic
# in $\beta_t$, so Wald and profile intervals nearly coincide (their bounds
# of the odds ratio differ by at most {glue:text}`ab_gap:.3f`), and a flat
# prior adds only one click and one non-click to each template. The intervals
# differ more in what they mean (a Bayesian interval is a statement about the
# rate given these data) than in where they lie. The test
# that all templates share A's rate (a likelihood-ratio test on
# {glue:}`ab_df_all` degrees of freedom) has $p$ = {glue:text}`ab_p_all:.3f`.
#
# ### What multiple comparisons do to "95%"
#
# A {glue:text}`ab_level_pct:.0f`% test wrongly declares a difference with
# probability $\alpha$ = {glue:text}`ab_alpha:.2f` *for each comparison*. Comparing
# {glue:}`ab_n_compared` templates with A gives that many chances, so the
# probability that at least one comparison is a false alarm, the family-wise
# error rate, is larger. We simulate experiments in which all templates have
# A's observed rate, and count how often at least one Wald test rejects.

# %%
ab_fwer = ab_test.familywise_error(
    rate=float(ab["rate"].iloc[0]),
    sends=ab_sends,
    n_treatments=len(ab) - 1,
    alpha=alpha_ab,
    n_sims=ab_n_sims,
    random_state=seed,
).set_index(["design", "adjustment"])
display(ab_fwer.style.format(precision=3))
glue("ab_fwer_shared", 100 * ab_fwer.loc[("shared", "none"), "fwer"])
glue("ab_fwer_indep", 100 * ab_fwer.loc[("independent", "none"), "fwer"])
glue("ab_fwer_formula", 100 * (1 - ab_level ** (len(ab) - 1)))
glue("ab_fwer_holm", 100 * ab_fwer.loc[("shared", "holm"), "fwer"])
glue("ab_n_sims", ab_n_sims)

# %% [markdown]
# Without adjustment, {glue:text}`ab_fwer_shared:.1f`% of the
# {glue:}`ab_n_sims` null experiments declare at least one template different
# from A. Had each comparison been a separate experiment with its own
# control, it would be {glue:text}`ab_fwer_indep:.1f`% (the formula
# $1 - (1 - \alpha)^m$ gives {glue:text}`ab_fwer_formula:.1f`%); sharing A makes
# the tests positively correlated, which lowers the rate somewhat but leaves
# it far above the nominal level. Holm's step-down adjustment (which rejects
# whatever Bonferroni's does, and possibly more) brings it back to
# {glue:text}`ab_fwer_holm:.1f`%. So "different from A with
# {glue:text}`ab_level_pct:.0f`% confidence" should be read from the adjusted
# p-values above when the question is about any of the templates; the
# unadjusted ones answer a question about one template chosen in advance.
#
# ### How many sends a conclusive test needs
#
# Taking the observed rates as if they were the true ones (a planning figure),
# the sends per arm for {glue:text}`ab_power_pct:.0f`% power at the
# unadjusted level, and at the Bonferroni level that keeps the family-wise
# error at $\alpha$, from the normal approximation for two proportions
# (checked against statsmodels and by simulation in the tests):

# %%
ab_n = ab_test.sample_sizes(ab, alpha=alpha_ab, power=ab_power)
display(
    ab_n.style.format(
        {
            "rate": "{:.2%}",
            "diff": "{:+.2%}",
            "n_per_arm": "{:,.0f}",
            "n_per_arm_bonferroni": "{:,.0f}",
        }
    )
)
ab_best = ab_n["diff"].abs().idxmax()
glue("ab_best", ab_best)
glue("ab_best_n", int(ab_n.loc[ab_best, "n_per_arm"]))
glue("ab_best_n_bonf", int(ab_n.loc[ab_best, "n_per_arm_bonferroni"]))
glue("ab_smallest_n", int(ab_n["n_per_arm"].max()))

# %% [markdown]
# Even the largest observed difference (template {glue:}`ab_best`) needs
# {glue:text}`ab_best_n:,` sends per arm to be detected with
# {glue:text}`ab_power_pct:.0f`% power, {glue:text}`ab_best_n_bonf:,` with
# the Bonferroni level, against the {glue:}`ab_sends` sent; the smallest
# difference would need {glue:text}`ab_smallest_n:,`. An experiment of this
# size can flag a large difference but cannot rule out the small ones.
#
# ### Extra training data for a second classifier
#
# The second question: a first classifier scores items and flags the
# highest-scoring ones; extra items are to be labelled to train a second
# classifier. We compare three ways of choosing them:
#
# - **uniform**: a random sample of all items;
# - **flagged**: a random sample of the items the first classifier flagged;
# - **boundary**: a random sample of the items whose first-classifier score is
#   closest to its flagging threshold.
#
# Rather than argue, we simulate. Each repetition draws a population with
# known probabilities, fits the first classifier (a logistic GLM) on a random
# initial sample, flags the top `sampling_flag_fraction` of items, draws the
# extra sample by each plan, fits the second logistic GLM on the initial plus
# the extra items, and scores it on a fresh population: on all items and on
# the flagged ones. The metric is the expected log-loss under the true
# probabilities (lower is better). Two truths: a **well-specified** one (the
# log-odds are linear in the three features, as the GLM assumes) and a
# **misspecified** one (a squared term and an interaction that the GLM lacks).
# All plans share each repetition's population, first classifier and test
# set, so we compare them by paired differences from the uniform plan.

# %%
t0 = time.perf_counter()
sampling_results = sampling_plan.simulate_sampling(
    n_reps=sampling_reps,
    n_population=sampling_n_population,
    n_initial=sampling_n_initial,
    n_extra=sampling_n_extra,
    n_test=sampling_n_population,
    flag_fraction=sampling_flag_fraction,
    random_state=seed,
)
sampling_seconds = time.perf_counter() - t0
sampling_diffs = sampling_plan.compare_strategies(
    sampling_results, baseline="uniform", level=ab_level
)
glue("sampling_reps", sampling_reps)
glue("sampling_seconds", sampling_seconds)
glue("sampling_n_extra", sampling_n_extra)
print(f"{sampling_reps} repetitions in {sampling_seconds:.1f} s")

# %% tags=["remove-output"]
ll = sampling_diffs[sampling_diffs["metric"] == "log_loss"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
for ax, scenario in zip(axes, sampling_plan.SCENARIOS, strict=True):
    block = ll[ll["scenario"] == scenario].reset_index(drop=True)
    labels = [f"{s} / {t} items" for s, t in zip(block["strategy"], block["target"], strict=True)]
    ax.errorbar(
        block["mean_diff"],
        np.arange(len(block)),
        xerr=[block["mean_diff"] - block["ci_low"], block["ci_high"] - block["mean_diff"]],
        fmt="o",
        capsize=3,
    )
    ax.axvline(0, color="grey", lw=1)
    ax.set(
        title=scenario,
        yticks=np.arange(len(block)),
        yticklabels=labels,
        xlabel="log-loss minus the uniform plan's (nats)",
    )
fig.tight_layout()
glue_figure("fig-sampling-plans", fig)

# %% [markdown]
# ```{glue:figure} fig-sampling-plans
# :name: fig-sampling-plans
#
# Expected log-loss of the second classifier under each sampling plan, minus
# that of the uniform plan in the same repetition (mean and interval at the
# level `ab_level` over the repetitions), evaluated on all items and on the items the first
# classifier flags. Left of zero: the plan beats uniform sampling.
# ```
#
# {numref}`fig-sampling-plans` compares each plan with uniform sampling.


# %%
def verdict(scenario, target, strategy):
    row = ll.set_index(["scenario", "target", "strategy"]).loc[(scenario, target, strategy)]
    if row["ci_high"] < 0:
        return f"better than uniform sampling (by {-row['mean_diff']:.4f} nats, interval {-row['ci_high']:.4f} to {-row['ci_low']:.4f})"
    if row["ci_low"] > 0:
        return f"worse than uniform sampling (by {row['mean_diff']:.4f} nats, interval {row['ci_low']:.4f} to {row['ci_high']:.4f})"
    return "not distinguishable from uniform sampling"


lines = [
    f"- **{scenario}**, {strategy} plan: on the flagged items {verdict(scenario, 'flagged', strategy)}; "
    f"on all items {verdict(scenario, 'all', strategy)}."
    for scenario in sampling_plan.SCENARIOS
    for strategy in ("flagged", "boundary")
]
mis = ll.set_index(["scenario", "target", "strategy"]).loc["misspecified"]
trade_off = (
    mis.loc[("flagged", "flagged"), "ci_high"] < 0 and mis.loc[("all", "flagged"), "ci_low"] > 0
)
lines.append(
    "\nWith the misspecified truth, labelling flagged items "
    + (
        "traded accuracy on all items for accuracy on the flagged ones."
        if trade_off
        else "did not show that trade-off in this run."
    )
)
display(Markdown("\n".join(lines)))

# %% [markdown]
# The simulation's answer depends on the two things an argument tends to
# leave out. **Where the second classifier will be used**: when it only
# scores flagged items, its errors elsewhere do not matter, and labelling
# flagged or near-boundary items buys accuracy where it counts. **Whether its
# model is right**: when the GLM is well specified, every plan estimates the
# same coefficients and the plans differ little, by the variance of
# the estimates; when it is misspecified, the fit is the best *linear*
# approximation over the region it was trained on, so a plan that samples the
# flagged region can fit that region better and the rest worse. The lines
# above say which of these happened here. These
# are statements about this simulation ({glue:}`sampling_reps` repetitions,
# {glue:}`sampling_n_extra` extra labels, three features), not laws; the
# module `glmlib.experiments.sampling_plan` reruns it with other sizes.

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with (the full run's are in its
# record's `meta` block, printed above).

# %%
glmlib.show_versions(["lightgbm", "pymc", "torch"], device="cpu", seed=seed, quick=quick)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
