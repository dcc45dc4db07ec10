"""A sequence fed in pieces, with the state handed on, gives exactly what one pass gives."""

import itertools

import pytest
import torch

from titans.core import PRESETS, NeuralMemory

from .helpers import assert_close, small_memory, state_tensors


def _run_in_pieces(mem, x, cuts, backend="chunked"):
    state, outputs = None, []
    bounds = [0, *cuts, x.shape[1]]
    for lo, hi in itertools.pairwise(bounds):
        y, state = mem(x[:, lo:hi], state=state, backend=backend)
        outputs.append(y)
    return torch.cat(outputs, dim=1), state


@pytest.mark.parametrize(
    "cuts",
    [[16, 48], [5], [17, 18, 40, 63], list(range(1, 70))],
    ids=["chunk-boundaries", "mid-chunk", "anywhere", "token-by-token"],
)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_pieces_equal_one_pass(preset, cuts):
    cfg = PRESETS[preset](8, heads=2, expansion=2, chunk_size=16)
    torch.manual_seed(0)
    mem = NeuralMemory(cfg).double()
    x = torch.randn(2, 70, 8, dtype=torch.float64)
    y_whole, s_whole = mem(x)
    y_parts, s_parts = _run_in_pieces(mem, x, cuts)
    assert_close(y_parts, y_whole, 1e-10, "outputs")
    for a, b in zip(state_tensors(s_parts), state_tensors(s_whole), strict=True):
        assert_close(a, b, 1e-10, "state")


def test_reference_backend_streams_too():
    mem = small_memory(chunk_size=4)
    x = torch.randn(1, 13, 8, dtype=torch.float64)
    y_whole, _ = mem(x, backend="reference")
    y_parts, _ = _run_in_pieces(mem, x, [3, 9], backend="reference")
    assert_close(y_parts, y_whole, 1e-10, "reference outputs")


def test_state_size_does_not_grow_with_length():
    mem = small_memory(chunk_size=16)

    def state_numel(length):
        with torch.no_grad():
            _, state = mem(torch.randn(1, length, 8, dtype=torch.float64))
        return sum(t.numel() for t in state_tensors(state))

    assert state_numel(16 * 3 + 5) == state_numel(16 * 40 + 5)


def test_detached_state_cuts_the_graph():
    mem = small_memory()
    first = torch.randn(1, 20, 8, dtype=torch.float64, requires_grad=True)
    _, state = mem(first)
    detached = state.detach()
    assert all(not t.requires_grad for t in state_tensors(detached))
    y, _ = mem(torch.randn(1, 5, 8, dtype=torch.float64), state=detached)
    y.sum().backward()
    assert first.grad is None  # nothing flowed back into the first call
    y, _ = mem(torch.randn(1, 5, 8, dtype=torch.float64), state=state)
    y.sum().backward()
    assert first.grad is not None and first.grad.abs().sum() > 0  # without detach it does


def test_long_inference_runs_in_pieces_and_equals_one_pass(monkeypatch):
    from titans.core import neural_memory

    mem = small_memory(chunk_size=8)
    x = torch.randn(2, 130, 8, dtype=torch.float64)
    y_whole, s_whole = mem(x)  # autograd on: one pass
    monkeypatch.setattr(neural_memory, "INFERENCE_PIECE", 50)
    with torch.no_grad():
        y_pieces, s_pieces = mem(x)  # autograd off: pieces of 50 tokens
    assert_close(y_pieces, y_whole, 1e-10, "outputs")
    for a, b in zip(state_tensors(s_pieces), state_tensors(s_whole), strict=True):
        assert_close(a, b, 1e-10, "state")
