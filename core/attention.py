"""Building blocks of the backbones: SwiGLU MLP, rotary embeddings, and causal attention (full or sliding
window) on `scaled_dot_product_attention`, with persistent memory tokens and a streaming key/value cache
that a sliding window keeps bounded."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SwiGLU(nn.Module):
    """Llama's MLP: W_down (silu(x W_gate) * x W_up)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


def rotate(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotary position embedding (RoFormer) of x: [B, H, T, D] at integer positions: [T]."""
    half = x.shape[-1] // 2
    freqs = base ** (-torch.arange(half, device=x.device, dtype=torch.float64) / half)
    angles = (positions.to(torch.float64)[:, None] * freqs).to(x.dtype)  # [T, D/2]
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., :half], x[..., half : 2 * half]
    return torch.cat([first * cos - second * sin, first * sin + second * cos, x[..., 2 * half :]], dim=-1)


@dataclass
class KVCache:
    key: Tensor  # [B, H, L, D], rotated
    value: Tensor  # [B, H, L, D]
    positions: Tensor  # [L]: each cached key's position
    position: int  # position of the next token


SCORE_BUDGET = 1 << 25  # attention scores per masked SDPA call (128 MB in float32)


class Attention(nn.Module):
    """Causal multi-head attention. `window`: each token sees itself and the window - 1 tokens before it
    (None: all). `persistent`: N_p learned key/value tokens that every query sees (Titans section 3.3)."""

    def __init__(self, dim: int, heads: int, window: int | None = None, persistent: int = 0, rope_base=10000.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention heads={heads} must divide dim={dim}")
        self.heads, self.window, self.rope_base = heads, window, rope_base
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.persistent = nn.Parameter(torch.randn(persistent, dim) * 0.02) if persistent else None

    def _split(self, t: Tensor) -> Tensor:  # [B, T, dim] -> [B, H, T, D]
        return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, cache: KVCache | None = None, context: Tensor | None = None) -> tuple[Tensor, KVCache]:
        """x: [B, T, dim] -> y: [B, T, dim].  `context` ([B, T, dim], optional): extra key/value tokens, the
        t-th at the same position as x's t-th, so a query sees those up to its own position (MAC's h)."""
        batch, length, _ = x.shape
        start = 0 if cache is None else cache.position
        positions = torch.arange(start, start + length, device=x.device)
        q, k, v = (self._split(t) for t in self.qkv(x).chunk(3, dim=-1))
        q, k = rotate(q, positions, self.rope_base), rotate(k, positions, self.rope_base)
        key_positions = positions
        if context is not None:
            _, ck, cv = (self._split(t) for t in self.qkv(context).chunk(3, dim=-1))
            k, v = torch.cat([rotate(ck, positions, self.rope_base), k], 2), torch.cat([cv, v], 2)
            key_positions = torch.cat([positions, positions])
        if cache is not None:
            k, v = torch.cat([cache.key, k], dim=2), torch.cat([cache.value, v], dim=2)
            key_positions = torch.cat([cache.positions, key_positions])
        new_cache = KVCache(k, v, key_positions, start + length)
        first_key = None
        if self.window is not None:  # keys hold the contiguous positions first_key .. start + length - 1
            if context is not None:
                raise ValueError("Attention: a sliding window cannot take context tokens")
            first_key = start + length - k.shape[2]
            kept = k.shape[2] - min(k.shape[2], self.window - 1)  # the next token still sees the last window - 1
            new_cache = KVCache(k[:, :, kept:], v[:, :, kept:], key_positions[kept:], start + length)
        persistent = None
        if self.persistent is not None:  # position-free tokens, visible to every query
            _, pk, pv = (self._split(t) for t in self.qkv(self.persistent).expand(batch, -1, -1).chunk(3, dim=-1))
            persistent = (pk, pv)
        if self.window is None and persistent is None and k.shape[2] == length:  # plain causal self-attention
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # a fused kernel: no [T, T] scores
            return self.out(y.transpose(1, 2).flatten(2)), new_cache
        # A sliding window attends block by block (window queries against the keys they can see): O(T window);
        # full attention over a cache or extra tokens in blocks whose masked scores stay within SCORE_BUDGET.
        block = self.window or max(1, SCORE_BUDGET // (batch * self.heads * k.shape[2]))
        outputs = [
            self._attend(q[:, :, a : a + block], positions[a : a + block], start + a, first_key, k, v, key_positions,
                         persistent)
            for a in range(0, length, block)
        ]  # fmt: skip
        return self.out(torch.cat(outputs, dim=2).transpose(1, 2).flatten(2)), new_cache

    def _attend(self, q, positions, first_query: int, first_key: int | None, k, v, key_positions, persistent) -> Tensor:
        """SDPA of queries q: [B, H, t, D] at `positions` (first_query, first_query + 1, ...) over the keys they may
        see: [B, H, t, D].  With a window the keys are at first_key, first_key + 1, ...: the slice in reach of
        the block is found from those integers (no data-dependent shapes, so torch.compile traces it whole)."""
        if self.window is not None:
            lo = max(0, first_query - self.window + 1 - first_key)
            hi = min(k.shape[2], first_query + q.shape[2] - first_key)
            k, v, key_positions = k[:, :, lo:hi], v[:, :, lo:hi], key_positions[lo:hi]
        visible = key_positions[None, :] <= positions[:, None]  # [t, L]
        if self.window is not None:
            visible &= positions[:, None] - key_positions[None, :] < self.window
        if persistent is not None:
            k, v = torch.cat([persistent[0], k], dim=2), torch.cat([persistent[1], v], dim=2)
            visible = torch.cat([visible.new_ones(len(positions), persistent[0].shape[2]), visible], dim=1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
