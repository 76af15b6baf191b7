"""Tests for input handling (``glmlib/_validation.py``, and the designs it feeds).

* Equivalent inputs give the same fit: pandas DataFrame (column names become
  term names), scipy.sparse CSR and CSC (1e-8 of the dense fit), integer and
  list input; float32 X gives a fit within 1e-4 of float64.
* Bad input fails early with ValueError/TypeError and a message naming the
  problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from glmlib import GLM, GLMCV
from glmlib.families import NegativeBinomial


def make_data(family="poisson", n=200, p=4, seed=0, sparse_frac=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if sparse_frac:
        X[rng.uniform(size=X.shape) < sparse_frac] = 0.0
    eta = 0.2 + X @ np.array([0.5, -0.3, 0.2, 0.0])[:p]
    if family == "gaussian":
        y = eta + rng.normal(size=n)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "gamma":
        y = rng.gamma(3.0, np.exp(eta) / 3.0)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return X, y


FAMILIES = [("gaussian", None), ("binomial", None), ("poisson", None), ("gamma", "log")]
PENALTIES = {"unpenalised": (0.0, 0.0), "ridge": (0.05, 0.0), "lasso": (0.02, 1.0)}


# ------------------------------------------------------------- equivalent inputs


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_sparse_input_matches_dense(family, link, fmt, penalty):
    """scipy.sparse CSR/CSC give the dense fit to 1e-8 (coef, deviance, SE, predictions)."""
    X, y = make_data(family, sparse_frac=0.6)
    alpha, l1_ratio = PENALTIES[penalty]
    kw = dict(family=family, link=link, alpha=alpha, l1_ratio=l1_ratio)
    dense = GLM(**kw).fit(X, y)
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    model = GLM(**kw).fit(Xs, y)
    np.testing.assert_allclose(model.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, dense.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.deviance_, dense.deviance_, rtol=1e-8)
    np.testing.assert_allclose(model.predict(Xs), dense.predict(X), rtol=1e-8)
    np.testing.assert_allclose(model.covariance(), dense.covariance(), rtol=1e-7, atol=1e-12)


def test_sparse_input_is_not_densified_by_the_design():
    X, y = make_data(sparse_frac=0.9)
    model = GLM(family="poisson").fit(sp.csr_matrix(X), y)
    assert model.converged_  # and the design object never held a dense copy:
    from glmlib._backend import Backend
    from glmlib.design.make import make_design

    design = make_design(sp.csr_matrix(X), Backend("numpy"))
    assert design.is_sparse and sp.issparse(design.X)


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize(("family", "link"), FAMILIES)
def test_float32_input_close_to_float64(family, link, penalty):
    """float32 X: coefficients and deviance within 1e-4 of the float64 fit."""
    X, y = make_data(family)
    alpha, l1_ratio = PENALTIES[penalty]
    kw = dict(family=family, link=link, alpha=alpha, l1_ratio=l1_ratio)
    ref = GLM(**kw).fit(X, y)
    model = GLM(**kw).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.deviance_, ref.deviance_, rtol=1e-4)
    assert model.coef_.dtype == np.float64


def test_float32_sparse_input_close_to_float64():
    X, y = make_data(sparse_frac=0.5)
    ref = GLM(family="poisson").fit(X, y)
    model = GLM(family="poisson").fit(sp.csr_matrix(X.astype(np.float32)), y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-4)


def test_dataframe_input_matches_array_and_names_terms():
    X, y = make_data()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ref = GLM(family="poisson").fit(X, y)
    model = GLM(family="poisson").fit(df, pd.Series(y, name="count"))
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    assert list(model.summary().index) == ["intercept", "a", "b", "c", "d"]
    np.testing.assert_allclose(model.predict(df), ref.predict(X), rtol=1e-12)


def test_dataframe_with_bool_and_int_columns():
    X, y = make_data()
    df = pd.DataFrame({"a": X[:, 0], "flag": X[:, 1] > 0, "k": np.round(3 * X[:, 2]).astype(int)})
    ref = GLM(family="poisson").fit(df.to_numpy(dtype=float), y)
    model = GLM(family="poisson").fit(df, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10)


def test_list_and_integer_input():
    X, y = make_data()
    Xi = np.round(2 * X).astype(np.int64)
    ref = GLM(family="poisson").fit(Xi.astype(float), y)
    np.testing.assert_allclose(GLM(family="poisson").fit(Xi, y).coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(
        GLM(family="poisson").fit(Xi.tolist(), y.tolist()).coef_, ref.coef_, rtol=1e-12
    )


def test_column_vector_y_is_accepted():
    X, y = make_data()
    ref = GLM(family="poisson").fit(X, y)
    with pytest.warns(Warning):  # sklearn's DataConversionWarning for a column vector
        model = GLM(family="poisson").fit(X, y[:, None])
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)


def test_scalar_offset_and_weight_broadcast():
    X, y = make_data()
    ref = GLM(family="poisson").fit(X, y, offset=np.full(len(y), 0.5))
    model = GLM(family="poisson").fit(X, y, offset=0.5, sample_weight=2.0)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10)


# --------------------------------------------------------------------- bad input


def bad(array, where):
    out = np.array(array, dtype=float, copy=True)
    out.flat[3] = where
    return out


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_X_raises(value):
    X, y = make_data()
    with pytest.raises(ValueError, match=r"X contains (NaN|infinity)"):
        GLM(family="poisson").fit(bad(X, value), y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("name", ["y", "sample_weight", "offset"])
def test_nonfinite_vectors_raise_naming_the_argument(name, value):
    X, y = make_data()
    args = {"y": y, "sample_weight": np.ones(len(y)), "offset": np.zeros(len(y))}
    args[name] = bad(args[name], value)
    with pytest.raises(ValueError, match=rf"{name}.*(NaN|infinity)"):
        GLM(family="poisson").fit(X, **args)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_torch_input_raises(value):
    torch = pytest.importorskip("torch")
    X, y = make_data()
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        GLM(family="poisson").fit(torch.as_tensor(bad(X, value)), torch.as_tensor(y))
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        GLM(family="poisson").fit(torch.as_tensor(X), torch.as_tensor(bad(y, value)))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_validation_finds_the_column_ranges_in_its_finiteness_pass(value, dtype, order):
    """validate_X_with_range: for a C-ordered NumPy X, max - min of each column (np.ptp,
    exactly) from the finiteness check's own pass, which still rejects NaN and infinities
    anywhere with scikit-learn's messages; None for other layouts."""
    from glmlib._validation import validate_X_with_range

    X, _ = make_data()
    X = np.asarray(X, dtype=dtype, order=order)
    got, spread = validate_X_with_range(GLM(), X, reset=True)
    if order == "C":
        np.testing.assert_array_equal(spread, np.ptp(X, axis=0).astype(np.float64))
    else:
        assert spread is None
    for row in (0, X.shape[0] - 1):
        broken = X.copy(order=order)
        broken[row, 1] = value
        with pytest.raises(ValueError, match=r"X contains (NaN|infinity)"):
            validate_X_with_range(GLM(), broken, reset=True)


