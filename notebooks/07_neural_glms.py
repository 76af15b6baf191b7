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
# # Neural GLMs
#
# A GLM is a linear predictor, an inverse link and a deviance. A neural
# network with a GLM output layer keeps the last two and replaces the linear
# predictor by a learned function of the inputs: the loss is the family's
# deviance, the output layer applies the inverse link, and an offset (log
# exposure) enters the linear predictor as in any GLM. This chapter builds
# such networks with `glmlib.nn`, fits them to Belgian motor insurance
# claims (beMTPL97: claim counts of 163,212 policies with their exposure),
# and asks whether the extra flexibility pays off against a GLM and a GAM,
# measured on held-out data with intervals.
#
# All numbers below are computed when the chapter runs; with `quick=True`
# they come from a subsample and a few epochs, and the wording follows them.
# No GPU figures have been recorded for the neural GLMs yet: every timing
# here is from the machine that ran the chapter (printed at the end).

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw; `quick=True` subsamples the policies and
# cuts the epochs so that the chapter runs in well under two minutes on two
# CPU cores; `device` is where the networks train.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: a subsample and few epochs, so the chapter runs in well under two minutes
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
n_rows = None  # policies used (None: all 163,212)
max_epochs = 30  # epochs of each beMTPL97 network (early stopping on a validation split)
batch_size = 2048  # rows per minibatch of the beMTPL97 networks
n_boot = 1000  # paired bootstrap resamples of the test set
n_permutations = 5  # repeats of each feature's permutation in the importance study
cpu_threads = 2  # torch threads of this notebook's process
n_trials = 16  # trials of each hyperparameter search (TPE and random search get the same budget)
n_tuning_seeds = 2  # fits per trial, one per seed, averaged: the trial's validation deviance
n_startup_trials = 5  # TPE's random trials before it models the results
tuning_rows = 30_000  # training policies the searches use (80% fit, 20% validate; None: all)

# %%
# A bad parameter (say papermill -p max_epochs 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, Optional, check_parameters

check_parameters(
    globals(),
    n_rows=Optional(Int(2_000, 163_212)),
    max_epochs=Int(1),
    batch_size=Int(1),
    n_boot=Int(10),
    n_permutations=Int(1),
    cpu_threads=Int(1),
    n_trials=Int(1),
    n_tuning_seeds=Int(1, 10),
    n_startup_trials=Int(1),
    tuning_rows=Optional(Int(500, 163_212)),
)

# %%
import warnings

from tqdm import TqdmWarning

# optuna imports tqdm.auto, which warns at once when ipywidgets is absent; this chapter
# shows no progress bars, so the warning is silenced before optuna is imported.
warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import torch
from IPython.display import Markdown, display
from torch import nn
from torch.utils.data import TensorDataset

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no log line per trial

import glmlib
from glmlib.book import glue, glue_figure
from glmlib.datasets import load
from glmlib.gam import GAM, f, s, te
from glmlib.nn import (
    DivergenceError,
    ElasticNetProx,
    GLMHead,
    GLMLoss,
    LocalGLMnet,
    NeuralGLM,
    SearchSpace,
    TrainConfig,
    evaluate,
    make_study,
    mlp,
    train,
    validation_objective,
)

start_time = time.perf_counter()
if quick:
    n_rows = min(n_rows or 20_000, 20_000)
    max_epochs, n_boot, n_permutations = (
        min(max_epochs, 4),
        min(n_boot, 200),
        min(n_permutations, 2),
    )
    batch_size = min(batch_size, 512)
    n_trials, n_tuning_seeds = min(n_trials, 4), 1
    n_startup_trials, tuning_rows = min(n_startup_trials, 2), min(tuning_rows or 3_000, 3_000)
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU
torch.set_num_threads(cpu_threads)
torch.manual_seed(seed)
rng = np.random.default_rng(seed)

# %% [markdown]
# ## Listing 7.1: a Bernoulli output layer
#
# For a 0/1 response the GLM output layer is a single linear unit whose
# output is the logit $\eta$, and the loss is the Bernoulli deviance. PyTorch
# has it as `BCEWithLogitsLoss`, which takes the logits (never the
# probabilities: `sigmoid` followed by `BCELoss` loses precision where
# $|\eta|$ is large). The binomial deviance is twice the mean log loss, so
# `GLMLoss("binomial")` and `2 * BCEWithLogitsLoss` agree on any logits.

# %%
x_demo = torch.randn(1000, 5, generator=torch.Generator().manual_seed(seed))
y_demo = torch.bernoulli(torch.sigmoid(x_demo @ torch.tensor([1.0, -2.0, 0.0, 0.5, 0.0])))
bernoulli_net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))  # logits out
optimizer = torch.optim.Adam(bernoulli_net.parameters(), lr=1e-2)
bce_loss = nn.BCEWithLogitsLoss()
for _ in range(100):  # full-batch Adam steps
    optimizer.zero_grad()
    bce_loss(bernoulli_net(x_demo)[:, 0], y_demo).backward()
    optimizer.step()
with torch.no_grad():
    logits = bernoulli_net(x_demo)[:, 0]
    bce, glm_bce = bce_loss(logits, y_demo), GLMLoss("binomial")(logits, y_demo)
bce_gap = abs(float(2 * bce - glm_bce))
glue("bce_gap", bce_gap)
print(f"2 x BCEWithLogitsLoss = {2 * float(bce):.6f}, GLMLoss('binomial') = {float(glm_bce):.6f}")

