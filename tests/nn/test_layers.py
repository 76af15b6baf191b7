"""GLMHead, TabularInput, mlp and the He/Xavier initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from glmlib.nn import GLMHead, TabularInput, init_weights, mlp


@pytest.mark.parametrize(
    ("activation", "fan_in", "fan_out", "variance"),
    [
        ("relu", 1000, 800, 2.0 / 1000),  # He: Var = 2 / fan_in
        ("gelu", 600, 1200, 2.0 / 600),
        ("tanh", 1000, 500, 2.0 / 1500),  # Xavier: Var = 2 / (fan_in + fan_out)
        ("identity", 300, 900, 2.0 / 1200),
    ],
)
def test_initial_weight_variance(activation, fan_in, fan_out, variance) -> None:
    """Sample variance of >= 3e5 draws within 3 % (the estimate's relative sd is <= 0.26 %)."""
    net = mlp(fan_in, (fan_out,), activation)
    init_weights(net, activation, torch.Generator().manual_seed(0))
    w = net[0].weight.detach().double()
    assert abs(float(w.mean())) < 5 * np.sqrt(variance / w.numel())
    np.testing.assert_allclose(float(w.var()), variance, rtol=0.03)
    assert torch.count_nonzero(net[0].bias) == 0


def test_init_is_reproducible_and_leaves_the_global_rng_alone() -> None:
    a, b = mlp(5, (7, 3), "relu"), mlp(5, (7, 3), "relu")  # construction draws globally
    state = torch.get_rng_state()
    init_weights(a, "relu", torch.Generator().manual_seed(1))
    init_weights(b, "relu", torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_mlp_layers_and_bad_activation() -> None:
    net = mlp(4, (8, 2), "tanh")
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh]
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    assert len(mlp(4, (), "relu")) == 0
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp(4, (8,), "swish")
    with pytest.raises(ValueError, match="unknown activation"):
        init_weights(net, "swish")


def test_glm_head_is_a_linear_predictor_and_inverse_link() -> None:
    head = GLMHead(3, "poisson")
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[0.5, -1.0, 2.0]]))
        head.linear.bias.fill_(0.25)
    h = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    off = torch.tensor([0.0, 1.0])
    eta = head(h, off)
    np.testing.assert_allclose(eta.detach().numpy(), [0.25 + 0.5 - 2 + 6, 1.25], rtol=1e-6)
    np.testing.assert_allclose(head.mean(eta).detach().numpy(), np.exp(eta.detach().numpy()))
    head.zero_()
    assert torch.equal(head(h, off), off)
    assert GLMHead(2, "binomial", link="probit").family.link.name == "probit"


def test_tabular_input_concatenates_numeric_and_embeddings() -> None:
    layer = TabularInput(2, [3, 5], [2, 4])
    assert layer.out_features == 8
    x_num = torch.randn(6, 2)
    x_cat = torch.tensor([[0, 4], [1, 0], [2, 3], [0, 0], [1, 1], [2, 2]])
    out = layer(x_num, x_cat)
    assert out.shape == (6, 8)
    assert torch.equal(out[:, :2], x_num)
    assert torch.equal(out[:, 2:4], layer.embeddings[0].weight[x_cat[:, 0]])
    assert torch.equal(out[:, 4:], layer.embeddings[1].weight[x_cat[:, 1]])
    assert torch.equal(TabularInput(2, [], [])(x_num, x_cat[:, :0]), x_num)
    with pytest.raises(ValueError, match="one embedding width"):
        TabularInput(2, [3], [])


def test_output_layers_stay_in_float32_under_autocast() -> None:
    """bfloat16 autocast (on the CPU here): hidden layers in bfloat16, eta and beta(x) in float32."""
    from glmlib.nn.local_glmnet import LocalGLMNet

    body, head = mlp(3, (4,), "tanh"), GLMHead(4, "poisson")
    x = torch.randn(5, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = body(x)
        eta = head(h, torch.zeros(5))
        net = LocalGLMNet(3, [], [], (4,), "tanh", 3)
        beta = net.coefficients(x, torch.zeros(5, 0, dtype=torch.int64))
        eta_local = net(x, torch.zeros(5, 0, dtype=torch.int64), x)
    assert h.dtype == torch.bfloat16
    assert eta.dtype == beta.dtype == eta_local.dtype == torch.float32
