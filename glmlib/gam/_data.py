"""Input handling: find each term's column(s) in X and check them.

X may be a pandas DataFrame (terms name columns or index them by position),
a 2-D NumPy array, or a torch/CuPy tensor (copied to the host: bases are
built there, then the model matrix goes to the fit's backend). Numeric terms
(``s``, ``l``, ``te``) need finite numbers; factor terms (``f``) accept any
values without missing entries.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .._backend import to_numpy
from .._validation import _is_device_array
from ._terms import FactorTerm, Term, TermList

__all__ = ["as_table", "term_columns", "model_matrix"]


def as_table(X: Any) -> pd.DataFrame | np.ndarray:
    """X as a DataFrame (kept) or a 2-D ndarray, with at least one row."""
    if isinstance(X, pd.DataFrame):
        table: pd.DataFrame | np.ndarray = X
    else:
        if _is_device_array(X):
            X = to_numpy(X)
        if isinstance(X, pd.Series):
            X = X.to_frame()
            return as_table(X)
        arr = np.asarray(X)
        if arr.ndim == 1:
            raise ValueError(
                "Expected a 2D array, got a 1D array instead: reshape your data with "
                "X.reshape(-1, 1) for a single feature"
            )
        if arr.ndim != 2:
            raise ValueError(f"Expected a 2D array, got {arr.ndim}D instead")
        table = arr
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError(f"Found array with shape {table.shape}: X is empty")
    return table


def column_names(table: pd.DataFrame | np.ndarray) -> list[str]:
    """Display names: DataFrame column names, else x0, x1, ..."""
    if isinstance(table, pd.DataFrame):
        return [str(c) for c in table.columns]
    return [f"x{j}" for j in range(table.shape[1])]


def _locate(table: pd.DataFrame | np.ndarray, col: int | str) -> int:
    n_cols = table.shape[1]
    if isinstance(col, str):
        if not isinstance(table, pd.DataFrame):
            raise ValueError(
                f"term column {col!r} is a name, but X has no column names: pass a DataFrame "
                "or index columns by position"
            )
        names = list(table.columns)
        if col not in names:
            raise KeyError(f"column {col!r} not found in X; its columns are {names[:20]}")
        return names.index(col)
    if isinstance(col, numbers.Integral) and not 0 <= col < n_cols:
        raise IndexError(f"term column {col} is out of range: X has {n_cols} columns")
    return int(col)


def _numeric(values: Any, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"column {name!r} is not numeric: use f({name!r}) for a categorical covariate"
        ) from None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"column {name!r} contains NaN or infinity")
    return x


def term_columns(term: Term, table: pd.DataFrame | np.ndarray) -> tuple[list[Any], list[str]]:
    """The data a term reads from X (validated) and the names of its columns."""
    names = column_names(table)
    data, labels = [], []
    for col in term.columns:
        j = _locate(table, col)
        label = names[j]
        raw = table.iloc[:, j] if isinstance(table, pd.DataFrame) else table[:, j]
        if isinstance(term, FactorTerm):
            series = raw if isinstance(raw, pd.Series) else pd.Series(raw)
            if bool(series.isna().any()):
                raise ValueError(f"column {label!r} contains missing values")
            data.append(series.reset_index(drop=True))
        else:
            data.append(_numeric(raw, label))
        labels.append(label)
    return data, labels


def model_matrix(terms: TermList, table: pd.DataFrame | np.ndarray, fit: bool) -> np.ndarray:
    """[block of term 1, block of term 2, ...] (no intercept column), float64.

    With ``fit=True`` the terms first learn their knots, levels and constraints.
    """
    blocks = []
    for term in terms:
        data, labels = term_columns(term, table)
        blocks.append(term.fit_transform(data, labels) if fit else term.transform(data))
    return np.ascontiguousarray(np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0])