# %% [markdown]
# The two losses differ by {glue:text}`bce_gap:.1e` on these logits: float32
# rounding. `GLMLoss` takes any glmlib family and link the same way (Listing
# 7.2 below uses the Poisson), so a network trained with it minimises the
# deviance that `glmlib.GLM` minimises.
#
# ## Listing 7.2: any family, and where the zeros come from
#
# Listing 7.2 fits a Poisson model with an L1 penalty by adding
# $\alpha \lVert w \rVert_1$ to the loss and letting Adam minimise the sum.
# Adam then steps on the penalty's subgradient, which moves a weight past
# zero and back but never leaves it at zero. The proximal step
# (`ElasticNetProx`, a soft threshold after each optimizer step) sets small
# weights exactly to zero. Both runs below fit the same sparse Poisson
# problem (three of twenty coefficients are non-zero) with the same penalty,
# optimizer and number of steps.

# %%
p_sparse, n_sparse = 20, 4000
X_sparse = torch.randn(n_sparse, p_sparse, generator=torch.Generator().manual_seed(seed))
beta_true = torch.zeros(p_sparse)
beta_true[:3] = torch.tensor([0.6, -0.4, 0.3])
y_sparse = torch.poisson(
    torch.exp(X_sparse @ beta_true), generator=torch.Generator().manual_seed(seed)
)
alpha_l1 = 0.05


def sparse_fit(proximal, steps=300):
    """A Poisson GLM output layer trained by Adam: the L1 term in the loss, or a proximal step."""
    torch.manual_seed(seed)
    head = GLMHead(p_sparse, "poisson")
    deviance = GLMLoss("poisson")
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    prox = ElasticNetProx([head.linear.weight], alpha_l1, l1_ratio=1.0)
    for _ in range(steps):  # full-batch steps
        optimizer.zero_grad()
        loss = deviance(head(X_sparse), y_sparse)  # mean deviance = 2 x (half deviance)
        if not proximal:
            loss = loss + 2 * alpha_l1 * head.linear.weight.abs().sum()
        loss.backward()
        optimizer.step()
        if proximal:
            prox(optimizer)  # soft threshold in Adam's metric
    return head.linear.weight.detach()[0].numpy()


w_adam, w_prox = sparse_fit(proximal=False), sparse_fit(proximal=True)
zeros = {"adam": int(np.sum(w_adam == 0)), "prox": int(np.sum(w_prox == 0))}
small = int(np.sum(np.abs(w_adam[3:]) < 1e-2))
glue("zeros_adam", zeros["adam"])
glue("zeros_prox", zeros["prox"])
glue("small_adam", small)
glue("largest_noise_adam", float(np.max(np.abs(w_adam[3:]))))
glue("n_noise", p_sparse - 3)
print(
    pd.DataFrame({"true": beta_true.numpy(), "L1 in the loss": w_adam, "proximal": w_prox})
    .round(4)
    .T
)

# %% [markdown]
# With the penalty in the loss, {glue:}`zeros_adam` of the {glue:}`n_noise`
# noise coefficients are exactly zero ({glue:}`small_adam` are below $10^{-2}$ in
# absolute value, the largest is {glue:text}`largest_noise_adam:.4f`); with
# the proximal step, {glue:}`zeros_prox` of the twenty coefficients are
# exactly zero. Selection needs the proximal step: `NeuralGLM(alpha=...,
# l1_ratio=...)` applies it to the output layer.

# %% [markdown]
# ## beMTPL97: from a GLM to a LocalGLMnet
#
# Each policy has its exposure (the fraction of the year it was insured),
# its number of claims, the policyholder's age, the bonus-malus level, the
# car's power and age, the coordinates of the postcode and five categorical
# characteristics. Every model is Poisson with offset $\log(\text{exposure})$
# and is fitted on 80% of the policies; the other 20% are the test set.

# %%
numeric = ["ageph", "bm", "power", "agec", "long", "lat"]
categorical = ["coverage", "sex", "fuel", "use", "fleet"]
features = numeric + categorical
claims = load("bemtpl97")
if n_rows is not None and n_rows < len(claims):
    claims = claims.iloc[rng.permutation(len(claims))[:n_rows]]
order = rng.permutation(len(claims))
n_train = int(0.8 * len(claims))
train_df, test_df = claims.iloc[order[:n_train]], claims.iloc[order[n_train:]]
X, X_test = train_df[features], test_df[features]
y, y_test = train_df["nclaims"].to_numpy(float), test_df["nclaims"].to_numpy(float)
offset, offset_test = np.log(train_df["expo"].to_numpy()), np.log(test_df["expo"].to_numpy())
glue("n_train", len(y))
glue("n_test", len(y_test))
print(f"{len(y):,} training and {len(y_test):,} test policies; {y.sum():.0f} training claims")

# %% [markdown]
# The models, from the most rigid to the most flexible:
#
# - **GLM**: main effects, numeric columns linear, categoricals treatment-coded;
# - **GAM**: P-spline smooths of age, bonus-malus, power and car age, a
#   tensor-product smooth of (longitude, latitude), and the categoricals,
#   smoothing parameters by REML;
# - **NeuralGLM**: two hidden layers (tanh) on the standardised numeric
#   columns and an embedding per categorical, and a Poisson output layer;
# - **CANN**: the same network added to the GLM's linear predictor (`glm_skip=True`);
#   its output layer starts at zero, so training starts at the GLM;
# - **LocalGLMnet**: the network outputs each policy's GLM coefficients $\beta(x)$.
#
# Each network holds out 10% of its training rows for early stopping.

# %%
poisson = glmlib.families.get_family("poisson")
net_settings = dict(
    hidden_layer_sizes=(32, 16),
    max_epochs=max_epochs,
    batch_size=batch_size,
    patience=5,
    device=device,
    random_state=seed,
)
gam_terms = s("ageph") + s("bm") + s("power") + s("agec") + te("long", "lat")
for column in categorical:
    gam_terms = gam_terms + f(column)
