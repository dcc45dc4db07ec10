"""Forecast metrics against hand-computed values."""

import pytest
import torch

from titans.forecasting.metrics import crps, mae, mase, mse, quantile_loss, smape


def _outputs(prediction, target, **extra):
    n, _, c = target.shape
    return {"prediction": prediction, "target": target, "mean": torch.zeros(n, c), "scale": torch.ones(n, c), **extra}


def test_mse_mae_smape():
    target = torch.tensor([[[1.0], [2.0]]])
    prediction = torch.tensor([[[2.0], [2.0]]])
    outputs = _outputs(prediction, target)
    assert mse(outputs) == pytest.approx(0.5) and mae(outputs) == pytest.approx(0.5)
    assert smape(outputs) == pytest.approx((200 * 1 / 3 + 0) / 2)
    assert smape(_outputs(target, target)) == 0


def test_mase_divides_by_the_naive_error():
    target = torch.zeros(1, 4, 1)
    outputs = _outputs(torch.full((1, 4, 1), 2.0), target, naive_scale=torch.full((1, 1), 4.0))
    assert mase(outputs) == pytest.approx(0.5)


def test_crps_of_a_point_mass_at_the_truth_is_zero_and_grows_with_error():
    target = torch.ones(2, 3, 1)
    levels = torch.tensor([0.1, 0.5, 0.9]).expand(2, -1)
    exact = {"target": target, "quantiles": target[..., None].expand(-1, -1, -1, 3), "quantile_levels": levels}
    assert crps(exact) == 0
    off = dict(exact, quantiles=exact["quantiles"] + 1)
    assert crps(off) > 0


def test_pinball_loss():
    loss = quantile_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1.0]), torch.tensor([0.1, 0.9]))
    assert loss[0].tolist() == pytest.approx([0.1, 0.9])
