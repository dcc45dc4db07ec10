"""`NeuralMemory`: the Titans neural long-term memory layer (Titans section 3), in the MIRAS design space.

x -> q, k, v = l2norm(silu(conv4(x W_Q))), ...      (Titans section 4.4: conv, SiLU, l2-normalised q, k)
  -> theta_t, eta_t, alpha_t = gates(x_t)              (data-dependent, per head or per memory row)
  -> y_t = M_t(q_t), M_t written with (k_t, v_t)       (eq. 12-14, chunk-parallel as in eq. 16-18)
  -> out = W_O (RMSNorm(y) * sigmoid(x W_G))          (normalisation and a learned gate)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .chunked import chunked_recurrence
from .config import MemoryConfig
from .convolution import causal_depthwise_conv
from .kernels import unsupported_reason, warn_fallback
from .memory_model import memory_apply
from .reference import reference_recurrence
from .retention import start_chunk
from .state import MemoryInputs, MemoryState


def _triton_recurrence(inputs, memory, momentum, cfg):
    """The fused Triton kernels, imported on first use: importing titans.core never needs a working Triton,
    and TRITON_INTERPRET=1 (CPU tests) can be set before the kernels are compiled."""
    from .kernels.recurrence import triton_recurrence

    return triton_recurrence(inputs, memory, momentum, cfg)


# "auto" is resolved per call by `_resolve_backend`.
BACKENDS = {
    "auto": None,
    "chunked": chunked_recurrence,
    "reference": reference_recurrence,
    "triton": _triton_recurrence,
}
INFERENCE_PIECE = 4096  # tokens per piece when a long sequence is run without autograd


def run_recurrence(
    backend: str, inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """`BACKENDS[backend]` on these inputs.  Under autocast (mixed-precision training) the recurrence runs in
    float32 with autocast off, while the projections around it keep autocast's dtype: autocast would hand
    its matrix products bf16 operands and its hand-written gradient steps (layer norm and GELU backward)
    operands of two dtypes, which CUDA's kernels refuse, and the memory sums many small updates, for which
    bf16's 8 significant bits are too few."""
    device = inputs.key.device.type
    if not torch.is_autocast_enabled(device):
        return BACKENDS[backend](inputs, memory, momentum, cfg)

    def full(tensors: list[Tensor] | None) -> list[Tensor] | None:
        return None if tensors is None else [t.float() for t in tensors]

    with torch.autocast(device, enabled=False):
        return BACKENDS[backend](inputs.map_fields(Tensor.float), full(memory), full(momentum), cfg)


def _resolve_backend(backend: str, cfg: MemoryConfig, x: Tensor) -> str:
    """The backend that runs: for "auto", the Triton kernels on CUDA tensors without autograd (inference,
    where their fused forward is 2.7-7.7x faster at 4K tokens; their backward recomputes chunks in torch and is slower
    than "chunked" for training) where they support the configuration, else "chunked". "auto" on CUDA or
    "triton" where the kernels cannot run falls back to "chunked", with a warning (once per reason)."""
    if backend not in ("auto", "triton"):
        return backend
    if backend == "auto" and (not x.is_cuda or torch.is_grad_enabled()):
        return "chunked"
    # Under autocast the recurrence runs in float32 (run_recurrence): the dtype whose limits the kernels meet.
    sample = x.new_empty(0, dtype=torch.float32) if torch.is_autocast_enabled(x.device.type) else x
    reason = unsupported_reason(cfg, sample)
    if reason is None:
        return "triton"
    warn_fallback(backend, reason)
    return "chunked"


def _gate(dim: int, out: int, rank: int | None, bias_init: float) -> nn.Module:
    """A data-dependent gate projection dim -> out, low rank (dim -> rank -> out) when rank is set."""
    head = nn.Linear(dim if rank is None else rank, out)
    nn.init.constant_(head.bias, bias_init)
    return head if rank is None else nn.Sequential(nn.Linear(dim, rank, bias=False), head)


