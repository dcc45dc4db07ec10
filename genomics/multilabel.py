"""Multi-label classification (`data.multi_label: true`): a record carries a set of labels, written
`label=enhancer,promoter` in a FASTA header or `enhancer;promoter` in a table cell.  The model has one
sigmoid per class, trained with binary cross-entropy.

A label set is kept in `Record.label` as its sorted names joined by ";"; targets are multi-hot [N, K].
Metrics threshold the probabilities at 0.5 (F1, MCC, subset accuracy) or rank them (AUROC, AUPRC); the
confusion plot shows one 2x2 matrix per class at the same threshold.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, multilabel_confusion_matrix
from torch import Tensor

from titans.pipelines import InputError

from .sequences import Record

SEPARATOR = re.compile(r"[;,]")
THRESHOLD = 0.5


def label_set(record: Record) -> Record:
    """The record with its label set written canonically (`promoter,enhancer` -> `enhancer;promoter`)."""
    names = sorted({name.strip() for name in SEPARATOR.split(record.label)} - {""})
    if not names:
        raise InputError(f"{record.where}: empty label set {record.label!r} (expected e.g. label=enhancer,promoter)")
    return Record(record.id, record.sequence, ";".join(names), record.where)


def classes(records: list[Record]) -> list[str]:
    return sorted({name for record in records for name in record.label.split(";")})


def strata(records: list[Record]) -> list[str | None]:
    """Each record's stratum for a stratified hold-out: its rarest class (a stratum per label set would leave
    most sets with one record).  None for a record with a class that no other record has: it stays in training.
    Strata of one record are pooled (into the largest stratum if the pool is a single record too), because a
    stratified split needs two records in every stratum."""
    counts = Counter(name for record in records for name in record.label.split(";"))
    rarest = [min(record.label.split(";"), key=lambda name: (counts[name], name)) for record in records]
    keyed = [None if counts[name] == 1 else name for name in rarest]
    sizes = Counter(key for key in keyed if key is not None)
    pooled = ["" if key is not None and sizes[key] == 1 else key for key in keyed]  # "" is never a class name
    if pooled.count("") == 1:
        largest = max(sizes, key=lambda key: (sizes[key], key))
        pooled = [largest if key == "" else key for key in pooled]
    return pooled


def check_seen(records: list[Record], known: set[str]) -> None:
    """Every label of every record must occur in the training data."""
    for record in records:
        unseen = sorted(set(record.label.split(";")) - known)
        if unseen:
            raise InputError(f"{record.where}: label {unseen[0]!r} never occurs in the training data")


def multi_hot(records: list[Record], names: list[str]) -> Tensor:
    """[N, K] with 1 where record n carries class k; unlabelled records are all 0."""
    index = {name: k for k, name in enumerate(names)}
    targets = torch.zeros(len(records), len(names))
    for row, record in enumerate(records):
        if record.label is not None:
            targets[row, [index[name] for name in record.label.split(";")]] = 1
    return targets


def label_sets(indicators: Tensor, names: list[str]) -> list[str]:
    """[N, K] probabilities or multi-hot targets -> each row's classes at or above 0.5, joined by ";"."""
    chosen = (indicators >= THRESHOLD).tolist()
    return [";".join(name for name, on in zip(names, row) if on) for row in chosen]


def _arrays(outputs: dict[str, Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth and predictions as [N, K] booleans, and the probabilities [N, K]."""
    probabilities = outputs["probabilities"].float().numpy()
    return outputs["label"].numpy() >= THRESHOLD, probabilities >= THRESHOLD, probabilities


def subset_accuracy(outputs: dict[str, Tensor]) -> float:
    """Percent of records whose whole label set is predicted exactly."""
    truth, predicted, _ = _arrays(outputs)
    return 100 * accuracy_score(truth, predicted)


def f1(outputs: dict[str, Tensor], average: str) -> float:
    """F1 x 100, `micro` (over every record-class pair) or `macro` (the mean over classes)."""
    truth, predicted, _ = _arrays(outputs)
    return 100 * f1_score(truth, predicted, average=average, zero_division=0)


def mcc(outputs: dict[str, Tensor]) -> float:
    """The mean over classes of each class's Matthews correlation x 100."""
    truth, predicted, _ = _arrays(outputs)
    return 100 * float(np.mean([matthews_corrcoef(truth[:, k], predicted[:, k]) for k in range(truth.shape[1])]))


def macro_area(score, outputs: dict[str, Tensor]) -> float:
    """A ranking score (AUROC, AUPRC) x 100 averaged over the classes that are neither always nor never
    present (undefined there); nan when there is none."""
    truth, _, probabilities = _arrays(outputs)
    defined = [k for k in range(truth.shape[1]) if 0 < truth[:, k].sum() < len(truth)]
    if not defined:
        return float("nan")
    return 100 * float(np.mean([score(truth[:, k], probabilities[:, k]) for k in defined]))


def confusion_counts(outputs: dict[str, Tensor]) -> np.ndarray:
    """[K, 2, 2] counts per class at the 0.5 threshold: [[true negatives, false positives],
    [false negatives, true positives]] (rows: truth absent/present; columns: predicted absent/present)."""
    truth, predicted, _ = _arrays(outputs)
    return multilabel_confusion_matrix(truth, predicted)


def confusion_figure(outputs: dict[str, Tensor], names: list[str], title: str):
    """One 2x2 confusion matrix per class (`confusion_counts`), titled with its name, in a grid of at most
    four columns; a matplotlib figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    counts = confusion_counts(outputs)  # [K, 2, 2]
    columns = min(len(names), 4)
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.8 * columns, 2.6 * rows + 0.4), squeeze=False)
    for axis, name, matrix in zip(axes.flat, names, counts):
        ConfusionMatrixDisplay(matrix, display_labels=["absent", "present"]).plot(ax=axis, colorbar=False)
        axis.set_title(name)
    for axis in axes.flat[len(names) :]:
        axis.set_axis_off()
    figure.suptitle(f"{title} (a class is predicted when p >= {THRESHOLD})")
    figure.tight_layout()
    return figure
