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
    package = "glmlib[colab] @ git+https://github.com/glmlib/glmlib-book"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)

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
# This chapter fits penalised logistic and Poisson GLMs to credit-card
# default, tumour gene expression, breast cancer and insurance claims: paths
# and cross-validation curves, penalties compared on held-out data, glmlib
# next to scikit-learn, duplicated and correlated features, sparse inputs,
# and three ways of searching for the penalty. Every number quoted is
# computed by the chapter's code.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw; `quick=True` shrinks every size so that the
# chapter runs in under a minute; `blas_threads` caps the linear-algebra
# library's threads (`None`: its default).

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
    globals(), blas_threads=Optional(Int(1)), test_fraction=Real(0, 1), n_folds=Int(2),
    n_alphas=Int(2), n_genes=Int(1, 2308), n_boot=Int(1), n_trials=Int(1), n_search_seeds=Int(1),
    n_repeats=Int(1), sparse_n=Int(1), sparse_p=Int(1), credit_rows=Optional(Int(1, 10_000)),
)  # fmt: skip

# %% tags=["hide-input"]
import time
import warnings
from functools import partial

from tqdm import TqdmWarning

# optuna imports tqdm.auto, which warns in Jupyter when ipywidgets is absent; this chapter
# shows no progress bars, so that one warning is silenced before the imports.
warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)

import numpy as np
import optuna
import pandas as pd
from IPython.display import Markdown, display
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

import glmlib
from glmlib.book import WarningLog, glue, glue_figure, limit_blas_threads
from glmlib.book import regularization as reg  # this chapter's designs, scores and figures
from glmlib.datasets import load

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
print(f"device={device}, quick={quick}, n_folds={n_folds}, n_alphas={n_alphas}, threads: {blas}")

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
# zero and selects features; the squared L2 norm only shrinks. Both act on
# the coefficients' scale, so every design below is standardised with the
# **training** mean and standard deviation. `GLMCV` fits a path of $\alpha$
# from $\alpha_{\max}$ (the smallest $\alpha$ with all coefficients zero)
# downwards, warm-starting each fit, and chooses $\alpha$ by K-fold
# cross-validation.

# %% [markdown]
# ## Data
#
# Three data sets shipped with glmlib (provenance in `data/README.md`):
#
# - **Default** (ISLR): whether each of {glue:text}`credit_customers:,d`
#   credit-card customers defaulted ({glue:text}`credit_default_rate:.1%` did).
#   Balance, income and student status with squares, cubes and interactions:
#   a strongly correlated design of {glue:text}`credit_columns:d` columns.
# - **Khan** (ISLR): expression of {glue:text}`khan_genes:,d` genes in
#   {glue:text}`khan_tumours:d` tumours of four types; we separate type 2 from
#   the rest on ISLR's split ({glue:text}`khan_train:d` training,
#   {glue:text}`khan_test:d` test tumours), keeping the `n_genes` genes of
#   largest training variance (a screen that never looks at the labels).
# - **Insurance** (MASS): claim counts in {glue:text}`insurance_cells:d` cells
#   (district × engine size × age group), policyholders as exposure; the
#   three factors and their two-way interactions make
#   {glue:text}`insurance_columns:d` dummy columns.


# %%
default = load("default")
glue("credit_customers", len(default))
glue("credit_default_rate", float(default["defaulted"].mean()))
if credit_rows is not None:
    default = default.sample(credit_rows, random_state=seed)
credit = reg.credit_design(default)  # balance in USD 1,000, income in USD 10,000
y_credit = default["defaulted"].to_numpy(dtype=float)
Xc_train, Xc_test, yc_train, yc_test = train_test_split(
    credit, y_credit, test_size=test_fraction, stratify=y_credit, random_state=seed
)
Xc_train, Xc_test = reg.standardize(Xc_train, Xc_test)
glue("credit_columns", int(Xc_train.shape[1]))
print(f"credit: {Xc_train.shape} train, {Xc_test.shape} test; default rate {yc_train.mean():.2%}")
powers = Xc_train[["balance", "balance^2", "balance^3"]].corr()
print("correlations of the powers of balance:\n" + powers.round(3).to_string())

# %%
khan = load("khan")
genes = khan.filter(regex=r"^V\d+$")
in_train = (khan["split"] == "train").to_numpy()
top = genes[in_train].var().nlargest(n_genes).index
Xk_train, Xk_test = reg.standardize(genes.loc[in_train, top], genes.loc[~in_train, top])
y_khan = (khan["y"] == 2).to_numpy(dtype=float)
yk_train, yk_test = y_khan[in_train], y_khan[~in_train]
for name, value in [("genes", genes.shape[1]), ("tumours", len(khan)), ("train", len(yk_train))]:
    glue(f"khan_{name}", int(value))
glue("khan_test", len(yk_test))
print(f"khan: {Xk_train.shape} train, {Xk_test.shape} test; type-2 share {yk_train.mean():.2%}")

# %%
insurance = load("insurance")
design = reg.interaction_design(insurance, ["District", "Group", "Age"])
log_holders = np.log(insurance["Holders"].to_numpy(dtype=float))
y_ins = insurance["Claims"].to_numpy(dtype=float)
Xi_train, Xi_test, yi_train, yi_test, oi_train, oi_test = train_test_split(
    design, y_ins, log_holders, test_size=test_fraction, random_state=seed
)
constant = Xi_train.columns[Xi_train.std() == 0]  # a dummy with no 1 in the training cells
Xi_train, Xi_test = reg.standardize(Xi_train.drop(columns=constant), Xi_test.drop(columns=constant))
glue("insurance_cells", len(insurance))
glue("insurance_columns", int(design.shape[1]))
glue("insurance_coefficients", int(Xi_train.shape[1] + 1))  # with the intercept
glue("insurance_train", len(yi_train))
print(f"insurance: {design.shape[1]} columns, {len(constant)} constant in training dropped; ")
print(f"{Xi_train.shape} train, {Xi_test.shape} test; offset = log(Holders)")

