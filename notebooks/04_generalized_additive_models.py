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
# # Generalized additive models
#
# A GLM says that each feature moves the linear predictor along a straight
# line. Wages do not rise linearly with age, and the risk of diabetes need
# not rise linearly with body-mass index. A **generalized additive model**
# (GAM) {cite}`hastie1990,wood2017` keeps the GLM's family, link and
# additivity, and lets each feature act through a smooth function learned
# from the data:
#
# $$
# g(\mu_i) = \beta_0 + f_1(x_{i1}) + f_2(x_{i2}) + \dots + \text{(linear and factor terms)} + o_i .
# $$
#
# This chapter asks three questions on real data: how do earnings vary with
# age and calendar year (Wage, Gaussian), how do glucose and BMI relate to
# diabetes (Pima, logistic, with glmlib beside pyGAM), and how do doctor
# visits depend on age, income and schooling (NMES 1988, counts). For each we
# compare the GAM with the linear GLM on deviance, AIC and held-out data, and
# look at what choosing the amount of smoothing does and what it costs.

# %% [markdown]
# ## Parameters
#
# `seed` fixes the train/test splits, the bootstrap and the simulated data;
# `quick=True` shrinks the smoothing-parameter grid, the cross-validation
# folds, the bootstrap and the timing sizes so that the chapter runs in well
# under a minute.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in seconds (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
test_fraction = 0.3  # share of Wage and NMES held out as a test set
n_lambdas = 25  # fixed smoothing parameters in the "what selection does" sweep
n_folds = 5  # cross-validation folds in that sweep
timing_repeats = 3  # best-of repeats for the timings
timing_sizes = [10_000, 50_000]  # simulated rows for "what it costs"
n_boot = 2_000  # bootstrap resamples of the test sets (paired differences between models)

# %%
# A bad parameter (say papermill -p n_folds 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, ListOf, Real, check_parameters

check_parameters(
    globals(),
    test_fraction=Real(0, 1),
    n_lambdas=Int(2),
    n_folds=Int(2),
    timing_repeats=Int(1),
    timing_sizes=ListOf(Int(1)),
    n_boot=Int(1),
)

# %%
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pygam
from IPython.display import Markdown, display
from scipy.special import xlogy
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, train_test_split
from threadpoolctl import threadpool_limits

import glmlib
from glmlib.book import glue, glue_figure
from glmlib.datasets import load
from glmlib.families import NegativeBinomial
from glmlib.gam import GAM, f, plot_partial_dependence, s

start_time = time.perf_counter()
if quick:
    n_lambdas, n_folds, timing_repeats = min(n_lambdas, 9), min(n_folds, 3), 1
    timing_sizes, n_boot = [5_000], min(n_boot, 500)
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU
rng = np.random.default_rng(seed)
print(f"device={device}, seed={seed}, quick={quick}, timing sizes={timing_sizes}, n_boot={n_boot}")


def say(markdown: str) -> None:
    """Show a paragraph whose numbers and wording come from the computation."""
    display(Markdown(markdown))


def paired_interval(loss_a: np.ndarray, loss_b: np.ndarray) -> tuple[float, float, float]:
    """Mean of loss_a − loss_b over the test cases and its 95% paired bootstrap interval.

    The fitted models are held fixed; the test cases are resampled (`n_boot` times), so the
    interval describes test-set sampling, not refitting on other training data.
    """
    diff = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    boot = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(diff.mean()), float(low), float(high)


def interval_text(mean: float, low: float, high: float, digits: int = 3) -> str:
    return f"{mean:+.{digits}f} (95% interval {low:+.{digits}f} to {high:+.{digits}f})"


# %% [markdown]
# ## The model
#
# Each smooth is a combination of $K$ cubic B-splines on equally spaced knots
# across the range of its feature, $f(x) = \sum_{k=1}^{K} B_k(x)\,\beta_k$
# (`s(col, n_splines=K)`; $K = 20$ by default). With $K$ coefficients per
# feature an unpenalised fit would chase noise, so the fit minimises the
# **penalised deviance**
#
# $$
# \sum_i w_i\, d(y_i, \mu_i) + \sum_j \lambda_j \, \beta_j^\top D^\top D \, \beta_j ,
# $$
#
# where $D\beta$ are the second differences of neighbouring coefficients
# (the P-splines of Eilers and Marx, 1996): $\lambda_j = 0$ leaves the
# spline free, $\lambda_j \to \infty$ flattens it to a straight line. Each
# smooth is centred, $\sum_i f_j(x_{ij}) = 0$, so the intercept stays
# identifiable. The **effective degrees of freedom** (EDF) of a term,
# between 1 (a line) and $K - 1$, measure how wiggly the fit is.
#
# The smoothing parameters are chosen by **REML** {cite}`wood2017` (Wood,
# 2011): the coefficients are treated as random effects with a Gaussian prior
# whose precision is $\lambda_j D^\top D$, and $\lambda$ maximises the
# likelihood of the data with the coefficients integrated out. For a Gaussian
# response this is exact; for other families glmlib applies it to the
# working linear model of each penalised IRLS iteration (the "performance
# iteration"). GCV and UBRE (`method="GCV"`, `"UBRE"`) are the alternatives.
# The selection works on $p \times p$ matrices only: each iteration makes one
# pass over the data to form $X^\top W X$, on the CPU or the GPU.

