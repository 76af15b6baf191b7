"""The Laplace approximation: posterior mode from the core engine, Gaussian around it.

For coefficients :math:`\\theta` with independent priors :math:`p_j`, the
negative log posterior of a GLM with dispersion :math:`\\phi` is

.. math::

    -\\log p(\\theta \\mid y) = \\frac{1}{\\phi} \\sum_i w_i \\frac{d(y_i, \\mu_i)}{2}
        + \\sum_j \\rho_j(\\theta_j - m_j) + c,
    \\qquad \\rho_j = -\\log p_j(m_j + \\cdot),

since :math:`d/2` is the negative log-likelihood up to a constant. The core
engine :class:`glmlib.GLM` minimises
:math:`\\frac{1}{W} \\sum_i w_i d_i / 2 + \\frac{\\alpha}{2} \\sum_j f_j \\beta_j^2`
(:math:`W = \\sum_i w_i`, ``l1_ratio=0``). Multiplying by :math:`W / \\phi`, a
Normal prior :math:`N(m_j, \\sigma_j^2)` is the ridge penalty with
:math:`\\alpha f_j = \\phi / (W \\sigma_j^2)` on :math:`\\theta_j - m_j`; the
prior mean enters through the offset :math:`o + X m`. The intercept, which
the core never penalises, is handled as an ordinary column of ones with
``fit_intercept=False``. Hence with Normal (or flat) priors the posterior
mode *is* a penalised ``glmlib.GLM`` fit.

Other smooth symmetric priors (Student-t, logistic) are handled by
majorise-minimise: :math:`\\rho(r) \\le \\rho(r_k) + \\tfrac12 \\frac{\\rho'(r_k)}{r_k}
(r^2 - r_k^2)` when :math:`\\rho'(r)/r` is non-increasing in :math:`|r|`, so each
step is again a ridge GLM fit, with weights :math:`\\rho'(r_k)/r_k`, and the
log posterior never decreases. Laplace and horseshoe priors are not smooth
(or not independent) and are refused.

The covariance is the inverse of the Hessian at the mode,
:math:`\\Sigma = (X^\\top \\operatorname{diag}(w_i \\dot h(\\eta_i)^2 / V(\\mu_i)) X / \\phi
+ \\operatorname{diag}(\\rho_j''))^{-1}` with the core engine's expected (Fisher)
information, which equals the observed information for canonical links.
For families with a free dispersion (Gaussian, Gamma, inverse Gaussian,
Tweedie) :math:`\\phi` is either fixed by the user or plugged in: the
Pearson estimate of the penalised fit, iterated to a fixed point.

References
----------
Tierney, L. and Kadane, J. B. (1986). Accurate approximations for posterior
moments and marginal densities. *JASA* 81(393), 82-86.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._linalg import SymmetricFactor
from ..families import Family
from ..glm import GLM
from .priors import Flat, Normal, Prior

__all__ = ["LaplaceResult", "fisher_information", "laplace_fit", "normal_proxy"]


@dataclass
class LaplaceResult:
    """Mode, covariance and the dispersion they were computed with."""

    theta: np.ndarray
    cov: np.ndarray
    phi: float
    n_iter: int
    converged: bool


def normal_proxy(prior: Prior) -> Prior:
    """A Normal prior with the same location and variance (Flat stays Flat)."""
    prec = prior.precision()
    if prec == 0.0:
        return Flat()
    return Normal(prior.loc, 1.0 / math.sqrt(prec))


def fisher_information(family: Family, Xt: np.ndarray, eta: np.ndarray, w: np.ndarray):
    """X' diag(w h'(eta)^2 / V(mu)) X with the core family's link and variance functions."""
    dmu = np.asarray(family.link.inverse_deriv(eta))
    mu = np.asarray(family.link.inverse(eta))
    var = np.clip(np.asarray(family.variance(mu)), np.finfo(float).tiny ** 0.5, None)
    d = w * dmu * dmu / var
    return (Xt * d[:, None]).T @ Xt


def _core_fit(family, Xt, y, w, offset, locs, weights, phi, tol):
    """The penalised core fit: alpha * f_j = phi * weight_j / W on theta - locs."""
    glm = GLM(
        family=family,
        alpha=1.0,
        l1_ratio=0.0,
        fit_intercept=False,
        penalty_factor=phi * weights / float(np.sum(w)),
        tol=tol,
        max_iter=200,
    )
    glm.fit(Xt, y, sample_weight=w, offset=offset + Xt @ locs)
    return locs + glm.coef_, glm


