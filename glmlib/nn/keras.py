"""The GLM deviance as a Keras 3 loss, on Keras's PyTorch backend.

:class:`GLMDeviance` is :class:`glmlib.nn.GLMLoss` behind Keras's loss API, so
that a Keras model (``model.compile(loss=GLMDeviance("poisson"))``) trains on
exactly glmlib's deviance. Keras must run on PyTorch: this module sets
``KERAS_BACKEND=torch`` unless it is already set, and refuses another backend.
The model's output is the linear predictor eta (add any offset inside the
model, e.g. with a second input and ``keras.layers.Add``); apply the inverse
link (``GLMDeviance.link.inverse``) to get means.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

try:
    import keras
except ImportError as err:  # pragma: no cover - keras is installed wherever tests run
    raise ImportError("glmlib.nn.keras needs Keras 3: pip install 'glmlib[keras]'") from err

import torch

from ..families import Family
from ..links import Link, Power
from .loss import GLMLoss

if keras.backend.backend() != "torch":  # pragma: no cover - depends on the environment
    raise ImportError(
        f"glmlib.nn.keras needs Keras on its PyTorch backend, but Keras runs on "
        f"{keras.backend.backend()!r}: set KERAS_BACKEND=torch before importing keras"
    )

__all__ = ["GLMDeviance"]


def _link_spec(link: Link) -> str:
    return f"power({link.power:g})" if type(link) is Power else link.name


class GLMDeviance(keras.losses.Loss):
    """Weighted mean unit deviance of a glmlib family, as a Keras loss of (y, eta).

    Parameters
    ----------
    family : str or Family, default="gaussian"
    link : str or Link, optional
    name : str, default="glm_deviance"
    **family_params
        ``power`` (Tweedie) or ``alpha`` (negative binomial) with a family name.

    Notes
    -----
    ``loss(y_true, y_pred, sample_weight)`` with ``y_pred`` the linear
    predictor returns ``sum_i w_i d(y_i, mu_i) / sum_i w_i``, computed by
    :class:`glmlib.nn.GLMLoss` (the eta forms for the binomial-logit and
    Poisson-log pairs included). :meth:`call` gives the per-observation unit
    deviances (through mu = g^{-1}(eta)) for ``reduction=None`` uses.
    Keras masks are not supported.

    Examples
    --------
    >>> import keras
    >>> from glmlib.nn.keras import GLMDeviance
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss=GLMDeviance("poisson"))
    """

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        name: str = "glm_deviance",
        **family_params: Any,
    ) -> None:
        super().__init__(name=name, reduction="mean_with_sample_weight")
        self.glm_loss = GLMLoss(family, link, **family_params)

    @property
    def family(self) -> Family:
        return self.glm_loss.family

    @property
    def link(self) -> Link:
        return self.glm_loss.link

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        eta = torch.as_tensor(y_pred)
        if eta.dim() == 2 and eta.shape[1] == 1:
            eta = eta[:, 0]
        y = torch.as_tensor(y_true, device=eta.device).reshape(eta.shape)
        w = None
        if sample_weight is not None:
            w = torch.as_tensor(sample_weight, device=eta.device).reshape(eta.shape)
        return self.glm_loss(eta, y, w)

    def call(self, y_true: Any, y_pred: Any) -> torch.Tensor:
        eta = torch.as_tensor(y_pred)
        if eta.dim() == 2 and eta.shape[1] == 1:
            eta = eta[:, 0]
        y = torch.as_tensor(y_true, device=eta.device).reshape(eta.shape).to(eta.dtype)
        fam = self.family
        return fam.unit_deviance(y, fam.link.inverse(eta))

    def get_config(self) -> dict[str, Any]:
        params = {k: v for k, v in self.family.init_params().items() if k != "link"}
        return {
            "name": self.name,
            "family": self.family.name,
            "link": _link_spec(self.link),
            **params,
        }
