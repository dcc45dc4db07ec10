"""The forecasting network: featurizer -> backbone -> direct multi-horizon head (GluonTS's "module").

Featurizers turn a lookback window [B, L, C] into tokens:
- `patches` (channel-independent, PatchTST): each column on its own, cut into overlapping patches, one
  token per patch: [B * C, N, dim];
- `steps`: one token per time step, all columns together: [B, L, dim].
Both can normalise each window by its own mean and spread first and restore the forecast after (RevIN,
Kim et al. 2022), which keeps level shifts between train and test from becoming errors.
The `linear` head maps all tokens at once to every horizon step (and quantile), as DLinear and PatchTST do.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from titans.pipelines import SpecError, register


class RevIN(nn.Module):
    """Reversible instance normalisation with a learned per-column affine map."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def normalize(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        mean = x.mean(dim=1, keepdim=True)  # [B, 1, C]
        std = (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt()
        return (x - mean) / std * self.weight + self.bias, (mean, std)

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        mean, std = stats  # y: [B, H, C, Q]
        y = (y - self.bias[:, None]) / (self.weight[:, None] + self.eps)
        return y * std[..., None] + mean[..., None]


class PatchTokens(nn.Module):
    channel_independent = True

    def __init__(self, dim: int, lookback: int, patch_length: int, stride: int):
        super().__init__()
        if patch_length > lookback:
            raise SpecError(f"features.patch_length={patch_length} is longer than data.lookback={lookback}")
        self.patch_length, self.stride = patch_length, stride
        self.tokens = (lookback - patch_length) // stride + 2  # +1 patch from padding the end by `stride`
        self.embed = nn.Linear(patch_length, dim)

    def forward(self, x: Tensor) -> Tensor:
        series = x.transpose(1, 2).flatten(0, 1)  # [B * C, L]
        series = torch.cat([series, series[:, -1:].expand(-1, self.stride)], dim=1)  # repeat the last value
        return self.embed(series.unfold(1, self.patch_length, self.stride))  # [B * C, N, dim]


class StepTokens(nn.Module):
    channel_independent = False

    def __init__(self, dim: int, lookback: int, channels: int):
        super().__init__()
        self.tokens = lookback
        self.embed = nn.Linear(channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)  # [B, L, dim]


class Featurizer(nn.Module):
    def __init__(self, tokens: nn.Module, channels: int, revin: bool):
        super().__init__()
        self.to_tokens, self.revin = tokens, RevIN(channels) if revin else None

    @property
    def tokens(self) -> int:
        return self.to_tokens.tokens

    @property
    def channel_independent(self) -> bool:
        return self.to_tokens.channel_independent


@register("featurizer", "patches")
def patches(dim: int, lookback: int, channels: int, *, patch_length: int = 16, stride: int = 8, revin: bool = True):
    """Channel-independent patches of each column (PatchTST), one token per patch."""
    return Featurizer(PatchTokens(dim, lookback, patch_length, stride), channels, revin)


@register("featurizer", "steps")
def steps(dim: int, lookback: int, channels: int, *, revin: bool = True):
    """One token per time step carrying every column."""
    return Featurizer(StepTokens(dim, lookback, channels), channels, revin)


class LinearHead(nn.Module):
    def __init__(self, tokens: int, dim: int, horizon: int, outputs: int, quantiles: list[float]):
        super().__init__()
        self.horizon, self.outputs = horizon, outputs
        self.quantiles = sorted(quantiles)
        self.project = nn.Linear(tokens * dim, horizon * outputs * max(1, len(quantiles)))

    def forward(self, h: Tensor) -> Tensor:
        y = self.project(h.flatten(1)).unflatten(1, (self.horizon, self.outputs, -1))  # [B', H, outputs, Q]
        return y.sort(dim=-1).values  # quantiles never cross (a no-op for point forecasts)


@register("head", "linear")
def linear(tokens: int, dim: int, horizon: int, outputs: int, *, quantiles: list[float] | None = None):
    """Every token to every horizon step at once; point forecasts, or quantiles (which must include 0.5)."""
    quantiles = quantiles or []
    if quantiles and (0.5 not in quantiles or not all(0 < q < 1 for q in quantiles)):
        raise SpecError(f"model.head.quantiles={quantiles}: need values in (0, 1) including 0.5 (the point forecast)")
    return LinearHead(tokens, dim, horizon, outputs, quantiles)


class Forecaster(nn.Module):
    def __init__(self, featurizer: Featurizer, backbone: nn.Module, head: LinearHead):
        super().__init__()
        self.featurizer, self.backbone, self.head = featurizer, backbone, head

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, L, C] -> forecasts [B, H, C, Q] (Q = 1 for point forecasts)."""
        batch, _, channels = x.shape
        stats = None
        if self.featurizer.revin is not None:
            x, stats = self.featurizer.revin.normalize(x)
        h, _ = self.backbone(self.featurizer.to_tokens(x))  # [B', N, dim]
        y = self.head(h)  # [B', H, outputs, Q]
        if self.featurizer.channel_independent:
            y = y.reshape(batch, channels, y.shape[1], -1).transpose(1, 2)  # [B, H, C, Q]
        return self.featurizer.revin.denormalize(y, stats) if stats is not None else y
