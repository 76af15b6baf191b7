"""Synthetic GLM data with known coefficients: ``make_glm``.

The design is Gaussian with equal pairwise correlation (or a random sparse CSR
matrix), the coefficients are scaled so that the linear predictor has a stated
standard deviation, the family's inverse link gives the means, and
:mod:`._sampling` draws the responses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._sampling import mean_is_valid, sample_response

if TYPE_CHECKING:
    from ..families import Family
    from ..links import Link

__all__ = ["make_glm"]

_DEFAULT_ETA_STD = 0.75
_NO_DISPERSION = ("binomial", "poisson", "negative_binomial")


def _resolve_family(
    family: str | Family, link: str | Link | None, power: float | None, alpha: float | None
) -> Family:
    from ..families import get_family  # lazy: keeps `import glmlib.datasets` light

    kwargs: dict[str, float] = {}
    if power is not None:
        kwargs["power"] = power
    if alpha is not None:
        kwargs["alpha"] = alpha
    if kwargs and not isinstance(family, str):
        raise ValueError("pass power/alpha only with a family name; a Family object has its own")
    name = family.strip().lower().replace("-", "_") if isinstance(family, str) else None
    if power is not None and name != "tweedie":
        raise ValueError("power applies only to family='tweedie'")
    if alpha is not None and name != "negative_binomial":
        raise ValueError("alpha applies only to family='negative_binomial'")
    return get_family(family, link=link, **kwargs)


def _sampling_name(fam: Family) -> tuple[str, float]:
    """Family name for sampling and validity, and its extra parameter."""
    if fam.name == "tweedie":
        power = float(fam.power)  # type: ignore[attr-defined]
        return ("gaussian" if power == 0 else "tweedie"), power
    if fam.name == "negative_binomial":
        return "negative_binomial", float(fam.alpha)  # type: ignore[attr-defined]
    return fam.name, 0.0


def _in_domain(fam: Family, validity: str, eta: np.ndarray) -> np.ndarray:
    """Elementwise: does eta map to a valid mean, without the link clipping it?"""
    with np.errstate(all="ignore"):
        mu = np.asarray(fam.link.inverse(eta), dtype=np.float64)
        back = np.asarray(fam.link.link(mu), dtype=np.float64)
        ok = mean_is_valid(validity, mu) & np.isclose(back, eta, rtol=1e-6, atol=1e-9)
    return ok


def _safe_eta_std(fam: Family, validity: str, intercept: float, target: float) -> float:
    """Largest s <= target with intercept +- 6 s inside the link's domain."""
    unit = np.linspace(-6.0, 6.0, 241)

    def ok(s: float) -> bool:
        return bool(np.all(_in_domain(fam, validity, intercept + s * unit)))

    if ok(target):
        return target
    if not ok(0.0):
        raise ValueError(
            f"intercept={intercept} is outside the domain of the {fam.link.name} link for the "
            f"{fam.name} family; choose an intercept that gives a valid mean"
        )
    lo, hi = 0.0, target
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _design(
    rng: np.random.Generator,
    n: int,
    p: int,
    dtype: np.dtype,
    correlation: float,
    sparse: bool,
    density: float,
) -> np.ndarray | sp.csr_matrix:
    """X with unit-variance columns: equicorrelated Gaussian or random sparse."""
    if not sparse:
        X = rng.standard_normal((n, p), dtype=dtype)
        if correlation > 0:
            common = rng.standard_normal((n, 1), dtype=dtype)
            X *= dtype.type(math.sqrt(1.0 - correlation))
            X += dtype.type(math.sqrt(correlation)) * common
        return X
    size = n * p
    if density >= 1.0:
        flat = np.arange(size, dtype=np.int64)
    else:
        # Draws with replacement, then unique: k = -N log(1 - d) draws leave
        # N d distinct positions on average; sorting gives row-major CSR order.
        k = rng.poisson(-size * math.log1p(-density))
        flat = np.unique(rng.integers(0, size, size=k, dtype=np.int64))
    rows, cols = np.divmod(flat, p)
    data = rng.standard_normal(flat.size, dtype=dtype) / dtype.type(math.sqrt(density))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((data, cols, indptr), shape=(n, p))


