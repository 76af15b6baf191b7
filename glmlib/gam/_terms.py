"""Model terms of a GAM: what each covariate contributes to the linear predictor.

A GAM's linear predictor is a sum of terms,

    eta_i = b0 + f_1(x_i1) + f_2(x_i2) + beta_3 x_i3 + gamma[level(x_i4)] + f_5(x_i5, x_i6) + ...,

written ``s(1) + s(2) + l(3) + f(4) + te(5, 6)``. A term learns what it needs
from the training column(s) (:meth:`Term.fit`: knots, levels, the
identifiability constraint), then maps any column(s) to its block of the model
matrix (:meth:`Term.transform`) and states its quadratic penalties.

* ``s``: a penalised B-spline (P-spline) smooth, n_splines - 1 columns.
* ``te``: a tensor-product smooth, one penalty per margin.
* ``l``: the covariate itself, unpenalised.
* ``f``: a factor, one indicator per level except the first (the reference).

Smooths carry the sum-to-zero constraint sum_i f(x_i) = 0 over the training
rows, so that they are identifiable next to the intercept. It is imposed by
reparametrisation (Wood 2017, sec. 5.4.1): with c = B'1 the column sums of the
basis and [c/|c|, Z] an orthonormal basis from a QR factorisation of c, the
smooth is f = B Z gamma, with penalty Z' P Z. This changes no fitted value
(the constant it removes is unpenalised and absorbed by the intercept).

Terms are specifications: the constructors store their arguments verbatim and
the estimator fits deep copies, so ``sklearn.base.clone`` works.

References
----------
Wood, S. N. (2017). *Generalized Additive Models: An Introduction with R*, 2nd
ed. Chapman & Hall/CRC.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._basis import (
    bspline_basis,
    bspline_knots,
    dense,
    difference_penalty,
    kron_penalties,
    row_kronecker,
)

__all__ = [
    "Term",
    "TermList",
    "SplineTerm",
    "LinearTerm",
    "FactorTerm",
    "TensorTerm",
    "s",
    "l",
    "f",
    "te",
]

Column = int | str


def _check_column(col: Any) -> Column:
    if isinstance(col, bool | np.bool_) or not isinstance(col, numbers.Integral | str):
        raise TypeError(f"a term's column must be an int index or a column name, got {col!r}")
    return int(col) if isinstance(col, numbers.Integral) else col


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_lam(lam: Any) -> float | None:
    if lam is None:
        return None
    if isinstance(lam, bool | np.bool_) or not isinstance(lam, numbers.Real):
        raise TypeError(f"lam must be None (selected) or a number >= 0, got {lam!r}")
    if not math.isfinite(float(lam)) or lam < 0:
        raise ValueError(f"lam must be finite and >= 0, got {lam!r}")
    return float(lam)


def _sum_to_zero(basis: Any, counts: np.ndarray | None = None) -> np.ndarray:
    """Z (k x k-1) with orthonormal columns spanning {beta : 1' B beta = 0}.

    With ``counts``, the rows of B are distinct covariate values and row j
    stands for ``counts[j]`` training rows: the constraint is then
    counts' B beta = 0, the same as over the training rows themselves.
    """
    if counts is None:
        c = np.asarray(basis.sum(axis=0), dtype=np.float64).ravel()
    else:
        c = np.asarray(basis.T @ np.asarray(counts, dtype=np.float64), dtype=np.float64).ravel()
    q, _ = np.linalg.qr(c[:, None], mode="complete")
    return q[:, 1:]


class Term:
    """Base class of model terms.

    Subclasses define ``kind``, :meth:`_fit` and :meth:`_basis`; after
    :meth:`fit` a term has ``n_coefs``, ``penalties`` (a list of
    ``n_coefs x n_coefs`` matrices, empty when unpenalised) and ``lam_fixed``
    (one entry per penalty: a number, or None to select it).
    """

    kind = "term"
    columns: tuple[Column, ...]
    # Fitted state (set by fit):
    names_: list[str]
    ranges_: list[tuple[float, float]]
    n_coefs: int
    penalties: list[np.ndarray]
    lam_fixed: list[float | None]

    # -------------------------------------------------------------- algebra
    def __add__(self, other: Term | TermList) -> TermList:
        return TermList(self) + other

    def __radd__(self, other: Any) -> TermList:
        if other == 0:  # sum([...]) starts from 0
            return TermList(self)
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._spec() == other._spec()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self._spec())))

    def __repr__(self) -> str:
        args = ", ".join(repr(c) for c in self.columns)
        extra = ", ".join(f"{k}={v!r}" for k, v in self._spec()[1].items())
        return f"{self.kind}({args}{', ' + extra if extra else ''})"

    def _spec(self) -> tuple[tuple[Column, ...], dict[str, Any]]:
        return tuple(self.columns), {}

    # ---------------------------------------------------------------- shape
    @property
    def penalised(self) -> bool:
        return len(getattr(self, "penalties", [])) > 0

    def label(self, names: Sequence[str]) -> str:
        """Display name such as ``s(age)`` from the resolved column names."""
        return f"{self.kind}({', '.join(names)})"

    # -------------------------------------------------------------- fitting
    def fit(
        self, data: list[np.ndarray], names: list[str], counts: np.ndarray | None = None
    ) -> Term:
        """Learn knots, levels and constraints from the training column(s).

        ``counts``, when given, says that row j of ``data`` stands for
        ``counts[j]`` training rows (``data`` then holds the distinct values
        of the training rows, as in a discretised fit); the fitted term is the
        one the expanded rows would give.
        """
        self.fit_transform(data, names, counts)
        return self

    def fit_transform(
        self, data: list[np.ndarray], names: list[str], counts: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`fit`, returning the block of the model matrix at ``data``'s rows."""
        self.names_ = list(names)
        block = self._fit(data, counts)
        return self._basis(data) if block is None else block

    def transform(self, data: list[np.ndarray]) -> np.ndarray:
        """This term's block of the model matrix, shape (n, n_coefs)."""
        return self._basis(data)

    def _fit(self, data: list[np.ndarray], counts: np.ndarray | None = None) -> np.ndarray | None:
        """Learn the term's state (rows weighted by ``counts``); may return the block."""
        raise NotImplementedError

    def _basis(self, data: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def grid(self, data: list[np.ndarray], n: int) -> list[np.ndarray]:
        """Evaluation points for partial dependence: n values across the training range."""
        return [np.linspace(lo, hi, n) for lo, hi in self.ranges_]


class SplineTerm(Term):
    """A penalised B-spline smooth of one covariate; see :func:`s`."""

    kind = "s"

    def __init__(
        self,
        col: Column,
        n_splines: int = 20,
        spline_order: int = 3,
        penalty_order: int = 2,
        lam: float | None = None,
    ) -> None:
        self.columns = (_check_column(col),)
        self.n_splines = n_splines
        self.spline_order = spline_order
        self.penalty_order = penalty_order
        self.lam = lam

    def _spec(self) -> tuple[tuple[Column, ...], dict[str, Any]]:
        return tuple(self.columns), {
            "n_splines": self.n_splines,
            "spline_order": self.spline_order,
            "penalty_order": self.penalty_order,
            "lam": self.lam,
        }

    def _check(self) -> None:
        order = _check_int("spline_order", self.spline_order, 0)
        ns = _check_int("n_splines", self.n_splines, 1)
        if ns < order + 1:
            raise ValueError(
                f"n_splines must be >= spline_order + 1 = {order + 1} for {self!r}, got {ns}"
            )
        pen = _check_int("penalty_order", self.penalty_order, 0)
        if pen >= ns:
            raise ValueError(f"penalty_order must be < n_splines for {self!r}, got {pen}")
        _check_lam(self.lam)

    def _fit(self, data: list[np.ndarray], counts: np.ndarray | None = None) -> np.ndarray:
        self._check()
        x = data[0]
        _check_unique(x, self.n_splines, self.names_[0])
        self.ranges_ = [(float(x.min()), float(x.max()))]
        self.knots_ = bspline_knots(*self.ranges_[0], self.n_splines, self.spline_order)
        raw = bspline_basis(x, self.knots_, self.spline_order)
        self.constraint_ = _sum_to_zero(raw, counts)
        z = self.constraint_
        self.penalties = [z.T @ difference_penalty(self.n_splines, self.penalty_order) @ z]
        self.lam_fixed = [_check_lam(self.lam)]
        self.n_coefs = z.shape[1]
        return np.asarray(raw @ z)

    def _basis(self, data: list[np.ndarray]) -> np.ndarray:
        return np.asarray(bspline_basis(data[0], self.knots_, self.spline_order) @ self.constraint_)


class TensorTerm(Term):
    """A tensor-product smooth of two or more covariates; see :func:`te`."""

    kind = "te"

    def __init__(
        self,
        *cols: Column,
        n_splines: int | Sequence[int] = 5,
        spline_order: int | Sequence[int] = 3,
        penalty_order: int | Sequence[int] = 2,
        lam: float | None | Sequence[float | None] = None,
    ) -> None:
        if len(cols) < 2:
            raise ValueError("te() needs at least two columns; use s() for one")
        self.columns = tuple(_check_column(c) for c in cols)
        self.n_splines = n_splines
        self.spline_order = spline_order
        self.penalty_order = penalty_order
        self.lam = lam

    def _spec(self) -> tuple[tuple[Column, ...], dict[str, Any]]:
        return tuple(self.columns), {
            "n_splines": self.n_splines,
            "spline_order": self.spline_order,
            "penalty_order": self.penalty_order,
            "lam": self.lam,
        }

    def _per_margin(self, name: str, value: Any) -> list[Any]:
        d = len(self.columns)
        if isinstance(value, Iterable) and not isinstance(value, str):
            value = list(value)
            if len(value) != d:
                raise ValueError(f"{name} of {self!r} needs {d} entries, got {len(value)}")
            return value
        return [value] * d

    def margins(self) -> list[SplineTerm]:
        """The marginal smooths (unconstrained) as :class:`SplineTerm` specifications."""
        args = zip(
            self.columns,
            self._per_margin("n_splines", self.n_splines),
            self._per_margin("spline_order", self.spline_order),
            self._per_margin("penalty_order", self.penalty_order),
            self._per_margin("lam", self.lam),
            strict=True,
        )
        return [SplineTerm(c, ns, so, po, lam) for c, ns, so, po, lam in args]

    def _fit(self, data: list[np.ndarray], counts: np.ndarray | None = None) -> np.ndarray:
        margins = self.margins()
        for m, name in zip(margins, self.names_, strict=True):
            m._check()
            m.names_ = [name]
        self.ranges_, self.knots_, raws, pens = [], [], [], []
        for m, x in zip(margins, data, strict=True):
            _check_unique(x, m.n_splines, m.names_[0])
            self.ranges_.append((float(x.min()), float(x.max())))
            self.knots_.append(bspline_knots(*self.ranges_[-1], m.n_splines, m.spline_order))
            raws.append(dense(bspline_basis(x, self.knots_[-1], m.spline_order)))
            pens.append(difference_penalty(m.n_splines, m.penalty_order))
        self._orders = [m.spline_order for m in margins]
        raw = row_kronecker(raws)
        self.constraint_ = _sum_to_zero(raw, counts)
        z = self.constraint_
        self.penalties = [z.T @ p @ z for p in kron_penalties(pens)]
        self.lam_fixed = [_check_lam(m.lam) for m in margins]
        self.n_coefs = z.shape[1]
        return raw @ z

    def _basis(self, data: list[np.ndarray]) -> np.ndarray:
        raws = [
            dense(bspline_basis(x, k, o))
            for x, k, o in zip(data, self.knots_, self._orders, strict=True)
        ]
        return row_kronecker(raws) @ self.constraint_


class LinearTerm(Term):
    """An unpenalised linear effect beta * x; see :func:`l`."""

    kind = "l"

    def __init__(self, col: Column) -> None:
        self.columns = (_check_column(col),)

    def _fit(self, data: list[np.ndarray], counts: np.ndarray | None = None) -> None:
        x = data[0]
        self.ranges_ = [(float(x.min()), float(x.max()))]
        self.penalties = []
        self.lam_fixed = []
        self.n_coefs = 1

    def _basis(self, data: list[np.ndarray]) -> np.ndarray:
        return np.asarray(data[0], dtype=np.float64)[:, None]


class FactorTerm(Term):
    """An unpenalised factor: one indicator per non-reference level; see :func:`f`."""

    kind = "f"

    def __init__(self, col: Column) -> None:
        self.columns = (_check_column(col),)

    def _fit(self, data: list[np.ndarray], counts: np.ndarray | None = None) -> None:
        x = data[0]
        if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype):
            present = set(pd.unique(x))
            levels = [c for c in x.cat.categories if c in present]
        else:
            levels = sorted(pd.unique(np.asarray(x, dtype=object)).tolist(), key=_level_key)
        if len(levels) < 2:
            raise ValueError(
                f"factor {self.names_[0]!r} has {len(levels)} level(s); it needs 2 or more"
            )
        self.levels_ = levels
        self.penalties = []
        self.lam_fixed = []
        self.n_coefs = len(levels) - 1

    def _codes(self, x: Any) -> np.ndarray:
        values = np.asarray(x, dtype=object)
        index = {lev: i for i, lev in enumerate(self.levels_)}
        try:
            return np.fromiter((index[v] for v in values), dtype=np.int64, count=values.shape[0])
        except KeyError as err:
            raise ValueError(
                f"factor {self.names_[0]!r} has level {err.args[0]!r}, unseen in training "
                f"(levels: {self.levels_})"
            ) from None

    def _basis(self, data: list[np.ndarray]) -> np.ndarray:
        codes = self._codes(data[0])
        out = np.zeros((codes.shape[0], self.n_coefs))
        rows = np.flatnonzero(codes > 0)
        out[rows, codes[rows] - 1] = 1.0
        return out

    def grid(self, data: list[np.ndarray], n: int) -> list[np.ndarray]:
        return [np.asarray(self.levels_, dtype=object)]


def _level_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, numbers.Number) else (1, str(v))


