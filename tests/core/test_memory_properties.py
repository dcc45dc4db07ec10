"""Causality, determinism, gradient flow, long-stream stability and bad input of the memory layer."""

import pytest
import torch

from titans.core import PRESETS, MemoryConfig, NeuralMemory

from .helpers import small_memory


@pytest.mark.parametrize("backend", ["chunked", "reference"])
def test_causal(backend):
    mem = small_memory(chunk_size=8)
    x = torch.randn(1, 30, 8, dtype=torch.float64)
    changed = x.clone()
    changed[:, 17:] = torch.randn(1, 13, 8, dtype=torch.float64)
    with torch.no_grad():
        y, _ = mem(x, backend=backend)
        y_changed, _ = mem(changed, backend=backend)
    assert torch.equal(y[:, :17], y_changed[:, :17])
    assert not torch.allclose(y[:, 17:], y_changed[:, 17:])


def test_seed_fixes_parameters_and_outputs():
    def run():
        torch.manual_seed(123)
        mem = NeuralMemory(MemoryConfig(dim=16, heads=2))
        return mem(torch.randn(2, 40, 16))[0]

    assert torch.equal(run(), run())


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_gradients_reach_every_parameter(preset):
    torch.manual_seed(0)
    mem = NeuralMemory(PRESETS[preset](16, heads=2, chunk_size=8))
    y, state = mem(torch.randn(2, 40, 16))
    (y.square().mean() + sum(m.square().mean() for m in state.memory)).backward()
    for name, param in mem.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_streaming_65536_tokens_stays_finite(preset):
    torch.manual_seed(0)
    mem = NeuralMemory(PRESETS[preset](64, heads=4))
    state = None
    with torch.no_grad():
        for _ in range(16):
            y, state = mem(torch.randn(1, 4096, 64), state=state)
            assert torch.isfinite(y).all()
    assert all(torch.isfinite(m).all() for m in state.memory)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dim": 10, "heads": 4}, "MemoryConfig.heads=4: must divide dim=10"),
        ({"dim": 8, "bias": "l3"}, "MemoryConfig.bias='l3': must be one of"),
        ({"dim": 8, "retention": "l2"}, "MemoryConfig.retention='l2': must be one of"),
        ({"dim": 8, "memory_depth": 0}, "MemoryConfig.memory_depth=0"),
        ({"dim": 8, "chunk_size": 0}, "MemoryConfig.chunk_size=0"),
        ({"dim": 8, "q": 2.0}, "MemoryConfig.q=2.0"),
    ],
)
def test_bad_config_names_the_field(fields, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        MemoryConfig(**fields)


def test_bad_input_shape_and_backend():
    mem = small_memory()
    with pytest.raises(ValueError, match=r"shape \[batch, time, 8\]"):
        mem(torch.randn(2, 5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="empty sequence"):
        mem(torch.randn(2, 0, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        mem(torch.randn(2, 5, 8, dtype=torch.float64), backend="fast")
