"""Online forecasting on the ETT protocol: the same Titans pipeline trained without history (the plain
model) and with `features.history` (its memory reads earlier rows before each window), for the same
wall-clock budget; the second reports its own frozen mode too, so one run shows what memorising the
recent past at test time adds.

    TITANS_DATA_DIR=../shared/data python benchmarks/forecast_online.py --dataset ETTh1 --horizon 96 --minutes 3
"""

from __future__ import annotations

import argparse

from titans.pipelines import Pipeline


def run(dataset: str, horizon: int, minutes: float, history: int) -> dict[str, float]:
    overrides = [f"data.name={dataset}", f"data.horizon={horizon}", f"train.max_minutes={minutes}",
                 "train.max_epochs=100", f"features.history={history}", "output.predictions=false",
                 "output.plots=false", f"output.dir=runs/benchmark-online-{dataset}-{horizon}-h{history}"]  # fmt: skip
    return Pipeline.from_yaml("forecast-ett", overrides).run().metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ETTh1")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--history", type=int, default=2, help="lookbacks of history the memory reads")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget per run")
    args = parser.parse_args()
    plain = run(args.dataset, args.horizon, args.minutes, 0)
    online = run(args.dataset, args.horizon, args.minutes, args.history)
    rows = [
        ("no history (plain)", plain["test/mse"], plain["test/mae"]),
        (f"history {args.history}, frozen (empty memory)", online["test/frozen/mse"], online["test/frozen/mae"]),
        (f"history {args.history}, online (memory read the past)", online["test/mse"], online["test/mae"]),
    ]
    print(f"\n{args.dataset} H={args.horizon}, lookback 96, {args.minutes:g} min per run (standardised scale)")
    print("| model | test MSE | test MAE | MSE / plain |")
    print("|---|---|---|---|")
    for name, mse, mae in rows:
        print(f"| {name} | {mse:.3f} | {mae:.3f} | {mse / plain['test/mse']:.3f} |")


if __name__ == "__main__":
    main()
