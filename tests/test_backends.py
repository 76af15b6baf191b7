"""Tests for the array backends (``glmlib/_backend.py``) and the inner solvers
(``glmlib/solver/inner.py``) they run.

* The PyTorch-CPU backend reproduces the NumPy backend to 1e-8 (float64) for
  unpenalised, ridge, lasso and elastic-net fits of several families, with
  NumPy input and ``backend="torch"`` and with torch tensor input.
* FISTA (the GPU inner solver) and coordinate descent (the CPU one) reach the
  same minimiser of random penalised quadratics, and proximal Newton gives the
  same GLM fit with either.
* CUDA tests (marked ``gpu``, skipped without a GPU) repeat the fits on
  ``device="cuda"`` in float64 (1e-8) and float32 (1e-4).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import glmlib
from glmlib import GLM
from glmlib._backend import Backend, resolve_backend, to_numpy
from glmlib.design.make import make_design
from glmlib.families import NegativeBinomial, get_family
from glmlib.solver.inner import coordinate_descent, fista
from glmlib.solver.newton import newton
from glmlib.solver.problem import Problem

torch = pytest.importorskip("torch")

FAMILIES = [
    ("gaussian", "identity"),
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("poisson", "log"),
    ("gamma", "log"),
    ("negative_binomial", "log"),
]
PENALTIES = {
    "unpenalised": (0.0, 0.0),
    "ridge": (0.05, 0.0),
    "lasso": (0.02, 1.0),
    "enet": (0.03, 0.5),
}
TOL = 1e-8  # numpy vs torch-CPU, float64


def make_data(family, n=300, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.array([0.6, -0.4, 0.0, 0.3, 0.0, -0.2])[:p]
    eta = 0.3 + 0.5 * X @ beta
    if family == "gaussian":
        y = eta + rng.normal(size=n)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    elif family in ("poisson", "negative_binomial"):
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(4.0, np.exp(eta) / 4.0)
    w = rng.uniform(0.5, 2.0, n)
    off = rng.uniform(-0.2, 0.2, n) if family != "binomial" else np.zeros(n)
    return X, y, w, off


def estimator(family, link, penalty, **kw):
    alpha, l1_ratio = PENALTIES[penalty]
    fam = NegativeBinomial(alpha=0.7) if family == "negative_binomial" else family
    return GLM(family=fam, link=link, alpha=alpha, l1_ratio=l1_ratio, **kw)


def assert_same_fit(a, b, tol):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.deviance_, b.deviance_, rtol=tol)
    np.testing.assert_allclose(a.null_deviance_, b.null_deviance_, rtol=tol)
    np.testing.assert_allclose(a.scale_, b.scale_, rtol=tol)
    if not math.isnan(a.aic_):
        np.testing.assert_allclose(a.aic_, b.aic_, rtol=tol)
    np.testing.assert_allclose(a.df_model_, b.df_model_, rtol=tol)
    np.testing.assert_array_equal(a.coef_ == 0, b.coef_ == 0)


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_torch_backend_with_numpy_input_matches_numpy(family, link, penalty):
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    model = estimator(family, link, penalty, backend="torch").fit(X, y, sample_weight=w, offset=off)
    assert_same_fit(model, ref, TOL)
    np.testing.assert_allclose(
        to_numpy(model.predict(X, offset=off)), ref.predict(X, offset=off), rtol=TOL
    )
    if penalty == "unpenalised":
        np.testing.assert_allclose(model.covariance(), ref.covariance(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_torch_tensor_input_matches_numpy(family, link, penalty):
    """Tensors select the torch backend; predictions come back as tensors."""
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    Xt = torch.as_tensor(X)
    model = estimator(family, link, penalty).fit(
        Xt, torch.as_tensor(y), sample_weight=torch.as_tensor(w), offset=torch.as_tensor(off)
    )
    assert_same_fit(model, ref, TOL)
    pred = model.predict(Xt, offset=torch.as_tensor(off))
    assert isinstance(pred, torch.Tensor)
    np.testing.assert_allclose(pred.numpy(), ref.predict(X, offset=off), rtol=TOL)
    assert isinstance(model.coef_, np.ndarray)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("penalty", ["unpenalised", "lasso"])
def test_torch_backend_with_scipy_sparse_matches_dense_numpy(fmt, penalty):
    X, y, w, off = make_data("poisson")
    X[np.abs(X) < 0.8] = 0.0
    ref = estimator("poisson", "log", penalty).fit(X, y, sample_weight=w)
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    model = estimator("poisson", "log", penalty, backend="torch").fit(Xs, y, sample_weight=w)
    assert_same_fit(model, ref, TOL)


def test_float32_tensor_input_is_close_to_float64():
    X, y, w, off = make_data("binomial")
    ref = GLM(family="binomial").fit(X, y)
    model = GLM(family="binomial").fit(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------- backend choice


def test_resolve_backend_rules():
    assert resolve_backend(None, "cpu").name == "numpy"
    assert resolve_backend(None, "cpu", torch.zeros(2, 2)).name == "torch"
    assert resolve_backend("torch", "cpu").name == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("jax", "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_backend(None, "tpu")
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_backend(None, 0)
    with pytest.raises(ValueError, match="numpy backend runs on the CPU only"):
        resolve_backend("numpy", "cuda")


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert glmlib.resolve_device("auto") == expected
    assert [glmlib.resolve_device(d) for d in ("cpu", "cuda", "cuda:1")] == [
        "cpu",
        "cuda",
        "cuda:1",
    ]
    with pytest.raises(ValueError, match="device must be"):
        glmlib.resolve_device("tpu")
    with pytest.raises(TypeError, match="device must be a string"):
        glmlib.resolve_device(None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_request_without_gpu_raises():
    X, y, w, off = make_data("gaussian")
    with pytest.raises(ValueError, match="no CUDA device"):
        GLM(device="cuda").fit(X, y)


def test_device_auto_without_gpu_runs_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y, w, off = make_data("gaussian")
    np.testing.assert_allclose(
        GLM(device="auto").fit(X, y).coef_, GLM().fit(X, y).coef_, rtol=1e-12
    )


@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_cholesky_solve_and_rank_deficiency(name):
    b = Backend(name)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 5))
    H = A.T @ A
    rhs = rng.normal(size=5)
    x, ok = b.cholesky_solve(b.asarray(H, dtype=np.float64), b.asarray(rhs, dtype=np.float64))
    assert ok
    np.testing.assert_allclose(to_numpy(x), np.linalg.solve(H, rhs), rtol=1e-10)
    Hs = np.hstack([A, A[:, :1]]).T @ np.hstack([A, A[:, :1]])  # singular
    rhs_s = Hs @ rng.normal(size=6)
    x, ok = b.cholesky_solve(b.asarray(Hs, dtype=np.float64), b.asarray(rhs_s, dtype=np.float64))
    assert not ok
    np.testing.assert_allclose(to_numpy(x), np.linalg.pinv(Hs) @ rhs_s, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------ FISTA vs coordinate descent


def penalised_quadratic(seed, k=12, cond=50.0):
    """0.5 t'Ht - c't + sum l1 |t| with H = Q diag(1..cond) Q' (well conditioned)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(k, k)))
    H = q @ np.diag(np.geomspace(1.0, cond, k)) @ q.T
    c = rng.normal(scale=3.0, size=k)
    l1 = rng.uniform(0.0, 2.0, size=k)
    l1[0] = 0.0  # an unpenalised coordinate, like the intercept
    return H, c, l1


