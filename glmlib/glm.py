"""The GLM estimator: penalised maximum likelihood for any family and link."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._backend import (
    Backend,
    constant_value,
    constant_vector,
    device_of,
    resolve_backend,
    to_numpy,
)
from ._formula import apply_formula, formula_design
from ._inference import FitStatistics, wald_table
from ._linalg import SymmetricFactor, rank_rtol
from ._validation import (
    _is_device_array,
    check_drop_first,
    check_penalty,
    check_sample_weight,
    validate_frame,
    validate_vector,
    validate_X,
    validate_X_with_range,
)
from .design.categorical import CategoricalLayout, is_categorical
from .design.dask import DaskDesign, dask_matrix, dask_vector, is_dask_collection, validated_matrix
from .design.dense import DenseDesign
from .design.make import make_design
from .design.mixed import MixedPrecisionDesign
from .design.streamed import check_chunk_rows, streamed_design
from .families import Family, get_family
from .solver.choice import GRAM_LIMIT, check_solver, choose_solver, elastic_net, solve
from .solver.null import null_intercept
from .solver.problem import FitResult, Problem
from .solver.screening import screened_newton

__all__ = ["GLM"]

# Column scales this far apart get a warning (penalties act on the raw scale).
_SCALE_RATIO_WARN = 1e6


@dataclass
class _Data:
    """Validated inputs of one fit, on the fit's backend."""

    design: Any
    y: Any
    w: Any
    offset: Any
    backend: Backend
    family: Family
    X_host_kind: str


