"""GLMDeviance: glmlib's deviance as a Keras 3 loss on the PyTorch backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glmlib.families import NegativeBinomial, Tweedie, get_family
from glmlib.nn import GLMLoss
from glmlib.nn.keras import GLMDeviance, keras


@pytest.mark.parametrize(
    "family", ["gaussian", "binomial", "poisson", Tweedie(power=1.5), NegativeBinomial(alpha=0.5)]
)
def test_equals_glmlib_deviance(family) -> None:
    """float64: sum w d / sum w to 1e-10, and the per-observation call() to 1e-10."""
    fam = get_family(family)
    rng = np.random.default_rng(0)
    mu = rng.uniform(0.1, 0.9, 40) if fam.name == "binomial" else rng.uniform(0.5, 3.0, 40)
    y = rng.binomial(1, mu).astype(float) if fam.name == "binomial" else rng.poisson(mu) * 1.0
    w = rng.uniform(0.5, 2.0, 40)
    eta = np.asarray(fam.link.link(mu))
    loss = GLMDeviance(fam)
    t = torch.as_tensor
    got = float(loss(t(y), t(eta)[:, None], t(w)))
    expected = float(fam.deviance(y, mu, w)) / w.sum()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got == float(GLMLoss(fam)(t(eta), t(y), t(w)))
    np.testing.assert_allclose(
        loss.call(t(y), t(eta)).numpy(), fam.unit_deviance(y, mu), rtol=1e-10
    )


def test_a_keras_model_trains_on_it() -> None:
    """Keras fit/evaluate with sample weights: evaluate (one batch) == GLMLoss of the predictions."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 3)).astype("float32")
    y = rng.poisson(np.exp(0.3 + np.sin(X[:, 0]))).astype("float32")
    w = rng.uniform(0.5, 2.0, 512).astype("float32")
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=GLMDeviance("poisson"))
    before = model.evaluate(X, y, sample_weight=w, batch_size=512, verbose=0)
    model.fit(X, y, sample_weight=w, epochs=20, batch_size=64, verbose=0)
    after = model.evaluate(X, y, sample_weight=w, batch_size=512, verbose=0)
    eta = torch.as_tensor(model.predict(X, batch_size=512, verbose=0))[:, 0]
    expected = float(GLMLoss("poisson")(eta, torch.as_tensor(y), torch.as_tensor(w)))
    np.testing.assert_allclose(after, expected, rtol=1e-5)
    assert after < 0.9 * before


def test_config_round_trip() -> None:
    loss = GLMDeviance("tweedie", link="log", power=1.3)
    config = loss.get_config()
    assert config == {"name": "glm_deviance", "family": "tweedie", "link": "log", "power": 1.3}
    again = GLMDeviance.from_config(config)
    assert again.family == loss.family
    assert GLMDeviance("gaussian", link="power(1.5)").get_config()["link"] == "power(1.5)"
    assert keras.backend.backend() == "torch"