# %% [markdown]
# ## Wage: earnings by age, year and education
#
# The Wage data (ISLR) record the wages of {glue:text}`n_wage:,d` men in the US
# Mid-Atlantic region, in USD 1,000. We hold out a test set and fit
# `wage ~ s(age) + s(year) + education` — education as a factor, and year,
# which takes only {glue:text}`n_wage_years:d` values, with `n_splines=6`.

# %%
wage = load("wage")
glue("n_wage", len(wage))
glue("n_wage_years", int(wage["year"].nunique()))
wage_train, wage_test = train_test_split(wage, test_size=test_fraction, random_state=seed)
wage_terms = s("age") + s("year", n_splines=6) + f("education")
wage_gam = GAM(wage_terms, device=device).fit(wage_train, wage_train["wage"])
wage_gam.summary().round(4)

# %% [markdown]
# The summary lists each term's smoothing parameter, its EDF and an
# approximate test that the term is zero (Wood, 2013: a Wald test on the
# smooth with its EDF rounded to an integer; an F statistic because the
# Gaussian scale is estimated). For comparison, the linear GLM uses the same
# three features, age and year as straight lines.


# %%
def dummies(frame: pd.DataFrame, numeric: list[str], factors: list[str]) -> pd.DataFrame:
    """Numeric columns plus treatment-coded factors (first level as reference)."""
    coded = pd.get_dummies(frame[factors], drop_first=True, dtype=float)
    return pd.concat([frame[numeric].astype(float), coded], axis=1)


wage_X = dummies(wage_train, ["age", "year"], ["education"])
wage_glm = glmlib.GLM(device=device).fit(wage_X, wage_train["wage"])


def rmse(y: pd.Series, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - pred) ** 2)))


wage_table = pd.DataFrame(
    {
        "EDF": [wage_glm.df_model_, wage_gam.edf_total_],
        "deviance": [wage_glm.deviance_, wage_gam.deviance_],
        "AIC": [wage_glm.aic_, wage_gam.aic_],
        "test RMSE (USD 1,000)": [
            rmse(
                wage_test["wage"],
                wage_glm.predict(dummies(wage_test, ["age", "year"], ["education"])),
            ),
            rmse(wage_test["wage"], wage_gam.predict(wage_test)),
        ],
    },
    index=["linear GLM", "GAM (REML)"],
)
wage_table.round(2)

# %% [markdown]
# {numref}`fig-wage-gam` shows the three terms on the scale of the response.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
plot_partial_dependence(
    wage_gam, ["s(age)", "s(year)", "f(education)"], axes=axes, rug=True, X=wage_train
)
for ax in axes:
    ax.set_ylabel("effect on wage (USD 1,000)")
axes[2].set_xticks(range(5), [lev[3:] for lev in wage["education"].cat.categories], rotation=25)
fig.suptitle("Wage GAM: partial effects with 95% bands")
fig.tight_layout()
glue_figure("fig-wage-gam", fig)

# %% [markdown]
# ```{glue:figure} fig-wage-gam
# :name: fig-wage-gam
#
# Wage GAM fitted by REML: the partial effects of age, year and education on
# wage (USD 1,000), with 95% pointwise bands from the Bayesian posterior
# covariance $(X^\top W X + S_\lambda)^{-1}\hat\phi$ and the training data
# as a rug.
# ```

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
age_pd = wage_gam.partial_dependence("s(age)", grid=np.arange(18.0, 81.0))
peak = float(age_pd.grid[np.argmax(age_pd.estimate)])
wage_y = wage_test["wage"].to_numpy(float)
wage_sq_glm = (wage_y - wage_glm.predict(dummies(wage_test, ["age", "year"], ["education"]))) ** 2
wage_sq_gam = (wage_y - wage_gam.predict(wage_test)) ** 2
wage_mse_diff = paired_interval(wage_sq_gam, wage_sq_glm)
wage_aic_diff = wage_table["AIC"].iloc[1] - wage_table["AIC"].iloc[0]
held_out_says = (
    "the held-out error agrees with the AIC: the curvature is real"
    if wage_mse_diff[2] < 0
    else (
        "the held-out error contradicts the AIC"
        if wage_mse_diff[1] > 0
        else "on the held-out data alone the gain is within test-set noise, so the case for the "
        "curvature rests on the AIC and on the shape itself"
    )
)
say(
    f"The age effect (EDF {wage_gam.edf_[0]:.1f}) peaks at age {peak:.0f}, "
    f"{age_pd.estimate.max() - age_pd.estimate[0]:.1f} thousand USD above age "
    f"{age_pd.grid[0]:.0f} and {age_pd.estimate.max() - age_pd.estimate[-1]:.1f} above age "
    f"{age_pd.grid[-1]:.0f}: a straight line in age cannot do that. Against the linear GLM the "
    f"GAM changes the AIC by {wage_aic_diff:+.1f} and the test mean squared error by "
    f"{interval_text(*wage_mse_diff, digits=1)} (USD 1,000)², a paired bootstrap over the "
    f"{len(wage_test):,} test workers with both fits held fixed; {held_out_says}. Year, by "
    f"contrast, gets EDF {wage_gam.edf_[1]:.2f} (REML chose $\\lambda$ = "
    f"{wage_gam.lam_[1]:.3g}): REML spends degrees of freedom only where the data ask for them."
)

