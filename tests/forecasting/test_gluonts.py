"""TitansEstimator trains on a GluonTS dataset, and GluonTS's own evaluation reads its forecasts."""

import numpy as np
import pandas as pd
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import Evaluator, make_evaluation_predictions
from gluonts.model.forecast import QuantileForecast

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
