"""Sequence backbones built on the memory, and the baselines they are compared with, behind one interface:

    bb = build_backbone("mag", dim=128, depth=2, heads=4, window=64)
    h, state = bb(x)                               # x: [B, T, dim] -> h: [B, T, dim]
    h1, s = bb(x[:, :96]); h2, s = bb(x[:, 96:], state=s)    # == h

With `bidirectional=True` every mixer reads each sequence twice, forwards and reversed, with the same weights,
and adds the two outputs (Caduceus's weight-tied BiMamba, Schiff et al. 2024): every position sees the whole
sequence, for classifiers and encoders of a window; nothing streams, so there is no state.

Every block is Llama-style (Titans section 4.4): pre-norm residual mixers, then a SwiGLU MLP.  Mixers share
the protocol mixer(x, state) -> (y, state), so streaming state is the list of every mixer's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import torch
from torch import Tensor, nn

from .attention import Attention, SwiGLU
from .config import MemoryConfig
from .convolution import causal_depthwise_conv
from .mac import MemoryAsContext
from .neural_memory import NeuralMemory
from .presets import gated_deltanet, linear_attention, memora, moneta, titans_lmm, yaad


@dataclass
class BackboneConfig:
    """Shared settings; every field can be overridden through `build_backbone(name, **overrides)`."""

    dim: int = 128
    depth: int = 2
    heads: int = 4
    window: int = 64  # sliding-window attention size; MAC's segment length; the CNN's kernel width
    persistent: int = 4  # N_p learned persistent-memory tokens (Titans section 3.3; the paper uses 128)
    mlp_ratio: float = 8 / 3  # SwiGLU hidden width / dim (Llama)
    chunk_size: int = 16  # memory chunk b (Titans conference version)
    memory: dict = field(default_factory=dict)  # MemoryConfig overrides for the memory layers
    rope_base: float = 10000.0
    dropout: float = 0.0  # residual dropout on every mixer's and MLP's output, in training only
    memory_every: int = 1  # memory mixers in blocks 0, n, 2n, ...; sliding-window attention between (hybrids)
    bidirectional: bool = False  # every mixer also reads each sequence reversed (same weights), outputs added

    def __post_init__(self) -> None:
        for name in ("dim", "depth", "heads", "window", "chunk_size", "memory_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"BackboneConfig.{name}={getattr(self, name)!r}: must be >= 1")
        if self.dim % self.heads:
            raise ValueError(f"BackboneConfig.heads={self.heads}: must divide dim={self.dim}")
        if self.persistent < 0:
            raise ValueError(f"BackboneConfig.persistent={self.persistent}: must be >= 0")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"BackboneConfig.dropout={self.dropout!r}: must be in [0, 1)")


class PrimedMemory(nn.Module):
    """A memory layer over x~ = [persistent || x] (Titans section 4.2-4.3): the learned persistent tokens are
    written first, when a sequence starts, and their outputs dropped."""

    def __init__(self, memory_cfg: MemoryConfig, persistent: int):
        super().__init__()
        self.memory = NeuralMemory(memory_cfg)
        self.persistent = nn.Parameter(torch.randn(persistent, memory_cfg.dim) * 0.02) if persistent else None

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        if state is None and self.persistent is not None:  # the same for every sequence: written once
            state = self.memory(self.persistent[None])[1].repeat(x.shape[0])
        return self.memory(x, state=state)


class MemoryAsGate(nn.Module):
    """MAG (Titans section 4.2): sliding-window attention and the memory over the same input, each
    normalised with learned weights, the memory branch gating the attention branch: o = n1(y) * sigmoid(n2(m))."""

    def __init__(self, cfg: BackboneConfig, memory_cfg: MemoryConfig):
        super().__init__()
        self.attention = Attention(cfg.dim, cfg.heads, cfg.window, cfg.persistent, cfg.rope_base)
        self.memory = PrimedMemory(memory_cfg, cfg.persistent)
        self.attention_norm, self.memory_norm = nn.RMSNorm(cfg.dim), nn.RMSNorm(cfg.dim)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, tuple]:
        attention_state, memory_state = (None, None) if state is None else state
        y, attention_state = self.attention(x, attention_state)
        m, memory_state = self.memory(x, memory_state)
        return self.attention_norm(y) * torch.sigmoid(self.memory_norm(m)), (attention_state, memory_state)


class CausalConvolution(nn.Module):
    """The convolutional baseline's mixer: a causal depthwise convolution over `width` tokens (a sliding
    window with fixed, learned weights per channel); the block's SwiGLU MLP mixes the channels."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, width) / width**0.5)  # [dim, width], oldest tap first
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mixed, state = causal_depthwise_conv(x, state, self.weight, self.bias)  # state: the last width - 1 inputs
        return mixed.mT, state


