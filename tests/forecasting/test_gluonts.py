"""TitansEstimator trains on a GluonTS dataset, and GluonTS's own evaluation reads its forecasts: quantile
forecasts, and with the distribution head, DistributionForecasts trained by negative log-likelihood."""

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import Evaluator, make_evaluation_predictions
from gluonts.model.forecast import QuantileForecast
from gluonts.torch.model.forecast import DistributionForecast

from titans.forecasting.gluonts_estimator import TitansEstimator


def test_estimator_trains_and_gluonts_evaluates_its_forecasts(tmp_path):
    hours = np.arange(400)
    items = [{"start": pd.Period("2024-01-01 00:00", freq="h"), "target": np.sin(2 * np.pi * hours / 24 + k)}
             for k in range(3)]  # fmt: skip
    train = ListDataset([{**item, "target": item["target"][:-12]} for item in items], freq="h")
    test = ListDataset(items, freq="h")
    estimator = TitansEstimator(
        prediction_length=12, context_length=48, backbone_options={"dim": 16, "depth": 1, "heads": 2, "window": 8},
        batch_size=16, num_batches_per_epoch=5, trainer_kwargs={"max_epochs": 2, "enable_progress_bar": False,
                                                                "logger": False, "default_root_dir": tmp_path},
    )  # fmt: skip
    predictor = estimator.train(train)
    forecasts, series = make_evaluation_predictions(test, predictor)
    forecasts, series = list(forecasts), list(series)
    assert len(forecasts) == 3 and all(isinstance(f, QuantileForecast) for f in forecasts)
    assert forecasts[0].quantile(0.5).shape == (12,)
    aggregate, _ = Evaluator(quantiles=[0.1, 0.5, 0.9])(series, forecasts)
    assert np.isfinite(aggregate["MSE"]) and np.isfinite(aggregate["mean_wQuantileLoss"])


def _noisy_sines(items: int, length: int, noise: float) -> list[dict]:
    rng, hours = np.random.default_rng(0), np.arange(length)
    return [{"start": pd.Period("2024-01-01 00:00", freq="h"),
             "target": np.sin(2 * np.pi * hours / 24 + k) + noise * rng.normal(size=length)}
            for k in range(items)]  # fmt: skip


def _train_and_forecast(family: str, epochs: int, tmp_path) -> tuple[list, list]:
    torch.manual_seed(0)
    np.random.seed(0)  # GluonTS's instance sampler draws from numpy's global generator
    items = _noisy_sines(20, 300, 0.3)
    train = ListDataset([{**item, "target": item["target"][:-12]} for item in items], freq="h")
    estimator = TitansEstimator(
        prediction_length=12, context_length=48, backbone_options={"dim": 16, "depth": 1, "heads": 2, "window": 8},
        distribution=family, lr=1e-2, batch_size=32, num_batches_per_epoch=10,
        trainer_kwargs={"max_epochs": epochs, "enable_progress_bar": False, "logger": False,
                        "default_root_dir": tmp_path},
    )  # fmt: skip
    forecasts, series = make_evaluation_predictions(ListDataset(items, freq="h"), estimator.train(train))
    return list(forecasts), list(series)


@pytest.mark.parametrize("family", ["student_t", "normal"])
def test_distribution_forecasts_have_ordered_quantiles_and_finite_gluonts_metrics(family, tmp_path):
    forecasts, series = _train_and_forecast(family, 1, tmp_path)
    assert len(forecasts) == 20 and all(isinstance(f, DistributionForecast) for f in forecasts)
    assert forecasts[0].mean.shape == (12,) and forecasts[0].to_sample_forecast(50).samples.shape == (50, 12)
    for forecast in forecasts:
        low, median, high = (forecast.quantile(level) for level in (0.1, 0.5, 0.9))
        assert low.shape == (12,) and (low <= median).all() and (median <= high).all() and (low < high).all()
    aggregate, _ = Evaluator(quantiles=[0.1, 0.5, 0.9], num_workers=0)(series, forecasts)
    assert all(np.isfinite(aggregate[key]) for key in ("MSE", "mean_wQuantileLoss", "Coverage[0.1]"))


def test_student_t_forecasts_cover_a_noisy_sine_about_as_often_as_they_say(tmp_path):
    forecasts, series = _train_and_forecast("student_t", 3, tmp_path)
    truth = np.stack([s.to_numpy().ravel()[-12:] for s in series])  # [20, 12]
    low = np.stack([f.quantile(0.1) for f in forecasts])
    high = np.stack([f.quantile(0.9) for f in forecasts])
    inside = ((low <= truth) & (truth <= high)).mean()
    assert 0.6 < inside < 0.95, inside  # the 80% interval; a scale off by 2x either way leaves this range
    aggregate, _ = Evaluator(quantiles=[0.1, 0.5, 0.9], num_workers=0)(series, forecasts)
    assert aggregate["MSE"] < 0.3 and aggregate["mean_wQuantileLoss"] < 0.4  # noise variance 0.09


def test_an_unknown_distribution_is_refused():
    with pytest.raises(ValueError, match=r"distribution='gamma': choose one of \['normal', 'student_t'\] or None"):
        TitansEstimator(prediction_length=12, distribution="gamma")
