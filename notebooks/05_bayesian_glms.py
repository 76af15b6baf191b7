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
# # Bayesian GLMs
#
# A penalised GLM returns one coefficient vector. A clinician who reads that
# higher plasma glucose multiplies the odds of diabetes by some factor will
# ask *how sure are we?*, and may already know something: that a single risk
# factor rarely multiplies the odds by 20. Bayesian inference answers both at once
# {cite}`gelman2013`: a **prior** $p(\beta)$ encodes what is known before the
# data, the likelihood of the GLM says what the data say, and the
# **posterior**
#
# $$
# p(\beta \mid y) \propto p(y \mid \beta)\, p(\beta)
# $$
#
# is what is known after. This chapter uses `glmlib.bayes.BayesianGLM`, which
# builds a PyMC model for any glmlib family and link and samples it with NUTS
# (the No-U-Turn sampler), or approximates the posterior by a Gaussian around
# its mode (the Laplace approximation, computed by the core engine).
#
# The plan: the coin toss, where every quantity has a closed form; priors as
# domain knowledge on a clinical data set, and how much the conclusions move
# with the prior; credible intervals next to the core engine's Wald
# intervals; posterior predictive checks; when the Laplace approximation is
# good enough; and what the sampling costs. Every number in the text is
# computed by the chapter, so it stays true under another seed.

# %% [markdown]
# ## Parameters
#
# `draws` and `tune` are the kept and warm-up NUTS iterations per chain.
# `quick=True` (the book's CI) uses fewer draws, fewer prior scales and
# smaller timing problems.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in seconds (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
draws = 1000  # NUTS draws kept per chain
tune = 1000  # NUTS warm-up iterations per chain
chains = 2  # chains (one per core on the book's 2-core build machine)
prior_scales = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]  # prior sds in the sensitivity study
laplace_sizes = [20, 40, 80, 200]  # training-set sizes for Laplace vs NUTS
sampler = "auto"  # NUTS implementation of the main fits: "auto" (nutpie if installed), "pymc"
cost_sizes = [2000, 20000]  # rows of the synthetic timing problems (p = 20)

# %%
# A bad parameter (say papermill -p n_folds 0, or -p device tpu) stops the chapter here,
# with a message that names it; seed, quick and device are checked in every chapter.
from glmlib.book import Choice, Int, ListOf, Real, check_parameters

check_parameters(
    globals(),
    draws=Int(1),
    tune=Int(0),
    chains=Int(1),
    prior_scales=ListOf(Real(0)),
    laplace_sizes=ListOf(Int(1, 200)),
    sampler=Choice("auto", "pymc", "nutpie", "numpyro", "blackjax"),
    cost_sizes=ListOf(Int(1)),
)

# %%
import logging
import textwrap
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from scipy import optimize, special, stats
from sklearn.exceptions import ConvergenceWarning

import glmlib
from glmlib.bayes import BayesianGLM, Logistic, Normal
from glmlib.book import glue, glue_figure
from glmlib.datasets import load

start_time = time.perf_counter()
if quick:
    draws, tune = min(draws, 400), min(tune, 400)
    prior_scales = [0.1, 0.5, 10.0]
    laplace_sizes = [20, 200]
    cost_sizes = [2000]
    sampler = "pymc"  # compiles fastest for small models (see "What sampling costs")
device = glmlib.resolve_device(device)  # "auto": CUDA when PyTorch sees a GPU

# PyMC reports progress through the logging module (to stderr), and PyTensor warns once
# that it could not link its C code to a BLAS library (it then calls SciPy's BLAS from
# Python). Both are about the machine, not the results, so they are silenced here;
# convergence problems are not: every fit below goes through `sample()`, which prints
# its diagnostics.
for name in ("pymc", "pytensor", "nutpie"):
    logging.getLogger(name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")


def say(sentence):
    """Print a sentence built from computed numbers, wrapped to the page width."""
    print(textwrap.fill(sentence, width=88))


def sample(model, X, y, **kwargs):
    """Fit with NUTS; print (rather than warn) any failed convergence check.

    progressbar=False also silences PyMC's log; PyMC's own sampler runs its chains in one
    process (cores=1), which for these small models is faster than starting workers.
    """
    options = dict(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False)
    options["sampler"] = kwargs.pop("sampler", sampler)
    if options["sampler"] == "pymc":
        options["cores"] = kwargs.pop("cores", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y, **{**options, **kwargs})
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"convergence check failed: {w.message}")
    return model


print(f"device={device}, seed={seed}, quick={quick}, draws={draws}, tune={tune}, chains={chains}")

# %% [markdown]
# ## The coin toss: MLE, MAP and posterior mean
#
# A coin lands heads $k$ times in $n$ tosses. The maximum-likelihood estimate
# of $p = P(\text{heads})$ is $k/n$. With a uniform prior on $p$ the posterior
# is $\text{Beta}(k + 1, n - k + 1)$: its mode (the MAP estimate) is again
# $k/n$, because a flat prior does not move the maximum, but its mean is
# Laplace's rule of succession, $(k + 1)/(n + 2)$, pulled towards 1/2.
#
# The same model is an intercept-only logistic regression,
# $p = 1/(1 + e^{-\beta_0})$, and a uniform prior on $p$ is a standard
# logistic prior on $\beta_0$. So `BayesianGLM` with `Logistic(0, 1)` on the
# intercept must reproduce the Beta posterior. (glmlib needs at least one
# column, so the intercept is a column of ones named `logit_p`.)
# {numref}`fig-coin` draws the posterior, and both estimates as the tosses
# accumulate.

