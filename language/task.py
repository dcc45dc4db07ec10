"""The `language-modelling` task: next-token prediction over a text corpus, with sample generations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from titans.pipelines import InputError, Splits, Task, register
from titans.pipelines.outputs import write_text

from .datasets import Corpus
from .model import generate
from .streaming import StreamingResult, streaming_loss
from .text import TOKENIZERS, CharacterTokenizer, read_text


class Blocks(Dataset):
    """(input, target) pairs of `block_size` tokens cut from one long token stream, every `stride` tokens."""

    def __init__(self, ids: Tensor, block_size: int, stride: int, where: str):
        if len(ids) < block_size + 1:
            raise InputError(f"{where} has {len(ids)} tokens, fewer than data.block_size + 1 = {block_size + 1}")
        self.ids, self.block_size = ids, block_size
        self.starts = torch.arange(0, len(ids) - block_size, stride)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int):
        start = int(self.starts[index])
        chunk = self.ids[start : start + self.block_size + 1]
        return chunk[:-1], chunk[1:]


@register("featurizer", "bytes")
def bytes_() -> str:
    """UTF-8 bytes: 256 symbols, any text."""
    return "bytes"


@register("featurizer", "characters")
def characters() -> str:
    """The training corpus's own characters (saved with the model)."""
    return "characters"


@register("task", "language-modelling")
class LanguageModelling(Task):
    """Train a language model on text; report loss (nats per token), perplexity and bits per token."""

    default_featurizer = "characters"
    default_head = "tied"
    default_metrics = ("perplexity", "bits-per-token")

    def splits(self) -> Splits:
        corpus: Corpus = self.components.dataset()
        kind = self.components.featurizer()
        tokenizer = CharacterTokenizer.from_corpus(corpus.train) if kind == "characters" else TOKENIZERS[kind]()
        self.state = {"tokenizer": kind, "vocabulary": tokenizer.vocabulary, "block_size": corpus.block_size}
        self.sample_prompt = corpus.val[:64]
        train = torch.tensor(tokenizer.encode(corpus.train))
        val = torch.tensor(tokenizer.encode(corpus.val))
        size = corpus.block_size
        train_blocks = Blocks(train, size, size // 2, f"{corpus.source}: the training text")
        return Splits(train_blocks, Blocks(val, size, size, f"{corpus.source}: the validation text"), None)

    @property
    def tokenizer(self):
        return TOKENIZERS[self.state["tokenizer"]](self.state["vocabulary"])

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state

    def build_model(self, backbone: nn.Module) -> nn.Module:
        self.model = self.components.head(self.tokenizer.size, backbone)  # kept to write sample generations
        return self.model

    def loss(self, model: nn.Module, batch) -> Tensor:
        x, y = batch
        logits, _ = model(x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        x, y = batch
        logits, _ = model(x)
        losses = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # [B, T], nats per token
        return {"loss": losses.mean(1)}

    def write_predictions(self, outputs: dict[str, Tensor], split: str, path: Path) -> Path | None:
        """A sample continuation of the validation text's opening, as text."""
        if split != "val":
            return None
        continuation = self.generate(self.model, self.sample_prompt, 400, 0.8, 40, None, 0)
        return write_text(path.with_name("samples.txt"), self.sample_prompt + continuation + "\n")

    def generate(self, model: nn.Module, prompt: str, max_new_tokens: int, temperature: float, top_k: int | None,
                 top_p: float | None, seed: int) -> str:  # fmt: skip
        ids = self.tokenizer.encode(prompt)
        if not ids:
            raise InputError("--prompt is empty: give the text to continue")
        model.eval()
        return self.tokenizer.decode(generate(model, ids, max_new_tokens, temperature, top_k, top_p, seed))

    def streaming_perplexity(self, model: nn.Module, path: Path, piece: int) -> StreamingResult:
        """Next-token loss over a whole text file, read in pieces with the state carried (constant memory)."""
        ids = self.tokenizer.encode(read_text(path))
        if len(ids) < 2:
            raise InputError(f"{path}: needs at least two tokens to score")
        return streaming_loss(model.eval(), ids, piece=piece, total=len(ids), progress=True)


@register("metric", "perplexity")
def perplexity(outputs: dict[str, Tensor]) -> float:
    """exp(mean loss per token)."""
    return math.exp(outputs["loss"].mean().item())


@register("metric", "bits-per-token")
def bits_per_token(outputs: dict[str, Tensor]) -> float:
    """Mean loss per token in bits (bits per character or per byte, with those tokenizers)."""
    return outputs["loss"].mean().item() / math.log(2)
