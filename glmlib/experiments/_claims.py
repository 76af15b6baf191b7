"""The research's claims, each with the measurement that tests it and a verdict.

Every claim is a comparison of two model families on named data sets,
measured on the test parts of the repeated splits of :func:`run_grid`. For one
data set the comparison is the mean over repeats of the paired difference
(same split) of a metric, with a t-interval; it is an *improvement* when the
whole interval lies on the claimed side of zero, a *deterioration* when the
whole interval lies on the other side, and *no difference* otherwise.
:func:`verdict` turns the comparisons of a claim into

``"supported"``
    an improvement on every data set the claim names;
``"not supported"``
    an improvement on none of them;
``"mixed"``
    an improvement on some;
``"not measured"``
    no measurement (for example no GPU timing in the recorded results).

A claim with two parts ("more accurate *but* slower") is supported when both
parts are, not supported when neither is, and mixed otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CLAIMS",
    "Claim",
    "claim_comparisons",
    "claims_table",
    "compare",
    "gpu_speedups",
    "verdict",
]

VERDICTS = ("supported", "not supported", "mixed", "not measured")


@dataclass(frozen=True)
class Part:
    """One comparison of a claim: ``model`` against ``baseline`` on ``datasets``.

    ``direction`` is ``"lower"`` when the claim says the model's metric is lower
    (a smaller log-loss; a longer time is ``"higher"`` fit_seconds), and
    ``"not_worse"`` when it claims the model is competitive (the interval
    does not lie wholly on the worse side). Times are compared on the log scale.
    """

    model: str
    baseline: str
    metric: str
    direction: str
    datasets: tuple[str, ...]
    what: str


@dataclass(frozen=True)
class Claim:
    """A claim of the research (section and wording) and its measured parts."""

    key: str
    section: str
    text: str
    parts: tuple[Part, ...]


_TAB = ("pima", "breast_cancer", "nmes1988", "default", "smarket")
_ALL = (*_TAB, "tweets")

#: The claims of the research's sections 6.1.4 and 6.2, as measured here.
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "regularisation",
        "6.1.4",
        "Regularisation (L1, L2, elastic net) improves GLMs under multicollinearity",
        (
            Part(
                "best_regularised",
                "glm",
                "primary",
                "lower",
                ("breast_cancer", "tweets"),
                "test log-loss: the regularised GLM chosen by validation vs the plain GLM, "
                "on the two collinear designs (30 correlated nucleus features; 1000 words)",
            ),
        ),
    ),
    Claim(
        "gam",
        "6.1.4",
        "GAMs are more accurate than GLMs but slower",
        (
            Part("gam", "glm", "primary", "lower", _TAB, "test log-loss/deviance, GAM vs GLM"),
            Part("gam", "glm", "fit_seconds", "higher", _TAB, "training time, GAM vs GLM"),
        ),
    ),
    Claim(
        "bayes",
        "6.1.4",
        "Bayesian GLMs are competitive in accuracy but slower",
        (
            Part(
                "bayes",
                "glm",
                "primary",
                "not_worse",
                _TAB,
                "test log-loss/deviance, Bayesian GLM (NUTS) vs GLM",
            ),
            Part("bayes", "glm", "fit_seconds", "higher", _TAB, "training time, NUTS vs GLM"),
        ),
    ),
    Claim(
        "interactions",
        "6.2",
        "Interaction terms significantly improve market-movement prediction",
        (
            Part(
                "fe_glm",
                "glm",
                "primary",
                "lower",
                ("smarket",),
                "S&P 500 direction: test log-loss, engineered GLM vs GLM",
            ),
            Part(
                "fe_enet",
                "glm",
                "primary",
                "lower",
                ("smarket",),
                "the same with the elastic net on the engineered design",
            ),
        ),
    ),
    Claim(
        "gpu",
        "6.2",
        "GPU acceleration reduces training time",
        (),
    ),
    Claim(
        "feature_engineering",
        "6.1.4",
        "Feature engineering needs regularisation",
        (
            Part(
                "fe_enet",
                "fe_glm",
                "primary",
                "lower",
                _ALL,
                "test log-loss/deviance on the engineered design, elastic net vs none",
            ),
        ),
    ),
)


def _primary(results: pd.DataFrame, dataset: str) -> str:
    task = results.loc[results["dataset"] == dataset, "task"]
    return "log_loss" if (len(task) and task.iloc[0] == "binary") else "deviance"


def _with_best_regularised(results: pd.DataFrame) -> pd.DataFrame:
    """Add rows 'best_regularised': per data set, the penalty chosen on validation."""
    pen = results[results["model"].isin(["lasso", "ridge", "enet"])]
    extra = []
    for _, group in pen.groupby("dataset", sort=False):
        means = group.groupby("model")["val_score"].mean().dropna()
        if means.empty:
            continue
        chosen = group[group["model"] == means.idxmin()].copy()
        chosen["label"] = chosen["model"]
        chosen["model"] = "best_regularised"
        extra.append(chosen)
    return pd.concat([results, *extra], ignore_index=True) if extra else results


def compare(
    results: pd.DataFrame,
    model: str,
    baseline: str,
    dataset: str,
    metric: str,
    level: float = 0.95,
) -> dict[str, Any]:
    """Paired comparison of two models on one data set over the repeated splits.

    Parameters
    ----------
    results : DataFrame
        From :func:`glmlib.experiments.run_grid`.
    model, baseline : str
        Model names (``"best_regularised"``: the penalty chosen on validation).
    dataset : str
    metric : str
        A metric column, ``"primary"`` (log-loss or deviance) or
        ``"fit_seconds"`` (compared as log-ratio).
    level : float, default=0.95

    Returns
    -------
    dict
        ``dataset``, ``metric``, ``model``, ``baseline`` (their means),
        ``diff`` (model minus baseline; for times the ratio), ``lo``, ``hi``
        and ``repeats``; ``repeats`` is 0 (and the rest NaN) without data.
    """
    if metric == "primary":
        metric = _primary(results, dataset)
    if metric not in results.columns:
        raise ValueError(f"results have no column {metric!r}")
    sub = results[results["dataset"] == dataset]
    a = sub[sub["model"] == model].set_index("repeat")[metric]
    b = sub[sub["model"] == baseline].set_index("repeat")[metric]
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    out: dict[str, Any] = {"dataset": dataset, "metric": metric, "repeats": len(joined)}
    nan = float("nan")
    if joined.empty:
        return {**out, "model": nan, "baseline": nan, "diff": nan, "lo": nan, "hi": nan}
    xa, xb = joined["a"].to_numpy(float), joined["b"].to_numpy(float)
    timing = metric == "fit_seconds"
    d = np.log(np.maximum(xa, 1e-9) / np.maximum(xb, 1e-9)) if timing else xa - xb
    r = d.size
    mean = float(d.mean())
    half = float(stats.t.ppf(0.5 + level / 2, r - 1) * d.std(ddof=1) / np.sqrt(r)) if r > 1 else nan
    lo, hi = mean - half, mean + half
    if timing:
        mean, lo, hi = float(np.exp(mean)), float(np.exp(lo)), float(np.exp(hi))
    return {
        **out,
        "model": float(xa.mean()),
        "baseline": float(xb.mean()),
        "diff": mean,
        "lo": lo,
        "hi": hi,
    }


def _outcome(c: dict[str, Any], direction: str) -> str:
    """'better', 'worse' or 'tie' in the claimed direction."""
    if c["repeats"] < 2 or not np.isfinite(c["lo"]):
        return "unmeasured"
    zero = 1.0 if c["metric"] == "fit_seconds" else 0.0
    if direction == "higher":
        return "better" if c["lo"] > zero else ("worse" if c["hi"] < zero else "tie")
    if direction == "lower":
        return "better" if c["hi"] < zero else ("worse" if c["lo"] > zero else "tie")
    if direction == "not_worse":
        return "worse" if c["lo"] > zero else "better"
    raise ValueError(f"direction must be 'lower', 'higher' or 'not_worse', got {direction!r}")


def verdict(outcomes: Sequence[Sequence[str]]) -> str:
    """The verdict of a claim from the outcomes of its parts.

    Parameters
    ----------
    outcomes : sequence of sequences of str
        Per part, per data set: ``"better"`` (an improvement in the claimed
        direction), ``"worse"``, ``"tie"`` or ``"unmeasured"``.

    Returns
    -------
    str
        One of ``"supported"``, ``"not supported"``, ``"mixed"``,
        ``"not measured"`` (see the module docstring).

    Examples
    --------
    >>> verdict([["better", "better"]])
    'supported'
    >>> verdict([["better", "tie"], ["better"]])
    'mixed'
    """
    if isinstance(outcomes, str):
        raise TypeError("outcomes must be a sequence of sequences of outcomes, not a str")
    valid = {"better", "worse", "tie", "unmeasured"}
    parts = []
    for part in outcomes:
        if isinstance(part, str):
            raise TypeError("each part must be a sequence of outcomes, not a str")
        part = list(part)
        bad = set(part) - valid
        if bad:
            raise ValueError(f"unknown outcomes {sorted(bad)}; valid: {sorted(valid)}")
        measured = [o for o in part if o != "unmeasured"]
        if not measured:
            parts.append("not measured")
        elif all(o == "better" for o in measured):
            parts.append("supported")
        elif not any(o == "better" for o in measured):
            parts.append("not supported")
        else:
            parts.append("mixed")
    measured_parts = [p for p in parts if p != "not measured"]
    if not measured_parts:
        return "not measured"
    if all(p == "supported" for p in measured_parts):
        return "supported"
    if all(p == "not supported" for p in measured_parts):
        return "not supported"
    return "mixed"


def gpu_speedups(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CPU-vs-GPU training times found in recorded GPU results.

    A block of a record counts when it holds both a GPU ``fit_seconds`` and
    a ``glmlib_cpu_seconds`` of the same fit (``make gpu-check``'s engine
    benchmark writes them).

    Parameters
    ----------
    records : mapping
        Topic -> content of :func:`glmlib.recorded.load`.

    Returns
    -------
    list of dict
        ``topic``, ``block``, ``n``, ``p``, ``gpu_seconds``, ``cpu_seconds``,
        ``speedup``, ``device`` and ``caption``.
    """
    from .. import recorded

    found = []
    for topic, record in records.items():
        if not isinstance(record, Mapping):
            raise TypeError(f"record {topic!r} must be a mapping")
        for block, value in record.items():
            if not isinstance(value, Mapping):
                continue
            gpu, cpu = value.get("fit_seconds"), value.get("glmlib_cpu_seconds")
            if isinstance(gpu, int | float) and isinstance(cpu, int | float) and gpu > 0:
                found.append(
                    {
                        "topic": topic,
                        "block": block,
                        "n": value.get("n"),
                        "p": value.get("p"),
                        "gpu_seconds": float(gpu),
                        "cpu_seconds": float(cpu),
                        "speedup": float(cpu) / float(gpu),
                        "device": str(value.get("device_name", "")),
                        "caption": recorded.caption(dict(record)),
                    }
                )
    return found


