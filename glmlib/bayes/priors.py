"""Prior specifications: small declarative objects, turned into PyMC variables at fit time.

A prior here is a description, not a PyMC variable: ``Normal(0, 2.5)`` stores
its parameters and knows how to become a PyMC distribution
(:meth:`Prior.dist`), a SciPy distribution (:meth:`Prior.scipy`, for prior
draws and densities on the host) and, for the Laplace approximation, the
derivatives of its negative log density. Constructing one never imports PyMC.

Coefficient priors (on the real line): :class:`Normal`, :class:`StudentT`,
:class:`Laplace`, :class:`Logistic` and the improper :class:`Flat`; a joint
sparsity prior :class:`RegularizedHorseshoe`. Priors of positive parameters
(the Gaussian ``sigma``, the Gamma ``shape``, the inverse Gaussian ``lam``,
the negative binomial ``alpha``): :class:`HalfNormal`,
:class:`HalfStudentT`, :class:`Exponential`.

With ``autoscale=True`` the scale is multiplied at fit time by
:math:`s_y / s_{x_j}` (Gaussian family, identity link) or :math:`1 / s_{x_j}`
(otherwise), with :math:`s` the standard deviations of the data, as rstanarm
does; the default coefficient prior is ``Normal(0, 2.5, autoscale=True)``.

References
----------
Gelman, A., Jakulin, A., Pittau, M. G. and Su, Y.-S. (2008). A weakly
informative default prior distribution for logistic and other regression
models. *Ann. Appl. Stat.* 2(4), 1360-1383.

Piironen, J. and Vehtari, A. (2017). Sparsity information and regularization in
the horseshoe and other shrinkage priors. *Electron. J. Statist.* 11(2),
5018-5051.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from ._imports import pymc

__all__ = [
    "Exponential",
    "Flat",
    "HalfNormal",
    "HalfStudentT",
    "Laplace",
    "Logistic",
    "Normal",
    "Prior",
    "RegularizedHorseshoe",
    "StudentT",
]


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}")
    return value


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class Prior:
    """Base class of univariate priors.

    Subclasses set ``support`` (``"real"`` or ``"positive"``), the name of their
    scale field (``_scale``) and of the PyMC distribution (``_pm``, whose
    keyword arguments are the dataclass fields) and implement :meth:`scipy`.
    Smooth priors on the real line also give ``rho'(r) / r`` and ``rho''(r)``
    for :math:`\\rho(r) = -\\log p(\\mu + r)`, used by the Laplace
    approximation (:meth:`mm_weight`, :meth:`curvature`).
    """

    support: ClassVar[str] = "real"
    _scale: ClassVar[str | None] = None
    #: Whether the Laplace approximation can use this prior (smooth log density).
    smooth: ClassVar[bool] = True

    #: Name of the PyMC distribution class.
    _pm: ClassVar[str] = ""

    # ------------------------------------------------------------ to define
    def _params(self) -> dict[str, float]:
        """Keyword arguments of the PyMC distribution."""
        return {
            k: getattr(self, k) for k in ("nu", "mu", "sigma", "b", "s", "lam") if hasattr(self, k)
        }

    def scipy(self) -> Any:
        """The prior as a frozen ``scipy.stats`` distribution."""
        raise NotImplementedError

    def mm_weight(self, r: np.ndarray) -> np.ndarray:
        """rho'(r) / r: weight of the quadratic majoriser of rho at r (non-increasing in |r|)."""
        raise NotImplementedError(f"{type(self).__name__} has no smooth log density")

    def curvature(self, r: np.ndarray) -> np.ndarray:
        """rho''(r), the prior's contribution to the posterior Hessian."""
        raise NotImplementedError(f"{type(self).__name__} has no smooth log density")

    def precision(self) -> float:
        """1 / variance (0 when improper or infinite), a proxy used to precondition NUTS."""
        var = float(self.scipy().var())
        return 1.0 / var if math.isfinite(var) and var > 0 else 1.0 / self.scale**2

    # --------------------------------------------------------------- shared
    @property
    def loc(self) -> float:
        """Location (0 for positive priors)."""
        return float(getattr(self, "mu", 0.0))

    @property
    def scale(self) -> float:
        """The scale parameter (sigma, b, s or 1/lam)."""
        return float(getattr(self, self._scale)) if self._scale else math.inf

    def rescale(self, factor: float) -> Prior:
        """A copy with the scale multiplied by ``factor`` and ``autoscale`` switched off."""
        changes: dict[str, Any] = {}
        if self._scale is not None:
            changes[self._scale] = getattr(self, self._scale) * factor
        if "autoscale" in {f.name for f in dataclasses.fields(self)}:
            changes["autoscale"] = False
        return dataclasses.replace(self, **changes)

    def logpdf(self, x: Any) -> np.ndarray:
        """Log density at ``x`` (NumPy)."""
        return self.scipy().logpdf(x)

    def sample(self, rng: np.random.Generator, size: Any = None) -> np.ndarray:
        """Draws from the prior (NumPy)."""
        return self.scipy().rvs(size=size, random_state=rng)

    def dist(self) -> Any:
        """The prior as an unnamed PyMC distribution (``pm.Normal.dist(...)``)."""
        return getattr(pymc(), self._pm).dist(**self._params())

    def rv(self, name: str, **kwargs: Any) -> Any:
        """A named PyMC random variable in the current model context."""
        return getattr(pymc(), self._pm)(name, **self._params(), **kwargs)