# %%
rng = np.random.default_rng(seed)
p_true, n_toss = 0.3, 12
tosses = rng.binomial(1, p_true, size=n_toss).astype(float)
k = int(tosses.sum())
mle = k / n_toss
posterior = stats.beta(k + 1, n_toss - k + 1)
map_p = optimize.minimize_scalar(lambda p: -posterior.logpdf(p), bounds=(1e-9, 1 - 1e-9)).x
mean_p = (k + 1) / (n_toss + 2)

coin = pd.DataFrame({"logit_p": np.ones(n_toss)})
coin_nuts = sample(
    BayesianGLM("binomial", priors={"logit_p": Logistic(0, 1)}, fit_intercept=False),
    coin,
    tosses,
    sampler="pymc",
)
p_draws = special.expit(coin_nuts.idata_.posterior["coef"].to_numpy().ravel())
coin_laplace = BayesianGLM(
    "binomial", priors={"logit_p": Logistic(0, 1)}, fit_intercept=False, method="laplace"
).fit(coin, tosses)
map_logit = special.expit(coin_laplace.coef_[0])
pd.DataFrame(
    {
        "estimate of p": [mle, map_p, mean_p, p_draws.mean(), map_logit],
        "formula": ["k/n", "k/n", "(k+1)/(n+2)", "(k+1)/(n+2)", "(k+1)/(n+2)"],
    },
    index=[
        "MLE",
        "MAP, uniform prior on p (numerical)",
        "posterior mean (closed form)",
        "posterior mean (NUTS, BayesianGLM)",
        "MAP on the logit scale (Laplace, BayesianGLM)",
    ],
).round(4)

# %%
say(
    f"{k} heads in {n_toss} tosses: the MLE and the MAP under a uniform prior are both "
    f"{mle:.4f} (numerically {map_p:.4f}); the posterior mean is {mean_p:.4f}, and NUTS "
    f"estimates it as {p_draws.mean():.4f} from {p_draws.size} draws (Monte Carlo sd "
    f"{p_draws.std() / np.sqrt(coin_nuts.convergence_['min_ess_bulk']):.4f}). The MAP "
    f"depends on the parametrisation: the mode of the same posterior on the logit scale "
    f"maps back to p = {map_logit:.4f} = (k+1)/(n+2), not k/n, because the Jacobian "
    f"p(1-p) of the logit reshapes the density."
)

# %% tags=["remove-output"]
grid = np.linspace(0.0005, 0.9995, 500)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
ax.hist(p_draws, bins=40, density=True, color="0.8", label="NUTS draws (BayesianGLM)")
ax.plot(grid, posterior.pdf(grid), color="C0", label=f"Beta({k + 1}, {n_toss - k + 1})")
for x, label, color in [(mle, "MLE = MAP = k/n", "C3"), (mean_p, "posterior mean", "C2")]:
    ax.axvline(x, color=color, ls="--", label=f"{label} = {x:.3f}")
ax.set_xlabel("probability of heads $p$")
ax.set_ylabel("posterior density")
ax.set_title(f"Posterior after {k} heads in {n_toss} tosses")
ax.legend(fontsize=8)

long_run = rng.binomial(1, p_true, size=400)
n_seq = np.arange(1, long_run.size + 1)
k_seq = np.cumsum(long_run)
ax = axes[1]
ax.plot(n_seq, k_seq / n_seq, color="C3", label="MLE k/n")
ax.plot(n_seq, (k_seq + 1) / (n_seq + 2), color="C2", label="posterior mean (k+1)/(n+2)")
ax.axhline(p_true, color="0.3", lw=0.8, label=f"true p = {p_true}")
ax.set_xscale("log")
ax.set_xlabel("number of tosses $n$ (log scale)")
ax.set_ylabel("estimate of $p$")
ax.set_title("Both estimates converge; the prior matters only early")
ax.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-coin", fig)

# %% [markdown]
# ```{glue:figure} fig-coin
# :name: fig-coin
#
# The coin toss. Left: the posterior of $p$ after $k$ heads in $n$ tosses, NUTS
# draws of `BayesianGLM` (histogram) over the closed-form Beta posterior, with the
# MLE (= MAP) and the posterior mean. Right: the MLE $k/n$ and the posterior mean
# $(k+1)/(n+2)$ as tosses accumulate (log scale), against the true $p$.
# ```

# %%
gap = np.abs(k_seq / n_seq - (k_seq + 1) / (n_seq + 2))
say(
    f"The gap between the two estimates is |k/n - (k+1)/(n+2)| = |n - 2k| / (n(n+2)), at "
    f"most 1/(n+2): {gap[9]:.3f} after 10 tosses, {gap[99]:.4f} after 100 and "
    f"{gap[-1]:.5f} after {n_seq[-1]}. The prior is worth two tosses, one head and one tail."
)

# %% [markdown]
# ## Priors as domain knowledge: diabetes in Pima women
#
# The Pima data (MASS, shipped with glmlib) record diabetes by WHO criteria in
# {glue:text}`n_pima:d` women of Pima heritage with seven clinical measurements.
# Ripley's split uses {glue:text}`n_train:d` women for training and
# {glue:text}`n_test:d` for testing; with {glue:text}`n_train:d` rows and eight
# coefficients, the prior is not negligible. The features are put in
# clinical units of about one population standard deviation, so that each
# coefficient is the log odds ratio for a change a clinician would recognise
# and the same prior is sensible for all of them.

