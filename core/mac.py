"""MAC, memory as context (Titans section 4.1, eq. 21-25).

The sequence is split into segments of `window` tokens.  For a segment S:
    h = M*_{t-1}(q(S))                       retrieve from the memory as it was before the segment (eq. 21)
    y = Attn([persistent || h || S])         causal attention within the segment (eq. 22-23)
    M_t <- write y                           update the memory with the attention output (eq. 24)
    o = y * sigmoid(M*_t(y))                 the memory's read of y gates y (eq. 25: o = y (x) M*_t(y))
h_i sits at S_i's position, so token i sees h_j and S_j for j <= i only: the block stays causal.
q(S) is the memory's own query path (W_Q, its short causal convolution, SiLU, l2-normalisation; Titans
section 4.4) applied to the segment stream, so a query carries the few tokens before it, as keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention, KVCache
from .config import MemoryConfig
from .memory_model import memory_apply
from .neural_memory import NeuralMemory, causal_depthwise_conv
from .state import MemoryState


@dataclass
class MACState:
    memory: MemoryState | None  # the memory after every token written so far
    segment_weights: list[Tensor] | None  # its weights at the start of the current segment (read by h)
    cache: KVCache | None  # keys and values of the current segment so far
    filled: int  # tokens of the current segment seen so far
    query_cache: Tensor | None  # the retrieval query convolution's last inputs


class MemoryAsContext(nn.Module):
    def __init__(self, dim: int, heads: int, segment: int, persistent: int, memory_cfg: MemoryConfig, rope_base: float):
        super().__init__()
        if segment % memory_cfg.chunk_size:
            raise ValueError(
                f"MAC: window={segment} must be a multiple of the memory chunk_size={memory_cfg.chunk_size}"
            )
        self.segment, self.memory_cfg = segment, memory_cfg
        self.attention = Attention(dim, heads, None, persistent, rope_base)
        self.memory = NeuralMemory(memory_cfg)
        self.from_memory = nn.Linear(memory_cfg.heads * memory_cfg.dim_head, dim, bias=False)

    def _retrieve(self, x: Tensor, weights: list[Tensor], query_cache: Tensor | None) -> tuple[Tensor, Tensor]:
        """h = M*(q(x)), [B, T, dim], and the query convolution's cache to continue from."""
        cfg, memory, (batch, length, _) = self.memory_cfg, self.memory, x.shape
        inner = cfg.heads * cfg.dim_head
        w_query = memory.to_qkv.weight[:inner]  # the query rows of the memory's projections and convolution
        q, query_cache = causal_depthwise_conv(
            F.linear(x, w_query), query_cache, memory.conv.weight[:inner, 0], memory.conv.bias[:inner]
        )
        q = F.silu(q).reshape(batch, length, cfg.heads, cfg.dim_head).transpose(1, 2)
        read = memory_apply(weights, F.normalize(q.flatten(0, 1), dim=-1), cfg.layer_norm_eps)  # [B * H, T, D]
        return self.from_memory(read.unflatten(0, (batch, cfg.heads)).transpose(1, 2).flatten(2)), query_cache

    def forward(self, x: Tensor, state: MACState | None = None) -> tuple[Tensor, MACState]:
        state = state or MACState(None, None, None, 0, None)
        outputs, position = [], 0
        while position < x.shape[1]:
            piece = x[:, position : position + self.segment - state.filled]
            if state.filled == 0:  # a new segment: read the memory as it is now, fresh attention context
                weights = self.memory.boundary_weights(state.memory, x.shape[0])
                state = MACState(state.memory, weights, None, 0, state.query_cache)
            h, query_cache = self._retrieve(piece, state.segment_weights, state.query_cache)
            y, cache = self.attention(piece, state.cache, context=h)
            read, memory = self.memory(y, state.memory)
            outputs.append(y * torch.sigmoid(read))
            filled = (state.filled + piece.shape[1]) % self.segment
            state = MACState(memory, state.segment_weights, cache, filled, query_cache)
            position += piece.shape[1]
        return torch.cat(outputs, dim=1), state
