"""Fitted statistics on demand (glmlib._inference.FitStatistics).

A fit keeps the p x p Fisher matrix and a few row sums, never X; rank,
degrees of freedom, scale, AIC/BIC and the covariance are computed when first
asked. References: closed-form traces from the stored Fisher matrix, the same
statistics before and after pickling, and an in-memory fit for a Dask one.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from glmlib import GLM

LAZY = ("rank", "df_model", "criteria", "cov_unscaled")


def _poisson(n: int, p: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = rng.poisson(np.exp(0.2 + X @ np.linspace(-0.3, 0.3, p)))
    return X, y


def _all_statistics(model: GLM) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "rank": model.rank_,
            "df_model": model.df_model_,
            "df_resid": model.df_resid_,
            "scale": model.scale_,
            "llf": model.llf_,
            "aic": model.aic_,
            "bic": model.bic_,
            "cov": model.covariance().to_numpy(),
            "summary": model.summary().to_numpy(),
        }


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_statistics_are_computed_when_first_asked(alpha):
    X, y = _poisson(300)
    model = GLM(family="gamma" if alpha else "poisson", alpha=alpha).fit(X, np.abs(y) + 0.5)
    cached = set(vars(model._stats))
    assert not cached & set(LAZY), f"computed during fit: {cached & set(LAZY)}"
    _ = model.aic_
    assert {"df_model", "criteria"} <= set(vars(model._stats))
    assert "cov_unscaled" not in vars(model._stats)
    _ = model.covariance()
    assert "cov_unscaled" in vars(model._stats)


def test_fitted_state_holds_no_row_sized_array():
    n = 2001
    X, y = _poisson(n)
    model = GLM(family="poisson", alpha=0.01).fit(X, y)
    _all_statistics(model)
    for owner in (vars(model), vars(model._stats)):
        for name, value in owner.items():
            if isinstance(value, np.ndarray):
                assert n not in value.shape, f"{name} has a dimension of n"


def test_pickle_size_does_not_grow_with_n():
    sizes = []
    for n in (500, 50_000):
        X, y = _poisson(n)
        model = GLM(family="poisson").fit(X, y)
        _all_statistics(model)  # cached statistics are p x p at most
        sizes.append(len(pickle.dumps(model)))
    # 50 000 float64 would add 400 kB; the models differ only in history_ rows.
    assert abs(sizes[1] - sizes[0]) < 2_000, sizes


@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.05, 0.0), (0.02, 0.5)])
def test_statistics_after_unpickling_equal_those_of_the_fit(alpha, l1_ratio):
    X, y = _poisson(400)
    fitted = GLM(family="poisson", alpha=alpha, l1_ratio=l1_ratio).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))  # nothing computed before pickling
    got, ref = _all_statistics(again), _all_statistics(fitted)
    for key, value in ref.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_effective_df_equals_trace_formula_from_stored_fisher():
    """df_model = tr(H (H + D)^-1) with H the stored Fisher matrix and D the ridge (closed form)."""
    X, y = _poisson(500, p=8)
    alpha = 0.2
    n = X.shape[0]
    model = GLM(family="poisson", alpha=alpha).fit(X, y)
    H = model._fisher_info
    D = np.diag(np.r_[0.0, np.full(8, alpha * n)])  # caller's weight scale: sum(w) = n
    expected = np.trace(H @ np.linalg.inv(H + D))
    assert model.df_model_ == pytest.approx(expected, rel=1e-10)
    assert model.aic_ - model.bic_ == pytest.approx((2.0 - np.log(n)) * model.df_model_, rel=1e-10)


def test_rank_of_rank_deficient_fit_matches_numpy():
    X, y = _poisson(200, p=4)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.warns(UserWarning, match="rank deficient"):
        model = GLM(family="poisson").fit(X, y)
    assert model.rank_ == np.linalg.matrix_rank(np.column_stack([np.ones(200), X])) == 5
    assert model.df_resid_ == 200 - 5


def test_dask_fit_statistics_equal_in_memory_fit():
    da = pytest.importorskip("dask.array")
    X, y = _poisson(1000)
    ref = GLM(family="poisson").fit(X, y)
    got = GLM(family="poisson").fit(da.from_array(X, chunks=(250, 5)), y)
    r, g = _all_statistics(ref), _all_statistics(got)
    for key in ("rank", "df_model", "scale", "llf", "aic", "bic"):
        assert g[key] == pytest.approx(r[key], rel=1e-8), key
    np.testing.assert_allclose(g["cov"], r["cov"], rtol=1e-6)
    assert len(pickle.dumps(got)) < len(pickle.dumps(X)) / 4


def test_unfitted_model_has_no_statistics():
    model = GLM()
    assert not hasattr(model, "aic_")
    assert not hasattr(model, "scale_")
    assert isinstance(GLM(family="poisson").fit(*_poisson(100)).summary(), pd.DataFrame)