class Block(nn.Module):
    """Pre-norm residual mixers, then a pre-norm residual SwiGLU MLP; each branch's output passes residual
    dropout before it is added (identity unless cfg.dropout > 0 and training)."""

    def __init__(self, cfg: BackboneConfig, mixers: list[nn.Module]):
        super().__init__()
        self.mixers = nn.ModuleList(mixers)
        self.norms = nn.ModuleList(nn.RMSNorm(cfg.dim) for _ in mixers)
        self.mlp_norm = nn.RMSNorm(cfg.dim)
        self.mlp = SwiGLU(cfg.dim, int(cfg.mlp_ratio * cfg.dim))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, state: list | None, reverse: Tensor | None = None) -> tuple[Tensor, list]:
        """reverse: None (causal, streaming), or a [B, T] index that reverses each sequence (bidirectional)."""
        state = state or [None] * len(self.mixers)
        new_state = []
        for mixer, norm, mixer_state in zip(self.mixers, self.norms, state, strict=True):
            if reverse is None:
                y, mixer_state = mixer(norm(x), mixer_state)
            else:
                y = _both_directions(mixer, norm(x), reverse)
            x = x + self.dropout(y)
            new_state.append(mixer_state)
        return x + self.dropout(self.mlp(self.mlp_norm(x))), new_state


def reversal_index(lengths: Tensor, length: int) -> Tensor:
    """[B, T] positions that reverse each row's first lengths[b] entries and leave its padding in place (an
    involution: applying it twice restores the order)."""
    positions = torch.arange(length, device=lengths.device)  # [T]
    lengths = lengths[:, None]  # [B, 1]
    return torch.where(positions < lengths, lengths - 1 - positions, positions)


def _both_directions(mixer: nn.Module, x: Tensor, reverse: Tensor) -> Tensor:
    """mixer(x) + its output on each sequence reversed, put back in order; both passes run as one batch."""
    index = reverse[..., None].expand_as(x)  # [B, T, dim]
    y, _ = mixer(torch.cat([x, x.gather(1, index)]))  # [2B, T, dim]
    forward, backward = y.chunk(2)
    return forward + backward.gather(1, index)


@dataclass
class _Kind:
    description: str
    mixers: Callable[[BackboneConfig], list[nn.Module]]
    memory: bool = True  # has memory layers, so `memory_every` can make it a hybrid (False: it ignores memory_every)


def _memory_cfg(cfg: BackboneConfig, preset: Callable[..., MemoryConfig]) -> MemoryConfig:
    return preset(cfg.dim, **{"heads": cfg.heads, "chunk_size": cfg.chunk_size, **cfg.memory})


def _attention(cfg: BackboneConfig, window: bool, persistent: bool = False) -> Attention:
    return Attention(cfg.dim, cfg.heads, cfg.window if window else None, cfg.persistent if persistent else 0)


def _memory_then_swa(preset):
    """The memory layer, then sliding-window attention (MAL, and the MIRAS hybrids)."""
    return lambda c: [PrimedMemory(_memory_cfg(c, preset), c.persistent), _attention(c, True, persistent=True)]


def _memory_only(preset):
    return lambda c: [NeuralMemory(_memory_cfg(c, preset))]


