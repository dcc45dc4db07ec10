"""The forecasting network: featurizer -> backbone -> direct multi-horizon head (GluonTS's "module").

Featurizers turn a lookback window [B, L, C] and its inputs [B, L, K] (covariates, known covariates, calendar
features) into tokens:
- `patches` (channel-independent, PatchTST): each column on its own, cut into overlapping patches, one
  token per patch: [B * C, N, dim]; the inputs of the same patch, embedded, are added to every column's token;
- `steps`: one token per time step, all columns and inputs together: [B, L, dim].
Both can normalise each window's targets by their own mean and spread first and restore the forecast after
(RevIN, Kim et al. 2022), which keeps level shifts between train and test from becoming errors; the inputs
are not normalised per window.
Heads (heads.py) map all tokens, and the features known over the horizon (known covariates, calendar
features), to every horizon step at once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from titans.pipelines import SpecError, register

from .calendar import CalendarName


class RevIN(nn.Module):
    """Reversible instance normalisation with a learned per-column affine map."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def normalize(self, x: Tensor, stats: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x [B, T, C] normalised by its own mean and spread, or by `stats` ([B, 1, C] each) when given."""
        if stats is None:
            stats = x.mean(dim=1, keepdim=True), (x.var(dim=1, keepdim=True, unbiased=False) + self.eps).sqrt()
        mean, std = stats
        return (x - mean) / std * self.weight + self.bias, stats

    def affine(self, stats: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(factor, shift) [B, 1, C] with original = normalised * factor + shift."""
        mean, std = stats
        factor = std / (self.weight + self.eps)
        return factor, mean - self.bias * factor

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        factor, shift = self.affine(stats)  # y: [B, H, C, Q]
        return y * factor[..., None] + shift[..., None]


class PatchTokens(nn.Module):
    channel_independent = True

    def __init__(self, dim: int, lookback: int, patch_length: int, stride: int, inputs: int):
        super().__init__()
        if patch_length > lookback:
            raise SpecError(f"features.patch_length={patch_length} is longer than data.lookback={lookback}")
        self.patch_length, self.stride = patch_length, stride
        self.tokens = (lookback - patch_length) // stride + 2  # +1 patch from padding the end by `stride`
        self.embed = nn.Linear(patch_length, dim)
        self.embed_inputs = nn.Linear(inputs * patch_length, dim) if inputs else None

    def _patches(self, x: Tensor) -> Tensor:
        """[B, L, K] -> [B, K, N, patch_length], the end padded by repeating the last step."""
        x = torch.cat([x, x[:, -1:].expand(-1, self.stride, -1)], dim=1).transpose(1, 2)
        return x.unfold(2, self.patch_length, self.stride)

    def forward(self, x: Tensor, inputs: Tensor | None = None) -> Tensor:
        tokens = self.embed(self._patches(x).flatten(0, 1))  # [B * C, N, dim]
        if self.embed_inputs is None:
            return tokens
        added = self.embed_inputs(self._patches(inputs).transpose(1, 2).flatten(2))  # [B, N, dim]
        return tokens + added.repeat_interleave(x.shape[2], dim=0)  # the same for every column of an example


class StepTokens(nn.Module):
    channel_independent = False

    def __init__(self, dim: int, lookback: int, channels: int, inputs: int):
        super().__init__()
        self.tokens, self.inputs = lookback, inputs
        self.embed = nn.Linear(channels + inputs, dim)

    def forward(self, x: Tensor, inputs: Tensor | None = None) -> Tensor:
        return self.embed(torch.cat([x, inputs], dim=-1) if self.inputs else x)  # [B, L, dim]


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
def patches(dim: int, lookback: int, channels: int, inputs: int = 0, *, patch_length: int = 16, stride: int = 8,
            revin: bool = True, calendar: list[CalendarName] | bool = False, history: int = 0):  # fmt: skip
    """Channel-independent patches of each column (PatchTST), one token per patch; each patch's inputs
    (covariates, `calendar` features: true, false or names) are embedded and added to its tokens.
    `history`: lookbacks of earlier rows the memory reads before each window (online forecasting)."""
    del calendar, history  # the task computes the calendar features and cuts the history from the series
    return Featurizer(PatchTokens(dim, lookback, patch_length, stride, inputs), channels, revin)


@register("featurizer", "steps")
def steps(dim: int, lookback: int, channels: int, inputs: int = 0, *, revin: bool = True,
          calendar: list[CalendarName] | bool = False, history: int = 0):  # fmt: skip
    """One token per time step carrying every column and the step's inputs (covariates, `calendar`
    features: true, false or names). `history`: as for `patches`."""
    del calendar, history  # the task computes the calendar features and cuts the history from the series
    return Featurizer(StepTokens(dim, lookback, channels, inputs), channels, revin)


class Forecaster(nn.Module):
    """featurizer -> backbone -> head. With `history_rows` > 0 every input window carries that many earlier
    rows before its lookback: online, the backbone first reads them (normalised like the lookback), so the
    memory has memorised the recent past when it reads the lookback (test-time memorisation: the memory
    learns, the weights do not); frozen, they are dropped and the memory starts empty."""

    def __init__(self, featurizer: Featurizer, backbone: nn.Module, head: nn.Module, history_rows: int = 0):
        super().__init__()
        self.featurizer, self.backbone, self.head = featurizer, backbone, head
        self.history_rows = history_rows

    def forward(self, x: Tensor, inputs: Tensor | None = None, known: Tensor | None = None, online: bool = True
                ) -> Tensor:  # fmt: skip
        """x [B, R + L, C], inputs [B, R + L, K] (R = history_rows), known [B, H, K'] -> the head's outputs
        per step and column [B, H, C, P] (P = 1 for point forecasts, the quantiles, or a distribution's
        parameters)."""
        rows = self.history_rows
        past, x = x[:, :rows], x[:, rows:]  # [B, R, C], [B, L, C]
        past_inputs, inputs = (None, None) if inputs is None else (inputs[:, :rows], inputs[:, rows:])
        batch, _, channels = x.shape
        stats = None
        if self.featurizer.revin is not None:
            x, stats = self.featurizer.revin.normalize(x)
            past = self.featurizer.revin.normalize(past, stats)[0]  # in the lookback's units
        state = None
        if online and rows:
            _, state = self.backbone(self.featurizer.to_tokens(past, past_inputs))  # the memory reads the past
        h, _ = self.backbone(self.featurizer.to_tokens(x, inputs), state)  # [B', N, dim]
        if self.featurizer.channel_independent and known is not None:
            known = known.repeat_interleave(channels, dim=0)  # [B * C, H, K']
        y = self.head(h, known)  # [B', H, outputs, P]
        if self.featurizer.channel_independent:
            y = y.reshape(batch, channels, y.shape[1], -1).transpose(1, 2)  # [B, H, C, P]
        return self.head.restore(y, *self.featurizer.revin.affine(stats)) if stats is not None else y
