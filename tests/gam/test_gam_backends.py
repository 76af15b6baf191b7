"""GAM on the core's backends: NumPy and PyTorch fits agree (CPU here; CUDA when present)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmlib.gam import GAM, f, s, te

torch = pytest.importorskip("torch")


def _data(family: str, n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"a": rng.uniform(0, 1, n), "b": rng.uniform(0, 1, n), "g": rng.choice(["u", "v", "w"], n)}
    )
    eta = np.sin(2 * np.pi * X["a"]) * 0.8 + X["b"] ** 2 + 0.4 * (X["g"] == "v")
    if family == "binomial":
        return X, rng.binomial(1, 1 / (1 + np.exp(-eta.to_numpy())))
    if family == "poisson":
        return X, rng.poisson(np.exp(eta.to_numpy()))
    return X, eta.to_numpy() + rng.normal(0, 0.3, n)


def _agree(a: GAM, b: GAM, X: pd.DataFrame) -> None:
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6)
    assert a.deviance_ == pytest.approx(b.deviance_, rel=1e-8)
    np.testing.assert_allclose(a.edf_, b.edf_, rtol=1e-4, atol=1e-4)
    assert a.aic_ == pytest.approx(b.aic_, rel=1e-8)


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("method", ["REML", "GCV"])
def test_numpy_and_torch_cpu_agree(family: str, method: str) -> None:
    X, y = _data(family)
    terms = s("a") + s("b", n_splines=10) + f("g")
    fits = [
        GAM(terms, family=family, method=method, backend=b).fit(X, y) for b in ("numpy", "torch")
    ]
    _agree(*fits, X)
    np.testing.assert_allclose(np.log(fits[0].lam_[:2]), np.log(fits[1].lam_[:2]), atol=1e-3)


def test_torch_tensor_input_and_tensor_product() -> None:
    X, y = _data("poisson", n=800, seed=1)
    Xn = X[["a", "b"]].to_numpy().copy()
    terms = te(0, 1, n_splines=5)
    ref = GAM(terms, family="poisson").fit(Xn, y)
    ours = GAM(terms, family="poisson").fit(torch.as_tensor(Xn), torch.as_tensor(y))
    _agree(ref, ours, Xn)


@pytest.mark.gpu
def test_cuda_agrees_with_numpy() -> None:
    X, y = _data("binomial", n=5000)
    terms = s("a") + s("b") + f("g")
    ref = GAM(terms, family="binomial").fit(X, y)
    gpu = GAM(terms, family="binomial", device="cuda").fit(X, y)
    _agree(ref, gpu, X)
