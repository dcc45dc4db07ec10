"""The short causal depthwise convolution before the memory's q, k, v (Titans section 4.4), also the CNN
baseline's mixer, with a backward pass written for CPU speed.

Autograd's own backward of a depthwise conv1d is slow on CPU at the shapes used here: many short sequences
(forecasting patches, 12 tokens, 896 x 192 channels: 42 ms against 9 ms forward) and long ones alike.  The
backward below computes the same two gradients in about a fifth of that:
- input: dP[b, c, t + j] += dY[b, c, t] w[c, j], one in-place product per tap (K passes over dY);
- weight: dw[c, j] = sum_b sum_t dY[b, c, t] P[b, c, t + j], a cross-correlation of each (sequence, channel)
  row of P with its row of dY, i.e. a depthwise conv1d with dY as the filters, summed over the batch.
`tests/core/test_convolution.py` holds it to autograd through plain conv1d, outputs and gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


class _DepthwiseConv(torch.autograd.Function):
    """conv1d(padded [B, C, K - 1 + T], weight [C, K], bias [C], groups=C) -> [B, C, T], no padding."""

    @staticmethod
    def forward(ctx, padded: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(padded, weight)
        return F.conv1d(padded, weight[:, None], bias, groups=weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        padded, weight = ctx.saved_tensors
        (batch, channels, length), kernel_size = grad.shape, weight.shape[1]
        grad = grad.contiguous()
        grad_padded = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_padded = torch.zeros_like(padded)
            for j in range(kernel_size):
                grad_padded[..., j : j + length].addcmul_(grad, weight[:, j, None])
        if ctx.needs_input_grad[1]:
            rows = padded.reshape(1, batch * channels, -1)  # each (sequence, channel) row is its own group
            grad_weight = F.conv1d(rows, grad.reshape(batch * channels, 1, length), groups=batch * channels)
            grad_weight = grad_weight.view(batch, channels, kernel_size).sum(0)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2))
        return grad_padded, grad_weight, grad_bias


def causal_depthwise_conv(x: Tensor, cache: Tensor | None, weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """Depthwise causal convolution of x [B, T, C] with kernel weight [C, K], continuing from `cache` (the
    previous K - 1 inputs, zeros when None); returns (output channels first, [B, C, T], the cache to continue
    from).  Channels first is conv1d's own layout: elementwise work that follows is fastest in it on CPU."""
    channels, kernel_size = weight.shape
    if cache is None:
        cache = x.new_zeros(x.shape[0], kernel_size - 1, channels)
    padded = torch.cat([cache.mT, x.mT], dim=-1)  # causal: left context only, [B, C, K - 1 + T]
    if torch.is_autocast_enabled(x.device.type):  # conv1d runs in autocast's dtype: so do the saved operands
        dtype = torch.get_autocast_dtype(x.device.type)
        padded, weight, bias = padded.to(dtype), weight.to(dtype), bias.to(dtype)
    mixed = _DepthwiseConv.apply(padded, weight, bias)  # [B, C, T]
    return mixed, padded[..., padded.shape[-1] - (kernel_size - 1) :].mT
