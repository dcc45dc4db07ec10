"""Known covariates (`data.known_covariates`): read over the lookback and the horizon, so a target that depends
on one at the same step becomes predictable; future rows for `titans predict`; one-line errors for columns
that cannot be known covariates."""

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from titans.forecasting import read_series
from titans.forecasting.inputs import series_inputs
from titans.forecasting.windows import ratio_borders
from titans.pipelines import InputError, Pipeline
from titans.pipelines.cli import app

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "model.backbone.window=8",
         "train.max_epochs=3", "train.lr=1.0e-2", "data.lookback=32", "data.horizon=8", "output.plots=false",
         "output.predictions=false"]  # fmt: skip
POINT = ["model.head.quantiles=[]", "evaluate.metrics=[mse,mae]"]
CSV = "date,load,promo,price,note\n" + "".join(
    f"2024-01-01 {hour:02d}:00,{hour},{hour % 2},{hour * 3},x\n" for hour in range(6)
)


def _promotions(rows: int, seed: int = 0) -> pl.DataFrame:
    """sales_t = 2 * promo_t + noise, promo random: only promo at the forecast's own step explains sales."""
    rng = np.random.default_rng(seed)
    times = np.datetime64("2023-03-01T00:00", "ms") + np.arange(rows) * np.timedelta64(3_600_000, "ms")
    promo = rng.normal(size=rows)
    return pl.DataFrame({"time": times, "sales": 2 * promo + 0.1 * rng.normal(size=rows), "promo": promo})


def test_future_rows_are_split_off_and_their_known_covariates_kept(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV.replace(",note", "").replace(",x\n", "\n") + "2024-01-01 06:00,,1,\n2024-01-01 07:00,,0,\n")
    series = read_series(path, targets=["load", "price"], known_covariates=["promo"], future=True)
    assert len(series) == 6 and series.known_covariate_columns == ["promo"]
    assert series.known_covariates[:, 0].tolist() == [0, 1, 0, 1, 0, 1] and series.future_known.tolist() == [[1], [0]]
    assert str(series.timestamps[-1]) == "2024-01-01T05:00:00.000000000"
    assert len(read_series(path, targets=["load", "price"], known_covariates=["promo"])) == 8  # future=False: filled


def test_known_covariates_are_inputs_over_the_lookback_and_the_horizon(tmp_path):
    path = tmp_path / "s.csv"
    _promotions(100).write_csv(path)
    series = read_series(path, known_covariates=["promo"])
    inputs, known, state = series_inputs(series, ratio_borders(100), ["hour_of_day"])
    assert series.columns == ["sales"] and inputs.shape == (100, 3) and known.shape == (100, 3)
    assert np.array_equal(inputs, known)  # no lookback-only covariates: the same features on both sides
    promo = series.known_covariates[:, 0]
    expected = (promo - promo[:70].mean()) / promo[:70].std()  # the train rows' scaler
    assert known[:, 0] == pytest.approx(expected, abs=1e-5)
    assert state["known_covariates"] == ["promo"] and state["known_mean"].item() == pytest.approx(promo[:70].mean())


def test_a_target_that_depends_on_a_known_covariate_is_forecast_far_better_with_it(tmp_path):
    _promotions(3000).write_csv(tmp_path / "sales.csv")
    mse = {}
    for role in ("covariates", "known_covariates"):  # lookback-only promo cannot explain future sales
        torch.manual_seed(0)
        overrides = [*SMALL, *POINT, f"data.path={tmp_path / 'sales.csv'}", f"data.{role}=[promo]",
                     f"output.dir={tmp_path / role}"]  # fmt: skip
        mse[role] = Pipeline.from_yaml("forecast-csv", overrides).run().metrics["test/mse"]
    assert mse["covariates"] > 0.8  # promo is random: the past alone leaves the variance (standardised: 1)
    assert mse["known_covariates"] < 0.4 and mse["known_covariates"] < mse["covariates"] / 2.5, mse


def test_predict_reads_the_future_rows_and_refuses_a_file_without_them(tmp_path):
    frame = _promotions(3000)
    frame.write_csv(tmp_path / "sales.csv")
    torch.manual_seed(0)
    overrides = [*SMALL, f"data.path={tmp_path / 'sales.csv'}", "data.known_covariates=[promo]",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    Pipeline.from_yaml("forecast-csv", overrides).run()
    recent = frame.slice(2900, 40).with_columns(pl.when(pl.int_range(40) >= 32).then(None).otherwise(pl.col("sales"))
                                                .alias("sales"))  # fmt: skip
    recent.write_csv(tmp_path / "recent.csv")
    arguments = ["predict", "forecast-csv", "-c", str(tmp_path / "run/checkpoints/best.ckpt"),
                 "-i", str(tmp_path / "recent.csv"), "-o", str(tmp_path / "next.csv")]  # fmt: skip
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    forecast = pl.read_csv(tmp_path / "next.csv")
    quantiles = ["sales_q0.1", "sales_q0.5", "sales_q0.9"]  # forecast-csv has a quantile head
    assert forecast.columns == ["step", "time", "sales", *quantiles] and forecast.height == 8
    assert forecast["time"].to_list() == recent["time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_list()[32:]
    truth = frame["sales"].to_numpy()[2932:2940]
    assert np.mean((forecast["sales"].to_numpy() - truth) ** 2) < 0.4 * np.var(truth)  # promo's values were used
    frame.slice(2900, 32).write_csv(tmp_path / "recent.csv")  # the observations only
    failed = CliRunner().invoke(app, arguments)
    assert failed.exit_code == 2 and failed.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'recent.csv'}: column 'promo' is a known covariate, so the forecast needs its values "
        "over the 8 steps ahead: append 8 rows after the last observation with the known covariates filled and "
        "the targets empty (the file has 0)"
    ]


@pytest.mark.parametrize(
    ("targets", "covariates", "known", "message"),
    [
        (["load"], None, ["wind"], "no column 'wind' among the known covariates (columns: date, load, promo, price"),
        (["load"], None, ["note"], "row 2, column 'note': 'x' is not a number"),
        (["load", "promo"], None, ["promo"], "column 'promo' is both a target and a known covariate"),
        (["load"], None, ["promo", "promo"], "column 'promo' is listed twice among the known covariates"),
        (["load"], ["promo"], ["promo"], "column 'promo' is both a covariate and a known covariate"),
        (["load"], None, ["date"], "column 'date' is the time column, not a known covariate"),
    ],
)
def test_bad_known_covariates_are_one_line_errors_naming_file_and_column(tmp_path, targets, covariates, known,
                                                                         message):  # fmt: skip
    path = tmp_path / "s.csv"
    path.write_text(CSV)
    with pytest.raises(InputError, match="^" + str(path)) as error:
        read_series(path, targets=targets, covariates=covariates, known_covariates=known)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_future_row_without_its_known_covariate_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV + "2024-01-01 06:00,,1,,x\n2024-01-01 07:00,,,,x\n")
    with pytest.raises(InputError) as error:
        read_series(path, targets=["load"], known_covariates=["promo"], future=True)
    assert str(error.value) == (
        f"{path}: row 9, column 'promo': a missing value after the last observation; a known covariate needs a "
        "value in every future row"
    )