# %%
pima = load("pima")
units = {
    "npreg": ("npreg", 3, "per 3 pregnancies"),
    "glu": ("glu", 30, "per 30 mg/dL plasma glucose"),
    "bp": ("bp", 10, "per 10 mm Hg diastolic pressure"),
    "skin": ("skin", 10, "per 10 mm triceps skin fold"),
    "bmi": ("bmi", 5, "per 5 kg/m^2 body-mass index"),
    "ped": ("ped", 0.3, "per 0.3 of the diabetes pedigree function"),
    "age": ("age", 10, "per 10 years of age"),
}
X_all = pd.DataFrame({k: pima[col] / scale for k, (col, scale, _) in units.items()})
y_all = pima["diabetes"].to_numpy(dtype=float)
train = (pima["split"] == "train").to_numpy()
X_train, y_train = X_all[train], y_all[train]
X_test, y_test = X_all[~train], y_all[~train]
glue("n_pima", len(pima))
glue("n_train", int(train.sum()))
glue("n_test", int((~train).sum()))
key = ["glu", "bmi", "ped", "age"]
say(
    f"{train.sum()} training and {(~train).sum()} test women; diabetes prevalence "
    f"{y_train.mean():.3f} in training and {y_test.mean():.3f} in testing. Standard "
    "deviations of the features in their units: "
    + ", ".join(f"{c} {X_all[c].std():.2f}" for c in X_all)
    + "."
)

# %% [markdown]
# **The prior.** Before seeing these data, a modest statement: moving one
# measurement by about a population standard deviation (one unit above)
# neither multiplies nor divides the odds of diabetes by more than about
# $e^{1.96} \approx 7$.
# A Normal(0, 1) prior on each log odds ratio puts
# 95% of its mass on odds ratios between $e^{-1.96} = 0.14$ and $e^{1.96} = 7.1$.
# For the intercept, the prior is placed (as in rstanarm and bambi) on the log
# odds of a woman with average measurements: diabetes prevalence among Pima
# adults is high, so a Normal centred at
# logit({glue:text}`prior_prevalence:.2g`) with sd 1 covers prevalences from
# about {glue:text}`prior_prev_lo:.0%` to {glue:text}`prior_prev_hi:.0%`.
#
# Priors are best judged by what they imply about data. A **prior predictive
# check** draws coefficients from the prior and computes the predicted
# probabilities for the training women: a sound prior gives a spread of
# plausible probabilities; a "vague" Normal(0, 10) prior puts most women at
# probability near 0 or 1: {glue:text}`extreme_vague:.0%` of its prior predictive
# probabilities lie outside $[0.01, 0.99]$, against {glue:text}`extreme_domain:.0%`
# under the domain prior ({numref}`fig-prior-predictive`).

# %%
prior_prevalence = 0.3  # the prior's centre for the prevalence at average measurements
glue("prior_prevalence", prior_prevalence)
glue("prior_prev_lo", special.expit(special.logit(prior_prevalence) - 1.96))
glue("prior_prev_hi", special.expit(special.logit(prior_prevalence) + 1.96))
domain = {
    "intercept": Normal(special.logit(prior_prevalence), 1.0),
    **{c: Normal(0, 1.0) for c in X_all},
}
vague = {"intercept": Normal(0, 10.0), **{c: Normal(0, 10.0) for c in X_all}}
fits = {
    "domain": sample(BayesianGLM("binomial", priors=domain), X_train, y_train),
    "vague": sample(BayesianGLM("binomial", priors=vague), X_train, y_train),
}
prior_mu = {
    name: fit.prior_predictive(X_train, draws=400, random_seed=seed) for name, fit in fits.items()
}
extreme = {name: np.mean((mu < 0.01) | (mu > 0.99)) for name, mu in prior_mu.items()}
say(
    f"Under the domain prior, {extreme['domain']:.1%} of prior predictive probabilities are "
    f"below 1% or above 99%; under the vague prior, {extreme['vague']:.1%}."
)
glue("extreme_vague", extreme["vague"])
glue("extreme_domain", extreme["domain"])

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(0, 1, 41)
for name, color in [("domain", "C0"), ("vague", "C1")]:
    ax.hist(
        prior_mu[name].ravel(), bins=bins, density=True, alpha=0.5, color=color,
        label=f"{name} prior",
    )  # fmt: skip
ax.set_xlabel("prior predictive probability of diabetes")
ax.set_ylabel("density")
ax.set_title("What the priors say before the data (200 training women x 400 draws)")
ax.legend()
glue_figure("fig-prior-predictive", fig)

# %% [markdown]
# ```{glue:figure} fig-prior-predictive
# :name: fig-prior-predictive
#
# Prior predictive check: the probabilities of diabetes that draws from the
# domain prior and from the vague prior predict for the training women, before
# the data are seen.
# ```

# %% [markdown]
# ## Convergence first
#
# A posterior computed by MCMC is only trustworthy if the chains agree and
# have explored it. `BayesianGLM` checks, after every fit, that the
# rank-normalised split-$\hat R$ is at most $1.01$, that the bulk and tail
# effective sample sizes are at least $100$ per chain and that there were no
# divergent transitions (Vehtari et al., 2021), and warns otherwise. Here are
# the diagnostics of the two fits, and the trace of the domain-prior fit
# ({numref}`fig-trace`).

# %%
pd.DataFrame({name: fit.convergence_ for name, fit in fits.items()}).T.round(3)

