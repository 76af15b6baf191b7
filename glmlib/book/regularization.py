"""Chapter 2's helpers (Regularization): designs, scores, timings, searches and figures.

What the chapter computes but need not show line by line: the designs built
from its data sets, the scores of held-out predictions, cross-validated
scores at a fixed penalty, the sparse timing problems, three strategies for
searching (alpha, l1_ratio), and the chapter's multi-panel figures. Every
function takes what it needs as arguments (no chapter globals), so each is
tested on its own in ``tests/test_book_regularization.py``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "best_time",
    "bootstrap_coefficients",
    "choices_table",
    "classification_metrics",
    "count_metrics",
    "credit_design",
    "entered_and_left",
    "fold_scores",
    "fold_summary",
    "grid_search",
    "hashed_design",
    "interaction_design",
    "neg_binomial_deviance",
    "plot_bootstrap",
    "plot_cv_curves",
    "plot_fold_scores",
    "plot_paths",
    "plot_search",
    "plot_sparse_timing",
    "random_search",
    "rank_correlation",
    "sklearn_logistic",
    "standardize",
    "time_per_iteration",
    "tpe_search",
]

Trial = tuple[float, float, float]  # (log10 alpha, l1_ratio, CV deviance)


# ---------------------------------------------------------------- designs
def standardize(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Centre and scale both frames with the **training** mean and standard deviation."""
    mean, sd = train.mean(), train.std()
    return (train - mean) / sd, (test - mean) / sd


def credit_design(default: pd.DataFrame) -> pd.DataFrame:
    """The Default data's flexible, strongly correlated design (12 columns).

    balance (USD 1,000), income (USD 10,000) and student (0/1); the squares
    and cubes of balance and income; balance x income; and balance, income
    and their squares times student.
    """
    balance, income = default["balance"] / 1000, default["income"] / 10_000
    student = (default["student"] == "Yes").astype(float)
    X = pd.DataFrame({"balance": balance, "income": income, "student": student})
    for power in (2, 3):
        X[f"balance^{power}"], X[f"income^{power}"] = balance**power, income**power
    X["balance:income"] = balance * income
    for term in ["balance", "income", "balance^2", "income^2"]:
        X[f"{term}:student"] = X[term] * student
    return X


