"""Text data sources, registered by name: Tiny Shakespeare (nanoGPT's character protocol), WikiText-2's
validation split, your own text files, and a small corpus generated on the spot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from titans.pipelines import register
from titans.pipelines.datafiles import DataFile

from .text import read_text

SHAKESPEARE = DataFile(
    "language/tinyshakespeare/input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
)
# The tokenized v1 release circulates as an archive without a stable per-file address: data directory only.
WIKITEXT2_VALID = DataFile(
    "language/wikitext-2/valid.txt", None, "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"
)


@dataclass
class Corpus:
    train: str
    val: str
    block_size: int  # tokens of context per training example
    source: str


def _split(text: str, val_fraction: float, block_size: int, source: str) -> Corpus:
    cut = int(len(text) * (1 - val_fraction))
    return Corpus(text[:cut], text[cut:], block_size, source)


@register("dataset", "tinyshakespeare")
def tinyshakespeare(*, block_size: int = 256) -> Corpus:
    """Tiny Shakespeare, first 90% of characters to train, last 10% to validate (nanoGPT shakespeare_char)."""
    return _split(read_text(SHAKESPEARE.fetch()), 0.1, block_size, "tinyshakespeare")


@register("dataset", "wikitext2-valid")
def wikitext2_valid(*, block_size: int = 256, val_fraction: float = 0.1) -> Corpus:
    """WikiText-2's validation split (tokenized v1), for quick experiments; from TITANS_DATA_DIR."""
    return _split(read_text(WIKITEXT2_VALID.fetch()), val_fraction, block_size, "wikitext2-valid")


@register("dataset", "text")
def text(*, path: Path, val_path: Path | None = None, val_fraction: float = 0.1, block_size: int = 256) -> Corpus:
    """Your UTF-8 text (plain or gzip); the last `val_fraction` validates unless `val_path` is given."""
    if val_path is not None:
        return Corpus(read_text(path), read_text(val_path), block_size, str(path))
    return _split(read_text(path), val_fraction, block_size, str(path))


@register("dataset", "text-demo")
def text_demo(*, sentences: int = 4000, block_size: int = 128, seed: int = 0) -> Corpus:
    """A small English-like corpus made on the spot from a toy grammar (no download)."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "the old man", "my sister", "the river", "a small bird", "the teacher"]
    verbs = ["sees", "follows", "remembers", "finds", "watches", "forgets", "calls"]
    objects = ["the moon", "a red ball", "the garden", "an open door", "the last train", "a quiet song"]
    places = ["at night", "in the morning", "near the sea", "after the rain", "before dinner"]
    lines = []
    for _ in range(sentences):
        sentence = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(places)}."
        lines.append(sentence[0].upper() + sentence[1:])
    return _split(" ".join(lines) + "\n", 0.1, block_size, "text-demo")
