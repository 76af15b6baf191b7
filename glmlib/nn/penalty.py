"""The proximal step of an elastic-net penalty, applied after each optimizer step.

For the penalty :math:`\\alpha\\big(\\rho \\|W\\|_1 + \\frac{1-\\rho}{2}\\|W\\|_2^2\\big)`
(glmlib.GLM's, with :math:`\\rho` = ``l1_ratio``) the proximal operator with
step :math:`s` is, coordinate by coordinate,

.. math::

    \\operatorname{prox}_s(w) = \\frac{\\operatorname{sign}(w)\\,
    \\max(|w| - s\\alpha\\rho, 0)}{1 + s\\alpha(1 - \\rho)},

a soft threshold that sets small weights exactly to zero. Gradient steps on
the penalty's subgradient (what Adam sees if the penalty is added to the loss)
only make weights oscillate around zero; the proximal step is what gives
exact zeros.

The step :math:`s` is the one the optimizer just took in each coordinate:
the learning rate for SGD (the proximal gradient method, ISTA), and
:math:`\\mathrm{lr} / (\\sqrt{\\hat v} + \\epsilon)` for Adam and AdamW (the
proximal step in Adam's diagonal metric). Either way a fixed point satisfies
the optimality condition of the penalised objective, so ``alpha`` means what
it means in :class:`glmlib.GLM`.
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
        The penalised parameters (e.g. the weights of a :class:`GLMHead`),
        which the optimizer must be updating.
    alpha : float
        Penalty strength, on the scale of :class:`glmlib.GLM`'s ``alpha``:
        the objective is half the mean deviance plus the penalty.
    l1_ratio : float
        Share of the L1 part, in [0, 1].

    Notes
    -----
    ``prox(optimizer)`` is called after ``optimizer.step()``. The training
    loop steps on the gradient of the mean deviance, twice that of the half
    deviance, so a step :math:`s` on it is a step :math:`2s` on the
    objective: the threshold is :math:`2 s \\alpha \\rho`.
    """

    def __init__(self, params: Iterable[torch.Tensor], alpha: float, l1_ratio: float) -> None:
        self.params = list(params)
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        if not self.alpha >= 0 or not 0 <= self.l1_ratio <= 1:
            raise ValueError(
                f"need alpha >= 0 and l1_ratio in [0, 1], got {alpha!r} and {l1_ratio!r}"
            )

    @staticmethod
    def step_size(optimizer: torch.optim.Optimizer, p: torch.Tensor) -> torch.Tensor | float:
        """The step the optimizer's last update took in each coordinate of ``p``."""
        for group in optimizer.param_groups:
            if any(q is p for q in group["params"]):
                break
        else:
            raise ValueError("the penalised parameter is not updated by the optimizer")
        lr = float(group["lr"])
        state = optimizer.state.get(p, {})
        if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW) and "exp_avg_sq" in state:
            beta2 = group["betas"][1]
            correction = 1.0 - beta2 ** float(state["step"])
            return lr / ((state["exp_avg_sq"] / correction).sqrt() + group["eps"])
        if isinstance(optimizer, torch.optim.SGD) and not group.get("momentum", 0):
            return lr
        raise TypeError(
            f"ElasticNetProx supports SGD (without momentum), Adam and AdamW, "
            f"got {type(optimizer).__name__}"
        )

    @torch.no_grad()
    def __call__(self, optimizer: torch.optim.Optimizer) -> None:
        a, rho = self.alpha, self.l1_ratio
        for p in self.params:
            s = 2.0 * self.step_size(optimizer, p)
            if rho > 0:
                p.copy_(torch.sign(p) * torch.clamp(p.abs() - s * (a * rho), min=0.0))
            if rho < 1 and a > 0:
                p.div_(1.0 + s * (a * (1.0 - rho)))
