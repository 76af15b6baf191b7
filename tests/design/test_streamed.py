"""Streamed designs (``glmlib/design/streamed.py``): host X passed to the device in row chunks.

* A streamed fit equals the in-memory fit of the same data (float64,
  coefficients and deviance to 1e-10 relative) for several families and
  penalties and chunk sizes, including chunks that do not divide n, a
  single chunk, and one-row chunks; on NumPy and on torch-CPU (the same
  double-buffered code path CUDA takes, with plain copies).
* Each product equals the dense design's (X b, X'v, X'WX to 1e-12).
* Bad ``stream_chunk_rows`` and unsupported inputs raise ValueError.
* On CUDA (marked gpu) the buffers live on the GPU, X in pinned host memory,
  and the fit equals the in-memory CUDA fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import glmlib
from glmlib._backend import Backend, to_numpy
from glmlib.design.dense import DenseDesign
from glmlib.design.streamed import StreamedDesign

TOL = 1e-10


def data(family, n=1_003, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    eta = 0.3 + X @ rng.uniform(-0.4, 0.4, p)
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    else:
        y = eta + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def rel(a, b):
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


CASES = [
    ("gaussian", 0.0, 0.0),
    ("poisson", 0.0, 0.0),
    ("binomial", 0.01, 0.0),  # ridge
    ("poisson", 0.02, 1.0),  # lasso: screened column subsets
    ("gamma", 0.01, 0.5),  # elastic net
]


@pytest.mark.parametrize(("family", "alpha", "l1_ratio"), CASES)
@pytest.mark.parametrize("chunk_rows", [1, 97, 500, 1_003, 10_000])
def test_streamed_fit_equals_in_memory_fit(family, alpha, l1_ratio, chunk_rows):
    X, y, w = data(family)
    kw = dict(family=family, alpha=alpha, l1_ratio=l1_ratio, tol=1e-12)
    ref = glmlib.GLM(**kw).fit(X, y, sample_weight=w)
    model = glmlib.GLM(**kw, stream_chunk_rows=chunk_rows).fit(X, y, sample_weight=w)
    assert rel(model.coef_, ref.coef_) <= TOL
    assert abs(model.intercept_ - ref.intercept_) <= TOL * max(1.0, abs(ref.intercept_))
    assert rel(model.deviance_, ref.deviance_) <= TOL
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=TOL)


@pytest.mark.parametrize(("family", "alpha", "l1_ratio"), CASES[1:4])
def test_streamed_torch_cpu_equals_in_memory_fit(family, alpha, l1_ratio):
    torch = pytest.importorskip("torch")
    X, y, w = data(family)
    kw = dict(family=family, alpha=alpha, l1_ratio=l1_ratio, tol=1e-12)
    ref = glmlib.GLM(**kw).fit(X, y, sample_weight=w)
    model = glmlib.GLM(**kw, backend="torch", stream_chunk_rows=250).fit(
        torch.as_tensor(X), y, sample_weight=w
    )
    assert rel(model.coef_, ref.coef_) <= TOL
    assert rel(model.deviance_, ref.deviance_) <= TOL


def test_streamed_offset_no_intercept_and_sampled_hessians():
    """Offset, no intercept, and n large enough for the solver's sampled first Hessians."""
    rng = np.random.default_rng(3)
    n, p = 40_000, 5
    X = rng.standard_normal((n, p))
    off = rng.uniform(-0.5, 0.5, n)
    y = rng.poisson(np.exp(off + X @ rng.uniform(-0.3, 0.3, p))).astype(float)
    kw = dict(family="poisson", fit_intercept=False, tol=1e-12)
    ref = glmlib.GLM(**kw).fit(X, y, offset=off)
    model = glmlib.GLM(**kw, stream_chunk_rows=7_001).fit(X, y, offset=off)
    assert rel(model.coef_, ref.coef_) <= TOL
    assert model.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_equal_the_dense_design(dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1_001, 7)).astype(dtype)
    b = Backend("numpy", "cpu")
    dense, streamed = DenseDesign(X, b), StreamedDesign(X, b, 64)
    beta, v, d = rng.standard_normal(7), rng.standard_normal(1_001), rng.uniform(0, 2, 1_001)
    np.testing.assert_allclose(streamed.matvec(beta), dense.matvec(beta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(streamed.rmatvec(v), dense.rmatvec(v), rtol=1e-12, atol=1e-11)
    # float32 Gram blocks are formed in float32 (block sums in float64): chunks of
    # other lengths round differently, by a few float32 units (eps = 6e-8) x sqrt(rows).
    gtol = 1e-10 if dtype == np.float64 else 2e-5
    for intercept in (True, False):
        g, ref = streamed.gram(d, intercept), dense.gram(d, intercept)
        np.testing.assert_allclose(g, ref, rtol=0, atol=gtol * np.max(np.abs(ref)))
    np.testing.assert_array_equal(streamed.column_range(), dense.column_range())
    sub = streamed.subset(np.array([4, 1]))
    assert isinstance(sub, StreamedDesign) and sub.p == 2
    np.testing.assert_allclose(sub.matvec(beta[[4, 1]]), X[:, [4, 1]] @ beta[[4, 1]], rtol=1e-6)
    rows = streamed.rows(np.array([0, 5, 1_000]))
    assert rows.n == 3
    np.testing.assert_allclose(rows.matvec(beta), X[[0, 5, 1_000]] @ beta, rtol=1e-6)


def test_chunks_visit_every_row_once():
    X = np.arange(30.0).reshape(10, 3)
    s = StreamedDesign(X, Backend("numpy", "cpu"), 4)
    seen = [(a, b, c.copy()) for a, b, c in s.chunks()]
    assert [(a, b) for a, b, _ in seen] == [(0, 4), (4, 8), (8, 10)]
    np.testing.assert_array_equal(np.concatenate([c for _, _, c in seen]), X)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "100", True])
