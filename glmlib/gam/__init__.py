"""Generalized additive models on glmlib's solver core.

A GAM replaces linear effects by smooth functions whose wiggliness is
penalised, with the penalties' strengths (smoothing parameters) chosen from
the data:

>>> from glmlib.gam import GAM, s, l, f, te
>>> model = GAM(s("age") + s("year", n_splines=6) + f("education"))  # doctest: +SKIP
>>> model.fit(wage, wage["wage"]).summary()  # doctest: +SKIP

Public API
----------
GAM
    The estimator (scikit-learn API): any glmlib family and link; smoothing
    parameters by REML, GCV or UBRE.
s, te, l, f
    Term constructors: P-spline smooth, tensor-product smooth, linear term,
    factor; combine them with ``+``.
plot_partial_dependence
    All smooth terms of a fitted GAM with their confidence bands (matplotlib).

Modules
-------
``_basis`` B-splines and difference penalties; ``_terms`` the terms;
``_data`` finding columns in X; ``_smoothing`` REML/GCV/UBRE and their
gradients; ``_fit`` the performance iteration on the core solver;
``_inference`` EDF, covariances and tests; ``_gam`` the estimator;
``plotting`` figures.
"""

from ._gam import GAM
from ._inference import PartialDependence
from ._terms import FactorTerm, LinearTerm, SplineTerm, TensorTerm, Term, TermList, f, l, s, te
from .plotting import plot_partial_dependence

__all__ = [
    "GAM",
    "FactorTerm",
    "LinearTerm",
    "PartialDependence",
    "SplineTerm",
    "TensorTerm",
    "Term",
    "TermList",
    "f",
    "l",
    "plot_partial_dependence",
    "s",
    "te",
]
