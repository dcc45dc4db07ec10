"""The memory architecture M_W(x): a matrix (depth 1) or the residual MLP of Titans section 3.1,

    M(x) = x + LN(W_L gelu(W_{L-1} ... gelu(W_1 x)))        (depth L >= 2, conference version)

with weights W_l: [N, out_l, in_l] (N = batch x heads) and inputs x: [N, T, in].  The layer norm has
no affine parameters, so each token's gradient with respect to W_l is the rank-one outer product
dpre_l x z_{l-1}; the chunk-parallel path relies on that (`per_token_grads`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def memory_apply(weights: list[Tensor], x: Tensor, ln_eps: float) -> Tensor:
    """M_W(x) for x: [N, T, D] -> [N, T, D]."""
    z = x
    for layer, w in enumerate(weights):
        pre = z @ w.transpose(-1, -2)  # [N, T, out]
        z = F.gelu(pre) if layer < len(weights) - 1 else pre
    return finish(x, z, len(weights), ln_eps)


def finish(x: Tensor, pre_last: Tensor, depth: int, ln_eps: float) -> Tensor:
    """The output of the memory given its last pre-activation: residual + LN for the MLP memory."""
    if depth == 1:
        return pre_last
    return x + F.layer_norm(pre_last, pre_last.shape[-1:], eps=ln_eps)


def _gelu_grad(x: Tensor) -> Tensor:
    """d gelu(x) / dx for the exact (erf) GELU: Phi(x) + x phi(x)."""
    cdf = 0.5 * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))
    pdf = torch.exp(-0.5 * x.square()) * (1.0 / math.sqrt(2.0 * math.pi))
    return cdf + x * pdf


def _layer_norm_backward(pre: Tensor, grad_out: Tensor, ln_eps: float) -> Tensor:
    """Gradient through y = (pre - mean) / sqrt(var + eps) along the last axis."""
    mean = pre.mean(-1, keepdim=True)
    centred = pre - mean
    rstd = torch.rsqrt(centred.square().mean(-1, keepdim=True) + ln_eps)
    normed = centred * rstd
    return rstd * (
        grad_out - grad_out.mean(-1, keepdim=True) - normed * (grad_out * normed).mean(-1, keepdim=True)
    )


def memory_forward_saving(weights: list[Tensor], x: Tensor, ln_eps: float) -> tuple[Tensor, list, list]:
    """M_W(x) and what `per_token_grads` needs: each layer's input z_{l-1} and pre-activation."""
    inputs, pres = [], []
    z = x
    for layer, w in enumerate(weights):
        inputs.append(z)
        pre = z @ w.transpose(-1, -2)  # [N, T, out]
        pres.append(pre)
        if layer < len(weights) - 1:
            z = F.gelu(pre)
    return finish(x, pres[-1], len(weights), ln_eps), inputs, pres


def per_token_grads(
    weights: list[Tensor], pres: list[Tensor], grad_out: Tensor, ln_eps: float
) -> list[Tensor]:
    """Back-propagate d l / d M(x) (grad_out: [N, T, D]) through the memory at fixed weights.

    Returns dpre_l: [N, T, out_l] per layer; token t's gradient of W_l is dpre_l[t] z_{l-1}[t]^T.
    """
    depth = len(weights)
    grad = grad_out if depth == 1 else _layer_norm_backward(pres[-1], grad_out, ln_eps)
    dpres = [grad]
    for layer in range(depth - 1, 0, -1):
        grad = (grad @ weights[layer]) * _gelu_grad(pres[layer - 1])  # [N, T, in_l] = out of layer l-1
        dpres.append(grad)
    return dpres[::-1]