# %% [markdown]
# ## Coefficient paths
#
# We fit `GLMCV` on the credit training set with the lasso, the elastic net
# ($\rho = 0.5$) and ridge. `coef_path_` holds the coefficients (one row per
# penalty in `alphas_`); cross-validation marks `alpha_`, which minimises the
# mean held-out deviance, and `alpha_1se_`, the largest penalty within one
# standard error of that minimum (the "one-standard-error rule"). Ridge
# never sets a coefficient to zero, so its $\alpha_{\max}$ is infinite;
# glmlib sizes its grid as if $\rho$ were $10^{-3}$ and extends the bottom
# by the same factor, so the ridge path spans six decades of $\alpha$, the
# others three. {numref}`fig-credit-paths` draws the three paths.

# %%
penalties = {"lasso": 1.0, "elastic net": 0.5, "ridge": 0.0}


def fit_cv(label, X, y, l1_ratio, family="binomial", **fit_kw):
    """GLMCV with the chapter's folds and number of penalties; warnings go under `label`."""
    model = glmlib.GLMCV(
        family=family, l1_ratio=l1_ratio, n_alphas=n_alphas, cv=n_folds, random_state=seed,
        device=device,
    )  # fmt: skip
    with record_warnings(label):
        return model.fit(X, y, **fit_kw)


tic = time.perf_counter()
credit_cv = {name: fit_cv("credit", Xc_train, yc_train, rho) for name, rho in penalties.items()}
for name, model in credit_cv.items():
    print(f"{name:12s} alpha_ = {model.alpha_:.2e} ({np.count_nonzero(model.coef_)} non-zero), "
          f"alpha_1se_ = {model.alpha_1se_:.2e}, grid {model.alphas_[0]:.1e} .. {model.alphas_[-1]:.1e}")  # fmt: skip
print(f"three GLMCV fits ({n_folds} folds x {n_alphas} alphas): {time.perf_counter() - tic:.1f} s")
show_warnings("credit")


# %% tags=["remove-output"]
fig = reg.plot_paths(credit_cv, Xc_train.columns)
fig.suptitle("Credit default: coefficient paths, from the null model (left) to weak penalties")
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
lasso_nonzero = np.count_nonzero(credit_cv["lasso"].coef_path_, axis=1)
ridge_nonzero = np.count_nonzero(credit_cv["ridge"].coef_path_, axis=1)
power_names = ["balance", "balance^2", "balance^3"]
entered, left = reg.entered_and_left(
    credit_cv["lasso"].coef_path_, [Xc_train.columns.get_loc(c) for c in power_names]
)
names_in = [n for n, e in zip(power_names, entered, strict=True) if e]
names_out = [n for n, o in zip(power_names, left, strict=True) if o]
lo, hi, p_credit = ridge_nonzero.min(), ridge_nonzero.max(), Xc_train.shape[1]
ridge_kept = f"all {lo}" if lo == hi == p_credit else f"between {lo} and {hi} of the {p_credit}"
gave_way = f"{len(names_out)} ({', '.join(names_out)})" if names_out else "none of them"
display(Markdown(
    f"Reading from left to right the penalty weakens. Between neighbouring penalties the lasso "
    f"admitted at most {np.diff(lasso_nonzero).max()} new feature(s) and held the rest at exactly "
    f"zero; ridge kept {ridge_kept} coefficients non-zero all along. Of the powers of balance, "
    f"{len(names_in)} ({', '.join(names_in) or 'none'}) entered the lasso path, and {gave_way} "
    "gave way again as the penalty weakened. They are strongly correlated (see the correlations "
    "printed with the data), and the lasso treats near-copies as alternatives; a section below "
    "examines why."
))  # fmt: skip

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
insurance_cv = {name: fit_cv("insurance", Xi_train, yi_train, rho, family="poisson", offset=oi_train)
                for name, rho in penalties.items()}  # fmt: skip
print(f"Khan and insurance GLMCV fits: {time.perf_counter() - tic:.1f} s")
show_warnings("khan")
show_warnings("insurance")

# %% [markdown]
# X is rank deficient on Khan ({glue:text}`khan_train:d` rows, more columns):
# the lasso's solution need not be unique then, while with $\alpha > 0$ ridge
# and the elastic net are strictly convex and have a unique solution.

# %% tags=["remove-output"]
lasso_fits = {"credit default (binomial)": credit_cv["lasso"], "Khan, type 2 vs rest (binomial)": khan_cv["lasso"],
              "insurance claims (Poisson, offset)": insurance_cv["lasso"]}  # fmt: skip
fig = reg.plot_cv_curves(lasso_fits)
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
# The table lists both choices for every penalty and data set; the last
# column flags a choice at the end of the grid.

# %%
cv_table = reg.choices_table({"credit": credit_cv, "Khan": khan_cv, "insurance": insurance_cv})
glue("khan_at_grid_end", int(cv_table.loc["Khan", "alpha_ at grid end"].sum()))
cv_table.style.format(precision=4, subset=[c for c in cv_table if "deviance" in c]).format(
    "{:.2e}", subset=["alpha_min", "alpha_1se"]
)