# %%
checks_ok = all(
    f.convergence_["max_rhat"] <= 1.01
    and f.convergence_["min_ess_bulk"] >= 100 * chains
    and f.convergence_["divergences"] == 0
    for f in fits.values()
)
say(
    f"All checks passed for both fits: {checks_ok}. Sampling took "
    f"{fits['domain'].fit_seconds_:.1f} s and {fits['vague'].fit_seconds_:.1f} s with "
    f"sampler '{fits['domain'].sampler_}', compilation included."
)

# %% tags=["remove-output"]
axes = fits["domain"].plot_trace(var_names=["intercept", "coef"], compact=True, figsize=(10, 4))
axes[0, 0].set_xlabel("value (log odds)")
axes[0, 1].set_xlabel("draw")
axes[1, 0].set_xlabel("value (log odds ratio per clinical unit)")
axes[1, 1].set_xlabel("draw")
for ax in axes[:, 0]:
    ax.set_ylabel("density")
for ax in axes[:, 1]:
    ax.set_ylabel("value")
fig = axes[0, 0].figure
fig.suptitle("Domain prior: traces of both chains (right) and their densities (left)")
fig.tight_layout()
glue_figure("fig-trace", fig)

# %% [markdown]
# ```{glue:figure} fig-trace
# :name: fig-trace
#
# Trace of the domain-prior fit: draws of each chain (right) and their densities
# (left), for the intercept (top, log odds) and the seven log odds ratios (bottom).
# ```

# %% [markdown]
# ## The posterior
#
# With the checks passed, the summary can be read: posterior mean, standard
# deviation and 94% highest-density interval (HDI) of each log odds ratio,
# and the odds ratio $e^{\beta}$ per clinical unit. The intercept is the log
# odds of a woman whose measurements are all zero (glmlib reports the
# intercept of the raw predictors; the prior was placed at the average
# woman, see above): no such woman exists, so it is not interpreted, and
# $e^{\text{intercept}}$ would be odds, not an odds ratio.

# %%
post = fits["domain"].summary()
table = post[["mean", "sd", "hdi_3%", "hdi_97%"]].copy()
table["odds ratio"] = np.exp(post["mean"])
table.loc["intercept", "odds ratio"] = np.nan  # e^intercept: odds at all-zero measurements
table["unit"] = ["log odds at all measurements 0", *[units[c][2] for c in X_all]]
table.round(3)

# %%
p_pos = (fits["domain"].idata_.posterior["coef"].sel(feature="glu") > 0).mean().item()
glu = post.loc["glu"]
say(
    f"Each 30 mg/dL of glucose multiplies the odds of diabetes by {np.exp(glu['mean']):.2f} "
    f"(94% HDI {np.exp(glu['hdi_3%']):.2f} to {np.exp(glu['hdi_97%']):.2f}); the "
    f"posterior probability that the glucose effect is positive is {p_pos:.4f}."
)

# %% [markdown]
# ## How much does the prior matter?
#
# The same model is refitted with Normal(0, $s$) priors on the seven log odds
# ratios for several scales $s$, from very sceptical ({glue:text}`s_min:g`:
# odds ratios within about {glue:text}`s_min_or_lo:.2f` to
# {glue:text}`s_min_or_hi:.2f`) to vague ({glue:text}`s_max:g`). These refits,
# like the later loops, use PyMC's own sampler, which compiles fastest for small
# models. For each of four key coefficients {numref}`fig-prior-sensitivity`
# shows the posterior mean and 94% HDI against $s$, with the
# maximum-likelihood estimate of the core engine as a reference.

# %%
glue("s_min", min(prior_scales))
glue("s_max", max(prior_scales))
glue("s_min_or_lo", np.exp(-1.96 * min(prior_scales)))
glue("s_min_or_hi", np.exp(1.96 * min(prior_scales)))
mle_fit = glmlib.GLM("binomial").fit(X_train, y_train)
sensitivity = []
for s in prior_scales:
    priors = {"intercept": domain["intercept"], **{c: Normal(0, s) for c in X_all}}
    fit = sample(BayesianGLM("binomial", priors=priors), X_train, y_train, sampler="pymc")
    summ = fit.summary().loc[key]
    sensitivity.append(summ.assign(scale=s, rhat=fit.convergence_["max_rhat"]))
sensitivity = pd.concat(sensitivity).rename_axis("term").reset_index()
sensitivity.pivot(index="scale", columns="term", values="mean")[key].round(3)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, len(key), figsize=(13, 3.4), sharex=True)
for ax, term in zip(axes, key, strict=True):
    rows = sensitivity[sensitivity["term"] == term]
    ax.fill_between(rows["scale"], rows["hdi_3%"], rows["hdi_97%"], alpha=0.3, label="94% HDI")
    ax.plot(rows["scale"], rows["mean"], "o-", label="posterior mean")
    ax.axhline(mle_fit.coef_[list(X_all).index(term)], color="C3", ls="--", label="MLE")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("prior sd $s$ (log scale)")
    ax.set_title(f"{term}: {units[term][2]}", fontsize=9)
axes[0].set_ylabel("log odds ratio")
axes[0].legend(fontsize=8)
fig.suptitle("Prior sensitivity of the posterior (200 training women)")
fig.tight_layout()
glue_figure("fig-prior-sensitivity", fig)

