"""The GAM estimator: penalised likelihood with automatic smoothness selection."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .._backend import resolve_backend, to_numpy
from .._inference import information_criteria
from .._validation import _is_device_array, check_sample_weight, validate_vector
from ..design.make import make_design
from ..families import Family, get_family
from ..solver.problem import Problem
from ._data import as_table, model_matrix, term_columns
from ._discrete import check_discrete, discrete_design
from ._fit import fit_gam, fit_null
from ._inference import (
    PartialDependence,
    band,
    effective_df,
    posterior_covariance,
    quad_diag,
    term_test,
)
from ._smoothing import METHODS, PenaltyBlock, PenaltyStructure
from ._terms import FactorTerm, Term, TermList, as_term_list
from ._threads import small_blas

__all__ = ["GAM"]


class GAM(RegressorMixin, BaseEstimator):
    """Generalized additive model with smoothing parameters chosen by REML, GCV or UBRE.

    The linear predictor is a sum of terms (:func:`~glmlib.gam.s`,
    :func:`~glmlib.gam.te`, :func:`~glmlib.gam.l`, :func:`~glmlib.gam.f`),

    .. math::

        g(\\mu_i) = \\beta_0 + \\sum_j f_j(x_{ij}) + o_i, \\qquad
        f_j(x) = B_j(x)\\, \\beta_j,

    and the coefficients minimise the penalised deviance

    .. math::

        \\sum_i w_i\\, d(y_i, \\mu_i) + \\sum_j \\lambda_j\\, \\beta_j^\\top P_j \\beta_j,

    mgcv's and pyGAM's scale for :math:`\\lambda` (glmlib's solver works with
    this divided by :math:`2 \\sum_i w_i`). Smoothing parameters not fixed in
    a term (``lam=None``) are chosen by ``method``:

    * ``"REML"`` (default): restricted marginal likelihood, exact for a
      Gaussian response with identity link; for other families, Laplace-
      approximate REML of the penalised-IRLS working model at each iteration
      (performance iteration/PQL; Wood 2004, 2011).
    * ``"GCV"``: generalized cross-validation of the working model.
    * ``"UBRE"``: Mallows' Cp / unbiased risk estimate, for families with a
      known scale (binomial, Poisson).

    Every pass over the data goes through glmlib's solver core, on the NumPy
    or PyTorch backend: one weighted Gram matrix X'WX per iteration,
    accumulated in chunks; smoothing-parameter search touches only p x p
    matrices.

    Parameters
    ----------
    terms : Term or TermList
        For example ``s(0) + s("age") + f("sex") + te(2, 3)``.
    family : str or Family, default="gaussian"
        Any glmlib family (see :func:`glmlib.families.get_family`).
    link : str or Link, optional
        Defaults to the family's canonical link.
    method : {"REML", "GCV", "UBRE"}, default="REML"
    gamma : float, default=1.0
        Weight on the effective degrees of freedom in GCV/UBRE (values above
        1, e.g. 1.4, give smoother fits).
    max_iter : int, default=100
        Maximum iterations of the performance iteration and of the final
        Newton fit.
    tol : float, default=1e-8
        Convergence tolerance of the Newton fit (as in :class:`glmlib.GLM`).
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where to fit, as in :class:`glmlib.GLM`.
    backend : {None, "numpy", "torch"}, default=None
        None: torch for torch tensors or CUDA, NumPy otherwise.
    discrete : {"auto", True, False}, default="auto"
        Store the model matrix discretised, as mgcv's ``bam(discrete=TRUE)``
        (Wood et al. 2017; Li and Wood 2020): each term's basis at the
        distinct values of its covariate(s) and an index per row, so that the
        passes over the data cost O(n) index work plus small dense products
        (:mod:`glmlib.design.discrete`). The values are not rounded, so the fit is
        the dense fit up to rounding. ``"auto"`` uses it on the NumPy backend
        from 20,000 rows when the terms have at most a quarter as many
        distinct values as rows; ``True`` always on NumPy (a ValueError on
        torch).

    Attributes
    ----------
    terms_ : TermList
        The fitted terms (knots, levels, constraints).
    coef_ : ndarray of shape (n_coefs,)
        Basis coefficients, term after term (constrained parametrisation).
    intercept_ : float
    lam_ : list
        Per term: a float for ``s``, a tuple (one per margin) for ``te``, None
        for the unpenalised ``l`` and ``f``.
    edf_ : ndarray of shape (n_terms,)
        Effective degrees of freedom of each term, in term order.
    edf_total_ : float
        Model EDF, tr((X'WX + S)^{-1} X'WX), including the intercept.
    deviance_, null_deviance_, deviance_explained_ : float
    scale_ : float
        Pearson chi^2 / (n - ``edf_total_``) when the dispersion is estimated, else 1.
    aic_, llf_ : float
        R's AIC and log-likelihood with the model EDF as the number of
        parameters (mgcv's ``AIC`` without its smoothing-parameter correction).
    n_iter_ : int
    converged_ : bool
    discrete_ : bool
        Whether the fit used the discretised design.
    history_ : DataFrame
        One row per performance iteration: the core's objective, step_size
        and max_change, and, while lambda is selected, the criterion, its
        evaluations and max_rho_change; ``frozen`` marks fixed lambda.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X was a DataFrame with string column names.

    References
    ----------
    Wood, S. N. (2017). *Generalized Additive Models: An Introduction with R*, 2nd ed.
    Wood, S. N. (2011). Fast stable restricted maximum likelihood and marginal
    likelihood estimation of semiparametric GLMs. *JRSS B* 73(1), 3-36.
    Eilers, P. H. C. and Marx, B. D. (1996). Flexible smoothing with B-splines
    and penalties. *Statistical Science* 11(2), 89-121.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.gam import GAM, s
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 1, size=(500, 2))
    >>> y = np.sin(2 * np.pi * X[:, 0]) + X[:, 1] + rng.normal(0, 0.3, 500)
    >>> gam = GAM(s(0) + s(1)).fit(X, y)
    >>> bool(gam.edf_[0] > gam.edf_[1])
    True
    """

    def __init__(
        self,
        terms: Term | TermList,
        *,
        family: str | Family = "gaussian",
        link: Any = None,
        method: str = "REML",
        gamma: float = 1.0,
        max_iter: int = 100,
        tol: float = 1e-8,
        device: str = "cpu",
        backend: str | None = None,
        discrete: str | bool = "auto",
    ) -> None:
        self.terms = terms
        self.family = family
        self.link = link
        self.method = method
        self.gamma = gamma
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.backend = backend
        self.discrete = discrete

    # ------------------------------------------------------------------ checks
    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def _check_params(self, family: Family) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method == "UBRE" and family.has_dispersion:
            raise ValueError(
                f"UBRE needs a known scale, but the {family.name} family estimates it: "
                "use method='GCV' or 'REML'"
            )
        if not isinstance(self.max_iter, numbers.Integral) or int(self.max_iter) < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not isinstance(self.tol, numbers.Real) or not float(self.tol) > 0:
            raise ValueError(f"tol must be a positive number, got {self.tol!r}")
        if not isinstance(self.gamma, numbers.Real) or not float(self.gamma) > 0:
            raise ValueError(f"gamma must be a positive number, got {self.gamma!r}")
        check_discrete(self.discrete)

    def _set_feature_names(self, table: pd.DataFrame | np.ndarray) -> None:
        self.n_features_in_ = int(table.shape[1])
        if isinstance(table, pd.DataFrame) and all(isinstance(c, str) for c in table.columns):
            self.feature_names_in_ = np.asarray(table.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    # --------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None, offset: Any = None) -> GAM:
        """Fit the model, choosing the smoothing parameters.

        Parameters
        ----------
        X : DataFrame, array-like or tensor of shape (n_samples, n_features)
            Columns referenced by the terms; factor columns may hold strings.
        y : array-like of shape (n_samples,)
            Response; for the binomial family, proportions in [0, 1].
        sample_weight : array-like of shape (n_samples,), optional
            Prior weights (binomial: number of trials).
        offset : array-like of shape (n_samples,), optional
            Added to the linear predictor (log exposure for a log link).

        Returns
        -------
        self : GAM
        """
        family = self._family()
        self._check_params(family)
        backend = resolve_backend(self.backend, self.device, X)
        if backend.name == "cupy":
            raise ValueError("GAM runs on the numpy and torch backends; use backend='torch'")
        table = as_table(X)
        self._set_feature_names(table)
        terms = as_term_list(self.terms)
        n = table.shape[0]
        y_h = to_numpy(y) if _is_device_array(y) else y
        y_h = validate_vector(y_h, n, "y")
        family.check_y(y_h)
        w = validate_vector(_host(sample_weight), n, "sample_weight", allow_none_value=1.0)
        check_sample_weight(w)
        off = validate_vector(_host(offset), n, "offset", allow_none_value=0.0)
        design = discrete_design(terms, table, check_discrete(self.discrete), backend.name)
        self.discrete_ = design is not None
        if design is None:
            design = make_design(model_matrix(terms, table, fit=True), backend)
        self.terms_ = terms
        labels = [t.label(t.names_) for t in terms]
        if len(set(labels)) < len(labels):
            raise ValueError(f"terms repeat: {labels}")

        f64 = np.float64
        p = design.p
        prob = Problem(
            design=design,
            y=backend.asarray(y_h, dtype=f64),
            weights=backend.asarray(w / w.sum(), dtype=f64),
            offset=backend.asarray(off, dtype=f64),
            family=family,
            l1=backend.zeros(p, f64),
            l2=backend.zeros(p, f64),
            backend=backend,
            fit_intercept=True,
            weight_sum=float(w.sum()),
        )
        theta0, eta0 = fit_null(prob, self.tol, self.max_iter)
        null_dev = _deviance(prob, eta0)
        structure = self._penalty_structure(terms, p + 1)
        scale = None if family.has_dispersion else 1.0
        res = fit_gam(
            prob,
            theta0,
            eta0,
            structure,
            method=self.method,
            scale=scale,
            gamma=float(self.gamma),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
        )
        self._set_fitted(prob, structure, res, null_dev, y_h, w)
        return self

    def _penalty_structure(self, terms: TermList, q: int) -> PenaltyStructure:
        blocks, start, n_free = [], 1, 0
        self._slices = []
        for term in terms:
            stop = start + term.n_coefs
            self._slices.append(slice(start - 1, stop - 1))
            if term.penalties:
                free = []
                for lam in term.lam_fixed:
                    free.append(None if lam is not None else n_free)
                    n_free += lam is None
                blocks.append(PenaltyBlock(start, stop, term.penalties, free, term.lam_fixed))
            start = stop
        return PenaltyStructure(q, blocks, n_free)

    def _set_fitted(
        self,
        prob: Problem,
        structure: PenaltyStructure,
        res: Any,
        null_dev: float,
        y: np.ndarray,
        w: np.ndarray,
    ) -> None:
        fam = prob.family
        theta = to_numpy(res.theta).astype(np.float64)
        self.intercept_ = float(theta[0])
        self.coef_ = theta[1:].copy()
        lam = np.exp(res.rho)
        self.lam_: list[float | tuple[float, ...] | None] = []
        block_of = {blk.start: blk for blk in structure.blocks}
        for sl in self._slices:
            blk = block_of.get(sl.start + 1)
            if blk is None:
                self.lam_.append(None)
            elif len(blk.matrices) == 1:
                self.lam_.append(blk.lambdas(lam)[0])
            else:
                self.lam_.append(tuple(blk.lambdas(lam)))
        self._lam_vector = lam
        self.n_iter_ = int(res.n_iter)
        self.converged_ = bool(res.converged)
        self.history_ = pd.DataFrame(res.history)

        model = res.model  # X'WX of the last iteration (its step moved eta by <= tol)
        S = structure.matrix(lam)
        with small_blas():
            Vb = posterior_covariance(model.A, S)
            edf = effective_df(model.A, Vb)
        self._edf_coef = edf
        self.edf_ = np.array([float(edf[1:][sl].sum()) for sl in self._slices])
        self.edf_total_ = float(edf.sum())
        mu = to_numpy(fam.link.inverse(res.eta))
        self.nobs_ = int(np.sum(w > 0))
        self.null_deviance_ = float(null_dev)
        self.deviance_ = _deviance(prob, res.eta)
        self.deviance_explained_ = (
            1.0 - self.deviance_ / self.null_deviance_ if self.null_deviance_ > 0 else math.nan
        )
        self.df_resid_ = float(self.nobs_ - self.edf_total_)
        if fam.has_dispersion:
            pearson = float(np.sum(w * (y - mu) ** 2 / np.asarray(fam.variance(mu))))
            self.scale_ = pearson / self.df_resid_ if self.df_resid_ > 0 else math.nan
        else:
            self.scale_ = 1.0
        self.llf_, self.aic_, _ = information_criteria(
            fam, y, mu, w, self.edf_total_, self.deviance_
        )
        self._Vb = Vb
        self._A = model.A
        if not self.converged_:
            warnings.warn(
                f"GAM did not converge in {self.n_iter_} iterations (tol={self.tol:g}); "
                "try a larger max_iter or fewer basis functions",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ----------------------------------------------------------------- predict
    def _table(self, X: Any) -> pd.DataFrame | np.ndarray:
        check_is_fitted(self, "coef_")
        table = as_table(X)
        if table.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {table.shape[1]} features, but GAM is expecting {self.n_features_in_}"
            )
        return table

    def predict_linear(self, X: Any, offset: Any = None) -> np.ndarray:
        """Linear predictor eta = intercept + sum of the terms + offset.

        Parameters
        ----------
        X : DataFrame, array-like or tensor of shape (n_samples, n_features)
        offset : array-like of shape (n_samples,), optional

        Returns
        -------
        eta : ndarray of shape (n_samples,)
        """
        table = self._table(X)
        eta = model_matrix(self.terms_, table, fit=False) @ self.coef_ + self.intercept_
        if offset is not None:
            eta = eta + validate_vector(_host(offset), table.shape[0], "offset")
        return eta

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted mean mu = g^{-1}(eta).

        Parameters
        ----------
        X : DataFrame, array-like or tensor of shape (n_samples, n_features)
        offset : array-like of shape (n_samples,), optional

        Returns
        -------
        mu : ndarray of shape (n_samples,)
        """
        return np.asarray(self._family().link.inverse(self.predict_linear(X, offset)))

    def score(self, X: Any, y: Any, sample_weight: Any = None, offset: Any = None) -> float:
        """D^2, the fraction of deviance explained on (X, y) (R^2 for the Gaussian family)."""
        fam = self._family()
        mu = self.predict(X, offset=offset)
        y = validate_vector(_host(y), mu.shape[0], "y")
        w = validate_vector(
            _host(sample_weight), mu.shape[0], "sample_weight", allow_none_value=1.0
        )
        ybar = np.full_like(y, np.average(y, weights=w))
        dev, dev0 = float(fam.deviance(y, mu, w)), float(fam.deviance(y, ybar, w))
        return 1.0 - dev / dev0 if dev0 > 0 else (1.0 if dev == 0 else -math.inf)

    # --------------------------------------------------------------- inference
    def _term_index(self, term: int | str) -> int:
        check_is_fitted(self, "coef_")
        labels = self.term_labels_
        if isinstance(term, str):
            if term not in labels:
                raise KeyError(f"no term {term!r}; the terms are {labels}")
            return labels.index(term)
        if isinstance(term, numbers.Integral) and 0 <= term < len(labels):
            return int(term)
        raise IndexError(f"term {term!r} is out of range: the model has {len(labels)} terms")

    @property
    def term_labels_(self) -> list[str]:
        """Term names such as ``s(age)``, in term order."""
        check_is_fitted(self, "coef_")
        return [t.label(t.names_) for t in self.terms_]

    def covariance(self) -> pd.DataFrame:
        """Bayesian posterior covariance of (intercept, ``coef_``): (X'WX + S)^{-1} * scale."""
        check_is_fitted(self, "coef_")
        names = ["intercept"] + [
            f"{lab}[{k}]"
            for lab, sl in zip(self.term_labels_, self._slices, strict=True)
            for k in range(sl.stop - sl.start)
        ]
        return pd.DataFrame(self._Vb * self.scale_, index=names, columns=names)

    def summary(self) -> pd.DataFrame:
        """Per-term table: kind, n_coefs, lam, edf, ref_df, statistic, p_value.

        Smooths are tested with the Wald test of Wood (2013) at integer rank
        ``ref_df`` = round(edf); unpenalised terms with an ordinary Wald test
        (``ref_df`` = their number of coefficients). ``statistic`` is the
        chi^2 statistic when the scale is known (binomial, Poisson) and the F
        statistic (chi^2 / ref_df, on ref_df and n - edf degrees of freedom)
        when it is estimated, as in mgcv's ``summary.gam``. See
        :mod:`glmlib.gam._inference`.
        """
        check_is_fitted(self, "coef_")
        known = not self._family().has_dispersion
        df_resid = None if known else self.df_resid_
        rows = []
        for term, sl, lab, lam, edf in zip(
            self.terms_, self._slices, self.term_labels_, self.lam_, self.edf_, strict=True
        ):
            beta = self.coef_[sl]
            V = self._Vb[1:, 1:][sl, sl] * self.scale_
            rank = int(round(edf)) if term.penalties else term.n_coefs
            stat, pval = term_test(beta, V, self._A[1:, 1:][sl, sl], rank, df_resid)
            rows.append(
                {
                    "term": lab,
                    "kind": term.kind,
                    "n_coefs": term.n_coefs,
                    "lam": lam,
                    "edf": edf,
                    "ref_df": max(1, min(rank, term.n_coefs)),
                    "statistic": stat,
                    "p_value": pval,
                }
            )
        return pd.DataFrame(rows).set_index("term")

    def partial_dependence(
        self, term: int | str, X: Any = None, grid: int | Any = 100, width: float = 0.95
    ) -> PartialDependence:
        """A term's contribution to the linear predictor with a pointwise band.

        Parameters
        ----------
        term : int or str
            Term position or label (``"s(age)"``).
        X : DataFrame or array-like, optional
            Evaluate at the rows of X instead of a grid.
        grid : int or array-like, default=100
            Number of points across the training range of each covariate (a
            ``grid x grid`` mesh for ``te``), or the points themselves (shape
            (m,) for one covariate, (m, d) for ``te``). Factor terms use their
            levels.
        width : float, default=0.95
            Coverage of the band, from the Bayesian posterior covariance
            (X'WX + S)^{-1} * scale.

        Returns
        -------
        PartialDependence
            ``grid``, ``estimate``, ``std_err``, ``lower``, ``upper``; unpacks
            as ``grid, estimate, bands`` (bands of shape (m, 2), like pyGAM).
        """
        if not 0 < width < 1:
            raise ValueError(f"width must be in (0, 1), got {width!r}")
        j = self._term_index(term)
        t = self.terms_[j]
        if X is not None:
            data, _ = term_columns(t, self._table(X))
            points = _stack(data)
        else:
            data = _grid_data(t, grid)
            points = _stack(data)
        M = t.transform(data)
        sl = self._slices[j]
        est = M @ self.coef_[sl]
        V = self._Vb[1:, 1:][sl, sl] * self.scale_
        se = np.sqrt(np.clip(quad_diag(M, V), 0.0, None))
        lo, hi = band(est, se, width)
        return PartialDependence(points, est, se, lo, hi)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.string = False
        tags.input_tags.categorical = True
        return tags


def _grid_data(t: Term, grid: Any) -> list[Any]:
    if isinstance(t, FactorTerm):
        return [pd.Series(t.levels_, dtype=object)]
    d = len(t.columns)
    if isinstance(grid, numbers.Integral):
        axes = t.grid([], int(grid))
        if d == 1:
            return axes
        mesh = np.meshgrid(*axes, indexing="ij")
        return [m.ravel() for m in mesh]
    pts = np.asarray(grid, dtype=np.float64)
    if d == 1:
        return [pts.ravel()]
    if pts.ndim != 2 or pts.shape[1] != d:
        raise ValueError(f"grid for {t!r} must have shape (m, {d}), got {pts.shape}")
    return [pts[:, k] for k in range(d)]


def _stack(data: list[Any]) -> np.ndarray:
    if len(data) == 1:
        return np.asarray(data[0])
    return np.column_stack([np.asarray(x, dtype=np.float64) for x in data])


def _host(v: Any) -> Any:
    return to_numpy(v) if _is_device_array(v) else v


def _deviance(prob: Problem, eta: Any) -> float:
    mu = prob.family.link.inverse(eta)
    return float(prob.family.deviance(prob.y, mu, prob.weights)) * prob.weight_sum
