"""Strong-rule screening with a KKT check (``glmlib/solver/screening.py``).

The check makes screening exact: ``screened_newton`` gives the fit of plain
``newton`` on all columns (to 1e-8 in the coefficients at tol = 1e-12), both
from a cold start (null model, previous alpha = alpha_max) and along a path
where the strong set from the previous alpha misses columns that enter.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from glmlib._backend import Backend, to_numpy
from glmlib.design.make import make_design
from glmlib.families import get_family
from glmlib.solver.newton import newton
from glmlib.solver.null import null_intercept
from glmlib.solver.problem import Problem
from glmlib.solver.screening import screened_newton


def lasso_problem(family: str, link: str, n: int = 300, p: int = 12) -> Problem:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, p))
    eta = 0.2 + X[:, :3] @ np.array([0.8, -0.6, 0.4])
    y = rng.poisson(np.exp(eta)).astype(float) if family == "poisson" else rng.normal(eta, 1.0)
    b = Backend("numpy")
    return Problem(
        design=make_design(X, b),
        y=y,
        weights=np.full(n, 1.0 / n),
        offset=np.zeros(n),
        family=get_family(family, link),
        l1=np.zeros(p),
        l2=np.zeros(p),
        backend=b,
    )


@pytest.mark.parametrize(("family", "link"), [("gaussian", "identity"), ("poisson", "log")])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_screened_newton_equals_newton_on_all_columns(family, link, l1_ratio) -> None:
    prob = lasso_problem(family, link)
    p = prob.design.p
    theta0 = np.concatenate([to_numpy(null_intercept(prob, 1e-12, 100)), np.zeros(p)])
    grad0 = to_numpy(prob.full_gradient(prob.eta(theta0)))
    alpha_max = float(np.max(np.abs(grad0))) / l1_ratio
    pf = np.ones(p)
    theta, grad, alpha_prev = theta0, grad0, alpha_max
    kept_sizes = []
    for alpha in alpha_max * np.array([0.5, 0.2, 0.05]):
        res, grad = screened_newton(
            prob, theta, grad, alpha, alpha_prev, l1_ratio, pf, tol=1e-12, max_iter=100, inner="cd"
        )
        full = replace(prob, l1=alpha * l1_ratio * pf, l2=alpha * (1 - l1_ratio) * pf)
        ref = newton(full, theta0, None, tol=1e-12, max_iter=100, inner="cd")
        np.testing.assert_allclose(to_numpy(res.theta), to_numpy(ref.theta), rtol=0, atol=1e-8)
        kept_sizes.append(int(np.sum(to_numpy(res.theta)[1:] != 0)))
        theta, alpha_prev = res.theta, alpha
    assert kept_sizes[0] < p  # the path's first points are sparse: screening had work to do