@dataclass(frozen=True)
class Normal(Prior):
    """Normal prior, :math:`\\beta \\sim N(\\mu, \\sigma^2)`.

    Its negative log density is the ridge penalty :math:`(\\beta - \\mu)^2 / (2\\sigma^2)`.

    Parameters
    ----------
    mu : float, default=0
    sigma : float, default=1
    autoscale : bool, default=False
        Multiply ``sigma`` by the data scale at fit time (see the module docstring).
    """

    _pm: ClassVar[str] = "Normal"

    mu: float = 0.0
    sigma: float = 1.0
    autoscale: bool = False
    _scale: ClassVar[str] = "sigma"

    def __post_init__(self) -> None:
        _finite(self.mu, "Normal mu")
        _positive(self.sigma, "Normal sigma")

    def scipy(self) -> Any:
        return stats.norm(self.mu, self.sigma)

    def mm_weight(self, r):
        return np.full_like(np.asarray(r, dtype=float), 1.0 / self.sigma**2)

    def curvature(self, r):
        return self.mm_weight(r)


@dataclass(frozen=True)
class StudentT(Prior):
    """Student-t prior with ``nu`` degrees of freedom (``nu=1`` is the Cauchy).

    .. math:: -\\log p(\\beta) = \\frac{\\nu + 1}{2}
              \\log\\Big(1 + \\frac{(\\beta - \\mu)^2}{\\nu \\sigma^2}\\Big) + c.

    Parameters
    ----------
    nu : float
    mu : float, default=0
    sigma : float, default=1
    autoscale : bool, default=False
    """

    _pm: ClassVar[str] = "StudentT"

    nu: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0
    autoscale: bool = False
    _scale: ClassVar[str] = "sigma"

    def __post_init__(self) -> None:
        _positive(self.nu, "StudentT nu")
        _finite(self.mu, "StudentT mu")
        _positive(self.sigma, "StudentT sigma")

    def scipy(self) -> Any:
        return stats.t(self.nu, self.mu, self.sigma)

    def mm_weight(self, r):
        r = np.asarray(r, dtype=float)
        return (self.nu + 1.0) / (self.nu * self.sigma**2 + r**2)

    def curvature(self, r):
        r = np.asarray(r, dtype=float)
        a = self.nu * self.sigma**2
        return (self.nu + 1.0) * (a - r**2) / (a + r**2) ** 2


@dataclass(frozen=True)
class Laplace(Prior):
    """Laplace (double-exponential) prior, :math:`p(\\beta) \\propto e^{-|\\beta - \\mu| / b}`.

    Its mode is the lasso. Its log density has a kink at ``mu``, so the
    Laplace approximation does not support it (use NUTS).
    """

    _pm: ClassVar[str] = "Laplace"

    mu: float = 0.0
    b: float = 1.0
    autoscale: bool = False
    _scale: ClassVar[str] = "b"
    smooth: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _finite(self.mu, "Laplace mu")
        _positive(self.b, "Laplace b")

    def scipy(self) -> Any:
        return stats.laplace(self.mu, self.b)


