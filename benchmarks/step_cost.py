"""What one training step costs, per backbone, at the settings of the shipped benchmark definitions, in one run.

    TITANS_DATA_DIR=../shared/data python benchmarks/step_cost.py
    TITANS_DATA_DIR=../shared/data python benchmarks/step_cost.py --definitions forecast-ett --backbones mag swa
    TITANS_DATA_DIR=../shared/data python benchmarks/step_cost.py --definitions language-shakespeare \
        --backbones mag transformer --set data.block_size=1024 train.batch_size=8

At equal wall-clock budgets (every benchmark of this project) a model's step cost decides how many steps it
trains, so this is the figure to watch when the memory gets faster or slower.  Each definition's model is
built as its pipeline builds it (its width, depth, window, chunk and memory settings, its batch size, its own
training batches), once per backbone, and timed with `budget.seconds_per_step`. Prints seconds per step and
the ratio to Transformer++ in the same run. `--set` changes every model's definition alike (longer blocks at
the same tokens per step, another width).
"""

from __future__ import annotations

import argparse

import torch
from budget import seconds_per_step
from set_option import add_set_option

DEFINITIONS = ("language-shakespeare", "forecast-ett", "genomics-gue")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", nargs="+", default=list(DEFINITIONS))
    parser.add_argument("--backbones", nargs="+", default=["mag", "lmm", "swa", "transformer"])
    parser.add_argument("--steps", type=int, default=12, help="steps timed per model (the first third warm up)")
    add_set_option(parser, "overrides for every model")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'definition':<22}{'backbone':<14}{'s/step':>9}{'/ transformer':>15}")
    for definition in args.definitions:
        seconds = {
            name: seconds_per_step(definition, [*args.overrides, f"model.backbone.name={name}"], args.steps)
            for name in args.backbones
        }
        baseline = seconds.get("transformer")
        for name, value in seconds.items():
            ratio = f"{value / baseline:>15.2f}" if baseline else ""
            print(f"{definition:<22}{name:<14}{value:>9.3f}{ratio}", flush=True)


if __name__ == "__main__":
    main()
