"""Rank-deficient unpenalised fits return the minimum-norm minimiser (``glm._minimum_norm``).

Against closed forms: the minimum-norm least-squares solution
``pinv([1 X]) y`` for a wide Gaussian problem, ``pinv([1 X]) log y`` for a wide
Poisson problem (which interpolates), and equal halves for a duplicated
column. The rank-deficiency warning, which promises the minimum-norm
solution, is still issued.
"""

from __future__ import annotations

import numpy as np
import pytest

import glmlib

TOL = 1e-8


def wide(n=30, p=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, np.column_stack([np.ones(n), X]), rng


def stacked(model):
    return np.r_[model.intercept_, model.coef_]


def test_wide_gaussian_is_the_least_squares_minimum_norm_solution():
    X, A, rng = wide()
    y = rng.normal(size=X.shape[0])
    with pytest.warns(UserWarning, match="minimum-norm solution"):
        model = glmlib.GLM("gaussian").fit(X, y)
    np.testing.assert_allclose(stacked(model), np.linalg.pinv(A) @ y, atol=TOL)


def test_wide_poisson_interpolates_with_the_minimum_norm_coefficients():
    X, A, rng = wide(seed=1)
    y = rng.poisson(3.0, size=X.shape[0]) + 1.0
    with pytest.warns(UserWarning, match="rank deficient"):
        model = glmlib.GLM("poisson").fit(X, y)
    np.testing.assert_allclose(stacked(model), np.linalg.pinv(A) @ np.log(y), atol=TOL)
    assert abs(model.deviance_) < 1e-8


def test_duplicated_column_gets_two_equal_halves():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 3))
    X = np.column_stack([X, X[:, 0]])
    y = rng.binomial(1, 1 / (1 + np.exp(-X[:, 0] + 0.5 * X[:, 1]))).astype(float)
    with pytest.warns(UserWarning, match="rank deficient"):
        model = glmlib.GLM("binomial").fit(X, y)
    single = glmlib.GLM("binomial").fit(X[:, :3], y)
    np.testing.assert_allclose(model.coef_[0], model.coef_[3], rtol=1e-9)
    np.testing.assert_allclose(model.coef_[0] + model.coef_[3], single.coef_[0], rtol=1e-7)
    np.testing.assert_allclose(model.deviance_, single.deviance_, rtol=1e-10)


def test_zero_weight_rows_do_not_count():
    """With zero weights on some rows, the minimisers and their minimum norm are those of the others."""
    X, A, rng = wide(n=40, p=30, seed=3)
    y = rng.normal(size=40)
    w = np.ones(40)
    w[25:] = 0.0  # 25 rows with weight, 31 coefficients: rank deficient
    with pytest.warns(UserWarning, match="rank deficient"):
        model = glmlib.GLM("gaussian").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(stacked(model), np.linalg.pinv(A[:25]) @ y[:25], atol=TOL)
