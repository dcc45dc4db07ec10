"""`MemoryConfig`: one point in the MIRAS design space (memory architecture, attentional bias,
retention gate, memory algorithm), plus the layer's projection and gate settings.

Every field has a default; `__post_init__` rejects bad values with a message naming the field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

AttentionalBias = Literal["l2", "lp", "huber", "dot"]
Retention = Literal["decay", "lq", "kl"]

_BIASES = ("l2", "lp", "huber", "dot")
_RETENTIONS = ("decay", "lq", "kl")


@dataclass
class MemoryConfig:
    """Configuration of a `NeuralMemory` layer.

    Memory architecture:
        memory_depth: 1 is a matrix (linear) memory M(x) = W x; >= 2 is the residual MLP
            M(x) = x + LN(W_L gelu(... gelu(W_1 x))) of Titans section 3.1 (conference version).
        expansion: hidden width of the MLP memory, as a multiple of `head_dim`.
    Attentional bias (the inner loss l(M; k, v)):
        "l2": ||M(k) - v||_2^2 (Titans eq. 12);  "lp": ||M(k) - v||_p^p with |x| ~ sqrt(x^2 + lp_eps)
        (MIRAS Moneta);  "huber": channel-wise Huber loss with learned, input-dependent delta (MIRAS Yaad);
        "dot": -<M(k), v> (linear attention / Hebbian rule).
    Retention gate:
        "decay": M_t = (1 - alpha_t) M_{t-1} + S_t (Titans eq. 13);  "lq": A_t = (1 - alpha_t) A_{t-1} + S_t,
        W = A / ||A||_q^(q-2) (MIRAS eq. 24, Moneta);  "kl": W = softmax(log-space accumulator) row-wise
        (MIRAS eq. 27, Memora).  For "lq" and "kl" the normalisation is applied at chunk boundaries.
    Memory algorithm:
        momentum: S_t = eta_t S_{t-1} - theta_t grad (Titans eq. 14) if True, else S_t = -theta_t grad.
    Chunk-parallel training:
        chunk_size: b of Titans section 3.2; every gradient inside a chunk is taken at the chunk-start
            weights (b = 1 is exact online gradient descent).
    Gates (per head, data-dependent, sigmoid of a projection of x_t):
        max_lr: theta_t = max_lr * sigmoid(.) (or the constant max_lr when `lr_gate` is False).
        forget_gate: False fixes alpha_t = 0 (no retention decay: linear attention, DeltaNet).
        channel_forget: alpha_t per output channel of every memory layer instead of per head (the Titans
            conference version's channel-wise forgetting; MIRAS's low-rank, channel-wise gates): each
            layer's accumulator rows decay at their own rate, A_t = diag(1 - alpha_t) A_{t-1} + S_t.  Its
            projection is low rank (dim -> gate_rank, default 32 -> heads x the layers' output widths).
        channel_momentum: eta_t per output channel of every memory layer (needs momentum=True): each
            layer's momentum rows decay at their own rate, S_t = diag(eta_t) S_{t-1} - theta_t grad
            (Titans eq. 14 with MIRAS's channel-wise gates).  Low-rank projection as for channel_forget.
        channel_lr: theta_t per output channel of every memory layer (needs lr_gate=True): row r of each
            layer's per-token gradient is scaled by its own step size, S_t = eta_t S_{t-1} - diag(theta_t)
            grad (eq. 14).  For the last layer this is the inner loss weighted per output channel; for
            hidden layers it is a per-row step size.  theta_t = max_lr * sigmoid(.) per channel, low-rank
            projection as for channel_forget.
        The three channel-wise options combine freely with each other and with every bias, retention,
        depth and momentum setting (rows of a memory layer never mix in the update).
        gate_rank: if set, the gate projections are low rank (dim -> gate_rank -> heads), as in MIRAS;
            channel-wise gates use gate_rank or 32.
        *_bias_init: initial biases of the gate projections (logits).
    """

    dim: int
    heads: int = 4
    head_dim: int | None = None
    memory_depth: int = 2
    expansion: int = 4
    chunk_size: int = 64
    bias: AttentionalBias = "l2"
    p: float = 3.0
    lp_eps: float = 1e-6
    retention: Retention = "decay"
    q: float = 4.0
    momentum: bool = True
    conv_kernel: int = 4
    max_lr: float = 0.1
    lr_gate: bool = True
    forget_gate: bool = True
    channel_forget: bool = False
    channel_momentum: bool = False
    channel_lr: bool = False
    gate_rank: int | None = None
    lr_bias_init: float = 0.0
    momentum_bias_init: float = 0.0
    forget_bias_init: float = -4.0
    huber_delta_init: float = 1.0
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, why: str) -> None:
            if not ok:
                raise ValueError(f"MemoryConfig.{field}={getattr(self, field)!r}: {why}")

        need(isinstance(self.dim, int) and self.dim > 0, "dim", "must be a positive integer")
        need(isinstance(self.heads, int) and self.heads > 0, "heads", "must be a positive integer")
        if self.head_dim is None:
            need(self.dim % self.heads == 0, "heads", f"must divide dim={self.dim} (or set head_dim)")
        else:
            need(self.head_dim > 0, "head_dim", "must be positive")
        need(self.memory_depth >= 1, "memory_depth", "must be >= 1 (1 = matrix memory, >= 2 = MLP)")
        need(self.expansion >= 1, "expansion", "must be >= 1")
        need(self.chunk_size >= 1, "chunk_size", "must be >= 1")
        need(self.bias in _BIASES, "bias", f"must be one of {', '.join(_BIASES)}")
        need(self.retention in _RETENTIONS, "retention", f"must be one of {', '.join(_RETENTIONS)}")
        need(self.p >= 1.0, "p", "must be >= 1")
        need(self.q > 2.0, "q", "must be > 2 (q = 2 is plain 'decay' retention)")
        need(self.lp_eps > 0, "lp_eps", "must be positive")
        need(self.conv_kernel >= 1, "conv_kernel", "must be >= 1 (1 = no temporal mixing)")
        need(self.max_lr > 0, "max_lr", "must be positive")
        need(self.gate_rank is None or self.gate_rank >= 1, "gate_rank", "must be None or >= 1")
        need(self.forget_gate or not self.channel_forget, "channel_forget", "needs forget_gate=True")
        need(self.momentum or not self.channel_momentum, "channel_momentum", "needs momentum=True")
        need(self.lr_gate or not self.channel_lr, "channel_lr", "needs lr_gate=True (a constant step size has no gate)")
        need(self.huber_delta_init > 0, "huber_delta_init", "must be positive")

    @property
    def dim_head(self) -> int:
        """Width of one head's keys, values and queries."""
        return self.head_dim if self.head_dim is not None else self.dim // self.heads

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each memory weight matrix, in the order they are applied to a key."""
        d, h = self.dim_head, self.dim_head * self.expansion
        if self.memory_depth == 1:
            return [(d, d)]
        return [(h, d)] + [(h, h)] * (self.memory_depth - 2) + [(d, h)]

    @property
    def memory_rows(self) -> int:
        """Output channels of all memory layers together: the width of a channel-wise gate, per head."""
        return sum(out for out, _ in self.layer_shapes)

    @property
    def retain_channels(self) -> int:
        """Forget-gate values per head and token: 1, or every layer's output width with channel_forget."""
        return self.memory_rows if self.channel_forget else 1

    @property
    def momentum_channels(self) -> int:
        """Momentum-gate values per head and token: 1, or every layer's output width with channel_momentum."""
        return self.memory_rows if self.channel_momentum else 1

    @property
    def lr_channels(self) -> int:
        """Step-size values per head and token: 1, or every layer's output width with channel_lr."""
        return self.memory_rows if self.channel_lr else 1

    @property
    def row_gates(self) -> bool:
        """Some gate that shapes the state recurrence (forget or momentum) is channel-wise, so every row of a
        memory layer has its own transfer coefficients (the chunked path's row-by-row form)."""
        return self.channel_forget or self.channel_momentum

    def to_dict(self) -> dict:
        return asdict(self)
