"""The `dna-classification` task: labelled DNA sequences in, calibrated class probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from titans.pipelines import InputError, SpecError, Splits, Task, register
from titans.pipelines.outputs import save_figure, write_atomic

from . import multilabel
from .datasets import LabelledSequences
from .explain import explain_records
from .model import DnaClassifier
from .sequences import Record, read_fasta
from .streaming import unlabelled_records, write_in_batches
from .tokenizers import PAD, KmerTokenizer, reverse_complement


def crop(sequence: str, max_length: int | None, policy: str, where: str) -> str:
    if max_length is None or len(sequence) <= max_length:
        return sequence
    if policy == "error":
        raise InputError(f"{where}: {len(sequence)} nucleotides, more than max_length={max_length} (crop: center)")
    start = {"start": 0, "end": len(sequence) - max_length, "center": (len(sequence) - max_length) // 2}[policy]
    return sequence[start : start + max_length]


class EncodedSequences(Dataset):
    """(tokens, reverse-complement tokens, class index or multi-hot [K] label set) per record; `augment`
    draws a strand at random."""

    def __init__(
        self,
        records: list[Record],
        classes: list[str],
        tokenizer: KmerTokenizer,
        augment: bool,
        multi_label: bool = False,
    ):
        index = {name: i for i, name in enumerate(classes)}
        self.forward = [torch.tensor(tokenizer.encode(r.sequence)) for r in records]
        self.reverse = [torch.tensor(tokenizer.encode(reverse_complement(r.sequence))) for r in records]
        if multi_label:
            self.labels = multilabel.multi_hot(records, classes)  # [N, K]
        else:
            self.labels = torch.tensor([index.get(r.label, -1) for r in records])  # [N]
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.augment and torch.rand(()) < 0.5:
            return self.reverse[i], self.forward[i], self.labels[i], i
        return self.forward[i], self.reverse[i], self.labels[i], i


def collate(items):
    forward, reverse, labels, index = zip(*items)
    pad = torch.nn.utils.rnn.pad_sequence
    return pad(forward, True, PAD), pad(reverse, True, PAD), torch.stack(labels), torch.tensor(index)


@register("task", "dna-classification")
class DnaClassification(Task):
    """Classify DNA sequences (binary, several classes, or label sets) from FASTA/FASTQ/CSV files."""

    default_featurizer = "nucleotides"
    default_head = "pooling"
    default_metrics = ("accuracy", "mcc", "f1", "auroc", "auprc")

    def splits(self) -> Splits:
        data: LabelledSequences = self.components.dataset()
        featurizer_probe = self.components.featurizer(8)  # the tokenizer's settings, before the model exists
        self.source = data.source
        self.state = {
            "classes": data.classes,
            "k": featurizer_probe.tokenizer.k,
            "stride": featurizer_probe.tokenizer.stride,
            "max_length": data.max_length,
            "crop": data.crop,
            "multi_label": data.multi_label,
        }
        tokenizer = featurizer_probe.tokenizer
        augment = featurizer_probe.reverse_complement and featurizer_probe.strands == "random"

        def encode(records: list[Record], train: bool) -> EncodedSequences:
            cropped = [Record(r.id, crop(r.sequence, data.max_length, data.crop, f"{data.source}: {r.id}"), r.label)
                       for r in records]  # fmt: skip
            return EncodedSequences(cropped, data.classes, tokenizer, augment and train, data.multi_label)

        self.ids = {"val": [r.id for r in data.val], "test": [r.id for r in data.test or []]}
        test = encode(data.test, False) if data.test else None
        return Splits(encode(data.train, True), encode(data.val, False), test, collate)

    def state_dict(self) -> dict[str, Any]:
        return self.state

    @property
    def multi_label(self) -> bool:
        return self.state.get("multi_label", False)  # checkpoints from before multi-label have no entry

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The checkpoint's state; data already read must have the classes the checkpoint was trained on."""
        read = getattr(self, "state", None)
        if read is not None and read["multi_label"] != state.get("multi_label", False):
            raise InputError(
                f"{self.source}: data.multi_label={str(read['multi_label']).lower()}, but the checkpoint was trained "
                f"with multi_label={str(state.get('multi_label', False)).lower()}"
            )
        if read is not None and read["classes"] != state["classes"]:
            raise InputError(
                f"{self.source}: the training data's classes {read['classes']} are not the checkpoint's "
                f"{state['classes']}"
            )
        self.state = state

    def build_model(self, backbone: nn.Module) -> nn.Module:
        featurizer = self.components.featurizer(backbone.cfg.dim)
        head = self.components.head(backbone.cfg.dim, len(self.state["classes"]))
        if backbone.cfg.bidirectional and head.next_token:
            raise SpecError(
                f"{self.spec.source}: model.head.next_token needs a causal backbone: with "
                "model.backbone.bidirectional=true every position already sees the token it would predict"
            )
        return DnaClassifier(featurizer, backbone, head)

    def loss(self, model: nn.Module, batch) -> Tensor:
        tokens, reverse, labels, _ = batch
        weight = model.head.next_token  # the auxiliary next-token loss's weight (0: off)
        if model.featurizer.strands == "both":  # the prediction inference makes: both strands averaged
            probabilities, next_token = self._read(model, tokens, reverse, with_next_token=weight > 0)
            loss = self._example_losses(probabilities, labels).mean()
        else:
            logits, next_token = model.logits_and_next_token_loss(tokens, with_next_token=weight > 0)
            if self.multi_label:
                loss = F.binary_cross_entropy_with_logits(logits, labels)
            else:
                loss = F.cross_entropy(logits, labels)
        return loss if next_token is None else loss + weight * next_token

    def _probabilities(self, model: nn.Module, tokens: Tensor, reverse: Tensor) -> Tensor:
        """Class probabilities [B, K]; with reverse_complement, both strands' (one batch of 2B) averaged."""
        return self._read(model, tokens, reverse, with_next_token=False)[0]

    def _read(
        self, model: nn.Module, tokens: Tensor, reverse: Tensor, with_next_token: bool
    ) -> tuple[Tensor, Tensor | None]:
        """`_probabilities` and, if asked, the next-token loss over every strand read."""
        activation = torch.sigmoid if self.multi_label else lambda logits: logits.softmax(-1)
        if not model.featurizer.reverse_complement:
            logits, next_token = model.logits_and_next_token_loss(tokens, with_next_token)
            return activation(logits), next_token
        both = torch.cat([tokens, reverse])  # both strands share one length
        logits, next_token = model.logits_and_next_token_loss(both, with_next_token)
        forward, backward = activation(logits).chunk(2)
        return (forward + backward) / 2, next_token

    def _example_losses(self, probabilities: Tensor, labels: Tensor) -> Tensor:
        """Negative log-likelihood of each example's labels under these probabilities: [B]."""
        if self.multi_label:
            p = probabilities.float().clamp(1e-6, 1 - 1e-6)  # by hand: F.binary_cross_entropy refuses autocast
            return -(labels * p.log() + (1 - labels) * (1 - p).log()).mean(1)
        return F.nll_loss(probabilities.float().clamp_min(1e-12).log(), labels, reduction="none")

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        tokens, reverse, labels, index = batch
        probabilities = self._probabilities(model, tokens, reverse)
        loss = self._example_losses(probabilities, labels)
        return {"loss": loss, "probabilities": probabilities, "label": labels, "index": index}

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        return {f"{split}/f1_micro": multilabel.f1(outputs, "micro")} if self.multi_label else {}

    def _labels(self, indicators: Tensor) -> list[str]:
        """Class names of [N] class indices, or `;`-joined label sets of [N, K] probabilities or targets."""
        if self.multi_label:
            return multilabel.label_sets(indicators, self.state["classes"])
        return [self.state["classes"][k] for k in indicators.tolist()]

    def _table(self, ids: list[str], probabilities: Tensor) -> dict[str, Any]:
        classes = self.state["classes"]
        predicted = probabilities if self.multi_label else probabilities.argmax(1)
        table: dict[str, Any] = {"id": ids, "predicted": self._labels(predicted)}
        for k, name in enumerate(classes):
            table[f"p_{name}"] = probabilities[:, k].numpy()
        return table

    def write_predictions(self, outputs: dict[str, Tensor], split: str, path: Path) -> Path:
        ids = [self.ids[split][i] for i in outputs["index"].tolist()]
        table = self._table(ids, outputs["probabilities"])
        table = {"id": table.pop("id"), "label": self._labels(outputs["label"]), **table}
        frame = pl.DataFrame(table)
        return write_atomic(path.with_suffix(".csv"), lambda temporary: frame.write_csv(temporary))

    def plot(self, outputs: dict[str, Tensor], split: str, directory: Path) -> list[Path]:
        import matplotlib.pyplot as plt
        from sklearn.metrics import ConfusionMatrixDisplay

        if split != "test":
            return []
        if self.multi_label:
            figure = multilabel.confusion_figure(outputs, self.state["classes"], "test confusion per class")
            return [save_figure(figure, directory / "confusion_test.png")]
        figure, axis = plt.subplots(figsize=(4 + len(self.state["classes"]) * 0.4,) * 2)
        ConfusionMatrixDisplay.from_predictions(
            outputs["label"].numpy(), outputs["probabilities"].argmax(1).numpy(),
            labels=list(range(len(self.state["classes"]))), display_labels=self.state["classes"], ax=axis,
            colorbar=False, xticks_rotation=45,
        )  # fmt: skip
        axis.set_title("test confusion matrix")
        return [save_figure(figure, directory / "confusion_test.png")]

    def explain(self, model: nn.Module, input_path: Path, output_dir: Path) -> list[Path]:
        """Per-base surprise (backbones with a memory) and saliency tracks for every record of a file."""
        tokenizer = KmerTokenizer(self.state["k"], self.state["stride"])
        sequences = [
            (r.id, crop(r.sequence, self.state["max_length"], self.state["crop"], f"{input_path}: {r.id}"))
            for r in read_fasta(input_path, labels="none")
        ]
        return explain_records(model, sequences, tokenizer, output_dir, str(input_path))

    @torch.no_grad()
    def predict(self, model: nn.Module, input_path: Path, output_path: Path) -> int:
        """Class probabilities for every record of a FASTA/FASTQ file, a CSV/TSV table with a `sequence`
        column (plain or gzip), a folder of FASTA/FASTQ files or of class subfolders, of any size (labels, if
        present, are ignored), read and written a batch at a time; the output appears only once every record
        is done."""
        tokenizer = KmerTokenizer(self.state["k"], self.state["stride"])
        records = (Record(r.id, crop(r.sequence, self.state["max_length"], self.state["crop"], r.where), None)
                   for r in unlabelled_records(Path(input_path)))  # fmt: skip

        device = next(model.parameters()).device  # the GPU when the engine put the model there

        def rows(batch: list[Record]) -> pl.DataFrame:
            dataset = EncodedSequences(batch, self.state["classes"], tokenizer, augment=False)
            tokens, reverse, _, _ = collate([dataset[i] for i in range(len(dataset))])  # [B, T] each
            probabilities = self._probabilities(model, tokens.to(device), reverse.to(device)).cpu()
            return pl.DataFrame(self._table([r.id for r in batch], probabilities))

        return write_in_batches(records, Path(output_path), rows)
