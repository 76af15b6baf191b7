"""Metrics of the experiment grid, written out so that their definitions are on the page.

Classification (a 0/1 outcome and a predicted probability): accuracy,
precision, recall and F1 at the threshold 0.5, log-loss, the area under the
ROC curve (AUC), the Brier score and the expected calibration error (ECE).
Counts and other regression outcomes: R², mean squared error and mean Poisson
deviance. Each is checked against scikit-learn in ``tests/experiments``.
Summaries over repeated splits give a mean, a standard deviation and a
t-interval (:func:`summarize`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "binary_metrics",
    "count_metrics",
    "expected_calibration_error",
    "roc_auc",
    "summarize",
]

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "auc",
    "brier",
    "ece",
)
REGRESSION_METRICS = ("r2", "mse", "deviance")
#: Metrics for which a smaller value is better (all others: larger is better).
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mse", "deviance", "fit_seconds"})

_EPS = 1e-15


def _check_pair(y: Any, pred: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    if y.shape != pred.shape:
        raise ValueError(f"y and {name} differ in length: {y.size} and {pred.size}")
    if y.size == 0:
        raise ValueError("y is empty")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(pred))):
        raise ValueError(f"y and {name} must be finite")
    return y, pred


def _check_binary(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y, p = _check_pair(y, p, "the probabilities")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must be 0/1 for classification metrics")
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError("predicted probabilities must lie in [0, 1]")
    return y, p


def roc_auc(y: Any, p: Any) -> float:
    """Area under the ROC curve: the Mann-Whitney probability P(p_case > p_control).

    Ties count one half (average ranks). NaN when only one class is present.
    """
    y, p = _check_binary(y, p)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def expected_calibration_error(y: Any, p: Any, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins of the probability.

    :math:`\\mathrm{ECE} = \\sum_b (n_b / n) \\, |\\bar y_b - \\bar p_b|`, the
    row-weighted gap between the observed rate and the mean prediction per bin.
    """
    y, p = _check_binary(y, p)
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        rows = bins == b
        total += rows.sum() * abs(y[rows].mean() - p[rows].mean())
    return float(total / y.size)


def binary_metrics(y: Any, p: Any, threshold: float = 0.5) -> dict[str, float]:
    """Classification metrics of predicted probabilities ``p`` for a 0/1 outcome ``y``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed 0/1 outcomes.
    p : array-like of shape (n,)
        Predicted probabilities of the outcome 1.
    threshold : float, default=0.5
        Predict 1 where ``p >= threshold`` (accuracy, precision, recall, F1).

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1`` (0 where undefined, as
        scikit-learn's ``zero_division=0``), ``log_loss`` (probabilities
        clipped to [1e-15, 1 - 1e-15]), ``auc``, ``brier`` and ``ece``.
    """
    y, p = _check_binary(y, p)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold!r}")
    hat = (p >= threshold).astype(np.float64)
    tp = float(np.sum(hat * y))
    fp = float(np.sum(hat * (1 - y)))
    fn = float(np.sum((1 - hat) * y))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    q = np.clip(p, _EPS, 1 - _EPS)
    return {
        "accuracy": float(np.mean(hat == y)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q))),
        "auc": roc_auc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p),
    }


def count_metrics(y: Any, mu: Any) -> dict[str, float]:
    """R², mean squared error and mean Poisson deviance of predicted means ``mu``.

    The deviance is :math:`\\frac{2}{n}\\sum_i [y_i \\log(y_i/\\mu_i) - (y_i - \\mu_i)]`
    (with :math:`0 \\log 0 = 0`), scikit-learn's ``mean_poisson_deviance``.
    """
    y, mu = _check_pair(y, mu, "the predicted means")
    if np.any(y < 0):
        raise ValueError("count outcomes must be non-negative")
    if np.any(mu <= 0):
        raise ValueError("predicted means must be positive for the Poisson deviance")
    resid = y - mu
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return {
        "r2": 1 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"),
        "mse": float(np.mean(resid**2)),
        "deviance": float(2 * np.mean(ylogy - resid)),
    }


def summarize(
    results: pd.DataFrame,
    metrics: Any,
    by: Any = ("dataset", "model"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean, standard deviation and t-interval of metrics over repeated splits.

    Parameters
    ----------
    results : DataFrame
        The tidy results of :func:`glmlib.experiments.run_grid` (one row per
        data set, model and repeat).
    metrics : sequence of str
        Columns to summarise.
    by : sequence of str, default=("dataset", "model")
    level : float, default=0.95
        Coverage of the interval :math:`\\bar x \\pm t_{r-1} s / \\sqrt r` over
        the r repeats (NaN with a single repeat).

    Returns
    -------
    DataFrame
        One row per group; columns ``<metric>``, ``<metric>_sd``,
        ``<metric>_lo``, ``<metric>_hi`` and ``repeats``.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    metrics, by = list(metrics), list(by)
    missing = [c for c in [*metrics, *by] if c not in results.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    rows = []
    for key, group in results.groupby(by, sort=False, observed=True):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for m in metrics:
            x = group[m].to_numpy(dtype=np.float64)
            x = x[np.isfinite(x)]
            r = x.size
            mean = float(x.mean()) if r else float("nan")
            sd = float(x.std(ddof=1)) if r > 1 else float("nan")
            half = float(stats.t.ppf(0.5 + level / 2, r - 1) * sd / np.sqrt(r)) if r > 1 else np.nan
            row.update({m: mean, f"{m}_sd": sd, f"{m}_lo": mean - half, f"{m}_hi": mean + half})
        row["repeats"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows)
