"""Tests for the Newton solver core (``glmlib/solver/newton.py``, ``problem.py``) and the null model (``glmlib/solver/null.py``).

* ``reuse_last_model`` (penalised fits stop on the previous Hessian's step when
  it is below tol) reaches the same solution as the plain iteration, to 1e-7 in
  the coefficients at tol = 1e-8, with one Gram matrix fewer.
* ``Problem.restrict(cols)`` gives the objective with the other coefficients
  held at zero: a Newton fit on the restriction equals a fit on the full
  problem with an infinite penalty outside ``cols`` (to 1e-8).
* The solver's Fisher matrix is one step from the solution: it matches
  X'WX at the solution to about tol (asserted 1e-6 relative).
* The closed-form intercept-only fit (no offset) equals Newton's for every
  family and link (to 1e-9), and the fallback covers offsets and boundary means.
* The ``between_iterations`` hook: one that sets a penalty matrix gives the
  fit with that penalty set up front (to 1e-12: the same iterates); one that
  forbids stopping keeps the iteration going; the Gram-saving paths are refused.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import glmlib.solver.null as null
import glmlib.solver.problem as problem_mod
from glmlib._backend import Backend, to_numpy
from glmlib.design.make import make_design
from glmlib.families import Tweedie, get_family
from glmlib.solver.newton import newton
from glmlib.solver.problem import Problem

CASES = [
    ("gaussian", "identity"),
    ("gaussian", "log"),
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("poisson", "log"),
    ("poisson", "sqrt"),
    ("gamma", "inverse"),
    ("gamma", "log"),
    ("inverse_gaussian", "inverse_squared"),
    ("tweedie", "log"),
    ("negative_binomial", "log"),
]


def response(family: str, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A response in the family's support (positive means, so every link above is valid)."""
    if family == "gaussian":
        return rng.normal(10.0 + eta, 1.0)
    if family == "binomial":
        return rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    if family in ("poisson", "negative_binomial"):
        return rng.poisson(np.exp(eta)).astype(float)
    if family == "tweedie":
        return rng.poisson(np.exp(eta)) * rng.gamma(2.0, 0.5, eta.shape)
    return rng.gamma(5.0, np.exp(eta) / 5.0)  # gamma, inverse Gaussian


