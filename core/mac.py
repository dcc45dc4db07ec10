"""MAC, memory as context (Titans section 4.1, eq. 21-25).

The sequence is split into segments of `window` tokens.  For a segment S:
    h = M*_{t-1}(q(S))                       retrieve from the memory as it was before the segment (eq. 21)
    y = S + Attn([persistent || h || S])     causal attention within the segment, residual (eq. 22-23)
    M_t <- write y                           update the memory with the attention output (eq. 24)
    o = y * sigmoid(M*_t(y))                 the memory's read of y gates y (eq. 25: o = y (x) M*_t(y))
h_i sits at S_i's position, so token i sees h_j and S_j for j <= i only: the block stays causal.  The
paper's h is a block of its own positions before S; here h_i shares S_i's position, so a learned
`memory_marker` vector is added to every h token to let attention tell the two apart.
q(S) is the memory's own query path (W_Q, its short causal convolution, SiLU, l2-normalisation; Titans
section 4.4) applied to the segment stream, so a query carries the few tokens before it, as keys do; the
read passes through the memory layer's output normalisation and gate, as every memory output does.
y keeps the attention sub-block's residual ("residual connections in all blocks"), so the keys written
from y share a stream with the queries read from S.  Both choices matter on the associative-recall test
(tests/core/test_recall.py, 800 steps, chance 6%): neither 31%, the marker alone 25%, both 99.6%.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .attention import Attention, KVCache
from .config import MemoryConfig
from .neural_memory import NeuralMemory
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
        self.memory_marker = nn.Parameter(torch.randn(dim) * 0.02)  # added to every h token, see above

    def forward(self, x: Tensor, state: MACState | None = None) -> tuple[Tensor, MACState]:
        state = state or MACState(None, None, None, 0, None)
        outputs, position = [], 0
        while position < x.shape[1]:
            piece = x[:, position : position + self.segment - state.filled]
            if state.filled == 0:  # a new segment: read the memory as it is now, fresh attention context
                weights = self.memory.boundary_weights(state.memory, x.shape[0])
                state = MACState(state.memory, weights, None, 0, state.query_cache)
            h, query_cache = self.memory.read(piece, state.segment_weights, state.query_cache)
            y, cache = self.attention(piece, state.cache, context=h + self.memory_marker)
            y = piece + y  # the attention sub-block's residual stream: what the memory is written with
            read, memory = self.memory(y, state.memory)
            outputs.append(y * torch.sigmoid(read))
            filled = (state.filled + piece.shape[1]) % self.segment
            state = MACState(memory, state.segment_weights, cache, filled, query_cache)
            position += piece.shape[1]
        return torch.cat(outputs, dim=1), state
