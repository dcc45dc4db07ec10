"""Passkey recall against context length for every kind of backbone, trained alike (the `niah` pipeline:
same depth, attention window, data and number of steps, and the same width or parameter count), in one run.

    python benchmarks/niah.py --backbones mag mac mal swa transformer gated-deltanet
    python benchmarks/niah.py --backbones mag swa --seeds 0 1 2       # mean and range over seeds
    python benchmarks/niah.py --parameters mag                        # every model as large as MAG

`--parameters` sizes every model (embedding, backbone, tied head) to one parameter count by choosing its
width (`titans.language.model.width_for_parameters`; `heads` is kept): a number, or a backbone name for
that backbone's count at the definition's width. Unset, every backbone has the definition's width (as
the results in benchmarks/RESULTS.md were measured), so the counts differ.

Prints recall (percent of passkeys recalled exactly) at each evaluation length, the attention window
multiple beside it, each model's width and parameter count, and writes one plot of all curves to
runs/benchmark-niah/recall.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from set_option import add_set_option

from titans.core import list_backbones
from titans.core.backbones import BackboneConfig
from titans.language.model import parameter_count, width_for_parameters
from titans.pipelines import Pipeline
from titans.pipelines.outputs import save_figure


def count_or_backbone(value: str) -> str:
    """The `--parameters` argument: a positive number, or a backbone name."""
    if (value.isdigit() and int(value) > 0) or value in list_backbones():
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: neither a positive number nor a backbone name")


def width_overrides(
    definition: str, names: list[str], parameters: str | None, overrides: list[str]
) -> dict[str, list[str]]:
    """Per backbone, the `model.backbone.dim` override that sizes its language model to `parameters` (a
    count, or a backbone name: that backbone's count at the definition's width); none when it is None.
    The definition's data is read once, for the vocabulary that the embedding's size depends on."""
    if parameters is None:
        return {name: [] for name in names}
    probe = Pipeline.from_yaml(definition, overrides)
    probe.task.splits()  # reading the data fixes the vocabulary
    vocabulary = probe.task.build_model(probe.backbone).embed.num_embeddings
    options = probe.spec.model.backbone.options
    width = options.pop("dim", BackboneConfig.dim)
    target = int(parameters) if parameters.isdigit() else parameter_count(parameters, vocabulary, dim=width, **options)
    return {name: [f"model.backbone.dim={width_for_parameters(name, target, vocabulary, **options)}"] for name in names}


def size(pipeline: Pipeline) -> tuple[int, int]:
    """The width and parameter count (embedding, backbone, tied head) of a pipeline's model."""
    return pipeline.backbone.cfg.dim, sum(p.numel() for p in pipeline.module.model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backbones", nargs="+", default=["mag", "mac", "mal", "lmm", "swa", "transformer", "gated-deltanet"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="train each backbone once per seed")
    add_set_option(parser, "extra overrides for every run")
    parser.add_argument(
        "--parameters",
        type=count_or_backbone,
        metavar="N|BACKBONE",
        help="size every model to N parameters, or to BACKBONE's count at the definition's width",
    )
    args = parser.parse_args()
    out = Path("runs/benchmark-niah")
    widths = width_overrides("niah", args.backbones, args.parameters, args.overrides)
    curves, seconds, sizes = {}, {}, {}
    for name in args.backbones:
        started, runs = time.perf_counter(), []
        for seed in args.seeds:
            overrides = [f"model.backbone.name={name}", f"train.seed={seed}", f"output.dir={out / name}",
                         *args.overrides, *widths[name]]  # fmt: skip
            pipeline = Pipeline.from_yaml("niah", overrides)
            metrics = pipeline.run().metrics
            runs.append(
                {int(key.split("@")[1]): value for key, value in metrics.items() if key.startswith("test/recall@")}
            )
        window = pipeline.spec.model.backbone.options.get("window", 64)
        curves[name] = {n: [run[n] for run in runs] for n in runs[0]}  # recall per length, one value per seed
        seconds[name] = (time.perf_counter() - started) / len(args.seeds)
        sizes[name] = size(pipeline)
        print(f"{name}: {seconds[name]:.0f} s per seed, width {sizes[name][0]}, {sizes[name][1]:,} parameters")
    lengths = sorted(next(iter(curves.values())))
    spread = len(args.seeds) > 1
    print(f"\nrecall %{' (mean, min-max over seeds ' + str(args.seeds) + ')' if spread else ''}")
    columns = " | ".join(f"{n} ({n // window}x window)" for n in lengths)
    print(f"| backbone | width | parameters | {columns} | train time |")
    print("|---|" + "---|" * (len(lengths) + 3))
    for name, curve in curves.items():
        cells = [f"{np.mean(curve[n]):.0f}" + (f" ({min(curve[n]):.0f}-{max(curve[n]):.0f})" if spread else "")
                 for n in lengths]  # fmt: skip
        width, parameters = sizes[name]
        print(f"| {name} | {width} | {parameters:,} | {' | '.join(cells)} | {seconds[name]:.0f} s |")
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
