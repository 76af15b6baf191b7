"""Tests for ONNX export (``glmlib/export/``): ONNX Runtime gives model.predict's answers.

Every exported graph passes ``onnx.checker.check_model(full_check=True)``
and runs in ONNX Runtime (CPU). Its outputs are compared with
``model.predict`` / ``model.predict_linear`` on the same input (X already in
the export's dtype):

* mu, the mean: relative difference at most 1e-12 for float64 graphs and
  1e-6 for float32 graphs (ONNX Runtime's float32 X @ coef sums in another
  order than NumPy's or glmlib's);
* eta, the linear predictor: a sum, so its rounding error is relative to the
  size of its terms, not of the sum (which may be near 0): |difference| at
  most rtol * (|intercept| + |X| @ |coef| + |offset|), rtol as for mu;
* each inverse link alone, against ``link.inverse`` on a float64 grid of eta
  from -40 to 40 and extremes (+-1e300, +-745, subnormals): relative
  difference at most 1e-12 where glmlib's mean is finite and non-zero, and
  the same infinities and zeros elsewhere.

The fits use data built so that eta stays away from 0 where the link needs
it (inverse, power links), so that relative differences of mu are
meaningful.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression

from glmlib import GLM, GLMCV, links
from glmlib.families import _FAMILIES, get_family

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from glmlib.export import onnx_feed, to_onnx  # noqa: E402
from glmlib.export._graph import Graph  # noqa: E402
from glmlib.export._links import EXPORTABLE_LINKS, inverse_link  # noqa: E402

RTOL = {"float32": 1e-6, "float64": 1e-12}

# fits of non-canonical links may warn about convergence or scale; not tested here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")


def session(proto):
    """An ONNX Runtime CPU session of a checked model."""
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(model, X, dtype, offset=None):
    """(mu, eta) from ONNX Runtime for the export of ``model`` in ``dtype``."""
    sess = session(to_onnx(model, dtype, offset=offset is not None))
    mu, eta = sess.run(["mu", "eta"], onnx_feed(model, X, offset, dtype=dtype))
    assert mu.dtype == eta.dtype == np.dtype(dtype)
    return mu.astype(np.float64), eta.astype(np.float64)


def assert_matches_predict(model, X, dtype, offset=None, terms=None):
    """ONNX Runtime's mu and eta against model.predict on the same input (tolerances above).

    ``terms`` is |intercept| + |X| @ |coef| + |offset| per row (the size of
    eta's terms); computed here for numeric X.
    """
    mu, eta = run(model, X, dtype, offset)
    ref_mu = model.predict(X, offset=offset)
    ref_eta = model.predict_linear(X, offset=offset)
    if terms is None:
        terms = abs(model.intercept_) + np.abs(np.asarray(X, dtype=np.float64)) @ np.abs(
            model.coef_
        )
        terms = terms + (0.0 if offset is None else np.abs(offset))
    rtol = RTOL[dtype]
    np.testing.assert_allclose(mu, ref_mu, rtol=rtol, atol=0)
    assert np.all(np.abs(eta - ref_eta) <= rtol * terms)


# ------------------------------------------------------------------ links
def link_session(link):
    g = Graph("link", outputs=("mu",))
    eta = g.add_input("eta", np.float64, ["batch"])
    g.add_output(inverse_link(g, link, eta), "mu", np.float64, ["batch"])
    return session(g.model(doc="", producer="test", version="0", metadata={}))


ETA_GRID = np.concatenate(
    [
        np.linspace(-40.0, 40.0, 20001),
        [-1e300, -1e5, -800.0, -745.0, -709.0, -38.0, -8.3, -8.1, 0.0, 5e-324, -5e-324],
        [1e-300, 1e-17, 709.0, 710.0, 745.0, 1e5, 1e300],
    ]
)
ALL_LINKS = [
    links.Identity(),
    links.Log(),
    links.Logit(),
    links.Probit(),
    links.CLogLog(),
    links.Inverse(),
    links.InverseSquared(),
    links.Sqrt(),
    links.Power(1.5),
    links.Power(-0.7),
    links.Power(3.0),
]


def test_every_link_class_is_tested():
    assert {type(link) for link in ALL_LINKS} == set(EXPORTABLE_LINKS)


@pytest.mark.parametrize("link", ALL_LINKS, ids=repr)
def test_inverse_link_matches_glmlib(link):
    with np.errstate(all="ignore"):
        ref = link.inverse(ETA_GRID)
    mu = link_session(link).run(None, {"eta": ETA_GRID})[0]
    finite = np.isfinite(ref) & (ref != 0)
    np.testing.assert_allclose(mu[finite], ref[finite], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(mu[~finite], ref[~finite])


def test_probit_tail_keeps_relative_precision():
    # Phi(-8) = 6.2e-16: 0.5 * (1 + erf(x / sqrt 2)) would give 0 or noise there
    from scipy.special import ndtr

    x = np.array([-8.0, -6.0, -3.0, -1.0, 0.0, 1.0])
    mu = link_session(links.Probit()).run(None, {"eta": x})[0]
    np.testing.assert_allclose(mu, ndtr(x), rtol=1e-13)


def test_custom_link_is_not_exported():
    class Shifted(links.Log):
        def inverse(self, eta):
            return super().inverse(eta) + 1.0

    g = Graph("link")
    with pytest.raises(NotImplementedError, match="no ONNX export for the link"):
        inverse_link(g, Shifted(), g.add_input("eta", np.float64, ["batch"]))


# ------------------------------------------------------- families x links
def family_link_pairs():
    pairs = []
    for cls in dict.fromkeys(_FAMILIES.values()):  # unique classes, in order
        for link in cls.valid_links:
            pairs.append((cls.name, "power(3)" if link == "power" else link))
    return pairs


FAMILY_LINKS = family_link_pairs()


@functools.cache
def fitted(family, link, n=300, seed=0):
    """A GLM of ``family`` and ``link`` fitted on data drawn from it, and new X."""
    rng = np.random.default_rng(seed)
    fam = get_family(family, link)
    X = rng.uniform(0.5, 1.5, size=(n + 40, 3))
    if family == "binomial":
        start, coef = (-1.5, [0.3, -0.2, 0.1]) if link == "log" else (-0.5, [0.8, -0.6, 0.4])
    elif link == "log":
        start, coef = 0.5, [0.3, -0.2, 0.1]
    else:  # identity, inverse and power links: eta in about [1.4, 3]
        start, coef = 2.0, [0.5, -0.3, 0.2]
    mu = fam.link.inverse(start + X @ coef)
    if family == "gaussian":
        y = mu + 0.1 * rng.normal(size=mu.shape)
    elif family == "binomial":
        y = rng.binomial(1, mu).astype(float)
    elif family in ("poisson", "negative_binomial"):
        y = rng.poisson(mu).astype(float)
    elif family == "inverse_gaussian":
        y = rng.wald(mu, 20.0)
    else:  # gamma, tweedie
        y = mu * rng.gamma(5.0, 1.0 / 5.0, size=mu.shape)
    model = GLM(family=family, link=link).fit(X[:n], y[:n])
    return model, X[n:]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("family,link", FAMILY_LINKS)
def test_every_family_and_link(family, link, dtype):
    model, X = fitted(family, link)
    assert get_family(family, link).link == get_family(model.family, model.link).link
    X = X.astype(dtype)
    assert_matches_predict(model, X, dtype)
    offset = np.random.default_rng(1).uniform(-0.2, 0.2, size=X.shape[0])
    assert_matches_predict(model, X, dtype, offset=offset)


def test_offset_input_is_required_when_exported():
    model, X = fitted("poisson", "log")
    sess = session(to_onnx(model, "float64", offset=True))
    assert [i.name for i in sess.get_inputs()] == ["X", "offset"]
    assert [o.name for o in sess.get_outputs()] == ["mu", "eta"]
    with pytest.raises(Exception, match="offset"):
        sess.run(None, {"X": X})
    plain = session(to_onnx(model, "float64"))
    assert [i.name for i in plain.get_inputs()] == ["X"]
    # a zero offset gives the graph without one
    mu0 = plain.run(None, {"X": X})[0]
    mu1 = sess.run(None, {"X": X, "offset": np.zeros(len(X))})[0]
    np.testing.assert_array_equal(mu0, mu1)


def test_metadata_and_shapes():
    model, X = fitted("gamma", "log")
    proto = to_onnx(model, "float32", offset=True)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["family"] == "Gamma(link=Log())"
    assert meta["dtype"] == "float32"
    assert meta["offset_input"] == "true"
    assert proto.opset_import[0].version == 17
    x = proto.graph.input[0]
    dims = [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim]
    assert (x.name, dims) == ("X", ["batch", 3])


# ------------------------------------------------ penalised fits, GLMCV, inputs
def sparse_problem(n=400, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = rng.binomial(1, 1.0 / (1.0 + np.exp(-(0.3 + X[:, :3] @ [1.0, -0.8, 0.5]))))
    return X, y.astype(float)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_penalised_fit_with_exact_zeros(dtype):
    X, y = sparse_problem()
    model = GLM(family="binomial", alpha=0.05, l1_ratio=1.0).fit(X, y)
    assert np.sum(model.coef_ == 0) >= 2 and np.sum(model.coef_ != 0) >= 2
    assert_matches_predict(model, X[:50].astype(dtype), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_glmcv_exports_its_selected_model(dtype):
    X, y = sparse_problem()
    model = GLMCV(family="binomial", n_alphas=10, cv=3, random_state=0).fit(X, y)
    assert_matches_predict(model, X[:50].astype(dtype), dtype)


def test_no_intercept_and_dataframe_sparse_inputs():
    X, y = sparse_problem()
    model = GLM(family="binomial", fit_intercept=False).fit(pd.DataFrame(X).add_prefix("c"), y)
    frame = pd.DataFrame(X[:30]).add_prefix("c")
    assert_matches_predict(model, frame, "float64", terms=np.abs(X[:30]) @ np.abs(model.coef_))
    Xs = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    model = GLM(family="binomial", alpha=0.01).fit(Xs, y)
    mu, _ = run(model, Xs[:30], "float64")
    np.testing.assert_allclose(mu, model.predict(Xs[:30]), rtol=1e-12)


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    X, y = sparse_problem()
    model = GLM(family="binomial").fit(torch.from_numpy(X), torch.from_numpy(y))
    mu, _ = run(model, torch.from_numpy(X[:30]), "float64")
    np.testing.assert_allclose(mu, model.predict(torch.from_numpy(X[:30])).numpy(), rtol=1e-12)


# ------------------------------------------------------ categorical frames
def frame(n=300, seed=0):
    """Numeric and categorical columns interleaved; ``b`` has integer levels."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.uniform(20, 70, n),
            "region": pd.Categorical(
                rng.choice(["north", "south", "west"], n), categories=["west", "north", "south"]
            ),
            "income": rng.normal(1.0, 0.3, n),
            "b": pd.Categorical(rng.choice([3, 1, 2, 7], n)),
        }
    )


