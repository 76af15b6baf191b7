"""LocalGLMnet: starts at the GLM on its linear terms; attention finds an interaction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmlib import GLM
from glmlib.nn import LocalGLMnet

FAST = dict(hidden_layer_sizes=(16, 8), device="cpu", random_state=0)


def test_before_training_it_is_the_glm(claims) -> None:
    """0 epochs: beta(x) is the GLM's coefficients in every row, predictions the GLM's.

    Tolerance 1e-6 relative: the network holds the coefficients in float32
    parameters (measured 3e-8), and its GLM is fitted on the standardised
    columns (the same model, solver tolerance 1e-8).
    """
    X, y, off, _ = claims
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    model = LocalGLMnet("poisson", max_epochs=0, **FAST).fit(X, y, sample_weight=w, offset=off)
    assert model.term_names_ == [
        "age",
        "power",
        "region[south]",
        "region[east]",
        "region[west]",
        "fuel[diesel]",
    ]
    ref = GLM(family="poisson").fit(X, y, sample_weight=w, offset=off)
    np.testing.assert_allclose(model.predict(X, offset=off), ref.predict(X, offset=off), rtol=1e-6)
    np.testing.assert_allclose(
        model.predict(X, offset=off),
        model.glm_.predict(model.encoder_.linear_terms(*model.encoder_.transform(X)), offset=off),
        rtol=1e-6,
    )
    beta = model.attention(X)
    assert isinstance(beta, pd.DataFrame) and list(beta.columns) == model.term_names_
    assert beta.index.equals(X.index)
    # standardised numeric terms: coefficient * sd = the GLM's on the raw scale * sd
    scale = np.r_[model.encoder_.scale, np.ones(4)]
    np.testing.assert_allclose(beta.to_numpy(), np.tile(ref.coef_ * scale, (len(X), 1)), rtol=1e-6)


def test_attention_finds_the_interaction() -> None:
    """y = x0 + x0 * x1 + noise: beta_0(x) follows 1 + x1; beta_2(x) of a noise column stays near 0."""
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + X[:, 0] * X[:, 1] + 0.3 * rng.normal(size=n)
    model = LocalGLMnet(max_epochs=40, learning_rate=5e-3, batch_size=128, **FAST).fit(X, y)
    beta = model.attention(X).to_numpy() / model.encoder_.scale  # back to the raw scale
    corr = np.corrcoef(beta[:, 0], X[:, 1])[0, 1]
    assert corr > 0.9, corr
    assert np.abs(beta[:, 2]).mean() < 0.15 * np.abs(beta[:, 0]).mean()
    assert model.score(X, y) > 0.9
    assert model.score(X, y) > GLM().fit(X, y).score(X, y) + 0.3


def test_penalty_makes_attention_rows_constant() -> None:
    """Without the penalty every attention row moves off zero; with it, some rows stay exactly 0.

    The attention weights start at zero (the GLM start) and there is no early
    stopping here, so zeros at the end are the proximal step's work.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] * (1 + 0.5 * X[:, 1]) + 0.5 * X[:, 2] + rng.normal(size=600)
    kw = dict(max_epochs=20, learning_rate=1e-2, batch_size=64, validation_fraction=0.0, **FAST)
    plain = LocalGLMnet(**kw).fit(X, y)
    lasso = LocalGLMnet(alpha=0.05, l1_ratio=1.0, **kw).fit(X, y)
    assert plain.n_epochs_ == lasso.n_epochs_ == 20
    W0 = plain.module_.attention.weight.detach().numpy()
    W = lasso.module_.attention.weight.detach().numpy()
    assert not (W0 == 0).all(axis=1).any()
    zero_rows = np.flatnonzero((W == 0).all(axis=1))
    # the noise column's row is zero, the interacting columns' are not (seeds 0-4 measured;
    # the purely linear column's row is zero for some seeds)
    assert 3 in zero_rows and 0 not in zero_rows and 1 not in zero_rows
    beta = lasso.attention(X).to_numpy()
    assert np.ptp(beta[:, zero_rows], axis=0).max() == 0  # constant: plain GLM terms
    assert np.ptp(beta[:, 0]) > 0.2  # measured 0.43-0.91 over seeds 0-4


def test_attention_checks_its_input() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    model = LocalGLMnet(max_epochs=1, **FAST).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="X has 3 features"):
        model.attention(rng.normal(size=(5, 3)))
