"""The long-context recall generators: exact lengths, answers that the text supports, per-answer scoring
in the needle-recall task, and evaluation in pieces equal to one pass."""

import re

import numpy as np
import pytest
import torch

from titans.core import build_backbone
from titans.language import LanguageModel
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


@pytest.mark.parametrize("name", ["mag", "swa", "transformer", "gated-deltanet"])
def test_evaluation_in_pieces_scores_what_one_pass_scores(name):
    """Examples longer than the task's piece are read in pieces with the state carried over: the answers'
    logits, and so every score, equal one pass (answers placed across piece boundaries, in several rows;
    float64, since pieces that split the memory's chunks sum in another order)."""
    torch.manual_seed(0)
    backbone = build_backbone(name, dim=16, depth=2, heads=2, window=8, chunk_size=4)
    model = LanguageModel(12, backbone).double().eval()
    tokens = torch.randint(1, 12, (3, 100))
    answer_ids = torch.full((3, 100), -1)
    answer_ids[0, 5:9], answer_ids[0, 60:62], answer_ids[1, 13:16], answer_ids[2, 90:100] = 0, 1, 0, 0
    batch = (tokens, answer_ids, torch.tensor([100, 100, 100]))
    task = NeedleRecall.__new__(NeedleRecall)
    with torch.no_grad():
        whole_logits, *whole_rest = task._answers(model, tokens, answer_ids)
        whole = task.outputs(model, batch)
        task.piece = 7
        logits, *rest = task._answers(model, tokens, answer_ids)
        pieces = task.outputs(model, batch)
    torch.testing.assert_close(logits, whole_logits, rtol=1e-10, atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(rest, whole_rest, strict=True))
    torch.testing.assert_close(pieces["loss"], whole["loss"], rtol=1e-10, atol=1e-12)
    assert torch.equal(pieces["correct"], whole["correct"]) and torch.equal(pieces["length"], whole["length"])
