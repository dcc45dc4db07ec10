"""Token-by-token reference of the memory recurrence (`backend="reference"`): the plain statement of the
math that every fast path is tested against.  Slow by design: a Python loop over tokens, each token's
gradient taken by autograd at the chunk-start weights (Titans section 3.2, mini-batch gradient descent).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .attentional_bias import bias_loss
from .config import MemoryConfig
from .memory_model import memory_apply
from .retention import retrieval_weights, start_chunk
from .state import MemoryInputs


def layer_rows(gate: Tensor, channel_wise: bool, cfg: MemoryConfig) -> list[Tensor]:
    """One token's gate (gate: [N, 1] per head, or [N, 1, R] per output channel of every layer) as a factor
    of each layer's rows: [N, 1, 1] per head, or [N, out_l, 1] per output channel."""
    if not channel_wise:
        return [gate[:, :, None]] * cfg.memory_depth
    widths = [out for out, _ in cfg.layer_shapes]
    return [part.mT for part in gate.split(widths, dim=-1)]


def layer_retention(log_retain: Tensor, cfg: MemoryConfig) -> list[Tensor]:
    """1 - alpha_t of one token as a factor of each layer's accumulator rows (Titans eq. 13, channel-wise
    with channel_forget)."""
    return layer_rows(log_retain.exp(), cfg.channel_forget, cfg)


def token_grads(weights: list[Tensor], key, value, delta, cfg: MemoryConfig, keep_graph: bool):
    """grad_W l(M_W; k_t, v_t) for one token (key, value: [N, 1, D]), one [N, out, in] per layer."""
    with torch.enable_grad():
        leaves = [w if keep_graph and w.requires_grad else w.detach().requires_grad_() for w in weights]
        loss = bias_loss(memory_apply(leaves, key, cfg.layer_norm_eps), value, delta, cfg).sum()
        return torch.autograd.grad(loss, leaves, create_graph=keep_graph)


def reference_recurrence(
    inputs: MemoryInputs, memory: list[Tensor], momentum: list[Tensor] | None, cfg: MemoryConfig
) -> tuple[Tensor, list[Tensor], list[Tensor] | None]:
    """Run the memory over `inputs` (which start at a chunk boundary).

    Returns the retrieved values y: [N, T, D] and the memory and momentum at the last chunk boundary
    (after the last token when T is a whole number of chunks).
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            "backend='reference' takes gradients with autograd; it cannot run under torch.inference_mode()"
        )
    keep_graph = torch.is_grad_enabled()
    acc, mom = memory, momentum
    boundary = (acc, mom)
    outputs = []
    for t in range(inputs.length):
        if t % cfg.chunk_size == 0:
            start = start_chunk(acc, cfg)
            acc = start.accumulators
            boundary = (acc, mom)
        token = inputs.slice(t, t + 1)
        grads = token_grads(start.weights, token.key, token.value, token.delta, cfg, keep_graph)
        # theta_t and eta_t scale each layer's rows: [N, 1, 1] per head, [N, out_l, 1] per output channel.
        thetas = layer_rows(token.lr, cfg.channel_lr, cfg)
        if mom is None:
            surprise = [-theta * g for theta, g in zip(thetas, grads)]
        else:  # Titans eq. 14: S_t = eta_t S_{t-1} - theta_t grad
            etas = layer_rows(token.log_momentum.exp(), cfg.channel_momentum, cfg)
            mom = [eta * s - theta * g for eta, theta, s, g in zip(etas, thetas, mom, grads)]
            surprise = mom
        acc = [retain * a + s for retain, a, s in zip(layer_retention(token.log_retain, cfg), acc, surprise)]
        outputs.append(memory_apply(retrieval_weights(acc, start, cfg), token.query, cfg.layer_norm_eps))
    if inputs.length and inputs.length % cfg.chunk_size == 0:
        boundary = (acc, mom)
    return torch.cat(outputs, dim=1), *boundary
