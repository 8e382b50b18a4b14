"""Margin and multi-label losses: hinge embedding, soft margin, multi-label
soft margin, multi-label margin, multi-class margin and margin ranking.

Every hinge here follows torch's choice at the kink exactly:

* ``hinge_embedding_loss`` and ``margin_ranking_loss`` are composites of
  ``clamp_min(v, 0)`` in torch, whose gradient passes where ``v >= 0``: at a
  tie (``v == 0``) the gradient flows (``_clamp_min0``).
* ``multi_margin_loss`` and ``multilabel_margin_loss`` are hand-written CPU
  kernels in torch that add a term only ``if (z > 0)``: at a tie the gradient
  is zero, and a NaN ``z`` adds nothing (``_relu_gt``).

Class-index targets are range-checked in eager mode (tier (c), switchable);
when the check is off or the call is traced, an index out of range never
reads out of bounds: it is replaced by a safe one and its row's loss is NaN.
"""

from __future__ import annotations

import math
import struct
from typing import Optional

import mlx.core as mx

from .._device import compile_by_branch
from .._reduction import (
    acc_dtype,
    accurate_sum,
    apply_reduction,
    global_sum,
    mean_from_sum,
    resolve_reduction,
    single,
)
from .._validation import (
    ShapeError,
    ValueCheckError,
    broadcast_shapes,
    check_array,
    check_floating,
    check_integer,
    check_number,
    dtype_name,
    fmt_shape,
    _min_max,
    message,
    run_value_check,
)
from ._common import exp_nonpos, result_dtype, upcast
from .classification import _bce_logits_dx_from_exp, _softplus_neg, _with_bce_logits_backward

__all__ = [
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multilabel_margin_loss",
    "multi_margin_loss",
    "margin_ranking_loss",
]


# --------------------------------------------------------------------------
# hinges with torch's tie rules


def _clamp_min0(v: mx.array) -> mx.array:
    """``torch.clamp_min(v, 0)``: NaN propagates, and the gradient passes
    where ``v >= 0`` (so at the tie ``v == 0``) and nowhere else."""
    # MLX's maximum(0, v) is exactly that: the value propagates NaN (and
    # keeps v = -0.0), and its VJP w.r.t. the second operand is masked by
    # 0 <= v (tie passes, NaN gets 0). One op instead of the five of
    # where(v >= 0, v, stop_gradient(where(v < 0, 0, v))): under mx.grad a
    # compiled kernel runs op by op, and each op is a graph node (a few
    # microseconds each, most of the time at small sizes). Tested against
    # that where-form, value and gradient, in tests/test_margin.py.
    return mx.maximum(0, v)


def _relu_gt(v: mx.array) -> mx.array:
    """torch's ``if (z > 0) sum += z``: zero (and zero gradient) at the tie
    ``v == 0`` and where ``v`` is NaN."""
    return mx.where(v > 0, v, 0)


# --------------------------------------------------------------------------
# elementwise kernels, compiled: each one fused pass over its inputs


# hinge_embedding_loss: forward and backward by hand (``mx.custom_function``).
# torch's loss is where(y != 1, clamp_min(m - x, 0), 0) + where(y != -1, x, 0)
# (a target that is neither 1 nor -1 gets both terms). Under an eager
# ``mx.grad`` a compiled kernel runs op by op, and MLX's CPU ``where`` is
# scalar code (about 5 ns per element, ten times an add): the two ``where``
# of the forward and those of their VJPs were most of the time. Here each
# ``where(mask, v, 0)`` is an integer product of ``v``'s bits with the 0/1
# mask, exact for every value (inf and NaN included, unlike ``mask * v``),
# and the forward also returns the derivative d = [y != -1] - [y != 1][x <= m]
# as int8 (torch's clamp_min passes the tie; NaN gives 0), so the backward
# is one product: cotangent * d.
_BITS = {mx.float16: mx.int16, mx.bfloat16: mx.int16, mx.float32: mx.int32, mx.float64: mx.int64}


