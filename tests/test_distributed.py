"""Sharded fits over torch.distributed (``glmlib/distributed.py``), with 2 gloo processes.

* Two processes, each fitting ``GLM(distributed=True)`` on half of the rows,
  end with identical coefficients that equal the in-memory fit on all rows
  to 1e-8 relative (coefficients, intercept, deviance, null deviance, AIC,
  covariance, D^2; 1e-10 absolute for coefficients that are zero), for every
  family, with weights and offsets, unpenalised and with ridge, lasso and
  elastic-net penalties. Shards of unequal size, an empty shard, torch tensors
  and scipy.sparse shards too.
  Categorical DataFrame shards (coded with the union of the processes'
  levels, one of them missing on a process) and L-BFGS fits too.
* Failures are clear and never hang: an invalid shard raises on its process
  and a RuntimeError naming it on the other; shards with different columns
  are refused; a process that dies makes the other fail within the process
  group's timeout; ``distributed=True`` without a process group says how to
  start one.

Each test starts one pair of processes (about 4 s) and runs many cases in it.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pooled_cases import FAMILIES, PENALTIES, RTOL, ZERO_ATOL, estimator, make_data  # noqa: E402

import glmlib

torch = pytest.importorskip("torch")
from glmlib.distributed import launch  # noqa: E402  (needs torch)

SPLIT = 230  # rows of rank 0; rank 1 has the other 270


def summary(model, X, y, w, off):
    return {
        "coef": model.coef_,
        "intercept": model.intercept_,
        "deviance": model.deviance_,
        "null_deviance": model.null_deviance_,
        "aic": model.aic_,
        "bic": model.bic_,
        "scale": model.scale_,
        "nobs": model.nobs_,
        "df_model": model.df_model_,
        "cov": model.covariance().to_numpy(),
        "score": model.score(X, y, sample_weight=w, offset=off),
    }


def _rows(rank):
    return slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)


def fit_every_case(rank, world):
    out = {}
    for family, link in FAMILIES:
        X, y, w, off = make_data(family)
        rows = _rows(rank)
        for penalty in PENALTIES:
            model = estimator(family, link, penalty, distributed=True)
            model.fit(X[rows], y[rows], sample_weight=w[rows], offset=off[rows])
            out[(family, penalty)] = summary(model, X[rows], y[rows], w[rows], off[rows])
    return out


def fit_other_inputs(rank, world):
    """Torch tensors, scipy.sparse shards and an empty shard (rank 1 holds every row)."""
    X, y, w, off = make_data("poisson")
    rows = _rows(rank)
    out = {}
    model = estimator("poisson", "log", "enet", distributed=True)
    model.fit(torch.as_tensor(X[rows]), torch.as_tensor(y[rows]), sample_weight=w[rows])
    out["tensor"] = model.coef_
    model = estimator("poisson", "log", "enet", distributed=True, precision="mixed")
    out["mixed"] = model.fit(X[rows], y[rows], sample_weight=w[rows]).coef_
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.7] = 0.0
    model = estimator("poisson", "log", "lasso", distributed=True)
    out["sparse"] = model.fit(sp.csr_matrix(Xs[rows]), y[rows], sample_weight=w[rows]).coef_
    every = slice(0, 0) if rank == 0 else slice(None)
    model = estimator("poisson", "log", "none", distributed=True)
    model.fit(X[every], y[every], sample_weight=w[every], offset=off[every])
    out["empty"] = summary(model, X[every], y[every], w[every], off[every])
    return out


def test_sharded_fits_equal_the_fit_on_all_rows():
    results = launch(fit_every_case, 2, timeout=120)
    for family, link in FAMILIES:
        X, y, w, off = make_data(family)
        for penalty in PENALTIES:
            ref_model = estimator(family, link, penalty).fit(X, y, sample_weight=w, offset=off)
            ref = summary(ref_model, X, y, w, off)
            got, other = results[0][(family, penalty)], results[1][(family, penalty)]
            np.testing.assert_array_equal(got["coef"], other["coef"])  # every rank alike
            case = f"{family}/{penalty}"
            zero = ref["coef"] == 0
            np.testing.assert_array_equal(got["coef"] == 0, zero, err_msg=case)
            np.testing.assert_allclose(
                got["coef"][~zero], ref["coef"][~zero], rtol=RTOL, err_msg=case
            )
            np.testing.assert_allclose(got["coef"][zero], 0.0, atol=ZERO_ATOL, err_msg=case)
            for key in ("intercept", "deviance", "null_deviance", "scale", "df_model", "score"):
                np.testing.assert_allclose(got[key], ref[key], rtol=RTOL, err_msg=f"{case} {key}")
            for key in ("aic", "bic"):
                if not math.isnan(ref[key]):
                    np.testing.assert_allclose(
                        got[key], ref[key], rtol=RTOL, err_msg=f"{case} {key}"
                    )
            assert got["nobs"] == ref["nobs"] == X.shape[0]
            np.testing.assert_allclose(got["cov"], ref["cov"], rtol=1e-6, atol=1e-12, err_msg=case)


def test_tensor_sparse_and_empty_shards():
    results = launch(fit_other_inputs, 2, timeout=120)
    X, y, w, off = make_data("poisson")
    ref = estimator("poisson", "log", "enet").fit(X, y, sample_weight=w).coef_
    for r in results:
        np.testing.assert_allclose(r["tensor"], ref, rtol=RTOL, atol=ZERO_ATOL)
        np.testing.assert_allclose(r["mixed"], ref, rtol=1e-7, atol=ZERO_ATOL)  # bfloat16 Grams
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.7] = 0.0
    ref_sparse = estimator("poisson", "log", "lasso").fit(sp.csr_matrix(Xs), y, sample_weight=w)
    for r in results:
        np.testing.assert_allclose(r["sparse"], ref_sparse.coef_, rtol=RTOL, atol=ZERO_ATOL)
    full = estimator("poisson", "log", "none").fit(X, y, sample_weight=w, offset=off)
    for r in results:
        np.testing.assert_allclose(r["empty"]["coef"], full.coef_, rtol=RTOL)
        np.testing.assert_allclose(r["empty"]["aic"], full.aic_, rtol=RTOL)
        assert r["empty"]["nobs"] == X.shape[0]


def fit_paths(rank, world):
    X, y, w, off = make_data("binomial")
    rows = _rows(rank)
    path = glmlib.glm_path(
        X[rows],
        y[rows],
        family="binomial",
        l1_ratio=0.7,
        n_alphas=15,
        sample_weight=w[rows],
        offset=off[rows],
        tol=1e-10,
        distributed=True,
    )
    return path.alphas, path.coef, path.intercept


def test_sharded_path_equals_the_path_on_all_rows():
    results = launch(fit_paths, 2, timeout=120)
    X, y, w, off = make_data("binomial")
    ref = glmlib.glm_path(
        X, y, family="binomial", l1_ratio=0.7, n_alphas=15, sample_weight=w, offset=off, tol=1e-10
    )
    for alphas, coef, intercept in results:
        np.testing.assert_allclose(alphas, ref.alphas, rtol=1e-12)
        np.testing.assert_array_equal(coef == 0, ref.coef == 0)
        np.testing.assert_allclose(coef, ref.coef, rtol=RTOL, atol=ZERO_ATOL)
        np.testing.assert_allclose(intercept, ref.intercept, rtol=RTOL)


def categorical_frame():
    """Numeric and categorical columns; rank 0's rows (the first SPLIT) never see level "w"."""
    X, y, w, off = make_data("poisson")
    g = np.where(X[:, 1] > 0.3, "v", "u")
    g[SPLIT:][X[SPLIT:, 2] > 0.8] = "w"
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 3], "g": g, "h": np.where(X[:, 4] > 0, "p", "q")})
    return frame, y, w, off


