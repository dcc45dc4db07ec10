"""Needle in a haystack (RULER's passkey form): filler text with one sentence "the passkey is 48213."
hidden at a random depth, ending with the question "... the passkey is"; the model must continue with
the digits.  Trained at one length, evaluated at growing lengths, so the curve shows whether recall
survives beyond the attention window (where a memory must carry it).

    titans run niah                                           # MAG; then --set model.backbone.name=swa
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from titans.pipelines import SpecError, Splits, Task, register
from titans.pipelines.outputs import save_figure

from .datasets import text_demo
from .text import CharacterTokenizer

NEEDLE = " The passkey is {}. "
QUESTION = " What is the passkey? The passkey is "


@dataclass
class Haystacks:
    filler: str  # text the haystacks are cut from
    train_length: int
    eval_lengths: list[int]
    train_examples: int
    eval_examples: int
    digits: int
    seed: int


@register("dataset", "passkey")
def passkey(
    *,
    train_length: int = 256,
    eval_lengths: list[int] | None = None,
    train_examples: int = 6000,
    eval_examples: int = 100,
    digits: int = 5,
    seed: int = 0,
) -> Haystacks:
    """Passkey retrieval over filler sentences; evaluated at 1x, 2x, 4x and 8x the training length by default."""
    shortest = len(NEEDLE.format("0" * digits)) + len(QUESTION) + digits + 16
    lengths = eval_lengths or [train_length * m for m in (1, 2, 4, 8)]
    if min(train_length, *lengths) < shortest:
        raise SpecError(f"data: lengths of at least {shortest} characters are needed for a needle and its question")
    filler = text_demo(sentences=20000, seed=seed + 1).train
    return Haystacks(filler, train_length, lengths, train_examples, eval_examples, digits, seed)


class NeedleSet(Dataset):
    """(tokens [T], answer mask [T]) with the digits' positions marked; `length` characters in total."""

    def __init__(self, data: Haystacks, tokenizer: CharacterTokenizer, lengths: list[int], count: int, seed: int):
        rng = np.random.default_rng(seed)
        self.items = []
        for length in lengths:
            for _ in range(count):
                key = "".join(rng.choice(list("0123456789"), data.digits))
                needle, question = NEEDLE.format(key), QUESTION
                room = length - len(needle) - len(question) - data.digits
                start = rng.integers(0, len(data.filler) - room)
                hay = data.filler[start : start + room]
                depth = rng.integers(0, room + 1)
                text = hay[:depth] + needle + hay[depth:] + question + key
                tokens = torch.tensor(tokenizer.encode(text))
                answer = torch.zeros(len(tokens), dtype=torch.bool)
                answer[-data.digits :] = True
                self.items.append((tokens, answer, length))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def collate(items):
    tokens, answers, lengths = zip(*items)
    pad = torch.nn.utils.rnn.pad_sequence
    return pad(tokens, True, 0), pad(answers, True, False), torch.tensor(lengths)


@register("task", "needle-recall")
class NeedleRecall(Task):
    """Recall a passkey hidden in long filler text; accuracy against context length."""

    default_featurizer = "characters"
    default_head = "tied"
    default_metrics = ("recall",)

    def splits(self) -> Splits:
        data: Haystacks = self.components.dataset()
        tokenizer = CharacterTokenizer.from_corpus(data.filler + "0123456789" + NEEDLE + QUESTION)
        self.state = {"vocabulary": tokenizer.vocabulary, "lengths": data.eval_lengths}
        train = NeedleSet(data, tokenizer, [data.train_length], data.train_examples, data.seed)
        val = NeedleSet(data, tokenizer, [data.train_length], data.eval_examples, data.seed + 1)
        test = NeedleSet(data, tokenizer, data.eval_lengths, data.eval_examples, data.seed + 2)
        return Splits(train, val, test, collate)

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state

    def build_model(self, backbone: nn.Module) -> nn.Module:
        return self.components.head(len(self.state["vocabulary"]) + 1, backbone)

    def _answer_logits(self, model: nn.Module, tokens: Tensor, answer: Tensor) -> tuple[Tensor, Tensor]:
        logits, _ = model(tokens[:, :-1])  # position t predicts token t + 1
        return logits[answer[:, 1:]], tokens[:, 1:][answer[:, 1:]]  # [B * digits, V], [B * digits]

    def loss(self, model: nn.Module, batch) -> Tensor:
        tokens, answer, _ = batch
        logits, targets = self._answer_logits(model, tokens, answer)
        return F.cross_entropy(logits, targets)

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        tokens, answer, lengths = batch
        logits, targets = self._answer_logits(model, tokens, answer)
        batch_size = len(tokens)
        losses = F.cross_entropy(logits, targets, reduction="none").view(batch_size, -1).mean(1)
        # all digits right under teacher forcing == greedy decoding produces the whole passkey
        correct = (logits.argmax(-1) == targets).view(batch_size, -1).all(1)
        return {"loss": losses, "correct": correct, "length": lengths}

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        return {
            f"{split}/recall@{length}": 100 * outputs["correct"][outputs["length"] == length].float().mean().item()
            for length in outputs["length"].unique().tolist()
        }

    def plot(self, outputs: dict[str, Tensor], split: str, directory: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if split != "test":
            return []
        lengths = outputs["length"].unique().tolist()
        recall = [100 * outputs["correct"][outputs["length"] == n].float().mean().item() for n in lengths]
        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(lengths, recall, marker="o", label=self.spec.model.backbone.name)
        axis.set(xscale="log", xlabel="context length (characters)", ylabel="passkey recall (%)", ylim=(-2, 102))
        axis.set_xticks(lengths, [str(n) for n in lengths])
        axis.legend()
        return [save_figure(figure, directory / "recall_by_length.png")]


@register("metric", "recall")
def recall(outputs: dict[str, Tensor]) -> float:
    """Percent of examples whose whole answer is right."""
    return 100 * outputs["correct"].float().mean().item()
