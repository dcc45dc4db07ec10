"""Shared helpers for the memory tests."""

from __future__ import annotations

import torch

from titans.core import MemoryConfig, MemoryState, NeuralMemory


def small_memory(**overrides) -> NeuralMemory:
    """A float64 memory small enough for the token-by-token reference.

    max_lr and the forgetting are lowered so that 100 steps of online gradient descent (chunk_size 1)
    stay well conditioned: at the defaults some design points are chaotic in tiny dimensions, and a
    1e-15 change of the input moves the reference itself by up to 1e-3, which no comparison can see
    through.
    """
    fields = {
        "dim": 8,
        "heads": 2,
        "expansion": 2,
        "chunk_size": 16,
        "max_lr": 0.02,
        "forget_bias_init": -7.0,
        **overrides,
    }
    torch.manual_seed(0)
    return NeuralMemory(MemoryConfig(**fields)).double()


def state_tensors(state: MemoryState) -> list[torch.Tensor]:
    """Every tensor a state holds, in a fixed order (for comparisons)."""
    tensors = list(state.memory) + list(state.momentum or [])
    pending = state.pending
    tensors += [t for t in (pending.query, pending.key, pending.value, pending.lr, pending.log_retain) if t is not None]
    tensors += [t for t in (pending.log_momentum, pending.delta, state.conv_cache) if t is not None]
    return tensors


def assert_close(actual, expected, rtol: float, what: str, atol: float = 1e-12) -> None:
    """max |actual - expected| <= rtol * max |expected| + atol (atol only matters for values near zero)."""
    assert actual.shape == expected.shape, f"{what}: shape {list(actual.shape)} != {list(expected.shape)}"
    if expected.numel() == 0:
        return
    scale = expected.abs().max().item()
    error = (actual - expected).abs().max().item()
    assert error <= rtol * scale + atol, f"{what}: max error {error:.3e} at scale {scale:.3e} (rtol {rtol:.0e})"
