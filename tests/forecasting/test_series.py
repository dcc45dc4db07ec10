"""Reading CSV/Parquet series: every bad input is one clear error naming file, row and column."""

import numpy as np
import polars as pl
import pytest

from titans.forecasting import read_series
from titans.pipelines import InputError

GOOD = "date,a,b\n2020-01-01 00:00,1,10\n2020-01-01 01:00,2,20\n2020-01-01 02:00,3,30\n2020-01-01 03:00,4,40\n"


def _csv(tmp_path, text: str, name: str = "s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file(tmp_path):
    series = read_series(_csv(tmp_path, GOOD))
    assert series.columns == ["a", "b"] and series.values.shape == (4, 2) and series.values.dtype == np.float32
    assert series.time_column == "date" and series.frequency == np.timedelta64(1, "h")


def test_parquet_reads_like_csv(tmp_path):
    pl.read_csv(_csv(tmp_path, GOOD)).write_parquet(tmp_path / "s.parquet")
    assert np.array_equal(read_series(tmp_path / "s.parquet").values, read_series(tmp_path / "s.csv").values)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "not a readable CSV/Parquet table"),
        ("date,a\n", {}, "no data rows"),
        ("date,a\n2020-01-01,1\nyesterday,2\n", {}, "row 3, column 'date': cannot read 'yesterday' as a timestamp"),
        ("date,a\n2020-01-01,1\n2020-01-01,2\n", {}, "row 3, column 'date': duplicate timestamp"),
        ("date,a\n2020-01-02,1\n2020-01-01,2\n", {}, "row 3, column 'date': 2020-01-01T00:00:00.000000000 is earlier"),
        ("date,a\n2020-01-01,1\n2020-01-02,2\n2020-01-03,2\n2020-01-05,3\n", {}, "row 5, column 'date': irregular"),
        ("date,a,b\n2020-01-01,1,x\n2020-01-02,2,3\n", {}, "row 2, column 'b': 'x' is not a number"),
        ("date,a\n2020-01-01,1\n2020-01-02,inf\n", {}, "row 3, column 'a': infinite value"),
        ("date,a\n2020-01-01,1\n2020-01-02,\n", {"missing": "error"}, "row 3, column 'a': a missing value"),
        ("date,a,b\n2020-01-01,,1\n2020-01-02,,2\n", {}, "column 'a': all values missing"),
        (GOOD, {"time_column": "when"}, "no column 'when' for time_column"),
        (GOOD, {"targets": ["c"]}, "no column 'c' among the targets"),
    ],
)
def test_bad_files(tmp_path, text, kwargs, message):
    path = _csv(tmp_path, text)
    with pytest.raises(InputError, match="^" + str(path)) as error:
        read_series(path, **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_series(tmp_path / "absent.csv")


def test_missing_values_are_interpolated_or_carried_forward(tmp_path):
    path = _csv(tmp_path, "date,a\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n2020-01-04,\n")
    assert read_series(path).values[:, 0].tolist() == [1, 2, 3, 3]
    assert read_series(path, missing="ffill").values[:, 0].tolist() == [1, 1, 3, 3]


def test_gaps_are_filled_on_request(tmp_path):
    path = _csv(tmp_path, "date,a\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n")
    series = read_series(path, irregular="resample")
    assert series.values[:, 0].tolist() == [1, 2, 3, 4] and len(series.timestamps) == 4


def test_files_without_a_time_column_are_plain_sequences(tmp_path):
    series = read_series(_csv(tmp_path, "a,b\n1,2\n3,4\n"))
    assert series.timestamps is None and series.frequency is None and series.values.shape == (2, 2)
