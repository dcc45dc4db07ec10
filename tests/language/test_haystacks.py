"""The long-context recall generators: exact lengths, answers that the text supports, and per-answer
scoring in the needle-recall task."""

import re

import numpy as np
import pytest
import torch

from titans.language.haystacks import AssociativeRecall, Facts, Needles
from titans.language.recall import NeedleRecall, babilong, mqar, passkey
from titans.pipelines import SpecError

FILLER = "The cat sat on the mat. A dog ran in the park. " * 400


@pytest.mark.parametrize("needle", ["passkey", "number", "word"])
def test_needles_hide_the_answer_once_before_the_question(needle):
    data = Needles(FILLER, 200, [200], 1, 1, 0, needle=needle)
    rng = np.random.default_rng(0)
    for length in (data.shortest, 200, 1000):
        text, [(start, stop)] = data.make(rng, length)
        answer = text[start:stop]
        assert len(text) == length and stop == length
        assert text[:start].count(f" is {answer}. ") == 1  # the needle, before the question
        assert re.fullmatch(r"\d{5}" if needle == "passkey" else r"\d{7}" if needle == "number" else "[a-z]+", answer)


def test_mqar_asks_every_key_once_and_the_answers_are_the_written_values():
    text, spans = AssociativeRecall("", 100, [100], 1, 1, 0).make(np.random.default_rng(0), 100)
    written, asked = text.split("|")
    pairs = dict(pair.split(":") for pair in written.split())
    assert len(text) == 100 and len(spans) == len(pairs) == 9
    offset = len(written) + 1
    for (start, stop), query in zip(spans, asked.split()):
        key, value = query.split(":")
        assert text[start:stop] == value == pairs[key] and start > offset


def test_babilong_answer_is_the_last_place_named_for_the_person():
    data = Facts(FILLER, 300, [300], 1, 1, 0, facts=5)
    rng = np.random.default_rng(1)
    for _ in range(20):
        text, [(start, stop)] = data.make(rng, 300)
        person = re.search(r"Where is (\w+)\?", text).group(1)
        places = re.findall(rf"{person} \w+ to the (\w+)\.", text[:start])
        assert len(text) == 300 and text[start:stop] == places[-1]


def test_lengths_too_short_for_a_needle_are_refused():
    with pytest.raises(SpecError, match="lengths of at least"):
        passkey(train_length=40)
    with pytest.raises(SpecError, match="lengths of at least"):
        babilong(train_length=64, facts=4)
    assert mqar(train_length=64, train_examples=2).shortest == 12


def test_each_mqar_query_is_scored_on_its_own():
    task = NeedleRecall.__new__(NeedleRecall)
    tokens = torch.tensor([[1, 2, 3, 4, 5, 6]])
    answer_ids = torch.tensor([[-1, -1, 0, -1, 1, 1]])  # answer 0: token 3; answer 1: tokens 5 and 6
    targets = tokens[0, 1:]

    def model(inputs):  # right on answer 0 and on the first character of answer 1 only
        logits = torch.nn.functional.one_hot(targets, 8).float()[None]
        logits[0, 4] = torch.nn.functional.one_hot(torch.tensor(0), 8).float()
        return logits, None

    outputs = task.outputs(model, (tokens, answer_ids, torch.tensor([6])))
    assert outputs["correct"].tolist() == [True, False] and outputs["length"].tolist() == [6, 6]
    assert outputs["loss"].shape == (1,)