def _exact_in(value: float, dtype: mx.Dtype) -> bool:
    """Whether the Python number ``value`` is exactly representable in
    ``dtype`` (decided in Python: no evaluation)."""
    v = float(value)
    if dtype == mx.float64 or not math.isfinite(v):
        return True
    if dtype == mx.float16:
        fmt = "e"
    else:
        fmt = "f"
    try:
        r = struct.unpack(fmt, struct.pack(fmt, v))[0]
    except OverflowError:
        return False
    if r != v:
        return False
    if dtype == mx.bfloat16:
        # bfloat16 is the upper half of a float32
        return struct.unpack("<I", struct.pack("<f", v))[0] & 0xFFFF == 0
    return True


def _keep(v: mx.array, mask: mx.array) -> mx.array:
    """``where(mask, v, 0)`` (bit-exact, any value) without MLX's ``where``."""
    return mx.view(mx.view(v, _BITS[v.dtype]) * mask, v.dtype)


@mx.compile
def _hinge_fwd(x: mx.array, y: mx.array, m: mx.array):
    # (compiled: one fused pass when no gradient is traced)
    not_pos, not_neg = y != 1, y != -1
    # clamp_min(m - x, 0): MLX's maximum propagates NaN, as torch's clamp.
    loss = _keep(mx.maximum(m - x, 0), not_pos) + _keep(x, not_neg)
    # (m - x >= 0 is x <= m: the sign of a difference is exact)
    d = not_neg.astype(mx.int8) - (not_pos & (x <= m))
    return loss, d


@mx.custom_function
def _hinge(x: mx.array, y: mx.array, m: mx.array):
    return _hinge_fwd(x, y, m)


@_hinge.vjp
def _hinge_vjp(primals, cotangents, outputs):
    x, y, m = primals
    # (int8 d promotes to the cotangent's dtype: one pass, no converted copy)
    g = (cotangents[0] * outputs[1]).astype(x.dtype)
    return g, mx.zeros_like(y), mx.zeros_like(m)


# 'mean' / 'sum': the sum is taken inside the custom function, so the
# elementwise loss (and, for half inputs, its float32 copy for the
# accurate sum) is freed after the forward; only int8 d waits for the
# backward, which scales it by the scalar cotangent.
@mx.custom_function
def _hinge_sum(x: mx.array, y: mx.array, m: mx.array):
    loss, d = _hinge_fwd(x, y, m)
    return accurate_sum(loss), d


@_hinge_sum.vjp
def _hinge_sum_vjp(primals, cotangents, outputs):
    x, y, m = primals
    # (the cotangent rounded to the input dtype first, as torch's half
    # backward: grad / N in bfloat16 times the 0/+-1 derivative)
    g = cotangents[0].astype(x.dtype) * outputs[1]
    return g, mx.zeros_like(y), mx.zeros_like(m)


@mx.compile
def _soft_margin_fwd(x: mx.array, y: mx.array) -> mx.array:
    # log(1 + exp(-y x)) as softplus(-y x) = logaddexp(0, -y x): no overflow
    # of exp for large |y x| (torch's kernel gives inf there); in float64 as
    # relu + log1p(e**-|.|), accurate to the last bits (MLX's float64 exp is
    # float32-accurate, and the backward reads this value).
    return _softplus_neg(y * x)


@compile_by_branch
def _soft_margin_dx(x: mx.array, y: mx.array, g: mx.array, loss: mx.array) -> mx.array:
    # d/dx softplus(-y x) = -y sigmoid(-y x) = -y exp(-y x - softplus(-y x)):
    # one exp of an argument <= 0 (the fast e**x on the CPU) from the
    # forward's own output, against autodiff's exp of logaddexp. At 2M
    # float32 elements, eager forward+backward 0.72-0.75x the time, 24 MiB
    # peak against 32. (Half inputs come in upcast: casting inside the
    # kernels instead saved the forward's float32 copy, 24 -> 8 MiB, but
    # the backward's two recasts raised its eager peak 44 -> 52 MiB.)
    return -g * y * exp_nonpos(-y * x - loss)


@mx.custom_function
def _soft_margin(x: mx.array, y: mx.array) -> mx.array:
    return _soft_margin_fwd(x, y)


@_soft_margin.vjp
def _soft_margin_vjp(primals, cotangents, outputs):
    # the target is not differentiated (torch refuses to)
    x, y = primals
    g, loss = single(cotangents), single(outputs)
    return _soft_margin_dx(x, y, g, loss), mx.zeros_like(y)


