"""Online forecasting (`features.history`): the memory reads earlier rows before each lookback, with the
weights fixed; frozen, it starts empty. Both come from one model, and the run reports both."""

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from titans.core import build_backbone
from titans.forecasting.heads import linear
from titans.forecasting.model import Forecaster, steps
from titans.pipelines import Pipeline, SpecError
from titans.pipelines.cli import app


def _forecaster(history_rows: int) -> Forecaster:
    torch.manual_seed(0)
    backbone = build_backbone("lmm", dim=16, depth=1, heads=2, chunk_size=4)
    features = steps(16, 24, 2, revin=False)
    return Forecaster(features, backbone, linear(features.tokens, 16, 6, 2), history_rows)


def test_online_reads_the_history_into_the_memory_and_frozen_ignores_it():
    model = _forecaster(history_rows=48)
    past, lookback = torch.randn(3, 48, 2), torch.randn(3, 24, 2)
    x = torch.cat([past, lookback], dim=1)  # [B, R + L, C]
    with torch.no_grad():
        online, frozen = model(x), model(x, online=False)
        # online == the backbone over the past and then the lookback as one stream, the head on the lookback's tokens
        h, _ = model.backbone(model.featurizer.to_tokens(x))
        expected = model.head(h[:, 48:], None)
        assert torch.allclose(online, expected, atol=1e-5)
        assert torch.equal(frozen, model(torch.cat([torch.zeros_like(past), lookback], dim=1), online=False))
        assert not torch.allclose(online, frozen, atol=1e-3)  # the memory did learn from the past


def test_a_run_with_history_reports_frozen_and_online_and_predicts(tmp_path):
    hours = np.arange(700)
    times = np.datetime64("2023-03-01T00:00", "ms") + hours * np.timedelta64(3_600_000, "ms")
    frame = pl.DataFrame({"time": times, "load": np.sin(hours / 24 * 2 * np.pi) + 0.1 * np.cos(hours / 7)})
    frame.write_csv(tmp_path / "series.csv")
    overrides = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "train.max_epochs=1",
                 f"data.path={tmp_path / 'series.csv'}", "data.lookback=24", "data.horizon=6", "features.history=2",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("forecast-csv", overrides).run()
    assert {"test/mse", "test/frozen/mse", "test/frozen/mae", "val/frozen/mse"} <= set(result.metrics)
    assert result.metrics["test/mse"] != result.metrics["test/frozen/mse"]
    frame.head(72).write_csv(tmp_path / "recent.csv")  # history (48 rows) and lookback (24)
    arguments = ["predict", "forecast-csv", "-c", str(tmp_path / "run/checkpoints/best.ckpt"),
                 "-i", str(tmp_path / "recent.csv"), "-o", str(tmp_path / "next.csv")]  # fmt: skip
    assert CliRunner().invoke(app, arguments).exit_code == 0
    assert pl.read_csv(tmp_path / "next.csv").height == 6
    frame.head(60).write_csv(tmp_path / "short.csv")
    short = CliRunner().invoke(app, [*arguments[:5], str(tmp_path / "short.csv"), "-o", str(tmp_path / "n2.csv")])
    assert short.exit_code == 2 and "fewer than the model's lookback of 72" in short.stderr


def test_online_forecasting_refuses_a_bidirectional_backbone(tmp_path):
    hours = np.arange(300)
    pl.DataFrame({"time": np.datetime64("2023-03-01T00:00", "ms") + hours * np.timedelta64(3_600_000, "ms"),
                  "load": np.sin(hours / 24)}).write_csv(tmp_path / "series.csv")  # fmt: skip
    overrides = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2",
                 f"data.path={tmp_path / 'series.csv'}", "data.lookback=24", "data.horizon=6", "features.history=2",
                 "model.backbone.bidirectional=true"]  # fmt: skip
    pipeline = Pipeline.from_yaml("forecast-csv", overrides)
    assert len(pipeline.splits.train) > 0  # the model is built after the data is read
    with pytest.raises(SpecError, match=r"forecast-csv.*a bidirectional backbone has none"):
        _ = pipeline.module
