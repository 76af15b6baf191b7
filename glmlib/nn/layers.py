"""Building blocks of neural GLMs: the GLM output layer, tabular inputs, an MLP, initialisation.

* :class:`GLMHead` is the output layer of a GLM: a linear predictor
  :math:`\\eta = b + h^\\top w + o` of the features :math:`h` a network
  computes (plus an offset :math:`o`) and the inverse link
  :math:`\\mu = g^{-1}(\\eta)`.
* :class:`TabularInput` turns standardised numeric columns and integer codes
  of categorical columns into one feature vector: the numeric columns
  followed by one learned embedding per categorical.
* :func:`mlp` stacks ``Linear`` layers and activations.
* :func:`init_weights` initialises them with the variance their activation
  needs: He (Var = 2 / fan_in) before ReLU-like activations, Glorot/Xavier
  (Var = 2 / (fan_in + fan_out)) before tanh, sigmoid or none.

References
----------
He, K., Zhang, X., Ren, S. and Sun, J. (2015). Delving deep into rectifiers.
ICCV, 1026-1034.
Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training deep
feedforward neural networks. AISTATS, 249-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..families import Family, get_family

__all__ = ["ACTIVATIONS", "GLMHead", "TabularInput", "full_precision", "init_weights", "mlp"]

#: Activation name -> (module class, initialisation scheme).
ACTIVATIONS: dict[str, tuple[type[nn.Module], str]] = {
    "relu": (nn.ReLU, "he"),
    "leaky_relu": (nn.LeakyReLU, "he"),
    "elu": (nn.ELU, "he"),
    "gelu": (nn.GELU, "he"),
    "silu": (nn.SiLU, "he"),
    "tanh": (nn.Tanh, "xavier"),
    "sigmoid": (nn.Sigmoid, "xavier"),
    "identity": (nn.Identity, "xavier"),
}


class GLMHead(nn.Module):
    """The GLM output layer: eta = b + h @ w (+ offset), mu = g^{-1}(eta).

    Parameters
    ----------
    in_features : int
        Width of the features ``h`` (0 gives an intercept-only layer).
    family : str or Family, default="gaussian"
        Its link maps eta to the mean.
    link : str or Link, optional
        Defaults to the family's default link.

    Notes
    -----
    ``forward(h, offset=None)`` returns eta of shape ``(n,)``, the input of
    :class:`glmlib.nn.GLMLoss`; :meth:`mean` applies the inverse link.

    Examples
    --------
    >>> import torch
    >>> from glmlib.nn import GLMHead
    >>> head = GLMHead(4, "poisson")
    >>> eta = head(torch.randn(10, 4), offset=torch.zeros(10))
    >>> bool((head.mean(eta) > 0).all())
    True
    """

    def __init__(self, in_features: int, family: str | Family = "gaussian", link: Any = None):
        super().__init__()
        self.family = get_family(family, link)
        self.linear = nn.Linear(in_features, 1)

    def forward(self, h: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        eta = full_precision(self.linear, h)[:, 0]
        return eta if offset is None else eta + offset

    def mean(self, eta: torch.Tensor) -> torch.Tensor:
        """mu = g^{-1}(eta), with the link's clipping (glmlib.links)."""
        return self.family.link.inverse(eta)

    def zero_(self) -> GLMHead:
        """Set weights and bias to zero (the layer then adds nothing to its offset)."""
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
        return self

    def extra_repr(self) -> str:
        return repr(self.family)


class TabularInput(nn.Module):
    """Numeric columns followed by one embedding per categorical column.

    Parameters
    ----------
    n_numeric : int
        Number of (standardised) numeric columns.
    cardinalities : sequence of int
        Number of levels of each categorical column.
    embedding_dims : sequence of int
        Embedding width of each categorical column.

    Notes
    -----
    ``forward(x_num, x_cat)`` takes ``x_num`` of shape ``(n, n_numeric)`` and
    the level codes ``x_cat`` (int64) of shape ``(n, len(cardinalities))``
    and returns ``(n, out_features)`` with
    ``out_features = n_numeric + sum(embedding_dims)``.
    """

    def __init__(
        self, n_numeric: int, cardinalities: Sequence[int], embedding_dims: Sequence[int]
    ) -> None:
        super().__init__()
        if len(cardinalities) != len(embedding_dims):
            raise ValueError("one embedding width per categorical column is needed")
        self.n_numeric = int(n_numeric)
        self.embeddings = nn.ModuleList(
            nn.Embedding(int(k), int(d)) for k, d in zip(cardinalities, embedding_dims, strict=True)
        )
        self.out_features = self.n_numeric + sum(int(d) for d in embedding_dims)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] + [emb(x_cat[:, k]) for k, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1) if len(parts) > 1 else x_num


def full_precision(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` in the layer's own dtype, outside any autocast region.

    Under mixed precision the hidden layers may run in bfloat16 (8 bits of
    mantissa: eta = -2 would carry an error of about 0.01); the output layer
    that forms eta, and the loss, stay in float32.
    """
    with torch.autocast(x.device.type, enabled=False):
        dtype = next(layer.parameters()).dtype
        return layer(x.to(dtype))


def mlp(in_features: int, hidden_layer_sizes: Sequence[int], activation: str = "tanh") -> nn.Module:
    """A multilayer perceptron: (Linear, activation) for each hidden layer.

    Returns an ``nn.Sequential`` (empty, the identity, without hidden layers);
    its output width is ``hidden_layer_sizes[-1]`` (or ``in_features``).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = int(in_features)
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, int(size)), ACTIVATIONS[activation][0]()]
        width = int(size)
    return nn.Sequential(*layers)


def init_weights(
    module: nn.Module, activation: str = "tanh", generator: torch.Generator | None = None
) -> nn.Module:
    """Initialise every ``Linear`` layer of ``module`` for ``activation``, biases at zero.

    He (Kaiming) normal, Var(w) = 2 / fan_in, for ReLU-like activations;
    Glorot (Xavier) normal, Var(w) = 2 / (fan_in + fan_out), for tanh,
    sigmoid and the identity. Embeddings are drawn from N(0, 1). ``generator``
    makes the draws reproducible without touching torch's global RNG.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
    scheme = ACTIVATIONS[activation][1]
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                if scheme == "he":
                    nn.init.kaiming_normal_(
                        layer.weight, mode="fan_in", nonlinearity="relu", generator=generator
                    )
                else:
                    nn.init.xavier_normal_(layer.weight, gain=1.0, generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.Embedding):
                nn.init.normal_(layer.weight, 0.0, 1.0, generator=generator)
    return module
