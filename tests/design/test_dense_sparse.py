"""Tests for the design matrices (``glmlib/design/dense.py``, ``sparse.py``, ``make.py``).

Every design (dense NumPy, scipy.sparse, dense and sparse PyTorch on the CPU,
and the same on CUDA when present) computes

* the weighted Gram matrix [1 X]' diag(d) [1 X], with and without the
  intercept, equal to the NumPy product to 1e-12 relative in float64 and
  1e-5 in float32 (float32 blocks, float64 sums);
* X @ beta and X' v to 1e-12 (float64);
* the column subset X[:, cols] used by screened fits, identical to slicing;
* the column range max - min, counting the implicit zeros of sparse input.

The sparse Gram kernel needs canonical CSR (sorted, unique column indices):
input with duplicates or unsorted indices is canonicalised on a copy, never in
the caller's arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from glmlib._backend import Backend, to_numpy
from glmlib.design.make import make_design

BACKENDS = ["numpy", "torch"]


def data(n=257, p=7, density=0.4, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, p)
    X[rng.random((n, p)) > density] = 0.0
    X[:, 2] = 0.0  # an all-zero column
    X[:, 4] = 5.0  # a constant column
    d = rng.uniform(0.0, 2.0, n)
    d[:10] = 0.0  # zero weights are allowed
    return X.astype(dtype), d


def reference_gram(X, d, intercept=True):
    Z = np.column_stack([np.ones(len(X)), X]) if intercept else X
    Z = Z.astype(np.float64)
    return Z.T @ (Z * d[:, None])


def designs(X, backend_name, device="cpu"):
    """The dense and the sparse design of X on one backend."""
    if backend_name == "torch":
        pytest.importorskip("torch")
    b = Backend(backend_name, device)
    out = {"dense": make_design(X, b), "csr": make_design(sp.csr_matrix(X), b)}
    if backend_name == "numpy":
        out["csc"] = make_design(sp.csc_matrix(X), b)
    return b, out


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_gram_matches_numpy_product(backend_name, intercept):
    X, d = data()
    b, ds = designs(X, backend_name)
    ref = reference_gram(X, d, intercept)
    for kind, design in ds.items():
        got = to_numpy(design.gram(b.asarray(d, dtype=np.float64), intercept=intercept))
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12, err_msg=kind)
        np.testing.assert_array_equal(got, got.T)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_gram_in_float32_sums_in_float64(backend_name):
    X, d = data(n=3000, dtype=np.float32)
    b, ds = designs(X, backend_name)
    ref = reference_gram(X, d)
    for kind, design in ds.items():
        got = to_numpy(design.gram(b.asarray(d, dtype=np.float64)))
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-3, err_msg=kind)


def test_gram_spans_several_row_blocks(monkeypatch):
    """Blocks of rows are summed: the result does not depend on the block size."""
    import glmlib.design.dense as design_module

    X, d = data(n=5000, density=1.0)
    b = Backend("numpy")
    whole = make_design(X, b).gram(d)
    monkeypatch.setattr(design_module, "_CHUNK_ELEMENTS", 7 * 1024)  # 1024-row blocks
    blocked = make_design(X, b).gram(d)
    np.testing.assert_allclose(blocked, whole, rtol=1e-12)
    np.testing.assert_allclose(whole, reference_gram(X, d), rtol=1e-12)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_matvec_and_rmatvec(backend_name):
    X, d = data()
    rng = np.random.default_rng(1)
    beta, v = rng.normal(size=X.shape[1]), rng.normal(size=X.shape[0])
    b, ds = designs(X, backend_name)
    for kind, design in ds.items():
        mv = to_numpy(design.matvec(b.asarray(beta, dtype=np.float64)))
        rv = to_numpy(design.rmatvec(b.asarray(v, dtype=np.float64)))
        np.testing.assert_allclose(mv, X @ beta, rtol=1e-12, atol=1e-12, err_msg=kind)
        np.testing.assert_allclose(rv, X.T @ v, rtol=1e-12, atol=1e-12, err_msg=kind)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_subset_is_the_column_slice(backend_name):
    X, d = data()
    cols = np.array([5, 0, 3])
    b, ds = designs(X, backend_name)
    for kind, design in ds.items():
        sub = design.subset(b.asarray(cols))
        assert (sub.n, sub.p) == (X.shape[0], 3)
        got = to_numpy(sub.gram(b.asarray(d, dtype=np.float64)))
        np.testing.assert_allclose(got, reference_gram(X[:, cols], d), rtol=1e-12, err_msg=kind)
        assert design.subset(None) is design


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_empty_subset(backend_name):
    X, d = data()
    b, ds = designs(X, backend_name)
    for kind, design in ds.items():
        sub = design.subset(b.asarray(np.zeros(0, dtype=np.int64)))
        assert to_numpy(sub.matvec(b.asarray(np.zeros(0), dtype=np.float64))).shape == (len(X),)
        got = to_numpy(sub.gram(b.asarray(d, dtype=np.float64)))
        np.testing.assert_allclose(got, [[d.sum()]], rtol=1e-12, err_msg=kind)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_column_range_counts_implicit_zeros(backend_name):
    X, _ = data()
    X[:, 5] = np.where(X[:, 5] != 0, 7.0, 0.0)  # sparse column of 7s: range 7, not 0
    X[:, 6] = -2.0  # stored everywhere in CSR: range 0
    b, ds = designs(X, backend_name)
    expected = X.max(axis=0) - X.min(axis=0)
    assert expected[2] == 0 and expected[4] == 0 and expected[5] == 7 and expected[6] == 0
    for kind, design in ds.items():
        np.testing.assert_array_equal(np.asarray(design.column_range()), expected, err_msg=kind)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 257])
def test_dense_column_range_any_layout(order, dtype, n):
    """The one-pass kernel (C order) and NumPy's reductions (F order) agree exactly."""
    X = np.asarray(np.random.default_rng(3).normal(size=(n, 4)), dtype=dtype, order=order)
    X[:, 1] = 2.5
    got = make_design(X, Backend("numpy")).column_range()
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, (X.max(axis=0) - X.min(axis=0)).astype(np.float64))
    assert got[1] == 0


