"""Long-context recall examples as text: each generator makes `(text, answer spans)` of a given length in
characters, the spans marking the characters the model must produce.

- `Needles`: RULER's single-needle forms (Hsieh et al. 2024): a passkey, a 7-digit magic number or a
  magic word for a named key, hidden at a random depth of filler text, then the question.
- `AssociativeRecall`: multi-query associative recall (MQAR, Arora et al. 2023, Zoology) written as
  text: `ab:3 cd:7 ... | cd:7 ab:3 ...`, every value after the bar is an answer.
- `Facts`: BABILong's qa1 (Kuratov et al. 2024): bAbI "single supporting fact" sentences ("Mary went to
  the kitchen.") scattered through filler text; "Where is Mary?" asks for the last place named for her.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

Spans = list[tuple[int, int]]  # [start, stop) character ranges of the answers

MAGIC_WORDS = (
    "anchor",
    "basket",
    "candle",
    "dragon",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "island",
    "jasmine",
    "kettle",
    "lantern",
    "marble",
    "nectar",
    "orchid",
    "pepper",
    "quartz",
    "raven",
    "saddle",
    "timber",
    "umbrella",
    "velvet",
    "walnut",
    "yonder",
    "zephyr",
    "cobalt",
    "meadow",
    "pebble",
    "summit",
    "thistle",
    "voyage",
    "willow",
)
PEOPLE = ("Mary", "John", "Sandra", "Daniel")  # bAbI's
PLACES = ("kitchen", "garden", "office", "bedroom", "hallway", "bathroom")
MOVES = ("went to", "moved to", "journeyed to", "travelled to")


@dataclass
class Haystacks(ABC):
    """What a recall dataset gives the task: how to make one example, and the sizes of the splits."""

    filler: str  # text the haystacks are cut from ("" when there is none)
    train_length: int
    eval_lengths: list[int]
    train_examples: int
    eval_examples: int
    seed: int

    @property
    def alphabet(self) -> str:
        """Every character an example can contain."""
        return self.filler + string.ascii_letters + string.digits + string.punctuation + " "

    @property
    @abstractmethod
    def shortest(self) -> int:
        """The fewest characters one example needs."""

    @abstractmethod
    def make(self, rng: np.random.Generator, length: int) -> tuple[str, Spans]:
        """One example of `length` characters and the spans of its answers."""

    def _hide(self, rng: np.random.Generator, room: int, sentences: list[str]) -> str:
        """`room` characters of filler with the sentences inserted, in order, at random depths."""
        start = rng.integers(0, len(self.filler) - room)
        hay = self.filler[start : start + room]
        depths = sorted(rng.integers(0, room + 1, len(sentences)))
        pieces, previous = [], 0
        for depth, sentence in zip(depths, sentences):
            pieces += [hay[previous:depth], sentence]
            previous = depth
        return "".join(pieces) + hay[previous:]


@dataclass
class Needles(Haystacks):
    needle: str = "passkey"  # "passkey" | "number" | "word"
    digits: int = 5  # of a passkey

    def _needle_and_question(self, rng: np.random.Generator) -> tuple[str, str, str]:
        if self.needle == "passkey":
            key = "".join(rng.choice(list(string.digits), self.digits))
            return f" The passkey is {key}. ", " What is the passkey? The passkey is ", key
        name = str(rng.choice(MAGIC_WORDS))
        if self.needle == "number":
            key = str(rng.integers(1_000_000, 10_000_000))
            return f" The special magic number for {name} is {key}. ", f" What is the magic number for {name}? ", key
        word = str(rng.choice([w for w in MAGIC_WORDS if w != name]))
        return f" The special magic word for {name} is {word}. ", f" What is the magic word for {name}? ", word

    @property
    def shortest(self) -> int:
        longest_word = max(map(len, MAGIC_WORDS))
        needle, question, key = self._needle_and_question(np.random.default_rng(0))
        return len(needle) + len(question) + 2 * max(len(key), longest_word) + 16

    def make(self, rng: np.random.Generator, length: int) -> tuple[str, Spans]:
        needle, question, key = self._needle_and_question(rng)
        text = self._hide(rng, length - len(needle) - len(question) - len(key), [needle]) + question + key
        return text, [(len(text) - len(key), len(text))]


@dataclass
class AssociativeRecall(Haystacks):
    """MQAR: as many `key:value` pairs as fit, then every key asked once in a new order."""

    @property
    def shortest(self) -> int:
        return 12  # two pairs and the bar

    def make(self, rng: np.random.Generator, length: int) -> tuple[str, Spans]:
        pairs = (length - 2) // 10  # "ab:3 " written twice per pair, and "| "
        letters = np.array(list(string.ascii_lowercase))
        codes = rng.choice(26 * 26, pairs, replace=False)
        keys = [letters[c // 26] + letters[c % 26] for c in codes]
        values = [str(v) for v in rng.integers(0, 10, pairs)]
        text = "".join(f"{k}:{v} " for k, v in zip(keys, values)) + "| "
        spans = []
        for i in rng.permutation(pairs):
            text += f"{keys[i]}:"
            spans.append((len(text), len(text) + 1))
            text += f"{values[i]} "
        return text.ljust(length), spans


@dataclass
class Facts(Haystacks):
    """BABILong qa1: `facts` movements of bAbI's people hidden in filler; where is the one asked about?"""

    facts: int = 4

    @property
    def shortest(self) -> int:
        longest_fact = max(map(len, PEOPLE)) + max(map(len, MOVES)) + max(map(len, PLACES)) + 12
        return self.facts * longest_fact + 64

    def make(self, rng: np.random.Generator, length: int) -> tuple[str, Spans]:
        moves = [(str(rng.choice(PEOPLE)), str(rng.choice(MOVES)), str(rng.choice(PLACES))) for _ in range(self.facts)]
        person = moves[rng.integers(0, self.facts)][0]
        place = [where for who, _, where in moves if who == person][-1]  # the last supporting fact
        sentences = [f" {who} {move} the {where}. " for who, move, where in moves]
        question = f" Where is {person}? {person} is in the "
        room = length - sum(map(len, sentences)) - len(question) - len(place)
        text = self._hide(rng, room, sentences) + question + place
        return text, [(len(text) - len(place), len(text))]
