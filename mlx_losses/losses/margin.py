"""Margin and multi-label losses: hinge embedding, soft margin, multi-label
soft margin, multi-label margin, multi-class margin and margin ranking.

Every hinge here follows torch's choice at the kink exactly:

* ``hinge_embedding_loss`` and ``margin_ranking_loss`` are composites of
  ``clamp_min(v, 0)`` in torch, whose gradient passes where ``v >= 0``: at a
  tie (``v == 0``) the gradient flows (``_clamp_min0``).
* ``multi_margin_loss`` and ``multilabel_margin_loss`` are hand-written CPU
  kernels in torch that add a term only ``if (z > 0)``: at a tie the gradient
  is zero, and a NaN ``z`` adds nothing.

Class-index targets are range-checked in eager mode (tier (c), switchable);
when the check is off or the call is traced, an index out of range never
reads out of bounds: it is replaced by a safe one and its row's loss and
gradient are NaN.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, cast

import mlx.core as mx

from .._api import public_loss
from .._device import compile_by_branch
from .._dtypes import acc_dtype, exact_in, result_dtype, upcast
from .._reduction import accurate_sum, apply_reduction, reduce_with_vjp, single
from .._validation import (
    Reduction,
    ShapeError,
    ValueCheckError,
    broadcast_shapes,
    check_array,
    check_floating,
    check_integer,
    check_multi_margin_p,
    check_number,
    dtype_name,
    fmt_shape,
    _min_max,
    message,
    run_value_check,
    resolve_reduction,
)
from .._numerics import exp_nonpos, softplus_neg
from .classification import _sum_to

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


# --------------------------------------------------------------------------
# elementwise kernels, compiled: each one fused pass over its inputs


# hinge_embedding_loss: forward and backward by hand (``mx.custom_function``).
# torch's loss is where(y != 1, clamp_min(m - x, 0), 0) + where(y != -1, x, 0)
# (a target that is neither 1 nor -1 gets both terms). Under an eager
# ``mx.grad`` a compiled kernel runs op by op, and MLX's CPU ``where`` is
# scalar code (about ten times an add): the two ``where``
# of the forward and those of their VJPs were most of the time. Here each
# ``where(mask, v, 0)`` is an integer product of ``v``'s bits with the 0/1
# mask, exact for every value (inf and NaN included, unlike ``mask * v``),
# and the forward also returns the derivative d = [y != -1] - [y != 1][x <= m]
# as int8 (torch's clamp_min passes the tie; NaN gives 0), so the backward
# is one product: cotangent * d.
_BITS = {mx.float16: mx.int16, mx.bfloat16: mx.int16, mx.float32: mx.int32, mx.float64: mx.int64}


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


def _hinge_grad_elems(
    primals: Tuple[mx.array, ...], saved: Tuple[mx.array, ...], cotangent: mx.array
) -> Tuple[mx.array, ...]:
    x, y, m = primals
    (d,) = saved
    # (int8 d promotes to the cotangent's dtype: one pass, no converted copy)
    g = (cotangent * d).astype(x.dtype)
    return g, mx.zeros_like(y), mx.zeros_like(m)


# 'mean' / 'sum': the sum is taken inside the custom function
# (``reduce_with_vjp``), so the elementwise loss (and, for half inputs, its
# float32 copy for the accurate sum) is freed after the forward; only int8 d
# waits for the backward, which scales it by the scalar cotangent.
def _hinge_grad_sum(
    primals: Tuple[mx.array, ...], saved: Tuple[mx.array, ...], cotangent: mx.array
) -> Tuple[mx.array, ...]:
    x, y, m = primals
    (d,) = saved
    # (the cotangent rounded to the input dtype first, as torch's half
    # backward: grad / N in bfloat16 times the 0/+-1 derivative)
    g = cotangent.astype(x.dtype) * d
    return g, mx.zeros_like(y), mx.zeros_like(m)


@mx.compile
def _soft_margin_fwd(x: mx.array, y: mx.array) -> mx.array:
    # log(1 + exp(-y x)) as softplus(-y x) = logaddexp(0, -y x): no overflow
    # of exp for large |y x| (torch's kernel gives inf there); in float64 as
    # relu + log1p(e**-|.|), accurate to the last bits (MLX's float64 exp is
    # float32-accurate, and the backward reads this value).
    return softplus_neg(y * x)


@compile_by_branch
def _soft_margin_dx(x: mx.array, y: mx.array, g: mx.array, loss: mx.array) -> mx.array:
    # d/dx softplus(-y x) = -y sigmoid(-y x) = -y exp(-y x - softplus(-y x)):
    # one exp of an argument <= 0 (the fast e**x on the CPU) from the
    # forward's own output, against autodiff's exp of logaddexp: less time
    # and peak memory. (Half inputs come in upcast: casting inside the
    # kernels saves the forward's float32 copy but raises the backward's
    # eager peak; figures in docs/performance.md.)
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
    # (1 - y) softplus(x), term by term as torch forms it (so an infinite y,
    # or one far outside [0, 1], gives torch's inf - inf, inf * 0 and
    # cancellation). Both softplus share log1p(exp(-|x|)): one exp (the fast
    # one for arguments <= 0) and one log1p per element, not two logaddexp.
    lg = mx.log1p(exp_nonpos(-mx.abs(x)))
    return y * (mx.maximum(-x, 0.0) + lg) + (1 - y) * (mx.maximum(x, 0.0) + lg)


@compile_by_branch
def _multilabel_soft_margin_dx(x: mx.array, y: mx.array, g: mx.array) -> mx.array:
    # g (sigmoid(x) - y) as torch's autograd forms it, g (1 - y) sigmoid(x) -
    # g y sigmoid(-x), so an infinite y or g gives its inf * 0 and inf - inf
    # NaNs; both sigmoids from the forward's own e**-|x|, which a compiled
    # step merges with the forward's: one exp pass in all.
    z = exp_nonpos(-mx.abs(x))
    pos = x >= 0
    s, s_neg = mx.where(pos, 1.0, z) / (1.0 + z), mx.where(pos, z, 1.0) / (1.0 + z)
    return (g * (1 - y)) * s - (g * y) * s_neg


# A hand-written backward: d/dx above, d/dy = -g x (torch's g softplus(-x) -
# g softplus(x), whose inf - inf at an infinite g the g - g term carries).
# Autodiff through the forward held about nine (N, C) arrays at the peak
# under an eager grad (figures in docs/performance.md).
@mx.custom_function
def _multilabel_soft_margin(x: mx.array, y: mx.array) -> mx.array:
    return _multilabel_soft_margin_fwd(x, y)


@_multilabel_soft_margin.vjp
def _multilabel_soft_margin_vjp(primals, cotangents, outputs):
    x, y = primals
    g = single(cotangents)
    # a broadcast operand's gradient is summed back to its own shape
    return (_sum_to(_multilabel_soft_margin_dx(x, y, g), x.shape),
            _sum_to(-g * x + (g - g), y.shape))


@mx.compile
def _margin_ranking(x1: mx.array, x2: mx.array, y: mx.array, margin: mx.array) -> mx.array:
    return _clamp_min0(-y * (x1 - x2) + margin)


# multi_margin_loss: per-row sums with a hand-written backward, for p = 1
# and p = 2. torch adds h(z_i) = z_i^p for each class i but the target where
# z_i = (margin - x[t]) + x_i > 0, times the target's weight. The target
# column's term is zeroed before the row sum, not subtracted after it (its z
# is about the margin: subtracting it lost the small terms under a large
# margin); one scatter of N zeros costs less than a mask of the column. The
# gradient, torch's: w s [z_i > 0] (p = 1) or 2 z_i w s [z_i > 0] (p = 2)
# off the target, minus their sum at it, from the saved mask (p = 2 forms z
# again): instead of autodiff's chain through ``where``, which gave NaN
# gradients where z was NaN or inf.
def _multi_margin_z(x, t, margin):
    # z in float32 for half inputs: the (N, 1) float32 margin - x[t]
    # promotes x in the add itself, with no float32 copy of x.
    z = (margin - upcast(mx.take_along_axis(x, t, axis=1), x.dtype)) + x
    return z, z > 0


def _drop_target(v, t):
    return mx.put_along_axis(v, t, mx.array(0, dtype=v.dtype), axis=1)


def _multi_margin_body(x, t, margin, w, p: int):
    z, pos = _multi_margin_z(x, t, margin)
    # (``_keep``: no MLX ``where``; a NaN z adds nothing, as in torch)
    h = _drop_target(_keep(z if p == 1 else z * z, pos), t)
    k = mx.sum(pos, axis=1) - mx.take_along_axis(pos, t, axis=1)[:, 0]
    # torch weights each term: a row with none is 0 whatever its weight
    rows = mx.where(k > 0, accurate_sum(h, axis=1) * w, 0)
    return rows, pos, k


def _multi_margin_rows_for(p: int):
    fwd = mx.compile(lambda x, t, margin, w: _multi_margin_body(x, t, margin, w, p))

    @mx.custom_function
    def rows(x, t, margin, w):
        return fwd(x, t, margin, w)

    @rows.vjp
    def rows_vjp(primals, cotangents, outputs):
        x, t, margin, w = primals
        _, pos, k = outputs
        sw = mx.expand_dims(cotangents[0] * w, 1)
        # (``_keep`` after the product: entries off the mask are exactly 0,
        # as in torch, also where s w or z are inf; the target column is
        # written last)
        if p == 1:
            g = _keep(sw.astype(x.dtype), pos)
            at_target = -k * sw[:, 0]
        else:
            z, _ = _multi_margin_z(x, t, margin)
            # z (2 s w): 2 z alone overflows float32 where the gradient fits
            coef = _drop_target(_keep(z * (2 * sw), pos), t)
            g = coef.astype(x.dtype)
            at_target = -accurate_sum(coef, axis=1)
        # (a row without terms has a 0 gradient at its target too)
        at_target = mx.where(k > 0, at_target, 0).astype(x.dtype)
        g = mx.put_along_axis(g, t, mx.expand_dims(at_target, 1), axis=1)
        return g, mx.zeros_like(t), mx.zeros_like(margin), mx.zeros_like(w)

    return rows


_multi_margin_rows = {1: _multi_margin_rows_for(1), 2: _multi_margin_rows_for(2)}


# multilabel_margin_loss: per row, the sum over label slots j (before the
# first -1) and non-target classes i of torch's z = (1 - x[y_j]) + x_i where
# z > 0, without the O(C^2) table of pairs. With t_j = x[y_j] - 1 (rounded as
# torch's 1 - x[y_j], of which it is exactly the negative) z > 0 is x_i > t_j,
# so the terms and their count are decided as in torch. Sorting the non-target
# scores a_0 <= ... <= a_{C-1} once per row, a binary search finds lo_j, the
# first position above t_j (k_j = C - lo_j terms), and a slot adds
#     sum_{r >= lo_j} (a_r - t_j) = E[lo_j] + k_j (a_{lo_j} - t_j),
#     E[r] = sum_{r <= q < C-1} (C-1-q) (a_{q+1} - a_q),
# a reverse prefix sum of nonnegative gaps: no cancellation, where the sum of
# the a_r minus k_j t_j lost every digit for scores far from 0 (both terms
# ~k |x|, their difference ~1). O(N C log C); the backward counts terms.
def _first_above(a: mx.array, t: mx.array) -> mx.array:
    """Per row, for each t_j: the first position of the ascending ``a`` whose
    value is > t_j (C if none; a NaN t_j has none)."""
    N, C = a.shape
    # Branch-free search over ``a`` padded with +inf to P = 2**m > C
    # entries: P/2, P/4, ..., 1 steps, each one gather and an add.
    P = 1 << C.bit_length()
    a = mx.concatenate([a, mx.full((N, P - C), mx.inf, dtype=a.dtype)], axis=1)
    # (built from ``t``: keeps every operand batched under vmap)
    pos = mx.zeros_like(t).astype(mx.int32)
    step = P // 2
    while step:
        v = mx.take_along_axis(a, pos + (step - 1), axis=1)
        # not (v > t): also true for a NaN t, which no score exceeds
        pos = pos + mx.logical_not(v > t) * step
        step //= 2
    return mx.minimum(pos, C)


def _multilabel_margin_fwd(x, ys, slot, is_target):
    N, C = x.shape
    t = mx.take_along_axis(x, ys, axis=1) - 1
    # Targets and NaN scores never add a term (torch: z is NaN or excluded):
    # keyed -inf, which is > no t_j.
    key = mx.where(is_target | mx.isnan(x), -mx.inf, x)
    perm = mx.argsort(key, axis=1).astype(mx.int32)
    a = mx.take_along_axis(key, perm, axis=1)
    lo = _first_above(a, t)
    k = mx.where(slot, C - lo, 0)
    # (C gaps, the last 0: no empty cumsum at C = 1, which MLX 0.29 traps on)
    w = mx.arange(C - 1, -1, -1).astype(x.dtype)
    gaps = mx.concatenate([a[:, 1:] - a[:, :-1], mx.zeros_like(a[:, :1])], axis=1)
    E = mx.cumsum(gaps * w, axis=1, reverse=True)
    at = mx.minimum(lo, C - 1)
    head = mx.take_along_axis(a, at, axis=1)
    val = mx.take_along_axis(E, at, axis=1) + k.astype(x.dtype) * (head - t)
    # A counted term is +inf where x[y_j] = -inf or the largest score is
    # +inf (gaps there are inf or NaN); otherwise every counted a_r is finite.
    inf = (t == -mx.inf) | (a[:, -1:] == mx.inf)
    val = mx.where(k > 0, mx.where(inf, mx.inf, val), 0)
    return mx.sum(val, axis=1), perm, lo, k


_multilabel_margin_fwd_compiled = mx.compile(_multilabel_margin_fwd)


@mx.custom_function
def _multilabel_margin_rows(x, ys, slot, is_target):
    return _multilabel_margin_fwd_compiled(x, ys, slot, is_target)


@_multilabel_margin_rows.vjp
def _multilabel_margin_rows_vjp(primals, cotangents, outputs):
    # torch's backward: each counted pair (j, i) adds 1 at class i and -1 at
    # y_j. Class i (sorted position r) is counted by the slots with
    # lo_j <= r: a histogram of lo and its prefix sum; the target column of
    # slot j loses k_j (repeated labels add).
    x, ys, slot, is_target = primals
    _, perm, lo, k = outputs
    N, C = x.shape
    rows = mx.arange(N)[:, None]
    hits = mx.zeros((N, C + 1), dtype=mx.int32).at[rows, mx.where(k > 0, lo, C)].add(1)
    per_sorted = mx.cumsum(hits[:, :C], axis=1)
    counts = mx.put_along_axis(mx.zeros((N, C), dtype=mx.int32), perm, per_sorted, axis=1)
    counts = counts.at[rows, ys].add(-k)
    s = mx.expand_dims(cotangents[0].astype(x.dtype), 1)
    return (
        counts.astype(x.dtype) * s,
        mx.zeros_like(ys),
        mx.zeros_like(slot),
        mx.zeros_like(is_target),
    )


def _index_masks(y: mx.array, C: int, *, pad: bool):
    """``(in_range, is_pad)`` of integer class indices: in ``[0, C)``, and
    equal to -1 (None unless ``pad``). Compared in ``y``'s own dtype, with no
    bound converted to a dtype that cannot hold it (-1 for unsigned, C past
    the largest int8...): the same answer for every integer dtype."""
    info = mx.iinfo(y.dtype)
    in_range = y >= 0
    if C <= info.max:
        in_range = in_range & (y < C)
    is_pad = (y == -1) if pad and info.min < 0 else None
    return in_range, is_pad


@mx.custom_function
def _nan_rows(rows: mx.array, x: mx.array, valid: mx.array) -> mx.array:
    """``rows`` with NaN where a row's class index is out of range (not
    ``valid``), and a NaN gradient in those rows of ``x``: the loss and
    gradient rows of every index-taking kernel here (the kernel itself read
    a safe index there)."""
    return mx.where(valid, rows, mx.array(math.nan, dtype=rows.dtype))


@_nan_rows.vjp
def _nan_rows_vjp(primals, cotangents, outputs):
    rows, x, valid = primals
    g = single(cotangents)
    nan_x = mx.where(mx.expand_dims(valid, 1), mx.zeros((), x.dtype), mx.array(math.nan, x.dtype))
    return (mx.where(valid, g, mx.zeros((), g.dtype)), mx.broadcast_to(nan_x, x.shape),
            mx.zeros_like(valid))


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


def _check_margin_fits(fn: str, margin, dtype: mx.Dtype) -> None:
    """torch converts these margins to the input's dtype and raises where a
    finite margin overflows it (inf and NaN pass)."""
    m, big = float(margin), float(mx.finfo(dtype).max)
    if math.isfinite(m) and abs(m) > big:
        raise ValueCheckError(
            message(fn, "margin", f"fit in {dtype_name(dtype)} (|margin| <= {big:g})",
                    f"{margin!r}: value cannot be converted to type {dtype_name(dtype)} "
                    "without overflow")
        )


def _margin_array(fn: str, margin, dtype: mx.Dtype) -> mx.array:
    margin = check_number(fn, "margin", margin)
    return mx.array(margin, dtype=dtype)


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


@public_loss
def hinge_embedding_loss(
    input: mx.array,
    target: mx.array,
    margin: float = 1.0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
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
        margin (float, optional): The margin :math:`\Delta`; a finite margin
            beyond the input dtype's range raises, as in torch. Default: ``1.0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    margin = check_number(fn, "margin", margin)
    _check_margin_fits(fn, margin, input.dtype)
    out = input.dtype
    # The elementwise loss is computed in the input's dtype, as torch's
    # kernels (m - x rounded once); the reduction accumulates in float32.
    # A margin that the dtype cannot hold exactly is used in float32
    # (torch's opmath; the loss is then rounded once at the end). A margin
    # the dtype holds stays in it: no float32 copy of x.
    m = mx.array(margin, dtype=out if exact_in(margin, out) else acc_dtype(out))
    x, y = mx.broadcast_to(input, shape), mx.broadcast_to(target, shape)
    backward = _hinge_grad_elems if reduction == "none" else _hinge_grad_sum
    return reduce_with_vjp(_hinge_fwd, backward, (x, y, m), reduction, group=group).astype(out)


@public_loss
def soft_margin_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    loss = cast(mx.array, _soft_margin(x, target.astype(x.dtype)))
    return apply_reduction(loss, reduction, dtype=out, group=group)


@public_loss
def multilabel_soft_margin_loss(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    loss = cast(mx.array, _multilabel_soft_margin(x, target.astype(x.dtype)))
    if weight is not None:
        loss = loss * upcast(weight, out)
    # torch sums over input's last dimension of the (broadcast) loss.
    C = input.shape[-1]
    class_dim = input.ndim - 1
    per_row = accurate_sum(loss, axis=class_dim) / mx.array(C, dtype=loss.dtype)
    return apply_reduction(per_row, reduction, dtype=out, group=group)


@public_loss
def multilabel_margin_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
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
    gradient is zero. Non-finite scores give torch's terms: an infinite
    non-target score or a ``-inf`` label makes the row ``inf``, a NaN adds
    nothing; the gradient counts the terms and stays finite.

    Computed for all rows at once (no loop per sample) in
    :math:`O(N C \log C)`: one sort per row, a vectorised binary search
    and a prefix sum of the gaps between sorted scores (not the
    :math:`(N, C, C)` table of pairs), exact to rounding at any magnitude.

    Args:
        input (array): Scores :math:`(C)` or :math:`(N, C)`; floating.
        target (array): Class indices, same shape as ``input``, padded with
            ``-1`` after the labels (any integer dtype, unsigned ones without
            padding; torch wants int64).
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(C)` or :math:`(N, C)`; Target: the same shape.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Raises:
        ValueError: in eager mode, for a target entry outside
            :math:`[-1, C)` (torch: "argument #2 'target' is out of range");
            with value checks off or under a trace, that row's loss and
            gradient are NaN.

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
    in_range, is_pad = _index_masks(y, C, pad=True)
    # Slots before the first -1 hold the labels; the rest are ignored.
    if is_pad is None:  # unsigned: no -1
        slot = mx.ones((N, C), dtype=mx.bool_)
    else:
        end = mx.min(mx.where(is_pad, pos, C), axis=1, keepdims=True)
        slot = pos < end
    if checked:
        # a slot holds no -1 (it lies before the first) and every entry is
        # >= -1, so every slot entry is in [0, C)
        bad_row = None
        ys = mx.where(slot, y, 0).astype(mx.int32)
    else:
        # torch rejects any entry outside [-1, C) (checks off / traced: NaN row).
        ok = in_range if is_pad is None else in_range | is_pad
        bad_row = mx.logical_not(mx.all(ok, axis=1))
        # (masked in y's dtype, then int32: an int64 2**32 + 1 is no index 1)
        ys = mx.where(slot & in_range, y, 0).astype(mx.int32)
    # is_target[n, i]: class i is one of row n's labels (scatter, O(N C)).
    marks = mx.zeros((N, C + 1), dtype=mx.int32)
    marks = mx.put_along_axis(marks, mx.where(slot, ys, C), mx.array(1, dtype=mx.int32), axis=1)
    is_target = marks[:, :C] > 0
    rows = cast(Tuple[mx.array, ...], _multilabel_margin_rows(x, ys, slot, is_target))
    per_row = rows[0] / C
    if bad_row is not None:
        per_row = _nan_rows(per_row, x, mx.logical_not(bad_row))
    if input.ndim < 2:
        per_row = per_row.reshape(())
    return apply_reduction(per_row, reduction, dtype=out, group=group)


@public_loss
def multi_margin_loss(
    input: mx.array,
    target: mx.array,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Multi-class hinge loss, as ``torch.nn.functional.multi_margin_loss``.

    .. math::
        \ell_n = \frac{1}{C} \sum_{i \ne y_n}
            w_{y_n} \max\left(0, \Delta - x_{n, y_n} + x_{ni}\right)^p

    A term adds only where its hinge is strictly positive (torch's kernel):
    at a tie the gradient is zero, a NaN term adds nothing, and a row without
    terms is 0 whatever its weight.

    Args:
        input (array): Scores :math:`(C)` or :math:`(N, C)`; floating.
        target (array): Class indices :math:`()` or :math:`(N)` in
            :math:`[0, C)` (any integer dtype; torch wants int64).
        p (int, optional): 1 or 2. Default: ``1``.
        margin (float, optional): The margin :math:`\Delta`; a finite margin
            beyond the input dtype's range raises, as in torch. Default: ``1.0``.
        weight (array, optional): Per-class weights :math:`(C)` (cast to the
            input's dtype; not differentiated, as in torch). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(C)` or :math:`(N, C)`; Target: :math:`()`,
          :math:`(1)` or :math:`(N)`.
        - Output: scalar, or the target's shape with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Raises:
        ValueError: for ``p`` other than 1 or 2 ("only p == 1 and p == 2
            supported"), for a finite ``margin`` the input's dtype cannot
            hold; in eager mode, for a target outside :math:`[0, C)` (with
            value checks off or under a trace, that row's loss and gradient
            are NaN).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import multi_margin_loss
        >>> x = mx.array([[0.1, 0.2, 0.4, 0.8]])
        >>> round(multi_margin_loss(x, mx.array([3])).item(), 4)
        0.325
    """
    fn = "multi_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    p = check_multi_margin_p(fn, p)
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
    margin = check_number(fn, "margin", margin, complex_ok=True)
    # torch has no half kernel here; a half input gets torch's float32 result
    # rounded once, so the margin must fit float32 (the loss may round to inf)
    _check_margin_fits(fn, margin, acc_dtype(input.dtype))
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
    acc = acc_dtype(out)
    if checked:
        valid = None
        ts = t.astype(mx.int32)
    else:
        valid, _ = _index_masks(t, C, pad=False)
        # (masked in t's dtype, then int32: an int64 2**32 + 1 is no index 1)
        ts = mx.where(valid, t, 0).astype(mx.int32)
    ts = mx.expand_dims(ts, 1)
    if weight is None:
        w = mx.ones(ts.shape[:1], dtype=acc)
    else:
        w = mx.take(upcast(weight, out), ts[:, 0])
    rows, _, _ = _multi_margin_rows[p](x2, ts, mx.array(margin, dtype=acc), w)
    per_row = rows / C
    if valid is not None:
        per_row = _nan_rows(per_row, x2, valid)
    per_row = per_row.reshape(target.shape)
    return apply_reduction(per_row, reduction, dtype=out, group=group)


@public_loss
def margin_ranking_loss(
    input1: mx.array,
    input2: mx.array,
    target: mx.array,
    margin: float = 0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    return apply_reduction(loss, reduction, dtype=out, group=group)
