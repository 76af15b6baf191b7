"""The assignment's choice of extra training data, settled by simulation.

The question: a first classifier scores a population of items and flags the
highest-scoring ones. A second classifier is to be trained with extra
labelled items; which items should be labelled?

``"uniform"``
    a uniform random sample of the population;
``"flagged"``
    a uniform random sample of the items the first classifier flagged;
``"boundary"``
    a uniform random sample of the items whose first-classifier score is
    closest to the flagging threshold (its decision boundary).

The answer depends on where the second classifier will be used and on
whether its model is right, so this module does not argue it: it simulates
it. Each repetition draws a population with known click probabilities
(:func:`simulate_population`), fits the first classifier (a logistic GLM,
:class:`glmlib.GLM`) on an initial uniform sample, draws the extra sample by
each strategy (:func:`draw_sample`), fits the second logistic GLM, and
evaluates it (:func:`evaluate`) on a fresh test population: on all items and
on the items the first classifier flags. Two truths: ``"well-specified"``
(the log-odds are linear in the features, as the GLM assumes) and
``"misspecified"`` (a quadratic term and an interaction the GLM lacks).
All strategies of one repetition share the population, the first classifier
and the test set, so their differences are paired
(:func:`compare_strategies`).

The second classifier is trained on the initial sample plus the extra one
(``combine=True``) or the extra one alone, without importance weights (the
plain practice whose consequences the simulation shows).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from ..glm import GLM

__all__ = [
    "SCENARIOS",
    "STRATEGIES",
    "compare_strategies",
    "draw_sample",
    "evaluate",
    "simulate_population",
    "simulate_sampling",
    "summarize_sampling",
]

STRATEGIES = ("uniform", "flagged", "boundary")
SCENARIOS = ("well-specified", "misspecified")
_INTERCEPT = -2.5  # about 12% positives in the well-specified population


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}: expected one of {tuple(allowed)}")


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_fraction(name: str, value: Any) -> float:
    x = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else 0.0
    if not 0 < x < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return x


def simulate_population(
    n: int, scenario: str, rng: np.random.Generator, n_features: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, true probabilities and labels of ``n`` items.

    Features are independent standard normals. The log-odds are
    ``-2.5 + sum_j x_j / j`` (``"well-specified"``), plus
    ``0.75 (x_1^2 - 1) + 0.75 x_1 x_2`` (``"misspecified"``: terms a logistic
    GLM linear in x does not have).

    Returns
    -------
    X : ndarray of shape (n, n_features)
    p : ndarray of shape (n,)
        True probability of a positive label.
    y : ndarray of shape (n,)
        Labels drawn from ``p``.
    """
    _check_choice("scenario", scenario, SCENARIOS)
    n = _check_int("n", n, 1)
    d = _check_int("n_features", n_features, 2)
    X = rng.standard_normal((n, d))
    eta = _INTERCEPT + X @ (1.0 / np.arange(1, d + 1))
    if scenario == "misspecified":
        eta = eta + 0.75 * (X[:, 0] ** 2 - 1) + 0.75 * X[:, 0] * X[:, 1]
    p = 1.0 / (1.0 + np.exp(-eta))
    y = (rng.random(n) < p).astype(float)
    return X, p, y