@compile_by_branch
def _multilabel_soft_margin_fwd(x: mx.array, y: mx.array) -> mx.array:
    # -(y log sigmoid(x) + (1 - y) log sigmoid(-x)) = y softplus(-x) +
    # (1 - y) softplus(x). Both softplus share log1p(exp(-|x|)) (with
    # relu(+-x) = (|x| +- x) / 2): one exp (the fast one for arguments <= 0)
    # and one log1p per element instead of two logaddexp. Exact cancellation
    # of the linear terms where y is 0 or 1.
    a = mx.abs(x)
    return 0.5 * a + (0.5 - y) * x + mx.log1p(exp_nonpos(-a))


# The per-element term is binary_cross_entropy_with_logits' (without
# pos_weight), and so is the hand-written backward: d/dx = sigmoid(x) - y
# (torch's 1/2 - y at x = 0), d/dy = -x, here from the forward's own exp of
# -|x| (_bce_logits_dx_from_exp), which a compiled step merges with the
# forward's: one exp pass in all. Autodiff through the forward above held
# about nine (N, C) arrays at the peak under an eager grad (72 MiB at 2097 x
# 1000 float32; 58 with this backward). BCE-with-logits' sigmoid-form
# backward would take it to 40 MiB and 0.8x the eager time, but doubles the
# compiled step's (two exp passes: 28 -> 56 ms): the compiled step wins.

_multilabel_soft_margin = _with_bce_logits_backward(_multilabel_soft_margin_fwd,
                                                    _bce_logits_dx_from_exp)


@mx.compile
def _margin_ranking(x1: mx.array, x2: mx.array, y: mx.array, margin: mx.array) -> mx.array:
    return _clamp_min0(-y * (x1 - x2) + margin)


def _multi_margin_terms(x, t, margin, p):
    # z_i = margin - x[t] + x_i for every class i but the target; torch adds
    # h(z_i) only if z_i > 0, with h(z) = z (p=1) or z^2 (p=2).
    u = mx.take_along_axis(x, t, axis=1)
    z = margin - u + x
    h = _relu_gt(z) if p == 1 else mx.where(z > 0, z * z, 0)
    # (written t != arange: MLX 0.32 vmaps `arange != t` with the wrong axes)
    return mx.where(t != mx.arange(x.shape[1]), h, 0)


_multi_margin_p2 = mx.compile(lambda x, t, margin: _multi_margin_terms(x, t, margin, 2))


# multi_margin_loss, p = 1: per-row sums with a hand-written backward. The
# forward sums h(z_i) = z_i [z_i > 0] over every class (``_keep``: no MLX
# ``where``, NaN adds nothing as in torch) and subtracts the target column's
# term, instead of masking the column out. The gradient is
# s [z_i > 0] off the target and -s k at it (k: the count of positive
# non-target terms), from the saved bool mask: two (N, C) passes in the
# input's dtype and a scatter of N values, instead of autodiff's chain
# through two ``where`` and a float32 copy.
@mx.compile
def _multi_margin_p1_fwd(x: mx.array, t: mx.array, margin: mx.array):
    # (compiled: fused when no gradient is traced). z in float32 for half
    # inputs: the (N, 1) float32 margin - x[t] promotes x in the add itself,
    # with no float32 copy of x.
    z = (margin - upcast(mx.take_along_axis(x, t, axis=1), x.dtype)) + x
    pos = z > 0
    h = _keep(z, pos)
    rows = accurate_sum(h, axis=1) - mx.take_along_axis(h, t, axis=1)[:, 0]
    k = mx.sum(pos, axis=1) - mx.take_along_axis(pos, t, axis=1)[:, 0]
    return rows, pos, k


@mx.custom_function
def _multi_margin_p1_rows(x: mx.array, t: mx.array, margin: mx.array):
    return _multi_margin_p1_fwd(x, t, margin)


@_multi_margin_p1_rows.vjp
def _multi_margin_p1_rows_vjp(primals, cotangents, outputs):
    x, t, margin = primals
    _, pos, k = outputs
    s = cotangents[0]
    g = pos * mx.expand_dims(s.astype(x.dtype), 1)
    g = mx.put_along_axis(g, t, mx.expand_dims((-k * s).astype(x.dtype), 1), axis=1)
    return g, mx.zeros_like(t), mx.zeros_like(margin)


