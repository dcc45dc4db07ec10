"""The layer against an independent, line-by-line statement of the papers' equations, so that mistakes in
code both backends share (projections, gates, retention maps) cannot hide."""

import pytest
import torch
import torch.nn.functional as F

from titans.core import MemoryConfig, NeuralMemory
from titans.core.retention import start_chunk

from .helpers import assert_close


def _paper_inputs(mem: NeuralMemory, x: torch.Tensor):
    """q, k, v and the gates as Titans section 3 / 4.4 describe them, from the layer's parameters."""
    cfg, (batch, length, _) = mem.cfg, x.shape
    proj = mem.to_qkv(x)
    padded = F.pad(proj.mT, (cfg.conv_kernel - 1, 0))  # causal
    conv = F.conv1d(padded, mem.conv.weight, mem.conv.bias, groups=proj.shape[-1]).mT
    q, k, v = F.silu(conv).chunk(3, -1)

    def heads(t):  # [B, T, H * D] -> [B * H, T, D]
        return t.reshape(batch, length, cfg.heads, -1).transpose(1, 2).reshape(batch * cfg.heads, length, -1)

    theta = cfg.max_lr * torch.sigmoid(heads(mem.lr_gate(x))[..., 0])
    eta = torch.sigmoid(heads(mem.momentum_gate(x))[..., 0])
    alpha = torch.sigmoid(heads(mem.forget_gate(x))[..., 0])
    return F.normalize(heads(q), dim=-1), F.normalize(heads(k), dim=-1), heads(v), theta, eta, alpha


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_matrix_memory_is_titans_eq_13_14(chunk_size):
    cfg = MemoryConfig(
        dim=8, heads=2, memory_depth=1, chunk_size=chunk_size, max_lr=0.3, forget_bias_init=-1.0, momentum_bias_init=0.5
    )
    torch.manual_seed(0)
    mem = NeuralMemory(cfg).double()
    x = torch.randn(2, 13, 8, dtype=torch.float64)
    with torch.no_grad():
        q, k, v, theta, eta, alpha = _paper_inputs(mem, x)
        memory = torch.zeros(4, 4, 4, dtype=torch.float64)  # M_0 = 0 for a matrix memory
        surprise = torch.zeros_like(memory)
        outputs = []
        for t in range(13):
            if t % chunk_size == 0:
                at_chunk_start = memory  # eq. 16: gradients of a chunk are taken at its start
            kt, vt = k[:, t, :, None], v[:, t, :, None]
            grad = 2 * (at_chunk_start @ kt - vt) @ kt.mT  # grad of ||M k - v||^2 (eq. 12)
            surprise = eta[:, t, None, None] * surprise - theta[:, t, None, None] * grad  # eq. 14
            memory = (1 - alpha[:, t, None, None]) * memory + surprise  # eq. 13
            outputs.append((memory @ q[:, t, :, None])[..., 0])  # y_t = M_t(q_t)
        retrieved = torch.stack(outputs, 1).reshape(2, 2, 13, 4).transpose(1, 2)  # [B, T, H, D]
        gate = torch.sigmoid(mem.out_gate(x)).reshape(2, 13, 2, 4)
        expected = mem.out_proj((mem.out_norm(retrieved) * gate).flatten(2))
        y, state = mem(x)
    assert_close(y, expected, 1e-12, "layer output")
    if 13 % chunk_size == 0:
        assert_close(state.memory[0], memory, 1e-12, "final memory")


def test_momentum_gate_near_zero_is_plain_gradient_descent():
    x = torch.randn(2, 40, 8, dtype=torch.float64)
    with_momentum = NeuralMemory(MemoryConfig(dim=8, heads=2, momentum=True, momentum_bias_init=-40.0)).double()
    without = NeuralMemory(MemoryConfig(dim=8, heads=2, momentum=False)).double()
    missing = without.load_state_dict(with_momentum.state_dict(), strict=False)
    assert not missing.missing_keys and all(k.startswith("momentum_gate") for k in missing.unexpected_keys)
    assert_close(with_momentum(x)[0], without(x)[0], 1e-12, "eta -> 0")


def test_retention_maps_are_the_papers():
    cfg_lq = MemoryConfig(dim=8, retention="lq", q=4.0)
    acc = [torch.randn(3, 5, 4, dtype=torch.float64)]
    norm = torch.linalg.vector_norm(acc[0], ord=4, dim=(-2, -1), keepdim=True)
    assert_close(start_chunk(acc, cfg_lq).weights[0], acc[0] / norm**2, 1e-13, "lq: W = A / ||A||_4^2")
    kl = start_chunk(acc, MemoryConfig(dim=8, retention="kl")).weights[0]
    assert_close(kl.sum(-1), torch.ones(3, 5, dtype=torch.float64), 1e-13, "kl rows on the simplex")
    assert_close(kl, torch.softmax(acc[0], -1), 1e-13, "kl: W = softmax(A)")
