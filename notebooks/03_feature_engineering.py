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
# # Feature engineering
#
# A GLM is linear in its coefficients, not in the raw measurements. Whatever
# columns we hand it — logarithms, indicators, products, polynomials, spline
# bases, one-hot codes — it fits one coefficient per column. Feature
# engineering is the choice of those columns, and it usually matters more
# than the choice of solver.
#
# This chapter builds features with the libraries made for the job
# (scikit-learn's transformers and formulaic's formulas) and asks three
# questions of each:
#
# 1. **Does it help on data the model has not seen?** On wages and on spam
#    e-mail it does, by amounts the chapter measures.
# 2. **How far can it be pushed?** The number of polynomial features grows
#    combinatorially with the degree; past a point an unpenalised fit
#    memorises the training data, and a penalty chosen by cross-validation
#    has to take over.
# 3. **What if there is nothing to find?** On daily and weekly stock-market
#    returns, interactions of past returns predict no better than always
#    guessing the more common direction — and the chapter says so with
#    numbers.

# %% [markdown]
# ## Parameters
#
# `seed` fixes every random draw (the train/test split of the spam data, the
# cross-validation folds, the bootstrap). `quick=True` lowers the highest
# polynomial degree and the number of folds, penalties, training sizes and
# bootstrap resamples so that the chapter runs in well under a minute.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in seconds (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
test_fraction = 0.3  # share of the spam e-mails held out as a test set
n_folds = 5  # cross-validation folds
max_degree = 5  # highest polynomial degree in the degree sweep
max_iter_unpenalised = 25  # Newton iterations allowed to unpenalised fits in the sweep
curve_degree = 3  # polynomial degree of the learning curves
n_alphas = 20  # penalties on each GLMCV path
n_train_sizes = 5  # training-set sizes in the learning curves
n_boot = 1_000  # bootstrap resamples of test sets
smarket_test_year = 2005  # Smarket: train on earlier years, test on this one (as ISLR)
weekly_test_from = 2009  # Weekly: train before this year, test from it on (as ISLR)
weekly_chain_from = 1995  # Weekly: first test year of the forward-chaining evaluation

# %%
# A bad parameter (say papermill -p n_folds 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Int, Real, check_parameters

check_parameters(
    globals(),
    test_fraction=Real(0, 1),
    n_folds=Int(2),
    max_degree=Int(1),
    max_iter_unpenalised=Int(1),
    curve_degree=Int(1),
    n_alphas=Int(2),
    n_train_sizes=Int(1),
    n_boot=Int(1),
    smarket_test_year=Int(2002, 2005),
    weekly_test_from=Int(1991, 2010),
    weekly_chain_from=Int(1991, 2010),
)

# %% [markdown]
# Next come the imports. Two small helpers keep the chapter honest about
# warnings: glmlib warns when a logistic fit separates the classes, fails to
# converge or meets collinear columns, and here such warnings are *counted
# and reported* rather than printed in the middle of a figure.

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_score,
    learning_curve,
    train_test_split,
    validation_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    OneHotEncoder,
    PolynomialFeatures,
    SplineTransformer,
    StandardScaler,
)
from threadpoolctl import threadpool_limits

import glmlib
from glmlib.book import glue, glue_figure
from glmlib.datasets import load

# %%
start_time = time.perf_counter()
if quick:
    n_folds, max_degree, n_alphas = min(n_folds, 3), min(max_degree, 3), min(n_alphas, 10)
    n_train_sizes, n_boot = min(n_train_sizes, 3), min(n_boot, 200)
    weekly_chain_from = max(weekly_chain_from, 2005)
curve_degree = min(curve_degree, max_degree)
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU
# The design matrices here have at most a few hundred columns: one BLAS thread is as fast as
# several for them, and avoids oversubscribing a machine that runs other jobs.
threadpool_limits(limits=1, user_api="blas")
rng = np.random.default_rng(seed)
folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)  # wages (continuous)
# spam (binary): every fold keeps the training set's share of spam
spam_folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
print(f"device={device}, seed={seed}, quick={quick}, n_folds={n_folds}, max_degree={max_degree}")


# %%
def quietly(fit, *args, **kwargs):
    """Call ``fit(*args, **kwargs)``; return its result and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(*args, **kwargs)
    return result, [str(w.message) for w in caught]


def say(markdown):
    """Show a paragraph whose numbers and wording come from the computation."""
    display(Markdown(markdown))


def warning_counts(messages):
    """How many of glmlib's warnings were about separation, convergence and collinearity."""
    kinds = {
        "separation": "fitted probabilities numerically 0 or 1",
        "no convergence": "did not converge",
        "rank deficient": "rank deficient",
    }
    return {kind: sum(key in m for m in messages) for kind, key in kinds.items()}