def frame_terms(model, df, offset=None):
    """|intercept| + sum of |terms| of eta for a frame (numeric |x b| and level coefficients)."""
    row = pd.Series(model.coef_, index=model.feature_names_out_)
    total = np.full(len(df), abs(model.intercept_))
    for name in df.columns:
        col = df[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            keys = [f"{name}[{v}]" for v in col.astype(object)]
            total += np.abs(row.reindex(keys).fillna(0.0).to_numpy())
        else:
            total += np.abs(col.to_numpy(dtype=float) * row[name])
    return total if offset is None else total + np.abs(offset)


def poisson_response(df, seed=0):
    rng = np.random.default_rng(seed)
    eta = -1.0 + 0.02 * df["age"] + 0.3 * (df["region"] == "west") - 0.2 * (df["b"] == 7)
    return rng.poisson(np.exp(eta + 0.3 * df["income"])).astype(float)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "drop_first,alpha",
    [("auto", 0.0), ("auto", 0.01), (True, 0.0), (False, 0.0), (True, 0.05)],
)
def test_categorical_frame(drop_first, alpha, dtype):
    df = frame()
    model = GLM(family="poisson", alpha=alpha, l1_ratio=0.5, drop_first=drop_first)
    model.fit(df, poisson_response(df))
    dropped = len(model.coef_) == 2 + 3 + 4 - 2
    assert dropped == (drop_first is True or (drop_first == "auto" and alpha == 0))
    new = frame(60, seed=1)
    if dtype == "float32":
        new = new.astype({"age": np.float32, "income": np.float32})
    offset = np.linspace(-0.3, 0.3, len(new))
    for off in (None, offset):
        assert_matches_predict(model, new, dtype, off, terms=frame_terms(model, new, off))


