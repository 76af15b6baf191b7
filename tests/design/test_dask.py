"""Dask collections as X (``glmlib/design/dask.py``): out-of-core and cluster fits with the same solver.

* Fits on a Dask array, a Dask DataFrame, Parquet files read by
  ``dask.dataframe.read_parquet`` and a 2-worker ``LocalCluster`` equal the
  in-memory fit to 1e-8 relative (coefficients, deviance, null deviance, AIC,
  covariance; 1e-10 absolute for coefficients that are zero), for every
  family, with weights and offsets, unpenalised and penalised.
* ``predict`` on a Dask collection returns a Dask array equal to the
  in-memory prediction.
* Bad input is refused with a clear error.
* ``parquet_matrix`` (Parquet row groups decoded by pyarrow in batches into
  one array) gives the files' values; the fit on it equals the in-memory fit
  to 1e-10.
* Memory: a NumPy disk cache is read in blocks of rows within a byte budget
  by explicit reads (the same rows as a memory map), and a partition's Gram
  matrix is formed over slices within the budget (the same matrix).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pooled_cases import FAMILIES, PENALTIES, RTOL, ZERO_ATOL, estimator, make_data  # noqa: E402

import glmlib
from glmlib._backend import Backend
from glmlib.design import dask as dask_design
from glmlib.design.dask import DaskDesign, block_rows, dask_matrix, read_npy_rows

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")


def assert_same_fit(got, ref, case=""):
    zero = ref.coef_ == 0
    np.testing.assert_array_equal(got.coef_ == 0, zero, err_msg=case)
    np.testing.assert_allclose(got.coef_[~zero], ref.coef_[~zero], rtol=RTOL, err_msg=case)
    np.testing.assert_allclose(got.coef_[zero], 0.0, atol=ZERO_ATOL, err_msg=case)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=RTOL, err_msg=case)
    for key in ("deviance_", "null_deviance_", "scale_", "df_model_"):
        np.testing.assert_allclose(getattr(got, key), getattr(ref, key), rtol=RTOL, err_msg=case)
    if not math.isnan(ref.aic_):
        np.testing.assert_allclose(got.aic_, ref.aic_, rtol=RTOL, err_msg=case)
    np.testing.assert_allclose(
        got.covariance().to_numpy(),
        ref.covariance().to_numpy(),
        rtol=1e-6,
        atol=1e-12,
        err_msg=case,
    )


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_dask_array_fit_equals_in_memory_fit(family, link, penalty):
    X, y, w, off = make_data(family)
    ref = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
    Xd = da.from_array(X, chunks=(250, 3))  # uneven row chunks, split columns (rechunked)
    got = estimator(family, link, penalty).fit(
        Xd, da.from_array(y, chunks=250), sample_weight=w, offset=da.from_array(off, chunks=250)
    )
    assert_same_fit(got, ref, f"{family}/{penalty}")


def test_dask_dataframe_and_predict():
    X, y, w, off = make_data("poisson")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    ref = estimator("poisson", "log", "enet").fit(frame, y, sample_weight=w, offset=off)
    ddf = dd.from_pandas(frame, npartitions=4)
    got = estimator("poisson", "log", "enet").fit(
        ddf, dd.from_pandas(pd.Series(y), npartitions=4), sample_weight=w, offset=off
    )
    assert_same_fit(got, ref)
    assert list(got.feature_names_in_) == list(frame.columns)
    pred = got.predict(ddf, offset=off)
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), ref.predict(frame, offset=off), rtol=1e-12)


def test_parquet_files_read_lazily(tmp_path):
    """The out-of-core path: many Parquet files, read partition by partition on every pass."""
    X, y, w, off = make_data("binomial", n=3000)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["y"], frame["w"] = y, w
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 6)):
        frame.iloc[rows].to_parquet(tmp_path / f"part-{i}.parquet")
    ddf = dd.read_parquet(str(tmp_path / "*.parquet"))
    features = [c for c in ddf.columns if c.startswith("x")]
    got = estimator("binomial", "logit", "lasso").fit(
        ddf[features], ddf["y"], sample_weight=ddf["w"]
    )
    ref = estimator("binomial", "logit", "lasso").fit(frame[features], y, sample_weight=w)
    assert_same_fit(got, ref)


def test_local_cluster_with_two_workers():
    distributed = pytest.importorskip("distributed")
    X, y, w, off = make_data("gamma")
    ref = estimator("gamma", "log", "ridge").fit(X, y, sample_weight=w, offset=off)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = estimator("gamma", "log", "ridge").fit(
            da.from_array(X, chunks=(300, -1)), y, sample_weight=w, offset=off
        )
    assert_same_fit(got, ref)


def test_design_products_equal_numpy():
    X, y, w, off = make_data("gaussian", n=1000)
    Xd, _ = dask_matrix(da.from_array(X, chunks=(137, 2)))
    design = DaskDesign(Xd, Backend("numpy"))
    beta, v = np.linspace(-1, 1, X.shape[1]), np.cos(np.arange(1000.0))
    np.testing.assert_allclose(design.matvec(beta), X @ beta, rtol=1e-13)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-12)
    d = w / w.sum()
    ones = np.column_stack([np.ones(1000), X])
    np.testing.assert_allclose(design.gram(d), ones.T @ (ones * d[:, None]), rtol=1e-12)
    np.testing.assert_allclose(design.gram(d, intercept=False), X.T @ (X * d[:, None]), rtol=1e-12)
    np.testing.assert_allclose(design.column_range(), X.max(0) - X.min(0), rtol=0)
    np.testing.assert_allclose(
        design.subset(np.array([1, 3])).rmatvec(v), X[:, [1, 3]].T @ v, rtol=1e-12
    )


def test_bad_dask_input_is_refused():
    X, y, w, off = make_data("poisson")
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        glmlib.GLM("poisson").fit(da.from_array(bad, chunks=(300, -1)), y)
    with pytest.raises(ValueError, match="2D"):
        glmlib.GLM("poisson").fit(da.from_array(X[:, 0], chunks=300), y)
    frame = dd.from_pandas(pd.DataFrame({"a": X[:, 0], "s": ["u"] * len(y)}), npartitions=2)
    with pytest.raises(TypeError, match="not numeric"):
        glmlib.GLM("poisson").fit(frame, y)
    with pytest.raises(ValueError, match="CPU"):
        glmlib.GLM("poisson", backend="torch").fit(da.from_array(X, chunks=(300, -1)), y)
    with pytest.raises(ValueError, match="features"):
        glmlib.GLM("poisson").fit(X, y).predict(da.from_array(X[:, :3], chunks=(300, -1)))


def test_cross_validation_and_path_on_a_dask_array():
    X, y, w, off = make_data("binomial", n=1500)
    Xd = da.from_array(X, chunks=(400, -1))
    kw = dict(family="binomial", l1_ratio=0.8, n_alphas=8, cv=3, random_state=0)
    ref = glmlib.GLMCV(**kw).fit(X, y, sample_weight=w)
    got = glmlib.GLMCV(**kw).fit(Xd, y, sample_weight=w)
    np.testing.assert_allclose(got.coef_path_, ref.coef_path_, rtol=RTOL, atol=ZERO_ATOL)
    np.testing.assert_allclose(got.cv_deviance_, ref.cv_deviance_, rtol=RTOL)
    assert got.alpha_ == ref.alpha_
    path = glmlib.glm_path(Xd, y, family="binomial", n_alphas=8, offset=off)
    ref_path = glmlib.glm_path(X, y, family="binomial", n_alphas=8, offset=off)
    np.testing.assert_allclose(path.coef, ref_path.coef, rtol=RTOL, atol=ZERO_ATOL)


def _parquet_frame(tmp_path, n=3000, parts=6):
    X, y, w, off = make_data("binomial", n=n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["y"] = y
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[rows].to_parquet(tmp_path / f"part-{i}.parquet")
    features = [c for c in frame.columns if c.startswith("x")]
    return frame, features, w, off


@pytest.mark.parametrize("fmt", ["npy", "zarr"])
def test_disk_cache_fit_equals_in_memory_fit(tmp_path, fmt):
    """disk_cache: Parquet decoded once into float files; the fit on them equals the in-memory fit."""
    if fmt == "zarr":
        pytest.importorskip("zarr")
    frame, features, w, off = _parquet_frame(tmp_path)
    ddf = dd.read_parquet(str(tmp_path / "*.parquet"))
    store = tmp_path / "cache"
    Xc = glmlib.disk_cache(ddf[features], store, format=fmt)
    assert isinstance(Xc, da.Array) and Xc.dtype == np.float64
    assert Xc.chunks[0] == (500,) * 6  # one chunk per partition, lengths kept
    np.testing.assert_array_equal(Xc.compute(), frame[features].to_numpy())
    got = estimator("binomial", "logit", "enet").fit(Xc, ddf["y"], sample_weight=w, offset=off)
    ref = estimator("binomial", "logit", "enet").fit(
        frame[features].to_numpy(), frame["y"].to_numpy(), sample_weight=w, offset=off
    )
    assert_same_fit(got, ref)
    with pytest.raises(ValueError, match="exists"):
        glmlib.disk_cache(ddf[features], store, format=fmt)
    again, names = glmlib.open_disk_cache(store)  # as another process would reopen it
    assert names == features and again.chunks == Xc.chunks
    np.testing.assert_array_equal(again.compute(), Xc.compute())
    if fmt == "npy":  # Dask's own reader opens it too
        np.testing.assert_array_equal(da.from_npy_stack(str(store)).compute(), Xc.compute())
    with pytest.raises(ValueError, match="not a cache"):
        glmlib.open_disk_cache(tmp_path)
    X32 = glmlib.disk_cache(
        da.from_array(frame[features].to_numpy(np.float32), chunks=(700, 2)),
        store,
        format=fmt,
        overwrite=True,
    )
    assert X32.dtype == np.float32 and X32.chunks[0] == (700,) * 4 + (200,)
    np.testing.assert_array_equal(X32.compute(), frame[features].to_numpy(np.float32))
    with pytest.raises(ValueError, match="format"):
        glmlib.disk_cache(ddf[features], tmp_path / "other", format="csv")


def test_a_fit_makes_two_passes_per_newton_iteration():
    """Validation is one pass, each Newton iteration one fused X'v + Gram pass and one X @ step."""
    X, y, w, off = make_data("poisson", n=1200)
    reads = {"n": 0}

    def counted(block):
        reads["n"] += 1
        return block

    Xd = da.from_array(X, chunks=(300, -1)).map_blocks(counted, dtype=X.dtype)
    got = glmlib.GLM("poisson", alpha=0.01).fit(Xd, y, sample_weight=w, offset=off)
    ref = glmlib.GLM("poisson", alpha=0.01).fit(X, y, sample_weight=w, offset=off)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=RTOL)
    passes = reads["n"] // 4  # four partitions (map_blocks may call once more for meta)
    # 1 validation pass + 2 per iteration, none for the intercept-only (null)
    # fit; the previous design made 3 per iteration + 3 + 6 for the null fit.
    assert passes <= 2 * got.n_iter_ + 1, (passes, got.n_iter_)