# %% [markdown]
#
# ## What smoothness selection does
#
# To see what REML is choosing between, we refit the age smooth alone over a
# grid of fixed $\lambda$ and measure, for each, the EDF and the
# cross-validated deviance (`n_folds` folds of the training set; education
# and year stay in the model), shown in {numref}`fig-lambda-sweep`.

# %%
lambdas = np.logspace(-3, 6, n_lambdas)
folds = list(KFold(n_folds, shuffle=True, random_state=seed).split(wage_train))


def age_sweep_point(lam: float) -> dict:
    """EDF of s(age) at a fixed lambda, and the CV mean squared error over `folds`."""
    terms = s("age", lam=lam) + s("year", n_splines=6, lam=wage_gam.lam_[1]) + f("education")
    full = GAM(terms, device=device).fit(wage_train, wage_train["wage"])
    cv = 0.0
    for fit_rows, val_rows in folds:
        part = GAM(terms, device=device).fit(
            wage_train.iloc[fit_rows], wage_train["wage"].iloc[fit_rows]
        )
        val = wage_train.iloc[val_rows]
        cv += float(np.sum((val["wage"] - part.predict(val)) ** 2))
    return {"lambda": lam, "EDF of s(age)": full.edf_[0], "CV deviance": cv / len(wage_train)}


sweep = pd.DataFrame([age_sweep_point(lam) for lam in lambdas])
at_reml = age_sweep_point(wage_gam.lam_[0])  # the same CV, at REML's lambda
best_cv = sweep.loc[sweep["CV deviance"].idxmin()]
print(
    f"REML: lambda = {wage_gam.lam_[0]:.3g}, EDF {wage_gam.edf_[0]:.2f}.  "
    f"Best of the {n_lambdas}-point CV grid: lambda = {best_cv['lambda']:.3g}, "
    f"EDF {best_cv['EDF of s(age)']:.2f}."
)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].semilogx(sweep["lambda"], sweep["EDF of s(age)"], "o-")
axes[0].set_xlabel("smoothing parameter λ of s(age)")
axes[0].set_ylabel("EDF of s(age)")
axes[0].set_title("More penalty, fewer effective parameters")
axes[1].semilogx(sweep["lambda"], sweep["CV deviance"], "o-", label=f"{n_folds}-fold CV")
for ax in axes:
    ax.axvline(wage_gam.lam_[0], color="C3", ls="--", label="REML choice")
axes[1].set_xlabel("smoothing parameter λ of s(age)")
axes[1].set_ylabel("CV mean squared error (USD 1,000²)")
axes[1].set_title("Held-out error across λ")
axes[1].legend()
fig.tight_layout()
glue_figure("fig-lambda-sweep", fig)

# %% [markdown]
# ```{glue:figure} fig-lambda-sweep
# :name: fig-lambda-sweep
#
# Wage GAM, the age smooth refitted at fixed $\lambda$ (education and year in
# the model). Left: EDF of s(age) against $\lambda$. Right: cross-validated mean
# squared error on the training set (USD 1,000)² against $\lambda$; dashed: the
# $\lambda$ REML chose.
# ```

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
cv_best, cv_worst = sweep["CV deviance"].min(), sweep["CV deviance"].max()
small, large = sweep.iloc[0], sweep.iloc[-1]
excess = at_reml["CV deviance"] - cv_best
say(
    f"In the sweep, the smallest $\\lambda$ ({small['lambda']:.3g}) lets the age curve use "
    f"{small['EDF of s(age)']:.1f} degrees of freedom, with a CV error "
    f"{small['CV deviance'] - cv_best:.1f} (USD 1,000)² above the grid's best; the largest "
    f"({large['lambda']:.3g}) forces EDF {large['EDF of s(age)']:.2f}, "
    f"{large['CV deviance'] - cv_best:.1f} above it. REML's $\\lambda$ has a CV error "
    f"{excess:+.2f} (USD 1,000)² from the grid's best ({excess / cv_best:+.3%}), against a "
    f"spread of {cv_worst - cv_best:.1f} across the grid"
    + (
        " — in the flat bottom of the cross-validation curve"
        if excess < 0.05 * (cv_worst - cv_best)
        else ""
    )
    + ", from a single fit rather than `n_lambdas × n_folds` of them."
)