# %% [markdown]
# Where the CV deviance has a minimum inside the grid, the one-standard-error
# rule picks a sparser or more strongly shrunk model at little cost. On Khan
# the CV deviance may keep falling to the weakest penalty (`alpha_` is at the
# end of the grid for {glue:text}`khan_at_grid_end:d` of Khan's three
# penalties, and glmlib warns). The reason is separation: with more genes
# than tumours, some combination of genes puts all type-2 training tumours on
# one side and the rest on the other, so a weaker penalty only makes the
# model more confident. The unpenalised fit shows it:

# %%
with record_warnings("khan unpenalised"):
    khan_mle = glmlib.GLM("binomial", device=device).fit(Xk_train, yk_train)
mu_train = np.asarray(khan_mle.predict(Xk_train))
train_accuracy = float(np.mean((mu_train > 0.5) == yk_train))
print(
    f"training accuracy {train_accuracy:.0%}; 1 - p <= {1 - mu_train[yk_train == 1].min():.1e} "
    f"for the type-2 tumours, p <= {mu_train[yk_train == 0].max():.1e} for the others; largest "
    f"|coefficient| {np.abs(khan_mle.coef_).max():.1f}, n_iter_ = {khan_mle.n_iter_}"
)
show_warnings("khan unpenalised")
glue("khan_mle_train_accuracy", train_accuracy)
glue("khan_mle_separation_warnings", warning_log.count("khan unpenalised", "numerically 0 or 1"))
glue("khan_mle_converged", bool(khan_mle.converged_))

# %% [markdown]
# The unpenalised fit classified {glue:text}`khan_mle_train_accuracy:.0%` of
# the training tumours correctly and raised glmlib's separation warning
# {glue:text}`khan_mle_separation_warnings:d` time(s). On perfectly separated
# tumours the maximum-likelihood estimate does not exist: the likelihood
# approaches its supremum only as the coefficients go to infinity, and glmlib
# stops, with that warning, once the fitted probabilities are numerically 0
# or 1. Its `converged_` flag was {glue:text}`khan_mle_converged`: the Newton
# step, measured in units of the Fisher information, vanishes as the
# probabilities reach 0 or 1, so the criterion can be met although no
# maximum exists; the warning is the signal to heed. Any $\alpha > 0$ makes
# the minimiser finite. When cross-validation runs to the end of the grid,
# `alpha_1se_` is a more defensible choice than `alpha_`; the sections below
# nevertheless use `alpha_`, as `GLMCV`'s refit does.

# %% [markdown]
# ## Test-set performance and stability across folds
#
# Does penalising help on data the model has not seen? For each data set we
# compare the unpenalised `GLM` ($\alpha = 0$; on insurance it has
# {glue:text}`insurance_coefficients:d` coefficients for the
# {glue:text}`insurance_train:d` training cells) with the lasso, ridge and
# elastic net, each refitted by `GLMCV` on the whole training set at its own
# `alpha_`. Classification is scored with accuracy, precision, recall and F1
# of the rule "predict 1 when $\hat\mu > 1/2$", and with the log loss and
# the area under the ROC curve; counts with the mean squared error, $R^2$ and
# the mean Poisson deviance (`reg.classification_metrics`, `reg.count_metrics`).

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
        model = fits.get(name)
        if model is None:  # unpenalised
            with record_warnings(f"{data} test"):
                model = glmlib.GLM(family=family, device=device).fit(X, y, offset=off)
        mu = np.asarray(model.predict(X_new, offset=off_new), dtype=float)
        score = reg.classification_metrics if family == "binomial" else reg.count_metrics
        test_rows.append({"data": data, "model": name, "alpha": alpha, **score(y_new, mu)})
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
# One test set gives one number per model: how much is luck of the split?
# With each penalty fixed, we refit on $K - 1$ training folds and score the
# held-out fold, $K$ times (`reg.fold_scores`, stratified for binary outcomes).

# %%
tic = time.perf_counter()
folds = {}
for data, (X, y, _, _, off, _, family, fits) in studies.items():
    for name, (alpha, rho) in candidates(fits).items():
        with record_warnings(f"{data} folds"):
            folds[data, name] = reg.fold_scores(
                X, y, off, family, alpha, rho, n_folds=n_folds, seed=seed, device=device
            )
print(f"{len(folds) * n_folds} fold fits: {time.perf_counter() - tic:.1f} s")


# %%
reg.fold_summary(folds, ["credit", "Khan"], ["log loss", "ROC AUC", "F1", "accuracy"]).round(4)

# %%
reg.fold_summary(folds, ["insurance"], ["Poisson deviance", "MSE", "R2"]).map(lambda v: f"{v:.4g}")

# %% tags=["remove-input"]
n_coef = Xi_train.shape[1] + 1
largest_fold = len(yi_train) - len(yi_train) // n_folds  # training cells of the largest fold
unidentified = (
    "in every fold some of its coefficients are not identified (glmlib reports the minimum-norm "
    "solution and warns) and the held-out cells expose their arbitrary values; the penalties "
    "shrink those directions instead."
)
display(Markdown(
    f"On insurance the unpenalised model has {n_coef} coefficients and a fold's training set at "
    f"most {largest_fold} cells, so "
    + (unidentified if n_coef > largest_fold else "its coefficients can be identified, barely.")
))  # fmt: skip

