"""The proximal step of an elastic-net penalty, applied after each optimizer step.

For the penalty :math:`\\alpha\\big(\\rho \\|W\\|_1 + \\frac{1-\\rho}{2}\\|W\\|_2^2\\big)`
(glmlib.GLM's, with :math:`\\rho` = ``l1_ratio``) the proximal operator with
step :math:`s` is

.. math::

    \\operatorname{prox}_s(W) = \\frac{\\operatorname{sign}(W)\\,
    \\max(|W| - s\\alpha\\rho, 0)}{1 + s\\alpha(1 - \\rho)},

a soft threshold that sets small weights exactly to zero. Gradient steps on
the penalty's subgradient (what Adam sees if the penalty is added to the loss)
only make weights oscillate around zero; the proximal step is what gives
exact zeros.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["ElasticNetProx"]


class ElasticNetProx:
    """Elastic-net proximal step on a set of parameters.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The penalised parameters (e.g. the weights of a :class:`GLMHead`).
    alpha : float
        Penalty strength, on the scale of :class:`glmlib.GLM`'s ``alpha``:
        the objective is half the mean deviance plus the penalty.
    l1_ratio : float
        Share of the L1 part, in [0, 1].

    Notes
    -----
    ``prox(lr)`` applies :math:`\\operatorname{prox}_s` with :math:`s = 2\\,\\mathrm{lr}`:
    the training loop steps on the gradient of the mean deviance, twice that
    of the half deviance, so a step ``lr`` on it is a step ``2 lr`` on the
    objective. With plain gradient descent this is the proximal gradient
    method (ISTA) for the penalised objective; after an Adam step it is the
    usual proximal-Adam heuristic (the threshold uses the nominal learning
    rate, not Adam's per-coordinate step).
    """

    def __init__(self, params: Iterable[torch.Tensor], alpha: float, l1_ratio: float) -> None:
        self.params = list(params)
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        if not self.alpha >= 0 or not 0 <= self.l1_ratio <= 1:
            raise ValueError(
                f"need alpha >= 0 and l1_ratio in [0, 1], got {alpha!r} and {l1_ratio!r}"
            )

    @torch.no_grad()
    def __call__(self, lr: float) -> None:
        step = 2.0 * float(lr)
        threshold = step * self.alpha * self.l1_ratio
        shrink = 1.0 + step * self.alpha * (1.0 - self.l1_ratio)
        for p in self.params:
            if threshold > 0:
                p.copy_(torch.sign(p) * torch.clamp(p.abs() - threshold, min=0.0))
            if shrink != 1.0:
                p.div_(shrink)