# %% [markdown]
#
# ## Diabetes in Pima women: a logistic GAM beside pyGAM
#
# The Pima data (MASS) record diabetes (WHO criteria) in
# {glue:text}`n_pima:d` women, split by MASS into {glue:text}`n_pima_train:d`
# training and {glue:text}`n_pima_test:d` test cases. The model is the research
# question's two-smooth logistic GAM, `diabetes ~ s(glu) + s(bmi)`, in pyGAM
# exactly as its documentation writes it, `LogisticGAM(s(0) + s(1)).fit(X_train, y_train)`,
# and in glmlib: once with pyGAM's default $\lambda = 0.6$ (the same
# penalised model, so the two fits must agree) and once with REML. pyGAM's
# own tuning, `gridsearch`, and the linear logistic GLM complete the table.
# Every timing in this chapter is the best of `timing_repeats` runs after an
# untimed warm-up (the grid searches: one run), with the linear algebra on
# one thread for both libraries: on a small or shared machine, BLAS threads
# competing for cores distort fits that take milliseconds.

# %%
pima = load("pima")
train, test = pima[pima["split"] == "train"], pima[pima["split"] == "test"]
glue("n_pima", len(pima))
glue("n_pima_train", len(train))
glue("n_pima_test", len(test))
X_train, y_train = train[["glu", "bmi"]].to_numpy(float), train["diabetes"].to_numpy(float)
X_test, y_test = test[["glu", "bmi"]].to_numpy(float), test["diabetes"].to_numpy(float)


def timed(fit, repeats: int = timing_repeats, warmup: bool = True):  # noqa: ANN001, ANN201
    """(fitted model, best wall time in seconds over `repeats` fits), on one BLAS thread.

    An untimed first call (`warmup`) keeps one-off import and cache costs out of the times.
    """
    best = np.inf
    with threadpool_limits(1):
        if warmup:
            fit()
        for _ in range(repeats):
            t0 = time.perf_counter()
            model = fit()
            best = min(best, time.perf_counter() - t0)
    return model, best


pima_fits = {
    "pyGAM LogisticGAM(s(0) + s(1)), λ = 0.6": timed(
        lambda: pygam.LogisticGAM(pygam.s(0) + pygam.s(1)).fit(X_train, y_train)
    ),
    "glmlib GAM, λ = 0.6": timed(
        lambda: GAM(s(0, lam=0.6) + s(1, lam=0.6), family="binomial", device=device).fit(
            X_train, y_train
        )
    ),
    "pyGAM gridsearch (11 λ, UBRE)": timed(
        lambda: pygam.LogisticGAM(pygam.s(0) + pygam.s(1)).gridsearch(
            X_train, y_train, progress=False
        ),
        1,
    ),
    "glmlib GAM, REML": timed(
        lambda: GAM(s(0) + s(1), family="binomial", device=device).fit(X_train, y_train)
    ),
    "glmlib linear GLM": timed(
        lambda: glmlib.GLM(family="binomial", device=device).fit(X_train, y_train)
    ),
}


# %%
def probabilities(model, X: np.ndarray) -> np.ndarray:  # noqa: ANN001
    return np.asarray(
        model.predict_mu(X) if isinstance(model, pygam.LogisticGAM) else model.predict(X)
    )


def binomial_deviance(y: np.ndarray, p: np.ndarray) -> float:
    return float(2 * np.sum(xlogy(y, y / p) + xlogy(1 - y, (1 - y) / (1 - p))))


def edf(model) -> float:  # noqa: ANN001
    if isinstance(model, pygam.LogisticGAM):
        return float(model.statistics_["edof"])
    return float(getattr(model, "edf_total_", getattr(model, "df_model_", np.nan)))


pima_table = pd.DataFrame(
    {
        name: {
            "seconds": sec,
            "EDF": edf(m),
            "train deviance": binomial_deviance(y_train, probabilities(m, X_train)),
            "test deviance": binomial_deviance(y_test, probabilities(m, X_test)),
            "test AUC": roc_auc_score(y_test, probabilities(m, X_test)),
        }
        for name, (m, sec) in pima_fits.items()
    }
).T
pima_table.round(4)

# %%
p_pygam = probabilities(pima_fits["pyGAM LogisticGAM(s(0) + s(1)), λ = 0.6"][0], X_test)
p_glmlib = probabilities(pima_fits["glmlib GAM, λ = 0.6"][0], X_test)
pima_reml = pima_fits["glmlib GAM, REML"][0]
print(
    f"Same model, two libraries: largest difference in test probabilities {np.max(np.abs(p_pygam - p_glmlib)):.1e}.\n"
    f"glmlib fits it {pima_table.iloc[0, 0] / pima_table.iloc[1, 0]:.1f}x faster; REML takes "
    f"{pima_table.iloc[3, 0]:.2f} s against {pima_table.iloc[2, 0]:.2f} s for pyGAM's grid search.\n"
    f"REML: EDF of s(glu) {pima_reml.edf_[0]:.2f}, of s(bmi) {pima_reml.edf_[1]:.2f}."
)

