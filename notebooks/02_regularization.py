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
# # Regularization
#
# A GLM fitted by maximum likelihood uses every feature it is given, with
# coefficients as large as the training data allow. That is a problem in
# three common situations: when there are more features than observations
# (a gene-expression study of {glue:text}`khan_tumours:d` tumours and
# {glue:text}`khan_genes:,d` genes), when features
# are strongly correlated (a tumour's radius, perimeter and area), and when
# the classes can be separated perfectly, so that the maximum-likelihood
# coefficients are infinite. **Penalised** likelihood adds a price for large
# coefficients: the lasso (L1), ridge (L2) and the elastic net that mixes them
# {cite}`friedman2010`.
#
# This chapter fits penalised logistic and Poisson GLMs with glmlib to real
# data from finance (credit-card default), medicine (tumour gene expression,
# breast cancer) and insurance (claim counts with an exposure offset). It
# draws coefficient paths and cross-validation curves, compares penalties on
# held-out data, checks glmlib against scikit-learn's `LogisticRegression`,
# explains what penalties do to duplicated and correlated features, measures
# how fitting time scales on sparse inputs, and compares three ways of
# choosing the penalty: grid search, random search and Bayesian optimisation.
# Every number quoted is printed by the code that computes it.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw. `quick=True` shrinks the folds, penalty
# grids, resamples, search budgets and the sparse timing problems so that the
# chapter runs in under a minute. `blas_threads` caps the threads of the
# linear-algebra library (see `glmlib.book.limit_blas_threads`); `None` keeps
# the library's default.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in under a minute (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
blas_threads = 1  # BLAS threads (None: the library's default)
test_fraction = 0.3  # share of each data set held out as a test set
n_folds = 5  # cross-validation folds
n_alphas = 40  # penalties on each regularisation path
n_genes = 300  # Khan genes kept: those with the largest training variance
n_boot = 200  # bootstrap resamples for coefficient stability
n_trials = 30  # CV evaluations per hyperparameter-search run
n_search_seeds = 3  # repeats of the random and TPE searches (different seeds)
n_repeats = 3  # timings are the best of this many runs
sparse_n = 20_000  # rows of the sparse design when its density varies
sparse_p = 8_192  # columns (hashed features) of the sparse design
credit_rows = None  # subsample of the 10,000 credit customers (None: all)

# %%
# A bad parameter (say papermill -p n_folds 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, Optional, Real, check_parameters

check_parameters(
    globals(),
    blas_threads=Optional(Int(1)),
    test_fraction=Real(0, 1),
    n_folds=Int(2),
    n_alphas=Int(2),
    n_genes=Int(1, 2308),
    n_boot=Int(1),
    n_trials=Int(1),
    n_search_seeds=Int(1),
    n_repeats=Int(1),
    sparse_n=Int(1),
    sparse_p=Int(1),
    credit_rows=Optional(Int(1, 10_000)),
)

# %%
import time
import warnings
from functools import partial

from tqdm import TqdmWarning

# optuna imports tqdm.auto, which warns in Jupyter when ipywidgets is absent; this chapter
# shows no progress bars, so that one warning is silenced before the imports.
warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp
from IPython.display import Markdown, display
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_poisson_deviance,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split

import glmlib
from glmlib.book import WarningLog, glue, glue_figure, limit_blas_threads
from glmlib.datasets import load

# %%
start_time = time.perf_counter()
if quick:
    n_folds, n_alphas, n_genes = min(n_folds, 3), min(n_alphas, 15), min(n_genes, 200)
    n_boot, n_trials, n_search_seeds = min(n_boot, 40), min(n_trials, 12), 1
    n_repeats, sparse_n, credit_rows = 1, min(sparse_n, 5_000), credit_rows or 3_000
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU
blas = limit_blas_threads(blas_threads)
optuna.logging.set_verbosity(optuna.logging.WARNING)
rng = np.random.default_rng(seed)
# This chapter fits rank-deficient and separated models on purpose: glmlib's (correct)
# warnings about them are recorded under a label and printed once each where they matter.
warning_log = WarningLog()
record_warnings, show_warnings = warning_log.record, warning_log.show
print(f"device={device}, seed={seed}, quick={quick}, n_folds={n_folds}, n_alphas={n_alphas}")
print(f"n_genes={n_genes}, n_boot={n_boot}, n_trials={n_trials}, thread pools: {blas}")

# %% [markdown]
# ## The penalised objective
#
# For observations $(x_i, y_i)$ with weights $w_i$, glmlib's `GLM`
# minimises over the intercept $\beta_0$ and the coefficients $\beta$
#
# $$
# \frac{1}{\sum_i w_i} \sum_i w_i \frac{d(y_i, \mu_i)}{2}
#   + \alpha \Big( \rho \lVert\beta\rVert_1 + \frac{1 - \rho}{2} \lVert\beta\rVert_2^2 \Big),
# \qquad \mu_i = g^{-1}(\beta_0 + x_i^\top\beta + o_i),
# $$
#
# where $d$ is the family's unit deviance, $o_i$ an optional offset,
# $\alpha \ge 0$ the penalty strength (`alpha`) and $\rho \in [0, 1]$ the
# mix (`l1_ratio`): $\rho = 1$ is the **lasso**, $\rho = 0$ **ridge**, and
# anything between an **elastic net**. For the binomial family $d/2$ is the
# log loss, so the first term is the mean log loss. The intercept is not
# penalised.
#
# The L1 norm has a corner at zero, so the lasso sets coefficients exactly to
# zero and selects features; the squared L2 norm is smooth and only shrinks.
# Both act on the raw scale of the coefficients, so every design below is
# standardised with the **training** mean and standard deviation: otherwise a
# balance in dollars and one in thousands of dollars would be penalised
# differently. `GLMCV` fits a whole path of $\alpha$ values from
# $\alpha_{\max}$ (the smallest $\alpha$ with all coefficients zero)
# downwards, warm-starting each fit from the previous one, and chooses
# $\alpha$ by K-fold cross-validation.

# %% [markdown]
# ## Data
#
# Three data sets shipped with glmlib (provenance in `data/README.md`):
#
# - **Default** (ISLR, finance): whether each of {glue:text}`credit_customers:,d`
#   credit-card customers defaulted ({glue:text}`credit_default_rate:.1%` did).
#   Besides balance, income and student status we give the model a flexible,
#   strongly correlated expansion: squares, cubes and interactions,
#   {glue:text}`credit_columns:d` columns in all.
# - **Khan** (ISLR, medicine): expression of {glue:text}`khan_genes:,d` genes in
#   {glue:text}`khan_tumours:d` small round blue cell tumours of four types; we
#   separate type 2 from the rest, on ISLR's split of
#   {glue:text}`khan_train:d` training and {glue:text}`khan_test:d` test
#   tumours, keeping the `n_genes` genes with the largest variance in the
#   training tumours (a screen that never looks at the labels).
# - **Insurance** (MASS): claim counts in {glue:text}`insurance_cells:d` cells
#   of policyholders (district × engine size × age group), with the number of
#   policyholders as exposure. The design holds the three factors and all
#   their two-way interactions, {glue:text}`insurance_columns:d` dummy columns.


# %%
def standardize(train, test):
    """Centre and scale both frames with the training mean and standard deviation."""
    mean, sd = train.mean(), train.std()
    return (train - mean) / sd, (test - mean) / sd


default = load("default")
glue("credit_customers", len(default))
glue("credit_default_rate", float(default["defaulted"].mean()))
if credit_rows is not None:
    default = default.sample(credit_rows, random_state=seed)
balance, income = default["balance"] / 1000, default["income"] / 10_000  # USD 1,000 / 10,000
student = (default["student"] == "Yes").astype(float)
credit = pd.DataFrame({"balance": balance, "income": income, "student": student})
for power in (2, 3):
    credit[f"balance^{power}"], credit[f"income^{power}"] = balance**power, income**power
credit["balance:income"] = balance * income
for term in ["balance", "income", "balance^2", "income^2"]:
    credit[f"{term}:student"] = credit[term] * student
y_credit = default["defaulted"].to_numpy(dtype=float)
Xc_train, Xc_test, yc_train, yc_test = train_test_split(
    credit, y_credit, test_size=test_fraction, stratify=y_credit, random_state=seed
)
Xc_train, Xc_test = standardize(Xc_train, Xc_test)
glue("credit_columns", int(Xc_train.shape[1]))
print(f"credit: {Xc_train.shape} train, {Xc_test.shape} test; default rate {yc_train.mean():.2%}")
powers = Xc_train[["balance", "balance^2", "balance^3"]].corr()
print("correlations of the powers of balance:\n" + powers.round(3).to_string())

