"""Bayesian GLMs: priors on glmlib's coefficients, posteriors by NUTS (PyMC) or Laplace.

Public API
----------
BayesianGLM
    Estimator for every glmlib family and link; ``method="nuts"`` samples a
    PyMC model (nutpie, PyMC, numpyro or blackjax NUTS), ``method="laplace"``
    uses the core engine's penalised fit and its Hessian.
Normal, StudentT, Laplace, Logistic, Flat
    Coefficient priors (:mod:`glmlib.bayes.priors`).
HalfNormal, HalfStudentT, Exponential
    Priors of positive (dispersion) parameters.
RegularizedHorseshoe
    Sparsity prior on all coefficients (Piironen & Vehtari 2017).

PyMC and ArviZ are imported only when a model is fitted, so importing this
package is cheap.
"""

from .estimator import BayesianGLM
from .priors import (
    Exponential,
    Flat,
    HalfNormal,
    HalfStudentT,
    Laplace,
    Logistic,
    Normal,
    Prior,
    RegularizedHorseshoe,
    StudentT,
)

__all__ = [
    "BayesianGLM",
    "Exponential",
    "Flat",
    "HalfNormal",
    "HalfStudentT",
    "Laplace",
    "Logistic",
    "Normal",
    "Prior",
    "RegularizedHorseshoe",
    "StudentT",
]
