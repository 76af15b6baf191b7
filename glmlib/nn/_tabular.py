"""Tabular input of the neural estimators: standardised numeric columns and categorical codes.

:class:`TabularEncoder` is fitted state of an estimator. It takes what
:func:`glmlib._validation.validate_X` returns (a float array, or a DataFrame
with pandas categorical columns) and gives

* the numeric columns standardised with the training means and standard
  deviations, weighted by the sample weights (a constant column is only
  centred),
* one int64 code per row and categorical column on the levels seen in fit
  (glmlib's own mapping: any category order or plain strings at predict time;
  missing values and unseen levels raise ValueError, naming the column),
* for LocalGLMnet, the linear terms: the standardised numeric columns and the
  treatment-coded indicators of each categorical (first level left out),
  named as :class:`glmlib.GLM` names them (``"{column}[{level}]"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from .._backend import to_numpy
from ..design.categorical import CategoricalLayout, _codes, is_categorical

__all__ = ["TabularEncoder"]


@dataclass(frozen=True, eq=False)
class TabularEncoder:
    """How an estimator's input columns become network inputs (fitted state).

    Attributes
    ----------
    names : tuple of str
        Input column names.
    numeric, categorical : tuple of int
        Positions of the numeric and categorical columns.
    categories : tuple of pandas.Index
        Levels of each categorical column at fit time.
    mean, scale : ndarray
        Standardisation of the numeric columns.
    """

    names: tuple[str, ...]
    numeric: tuple[int, ...]
    categorical: tuple[int, ...]
    categories: tuple[pd.Index, ...]
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: object, names: list[str], sample_weight: np.ndarray) -> TabularEncoder:
        """Fit on a validated array or DataFrame; weighted means and standard deviations.

        The weights act as frequencies: a row of weight 0 does not count, one
        of weight 2 counts twice.
        """
        if isinstance(X, pd.DataFrame):
            is_cat = [is_categorical(dt) for dt in X.dtypes]
            numeric = tuple(j for j, c in enumerate(is_cat) if not c)
            categorical = tuple(j for j, c in enumerate(is_cat) if c)
            categories = tuple(X.iloc[:, j].cat.categories for j in categorical)
        else:
            numeric = tuple(range(int(X.shape[1])))  # type: ignore[attr-defined]
            categorical, categories = (), ()
        enc = cls(tuple(names), numeric, categorical, categories, np.zeros(0), np.ones(0))
        x = enc._numeric(X)
        w = np.asarray(sample_weight, dtype=np.float64)
        mean = np.average(x, axis=0, weights=w)
        scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
        scale = np.where(scale > 0, scale, 1.0)
        for j, levels in zip(categorical, categories, strict=True):
            if len(levels) == 0:
                raise ValueError(f"categorical column {names[j]!r} has no levels")
        return cls(tuple(names), numeric, categorical, categories, mean, scale)

    @property
    def cardinalities(self) -> list[int]:
        """Number of levels of each categorical column."""
        return [len(levels) for levels in self.categories]

    def _numeric(self, X: object) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            block = X.iloc[:, list(self.numeric)]
            if block.shape[1] == 0:
                return np.empty((X.shape[0], 0))
            return check_array(block, dtype=np.float64)
        return np.asarray(to_numpy(X), dtype=np.float64)

    def transform(self, X: object) -> tuple[np.ndarray, np.ndarray]:
        """(standardised numeric columns as float64 (n, m), level codes as int64 (n, K))."""
        x_num = (self._numeric(X) - self.mean) / self.scale
        n = x_num.shape[0]
        codes = np.empty((n, len(self.categorical)), dtype=np.int64)
        if self.categorical:
            assert isinstance(X, pd.DataFrame)
            for k, (j, levels) in enumerate(zip(self.categorical, self.categories, strict=True)):
                codes[:, k] = _codes(X.iloc[:, j], levels, self.names[j])
        return x_num, codes

    # --------------------------------------------------------- linear terms
    def _layout(self) -> CategoricalLayout:
        cats: list[pd.Index | None] = [None] * len(self.names)
        for j, levels in zip(self.categorical, self.categories, strict=True):
            cats[j] = levels
        return CategoricalLayout(self.names, tuple(cats), drop_first=True)

    @property
    def term_names(self) -> list[str]:
        """Names of the linear terms, in column order (``"{column}[{level}]"`` for indicators)."""
        return self._layout().term_names

    def linear_terms(self, x_num: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Standardised numeric columns and treatment-coded indicators, (n, n_terms) float64."""
        n = x_num.shape[0]
        blocks: list[np.ndarray] = []
        num_k = cat_k = 0
        for j in range(len(self.names)):
            if j in self.numeric:
                blocks.append(x_num[:, num_k : num_k + 1])
                num_k += 1
            else:
                width = len(self.categories[cat_k]) - 1
                onehot = np.zeros((n, width))
                rows = np.flatnonzero(codes[:, cat_k] > 0)
                onehot[rows, codes[rows, cat_k] - 1] = 1.0
                blocks.append(onehot)
                cat_k += 1
        return np.hstack(blocks) if blocks else np.empty((n, 0))
