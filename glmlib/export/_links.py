"""Inverse links mu = g^{-1}(eta) as ONNX subgraphs, in float64.

Each function adds the nodes of one link's :meth:`~glmlib.links.Link.inverse`
to a :class:`~glmlib.export._graph.Graph` and returns the name of mu. They
compute in float64 and clip where :mod:`glmlib.links` clips (its own
``_eps`` and ``_max_exp`` constants for float64), so that the graph gives
``model.predict``'s means to rounding:

* identity: mu = eta;
* log: mu = exp(clip(eta, -M, M)), M = log(float64 max) - 10;
* logit: mu = clip(1 / (1 + exp(-eta)), eps, 1 - eps), as exp(-|eta|) / (1 +
  exp(-|eta|)) for eta < 0 so that small probabilities keep their relative
  precision (ONNX Runtime's ``Sigmoid`` approximates: 1e-3 relative error in
  the tails, measured);
* probit: mu = clip(Phi(eta), eps, 1 - eps) with Phi(x) = h for x < 0 and
  1 - h otherwise, h = exp(-x^2 / 2) erfcx(|x| / sqrt 2) / 2. ONNX has no
  erfc and ONNX Runtime's ``Erf`` has no float64 kernel; 1 + erf would also
  lose the left tail to cancellation. The scaled complementary error
  function erfcx is evaluated from a table of degree-12 Chebyshev
  interpolants of :func:`scipy.special.erfcx` on 12 intervals of width 1/2
  covering [0, 6] (relative error below 1e-14); beyond |x| = 6 sqrt 2, Phi is
  within float64's eps of 0 or 1 and is clipped there anyway;
* cloglog: mu = clip(1 - exp(-exp(eta)), eps, 1 - eps) with eta clipped to
  [-M, log M], and 1 - exp(-u) formed as Kahan's (1 - e) u / (-log e), e =
  exp(-u), which keeps its relative precision for small u (ONNX has no
  expm1);
* inverse: mu = 1 / eta;
* power (sqrt, inverse_squared, power(p)): mu = max(eta, tiny)^(1/p) with
  tiny = eps for p > 0 and sqrt(smallest normal) for p < 0.

References
----------
Higham, N. J. (2002). *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., SIAM, section 1.14.1 (Kahan's expm1). Trefethen, L. N. (2019).
*Approximation Theory and Approximation Practice*, SIAM (Chebyshev interpolation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev
from scipy.special import erfcx

from ..links import (
    CLogLog,
    Identity,
    Inverse,
    InverseSquared,
    Link,
    Log,
    Logit,
    Power,
    Probit,
    Sqrt,
    _eps,
    _max_exp,
)
from ._graph import Graph

__all__ = ["EXPORTABLE_LINKS", "inverse_link"]

F64 = np.float64
_ZERO = np.zeros((), dtype=F64)
#: glmlib's clipping constants for float64 means (glmlib/links.py).
EPS = _eps(_ZERO)
MAX_EXP = _max_exp(_ZERO)

# erfcx table: _ERFCX_INTERVALS intervals of width _ERFCX_WIDTH from 0, one
# polynomial of degree _ERFCX_DEGREE each in u in [-1, 1] across its interval.
_ERFCX_WIDTH = 0.5
_ERFCX_INTERVALS = 12
_ERFCX_DEGREE = 12


@functools.cache
def erfcx_table() -> np.ndarray:
    """(intervals, degree + 1) power-basis coefficients of erfcx on each interval.

    Row i interpolates erfcx(i w + (u + 1) w / 2) at degree + 1 Chebyshev
    points of u in [-1, 1], w = ``_ERFCX_WIDTH``; column k multiplies u^k.
    """
    rows = []
    for i in range(_ERFCX_INTERVALS):
        left = i * _ERFCX_WIDTH

        def on_interval(u: Any, left: float = left) -> Any:
            return erfcx(left + (u + 1.0) * (_ERFCX_WIDTH / 2.0))

        coef = chebyshev.chebinterpolate(on_interval, _ERFCX_DEGREE)
        rows.append(chebyshev.cheb2poly(coef))
    return np.asarray(rows, dtype=F64)


def _clip(g: Graph, x: str, low: float | None, high: float | None) -> str:
    if low is not None:
        x = g.op("Max", x, g.constant(low, F64), hint="clipped")
    if high is not None:
        x = g.op("Min", x, g.constant(high, F64), hint="clipped")
    return x


def _identity(g: Graph, link: Link, eta: str) -> str:
    return eta


def _log(g: Graph, link: Link, eta: str) -> str:
    return g.op("Exp", _clip(g, eta, -MAX_EXP, MAX_EXP), hint="mu")


def _logit(g: Graph, link: Link, eta: str) -> str:
    # 1 / (1 + e) for eta >= 0 and e / (1 + e) for eta < 0, e = exp(-|eta|)
    e = g.op("Exp", g.op("Neg", g.op("Abs", eta)), hint="exp_neg_abs")
    nonneg = g.op("GreaterOrEqual", eta, g.constant(0.0, F64))
    numer = g.op("Where", nonneg, g.constant(1.0, F64), e)
    mu = g.op("Div", numer, g.op("Add", e, g.constant(1.0, F64)), hint="expit")
    return _clip(g, mu, EPS, 1.0 - EPS)


def _std_normal_cdf(g: Graph, x: str) -> str:
    """Phi(x) from erfcx (see the module docstring)."""
    table = erfcx_table()
    n_int, n_coef = table.shape
    z = g.op("Mul", g.op("Abs", x), g.constant(1.0 / math.sqrt(2.0), F64), hint="z")
    z = g.op("Min", z, g.constant(n_int * _ERFCX_WIDTH, F64))
    cell = g.op("Floor", g.op("Mul", z, g.constant(1.0 / _ERFCX_WIDTH, F64)))
    cell = g.op("Min", cell, g.constant(n_int - 1.0, F64), hint="cell")
    left = g.op("Mul", cell, g.constant(_ERFCX_WIDTH, F64))
    u = g.op("Mul", g.op("Sub", z, left), g.constant(2.0 / _ERFCX_WIDTH, F64))
    u = g.op("Sub", u, g.constant(1.0, F64), hint="u")
    u = g.op("Unsqueeze", u, g.constant([1], np.int64))  # (batch, 1)
    index = g.cast(cell, np.int64)
    coef = g.op("Gather", g.constant(table, F64, hint="erfcx_table"), index, axis=0)
    cols = g.ops("Split", coef, n_out=n_coef, hint="erfcx_coef", axis=1)
    acc = cols[-1]
    for c in reversed(cols[:-1]):  # Horner's rule in u
        acc = g.op("Add", g.op("Mul", acc, u), c)
    scaled = g.op("Squeeze", acc, g.constant([1], np.int64), hint="erfcx")
    half_sq = g.op("Mul", g.op("Mul", x, x), g.constant(-0.5, F64))
    h = g.op("Mul", g.op("Mul", g.op("Exp", half_sq), scaled), g.constant(0.5, F64), hint="tail")
    negative = g.op("Less", x, g.constant(0.0, F64))
    upper = g.op("Sub", g.constant(1.0, F64), h)
    return g.op("Where", negative, h, upper, hint="phi")


def _probit(g: Graph, link: Link, eta: str) -> str:
    return _clip(g, _std_normal_cdf(g, eta), EPS, 1.0 - EPS)


def _cloglog(g: Graph, link: Link, eta: str) -> str:
    u = g.op("Exp", _clip(g, eta, -MAX_EXP, math.log(MAX_EXP)), hint="exp_eta")
    e = g.op("Exp", g.op("Neg", u), hint="exp_neg_u")  # >= exp(-MAX_EXP) > 0
    one_minus_e = g.op("Sub", g.constant(1.0, F64), e)
    kahan = g.op("Div", g.op("Mul", one_minus_e, u), g.op("Neg", g.op("Log", e)))
    # e == 1 (u below eps / 2): 1 - exp(-u) = u to rounding
    is_one = g.op("Equal", e, g.constant(1.0, F64))
    mu = g.op("Where", is_one, u, kahan, hint="neg_expm1")
    return _clip(g, mu, EPS, 1.0 - EPS)


def _inverse(g: Graph, link: Link, eta: str) -> str:
    return g.op("Reciprocal", eta, hint="mu")


def _power(g: Graph, link: Link, eta: str) -> str:
    p = float(link.power)  # type: ignore[attr-defined]
    tiny = EPS if p > 0 else float(np.finfo(F64).tiny) ** 0.5
    return g.op("Pow", _clip(g, eta, tiny, None), g.constant(1.0 / p, F64), hint="mu")


_INVERSE: dict[type[Link], Callable[[Graph, Link, str], str]] = {
    Identity: _identity,
    Log: _log,
    Logit: _logit,
    Probit: _probit,
    CLogLog: _cloglog,
    Inverse: _inverse,
    Power: _power,
    Sqrt: _power,
    InverseSquared: _power,
}

#: Link classes with an ONNX inverse (exact types: a subclass may change ``inverse``).
EXPORTABLE_LINKS = tuple(_INVERSE)


def inverse_link(g: Graph, link: Link, eta: str) -> str:
    """Add mu = link.inverse(eta) for float64 ``eta``; returns mu's name.

    Raises
    ------
    NotImplementedError
        For a link class not listed in :data:`EXPORTABLE_LINKS` (such as a
        user-defined subclass of :class:`glmlib.links.Link`).
    """
    build = _INVERSE.get(type(link))
    if build is None:
        known = ", ".join(cls.__name__ for cls in EXPORTABLE_LINKS)
        raise NotImplementedError(
            f"no ONNX export for the link {link!r}; exportable links: {known}"
        )
    return build(g, link, eta)
