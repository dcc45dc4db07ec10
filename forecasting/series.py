"""Read a multivariate time series from CSV or Parquet (polars), and refuse what would silently mislead.

    series = read_series("sales.csv")              # time column detected, targets = numeric columns
    series.values    # [T, C] float32, series.columns, series.timestamps (datetime64[ns]), series.frequency
    read_series("sales.csv", covariates=["price"]).covariates    # [T, 1]: inputs only, never forecast
    read_series("sales.csv", known_covariates=["promo"], future=True)  # promo also known over the horizon:
    # the file may end with rows whose targets are empty (the future); their promo values are future_known [F, 1]

Checked, each with a one-line error naming the file, column and row (row numbers count the header as 1):
unreadable or empty files, unparsable or duplicate timestamps, irregular spacing (or resampled on request),
missing values (interpolated, forward-filled or refused, by policy), infinities and numbers beyond float32,
non-numeric columns, rows out of time order, covariates and known covariates that are not columns, are the
time column, are listed twice or have two roles (target, covariate, known covariate), future rows without
every known covariate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from titans.pipelines import InputError

TIME_NAMES = ("date", "datetime", "timestamp", "time", "ds")
MissingPolicy = Literal["interpolate", "ffill", "error"]


@dataclass
class TimeSeries:
    values: np.ndarray  # [T, C] float32
    columns: list[str]
    timestamps: np.ndarray | None  # [T] datetime64[ns], None when the file has no time column
    time_column: str | None = None
    covariate_columns: list[str] = field(default_factory=list)
    covariates: np.ndarray | None = None  # [T, K] float32, input-only columns; [T, 0] when there are none
    known_covariate_columns: list[str] = field(default_factory=list)
    known_covariates: np.ndarray | None = None  # [T, K2] float32, inputs also known over the horizon
    future_known: np.ndarray | None = None  # [F, K2] float32, the known covariates of the rows after the last
    # observation (read with future=True: the rows whose targets are all empty at the end of the file)

    def __post_init__(self):
        rows, known = len(self.values), len(self.known_covariate_columns)
        if self.covariates is None:
            self.covariates = np.zeros((rows, 0), np.float32)
        if self.known_covariates is None:
            self.known_covariates = np.zeros((rows, known), np.float32)
        if self.future_known is None:
            self.future_known = np.zeros((0, known), np.float32)

    @property
    def frequency(self) -> np.timedelta64 | None:
        if self.timestamps is None or len(self.timestamps) < 2:
            return None
        return self.timestamps[1] - self.timestamps[0]

    def __len__(self) -> int:
        return len(self.values)


def _read_frame(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
        raise InputError(f"{path}: not a readable CSV/Parquet table ({first_line})") from None
    if frame.height == 0:
        raise InputError(f"{path}: no data rows (header only or empty)")
    return frame


def _detect_time_column(frame: pl.DataFrame, requested: str | None, path: Path) -> str | None:
    if requested is not None:
        if requested not in frame.columns:
            raise InputError(f"{path}: no column {requested!r} for time_column (columns: {', '.join(frame.columns)})")
        return requested
    for name in frame.columns:
        if name.strip().lower() in TIME_NAMES or frame.schema[name] in (pl.Datetime, pl.Date):
            return name
    return None


def _parse_timestamps(frame: pl.DataFrame, column: str, path: Path) -> np.ndarray:
    raw = frame[column]
    parsed = raw if raw.dtype in (pl.Datetime, pl.Date) else raw.cast(pl.String).str.to_datetime(strict=False)
    bad = parsed.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InputError(f"{path}: row {row + 2}, column {column!r}: cannot read {raw[row]!r} as a timestamp")
    return parsed.cast(pl.Datetime("ns")).to_numpy()


def _check_order(timestamps: np.ndarray, path: Path, column: str) -> None:
    steps = np.diff(timestamps)
    backwards = np.flatnonzero(steps < np.timedelta64(0))
    if backwards.size:
        row = backwards[0] + 1
        raise InputError(f"{path}: row {row + 2}, column {column!r}: {timestamps[row]} is earlier than the row above")
    duplicate = np.flatnonzero(steps == np.timedelta64(0))
    if duplicate.size:
        row = duplicate[0] + 1
        raise InputError(f"{path}: row {row + 2}, column {column!r}: duplicate timestamp {timestamps[row]}")


def _check_regular(timestamps: np.ndarray, path: Path, column: str) -> None:
    steps = np.diff(timestamps)
    if steps.size == 0:  # a single row has no spacing to check
        return
    values, counts = np.unique(steps, return_counts=True)
    usual = values[np.argmax(counts)]
    irregular = np.flatnonzero(steps != usual)
    if irregular.size:
        row = irregular[0] + 1
        raise InputError(
            f"{path}: row {row + 2}, column {column!r}: irregular spacing ({timestamps[row - 1]} -> {timestamps[row]}, "
            f"usually {usual.astype('timedelta64[s]')}); set irregular: resample to fill the gaps"
        )


def _resample(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Re-index onto a regular grid at the most common step; new rows have missing values."""
    steps = frame[column].diff().drop_nulls()
    usual = steps.mode().sort()[0]
    grid = pl.datetime_range(frame[column].min(), frame[column].max(), interval=usual, eager=True)
    grid = grid.cast(frame.schema[column]).alias(column)
    return pl.DataFrame(grid).join(frame, on=column, how="left")