# %% [markdown]
# ```{glue:figure} fig-prior-sensitivity
# :name: fig-prior-sensitivity
#
# Prior sensitivity on the Pima training women: posterior mean and 94% HDI of
# four log odds ratios against the prior sd $s$ (log scale), with the core
# engine's maximum-likelihood estimate (dashed).
# ```

# %%
wide_from = 0.5  # "moderate and wide" priors: sds from this one up
wide = sensitivity[sensitivity["scale"] >= wide_from]
spread = wide.groupby("term")["mean"].agg(lambda m: m.max() - m.min())
sd10 = sensitivity[sensitivity["scale"] == max(prior_scales)].set_index("term")["sd"]
narrow = sensitivity[sensitivity["scale"] == min(prior_scales)].set_index("term")["mean"]
say(
    f"For prior sds from {wide_from:g} to {max(prior_scales):g}, the posterior means move by at most "
    f"{spread.max():.3f} on the log-odds scale ({spread.idxmax()}), "
    f"{(spread / sd10).max():.2f} posterior sds: the data dominate. At "
    f"s = {min(prior_scales)} the prior wins: the glucose coefficient is "
    f"{narrow['glu']:.3f} against an MLE of {mle_fit.coef_[1]:.3f}."
)
glue("wide_from", wide_from)
glue("sens_spread", spread.max())
glue("sens_spread_sd", (spread / sd10).max())
glue("glu_narrow", narrow["glu"])
glue("glu_mle", mle_fit.coef_[1])

# %% [markdown]
# ## Credible intervals and Wald intervals
#
# The core engine's `GLM.summary()` gives Wald intervals,
# $\hat\beta \pm z\,\mathrm{se}$, from the curvature of the likelihood at the
# MLE. A 94% credible interval is a statement about the parameter given the
# data; a 94% confidence interval is a statement about the procedure. With a
# vague prior and a roughly Gaussian likelihood the two should nearly coincide
# numerically; the domain prior should shrink the credible intervals towards 0.
# {numref}`fig-intervals` shows all three; their widths are printed below it.

# %%
wald = mle_fit.summary(level=0.94)
rows = []
for name, fit in fits.items():
    s = fit.summary()
    rows.append(s[["hdi_3%", "hdi_97%"]].set_axis([f"{name} low", f"{name} high"], axis=1))
compare = pd.concat(
    [wald[["ci_low", "ci_high"]].set_axis(["Wald low", "Wald high"], axis=1), *rows], axis=1
)
compare.round(3)

# %%
width = (
    compare[["Wald high", "vague high", "domain high"]].to_numpy()
    - compare[["Wald low", "vague low", "domain low"]].to_numpy()
)
ratio = width[:, 1:] / width[:, :1]
say(
    f"Interval widths relative to Wald: vague prior {ratio[:, 0].min():.2f} to "
    f"{ratio[:, 0].max():.2f}, domain prior {ratio[:, 1].min():.2f} to {ratio[:, 1].max():.2f}."
)
glue("ratio_vague_lo", ratio[:, 0].min())
glue("ratio_vague_hi", ratio[:, 0].max())
glue("ratio_domain_lo", ratio[:, 1].min())
glue("ratio_domain_hi", ratio[:, 1].max())

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(8, 4))
terms = list(compare.index[1:])
ypos = np.arange(len(terms))
for offset, (name, color) in zip(
    [-0.2, 0.0, 0.2], [("Wald", "C3"), ("vague", "C1"), ("domain", "C0")], strict=True
):
    lo, hi = compare.loc[terms, f"{name} low"], compare.loc[terms, f"{name} high"]
    ax.hlines(ypos + offset, lo, hi, color=color, lw=3, label=f"{name} (94%)")
ax.axvline(0, color="0.5", lw=0.6)
ax.set_yticks(ypos, [f"{t} ({units[t][2]})" for t in terms], fontsize=8)
ax.set_xlabel("log odds ratio")
ax.set_title("94% Wald confidence vs 94% credible (HDI) intervals")
ax.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-intervals", fig)

# %% [markdown]
# ```{glue:figure} fig-intervals
# :name: fig-intervals
#
# 94% intervals of the log odds ratios on the Pima training women: the core
# engine's Wald confidence intervals and the credible (HDI) intervals under the
# vague and under the domain prior.
# ```

# %% [markdown]
# ## Posterior predictive checks
#
# If the model is adequate, data simulated from the posterior predictive
# distribution should look like the data. Two checks on the {glue:text}`n_test:d`
# test women, whom the fit never saw: the number of women with diabetes overall
# and among women under {glue:text}`young_age:d`, each compared with its
# posterior predictive distribution
# (a tail probability near 0 or 1 flags a misfit); and a calibration plot,
# observed against predicted prevalence in fifths of predicted risk with 94%
# predictive bands ({numref}`fig-predictive-checks`).

# %%
y_rep = fits["domain"].predict(X_test, kind="predictive", random_seed=seed)
young_age = 30  # the younger group of the second check: test women under this age
glue("young_age", young_age)
young = (pima.loc[~train, "age"] < young_age).to_numpy()
under = f"test women under {young_age}"
stats_obs = {"all test women": y_test.sum(), under: y_test[young].sum()}
stats_rep = {"all test women": y_rep.sum(axis=1), under: y_rep[:, young].sum(axis=1)}
ppp = {name: np.mean(stats_rep[name] >= stats_obs[name]) for name in stats_obs}
pd.DataFrame(
    {
        "observed": stats_obs,
        "predictive mean": {k: v.mean() for k, v in stats_rep.items()},
        "P(replicated >= observed)": ppp,
    }
).round(3)