def test_bad_chunk_rows_is_a_value_error(bad):
    X, y, _ = data("gaussian", n=50)
    with pytest.raises(ValueError, match="stream_chunk_rows"):
        glmlib.GLM(stream_chunk_rows=bad).fit(X, y)


def test_unsupported_inputs_are_refused():
    X, y, _ = data("poisson", n=60)
    with pytest.raises(ValueError, match="dense numeric X"):
        glmlib.GLM("poisson", stream_chunk_rows=10).fit(sp.csr_matrix(X), y)
    df = pd.DataFrame({"a": X[:, 0], "g": pd.Categorical(np.arange(60) % 3)})
    with pytest.raises(ValueError, match="dense numeric X"):
        glmlib.GLM("poisson", stream_chunk_rows=10).fit(df, y)
    with pytest.raises(ValueError, match="precision='mixed'"):
        glmlib.GLM("poisson", stream_chunk_rows=10, precision="mixed").fit(X, y)


def test_precision_single_streams_float32():
    X, y, _ = data("poisson")
    ref = glmlib.GLM("poisson", precision="single").fit(X, y)
    model = glmlib.GLM("poisson", precision="single", stream_chunk_rows=300).fit(X, y)
    assert model.precision_ == "single"
    assert rel(model.coef_, ref.coef_) <= 1e-7


@pytest.mark.gpu
def test_streamed_cuda_fit_equals_in_memory_cuda_fit():
    torch = pytest.importorskip("torch")
    X, y, w = data("poisson", n=20_011, p=12)
    kw = dict(family="poisson", alpha=0.01, l1_ratio=0.5, tol=1e-12, device="cuda")
    ref = glmlib.GLM(**kw).fit(X, y, sample_weight=w)
    model = glmlib.GLM(**kw, stream_chunk_rows=3_000)
    model.fit(X, y, sample_weight=w)
    assert rel(model.coef_, ref.coef_) <= TOL
    design = StreamedDesign(X, Backend("torch", "cuda"), 3_000)
    assert design._src.is_pinned() and design._buffers[0].device.type == "cuda"
    d = torch.as_tensor(w, device="cuda")
    np.testing.assert_allclose(
        to_numpy(design.gram(d)),
        to_numpy(DenseDesign(torch.as_tensor(X, device="cuda"), Backend("torch", "cuda")).gram(d)),
        rtol=1e-10,
        atol=1e-8,
    )
