"""LocalGLMnet: a network that outputs each observation's GLM coefficients.

.. math::

    \\eta(x) = \\beta_0 + \\sum_{j=1}^{q} \\beta_j(x)\\, \\tilde x_j + o,
    \\qquad \\mu(x) = g^{-1}(\\eta(x)),

where :math:`\\tilde x` are the linear terms (standardised numeric columns and
treatment-coded indicators of the categorical columns) and the *attention*
:math:`\\beta(x) \\in \\mathbb{R}^q` is the output of a feed-forward network
of the inputs (numeric columns and categorical embeddings). A term whose
:math:`\\beta_j(x)` does not vary with :math:`x` enters as in a GLM; one whose
:math:`\\beta_j(x) \\approx 0` can be dropped; variation in :math:`\\beta_j(x)`
shows non-linearity and interactions.

Training starts at the unpenalised GLM on the linear terms (``glm_``): the
attention layer's weights are zero and its bias holds the GLM coefficients,
so that :math:`\\beta(x)` is constant before the first step.

References
----------
Richman, R. and Wüthrich, M. V. (2023). LocalGLMnet: interpretable deep
learning for tabular data. Scandinavian Actuarial Journal 2023(1), 71-95.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..families import Family
from ..glm import GLM
from ._base import _NeuralEstimator
from .layers import TabularInput, full_precision, mlp

__all__ = ["LocalGLMNet", "LocalGLMnet"]


class LocalGLMNet(nn.Module):
    """The LocalGLMnet network: ``coefficients`` gives beta(x), ``forward`` eta.

    Parameters
    ----------
    n_numeric : int
    cardinalities, embedding_dims : sequence of int
        As in :class:`~glmlib.nn.TabularInput`.
    hidden_layer_sizes : sequence of int
    activation : str
    n_terms : int
        Number of linear terms q.
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        hidden_layer_sizes: Sequence[int],
        activation: str,
        n_terms: int,
    ) -> None:
        super().__init__()
        self.input = TabularInput(n_numeric, cardinalities, embedding_dims)
        self.body = mlp(self.input.out_features, hidden_layer_sizes, activation)
        width = hidden_layer_sizes[-1] if hidden_layer_sizes else self.input.out_features
        self.attention = nn.Linear(width, n_terms)
        self.intercept = nn.Parameter(torch.zeros(()))

    def coefficients(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """beta(x), of shape (n, q) (the attention layer in full precision under autocast)."""
        return full_precision(self.attention, self.body(self.input(x_num, x_cat)))

    def forward(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        x_lin: torch.Tensor,
        offset: torch.Tensor | None = None,
    ) -> torch.Tensor:
        beta = self.coefficients(x_num, x_cat)
        eta = self.intercept + (beta * x_lin.to(beta.dtype)).sum(dim=1)
        return eta if offset is None else eta + offset


class LocalGLMnet(_NeuralEstimator):
    """LocalGLMnet (Richman and Wüthrich 2023): a GLM whose coefficients depend on x.

    Parameters are those of :class:`~glmlib.nn.NeuralGLM` without
    ``glm_skip``. ``alpha`` and ``l1_ratio`` penalise the weights of the
    attention (output) layer: a row of zeros there makes that term's
    :math:`\\beta_j(x)` constant, i.e. a plain GLM term.

    Attributes
    ----------
    module_ : LocalGLMNet
    glm_ : glmlib.GLM
        The GLM on the linear terms that training starts from.
    term_names_ : list of str
        Names of the linear terms (columns of :meth:`attention`).
    encoder_, history_, n_epochs_, best_epoch_, stopped_early_, device_
        As in :class:`~glmlib.nn.NeuralGLM`.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.nn import LocalGLMnet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = X[:, 0] + X[:, 0] * X[:, 1] + rng.normal(size=400)
    >>> model = LocalGLMnet(hidden_layer_sizes=(16,), max_epochs=5, device="cpu",
    ...                     random_state=0).fit(X, y)
    >>> model.attention(X[:3]).shape
    (3, 2)
    """

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        *,
        hidden_layer_sizes: Sequence[int] = (64, 32),
        activation: str = "tanh",
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

    def _build_module(self) -> LocalGLMNet:
        self.term_names_ = self.encoder_.term_names
        return LocalGLMNet(
            len(self.encoder_.numeric),
            self.encoder_.cardinalities,
            self._embedding_dims(),
            self._hidden_sizes(),
            self.activation,
            len(self.term_names_),
        )

    def _inputs(self, x_num: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
        return [x_num, codes, self.encoder_.linear_terms(x_num, codes)]

    def _start(
        self,
        module: nn.Module,
        inputs: list[np.ndarray],
        y: np.ndarray,
        w: np.ndarray,
        offset: np.ndarray,
    ) -> None:
        assert isinstance(module, LocalGLMNet)
        x_lin = inputs[2]
        self.glm_ = GLM(family=self._family()).fit(x_lin, y, sample_weight=w, offset=offset)
        with torch.no_grad():
            module.attention.weight.zero_()
            module.attention.bias.copy_(torch.as_tensor(self.glm_.coef_))
            module.intercept.fill_(self.glm_.intercept_)

    def _penalised(self, module: nn.Module) -> list[torch.Tensor]:
        assert isinstance(module, LocalGLMNet)
        return [module.attention.weight]

    @torch.no_grad()
    def attention(self, X: Any) -> pd.DataFrame:
        """beta(x): each row's coefficients of the linear terms (standardised scale).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        DataFrame of shape (n_samples, n_terms)
            Columns ``term_names_``; the index of X when X is a DataFrame.
            Multiply by the standardised column (``encoder_``) for a term's
            contribution to eta.
        """
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        x_num, x_cat, _ = self._tensors(X)
        module = self._inference_module()
        assert isinstance(module, LocalGLMNet)
        beta = module.coefficients(x_num, x_cat).numpy()
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(beta, columns=self.term_names_, index=index)