class NeuralMemory(nn.Module):
    def __init__(self, cfg: MemoryConfig):
        super().__init__()
        self.cfg = cfg
        heads, d = cfg.heads, cfg.dim_head
        inner = heads * d
        self.to_qkv = nn.Linear(cfg.dim, 3 * inner, bias=False)
        self.conv = nn.Conv1d(3 * inner, 3 * inner, cfg.conv_kernel, groups=3 * inner)

        def gate(channel_wise: bool, channels: int, bias_init: float) -> nn.Module:
            # A channel-wise gate (one value per output channel of every memory layer) is low rank by default.
            rank = (cfg.gate_rank or 32) if channel_wise else cfg.gate_rank
            return _gate(cfg.dim, heads * channels, rank, bias_init)

        self.lr_gate = gate(cfg.channel_lr, cfg.lr_channels, cfg.lr_bias_init) if cfg.lr_gate else None
        self.momentum_gate = (
            gate(cfg.channel_momentum, cfg.momentum_channels, cfg.momentum_bias_init) if cfg.momentum else None
        )
        self.forget_gate = (
            gate(cfg.channel_forget, cfg.retain_channels, cfg.forget_bias_init) if cfg.forget_gate else None
        )
        # Yaad: channel-wise, input-dependent Huber threshold delta_t = softplus(.) > 0.
        delta_logit = cfg.huber_delta_init + math.log(-math.expm1(-cfg.huber_delta_init))  # softplus^-1
        self.delta_gate = _gate(cfg.dim, inner, cfg.gate_rank, delta_logit) if cfg.bias == "huber" else None
        # Initial memory M_0 (learned, shared across the batch); matrix memories under decay start at 0.
        self.initial_memory = nn.ParameterList(
            nn.Parameter(
                torch.zeros(heads, out, fan_in)
                if cfg.memory_depth == 1 and cfg.retention == "decay"
                else torch.randn(heads, out, fan_in) / math.sqrt(fan_in)
            )
            for out, fan_in in cfg.layer_shapes
        )
        self.out_norm = nn.RMSNorm(d, eps=1e-6)  # a fixed eps: the same function in every dtype
        self.out_gate = nn.Linear(cfg.dim, inner)
        self.out_proj = nn.Linear(inner, cfg.dim, bias=False)

    def _initial_memory(self, batch: int) -> list[Tensor]:
        """M_0 for every sequence of the batch: [B * H, out, in] per layer."""
        return [w.unsqueeze(0).expand(batch, -1, -1, -1).flatten(0, 1) for w in self.initial_memory]

    def boundary_weights(self, state: MemoryState | None, batch: int) -> list[Tensor]:
        """The memory's weights at the state's last chunk boundary (M_0 when state is None), [B * H, out, in]."""
        return start_chunk(self._initial_memory(batch) if state is None else state.memory, self.cfg).weights

    def read(self, x: Tensor, weights: list[Tensor], query_cache: Tensor | None) -> tuple[Tensor, Tensor]:
        """M*(q(x)) through the layer's output path, without writing: [B, T, dim], and the query
        convolution's cache to continue from ([B, conv_kernel - 1, H * D]).  MAC's retrieval (eq. 21)."""
        cfg, batch = self.cfg, x.shape[0]
        inner = cfg.heads * cfg.dim_head
        q, query_cache = causal_depthwise_conv(  # the query rows of the projection and the convolution
            F.linear(x, self.to_qkv.weight[:inner]), query_cache, self.conv.weight[:inner, 0], self.conv.bias[:inner]
        )
        q = F.normalize(F.silu(q).unflatten(1, (cfg.heads, cfg.dim_head)).mT, dim=-1)  # [B, H, T, D]
        retrieved = memory_apply(weights, q.flatten(0, 1), cfg.layer_norm_eps)  # [B * H, T, D]
        return self._output(retrieved.unflatten(0, (batch, cfg.heads)).transpose(1, 2), x), query_cache

    def _output(self, y: Tensor, x: Tensor) -> Tensor:
        """Retrieved values y: [B, T, H, D] -> out_proj(RMSNorm(y) * sigmoid(x W_G)): [B, T, dim]."""
        gate = torch.sigmoid(self.out_gate(x)).unflatten(-1, (self.cfg.heads, self.cfg.dim_head))
        return self.out_proj((self.out_norm(y) * gate).flatten(2))

    def _inputs(self, x: Tensor, conv_cache: Tensor | None) -> tuple[MemoryInputs, Tensor | None]:
        cfg, (batch, length, _) = self.cfg, x.shape
        heads = cfg.heads
        mixed, new_cache = causal_depthwise_conv(self.to_qkv(x), conv_cache, self.conv.weight[:, 0], self.conv.bias)

        def per_head(t: Tensor) -> Tensor:  # [B, T, H * D] -> [B * H, T, D]
            return t.reshape(batch, length, heads, -1).transpose(1, 2).reshape(batch * heads, length, -1)

        def per_head_channels_first(t: Tensor) -> Tensor:  # [B, H * D, T] -> [B * H, T, D]
            return t.reshape(batch * heads, -1, length).mT.contiguous()

        def gate_logits(gate: nn.Module, channel_wise: bool) -> Tensor:
            """A gate's logits: [B * H, T] per head, or [B * H, T, R] per output channel of every layer."""
            logits = per_head(gate(x))  # [B * H, T, 1 | R]
            return logits if channel_wise else logits.squeeze(-1)

        q, k, v = (per_head_channels_first(t) for t in F.silu(mixed).chunk(3, dim=1))
        lr = (
            cfg.max_lr * torch.sigmoid(gate_logits(self.lr_gate, cfg.channel_lr))
            if self.lr_gate is not None
            else x.new_full((batch * heads, length), cfg.max_lr)
        )
        inputs = MemoryInputs(
            query=F.normalize(q, dim=-1),
            key=F.normalize(k, dim=-1),
            value=v,
            lr=lr,
            log_retain=(
                F.logsigmoid(-gate_logits(self.forget_gate, cfg.channel_forget))  # log(1 - alpha_t)
                if self.forget_gate is not None
                else x.new_zeros(batch * heads, length)
            ),
            log_momentum=(
                None
                if self.momentum_gate is None
                else F.logsigmoid(gate_logits(self.momentum_gate, cfg.channel_momentum))  # log eta_t
            ),
            delta=None if self.delta_gate is None else F.softplus(per_head(self.delta_gate(x))),
        )
        return inputs, new_cache

    def forward(self, x: Tensor, state: MemoryState | None = None, backend: str = "auto") -> tuple[Tensor, MemoryState]:
        """x: [B, T, dim] -> (y: [B, T, dim], state to continue from).

        backend: "auto" (the Triton kernels for inference on CUDA where they support the configuration,
        else "chunked"), "chunked", "triton" or "reference"."""
        cfg = self.cfg
        if x.ndim != 3 or x.shape[-1] != cfg.dim:
            raise ValueError(f"NeuralMemory expects x of shape [batch, time, {cfg.dim}], got {list(x.shape)}")
        if x.shape[1] == 0:
            raise ValueError("NeuralMemory got an empty sequence (time dimension 0)")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if state is not None and state.memory[0].shape[0] != x.shape[0] * cfg.heads:
            raise ValueError(
                f"state is for batch size {state.memory[0].shape[0] // cfg.heads}, but x has batch size {x.shape[0]}"
            )
        backend = _resolve_backend(backend, cfg, x)
        if torch.is_grad_enabled() or x.shape[1] <= INFERENCE_PIECE:
            return self._forward(x, state, backend)
        # Without autograd, a long sequence is streamed through in pieces (exactly equal, see the streaming
        # tests), so a call's working memory stays bounded whatever its length.
        outputs = []
        for piece in x.split(INFERENCE_PIECE, dim=1):
            y, state = self._forward(piece, state, backend)
            outputs.append(y)
        return torch.cat(outputs, dim=1), state

    def _forward(self, x: Tensor, state: MemoryState | None, backend: str) -> tuple[Tensor, MemoryState]:
        cfg, (batch, length, _) = self.cfg, x.shape
        inputs, conv_cache = self._inputs(x, None if state is None else state.conv_cache)
        if state is None:
            memory = self._initial_memory(batch)
            momentum = [torch.zeros_like(m) for m in memory] if cfg.momentum else None
            replay = 0
        else:
            memory, momentum = state.memory, state.momentum
            replay = state.pending.length  # tokens since the last chunk boundary, written again
            inputs = inputs.prepend(state.pending)
        retrieved, memory, momentum = run_recurrence(backend, inputs, memory, momentum, cfg)
        total = inputs.length
        pending = inputs.slice(total - total % cfg.chunk_size, total)
        new_state = MemoryState(memory=memory, momentum=momentum, pending=pending, conv_cache=conv_cache)

        y = retrieved[:, replay:].reshape(batch, cfg.heads, length, cfg.dim_head).transpose(1, 2)  # [B, T, H, D]
        return self._output(y, x), new_state
