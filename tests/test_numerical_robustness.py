"""Numbers that break careless code: constant series, huge magnitudes, all-N sequences, and bf16 memories
streaming a long way. Each ends in finite metrics and predictions."""

import math

import numpy as np
import polars as pl
import torch

from titans.core import NeuralMemory, titans_lmm
from titans.pipelines import Pipeline

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "train.max_epochs=1"]


def test_a_constant_column_and_huge_magnitudes_forecast_finitely(tmp_path):
    hours = np.arange(400)
    frame = pl.DataFrame({
        "time": np.datetime64("2024-01-01T00:00", "ms") + hours * np.timedelta64(3_600_000, "ms"),
        "flat": np.full(400, 7.0),  # zero variance: the scaler and RevIN must not divide by zero
        "huge": 3e9 + 1e8 * np.sin(hours / 24 * 2 * np.pi),
    })  # fmt: skip
    frame.write_csv(tmp_path / "series.csv")
    overrides = [*SMALL, f"data.path={tmp_path / 'series.csv'}", "data.lookback=48", "data.horizon=12",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    result = Pipeline.from_yaml("forecast-csv", overrides).run()
    assert all(math.isfinite(value) for value in result.metrics.values()), result.metrics
    forecasts = pl.read_csv(tmp_path / "run" / "predictions" / "test.csv")
    flat = forecasts.filter(pl.col("column") == "flat")["value"]
    assert np.isfinite(forecasts["value"].to_numpy()).all() and (flat - 7.0).abs().max() < 1.0


def test_all_n_sequences_classify_finitely(tmp_path):
    records = [f">s{i} label={'a' if i % 2 else 'b'}\n{('ACGT' if i % 2 else 'TTGA') * 8}\n" for i in range(60)]
    records += [f">n{i} label={'a' if i % 2 else 'b'}\n{'N' * 32}\n" for i in range(6)]
    (tmp_path / "train.fa").write_text("".join(records))
    (tmp_path / "new.fa").write_text(">unknown\n" + "N" * 40 + "\n>short\nN\n")
    overrides = [*SMALL, f"data.train={tmp_path / 'train.fa'}", "data.val_fraction=0.25",
                 f"output.dir={tmp_path / 'run'}"]  # fmt: skip
    pipeline = Pipeline.from_yaml("genomics-fasta", overrides)
    result = pipeline.run()
    assert all(math.isfinite(value) for value in result.metrics.values()), result.metrics
    pipeline.predict(result.checkpoint, tmp_path / "new.fa", tmp_path / "p.csv")
    probabilities = pl.read_csv(tmp_path / "p.csv").select("p_a", "p_b").to_numpy()
    assert np.isfinite(probabilities).all() and np.allclose(probabilities.sum(1), 1.0, atol=1e-5)


def test_a_bf16_memory_streams_65536_tokens_finitely():
    torch.manual_seed(0)
    mem = NeuralMemory(titans_lmm(32, heads=2)).to(torch.bfloat16)
    state = None
    with torch.no_grad():
        for _ in range(16):
            y, state = mem(torch.randn(1, 4096, 32, dtype=torch.bfloat16), state=state)
            assert torch.isfinite(y).all()
    assert all(torch.isfinite(m).all() for m in state.memory)
