"""The causal depthwise convolution's hand-written backward equals autograd through plain conv1d: outputs,
the cache handed on, and the gradients of input, cache, weight and bias, in float64 at awkward lengths."""

import pytest
import torch
import torch.nn.functional as F

from titans.core.convolution import causal_depthwise_conv


def _naive(x, cache, weight, bias):
    """Zero (or cache) left padding, then conv1d, all through autograd: [B, C, T]."""
    padded = torch.cat([cache.mT, x.mT], dim=-1)
    return F.conv1d(padded, weight[:, None], bias, groups=weight.shape[0])


@pytest.mark.parametrize("kernel_size", [1, 2, 4])
@pytest.mark.parametrize("length", [1, 3, 63, 100])
def test_matches_autograd_through_conv1d(kernel_size, length):
    torch.manual_seed(length + kernel_size)
    batch, channels = 3, 5
    tensors = [
        torch.randn(batch, length, channels, dtype=torch.float64),
        torch.randn(batch, kernel_size - 1, channels, dtype=torch.float64),
        torch.randn(channels, kernel_size, dtype=torch.float64),
        torch.randn(channels, dtype=torch.float64),
    ]
    for t in tensors:
        t.requires_grad_()
    out, new_cache = causal_depthwise_conv(*tensors)
    expected = _naive(*tensors)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    full = torch.cat([tensors[1], tensors[0]], dim=1)
    torch.testing.assert_close(new_cache, full[:, full.shape[1] - (kernel_size - 1) :], rtol=0, atol=0)
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad((out * upstream).sum() + new_cache.square().sum(), tensors, allow_unused=True)
    expected_grads = torch.autograd.grad(
        (expected * upstream).sum() + full[:, full.shape[1] - (kernel_size - 1) :].square().sum(),
        tensors,
        allow_unused=True,
    )
    for got, want in zip(grads, expected_grads, strict=True):
        if want is None:  # kernel 1 keeps no cache, so nothing reaches it
            assert got is None or not got.any()
            continue
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_no_cache_means_zero_left_context():
    torch.manual_seed(0)
    x, weight, bias = torch.randn(2, 7, 3), torch.randn(3, 4), torch.randn(3)
    out, _ = causal_depthwise_conv(x, None, weight, bias)
    torch.testing.assert_close(out, _naive(x, torch.zeros(2, 3, 3), weight, bias))


def test_second_derivatives_are_refused():
    x = torch.randn(1, 6, 2, requires_grad=True)
    out, _ = causal_depthwise_conv(x, None, torch.randn(2, 4), torch.randn(2))
    (grad,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()
