"""Solver choice and penalty assembly (``glmlib/solver/choice.py``).

The rules are checked directly; ``solve`` is checked against the closed-form
ridge solution (Gaussian, identity link), whichever method it runs (1e-10 for
Newton, 1e-6 for L-BFGS); and every estimator is checked to apply the same rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib import GLM, GLMCV, glm_path
from glmlib._backend import Backend, to_numpy
from glmlib.design.make import make_design
from glmlib.families import get_family
from glmlib.solver.choice import (
    GRAM_LIMIT,
    SOLVERS,
    SolverChoice,
    check_solver,
    choose_solver,
    elastic_net,
    solve,
)
from glmlib.solver.problem import Problem


@pytest.mark.parametrize(
    ("solver", "n_params", "has_l1", "method"),
    [
        ("auto", 51, False, "irls"),
        ("auto", 51, True, "prox-newton"),
        ("auto", GRAM_LIMIT, True, "prox-newton"),
        ("auto", GRAM_LIMIT + 1, False, "lbfgs"),
        ("auto", GRAM_LIMIT + 1, True, "lbfgs"),
        ("irls", GRAM_LIMIT + 1, False, "irls"),
        ("prox-newton", 10, False, "prox-newton"),
        ("lbfgs", 10, True, "lbfgs"),
    ],
)
def test_choose_solver_rules(solver, n_params, has_l1, method) -> None:
    choice = choose_solver(solver, n_params=n_params, has_l1=has_l1, device="cpu")
    assert choice == SolverChoice(method=method, inner="cd")
    assert choice.uses_gram == (method != "lbfgs")


def test_inner_solver_follows_the_device() -> None:
    assert choose_solver("auto", n_params=5, has_l1=True, device="cpu").inner == "cd"
    assert choose_solver("auto", n_params=5, has_l1=True, device="cuda").inner == "fista"


@pytest.mark.parametrize("bad", ["newton", "IRLS", "", None, 3])
def test_unknown_solver_names_the_choices(bad) -> None:
    with pytest.raises(ValueError, match="solver must be one of"):
        check_solver(bad)
    with pytest.raises(ValueError, match="solver must be one of"):
        choose_solver(bad, n_params=5, has_l1=False, device="cpu")


def test_irls_refuses_an_l1_penalty() -> None:
    with pytest.raises(ValueError, match="cannot fit an L1 penalty"):
        choose_solver("irls", n_params=5, has_l1=True, device="cpu")
    assert set(SOLVERS) == {"auto", "irls", "prox-newton", "lbfgs"}


def ridge_problem(n: int = 400, p: int = 6) -> tuple[Problem, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 2.0, p)
    y = 1.0 + X @ rng.normal(size=p) + rng.normal(size=n)
    b = Backend("numpy")
    prob = Problem(
        design=make_design(X, b),
        y=y,
        weights=np.full(n, 1.0 / n),
        offset=np.zeros(n),
        family=get_family("gaussian", "identity"),
        l1=np.zeros(p),
        l2=np.zeros(p),
        backend=b,
    )
    return prob, X, y


def test_elastic_net_sets_both_penalty_parts() -> None:
    prob, _, _ = ridge_problem()
    pf = np.array([1.0, 0.0, 2.0, 1.0, 1.0, 0.5])
    pen = elastic_net(prob, 0.3, 0.25, pf)
    np.testing.assert_array_equal(to_numpy(pen.l1), 0.3 * 0.25 * pf)
    np.testing.assert_array_equal(to_numpy(pen.l2), 0.3 * 0.75 * pf)
    assert pen.design is prob.design and not np.any(to_numpy(prob.l1))


@pytest.mark.parametrize("method", ["irls", "prox-newton", "lbfgs"])
def test_solve_reaches_the_closed_form_ridge_solution(method) -> None:
    prob, X, y = ridge_problem()
    n, p = X.shape
    alpha = 0.05
    pen = elastic_net(prob, alpha, 0.0, np.ones(p))
    # (1/2n)|y - b0 - Xb|^2 + alpha/2 |b|^2: centre, then (Xc'Xc/n + alpha I) b = Xc'yc/n.
    Xc, yc = X - X.mean(0), y - y.mean()
    beta = np.linalg.solve(Xc.T @ Xc / n + alpha * np.eye(p), Xc.T @ yc / n)
    b0 = y.mean() - X.mean(0) @ beta
    choice = choose_solver(method, n_params=p + 1, has_l1=False, device="cpu")
    res = solve(pen, np.zeros(p + 1), choice, tol=1e-12, max_iter=100)
    # Newton converges quadratically; L-BFGS stops on its projected gradient.
    atol = 1e-6 if method == "lbfgs" else 1e-10
    np.testing.assert_allclose(to_numpy(res.theta), np.r_[b0, beta], rtol=0, atol=atol)


def test_every_estimator_applies_the_same_rules() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(float)
    message = "cannot fit an L1 penalty"
    with pytest.raises(ValueError, match=message):
        GLM("binomial", alpha=0.01, l1_ratio=1.0, solver="irls").fit(X, y)
    with pytest.raises(ValueError, match=message):
        GLMCV("binomial", l1_ratio=1.0, n_alphas=3, cv=2, solver="irls").fit(X, y)
    with pytest.raises(ValueError, match=message):
        glm_path(X, y, family="binomial", l1_ratio=1.0, n_alphas=3, solver="irls")
    for est in (GLM("binomial", solver="newton"), GLMCV("binomial", solver="newton")):
        with pytest.raises(ValueError, match="solver must be one of"):
            est.fit(X, y)
    # A smooth penalty on a path: IRLS and L-BFGS reach the same coefficients.
    irls = glm_path(X, y, family="binomial", l1_ratio=0.0, n_alphas=4, solver="irls", tol=1e-10)
    lbfgs = glm_path(X, y, family="binomial", l1_ratio=0.0, n_alphas=4, solver="lbfgs", tol=1e-10)
    np.testing.assert_allclose(irls.coef, lbfgs.coef, rtol=0, atol=1e-6)
    np.testing.assert_allclose(irls.intercept, lbfgs.intercept, rtol=0, atol=1e-6)