models = {
    "GLM": glmlib.GLM(family="poisson"),
    "GAM": GAM(gam_terms, family="poisson"),
    "NeuralGLM": NeuralGLM("poisson", learning_rate=3e-3, **net_settings),
    "CANN": NeuralGLM("poisson", glm_skip=True, learning_rate=1e-3, **net_settings),
    "LocalGLMnet": LocalGLMnet("poisson", learning_rate=3e-4, **net_settings),
}
fit_seconds, unit_deviance, mu_test = {}, {}, {}
rate = y.sum() / np.exp(offset).sum()  # the intercept-only model
unit_deviance["intercept only"] = np.asarray(
    poisson.unit_deviance(y_test, rate * np.exp(offset_test))
)
for name, model in models.items():
    tic = time.perf_counter()
    model.fit(X, y, offset=offset)
    fit_seconds[name] = time.perf_counter() - tic
    mu_test[name] = model.predict(X_test, offset=offset_test)
    unit_deviance[name] = np.asarray(poisson.unit_deviance(y_test, mu_test[name]))
    print(
        f"{name:12s} fitted in {fit_seconds[name]:6.1f} s, test deviance {unit_deviance[name].mean():.5f}"
    )

# %% [markdown]
# The test deviance of one split is itself an estimate. The paired bootstrap
# below resamples the test policies and recomputes each model's mean
# deviance minus the GLM's on the same resample: the interval is for the
# difference, which is far more precise than either deviance alone.

# %%
boot_rng = np.random.default_rng(seed + 1)
resamples = [boot_rng.integers(0, len(y_test), len(y_test)) for _ in range(n_boot)]


def paired_interval(d):
    """95% percentile interval of mean(d) over the bootstrap resamples of the test rows."""
    means = np.array([d[r].mean() for r in resamples])
    return np.quantile(means, [0.025, 0.975])


rows = []
for name, d in unit_deviance.items():
    diff = d - unit_deviance["GLM"]
    lo, hi = paired_interval(diff) if name != "GLM" else (np.nan, np.nan)
    rows.append(
        {
            "model": name,
            "test deviance": d.mean(),
            "minus GLM": diff.mean(),
            "95% low": lo,
            "95% high": hi,
            "fit seconds": fit_seconds.get(name, np.nan),
        }
    )
deviance_table = pd.DataFrame(rows).set_index("model")
deviance_table.round(5)

# %%
cann_lo, cann_hi = deviance_table.loc["CANN", ["95% low", "95% high"]]
best = deviance_table["test deviance"].idxmin()
if cann_hi < 0:
    verdict = "below the GLM's: the interval of the difference lies entirely below zero"
elif cann_lo > 0:
    verdict = "above the GLM's: the interval of the difference lies entirely above zero"
else:
    verdict = "not distinguishable from the GLM's: the interval of the difference contains zero"
display(
    Markdown(
        f"On this split the CANN's test deviance is {verdict} "
        f"({deviance_table.loc['CANN', 'minus GLM']:+.5f}, 95% interval "
        f"[{cann_lo:+.5f}, {cann_hi:+.5f}]). The lowest test deviance is the {best}'s "
        f"({deviance_table.loc[best, 'test deviance']:.5f}, against "
        f"{deviance_table.loc['GLM', 'test deviance']:.5f} for the GLM and "
        f"{deviance_table.loc['intercept only', 'test deviance']:.5f} for the intercept-only model)."
    )
)

# %% [markdown]
# Differences in the third decimal of a Poisson deviance per policy are the
# usual scale of gains in claim-frequency modelling: most of a policy's
# claim count is noise that no model predicts. `benchmarks/bench_neural.py`
# repeats this comparison on several random splits at full size, with a
# LightGBM baseline, and `benchmarks/README.md` records its results.
#
# ## Tuning the network's width and learning rate
#
# The NeuralGLM above was given its width and learning rate once, by hand.
# A search picks them on data the comparison does not use: a sample of the
# *training* policies is split into a tuning part (80%) and a validation
# part (20%), and each trial fits the network on the tuning part (once per seed)
# and scores it by the mean Poisson deviance on the validation part
# (`glmlib.nn.validation_objective`). The test policies stay out until the
# tuned network is refitted on the whole training set. Two optuna samplers
# get the same budget of trials: a random search, which draws the width of
# the first hidden layer (the second keeps half of it) and the learning rate
# log-uniformly, and the tree-structured Parzen estimator (TPE), which
# after a few random trials proposes values where the good trials so far
# are dense. {numref}`fig-tuning` follows both searches trial by trial.

# %%
tune_rng = np.random.default_rng(seed + 3)  # its own stream: the draws below stay as they were
tune_order = tune_rng.permutation(len(y))[: min(tuning_rows or len(y), len(y))]
n_fit = int(0.8 * len(tune_order))
fit_rows, val_rows = tune_order[:n_fit], tune_order[n_fit:]
space = SearchSpace(width=(8, 128), learning_rate=(1e-4, 1e-2))
objective = validation_objective(
    models["NeuralGLM"],  # the template: each trial fits a clone with the trial's values
    X.iloc[fit_rows],
    y[fit_rows],
    X.iloc[val_rows],
    y[val_rows],
    offset=offset[fit_rows],
    offset_val=offset[val_rows],
    space=space,
    seeds=range(seed, seed + n_tuning_seeds),
)
hand_set = models["NeuralGLM"]
default_values = {"width": hand_set.hidden_layer_sizes[0], "learning_rate": hand_set.learning_rate}
default_val = objective.evaluate(default_values)
studies, tune_seconds = {}, {}
for name in ["random", "tpe"]:
    tic = time.perf_counter()
    studies[name] = make_study(name, seed=seed, n_startup_trials=n_startup_trials)
    # a trial whose loss diverges fails (and counts against the budget) instead of stopping the search
    studies[name].optimize(objective, n_trials=n_trials, catch=(DivergenceError,))
    tune_seconds[name] = time.perf_counter() - tic
