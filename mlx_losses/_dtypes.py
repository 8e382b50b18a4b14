"""The dtype policy, written once.

A loss's result has torch's promoted dtype of its floating inputs
(:func:`result_dtype`); float16 / bfloat16 formulas run in float32, torch's
``opmath`` (:func:`acc_dtype`, :func:`upcast`), and the result is cast back
once. Reductions accumulate in :func:`acc_dtype` too (``_reduction.py``).
"""

from __future__ import annotations

import functools
import math
import struct

import mlx.core as mx

__all__ = ["acc_dtype", "promote_types", "result_dtype", "upcast", "exact_in"]

_HALF = (mx.float16, mx.bfloat16)


def acc_dtype(dtype: mx.Dtype) -> mx.Dtype:
    """The dtype we accumulate in: float32 for half types, else the dtype."""
    if dtype in _HALF:
        return mx.float32
    return dtype


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


@functools.lru_cache(maxsize=1024)
def exact_in(value: float, dtype: mx.Dtype) -> bool:
    """Whether the Python number ``value`` is exactly representable in the
    floating ``dtype`` (decided in Python, no evaluation; inf and NaN are).
    A constant that is exact in a half dtype can stay in it: no float32
    copy of the array it meets."""
    v = float(value)
    if dtype == mx.float64 or not math.isfinite(v):
        return True
    fmt = "<e" if dtype == mx.float16 else "<f"
    try:
        packed = struct.pack(fmt, v)
    except (OverflowError, struct.error):
        return False
    if struct.unpack(fmt, packed)[0] != v:
        return False
    # bfloat16 is the upper half of a float32: the low 16 bits must be 0
    return dtype != mx.bfloat16 or packed[:2] == b"\x00\x00"
