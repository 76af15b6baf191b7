"""The experiment's data: three domains, six shipped data sets, and their splits.

Every data set is loaded with :func:`glmlib.datasets.load` (checked against its
SHA-256), split 80/20 into a training and a test part (stratified for binary
outcomes; the seed is the repeat's), and turned into a design matrix by
transformers fitted on the training rows only (:func:`design`):

- ``"linear"``: standardised numeric columns and treatment-coded categoricals;
  for text, TF-IDF of the words (at most ``TEXT_FEATURES`` terms seen in at
  least five training tweets), a scipy.sparse matrix.
- ``"engineered"``: the research's feature engineering, natural cubic-like
  B-splines (5 knots) of every numeric column plus the pairwise products of the
  standardised numeric columns (of the first ``MAX_INTERACTING`` of them), plus
  the categoricals; for text, words and word pairs (bigrams).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..datasets import load

__all__ = ["DOMAINS", "Domain", "Split", "design", "split"]

#: Pairwise interactions are formed among at most this many numeric columns (the
#: first ones: breast cancer's ten "mean" features), to keep the design fittable.
MAX_INTERACTING = 10
#: Vocabulary sizes of the text designs (words; words and bigrams).
TEXT_FEATURES = 1000
TEXT_FEATURES_ENGINEERED = 3000


@dataclass(frozen=True)
class Domain:
    """One data set of the grid: its domain, outcome and predictors."""

    name: str
    domain: str
    task: str  # "binary" or "count"
    outcome: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: str | None = None
    description: str = ""

    @property
    def family(self) -> str:
        """The GLM family of the outcome."""
        return "binomial" if self.task == "binary" else "poisson"

    @property
    def primary_metric(self) -> str:
        """The metric models are compared on: log-loss or mean Poisson deviance."""
        return "log_loss" if self.task == "binary" else "deviance"


_BC = tuple(
    f"{stat}_{feat}" if stat != "error" else f"{feat}_error"
    for stat in ("mean", "error", "worst")
    for feat in (
        "radius",
        "texture",
        "perimeter",
        "area",
        "smoothness",
        "compactness",
        "concavity",
        "concave_points",
        "symmetry",
        "fractal_dimension",
    )
)

#: The six data sets, by name.
DOMAINS: MappingProxyType[str, Domain] = MappingProxyType(
    {
        d.name: d
        for d in (
            Domain(
                "pima",
                "healthcare",
                "binary",
                "diabetes",
                ("npreg", "glu", "bp", "skin", "bmi", "ped", "age"),
                description="diabetes in Pima women (MASS)",
            ),
            Domain(
                "breast_cancer",
                "healthcare",
                "binary",
                "malignant",
                _BC,
                description="malignant biopsies, 30 strongly correlated features",
            ),
            Domain(
                "nmes1988",
                "healthcare",
                "count",
                "visits",
                ("hospital", "chronic", "age", "school", "income"),
                (
                    "health",
                    "adl",
                    "region",
                    "afam",
                    "gender",
                    "married",
                    "employed",
                    "insurance",
                    "medicaid",
                ),
                description="physician office visits of Medicare patients (AER)",
            ),
            Domain(
                "default",
                "finance",
                "binary",
                "defaulted",
                ("balance", "income"),
                ("student",),
                description="credit card default (ISLR)",
            ),
            Domain(
                "smarket",
                "finance",
                "binary",
                "up",
                ("Lag1", "Lag2", "Lag3", "Lag4", "Lag5", "Volume"),
                description="S&P 500 direction from five lagged returns and volume (ISLR)",
            ),
            Domain(
                "tweets",
                "language",
                "binary",
                "android",
                text="text",
                description="Android or iPhone from the tweet's words (dslabs)",
            ),
        )
    }
)


@dataclass
class Split:
    """An 80/20 split of one data set (the repeat's seed) and its domain."""

    domain: Domain
    train: pd.DataFrame
    test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    seed: int


def _check_name(name: Any) -> Domain:
    if not isinstance(name, str) or name not in DOMAINS:
        raise ValueError(f"unknown data set {name!r}; valid names: {list(DOMAINS)}")
    return DOMAINS[name]


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _stratified_split(
    y: np.ndarray, frac: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(y.size)
    a, b = train_test_split(
        idx, test_size=frac, random_state=seed, stratify=y if stratify else None
    )
    return np.sort(a), np.sort(b)


def split(
    name: str,
    seed: int,
    *,
    test_size: float = 0.2,
    max_rows: int | None = None,
    frame: pd.DataFrame | None = None,
) -> Split:
    """Load a data set and split it into training and test parts.

    Parameters
    ----------
    name : str
        One of :data:`DOMAINS`.
    seed : int
        Seed of the (stratified, for binary outcomes) split and subsample.
    test_size : float, default=0.2
        Share of the rows in the test part (the research's 80/20 split).
    max_rows : int, optional
        Use a (stratified) random subsample of this many rows first (quick runs).
    frame : DataFrame, optional
        The data set, if already loaded (saves re-reading the file).

    Returns
    -------
    Split
    """
    dom = _check_name(name)
    seed = _check_seed(seed)
    if not (isinstance(test_size, float) and 0 < test_size < 1):
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    df = load(name) if frame is None else frame
    y = df[dom.outcome].to_numpy(dtype=np.float64)
    stratify = dom.task == "binary"
    if max_rows is not None:
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 20:
            raise ValueError(f"max_rows must be an integer >= 20 or None, got {max_rows!r}")
        if max_rows < len(df):
            keep, _ = _stratified_split(y, 1 - max_rows / len(df), seed, stratify)
            df, y = df.iloc[keep].reset_index(drop=True), y[keep]
    tr, te = _stratified_split(y, test_size, seed, stratify)
    return Split(
        dom,
        df.iloc[tr].reset_index(drop=True),
        df.iloc[te].reset_index(drop=True),
        y[tr],
        y[te],
        seed,
    )


def inner_split(s: Split, seed: int, frac: float = 0.2) -> Split:
    """Split the training part again (validation inside the training data)."""
    tr, va = _stratified_split(s.y_train, frac, seed, s.domain.task == "binary")
    return Split(
        s.domain,
        s.train.iloc[tr].reset_index(drop=True),
        s.train.iloc[va].reset_index(drop=True),
        s.y_train[tr],
        s.y_train[va],
        seed,
    )


@dataclass
class Design:
    """Design matrices of the training and test rows (fitted on the training rows)."""

    X_train: Any
    X_test: Any
    names: list[str]
    numeric: list[int]  # columns that are standardised numeric predictors

    @property
    def sparse(self) -> bool:
        """Whether the matrices are scipy.sparse (text)."""
        return sp.issparse(self.X_train)


def _dummies(train: pd.DataFrame, test: pd.DataFrame, cols: tuple[str, ...]) -> tuple:
    if not cols:
        return np.empty((len(train), 0)), np.empty((len(test), 0)), []
    a = pd.get_dummies(train[list(cols)], drop_first=True, dtype=np.float64)
    b = pd.get_dummies(test[list(cols)], drop_first=True, dtype=np.float64)
    b = b.reindex(columns=a.columns, fill_value=0.0)
    return a.to_numpy(), b.to_numpy(), list(a.columns)


def design(s: Split, kind: str = "linear") -> Design:
    """The design matrices of a split; every transformer is fitted on the training rows.

    Parameters
    ----------
    s : Split
    kind : {"linear", "engineered"}
        See the module docstring.

    Returns
    -------
    Design
    """
    if kind not in ("linear", "engineered"):
        raise ValueError(f"kind must be 'linear' or 'engineered', got {kind!r}")
    dom = s.domain
    if dom.text is not None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        eng = kind == "engineered"
        vec = TfidfVectorizer(
            min_df=5,
            max_features=TEXT_FEATURES_ENGINEERED if eng else TEXT_FEATURES,
            ngram_range=(1, 2) if eng else (1, 1),
            sublinear_tf=True,
            dtype=np.float64,
        )
        Xtr = sp.csr_matrix(vec.fit_transform(s.train[dom.text]))
        Xte = sp.csr_matrix(vec.transform(s.test[dom.text]))
        return Design(Xtr, Xte, list(vec.get_feature_names_out()), [])
    num_tr = s.train[list(dom.numeric)].to_numpy(dtype=np.float64)
    num_te = s.test[list(dom.numeric)].to_numpy(dtype=np.float64)
    mean, sd = num_tr.mean(axis=0), num_tr.std(axis=0)
    sd[sd == 0] = 1.0
    z_tr, z_te = (num_tr - mean) / sd, (num_te - mean) / sd
    cat_tr, cat_te, cat_names = _dummies(s.train, s.test, dom.categorical)
    if kind == "linear":
        names = [*dom.numeric, *cat_names]
        k = len(dom.numeric)
        return Design(np.hstack([z_tr, cat_tr]), np.hstack([z_te, cat_te]), names, list(range(k)))
    from sklearn.preprocessing import SplineTransformer

    # Splines only of columns with enough distinct values for five knots.
    rich = [j for j in range(z_tr.shape[1]) if np.unique(z_tr[:, j]).size >= 10]
    spl = SplineTransformer(n_knots=5, degree=3, include_bias=False, extrapolation="linear")
    parts_tr, parts_te, names = [z_tr, cat_tr], [z_te, cat_te], [*dom.numeric, *cat_names]
    if rich:
        parts_tr.append(spl.fit_transform(z_tr[:, rich]))
        parts_te.append(spl.transform(z_te[:, rich]))
        names += [f"spline_{n}" for n in spl.get_feature_names_out([dom.numeric[j] for j in rich])]
    pairs = list(combinations(range(min(z_tr.shape[1], MAX_INTERACTING)), 2))
    if pairs:
        parts_tr.append(np.column_stack([z_tr[:, i] * z_tr[:, j] for i, j in pairs]))
        parts_te.append(np.column_stack([z_te[:, i] * z_te[:, j] for i, j in pairs]))
        names += [f"{dom.numeric[i]}:{dom.numeric[j]}" for i, j in pairs]
    return Design(np.hstack(parts_tr), np.hstack(parts_te), names, list(range(len(dom.numeric))))