# %%
khan = load("khan")
genes = khan.filter(regex=r"^V\d+$")
in_train = (khan["split"] == "train").to_numpy()
top = genes[in_train].var().nlargest(n_genes).index
Xk_train, Xk_test = standardize(genes.loc[in_train, top], genes.loc[~in_train, top])
y_khan = (khan["y"] == 2).to_numpy(dtype=float)
yk_train, yk_test = y_khan[in_train], y_khan[~in_train]
glue("khan_genes", int(genes.shape[1]))
glue("khan_tumours", len(khan))
glue("khan_train", len(yk_train))
glue("khan_test", len(yk_test))
print(f"khan: {Xk_train.shape} train, {Xk_test.shape} test; type-2 share {yk_train.mean():.2%}")

# %%
insurance = load("insurance")
factors = ["District", "Group", "Age"]
main = pd.get_dummies(insurance[factors].astype(str), drop_first=True, dtype=float)
design = main.copy()
for a, b in [("District", "Group"), ("District", "Age"), ("Group", "Age")]:
    for ca in [c for c in main if c.startswith(a)]:
        for cb in [c for c in main if c.startswith(b)]:
            design[f"{ca}:{cb}"] = main[ca] * main[cb]
log_holders = np.log(insurance["Holders"].to_numpy(dtype=float))
y_ins = insurance["Claims"].to_numpy(dtype=float)
Xi_train, Xi_test, yi_train, yi_test, oi_train, oi_test = train_test_split(
    design, y_ins, log_holders, test_size=test_fraction, random_state=seed
)
constant = Xi_train.columns[Xi_train.std() == 0]  # a dummy with no 1 in the training cells
Xi_train, Xi_test = standardize(Xi_train.drop(columns=constant), Xi_test.drop(columns=constant))
glue("insurance_cells", len(insurance))
glue("insurance_columns", int(design.shape[1]))
glue("insurance_coefficients", int(Xi_train.shape[1] + 1))  # with the intercept
glue("insurance_train", len(yi_train))
print(f"insurance: {design.shape[1]} columns, {len(constant)} constant in training dropped;")
print(f"  {Xi_train.shape} train, {Xi_test.shape} test; offset = log(Holders)")

# %% [markdown]
# ## Coefficient paths
#
# A path shows every coefficient as a function of the penalty. We fit
# `GLMCV` on the credit training set three times: lasso, elastic net with
# $\rho = 0.5$ and ridge. `coef_path_` holds the coefficients (one row per
# penalty in `alphas_`), and cross-validation marks two choices: `alpha_`,
# which minimises the mean held-out deviance, and `alpha_1se_`, the largest
# penalty whose CV deviance is within one standard error of that minimum
# (the "one-standard-error rule": the simplest model that is statistically
# indistinguishable from the best). Ridge never sets a coefficient to zero,
# so its $\alpha_{\max}$ is infinite; glmlib sizes the ridge grid as if
# $\rho$ were $10^{-3}$ and extends its bottom by the same factor, so the
# ridge path spans six decades of $\alpha$ where the others span three.
# {numref}`fig-credit-paths` draws the three paths.

# %%
penalties = {"lasso": 1.0, "elastic net": 0.5, "ridge": 0.0}


def fit_cv(label, X, y, l1_ratio, family="binomial", **fit_kw):
    """GLMCV with the chapter's folds and number of penalties; warnings go under `label`."""
    model = glmlib.GLMCV(
        family=family,
        l1_ratio=l1_ratio,
        n_alphas=n_alphas,
        cv=n_folds,
        random_state=seed,
        device=device,
    )
    with record_warnings(label):
        return model.fit(X, y, **fit_kw)


tic = time.perf_counter()
credit_cv = {name: fit_cv("credit", Xc_train, yc_train, rho) for name, rho in penalties.items()}
for name, model in credit_cv.items():
    print(
        f"{name:12s} alpha_ = {model.alpha_:.2e} ({np.count_nonzero(model.coef_)} non-zero), "
        f"alpha_1se_ = {model.alpha_1se_:.2e}, grid {model.alphas_[0]:.1e} .. {model.alphas_[-1]:.1e}"
    )
print(
    f"three GLMCV fits ({n_folds} folds x {n_alphas} alphas each): {time.perf_counter() - tic:.1f} s"
)
show_warnings("credit")


# %% tags=["remove-output"]
def mark_choices(ax, model):
    """Vertical lines at alpha_ and alpha_1se_."""
    ax.axvline(model.alpha_, color="k", ls="--", lw=1, label=r"$\alpha_{\min}$ (alpha_)")
    ax.axvline(model.alpha_1se_, color="k", ls=":", lw=1, label=r"$\alpha_{1se}$ (alpha_1se_)")


colors = plt.get_cmap("tab20").colors
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
for ax, (name, model) in zip(axes, credit_cv.items(), strict=True):
    for j, column in enumerate(Xc_train.columns):
        style = "-" if j < 6 else "--"
        ax.plot(model.alphas_, model.coef_path_[:, j], style, color=colors[j], lw=1.3, label=column)
    mark_choices(ax, model)
    ax.set(xscale="log", xlabel=r"penalty $\alpha$ (log scale)", title=name)
    ax.invert_xaxis()
axes[0].set_ylabel("coefficient (per SD of the feature)")
fig.legend(*axes[0].get_legend_handles_labels(), loc="center right", fontsize=8)
fig.suptitle("Credit default: coefficient paths, from the null model (left) to weak penalties")
fig.tight_layout(rect=(0, 0, 0.84, 1))
glue_figure("fig-credit-paths", fig)

# %% [markdown]
# ```{glue:figure} fig-credit-paths
# :name: fig-credit-paths
#
# Credit default: coefficient paths of the lasso, the elastic net and ridge
# (per standard deviation of each feature) against the penalty, which weakens
# from left to right; the dashed and dotted lines mark `alpha_` and
# `alpha_1se_`.
# ```


# %% tags=["remove-input"]
def entered_and_left(path, columns):
    """Columns non-zero somewhere on a path, and those of them that return to zero later."""
    active = path[:, columns] != 0  # rows: strong to weak penalty
    entered = active.any(axis=0)
    first = np.argmax(active, axis=0)
    left = [entered[k] and not active[first[k] :, k].all() for k in range(len(columns))]
    return entered, np.array(left)


lasso_nonzero = np.count_nonzero(credit_cv["lasso"].coef_path_, axis=1)
ridge_nonzero = np.count_nonzero(credit_cv["ridge"].coef_path_, axis=1)
power_names = ["balance", "balance^2", "balance^3"]
entered, left = entered_and_left(
    credit_cv["lasso"].coef_path_, [Xc_train.columns.get_loc(c) for c in power_names]
)
names_in = [n for n, e in zip(power_names, entered, strict=True) if e]
names_out = [n for n, o in zip(power_names, left, strict=True) if o]
display(
    Markdown(
        f"Reading from left to right the penalty weakens. Between neighbouring penalties the "
        f"lasso admitted at most {np.diff(lasso_nonzero).max()} new feature(s) and held the "
        "rest at exactly zero; ridge kept "
        + (
            f"all {ridge_nonzero.min()}"
            if ridge_nonzero.min() == ridge_nonzero.max() == Xc_train.shape[1]
            else f"between {ridge_nonzero.min()} and {ridge_nonzero.max()} of the "
            f"{Xc_train.shape[1]}"
        )
        + " coefficients non-zero all along. "
        f"Of the powers of balance, {len(names_in)} ({', '.join(names_in) or 'none'}) entered "
        f"the lasso path, and "
        + (
            f"{len(names_out)} ({', '.join(names_out)}) gave way again as the penalty weakened"
            if names_out
            else "none of them gave way again as the penalty weakened"
        )
        + ". They are strongly correlated (see the correlations printed with the data), and "
        "the lasso treats near-copies as alternatives; a section below examines why."
    )
)

# %% [markdown]
# ## Cross-validation curves and sparsity
#
# `cv_deviance_` has one row per fold and one column per penalty (held-out
# deviance per observation). {numref}`fig-cv-curves` shows its mean over the
# folds with error bars of one standard error, $\mathrm{sd}/\sqrt{K}$, for the
# lasso on all three data sets; underneath, the number of non-zero
# coefficients along the same path. The Poisson model gets the exposure
# through `offset=log(Holders)`, so it models the claim *rate* per
# policyholder.

# %%
tic = time.perf_counter()
khan_cv = {name: fit_cv("khan", Xk_train, yk_train, rho) for name, rho in penalties.items()}
insurance_cv = {
    name: fit_cv("insurance", Xi_train, yi_train, rho, family="poisson", offset=oi_train)
    for name, rho in penalties.items()
}
print(f"Khan and insurance GLMCV fits: {time.perf_counter() - tic:.1f} s")
show_warnings("khan")
show_warnings("insurance")