def test_non_canonical_csr_is_summed_on_a_copy():
    """Duplicate and unsorted column indices: summed for the kernel, caller's arrays untouched."""
    indptr = np.array([0, 3, 5])
    indices = np.array([2, 0, 2, 1, 1])
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    A = sp.csr_matrix((values.copy(), indices.copy(), indptr.copy()), shape=(2, 3))
    design = make_design(A, Backend("numpy"))
    d = np.array([1.0, 2.0])
    np.testing.assert_allclose(design.gram(d), reference_gram(A.toarray(), d), rtol=1e-14)
    np.testing.assert_array_equal(A.indices, indices)
    np.testing.assert_array_equal(A.data, values)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_designs_match_numpy(dtype):
    X, d = data(n=3000, dtype=dtype)
    b, ds = designs(X, "torch", device="cuda")
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for kind, design in ds.items():
        got = to_numpy(design.gram(b.asarray(d, dtype=np.float64)))
        np.testing.assert_allclose(got, reference_gram(X, d), rtol=rtol, atol=1e-3, err_msg=kind)
        # A design may subtract in float64 (exact) where NumPy rounds the float32
        # difference: equal to float32's precision, not bit for bit (seen on an H200).
        np.testing.assert_allclose(
            np.asarray(design.column_range()),
            X.max(axis=0).astype(np.float64) - X.min(axis=0),
            rtol=0 if dtype == np.float64 else 1e-7,
            err_msg=kind,
        )