@dataclass(frozen=True)
class Logistic(Prior):
    """Logistic prior with location ``mu`` and scale ``s``.

    ``Logistic(0, 1)`` on the intercept of an intercept-only logistic
    regression is the uniform prior on the success probability
    :math:`p = 1 / (1 + e^{-\\beta_0})`.
    """

    _pm: ClassVar[str] = "Logistic"

    mu: float = 0.0
    s: float = 1.0
    autoscale: bool = False
    _scale: ClassVar[str] = "s"

    def __post_init__(self) -> None:
        _finite(self.mu, "Logistic mu")
        _positive(self.s, "Logistic s")

    def scipy(self) -> Any:
        return stats.logistic(self.mu, self.s)

    def mm_weight(self, r):
        # rho(r) = r/s + 2 log(1 + exp(-r/s)); rho'(r) = tanh(r / 2s) / s.
        r = np.asarray(r, dtype=float)
        u = r / (2.0 * self.s)
        small = np.abs(u) < 1e-8
        safe = np.where(small, 1.0, u)
        return np.where(small, 1.0 / (2.0 * self.s**2), np.tanh(safe) / (2.0 * self.s**2 * safe))

    def curvature(self, r):
        r = np.asarray(r, dtype=float)
        return 1.0 / (2.0 * self.s**2 * np.cosh(r / (2.0 * self.s)) ** 2)


@dataclass(frozen=True)
class Flat(Prior):
    """Improper flat prior on the real line (the posterior mode is the MLE).

    It has no density to draw from; the posterior is proper only when the
    likelihood identifies the coefficient.
    """

    _pm: ClassVar[str] = "Flat"

    def scipy(self) -> Any:
        raise ValueError("the Flat prior is improper: it has no distribution to draw from")

    def logpdf(self, x):
        return np.zeros_like(np.asarray(x, dtype=float))

    def mm_weight(self, r):
        return np.zeros_like(np.asarray(r, dtype=float))

    def curvature(self, r):
        return self.mm_weight(r)

    def precision(self) -> float:
        return 0.0

    def rescale(self, factor: float) -> Prior:
        return self


@dataclass(frozen=True)
class HalfNormal(Prior):
    """Half-normal prior for a positive parameter: :math:`|N(0, \\sigma^2)|`."""

    _pm: ClassVar[str] = "HalfNormal"

    sigma: float = 1.0
    support: ClassVar[str] = "positive"
    _scale: ClassVar[str] = "sigma"

    def __post_init__(self) -> None:
        _positive(self.sigma, "HalfNormal sigma")

    def scipy(self) -> Any:
        return stats.halfnorm(0.0, self.sigma)


@dataclass(frozen=True)
class HalfStudentT(Prior):
    """Half-Student-t prior for a positive parameter (``nu=1``: half-Cauchy)."""

    _pm: ClassVar[str] = "HalfStudentT"

    nu: float = 3.0
    sigma: float = 1.0
    support: ClassVar[str] = "positive"
    _scale: ClassVar[str] = "sigma"

    def __post_init__(self) -> None:
        _positive(self.nu, "HalfStudentT nu")
        _positive(self.sigma, "HalfStudentT sigma")

    def scipy(self) -> Any:
        return stats.halfcauchy(0, self.sigma) if self.nu == 1 else _HalfT(self.nu, self.sigma)


@dataclass(frozen=True)
class Exponential(Prior):
    """Exponential prior with rate ``lam`` (mean ``1 / lam``) for a positive parameter."""

    _pm: ClassVar[str] = "Exponential"

    lam: float = 1.0
    support: ClassVar[str] = "positive"

    def __post_init__(self) -> None:
        _positive(self.lam, "Exponential lam")

    @property
    def scale(self) -> float:
        return 1.0 / self.lam

    def rescale(self, factor: float) -> Prior:
        return Exponential(self.lam / factor)

    def scipy(self) -> Any:
        return stats.expon(scale=1.0 / self.lam)


class _HalfT:
    """|t_nu| * sigma as a minimal frozen distribution (SciPy has no half-t)."""

    def __init__(self, nu: float, sigma: float) -> None:
        self.t = stats.t(nu, 0.0, sigma)

    def logpdf(self, x):
        x = np.asarray(x, dtype=float)
        return np.where(x >= 0, math.log(2.0) + self.t.logpdf(x), -np.inf)

    def rvs(self, size=None, random_state=None):
        return np.abs(self.t.rvs(size=size, random_state=random_state))

    def var(self):
        return math.inf


