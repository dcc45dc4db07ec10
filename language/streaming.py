"""Perplexity of arbitrarily long text in constant memory: the tokens are read in pieces, the backbone's
streaming state carried from piece to piece, so the model sees the whole text as one sequence (the
memory keeps memorising; attention windows slide) while only one piece's activations are ever alive.

    from titans.language import streaming_loss
    result = streaming_loss(model, token_ids, piece=2048)
    result.perplexity, result.tokens
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn import functional as F

from titans.pipelines.streams import batched


@dataclass
class StreamingResult:
    loss: float  # mean negative log-likelihood, nats per predicted token
    tokens: int  # tokens predicted (every token but the first)

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)


@torch.no_grad()
def streaming_loss(
    model: nn.Module, token_ids: Iterable[int], piece: int = 2048, total: int | None = None, progress: bool = False
) -> StreamingResult:
    """Mean next-token loss of `model` (tokens [1, T] -> (logits, state)) over `token_ids`, which may be a
    generator of any length. Each piece is scored with the logits of the piece before it carried over,
    so the result equals scoring the text in one pass. `total` (tokens) sizes the progress bar."""
    if piece < 1:
        raise ValueError(f"piece={piece}: must be a positive number of tokens")
    device = next(model.parameters()).device
    state, last_logits = None, None
    nll, count = 0.0, 0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("streaming perplexity", total=total)
        for ids in batched(token_ids, piece):
            tokens = torch.tensor([ids], device=device)  # [1, t]
            logits, state = model(tokens, state)  # [1, t, V]
            predicted: Tensor = logits[0, :-1] if last_logits is None else torch.cat([last_logits, logits[0, :-1]])
            targets = tokens[0, 1:] if last_logits is None else tokens[0]
            nll += F.cross_entropy(predicted.float(), targets, reduction="sum").item()
            count += len(targets)
            last_logits = logits[0, -1:]
            bar.advance(task, len(ids))
    if count == 0:
        raise ValueError("streaming perplexity needs at least two tokens")
    return StreamingResult(nll / count, count)
