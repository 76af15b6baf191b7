"""Fits that must equal the in-memory fit on all rows: families, penalties, data and tolerances.

Shared by the sharded (tests/test_distributed.py) and Dask (tests/design/test_dask.py)
tests, so both hold their designs to the same cases.
"""

from __future__ import annotations

import numpy as np

import glmlib
from glmlib.families import NegativeBinomial

FAMILIES = [
    ("gaussian", "identity"),
    ("binomial", "logit"),
    ("poisson", "log"),
    ("gamma", "log"),
    ("inverse_gaussian", "log"),
    ("negative_binomial", "log"),
]
PENALTIES = {"none": (0.0, 0.0), "ridge": (0.05, 0.0), "lasso": (0.02, 1.0), "enet": (0.03, 0.5)}
RTOL = 1e-8
ZERO_ATOL = 1e-10


def make_data(family, n=500, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.array([0.5, -0.4, 0.0, 0.3, 0.0, -0.2])[:p]
    eta = 0.2 + 0.5 * X @ beta
    off = rng.uniform(-0.2, 0.2, n)
    w = rng.uniform(0.5, 2.0, n)
    if family == "gaussian":
        y = eta + off + rng.normal(size=n)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta - off))).astype(float)
    elif family in ("poisson", "negative_binomial"):
        y = rng.poisson(np.exp(eta + off)).astype(float)
    elif family == "gamma":
        y = rng.gamma(4.0, np.exp(eta + off) / 4.0)
    else:
        y = rng.wald(np.exp(eta + off), 4.0)
    return X, y, w, off


def estimator(family, link, penalty, **kw):
    alpha, l1_ratio = PENALTIES[penalty]
    fam = NegativeBinomial(alpha=0.7) if family == "negative_binomial" else family
    return glmlib.GLM(family=fam, link=link, alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, **kw)
