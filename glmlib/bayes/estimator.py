"""BayesianGLM: priors on the coefficients of any glmlib family and link, posterior by NUTS or Laplace."""

from __future__ import annotations

import numbers
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import to_numpy
from .._validation import check_sample_weight, validate_vector, validate_X
from ..families import Family, get_family
from ._diagnostics import convergence_report, warn_if_not_converged
from ._families import Likelihood, likelihood_for
from ._imports import arviz
from ._laplace import LaplaceResult, laplace_fit
from ._model import ModelData, build_model
from ._posterior import hdi, laplace_idata, summary_table
from ._resolve import ResolvedPriors, resolve_priors
from ._sampling import default_chains, resolve_sampler, run_nuts
from .priors import Prior

__all__ = ["BayesianGLM"]

METHODS = ("nuts", "laplace")
PREDICT_KINDS = ("mean", "interval", "draws", "predictive")


class BayesianGLM(BaseEstimator):
    """Bayesian generalized linear model: priors on the coefficients, posterior by NUTS.

    The model is the core engine's GLM with a prior on each coefficient,

    .. math::

        y_i \\sim F(\\mu_i, \\phi / w_i), \\qquad
        g(\\mu_i) = \\alpha + x_i^\\top \\beta + o_i, \\qquad
        \\beta_j \\sim p_j, \\quad \\alpha \\sim p_0,

    with :math:`F` a glmlib family (Gaussian, binomial, Poisson, Gamma,
    inverse Gaussian, negative binomial; Tweedie with power 0, 1, 2 or 3),
    :math:`g` any glmlib link, prior weights :math:`w_i` and offset :math:`o_i`.
    ``fit`` builds a PyMC model (:mod:`glmlib.bayes._model`) and samples it with
    NUTS, or (``method="laplace"``) takes the posterior mode from a penalised
    :class:`glmlib.GLM` fit and approximates the posterior by a Gaussian with
    the inverse Hessian as covariance (:mod:`glmlib.bayes._laplace`).

    Parameters
    ----------
    family : str or Family, default="gaussian"
        As in :class:`glmlib.GLM`. For the binomial family ``y`` is the
        proportion of successes and ``sample_weight`` the number of trials.
    link : str or Link, optional
        Defaults to the family's canonical link.
    priors : None, prior, RegularizedHorseshoe or dict, optional
        None: weakly informative Normal priors scaled to the data (see
        :mod:`glmlib.bayes._resolve`). A prior such as ``StudentT(3, 0, 1)``:
        that prior on every coefficient (not the intercept).
        ``RegularizedHorseshoe(p0=...)``: sparsity prior on all coefficients.
        A dict term -> prior, e.g. ``{"intercept": Normal(0, 10), "age":
        StudentT(3, 0, 1)}``; terms not named keep the default. Dispersion
        parameters (``"sigma"``, ``"shape"``, ``"lam"``, ``"alpha"``) take a
        positive prior or a fixed number.
    fit_intercept : bool, default=True
    method : {"nuts", "laplace"}, default="nuts"
        ``"laplace"`` needs smooth priors (Normal, Student-t, logistic, flat)
        and plugs in the dispersion estimate; its summary has no R-hat or
        ESS (NaN).
    center : bool, default=True
        Put the intercept prior on the intercept of the centred predictors
        (rstanarm's and bambi's convention). The reported intercept is always
        that of the raw predictors. Without an intercept nothing is centred.
    precondition : bool, default=True
        Sample in coordinates whitened by the core engine's Laplace
        approximation (a dense mass matrix; see :mod:`glmlib.bayes._model`).
        Not used with a horseshoe prior.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        Posterior draws of ``intercept``, ``coef`` (dim ``feature``) and the
        dispersion parameters (for the Laplace method: draws from the
        Gaussian approximation).
    coef_, intercept_ : posterior means
    extra_ : dict
        Posterior means (NUTS) or plug-in values (Laplace) of the dispersion
        parameters.
    priors_ : dict
        The priors used, term -> prior, after scaling to the data.
    laplace_ : LaplaceResult
        Mode and covariance (centred coordinates); for NUTS, the
        preconditioner.
    convergence_ : dict
        max R-hat, min bulk/tail ESS, divergences (NUTS only).
    sampler_ : str
        The sampler used ("nutpie", "pymc", ..., or "laplace").
    fit_seconds_ : float
        Wall time of the posterior computation, compilation included.
    n_features_in_, feature_names_in_

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.bayes import BayesianGLM, Normal
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = rng.binomial(1, 1 / (1 + np.exp(-(X @ [1.0, -0.5]))))
    >>> model = BayesianGLM("binomial", priors=Normal(0, 1), method="laplace").fit(X, y)
    >>> model.summary().index.tolist()
    ['intercept', 'x0', 'x1']
    """

    # Fitted state (set by fit).
    idata_: Any
    coef_: np.ndarray
    intercept_: float
    extra_: dict[str, float]
    priors_: dict[str, Any]
    family_: Family
    laplace_: LaplaceResult
    convergence_: dict[str, float]
    sampler_: str
    fit_seconds_: float
    dispersion_: float
    _resolved: ResolvedPriors
    _xbar: np.ndarray
    _free_extra: list[str]
    _fixed_extra: dict[str, float]
    _laplace_mean: np.ndarray
    _laplace_cov: np.ndarray

    def __init__(
        self,
        family: str | Family = "gaussian",
        link: Any = None,
        priors: Any = None,
        fit_intercept: bool = True,
        *,
        method: str = "nuts",
        center: bool = True,
        precondition: bool = True,
    ) -> None:
        self.family = family
        self.link = link
        self.priors = priors
        self.fit_intercept = fit_intercept
        self.method = method
        self.center = center
        self.precondition = precondition

    # ----------------------------------------------------------------- inputs
    def _check_params(self) -> None:
        for name in ("fit_intercept", "center", "precondition"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    def _prepare(self, X: Any, y: Any, sample_weight: Any, offset: Any) -> tuple[ModelData, Family]:
        family = get_family(self.family, self.link)
        X = validate_X(self, X, reset=True)
        X = X.toarray() if sp.issparse(X) else to_numpy(X)
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        y = validate_vector(to_numpy(y) if hasattr(y, "device") else y, n, "y")
        family.check_y(y)
        w = validate_vector(sample_weight, n, "sample_weight", allow_none_value=1.0)
        check_sample_weight(w)
        off = validate_vector(offset, n, "offset", allow_none_value=0.0)
        keep = w > 0
        X, y, w, off = X[keep], y[keep], w[keep], off[keep]
        # Centring moves x'beta into the intercept, so it needs one.
        centre = self.center and self.fit_intercept
        xbar = X.mean(axis=0) if centre else np.zeros(X.shape[1])
        data = ModelData(X, y, w, off, xbar, self._features(), bool(self.fit_intercept))
        return data, family

    def _features(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    # -------------------------------------------------------------------- fit
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        offset: Any = None,
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int | None = None,
        sampler: str = "auto",
        random_seed: int | None = None,
        progressbar: bool = True,
        target_accept: float = 0.8,
        **sampler_kwargs: Any,
    ) -> BayesianGLM:
        """Compute the posterior.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like, optional
            Prior weights (binomial: trials); see :mod:`glmlib.bayes._families`.
        offset : array-like, optional
            Added to the linear predictor (e.g. log exposure).
        draws, tune : int, default=1000
            Draws kept and tuning steps per chain. For ``method="laplace"``,
            ``draws`` is the number of draws from the Gaussian approximation.
        chains : int, optional
            Default: 2 to 4, one per CPU core.
        sampler : {"auto", "pymc", "nutpie", "numpyro", "blackjax"}
            See :mod:`glmlib.bayes._sampling`.
        random_seed : int, optional
        progressbar : bool, default=True
            False also silences PyMC's log messages (``pm.sample(quiet=True)``).
        target_accept : float, default=0.8
        **sampler_kwargs
            Passed to ``pm.sample`` (PyMC) or as ``nuts_sampler_kwargs``.

        Returns
        -------
        self
        """
        self._check_params()
        draws = _check_int(draws, "draws", 1)
        tune = _check_int(tune, "tune", 0)
        chains = default_chains() if chains is None else _check_int(chains, "chains", 1)
        if not (isinstance(target_accept, numbers.Real) and 0 < target_accept < 1):
            raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
        nuts = self.method == "nuts"
        if nuts:
            sampler = resolve_sampler(sampler)
        data, family = self._prepare(X, y, sample_weight, offset)
        lik = likelihood_for(family, sampling=nuts)
        priors, proxy = self._resolve(data, lik)
        self.priors_ = priors.table()
        self.family_ = lik.family
        self._resolved = priors
        self._xbar = data.xbar
        if not nuts:
            self._fit_laplace(data, lik, priors, draws, random_seed)
            return self
        use_pre = self.precondition and priors.horseshoe is None
        centre, chol = (proxy.theta, np.linalg.cholesky(proxy.cov)) if use_pre else (None, None)
        model = build_model(data, lik, priors, centre, chol)
        idata, seconds = run_nuts(
            model,
            sampler,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            target_accept=target_accept,
            **sampler_kwargs,
        )
        self.idata_ = idata
        self.laplace_ = proxy
        self.sampler_ = sampler
        self.fit_seconds_ = seconds
        self._free_extra = [k for k, v in priors.extra.items() if isinstance(v, Prior)]
        self._fixed_extra = {
            k: float(v) for k, v in priors.extra.items() if not isinstance(v, Prior)
        }
        self.convergence_ = convergence_report(idata, self._var_names())
        warn_if_not_converged(self.convergence_, stacklevel=3)
        self._set_means()
        return self

    def _resolve(self, data: ModelData, lik: Likelihood) -> tuple[ResolvedPriors, LaplaceResult]:
        """Priors scaled to the data, and the core engine's proxy fit (centre, metric, dispersion)."""
        args: dict[str, Any] = dict(
            features=data.features,
            fit_intercept=data.fit_intercept,
            lik=lik,
            X=data.X,
            y=data.y,
            w=data.w,
        )
        priors = resolve_priors(self.priors, **args)
        fixed = self._fixed_dispersion(lik, priors)
        try:
            proxy = laplace_fit(
                lik.family,
                data.Xt,
                data.y,
                data.w,
                data.offset,
                priors.theta,
                fixed,
                has_dispersion=lik.family.has_dispersion,
                proxy=True,
            )
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as err:
            if self.method == "laplace":
                raise
            warnings.warn(
                f"the core engine's fit that centres and preconditions NUTS failed ({err}); "
                "sampling without preconditioning",
                UserWarning,
                stacklevel=3,
            )
            k = data.Xt.shape[1]
            start = np.array([p.loc for p in priors.theta])
            proxy = LaplaceResult(start, np.eye(k), fixed or 1.0, 0, False)
        if lik.name in ("gamma", "inverse_gaussian"):
            priors = resolve_priors(self.priors, phi_hat=proxy.phi, **args)
        return priors, proxy

    @staticmethod
    def _fixed_dispersion(lik: Likelihood, priors: ResolvedPriors) -> float | None:
        fixed = {k: float(v) for k, v in priors.extra.items() if not isinstance(v, Prior)}
        if lik.name in ("gaussian", "gamma", "inverse_gaussian") and fixed:
            return lik.dispersion(fixed)
        return None if lik.family.has_dispersion else 1.0

    def _fit_laplace(
        self, data: ModelData, lik: Likelihood, priors: ResolvedPriors, draws: int, seed: Any
    ) -> None:
        if priors.horseshoe is not None:
            raise NotImplementedError(
                "method='laplace' does not support the horseshoe prior (hierarchical, no smooth "
                "independent log density); use method='nuts'"
            )
        t0 = time.perf_counter()
        res = laplace_fit(
            lik.family,
            data.Xt,
            data.y,
            data.w,
            data.offset,
            priors.theta,
            self._fixed_dispersion(lik, priors),
            has_dispersion=lik.family.has_dispersion,
        )
        T = data.to_raw()
        self._laplace_mean = T @ res.theta
        self._laplace_cov = T @ res.cov @ T.T
        self._fixed_extra = lik.extra_from_dispersion(res.phi)
        self._free_extra = []
        self.idata_ = laplace_idata(
            self._laplace_mean, self._laplace_cov, data, draws, np.random.default_rng(seed)
        )
        self.laplace_ = res
        self.sampler_ = "laplace"
        self.fit_seconds_ = time.perf_counter() - t0
        self.convergence_ = {}
        self.dispersion_ = res.phi
        self._set_means()

    def _set_means(self) -> None:
        post = self.idata_.posterior
        if self.sampler_ == "laplace":
            start = int(self.fit_intercept)
            self.coef_ = self._laplace_mean[start:].copy()
            self.intercept_ = float(self._laplace_mean[0]) if start else 0.0
        else:
            self.coef_ = np.asarray(post["coef"].mean(("chain", "draw")), dtype=float)
            self.intercept_ = float(post["intercept"].mean()) if self.fit_intercept else 0.0
        self.extra_ = {k: float(post[k].mean()) for k in self._free_extra}
        self.extra_.update(self._fixed_extra)

    # ---------------------------------------------------------- posterior use
    def _var_names(self) -> list[str]:
        return (["intercept"] if self.fit_intercept else []) + ["coef"] + list(self._free_extra)

    def _terms(self) -> list[str]:
        return (["intercept"] if self.fit_intercept else []) + self._features()

    def summary(self, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Posterior summary indexed by term ("intercept", the features, then dispersion).

        Columns are ArviZ's: mean, sd, hdi_<a>%, hdi_<b>%, mcse_mean, mcse_sd,
        ess_bulk, ess_tail, r_hat, unrounded. For ``method="laplace"`` mean is the mode,
        sd and the HDI bounds are those of the Gaussian approximation, and the
        Monte Carlo columns are NaN.
        """
        check_is_fitted(self, "idata_")
        if self.sampler_ == "laplace":
            sd = np.sqrt(np.diag(self._laplace_cov))
            return summary_table(self._terms(), self._laplace_mean, sd, hdi_prob)
        table = arviz().summary(
            self.idata_, var_names=self._var_names(), hdi_prob=hdi_prob, round_to="none"
        )
        names = {f"coef[{f}]": f for f in self._features()}
        return table.rename(index=names).rename_axis("term")

    def _posterior_draws(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        post = self.idata_.posterior.stack(sample=("chain", "draw"))
        coef = np.asarray(post["coef"].transpose("sample", "feature"), dtype=float)
        s = coef.shape[0]
        b0 = np.asarray(post["intercept"], dtype=float) if self.fit_intercept else np.zeros(s)
        extra = {k: np.asarray(post[k], dtype=float)[:, None] for k in self._free_extra}
        extra.update({k: np.full((s, 1), v) for k, v in self._fixed_extra.items()})
        return b0, coef, extra

    def _linear_draws(self, X: Any, offset: Any) -> np.ndarray:
        check_is_fitted(self, "idata_")
        X = validate_X(self, X, reset=False)
        X = np.asarray(X.toarray() if sp.issparse(X) else to_numpy(X), dtype=np.float64)
        off = validate_vector(offset, X.shape[0], "offset", allow_none_value=0.0)
        b0, coef, _ = self._posterior_draws()
        return b0[:, None] + coef @ X.T + off[None, :]

    def predict(
        self,
        X: Any,
        offset: Any = None,
        kind: str = "mean",
        hdi_prob: float = 0.94,
        random_seed: int | None = None,
    ) -> Any:
        """Posterior predictions for new rows.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        offset : array-like of shape (n,), optional
        kind : {"mean", "interval", "draws", "predictive"}
            ``"mean"``: posterior mean of :math:`\\mu = E[y \\mid x]`, which is
            also the mean of the posterior predictive distribution.
            ``"interval"``: DataFrame with that mean, the HDI of :math:`\\mu`
            (``hdi_low``, ``hdi_high``) and the HDI of a new observation drawn
            from the posterior predictive distribution (``pi_low``,
            ``pi_high``; unit weights). ``"draws"``: posterior draws of
            :math:`\\mu`, shape (n_draws, n). ``"predictive"``: posterior
            predictive draws of y, shape (n_draws, n).
        hdi_prob : float, default=0.94
        random_seed : int, optional
            Seed of the posterior predictive draws.
        """
        check_is_fitted(self, "idata_")
        if kind not in PREDICT_KINDS:
            raise ValueError(f"kind must be one of {PREDICT_KINDS}, got {kind!r}")
        mu = np.asarray(self.family_.link.inverse(self._linear_draws(X, offset)))
        if kind == "mean":
            return mu.mean(axis=0)
        if kind == "draws":
            return mu
        y_draws = self._sample_y(mu, random_seed)
        if kind == "predictive":
            return y_draws
        lo, hi = hdi(mu, hdi_prob)
        plo, phi = hdi(y_draws, hdi_prob)
        return pd.DataFrame(
            {"mean": mu.mean(axis=0), "hdi_low": lo, "hdi_high": hi, "pi_low": plo, "pi_high": phi}
        )

    def _sample_y(self, mu: np.ndarray, seed: Any) -> np.ndarray:
        _, _, extra = self._posterior_draws()
        lik = likelihood_for(self.family_)
        return lik.sample(np.random.default_rng(seed), mu, extra)

    def prior_predictive(
        self,
        X: Any,
        offset: Any = None,
        draws: int = 500,
        kind: str = "mean",
        random_seed: int | None = None,
    ) -> np.ndarray:
        """Draws of mu (``kind="mean"``) or y (``"predictive"``) under the priors alone.

        Uses the priors of the last fit (``priors_``, already scaled to the
        training data). Shape (draws, n).
        """
        check_is_fitted(self, "idata_")
        if kind not in ("mean", "predictive"):
            raise ValueError(f"kind must be 'mean' or 'predictive', got {kind!r}")
        rng = np.random.default_rng(random_seed)
        X = validate_X(self, X, reset=False)
        X = np.asarray(X.toarray() if sp.issparse(X) else to_numpy(X), dtype=np.float64)
        off = validate_vector(offset, X.shape[0], "offset", allow_none_value=0.0)
        pri = self._resolved
        start = int(self.fit_intercept)
        if pri.horseshoe is not None:
            tau0: Any = pri.horseshoe_tau0
            if self.family_.name == "gaussian":
                tau0 = tau0 * _draw(pri.extra["sigma"], rng, draws)[:, None]
            coef = pri.horseshoe.sample(rng, draws, tau0, pri.col_scale)
        else:
            coef = np.column_stack([p.sample(rng, draws) for p in pri.theta[start:]])
        eta = coef @ (X - self._xbar).T + off[None, :]
        if start:
            eta = eta + pri.theta[0].sample(rng, draws)[:, None]
        mu = np.asarray(self.family_.link.inverse(eta))
        if kind == "mean":
            return mu
        extra = {k: _draw(v, rng, draws)[:, None] for k, v in pri.extra.items()}
        return likelihood_for(self.family_).sample(rng, mu, extra)

    # ------------------------------------------------------------------ plots
    def _plot(self, fn: str, var_names: list[str] | None, **kwargs: Any) -> Any:
        check_is_fitted(self, "idata_")
        with warnings.catch_warnings():
            # ArviZ 0.x passes Matplotlib 3.11 a deprecated alias mapping on every plot.
            warnings.filterwarnings("ignore", message=".*alias_mapping", module="arviz")
            return getattr(arviz(), fn)(
                self.idata_, var_names=var_names or self._var_names(), **kwargs
            )

    def plot_trace(self, var_names: list[str] | None = None, **kwargs: Any) -> Any:
        """``arviz.plot_trace`` of the coefficients (and dispersion); returns the axes."""
        return self._plot("plot_trace", var_names, **kwargs)

    def plot_posterior(self, var_names: list[str] | None = None, **kwargs: Any) -> Any:
        """``arviz.plot_posterior`` of the coefficients (and dispersion); returns the axes."""
        return self._plot("plot_posterior", var_names, **kwargs)

    def plot_forest(self, var_names: list[str] | None = None, **kwargs: Any) -> Any:
        """``arviz.plot_forest`` of the coefficients, chains combined; returns the axes."""
        kwargs.setdefault("combined", True)
        return self._plot("plot_forest", var_names, **kwargs)


def _draw(prior: Prior | float, rng: np.random.Generator, size: int) -> np.ndarray:
    """Prior draws of a dispersion parameter (a fixed value repeated)."""
    if isinstance(prior, Prior):
        return np.asarray(prior.sample(rng, size), dtype=float)
    return np.full(size, float(prior))


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
