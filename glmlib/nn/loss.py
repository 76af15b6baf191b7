"""GLMLoss: the weighted mean unit deviance of a glmlib family, from the linear predictor.

The loss is glmlib's own deviance evaluated on torch tensors, so that a network
trained with it minimises exactly what :class:`glmlib.GLM` minimises:

.. math::

    L(\\eta, y, w) = \\frac{\\sum_i w_i\\, d(y_i, g^{-1}(\\eta_i))}{\\sum_i w_i},

with :math:`d` the family's unit deviance (:meth:`glmlib.families.Family.unit_deviance`)
and :math:`g` its link. Where the family evaluates its half deviance directly
from :math:`\\eta` (:meth:`~glmlib.families.Family.eta_loss`: the binomial under
the logit link as softplus terms, the Poisson under the log link as
:math:`e^{\\eta} - y\\eta` plus a constant) that form is used: it neither
overflows nor cancels. Every other family and link goes through
:math:`\\mu = g^{-1}(\\eta)` with the link's own clipping (as R's ``make.link``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..families import Family, get_family

__all__ = ["GLMLoss"]

_HALF = (torch.float16, torch.bfloat16)


class GLMLoss(nn.Module):
    """Weighted mean unit deviance of a GLM family, as a function of eta.

    Parameters
    ----------
    family : str or Family, default="gaussian"
        Any :mod:`glmlib.families` name or instance (e.g.
        ``Tweedie(power=1.5)``, ``NegativeBinomial(alpha=0.5)``).
    link : str or Link, optional
        Defaults to the family's default link.
    **family_params
        ``power`` (Tweedie) or ``alpha`` (negative binomial) with a family name.

    Notes
    -----
    ``forward(eta, y, sample_weight=None)`` takes the linear predictor with any
    offset (log exposure, say) already added and returns

    .. math::

        \\frac{\\sum_i w_i d(y_i, \\mu_i)}{\\sum_i w_i}, \\qquad \\mu_i = g^{-1}(\\eta_i),

    which equals ``family.deviance(y, mu, w) / sum(w)`` (glmlib's total
    deviance over the total weight) to rounding in float64. Half-precision
    eta (from autocast) is promoted to float32 first. Means outside the
    family's range (e.g. a negative mean under the Gamma family's inverse
    link) give NaN, which :func:`glmlib.nn.train` reports as a diverged run.
    For the binomial family ``y`` is a proportion and ``sample_weight`` the
    number of trials, as in :class:`glmlib.GLM`.

    Examples
    --------
    >>> import torch
    >>> from glmlib.nn import GLMLoss
    >>> loss = GLMLoss("poisson")
    >>> eta = torch.zeros(3, dtype=torch.float64)
    >>> y = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    >>> round(float(loss(eta, y)), 6)  # 2 [y log y - y + 1] averaged
    0.590863
    """

    def __init__(self, family: str | Family = "gaussian", link: Any = None, **family_params: Any):
        super().__init__()
        self.family: Family = get_family(family, link, **family_params)

    @property
    def link(self) -> Any:
        """The family's link (a :class:`glmlib.links.Link`)."""
        return self.family.link

    def forward(
        self, eta: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Weighted mean unit deviance; a 0-d tensor with eta's dtype (float32 for half)."""
        eta, y, w = self._prepare(eta, y, sample_weight)
        return self.total(eta, y, w) / w.sum()

    def total(self, eta: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Total deviance sum_i w_i d(y_i, mu_i) of 1-D tensors of one dtype."""
        fam = self.family
        state = fam.eta_loss_state(y, w)
        if state is not None:
            half, _, _ = fam.eta_loss(y, eta, w, state)
            return 2.0 * half
        return fam.deviance(y, fam.link.inverse(eta), w)

    @staticmethod
    def _prepare(
        eta: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not (isinstance(eta, torch.Tensor) and isinstance(y, torch.Tensor)):
            raise TypeError(
                f"GLMLoss takes torch tensors, got eta: {type(eta).__name__}, y: {type(y).__name__}"
            )
        if eta.dtype in _HALF:
            eta = eta.float()
        if not eta.is_floating_point():
            raise TypeError(f"eta must be a floating-point tensor, got {eta.dtype}")
        if eta.dim() == 2 and eta.shape[1] == 1:
            eta = eta[:, 0]
        if eta.dim() != 1 or y.shape != eta.shape:
            raise ValueError(
                f"eta and y must be 1-D of one length (or eta of shape (n, 1)); got eta "
                f"{tuple(eta.shape)} and y {tuple(y.shape)}"
            )
        y = y.to(eta.dtype)
        if sample_weight is None:
            w = torch.ones_like(eta)
        else:
            if sample_weight.shape != y.shape:
                raise ValueError(
                    f"sample_weight has shape {tuple(sample_weight.shape)}, y has {tuple(y.shape)}"
                )
            w = sample_weight.to(eta.dtype)
        return eta, y, w

    def extra_repr(self) -> str:
        return repr(self.family)