# %%
def unit_log_loss(y, p):
    """Negative log-likelihood of each 0/1 outcome, with p clipped to [1e-15, 1 - 1e-15]."""
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def binary_metrics(y, p):
    """Accuracy of the rule p > 1/2, area under the ROC curve, and mean log-loss."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return {
        "accuracy": accuracy_score(y, p > 0.5),
        "AUC": roc_auc_score(y, p),
        "log-loss": unit_log_loss(y, p).mean(),
    }


def plot_floored(ax, x, y, floor, style, color, label):
    """Plot y against x; values below ``floor`` are drawn on it as ▼ and labelled."""
    y = np.asarray(y, dtype=float)
    ax.plot(x, np.maximum(y, floor), style, color=color, label=label)
    for xi, yi in zip(x, y, strict=True):
        if yi < floor:
            ax.plot(xi, floor, "v", color=color, ms=10)
            ax.annotate(
                f"{yi:.1f}", (xi, floor), xytext=(6, 6), textcoords="offset points", color=color
            )


# %% [markdown]
# ## Data
#
# Four data sets shipped with glmlib (provenance and licences in
# `data/README.md`):
#
# - **Wage** (ISLR): wages of {glue:text}`n_wage:,d` male workers in USD 1,000, with age, year
#   and education — a continuous response for the tools section.
# - **spam7** (DAAG): six features extracted from the text of {glue:text}`n_spam:,d` e-mails
#   — the length of runs of capital letters and the frequencies of `$`,
#   `!`, "money", "000" and "make" — and whether the e-mail is spam.
# - **Smarket** and **Weekly** (ISLR): daily (2001–2005) and weekly
#   (1990–2010) returns of the S&P 500, the five previous returns, the
#   trading volume and whether the market went up.

# %%
wage = load("wage")
spam = load("spam7")
smarket = load("smarket")
weekly = load("weekly")
glue("n_wage", len(wage))
glue("n_spam", len(spam))
pd.DataFrame(
    {
        "rows": [len(wage), len(spam), len(smarket), len(weekly)],
        "response": ["wage (USD 1,000)", "spam (0/1)", "up (0/1)", "up (0/1)"],
        "response mean": [
            wage["wage"].mean(),
            spam["spam"].mean(),
            smarket["up"].mean(),
            weekly["up"].mean(),
        ],
    },
    index=["wage", "spam7", "smarket", "weekly"],
).round(3)

# %% [markdown]
# ## Features from libraries, not by hand
#
# ### Polynomials and interactions
#
# scikit-learn's `PolynomialFeatures` turns $k$ inputs into every monomial
# up to a given degree; with `interaction_only=True` it keeps only products
# of *distinct* inputs (no squares). On two inputs:

# %%
two = wage[["age", "year"]]
for degree, interaction_only in [(2, True), (2, False), (3, False)]:
    poly = PolynomialFeatures(degree, interaction_only=interaction_only, include_bias=False).fit(
        two
    )
    names = ", ".join(poly.get_feature_names_out())
    print(f"degree {degree}, interaction_only={interaction_only}: {names}")

# %% [markdown]
# ### One-hot categoricals and splines in a `ColumnTransformer`
#
# A `ColumnTransformer` sends each column to its own transformer and stacks
# the results: `OneHotEncoder(drop="first")` gives education four indicator
# columns against the reference level "< HS Grad", and `SplineTransformer`
# turns age into a cubic B-spline basis (`include_bias=False` drops one basis
# function, which would otherwise sum with the others to the intercept).
# Each design ends in a `glmlib.GLM`, so the whole pipeline is one
# scikit-learn estimator that `cross_val_score` can refit fold by fold.


# %%
def wage_design(age_transformer):
    """Pipeline: age through ``age_transformer``, education one-hot, year as is, then a GLM."""
    columns = ColumnTransformer(
        [
            ("age", age_transformer, ["age"]),
            ("education", OneHotEncoder(drop="first"), ["education"]),
        ],
        remainder="passthrough",  # year
    )
    return make_pipeline(columns, glmlib.GLM(family="gaussian", device=device))


wage_X = wage[["age", "year", "education"]]
sklearn_designs = {
    "age linear": wage_design("passthrough"),
    "age quadratic": wage_design(PolynomialFeatures(2, include_bias=False)),
    "age spline (5 knots)": wage_design(SplineTransformer(n_knots=5, include_bias=False)),
}

# %% [markdown]
# ### The formula interface
#
# The same designs can be written as Wilkinson formulas, which glmlib hands
# to formulaic: `GLM(formula="wage ~ age * year + C(education)")` is fitted
# to the data frame itself (`fit(wage)`, the response is named in the
# formula), and `predict` rebuilds the same columns — same category levels,
# same spline knots — for new rows. `a * b` expands to `a + b + a:b`,
# `C()` one-hot codes a categorical, and formulaic's `bs()` is a B-spline
# basis like R's.

# %%
formulas = {
    "formula: age + year + C(education)": "wage ~ age + year + C(education)",
    "formula: age * year + C(education)": "wage ~ age * year + C(education)",
    "formula: bs(age, df=5) + year + C(education)": "wage ~ bs(age, df=5) + year + C(education)",
    "formula: bs(age, df=5) * C(education) + year": "wage ~ bs(age, df=5) * C(education) + year",
}
formula_designs = {
    name: glmlib.GLM(family="gaussian", formula=f, device=device) for name, f in formulas.items()
}

# %% [markdown]
# Every design is scored by `n_folds`-fold cross-validation on the same
# folds. For the Gaussian family glmlib's `score`, D², is $R^2$.


# %%
def n_columns(model):
    """Number of coefficients (besides the intercept) of a fitted GLM or pipeline."""
    return len((model[-1] if hasattr(model, "steps") else model).coef_)


wage_rows, wage_fold_scores = {}, {}
for name, model in {**sklearn_designs, **formula_designs}.items():
    X, y = (wage, None) if name.startswith("formula") else (wage_X, wage["wage"])
    scores, caught = quietly(cross_val_score, model, X, y, cv=folds)
    caught += quietly(model.fit, X, y)[1]
    wage_fold_scores[name] = scores
    wage_rows[name] = {
        "columns": n_columns(model),
        "CV R²": scores.mean(),
        "SE of CV R²": scores.std(ddof=1) / np.sqrt(n_folds),
        "warnings": len(caught),
    }
wage_table = pd.DataFrame(wage_rows).T.astype({"columns": int, "warnings": int})
gain = pd.DataFrame(wage_fold_scores).sub(wage_fold_scores["age linear"], axis=0)
wage_table["gain over age linear"] = gain.mean()
wage_table["SE of gain"] = gain.std(ddof=1) / np.sqrt(n_folds)
wage_table.round(4)

# %%
se_ratio = wage_table["SE of gain"].drop("age linear") / wage_table["SE of CV R²"].drop(
    "age linear"
)
glue("se_gain_max", float(wage_table["SE of gain"].drop("age linear").max()))
glue("se_r2_min", float(wage_table["SE of CV R²"].min()))
glue("se_ratio_max", float(se_ratio.max()))

# %% [markdown]
# The gains are differences between designs on the *same* folds, so their
# standard errors come from the per-fold differences: at most
# {glue:text}`se_gain_max:.4f`, against at least {glue:text}`se_r2_min:.4f` for
# $R^2$ itself (the largest ratio is {glue:text}`se_ratio_max:.2f`), because most of
# the fold-to-fold variation is shared by all designs (some folds are simply
# harder to predict). Two checks on the tools
# themselves: the formula `age + year + C(education)` and the
# `ColumnTransformer` with `OneHotEncoder` are the same model; the two
# spline bases differ in their knots (scikit-learn spaces five knots evenly,
# `bs(df=5)` places its interior knots at quantiles of age), so their fits
# differ a little.

# %%
linear_sk = sklearn_designs["age linear"]
linear_formula = formula_designs["formula: age + year + C(education)"]
spline_sk = sklearn_designs["age spline (5 knots)"]
spline_formula = formula_designs["formula: bs(age, df=5) + year + C(education)"]
same = np.max(np.abs(linear_sk.predict(wage_X) - linear_formula.predict(wage)))
spline_gap = spline_sk.predict(wage_X) - spline_formula.predict(wage)
interaction = wage_table.loc["formula: age * year + C(education)", "gain over age linear"]
print(f"max |prediction difference|, one-hot by scikit-learn vs formula: {same:.1e} (USD 1,000)")
print(
    f"SplineTransformer vs bs(): RMS prediction difference {np.sqrt(np.mean(spline_gap**2)):.2f}, "
    f"largest {np.max(np.abs(spline_gap)):.2f} (USD 1,000), against a residual SD of "
    f"{np.sqrt(spline_formula.scale_):.1f}."
)
print(
    f"Adding age:year changes CV R² by {interaction:+.4f}; a curved age effect adds "
    f"{wage_table.loc['age quadratic', 'gain over age linear']:+.4f}."
)
print("Coefficients of the formula model:")
linear_formula.summary()[["coef", "std_err"]].round(3)

# %% [markdown]
# ### pandas categoricals as they are
#
# A column of pandas `category` dtype needs no encoder at all: glmlib expands
# it into one indicator per level itself, without ever building the
# indicator matrix ($X\beta$ gathers the level coefficients, $X^\top W X$ is
# made of bincounts). An unpenalised fit with an intercept leaves out the
# first level, R's treatment coding (`drop_first="auto"`; penalised fits keep
# every level, as glmnet and glum do), so the model below is the formula
# model `age + year + C(education)` once more, with term names in the
# `column[level]` form:

# %%
direct = glmlib.GLM(family="gaussian", device=device).fit(wage_X, wage["wage"])
same_direct = np.max(np.abs(direct.predict(wage_X) - linear_formula.predict(wage)))
print(f"education dtype: {wage_X['education'].dtype}")
print(
    f"max |prediction difference|, categorical DataFrame vs formula: {same_direct:.1e} (USD 1,000)"
)
print("coefficients:", list(direct.feature_names_out_))

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
ages = np.arange(18, 81)
grid = pd.DataFrame({"age": ages, "year": 2006})
grid["education"] = pd.Categorical(["2. HS Grad"] * len(ages), dtype=wage["education"].dtype)
z_gain = wage_table["gain over age linear"] / wage_table["SE of gain"]
spline_curve = spline_formula.predict(grid)
peak_age = int(ages[np.argmax(spline_curve)])
by_edu = "formula: bs(age, df=5) * C(education) + year"
by_edu_gain = (
    wage_table.loc[by_edu, "CV R²"]
    - wage_table.loc["formula: bs(age, df=5) + year + C(education)", "CV R²"]
)
extra_columns = wage_table.loc[by_edu, "columns"] - n_columns(spline_formula)


def verdict(z):
    """A gain of ``z`` standard errors, in words."""
    return "helps clearly" if z > 2 else ("hurts clearly" if z < -2 else "is within noise")


say(
    f"The table says where the gain is: letting the age effect bend raises the "
    f"cross-validated $R^2$ by {z_gain['age quadratic']:.1f} standard errors of the gain (a "
    f"square) and {z_gain['age spline (5 knots)']:.1f} (a spline), while the `age:year` "
    f"interaction changes it by {z_gain['formula: age * year + C(education)']:+.1f} standard "
    f"errors ({verdict(z_gain['formula: age * year + C(education)'])}), and interacting the "
    f"spline with education adds {extra_columns} columns for a change of {by_edu_gain:+.4f} in "
    f"$R^2$. The figure below shows why: the spline's fitted wage rises to a "
    f"peak at age {peak_age} and is {spline_curve.max() - spline_curve[-1]:.1f} thousand USD "
    f"lower at age {ages[-1]}, which no straight line can follow."
)

# %% [markdown]
# In {numref}`fig-wage-age` the curves are for high-school graduates in 2006;
# the dots are the mean wage of those workers by five-year age band.

# %% tags=["remove-output"]
hs = wage[wage["education"] == "2. HS Grad"]
band = (hs["age"] // 5) * 5 + 2.5
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.scatter(hs["age"], hs["wage"], s=3, color="0.8", label="HS graduates")
means = hs.groupby(band)["wage"].mean()
ax.plot(means.index, means.to_numpy(), "ko", ms=4, label="mean by 5-year band")
curves = [
    ("age linear", sklearn_designs["age linear"], grid),
    ("age quadratic", sklearn_designs["age quadratic"], grid),
    ("SplineTransformer, 5 knots", spline_sk, grid),
    ("formula bs(age, df=5)", spline_formula, grid),
]
for k, (label, model, new) in enumerate(curves):
    ax.plot(ages, model.predict(new), color=f"C{k}", lw=2, ls="--" if k == 3 else "-", label=label)
ax.set(xlabel="age (years)", ylabel="wage (USD 1,000)", ylim=(0, 220))
ax.set_title("Fitted mean wage of high-school graduates in 2006, four designs")
ax.legend(fontsize=8, ncol=2)
glue_figure("fig-wage-age", fig)

# %% [markdown]
# ```{glue:figure} fig-wage-age
# :name: fig-wage-age
#
# Wage data: fitted mean wage (USD 1,000) of high-school graduates in 2006
# against age under four designs (linear, quadratic, scikit-learn spline,
# formula `bs()` spline), over the workers (grey) and their mean wage by
# five-year age band (black dots).
# ```

# %% [markdown]
# ## Text-derived features: spam e-mail
#
# Text reaches a GLM as numbers counted from it. The spam7 features are
# such counts: the total length of runs of capital letters, and the
# percentage of characters or words that are `$`, `!`, "money", "000" or
# "make". Counts like these share two traits that a linear predictor
# handles badly: most e-mails contain none of a given word (a spike at
# zero), and the rest are heavily right-skewed.

# %%
words = ["dollar", "bang", "money", "n000", "make"]  # frequencies, in % of characters or words
features = ["crl_tot", *words]
X_spam, y_spam = spam[features].astype(float), spam["spam"].to_numpy(dtype=float)
pd.DataFrame(
    {
        "share of zeros": (X_spam == 0).mean(),
        "median": X_spam.median(),
        "99th percentile": X_spam.quantile(0.99),
        "max": X_spam.max(),
        "skewness (raw)": X_spam.skew(),
        "skewness (log1p)": np.log1p(X_spam).skew(),
    }
).round(2)

# %% [markdown]
# What shape should the features take? For each feature the figure bins the
# e-mails that contain it into ten equal-count bins and plots the empirical
# log-odds of spam in each bin against the bin's mean of $\log(1 + x)$; the
# e-mails with $x = 0$ form their own point. A logistic model that is linear
# in $\log(1 + x)$ would draw a straight line through the bins; a jump
# between the zero point and the first bin calls for an indicator of
# $x > 0$.


# %% tags=["remove-output"]
def logit(rate):
    return np.log(rate / (1 - rate))


fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharey=True)
for ax, name in zip(axes.ravel(), features, strict=True):
    x = X_spam[name]
    present = x > 0
    bins = pd.qcut(x[present], 10, duplicates="drop")
    by_bin = pd.DataFrame(
        {"lx": np.log1p(x[present]), "y": y_spam[present.to_numpy()], "bin": bins}
    )
    by_bin = by_bin.groupby("bin", observed=True).mean()
    ax.plot(by_bin["lx"], logit(by_bin["y"].clip(0.005, 0.995)), "o-", label="x > 0, deciles")
    if (~present).any():
        ax.plot(0, logit(y_spam[~present.to_numpy()].mean()), "s", color="C3", ms=8, label="x = 0")
    ax.set(xlabel=f"log(1 + {name})", title=name)
for ax in axes[:, 0]:
    ax.set_ylabel("log-odds of spam")
axes[0, 1].legend(fontsize=8)
fig.suptitle("Empirical log-odds of spam by feature (bins of equal count)")
fig.tight_layout()
glue_figure("fig-spam-logodds", fig)
glue("n_log_products", len(features) * (len(features) - 1) // 2)

# %% [markdown]
# ```{glue:figure} fig-spam-logodds
# :name: fig-spam-logodds
#
# spam7: empirical log-odds of spam against the bin mean of $\log(1 + x)$, one
# panel per feature; e-mails containing the feature in ten equal-count bins
# (circles), those without it as one point at zero (red square).
# ```

# %% [markdown]
# {numref}`fig-spam-logodds` reads like a specification. Capital-letter runs act roughly
# linearly on the log scale. For "money" and "n000" the big step is from
# absent to present, with little trend after it; `$` and `!` climb steeply
# over small frequencies and then level off. So we compare six designs, each
# standardised and fitted by logistic regression:
#
# | design | columns |
# | --- | --- |
# | raw | the six features as they are |
# | log | $\log(1 + x)$ of each (`FunctionTransformer`) |
# | log + indicators | and $[x > 0]$ for the five word frequencies (`Binarizer`) |
# | log + indicators + products | and the {glue:text}`n_log_products:d` pairwise products of the logs (`PolynomialFeatures(degree=(2, 2), interaction_only=True)`) |
# | splines + indicators | a cubic B-spline basis of each log feature (`SplineTransformer`) instead of the log itself |
# | splines + indicators + products | both |


# %%
def log1p():
    return FunctionTransformer(np.log1p, feature_names_out="one-to-one")


def products():
    """Pairwise products of the log features, without the main effects."""
    only_pairs = PolynomialFeatures(degree=(2, 2), interaction_only=True, include_bias=False)
    return ("products", make_pipeline(log1p(), only_pairs), features)


indicators = ("present", Binarizer(threshold=0.0), words)
logs = ("log", log1p(), features)
splines = (
    "spline",
    make_pipeline(log1p(), SplineTransformer(n_knots=5, include_bias=False)),
    features,
)
spam_designs = {
    "raw": "passthrough",
    "log": ColumnTransformer([logs]),
    "log + indicators": ColumnTransformer([logs, indicators]),
    "log + indicators + products": ColumnTransformer([logs, indicators, products()]),
    "splines + indicators": ColumnTransformer([splines, indicators]),
    "splines + indicators + products": ColumnTransformer([splines, indicators, products()]),
}

# %% [markdown]
# The e-mails are split once into a training set and a test set
# (`test_fraction` of them, stratified on spam). Each design is fitted twice
# on the training set: unpenalised (`GLM`), and with a lasso penalty whose
# strength `GLMCV` chooses by cross-validation on the training set alone
# (`StratifiedKFold` folds, each with the training set's share of spam).
# A design is *chosen* on the training set alone, by its cross-validated
# log-loss on the same folds: out-of-fold predictions for the unpenalised fits,
# and for the lasso the cross-validated deviance (twice the log-loss) that
# `GLMCV` computed at the penalty it chose. That last figure is slightly
# optimistic, since the penalty was chosen to minimise it, so the comparison
# leans a little towards the lasso; refitting `GLMCV` inside every fold would
# remove the lean at several times the cost. The test set is touched only to
# score the fitted models, and the chosen one is reported on it once.

# %%
X_train, X_test, y_train, y_test = train_test_split(
    X_spam, y_spam, test_size=test_fraction, stratify=y_spam, random_state=seed
)
estimators = {
    "unpenalised": lambda: glmlib.GLM(family="binomial", device=device),
    "lasso (GLMCV)": lambda: glmlib.GLMCV(
        family="binomial", l1_ratio=1.0, n_alphas=n_alphas, cv=spam_folds, device=device
    ),
}


def cv_log_loss(pipe):
    """Mean log-loss of out-of-fold predictions on the training set (``spam_folds``)."""
    losses = np.empty(len(y_train))
    for fit_rows, val_rows in spam_folds.split(X_train, y_train):
        part = clone(pipe).fit(X_train.iloc[fit_rows], y_train[fit_rows])
        losses[val_rows] = unit_log_loss(y_train[val_rows], part.predict(X_train.iloc[val_rows]))
    return losses.mean()


spam_rows, spam_probs, spam_warnings = {}, {}, {}
for design_name, design in spam_designs.items():
    for fit_name, make_estimator in estimators.items():
        pipe = make_pipeline(design, StandardScaler(), make_estimator())
        _, caught = quietly(pipe.fit, X_train, y_train)
        if fit_name == "unpenalised":
            cv_loss = quietly(cv_log_loss, pipe)[0]
        else:  # GLMCV's own CV deviance at its chosen penalty, on the same folds (deviance / 2)
            cv_loss = pipe[-1].cv_deviance_.mean(axis=0).min() / 2
        p = np.asarray(pipe.predict(X_test))
        key = (design_name, fit_name)
        spam_probs[key], spam_warnings[key] = p, warning_counts(caught)
        spam_rows[key] = {
            "columns": n_columns(pipe),
            "non-zero": int(np.count_nonzero(pipe[-1].coef_)),
            "CV log-loss": cv_loss,
            **binary_metrics(y_test, p),
            "test D²": pipe.score(X_test, y_test),
        }
spam_table = pd.DataFrame(spam_rows).T.astype({"columns": int, "non-zero": int})
spam_table.round(4)

# %% [markdown]
# glmlib's warnings during these fits, by kind (designs without any are
# left out):

# %%
spam_warning_table = pd.DataFrame(spam_warnings).T
spam_warning_table[spam_warning_table.sum(axis=1) > 0]

# %% [markdown]
# How much of each difference is more than test-set noise? We resample the
# test e-mails with replacement (`n_boot` times) and recompute, on each
# resample, every model's log-loss minus that of the raw unpenalised model;
# the middle 95% of those resampled differences is a 95% percentile interval.
# It holds the fitted models fixed: it says how far the difference could move
# on another test set of the same size from the same e-mails, not how it would
# vary if the models were refitted on other training data. It is honest for
# the model chosen by cross-validation, because that choice never saw the test
# set; had we picked the design with the lowest *test* log-loss, its interval
# would start from a value selected for being low, and would not cover the
# difference that model makes on new e-mails 95% of the time.

# %%
boot_idx = rng.integers(0, len(y_test), size=(n_boot, len(y_test)))
reference = unit_log_loss(y_test, spam_probs[("raw", "unpenalised")])
spam_diff = {}
for key, p in spam_probs.items():
    diff = unit_log_loss(y_test, p) - reference
    boot = diff[boot_idx].mean(axis=1)
    spam_diff[key] = {
        "Δ log-loss": diff.mean(),
        "2.5%": np.quantile(boot, 0.025),
        "97.5%": np.quantile(boot, 0.975),
    }
spam_diff = pd.DataFrame(spam_diff).T
best_key = spam_table["CV log-loss"].astype(float).idxmin()  # chosen without the test set
test_best_key = spam_table["log-loss"].astype(float).idxmin()
print(
    f"Chosen by CV log-loss: {best_key[0]}, {best_key[1]} (CV "
    f"{spam_table.loc[best_key, 'CV log-loss']:.4f}). Its test log-loss: "
    f"{spam_table.loc[best_key, 'log-loss']:.4f} against {reference.mean():.4f} for the raw "
    f"features, a difference of {spam_diff.loc[best_key, 'Δ log-loss']:+.4f} (95% interval "
    f"{spam_diff.loc[best_key, '2.5%']:+.4f} to {spam_diff.loc[best_key, '97.5%']:+.4f}); "
    f"accuracy {spam_table.loc[best_key, 'accuracy']:.2%} against "
    f"{spam_table.loc[('raw', 'unpenalised'), 'accuracy']:.2%}; always predicting 'not spam' "
    f"scores {1 - y_test.mean():.2%}."
)
print(
    f"The lowest test log-loss of all {len(spam_table)}: "
    f"{test_best_key[0]}, {test_best_key[1]} (shown for comparison; not a choice)."
)
spam_diff.round(4)

# %% [markdown]
# The intervals above are against the raw model. Each *step* of the ladder
# — from one design to the next richer one — gets its own paired interval:

# %%
steps = {
    "log(1 + x) instead of raw": ("log", "raw"),
    "+ indicators": ("log + indicators", "log"),
    "+ products": ("log + indicators + products", "log + indicators"),
    "splines instead of logs": ("splines + indicators", "log + indicators"),
    "splines, + products": ("splines + indicators + products", "splines + indicators"),
}
step_rows = {}
for step, (richer, simpler) in steps.items():
    for fit_name in estimators:
        diff = unit_log_loss(y_test, spam_probs[(richer, fit_name)]) - unit_log_loss(
            y_test, spam_probs[(simpler, fit_name)]
        )
        boot = diff[boot_idx].mean(axis=1)
        step_rows[(step, fit_name)] = {
            "Δ log-loss": diff.mean(),
            "2.5%": np.quantile(boot, 0.025),
            "97.5%": np.quantile(boot, 0.975),
        }
step_table = pd.DataFrame(step_rows).T
step_table["interval below 0"] = step_table["97.5%"] < 0
step_table.round(4)

# %% [markdown]
# {numref}`fig-spam-designs` shows the test set's view of every fit.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), width_ratios=[1, 1.4])
for key in [("raw", "unpenalised"), ("log", "unpenalised"), best_key]:
    fpr, tpr, _ = roc_curve(y_test, spam_probs[key])
    label = f"{key[0]}{', lasso' if key[1] != 'unpenalised' else ''}"
    axes[0].plot(fpr, tpr, label=f"{label} (AUC {spam_table.loc[key, 'AUC']:.3f})")
axes[0].plot([0, 1], [0, 1], color="0.6", lw=1, ls=":")
axes[0].set(
    xlabel="false positive rate (ham flagged as spam)",
    ylabel="true positive rate",
    title="ROC curves, test set",
)
axes[0].legend(fontsize=8, loc="lower right")
y_pos = np.arange(len(spam_designs))
for k, fit_name in enumerate(estimators):
    rows = spam_diff.xs(fit_name, level=1).loc[list(spam_designs)]
    err = [rows["Δ log-loss"] - rows["2.5%"], rows["97.5%"] - rows["Δ log-loss"]]
    axes[1].errorbar(
        rows["Δ log-loss"],
        y_pos + 0.15 * (2 * k - 1),
        xerr=err,
        fmt="os"[k],
        capsize=3,
        label=fit_name,
    )
axes[1].axvline(0, color="k", lw=0.8)
axes[1].set_yticks(y_pos, list(spam_designs))
axes[1].invert_yaxis()
axes[1].set(
    xlabel="test log-loss − raw unpenalised test log-loss (nats per e-mail)",
    title=f"What each design buys ({n_boot} bootstrap resamples)",
)
axes[1].legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-spam-designs", fig)

# %% [markdown]
# ```{glue:figure} fig-spam-designs
# :name: fig-spam-designs
#
# spam7 test set. Left: ROC curves for the raw features, the log design and the
# design chosen by cross-validated log-loss on the training set. Right: each
# model's test log-loss minus that of the raw unpenalised model (nats per
# e-mail; left of zero is better), with 95% paired bootstrap intervals over the
# test e-mails, for the unpenalised and the lasso fits.
# ```

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
ladder = ["log(1 + x) instead of raw", "+ indicators", "+ products"]
ladder_rows = step_table.loc[[(step, "unpenalised") for step in ladder]]
n_lowered = int((ladder_rows["Δ log-loss"] < 0).sum())
n_clear = int(ladder_rows["interval below 0"].sum())
spline_unpen = ("splines + indicators", "unpenalised")
spline_lasso = ("splines + indicators", "lasso (GLMCV)")
spline_step = step_table.loc[("splines instead of logs", "unpenalised")]
test_rank = spam_table["log-loss"].astype(float).rank()
say(
    f"Of the {len(ladder)} steps of the specification read off the figure of log-odds "
    f"(the log transform, the indicators of presence, the products), {n_lowered} lowered the "
    f"test log-loss of the unpenalised fit, and {n_clear} of them by more than test-set noise "
    f"(a 95% interval below zero in the step table). The spline designs are the instructive "
    f"case. Fitted without a penalty, they raised "
    f"{spam_warnings[spline_unpen]['separation']} separation warning(s) (the table of "
    f"warnings), and replacing the logs by splines changed their test log-loss by "
    f"{spline_step['Δ log-loss']:+.4f} (95% interval {spline_step['2.5%']:+.4f} to "
    f"{spline_step['97.5%']:+.4f}); the same columns under a lasso penalty chosen by "
    f"cross-validation rank {test_rank[spline_lasso]:.0f} of {len(spam_table)} on test "
    f"log-loss. The design chosen by cross-validation, {best_key[0]} ({best_key[1]}), "
    f"{'is' if best_key == test_best_key else 'is not'} also the one with the lowest test "
    "log-loss. Flexible features and a penalty go together — which the next section makes "
    "systematic."
)

# %% [markdown]
# ## How far to push it: the polynomial degree
#
# Take the six log features and hand the model every monomial up to degree
# $d$. With $k$ inputs there are $\binom{k + d}{d} - 1$ of them, so the
# design grows quickly; the figure further down puts that number next to
# the size of the training set.

# %%
degrees = np.arange(1, max_degree + 1)
n_poly = {
    d: PolynomialFeatures(d, include_bias=False).fit(X_train).n_output_features_
    for d in range(1, 9)
}
n_inter = {
    d: PolynomialFeatures(d, interaction_only=True, include_bias=False)
    .fit(X_train)
    .n_output_features_
    for d in range(1, 9)
}
pd.DataFrame({"all monomials": n_poly, "interactions only": n_inter}).rename_axis("degree").T

# %% [markdown]
# A **validation curve** (scikit-learn's `validation_curve`) refits the
# pipeline on every training fold at every degree and records D² on the
# training folds and on the held-out fold. Unpenalised logistic fits get at
# most `max_iter_unpenalised` Newton iterations, as R's `glm` does by
# default (`glm.control(maxit = 25)`): once a fit separates the classes the maximum-likelihood
# coefficients are infinite, and more iterations only make them larger.


# %%
def polynomial_model(degree, estimator):
    """log(1 + x), every monomial up to ``degree``, standardise, then ``estimator``."""
    return make_pipeline(
        log1p(), PolynomialFeatures(degree, include_bias=False), StandardScaler(), estimator
    )


def unpenalised():
    return glmlib.GLM(family="binomial", max_iter=max_iter_unpenalised, device=device)


t0 = time.perf_counter()
(train_d2, cv_d2), sweep_messages = quietly(
    validation_curve,
    polynomial_model(1, unpenalised()),
    X_train,
    y_train,
    param_name="polynomialfeatures__degree",
    param_range=degrees,
    cv=spam_folds,
)
print(f"{len(degrees)} degrees x {n_folds} folds in {time.perf_counter() - t0:.1f} s")
print(f"glmlib warnings during the sweep: {warning_counts(sweep_messages)}")

# %% [markdown]
# The validation curve above refits the unpenalised model on every fold at
# every degree. For the penalised counterpart, `GLMCV` fits a lasso path at
# each degree and picks the penalty by cross-validation on the same folds;
# its cross-validated deviance at the chosen penalty converts to the same
# D² scale (one minus held-out deviance over the held-out null deviance,
# fold by fold). Each `GLMCV` is then scored once on the test set, as is the
# unpenalised fit at the same degree.

# %%
binomial = glmlib.families.Binomial()


def fold_null_deviance(y):
    """Held-out null deviance per observation of each fold (the denominator of D²)."""
    out = []
    for _, test in spam_folds.split(np.zeros(len(y)), y):
        yt = y[test]
        out.append(
            float(binomial.deviance(yt, np.full_like(yt, yt.mean()), np.ones_like(yt))) / len(yt)
        )
    return np.array(out)


null_per_fold = fold_null_deviance(y_train)
degree_rows = {}
for d in degrees:
    lasso = glmlib.GLMCV(
        family="binomial", l1_ratio=1.0, n_alphas=n_alphas, cv=spam_folds, device=device
    )
    lasso_pipe, caught = quietly(polynomial_model(d, lasso).fit, X_train, y_train)
    best = np.argmin(lasso.cv_deviance_.mean(axis=0))
    plain_pipe = quietly(polynomial_model(d, unpenalised()).fit, X_train, y_train)[0]
    degree_rows[d] = {
        "columns": n_poly[d],
        "unpenalised: train D²": train_d2[d - 1].mean(),
        "unpenalised: CV D²": cv_d2[d - 1].mean(),
        "lasso: CV D²": np.mean(1 - lasso.cv_deviance_[:, best] / null_per_fold),
        "lasso: non-zero": int(np.count_nonzero(lasso.coef_)),
        "lasso: alpha_": lasso.alpha_,
        "unpenalised: test D²": plain_pipe.score(X_test, y_test),
        "lasso: test D²": lasso_pipe.score(X_test, y_test),
    }
degree_table = pd.DataFrame(degree_rows).T.rename_axis("degree")
degree_table.round(4)

# %% [markdown]
# {numref}`fig-degree` shows both. Left: the number of columns against the degree, on a log scale, with the
# number of training rows for reference, and the number of coefficients the
# lasso keeps. Right: D² against the degree — on the training folds and on
# the held-out folds for the unpenalised fit, and cross-validated for the
# lasso. Held-out D² below zero means the model's held-out deviance is larger
# than that of one constant probability for every e-mail, the held-out fold's
# own share of spam (glmlib's `score` compares with the mean of the data it
# scores, which no model fitted on the training folds knows exactly).

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
all_degrees = np.array(list(n_poly))
axes[0].plot(all_degrees, list(n_poly.values()), "o-", label="all monomials")
axes[0].plot(all_degrees, list(n_inter.values()), "s-", label="interactions only")
axes[0].plot(degrees, degree_table["lasso: non-zero"], "^-", label="kept by the lasso (GLMCV)")
axes[0].axhline(len(y_train), color="k", ls=":", label=f"training rows ({len(y_train)})")
axes[0].set(
    yscale="log",
    xlabel="polynomial degree d",
    ylabel="number of columns (log scale)",
    title="Dimension of the design, 6 inputs",
)
axes[0].legend(fontsize=8)
floor = -0.3  # D² below this is drawn on the floor, marked ▼ and labelled
axes[1].plot(degrees, degree_table["unpenalised: train D²"], "o-", label="unpenalised, training")
plot_floored(
    axes[1],
    degrees,
    degree_table["unpenalised: CV D²"],
    floor,
    "o--",
    "C1",
    "unpenalised, held-out",
)
axes[1].plot(degrees, degree_table["lasso: CV D²"], "^-", color="C2", label="lasso, held-out")
axes[1].axhline(0, color="k", lw=0.8)
axes[1].set(
    ylim=(floor - 0.05, 0.75),
    xticks=degrees,
    xlabel="polynomial degree d",
    ylabel="D² (fraction of deviance explained)",
    title=f"Validation curve, {n_folds}-fold CV (▼: below {floor})",
)
axes[1].legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-degree", fig)

# %% [markdown]
# ```{glue:figure} fig-degree
# :name: fig-degree
#
# spam7, log features and every monomial up to degree $d$. Left: number of
# columns (log scale) against $d$, for all monomials and interactions only,
# with the number of training rows and the number of coefficients the lasso
# keeps. Right: D² against $d$, on the training folds and held-out folds for
# the unpenalised fit and cross-validated for the lasso; values below the floor
# are drawn on it (▼) with their value.
# ```

# %%
unpen_best = int(degree_table["unpenalised: CV D²"].idxmax())
lasso_best = int(degree_table["lasso: CV D²"].idxmax())
worst = int(degree_table["unpenalised: CV D²"].idxmin())
print(
    f"Unpenalised: best CV D² {degree_table.loc[unpen_best, 'unpenalised: CV D²']:.3f} at degree "
    f"{unpen_best}; at degree {worst} it is {degree_table.loc[worst, 'unpenalised: CV D²']:.3f} "
    f"while the training D² is {degree_table.loc[worst, 'unpenalised: train D²']:.3f}."
)
print(
    f"Lasso: best CV D² {degree_table.loc[lasso_best, 'lasso: CV D²']:.3f} at degree {lasso_best}, "
    f"keeping {degree_table.loc[lasso_best, 'lasso: non-zero']:.0f} of "
    f"{degree_table.loc[lasso_best, 'columns']:.0f} columns; test D² "
    f"{degree_table.loc[lasso_best, 'lasso: test D²']:.3f} (degree 1: "
    f"{degree_table.loc[1, 'unpenalised: test D²']:.3f})."
)

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
held_out = degree_table["unpenalised: CV D²"]
lasso_cv = degree_table["lasso: CV D²"]
top = degrees.max()
lasso_steps = np.diff(lasso_cv.to_numpy())
lasso_shape = (
    "rises at every step"
    if (lasso_steps > 0).all()
    else f"moves by at most {np.abs(lasso_steps).max():.3f} from one degree to the next"
)
say(
    "The training D² of the unpenalised fit can only rise with the degree: each degree's design "
    f"contains the previous one. Its held-out D² is highest at degree {unpen_best} "
    f"({held_out[unpen_best]:.3f}) and lowest at degree {worst} ({held_out[worst]:.3f}, "
    f"{degree_table.loc[worst, 'unpenalised: train D²'] - held_out[worst]:.3f} below the "
    f"training D²{'; below zero' if held_out[worst] < 0 else ''}): past the best degree the fit "
    "memorises, and the deviance punishes predictions made with near certainty that turn out "
    "wrong, which a fit that separates its training data makes many of. glmlib flagged "
    f"{warning_counts(sweep_messages)['separation']} separations in the sweep. The lasso's "
    f"held-out D² {lasso_shape}, and at degree {top} it keeps "
    f"{degree_table.loc[top, 'lasso: non-zero']:.0f} of {degree_table.loc[top, 'columns']:.0f} "
    f"columns ({degree_table.loc[top, 'lasso: non-zero'] / degree_table.loc[top, 'columns']:.0%})."
)

# %% [markdown]
# ### Learning curves
#
# A validation curve fixes the data and varies the model; a **learning
# curve** fixes the model and varies the amount of data. In
# {numref}`fig-learning`, for the
# linear model (degree 1), the degree-`curve_degree` polynomial without a
# penalty, and the same polynomial with the lasso penalty `GLMCV` chose for
# it above (fixed here, so each point is a single fit), training and
# held-out D² as the training folds grow.

# %%
lasso_alpha = degree_table.loc[curve_degree, "lasso: alpha_"]
learners = {
    "degree 1, unpenalised": polynomial_model(1, unpenalised()),
    f"degree {curve_degree}, unpenalised": polynomial_model(curve_degree, unpenalised()),
    f"degree {curve_degree}, lasso (alpha = {lasso_alpha:.1e})": polynomial_model(
        curve_degree, glmlib.GLM(family="binomial", alpha=lasso_alpha, l1_ratio=1.0, device=device)
    ),
}
curves, t0 = {}, time.perf_counter()
for name, model in learners.items():
    (sizes, train_scores, test_scores), caught = quietly(
        learning_curve,
        model,
        X_train,
        y_train,
        train_sizes=np.linspace(0.15, 1.0, n_train_sizes),
        cv=spam_folds,
    )
    curves[name] = (sizes, train_scores.mean(axis=1), test_scores.mean(axis=1))
    print(f"{name}: glmlib warnings {warning_counts(caught)}")
print(f"learning curves: {time.perf_counter() - t0:.1f} s")

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(11, 4.5))
for k, (name, (sizes, train_mean, test_mean)) in enumerate(curves.items()):
    ax.plot(sizes, train_mean, "o-", color=f"C{k}", label=f"{name}: training folds")
    plot_floored(ax, sizes, test_mean, floor, "s--", f"C{k}", f"{name}: held-out")
ax.axhline(0, color="k", lw=0.8)
ax.set(
    ylim=(floor - 0.05, 0.8),
    xlabel="number of training e-mails",
    ylabel="D² (fraction of deviance explained)",
    title=f"Learning curves, {n_folds}-fold CV on the training set (▼: below {floor})",
)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
glue_figure("fig-learning", fig)

# %% [markdown]
# ```{glue:figure} fig-learning
# :name: fig-learning
#
# spam7 learning curves: D² on the training folds (solid) and held-out folds
# (dashed) against the number of training e-mails, for the linear model, the
# unpenalised polynomial and the same polynomial with a fixed lasso penalty;
# held-out values below the floor are drawn on it (▼) with their value.
# ```

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
names = list(curves)
gaps = {name: curves[name][1] - curves[name][2] for name in names}  # training − held-out D²
final = {name: curves[name][2][-1] for name in names}
say(
    f"In the learning curves, the gap between training and held-out D² of the unpenalised "
    f"polynomial is {gaps[names[1]][0]:.3f} at {curves[names[1]][0][0]} training e-mails and "
    f"{gaps[names[1]][-1]:.3f} at {curves[names[1]][0][-1]}; the linear model's gap is "
    f"{gaps[names[0]][0]:.3f} and {gaps[names[0]][-1]:.3f}, since it has little to memorise; "
    f"the penalised polynomial's is {gaps[names[2]][0]:.3f} and {gaps[names[2]][-1]:.3f} (its "
    f"penalty was tuned for the full training set). At the full size the best held-out D² is "
    f"that of the {max(final, key=final.get)} model ({max(final.values()):.3f})."
)

# %% [markdown]
# ## Market direction: when there is nothing to engineer
#
# The same tools meet a harder question on the S&P 500 data: can the
# direction of today's return be predicted from the previous five returns
# and the trading volume? ISLR's chapter on classification fits logistic regressions to the
# daily Smarket data, training on 2001–2004 and testing on 2005, and to the
# Weekly data, training on 1990–2008 and testing on 2009–2010. If linear
# effects of past returns are too crude, perhaps their interactions — "a
# large fall after a large rise" — carry the signal?
#
# First the raw material. Under weak-form market efficiency, past returns
# carry no usable information about future ones, and the first thing that
# would show is their correlation with today's return
# ({numref}`fig-autocorr`).

# %% tags=["remove-output"]
lags = ["Lag1", "Lag2", "Lag3", "Lag4", "Lag5"]
autocorr = pd.DataFrame(
    {
        name: [df["Today"].corr(df[lag]) for lag in lags]
        for name, df in {"Smarket (daily)": smarket, "Weekly": weekly}.items()
    },
    index=range(1, 6),
).rename_axis("lag")
fig, ax = plt.subplots(figsize=(7, 3.8))
for k, (name, df) in enumerate({"Smarket (daily)": smarket, "Weekly": weekly}.items()):
    ax.bar(autocorr.index + 0.2 * (2 * k - 1), autocorr[name], width=0.4, color=f"C{k}", label=name)
    ax.axhline(1.96 / np.sqrt(len(df)), color=f"C{k}", ls=":", lw=1)
    ax.axhline(-1.96 / np.sqrt(len(df)), color=f"C{k}", ls=":", lw=1)
ax.axhline(0, color="k", lw=0.8)
ax.set(
    xlabel="lag (trading days or weeks)",
    ylabel="correlation of today's return with the lag",
    title="Autocorrelation of returns (dotted: ±1.96/√n)",
)
ax.legend(fontsize=8)
glue_figure("fig-autocorr", fig)

# %% [markdown]
# ```{glue:figure} fig-autocorr
# :name: fig-autocorr
#
# Correlation of today's S&P 500 return with each of the five previous returns,
# daily (Smarket) and weekly (Weekly); dotted lines at $\pm 1.96/\sqrt{n}$, the
# band in which chance alone puts 95% of the correlations.
# ```

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
strongest = autocorr.abs().stack().idxmax()
outside_text = []
for name, df in {"Smarket (daily)": smarket, "Weekly": weekly}.items():
    outside = autocorr.index[autocorr[name].abs() > 1.96 / np.sqrt(len(df))].tolist()
    where = ", ".join(f"{lag} ({autocorr.loc[lag, name]:+.3f})" for lag in outside)
    outside_text.append(
        f"for {name} {'lags ' + where + ' lie outside it' if outside else 'all lie inside it'}"
    )
say(
    f"The correlations are tiny. Against the band where chance alone puts 95% of them, "
    f"{'; '.join(outside_text)}. The largest in absolute value, {autocorr.loc[strongest]:+.3f} "
    f"({strongest[1]}, lag {strongest[0]}), explains {autocorr.loc[strongest] ** 2:.2%} of the "
    "variance of returns in a linear regression. That is the scale of signal any feature "
    "engineering has to work with."
)

# %% [markdown]
# ### A time-ordered hold-out
#
# Returns are a time series, so the test data must come *after* the
# training data: a random split would let the model train on days that
# follow the ones it is tested on. We compare, on ISLR's splits:
#
# - **always the training majority** — the intercept-only model, which
#   predicts the share of up-days in the training years for every day
#   (its accuracy is the test share of whichever direction was more common
#   in training);
# - **Lag1 + Lag2**, the small model ISLR settles on;
# - `5 lags + Volume`, main effects only;
# - **+ pairwise interactions** of those six (`PolynomialFeatures(interaction_only=True)`, {glue:text}`n_market_columns:d` columns);
# - the same {glue:text}`n_market_columns:d` columns with a **lasso penalty chosen by `GLMCV`** on the training years.

# %%
predictors = [*lags, "Volume"]


def market_models():
    """The candidate models, by name: (input columns, unfitted pipeline)."""

    def logistic(*steps, estimator=None):
        estimator = estimator or glmlib.GLM(family="binomial", device=device)
        return make_pipeline(*steps, StandardScaler(), estimator)

    def pairs():
        return PolynomialFeatures(2, interaction_only=True, include_bias=False)

    # the penalty is chosen on time-ordered folds too: each fold validates on later periods
    time_folds = TimeSeriesSplit(n_splits=n_folds)
    lasso = glmlib.GLMCV(family="binomial", n_alphas=n_alphas, cv=time_folds, device=device)
    return {
        "Lag1 + Lag2": (["Lag1", "Lag2"], logistic()),
        "5 lags + Volume": (predictors, logistic()),
        "+ pairwise interactions": (predictors, logistic(pairs())),
        "+ interactions, lasso": (predictors, logistic(pairs(), estimator=lasso)),
    }


def market_predictions(train, test):
    """Test-set probabilities of an up-move, and the lasso's number of non-zero coefficients."""
    probs = {"training majority": np.full(len(test), train["up"].mean())}
    for name, (columns, model) in market_models().items():
        quietly(model.fit, train[columns], train["up"])
        probs[name] = np.asarray(model.predict(test[columns]))
    return probs, int(np.count_nonzero(model[-1].coef_))


