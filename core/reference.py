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


def layer_retention(log_retain: Tensor, cfg: MemoryConfig) -> list[Tensor]:
    """1 - alpha_t of one token (log_retain: [N, 1] or [N, 1, R]) as a factor of each layer's accumulator
    rows: [N, 1, 1] per head, or [N, out_l, 1] per output channel (Titans eq. 13, channel-wise)."""
    if not cfg.channel_forget:
        return [log_retain.exp()[:, :, None]] * cfg.memory_depth
    widths = [out for out, _ in cfg.layer_shapes]
    return [part.exp().mT for part in log_retain.split(widths, dim=-1)]


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
        theta = token.lr[:, :, None]  # [N, 1, 1]
        if mom is None:
            surprise = [-theta * g for g in grads]
        else:  # Titans eq. 14: S_t = eta_t S_{t-1} - theta_t grad
            eta = token.log_momentum.exp()[:, :, None]
            mom = [eta * s - theta * g for s, g in zip(mom, grads)]
            surprise = mom
        acc = [retain * a + s for retain, a, s in zip(layer_retention(token.log_retain, cfg), acc, surprise)]
        outputs.append(memory_apply(retrieval_weights(acc, start, cfg), token.query, cfg.layer_norm_eps))
    if inputs.length and inputs.length % cfg.chunk_size == 0:
        boundary = (acc, mom)
    return torch.cat(outputs, dim=1), *boundary
