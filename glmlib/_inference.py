"""Likelihood-based quantities after a fit: degrees of freedom, dispersion, AIC/BIC, Wald tables.

Definitions follow R's ``glm()``/``summary.glm()``: deviance sum w d, dispersion
Pearson chi^2 / (n - rank) for families with a free dispersion, AIC from
``family()$aic`` plus 2 * rank, ``logLik`` = df - AIC / 2 with df counting the
dispersion for the Gaussian, Gamma and inverse Gaussian families.

:class:`FitStatistics` is what a GLM fit keeps for them (statsmodels' lazy
results are the model): the final p x p Fisher matrix and a few sums over the
rows, taken during the fit. Everything else (rank, degrees of freedom, scale,
AIC/BIC, the covariance) is computed from those when first asked and cached,
with no further pass over the data and no communication, so it works the same
after a distributed or Dask fit and pickles small.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._linalg import SymmetricFactor, pinv_solve, rank_rtol
from .families import Family

__all__ = ["FitStatistics", "wald_table", "information_criteria"]


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
    aic_term = family.r_aic(y, mu, w, 0, deviance, total)
    nobs = int(round(total(w > 0))) if total is not None else int(np.sum(w > 0))
    return _criteria(aic_term, df_model, family.n_params_extra(), nobs)


def _criteria(
    aic_term: float, df_model: float, n_extra: int, nobs: int
) -> tuple[float, float, float]:
    """(llf, aic, bic) from R's ``family()$aic`` term and the degrees of freedom."""
    aic = aic_term + 2.0 * df_model
    df_total = df_model + n_extra
    llf = df_total - aic / 2.0
    bic = -2.0 * llf + math.log(nobs) * df_total
    return llf, aic, bic


@dataclass(eq=False)
class FitStatistics:
    """What a GLM fit found, as far as its statistics need it; never X.

    Sums over the rows are taken during the fit (they are the only part that
    needs the data, and after a distributed fit a collective); the
    properties compute the rest from them when first asked and cache it.

    Attributes
    ----------
    fisher : ndarray of shape (k, k) or None
        Fisher information over (intercept, coef) with the caller's weights:
        the solver's last X'WX. Rows and columns of columns the solver never
        fitted are NaN. None when there are too many columns for a Gram matrix.
    l2 : ndarray of shape (k,) or None
        Ridge strength per coefficient (caller's weight scale); None unpenalised.
    active : ndarray of bool, shape (k,)
        Coefficients in the model: the intercept and the non-zero coefficients.
    selected : ndarray of bool or None
        With an L1 part, the coefficients that have a covariance (``active``).
    rank_deficient : bool
        Whether the solver found X'WX singular.
    known_rank : int or None
        The rank of X'WX when the fit already computed it (the minimum-norm step).
    nobs : int
        Rows with positive weight.
    pearson : float
        Pearson chi^2, sum w (y - mu)^2 / V(mu), for families with a dispersion
        (NaN otherwise).
    aic_term : float
        R's ``family()$aic`` (-2 log-likelihood up to R's conventions), without
        the 2 df term.
    n_extra : int
        Parameters beyond the coefficients in R's ``logLik`` (the dispersion).
    has_dispersion : bool
        Whether the dispersion is estimated.
    """

    fisher: np.ndarray | None
    l2: np.ndarray | None
    active: np.ndarray
    selected: np.ndarray | None
    rank_deficient: bool
    known_rank: int | None
    nobs: int
    pearson: float
    aic_term: float
    n_extra: int
    has_dispersion: bool

    @property
    def penalized(self) -> bool:
        return self.l2 is not None

    @cached_property
    def rank(self) -> int:
        """Numerical rank: of X'WX (unpenalised), or the number of active coefficients."""
        k = self.active.shape[0]
        if self.penalized:
            return int(self.active.sum())
        if self.rank_deficient and self.known_rank is not None:
            return self.known_rank
        if self.rank_deficient and self.fisher is not None:
            return _pinv_rank(self.fisher)[1]
        return k

    @cached_property
    def df_model(self) -> float:
        """Degrees of freedom: the rank, or the effective df tr(H (H + D)^-1) when penalised."""
        if self.penalized and self.fisher is not None:
            assert self.l2 is not None
            return effective_df(self.fisher, self.l2, self.active)
        return float(self.rank)

    @property
    def df_resid(self) -> float:
        return float(self.nobs - self.df_model)

    @property
    def scale(self) -> float:
        """Pearson chi^2 / df_resid when the dispersion is estimated, else 1."""
        if not self.has_dispersion:
            return 1.0
        return self.pearson / self.df_resid if self.df_resid > 0 else math.nan

    @cached_property
    def criteria(self) -> tuple[float, float, float]:
        """(llf, aic, bic)."""
        return _criteria(self.aic_term, self.df_model, self.n_extra, self.nobs)

    @cached_property
    def cov_unscaled(self) -> np.ndarray:
        """Pseudo-inverse of the information, over ``selected`` if given (NaN elsewhere)."""
        if self.fisher is None:
            raise ValueError("no covariance: too many coefficients for a Gram matrix")
        if self.selected is None:
            return _pinv_rank(self.fisher)[0]
        sel = np.ix_(self.selected, self.selected)
        cov = np.full(self.fisher.shape, np.nan)
        cov[sel] = _pinv_rank(self.fisher[sel])[0]
        return cov


def _pinv_rank(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Pseudo-inverse and numerical rank of a symmetric PSD matrix (equilibrated)."""
    factor = SymmetricFactor(a, cholesky=False, eig_rtol=rank_rtol(a.shape[0]))
    return factor.inverse(), factor.rank


def effective_df(info: np.ndarray, l2: np.ndarray, active: np.ndarray) -> float:
    """tr(H_A (H_A + D_A)^{-1}) over the active coefficients A, D = diag(l2).

    Computed as |A| - sum_j D_jj [(H_A + D_A)^{-1}]_jj, with the diagonal of
    the inverse from a Cholesky factor (:meth:`SymmetricFactor.inverse_diagonal`);
    a pseudo-inverse when H_A + D_A is not positive definite (eigenvalues
    below 100 k eps of the largest count as zero).
    """
    d = l2[active]
    if d.shape[0] == 0:  # every coefficient at zero and no intercept
        return 0.0
    h = info[np.ix_(active, active)]
    m = h + np.diag(d)
    inverse_diagonal = SymmetricFactor(m).inverse_diagonal()
    if inverse_diagonal is None:
        return float(np.trace(pinv_solve(m, h, rank_rtol(m.shape[0]))))
    return float(d.shape[0] - np.sum(d * inverse_diagonal))


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