def _check_listed(frame: pl.DataFrame, names: list[str], role: str, path: Path) -> None:
    for index, name in enumerate(names):
        if name not in frame.columns:
            raise InputError(f"{path}: no column {name!r} among the {role} (columns: {', '.join(frame.columns)})")
        if name in names[:index]:
            raise InputError(f"{path}: column {name!r} is listed twice among the {role}")


def _check_numeric(frame: pl.DataFrame, name: str, hint: str, path: Path) -> None:
    if frame.schema[name].is_numeric():
        return
    unreadable = frame[name].cast(pl.Float64, strict=False).is_null() & frame[name].is_not_null()
    if unreadable.any():  # text such as "inf" or "1e3" still reads as numbers
        row = int(unreadable.arg_true()[0])
        raise InputError(f"{path}: row {row + 2}, column {name!r}: {frame[name][row]!r} is not a number{hint}")


def _check_inputs(frame: pl.DataFrame, time_column: str | None, roles: dict[str, list[str]], path: Path) -> None:
    """Input columns by role ("covariate", "known covariate"): present, numeric, not the time column, listed
    once, and in one role only."""
    seen: dict[str, str] = {}
    for role, names in roles.items():
        _check_listed(frame, names, f"{role}s", path)
        for name in names:
            if name == time_column:
                raise InputError(f"{path}: column {name!r} is the time column, not a {role} (see features.calendar)")
            if name in seen:
                raise InputError(f"{path}: column {name!r} is both a {seen[name]} and a {role}; it can be only one")
            seen[name] = role
            _check_numeric(frame, name, "", path)


def _numeric_targets(
    frame: pl.DataFrame, time_column: str | None, targets: list[str] | None, roles: dict[str, list[str]], path: Path
) -> list[str]:
    role_of = {name: role for role, names in roles.items() for name in names}
    chosen = targets or [name for name in frame.columns if name != time_column and name not in role_of]
    if not chosen:
        others = " and the covariates" if role_of else ""
        raise InputError(f"{path}: no value columns besides the time column {time_column!r}{others}")
    _check_listed(frame, chosen, "targets", path)
    for name in chosen:
        if name in role_of:
            raise InputError(f"{path}: column {name!r} is both a target and a {role_of[name]}; it can be only one")
        _check_numeric(frame, name, "" if targets else "; choose numeric columns with targets: [...]", path)
    return chosen


def _observed_rows(frame: pl.DataFrame, targets: list[str]) -> int:
    """The number of rows up to the last one with any target value; the rows after it are the future."""
    observed = frame.select(
        pl.any_horizontal(pl.col(targets).cast(pl.Float64, strict=False).fill_nan(None).is_not_null())
    )
    rows = observed.to_series().arg_true()
    return int(rows[-1]) + 1 if len(rows) else frame.height