@pytest.mark.parametrize("sparse", [False, True])
def test_subset_keeps_the_last_column_set(sparse):
    """Consecutive requests for the same columns share one copy; other columns get their own."""
    X, d = data(n=500)
    b = Backend("numpy")
    design = make_design(sp.csr_matrix(X) if sparse else X, b)
    cols = np.array([0, 3, 4])
    first = design.subset(cols)
    assert design.subset(cols.copy()) is first
    other = design.subset(np.array([1, 2]))
    assert other is not first
    np.testing.assert_allclose(other.gram(d), reference_gram(X[:, [1, 2]], d), rtol=1e-12)
    again = design.subset(cols)
    np.testing.assert_allclose(again.gram(d), reference_gram(X[:, cols], d), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_float32_products_accumulate_in_float64(backend):
    """X @ b and X.T @ v of float32 X equal float64 products of the same values (two row blocks)."""
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50_000, 6)).astype(np.float32)
    b, v = rng.standard_normal(6), rng.standard_normal(50_000)
    design = make_design(X, Backend(backend))
    exact = X.astype(np.float64)
    eta, grad = exact @ b, exact.T @ v
    # float64 sums agree to round-off of the largest term (float32 sums: about 1e-7)
    got_eta = to_numpy(design.matvec(design.backend.asarray(b)))
    np.testing.assert_allclose(got_eta, eta, rtol=0, atol=1e-13 * np.abs(eta).max())
    got_grad = to_numpy(design.rmatvec(design.backend.asarray(v)))
    np.testing.assert_allclose(got_grad, grad, rtol=0, atol=1e-13 * np.abs(grad).max())


# --- host column subsets: buffered copies and gathering views ----------------------


def test_subset_buffer_extends_and_stays_exact():
    """A subset that extends the previous one (same columns first) gathers only the
    new columns into the same buffer; every product equals X[:, cols]'s (1e-12)."""
    from glmlib.design.dense import DenseDesign

    X, d = data(n=700)
    b = Backend("numpy")
    design = DenseDesign(X, b)
    first = design.subset(np.array([4, 1]))
    grown = design.subset(np.array([4, 1, 0, 3]))
    assert np.shares_memory(first.X, grown.X)  # the same buffer, extended
    prefix = design.subset(np.array([4]))
    for cols, sub in (([4, 1], first), ([4, 1, 0, 3], grown), ([4], prefix)):
        np.testing.assert_array_equal(sub.X, X[:, cols])
        np.testing.assert_allclose(sub.gram(d), reference_gram(X[:, cols], d), rtol=1e-12)
    other = design.subset(np.array([2, 0]))  # not an extension: a new copy
    np.testing.assert_array_equal(other.X, X[:, [2, 0]])
    np.testing.assert_array_equal(first.X, X[:, [4, 1]])  # earlier views unchanged


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gathered_view_equals_the_copy(monkeypatch, dtype):
    """Above the copy limit a subset is a view; a row sample always is. Their
    products equal those of the explicit copies (float32: to 1e-6, float64: 1e-12)."""
    import glmlib.design.dense as design_mod

    monkeypatch.setattr(design_mod, "_SUBSET_COPY_SHARE", 0.0)
    monkeypatch.setattr(design_mod, "_SUBSET_COPY_BYTES", 0)
    X64, d = data(n=5000)
    X = X64.astype(dtype)
    b = Backend("numpy")
    design = design_mod.DenseDesign(X, b)
    cols, rows = np.array([5, 0, 3]), np.arange(0, 5000, 7)
    rng = np.random.default_rng(4)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for view, ref in (
        (design.subset(cols), X[:, cols]),
        (design.rows(rows), X[rows]),
        (design.rows(rows).subset(np.array([1, 2])), X[rows][:, [1, 2]]),
    ):
        assert isinstance(view, design_mod.GatheredDense)
        ref = ref.astype(np.float64)
        beta, v = rng.normal(size=ref.shape[1]), rng.normal(size=ref.shape[0])
        dd = d[: ref.shape[0]] if view.n == len(d) else rng.random(ref.shape[0])
        np.testing.assert_allclose(view.matvec(beta), ref @ beta, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(view.rmatvec(v), ref.T @ v, rtol=rtol, atol=rtol * 10)
        np.testing.assert_allclose(view.gram(dd), reference_gram(ref, dd), rtol=rtol * 10)
        np.testing.assert_allclose(view.column_range(), np.ptp(ref, axis=0), rtol=rtol)
