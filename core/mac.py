"""MAC, memory as context (Titans section 4.1, eq. 21-25).

The sequence is split into segments of `window` tokens.  For a segment S:
    h = M*_{t-1}(S W_Q)                      retrieve from the memory as it was before the segment (eq. 21)
    y = Attn([persistent || h || S])         causal attention within the segment (eq. 22-23)
    M_t <- write y                           update the memory with the attention output (eq. 24)
    o = y * sigmoid(M*_t(y))                 the memory's read of y gates y (eq. 25: o = y (x) M*_t(y))
h_i sits at S_i's position, so token i sees h_j and S_j for j <= i only: the block stays causal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention, KVCache
from .config import MemoryConfig
from .memory_model import memory_apply
from .neural_memory import NeuralMemory
from .state import MemoryState


@dataclass
class MACState:
    memory: MemoryState | None  # the memory after every token written so far
    segment_weights: list[Tensor] | None  # its weights at the start of the current segment (read by h)
    cache: KVCache | None  # keys and values of the current segment so far
    filled: int  # tokens of the current segment seen so far


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

    def _retrieve(self, x: Tensor, weights: list[Tensor]) -> Tensor:
        """h = M*(x W_Q): the memory read without writing, [B, T, dim].  W_Q is the memory's own query
        projection (followed by SiLU and l2-normalisation, as for its queries; the short convolution belongs
        to the stream the memory is written with, so it is left out here)."""
        cfg, (batch, length, _) = self.memory_cfg, x.shape
        w_query = self.memory.to_qkv.weight[: cfg.heads * cfg.dim_head]
        q = F.silu(F.linear(x, w_query)).reshape(batch, length, cfg.heads, cfg.dim_head).transpose(1, 2)
        read = memory_apply(weights, F.normalize(q.flatten(0, 1), dim=-1), cfg.layer_norm_eps)  # [B * H, T, D]
        return self.from_memory(read.unflatten(0, (batch, cfg.heads)).transpose(1, 2).flatten(2))

    def forward(self, x: Tensor, state: MACState | None = None) -> tuple[Tensor, MACState]:
        state = state or MACState(None, None, None, 0)
        outputs, position = [], 0
        while position < x.shape[1]:
            piece = x[:, position : position + self.segment - state.filled]
            if state.filled == 0:  # a new segment: read the memory as it is now, fresh attention context
                state = MACState(state.memory, self.memory.boundary_weights(state.memory, x.shape[0]), None, 0)
            h = self._retrieve(piece, state.segment_weights)
            y, cache = self.attention(piece, state.cache, context=h)
            read, memory = self.memory(y, state.memory)
            outputs.append(y * torch.sigmoid(read))
            filled = (state.filled + piece.shape[1]) % self.segment
            state = MACState(memory, state.segment_weights, cache, filled)
            position += piece.shape[1]
        return torch.cat(outputs, dim=1), state
