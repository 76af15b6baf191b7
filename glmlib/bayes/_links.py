"""glmlib's links as PyTensor expressions: the inverse link mu = g^{-1}(eta).

Each function mirrors :meth:`glmlib.links.Link.inverse`, including its
clipping of the power links to positive eta (their means live on (0, inf)).
The binomial family with the logit link never calls :func:`inverse_link`:
its likelihood is written on the logit scale for stability.

=================  ===============================  ==========================
glmlib link        g(mu)                            mu = g^{-1}(eta)
=================  ===============================  ==========================
identity           mu                               eta
log                log mu                           exp(eta)
logit              log(mu / (1 - mu))               invlogit(eta)
probit             Phi^{-1}(mu)                     erfc(-eta / sqrt 2) / 2
cloglog            log(-log(1 - mu))                -expm1(-exp(eta))
inverse            1 / mu                           1 / eta
inverse_squared    1 / mu^2                         eta^(-1/2)
sqrt               sqrt(mu)                         eta^2
power(p)           mu^p                             eta^(1/p)
=================  ===============================  ==========================
"""

from __future__ import annotations

from typing import Any

from ..links import Link
from ._imports import pymc, pytensor_tensor

__all__ = ["inverse_link"]

# Smallest eta a power link accepts (sqrt(float64 tiny)), as in glmlib.links.Power.
_TINY = 1.4916681462400413e-154
_SQRT_HALF = 0.7071067811865476


def inverse_link(link: Link, eta: Any) -> Any:
    """g^{-1}(eta) as a PyTensor expression for a glmlib :class:`~glmlib.links.Link`."""
    pt = pytensor_tensor()
    pmm = pymc().math
    name = link.name
    if name == "identity":
        return eta
    if name == "log":
        return pt.exp(eta)
    if name == "logit":
        return pmm.invlogit(eta)
    if name == "probit":
        # pm.math.invprobit computes sqrt(2) in float32 (relative error 3e-7): write it here.
        return 0.5 * pt.erfc(-eta * pt.constant(_SQRT_HALF, dtype="float64"))
    if name == "cloglog":
        return -pt.expm1(-pt.exp(eta))
    power = getattr(link, "power", None)
    if power is None:
        raise NotImplementedError(f"no PyTensor inverse for link {link!r}")
    eta_pos = pt.maximum(eta, _TINY)
    if power == -1.0:
        return 1.0 / eta_pos
    if power == -2.0:
        return 1.0 / pt.sqrt(eta_pos)
    if power == 0.5:
        return eta_pos**2
    return eta_pos ** (1.0 / power)