# %%
market_splits = {
    f"Smarket, test {smarket_test_year}": (
        smarket[smarket["Year"] < smarket_test_year],
        smarket[smarket["Year"] == smarket_test_year],
    ),
    f"Weekly, test {weekly_test_from}-{weekly['Year'].max()}": (
        weekly[weekly["Year"] < weekly_test_from],
        weekly[weekly["Year"] >= weekly_test_from],
    ),
}
n_market_columns = (
    PolynomialFeatures(2, interaction_only=True, include_bias=False)
    .fit(smarket[predictors])
    .n_output_features_
)
glue("n_market_columns", int(n_market_columns))
holdout, kept_by_split, n_test_periods = {}, {}, {}
for split, (train, test) in market_splits.items():
    probs, kept = market_predictions(train, test)
    kept_by_split[split], n_test_periods[split] = kept, len(test)
    print(
        f"{split}: {len(train)} training and {len(test)} test periods; up-share "
        f"{train['up'].mean():.3f} (train), {test['up'].mean():.3f} (test); the lasso keeps {kept} "
        f"of {n_market_columns} columns."
    )
    for name, p in probs.items():
        metrics = binary_metrics(test["up"], p)
        se = np.sqrt(metrics["accuracy"] * (1 - metrics["accuracy"]) / len(test))
        holdout[(split, name)] = {**metrics, "accuracy ± 1.96 SE": 1.96 * se}
