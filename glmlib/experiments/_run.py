"""The experiment grid: data sets x model families x repeated 80/20 splits.

For each repeat ``r`` (seed ``seed + r``) and data set, the rows are split
80/20; every model is fitted twice: on 80 % of the training part, scored on
the other 20 % (the *validation* score, used to choose models), and on the
whole training part, scored on the test part (the reported metrics). The test
part is never used to choose anything. :func:`run_grid` returns one tidy row
per data set, model and repeat; :func:`record` writes it, with the machine,
date, commit and package versions, in the recorded-results format of
:mod:`glmlib.recorded`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..datasets import load
from ._domains import DOMAINS, design, inner_split, split
from ._metrics import binary_metrics, count_metrics
from ._models import MODELS, fit_model

__all__ = ["QUICK_ROWS", "machine_meta", "record", "results_frame", "run_grid", "select_best"]

#: Rows per data set in quick mode (a stratified subsample).
QUICK_ROWS = 600


def _names(value: Any, valid: Sequence[str], what: str) -> list[str]:
    if value is None:
        return list(valid)
    if isinstance(value, str):
        value = [value]
    value = list(value)
    bad = [v for v in value if v not in valid]
    if bad or not value:
        raise ValueError(f"unknown {what} {bad or value}; valid: {list(valid)}")
    return value


def _scores(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return binary_metrics(y, pred) if task == "binary" else count_metrics(y, pred)


def run_grid(
    datasets: Any = None,
    models: Any = None,
    repeats: int = 3,
    *,
    quick: bool = False,
    seed: int = 0,
    max_rows: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run the experiment grid.

    Parameters
    ----------
    datasets : sequence of str, optional
        Names from :data:`glmlib.experiments.DOMAINS` (default: all six).
    models : sequence of str, optional
        Names from :data:`glmlib.experiments.MODELS` (default: all). A model
        that does not apply to a data set (the GAM on text) is skipped.
    repeats : int, default=3
        Number of 80/20 splits (seeds ``seed``, ``seed + 1``, ...).
    quick : bool, default=False
        CI mode: at most :data:`QUICK_ROWS` rows per data set, shorter
        paths, fewer trees and epochs, and the Laplace approximation instead
        of NUTS for the Bayesian GLM.
    seed : int, default=0
    max_rows : int, optional
        Subsample every data set to this many rows (overrides quick's size).
    progress : callable, optional
        Called with one line per fit (for example ``print``).

    Returns
    -------
    DataFrame
        One row per data set, model and repeat: ``dataset``, ``domain``,
        ``task``, ``model``, ``label``, ``repeat``, ``seed``, ``n_train``,
        ``n_test``, the test metrics, ``val_score`` (the primary metric on the
        validation part inside the training data), ``fit_seconds`` (the fit
        on the whole training part, one thread), ``n_iter``, ``converged``,
        ``rhat``, ``ess``, ``method`` and ``error`` (the message if a fit
        failed; its metrics are then NaN).
    """
    names = _names(datasets, list(DOMAINS), "data sets")
    chosen = _names(models, list(MODELS), "models")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {quick!r}")
    rows_cap = max_rows if max_rows is not None else (QUICK_ROWS if quick else None)
    rows: list[dict[str, Any]] = []
    for name in names:
        frame = load(name)
        dom = DOMAINS[name]
        for r in range(repeats):
            s = split(name, seed + r, max_rows=rows_cap, frame=frame)
            inner = inner_split(s, seed + r)
            designs = {k: design(s, k) for k in ("linear", "engineered")}
            inner_designs = {k: design(inner, k) for k in ("linear", "engineered")}
            for m in chosen:
                spec = MODELS[m]
                if dom.text is not None and not spec.text:
                    continue
                row: dict[str, Any] = {
                    "dataset": name,
                    "domain": dom.domain,
                    "task": dom.task,
                    "model": m,
                    "label": spec.label,
                    "repeat": r,
                    "seed": seed + r,
                    "n_train": len(s.y_train),
                    "n_test": len(s.y_test),
                    "error": "",
                }
                try:
                    val = fit_model(m, inner, inner_designs, seed + r, quick, validation=True)
                    row["val_score"] = _scores(dom.task, inner.y_test, val.prediction)[
                        dom.primary_metric
                    ]
                    fitted = fit_model(m, s, designs, seed + r, quick)
                    row.update(_scores(dom.task, s.y_test, fitted.prediction))
                    row.update(
                        fit_seconds=fitted.fit_seconds,
                        n_iter=fitted.n_iter,
                        converged=fitted.converged,
                        rhat=fitted.rhat,
                        ess=fitted.ess,
                        method=str(fitted.info.get("method", "")),
                    )
                except Exception as err:  # recorded, not hidden: the row says why
                    row["error"] = f"{type(err).__name__}: {err}"[:300]
                rows.append(row)
                if progress is not None:
                    pm = dom.primary_metric
                    progress(
                        f"{name} {m} repeat {r}: {pm}={row.get(pm, float('nan')):.4f} "
                        f"fit={row.get('fit_seconds', float('nan')):.2f}s {row['error']}"
                    )
    return pd.DataFrame(rows)


