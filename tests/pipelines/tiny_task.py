"""A tiny synthetic task for the engine's tests: from a sequence of numbers, predict their mean.

Registered as a plugin (TITANS_PLUGINS=tests.pipelines.tiny_task), as a user's own components would be."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from titans.pipelines import InputError, Splits, Task, register
from titans.pipelines.outputs import write_text


@register("dataset", "tiny-means")
def tiny_means(
    *, examples: int = 96, length: int = 12, seed: int = 0, validation: bool = True
) -> dict[str, TensorDataset | None]:
    """Random sequences and their means, split 4:1:1 (no validation split with `validation: false`)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(examples, length, 1, generator=generator)  # [N, T, 1]
    y = x.mean(dim=(1, 2))  # [N]
    cut = [examples * 4 // 6, examples * 5 // 6]
    return {
        "train": TensorDataset(x[: cut[0]], y[: cut[0]]),
        "val": TensorDataset(x[cut[0] : cut[1]], y[cut[0] : cut[1]]) if validation else None,
        "test": TensorDataset(x[cut[1] :], y[cut[1] :]),
    }


@register("featurizer", "scalar-embedding")
def scalar_embedding(dim: int, *, scale: float = 1.0) -> nn.Module:
    """One number per time step, embedded linearly."""
    layer = nn.Linear(1, dim)
    with torch.no_grad():
        layer.weight.mul_(scale)
    return layer


@register("head", "mean-regression")
def mean_regression(dim: int) -> nn.Module:
    """The mean of the backbone's outputs, mapped to one number."""
    return nn.Linear(dim, 1)


@register("metric", "tiny-mae")
def tiny_mae(outputs: dict[str, Tensor]) -> float:
    """Mean absolute error."""
    return (outputs["prediction"] - outputs["target"]).abs().mean().item()


class Regressor(nn.Module):
    def __init__(self, featurizer: nn.Module, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.featurizer, self.backbone, self.head = featurizer, backbone, head

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.backbone(self.featurizer(x))  # [B, T, dim]
        return self.head(h.mean(dim=1))[:, 0]  # [B]


@register("task", "tiny-regression")
class TinyRegression(Task):
    """Predict the mean of a sequence of numbers."""

    default_featurizer = "scalar-embedding"
    default_head = "mean-regression"
    default_metrics = ("tiny-mae",)

    def splits(self) -> Splits:
        parts = self.components.dataset()
        return Splits(parts["train"], parts["val"], parts["test"])

    def build_model(self, backbone: nn.Module) -> nn.Module:
        dim = backbone.cfg.dim
        return Regressor(self.components.featurizer(dim), backbone, self.components.head(dim))

    def loss(self, model: nn.Module, batch) -> Tensor:
        self.training_steps = getattr(self, "training_steps", 0) + 1
        if self.training_steps == int(os.environ.get("TINY_TASK_KILL_AT_STEP", 0)):  # simulate a hard crash
            os.kill(os.getpid(), signal.SIGKILL)
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        x, y = batch
        prediction = model(x)
        return {"loss": (prediction - y) ** 2, "prediction": prediction, "target": y}

    def write_predictions(self, outputs: dict[str, Tensor], split: str, path: Path) -> Path:
        rows = [f"{p:.6f},{t:.6f}" for p, t in zip(outputs["prediction"].tolist(), outputs["target"].tolist())]
        return write_text(path.with_suffix(".csv"), "prediction,target\n" + "\n".join(rows) + "\n")

    def predict(self, model: nn.Module, input_path: Path, output_path: Path) -> int:
        rows = []
        for number, line in enumerate(Path(input_path).read_text().splitlines(), start=1):
            try:
                rows.append([float(value) for value in line.split(",")])
            except ValueError:
                raise InputError(f"{input_path}:{number}: not a comma-separated row of numbers") from None
        with torch.no_grad():
            predictions = [model(torch.tensor(row)[None, :, None]).item() for row in rows]
        write_text(output_path, "prediction\n" + "".join(f"{p:.6f}\n" for p in predictions))
        return len(predictions)
