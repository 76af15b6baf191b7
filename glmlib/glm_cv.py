"""Regularisation paths and cross-validated choice of the penalty strength."""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from copy import copy
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import check_cv

from ._backend import to_numpy
from ._progress import progress_bar
from ._validation import check_penalty
from .design.dense import DenseDesign
from .families import Family
from .glm import _Data, _GLMBase
from .solver.choice import choose_solver, elastic_net, solve
from .solver.problem import FitResult, Problem
from .solver.screening import screened_newton

__all__ = ["GLMCV", "GLMPath", "alpha_max", "glm_path", "regularization_path"]

# alpha_max for a pure ridge path is infinite; like glmnet, size the grid as if
# l1_ratio were at least this.
_MIN_L1_RATIO_FOR_GRID = 1e-3
_ALPHA_MAX_NUDGE = 1e-12
# A fold's training rows of a dense host X are copied (passes then skip the
# held-out rows, about 1/K of the work) when X takes at most this many bytes;
# a larger X is never copied: held-out rows get zero weight instead.
_FOLD_COPY_BYTES = 2**30


def alpha_max(prob: Problem, eta_null: Any, l1_ratio: float, pf: np.ndarray) -> float:
    """Smallest alpha at which every penalised coefficient is zero.

    alpha_max = max_j |grad_j(null model)| / (l1_ratio * pf_j) over penalised j.
    """
    grad = np.abs(to_numpy(prob.full_gradient(eta_null)))
    rho = max(l1_ratio, _MIN_L1_RATIO_FOR_GRID)
    pen = pf > 0
    if not np.any(pen):
        return 1.0
    value = float(np.max(grad[pen] / (rho * pf[pen])))
    # A relative nudge keeps round-off in the solver from leaving a ~1e-16
    # coefficient at the first path point.
    return value * (1.0 + _ALPHA_MAX_NUDGE) if value > 0 else 1.0


