"""How far back the training gradient reaches through the memory's recurrence, and whether it grows there.

A memory layer reads a random input [batch 8, T, dim 100] (4 heads, chunk 16, as in language-shakespeare's
MAG); the outer loss is a random projection of the outputs at the last 16 tokens only.  The figure is the
mean norm of d loss / d x at the first 16 tokens (far back) next to that at the 16 tokens before the last
16 (near), for growing T: a stable recurrence forgets, so the far gradient shrinks with T; where it grows,
the recurrence's backward explodes and a training run spikes (clipping then throws away most steps).

    python benchmarks/memory_gradient.py
    python benchmarks/memory_gradient.py --lengths 64 256 1024 --set max_lr=0.02 forget_bias_init=-8

Each row is one memory configuration (titans_lmm with the given overrides); the table ends with the
far/near ratio at the longest length.
"""

from __future__ import annotations

import argparse

import torch
import yaml
from set_option import add_set_option

from titans.core import NeuralMemory
from titans.core.presets import titans_lmm

CONFIGURATIONS = {
    "matrix memory (depth 1)": {"memory_depth": 1},
    "MLP memory (depth 2, the papers')": {"memory_depth": 2},
    "MLP memory, forget gate off": {"memory_depth": 2, "forget_gate": False},
    "MLP memory, forget_bias_init -8": {"memory_depth": 2, "forget_bias_init": -8.0},
    "MLP memory, max_lr 0.02": {"memory_depth": 2, "max_lr": 0.02},
}


def gradient_reach(overrides: dict, length: int, seed: int = 0) -> tuple[float, float]:
    """(far, near): mean |d loss / d x| over the first 16 tokens and over tokens T-32..T-16."""
    torch.manual_seed(seed)
    memory = NeuralMemory(titans_lmm(100, heads=4, chunk_size=16, **overrides))
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(8, length, 100, generator=generator).requires_grad_()  # [B, T, dim]
    y, _ = memory(x, backend="chunked")
    projection = torch.randn(y[:, -16:].shape, generator=generator)
    (y[:, -16:] * projection).sum().backward()
    per_token = x.grad.norm(dim=-1).mean(0)  # [T]
    return per_token[:16].mean().item(), per_token[-32:-16].mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", nargs="+", type=int, default=[64, 256, 1024])
    add_set_option(parser, "MemoryConfig overrides")
    args = parser.parse_args()
    if min(args.lengths) < 48:
        parser.error("--lengths: every length must be at least 48 (three groups of 16 tokens)")
    configurations = CONFIGURATIONS
    if args.overrides:
        extra = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.overrides)}
        configurations = {" ".join(args.overrides): {"memory_depth": 2, **extra}}
    print("| memory | " + " | ".join(f"T={n}: far / near" for n in args.lengths) + " | far/near at longest |")
    print("|---|" + "---|" * (len(args.lengths) + 1))
    for name, overrides in configurations.items():
        cells, ratio = [], float("nan")
        for length in args.lengths:
            far, near = gradient_reach(overrides, length)
            cells.append(f"{far:.3g} / {near:.3g}")
            ratio = far / near
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio:.3g} |", flush=True)


if __name__ == "__main__":
    main()