# %% [markdown]
# Any warnings above are glmlib's. X is rank deficient on Khan
# ({glue:text}`khan_train:d` rows, more columns), which matters for the lasso,
# whose solution need not be unique then; with $\alpha > 0$ ridge and the
# elastic net have strictly convex objectives and a unique solution. A
# warning that `alpha_` is the smallest penalty on the grid is discussed
# below the table of choices.

# %% tags=["remove-output"]
lasso_fits = {
    "credit default (binomial)": credit_cv["lasso"],
    "Khan, type 2 vs rest (binomial)": khan_cv["lasso"],
    "insurance claims (Poisson, offset)": insurance_cv["lasso"],
}
fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex="col", height_ratios=[2, 1])
for k, (name, model) in enumerate(lasso_fits.items()):
    mean = model.cv_deviance_.mean(axis=0)
    se = model.cv_deviance_.std(axis=0, ddof=1) / np.sqrt(model.cv_deviance_.shape[0])
    axes[0, k].errorbar(model.alphas_, mean, yerr=se, fmt="o-", ms=3, capsize=2, lw=1)
    axes[0, k].set(title=name, ylabel="held-out deviance per observation")
    nonzero = np.count_nonzero(model.coef_path_, axis=1)
    axes[1, k].step(model.alphas_, nonzero, where="mid", color="C2")
    axes[1, k].set(xscale="log", xlabel=r"penalty $\alpha$", ylabel="non-zero coefficients")
    axes[1, k].invert_xaxis()  # shared with the CV curve above: strong penalties on the left
    for ax in axes[:, k]:
        mark_choices(ax, model)
axes[0, 0].legend(fontsize=8)
fig.suptitle(f"Lasso: {n_folds}-fold CV deviance (mean ± 1 SE) and sparsity against the penalty")
fig.tight_layout()
glue_figure("fig-cv-curves", fig)

# %% [markdown]
# ```{glue:figure} fig-cv-curves
# :name: fig-cv-curves
#
# Lasso on the three data sets. Top: held-out deviance per observation, mean
# over the folds ± one standard error, against the penalty. Bottom: non-zero
# coefficients along the same path. Each column's x axis runs from strong
# penalties (left) to weak ones; the lines mark `alpha_` and `alpha_1se_`.
# ```
#
# The table lists the two choices for every penalty and data set: the
# penalty, the number of non-zero coefficients and the mean CV deviance; the
# last column flags a choice at the end of the grid.

# %%
rows = []
for data, fits in [("credit", credit_cv), ("Khan", khan_cv), ("insurance", insurance_cv)]:
    for name, model in fits.items():
        mean = model.cv_deviance_.mean(axis=0)
        row = {"data": data, "penalty": name}
        for label, alpha in [("min", model.alpha_), ("1se", model.alpha_1se_)]:
            k = int(np.argmin(np.abs(model.alphas_ - alpha)))
            row[f"alpha_{label}"] = alpha
            row[f"non-zero ({label})"] = np.count_nonzero(model.coef_path_[k])
            row[f"CV deviance ({label})"] = mean[k]
        row["alpha_ at grid end"] = model.alpha_ in (model.alphas_[0], model.alphas_[-1])
        rows.append(row)
cv_table = pd.DataFrame(rows).set_index(["data", "penalty"])
glue("khan_at_grid_end", int(cv_table.loc["Khan", "alpha_ at grid end"].sum()))
cv_table.style.format(precision=4, subset=[c for c in cv_table if "deviance" in c]).format(
    "{:.2e}", subset=["alpha_min", "alpha_1se"]
)

# %% [markdown]
# Where the CV deviance has a minimum inside the grid, the one-standard-error
# rule picks a sparser or more strongly shrunk model at little cost in CV
# deviance. On Khan, though, the CV deviance may keep falling to the weakest
# penalty on the grid (glmlib warns when `alpha_` is the grid's smallest
# penalty; here `alpha_` is at the end of the grid for
# {glue:text}`khan_at_grid_end:d` of Khan's three penalties). The reason is separation: with more genes than
# tumours, some linear combination of genes puts all type-2 training tumours
# on one side and the rest on the other, so a weaker penalty only makes the
# model more confident, and while held-out tumours land on the correct side
# their deviance falls too. The check below fits the unpenalised model to the
# training tumours.

# %%
with record_warnings("khan unpenalised"):
    khan_mle = glmlib.GLM("binomial", device=device).fit(Xk_train, yk_train)
mu_train = np.asarray(khan_mle.predict(Xk_train))
print(
    f"unpenalised Khan fit: training accuracy {np.mean((mu_train > 0.5) == yk_train):.0%}; "
    f"1 - p <= {1 - mu_train[yk_train == 1].min():.1e} for the type-2 tumours and "
    f"p <= {mu_train[yk_train == 0].max():.1e} for the others;"
)
print(
    f"largest |coefficient| {np.abs(khan_mle.coef_).max():.1f}, "
    f"n_iter_ = {khan_mle.n_iter_}, converged_ = {khan_mle.converged_}"
)
show_warnings("khan unpenalised")
glue("khan_mle_train_accuracy", float(np.mean((mu_train > 0.5) == yk_train)))
glue(
    "khan_mle_separation_warnings", int(warning_log.count("khan unpenalised", "numerically 0 or 1"))
)
glue("khan_mle_converged", bool(khan_mle.converged_))

# %% [markdown]
# The unpenalised fit classified {glue:text}`khan_mle_train_accuracy:.0%` of
# the training tumours correctly and raised glmlib's separation warning
# {glue:text}`khan_mle_separation_warnings:d` time(s). On perfectly separated
# tumours the maximum-likelihood estimate does not exist: the likelihood
# approaches its supremum only as the coefficients go to infinity along a
# separating direction, and glmlib stops, with that warning, once the fitted
# probabilities are numerically 0 or 1. Its `converged_` flag was
# {glue:text}`khan_mle_converged`: glmlib measures convergence by how much a Newton step moves the linear
# predictor in units of the Fisher information, which vanishes as the
# probabilities reach 0 or 1, so the criterion can be met although no
# maximum exists; the warning is the signal to heed. Any penalty
# $\alpha > 0$ makes the minimiser finite. When cross-validation runs to the end of the grid,
# `alpha_1se_` or a sparsity target is a more defensible choice than
# `alpha_`; the sections below nevertheless use `alpha_` everywhere, as
# `GLMCV`'s refit does.

# %% [markdown]
# ## Test-set performance and stability across folds
#
# Does penalising help on data the model has not seen? For each data set we
# compare four models: unpenalised ($\alpha = 0$) and the lasso, ridge and
# elastic net, each refitted by `GLMCV` on the whole training set at its
# `alpha_`. Classification is scored with accuracy, precision, recall and F1
# of the rule "predict 1 when $\hat\mu > 1/2$", and with two measures of the
# probabilities themselves: the log loss and the area under the ROC curve.
# The count model is scored with the mean squared error of the counts, $R^2$
# and the mean Poisson deviance.


