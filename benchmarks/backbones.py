"""Forward+backward throughput and peak memory of every backbone at equal width and depth, one run.

    python benchmarks/backbones.py            # T = 1k, 4k, 16k (several minutes on 2 CPU cores)
    python benchmarks/backbones.py --quick    # T = 256, 512, 1024

Each backbone runs in its own process (so peak resident memory is its own); the table gives tokens/s of
one forward+backward pass (best of 2), the growth of peak RSS over the model alone, and the time ratio
of the two longest lengths (linear: the length ratio; quadratic: its square).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from titans.core import build_backbone, list_backbones

SETTINGS = {"dim": 128, "depth": 2, "heads": 4, "window": 256, "chunk_size": 64, "persistent": 16}


def measure(name: str, lengths: list[int]) -> list[dict]:
    """In this process: seconds per forward+backward and peak RSS growth (MB) at each length, ascending."""
    torch.manual_seed(0)
    backbone = build_backbone(name, **SETTINGS)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = []
    for length in lengths:
        x = torch.randn(1, length, SETTINGS["dim"])
        times = []
        for _ in range(3):  # the first is a warm-up
            start = time.perf_counter()
            backbone(x)[0].sum().backward()
            times.append(time.perf_counter() - start)
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        rows.append({"length": length, "seconds": min(times[1:]), "peak_mb": peak})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    lengths = [256, 512, 1024] if args.quick else [1024, 4096, 16384]
    if args.child:
        print(json.dumps(measure(args.child, lengths)))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch 1, {SETTINGS}")
    header = "".join(f"{f'T={n} tok/s':>15}{'peak MB':>9}" for n in lengths)
    ratio_name = f"t({lengths[-1]})/t({lengths[-2]})"
    print(f"{'backbone':<18}{'params':>9}{header}  {ratio_name}")
    for name in list_backbones():
        command = [sys.executable, __file__, "--child", name] + (["--quick"] if args.quick else [])
        rows = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        cells = "".join(f"{r['length'] / r['seconds']:>15,.0f}{r['peak_mb']:>9,.0f}" for r in rows)
        params = build_backbone(name, **SETTINGS).num_parameters
        print(f"{name:<18}{params:>9,}{cells}  {rows[-1]['seconds'] / rows[-2]['seconds']:>{len(ratio_name)}.2f}")
    linear = lengths[-1] / lengths[-2]
    print(f"(time ratio {linear:.0f} = linear in T, {linear**2:.0f} = quadratic)")


if __name__ == "__main__":
    main()
