"""Passkey recall against context length for every kind of backbone, trained alike (the `niah` pipeline:
same width, depth, attention window, data and number of steps), in one run.

    python benchmarks/niah.py --backbones mag mac mal swa transformer gated-deltanet

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

from titans.pipelines import Pipeline
from titans.pipelines.outputs import save_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backbones", nargs="+", default=["mag", "mac", "mal", "lmm", "swa", "transformer", "gated-deltanet"]
    )
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="extra overrides for every run")
    args = parser.parse_args()
    out = Path("runs/benchmark-niah")
    curves, seconds = {}, {}
    for name in args.backbones:
        started = time.perf_counter()
        overrides = [f"model.backbone.name={name}", f"output.dir={out / name}", *args.overrides]
        pipeline = Pipeline.from_yaml("niah", overrides)
        metrics = pipeline.run().metrics
        window = pipeline.spec.model.backbone.options.get("window", 64)
        curves[name] = {
            int(key.split("@")[1]): value for key, value in metrics.items() if key.startswith("test/recall@")
        }
        seconds[name] = time.perf_counter() - started
        print(f"{name}: {seconds[name]:.0f} s, {pipeline.module.model.backbone.num_parameters:,} backbone parameters")
    lengths = sorted(next(iter(curves.values())))
    print(f"\n| backbone | {' | '.join(f'{n} ({n // window}x window)' for n in lengths)} | train time |")
    print("|---|" + "---|" * (len(lengths) + 1))
    for name, curve in curves.items():
        print(f"| {name} | {' | '.join(f'{curve[n]:.0f}' for n in lengths)} | {seconds[name]:.0f} s |")
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        axis.plot(lengths, [curve[n] for n in lengths], marker="o", label=name)
    axis.set(xscale="log", xlabel="context length (characters)", ylabel="passkey recall (%)", ylim=(-2, 102))
    axis.set_xticks(lengths, [str(n) for n in lengths])
    axis.axvline(window, color="0.6", linestyle=":", label="attention window")
    axis.legend(fontsize=8)
    save_figure(figure, out / "recall.png")
    print(f"plot: {out / 'recall.png'}")


if __name__ == "__main__":
    main()