def test_fused_product_equals_separate_products():
    X, y, w, off = make_data("gaussian", n=900)
    design = DaskDesign(dask_matrix(da.from_array(X, chunks=(200, -1)))[0], Backend("numpy"))
    v, d = np.sin(np.arange(900.0)), w / w.sum()
    for intercept in (True, False):
        xv, gram = design.rmatvec_gram(v, d, intercept)
        np.testing.assert_allclose(xv, X.T @ v, rtol=1e-12)
        np.testing.assert_allclose(gram, design.gram(d, intercept), rtol=1e-12)
    np.testing.assert_array_equal(design.matvec(np.zeros(X.shape[1])), np.zeros(900))
    empty = design.subset(np.zeros(0, dtype=int))  # the intercept-only fit's design: no passes
    xv, gram = empty.rmatvec_gram(v, d, True)
    assert xv.shape == (0,)
    np.testing.assert_allclose(gram, [[d.sum()]], rtol=1e-14)
    assert empty.gram(d, intercept=False).shape == (0, 0)


def test_disk_caches_on_a_two_worker_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    X, y, w, off = make_data("poisson")
    ref = estimator("poisson", "log", "lasso").fit(X, y, sample_weight=w, offset=off)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        for fmt in ("npy", "zarr"):
            Xc = glmlib.disk_cache(da.from_array(X, chunks=(350, -1)), tmp_path / fmt, format=fmt)
            got = estimator("poisson", "log", "lasso").fit(Xc, y, sample_weight=w, offset=off)
            assert_same_fit(got, ref, fmt)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_npy_rows_equals_the_memory_map(tmp_path, dtype):
    """Explicit reads of rows give what a memory map's slice gives, at every boundary."""
    X = np.random.default_rng(0).standard_normal((1001, 7)).astype(dtype)
    file = tmp_path / "x.npy"
    np.save(file, X)
    mapped = np.load(file, mmap_mode="r")
    for start, count in [(0, 1001), (0, 1), (3, 250), (750, 251), (1000, 1), (990, 50), (1001, 5)]:
        got = read_npy_rows(file, start, count)
        assert got.dtype == dtype and got.flags.c_contiguous and not isinstance(got, np.memmap)
        np.testing.assert_array_equal(got, mapped[start : start + count])
    np.save(file, np.asfortranarray(X))
    with pytest.raises(ValueError, match="C-ordered"):
        read_npy_rows(file, 0, 10)