holdout = pd.DataFrame(holdout).T
smarket_split, weekly_split = market_splits
glue("n_test_days", int(n_test_periods[smarket_split]))
glue("n_test_weeks", int(n_test_periods[weekly_split]))
glue("halfwidth_min", float(100 * holdout["accuracy ± 1.96 SE"].min()))
glue("halfwidth_max", float(100 * holdout["accuracy ± 1.96 SE"].max()))
holdout.round(3)

# %% [markdown]
# {numref}`fig-holdout` puts the test accuracies next to the two reference
# lines that matter: a coin (50%) and the training majority. The error bars
# are $\pm 1.96$ binomial standard errors: with
# {glue:text}`n_test_days:d` test days, or {glue:text}`n_test_weeks:d` test
# weeks, accuracy is only known to within
# $\pm${glue:text}`halfwidth_min:.1f` to $\pm${glue:text}`halfwidth_max:.1f`
# percentage points.

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharex=True)
for ax, split in zip(axes, market_splits, strict=True):
    rows = holdout.loc[split]
    y_pos = np.arange(len(rows))
    ax.errorbar(rows["accuracy"], y_pos, xerr=rows["accuracy ± 1.96 SE"], fmt="o", capsize=3)
    ax.axvline(0.5, color="k", lw=0.8, label="coin (50%)")
    ax.axvline(
        rows.loc["training majority", "accuracy"],
        color="C3",
        ls="--",
        lw=1,
        label="training majority",
    )
    ax.set_yticks(y_pos, rows.index)
    ax.invert_yaxis()
    ax.set(xlabel="test accuracy (share of directions called right)", title=split)
