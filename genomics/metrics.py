"""Classification metrics (scikit-learn) over evaluation outputs: probabilities [N, K] and labels [N].
GUE reports MCC x 100 and accuracy in percent; so do these."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, matthews_corrcoef, roc_auc_score
from torch import Tensor

from titans.pipelines import register


def _labels(outputs: dict[str, Tensor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    probabilities = outputs["probabilities"].float().numpy()
    return outputs["label"].numpy(), probabilities.argmax(1), probabilities


@register("metric", "accuracy")
def accuracy(outputs: dict[str, Tensor]) -> float:
    """Accuracy in percent."""
    truth, predicted, _ = _labels(outputs)
    return 100 * accuracy_score(truth, predicted)


@register("metric", "mcc")
def mcc(outputs: dict[str, Tensor]) -> float:
    """Matthews correlation coefficient x 100 (GUE's metric)."""
    truth, predicted, _ = _labels(outputs)
    return 100 * matthews_corrcoef(truth, predicted)


@register("metric", "f1")
def f1(outputs: dict[str, Tensor]) -> float:
    """Macro-averaged F1 x 100."""
    truth, predicted, _ = _labels(outputs)
    return 100 * f1_score(truth, predicted, average="macro")


def _one_vs_rest(score, outputs: dict[str, Tensor]) -> float:
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
    """Area under the ROC curve x 100 (one-vs-rest macro average for several classes)."""
    return _one_vs_rest(roc_auc_score, outputs)


@register("metric", "auprc")
def auprc(outputs: dict[str, Tensor]) -> float:
    """Area under the precision-recall curve (average precision) x 100, one-vs-rest macro."""
    return _one_vs_rest(average_precision_score, outputs)
