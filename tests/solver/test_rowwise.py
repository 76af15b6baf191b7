"""Tests for the fused per-row passes (``glmlib/solver/rowwise.py``) as ``Problem`` uses them.

For every family and link, the loss, the line-search trial (eta + t X step and
its objective) and the score and Fisher weights that ``Problem`` returns equal
the unfused computation (the same problem with its kernel switched off) to
1e-12, including linear predictors past the links' clipping bounds, infinite
and NaN ones, non-binary binomial proportions, zero weights and a NumPy eta
of another dtype. The kernels exist for binomial-logit and Poisson-log only;
every other case must take the unfused path (so it agrees trivially, and the
test says so by checking ``fused_kernel``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from glmlib.solver.rowwise import fused_kernel
from tests.solver.test_newton import CASES, problem

FUSED = {("binomial", "logit"), ("poisson", "log")}


def unfused(prob):
    """The same problem with the fused kernel switched off."""
    plain = replace(prob)
    plain._kernel = None
    return plain


def etas(family, n, rng):
    """Ordinary linear predictors plus values at and past the links' clipping bounds."""
    eta = 0.3 + rng.normal(size=n)
    if family == "binomial":
        eta[:6] = [40.0, -40.0, 36.04, -36.05, 1e3, -1e3]
    if family == "poisson":
        eta[:4] = [700.0, -700.0, 709.78 - 10.0, -800.0]
    return eta


def assert_close(a, b):
    a, b = float(a), float(b)
    if math.isinf(b):
        assert a == b
    else:
        assert abs(a - b) <= 1e-12 * max(abs(b), 1e-300)


def assert_all_close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("family", "link"), CASES)
def test_fused_equals_unfused_for_every_family_and_link(family, link):
    rng = np.random.default_rng(1)
    prob = problem(family, link, n=500, l2=0.01)
    plain = unfused(prob)
    assert (fused_kernel(prob) is not None) == ((family, link) in FUSED)
    n = prob.design.n
    eta = etas(family, n, rng) if (family, link) in FUSED else 0.5 + 0.1 * rng.normal(size=n)
    x_step = rng.normal(size=n)
    theta = rng.normal(size=prob.design.p + 1)
    l1, l2 = prob.penalties()

    assert_close(prob.loss(eta), plain.loss(eta))
    for got, want in zip(prob.score_fisher(eta), plain.working_weights(eta)[1:], strict=True):
        assert_all_close(got, want)
    for t in (1.0, 0.5, 2.0**-20):
        eta_t, f_t = prob.trial_objective(eta, x_step, t, theta, l1, l2)
        assert_all_close(eta_t, eta + t * x_step)
        assert_close(f_t, plain.objective(eta + t * x_step, theta, l1, l2))
        # The accepted point's weights come from the same pass.
        for got, want in zip(
            prob.score_fisher(eta_t), plain.working_weights(eta + t * x_step)[1:], strict=True
        ):
            assert_all_close(got, want)


@pytest.mark.parametrize(("family", "link"), sorted(FUSED))
def test_non_finite_eta_gives_an_infinite_loss(family, link):
    prob = problem(family, link, n=50)
    for bad in (math.inf, -math.inf, math.nan):
        eta = np.zeros(50)
        eta[7] = bad
        assert prob.loss(eta) == math.inf == unfused(prob).loss(eta)
        x_step = np.zeros(50)
        x_step[3] = bad
        _, f = prob.trial_objective(np.zeros(50), x_step, 1.0, np.zeros(7), *prob.penalties())
        assert f == math.inf


def test_binomial_proportions_and_weights():
    """Non-binary y (the entropy constant) and unequal weights, zero included (admissible 'all')."""
    rng = np.random.default_rng(2)
    prob = problem("binomial", "logit", n=300)
    w = rng.uniform(0.0, 2.0, 300)
    w[:10] = 0.0
    y = rng.uniform(size=300)
    y[10:20] = 0.0
    y[20:30] = 1.0
    for admissible in ("all", "weighted"):
        p = replace(prob, y=y, weights=w / w.sum(), admissible=admissible)
        assert (fused_kernel(p) is not None) == (admissible == "all")
        eta = etas("binomial", 300, rng)
        assert_close(p.loss(eta), unfused(p).loss(eta))
        for got, want in zip(p.score_fisher(eta), unfused(p).working_weights(eta)[1:], strict=True):
            assert_all_close(got, want)


def test_poisson_outside_its_shortcut_is_unfused():
    """Large counts turn Poisson's eta shortcut off, and with it the fused pass."""
    prob = problem("poisson", "log", n=100)
    big = replace(prob, y=np.full(100, 1e4))
    assert big._eta_loss_state() is None
    eta = np.full(100, 9.0)
    assert not big._fusable(eta)
    assert_close(big.loss(eta), unfused(big).loss(eta))