axes[0].legend(fontsize=8, loc="lower left")
fig.tight_layout()
glue_figure("fig-holdout", fig)

# %% [markdown]
# ```{glue:figure} fig-holdout
# :name: fig-holdout
#
# Market direction on ISLR's time-ordered hold-outs (left: Smarket, right:
# Weekly): test accuracy of each model with $\pm 1.96$ binomial standard errors,
# against a coin (black) and the training majority (red, dashed).
# ```

# %% [markdown]
# One test year is a small sample. A **forward-chaining** evaluation uses
# every year that has enough history before it: for each test year, fit on
# all earlier years, predict that year, and pool the predictions — every
# prediction is still made strictly out of time. Smarket gives the test
# years 2002–2005; Weekly gives the years from `weekly_chain_from`
# ({glue:text}`weekly_chain_from:d` in this run) to 2010. The score, in
# {numref}`fig-chain`, is the pooled log-loss minus that of the
# training majority fitted on the same window (below zero: the features
# help), with a bootstrap interval over the pooled test periods.


# %%
def forward_chaining(df, first_test_year):
    """Pooled out-of-time probabilities for each model over test years >= first_test_year."""
    pooled, outcomes = {}, []
    for year in range(first_test_year, df["Year"].max() + 1):
        train, test = df[df["Year"] < year], df[df["Year"] == year]
        probs, _ = market_predictions(train, test)
        for name, p in probs.items():
            pooled.setdefault(name, []).append(p)
        outcomes.append(test["up"].to_numpy(dtype=float))
    return {name: np.concatenate(ps) for name, ps in pooled.items()}, np.concatenate(outcomes)


