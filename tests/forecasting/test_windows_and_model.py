"""Splits, scaling and windows follow the benchmark protocol; the network's shapes and normalisation; the
heads' step weighting."""

import numpy as np
import pytest
import torch

from titans.core import build_backbone
from titans.forecasting import RevIN, Windows, ett_borders, ratio_borders, scaled_windows
from titans.forecasting.heads import distribution, linear
from titans.forecasting.model import Forecaster, patches, steps
from titans.pipelines import InputError, SpecError


def test_ett_borders_are_the_standard_ones():
    assert ett_borders(1).test == (11520, 14400) and ett_borders(4).val == (34560, 46080)
    assert ratio_borders(1000).train == (0, 700) and ratio_borders(1000).test == (800, 1000)


def test_validation_windows_start_lookback_rows_before_their_split():
    values = np.arange(100, dtype=np.float32)[:, None]
    windows = Windows(values, 60, 80, lookback=10, horizon=5)
    x, y, origin, inputs, known = windows[0]
    assert origin == 60 and x[:, 0].tolist() == list(range(50, 60)) and y[:, 0].tolist() == list(range(60, 65))
    assert int(windows.origins[-1]) == 75  # the last forecast ends at the split's end
    assert inputs.shape == (10, 0) and known.shape == (5, 0)  # no covariates or calendar features


def test_the_scaler_sees_only_the_training_rows():
    values = np.concatenate([np.zeros((70, 1)), np.full((30, 1), 100.0)]).astype(np.float32)
    values[:70:2] = 1.0
    scaler, splits = scaled_windows(values, ratio_borders(100), lookback=5, horizon=2, source="s")
    assert scaler.mean_[0] == pytest.approx(0.5)
    assert splits["train"].values[:70].mean().item() == pytest.approx(0.0, abs=1e-6)


def test_a_split_too_short_for_the_windows_is_an_error():
    with pytest.raises(InputError, match=r"the val split .* too short for lookback 96"):
        scaled_windows(np.random.rand(200, 2), ratio_borders(200), lookback=96, horizon=24, source="s.csv")


def test_revin_round_trips():
    revin = RevIN(3)
    x = torch.randn(4, 20, 3) * 5 + 2
    normalized, stats = revin.normalize(x)
    assert normalized.mean(dim=1).abs().max() < 1e-5
    assert torch.allclose(revin.denormalize(normalized[..., None], stats)[..., 0], x, atol=1e-4)


@pytest.mark.parametrize("featurizer", ["patches", "steps"])
@pytest.mark.parametrize("quantiles", [None, [0.1, 0.5, 0.9]])
def test_forecaster_shapes(featurizer, quantiles):
    backbone = build_backbone("mag", dim=16, depth=1, heads=2, window=8, chunk_size=4)
    features = patches(16, 48, 3, patch_length=8, stride=4) if featurizer == "patches" else steps(16, 48, 3)
    head = linear(features.tokens, 16, 12, 1 if features.channel_independent else 3, quantiles=quantiles)
    forecast = Forecaster(features, backbone, head)(torch.randn(2, 48, 3))
    assert forecast.shape == (2, 12, 3, 3 if quantiles else 1)


def test_bad_head_and_featurizer_options():
    with pytest.raises(SpecError, match="quantiles"):
        linear(4, 16, 12, 1, quantiles=[0.1, 0.9])
    with pytest.raises(SpecError, match=r"patch_length=64 is longer than data\.lookback=48"):
        patches(16, 48, 3, patch_length=64)
    with pytest.raises(SpecError, match=r"model\.head\.step_decay=-0\.5"):
        distribution(4, 16, 12, 1, step_decay=-0.5)
    with pytest.raises(SpecError, match=r"model\.head\.step_decay=3"):
        linear(4, 16, 12, 1, step_decay=3)  # both heads check it where the weights are built
    with pytest.raises(SpecError, match=r"model\.head\.dropout=1\.0"):
        distribution(4, 16, 12, 1, dropout=1.0)


@pytest.mark.parametrize("head", [linear, distribution])
def test_head_dropout_acts_in_training_only(head):
    """Dropout on the flattened tokens: training outputs vary from call to call, evaluation's equal a head
    without dropout that has the same weights."""
    torch.manual_seed(0)
    plain, dropped = head(4, 8, 6, 1), head(4, 8, 6, 1, dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    h = torch.randn(3, 4, 8)  # [B, N, dim]
    assert not torch.equal(dropped(h), dropped(h))
    dropped.eval()
    assert torch.equal(dropped(h), plain(h))


@pytest.mark.parametrize("head", [linear, distribution])
def test_step_decay_weights_the_training_loss_by_step(head):
    """Step k's loss counts k^-d times (mean weight 1) in training; validation's loss weights every step alike."""
    torch.manual_seed(0)
    horizon = 5
    plain, decayed = head(4, 8, horizon, 1), head(4, 8, horizon, 1, step_decay=0.5)
    decayed.load_state_dict(plain.state_dict())
    y = plain(torch.randn(6, 4, 8))  # [B, H, 1, P]
    target = torch.randn(6, horizon, 1)
    assert torch.equal(plain.training_loss(y, target), plain.loss(y, target))
    assert torch.equal(decayed.loss(y, target), plain.loss(y, target))
    weights = torch.arange(1.0, horizon + 1) ** -0.5
    by_step = plain.step_loss(y, target)  # [B, H]
    expected = (by_step * weights).sum(dim=1) / weights.sum()
    assert torch.allclose(decayed.training_loss(y, target), expected)
