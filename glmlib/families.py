"""Exponential-dispersion families: a variance function, a unit deviance and a link.

A family declares its variance V(mu), unit deviance d(y, mu), the support of y,
its canonical (default) link and the links it accepts. The shared base class
supplies the total deviance, Pearson statistics and R's AIC bookkeeping once.
Array functions work on NumPy, PyTorch and CuPy arrays; log-likelihoods (used
once after a fit) take NumPy arrays.

References
----------
McCullagh, P. and Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.
Chapman & Hall.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from scipy.special import gammaln

from ._backend import constant_value, namespace
from .links import Identity, Inverse, InverseSquared, Link, Log, Logit, _max_exp, get_link


def _local_total(a: Any) -> float:
    """Sum of an array over the rows at hand (the default for AIC terms)."""
    return float(np.sum(a))


__all__ = [
    "Binomial",
    "Family",
    "Gamma",
    "Gaussian",
    "InverseGaussian",
    "NegativeBinomial",
    "Poisson",
    "Tweedie",
    "get_family",
]


def _xlogy_ratio(y: Any, mu: Any) -> Any:
    """y * log(y / mu), defined as 0 where y == 0 (y >= 0, mu > 0).

    Clipping y at the smallest normal number keeps the logarithm finite where
    y == 0 (and the product 0) without a masked pass, so the logarithm stays
    vectorised: about 2x faster than scipy.special.rel_entr on NumPy.
    """
    xp = namespace(y, mu)
    tiny = float(xp.finfo(mu.dtype).tiny)
    return y * xp.log(xp.clip(y, tiny, None) / mu)


def _softplus(z: Any, overwrite: bool = False) -> Any:
    """log(1 + exp(z)) without overflow or cancellation.

    On NumPy the work is done in place (in ``z`` itself when ``overwrite``),
    so that at most one temporary of z's size exists besides the result:
    the loss of a large fit is where its memory peaks.
    """
    if isinstance(z, np.ndarray):
        out = np.abs(z)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        if overwrite:
            np.maximum(z, 0.0, out=z)
            out += z
        else:
            out += np.maximum(z, 0.0)
        return out
    xp = namespace(z)
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def _finite_within(eta: Any, bound: float) -> tuple[Any, Any]:
    """(whether every eta is finite, eta clipped to [-bound, bound]).

    Two reductions give both answers. On the host the clipping pass is
    skipped when no eta reaches the bound, the usual case; on a GPU eta is
    always clipped, so that no value has to come back to the host.
    """
    xp = namespace(eta)
    low, high = xp.min(eta), xp.max(eta)
    ok = (low > -math.inf) & (high < math.inf)
    if not (isinstance(eta, np.ndarray) and float(low) > -bound and float(high) < bound):
        eta = xp.clip(eta, -bound, bound)
    return ok, eta


class Family:
    """Base class for exponential-dispersion families.

    Subclasses set ``name``, ``canonical_link``, ``valid_links`` and
    ``has_dispersion`` and implement :meth:`variance`, :meth:`unit_deviance`,
    :meth:`check_y` and :meth:`_aic_term`.
    """

    name: str = "family"
    canonical_link: type[Link] = Identity
    valid_links: tuple[str, ...] = ()
    #: Whether the dispersion is estimated (Pearson chi^2 / df) rather than fixed at 1.
    has_dispersion: bool = True
    #: Whether y must be non-negative (>= 0 or > 0, as :meth:`check_y` says): the
    #: family's target tag for scikit-learn (``target_tags.positive_only``).
    nonnegative_y: bool = True
    #: Whether d mu / d eta = V(mu) under ``canonical_link`` (the natural
    #: parameter is eta itself), so the score is w (y - mu) and the Fisher weight w V(mu).
    canonical_is_natural: bool = False

    def __init__(self, link: str | Link | None = None) -> None:
        self.link = self.canonical_link() if link is None else get_link(link)
        if self.valid_links and self.link.name not in self.valid_links:
            raise ValueError(
                f"link {self.link.name!r} is not valid for the {self.name} family; "
                f"valid links: {list(self.valid_links)}"
            )

    # --------------------------------------------------------------- to define
    def variance(self, mu: Any) -> Any:
        """Variance function V(mu)."""
        raise NotImplementedError

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        """Unit deviance d(y, mu) >= 0, zero at mu = y."""
        raise NotImplementedError

    def check_y(self, y: np.ndarray) -> None:
        """Raise ValueError when ``y`` lies outside the family's support."""

    #: Whether means must be strictly positive (R's ``validmu``); binomial overrides.
    positive_mean: bool = True

    def valid_mu(self, mu: Any) -> Any:
        """Whether every mean is admissible for the family, as a 0-d array."""
        xp = namespace(mu)
        ok = xp.isfinite(mu)
        if self.positive_mean:
            ok = ok & (mu > 0)
        return xp.all(ok)

    #: Whether :meth:`_aic_term` reads mu (else y, the weights and the deviance suffice).
    aic_needs_mu = True

    def _aic_term(
        self,
        y: np.ndarray,
        mu: np.ndarray | None,
        w: np.ndarray,
        dev: float,
        total: Callable[[Any], float] = _local_total,
    ) -> float:
        """R's ``family()$aic``: -2 log-likelihood (+2 for a free dispersion).

        Sums over rows go through ``total`` (see :meth:`r_aic`).
        """
        return math.nan

    def eta_loss_state(self, y: Any, w: Any) -> Any:
        """Per-fit constants for :meth:`eta_loss`, or None without that shortcut.

        Families whose half deviance under their natural link is cheaper to
        evaluate from eta directly (no inverse link, ratio or logarithm per
        row) override this and :meth:`eta_loss`.
        """
        return None

    def eta_loss_constant(self, y: Any, w: Any) -> float | None:
        """The ``"constant"`` of :meth:`eta_loss_state` alone (the fused passes need no other
        part of the state), or None without the shortcut."""
        state = self.eta_loss_state(y, w)
        return None if state is None else float(state["constant"])

    def eta_loss(self, y: Any, eta: Any, w: Any, state: Any) -> tuple[Any, Any, Any]:
        """(sum_i w_i d(y_i, mu_i) / 2, whether every eta is admissible, mu or None) from eta.

        mu = link.inverse(eta) is returned when computing the loss formed it
        anyway, so that the working weights at the same eta can reuse it.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def deviance(self, y: Any, mu: Any, w: Any) -> Any:
        """Total deviance sum_i w_i d(y_i, mu_i); rows with w_i = 0 add nothing, whatever mu_i."""
        xp = namespace(y)
        counted = w > 0
        if not bool(xp.all(counted)):
            y, mu, w = y[counted], mu[counted], w[counted]
        return xp.sum(w * self.unit_deviance(y, mu))

    def pearson_chi2(self, y: Any, mu: Any, w: Any) -> Any:
        """Pearson statistic sum_i w_i (y_i - mu_i)^2 / V(mu_i); rows with w_i = 0 add nothing."""
        xp = namespace(y)
        counted = w > 0
        if not bool(xp.all(counted)):
            y, mu, w = y[counted], mu[counted], w[counted]
        return xp.sum(w * (y - mu) ** 2 / self.variance(mu))

    def starting_mu(self, y: Any, w: Any, ybar: Any = None) -> Any:
        """Starting means for IRLS: halfway between y and its weighted mean.

        ``ybar`` is that mean when the caller has it (over all rows of a
        sharded fit); by default it is computed from ``y`` and ``w``.
        """
        if ybar is None:
            xp = namespace(y)
            ybar = xp.sum(w * y) / xp.sum(w)
        return (y + ybar) / 2.0

    def r_aic(
        self,
        y: np.ndarray,
        mu: np.ndarray | None,
        w: np.ndarray,
        rank: int,
        deviance: float | None = None,
        total: Callable[[Any], float] | None = None,
    ) -> float:
        """AIC as R's ``glm()`` reports it: family aic term + 2 * rank.

        ``deviance`` (sum w d, when the caller has it) saves a pass over the data.
        ``total`` sums an array over all rows (default: ``np.sum`` of the local
        rows; a sharded fit passes one that adds the other processes' sums).
        ``mu`` may be None when ``deviance`` is given and the family's term
        needs no mu (:attr:`aic_needs_mu` False).
        """
        total = _local_total if total is None else total
        c = constant_value(w)
        if c is None or not c > 0:  # constant positive weights drop no row
            keep = w > 0
            if not np.all(keep):
                y, w = y[keep], w[keep]
                mu = None if mu is None else mu[keep]
        if deviance is None:
            deviance = total(w * np.asarray(self.unit_deviance(y, mu)))
        return self._aic_term(y, mu, w, deviance, total) + 2.0 * rank

    def n_params_extra(self) -> int:
        """Parameters beyond the coefficients counted by R's logLik (the dispersion)."""
        return 1 if self.name in ("gaussian", "gamma", "inverse_gaussian") else 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link!r})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    @property
    def natural_link(self) -> bool:
        """Whether the link is the canonical one with d mu / d eta = V(mu)."""
        return self.canonical_is_natural and type(self.link) is self.canonical_link

    def init_params(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this family."""
        return {"link": self.link}


class Gaussian(Family):
    """Gaussian family: V(mu) = 1, d(y, mu) = (y - mu)^2; canonical link identity."""

    name = "gaussian"
    canonical_link = Identity
    canonical_is_natural = True
    positive_mean = False
    nonnegative_y = False
    valid_links = ("identity", "log", "inverse", "power", "sqrt", "inverse_squared")

    def variance(self, mu: Any) -> Any:
        return namespace(mu).ones_like(mu)

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        return (y - mu) ** 2

    def starting_mu(self, y: Any, w: Any, ybar: Any = None) -> Any:
        if self.link.name == "identity":
            return y
        return super().starting_mu(y, w, ybar)

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        nobs = total(np.ones_like(y))
        if dev <= 0:  # a perfect fit: R reports -Inf
            return -math.inf
        return nobs * (math.log(2 * math.pi * dev / nobs) + 1) + 2 - total(np.log(w))


class Binomial(Family):
    """Binomial family for proportions y in [0, 1] with trials as weights.

    V(mu) = mu (1 - mu); d(y, mu) = 2 [y log(y/mu) + (1-y) log((1-y)/(1-mu))].
    As in R's ``glm(cbind(successes, failures) ~ ...)``, pass the proportion of
    successes as ``y`` and the number of trials as ``sample_weight``.
    Canonical link logit.
    """

    name = "binomial"
    canonical_link = Logit
    canonical_is_natural = True
    valid_links = ("logit", "probit", "cloglog", "log")
    has_dispersion = False

    def variance(self, mu: Any) -> Any:
        return mu * (1.0 - mu)

    def valid_mu(self, mu: Any) -> Any:
        xp = namespace(mu)
        return xp.all((mu > 0) & (mu < 1))

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        return 2.0 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1.0 - y, 1.0 - mu))

    def starting_mu(self, y: Any, w: Any, ybar: Any = None) -> Any:
        # R's binomial()$initialize: (w y + 0.5) / (w + 1); row by row, no mean needed.
        return (w * y + 0.5) / (w + 1.0)

    # Under the logit link d/2 = y softplus(-eta) + (1 - y) softplus(eta) +
    # y log y + (1 - y) log(1 - y): no cancellation, and for 0/1 responses a
    # single softplus((1 - 2y) eta). eta is clipped where the logit link clips
    # mu to [eps, 1 - eps] (as R does), so both forms agree everywhere.

    def eta_loss_state(self, y: Any, w: Any) -> Any:
        if not self.natural_link:
            return None
        xp = namespace(y)
        if bool(xp.all((y == 0) | (y == 1))):
            return {"sign": 1.0 - 2.0 * y, "constant": 0.0}
        entropy = _xlogy_ratio(y, xp.ones_like(y)) + _xlogy_ratio(1.0 - y, xp.ones_like(y))
        return {"sign": None, "constant": xp.sum(w * entropy), "wy": w * y, "w1y": w * (1.0 - y)}

    def eta_loss(self, y: Any, eta: Any, w: Any, state: Any) -> tuple[Any, Any, Any]:
        eps = float(namespace(eta).finfo(eta.dtype).eps)
        ok, eta = _finite_within(eta, math.log((1.0 - eps) / eps))
        if state["sign"] is not None:
            value = w @ _softplus(state["sign"] * eta, overwrite=True)
        else:
            value = state["wy"] @ _softplus(-eta) + state["w1y"] @ _softplus(eta)
            value = value + state["constant"]
        return value, ok, None

    def check_y(self, y):
        if np.any((y < 0) | (y > 1)):
            raise ValueError(
                "binomial y must be proportions in [0, 1] (pass the number of trials "
                "as sample_weight); found values outside [0, 1]"
            )

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        # R: m = trials = prior weights; log dbinom(round(m y), round(m), mu).
        if total((w != 1) | ((y != 0) & (y != 1))) == 0:
            return dev  # single 0/1 trials: log dbinom = y log mu + (1-y) log(1-mu) = -d/2
        m = w
        k = np.round(m * y)
        n = np.round(m)
        logpmf = _np_xlogy(k, mu) + _np_xlogy(n - k, 1 - mu)
        if np.any(n > 1):  # the binomial coefficient is 1 for single trials: a row-wise shortcut
            logpmf += gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
        return -2.0 * total(np.where(m > 0, w / m, 0.0) * logpmf)


class Poisson(Family):
    """Poisson family: V(mu) = mu, d(y, mu) = 2 [y log(y/mu) - (y - mu)]; canonical link log."""

    name = "poisson"
    canonical_link = Log
    canonical_is_natural = True
    valid_links = ("log", "identity", "sqrt")
    has_dispersion = False

    def variance(self, mu: Any) -> Any:
        return mu

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        return 2.0 * (_xlogy_ratio(y, mu) - (y - mu))

    def check_y(self, y):
        if np.any(y < 0):
            raise ValueError("poisson y must be non-negative counts; found negative values")

    # Under the log link d/2 = y (log y - eta) - y + exp(eta): no division and
    # no per-evaluation logarithm. Its round-off grows with y |log y| where the
    # ratio form's grows with y, so the shortcut is kept to responses whose
    # weighted mean of y (1 + |log y|) stays below _ETA_LOSS_MAX_SCALE, where
    # either form is far inside the line search's round-off slack. eta is
    # clipped where the log link clips it, so both forms agree everywhere.
    _ETA_LOSS_MAX_SCALE = 100.0

    def eta_loss_state(self, y: Any, w: Any) -> Any:
        if not self.natural_link:
            return None
        xp = namespace(y)
        log_y = xp.log(xp.clip(y, float(xp.finfo(y.dtype).tiny), None))
        scale = float(xp.sum(w * y * (1.0 + xp.abs(log_y))) / xp.sum(w))
        if not scale <= self._ETA_LOSS_MAX_SCALE:
            return None
        wy = w * y
        # sum w (y log y - y), with y log y = 0 at y = 0
        return {"wy": wy, "constant": wy @ log_y - xp.sum(wy)}

    def eta_loss_constant(self, y: Any, w: Any) -> float | None:
        """sum_i w_i (y_i log y_i - y_i), or None without the shortcut; for integer counts
        from their weighted counts (one pass over y, no n-vector formed)."""
        if not self.natural_link:
            return None
        counts = _weighted_counts(y, w)
        if counts is None:
            return super().eta_loss_constant(y, w)
        k = np.arange(counts.shape[0], dtype=np.float64)
        log_k = np.log(np.maximum(k, np.finfo(np.float64).tiny))
        if not float(counts @ (k * (1.0 + np.abs(log_k)))) / float(np.sum(counts)) <= (
            self._ETA_LOSS_MAX_SCALE
        ):
            return None
        return float(counts @ (k * log_k) - counts @ k)

    def eta_loss(self, y: Any, eta: Any, w: Any, state: Any) -> tuple[Any, Any, Any]:
        ok, eta = _finite_within(eta, _max_exp(eta))
        mu = namespace(eta).exp(eta)  # = self.link.inverse(eta)
        value = state["constant"] - state["wy"] @ eta + w @ mu
        return value, ok, mu

    aic_needs_mu = False

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        # -2 sum w log dpois(y, mu) = dev - 2 sum w (y log y - y - log y!): the
        # deviance (which the fit has) and a sum over y alone, the Poisson
        # log-likelihood at mu = y; for integer counts a sum over the distinct
        # counts (one gammaln each).
        counts = _weighted_counts(y, w)
        if counts is None:
            saturated = w * (_np_xlogy(y, y) - y - gammaln(y + 1))
        else:
            k = np.arange(counts.shape[0], dtype=np.float64)
            saturated = counts @ (_np_xlogy(k, k) - k - gammaln(k + 1))
        return dev - 2.0 * total(saturated)


# Responses whose values are integers 0..this (counts) are summed over their
# distinct values: sum_i w_i f(y_i) = sum_k c_k f(k), c_k the weight of the
# rows with y_i = k (one pass over y; f evaluated 65537 times at most).
_COUNT_TABLE_MAX = 1 << 16


def _weighted_counts(y: Any, w: Any) -> np.ndarray | None:
    """c_k = sum of w_i over the rows with y_i = k, k = 0..max(y), for a NumPy vector of
    integer counts at most ``_COUNT_TABLE_MAX``; None for any other y (or a GPU array).

    ``w`` may be a constant vector (stride 0): the rows are then counted
    exactly and the counts scaled once.
    """
    if not (
        isinstance(y, np.ndarray)
        and isinstance(w, np.ndarray)
        and y.dtype == np.float64
        and w.dtype == np.float64
        and y.ndim == 1
        and y.size
    ):
        return None
    constant = w.strides == (0,) or w.shape[0] == 1
    counts, top = _count_rows(y, np.ones(1) if constant else w, _COUNT_TABLE_MAX + 1)
    if top < 0:
        return None
    return counts[: top + 1] * w[0] if constant else counts[: top + 1]


@numba.njit(cache=True, nogil=True)
def _count_rows(y, w, size):  # pragma: no cover - compiled
    """(sum of w over the rows with y_i = k for k < size, the largest k), or (_, -1) when
    some y_i is not an integer in [0, size); a w of one element weighs every row alike."""
    counts = np.zeros(size)
    ws = 1 if w.shape[0] > 1 else 0
    top = -1
    for i in range(y.shape[0]):
        v = y[i]
        if not (0.0 <= v < size):  # NaN fails too
            return counts, -1
        k = int(v)
        if k != v:
            return counts, -1
        counts[k] += w[i * ws]
        top = max(top, k)
    return counts, top


class Gamma(Family):
    """Gamma family: V(mu) = mu^2, d(y, mu) = 2 [-log(y/mu) + (y - mu)/mu]; canonical link inverse."""

    name = "gamma"
    canonical_link = Inverse
    valid_links = ("inverse", "identity", "log")

    def variance(self, mu: Any) -> Any:
        return mu**2

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        xp = namespace(y, mu)
        return 2.0 * (-xp.log(y / mu) + (y - mu) / mu)

    def check_y(self, y):
        if np.any(y <= 0):
            raise ValueError("gamma y must be strictly positive; found values <= 0")

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        # R: disp <- dev/n; -2 * sum(dgamma(y, 1/disp, scale = mu*disp, log = TRUE) * wt) + 2
        disp = dev / total(w)
        if disp <= 0:
            return -math.inf
        shape = 1.0 / disp
        scale = mu * disp
        logpdf = -gammaln(shape) - shape * np.log(scale) + (shape - 1) * np.log(y) - y / scale
        return -2.0 * total(logpdf * w) + 2.0


class InverseGaussian(Family):
    """Inverse Gaussian family: V(mu) = mu^3, d(y, mu) = (y - mu)^2 / (mu^2 y).

    Canonical link inverse_squared (1 / mu^2).
    """

    name = "inverse_gaussian"
    canonical_link = InverseSquared
    valid_links = ("inverse_squared", "inverse", "identity", "log")

    def variance(self, mu: Any) -> Any:
        return mu**3

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        return (y - mu) ** 2 / (mu**2 * y)

    def check_y(self, y):
        if np.any(y <= 0):
            raise ValueError("inverse_gaussian y must be strictly positive; found values <= 0")

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        sw = total(w)
        if dev <= 0:
            return -math.inf
        return sw * (math.log(dev / sw * 2 * math.pi) + 1) + 3 * total(np.log(y) * w) + 2


class Tweedie(Family):
    """Tweedie family with variance power p: V(mu) = mu^p.

    p = 0 is Gaussian, 1 Poisson, 2 Gamma, 3 inverse Gaussian; 1 < p < 2 is the
    compound Poisson-gamma distribution for non-negative data with exact zeros.
    The default link is log (the canonical link mu^(1-p) constrains the sign of
    eta and is rarely used; glum and scikit-learn also default to log).
    The log-likelihood has no closed form, so ``llf_``/``aic_`` are NaN, as R's
    ``statmod::tweedie`` reports NA.
    """

    name = "tweedie"
    canonical_link = Log
    valid_links = ("log", "identity", "power", "inverse", "sqrt", "inverse_squared")

    def __init__(self, power: float = 1.5, link: str | Link | None = None) -> None:
        power = float(power)
        if not math.isfinite(power) or 0 < power < 1 or power < 0:
            raise ValueError(f"Tweedie power must be 0 or >= 1, got {power!r}")
        self.power = power
        self.positive_mean = power > 0
        self.nonnegative_y = power > 0  # power 0 is the Gaussian: any real y
        super().__init__(link)

    def variance(self, mu: Any) -> Any:
        return mu**self.power

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        p = self.power
        xp = namespace(y, mu)
        if p == 0:
            return (y - mu) ** 2
        if p == 1:
            return 2.0 * (_xlogy_ratio(y, mu) - (y - mu))
        if p == 2:
            return 2.0 * (-xp.log(y / mu) + (y - mu) / mu)
        y_pos = xp.clip(y, 0.0, None)
        return 2.0 * (
            y_pos ** (2 - p) / ((1 - p) * (2 - p))
            - y * mu ** (1 - p) / (1 - p)
            + mu ** (2 - p) / (2 - p)
        )

    def check_y(self, y):
        if self.power >= 2 and np.any(y <= 0):
            raise ValueError(f"tweedie y must be > 0 for power {self.power:g}; found values <= 0")
        if 1 <= self.power < 2 and np.any(y < 0):
            raise ValueError(f"tweedie y must be >= 0 for power {self.power:g}; found negatives")

    def init_params(self) -> dict[str, Any]:
        return {"power": self.power, "link": self.link}

    def __repr__(self) -> str:
        return f"Tweedie(power={self.power:g}, link={self.link!r})"


class NegativeBinomial(Family):
    """Negative binomial family with fixed alpha: V(mu) = mu + alpha mu^2.

    d(y, mu) = 2 [y log(y/mu) - (y + 1/alpha) log((1 + alpha y) / (1 + alpha mu))].
    alpha = 1/theta in R's ``MASS::negative.binomial(theta)``. The default link
    is log (as in MASS and statsmodels); the canonical link is seldom used.
    """

    name = "negative_binomial"
    canonical_link = Log
    valid_links = ("log", "identity", "sqrt")
    has_dispersion = False

    def __init__(self, alpha: float = 1.0, link: str | Link | None = None) -> None:
        alpha = float(alpha)
        if not math.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"NegativeBinomial alpha must be > 0, got {alpha!r}")
        self.alpha = alpha
        super().__init__(link)

    def variance(self, mu: Any) -> Any:
        return mu + self.alpha * mu**2

    def unit_deviance(self, y: Any, mu: Any) -> Any:
        xp = namespace(y, mu)
        a = self.alpha
        return 2.0 * (_xlogy_ratio(y, mu) - (y + 1.0 / a) * xp.log((1.0 + a * y) / (1.0 + a * mu)))

    def check_y(self, y):
        if np.any(y < 0):
            raise ValueError("negative_binomial y must be non-negative counts; found negatives")

    def _aic_term(self, y, mu, w, dev, total=_local_total):
        # MASS::negative.binomial(theta)$aic
        theta = 1.0 / self.alpha
        term = (
            (y + theta) * np.log(mu + theta)
            - _np_xlogy(y, mu)
            + gammaln(y + 1)
            - theta * np.log(theta)
            + gammaln(theta)
            - gammaln(theta + y)
        )
        return 2.0 * total(term * w)

    def init_params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "link": self.link}

    def __repr__(self) -> str:
        return f"NegativeBinomial(alpha={self.alpha:g}, link={self.link!r})"


def _np_xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


_FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "normal": Gaussian,
    "binomial": Binomial,
    "poisson": Poisson,
    "gamma": Gamma,
    "inverse_gaussian": InverseGaussian,
    "tweedie": Tweedie,
    "negative_binomial": NegativeBinomial,
}


def get_family(family: str | Family, link: str | Link | None = None, **kwargs: Any) -> Family:
    """Return a :class:`Family` from a name or an instance.

    Parameters
    ----------
    family : str or Family
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``,
        ``"inverse_gaussian"``, ``"tweedie"`` or ``"negative_binomial"``, or an
        instance such as ``Tweedie(power=1.5)``.
    link : str or Link, optional
        Overrides the family's default link. With a Family instance whose link
        differs, a new instance is built with this link.
    **kwargs
        Family parameters for names: ``power`` for Tweedie, ``alpha`` for the
        negative binomial.

    Examples
    --------
    >>> get_family("poisson").link
    Log()
    >>> get_family("binomial", link="probit")
    Binomial(link=Probit())
    """
    if isinstance(family, Family):
        if link is None or get_link(link) == family.link:
            return family
        params = family.init_params()
        params["link"] = link
        return type(family)(**params)
    if not isinstance(family, str):
        raise TypeError(
            f"family must be a string or a glmlib.families.Family, got {type(family).__name__}"
        )
    key = family.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; valid families: {sorted(set(_FAMILIES))}")
    return _FAMILIES[key](link=link, **kwargs)