# %%
def classification_metrics(y, mu):
    """Scores of predicted probabilities mu against 0/1 outcomes y."""
    label = (mu > 0.5).astype(float)
    return {
        "accuracy": accuracy_score(y, label),
        "precision": precision_score(y, label, zero_division=0),
        "recall": recall_score(y, label, zero_division=0),
        "F1": f1_score(y, label, zero_division=0),
        "log loss": log_loss(y, np.clip(mu, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "ROC AUC": roc_auc_score(y, mu),
    }


def count_metrics(y, mu):
    """Scores of predicted counts mu against observed counts y."""
    return {
        "MSE": mean_squared_error(y, mu),
        "R2": r2_score(y, mu),
        "Poisson deviance": mean_poisson_deviance(y, mu),
    }


# %% [markdown]
# Each penalised model uses the `alpha_` its own cross-validation chose; the
# unpenalised model is a plain `GLM`. On Khan that is the unpenalised fit of
# the previous section, kept so that its behaviour is visible in the numbers.
# On insurance it has {glue:text}`insurance_coefficients:d` coefficients for
# the {glue:text}`insurance_train:d` training cells.

# %%
studies = {
    "credit": (Xc_train, yc_train, Xc_test, yc_test, None, None, "binomial", credit_cv),
    "Khan": (Xk_train, yk_train, Xk_test, yk_test, None, None, "binomial", khan_cv),
    "insurance": (Xi_train, yi_train, Xi_test, yi_test, oi_train, oi_test, "poisson", insurance_cv),
}


def candidates(fits):
    """(alpha, l1_ratio) of the unpenalised model and of each penalty at its CV choice."""
    chosen = {name: (model.alpha_, penalties[name]) for name, model in fits.items()}
    return {"unpenalised": (0.0, 0.0), **chosen}


tic = time.perf_counter()
test_rows = []
for data, (X, y, X_new, y_new, off, off_new, family, fits) in studies.items():
    for name, (alpha, _) in candidates(fits).items():
        with record_warnings(f"{data} test"):
            if name == "unpenalised":
                model = glmlib.GLM(family=family, device=device).fit(X, y, offset=off)
            else:
                model = fits[name]
        mu = np.asarray(model.predict(X_new, offset=off_new), dtype=float)
        scores = (classification_metrics if family == "binomial" else count_metrics)(y_new, mu)
        test_rows.append({"data": data, "model": name, "alpha": alpha, **scores})
        test_rows[-1]["non-zero"] = np.count_nonzero(model.coef_)
test_table = pd.DataFrame(test_rows).set_index(["data", "model"])
print(f"test-set evaluation: {time.perf_counter() - tic:.1f} s")
for data in studies:
    show_warnings(f"{data} test")

# %%
test_table.loc[["credit", "Khan"]].drop(columns=["MSE", "R2", "Poisson deviance"]).round(4)

# %%
test_table.loc[["insurance"], ["alpha", "MSE", "R2", "Poisson deviance", "non-zero"]].round(4)

# %% [markdown]
# One test set gives one number per model. How much of the difference
# between models is luck of the split? Holding each model's penalty fixed,
# we refit it on $K - 1$ folds of the training set and score the held-out
# fold, $K$ times (stratified folds for the binary outcomes). The spread of
# the fold scores is a direct measure of stability.


# %%
def fold_scores(X, y, off, family, alpha, rho):
    """Held-out scores of GLM(alpha, l1_ratio=rho) on each cross-validation fold."""
    split = (StratifiedKFold if family == "binomial" else KFold)(
        n_splits=n_folds, shuffle=True, random_state=seed
    )
    out = []
    for train, held in split.split(X, y):
        model = glmlib.GLM(family=family, alpha=alpha, l1_ratio=rho, device=device)
        o_train, o_held = (None, None) if off is None else (off[train], off[held])
        model.fit(X.iloc[train], y[train], offset=o_train)
        mu = np.asarray(model.predict(X.iloc[held], offset=o_held), dtype=float)
        metrics = classification_metrics if family == "binomial" else count_metrics
        out.append(metrics(y[held], mu))
    return pd.DataFrame(out)


tic = time.perf_counter()
folds = {}
for data, (X, y, _, _, off, _, family, fits) in studies.items():
    for name, (alpha, rho) in candidates(fits).items():
        with record_warnings(f"{data} folds"):
            folds[data, name] = fold_scores(X, y, off, family, alpha, rho)
print(f"{len(folds) * n_folds} fold fits: {time.perf_counter() - tic:.1f} s")


# %%
def fold_summary(data_sets, metrics):
    """Mean and standard deviation over folds of each metric, one row per data set and model."""
    table = {
        key: {f"{m} {s}": getattr(f[m], s)() for m in metrics for s in ("mean", "std")}
        for key, f in folds.items()
        if key[0] in data_sets
    }
    return pd.DataFrame(table).T.rename_axis(["data", "model"])


fold_summary(["credit", "Khan"], ["log loss", "ROC AUC", "F1", "accuracy"]).round(4)

# %%
fold_summary(["insurance"], ["Poisson deviance", "MSE", "R2"]).map(lambda v: f"{v:.4g}")

# %% tags=["remove-input"]
n_coef = Xi_train.shape[1] + 1
largest_fold = len(yi_train) - len(yi_train) // n_folds  # training cells of the largest fold
display(
    Markdown(
        f"On insurance the unpenalised model has {n_coef} coefficients and a fold's training "
        f"set at most {largest_fold} cells, so "
        + (
            "in every fold some of its coefficients are not identified (glmlib reports the "
            "minimum-norm solution and warns) and the held-out cells expose their arbitrary "
            "values; the penalties shrink those directions instead."
            if n_coef > largest_fold
            else "its coefficients can be identified in a fold, though barely."
        )
    )
)

# %% [markdown]
# {numref}`fig-fold-scores` shows the fold scores themselves. A model whose
# mean is more than twenty times the best in its panel is left off the
# panel's scale; its values are in the tables above.

# %% tags=["remove-output"]
panels = [("credit", "log loss"), ("Khan", "log loss"), ("insurance", "Poisson deviance")]
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (data, metric) in zip(axes, panels, strict=True):
    means = {m: folds[data, m][metric].mean() for m in candidates(studies[data][-1])}
    names = [m for m, v in means.items() if v <= 20 * min(means.values())]
    left_off = [m for m in means if m not in names]
    for i, name in enumerate(names):
        values = folds[data, name][metric].to_numpy()
        ax.plot(
            np.full(values.size, i) + rng.uniform(-0.08, 0.08, values.size), values, "o", alpha=0.5
        )
        ax.errorbar(i + 0.25, values.mean(), yerr=values.std(ddof=1), fmt="ks", capsize=4)
    ax.set_xticks(range(len(names)), names, rotation=15)
    note = f"\n(off scale: {', '.join(left_off)})" if left_off else ""
    ax.set(ylabel=f"held-out {metric} (per observation)", title=data + note)
fig.suptitle(f"Scores on each of {n_folds} held-out folds (lower is better), mean ± 1 SD")
fig.tight_layout()
glue_figure("fig-fold-scores", fig)

# %% [markdown]
# ```{glue:figure} fig-fold-scores
# :name: fig-fold-scores
#
# Held-out scores of the unpenalised model and the three penalties on each
# cross-validation fold (lower is better): log loss on credit and Khan, mean
# Poisson deviance on insurance. Points are folds, squares the mean ± one
# standard deviation over the folds.
# ```

# %%
for data, (_, _, _, _, _, _, family, fits) in studies.items():
    metric = "log loss" if family == "binomial" else "Poisson deviance"
    means = {name: folds[data, name][metric].mean() for name in candidates(fits)}
    test = test_table.loc[data, metric]
    print(
        f"{data}: lowest mean fold {metric}: {min(means, key=means.get)} "
        f"({min(means.values()):.4f}); lowest test {metric}: {test.idxmin()} ({test.min():.4f})"
    )
khan_mle_folds = folds["Khan", "unpenalised"]["log loss"]
print(
    f"Khan, unpenalised: fold log losses from {khan_mle_folds.min():.2g} to "
    f"{khan_mle_folds.max():.2g}; test log loss {test_table.loc[('Khan', 'unpenalised'), 'log loss']:.2g}"
)
for data in studies:
    show_warnings(f"{data} folds")


# %% tags=["remove-input"]
def per_coefficient(X, y):
    """Training observations per coefficient (with the intercept)."""
    return len(y) / (X.shape[1] + 1)


credit_ranges = [
    (f["log loss"].min(), f["log loss"].max()) for k, f in folds.items() if k[0] == "credit"
]
credit_overlap = max(lo for lo, _ in credit_ranges) <= min(hi for _, hi in credit_ranges)
ins = {m: folds["insurance", m]["Poisson deviance"].mean() for m in candidates(insurance_cv)}
best_penalised = min(v for m, v in ins.items() if m != "unpenalised")
khan_accuracy = {m: folds["Khan", m]["accuracy"].mean() for m in candidates(khan_cv)}
glue("insurance_per_coefficient", float(per_coefficient(Xi_train, yi_train)))
glue("insurance_unpenalised_ratio", float(ins["unpenalised"] / best_penalised))
display(
    Markdown(
        "How much a penalty can change depends on how many observations there are per "
        f"coefficient. Credit default has {per_coefficient(Xc_train, yc_train):.0f} training "
        "customers per coefficient, and the four models' fold log losses "
        + ("overlap" if credit_overlap else "do not all overlap")
        + f". Insurance has {per_coefficient(Xi_train, yi_train):.1f} cells per coefficient, "
        f"and there the unpenalised model's mean fold Poisson deviance is "
        f"{ins['unpenalised'] / best_penalised:.3g} times the best penalty's, the worst "
        f"penalty's {max(v for m, v in ins.items() if m != 'unpenalised') / best_penalised:.3g} "
        f"times. On Khan every model classified at least {min(khan_accuracy.values()):.0%} of "
        "the held-out tumours correctly on average, so the scores differ mainly in confidence; "
        "the unpenalised fit predicts probabilities numerically equal to 0 or 1, so its log "
        "loss is near zero on a tumour it gets right and very large on one it gets wrong (the "
        f"printed range shows how that played out on these folds). With {len(yk_test)} test "
        "tumours a single test-set number cannot rank these models; the fold spread is the "
        "better guide."
    )
)

# %% [markdown]
# ## glmlib next to scikit-learn
#
# Many readers know penalised logistic regression as scikit-learn's
# `LogisticRegression(penalty='l1', solver='saga', max_iter=10000)` and
# `LogisticRegression(penalty='l2')`. Its objective for labels $y_i$ is
# $$C \sum_{i=1}^n \ell_i(\beta_0, \beta) + r(\beta),
# \qquad r(\beta) = \lVert\beta\rVert_1 \text{ (L1)} \quad\text{or}\quad
# r(\beta) = \tfrac12 \lVert\beta\rVert_2^2 \text{ (L2)},$$
# with $\ell_i$ the log loss of observation $i$, while glmlib's (unit
# weights, $\rho \in \{0, 1\}$) is
# $$\frac1n \sum_{i=1}^n \ell_i(\beta_0, \beta) + \alpha\, r(\beta).$$
# Dividing glmlib's objective by $\alpha > 0$ does not move its minimiser and
# gives $\frac{1}{n\alpha} \sum_i \ell_i + r(\beta)$, which is scikit-learn's
# objective with
# $$C = \frac{1}{n\,\alpha}.$$
# The same holds for the elastic net, whose scikit-learn penalty is
# $\rho\lVert\beta\rVert_1 + \frac{1-\rho}{2}\lVert\beta\rVert_2^2$ as in
# glmlib; neither library penalises the intercept. A larger $C$ is a weaker
# penalty, and $C$ must scale with $1/n$ to keep the same amount of
# regularisation when the data grow. Since scikit-learn 1.8 the `penalty`
# argument is deprecated in favour of `l1_ratio` (1 for L1, 0 for L2); the
# helper below builds the same model with either version.


# %%
def sklearn_logistic(l1_ratio, C, **kwargs):
    """scikit-learn's pure L1 (l1_ratio=1) or L2 (l1_ratio=0) logistic regression."""
    if LogisticRegression().get_params()["penalty"] == "deprecated":  # scikit-learn >= 1.8
        return LogisticRegression(C=C, l1_ratio=l1_ratio, **kwargs)
    return LogisticRegression(C=C, penalty="l1" if l1_ratio == 1 else "l2", **kwargs)


def best_time(make, X, y, repeats=None):
    """Fitted model and the best wall-clock fit time (s) over `repeats` (n_repeats) fits."""
    times = []
    for _ in range(repeats or n_repeats):
        model = make()
        tic = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - tic)
    return model, min(times)


# %% [markdown]
# We take each penalty at the `alpha_` that cross-validation chose on the
# credit training set, convert it to $C$, and fit both libraries. The L1 fit
# uses scikit-learn's SAGA solver (the recipe above), the L2 fit its default
# L-BFGS. scikit-learn stops at `tol=1e-4` by default, glmlib at `tol=1e-8`,
# so we also refit scikit-learn once with `tol=1e-8` (and `max_iter=10000`)
# to see whether the remaining difference is the stopping rule. The other
# times are the best of `n_repeats` runs, measured on the machine that
# executed this notebook.

# %%
n_train = len(yc_train)
rows = []
for name, rho in [("lasso", 1.0), ("ridge", 0.0)]:
    alpha = credit_cv[name].alpha_
    C = 1 / (n_train * alpha)
    make = partial(glmlib.GLM, "binomial", alpha=alpha, l1_ratio=rho, device=device)
    ours, seconds = best_time(make, Xc_train, yc_train)
    rows.append((name, "glmlib", alpha, C, seconds, 0.0))
    recipe = {"solver": "saga", "max_iter": 10_000} if rho == 1 else {}
    for tol, extra, repeats in [(1e-4, {}, None), (1e-8, {"max_iter": 10_000}, 1)]:
        make = partial(sklearn_logistic, rho, C, **{**recipe, **extra, "tol": tol})
        with record_warnings("scikit-learn"):
            sk, seconds = best_time(make, Xc_train.to_numpy(), yc_train, repeats)
        diff = np.abs(np.r_[sk.intercept_ - ours.intercept_, sk.coef_.ravel() - ours.coef_]).max()
        label = "scikit-learn" + (", tol=1e-8 (one run)" if repeats else "")
        rows.append((name, label, alpha, C, seconds, diff))
columns = ["penalty", "library", "alpha", "C", "fit time (s)", "max |coef diff|"]
comparison = pd.DataFrame(rows, columns=columns).set_index(["penalty", "library"])
show_warnings("scikit-learn")
comparison.style.format(
    {"alpha": "{:.3e}", "C": "{:.4g}", "fit time (s)": "{:.4f}", "max |coef diff|": "{:.1e}"}
)

# %% tags=["remove-input"]
diffs = comparison["max |coef diff|"].unstack("library")
default_tol, tight_tol = diffs["scikit-learn"], diffs["scikit-learn, tol=1e-8 (one run)"]
glue("sklearn_diff_tight", float(tight_tol.max()))
display(
    Markdown(
        '"max |coef diff|" is the largest absolute difference over the intercept and all '
        f"{Xc_train.shape[1]} coefficients, on the standardised scale: at most "
        f"{default_tol.max():.1e} at scikit-learn's default `tol` and {tight_tol.max():.1e} at "
        "`tol=1e-8`. "
        + (
            "Tightening scikit-learn's stopping rule shrinks the difference for both penalties, "
            "so what remains is the stopping rules, and the mapping C = 1/(n alpha) holds."
            if (tight_tol < default_tol).all()
            else "Tightening scikit-learn's stopping rule does not shrink the difference for "
            "every penalty, so not all of it is the stopping rules."
        )
        + " The times are single measurements on one machine (its CPU count is printed at "
        "the end) and say nothing general about either library."
    )
)

# %% [markdown]
# ## Duplicated and correlated features
#
# What does a penalty do when two features carry the same information? The
# extreme case is an exact copy. We refit a small credit model (balance,
# income, student) after appending a copy of `balance`, with $\alpha = 0.01$,
# once with ridge and once with the lasso; and, to check that the split does
# not depend on the solver's order, once more with the copy placed first.

# %%
basic = Xc_train[["balance", "income", "student"]]
copy_last = basic.assign(balance_copy=basic["balance"])
copy_first = copy_last[["balance_copy", "balance", "income", "student"]]
dup_alpha = 0.01


def fit_dup(X, rho, pf=None):
    """Logistic GLM at alpha = dup_alpha on the credit training outcomes."""
    model = glmlib.GLM("binomial", alpha=dup_alpha, l1_ratio=rho, penalty_factor=pf, device=device)
    return model.fit(X, yc_train)


duplicates = {}
for name, rho in [("ridge", 0.0), ("lasso", 1.0)]:
    with record_warnings("duplicates"):
        one, half = fit_dup(basic, rho), fit_dup(basic, rho, pf=[0.5, 1, 1])
        last, first = fit_dup(copy_last, rho), fit_dup(copy_first, rho)
    duplicates[name] = {
        "one column: balance": one.coef_[0],
        "one column, half penalty: balance": half.coef_[0],
        "copy last: balance": last.coef_[0],
        "copy last: balance_copy": last.coef_[3],
        "copy first: balance": first.coef_[1],
        "copy first: balance_copy": first.coef_[0],
    }
duplicates = pd.DataFrame(duplicates)
duplicates.round(5)

# %%
r, l = duplicates["ridge"], duplicates["lasso"]
ridge_gap = abs(r["copy last: balance"] - r["copy last: balance_copy"])
ridge_vs_half = abs(
    r["copy last: balance"] + r["copy last: balance_copy"] - r["one column, half penalty: balance"]
)
lasso_sum_gap = max(
    abs(l[f"copy {o}: balance"] + l[f"copy {o}: balance_copy"] - l["one column: balance"])
    for o in ("last", "first")
)
# which copy the lasso gave the weight to, with the copy last and with it first
lasso_kept = {
    order: "the first column" if abs(l[first]) > abs(l[second]) else "the second column"
    for order, first, second in [
        ("last", "copy last: balance", "copy last: balance_copy"),
        ("first", "copy first: balance_copy", "copy first: balance"),
    ]
}
lasso_zero = max(  # the copy left out, in either order
    min(abs(l[f"copy {o}: balance"]), abs(l[f"copy {o}: balance_copy"])) for o in ("last", "first")
)
glue("ridge_gap", float(ridge_gap))
glue("ridge_vs_half", float(ridge_vs_half))
glue("lasso_sum_gap", float(lasso_sum_gap))
show_warnings("duplicates")

# %% [markdown]
# **Ridge splits the weight evenly.** Write the two copies' coefficients as
# $b_1, b_2$. The data only see their sum $s = b_1 + b_2$, and for a fixed
# sum the ridge penalty $\frac{\alpha}{2}(b_1^2 + b_2^2)$ is smallest at
# $b_1 = b_2 = s/2$, where it equals $\frac{\alpha}{4}s^2$. So the duplicated
# fit is the one-column fit with *half* the penalty on that column
# (`penalty_factor=[0.5, 1, 1]`), its coefficient split evenly between the
# copies: in the table the copies differ by {glue:text}`ridge_gap:.1e` and
# their sum differs from the half-penalty fit by
# {glue:text}`ridge_vs_half:.1e`. Because the ridge objective is *strictly*
# convex, this solution is unique, whatever the column order.
#
# **The lasso keeps one.** With the same signs,
# $\alpha(|b_1| + |b_2|) = \alpha|s|$: every split of $s$ between the copies
# has the same objective, so the minimisers form a whole segment and the
# lasso objective is convex but not strictly. The sum equals the one-column
# lasso coefficient (to {glue:text}`lasso_sum_gap:.1e`), but which copy
# receives it is decided by the algorithm, as the next lines say for
# glmlib's coordinate descent. The elastic net's small L2 part restores
# strict convexity and the even split, which is one reason to prefer it when
# features come in correlated groups.

# %% tags=["remove-input"]
display(
    Markdown(
        f"Here the lasso gave the weight to {lasso_kept['last']} with the copy last and to "
        f"{lasso_kept['first']} with the copy first, leaving the other at {lasso_zero:.1e}."
    )
)

# %% [markdown]
# ### Correlated features: bootstrap spread
#
# Exact copies are rare; near-copies are common. In the breast cancer data
# ({glue:text}`cancer_tumours:d` tumours) a nucleus's mean radius, perimeter and area are almost
# functions of one another. We fit a logistic model for malignancy on six
# standardised features, without penalty and with ridge at the `alpha_`
# chosen by `GLMCV`, on `n_boot` bootstrap resamples of the tumours, and
# compare the spread of the coefficients.

# %%
cancer = load("breast_cancer")
features = [
    "mean_radius",
    "mean_perimeter",
    "mean_area",
    "mean_texture",
    "mean_smoothness",
    "mean_concave_points",
]
Xb = (cancer[features] - cancer[features].mean()) / cancer[features].std()
yb = cancer["malignant"].to_numpy(dtype=float)
vif = pd.Series(np.diag(np.linalg.inv(Xb.corr().to_numpy())), index=features)
print(
    "correlations:",
    Xb.corr().loc["mean_radius", ["mean_perimeter", "mean_area"]].round(4).to_dict(),
)
print("variance inflation factors:", vif.round(1).to_dict())
glue("cancer_tumours", len(yb))
glue("vif_max", float(vif.max()))
ridge_b = fit_cv("breast cancer", Xb, yb, 0.0)
print(
    f"ridge alpha_ = {ridge_b.alpha_:.2e} (grid {ridge_b.alphas_[0]:.1e} .. {ridge_b.alphas_[-1]:.1e})"
)
show_warnings("breast cancer")

# %%
tic = time.perf_counter()
boot = {"unpenalised": [], "ridge": []}
for _ in range(n_boot):
    idx = rng.integers(0, len(yb), len(yb))
    for name, alpha in [("unpenalised", 0.0), ("ridge", ridge_b.alpha_)]:
        with record_warnings(f"bootstrap {name}"):
            model = glmlib.GLM("binomial", alpha=alpha, device=device).fit(Xb.iloc[idx], yb[idx])
        boot[name].append(model.coef_)
boot = {name: pd.DataFrame(np.array(c), columns=features) for name, c in boot.items()}
with record_warnings("breast cancer unpenalised"):  # not counted with the resamples
    full = {"unpenalised": glmlib.GLM("binomial").fit(Xb, yb).coef_, "ridge": ridge_b.coef_}
stability = pd.DataFrame(
    {
        "coef unpenalised": full["unpenalised"],
        "coef ridge": full["ridge"],
        "SD unpenalised": boot["unpenalised"].std(),
        "SD ridge": boot["ridge"].std(),
        "sign flips unpenalised": (
            np.sign(boot["unpenalised"]) != np.sign(full["unpenalised"])
        ).mean(),
        "sign flips ridge": (np.sign(boot["ridge"]) != np.sign(full["ridge"])).mean(),
    }
)
stability["SD ratio"] = stability["SD unpenalised"] / stability["SD ridge"]
size_ratios = stability.loc[["mean_radius", "mean_perimeter", "mean_area"], "SD ratio"]
glue("sd_ratio_min", float(size_ratios.min()))
glue("sd_ratio_max", float(size_ratios.max()))
print(f"{2 * n_boot} bootstrap fits: {time.perf_counter() - tic:.1f} s")
show_warnings("bootstrap unpenalised")
show_warnings("bootstrap ridge")
glue(
    "boot_separated",
    float(warning_log.count("bootstrap unpenalised", "numerically 0 or 1") / n_boot),
)
stability.round(3)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(10, 4))
pos = np.arange(len(features))
for shift, (name, color) in zip(
    (-0.18, 0.18), [("unpenalised", "C3"), ("ridge", "C0")], strict=True
):
    parts = ax.boxplot(
        boot[name].to_numpy(),
        positions=pos + shift,
        widths=0.3,
        patch_artist=True,
        showfliers=False,
    )
    for box in parts["boxes"]:
        box.set(facecolor=color, alpha=0.5)
    ax.plot([], [], "s", color=color, alpha=0.5, label=name)