trials = pd.concat(
    {
        name: study.trials_dataframe(attrs=("number", "value", "params"))
        for name, study in studies.items()
    },
    names=["sampler"],
).droplevel(1)
trials.round(5)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name, label in [("random", "random search"), ("tpe", "TPE")]:
    values = trials.loc[name, "value"].fillna(np.inf).to_numpy()  # a failed trial: no value
    axes[0].step(
        np.arange(1, len(values) + 1), np.minimum.accumulate(values), where="post", label=label
    )
    axes[1].scatter(
        trials.loc[name, "params_width"],
        trials.loc[name, "params_learning_rate"],
        c=trials.loc[name, "value"],
        marker="o" if name == "random" else "^",
        cmap="viridis",
        label=label,
    )
axes[0].axhline(
    default_val,
    color="k",
    ls=":",
    label=f"hand-set {hand_set.hidden_layer_sizes}, {hand_set.learning_rate:.0e}",
)
axes[0].set_xlabel("trial")
axes[0].set_ylabel("best validation deviance so far (per policy)")
axes[0].legend(fontsize=8)
axes[1].set_xscale("log")
axes[1].set_yscale("log")
axes[1].set_xlabel("width of the first hidden layer")
axes[1].set_ylabel("learning rate")
axes[1].legend(fontsize=8)
fig.colorbar(axes[1].collections[0], ax=axes[1], label="validation deviance")
fig.tight_layout()
glue_figure("fig-tuning", fig)

# %% [markdown]
# ```{glue:figure} fig-tuning
# :name: fig-tuning
#
# Left: the best mean validation deviance found after each trial by the
# random search and by TPE (same budget, same validation policies), and the
# validation deviance of the hand-set network (dotted). Right: the trials'
# width and learning rate (log scales), coloured by validation deviance.
# ```

# %%
best_name = min(studies, key=lambda name: studies[name].best_value)
best_values = studies[best_name].best_params
tuned = objective.estimator_for(best_values, random_state=seed)
tic = time.perf_counter()
tuned.fit(X, y, offset=offset)  # the whole training set, as the other models
tuned_seconds = time.perf_counter() - tic
tuned_unit = np.asarray(poisson.unit_deviance(y_test, tuned.predict(X_test, offset=offset_test)))
tuned_rows = []
for reference in ["NeuralGLM", "GLM"]:
    diff = tuned_unit - unit_deviance[reference]
    lo, hi = paired_interval(diff)
    tuned_rows.append(
        {"tuned minus": reference, "difference": diff.mean(), "95% low": lo, "95% high": hi}
    )
tuned_table = pd.DataFrame(tuned_rows).set_index("tuned minus")
glue("tune_trials", n_trials)
glue("tune_seeds", n_tuning_seeds)
glue("tune_fit_rows", len(fit_rows))
glue("tune_val_rows", len(val_rows))
glue("tune_minutes", sum(tune_seconds.values()) / 60)
glue("tuned_minus_default", float(tuned_table.loc["NeuralGLM", "difference"]))
glue("tuned_minus_default_low", float(tuned_table.loc["NeuralGLM", "95% low"]))
glue("tuned_minus_default_high", float(tuned_table.loc["NeuralGLM", "95% high"]))
tuned_table.round(5)


# %%
def verdict(lo, hi, better, worse):
    """Words for a paired interval of a difference in test deviance (negative: lower deviance)."""
    if hi < 0:
        return f"{better}: the interval lies below zero"
    if lo > 0:
        return f"{worse}: the interval lies above zero"
    return "no difference the test set can resolve: the interval contains zero"


def reached(name):
    """Words for when a search first beat the hand-set values on validation."""
    values = trials.loc[name, "value"].to_numpy()
    first = next((i + 1 for i, v in enumerate(values) if v < default_val), None)
    label = "TPE" if name == "tpe" else "the random search"
    if first is None:
        return f"{label} never beat the hand-set values"
    return f"{label} first beat the hand-set values at trial {first}"


best_random, best_tpe = studies["random"].best_value, studies["tpe"].best_value
n_failed = int(trials["value"].isna().sum())
vs_default, vs_glm = tuned_table.loc["NeuralGLM"], tuned_table.loc["GLM"]
if best_tpe == best_random:
    samplers = (
        "both found the same best value: with the same sampler seed, TPE's start-up trials are "
        "the random search's first trials, and neither search improved on its best start-up trial"
        if studies["tpe"].best_trial.number < n_startup_trials
        else "both found the same best value"
    )
else:
    winner = "TPE" if best_tpe < best_random else "the random search"
    samplers = (
        f"differ: {winner} found the lower value, by {abs(best_tpe - best_random):.5f}; one search of "
        "each kind on one validation split is a single draw, which a repeat with other seeds "
        "might not confirm"
    )
