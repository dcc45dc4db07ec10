"""TitansEstimator trains on a GluonTS dataset, and GluonTS's own evaluation reads its forecasts: quantile
forecasts, and with the distribution head, DistributionForecasts trained by negative log-likelihood; with
num_feat_dynamic_real it reads GluonTS's feat_dynamic_real over the lookback and the horizon."""

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import Evaluator, make_evaluation_predictions
from gluonts.model.forecast import QuantileForecast
from gluonts.torch.model.forecast import DistributionForecast

from titans.forecasting.gluonts_estimator import TitansEstimator
from titans.pipelines import InputError


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


START = pd.Period("2024-01-01 00:00", freq="h")
SMALL = {"dim": 16, "depth": 1, "heads": 2, "window": 8}


def _driven_by_a_known_feature(items: int, length: int) -> list[dict]:
    """target_t = 3 z_t + noise with z random: only z at step t tells the target at step t."""
    rng, entries = np.random.default_rng(0), []
    for _ in range(items):
        z = rng.normal(size=length)
        entries.append({"start": START, "target": 3 * z + 0.1 * rng.normal(size=length), "feat_dynamic_real": z[None]})
    return entries


def _mse_and_forecasts(features: int, distribution: str | None, tmp_path) -> tuple[float, list]:
    torch.manual_seed(0)
    np.random.seed(0)  # GluonTS's instance sampler draws from numpy's global generator
    items = _driven_by_a_known_feature(10, 200)
    train = ListDataset(
        [{**item, "target": item["target"][:-12], "feat_dynamic_real": item["feat_dynamic_real"][:, :-12]}
         for item in items], freq="h",
    )  # fmt: skip
    estimator = TitansEstimator(
        prediction_length=12, context_length=48, backbone_options=SMALL, distribution=distribution,
        num_feat_dynamic_real=features, lr=1e-2, batch_size=32, num_batches_per_epoch=25,
        trainer_kwargs={"max_epochs": 4, "enable_progress_bar": False, "logger": False,
                        "default_root_dir": tmp_path},
    )  # fmt: skip
    forecasts, series = make_evaluation_predictions(ListDataset(items, freq="h"), estimator.train(train))
    forecasts, series = list(forecasts), list(series)
    aggregate, _ = Evaluator(quantiles=[0.1, 0.5, 0.9], num_workers=0)(series, forecasts)
    assert all(np.isfinite(aggregate[key]) for key in ("MSE", "mean_wQuantileLoss", "Coverage[0.1]"))
    return aggregate["MSE"], forecasts


def test_feat_dynamic_real_known_over_the_horizon_explains_the_target(tmp_path):
    with_feature, forecasts = _mse_and_forecasts(1, None, tmp_path)
    without_feature, _ = _mse_and_forecasts(0, None, tmp_path)
    assert all(isinstance(f, QuantileForecast) for f in forecasts)
    assert without_feature > 5  # the target's variance is 9: without z nothing predicts it
    assert with_feature < 0.3 * without_feature, (with_feature, without_feature)


def test_student_t_forecasts_read_feat_dynamic_real(tmp_path):
    mse, forecasts = _mse_and_forecasts(1, "student_t", tmp_path)
    assert all(isinstance(f, DistributionForecast) for f in forecasts)
    for forecast in forecasts:
        low, median, high = (forecast.quantile(level) for level in (0.1, 0.5, 0.9))
        assert (low <= median).all() and (median <= high).all() and (low < high).all()
    assert mse < 0.3 * 9, mse  # a forecast blind to z cannot beat the target's variance, 9


