"""Throughput of the neural memory layer, side by side with its baselines in one run.

    python benchmarks/memory_throughput.py            # full run (a few minutes on 2 CPU cores)
    python benchmarks/memory_throughput.py --quick    # shorter lengths, for a smoke test

Prints tokens/s forward and forward+backward of the chunked memory (dim 256, 4 heads, 2-layer MLP memory,
chunk 64, batch 1) at several lengths, the token-by-token reference, full causal attention
(`scaled_dot_product_attention`) of the same width, and `titans_pytorch` when it is importable; the
scaling ratio time(16k)/time(4k); the memory recurrence's achieved GFLOP/s next to a plain matmul
measured in the same run; and the peak resident memory of streaming inference at growing lengths.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from titans.core import MemoryConfig, NeuralMemory

DIM, HEADS, CHUNK = 256, 4, 64


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_and_train_times(layer: nn.Module, length: int, repeats: int, **kwargs) -> tuple[float, float]:
    """Seconds for one forward pass (no grad) and one forward+backward pass on x: [1, length, DIM]."""
    x = torch.randn(1, length, DIM)

    def forward():
        with torch.no_grad():
            layer(x, **kwargs)

    def train():
        out = layer(x.requires_grad_(), **kwargs)
        (out[0] if isinstance(out, tuple) else out).sum().backward()

    return best_time(forward, repeats), best_time(train, repeats)


class CausalAttention(nn.Module):
    """Full causal multi-head attention of the memory's width: projections + SDPA + output projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.out(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d))


def memory_flops_per_token(cfg: MemoryConfig) -> float:
    """Forward FLOPs of the chunk-parallel recurrence per token (matrix products only, projections excluded)."""
    c, layers, twice = cfg.chunk_size, cfg.layer_shapes, 2 if cfg.momentum else 1
    per_head = 0.0
    for index, (out, fan_in) in enumerate(layers):
        product = 2 * c * out * fan_in
        per_head += product  # keys at the chunk-start weights
        per_head += product if index > 0 else 0  # back-propagation to the layer below
        per_head += twice * product  # queries: A_0 (and S_0) terms
        per_head += 2 * c * c * (fan_in + out)  # dual-form scores and their product with dpre
        per_head += twice * product  # chunk-end accumulator (and momentum)
    per_head += 2 * c**3 + 2 * c**2 if cfg.momentum else 0  # C = P Q and m = P E
    return per_head * cfg.heads / c


def matmul_gflops() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048**3 / best_time(lambda: a @ b, 5) / 1e9