display(
    Markdown(
        f"The random search reached a validation deviance of {best_random:.5f} and TPE "
        f"{best_tpe:.5f}, against {default_val:.5f} for the hand-set network "
        f"({hand_set.hidden_layer_sizes}, learning rate {hand_set.learning_rate:.0e}); "
        f"{reached('random')}, and {reached('tpe')}"
        + (f" ({n_failed} trial(s) failed with a diverging loss)" if n_failed else "")
        + f". The two samplers {samplers}.\n\n"
        f"The best values found ({best_name}: hidden layers {tuned.hidden_layer_sizes}, learning "
        f"rate {best_values['learning_rate']:.1e}"
        + (
            "; on validation they are no better than the hand-set values, and are refitted "
            "anyway to show what the search alone would have given"
            if min(best_random, best_tpe) >= default_val
            else ""
        )
        + f"), refitted on all training policies in "
        f"{tuned_seconds:.1f} s, change the test deviance by {vs_default['difference']:+.5f} per "
        f"policy from the hand-set NeuralGLM's (95% paired bootstrap interval "
        f"[{vs_default['95% low']:+.5f}, {vs_default['95% high']:+.5f}]): "
        + verdict(vs_default["95% low"], vs_default["95% high"], "tuning helped", "tuning hurt")
        + f". Against the GLM the tuned network's difference is {vs_glm['difference']:+.5f} "
        f"([{vs_glm['95% low']:+.5f}, {vs_glm['95% high']:+.5f}]): "
        + verdict(
            vs_glm["95% low"], vs_glm["95% high"], "better than the GLM", "worse than the GLM"
        )
        + ". A lower validation deviance need not carry over to the test policies: the search "
        "saw a sample of the training policies, and with differences this small the winner on "
        "validation can be noise."
    )
)

# %% [markdown]
# Each search ran {glue:}`tune_trials` trials of {glue:}`tune_seeds` fit(s)
# on {glue:}`tune_fit_rows` training policies, scored on
# {glue:}`tune_val_rows` validation policies; the two searches together took
# {glue:text}`tune_minutes:.1f` minutes.

# %% [markdown]
# ## Calibration
#
# A model can rank policies well and still be biased in some range of
# predicted frequencies. {numref}`fig-calibration` groups the test policies
# into deciles of each model's predicted frequency and compares the mean
# predicted with the observed number of claims per unit of exposure.

# %% tags=["remove-output"]
expo_test = test_df["expo"].to_numpy()
fig, ax = plt.subplots(figsize=(6, 4.5))
calibration_gap, decile_se = {}, {}
for name in models:
    freq = mu_test[name] / expo_test
    decile = pd.qcut(freq, 10, labels=False, duplicates="drop")
    frame = pd.DataFrame({"d": decile, "mu": mu_test[name], "y": y_test, "e": expo_test})
    groups = frame.groupby("d").sum()
    predicted, observed = groups["mu"] / groups["e"], groups["y"] / groups["e"]
    calibration_gap[name] = float(np.max(np.abs(predicted - observed) / observed))
    decile_se[name] = float(np.max(1 / np.sqrt(groups["mu"])))  # Poisson: sd/mean of a total
    ax.plot(predicted, observed, "o-", label=name, ms=4)
lims = [0, ax.get_xlim()[1]]
ax.plot(lims, lims, "k:", lw=1, label="perfect calibration")
ax.set_xlabel("predicted claim frequency (claims per policy-year)")
ax.set_ylabel("observed claim frequency")
ax.set_title("Test policies by decile of predicted frequency")
ax.legend(fontsize=8)
glue_figure("fig-calibration", fig)

# %% [markdown]
# ```{glue:figure} fig-calibration
# :name: fig-calibration
#
# Calibration on the test policies: for each model, the policies are grouped
# into deciles of predicted claim frequency; each point is a decile's mean
# predicted frequency against its observed frequency (claims per unit of
# exposure). The dotted line is perfect calibration.
# ```

# %%
worst = max(calibration_gap, key=calibration_gap.get)
display(
    Markdown(
        "The largest relative gap between predicted and observed frequency in any decile is "
        + ", ".join(f"{calibration_gap[m]:.1%} for the {m}" for m in models)
        + f"; the {worst} is the least calibrated by this measure. With "
        f"{len(y_test):,} test policies a decile holds about {len(y_test) // 10:,} of them, and "
        "a decile's observed claim count, were the model right, would be Poisson with a relative "
        f"standard deviation up to {max(decile_se.values()):.1%} (one over the square root of its "
        "expected claims): "
        + (
            "every gap is within three such standard deviations."
            if all(calibration_gap[m] <= 3 * decile_se[m] for m in models)
            else "the gaps of "
            + ", ".join(m for m in models if calibration_gap[m] > 3 * decile_se[m])
            + " exceed three of them."
        )
    )
)

# %% [markdown]
# ## What the networks learned
#
# A network's effect of one input is read off by partial dependence: set the
# input to a value for every policy of a sample, average the linear
# predictor, and repeat along a grid. {numref}`fig-effects` sets these next
# to the GAM's smooths of age and bonus-malus (each curve centred at its
# mean over the grid, on the scale of the linear predictor), and
# {numref}`fig-location` does the same for the location.

# %% tags=["remove-output"]
sample = X_test.iloc[rng.permutation(len(X_test))[: min(len(X_test), 500)]]


def partial_dependence(model, column, grid):
    """Mean linear predictor (no offset) with `column` set to each grid value, centred."""
    values = []
    for v in grid:
        frame = sample.copy()
        frame[column] = v
        values.append(model.predict_linear(frame).mean())
    values = np.asarray(values)
    return values - values.mean()


fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (column, label) in zip(
    axes, [("ageph", "age of the policyholder (years)"), ("bm", "bonus-malus level")], strict=True
):
    grid = np.linspace(X[column].min(), X[column].max(), 40).round()
    pd_gam = models["GAM"].partial_dependence(f"s({column})", grid=grid)
    gam_curve = pd_gam.estimate - pd_gam.estimate.mean()
    ax.fill_between(
        grid,
        pd_gam.lower - pd_gam.estimate.mean(),
        pd_gam.upper - pd_gam.estimate.mean(),
        color="0.85",
        label="GAM 95% band",
    )
    ax.plot(grid, gam_curve, "k-", lw=2, label="GAM smooth")
    for name in ["GLM", "NeuralGLM", "CANN", "LocalGLMnet"]:
        ax.plot(grid, partial_dependence(models[name], column, grid), label=name)
    ax.set_xlabel(label)
    ax.set_ylabel("effect on the linear predictor (centred)")