glue("weekly_chain_from", int(weekly_chain_from))
t0 = time.perf_counter()
chained = {
    f"Smarket, 2002-{smarket['Year'].max()}": forward_chaining(smarket, 2002),
    f"Weekly, {weekly_chain_from}-{weekly['Year'].max()}": forward_chaining(
        weekly, weekly_chain_from
    ),
}
chain_rows = {}
for split, (probs, y) in chained.items():
    base = unit_log_loss(y, probs["training majority"])
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    for name, p in probs.items():
        diff = unit_log_loss(y, p) - base
        boot = diff[idx].mean(axis=1)
        chain_rows[(split, name)] = {
            "test periods": len(y),
            **binary_metrics(y, p),
            "Δ log-loss": diff.mean(),
            "2.5%": np.quantile(boot, 0.025),
            "97.5%": np.quantile(boot, 0.975),
        }
chain_table = pd.DataFrame(chain_rows).T.astype({"test periods": int})
print(f"forward chaining: {time.perf_counter() - t0:.1f} s")
chain_table.round(4)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, split in zip(axes, chained, strict=True):
    rows = chain_table.loc[split].drop(index="training majority")
    y_pos = np.arange(len(rows))
    err = [rows["Δ log-loss"] - rows["2.5%"], rows["97.5%"] - rows["Δ log-loss"]]
    ax.errorbar(rows["Δ log-loss"], y_pos, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="k", lw=0.8, label="training majority")
    ax.set_yticks(y_pos, rows.index)
    ax.invert_yaxis()
    ax.set(xlabel="log-loss − training-majority log-loss (nats per period)", title=split)
