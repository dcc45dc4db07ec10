"""Channel-wise momentum and step-size gates (channel_momentum, channel_lr), alone and with channel_forget:
one eta_t / theta_t per output channel of every memory layer (Titans eq. 14 with MIRAS's channel-wise,
low-rank gates).  The chunk-parallel path equals the token-by-token reference in float64, streaming equals
one pass, a channel-wise gate whose channels agree is exactly the per-head gate, and one that varies per
channel changes the result."""

import itertools

import pytest
import torch

from titans.core import MemoryConfig, NeuralMemory
from titans.core.surprise import memory_surprise

from .helpers import assert_close, small_memory, state_tensors
from .test_chunked_matches_reference import _assert_chunked_equals_reference

FORGET = {"channel_forget": True, "forget_bias_init": -3.0}  # as in the channel_forget tests
OPTION_SETS = {
    "lr": {"channel_lr": True},
    "momentum": {"channel_momentum": True},
    "lr+momentum": {"channel_lr": True, "channel_momentum": True},
    "lr+forget": {"channel_lr": True, **FORGET},
    "momentum+forget": {"channel_momentum": True, **FORGET},
    "all": {"channel_lr": True, "channel_momentum": True, **FORGET},
}
WITH_MOMENTUM = list(OPTION_SETS)
WITHOUT_MOMENTUM = ["lr", "lr+forget"]  # channel_momentum needs momentum=True
BIASES, RETENTIONS = ["l2", "lp", "huber", "dot"], ["decay", "lq", "kl"]


def _design_points() -> list:
    """Every bias x retention x depth (1, 2) x momentum point once, with one option set each: the sets are
    rotated so that each meets every bias, both depths and at least two retentions (the full product of
    design points, option sets and lengths would take minutes on one core)."""
    points = []
    for (b, bias), (r, retention), (d, depth), momentum in itertools.product(
        enumerate(BIASES), enumerate(RETENTIONS), enumerate([1, 2]), [True, False]
    ):
        sets = WITH_MOMENTUM if momentum else WITHOUT_MOMENTUM
        name = sets[(2 * r + d + b) % len(sets)]
        label = f"{bias}-{retention}-{depth}-{momentum}-{name}"
        points.append(pytest.param(bias, retention, depth, momentum, name, id=label))
    return points


@pytest.mark.parametrize(("bias", "retention", "depth", "momentum", "options"), _design_points())
def test_channel_gates_equal_reference(bias, retention, depth, momentum, options):
    """Outputs, final state and every parameter's gradient, chunked against the reference (1e-8 in float64)."""
    for length, chunk in [(1, 16), (15, 16), (63, 16), (100, 16), (1, 1), (15, 1)]:
        mem = small_memory(bias=bias, retention=retention, memory_depth=depth, momentum=momentum, chunk_size=chunk,
                           **OPTION_SETS[options])  # fmt: skip
        _assert_chunked_equals_reference(mem, length, f"{options} T={length} chunk={chunk}")


@pytest.mark.parametrize("options", list(OPTION_SETS))
def test_channel_gates_equal_reference_online(options):
    """Long runs of exact online gradient descent (chunk 1), every option set, the default MLP memory."""
    for length, (bias, retention) in [(63, ("huber", "lq")), (100, ("l2", "decay"))]:
        mem = small_memory(bias=bias, retention=retention, memory_depth=2, chunk_size=1, **OPTION_SETS[options])
        _assert_chunked_equals_reference(mem, length, f"{options} T={length} chunk=1")


@pytest.mark.parametrize("momentum", [True, False])
def test_channel_gates_at_depth_3(momentum):
    options = OPTION_SETS["all" if momentum else "lr+forget"]
    for length, chunk in [(15, 16), (40, 16), (9, 1)]:
        mem = small_memory(memory_depth=3, momentum=momentum, chunk_size=chunk, retention="kl", **options)
        _assert_chunked_equals_reference(mem, length, f"depth 3 T={length} chunk={chunk}")


def test_channel_gates_are_low_rank_by_default():
    mem = small_memory(**OPTION_SETS["all"])
    rows = sum(out for out, _ in mem.cfg.layer_shapes)  # every layer's output channels
    for gate in (mem.lr_gate, mem.momentum_gate, mem.forget_gate):
        assert gate[0].weight.shape[0] == 32
        assert gate[1].weight.shape[0] == mem.cfg.heads * rows


@pytest.mark.parametrize("options", ["lr", "momentum+forget", "all"])
@pytest.mark.parametrize("cuts", [[5], [17, 18, 40, 63]], ids=["mid-chunk", "anywhere"])
def test_streaming_equals_one_pass(options, cuts):
    mem = small_memory(chunk_size=16, **OPTION_SETS[options])
    x = torch.randn(2, 70, 8, dtype=torch.float64)
    y_whole, s_whole = mem(x)
    state, outputs = None, []
    for lo, hi in itertools.pairwise([0, *cuts, x.shape[1]]):
        y, state = mem(x[:, lo:hi], state=state)
        outputs.append(y)
    assert_close(torch.cat(outputs, dim=1), y_whole, 1e-10, "outputs")
    for a, b in zip(state_tensors(state), state_tensors(s_whole), strict=True):
        assert_close(a, b, 1e-10, "state")