def problem(family="binomial", link="logit", n=400, p=6, l1=0.0, l2=0.0, offset=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = response(family, 0.3 + 0.4 * X[:, 0] - 0.3 * X[:, 1], rng)
    b = Backend("numpy")
    fam = Tweedie(1.5) if family == "tweedie" else get_family(family, link)
    return Problem(
        design=make_design(X, b),
        y=y,
        weights=np.full(n, 1.0 / n),
        offset=np.zeros(n) if offset is None else offset,
        family=fam,
        l1=np.full(p, l1),
        l2=np.full(p, l2),
        backend=b,
    )


def start(prob):
    return np.concatenate([null.null_intercept(prob, 1e-10, 100), np.zeros(prob.design.p)])


@pytest.mark.parametrize(("l1", "l2"), [(0.0, 0.05), (0.01, 0.0), (0.01, 0.02)])
def test_reuse_last_model_reaches_the_same_solution_with_fewer_grams(l1, l2, monkeypatch):
    prob = problem(l1=l1, l2=l2)
    grams = {"n": 0}
    gram = type(prob.design).gram

    def counting_gram(self, d, intercept=True):
        grams["n"] += 1
        return gram(self, d, intercept)

    monkeypatch.setattr(type(prob.design), "gram", counting_gram)
    plain = newton(prob, start(prob), tol=1e-8)
    plain_grams, grams["n"] = grams["n"], 0
    reused = newton(prob, start(prob), tol=1e-8, reuse_last_model=True)
    assert plain.converged and reused.converged
    np.testing.assert_allclose(reused.theta, plain.theta, atol=1e-7)
    assert reused.objective <= plain.objective + 1e-12 * abs(plain.objective)
    assert grams["n"] < plain_grams


def test_restrict_holds_other_coefficients_at_zero():
    prob = problem(l2=0.01, p=8)
    cols = np.array([0, 1, 4])
    sub = newton(prob, start(prob)[: len(cols) + 1], cols, tol=1e-10)
    # The same fit on all columns, with the others penalised out of the model.
    huge = np.full(prob.design.p, 1e6)
    huge[cols] = 0.0
    full = newton(replace(prob, l1=huge), start(prob), tol=1e-10)
    expected = np.zeros(prob.design.p)
    expected[cols] = sub.theta[1:]
    np.testing.assert_allclose(full.theta[1:], expected, atol=1e-8)
    np.testing.assert_allclose(full.theta[0], sub.theta[0], atol=1e-8)
    np.testing.assert_array_equal(sub.hess_cols, cols)
    assert sub.hess.shape == (len(cols) + 1, len(cols) + 1)


def test_fisher_matrix_is_one_step_from_the_solution():
    prob = problem()
    res = newton(prob, start(prob), tol=1e-8)
    _, _, fisher = prob.working_weights(res.eta)
    exact = to_numpy(prob.design.gram(fisher))
    np.testing.assert_allclose(res.hess, exact, rtol=1e-6)
    assert abs(res.loss - float(prob.loss(res.eta))) <= 1e-14 * abs(res.loss)


@pytest.mark.parametrize(("family", "link"), CASES)
def test_closed_form_intercept_equals_newton(family, link):
    prob = problem(family, link)
    closed = null._closed_form_intercept(prob)
    assert closed is not None
    by_newton = null._newton_intercept(prob, 1e-12, 200)
    np.testing.assert_allclose(closed, by_newton, rtol=1e-9, atol=1e-9)


def test_null_intercept_falls_back_to_newton_with_an_offset_or_a_boundary_mean():
    off = np.random.default_rng(1).uniform(-0.5, 0.5, 400)
    prob = problem("poisson", "log", offset=off)
    assert null._closed_form_intercept(prob) is None
    b0 = null.null_intercept(prob, 1e-12, 100)
    # The intercept-only Poisson MLE with an offset: log(sum y / sum exp(offset)).
    np.testing.assert_allclose(b0, np.log(prob.y.sum() / np.exp(off).sum()), rtol=1e-9)
    zeros = problem("poisson", "log")
    zeros.y = np.zeros_like(zeros.y)
    assert null._closed_form_intercept(zeros) is None
    assert np.isfinite(null.null_intercept(zeros, 1e-8, 100)).all()


# --- sampled Hessians for cold starts ------------------------------------------


def _count_grams(monkeypatch, design_cls):
    """Record the rows of every Gram matrix formed by ``design_cls`` and by its host views."""
    from glmlib.design.dense import DenseDesign, GatheredDense

    calls = []
    classes = [design_cls] + ([GatheredDense] if design_cls is DenseDesign else [])
    for cls in classes:
        _count(monkeypatch, cls, calls)
    return calls


def _count(monkeypatch, cls, calls):
    gram = cls.gram

    def counting_gram(self, d, intercept=True):
        calls.append(self.n)
        return gram(self, d, intercept)

    monkeypatch.setattr(cls, "gram", counting_gram)


@pytest.mark.parametrize(("family", "l1", "l2"), [("binomial", 0.0, 0.0), ("poisson", 0.0, 1e-3)])
@pytest.mark.parametrize("reuse", [False, True])
def test_sampled_start_reaches_the_exact_solution_with_one_full_gram_fewer(
    family, l1, l2, reuse, monkeypatch
):
    prob = problem(family, "logit" if family == "binomial" else "log", n=40_000, p=4, l1=l1, l2=l2)
    sampled_prob = prob.with_row_sample()
    idx, sample = sampled_prob.row_sample
    assert sample.n == prob.design.n // problem_mod._SAMPLE_FRACTION and np.all(np.diff(idx) > 0)
    # stratified: one row from each run of _SAMPLE_FRACTION consecutive rows
    np.testing.assert_array_equal(idx // problem_mod._SAMPLE_FRACTION, np.arange(sample.n))
    calls = _count_grams(monkeypatch, type(prob.design))
    exact = newton(prob, start(prob), tol=1e-8, reuse_last_model=reuse)
    exact_full = calls.count(prob.design.n)
    calls.clear()
    res = newton(sampled_prob, start(prob), tol=1e-8, reuse_last_model=reuse, sampled_start=True)
    assert res.converged
    # tolerance: both stop at tol = 1e-8 on the scaled step, well inside 1e-7
    np.testing.assert_allclose(res.theta, exact.theta, atol=1e-7)
    assert res.objective <= exact.objective + 1e-12 * abs(exact.objective)
    assert sample.n in calls  # the first steps used the sample
    assert calls.count(prob.design.n) < exact_full
    # The reported Fisher matrix is a full-data one (one step from the solution,
    # two with reuse), not the sample's estimate, which is off by about 3% here.
    eta = prob.eta(res.theta)
    at_solution = prob.design.gram(prob.working_weights(eta)[2])
    scale = np.max(np.abs(at_solution))
    np.testing.assert_allclose(res.hess, at_solution, atol=(1e-3 if reuse else 1e-7) * scale)


def test_row_sample_only_for_large_dense_designs():
    import scipy.sparse as sp

    small = problem(n=2000, p=4)
    assert small.with_row_sample().row_sample is None  # fewer than 256 rows per coefficient
    big = problem(n=40_000, p=4)
    sparse = replace(big, design=make_design(sp.csr_matrix(np.ones((40_000, 4))), big.backend))
    assert sparse.with_row_sample().row_sample is None


def test_sampled_start_without_a_sample_is_plain_newton():
    prob = problem(n=400, p=4, l2=0.01)
    plain = newton(prob, start(prob), tol=1e-10)
    flagged = newton(prob, start(prob), tol=1e-10, sampled_start=True)
    np.testing.assert_array_equal(flagged.theta, plain.theta)


# --- warm Hessians along a path (chord steps) ----------------------------------


@pytest.mark.parametrize("distortion", [1.0, 0.2, 10.0])
def test_warm_hessian_reaches_the_solution_and_a_poor_one_is_replaced(distortion, monkeypatch):
    """The next path point from the previous point's Hessian: same solution; a good warm
    Hessian saves Gram matrices, a poor one (scaled by 0.2 or 10) is dropped for fresh ones."""
    first = problem(l1=0.02, l2=0.0, n=2000, p=6)
    prev = newton(first, start(first), tol=1e-10, reuse_last_model=True)
    nxt = replace(first, l1=np.full(6, 0.015))
    calls = _count_grams(monkeypatch, type(first.design))
    cold = newton(nxt, prev.theta, tol=1e-10, reuse_last_model=True)
    cold_grams = len(calls)
    calls.clear()
    warm = newton(
        nxt, prev.theta, tol=1e-10, reuse_last_model=True, warm_hess=prev.hess * distortion
    )
    assert warm.converged
    # tolerance: both stop at tol = 1e-10 on the scaled step
    np.testing.assert_allclose(warm.theta, cold.theta, atol=1e-8)
    assert warm.objective <= cold.objective + 1e-12 * abs(cold.objective)
    if distortion == 1.0:
        assert len(calls) < cold_grams
    else:
        assert len(calls) >= 1


def test_path_points_reuse_the_previous_hessian_when_the_working_set_is_unchanged(monkeypatch):
    from glmlib.glm_cv import regularization_path

    prob = problem(n=3000, p=8)
    theta0 = start(prob)
    grad = prob.full_gradient(prob.eta(theta0))
    alpha_max = float(np.max(np.abs(grad)))
    alphas = alpha_max * np.geomspace(0.9, 0.05, 30)
    pf = np.ones(8)
    calls = _count_grams(monkeypatch, type(prob.design))
    coefs, _, _ = regularization_path(
        prob, theta0, alphas, 1.0, pf, tol=1e-8, max_iter=100, solver="auto"
    )
    # Each point needs at least one quadratic model; fewer Grams than points means reuse.
    assert len(calls) < len(alphas)
    for k in (5, 15, 29):  # every point is still the exact solution at its alpha
        lone = newton(
            replace(prob, l1=np.full(8, alphas[k])), theta0, tol=1e-10, reuse_last_model=False
        )
        np.testing.assert_allclose(coefs[k], lone.theta[1:], atol=1e-6)


# --- the between-iterations hook (the GAM's smoothness selection) --------------


def _penalty(p: int, seed: int = 4) -> np.ndarray:
    """A random p x p positive semi-definite penalty of rank p - 1."""
    a = np.random.default_rng(seed).normal(size=(p, p - 1))
    return 0.05 * a @ a.T


def test_hook_setting_a_penalty_equals_the_penalty_set_up_front():
    prob = problem(n=600, p=5)
    S = _penalty(5)
    fixed = newton(replace(prob, penalty_matrix=S), start(prob), tol=1e-10)
    seen = []

    def hook(state):
        seen.append((state.iteration, state.grad.shape, state.hess.shape, state.last_change))
        state.prob.penalty_matrix = S
        return True, {"marker": 1.0}

    hooked = newton(replace(prob), start(prob), tol=1e-10, between_iterations=hook)
    assert fixed.converged and hooked.converged
    # Same iterates from the same start: only round-off in the objective differs.
    np.testing.assert_allclose(hooked.theta, fixed.theta, rtol=1e-12, atol=1e-12)
    assert hooked.n_iter == fixed.n_iter == len(seen)
    assert abs(hooked.objective - fixed.objective) <= 1e-12 * abs(fixed.objective)
    assert seen[0] == (1, (6,), (6, 6), np.inf)
    assert all(row["marker"] == 1.0 for row in hooked.history)


def test_hook_that_forbids_stopping_keeps_iterating_and_one_that_allows_it_stops():
    prob = problem(n=600, p=5, l2=0.01)
    free = newton(prob, start(prob), tol=1e-8)
    calls = []

    def hold(state):
        calls.append(state.iteration)
        return state.iteration >= free.n_iter + 3, {}

    held = newton(prob, start(prob), tol=1e-8, between_iterations=hold)
    assert free.converged and held.converged
    assert held.n_iter == free.n_iter + 3 == len(calls)
    np.testing.assert_allclose(held.theta, free.theta, atol=1e-8)
    never = newton(
        prob, start(prob), tol=1e-8, max_iter=7, between_iterations=lambda s: (False, {})
    )
    assert never.n_iter == 7 and not never.converged


def test_hook_refuses_the_paths_that_skip_gram_matrices():
    prob = problem(n=200, p=3, l2=0.01)
    with pytest.raises(ValueError, match="fresh Gram"):
        newton(prob, start(prob), reuse_last_model=True, between_iterations=lambda s: (True, {}))


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_exact_gram_from_the_last_sampled_trial_changes_nothing(family, monkeypatch):
    """A cold start on sampled Hessians forms its first exact Gram matrix in the last
    sampled step's pass over X (no separate DenseDesign.gram call); the fit is the
    one with that fusion switched off, to round-off."""
    import glmlib.design.dense as dense

    prob = problem(family, "log" if family == "poisson" else "logit", n=40_000, p=4, l2=1e-3)
    prob = prob.with_row_sample()
    assert prob.row_sample is not None
    grams = []
    gram = dense.DenseDesign.gram
    monkeypatch.setattr(
        dense.DenseDesign,
        "gram",
        lambda self, d, intercept=True: grams.append(1) or gram(self, d, intercept),
    )
    fused = newton(replace(prob), start(prob), tol=1e-8, sampled_start=True)
    fused_grams = len(grams)
    monkeypatch.delattr(dense.DenseDesign, "matvec_rmatvec_gram")
    plain = newton(replace(prob), start(prob), tol=1e-8, sampled_start=True)
    assert fused.converged and plain.converged and fused.n_iter == plain.n_iter
    assert fused_grams < len(grams) - fused_grams
    np.testing.assert_allclose(fused.theta, plain.theta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused.hess, plain.hess, rtol=1e-12)
