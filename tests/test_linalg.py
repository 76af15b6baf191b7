"""Tests for glmlib._linalg: equilibrated Cholesky with an eigen fallback.

References are NumPy's own dense routines (inv, pinv, slogdet, lstsq) on
well-posed problems and closed forms for rank-deficient ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from glmlib._linalg import (
    SymmetricFactor,
    device_of,
    pinv_solve,
    psd_eigh,
    psd_root,
    rank_rtol,
)


def _spd(k: int, seed: int = 0, scales: np.ndarray | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3 * k, k))
    if scales is not None:
        x = x * scales
    return x.T @ x


def _rank_deficient(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 5 x 5 Gram matrix of rank 4 (column 4 = column 0 + column 1) with badly scaled columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 5)) * np.array([1.0, 1e3, 1e-3, 1.0, 1.0])
    x[:, 4] = x[:, 0] + x[:, 1]
    return x.T @ x, x


def test_solve_inverse_logdet_match_numpy_on_badly_scaled_matrix() -> None:
    a = _spd(6, scales=np.array([1e-4, 1.0, 1e4, 1.0, 10.0, 0.1]))
    b = np.arange(1.0, 7.0)
    f = SymmetricFactor(a)
    assert f.ok and f.rank == 6
    np.testing.assert_allclose(f.solve(b), np.linalg.solve(a, b), rtol=1e-9)
    rhs = np.column_stack([b, -b])
    np.testing.assert_allclose(f.solve(rhs), np.linalg.solve(a, rhs), rtol=1e-9)
    inv = f.inverse()
    np.testing.assert_allclose(inv, np.linalg.inv(a), rtol=1e-9)
    np.testing.assert_allclose(inv, inv.T, rtol=1e-12)
    np.testing.assert_allclose(f.inverse_diagonal(), np.diag(np.linalg.inv(a)), rtol=1e-9)
    assert f.logdet() == pytest.approx(np.linalg.slogdet(a)[1], rel=1e-12)
    assert f.null_basis().shape == (6, 0)


def test_singular_matrix_falls_back_to_eigen() -> None:
    a, x = _rank_deficient()
    f = SymmetricFactor(a)
    assert not f.ok
    assert f.rank == 4
    assert f.inverse_diagonal() is None
    # The solve is a least-squares solution of a consistent system.
    b = a @ np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(a @ f.solve(b), b, rtol=1e-8, atol=1e-8 * np.abs(b).max())
    # The null space is spanned by (1, 1, 0, 0, -1): columns 0 + 1 - 4 = 0.
    basis = f.null_basis()
    assert basis.shape == (5, 1)
    v = np.array([1.0, 1.0, 0.0, 0.0, -1.0]) / np.sqrt(3.0)
    assert abs(float(basis[:, 0] @ v)) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(x @ basis, 0.0, atol=1e-8)


def test_cholesky_false_gives_rank_and_equilibrated_pseudo_inverse() -> None:
    a, _ = _rank_deficient(1)
    f = SymmetricFactor(a, cholesky=False, eig_rtol=rank_rtol(5))
    assert not f.ok and f.rank == 4
    g = f.inverse()
    # A generalised inverse: a g a = a (relative to a's scale, which spans 1e-6 to 1e6).
    d = np.sqrt(np.diag(a))
    np.testing.assert_allclose((a @ g @ a) / np.outer(d, d), a / np.outer(d, d), atol=1e-9)
    # On a full-rank matrix the eigen route gives the inverse.
    s = _spd(4, seed=2)
    np.testing.assert_allclose(
        SymmetricFactor(s, cholesky=False).inverse(), np.linalg.inv(s), rtol=1e-9
    )


def test_pseudo_logdet_of_singular_matrix() -> None:
    """log|a|_+ = sum of log non-zero eigenvalues of the equilibrated matrix + log|D|^2."""
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(4, 4)))
    a = q[:, :3] @ np.diag([2.0, 3.0, 5.0]) @ q[:, :3].T
    f = SymmetricFactor(a, pivot_rtol=0.0, eig_rtol=rank_rtol(4, 10.0))
    assert not f.ok and f.rank == 3
    d = np.sqrt(np.diag(a))
    e = np.linalg.eigvalsh(a / np.outer(d, d))[1:]
    assert f.logdet() == pytest.approx(np.sum(np.log(e)) + 2 * np.sum(np.log(d)), rel=1e-10)


def test_pivot_rtol_decides_ill_conditioned_matrices() -> None:
    """Condition number ~1e14: positive definite to Cholesky, singular at the default pivot test."""
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(3, 3)))
    a = q @ np.diag([1.0, 1.0, 1e-14]) @ q.T
    assert not SymmetricFactor(a).ok
    assert SymmetricFactor(a, pivot_rtol=0.0).ok


def test_pinv_solve_matches_numpy_pinv_and_lstsq() -> None:
    a, _ = _rank_deficient(5)
    b = np.random.default_rng(6).normal(size=5)
    expected = np.linalg.lstsq(a, b, rcond=1e-10)[0]
    np.testing.assert_allclose(pinv_solve(a, b, 1e-10), expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        pinv_solve(a, np.eye(5), 1e-10), np.linalg.pinv(a, rcond=1e-10), rtol=1e-6, atol=1e-12
    )


def test_psd_eigh_rank_of_projection() -> None:
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(6, 6)))
    p = q[:, :2] @ q[:, :2].T
    evals, evecs, keep = psd_eigh(p, rank_rtol(6))
    assert int(keep.sum()) == 2
    np.testing.assert_allclose(evals[keep], 1.0, rtol=1e-12)
    np.testing.assert_allclose(evecs[:, keep] @ evecs[:, keep].T, p, atol=1e-12)


def test_empty_matrix() -> None:
    f = SymmetricFactor(np.zeros((0, 0)))
    assert f.rank == 0
    assert f.solve(np.zeros(0)).shape == (0,)


def test_device_of() -> None:
    assert device_of(np.zeros(2)) == "cpu"


def test_torch_factor_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    a = _spd(5, seed=8, scales=np.array([1e-3, 1.0, 1e3, 1.0, 1.0]))
    b = np.arange(5.0)
    ft = SymmetricFactor(torch.as_tensor(a))
    assert ft.ok and device_of(ft.d) == torch.device("cpu")
    np.testing.assert_allclose(
        ft.solve(torch.as_tensor(b)).numpy(), np.linalg.solve(a, b), rtol=1e-9
    )
    np.testing.assert_allclose(ft.inverse_diagonal().numpy(), np.diag(np.linalg.inv(a)), rtol=1e-9)
    assert ft.logdet() == pytest.approx(np.linalg.slogdet(a)[1], rel=1e-12)
    sing, _ = _rank_deficient(9)
    fs = SymmetricFactor(torch.as_tensor(sing))
    fn = SymmetricFactor(sing)
    assert not fs.ok and fs.rank == fn.rank == 4
    np.testing.assert_allclose(
        fs.solve(torch.as_tensor(b)).numpy(), fn.solve(b), rtol=1e-6, atol=1e-9
    )


def test_psd_root_of_singular_matrix() -> None:
    a, _ = _rank_deficient(10)
    r = psd_root(a)
    np.testing.assert_allclose(r @ r.T, a, rtol=1e-9, atol=1e-9 * np.abs(a).max())
