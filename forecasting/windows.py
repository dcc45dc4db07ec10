"""Chronological splits, train-only scaling, and sliding forecast windows.

The long-horizon benchmark protocol (Informer, DLinear, PatchTST code): fixed ETT borders or 70/10/20
ratios; the scaler is fit on the train rows only; validation and test windows start `lookback` rows before
their split, so the first forecast starts at the boundary; windows slide with stride 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from torch import Tensor
from torch.utils.data import Dataset

from titans.pipelines import InputError

HOURS_PER_MONTH = 30 * 24


@dataclass(frozen=True)
class Borders:
    """Row ranges [start, end) of the three splits."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]


def ett_borders(rows_per_hour: int) -> Borders:
    """ETT's 12/4/4 months (ETTh: 1 row per hour; ETTm: 4)."""
    month = HOURS_PER_MONTH * rows_per_hour
    return Borders((0, 12 * month), (12 * month, 16 * month), (16 * month, 20 * month))


def ratio_borders(length: int, train: float = 0.7, val: float = 0.1) -> Borders:
    train_end = int(length * train)
    test_start = length - int(length * (1 - train - val))
    return Borders((0, train_end), (train_end, test_start), (test_start, length))


def _tensor(values: np.ndarray | None, rows: int) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.zeros((rows, 0)) if values is None else values, dtype=np.float32))


class Windows(Dataset):
    """(x [lookback, C], y [horizon, C], origin, inputs [lookback, K], known [horizon, K']) for every window
    whose forecast lies inside [start, end). `origin` is the row of the first forecast step; `inputs` are the
    covariates, known covariates and calendar features seen in the lookback, `known` the known covariates and
    calendar features of the horizon."""

    def __init__(self, values: np.ndarray, start: int, end: int, lookback: int, horizon: int, stride: int = 1,
                 inputs: np.ndarray | None = None, known: np.ndarray | None = None):  # fmt: skip
        self.values = _tensor(values, len(values))  # [T, C]
        self.inputs, self.known = _tensor(inputs, len(values)), _tensor(known, len(values))  # [T, K], [T, K']
        self.lookback, self.horizon = lookback, horizon
        first = max(start, lookback)
        self.origins = torch.arange(first, max(first, end - horizon + 1), stride)

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, index: int):
        origin = int(self.origins[index])
        past, future = slice(origin - self.lookback, origin), slice(origin, origin + self.horizon)
        return self.values[past], self.values[future], origin, self.inputs[past], self.known[future]


def check_splits(borders: Borders, lookback: int, horizon: int, rows: int, source: str) -> None:
    """Refuse a split without one window whose forecast lies inside it."""
    for name in ("train", "val", "test"):
        start, end = getattr(borders, name)
        if end - horizon + 1 <= max(start, lookback):
            raise InputError(
                f"{source}: the {name} split (rows {start}-{end}) is too short for lookback {lookback} + horizon "
                f"{horizon}; the series has {rows} rows"
            )


def fit_scaled(values: np.ndarray, borders: Borders) -> tuple[StandardScaler, np.ndarray]:
    """A scaler fit on the train rows, and every row scaled [T, K] float32 (a constant column gets scale 1)."""
    scaler = StandardScaler().fit(values[slice(*borders.train)])
    return scaler, scaler.transform(values).astype(np.float32)


def scaled_windows(
    values: np.ndarray,
    borders: Borders,
    lookback: int,
    horizon: int,
    source: str,
    inputs: np.ndarray | None = None,
    known: np.ndarray | None = None,
) -> tuple[StandardScaler, dict[str, Windows]]:
    """Fit the scaler on the train rows, scale everything, and cut each split into windows, with the inputs
    [T, K] and the known future features [T, K'] (already scaled; the target scaler never sees them)."""
    check_splits(borders, lookback, horizon, len(values), source)
    scaler, scaled = fit_scaled(values, borders)
    splits = {
        name: Windows(scaled, *getattr(borders, name), lookback, horizon, inputs=inputs, known=known)
        for name in ("train", "val", "test")
    }
    return scaler, splits
