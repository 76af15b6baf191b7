"""Likelihood-based quantities after a fit: degrees of freedom, dispersion, AIC/BIC, Wald tables.

Definitions follow R's ``glm()``/``summary.glm()``: deviance sum w d, dispersion
Pearson chi^2 / (n - rank) for families with a free dispersion, AIC from
``family()$aic`` plus 2 * rank, ``logLik`` = df - AIC / 2 with df counting the
dispersion for the Gaussian, Gamma and inverse Gaussian families.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .families import Family

__all__ = ["wald_table", "information_criteria"]


def information_criteria(
    family: Family,
    y: np.ndarray,
    mu: np.ndarray,
    w: np.ndarray,
    df_model: float,
    deviance: float | None = None,
    total: Callable[[Any], float] | None = None,
) -> tuple[float, float, float]:
    """(llf, aic, bic) as R reports them for a model with ``df_model`` coefficients.

    ``deviance`` is sum w d at ``mu`` when the caller already has it; ``total``
    sums an array over all rows (see :meth:`Family.r_aic`).
    """
    aic = family.r_aic(y, mu, w, 0, deviance, total) + 2.0 * df_model
    df_total = df_model + family.n_params_extra()
    llf = df_total - aic / 2.0
    nobs = int(round(total(w > 0))) if total is not None else int(np.sum(w > 0))
    bic = -2.0 * llf + math.log(nobs) * df_total
    return llf, aic, bic


def wald_table(
    names: list[str],
    coef: np.ndarray,
    cov: np.ndarray,
    df_resid: float | None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Coefficient table with Wald standard errors, statistics, p-values and intervals.

    With ``df_resid`` given (families whose dispersion is estimated) the
    reference distribution is Student's t with that many degrees of freedom, as
    in R's ``summary.glm``; otherwise the standard normal.
    """
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, coef / se, np.nan)
    dist = stats.t(df_resid) if df_resid is not None and df_resid > 0 else stats.norm()
    p = 2.0 * dist.sf(np.abs(z))
    q = dist.ppf(0.5 + level / 2.0)
    return pd.DataFrame(
        {
            "coef": coef,
            "std_err": se,
            "z": z,
            "p_value": p,
            "ci_low": coef - q * se,
            "ci_high": coef + q * se,
        },
        index=pd.Index(names, name="term"),
    )
