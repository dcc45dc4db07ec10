"""GPU throughput of the Triton backend against the chunked torch path and causal attention, in one run.

    python benchmarks/kernels.py                       # T = 4K, 16K, 64K; both memories
    python benchmarks/kernels.py --lengths 4096 --memories mlp

bf16, dim 1024, 16 heads (head dim 64), batch 8 at 4K tokens and fewer sequences at longer lengths (the
same tokens per step up to 32K, one sequence beyond). Prints tokens/s forward (no grad) and forward+backward
of the whole memory layer with backend "triton" and "chunked", of causal SDPA attention of the same width,
the recurrence's achieved TFLOP/s (matrix products only, projections excluded, forward alone), and a plain
bf16 matmul measured in the same run for the fraction of peak. Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys

import torch
from memory_throughput import CausalAttention, memory_flops_per_token

from titans.core import NeuralMemory, titans_lmm
from titans.core.neural_memory import BACKENDS

DIM, HEADS, BATCH_TOKENS = 1024, 16, 8 * 4096
MEMORIES = {"mlp": {"memory_depth": 2, "expansion": 4}, "matrix": {"memory_depth": 1}}


def gpu_seconds(fn, repeats: int) -> float:
    """Best of `repeats` timed calls after one warm-up (compilation, caches), by CUDA events."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return best


def matmul_tflops() -> float:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    return 2 * 8192**3 / gpu_seconds(lambda: a @ b, 10) / 1e12


def layer_times(layer, x, repeats: int, **kwargs) -> tuple[float, float]:
    """Seconds for one forward (no grad) and one forward+backward of `layer` on x."""

    def forward():
        with torch.no_grad():
            layer(x, **kwargs)

    def train():
        out = layer(x, **kwargs)
        (out[0] if isinstance(out, tuple) else out).float().sum().backward()

    return gpu_seconds(forward, repeats), gpu_seconds(train, repeats)


def recurrence_seconds(memory: NeuralMemory, x, backend: str, repeats: int) -> float:
    """The recurrence alone (projections excluded), forward without grad: for TFLOP/s."""
    with torch.no_grad():
        inputs, _ = memory._inputs(x, None)
        state = [m.contiguous() for m in memory._initial_memory(x.shape[0])]
        momentum = [torch.zeros_like(m) for m in state]
        return gpu_seconds(lambda: BACKENDS[backend](inputs, state, momentum, memory.cfg), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--memories", nargs="+", choices=sorted(MEMORIES), default=["mlp", "matrix"])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("benchmarks/kernels.py needs a CUDA GPU (the Triton kernels); none is available, nothing measured.")
        return
    torch.manual_seed(0)
    peak = matmul_tflops()
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; bf16, dim {DIM}, {HEADS} heads")
    print(f"plain bf16 matmul (8192^3): {peak:.0f} TFLOP/s\n")
    header = f"{'layer':<36}{'B x T':>12}{'fwd tok/s':>12}{'fwd+bwd tok/s':>15}{'recurrence TFLOP/s (of peak)':>31}"
    print(header)
    attention = CausalAttention(DIM, HEADS).cuda().bfloat16()
    for length in args.lengths:
        batch = max(1, BATCH_TOKENS // length)
        x = torch.randn(batch, length, DIM, device="cuda", dtype=torch.bfloat16)
        shape = f"{batch} x {length}"
        for name in args.memories:
            cfg = titans_lmm(DIM, heads=HEADS, chunk_size=64, **MEMORIES[name])
            memory = NeuralMemory(cfg).cuda().bfloat16()
            flops = memory_flops_per_token(cfg) * batch * length
            for backend in ("triton", "chunked"):
                label = f"{name} memory, {backend}"
                try:
                    fwd, train = layer_times(memory, x, args.repeats, backend=backend)
                    rate = flops / recurrence_seconds(memory, x, backend, args.repeats) / 1e12
                except torch.cuda.OutOfMemoryError:
                    print(f"{label:<36}{shape:>12}  out of GPU memory")
                    torch.cuda.empty_cache()
                    continue
                tokens = batch * length
                share = f"{rate:>22.1f} ({rate / peak:.1%})"
                print(f"{label:<36}{shape:>12}{tokens / fwd:>12,.0f}{tokens / train:>15,.0f}{share}")
            del memory
            torch.cuda.empty_cache()
        fwd, train = layer_times(attention, x, args.repeats)
        tokens = batch * length
        print(f"{'causal SDPA attention':<36}{shape:>12}{tokens / fwd:>12,.0f}{tokens / train:>15,.0f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
