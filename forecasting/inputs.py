"""The network's inputs besides the targets, built the same way for training windows and for `titans predict`:

    inputs [T, K + K2 + 2 * F]   read over the lookback: covariates, known covariates, calendar features
    known  [T, K2 + 2 * F]       read over the horizon: known covariates, calendar features

(K covariates, K2 known covariates, F calendar features as sin and cos). Covariates and known covariates are
standardised by their own scalers, fit on the train rows; calendar features come from the timestamps. The
horizon's part reaches the head beside the tokens (heads.DirectHead), so a known covariate at step t can
explain the target at step t.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from titans.pipelines import InputError

from .calendar import calendar_features
from .series import TimeSeries
from .windows import Borders, fit_scaled

NO_INPUTS = {
    "covariates": [],
    "covariate_mean": torch.zeros(0),
    "covariate_scale": torch.zeros(0),
    "known_covariates": [],
    "known_mean": torch.zeros(0),
    "known_scale": torch.zeros(0),
    "calendar": [],
}


def input_sizes(state: dict[str, Any]) -> tuple[int, int]:
    """(features per lookback step, features per horizon step) of a task state."""
    known = len(state["known_covariates"]) + 2 * len(state["calendar"])  # sin and cos of each calendar feature
    return len(state["covariates"]) + known, known


def series_inputs(series: TimeSeries, borders: Borders, calendar: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """The inputs [T, K + K2 + 2F], the features known over the horizon [T, K2 + 2F], and the state `titans
    predict` needs to rebuild them (the scalers' mean and scale, the column and calendar names)."""
    state = NO_INPUTS | {"calendar": calendar}
    parts = {}
    for name, columns, values in (
        ("covariate", series.covariate_columns, series.covariates),
        ("known", series.known_covariate_columns, series.known_covariates),
    ):
        if columns:
            scaler, parts[name] = fit_scaled(values, borders)
            state |= {
                f"{name}_mean": torch.tensor(scaler.mean_, dtype=torch.float32),
                f"{name}_scale": torch.tensor(scaler.scale_, dtype=torch.float32),
            }
        else:
            parts[name] = values
    state |= {"covariates": series.covariate_columns, "known_covariates": series.known_covariate_columns}
    dates = calendar_features(series.timestamps, calendar) if calendar else np.zeros((len(series), 0), np.float32)
    known = np.concatenate([parts["known"], dates], axis=1)  # [T, K2 + 2F]
    return np.concatenate([parts["covariate"], known], axis=1), known, state


def _scaled(values: np.ndarray, mean: Tensor, scale: Tensor) -> Tensor:
    return (torch.from_numpy(values) - mean) / scale


def future_inputs(
    state: dict[str, Any], series: TimeSeries, future: np.ndarray | None, path: Path
) -> tuple[Tensor, Tensor]:
    """For `titans predict`: the last R + L rows' inputs [R + L, K + K2 + 2F] (R history rows) and the
    horizon's known features [H, K2 + 2F]; `future` holds the horizon's timestamps (None without a time
    column). The known covariates' future values are the rows after the last observation (series.future_known)."""
    rows, horizon, calendar = state["history_rows"] + state["lookback"], state["horizon"], state["calendar"]
    known_columns = state["known_covariates"]
    if known_columns and len(series.future_known) < horizon:
        raise InputError(
            f"{path}: column {known_columns[0]!r} is a known covariate, so the forecast needs its values over the "
            f"{horizon} steps ahead: append {horizon} rows after the last observation with the known covariates "
            f"filled and the targets empty (the file has {len(series.future_known)})"
        )
    if calendar and future is None:
        raise InputError(f"{path}: one row; the forecast's calendar features need the step between two rows")
    covariates = _scaled(series.covariates[-rows:], state["covariate_mean"], state["covariate_scale"])  # [R+L, K]
    known_past = _scaled(series.known_covariates[-rows:], state["known_mean"], state["known_scale"])  # [R+L, K2]
    known_future = torch.zeros(horizon, 0)  # [H, K2]
    if known_columns:
        known_future = _scaled(series.future_known[:horizon], state["known_mean"], state["known_scale"])
    past, ahead = [covariates, known_past], [known_future]
    if calendar:
        past.append(torch.from_numpy(calendar_features(series.timestamps[-rows:], calendar)))  # [R+L, 2F]
        ahead.append(torch.from_numpy(calendar_features(future, calendar)))  # [H, 2F]
    return torch.cat(past, dim=1), torch.cat(ahead, dim=1)