def _check_unique(x: np.ndarray, n_splines: int, name: str) -> None:
    n_unique = pd.unique(x).shape[0]
    if n_unique < n_splines:
        raise ValueError(
            f"column {name!r} has {n_unique} unique values, fewer than n_splines={n_splines}: "
            f"use n_splines <= {n_unique}, or l()/f() for a covariate with few values"
        )


class TermList:
    """An ordered list of terms, built with ``+``: ``s(0) + s(1) + f("sex")``."""

    def __init__(self, *terms: Term | TermList) -> None:
        self.terms: list[Term] = []
        for t in terms:
            self.terms.extend(t.terms if isinstance(t, TermList) else [_check_term(t)])

    def __add__(self, other: Term | TermList) -> TermList:
        return TermList(self, other)

    def __radd__(self, other: Any) -> TermList:
        if other == 0:
            return TermList(self)
        return NotImplemented

    def __iter__(self):  # noqa: ANN204
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, i: int) -> Term:
        return self.terms[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermList) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(tuple(self.terms))

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self.terms)

    def __deepcopy__(self, memo: dict[int, Any]) -> TermList:
        return TermList(*(copy.deepcopy(t, memo) for t in self.terms))


def _check_term(t: Any) -> Term:
    if not isinstance(t, Term):
        raise TypeError(f"expected a term such as s(0), l(1), f(2) or te(0, 1), got {t!r}")
    return t


