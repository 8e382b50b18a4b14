"""Small helpers the kernels share (dtype policy, broadcasting warnings)."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Tuple

import mlx.core as mx

from .._reduction import acc_dtype
from .._validation import broadcast_shapes, check_floating, fmt_shape, user_stacklevel

__all__ = [
    "exp", "logsumexp", "logaddexp", "promote_types", "result_dtype", "upcast",
    "check_pair", "broadcast_pair",
]


@functools.lru_cache(maxsize=None)
def promote_types(a: mx.Dtype, b: mx.Dtype) -> mx.Dtype:
    """MLX's type promotion of two dtypes (torch's rule among floats)."""
    return (mx.zeros((), dtype=a) + mx.zeros((), dtype=b)).dtype


def result_dtype(*arrays: mx.array) -> mx.Dtype:
    """torch's type promotion among floating inputs (MLX's rule agrees)."""
    dtype = arrays[0].dtype
    for a in arrays[1:]:
        dtype = promote_types(dtype, a.dtype)
    return dtype


def upcast(x: mx.array, dtype: mx.Dtype) -> mx.array:
    """Cast to the accumulation dtype of ``dtype`` (float32 for half types).

    Elementwise formulas run there and the result is cast back once, as
    torch's ``opmath`` does for float16 / bfloat16.
    """
    return x.astype(acc_dtype(dtype))


def check_pair(
    fn: str, input: mx.array, target: mx.array, *, warn: bool = True
) -> Tuple[Tuple[int, ...], mx.Dtype]:
    """:func:`broadcast_pair`'s checks and warning, without building arrays:
    returns the broadcast shape and the output dtype."""
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if warn and input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({fmt_shape(target.shape)}) that is different to the input "
            f"size ({fmt_shape(input.shape)}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    shape = broadcast_shapes(fn, ("input", "target"), input, target)
    return shape, result_dtype(input, target)


def broadcast_pair(
    fn: str, input: mx.array, target: mx.array, *, warn: bool = True
) -> Tuple[mx.array, mx.array, mx.Dtype]:
    """Check floating input/target, warn as torch on differing sizes,
    broadcast, and return both in the accumulation dtype plus the output dtype."""
    shape, out = check_pair(fn, input, target, warn=warn)
    x = mx.broadcast_to(upcast(input, out), shape)
    y = mx.broadcast_to(upcast(target, out), shape)
    return x, y, out


# float64-accurate transcendentals. MLX 0.32's CPU ``exp`` of float64 (and so
# ``softmax``, ``logsumexp``, ``logaddexp``, ``sigmoid``) has only float32
# accuracy (~1e-6 relative); ``e ** x`` is accurate to rounding. Other dtypes
# keep MLX's fused kernels.


def exp(x: mx.array) -> mx.array:
    """``exp``, accurate in float64 too."""
    if x.dtype == mx.float64:
        return mx.power(mx.array(math.e, dtype=mx.float64), x)
    return mx.exp(x)


def logsumexp(x: mx.array, axis: int = -1, keepdims: bool = False) -> mx.array:
    """``mx.logsumexp``, accurate in float64 too (all -inf rows give -inf)."""
    if x.dtype != mx.float64:
        return mx.logsumexp(x, axis=axis, keepdims=keepdims)
    m = mx.stop_gradient(mx.max(x, axis=axis, keepdims=True))
    m = mx.where(mx.isinf(m), mx.zeros_like(m), m)  # all -inf (or +inf): no shift
    out = m + mx.log(mx.sum(exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else mx.squeeze(out, axis=axis)


def logaddexp(a: mx.array, b: mx.array) -> mx.array:
    """``mx.logaddexp``, accurate in float64 too."""
    if a.dtype != mx.float64:
        return mx.logaddexp(a, b)
    m = mx.maximum(a, b)
    m = mx.where(mx.isinf(m), mx.zeros_like(m), m)
    return m + mx.log(exp(a - m) + exp(b - m))
