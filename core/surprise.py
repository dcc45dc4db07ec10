"""The memory's momentary surprise per token: how strongly each token pushes the memory's weights.

    surprise = memory_surprise(layer, x)            # [B, T]
    tracks = surprise_tracks(backbone, x)           # [B, T], every memory layer of a backbone, averaged

surprise_t = theta_t * || grad_W l(M; k_t, v_t) ||, the size of the gradient step token t contributes
(Titans eq. 9-10, before momentum and decay), taken at the chunk-start weights the update uses, averaged
over heads (with channel_lr, || diag(theta_t) grad ||: each row of the gradient scaled by its own step
size).  It is large where the memory could not predict the token's value from its key: a new
motif, a regime change, a fact seen for the first time.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .neural_memory import NeuralMemory, run_recurrence
from .reference import layer_rows, token_grads
from .state import MemoryState


@torch.no_grad()
def memory_surprise(memory: NeuralMemory, x: Tensor, state: MemoryState | None = None) -> Tensor:
    """x: [B, T, dim] (the layer's input) -> surprise [B, T], continuing from `state` like the layer would."""
    cfg, (batch, length, _) = memory.cfg, x.shape
    inputs, _ = memory._inputs(x, None if state is None else state.conv_cache)
    if state is not None:
        inputs = inputs.prepend(state.pending)
    replay = 0 if state is None else state.pending.length
    surprise = []
    chunk_state = None if state is None else MemoryState(state.memory, state.momentum, state.pending.slice(0, 0), None)
    for start in range(0, inputs.length, cfg.chunk_size):
        chunk = inputs.slice(start, min(start + cfg.chunk_size, inputs.length))
        weights = memory.boundary_weights(chunk_state, batch)
        for t in range(chunk.length):
            token = chunk.slice(t, t + 1)
            grads = token_grads(weights, token.key, token.value, token.delta, cfg, keep_graph=False)
            if cfg.channel_lr:  # the step itself: row r of each layer's gradient scaled by theta_t[r]
                grads = [theta * g for theta, g in zip(layer_rows(token.lr, True, cfg), grads)]
            norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # [N]
            surprise.append(norm if cfg.channel_lr else token.lr[:, 0] * norm)
        chunk_state = _advance(memory, chunk, chunk_state)
    per_head = torch.stack(surprise, dim=1)[:, replay:]  # [B * H, T]
    return per_head.view(batch, cfg.heads, length).mean(1)


def _advance(memory: NeuralMemory, chunk, state: MemoryState | None) -> MemoryState:
    """The memory state after writing one whole chunk of prepared inputs."""
    cfg = memory.cfg
    start = memory._initial_memory(chunk.query.shape[0] // cfg.heads) if state is None else state.memory
    momentum = None
    if cfg.momentum:
        momentum = [torch.zeros_like(m) for m in start] if state is None or state.momentum is None else state.momentum
    _, accumulated, momentum = run_recurrence("chunked", chunk, start, momentum, cfg)
    return MemoryState(accumulated, momentum, chunk.slice(0, 0), None)


@torch.no_grad()
def surprise_tracks(backbone: nn.Module, x: Tensor) -> Tensor:
    """Run a backbone on x [B, T, dim] and average the surprise of every memory layer it calls: [B, T]."""
    captured: list[tuple[NeuralMemory, Tensor, MemoryState | None]] = []

    def capture(module, args, kwargs):
        layer_input = args[0]
        state = args[1] if len(args) > 1 else kwargs.get("state")
        if layer_input.shape[1] == x.shape[1]:  # the sequence itself, not the persistent tokens
            captured.append((module, layer_input, state))

    hooks = [
        m.register_forward_pre_hook(capture, with_kwargs=True)
        for m in backbone.modules()
        if isinstance(m, NeuralMemory)
    ]
    try:
        backbone(x)
    finally:
        for hook in hooks:
            hook.remove()
    if not captured:
        raise ValueError("this backbone has no neural memory layer whose surprise could be measured")
    tracks = torch.stack([memory_surprise(m, layer_input, state) for m, layer_input, state in captured]).mean(0)
    if getattr(getattr(backbone, "cfg", None), "bidirectional", False):  # [2B, T]: the rows, then each reversed
        forward, backward = tracks.chunk(2)
        return (forward + backward.flip(1)) / 2  # [B, T]
    return tracks  # [B, T]