axes[0].legend(fontsize=8)
fig.suptitle("Forward chaining: out-of-time log-loss against the training majority, 95% intervals")
fig.tight_layout()
glue_figure("fig-chain", fig)

# %% [markdown]
# ```{glue:figure} fig-chain
# :name: fig-chain
#
# Forward chaining (left: Smarket, right: Weekly): each model's pooled
# out-of-time log-loss minus that of the training majority fitted on the same
# years (nats per period; left of zero is better), with 95% bootstrap intervals
# over the pooled test periods.
# ```

# %%
verdict = chain_table["Δ log-loss"].drop(index="training majority", level=1)
beats = verdict[chain_table.loc[verdict.index, "97.5%"] < 0]
for split in chained:
    inter = chain_table.loc[(split, "+ pairwise interactions")]
    main = chain_table.loc[(split, "5 lags + Volume")]
    print(
        f"{split}: interactions {inter['Δ log-loss']:+.4f} nats per period against the training "
        f"majority (95% interval {inter['2.5%']:+.4f} to {inter['97.5%']:+.4f}); main effects "
        f"{main['Δ log-loss']:+.4f}; pooled accuracy {inter['accuracy']:.1%} and "
        f"{main['accuracy']:.1%}."
    )
print(
    f"Models whose whole 95% interval lies below zero (better than the majority): "
    f"{', '.join(f'{a}: {b}' for a, b in beats.index) or 'none'}."
)

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
inter_rows = chain_table.xs("+ pairwise interactions", level=1)
inter_worse = inter_rows[inter_rows["2.5%"] > 0].index.tolist()
inter_better = inter_rows[inter_rows["97.5%"] < 0].index.tolist()
lasso_rows = chain_table.xs("+ interactions, lasso", level=1)
say(
    "Pooled over the years, the interactions' log-loss minus the training majority's is "
    + "; ".join(
        f"{row['Δ log-loss']:+.4f} for {split} (95% interval {row['2.5%']:+.4f} to "
        f"{row['97.5%']:+.4f})"
        for split, row in inter_rows.iterrows()
    )
    + f": clearly worse than the majority on {len(inter_worse)} of {len(inter_rows)} series, "
    f"clearly better on {len(inter_better)}. Models whose whole interval lies below zero: "
    f"{', '.join(f'{b} ({a})' for a, b in beats.index) or 'none'}. The pooled AUC of the "
    "training majority differs from $0.5$ only because its constant prediction changes from "
    "one training window to the next."
)

