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


class Windows(Dataset):
    """(x [lookback, C], y [horizon, C], origin) for every window whose forecast lies inside [start, end).
    `origin` is the row of the first forecast step."""

    def __init__(self, values: np.ndarray, start: int, end: int, lookback: int, horizon: int, stride: int = 1):
        self.values = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))  # [T, C]
        self.lookback, self.horizon = lookback, horizon
        first = max(start, lookback)
        self.origins = torch.arange(first, max(first, end - horizon + 1), stride)

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, index: int):
        origin = int(self.origins[index])
        x = self.values[origin - self.lookback : origin]
        y = self.values[origin : origin + self.horizon]
        return x, y, origin


def scaled_windows(
    values: np.ndarray, borders: Borders, lookback: int, horizon: int, source: str
) -> tuple[StandardScaler, dict[str, Windows]]:
    """Fit the scaler on the train rows, scale everything, and cut each split into windows."""
    for name in ("train", "val", "test"):
        start, end = getattr(borders, name)
        if end - horizon + 1 <= max(start, lookback):  # not one window whose forecast lies inside the split
            raise InputError(
                f"{source}: the {name} split (rows {start}-{end}) is too short for lookback {lookback} + horizon "
                f"{horizon}; the series has {len(values)} rows"
            )
    train_start, train_end = borders.train
    scaler = StandardScaler().fit(values[train_start:train_end])  # a constant column gets scale 1, not NaN
    scaled = scaler.transform(values).astype(np.float32)
    splits = {name: Windows(scaled, *getattr(borders, name), lookback, horizon) for name in ("train", "val", "test")}
    return scaler, splits
