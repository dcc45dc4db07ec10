"""The backward pass of the Triton backend: torch recomputation per chunk, not a fused kernel.

The forward kernel saved the memory (and momentum) at every chunk start. Walking the chunks in reverse,
each chunk is recomputed from its saved start state with the chunked path's own functions
(`chunked.single_chunk`) under autograd, in the compute dtype (float32, or float64 for float64 inputs),
and back-propagates (dy of the chunk, gradient of the state at its end) into (gradients of the chunk's
inputs, gradient of the state at its start). Only one chunk's activations are alive at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..chunked import single_chunk
from ..config import MemoryConfig
from ..state import MemoryInputs

_INPUT_FIELDS = ("query", "key", "value", "lr", "log_retain", "log_momentum")


@dataclass
class InputGrads:
    """Gradients of the recurrence's inputs, each the shape of its input (log_momentum None without momentum)."""

    query: Tensor  # [N, T, D]
    key: Tensor
    value: Tensor
    lr: Tensor  # [N, T]
    log_retain: Tensor
    log_momentum: Tensor | None
    memory: list[Tensor]  # per layer, [N, out, in]
    momentum: list[Tensor] | None


def _leaves(tensors: list[Tensor], dtype: torch.dtype) -> list[Tensor]:
    return [t.detach().to(dtype).requires_grad_() for t in tensors]


def recompute_backward(
    inputs: MemoryInputs,
    saved_memory: list[Tensor],
    saved_momentum: list[Tensor] | None,
    grad_retrieved: Tensor,
    grad_memory: list[Tensor],
    grad_momentum: list[Tensor] | None,
    cfg: MemoryConfig,
) -> InputGrads:
    """Back-propagate through the chunks in reverse.

    saved_*: per layer [N, n_chunks, out, in], the state at every chunk start (compute dtype);
    grad_retrieved: [N, T, D]; grad_memory / grad_momentum: per layer [N, out, in], the gradients of the
    state handed back (the one at the last whole-chunk boundary).
    """
    compute = saved_memory[0].dtype
    length, size = inputs.length, cfg.chunk_size
    fields = [getattr(inputs, name) for name in _INPUT_FIELDS]
    grads = [None if f is None else torch.zeros_like(f, dtype=compute) for f in fields]
    state_grad = [g.to(compute) for g in grad_memory + (grad_momentum or [])]  # at the chunk end walked to
    n_chunks = saved_memory[0].shape[1]
    for index in reversed(range(n_chunks)):
        lo, hi = index * size, min(length, (index + 1) * size)
        with torch.enable_grad():
            chunk_fields = [None if f is None else f[:, lo:hi].detach().to(compute).requires_grad_() for f in fields]
            chunk = MemoryInputs(*chunk_fields, delta=None)
            memory = _leaves([m[:, index] for m in saved_memory], compute)
            momentum = None if saved_momentum is None else _leaves([s[:, index] for s in saved_momentum], compute)
            retrieved, end_memory, end_momentum = single_chunk(chunk, memory, momentum, cfg)  # y: [N, D, c]
        starts = memory + (momentum or [])
        outputs, output_grads = [retrieved], [grad_retrieved[:, lo:hi].mT.to(compute)]
        whole = end_memory is not None
        if whole:  # the state at its end feeds the next chunk (or is the state handed back)
            outputs += end_memory + (end_momentum or [])
            output_grads += state_grad
        leaves = [f for f in chunk_fields if f is not None] + starts
        leaf_grads = iter(torch.autograd.grad(outputs, leaves, output_grads, allow_unused=True, materialize_grads=True))
        for grad, f in zip(grads, chunk_fields):
            if f is not None:
                grad[:, lo:hi] = next(leaf_grads)
        start_grads = list(leaf_grads)
        # A partial chunk's start is the boundary handed back: its gradient adds to the one from outside.
        state_grad = start_grads if whole else [g + s for g, s in zip(start_grads, state_grad)]
    depth = len(saved_memory)
    grads = [None if g is None else g.to(f.dtype) for g, f in zip(grads, fields)]
    memory_grads = state_grad[:depth]
    momentum_grads = None if saved_momentum is None else state_grad[depth:]
    return InputGrads(*grads, memory=memory_grads, momentum=momentum_grads)