axes[0].legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-effects", fig)

# %% [markdown]
# ```{glue:figure} fig-effects
# :name: fig-effects
#
# Learned effects of age (left) and bonus-malus level (right) on the log
# claim frequency, centred: the GAM's smooth with its 95% band, and the
# partial dependence of the GLM and the three networks on a sample of test
# policies.
# ```

# %% tags=["remove-output"]
places = X[["long", "lat"]].drop_duplicates()
places = places.iloc[rng.permutation(len(places))[: min(len(places), 300)]]
gam_map = models["GAM"].partial_dependence("te(long, lat)", grid=places.to_numpy()).estimate
cann_map = []
for lon, lat in places.to_numpy():
    frame = sample.iloc[:100].copy()
    frame["long"], frame["lat"] = lon, lat
    cann_map.append(models["CANN"].predict_linear(frame).mean())
cann_map = np.asarray(cann_map)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, values, title in [
    (axes[0], gam_map, "GAM: te(long, lat)"),
    (axes[1], cann_map, "CANN: partial dependence"),
]:
    points = ax.scatter(
        places["long"], places["lat"], c=values - values.mean(), cmap="RdBu_r", s=12
    )
    ax.set_title(title)
    ax.set_xlabel("longitude (degrees)")
    fig.colorbar(points, ax=ax, label="effect on the linear predictor (centred)")
axes[0].set_ylabel("latitude (degrees)")
fig.tight_layout()
glue_figure("fig-location", fig)
location_corr = float(np.corrcoef(gam_map, cann_map)[0, 1])
glue("location_corr", location_corr)

# %% [markdown]
# ```{glue:figure} fig-location
# :name: fig-location
#
# The effect of the postcode's location on the log claim frequency, centred,
# at a sample of postcodes: the GAM's tensor-product smooth (left) and the
# CANN's partial dependence (right).
# ```
#
# Across these postcodes the two location effects correlate at
# {glue:text}`location_corr:.2f`.
#
# ## LocalGLMnet's attention
#
# A LocalGLMnet is a GLM whose coefficients depend on the policy:
# $\eta(x) = \beta_0 + \sum_j \beta_j(x) \tilde x_j + \log(\text{exposure})$,
# with $\tilde x_j$ the standardised columns. A coefficient that does not
# vary is a GLM term; one that stays near zero can be dropped; one that
# varies with its own column shows a non-linear effect, with another column
# an interaction. {numref}`fig-attention` plots the attention of the
# numeric columns against their own values.

# %% tags=["remove-output"]
attention = models["LocalGLMnet"].attention(sample)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), sharey=True)
for ax, column in zip(axes, ["ageph", "bm", "power", "agec"], strict=True):
    ax.scatter(sample[column], attention[column], s=5, alpha=0.5)
    ax.axhline(
        models["LocalGLMnet"].glm_.coef_[list(models["LocalGLMnet"].term_names_).index(column)],
        color="k",
        ls=":",
        lw=1,
    )
    ax.set_xlabel(column)
axes[0].set_ylabel(r"attention $\beta_j(x)$")
fig.tight_layout()
glue_figure("fig-attention", fig)

# %%
attention_summary = attention.agg(["mean", "std"]).T.sort_values("std", ascending=False)
attention_summary.round(4)

# %% [markdown]
# ```{glue:figure} fig-attention
# :name: fig-attention
#
# LocalGLMnet: each sampled test policy's coefficient $\beta_j(x)$ of age,
# bonus-malus, power and car age (standardised columns) against the
# column's value; the dotted line is the GLM's coefficient, where training
# started.
# ```

# %%
most, least = attention_summary.index[0], attention_summary.index[-1]
local = models["LocalGLMnet"]
if local.best_epoch_ == 0:
    sentence = (
        f"The LocalGLMnet's validation deviance did not improve on its start in "
        f"{local.n_epochs_} epochs, so it kept its starting weights: its attention is the "
        "GLM's coefficients for every policy, and the panels show flat lines."
    )
else:
    sentence = (
        f"The coefficient that varies most across policies is {most}'s (standard deviation "
        f"{attention_summary.loc[most, 'std']:.2e}), the one that varies least is {least}'s "
        f"({attention_summary.loc[least, 'std']:.2e}); the LocalGLMnet's best epoch was "
        f"{local.best_epoch_} of {local.n_epochs_}."
    )
display(Markdown(sentence))

# %% [markdown]
# ## Which inputs matter: permutation importance
#
# The importance of an input is how much the test deviance rises when that
# input's column is shuffled across the test policies, breaking its link
# with the claims while keeping its distribution. Each input is shuffled
# several times, giving a mean and a range; the model is the CANN, and the
# input is a column of the data (not a hidden unit of the network).

# %% tags=["remove-output"]
perm_rng = np.random.default_rng(seed + 2)
base = unit_deviance["CANN"].mean()
importance = {}
for column in features:
    rises = []
    for _ in range(n_permutations):
        shuffled = X_test.copy()
        shuffled[column] = shuffled[column].to_numpy()[perm_rng.permutation(len(shuffled))]
        if isinstance(X_test[column].dtype, pd.CategoricalDtype):
            shuffled[column] = pd.Categorical(
                shuffled[column], categories=X_test[column].cat.categories
            )
        mu = models["CANN"].predict(shuffled, offset=offset_test)
        rises.append(np.mean(poisson.unit_deviance(y_test, mu)) - base)
    importance[column] = rises
