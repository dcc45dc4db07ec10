"""The memory's surprise: its definition at the chunk-start weights, streaming, and what it measures."""

import pytest
import torch

from titans.core import MemoryConfig, NeuralMemory, build_backbone
from titans.core.reference import token_grads
from titans.core.surprise import memory_surprise, surprise_tracks


def _memory(**overrides) -> NeuralMemory:
    torch.manual_seed(0)
    return NeuralMemory(MemoryConfig(**{"dim": 16, "heads": 2, "chunk_size": 4, **overrides})).double()


def test_first_chunk_is_the_gradient_norm_at_the_initial_weights():
    memory = _memory()
    x = torch.randn(1, 4, 16, dtype=torch.float64)
    inputs, _ = memory._inputs(x, None)
    weights = memory.boundary_weights(None, 1)
    expected = []
    for t in range(4):
        token = inputs.slice(t, t + 1)
        grads = token_grads(weights, token.key, token.value, token.delta, memory.cfg, keep_graph=False)
        norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
        expected.append((token.lr[:, 0] * norm).mean())  # averaged over the 2 heads
    assert torch.allclose(memory_surprise(memory, x)[0], torch.stack(expected))


@pytest.mark.parametrize("split", [3, 4, 9])
def test_streaming_surprise_equals_one_pass(split):
    memory = _memory(memory_depth=2)
    x = torch.randn(2, 13, 16, dtype=torch.float64)
    whole = memory_surprise(memory, x)
    _, state = memory(x[:, :split])
    pieces = torch.cat([memory_surprise(memory, x[:, :split]), memory_surprise(memory, x[:, split:], state)], 1)
    assert torch.allclose(whole, pieces)


def test_a_repeated_sequence_surprises_less_the_second_time():
    memory = _memory(dim=32, memory_depth=1, momentum=False, max_lr=0.5, lr_bias_init=4.0, forget_bias_init=-8.0)
    once, other = torch.randn(2, 1, 8, 32, dtype=torch.float64)  # 8 tokens, fewer than a head's 16 dimensions
    repeated = memory_surprise(memory, torch.cat([once, once], dim=1))[0, 12:]  # read after 8-11 were written
    fresh = memory_surprise(memory, torch.cat([once, other], dim=1))[0, 12:]
    assert repeated.mean() < 0.75 * fresh.mean()


def test_tracks_average_the_memory_layers_of_a_backbone():
    backbone = build_backbone("mag", dim=16, depth=2, heads=2, window=8, chunk_size=4)
    tracks = surprise_tracks(backbone, torch.randn(3, 20, 16))
    assert tracks.shape == (3, 20) and torch.isfinite(tracks).all() and (tracks >= 0).all()
    with pytest.raises(ValueError, match="no neural memory layer"):
        surprise_tracks(build_backbone("swa", dim=16, depth=1, heads=2, window=8), torch.randn(1, 8, 16))
