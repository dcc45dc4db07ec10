"""Fused Triton kernels for the chunked memory recurrence (`backend="triton"`).

- `support.py`: which configurations and tensors the kernels run (no Triton import, so `titans.core`
  never needs a working Triton);
- `primitives.py`: small `@triton.jit` helpers (GELU, layer norm and their derivatives, gate transfer
  matrices);
- `forward.py`: the fused forward kernel, one program per sequence x head walking its chunks;
- `backward.py`: the backward pass, by torch recomputation of each chunk from saved boundary states;
- `recurrence.py`: `triton_recurrence`, the autograd entry point with the contract of
  `chunked.chunked_recurrence`.

Only this package's `support` module is imported eagerly; the rest is imported when the Triton backend
is first used, after `TRITON_INTERPRET=1` may have been set (CPU tests run the kernels in Triton's
interpreter).
"""

from .support import SUPPORTED_CHUNK_SIZES, unsupported_reason, warn_fallback

__all__ = ["SUPPORTED_CHUNK_SIZES", "unsupported_reason", "warn_fallback"]