def test_both_parts_of_feat_dynamic_real_reach_the_network():
    estimator = TitansEstimator(
        prediction_length=12, context_length=48, backbone_options=SMALL, num_feat_dynamic_real=2
    )
    module = estimator.create_lightning_module().eval()
    past_target, observed = torch.randn(3, 48), torch.ones(3, 48)
    past, future = torch.randn(3, 48, 2), torch.randn(3, 12, 2)  # [B, L, F], [B, H, F]
    with torch.no_grad():
        reference = module(past_target, observed, past, future)[0][0]  # [B, H, Q]
        other_past = module(past_target, observed, torch.randn(3, 48, 2), future)[0][0]
        other_future = module(past_target, observed, past, torch.randn(3, 12, 2))[0][0]
    assert reference.shape == (3, 12, 3)
    assert not torch.allclose(reference, other_past) and not torch.allclose(reference, other_future)


def test_feat_dynamic_real_is_split_in_step_with_the_target_only_when_asked_for():
    items = _driven_by_a_known_feature(2, 120)
    fields = {"past_feat_dynamic_real", "future_feat_dynamic_real"}
    for features in (0, 1):
        estimator = TitansEstimator(prediction_length=12, context_length=48, backbone_options=SMALL,
                                    num_feat_dynamic_real=features)  # fmt: skip
        transformation, module = estimator.create_transformation(), estimator.create_lightning_module()
        loader = estimator.create_training_data_loader(transformation.apply(ListDataset(items, freq="h")), module)
        batch = next(iter(loader))
        predictor = estimator.create_predictor(transformation, module)
        assert (fields <= set(batch)) == (fields <= set(predictor.input_names)) == bool(features)
    assert batch["past_feat_dynamic_real"].shape == (32, 48, 1)  # [B, L, F]
    assert batch["future_feat_dynamic_real"].shape == (32, 12, 1)  # [B, H, F]
    for part in ("past", "future"):  # target = 3 z + noise 0.1 at every step (and both padded with zeros)
        assert (batch[f"{part}_target"] - 3 * batch[f"{part}_feat_dynamic_real"][..., 0]).abs().max() < 0.6
    history = [{**item, "target": item["target"][:-12]} for item in items]  # the features cover the horizon too
    instance = next(iter(predictor.input_transform.apply(ListDataset(history, freq="h"), is_train=False)))
    np.testing.assert_allclose(
        instance["future_feat_dynamic_real"][:, 0], items[0]["feat_dynamic_real"][0, -12:], rtol=1e-6
    )


def test_a_missing_feat_dynamic_real_stops_training_with_the_shape_expected(tmp_path):
    estimator = TitansEstimator(
        prediction_length=12, context_length=48, backbone_options=SMALL, num_feat_dynamic_real=1,
        trainer_kwargs={"max_epochs": 1, "enable_progress_bar": False, "logger": False, "default_root_dir": tmp_path},
    )  # fmt: skip
    train = ListDataset([{"start": START, "target": np.zeros(100), "item_id": "shop"}], freq="h")
    expected = (
        r"^feat_dynamic_real: item 'shop' has no such field; expected \[1, >= 100\] \(num_feat_dynamic_real=1 rows"
    )
    with pytest.raises(InputError, match=expected):
        estimator.train(train)


@pytest.mark.parametrize(
    ("features", "is_train", "message"),
    [
        (np.zeros((2, 100)), True, r"has shape \[2, 100\]; expected \[1, >= 100\]"),
        (np.zeros((1, 90)), True, r"has shape \[1, 90\]; expected \[1, >= 100\]"),
        (np.zeros((1, 100)), False, r"has shape \[1, 100\]; expected \[1, >= 112\] .*prediction_length=12 ahead"),
        (np.full((1, 100), np.nan), True, "has NaN or infinite values"),
    ],
)
def test_a_feat_dynamic_real_of_the_wrong_shape_is_refused(features, is_train, message):
    estimator = TitansEstimator(prediction_length=12, num_feat_dynamic_real=1)
    entry = {"start": START, "target": np.zeros(100), "feat_dynamic_real": features}
    with pytest.raises(InputError, match=r"^feat_dynamic_real: the item starting 2024-01-01 00:00 " + message):
        list(estimator.create_transformation().apply([entry], is_train=is_train))
