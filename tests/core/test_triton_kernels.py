"""The Triton backend (fused forward kernel, backward by per-chunk recomputation) equals the token-by-token
reference: outputs, the state it hands on, and the gradient of every parameter. Without CUDA the kernels
run in Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1); on a CUDA machine the same tests
run the compiled kernels."""

import copy
import itertools
import warnings

import pytest
import torch
import torch.nn.functional as F

from titans.core import NeuralMemory, titans_lmm
from titans.core.chunked import chunked_recurrence
from titans.core.kernels import support
from titans.core.kernels.recurrence import triton_recurrence
from titans.core.state import MemoryInputs

from .helpers import assert_close, small_memory, state_tensors

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# The token-by-token reference on CPU; on a GPU the chunked path (itself held to the reference to 1e-8 by
# test_chunked_matches_reference.py), whose per-token kernel launches would cost minutes there.
EXPECTED = "reference" if DEVICE == "cpu" else "chunked"
RTOL_FP64 = 1e-10  # observed ~1e-14: the kernel and the reference differ by rounding only
RTOL_FP32 = 1e-4
RTOL_BF16 = 5e-2  # bf16 inputs and matrix-product operands (8 significant bits) against float64
# (depth, momentum, chunk_size, dim): dim 24 over 2 heads pads head dim 12 -> 16 and hidden 24 -> 32.
CASES = [(d, m, c, 32 if c == 16 else 24) for d, m, c in itertools.product([1, 2], [True, False], [16, 32])]


def _memory(**overrides) -> NeuralMemory:
    return small_memory(**overrides).to(DEVICE)


def _outer_loss(y, state):
    """Reads both the outputs and the final memory, so gradients flow through both."""
    return y.square().sum() + sum(m.square().sum() for m in state.memory)


def _grads(mem, x, backend):
    y, state = mem(x, backend=backend)
    grads = torch.autograd.grad(_outer_loss(y, state), list(mem.parameters()), materialize_grads=True)
    return y, state, grads


def _assert_backends_agree(mem, x, backend, expected_backend, rtol, where):
    y, state, grads = _grads(mem, x, backend)
    y_ref, state_ref, grads_ref = _grads(mem, x, expected_backend)
    assert_close(y, y_ref, rtol, f"output {where}")
    for got, ref in zip(state_tensors(state), state_tensors(state_ref), strict=True):
        assert_close(got, ref, rtol, f"state {where}")
    for (name, _), got, ref in zip(mem.named_parameters(), grads, grads_ref, strict=True):
        assert_close(got, ref, rtol, f"grad of {name} {where}")


@pytest.mark.filterwarnings("error")  # a silent fallback to "chunked" would make this test meaningless
@pytest.mark.parametrize(("depth", "momentum", "chunk", "dim"), CASES)
def test_triton_equals_reference_float64(depth, momentum, chunk, dim):
    for length in (1, 15, 63, 100, 2 * chunk):
        mem = _memory(dim=dim, memory_depth=depth, momentum=momentum, chunk_size=chunk)
        x = torch.randn(2, length, dim, dtype=torch.float64, device=DEVICE)
        _assert_backends_agree(mem, x, "triton", EXPECTED, RTOL_FP64, f"T={length}")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("depth", [1, 2])
def test_triton_equals_chunked_float32(depth):
    mem = _memory(dim=32, memory_depth=depth, chunk_size=16).float()
    x = torch.randn(2, 70, 32, device=DEVICE)
    _assert_backends_agree(mem, x, "triton", "chunked", RTOL_FP32, "float32")


_FIELDS = ("query", "key", "value", "lr", "log_retain", "log_momentum")


