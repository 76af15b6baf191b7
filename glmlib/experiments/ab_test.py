"""The assignment's A/B test of e-mail templates as a binomial GLM.

The question: five e-mail templates A to E were each sent to a number of
recipients and their click-through rates observed; which templates differ
from A (the current one) "with 95% confidence", and how many sends would a
conclusive test need?

The model is a binomial GLM with one factor, the template, coded with A as
the reference level:

.. math::

    \\operatorname{logit} p_t = \\beta_0 + \\beta_t, \\qquad \\beta_A = 0,

so :math:`\\beta_t` is the log odds ratio of template :math:`t` against A.
With one factor the model is saturated (it reproduces every template's
observed rate), and each contrast's Wald test is the classical two-sample
test on the log-odds scale.

Functions
---------
:func:`ab_data`
    The counts as a validated table (the illustrative default data below).
:func:`fit_ab`
    The binomial GLM (:class:`glmlib.GLM`) with the template factor.
:func:`wald_comparisons`, :func:`lr_comparisons`, :func:`bayes_comparisons`
    Each template against the reference: Wald z-tests and intervals;
    likelihood-ratio tests (nested fits) and profile-likelihood intervals;
    Beta-binomial posteriors and P(rate_t > rate_A).
:func:`adjust_pvalues`
    Bonferroni and Holm adjustments for the multiple comparisons.
:func:`familywise_error`
    The family-wise error rate under the null, by simulation, for comparisons
    sharing one control and for independent experiments.
:func:`sample_size`, :func:`sample_sizes`
    Sends per arm for a given power (two-proportion normal approximation).

The default counts, :data:`ILLUSTRATIVE_CLICKS` out of
:data:`ILLUSTRATIVE_SENDS` per template, are illustrative data for the
assignment's question, not measurements: the assignment gives rates without
counts, and the conclusions depend on the counts.

References
----------
Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, sections 1.4
and 3.2 (Wald, likelihood-ratio and profile-likelihood intervals).
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
*Scandinavian Journal of Statistics* 6, 65-70.
Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for
Rates and Proportions*, 3rd ed., Wiley, section 4.2 (sample size for two
proportions).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..glm import GLM

__all__ = [
    "ILLUSTRATIVE_CLICKS",
    "ILLUSTRATIVE_SENDS",
    "ab_data",
    "adjust_pvalues",
    "bayes_comparisons",
    "familywise_error",
    "fit_ab",
    "lr_comparisons",
    "sample_size",
    "sample_sizes",
    "wald_comparisons",
]

#: Illustrative clicks per template (the assignment's question, invented counts):
#: rates of 3.2%, 3.9%, 2.9%, 4.7% and 5.1% out of 1,000 sends each.
ILLUSTRATIVE_CLICKS: Mapping[str, int] = {"A": 32, "B": 39, "C": 29, "D": 47, "E": 51}
#: Illustrative sends per template.
ILLUSTRATIVE_SENDS: int = 1000

_METHODS = ("bonferroni", "holm")
_DESIGNS = ("shared", "independent")


# ------------------------------------------------------------------ the data
def ab_data(
    clicks: Mapping[str, int] | Sequence[int] | None = None,
    sends: Mapping[str, int] | Sequence[int] | int | None = None,
    templates: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The A/B test's counts as a table: template, sends, clicks, rate.

    Parameters
    ----------
    clicks : mapping of template to int, or sequence of int, optional
        Clicks per template; default :data:`ILLUSTRATIVE_CLICKS`.
    sends : mapping, sequence or int, optional
        Sends per template (one int: the same for all); default
        :data:`ILLUSTRATIVE_SENDS`.
    templates : sequence of str, optional
        Template names when ``clicks`` is a sequence (default "A", "B", ...).
        The first template is the reference of every comparison.

    Returns
    -------
    DataFrame
        One row per template, in the given order.

    Raises
    ------
    ValueError
        For fewer than two templates, negative or non-integer counts, zero
        sends, clicks above sends, or mismatched lengths.
    """
    if clicks is None:
        clicks = dict(ILLUSTRATIVE_CLICKS)
    if sends is None:
        sends = ILLUSTRATIVE_SENDS
    if isinstance(clicks, Mapping):
        if templates is not None:
            raise ValueError("give templates only when clicks is a sequence")
        names = [str(k) for k in clicks]
        click_values = list(clicks.values())
    else:
        click_values = list(clicks)
        names = (
            [str(t) for t in templates]
            if templates is not None
            else [chr(ord("A") + i) for i in range(len(click_values))]
        )
    if len(names) != len(click_values):
        raise ValueError(f"{len(names)} template names for {len(click_values)} click counts")
    if len(set(names)) != len(names):
        raise ValueError(f"template names must be unique, got {names}")
    if isinstance(sends, Mapping):
        if set(sends) != set(names):
            raise ValueError("sends must have the same templates as clicks")
        send_values = [sends[t] for t in names]
    elif isinstance(sends, numbers.Integral):
        send_values = [int(sends)] * len(names)
    elif isinstance(sends, Sequence | np.ndarray | pd.Series):
        send_values = list(sends)
    else:
        raise ValueError(f"sends must be an int, a sequence or a mapping, got {sends!r}")
    if len(send_values) != len(names):
        raise ValueError(f"{len(send_values)} send counts for {len(names)} templates")
    if len(names) < 2:
        raise ValueError("an A/B test needs at least two templates")
    c = _counts("clicks", click_values, low=0)
    n = _counts("sends", send_values, low=1)
    if np.any(c > n):
        bad = [t for t, ci, ni in zip(names, c, n, strict=True) if ci > ni]
        raise ValueError(f"clicks exceed sends for template(s) {bad}")
    return pd.DataFrame({"template": names, "sends": n, "clicks": c, "rate": c / n})


