"""The chunk-parallel memory equals the token-by-token reference in float64: outputs, the state it
hands on, and the gradient of every parameter, across the whole MIRAS design space."""

import itertools

import pytest
import torch

from .helpers import assert_close, small_memory, state_tensors

DESIGN_SPACE = list(itertools.product(["l2", "lp", "huber", "dot"], ["decay", "lq", "kl"], [1, 2, 3], [True, False]))
LENGTHS_AND_CHUNKS = list(itertools.product([1, 15, 63, 64, 100], [1, 16, 64]))
RTOL = 1e-8


def _assert_chunked_equals_reference(mem, length: int, where: str) -> None:
    x = torch.randn(2, length, mem.cfg.dim, dtype=torch.float64)
    (y_fast, s_fast), (y_ref, s_ref) = mem(x), mem(x, backend="reference")
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


@pytest.mark.parametrize(("bias", "retention", "depth", "momentum"), DESIGN_SPACE)
def test_chunked_equals_reference(bias, retention, depth, momentum):
    for length, chunk in LENGTHS_AND_CHUNKS:
        mem = small_memory(bias=bias, retention=retention, memory_depth=depth, momentum=momentum, chunk_size=chunk)
        _assert_chunked_equals_reference(mem, length, f"T={length} chunk={chunk}")


CHANNEL_FORGET_SPACE = [(bias, retention, depth, momentum) for bias, retention, depth, momentum in DESIGN_SPACE
                        if bias in ("l2", "huber") and depth <= 2]  # fmt: skip


@pytest.mark.parametrize(("bias", "retention", "depth", "momentum"), CHANNEL_FORGET_SPACE)
def test_channel_wise_forgetting_equals_reference(bias, retention, depth, momentum):
    """alpha_t per output channel of every layer (channel_forget): every accumulator row decays at its own rate."""
    for length, chunk in [(15, 16), (63, 16), (100, 16), (17, 1), (64, 64)]:
        mem = small_memory(bias=bias, retention=retention, memory_depth=depth, momentum=momentum, chunk_size=chunk,
                           channel_forget=True, forget_bias_init=-3.0)  # fmt: skip
        _assert_chunked_equals_reference(mem, length, f"T={length} chunk={chunk}")
        assert mem.forget_gate[0].weight.shape[0] == 32  # low rank by default
