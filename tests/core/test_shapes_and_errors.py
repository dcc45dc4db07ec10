"""Unusual shapes and options against the reference, dtype consistency, and clear errors."""

import pytest
import torch

from titans.core import NeuralMemory, deltanet

from .helpers import assert_close, small_memory

SHAPES = [
    {"head_dim": 3},
    {"expansion": 1},
    {"gate_rank": 2},
    {"lr_gate": False},
    {"forget_gate": False},
    {"conv_kernel": 1},
    {"conv_kernel": 2},
]


@pytest.mark.parametrize("overrides", SHAPES, ids=[next(iter(o)) + "=" + str(*o.values()) for o in SHAPES])
@pytest.mark.parametrize(("batch", "length"), [(1, 48), (3, 37)])
def test_unusual_shapes_match_reference(overrides, batch, length):
    mem = small_memory(**overrides)
    x = torch.randn(batch, length, 8, dtype=torch.float64)
    y_fast, s_fast = mem(x)
    y_ref, s_ref = mem(x, backend="reference")
    assert_close(y_fast, y_ref, 1e-10, "output")
    for fast, ref in zip(s_fast.memory, s_ref.memory, strict=True):
        assert_close(fast, ref, 1e-10, "memory")


def test_float32_computes_the_float64_function():
    torch.manual_seed(0)
    mem = NeuralMemory(deltanet(32, heads=2))
    x = torch.randn(1, 192, 32)
    y32, _ = mem(x)
    y64, _ = mem.double()(x.double())
    assert_close(y32.double(), y64, 1e-4, "float32 vs float64")


def test_state_from_another_batch_size_is_refused():
    mem = small_memory()
    _, state = mem(torch.randn(2, 5, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="state is for batch size 2, but x has batch size 3"):
        mem(torch.randn(3, 5, 8, dtype=torch.float64), state=state)


def test_reference_refuses_inference_mode():
    mem = small_memory()
    with torch.inference_mode(), pytest.raises(RuntimeError, match=r"cannot run under torch\.inference_mode"):
        mem(torch.randn(1, 5, 8, dtype=torch.float64), backend="reference")
    with torch.inference_mode():
        mem(torch.randn(1, 5, 8, dtype=torch.float64))  # the chunked path is fine there


def test_huge_huber_delta_init_is_representable():
    mem = small_memory(bias="huber", huber_delta_init=1000.0)
    assert torch.isfinite(mem.delta_gate.bias).all()
