"""The memory architecture M_W(x): a matrix (depth 1) or the residual MLP of Titans section 3.1,

    M(x) = x + LN(W_L gelu(W_{L-1} ... gelu(W_1 x)))        (depth L >= 2, conference version)

with weights W_l: [N, out_l, in_l] (N = batch x heads).  The layer norm has no affine parameters, so each
token's gradient with respect to W_l is the rank-one outer product dpre_l z_{l-1}^T; the chunk-parallel
path relies on that (`per_token_grads`).

Two forms of the same function:
- `memory_apply`: tokens as rows, x: [N, T, D], plain torch ops; used by the reference and for plain reads.
- `forward_columns` / `per_token_grads`: tokens as columns, x: [N, D, T], used by the chunked path.  In
  this layout every product is W @ Z with W untransposed, so autograd hands back each weight's gradient
  contiguous (adding up the gradients of a weight's several uses stays a dense add) and no activation
  is ever transposed and copied.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def memory_apply(weights: list[Tensor], x: Tensor, ln_eps: float) -> Tensor:
    """M_W(x) for x: [N, T, D] -> [N, T, D]."""
    z = x
    for layer, w in enumerate(weights):
        pre = z @ w.mT  # [N, T, out]
        z = F.gelu(pre) if layer < len(weights) - 1 else pre
    if len(weights) == 1:
        return pre
    return x + F.layer_norm(pre, pre.shape[-1:], eps=ln_eps)


def _layer_norm_stats(pre: Tensor, ln_eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Layer norm over the feature axis of pre: [N, D, T], no affine: (normalised [N, D, T], mean, rstd)."""
    normed, mean, rstd = torch.native_layer_norm(pre.mT, pre.shape[-2:-1], None, None, ln_eps)
    return normed.mT, mean, rstd


def layer_norm_columns(pre: Tensor, ln_eps: float) -> Tensor:
    """Layer norm over the feature axis of pre: [N, D, T], no affine."""
    return _layer_norm_stats(pre, ln_eps)[0]


def finish_columns(x: Tensor, pre_last: Tensor, depth: int, ln_eps: float) -> Tensor:
    """The memory's output from its last pre-activation: the matrix memory's own, or x + LN(.) for the MLP."""
    return pre_last if depth == 1 else x + layer_norm_columns(pre_last, ln_eps)


def forward_columns(weights: list[Tensor], x: Tensor, ln_eps: float) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """M_W(x) for x: [N, D, T], with what `per_token_grads` needs: each layer's input and pre-activation."""
    inputs, pres = [], []
    z = x
    for layer, w in enumerate(weights):
        inputs.append(z)
        pres.append(w @ z)  # [N, out, T]
        if layer < len(weights) - 1:
            z = F.gelu(pres[-1])
    return finish_columns(x, pres[-1], len(weights), ln_eps), inputs, pres


def per_token_grads(weights: list[Tensor], pres: list[Tensor], grad_out: Tensor, ln_eps: float) -> list[Tensor]:
    """Back-propagate d l / d M(x) (grad_out: [N, D, T]) through the memory at fixed weights.

    Returns dpre_l: [N, out_l, T] per layer; token t's gradient of W_l is dpre_l[:, t] z_{l-1}[:, t]^T.
    The layer norm and GELU steps are aten's fused backward kernels, which are themselves differentiable,
    so the outer loss still differentiates through them.
    """
    grad = grad_out
    if len(weights) > 1:
        _, mean, rstd = _layer_norm_stats(pres[-1], ln_eps)
        mask = [True, False, False]
        grad = torch.ops.aten.native_layer_norm_backward(
            grad.mT, pres[-1].mT, pres[-1].shape[-2:-1], mean, rstd, None, None, mask
        )[0].mT
    dpres = [grad]
    for layer in range(len(weights) - 1, 0, -1):
        # W_l^T dpre, written as (dpre^T W_l)^T so that W_l stays an untransposed operand.
        grad = torch.ops.aten.gelu_backward((grad.mT @ weights[layer]).mT, pres[layer - 1])  # [N, in_l, T]
        dpres.append(grad)
    return dpres[::-1]