ax.axhline(0, color="k", lw=0.8)
ax.set_xticks(pos, [f.removeprefix("mean_") for f in features])
ax.set(
    ylabel="coefficient (per SD of the feature)",
    xlabel="feature",
    title=f"Breast cancer: coefficients over {n_boot} bootstrap resamples",
)
ax.legend()
glue_figure("fig-bootstrap", fig)

# %% [markdown]
# ```{glue:figure} fig-bootstrap
# :name: fig-bootstrap
#
# Breast cancer: logistic coefficients of six standardised features over
# `n_boot` bootstrap resamples, unpenalised and with ridge at its CV choice of
# $\alpha$. Boxes span the quartiles, whiskers 1.5 times the interquartile
# range.
# ```
#
# {numref}`fig-bootstrap` shows the spread. Without a penalty, the radius,
# perimeter and area coefficients trade off against each other: the
# likelihood is nearly flat along directions in which one rises and another
# falls, which is what the variance inflation factors measure (the largest
# here, {glue:text}`vif_max:.0f`, means that coefficient's variance is that many times what it would be with
# uncorrelated features). A share of {glue:text}`boot_separated:.0%` of the
# unpenalised resamples also warned that fitted probabilities reach 0 or 1:
# some tumours are separated by these features. Ridge adds curvature
# $\alpha$ in every direction, so the flat directions become determined;
# "SD ratio" is the factor by which it shrinks the bootstrap spread of each
# coefficient. The "sign flips" columns count the resamples in which a
# coefficient's sign differs from its full-data estimate; a coefficient
# whose estimate is near zero flips easily under any method, because the
# three size measures share one effect and which of them carries it is
# exactly what the data cannot tell. The price of the stability is bias
# towards zero (compare the "coef" columns); the CV choice of $\alpha$
# balances the two.

