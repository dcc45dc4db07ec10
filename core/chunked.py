"""Chunk-parallel memory recurrence (`backend="chunked"`): the same math as `reference.py`, one chunk of
b tokens at a time with matrix products only.

Inside a chunk every gradient is taken at the chunk-start weights W_{t'} (Titans eq. 16), so:
- per-token gradients are rank-one outer products dpre_l[i] z_{l-1}[i]^T, got by one analytic backward
  pass over the whole chunk (`memory_model.per_token_grads`), never by per-token autograd;
- momentum and decay are linear recurrences inside the chunk (Titans eq. 18), solved in closed form:
      A_t = Gamma_t A_0 + m_t S_0 - sum_{i<=t} C[t, i] theta_i dpre[i] z[i]^T
  with Gamma_t = prod_{j<=t} (1 - alpha_j), P[t, s] = Gamma_t / Gamma_s, Q[s, i] = prod_{i<j<=s} eta_j,
  C = P Q and m = P E (E_s = prod_{j<=s} eta_j); without momentum C = P and m = 0;
- within-chunk retrieval y_t = M_{A_t}(q_t) uses the dual form (as TTT does): layer by layer,
      A_t zq_t = Gamma_t A_0 zq_t + m_t S_0 zq_t - sum_i C[t, i] theta_i dpre[i] (z[i] . zq_t),
  a masked b x b matrix product, so per-token weights are never formed.
Only the current chunk's weights are alive at any time, so inference memory does not grow with T.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .attentional_bias import bias_output_grad
from .config import MemoryConfig
from .memory_model import finish, memory_apply, memory_forward_saving, per_token_grads
from .retention import ChunkStart, start_chunk
from .state import MemoryInputs


def _transfer(log_cum: Tensor) -> Tensor:
    """[..., b] cumulative log-products L -> [..., b, b] with [t, s] = exp(L_t - L_s) for s <= t, else 0."""
    diff = log_cum[..., :, None] - log_cum[..., None, :]
    causal = torch.ones(diff.shape[-2:], dtype=torch.bool, device=diff.device).tril()
    return diff.masked_fill(~causal, float("-inf")).exp()


def _chunk(
    chunk: MemoryInputs, start: ChunkStart, momentum: list[Tensor] | None, cfg: MemoryConfig, need_end: bool
) -> tuple[Tensor, list[Tensor] | None, list[Tensor] | None]:
    """One chunk: retrieved values [N, c, D] and (if need_end) the accumulators and momentum at its end."""
    eps = cfg.layer_norm_eps
    theta = chunk.lr  # [N, c]
    log_gamma = chunk.log_retain.cumsum(-1)  # [N, c]: log Gamma_t
    decay = _transfer(log_gamma)  # P: [N, c, c]
    if momentum is None:
        coef = decay
    else:
        log_e = chunk.log_momentum.cumsum(-1)  # [N, c]: log E_s
        mom_transfer = _transfer(log_e)  # Q: [N, c, c]
        coef = decay @ mom_transfer  # C = P Q
        carry = decay @ log_e.exp()[..., None]  # m: [N, c, 1]
    coef_theta = coef * theta[:, None, :]  # C[t, i] theta_i

    # Keys at the chunk-start weights: every token's gradient at once (Titans eq. 17, layer by layer).
    pred, key_inputs, pres = memory_forward_saving(start.weights, chunk.key, eps)
    grad_out = bias_output_grad(pred, chunk.value, chunk.delta, cfg)  # [N, c, D]
    dpres = per_token_grads(start.weights, pres, grad_out, eps)  # [N, c, out_l] per layer

    # Queries: dual form, layer by layer.
    if cfg.retention == "kl":
        y = memory_apply(start.weights, chunk.query, eps)
    else:
        gamma = log_gamma.exp()[..., None]  # [N, c, 1]
        z = chunk.query
        depth = len(start.weights)
        for layer, (acc0, zk, dpre) in enumerate(zip(start.accumulators, key_inputs, dpres)):
            pre = gamma * (z @ acc0.transpose(-1, -2))  # [N, c, out]
            if momentum is not None:
                pre = pre + carry * (z @ momentum[layer].transpose(-1, -2))
            pre = pre - (coef_theta * (z @ zk.transpose(-1, -2))) @ dpre
            if start.scales is not None:
                pre = pre * start.scales[layer]
            z = F.gelu(pre) if layer < depth - 1 else pre
        y = finish(chunk.query, pre, depth, eps)

    if not need_end:
        return y, None, None
    end_coef = coef_theta[:, -1, :, None]  # [N, c, 1]
    gamma_end = log_gamma[:, -1, None, None].exp()  # [N, 1, 1]
    new_acc = []
    for layer, (acc0, zk, dpre) in enumerate(zip(start.accumulators, key_inputs, dpres)):
        acc = gamma_end * acc0 - dpre.transpose(-1, -2) @ (end_coef * zk)  # [N, out, in]
        if momentum is not None:
            acc = acc + carry[:, -1, :, None] * momentum[layer]
        new_acc.append(acc)
    if momentum is None:
        return y, new_acc, None
    mom_coef = (mom_transfer[:, -1, :] * theta)[..., None]  # [N, c, 1]
    e_end = log_e[:, -1, None, None].exp()
    new_mom = [
        e_end * s0 - dpre.transpose(-1, -2) @ (mom_coef * zk)
        for s0, zk, dpre in zip(momentum, key_inputs, dpres)
    ]
    return y, new_acc, new_mom


def chunked_recurrence(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Same contract as `reference.reference_recurrence`."""
    acc, mom = memory, momentum
    boundary = (acc, mom)
    outputs = []
    for c0 in range(0, inputs.length, cfg.chunk_size):
        start = start_chunk(acc, cfg)
        boundary = (start.accumulators, mom)
        need_end = c0 + cfg.chunk_size <= inputs.length
        y, acc, mom = _chunk(inputs.slice(c0, c0 + cfg.chunk_size), start, mom, cfg, need_end)
        outputs.append(y)
        if need_end:
            boundary = (acc, mom)
    return torch.cat(outputs, dim=1), *boundary
