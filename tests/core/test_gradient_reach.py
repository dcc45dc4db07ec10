"""The training gradient through the matrix memory's recurrence fades with distance (docs/memory.md,
"Training over long sequences"): what the shipped long-sequence definitions rely on to train stably."""

import pytest
import torch

from titans.core import NeuralMemory, build_backbone
from titans.core.presets import titans_lmm
from titans.pipelines.spec import load_spec


def far_and_near(memory: NeuralMemory, length: int) -> tuple[float, float]:
    """Mean |d loss / d x| over the first 16 tokens and over tokens T-32..T-16, the loss on the last 16."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, length, memory.cfg.dim, generator=generator).requires_grad_()  # [B, T, dim]
    y, _ = memory(x)
    (y[:, -16:] * torch.randn(y[:, -16:].shape, generator=generator)).sum().backward()
    per_token = x.grad.norm(dim=-1).mean(0)  # [T]
    return per_token[:16].mean().item(), per_token[-32:-16].mean().item()


@pytest.mark.parametrize("momentum", [True, False])
def test_matrix_memory_gradient_fades_with_distance(momentum):
    torch.manual_seed(0)
    memory = NeuralMemory(titans_lmm(32, heads=2, chunk_size=16, memory_depth=1, momentum=momentum))
    far_short, near_short = far_and_near(memory, 64)
    far_long, near_long = far_and_near(memory, 256)
    assert near_short > 0.1 and near_long > 0.1  # the gradient reaches the tokens just before the loss
    assert far_long < 0.05 * near_long  # and fades over 240 tokens
    assert far_long < 0.1 * far_short  # the further back, the weaker


@pytest.mark.parametrize("definition", ["language-shakespeare", "genomics-gue", "forecast-ett"])
def test_shipped_benchmark_definitions_use_a_memory_whose_gradient_fades(definition):
    """The benchmark definitions ship the memory that measured best (benchmarks/RESULTS.md): over many
    chunks an MLP memory's backward grows and its gradient spikes stall training (memory_gradient.py)."""
    backbone_spec = load_spec(definition).model.backbone
    torch.manual_seed(0)
    backbone = build_backbone(backbone_spec.name, **{**backbone_spec.options, "dim": 32, "heads": 2})
    memory = next(m for m in backbone.modules() if isinstance(m, NeuralMemory))
    far, near = far_and_near(memory, 256)
    assert far < 0.05 * near
