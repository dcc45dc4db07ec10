"""The fused forward kernel of the chunked memory recurrence: l2 bias, decay retention, momentum on or off,
a matrix (depth 1) or MLP (depth 2) memory. The math is `chunked.py`'s, one chunk of c tokens at a time
with tokens as rows:

- one program per sequence x head (N) walks the chunks, its memory weights W_l and momentum S_l kept
  on-chip as loop-carried fp32 values (fp64 for fp64 inputs);
- per chunk: the keys' forward at the chunk-start weights and each token's analytic gradient
  (Titans eq. 12, 16-17), the gate algebra (Titans eq. 13-14, 18: cumulative log-products, transfer
  matrices P and Q, C = P Q, carry m = P E), the queries' retrieval in the dual form and, for a whole
  chunk, the memory and momentum at its end;
- a last partial chunk is masked: its padded tokens have theta 0, log(1 - alpha) 0 and log eta 0, so
  they change nothing, and the state handed back is the one at the last whole-chunk boundary;
- padded feature columns (head dim D and hidden width H up to powers of two >= 16) are zero throughout.

With `save_states` the kernel also writes the state at the start of every chunk, [N, n_chunks, out, in]
per weight (and per momentum) in the compute dtype, for the backward pass: n_chunks x (the state's size)
extra memory, e.g. 4 bytes x N x (T / c) x 2 H D x 2 for the depth-2 memory with momentum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..config import MemoryConfig
from ..state import MemoryInputs
from .primitives import (
    causal_transfer,
    gelu,
    gelu_grad,
    last_entry,
    last_row,
    layer_norm_backward_rows,
    layer_norm_rows,
    load_matrix,
    mm,
    store_matrix,
)
from .support import interpreter_enabled, padded_width


@triton.jit
def chunked_memory_forward_kernel(
    query_ptr, key_ptr, value_ptr,  # [N, T, D]
    lr_ptr, log_retain_ptr, log_momentum_ptr,  # theta, log(1 - alpha), log eta: [N, T]
    w1_ptr, w2_ptr, s1_ptr, s2_ptr,  # memory and momentum at the start: W_1 [N, H, D], W_2 [N, D, H]
    y_ptr,  # retrieved values [N, T, D]
    w1_out_ptr, w2_out_ptr, s1_out_ptr, s2_out_ptr,  # ... at the last whole-chunk boundary
    w1_saved_ptr, w2_saved_ptr, s1_saved_ptr, s2_saved_ptr,  # ... at every chunk start: [N, n_chunks, ...]
    length, n_chunks,
    D: tl.constexpr, H: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_H: tl.constexpr, CHUNK: tl.constexpr,
    DEPTH: tl.constexpr, MOMENTUM: tl.constexpr, SAVE_STATES: tl.constexpr, LN_EPS: tl.constexpr,
    COMPUTE: tl.constexpr, OPERAND: tl.constexpr, EMULATE_HALF: tl.constexpr,
):  # fmt: skip
    # Depth 1: W_1 = W is [D, D] and H = D. Depth 2: W_1 [H, D], W_2 [D, H].
    n = tl.program_id(0).to(tl.int64)
    tokens = tl.arange(0, CHUNK)
    feats = tl.arange(0, BLOCK_D)
    hidden = tl.arange(0, BLOCK_H)
    feature_mask = feats < D
    last = CHUNK - 1
    layer_size = H * D  # elements of W_1 (and of W_2)
    w1 = load_matrix(w1_ptr + n * layer_size, hidden, feats, H, D, COMPUTE)  # [BH, BD]
    if DEPTH == 2:
        w2 = load_matrix(w2_ptr + n * layer_size, feats, hidden, D, H, COMPUTE)  # [BD, BH]
    if MOMENTUM:
        s1 = load_matrix(s1_ptr + n * layer_size, hidden, feats, H, D, COMPUTE)  # [BH, BD]
        if DEPTH == 2:
            s2 = load_matrix(s2_ptr + n * layer_size, feats, hidden, D, H, COMPUTE)  # [BD, BH]

    for chunk in range(n_chunks):
        if SAVE_STATES:
            saved = (n * n_chunks + chunk) * layer_size
            store_matrix(w1_saved_ptr + saved, w1, hidden, feats, H, D)
            if DEPTH == 2:
                store_matrix(w2_saved_ptr + saved, w2, feats, hidden, D, H)
            if MOMENTUM:
                store_matrix(s1_saved_ptr + saved, s1, hidden, feats, H, D)
                if DEPTH == 2:
                    store_matrix(s2_saved_ptr + saved, s2, feats, hidden, D, H)

        rows = chunk * CHUNK + tokens  # positions in the sequence
        token_mask = rows < length
        io_mask = token_mask[:, None] & feature_mask[None, :]
        io_offsets = n * length * D + rows[:, None] * D + feats[None, :]
        query = tl.load(query_ptr + io_offsets, mask=io_mask, other=0.0).to(COMPUTE)  # [c, BD]
        key = tl.load(key_ptr + io_offsets, mask=io_mask, other=0.0).to(COMPUTE)  # [c, BD]
        value = tl.load(value_ptr + io_offsets, mask=io_mask, other=0.0).to(COMPUTE)  # [c, BD]
        gate_offsets = n * length + rows
        theta = tl.load(lr_ptr + gate_offsets, mask=token_mask, other=0.0).to(COMPUTE)  # [c]
        log_retain = tl.load(log_retain_ptr + gate_offsets, mask=token_mask, other=0.0).to(COMPUTE)  # [c]

        # Keys at the chunk-start weights, and every token's gradient of the l2 bias (Titans eq. 12, 16-17):
        # grad_W_l l = dpre_l z_{l-1}^T per token, dpre_l of the last layer from dl/dM(k) = 2 (M(k) - v).
        pre1 = mm(key, tl.trans(w1), OPERAND, EMULATE_HALF)  # [c, BH]
        if DEPTH == 1:
            dpre1 = 2.0 * (pre1 - value)  # [c, BD]
        else:
            hid = gelu(pre1)  # z_1 of the keys: [c, BH]
            pre2 = mm(hid, tl.trans(w2), OPERAND, EMULATE_HALF)  # [c, BD]
            normed, rstd = layer_norm_rows(pre2, feature_mask, D, LN_EPS)
            grad_out = 2.0 * (key + normed - value)  # M(k) = k + LN(pre2)
            dpre2 = layer_norm_backward_rows(grad_out, normed, rstd, feature_mask, D)  # [c, BD]
            dpre1 = mm(dpre2, w2, OPERAND, EMULATE_HALF) * gelu_grad(pre1)  # [c, BH]

        # Gate algebra (Titans eq. 13, 18): Gamma_t = prod_{j<=t} (1 - alpha_j), P[t, s] = Gamma_t / Gamma_s.
        log_gamma = tl.cumsum(log_retain, axis=0)  # [c]
        gamma = tl.exp(log_gamma)  # [c]
        decay = causal_transfer(log_gamma, tokens, tokens)  # P: [c, c]
        if MOMENTUM:
            # E_s = prod_{j<=s} eta_j, Q[s, i] = E_s / E_i; C = P Q, m = P E (Titans eq. 14, 18).
            log_momentum = tl.load(log_momentum_ptr + gate_offsets, mask=token_mask, other=0.0).to(COMPUTE)
            log_e = tl.cumsum(log_momentum, axis=0)  # [c]
            momentum_transfer = causal_transfer(log_e, tokens, tokens)  # Q: [c, c]
            coef = mm(decay, momentum_transfer, OPERAND, EMULATE_HALF)  # C: [c, c]
            carry = tl.sum(decay * tl.exp(log_e)[None, :], axis=1)  # m: [c]
        else:
            coef = decay
        coef_theta = coef * theta[None, :]  # C[t, i] theta_i: [c, c]

        # Queries, dual form (layer by layer):
        # A_t z_t = Gamma_t A_0 z_t + m_t S_0 z_t - sum_{i<=t} C[t, i] theta_i (z_i . z_t) dpre_i.
        pre_q1 = gamma[:, None] * mm(query, tl.trans(w1), OPERAND, EMULATE_HALF)  # [c, BH]
        if MOMENTUM:
            pre_q1 += carry[:, None] * mm(query, tl.trans(s1), OPERAND, EMULATE_HALF)
        scores1 = coef_theta * mm(query, tl.trans(key), OPERAND, EMULATE_HALF)  # [c, c]
        pre_q1 -= mm(scores1, dpre1, OPERAND, EMULATE_HALF)
        if DEPTH == 1:
            retrieved = pre_q1  # [c, BD]
        else:
            hid_q = gelu(pre_q1)  # [c, BH]
            pre_q2 = gamma[:, None] * mm(hid_q, tl.trans(w2), OPERAND, EMULATE_HALF)  # [c, BD]
            if MOMENTUM:
                pre_q2 += carry[:, None] * mm(hid_q, tl.trans(s2), OPERAND, EMULATE_HALF)
            scores2 = coef_theta * mm(hid_q, tl.trans(hid), OPERAND, EMULATE_HALF)  # [c, c]
            pre_q2 -= mm(scores2, dpre2, OPERAND, EMULATE_HALF)
            retrieved = query + layer_norm_rows(pre_q2, feature_mask, D, LN_EPS)[0]  # [c, BD]
        tl.store(y_ptr + io_offsets, retrieved.to(y_ptr.dtype.element_ty), mask=io_mask)

        # State at the chunk end, kept only for a whole chunk:
        # A_c = Gamma_c A_0 + m_c S_0 - sum_i C[c, i] theta_i dpre_i z_i^T, S_c = E_c S_0 - sum_i Q[c, i] theta_i ...
        whole = chunk * CHUNK + CHUNK <= length
        gamma_end = last_entry(gamma, tokens, last)
        end_accumulator = last_row(coef_theta, tokens, last)  # [c]
        new_w1 = gamma_end * w1 - mm(tl.trans(dpre1 * end_accumulator[:, None]), key, OPERAND, EMULATE_HALF)
        if DEPTH == 2:
            new_w2 = gamma_end * w2 - mm(tl.trans(dpre2 * end_accumulator[:, None]), hid, OPERAND, EMULATE_HALF)
        if MOMENTUM:
            carry_end = last_entry(carry, tokens, last)
            momentum_end = tl.exp(last_entry(log_e, tokens, last))  # E_c
            end_momentum = last_row(momentum_transfer, tokens, last) * theta  # Q[c, i] theta_i: [c]
            new_w1 += carry_end * s1
            s1 = tl.where(
                whole,
                momentum_end * s1 - mm(tl.trans(dpre1 * end_momentum[:, None]), key, OPERAND, EMULATE_HALF),
                s1,
            )
            if DEPTH == 2:
                new_w2 += carry_end * s2
                s2 = tl.where(
                    whole,
                    momentum_end * s2 - mm(tl.trans(dpre2 * end_momentum[:, None]), hid, OPERAND, EMULATE_HALF),
                    s2,
                )
        w1 = tl.where(whole, new_w1, w1)
        if DEPTH == 2:
            w2 = tl.where(whole, new_w2, w2)

    store_matrix(w1_out_ptr + n * layer_size, w1, hidden, feats, H, D)
    if DEPTH == 2:
        store_matrix(w2_out_ptr + n * layer_size, w2, feats, hidden, D, H)
    if MOMENTUM:
        store_matrix(s1_out_ptr + n * layer_size, s1, hidden, feats, H, D)
        if DEPTH == 2:
            store_matrix(s2_out_ptr + n * layer_size, s2, feats, hidden, D, H)


@dataclass
class ForwardResult:
    retrieved: Tensor  # y: [N, T, D], the inputs' dtype
    memory: list[Tensor]  # per layer at the last whole-chunk boundary, [N, out, in], the memory's dtype
    momentum: list[Tensor] | None  # likewise; None without momentum
    saved_memory: list[Tensor] | None  # per layer at every chunk start, [N, n_chunks, out, in]; compute dtype
    saved_momentum: list[Tensor] | None


_TRITON_DTYPES = {
    torch.float64: tl.float64,
    torch.float32: tl.float32,
    torch.bfloat16: tl.bfloat16,
    torch.float16: tl.float16,
}


def _operand_dtype(dtype: torch.dtype) -> torch.dtype:
    """Matrix-product operands: half-precision inputs' own dtype (tensor cores at full rate), else float32
    (exact IEEE products, no TF32) or float64."""
    return (
        dtype
        if dtype in (torch.bfloat16, torch.float16)
        else torch.float64
        if dtype == torch.float64
        else torch.float32
    )


def run_forward(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig, save_states: bool
) -> ForwardResult:
    """Launch the forward kernel: one program per sequence x head."""
    batch_heads, length, dim = inputs.key.shape
    hidden = memory[0].shape[1]  # W_1: [N, H, D] (H = D for the matrix memory)
    n_chunks = triton.cdiv(length, cfg.chunk_size)
    compute = torch.float64 if inputs.key.dtype == torch.float64 else torch.float32
    memory = [m.contiguous() for m in memory]
    momentum = None if momentum is None else [s.contiguous() for s in momentum]
    query, key, value, lr, log_retain = (
        t.contiguous() for t in (inputs.query, inputs.key, inputs.value, inputs.lr, inputs.log_retain)
    )
    log_momentum = lr if inputs.log_momentum is None else inputs.log_momentum.contiguous()  # unread without momentum

    def per_layer(tensors: list[Tensor]) -> tuple[Tensor, Tensor]:  # (layer 1, layer 2 or layer 1 again)
        return tensors[0], tensors[-1]

    operand = _operand_dtype(query.dtype)
    retrieved = torch.empty_like(query)
    out_memory = [torch.empty_like(m) for m in memory]
    out_momentum = None if momentum is None else [torch.empty_like(s) for s in momentum]
    saved_memory = saved_momentum = None
    if save_states:
        saved_memory = [m.new_empty(batch_heads, n_chunks, *m.shape[1:], dtype=compute) for m in memory]
        if momentum is not None:
            saved_momentum = [s.new_empty(batch_heads, n_chunks, *s.shape[1:], dtype=compute) for s in momentum]
    chunked_memory_forward_kernel[(batch_heads,)](
        query, key, value,
        lr, log_retain, log_momentum,
        *per_layer(memory), *per_layer(momentum or memory),
        retrieved,
        *per_layer(out_memory), *per_layer(out_momentum or out_memory),
        *per_layer(saved_memory or out_memory), *per_layer(saved_momentum or saved_memory or out_memory),
        length, n_chunks,
        D=dim, H=hidden, BLOCK_D=padded_width(dim), BLOCK_H=padded_width(hidden), CHUNK=cfg.chunk_size,
        DEPTH=len(memory), MOMENTUM=momentum is not None, SAVE_STATES=save_states, LN_EPS=cfg.layer_norm_eps,
        COMPUTE=_TRITON_DTYPES[compute], OPERAND=_TRITON_DTYPES[operand],
        EMULATE_HALF=interpreter_enabled() and operand != compute,
        num_warps=4 if padded_width(dim) * padded_width(hidden) <= 64 * 64 else 8,
    )  # fmt: skip
    return ForwardResult(retrieved, out_memory, out_momentum, saved_memory, saved_momentum)