def regularization_path(
    prob: Problem,
    theta_null: Any,
    alphas: np.ndarray,
    l1_ratio: float,
    pf: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    solver: str,
    progress: Any = None,
    on_point: Callable[[int, Any], None] | None = None,
    on_theta: Callable[[int, Any], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Warm-started path over decreasing ``alphas`` with strong-rule screening.

    Each point is fitted by :func:`glmlib.solver.screening.screened_newton` (strong
    rules with a KKT check), warm-started from the previous one.
    ``on_point(k, eta)`` receives each point's linear predictor as it is
    found (cross-validation scores held-out rows from it), so that the path
    never holds all of them; ``on_theta(k, theta)`` its parameters
    (intercept first, then all p coefficients).

    Returns (coefs (n_alphas, p), intercepts (n_alphas,), iterations per point).
    """
    p = prob.design.p
    start = int(prob.fit_intercept)
    has_l1 = l1_ratio > 0 and bool(np.any(pf > 0))
    choice = choose_solver(solver, n_params=p + start, has_l1=has_l1, device=prob.backend.device)
    theta = theta_null
    eta = prob.eta(theta)
    grad = to_numpy(prob.full_gradient(eta))
    prev_alpha = float(alphas[0])
    coefs = np.zeros((len(alphas), p))
    intercepts = np.zeros(len(alphas))
    iters: list[int] = []
    res: FitResult | None = None
    for k, alpha in enumerate(alphas):
        alpha = float(alpha)
        if not choice.uses_gram:
            prob_k = elastic_net(prob, alpha, l1_ratio, pf)
            res = solve(prob_k, theta, choice, tol=tol, max_iter=max_iter)
            grad = to_numpy(prob_k.full_gradient(res.eta))
        else:
            res, grad = screened_newton(
                prob,
                theta,
                grad,
                alpha,
                prev_alpha,
                l1_ratio,
                pf,
                tol=tol,
                max_iter=max_iter,
                inner=choice.inner,
                previous=res,
                eta=eta,
                loss=None if res is None else res.loss,
            )
        theta, eta, n_it = res.theta, res.eta, res.n_iter
        theta_h = to_numpy(theta)
        coefs[k] = theta_h[start:]
        intercepts[k] = theta_h[0] if start else 0.0
        if on_point is not None:
            on_point(k, eta)
        if on_theta is not None:
            on_theta(k, theta)
        iters.append(n_it)
        prev_alpha = alpha
        if progress is not None:
            progress.update(1)
    return coefs, intercepts, iters


def _progress_bar(total: int, enabled: bool) -> Any:
    """The folds-and-alphas bar of GLMCV and glm_path."""
    return progress_bar(total, enabled, desc="GLMCV")


class GLMCV(_GLMBase):
    """Elastic-net GLM with the penalty chosen by K-fold cross-validation.

    Fits a warm-started path of ``n_alphas`` penalties from ``alpha_max``
    (the smallest alpha with all coefficients zero) down to
    ``eps * alpha_max`` on geometric steps, with strong-rule screening, on the
    full data and on each training fold; picks ``alpha_`` minimising the mean
    held-out deviance and ``alpha_1se_``, the largest alpha within one
    standard error of that minimum; refits at ``alpha_``. Folds are fitted by
    giving the held-out rows zero weight, so X never moves or is copied.

    Parameters
    ----------
    family, link, fit_intercept, penalty_factor, solver, max_iter, tol, device, backend, formula
        As in :class:`glmlib.GLM`.
    drop_first : {"auto", True, False}, default="auto"
        Coding of pandas categorical columns, as in :class:`glmlib.GLM`.
        Every fit here is penalised, so ``"auto"`` keeps all levels.
    precision : {None, "double", "single", "mixed"}, default=None
        Arithmetic of the passes over X, as in :class:`glmlib.GLM`; every
        fold's path and the refit use it.
    l1_ratio : float, default=1.0
        Elastic-net mixing (1 = lasso). With 0 the grid is sized as if
        l1_ratio were 1e-3, as glmnet does.
    n_alphas : int, default=100
    alphas : array-like, optional
        Explicit penalty grid (sorted decreasing); overrides n_alphas and eps.
    eps : float, default=1e-3
        Ratio of the smallest to the largest alpha (times 1e-3 for a pure
        ridge path, whose largest alpha is sized as if l1_ratio were 1e-3).
    cv : int or cross-validation splitter, default=5
    random_state : int, optional
        Seed of the shuffled K-fold split when ``cv`` is an int.
    progress : bool, default=False
        Show a tqdm progress bar over folds and alphas.
    n_jobs : int, default=1
        Folds fitted at once, in threads sharing X (-1: one per CPU core).
        The passes over X (BLAS, numba) release the GIL, so folds run in
        parallel; leave BLAS at one thread per job (``OMP_NUM_THREADS``) to
        avoid oversubscribing the cores. Results do not depend on it.

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas,)
    alpha_, alpha_1se_ : float
    cv_deviance_ : ndarray of shape (n_folds, n_alphas)
        Held-out deviance per unit weight.
    coef_path_ : ndarray of shape (n_alphas, n_features)
    intercept_path_ : ndarray of shape (n_alphas,)
    coef_, intercept_, and every attribute of :class:`glmlib.GLM`
        For the refit at ``alpha_``.

    Examples
    --------
    >>> from glmlib import GLMCV
    >>> from glmlib.datasets import make_glm
    >>> X, y, coef = make_glm(2000, 20, family="binomial", n_informative=5, random_state=0)
    >>> model = GLMCV(family="binomial", l1_ratio=1.0, n_alphas=30).fit(X, y)
    >>> int((model.coef_ != 0).sum()) <= 20
    True
    """

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        l1_ratio: float = 1.0,
        n_alphas: int = 100,
        alphas: Any = None,
        eps: float = 1e-3,
        cv: Any = 5,
        *,
        fit_intercept: bool = True,
        penalty_factor: Any = None,
        solver: str = "auto",
        max_iter: int = 100,
        tol: float = 1e-8,
        device: str = "cpu",
        backend: str | None = None,
        random_state: Any = None,
        progress: bool = False,
        formula: str | None = None,
        drop_first: bool | str = "auto",
        precision: str | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.family = family
        self.link = link
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.backend = backend
        self.random_state = random_state
        self.progress = progress
        self.formula = formula
        self.drop_first = drop_first
        self.precision = precision
        self.n_jobs = n_jobs

    @staticmethod
    def _check_null_is_valid(prob: Problem, eta_null: Any) -> None:
        """The path starts at the null model; it must be a valid fit."""
        if not np.isfinite(float(prob.loss(eta_null))):
            raise ValueError(
                "the null model (eta = offset, no intercept) is outside the link's domain, "
                "so the regularization path cannot start there; fit an intercept or use "
                "another link"
            )

    def _alpha_grid(self, prob: Problem, eta_null: Any, pf: np.ndarray) -> np.ndarray:
        if self.alphas is not None:
            alphas = np.asarray(self.alphas, dtype=np.float64).reshape(-1)
            if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
                raise ValueError("alphas must be a non-empty sequence of finite numbers >= 0")
            return np.sort(alphas)[::-1]
        if not isinstance(self.n_alphas, numbers.Integral) or self.n_alphas < 1:
            raise ValueError(f"n_alphas must be a positive integer, got {self.n_alphas!r}")
        if not (isinstance(self.eps, numbers.Real) and 0 < self.eps < 1):
            raise ValueError(f"eps must be in (0, 1), got {self.eps!r}")
        top = alpha_max(prob, eta_null, float(self.l1_ratio), pf)
        ratio = float(self.eps)
        if float(self.l1_ratio) < _MIN_L1_RATIO_FOR_GRID:
            # The top was sized as if l1_ratio were 1e-3, i.e. inflated by up to
            # 1 / 1e-3 relative to the lasso scale: extend the bottom by as much.
            ratio *= _MIN_L1_RATIO_FOR_GRID
        return np.geomspace(top, top * ratio, int(self.n_alphas))

    def _path_setup(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, sharded: bool = False
    ) -> tuple[_Data, Problem, np.ndarray, Any, Any, np.ndarray]:
        """Validated data, the unpenalised problem, penalty factors, the null fit and the grid.

        ``sharded``: X, y, ... are this process's rows of a distributed fit.
        """
        check_penalty(0.0, self.l1_ratio)
        prepare = self._prepare_shard if sharded else self._prepare
        data = prepare(X, y, sample_weight, offset, penalized=True)
        self._warn_about_columns(data)
        pf = self._penalty_factor(data.design.p)
        prob = self._problem(data, 0.0, float(self.l1_ratio))
        theta_null, _ = self._null_model(prob)
        eta_null = prob.eta(theta_null)
        self._check_null_is_valid(prob, eta_null)
        alphas = self._alpha_grid(prob, eta_null, pf)
        return data, prob, pf, theta_null, eta_null, alphas

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> GLMCV:
        """Fit the path, cross-validate alpha and refit at ``alpha_``.

        Parameters
        ----------
        X : array-like, DataFrame, scipy.sparse matrix or tensor, shape (n_samples, n_features)
            As for :meth:`glmlib.GLM.fit` (pandas categorical columns included).
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        offset : array-like of shape (n_samples,), optional

        Returns
        -------
        self : GLMCV
        """
        data, prob, pf, theta_null, eta_null, alphas = self._path_setup(X, y, sample_weight, offset)
        l1_ratio = float(self.l1_ratio)
        self.alphas_ = alphas

        # Classifiers (GLMClassifierCV) split an integer cv into stratified folds.
        splitter = check_cv(self.cv, to_numpy(data.y), classifier=is_classifier(self))
        if hasattr(splitter, "shuffle") and isinstance(self.cv, numbers.Integral):
            splitter.shuffle = True
            splitter.random_state = self.random_state
        n = data.design.n
        folds = list(splitter.split(np.zeros((n, 1)), to_numpy(data.y)))
        jobs = self._n_jobs(len(folds))
        bar = _progress_bar(len(alphas) * (len(folds) + 1), enabled=bool(self.progress))

        def fold(split: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            return self._fold_deviance(data, split[0], split[1], alphas, l1_ratio, pf, bar)

        if jobs == 1:
            rows = [fold(split) for split in folds]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                rows = list(pool.map(fold, folds))
        self.cv_deviance_ = np.vstack(rows)
        path = dict(tol=self.tol, max_iter=self.max_iter, solver=self.solver, progress=bar)
        coefs, intercepts, _ = regularization_path(prob, theta_null, alphas, l1_ratio, pf, **path)
        bar.close()
        self.coef_path_ = coefs
        self.intercept_path_ = intercepts

        mean = self.cv_deviance_.mean(axis=0)
        se = (
            self.cv_deviance_.std(axis=0, ddof=1) / np.sqrt(len(folds))
            if len(folds) > 1
            else 0 * mean
        )
        best = int(np.argmin(mean))
        self.alpha_ = float(alphas[best])
        if best == len(alphas) - 1 and len(alphas) > 1:
            warnings.warn(
                f"the cross-validated alpha_ = {self.alpha_:.3g} is the smallest alpha on the grid; "
                "the optimum may lie below it: pass a smaller eps or explicit alphas",
                UserWarning,
                stacklevel=2,
            )
        within = np.flatnonzero(mean <= mean[best] + se[best])
        self.alpha_1se_ = float(alphas[within.min()])

        # Refit at alpha_ from the path's solution there (a few Newton steps at most).
        final = self._problem(data, self.alpha_, l1_ratio)
        start = int(self.fit_intercept)
        theta = data.backend.asarray(
            np.concatenate([[intercepts[best]] if start else [], coefs[best]]), dtype=np.float64
        )
        res = self._solve(final, theta)
        null_dev = self._deviance(final, eta_null)
        self._set_fitted(final, data, res, null_dev)
        self._record_precision(data.design)
        return self

    def _n_jobs(self, n_folds: int) -> int:
        """Validated ``n_jobs`` (threads over folds), at most one per fold."""
        n_jobs = getattr(self, "n_jobs", 1)
        if (
            isinstance(n_jobs, bool)
            or not isinstance(n_jobs, numbers.Integral)
            or (n_jobs < 1 and n_jobs != -1)
        ):
            raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        return max(1, min(int(n_jobs), n_folds))

    def _fold_deviance(
        self,
        data: _Data,
        train: np.ndarray,
        test: np.ndarray,
        alphas: np.ndarray,
        l1_ratio: float,
        pf: np.ndarray,
        bar: Any,
    ) -> np.ndarray:
        """Held-out deviance per unit weight along the path for one fold.

        A dense host X of at most ``_FOLD_COPY_BYTES`` is split into copies
        of the training rows (fitted) and the held-out rows (scored at each
        point), one X's worth of memory while the fold runs; a larger X is
        not copied: the held-out rows get zero weight instead.
        """
        b = data.backend
        xp = b.xp
        fam = data.family
        out = np.full(len(alphas), np.nan)
        design = data.design
        on_point: Callable[[int, Any], None] | None = None
        on_theta: Callable[[int, Any], None] | None = None
        if (
            type(design) is DenseDesign
            and design._on_host
            and design.X.nbytes <= _FOLD_COPY_BYTES
            and b.name == "numpy"
        ):
            train, test = np.sort(train), np.sort(test)
            fold = replace(
                data,
                design=DenseDesign(np.take(design.X, train, axis=0), b),
                y=data.y[train],
                w=data.w[train],
                offset=data.offset[train],
            )
            if not float(np.sum(fold.w)) > 0:
                raise ValueError(
                    "a cross-validation fold has no training rows with positive weight"
                )
            prob = self._problem(fold, 0.0, l1_ratio)
            held_out = DenseDesign(np.take(design.X, test, axis=0), b)
            y_test, w_test, off_test = data.y[test], data.w[test], data.offset[test]
            w_sum = float(np.sum(w_test))
            start = int(self.fit_intercept)

            def score_theta(k: int, theta: Any) -> None:
                if w_sum > 0:
                    b0 = theta[0] if start else 0.0
                    eta_test = held_out.matvec(theta[start:]) + b0 + off_test
                    dev = float(fam.deviance(y_test, fam.link.inverse(eta_test), w_test))
                    # Means outside the family's range on held-out rows (the
                    # training fit never saw them): the worst possible score.
                    out[k] = dev / w_sum if np.isfinite(dev) else np.inf

            on_theta = score_theta

        else:
            mask = np.zeros(design.n)
            mask[train] = 1.0
            w_train = data.w * b.asarray(mask, dtype=np.float64)
            if not float(xp.sum(w_train)) > 0:
                raise ValueError(
                    "a cross-validation fold has no training rows with positive weight"
                )
            # Its own view of X: folds may run in threads, and a design keeps
            # its last column subset.
            fold = replace(data, design=_fresh(design))
            # Held-out rows have zero weight; "all" keeps their means admissible, so they can be
            # scored.
            prob = replace(self._problem(fold, 0.0, l1_ratio, weights=w_train), admissible="all")
            test_mask = b.asarray(np.isin(np.arange(design.n), test).astype(np.float64))
            w_mask = data.w * test_mask
            w_masked_sum = float(xp.sum(w_mask))

            def score_eta(k: int, eta: Any) -> None:
                if w_masked_sum > 0:
                    dev = fam.deviance(data.y, fam.link.inverse(eta), w_mask)
                    out[k] = float(dev) / w_masked_sum

            on_point = score_eta

        theta_null, _ = self._null_model(prob)

        path = dict(tol=self.tol, max_iter=self.max_iter, solver=self.solver, progress=bar)
        regularization_path(
            prob, theta_null, alphas, l1_ratio, pf, on_point=on_point, on_theta=on_theta, **path
        )
        return out


def _fresh(design: Any) -> Any:
    """A shallow copy of ``design`` without its cached column subsets."""
    twin = copy(design)
    for attr in ("_last_subset", "_subset_buffer"):
        getattr(twin, "__dict__", {}).pop(attr, None)
    return twin


class GLMPath(NamedTuple):
    """A regularisation path: one row of coefficients per alpha (largest alpha first)."""

    alphas: np.ndarray
    coef: np.ndarray  # (n_alphas, n_features)
    intercept: np.ndarray  # (n_alphas,)
    n_iter: np.ndarray  # Newton iterations per alpha
    feature_names: list[str]


def glm_path(
    X: Any,
    y: Any = None,
    *,
    family: str | Family = "gaussian",
    link: Any = None,
    l1_ratio: float = 1.0,
    alphas: Any = None,
    n_alphas: int = 100,
    eps: float = 1e-3,
    sample_weight: Any = None,
    offset: Any = None,
    fit_intercept: bool = True,
    penalty_factor: Any = None,
    solver: str = "auto",
    max_iter: int = 100,
    tol: float = 1e-8,
    device: str = "cpu",
    backend: str | None = None,
    progress: bool = False,
    formula: str | None = None,
    drop_first: bool | str = "auto",
    distributed: bool = False,
    precision: str | None = None,
) -> GLMPath:
    """Elastic-net regularisation path of a GLM, without cross-validation.

    The path :class:`GLMCV` fits on the full data: warm-started from
    ``alpha_max`` (or the largest of ``alphas``) downwards with strong-rule
    screening and KKT checks, each point solved to ``tol``. Same objective,
    parameters and inputs as :class:`GLMCV` (``glmnet``'s ``glmnet()`` to
    GLMCV's ``cv.glmnet()``).

    Parameters
    ----------
    X : array-like, DataFrame, scipy.sparse matrix or tensor, shape (n_samples, n_features)
    y : array-like of shape (n_samples,), optional with a formula
    family, link, l1_ratio, alphas, n_alphas, eps, fit_intercept, penalty_factor, \
solver, max_iter, tol, device, backend, formula, drop_first
        As for :class:`GLMCV` (categorical columns keep all their levels
        under ``drop_first="auto"``).
    sample_weight, offset : array-like of shape (n_samples,), optional
        As for :meth:`GLMCV.fit`.
    progress : bool, default=False
        Show a tqdm progress bar over the alphas (on rank 0 only when distributed).
    distributed : bool, default=False
        X, y, sample_weight and offset are this process's shard of the rows
        of a fit across a ``torch.distributed`` process group, as for
        :class:`glmlib.GLM`; every process returns the path of the pooled rows.
    precision : {None, "double", "single", "mixed"}, default=None
        Arithmetic of the passes over X, as in :class:`glmlib.GLM`.

    Returns
    -------
    GLMPath
        ``alphas`` (decreasing), ``coef`` (n_alphas, n_features),
        ``intercept`` (n_alphas,), ``n_iter`` per alpha and the
        ``feature_names`` of the coefficients (DataFrame columns, with
        categoricals as ``"{column}[{level}]"``, or x0, x1, ...).

    Examples
    --------
    >>> from glmlib import glm_path
    >>> from glmlib.datasets import make_glm
    >>> X, y, coef = make_glm(1000, 10, family="poisson", n_informative=3, random_state=0)
    >>> path = glm_path(X, y, family="poisson", n_alphas=20)
    >>> path.coef.shape, bool((path.coef[0] == 0).all())
    ((20, 10), True)
    """
    est = GLMCV(
        family=family,
        link=link,
        l1_ratio=l1_ratio,
        n_alphas=n_alphas,
        alphas=alphas,
        eps=eps,
        fit_intercept=fit_intercept,
        penalty_factor=penalty_factor,
        solver=solver,
        max_iter=max_iter,
        tol=tol,
        device=device,
        backend=backend,
        formula=formula,
        drop_first=drop_first,
        precision=precision,
    )
    _, prob, pf, theta_null, _, grid = est._path_setup(
        X, y, sample_weight, offset, sharded=bool(distributed)
    )
    if distributed:  # one progress bar for the whole group
        import torch.distributed as dist

        progress = bool(progress) and dist.get_rank() == 0
    bar = _progress_bar(len(grid), enabled=bool(progress))
    coefs, intercepts, iters = regularization_path(
        prob,
        theta_null,
        grid,
        float(l1_ratio),
        pf,
        tol=tol,
        max_iter=max_iter,
        solver=solver,
        progress=bar,
    )
    bar.close()
    return GLMPath(grid, coefs, intercepts, np.asarray(iters), est._term_names()[1:])
