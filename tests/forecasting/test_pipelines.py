"""The shipped forecasting pipelines, end to end on small settings, and `titans predict` on a CSV."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from titans.pipelines import Pipeline, load_spec, lookup
from titans.pipelines.cli import app
from titans.pipelines.spec import shipped_definitions

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "train.max_epochs=1"]


@pytest.mark.parametrize("name", ["forecast-demo", "forecast-csv", "forecast-ett"])
def test_shipped_definitions_validate(name):
    assert name in shipped_definitions()
    assert load_spec(name).task == "forecasting"


def test_forecast_demo_writes_forecasts_plots_and_protocol_metrics(tmp_path):
    overrides = [*SMALL, "data.length=800", f"output.dir={tmp_path / 'run'}"]
    result = Pipeline.from_yaml("forecast-demo", overrides).run()
    out = result.output_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test/mse", "test/mae", "test/mase", "test/smape", "test/crps", "test/mse/series_0"} <= set(metrics)
    steps = [metrics[f"test/mse@step{k}"] for k in range(1, 25)]  # the demo's horizon: 24
    assert np.mean(steps) == pytest.approx(metrics["test/mse"], rel=1e-5) and "test/mae@step24" in metrics
    assert all(np.isfinite(list(metrics.values())))
    forecasts = pl.read_csv(out / "predictions" / "test.csv")
    assert forecasts.columns == ["timestamp", "origin", "step", "column", "value", "target", "q0.1", "q0.5", "q0.9"]
    assert (forecasts["q0.1"] <= forecasts["q0.5"]).all() and (forecasts["q0.5"] <= forecasts["q0.9"]).all()
    assert (out / "plots" / "forecast_test.png").stat().st_size > 10_000


def test_forecast_csv_then_predict_the_future(tmp_path):
    hours = np.arange(600)
    times = np.datetime64("2023-03-01T00:00", "ms") + hours * np.timedelta64(3_600_000, "ms")
    frame = pl.DataFrame({"time": times, "load": np.sin(hours / 24 * 2 * np.pi), "temp": np.cos(hours / 12)})
    frame.write_csv(tmp_path / "series.csv")
    overrides = [*SMALL, f"data.path={tmp_path / 'series.csv'}", "data.lookback=48", "data.horizon=12",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    Pipeline.from_yaml("forecast-csv", overrides).run()
    frame.head(100).write_csv(tmp_path / "recent.csv")
    arguments = ["predict", "forecast-csv", "-c", str(tmp_path / "run/checkpoints/best.ckpt"),
                 "-i", str(tmp_path / "recent.csv"), "-o", str(tmp_path / "next.csv")]  # fmt: skip
    result = CliRunner().invoke(app, arguments)  # the model's shape comes from the checkpoint
    assert result.exit_code == 0, result.output
    future = pl.read_csv(tmp_path / "next.csv")
    quantiles = [f"{column}_q{level}" for column in ("load", "temp") for level in (0.1, 0.5, 0.9)]
    assert future.columns == ["step", "time", "load", "temp", *quantiles] and future.height == 12
    assert (future["temp_q0.1"] <= future["temp_q0.9"]).all() and (future["load"] == future["load_q0.5"]).all()
    assert future["time"][0] == "2023-03-05 04:00:00"  # one hour after the last row given


def test_covariates_calendar_and_a_student_t_head_end_to_end(tmp_path):
    hours = np.arange(500)
    times = np.datetime64("2023-03-01T00:00", "ms") + hours * np.timedelta64(3_600_000, "ms")
    temp = np.random.default_rng(0).normal(size=500).cumsum()
    frame = pl.DataFrame({"time": times, "load": np.sin(hours / 24 * 2 * np.pi) + np.roll(temp, 12), "temp": temp})
    frame.write_csv(tmp_path / "series.csv")
    overrides = [*SMALL, f"data.path={tmp_path / 'series.csv'}", "data.lookback=48", "data.horizon=12",
                 "data.covariates=[temp]", "features.calendar=true", "model.head.name=distribution",
                 "model.head.family=student_t", f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("forecast-csv", overrides).run()
    assert {"test/crps", "test/mse/load"} <= set(result.metrics) and result.metrics["test/crps"] > 0
    assert not any(key.endswith("/temp") for key in result.metrics)  # an input, never a target
    forecasts = pl.read_csv(tmp_path / "run" / "predictions" / "test.csv")
    assert forecasts.columns[-3:] == ["q0.1", "q0.5", "q0.9"] and forecasts["column"].unique().to_list() == ["load"]
    assert (forecasts["q0.1"] < forecasts["q0.5"]).all() and (forecasts["value"] - forecasts["q0.5"]).abs().max() < 1e-4
    frame.head(60).write_csv(tmp_path / "recent.csv")
    arguments = ["predict", "forecast-csv", "-c", str(tmp_path / "run/checkpoints/best.ckpt"),
                 "-i", str(tmp_path / "recent.csv"), "-o", str(tmp_path / "next.csv")]  # fmt: skip
    assert CliRunner().invoke(app, arguments).exit_code == 0
    future = pl.read_csv(tmp_path / "next.csv")
    assert future.columns == ["step", "time", "load", "load_q0.1", "load_q0.5", "load_q0.9"]
    assert (future["load_q0.1"] < future["load"]).all() and (future["load"] < future["load_q0.9"]).all()
    assert (future["load"] - future["load_q0.5"]).abs().max() < 1e-4  # the median is the point forecast
    frame.head(60).drop("temp").write_csv(tmp_path / "recent.csv")
    failed = CliRunner().invoke(app, arguments)
    assert failed.exit_code == 2 and "no column 'temp' among the covariates" in failed.stderr


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "forecasting").is_dir(), reason="needs ../shared/data")
def test_ett_reads_the_benchmark_file_with_the_standard_borders(monkeypatch):
    monkeypatch.setenv("TITANS_DATA_DIR", str(SHARED))
    data = lookup("dataset", "ETTh1")(lookback=96, horizon=96)
    assert data.series.values.shape == (17420, 7) and data.borders.test == (11520, 14400)
    assert data.series.columns[-1] == "OT"