def stream_peak_mb(length: int) -> float:
    """Peak RSS growth (MB) of streaming `length` tokens in pieces of 1024, measured in a fresh process."""
    code = (
        "import resource, torch, sys; sys.argv=['x'];"
        "from titans.core import MemoryConfig, NeuralMemory;"
        f"m = NeuralMemory(MemoryConfig(dim={DIM}, heads={HEADS}, chunk_size={CHUNK}));"
        "s = None\n"
        "with torch.no_grad():\n"
        f"    y, s = m(torch.randn(1, 1024, {DIM}), state=s)\n"
        "    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"    for _ in range({length} // 1024 - 1):\n"
        f"        y, s = m(torch.randn(1, 1024, {DIM}), state=s)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="lengths 256/512/1024 and one repeat")
    args = parser.parse_args()
    torch.manual_seed(0)
    lengths = [256, 512, 1024] if args.quick else [1024, 4096, 16384]
    repeats = 1 if args.quick else 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch 1, dim {DIM}, {HEADS} heads")

    peak = matmul_gflops()
    print(f"plain fp32 matmul (2048^3): {peak:.0f} GFLOP/s\n")

    cfg = MemoryConfig(dim=DIM, heads=HEADS, memory_depth=2, chunk_size=CHUNK)
    memory = NeuralMemory(cfg)
    attention = CausalAttention(DIM, HEADS)
    flops = memory_flops_per_token(cfg)
    print(f"{'layer':<34}{'T':>7}{'fwd tok/s':>12}{'fwd+bwd tok/s':>15}{'GFLOP/s fwd, f+b (of peak)':>34}")
    timings = {}
    for length in lengths:
        fwd, train = forward_and_train_times(memory, length, repeats)
        timings[("memory", length)] = (fwd, train)
        rate = f"{flops * length / fwd / 1e9:.0f}, {3 * flops * length / train / 1e9:.0f}"
        share = f"({flops * length / fwd / 1e9 / peak:.0%}, {3 * flops * length / train / 1e9 / peak:.0%})"
        name = "chunked memory (head dim 64)"
        print(f"{name:<34}{length:>7}{length / fwd:>12,.0f}{length / train:>15,.0f}{rate:>22} {share}")
    for length in lengths:
        fwd, train = forward_and_train_times(attention, length, repeats)
        timings[("attention", length)] = (fwd, train)
        print(f"{'causal SDPA attention':<34}{length:>7}{length / fwd:>12,.0f}{length / train:>15,.0f}")
    ref_len = lengths[0]
    fwd, train = forward_and_train_times(memory, ref_len, 1, backend="reference")
    print(f"{'token-by-token reference':<34}{ref_len:>7}{ref_len / fwd:>12,.0f}{ref_len / train:>15,.0f}")
    fast_fwd, fast_train = timings[("memory", ref_len)]
    print(f"  chunked / reference at T={ref_len}: forward {fwd / fast_fwd:.0f}x, fwd+bwd {train / fast_train:.0f}x")

    long, short = lengths[-1], lengths[-2]
    linear = long / short
    print(f"\nscaling time(T={long}) / time(T={short}) ({linear:.1f} = linear, {linear**2:.1f} = quadratic):")
    for name in ("memory", "attention"):
        (f_s, t_s), (f_l, t_l) = timings[(name, short)], timings[(name, long)]
        print(f"  {name:<10} forward {f_l / f_s:.2f}, forward+backward {t_l / t_s:.2f}")

    try:
        from titans_pytorch import NeuralMemory as TitansPytorchMemory
    except ImportError:
        print("\ntitans_pytorch is not importable: comparison skipped (pip install titans-pytorch==0.5.5)")
    else:
        print(f"\ntitans_pytorch at T={ref_len} (same input), speed ratio = ours / theirs:")
        pairs = [
            ("its NeuralMemory(dim=256, heads=4, chunk_size=64): head dim 256", {}, 256),
            ("matched head dim 64 (dim_head=64)", {"dim_head": 64}, 64),
        ]
        theirs_default = None
        for label, extra, head_dim in pairs:
            theirs = TitansPytorchMemory(dim=DIM, heads=HEADS, chunk_size=CHUNK, **extra)
            t_fwd, t_train = forward_and_train_times(theirs, ref_len, repeats)
            theirs_default = theirs_default or (t_fwd, t_train)
            ours = NeuralMemory(MemoryConfig(dim=DIM, heads=HEADS, head_dim=head_dim, chunk_size=CHUNK))
            o_fwd, o_train = forward_and_train_times(ours, ref_len, repeats)
            print(f"  {label}")
            print(f"    titans_pytorch: fwd {ref_len / t_fwd:,.0f} tok/s, fwd+bwd {ref_len / t_train:,.0f} tok/s")
            print(
                f"    titans (ours, head dim {head_dim}): fwd {ref_len / o_fwd:,.0f} tok/s, "
                f"fwd+bwd {ref_len / o_train:,.0f} tok/s"
            )
            print(f"    ratio: forward {t_fwd / o_fwd:.1f}x, forward+backward {t_train / o_train:.1f}x")
            # The fastest any implementation of this math could be here: the recurrence's products alone at
            # the plain matmul rate (forward+backward as 3x forward), so no ratio above this is reachable.
            ceiling = peak * 1e9 / memory_flops_per_token(ours.cfg)
            print(
                f"    ceiling at 100% of the matmul rate: fwd {ceiling:,.0f} tok/s, fwd+bwd {ceiling / 3:,.0f} tok/s, "
                f"i.e. at most {ceiling * t_fwd / ref_len:.1f}x / {ceiling / 3 * t_train / ref_len:.1f}x titans_pytorch"
            )
        fwd, train = timings[("memory", ref_len)]
        print(
            "  unmatched pairing (ours at head dim 64, 16x fewer memory weights, vs its default head dim 256): "
            f"forward {theirs_default[0] / fwd:.1f}x, forward+backward {theirs_default[1] / train:.1f}x"
        )

    stream_lengths = [4096, 16384] if args.quick else [4096, 16384, 65536]
    peaks = ", ".join(f"T={n}: {stream_peak_mb(n):.1f} MB" for n in stream_lengths)
    print(f"\npeak RSS growth while streaming in 1024-token pieces (no grad): {peaks}")


if __name__ == "__main__":
    main()
