"""Small helpers the kernels share: the input pair's checks and broadcast,
the fusion fence, the gradient-selecting mask. (The transcendentals live
in ``mlx_losses/_numerics.py``.)"""

from __future__ import annotations

import warnings
from typing import Tuple

import mlx.core as mx

from .._dtypes import result_dtype, upcast
from .._reduction import single
from .._validation import broadcast_shapes, check_floating, fmt_shape, user_stacklevel

__all__ = ["check_pair", "broadcast_pair", "unfused", "zero_where"]


def check_pair(
    fn: str, input: mx.array, target: mx.array, *, warn: bool = True, floating: bool = True
) -> Tuple[Tuple[int, ...], mx.Dtype]:
    """:func:`broadcast_pair`'s checks and warning, without building arrays:
    returns the broadcast shape and the output dtype. ``floating=False``:
    the caller has checked the dtypes."""
    if floating:
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


def unfused(op, a: mx.array, *args) -> mx.array:
    """``op(a, *args)`` as a loop of its own, even inside an ``mx.compile``
    (ours or a caller's compiled training step).

    The reshapes around it are boundaries that MLX's compiler does not fuse
    across, so ``op`` stays MLX's own vectorised kernel. On the CPU, MLX's
    JIT turns a ``minimum`` / ``maximum`` / ``clip`` / ``where`` fused into
    further arithmetic into a branch, which mispredicts on real-valued data
    (smooth_l1's compiled forward+backward is several times slower fused;
    the figures are in docs/performance.md).

    The reshapes are no copies for a contiguous ``a`` (a fresh result, an
    input array); a broadcast view is copied once, a pass far cheaper than
    the op. The temporary shape differs from ``a``'s, since a reshape to the
    same shape is no operation and so no boundary. ``args`` broadcast
    against the flat ``a`` (scalars). Not for ``shapeless`` compiles (the
    shapes are fixed here).
    """
    flat = (a.size,) if a.shape != (a.size,) else (a.size, 1)
    return op(a.reshape(flat), *args).reshape(a.shape)



@mx.custom_function
def zero_where(mask: mx.array, x: mx.array) -> mx.array:
    """``x`` with 0 where ``mask`` (same shapes), and the gradient selected
    the same way. The VJP of ``mx.where`` multiplies the cotangent by the
    mask, so an inf or NaN cotangent (a 'mean' over weights that sum to 0)
    would give the masked entries NaN gradients where torch's are 0."""
    return mx.where(mask, mx.zeros((), x.dtype), x)


@zero_where.vjp
def _zero_where_vjp(primals, cotangents, outputs):
    mask, x = primals
    g = single(cotangents)
    return mx.zeros_like(mask), mx.where(mask, mx.zeros((), g.dtype), g)
