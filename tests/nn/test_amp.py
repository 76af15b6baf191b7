"""Mixed-precision training (``TrainConfig(amp=...)``, the book's Listing 8.1 in current PyTorch).

* ``amp="bfloat16"`` autocasts on the CPU: the hidden layers compute in
  bfloat16, the GLM head (eta) and the parameters stay float32, no gradient
  scaler is used, and the run learns; its validation deviance is within 2 %
  of the float32 run's (same seed, same batches).
* ``amp=False`` / ``None`` / ``True`` on the CPU train in float32 throughout,
  and give identical weights.
* ``amp="float16"`` uses a GradScaler (its state is in the checkpoint with a
  scale other than the disabled scaler's) and, on CPU, autocasts in float16.
* Bad values are a ValueError naming ``amp``, in ``train`` and ``evaluate``.
* On CUDA (gpu): float16 with a GradScaler learns and keeps float32 weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from glmlib.nn import GLMHead, GLMLoss, TrainConfig, evaluate, init_weights, mlp, train


class _Net(nn.Module):
    def __init__(self, p: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.body = mlp(p, (16, 8), "tanh")
        self.head = GLMHead(8, "poisson")
        init_weights(self, "tanh", torch.Generator().manual_seed(seed))

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x), offset)


def _data(n: int = 1024, p: int = 4, seed: int = 0) -> TensorDataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    off = np.log(rng.uniform(0.5, 1.0, n))
    y = rng.poisson(np.exp(off + 0.3 + np.sin(X[:, 0]) + 0.5 * X[:, 1]))
    w = rng.uniform(0.5, 2.0, n)
    return TensorDataset(*(torch.as_tensor(a, dtype=torch.float32) for a in (X, off, y, w)))


def _run(amp, device="cpu", epochs=8, hooks=None):
    model = _Net().to(device)
    seen: list[torch.dtype] = []
    etas: list[torch.dtype] = []
    model.body[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    model.head.register_forward_hook(lambda m, i, o: etas.append(o.dtype))
    res = train(
        model,
        GLMLoss("poisson"),
        _data(),
        _data(n=256, seed=1),
        TrainConfig(
            max_epochs=epochs, batch_size=64, learning_rate=0.01, device=device, amp=amp, seed=0
        ),
    )
    return model, res, set(seen), set(etas)


def test_bfloat16_autocast_on_cpu_learns_in_bfloat16_with_float32_head():
    model, res, seen, etas = _run("bfloat16")
    ref_model, ref, ref_seen, _ = _run(False)
    assert seen == {torch.bfloat16}
    assert ref_seen == {torch.float32}
    assert etas == {torch.float32}  # the GLM head runs outside autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert res.best_value < res.start_val  # it learned
    # bfloat16 keeps 8 significant bits; after training the deviance is within 2 % of float32's.
    assert abs(res.best_value - ref.best_value) <= 0.02 * ref.best_value
    # ... but the weights are not those of the float32 run: the autocast did something.
    assert not all(
        torch.equal(a, b) for a, b in zip(model.parameters(), ref_model.parameters(), strict=True)
    )


@pytest.mark.parametrize("amp", [None, True])
def test_no_autocast_on_cpu_unless_a_dtype_is_named(amp):
    model, _, seen, _ = _run(amp, epochs=2)
    ref, _, _, _ = _run(False, epochs=2)
    assert seen == {torch.float32}
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), ref.parameters(), strict=True))


def test_float16_uses_a_grad_scaler(tmp_path):
    path = tmp_path / "ckpt.pt"
    model = _Net()
    seen: list[torch.dtype] = []
    model.body[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    cfg = TrainConfig(
        max_epochs=2,
        batch_size=64,
        learning_rate=0.01,
        amp="float16",
        seed=0,
        checkpoint_path=path,
    )
    res = train(model, GLMLoss("poisson"), _data(), None, cfg)
    assert torch.float16 in set(seen)
    scaler = torch.load(path, weights_only=False)["scaler"]
    assert scaler and scaler["scale"] > 0  # an enabled scaler has state; a disabled one has none
    assert np.isfinite(res.history[-1]["train_deviance"])
    off = tmp_path / "off.pt"
    train(
        _Net(),
        GLMLoss("poisson"),
        _data(),
        None,
        TrainConfig(max_epochs=1, seed=0, amp="bfloat16", checkpoint_path=off),
    )
    assert not torch.load(off, weights_only=False)["scaler"]


@pytest.mark.parametrize("bad", ["fp16", "float32", 16, torch.bfloat16])
def test_bad_amp_is_named(bad):
    with pytest.raises(ValueError, match="amp must be"):
        train(_Net(), GLMLoss("poisson"), _data(n=64), None, TrainConfig(max_epochs=1, amp=bad))
    if isinstance(bad, str):
        with pytest.raises(ValueError, match="amp must be"):
            evaluate(_Net(), GLMLoss("poisson"), _data(n=64), amp=bad)


def test_evaluate_in_bfloat16_is_close_to_float32():
    model, data = _Net(), _data(n=512)
    full = evaluate(model, GLMLoss("poisson"), data, amp=False)
    half = evaluate(model, GLMLoss("poisson"), data, amp="bfloat16")
    assert half != full
    assert abs(half - full) <= 0.01 * full


@pytest.mark.gpu
def test_float16_on_cuda_learns_with_float32_weights():
    model, res, seen, etas = _run("float16", device="cuda")
    assert seen == {torch.float16}
    assert etas == {torch.float32}
    assert all(p.dtype == torch.float32 and p.is_cuda for p in model.parameters())
    assert res.best_value < res.start_val
