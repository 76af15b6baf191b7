"""Convergence checks run after every NUTS fit, before any posterior is used.

Thresholds follow Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021):
rank-normalised split-R-hat at most 1.01, bulk and tail effective sample
sizes of at least 100 per chain, and no divergent transitions. A failed
check raises a ``ConvergenceWarning`` (scikit-learn's, as the core engine
uses) that names the diagnostic, its value and the threshold.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021).
Rank-normalization, folding, and localization: an improved R-hat for
assessing convergence of MCMC. *Bayesian Analysis* 16(2), 667-718.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._imports import arviz

__all__ = ["ESS_PER_CHAIN", "RHAT_MAX", "convergence_report", "warn_if_not_converged"]

RHAT_MAX = 1.01
ESS_PER_CHAIN = 100


def _extreme(ds: Any, fn: Any) -> float:
    values = [np.asarray(ds[v]).ravel() for v in ds.data_vars]
    flat = np.concatenate(values) if values else np.array([])
    flat = flat[np.isfinite(flat)]
    return float(fn(flat)) if flat.size else math.nan


def convergence_report(idata: Any, var_names: list[str]) -> dict[str, float]:
    """max R-hat, min bulk and tail ESS, divergences, chains and draws of ``var_names``."""
    az = arviz()
    post = idata.posterior
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    rhat = _extreme(az.rhat(idata, var_names=var_names), np.max) if chains > 1 else math.nan
    ess_bulk = _extreme(az.ess(idata, var_names=var_names, method="bulk"), np.min)
    ess_tail = _extreme(az.ess(idata, var_names=var_names, method="tail"), np.min)
    div = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        div = int(np.asarray(idata.sample_stats["diverging"]).sum())
    return {
        "max_rhat": rhat,
        "min_ess_bulk": ess_bulk,
        "min_ess_tail": ess_tail,
        "divergences": div,
        "chains": chains,
        "draws": draws,
    }


def warn_if_not_converged(report: dict[str, float], stacklevel: int = 3) -> list[str]:
    """Warn once per failed check; return the messages."""
    problems = []
    chains = int(report["chains"])
    need = ESS_PER_CHAIN * chains
    if report["max_rhat"] > RHAT_MAX:
        problems.append(
            f"R-hat {report['max_rhat']:.3f} > {RHAT_MAX}: the chains have not mixed; "
            "run more tuning and draws or check the model"
        )
    if chains < 2:
        problems.append("R-hat needs at least 2 chains; convergence cannot be assessed")
    if report["min_ess_bulk"] < need:
        problems.append(
            f"bulk ESS {report['min_ess_bulk']:.0f} < {need} ({ESS_PER_CHAIN} per chain): "
            "posterior means and intervals are unreliable; draw more"
        )
    elif report["min_ess_tail"] < need:
        problems.append(
            f"tail ESS {report['min_ess_tail']:.0f} < {need} ({ESS_PER_CHAIN} per chain): "
            "interval bounds are unreliable; draw more"
        )
    if report["divergences"] > 0:
        problems.append(
            f"{report['divergences']} divergent transitions after tuning: the sampler missed "
            "part of the posterior; raise target_accept or reparametrise"
        )
    for msg in problems:
        warnings.warn(f"BayesianGLM: {msg}", ConvergenceWarning, stacklevel=stacklevel)
    return problems