def test_other_eta_dtypes_take_the_unfused_path():
    prob = problem("binomial", "logit", n=100)
    eta32 = np.linspace(-3, 3, 100, dtype=np.float32)
    assert not prob._fusable(eta32)
    assert_close(prob.loss(eta32), unfused(prob).loss(eta32))


def test_torch_arrays_take_the_unfused_path():
    torch = pytest.importorskip("torch")
    from glmlib._backend import Backend
    from glmlib.design.make import make_design
    from glmlib.solver.problem import Problem

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 0.5).astype(float)
    b = Backend("torch", device="cpu")
    prob = Problem(
        design=make_design(b.asarray(X), b),
        y=b.asarray(y),
        weights=b.asarray(np.full(200, 1 / 200)),
        offset=b.asarray(np.zeros(200)),
        family=problem().family,
        l1=b.asarray(np.zeros(3)),
        l2=b.asarray(np.zeros(3)),
        backend=b,
    )
    assert fused_kernel(prob) is None
    eta = b.asarray(rng.normal(size=200))
    score, fisher = prob.score_fisher(eta)
    assert isinstance(score, torch.Tensor)
    host = problem()
    host = replace(host, y=y, weights=np.full(200, 1 / 200), offset=np.zeros(200))
    assert_close(float(prob.loss(eta)), host.loss(eta.numpy()))
    assert_all_close(fisher.numpy(), host.score_fisher(eta.numpy())[1])


def test_log1p_of_the_logit_pass_is_within_two_ulp():
    """The logit pass's log(1 + a), 0 <= a <= 1, against NumPy's log1p."""
    from glmlib.solver.rowwise import _log1p_unit

    a = np.concatenate(
        [np.random.default_rng(0).random(20_000), np.logspace(-300, 0, 2_000), [0.0, 1.0, 1e-17]]
    )
    got = np.array([_log1p_unit(x) for x in a])
    ref = np.log1p(a)
    np.testing.assert_array_equal(got[a == 0], 0.0)
    rel = np.abs(got - ref)[a > 0] / ref[a > 0]
    assert rel.max() <= 2 * np.finfo(np.float64).eps


@pytest.mark.parametrize("scale", [0.5, 10.0, 200.0])
def test_poisson_constant_equals_eta_loss_state(scale):
    """The fused pass's Poisson constant (one compiled pass) is the one
    ``Poisson.eta_loss_state`` forms, to 1e-12, with weights, zero counts and
    fractional responses; None exactly where that state is None (large counts)."""
    from glmlib.families import Poisson
    from glmlib.solver.rowwise import _log_pass, kernel_constant

    rng = np.random.default_rng(3)
    prob = problem("poisson", "log", n=400)
    y = rng.poisson(scale, 400).astype(np.float64)
    y[:30] = 0.0
    y[30:40] += 0.25
    w = rng.uniform(0.0, 2.0, 400)
    p = replace(prob, y=y, weights=w / w.sum())
    state = Poisson().eta_loss_state(p.y, p.weights)
    got = kernel_constant(p, _log_pass)
    assert (got is None) == (state is None)
    if state is not None:
        assert_close(got, state["constant"])


@pytest.mark.parametrize(("family", "link"), sorted(FUSED))
@pytest.mark.parametrize("value", [0.3, -2.0, 40.0, 800.0, -800.0, np.inf, np.nan])
def test_constant_eta_equals_the_same_values_in_a_vector(family, link, value):
    """A constant eta (stride 0, the null model's) takes the link's exp once: the loss, score
    and Fisher weights are exactly those of the same values as an ordinary vector."""
    from glmlib._backend import constant_vector

    prob = problem(family, link, n=200)
    const, full = constant_vector(200, value), np.full(200, value)
    assert prob._fusable(const)
    loss_c = float(prob.loss(const))
    score_c, fisher_c = prob.score_fisher(const)
    loss_f = float(prob.loss(full))
    score_f, fisher_f = prob.score_fisher(full)
    assert loss_c == loss_f or (math.isnan(loss_c) and math.isnan(loss_f))
    np.testing.assert_array_equal(score_c, score_f)
    np.testing.assert_array_equal(fisher_c, fisher_f)


