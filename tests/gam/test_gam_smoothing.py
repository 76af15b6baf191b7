"""glmlib.gam._smoothing: REML, GCV and UBRE criteria against brute force, and their gradients.

The references are computed here from first principles with n x n matrices:
REML from the restricted likelihood of the equivalent linear mixed model
(Patterson and Thompson 1971; the smooth's penalised part as a random effect),
GCV and UBRE from the hat matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib.gam._smoothing import (
    Criterion,
    PenaltyBlock,
    PenaltyStructure,
    WorkingModel,
    select_smoothing,
)
from glmlib.gam._terms import s, te


def _problem(seed: int = 0, n: int = 40, k: int = 9):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n))
    y = np.sin(2 * np.pi * x) + rng.normal(0, 0.4, n)
    term = s(0, n_splines=k)
    B = term.fit_transform([x], ["x"])
    X = np.column_stack([np.ones(n), B])
    structure = PenaltyStructure(
        X.shape[1], [PenaltyBlock(1, X.shape[1], term.penalties, [0], [None])], 1
    )
    model = WorkingModel(
        A=X.T @ X, r=X.T @ y, c=float(y @ y), theta=np.zeros(X.shape[1]), n=float(n)
    )
    return X, y, term.penalties[0], structure, model


def _restricted_loglik(X, y, P, lam, phi):  # noqa: ANN001, ANN202
    """Patterson-Thompson REML log-likelihood of y = X_f a + Z b + e, b ~ N(0, phi/lam D^-1)."""
    n = X.shape[0]
    evals, evecs = np.linalg.eigh(P)
    pos = evals > 1e-10 * evals.max()
    B = X[:, 1:]
    Xf = np.column_stack([X[:, :1], B @ evecs[:, ~pos]])
    Z = B @ evecs[:, pos]
    V = phi * (np.eye(n) + Z @ np.diag(1.0 / (lam * evals[pos])) @ Z.T)
    Vi = np.linalg.inv(V)
    XtViX = Xf.T @ Vi @ Xf
    a = np.linalg.solve(XtViX, Xf.T @ Vi @ y)
    res = y - Xf @ a
    return -0.5 * (
        np.linalg.slogdet(V)[1]
        + np.linalg.slogdet(XtViX)[1]
        + res @ Vi @ res
        + (n - Xf.shape[1]) * np.log(2 * np.pi)
    )


def test_known_scale_reml_is_the_mixed_model_restricted_likelihood() -> None:
    X, y, P, structure, model = _problem()
    phi = 0.3
    crit = Criterion(model, structure, "REML", scale=phi)
    lams = [0.01, 0.3, 5.0, 200.0]
    ours = np.array([crit.value_and_grad(np.log([lam]))[0] for lam in lams])
    ref = np.array([-_restricted_loglik(X, y, P, lam, phi) for lam in lams])
    np.testing.assert_allclose(ours - ours[0], ref - ref[0], rtol=1e-8, atol=1e-8)


def test_profiled_reml_is_the_restricted_likelihood_maximised_over_the_scale() -> None:
    X, y, P, structure, model = _problem(seed=1)
    crit = Criterion(model, structure, "REML", scale=None)
    M = structure.null_dim
    n = X.shape[0]
    lams = [0.05, 1.0, 30.0]
    ours, ref = [], []
    for lam in lams:
        ours.append(crit.value_and_grad(np.log([lam]))[0])
        beta = crit.fit(np.log([lam]))[0]
        dp = float(np.sum((y - X @ beta) ** 2) + lam * beta[1:] @ P @ beta[1:])
        ref.append(-_restricted_loglik(X, y, P, lam, dp / (n - M)))
    ours, ref = np.array(ours), np.array(ref)
    np.testing.assert_allclose(ours - ours[0], ref - ref[0], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("method", ["GCV", "UBRE"])
def test_gcv_and_ubre_from_the_hat_matrix(method: str) -> None:
    X, y, P, structure, model = _problem(seed=2)
    n = X.shape[0]
    Spad = np.zeros((X.shape[1], X.shape[1]))
    crit = Criterion(model, structure, method, scale=0.2 if method == "UBRE" else None)
    for lam in [0.02, 2.0, 100.0]:
        Spad[1:, 1:] = lam * P
        F = X @ np.linalg.solve(X.T @ X + Spad, X.T)
        rss = np.sum((y - F @ y) ** 2)
        tau = np.trace(F)
        expected = (
            n * rss / (n - tau) ** 2 if method == "GCV" else rss / n - 0.2 + 2 * 0.2 * tau / n
        )
        assert crit.value_and_grad(np.log([lam]))[0] == pytest.approx(expected, rel=1e-9)


def _tensor_structure(seed: int = 3):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    n = 120
    x1, x2, x3 = rng.uniform(size=(3, n))
    y = np.sin(3 * x1) * x2 + x3 + rng.normal(0, 0.3, n)
    t1, t2 = s(0, n_splines=8), te(1, 2, n_splines=[4, 5], lam=[None, 2.0])
    B1 = t1.fit_transform([x1], ["a"])
    B2 = t2.fit_transform([x2, x3], ["b", "c"])
    X = np.column_stack([np.ones(n), B1, B2])
    q = X.shape[1]
    blocks = [
        PenaltyBlock(1, 1 + B1.shape[1], t1.penalties, [0], [None]),
        PenaltyBlock(1 + B1.shape[1], q, t2.penalties, [1, None], [None, 2.0]),
    ]
    w = rng.uniform(0.5, 2.0, n)
    theta = rng.normal(0, 0.1, q)
    resid = y - X @ theta
    model = WorkingModel(
        A=X.T @ (w[:, None] * X),
        r=X.T @ (w * resid),
        c=float(w @ resid**2),
        theta=theta,
        n=float(n),
    )
    return PenaltyStructure(q, blocks, 2), model


@pytest.mark.parametrize(
    ("method", "scale"), [("REML", None), ("REML", 0.5), ("GCV", None), ("UBRE", 1.0)]
)
def test_analytic_gradients_match_finite_differences(method: str, scale: float | None) -> None:
    structure, model = _tensor_structure()
    crit = Criterion(model, structure, method, scale)
    rho = np.log([3.0, 0.4])
    _, grad = crit.value_and_grad(rho)
    h = 1e-5
    fd = [
        (crit.value_and_grad(rho + h * e)[0] - crit.value_and_grad(rho - h * e)[0]) / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(
        grad, fd, rtol=1e-5, atol=1e-9 * max(1.0, abs(crit.value_and_grad(rho)[0]))
    )


def test_working_residual_form_equals_the_plain_form() -> None:
    """theta only re-centres the statistics: the fit and the criteria do not depend on it."""
    X, y, P, structure, model = _problem(seed=4)
    theta = np.random.default_rng(0).normal(size=X.shape[1])
    resid = y - X @ theta
    moved = WorkingModel(model.A, X.T @ resid, float(resid @ resid), theta, model.n)
    for method in ["REML", "GCV"]:
        a = Criterion(model, structure, method, None).value_and_grad(np.log([0.7]))
        b = Criterion(moved, structure, method, None).value_and_grad(np.log([0.7]))
        np.testing.assert_allclose(a[0], b[0], rtol=1e-9)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-7)


def test_selection_finds_the_grid_minimum() -> None:
    X, y, P, structure, model = _problem(seed=5, n=80)
    crit = Criterion(model, structure, "REML", None)
    rho, value, _ = select_smoothing(crit, np.array([0.0]), [(-10.0, 12.0)])
    grid = np.linspace(-10, 12, 2001)
    values = [crit.value_and_grad(np.array([g]))[0] for g in grid]
    assert value <= min(values) + 1e-6
    assert abs(rho[0] - grid[int(np.argmin(values))]) < 0.05
