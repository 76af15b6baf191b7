"""Neural GLMs on PyTorch: a GLM loss and output layer, and estimators built on them.

Networks and training
---------------------
GLMLoss
    Weighted mean unit deviance of any glmlib family and link, from the
    linear predictor (an ``nn.Module``).
GLMHead
    The GLM output layer: linear predictor (plus offset) and inverse link.
NeuralGLM
    A feed-forward network with a GLM output layer (scikit-learn API);
    ``glm_skip=True`` is the CANN of Schelldorfer and Wüthrich (2019).
LocalGLMnet
    Per-observation GLM coefficients from a network (Richman and Wüthrich 2023).
train, evaluate, TrainConfig, TrainResult, DivergenceError
    The one training loop, reusable by any model that maps a batch of inputs
    to a linear predictor.
ElasticNetProx
    The proximal (soft-threshold) step of an elastic-net penalty.
validation_objective, SearchSpace, ValidationObjective, make_study
    Hyperparameter tuning on a validation split (optuna; ``glmlib[tune]``).
TabularInput, mlp, init_weights
    Building blocks: numeric columns plus categorical embeddings, a
    multilayer perceptron, He/Xavier initialisation.

``glmlib.nn.keras.GLMDeviance`` is the same loss for Keras 3 models on
Keras's PyTorch backend (``pip install 'glmlib[keras]'``; imported separately).

Importing this package imports PyTorch; ``import glmlib`` does not.
"""

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - torch is installed wherever tests run
    raise ImportError("glmlib.nn needs PyTorch: pip install 'glmlib[torch]'") from err

from .layers import GLMHead, TabularInput, init_weights, mlp
from .local_glmnet import LocalGLMnet
from .loss import GLMLoss
from .neural_glm import NeuralGLM
from .penalty import ElasticNetProx
from .training import DivergenceError, TrainConfig, TrainResult, evaluate, train
from .tuning import SearchSpace, ValidationObjective, make_study, validation_objective

__all__ = [
    "DivergenceError",
    "ElasticNetProx",
    "GLMHead",
    "GLMLoss",
    "LocalGLMnet",
    "NeuralGLM",
    "SearchSpace",
    "TabularInput",
    "TrainConfig",
    "TrainResult",
    "ValidationObjective",
    "evaluate",
    "init_weights",
    "make_study",
    "mlp",
    "train",
    "validation_objective",
]