# %% [markdown]
# Is the REML GAM better or worse than the straight line on new patients? The
# test set has only {glue:text}`n_pima_test:d` cases, so the difference in
# AUC and in test deviance gets a paired bootstrap interval: the test cases
# are resampled `n_boot` times with both fitted models held fixed.

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
p_reml = probabilities(pima_reml, X_test)
p_line = probabilities(pima_fits["glmlib linear GLM"][0], X_test)
boot_rows = rng.integers(0, len(y_test), size=(n_boot, len(y_test)))
auc_boot = np.array(
    [roc_auc_score(y_test[r], p_reml[r]) - roc_auc_score(y_test[r], p_line[r]) for r in boot_rows]
)
auc_diff = (
    roc_auc_score(y_test, p_reml) - roc_auc_score(y_test, p_line),
    *np.quantile(auc_boot, [0.025, 0.975]),
)


def binomial_unit_deviance(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return 2 * (xlogy(y, y / p) + xlogy(1 - y, (1 - y) / (1 - p)))


dev_diff = paired_interval(
    binomial_unit_deviance(y_test, p_reml), binomial_unit_deviance(y_test, p_line)
)
default_name, grid_name = "pyGAM LogisticGAM(s(0) + s(1)), λ = 0.6", "pyGAM gridsearch (11 λ, UBRE)"
ranks = pima_table[["train deviance", "test deviance"]].rank()
if auc_diff[1] > 0 and dev_diff[2] < 0:
    pima_verdict = "the GAM predicts new patients better than the straight line"
elif auc_diff[2] < 0 and dev_diff[1] > 0:
    pima_verdict = "the straight line predicts new patients better than the GAM"
else:
    pima_verdict = (
        "the test set cannot tell the two apart. That is weaker than saying the straight line "
        "was right: the line is adequate as far as these cases can show, and the GAM's value "
        "is that it *shows* the shape rather than assuming it"
    )
say(
    f"pyGAM's default $\\lambda = 0.6$ gives the two smooths {pima_table.loc[default_name, 'EDF']:.1f} "
    f"effective parameters in all for {len(y_train)} patients: rank "
    f"{ranks.loc[default_name, 'train deviance']:.0f} of {len(pima_table)} on training deviance "
    f"(1 = lowest) and {ranks.loc[default_name, 'test deviance']:.0f} on test deviance. Chosen "
    f"by REML, glucose gets EDF {pima_reml.edf_[0]:.2f} and BMI {pima_reml.edf_[1]:.2f}; "
    f"pyGAM's grid search lands at {pima_table.loc[grid_name, 'EDF']:.1f} in all. Against the "
    f"linear GLM, the REML GAM changes the test AUC by {interval_text(*auc_diff)} and the test "
    f"deviance per case by {interval_text(*dev_diff)}: {pima_verdict}."
)

# %% [markdown]
# {numref}`fig-pima` compares the REML smooths with pyGAM's default fit.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
pygam_default = pima_fits["pyGAM LogisticGAM(s(0) + s(1)), λ = 0.6"][0]
for j, (ax, name) in enumerate(zip(axes, ["glu", "bmi"], strict=True)):
    pd_reml = pima_reml.partial_dependence(j)
    ax.fill_between(pd_reml.grid, pd_reml.lower, pd_reml.upper, alpha=0.25, color="C0")
    ax.plot(pd_reml.grid, pd_reml.estimate, color="C0", lw=2, label="glmlib, REML (95% band)")
    grid = np.zeros((len(pd_reml.grid), 2))
    grid[:, j] = pd_reml.grid
    # pyGAM's smooths are not centred: centre on the training data, as glmlib's are.
    centre = pygam_default.partial_dependence(term=j, X=X_train).mean()
    ax.plot(
        pd_reml.grid,
        pygam_default.partial_dependence(term=j, X=grid) - centre,
        "C1--",
        label="pyGAM, λ = 0.6",
    )
    ax.set_xlabel({"glu": "plasma glucose (mg/dl)", "bmi": "BMI (kg/m²)"}[name])
    ax.set_ylabel(f"s({name}): effect on log-odds of diabetes")
axes[0].legend(fontsize=8)
fig.suptitle(f"Pima: smooth effects on the logit scale ({len(y_train)} training cases)")
fig.tight_layout()
glue_figure("fig-pima", fig)

# %% [markdown]
# ```{glue:figure} fig-pima
# :name: fig-pima
#
# Pima training data: the smooth effects of plasma glucose (left) and BMI
# (right) on the log-odds of diabetes, glmlib's REML fit with its 95% band and
# pyGAM's fit at its default $\lambda = 0.6$ (centred on the training data).
# ```

# %% [markdown]
# ## Doctor visits (NMES 1988): a count GAM
#
# The NMES 1988 data (AER) count physician office visits of
# {glue:text}`n_nmes:,d` people aged {glue:text}`nmes_min_age:.0f` and over in
# the US. We model `visits` with smooths of age (in
# decades), family income (USD 10,000), years of schooling and the number of
# chronic conditions, plus factors for self-rated health, private insurance,
# gender and Medicaid — first as a Poisson GAM, against the Poisson GLM with
# the same features entered linearly.

# %%
nmes = load("nmes1988")
glue("n_nmes", len(nmes))
glue("nmes_min_age", float(10 * nmes["age"].min()))  # age is in decades
nmes_train, nmes_test = train_test_split(nmes, test_size=test_fraction, random_state=seed)
nmes_factors = ["health", "insurance", "gender", "medicaid"]
nmes_terms = (
    s("age")
    + s("income")
    + s("school", n_splines=12)
    + s("chronic", n_splines=9)
    + sum(f(name) for name in nmes_factors)
)
nmes_gam = GAM(nmes_terms, family="poisson", device=device).fit(nmes_train, nmes_train["visits"])
nmes_numeric = ["age", "income", "school", "chronic"]
nmes_glm = glmlib.GLM(family="poisson", device=device).fit(
    dummies(nmes_train, nmes_numeric, nmes_factors), nmes_train["visits"]
)


def poisson_mean_deviance(y: pd.Series, mu: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    return float(np.mean(2 * (xlogy(y, y / mu) - (y - mu))))


mu = nmes_gam.predict(nmes_train)
pearson = float(np.sum((nmes_train["visits"] - mu) ** 2 / mu) / nmes_gam.df_resid_)
print(
    f"Poisson GAM: EDF {nmes_gam.edf_total_:.1f}; Pearson dispersion {pearson:.1f} (1 for a Poisson)"
)

glue("nmes_dispersion", pearson)

# %% [markdown]
# A Pearson dispersion of {glue:text}`nmes_dispersion:.1f` means the counts
# vary far more than a Poisson allows. The Poisson likelihood then treats noise
# as signal, and REML, which trusts that likelihood, buys wiggles. A negative
# binomial family, $\operatorname{Var}(y) = \mu + \alpha\mu^2$, absorbs the
# extra variance. We estimate $\alpha$ by moments from the Poisson GAM's fitted
# means and refit both models with $\alpha$ held at that value. Because
# $\alpha$ was estimated from the same training data, each negative binomial
# AIC counts it as one more estimated parameter (two more units of AIC than
# the fit with a known $\alpha$ reports); $\alpha$ is not re-estimated jointly
# with the coefficients, so these AICs are those of a two-step fit, and the
# test deviances below are the comparison that does not depend on this.

# %%
y_nmes = nmes_train["visits"].to_numpy(float)
alpha = float(np.sum((y_nmes - mu) ** 2 - mu) / np.sum(mu**2))
nb_family = NegativeBinomial(alpha=alpha)
nmes_nb_gam = GAM(nmes_terms, family=nb_family, device=device).fit(nmes_train, nmes_train["visits"])
nmes_nb_glm = glmlib.GLM(family=nb_family, device=device).fit(
    dummies(nmes_train, nmes_numeric, nmes_factors), nmes_train["visits"]
)
X_nmes_test = dummies(nmes_test, nmes_numeric, nmes_factors)


def nb_mean_deviance(y: pd.Series, mu: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    return float(np.mean(nb_family.unit_deviance(y, mu)))


nmes_table = pd.DataFrame(
    {
        "EDF": [
            m.edf_total_ if isinstance(m, GAM) else m.df_model_
            for m in (nmes_glm, nmes_gam, nmes_nb_glm, nmes_nb_gam)
        ],
        # alpha, estimated from the training data, is one more parameter of the NB models
        "AIC": [nmes_glm.aic_, nmes_gam.aic_, nmes_nb_glm.aic_ + 2, nmes_nb_gam.aic_ + 2],
        "test Poisson deviance / case": [
            poisson_mean_deviance(nmes_test["visits"], nmes_glm.predict(X_nmes_test)),
            poisson_mean_deviance(nmes_test["visits"], nmes_gam.predict(nmes_test)),
            poisson_mean_deviance(nmes_test["visits"], nmes_nb_glm.predict(X_nmes_test)),
            poisson_mean_deviance(nmes_test["visits"], nmes_nb_gam.predict(nmes_test)),
        ],
        "test NB deviance / case": [
            nb_mean_deviance(nmes_test["visits"], nmes_glm.predict(X_nmes_test)),
            nb_mean_deviance(nmes_test["visits"], nmes_gam.predict(nmes_test)),
            nb_mean_deviance(nmes_test["visits"], nmes_nb_glm.predict(X_nmes_test)),
            nb_mean_deviance(nmes_test["visits"], nmes_nb_gam.predict(nmes_test)),
        ],
    },
    index=["Poisson GLM", "Poisson GAM", "NB GLM", "NB GAM"],
)
print(f"negative binomial alpha = {alpha:.3f} (moment estimate)")
nmes_table.round(3)

# %%
edf_compare = pd.DataFrame(
    {"Poisson GAM": nmes_gam.edf_[:4], "NB GAM": nmes_nb_gam.edf_[:4]},
    index=nmes_gam.term_labels_[:4],
)
edf_compare.round(2)

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
y_test_nmes = nmes_test["visits"].to_numpy(float)


def poisson_unit_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return 2 * (xlogy(y, y / mu) - (y - mu))


poisson_gain = paired_interval(
    poisson_unit_deviance(y_test_nmes, nmes_gam.predict(nmes_test)),
    poisson_unit_deviance(y_test_nmes, nmes_glm.predict(X_nmes_test)),
)
nb_gain = paired_interval(
    nb_family.unit_deviance(y_test_nmes, nmes_nb_gam.predict(nmes_test)),
    nb_family.unit_deviance(y_test_nmes, nmes_nb_glm.predict(X_nmes_test)),
)


def compared(diff: tuple[float, float, float]) -> str:
    """The GAM against the GLM on a paired test-deviance difference, in words."""
    if diff[2] < 0:
        return "better than"
    return "worse than" if diff[1] > 0 else "no differently, within test-set noise, from"


aic = nmes_table["AIC"]
say(
    f"Under the Poisson family the four smooths use "
    f"{edf_compare['Poisson GAM'].sum() / edf_compare['NB GAM'].sum():.1f} times the effective "
    f"parameters they use under the negative binomial. The Poisson GAM's AIC is "
    f"{aic['Poisson GLM'] - aic['Poisson GAM']:.0f} below the Poisson GLM's; on the "
    f"{len(nmes_test):,} held-out people it predicts {compared(poisson_gain)} the plain Poisson "
    f"GLM: test Poisson deviance per case {interval_text(*poisson_gain)}, GAM minus GLM (a "
    f"paired bootstrap, both fits held fixed)"
    + (
        ""
        if poisson_gain[2] < 0
        else ", so the AIC, computed from a likelihood that the data reject, overstates the gain"
    )
    + ". With the variance modelled, the negative binomial GAM predicts "
    f"{compared(nb_gain)} the negative binomial GLM (test NB deviance per case "
    f"{interval_text(*nb_gain)}), and its AIC, counting $\\alpha$, is "
    f"{aic['NB GLM'] - aic['NB GAM']:.0f} below the GLM's."
)

# %% [markdown]
# {numref}`fig-nmes` shows the negative binomial GAM's terms on the log scale.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
plot_partial_dependence(nmes_nb_gam, [0, 1, 2, 3], axes=axes)
labels = ["age (decades)", "family income (USD 10,000)", "years of schooling", "chronic conditions"]
for ax, label in zip(axes, labels, strict=True):
    ax.set_xlabel(label)
    ax.set_ylabel(ax.get_ylabel() + ": effect on log visits")
fig.suptitle(f"NMES 1988: negative binomial GAM (α = {alpha:.2f}), effects with 95% bands")
fig.tight_layout()
glue_figure("fig-nmes", fig)

# %% [markdown]
# ```{glue:figure} fig-nmes
# :name: fig-nmes
#
# NMES 1988, negative binomial GAM ($\alpha$ at its moment estimate): the
# effects of age (decades), family income (USD 10,000), years of schooling and
# the number of chronic conditions on the log of expected visits, with 95%
# pointwise bands.
# ```

# %% [markdown]
# The term tests of the negative binomial GAM put numbers on the picture:

# %%
nmes_nb_gam.summary()[["edf", "ref_df", "statistic", "p_value"]].round(4)

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
terms_nb = nmes_nb_gam.summary()


def effect_on(term: str, values: np.ndarray):  # noqa: ANN201
    return nmes_nb_gam.partial_dependence(term, grid=np.asarray(values, dtype=float))


chronic = effect_on("s(chronic)", np.arange(0, nmes["chronic"].max() + 1))
c_top = int(chronic.grid[np.argmax(chronic.estimate)])
school = effect_on("s(school)", np.arange(nmes["school"].min(), nmes["school"].max() + 1))
s_low = int(school.grid[np.argmin(school.estimate)])
age = effect_on("s(age)", np.linspace(nmes["age"].min(), nmes["age"].max(), 61))
a_top = age.grid[np.argmax(age.estimate)]
income = terms_nb.loc["s(income)"]
say(
    f"From no chronic condition to {c_top}, the effect of chronic conditions rises by "
    f"{chronic.estimate.max() - chronic.estimate[0]:.2f} on the log scale (a factor of "
    f"{np.exp(chronic.estimate.max() - chronic.estimate[0]):.1f} in expected visits). The "
    f"schooling effect is lowest at {s_low} years and rises by "
    f"{school.estimate[-1] - school.estimate.min():.2f} to {school.grid[-1]:.0f} years. Age "
    f"peaks at {10 * a_top:.0f} years and falls by {age.estimate.max() - age.estimate[-1]:.2f} "
    f"to {10 * age.grid[-1]:.0f}, where the band is {age.upper[-1] - age.lower[-1]:.2f} wide "
    f"(against {np.min(age.upper - age.lower):.2f} at its narrowest). Family income, once "
    f"health and insurance are in the model, has EDF {income['edf']:.2f} and a p-value of "
    f"{income['p_value']:.2f}" + (": no detectable effect." if income["p_value"] > 0.05 else ".")
)

# %% [markdown]
# ## What it costs
#
# A GAM fit is a sequence of penalised IRLS iterations; each makes one pass
# over the data to accumulate $X^\top W X$ ($n \times p$ with $p = 58$ for
# three smooths of $K = 20$ splines) and the REML search runs on that $p \times p$
# matrix only. pyGAM factorises the $n \times p$ weighted model matrix (QR,
# then an SVD) in every iteration, and its grid search refits the model for
# each value of $\lambda$ on its default grid (`np.logspace(-3, 3, 11)`). We time a three-smooth logistic GAM on
# simulated data (`benchmarks/bench_gam.py` does the same at up to a
# million rows).


# %%
def simulate(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(0, 1, (n, 3))
    eta = 0.8 * np.sin(2 * np.pi * X[:, 0]) + 1.5 * (X[:, 1] - 0.5) ** 2 + 0.5 * X[:, 2] - 0.3
    return X, rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)


def fit_simulated(name: str, X: np.ndarray, y: np.ndarray):  # noqa: ANN201
    """One of the four timed fits of a three-smooth logistic GAM."""
    if name == "glmlib REML":
        return GAM(s(0) + s(1) + s(2), family="binomial", device=device).fit(X, y)
    if name == "glmlib λ = 0.6":
        terms = s(0, lam=0.6) + s(1, lam=0.6) + s(2, lam=0.6)
        return GAM(terms, family="binomial", device=device).fit(X, y)
    model = pygam.LogisticGAM(pygam.s(0) + pygam.s(1) + pygam.s(2))
    return model.fit(X, y) if name == "pyGAM λ = 0.6" else model.gridsearch(X, y, progress=False)


timings = []
for n in timing_sizes:
    X_sim, y_sim = simulate(n, rng)
    names = ["glmlib REML", "glmlib λ = 0.6", "pyGAM λ = 0.6"]
    if n == min(timing_sizes):
        names.append("pyGAM gridsearch")  # 11 refits: at the smallest size only
    for name in names:
        grid = name == "pyGAM gridsearch"  # 11 fits: time it once, without a warm-up
        model, sec = timed(
            partial(fit_simulated, name, X_sim, y_sim), 1 if grid else timing_repeats, not grid
        )
        timings.append({"n": n, "fit": name, "seconds": sec, "EDF": edf(model)})
timings = pd.DataFrame(timings).pivot(index="fit", columns="n", values="seconds")
timings.round(3)

# %%
n0 = min(timing_sizes)
print(
    f"n = {n0:,}: with smoothness selection, glmlib's REML is "
    f"{timings.loc['pyGAM gridsearch', n0] / timings.loc['glmlib REML', n0]:.0f}x faster than pyGAM's grid search; "
    f"at a fixed λ the engines differ by {timings.loc['pyGAM λ = 0.6', n0] / timings.loc['glmlib λ = 0.6', n0]:.1f}x."
)
print(
    f"glmlib: REML {timings.loc['glmlib REML', n0]:.2f} s, fixed λ {timings.loc['glmlib λ = 0.6', n0]:.2f} s "
    "(selection adds a few passes over the data, not a grid of refits)."
)

# %% [markdown]
# Timings in this chapter come from whatever machine ran it (the device and
# the package versions are printed at the end); the benchmark's README
# records a dated run.
#
# ## When is a GAM worth it?
#
# The three data sets give three answers, each from the numbers above:

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
say(
    f"- **Wage**: the age effect rises and falls (EDF {wage_gam.edf_[0]:.1f}, "
    f"as its figure shows); the GAM changes the AIC by {wage_aic_diff:+.1f} against the "
    f"linear GLM, and the test mean squared error by "
    f"{interval_text(*wage_mse_diff, digits=1)} (USD 1,000)²: {held_out_says}.\n"
    f"- **Pima**: REML gives glucose EDF {pima_reml.edf_[0]:.2f} and BMI "
    f"{pima_reml.edf_[1]:.2f}; against the linear GLM the test AUC changes by "
    f"{interval_text(*auc_diff)}: {pima_verdict.split('. ')[0]}.\n"
    f"- **NMES**: under a Poisson likelihood with a Pearson dispersion of {pearson:.1f} the "
    f"smooths use {edf_compare['Poisson GAM'].sum():.1f} effective parameters and predict "
    f"{compared(poisson_gain)} the Poisson GLM on held-out people; with a negative binomial "
    f"family they use {edf_compare['NB GAM'].sum():.1f} and predict {compared(nb_gain)} the "
    "negative binomial GLM."
)

# %% [markdown]
# The cost of asking is small: REML picks the smoothing parameters in one
# fit, a few passes over the data beyond a fixed-$\lambda$ fit, where a grid
# search refits the model for every candidate. Check the EDF (near 1 means a
# line would do), look at the bands, and keep the family honest before
# trusting a wiggle.
#
# **Further reading.** Hastie and Tibshirani {cite}`hastie1990` introduced
# GAMs; Wood {cite}`wood2017` is the modern reference for penalised
# regression splines, REML smoothness selection and the p-values used here.
# P-splines are due to Eilers and Marx (1996); fast REML for GAMs to Wood
# (2011); the smooth term test to Wood (2013). Full entries are on the
# [references](../book/references.md) page.

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(["pygam", "torch", "matplotlib"], device=device, seed=seed, quick=quick)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
