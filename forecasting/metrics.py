"""Forecast metrics over evaluation outputs (tensors with examples along dim 0):
prediction/target [N, H, C] on the standardised scale, quantiles [N, H, C, Q], crps [N, H, C] (a
distribution head's exact CRPS per forecast), mean/scale [N, C] to undo the standardisation, naive_scale
[N, C] (the seasonal-naive forecast's MAE over the training rows).

MSE and MAE on the standardised scale, over all columns and steps, are the long-horizon protocol's numbers."""

from __future__ import annotations

import torch
from torch import Tensor

from titans.pipelines import register


@register("metric", "mse")
def mse(outputs: dict[str, Tensor]) -> float:
    """Mean squared error on the standardised scale (the benchmark protocol)."""
    return (outputs["prediction"] - outputs["target"]).pow(2).mean().item()


@register("metric", "mae")
def mae(outputs: dict[str, Tensor]) -> float:
    """Mean absolute error on the standardised scale (the benchmark protocol)."""
    return (outputs["prediction"] - outputs["target"]).abs().mean().item()


@register("metric", "mase")
def mase(outputs: dict[str, Tensor]) -> float:
    """Mean absolute scaled error: MAE over the training data's seasonal-naive MAE, per column."""
    error = (outputs["prediction"] - outputs["target"]).abs().mean(dim=1)  # [N, C]
    return (error / outputs["naive_scale"].clamp_min(1e-8)).mean().item()


@register("metric", "smape")
def smape(outputs: dict[str, Tensor]) -> float:
    """Symmetric mean absolute percentage error, in percent, on the original scale."""
    scale, mean = outputs["scale"][:, None], outputs["mean"][:, None]  # [N, 1, C]
    prediction, target = outputs["prediction"] * scale + mean, outputs["target"] * scale + mean
    denominator = (prediction.abs() + target.abs()).clamp_min(1e-8)
    return (200 * (prediction - target).abs() / denominator).mean().item()


def quantile_loss(quantiles: Tensor, target: Tensor, levels: Tensor) -> Tensor:
    """Pinball loss per element: quantiles [..., Q], target [...], levels [Q] -> [..., Q]."""
    difference = target[..., None] - quantiles
    return torch.maximum(levels * difference, (levels - 1) * difference)


@register("metric", "crps")
def crps(outputs: dict[str, Tensor]) -> float:
    """Weighted CRPS: the sum of every forecast's CRPS over the sum of |target| (GluonTS's weighting); exact
    for a distribution head, else twice the mean pinball loss over the quantiles (mean_wQuantileLoss)."""
    if "crps" in outputs:
        return (outputs["crps"].sum() / outputs["target"].abs().sum()).item()
    levels = outputs["quantile_levels"][0]
    losses = quantile_loss(outputs["quantiles"], outputs["target"], levels)  # [N, H, C, Q]
    return (2 * losses.sum(dim=(0, 1, 2)) / outputs["target"].abs().sum()).mean().item()
