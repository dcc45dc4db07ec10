"""Classification metrics (scikit-learn) over evaluation outputs: probabilities [N, K] and labels [N]
(class indices) or, for multi-label data, [N, K] (multi-hot; see multilabel.py).
GUE reports MCC x 100 and accuracy in percent; so do these."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, matthews_corrcoef, roc_auc_score
from torch import Tensor

from titans.pipelines import register

from . import multilabel


def _multi_label(outputs: dict[str, Tensor]) -> bool:
    return outputs["label"].ndim == 2  # [N, K] label sets rather than [N] class indices


def _labels(outputs: dict[str, Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probabilities = outputs["probabilities"].float().numpy()
    return outputs["label"].numpy(), probabilities.argmax(1), probabilities


@register("metric", "accuracy")
def accuracy(outputs: dict[str, Tensor]) -> float:
    """Accuracy in percent (multi-label: subset accuracy, the whole label set right)."""
    if _multi_label(outputs):
        return multilabel.subset_accuracy(outputs)
    truth, predicted, _ = _labels(outputs)
    return 100 * accuracy_score(truth, predicted)


@register("metric", "mcc")
def mcc(outputs: dict[str, Tensor]) -> float:
    """Matthews correlation coefficient x 100 (GUE's metric; multi-label: the mean over classes)."""
    if _multi_label(outputs):
        return multilabel.mcc(outputs)
    truth, predicted, _ = _labels(outputs)
    return 100 * matthews_corrcoef(truth, predicted)


@register("metric", "f1")
def f1(outputs: dict[str, Tensor]) -> float:
    """Macro-averaged F1 x 100."""
    if _multi_label(outputs):
        return multilabel.f1(outputs, "macro")
    truth, predicted, _ = _labels(outputs)
    return 100 * f1_score(truth, predicted, average="macro")


def _one_vs_rest(score, outputs: dict[str, Tensor]) -> float:
    if _multi_label(outputs):
        return multilabel.macro_area(score, outputs)
    truth, _, probabilities = _labels(outputs)
    classes = probabilities.shape[1]
    if len(np.unique(truth)) < 2:
        return float("nan")
    if classes == 2:
        return 100 * score(truth, probabilities[:, 1])
    present = np.unique(truth)
    return 100 * float(np.mean([score(truth == k, probabilities[:, k]) for k in present]))


@register("metric", "auroc")
def auroc(outputs: dict[str, Tensor]) -> float:
    """Area under the ROC curve x 100 (one-vs-rest macro average for several classes or labels)."""
    return _one_vs_rest(roc_auc_score, outputs)


@register("metric", "auprc")
def auprc(outputs: dict[str, Tensor]) -> float:
    """Area under the precision-recall curve (average precision) x 100, one-vs-rest macro."""
    return _one_vs_rest(average_precision_score, outputs)
