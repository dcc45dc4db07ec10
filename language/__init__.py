"""titans.language: character- and byte-level language modelling with streaming generation.

Registers the `language-modelling` task, its datasets (tinyshakespeare, wikitext2-valid, text,
text-demo), featurizers (characters, bytes), head (tied) and metrics (perplexity, bits-per-token) with
titans.pipelines.
"""

from . import datasets, model, task
from .datasets import Corpus
from .model import LanguageModel, generate, sample
from .task import LanguageModelling
from .text import ByteTokenizer, CharacterTokenizer, read_text

__all__ = [
    "ByteTokenizer",
    "CharacterTokenizer",
    "Corpus",
    "LanguageModel",
    "LanguageModelling",
    "datasets",
    "generate",
    "model",
    "read_text",
    "sample",
    "task",
]