def _future_known(frame: pl.DataFrame, known: list[str], observed: int, path: Path) -> np.ndarray:
    """The known covariates [F, K2] of the rows after the last observation; every value must be given."""
    future = frame.slice(observed).select(pl.col(known).cast(pl.Float64, strict=False))
    values = future.to_numpy().astype(np.float64).reshape(future.height, len(known))  # [F, K2], NaN where empty
    missing = np.argwhere(np.isnan(values))
    if missing.size:
        row, col = (int(i) for i in missing[0])
        raise InputError(
            f"{path}: row {observed + row + 2}, column {known[col]!r}: a missing value after the last observation; "
            "a known covariate needs a value in every future row"
        )
    return values.astype(np.float32)


def _fill_missing(values: np.ndarray, columns: list[str], policy: MissingPolicy, path: Path) -> np.ndarray:
    missing = np.isnan(values)
    if not missing.any():
        return values
    empty = np.flatnonzero(missing.all(axis=0))
    if empty.size:
        raise InputError(
            f"{path}: column {columns[empty[0]]!r}: all values missing (drop it, or choose targets: [...])"
        )
    if policy == "error":
        row, col = (int(i) for i in np.argwhere(missing)[0])
        raise InputError(
            f"{path}: row {row + 2}, column {columns[col]!r}: a missing value (missing: interpolate|ffill)"
        )
    frame = pl.DataFrame(values, schema=columns, orient="row").fill_nan(None)
    filled = frame.interpolate() if policy == "interpolate" else frame.fill_null(strategy="forward")
    return filled.fill_null(strategy="forward").fill_null(strategy="backward").to_numpy().astype(np.float32)


def read_series(
    path: str | Path,
    time_column: str | None = None,
    targets: list[str] | None = None,
    missing: MissingPolicy = "interpolate",
    irregular: Literal["error", "resample", "ignore"] = "error",
    covariates: list[str] | None = None,
    known_covariates: list[str] | None = None,
    future: bool = False,
) -> TimeSeries:
    """`irregular`: refuse gaps, duplicates and disorder; fill gaps on a regular grid; or take rows as steps
    whatever their timestamps (benchmark files with known glitches, e.g. weather's one duplicate).
    `covariates`: numeric input-only columns seen over the lookback; `known_covariates`: numeric inputs also
    known over the horizon; the targets default to every other column but time. `future`: the rows at the end
    whose targets are all empty are the future: not part of the series, their known covariates future_known."""
    path = Path(path)
    frame = _read_frame(path)
    time_name = _detect_time_column(frame, time_column, path)
    covariates, known_covariates = covariates or [], known_covariates or []
    roles = {"covariate": covariates, "known covariate": known_covariates}
    _check_inputs(frame, time_name, roles, path)
    columns = _numeric_targets(frame, time_name, targets, roles, path)
    read = [*columns, *covariates, *known_covariates]
    timestamps = None
    if time_name is not None:
        timestamps = _parse_timestamps(frame, time_name, path)
        if irregular != "ignore":
            _check_order(timestamps, path, time_name)
        frame = frame.with_columns(pl.Series(time_name, timestamps))
        if irregular == "resample":
            frame = _resample(frame, time_name)
            timestamps = frame[time_name].to_numpy()
        if irregular != "ignore":
            _check_regular(timestamps, path, time_name)
    observed = _observed_rows(frame, columns) if future else frame.height
    future_known = _future_known(frame, known_covariates, observed, path) if future else None
    frame, timestamps = frame.head(observed), None if timestamps is None else timestamps[:observed]
    values = frame.select(pl.col(read).cast(pl.Float64, strict=False)).fill_nan(None).to_numpy().astype(np.float64)
    beyond = np.argwhere(np.abs(values) > np.finfo(np.float32).max)  # infinities, and numbers float32 cannot hold
    if beyond.size:
        row, col = (int(i) for i in beyond[0])
        value = values[row, col]
        what = "infinite value" if np.isinf(value) else f"{value:g} is beyond the float32 range"
        raise InputError(f"{path}: row {row + 2}, column {read[col]!r}: {what}")
    values = _fill_missing(values.astype(np.float32), read, missing, path)
    targets, inputs = len(columns), len(columns) + len(covariates)
    return TimeSeries(
        values[:, :targets], columns, timestamps, time_name, covariates, values[:, targets:inputs],
        known_covariates, values[:, inputs:], future_known,
    )  # fmt: skip
