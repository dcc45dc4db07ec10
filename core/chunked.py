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
Channel-wise gates (one value per output channel r of every layer, MIRAS's channel-wise gates): every row
of a layer's update is its own recurrence, since rows never mix.  With channel_forget or channel_momentum
each row r has its own Gamma, C and m (the row-by-row form, [N, out, c, c] per chunk); with channel_lr
theta_i[r] scales row r of token i's gradient, i.e. dpre[i][r], and C carries no theta (the per-head
products are kept when the other gates are per head).
Only the current chunk's weights (and the gate algebra of a group of 16 chunks) are alive at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .attentional_bias import bias_output_grad
from .config import MemoryConfig
from .memory_model import finish_columns, forward_columns, per_token_grads
from .retention import ChunkStart, start_chunk
from .state import MemoryInputs

_GROUP = 16


def _transfer(log_cum: Tensor) -> Tensor:
    """[..., b] cumulative log-products L -> [..., b, b] with [t, s] = exp(L_t - L_s) for s <= t, else 0."""
    diff = log_cum[..., :, None] - log_cum[..., None, :]
    causal = torch.ones(diff.shape[-2:], dtype=torch.bool, device=diff.device).tril()
    return diff.masked_fill(~causal, float("-inf")).exp()


@dataclass
class _Coefficients:
    """The gate algebra of one chunk of c tokens for a memory layer; it depends on the inputs only, not on
    the memory.  Per-token factors scale the columns (tokens) of the layer's pre-activations: [N, 1, c]
    with per-head forget and momentum gates, [N, out, c] per output channel (channel_forget or
    channel_momentum), where every row has its own decay and momentum and so its own C."""

    gamma: Tensor  # Gamma_t, [N, 1 | out, c]
    coef_theta: Tensor  # C[t, i] theta_i (C alone with channel_lr), [N, c, c] or [N, out, c, c] (lower triangular)
    first_layer_scores: Tensor | None  # per head: C[t, i] theta_i (k_i . q_t), layer 1's dual form, [N, c, c]
    carry: Tensor | None  # m_t, [N, 1 | out, c]; None without momentum
    end_momentum: Tensor | None  # Q[c, i] theta_i (Q[c, i] with channel_lr), [N, 1 | out, c]
    momentum_end: Tensor | None  # E_c, [N, 1 | out, 1]
    lr_rows: Tensor | None = None  # channel_lr: theta_i per output channel, [N, out, c], scaling dpre's rows

    @property
    def per_channel(self) -> bool:
        return self.coef_theta.ndim == 4

    @property
    def end_accumulator(self) -> Tensor:  # C[c, i] theta_i, [N, 1 | out, c]
        return self.coef_theta[..., -1, :] if self.per_channel else self.coef_theta[:, -1:, :]

    def scores(self, z: Tensor, zk: Tensor) -> Tensor:
        """C[t, i] theta_i (zk_i . z_t) for queries z and keys zk ([N, in, c] each): [N, (out,) t, i]."""
        products = z.mT @ zk  # [N, t, i]
        return self.coef_theta * (products[:, None] if self.per_channel else products)


def _gate_algebra(theta: Tensor | None, log_retain: Tensor, log_momentum: Tensor | None) -> list[Tensor | None]:
    """(gamma, coef_theta, carry, end_momentum, momentum_end) of n chunks at once.

    log_retain and log_momentum: [N, n, c] per head or [N, n, out, c] per channel; if either is per channel,
    every factor they shape keeps the row axis (the other broadcasts along it).  theta: [N, n, c], or None
    when the step size is channel-wise (channel_lr), which then scales the gradients' rows instead."""
    rows = log_retain.ndim == 4 or (log_momentum is not None and log_momentum.ndim == 4)
    if rows:  # per-head factors get a row axis of 1
        log_retain = log_retain if log_retain.ndim == 4 else log_retain[:, :, None]
        if log_momentum is not None and log_momentum.ndim == 3:
            log_momentum = log_momentum[:, :, None]
        theta = None if theta is None else theta[:, :, None]
    log_gamma = log_retain.cumsum(-1)  # log Gamma_t
    decay = _transfer(log_gamma)  # P: [N, n, (1 | out,) c, c]
    carry = end_momentum = momentum_end = None
    if log_momentum is None:
        coef = decay
    else:
        log_e = log_momentum.cumsum(-1)  # log E_s
        mom_transfer = _transfer(log_e)  # Q: [N, n, (1 | out,) c, c]
        coef = decay @ mom_transfer  # C = P Q
        carry = (decay @ log_e.exp()[..., None]).mT  # m = P E: [N, n, (1 | out,) 1, c]
        end_momentum = mom_transfer[..., -1, :] if theta is None else mom_transfer[..., -1, :] * theta
        if rows:  # [N, n, 1 | out, c] and E_c: [N, n, 1 | out, 1]
            carry, momentum_end = carry.squeeze(-2), log_e[..., -1:].exp()
        else:  # [N, n, 1, c] and E_c: [N, n, 1, 1]
            end_momentum, momentum_end = end_momentum[..., None, :], log_e[..., -1:, None].exp()
    coef_theta = coef if theta is None else coef * theta[..., None, :]
    gamma = log_gamma.exp() if rows else log_gamma.exp()[..., None, :]
    return [gamma, coef_theta, carry, end_momentum, momentum_end]


