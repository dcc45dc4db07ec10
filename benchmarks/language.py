"""Tiny Shakespeare (nanoGPT's character-level protocol) for Titans against Transformer++ at equal width,
depth and wall-clock budget, then passkey recall at growing multiples of the attention window, in one run.

    TITANS_DATA_DIR=../shared/data python benchmarks/language.py        # 30 minutes per model
    TITANS_DATA_DIR=../shared/data python benchmarks/language.py --minutes 5 --backbones mag transformer

Reads Tiny Shakespeare from TITANS_DATA_DIR (or downloads it). Prints validation
loss (nats per character) per backbone, its ratio to the Transformer++ baseline, then the recall table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from titans.pipelines import Pipeline

WINDOW_MULTIPLES = (6, 8, 12, 16)  # the needle and its question alone are longer than 1-4 windows of 16


def shakespeare(names: list[str], minutes: float, out: Path) -> dict[str, tuple[float, int, float]]:
    """val/loss, backbone parameters and seconds per backbone, each trained for `minutes`."""
    results = {}
    for name in names:
        started = time.perf_counter()
        overrides = [f"model.backbone.name={name}", f"train.max_minutes={minutes}", f"output.dir={out / name}"]
        pipeline = Pipeline.from_yaml("language-shakespeare", overrides)
        loss = pipeline.run().metrics["val/loss"]
        results[name] = (loss, pipeline.module.model.backbone.num_parameters, time.perf_counter() - started)
        print(f"{name}: val/loss {loss:.3f} nats/char after {results[name][2]:.0f} s", flush=True)
    return results


def needle_recall(names: list[str], out: Path) -> dict[str, dict[int, float]]:
    curves = {}
    for name in names:
        lengths = [16 * m for m in WINDOW_MULTIPLES]
        overrides = [f"model.backbone.name={name}", f"data.eval_lengths={lengths}", f"output.dir={out / name}"]
        metrics = Pipeline.from_yaml("niah", overrides).run().metrics
        curves[name] = {n: metrics[f"test/recall@{n}"] for n in lengths}
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=["mac", "mag", "transformer"])
    parser.add_argument("--recall-backbones", nargs="+", default=["mac", "mag", "swa"])
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per backbone")
    args = parser.parse_args()
    out = Path("runs/benchmark-language")

    results = shakespeare(args.backbones, args.minutes, out / "shakespeare")
    baseline = results.get("transformer", next(iter(results.values())))[0]
    print(f"\nTiny Shakespeare, {args.minutes:g} min per backbone (goal: Titans below Transformer++, <= 1.60)")
    print("| backbone | parameters | val loss (nats/char) | ratio to transformer | wall time |")
    print("|---|---|---|---|---|")
    for name, (loss, parameters, seconds) in results.items():
        print(f"| {name} | {parameters:,} | {loss:.3f} | {loss / baseline:.3f} | {seconds:.0f} s |")

    curves = needle_recall(args.recall_backbones, out / "niah")
    print("\nPasskey recall (%) at multiples of the attention window (16 characters); goal >= 90% at 16x")
    print("| backbone | " + " | ".join(f"{m}x ({16 * m})" for m in WINDOW_MULTIPLES) + " |")
    print("|---|" + "---|" * len(WINDOW_MULTIPLES))
    for name, curve in curves.items():
        print(f"| {name} | " + " | ".join(f"{value:.0f}" for value in curve.values()) + " |")


if __name__ == "__main__":
    main()