def test_categorical_inputs_and_feed():
    df = frame()
    model = GLM(family="poisson").fit(df, poisson_response(df))
    sess = session(to_onnx(model, "float64"))
    inputs = {i.name: (i.type, i.shape) for i in sess.get_inputs()}
    assert inputs == {
        "X": ("tensor(double)", ["batch", 2]),
        "region": ("tensor(int64)", ["batch"]),
        "b": ("tensor(int64)", ["batch"]),
    }
    new = frame(20, seed=2)
    feed = onnx_feed(model, new, dtype="float64")
    np.testing.assert_array_equal(feed["X"], new[["age", "income"]].to_numpy())
    levels = model.categories_["region"]
    np.testing.assert_array_equal(levels[feed["region"]], new["region"].astype(object))
    # plain values and another category order give the same codes
    plain = new.assign(region=new["region"].astype(str), b=new["b"].astype(int))
    reordered = new.assign(region=new["region"].cat.reorder_categories(["south", "west", "north"]))
    for other in (plain, reordered):
        feed2 = onnx_feed(model, other, dtype="float64")
        for key in feed:
            np.testing.assert_array_equal(feed2[key], feed[key])
    mu = sess.run(["mu"], feed)[0]
    np.testing.assert_allclose(mu, model.predict(plain), rtol=1e-12)