def fit_categorical_and_lbfgs(rank, world):
    frame, y, w, off = categorical_frame()
    rows = _rows(rank)
    local = frame.iloc[rows].copy()
    for c in ("g", "h"):
        local[c] = local[c].astype("category")  # each process sees only its own levels
    out = {}
    for penalty in ("none", "enet"):
        model = estimator("poisson", "log", penalty, distributed=True)
        model.fit(local, y[rows], sample_weight=w[rows], offset=off[rows])
        out[penalty] = (model.coef_, list(model.feature_names_out_), model.aic_)
    X, y2, w2, off2 = make_data("binomial")
    model = estimator("binomial", "logit", "ridge", distributed=True, solver="lbfgs")
    out["lbfgs"] = model.fit(X[rows], y2[rows], sample_weight=w2[rows]).coef_
    return out


def test_categorical_shards_and_lbfgs_equal_the_fit_on_all_rows():
    results = launch(fit_categorical_and_lbfgs, 2, timeout=120)
    frame, y, w, off = categorical_frame()
    for c in ("g", "h"):
        frame[c] = frame[c].astype("category")
    for penalty in ("none", "enet"):
        ref = estimator("poisson", "log", penalty).fit(frame, y, sample_weight=w, offset=off)
        for r in results:
            coef, names, aic = r[penalty]
            assert names == list(ref.feature_names_out_)
            np.testing.assert_allclose(coef, ref.coef_, rtol=RTOL, atol=ZERO_ATOL)
            np.testing.assert_allclose(aic, ref.aic_, rtol=RTOL)
    X, y2, w2, off2 = make_data("binomial")
    ref = estimator("binomial", "logit", "ridge", solver="lbfgs").fit(X, y2, sample_weight=w2)
    for r in results:  # the same L-BFGS iterates, with all-reduced gradients
        np.testing.assert_allclose(r["lbfgs"], ref.coef_, rtol=1e-6, atol=1e-8)


