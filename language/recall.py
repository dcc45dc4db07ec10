"""Long-context recall against length: needles in a haystack (RULER: passkey, number, word), multi-query
associative recall (MQAR) and BABILong-style questions over facts (`haystacks.py` makes the examples).
Trained at one length, evaluated at growing lengths, so the curve shows whether recall survives beyond
the attention window (where a memory must carry it). Long examples are evaluated in pieces with the
backbone's state carried over, so memory stays bounded at any length.

    titans run niah                                           # MAG; then --set model.backbone.name=swa
    titans run niah --set data.name=mqar                      # or data.name=babilong, data.needle=word
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from titans.pipelines import SpecError, Splits, Task, register
from titans.pipelines.outputs import save_figure

from .datasets import text_demo
from .haystacks import AssociativeRecall, Facts, Haystacks, Needles
from .text import CharacterTokenizer


def _checked(data: Haystacks) -> Haystacks:
    """Every example needs room for its needles and question: refuse lengths that are too short."""
    if min(data.train_length, *data.eval_lengths) < data.shortest:
        raise SpecError(
            f"data: lengths of at least {data.shortest} characters are needed for {data.__class__.__name__}"
        )
    return data


def _lengths(train_length: int, eval_lengths: list[int] | None) -> list[int]:
    return eval_lengths or [train_length * m for m in (1, 2, 4, 8)]


def _filler(seed: int) -> str:
    return text_demo(sentences=20000, seed=seed + 1).train


@register("dataset", "passkey")
def passkey(
    *,
    needle: Literal["passkey", "number", "word"] = "passkey",
    train_length: int = 256,
    eval_lengths: list[int] | None = None,
    train_examples: int = 6000,
    eval_examples: int = 100,
    digits: int = 5,
    seed: int = 0,
) -> Haystacks:
    """RULER needles over filler sentences (a passkey, a magic number or a magic word); evaluated at 1x, 2x,
    4x and 8x the training length by default."""
    lengths = _lengths(train_length, eval_lengths)
    examples = (train_length, lengths, train_examples, eval_examples, seed)
    return _checked(Needles(_filler(seed), *examples, needle=needle, digits=digits))


@register("dataset", "mqar")
def mqar(
    *,
    train_length: int = 256,
    eval_lengths: list[int] | None = None,
    train_examples: int = 6000,
    eval_examples: int = 100,
    seed: int = 0,
) -> Haystacks:
    """Multi-query associative recall: `key:value` pairs, then every key asked again (accuracy per query)."""
    return _checked(
        AssociativeRecall("", train_length, _lengths(train_length, eval_lengths), train_examples, eval_examples, seed)
    )


@register("dataset", "babilong")
def babilong(
    *,
    facts: int = 4,
    train_length: int = 256,
    eval_lengths: list[int] | None = None,
    train_examples: int = 6000,
    eval_examples: int = 100,
    seed: int = 0,
) -> Haystacks:
    """BABILong qa1: where is a person, given movement facts scattered through filler text."""
    lengths = _lengths(train_length, eval_lengths)
    examples = (train_length, lengths, train_examples, eval_examples, seed)
    return _checked(Facts(_filler(seed), *examples, facts=facts))


class NeedleSet(Dataset):
    """(tokens [T], answer ids [T], length): answer ids number each answer's characters 0, 1, ... per
    example, -1 elsewhere."""

    def __init__(self, data: Haystacks, tokenizer: CharacterTokenizer, lengths: list[int], count: int, seed: int):
        rng = np.random.default_rng(seed)
        self.items = []
        for length in lengths:
            for _ in range(count):
                text, spans = data.make(rng, length)
                answer_ids = torch.full((len(text),), -1)
                for number, (start, stop) in enumerate(spans):
                    answer_ids[start:stop] = number
                self.items.append((torch.tensor(tokenizer.encode(text)), answer_ids, length))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def collate(items):
    tokens, answers, lengths = zip(*items)
    pad = torch.nn.utils.rnn.pad_sequence
    return pad(tokens, True, 0), pad(answers, True, -1), torch.tensor(lengths)


@register("task", "needle-recall")
class NeedleRecall(Task):
    """Recall needles, values or facts from long contexts; accuracy against context length."""

    default_featurizer = "characters"
    default_head = "tied"
    default_metrics = ("recall",)
    piece = 4096  # evaluation reads longer examples in pieces of this many tokens (`_logits_at`)

    def splits(self) -> Splits:
        data: Haystacks = self.components.dataset()
        tokenizer = CharacterTokenizer.from_corpus(data.alphabet)
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

    def _answers(self, model: nn.Module, tokens: Tensor, answer_ids: Tensor):
        """Logits [A, V] and targets [A] of the A answer characters, with each one's example [A] and answer
        number within the batch [A] (so that an answer counts as right only when all its characters are)."""
        ids = answer_ids[:, 1:]
        where = ids >= 0
        logits = self._logits_at(model, tokens[:, :-1], where)  # position t predicts token t + 1
        example = where.nonzero()[:, 0]
        answer = torch.unique(example * (int(ids.max()) + 1) + ids[where], return_inverse=True)[1]
        return logits, tokens[:, 1:][where], example, answer

    def _logits_at(self, model: nn.Module, inputs: Tensor, where: Tensor) -> Tensor:
        """The model's logits on inputs [B, T] at the A positions where [B, T] is true: [A, V], in row-major
        order. Training takes one pass. Evaluation (no autograd) reads examples longer than `piece` tokens
        in pieces, the backbone's streaming state carried from piece to piece: the same logits (every
        backbone is streaming-exact), with the activations of one piece alive at a time, so that recall can
        be measured at lengths whose one pass would not fit in memory."""
        if torch.is_grad_enabled() or inputs.shape[1] <= self.piece:
            logits, _ = model(inputs)
            return logits[where]
        rank = where.flatten().cumsum(0).view_as(where) - 1  # each position's place in row-major order
        state, ranks, picked = None, [], []
        for start in range(0, inputs.shape[1], self.piece):
            part = slice(start, start + self.piece)
            logits, state = model(inputs[:, part], state)  # [B, piece, V]
            ranks.append(rank[:, part][where[:, part]])
            picked.append(logits[where[:, part]])
        return torch.cat(picked)[torch.cat(ranks).argsort()]

    def loss(self, model: nn.Module, batch) -> Tensor:
        tokens, answer_ids, _ = batch
        logits, targets, _, _ = self._answers(model, tokens, answer_ids)
        return F.cross_entropy(logits, targets)

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        tokens, answer_ids, lengths = batch
        logits, targets, example, answer = self._answers(model, tokens, answer_ids)
        per_example = torch.zeros(len(tokens), dtype=logits.dtype, device=logits.device)
        characters = per_example.index_add(0, example, torch.ones_like(targets, dtype=logits.dtype))
        losses = per_example.index_add(0, example, F.cross_entropy(logits, targets, reduction="none")) / characters
        # right under teacher forcing at every character == greedy decoding produces the whole answer
        wrong = torch.zeros(int(answer.max()) + 1, device=logits.device).index_add(
            0, answer, (logits.argmax(-1) != targets).float()
        )
        answer_length = torch.zeros_like(wrong, dtype=torch.long).index_put((answer,), lengths[example])
        return {"loss": losses, "correct": wrong == 0, "length": answer_length}

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        return {
            f"{split}/recall@{length}": 100 * outputs["correct"][outputs["length"] == length].float().mean().item()
            for length in outputs["length"].unique().tolist()
        }

    def plot(self, outputs: dict[str, Tensor], split: str, directory: Path) -> list[Path]:
        import matplotlib.pyplot as plt

        if split != "test":
            return []
        lengths = outputs["length"].unique().tolist()
        recall = [100 * outputs["correct"][outputs["length"] == n].float().mean().item() for n in lengths]
        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(lengths, recall, marker="o", label=self.spec.model.backbone.name)
        axis.set(xscale="log", xlabel="context length (characters)", ylabel="recall (%)", ylim=(-2, 102))
        axis.set_xticks(lengths, [str(n) for n in lengths])
        axis.legend()
        return [save_figure(figure, directory / "recall_by_length.png")]


@register("metric", "recall")
def recall(outputs: dict[str, Tensor]) -> float:
    """Percent of answers (a passkey, a word, an MQAR value) produced exactly."""
    return 100 * outputs["correct"].float().mean().item()