def quad_objective(H, c, l1, t):
    return 0.5 * t @ H @ t - c @ t + np.sum(l1 * np.abs(t))


def assert_kkt(H, c, l1, t, tol):
    """Subgradient optimality: (c - H t)_j = l1_j sign(t_j) if t_j != 0, |.| <= l1_j otherwise."""
    r = c - H @ t
    nz = t != 0
    np.testing.assert_allclose(r[nz], l1[nz] * np.sign(t[nz]), atol=tol)
    assert np.all(np.abs(r[~nz]) <= l1[~nz] + tol)


@pytest.mark.parametrize("seed", range(8))
def test_fista_matches_coordinate_descent_on_random_quadratics(seed):
    """Both reach the unique minimiser (strongly convex): 1e-8 in theta, KKT to 1e-8."""
    H, c, l1 = penalised_quadratic(seed)
    t0 = np.zeros(len(c))
    cd, _ = coordinate_descent(H, c, l1, t0, tol=1e-14)
    fi, _ = fista(H, c, l1, t0, tol=1e-14)
    assert_kkt(H, c, l1, cd, 1e-8)
    assert_kkt(H, c, l1, fi, 1e-8)
    np.testing.assert_allclose(fi, cd, atol=1e-8)
    assert abs(quad_objective(H, c, l1, fi) - quad_objective(H, c, l1, cd)) <= 1e-12 * (
        1 + abs(quad_objective(H, c, l1, cd))
    )


