"""The hand-written gradients of the chunk-parallel path against autograd, piece by piece."""

import pytest
import torch

from titans.core import MemoryConfig
from titans.core.attentional_bias import bias_loss, bias_output_grad
from titans.core.memory_model import forward_columns, memory_apply, per_token_grads

from .helpers import assert_close


@pytest.mark.parametrize("bias", ["l2", "lp", "huber", "dot"])
def test_bias_gradient_matches_autograd(bias):
    cfg = MemoryConfig(dim=8, bias=bias, p=2.5)
    pred = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    value = torch.randn(3, 5, 8, dtype=torch.float64)
    delta = torch.rand(3, 5, 8, dtype=torch.float64) + 0.2
    (expected,) = torch.autograd.grad(bias_loss(pred, value, delta, cfg).sum(), pred)
    assert_close(bias_output_grad(pred, value, delta, cfg), expected, 1e-12, bias)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_per_token_outer_products_are_the_gradients(depth):
    shapes = MemoryConfig(dim=8, heads=2, memory_depth=depth, expansion=3).layer_shapes
    weights = [torch.randn(2, o, i, dtype=torch.float64, requires_grad=True) for o, i in shapes]
    x = torch.randn(2, 6, 4, dtype=torch.float64)
    upstream = torch.randn(2, 6, 4, dtype=torch.float64)
    out, inputs, pres = forward_columns(weights, x.mT, 1e-5)  # tokens as columns
    assert_close(out.mT, memory_apply(weights, x, 1e-5), 1e-14, "forward")
    dpres = per_token_grads(weights, pres, upstream.mT, 1e-5)
    expected = torch.autograd.grad((memory_apply(weights, x, 1e-5) * upstream).sum(), weights)
    for layer, (dpre, z, grad) in enumerate(zip(dpres, inputs, expected)):
        summed = dpre @ z.mT  # sum over tokens of the rank-one per-token gradients
        assert_close(summed, grad, 1e-12, f"layer {layer}")