importance = pd.DataFrame(importance).T
importance_summary = pd.DataFrame(
    {"mean": importance.mean(axis=1), "min": importance.min(axis=1), "max": importance.max(axis=1)}
).sort_values("mean")
fig, ax = plt.subplots(figsize=(6, 4))
ax.barh(importance_summary.index, importance_summary["mean"], color="0.6")
ax.errorbar(
    importance_summary["mean"],
    importance_summary.index,
    xerr=[
        importance_summary["mean"] - importance_summary["min"],
        importance_summary["max"] - importance_summary["mean"],
    ],
    fmt="none",
    ecolor="k",
)
ax.set_xlabel("rise in test deviance per policy when the column is shuffled")
ax.set_title(f"CANN: permutation importance ({n_permutations} permutations each)")
fig.tight_layout()
glue_figure("fig-importance", fig)
top = importance_summary.index[-1]
glue("top_feature", top)
glue("top_rise", float(importance_summary.loc[top, "mean"]))

# %% [markdown]
# ```{glue:figure} fig-importance
# :name: fig-importance
#
# Permutation importance of each input of the CANN: mean rise of the test
# deviance per policy over the permutations (bars) and its range (whiskers).
# ```
#
# The most important input is {glue:}`top_feature`: shuffling it raises the
# test deviance by {glue:text}`top_rise:.5f` per policy on average
# ({numref}`fig-importance`).

# %% [markdown]
# ## Training efficiently
#
# Four practices, each with a measurement on the training policies. The
# network is the NeuralGLM's body on the numeric columns alone, trained with
# `glmlib.nn.train`, the loop every estimator of `glmlib.nn` uses.

# %%
x_num = torch.as_tensor(
    ((X[numeric] - X[numeric].mean()) / X[numeric].std()).to_numpy(), dtype=torch.float32
)
efficiency_data = TensorDataset(
    x_num,
    torch.as_tensor(offset, dtype=torch.float32),
    torch.as_tensor(y, dtype=torch.float32),
    torch.ones(len(y)),
)


class SmallNet(nn.Module):
    """Numeric columns -> two tanh layers -> a Poisson output layer (with the offset)."""

    def __init__(self):
        super().__init__()
        self.body = mlp(len(numeric), (32, 16), "tanh")
        self.head = GLMHead(16, "poisson")

    def forward(self, x, offset):
        return self.head(self.body(x), offset)


def small_run(epochs=2, **settings):
    """Train a freshly seeded SmallNet; return it, its training deviance and the seconds."""
    torch.manual_seed(seed)
    net = SmallNet()
    config = TrainConfig(
        max_epochs=epochs,
        learning_rate=1e-3,
        lr_schedule="constant",
        seed=seed,
        device=device,
        **settings,
    )
    tic = time.perf_counter()
    train(net, GLMLoss("poisson"), efficiency_data, config=config)
    seconds = time.perf_counter() - tic
    return net, evaluate(net, GLMLoss("poisson"), efficiency_data, device=device), seconds


batch_rows = []
for size in [128, 512, 2048, 8192]:
    _, dev, seconds = small_run(batch_size=size)
    batch_rows.append({"batch size": size, "seconds": seconds, "training deviance": dev})
batch_table = pd.DataFrame(batch_rows).set_index("batch size")
batch_table.round(5)

# %%
fast, slow = batch_table["seconds"].idxmin(), batch_table["seconds"].idxmax()
low = batch_table["training deviance"].idxmin()
display(
    Markdown(
        f"Two epochs took {batch_table.loc[slow, 'seconds']:.1f} s with batches of {slow} rows and "
        f"{batch_table.loc[fast, 'seconds']:.1f} s with batches of {fast}; the lowest training "
        f"deviance after two epochs came with batches of {low} rows. "
        + (
            "The time fell with every increase of the batch size"
            if batch_table["seconds"].is_monotonic_decreasing
            else "The time did not fall with every increase of the batch size (a busy machine "
            "adds noise to timings this short)"
        )
        + (
            ", and the deviance rose with it: fewer steps per epoch make less progress at the "
            "same learning rate."
            if batch_table["training deviance"].is_monotonic_increasing
            else "; the deviance did not rise with every increase of the batch size."
        )
    )
)

# %% [markdown]
# **DataLoader workers and pinned memory.** `TrainConfig(num_workers=...)`
# sets the worker processes that assemble batches; pinned (page-locked) host
# memory lets the copy to a GPU overlap with computation, so the loop pins
# memory on CUDA only: on a CPU there is no copy to overlap.

# %%
worker_seconds = {}
for workers in [0, 2]:
    _, _, worker_seconds[workers] = small_run(epochs=1, batch_size=1024, num_workers=workers)
display(
    Markdown(
        f"One epoch with batches of 1024 rows took {worker_seconds[0]:.1f} s with the batches built in "
        f"the training process and {worker_seconds[2]:.1f} s with two worker processes on {device}. "
        + (
            "The data are tensors in memory, so a batch is an index operation and the workers "
            "cost more (starting processes, passing batches between them) than they save."
            if worker_seconds[2] > 1.1 * worker_seconds[0]
            else "The workers saved time here."
            if worker_seconds[2] < worker_seconds[0] / 1.1
            else "The two differ by less than a tenth: for tensors in memory, building a batch "
            "is an index operation, and workers have little to take over."
        )
    )
)

# %% [markdown]
# **Gradient accumulation equals a large batch.** Four micro-batches
# (`batch_size=256, accumulation_steps=4`), each loss weighted by its share of
# the step's weight, give the same step as one batch of four times as many
# rows (`batch_size=1024`; the last short batch of an epoch is accumulated
# alike). **Resuming equals an
# uninterrupted run**: a checkpoint holds the model, optimizer, schedule and
# the shuffling generator's state.

