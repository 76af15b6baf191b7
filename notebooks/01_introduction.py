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
# On Google Colab, install glmlib from the book's repository; elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/glmlib/glmlib-book"],
        check=True,
    )

# %% [markdown]
# # Introduction and GLM background
#
# *This chapter is a skeleton: the cells below only exercise the book's build
# pipeline (parameters, a computation, a figure). The chapter's text is not
# written yet.*
#
# A generalized linear model relates the mean $\mu$ of a response to a linear
# predictor through a link function, $g(\mu) = x^\top \beta$, and draws the
# response from an exponential-family distribution. Below, counts are drawn
# from a Poisson model with the log link, $\log \mu = \beta_0 + \beta_1 x$.

# %% tags=["parameters"]
seed = 0  # seed of every random draw in this chapter
quick = False  # True: small sizes so the chapter runs in seconds (CI)
device = "auto"  # "auto" (CUDA when available, else CPU), "cpu" or "cuda"
n_samples = 1_000  # observations in the simulated data set

# %%
import matplotlib.pyplot as plt
import numpy as np

if quick:
    n_samples = min(n_samples, 200)
if device == "auto":
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        device = "cpu"
rng = np.random.default_rng(seed)

# %%
beta0, beta1 = 0.5, 0.8
x = rng.uniform(-2.0, 2.0, size=n_samples)
y = rng.poisson(np.exp(beta0 + beta1 * x))

# %%
grid = np.linspace(-2.0, 2.0, 200)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.scatter(x, y, s=8, alpha=0.4, label="simulated counts")
ax.plot(grid, np.exp(beta0 + beta1 * grid), color="C1", label=r"$\mu = e^{\beta_0 + \beta_1 x}$")
ax.set_xlabel("feature $x$ (unitless)")
ax.set_ylabel("count $y$")
ax.set_title(f"Poisson GLM with log link, n = {n_samples}")
ax.legend()
plt.show()

# %% [markdown]
# ## Versions
#
# The packages and the device this chapter ran with.

# %%
import platform
from importlib.metadata import PackageNotFoundError, version

print(f"python {platform.python_version()}, device {device}, seed {seed}, quick {quick}")
for package in ["glmlib", "numpy", "matplotlib", "torch"]:
    try:
        print(f"{package} {version(package)}")
    except PackageNotFoundError:
        print(f"{package} not installed")
