"""titans.forecasting: multivariate forecasting from CSV/Parquet time series with Titans and MIRAS backbones.

Registers the `forecasting` task, its datasets (ETTh1, ETTh2, ETTm1, weather, exchange_rate,
national_illness, csv, demo), featurizers (patches, steps), heads (linear, distribution) and metrics (mse,
mae, mase, smape, crps) with titans.pipelines.
"""

from . import datasets, heads, metrics, model, task
from .datasets import BENCHMARKS, ForecastData
from .model import Forecaster, RevIN
from .series import TimeSeries, read_series
from .task import Forecasting
from .windows import Borders, Windows, ett_borders, ratio_borders, scaled_windows

__all__ = [
    "BENCHMARKS",
    "Borders",
    "ForecastData",
    "Forecaster",
    "Forecasting",
    "RevIN",
    "TimeSeries",
    "Windows",
    "datasets",
    "ett_borders",
    "heads",
    "metrics",
    "model",
    "ratio_borders",
    "read_series",
    "scaled_windows",
    "task",
]
