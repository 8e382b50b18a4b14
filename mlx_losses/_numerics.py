"""The transcendentals and their one device / dtype policy.

Every exp, log1p, sigmoid, softplus, log-sum-exp and softmax a kernel takes
where MLX's own op is inaccurate (float64 on the CPU) or slow (float32 on
the CPU) comes from here; which form runs is decided by ``_device``'s
policy (:func:`mlx_losses._device.cpu_branches`) and the dtype, here only.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import mlx.core as mx

from ._device import cpu_branches

__all__ = [
    "exp",
    "exp_nonpos",
    "sigmoid",
    "sigmoid_neg",
    "softplus_neg",
    "log1p",
    "logsumexp",
    "logsumexp_nonpos",
    "softmax_parts",
    "logaddexp",
]


# Transcendentals: accurate in float64 and fast on the CPU.
#
# MLX 0.32's CPU ``exp`` (and so ``softmax``, ``logsumexp``, ``logaddexp``,
# ``sigmoid``) evaluates a polynomial through ``fma``, which this build runs in
# software on x86-64: slow, and with float32 accuracy even for float64.
# ``e ** x`` (``mx.power``, the C library's ``pow``) is accurate to rounding
# in float64 and, in float32, faster than ``exp`` (docs/performance.md): for
# arguments <= 0 its error (about 3e-8 |x| relative, from rounding e) is below
# ``exp``'s own (up to 2e-6 relative) down to x = -60, and an absolute error
# there is far below float32 rounding of anything the value is added to. So
# exps of arguments <= 0 (a softmax's shifted logits, a softplus's -|x|) use
# it in float32 on the CPU (``exp_nonpos``, ``softmax_parts``) and in float64
# everywhere; other devices keep MLX's fused kernels (``mx.softmax`` is one
# pass on a GPU). Measure memory too before using it: an op-by-op max /
# ``e ** x`` / sum holds more full-size temporaries than MLX's primitives.


def _cpu_float32(dtype: mx.Dtype) -> bool:
    """float32 on the CPU: where MLX's ``exp`` and ``log1p`` are the slow
    ones and the forms below pay off (the device policy: ``_device``)."""
    return dtype == mx.float32 and cpu_branches()


def _power_exp(dtype: mx.Dtype) -> bool:
    """Whether ``e ** x`` is the faster/accurate exp for ``dtype`` here."""
    return dtype == mx.float64 or _cpu_float32(dtype)


def exp(x: mx.array) -> mx.array:
    """``exp``, accurate in float64 too (any argument)."""
    if x.dtype == mx.float64:
        return mx.power(mx.array(math.e, dtype=mx.float64), x)
    return mx.exp(x)


def exp_nonpos(x: mx.array) -> mx.array:
    """``exp`` of arguments <= 0 (shifted by a maximum, or ``-|z|``): ``e ** x``
    in float32 on the CPU and in float64 (see above), ``mx.exp`` otherwise.
    Positive arguments are still right, less accurately (3e-8 x relative)."""
    if _power_exp(x.dtype):
        return mx.power(mx.array(math.e, dtype=x.dtype), x)
    return mx.exp(x)


def sigmoid(x: mx.array) -> mx.array:
    """The logistic function: ``1 / (1 + e ** -x)`` in float32 on the CPU and
    in float64 (see above), ``mx.sigmoid`` otherwise (one fused primitive).

    One chain of unary and binary ops, each of which can take over its
    input's buffer, so even run op by op (an eager grad) it holds one
    full-size array, where the ``where(x >= 0, 1, z) / (1 + z)`` form with
    ``z = e ** -|x|`` holds three (its ``z`` has two readers); both are
    faster than MLX's CPU ``sigmoid``. Below -88 (float32) ``e ** -x`` overflows and the result
    is 0, where the exact value is subnormal. Error against float64 over
    [-110, 110]: 2.7e-6 relative (``mx.sigmoid``'s: 3.8e-6); accurate to
    rounding in float64.
    """
    if _power_exp(x.dtype):
        # x * -1 rather than -x: mx.compile would merge -x with a forward's
        # own (softplus(-x) = logaddexp(0, -x)) and keep that full-size
        # array between the fused kernels (a higher peak in BCE-with-logits'
        # compiled step).
        return mx.reciprocal(1.0 + mx.power(mx.array(math.e, dtype=x.dtype), x * -1.0))
    return mx.sigmoid(x)


def sigmoid_neg(x: mx.array) -> mx.array:
    """``sigmoid(-x)``, without negating twice."""
    if _power_exp(x.dtype):
        return mx.reciprocal(1.0 + mx.power(mx.array(math.e, dtype=x.dtype), x))
    return mx.sigmoid(-x)


def log1p(x: mx.array) -> mx.array:
    """``log1p``, as one ``log`` pass in float32 on the CPU.

    MLX's CPU ``log1p`` costs several times ``log``'s time per element
    (most for arguments in (-1, 0)). Goldberg's form
    (Theorem 4 of "What every computer scientist should know about
    floating-point arithmetic") rounds ``w = 1 + x`` and corrects the log by
    ``x / (w - 1)``: a few float32 ulps from exact (1.7e-7 relative at most
    over (-1, 1), measured against float64), about one ``log``'s time fused.
    ``w == 1`` (|x| below half an ulp of 1, -0.0 included) returns ``x``
    itself; ``x = -1`` gives -inf and NaN stays NaN, as ``log1p``. For ``x``
    in [-1, 1] (a probability, ``e**-|z|``): ``+inf`` would give NaN.
    Its six extra ops are full passes (and temporaries) when run op by op:
    use it inside a compiled kernel (measure the peak, see above). Other
    dtypes and devices keep ``mx.log1p``.
    """
    if _cpu_float32(x.dtype):
        w = 1.0 + x
        return mx.where(w == 1.0, x, mx.log(w) * (x / (w - 1.0)))
    return mx.log1p(x)


def _shift(x: mx.array, axis: int) -> mx.array:
    """The max along ``axis`` (kept), 0 where it is infinite (an all -inf row
    stays -inf, a +inf entry gives +inf), with no gradient."""
    m = mx.stop_gradient(mx.max(x, axis=axis, keepdims=True))
    return mx.where(mx.isinf(m), mx.zeros_like(m), m)


def logsumexp(x: mx.array, axis: int = -1, keepdims: bool = False) -> mx.array:
    """``mx.logsumexp``, accurate in float64 too (all -inf rows give -inf).

    Below float64 it stays MLX's single primitive even on the CPU: the
    max / ``e ** x`` / sum form is faster under autodiff but holds one
    more full-size array at the peak (cross-entropy's probability targets;
    several times the tiles' peak in linear_cross_entropy)."""
    if x.dtype != mx.float64:
        return mx.logsumexp(x, axis=axis, keepdims=keepdims)
    m = _shift(x, axis)
    out = m + mx.log(mx.sum(exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else mx.squeeze(out, axis=axis)


def softmax_parts(
    x: mx.array, axis: int = -1, dtype: Optional[mx.Dtype] = None
) -> Tuple[mx.array, mx.array, mx.array, mx.array]:
    """``(e, s, m, log_s)`` along ``axis`` from one exp pass over ``x``: the
    softmax is ``e / s``, ``m`` the shift (the max, 0 for an all -inf row)
    and ``log_s`` the log of ``sum(exp(x - m))`` (``s``, ``m`` and ``log_s``
    with the axis kept). The log-sum-exp is ``m + log_s``, but a loss should
    take ``(m - x_t) + log_s``: ``m + log_s`` is rounded at the scale of the
    logits, and ``lse - x_t`` then loses the O(1) loss's low digits (all of
    them at 1e8 in float32). Returning ``e`` and ``s`` rather than the
    softmax keeps one full-size array alive instead of two (``e / s`` is
    never built unless a caller needs it). ``dtype``: compute in it (``x`` is
    cast inside the exp pass, no copy of ``x`` is kept). No gradient flows
    through it (callers with a hand-written VJP)."""
    dtype = x.dtype if dtype is None else dtype
    if _power_exp(dtype):
        # shift by the max; an all -inf row by 0 (e = 0, s = 0: NaN softmax
        # and loss, as torch). A +inf entry stays the shift, so its row
        # is NaN throughout (inf - inf), as torch's softmax. The max is taken
        # of x itself (exact in any wider dtype): a cast shared by the max and
        # the exp could not be donated and stayed alive through an eager grad
        # (a higher peak, for a faster max: docs/performance.md).
        m = mx.max(x, axis=axis, keepdims=True).astype(dtype)
        m = mx.where(m == -math.inf, mx.zeros_like(m), m)
        e = exp_nonpos(x.astype(dtype) - m)
        s = mx.sum(e, axis=axis, keepdims=True)
        return e, s, m, mx.log(s)
    # MLX's fused softmax (s = 1). At the row's argmax the shifted exp is
    # exactly 1, so p there is 1 / sum(exp(x - max)): log_s = -log(p_max).
    x = x.astype(dtype)
    p = mx.softmax(x, axis=axis)
    k = mx.argmax(x, axis=axis, keepdims=True)
    m = mx.take_along_axis(x, k, axis=axis)
    return p, mx.ones_like(m), m, -mx.log(mx.take_along_axis(p, k, axis=axis))


def logaddexp(a: mx.array, b: mx.array) -> mx.array:
    """``mx.logaddexp``, accurate in float64 too."""
    if a.dtype != mx.float64:
        return mx.logaddexp(a, b)
    m = mx.maximum(a, b)
    m = mx.where(mx.isinf(m), mx.zeros_like(m), m)
    return m + mx.log(exp(a - m) + exp(b - m))


def softplus_neg(x: mx.array) -> mx.array:
    """log(1 + exp(-x)) = -log(sigmoid(x)), stable for any x."""
    if x.dtype != mx.float64:
        return mx.logaddexp(0.0, -x)
    # relu(-x) + log1p(exp(-|x|)); relu(-x) as (|x| - x) / 2 keeps the
    # gradient at x = 0 exact (-1/2), and is 0 at x = +inf (not inf - inf).
    relu_neg = mx.where(x < mx.inf, 0.5 * (mx.abs(x) - x), 0.0)
    return relu_neg + mx.log1p(exp(-mx.abs(x)))


def logsumexp_nonpos(x: mx.array, axis: int, keepdims: bool = False) -> mx.array:
    """log-sum-exp along ``axis`` with :func:`exp_nonpos` (its arguments are
    <= 0 after the shift by the max): by the device policy, accurate in
    float64. An all -inf row is shifted by 0 (-inf); a +inf max stays."""
    m = mx.max(x, axis=axis, keepdims=True)
    m = mx.where(m == -math.inf, mx.zeros_like(m), m)
    out = m + mx.log(mx.sum(exp_nonpos(x - m), axis=axis, keepdims=True))
    return out if keepdims else mx.squeeze(out, axis=axis)