def _per_head_and_channel_wise(field: str, gate: str, **overrides) -> tuple[NeuralMemory, NeuralMemory]:
    """A per-head memory and a copy whose `gate` is channel-wise (`field`=True) with every channel of a head
    given the head's gate weights: the two compute the same function.  Both use gate_rank=32, so every
    other parameter has the same shape."""
    fields = {"dim": 8, "heads": 2, "expansion": 2, "chunk_size": 16, "max_lr": 0.05, "gate_rank": 32, **overrides}
    torch.manual_seed(0)
    per_head = NeuralMemory(MemoryConfig(**fields)).double()
    channel_wise = NeuralMemory(MemoryConfig(**fields, **{field: True})).double()
    rows = channel_wise.cfg.memory_rows
    weights = per_head.state_dict()
    for name in (f"{gate}.1.weight", f"{gate}.1.bias"):  # [H, ...] -> [H * R, ...], head-major as in per_head
        weights[name] = weights[name].repeat_interleave(rows, dim=0)
    channel_wise.load_state_dict(weights)
    return per_head, channel_wise


def _memory_tensors(state) -> list[torch.Tensor]:
    return list(state.memory) + list(state.momentum or [])


@pytest.mark.parametrize(
    ("field", "gate", "overrides"),
    [
        ("channel_lr", "lr_gate", {}),
        ("channel_lr", "lr_gate", {"memory_depth": 1, "momentum": False}),
        ("channel_momentum", "momentum_gate", {"momentum_bias_init": 1.0}),
        ("channel_momentum", "momentum_gate", {"memory_depth": 1, "retention": "lq"}),
    ],
)
def test_a_gate_that_varies_per_channel_changes_the_result(field, gate, overrides):
    per_head, channel_wise = _per_head_and_channel_wise(field, gate, **overrides)
    x = torch.randn(2, 40, 8, dtype=torch.float64)
    y_head, s_head = per_head(x)
    y_same, s_same = channel_wise(x)
    # Equal channels: the row-by-row path computes exactly the per-head function.
    assert_close(y_same, y_head, 1e-12, "output with equal channels")
    for a, b in zip(_memory_tensors(s_same), _memory_tensors(s_head), strict=True):
        assert_close(a, b, 1e-12, "state with equal channels")
    # Perturbed gate weights: the gate now varies across the channels of a head, and so does the result.
    with torch.no_grad():
        head = getattr(channel_wise, gate)[1]
        head.weight.add_(torch.randn_like(head.weight))
        head.bias.add_(torch.randn_like(head.bias))
    inputs, _ = channel_wise._inputs(x, None)
    varying = inputs.lr if field == "channel_lr" else inputs.log_momentum
    assert varying.shape[-1] == channel_wise.cfg.memory_rows and varying.std(-1).min() > 1e-3
    y_varied, s_varied = channel_wise(x)
    assert (y_varied - y_head).abs().max() > 1e-4 * y_head.abs().max()
    assert all((a - b).abs().max() > 1e-6 for a, b in zip(s_varied.memory, s_head.memory, strict=True))


@pytest.mark.parametrize("backend", ["chunked", "reference"])
def test_a_row_with_zero_step_size_never_moves(backend):
    """theta_t[r] = 0 for one row of the first layer: that row of the memory stays at M_0, the others move."""
    mem = small_memory(channel_lr=True, momentum=False, forget_gate=False, chunk_size=4)
    with torch.no_grad():
        mem.lr_gate[1].bias[3] = -1e4  # head 0, layer 1, row 3: sigmoid underflows to exactly 0
    x = torch.randn(1, 13, 8, dtype=torch.float64)
    _, state = mem(x, backend=backend)
    start = mem.initial_memory[0][0]
    moved = (state.memory[0][0] - start).abs().amax(-1)  # [out] per row of head 0's first layer
    assert moved[3] == 0 and (moved[torch.arange(len(moved)) != 3] > 0).all()


def test_surprise_with_equal_channels_is_the_per_head_surprise():
    per_head, channel_wise = _per_head_and_channel_wise("channel_lr", "lr_gate", chunk_size=4)
    x = torch.randn(2, 11, 8, dtype=torch.float64)
    assert_close(memory_surprise(channel_wise, x), memory_surprise(per_head, x), 1e-12, "surprise")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channel_momentum": True, "momentum": False}, "MemoryConfig.channel_momentum=True: needs momentum=True"),
        ({"channel_lr": True, "lr_gate": False}, "MemoryConfig.channel_lr=True: needs lr_gate=True"),
    ],
)
def test_channel_gate_without_its_gate_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        MemoryConfig(dim=8, **overrides)
