"""`triton_recurrence`: the Triton backend's entry point, with the contract of `chunked.chunked_recurrence`.

Forward: the fused kernel (`forward.py`). Backward: torch recomputation per chunk from the states the
forward kernel saved at every chunk start (`backward.py`), not a fused kernel. Gradients reach query,
key, value, lr, log_retain, log_momentum and the initial memory and momentum.
"""

from __future__ import annotations

import torch
from torch import Tensor
from triton.runtime.errors import OutOfResources

from ..chunked import chunked_recurrence
from ..config import MemoryConfig
from ..state import MemoryInputs
from .backward import recompute_backward
from .forward import run_forward
from .support import warn_fallback


class _TritonRecurrence(torch.autograd.Function):
    """(cfg, query, key, value, lr, log_retain, log_momentum, *memory, *momentum) ->
    (retrieved, *memory at the last whole-chunk boundary, *momentum there)."""

    @staticmethod
    def forward(ctx, cfg: MemoryConfig, query, key, value, lr, log_retain, log_momentum, *state):
        depth = cfg.memory_depth
        memory, momentum = list(state[:depth]), list(state[depth:]) or None
        inputs = MemoryInputs(query, key, value, lr, log_retain, log_momentum, delta=None)
        result = run_forward(inputs, memory, momentum, cfg, save_states=True)
        ctx.cfg = cfg
        ctx.state_dtypes = [s.dtype for s in state]
        ctx.save_for_backward(query, key, value, lr, log_retain, log_momentum)
        ctx.saved_memory, ctx.saved_momentum = result.saved_memory, result.saved_momentum
        return result.retrieved, *result.memory, *(result.momentum or [])

    @staticmethod
    def backward(ctx, grad_retrieved, *grad_state):
        cfg = ctx.cfg
        depth = cfg.memory_depth
        inputs = MemoryInputs(*ctx.saved_tensors, delta=None)
        grad_momentum = list(grad_state[depth:]) or None
        grads = recompute_backward(
            inputs, ctx.saved_memory, ctx.saved_momentum, grad_retrieved, list(grad_state[:depth]), grad_momentum, cfg
        )
        state_grads = [g.to(dtype) for g, dtype in zip(grads.memory + (grads.momentum or []), ctx.state_dtypes)]
        input_grads = (grads.query, grads.key, grads.value, grads.lr, grads.log_retain, grads.log_momentum)
        return None, *input_grads, *state_grads


def triton_recurrence(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Same contract as `chunked.chunked_recurrence` for the configurations of `support.unsupported_reason`.
    Where the kernel needs more shared memory than the GPU has (large chunk x hidden width, float32), it
    falls back to the chunked path with a warning."""
    try:
        return _run(inputs, memory, momentum, cfg)
    except OutOfResources as error:  # raised at launch, before anything is written
        warn_fallback("triton", f"chunk_size {cfg.chunk_size} x this memory's width on this GPU ({error})")
        return chunked_recurrence(inputs, memory, momentum, cfg)


def _run(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    tensors = [inputs.query, inputs.key, inputs.value, inputs.lr, inputs.log_retain, inputs.log_momentum]
    state = memory + (momentum or [])
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors + state)):
        result = run_forward(inputs, memory, momentum, cfg, save_states=False)
        return result.retrieved, result.memory, result.momentum
    retrieved, *end_state = _TritonRecurrence.apply(cfg, *tensors, *state)
    depth = cfg.memory_depth
    return retrieved, end_state[:depth], None if momentum is None else end_state[depth:]
