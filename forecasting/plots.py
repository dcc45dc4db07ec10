"""Forecast plots (matplotlib, written atomically as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor

from titans.pipelines.outputs import save_figure

MAX_PANELS = 8


def plot_forecast(
    path: Path,
    columns: list[str],
    times: np.ndarray | None,
    history: Tensor,  # [L, C]
    target: Tensor,  # [H, C]
    forecast: Tensor,  # [H, C]
    band: Tensor | None,  # [2, H, C]: the lowest and highest quantile
) -> Path:
    """History, truth, forecast and interval of the last window, one panel per column (at most 8)."""
    shown = min(len(columns), MAX_PANELS)
    figure, axes = plt.subplots(shown, 1, figsize=(10, 2.2 * shown), sharex=True, squeeze=False)
    steps = np.arange(len(history) + len(target)) if times is None else times
    past, future = steps[: len(history)], steps[len(history) :]
    for index, axis in enumerate(axes[:, 0]):
        axis.plot(past, history[:, index], color="0.4", linewidth=1, label="history")
        axis.plot(future, target[:, index], color="black", linewidth=1, label="truth")
        axis.plot(future, forecast[:, index], color="tab:blue", linewidth=1.5, label="forecast")
        if band is not None:
            axis.fill_between(
                future, band[0, :, index], band[1, :, index], color="tab:blue", alpha=0.2, label="interval"
            )
        axis.set_ylabel(columns[index], fontsize=8)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
    axes[0, 0].set_title("last test window")
    return save_figure(figure, path)


def plot_error_by_step(path: Path, prediction: Tensor, target: Tensor) -> Path:
    """MSE and MAE (standardised scale) against the horizon step: how fast the forecast degrades."""
    error = prediction - target  # [N, H, C]
    steps = np.arange(1, error.shape[1] + 1)
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.plot(steps, error.pow(2).mean(dim=(0, 2)), label="MSE")
    axis.plot(steps, error.abs().mean(dim=(0, 2)), label="MAE")
    axis.set_xlabel("horizon step")
    axis.set_title("test error by horizon step")
    axis.legend()
    return save_figure(figure, path)