def draw_sample(
    strategy: str,
    scores: np.ndarray,
    threshold: float,
    n: int,
    rng: np.random.Generator,
    boundary_fraction: float = 0.2,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of ``n`` items drawn without replacement by ``strategy``.

    Parameters
    ----------
    strategy : {"uniform", "flagged", "boundary"}
        Draw from all items, from those with ``scores >= threshold``, or from
        the ``boundary_fraction`` of items whose score is closest to
        ``threshold``.
    scores : ndarray of shape (n_items,)
        The first classifier's scores (log-odds).
    exclude : ndarray of int, optional
        Items not to draw (already labelled).

    Raises
    ------
    ValueError
        For an unknown strategy, or when the pool holds fewer than ``n`` items.
    """
    _check_choice("strategy", strategy, STRATEGIES)
    n = _check_int("n", n, 1)
    boundary_fraction = _check_fraction("boundary_fraction", boundary_fraction)
    scores = np.asarray(scores, dtype=float)
    allowed = np.ones(scores.size, dtype=bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=np.int64)] = False
    if strategy == "flagged":
        allowed &= scores >= threshold
    elif strategy == "boundary":
        k = int(math.ceil(boundary_fraction * scores.size))
        band = np.zeros(scores.size, dtype=bool)
        band[np.argsort(np.abs(scores - threshold), kind="stable")[:k]] = True
        allowed &= band
    pool = np.flatnonzero(allowed)
    if pool.size < n:
        raise ValueError(
            f"the {strategy!r} pool has {pool.size} items, fewer than the {n} to draw: "
            "enlarge the population or the flagged/boundary fraction"
        )
    return np.sort(rng.choice(pool, size=n, replace=False))


def evaluate(p_true: np.ndarray, q: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Metrics of predicted probabilities ``q`` on items with true probabilities ``p_true``.

    ``log_loss``: the expected log-loss under the true probabilities,
    mean of -(p log q + (1 - p) log(1 - q)) (lower is better; its minimum, at
    q = p, is the labels' entropy); ``auc``: the area under the ROC curve
    against the drawn labels ``y``; ``brier``: the expected Brier score,
    mean of (q - p)^2 + p (1 - p).
    """
    p, q, y = (np.asarray(a, dtype=float) for a in (p_true, q, y))
    q = np.clip(q, 1e-15, 1 - 1e-15)
    log_loss = float(np.mean(-(p * np.log(q) + (1 - p) * np.log1p(-q))))
    auc = float(roc_auc_score(y, q)) if 0 < y.sum() < y.size else math.nan
    brier = float(np.mean((q - p) ** 2 + p * (1 - p)))
    return {"log_loss": log_loss, "auc": auc, "brier": brier}


def _fit_logistic(X: np.ndarray, y: np.ndarray) -> GLM:
    with warnings.catch_warnings():
        # A small flagged or boundary sample can be nearly separable; the
        # simulation records what such a fit predicts rather than stopping.
        warnings.filterwarnings("ignore", message="fitted probabilities numerically")
        return GLM(family="binomial").fit(X, y)


def simulate_sampling(
    n_reps: int = 20,
    scenarios: Sequence[str] = SCENARIOS,
    strategies: Sequence[str] = STRATEGIES,
    *,
    n_population: int = 10_000,
    n_initial: int = 300,
    n_extra: int = 300,
    n_test: int = 10_000,
    flag_fraction: float = 0.1,
    boundary_fraction: float = 0.2,
    n_features: int = 3,
    combine: bool = True,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Run the sampling experiment ``n_reps`` times for each scenario.

    Each repetition, for each scenario: draw a population of
    ``n_population`` items and an initial uniform sample of ``n_initial``;
    fit the first classifier on it and flag the ``flag_fraction`` of the
    population it scores highest; for each strategy draw ``n_extra`` more
    items (:func:`draw_sample`), fit the second classifier on them (with the
    initial sample when ``combine``), and evaluate it on a fresh population
    of ``n_test`` items, all of them (``target="all"``) and those above the
    first classifier's threshold (``target="flagged"``).

    Repetition r uses the r-th child of ``numpy.random.SeedSequence(random_state)``,
    so its results do not depend on ``n_reps``.

    Returns
    -------
    DataFrame
        Long format: ``rep``, ``scenario``, ``strategy``, ``target``,
        ``metric`` (``log_loss``, ``auc``, ``brier``), ``value``.

    Examples
    --------
    >>> from glmlib.experiments.sampling_plan import compare_strategies, simulate_sampling
    >>> results = simulate_sampling(n_reps=3, scenarios=["misspecified"], random_state=0)
    >>> diffs = compare_strategies(results)
    >>> sorted(diffs["strategy"].unique())
    ['boundary', 'flagged']
    """
    n_reps = _check_int("n_reps", n_reps, 1)
    for s in scenarios:
        _check_choice("scenario", s, SCENARIOS)
    for s in strategies:
        _check_choice("strategy", s, STRATEGIES)
    if len(scenarios) == 0 or len(strategies) == 0:
        raise ValueError("scenarios and strategies must not be empty")
    n_population = _check_int("n_population", n_population, 10)
    n_initial = _check_int("n_initial", n_initial, 10)
    n_extra = _check_int("n_extra", n_extra, 1)
    n_test = _check_int("n_test", n_test, 10)
    flag_fraction = _check_fraction("flag_fraction", flag_fraction)
    if n_initial + n_extra > n_population:
        raise ValueError(
            f"n_initial + n_extra = {n_initial + n_extra} exceeds n_population = {n_population}"
        )
    if not isinstance(combine, bool):
        raise TypeError(f"combine must be a bool, got {combine!r}")
    seeds = np.random.SeedSequence(random_state).spawn(n_reps)
    rows = []
    for rep, seed in enumerate(seeds):
        for scenario, sub in zip(scenarios, seed.spawn(len(scenarios)), strict=True):
            rng = np.random.default_rng(sub)
            X, _, y = simulate_population(n_population, scenario, rng, n_features)
            initial = np.sort(rng.choice(n_population, size=n_initial, replace=False))
            first = _fit_logistic(X[initial], y[initial])
            scores = first.predict_linear(X)
            threshold = float(np.quantile(scores, 1 - flag_fraction))
            X_test, p_test, y_test = simulate_population(n_test, scenario, rng, n_features)
            flagged = first.predict_linear(X_test) >= threshold
            for strategy in strategies:
                extra = draw_sample(
                    strategy, scores, threshold, n_extra, rng, boundary_fraction, exclude=initial
                )
                rows_fit = np.concatenate([initial, extra]) if combine else extra
                second = _fit_logistic(X[rows_fit], y[rows_fit])
                q = second.predict(X_test)
                for target, mask in (("all", slice(None)), ("flagged", flagged)):
                    for metric, value in evaluate(p_test[mask], q[mask], y_test[mask]).items():
                        rows.append((rep, scenario, strategy, target, metric, value))
    return pd.DataFrame(rows, columns=["rep", "scenario", "strategy", "target", "metric", "value"])


def _t_interval(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    values = values[np.isfinite(values)]
    n = values.size
    mean = float(values.mean()) if n else math.nan
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    q = float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else math.nan
    return mean, se, mean - q * se, mean + q * se


def summarize_sampling(results: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean of each metric over repetitions, with a Student-t interval.

    Returns
    -------
    DataFrame
        One row per scenario, target, metric and strategy: ``mean``,
        ``std_err``, ``ci_low``, ``ci_high``, ``n_reps``.
    """
    level = _check_fraction("level", level)
    keys = ["scenario", "target", "metric", "strategy"]
    rows = []
    for key, group in results.groupby(keys, sort=False):
        rows.append((*key, *_t_interval(group["value"].to_numpy(), level), len(group)))
    return pd.DataFrame(rows, columns=[*keys, "mean", "std_err", "ci_low", "ci_high", "n_reps"])


def compare_strategies(
    results: pd.DataFrame, baseline: str = "uniform", level: float = 0.95
) -> pd.DataFrame:
    """Paired differences of each strategy from ``baseline`` over repetitions.

    For each scenario, target and metric, the difference (strategy minus
    baseline) within each repetition, its mean and Student-t interval. For
    ``log_loss`` and ``brier`` a negative difference favours the strategy;
    for ``auc`` a positive one.

    Returns
    -------
    DataFrame
        One row per scenario, target, metric and non-baseline strategy:
        ``mean_diff``, ``std_err``, ``ci_low``, ``ci_high``, ``n_reps``.
    """
    _check_choice("baseline", baseline, STRATEGIES)
    level = _check_fraction("level", level)
    if baseline not in set(results["strategy"]):
        raise ValueError(f"baseline {baseline!r} is not among the results' strategies")
    wide = results.pivot_table(
        index=["scenario", "target", "metric", "rep"], columns="strategy", values="value"
    )
    rows = []
    for (scenario, target, metric), block in wide.groupby(level=[0, 1, 2], sort=False):
        for strategy in [s for s in STRATEGIES if s in block.columns and s != baseline]:
            diff = (block[strategy] - block[baseline]).to_numpy()
            rows.append((scenario, target, metric, strategy, *_t_interval(diff, level), len(diff)))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "target",
            "metric",
            "strategy",
            "mean_diff",
            "std_err",
            "ci_low",
            "ci_high",
            "n_reps",
        ],
    )