def select_best(results: pd.DataFrame, models: Any = None) -> pd.DataFrame:
    """The model chosen on the validation score inside the training data, per data set.

    For each data set, the model with the best mean validation score over the
    repeats is chosen (lowest log-loss or deviance); its *test* metrics are
    reported beside it. The test part plays no role in the choice.

    Parameters
    ----------
    results : DataFrame
        From :func:`run_grid`.
    models : sequence of str, optional
        Restrict the choice to these models (for example the GLM families).

    Returns
    -------
    DataFrame
        One row per data set: ``dataset``, ``model``, ``val_score`` and the mean
        test value of the primary metric (``test_score``).
    """
    need = {"dataset", "model", "val_score", "task"}
    if not isinstance(results, pd.DataFrame) or not need <= set(results.columns):
        raise ValueError(f"results must be a DataFrame from run_grid with columns {sorted(need)}")
    df = results if models is None else results[results["model"].isin(list(models))]
    out = []
    for name, group in df.groupby("dataset", sort=False):
        pm = "log_loss" if group["task"].iloc[0] == "binary" else "deviance"
        means = group.groupby("model", sort=False)[["val_score", pm]].mean().dropna()
        if means.empty:
            continue
        best = means["val_score"].idxmin()
        out.append(
            {
                "dataset": name,
                "model": best,
                "metric": pm,
                "val_score": float(means.loc[best, "val_score"]),
                "test_score": float(means.loc[best, pm]),
            }
        )
    return pd.DataFrame(out)


def _commit() -> str:
    """The glmlib commit: ``$GLMLIB_COMMIT`` (a run from an exported copy), else git's HEAD."""
    if os.environ.get("GLMLIB_COMMIT"):
        return os.environ["GLMLIB_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine_meta(command: str = "make experiments") -> dict[str, Any]:
    """The ``meta`` block of a recorded run: device, date, commit, versions."""
    import importlib

    versions = {"python": platform.python_version()}
    for pkg in ("glmlib", "numpy", "scipy", "pandas", "scikit-learn", "lightgbm", "torch", "pymc"):
        try:
            mod = importlib.import_module(pkg.replace("scikit-learn", "sklearn"))
            versions[pkg] = str(getattr(mod, "__version__", "unknown"))
        except ImportError:
            versions[pkg] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "commit": _commit(),
        "device": {
            "name": f"CPU: {cpu}",
            "cpu_count": os.cpu_count(),
            "cuda_available": False,
            "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        },
        "versions": versions,
        "command": command,
    }


def record(
    results: pd.DataFrame, path: str | os.PathLike[str], config: dict[str, Any], wall_seconds: float
) -> dict[str, Any]:
    """Write a grid's results as a recorded-results JSON file and return its content.

    Parameters
    ----------
    results : DataFrame
        From :func:`run_grid`.
    path : path-like
        For the full run, ``glmlib/recorded/experiments/full.json``.
    config : dict
        The grid's arguments (data sets, models, repeats, quick, seed).
    wall_seconds : float
        Wall time of the whole run.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame, got {type(results).__name__}")
    content = {
        "meta": {**machine_meta(), "wall_seconds": float(wall_seconds)},
        "config": config,
        "results": json.loads(results.to_json(orient="records")),
    }
    Path(path).write_text(json.dumps(content, indent=1) + "\n")
    return content


def results_frame(content: dict[str, Any]) -> pd.DataFrame:
    """The tidy results of a recorded run (the inverse of :func:`record`)."""
    if not isinstance(content, dict) or "results" not in content:
        raise ValueError("a recorded experiment run needs a 'results' list")
    return pd.DataFrame(content["results"])


def _timed(fn: Callable[[], pd.DataFrame]) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
