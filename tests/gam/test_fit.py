"""The GAM fit on the core's Newton routine (``glmlib/gam/_fit.py``).

* With every lambda fixed, ``fit_gam`` is penalised IRLS: on a ridge penalty
  lambda * I it equals ``glmlib.GLM`` with alpha = lambda / sum(w) and
  l1_ratio = 0 (the same objective on the core's normalised scale), to 1e-10.
* With a general fixed penalty it equals ``newton`` on the problem with
  ``penalty_matrix`` = S / sum(w) set up front, to 1e-10.
* With a free lambda the hook freezes it once it settles: the history's
  ``frozen`` column starts at 0 and ends at 1, the criterion columns stop
  when lambda freezes, and the fit converges.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib import GLM
from glmlib._backend import Backend, to_numpy
from glmlib.design.make import make_design
from glmlib.families import get_family
from glmlib.gam._fit import fit_gam, fit_null
from glmlib.gam._smoothing import PenaltyBlock, PenaltyStructure
from glmlib.solver.newton import newton
from glmlib.solver.problem import Problem

N, P = 400, 5


def data(family: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, P))
    eta = 0.3 + X @ np.array([0.5, -0.4, 0.3, 0.0, 0.2])
    y = rng.poisson(np.exp(eta)).astype(float) if family == "poisson" else rng.normal(eta, 1.0)
    return X, y


def problem(X: np.ndarray, y: np.ndarray, family: str, link: str) -> Problem:
    b = Backend("numpy")
    n, p = X.shape
    return Problem(
        design=make_design(X, b),
        y=y,
        weights=np.full(n, 1.0 / n),
        offset=np.zeros(n),
        family=get_family(family, link),
        l1=np.zeros(p),
        l2=np.zeros(p),
        backend=b,
        weight_sum=float(n),
    )


def structure(S: np.ndarray, lam: float | None) -> PenaltyStructure:
    """One block over all coefficients but the intercept, lambda fixed (or free: None)."""
    free = [None] if lam is not None else [0]
    block = PenaltyBlock(1, P + 1, [S], free, [lam])
    return PenaltyStructure(P + 1, [block], int(lam is None))


def gam_fit(prob: Problem, st: PenaltyStructure):
    theta0, eta0 = fit_null(prob, 1e-12, 100)
    scale = None if prob.family.has_dispersion else 1.0
    return fit_gam(
        prob, theta0, eta0, st, method="REML", scale=scale, gamma=1.0, tol=1e-12, max_iter=100
    )


@pytest.mark.parametrize(("family", "link"), [("gaussian", "identity"), ("poisson", "log")])
def test_fixed_ridge_lambda_equals_glm_with_the_same_penalty(family, link) -> None:
    X, y = data(family)
    lam = 30.0
    res = gam_fit(problem(X, y, family, link), structure(np.eye(P), lam))
    glm = GLM(family=family, link=link, alpha=lam / N, l1_ratio=0.0, tol=1e-12).fit(X, y)
    theta = to_numpy(res.theta)
    np.testing.assert_allclose(theta[0], glm.intercept_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(theta[1:], glm.coef_, rtol=0, atol=1e-10)
    assert res.converged


def test_fixed_penalty_matrix_equals_newton_with_the_penalty_set_up_front() -> None:
    X, y = data("poisson")
    A = np.random.default_rng(2).normal(size=(P, P))
    S = A @ A.T  # positive definite, not diagonal
    lam = 5.0
    res = gam_fit(problem(X, y, "poisson", "log"), structure(S, lam))
    prob = problem(X, y, "poisson", "log")
    prob.penalty_matrix = lam * S / prob.weight_sum
    theta0, _ = fit_null(prob, 1e-12, 100)
    ref = newton(prob, theta0, tol=1e-12, max_iter=100)
    np.testing.assert_allclose(to_numpy(res.theta), to_numpy(ref.theta), rtol=0, atol=1e-10)
    assert all(row["frozen"] == 1.0 for row in res.history if "frozen" in row)


def test_free_lambda_is_frozen_once_it_settles() -> None:
    X, y = data("gaussian")
    res = gam_fit(problem(X, y, "gaussian", "identity"), structure(np.eye(P), None))
    frozen = [row["frozen"] for row in res.history if "frozen" in row]
    assert frozen[0] == 0.0 and frozen[-1] == 1.0
    assert frozen == sorted(frozen)  # once frozen, lambda stays frozen
    # The criterion is minimised only while lambda is free.
    assert all(
        ("criterion" in row) == (row["frozen"] == 0.0) for row in res.history if "frozen" in row
    )
    assert res.converged and np.isfinite(res.rho).all()
