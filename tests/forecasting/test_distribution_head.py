"""The distribution head: its quantiles and CRPS against scipy, RevIN's restoring of its parameters, and
training by negative log-likelihood."""

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from titans.core import build_backbone
from titans.forecasting.heads import distribution
from titans.forecasting.metrics import crps
from titans.forecasting.model import Forecaster, patches
from titans.pipelines import SpecError

# one forecast per row of [df, loc, scale] (Student-t) and its target
STUDENT_T = torch.tensor([[[[3.0, 0.0, 1.0]]], [[[2.5, 1.0, 2.0]]], [[[30.0, -1.0, 0.5]]]], dtype=torch.float64)
TARGETS = torch.tensor([[[0.5]], [[-3.0]], [[-0.8]]], dtype=torch.float64)  # [N, H=1, C=1]


def _head(family: str, quantiles=None):
    return distribution(1, 4, 1, 1, family=family, quantiles=quantiles)


def _numerical_crps(cdf, target: float) -> float:
    """CRPS = the integral of (F(x) - 1[x >= y])^2 over x."""
    below = scipy.integrate.quad(lambda x: cdf(x) ** 2, -np.inf, target, limit=200)[0]
    return below + scipy.integrate.quad(lambda x: (1 - cdf(x)) ** 2, target, np.inf, limit=200)[0]


def test_student_t_quantiles_and_crps_match_scipy():
    head = _head("student_t", [0.05, 0.5, 0.9])
    quantiles = head.quantile_forecasts(STUDENT_T)  # [N, 1, 1, Q]
    for (df, loc, scale), row, target, exact in zip(
        STUDENT_T[:, 0, 0].tolist(), quantiles[:, 0, 0], TARGETS.flatten().tolist(), head.crps(STUDENT_T, TARGETS)
    ):
        expected = scipy.stats.t.ppf([0.05, 0.5, 0.9], df, loc, scale)
        assert row.tolist() == pytest.approx(expected.tolist(), rel=1e-6)
        reference = _numerical_crps(lambda x, df=df, loc=loc, scale=scale: scipy.stats.t.cdf(x, df, loc, scale), target)
        assert exact.item() == pytest.approx(reference, rel=1e-6)


def test_normal_quantiles_and_crps_match_scipy():
    head = _head("normal")
    parameters = STUDENT_T[..., 1:]  # [loc, scale]
    quantiles = head.quantile_forecasts(parameters)[:, 0, 0]
    exact = head.crps(parameters, TARGETS).flatten()
    for (loc, scale), row, target, value in zip(parameters[:, 0, 0].tolist(), quantiles, TARGETS.flatten(), exact):
        assert row.tolist() == pytest.approx(scipy.stats.norm.ppf([0.1, 0.5, 0.9], loc, scale).tolist(), rel=1e-6)
        reference = _numerical_crps(lambda x, loc=loc, scale=scale: scipy.stats.norm.cdf(x, loc, scale), target.item())
        assert value.item() == pytest.approx(reference, rel=1e-6)


def test_restoring_the_scale_moves_the_distribution_affinely():
    head = _head("student_t")
    factor, shift = torch.tensor([[[2.0]]], dtype=torch.float64), torch.tensor([[[5.0]]], dtype=torch.float64)
    restored = head.restore(STUDENT_T[:1], factor, shift)
    assert restored[0, 0, 0].tolist() == [3.0, 5.0, 2.0]  # df kept, loc 0 * 2 + 5, scale 1 * 2
    assert torch.allclose(head.quantile_forecasts(restored), head.quantile_forecasts(STUDENT_T[:1]) * 2 + 5)


def test_crps_metric_weights_the_exact_crps_by_the_targets():
    outputs = {"crps": torch.tensor([[[1.0, 3.0]]]), "target": torch.tensor([[[2.0, -6.0]]])}
    assert crps(outputs) == pytest.approx(4 / 8)


def test_the_head_learns_a_noisy_sine_by_negative_log_likelihood():
    torch.manual_seed(0)
    steps = torch.arange(2000, dtype=torch.float32)
    series = torch.sin(2 * np.pi * steps / 24) + 0.3 * torch.randn(2000)
    starts = torch.randint(0, 2000 - 36, (256,))
    windows = torch.stack([series[start : start + 36] for start in starts])[..., None]  # [256, 36, 1]
    x, y = windows[:, :24], windows[:, 24:]
    backbone = build_backbone("mag", dim=16, depth=1, heads=2, window=8, chunk_size=4)
    features = patches(16, 24, 1, patch_length=8, stride=4)
    model = Forecaster(features, backbone, distribution(features.tokens, 16, 12, 1))
    before = model.head.loss(model(x), y).mean().item()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        optimizer.zero_grad()
        model.head.loss(model(x), y).mean().backward()
        optimizer.step()
    with torch.no_grad():
        forecast = model(x)
        after = model.head.loss(forecast, y).mean().item()
        quantiles = model.head.quantile_forecasts(forecast)  # [B, H, 1, 3]
    assert after < before - 0.5, (before, after)
    assert (quantiles[..., 0] <= quantiles[..., 1]).all() and (quantiles[..., 1] <= quantiles[..., 2]).all()
    inside = ((quantiles[..., 0] <= y) & (y <= quantiles[..., 2])).float().mean().item()
    assert 0.6 < inside < 0.95  # an 80% interval covers roughly 80% of the truth


def test_bad_distribution_options():
    with pytest.raises(SpecError, match="need one or more values in"):
        _head("normal", [0.5, 1.5])
