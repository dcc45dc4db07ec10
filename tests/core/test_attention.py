"""Causal attention: the fused full-attention path and the blocked masked path equal a plain softmax over
the visible keys (outputs and gradients, float64), and long full attention never forms [T, T] scores."""

import resource

import pytest
import torch

from titans.core import attention
from titans.core.attention import Attention, rotate


def _plain_attention(layer: Attention, x: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(D) + causal mask) v, written out."""
    length = x.shape[1]
    positions = torch.arange(length)
    q, k, v = (layer._split(t) for t in layer.qkv(x).chunk(3, dim=-1))
    q, k = rotate(q, positions, layer.rope_base), rotate(k, positions, layer.rope_base)
    scores = q @ k.mT / q.shape[-1] ** 0.5  # [B, H, T, T]
    scores = scores.masked_fill(positions[None, :] > positions[:, None], float("-inf"))
    return layer.out((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))


@pytest.mark.parametrize("length", [1, 63, 100])
def test_full_attention_equals_the_plain_formula_with_gradients(length):
    torch.manual_seed(0)
    layer = Attention(16, 2).double()
    x = torch.randn(2, length, 16, dtype=torch.float64, requires_grad=True)
    fused, _ = layer(x)
    plain = _plain_attention(layer, x)
    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-10)
    weights = torch.randn_like(plain)
    grads = torch.autograd.grad((fused * weights).sum(), [x, *layer.parameters()])
    plain_grads = torch.autograd.grad((plain * weights).sum(), [x, *layer.parameters()])
    for fused_grad, plain_grad in zip(grads, plain_grads, strict=True):
        torch.testing.assert_close(fused_grad, plain_grad, rtol=1e-10, atol=1e-10)


def test_blocked_attention_over_a_cache_equals_one_pass(monkeypatch):
    torch.manual_seed(0)
    layer = Attention(16, 2).double()
    x = torch.randn(2, 100, 16, dtype=torch.float64)
    with torch.no_grad():
        whole, _ = layer(x)
        monkeypatch.setattr(attention, "SCORE_BUDGET", 2 * 2 * 100 * 7)  # blocks of 7 queries over 100 keys
        first, cache = layer(x[:, :37])
        second, _ = layer(x[:, 37:], cache=cache)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-10, atol=1e-10)


def test_long_full_attention_does_not_form_the_score_matrix():
    layer = Attention(16, 2)
    x = torch.randn(1, 32768, 16)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with torch.no_grad():
        y, _ = layer(x)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert grown_mib < 1024, f"peak memory grew by {grown_mib:.0f} MiB (the [T, T] scores would take 8 GiB)"


def test_sliding_window_equals_the_plain_formula_in_one_pass_and_streamed():
    """Each token sees itself and the 6 before it; streamed in pieces of 37 and 63 over the cache, which keeps
    exactly the window - 1 keys the next token can see."""
    torch.manual_seed(0)
    layer = Attention(16, 2, window=7).double()
    x = torch.randn(2, 100, 16, dtype=torch.float64)
    positions = torch.arange(100)
    q, k, v = (layer._split(t) for t in layer.qkv(x).chunk(3, dim=-1))
    q, k = rotate(q, positions, layer.rope_base), rotate(k, positions, layer.rope_base)
    distance = positions[:, None] - positions[None, :]
    scores = (q @ k.mT / q.shape[-1] ** 0.5).masked_fill((distance < 0) | (distance >= 7), float("-inf"))
    plain = layer.out((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
    with torch.no_grad():
        whole, _ = layer(x)
        first, cache = layer(x[:, :37])
        second, last_cache = layer(x[:, 37:], cache=cache)
    torch.testing.assert_close(whole, plain, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-10, atol=1e-10)
    assert cache.positions.tolist() == list(range(31, 37)) and last_cache.positions.tolist() == list(range(94, 100))


def test_sliding_window_traces_without_graph_breaks():
    """Its slices come from integers, not from tensors read back: torch.compile traces the layer whole."""
    layer = Attention(16, 2, window=7, persistent=2)
    explanation = torch._dynamo.explain(layer)(torch.randn(2, 50, 16))
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_sliding_window_refuses_context_tokens():
    with pytest.raises(ValueError, match="sliding window cannot take context"):
        Attention(16, 2, window=7)(torch.randn(1, 8, 16), context=torch.randn(1, 8, 16))
