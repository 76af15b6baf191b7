"""The inner solvers of an L1 Newton step (``glmlib/solver/inner.py``).

Both minimise theta' H theta / 2 - c' theta + sum_j l1_j |theta_j|:

* with a diagonal H the minimiser is the soft threshold
  S(c_j, l1_j) / H_jj; both solvers find it to 1e-10;
* with l1 = 0 it is H^{-1} c (numpy.linalg.solve), to 1e-8;
* with a general positive definite H, coordinate descent and FISTA satisfy
  the KKT conditions to 1e-8 and agree with each other to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib.solver.inner import coordinate_descent, fista


def quadratic(p: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3 * p, p))
    H = A.T @ A / (3 * p) + 0.1 * np.eye(p)
    c = rng.normal(size=p)
    return H, c


def soft_threshold(c: np.ndarray, l1: np.ndarray) -> np.ndarray:
    return np.sign(c) * np.maximum(np.abs(c) - l1, 0.0)


@pytest.mark.parametrize("solver", [coordinate_descent, fista])
def test_diagonal_quadratic_gives_the_soft_threshold(solver) -> None:
    rng = np.random.default_rng(1)
    h = rng.uniform(0.5, 2.0, 6)
    c = rng.normal(size=6)
    l1 = np.full(6, 0.4)
    theta, _ = solver(np.diag(h), c, l1, np.zeros(6))
    np.testing.assert_allclose(theta, soft_threshold(c, l1) / h, rtol=0, atol=1e-10)
    assert np.sum(theta == 0) >= 1  # the threshold set some coefficients to exactly zero


@pytest.mark.parametrize("solver", [coordinate_descent, fista])
def test_without_l1_the_minimiser_solves_the_linear_system(solver) -> None:
    H, c = quadratic()
    theta, _ = solver(H, c, np.zeros(c.size), np.zeros(c.size))
    np.testing.assert_allclose(theta, np.linalg.solve(H, c), rtol=0, atol=1e-8)


def test_coordinate_descent_and_fista_agree_and_satisfy_kkt() -> None:
    H, c = quadratic(p=10, seed=3)
    l1 = np.full(10, 0.3)
    l1[0] = 0.0  # an unpenalised coefficient, like the intercept
    cd, _ = coordinate_descent(H, c, l1, np.zeros(10))
    fi, _ = fista(H, c, l1, np.zeros(10))
    np.testing.assert_allclose(cd, fi, rtol=0, atol=1e-8)
    for theta in (cd, fi):
        grad = H @ theta - c
        nonzero = theta != 0
        assert nonzero.any() and (~nonzero).any()
        np.testing.assert_allclose(grad[nonzero], -l1[nonzero] * np.sign(theta[nonzero]), atol=1e-8)
        assert np.all(np.abs(grad[~nonzero]) <= l1[~nonzero] + 1e-8)