def test_all_categorical_frame_has_no_X_input():
    df = frame()[["region", "b"]]
    model = GLM(family="poisson", drop_first=True).fit(df, poisson_response(frame()))
    sess = session(to_onnx(model, "float64"))
    assert [i.name for i in sess.get_inputs()] == ["region", "b"]
    new = frame(30, seed=3)[["region", "b"]]
    mu = sess.run(["mu"], onnx_feed(model, new, dtype="float64"))[0]
    np.testing.assert_allclose(mu, model.predict(new), rtol=1e-12)


def test_negative_code_gives_nan():
    df = frame()
    model = GLM(family="poisson").fit(df, poisson_response(df))
    feed = onnx_feed(model, frame(4, seed=4), dtype="float64")
    feed["region"][1] = -1
    mu = session(to_onnx(model, "float64")).run(["mu"], feed)[0]
    assert np.isnan(mu[1]) and np.all(np.isfinite(mu[[0, 2, 3]]))


def test_feed_rejects_unseen_levels_and_missing_values():
    df = frame()
    model = GLM(family="poisson").fit(df, poisson_response(df))
    new = frame(5, seed=5)
    unseen = new.assign(region=["east", "west", "west", "north", "south"])
    with pytest.raises(ValueError, match=r"column 'region' has levels not seen in fit: \['east'\]"):
        onnx_feed(model, unseen)
    missing = new.assign(b=pd.Categorical([np.nan, 1, 2, 3, 7]))
    with pytest.raises(ValueError, match="'b' has 1 missing values"):
        onnx_feed(model, missing)
    with pytest.raises(TypeError, match="pass a DataFrame"):
        onnx_feed(model, new.to_numpy())


def test_reserved_column_name_is_refused():
    df = frame().rename(columns={"region": "offset"})
    model = GLM(family="poisson").fit(df, poisson_response(frame()))
    with pytest.raises(ValueError, match="categorical column 'offset' would be a graph input"):
        to_onnx(model)


# ------------------------------------------------------------------ errors
def test_unfitted_model():
    with pytest.raises(NotFittedError):
        to_onnx(GLM())
    with pytest.raises(NotFittedError):
        onnx_feed(GLMCV(), np.ones((2, 2)))


def test_unsupported_estimator():
    with pytest.raises(TypeError, match="cannot export a LinearRegression"):
        to_onnx(LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="cannot export a str"):
        to_onnx("GLM")


def test_formula_model_is_not_exported():
    df = frame()
    df["y"] = poisson_response(df)
    model = GLM(family="poisson", formula="y ~ age + income").fit(df)
    with pytest.raises(NotImplementedError, match="formulas are not exported"):
        to_onnx(model)
    with pytest.raises(NotImplementedError, match="formulas are not exported"):
        onnx_feed(model, df)


@pytest.mark.parametrize(
    "dtype,error",
    [
        ("float16", ValueError),
        ("int64", ValueError),
        (np.complex128, ValueError),
        (3.5, TypeError),
        (None, TypeError),
    ],
)
def test_bad_dtype(dtype, error):
    model, X = fitted("gaussian", "identity")
    with pytest.raises(error, match="dtype must be 'float32' or 'float64'"):
        to_onnx(model, dtype)
    with pytest.raises(error, match="dtype must be 'float32' or 'float64'"):
        onnx_feed(model, X, dtype=dtype)


def test_feed_checks_X_like_predict():
    model, X = fitted("gaussian", "identity")
    with pytest.raises(ValueError, match="features"):
        onnx_feed(model, X[:, :2])
    with pytest.raises(ValueError, match="offset has 3 entries"):
        onnx_feed(model, X[:5], offset=np.zeros(3))
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        onnx_feed(model, bad)


def test_missing_onnx_names_the_extra(monkeypatch):
    from glmlib.export import _requires

    def no_onnx(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_requires.importlib, "import_module", no_onnx)
    model, _ = fitted("gaussian", "identity")
    with pytest.raises(ImportError, match=r"glmlib\[onnx\]"):
        to_onnx(model)


def test_glmlib_imports_without_onnx():
    """``import glmlib`` must not import onnx (it is an optional extra)."""
    import subprocess
    import sys

    code = "import sys, glmlib, glmlib.export; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