def _fmt(c: dict[str, Any]) -> str:
    if c["repeats"] < 1 or not np.isfinite(c["diff"]):
        return f"{c['dataset']}: no data"
    if c["metric"] == "fit_seconds":
        return f"{c['dataset']}: time ratio {c['diff']:.2g} [{c['lo']:.2g}, {c['hi']:.2g}]"
    return f"{c['dataset']}: {c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}]"


def claim_comparisons(results: pd.DataFrame) -> pd.DataFrame:
    """Every comparison behind the claims, one row per claim, part and data set.

    Parameters
    ----------
    results : DataFrame
        The tidy results of :func:`glmlib.experiments.run_grid`.

    Returns
    -------
    DataFrame
        ``claim``, ``part`` (index into the claim's parts), ``what``,
        ``direction``, ``model`` and ``baseline`` (the names compared), their
        means ``model_mean`` and ``baseline_mean``, and the other keys of
        :func:`compare` (``dataset``, ``metric``, ``repeats``, ``diff``,
        ``lo``, ``hi``),
        ``relative`` (the change relative to the baseline's mean: ``diff /
        baseline`` for a metric, ``ratio - 1`` for times, with ``relative_lo``
        and ``relative_hi``) and ``outcome`` (``"better"``, ``"worse"``,
        ``"tie"`` or ``"unmeasured"`` in the claimed direction). A part whose
        data sets are all absent gives one unmeasured row. The GPU claim,
        measured from recorded GPU results, has no rows here.
    """
    need = {"dataset", "model", "repeat", "task", "val_score", "fit_seconds"}
    if not isinstance(results, pd.DataFrame) or not need <= set(results.columns):
        raise ValueError(f"results must be a DataFrame from run_grid with columns {sorted(need)}")
    data = _with_best_regularised(results)
    present_sets = set(data["dataset"])
    rows = []
    for claim in CLAIMS:
        for index, part in enumerate(claim.parts):
            present = [d for d in part.datasets if d in present_sets] or [part.datasets[0]]
            for dataset in present:
                c = compare(data, part.model, part.baseline, dataset, part.metric)
                if c["metric"] == "fit_seconds":
                    rel = [c["diff"] - 1.0, c["lo"] - 1.0, c["hi"] - 1.0]
                else:
                    base = abs(c["baseline"]) if np.isfinite(c["baseline"]) else float("nan")
                    rel = [
                        v / base if base > 0 else float("nan")
                        for v in (c["diff"], c["lo"], c["hi"])
                    ]
                rows.append(
                    {
                        "claim": claim.key,
                        "part": index,
                        "what": part.what,
                        "direction": part.direction,
                        **c,
                        "model": part.model,
                        "baseline": part.baseline,
                        "model_mean": c["model"],
                        "baseline_mean": c["baseline"],
                        "relative": rel[0],
                        "relative_lo": rel[1],
                        "relative_hi": rel[2],
                        "outcome": _outcome(c, part.direction),
                    }
                )
    return pd.DataFrame(rows)


