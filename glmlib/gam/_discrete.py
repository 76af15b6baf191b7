"""A GAM's model matrix as a discretised design (``GAM(discrete=...)``).

Each term's block of the model matrix depends on its covariate(s) only, so
it is the term's basis at the distinct values (or combinations of values, for
``te``) of its columns, indexed by row: ``X_t = M_t[k_t]``. The terms learn
their knots, levels and sum-to-zero constraints from those distinct values,
each weighted by how many training rows have it (``Term.fit(counts=...)``),
which gives the terms the full rows would give. The fit then runs on a
:class:`glmlib.design.discrete.DiscreteDesign` with the same solver, and agrees with
the dense fit up to rounding (tests/gam/test_discrete.py).

Every term kind is supported: ``s`` and ``l`` (distinct values of the
column), ``te`` (distinct combinations of its columns: cheap when they are
few, as for the coordinates of a postcode; with as many combinations as rows
it still works, at the cost of a dense block), and ``f`` (levels).
Consecutive terms with few possible joint combinations (several factors) are
merged into one block, so that the products between them come
with one bincount.

``discrete="auto"`` uses it on the NumPy backend when it saves work: at least
``AUTO_MIN_ROWS`` rows and, summed over the terms, at most a quarter as many
distinct values as rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design.discrete import DiscreteDesign, joint_codes
from ._data import term_columns
from ._terms import TermList

__all__ = ["AUTO_MIN_ROWS", "check_discrete", "discrete_design"]

#: ``discrete="auto"`` needs at least this many rows.
AUTO_MIN_ROWS = 20_000
#: ... and at most this many distinct values (summed over terms) per row.
AUTO_MAX_UNIQUE_FRACTION = 0.25
#: Consecutive blocks are merged while the product of their sizes stays this small.
MERGE_MAX_COMBINATIONS = 512


def check_discrete(value: Any) -> str | bool:
    """``discrete`` as "auto", True or False; anything else is a ValueError."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return "auto"
    raise ValueError(f"discrete must be 'auto', True or False, got {value!r}")


def _rows(col: Any, idx: np.ndarray) -> Any:
    if isinstance(col, pd.Series):
        return col.iloc[idx].reset_index(drop=True)
    return np.asarray(col)[idx]


def discrete_design(
    terms: TermList, table: pd.DataFrame | np.ndarray, setting: str | bool, backend_name: str
) -> DiscreteDesign | None:
    """Fit the terms and build the discretised design, or None to use the dense one.

    Parameters
    ----------
    terms : TermList
        Unfitted terms; fitted here when the discretised design is used.
    table : DataFrame or ndarray
        The training data.
    setting : "auto", True or False
        From :func:`check_discrete`.
    backend_name : str
        The fit's backend; the discretised design is NumPy only.

    Returns
    -------
    DiscreteDesign or None
    """
    if setting is False:
        return None
    if backend_name != "numpy":
        if setting is True:
            raise ValueError(
                f"discrete=True needs the numpy backend, got {backend_name!r}: use "
                "discrete=False (or 'auto') with torch"
            )
        return None
    n = table.shape[0]
    if setting == "auto" and n < AUTO_MIN_ROWS:
        return None
    found = []
    n_unique = 0
    for term in terms:
        data, labels = term_columns(term, table)
        codes, first = joint_codes(data)
        found.append((term, data, labels, codes, first))
        n_unique += first.shape[0]
        # The count only grows: stop at the first term that decides "dense"
        # (with continuous covariates, the first smooth already does).
        if setting == "auto" and n_unique > AUTO_MAX_UNIQUE_FRACTION * n:
            return None
    bases = []
    for term, data, labels, codes, first in found:
        counts = np.bincount(codes, minlength=first.shape[0]).astype(np.float64)
        values = [_rows(col, first) for col in data]
        bases.append(np.asarray(term.fit_transform(values, labels, counts), dtype=np.float64))
    design = DiscreteDesign(np.column_stack([c for *_, c, _ in found]), bases)
    return design.merged(_groups(design))


def _groups(design: DiscreteDesign) -> list[list[int]]:
    """Runs of consecutive blocks whose sizes multiply to at most MERGE_MAX_COMBINATIONS.

    The product bounds the number of joint combinations, so no pass over the
    rows is needed to choose the groups.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    combinations = 1
    for k, size in enumerate(design.sizes.tolist()):
        if current and combinations * size <= MERGE_MAX_COMBINATIONS:
            current.append(k)
            combinations *= size
            continue
        if current:
            groups.append(current)
        current, combinations = [k], size
    if current:
        groups.append(current)
    return groups
