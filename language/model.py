"""The language model (embedding -> backbone -> tied output head) and streaming generation.

Generation carries the backbone's streaming state from token to token, so each new token costs the same
whatever came before (bounded caches for sliding-window attention, a fixed-size memory): the neural
memory keeps memorising what it reads and writes as it generates.

`width_for_parameters` sizes a language model to a parameter count, so that backbones can be compared at
equal size rather than equal width (benchmarks/niah.py and benchmarks/language.py, `--parameters`).
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor, nn

from titans.core import build_backbone
from titans.core.backbones import BackboneConfig
from titans.pipelines import SpecError, register


class LanguageModel(nn.Module):
    def __init__(self, vocabulary: int, backbone: nn.Module):
        super().__init__()
        if backbone.cfg.bidirectional:
            raise SpecError(
                "model.backbone.bidirectional=true: a language model predicts each next token, which a "
                "bidirectional backbone would already see"
            )
        self.embed = nn.Embedding(vocabulary, backbone.cfg.dim)
        nn.init.normal_(self.embed.weight, std=0.02)  # GPT-2's scale: initial logits near zero, loss near log V
        self.backbone = backbone

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, list]:
        """tokens: [B, T] -> (logits [B, T, vocabulary], streaming state)."""
        h, state = self.backbone(self.embed(tokens), state)
        return h @ self.embed.weight.T, state  # the output head shares the embedding (tied weights)


@register("head", "tied")
def tied(vocabulary: int, backbone: nn.Module) -> LanguageModel:
    """Logits from the embedding matrix (weight tying, as GPT-2 and nanoGPT)."""
    return LanguageModel(vocabulary, backbone)


def parameter_count(backbone: str, vocabulary: int, **config) -> int:
    """Parameters of `LanguageModel(vocabulary, build_backbone(backbone, **config))`: the embedding (shared
    with the output head, so counted once) and the backbone. Built on the meta device: nothing is allocated."""
    with torch.device("meta"):
        model = LanguageModel(vocabulary, build_backbone(backbone, **config))
    return sum(p.numel() for p in model.parameters())


def width_for_parameters(backbone: str, target: int, vocabulary: int, **config) -> int:
    """The width `dim` whose language model (`parameter_count`) is closest to `target` parameters (ties: the
    narrower). `heads` stays as configured and the width is a multiple of it, so the head width is whole;
    every other `BackboneConfig` field is kept from `config`. The closest count can be some percent off when
    a step of `heads` in width is a large step in parameters (narrow models)."""
    if "dim" in config:
        raise ValueError("width_for_parameters chooses dim: leave it out of the config")
    if target < 1:
        raise ValueError(f"target={target}: must be a positive number of parameters")
    step = config.get("heads", BackboneConfig.heads)

    @cache
    def count(multiple: int) -> int:
        return parameter_count(backbone, vocabulary, dim=multiple * step, **config)

    low, high = 1, 1  # the count grows with the width: double until it reaches the target, then bisect
    while count(high) < target:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    return step * min(low, high, key=lambda multiple: abs(count(multiple) - target))


def sample(logits: Tensor, temperature: float, top_k: int | None, top_p: float | None, generator) -> Tensor:
    """One token per row of logits [B, V]: greedy at temperature 0, else from the top-k / nucleus set."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        ordered, order = logits.sort(dim=-1, descending=True)
        beyond = ordered.softmax(-1).cumsum(-1) - ordered.softmax(-1) > top_p  # keep the smallest set reaching p
        logits = logits.scatter(-1, order, ordered.masked_fill(beyond, float("-inf")))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]


@torch.no_grad()
def generate(
    model: LanguageModel,
    prompt: list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
) -> list[int]:
    """Continue `prompt` (token ids) by `max_new_tokens`, reading each token once (streaming state)."""
    device = model.embed.weight.device
    generator = torch.Generator(device).manual_seed(seed)
    logits, state = model(torch.tensor([prompt], device=device))
    produced = []
    for _ in range(max_new_tokens):
        token = sample(logits[:, -1], temperature, top_k, top_p, generator)
        produced.append(int(token))
        logits, state = model(token[:, None], state)
    return produced
