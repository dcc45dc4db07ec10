"""Passkey recall against context length for every kind of backbone, trained alike (the `niah` pipeline:
same width, depth, attention window, data and number of steps), in one run.

    python benchmarks/niah.py --backbones mag mac mal swa transformer gated-deltanet
    python benchmarks/niah.py --backbones mag swa --seeds 0 1 2       # mean and range over seeds

Prints recall (percent of passkeys recalled exactly) at each evaluation length, the attention window
multiple beside it, and writes one plot of all curves to runs/benchmark-niah/recall.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from titans.pipelines import Pipeline
from titans.pipelines.outputs import save_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backbones", nargs="+", default=["mag", "mac", "mal", "lmm", "swa", "transformer", "gated-deltanet"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="train each backbone once per seed")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="extra overrides for every run")
    args = parser.parse_args()
    out = Path("runs/benchmark-niah")
    curves, seconds = {}, {}
    for name in args.backbones:
        started, runs = time.perf_counter(), []
        for seed in args.seeds:
            overrides = [f"model.backbone.name={name}", f"train.seed={seed}", f"output.dir={out / name}",
                         *args.overrides]  # fmt: skip
            pipeline = Pipeline.from_yaml("niah", overrides)
            metrics = pipeline.run().metrics
            runs.append(
                {int(key.split("@")[1]): value for key, value in metrics.items() if key.startswith("test/recall@")}
            )
        window = pipeline.spec.model.backbone.options.get("window", 64)
        curves[name] = {n: [run[n] for run in runs] for n in runs[0]}  # recall per length, one value per seed
        seconds[name] = (time.perf_counter() - started) / len(args.seeds)
        print(f"{name}: {seconds[name]:.0f} s per seed, {pipeline.module.model.backbone.num_parameters:,} parameters")
    lengths = sorted(next(iter(curves.values())))
    spread = len(args.seeds) > 1
    print(f"\nrecall %{' (mean, min-max over seeds ' + str(args.seeds) + ')' if spread else ''}")
    print(f"| backbone | {' | '.join(f'{n} ({n // window}x window)' for n in lengths)} | train time |")
    print("|---|" + "---|" * (len(lengths) + 1))
    for name, curve in curves.items():
        cells = [f"{np.mean(curve[n]):.0f}" + (f" ({min(curve[n]):.0f}-{max(curve[n]):.0f})" if spread else "")
                 for n in lengths]  # fmt: skip
        print(f"| {name} | {' | '.join(cells)} | {seconds[name]:.0f} s |")
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        axis.plot(lengths, [np.mean(curve[n]) for n in lengths], marker="o", label=name)
        if spread:
            axis.fill_between(lengths, [min(curve[n]) for n in lengths], [max(curve[n]) for n in lengths], alpha=0.15)
    axis.set(xscale="log", xlabel="context length (characters)", ylabel="recall (%)", ylim=(-2, 102))
    axis.set_xticks(lengths, [str(n) for n in lengths])
    axis.axvline(window, color="0.6", linestyle=":", label="attention window")
    axis.legend(fontsize=8)
    save_figure(figure, out / "recall.png")
    print(f"plot: {out / 'recall.png'}")


if __name__ == "__main__":
    main()