# %% tags=["remove-output"]
mu_test = fits["domain"].predict(X_test, kind="draws")
bins_q = np.quantile(mu_test.mean(axis=0), np.linspace(0, 1, 6))
group = np.clip(np.searchsorted(bins_q, mu_test.mean(axis=0), side="right") - 1, 0, 4)
cal = pd.DataFrame(
    {
        "predicted": [mu_test.mean(axis=0)[group == g].mean() for g in range(5)],
        "observed": [y_test[group == g].mean() for g in range(5)],
        "low": [np.quantile(y_rep[:, group == g].mean(axis=1), 0.03) for g in range(5)],
        "high": [np.quantile(y_rep[:, group == g].mean(axis=1), 0.97) for g in range(5)],
    }
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
name = under
counts = np.arange(stats_rep[name].min(), stats_rep[name].max() + 2) - 0.5
ax.hist(stats_rep[name], bins=counts, color="0.75", label="posterior predictive")
ax.axvline(stats_obs[name], color="C3", lw=2, label=f"observed = {stats_obs[name]:.0f}")
ax.set_xlabel(f"number with diabetes, {name} (n = {young.sum()})")
ax.set_ylabel("replicated data sets")
ax.set_title(f"Predictive check, tail probability {ppp[name]:.2f}")
ax.legend(fontsize=8)
ax = axes[1]
ax.errorbar(
    cal["predicted"], cal["predicted"],
    yerr=[cal["predicted"] - cal["low"], cal["high"] - cal["predicted"]],
    fmt="none", color="0.6", capsize=3, label="94% predictive band",
)  # fmt: skip
ax.plot(cal["predicted"], cal["observed"], "o", color="C0", label="observed prevalence")
ax.plot([0, 1], [0, 1], color="0.5", lw=0.6)
ax.set_xlabel("mean predicted probability (fifths of predicted risk)")
ax.set_ylabel("prevalence of diabetes")
ax.set_title(f"Calibration on the {len(y_test)} test women")
ax.legend(fontsize=8)
fig.tight_layout()
glue_figure("fig-predictive-checks", fig)

# %% [markdown]
# ```{glue:figure} fig-predictive-checks
# :name: fig-predictive-checks
#
# Posterior predictive checks on the test women, domain prior. Left: the number
# of women with diabetes among test women under {glue:text}`young_age:d`,
# replicated (histogram) against observed (line). Right: calibration, observed
# prevalence against mean predicted probability in fifths of predicted risk, with
# 94% posterior predictive bands.
# ```

# %%
inside = ((cal["observed"] >= cal["low"]) & (cal["observed"] <= cal["high"])).sum()
say(
    f"Tail probabilities {ppp['all test women']:.2f} (all) and "
    f"{ppp[under]:.2f} (under {young_age}); the observed prevalence lies inside the "
    f"94% predictive band in {inside} of {len(cal)} risk groups."
)
glue("ppp_all", ppp["all test women"])
glue("ppp_young", ppp[under])
glue("cal_inside", int(inside))
glue("n_risk_groups", len(cal))

# %% [markdown]
# ## When is the Laplace approximation good enough?
#
# The Laplace approximation replaces the posterior by a Gaussian centred at
# its mode with the inverse Hessian as covariance. With Normal priors the mode
# is exactly a ridge-penalised fit of the core engine (the prior
# $N(0, \sigma_j^2)$ is the penalty $\beta_j^2 / (2\sigma_j^2)$), so it costs one
# IRLS fit. It is accurate when the log posterior is close to quadratic: many
# observations per coefficient, no separation. Below, NUTS and Laplace are
# compared on random subsets of the training women of growing size, with
# the vague Normal(0, 10) prior that lets the likelihood's shape show: the
# largest gap between the posterior mean and the Laplace mean, in posterior
# standard deviations, and the largest ratio of standard deviations.
# {numref}`fig-laplace` then compares the two posteriors of the glucose
# coefficient on the smallest subset.

# %%
gaps = []
sub_rng = np.random.default_rng(seed)
for n in laplace_sizes:
    idx = np.sort(sub_rng.choice(len(y_train), size=n, replace=False))
    Xs, ys = X_train.iloc[idx], y_train[idx]
    nuts = sample(BayesianGLM("binomial", priors=vague), Xs, ys, sampler="pymc")
    lap = BayesianGLM("binomial", priors=vague, method="laplace").fit(Xs, ys)
    a, b = nuts.summary(), lap.summary()
    gaps.append(
        {
            "n": n,
            "max |mean gap| / sd": float(np.max(np.abs(a["mean"] - b["mean"]) / a["sd"])),
            "max sd ratio Laplace/NUTS": float(np.max(b["sd"] / a["sd"])),
            "min sd ratio Laplace/NUTS": float(np.min(b["sd"] / a["sd"])),
            "NUTS s": nuts.fit_seconds_,
            "Laplace s": lap.fit_seconds_,
        }
    )
    if n == laplace_sizes[0]:
        small = (nuts, lap)
gaps = pd.DataFrame(gaps).set_index("n")
gaps.round(3)

# %% tags=["remove-output"]
nuts_s, lap_s = small
draws_glu = nuts_s.idata_.posterior["coef"].sel(feature="glu").to_numpy().ravel()
m, s = lap_s.summary().loc["glu", ["mean", "sd"]]
x = np.linspace(draws_glu.min(), draws_glu.max(), 300)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.hist(draws_glu, bins=50, density=True, color="0.8", label="NUTS")
ax.plot(x, stats.norm.pdf(x, m, s), color="C1", label="Laplace")
ax.set_xlabel("glucose log odds ratio per 30 mg/dL")
ax.set_ylabel("posterior density")
ax.set_title(f"n = {laplace_sizes[0]} women, vague prior: the posterior is skewed")
ax.legend()
glue_figure("fig-laplace", fig)

# %% [markdown]
# ```{glue:figure} fig-laplace
# :name: fig-laplace
#
# NUTS draws (histogram) and the Laplace approximation (line) of the posterior of
# the glucose log odds ratio, from the smallest subset of training women
# ({glue:text}`lap_n_small:d`) under the vague prior.
# ```

# %%
say(
    f"With {laplace_sizes[0]} women the Laplace mean is off by up to "
    f"{gaps['max |mean gap| / sd'].iloc[0]:.2f} posterior sds; with {laplace_sizes[-1]} the "
    f"gap is {gaps['max |mean gap| / sd'].iloc[-1]:.2f} sds and the sds agree within "
    f"{100 * max(abs(gaps['max sd ratio Laplace/NUTS'].iloc[-1] - 1), abs(1 - gaps['min sd ratio Laplace/NUTS'].iloc[-1])):.0f}%. "
    f"Laplace took {gaps['Laplace s'].mean() * 1000:.0f} ms on average, NUTS "
    f"{gaps['NUTS s'].mean():.1f} s."
)
glue("lap_n_small", laplace_sizes[0])
glue("lap_n_large", laplace_sizes[-1])
glue("lap_gap_small", gaps["max |mean gap| / sd"].iloc[0])
glue("lap_gap_large", gaps["max |mean gap| / sd"].iloc[-1])
glue(
    "lap_trend",
    Markdown(
        "shrank"
        if gaps["max |mean gap| / sd"].iloc[-1] < gaps["max |mean gap| / sd"].iloc[0]
        else "did not shrink"
    ),
)
glue("lap_ms", gaps["Laplace s"].mean() * 1000)
glue("nuts_s", gaps["NUTS s"].mean())

# %% [markdown]
# ## What sampling costs
#
# NUTS evaluates the gradient of the log posterior, one pass over the data,
# at every leapfrog step, and a compiled sampler must first be compiled. The
# figure of merit is effective samples per second: the smallest bulk ESS over
# the coefficients divided by the wall time, compilation included. Two NUTS
# implementations are compared on synthetic logistic regressions with
# {glue:text}`cost_features:d` correlated features
# ({numref}`fig-sampling-cost`): PyMC's own sampler (Python, with C-compiled gradients)
# and nutpie (Rust, with the model compiled by numba), both through
# `BayesianGLM`, which also preconditions them with the core engine's Laplace
# fit. `benchmarks/bench_bayes.py` runs the larger comparison, against bambi.


# %%
cost_features = 20  # features of the synthetic timing problems
glue("cost_features", cost_features)


def synthetic(n, p=cost_features, seed=seed):
    r = np.random.default_rng(seed)
    cov = 0.5 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = r.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    return X, r.binomial(1, special.expit(-1.0 + X @ np.linspace(-0.5, 0.5, p))).astype(float)


cost = []
for n in cost_sizes:
    Xn, yn = synthetic(n)
    for name in ["pymc", "nutpie"]:
        # both run their chains in parallel, PyMC in processes and nutpie in threads
        fit = sample(BayesianGLM("binomial", priors=Normal(0, 1)), Xn, yn, sampler=name, cores=2)
        ess = fit.convergence_["min_ess_bulk"]
        cost.append({"n": n, "sampler": name, "seconds": fit.fit_seconds_, "min bulk ESS": ess})
    t0 = time.perf_counter()
    BayesianGLM("binomial", priors=Normal(0, 1), method="laplace").fit(Xn, yn)
    cost.append({"n": n, "sampler": "laplace", "seconds": time.perf_counter() - t0})
cost = pd.DataFrame(cost)
cost["ESS/s"] = cost["min bulk ESS"] / cost["seconds"]
cost.round(2)

# %% tags=["remove-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
width = 0.38
for i, (name, color) in enumerate([("pymc", "C1"), ("nutpie", "C0")]):
    rows = cost[cost["sampler"] == name]
    xpos = np.arange(len(rows)) + (i - 0.5) * width
    axes[0].bar(xpos, rows["seconds"], width, color=color, label=f"NUTS: {name}")
    axes[1].bar(xpos, rows["ESS/s"], width, color=color, label=f"NUTS: {name}")
for ax in axes:
    ax.set_xticks(np.arange(len(cost_sizes)), [f"n = {n:,}" for n in cost_sizes])
    ax.set_xlabel(f"synthetic logistic regression, p = {cost_features}")
axes[0].set_ylabel("wall time incl. compilation (s)")
axes[1].set_ylabel("min bulk ESS per second")
axes[0].set_title(f"Time for {chains} x ({tune} + {draws}) iterations on {device}")
axes[1].set_title("Effective samples per second")
axes[1].legend()
fig.tight_layout()
glue_figure("fig-sampling-cost", fig)

# %% [markdown]
# ```{glue:figure} fig-sampling-cost
# :name: fig-sampling-cost
#
# What sampling costs, live on the machine that ran this chapter: wall time
# including compilation (left) and smallest bulk effective sample size per second
# (right) of PyMC's NUTS and nutpie on synthetic logistic regressions.
# ```

# %%
last = cost[cost["n"] == cost_sizes[-1]].set_index("sampler")
say(
    f"At n = {cost_sizes[-1]:,}, nutpie gives {last.loc['nutpie', 'ESS/s']:.0f} effective "
    f"samples per second and PyMC's sampler {last.loc['pymc', 'ESS/s']:.0f}; the Laplace "
    f"approximation needs {last.loc['laplace', 'seconds']:.2f} s in all."
)

# %% [markdown]
# **Faster samplers and GPUs.** For a small model most of the wall time is
# compilation, where PyMC's sampler (C code, cached on disk) is cheaper than
# nutpie (numba, compiled afresh in every process). For a large one most of
# the time is the gradient, two passes over the $n \times p$ design at every
# leapfrog step, and a sampler's own per-step overhead, which is where nutpie
# saves, matters less than how fast that pass runs; which of the two wins on
# this machine is printed above. What a sampler cannot change, the
# parametrisation can: `BayesianGLM` samples in coordinates whitened by the
# core engine's Laplace fit, so that the posterior is close to a standard
# normal and needs few leapfrog steps per effective draw.
# The JAX samplers (`sampler="numpyro"` or `"blackjax"`) compile the whole
# sampler with XLA and run on a GPU when JAX sees one: the passes over the
# data then run on the device, and many chains run in parallel for the price
# of one. Whether that pays depends on $np$; for a few thousand rows, launch
# and transfer overheads dominate.

# %%
from glmlib.bayes._imports import has_module

if device.startswith("cuda") and has_module("jax") and has_module("numpyro"):
    Xn, yn = synthetic(cost_sizes[-1])
    fit = sample(BayesianGLM("binomial", priors=Normal(0, 1)), Xn, yn, sampler="numpyro")
    say(
        f"numpyro on {device}: {fit.convergence_['min_ess_bulk'] / fit.fit_seconds_:.0f} "
        f"effective samples per second at n = {cost_sizes[-1]:,}."
    )
else:
    say(
        f"Not measured in this run: device is {device} and JAX/numpyro importable is "
        f"{has_module('jax') and has_module('numpyro')}, so no GPU sampler was timed."
    )

# %% [markdown]
# ## Summary
#
# - On the coin toss the MLE and the MAP under a uniform prior are both $k/n$
#   and the posterior mean is $(k+1)/(n+2)$; `BayesianGLM` with a logistic
#   prior on the logit reproduced the Beta posterior, and its MAP on the logit
#   scale showed that a posterior mode depends on the parametrisation.
# - On the Pima data a Normal(0, 1) prior on log odds ratios per clinical
#   unit gives plausible prior predictive probabilities
#   ({glue:text}`extreme_domain:.0%` outside $[0.01, 0.99]$), where a "vague"
#   Normal(0, 10) prior put {glue:text}`extreme_vague:.0%` of them there. For
#   prior sds from {glue:text}`wide_from:g` up, the posterior means moved by at
#   most {glue:text}`sens_spread:.3f` on the log-odds scale
#   ({glue:text}`sens_spread_sd:.2f` posterior sds); at the narrowest,
#   {glue:text}`s_min:g`, the glucose coefficient was
#   {glue:text}`glu_narrow:.3f` against an MLE of {glue:text}`glu_mle:.3f`.
# - Relative to the core engine's Wald intervals, the 94% credible intervals
#   were {glue:text}`ratio_vague_lo:.2f` to {glue:text}`ratio_vague_hi:.2f` times
#   as wide under the vague prior and {glue:text}`ratio_domain_lo:.2f` to
#   {glue:text}`ratio_domain_hi:.2f` times under the domain prior.
# - Posterior predictive checks on held-out women gave tail probabilities of
#   {glue:text}`ppp_all:.2f` (all) and {glue:text}`ppp_young:.2f` (under
#   {glue:text}`young_age:d`); the observed prevalence lay inside the 94%
#   predictive band in {glue:text}`cal_inside:d` of {glue:text}`n_risk_groups:d`
#   risk groups.
# - The Laplace approximation costs one penalised IRLS fit. Its largest error
#   in the posterior mean, in posterior standard deviations,
#   {glue:md}`lap_trend` from {glue:text}`lap_gap_small:.2f` with
#   {glue:text}`lap_n_small:d` women to {glue:text}`lap_gap_large:.2f` with
#   {glue:text}`lap_n_large:d`; a NUTS fit took {glue:text}`nuts_s:.1f` s on
#   average, a Laplace fit {glue:text}`lap_ms:.0f` ms.
#
# **Further reading.** Gelman et al. {cite}`gelman2013` for Bayesian GLMs and
# predictive checks; Gelman, Jakulin, Pittau and Su (2008, *Ann. Appl. Stat.*)
# for weakly informative priors in logistic regression; Vehtari, Gelman,
# Simpson, Carpenter and Bürkner (2021, *Bayesian Analysis*) for the
# convergence diagnostics used here; Hoffman and Gelman (2014, *JMLR*) for
# NUTS; Piironen and Vehtari (2017, *Electron. J. Statist.*) for the
# regularized horseshoe prior that `glmlib.bayes.RegularizedHorseshoe`
# implements.

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
glmlib.show_versions(
    ["pymc", "pytensor", "nutpie", "arviz", "matplotlib"], device=device, seed=seed, quick=quick
)
print(f"cells after the imports ran in {time.perf_counter() - start_time:.1f} s")