def make_glm(
    n: int,
    p: int,
    family: str | Family = "gaussian",
    *,
    link: str | Link | None = None,
    n_informative: int | None = None,
    intercept: float = 0.5,
    dispersion: float = 1.0,
    power: float | None = None,
    alpha: float | None = None,
    eta_std: float | None = None,
    correlation: float = 0.0,
    dtype: Any = np.float64,
    sparse: bool = False,
    density: float = 0.1,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray, np.ndarray]:
    r"""Simulate GLM data with known coefficients for any family.

    .. math::

        X_{ij} \sim N(0, 1),\quad \operatorname{corr}(X_{ij}, X_{ik}) = \rho,\qquad
        \eta = \beta_0 + X\beta,\qquad \mu = g^{-1}(\eta),\qquad y \sim F(\mu, \phi)

    The first ``n_informative`` coefficients are ``sign * U(0.5, 1.5)``, the
    rest zero; all are then scaled so that the standard deviation of
    :math:`X\beta` is ``eta_std``, which keeps the means in a sane range
    (for the log link, :math:`\mu` stays within about :math:`e^{\beta_0 \pm 4.5}`).

    Parameters
    ----------
    n, p : int
        Number of rows and of columns of ``X``.
    family : str or glmlib.families.Family, default "gaussian"
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``,
        ``"inverse_gaussian"``, ``"tweedie"`` or ``"negative_binomial"``, or
        a family object such as ``glmlib.families.Tweedie(power=1.5)``.
    link : str or glmlib.links.Link, optional
        Link; the family's default (canonical) link when None.
    n_informative : int, optional
        Number of non-zero coefficients (the first ones); all ``p`` when None.
    intercept : float, default 0.5
        :math:`\beta_0`, added to every linear predictor (not part of ``coef``).
    dispersion : float, default 1.0
        :math:`\phi` with Var(y) = :math:`\phi V(\mu)`: the noise variance for
        the Gaussian, 1/shape for the gamma, 1/lambda for the inverse
        Gaussian, :math:`\phi` for the Tweedie. Must be 1 for the binomial,
        Poisson and negative binomial.
    power : float, optional
        Tweedie variance power: in (1, 2) for the compound Poisson-gamma, or
        0, 1, 2, 3. Default: the family's (1.5).
    alpha : float, optional
        Negative binomial shape, Var(y) = :math:`\mu + \alpha\mu^2`. Default:
        the family's (1.0).
    eta_std : float, optional
        Standard deviation of :math:`X\beta`. When None, 0.75, shrunk if
        needed so that :math:`\beta_0 \pm 6\,` ``eta_std`` stays inside the
        link's domain (e.g. :math:`\eta > 0` for the gamma's inverse link).
    correlation : float, default 0.0
        Equal correlation :math:`\rho \in [0, 1)` between columns of a dense
        ``X`` (a one-factor model).
    dtype : {numpy.float64, numpy.float32}
        Dtype of ``X``, ``y`` and ``coef``.
    sparse : bool, default False
        Return ``X`` as a ``scipy.sparse.csr_matrix`` with about
        ``density * n * p`` non-zeros drawn from :math:`N(0, 1/\text{density})`
        (unit column variance); ``correlation`` must then be 0.
    density : float, default 0.1
        Fraction of non-zeros in a sparse ``X``, in (0, 1].
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives the same ``(X, y, coef)``.

    Returns
    -------
    X : numpy.ndarray or scipy.sparse.csr_matrix, shape (n, p)
    y : numpy.ndarray, shape (n,)
        Responses in the family's support: {0, 1} for the binomial,
        non-negative integers for the Poisson and negative binomial,
        non-negative with exact zeros for the Tweedie with 1 < power < 2,
        positive for the gamma and inverse Gaussian.
    coef : numpy.ndarray, shape (p,)
        True coefficients (without the intercept).

    Raises
    ------
    ValueError
        For invalid arguments, or when some linear predictors fall outside the
        link's domain (pass a larger ``intercept`` or smaller ``eta_std``).

    Notes
    -----
    The Tweedie response with 1 < power < 2 is a Poisson number of gamma
    claims (Jorgensen 1987); the negative binomial is a gamma-Poisson mixture.
    ``y`` is computed from the returned (already cast) ``X`` and ``coef``.

    References
    ----------
    Jorgensen, B. (1987). Exponential dispersion models. *JRSS B* 49, 127-162.
    McCullagh, P. and Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.

    Examples
    --------
    >>> from glmlib.datasets import make_glm
    >>> X, y, coef = make_glm(1000, 5, "poisson", random_state=0)
    >>> X.shape, y.min() >= 0, coef.shape
    ((1000, 5), np.True_, (5,))
    """
    n, p = int(n), int(p)
    if n < 1 or p < 1:
        raise ValueError(f"n and p must be >= 1, got n={n}, p={p}")
    k = p if n_informative is None else int(n_informative)
    if not 0 <= k <= p:
        raise ValueError(f"n_informative must be in [0, p={p}], got {n_informative}")
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    if not 0.0 <= correlation < 1.0:
        raise ValueError(f"correlation must be in [0, 1), got {correlation}")
    if sparse and correlation != 0.0:
        raise ValueError("correlation is not supported with sparse=True")
    if sparse and not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    if not (math.isfinite(dispersion) and dispersion > 0):
        raise ValueError(f"dispersion must be > 0, got {dispersion}")
    if eta_std is not None and not (math.isfinite(eta_std) and eta_std >= 0):
        raise ValueError(f"eta_std must be >= 0, got {eta_std}")

    fam = _resolve_family(family, link, power, alpha)
    validity, extra = _sampling_name(fam)
    if fam.name in _NO_DISPERSION and dispersion != 1.0:
        raise ValueError(f"the {fam.name} family has no dispersion parameter; leave it at 1.0")

    rng = np.random.default_rng(random_state)
    raw = np.zeros(p)
    raw[:k] = rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 1.5, size=k)
    if sparse:
        sd_raw = math.sqrt(float(raw @ raw))
    else:
        sd_raw = math.sqrt((1.0 - correlation) * float(raw @ raw) + correlation * raw.sum() ** 2)
    if eta_std is None:
        eta_std = _safe_eta_std(fam, validity, intercept, _DEFAULT_ETA_STD)
    coef = (raw * (eta_std / sd_raw) if sd_raw > 0 else raw).astype(dt)

    X = _design(rng, n, p, dt, correlation, sparse, density)
    eta = intercept + X @ coef.astype(np.float64)
    eta = np.asarray(eta, dtype=np.float64).ravel()
    ok = _in_domain(fam, validity, eta)
    if not ok.all():
        raise ValueError(
            f"{int((~ok).sum())} of {n} linear predictors fall outside the domain of the "
            f"{fam.link.name} link for the {fam.name} family (eta in [{eta.min():.3g}, "
            f"{eta.max():.3g}]); pass a larger intercept or a smaller eta_std"
        )
    mu = np.asarray(fam.link.inverse(eta), dtype=np.float64)
    y = sample_response(validity, mu, rng, dispersion=dispersion, extra=extra).astype(dt)
    return X, y, coef