# %%
big, _, _ = small_run(batch_size=1024)
accumulated, _, _ = small_run(batch_size=256, accumulation_steps=4)
accumulation_gap = max(
    float((a - b).detach().abs().max())
    for a, b in zip(big.parameters(), accumulated.parameters(), strict=True)
)
with tempfile.TemporaryDirectory() as scratch:
    path = os.path.join(scratch, "run.pt")
    whole, _, _ = small_run(epochs=2, batch_size=1024)
    small_run(epochs=1, batch_size=1024, checkpoint_path=path)  # "interrupted" after one epoch
    resumed, _, _ = small_run(epochs=2, batch_size=1024, checkpoint_path=path, resume=True)
resume_gap = max(
    float((a - b).detach().abs().max())
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True)
)
glue("accumulation_gap", accumulation_gap)
glue("resume_gap", resume_gap)
print(f"largest weight difference: accumulation {accumulation_gap:.1e}, resume {resume_gap:.1e}")

# %% [markdown]
# After two epochs the weights of the accumulated run differ from the
# large-batch run's by at most {glue:text}`accumulation_gap:.1e` (float32
# rounding of sums taken in another order), and the resumed run's from the
# uninterrupted run's by {glue:text}`resume_gap:.1e`.
#
# ## The same model in Keras 3
#
# `glmlib.nn.keras.GLMDeviance` is the same deviance behind Keras's loss
# API, on Keras's PyTorch backend. The Keras model below and a `NeuralGLM`
# share the architecture (one hidden layer, `Dense(16, activation="tanh")`, on the
# standardised numeric columns and the one-hot categoricals), the optimizer,
# the learning rate, the batch size and the epochs; neither holds out
# validation rows.

# %%
# glmlib.nn.keras sets KERAS_BACKEND=torch before it imports keras, and hands keras over
from glmlib.nn.keras import GLMDeviance, keras

onehot = pd.get_dummies(claims[features], columns=categorical, drop_first=True, dtype=float)
Z = ((onehot - onehot.iloc[order[:n_train]].mean()) / onehot.iloc[order[:n_train]].std()).to_numpy(
    np.float32
)
Z_train, Z_test = Z[order[:n_train]], Z[order[n_train:]]
keras_epochs = max(3, max_epochs // 3)
keras.utils.set_random_seed(seed)
inputs, log_exposure = keras.Input((Z.shape[1],)), keras.Input((1,))
hidden = keras.layers.Dense(16, activation="tanh")(inputs)
start = keras.initializers.Constant(float(np.log(rate)))  # as NeuralGLM: the intercept-only model
eta = keras.layers.Add()([keras.layers.Dense(1, bias_initializer=start)(hidden), log_exposure])
keras_model = keras.Model([inputs, log_exposure], eta)
keras_model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=GLMDeviance("poisson"))
tic = time.perf_counter()
keras_model.fit(
    [Z_train, offset[:, None]], y, batch_size=batch_size, epochs=keras_epochs, verbose=0
)
keras_seconds = time.perf_counter() - tic
eta_keras = keras_model.predict([Z_test, offset_test[:, None]], verbose=0, batch_size=8192)[:, 0]
keras_unit = np.asarray(poisson.unit_deviance(y_test, np.exp(eta_keras.astype(np.float64))))

torch_twin = NeuralGLM(
    "poisson",
    hidden_layer_sizes=(16,),
    max_epochs=keras_epochs,
    batch_size=batch_size,
    learning_rate=3e-3,
    lr_schedule="constant",
    validation_fraction=0.0,
    patience=None,
    device=device,
    random_state=seed,
)
tic = time.perf_counter()
torch_twin.fit(Z_train, y, offset=offset)
twin_seconds = time.perf_counter() - tic
twin_unit = np.asarray(
    poisson.unit_deviance(y_test, torch_twin.predict(Z_test, offset=offset_test))
)
keras_lo, keras_hi = paired_interval(keras_unit - twin_unit)
display(
    Markdown(
        f"After {keras_epochs} epochs the Keras model's test deviance is {keras_unit.mean():.5f} "
        f"({keras_seconds:.1f} s) and the PyTorch model's {twin_unit.mean():.5f} ({twin_seconds:.1f} s): "
        f"a difference of {keras_unit.mean() - twin_unit.mean():+.5f}, 95% paired bootstrap interval "
        f"[{keras_lo:+.5f}, {keras_hi:+.5f}], "
        + (
            "which contains zero: the two reach the same test deviance within the test set's noise."
            if keras_lo <= 0 <= keras_hi
            else "which excludes zero: the two runs did not reach the same test deviance."
        )
    )
)

# %% [markdown]
# ## Summary
#
# The output layer and the loss are what make a network a GLM: with the
# family's deviance as the loss and the inverse link at the output, any
# architecture inherits offsets, weights and the GLM's notion of fit. On
# beMTPL97 the gains of the flexible models over a main-effects GLM are small
# compared with the noise in claim counts, which is why each comparison
# above comes with an interval; the benchmark repeats it on several splits.
# Searching the NeuralGLM's width and learning rate changed its test
# deviance by {glue:text}`tuned_minus_default:+.5f` per policy (95% interval
# {glue:text}`tuned_minus_default_low:+.5f` to
# {glue:text}`tuned_minus_default_high:+.5f`; negative values are a lower
# deviance).
# No GPU measurements of these networks have been recorded yet.
#
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(["torch", "keras", "matplotlib"], device=device, seed=seed, quick=quick)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
