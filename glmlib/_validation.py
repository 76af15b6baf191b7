"""Input checking: turn user input into validated arrays, or fail with a clear message.

NumPy, pandas and scipy.sparse input goes through scikit-learn's
``validate_data`` (so messages and ``feature_names_in_`` follow its
conventions); torch and CuPy arrays are checked on their own device so that
they never leave it. DataFrames with pandas categorical columns are checked
for their column names and types here and for their values when their
design is built (glmlib/design/categorical.py).
"""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat
import numpy as np
import pandas as pd
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import check_array, validate_data

from ._backend import constant_value, namespace, to_numpy
from .design.categorical import is_categorical
from .design.dense import finite_column_range

__all__ = [
    "check_drop_first",
    "check_penalty",
    "has_categorical_columns",
    "validate_X",
    "validate_X_with_range",
    "validate_frame",
    "validate_vector",
]


def _is_device_array(X: Any) -> bool:
    return array_api_compat.is_torch_array(X) or array_api_compat.is_cupy_array(X)


def _reject_non_numeric(X: Any, categorical: bool = False) -> None:
    """TypeError for DataFrame columns that are neither numeric nor (when allowed) categorical."""
    if not isinstance(X, pd.DataFrame):
        return
    bad = [
        str(c)
        for c, dt in X.dtypes.items()
        if not (
            pd.api.types.is_numeric_dtype(dt)
            or pd.api.types.is_bool_dtype(dt)
            or (categorical and is_categorical(dt))
        )
    ]
    if bad:
        hint = (
            f'convert them to categoricals (X["{bad[0]}"].astype("category")), encode them '
            if categorical
            else "encode them first "
        )
        raise TypeError(
            f"X has non-numeric columns {bad}; {hint}(for example with "
            "sklearn.preprocessing.OneHotEncoder) or fit with a formula"
        )


def has_categorical_columns(X: Any) -> bool:
    """Whether X is a DataFrame with at least one pandas categorical column."""
    return isinstance(X, pd.DataFrame) and any(is_categorical(dt) for dt in X.dtypes)