@pytest.mark.parametrize("seed", range(3))
def test_fista_on_torch_matches_coordinate_descent(seed):
    H, c, l1 = penalised_quadratic(seed)
    cd, _ = coordinate_descent(H, c, l1, np.zeros(len(c)), tol=1e-14)
    t = torch.float64
    fi, _ = fista(
        torch.as_tensor(H, dtype=t),
        torch.as_tensor(c, dtype=t),
        torch.as_tensor(l1, dtype=t),
        torch.zeros(len(c), dtype=t),
        tol=1e-14,
    )
    assert isinstance(fi, torch.Tensor)
    np.testing.assert_allclose(fi.numpy(), cd, atol=1e-8)


def test_inner_solvers_with_huge_l1_return_zero_and_respect_warm_start():
    H, c, l1 = penalised_quadratic(0)
    big = np.full(len(c), 1e6)
    big[0] = 0.0  # the free coordinate solves its own 1-d problem given the others at 0
    for solve in (coordinate_descent, fista):
        t, _ = solve(H, c, big, np.ones(len(c)), tol=1e-14)
        np.testing.assert_array_equal(t[1:], 0.0)
        np.testing.assert_allclose(t[0], c[0] / H[0, 0], rtol=1e-8)


def glm_problem(X, y, family, alpha, l1_ratio, backend):
    b = Backend(backend)
    fam = get_family(family)
    n, p = X.shape
    w = np.full(n, 1.0 / n)
    return Problem(
        design=make_design(X, b),
        y=b.asarray(y, dtype=np.float64),
        weights=b.asarray(w, dtype=np.float64),
        offset=b.asarray(np.zeros(n), dtype=np.float64),
        family=fam,
        l1=b.asarray(np.full(p, alpha * l1_ratio), dtype=np.float64),
        l2=b.asarray(np.full(p, alpha * (1 - l1_ratio)), dtype=np.float64),
        backend=b,
        fit_intercept=True,
        weight_sum=float(n),
    )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_newton_with_fista_matches_newton_with_cd(family, l1_ratio, backend):
    """Proximal Newton with the GPU inner solver (FISTA) on the CPU equals the CD fit (1e-8)."""
    X, y, w, off = make_data(family)
    prob = glm_problem(X, y, family, 0.02, l1_ratio, backend)
    theta0 = prob.backend.asarray(np.zeros(X.shape[1] + 1), dtype=np.float64)
    cd = newton(prob, theta0, tol=1e-10, inner="cd")
    fi = newton(prob, theta0, tol=1e-10, inner="fista")
    assert cd.converged and fi.converged
    np.testing.assert_allclose(to_numpy(fi.theta), to_numpy(cd.theta), atol=1e-8)
    assert abs(fi.objective - cd.objective) <= 1e-12
    ref = GLM(family=family, alpha=0.02, l1_ratio=l1_ratio, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(to_numpy(cd.theta)[1:], ref.coef_, atol=1e-8)


# -------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_cuda_float64_matches_cpu(family, link, penalty):
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    model = estimator(family, link, penalty, device="cuda").fit(X, y, sample_weight=w, offset=off)
    assert_same_fit(model, ref, TOL)
    Xt = torch.as_tensor(X, device="cuda")
    on_gpu = estimator(family, link, penalty).fit(
        Xt, torch.as_tensor(y, device="cuda"), sample_weight=w, offset=off
    )
    assert_same_fit(on_gpu, ref, TOL)
    pred = on_gpu.predict(Xt, offset=torch.as_tensor(off, device="cuda"))
    assert pred.device.type == "cuda"
    np.testing.assert_allclose(pred.cpu().numpy(), ref.predict(X, offset=off), rtol=TOL)


@pytest.mark.gpu
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_cuda_float32_is_close_to_cpu_float64(family, link, penalty):
    """float32 X on the GPU (Gram accumulated in float64): coefficients within 1e-4."""
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    Xt = torch.as_tensor(X, dtype=torch.float32, device="cuda")
    model = estimator(family, link, penalty).fit(Xt, y, sample_weight=w, offset=off)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.deviance_, ref.deviance_, rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("seed", range(3))
def test_cuda_fista_matches_coordinate_descent(seed):
    H, c, l1 = penalised_quadratic(seed)
    cd, _ = coordinate_descent(H, c, l1, np.zeros(len(c)), tol=1e-14)
    kw = dict(dtype=torch.float64, device="cuda")
    fi, _ = fista(
        torch.as_tensor(H, **kw),
        torch.as_tensor(c, **kw),
        torch.as_tensor(l1, **kw),
        torch.zeros(len(c), **kw),
        tol=1e-14,
    )
    np.testing.assert_allclose(fi.cpu().numpy(), cd, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("penalty", ["unpenalised", "enet"])
@pytest.mark.parametrize(("family", "link"), [("binomial", "logit"), ("poisson", "log")])
def test_cupy_backend_matches_cpu(family, link, penalty):
    """The CuPy backend, with NumPy input and with CuPy arrays, reproduces NumPy to 1e-8."""
    cupy = pytest.importorskip("cupy")
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    model = estimator(family, link, penalty, backend="cupy", device="cuda").fit(
        X, y, sample_weight=w, offset=off
    )
    assert_same_fit(model, ref, TOL)
    Xc = cupy.asarray(X)
    on_gpu = estimator(family, link, penalty).fit(Xc, cupy.asarray(y), sample_weight=w, offset=off)
    assert_same_fit(on_gpu, ref, TOL)
    pred = on_gpu.predict(Xc, offset=cupy.asarray(off))
    assert isinstance(pred, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(pred), ref.predict(X, offset=off), rtol=TOL)


@pytest.mark.gpu
def test_cuda_glmcv_and_glm_path_match_cpu():
    """Cross-validation and the path on CUDA: same alphas, same path, same choice as on the CPU."""
    X, y, w, off = make_data("binomial", n=800)
    kw = dict(family="binomial", l1_ratio=0.5, n_alphas=12, cv=4, random_state=0)
    ref = glmlib.GLMCV(**kw).fit(X, y, sample_weight=w)
    gpu = glmlib.GLMCV(**kw, device="cuda").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(gpu.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(gpu.coef_path_, ref.coef_path_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gpu.cv_deviance_, ref.cv_deviance_, rtol=1e-8)
    assert gpu.alpha_ == ref.alpha_
    np.testing.assert_allclose(gpu.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    path_kw = dict(family="poisson", l1_ratio=1.0, n_alphas=10, sample_weight=w, offset=off)
    Xp, yp, _, _ = make_data("poisson", n=800)
    cpu_path = glmlib.glm_path(Xp, yp, **path_kw)
    gpu_path = glmlib.glm_path(Xp, yp, **path_kw, device="cuda")
    np.testing.assert_allclose(gpu_path.alphas, cpu_path.alphas, rtol=1e-12)
    np.testing.assert_allclose(gpu_path.coef, cpu_path.coef, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gpu_path.intercept, cpu_path.intercept, rtol=1e-6, atol=1e-8)


@pytest.mark.gpu
def test_model_fitted_on_cuda_pickles_and_predicts_without_a_gpu(tmp_path):
    """A GLM and a GAM fitted on CUDA load and predict in a process that sees no GPU."""
    import pickle
    import subprocess
    import sys

    from glmlib.gam import GAM, s

    X, y, w, off = make_data("poisson")
    glm = estimator("poisson", "log", "enet", device="cuda").fit(X, y, sample_weight=w, offset=off)
    frame = pd.DataFrame({f"x{j}": X[:, j] for j in range(3)})
    gam = GAM(s("x0") + s("x1") + s("x2"), family="poisson", device="cuda").fit(frame, y)
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps((glm, gam, X, off, frame)))
    expected = np.concatenate([glm.predict(X, offset=off), np.asarray(gam.predict(frame))])
    code = (
        "import pickle, sys, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        "glm, gam, X, off, frame = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "out = np.concatenate([glm.predict(X, offset=off), np.asarray(gam.predict(frame))])\n"
        "np.save(sys.argv[2], out)\n"
    )
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    out = tmp_path / "pred.npy"
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-12)


@pytest.mark.gpu
def test_cuda_tensors_are_fitted_on_their_gpu():
    """Under the default device="cpu" a CUDA tensor is fitted on its GPU, not copied to the host."""
    X, y, w, off = make_data("binomial")
    Xt = torch.as_tensor(X, device="cuda")
    assert resolve_backend(None, "cpu", Xt).device.startswith("cuda")
    assert resolve_backend(None, "cuda", Xt).device.startswith("cuda")
    assert resolve_backend(None, "cpu", torch.as_tensor(X)).device == "cpu"
    model = GLM(family="binomial", alpha=0.01).fit(Xt, torch.as_tensor(y, device="cuda"))
    ref = GLM(family="binomial", alpha=0.01).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=TOL, atol=TOL)
