"""Retention gates: how the memory's state (an accumulator A per weight matrix) becomes its weights W.

    "decay" (Titans eq. 13):  W = A,  A_t = (1 - alpha_t) A_{t-1} + S_t
    "lq"    (MIRAS eq. 24, Moneta):  W = A / ||A||_q^(q-2)
    "kl"    (MIRAS eq. 27, Memora):  W = softmax(A) along each row (A is log W, a point on the simplex)

Within a chunk the accumulator evolves linearly (all gradients are at the chunk-start weights); the
non-linear maps of "lq" and "kl" are applied at chunk boundaries, as MIRAS does ("lag" tokens):
- "lq": the normaliser ||A_{t'}||_q^(q-2) of the chunk start scales the whole chunk, W_t = A_t / n_{t'};
- "kl": the map is not linear in A, so retrieval inside a chunk reads the chunk-start weights W_{t'};
  at the chunk end W = softmax(A_end).
With chunk_size = 1 the state and every gradient are exact online updates; retrieval then reads the
normaliser ("lq") or the weights ("kl") from before the token's own write, a one-token lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .config import MemoryConfig


@dataclass
class ChunkStart:
    """The memory at a chunk boundary t'."""

    accumulators: list[Tensor]  # A_{t'} per layer, [N, out, in] ("kl": normalised to log W)
    weights: list[Tensor]  # W_{t'}: the weights every gradient of the chunk is taken at
    scales: list[Tensor] | None  # "lq": 1 / ||A_{t'}||_q^(q-2), [N, 1, 1]; else None


def start_chunk(accumulators: list[Tensor], cfg: MemoryConfig) -> ChunkStart:
    if cfg.retention == "decay":
        return ChunkStart(accumulators, accumulators, None)
    if cfg.retention == "lq":
        scales = [
            a.abs().pow(cfg.q).sum((-1, -2), keepdim=True).clamp_min(1e-30).pow(-(cfg.q - 2) / cfg.q)
            for a in accumulators
        ]
        return ChunkStart(accumulators, [a * s for a, s in zip(accumulators, scales)], scales)
    logs = [torch.log_softmax(a, dim=-1) for a in accumulators]
    return ChunkStart(logs, [lw.exp() for lw in logs], None)


def retrieval_weights(accumulators: list[Tensor], start: ChunkStart, cfg: MemoryConfig) -> list[Tensor]:
    """Weights that answer queries after the chunk's tokens up to t have been written (A_t given)."""
    if cfg.retention == "decay":
        return accumulators
    if cfg.retention == "lq":
        return [a * s for a, s in zip(accumulators, start.scales)]
    return start.weights