def as_term_list(terms: Any) -> TermList:
    """A deep copy of ``terms`` (a Term or TermList) as a TermList, ready to fit."""
    if isinstance(terms, Term):
        terms = TermList(terms)
    if not isinstance(terms, TermList) or len(terms) == 0:
        raise TypeError(
            f"terms must be a term or a sum of terms such as s(0) + l(1), got {terms!r}"
        )
    return copy.deepcopy(terms)


def s(
    col: Column,
    n_splines: int = 20,
    spline_order: int = 3,
    penalty_order: int = 2,
    lam: float | None = None,
) -> SplineTerm:
    """A penalised B-spline smooth f(x) of one covariate (a P-spline).

    .. math::

        f(x) = \\sum_{k=1}^{K} B_k(x) \\beta_k, \\qquad
        \\text{penalty } \\lambda \\sum_k (\\Delta^m \\beta_k)^2 = \\lambda\\, \\beta^\\top D_m^\\top D_m \\beta,

    with K = ``n_splines`` B-splines of degree ``spline_order`` on equally
    spaced knots over the training range (pyGAM's basis; linear extrapolation
    beyond it), m = ``penalty_order``, and the sum-to-zero constraint
    :math:`\\sum_i f(x_i) = 0` (so the term has K - 1 coefficients).

    Parameters
    ----------
    col : int or str
        Column index, or DataFrame column name.
    n_splines : int, default=20
        Number of basis functions K (>= spline_order + 1, and at most the
        number of distinct values of the covariate).
    spline_order : int, default=3
        Degree of the B-splines (3: cubic).
    penalty_order : int, default=2
        Order m of the difference penalty; m = 2 shrinks towards a straight line.
    lam : float, optional
        Fixed smoothing parameter, on pyGAM's and mgcv's scale: the fit
        minimises deviance + lam * beta' P beta. None (default): chosen by the
        estimator's ``method``.

    Examples
    --------
    >>> from glmlib.gam import s, l
    >>> terms = s(0) + s("age", n_splines=10) + l(2)
    >>> terms
    s(0, n_splines=20, spline_order=3, penalty_order=2, lam=None) + s('age', n_splines=10, spline_order=3, penalty_order=2, lam=None) + l(2)
    """
    return SplineTerm(col, n_splines, spline_order, penalty_order, lam)


