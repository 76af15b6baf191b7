"""The design for validated input X: dense, sparse or categorical, on the fit's backend.

:func:`make_design` is where estimators turn validated X into a design
(:mod:`glmlib.design`); out-of-core, streamed and mixed-precision designs are
chosen by the estimator itself from its options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scipy.sparse as sp

from .._backend import Backend
from .dense import DenseDesign
from .sparse import ScipySparseDesign, TorchSparseDesign

if TYPE_CHECKING:  # categorical builds on dense; only its type is needed here
    from .categorical import CategoricalLayout

__all__ = ["make_design"]


def make_design(X: Any, backend: Backend, layout: CategoricalLayout | None = None) -> Any:
    """Wrap validated input X in the design class for its storage and backend.

    With a ``layout``, X is a DataFrame with categorical columns: the
    categorical design on the numpy backend; on other backends its one-hot
    CSR matrix takes their sparse path.
    """
    if layout is not None:
        design = layout.design(X, Backend("numpy"))
        if backend.name == "numpy":
            return design
        X = design.to_csr()
    if sp.issparse(X):
        if backend.name == "torch":
            return TorchSparseDesign.from_scipy(X, backend)
        return ScipySparseDesign(X, backend)
    return DenseDesign(backend.asarray(X), backend)