BACKBONES: dict[str, _Kind] = {
    "mac": _Kind(
        "Titans MAC: memory retrieved as context for attention within segments",
        lambda c: [MemoryAsContext(c.dim, c.heads, c.window, c.persistent, _memory_cfg(c, titans_lmm), c.rope_base)],
    ),
    "mag": _Kind(
        "Titans MAG: sliding-window attention gated by the memory",
        lambda c: [MemoryAsGate(c, _memory_cfg(c, titans_lmm))],
    ),
    "mal": _Kind("Titans MAL: memory layer, then sliding-window attention", _memory_then_swa(titans_lmm)),
    "lmm": _Kind("Titans LMM: the neural memory alone as token mixer", _memory_only(titans_lmm)),
    "moneta": _Kind("MIRAS Moneta: l_p bias, l_q retention memory stack", _memory_only(moneta)),
    "yaad": _Kind("MIRAS Yaad: Huber bias memory stack", _memory_only(yaad)),
    "memora": _Kind("MIRAS Memora: KL retention memory stack", _memory_only(memora)),
    "moneta-h": _Kind("Moneta memory, then sliding-window attention", _memory_then_swa(moneta)),
    "yaad-h": _Kind("Yaad memory, then sliding-window attention", _memory_then_swa(yaad)),
    "memora-h": _Kind("Memora memory, then sliding-window attention", _memory_then_swa(memora)),
    "transformer": _Kind(
        "Transformer++: full causal attention, RoPE, SwiGLU, RMSNorm", lambda c: [_attention(c, False)], memory=False
    ),
    "swa": _Kind("sliding-window Transformer++", lambda c: [_attention(c, True)], memory=False),
    "cnn": _Kind(
        "convolutional baseline: causal depthwise convolutions over `window` tokens, SwiGLU channel mixing",
        lambda c: [CausalConvolution(c.dim, c.window)],
        memory=False,
    ),
    "linear-attention": _Kind("linear attention (matrix memory, dot-product bias)", _memory_only(linear_attention)),
    "gated-deltanet": _Kind("Gated DeltaNet (matrix memory, delta rule, forget gate)", _memory_only(gated_deltanet)),
}


class Backbone(nn.Module):
    def __init__(self, name: str, cfg: BackboneConfig):
        super().__init__()
        self.name, self.cfg = name, cfg
        # A hybrid (memory_every = n > 1): the backbone's mixers in blocks 0, n, 2n, ..., and in the others
        # sliding-window attention with the persistent tokens, as MAG's attention branch has.
        kind = BACKBONES[name]
        every = cfg.memory_every if kind.memory else 1
        self.blocks = nn.ModuleList(
            Block(cfg, kind.mixers(cfg) if i % every == 0 else [_attention(cfg, True, True)]) for i in range(cfg.depth)
        )
        self.norm = nn.RMSNorm(cfg.dim)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: Tensor, state: list | None = None, lengths: Tensor | None = None) -> tuple[Tensor, list]:
        """x: [B, T, dim] -> (h: [B, T, dim], state to continue from). lengths [B]: each row's real tokens, padding
        after them; only a bidirectional backbone needs it (a causal one never carries padding back to them)."""
        if x.ndim != 3 or x.shape[-1] != self.cfg.dim:
            raise ValueError(
                f"backbone {self.name!r} expects x of shape [batch, time, {self.cfg.dim}], got {list(x.shape)}"
            )
        reverse = None
        if self.cfg.bidirectional:
            if state is not None:
                raise ValueError(f"backbone {self.name!r} is bidirectional: it reads whole sequences, with no state")
            if lengths is None:  # every row is real to the end
                lengths = torch.full(x.shape[:1], x.shape[1], device=x.device)
            reverse = reversal_index(lengths, x.shape[1])  # [B, T]
        state = state or [None] * len(self.blocks)
        new_state = []
        for block, block_state in zip(self.blocks, state, strict=True):
            x, block_state = block(x, block_state, reverse)
            new_state.append(block_state)
        return self.norm(x), new_state


def list_backbones() -> dict[str, str]:
    """Every backbone name with a one-line description."""
    return {name: kind.description for name, kind in BACKBONES.items()}


def build_backbone(name: str, **overrides) -> Backbone:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    known = {f.name for f in fields(BackboneConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown backbone field(s) {', '.join(unknown)}; fields are {', '.join(sorted(known))}")
    return Backbone(name, BackboneConfig(**overrides))