# %% [markdown]
# {numref}`fig-fold-scores` shows the fold scores themselves. A model whose
# mean is more than twenty times the best in its panel is left off the
# panel's scale; its values are in the tables above.

# %% tags=["remove-output"]
panels = [("credit", "log loss"), ("Khan", "log loss"), ("insurance", "Poisson deviance")]
fig = reg.plot_fold_scores(
    {d: {m: folds[d, m][metric] for m in candidates(studies[d][-1])} for d, metric in panels},
    [f"held-out {metric} (per observation)" for _, metric in panels],
    rng,
)
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
    print(f"{data}: lowest mean fold {metric}: {min(means, key=means.get)} ({min(means.values()):.4f}); "
          f"lowest test {metric}: {test.idxmin()} ({test.min():.4f})")  # fmt: skip
khan_mle_folds = folds["Khan", "unpenalised"]["log loss"]
print(f"Khan, unpenalised: fold log losses from {khan_mle_folds.min():.2g} to {khan_mle_folds.max():.2g}; "
      f"test log loss {test_table.loc[('Khan', 'unpenalised'), 'log loss']:.2g}")  # fmt: skip
for data in studies:
    show_warnings(f"{data} folds")

# %% tags=["remove-input"]
per_coef = {d: len(v[1]) / (v[0].shape[1] + 1) for d, v in studies.items()}  # rows per coefficient
credit_ranges = [
    (f["log loss"].min(), f["log loss"].max()) for k, f in folds.items() if k[0] == "credit"
]
credit_overlap = max(lo for lo, _ in credit_ranges) <= min(hi for _, hi in credit_ranges)
ins = {m: folds["insurance", m]["Poisson deviance"].mean() for m in candidates(insurance_cv)}
penalised = [v for m, v in ins.items() if m != "unpenalised"]
khan_accuracy = min(folds["Khan", m]["accuracy"].mean() for m in candidates(khan_cv))
glue("insurance_per_coefficient", float(per_coef["insurance"]))
glue("insurance_unpenalised_ratio", float(ins["unpenalised"] / min(penalised)))
display(Markdown(
    "How much a penalty can change depends on how many observations there are per coefficient. "
    f"Credit default has {per_coef['credit']:.0f} training customers per coefficient, and the "
    f"four models' fold log losses {'overlap' if credit_overlap else 'do not all overlap'}. "
    f"Insurance has {per_coef['insurance']:.1f} cells per coefficient, and there the unpenalised "
    f"model's mean fold Poisson deviance is {ins['unpenalised'] / min(penalised):.3g} times the best "
    f"penalty's, the worst penalty's {max(penalised) / min(penalised):.3g} times. On Khan every model "
    f"classified at least {khan_accuracy:.0%} of the held-out tumours correctly on average, so the "
    "scores differ mainly in confidence; the unpenalised fit predicts probabilities numerically "
    "equal to 0 or 1, so its log loss is near zero on a tumour it gets right and very large on one "
    "it gets wrong (the printed range shows how that played out on these folds). With "
    f"{len(yk_test)} test tumours a single test-set number cannot rank these models; the fold "
    "spread is the better guide."
))  # fmt: skip

# %% [markdown]
# ## glmlib next to scikit-learn
#
# scikit-learn's `LogisticRegression(penalty='l1', solver='saga')` and
# `LogisticRegression(penalty='l2')` minimise
# $$C \sum_{i=1}^n \ell_i(\beta_0, \beta) + r(\beta),
# \qquad r(\beta) = \lVert\beta\rVert_1 \text{ (L1)} \quad\text{or}\quad
# r(\beta) = \tfrac12 \lVert\beta\rVert_2^2 \text{ (L2)},$$
# with $\ell_i$ the log loss of observation $i$; glmlib's (unit weights,
# $\rho \in \{0, 1\}$) is
# $\frac1n \sum_{i=1}^n \ell_i(\beta_0, \beta) + \alpha\, r(\beta)$.
# Dividing it by $\alpha > 0$ does not move the minimiser and gives
# scikit-learn's objective with
# $$C = \frac{1}{n\,\alpha},$$
# for the elastic net too; neither library penalises the intercept. A larger
# $C$ is a weaker penalty, and $C$ must scale with $1/n$ to keep the same
# regularisation when the data grow. (Since scikit-learn 1.8 `penalty` is
# deprecated for `l1_ratio`; `reg.sklearn_logistic` works with either.)
#
# We convert each penalty's `alpha_` on the credit training set to $C$ and
# fit both libraries: L1 with scikit-learn's SAGA, L2 with its default
# L-BFGS. scikit-learn stops at `tol=1e-4` by default, glmlib at `tol=1e-8`,
# so we also refit scikit-learn once with `tol=1e-8` to see whether the
# remaining difference is the stopping rule. Times are the best of
# `n_repeats` runs on the machine that executed this notebook.

# %%
n_train = len(yc_train)
rows = []
for name, rho in [("lasso", 1.0), ("ridge", 0.0)]:
    alpha = credit_cv[name].alpha_
    C = 1 / (n_train * alpha)
    make = partial(glmlib.GLM, "binomial", alpha=alpha, l1_ratio=rho, device=device)
    ours, seconds = reg.best_time(make, Xc_train, yc_train, n_repeats)
    rows.append((name, "glmlib", alpha, C, seconds, 0.0))
    recipe = {"solver": "saga", "max_iter": 10_000} if rho == 1 else {}
    for tol, extra, repeats in [(1e-4, {}, n_repeats), (1e-8, {"max_iter": 10_000}, 1)]:
        make = partial(reg.sklearn_logistic, rho, C, **{**recipe, **extra, "tol": tol})
        with record_warnings("scikit-learn"):
            sk, seconds = reg.best_time(make, Xc_train.to_numpy(), yc_train, repeats)
        diff = np.abs(np.r_[sk.intercept_ - ours.intercept_, sk.coef_.ravel() - ours.coef_]).max()
        label = "scikit-learn" + (", tol=1e-8 (one run)" if tol < 1e-4 else "")
        rows.append((name, label, alpha, C, seconds, diff))
