"""ETT long-horizon benchmark: Titans (forecast-ett pipeline) vs GluonTS's DLinear and PatchTST and a
seasonal-naive forecast, each trained for the same wall-clock budget, scored on the same test windows
under the standard protocol (ETT borders, train-only scaling, MSE/MAE on the standardised scale).

    TITANS_DATA_DIR=../shared/data python benchmarks/forecast_ett.py --datasets ETTh1 --horizons 96 --minutes 2

Prints the MSE/MAE table and each model's MSE ratio to Titans. Test windows are taken every `--stride`
rows (1 = the protocol; larger strides make the peers' GluonTS prediction loop affordable on a CPU).
`--seeds 0 1` trains every model once per seed (Titans through `train.seed`, the peers through Lightning's
`seed_everything`) and adds each model's mean over the horizons per seed, so the spread is in view.
`--lookback` (96, the protocol of the issue and of iTransformer's tables) gives every model the same longer
history, as DLinear's (336) and PatchTST's (512) own published tables do.
"""

from __future__ import annotations

import argparse
import time

import lightning
import numpy as np
import torch
from gluonts.dataset.common import ListDataset
from gluonts.torch.model.d_linear import DLinearEstimator
from gluonts.torch.model.patch_tst import PatchTSTEstimator
from set_option import add_set_option

from titans.forecasting import scaled_windows
from titans.pipelines import Pipeline, lookup
from titans.pipelines.engine import load_checkpoint


def test_windows(values: np.ndarray, start: int, end: int, lookback: int, horizon: int, stride: int):
    origins = np.arange(start, end - horizon + 1, stride)
    x = np.stack([values[o - lookback : o] for o in origins])  # [W, L, C]
    y = np.stack([values[o : o + horizon] for o in origins])  # [W, H, C]
    return x, y


