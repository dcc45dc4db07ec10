"""The main job until the domain pipelines exist: `python -m titans.core.demo` (or `make demo`).

1. Test-time memorization: write random key-value pairs into a memory, pass after pass, with fixed gates
   and no training, and watch the recall error of every pair fall (the inner loop of Titans eq. 13-14).
2. Exactness: the chunk-parallel memory against the token-by-token reference, float64.
3. Speed: tokens/s of the chunk-parallel path against the reference, same layer.
Writes a plot of (1) to `runs/demo/memorization.png`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from .chunked import chunked_recurrence
from .config import MemoryConfig
from .memory_model import memory_apply
from .neural_memory import NeuralMemory
from .retention import start_chunk
from .state import MemoryInputs


def recall_errors(depth: int, pairs: int, dim: int, passes: int, lr: float) -> list[float]:
    """Relative recall error mean ||M(k_i) - v_i|| / ||v_i|| after each pass over the pairs."""
    cfg = MemoryConfig(dim=dim, heads=1, memory_depth=depth, momentum=False, chunk_size=16)
    keys = torch.nn.functional.normalize(torch.randn(1, pairs, dim), dim=-1)  # [1, P, D]
    values = torch.randn(1, pairs, dim)
    memory = [torch.randn(1, o, i) / i**0.5 if depth > 1 else torch.zeros(1, o, i) for o, i in cfg.layer_shapes]
    constant = torch.zeros(1, pairs)
    inputs = MemoryInputs(keys, keys, values, constant + lr, constant, None, None)
    errors = []
    for _ in range(passes):
        _, memory, _ = chunked_recurrence(inputs, memory, None, cfg)
        recalled = memory_apply(start_chunk(memory, cfg).weights, keys, cfg.layer_norm_eps)
        errors.append(((recalled - values).norm(dim=-1) / values.norm(dim=-1)).mean().item())
    return errors


def _tokens_per_second(mem: NeuralMemory, x: torch.Tensor, backend: str) -> float:
    with torch.no_grad():
        mem(x[:, :64], backend=backend)
        start = time.perf_counter()
        mem(x, backend=backend)
    return x.shape[1] / (time.perf_counter() - start)


def _save_plot(curves: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, errors in curves.items():
        ax.plot(range(1, len(errors) + 1), errors, marker="o", label=name)
    ax.set(xlabel="passes over the pairs (test time, no training)", ylabel="relative recall error", yscale="log")
    ax.set_title("Test-time memorization of random key-value pairs")
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".png", delete=False) as tmp:
        fig.savefig(tmp.name, dpi=120, bbox_inches="tight")
    os.replace(tmp.name, path)  # atomic: never a half-written plot
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("runs/demo"), help="folder for the plot")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    console = Console()
    torch.manual_seed(args.seed)

    curves = {
        f"{name} memory": recall_errors(depth, pairs=64, dim=32, passes=30, lr=0.1)
        for name, depth in (("matrix (depth 1)", 1), ("MLP (depth 2)", 2))
    }
    table = Table(title="1. Test-time memorization: 64 random pairs in 32 dimensions, recall error")
    table.add_column("pass")
    for name in curves:
        table.add_column(name, justify="right")
    for i, row in enumerate(zip(*curves.values())):
        if i == 0 or (i + 1) % 5 == 0:
            table.add_row(str(i + 1), *(f"{e:.3f}" for e in row))
    console.print(table)
    console.print("More pairs than dimensions: the matrix memory saturates, the deeper memory keeps learning.")
    _save_plot(curves, args.output / "memorization.png")
    console.print(f"plot: {args.output / 'memorization.png'}\n")

    mem = NeuralMemory(MemoryConfig(dim=32, heads=4, chunk_size=16)).double()
    x = torch.randn(2, 100, 32, dtype=torch.float64)
    with torch.no_grad():
        gap = (mem(x)[0] - mem(x, backend="reference")[0]).abs().max().item()
    console.print(f"2. Exactness: chunked vs token-by-token reference, T=100, float64: max |diff| = {gap:.1e}\n")

    mem = NeuralMemory(MemoryConfig(dim=256, heads=4, memory_depth=2, chunk_size=64))
    fast = _tokens_per_second(mem, torch.randn(1, 4096, 256), "chunked")
    slow = _tokens_per_second(mem, torch.randn(1, 256, 256), "reference")
    console.print(
        f"3. Speed (dim 256, 4 heads, 2-layer MLP memory, forward): chunked {fast:,.0f} tokens/s, "
        f"reference {slow:,.0f} tokens/s ({fast / slow:.0f}x); full figures: make bench"
    )


if __name__ == "__main__":
    main()
