"""glmlib.gam._basis: B-spline bases and difference penalties, checked against pyGAM and math."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from glmlib.gam._basis import (
    bspline_basis,
    bspline_knots,
    dense,
    difference_penalty,
    kron_penalties,
    row_kronecker,
)

pygam_utils = pytest.importorskip("pygam.utils")
pygam_penalties = pytest.importorskip("pygam.penalties")


@pytest.mark.parametrize(("n_splines", "order"), [(20, 3), (10, 3), (8, 2), (5, 1), (4, 3)])
def test_basis_matches_pygam_inside_and_beyond_the_range(n_splines: int, order: int) -> None:
    rng = np.random.default_rng(0)
    x_train = rng.uniform(-2.0, 3.0, 300)
    lo, hi = x_train.min(), x_train.max()
    x = np.concatenate([x_train, [lo - 0.7, hi + 1.3, lo, hi]])
    knots = bspline_knots(lo, hi, n_splines, order)
    ours = dense(bspline_basis(x, knots, order))
    theirs = pygam_utils.b_spline_basis(
        x, np.array([lo, hi]), n_splines, order, sparse=False, periodic=False
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_basis_is_a_sparse_partition_of_unity_inside_the_range() -> None:
    x = np.linspace(0.0, 1.0, 501)
    B = bspline_basis(x, bspline_knots(0.0, 1.0, 12, 3), 3)
    assert sp.issparse(B)
    assert B.shape == (501, 12)
    np.testing.assert_allclose(np.asarray(B.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    assert np.diff(B.tocsr().indptr).max() <= 4


def test_basis_extrapolates_linearly() -> None:
    knots = bspline_knots(0.0, 1.0, 10, 3)
    x = np.array([1.5, 2.0, 2.5])
    B = bspline_basis(x, knots, 3)
    np.testing.assert_allclose(B[1] - B[0], B[2] - B[1], atol=1e-12)


def test_knots_are_equally_spaced_over_the_range() -> None:
    t = bspline_knots(2.0, 5.0, 20, 3)
    assert t.shape == (24,)
    np.testing.assert_allclose(np.diff(t), 3.0 / 17)
    assert t[3] == 2.0 and t[20] == 5.0


@pytest.mark.parametrize("order", [1, 2, 3])
def test_difference_penalty_matches_pygam_and_kills_polynomials(order: int) -> None:
    P = difference_penalty(12, order)
    np.testing.assert_allclose(P, pygam_penalties.derivative(12, None, order).toarray())
    k = np.arange(12.0)
    for degree in range(order):
        np.testing.assert_allclose(P @ k**degree, 0.0, atol=1e-8)
    assert np.linalg.matrix_rank(P) == 12 - order


def test_ridge_penalty() -> None:
    np.testing.assert_array_equal(difference_penalty(4, 0), np.eye(4))


def test_row_kronecker_and_kron_penalties() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    out = row_kronecker([a, b])
    assert out.shape == (5, 12)
    for i in range(5):
        np.testing.assert_allclose(out[i], np.kron(a[i], b[i]))
    p1, p2 = difference_penalty(3, 2), difference_penalty(4, 2)
    s1, s2 = kron_penalties([p1, p2])
    np.testing.assert_allclose(s1, np.kron(p1, np.eye(4)))
    np.testing.assert_allclose(s2, np.kron(np.eye(3), p2))
