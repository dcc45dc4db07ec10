"""Forecasting data sources, registered by name: the benchmark files (found under TITANS_DATA_DIR or
downloaded and checked by sha256), any CSV/Parquet file, and a synthetic demo series made on the spot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from titans.pipelines import register
from titans.pipelines.datafiles import DataFile

from .series import MissingPolicy, TimeSeries, read_series
from .windows import Borders, ett_borders, ratio_borders

ETT = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/"


@dataclass
class ForecastData:
    series: TimeSeries
    borders: Borders
    lookback: int
    horizon: int
    season: int  # the seasonal period in rows, for seasonal-naive scaling (MASE)
    source: str  # the file or dataset, for messages


@dataclass(frozen=True)
class Benchmark:
    file: DataFile
    season: int
    borders: str  # "ett-hourly", "ett-15min" or "ratio"


SHA256 = {
    "ETTh1": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
    "ETTh2": "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
    "ETTm1": "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
    "weather": "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63",
    "exchange_rate": "d55e7aa2641009814a18ba3279431b13f6d413b0eab195b9ff21988d8cf94e97",
    "national_illness": "8594cecb98c6f2f9dc014eca11c4d5d1e38ad5ce6ed0592d4abe65b146fce395",
}


def _file(name: str, downloadable: bool) -> DataFile:
    """ETT downloads from its repository; the Autoformer collection's copies (weather, exchange_rate,
    national_illness) have no stable public file address, so they are found under TITANS_DATA_DIR only."""
    return DataFile(f"forecasting/{name}.csv", ETT + f"{name}.csv" if downloadable else None, SHA256[name])


BENCHMARKS = {
    "ETTh1": Benchmark(_file("ETTh1", True), 24, "ett-hourly"),
    "ETTh2": Benchmark(_file("ETTh2", True), 24, "ett-hourly"),
    "ETTm1": Benchmark(_file("ETTm1", True), 96, "ett-15min"),
    "weather": Benchmark(_file("weather", False), 144, "ratio"),
    "exchange_rate": Benchmark(_file("exchange_rate", False), 5, "ratio"),
    "national_illness": Benchmark(_file("national_illness", False), 52, "ratio"),
}


def _benchmark(name: str):
    spec = BENCHMARKS[name]

    def load(*, lookback: int = 96, horizon: int = 96) -> ForecastData:
        # weather has one duplicated timestamp; the protocol takes rows as steps, as do we for benchmarks
        series = read_series(spec.file.fetch(), irregular="ignore")
        borders = {
            "ett-hourly": lambda: ett_borders(1),
            "ett-15min": lambda: ett_borders(4),
            "ratio": lambda: ratio_borders(len(series)),
        }[spec.borders]()
        return ForecastData(series, borders, lookback, horizon, spec.season, name)

    load.__doc__ = f"The {name} benchmark series, standard splits ({spec.borders.replace('-', ' ')})."
    load.__name__ = name
    return load


for _name in BENCHMARKS:
    register("dataset", _name)(_benchmark(_name))


@register("dataset", "csv")
def csv(
    *,
    path: Path,
    lookback: int = 96,
    horizon: int = 24,
    time_column: str | None = None,
    targets: list[str] | None = None,
    covariates: list[str] | None = None,
    known_covariates: list[str] | None = None,
    missing: MissingPolicy = "interpolate",
    irregular: Literal["error", "resample", "ignore"] = "error",
    train: float = 0.7,
    val: float = 0.1,
    season: int = 1,
) -> ForecastData:
    """Any CSV or Parquet table of timestamps and numeric columns, split chronologically. `covariates` are
    inputs over the lookback; `known_covariates` are inputs over the lookback and the horizon (the file may end
    with future rows: known covariates given, targets empty; training leaves them out)."""
    known = known_covariates or []
    series = read_series(path, time_column, targets, missing, irregular, covariates, known, future=bool(known))
    return ForecastData(series, ratio_borders(len(series), train, val), lookback, horizon, season, str(path))


@register("dataset", "demo")
def demo(*, length: int = 3000, columns: int = 3, lookback: int = 96, horizon: int = 24, seed: int = 0) -> ForecastData:
    """A synthetic hourly series made on the spot: daily and weekly cycles, a trend, noise, a level shift."""
    rng = np.random.default_rng(seed)
    hours = np.arange(length)[:, None]
    phase, amplitude = rng.uniform(0, 2 * np.pi, columns), rng.uniform(0.5, 2.0, columns)
    values = (
        amplitude * np.sin(2 * np.pi * hours / 24 + phase)
        + 0.5 * np.sin(2 * np.pi * hours / (24 * 7) + phase / 2)
        + 0.0005 * hours * rng.normal(size=columns)
        + 1.5 * (hours > length * 0.6)  # a level shift after training: what instance normalisation absorbs
        + 0.2 * rng.normal(size=(length, columns))
    ).astype(np.float32)
    timestamps = np.datetime64("2024-01-01T00:00", "ns") + np.arange(length) * np.timedelta64(1, "h")
    series = TimeSeries(values, [f"series_{i}" for i in range(columns)], timestamps, "date")
    return ForecastData(series, ratio_borders(length), lookback, horizon, 24, "demo")