columns = ["penalty", "library", "alpha", "C", "fit time (s)", "max |coef diff|"]
comparison = pd.DataFrame(rows, columns=columns).set_index(["penalty", "library"])
show_warnings("scikit-learn")
formats = {"alpha": "{:.3e}", "C": "{:.4g}", "fit time (s)": "{:.4f}", "max |coef diff|": "{:.1e}"}
comparison.style.format(formats)

# %% tags=["remove-input"]
diffs = comparison["max |coef diff|"].unstack("library")
default_tol, tight_tol = diffs["scikit-learn"], diffs["scikit-learn, tol=1e-8 (one run)"]
glue("sklearn_diff_tight", float(tight_tol.max()))
shrinks = (
    "shrinks the difference for both penalties, so what remains is the stopping rules, and the "
    "mapping C = 1/(n alpha) holds"
    if (tight_tol < default_tol).all()
    else "does not shrink the difference for every penalty, so not all of it is the stopping rules"
)
display(Markdown(
    f'"max |coef diff|" is the largest absolute difference over the intercept and all {p_credit} '
    f"coefficients, on the standardised scale: at most {default_tol.max():.1e} at scikit-learn's "
    f"default `tol` and {tight_tol.max():.1e} at `tol=1e-8`. Tightening scikit-learn's stopping "
    f"rule {shrinks}. The times are single measurements on one machine (its CPU count is printed "
    "at the end) and say nothing general about either library."
))  # fmt: skip

# %% [markdown]
# ## Duplicated and correlated features
#
# What does a penalty do when two features carry the same information? We
# refit a small credit model (balance, income, student) with a copy of
# `balance` appended, at $\alpha = 0.01$, with ridge and with the lasso; and
# once more with the copy placed first.

# %%
basic = Xc_train[["balance", "income", "student"]]
copy_last = basic.assign(balance_copy=basic["balance"])
copy_first = copy_last[["balance_copy", "balance", "income", "student"]]
dup_alpha = 0.01


def fit_dup(X, rho, pf=None):
    """Coefficients, by column, of a logistic GLM at alpha = dup_alpha on the credit outcomes."""
    model = glmlib.GLM("binomial", alpha=dup_alpha, l1_ratio=rho, penalty_factor=pf, device=device)
    return pd.Series(model.fit(X, yc_train).coef_, index=X.columns)


duplicates = {}
for name, rho in [("ridge", 0.0), ("lasso", 1.0)]:
    with record_warnings("duplicates"):
        one, half = fit_dup(basic, rho)["balance"], fit_dup(basic, rho, pf=[0.5, 1, 1])["balance"]
        fits = {"last": fit_dup(copy_last, rho), "first": fit_dup(copy_first, rho)}
    duplicates[name] = {"one column: balance": one, "one column, half penalty: balance": half}
    for order, f in fits.items():
        duplicates[name] |= {f"copy {order}: {c}": f[c] for c in ("balance", "balance_copy")}
duplicates = pd.DataFrame(duplicates)
duplicates.round(5)

# %%
r, l = duplicates["ridge"], duplicates["lasso"]
pairs = {o: (l[f"copy {o}: balance"], l[f"copy {o}: balance_copy"]) for o in ("last", "first")}
ridge_gap = abs(r["copy last: balance"] - r["copy last: balance_copy"])
ridge_vs_half = abs(r["copy last: balance"] + r["copy last: balance_copy"] - r.iloc[1])
lasso_sum_gap = max(abs(a + b - l["one column: balance"]) for a, b in pairs.values())
lasso_zero = max(min(abs(a), abs(b)) for a, b in pairs.values())  # the copy left out
# which column of the design the lasso gave the weight to, with the copy last and first
in_order = {"last": pairs["last"], "first": pairs["first"][::-1]}
lasso_kept = {
    o: ("the first" if abs(a) > abs(b) else "the second") for o, (a, b) in in_order.items()
}
for name, value in [("ridge_gap", ridge_gap), ("ridge_vs_half", ridge_vs_half)]:
    glue(name, float(value))
glue("lasso_sum_gap", float(lasso_sum_gap))
show_warnings("duplicates")

# %% [markdown]
# **Ridge splits the weight evenly.** The data only see the copies' sum
# $s = b_1 + b_2$, and for a fixed sum $\frac{\alpha}{2}(b_1^2 + b_2^2)$ is
# smallest at $b_1 = b_2 = s/2$, where it equals $\frac{\alpha}{4}s^2$: the
# duplicated fit is the one-column fit with *half* the penalty on that column
# (`penalty_factor=[0.5, 1, 1]`), split evenly. The copies differ by
# {glue:text}`ridge_gap:.1e` and their sum differs from the half-penalty fit
# by {glue:text}`ridge_vs_half:.1e`; a *strictly* convex objective has this
# one solution, whatever the column order.
#
# **The lasso keeps one.** With equal signs
# $\alpha(|b_1| + |b_2|) = \alpha|s|$: every split of $s$ has the same
# objective, so the minimisers form a segment. The sum equals the one-column lasso coefficient (to
# {glue:text}`lasso_sum_gap:.1e`), but which copy receives it is up to the
# algorithm. The elastic net's small L2 part restores strict convexity and
# the even split, one reason to prefer it for correlated groups.