def _counts(name: str, values: Sequence[Any], low: int) -> np.ndarray:
    out = []
    for v in values:
        x = float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else math.nan
        if not math.isfinite(x) or x != math.floor(x):
            raise ValueError(f"{name} must be whole numbers, got {v!r}")
        if x < low:
            raise ValueError(f"{name} must be >= {low}, got {v!r}")
        out.append(int(x))
    return np.asarray(out, dtype=np.int64)


def _check_data(data: pd.DataFrame, interior: bool = True) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame) or not {"template", "sends", "clicks"} <= set(data):
        raise TypeError("data must be the DataFrame that ab_data returns")
    checked = ab_data(list(data["clicks"]), list(data["sends"]), templates=list(data["template"]))
    if interior and np.any((checked.clicks == 0) | (checked.clicks == checked.sends)):
        raise ValueError(
            "a template with no clicks (or clicks on every send) has an infinite log-odds: "
            "the GLM's Wald and likelihood-ratio inference do not exist; use bayes_comparisons"
        )
    return checked


def _design(data: pd.DataFrame) -> pd.DataFrame:
    """Treatment-coded indicators of every template but the first."""
    names = list(data["template"])
    return pd.DataFrame(
        {f"template[{t}]": (data["template"] == t).astype(float).to_numpy() for t in names[1:]}
    )


# ------------------------------------------------------------------ the GLM
def fit_ab(data: pd.DataFrame, tol: float = 1e-12) -> GLM:
    """Fit the binomial GLM logit(rate) ~ template, the first template as reference.

    Each template is one row with response clicks / sends and weight sends
    (R's ``glm(cbind(clicks, sends - clicks) ~ template, binomial)``).

    Returns
    -------
    GLM
        Fitted; ``summary()`` has the intercept (log-odds of the reference)
        and one ``template[t]`` log odds ratio per other template.
    """
    data = _check_data(data)
    return _fit(_design(data), data, tol=tol)


def _fit(X: pd.DataFrame, data: pd.DataFrame, offset: Any = None, tol: float = 1e-12) -> GLM:
    y = (data["clicks"] / data["sends"]).to_numpy()
    w = data["sends"].to_numpy(dtype=float)
    if X.shape[1] == 0:  # intercept only: a column of ones without a separate intercept
        ones = np.ones((len(data), 1))
        model = GLM(family="binomial", fit_intercept=False, tol=tol, max_iter=200)
        return model.fit(ones, y, sample_weight=w, offset=offset)
    return GLM(family="binomial", tol=tol, max_iter=200).fit(X, y, sample_weight=w, offset=offset)


