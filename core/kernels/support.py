"""Which configurations and tensors the Triton kernels run; everything else falls back to the chunked
torch path. Pure Python: importing it never imports Triton."""

from __future__ import annotations

import os
import warnings

import torch

from ..config import MemoryConfig

SUPPORTED_CHUNK_SIZES = (16, 32, 64, 128)  # tl.dot needs every dimension >= 16; powers of two for tl.arange
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64)
# Shared memory of the compiled forward kernel, estimated as 4 x (operand bytes) x c x (c + H + D) (padded
# widths): a rough, cautious rule, not a bound. Of ten configurations compiled for sm_90 with Triton 3.9 (head
# dim 64 or 128, hidden 64-256, chunk 16-128, bf16 and fp32) it accepts seven that fit the 227 KiB of an
# H100 / H200, refuses the one that does not (fp32, chunk 64 x hidden 256: about 400 KiB) and two that would
# have fit (bf16 matrix memory at chunk 128: 104 KiB; fp32 chunk 64 x hidden 128: 210 KiB). A launch that
# still runs out of shared memory falls back to "chunked" too (recurrence.py).
_SHARED_MEMORY_PER_ELEMENT = 4
_WARNED: set[str] = set()  # fallback reasons already warned about


def interpreter_enabled() -> bool:
    """Triton's CPU interpreter is on (it must be set before the kernel module is imported)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def unsupported_reason(cfg: MemoryConfig, sample: torch.Tensor) -> str | None:
    """Why the Triton kernels cannot run this configuration on tensors like `sample`; None when they can."""
    if cfg.bias != "l2":
        return f"attentional bias {cfg.bias!r} (the kernels implement 'l2' only)"
    if cfg.retention != "decay":
        return f"retention {cfg.retention!r} (the kernels implement 'decay' only)"
    if cfg.memory_depth > 2:
        return f"memory_depth {cfg.memory_depth} (the kernels implement depth 1 and 2)"
    if cfg.channel_forget:
        return "channel_forget (the kernels implement one forget gate per head)"
    if cfg.channel_momentum:
        return "channel_momentum (the kernels implement one momentum gate per head)"
    if cfg.channel_lr:
        return "channel_lr (the kernels implement one step size per head)"
    if cfg.chunk_size not in SUPPORTED_CHUNK_SIZES:
        return f"chunk_size {cfg.chunk_size} (the kernels need one of {SUPPORTED_CHUNK_SIZES})"
    if sample.dtype not in SUPPORTED_DTYPES:
        return f"dtype {sample.dtype} (the kernels take float32, bfloat16, float16 or float64)"
    if not sample.is_cuda and not interpreter_enabled():
        return "tensors not on a CUDA device and TRITON_INTERPRET=1 not set"
    if sample.is_cuda:
        need, limit = estimated_shared_memory(cfg, sample.dtype), _max_shared_memory(sample.device)
        if need > limit:
            return (
                f"chunk_size {cfg.chunk_size} x hidden width {cfg.layer_shapes[0][0]} in {sample.dtype}: about "
                f"{need // 1024} KiB of shared memory, more than this GPU's {limit // 1024} KiB "
                "(use bfloat16 or a smaller chunk_size)"
            )
    return None


def padded_width(width: int) -> int:
    """A feature width padded for the kernels: a power of two, at least 16 (tl.dot's smallest)."""
    return max(16, 1 << (width - 1).bit_length())


def estimated_shared_memory(cfg: MemoryConfig, dtype: torch.dtype) -> int:
    """Bytes of shared memory the forward kernel needs, roughly (see _SHARED_MEMORY_PER_ELEMENT)."""
    operand_bytes = 2 if dtype in (torch.bfloat16, torch.float16) else dtype.itemsize
    c, hidden, d = cfg.chunk_size, padded_width(cfg.layer_shapes[0][0]), padded_width(cfg.dim_head)
    return _SHARED_MEMORY_PER_ELEMENT * operand_bytes * c * (c + hidden + d)


def _max_shared_memory(device: torch.device) -> int:
    from triton.runtime import driver  # only for CUDA tensors, where the kernels need Triton anyway

    return driver.active.utils.get_device_properties(device.index)["max_shared_mem"]


def warn_fallback(backend: str, reason: str) -> None:
    """Say, once per reason, that `backend` runs as "chunked" and why."""
    if reason not in _WARNED:
        _WARNED.add(reason)
        warnings.warn(
            f"backend={backend!r} falls back to 'chunked': the Triton kernels do not run {reason}", stacklevel=4
        )