# %% tags=["remove-input"]
display(Markdown(
    f"Here the lasso gave the weight to {lasso_kept['last']} column with the copy last and to "
    f"{lasso_kept['first']} column with the copy first, leaving the other at {lasso_zero:.1e}."
))  # fmt: skip

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
features = ["mean_radius", "mean_perimeter", "mean_area"]  # the size measures, nearly collinear
features += ["mean_texture", "mean_smoothness", "mean_concave_points"]
Xb = (cancer[features] - cancer[features].mean()) / cancer[features].std()
yb = cancer["malignant"].to_numpy(dtype=float)
vif = pd.Series(np.diag(np.linalg.inv(Xb.corr().to_numpy())), index=features)
print("correlations:", Xb.corr().loc["mean_radius", features[1:3]].round(4).to_dict())
print("variance inflation factors:", vif.round(1).to_dict())
glue("cancer_tumours", len(yb))
glue("vif_max", float(vif.max()))
ridge_b = fit_cv("breast cancer", Xb, yb, 0.0)
print(f"ridge alpha_ = {ridge_b.alpha_:.2e} (grid {ridge_b.alphas_[0]:.1e} .. {ridge_b.alphas_[-1]:.1e})")  # fmt: skip
show_warnings("breast cancer")

# %%
tic = time.perf_counter()
boot = reg.bootstrap_coefficients(
    Xb, yb, {"unpenalised": 0.0, "ridge": ridge_b.alpha_}, n_boot, rng, record_warnings, device
)
with record_warnings("breast cancer unpenalised"):  # not counted with the resamples
    full = {"unpenalised": glmlib.GLM("binomial").fit(Xb, yb).coef_, "ridge": ridge_b.coef_}
stability = pd.DataFrame(
    {f"coef {m}": full[m] for m in boot} | {f"SD {m}": boot[m].std() for m in boot}
)
for m in boot:
    stability[f"sign flips {m}"] = (np.sign(boot[m]) != np.sign(full[m])).mean()
stability["SD ratio"] = stability["SD unpenalised"] / stability["SD ridge"]
size_ratios = stability.loc[["mean_radius", "mean_perimeter", "mean_area"], "SD ratio"]
glue("sd_ratio_min", float(size_ratios.min()))
glue("sd_ratio_max", float(size_ratios.max()))
print(f"{2 * n_boot} bootstrap fits: {time.perf_counter() - tic:.1f} s")
for name in boot:
    show_warnings(f"bootstrap {name}")
glue("boot_separated", warning_log.count("bootstrap unpenalised", "numerically 0 or 1") / n_boot)
stability.round(3)

# %% tags=["remove-output"]
fig = reg.plot_bootstrap(boot)
fig.axes[0].set_title(f"Breast cancer: coefficients over {n_boot} bootstrap resamples")
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
# falls, as the variance inflation factors say (the largest,
# {glue:text}`vif_max:.0f`, is the factor by which that coefficient's
# variance exceeds what it would be with uncorrelated features). A share of
# {glue:text}`boot_separated:.0%` of the unpenalised resamples also warned
# that fitted probabilities reach 0 or 1. Ridge adds curvature $\alpha$ in
# every direction, so the flat directions become determined; "SD ratio" is
# the factor by which it shrinks each coefficient's bootstrap spread. "Sign
# flips" count resamples whose sign differs from the full-data estimate: a
# coefficient near zero flips under any method, because which size measure
# carries the shared effect is exactly what the data cannot tell. The price
# of stability is bias towards zero (the "coef" columns); the CV choice of
# $\alpha$ balances the two.

# %% [markdown]
# ## Sparse inputs
#
# Text, click logs and many-level categorical variables give designs that
# are mostly zeros. glmlib accepts a `scipy.sparse` CSR or CSC matrix and
# never densifies it: every pass over the data is a sparse product
# ($X\beta$ or $X^\top r$), whose cost is proportional to the stored
# non-zeros (nnz), not to $n \times p$. We simulate hashed, text-like binary
# features with `sparse_p` columns and a logistic outcome driven by 1 % of
# them (`reg.hashed_design`). Above 4,000 columns glmlib's `solver="auto"`
# uses L-BFGS (a Gram matrix would have $p^2$ entries); we name that solver
# and fit a light ridge penalty. Two series of problems:
#
# 1. fixed $n$ = `sparse_n` and $p$ = `sparse_p` (so fixed $n \times p$),
#    density from $10^{-4}$ to $2 \times 10^{-2}$;
# 2. fixed density $2 \times 10^{-3}$, $n$ from $\frac14$ to $4 \times$
#    `sparse_n`.
#
# Per iteration (fit time over `n_iter_`), L-BFGS does the two sparse
# products, work on $n$-vectors (inverse link, deviance) and bookkeeping on
# its $2p$ variables. A least-squares fit of the time per iteration on nnz
# and $n$ (with an intercept for the fixed cost) says how much each
# contributes. With $p$ fixed, $n$ and $n \times p$ are proportional, so
# only the density series, at fixed $n \times p$, tells them apart.

