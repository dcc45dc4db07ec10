"""The chunk-parallel memory equals the token-by-token reference in float64: outputs, the state it
hands on, and the gradient of every parameter, across the whole MIRAS design space."""

import itertools

import pytest
import torch

from .helpers import assert_close, small_memory, state_tensors

DESIGN_SPACE = list(itertools.product(["l2", "lp", "huber", "dot"], ["decay", "lq", "kl"], [1, 2, 3], [True, False]))
LENGTHS_AND_CHUNKS = list(itertools.product([1, 15, 63, 64, 100], [1, 16, 64]))
RTOL = 1e-8


@pytest.mark.parametrize(("bias", "retention", "depth", "momentum"), DESIGN_SPACE)
def test_chunked_equals_reference(bias, retention, depth, momentum):
    for length, chunk in LENGTHS_AND_CHUNKS:
        mem = small_memory(bias=bias, retention=retention, memory_depth=depth, momentum=momentum, chunk_size=chunk)
        x = torch.randn(2, length, mem.cfg.dim, dtype=torch.float64)
        where = f"T={length} chunk={chunk}"
        y_fast, s_fast = mem(x)
        y_ref, s_ref = mem(x, backend="reference")
        assert_close(y_fast, y_ref, RTOL, f"output {where}")
        for fast, ref in zip(state_tensors(s_fast), state_tensors(s_ref), strict=True):
            assert_close(fast, ref, RTOL, f"state {where}")
        # An outer loss that reads both the outputs and the final memory, so gradients flow through both.
        params = list(mem.parameters())
        loss_fast = y_fast.square().sum() + sum(m.square().sum() for m in s_fast.memory)
        loss_ref = y_ref.square().sum() + sum(m.square().sum() for m in s_ref.memory)
        grads_fast = torch.autograd.grad(loss_fast, params, allow_unused=True, materialize_grads=True)
        grads_ref = torch.autograd.grad(loss_ref, params, allow_unused=True, materialize_grads=True)
        for (name, _), g_fast, g_ref in zip(mem.named_parameters(), grads_fast, grads_ref, strict=True):
            assert_close(g_fast, g_ref, RTOL, f"grad of {name} {where}")
