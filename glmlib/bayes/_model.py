"""The PyMC model of a Bayesian GLM.

Parametrisation. With ``center=True`` the columns are centred,
:math:`\\tilde X = X - \\bar x`, and the linear predictor is
:math:`\\eta = o + \\alpha_c + \\tilde X \\beta` with :math:`\\alpha_c` the
intercept at the mean of the predictors, which is where the "intercept" prior
applies (as in rstanarm and bambi); the reported intercept is
:math:`\\alpha = \\alpha_c - \\bar x^\\top \\beta`. With ``center=False`` or without an
intercept, :math:`\\bar x = 0` and the prior applies to :math:`\\alpha` itself.

Preconditioning. With independent priors, the sampler does not move in
:math:`\\theta = (\\alpha_c, \\beta)` but in :math:`z` with
:math:`\\theta = \\hat\\theta + L z`, where :math:`\\hat\\theta` and
:math:`L L^\\top = \\hat\\Sigma` come from the core engine's penalised fit (the
Laplace approximation with Normal stand-ins for the priors). This is a
linear change of variables with constant Jacobian, so the posterior is
unchanged, but it is close to a standard normal in :math:`z`: NUTS then gets a
dense mass matrix for free and needs few leapfrog steps per draw. The priors
enter as one ``pm.Potential`` on :math:`\\theta` (``z`` is ``pm.Flat``). With
``precondition=False``, :math:`\\hat\\theta = 0` and :math:`L = I`.

Horseshoe. The regularized horseshoe (a hierarchical prior) uses its own
non-centred parametrisation, without preconditioning.

The data live in ``pm.Data`` containers, so that compiled samplers (nutpie's
numba backend) do not embed them as constants.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._families import Likelihood
from ._imports import pymc, pytensor_tensor
from ._resolve import ResolvedPriors
from .priors import Flat, Prior

__all__ = ["LinearPredictor", "ModelData", "build_model"]


@dataclass
class ModelData:
    """Validated data of one fit (rows with zero weight removed)."""

    X: np.ndarray  # raw columns (n, p)
    y: np.ndarray
    w: np.ndarray
    offset: np.ndarray
    xbar: np.ndarray  # column means with center=True, zeros otherwise
    features: list[str]
    fit_intercept: bool

    @property
    def Xt(self) -> np.ndarray:
        """Centred design with a leading column of ones when there is an intercept."""
        Xc = self.X - self.xbar
        if self.fit_intercept:
            return np.column_stack([np.ones(Xc.shape[0]), Xc])
        return Xc

    def to_raw(self) -> np.ndarray:
        """Matrix T with theta_raw = T theta (intercept alpha = alpha_c - xbar' beta)."""
        k = len(self.features) + int(self.fit_intercept)
        T = np.eye(k)
        if self.fit_intercept:
            T[0, 1:] = -self.xbar
        return T


class LinearPredictor:
    """eta = c + M v, with M stored transposed (k x n, C-contiguous) in a ``pm.Data``.

    ``pt.dot(v, M^T)`` and its gradient ``M^T g`` then both read memory in
    order, which the numba backend needs to reach BLAS speed (a transposed
    view is several times slower there). :meth:`weighted_sum` gives
    :math:`\\sum_i u_i \\eta_i = u^\\top c + (M^\\top u)^\\top v` without a pass over
    the data, for the linear term of canonical-link log-likelihoods.
    """

    def __init__(self, c: np.ndarray, M: np.ndarray, v: Any) -> None:
        pm = pymc()
        self.c_value, self.M_value, self.v = c, M, v
        self.c = pm.Data("eta_offset", c)
        self.MT = pm.Data("design_T", np.ascontiguousarray(M.T))
        self.eta = self.c + pytensor_tensor().dot(v, self.MT)

    def weighted_sum(self, u: np.ndarray) -> Any:
        """sum_i u_i eta_i as a scalar expression (u a NumPy vector)."""
        pt = pytensor_tensor()
        return float(u @ self.c_value) + pt.dot(pt.as_tensor(self.M_value.T @ u), self.v)


def _prior_logp(priors: list[Prior], values: Any) -> Any:
    """Sum of log densities, vectorised over runs of priors of the same class."""
    pm = pymc()
    pt = pytensor_tensor()
    groups: dict[type[Prior], list[int]] = defaultdict(list)
    for j, p in enumerate(priors):
        if not isinstance(p, Flat):
            groups[type(p)].append(j)
    total = pt.constant(0.0)
    for cls, idx in groups.items():
        params = defaultdict(list)
        for j in idx:
            for key, val in priors[j]._params().items():
                params[key].append(val)
        dist = getattr(pm, cls._pm).dist(**{k: np.asarray(v) for k, v in params.items()})
        total = total + pm.logp(dist, values[np.asarray(idx)]).sum()
    return total


def _extra_variables(lik: Likelihood, priors: ResolvedPriors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in lik.extra:
        value = priors.extra[name]
        out[name] = value.rv(name) if isinstance(value, Prior) else float(value)
    return out


def build_model(
    data: ModelData,
    lik: Likelihood,
    priors: ResolvedPriors,
    centre: np.ndarray | None = None,
    chol: np.ndarray | None = None,
) -> Any:
    """A ``pm.Model`` for the data, likelihood and priors.

    ``centre`` and ``chol`` (theta_hat and L, see the module docstring)
    precondition the coefficients; None means theta_hat = 0 and L = I.
    """
    pm = pymc()
    pt = pytensor_tensor()
    Xt = data.Xt
    k = Xt.shape[1]
    start = int(data.fit_intercept)
    with pm.Model(coords={"feature": data.features}) as model:
        extra = _extra_variables(lik, priors)
        if priors.horseshoe is None:
            centre = np.zeros(k) if centre is None else centre
            chol = np.eye(k) if chol is None else chol
            z = pm.Flat("z", shape=k)
            theta = pt.as_tensor(centre) + pt.dot(pt.as_tensor(chol), z)
            linear = LinearPredictor(data.offset + Xt @ centre, Xt @ chol, z)
            beta = theta[start:]
            alpha_c = theta[0] if start else None
            coef_priors = priors.theta[start:]
            logp = _prior_logp(coef_priors, beta) if coef_priors else pt.constant(0.0)
        else:
            tau0 = priors.horseshoe_tau0
            if lik.name == "gaussian":
                tau0 = tau0 * extra["sigma"]
            beta = priors.horseshoe.build("coef", tau0, priors.col_scale, dims="feature")
            alpha_c = pm.Flat("intercept_centred") if start else None
            v = pt.concatenate([pt.stack([alpha_c]), beta]) if start else beta
            linear = LinearPredictor(data.offset, Xt, v)
            logp = pt.constant(0.0)
        if start:
            alpha = alpha_c - pt.dot(pt.as_tensor(data.xbar), beta)
            logp = logp + _prior_logp([priors.theta[0]], pt.stack([alpha_c]))
            pm.Deterministic("intercept", alpha)
        if priors.horseshoe is None:
            pm.Deterministic("coef", beta, dims="feature")
        pm.Potential("prior", logp)
        lik.add_to_model(linear, data.y, data.w, extra)
    return model