# %% [markdown]
# Why does feature engineering fail here when it worked on spam? Because
# there is (almost) nothing to model. If past returns predicted the sign of
# the next one, traders would act on it until they no longer did — the
# weak form of the efficient-market hypothesis. The autocorrelations of
# {numref}`fig-autocorr` are small, and the day-to-day noise in returns
# is large next to any drift. Adding interactions then multiplies the
# number of coefficients that can fit noise: {glue:text}`n_market_columns:d`
# columns instead of {glue:text}`n_market_main:d`, each estimated from the
# training periods' nearly unpredictable outcomes.

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
glue("n_market_main", len(predictors))
kept_text = "; ".join(f"{kept} on {split}" for split, kept in kept_by_split.items())
lasso_gap = (
    lasso_rows["log-loss"] - chain_table.xs("training majority", level=1)["log-loss"]
).abs()
say(
    "The lasso limits the damage by shrinking those coefficients towards zero. On ISLR's "
    f"hold-outs it kept, of {n_market_columns} columns: {kept_text}; pooled over the forward "
    "chain, its log-loss differs from the training majority's by at most "
    f"{lasso_gap.max():.1e} nats per period"
    + (
        " — it *is* the training majority. Honest reporting means saying that the best model "
        "on this data predicts the same direction every day."
        if lasso_gap.max() < 1e-3
        else "."
    )
)

# %% [markdown]
# ## Summary

# %% tags=["remove-input"] mystnb={"markdown_format": "myst"}
clear_steps = step_table.index[step_table["interval below 0"]]
say(
    "- **Use the libraries.** `PolynomialFeatures`, `SplineTransformer`, `OneHotEncoder`, "
    "`Binarizer` and `FunctionTransformer` in a `ColumnTransformer` and `Pipeline` give glmlib a "
    "design matrix that cross-validation refits fold by fold; glmlib's `formula=` gives the same "
    "designs in one line (`wage ~ age * year + C(education)`, `bs(age, df=5)`); the one-hot "
    f"model agreed with the scikit-learn pipeline to {same:.1e} (USD 1,000), and a DataFrame with "
    f"education as a pandas categorical, passed as it is, to {same_direct:.1e}.\n"
    f"- **Where the signal has shape, features pay.** A curved age effect changed the "
    f"cross-validated $R^2$ for wages by {z_gain['age quadratic']:+.1f} standard errors, the "
    f"age × year interaction by {z_gain['formula: age * year + C(education)']:+.1f}; on spam "
    f"e-mail, {len(clear_steps)} of the {len(step_table)} steps of the design ladder (unpenalised "
    "and lasso) lowered the test log-loss by more than test-set noise: "
    + ", ".join(f"{step} ({fit})" for step, fit in clear_steps)
    + f". The design chosen by cross-validation, {best_key[0]} ({best_key[1]}), has a test "
    f"log-loss {-spam_diff.loc[best_key, 'Δ log-loss']:.4f} nats per e-mail below the raw "
    f"features' (95% interval {-spam_diff.loc[best_key, '97.5%']:.4f} to "
    f"{-spam_diff.loc[best_key, '2.5%']:.4f}).\n"
    "- **Degree is a dial with a cliff.** The number of polynomial columns grows "
    f"combinatorially with the degree; unpenalised fits reach their best held-out D² at degree "
    f"{unpen_best} and fall to {held_out[worst]:.3f} at degree {worst}, while a lasso penalty "
    f"chosen by `GLMCV` keeps {degree_table.loc[top, 'lasso: non-zero']:.0f} of "
    f"{degree_table.loc[top, 'columns']:.0f} columns at degree {top} with a held-out D² of "
    f"{lasso_cv[top]:.3f}.\n"
    "- **No features create signal that is not there.** On stock-market direction, out of time, "
    f"the interactions of past returns were clearly worse than the intercept-only model on "
    f"{len(inter_worse)} of {len(inter_rows)} series and clearly better on {len(inter_better)}; "
    f"the penalised model's log-loss stayed within {lasso_gap.max():.1e} nats per period of it."
)

# %% [markdown]
# **Notes on glmlib** (worked around here, not hidden):
#
# - With `l1_ratio=0` (ridge), GLMCV's default grid ends at
#   $10^{-3}\,\alpha_{\max}$ with $\alpha_{\max}$ sized as for
#   `l1_ratio = 0.001`, which is too strong for standardised designs like
#   these: the chosen `alpha_` is then the smallest on the grid, and nothing
#   warns about it. This chapter uses the lasso, whose grid is fine here;
#   for ridge, pass `alphas=` explicitly.
# - glmlib warns "X is rank deficient" also for penalised fits, whose
#   solution is unique; the warning counts in this chapter include those.
#
# **Further reading.** The market-direction exercise and the polynomial and
# spline features follow James et al. (2013), its chapters on
# classification, resampling and non-linear models; basis expansions and
# their penalties are in Hastie, Tibshirani and Friedman (2009); the lasso
# path that `GLMCV` computes is glmnet's {cite}`friedman2010`; the
# efficient-market hypothesis is surveyed by Fama (1970); the spam7 data are
# from Maindonald and Braun (2010). Full entries are on the
# [references](../book/references.md) page.

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(["formulaic", "torch", "matplotlib"], device=device, seed=seed, quick=quick)
print(f"chapter executed in {time.perf_counter() - start_time:.1f} s")