# %% [markdown]
# ## Sparse inputs
#
# Text, click logs and many-level categorical variables give designs that
# are mostly zeros: a document uses few of the words in a vocabulary, a row
# of one-hot codes has one 1 per variable. glmlib accepts a
# `scipy.sparse` CSR or CSC matrix and never densifies it: every pass over
# the data is a sparse product ($X\beta$ or $X^\top r$), whose cost is
# proportional to the number of stored non-zeros (nnz), not to $n \times p$.
#
# We simulate hashed, text-like features: binary indicators at random
# positions in a CSR matrix with `sparse_p` columns, and a logistic outcome
# driven by 1 % of them. Above 4,000 columns glmlib's `solver="auto"` uses
# L-BFGS (a Gram matrix would have $p^2$ entries); we name that solver
# explicitly and fit a light ridge penalty. Two series of problems:
#
# 1. fixed $n$ = `sparse_n` and $p$ = `sparse_p` (so fixed $n \times p$),
#    density from $10^{-4}$ to $2 \times 10^{-2}$;
# 2. fixed density $2 \times 10^{-3}$, $n$ from $\frac14$ to $4 \times$
#    `sparse_n`.
#
# The fit time divided by `n_iter_` gives the time per iteration. Per
# iteration, L-BFGS does the two sparse products, some work on $n$-vectors
# (the inverse link, the deviance) and its own bookkeeping on the $2p$
# variables it optimises. A least-squares fit of the measured time per
# iteration on nnz and $n$ (with an intercept for the fixed cost) says how
# much each contributes. With $p$ fixed, $n$ and $n \times p$ are
# proportional, so the $n$ series alone cannot tell them apart; the density
# series can, because it holds $n \times p$ fixed.