def test_disk_cache_blocks_honour_the_memory_budget(tmp_path):
    """open_disk_cache(block_bytes=...) splits partitions into chunks within the budget."""
    X = np.random.default_rng(1).standard_normal((2300, 5))
    store = tmp_path / "cache"
    whole = glmlib.disk_cache(da.from_array(X, chunks=(1000, -1)), store)
    assert whole.chunks[0] == (1000, 1000, 300)  # 40 kB partitions: within the 16 MiB default
    row_bytes = 5 * 8
    for budget in (row_bytes * 64, row_bytes * 64 + 39, 4096, 1, 10**9):
        Xc, _ = glmlib.open_disk_cache(store, block_bytes=budget)
        rows = block_rows(5, 8, budget)
        assert max(Xc.chunks[0]) == min(rows, 1000)
        assert max(Xc.chunks[0]) * row_bytes <= max(budget, row_bytes)  # at least one row
        assert sum(Xc.chunks[0]) == 2300
        np.testing.assert_array_equal(Xc.compute(), X)
    Xc, _ = glmlib.open_disk_cache(store, block_bytes=row_bytes * 300)
    assert Xc.chunks[0] == (300, 300, 300, 100) * 2 + (300,)  # blocks never span two files
    with pytest.raises(ValueError, match="block_bytes"):
        glmlib.open_disk_cache(store, block_bytes=0)