def interaction_design(frame: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Treatment dummies of ``factors`` (first level dropped) and all their two-way products."""
    main = pd.get_dummies(frame[list(factors)].astype(str), drop_first=True, dtype=float)
    design = main.copy()
    for i, a in enumerate(factors):
        for b in factors[i + 1 :]:
            for ca in [c for c in main if c.startswith(a)]:
                for cb in [c for c in main if c.startswith(b)]:
                    design[f"{ca}:{cb}"] = main[ca] * main[cb]
    return design


def hashed_design(
    n: int, p: int, density: float, rng: np.random.Generator
) -> tuple[Any, np.ndarray]:
    """A binary CSR design with about ``density * n * p`` non-zeros and a logistic outcome.

    1 % of the columns (``p // 100``) carry N(0, 1) effects; the intercept is -1.
    """
    import scipy.sparse as sp

    X = sp.random(n, p, density=density, format="csr", random_state=rng, data_rvs=np.ones)
    beta = np.zeros(p)
    informative = rng.choice(p, p // 100, replace=False)
    beta[informative] = rng.normal(0, 1, informative.size)
    y = rng.binomial(1, 1 / (1 + np.exp(-(X @ beta - 1.0)))).astype(float)
    return X, y


# ---------------------------------------------------------------- paths and scores
def entered_and_left(path: np.ndarray, columns: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Of ``columns``: which are non-zero somewhere on a path (rows: strong to weak penalty),
    and which of those return to zero after they first enter."""
    active = np.asarray(path)[:, list(columns)] != 0
    entered = active.any(axis=0)
    first = np.argmax(active, axis=0)
    left = [bool(entered[k] and not active[first[k] :, k].all()) for k in range(len(columns))]
    return entered, np.array(left, dtype=bool)


def choices_table(fits: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """``alpha_`` and ``alpha_1se_`` of fitted GLMCVs, with their non-zeros and CV deviance.

    ``fits`` maps a data set to ``{penalty: fitted GLMCV}``; one row per pair,
    and a column saying whether ``alpha_`` is at either end of the grid.
    """
    rows = []
    for data, by_penalty in fits.items():
        for name, model in by_penalty.items():
            mean = model.cv_deviance_.mean(axis=0)
            row: dict[str, Any] = {"data": data, "penalty": name}
            for label, alpha in [("min", model.alpha_), ("1se", model.alpha_1se_)]:
                k = int(np.argmin(np.abs(model.alphas_ - alpha)))
                row[f"alpha_{label}"] = alpha
                row[f"non-zero ({label})"] = np.count_nonzero(model.coef_path_[k])
                row[f"CV deviance ({label})"] = mean[k]
            row["alpha_ at grid end"] = model.alpha_ in (model.alphas_[0], model.alphas_[-1])
            rows.append(row)
    return pd.DataFrame(rows).set_index(["data", "penalty"])


def classification_metrics(y: np.ndarray, mu: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of ``mu > 1/2``; log loss and ROC AUC of ``mu``."""
    from sklearn import metrics

    label = (np.asarray(mu) > 0.5).astype(float)
    return {
        "accuracy": metrics.accuracy_score(y, label),
        "precision": metrics.precision_score(y, label, zero_division=0),
        "recall": metrics.recall_score(y, label, zero_division=0),
        "F1": metrics.f1_score(y, label, zero_division=0),
        "log loss": metrics.log_loss(y, np.clip(mu, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "ROC AUC": metrics.roc_auc_score(y, mu),
    }


def count_metrics(y: np.ndarray, mu: np.ndarray) -> dict[str, float]:
    """Mean squared error, R² and mean Poisson deviance of predicted counts ``mu``."""
    from sklearn import metrics

    return {
        "MSE": metrics.mean_squared_error(y, mu),
        "R2": metrics.r2_score(y, mu),
        "Poisson deviance": metrics.mean_poisson_deviance(y, mu),
    }


def fold_scores(
    X: pd.DataFrame,
    y: np.ndarray,
    offset: np.ndarray | None,
    family: str,
    alpha: float,
    l1_ratio: float,
    *,
    n_folds: int,
    seed: int,
    device: str = "cpu",
) -> pd.DataFrame:
    """Held-out scores of ``GLM(alpha, l1_ratio)`` on each of ``n_folds`` shuffled folds.

    Binomial outcomes get stratified folds and :func:`classification_metrics`,
    others plain folds and :func:`count_metrics`; one row per fold.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    import glmlib

    binomial = family == "binomial"
    split = (StratifiedKFold if binomial else KFold)(n_folds, shuffle=True, random_state=seed)
    metrics = classification_metrics if binomial else count_metrics
    out = []
    for train, held in split.split(X, y):
        model = glmlib.GLM(family=family, alpha=alpha, l1_ratio=l1_ratio, device=device)
        o_train, o_held = (None, None) if offset is None else (offset[train], offset[held])
        model.fit(X.iloc[train], y[train], offset=o_train)
        mu = np.asarray(model.predict(X.iloc[held], offset=o_held), dtype=float)
        out.append(metrics(y[held], mu))
    return pd.DataFrame(out)


def fold_summary(
    folds: Mapping[tuple[str, str], pd.DataFrame], data_sets: Sequence[str], metrics: Sequence[str]
) -> pd.DataFrame:
    """Mean and SD over folds of each metric, one row per (data set, model) of ``data_sets``."""
    table = {
        key: {f"{m} {s}": getattr(f[m], s)() for m in metrics for s in ("mean", "std")}
        for key, f in folds.items()
        if key[0] in data_sets
    }
    return pd.DataFrame(table).T.rename_axis(["data", "model"])


def neg_binomial_deviance(estimator: Any, X: Any, y: Any) -> float:
    """Minus the mean binomial deviance per observation of ``estimator.predict(X)``: a
    scikit-learn scorer (scorers are maximised)."""
    from glmlib.families import Binomial

    mu = np.asarray(estimator.predict(X), dtype=float)
    y = np.asarray(y, dtype=float)
    return -float(Binomial().deviance(y, mu, np.ones(len(y)))) / len(y)


def bootstrap_coefficients(
    X: pd.DataFrame,
    y: np.ndarray,
    alphas: Mapping[str, float],
    n_boot: int,
    rng: np.random.Generator,
    record: Callable[[str], Any],
    device: str = "cpu",
) -> dict[str, pd.DataFrame]:
    """Logistic coefficients at each named ``alpha`` on ``n_boot`` bootstrap resamples of the rows.

    All penalties are fitted on the same resamples; each fit runs inside
    ``record(f"bootstrap {name}")`` (a :class:`glmlib.book.WarningLog` recorder).
    """
    import glmlib

    coefs: dict[str, list[np.ndarray]] = {name: [] for name in alphas}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        for name, alpha in alphas.items():
            with record(f"bootstrap {name}"):
                model = glmlib.GLM("binomial", alpha=alpha, device=device)
                coefs[name].append(model.fit(X.iloc[idx], y[idx]).coef_)
    return {name: pd.DataFrame(np.array(c), columns=X.columns) for name, c in coefs.items()}


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two sequences (average ranks for ties)."""
    return float(np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1])


# ---------------------------------------------------------------- timings
def sklearn_logistic(l1_ratio: float, C: float, **kwargs: Any) -> Any:
    """scikit-learn's pure L1 (``l1_ratio=1``) or L2 (``l1_ratio=0``) ``LogisticRegression``.

    scikit-learn 1.8 deprecated ``penalty`` for ``l1_ratio``; this builds the
    same model with either version.
    """
    from sklearn.linear_model import LogisticRegression

    if LogisticRegression().get_params()["penalty"] == "deprecated":  # scikit-learn >= 1.8
        return LogisticRegression(C=C, l1_ratio=l1_ratio, **kwargs)
    return LogisticRegression(C=C, penalty="l1" if l1_ratio == 1 else "l2", **kwargs)


def best_time(make: Callable[[], Any], X: Any, y: Any, repeats: int) -> tuple[Any, float]:
    """The last fitted ``make()`` and the best wall-clock fit time (s) over ``repeats`` fits."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        model = make()
        tic = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - tic)
    return model, min(times)


def time_per_iteration(
    X: Any, y: np.ndarray, repeats: int, device: str = "cpu"
) -> tuple[float, int]:
    """Best seconds per iteration of a logistic ridge fit (alpha 1e-3, L-BFGS), and its iterations."""
    import glmlib

    best, n_iter = np.inf, 0
    for _ in range(repeats):
        model = glmlib.GLM("binomial", alpha=1e-3, solver="lbfgs", device=device)
        with warnings.catch_warnings():  # all-zero hashed columns are expected at low density
            warnings.filterwarnings("ignore", message="columns .* are constant")
            tic = time.perf_counter()
            model.fit(X, y)
            elapsed = time.perf_counter() - tic
        n_iter = int(model.n_iter_)
        best = min(best, elapsed / n_iter)
    return float(best), n_iter


# ---------------------------------------------------------------- searches
Evaluate = Callable[[float, float], float]  # (log10 alpha, l1_ratio) -> CV deviance


def grid_search(evaluate: Evaluate, n_trials: int, seed: int) -> list[Trial]:
    """A log10(alpha) x l1_ratio grid on [-4, 0] x [0, 1] (5 ratios from 25 trials, else 3),
    evaluated in a random order; about ``n_trials`` evaluations."""
    n_rho = 5 if n_trials >= 25 else 3
    grid = [(a, r) for a in np.linspace(-4, 0, n_trials // n_rho) for r in np.linspace(0, 1, n_rho)]
    order = np.random.default_rng(seed).permutation(len(grid))
    return [(*grid[i], evaluate(*grid[i])) for i in order]


def random_search(evaluate: Evaluate, n_trials: int, seed: int) -> list[Trial]:
    """``n_trials`` independent draws, log10(alpha) uniform on [-4, 0], l1_ratio on [0, 1]."""
    draws = np.random.default_rng(seed).uniform([-4, 0], [0, 1], size=(n_trials, 2))
    return [(float(a), float(r), evaluate(a, r)) for a, r in draws]


def tpe_search(evaluate: Evaluate, n_trials: int, seed: int) -> list[Trial]:
    """optuna's TPE sampler over the same box as :func:`random_search`, ``n_trials`` trials."""
    import optuna

    def objective(trial: Any) -> float:
        a = trial.suggest_float("log10_alpha", -4, 0)
        return evaluate(a, trial.suggest_float("l1_ratio", 0, 1))

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    return [  # a failed trial has no value
        (t.params["log10_alpha"], t.params["l1_ratio"], float(v))
        for t in study.trials
        if (v := t.value) is not None
    ]


# ---------------------------------------------------------------- figures
def _mark_choices(ax: Any, model: Any) -> None:
    """Vertical lines at a GLMCV's ``alpha_`` and ``alpha_1se_``."""
    ax.axvline(model.alpha_, color="k", ls="--", lw=1, label=r"$\alpha_{\min}$ (alpha_)")
    ax.axvline(model.alpha_1se_, color="k", ls=":", lw=1, label=r"$\alpha_{1se}$ (alpha_1se_)")


def plot_paths(fits: Mapping[str, Any], columns: Sequence[str]) -> Any:
    """Coefficient paths of fitted GLMCVs side by side, strong penalties on the left."""
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab20")  # 20 distinct colours, by integer index
    fig, axes = plt.subplots(1, len(fits), figsize=(14, 4.2), squeeze=False)
    for ax, (name, model) in zip(axes[0], fits.items(), strict=True):
        for j, column in enumerate(columns):
            style = "-" if j < 6 else "--"
            ax.plot(
                model.alphas_, model.coef_path_[:, j], style, color=colors(j % 20), label=column
            )
        _mark_choices(ax, model)
        ax.set(xscale="log", xlabel=r"penalty $\alpha$ (log scale)", title=name)
        ax.invert_xaxis()
    axes[0, 0].set_ylabel("coefficient (per SD of the feature)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    return fig


def plot_cv_curves(fits: Mapping[str, Any]) -> Any:
    """Per fitted GLMCV: mean CV deviance ± 1 SE (top) and non-zero coefficients (bottom)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        2, len(fits), figsize=(13, 6.5), sharex="col", height_ratios=[2, 1], squeeze=False
    )
    for k, (name, model) in enumerate(fits.items()):
        dev = model.cv_deviance_
        se = dev.std(axis=0, ddof=1) / np.sqrt(dev.shape[0])
        axes[0, k].errorbar(model.alphas_, dev.mean(axis=0), yerr=se, fmt="o-", ms=3, capsize=2)
        axes[0, k].set(title=name, ylabel="held-out deviance per observation")
        nonzero = np.count_nonzero(model.coef_path_, axis=1)
        axes[1, k].step(model.alphas_, nonzero, where="mid", color="C2")
        axes[1, k].set(xscale="log", xlabel=r"penalty $\alpha$", ylabel="non-zero coefficients")
        axes[1, k].invert_xaxis()  # shared with the CV curve above: strong penalties on the left
        for ax in axes[:, k]:
            _mark_choices(ax, model)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bootstrap(boot: Mapping[str, pd.DataFrame], colors: Sequence[str] = ("C3", "C0")) -> Any:
    """Side-by-side boxes of each method's bootstrap coefficients, one group per feature."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    features = list(next(iter(boot.values())).columns)
    pos, width = np.arange(len(features)), 0.6 / len(boot)
    for k, ((name, coefs), color) in enumerate(zip(boot.items(), colors, strict=True)):
        shift = (k - (len(boot) - 1) / 2) * width
        parts = ax.boxplot(
            coefs.to_numpy(), positions=pos + shift, widths=width * 0.85, patch_artist=True,
            showfliers=False,
        )  # fmt: skip
        for box in parts["boxes"]:
            box.set(facecolor=color, alpha=0.5)
        ax.plot([], [], "s", color=color, alpha=0.5, label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(pos, [f.removeprefix("mean_") for f in features])
    ax.set(ylabel="coefficient (per SD of the feature)", xlabel="feature")
    ax.legend()
    return fig


def plot_search(searches: Mapping[str, Sequence[Sequence[Trial]]]) -> Any:
    """Left: best value so far per evaluation (median over runs, min-max band); right: the
    points each method's first run evaluated, coloured by value."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    overall = min(t[2] for runs in searches.values() for run in runs for t in run)
    sc = None
    for k, (method, runs) in enumerate(searches.items()):
        curves = np.array([np.minimum.accumulate([t[2] for t in run]) for run in runs])
        steps = np.arange(1, curves.shape[1] + 1)
        axes[0].plot(steps, np.median(curves, axis=0), color=f"C{k}", label=method)
        axes[0].fill_between(steps, curves.min(0), curves.max(0), color=f"C{k}", alpha=0.2)
        pts = np.array(runs[0])
        sc = axes[1].scatter(
            pts[:, 0], pts[:, 1], c=pts[:, 2], marker="os^v"[k % 4], cmap="viridis_r",
            vmin=overall, vmax=np.quantile(pts[:, 2], 0.9), label=method, alpha=0.8,
        )  # fmt: skip
    axes[0].set(
        xlabel="number of CV evaluations",
        ylabel="best CV deviance so far (per tumour)",
        title="Best CV deviance reached",
    )
    axes[1].set(
        xlabel=r"$\log_{10}\alpha$",
        ylabel=r"l1_ratio $\rho$",
        title="Points evaluated (first seed)",
    )
    assert sc is not None, "no search results to plot"
    fig.colorbar(sc, ax=axes[1], label="CV deviance (per tumour)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_fold_scores(
    panels: Mapping[str, Mapping[str, np.ndarray]],
    ylabels: Sequence[str],
    rng: np.random.Generator,
    off_scale: float = 20.0,
) -> Any:
    """One panel per data set: each model's fold scores (jittered points) and mean ± 1 SD.

    ``panels`` maps a title to ``{model: fold scores}``. A model whose mean is
    more than ``off_scale`` times the panel's best mean is left off the panel
    and named in its title.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(13, 4), squeeze=False)
    for ax, (title, scores), ylabel in zip(axes[0], panels.items(), ylabels, strict=True):
        means = {m: float(np.mean(v)) for m, v in scores.items()}
        names = [m for m, v in means.items() if v <= off_scale * min(means.values())]
        for i, name in enumerate(names):
            values = np.asarray(scores[name], dtype=float)
            jitter = rng.uniform(-0.08, 0.08, values.size)
            ax.plot(np.full(values.size, i) + jitter, values, "o", alpha=0.5)
            ax.errorbar(i + 0.25, values.mean(), yerr=values.std(ddof=1), fmt="ks", capsize=4)
        ax.set_xticks(range(len(names)), names, rotation=15)
        left_off = [m for m in means if m not in names]
        note = f"\n(off scale: {', '.join(left_off)})" if left_off else ""
        ax.set(ylabel=ylabel, title=title + note)
    fig.tight_layout()
    return fig


def plot_sparse_timing(timing: pd.DataFrame, labels: Mapping[str, str]) -> Any:
    """Time per iteration against nnz (left) and against n x p (right), one series per label.

    ``timing`` has columns ``series``, ``nnz``, ``n*p`` and ``ms per iteration``;
    ``labels`` maps each series to its legend entry.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for (series, label), marker in zip(labels.items(), "os^v", strict=False):
        part = timing[timing["series"] == series]
        axes[0].plot(part["nnz"], part["ms per iteration"], marker + "-", label=label)
        axes[1].plot(part["n*p"], part["ms per iteration"], marker, label=label)
    axes[0].set(xscale="log", xlabel="stored non-zeros (nnz, log scale)")
    axes[0].set(ylabel="time per iteration (ms)", title="against the number of non-zeros")
    axes[1].set(xscale="log", xlabel="n × p (log scale)", title="against the dense size n × p")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