def _outcome(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return type(exc).__name__, str(exc)
    return None


def fail_in_different_ways(rank, world):
    X, y, w, off = make_data("poisson")
    rows = _rows(rank)
    out = {}
    y_bad = y[rows].copy()
    if rank == 1:
        y_bad[3] = -1.0  # out of the Poisson family's support
    out["bad_y"] = _outcome(lambda: glmlib.GLM("poisson", distributed=True).fit(X[rows], y_bad))
    X_cols = X[rows] if rank == 0 else X[rows][:, :4]
    out["columns"] = _outcome(lambda: glmlib.GLM("poisson", distributed=True).fit(X_cols, y[rows]))
    out["formula"] = _outcome(
        lambda: glmlib.GLM("poisson", formula="y ~ a", distributed=True).fit(X[rows], y[rows])
    )
    return out


def test_an_invalid_shard_fails_everywhere_with_a_clear_error():
    results = launch(fail_in_different_ways, 2, timeout=60)
    kind, message = results[1]["bad_y"]
    assert kind == "ValueError" and "poisson" in message.lower()
    kind, message = results[0]["bad_y"]
    assert kind == "RuntimeError" and "rank(s) [1]" in message and "ValueError" in message
    for r in results:
        kind, message = r["columns"]
        assert kind == "ValueError" and "different numbers of columns" in message
        kind, message = r["formula"]
        assert kind == "NotImplementedError" and "formula" in message


def _die_or_fit(rank, address, queue):
    """Rank 1 dies once the group is up; rank 0 fits and reports how it ended."""
    import datetime

    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=address, rank=rank, world_size=2, timeout=datetime.timedelta(seconds=10)
    )
    if rank == 1:
        os._exit(3)
    X, y, w, off = make_data("poisson")
    t0 = time.monotonic()
    queue.put(
        (_outcome(lambda: glmlib.GLM("poisson", distributed=True).fit(X, y)), time.monotonic() - t0)
    )


def test_a_dead_process_makes_the_others_fail_not_hang():
    import multiprocessing

    from glmlib.distributed import _free_port

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = [ctx.Process(target=_die_or_fit, args=(r, address, queue)) for r in range(2)]
    for proc in procs:
        proc.start()
    outcome, seconds = queue.get(timeout=120)
    for proc in procs:
        proc.join(timeout=30)
    assert outcome is not None, "the fit succeeded without its peer"
    assert outcome[0] in ("RuntimeError", "DistBackendError", "DistNetworkError"), outcome
    assert seconds < 60, f"the surviving process took {seconds:.0f} s to fail"


def test_distributed_without_a_process_group_says_how_to_start_one():
    X, y, w, off = make_data("poisson")
    with pytest.raises(RuntimeError, match="torchrun"):
        glmlib.GLM("poisson", distributed=True).fit(X, y)


def test_launch_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nprocs"):
        launch(fit_every_case, 0)
    with pytest.raises(ValueError, match="backend"):
        launch(fit_every_case, 2, backend="mpi")


def fit_on_gpus(rank, world):
    torch.cuda.set_device(rank)
    X, y, w, off = make_data("poisson")
    rows = np.array_split(np.arange(len(y)), world)[rank]
    model = estimator("poisson", "log", "enet", distributed=True, device="cuda")
    return model.fit(X[rows], y[rows], sample_weight=w[rows], offset=off[rows]).coef_


@pytest.mark.gpu
def test_nccl_fit_on_every_gpu_equals_the_fit_on_all_rows():
    """NCCL on the GPUs present (world size 1 on a one-GPU machine)."""
    results = launch(fit_on_gpus, torch.cuda.device_count(), backend="nccl", timeout=120)
    X, y, w, off = make_data("poisson")
    ref = estimator("poisson", "log", "enet").fit(X, y, sample_weight=w, offset=off)
    for coef in results:
        np.testing.assert_allclose(coef, ref.coef_, rtol=1e-7, atol=ZERO_ATOL)