# %%
def hashed_design(n, p, density, rng):
    """A binary CSR design with about density * n * p non-zeros, and a logistic outcome."""
    X = sp.random(n, p, density=density, format="csr", random_state=rng, data_rvs=np.ones)
    beta = np.zeros(p)
    informative = rng.choice(p, p // 100, replace=False)
    beta[informative] = rng.normal(0, 1, informative.size)
    y = rng.binomial(1, 1 / (1 + np.exp(-(X @ beta - 1.0)))).astype(float)
    return X, y


def time_per_iteration(X, y):
    """Best time per L-BFGS iteration over n_repeats fits, and the iterations."""
    best = np.inf
    for _ in range(n_repeats):
        model = glmlib.GLM("binomial", alpha=1e-3, solver="lbfgs", device=device)
        with warnings.catch_warnings():  # all-zero hashed columns are expected at low density
            warnings.filterwarnings("ignore", message="columns .* are constant")
            tic = time.perf_counter()
            model.fit(X, y)
            elapsed = time.perf_counter() - tic
        best = min(best, elapsed / model.n_iter_)
    return best, model.n_iter_


# %%
densities = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2]
sizes = [sparse_n // 4, sparse_n // 2, sparse_n, 2 * sparse_n, 4 * sparse_n]
if quick:
    densities, sizes = densities[::2] + [2e-2], sizes[::2]
runs = [("density varies", sparse_n, d) for d in densities]
runs += [("n varies", n, 2e-3) for n in sizes]
tic = time.perf_counter()
timing = []
for series, n, density in runs:
    X, y = hashed_design(n, sparse_p, density, rng)
    per_iter, iters = time_per_iteration(X, y)
    timing.append(
        {
            "series": series,
            "n": n,
            "p": sparse_p,
            "density": density,
            "nnz": X.nnz,
            "n*p": n * sparse_p,
            "iterations": iters,
            "ms per iteration": 1e3 * per_iter,
        }
    )
timing = pd.DataFrame(timing)
dense_gb = timing["n*p"].max() * 8 / 1e9
print(
    f"{len(runs)} problems timed in {time.perf_counter() - tic:.1f} s; the largest would "
    f"need {dense_gb:.1f} GB as a dense float64 array"
)
timing

# %%
cost = timing["ms per iteration"].to_numpy()
design_cost = np.column_stack([np.ones(len(timing)), timing["nnz"] / 1e6, timing["n"] / 1e4])
coef, *_ = np.linalg.lstsq(design_cost, cost, rcond=None)
fitted = design_cost @ coef
r2 = 1 - np.sum((cost - fitted) ** 2) / np.sum((cost - cost.mean()) ** 2)
print(
    f"ms per iteration ≈ {coef[0]:.2f} + {coef[1]:.2f} per million non-zeros "
    f"+ {coef[2]:.2f} per 10,000 rows (R² = {r2:.3f})"
)
fixed_np = timing[timing["series"] == "density varies"]
print(
    f"at fixed n*p = {fixed_np['n*p'].iloc[0]:.2e}: nnz grows {fixed_np['nnz'].max() / fixed_np['nnz'].min():.0f}x "
    f"and the time per iteration {fixed_np['ms per iteration'].max() / fixed_np['ms per iteration'].min():.1f}x"
)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
for series, marker in [("density varies", "o"), ("n varies", "s")]:
    part = timing[timing["series"] == series]
    label = (
        f"{series} (n = {sparse_n:,})" if series == "density varies" else f"{series} (density 2e-3)"
    )
    axes[0].plot(part["nnz"], part["ms per iteration"], marker + "-", label=label)
    axes[1].plot(part["n*p"], part["ms per iteration"], marker, label=label)
axes[0].set(
    xscale="log",
    xlabel="stored non-zeros (nnz, log scale)",
    ylabel="time per iteration (ms)",
    title="against the number of non-zeros",
)
axes[1].set(xscale="log", xlabel="n × p (log scale)", title="against the dense size n × p")
for ax in axes:
    ax.legend(fontsize=8)
fig.suptitle(
    f"Sparse logistic ridge with L-BFGS, p = {sparse_p:,} columns: measured time per iteration"
)
fig.tight_layout()
glue_figure("fig-sparse-timing", fig)

# %% [markdown]
# ```{glue:figure} fig-sparse-timing
# :name: fig-sparse-timing
#
# Measured time per L-BFGS iteration of a sparse logistic ridge fit with
# `sparse_p` columns, against the stored non-zeros (left) and against the
# dense size $n \times p$ (right); on the right the density series is a
# vertical stack at a single $n \times p$.
# ```


# %% [markdown]
# What {numref}`fig-sparse-timing` and the regression say in this run:


# %% tags=["remove-input"]
def rank_correlation(a, b):
    """Spearman's rank correlation of two sequences (no ties expected)."""
    return float(np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1])


trend = {
    series: rank_correlation(part["nnz"], part["ms per iteration"])
    for series, part in timing.groupby("series")
}
spread = fixed_np["ms per iteration"].max() / fixed_np["ms per iteration"].min()
glue("sparse_spread", float(spread))
glue("sparse_nnz_spread", float(fixed_np["nnz"].max() / fixed_np["nnz"].min()))
display(
    Markdown(
        f"The rank correlation between nnz and the time per "
        f"iteration is {trend['density varies']:.2f} in the density series and "
        f"{trend['n varies']:.2f} in the n series. At the single n × p of the density "
        f"series the time per iteration varies by a factor of {spread:.1f} while nnz varies by "
        f"{fixed_np['nnz'].max() / fixed_np['nnz'].min():.0f}, so "
        + (
            "the dense size does not determine the cost. "
            if spread > 1.5
            else "in this run the cost barely moved with nnz at fixed dense size. "
        )
        + f"The regression above explains a share R² = {r2:.2f} of the variation"
        + (
            ", so its three parts (fixed, per non-zero, per row) describe these timings well. "
            if r2 >= 0.8
            else "; the timings here are too few or too noisy for its three parts to be trusted. "
        )
        + "These are measurements on one machine, and repeated timings of small problems are "
        "noisy."
    )
)

# %% [markdown]
# glmlib's Newton solvers, used below 4,000 columns, instead form
# $X^\top W X$, whose cost for a sparse $X$ grows with $\sum_i
# \mathrm{nnz}_i^2$ (the squared non-zeros of each row) plus $p^3$ for the
# factorisation; that regime is not timed here.

# %% [markdown]
# ## Choosing $\alpha$ and $\rho$: grid, random and Bayesian search
#
# `GLMCV` chooses $\alpha$ along a path for a fixed $\rho$. To choose both,
# we treat the cross-validated deviance as a black-box function of
# $(\alpha, \rho)$ and compare three search strategies with the same budget
# of `n_trials` evaluations:
#
# - **grid search**: a grid of $\log_{10}\alpha$ × $\rho$ values, evaluated
#   in a random order (so that the curve below does not depend on how the
#   grid was written down);
# - **random search**: independent draws, $\log_{10}\alpha$ uniform on
#   $[-4, 0]$ and $\rho$ uniform on $[0, 1]$;
# - **Bayesian optimisation** with optuna's tree-structured Parzen estimator
#   (TPE), which after 10 random start-up trials proposes points where good
#   results have been more likely than bad ones.
#
# The data are all {glue:text}`cancer_features:d` breast cancer features, whose strong correlations make
# the choice of $\rho$ matter. One evaluation is a stratified `n_folds`-fold
# cross-validation with scikit-learn's `cross_val_score` around
# `glmlib.GLM`, scored by the mean held-out binomial deviance per tumour.
# Random search and TPE are repeated with `n_search_seeds` seeds.

# %%
all_features = [c for c in cancer.columns if c not in ("diagnosis", "malignant")]
Xs = (cancer[all_features] - cancer[all_features].mean()) / cancer[all_features].std()
glue("cancer_features", len(all_features))
binomial = glmlib.families.Binomial()
search_folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)


def neg_deviance(estimator, X, y):
    """Minus the mean binomial deviance per observation (scikit-learn maximises scores)."""
    mu = np.asarray(estimator.predict(X), dtype=float)
    return -float(binomial.deviance(np.asarray(y, dtype=float), mu, np.ones(len(y)))) / len(y)


def cv_deviance(log_alpha, rho):
    """Mean held-out deviance per tumour of GLM(10**log_alpha, rho) over the fixed folds."""
    model = glmlib.GLM("binomial", alpha=10.0**log_alpha, l1_ratio=rho, device=device)
    with record_warnings("search"):
        scores = cross_val_score(model, Xs, yb, cv=search_folds, scoring=neg_deviance)
    return -scores.mean()


