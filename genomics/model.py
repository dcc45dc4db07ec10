"""The DNA classifier: tokens -> embedding -> backbone -> pooling over the sequence -> class logits.

Featurizers (`nucleotides`, `kmers`) carry the tokenizer and the embedding; `reverse_complement: true`
averages both strands' predictions at inference, and trains either on one strand drawn at random per example
(`strands: random`) or on both strands' averaged prediction, the one inference makes (`strands: both`, twice the
computation per example: a causal backbone then learns from each base's context on both sides).
Heads pool the backbone's outputs over the real (unpadded) tokens: mean, max, last, or attention
(a learned query scores every position). `next_token: w` adds w x an auxiliary loss in training: every
position's output predicts the next token through the embedding's own weights (tied, no new parameters), a
language-modelling objective on the training sequences themselves that the causal backbones make for free."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titans.pipelines import SpecError, register

from .tokenizers import PAD, KmerTokenizer

Strands = Literal["random", "both"]


class DnaFeaturizer(nn.Module):
    def __init__(self, dim: int, tokenizer: KmerTokenizer, reverse_complement: bool, strands: Strands):
        super().__init__()
        if strands == "both" and not reverse_complement:
            raise SpecError(
                "features.strands=both trains on the reverse complement, but features.reverse_complement=false"
            )
        self.tokenizer, self.reverse_complement, self.strands = tokenizer, reverse_complement, strands
        self.embed = nn.Embedding(tokenizer.size, dim, padding_idx=PAD)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.embed(tokens)  # [B, T, dim]


@register("featurizer", "nucleotides")
def nucleotides(dim: int, *, reverse_complement: bool = True, strands: Strands = "random") -> DnaFeaturizer:
    """One token per nucleotide (A, C, G, T; N and anything ambiguous is the unknown token)."""
    return DnaFeaturizer(dim, KmerTokenizer(1), reverse_complement, strands)


@register("featurizer", "kmers")
def kmers(
    dim: int, *, k: int = 3, stride: int = 1, reverse_complement: bool = True, strands: Strands = "random"
) -> DnaFeaturizer:
    """k-mer tokens, overlapping (stride 1) or not (stride k)."""
    return DnaFeaturizer(dim, KmerTokenizer(k, stride), reverse_complement, strands)


class PoolingHead(nn.Module):
    def __init__(self, dim: int, classes: int, pool: str, next_token: float = 0.0):
        super().__init__()
        self.pool, self.next_token = pool, next_token
        self.score = nn.Linear(dim, 1) if pool == "attention" else None
        self.classify = nn.Linear(dim, classes)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """h: [B, T, dim], mask: [B, T] (True on real tokens) -> logits [B, classes]."""
        if self.pool == "mean":
            pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        elif self.pool == "max":
            pooled = h.masked_fill(~mask[..., None], float("-inf")).amax(1)
        elif self.pool == "last":
            pooled = h[torch.arange(len(h)), mask.sum(1) - 1]
        else:
            weights = self.score(h)[..., 0].masked_fill(~mask, float("-inf")).softmax(1)  # [B, T]
            pooled = (weights[..., None] * h).sum(1)
        return self.classify(pooled)


@register("head", "pooling")
def pooling(
    dim: int, classes: int, *, pool: Literal["mean", "max", "last", "attention"] = "mean", next_token: float = 0.0
) -> PoolingHead:
    """Pool the sequence (mean, max, last token, or learned attention), then a linear classifier; `next_token`
    weighs an auxiliary next-token loss in training (0: off)."""
    if not 0 <= next_token < float("inf"):
        raise SpecError(f"model.head.next_token must be a finite number >= 0, got {next_token}")
    return PoolingHead(dim, classes, pool, next_token)


class DnaClassifier(nn.Module):
    def __init__(self, featurizer: DnaFeaturizer, backbone: nn.Module, head: PoolingHead):
        super().__init__()
        self.featurizer, self.backbone, self.head = featurizer, backbone, head

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens: [B, T] (PAD after each sequence) -> logits [B, classes]."""
        return self.logits_and_next_token_loss(tokens, with_next_token=False)[0]

    def logits_and_next_token_loss(self, tokens: Tensor, with_next_token: bool = True) -> tuple[Tensor, Tensor | None]:
        """Class logits [B, classes] and, if asked, the mean cross-entropy of every real token after the first
        predicted from the backbone's output one position earlier, through the tied embedding."""
        real = tokens != PAD
        # [B, T, dim]; padding after a sequence never reaches its real tokens, in either direction
        h, _ = self.backbone(self.featurizer(tokens), lengths=real.sum(1))
        logits = self.head(h, real)
        if not with_next_token or tokens.shape[1] < 2:
            return logits, None
        predicted = h[:, :-1] @ self.featurizer.embed.weight.T  # [B, T - 1, vocabulary]
        targets = tokens[:, 1:].masked_fill(~real[:, 1:], -100)  # padding is not predicted
        return logits, F.cross_entropy(predicted.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
