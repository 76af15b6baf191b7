"""NeuralGLM: a feed-forward network with a GLM output layer; with ``glm_skip=True``, the CANN.

The network maps the inputs (standardised numeric columns and one embedding
per categorical column) through hidden layers to features :math:`h(x)`, and
a :class:`~glmlib.nn.GLMHead` gives the mean

.. math::

    \\mu(x) = g^{-1}\\big(\\eta_{\\mathrm{GLM}}(x) + b + w^\\top h(x) + o\\big),

trained to minimise the weighted mean deviance of the family (plus an
elastic-net penalty on :math:`w`). Without the skip connection
:math:`\\eta_{\\mathrm{GLM}} = 0` and :math:`b` starts at the intercept-only
model. With it (the Combined Actuarial Neural Net of Schelldorfer and
Wüthrich, 2019), :math:`\\eta_{\\mathrm{GLM}}` is the linear predictor of an
unpenalised main-effects :class:`glmlib.GLM` fitted on the same data, kept
fixed, and :math:`b` and :math:`w` start at zero: before training the model
is that GLM, and the network learns a correction to it.

References
----------
Schelldorfer, J. and Wüthrich, M. V. (2019). Nesting classical actuarial models
into neural networks. SSRN 3320525.
Wüthrich, M. V. and Merz, M. (2023). *Statistical Foundations of Actuarial
Learning and its Applications*. Springer, chapter 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..families import Family
from ..glm import GLM
from ._base import _NeuralEstimator, null_eta
from .layers import GLMHead, TabularInput, mlp

__all__ = ["NeuralGLM", "NeuralGLMNet"]


class NeuralGLMNet(nn.Module):
    """Inputs -> hidden layers -> GLM output layer; ``forward`` returns eta.

    Parameters
    ----------
    n_numeric : int
    cardinalities, embedding_dims : sequence of int
        As in :class:`~glmlib.nn.TabularInput`.
    hidden_layer_sizes : sequence of int
    activation : str
    family : Family
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        hidden_layer_sizes: Sequence[int],
        activation: str,
        family: Family,
    ) -> None:
        super().__init__()
        self.input = TabularInput(n_numeric, cardinalities, embedding_dims)
        self.body = mlp(self.input.out_features, hidden_layer_sizes, activation)
        width = hidden_layer_sizes[-1] if hidden_layer_sizes else self.input.out_features
        self.head = GLMHead(width, family)

    def forward(
        self, x_num: torch.Tensor, x_cat: torch.Tensor, offset: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head(self.body(self.input(x_num, x_cat)), offset)


class NeuralGLM(_NeuralEstimator):
    """Neural network GLM with an optional GLM skip connection (CANN).

    Parameters
    ----------
    family : str or Family, default="gaussian"
        Any glmlib family (``"poisson"``, ``Tweedie(power=1.5)``, ...).
    link : str or Link, optional
        Defaults to the family's default link (the canonical one, as in
        :class:`glmlib.GLM`; prefer ``"log"`` for the Gamma family, whose
        inverse link admits negative means).
    hidden_layer_sizes : sequence of int, default=(64, 32)
        Widths of the hidden layers; ``()`` gives a GLM fitted by AdamW.
    activation : str, default="tanh"
        ``"tanh"``, ``"relu"``, ``"elu"``, ``"gelu"``, ``"silu"``,
        ``"leaky_relu"``, ``"sigmoid"`` or ``"identity"``; layers before
        ReLU-like activations get He initialisation, the others Xavier.
    glm_skip : bool, default=False
        The CANN: add the linear predictor of an unpenalised main-effects
        :class:`glmlib.GLM` (categoricals treatment-coded) fitted on the
        same X, weights and offset, kept fixed, and start the output layer at
        zero so that the untrained model is that GLM (``glm_``).
    alpha : float, default=0.0
        Elastic-net penalty on the output layer's weights, on the scale of
        :class:`glmlib.GLM`'s ``alpha``, applied by a proximal
        (soft-threshold) step after every optimizer step, so that it gives
        exact zeros.
    l1_ratio : float, default=0.0
        Share of the L1 part of the penalty.
    embedding_dim : int, optional
        Width of every categorical embedding; default min(10, ceil(levels / 2)).
    max_epochs : int, default=100
    batch_size : int, default=256
    learning_rate : float, default=1e-3
        AdamW's initial learning rate.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay (every parameter).
    lr_schedule : {"plateau", "cosine", "constant"}, default="plateau"
    validation_fraction : float, default=0.1
        Share of the rows held out (at random) for early stopping on their
        deviance; 0 trains on all rows for ``max_epochs``.
    patience : int or None, default=10
        Epochs without a better validation deviance before stopping (the
        best weights are restored). None: no early stopping.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to train. Prediction runs on the CPU in float64.
    random_state : int, RandomState or None, default=None
        Seeds the validation split, the initial weights and the shuffling.
    verbose : bool, default=False
        A progress bar per epoch.

    Attributes
    ----------
    module_ : NeuralGLMNet
        The trained network (on the CPU, float32).
    glm_ : glmlib.GLM
        The skip connection's GLM (``glm_skip=True`` only).
    encoder_ : TabularEncoder
        Standardisation of the numeric columns and levels of the categoricals.
    history_ : DataFrame
        Per epoch: training and validation deviance, learning rate, seconds.
    n_epochs_, best_epoch_ : int
        Epochs run, and the epoch whose weights are kept (0: untrained).
    stopped_early_ : bool
    device_ : str
        The device that trained the model.
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.nn import NeuralGLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = rng.poisson(np.exp(0.2 + np.sin(2 * X[:, 0])))
    >>> model = NeuralGLM("poisson", hidden_layer_sizes=(16,), max_epochs=5,
    ...                   device="cpu", random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {**_NeuralEstimator._parameter_constraints, "glm_skip": ["boolean"]}
    glm_: GLM  # set by fit when glm_skip=True

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        *,
        hidden_layer_sizes: Sequence[int] = (64, 32),
        activation: str = "tanh",
        glm_skip: bool = False,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        embedding_dim: int | None = None,
        max_epochs: int = 100,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        lr_schedule: str = "plateau",
        validation_fraction: float = 0.1,
        patience: int | None = 10,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.family = family
        self.link = link
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.glm_skip = glm_skip
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.embedding_dim = embedding_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_module(self) -> NeuralGLMNet:
        return NeuralGLMNet(
            len(self.encoder_.numeric),
            self.encoder_.cardinalities,
            self._embedding_dims(),
            self._hidden_sizes(),
            self.activation,
            self._family(),
        )

    def _fit_fixed(self, X: Any, y: np.ndarray, w: np.ndarray, offset: np.ndarray) -> np.ndarray:
        if not self.glm_skip:
            if hasattr(self, "glm_"):
                del self.glm_
            return np.zeros(len(y))
        self.glm_ = GLM(family=self._family()).fit(X, y, sample_weight=w, offset=offset)
        return np.asarray(self.glm_.predict_linear(X), dtype=np.float64)

    def _fixed_eta(self, X: Any) -> np.ndarray | float:
        if not self.glm_skip:
            return 0.0
        return np.asarray(self.glm_.predict_linear(X), dtype=np.float64)

    def _start(
        self,
        module: nn.Module,
        inputs: list[np.ndarray],
        y: np.ndarray,
        w: np.ndarray,
        offset: np.ndarray,
    ) -> None:
        assert isinstance(module, NeuralGLMNet)
        if self.glm_skip:
            module.head.zero_()  # epoch 0 is the GLM
        else:
            with torch.no_grad():
                module.head.linear.bias.fill_(null_eta(self._family(), y, w, offset))

    def _penalised(self, module: nn.Module) -> list[torch.Tensor]:
        assert isinstance(module, NeuralGLMNet)
        return [module.head.linear.weight]
