"""Calendar features from timestamps: known in advance, so they are inputs over the lookback and the horizon.

Each feature is a position in a cycle (the hour in a day, the day in a week, ...), encoded as the sine and
cosine of its angle, so the last hour of a day sits next to the first and every value lies in [-1, 1]:

    calendar_features(timestamps, ["hour_of_day", "day_of_week"])    # [T, 4]: sin, cos of each
    default_calendar(np.timedelta64(1, "h"))                         # what `features.calendar: true` picks

They are never targets and never pass through the target scaler.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from titans.pipelines import InputError

from .series import TimeSeries

CalendarName = Literal["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year", "month_of_year"]
PERIODS = {"minute_of_hour": 60, "hour_of_day": 24, "day_of_week": 7, "day_of_month": 31, "day_of_year": 366,
           "month_of_year": 12}  # fmt: skip
THURSDAY = 3  # 1970-01-01, day 0 of datetime64, was a Thursday; Monday is 0


def calendar_index(timestamps: np.ndarray, name: str) -> np.ndarray:
    """The 0-based position of each timestamp [T] in the named cycle (Monday, the 1st, January are 0)."""
    minutes, hours = timestamps.astype("datetime64[m]"), timestamps.astype("datetime64[h]")
    days, months = timestamps.astype("datetime64[D]"), timestamps.astype("datetime64[M]")
    index = {
        "minute_of_hour": lambda: minutes - hours,
        "hour_of_day": lambda: hours - days,
        "day_of_week": lambda: (days.astype(np.int64) + THURSDAY) % 7,
        "day_of_month": lambda: days - months,
        "day_of_year": lambda: days - timestamps.astype("datetime64[Y]"),
        "month_of_year": lambda: months.astype(np.int64) % 12,
    }[name]()
    return np.asarray(index).astype(np.int64)


def calendar_features(timestamps: np.ndarray, names: list[str]) -> np.ndarray:
    """[T, 2 * len(names)] float32: sin and cos of each named cycle's angle, feature by feature."""
    columns = []
    for name in names:
        angle = 2 * np.pi * calendar_index(timestamps, name) / PERIODS[name]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((len(timestamps), 0), np.float32)


def default_calendar(step: np.timedelta64) -> list[str]:
    """The cycles that vary within a few hundred steps of this spacing (after GluonTS's frequency defaults)."""
    if step < np.timedelta64(1, "h"):
        return ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_year"]
    if step < np.timedelta64(1, "D"):
        return ["hour_of_day", "day_of_week", "day_of_year"]
    if step < np.timedelta64(7, "D"):
        return ["day_of_week", "day_of_month", "day_of_year"]
    if step < np.timedelta64(28, "D"):
        return ["day_of_month", "day_of_year"]
    return ["month_of_year"]


def resolve_calendar(option: list[str] | bool, series: TimeSeries, source: str) -> list[str]:
    """The calendar features `features.calendar` asks for: none (false), the defaults for the series' spacing
    (true), or the names given; they need the series' timestamps."""
    if option is False or option == []:
        return []
    if series.timestamps is None:
        raise InputError(f"{source}: features.calendar needs timestamps, and the series has no time column")
    if option is not True:
        return list(option)
    return default_calendar(series.frequency) if series.frequency is not None else []  # one row: too short anyway
