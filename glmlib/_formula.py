"""Wilkinson formulas (``"y ~ age * income + C(region)"``) through formulaic.

The formula is turned into a model matrix once at fit time; its
``model_spec`` is kept so that ``predict`` builds the same columns (same
category levels, same spline knots) for new data.
"""

from __future__ import annotations

from typing import Any

import formulaic
import pandas as pd

__all__ = ["formula_design", "apply_formula"]

_INTERCEPT = "Intercept"


def formula_design(formula: str, data: Any, fit_intercept: bool) -> tuple[pd.DataFrame, Any, Any]:
    """Model matrix, response (or None) and model spec for ``formula`` on ``data``."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, got {type(formula).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError("with a formula, X must be a pandas DataFrame holding the named columns")
    try:
        matrices = formulaic.model_matrix(formula, data, ensure_full_rank=True)
    except Exception as exc:  # formulaic raises many types; name the formula in ours
        raise ValueError(f"cannot build the model matrix for formula {formula!r}: {exc}") from exc
    if isinstance(matrices, formulaic.ModelMatrices) and hasattr(matrices, "lhs"):
        lhs, rhs = matrices.lhs, matrices.rhs
        if lhs.shape[1] != 1:
            raise ValueError(f"the formula's left-hand side must be one column, got {lhs.shape[1]}")
        y = lhs.iloc[:, 0].to_numpy(dtype=float)
    else:
        rhs, y = matrices, None
    has_intercept = _INTERCEPT in rhs.columns
    if has_intercept != bool(fit_intercept):
        raise ValueError(
            f"formula {formula!r} {'includes' if has_intercept else 'removes'} the intercept "
            f"but fit_intercept={fit_intercept}; make them agree"
        )
    return _drop_intercept(rhs), y, rhs.model_spec


def apply_formula(spec: Any, data: Any) -> pd.DataFrame:
    """The fitted formula's columns for new data."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError("this model was fitted with a formula: pass a pandas DataFrame")
    return _drop_intercept(spec.get_model_matrix(data))


def _drop_intercept(mm: Any) -> pd.DataFrame:
    frame = pd.DataFrame(mm)
    if _INTERCEPT in frame.columns:
        frame = frame.drop(columns=_INTERCEPT)
    return frame.astype(float)
