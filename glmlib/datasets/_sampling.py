"""Draw responses from each family given the means: y ~ F(mu, dispersion).

One function per family, all with the mean-variance relation of
:mod:`glmlib.families`: Var(y) = dispersion * V(mu), except the negative
binomial, whose Var(y) = mu + alpha mu^2 carries its own shape parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["SAMPLERS", "mean_is_valid", "sample_response"]

Sampler = Callable[[np.random.Generator, np.ndarray, float, float], np.ndarray]


def _gaussian(rng: np.random.Generator, mu: np.ndarray, phi: float, _: float) -> np.ndarray:
    """y = mu + sqrt(phi) e, e ~ N(0, 1); Var(y) = phi."""
    return mu + np.sqrt(phi) * rng.standard_normal(mu.shape)


def _binomial(rng: np.random.Generator, mu: np.ndarray, phi: float, _: float) -> np.ndarray:
    """y ~ Bernoulli(mu), y in {0, 1}."""
    return (rng.random(mu.shape) < mu).astype(np.float64)


def _poisson(rng: np.random.Generator, mu: np.ndarray, phi: float, _: float) -> np.ndarray:
    """y ~ Poisson(mu)."""
    return rng.poisson(mu).astype(np.float64)


def _gamma(rng: np.random.Generator, mu: np.ndarray, phi: float, _: float) -> np.ndarray:
    """y ~ Gamma(shape 1/phi, scale phi mu); E y = mu, Var(y) = phi mu^2."""
    return rng.gamma(1.0 / phi, phi * mu)


def _inverse_gaussian(rng: np.random.Generator, mu: np.ndarray, phi: float, _: float) -> np.ndarray:
    """y ~ IG(mu, lambda = 1/phi); Var(y) = phi mu^3."""
    return rng.wald(mu, 1.0 / phi)


def _negative_binomial(
    rng: np.random.Generator, mu: np.ndarray, phi: float, alpha: float
) -> np.ndarray:
    """Gamma-Poisson mixture: y ~ NB(n = 1/alpha, p = 1/(1 + alpha mu)); Var = mu + alpha mu^2."""
    n = 1.0 / alpha
    return rng.negative_binomial(n, n / (n + mu)).astype(np.float64)


def _tweedie(rng: np.random.Generator, mu: np.ndarray, phi: float, power: float) -> np.ndarray:
    """Tweedie with Var(y) = phi mu^power.

    For 1 < power < 2 this is the compound Poisson-gamma distribution
    (Jorgensen 1987): N ~ Poisson(lambda) claims, each Gamma(a, scale),
    y = their sum (0 when N = 0), with

        lambda = mu^(2-p) / (phi (2-p)),  a = (2-p)/(p-1),  scale = phi (p-1) mu^(p-1).

    The boundary powers 0, 1, 2 and 3 are the Gaussian, (scaled) Poisson,
    gamma and inverse Gaussian distributions.
    """
    p = power
    if p == 0:
        return _gaussian(rng, mu, phi, 0.0)
    if p == 1:
        return phi * rng.poisson(mu / phi).astype(np.float64)
    if p == 2:
        return _gamma(rng, mu, phi, 0.0)
    if p == 3:
        return _inverse_gaussian(rng, mu, phi, 0.0)
    if not 1 < p < 2:
        raise ValueError(
            f"sampling a Tweedie response needs power in (1, 2) or one of 0, 1, 2, 3; got {p:g}"
        )
    lam = mu ** (2.0 - p) / (phi * (2.0 - p))
    a = (2.0 - p) / (p - 1.0)
    scale = phi * (p - 1.0) * mu ** (p - 1.0)
    n_claims = rng.poisson(lam)
    # A sum of N iid Gamma(a, scale) is Gamma(N a, scale); numpy gives 0 for shape 0.
    return rng.gamma(n_claims * a, scale)


#: Sampler per family name; each takes (rng, mu, dispersion, extra) where
#: ``extra`` is the Tweedie power or the negative binomial alpha.
SAMPLERS: dict[str, Sampler] = {
    "gaussian": _gaussian,
    "binomial": _binomial,
    "poisson": _poisson,
    "gamma": _gamma,
    "inverse_gaussian": _inverse_gaussian,
    "tweedie": _tweedie,
    "negative_binomial": _negative_binomial,
}


def mean_is_valid(family: str, mu: np.ndarray) -> np.ndarray:
    """Elementwise: is ``mu`` a valid mean for ``family`` (finite and in range)?"""
    ok = np.isfinite(mu)
    if family == "binomial":
        return ok & (mu > 0) & (mu < 1)
    if family == "gaussian":
        return ok
    return ok & (mu > 0)


def sample_response(
    family: str,
    mu: np.ndarray,
    rng: np.random.Generator,
    *,
    dispersion: float = 1.0,
    extra: float = 0.0,
) -> np.ndarray:
    """Draw y with mean ``mu`` from the named family (float64 array)."""
    if family not in SAMPLERS:
        raise ValueError(f"no sampler for family {family!r}; known: {sorted(SAMPLERS)}")
    return SAMPLERS[family](rng, np.asarray(mu, dtype=np.float64), float(dispersion), extra)