# %%
def grid_search(seed):
    n_rho = 5 if n_trials >= 25 else 3
    grid = [(a, r) for a in np.linspace(-4, 0, n_trials // n_rho) for r in np.linspace(0, 1, n_rho)]
    order = np.random.default_rng(seed).permutation(len(grid))
    return [(*grid[i], cv_deviance(*grid[i])) for i in order]


def random_search(seed):
    draws = np.random.default_rng(seed).uniform([-4, 0], [0, 1], size=(n_trials, 2))
    return [(a, r, cv_deviance(a, r)) for a, r in draws]


def tpe_search(seed):
    def objective(trial):
        a = trial.suggest_float("log10_alpha", -4, 0)
        return cv_deviance(a, trial.suggest_float("l1_ratio", 0, 1))

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return [(t.params["log10_alpha"], t.params["l1_ratio"], t.value) for t in study.trials]


# %%
tic = time.perf_counter()
searches = {"grid": [grid_search(seed)]}
searches["random"] = [random_search(seed + s) for s in range(n_search_seeds)]
searches["TPE (optuna)"] = [tpe_search(seed + s) for s in range(n_search_seeds)]
n_evals = sum(len(run) for runs_ in searches.values() for run in runs_)
print(f"{n_evals} CV evaluations ({n_folds} fits each): {time.perf_counter() - tic:.1f} s")
show_warnings("search")
best_rows = []
for method, runs_ in searches.items():
    for k, run in enumerate(runs_):
        a, r, value = min(run, key=lambda t: t[2])
        best_rows.append(
            {"method": method, "run": k, "best CV deviance": value, "alpha": 10**a, "l1_ratio": r}
        )
best_found = pd.DataFrame(best_rows).set_index(["method", "run"])
best_found.style.format({"best CV deviance": "{:.4f}", "alpha": "{:.2e}", "l1_ratio": "{:.2f}"})

# %% [markdown]
# {numref}`fig-search` follows the three searches.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
overall = best_found["best CV deviance"].min()
for k, (method, runs_) in enumerate(searches.items()):
    curves = np.array([np.minimum.accumulate([t[2] for t in run]) for run in runs_])
    steps = np.arange(1, curves.shape[1] + 1)
    axes[0].plot(steps, np.median(curves, axis=0), color=f"C{k}", label=method)
    axes[0].fill_between(steps, curves.min(axis=0), curves.max(axis=0), color=f"C{k}", alpha=0.2)
    pts = np.array(runs_[0])
    sc = axes[1].scatter(
        pts[:, 0],
        pts[:, 1],
        c=pts[:, 2],
        marker="os^"[k],
        cmap="viridis_r",
        vmin=overall,
        vmax=np.quantile(pts[:, 2], 0.9),
        label=method,
        alpha=0.8,
    )
axes[0].set(
    xlabel="number of CV evaluations",
    ylabel="best CV deviance so far (per tumour)",
    title="Best CV deviance reached",
)
axes[1].set(
    xlabel=r"$\log_{10}\alpha$", ylabel=r"l1_ratio $\rho$", title="Points evaluated (first seed)"
)
fig.colorbar(sc, ax=axes[1], label="CV deviance (per tumour)")
for ax in axes:
    ax.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-search", fig)

# %% [markdown]
# ```{glue:figure} fig-search
# :name: fig-search
#
# Choosing $(\alpha, \rho)$ on the breast cancer data. Left: the best CV
# deviance found so far against the number of evaluations (for the repeated
# methods, the median over seeds, shaded between the best and the worst
# seed). Right: where each method evaluated, for its first seed, coloured by
# the CV deviance.
# ```

# %%
tolerance = 0.01
for method, runs_ in searches.items():
    reached = [
        next((i + 1 for i, t in enumerate(run) if t[2] <= overall * (1 + tolerance)), None)
        for run in runs_
    ]
    final = [min(t[2] for t in run) for run in runs_]
    print(
        f"{method:13s} final best {np.median(final):.4f} (median of {len(runs_)}); evaluations to "
        f"come within {tolerance:.0%} of the overall best {overall:.4f}: {reached}"
    )
a_best = best_found["alpha"].iloc[best_found["best CV deviance"].argmin()]
r_best = best_found["l1_ratio"].iloc[best_found["best CV deviance"].argmin()]
best_model = glmlib.GLM("binomial", alpha=a_best, l1_ratio=r_best, device=device)
with record_warnings("search"):
    fold_dev = -cross_val_score(best_model, Xs, yb, cv=search_folds, scoring=neg_deviance)
se_best = fold_dev.std(ddof=1) / np.sqrt(len(fold_dev))
finals = best_found["best CV deviance"]
print(
    f"standard error of the CV deviance at the overall best point: {se_best:.4f}; "
    f"the best results of all {len(finals)} runs span {finals.max() - finals.min():.4f}"
)
search_span = finals.max() - finals.min()
glue("search_span", float(search_span))
glue("search_se", float(se_best))
glue("search_span_in_se", float(search_span / se_best))

# %% [markdown]
# Read these numbers for what they are: one data set, one objective with two
# parameters, and few seeds. The CV deviance is itself an estimate, with a
# standard error of {glue:text}`search_se:.4f` at the best point; the best
# results of all runs span {glue:text}`search_span:.4f`, that is
# {glue:text}`search_span_in_se:.2f` standard errors. Differences smaller than
# one standard error are not evidence that one method found a better model,
# only a lower number on these particular folds. TPE's first
# 10 trials are random, so any advantage can only appear after them. This
# experiment says nothing about problems with many hyperparameters or
# expensive evaluations, which are what model-based search is designed for.

# %% [markdown]
# ## Summary
#
# - The lasso, ridge and the elastic net are one objective in glmlib,
#   selected by `l1_ratio`; `GLMCV` fits a warm-started path, and its
#   `coef_path_`, `cv_deviance_`, `alpha_` and `alpha_1se_` give the
#   coefficient paths, the CV curves with their standard errors and the two
#   usual choices of penalty.
# - On held-out data the tables compare the unpenalised model with the
#   three penalties on credit default, Khan's tumours and insurance claims,
#   and the fold scores show how much of each difference is within the
#   variation between folds. The unpenalised Khan fit classified
#   {glue:text}`khan_mle_train_accuracy:.0%` of its training tumours
#   correctly; where that is all of them, its maximum-likelihood estimate
#   does not exist, while every penalty $\alpha > 0$ has a finite minimiser.
#   With {glue:text}`insurance_per_coefficient:.1f` insurance cells per
#   coefficient, the unpenalised Poisson model's mean fold deviance was
#   {glue:text}`insurance_unpenalised_ratio:.3g` times the best penalty's.
# - glmlib's `alpha` maps to scikit-learn's `C` as $C = 1/(n\alpha)$; at
#   that $C$ the two libraries' coefficients differed by at most
#   {glue:text}`sklearn_diff_tight:.1e` with scikit-learn at `tol=1e-8`.
# - With a duplicated feature ridge splits the weight evenly (a strictly
#   convex objective has one minimiser, and it is symmetric), while the
#   lasso's minimisers form a segment and glmlib's solver put the weight on
#   one copy. Correlated features make unpenalised coefficients unstable:
#   ridge divided the bootstrap standard deviation of the radius, perimeter
#   and area coefficients by factors from {glue:text}`sd_ratio_min:.1f` to
#   {glue:text}`sd_ratio_max:.1f`.
# - On sparse input, at one dense size $n \times p$ the time per iteration
#   varied by a factor of {glue:text}`sparse_spread:.1f` as the non-zeros
#   varied by {glue:text}`sparse_nnz_spread:.0f`.
# - For $(\alpha, \rho)$ on the breast cancer data, grid, random and TPE
#   search were compared at equal budgets; the printed comparison sets the
#   differences between their final results against the standard error of
#   the CV deviance itself.

# %% [markdown]
# **Notes on glmlib.** Below 4,000 columns glmlib's Newton solvers work with
# the $(p+1) \times (p+1)$ Fisher information at every iteration, and after
# every penalised fit it factorises that matrix once more (for the effective
# degrees of freedom). Both cost $O(p^3)$, which is why this
# chapter keeps `n_genes` of Khan's {glue:text}`khan_genes:,d` genes to stay
# within its time budget.
#
# **Further reading.** Friedman, Hastie and Tibshirani {cite}`friedman2010`
# describe the coordinate-descent path algorithm that `GLMCV` follows,
# including warm starts, the one-standard-error rule and the elastic net for
# GLMs. The lasso is due to Tibshirani (1996), ridge regression to Hoerl and
# Kennard (1970), the elastic net to Zou and Hastie (2005), the strong rules
# to Tibshirani et al. (2012), and TPE to Bergstra et al. (2011).

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(
    ["optuna", "threadpoolctl", "torch", "matplotlib"],
    device=device,
    seed=seed,
    quick=quick,
    blas_threads=blas_threads,
)
print(f"chapter executed in {time.perf_counter() - start_time:.1f} s")
