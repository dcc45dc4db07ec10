"""Named points of the MIRAS design space, each a function `preset(dim, **overrides) -> MemoryConfig`.

The Titans and MIRAS memories use the 2-layer MLP memory (expansion 4, GELU, residual + LN); the
baselines are matrix memories.  Any field can be overridden, e.g. `moneta(256, chunk_size=16)`.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import MemoryConfig


def titans_lmm(dim: int, **overrides) -> MemoryConfig:
    """Titans LMM (Titans section 3): l2 bias, forget-gate decay, gradient descent with momentum."""
    return MemoryConfig(**{"dim": dim, "bias": "l2", "retention": "decay", "momentum": True, **overrides})


def moneta(dim: int, **overrides) -> MemoryConfig:
    """MIRAS Moneta: l_p bias (p = 3), l_q retention (q = 4), plain gradient descent (MIRAS eq. 24-25)."""
    base = {"dim": dim, "bias": "lp", "p": 3.0, "retention": "lq", "q": 4.0, "momentum": False}
    return MemoryConfig(**{**base, **overrides})


def yaad(dim: int, **overrides) -> MemoryConfig:
    """MIRAS Yaad: Huber bias, learned input-dependent channel-wise delta; decay; plain GD (eq. 26)."""
    return MemoryConfig(**{"dim": dim, "bias": "huber", "retention": "decay", "momentum": False, **overrides})


def memora(dim: int, **overrides) -> MemoryConfig:
    """MIRAS Memora: l2 bias, KL retention (memory rows on the simplex), plain GD (MIRAS eq. 27)."""
    return MemoryConfig(**{"dim": dim, "bias": "l2", "retention": "kl", "momentum": False, **overrides})


def linear_attention(dim: int, **overrides) -> MemoryConfig:
    """Linear attention: matrix memory, dot-product bias (W_t = W_{t-1} + v_t k_t^T), no retention."""
    base = {"dim": dim, "memory_depth": 1, "bias": "dot", "momentum": False, "forget_gate": False}
    return MemoryConfig(**{**base, "lr_gate": False, "max_lr": 1.0, **overrides})


def deltanet(dim: int, **overrides) -> MemoryConfig:
    """DeltaNet: matrix memory, l2 bias, gradient descent without momentum (the delta rule), no retention.

    With l = ||W k - v||^2 a step is 2 theta_t (W k - v) k^T, i.e. DeltaNet's beta_t = 2 theta_t.
    chunk_size = 1 is DeltaNet's online rule exactly.  Larger chunks take all of a chunk's gradients at
    its start (Titans eq. 16), so up to chunk_size steps add up at once; the default max_lr =
    0.5 / chunk_size bounds the summed step of a chunk by DeltaNet's beta <= 1 (with ||k|| = 1), which
    keeps the update a contraction for any keys.
    """
    chunk = overrides.get("chunk_size", MemoryConfig.chunk_size)
    base = {"dim": dim, "memory_depth": 1, "bias": "l2", "momentum": False, "forget_gate": False}
    return MemoryConfig(**{**base, "max_lr": 0.5 / chunk, **overrides})


def gated_deltanet(dim: int, **overrides) -> MemoryConfig:
    """Gated DeltaNet: DeltaNet with a data-dependent forget gate (decay retention)."""
    return deltanet(dim, **{"forget_gate": True, **overrides})


PRESETS: dict[str, Callable[..., MemoryConfig]] = {
    "titans_lmm": titans_lmm,
    "moneta": moneta,
    "yaad": yaad,
    "memora": memora,
    "linear_attention": linear_attention,
    "deltanet": deltanet,
    "gated_deltanet": gated_deltanet,
}
