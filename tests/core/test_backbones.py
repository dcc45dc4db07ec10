"""Every backbone: causal, streaming-exact, trainable; clear errors for bad names and fields."""

import pytest
import torch

from titans.core import BACKBONES, NeuralMemory, build_backbone, detach_state, list_backbones, neural_memory, titans_lmm
from titans.core.attention import Attention
from titans.core.backbones import MemoryAsGate, PrimedMemory

NAMES = sorted(BACKBONES)
SMALL = {"dim": 16, "depth": 2, "heads": 2, "window": 8, "chunk_size": 4, "persistent": 2}


def _backbone(name):
    torch.manual_seed(0)
    return build_backbone(name, **SMALL).double()


@pytest.mark.parametrize("name", NAMES)
def test_causal(name):
    bb = _backbone(name)
    x = torch.randn(2, 30, 16, dtype=torch.float64)
    changed = x.clone()
    changed[:, 19:] += torch.randn(2, 11, 16, dtype=torch.float64)
    with torch.no_grad():
        h, h_changed = bb(x)[0], bb(changed)[0]
    assert torch.equal(h[:, :19], h_changed[:, :19])
    assert not torch.allclose(h[:, 19:], h_changed[:, 19:])


@pytest.mark.parametrize("name", NAMES)
def test_streaming_equals_one_pass(name):
    bb = _backbone(name)
    x = torch.randn(2, 27, 16, dtype=torch.float64)
    with torch.no_grad():
        whole, _ = bb(x)
        first, state = bb(x[:, :13])
        second, _ = bb(x[:, 13:], state=state)
        tokens, state = [], None
        for t in range(27):
            out, state = bb(x[:, t : t + 1], state=state)
            tokens.append(out)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.cat(tokens, 1), whole, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter_and_it_learns(name):
    bb = _backbone(name).float()
    x, target = torch.randn(2, 24, 16), torch.randn(2, 24, 16)
    optimizer = torch.optim.Adam(bb.parameters(), lr=1e-2)
    losses = []
    for step in range(40):
        loss = (bb(x)[0] - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            for pname, param in bb.named_parameters():
                assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient reaches {pname}"
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name} did not fit a tiny batch: {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_every_backbone_is_listed_with_a_description_and_counts_parameters():
    listed = list_backbones()
    assert set(listed) == set(BACKBONES) >= {"mac", "mag", "mal", "lmm", "transformer", "swa", "moneta-h"}
    assert all(isinstance(text, str) and text for text in listed.values())
    assert build_backbone("swa", **SMALL).num_parameters > 0


def test_bad_names_and_fields():
    with pytest.raises(ValueError, match="unknown backbone 'titan'"):
        build_backbone("titan")
    with pytest.raises(ValueError, match="unknown backbone field"):
        build_backbone("mac", widht=3)
    with pytest.raises(ValueError, match=r"BackboneConfig.heads=3: must divide dim=16"):
        build_backbone("swa", dim=16, heads=3)
    with pytest.raises(ValueError, match="multiple of the memory chunk_size"):
        build_backbone("mac", window=10, chunk_size=4)
    with pytest.raises(ValueError, match=r"BackboneConfig.dropout=1.0: must be in \[0, 1\)"):
        build_backbone("mag", dropout=1.0)
    with pytest.raises(ValueError, match=r"BackboneConfig.memory_every=0: must be >= 1"):
        build_backbone("mag", memory_every=0)


@pytest.mark.parametrize("name", ["mag", "lmm"])
def test_a_hybrid_keeps_the_memory_in_every_nth_block_and_streams_exactly(name):
    torch.manual_seed(0)
    bb = build_backbone(name, **{**SMALL, "depth": 5}, memory_every=2).double()
    mixers = [type(block.mixers[0]) for block in bb.blocks]
    memory = MemoryAsGate if name == "mag" else NeuralMemory
    assert mixers == [memory, Attention, memory, Attention, memory]
    assert [block.mixers[0].window for block in bb.blocks[1::2]] == [SMALL["window"]] * 2
    plain = build_backbone(name, **{**SMALL, "depth": 5})
    assert bb.num_parameters < plain.num_parameters  # attention alone has fewer weights than a memory block
    # the backbones without a memory ignore it, as they ignore `memory` (a definition can carry it for all)
    full = build_backbone("transformer", **SMALL, memory_every=2)
    assert all(block.mixers[0].window is None for block in full.blocks)
    x = torch.randn(2, 21, 16, dtype=torch.float64)
    with torch.no_grad():
        whole, _ = bb(x)
        first, state = bb(x[:, :10])
        second, _ = bb(x[:, 10:], state=state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-10, atol=1e-10)


def test_residual_dropout_acts_in_training_only():
    torch.manual_seed(0)
    bb = build_backbone("mag", **SMALL, dropout=0.5).double()
    plain = build_backbone("mag", **SMALL).double()
    plain.load_state_dict(bb.state_dict())
    x = torch.randn(2, 12, 16, dtype=torch.float64)
    with torch.no_grad():
        bb.eval()
        plain.eval()
        torch.testing.assert_close(bb(x)[0], plain(x)[0], rtol=0, atol=0)  # evaluation: no dropout
        bb.train()
        first, second = bb(x)[0], bb(x)[0]
    assert not torch.allclose(first, second)  # training: a fresh mask per call
    assert not torch.allclose(first, plain(x)[0])


@pytest.mark.parametrize("name", ["mac", "mag", "transformer"])
def test_detached_backbone_state_streams_the_same_and_cuts_the_graph(name):
    bb = _backbone(name)
    first = torch.randn(1, 13, 16, dtype=torch.float64, requires_grad=True)
    second = torch.randn(1, 9, 16, dtype=torch.float64)
    _, state = bb(first)
    attached, _ = bb(second, state=state)
    detached, _ = bb(second, state=detach_state(state))
    torch.testing.assert_close(detached, attached, rtol=0, atol=0)
    detached.sum().backward()
    assert first.grad is None


@pytest.mark.parametrize("memory", [{"memory_depth": 1}, {"memory_depth": 2, "channel_forget": True}])
def test_persistent_tokens_are_written_once_for_the_whole_batch(memory):
    """PrimedMemory writes the persistent tokens at batch size 1 and repeats the state; that must equal the
    memory run over [persistent || x] for every sequence with the persistent outputs dropped, outputs and
    gradients alike."""
    torch.manual_seed(0)
    primed = PrimedMemory(titans_lmm(16, heads=2, chunk_size=4, **memory), persistent=3).double()
    x = torch.randn(3, 10, 16, dtype=torch.float64)
    y, _ = primed(x)
    grads = torch.autograd.grad(y.square().sum(), list(primed.parameters()))
    prefixed = torch.cat([primed.persistent.expand(3, -1, -1), x], dim=1)
    y_whole = primed.memory(prefixed)[0][:, 3:]
    grads_whole = torch.autograd.grad(y_whole.square().sum(), list(primed.parameters()))
    torch.testing.assert_close(y, y_whole, rtol=1e-10, atol=1e-12)
    for g, g_whole in zip(grads, grads_whole, strict=True):
        torch.testing.assert_close(g, g_whole, rtol=1e-9, atol=1e-12)


def test_memory_state_repeat_needs_one_sequence():
    memory = NeuralMemory(titans_lmm(16, heads=2, chunk_size=4))
    _, state = memory(torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match="state of one sequence, got 2"):
        state.repeat(3)


@pytest.mark.parametrize("name", NAMES)
def test_trains_under_mixed_precision_with_the_memory_in_float32(name, monkeypatch):
    """bf16 autocast (`train.precision: bf16-mixed`): forward and backward run, and the memory recurrence runs
    with autocast off on float32 operands (autocast would give CUDA's kernels operands of two dtypes)."""
    seen = []
    chunked = neural_memory.BACKENDS["chunked"]

    def recording(inputs, memory, momentum, cfg):
        tensors = [inputs.key, inputs.value, inputs.lr, *memory, *(momentum or [])]
        seen.append((torch.is_autocast_enabled("cpu"), {t.dtype for t in tensors}))
        return chunked(inputs, memory, momentum, cfg)

    monkeypatch.setitem(neural_memory.BACKENDS, "chunked", recording)
    torch.manual_seed(0)
    bb = build_backbone(name, **{**SMALL, "memory": {"memory_depth": 2}})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, _ = bb(torch.randn(2, 13, 16))
    h.float().square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in bb.parameters() if p.requires_grad)
    assert all(not autocast and dtypes == {torch.float32} for autocast, dtypes in seen)
    assert bool(seen) == (name not in ("transformer", "swa", "cnn"))


def test_memory_under_mixed_precision_stays_close_to_float32():
    torch.manual_seed(0)
    memory = NeuralMemory(titans_lmm(16, heads=2, chunk_size=4))
    x = torch.randn(2, 21, 16)
    y, _ = memory(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_mixed, state_mixed = memory(x)
    assert state_mixed.memory[0].dtype == torch.float32
    torch.testing.assert_close(y_mixed.float(), y, rtol=0.05, atol=0.05)
