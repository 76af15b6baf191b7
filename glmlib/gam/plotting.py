"""Figures of fitted GAMs: every term's partial dependence with its confidence band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["plot_partial_dependence"]


def plot_partial_dependence(
    gam: Any,
    terms: list[int | str] | None = None,
    *,
    width: float = 0.95,
    ncols: int = 3,
    axes: Any = None,
    grid: int = 100,
    rug: bool = False,
    X: Any = None,
) -> Any:
    """Plot the smooth terms of a fitted GAM with pointwise confidence bands.

    One panel per term: a line with a shaded band for ``s`` (and ``l``)
    terms, points with error bars for ``f`` terms and a filled contour of the
    estimate for two-covariate ``te`` terms. The x axis is labelled with the
    covariate, the y axis with the term (``s(age)``), on the link scale.

    Parameters
    ----------
    gam : GAM
        A fitted :class:`~glmlib.gam.GAM`.
    terms : list of int or str, optional
        Terms to draw; default: every ``s`` and ``te`` term.
    width : float, default=0.95
        Coverage of the bands.
    ncols : int, default=3
        Panels per row when ``axes`` is not given.
    axes : array of matplotlib Axes, optional
        Where to draw (at least one per term).
    grid : int, default=100
        Points per covariate.
    rug : bool, default=False
        Mark the training values of each covariate (needs ``X``).
    X : DataFrame or array-like, optional
        Training data for the rug.

    Returns
    -------
    ndarray of matplotlib Axes
    """
    import matplotlib.pyplot as plt

    labels = gam.term_labels_
    if terms is None:
        terms = [i for i, t in enumerate(gam.terms_) if t.kind in ("s", "te")]
        if not terms:
            raise ValueError("the model has no smooth terms; pass terms=[...] to plot others")
    idx = [gam._term_index(t) for t in terms]
    if axes is None:
        ncols = min(ncols, len(idx))
        nrows = math.ceil(len(idx) / ncols)
        _, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    axes = np.asarray(axes).ravel()
    if axes.size < len(idx):
        raise ValueError(f"{len(idx)} terms need {len(idx)} axes, got {axes.size}")
    for ax, j in zip(axes, idx, strict=False):
        term = gam.terms_[j]
        pd_ = gam.partial_dependence(j, grid=grid, width=width)
        if term.kind == "te":
            if len(term.columns) != 2:
                raise ValueError(f"can only draw te() of two covariates, not {labels[j]}")
            g = int(round(math.sqrt(pd_.grid.shape[0])))
            x1 = pd_.grid[:, 0].reshape(g, g)
            x2 = pd_.grid[:, 1].reshape(g, g)
            cs = ax.contourf(x1, x2, pd_.estimate.reshape(g, g), levels=15, cmap="RdBu_r")
            ax.figure.colorbar(cs, ax=ax, label=labels[j])
            ax.set_xlabel(term.names_[0])
            ax.set_ylabel(term.names_[1])
        elif term.kind == "f":
            pos = np.arange(pd_.grid.shape[0])
            yerr = np.vstack([pd_.estimate - pd_.lower, pd_.upper - pd_.estimate])
            ax.errorbar(pos, pd_.estimate, yerr=yerr, fmt="o", capsize=3)
            ax.set_xticks(pos, [str(v) for v in pd_.grid], rotation=30, ha="right")
            ax.set_xlabel(term.names_[0])
            ax.set_ylabel(labels[j])
        else:
            ax.fill_between(pd_.grid, pd_.lower, pd_.upper, alpha=0.25, label=f"{width:.0%} band")
            ax.plot(pd_.grid, pd_.estimate, lw=2, label="estimate")
            if rug and X is not None:
                from ._data import term_columns

                x = term_columns(term, X)[0][0]
                ax.plot(x, np.full_like(x, ax.get_ylim()[0]), "|", color="k", alpha=0.2, ms=8)
            ax.set_xlabel(term.names_[0])
            ax.set_ylabel(labels[j])
        lam = gam.lam_[j]
        title = f"{labels[j]}: edf {gam.edf_[j]:.1f}"
        if lam is not None and not isinstance(lam, tuple):
            title += f", λ = {lam:.3g}"
        ax.set_title(title, fontsize=10)
    for ax in axes[len(idx) :]:
        ax.set_visible(False)
    return axes