def _coefficients(chunks: MemoryInputs, cfg: MemoryConfig) -> list[list[_Coefficients]]:
    """Coefficients of n equal chunks at once; `chunks` fields are [N, n, c, ...].  One list per chunk, of one
    entry per memory layer (the same entry for every layer when every gate is per head)."""
    n = chunks.key.shape[1]
    depth, widths = cfg.memory_depth, [out for out, _ in cfg.layer_shapes]

    def per_layer(gate: Tensor, channel_wise: bool) -> list[Tensor]:
        """A gate as each layer sees it: [N, n, c] per head, or its layer's part [N, n, out, c] per channel."""
        if not channel_wise:
            return [gate] * depth
        return [part.movedim(-1, -2) for part in gate.split(widths, dim=-1)]

    def per_chunk(fields: list[Tensor | None], scores: Tensor | None, lr_rows: Tensor | None) -> list[_Coefficients]:
        # unbind, not indexing: the backward of n indexed slices would build n zero tensors of the whole size.
        gamma, coef_theta, carry, end_momentum, momentum_end = (None if f is None else f.unbind(1) for f in fields)
        scores, lr_rows = (None if t is None else t.unbind(1) for t in (scores, lr_rows))
        return [
            _Coefficients(
                gamma[i], coef_theta[i], None if scores is None else scores[i], None if carry is None else carry[i],
                None if end_momentum is None else end_momentum[i], None if momentum_end is None else momentum_end[i],
                None if lr_rows is None else lr_rows[i],
            )
            for i in range(n)
        ]  # fmt: skip

    # channel_lr: theta stays out of the gate algebra and scales the rows of each token's gradient (dpre).
    theta = None if cfg.channel_lr else chunks.lr  # [N, n, c]
    lr_rows = per_layer(chunks.lr, True) if cfg.channel_lr else [None] * depth
    if not cfg.row_gates:
        fields = _gate_algebra(theta, chunks.log_retain, chunks.log_momentum)
        scores = fields[1] * (chunks.query @ chunks.key.mT)
        if not cfg.channel_lr:
            return [[co] * depth for co in per_chunk(fields, scores, None)]
        layers = [per_chunk(fields, scores, rows) for rows in lr_rows]
    else:
        retains = per_layer(chunks.log_retain, cfg.channel_forget)
        momentum = chunks.log_momentum
        momenta = [None] * depth if momentum is None else per_layer(momentum, cfg.channel_momentum)
        layers = [
            per_chunk(_gate_algebra(theta, retain, mom), None, rows)
            for retain, mom, rows in zip(retains, momenta, lr_rows, strict=True)
        ]
    return [list(chunk) for chunk in zip(*layers)]