def test_a_fit_uses_the_ranges_validation_found(monkeypatch):
    """GLM.fit reads X once for the finiteness check and the column warnings: the dense
    design holds validation's ranges (not recomputed), and a constant column still warns."""
    import glmlib.design.dense as dense

    X, y = make_data()
    X = np.ascontiguousarray(X, dtype=np.float64)
    X[:, 2] = 1.5
    calls = []
    original = dense._dense_column_range
    monkeypatch.setattr(dense, "_dense_column_range", lambda X: calls.append(1) or original(X))
    with pytest.warns(UserWarning, match="constant"):
        GLM(family="poisson").fit(X, y)
    assert calls == [1]


def test_nonfinite_in_sparse_X_raises():
    X, y = make_data(sparse_frac=0.5)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        GLM(family="poisson").fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize(
    ("family", "y_value", "match"),
    [
        ("poisson", -1.0, "non-negative"),
        (NegativeBinomial(1.0), -2.0, "non-negative"),
        ("binomial", 1.5, r"\[0, 1\]"),
        ("binomial", -0.5, r"\[0, 1\]"),
        ("gamma", 0.0, "strictly positive"),
        ("gamma", -1.0, "strictly positive"),
        ("inverse_gaussian", 0.0, "strictly positive"),
    ],
)
def test_y_outside_family_support_raises(family, y_value, match):
    X, y = make_data("binomial")
    y = y * 0.5 + 0.25  # valid for all families above
    y[7] = y_value
    with pytest.raises(ValueError, match=match):
        GLM(family=family).fit(X, y)


@pytest.mark.parametrize("name", ["y", "sample_weight", "offset"])
def test_length_mismatch_raises(name):
    X, y = make_data()
    args = {"y": y, "sample_weight": np.ones(len(y)), "offset": np.zeros(len(y))}
    args[name] = args[name][:-1]
    with pytest.raises(
        ValueError, match=rf"{name} has {len(y) - 1} entries but X has {len(y)} rows"
    ):
        GLM(family="poisson").fit(X, **args)


def test_negative_weights_raise():
    X, y = make_data()
    w = np.ones(len(y))
    w[4] = -1.0
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        GLM(family="poisson").fit(X, y, sample_weight=w)