def claims_table(
    results: pd.DataFrame, gpu_records: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The claims table: each claim, its measurement, the numbers and the verdict.

    Parameters
    ----------
    results : DataFrame
        The tidy results of :func:`glmlib.experiments.run_grid` (for the
        book, those of the recorded full run).
    gpu_records : mapping, optional
        Topic -> recorded GPU results; default: every ``gpu/*`` topic of
        :mod:`glmlib.recorded`.

    Returns
    -------
    DataFrame
        ``claim`` (key), ``section``, ``statement``, ``measurement``,
        ``numbers`` (per data set: model minus baseline with its 95 %
        t-interval over the repeats; for times the ratio) and ``verdict``.
    """
    comparisons = claim_comparisons(results)  # checks results
    if gpu_records is None:
        from .. import recorded

        gpu_records = {t: recorded.load(t) for t in recorded.topics() if t.startswith("gpu/")}
    rows = []
    for claim in CLAIMS:
        if claim.key == "gpu":
            speed = gpu_speedups(gpu_records)
            if speed:
                numbers = "; ".join(
                    f"{s['n']:,} x {s['p']} {s['block']}: CPU {s['cpu_seconds']:.3g} s, "
                    f"GPU {s['gpu_seconds']:.3g} s, {s['speedup']:.3g}x ({s['caption']})"
                    for s in speed
                )
                outcome = [["better" if s["speedup"] > 1 else "worse" for s in speed]]
            else:
                numbers, outcome = "no CPU-vs-GPU training time recorded", [["unmeasured"]]
            rows.append(
                {
                    "claim": claim.key,
                    "section": claim.section,
                    "statement": claim.text,
                    "measurement": "recorded GPU results (make gpu-check): glmlib's fit of the "
                    "same problem on the GPU and on the CPU; the grid's small data sets were "
                    "not timed on a GPU",
                    "numbers": numbers,
                    "verdict": verdict(outcome),
                }
            )
            continue
        comps = comparisons[comparisons["claim"] == claim.key]
        parts = list(comps.groupby("part", sort=True))
        rows.append(
            {
                "claim": claim.key,
                "section": claim.section,
                "statement": claim.text,
                "measurement": " | ".join(claim.parts[i].what for i, _ in parts),
                "numbers": " | ".join(
                    "; ".join(_fmt(c) for c in part.to_dict("records")) for _, part in parts
                ),
                "verdict": verdict([part["outcome"].tolist() for _, part in parts]),
            }
        )
    return pd.DataFrame(rows)