def _multilabel_margin_rows(
    x: mx.array, ys: mx.array, slot: mx.array, is_target: mx.array
) -> mx.array:
    """Per row, the sum over label slots j (before the first -1) and
    non-target classes i of ``z = 1 - x[y_j] + x_i`` where ``z > 0``.

    Not the O(C^2) pairwise table: with ``t_j = x[y_j] - 1`` a slot adds
    ``sum_{i: x_i > t_j} (x_i - t_j) = top_j - k_j t_j``, where ``k_j`` counts
    the non-target classes strictly above ``t_j`` and ``top_j`` sums them.
    Sorting the non-target scores once per row, ``k_j`` is found by a
    vectorised binary search (log2 C gathers) and ``top_j`` from a prefix
    sum: O(C log C) per row. The counts compare the unshifted values, so a
    tie ``x_i == t_j`` is excluded exactly as torch's ``if (z > 0)``; the
    gradient (``k_j`` and the per-class counts) is exact.
    """
    N, C = x.shape
    x0 = mx.stop_gradient(x)
    tq = mx.take_along_axis(x0, ys, axis=1) - 1
    key = mx.where(is_target, -mx.inf, x0)
    perm = mx.argsort(key, axis=1)
    skey = mx.take_along_axis(key, perm, axis=1)
    # Upper bound: the first sorted position whose key is > t_j.
    # (built from ``ys``, not mx.zeros: keeps every operand batched under vmap)
    lo = mx.zeros_like(ys)
    hi = lo + C
    for _ in range(max(1, math.ceil(math.log2(C + 1)))):
        mid = (lo + hi) // 2
        v = mx.take_along_axis(skey, mx.minimum(mid, C - 1), axis=1)
        # (mx.where, not ``&``/``|``: MLX 0.32's vmap of logical_and on
        # these operands gives wrong values)
        right = mx.where(lo < hi, v <= tq, False)
        lo = mx.where(right, mid + 1, lo)
        hi = mx.where(right, hi, mx.where(lo >= hi, hi, mid))
    k = (C - lo).astype(x.dtype)
    # The sums run on row-centred values (z only sees differences): smaller
    # magnitudes, smaller float32 error in top_j - k_j t_j.
    xc = x - mx.stop_gradient(mx.mean(x, axis=1, keepdims=True))
    t = mx.take_along_axis(xc, ys, axis=1) - 1
    sval = mx.take_along_axis(mx.where(is_target, 0, xc), perm, axis=1)
    csum = mx.cumsum(sval, axis=1)
    # sum of sorted positions >= lo: total - (exclusive prefix sum at lo)
    below = mx.take_along_axis(csum, mx.maximum(lo - 1, 0), axis=1)
    top = csum[:, -1:] - mx.where(lo > 0, below, 0)
    return mx.sum(mx.where(slot, top - k * t, 0), axis=1)


_multilabel_margin_rows_compiled = mx.compile(_multilabel_margin_rows)


# --------------------------------------------------------------------------
# shared checks


def _check_target_numeric(fn: str, target, *, allow_bool: bool) -> mx.array:
    """A target of real numbers: floating or integer (torch promotes)."""
    check_array(fn, "target", target)
    dt = target.dtype
    ok = mx.issubdtype(dt, mx.floating) or mx.issubdtype(dt, mx.integer)
    if allow_bool and dt == mx.bool_:
        ok = True
    if not ok:
        kinds = "a floating, integer or bool dtype" if allow_bool else "a floating or integer dtype"
        raise TypeError(message(fn, "target", f"have {kinds}", dtype_name(dt)))
    return target


def _margin_array(fn: str, margin, dtype: mx.Dtype) -> mx.array:
    check_number(fn, "margin", margin)
    return mx.array(margin, dtype=dtype)


def _finish(loss: mx.array, reduction: str, out: mx.Dtype) -> mx.array:
    """The reduction (accumulated in float32 for half types), cast back once."""
    return apply_reduction(loss, reduction).astype(out)


