"""`@triton.jit` helpers of the fused forward kernel: the memory's non-linearities with their derivatives,
and the gate algebra of one chunk. Tokens are rows, features are columns; padded feature columns are
zero on the way in and kept zero on the way out."""

from __future__ import annotations

import triton
import triton.language as tl

_SQRT_HALF = tl.constexpr(0.7071067811865476)
_INV_SQRT_2PI = tl.constexpr(0.3989422804014327)


@triton.jit
def gelu(x):
    """Exact (erf) GELU: x Phi(x)."""
    return 0.5 * x * (1.0 + tl.erf(x * _SQRT_HALF))


@triton.jit
def gelu_grad(x):
    """d gelu / dx = Phi(x) + x phi(x)."""
    return 0.5 * (1.0 + tl.erf(x * _SQRT_HALF)) + x * tl.exp(-0.5 * x * x) * _INV_SQRT_2PI


@triton.jit
def layer_norm_rows(pre, feature_mask, width: tl.constexpr, eps: tl.constexpr):
    """Layer norm without affine over the `width` valid columns of pre: [c, BD] -> (normalised, rstd [c])."""
    mean = tl.sum(pre, axis=1) / width  # padded columns are zero
    centred = tl.where(feature_mask[None, :], pre - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(centred * centred, axis=1) / width + eps)
    return centred * rstd[:, None], rstd


@triton.jit
def layer_norm_backward_rows(grad, normed, rstd, feature_mask, width: tl.constexpr):
    """d/d pre of a layer norm without affine: rstd (g - mean(g) - xhat mean(g xhat)), rows of [c, BD]."""
    mean_grad = tl.sum(grad, axis=1) / width
    mean_proj = tl.sum(grad * normed, axis=1) / width
    dpre = rstd[:, None] * (grad - mean_grad[:, None] - normed * mean_proj[:, None])
    return tl.where(feature_mask[None, :], dpre, 0.0)


@triton.jit
def causal_transfer(log_cum, rows, cols):
    """[c] cumulative log-products L -> [c, c] with [t, s] = exp(L_t - L_s) for s <= t, else 0."""
    causal = cols[None, :] <= rows[:, None]
    diff = tl.where(causal, log_cum[:, None] - log_cum[None, :], 0.0)
    return tl.where(causal, tl.exp(diff), 0.0)


@triton.jit
def last_entry(vector, index, last):
    """vector[last] for vector: [c] (index = arange(c))."""
    return tl.sum(tl.where(index == last, vector, 0.0), axis=0)


@triton.jit
def last_row(matrix, rows, last):
    """matrix[last, :] for matrix: [c, c] (rows = arange(c))."""
    return tl.sum(tl.where(rows[:, None] == last, matrix, 0.0), axis=0)


@triton.jit
def load_matrix(ptr, rows, cols, n_rows: tl.constexpr, n_cols: tl.constexpr, dtype: tl.constexpr):
    """A row-major [n_rows, n_cols] matrix into a zero-padded [len(rows), len(cols)] block of `dtype`."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    return tl.load(ptr + rows[:, None] * n_cols + cols[None, :], mask=mask, other=0.0).to(dtype)


@triton.jit
def store_matrix(ptr, block, rows, cols, n_rows: tl.constexpr, n_cols: tl.constexpr):
    """The valid [n_rows, n_cols] part of a padded block into a row-major matrix (cast to its dtype)."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    tl.store(ptr + rows[:, None] * n_cols + cols[None, :], block.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def mm(a, b, OPERAND: tl.constexpr, EMULATE_HALF: tl.constexpr):
    """a @ b with operands rounded to OPERAND, accumulated in float32 (float64 for float64 operands);
    float32 operands are multiplied exactly ("ieee"), not in TF32. EMULATE_HALF: half-precision operands
    are rounded but multiplied in float32 (exact for their products), for Triton's interpreter, whose
    tl.dot multiplies bf16 operands as their raw 16-bit integers."""
    if EMULATE_HALF:
        return tl.dot(a.to(OPERAND).to(tl.float32), b.to(OPERAND).to(tl.float32), input_precision="ieee")
    return tl.dot(a.to(OPERAND), b.to(OPERAND), input_precision="ieee")
