"""Detection and segmentation losses: sigmoid and softmax focal loss, Dice,
generalised Dice, Tversky and Poly-1 cross-entropy.

Each loss with a class (channel) axis takes a keyword-only ``axis``: 1 by
default (torch's ``(N, C, d1, ...)``), ``-1`` for the channels-last
``(N, d1, ..., C)`` arrays an MLX model gives. The kernels compute along that
axis directly (no transpose), so both layouts give the same numbers.

References: torchvision's ``sigmoid_focal_loss``; Lin et al. 2017 and MONAI's
``FocalLoss`` for the softmax focal loss; MONAI's ``DiceLoss``,
``GeneralizedDiceLoss`` and ``TverskyLoss``; Leng et al. 2022 (PolyLoss).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx

from .._dtypes import acc_dtype, promote_types
from .._api import public_loss
from .._reduction import (
    accurate_sum,
    active_group,
    apply_reduction,
    class_index_reduction,
    global_sum,
)
from .._validation import (
    class_index_layout,
    Reduction,
    ShapeError,
    ValueCheckError,
    check_array,
    check_bool,
    check_class_axis,
    check_class_input,
    check_floating,
    check_index_range,
    check_number,
    check_option,
    dtype_name,
    fmt_shape,
    in_unit_interval,
    message,
    run_value_check,
    user_stacklevel,
    resolve_reduction,
)
from .._numerics import exp_nonpos, logsumexp
from ._common import zero_where

__all__ = [
    "sigmoid_focal_loss",
    "focal_loss",
    "poly1_cross_entropy",
    "dice_loss",
    "generalized_dice_loss",
    "tversky_loss",
]


# --------------------------------------------------------------------------
# numerics (in the accumulation dtype: float32 for half inputs)


def _softplus(x: mx.array) -> mx.array:
    """log(1 + e**x) = relu(x) + log1p(e**-|x|): no overflow, and accurate
    in float64 (``exp_nonpos``). relu as (|x| + x) / 2 keeps the gradient at
    0 exact (1/2)."""
    return 0.5 * (mx.abs(x) + x) + mx.log1p(exp_nonpos(-mx.abs(x)))


def _sigmoid(x: mx.array) -> mx.array:
    """The logistic function, safe under autodiff (MLX's ``sigmoid`` VJP
    s (1 - s)); in float64 as exp(-softplus(-x)), accurate to rounding
    (MLX's float64 ``exp`` has float32 accuracy on the CPU)."""
    if x.dtype == mx.float64:
        return exp_nonpos(-_softplus(-x))
    return mx.sigmoid(x)


def _bce_with_logits(x: mx.array, t: mx.array) -> mx.array:
    """BCE with logits, softplus(x) - t x, as (relu(x) - t x) + log1p(e**-|x|):
    the first term is exactly 0 for a confident right answer (x > 0, t = 1),
    so no cancellation leaves the small loss inaccurate."""
    return (0.5 * (mx.abs(x) + x) - x * t) + mx.log1p(exp_nonpos(-mx.abs(x)))


def _pow(q: mx.array, gamma: float) -> Optional[mx.array]:
    """``q ** gamma``; None for gamma = 0 (the factor is 1, and MLX's power
    VJP would give 0 * inf = NaN at q = 0 where torch's gives 0)."""
    if gamma == 0.0:
        return None
    if gamma == 1.0:
        return q
    if gamma == 2.0:
        return mx.square(q)
    return mx.power(q, mx.array(gamma, dtype=q.dtype))


def _one_minus_exp(logp: mx.array) -> mx.array:
    """1 - p from log p: -expm1(log p) keeps its digits as p -> 1."""
    return -mx.expm1(logp)


def _const(value: float, dtype: mx.Dtype) -> mx.array:
    return mx.array(value, dtype=dtype)


def _class_shape(ndim: int, axis: int, C: int) -> Tuple[int, ...]:
    """The shape that broadcasts a (C,) vector along ``axis``."""
    shape = [1] * ndim
    shape[axis] = C
    return tuple(shape)


# --------------------------------------------------------------------------
# shared checks


def _check_gamma(fn: str, gamma: Any) -> float:
    return float(check_number(fn, "gamma", gamma, min_value=0.0))


def _check_class_weight(fn: str, weight: Optional[mx.array], C: int) -> Optional[mx.array]:
    if weight is None:
        return None
    check_floating(fn, "weight", weight)
    if weight.ndim != 1 or weight.shape[0] != C:
        raise ShapeError(
            message(fn, "weight", f"have shape ({C},), one weight per class",
                    fmt_shape(weight.shape))
        )
    return weight


def _as_index(t: mx.array) -> mx.array:
    """Class indices in a signed dtype wide enough to compare with any
    ``ignore_index``."""
    if t.dtype in (mx.uint8, mx.int8, mx.uint16, mx.int16, mx.bool_):
        return t.astype(mx.int32)
    if t.dtype in (mx.uint32, mx.uint64):
        return t.astype(mx.int64)
    return t


def _check_prob_target(fn: str, input: mx.array, target: mx.array, ignore_index: int) -> None:
    if not mx.issubdtype(target.dtype, mx.floating):
        raise TypeError(
            message(fn, "target", "have a floating dtype when it has `input`'s shape "
                    "(class probabilities)", dtype_name(target.dtype))
        )
    if ignore_index >= 0:
        raise ValueError(
            message(fn, "ignore_index", "be negative for class-probability targets",
                    f"{ignore_index}: ignore_index is not supported for floating point target")
        )


# --------------------------------------------------------------------------
# sigmoid focal loss (torchvision)


@public_loss
def sigmoid_focal_loss(
    input: mx.array,
    target: mx.array,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Sigmoid focal loss of RetinaNet, as ``torchvision.ops.sigmoid_focal_loss``.

    With :math:`p = \sigma(x)` and :math:`p_t = p\,t + (1 - p)(1 - t)`:

    .. math::
        \ell = \alpha_t\, (1 - p_t)^{\gamma}\,
            \mathrm{BCE}(x, t), \qquad
        \alpha_t = \alpha\, t + (1 - \alpha)(1 - t)

    where BCE is the binary cross-entropy with logits; :math:`\alpha < 0`
    drops the :math:`\alpha_t` factor. Reference: Lin et al. 2017, "Focal
    Loss for Dense Object Detection"; the formula and options of
    torchvision's ``sigmoid_focal_loss`` (from fvcore). Deliberate
    difference: ``reduction`` defaults to ``'mean'`` (torchvision:
    ``'none'``). Computed stably from the logits (no ``log`` of a rounded
    probability); :math:`1 - p_t` is formed as
    :math:`t\,\sigma(-x) + (1 - t)\,\sigma(x)`.

    Args:
        input (array): Logits, any shape.
        target (array): Binary labels (or soft labels in [0, 1]), same shape
            as ``input``.
        alpha (float, optional): Weight of the positive class in [0, 1];
            negative for no weighting. Default: ``0.25``.
        gamma (float, optional): Focusing exponent, >= 0. Default: ``2.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, the same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input`` and ``target``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import sigmoid_focal_loss
        >>> x, t = mx.array([0.0, 0.0]), mx.array([1.0, 0.0])
        >>> round(sigmoid_focal_loss(x, t, alpha=-1, gamma=0.0).item(), 6)  # BCE: log 2
        0.693147
        >>> round(sigmoid_focal_loss(x, t, alpha=0.5).item(), 6)  # 0.5 * (1/2)**2 * log 2
        0.086643
    """
    fn = "sigmoid_focal_loss"
    reduction = resolve_reduction(fn, reduction)
    alpha = float(check_number(fn, "alpha", alpha))
    gamma = _check_gamma(fn, gamma)
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(
            message(fn, "target", f"have the shape of `input`, {fmt_shape(input.shape)}",
                    fmt_shape(target.shape))
        )
    out = promote_types(input.dtype, target.dtype)
    acc = acc_dtype(out)
    x, t = input.astype(acc), target.astype(acc)
    loss = _bce_with_logits(x, t)
    # 1 - p_t without forming p_t: each sigmoid keeps its digits near 0
    mod = _pow(t * _sigmoid(-x) + (1.0 - t) * _sigmoid(x), gamma)
    if mod is not None:
        loss = loss * mod
    if alpha >= 0:
        loss = (alpha * t + (1.0 - alpha) * (1.0 - t)) * loss
    return apply_reduction(loss, reduction, dtype=out, group=group)


# --------------------------------------------------------------------------
# softmax focal loss and Poly-1 cross-entropy: class indices or probabilities


def _index_parts(fn, input, target, axis, ignore_index):
    """(loss shape, safe index in [0, C) of that shape, ignored mask,
    out-of-range-and-not-ignored mask) of a class-index target; the masks
    are None when the eager check found every index in range, none ignored."""
    _, out_shape = class_index_layout(fn, input, target, axis, name_axis=True)
    target = _as_index(target)
    C = input.shape[axis]
    checked = check_index_range(fn, "target", target, C, ignore_index=ignore_index)
    t = target.reshape(out_shape)
    if checked:
        return out_shape, t.astype(mx.int32), None, None
    ignored = t == ignore_index
    in_range = (t >= 0) & (t < C)
    bad = mx.logical_not(in_range | ignored)
    return out_shape, mx.where(in_range, t, 0).astype(mx.int32), ignored, bad


def _per_class(w: Optional[mx.array], safe: mx.array, dtype) -> Optional[mx.array]:
    """``w[target]`` (the target's shape), or None."""
    return None if w is None else mx.take(w.astype(dtype), safe)


def _pick(x: mx.array, safe: mx.array, ax: int) -> mx.array:
    """``x`` at the target class along ``ax`` (the target's shape)."""
    return mx.squeeze(mx.take_along_axis(x, mx.expand_dims(safe, ax), axis=ax), axis=ax)


def _masked(loss, ignored, bad):
    """0 (and no gradient) where the target is ignored; a NaN loss and NaN
    gradient row where it is out of range and not ignored (the kernel read
    a safe index there: never outside the logits)."""
    if ignored is None:
        return loss
    nan_or_one = mx.where(bad, mx.array(math.nan, loss.dtype), mx.array(1.0, loss.dtype))
    return zero_where(ignored, loss * nan_or_one)


def _counted(w_t, ignored, like):
    """Each element's weight in the 'mean' denominator: w[target] (1 without
    weight), 0 where ignored."""
    base = mx.ones(like.shape, dtype=like.dtype) if w_t is None else w_t
    if ignored is None:
        return base
    return mx.where(ignored, mx.zeros_like(base), base)


def _alpha_vector(alpha: Optional[float], C: int, dtype) -> Optional[mx.array]:
    """MONAI's softmax alpha: 1 - alpha for class 0 (the background), alpha
    for every other class."""
    if alpha is None:
        return None
    return mx.array([1.0 - alpha] + [alpha] * (C - 1), dtype=dtype)


@public_loss
def focal_loss(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    gamma: float = 2.0,
    alpha: Optional[float] = None,
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Softmax focal loss for multi-class logits: cross-entropy with Lin et
    al.'s focusing factor, ``cross_entropy``'s options and layouts.

    With class indices :math:`y_n`, :math:`p = \mathrm{softmax}(x_n)` along
    the class axis, class weights :math:`w` and the alpha factor
    :math:`a_c` (:math:`1 - \alpha` for class 0, :math:`\alpha` for the
    others; 1 when ``alpha`` is None):

    .. math::
        \ell_n = -\, w_{y_n}\, a_{y_n} \left(1 - p_{y_n}\right)^{\gamma} \log p_{y_n}

    and :math:`\ell_n = 0` where :math:`y_n` is ``ignore_index``.
    ``'mean'`` divides the sum by :math:`\sum_n w_{y_n}` over the counted
    targets (NaN when every target is ignored), as ``cross_entropy``: with
    ``gamma=0`` and ``alpha=None`` this *is* ``cross_entropy``. With class
    probabilities :math:`t_{n,c}` (``target`` of ``input``'s shape, e.g.
    one-hot): :math:`\ell_n = -\sum_c w_c\, a_c\, t_{n,c} (1 - p_c)^{\gamma}
    \log p_c`, and ``'mean'`` divides by the number of rows.

    Reference: Lin et al. 2017, "Focal Loss for Dense Object Detection",
    eq. (5) over a softmax; ``alpha`` as MONAI's ``FocalLoss(use_softmax=True)``
    (background class 0 weighted :math:`1 - \alpha`); ``weight``,
    ``ignore_index`` and the reductions as ``torch.nn.functional.cross_entropy``
    (the multi-class focal losses built on it, e.g. AdeelH's
    ``pytorch-multi-class-focal-loss``, which however divides a weighted
    ``'mean'`` by the count of targets). :math:`1 - p` is formed as
    :math:`-\mathrm{expm1}(\log p)`, exact as :math:`p \to 1`.

    Args:
        input (array): Logits: :math:`(C)`, :math:`(N, C)` or
            :math:`(N, C, d_1, ..., d_K)`, the classes on ``axis``.
        target (array): Class indices (integer dtype), ``input``'s shape
            without the class axis, each in :math:`[0, C)` or
            ``ignore_index``; or class probabilities of ``input``'s shape.
        weight (array, optional): A weight per class, shape :math:`(C)`;
            not differentiated. Default: ``None``.
        ignore_index (int, optional): A class-index target that is ignored.
            Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        gamma (float, optional): Focusing exponent, >= 0. Default: ``2.0``.
        alpha (float, optional): MONAI's balance factor in [0, 1], or None.
            Default: ``None``.
        axis (int, optional, keyword-only): The class axis: 1 (torch's
            layout) or -1 for channels-last (NHWC) logits. Default: ``1``.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`
          (or channels-last with ``axis=-1``).
        - Target: the input's shape without the class axis (indices), or the
          input's shape (probabilities).
        - Output: scalar; with ``reduction='none'``, the input's shape
          without the class axis.

    Returns:
        array: The loss, in ``input``'s dtype (indices) or the promoted dtype
        of ``input`` and ``target`` (probabilities).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import focal_loss
        >>> logits = mx.zeros((2, 4))  # p = 1/4 for every class
        >>> round(focal_loss(logits, mx.array([0, 3]), gamma=0.0).item(), 6)  # log 4
        1.386294
        >>> round(focal_loss(logits, mx.array([0, 3])).item(), 6)  # (3/4)**2 log 4
        0.779791
    """
    fn = "focal_loss"
    reduction = resolve_reduction(fn, reduction)
    ignore_index = int(check_number(fn, "ignore_index", ignore_index, integer=True))
    gamma = _check_gamma(fn, gamma)
    if alpha is not None:
        alpha = float(check_number(fn, "alpha", alpha))
    check_class_input(fn, input)
    check_array(fn, "target", target)
    ax = check_class_axis(fn, axis, input)
    C = input.shape[ax]
    weight = _check_class_weight(fn, weight, C)
    if _is_prob_target(input, target):
        _check_prob_target(fn, input, target, ignore_index)
        out = promote_types(input.dtype, target.dtype)
        acc = acc_dtype(out)
        x, t = input.astype(acc), target.astype(acc)
        if x.size == 0:
            return apply_reduction(mx.sum(x * t, axis=ax), reduction, dtype=out, group=group)
        logp = x - logsumexp(x, axis=ax, keepdims=True)
        coef = t
        if weight is not None:
            coef = coef * mx.stop_gradient(weight).astype(acc).reshape(_class_shape(x.ndim, ax, C))
        a = _alpha_vector(alpha, C, acc)
        if a is not None:
            coef = coef * a.reshape(_class_shape(x.ndim, ax, C))
        mod = _pow(_one_minus_exp(logp), gamma)
        term = logp * coef if mod is None else logp * mod * coef
        loss = -accurate_sum(term, axis=ax)
        return apply_reduction(loss, reduction, dtype=out, group=group)

    out_shape, safe, ignored, bad = _index_parts(fn, input, target, ax, ignore_index)
    out = input.dtype
    acc = acc_dtype(out)
    x = input.astype(acc)
    w_t = _per_class(mx.stop_gradient(weight) if weight is not None else None, safe, acc)
    if x.size == 0:
        loss = mx.zeros(out_shape, dtype=acc)
    else:
        logp_t = _pick(x, safe, ax) - mx.squeeze(logsumexp(x, axis=ax, keepdims=True), axis=ax)
        mod = _pow(_one_minus_exp(logp_t), gamma)
        loss = -logp_t if mod is None else -(mod * logp_t)
        if w_t is not None:
            loss = loss * w_t
        if alpha is not None:
            loss = loss * cast(mx.array, _per_class(_alpha_vector(alpha, C, acc), safe, acc))
    loss = _masked(loss, ignored, bad)
    # 'mean' divides by the summed weights of the counted targets (all ignored: NaN)
    return class_index_reduction(loss, reduction, _counted(w_t, ignored, loss),
                                 zero_grad_when_empty=True, dtype=out, group=group)


def _is_prob_target(input: mx.array, target: mx.array) -> bool:
    """A target of ``input``'s shape holds probabilities (for a 1-D input
    only when floating: a (1,) integer target is one class index)."""
    return tuple(target.shape) == tuple(input.shape) and (
        mx.issubdtype(target.dtype, mx.floating) or input.ndim > 1
    )


@public_loss
def poly1_cross_entropy(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    epsilon: float = 1.0,
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Poly-1 cross-entropy (PolyLoss): cross-entropy plus :math:`\epsilon`
    times the first polynomial term, :math:`1 - p_t`.

    With :math:`p = \mathrm{softmax}(x_n)` along the class axis, the target
    distribution :math:`s_n` (one-hot of :math:`y_n`, or the given
    probabilities), label-smoothed to :math:`(1 - \lambda)\, s_n + \lambda / C`,
    and class weights :math:`w` (1 without ``weight``):

    .. math::
        \ell_n = \sum_c w_c\, s_{n,c} \left(-\log p_c + \epsilon\,(1 - p_c)\right)

    which without weights is :math:`\mathrm{CE}_n + \epsilon\,(1 - p_t)` with
    :math:`p_t = \sum_c s_{n,c}\, p_c`. Ignored targets give 0, and
    ``'mean'`` divides by :math:`\sum_n w_{y_n}` over the counted class-index
    targets (by the number of rows for probabilities), so ``epsilon=0`` *is*
    ``cross_entropy`` with the same options.

    Reference: Leng et al. 2022, "PolyLoss: A Polynomial Expansion
    Perspective of Classification Loss Functions" (ICLR), its Poly-1 code
    with and without label smoothing; ``weight`` / ``ignore_index`` /
    ``label_smoothing`` and the reductions as
    ``torch.nn.functional.cross_entropy``, the weight multiplying each class's
    whole term as torch weights each class's log-loss.

    Args:
        input (array): Logits: :math:`(C)`, :math:`(N, C)` or
            :math:`(N, C, d_1, ..., d_K)`, the classes on ``axis``.
        target (array): Class indices (integer dtype), ``input``'s shape
            without the class axis; or class probabilities of ``input``'s shape.
        weight (array, optional): A weight per class, shape :math:`(C)`.
            Default: ``None``.
        ignore_index (int, optional): A class-index target that is ignored.
            Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        label_smoothing (float, optional): :math:`\lambda` in [0, 1].
            Default: ``0.0``.
        epsilon (float, optional): The Poly-1 coefficient, >= -1 (the
            paper's range). Default: ``1.0``.
        axis (int, optional, keyword-only): The class axis: 1 (torch's
            layout) or -1 for channels-last logits. Default: ``1``.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: the input's shape without the class axis (indices), or the
          input's shape (probabilities).
        - Output: scalar; with ``reduction='none'``, the input's shape
          without the class axis.

    Returns:
        array: The loss, in ``input``'s dtype (indices) or the promoted dtype
        of ``input`` and ``target`` (probabilities).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import poly1_cross_entropy
        >>> logits = mx.zeros((2, 4))  # p = 1/4: log 4 + 1 * (1 - 1/4)
        >>> round(poly1_cross_entropy(logits, mx.array([0, 3])).item(), 6)
        2.136294
    """
    fn = "poly1_cross_entropy"
    reduction = resolve_reduction(fn, reduction)
    ignore_index = int(check_number(fn, "ignore_index", ignore_index, integer=True))
    check_number(fn, "label_smoothing", label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(message(fn, "label_smoothing", "be in [0, 1]", repr(label_smoothing)))
    ls = float(label_smoothing)
    epsilon = float(check_number(fn, "epsilon", epsilon, min_value=-1.0))
    check_class_input(fn, input)
    check_array(fn, "target", target)
    ax = check_class_axis(fn, axis, input)
    C = input.shape[ax]
    weight = _check_class_weight(fn, weight, C)
    w = mx.stop_gradient(weight) if weight is not None else None

    if _is_prob_target(input, target):
        _check_prob_target(fn, input, target, ignore_index)
        out = promote_types(input.dtype, target.dtype)
        acc = acc_dtype(out)
        x, s = input.astype(acc), target.astype(acc)
        if x.size == 0:
            return apply_reduction(mx.sum(x * s, axis=ax), reduction, dtype=out, group=group)
        if ls > 0.0:
            s = s * _const(1.0 - ls, acc) + _const(ls / C, acc)
        if w is not None:
            s = s * w.astype(acc).reshape(_class_shape(x.ndim, ax, C))
        logp = x - logsumexp(x, axis=ax, keepdims=True)
        loss = accurate_sum(s * (epsilon * _one_minus_exp(logp) - logp), axis=ax)
        return apply_reduction(loss, reduction, dtype=out, group=group)

    out_shape, safe, ignored, bad = _index_parts(fn, input, target, ax, ignore_index)
    out = input.dtype
    acc = acc_dtype(out)
    x = input.astype(acc)
    w_t = _per_class(w, safe, acc)
    if x.size == 0:
        loss = mx.zeros(out_shape, dtype=acc)
    else:
        lse = logsumexp(x, axis=ax, keepdims=True)
        logp_t = _pick(x, safe, ax) - mx.squeeze(lse, axis=ax)
        loss = epsilon * _one_minus_exp(logp_t) - logp_t
        if w_t is not None:
            loss = loss * w_t
        if ls > 0.0:
            logp = x - lse
            per = epsilon * _one_minus_exp(logp) - logp
            if w is not None:
                per = per * w.astype(acc).reshape(_class_shape(x.ndim, ax, C))
            loss = (1.0 - ls) * loss + (ls / C) * accurate_sum(per, axis=ax)
    loss = _masked(loss, ignored, bad)
    # 'mean' divides by the summed weights of the counted targets (all ignored: NaN)
    return class_index_reduction(loss, reduction, _counted(w_t, ignored, loss),
                                 zero_grad_when_empty=True, dtype=out, group=group)


# --------------------------------------------------------------------------
# Dice, generalised Dice, Tversky (MONAI)


def _check_region_input(fn: str, input: Any, axis: Any) -> int:
    check_floating(fn, "input", input)
    if input.ndim < 3:
        raise ShapeError(
            message(fn, "input", "have 3 or more dimensions (N, C, d1, ...), the classes on "
                    "`axis`", f"{input.ndim}-D of shape {fmt_shape(input.shape)}")
        )
    return check_class_axis(fn, axis, input)


def _warn_single(what: str) -> None:
    warnings.warn(f"single channel prediction, `{what}` ignored.", UserWarning,
                  stacklevel=user_stacklevel())


def _activate(fn, x, ax, sigmoid_, softmax_, other_act):
    """MONAI's activation step: at most one of sigmoid, softmax (skipped,
    with MONAI's warning, for a single channel), other_act."""
    if int(sigmoid_) + int(softmax_) + int(other_act is not None) > 1:
        raise ValueError(
            message(fn, "sigmoid", "be combined with at most one of `softmax` and `other_act` "
                    "(Incompatible values: more than 1 of [sigmoid=True, softmax=True, "
                    "other_act is not None])", "more than one")
        )
    if other_act is not None and not callable(other_act):
        raise TypeError(message(fn, "other_act", "be None or callable", type(other_act).__name__))
    if sigmoid_:
        return _sigmoid(x)
    if softmax_:
        if x.shape[ax] == 1:
            _warn_single("softmax=True")
            return x
        return exp_nonpos(x - logsumexp(x, axis=ax, keepdims=True))
    if other_act is not None:
        return other_act(x)
    return x


def _one_hot_target(fn, input, target, ax, dtype):
    """MONAI's ``to_onehot_y``: class indices (integers, or floats truncated
    as MONAI's ``.long()``) with size 1 on the class axis, or without it,
    as a one-hot array of ``input``'s shape. An index outside [0, C) is an
    error in eager mode; otherwise its pixel is NaN, so its sample's loss
    and gradient are (its batch's, with ``batch=True``)."""
    check_array(fn, "target", target)
    C = input.shape[ax]
    if target.ndim == input.ndim and target.shape[ax] == 1 and \
            tuple(target.shape[:ax]) + tuple(target.shape[ax + 1:]) == \
            tuple(input.shape[:ax]) + tuple(input.shape[ax + 1:]):
        t = mx.squeeze(target, axis=ax)
    elif tuple(target.shape) == tuple(s for i, s in enumerate(input.shape) if i != ax):
        t = target
    else:
        want = list(input.shape)
        want[ax] = 1
        raise ShapeError(
            message(fn, "target",
                    f"have shape {fmt_shape(want)} (or {fmt_shape([s for i, s in enumerate(input.shape) if i != ax])}) "
                    f"of class indices for `input` of shape {fmt_shape(input.shape)} with "
                    "to_onehot_y=True", fmt_shape(target.shape))
        )
    if mx.issubdtype(t.dtype, mx.floating):
        t = t.astype(mx.int64)  # truncation toward zero, as torch's .long()
    elif t.dtype == mx.bool_:
        t = t.astype(mx.int32)
    check_index_range(fn, "target", _as_index(t), C)
    classes = mx.arange(C).reshape(_class_shape(input.ndim, ax, C))
    t = mx.expand_dims(t, ax)
    onehot = (t == classes).astype(dtype)
    return mx.where((t < 0) | (t >= C), mx.array(math.nan, dtype), onehot)


def _check_unit(fn: str, name: str, x: mx.array) -> None:
    def check() -> None:
        if x.size and not in_unit_interval(x):
            raise ValueCheckError(
                message(fn, name, "hold probabilities in [0, 1] (pass logits with "
                        "sigmoid=True or softmax=True)",
                        f"values outside [0, 1]")
            )

    run_value_check(check)


def _prepare(fn, input, target, ax, include_background, to_onehot_y, sigmoid_, softmax_,
             other_act, check_target=True):
    """MONAI's common steps; returns (prediction, target, output dtype) with
    the class axis still at ``ax``, in the accumulation dtype."""
    for name, value in (("include_background", include_background),
                        ("to_onehot_y", to_onehot_y), ("sigmoid", sigmoid_),
                        ("softmax", softmax_)):
        check_bool(fn, name, value)
    n_pred_ch = input.shape[ax]
    onehot = to_onehot_y and n_pred_ch > 1
    if to_onehot_y and n_pred_ch == 1:
        _warn_single("to_onehot_y=True")
    if onehot:
        out = input.dtype
    else:
        check_floating(fn, "target", target)
        out = promote_types(input.dtype, target.dtype)
    acc = acc_dtype(out)
    raw = not (sigmoid_ or softmax_ or other_act is not None)
    if raw:
        _check_unit(fn, "input", input)
    p = _activate(fn, input.astype(acc), ax, sigmoid_, softmax_, other_act)
    if p.dtype != acc:
        p = p.astype(acc)
    if onehot:
        g = _one_hot_target(fn, input, target, ax, acc)
    else:
        if tuple(target.shape) != tuple(input.shape):
            raise ShapeError(
                message(fn, "target", f"have the shape of `input`, {fmt_shape(input.shape)} "
                        "(one-hot or probabilities; class indices need to_onehot_y=True)",
                        fmt_shape(target.shape))
            )
        if check_target:
            _check_unit(fn, "target", target)
        g = target.astype(acc)
    if not include_background:
        if n_pred_ch == 1:
            _warn_single("include_background=False")
        else:
            keep = mx.arange(1, n_pred_ch)
            p = mx.take(p, keep, axis=ax)
            g = mx.take(g, keep, axis=ax)
    return p, g, out


def _region_axes(ndim: int, ax: int, batch: bool) -> Tuple[int, ...]:
    """The axes summed over: the spatial ones, and the batch with ``batch``."""
    return tuple(i for i in range(ndim) if i != ax and (batch or i != 0))


def _region_sum(
    x: mx.array, axes: Tuple[int, ...], glob: Optional[mx.distributed.Group]
) -> mx.array:
    """Sum over ``axes``: (N, C), the kept axes in order, or (C,) when the
    batch is summed too; with ``glob`` also over its every rank (the global
    batch)."""
    s = accurate_sum(x, axis=axes)
    return s if glob is None else global_sum(s, glob)


def _overlaps(p, g, axes, glob, order, soft_label, decoupled=True):
    """MONAI's ``compute_tp_fp_fn``: (tp, |p|, |g|) for Dice (``decoupled``)
    or (tp, fp, fn) for Tversky, each (N, C) or (C,)."""
    if order == 1 and not soft_label:
        tp = _region_sum(p * g, axes, glob)
        if decoupled:
            return tp, _region_sum(p, axes, glob), _region_sum(g, axes, glob)
        fp = _region_sum(p * (1.0 - g), axes, glob)
        fn_ = _region_sum((1.0 - p) * g, axes, glob)
        return tp, fp, fn_
    # norms: correct with soft labels, equal to the above with hard ones
    if order == 1:
        pn = _region_sum(mx.abs(p), axes, glob)
        gn = _region_sum(mx.abs(g), axes, glob)
        dn = _region_sum(mx.abs(p - g), axes, glob)
        tp = 0.5 * (pn + gn - dn)
    else:
        pn = _region_sum(mx.square(p), axes, glob)
        gn = _region_sum(mx.square(g), axes, glob)
        # (|p|^2 + |g|^2 - |p - g|^2) / 2 is exactly sum(p g)
        tp = _region_sum(p * g, axes, glob)
    if decoupled:
        return tp, pn, gn
    return tp, pn - tp, gn - tp


def _global_batch(
    batch: bool, reduction: str, group: Optional[mx.distributed.Group]
) -> Optional[mx.distributed.Group]:
    """The group the batch sums run over: ``group`` with ``batch=True`` and
    more than one rank (``'none'`` ignores the group), else None."""
    return active_group(group) if batch and reduction != "none" else None


def _region_reduce(
    loss: mx.array,
    reduction: str,
    glob: Optional[mx.distributed.Group],
    group: Optional[mx.distributed.Group],
    out: mx.Dtype,
) -> mx.array:
    # from global batch sums every rank holds the whole loss already: reduce
    # it on this rank alone
    return apply_reduction(loss, reduction, dtype=out, group=None if glob is not None else group)


def _check_smooth(fn: str, smooth_nr: Any, smooth_dr: Any) -> Tuple[float, float]:
    return (float(check_number(fn, "smooth_nr", smooth_nr)),
            float(check_number(fn, "smooth_dr", smooth_dr)))


def _weight_array(fn: str, weight: Any) -> Optional[mx.array]:
    """MONAI's Dice class weight as an array: a number, a sequence or an
    array, every value >= 0 (an array's values checked in eager mode)."""
    if weight is None:
        return None
    if isinstance(weight, mx.array):
        check_floating(fn, "weight", weight)
        w = weight

        def check() -> None:
            if w.size and bool(mx.any(w < 0).item()):
                raise ValueCheckError(message(fn, "weight", "be >= 0", "a negative weight"))

        run_value_check(check)
        return w
    if isinstance(weight, (list, tuple)):
        return mx.array([float(check_number(fn, "weight", v, min_value=0.0)) for v in weight])
    if isinstance(weight, str):
        raise TypeError(message(fn, "weight", "be None, a number, a sequence or an mx.array",
                                type(weight).__name__))
    return mx.array(float(check_number(fn, "weight", weight, min_value=0.0)))


def _dice_weight(fn: str, weight: Any, C: int, dtype) -> mx.array:
    """The class weight for C classes (those left after
    ``include_background``), not differentiated."""
    w = mx.stop_gradient(cast(mx.array, _weight_array(fn, weight)))
    if w.ndim == 0:
        return mx.broadcast_to(w.astype(dtype), (C,))
    if w.ndim != 1 or w.shape[0] != C:
        raise ShapeError(
            message(fn, "weight", f"have {C} values, one per class (without the background "
                    "when include_background=False)", fmt_shape(w.shape))
        )
    return w.astype(dtype)


@public_loss
def dice_loss(
    input: mx.array,
    target: mx.array,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Optional[Callable[[mx.array], mx.array]] = None,
    squared_pred: bool = False,
    jaccard: bool = False,
    reduction: Reduction = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    weight: Union[None, float, Sequence[float], mx.array] = None,
    soft_label: bool = False,
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Soft Dice (or Jaccard) loss, as MONAI's ``DiceLoss``.

    With predictions :math:`p` (after the optional activation) and targets
    :math:`g`, summed over the spatial axes of each sample and class (and
    over the batch too with ``batch=True``), :math:`k = 2` with
    ``squared_pred`` else 1:

    .. math::
        \ell_{n,c} = w_c \left(1 - \frac{2 \sum p g + s_{nr}}
            {\sum p^k + \sum g^k + s_{dr}}\right)

    With ``jaccard=True`` the denominator is
    :math:`2 (\sum p^k + \sum g^k - \sum p g) + s_{dr}`. With ``soft_label``
    (or ``squared_pred``) the overlap is MONAI's norm form
    :math:`(\|p\| + \|g\| - \|p - g\|) / 2`, equal to :math:`\sum p g` for
    hard labels and correct for soft ones.

    Reference: Milletari et al. 2016 (V-Net); MONAI's ``DiceLoss`` and its
    ``compute_tp_fp_fn``, option for option. Deliberate differences:
    ``reduction='none'`` returns :math:`(N, C)` (:math:`(C)` with ``batch``),
    not MONAI's broadcastable :math:`(N, C, 1, ..., 1)`, so both layouts give
    the same array; a one-hot target made by ``to_onehot_y`` is in
    ``input``'s dtype (MONAI's is float32).

    Args:
        input (array): Predictions :math:`(N, C, d_1, ...)` (or channels-last
            with ``axis=-1``): probabilities, or logits with ``sigmoid`` /
            ``softmax`` / ``other_act``.
        target (array): One-hot labels or probabilities of ``input``'s
            shape; with ``to_onehot_y``, class indices with size 1 on the
            class axis (or without it).
        include_background (bool, optional): Keep class 0. Default: ``True``.
        to_onehot_y (bool, optional): ``target`` holds class indices.
            Default: ``False``.
        sigmoid (bool, optional): Apply a sigmoid to ``input``. Default: ``False``.
        softmax (bool, optional): Apply a softmax along the class axis.
            Default: ``False``.
        other_act (callable, optional): Any other activation (an MLX
            function). Default: ``None``.
        squared_pred (bool, optional): Squares in the denominator.
            Default: ``False``.
        jaccard (bool, optional): The soft Jaccard (IoU) loss instead.
            Default: ``False``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the samples and classes. Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        smooth_nr (float, optional): Added to the numerator. Default: ``1e-5``.
        smooth_dr (float, optional): Added to the denominator. Default: ``1e-5``.
        batch (bool, optional): Sum over the batch before dividing (one loss
            per class). Default: ``False``.
        weight (float, sequence or array, optional): Per-class weights >= 0
            (the classes left after ``include_background``). Default: ``None``.
        soft_label (bool, optional): MONAI's soft-label form. Default: ``False``.
        axis (int, optional, keyword-only): The class axis: 1 or -1
            (channels-last). Default: ``1``.

    Shape:
        - Input: :math:`(N, C, d_1, ..., d_K)`, :math:`K \geq 1`.
        - Target: the input's shape (or size 1 on the class axis with
          ``to_onehot_y``).
        - Output: scalar; :math:`(N, C)` with ``reduction='none'``
          (:math:`(C)` with ``batch=True``).

    Returns:
        array: The loss, in the promoted dtype of ``input`` and ``target``
        (``input``'s with ``to_onehot_y``).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import dice_loss
        >>> g = mx.array([[[1.0, 0.0], [0.0, 1.0]]])  # (N=1, C=2, d=2)
        >>> round(dice_loss(g, g).item(), 6)  # a perfect prediction
        0.0
        >>> labels = mx.array([[0, 1]])  # the same, as class indices
        >>> round(dice_loss(g, labels, to_onehot_y=True).item(), 6)
        0.0
    """
    fn = "dice_loss"
    reduction = resolve_reduction(fn, reduction)
    smooth_nr, smooth_dr = _check_smooth(fn, smooth_nr, smooth_dr)
    for name, value in (("squared_pred", squared_pred), ("jaccard", jaccard),
                        ("batch", batch), ("soft_label", soft_label)):
        check_bool(fn, name, value)
    ax = _check_region_input(fn, input, axis)
    p, g, out = _prepare(fn, input, target, ax, include_background, to_onehot_y, sigmoid,
                         softmax, other_act)
    axes = _region_axes(p.ndim, ax, batch)
    glob = _global_batch(batch, reduction, group)
    tp, pn, gn = _overlaps(p, g, axes, glob, 2 if squared_pred else 1, soft_label)
    den = pn + gn
    if jaccard:
        den = 2.0 * (den - tp)
    f = 1.0 - (2.0 * tp + smooth_nr) / (den + smooth_dr)
    C = p.shape[ax]
    if C != 1 and weight is not None:  # MONAI ignores the weight of a single class
        f = f * _dice_weight(fn, weight, C, f.dtype)
    return _region_reduce(f, reduction, glob, group, out)


@public_loss
def generalized_dice_loss(
    input: mx.array,
    target: mx.array,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Optional[Callable[[mx.array], mx.array]] = None,
    w_type: str = "square",
    reduction: Reduction = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    soft_label: bool = False,
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Generalised Dice loss, as MONAI's ``GeneralizedDiceLoss``.

    Class weights from the target volumes :math:`G_c = \sum g_c`
    (:math:`r_c = 1 / G_c^2` for ``'square'``, :math:`1 / G_c` for
    ``'simple'``, 1 for ``'uniform'``; a class absent from the target gets
    the largest finite weight, 0 if none is finite):

    .. math::
        \ell_n = 1 - \frac{2 \sum_c r_c \sum p_c g_c + s_{nr}}
            {\sum_c r_c \left(\sum p_c + \sum g_c\right) + s_{dr}}

    per sample (or once for the whole batch with ``batch=True``).

    Reference: Sudre et al. 2017, "Generalised Dice overlap as a deep
    learning loss function for highly unbalanced segmentations"; MONAI's
    ``GeneralizedDiceLoss``, option for option. Deliberate differences:
    ``reduction='none'`` returns :math:`(N)` (a 0-D array with ``batch``),
    not MONAI's :math:`(N, 1, ..., 1)`; the weights are computed in the
    loss's dtype (MONAI's in float32).

    Args:
        input (array): Predictions :math:`(N, C, d_1, ...)`.
        target (array): One-hot labels or probabilities (or class indices
            with ``to_onehot_y``).
        include_background (bool, optional): Default: ``True``.
        to_onehot_y (bool, optional): Default: ``False``.
        sigmoid (bool, optional): Default: ``False``.
        softmax (bool, optional): Default: ``False``.
        other_act (callable, optional): Default: ``None``.
        w_type (str, optional): ``'square'`` | ``'simple'`` | ``'uniform'``.
            Default: ``'square'``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        smooth_nr (float, optional): Default: ``1e-5``.
        smooth_dr (float, optional): Default: ``1e-5``.
        batch (bool, optional): Default: ``False``.
        soft_label (bool, optional): Default: ``False``.
        axis (int, optional, keyword-only): The class axis. Default: ``1``.

    Shape:
        - Input: :math:`(N, C, d_1, ..., d_K)`, :math:`K \geq 1`.
        - Output: scalar; :math:`(N)` with ``reduction='none'`` (0-D with
          ``batch=True``).

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import generalized_dice_loss
        >>> g = mx.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]])
        >>> round(generalized_dice_loss(g, g).item(), 6)
        0.0
    """
    fn = "generalized_dice_loss"
    reduction = resolve_reduction(fn, reduction)
    check_option(fn, "w_type", w_type, ("square", "simple", "uniform"))
    smooth_nr, smooth_dr = _check_smooth(fn, smooth_nr, smooth_dr)
    check_bool(fn, "batch", batch)
    check_bool(fn, "soft_label", soft_label)
    ax = _check_region_input(fn, input, axis)
    p, g, out = _prepare(fn, input, target, ax, include_background, to_onehot_y, sigmoid,
                         softmax, other_act)
    axes = _region_axes(p.ndim, ax, batch)
    glob = _global_batch(batch, reduction, group)
    tp, pn, gn = _overlaps(p, g, axes, glob, 1, soft_label)
    den = pn + gn
    if w_type == "uniform":
        w = mx.ones_like(gn)
    else:
        vol = gn if not soft_label else _region_sum(g, axes, glob)
        w = mx.reciprocal(vol if w_type == "simple" else vol * vol)
    inf = mx.isinf(w)
    w = mx.where(inf, mx.zeros_like(w), w)
    # absent classes take the largest finite weight (of the sample, or of all)
    top = mx.max(w, axis=-1, keepdims=True)
    w = w + inf.astype(w.dtype) * top
    numer = 2.0 * mx.sum(tp * w, axis=-1) + smooth_nr
    denom = mx.sum(den * w, axis=-1) + smooth_dr
    f = 1.0 - numer / denom
    return _region_reduce(f, reduction, glob, group, out)


@public_loss
def tversky_loss(
    input: mx.array,
    target: mx.array,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Optional[Callable[[mx.array], mx.array]] = None,
    alpha: float = 0.5,
    beta: float = 0.5,
    reduction: Reduction = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    soft_label: bool = False,
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Tversky loss, as MONAI's ``TverskyLoss``.

    With :math:`TP = \sum p g`, :math:`FP = \sum p (1 - g)` and
    :math:`FN = \sum (1 - p) g` over the spatial axes (and the batch with
    ``batch=True``):

    .. math::
        \ell_{n,c} = 1 - \frac{TP + s_{nr}}
            {TP + \alpha\, FP + \beta\, FN + s_{dr}}

    ``alpha = beta = 0.5`` is the Dice loss. With ``soft_label`` the terms
    are MONAI's norm forms (:math:`TP = (\|p\|_1 + \|g\|_1 - \|p - g\|_1)/2`,
    :math:`FP = \|p\|_1 - TP`, :math:`FN = \|g\|_1 - TP`).

    Reference: Salehi et al. 2017, "Tversky loss function for image
    segmentation using 3D fully convolutional deep networks"; MONAI's
    ``TverskyLoss``, option for option (``reduction='none'`` returns its
    :math:`(N, C)` too).

    Args:
        input (array): Predictions :math:`(N, C, d_1, ...)`.
        target (array): One-hot labels or probabilities (or class indices
            with ``to_onehot_y``).
        include_background (bool, optional): Default: ``True``.
        to_onehot_y (bool, optional): Default: ``False``.
        sigmoid (bool, optional): Default: ``False``.
        softmax (bool, optional): Default: ``False``.
        other_act (callable, optional): Default: ``None``.
        alpha (float, optional): Weight of the false positives. Default: ``0.5``.
        beta (float, optional): Weight of the false negatives. Default: ``0.5``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        smooth_nr (float, optional): Default: ``1e-5``.
        smooth_dr (float, optional): Default: ``1e-5``.
        batch (bool, optional): Default: ``False``.
        soft_label (bool, optional): Default: ``False``.
        axis (int, optional, keyword-only): The class axis. Default: ``1``.

    Shape:
        - Input: :math:`(N, C, d_1, ..., d_K)`, :math:`K \geq 1`.
        - Output: scalar; :math:`(N, C)` with ``reduction='none'``
          (:math:`(C)` with ``batch=True``).

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import tversky_loss
        >>> g = mx.array([[[1.0, 0.0], [0.0, 1.0]]])
        >>> p = mx.array([[[1.0, 1.0], [0.0, 0.0]]])  # one FP and one FN per class
        >>> round(tversky_loss(p, g, alpha=1.0, beta=0.0, smooth_nr=0.0, smooth_dr=0.0,
        ...                    reduction="none")[0, 0].item(), 6)  # 1 - 1 / (1 + 1)
        0.5
    """
    fn = "tversky_loss"
    reduction = resolve_reduction(fn, reduction)
    alpha = float(check_number(fn, "alpha", alpha))
    beta = float(check_number(fn, "beta", beta))
    smooth_nr, smooth_dr = _check_smooth(fn, smooth_nr, smooth_dr)
    check_bool(fn, "batch", batch)
    check_bool(fn, "soft_label", soft_label)
    ax = _check_region_input(fn, input, axis)
    p, g, out = _prepare(fn, input, target, ax, include_background, to_onehot_y, sigmoid,
                         softmax, other_act)
    axes = _region_axes(p.ndim, ax, batch)
    glob = _global_batch(batch, reduction, group)
    tp, fp, fn_ = _overlaps(p, g, axes, glob, 1, soft_label, decoupled=False)
    f = 1.0 - (tp + smooth_nr) / (tp + alpha * fp + beta * fn_ + smooth_dr)
    return _region_reduce(f, reduction, glob, group, out)
