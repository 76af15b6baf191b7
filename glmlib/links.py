"""Link functions g(mu) = eta relating the mean to the linear predictor.

Each link gives ``link(mu)``, ``inverse(eta)`` and ``inverse_deriv(eta)`` =
d mu / d eta, the only derivative the solvers need. Functions work on NumPy,
PyTorch and CuPy arrays alike. Inverse links are clipped so that means stay
finite and strictly inside the family's range, as R's ``make.link`` does.
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import expit, namespace, ndtr, ndtri

__all__ = [
    "CLogLog",
    "Identity",
    "Inverse",
    "InverseSquared",
    "Link",
    "Log",
    "Logit",
    "Power",
    "Probit",
    "Sqrt",
    "get_link",
]

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)


def _eps(a: Any) -> float:
    return float(namespace(a).finfo(a.dtype).eps)


def _max_exp(a: Any) -> float:
    """Largest argument to exp that stays finite in ``a``'s dtype, with headroom."""
    return math.log(float(namespace(a).finfo(a.dtype).max)) - 10.0


class Link:
    """Base class for links. Subclasses implement the three functions."""

    name: str = "link"

    def link(self, mu: Any) -> Any:
        """eta = g(mu)."""
        raise NotImplementedError

    def inverse(self, eta: Any) -> Any:
        """mu = g^{-1}(eta)."""
        raise NotImplementedError

    def inverse_deriv(self, eta: Any) -> Any:
        """d mu / d eta evaluated at eta."""
        raise NotImplementedError

    def deriv(self, mu: Any) -> Any:
        """g'(mu) = 1 / (d mu / d eta)."""
        return 1.0 / self.inverse_deriv(self.link(mu))

    def valid_eta(self, eta: Any) -> Any:
        """Whether every eta lies in the link's domain (R's ``valideta``), as a 0-d array."""
        xp = namespace(eta)
        return xp.all(xp.isfinite(eta))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.__dict__.items()))))


class Identity(Link):
    """Identity link, g(mu) = mu."""

    name = "identity"

    def link(self, mu: Any) -> Any:
        return mu

    def inverse(self, eta: Any) -> Any:
        return eta

    def inverse_deriv(self, eta: Any) -> Any:
        return namespace(eta).ones_like(eta)


class Log(Link):
    """Log link, g(mu) = log(mu); mu = exp(eta) > 0."""

    name = "log"

    def link(self, mu: Any) -> Any:
        return namespace(mu).log(mu)

    def inverse(self, eta: Any) -> Any:
        xp = namespace(eta)
        return xp.exp(xp.clip(eta, -_max_exp(eta), _max_exp(eta)))

    def inverse_deriv(self, eta: Any) -> Any:
        return self.inverse(eta)


class Logit(Link):
    """Logit link, g(p) = log(p / (1 - p)); p = 1 / (1 + exp(-eta))."""

    name = "logit"

    def link(self, mu: Any) -> Any:
        xp = namespace(mu)
        return xp.log(mu) - xp.log1p(-mu)

    def inverse(self, eta: Any) -> Any:
        xp = namespace(eta)
        eps = _eps(eta)
        return xp.clip(expit(eta), eps, 1.0 - eps)

    def inverse_deriv(self, eta: Any) -> Any:
        xp = namespace(eta)
        e = xp.exp(-xp.abs(eta))
        return xp.clip(e / (1.0 + e) ** 2, _eps(eta), None)


class Probit(Link):
    """Probit link, g(p) = Phi^{-1}(p), Phi the standard normal CDF."""

    name = "probit"

    def link(self, mu: Any) -> Any:
        return ndtri(mu)

    def inverse(self, eta: Any) -> Any:
        xp = namespace(eta)
        eps = _eps(eta)
        return xp.clip(ndtr(eta), eps, 1.0 - eps)

    def inverse_deriv(self, eta: Any) -> Any:
        xp = namespace(eta)
        return xp.clip(xp.exp(-0.5 * eta * eta - _LOG_2PI_HALF), _eps(eta), None)


class CLogLog(Link):
    """Complementary log-log link, g(p) = log(-log(1 - p)); p = 1 - exp(-exp(eta))."""

    name = "cloglog"

    def link(self, mu: Any) -> Any:
        xp = namespace(mu)
        return xp.log(-xp.log1p(-mu))

    def inverse(self, eta: Any) -> Any:
        xp = namespace(eta)
        eps = _eps(eta)
        eta = xp.clip(eta, -_max_exp(eta), math.log(_max_exp(eta)))
        return xp.clip(-xp.expm1(-xp.exp(eta)), eps, 1.0 - eps)

    def inverse_deriv(self, eta: Any) -> Any:
        xp = namespace(eta)
        eta = xp.clip(eta, -_max_exp(eta), math.log(_max_exp(eta)))
        return xp.clip(xp.exp(eta - xp.exp(eta)), _eps(eta), None)


