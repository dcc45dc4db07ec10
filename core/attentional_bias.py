"""Attentional biases: the inner loss l(M; k, v) the memory minimises at test time (MIRAS section 3).

Each bias is given twice: `bias_loss` (a plain loss, differentiated by autograd in the token-by-token
reference) and `bias_output_grad` (its gradient with respect to the memory output M(k), written out for
the chunk-parallel path). Tests check that the two agree to float64 precision.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .config import MemoryConfig


def bias_loss(pred: Tensor, value: Tensor, delta: Tensor | None, cfg: MemoryConfig) -> Tensor:
    """l(M; k, v) summed over channels.  pred = M(k), value = v: [..., D]; delta: [..., D] (huber only)."""
    err = pred - value
    if cfg.bias == "l2":
        return err.square().sum(-1)  # Titans eq. 12
    if cfg.bias == "lp":
        # ||e||_p^p with the smooth |x| ~ sqrt(x^2 + eps) of MIRAS (Moneta, eq. 25).
        return (err.square() + cfg.lp_eps).pow(cfg.p / 2).sum(-1)
    if cfg.bias == "huber":
        # Channel-wise Huber loss, continuous with the l2 bias inside |e| <= delta (MIRAS eq. 26, Yaad).
        assert delta is not None
        inside = err.abs() <= delta
        return torch.where(inside, err.square(), 2 * delta * err.abs() - delta.square()).sum(-1)
    return -(pred * value).sum(-1)  # "dot": linear attention, grad = -v k^T


def bias_output_grad(pred: Tensor, value: Tensor, delta: Tensor | None, cfg: MemoryConfig) -> Tensor:
    """d l / d M(k), the same shape as `pred`: [..., D]."""
    err = pred - value
    if cfg.bias == "l2":
        return 2 * err
    if cfg.bias == "lp":
        # p * Sign(e) * |e|^(p-1) with the smooth sign e / sqrt(e^2 + eps) induced by the smooth |e|.
        return cfg.p * err * (err.square() + cfg.lp_eps).pow(cfg.p / 2 - 1)
    if cfg.bias == "huber":
        assert delta is not None
        return 2 * torch.minimum(torch.maximum(err, -delta), delta)
    return -value
