"""Tests for the arrow factorisation (``glmlib/_arrow.py``).

Reference: :class:`glmlib._linalg.SymmetricFactor` of the same matrix (a
dense Cholesky), solves equal to 1e-10 relative; its success test agrees.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib._arrow import ArrowFactor, with_diagonal
from glmlib._linalg import SymmetricFactor


def arrow(k=50, r=8, seed=0, scale_spread=3.0):
    """A positive definite matrix whose first k columns have a diagonal block, then shuffled."""
    rng = np.random.default_rng(seed)
    # Rows of a one-hot categorical (k levels) beside r dense columns.
    n = 2000
    codes = rng.integers(0, k, n)
    Z = np.zeros((n, k + r))
    Z[np.arange(n), codes] = 1.0
    Z[:, k:] = rng.normal(size=(n, r)) * 10.0 ** rng.uniform(-scale_spread, scale_spread, r)
    w = rng.uniform(0.1, 2.0, n)
    a = Z.T @ (Z * w[:, None]) + 1e-6 * np.eye(k + r)
    perm = rng.permutation(k + r)
    inv = np.argsort(perm)
    return a[np.ix_(perm, perm)], inv[:k]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solves_equal_dense_cholesky(seed):
    a, diag = arrow(seed=seed)
    f, ref = ArrowFactor(a, diag), SymmetricFactor(a)
    assert f.ok and ref.ok
    b = np.random.default_rng(seed).normal(size=(a.shape[0], 3))
    for rhs in (b[:, 0], b):
        x = f.solve(rhs)
        np.testing.assert_allclose(x, ref.solve(rhs), rtol=1e-10, atol=1e-10 * np.abs(x).max())
    np.testing.assert_allclose(a @ f.solve(b[:, 0]), b[:, 0], rtol=1e-9, atol=1e-9)


def test_other_results_come_from_the_dense_factor():
    a, diag = arrow()
    f, ref = ArrowFactor(a, diag), SymmetricFactor(a)
    np.testing.assert_allclose(f.inverse(), ref.inverse(), rtol=1e-10)
    assert f.logdet() == pytest.approx(ref.logdet(), rel=1e-12)
    assert f.rank == ref.rank


def test_singular_falls_back_to_minimum_norm():
    a, diag = arrow()
    a[diag[0], :] = a[:, diag[0]] = 0.0  # a level with no rows and no penalty
    f, ref = ArrowFactor(a, diag), SymmetricFactor(a)
    assert not f.ok and not ref.ok
    b = np.random.default_rng(5).normal(size=a.shape[0])
    np.testing.assert_allclose(f.solve(b), ref.solve(b), rtol=1e-8, atol=1e-10)


def test_singular_schur_complement_is_not_ok():
    a, diag = arrow(k=20, r=4)
    rest = np.setdiff1d(np.arange(a.shape[0]), diag)
    # duplicate a dense column: the Schur complement is singular
    j, i = rest[0], rest[1]
    a[:, i] = a[:, j]
    a[i, :] = a[j, :]
    a[i, i] = a[j, j]
    assert not ArrowFactor(a, diag).ok
    assert not SymmetricFactor(a).ok


@pytest.mark.parametrize("seed", [0, 1])
def test_shift_is_the_factor_of_a_plus_its_diagonal(seed):
    """``shift`` (a ridge diagonal) gives the factorisation of a + diag(shift) without forming it;
    ``a`` is left unchanged."""
    a, diag = arrow(seed=seed)
    shift = np.random.default_rng(seed).uniform(0.0, 1e-2, a.shape[0])
    shift[0] = 0.0  # an unpenalised intercept
    before = a.copy()
    f, ref = ArrowFactor(a, diag, shift=shift), ArrowFactor(a + np.eye(a.shape[0]) * shift, diag)
    assert f.ok and ref.ok
    b = np.random.default_rng(seed).normal(size=a.shape[0])
    np.testing.assert_array_equal(f.solve(b), ref.solve(b))
    np.testing.assert_allclose(f.inverse(), ref.inverse(), rtol=1e-12)
    np.testing.assert_array_equal(a, before)


def test_with_diagonal_equals_adding_a_diagonal_matrix():
    a, _ = arrow(k=10, r=3)
    shift = np.linspace(0.0, 1.0, a.shape[0])
    out = with_diagonal(a, shift)
    np.testing.assert_array_equal(out, a + np.eye(a.shape[0]) * shift)
    assert out is not a and with_diagonal(a, None) is a
    assert with_diagonal(a.astype(np.float32), shift).dtype == np.float64  # as the sum's dtype
