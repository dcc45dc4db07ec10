"""Calendar features from timestamps and covariate columns: their values, how they enter the network, and
the one-line errors for covariates that cannot be inputs."""

from typing import get_args

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from titans.core import build_backbone
from titans.forecasting import TimeSeries, read_series
from titans.forecasting.calendar import (
    PERIODS,
    CalendarName,
    calendar_features,
    calendar_index,
    default_calendar,
    resolve_calendar,
)
from titans.forecasting.heads import linear
from titans.forecasting.model import Forecaster, patches, steps
from titans.pipelines import InputError
from titans.pipelines.cli import app

STAMPS = np.array(["2024-01-01T00:00", "2024-03-15T18:45", "2023-12-31T23:59", "1969-12-31T23:30"], "datetime64[ns]")


def test_calendar_positions_of_known_timestamps():
    expected = {  # Monday 1 January 2024; Friday 15 March 2024 (a leap year); Sunday; Wednesday before 1970
        "minute_of_hour": [0, 45, 59, 30],
        "hour_of_day": [0, 18, 23, 23],
        "day_of_week": [0, 4, 6, 2],
        "day_of_month": [0, 14, 30, 30],
        "day_of_year": [0, 74, 364, 364],
        "month_of_year": [0, 2, 11, 11],
    }
    for name, positions in expected.items():
        assert calendar_index(STAMPS, name).tolist() == positions, name


def test_calendar_positions_agree_with_pandas_over_many_timestamps():
    stamps = np.datetime64("2019-06-01T00:00", "ns") + np.arange(0, 3000) * np.timedelta64(97, "m")
    index = pd.DatetimeIndex(stamps)
    reference = {
        "minute_of_hour": index.minute,
        "hour_of_day": index.hour,
        "day_of_week": index.dayofweek,
        "day_of_month": index.day - 1,
        "day_of_year": index.dayofyear - 1,
        "month_of_year": index.month - 1,
    }
    for name, positions in reference.items():
        assert np.array_equal(calendar_index(stamps, name), positions), name


def test_calendar_features_are_sin_and_cos_of_the_cycle():
    features = calendar_features(STAMPS[:2], ["hour_of_day", "day_of_week"])  # [T, 4]
    assert features.shape == (2, 4) and features.dtype == np.float32
    assert features[0] == pytest.approx([0, 1, 0, 1], abs=1e-6)  # midnight, Monday: angle 0
    assert features[1] == pytest.approx([-1, 0, np.sin(2 * np.pi * 4 / 7), np.cos(2 * np.pi * 4 / 7)], abs=1e-6)
    assert set(PERIODS) == set(get_args(CalendarName))  # every name the option accepts has a period


def test_calendar_true_picks_features_from_the_spacing():
    assert default_calendar(np.timedelta64(15, "m"))[:2] == ["minute_of_hour", "hour_of_day"]
    assert default_calendar(np.timedelta64(1, "h")) == ["hour_of_day", "day_of_week", "day_of_year"]
    assert "hour_of_day" not in default_calendar(np.timedelta64(1, "D"))
    assert default_calendar(np.timedelta64(31, "D")) == ["month_of_year"]
    hourly = TimeSeries(np.zeros((3, 1), np.float32), ["a"], STAMPS[0] + np.arange(3) * np.timedelta64(1, "h"))
    assert resolve_calendar(True, hourly, "s.csv") == default_calendar(np.timedelta64(1, "h"))
    assert resolve_calendar(["month_of_year"], hourly, "s.csv") == ["month_of_year"]
    assert resolve_calendar(False, hourly, "s.csv") == []
    with pytest.raises(InputError, match=r"^s\.csv: features\.calendar needs timestamps"):
        resolve_calendar(True, TimeSeries(np.zeros((3, 1), np.float32), ["a"], None), "s.csv")


CSV = "date,load,temp,price,note\n" + "".join(
    f"2024-01-01 {hour:02d}:00,{hour},{hour * 2},{hour * 3},x\n" for hour in range(6)
)


def test_covariates_are_inputs_and_targets_default_to_the_other_numeric_columns(tmp_path):
    (tmp_path / "s.csv").write_text(CSV.replace(",note", "").replace(",x\n", "\n"))
    series = read_series(tmp_path / "s.csv", covariates=["temp"])
    assert series.columns == ["load", "price"] and series.covariate_columns == ["temp"]
    assert series.covariates[:, 0].tolist() == [0, 2, 4, 6, 8, 10] and series.values[:, 1].tolist()[:2] == [0, 3]
    assert read_series(tmp_path / "s.csv").covariates.shape == (6, 0)


@pytest.mark.parametrize(
    ("targets", "covariates", "message"),
    [
        (["load"], ["wind"], "no column 'wind' among the covariates (columns: date, load, temp, price, note)"),
        (["load"], ["note"], "row 2, column 'note': 'x' is not a number"),
        (["load", "temp"], ["temp"], "column 'temp' is both a target and a covariate"),
        (["load"], ["date"], "column 'date' is the time column, not a covariate"),
        (["load"], ["temp", "temp"], "column 'temp' is listed twice among the covariates"),
        (["load", "load"], None, "column 'load' is listed twice among the targets"),
    ],
)
def test_bad_covariates_are_one_line_errors_naming_file_and_column(tmp_path, targets, covariates, message):
    path = tmp_path / "s.csv"
    path.write_text(CSV)
    with pytest.raises(InputError, match="^" + str(path)) as error:
        read_series(path, targets=targets, covariates=covariates)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_command_line_refuses_a_covariate_that_is_a_target(tmp_path):
    (tmp_path / "s.csv").write_text(CSV)
    arguments = ["run", "forecast-csv", "--set", f"data.path={tmp_path / 's.csv'}", "--set", "data.targets=[load]",
                 "--set", "data.covariates=[load]", "-o", str(tmp_path / "run")]  # fmt: skip
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 's.csv'}: column 'load' is both a target and a covariate; it can be only one"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("featurizer", ["patches", "steps"])
def test_covariates_and_calendar_features_change_the_forecast(featurizer):
    torch.manual_seed(0)
    backbone = build_backbone("mag", dim=16, depth=1, heads=2, window=8, chunk_size=4)
    features = patches(16, 32, 2, 3, patch_length=8, stride=4) if featurizer == "patches" else steps(16, 32, 2, 3)
    head = linear(features.tokens, 16, 6, 1 if features.channel_independent else 2, 2)
    model = Forecaster(features, backbone, head).eval()
    x, inputs, known = torch.randn(2, 32, 2), torch.randn(2, 32, 3), torch.randn(2, 6, 2)
    forecast = model(x, inputs, known)
    assert forecast.shape == (2, 6, 2, 1)
    changed_inputs = inputs.clone()
    changed_inputs[1, -4:, 0] += 1.0  # the second example's last steps of one covariate
    other = model(x, changed_inputs, known)
    assert torch.equal(other[0], forecast[0]) and not torch.allclose(other[1], forecast[1])
    assert not torch.allclose(model(x, inputs, known + 1), forecast)  # the horizon's calendar reaches the head
