"""The training loop: accumulation, checkpoint/resume, early stopping, divergence, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from glmlib.nn import (
    DivergenceError,
    GLMHead,
    GLMLoss,
    NeuralGLM,
    TrainConfig,
    evaluate,
    init_weights,
    mlp,
    train,
)


class _Net(nn.Module):
    """A small MLP with a Poisson GLM head; forward(x, offset) -> eta."""

    def __init__(self, p: int = 4, seed: int = 0, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.body = mlp(p, (8, 4), "tanh")
        self.head = GLMHead(4, "poisson")
        init_weights(self, "tanh", torch.Generator().manual_seed(seed))
        self.to(dtype)

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x), offset)


def _data(n: int = 96, p: int = 4, seed: int = 0, dtype: torch.dtype = torch.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    off = np.log(rng.uniform(0.5, 1.0, n))
    y = rng.poisson(np.exp(off + 0.3 + np.sin(X[:, 0]) + 0.5 * X[:, 1]))
    w = rng.uniform(0.5, 2.0, n)
    return TensorDataset(*(torch.as_tensor(a, dtype=dtype) for a in (X, off, y, w)))


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_accumulation_equals_one_large_batch() -> None:
    """k = 4 micro-batches of 8 with accumulation == batches of 32, weighted rows (float64, 1e-10)."""
    data = _data()
    results = []
    for batch, k in ((8, 4), (32, 1)):
        model = _Net()
        cfg = TrainConfig(
            max_epochs=3, batch_size=batch, accumulation_steps=k, learning_rate=0.01, seed=5
        )
        train(model, GLMLoss("poisson"), data, None, cfg)
        results.append(_params(model))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-10)
    # and the runs did move: a 32-row step differs from four 8-row steps
    model = _Net()
    cfg = TrainConfig(max_epochs=3, batch_size=8, learning_rate=0.01, seed=5)
    train(model, GLMLoss("poisson"), data, None, cfg)
    assert (
        max(float((a - b).abs().max()) for a, b in zip(_params(model), results[1], strict=True))
        > 1e-4
    )


def test_checkpoint_resume_reproduces_the_uninterrupted_run(tmp_path) -> None:
    """Interrupted after epoch 3 and resumed: identical weights and history (bitwise)."""
    train_data, val_data = _data(seed=0), _data(n=40, seed=1)
    cfg = dict(max_epochs=7, batch_size=16, learning_rate=0.05, patience=50, seed=3)

    full = _Net()
    ref = train(full, GLMLoss("poisson"), train_data, val_data, TrainConfig(**cfg))

    path = tmp_path / "run.pt"

    def interrupt(record: dict) -> None:
        if record["epoch"] == 3:
            raise KeyboardInterrupt

    first = _Net()
    with pytest.raises(KeyboardInterrupt):
        train(
            first,
            GLMLoss("poisson"),
            train_data,
            val_data,
            TrainConfig(**cfg, checkpoint_path=path),
            callbacks=[interrupt],
        )
    resumed = _Net(seed=99)  # a fresh process would start from other weights
    out = train(
        resumed,
        GLMLoss("poisson"),
        train_data,
        val_data,
        TrainConfig(**cfg, checkpoint_path=path, resume=True),
    )
    for a, b in zip(_params(full), _params(resumed), strict=True):
        assert torch.equal(a, b)
    drop = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert drop(out.history) == drop(ref.history)
    assert (out.best_epoch, out.best_value) == (ref.best_epoch, ref.best_value)
    assert out.n_epochs == 7


def test_early_stopping_restores_the_best_weights() -> None:
    train_data, val_data = _data(n=64, seed=0), _data(n=64, seed=1)
    model = _Net()
    cfg = TrainConfig(max_epochs=300, batch_size=8, learning_rate=0.05, patience=3, seed=0)
    res = train(model, GLMLoss("poisson"), train_data, val_data, cfg)
    vals = [r["val_deviance"] for r in res.history]
    assert res.stopped_early and res.n_epochs < 300
    assert res.best_value == min([res.start_val, *vals])
    assert res.best_epoch == (int(np.argmin(vals)) + 1 if min(vals) < res.start_val else 0)
    assert res.n_epochs - res.best_epoch == 3
    # the model holds the best epoch's weights: evaluating it gives that epoch's value
    assert evaluate(model, GLMLoss("poisson"), val_data) == res.best_value


def test_evaluate_is_the_weighted_mean_deviance_of_all_rows() -> None:
    data = _data()
    model = _Net()
    X, off, y, w = data.tensors
    with torch.no_grad():
        expected = float(GLMLoss("poisson")(model(X, off), y, w))
    got = evaluate(model, GLMLoss("poisson"), data, batch_size=7)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_worker_processes_give_the_same_run() -> None:
    """A DataLoader worker reads the same batches as the main process (bitwise)."""
    data = _data()
    runs = []
    for workers in (0, 1):
        model = _Net()
        cfg = TrainConfig(max_epochs=2, batch_size=16, num_workers=workers, seed=1)
        train(model, GLMLoss("poisson"), data, None, cfg)
        runs.append(_params(model))
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_a_huge_learning_rate_diverges_with_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0]))
    model = NeuralGLM("poisson", learning_rate=1e6, max_epochs=20, device="cpu", random_state=0)
    with pytest.raises(DivergenceError, match=r"diverged at epoch 1\b.*smaller learning_rate"):
        model.fit(X, y)
    with pytest.raises(DivergenceError, match=r"loss is (inf|nan)"):
        NeuralGLM(activation="relu", learning_rate=1e6, device="cpu", random_state=0).fit(X, y)


def test_verbose_shows_a_progress_bar_per_epoch(capsys) -> None:
    cfg = TrainConfig(max_epochs=3, batch_size=32, seed=0, verbose=True)
    train(_Net(), GLMLoss("poisson"), _data(), None, cfg)
    err = capsys.readouterr().err
    assert "3/3" in err and "epoch" in err
    train(_Net(), GLMLoss("poisson"), _data(), None, TrainConfig(max_epochs=3, seed=0))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_epochs": -1}, ValueError, "max_epochs must be >= 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"patience": 0}, ValueError, "patience must be >= 1"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of"),
        ({"lr_schedule": "step"}, ValueError, "lr_schedule must be one of"),
        ({"resume": True}, ValueError, "resume=True needs a checkpoint_path"),
        ({"divergence_factor": 0.5}, ValueError, "divergence_factor must be > 1"),
        ({"device": "cuda:7"}, ValueError, "no CUDA device"),
        ({"device": "tpu"}, ValueError, "device must be 'cpu', 'cuda' or 'cuda:N'"),
    ],
)
def test_bad_config_is_named(kwargs, error, match) -> None:
    if kwargs.get("device", "").startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")  # the message is for machines without one
    with pytest.raises(error, match=match):
        train(_Net(), GLMLoss("poisson"), _data(), None, TrainConfig(**kwargs))


@pytest.mark.gpu
def test_mixed_precision_on_cuda() -> None:
    """Autocast runs the layers in bfloat16 (float16 on older GPUs); loss and weights stay float32."""
    seen: list[torch.dtype] = []
    etas: list[torch.dtype] = []
    model = _Net(dtype=torch.float32)
    model.body[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    model.head.register_forward_hook(lambda m, i, o: etas.append(o.dtype))
    data = _data(n=512, dtype=torch.float32)
    res = train(
        model,
        GLMLoss("poisson"),
        data,
        _data(n=128, seed=1, dtype=torch.float32),
        TrainConfig(max_epochs=5, batch_size=64, learning_rate=0.01, device="cuda", seed=0),
    )
    assert {torch.bfloat16, torch.float16} & set(seen)
    assert set(etas) == {torch.float32}  # the output layer stays in full precision
    assert all(p.dtype == torch.float32 and p.is_cuda for p in model.parameters())
    assert res.best_value < res.start_val  # it learned
    off = _Net(dtype=torch.float32)
    train(
        off,
        GLMLoss("poisson"),
        data,
        None,
        TrainConfig(max_epochs=1, device="cuda", amp=False, seed=0),
    )
    assert all(p.is_cuda for p in off.parameters())


def test_random_state_reproduces_the_fit() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(0.2 + np.sin(X[:, 0])))
    kw = dict(hidden_layer_sizes=(8,), max_epochs=4, device="cpu")
    a = NeuralGLM("poisson", random_state=1, **kw).fit(X, y)
    b = NeuralGLM("poisson", random_state=1, **kw).fit(X, y)
    c = NeuralGLM("poisson", random_state=2, **kw).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))
    assert a.history_.drop(columns="seconds").equals(b.history_.drop(columns="seconds"))
    assert not np.allclose(a.predict(X), c.predict(X), rtol=1e-4)