def _random_recurrence_inputs(cfg, batch_heads: int, length: int) -> list[torch.Tensor]:
    """Well-conditioned float64 inputs of the recurrence (unit keys and queries, small steps, an O(1) memory):
    the six MemoryInputs fields, then the memory and the momentum per layer."""
    d = cfg.dim_head

    def randn(*shape):
        return torch.randn(batch_heads, *shape, dtype=torch.float64, device=DEVICE)

    fields = [
        F.normalize(randn(length, d), dim=-1),
        F.normalize(randn(length, d), dim=-1),
        randn(length, d),
        0.003 * torch.sigmoid(randn(length)),  # theta
        F.logsigmoid(randn(length) - 4),  # log(1 - alpha)
        F.logsigmoid(randn(length)),  # log eta
    ]
    memory = [randn(*shape) for shape in cfg.layer_shapes]
    momentum = [0.01 * randn(*shape) for shape in cfg.layer_shapes]
    return fields + memory + momentum


def _recurrence_and_grads(recurrence, leaves, cfg):
    """Outputs, end memory and the gradient of every leaf of a loss reading both."""
    depth = cfg.memory_depth
    inputs = MemoryInputs(*leaves[:6], delta=None)
    y, memory, _ = recurrence(inputs, leaves[6 : 6 + depth], leaves[6 + depth :], cfg)
    loss = y.double().square().sum() + sum(m.double().square().sum() for m in memory)
    return y, memory, torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("depth", [1, 2])
def test_bfloat16_inputs(depth):
    cfg = titans_lmm(32, heads=2, memory_depth=depth, expansion=2, chunk_size=16)  # head dim 16, hidden 32
    leaves = [t.bfloat16().requires_grad_() for t in _random_recurrence_inputs(cfg, 4, 50)]
    y, memory, grads = _recurrence_and_grads(triton_recurrence, leaves, cfg)
    # Against the float64 function of the same bf16-rounded inputs.
    exact = [t.detach().double().requires_grad_() for t in leaves]
    y_ref, memory_ref, grads_ref = _recurrence_and_grads(chunked_recurrence, exact, cfg)
    assert {t.dtype for t in [y, *memory, *grads]} == {torch.bfloat16}
    assert_close(y.double(), y_ref, RTOL_BF16, "bf16 output")
    for got, ref in zip(memory, memory_ref, strict=True):
        assert_close(got.double(), ref, RTOL_BF16, "bf16 memory")
    names = [*_FIELDS, *(f"memory {i}" for i in range(depth)), *(f"momentum {i}" for i in range(depth))]
    for name, got, ref in zip(names, grads, grads_ref, strict=True):
        assert_close(got.double(), ref, RTOL_BF16, f"bf16 grad of {name}")