def _chunk(
    chunk: MemoryInputs, layer_coefficients: list[_Coefficients], start: ChunkStart, momentum: list[Tensor] | None,
    cfg: MemoryConfig,
) -> tuple[Tensor, list[Tensor] | None, list[Tensor] | None]:  # fmt: skip
    """One chunk: retrieved values [N, D, c] (tokens as columns) and, for a whole chunk, the accumulators
    and momentum at its end."""
    eps = cfg.layer_norm_eps
    key, query = chunk.key.mT, chunk.query.mT  # [N, D, c]
    delta = None if chunk.delta is None else chunk.delta.mT
    # Keys at the chunk-start weights: every token's gradient at once (Titans eq. 17, layer by layer).
    pred, key_inputs, pres = forward_columns(start.weights, key, eps)
    grad_out = bias_output_grad(pred, chunk.value.mT, delta, cfg)  # [N, D, c]
    dpres = per_token_grads(start.weights, pres, grad_out, eps)  # [N, out_l, c] per layer
    # channel_lr: theta_i[r] scales row r of token i's gradient dpre_i z_i^T, i.e. the entries of dpre.
    dpres = [dpre if co.lr_rows is None else dpre * co.lr_rows for dpre, co in zip(dpres, layer_coefficients)]
    layers = list(zip(start.accumulators, key_inputs, dpres, layer_coefficients, strict=True))

    # Queries: dual form, layer by layer.
    if cfg.retention == "kl":
        y = forward_columns(start.weights, query, eps)[0]
    else:
        z = query
        for layer, (acc0, zk, dpre, co) in enumerate(layers):
            if co.per_channel:  # every row r has its own Gamma, m and C
                pre = (acc0 @ z) * co.gamma  # Gamma_t[r] (A_0 z_t)[r]: [N, out, c]
                if momentum is not None:
                    pre = torch.addcmul(pre, momentum[layer] @ z, co.carry)  # + m_t[r] (S_0 z_t)[r]
                pre = pre - (co.scores(z, zk) @ dpre[..., None]).squeeze(-1)  # - sum_i C[r, t, i] (...) dpre_i[r]
            else:  # per-token factors scale the (fewer) input columns before the product
                pre = acc0 @ (z * co.gamma)  # Gamma_t A_0 z_t: [N, out, c]
                if momentum is not None:
                    pre = torch.baddbmm(pre, momentum[layer], z * co.carry)  # + m_t S_0 z_t
                scores = co.first_layer_scores if layer == 0 else co.scores(z, zk)  # [N, t, i]
                pre = torch.baddbmm(pre, dpre, scores.mT, alpha=-1)  # - sum_i C[t, i] theta_i (z_i . z_t) dpre_i
            if start.scales is not None:
                pre = pre * start.scales[layer]
            z = F.gelu(pre) if layer < len(layers) - 1 else pre
        y = finish_columns(query, pre, len(layers), eps)

    if chunk.length < cfg.chunk_size:
        return y, None, None
    new_acc, new_mom = [], []
    for layer, (acc0, zk, dpre, co) in enumerate(layers):
        base = co.gamma[..., -1:] * acc0  # Gamma_c A_0, row by row with channel_forget
        if momentum is not None:
            s0 = momentum[layer]
            base = torch.addcmul(base, co.carry[..., -1:], s0)
            new_mom.append(torch.baddbmm(co.momentum_end * s0, dpre * co.end_momentum, zk.mT, alpha=-1))
        new_acc.append(torch.baddbmm(base, dpre * co.end_accumulator, zk.mT, alpha=-1))  # [N, out, in]
    return y, new_acc, None if momentum is None else new_mom


def _by_chunk(inputs: MemoryInputs, size: int) -> MemoryInputs:
    """Fields [N, n * size, ...] -> [N, n, size, ...]."""
    return inputs.map_fields(lambda t: t.reshape(t.shape[0], -1, size, *t.shape[2:]))


def single_chunk(
    chunk: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor] | None, list[Tensor] | None]:
    """One chunk on its own (at most chunk_size tokens, starting at a chunk boundary with this memory and
    momentum): retrieved values [N, D, c] and, for a whole chunk, the memory and momentum at its end.
    The Triton backend's backward pass recomputes each chunk with it."""
    coefficients = _coefficients(_by_chunk(chunk, chunk.length), cfg)[0]
    return _chunk(chunk, coefficients, start_chunk(memory, cfg), momentum, cfg)


def chunked_recurrence(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Same contract as `reference.reference_recurrence`."""
    b = cfg.chunk_size
    acc, mom = memory, momentum
    boundary = (acc, mom)
    outputs = []
    # The gate algebra of _GROUP chunks is computed in one go: few large operations, bounded memory (one
    # chunk at a time with channel-wise forget or momentum gates, whose algebra is out_l times larger).
    for group in inputs.split((1 if cfg.row_gates else _GROUP) * b):
        full = group.length - group.length % b
        coefficients = []
        for part in (group.slice(0, full), group.slice(full, group.length)):
            if part.length:
                coefficients += _coefficients(_by_chunk(part, min(b, part.length)), cfg)
        for chunk, co in zip(group.split(b), coefficients, strict=True):
            start = start_chunk(acc, cfg)
            boundary = (start.accumulators, mom)
            y, acc, end_mom = _chunk(chunk, co, start, mom, cfg)
            outputs.append(y)
            if acc is not None:
                mom = end_mom
                boundary = (acc, mom)
    return torch.cat(outputs, dim=-1).mT, *boundary