def validate_frame(estimator: Any, X: Any, *, reset: bool) -> pd.DataFrame:
    """Check a DataFrame with categorical columns; set or check n_features_in_ / feature_names_in_.

    At fit time (``reset=True``) every column must be numeric, boolean or
    categorical. The values themselves (missing levels, non-finite numbers)
    are checked when the design is built, by the fitted layout
    (:meth:`glmlib.design.categorical.CategoricalLayout.design`), so that new data
    may hold a categorical as plain strings.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{type(estimator).__name__} was fitted on a DataFrame with categorical columns; "
            f"pass a DataFrame with the same columns, got {type(X).__name__}"
        )
    if reset:
        _reject_non_numeric(X, categorical=True)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"Found array with shape {X.shape}: X is empty")
    return validate_data(estimator, X, reset=reset, skip_check_array=True)


def validate_X(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    min_features: int = 1,
    categorical: bool = False,
    min_samples: int = 1,
) -> Any:
    """Validate a design matrix; set or check n_features_in_ / feature_names_in_.

    ``min_features=0`` admits an intercept-only design (formula ``y ~ 1``);
    ``min_samples=0`` an empty shard of a distributed fit.
    Returns a float64/float32 NumPy array, a CSR/CSC matrix, or the torch/CuPy
    array itself (floating point, 2-D, finite). With ``categorical=True`` a
    DataFrame with pandas categorical columns is returned as it is, after
    :func:`validate_frame`; otherwise such columns are rejected like strings.
    """
    return validate_X_with_range(
        estimator,
        X,
        reset=reset,
        min_features=min_features,
        categorical=categorical,
        min_samples=min_samples,
    )[0]


def validate_X_with_range(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    min_features: int = 1,
    categorical: bool = False,
    min_samples: int = 1,
) -> tuple[Any, np.ndarray | None]:
    """:func:`validate_X`, and the column ranges (max - min) of a C-ordered NumPy X.

    For such an X the finiteness check and the ranges come from one pass
    (:func:`glmlib.design.dense.finite_column_range`), so a fit that warns
    about constant or badly scaled columns reads X once for both; the ranges
    are None for any other X.
    """
    if _is_device_array(X):
        xp = namespace(X)
        if X.ndim != 2:
            raise ValueError(f"Expected 2D array, got {X.ndim}D array instead")
        if X.shape[0] < min_samples or X.shape[1] < min_features:
            raise ValueError(f"Found array with shape {tuple(X.shape)}: X is empty")
        if not xp.isdtype(X.dtype, "real floating"):
            X = xp.astype(X, xp.float64)
        if not bool(xp.all(xp.isfinite(X))):
            raise ValueError("Input X contains NaN or infinity.")
        if reset:
            estimator.n_features_in_ = int(X.shape[1])
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(estimator).__name__} "
                f"is expecting {estimator.n_features_in_} features as input."
            )
        return X, None
    if categorical and has_categorical_columns(X):
        return validate_frame(estimator, X, reset=reset), None
    _reject_non_numeric(X, categorical)
    if isinstance(X, pd.DataFrame) and X.shape[1] == 0 and min_features == 0:
        X = np.empty((X.shape[0], 0))
    X = validate_data(
        estimator,
        X,
        reset=reset,
        accept_sparse=["csr", "csc"],
        dtype=[np.float64, np.float32],
        ensure_min_samples=min_samples,
        ensure_min_features=min_features,
        ensure_all_finite=False,  # checked below
    )
    spread = None
    if isinstance(X, np.ndarray) and X.flags.c_contiguous and X.shape[0] and X.shape[1]:
        spread = finite_column_range(X)
        if spread is None:  # not finite: scikit-learn's message
            assert_all_finite(X, input_name="X", estimator_name=type(estimator).__name__)
    else:
        assert_all_finite(X, input_name="X", estimator_name=type(estimator).__name__)
    return X, spread


def validate_vector(
    v: Any, n: int, name: str, *, allow_none_value: float | None = None
) -> np.ndarray | Any:
    """A finite float64 vector of length n (y, sample_weight or offset).

    Torch/CuPy vectors stay on their device. ``None`` becomes a constant
    vector ``allow_none_value`` when that is given.
    """
    if v is None:
        if allow_none_value is None:
            raise ValueError(f"{name} is required")
        return np.full(n, float(allow_none_value))
    if isinstance(v, numbers.Number) and not isinstance(v, bool):
        v = np.full(n, float(v))  # type: ignore[arg-type]
    if _is_device_array(v):
        xp = namespace(v)
        v = xp.reshape(xp.astype(v, xp.float64), (-1,))
        if v.shape[0] != n:
            raise ValueError(f"{name} has {v.shape[0]} entries but X has {n} rows")
        if not bool(xp.all(xp.isfinite(v))):
            raise ValueError(f"{name} contains NaN or infinity")
        return v
    if isinstance(v, pd.Series | pd.DataFrame):
        v = v.to_numpy()
    arr = np.asarray(v)
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n} rows")
    arr = check_array(
        arr, ensure_2d=False, dtype=np.float64, input_name=name, ensure_min_samples=min(n, 1)
    )
    return arr


def check_sample_weight(w: Any, positive_sum: bool = True) -> None:
    """Weights must be non-negative with a positive sum (the sum unchecked if not ``positive_sum``)."""
    c = constant_value(w)  # absent weights: one number, not n to check
    w_h = to_numpy(w) if c is None else np.array([c])
    if np.any(w_h < 0):
        raise ValueError("sample_weight must be non-negative; found negative weights")
    if positive_sum and not np.sum(w_h) > 0:
        raise ValueError("sample_weight sums to zero: there is nothing to fit")


def check_penalty(alpha: Any, l1_ratio: Any) -> tuple[float, float]:
    """Validate alpha >= 0 and l1_ratio in [0, 1]."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, numbers.Real):
        raise TypeError(f"l1_ratio must be a real number, got {type(l1_ratio).__name__}")
    l1_ratio = float(l1_ratio)
    if not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
    return alpha, l1_ratio


def check_drop_first(drop_first: Any) -> None:
    """drop_first must be "auto", True or False."""
    if isinstance(drop_first, str):
        if drop_first != "auto":
            raise ValueError(f'drop_first must be "auto", True or False, got {drop_first!r}')
    elif not isinstance(drop_first, bool | np.bool_):
        raise TypeError(
            f'drop_first must be "auto", True or False, got {type(drop_first).__name__} '
            f"{drop_first!r}"
        )
