"""``to_onnx`` and ``onnx_feed``: one exporter per estimator class, chosen by exact type.

An exporter is a pair of functions: ``graph(g, model, options)`` adds the
model's inputs, nodes and outputs to a :class:`~glmlib.export._graph.Graph`
(and returns metadata to record), and ``feed(model, X, offset, dtype)``
turns data into the inputs that graph takes. Estimators are matched by exact type, because a subclass may predict
differently. The GLM exporter is a linear predictor (``_linear.py``) followed
by an inverse link (``_links.py``); an exporter for a classifier (class
probabilities from the same linear predictor and link) or for a neural GLM
(eta from layers instead of ``X @ coef``) is one more pair of functions
registered with :func:`register`, reusing those two parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..families import get_family
from ..glm import GLM
from ..glm_cv import GLMCV
from ._graph import Graph
from ._linear import feed as linear_feed
from ._linear import graph_linear_predictor, input_layout
from ._links import inverse_link

__all__ = ["Exporter", "ExportOptions", "onnx_feed", "register", "to_onnx"]

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class ExportOptions:
    """What the caller chose: the input/output dtype and whether there is an offset input."""

    dtype: np.dtype
    offset: bool


@dataclass(frozen=True)
class Exporter:
    """How one estimator class becomes a graph, and data its feed."""

    graph: Callable[[Graph, Any, ExportOptions], dict[str, str]]
    feed: Callable[[Any, Any, Any, np.dtype], dict[str, np.ndarray]]
    outputs: tuple[str, ...]


_EXPORTERS: dict[type, Exporter] = {}


def register(*classes: type) -> Callable[[Exporter], Exporter]:
    """Register an :class:`Exporter` for estimator ``classes`` (exact types)."""

    def decorate(exporter: Exporter) -> Exporter:
        for cls in classes:
            _EXPORTERS[cls] = exporter
        return exporter

    return decorate


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        if dtype is None:  # np.dtype(None) would be float64
            raise TypeError
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dt.name!r}")
    return dt


def _exporter(model: Any) -> Exporter:
    """The exporter for ``model``'s class; TypeError for others, NotFittedError if unfitted."""
    exporter = _EXPORTERS.get(type(model))
    if exporter is None:
        known = ", ".join(f"glmlib.{cls.__name__}" for cls in _EXPORTERS)
        raise TypeError(f"cannot export a {type(model).__name__} to ONNX; exportable: {known}")
    check_is_fitted(model)
    return exporter


# --------------------------------------------------------------------- GLM
def _check_glm(model: Any) -> None:
    check_is_fitted(model, "coef_")
    if hasattr(model, "model_spec_"):
        raise NotImplementedError(
            f"this {type(model).__name__} was fitted with formula={model.formula!r}; formulas "
            "are not exported (formulaic's transforms run in Python, not in the graph). Fit "
            "the model on the formula's model matrix instead, e.g. "
            "X = formulaic.model_matrix('~ ...', df) with fit_intercept matching, and export that"
        )


def _glm_graph(g: Graph, model: Any, options: ExportOptions) -> dict[str, str]:
    _check_glm(model)
    layout = input_layout(model)
    family = get_family(model.family, model.link)
    eta = graph_linear_predictor(g, layout, options.dtype, options.offset)
    mu = inverse_link(g, family.link, eta)
    dt = options.dtype
    if dt != np.float64:
        mu, eta = g.cast(mu, dt, hint="mu_out"), g.cast(eta, dt, hint="eta_out")
    g.add_output(mu, "mu", dt, ["batch"], doc="mean, g^{-1}(eta), as model.predict")
    g.add_output(eta, "eta", dt, ["batch"], doc="linear predictor, as model.predict_linear")
    return {
        "family": repr(family),
        "link": repr(family.link),
        "X_columns": json.dumps(layout.numeric_names()),
        "categorical_inputs": json.dumps(layout.categorical_names()),
    }


def _glm_feed(model: Any, X: Any, offset: Any, dtype: np.dtype) -> dict[str, np.ndarray]:
    _check_glm(model)
    return linear_feed(model, input_layout(model), X, offset, dtype)


register(GLM, GLMCV)(Exporter(graph=_glm_graph, feed=_glm_feed, outputs=("mu", "eta")))