def _class_input(fn: str, input: mx.array):
    """torch's ``(C)`` / ``(N, C)`` input of the class-index margin losses
    (a 0-d input counts as one sample of one class): returns it as (N, C)."""
    check_floating(fn, "input", input)
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise ShapeError(
            message(
                fn,
                "input",
                "be (C) or (N, C) with C > 0 (Expected non-empty vector or matrix "
                "with optional 0-dim batch size)",
                fmt_shape(input.shape),
            )
        )
    if input.ndim == 2:
        return input
    return input.reshape(1, -1)


# --------------------------------------------------------------------------
# public functions


def hinge_embedding_loss(
    input: mx.array,
    target: mx.array,
    margin: float = 1.0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss``.

    .. math::
        \ell_n = \begin{cases}
            x_n, & y_n = 1 \\
            \max(0, \Delta - x_n), & y_n = -1
        \end{cases}

    where :math:`\Delta` is ``margin``. As in torch, a target that is
    neither 1 nor -1 gets both terms added. The gradient at the kink
    :math:`x_n = \Delta` is torch's: that of :math:`\Delta - x_n`.

    Args:
        input (array): Usually distances, any shape; floating.
        target (array): Labels 1 or -1, broadcastable with ``input``
            (floating, integer or bool; not differentiated).
        margin (float, optional): The margin :math:`\Delta`. Default: ``1.0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input: :math:`(*)`; Target: broadcastable with the input.
        - Output: scalar, or the broadcast shape with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype (as in torch, the target's
        dtype does not take part).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import hinge_embedding_loss
        >>> x, y = mx.array([0.5, 0.25, 2.0]), mx.array([1.0, -1.0, -1.0])
        >>> hinge_embedding_loss(x, y, reduction="none").tolist()
        [0.5, 0.75, 0.0]
    """
    fn = "hinge_embedding_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input", input)
    _check_target_numeric(fn, target, allow_bool=True)
    shape = broadcast_shapes(fn, ("input", "target"), input, target)
    check_number(fn, "margin", margin)
    out = input.dtype
    # The elementwise loss is computed in the input's dtype, as torch's
    # kernels (m - x rounded once); the reduction accumulates in float32.
    # A margin that the dtype cannot hold exactly is used in float32
    # (torch's opmath; the loss is then rounded once at the end). A margin
    # the dtype holds stays in it: no float32 copy of x.
    m = mx.array(margin, dtype=out if _exact_in(margin, out) else acc_dtype(out))
    x, y = mx.broadcast_to(input, shape), mx.broadcast_to(target, shape)
    if reduction == "none":
        loss, _ = _hinge(x, y, m)
        return loss.astype(out)
    total = global_sum(_hinge_sum(x, y, m)[0])
    if reduction == "mean":
        total = mean_from_sum(total, x.size)
    return total.astype(out)


def soft_margin_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Two-class logistic loss, as ``torch.nn.functional.soft_margin_loss``.

    .. math::
        \ell_n = \log\left(1 + e^{-y_n x_n}\right)

    computed as :math:`\operatorname{softplus}(-y_n x_n)` (``mx.logaddexp``),
    which stays finite where torch's ``log1p(exp(.))`` overflows to inf
    (:math:`-y x` beyond about 88 in float32, 11 in float16).

    Args:
        input (array): Scores, any shape; floating.
        target (array): Labels 1 or -1, broadcastable to ``input``'s shape
            (floating, integer or bool; not differentiated, as in torch).
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input: :math:`(*)`; Target: broadcastable to the input's shape.
        - Output: scalar, or :math:`(*)` (the input's shape) with
          ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import soft_margin_loss
        >>> round(soft_margin_loss(mx.array([0.0, 0.0]), mx.array([1.0, -1.0])).item(), 4)
        0.6931
    """
    fn = "soft_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input", input)
    _check_target_numeric(fn, target, allow_bool=True)
    shape = broadcast_shapes(fn, ("input", "target"), input, target)
    if shape != tuple(input.shape):
        raise ShapeError(
            message(
                fn,
                "target",
                f"broadcast to the shape of `input`, {fmt_shape(input.shape)}",
                f"{fmt_shape(target.shape)}: output with shape {list(input.shape)} "
                f"doesn't match the broadcast shape {list(shape)}",
            )
        )
    out = input.dtype
    x = upcast(input, out)
    loss = _soft_margin(x, target.astype(x.dtype))
    return _finish(loss, reduction, out)


