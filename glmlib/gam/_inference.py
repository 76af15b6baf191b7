"""Uncertainty after a GAM fit: effective degrees of freedom, covariances, term tests.

With A = X'WX at the fitted coefficients and S_lambda the total penalty (R's
scale, intercept first):

* the Bayesian posterior covariance of the coefficients (Wahba 1983;
  Silverman 1985) is V_p = (A + S_lambda)^{-1} phi, the basis of the
  confidence bands of :meth:`GAM.partial_dependence` (these bands have close
  to nominal *across-the-function* coverage; Nychka 1988, Marra and Wood 2012);
* F = (A + S_lambda)^{-1} A maps unpenalised to penalised estimates; its
  diagonal, summed over a term's coefficients, is that term's effective
  degrees of freedom, and tr(F) is the model's;
* term tests are Wald tests of f_j = 0. For a smooth with coefficients b_j,
  basis columns X_j (R'R = X_j'WX_j, the Fisher-weighted cross-product the fit
  already has; mgcv uses the unweighted X_j'X_j) and posterior covariance
  V_j, the statistic is T = (R b_j)' (R V_j R')^{r-} (R b_j) with the rank-r
  pseudo-inverse, r = round(edf_j) (at least 1): the test of Wood (2013) with
  the rank rounded to an integer instead of its fractional-rank refinement.
  T is referred to chi^2_r when the scale is known, and T / r to
  F(r, n - edf) when it is estimated. Unpenalised terms use their full rank.
  The p-values are approximate: they ignore the uncertainty in lambda, and
  are somewhat too small when a smooth's EDF is far from an integer.

References
----------
Wood, S. N. (2013). On p-values for smooth components of an extended
generalized additive model. *Biometrika* 100(1), 221-228.
Marra, G. and Wood, S. N. (2012). Coverage properties of confidence intervals
for generalized additive model components. *Scand. J. Stat.* 39(1), 53-74.
Nychka, D. (1988). Bayesian confidence intervals for smoothing splines.
*JASA* 83, 1134-1143.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .._linalg import SymmetricFactor, psd_root, rank_rtol

__all__ = ["PartialDependence", "effective_df", "term_test", "posterior_covariance"]


@dataclass
class PartialDependence:
    """A term's contribution to the linear predictor on a grid, with a pointwise band.

    Attributes
    ----------
    grid : ndarray
        Evaluation points: shape (m,) for one covariate (factor levels for
        ``f`` terms), (m, d) for a tensor-product smooth of d covariates.
    estimate : ndarray of shape (m,)
        The term's contribution f_j(grid) on the link scale (centred as
        fitted: smooths sum to zero over the training data).
    std_err : ndarray of shape (m,)
        Posterior standard error sqrt(diag(X_j V_j X_j')).
    lower, upper : ndarray of shape (m,)
        estimate -/+ z_{(1 + width) / 2} std_err.
    """

    grid: np.ndarray
    estimate: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def __iter__(self):  # noqa: ANN204
        """Unpack as ``grid, estimate, (lower, upper)``."""
        return iter((self.grid, self.estimate, np.column_stack([self.lower, self.upper])))


def posterior_covariance(A: np.ndarray, S: np.ndarray) -> np.ndarray:
    """(A + S)^{-1}, equilibrated, with a pseudo-inverse fallback (unscaled V_p)."""
    h = A + S
    return SymmetricFactor(h, cholesky=False, eig_rtol=rank_rtol(h.shape[0], 10.0)).inverse()


def effective_df(A: np.ndarray, Vb: np.ndarray) -> np.ndarray:
    """Per-coefficient EDF: diag((A + S)^{-1} A)."""
    return np.einsum("ij,ji->i", Vb, A)


def term_test(
    beta: np.ndarray,
    V: np.ndarray,
    xtx: np.ndarray,
    rank: int,
    df_resid: float | None,
) -> tuple[float, float]:
    """Wald statistic and p-value of H0: the term is zero (see module docstring).

    Returns T (chi^2 test, known scale) or T / r (F test, estimated scale).

    Parameters
    ----------
    beta : coefficients of the term
    V : their posterior covariance (scaled)
    xtx : X_j' W X_j, the cross-product of the term's basis columns
    rank : r, the rank of the pseudo-inverse
    df_resid : residual degrees of freedom for an F test, or None for chi^2
    """
    k = beta.shape[0]
    rank = int(min(max(rank, 1), k))
    R = psd_root(xtx).T  # R'R = xtx
    f = R @ beta
    vf = R @ V @ R.T
    ev, U = np.linalg.eigh((vf + vf.T) / 2)
    order = np.argsort(ev)[::-1][:rank]
    ev, U = ev[order], U[:, order]
    pos = ev > ev.max() * 1e-12 if ev.size and ev.max() > 0 else np.zeros(0, dtype=bool)
    if not pos.any():
        return 0.0, 1.0
    proj = U[:, pos].T @ f
    stat = float(np.sum(proj**2 / ev[pos]))
    r = int(pos.sum())
    if df_resid is None:
        return stat, float(stats.chi2.sf(stat, r))
    return stat / r, float(stats.f.sf(stat / r, r, max(df_resid, 1.0)))


def band(estimate: np.ndarray, se: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise normal band of coverage ``width``."""
    z = float(stats.norm.ppf(0.5 + width / 2.0))
    return estimate - z * se, estimate + z * se


def quad_diag(M: np.ndarray, V: np.ndarray) -> Any:
    """diag(M V M') without forming the m x m matrix."""
    return np.einsum("ij,jk,ik->i", M, V, M)