def wald_comparisons(data: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Wald z-tests and intervals of each template against the reference.

    Returns
    -------
    DataFrame
        Indexed by template (the reference left out): ``log_or`` (log odds
        ratio), ``std_err``, ``z``, ``p_value``, ``ci_low``/``ci_high`` (log odds
        ratio) and the odds ratio with its interval (``or``, ``or_low``,
        ``or_high``).

    Examples
    --------
    >>> from glmlib.experiments.ab_test import ab_data, wald_comparisons
    >>> wald_comparisons(ab_data())["p_value"].round(3).to_dict()
    {'B': 0.398, 'C': 0.697, 'D': 0.087, 'E': 0.035}
    """
    _check_level(level)
    data = _check_data(data)
    table = fit_ab(data).summary(level=level).iloc[1:]
    out = pd.DataFrame(
        {
            "log_or": table["coef"].to_numpy(),
            "std_err": table["std_err"].to_numpy(),
            "z": table["z"].to_numpy(),
            "p_value": table["p_value"].to_numpy(),
            "ci_low": table["ci_low"].to_numpy(),
            "ci_high": table["ci_high"].to_numpy(),
        },
        index=pd.Index(list(data["template"])[1:], name="template"),
    )
    out["or"] = np.exp(out["log_or"])
    out["or_low"] = np.exp(out["ci_low"])
    out["or_high"] = np.exp(out["ci_high"])
    return out


def lr_comparisons(data: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Likelihood-ratio tests and profile-likelihood intervals against the reference.

    The test of template t drops its indicator from the GLM (t and the
    reference then share one rate) and compares the deviances:
    :math:`D_{-t} - D` is chi-squared with one degree of freedom under the
    null. The interval of the log odds ratio :math:`\\beta_t` is the set of
    values b whose fit with :math:`\\beta_t = b` held fixed (an offset) has
    deviance within the chi-squared quantile of the full fit's. A last row,
    ``"all"``, tests that every template has the reference's rate (the
    intercept-only model, k - 1 degrees of freedom; no interval).

    Returns
    -------
    DataFrame
        Indexed by template: ``lr_stat``, ``df``, ``p_value``, ``ci_low``,
        ``ci_high`` (log odds ratio).
    """
    _check_level(level)
    data = _check_data(data)
    X = _design(data)
    full = _fit(X, data)
    q = stats.chi2.ppf(level, 1)
    rows = []
    for col in X.columns:
        reduced = _fit(X.drop(columns=col), data)
        stat = max(reduced.deviance_ - full.deviance_, 0.0)
        beta = float(full.coef_[list(X.columns).index(col)])
        se = float(np.sqrt(full.covariance().loc[col, col]))

        def excess(b: float, col: str = col) -> float:
            fit = _fit(X.drop(columns=col), data, offset=b * X[col].to_numpy())
            return fit.deviance_ - full.deviance_ - q

        lo = _root(excess, beta, -se)
        hi = _root(excess, beta, se)
        rows.append((stat, 1, stats.chi2.sf(stat, 1), lo, hi))
    null = _fit(X.iloc[:, :0], data)
    stat = max(null.deviance_ - full.deviance_, 0.0)
    rows.append((stat, X.shape[1], stats.chi2.sf(stat, X.shape[1]), math.nan, math.nan))
    index = [*list(data["template"])[1:], "all"]
    return pd.DataFrame(
        rows,
        columns=["lr_stat", "df", "p_value", "ci_low", "ci_high"],
        index=pd.Index(index, name="template"),
    )


def _root(f: Any, start: float, step: float) -> float:
    """The root of f (negative at ``start``) in the direction of ``step``."""
    b = start + step
    for _ in range(60):
        if f(b) > 0:
            break
        b += step
    else:  # pragma: no cover - the deviance grows without bound for interior counts
        raise RuntimeError("profile-likelihood bound not bracketed")
    lo, hi = (start, b) if step > 0 else (b, start)
    return float(optimize.brentq(f, lo, hi, xtol=1e-10))


# ------------------------------------------------------------------ Bayes
def bayes_comparisons(
    data: pd.DataFrame,
    level: float = 0.95,
    prior: tuple[float, float] = (1.0, 1.0),
    n_draws: int = 100_000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Beta-binomial posteriors of each rate and their comparison with the reference.

    With a Beta(a, b) prior, the posterior of a template's rate is
    Beta(a + clicks, b + sends - clicks) (conjugate; templates independent).
    The rate's credible interval is exact (Beta quantiles); the difference
    with the reference's rate and P(rate_t > rate_ref) come from ``n_draws``
    Monte Carlo draws (Monte Carlo standard error of the probability at most
    0.5 / sqrt(n_draws)).

    Returns
    -------
    DataFrame
        Indexed by template (the reference included, first): ``mean``,
        ``rate_low``, ``rate_high`` (the rate), ``diff_low``, ``diff_high``
        (rate minus the reference's; NaN for the reference) and
        ``p_better`` (P(rate > reference rate); NaN for the reference).
    """
    _check_level(level)
    data = _check_data(data, interior=False)
    a, b = (float(v) for v in prior) if len(prior) == 2 else (math.nan, math.nan)
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"prior must be two positive numbers (a, b), got {prior!r}")
    if not isinstance(n_draws, numbers.Integral) or n_draws < 100:
        raise ValueError(f"n_draws must be an integer >= 100, got {n_draws!r}")
    alpha = a + data["clicks"].to_numpy(dtype=float)
    beta = b + (data["sends"] - data["clicks"]).to_numpy(dtype=float)
    tail = (1.0 - level) / 2.0
    rng = np.random.default_rng(random_state)
    draws = rng.beta(alpha[:, None], beta[:, None], size=(len(data), int(n_draws)))
    diff = draws - draws[0]
    out = pd.DataFrame(
        {
            "mean": alpha / (alpha + beta),
            "rate_low": stats.beta.ppf(tail, alpha, beta),
            "rate_high": stats.beta.ppf(1.0 - tail, alpha, beta),
            "diff_low": np.quantile(diff, tail, axis=1),
            "diff_high": np.quantile(diff, 1.0 - tail, axis=1),
            "p_better": (diff > 0).mean(axis=1),
        },
        index=pd.Index(list(data["template"]), name="template"),
    )
    out.iloc[0, 3:] = math.nan
    return out


# ------------------------------------------------------------------ multiple comparisons
def adjust_pvalues(p_values: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values for a family of tests: Bonferroni or Holm.

    Bonferroni multiplies each p-value by the number of tests m; Holm's
    step-down procedure multiplies the i-th smallest by m - i + 1 and makes
    the result monotone. Both are capped at 1 and keep the family-wise error
    rate (the chance of any false rejection) at most the level for any
    dependence between the tests; Holm rejects at least what Bonferroni does.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p_values must be a non-empty 1-d array of numbers in [0, 1]")
    m = p.size
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _wald_z(c_ref: np.ndarray, n_ref: Any, c: np.ndarray, n: Any) -> np.ndarray:
    """Wald z of the log odds ratio of two binomial samples (NaN where a count is 0 or n)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lor = np.log(c / (n - c)) - np.log(c_ref / (n_ref - c_ref))
        se = np.sqrt(1 / c + 1 / (n - c) + 1 / c_ref + 1 / (n_ref - c_ref))
        z = lor / se
    return np.where(np.isfinite(z), z, np.nan)


def familywise_error(
    rate: float = 0.032,
    sends: int = ILLUSTRATIVE_SENDS,
    n_treatments: int = 4,
    alpha: float = 0.05,
    n_sims: int = 20_000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Family-wise error rate of comparisons against a control, simulated under the null.

    Every arm has click-through ``rate`` and ``sends`` sends; each of
    ``n_treatments`` arms is compared with a control by the GLM's Wald test
    (two-sided, on the log odds ratio). A family has an error when any
    comparison rejects. Two designs: ``"shared"``, the A/B test's, where all
    treatments are compared with one control arm (the tests are positively
    correlated), and ``"independent"``, where each comparison has its own
    control (independent tests, family-wise error 1 - (1 - size)^m).
    A simulated sample with a zero count (an infinite log-odds) counts as
    not rejected.

    Returns
    -------
    DataFrame
        One row per design and adjustment (``"none"``, ``"bonferroni"``,
        ``"holm"``): ``fwer``, its Monte Carlo ``std_err`` and
        ``per_test`` (the mean rejection rate of single comparisons).
    """
    if not (isinstance(rate, numbers.Real) and 0 < rate < 1):
        raise ValueError(f"rate must be in (0, 1), got {rate!r}")
    _counts("sends", [sends], low=1)
    if not isinstance(n_treatments, numbers.Integral) or n_treatments < 1:
        raise ValueError(f"n_treatments must be a positive integer, got {n_treatments!r}")
    if not (isinstance(alpha, numbers.Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not isinstance(n_sims, numbers.Integral) or n_sims < 100:
        raise ValueError(f"n_sims must be an integer >= 100, got {n_sims!r}")
    rng = np.random.default_rng(random_state)
    m = int(n_treatments)
    treated = rng.binomial(sends, rate, size=(n_sims, m)).astype(float)
    own_controls = rng.binomial(sends, rate, size=(n_sims, m)).astype(float)
    rows = []
    for design in _DESIGNS:
        controls = own_controls[:, :1] if design == "shared" else own_controls
        z = _wald_z(controls, sends, treated, sends)
        p = np.where(np.isnan(z), 1.0, 2.0 * stats.norm.sf(np.abs(z)))
        per_test = float((p <= alpha).mean())
        for method in ("none", *_METHODS):
            adj = p if method == "none" else np.apply_along_axis(adjust_pvalues, 1, p, method)
            any_rejected = (adj <= alpha).any(axis=1)
            fwer = float(any_rejected.mean())
            rows.append((design, method, fwer, math.sqrt(fwer * (1 - fwer) / n_sims), per_test))
    return pd.DataFrame(rows, columns=["design", "adjustment", "fwer", "std_err", "per_test"])


# ------------------------------------------------------------------ sample size
def sample_size(
    p_control: float,
    p_treatment: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Sends per arm to detect ``p_treatment`` against ``p_control`` (two-sided, equal arms).

    The normal approximation for two proportions (Fleiss et al. 2003, eq. 4.14,
    without continuity correction):

    .. math::

        n = \\frac{\\big(z_{1-\\alpha/2}\\sqrt{2\\bar p \\bar q}
        + z_{\\text{power}}\\sqrt{p_1 q_1 + p_2 q_2}\\big)^2}{(p_1 - p_2)^2},
        \\qquad \\bar p = (p_1 + p_2)/2.

    Returns the real-valued n; round it up for a plan (:func:`sample_sizes` does).
    """
    for name, v in (("p_control", p_control), ("p_treatment", p_treatment)):
        if not (isinstance(v, numbers.Real) and 0 < v < 1):
            raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    if p_control == p_treatment:
        raise ValueError("p_control equals p_treatment: no sample size detects no difference")
    for name, v in (("alpha", alpha), ("power", power)):
        if not (isinstance(v, numbers.Real) and 0 < v < 1):
            raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    p1, p2 = float(p_control), float(p_treatment)
    pbar = (p1 + p2) / 2
    za = stats.norm.ppf(1 - alpha / 2)
    zb = stats.norm.ppf(power)
    num = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return num**2 / (p1 - p2) ** 2


def sample_sizes(data: pd.DataFrame, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Sends per arm for each template's observed difference from the reference.

    Takes the observed rates as if they were the true ones (a planning
    figure, not a property of the data) and gives the sends per arm for
    ``power`` at level ``alpha``, and at the Bonferroni level
    ``alpha / (k - 1)`` that keeps the family-wise error of the k - 1
    comparisons at ``alpha``. Templates whose rate equals the reference's
    get NaN.

    Returns
    -------
    DataFrame
        Indexed by template: ``rate``, ``diff`` (minus the reference's rate),
        ``n_per_arm``, ``n_per_arm_bonferroni`` (rounded up).
    """
    data = _check_data(data, interior=False)
    m = len(data) - 1
    p0 = float(data["rate"].iloc[0])
    rows = []
    for rate in data["rate"].iloc[1:]:
        if rate == p0 or not (0 < rate < 1 and 0 < p0 < 1):
            rows.append((rate, rate - p0, math.nan, math.nan))
            continue
        n1 = math.ceil(sample_size(p0, float(rate), alpha, power))
        n2 = math.ceil(sample_size(p0, float(rate), alpha / m, power))
        rows.append((rate, rate - p0, n1, n2))
    return pd.DataFrame(
        rows,
        columns=["rate", "diff", "n_per_arm", "n_per_arm_bonferroni"],
        index=pd.Index(list(data["template"])[1:], name="template"),
    )


def _check_level(level: float) -> None:
    if not (isinstance(level, numbers.Real) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
