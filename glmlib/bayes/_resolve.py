"""From the user's ``priors`` argument to one prior per model parameter.

Default priors (weakly informative, scaled to the data as rstanarm does):

* coefficient of column j: :math:`N(0, (2.5\\, s_y / s_{x_j})^2)` for the
  Gaussian family with the identity link, :math:`N(0, (2.5 / s_{x_j})^2)`
  otherwise (``Normal(0, 2.5, autoscale=True)``);
* intercept (of the centred predictors, see ``BayesianGLM(center=...)``):
  :math:`N(\\bar y, (2.5\\, s_y)^2)` for the Gaussian identity model, else
  :math:`N(g(\\bar y), 2.5^2)` with :math:`g` the link (brms also centres its
  default intercept prior at the link of the data's location);
* Gaussian ``sigma``: :math:`\\text{HalfNormal}(2.5\\, s_y)`; Gamma ``shape`` and
  inverse Gaussian ``lam``: :math:`\\text{HalfNormal}(5 / \\hat\\phi)` with
  :math:`\\hat\\phi` the core engine's dispersion estimate; negative binomial
  ``alpha``: fixed at the family's value, as in the core engine.

:math:`s_{x_j}` and :math:`s_y` are the standard deviations of the column and of
y over the rows with positive weight (1 where a column is constant).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._families import Likelihood
from .priors import Flat, HalfNormal, Normal, Prior, RegularizedHorseshoe

__all__ = ["ResolvedPriors", "resolve_priors"]

_SCALE = 2.5


@dataclass
class ResolvedPriors:
    """One prior per parameter, on the raw scale of the data.

    ``theta`` is aligned with ``terms`` ("intercept" first when fitted, then
    the features); with a horseshoe, the feature entries are placeholders and
    ``horseshoe`` holds the joint prior.
    """

    terms: list[str]
    theta: list[Prior]
    extra: dict[str, Prior | float]
    horseshoe: RegularizedHorseshoe | None = None
    horseshoe_tau0: float = math.nan
    col_scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    def table(self) -> dict[str, Any]:
        """term -> prior (and the horseshoe under "coef"), for display."""
        out: dict[str, Any] = dict(zip(self.terms, self.theta, strict=True))
        if self.horseshoe is not None:
            out = {k: v for k, v in out.items() if k == "intercept"}
            out["coef"] = self.horseshoe
        out.update(self.extra)
        return out


def _data_scales(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    s_x = X.std(axis=0)
    s_x = np.where(s_x > 0, s_x, 1.0)
    s_y = float(y.std())
    return s_x, (s_y if s_y > 0 else 1.0)


def _default_intercept(lik: Likelihood, y: np.ndarray, w: np.ndarray, s_y: float) -> Prior:
    fam = lik.family
    if fam.name == "gaussian" and fam.link.name == "identity":
        return Normal(float(np.average(y, weights=w)), _SCALE * s_y)
    if fam.name == "binomial":
        ybar = (float(np.sum(w * y)) + 0.5) / (float(np.sum(w)) + 1.0)
    else:
        ybar = max(float(np.average(y, weights=w)), 1e-8)
    with np.errstate(all="ignore"):
        loc = float(np.asarray(fam.link.link(np.array([ybar])))[0])
    return Normal(loc if math.isfinite(loc) else 0.0, _SCALE)


def _pseudo_sigma(lik: Likelihood, y: np.ndarray, w: np.ndarray) -> float:
    """Piironen & Vehtari (2017, sec. 3.5): 1/sqrt(mu(1-mu)) (binomial), 1/sqrt(mean y) (Poisson)."""
    ybar = float(np.average(y, weights=w))
    if lik.name == "binomial":
        ybar = min(max(ybar, 1e-3), 1 - 1e-3)
        return 1.0 / math.sqrt(ybar * (1.0 - ybar))
    if lik.name in ("poisson", "negative_binomial"):
        return 1.0 / math.sqrt(max(ybar, 1e-3))
    return 1.0  # Gaussian: sigma enters in the model; others: unit scale


def _check_extra(name: str, value: Any) -> Prior | float:
    if isinstance(value, Prior):
        if value.support != "positive":
            raise ValueError(
                f"prior for {name!r} must have positive support (HalfNormal, HalfStudentT, "
                f"Exponential) or be a fixed positive number, got {value!r}"
            )
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"fixed {name!r} must be a finite number > 0, got {value!r}")
        return float(value)
    raise TypeError(f"prior for {name!r} must be a positive prior or a number, got {value!r}")


def _check_coef(name: str, value: Any) -> Prior:
    if isinstance(value, RegularizedHorseshoe):
        raise TypeError(
            f"RegularizedHorseshoe is a joint prior on all coefficients: pass it as "
            f"priors=RegularizedHorseshoe(...), not for the single term {name!r}"
        )
    if not isinstance(value, Prior):
        raise TypeError(
            f"prior for {name!r} must be a glmlib.bayes prior such as Normal(0, 1), got {value!r}"
        )
    if value.support != "real":
        raise ValueError(
            f"prior for coefficient {name!r} must live on the real line, got {value!r}"
        )
    return value


def resolve_priors(
    priors: Any,
    *,
    features: list[str],
    fit_intercept: bool,
    lik: Likelihood,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    phi_hat: float = 1.0,
) -> ResolvedPriors:
    """Resolve ``priors`` (None, a prior, a horseshoe or a dict term -> prior) for one fit."""
    s_x, s_y = _data_scales(X, y)
    ratio = s_y if (lik.name == "gaussian" and lik.family.link.name == "identity") else 1.0
    terms = (["intercept"] if fit_intercept else []) + list(features)
    coef: dict[str, Prior] = {}
    horseshoe = None
    extra_user: dict[str, Any] = {}
    intercept: Prior = _default_intercept(lik, y, w, s_y)

    if priors is None:
        pass
    elif isinstance(priors, RegularizedHorseshoe):
        horseshoe = priors
    elif isinstance(priors, Prior):
        coef = {name: _check_coef(name, priors) for name in features}
    elif isinstance(priors, dict):
        valid = set(terms) | set(lik.extra)
        unknown = [k for k in priors if k not in valid]
        if unknown:
            raise ValueError(
                f"priors names unknown terms {unknown}; valid names: {terms + list(lik.extra)}"
            )
        for key, value in priors.items():
            if key in lik.extra:
                extra_user[key] = _check_extra(key, value)
            elif key == "intercept":
                intercept = _check_coef(key, value)
            else:
                coef[key] = _check_coef(key, value)
    else:
        raise TypeError(
            "priors must be None, a prior (e.g. Normal(0, 1)), RegularizedHorseshoe(...) or a "
            f"dict term -> prior, got {type(priors).__name__}"
        )

    theta: list[Prior] = []
    if fit_intercept:
        auto = getattr(intercept, "autoscale", False)
        theta.append(intercept.rescale(ratio) if auto else intercept)
    for j, name in enumerate(features):
        prior = coef.get(name, Normal(0.0, _SCALE, autoscale=True))
        theta.append(prior.rescale(ratio / s_x[j]) if getattr(prior, "autoscale", False) else prior)

    extra: dict[str, Prior | float] = {}
    for name in lik.extra:
        if name in extra_user:
            extra[name] = extra_user[name]
        elif name == "sigma":
            extra[name] = HalfNormal(_SCALE * s_y)
        elif name == "alpha":
            extra[name] = float(lik.family.alpha)  # type: ignore[attr-defined]
        else:  # Gamma shape, inverse Gaussian lam: 1 / dispersion
            extra[name] = HalfNormal(5.0 / phi_hat if phi_hat > 0 else 5.0)

    tau0 = math.nan
    if horseshoe is not None:
        if not features:
            raise ValueError("a horseshoe prior needs at least one feature")
        tau0 = horseshoe.global_scale(len(features), X.shape[0]) * _pseudo_sigma(lik, y, w)
        theta = theta[: int(fit_intercept)] + [Flat()] * len(features)
    return ResolvedPriors(terms, theta, extra, horseshoe, tau0, s_x)