@dataclass(frozen=True)
class RegularizedHorseshoe:
    """Regularized horseshoe prior on all coefficients (Piironen & Vehtari 2017).

    .. math::

        \\beta_j = z_j \\, \\tau \\, \\tilde\\lambda_j, \\quad
        \\tilde\\lambda_j^2 = \\frac{c^2 \\lambda_j^2}{c^2 + \\tau^2 \\lambda_j^2}, \\quad
        z_j \\sim N(0, 1), \\quad \\lambda_j \\sim C^+(0, 1), \\quad
        \\tau \\sim C^+(0, \\tau_0), \\quad
        c^2 \\sim \\text{Inv-Gamma}(\\nu_s / 2, \\nu_s s^2 / 2),

    with the global scale :math:`\\tau_0 = \\frac{p_0}{D - p_0} \\frac{\\sigma}{\\sqrt{n}}`
    (their eq. 3.12) for :math:`p_0` relevant coefficients out of :math:`D`, and
    :math:`\\sigma` the Gaussian noise scale or, for other families, the
    pseudo-standard deviation of their section 3.5 (binomial:
    :math:`1/\\sqrt{\\bar\\mu(1 - \\bar\\mu)}`; Poisson: :math:`1/\\sqrt{\\bar y}`; 1
    otherwise). Small coefficients are shrunk towards zero like the horseshoe;
    large ones are regularised like a Student-t slab with scale ``slab_scale``.
    Non-centred parametrisation. With ``autoscale=True`` (default) the prior
    holds for coefficients of standardized columns, :math:`\\beta_j s_{x_j}`.

    Parameters
    ----------
    p0 : float, optional
        Prior guess of the number of non-zero coefficients.
    tau0 : float, optional
        Global scale, instead of ``p0``. Give exactly one of the two.
    slab_scale, slab_df : float, default=2, 4
        Scale and degrees of freedom of the slab.
    autoscale : bool, default=True
    """

    p0: float | None = None
    tau0: float | None = None
    slab_scale: float = 2.0
    slab_df: float = 4.0
    autoscale: bool = True

    def __post_init__(self) -> None:
        if (self.p0 is None) == (self.tau0 is None):
            raise ValueError(
                "RegularizedHorseshoe needs exactly one of p0 (the expected number of "
                "relevant coefficients) or tau0 (the global scale)"
            )
        if self.p0 is not None:
            _positive(self.p0, "RegularizedHorseshoe p0")
        if self.tau0 is not None:
            _positive(self.tau0, "RegularizedHorseshoe tau0")
        _positive(self.slab_scale, "RegularizedHorseshoe slab_scale")
        _positive(self.slab_df, "RegularizedHorseshoe slab_df")

    def global_scale(self, n_coef: int, n_obs: int) -> float:
        """tau0 without the noise scale: p0 / (D - p0) / sqrt(n), or the given tau0."""
        if self.tau0 is not None:
            return float(self.tau0)
        assert self.p0 is not None
        if not self.p0 < n_coef:
            raise ValueError(
                f"RegularizedHorseshoe p0 = {self.p0:g} must be smaller than the number of "
                f"coefficients ({n_coef})"
            )
        return self.p0 / (n_coef - self.p0) / math.sqrt(n_obs)

    def build(self, name: str, tau0: Any, col_scale: np.ndarray, dims: str) -> Any:
        """Create the PyMC variables in the current model; return the coefficient vector.

        ``tau0`` may be a PyTensor expression (it scales with the Gaussian sigma);
        ``col_scale`` divides the coefficients when ``autoscale`` is on.
        """
        pm = pymc()
        k = len(col_scale)
        z = pm.Normal(f"{name}_z", 0.0, 1.0, shape=k)
        lam = pm.HalfStudentT(f"{name}_lambda", nu=1.0, sigma=1.0, shape=k)
        tau = pm.HalfStudentT(f"{name}_tau", nu=1.0, sigma=1.0) * tau0
        c2 = pm.InverseGamma(
            f"{name}_c2", alpha=self.slab_df / 2, beta=self.slab_df * self.slab_scale**2 / 2
        )
        lam_t = pm.math.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
        scale = 1.0 / col_scale if self.autoscale else np.ones(k)
        return pm.Deterministic(name, z * tau * lam_t * scale, dims=dims)

    def sample(self, rng: np.random.Generator, size: int, tau0: Any, col_scale: np.ndarray):
        """Prior draws (size x k) of the coefficients; ``tau0`` a number or (size, 1) array."""
        k = len(col_scale)
        z = rng.standard_normal((size, k))
        lam = np.abs(stats.cauchy.rvs(size=(size, k), random_state=rng))
        tau = np.abs(stats.cauchy.rvs(size=(size, 1), random_state=rng)) * tau0
        c2 = stats.invgamma.rvs(
            self.slab_df / 2,
            scale=self.slab_df * self.slab_scale**2 / 2,
            size=(size, 1),
            random_state=rng,
        )
        lam_t = np.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
        scale = 1.0 / col_scale if self.autoscale else np.ones(k)
        return z * tau * lam_t * scale