def test_fit_on_small_blocks_equals_in_memory_fit(tmp_path, monkeypatch):
    """Blocks of a few rows (cache) and Gram slices within a partition change no result."""
    X, y, w, off = make_data("binomial", n=1500)
    ref = estimator("binomial", "logit", "enet").fit(X, y, sample_weight=w, offset=off)
    Xc = glmlib.disk_cache(da.from_array(X, chunks=(400, -1)), tmp_path / "c", block_bytes=2000)
    assert max(Xc.chunks[0]) == block_rows(X.shape[1], 8, 2000) < 400
    got = estimator("binomial", "logit", "enet").fit(Xc, y, sample_weight=w, offset=off)
    assert_same_fit(got, ref, "cache blocks")
    # Partitions larger than the budget (a decoded Parquet file), column-major as pandas gives them
    monkeypatch.setattr(dask_design, "BLOCK_BYTES", 3000)
    Xf = da.from_array(np.asfortranarray(X), chunks=(500, -1))
    design = DaskDesign(dask_matrix(Xf)[0], Backend("numpy"))
    d = w / w.sum()
    for intercept in (True, False):
        dense = glmlib.design.dense.DenseDesign(X, Backend("numpy")).gram(d, intercept)
        np.testing.assert_allclose(design.gram(d, intercept), dense, rtol=1e-12, atol=1e-15)
    got = estimator("binomial", "logit", "enet").fit(Xf, y, sample_weight=w, offset=off)
    assert_same_fit(got, ref, "Gram slices")


