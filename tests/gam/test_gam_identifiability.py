"""Smoothness selection when two terms' penalty null spaces overlap (``s(x) + te(x, z)``).

Both terms contain the straight line in x, so one coefficient direction is
determined neither by the data nor by any penalty. Before it was pinned
(:meth:`PenaltyStructure.pin_unidentified`), log|X'X + S_lambda| in REML was
the log of a rounding error and perturbing the start by 1e-13 moved lambda of
s(age) from 7.5 to 60 (lambdas measured then are the candidates below).
The reference is the restricted likelihood of the identifiable mixed model,
computed by brute force with n x n matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import glmlib.solver.null as null_module
from glmlib.gam import GAM, f, s, te
from glmlib.gam._data import as_table, model_matrix

#: (lambda of s(age), the two of te(age, year)) chosen before the fix from starts 0, 1e-13,
#: 1e-10 and 1e-6 away from the null fit.
OLD_CHOICES = [
    (7.4573, 0.52094, 0.57659),
    (60.363, 0.30188, 0.60771),
    (25.146, 7.8290, 10.2076),
    (25.854, 0.98584, 1.45707),
]


def _fit_from_shifted_start(
    monkeypatch: pytest.MonkeyPatch, df: pd.DataFrame, y: np.ndarray, shift: float
) -> GAM:
    newton = null_module._newton_intercept
    monkeypatch.setattr(
        null_module,
        "_newton_intercept",
        lambda prob, tol, max_iter: newton(prob, tol, max_iter) + shift,
    )
    return GAM(s("age") + f("edu") + te("age", "year", n_splines=4)).fit(df, y)


def _neg_restricted_loglik(gam: GAM, X: np.ndarray, y: np.ndarray, lam: np.ndarray) -> float:
    """-log REML likelihood (scale profiled out, constants dropped) of the identifiable model."""
    n, q = X.shape
    S = np.zeros((q, q))
    start = 1
    for term, sl in zip(gam.terms_, gam._slices, strict=True):
        stop = start + sl.stop - sl.start
        if term.penalties:
            lams = lam[:1] if len(term.penalties) == 1 else lam[1:]
            for lm, pm in zip(lams, term.penalties, strict=True):
                S[start:stop, start:stop] += lm * pm
        start = stop
    evals, evecs = np.linalg.eigh(S)
    pos = evals > 1e-9 * evals.max()
    u, sv, _ = np.linalg.svd(X @ evecs[:, ~pos], full_matrices=False)
    Xf = u[:, sv > 1e-8 * sv.max()]  # identifiable fixed effects
    U = evecs[:, pos]
    Z = X @ U
    C = np.eye(n) + Z @ np.linalg.solve(U.T @ S @ U, Z.T)  # var(y) / phi
    Ci = np.linalg.inv(C)
    XtCiX = Xf.T @ Ci @ Xf
    res = y - Xf @ np.linalg.solve(XtCiX, Xf.T @ Ci @ y)
    m = n - Xf.shape[1]
    return 0.5 * (
        np.linalg.slogdet(C)[1] + np.linalg.slogdet(XtCiX)[1] + m * np.log(res @ Ci @ res)
    )


def test_overlapping_null_spaces_give_a_stable_reml_optimum(
    monkeypatch: pytest.MonkeyPatch, make_wage_like: Any
) -> None:
    df, y = make_wage_like(5.0)
    fits = [_fit_from_shifted_start(monkeypatch, df, y, e) for e in (0.0, 1e-13, 1e-10)]
    ref = fits[0]
    assert ref.converged_
    for gam in fits[1:]:
        assert gam.converged_
        assert gam.lam_[0] == pytest.approx(ref.lam_[0], rel=1e-4)
        np.testing.assert_allclose(gam.edf_, ref.edf_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gam.predict(df), ref.predict(df), rtol=1e-8)
    # Both te lambdas run towards infinity (the REML slope there is ~1e-6 per unit of
    # log lambda, so their exact values are not determined): te keeps its null space.
    assert min(ref.lam_[2]) > 100

    X = np.column_stack([np.ones(len(y)), model_matrix(ref.terms_, as_table(df), fit=False)])
    chosen = np.array([ref.lam_[0], *ref.lam_[2]])
    best = _neg_restricted_loglik(ref, X, y, chosen)
    for old in OLD_CHOICES:
        assert best < _neg_restricted_loglik(ref, X, y, np.array(old)) - 1e-3