class Power(Link):
    """Power link, g(mu) = mu**power (power != 0; power = 0 is the log link).

    ``Power(-1)`` is the inverse link, ``Power(-2)`` the inverse-squared link
    and ``Power(0.5)`` the square-root link.
    """

    name = "power"

    def __init__(self, power: float = 1.0) -> None:
        if not math.isfinite(power) or power == 0:
            raise ValueError(f"Power link needs a finite, non-zero power, got {power!r}; use 'log'")
        self.power = float(power)

    def link(self, mu: Any) -> Any:
        return mu**self.power

    def inverse(self, eta: Any) -> Any:
        xp = namespace(eta)
        # Means of power links live on (0, inf): keep eta on the positive side.
        tiny = _eps(eta) if self.power > 0 else float(xp.finfo(eta.dtype).tiny) ** 0.5
        return xp.clip(eta, tiny, None) ** (1.0 / self.power)

    def inverse_deriv(self, eta: Any) -> Any:
        xp = namespace(eta)
        tiny = _eps(eta) if self.power > 0 else float(xp.finfo(eta.dtype).tiny) ** 0.5
        eta = xp.clip(eta, tiny, None)
        return (1.0 / self.power) * eta ** (1.0 / self.power - 1.0)

    def valid_eta(self, eta: Any) -> Any:
        """eta > 0, as R's ``power()`` links require."""
        xp = namespace(eta)
        return xp.all(xp.isfinite(eta) & (eta > 0))

    def __repr__(self) -> str:
        return f"Power(power={self.power:g})"


class Inverse(Power):
    """Inverse link, g(mu) = 1 / mu (canonical for the Gamma family)."""

    name = "inverse"

    def __init__(self) -> None:
        super().__init__(-1.0)

    def inverse(self, eta: Any) -> Any:
        return 1.0 / eta

    def inverse_deriv(self, eta: Any) -> Any:
        return -1.0 / (eta * eta)

    def valid_eta(self, eta: Any) -> Any:
        """eta != 0 (R's ``make.link("inverse")``); the family decides the sign of mu."""
        xp = namespace(eta)
        return xp.all(xp.isfinite(eta) & (eta != 0))

    def __repr__(self) -> str:
        return "Inverse()"


class InverseSquared(Power):
    """Inverse-squared link, g(mu) = 1 / mu**2 (canonical for the inverse Gaussian)."""

    name = "inverse_squared"

    def __init__(self) -> None:
        super().__init__(-2.0)

    def __repr__(self) -> str:
        return "InverseSquared()"


class Sqrt(Power):
    """Square-root link, g(mu) = sqrt(mu)."""

    name = "sqrt"

    def __init__(self) -> None:
        super().__init__(0.5)

    def __repr__(self) -> str:
        return "Sqrt()"


_LINKS: dict[str, type[Link]] = {
    "identity": Identity,
    "log": Log,
    "logit": Logit,
    "probit": Probit,
    "cloglog": CLogLog,
    "inverse": Inverse,
    "inverse_squared": InverseSquared,
    "sqrt": Sqrt,
}


def get_link(link: str | Link) -> Link:
    """Return a :class:`Link` from a name or pass a Link through.

    Parameters
    ----------
    link : str or Link
        One of ``"identity"``, ``"log"``, ``"logit"``, ``"probit"``,
        ``"cloglog"``, ``"inverse"``, ``"inverse_squared"``, ``"sqrt"``, or
        ``"power(p)"`` for a power link with exponent ``p``.
    """
    if isinstance(link, Link):
        return link
    if not isinstance(link, str):
        raise TypeError(f"link must be a string or a glmlib.links.Link, got {type(link).__name__}")
    key = link.strip().lower().replace("-", "_")
    if key in _LINKS:
        return _LINKS[key]()
    if key.startswith("power(") and key.endswith(")"):
        try:
            p = float(key[6:-1])
        except ValueError:
            raise ValueError(f"cannot read the exponent of link {link!r}") from None
        if p == 0:
            return Log()
        return Identity() if p == 1 else Power(p)
    raise ValueError(f"unknown link {link!r}; valid links: {sorted(_LINKS)} or 'power(p)'")
