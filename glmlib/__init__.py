"""glmlib: fast, correct generalized linear models on NumPy and PyTorch.

Public API
----------
GLM
    Penalised GLM estimator for every family and link (scikit-learn API).
GLMCV
    Regularisation path with cross-validated choice of alpha.
families, links
    Exponential families and link functions.
datasets
    The book's real data sets and a synthetic GLM generator.
"""

from . import datasets, families, links
from .glm import GLM
from .glm_cv import GLMCV

__all__ = ["GLM", "GLMCV", "datasets", "families", "links"]
__version__ = "0.1.0"
