"""Likelihoods: a glmlib family as a PyMC observation model and a NumPy sampler.

Each adapter knows the family's extra (dispersion-type) parameters, adds the
likelihood of the data to a PyMC model, and draws new responses on the host
for posterior predictive checks. Prior weights follow R's ``glm()`` and the
core engine:

* Gaussian, Gamma, inverse Gaussian: a weight divides the dispersion,
  :math:`y_i \\sim N(\\mu_i, \\sigma^2 / w_i)`, Gamma with shape :math:`k w_i`,
  inverse Gaussian with :math:`\\lambda w_i`;
* binomial: ``y`` is the proportion of successes and ``w`` the number of
  trials, :math:`w_i y_i \\sim \\text{Binomial}(w_i, \\mu_i)`;
* Poisson, negative binomial, and binomial with non-integer trials: the
  weights multiply the log-likelihood, :math:`\\sum_i w_i \\log p(y_i \\mid \\mu_i)`
  (a ``pm.Potential``; with unit weights the data are an observed variable).

The canonical-link binomial and Poisson models, the common hot paths, write
their log-likelihood in exponential-family form instead (see
:meth:`Likelihood.add_to_model`); the posterior is the same.

Extra parameters: Gaussian ``sigma`` (standard deviation), Gamma ``shape``
(:math:`k`, so :math:`\\operatorname{Var} y = \\mu^2 / k`), inverse Gaussian
``lam`` (:math:`\\operatorname{Var} y = \\mu^3 / \\lambda`), negative binomial
``alpha`` (:math:`\\operatorname{Var} y = \\mu + \\alpha \\mu^2`, glmlib's
convention; PyMC's ``alpha`` is its inverse). Tweedie with power 0, 1, 2 or 3
is the Gaussian, Poisson, Gamma or inverse Gaussian family; other powers raise
NotImplementedError: the compound Poisson-gamma density is an infinite series
(Dunn and Smyth 2005) that PyMC does not provide, so NUTS cannot use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..families import Family, Gamma, Gaussian, InverseGaussian, Poisson
from ._imports import pymc, pytensor_tensor
from ._links import inverse_link

__all__ = ["Likelihood", "likelihood_for"]

_TWEEDIE_EXACT = {0.0: Gaussian, 1.0: Poisson, 2.0: Gamma, 3.0: InverseGaussian}
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class Likelihood:
    """A family's observation model (see the module docstring)."""

    family: Family

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def extra(self) -> tuple[str, ...]:
        """Names of the extra parameters."""
        return {
            "gaussian": ("sigma",),
            "gamma": ("shape",),
            "inverse_gaussian": ("lam",),
            "negative_binomial": ("alpha",),
        }.get(self.name, ())

    def dispersion(self, extra: dict[str, float]) -> float:
        """The exponential-dispersion phi implied by the extra parameters (1 if none)."""
        if self.name == "gaussian":
            return extra["sigma"] ** 2
        if self.name == "gamma":
            return 1.0 / extra["shape"]
        if self.name == "inverse_gaussian":
            return 1.0 / extra["lam"]
        return 1.0

    def extra_from_dispersion(self, phi: float) -> dict[str, float]:
        """The inverse of :meth:`dispersion` (the negative binomial keeps its alpha)."""
        if self.name == "gaussian":
            return {"sigma": math.sqrt(phi)}
        if self.name == "gamma":
            return {"shape": 1.0 / phi}
        if self.name == "inverse_gaussian":
            return {"lam": 1.0 / phi}
        if self.name == "negative_binomial":
            return {"alpha": float(self.family.alpha)}  # type: ignore[attr-defined]
        return {}

    # ------------------------------------------------------------------ PyMC
    def add_to_model(
        self, linear: Any, y: np.ndarray, w: np.ndarray, extra: dict[str, Any]
    ) -> None:
        """Add the likelihood of (y, w) given ``linear.eta`` to the current model.

        Canonical-link binomial (logit) and Poisson (log) models use the
        exponential-family form :math:`\\sum_i w_i (y_i \\eta_i - b(\\eta_i))`, with
        :math:`b` = log1pexp or exp and the constants dropped, as a ``pm.Potential``
        named ``y_loglik``: its linear term costs no pass over the data, and it skips
        the parameter checks of the generic distributions, which halves the cost of a
        gradient. Other models observe ``y`` through the PyMC distribution.
        """
        pm = pymc()
        pt = pytensor_tensor()
        eta = linear.eta
        unit = bool(np.all(w == 1.0))
        name, link = self.name, self.family.link
        canonical = {("binomial", "logit"): pm.math.log1pexp, ("poisson", "log"): pt.exp}
        b = canonical.get((name, link.name))
        if b is not None:
            cumulant = b(eta).sum() if unit else pt.dot(pt.as_tensor(w), b(eta))
            pm.Potential("y_loglik", linear.weighted_sum(w * y) - cumulant)
            return
        if name == "binomial":
            self._add_binomial(eta, y, w, unit)
            return
        mu = inverse_link(link, eta)
        if name == "gaussian":
            sigma = extra["sigma"] if unit else extra["sigma"] / np.sqrt(w)
            pm.Normal("y", mu=mu, sigma=sigma, observed=y)
        elif name == "gamma":
            shape = extra["shape"] if unit else extra["shape"] * w
            pm.Gamma("y", alpha=shape, beta=shape / mu, observed=y)
        elif name == "inverse_gaussian":
            lam = extra["lam"] if unit else extra["lam"] * w
            pm.Wald("y", mu=mu, lam=lam, observed=y)
        elif name == "poisson":
            self._observe(pm.Poisson, {"mu": mu}, y, w, unit)
        elif name == "negative_binomial":
            self._observe(
                pm.NegativeBinomial, {"mu": mu, "alpha": 1.0 / extra["alpha"]}, y, w, unit
            )
        else:  # pragma: no cover - likelihood_for rejects the rest
            raise NotImplementedError(name)

    @staticmethod
    def _observe(
        cls: Any, params: dict[str, Any], y: np.ndarray, w: np.ndarray, unit: bool
    ) -> None:
        pm = pymc()
        if unit:
            cls("y", **params, observed=y)
        else:
            pm.Potential("y_loglik", (w * pm.logp(cls.dist(**params), y)).sum())

    def _add_binomial(self, eta: Any, y: np.ndarray, w: np.ndarray, unit: bool) -> None:
        """Non-canonical links (the logit is handled in :meth:`add_to_model`)."""
        pm = pymc()
        pt = pytensor_tensor()
        p = pt.clip(inverse_link(self.family.link, eta), _EPS, 1.0 - _EPS)
        k = w * y
        if unit and np.all((y == 0) | (y == 1)):
            pm.Bernoulli("y", p=p, observed=y)
        elif _is_integer(w) and _is_integer(k):
            pm.Binomial("y", n=np.round(w), p=p, observed=np.round(k))
        else:
            pm.Potential("y_loglik", (w * (y * pt.log(p) + (1.0 - y) * pt.log1p(-p))).sum())

    # ----------------------------------------------------------------- NumPy
    def sample(
        self, rng: np.random.Generator, mu: np.ndarray, extra: dict[str, np.ndarray], w: Any = 1.0
    ) -> np.ndarray:
        """Draw responses with means ``mu`` (draws x n); ``extra`` values have shape (draws, 1)."""
        name = self.name
        if name == "gaussian":
            return rng.normal(mu, extra["sigma"] / np.sqrt(w))
        if name == "binomial":
            trials = np.broadcast_to(np.asarray(w, dtype=float), mu.shape)
            if not _is_integer(trials):
                raise ValueError("posterior predictive binomial draws need integer trials")
            n_int = np.round(trials).astype(np.int64)
            return rng.binomial(n_int, np.clip(mu, 0.0, 1.0)) / np.maximum(n_int, 1)
        if name == "poisson":
            return rng.poisson(mu).astype(float)
        if name == "gamma":
            shape = extra["shape"] * w
            return rng.gamma(shape, mu / shape)
        if name == "inverse_gaussian":
            return rng.wald(mu, extra["lam"] * w)
        if name == "negative_binomial":
            r = 1.0 / extra["alpha"]
            return rng.negative_binomial(r, r / (r + mu)).astype(float)
        raise NotImplementedError(name)  # pragma: no cover


