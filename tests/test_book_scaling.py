"""Chapter 6's process code (``glmlib/book/scaling.py``), importable from an installed glmlib.

* ``make_data`` is reproducible and has the stated AR(1) correlation;
  ``objective`` equals scikit-learn's log-loss plus the ridge term (1e-12) and
  is the objective glmlib minimises (its gradient vanishes at glmlib's fit);
  ``step_size`` is 1 / L with L at least the Hessian's largest eigenvalue.
* In one pair of gloo processes (``glmlib.distributed.launch``, about 5 s):
  ``train_ddp``'s full-batch path equals NumPy gradient descent on all rows
  (1e-10), and ``newton_worker``'s fit equals the in-memory fit (1e-8) on
  both ranks, with its collectives counted and only the slowed rank sleeping.
* ``peak_memory`` through ``main`` (the ``python -m glmlib.book.scaling
  peak-memory`` command): Dask and in-memory fits of the same Parquet files
  agree (1e-8).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import log_loss

import glmlib
from glmlib.book import scaling

N, P, SEED = 400, 5, 3


def test_make_data_is_reproducible_and_ar1_correlated() -> None:
    X, y = scaling.make_data(N, P, SEED)
    X2, y2 = scaling.make_data(N, P, SEED)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (N, P) and set(np.unique(y)) == {0.0, 1.0}
    Xl, _ = scaling.make_data(50_000, 3, 0, rho=0.8)
    corr = np.corrcoef(Xl, rowvar=False)
    np.testing.assert_allclose([corr[0, 1], corr[1, 2], corr[0, 2]], [0.8, 0.8, 0.64], atol=0.02)


def test_objective_is_log_loss_plus_ridge_and_glmlib_minimises_it() -> None:
    X, y = scaling.make_data(N, P, SEED)
    rng = np.random.default_rng(0)
    b0, b = 0.2, rng.standard_normal(P)
    expected = log_loss(y, expit(b0 + X @ b)) + scaling.ALPHA / 2 * b @ b
    assert scaling.objective(b0, b, X, y, scaling.ALPHA) == pytest.approx(expected, rel=1e-12)

    fit = glmlib.GLM("binomial", alpha=scaling.ALPHA, tol=1e-12).fit(X, y)
    theta = np.r_[fit.intercept_, fit.coef_]
    h = 1e-6
    grad = [
        (
            scaling.objective(*np.split(theta + h * e, [1]), X, y, scaling.ALPHA)
            - scaling.objective(*np.split(theta - h * e, [1]), X, y, scaling.ALPHA)
        )
        / (2 * h)
        for e in np.eye(P + 1)
    ]
    np.testing.assert_allclose(grad, 0.0, atol=1e-8)


def test_step_size_bounds_the_hessian() -> None:
    X, y = scaling.make_data(N, P, SEED)
    L = 1.0 / scaling.step_size(X, scaling.ALPHA)
    A = np.column_stack([np.ones(N), X])
    for b in np.random.default_rng(1).standard_normal((5, P + 1)):
        mu = expit(A @ b)
        H = A.T @ (A * (mu * (1 - mu))[:, None]) / N + scaling.ALPHA * np.diag([0.0] + [1.0] * P)
        assert np.linalg.eigvalsh(H).max() <= L * (1 + 1e-12)


def numpy_gradient_descent(X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Full-batch gradient descent on the mean log-loss, weight decay on the coefficients only."""
    A = np.column_stack([np.ones(len(X)), X])
    theta, path = np.zeros(A.shape[1]), []
    for _ in range(steps):
        g = A.T @ (expit(A @ theta) - y) / len(y)
        g[1:] += scaling.ALPHA * theta[1:]
        theta = theta - lr * g
        path.append(theta.copy())
    return np.array(path)


def both_workers(rank: int, world: int) -> dict:
    """train_ddp (full batch, 30 steps) and newton_worker (one fit with rank 1 slowed)."""
    X, y = scaling.make_data(N, P, SEED)
    ddp = scaling.train_ddp(
        X, y, alpha=scaling.ALPHA, lr=scaling.step_size(X, scaling.ALPHA), steps=30
    )
    newton = scaling.newton_worker(rank, world, N, P, SEED, [(1, 0.01)])
    return {"ddp": ddp, "newton": newton}


def test_ddp_and_newton_workers_in_two_gloo_processes() -> None:
    pytest.importorskip("torch")
    from glmlib.distributed import launch

    results = launch(both_workers, 2, timeout=120)
    X, y = scaling.make_data(N, P, SEED)
    expected_path = numpy_gradient_descent(X, y, scaling.step_size(X, scaling.ALPHA), 30)
    for rank, r in enumerate(results):
        assert r["ddp"]["rank"] == rank and r["ddp"]["world"] == 2
        assert r["ddp"]["rows_per_step"] == N // 2
        np.testing.assert_allclose(r["ddp"]["path"], expected_path, rtol=1e-10, atol=1e-12)
        assert r["ddp"]["allreduce_calls"] == 30  # one gradient bucket per step
        assert r["ddp"]["allreduce_bytes"] == 30 * (P + 1) * 8

    reference = glmlib.GLM("binomial", alpha=scaling.ALPHA).fit(X, y)
    for rank, r in enumerate(results):
        (fit,) = r["newton"]
        np.testing.assert_allclose(fit["coef"], reference.coef_, rtol=1e-8, atol=1e-10)
        assert fit["intercept"] == pytest.approx(reference.intercept_, rel=1e-8)
        assert fit["allreduce_calls"] > fit["n_iter"] > 0
        assert fit["slept"] == (pytest.approx(0.01 * fit["n_iter"], rel=0.5) if rank else 0.0)


def test_peak_memory_command_fits_parquet_files_with_dask_and_in_memory(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("dask.dataframe")
    for i in range(3):
        Xi, yi = scaling.make_data(200, P, seed=i)
        frame = pd.DataFrame(Xi, columns=[f"x{j}" for j in range(P)]).assign(y=yi)
        frame.to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    out = {}
    for variant in ("dask", "memory"):
        assert scaling.main(["peak-memory", variant, str(tmp_path)]) == 0
        out[variant] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert set(out[variant]["stages"]) == {"after_imports", "after_load", "after_fit"}
        assert out[variant]["stages"]["after_fit"]["maxrss"] > 0
    np.testing.assert_allclose(out["dask"]["coef"], out["memory"]["coef"], rtol=1e-8)
    with pytest.raises(SystemExit):
        scaling.main(["peak-memory", "spark", str(tmp_path)])