def scores(prediction: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    return float(((prediction - target) ** 2).mean()), float(np.abs(prediction - target).mean())


def titans_forecasts(
    name: str, horizon: int, minutes: float, x: np.ndarray, run_dir: str, extra: list[str]
) -> np.ndarray:
    overrides = [f"data.name={name}", f"data.horizon={horizon}", f"train.max_minutes={minutes}", "train.max_epochs=100",
                 f"output.dir={run_dir}", "output.predictions=false", "output.plots=false", *extra]  # fmt: skip
    pipeline = Pipeline.from_yaml("forecast-ett", overrides)
    pipeline.run()
    pipeline.module.load_state_dict(load_checkpoint(pipeline.output_dir / "checkpoints" / "best.ckpt")["state_dict"])
    model = pipeline.module.model.eval()
    with torch.no_grad():
        chunks = np.array_split(x, max(1, len(x) // 256))
        batches = [model.head.point(model(torch.from_numpy(chunk))).numpy() for chunk in chunks]  # [W, H, C]
    return np.concatenate(batches)


def gluonts_forecasts(
    estimator_class, train: np.ndarray, x: np.ndarray, horizon: int, minutes: float, seed: int, **kwargs
) -> np.ndarray:
    """Channel-independent, as the peers are run in the literature: every column is an item."""
    lightning.seed_everything(seed, verbose=False)
    start = "2016-07-01 00:00"
    items = [{"start": start, "target": train[:, column]} for column in range(train.shape[1])]
    estimator = estimator_class(
        prediction_length=horizon,
        context_length=x.shape[1],
        batch_size=128,
        num_batches_per_epoch=100,
        trainer_kwargs={"max_time": {"minutes": minutes}, "max_epochs": 1000, "enable_progress_bar": False,
                        "logger": False, "default_root_dir": "runs/benchmark-gluonts"},
        **kwargs,
    )  # fmt: skip
    predictor = estimator.train(ListDataset(items, freq="h"))
    windows = [{"start": start, "target": window[:, column]} for window in x for column in range(x.shape[2])]
    forecasts = predictor.predict(ListDataset(windows, freq="h"))
    medians = np.stack([forecast.quantile(0.5) for forecast in forecasts])  # [W * C, H]
    return medians.reshape(len(x), x.shape[2], horizon).transpose(0, 2, 1)


def seasonal_naive(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    last = x[:, -season:]  # [W, season, C]
    return np.concatenate([last] * (horizon // season + 1), axis=1)[:, :horizon]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["ETTh1"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[96])
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per model")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--lookback", type=int, default=96, help="rows of history every model reads")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="train every model once per seed")
    add_set_option(parser, "extra overrides for the Titans model")
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        for horizon in args.horizons:
            data = lookup("dataset", name)(lookback=args.lookback, horizon=horizon)
            _, windows = scaled_windows(data.series.values, data.borders, args.lookback, horizon, name)
            values = windows["test"].values.numpy()  # the whole series, standardised with train statistics
            x, y = test_windows(values, *data.borders.test, args.lookback, horizon, args.stride)
            train = values[slice(*data.borders.train)]
            for seed in args.seeds:
                started = time.perf_counter()
                run_dir = f"runs/benchmark-{name}-{horizon}-seed{seed}"
                titans_overrides = [*args.overrides, f"train.seed={seed}", f"data.lookback={args.lookback}"]
                results = {"titans (mag)": titans_forecasts(name, horizon, args.minutes, x, run_dir, titans_overrides)}
                peer = (train, x, horizon, args.minutes, seed)
                results["DLinear (gluonts)"] = gluonts_forecasts(DLinearEstimator, *peer)
                results["PatchTST (gluonts)"] = gluonts_forecasts(PatchTSTEstimator, *peer, patch_len=16, stride=8)
                results["seasonal naive"] = seasonal_naive(x, horizon, data.season)
                reference = scores(results["titans (mag)"], y)[0]
                for model, prediction in results.items():
                    mse_value, mae_value = scores(prediction, y)
                    rows.append((name, horizon, seed, model, mse_value, mae_value, mse_value / reference))
                elapsed = time.perf_counter() - started
                print(f"{name} H={horizon} seed {seed}: {len(x)} test windows, {elapsed:.0f} s", flush=True)
    print(
        f"\n| dataset | horizon | seed | model | MSE | MAE | MSE / titans |  "
        f"(budget {args.minutes} min per model, lookback {args.lookback})"
    )
    print("|---|---|---|---|---|---|---|")
    for name, horizon, seed, model, mse_value, mae_value, ratio in rows:
        print(f"| {name} | {horizon} | {seed} | {model} | {mse_value:.3f} | {mae_value:.3f} | {ratio:.2f} |")
    print_means(rows)


def print_means(rows: list[tuple]) -> None:
    """The protocol's headline: per dataset and model, the mean MSE/MAE over the horizons (and seeds) that were
    run, and with several seeds the mean MSE of each seed."""
    seeds = list(dict.fromkeys(row[2] for row in rows))
    per_seed = " | " + " | ".join(f"seed {seed}" for seed in seeds) if len(seeds) > 1 else ""
    print(f"\n| dataset | model | runs | mean MSE | mean MAE | mean MSE / titans{per_seed} |")
    print("|---|---|---|---|---|---|" + "---|" * (len(seeds) if per_seed else 0))
    for name in dict.fromkeys(row[0] for row in rows):
        mine = [row for row in rows if row[0] == name]
        reference = np.mean([row[4] for row in mine if row[3] == "titans (mag)"])
        for model in dict.fromkeys(row[3] for row in mine):
            runs = [row for row in mine if row[3] == model]
            mse_value, mae_value = np.mean([row[4] for row in runs]), np.mean([row[5] for row in runs])
            ratio = mse_value / reference
            line = f"| {name} | {model} | {len(runs)} | {mse_value:.3f} | {mae_value:.3f} | {ratio:.2f} |"
            if per_seed:
                line += "".join(f" {np.mean([row[4] for row in runs if row[2] == seed]):.3f} |" for seed in seeds)
            print(line)


if __name__ == "__main__":
    main()