def te(
    *cols: Column,
    n_splines: int | Sequence[int] = 5,
    spline_order: int | Sequence[int] = 3,
    penalty_order: int | Sequence[int] = 2,
    lam: float | None | Sequence[float | None] = None,
) -> TensorTerm:
    """A tensor-product smooth f(x_1, x_2, ...) with one penalty per margin.

    The basis is the row-wise Kronecker product of the marginal B-spline bases,
    :math:`f(x_1, x_2) = \\sum_{a,b} B_a(x_1) B_b(x_2) \\beta_{ab}`, and the
    penalty is :math:`\\lambda_1 \\beta^\\top (P_1 \\otimes I) \\beta + \\lambda_2
    \\beta^\\top (I \\otimes P_2) \\beta` (pyGAM's ``te``), with a sum-to-zero
    constraint. Each setting may be one value for all margins or one per margin.

    Parameters
    ----------
    *cols : int or str
        Two or more columns.
    n_splines : int or sequence of int, default=5
        Marginal basis sizes (the term has prod(n_splines) - 1 coefficients).
    spline_order, penalty_order : int or sequence of int
        As in :func:`s`.
    lam : float, None or sequence
        Fixed smoothing parameters (None: selected).
    """
    return TensorTerm(
        *cols, n_splines=n_splines, spline_order=spline_order, penalty_order=penalty_order, lam=lam
    )


def l(col: Column) -> LinearTerm:  # noqa: E743
    """An unpenalised linear term beta * x."""
    return LinearTerm(col)


def f(col: Column) -> FactorTerm:
    """An unpenalised factor term: treatment contrasts, the first level as reference.

    Levels are a pandas Categorical's categories (those present in the
    training data) in their order, otherwise the sorted distinct values.
    """
    return FactorTerm(col)