@pytest.mark.parametrize(("family", "link"), sorted(FUSED))
@pytest.mark.parametrize("need_x_score", [True, False])
@pytest.mark.parametrize("constant_eta", [False, True])
def test_row_by_row_trial_equals_the_block_loop(
    family, link, need_x_score, constant_eta, monkeypatch
):
    """The full-step trial as one compiled loop over X's rows (taken with one BLAS thread)
    against the block loop of BLAS products: X @ step, the trial point, its objective,
    its working weights and X.T @ score, to 1e-12; unit weights and the null model's
    constant eta arrive as stride-0 vectors, as in a fit."""
    import glmlib.design.dense as dense
    from glmlib._backend import constant_vector

    rng = np.random.default_rng(4)
    n = 3000  # several of the block loop's blocks (_chunk_rows: 1024 rows at least)
    prob = replace(problem(family, link, n=n, l2=0.01), weights=constant_vector(n, 1.0 / n))
    eta = constant_vector(n, 0.2) if constant_eta else etas(family, n, rng)
    step = 0.3 * rng.normal(size=prob.design.p + 1)
    theta = rng.normal(size=prob.design.p + 1)
    l1, l2 = prob.penalties()
    got = {}
    for threads in (1, 2):
        monkeypatch.setattr(dense, "blas_threads", lambda threads=threads: threads)
        p = replace(prob)
        x_step, eta_t, f = p.full_step_trial(eta, step, theta, l1, l2, need_x_score)
        x_score = p.x_score(eta_t)
        got[threads] = (x_step, eta_t, f, *p.score_fisher(eta_t), x_score)
    rows, blocks = got[1], got[2]
    for a, b in zip(rows[:2] + rows[3:5], blocks[:2] + blocks[3:5], strict=True):
        assert_all_close(a, b)
    assert_close(rows[2], blocks[2])
    if need_x_score:
        np.testing.assert_allclose(rows[5], blocks[5], rtol=1e-12, atol=1e-14)
    else:
        assert rows[5] is None and blocks[5] is None


def test_row_by_row_trial_needs_a_c_ordered_x(monkeypatch):
    """An F-ordered X takes the block loop, whatever the threads."""
    import glmlib.design.dense as dense

    monkeypatch.setattr(dense, "blas_threads", lambda: 1)
    prob = problem("poisson", "log", n=2000)
    calls = []
    kernel = prob._kernel if prob._fusable(np.zeros(1)) else None
    assert kernel is not None
    f_prob = replace(prob, design=type(prob.design)(np.asfortranarray(prob.design.X), prob.backend))
    original = kernel.over_rows
    monkeypatch.setattr(kernel, "over_rows", lambda *a: calls.append(1) or original(*a))
    step = np.full(prob.design.p + 1, 0.01)
    theta = step.copy()
    f_prob.full_step_trial(np.zeros(2000), step, theta, *prob.penalties())
    assert calls == []
    prob.full_step_trial(np.zeros(2000), step, theta, *prob.penalties())
    assert calls == [1]


@pytest.mark.parametrize(("family", "link"), sorted(FUSED))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_trial_gram_equals_the_design_gram(family, link, threads, fit_intercept, monkeypatch):
    """full_step_trial(need_gram=True) forms X'WX at the trial point from its own blocks:
    the design's gram of the trial's Fisher weights (to 1e-13: sums over quarter blocks),
    on either path; the trial's other results are those of a trial without it (1e-12)."""
    import glmlib.design.dense as dense

    monkeypatch.setattr(dense, "blas_threads", lambda: threads)
    rng = np.random.default_rng(5)
    n = 3000
    prob = replace(problem(family, link, n=n, l2=0.01), fit_intercept=fit_intercept)
    eta = etas(family, n, rng)
    k = prob.design.p + int(fit_intercept)
    step, theta = 0.3 * rng.normal(size=k), rng.normal(size=k)
    l1, l2 = prob.penalties()
    with_gram, plain = replace(prob), replace(prob)
    x_step, eta_t, f = with_gram.full_step_trial(eta, step, theta, l1, l2, True, True)
    x_step0, eta_t0, f0 = plain.full_step_trial(eta, step, theta, l1, l2, True, False)
    gram = with_gram.gram(eta_t, None)  # the trial's: no Fisher weights needed
    score, fisher = with_gram.score_fisher(eta_t)
    np.testing.assert_allclose(gram, prob.design.gram(fisher, intercept=fit_intercept), rtol=1e-13)
    assert with_gram.gram(eta_t, fisher) is not gram  # handed over once, then formed again
    assert_all_close(x_step, x_step0)
    assert_all_close(eta_t, eta_t0)
    assert_close(f, f0)
    assert_all_close(with_gram.x_score(eta_t), plain.x_score(eta_t0))


@pytest.mark.parametrize(("family", "link"), sorted(FUSED))
@pytest.mark.parametrize("value", [0.3, -2.0, 40.0, 800.0])
def test_constant_eta_forms_its_mean_once_with_the_same_results(family, link, value):
    """The null model's eta, a stride-0 constant vector, has its terms of eta formed once
    per pass: loss, score and Fisher weights equal the unfused ones at the full vector."""
    from glmlib._backend import constant_vector

    prob = problem(family, link, n=300)
    eta = constant_vector(300, value)
    full = np.full(300, value)
    assert_close(prob.loss(eta), unfused(prob).loss(full))
    for got, want in zip(
        prob.score_fisher(eta), unfused(prob).working_weights(full)[1:], strict=True
    ):
        assert_all_close(got, want)