def laplace_fit(
    family: Family,
    Xt: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    offset: np.ndarray,
    priors: list[Prior],
    phi: float | None,
    *,
    has_dispersion: bool,
    proxy: bool = False,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> LaplaceResult:
    """Posterior mode and covariance of theta (the columns of ``Xt``) under ``priors``.

    Parameters
    ----------
    family : Family
        The core family (its link and variance give the Fisher information).
    Xt : ndarray of shape (n, k)
        Design, with a column of ones for the intercept if there is one.
    priors : list of Prior, one per column
    phi : float or None
        Dispersion; None estimates it (``has_dispersion``) or uses 1.
    proxy : bool
        Replace every prior by its Normal proxy (one or two core fits): a
        cheap centre and metric for preconditioning NUTS, not the exact mode.
    """
    if proxy:
        priors = [normal_proxy(p) for p in priors]
    rough = [p for p in priors if not p.smooth]
    if rough:
        raise NotImplementedError(
            f"the Laplace approximation needs priors with a smooth log density; "
            f"{type(rough[0]).__name__} has a kink at its location. Use method='nuts'."
        )
    locs = np.array([p.loc for p in priors])
    is_normal = all(isinstance(p, Normal | Flat) for p in priors)
    estimate_phi = phi is None and has_dispersion
    phi_k = float(np.var(y)) if (estimate_phi and family.name == "gaussian") else 1.0
    phi_k = phi if phi is not None else (phi_k if phi_k > 0 else 1.0)

    def weights_at(theta: np.ndarray) -> np.ndarray:
        return np.array([p.mm_weight(t - m) for p, t, m in zip(priors, theta, locs, strict=True)])

    theta = locs.copy()
    weights = np.array([normal_proxy(p).precision() for p in priors])
    converged, it = False, 0
    with warnings.catch_warnings():
        if proxy:
            warnings.simplefilter("ignore")
        for it in range(1, max_iter + 1):
            new, glm = _core_fit(family, Xt, y, w, offset, locs, weights, phi_k, tol)
            step = float(np.max(np.abs(new - theta) / (1.0 + np.abs(new))))
            theta = new
            phi_new = phi_k
            if estimate_phi:
                scale = float(glm.scale_)
                phi_new = scale if math.isfinite(scale) and scale > 0 else phi_k
            phi_step = abs(phi_new - phi_k) / phi_k
            phi_k = phi_new
            if not is_normal:
                weights = weights_at(theta)
            if (is_normal or step < tol) and phi_step < 1e-9:
                converged = True
                break
            if proxy and it >= 2:
                break
    if not converged and not proxy:
        warnings.warn(
            f"Laplace approximation: the posterior mode did not converge in {max_iter} "
            "majorise-minimise steps",
            ConvergenceWarning,
            stacklevel=3,
        )
    eta = Xt @ theta + offset
    hess = fisher_information(family, Xt, eta, w) / phi_k
    curv = np.array([p.curvature(t - m) for p, t, m in zip(priors, theta, locs, strict=True)])
    hess = hess + np.diag(curv)
    cov = _inverse(hess, strict=not proxy)
    return LaplaceResult(theta, cov, phi_k, it, converged)


def _inverse(hess: np.ndarray, strict: bool) -> np.ndarray:
    """Inverse of the posterior Hessian; with ``strict=False`` eigenvalues are floored."""
    factor = SymmetricFactor(hess, pivot_rtol=0.0)
    if factor.ok:
        inv = factor.inverse()
        return (inv + inv.T) / 2
    if strict:
        raise ValueError(
            "the posterior Hessian at the mode is not positive definite: the posterior is "
            "improper or multimodal here (flat priors on aliased columns, or a Student-t "
            "prior far in its tail). Use proper priors or method='nuts'."
        )
    evals, evecs = np.linalg.eigh((hess + hess.T) / 2)
    floor = max(float(evals.max()), 1.0) * 1e-10
    evals = np.maximum(evals, floor)
    return (evecs / evals) @ evecs.T
