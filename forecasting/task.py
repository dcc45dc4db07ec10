"""The `forecasting` task: lookback window in, every horizon step out, for every column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import Tensor, nn

from titans.pipelines import InputError, SpecError, Splits, Task, register
from titans.pipelines.outputs import write_atomic

from .datasets import ForecastData
from .metrics import quantile_loss
from .model import Forecaster
from .plots import plot_error_by_step, plot_forecast
from .series import read_series
from .windows import scaled_windows

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@register("task", "forecasting")
class Forecasting(Task):
    """Multivariate forecasting: point (MSE) or quantile forecasts of every column over a horizon."""

    default_featurizer = "patches"
    default_head = "linear"
    default_metrics = ("mse", "mae", "mase", "smape")

    def splits(self) -> Splits:
        data: ForecastData = self.components.dataset()
        scaler, windows = scaled_windows(data.series.values, data.borders, data.lookback, data.horizon, data.source)
        train = windows["train"].values[slice(*data.borders.train)]  # [T_train, C], standardised
        lag = min(data.season, len(train) - 1)
        self.state = {
            "naive_scale": (train[lag:] - train[:-lag]).abs().mean(dim=0),  # seasonal-naive MAE in training (MASE)
            "columns": data.series.columns,
            "mean": torch.tensor(scaler.mean_, dtype=torch.float32),
            "scale": torch.tensor(scaler.scale_, dtype=torch.float32),
            "lookback": data.lookback,
            "horizon": data.horizon,
            "time_column": data.series.time_column,
        }
        self.timestamps, self.test_windows = data.series.timestamps, windows["test"]
        return Splits(windows["train"], windows["val"], windows["test"])

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state

    def build_model(self, backbone: nn.Module) -> nn.Module:
        dim, channels = backbone.cfg.dim, len(self.state["columns"])
        featurizer = self.components.featurizer(dim, self.state["lookback"], channels)
        outputs = 1 if featurizer.channel_independent else channels
        head = self.components.head(featurizer.tokens, dim, self.state["horizon"], outputs)
        self.levels = torch.tensor(head.quantiles, dtype=torch.float32)  # [Q], empty for point forecasts
        if "crps" in self.components.metrics and not head.quantiles:
            raise SpecError(f"{self.spec.source}: evaluate.metrics: crps needs model.head.quantiles")
        return Forecaster(featurizer, backbone, head)

    def _point(self, forecast: Tensor) -> Tensor:
        """The point forecast [..., H, C] of forecasts [..., H, C, Q]: the median when there are quantiles."""
        return forecast[..., self.levels.tolist().index(0.5) if len(self.levels) else 0]

    def _losses(self, forecast: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """(per-example loss [B], point forecast [B, H, C]) from forecasts [B, H, C, Q]."""
        point = self._point(forecast)
        if len(self.levels) == 0:
            return (point - target).pow(2).mean(dim=(1, 2)), point
        pinball = quantile_loss(forecast, target, self.levels.to(forecast.device))
        return pinball.mean(dim=(1, 2, 3)), point

    def loss(self, model: nn.Module, batch) -> Tensor:
        x, y, _ = batch
        return self._losses(model(x), y)[0].mean()

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        x, y, origin = batch
        forecast = model(x)  # [B, H, C, Q]
        loss, point = self._losses(forecast, y)
        batch_size = x.shape[0]
        out = {
            "loss": loss,
            "prediction": point,
            "target": y,
            "origin": origin,
            "naive_scale": self.state["naive_scale"].to(x.device).expand(batch_size, -1),
            "mean": self.state["mean"].to(x.device).expand(batch_size, -1),
            "scale": self.state["scale"].to(x.device).expand(batch_size, -1),
        }
        if len(self.levels):
            out["quantiles"] = forecast
            out["quantile_levels"] = self.levels.to(x.device).expand(batch_size, -1)
        return out

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        """MSE and MAE per column (standardised scale)."""
        error = outputs["prediction"] - outputs["target"]  # [N, H, C]
        metrics = {}
        for index, column in enumerate(self.state["columns"]):
            metrics[f"{split}/mse/{column}"] = error[..., index].pow(2).mean().item()
            metrics[f"{split}/mae/{column}"] = error[..., index].abs().mean().item()
        return metrics

    def _original(self, values: Tensor) -> Tensor:
        return values * self.state["scale"] + self.state["mean"]

    def write_predictions(self, outputs: dict[str, Tensor], split: str, path: Path) -> Path | None:
        """Forecasts of non-overlapping windows covering the split, long format, on the original scale."""
        horizon, columns = self.state["horizon"], self.state["columns"]
        keep = torch.arange(0, len(outputs["origin"]), horizon)
        origin = outputs["origin"][keep].numpy()  # [W]
        rows = origin[:, None, None] + np.arange(horizon)[None, :, None]  # [W, H, 1]
        shape = (len(keep), horizon, len(columns))
        table = {
            "origin": np.broadcast_to(origin[:, None, None], shape).ravel(),
            "step": np.broadcast_to(np.arange(1, horizon + 1)[None, :, None], shape).ravel(),
            "column": np.broadcast_to(np.array(columns)[None, None, :], shape).ravel(),
            "value": self._original(outputs["prediction"][keep]).numpy().ravel(),
            "target": self._original(outputs["target"][keep]).numpy().ravel(),
        }
        if self.timestamps is not None:
            table = {"timestamp": np.broadcast_to(self.timestamps[rows], shape).ravel(), **table}
        if "quantiles" in outputs:
            quantiles = self._original(outputs["quantiles"][keep].movedim(-1, 0))  # [Q, W, H, C]
            for level, values in zip(self.levels.tolist(), quantiles):
                table[f"q{level:g}"] = values.numpy().ravel()
        frame = pl.DataFrame(table)
        return write_atomic(
            path.with_suffix(".csv"), lambda temporary: frame.write_csv(temporary, datetime_format=TIME_FORMAT)
        )

    def plot(self, outputs: dict[str, Tensor], split: str, directory: Path) -> list[Path]:
        if split != "test":
            return []
        last = len(outputs["origin"]) - 1
        history, _, origin = self.test_windows[last]
        quantiles = outputs.get("quantiles")
        band = None if quantiles is None else self._original(quantiles[last][..., [0, -1]].movedim(-1, 0))
        times = (
            None if self.timestamps is None else self.timestamps[origin - len(history) : origin + self.state["horizon"]]
        )
        return [
            plot_forecast(
                directory / "forecast_test.png", self.state["columns"], times, self._original(history),
                self._original(outputs["target"][last]), self._original(outputs["prediction"][last]), band,
            ),
            plot_error_by_step(directory / "error_by_step_test.png", outputs["prediction"], outputs["target"]),
        ]  # fmt: skip

    @torch.no_grad()
    def predict(self, model: nn.Module, input_path: Path, output_path: Path) -> int:
        """Forecast the `horizon` steps after the end of a file with the training columns."""
        series = read_series(input_path, self.state["time_column"], self.state["columns"])
        lookback, horizon = self.state["lookback"], self.state["horizon"]
        if len(series) < lookback:
            raise InputError(f"{input_path}: {len(series)} rows, fewer than the model's lookback of {lookback}")
        history = (torch.from_numpy(series.values[-lookback:]) - self.state["mean"]) / self.state["scale"]
        forecast = self._original(self._point(model(history[None]))[0]).numpy()  # [H, C]
        table = {"step": np.arange(1, horizon + 1)}
        if series.timestamps is not None and series.frequency is not None:
            table[series.time_column] = series.timestamps[-1] + series.frequency * np.arange(1, horizon + 1)
        table.update(zip(self.state["columns"], forecast.T))
        frame = pl.DataFrame(table)
        write_atomic(Path(output_path), lambda temporary: frame.write_csv(temporary, datetime_format=TIME_FORMAT))
        return horizon
