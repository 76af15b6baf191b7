"""glmlib: fast, correct generalized linear models on NumPy and PyTorch.

Public API
----------
GLM
    Penalised GLM estimator for every family and link (scikit-learn API).
GLMCV
    Regularisation path with cross-validated choice of alpha.
GLMClassifier, GLMClassifierCV
    The binomial GLM (and GLMCV) as a scikit-learn binary classifier.
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
book
    Checks of the book's chapter parameters (``glmlib.book``, imported on demand).
export
    ONNX export of fitted GLMs for inference (``glmlib.export.to_onnx``).
nn
    Neural GLMs on PyTorch: GLMLoss, GLMHead, NeuralGLM (CANN), LocalGLMnet
    and their training loop (``glmlib.nn``; imported on first use, since it
    imports PyTorch).
show_versions
    Print the Python, device and package versions behind a result.
resolve_device
    "auto" -> "cuda" when PyTorch sees a GPU, else "cpu".
distributed
    Fits across torch.distributed processes (``GLM(distributed=True)``).
recorded
    Results measured elsewhere (the lent GPU), shipped with the package.
MixedPrecisionWarning
    Issued when ``precision="mixed"`` falls back to full precision.
disk_cache, open_disk_cache
    Decode a Dask collection once to local disk for out-of-core fits.
parquet_matrix
    Parquet columns as a Dask array decoded by pyarrow, for out-of-core fits.

Layout
------
The estimators (``glm.py``, ``glm_cv.py``, ``classifier.py``, ``gam/``,
``bayes/``, ``nn/``) validate their input, build a design and a problem, and
call the solver core. Two internal sub-packages hold that core; their
``__init__`` docstrings list their modules:

``glmlib.solver``
    The one penalised Newton method (``newton``) on a ``Problem``, its inner
    solvers (coordinate descent, FISTA), L1 screening, the null model and
    L-BFGS.
``glmlib.design``
    Everything that touches X, behind one interface (``design.protocol``):
    dense, sparse, categorical, discretised, streamed, Dask and mixed-precision
    designs, and how to add one.

Below them, ``_backend`` (array namespaces and devices) and ``_linalg``
(factorisations with an eigen fallback). Tests mirror the tree:
``tests/solver/``, ``tests/design/``, ``tests/gam/``, and so on.
"""

from . import bayes, datasets, export, families, gam, links
from ._backend import resolve_device
from ._versions import show_versions
from .bayes import BayesianGLM
from .classifier import GLMClassifier, GLMClassifierCV
from .design.dask import disk_cache, open_disk_cache, parquet_matrix
from .design.mixed import MixedPrecisionWarning
from .gam import GAM
from .glm import GLM
from .glm_cv import GLMCV, glm_path

__all__ = [
    "MixedPrecisionWarning",
    "GAM",
    "GLM",
    "GLMCV",
    "GLMClassifier",
    "GLMClassifierCV",
    "BayesianGLM",
    "bayes",
    "datasets",
    "disk_cache",
    "export",
    "families",
    "gam",
    "glm_path",
    "links",
    "open_disk_cache",
    "parquet_matrix",
    "resolve_device",
    "show_versions",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``glmlib.nn`` on first access: it imports PyTorch, which ``import glmlib`` does not."""
    if name == "nn":
        import importlib

        return importlib.import_module(".nn", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
