"""Tests for pandas categorical columns (``glmlib/design/categorical.py``).

References, all independent of the categorical design:

* the explicit one-hot matrix, built here column by column from
  ``df[col] == level``: the design's X @ beta, X' v and column ranges equal
  it to 1e-12, its Gram matrix [1 X]' diag(d) [1 X] (with and without the
  intercept) to 1e-12 relative in float64 and 1e-5 with float32 numeric
  columns (tolerance kept from when the numeric block was formed in float32);
  column subsets equal slices of it;
* glmlib's GLM and GLMCV on that one-hot matrix (dense NumPy and CSR):
  coefficients to 1e-8, standard errors to 1e-6 relative; with a
  categorical wide enough for the Newton step's Schur-complement solve
  (glmlib/_arrow.py), weights and offsets, five families/penalties:
  coefficients to 1e-10;
* statsmodels' GLM on the dummy-coded matrix (first level dropped, with a
  constant) for the unpenalised fit: coefficients and standard errors to
  1e-6 relative.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from glmlib import GLM, GLMCV, glm_path
from glmlib._backend import Backend
from glmlib.design.categorical import CategoricalLayout

NUMPY = Backend("numpy")

# The never-occurring level "z" and the single-level "s" are constant columns,
# which the GLM warns about; that warning is tested in tests/test_glm.py.
pytestmark = pytest.mark.filterwarnings("ignore:columns .* are constant:UserWarning")


def frame(n=400, seed=0, dtype=np.float64, single=True):
    """Numeric and categorical columns interleaved.

    ``a``: category order not alphabetical, with a level ("z") that never
    occurs; ``b``: integer levels with Zipf-like frequencies; ``s``: a single
    level on every row.
    """
    rng = np.random.default_rng(seed)
    cols = {
        "x0": rng.normal(size=n).astype(dtype),
        "a": pd.Categorical(rng.choice(["u", "v", "w"], n), categories=["w", "u", "v", "z"]),
        "x1": rng.normal(2.0, 3.0, size=n).astype(dtype),
        "b": pd.Categorical(rng.choice(7, n, p=np.r_[7:0:-1] / 28.0)),
    }
    if single:
        cols["s"] = pd.Categorical(["only"] * n)
    return pd.DataFrame(cols)


def one_hot(df, drop_first=False):
    """The explicit dense design: each categorical expanded in place into indicators."""
    cols = []
    for name in df.columns:
        col = df[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = col.cat.categories[1:] if drop_first else col.cat.categories
            cols.extend((col == level).to_numpy(dtype=np.float64) for level in levels)
        else:
            cols.append(col.to_numpy(dtype=np.float64))
    return np.column_stack(cols)


def reference_gram(X, d, intercept=True):
    Z = np.column_stack([np.ones(len(X)), X]) if intercept else X
    return Z.T @ (Z * d[:, None])


def design_of(df, drop_first=False):
    layout = CategoricalLayout.from_frame(df, list(df.columns), drop_first)
    return layout, layout.design(df, NUMPY)


def weights(n, seed=1):
    d = np.random.default_rng(seed).uniform(0.0, 2.0, n)
    d[:7] = 0.0  # zero weights are allowed
    return d


# ------------------------------------------------------------------- the design
@pytest.mark.parametrize("drop_first", [False, True])
def test_products_match_one_hot(drop_first):
    df = frame()
    layout, design = design_of(df, drop_first)
    X = one_hot(df, drop_first)
    assert (design.n, design.p) == X.shape
    assert len(layout.term_names) == X.shape[1]
    rng = np.random.default_rng(2)
    beta, v, d = rng.normal(size=X.shape[1]), rng.normal(size=len(X)), weights(len(X))
    np.testing.assert_allclose(design.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-12, atol=1e-12)
    for intercept in (True, False):
        got = design.gram(d, intercept=intercept)
        ref = reference_gram(X, d, intercept)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_array_equal(got, got.T)
    np.testing.assert_array_equal(design.to_csr().toarray(), X)


def test_term_names_expand_categoricals_in_place():
    layout, _ = design_of(frame())
    assert layout.term_names == [
        "x0",
        *[f"a[{lv}]" for lv in "wuvz"],
        "x1",
        *[f"b[{j}]" for j in range(7)],
        "s[only]",
    ]
    dropped = CategoricalLayout.from_frame(frame(), list(frame().columns), True)
    # the single-level categorical has no column left once its first level is dropped
    assert dropped.term_names == [
        "x0",
        "a[u]",
        "a[v]",
        "a[z]",
        "x1",
        *[f"b[{j}]" for j in range(1, 7)],
    ]


def test_column_range_absent_level_and_level_on_every_row_are_constant():
    df = frame()
    _, design = design_of(df)
    X = one_hot(df)
    np.testing.assert_allclose(design.column_range(), np.ptp(X, axis=0), rtol=1e-12)
    names = design_of(df)[0].term_names
    spread = dict(zip(names, design.column_range(), strict=True))
    assert spread["a[z]"] == 0.0  # never occurs
    assert spread["s[only]"] == 0.0  # every row
    assert spread["a[u]"] == 1.0


def test_float32_numeric_columns():
    df = frame(n=3000, dtype=np.float32)
    _, design = design_of(df)
    assert design.dtype == np.float32
    X = one_hot(df)  # the float32 values, in float64
    rng = np.random.default_rng(3)
    beta, v, d = rng.normal(size=X.shape[1]), rng.normal(size=len(X)), weights(len(X))
    out = design.matvec(beta)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, X @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-12, atol=1e-10)
    got = design.gram(d)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference_gram(X, d), rtol=1e-5, atol=1e-3)
    # one float64 numeric column makes the whole numeric block float64
    df["x1"] = df["x1"].astype(np.float64)
    assert design_of(df)[1].dtype == np.float64


@pytest.mark.parametrize(
    "cols",
    [
        [0, 2, 3, 5, 9],  # sorted, parts of both categoricals (screened fits)
        [12, 5, 1, 0, 8],  # unsorted: levels come back in the order asked for
        [0, 5],  # numeric only: the categoricals drop out
        [1, 2, 3, 4],  # one categorical only
        [],
    ],
)
def test_subset_equals_slicing(cols):
    df = frame()
    _, design = design_of(df)
    X = one_hot(df)[:, cols]
    sub = design.subset(np.asarray(cols, dtype=np.int64))
    assert sub.p == len(cols)
    rng = np.random.default_rng(4)
    beta, v, d = rng.normal(size=len(cols)), rng.normal(size=len(X)), weights(len(X))
    np.testing.assert_allclose(sub.matvec(beta), X @ beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sub.rmatvec(v), X.T @ v, rtol=1e-12, atol=1e-12)
    for intercept in (True, False):
        ref = reference_gram(X, d, intercept)
        np.testing.assert_allclose(
            sub.gram(d, intercept), ref, rtol=1e-12, atol=1e-12 * ref.max(initial=1.0)
        )
    np.testing.assert_allclose(sub.column_range(), np.ptp(X, axis=0) if cols else [], rtol=1e-12)
    assert design.subset(None) is design


def test_last_subset_is_reused():
    _, design = design_of(frame())
    first = design.subset(np.array([0, 2, 3]))
    assert design.subset(np.array([0, 2, 3])) is first
    assert design.subset(np.array([0, 2])) is not first


def test_subset_of_subset():
    df = frame()
    _, design = design_of(df, drop_first=True)
    X = one_hot(df, drop_first=True)
    first = [0, 1, 2, 4, 5, 7, 9]
    second = [6, 1, 3, 4]
    sub = design.subset(np.array(first)).subset(np.array(second))
    d = weights(len(X))
    ref = reference_gram(X[:, first][:, second], d)
    np.testing.assert_allclose(sub.gram(d), ref, rtol=1e-12, atol=1e-12 * ref.max(initial=1.0))


def test_only_categoricals_and_single_level():
    df = frame()[["a", "s"]]
    _, design = design_of(df)
    X = one_hot(df)
    d = weights(len(X))
    ref = reference_gram(X, d)
    np.testing.assert_allclose(design.gram(d), ref, rtol=1e-12, atol=1e-12 * ref.max(initial=1.0))
    np.testing.assert_allclose(design.matvec(np.arange(5.0)), X @ np.arange(5.0), rtol=1e-12)
    _, dropped = design_of(df[["s"]], drop_first=True)  # no column at all
    assert dropped.p == 0
    np.testing.assert_allclose(dropped.gram(d), [[d.sum()]], rtol=1e-12)
    np.testing.assert_array_equal(dropped.matvec(np.zeros(0)), np.zeros(len(df)))


# --------------------------------------------------------------- values and errors
def test_new_data_maps_onto_fitted_levels():
    df = frame()
    layout, design = design_of(df)
    beta = np.random.default_rng(5).normal(size=design.p)
    ref = design.matvec(beta)
    reordered = df.copy()
    reordered["a"] = reordered["a"].cat.reorder_categories(["v", "z", "u", "w"])
    reordered["b"] = reordered["b"].cat.remove_unused_categories()
    as_values = df.copy()
    as_values["a"] = as_values["a"].astype(str)  # plain strings
    as_values["b"] = as_values["b"].astype(int)
    as_values["s"] = as_values["s"].astype(object)
    for new in (reordered, as_values):
        np.testing.assert_allclose(layout.design(new, NUMPY).matvec(beta), ref, rtol=1e-15)


def test_unseen_levels_raise_naming_column_and_levels():
    df = frame()
    layout, _ = design_of(df)
    new = df.copy()
    new["a"] = new["a"].astype(str)
    new.loc[:9, "a"] = [f"new{j}" for j in range(10)]
    with pytest.raises(
        ValueError, match=r"column 'a' has levels not seen in fit: \['new0', .*and 5 more"
    ):
        layout.design(new, NUMPY)


def test_missing_values_raise_naming_the_column():
    df = frame()
    df.loc[3, "b"] = np.nan
    y = np.ones(len(df))
    with pytest.raises(ValueError, match="categorical column 'b' has 1 missing values"):
        GLM(family="poisson").fit(df, y)
    model = GLM(family="poisson", alpha=0.1).fit(frame(), y)
    with pytest.raises(ValueError, match="column 'b'"):
        model.predict(df)
    num = frame()
    num.loc[2, "x1"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GLM(family="poisson").fit(num, y)


def test_string_column_error_suggests_category():
    df = frame()
    df["city"] = ["x", "y"] * (len(df) // 2)
    with pytest.raises(TypeError, match=r"non-numeric columns \['city'\].*astype\(\"category\"\)"):
        GLM(family="poisson").fit(df, np.ones(len(df)))


def test_predict_needs_a_dataframe_with_the_fitted_columns():
    df = frame()
    model = GLM(family="poisson", alpha=0.1).fit(df, np.ones(len(df)))
    with pytest.raises(TypeError, match="DataFrame"):
        model.predict(one_hot(df))
    with pytest.raises(ValueError, match="feature names"):
        model.predict(df[["a", "x0", "x1", "b", "s"]])


# --------------------------------------------------------------------- the GLM
def poisson_data(n=3000, seed=0):
    df = frame(n=n, seed=seed, single=False)
    rng = np.random.default_rng(seed + 10)
    eta = (
        0.3 * df["x0"].to_numpy()
        + 0.1 * df["a"].cat.codes.to_numpy()
        - 0.15 * df["b"].cat.codes.to_numpy()
    )
    return df, rng.poisson(np.exp(eta)).astype(np.float64), rng.uniform(0.5, 2.0, n)


def quiet_fit(model, X, y, **kw):
    with warnings.catch_warnings():
        # the never-occurring level "z" is a constant column
        warnings.filterwarnings("ignore", "columns .* are constant", UserWarning)
        warnings.filterwarnings("ignore", "X is rank deficient", UserWarning)
        return model.fit(X, y, **kw)


def summary(model):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "summary\\(\\) of a penalised fit", UserWarning)
        return model.summary()


def test_poisson_ridge_equals_one_hot_fit():
    df, y, w = poisson_data()
    cat = quiet_fit(GLM(family="poisson", alpha=1e-3), df, y, sample_weight=w)
    X = one_hot(df)
    for Xo in (X, sp.csr_matrix(X)):
        ref = quiet_fit(GLM(family="poisson", alpha=1e-3), Xo, y, sample_weight=w)
        np.testing.assert_allclose(cat.coef_, ref.coef_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(cat.intercept_, ref.intercept_, rtol=0, atol=1e-8)
        # (the all-zero column of level "z" has a round-off standard error, ~1e-16)
        np.testing.assert_allclose(
            summary(cat)["std_err"].to_numpy(),
            summary(ref)["std_err"].to_numpy(),
            rtol=1e-6,
            atol=1e-12,
        )
        assert cat.deviance_ == pytest.approx(ref.deviance_, rel=1e-10)
    assert list(summary(cat).index[1:]) == list(cat.feature_names_out_)
    assert cat.feature_names_out_[1] == "a[w]"  # all levels under a penalty
    np.testing.assert_allclose(cat.predict(df), ref.predict(X), rtol=1e-10)
    assert cat.score(df, y) == pytest.approx(ref.score(X, y), rel=1e-10)


def test_logistic_lasso_equals_one_hot_fit():
    """L1 fits screen features: the solver works on column subsets of the design."""
    df, y, _ = poisson_data(seed=1)
    yb = (y > np.median(y)).astype(np.float64)
    kw = dict(family="binomial", alpha=0.01, l1_ratio=1.0)
    cat = quiet_fit(GLM(**kw), df, yb)
    ref = quiet_fit(GLM(**kw), one_hot(df), yb)
    assert 0 < np.sum(cat.coef_ == 0) < len(cat.coef_)  # the screening had work to do
    np.testing.assert_allclose(cat.coef_, ref.coef_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(cat.coef_ == 0, ref.coef_ == 0)


def test_unpenalised_fit_is_treatment_coded_like_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    df, y, w = poisson_data(seed=2)
    df = df.assign(a=df["a"].cat.remove_unused_categories())  # no all-zero column in R's fit
    model = GLM(family="poisson").fit(df, y, sample_weight=w)
    assert model.feature_names_out_[1] == "a[u]"  # first level "w" dropped
    exog = np.column_stack([np.ones(len(df)), one_hot(df, drop_first=True)])
    res = sm.GLM(y, exog, family=sm.families.Poisson(), freq_weights=w).fit(
        tol=1e-13, tol_criterion="params", maxiter=1000
    )
    table = model.summary()
    np.testing.assert_allclose(table["coef"].to_numpy(), res.params, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(table["std_err"].to_numpy(), res.bse, rtol=1e-6)
    assert model.deviance_ == pytest.approx(res.deviance, rel=1e-8)


@pytest.mark.parametrize(
    ("drop_first", "alpha", "first_term"),
    [("auto", 0.0, "a[u]"), ("auto", 0.1, "a[w]"), (True, 0.1, "a[u]"), (False, 0.0, "a[w]")],
)
def test_drop_first_resolution(drop_first, alpha, first_term):
    df, y, _ = poisson_data(n=500)
    model = quiet_fit(GLM(family="poisson", alpha=alpha, drop_first=drop_first), df, y)
    assert model.feature_names_out_[1] == first_term
    assert len(model.coef_) == len(model.feature_names_out_)
    no_intercept = quiet_fit(GLM(family="poisson", fit_intercept=False), df, y)
    assert no_intercept.feature_names_out_[1] == "a[w]"  # "auto" keeps all levels


@pytest.mark.parametrize(
    ("value", "error"), [("yes", ValueError), (1, TypeError), (None, TypeError)]
)
def test_invalid_drop_first_raises(value, error):
    df, y, _ = poisson_data(n=200)
    with pytest.raises(error, match="drop_first"):
        GLM(family="poisson", drop_first=value).fit(df, y)
    with pytest.raises(error, match="drop_first"):
        GLMCV(family="poisson", drop_first=value).fit(df, y)


def test_drop_first_is_a_parameter():
    model = GLM(drop_first=True)
    assert model.get_params()["drop_first"] is True
    assert clone(model.set_params(drop_first=False)).drop_first is False
    assert GLMCV().get_params()["drop_first"] == "auto"


def test_penalty_factor_per_column_is_shared_by_levels():
    df, y, _ = poisson_data(n=1000)
    per_column = np.array([1.0, 0.5, 2.0, 0.0])
    a = quiet_fit(GLM(family="poisson", alpha=0.05, penalty_factor=per_column), df, y)
    expanded = np.repeat(per_column, [1, 4, 1, 7])
    b = quiet_fit(GLM(family="poisson", alpha=0.05, penalty_factor=expanded), df, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="penalty_factor has 3 entries"):
        GLM(family="poisson", alpha=0.05, penalty_factor=[1.0, 1.0, 1.0]).fit(df, y)


def test_glmcv_and_path_equal_one_hot():
    df, y, _ = poisson_data(n=1500)
    kw = dict(family="poisson", l1_ratio=0.5, n_alphas=8, cv=3, random_state=0)
    cat = quiet_fit(GLMCV(**kw), df, y)
    ref = quiet_fit(GLMCV(**kw), one_hot(df), y)
    np.testing.assert_allclose(cat.alphas_, ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(cat.cv_deviance_, ref.cv_deviance_, rtol=1e-8)
    np.testing.assert_allclose(cat.coef_path_, ref.coef_path_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(cat.coef_, ref.coef_, rtol=0, atol=1e-8)
    assert cat.feature_names_out_[1] == "a[w]"  # penalised: every level
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "columns .* are constant", UserWarning)
        path = glm_path(df, y, family="poisson", l1_ratio=0.5, alphas=cat.alphas_)
    np.testing.assert_allclose(path.coef, cat.coef_path_, rtol=0, atol=1e-8)
    assert path.feature_names == list(cat.feature_names_out_)


def test_fitted_attributes_pickle_and_refit():
    df, y, _ = poisson_data(n=500)
    model = quiet_fit(GLM(family="poisson", alpha=0.01), df, y)
    assert list(model.feature_names_in_) == list(df.columns)
    assert model.n_features_in_ == 4
    np.testing.assert_array_equal(model.categories_["a"], ["w", "u", "v", "z"])
    assert set(model.categories_) == {"a", "b"}
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(df), model.predict(df))
    model.fit(one_hot(df), y)  # refit on numeric input: no categorical state left
    assert not hasattr(model, "categories_")
    assert model.feature_names_out_[0] == "x0" and len(model.feature_names_out_) == 13


def test_torch_backend_uses_the_one_hot_matrix():
    pytest.importorskip("torch")
    df, y, _ = poisson_data(n=800)
    ref = quiet_fit(GLM(family="poisson", alpha=1e-3), df, y)
    got = quiet_fit(GLM(family="poisson", alpha=1e-3, backend="torch"), df, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.predict(df), ref.predict(df), rtol=1e-8)


def wide_frame(n=6000, seed=7):
    """A categorical with more levels than MIN_DIAGONAL_BLOCK (the Newton step's arrow solve)."""
    rng = np.random.default_rng(seed)
    k = 90
    p = 1.0 / (np.arange(k) + 3.0)
    return pd.DataFrame(
        {
            "big": pd.Categorical(rng.choice(k, n, p=p / p.sum()), categories=np.arange(k)),
            "x0": rng.normal(size=n),
            "small": pd.Categorical(rng.choice(["p", "q", "r", "s"], n)),
            "x1": rng.uniform(-1.0, 1.0, n),
        }
    )


@pytest.mark.parametrize(
    ("family", "alpha"),
    [("poisson", 1e-4), ("binomial", 1e-3), ("gamma", 1e-4), ("gaussian", 0.0), ("poisson", 0.0)],
)
def test_fit_with_diagonal_block_equals_dense_one_hot_fit(family, alpha):
    """Weights and offsets; the widest categorical's block is eliminated first (ArrowFactor)."""
    from glmlib.design.categorical import MIN_DIAGONAL_BLOCK

    df = wide_frame()
    layout, design = design_of(df)
    assert len(design.diagonal_block) == 90 >= MIN_DIAGONAL_BLOCK
    X = one_hot(df, drop_first=alpha == 0)  # unpenalised fits drop each first level
    rng = np.random.default_rng(3)
    n = len(df)
    offset = rng.uniform(-0.2, 0.2, n)
    w = rng.uniform(0.5, 2.0, n)
    eta = -0.5 + 0.3 * X[:, -1] + 0.2 * np.sin(np.arange(n)) + offset
    y = {
        "poisson": lambda: rng.poisson(np.exp(eta)).astype(float),
        "binomial": lambda: (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
        "gamma": lambda: rng.gamma(2.0, np.exp(eta) / 2.0),
        "gaussian": lambda: eta + rng.normal(size=n),
    }[family]()
    kw = dict(family=family, alpha=alpha, tol=1e-12, max_iter=200)
    cat = quiet_fit(GLM(**kw), df, y, sample_weight=w, offset=offset)
    ref = quiet_fit(GLM(**kw), X, y, sample_weight=w, offset=offset)
    np.testing.assert_allclose(cat.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cat.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    assert cat.deviance_ == pytest.approx(ref.deviance_, rel=1e-10)


def test_fused_line_search_pass_matches_one_hot():
    """matvec_rmatvec (the line search's one pass) against the explicit one-hot products."""
    import glmlib.design.categorical as cat_mod

    df = frame(n=1000)
    _, design = design_of(df)
    X = one_hot(df)
    rng = np.random.default_rng(4)
    beta = rng.normal(size=X.shape[1])
    calls = []

    def row_pass(start, stop, v):
        calls.append((start, stop))
        return np.sin(v) * (1.0 + np.arange(start, stop))

    old = cat_mod._FUSED_ROWS
    cat_mod._FUSED_ROWS = 300  # several blocks, the last one short
    try:
        out, grad = design.matvec_rmatvec(beta, 0.25, row_pass)
    finally:
        cat_mod._FUSED_ROWS = old
    assert calls == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    eta = X @ beta + 0.25
    np.testing.assert_allclose(out, eta, rtol=1e-12, atol=1e-12)
    u = np.sin(eta) * (1.0 + np.arange(1000))
    np.testing.assert_allclose(grad, X.T @ u, rtol=1e-12, atol=1e-12 * np.abs(X.T @ u).max())


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((np.float64, np.float64), np.float64),
        ((np.float32, np.float32), np.float32),
        ((np.float32, np.float64), np.float64),
        ((np.int64, np.float64), np.float64),  # converted by check_array
        ((bool, np.float32), np.float64),
    ],
)
def test_numeric_block_equals_check_array(dtypes, expected):
    """The numeric columns' block: the values and dtype of sklearn's check_array on them, C-ordered."""
    from sklearn.utils.validation import check_array

    from glmlib.design.categorical import _numeric_block

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "c": pd.Categorical(rng.integers(0, 3, 50)),
            "x0": (rng.normal(size=50) * 10).astype(dtypes[0]),
            "x1": (rng.normal(size=50) * 10).astype(dtypes[1]),
        }
    )
    out = _numeric_block(df, [1, 2])
    assert out.dtype == expected and out.flags.c_contiguous
    np.testing.assert_array_equal(out, check_array(df.iloc[:, [1, 2]], dtype=expected))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_numeric_block_rejects_non_finite_values_but_not_large_finite_ones(bad):
    from glmlib.design.categorical import _numeric_block

    df = pd.DataFrame({"x0": np.ones(4), "x1": np.ones(4)})
    df.loc[2, "x1"] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        _numeric_block(df, [0, 1])
    big = pd.DataFrame({"x0": np.full(4, 1e308), "x1": np.ones(4)})  # the sum overflows
    np.testing.assert_array_equal(_numeric_block(big, [0, 1]), big.to_numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_over_several_row_blocks(dtype):
    """The Gram pass forms the numeric block per block of rows (_GRAM_ROWS): more rows than
    two blocks, a ragged last block and runs of zero weights give the one-hot Gram matrix."""
    from glmlib.design.categorical import _GRAM_ROWS

    n = 2 * _GRAM_ROWS + 123
    df = frame(n=n, dtype=dtype)
    _, design = design_of(df)
    X = one_hot(df)
    d = weights(n)
    d[_GRAM_ROWS - 5 : _GRAM_ROWS + 50] = 0.0  # zero weights across a block boundary
    ref = reference_gram(X, d)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    got = design.gram(d)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    np.testing.assert_array_equal(got, got.T)


def test_numeric_block_copies_several_row_blocks():
    from glmlib.design.categorical import _COPY_ROWS, _numeric_block

    n = _COPY_ROWS + 17
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"x0": rng.normal(size=n), "c": pd.Categorical(rng.integers(0, 3, n))})
    df["x1"] = rng.normal(size=n)
    np.testing.assert_array_equal(_numeric_block(df, [0, 2]), df[["x0", "x1"]].to_numpy())
