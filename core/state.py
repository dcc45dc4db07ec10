"""Containers passed between the memory layer and its backends.

`MemoryInputs`: the per-token quantities the memory recurrence consumes, heads folded into the batch
(N = batch x heads).  `MemoryState`: everything needed to continue a sequence exactly where it stopped,
including in the middle of a chunk: the memory at the last chunk boundary plus the (fewer than
chunk_size) tokens written since, which the next call replays, and the convolution's left context.
Its size depends on the configuration only, never on how many tokens have been seen.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace

import torch
from torch import Tensor


@dataclass
class MemoryInputs:
    query: Tensor  # [N, T, D]
    key: Tensor  # [N, T, D]
    value: Tensor  # [N, T, D]
    # The gates are [N, T] per head, or [N, T, R] per output channel of every memory layer (R = the layers'
    # output widths together, in layer order) with channel_lr / channel_forget / channel_momentum.
    lr: Tensor  # theta_t: [N, T] or [N, T, R] (channel_lr)
    log_retain: Tensor  # log(1 - alpha_t): [N, T] or [N, T, R] (channel_forget)
    log_momentum: Tensor | None  # log eta_t: [N, T] or [N, T, R] (channel_momentum); None without momentum
    delta: Tensor | None  # huber threshold, [N, T, D]; None for other biases

    @property
    def length(self) -> int:
        return self.key.shape[1]

    def map_fields(self, fn) -> MemoryInputs:
        """The same inputs with `fn` applied to every tensor field."""
        return replace(self, **{f.name: fn(t) for f in fields(self) if (t := getattr(self, f.name)) is not None})

    def slice(self, start: int, stop: int) -> MemoryInputs:
        return self.map_fields(lambda t: t[:, start:stop])

    def split(self, size: int) -> list[MemoryInputs]:
        """Consecutive pieces of `size` tokens (the last may be shorter).  One split, not many slices:
        autograd then joins the pieces' gradients once instead of filling a full-length zero tensor
        per piece."""
        pieces = {f.name: t.split(size, dim=1) for f in fields(self) if (t := getattr(self, f.name)) is not None}
        count = len(pieces["key"])
        return [replace(self, **{name: parts[i] for name, parts in pieces.items()}) for i in range(count)]

    def prepend(self, earlier: MemoryInputs) -> MemoryInputs:
        """`earlier` followed by these tokens along the time axis."""
        return replace(
            self,
            **{
                f.name: torch.cat([getattr(earlier, f.name), t], dim=1)
                for f in fields(self)
                if (t := getattr(self, f.name)) is not None
            },
        )


@dataclass
class MemoryState:
    memory: list[Tensor]  # accumulator A per memory layer at the last chunk boundary, [N, out, in]
    momentum: list[Tensor] | None  # S per layer at the last chunk boundary; None without momentum
    pending: MemoryInputs  # tokens written since that boundary (length < chunk_size)
    conv_cache: Tensor | None  # last conv_kernel - 1 projected q/k/v rows, [B, conv_kernel - 1, 3 H D]

    def detach(self) -> MemoryState:
        """Cut the autograd history (truncated back-propagation through time)."""
        return detach_state(self)

    def repeat(self, batch: int) -> MemoryState:
        """This state (of one sequence) as the state of each of `batch` sequences: N = H -> batch x H, with the
        batch index outermost as everywhere else (n = b * H + h).  Gradients of the copies add up."""
        if self.conv_cache is not None and self.conv_cache.shape[0] != 1:
            raise ValueError(f"MemoryState.repeat needs the state of one sequence, got {self.conv_cache.shape[0]}")

        def copies(t: Tensor) -> Tensor:
            return t.repeat(batch, *(1,) * (t.ndim - 1))

        return MemoryState(
            memory=[copies(m) for m in self.memory],
            momentum=None if self.momentum is None else [copies(m) for m in self.momentum],
            pending=self.pending.map_fields(copies),
            conv_cache=None if self.conv_cache is None else copies(self.conv_cache),
        )


def detach_state(state):
    """Any streaming state (a memory's, an attention cache, a backbone's nested lists of them) with every
    tensor cut from the autograd graph: for truncated back-propagation through time."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, list | tuple):
        return type(state)(detach_state(part) for part in state)
    if is_dataclass(state):
        return replace(state, **{f.name: detach_state(getattr(state, f.name)) for f in fields(state)})
    return state