# -------------------------------------------------------------------- API
def to_onnx(model: Any, dtype: Any = "float32", *, offset: bool = False) -> Any:
    """Export a fitted model's predictions as an ONNX graph.

    The graph computes what ``model.predict`` and ``model.predict_linear``
    compute, for a batch of rows, in any ONNX runtime (ONNX Runtime,
    on CPU or elsewhere), without Python or glmlib.

    Parameters
    ----------
    model : glmlib.GLM or glmlib.GLMCV
        A fitted model, of any family and link (GLMCV: its refit at
        ``alpha_``). Models fitted with ``formula=`` are not exported.
    dtype : {"float32", "float64"}, default="float32"
        Element type of the floating-point inputs and outputs. ``X @ coef``
        runs in this type (float32 halves the bytes read); the intercept,
        level coefficients and offset are added and the inverse link is
        evaluated in float64, as ``model.predict`` does, and mu and eta are
        rounded to ``dtype`` at the end. Measured against ``model.predict``
        on the same input: relative differences below 1e-6 for float32 and
        1e-12 for float64 (tests/test_export.py).
    offset : bool, default=False
        Whether the graph has a second input ``offset`` (shape (batch,),
        added to eta, e.g. log exposure). ONNX has no optional inputs with a
        default value in the main graph: an initializer listed as an input
        is overridable in ONNX Runtime but is hidden from
        ``InferenceSession.get_inputs()`` and draws a warning at every
        session, and an ``optional`` input must still be fed. So the offset
        is a choice at export: ``offset=False`` gives the graph of a zero
        offset (``model.predict(X)``); ``offset=True`` one whose ``offset``
        input is required (``model.predict(X, offset=...)``; feed zeros for
        none).

    Returns
    -------
    onnx.ModelProto
        Opset 17. Inputs, in order:

        * ``X``, ``dtype``, shape (batch, n): the input columns (numeric
          designs), or only the numeric columns of a DataFrame fitted with
          categorical columns, in the DataFrame's order; absent when every
          column is categorical;
        * for each categorical column, in order, an int64 input named after
          the column, shape (batch,): codes into ``model.categories_[name]``
          (all fitted levels, the dropped first one included); a negative
          code gives NaN, a code past the last level an error in the runtime;
        * ``offset`` (with ``offset=True``), ``dtype``, shape (batch,).

        Outputs: ``mu`` (the mean, as ``model.predict``), then ``eta`` (the
        linear predictor, as ``model.predict_linear``), ``dtype``, shape
        (batch,). :func:`onnx_feed` builds the inputs from the data
        ``model.predict`` takes. ``metadata_props`` record the family, link,
        dtype and input columns.

    Raises
    ------
    TypeError
        For an estimator that is not a GLM or GLMCV, or a dtype that is not
        a dtype.
    ValueError
        For a dtype other than float32 and float64, or a categorical column
        named ``X``, ``offset``, ``mu`` or ``eta``.
    sklearn.exceptions.NotFittedError
        For a model that is not fitted.
    NotImplementedError
        For a model fitted with a formula, or a link class with no ONNX
        form (a user-defined :class:`~glmlib.links.Link` subclass).
    ImportError
        Without the ``onnx`` package (``pip install 'glmlib[onnx]'``).

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from glmlib import GLM
    >>> from glmlib.export import onnx_feed, to_onnx
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> model = GLM(family="poisson").fit(X, rng.poisson(np.exp(X @ [0.3, -0.2, 0.1])))
    >>> session = ort.InferenceSession(to_onnx(model).SerializeToString())
    >>> mu, eta = session.run(None, onnx_feed(model, X[:5]))
    >>> bool(np.allclose(mu, model.predict(X[:5]), rtol=1e-6))
    True
    """
    options = ExportOptions(_check_dtype(dtype), bool(offset))
    exporter = _exporter(model)
    g = Graph(f"glmlib_{type(model).__name__}", outputs=exporter.outputs)
    metadata = {
        "estimator": type(model).__name__,
        "dtype": options.dtype.name,
        "offset_input": str(options.offset).lower(),
        **exporter.graph(g, model, options),
    }
    return g.model(
        doc=f"{model!r}: inputs and outputs as glmlib.export.to_onnx documents them",
        producer="glmlib",
        version=_glmlib_version(),
        metadata=metadata,
    )


def onnx_feed(model: Any, X: Any, offset: Any = None, *, dtype: Any = "float32") -> dict:
    """The input dict for ``InferenceSession.run`` of ``to_onnx(model, dtype)``'s graph.

    Parameters
    ----------
    model : glmlib.GLM or glmlib.GLMCV
        The fitted model that was exported.
    X : array-like, DataFrame, sparse matrix or tensor of shape (n_samples, n_features)
        What ``model.predict`` takes, checked the same way: for a model
        fitted with categorical columns, a DataFrame with the same columns,
        whose categorical values (any category order, or plain values such
        as strings) become codes into ``model.categories_``; unseen levels
        and missing values raise a ValueError naming the column.
    offset : array-like of shape (n_samples,), optional
        Fed as ``offset``, for a graph exported with ``offset=True``.
    dtype : {"float32", "float64"}, default="float32"
        The dtype the graph was exported with.

    Returns
    -------
    dict of str to ndarray
        ``{"X": ..., <categorical column>: int64 codes, ..., "offset": ...}``.
    """
    dt = _check_dtype(dtype)
    return _exporter(model).feed(model, X, offset, dt)


def _glmlib_version() -> str:
    from .. import __version__

    return __version__
