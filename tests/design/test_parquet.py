"""Parquet row groups read by pyarrow (``glmlib/design/parquet.py``) against NumPy on the same values.

* Row groups within the block budget (the default): X @ beta, X.T @ v, the
  Gram matrix with and without X.T @ v, and the validation's extremes, read
  column by column, equal NumPy's products on the files' values to 1e-12
  (several files and row groups, an integer column, float32, column subsets).
* X @ beta skips the columns whose coefficient is 0 and writes into the
  caller's vector; the same values through the concatenating path a cluster
  scheduler takes.
* The row groups are found in the array's own task graph (no registry), and
  not for arrays computed from it; row groups and block pools pickle.
* A Gram pass reuses its block across row groups.

Fits on ``parquet_matrix`` against the in-memory fit: ``tests/design/test_dask.py``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import glmlib
from glmlib._backend import Backend
from glmlib.design import dask as dask_design
from glmlib.design import parquet as pqd
from glmlib.design.dask import DaskDesign, validated_matrix
from glmlib.design.dense import DenseDesign

da = pytest.importorskip("dask.array")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture
def data(tmp_path):
    """(X as written, glob of 3 files, 2 row groups each; one integer column)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1000, 6))
    X[:, 4] = np.arange(1000) % 5  # written as int64, read as float
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)]).astype({"x4": np.int64})
    for i, rows in enumerate(np.array_split(np.arange(1000), 3)):
        table = pa.Table.from_pandas(frame.iloc[rows], preserve_index=False)
        pq.write_table(table, tmp_path / f"part-{i}.parquet", row_group_size=170)
    return X, str(tmp_path / "*.parquet")


def test_products_by_columns_equal_numpy(data):
    X, files = data
    Xp = glmlib.parquet_matrix(files)
    sources = pqd.sources_of(Xp)
    assert sources is not None and len(sources) == len(Xp.chunks[0]) == 6
    assert not any(s.in_batches for s in sources)  # 170 x 6 floats: within the budget
    Xv, _, top, bottom = validated_matrix(Xp)
    np.testing.assert_array_equal(top, X.max(axis=0))
    np.testing.assert_array_equal(bottom, X.min(axis=0))
    design = DaskDesign(Xv, Backend("numpy"))
    dense = DenseDesign(X, Backend("numpy"))
    rng = np.random.default_rng(0)
    beta, v, d = rng.standard_normal(6), rng.standard_normal(1000), rng.random(1000)
    beta[[1, 3]] = 0.0  # columns left unread
    np.testing.assert_allclose(design.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-12, atol=1e-12)
    for intercept in (True, False):
        ref = dense.gram(d, intercept)
        np.testing.assert_allclose(design.gram(d, intercept), ref, rtol=1e-12, atol=1e-12)
        x_v, g = design.rmatvec_gram(v, d, intercept)
        np.testing.assert_allclose(x_v, X.T @ v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
    sub = design.subset([5, 0, 4])
    np.testing.assert_allclose(
        sub.gram(d)[1:, 1:], DenseDesign(X[:, [5, 0, 4]], Backend("numpy")).gram(d)[1:, 1:],
        rtol=1e-12,
    )  # fmt: skip
    np.testing.assert_array_equal(Xp.compute(), X)
    assert sources[0]().flags.f_contiguous  # a chunk: one contiguous copy per column


def test_float32_columns(data):
    X, files = data
    Xp = glmlib.parquet_matrix(files, ["x2", "x4"], dtype=np.float32)
    design = DaskDesign(Xp, Backend("numpy"))
    X32 = X[:, [2, 4]].astype(np.float32)
    np.testing.assert_array_equal(Xp.compute(), X32)
    d = np.random.default_rng(1).random(1000)
    ref = DenseDesign(X32, Backend("numpy")).gram(d)
    np.testing.assert_allclose(design.gram(d), ref, rtol=1e-5)


def test_matvec_on_a_scheduler_elsewhere(data, monkeypatch):
    """X @ beta written into one vector in this process; concatenated parts on a cluster."""
    X, files = data
    design = DaskDesign(glmlib.parquet_matrix(files), Backend("numpy"))
    beta = np.linspace(-1, 1, 6)
    in_memory = DaskDesign(da.from_array(X, chunks=(300, -1)), Backend("numpy"))
    for d in (design, in_memory):  # into one vector here, concatenated parts elsewhere
        np.testing.assert_allclose(d.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(dask_design, "_in_process", lambda: False)
    for d in (design, in_memory):
        np.testing.assert_allclose(d.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)


def test_sources_live_in_the_graph(data):
    X, files = data
    Xp = glmlib.parquet_matrix(files)
    assert pqd.sources_of(Xp.rechunk({1: -1})) is not None  # the same array
    assert pqd.sources_of(Xp + 1) is None
    assert pqd.sources_of(Xp[:, :2]) is None
    assert pqd.sources_of(da.zeros((4, 2), chunks=2)) is None
    assert not hasattr(pqd, "_PARQUET_SOURCES") and not hasattr(dask_design, "_PARQUET_SOURCES")
    source = pqd.sources_of(Xp)[4]
    again = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(again(), source.read())
    pool = pqd.Buffers()
    pool.give(np.empty(10))
    assert pickle.loads(pickle.dumps(pool))._free == []  # arrives empty elsewhere


def test_gram_pass_reuses_its_block(data):
    X, files = data
    sources = pqd.sources_of(glmlib.parquet_matrix(files))
    pool = pqd.Buffers()
    d = np.ones(1000)
    first = pqd.gram_products(sources[0], None, d[:170], True, pool)
    (flat,) = pool._free
    assert sources[1].rows == 164
    pqd.gram_products(sources[1], None, d[170:334], True, pool)
    assert pool._free == [flat]  # the same block, taken and given back
    ref = DenseDesign(X[:170], Backend("numpy")).gram(d[:170])
    np.testing.assert_allclose(first.reshape(7, 7), ref, rtol=1e-12)
    flat, block = pool.take(3, 2, np.float64)
    assert block.shape == (3, 2) and block.flags.f_contiguous and np.shares_memory(block, flat)


def test_missing_values_refused_by_column_reads(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, np.nan, 3.0]})
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "f.parquet")
    Xp = glmlib.parquet_matrix(str(tmp_path / "f.parquet"))
    with pytest.raises(ValueError, match="missing values"):
        validated_matrix(Xp)
    with pytest.raises(ValueError, match="missing values"):
        Xp.compute()