class _GLMBase(RegressorMixin, BaseEstimator):
    """Input handling and post-fit statistics shared by GLM and GLMCV."""

    # ----------------------------------------------------------------- inputs
    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def _uses_formula(self) -> bool:
        return getattr(self, "formula", None) is not None

    def _check_common_params(self) -> None:
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise TypeError(f"fit_intercept must be a bool, got {self.fit_intercept!r}")
        check_solver(self.solver)
        if not isinstance(self.max_iter, numbers.Integral) or int(self.max_iter) < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not isinstance(self.tol, numbers.Real) or not float(self.tol) > 0:
            raise ValueError(f"tol must be a positive number, got {self.tol!r}")
        check_drop_first(self.drop_first)
        if getattr(self, "precision", None) not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        check_chunk_rows(getattr(self, "stream_chunk_rows", None))

    def _resolve_drop_first(self, penalized: bool) -> bool:
        """drop_first="auto": R's treatment coding for unpenalised fits with an
        intercept (coefficients are contrasts with the first level); all levels
        otherwise, so that the penalty treats every level alike (glmnet, glum)."""
        if self.drop_first == "auto":
            return bool(self.fit_intercept) and not penalized
        return bool(self.drop_first)

    def _prepare(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        offset: Any,
        *,
        penalized: bool,
        min_samples: int = 1,
    ) -> _Data:
        """Validated data and its design; ``penalized`` (alpha > 0) resolves drop_first="auto".

        ``min_samples=0`` admits an empty shard (a distributed fit's process with no rows).
        """
        self._check_common_params()
        family = self._family()
        if self._uses_formula():
            X, y_formula, self.model_spec_ = formula_design(self.formula, X, self.fit_intercept)
            if y is None:
                y = y_formula
        elif hasattr(self, "model_spec_"):
            del self.model_spec_
        dask_design = None
        spread = None  # X's column ranges, when validation's pass found them
        if is_dask_collection(X):  # X stays with Dask; y, weights and offset come into memory
            dask_design = self._dask_design(X)
            backend, kind = dask_design.backend, "dask"
            X = dask_design.X
            y, sample_weight, offset = (dask_vector(v) for v in (y, sample_weight, offset))
        else:
            backend = resolve_backend(self.backend, self.device, X)
            kind = "device" if _is_device_array(X) else "host"
            X, spread = validate_X_with_range(
                self,
                X,
                reset=True,
                min_features=0 if self._uses_formula() else 1,
                categorical=not self._uses_formula(),
                min_samples=min_samples,
            )
        # A DataFrame with categorical columns comes back as it is; its layout
        # (levels, coding) is fitted state that maps new data for predict.
        self._layout = (
            CategoricalLayout.from_frame(
                X, self._input_names(), self._resolve_drop_first(penalized)
            )
            if isinstance(X, pd.DataFrame)
            else None
        )
        if self._layout is not None:
            self.categories_ = self._layout.levels_dict()
        elif hasattr(self, "categories_"):
            del self.categories_
        n = X.shape[0]
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if not _is_device_array(y):
            y = np.asarray(y) if not isinstance(y, pd.Series | pd.DataFrame) else y.to_numpy()
            if y.ndim == 2 and y.shape[1] == 1:
                y = column_or_1d(y, warn=True)
        y = validate_vector(y, n, "y")
        family.check_y(to_numpy(y))
        # Absent weights and offset: constant vectors stored as one number
        # (NumPy only), not n floats held through the fit.
        host = backend.name == "numpy"
        if sample_weight is None and host:
            w = constant_vector(n, 1.0)
        else:
            w = validate_vector(sample_weight, n, "sample_weight", allow_none_value=1.0)
        check_sample_weight(w, positive_sum=min_samples > 0)  # a shard's sum: checked pooled
        if offset is None and host:
            off = constant_vector(n, 0.0)
        else:
            off = validate_vector(offset, n, "offset", allow_none_value=0.0)
        design: Any
        if dask_design is not None:
            design = dask_design
        else:
            validated = X
            X = _cast_for_precision(X, getattr(self, "precision", None))
            chunk_rows = getattr(self, "stream_chunk_rows", None)
            if chunk_rows is not None:
                design = streamed_design(X, backend, chunk_rows, getattr(self, "precision", None))
            else:
                design = make_design(X, backend, self._layout)
                if isinstance(design, DenseDesign) and spread is not None and design.X is validated:
                    design.known_column_range = spread  # of this very X (not a cast copy)
                design = _with_precision(design, getattr(self, "precision", None))
        self.feature_names_out_ = np.asarray(self._term_names()[1:], dtype=object)
        f64 = np.float64
        return _Data(
            design,
            backend.asarray(y, dtype=f64),
            backend.asarray(w, dtype=f64),
            backend.asarray(off, dtype=f64),
            backend,
            family,
            kind,
        )

    def _dask_design(self, X: Any) -> DaskDesign:
        """The design of a Dask X, validated in one pass (finite values, column extremes)."""
        if self._uses_formula():
            raise NotImplementedError("formulas take pandas DataFrames, not Dask collections")
        backend = resolve_backend(self.backend, self.device)
        if backend.name != "numpy":
            raise ValueError("Dask fits run on the CPU (device='cpu', backend=None or 'numpy')")
        Xd, names, top, bottom = validated_matrix(X)  # one pass
        self.n_features_in_ = int(Xd.shape[1])
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return DaskDesign(Xd, backend, (np.asarray(top), np.asarray(bottom)))

    def _record_precision(self, design: Any) -> None:
        """precision_ (and for "mixed" the refinement factor) of the fitted model."""
        design = getattr(design, "local", design)  # a shard's own design
        if isinstance(design, MixedPrecisionDesign):
            self.mixed_contraction_ = design.contraction
            if design.mixed is not False:
                self.precision_ = "mixed"
                return
        elif hasattr(self, "mixed_contraction_"):
            del self.mixed_contraction_
        self.precision_ = (
            "double"
            if np.dtype(str(design.dtype).replace("torch.", "")) == np.float64
            else "single"
        )

    def _prepare_shard(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, *, penalized: bool
    ) -> _Data:
        """This process's shard, validated, with a design whose row products span every process.

        The processes first agree that every shard is valid (so that an
        invalid shard raises everywhere instead of leaving the others waiting
        in a collective), then that they have the same columns and dtype.
        """
        from . import distributed

        distributed.require_process_group()
        data, error = None, None
        try:
            if self._uses_formula():
                raise NotImplementedError("distributed fits do not take a formula; pass numeric X")
            # Categorical columns are coded with the union of every process's
            # levels (a collective, so every process takes part).
            if distributed.any_process(_has_categorical_columns(X)):
                X = distributed.share_levels(X)
            data = self._prepare(X, y, sample_weight, offset, penalized=penalized, min_samples=0)
        except Exception as exc:  # noqa: BLE001 - re-raised by agree() on this process
            error = exc
        distributed.agree(error, "validating the shards")
        assert data is not None
        n = distributed.check_shards(data.design.p, data.design.dtype, data.design.n)
        if n == 0:
            raise ValueError("every shard is empty: the pooled data have no rows")
        if not float(distributed.all_reduce(float(np.sum(to_numpy(data.w))))) > 0:
            raise ValueError("sample_weight sums to zero over all shards: there is nothing to fit")
        return replace(data, design=distributed.ShardedDesign(data.design))

    def _penalty_factor(self, p: int) -> np.ndarray:
        """Penalty factors over the p design columns.

        With categorical columns they are given per coefficient (p entries)
        or per DataFrame column (each categorical's factor applies to all its
        levels).
        """
        pf = getattr(self, "penalty_factor", None)
        if pf is None:
            return np.ones(p)
        pf = np.asarray(pf, dtype=np.float64).reshape(-1)
        layout = getattr(self, "_layout", None)
        if layout is not None and pf.shape[0] != p and pf.shape[0] == len(layout.names):
            pf = layout.expand(pf)
        if pf.shape[0] != p:
            also = f" or its {len(layout.names)} DataFrame columns" if layout is not None else ""
            raise ValueError(
                f"penalty_factor has {pf.shape[0]} entries but X has {p} columns{also}"
            )
        if not np.all(np.isfinite(pf)) or np.any(pf < 0):
            raise ValueError("penalty_factor must be finite and non-negative")
        return pf

    def _problem(self, data: _Data, alpha: float, l1_ratio: float, weights: Any = None) -> Problem:
        """The objective for penalty (alpha, l1_ratio), optionally with other weights."""
        b = data.backend
        w = data.w if weights is None else weights
        pf = b.asarray(self._penalty_factor(data.design.p), dtype=np.float64)
        w_sum = data.design.reduce(b.xp.sum(w))
        c = constant_value(w)
        unpenalized = Problem(
            design=data.design,
            y=data.y,
            weights=w / w_sum if c is None else constant_vector(w.shape[0], c / w_sum),
            offset=data.offset,
            family=data.family,
            l1=0.0 * pf,
            l2=0.0 * pf,
            backend=b,
            fit_intercept=self.fit_intercept,
            weight_sum=float(w_sum),
        )
        return elastic_net(unpenalized, alpha, l1_ratio, pf)

    def _warn_about_columns(self, data: _Data) -> None:
        """Warn about constant columns and extreme differences in column scale."""
        spread = data.design.column_range()  # max - min: exact zero for constant columns
        names = self._term_names()[1:]
        if self.fit_intercept and np.any(spread == 0):
            const = [names[j] for j in np.flatnonzero(spread == 0)]
            warnings.warn(
                f"columns {const[:10]} are constant and so collinear with the intercept; "
                "their coefficients are not identified (the minimum-norm solution is reported)",
                UserWarning,
                stacklevel=3,
            )
        pos = spread[spread > 0]
        if pos.size > 1 and pos.max() / pos.min() > _SCALE_RATIO_WARN:
            warnings.warn(
                f"column scales differ by a factor of {pos.max() / pos.min():.1e}; glmlib "
                "equilibrates internally, but penalties act on the raw scale: consider "
                "standardizing X (sklearn.preprocessing.StandardScaler)",
                UserWarning,
                stacklevel=3,
            )

    # ---------------------------------------------------------------- solving
    def _null_model(self, prob: Problem) -> tuple[Any, float]:
        """Fit the null model (intercept only, or eta = offset without an intercept).

        Returns its parameters over all columns (zero coefficients) and R's
        null deviance.
        """
        theta, _, loss = self._null_fit(prob)
        return theta, 2.0 * loss * prob.weight_sum

    def _null_fit(self, prob: Problem) -> tuple[Any, Any, float]:
        """The null model's parameters (all columns), linear predictor and loss."""
        xp = prob.xp
        p = prob.design.p
        if self.fit_intercept:
            b0 = null_intercept(prob, self.tol, self.max_iter)
            c = constant_value(prob.offset)
            if c is None:
                eta_null = prob.offset + b0
            else:  # no offset: a constant linear predictor, stored as one number
                eta_null = constant_vector(prob.offset.shape[0], c + float(b0[0]))
            theta = xp.concat([b0, xp.zeros(p, dtype=xp.float64, device=device_of(b0))])
        else:
            eta_null = prob.offset
            theta = xp.zeros(p, dtype=xp.float64, device=device_of(prob.y))
        return theta, eta_null, float(prob.loss(eta_null))

    @staticmethod
    def _deviance(prob: Problem, eta: Any) -> float:
        """Deviance sum_i w_i d_i with the caller's (unnormalised) weights (inf where mu is invalid)."""
        return 2.0 * float(prob.loss(eta)) * prob.weight_sum

    def _solve(
        self,
        prob: Problem,
        theta: Any,
        screen: tuple[float, float] | None = None,
        start: tuple[Any, float] | None = None,
    ) -> FitResult:
        """Minimise from ``theta`` (all columns) with the configured solver.

        ``screen=(alpha, l1_ratio)`` fits an L1 problem on a KKT-checked working
        set of features (a cold start at a small alpha then costs what the
        non-zero coefficients cost, not all p).
        """
        p = prob.design.p
        has_l1 = bool(prob.xp.any(prob.l1 > 0))
        choice = choose_solver(
            self.solver,
            n_params=p + int(prob.fit_intercept),
            has_l1=has_l1,
            device=prob.backend.device,
        )
        if not choice.uses_gram:
            return solve(prob, theta, choice, tol=self.tol, max_iter=self.max_iter)
        # Penalised fits report no valid standard errors, so they may stop on the
        # previous Hessian's step (one pass over X fewer); unpenalised ones keep
        # the Fisher matrix one step from the solution for R's standard errors.
        kw = dict(
            tol=self.tol,
            max_iter=self.max_iter,
            reuse_last_model=prob.penalized,
            sampled_start=True,
        )
        prob = prob.with_row_sample()
        # ``start``: theta's linear predictor and loss, when the caller knows
        # them (the null model's), so the first iteration need not form them.
        eta, loss = (None, None) if start is None else start
        if has_l1 and screen is not None:
            alpha, l1_ratio = screen
            grad = to_numpy(prob.full_gradient(prob.eta(theta) if eta is None else eta))
            pf = self._penalty_factor(p)
            res, _ = screened_newton(
                prob,
                theta,
                grad,
                alpha,
                alpha,
                l1_ratio,
                pf,
                inner=choice.inner,
                eta=eta,
                loss=loss,
                **kw,
            )
        else:
            res = solve(prob, theta, choice, eta=eta, loss=loss, **kw)
        if not math.isfinite(res.objective):
            raise ValueError(
                f"no valid coefficients found: the {prob.family.link.name} link gives means outside "
                f"the {prob.family.name} family's range at every point tried (R: 'cannot find "
                "valid starting values'); use a link that maps into that range, such as log"
            )
        return res

    # ----------------------------------------------------------- fitted state
    def _input_names(self) -> list[str]:
        """Names of the input columns: feature_names_in_, or x0, x1, ..."""
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _term_names(self) -> list[str]:
        """Term names: "intercept", then each coefficient's (categoricals as column[level])."""
        layout = getattr(self, "_layout", None)
        names = layout.term_names if layout is not None else self._input_names()
        return ["intercept", *names]

    def _set_fitted(
        self,
        prob: Problem,
        data: _Data,
        res: FitResult,
        null_dev: float,
        rank: int | None = None,
    ) -> None:
        """Store the fitted coefficients and what the statistics need (see FitStatistics).

        ``rank`` is the rank of X'WX when the caller already knows it.
        """
        xp = prob.xp
        b0, beta = prob.split(res.theta)
        self.coef_ = to_numpy(beta).astype(np.float64)
        self.intercept_ = float(b0)
        self.n_iter_ = int(res.n_iter)
        self.converged_ = bool(res.converged)
        self.history_ = pd.DataFrame(res.history)
        self.null_deviance_ = float(null_dev)
        if res.loss is not None and math.isfinite(res.loss):  # the solver's last evaluation
            self.deviance_ = 2.0 * res.loss * prob.weight_sum
        else:
            self.deviance_ = self._deviance(prob, res.eta)
        y = to_numpy(data.y)
        w = to_numpy(data.w)
        fam = prob.family
        separation_check = fam.name == "binomial" and not prob.penalized
        # mu only where a statistic reads it (the Pearson sum, the AIC term,
        # the separation check): exp(eta) alone is an n-vector pass.
        needs_mu = fam.has_dispersion or fam.aic_needs_mu or separation_check
        mu = to_numpy(fam.link.inverse(res.eta)) if needs_mu else None

        def total(a: Any) -> float:  # a sum over all rows (every process's, when sharded)
            return float(prob.reduce(prob.backend.asarray(np.sum(a, dtype=np.float64))))

        self.nobs_ = int(round(total(w > 0)))

        # What the statistics need, taken now because it needs the data (a pass
        # over the rows, a collective when sharded): the Fisher information (the
        # solver's last quadratic model, at the iterate one step before the
        # solution as in R's glm.fit; one more pass over X only for L-BFGS fits),
        # the Pearson sum and R's AIC term. Rank, degrees of freedom, scale,
        # AIC/BIC and the covariance follow from these when first asked.
        k = prob.design.p + int(self.fit_intercept)
        theta_h = to_numpy(res.theta)
        info = _information(prob, res, self.fit_intercept) if k <= GRAM_LIMIT else None
        active = (theta_h != 0) | (np.arange(k) < int(self.fit_intercept))
        # Penalty strengths on the caller's weight scale (zero for the intercept).
        l2 = to_numpy(prob.penalties()[1]) * prob.weight_sum if prob.penalized else None
        pearson = math.nan
        if fam.has_dispersion:
            pearson = total(w * (y - mu) ** 2 / np.asarray(fam.variance(mu)))
        self._stats = FitStatistics(
            fisher=info,
            l2=l2,
            active=active,
            # With an L1 part only the selected coefficients have a covariance.
            selected=active if bool(xp.any(prob.l1 > 0)) else None,
            rank_deficient=bool(res.rank_deficient),
            known_rank=rank,
            nobs=self.nobs_,
            pearson=pearson,
            aic_term=fam.r_aic(y, mu, w, 0, self.deviance_, total),
            n_extra=fam.n_params_extra(),
            has_dispersion=fam.has_dispersion,
        )

        ridge_everywhere = bool(xp.all(prob.l2 > 0)) or prob.penalty_matrix is not None
        if res.rank_deficient and not ridge_everywhere:
            warnings.warn(
                f"X is rank deficient (rank {self.rank_} < {k} coefficients): duplicated, constant "
                "or collinear columns. glmlib reports the minimum-norm solution; the coefficients "
                "of aliased columns are not identified (R reports NA for them).",
                UserWarning,
                stacklevel=3,
            )
        if not res.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge in {res.n_iter} iterations (tol={self.tol:g}). "
                "Try a larger max_iter, standardizing X, or an L2 penalty (alpha > 0, l1_ratio < 1).",
                ConvergenceWarning,
                stacklevel=3,
            )
        if separation_check:
            assert mu is not None  # needs_mu
            eps = 10 * np.finfo(np.float64).eps
            if total((mu[w > 0] < eps) | (mu[w > 0] > 1 - eps)) > 0:
                warnings.warn(
                    "fitted probabilities numerically 0 or 1 occurred: the classes may be "
                    "(quasi-)completely separated, so the maximum-likelihood coefficients are "
                    "infinite and the reported ones are large but finite. Use alpha > 0.",
                    UserWarning,
                    stacklevel=3,
                )

    # ------------------------------------------- statistics, computed when asked
    # The fit keeps a FitStatistics (p x p Fisher matrix and row sums, no X);
    # these compute from it on first access and cache the result.
    @property
    def rank_(self) -> int:
        """Numerical rank of X'WX (unpenalised) or number of active coefficients (penalised)."""
        return self._stats.rank

    @property
    def df_model_(self) -> float:
        """Model degrees of freedom (effective ones, tr(H (H + P)^-1), when penalised)."""
        return self._stats.df_model

    @property
    def df_resid_(self) -> float:
        """Residual degrees of freedom, nobs_ - df_model_."""
        return self._stats.df_resid

    @property
    def scale_(self) -> float:
        """Dispersion: Pearson chi^2 / df_resid_ when estimated, else 1."""
        return self._stats.scale

    @property
    def llf_(self) -> float:
        """Log-likelihood as R's logLik reports it."""
        return self._stats.criteria[0]

    @property
    def aic_(self) -> float:
        """AIC as R reports it."""
        return self._stats.criteria[1]

    @property
    def bic_(self) -> float:
        """BIC as R reports it."""
        return self._stats.criteria[2]

    @property
    def _fisher_info(self) -> np.ndarray | None:
        return self._stats.fisher

    # -------------------------------------------------------------- predict
    def _linear(self, X: Any, offset: Any) -> Any:
        check_is_fitted(self, "coef_")
        if hasattr(self, "model_spec_"):
            X = apply_formula(self.model_spec_, X)
        if is_dask_collection(X):  # a Dask array of predictions, computed when asked
            Xd, _ = dask_matrix(X)
            if Xd.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {Xd.shape[1]} features, but {type(self).__name__} "
                    f"is expecting {self.n_features_in_} features as input."
                )
            coef = self.coef_.astype(Xd.dtype)
            eta = Xd.map_blocks(_block_linear, coef, self.intercept_, drop_axis=1, dtype=np.float64)
            return eta if offset is None else eta + offset
        device_input = _is_device_array(X)
        layout = getattr(self, "_layout", None)
        if layout is not None:  # X @ coef by gathers on the fitted levels, no one-hot matrix
            X = validate_frame(self, X, reset=False)
            eta = layout.design(X, Backend("numpy")).matvec(self.coef_) + self.intercept_
        elif device_input:
            X = validate_X(self, X, reset=False)
            xp = _namespace(X)
            coef = xp.asarray(self.coef_, dtype=X.dtype, device=device_of(X))
            eta = xp.astype(X @ coef, xp.float64) + self.intercept_
        else:
            X = validate_X(
                self,
                X,
                reset=False,
                min_features=0 if self._uses_formula() else 1,
                min_samples=0 if getattr(self, "distributed", False) else 1,
            )
            eta = np.asarray(X @ self.coef_.astype(X.dtype), dtype=np.float64) + self.intercept_
        if offset is not None:
            off = validate_vector(offset, X.shape[0], "offset")
            eta = eta + (
                off if not device_input else _namespace(X).asarray(off, device=device_of(X))
            )
        return eta

    def predict_linear(self, X: Any, offset: Any = None) -> Any:
        """Linear predictor eta = intercept + X coef + offset.

        Parameters
        ----------
        X : array-like, DataFrame, sparse matrix or tensor of shape (n_samples, n_features)
            As in :meth:`fit`. A model fitted with categorical columns takes
            a DataFrame with the same columns; their values are matched to
            the fitted levels (any category order, or plain values such as
            strings) and unseen levels raise a ValueError.
        offset : array-like of shape (n_samples,), optional

        Returns
        -------
        eta : ndarray (or tensor, for tensor input) of shape (n_samples,)
        """
        return self._linear(X, offset)

    def predict(self, X: Any, offset: Any = None) -> Any:
        """Predicted mean mu = g^{-1}(eta).

        Parameters
        ----------
        X : array-like, DataFrame, sparse matrix or tensor of shape (n_samples, n_features)
            As for :meth:`predict_linear`.
        offset : array-like of shape (n_samples,), optional
            For a log link, log exposure.

        Returns
        -------
        mu : ndarray (or tensor, for tensor input) of shape (n_samples,)
        """
        return self._family().link.inverse(self._linear(X, offset))

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> float:
        """D^2, the fraction of deviance explained, on (X, y).

        D^2 = 1 - D(y, mu_hat) / D(y, y_bar) with y_bar the weighted mean of y;
        for the Gaussian family it equals R^2.
        """
        fam = self._family()
        sharded = bool(getattr(self, "distributed", False))
        local, error = None, None
        try:  # this process's rows
            if y is None and hasattr(self, "model_spec_"):
                y = formula_design(self.formula, X, self.fit_intercept)[1]
            mu = to_numpy(self.predict(X, offset=offset))
            y = validate_vector(to_numpy(y) if _is_device_array(y) else y, mu.shape[0], "y")
            w = validate_vector(sample_weight, mu.shape[0], "sample_weight", allow_none_value=1.0)
            local = (y, mu, w)
        except Exception as exc:  # noqa: BLE001 - re-raised here or by agree()
            if not sharded:
                raise
            error = exc
        if sharded:  # D^2 of the pooled rows: sums over every process
            from . import distributed

            distributed.agree(error, "scoring the shards")
        assert local is not None
        y, mu, w = local
        sums = np.array([np.sum(w), np.sum(w * y)])
        if sharded:
            sums = distributed.all_reduce(sums)
        ybar = np.full_like(y, sums[1] / sums[0])
        devs = np.array([float(fam.deviance(y, mu, w)), float(fam.deviance(y, ybar, w))])
        if sharded:
            devs = distributed.all_reduce(devs)
        dev, dev_null = float(devs[0]), float(devs[1])
        return 1.0 - dev / dev_null if dev_null > 0 else (1.0 if dev == 0 else -math.inf)

    def covariance(self) -> pd.DataFrame:
        """Estimated covariance of (intercept, coef): scale * (X'WX)^{-1} (pseudo-inverse).

        X'WX is the solver's last Fisher matrix: for unpenalised fits at the
        Newton iterate one step before the solution, as in R's glm.fit (the
        step is below ``tol``); for penalised fits possibly two steps before,
        since they stop on the previous matrix's step. For penalised
        fits this is the unpenalised Fisher information at the penalised
        estimate: it ignores the penalty and any variable selection. With an
        L1 part it covers the selected (non-zero) coefficients only, as if
        they had been chosen in advance; rows and columns of coefficients set
        to zero are NaN.
        """
        check_is_fitted(self, "coef_")
        cov_unscaled = self._stats.cov_unscaled
        names = self._term_names()
        if not self.fit_intercept:
            names = names[1:]
        scale = self.scale_ if math.isfinite(self.scale_) else 0.0
        return pd.DataFrame(cov_unscaled * scale, index=names, columns=names)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficient table: coef, std_err, z, p_value, ci_low, ci_high.

        Indexed by term ("intercept" first, then the feature names). Standard
        errors are R's: sqrt(diag(scale * (X'WX)^{-1})); p-values and intervals
        use Student's t with the residual degrees of freedom when the
        dispersion is estimated (Gaussian, Gamma, inverse Gaussian, Tweedie)
        and the normal distribution otherwise. For penalised fits the
        intervals ignore the penalty and are not valid inference (a warning
        says so).
        """
        cov = self.covariance()
        if self._stats.penalized:
            warnings.warn(
                "summary() of a penalised fit: the standard errors ignore the penalty and "
                "variable selection, so p-values and intervals are not valid inference",
                UserWarning,
                stacklevel=2,
            )
        coef = np.concatenate([[self.intercept_], self.coef_]) if self.fit_intercept else self.coef_
        df_resid = self.df_resid_ if self._family().has_dispersion else None
        return wald_table(list(cov.index), coef, cov.to_numpy(), df_resid, level)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Families whose y must be >= 0 (Poisson, Gamma, ...) declare it as
        # scikit-learn's PoissonRegressor does; an invalid family is reported by fit.
        try:
            tags.target_tags.positive_only = bool(self._family().nonnegative_y)
        except (TypeError, ValueError):
            tags.target_tags.positive_only = False
        return tags


class GLM(_GLMBase):
    """Generalized linear model with optional elastic-net penalty.

    Minimises the glmnet/glum objective

    .. math::

        \\frac{1}{\\sum_i w_i} \\sum_i w_i \\frac{d(y_i, \\mu_i)}{2}
        + \\alpha \\Big(\\rho \\sum_j f_j |\\beta_j|
        + \\frac{1 - \\rho}{2} \\sum_j f_j \\beta_j^2\\Big),

    with :math:`d` the family's unit deviance, :math:`\\mu_i = g^{-1}(\\beta_0 +
    x_i^\\top \\beta + o_i)`, :math:`\\rho` = ``l1_ratio`` and :math:`f_j` the
    penalty factors. The intercept is not penalised. With ``alpha=0`` this is
    R's ``glm()``: same coefficients, standard errors, deviance and AIC.

    Parameters
    ----------
    family : str or Family, default="gaussian"
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``,
        ``"inverse_gaussian"``, ``"tweedie"``, ``"negative_binomial"`` or a
        :mod:`glmlib.families` instance (e.g. ``Tweedie(power=1.5)``).
    link : str or Link, optional
        Defaults to the family's canonical link (log for Tweedie and the
        negative binomial).
    alpha : float, default=0.0
        Overall penalty strength.
    l1_ratio : float, default=0.0
        Elastic-net mixing: 0 is ridge, 1 is lasso.
    fit_intercept : bool, default=True
    penalty_factor : array-like of shape (n_features,) or (n_coef,), optional
        Per-feature multipliers of the penalty (0 leaves a feature unpenalised).
        With categorical columns, one per DataFrame column (shared by its
        levels) or one per coefficient (``feature_names_out_``).
    solver : {"auto", "irls", "prox-newton", "lbfgs"}, default="auto"
        ``"irls"``: Newton/Fisher scoring with a Cholesky solve (no L1).
        ``"prox-newton"``: proximal Newton with coordinate descent (CPU) or
        FISTA (GPU) on the p x p quadratic model. ``"lbfgs"``: L-BFGS-B,
        for p too large for a Gram matrix. ``"auto"`` picks IRLS without L1,
        proximal Newton with L1, and L-BFGS above 4000 features. On dense X
        with at least 4096 (p + 1) rows, IRLS and proximal Newton form their
        first Hessians from a fixed random sixteenth of the rows (seed 0, so
        fits are reproducible) until a step changes the linear predictor by
        less than 0.01; later iterations, the convergence test and the Fisher
        matrix behind standard errors use all rows.
    max_iter : int, default=100
        Maximum outer (Newton) iterations.
    tol : float, default=1e-8
        Convergence: no coefficient step changes the linear predictor by more
        than ``tol`` (in units of its weighted RMS).
    device : {"cpu", "cuda", "cuda:N", "auto"}, default="cpu"
        Where to fit host data (NumPy, pandas, scipy.sparse). ``"auto"`` uses
        CUDA when PyTorch sees a GPU. CUDA tensors and CuPy arrays are fitted
        on the GPU that holds them, whatever this says.
    backend : {None, "numpy", "torch", "cupy"}, default=None
        Array library. None: torch for torch tensors or CUDA, CuPy for CuPy
        arrays, NumPy otherwise.
    formula : str, optional
        A Wilkinson formula such as ``"y ~ age * income + C(region)"``,
        evaluated by formulaic on the DataFrame passed as X (y may then be
        omitted). Its intercept must agree with ``fit_intercept``. New data
        for ``predict`` gets the same columns (``model_spec_``).
    drop_first : {"auto", True, False}, default="auto"
        Coding of pandas categorical columns of X (see :meth:`fit`). True
        leaves out each categorical's first level (R's treatment coding: the
        other levels' coefficients are differences from it); False keeps one
        indicator per level. ``"auto"`` drops the first level when the fit
        has an intercept and is unpenalised (``alpha=0``), which gives R's
        ``glm()`` coefficients and standard errors, and keeps every level
        when penalised, so that the penalty treats all levels alike (as
        glmnet and glum do).
    distributed : bool, default=False
        Fit across the processes of an initialised ``torch.distributed``
        process group (launched with ``torchrun``, or
        :func:`glmlib.distributed.launch`): every process calls ``fit`` with
        its own shard of the rows (X, y, sample_weight, offset) and all end
        with the coefficients, deviance, AIC and standard errors of the fit on
        the pooled rows. Dense or scipy.sparse X, or DataFrames with
        categorical columns (coded with the union of every process's
        levels); not with ``formula``. Sampled first Hessians are off. ``predict`` on a shard needs no communication; ``score`` sums
        over the processes. See :mod:`glmlib.distributed`.
    precision : {None, "double", "single", "mixed"}, default=None
        Arithmetic of the passes over X. None: X's own dtype. "double":
        float64. "single": float32 (on GPUs with full float32 products: PyTorch's
        TF32 setting is left at its default, off). "mixed": dense X only; the
        Gram matrices X'WX come from a bfloat16 copy of X (float32
        accumulation; on GPUs Tensor Cores), while the gradient, the deviance
        and the convergence test use X itself, so the fit converges to the
        full-precision solution (iterative refinement) in a few more
        iterations. If X'WX is too ill-conditioned for its bfloat16 copy, a
        :class:`glmlib.MixedPrecisionWarning` is issued and the fit uses full
        precision. ``precision_`` records what was used.
    stream_chunk_rows : int, optional
        Keep dense X in host memory (page-locked on CUDA) and copy it to the
        device in chunks of this many rows at every pass, double-buffered so
        that on CUDA the next chunk's copy overlaps the current chunk's
        products: fits X larger than device memory (see
        :class:`glmlib.design.streamed.StreamedDesign`). None (default) moves X to
        the device once. Not with sparse or categorical X or
        ``precision="mixed"``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
    converged_ : bool
    deviance_, null_deviance_ : float
        Model deviance and R's null deviance (intercept-only model with the
        same weights and offset).
    llf_, aic_, bic_ : float
        Log-likelihood and information criteria as R reports them (NaN for
        Tweedie, whose density has no closed form). For penalised fits the
        degrees of freedom are the effective ones, tr(H (H + P)^{-1}) over
        the non-zero coefficients, with H the solver's last Fisher matrix
        (see :meth:`covariance`).
    scale_ : float
        Dispersion: Pearson chi^2 / (n - p) when estimated, 1 for the
        binomial, Poisson and negative binomial families.
    rank_, df_model_, df_resid_, nobs_ : numbers
    history_ : DataFrame
        One row per Newton iteration (objective, step size, largest change).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X had string column names.
    feature_names_out_ : ndarray of str of shape (n_coef,)
        Name of each entry of ``coef_`` (and the index of :meth:`summary`
        after the intercept): the input's column names, with each
        categorical column expanded to ``"{column}[{level}]"``.
    categories_ : dict of str to ndarray
        The levels of each categorical column at fit time, the dropped first
        level included. Present when X had categorical columns.
    model_spec_ : formulaic.ModelSpec
        Present when fitted with a formula.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib import GLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = rng.poisson(np.exp(0.3 + X @ [0.5, -0.2, 0.0]))
    >>> model = GLM(family="poisson").fit(X, y)
    >>> model.coef_.round(1)
    array([ 0.5, -0.2,  0. ])
    """

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        *,
        fit_intercept: bool = True,
        penalty_factor: Any = None,
        solver: str = "auto",
        max_iter: int = 100,
        tol: float = 1e-8,
        device: str = "cpu",
        backend: str | None = None,
        formula: str | None = None,
        drop_first: bool | str = "auto",
        distributed: bool = False,
        precision: str | None = None,
        stream_chunk_rows: int | None = None,
    ) -> None:
        self.family = family
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.backend = backend
        self.formula = formula
        self.drop_first = drop_first
        self.distributed = distributed
        self.precision = precision
        self.stream_chunk_rows = stream_chunk_rows

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> GLM:
        """Fit the model.

        Parameters
        ----------
        X : array-like, DataFrame, scipy.sparse matrix or tensor, shape (n_samples, n_features)
            float32 or float64; DataFrame column names become term names.
            DataFrame columns may be pandas categoricals
            (``df[col].astype("category")``): each is expanded in place into
            one indicator column per level, ``"{column}[{level}]"``, coded as
            ``drop_first`` says, without building the one-hot matrix (on the
            torch backend it becomes a sparse one-hot matrix). They must have
            no missing values. With ``formula``, the DataFrame of variables
            the formula names.
        y : array-like of shape (n_samples,), optional with a formula
            Response; for the binomial family, proportions in [0, 1].
        sample_weight : array-like of shape (n_samples,), optional
            Prior weights (for the binomial family: the number of trials).
        offset : array-like of shape (n_samples,), optional
            Added to the linear predictor (e.g. log exposure).

        Returns
        -------
        self : GLM
        """
        alpha, l1_ratio = check_penalty(self.alpha, self.l1_ratio)
        if self.distributed:
            data = self._prepare_shard(X, y, sample_weight, offset, penalized=alpha > 0)
        else:
            data = self._prepare(X, y, sample_weight, offset, penalized=alpha > 0)
        self._warn_about_columns(data)
        prob = self._problem(data, alpha, l1_ratio)
        theta, eta_null, null_loss = self._null_fit(prob)
        null_dev = 2.0 * null_loss * prob.weight_sum
        start: tuple[Any, float] | None = (eta_null, null_loss)
        if not self.fit_intercept:
            theta, start = _wls_start(prob), None
        res = self._solve(prob, theta, screen=(alpha, l1_ratio), start=start)
        rank = None
        if res.rank_deficient and not prob.penalized:
            res, rank = _minimum_norm(prob, res)
        self._set_fitted(prob, data, res, null_dev, rank=rank)
        self._record_precision(data.design)
        return self


PRECISIONS = (None, "double", "single", "mixed")


def _has_categorical_columns(X: Any) -> bool:
    return isinstance(X, pd.DataFrame) and any(is_categorical(X[c].dtype) for c in X.columns)


def _cast_for_precision(X: Any, precision: str | None) -> Any:
    """X in float64 for "double", float32 for "single"; as it is otherwise."""
    if precision not in ("double", "single") or isinstance(X, pd.DataFrame):
        return X
    dtype = np.float64 if precision == "double" else np.float32
    if array_api_compat_is_torch(X):
        import torch

        return X.to(torch.float64 if precision == "double" else torch.float32)
    return X.astype(dtype)


def array_api_compat_is_torch(X: Any) -> bool:
    import array_api_compat

    return bool(array_api_compat.is_torch_array(X))


def _with_precision(design: Any, precision: str | None) -> Any:
    """The design for precision="mixed": Gram matrices from a bfloat16 copy of dense X."""
    if precision != "mixed":
        return design
    if type(design) is not DenseDesign:
        raise ValueError(
            f"precision='mixed' needs dense numeric X (got {type(design).__name__}); "
            "use precision=None or 'single' for sparse or categorical X"
        )
    return MixedPrecisionDesign(design)


def _block_linear(block: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(block @ coef, dtype=np.float64) + intercept


def _namespace(a: Any) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(a)


def _wls_start(prob: Problem) -> Any:
    """Start without an intercept, as R's glm.fit does: one weighted least-squares
    fit of the working response at the family's starting means.

    Starting from beta = 0 would put eta = offset, which for links such as the
    inverse is outside the family's range.
    """
    xp = prob.xp
    fam = prob.family
    mu0 = prob.starting_mu()
    if fam.name != "gaussian":
        mu0 = xp.clip(mu0, 1e-8, 1 - 1e-8 if fam.name == "binomial" else None)
    eta0 = fam.link.link(mu0)
    dmu = fam.link.inverse_deriv(eta0)
    var = xp.clip(fam.variance(mu0), 1e-300, None)
    fisher = prob.weights * dmu * dmu / var
    z = eta0 - prob.offset + (prob.y - mu0) / dmu
    gram = prob.design.gram(fisher, intercept=False)
    theta, _ = prob.backend.cholesky_solve(gram, prob.design.rmatvec(fisher * z))
    zero = xp.zeros_like(theta)
    l1, l2 = prob.penalties()
    start_ok = math.isfinite(prob.objective(prob.eta(theta), theta, l1, l2))
    if bool(xp.all(xp.isfinite(theta))) and start_ok:
        return theta
    return zero


def _minimum_norm(prob: Problem, res: FitResult) -> tuple[FitResult, int | None]:
    """The minimum-norm minimiser of a rank-deficient unpenalised fit, and the rank of X'WX.

    The minimisers differ by vectors of the null space of [1 X] (restricted
    to rows with weight), which is the null space of the Fisher matrix X'WX;
    the one of smallest norm (over intercept and coefficients, as
    ``numpy.linalg.lstsq`` or scikit-learn's L-BFGS from a zero start give)
    is any minimiser's projection onto its orthogonal complement. The null
    space is found on the equilibrated matrix (so that columns of small
    scale are not mistaken for null directions) and mapped back. The rank
    (None when not computed) is that of :attr:`FitStatistics.rank`, which need
    not decompose the same matrix again.
    """
    if res.hess is None or res.hess_cols is not None:
        return res, None
    hess = to_numpy(res.hess)
    basis = SymmetricFactor(hess, cholesky=False, eig_rtol=rank_rtol(hess.shape[0])).null_basis()
    rank = hess.shape[0] - basis.shape[1]
    if basis.shape[1] == 0:
        return res, rank
    theta = to_numpy(res.theta)
    theta = theta - basis @ (basis.T @ theta)
    theta_b = prob.backend.asarray(theta, dtype=np.float64)
    eta = prob.eta(theta_b)  # unchanged up to round-off: the removed part is in X's null space
    loss = float(prob.loss(eta))
    before = res.loss if res.loss is not None else res.objective
    if not math.isfinite(loss) or loss > before + 1e-9 * max(abs(before), 1.0):
        # Directions only numerically null (tiny, not zero, curvature) moved the fit:
        # keep the solver's minimiser rather than a worse one.
        return res, rank
    return replace(res, theta=theta_b, eta=eta, loss=loss, objective=loss, factor=None), rank


def _information(prob: Problem, res: FitResult, fit_intercept: bool) -> np.ndarray:
    """Fisher information over all coefficients (caller's weight scale), on the host.

    Rows and columns of columns the solver never fitted (screened out, so zero)
    are NaN.
    """
    k = prob.design.p + int(fit_intercept)
    if res.hess is None:
        _, _, fisher = prob.working_weights(res.eta)
        return to_numpy(prob.design.gram(fisher, intercept=fit_intercept)) * prob.weight_sum
    hess = to_numpy(res.hess) * prob.weight_sum
    if res.hess_cols is None or len(res.hess_cols) == prob.design.p:
        return hess
    idx = np.concatenate([np.arange(int(fit_intercept)), res.hess_cols + int(fit_intercept)])
    info = np.full((k, k), np.nan)
    info[np.ix_(idx, idx)] = hess
    return info
