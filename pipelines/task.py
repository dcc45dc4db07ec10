"""The contract between the engine and a domain.

A domain registers a `Task` subclass (`@register("task", "forecasting")`).  The engine validates the
definition, builds the components it names, and hands them to the task; the task turns data into splits,
wraps the backbone with its featurizer and head, and says what a loss, an output and a prediction are.
The engine owns everything else: training, checkpoints, metrics files, resumption and devices.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn
from torch.utils.data import Dataset

from .errors import SpecError
from .registry import check_options, lookup
from .spec import Component, PipelineSpec


@dataclass
class Splits:
    train: Dataset
    val: Dataset | None
    test: Dataset | None
    collate: Any = None  # a DataLoader collate_fn, or None for the default


@dataclass
class Components:
    """The definition's named components, with their options bound (call them with the task's arguments)."""

    dataset: functools.partial
    featurizer: functools.partial | None
    head: functools.partial
    metrics: dict[str, Any]


class Task(ABC):
    default_featurizer: str | None = None
    default_head: str = ""
    default_metrics: tuple[str, ...] = ()

    def __init__(self, spec: PipelineSpec, components: Components):
        self.spec, self.components = spec, components

    @abstractmethod
    def splits(self) -> Splits:
        """Read the data and return the train/val/test datasets."""

    @abstractmethod
    def build_model(self, backbone: nn.Module) -> nn.Module:
        """The backbone with this task's featurizer and head around it."""

    @abstractmethod
    def loss(self, model: nn.Module, batch) -> Tensor:
        """The training loss of one batch (a scalar)."""

    @abstractmethod
    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        """Per-example evaluation outputs of one batch (dim 0 = examples); the engine concatenates batches
        and passes them to the metrics, `write_predictions` and `plot`."""

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        """Extra `<split>/...` entries for metrics.json beyond the named metrics (e.g. per column)."""
        return {}

    def write_predictions(self, outputs: dict[str, Tensor], split: str, path: Path) -> Path | None:
        """Write one split's predictions under `path` (a file stem, no suffix); return the file written."""
        return None

    def plot(self, outputs: dict[str, Tensor], split: str, directory: Path) -> list[Path]:
        return []

    def predict(self, model: nn.Module, input_path: Path, output_path: Path) -> int:
        """Predict for a user's file; return the number of records written."""
        raise SpecError(f"task {self.spec.task!r} does not support `titans predict` yet")

    def state_dict(self) -> dict[str, Any]:
        """What prediction needs besides the weights (vocabularies, scalers, label names)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook, nothing by default)
        """Restore `state_dict()` from a checkpoint."""


def _bind(kind: str, component: Component, section: str, spec: PipelineSpec) -> functools.partial:
    try:
        factory = lookup(kind, component.name)
        options = check_options(factory, component.options, spec.base_dir)
    except (LookupError, ValueError) as error:
        raise SpecError(f"{spec.source}: {section}: {error}") from None
    return functools.partial(factory, **options)


def build_task(spec: PipelineSpec) -> Task:
    """The definition's task with its components looked up and their options checked (no data is read)."""
    try:
        task_class = lookup("task", spec.task)
    except LookupError as error:
        raise SpecError(f"{spec.source}: task: {error}") from None
    features = spec.features or (
        Component(name=task_class.default_featurizer) if task_class.default_featurizer else None
    )
    head = spec.model.head or Component(name=task_class.default_head)
    metrics = {}
    for index, name in enumerate(spec.evaluate.metrics or task_class.default_metrics):
        try:
            metrics[name] = lookup("metric", name)
        except LookupError as error:
            raise SpecError(f"{spec.source}: evaluate.metrics[{index}]: {error}") from None
    components = Components(
        dataset=_bind("dataset", spec.data, "data", spec),
        featurizer=_bind("featurizer", features, "features", spec) if features else None,
        head=_bind("head", head, "model.head", spec),
        metrics=metrics,
    )
    return task_class(spec, components)
