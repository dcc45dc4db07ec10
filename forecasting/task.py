"""The `forecasting` task: lookback window in, every horizon step out, for every target column; covariate
columns, known covariates (also read over the horizon) and calendar features are inputs only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import Tensor, nn

from titans.pipelines import InputError, SpecError, Splits, Task, register
from titans.pipelines.outputs import write_atomic

from .calendar import resolve_calendar
from .datasets import ForecastData
from .inputs import NO_INPUTS, future_inputs, input_sizes, series_inputs
from .model import Forecaster
from .plots import plot_error_by_step, plot_forecast
from .series import read_series
from .windows import check_splits, scaled_windows

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EARLIER = NO_INPUTS | {"history_rows": 0}  # what checkpoints from before these options lacked


@register("task", "forecasting")
class Forecasting(Task):
    """Multivariate forecasting: point (MSE), quantile or distribution forecasts of every column over a horizon."""

    default_featurizer = "patches"
    default_head = "linear"
    default_metrics = ("mse", "mae", "mase", "smape")

    def splits(self) -> Splits:
        data: ForecastData = self.components.dataset()
        series, lookback, horizon = data.series, data.lookback, data.horizon
        options = self.components.featurizer.keywords
        history = options.get("history", 0)
        if history < 0:
            raise SpecError(f"{self.spec.source}: features.history={history}: must be >= 0 (lookbacks of history)")
        window = lookback * (1 + history)  # the rows every window carries: its history, then its lookback
        check_splits(data.borders, window, horizon, len(series), data.source)
        calendar = resolve_calendar(options.get("calendar", False), series, data.source)
        inputs, known, input_state = series_inputs(series, data.borders, calendar)
        scaler, windows = scaled_windows(series.values, data.borders, window, horizon, data.source, inputs, known)
        train = windows["train"].values[slice(*data.borders.train)]  # [T_train, C], standardised
        lag = min(data.season, len(train) - 1)
        self.state = {
            "naive_scale": (train[lag:] - train[:-lag]).abs().mean(dim=0),  # seasonal-naive MAE in training (MASE)
            "columns": series.columns,
            "mean": torch.tensor(scaler.mean_, dtype=torch.float32),
            "scale": torch.tensor(scaler.scale_, dtype=torch.float32),
            "lookback": lookback,
            "history_rows": window - lookback,
            "horizon": horizon,
            "time_column": series.time_column,
            **input_state,
        }
        self.timestamps, self.test_windows = series.timestamps, windows["test"]
        return Splits(windows["train"], windows["val"], windows["test"])

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = EARLIER | state

    def build_model(self, backbone: nn.Module) -> nn.Module:
        dim, channels = backbone.cfg.dim, len(self.state["columns"])
        inputs, known = input_sizes(self.state)  # per lookback step, per horizon step
        try:
            featurizer = self.components.featurizer(dim, self.state["lookback"], channels, inputs)
            outputs = 1 if featurizer.channel_independent else channels
            head = self.components.head(featurizer.tokens, dim, self.state["horizon"], outputs, known)
        except SpecError as error:
            raise SpecError(f"{self.spec.source}: {error}") from None
        if backbone.cfg.bidirectional and self.state["history_rows"]:
            raise SpecError(
                f"{self.spec.source}: online forecasting carries the memory's state from the history into each "
                "window, and a bidirectional backbone has none: set model.backbone.bidirectional=false"
            )
        self.levels = torch.tensor(head.quantiles, dtype=torch.float32)  # [Q], empty for point forecasts
        if "crps" in self.components.metrics and not head.quantiles:
            raise SpecError(f"{self.spec.source}: evaluate.metrics: crps needs model.head.quantiles")
        return Forecaster(featurizer, backbone, head, self.state["history_rows"])

    def loss(self, model: nn.Module, batch) -> Tensor:
        x, y, _, inputs, known = batch
        # With history, half the batches train the frozen mode (an empty memory) so that both are in reach.
        online = not self.state["history_rows"] or bool(torch.rand(()) < 0.5)
        return model.head.training_loss(model(x, inputs, known, online), y).mean()

    def outputs(self, model: nn.Module, batch) -> dict[str, Tensor]:
        x, y, origin, inputs, known = batch
        forecast, head = model(x, inputs, known), model.head  # [B, H, C, P]
        batch_size = x.shape[0]
        out = {
            "loss": head.loss(forecast, y),
            "prediction": head.point(forecast),
            "target": y,
            "origin": origin,
            "naive_scale": self.state["naive_scale"].to(x.device).expand(batch_size, -1),
            "mean": self.state["mean"].to(x.device).expand(batch_size, -1),
            "scale": self.state["scale"].to(x.device).expand(batch_size, -1),
        }
        if len(self.levels):
            out["quantiles"] = head.quantile_forecasts(forecast)  # [B, H, C, Q]
            out["quantile_levels"] = self.levels.to(x.device).expand(batch_size, -1)
        if "crps" in self.components.metrics:
            out["crps"] = head.crps(forecast, y)  # [B, H, C]
        if self.state["history_rows"]:  # the same weights with an empty memory: what memorising the past adds
            out["frozen_prediction"] = head.point(model(x, inputs, known, online=False))
        return out

    def detailed_metrics(self, outputs: dict[str, Tensor], split: str) -> dict[str, float]:
        """MSE and MAE per column and per horizon step (`<split>/mse@step<k>`, standardised scale); with
        history, MSE and MAE of the frozen mode."""
        error = outputs["prediction"] - outputs["target"]  # [N, H, C]
        metrics = {}
        for step, (squared, absolute) in enumerate(zip(error.pow(2).mean((0, 2)), error.abs().mean((0, 2))), 1):
            metrics[f"{split}/mse@step{step}"], metrics[f"{split}/mae@step{step}"] = squared.item(), absolute.item()
        if "frozen_prediction" in outputs:
            frozen_error = outputs["frozen_prediction"] - outputs["target"]
            metrics[f"{split}/frozen/mse"] = frozen_error.pow(2).mean().item()
            metrics[f"{split}/frozen/mae"] = frozen_error.abs().mean().item()
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
        history, _, origin, *_ = self.test_windows[last]
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
        """Forecast the `horizon` steps after the end of a file with the training columns and covariates; with
        known covariates, the file ends with the horizon's rows: known covariates given, targets empty.  Wide
        format: step, time, one column per target, then `<column>_q<level>` for a quantile or distribution head."""
        columns, known_covariates = self.state["columns"], self.state["known_covariates"]
        series = read_series(input_path, self.state["time_column"], columns, covariates=self.state["covariates"],
                             known_covariates=known_covariates, future=bool(known_covariates))  # fmt: skip
        rows, horizon = self.state["history_rows"] + self.state["lookback"], self.state["horizon"]
        if len(series) < rows:
            raise InputError(f"{input_path}: {len(series)} rows, fewer than the model's lookback of {rows}")
        future = None
        if series.timestamps is not None and series.frequency is not None:
            future = series.timestamps[-1] + series.frequency * np.arange(1, horizon + 1)
        history = (torch.from_numpy(series.values[-rows:]) - self.state["mean"]) / self.state["scale"]
        inputs, known = future_inputs(self.state, series, future, input_path)
        raw = model(history[None], inputs[None], known[None])  # [1, H, C, P]
        forecast = self._original(model.head.point(raw)[0]).numpy()  # [H, C]
        table = {"step": np.arange(1, horizon + 1)}
        if future is not None:
            table[series.time_column] = future
        table.update(zip(columns, forecast.T))
        if levels := model.head.quantiles:  # <column>_q<level> beside the point forecasts, e.g. load_q0.1
            quantiles = self._original(model.head.quantile_forecasts(raw)[0].movedim(-1, 0)).numpy()  # [Q, H, C]
            table.update((f"{column}_q{level:g}", values[:, c]) for c, column in enumerate(columns)
                         for level, values in zip(levels, quantiles))  # fmt: skip
        frame = pl.DataFrame(table)
        write_atomic(Path(output_path), lambda temporary: frame.write_csv(temporary, datetime_format=TIME_FORMAT))
        return horizon