# %%
densities = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2]
sizes = [sparse_n // 4, sparse_n // 2, sparse_n, 2 * sparse_n, 4 * sparse_n]
if quick:
    densities, sizes = densities[::2] + [2e-2], sizes[::2]
runs = [("density varies", sparse_n, d) for d in densities] + [("n varies", n, 2e-3) for n in sizes]
tic = time.perf_counter()
timing = []
for series, n, density in runs:
    X, y = reg.hashed_design(n, sparse_p, density, rng)
    per_iter, iters = reg.time_per_iteration(X, y, n_repeats, device)
    timing.append(
        {"series": series, "n": n, "p": sparse_p, "density": density, "nnz": X.nnz}
        | {"n*p": n * sparse_p, "iterations": iters, "ms per iteration": 1e3 * per_iter}
    )
timing = pd.DataFrame(timing)
dense_gb = timing["n*p"].max() * 8 / 1e9
print(f"{len(runs)} problems timed in {time.perf_counter() - tic:.1f} s; the largest: {dense_gb:.1f} GB dense")  # fmt: skip
timing

# %%
cost = timing["ms per iteration"].to_numpy()
design_cost = np.column_stack([np.ones(len(timing)), timing["nnz"] / 1e6, timing["n"] / 1e4])
coef, *_ = np.linalg.lstsq(design_cost, cost, rcond=None)
r2 = 1 - np.sum((cost - design_cost @ coef) ** 2) / np.sum((cost - cost.mean()) ** 2)
print(f"ms per iteration ≈ {coef[0]:.2f} + {coef[1]:.2f} per million non-zeros "
      f"+ {coef[2]:.2f} per 10,000 rows (R² = {r2:.3f})")  # fmt: skip
fixed_np = timing[timing["series"] == "density varies"]
spread = fixed_np["ms per iteration"].max() / fixed_np["ms per iteration"].min()
nnz_spread = fixed_np["nnz"].max() / fixed_np["nnz"].min()
print(f"at fixed n*p: nnz grows {nnz_spread:.0f}x and the time per iteration {spread:.1f}x")

# %% tags=["remove-output"]
labels = {
    "density varies": f"density varies (n = {sparse_n:,})",
    "n varies": "n varies (density 2e-3)",
}
fig = reg.plot_sparse_timing(timing, labels)
fig.suptitle(f"Sparse logistic ridge with L-BFGS, p = {sparse_p:,} columns: time per iteration")
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
#
# What {numref}`fig-sparse-timing` and the regression say in this run:

# %% tags=["remove-input"]
trend = {
    s: reg.rank_correlation(t["nnz"], t["ms per iteration"]) for s, t in timing.groupby("series")
}
glue("sparse_spread", float(spread))
glue("sparse_nnz_spread", float(nnz_spread))
display(Markdown(
    f"The rank correlation between nnz and the time per iteration is "
    f"{trend['density varies']:.2f} in the density series and {trend['n varies']:.2f} in the n "
    f"series. At the single n × p of the density series the time per iteration varies by a factor "
    f"of {spread:.1f} while nnz varies by {nnz_spread:.0f}, so "
    + ("the dense size does not determine the cost. " if spread > 1.5
       else "in this run the cost barely moved with nnz at fixed dense size. ")
    + f"The regression above explains a share R² = {r2:.2f} of the variation"
    + (", so its three parts (fixed, per non-zero, per row) describe these timings well. " if r2 >= 0.8
       else "; the timings here are too few or too noisy for its three parts to be trusted. ")
    + "These are measurements on one machine, and repeated timings of small problems are noisy."
))  # fmt: skip

# %% [markdown]
# ## Choosing $\alpha$ and $\rho$: grid, random and Bayesian search
#
# `GLMCV` chooses $\alpha$ for a fixed $\rho$. To choose both, we treat the
# CV deviance as a black-box function of $(\alpha, \rho)$ and compare three
# strategies with the same budget of `n_trials` evaluations:
#
# - **grid search**: a grid of $\log_{10}\alpha$ × $\rho$ values, in a random
#   order (so the curve below does not depend on how the grid was written);
# - **random search**: independent draws, $\log_{10}\alpha$ uniform on
#   $[-4, 0]$ and $\rho$ uniform on $[0, 1]$;
# - **Bayesian optimisation** with optuna's TPE (tree-structured Parzen
#   estimator): after 10 random trials it proposes points where good results
#   have been more likely than bad ones.
#
# The data are all {glue:text}`cancer_features:d` breast cancer features,
# whose strong correlations make the choice of $\rho$ matter. One evaluation
# is a stratified `n_folds`-fold `cross_val_score` around `glmlib.GLM`,
# scored by the mean held-out binomial deviance per tumour. Random search
# and TPE are repeated with `n_search_seeds` seeds (`reg.grid_search`,
# `reg.random_search`, `reg.tpe_search`).

# %%
all_features = [c for c in cancer.columns if c not in ("diagnosis", "malignant")]
Xs = (cancer[all_features] - cancer[all_features].mean()) / cancer[all_features].std()
glue("cancer_features", len(all_features))
search_folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
neg_deviance = reg.neg_binomial_deviance  # a scorer: minus the mean deviance per tumour


def cv_deviance(log_alpha, rho):
    """Mean held-out deviance per tumour of GLM(10**log_alpha, rho) over the fixed folds."""
    model = glmlib.GLM("binomial", alpha=10.0**log_alpha, l1_ratio=rho, device=device)
    with record_warnings("search"):
        scores = cross_val_score(model, Xs, yb, cv=search_folds, scoring=neg_deviance)
    return -scores.mean()


# %%
tic = time.perf_counter()
searches = {"grid": [reg.grid_search(cv_deviance, n_trials, seed)]}
for method, search in [("random", reg.random_search), ("TPE (optuna)", reg.tpe_search)]:
    searches[method] = [search(cv_deviance, n_trials, seed + s) for s in range(n_search_seeds)]
n_evals = sum(len(run) for runs_ in searches.values() for run in runs_)
print(f"{n_evals} CV evaluations ({n_folds} fits each): {time.perf_counter() - tic:.1f} s")
show_warnings("search")
best_rows = [
    (method, k, *min(run, key=lambda t: t[2])) for method, runs_ in searches.items() for k, run in enumerate(runs_)
]  # fmt: skip
best_found = pd.DataFrame(
    best_rows, columns=["method", "run", "log10 alpha", "l1_ratio", "best CV deviance"]
)
best_found = best_found.set_index(["method", "run"]).assign(alpha=lambda t: 10 ** t["log10 alpha"])
best_found = best_found[["best CV deviance", "alpha", "l1_ratio"]]
best_found.style.format({"best CV deviance": "{:.4f}", "alpha": "{:.2e}", "l1_ratio": "{:.2f}"})

# %% tags=["remove-output"]
glue_figure("fig-search", reg.plot_search(searches))

# %% [markdown]
# {numref}`fig-search` follows the three searches.
#
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
tolerance, overall = 0.01, best_found["best CV deviance"].min()
for method, runs_ in searches.items():
    within = [
        next((i + 1 for i, t in enumerate(run) if t[2] <= overall * (1 + tolerance)), None)
        for run in runs_
    ]
    final = np.median([min(t[2] for t in run) for run in runs_])
    print(f"{method:13s} final best {final:.4f} (median of {len(runs_)}); evaluations to come "
          f"within {tolerance:.0%} of the overall best {overall:.4f}: {within}")  # fmt: skip
a_best, r_best = best_found.iloc[best_found["best CV deviance"].argmin()][["alpha", "l1_ratio"]]
best_model = glmlib.GLM("binomial", alpha=a_best, l1_ratio=r_best, device=device)
with record_warnings("search"):
    fold_dev = -cross_val_score(best_model, Xs, yb, cv=search_folds, scoring=neg_deviance)
se_best = fold_dev.std(ddof=1) / np.sqrt(len(fold_dev))
search_span = best_found["best CV deviance"].max() - best_found["best CV deviance"].min()
print(f"standard error of the CV deviance at the best point: {se_best:.4f}; the best results of "
      f"all {len(best_found)} runs span {search_span:.4f}")  # fmt: skip
for name, value in [("span", search_span), ("se", se_best), ("span_in_se", search_span / se_best)]:
    glue(f"search_{name}", float(value))

# %% [markdown]
# One data set, two parameters, few seeds. The CV deviance is itself an
# estimate, with a standard error of {glue:text}`search_se:.4f` at the best
# point; the best results of all runs span {glue:text}`search_span:.4f`, or
# {glue:text}`search_span_in_se:.2f` standard errors. Differences below one
# standard error are not evidence that a method found a better model. TPE's
# first 10 trials are random, so any advantage appears only after them; and
# many hyperparameters or expensive evaluations, which model-based search is
# designed for, are not tested here.

# %% [markdown]
# ## Summary
#
# - Lasso, ridge and elastic net are one objective in glmlib, selected by
#   `l1_ratio`; `GLMCV`'s `coef_path_`, `cv_deviance_`, `alpha_` and
#   `alpha_1se_` give the paths, the CV curves and the two usual choices.
# - The unpenalised Khan fit classified
#   {glue:text}`khan_mle_train_accuracy:.0%` of its training tumours
#   correctly; where that is all of them its maximum-likelihood estimate does
#   not exist, while any $\alpha > 0$ has a finite minimiser. With
#   {glue:text}`insurance_per_coefficient:.1f` insurance cells per
#   coefficient, the unpenalised Poisson model's mean fold deviance was
#   {glue:text}`insurance_unpenalised_ratio:.3g` times the best penalty's.
# - glmlib's `alpha` is scikit-learn's $C = 1/(n\alpha)$; the coefficients
#   differed by at most {glue:text}`sklearn_diff_tight:.1e` at `tol=1e-8`.
# - Ridge splits a duplicated feature's weight evenly; the lasso puts it on
#   one copy. On correlated features ridge divided the bootstrap SD of the
#   size coefficients by {glue:text}`sd_ratio_min:.1f` to
#   {glue:text}`sd_ratio_max:.1f`.
# - On sparse input, at one $n \times p$ the time per iteration varied by a
#   factor of {glue:text}`sparse_spread:.1f` as the non-zeros varied by
#   {glue:text}`sparse_nnz_spread:.0f`.
# - Grid, random and TPE search at equal budgets: their best results span
#   {glue:text}`search_span_in_se:.2f` standard errors of the CV deviance.

# %% [markdown]
# **Notes on glmlib.** Below 4,000 columns the Newton solvers factorise the
# $(p+1) \times (p+1)$ Fisher information at every iteration and once more
# after a penalised fit (for the effective degrees of freedom), at $O(p^3)$
# each: why this chapter keeps `n_genes` of Khan's
# {glue:text}`khan_genes:,d` genes.
#
# **Further reading.** Friedman, Hastie and Tibshirani {cite}`friedman2010`
# describe the path algorithm `GLMCV` follows: warm starts, the
# one-standard-error rule and the elastic net for GLMs. The lasso is due to Tibshirani (1996), ridge regression to Hoerl and
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