@pytest.mark.filterwarnings("error")
def test_streaming_equals_one_pass():
    mem = _memory(dim=32, chunk_size=16)
    x = torch.randn(2, 70, 32, dtype=torch.float64, device=DEVICE)
    y_whole, s_whole = mem(x, backend="triton")
    y_first, state = mem(x[:, :21], backend="triton")  # a cut mid-chunk: 5 tokens pending
    y_second, s_parts = mem(x[:, 21:], state=state, backend="triton")
    assert_close(torch.cat([y_first, y_second], dim=1), y_whole, RTOL_FP64, "outputs")
    for a, b in zip(state_tensors(s_parts), state_tensors(s_whole), strict=True):
        assert_close(a, b, RTOL_FP64, "state")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"bias": "huber"}, "attentional bias 'huber'"),
        ({"retention": "kl"}, "retention 'kl'"),
        ({"memory_depth": 3}, "memory_depth 3"),
        ({"chunk_size": 8}, "chunk_size 8"),
        ({"channel_forget": True}, "channel_forget"),
        ({"channel_momentum": True}, "channel_momentum"),
        ({"channel_lr": True}, "channel_lr"),
    ],
)
def test_unsupported_config_falls_back_with_one_warning(monkeypatch, overrides, reason):
    monkeypatch.setattr(support, "_WARNED", set())
    mem = _memory(**overrides)
    x = torch.randn(1, 20, 8, dtype=torch.float64, device=DEVICE)
    with pytest.warns(UserWarning, match=f"falls back to 'chunked'.*{reason}"):
        y, _ = mem(x, backend="triton")
    assert torch.equal(y, mem(x, backend="chunked")[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mem(x, backend="triton")  # once per reason


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the kernels run compiled")
def test_triton_without_cuda_or_interpreter_falls_back(monkeypatch):
    monkeypatch.setattr(support, "_WARNED", set())
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    mem = _memory()
    x = torch.randn(1, 20, 8, dtype=torch.float64)
    with pytest.warns(UserWarning, match="not on a CUDA device and TRITON_INTERPRET=1 not set"):
        y, _ = mem(x, backend="triton")
    assert torch.equal(y, mem(x, backend="chunked")[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA, auto picks the kernels")
@pytest.mark.filterwarnings("error")
def test_auto_is_chunked_on_cpu_without_a_warning():
    mem = _memory()
    x = torch.randn(1, 20, 8, dtype=torch.float64)
    assert torch.equal(mem(x)[0], mem(x, backend="chunked")[0])


# At the default gates a memory of this size is chaotic over a thousand tokens (the chunked path's float32
# and float64 outputs differ by O(1)); a smaller step and slower forgetting keep it well conditioned.
WELL_CONDITIONED = {"max_lr": 0.01, "forget_bias_init": -7.0}


def _full_size_memory(depth: int, expansion: int, chunk: int) -> NeuralMemory:
    torch.manual_seed(0)
    cfg = titans_lmm(1024, heads=16, memory_depth=depth, expansion=expansion, chunk_size=chunk, **WELL_CONDITIONED)
    return NeuralMemory(cfg).cuda()


def _relative_errors(got, ref) -> list[float]:
    """max |got - ref| / max |ref| of each (output, state tensors, gradients) of a `_grads` result."""
    (y, state, grads), (y_ref, state_ref, grads_ref) = got, ref
    pairs = [(y, y_ref), *zip(state_tensors(state), state_tensors(state_ref)), *zip(grads, grads_ref)]
    return [((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a, b in pairs if b.numel()]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    ("dtype", "depth", "expansion", "chunk"),
    [(torch.float32, 1, 1, 64), (torch.float32, 2, 4, 32), (torch.bfloat16, 1, 1, 64), (torch.bfloat16, 2, 4, 64)],
)
def test_full_shapes_on_gpu(dtype, depth, expansion, chunk):
    """At dim 1024, 16 heads, against the float64 function of the same rounded parameters and input: in float32
    every output, state and gradient within 1e-2 (measured: up to 4e-3, the chunked path's up to 1.4e-3, over
    27 tensors); in bfloat16 about as close as the chunked path in bfloat16."""
    mem = _full_size_memory(depth, expansion, chunk).to(dtype)
    x = torch.randn(2, 1024 + 37, 1024, device="cuda").to(dtype)
    exact = _grads(copy.deepcopy(mem).double(), x.double(), "chunked")
    triton_errors = _relative_errors(_grads(mem, x, "triton"), exact)
    if dtype == torch.float32:
        assert max(triton_errors) <= 1e-2, f"triton errors {triton_errors}"
    else:
        chunked_errors = _relative_errors(_grads(mem, x, "chunked"), exact)
        worst = max(t / (c + 1e-6) for t, c in zip(triton_errors, chunked_errors, strict=True))
        assert worst <= 2, f"triton errors {triton_errors}\nchunked errors {chunked_errors}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_float32_default_config_too_large_for_shared_memory_falls_back(monkeypatch):
    monkeypatch.setattr(support, "_WARNED", set())
    mem = NeuralMemory(titans_lmm(1024, heads=16)).cuda()  # chunk 64 x hidden 256 in float32
    x = torch.randn(1, 100, 1024, device="cuda")
    with torch.no_grad(), pytest.warns(UserWarning, match="KiB of shared memory"):
        y, _ = mem(x)  # "auto" without autograd asks for the kernels
    with torch.no_grad():
        assert torch.equal(y, mem(x, backend="chunked")[0])