def _pyarrow_files(tmp_path, frame, parts, row_group_size):
    """``frame`` written by pyarrow in ``parts`` files of row groups of ``row_group_size`` rows."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    files = []
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        files.append(tmp_path / f"part-{i}.parquet")
        table = pa.Table.from_pandas(frame.iloc[rows], preserve_index=False)
        pq.write_table(table, files[-1], row_group_size=row_group_size)
    return files


def test_parquet_matrix_fit_equals_in_memory_fit(tmp_path):
    """parquet_matrix: row groups decoded in batches into one array; the fit equals the in-memory fit."""
    pq = pytest.importorskip("pyarrow.parquet")
    X, y, w, off = make_data("binomial", n=3000)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["k"] = np.arange(len(frame)) % 7  # an integer column, converted to float64
    frame["y"] = y
    files = _pyarrow_files(tmp_path, frame, parts=4, row_group_size=300)
    features = [c for c in frame.columns if c != "y"]
    # 3 rows per decoded batch: many batches per row group, and a last short one
    Xp = glmlib.parquet_matrix(str(tmp_path / "*.parquet"), features, block_bytes=3 * 8 * 7)
    assert isinstance(Xp, da.Array) and Xp.dtype == np.float64
    groups = [pq.read_metadata(f).row_group(g).num_rows for f in files for g in range(3)]
    assert Xp.chunks[0] == tuple(groups) and sum(groups) == 3000  # one chunk per row group
    dense = frame[features].to_numpy(np.float64)
    np.testing.assert_array_equal(Xp.compute(), dense)
    ref = estimator("binomial", "logit", "enet").fit(dense, y, sample_weight=w, offset=off)
    got = estimator("binomial", "logit", "enet").fit(Xp, y, sample_weight=w, offset=off)
    assert_same_fit(got, ref)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    # A list of files, the default budget, y read by Dask from the same files
    Xl = glmlib.parquet_matrix([str(f) for f in files], features)
    yd = dd.read_parquet(str(tmp_path / "*.parquet"), columns=["y"])["y"]
    got = estimator("binomial", "logit", "enet").fit(Xl, yd, sample_weight=w, offset=off)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)
    # All columns by default, float32 on request
    X32 = glmlib.parquet_matrix(files[0], dtype=np.float32)
    first = frame.iloc[: len(frame) // 4]
    assert X32.dtype == np.float32 and X32.shape == first.shape
    np.testing.assert_array_equal(X32.compute(), first.to_numpy(np.float32))


def test_parquet_matrix_refuses_bad_input(tmp_path):
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 3.0]})
    _pyarrow_files(tmp_path, frame, parts=1, row_group_size=10)
    with pytest.raises(ValueError, match="missing values"):
        glmlib.parquet_matrix(str(tmp_path / "*.parquet")).compute()
    np.testing.assert_array_equal(
        glmlib.parquet_matrix(str(tmp_path / "part-0.parquet"), ["b"]).compute(), [[1], [2], [3]]
    )
    with pytest.raises(ValueError, match="no Parquet files"):
        glmlib.parquet_matrix(str(tmp_path / "none-*.parquet"))
    with pytest.raises(ValueError, match="dtype"):
        glmlib.parquet_matrix(str(tmp_path / "*.parquet"), dtype=np.int64)


def test_parquet_design_streams_row_groups(tmp_path, monkeypatch):
    """A design over parquet_matrix runs its products over decoded batches, never a row group."""
    X, y, w, off = make_data("poisson", n=1000)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    _pyarrow_files(tmp_path, frame, parts=3, row_group_size=150)
    Xp = glmlib.parquet_matrix(str(tmp_path / "*.parquet"), block_bytes=7 * 8 * X.shape[1])
    Xv, _, top, bottom = dask_design.validated_matrix(Xp)  # validation streams too
    np.testing.assert_array_equal(top, X.max(axis=0))
    np.testing.assert_array_equal(bottom, X.min(axis=0))

    def no_whole_row_group(*a, **k):
        raise AssertionError("a row group was decoded whole")

    monkeypatch.setattr(dask_design.ParquetRowGroup, "read", no_whole_row_group)
    design = DaskDesign(Xv, Backend("numpy"))
    assert design._sources is not None and len(design._sources) == len(Xp.chunks[0])
    dense = glmlib.design.dense.DenseDesign(X, Backend("numpy"))
    rng = np.random.default_rng(0)
    beta, v, d = rng.standard_normal(X.shape[1]), rng.standard_normal(1000), rng.random(1000)
    np.testing.assert_allclose(design.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-12, atol=1e-12)
    for intercept in (True, False):
        np.testing.assert_allclose(
            design.gram(d, intercept), dense.gram(d, intercept), rtol=1e-12, atol=1e-12
        )
        g_v, g = design.rmatvec_gram(v, d, intercept)
        np.testing.assert_allclose(g_v, X.T @ v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, dense.gram(d, intercept), rtol=1e-12, atol=1e-12)
    sub = design.subset([2, 0])  # columns picked by name in each row group
    np.testing.assert_allclose(sub.matvec(beta[:2]), X[:, [2, 0]] @ beta[:2], rtol=1e-12)
    assert sub._sources[0].columns == ["x2", "x0"]
    ref = estimator("poisson", "log", "enet").fit(X, y, sample_weight=w, offset=off)
    got = estimator("poisson", "log", "enet").fit(Xp, y, sample_weight=w, offset=off)
    assert_same_fit(got, ref)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)


@pytest.mark.parametrize("family, link", [("binomial", "logit"), ("poisson", "log")])
def test_working_weights_formed_per_partition(tmp_path, monkeypatch, family, link):
    """Fits whose weights a row kernel forms partition by partition equal the in-memory fit.

    The Newton iterations take X.T @ score, sum(score) and the Gram matrix from
    ``rmatvec_gram_rows`` (no n-vector of weights); on a scheduler outside the
    process it declines and the solver forms the weights whole: the same fit.
    """
    X, y, w, off = make_data(family, n=1200)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    _pyarrow_files(tmp_path, frame, parts=2, row_group_size=250)
    ref = estimator(family, link, "ridge").fit(X, y, sample_weight=w, offset=off)
    formed = []
    original = DaskDesign.rmatvec_gram_rows

    def counted(self, *a, **k):
        out = original(self, *a, **k)
        if self.p:  # the intercept-only fits have no columns and no pass
            formed.append(out is not None)
        return out

    monkeypatch.setattr(DaskDesign, "rmatvec_gram_rows", counted)
    for Xd in (glmlib.parquet_matrix(str(tmp_path / "*.parquet")), da.from_array(X, chunks=300)):
        formed.clear()
        got = estimator(family, link, "ridge").fit(Xd, y, sample_weight=w, offset=off)
        assert formed and all(formed)
        assert_same_fit(got, ref)
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    monkeypatch.setattr(dask_design, "_in_process", lambda: False)
    formed.clear()
    got = estimator(family, link, "ridge").fit(
        glmlib.parquet_matrix(str(tmp_path / "*.parquet")), y, sample_weight=w, offset=off
    )
    assert formed and not any(formed)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-10)
