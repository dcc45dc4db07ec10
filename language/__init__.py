"""titans.language: character- and byte-level language modelling with streaming generation.

Registers the `language-modelling` and `needle-recall` tasks, their datasets (tinyshakespeare,
wikitext2-valid, text, text-demo, passkey, mqar, babilong), featurizers (characters, bytes), head (tied)
and metrics (perplexity, bits-per-token, recall) with titans.pipelines.  `streaming_loss` scores text of
any length in constant memory.
"""

from . import datasets, model, recall, task
from .datasets import Corpus
from .model import LanguageModel, generate, sample
from .recall import NeedleRecall
from .streaming import StreamingResult, streaming_loss
from .task import LanguageModelling
from .text import ByteTokenizer, CharacterTokenizer, read_text

__all__ = [
    "ByteTokenizer",
    "CharacterTokenizer",
    "Corpus",
    "LanguageModel",
    "LanguageModelling",
    "NeedleRecall",
    "StreamingResult",
    "datasets",
    "generate",
    "model",
    "read_text",
    "recall",
    "sample",
    "streaming_loss",
    "task",
]
