"""glmlib: fast, correct generalized linear models on NumPy and PyTorch.

Public API
----------
GLM
    Penalised GLM estimator for every family and link (scikit-learn API).
GLMCV
    Regularisation path with cross-validated choice of alpha.
glm_path
    The regularisation path alone (no cross-validation).
GAM, gam
    Generalized additive models with automatic smoothness (``glmlib.gam``).
BayesianGLM, bayes
    Bayesian GLMs on PyMC, or by the Laplace approximation (``glmlib.bayes``).
families, links
    Exponential families and link functions.
datasets
    The book's real data sets and a synthetic GLM generator.
export
    ONNX export of fitted GLMs for inference (``glmlib.export.to_onnx``).
show_versions
    Print the Python, device and package versions behind a result.
resolve_device
    "auto" -> "cuda" when PyTorch sees a GPU, else "cpu".
"""

from . import bayes, datasets, export, families, gam, links
from ._backend import resolve_device
from ._versions import show_versions
from .bayes import BayesianGLM
from .gam import GAM
from .glm import GLM
from .glm_cv import GLMCV, glm_path

__all__ = [
    "GAM",
    "GLM",
    "GLMCV",
    "BayesianGLM",
    "bayes",
    "datasets",
    "export",
    "families",
    "gam",
    "glm_path",
    "links",
    "resolve_device",
    "show_versions",
]
__version__ = "0.1.0"