def test_all_zero_weights_raise():
    X, y = make_data()
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        GLM(family="poisson").fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        ({"alpha": -0.1}, ValueError, "alpha must be a finite number >= 0"),
        ({"alpha": np.nan}, ValueError, "alpha must be a finite number >= 0"),
        ({"alpha": np.inf}, ValueError, "alpha must be a finite number >= 0"),
        ({"alpha": "1"}, TypeError, "alpha must be a real number"),
        ({"l1_ratio": 1.01}, ValueError, r"l1_ratio must be in \[0, 1\]"),
        ({"l1_ratio": -0.2}, ValueError, r"l1_ratio must be in \[0, 1\]"),
        ({"l1_ratio": np.nan}, ValueError, r"l1_ratio must be in \[0, 1\]"),
        ({"family": "poison"}, ValueError, "unknown family 'poison'"),
        ({"family": 3}, TypeError, "family must be a string"),
        ({"link": "lgoit"}, ValueError, "unknown link 'lgoit'"),
        (
            {"family": "poisson", "link": "logit"},
            ValueError,
            "link 'logit' is not valid for the poisson",
        ),
        ({"family": "binomial", "link": "inverse"}, ValueError, "not valid for the binomial"),
        ({"fit_intercept": "yes"}, TypeError, "fit_intercept must be a bool"),
        ({"solver": "newton-cg"}, ValueError, "solver must be one of"),
        ({"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
        ({"tol": 0.0}, ValueError, "tol must be a positive number"),
        ({"device": "tpu"}, ValueError, "device must be"),
        ({"backend": "jax"}, ValueError, "backend must be one of"),
        ({"penalty_factor": [1.0, 1.0]}, ValueError, "penalty_factor has 2 entries but X has 4"),
        (
            {"penalty_factor": [1.0, -1.0, 1.0, 1.0]},
            ValueError,
            "penalty_factor must be finite and non-negative",
        ),
        ({"solver": "irls", "alpha": 0.1, "l1_ratio": 0.5}, ValueError, "cannot fit an L1 penalty"),
    ],
)
def test_invalid_parameters_raise(params, exc, match):
    X, y = make_data("binomial")
    kw = {"family": "binomial"} | params
    with pytest.raises(exc, match=match):
        GLM(**kw).fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [({"l1_ratio": 2.0}, "l1_ratio"), ({"family": "poison"}, "unknown family")],
)
def test_glmcv_invalid_parameters_raise(params, match):
    X, y = make_data()
    with pytest.raises(ValueError, match=match):
        GLMCV(**params).fit(X, y)


def test_non_numeric_dataframe_column_raises():
    X, y = make_data()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["city"] = ["x", "y"] * (len(df) // 2)
    with pytest.raises(TypeError, match=r"non-numeric columns \['city'\]"):
        GLM(family="poisson").fit(df, y)


def test_non_numeric_y_raises():
    X, y = make_data()
    with pytest.raises((TypeError, ValueError), match="y"):
        GLM(family="poisson").fit(X, np.array(["a"] * len(y)))


@pytest.mark.parametrize("shape", [(0, 3), (10, 0)])
def test_empty_X_raises(shape):
    with pytest.raises(ValueError, match=r"(0 sample|0 feature|empty)"):
        GLM().fit(np.zeros(shape), np.zeros(shape[0]))


def test_one_dimensional_X_raises():
    with pytest.raises(ValueError, match="2D array"):
        GLM().fit(np.arange(5.0), np.arange(5.0))


def test_missing_y_raises():
    X, y = make_data()
    with pytest.raises(ValueError, match="y"):
        GLM(family="poisson").fit(X)


def test_two_column_y_raises():
    X, y = make_data()
    with pytest.raises(ValueError, match="y must be one-dimensional"):
        GLM(family="poisson").fit(X, np.column_stack([y, y]))


@pytest.mark.parametrize("n_features", [3, 5])
def test_predict_with_wrong_number_of_features_raises(n_features):
    X, y = make_data()
    model = GLM(family="poisson").fit(X, y)
    with pytest.raises(ValueError, match=f"X has {n_features} features, but GLM is expecting 4"):
        model.predict(np.zeros((2, n_features)))


def test_predict_with_wrong_number_of_features_raises_for_tensors():
    torch = pytest.importorskip("torch")
    X, y = make_data()
    model = GLM(family="poisson").fit(torch.as_tensor(X), torch.as_tensor(y))
    with pytest.raises(ValueError, match="X has 3 features, but GLM is expecting 4"):
        model.predict(torch.zeros((2, 3), dtype=torch.float64))


def test_predict_with_other_column_names_raises():
    X, y = make_data()
    model = GLM(family="poisson").fit(pd.DataFrame(X, columns=list("abcd")), y)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(pd.DataFrame(X, columns=list("abce")))


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        GLM().predict(np.zeros((2, 2)))


def test_predict_nonfinite_X_raises():
    X, y = make_data()
    model = GLM(family="poisson").fit(X, y)
    with pytest.raises(ValueError, match="X contains NaN"):
        model.predict(bad(X, np.nan))


def test_fit_leaves_a_non_canonical_sparse_input_untouched():
    """Unsorted column indices in the caller's CSR matrix are neither sorted nor summed in place."""
    X, y = make_data("poisson", sparse_frac=0.6)
    A = sp.csr_matrix(X)
    row = int(np.argmax(np.diff(A.indptr)))  # reverse the fullest row
    lo, hi = A.indptr[row], A.indptr[row + 1]
    assert hi - lo >= 2
    A.indices[lo:hi] = A.indices[lo:hi][::-1].copy()
    A.data[lo:hi] = A.data[lo:hi][::-1].copy()
    A.has_sorted_indices = False
    indices, data = A.indices.copy(), A.data.copy()
    model = GLM(family="poisson").fit(A, y)
    np.testing.assert_array_equal(A.indices, indices)
    np.testing.assert_array_equal(A.data, data)
    dense = GLM(family="poisson").fit(X, y)
    np.testing.assert_allclose(model.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