def _is_integer(a: Any) -> bool:
    a = np.asarray(a, dtype=float)
    return bool(np.all(np.abs(a - np.round(a)) < 1e-9))


def likelihood_for(family: Family, sampling: bool = True) -> Likelihood:
    """The :class:`Likelihood` of a glmlib family (Tweedie mapped to its exact special cases).

    With ``sampling=False`` (the Laplace approximation, which needs only the
    deviance) any Tweedie power is accepted.
    """
    if family.name == "tweedie" and not sampling and float(family.power) not in _TWEEDIE_EXACT:  # type: ignore[attr-defined]
        return Likelihood(family)
    if family.name == "tweedie":
        power = float(family.power)  # type: ignore[attr-defined]
        if power not in _TWEEDIE_EXACT:
            raise NotImplementedError(
                f"BayesianGLM cannot sample a Tweedie family with power {power:g}: its density "
                "(for 1 < power < 2 the compound Poisson-gamma) is an infinite series with no "
                "closed form, and PyMC has no Tweedie distribution. Powers 0, 1, 2 and 3 are "
                "the gaussian, poisson, gamma and inverse_gaussian families; method='laplace' "
                "handles any power (a quasi-likelihood posterior with the dispersion plugged in)."
            )
        family = _TWEEDIE_EXACT[power](link=family.link)
    if family.name not in (
        "gaussian",
        "binomial",
        "poisson",
        "gamma",
        "inverse_gaussian",
        "negative_binomial",
    ):
        raise NotImplementedError(f"BayesianGLM has no likelihood for the {family.name} family")
    return Likelihood(family)
