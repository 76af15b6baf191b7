"""What NeuralGLM and LocalGLMnet share: scikit-learn API, input checks, pickling, save and load."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from glmlib.nn import LocalGLMnet, NeuralGLM

ESTIMATORS = [NeuralGLM, LocalGLMnet]
FAST = dict(hidden_layer_sizes=(8,), device="cpu", random_state=0)


def _expected_failures(estimator) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch training: repeating rows instead of weighting them changes the batches "
            "and the validation split. The weights enter the loss exactly (tests/nn/test_loss.py, "
            "test_training.py::test_accumulation_equals_one_large_batch)."
        )
    }


@parametrize_with_checks(
    [
        NeuralGLM(hidden_layer_sizes=(16,), max_epochs=30, learning_rate=1e-2, device="cpu"),
        NeuralGLM("poisson", glm_skip=True, hidden_layer_sizes=(8,), max_epochs=10, device="cpu"),
        LocalGLMnet(hidden_layer_sizes=(8,), max_epochs=10, device="cpu"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def _data(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_and_save_load_round_trip(cls, tmp_path: Path, claims) -> None:
    X, y, off, _ = claims
    model = cls("poisson", max_epochs=2, **FAST).fit(X, y, offset=off)
    expected = model.predict(X, offset=off)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X, offset=off), expected)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = cls.load(path)
    np.testing.assert_array_equal(loaded.predict(X, offset=off), expected)
    assert loaded.get_params() == model.get_params()
    assert loaded.history_.equals(model.history_)
    for a, b in zip(
        model.module_.state_dict().values(), loaded.module_.state_dict().values(), strict=True
    ):
        assert (a == b).all()
    other = ESTIMATORS[1 - ESTIMATORS.index(cls)]
    with pytest.raises(ValueError, match=f"holds a {cls.__name__}, not a {other.__name__}"):
        other.load(path)
    np.save(tmp_path / "junk.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not a model saved by glmlib.nn"):
        cls.load(tmp_path / "junk.npy")


def test_cann_save_load_keeps_the_glm(tmp_path: Path, claims) -> None:
    X, y, off, _ = claims
    model = NeuralGLM("poisson", glm_skip=True, max_epochs=1, **FAST).fit(X, y, offset=off)
    model.save(tmp_path / "cann.pt")
    loaded = NeuralGLM.load(tmp_path / "cann.pt")
    np.testing.assert_array_equal(loaded.glm_.coef_, model.glm_.coef_)
    np.testing.assert_array_equal(loaded.predict(X, offset=off), model.predict(X, offset=off))


def test_save_needs_a_fitted_model(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NeuralGLM().save(tmp_path / "x.pt")


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes must be a sequence of positive ints"),
        ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"alpha": -1.0}, "'alpha' parameter"),
        ({"l1_ratio": 2.0}, "'l1_ratio' parameter"),
        ({"learning_rate": 0.0}, "'learning_rate' parameter"),
        ({"learning_rate": float("inf")}, "'learning_rate' parameter"),
        ({"alpha": float("nan")}, "'alpha' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"max_epochs": -1}, "'max_epochs' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"patience": 0}, "'patience' parameter"),
        ({"embedding_dim": 0}, "'embedding_dim' parameter"),
        ({"lr_schedule": "step"}, "'lr_schedule' parameter"),
        ({"device": "tpu"}, "device must be 'cpu', 'cuda', 'cuda:N' or 'auto'"),
        ({"family": "poison"}, "unknown family 'poison'"),
        (
            {"family": "poisson", "link": "logit"},
            "link 'logit' is not valid for the poisson family",
        ),
    ],
)
def test_bad_hyperparameters_are_named(cls, params, match) -> None:
    X, y = _data()
    kw = {**FAST, **params}
    with pytest.raises((ValueError, TypeError), match=match):
        cls(**kw).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_data_is_named(cls) -> None:
    X, y = _data()
    model = cls("poisson", max_epochs=1, **FAST)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.fit(Xn, y)
    with pytest.raises(ValueError, match="poisson y must be non-negative"):
        model.fit(X, -y)
    with pytest.raises(ValueError, match="y has 199 entries but X has 200 rows"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight has 10 entries"):
        model.fit(X, y, sample_weight=np.ones(10))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        model.fit(X, y, sample_weight=-np.ones(200))
    with pytest.raises(ValueError, match="offset contains NaN"):
        model.fit(X, y, offset=np.full(200, np.nan))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        model.fit(X, np.full(200, np.nan))
    with pytest.raises(TypeError, match="sparse"):
        model.fit(sp.csr_matrix(X), y)
    with pytest.raises(ValueError, match="binomial y must be proportions"):
        cls("binomial", max_epochs=1, **FAST).fit(X, y + 2)
    fitted = model.fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but"):
        fitted.predict(X[:, :2])
    with pytest.raises(ValueError, match="offset has 3 entries but X has 200 rows"):
        fitted.predict(X, offset=np.zeros(3))


def test_zero_weight_rows_are_left_out() -> None:
    """Rows of weight 0 do not enter the objective: dropping them gives the same fit."""
    X, y = _data(n=220)
    w = np.ones(220)
    w[200:] = 0.0
    kw = dict(max_epochs=3, **FAST)
    a = NeuralGLM("poisson", **kw).fit(X, y, sample_weight=w)
    b = NeuralGLM("poisson", **kw).fit(X[:200], y[:200])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_clone_keeps_parameters() -> None:
    model = NeuralGLM("tweedie", "log", hidden_layer_sizes=(4, 2), glm_skip=True, alpha=0.1)
    assert clone(model).get_params() == model.get_params()


def test_device_auto_is_cpu_without_a_gpu() -> None:
    import torch

    X, y = _data()
    model = NeuralGLM(hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(X, y)
    assert model.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert all(not p.is_cuda for p in model.module_.parameters())


_UNPICKLE = """
import pickle, sys
import numpy as np
import torch
assert not torch.cuda.is_available()
model = pickle.load(open(sys.argv[1], "rb"))
X = np.load(sys.argv[2])
np.save(sys.argv[3], model.predict(X))
"""


@pytest.mark.gpu
def test_cuda_trained_model_loads_on_a_cpu_only_machine(tmp_path: Path, claims) -> None:
    """Fit on CUDA, pickle and save; unpickle and predict in a process that sees no GPU."""
    X, y, off, _ = claims
    Xn = X[["age", "power"]].to_numpy()
    model = NeuralGLM(
        "poisson", hidden_layer_sizes=(16,), max_epochs=3, device="cuda", random_state=0
    )
    model.fit(Xn, y, offset=off)
    assert model.device_ == "cuda"
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", Xn)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(
        [
            sys.executable,
            "-c",
            _UNPICKLE,
            str(tmp_path / "m.pkl"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "p.npy"),
        ],
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict(Xn))
    model.save(tmp_path / "m.pt")
    code = (
        "import sys, numpy as np; from glmlib.nn import NeuralGLM; "
        "m = NeuralGLM.load(sys.argv[1]); np.save(sys.argv[3], m.predict(np.load(sys.argv[2])))"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(tmp_path / "m.pt"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "q.npy"),
        ],
        check=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"), model.predict(Xn))


def test_import_glmlib_does_not_import_torch_but_glmlib_nn_is_reachable() -> None:
    code = (
        "import sys, glmlib; assert 'torch' not in sys.modules; "
        "nn = glmlib.nn; assert 'torch' in sys.modules; print(nn.NeuralGLM.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "NeuralGLM"
