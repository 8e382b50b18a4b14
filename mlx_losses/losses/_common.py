"""Small helpers the kernels share (dtype policy, broadcasting warnings)."""

from __future__ import annotations

import functools
import warnings
from typing import Tuple

import mlx.core as mx

from .._reduction import acc_dtype
from .._validation import broadcast_shapes, check_floating, fmt_shape

__all__ = ["promote_types", "result_dtype", "upcast", "broadcast_pair"]


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


def broadcast_pair(
    fn: str, input: mx.array, target: mx.array, *, warn: bool = True
) -> Tuple[mx.array, mx.array, mx.Dtype]:
    """Check floating input/target, warn as torch on differing sizes,
    broadcast, and return both in the accumulation dtype plus the output dtype."""
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if warn and tuple(input.shape) != tuple(target.shape):
        warnings.warn(
            f"Using a target size ({fmt_shape(target.shape)}) that is different to the input "
            f"size ({fmt_shape(input.shape)}). This will likely lead to incorrect results due "
            "to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    shape = broadcast_shapes(fn, ("input", "target"), input, target)
    out = result_dtype(input, target)
    x = mx.broadcast_to(upcast(input, out), shape)
    y = mx.broadcast_to(upcast(target, out), shape)
    return x, y, out
