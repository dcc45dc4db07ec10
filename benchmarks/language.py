"""Tiny Shakespeare (nanoGPT's character-level protocol) for Titans against Transformer++ at equal depth,
wall-clock budget and width or parameter count, then passkey recall at growing multiples of the attention
window, in one run.

    TITANS_DATA_DIR=../shared/data python benchmarks/language.py        # 30 minutes per model
    TITANS_DATA_DIR=../shared/data python benchmarks/language.py --minutes 5 --backbones mag transformer
    TITANS_DATA_DIR=../shared/data python benchmarks/language.py --parameters transformer
    TITANS_DATA_DIR=../shared/data python benchmarks/language.py --backbones mac --recall-backbones \
        --set model.backbone.memory.memory_depth=2          # the papers' MLP memory; no recall evaluation
    python benchmarks/language.py --backbones                  # the recall evaluation alone

Each model's learning-rate schedule ends with its budget. `--budget clock` (the default) trains every model
for its whole `--minutes`: the definition's `train.schedule_over_minutes` anneals the rate with the clock, so
runs do not repeat step for step. `--budget steps` times each model's optimizer steps on a few batches first
(`budget.steps_within`) and sets `train.max_steps` to the steps that fit in 90% of the budget (the rest goes
to validation passes): repeatable, but a low estimate stops a run early (a Transformer++ run stopped after
26 of 30 minutes, benchmarks/RESULTS.md); `train.max_minutes` stays as the hard stop.

`--parameters` sizes every model (embedding, backbone, tied head) to one parameter count by choosing its
width (`titans.language.model.width_for_parameters`; `heads` is kept): a number, or a backbone name for
that backbone's count at each definition's width (`language-shakespeare`, then `niah`). Unset, every
backbone has the definition's width, so the counts differ.

Reads Tiny Shakespeare from TITANS_DATA_DIR (or downloads it). Prints validation loss (nats per character)
per backbone with its width and parameter count, its ratio to the Transformer++ baseline, then the recall
table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from budget import steps_within
from niah import count_or_backbone, size, width_overrides
from set_option import add_set_option

from titans.pipelines import Pipeline

WINDOW_MULTIPLES = (6, 8, 12, 16)  # the needle and its question alone are longer than 1-4 windows of 16


def budget_overrides(budget: str, name: str, overrides: list[str], minutes: float) -> list[str]:
    """The settings that end the learning-rate schedule of backbone `name`'s run (these `overrides`) with its
    budget of `minutes` (module docstring)."""
    if budget == "clock":
        return ["train.schedule_over_minutes=true"]
    steps = steps_within("language-shakespeare", overrides, minutes)
    print(f"{name}: about {steps} optimizer steps fit in {minutes:g} min", flush=True)
    return [f"train.max_steps={steps}"]


def shakespeare(
    names: list[str], minutes: float, budget: str, parameters: str | None, extra: list[str], out: Path
) -> dict[str, tuple[float, int, int, float]]:
    """val/loss, width, parameters (embedding, backbone, tied head) and seconds per backbone, each trained
    for `minutes` under the `budget` rule, at the definition's width or sized to `parameters`, with the `extra`
    overrides."""
    widths = width_overrides("language-shakespeare", names, parameters, extra)
    results = {}
    for name in names:
        started = time.perf_counter()
        overrides = [f"model.backbone.name={name}", f"train.max_minutes={minutes}", f"output.dir={out / name}",
                     *extra, *widths[name]]  # fmt: skip
        pipeline = Pipeline.from_yaml(
            "language-shakespeare", [*overrides, *budget_overrides(budget, name, overrides, minutes)]
        )
        loss = pipeline.run().metrics["val/loss"]
        results[name] = (loss, *size(pipeline), time.perf_counter() - started)
        print(f"{name}: val/loss {loss:.3f} nats/char after {results[name][3]:.0f} s", flush=True)
    return results


def needle_recall(
    names: list[str], parameters: str | None, extra: list[str], out: Path
) -> dict[str, tuple[int, int, dict]]:
    """Width, parameters and recall (percent) per evaluation length, per backbone, with the `extra` overrides."""
    lengths = [16 * m for m in WINDOW_MULTIPLES]
    widths = width_overrides("niah", names, parameters, [f"data.eval_lengths={lengths}", *extra])
    curves = {}
    for name in names:
        overrides = [f"model.backbone.name={name}", f"data.eval_lengths={lengths}", f"output.dir={out / name}",
                     *extra, *widths[name]]  # fmt: skip
        pipeline = Pipeline.from_yaml("niah", overrides)
        metrics = pipeline.run().metrics
        curves[name] = (*size(pipeline), {n: metrics[f"test/recall@{n}"] for n in lengths})
    return curves


def report_shakespeare(results: dict[str, tuple[float, int, int, float]], minutes: float) -> None:
    baseline = results.get("transformer", next(iter(results.values())))[0]
    print(f"\nTiny Shakespeare, {minutes:g} min per backbone (goal: Titans below Transformer++, <= 1.60)")
    print("| backbone | width | parameters | val loss (nats/char) | ratio to transformer | wall time |")
    print("|---|---|---|---|---|---|")
    for name, (loss, width, parameters, seconds) in results.items():
        print(f"| {name} | {width} | {parameters:,} | {loss:.3f} | {loss / baseline:.3f} | {seconds:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--backbones", nargs="*", default=["mac", "mag", "transformer"], help="none: skip Tiny Shakespeare"
    )
    parser.add_argument(
        "--recall-backbones", nargs="*", default=["mac", "mag", "swa"], help="none: skip the recall evaluation"
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per backbone")
    parser.add_argument(
        "--budget",
        choices=["clock", "steps"],
        default="clock",
        help="clock: train for the whole budget, the schedule following the clock; steps: a timed step count",
    )
    parser.add_argument(
        "--parameters",
        type=count_or_backbone,
        metavar="N|BACKBONE",
        help="size every model to N parameters, or to BACKBONE's count at the definition's width",
    )
    add_set_option(parser, "extra overrides for every run")
    args = parser.parse_args()
    out = Path("runs/benchmark-language")

    if args.backbones:
        results = shakespeare(
            args.backbones, args.minutes, args.budget, args.parameters, args.overrides, out / "shakespeare"
        )
        report_shakespeare(results, args.minutes)

    if not args.recall_backbones:
        return
    curves = needle_recall(args.recall_backbones, args.parameters, args.overrides, out / "niah")
    print("\nPasskey recall (%) at multiples of the attention window (16 characters); goal >= 90% at 16x")
    print("| backbone | width | parameters | " + " | ".join(f"{m}x ({16 * m})" for m in WINDOW_MULTIPLES) + " |")
    print("|---|" + "---|" * (len(WINDOW_MULTIPLES) + 2))
    for name, (width, parameters, curve) in curves.items():
        print(f"| {name} | {width} | {parameters:,} | " + " | ".join(f"{value:.0f}" for value in curve.values()) + " |")


if __name__ == "__main__":
    main()
