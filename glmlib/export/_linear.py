"""The linear predictor of a fitted glmlib model: its graph inputs, its nodes, its feed.

A model fitted on a numeric design takes one input ``X`` of shape
(batch, n_features_in_). A model fitted on a DataFrame with pandas
categorical columns takes ``X`` holding its numeric columns, in the
DataFrame's order (absent when there are none), and one int64 input per
categorical column, named after the column, holding codes into
``model.categories_[name]`` (all fitted levels, the dropped first one
included). The numeric part is a MatMul; each categorical adds a Gather from
a table of its levels' coefficients (0 for a dropped first level), so no
one-hot matrix is formed here either. The input layout is read from public
fitted attributes only (``coef_``, ``intercept_``, ``categories_``,
``feature_names_out_``, ``feature_names_in_``, ``n_features_in_``);
:func:`graph_linear_predictor` and :func:`feed` both work from it, so that a
feed always fits its graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from .._backend import to_numpy
from .._validation import validate_frame, validate_vector, validate_X
from ..design.categorical import _codes
from ._graph import Graph

__all__ = ["RESERVED_NAMES", "InputLayout", "feed", "graph_linear_predictor", "input_layout"]

F64 = np.float64
#: Names of the graph's own inputs and outputs; categorical columns may not use them.
RESERVED_NAMES = ("X", "offset", "mu", "eta")


@dataclass(frozen=True)
class InputLayout:
    """How a fitted model's input columns become graph inputs and coefficients.

    Attributes
    ----------
    names : tuple of str
        Every input column, in order (``feature_names_in_``, or x0, x1, ...).
    numeric : tuple of int
        Positions of the numeric columns: the columns of the ``X`` input.
    categorical : tuple of int
        Positions of the categorical columns, one int64 input each.
    levels : tuple of pandas.Index
        The fitted levels of each categorical column (``categories_``).
    beta : ndarray of shape (len(numeric),)
        Coefficients of the numeric columns.
    tables : tuple of ndarray
        For each categorical column, the coefficient of each of its levels
        (0 for a dropped first level).
    intercept : float
    """

    names: tuple[str, ...]
    numeric: tuple[int, ...]
    categorical: tuple[int, ...]
    levels: tuple[pd.Index, ...]
    beta: np.ndarray
    tables: tuple[np.ndarray, ...]
    intercept: float

    @property
    def from_frame(self) -> bool:
        """Whether the model was fitted on a DataFrame with categorical columns."""
        return bool(self.categorical)

    def numeric_names(self) -> list[str]:
        """Names of the columns of the ``X`` input."""
        return [self.names[j] for j in self.numeric]

    def categorical_names(self) -> list[str]:
        """Names of the int64 code inputs, in order."""
        return [self.names[j] for j in self.categorical]


def input_layout(model: Any) -> InputLayout:
    """The :class:`InputLayout` of a fitted linear model (public fitted attributes only).

    With categorical columns, whether each one's first level was dropped is
    recovered from the number of coefficients, and the resulting term names
    are checked against ``feature_names_out_``.
    """
    coef = np.asarray(model.coef_, dtype=F64)
    intercept = float(model.intercept_)
    p_in = int(model.n_features_in_)
    names = tuple(
        str(c) for c in getattr(model, "feature_names_in_", [f"x{j}" for j in range(p_in)])
    )
    categories: dict[str, Any] = getattr(model, "categories_", None) or {}
    if not categories:
        if coef.shape != (p_in,):
            raise ValueError(
                f"{type(model).__name__} has {coef.shape[0]} coefficients for {p_in} input "
                "columns; cannot map them onto the inputs"
            )
        return InputLayout(names, tuple(range(p_in)), (), (), coef, (), intercept)

    numeric = tuple(j for j, name in enumerate(names) if name not in categories)
    categorical = tuple(j for j, name in enumerate(names) if name in categories)
    levels = tuple(pd.Index(categories[names[j]]) for j in categorical)
    n_levels = sum(len(lv) for lv in levels)
    dropped, rem = divmod(len(numeric) + n_levels - coef.shape[0], len(categorical))
    if rem or dropped not in (0, 1):
        raise ValueError(
            f"{type(model).__name__} has {coef.shape[0]} coefficients, which fits neither "
            "coding of its categorical columns; cannot map them onto the inputs"
        )
    beta = np.zeros(len(numeric))
    tables: list[np.ndarray] = []
    terms: list[str] = []
    k = 0  # position in coef
    level_of = dict(zip(categorical, levels, strict=True))
    for j, name in enumerate(names):
        if j not in level_of:
            beta[numeric.index(j)] = coef[k]
            terms.append(name)
            k += 1
            continue
        lv = level_of[j]
        width = len(lv) - dropped
        table = np.zeros(len(lv))
        table[dropped:] = coef[k : k + width]
        tables.append(table)
        terms.extend(f"{name}[{level}]" for level in lv[dropped:])
        k += width
    out = getattr(model, "feature_names_out_", None)
    if out is not None and [str(t) for t in out] != terms:
        raise ValueError(
            "the fitted coefficients' names (feature_names_out_) do not match the input "
            "columns and their levels; cannot map them onto the inputs"
        )
    return InputLayout(names, numeric, categorical, levels, beta, tuple(tables), intercept)


def graph_linear_predictor(g: Graph, layout: InputLayout, dtype: np.dtype, offset: bool) -> str:
    """Declare the inputs and add eta = intercept + X beta + level coefficients (+ offset).

    ``X`` (and ``offset``) are inputs of ``dtype``; X @ beta runs in that
    dtype (the costly part: float32 halves the bytes read), and the sum is
    formed in float64, as ``model.predict`` forms it.

    Returns
    -------
    eta : str
        The float64 linear predictor, shape (batch,).
    """
    for name in layout.categorical_names():
        if name in RESERVED_NAMES:
            raise ValueError(
                f"categorical column {name!r} would be a graph input named like the graph's "
                f"own {name!r}; rename the column (names {list(RESERVED_NAMES)} are reserved)"
            )
    parts: list[str] = []
    if layout.numeric:
        m = len(layout.numeric)
        x = g.add_input(
            "X",
            dtype,
            ["batch", m],
            doc=f"numeric columns, in this order: {layout.numeric_names()}",
        )
        # a (m, 1) matrix: ONNX Runtime's MatMul with a 1-D right operand is
        # about 10x slower (measured: 2.0 against 0.17 ms for 1e4 x 50 float64)
        coef = g.constant(layout.beta[:, None], dtype, hint="coef")
        xb = g.op("MatMul", x, coef, hint="x_coef")
        xb = g.op("Squeeze", xb, g.constant([1], np.int64), hint="x_coef")
        parts.append(xb if dtype == F64 else g.cast(xb, F64, hint="x_coef_f64"))
    for name, lv, table in zip(
        layout.categorical_names(), layout.levels, layout.tables, strict=True
    ):
        codes = g.add_input(
            name,
            np.int64,
            ["batch"],
            doc=f"codes 0..{len(lv) - 1} of column {name!r} into categories_[{name!r}]",
        )
        coef = g.op("Gather", g.constant(table, F64, hint=f"coef_{name}"), codes, axis=0)
        # A negative code would wrap around to a level from the end: give NaN instead.
        negative = g.op("Less", codes, g.constant(0, np.int64))
        parts.append(g.op("Where", negative, g.constant(np.nan, F64), coef, hint=f"level_{name}"))
    eta = parts[0]
    for part in parts[1:]:
        eta = g.op("Add", eta, part, hint="eta_sum")
    eta = g.op("Add", eta, g.constant(layout.intercept, F64, hint="intercept"), hint="eta_fit")
    if offset:
        off = g.add_input("offset", dtype, ["batch"], doc="added to the linear predictor")
        off = off if dtype == F64 else g.cast(off, F64, hint="offset_f64")
        eta = g.op("Add", eta, off, hint="eta_offset")
    return eta


def feed(
    model: Any, layout: InputLayout, X: Any, offset: Any, dtype: np.dtype
) -> dict[str, np.ndarray]:
    """The ONNX Runtime input dict for X (and offset), checked as ``model.predict`` checks it."""
    out: dict[str, np.ndarray] = {}
    if layout.from_frame:
        X = validate_frame(model, X, reset=False)
        if layout.numeric:
            block = check_array(X.iloc[:, list(layout.numeric)], dtype=[np.float64, np.float32])
            out["X"] = np.ascontiguousarray(block, dtype=dtype)
        for j, name, lv in zip(
            layout.categorical, layout.categorical_names(), layout.levels, strict=True
        ):
            out[name] = _codes(X.iloc[:, j], lv, name).astype(np.int64)
    else:
        X = validate_X(model, X, reset=False)
        X = X.toarray() if sp.issparse(X) else to_numpy(X)
        out["X"] = np.ascontiguousarray(X, dtype=dtype)
    if offset is not None:
        n = X.shape[0]
        out["offset"] = np.asarray(to_numpy(validate_vector(offset, n, "offset")), dtype=dtype)
    return out
