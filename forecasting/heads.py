"""Direct multi-horizon heads: every token, and the features known over the horizon (known covariates,
calendar features), to every horizon step at once (as DLinear and PatchTST map tokens). A head also says
what its outputs mean to the task:

    head(h, known)                       # [B', H, outputs, P]
    head.restore(y, factor, shift)       # undo RevIN: original = normalised * factor + shift
    head.loss(y, target)                 # [B] loss per example, every step alike (validation)
    head.training_loss(y, target)        # [B] the same with the steps weighted by `step_decay`
    head.point(y)                        # [B, H, C] point forecast
    head.quantile_forecasts(y)           # [B, H, C, Q] at head.quantiles (for plots, CSVs, CRPS)
    head.crps(y, target)                 # [B, H, C] CRPS per forecast

- `linear`: point forecasts (MSE) or quantiles (pinball loss, the 0.5 quantile the point forecast);
- `distribution`: a Student-t or normal distribution per step and column, trained by negative
  log-likelihood; its median is the point forecast, its CRPS is exact (closed form).

`step_decay` d weights horizon step k's training loss by k^-d (mean weight 1): CARD's signal-decay loss
(Wang et al. 2024, d = 0.5), which lets the near steps, the least noisy, steer training; 0 weights all alike.
`dropout` p zeroes the flattened tokens' features before the map with probability p in training (PatchTST's head
dropout); in `forecast-ett` from horizon 192 on, that map holds most of the model's weights.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from scipy.special import stdtr, stdtrit
from torch import Tensor, nn
from torch.distributions import Distribution, Normal, StudentT
from torch.nn.functional import softplus

from titans.pipelines import SpecError, register

from .metrics import quantile_loss

MIN_SCALE = 1e-3  # keeps the likelihood finite when a window is flat


class DirectHead(nn.Module):
    """Tokens [B', N, dim] and known future features [B', H, K'] -> [B', H, outputs, P] in one linear map."""

    def __init__(self, tokens: int, dim: int, horizon: int, outputs: int, known: int, parameters: int,
                 step_decay: float, dropout: float):  # fmt: skip
        super().__init__()
        self.horizon, self.outputs, self.known = horizon, outputs, known
        if not 0 <= dropout < 1:
            raise SpecError(f"model.head.dropout={dropout}: need a value in [0, 1)")
        self.dropout = nn.Dropout(dropout)  # on the flattened tokens, in training only (PatchTST's head dropout)
        self.project = nn.Linear(tokens * dim + horizon * known, horizon * outputs * parameters)
        if not 0 <= step_decay <= 2:
            raise SpecError(f"model.head.step_decay={step_decay}: need a value in [0, 2] (0 weights every step alike)")
        weights = torch.arange(1, horizon + 1, dtype=torch.float32) ** -step_decay  # [H]
        self.register_buffer("step_weights", weights / weights.mean(), persistent=False)

    def step_loss(self, y: Tensor, target: Tensor) -> Tensor:
        """[B, H]: the loss of each example and horizon step, averaged over the columns."""
        raise NotImplementedError

    def loss(self, y: Tensor, target: Tensor) -> Tensor:
        return self.step_loss(y, target).mean(dim=1)  # [B]

    def training_loss(self, y: Tensor, target: Tensor) -> Tensor:
        return (self.step_loss(y, target) * self.step_weights).mean(dim=1)  # [B]

    def forward(self, h: Tensor, known: Tensor | None = None) -> Tensor:
        tokens = self.dropout(h.flatten(1))  # [B', N * dim]
        features = torch.cat([tokens, known.flatten(1)], dim=1) if self.known else tokens
        return self.project(features).unflatten(1, (self.horizon, self.outputs, -1))  # [B', H, outputs, P]


class LinearHead(DirectHead):
    def __init__(self, tokens: int, dim: int, horizon: int, outputs: int, known: int, quantiles: list[float],
                 step_decay: float, dropout: float):  # fmt: skip
        super().__init__(tokens, dim, horizon, outputs, known, max(1, len(quantiles)), step_decay, dropout)
        self.quantiles = sorted(quantiles)
        self.register_buffer("levels", torch.tensor(self.quantiles), persistent=False)

    def forward(self, h: Tensor, known: Tensor | None = None) -> Tensor:
        return super().forward(h, known).sort(dim=-1).values  # quantiles never cross (a no-op for points)

    def restore(self, y: Tensor, factor: Tensor, shift: Tensor) -> Tensor:
        return y * factor[..., None] + shift[..., None]

    def point(self, y: Tensor) -> Tensor:
        return y[..., self.quantiles.index(0.5) if self.quantiles else 0]

    def step_loss(self, y: Tensor, target: Tensor) -> Tensor:
        if not self.quantiles:
            return (y[..., 0] - target).pow(2).mean(dim=2)
        return quantile_loss(y, target, self.levels).mean(dim=(2, 3))

    def quantile_forecasts(self, y: Tensor) -> Tensor:
        return y

    def crps(self, y: Tensor, target: Tensor) -> Tensor:
        """Twice the mean pinball loss over the quantiles (GluonTS's approximation)."""
        return 2 * quantile_loss(y, target, self.levels).mean(dim=-1)


@register("head", "linear")
def linear(tokens: int, dim: int, horizon: int, outputs: int, known: int = 0, *, quantiles: list[float] | None = None,
           step_decay: float = 0.0, dropout: float = 0.0):  # fmt: skip
    """Every token to every horizon step at once; point forecasts, or quantiles (which must include 0.5);
    `step_decay` weights horizon step k's training loss by k^-step_decay; `dropout` drops tokens' features
    before the map, in training only."""
    quantiles = quantiles or []
    if quantiles and (0.5 not in quantiles or not all(0 < q < 1 for q in quantiles)):
        raise SpecError(f"model.head.quantiles={quantiles}: need values in (0, 1) including 0.5 (the point forecast)")
    return LinearHead(tokens, dim, horizon, outputs, known, quantiles, step_decay, dropout)


def _beta_half(b: Tensor) -> Tensor:
    """The beta function B(1/2, b)."""
    return torch.exp(math.lgamma(0.5) + torch.lgamma(b) - torch.lgamma(b + 0.5))


def _on_cpu(function, *tensors: Tensor) -> Tensor:
    """A scipy function of tensors, evaluated in float64 on the CPU, back on the tensors' device and dtype."""
    values = function(*(t.detach().cpu().double().numpy() for t in tensors))
    return torch.from_numpy(np.asarray(values)).to(tensors[-1].device, tensors[-1].dtype)


class DistributionHead(DirectHead):
    """Parameters per step and column: (df, loc, scale) for Student-t, (loc, scale) for normal; df > 2, so
    the variance and the CRPS are finite."""

    def __init__(self, tokens: int, dim: int, horizon: int, outputs: int, known: int, family: str,
                 quantiles: list[float], step_decay: float, dropout: float):  # fmt: skip
        parameters = 3 if family == "student_t" else 2
        super().__init__(tokens, dim, horizon, outputs, known, parameters, step_decay, dropout)
        self.family, self.quantiles = family, sorted(quantiles)

    def forward(self, h: Tensor, known: Tensor | None = None) -> Tensor:
        raw = super().forward(h, known)  # [B', H, outputs, P]
        loc, scale = raw[..., -2], softplus(raw[..., -1]) + MIN_SCALE
        if self.family == "normal":
            return torch.stack([loc, scale], dim=-1)
        return torch.stack([2 + softplus(raw[..., 0]), loc, scale], dim=-1)

    def restore(self, y: Tensor, factor: Tensor, shift: Tensor) -> Tensor:
        loc, scale = y[..., -2] * factor + shift, y[..., -1] * factor.abs()  # a location-scale family
        return torch.cat([y[..., :-2], loc[..., None], scale[..., None]], dim=-1)

    def distribution(self, y: Tensor) -> Distribution:
        if self.family == "normal":
            return Normal(y[..., 0], y[..., 1])
        return StudentT(y[..., 0], y[..., 1], y[..., 2])

    def point(self, y: Tensor) -> Tensor:
        return y[..., -2]  # the location: median (and mean) of both families

    def step_loss(self, y: Tensor, target: Tensor) -> Tensor:
        return -self.distribution(y).log_prob(target).mean(dim=2)  # negative log-likelihood

    def quantile_forecasts(self, y: Tensor) -> Tensor:
        levels = torch.tensor(self.quantiles, dtype=y.dtype, device=y.device)  # [Q]
        loc, scale = y[..., -2, None], y[..., -1, None]  # [B, H, C, 1]
        if self.family == "normal":
            return loc + scale * torch.special.ndtri(levels)
        return loc + scale * _on_cpu(stdtrit, y[..., 0, None], levels)  # torch's StudentT has no icdf

    def crps(self, y: Tensor, target: Tensor) -> Tensor:
        """Closed form (Gneiting & Raftery 2007 for the normal; Jordan et al. 2019 for Student-t)."""
        loc, scale = y[..., -2], y[..., -1]
        z = (target - loc) / scale
        if self.family == "normal":
            cdf, pdf = torch.special.ndtr(z), torch.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
            return scale * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))
        df = y[..., 0]
        cdf, pdf = _on_cpu(stdtr, df, z), StudentT(df).log_prob(z).exp()
        constant = 2 * df.sqrt() * _beta_half(df - 0.5) / ((df - 1) * _beta_half(df / 2) ** 2)
        return scale * (z * (2 * cdf - 1) + 2 * pdf * (df + z**2) / (df - 1) - constant)


@register("head", "distribution")
def distribution(
    tokens: int,
    dim: int,
    horizon: int,
    outputs: int,
    known: int = 0,
    *,
    family: Literal["student_t", "normal"] = "student_t",
    quantiles: list[float] | None = None,
    step_decay: float = 0.0,
    dropout: float = 0.0,
):
    """A Student-t or normal distribution per step and column, trained by negative log-likelihood;
    `step_decay` weights horizon step k's training loss by k^-step_decay; `dropout` drops tokens' features
    before the map, in training only."""
    quantiles = [0.1, 0.5, 0.9] if quantiles is None else quantiles
    if not quantiles or not all(0 < q < 1 for q in quantiles):
        raise SpecError(f"model.head.quantiles={quantiles}: need one or more values in (0, 1) (the levels reported)")
    return DistributionHead(tokens, dim, horizon, outputs, known, family, quantiles, step_decay, dropout)