def multilabel_soft_margin_loss(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Multi-label one-versus-all logistic loss, as
    ``torch.nn.functional.multilabel_soft_margin_loss``.

    .. math::
        \ell_n = -\frac{1}{C} \sum_{c} w_c \left[ y_{nc} \log \sigma(x_{nc})
            + (1 - y_{nc}) \log \sigma(-x_{nc}) \right]

    The mean over the classes (the last dimension) comes first, then the
    reduction over the rest. :math:`\log\sigma` is computed stably as
    :math:`-\operatorname{softplus}(-x)`.

    Args:
        input (array): Logits :math:`(*, C)`; floating.
        target (array): Targets in [0, 1] (floating or integer, not bool),
            broadcastable with ``input``; differentiated, as in torch.
        weight (array, optional): Weights broadcastable with the loss, usually
            per class :math:`(C)`; differentiated. Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input: :math:`(N, C)` or :math:`(C)` (any :math:`(*, C)` works, as
          in torch); Target: same shape.
        - Output: scalar, or :math:`(N)` (:math:`(*)`) with
          ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input``, a floating
        ``target`` and ``weight``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import multilabel_soft_margin_loss
        >>> x, y = mx.zeros((2, 3)), mx.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        >>> round(multilabel_soft_margin_loss(x, y).item(), 4)
        0.6931
    """
    fn = "multilabel_soft_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input", input)
    _check_target_numeric(fn, target, allow_bool=False)
    if input.ndim == 0:
        raise ShapeError(
            message(fn, "input", "have a class dimension, (C) or (N, C)", "a 0-d array")
        )
    arrays = [input, target]
    names = ["input", "target"]
    if weight is not None:
        check_floating(fn, "weight", weight)
        arrays.append(weight)
        names.append("weight")
    broadcast_shapes(fn, tuple(names), *arrays)
    floats = [a for a in arrays if mx.issubdtype(a.dtype, mx.floating)]
    out = result_dtype(*floats)
    x = upcast(input, out)
    loss = _multilabel_soft_margin(x, target.astype(x.dtype))
    if weight is not None:
        loss = loss * upcast(weight, out)
    # torch sums over input's last dimension of the (broadcast) loss.
    C = input.shape[-1]
    class_dim = input.ndim - 1
    per_row = accurate_sum(loss, axis=class_dim) / mx.array(C, dtype=loss.dtype)
    return _finish(per_row, reduction, out)


def multilabel_margin_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Multi-class multi-label hinge loss, as
    ``torch.nn.functional.multilabel_margin_loss``.

    .. math::
        \ell_n = \frac{1}{C} \sum_{j} \sum_{i \notin Y_n}
            \max\left(0, 1 - (x_{n, y_{nj}} - x_{ni})\right)

    where :math:`y_{nj}` runs over the labels of row :math:`n` before its
    first ``-1`` (later entries are ignored) and :math:`Y_n` is their set; a
    repeated label counts once per repetition, as in torch. A term adds only
    where its hinge is strictly positive (torch's kernel): at a tie the
    gradient is zero.

    Computed for all rows at once (no loop per sample) in
    :math:`O(N C \log C)`: one sort per row, a vectorised binary search
    and a prefix sum (not the :math:`(N, C, C)` table of pairs).

    Args:
        input (array): Scores :math:`(C)` or :math:`(N, C)`; floating.
        target (array): Class indices, same shape as ``input``, padded with
            ``-1`` after the labels (any integer dtype; torch wants int64).
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input: :math:`(C)` or :math:`(N, C)`; Target: the same shape.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Raises:
        ValueError: in eager mode, for a target entry outside
            :math:`[-1, C)` (torch: "argument #2 'target' is out of range");
            with value checks off or under a trace, that row's loss is NaN.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import multilabel_margin_loss
        >>> x = mx.array([[0.1, 0.2, 0.4, 0.8]])
        >>> y = mx.array([[3, 0, -1, 1]])
        >>> round(multilabel_margin_loss(x, y).item(), 4)
        0.85
    """
    fn = "multilabel_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    x2 = _class_input(fn, input)
    check_integer(fn, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(
            message(
                fn,
                "target",
                f"have the shape of `input`, {fmt_shape(input.shape)}",
                f"{fmt_shape(target.shape)} (inconsistent target size)",
            )
        )
    N, C = x2.shape
    y = target.reshape(N, C)

    def check() -> bool:
        if y.size == 0:
            return False
        lo_v, hi_v = _min_max(y)  # one eval
        if lo_v < -1 or hi_v >= C:
            bad = lo_v if lo_v < -1 else hi_v
            raise ValueCheckError(
                message(
                    fn,
                    "target",
                    f"hold class indices in [0, {C}) padded with -1",
                    f"{bad}: argument #2 'target' is out of range",
                )
            )
        return True

    # True: the eager check found every entry in [-1, C), so no row is bad
    # and the masks below that guard against bad entries are skipped (each
    # is a graph node: microseconds at eval, most of a small batch's time).
    checked = bool(run_value_check(check))

    out = input.dtype
    x = upcast(x2, out)
    pos = mx.arange(C)
    # Slots before the first -1 hold the labels; the rest are ignored.
    end = mx.min(mx.where(y == -1, pos, C), axis=1, keepdims=True)
    slot = pos < end
    if checked:
        # a slot holds no -1 (it lies before the first) and every entry is
        # >= -1, so every slot entry is in [0, C)
        bad_row = None
        ys = mx.where(slot, y, 0)
    else:
        # torch rejects any entry outside [-1, C) (checks off / traced: NaN row).
        bad_row = mx.any((y < -1) | (y >= C), axis=1)
        ys = mx.where(slot & (y >= 0) & (y < C), y, 0)
    # is_target[n, i]: class i is one of row n's labels (scatter, O(N C)).
    marks = mx.zeros((N, C + 1), dtype=mx.int32)
    marks = mx.put_along_axis(marks, mx.where(slot, ys, C), mx.array(1, dtype=mx.int32), axis=1)
    is_target = marks[:, :C] > 0
    per_row = _multilabel_margin_rows_compiled(x, ys, slot, is_target) / C
    if bad_row is not None:
        per_row = mx.where(bad_row, mx.array(float("nan"), dtype=per_row.dtype), per_row)
    if input.ndim < 2:
        per_row = per_row.reshape(())
    return _finish(per_row, reduction, out)


def multi_margin_loss(
    input: mx.array,
    target: mx.array,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Multi-class hinge loss, as ``torch.nn.functional.multi_margin_loss``.

    .. math::
        \ell_n = \frac{1}{C} \sum_{i \ne y_n}
            w_{y_n} \max\left(0, \Delta - x_{n, y_n} + x_{ni}\right)^p

    A term adds only where its hinge is strictly positive (torch's kernel):
    at a tie the gradient is zero.

    Args:
        input (array): Scores :math:`(C)` or :math:`(N, C)`; floating.
        target (array): Class indices :math:`()` or :math:`(N)` in
            :math:`[0, C)` (any integer dtype; torch wants int64).
        p (int, optional): 1 or 2. Default: ``1``.
        margin (float, optional): The margin :math:`\Delta`. Default: ``1.0``.
        weight (array, optional): Per-class weights :math:`(C)` (cast to the
            input's dtype; not differentiated, as in torch). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input: :math:`(C)` or :math:`(N, C)`; Target: :math:`()`,
          :math:`(1)` or :math:`(N)`.
        - Output: scalar, or the target's shape with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Raises:
        ValueError: for ``p`` other than 1 or 2 ("only p == 1 and p == 2
            supported"); in eager mode, for a target outside :math:`[0, C)`
            (with value checks off or under a trace, that row's loss is NaN).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import multi_margin_loss
        >>> x = mx.array([[0.1, 0.2, 0.4, 0.8]])
        >>> round(multi_margin_loss(x, mx.array([3])).item(), 4)
        0.325
    """
    fn = "multi_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(message(fn, "p", "be 1 or 2", f"{p!r}: only p == 1 and p == 2 supported"))
    x2 = _class_input(fn, input)
    check_integer(fn, "target", target)
    N, C = x2.shape
    if target.ndim > 1 or target.size != N:
        raise ShapeError(
            message(
                fn,
                "target",
                f"have shape ({N},) for `input` of shape {fmt_shape(input.shape)} (target "
                "tensor should be 1-D with size equal to the number of input samples)",
                fmt_shape(target.shape),
            )
        )
    if weight is not None:
        check_floating(fn, "weight", weight)
        if weight.ndim != 1:
            raise ValueError(
                message(fn, "weight", "be 1-D (weight must be one-dimensional)",
                        f"{weight.ndim}-D of shape {fmt_shape(weight.shape)}")
            )
        if weight.shape[0] != C:
            raise ShapeError(
                message(fn, "weight", f"have shape ({C},) (inconsistent weight size)",
                        fmt_shape(weight.shape))
            )
    check_number(fn, "margin", margin)
    t = target.reshape(N)

    def check() -> bool:
        if t.size == 0:
            return False
        lo_v, hi_v = _min_max(t)  # one eval
        if lo_v < 0 or hi_v >= C:
            bad = lo_v if lo_v < 0 else hi_v
            raise ValueCheckError(
                message(fn, "target", f"hold class indices in [0, {C})",
                        f"{bad}: target out of range")
            )
        return True

    # True: the eager check found every target in [0, C): no masks needed
    checked = bool(run_value_check(check))

    out = input.dtype
    valid = None if checked else (t >= 0) & (t < C)
    ts = mx.expand_dims(t if checked else mx.where(valid, t, 0), 1)
    if p == 1:
        rows, _, _ = _multi_margin_p1_rows(x2, ts, mx.array(margin, dtype=acc_dtype(out)))
        per_row = rows / C
    else:
        x = upcast(x2, out)
        terms = _multi_margin_p2(x, ts, mx.array(margin, dtype=x.dtype))
        per_row = accurate_sum(terms, axis=1) / C
    if weight is not None:
        per_row = per_row * mx.take(upcast(weight, out).astype(per_row.dtype), ts[:, 0])
    if valid is not None:
        per_row = mx.where(valid, per_row, mx.array(float("nan"), dtype=per_row.dtype))
    per_row = per_row.reshape(target.shape)
    return _finish(per_row, reduction, out)


def margin_ranking_loss(
    input1: mx.array,
    input2: mx.array,
    target: mx.array,
    margin: float = 0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
) -> mx.array:
    r"""Margin ranking loss, as ``torch.nn.functional.margin_ranking_loss``.

    .. math::
        \ell_n = \max\left(0, -y_n (x_{1n} - x_{2n}) + \Delta\right)

    At the kink the gradient passes (torch's ``clamp_min``); all three
    inputs are differentiated, the target included, as in torch.

    Args:
        input1 (array): First scores; floating.
        input2 (array): Second scores; floating.
        target (array): 1 (``input1`` should rank higher) or -1; floating or
            integer.
        margin (float, optional): The margin :math:`\Delta`. Default: ``0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.

    Shape:
        - Input1, Input2, Target: the same number of dimensions (torch's
          rule), broadcastable to one shape.
        - Output: scalar, or the broadcast shape with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of the three.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import margin_ranking_loss
        >>> a, b, y = mx.array([1.0, 2.0]), mx.array([2.0, 1.0]), mx.array([1.0, 1.0])
        >>> margin_ranking_loss(a, b, y, reduction="none").tolist()
        [1.0, 0.0]
    """
    fn = "margin_ranking_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input1", input1)
    check_floating(fn, "input2", input2)
    _check_target_numeric(fn, target, allow_bool=False)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise ShapeError(
            message(
                fn,
                "input1`, `input2` and `target",
                "have the same number of dimensions (All input tensors should have same "
                "dimension)",
                f"input1: {fmt_shape(input1.shape)}, input2: {fmt_shape(input2.shape)}, "
                f"target: {fmt_shape(target.shape)}",
            )
        )
    broadcast_shapes(fn, ("input1", "input2", "target"), input1, input2, target)
    out = result_dtype(input1, input2, target)
    if not mx.issubdtype(out, mx.floating):  # pragma: no cover (inputs are floating)
        out = input1.dtype
    dt = upcast(input1, out).dtype
    loss = _margin_ranking(
        input1.astype(dt), input2.astype(dt), target.astype(dt), _margin_array(fn, margin, dt)
    )
    return _finish(loss, reduction, out)
