"""Classification losses: cross-entropy, NLL and binary cross-entropy.

Cross-entropy with class-index targets runs through one ``mx.custom_function``
(:func:`_ce_index_fn`): the forward makes the only exp pass over the logits
(``_numerics.softmax_parts``: the shifted exps ``e``, their row sums ``s``, the
shift and ``log s``) and returns ``e`` and ``s`` as residuals, so that the
backward is a single multiply-and-subtract (softmax = e / s) with no second
exp, and one full-size array is alive between the passes. Half-precision logits are taken through float32 inside
the kernel and the gradient is cast back once.
"""

from __future__ import annotations

import functools
import math
import struct
from typing import Optional, Tuple, cast

import mlx.core as mx

from .._api import public_loss
from .._device import compile_by_branch, cpu_branches
from .._dtypes import acc_dtype, result_dtype, upcast
from .._numerics import (
    log1p,
    logsumexp,
    sigmoid,
    sigmoid_neg,
    softmax_parts,
    softplus_neg,
)
from .._reduction import accurate_sum, apply_reduction, class_index_reduction, single
from .._validation import (
    class_index_layout,
    Reduction,
    ShapeError,
    ValueCheckError,
    check_array,
    check_class_axis,
    check_class_input,
    check_floating,
    check_index_range,
    check_label_smoothing,
    check_number,
    dtype_name,
    fmt_shape,
    in_unit_interval,
    message,
    resolve_reduction,
    run_value_check,
)
from ._common import zero_where

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]


# --------------------------------------------------------------------------
# shared checks


def _check_ignore_index(fn: str, ignore_index) -> int:
    return int(check_number(fn, "ignore_index", ignore_index, integer=True))


def _check_class_weight(fn: str, weight: Optional[mx.array], C: int) -> Optional[mx.array]:
    if weight is None:
        return None
    check_floating(fn, "weight", weight)
    if weight.ndim != 1 or weight.shape[0] != C:
        raise ShapeError(
            message(
                fn,
                "weight",
                f"have shape ({C},), one weight per class (weight tensor should be "
                f"defined either for all {C} classes or no classes)",
                fmt_shape(weight.shape),
            )
        )
    return weight


# torch's names of the float dtypes, for its "expected scalar type" phrase
_TORCH_DTYPE = {mx.float16: "Half", mx.bfloat16: "BFloat16", mx.float32: "Float", mx.float64: "Double"}


def _check_weight_dtype(fn: str, weight: Optional[mx.array], dtype: mx.Dtype,
                        of: str = "`input`") -> None:
    """Class weights of class-index losses have the input's dtype (torch
    raises for any other)."""
    if weight is not None and weight.dtype != dtype:
        want, got = (_TORCH_DTYPE.get(d, dtype_name(d)) for d in (dtype, weight.dtype))
        raise TypeError(
            message(fn, "weight", f"have the dtype of {of}, {dtype_name(dtype)}",
                    f"{dtype_name(weight.dtype)}: expected scalar type {want} but found {got}")
        )


def _rows(input: mx.array, target: mx.array, cdim: int = 1) -> Tuple[mx.array, mx.array]:
    """Class-index layout -> (M, C) logits with the class axis last, (M,) targets.

    Channels-last input is a reshape (no copy); any other class axis but
    that of (N, C) is moved last first."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1)
    if input.ndim == 2 and cdim == 1:
        return input, target
    C = input.shape[cdim]
    x = input if cdim == input.ndim - 1 else mx.moveaxis(input, cdim, -1)
    return x.reshape(-1, C), target.reshape(-1)


def _as_index(t: mx.array, ignore_index: Optional[int] = None) -> mx.array:
    """Targets in a signed dtype wide enough to compare with ``ignore_index``
    (MLX raises on a Python int that overflows the array's dtype)."""
    wide = ignore_index is not None and not -(2**31) <= ignore_index < 2**31
    if t.dtype in (mx.uint32, mx.uint64) or (wide and t.dtype != mx.int64):
        return t.astype(mx.int64)
    if t.dtype in (mx.uint8, mx.int8, mx.uint16, mx.int16):
        return t.astype(mx.int32)
    return t


def _c(value: float, dtype: mx.Dtype) -> mx.array:
    """A constant in ``dtype`` (a bare Python float is rounded to float32 first)."""
    return mx.array(value, dtype=dtype)


def _target_masks(t: mx.array, C: int, ignore_index: Optional[int]):
    """(ignored, out of range and not ignored, safe index in [0, C) as int32).

    ``ignore_index=None`` means the eager value check proved every target in
    [0, C) and none ignored: both masks are None and the index is ``t``
    itself. (Each mask op is a graph node, a few microseconds each at eval:
    most of the time of a small batch.)
    """
    if ignore_index is None:
        return None, None, t.astype(mx.int32)
    ignored = t == ignore_index
    in_range = (t >= 0) & (t < C)
    safe = mx.where(in_range, t, 0).astype(mx.int32)
    return ignored, mx.logical_not(in_range | ignored), safe


_OUT_DTYPES = (mx.float16, mx.bfloat16, mx.float32, mx.float64)


def _check_logit_options(fn: str, softcap, logit_scale, z_loss, out_dtype):
    """The MLX-only options of cross_entropy and linear_cross_entropy:
    ``(softcap or None, logit_scale or None, z_loss, out_dtype or None)``."""
    if softcap is not None:
        softcap = check_number(fn, "softcap", softcap, min_value=0.0, min_inclusive=False)
        if not math.isfinite(softcap):
            raise ValueError(message(fn, "softcap", "be a finite number > 0 or None",
                                     repr(softcap)))
        softcap = float(softcap)
    if logit_scale is not None:
        logit_scale = check_number(fn, "logit_scale", logit_scale)
        if not math.isfinite(logit_scale):
            raise ValueError(message(fn, "logit_scale", "be a finite number or None",
                                     repr(logit_scale)))
        logit_scale = None if logit_scale == 1 else float(logit_scale)
    z_loss = check_number(fn, "z_loss", z_loss, min_value=0.0)
    if not math.isfinite(z_loss):
        raise ValueError(message(fn, "z_loss", "be a finite number >= 0", repr(z_loss)))
    if out_dtype is not None and out_dtype not in _OUT_DTYPES:
        raise TypeError(message(fn, "out_dtype",
                                "be None, mx.float16, mx.bfloat16, mx.float32 or mx.float64",
                                repr(out_dtype)))
    return softcap, logit_scale, float(z_loss), out_dtype


def _transform_logits(x: mx.array, softcap: Optional[float],
                      logit_scale: Optional[float]) -> mx.array:
    """``softcap * tanh(logit_scale * x / softcap)`` (each part only when
    set), in ``x``'s dtype; autodiff gives its gradient."""
    if softcap is None:
        return x * _c(logit_scale, x.dtype) if logit_scale is not None else x
    k = (1.0 if logit_scale is None else logit_scale) / softcap
    return _c(softcap, x.dtype) * mx.tanh(x * _c(k, x.dtype))


# --------------------------------------------------------------------------
# cross-entropy with class indices: the custom VJP


@functools.lru_cache(maxsize=None)
def _ce_index_fn(ignore_index: Optional[int], smoothing: float, weighted: bool,
                 z_loss: float = 0.0):
    """The per-row cross-entropy of (M, C) logits and (M,) class indices.

    ``ignore_index=None``: the targets are known to be in range and none
    ignored (see :func:`_target_masks`), so no masks are built.

    Per row (``w`` = class weights, ones without; ``W = sum(w)``;
    ``lse`` = log-sum-exp; rows whose target is ``ignore_index`` give 0,
    rows whose target is out of range give NaN, never a read out of range):

        loss = (1 - eps) w_t (lse - x_t) + eps / C (W lse - sum_c w_c x_c)

    (formed as ``(m - x_t) + log s`` and ``sum_c w_c (m - x_c) + W log s``
    with ``m`` the row's max and ``s = sum_c exp(x_c - m)``), which is
    torch's ``(1 - eps) * nll + eps / C * smooth`` per element
    (its 'mean' divides both sums by the same weight total), plus
    ``z_loss * lse ** 2`` with a z-loss. The forward returns ``(loss, e,
    s)`` (and ``lse`` with a z-loss): the softmax ``e / s`` is the residual
    the VJP needs (kept as its two factors: one full-size array).
    """
    eps = float(smoothing)
    zl = float(z_loss)

    def forward(x, t, w):
        C = x.shape[-1]
        dt = acc_dtype(x.dtype)
        ignored, bad, safe = _target_masks(t, C, ignore_index)
        # the only exp pass over the logits; softmax = e / s, never built.
        # Half logits are upcast inside it (no float32 copy of x is kept).
        e, s, m, log_s = softmax_parts(x, axis=-1, dtype=dt)
        xt = mx.take_along_axis(x, mx.expand_dims(safe, -1), axis=-1).squeeze(-1).astype(dt)
        # (max - x_t) + log(sum): lse - x_t would round the loss at the
        # scale of the logits (log 2 at [1e8, 1e8] in float32 gives 0)
        nll = (m.squeeze(-1) - xt) + log_s.squeeze(-1)
        if w is not None:
            wt = mx.take(w, safe)
            loss = _c(1.0 - eps, dt) * wt * nll if eps else wt * nll
        else:
            loss = _c(1.0 - eps, dt) * nll if eps else nll
        if eps:
            # sum_c w_c (lse - x_c) as sum_c w_c (max - x_c) + W log(sum),
            # for the same reason (every term >= 0 for weights >= 0)
            d = m - x.astype(dt)
            if w is not None:
                sd, W = d @ w, mx.sum(w)
            else:
                sd, W = mx.sum(d, axis=-1), _c(C, dt)
            loss = loss + _c(eps / C, dt) * (sd + W * log_s.squeeze(-1))
        if zl:
            lse = (m + log_s).squeeze(-1)
            loss = loss + _c(zl, dt) * mx.square(lse)
        if ignored is not None:
            loss = mx.where(ignored, 0.0, mx.where(bad, _c(math.nan, dt), loss))
        return (loss, e, s, lse) if zl else (loss, e, s)

    def backward(x, t, w, g, e, s, lse=None):
        C = x.shape[-1]
        ignored, bad, safe = _target_masks(t, C, ignore_index)
        dt = e.dtype
        g = g.astype(dt)
        if ignored is not None:
            g = mx.where(ignored, 0.0, mx.where(bad, _c(math.nan, dt), g))
        if w is not None:
            wt = mx.take(w, safe)
            if ignored is not None:
                # an ignored row's own weight never reaches its gradient
                # (0 * inf); with smoothing the summed weights still do, as
                # in torch
                wt = mx.where(ignored, 0.0, wt)
            b = g * (_c(1.0 - eps, dt) * wt)
            a = g * (_c(1.0 - eps, dt) * wt + _c(eps / C, dt) * mx.sum(w)) if eps else b
        else:
            b = g * _c(1.0 - eps, dt) if eps else g
            a = g
        if zl:
            # d (z lse^2) / dx = 2 z lse softmax: one more factor of p
            a = a + g * (_c(2.0 * zl, dt) * lse)
        # d loss_i / d x_ic = a_i p_ic - b_i [c == t_i] - c_i w_c: one pass
        # over p (plus a rank-1 update with smoothing), then a scatter of one
        # value per row. (mx.compile cannot fuse inside a VJP being traced,
        # so this is written as few full-size passes as possible.)
        col = lambda v: mx.expand_dims(v, -1)  # noqa: E731
        ti = col(safe)
        # the value at the target, from p (so the full-size array below has
        # one user and the scatter writes into it in place)
        a_s = col(a) / s  # softmax times a: e * (a / s)
        at_t = mx.take_along_axis(e, ti, axis=-1) * a_s - col(b)
        grad = e * a_s
        if eps:
            wv = w if w is not None else mx.ones((C,), dtype=dt)
            c = g * _c(-eps / C, dt)
            at_t = at_t + col(c * mx.take(wv, safe))
            grad = mx.addmm(grad, col(c), mx.expand_dims(wv, 0))
        grad = mx.put_along_axis(grad, ti, at_t, axis=-1)
        return grad.astype(x.dtype)

    if weighted:

        @mx.custom_function
        def ce(x, t, w):
            return forward(x, t, w)

        @ce.vjp
        def ce_vjp(primals, cotangents, outputs):
            x, t, w = primals
            gx = backward(x, t, w, cotangents[0], *outputs[1:])
            return gx, mx.zeros_like(t), mx.zeros_like(w)

    else:

        @mx.custom_function
        def ce(x, t):
            return forward(x, t, None)

        @ce.vjp
        def ce_vjp(primals, cotangents, outputs):
            x, t = primals
            gx = backward(x, t, None, cotangents[0], *outputs[1:])
            return gx, mx.zeros_like(t)

    return ce


def _use_fused(x2: mx.array, label_smoothing: float) -> bool:
    """Whether to take ``mx.fast.cross_entropy`` (fused, float32 accumulation).

    Off the CPU (Metal/CUDA), where it is a fused kernel (its CPU version is
    the unfused formula), and where this MLX has it.
    """
    return (
        not cpu_branches()
        and hasattr(mx.fast, "cross_entropy")
        and label_smoothing == 0.0
        and x2.size > 0
        and x2.dtype in (mx.float32, mx.float16, mx.bfloat16)
    )


def _ce_index_fused(x2, t1, w, ignore_index):
    """``ignore_index=None``: every target in range, none ignored (no masks)."""
    C = x2.shape[-1]
    ignored, bad, safe = _target_masks(t1, C, ignore_index)
    if mx.default_device() == mx.cpu:
        # only under the test switch: MLX's CPU fallback reduces in the
        # logits' dtype, its GPU kernels in float32 (as here)
        x2 = x2.astype(mx.float32)
    m = mx.stop_gradient(mx.max(x2, axis=-1, keepdims=True))
    # the kernel forms logsumexp(x) - x_t: shifted by the row's max, that is
    # log(sum) - (x_t - max), never rounded at the logits' scale (an all
    # -inf row shifts by 0: NaN, as torch)
    shift = mx.where(mx.abs(m) == math.inf, _c(0.0, x2.dtype), m)
    loss = mx.fast.cross_entropy(x2 - shift, safe)  # float32, per row
    # NaN, value and gradient, for an out-of-range target and for a row
    # holding +inf (the kernel's logsumexp of it is +inf): a factor, since
    # a select would give those rows a zero gradient; an ignored row is 0
    # (value and gradient), as in _ce_index_fn
    nan_rows = m.squeeze(-1) == math.inf
    if bad is not None:
        nan_rows = nan_rows | bad
    loss = loss * mx.where(nan_rows, _c(math.nan, loss.dtype), _c(1.0, loss.dtype))
    if w is not None:
        wt = mx.take(w, safe).astype(loss.dtype)
        if ignored is not None:
            # an ignored row's factor is 0 too: its gradient 0, never 0 * inf
            wt = mx.where(ignored, _c(0.0, loss.dtype), wt)
        loss = loss * wt
    return loss if ignored is None else zero_where(ignored, loss)


def _ce_rows(x2, t1, w, ignore_index, label_smoothing, checked=False, z_loss=0.0):
    """Unreduced per-row loss (accumulation dtype) of (M, C) logits.

    ``checked``: the eager value check found every target in range and none
    ignored (no masks needed)."""
    M, C = x2.shape
    if x2.size == 0:
        # No logits to read: an ignored row is 0, any other row has no
        # valid class (C == 0) and is NaN.
        ignored = t1 == ignore_index
        fill = 0.0 if C > 0 else float("nan")
        return mx.where(ignored, 0.0, fill).astype(acc_dtype(x2.dtype))
    if not z_loss and _use_fused(x2, label_smoothing):
        return _ce_index_fused(x2, t1, w, None if checked else ignore_index)
    fn = _ce_index_fn(None if checked else ignore_index, float(label_smoothing), w is not None,
                      float(z_loss))
    return (fn(x2, t1) if w is None else fn(x2, t1, w))[0]


def _class_weights_of(t1, w, ignore_index, dtype, checked=False):
    """Each row's weight in the 'mean' denominator: w[t] (1 without weight),
    0 where ignored. ``checked``: every target in range, none ignored."""
    if checked and w is not None:
        return mx.take(w, t1.astype(mx.int32)).astype(dtype)
    ignored = t1 == ignore_index
    if w is None:
        return mx.logical_not(ignored).astype(dtype)
    C = w.shape[0]
    safe = mx.clip(t1, 0, max(C - 1, 0)).astype(mx.int32)
    return mx.where(ignored, 0.0, mx.take(w, safe)).astype(dtype)


def _reduce_index(loss, t1, w, ignore_index, reduction, out_shape, out_dtype, checked=False,
                  smoothing=0.0, *, group):
    # torch's weighted mean divides by the summed weights of the counted
    # targets (all ignored or an empty batch: 0 / 0 = NaN). The plain
    # division's gradient is torch's: NaN (or inf) in the counted rows when
    # their weights sum to 0, and 0 in the ignored rows (the kernels mask
    # those). Every row counted with weight 1 (checked, no class weight):
    # the plain mean. With label smoothing torch divides the NLL and the
    # smoothing sums separately: its NLL part is 0 / 0 = NaN when the
    # weights sum to 0.
    plain = checked and w is None
    weights = (_class_weights_of(t1, w, ignore_index, loss.dtype, checked)
               if reduction == "mean" and not plain else None)
    return class_index_reduction(loss, reduction, weights, shape=out_shape, dtype=out_dtype,
                                 nan_when_empty=bool(smoothing) and w is not None, group=group)


@public_loss
def cross_entropy(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    *,
    axis: int = 1,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    z_loss: float = 0.0,
    out_dtype: Optional[mx.Dtype] = None,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Cross-entropy between logits and targets, as ``torch.nn.functional.cross_entropy``.

    With class indices :math:`y_n` (``w`` the class weights, :math:`\epsilon`
    the label smoothing, :math:`C` classes):

    .. math::
        \ell_n = (1 - \epsilon)\, w_{y_n} \left(-\log \mathrm{softmax}(x_n)_{y_n}\right)
            + \frac{\epsilon}{C} \sum_c w_c \left(-\log \mathrm{softmax}(x_n)_c\right)

    and :math:`\ell_n = 0` where :math:`y_n` is ``ignore_index``. ``'mean'``
    divides the sum by :math:`\sum_n w_{y_n}` over the counted targets (NaN
    when every target is ignored). With class probabilities :math:`p_{n,c}`
    (``target`` of ``input``'s shape, smoothed to
    :math:`(1-\epsilon) p + \epsilon / C`):
    :math:`\ell_n = -\sum_c w_c\, p_{n,c} \log \mathrm{softmax}(x_n)_c`, and
    ``'mean'`` divides by the number of rows.

    Beyond torch (keyword-only, MLX-only): ``axis`` names the class axis
    (``-1`` for channels-last ``(N, H, W, C)`` or ``(B, T, V)`` logits; the
    result equals torch's channels-first one); ``logit_scale`` and
    ``softcap`` transform the logits first, as gemma2 / cohere / granite
    models do after their head,

    .. math::
        z = \text{softcap} \cdot \tanh(\text{logit\_scale} \cdot x / \text{softcap})

    (each part only when given), and the loss above is taken of :math:`z`;
    ``z_loss`` adds the auxiliary :math:`\lambda \operatorname{lse}(z_n)^2`
    of PaLM / ST-MoE (Chowdhery et al. 2022; Zoph et al. 2022) to each
    counted row's loss before the reduction (``'mean'`` divides it by the
    same :math:`\sum_n w_{y_n}`; ignored rows contribute nothing);
    ``out_dtype`` returns the loss in that dtype (``mx.float32`` for a
    float16 / bfloat16 input keeps the float32 accumulation instead of
    torch's rounding to the input's dtype).

    Class-index targets run through a custom VJP that takes the softmax once
    and reuses it in the backward (one exp pass over the logits per
    forward+backward); float16/bfloat16 logits accumulate in float32. On the
    GPU, ``mx.fast.cross_entropy`` is used where it applies.

    Args:
        input (array): Logits, class dimension 1: :math:`(C)`, :math:`(N, C)`
            or :math:`(N, C, d_1, ..., d_K)`.
        target (array): Class indices (integer dtype) of shape :math:`()`,
            :math:`(N)` or :math:`(N, d_1, ..., d_K)`, each in :math:`[0, C)`
            or ``ignore_index``; or class probabilities (floating dtype) of
            ``input``'s shape.
        weight (array, optional): A weight per class, shape :math:`(C)`.
            Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        ignore_index (int, optional): A class-index target value that is
            ignored (no loss, no gradient, not counted by ``'mean'``). Only
            for class indices; probability targets require it negative.
            Default: ``-100``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        label_smoothing (float, optional): :math:`\epsilon` in [0, 1]; as
            in torch, a negative or NaN value means no smoothing. Default:
            ``0.0``.
        axis (int, optional): The class axis of ``input`` (and of a
            probability target), not the batch axis 0. Default: ``1``.
        softcap (float, optional): Final-logit softcapping, ``> 0``.
            Default: ``None``.
        logit_scale (float, optional): A factor applied to the logits before
            anything else (cohere's ``logit_scale``; granite's
            ``1 / logits_scaling``). Default: ``None``.
        z_loss (float, optional): :math:`\lambda \ge 0` of the z-loss.
            Default: ``0.0``.
        out_dtype (Dtype, optional): The dtype of the returned loss; ``None``
            is torch's rule. Default: ``None``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`
          (the class axis moved to ``axis``, e.g. :math:`(N, d_1, ..., C)`).
        - Target: :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)` for
          class indices (the input's shape without the class axis); the
          shape of the input for probabilities.
        - Output: scalar; with ``reduction='none'``, :math:`()`, :math:`(N)`
          or :math:`(N, d_1, ..., d_K)`.

    Returns:
        array: The loss, in ``out_dtype`` if given, else ``input``'s dtype
        (class indices) or the promoted dtype of ``input``, ``target`` and
        ``weight`` (probabilities).

    Raises:
        ValueError: An out-of-range class index (eager mode; see
            :func:`mlx_losses.set_value_checks`). Under ``mx.compile`` /
            ``mx.vmap`` or with the checks off, such a target gives NaN in
            its row's loss and gradient.
        TypeError: A ``weight`` of another dtype than ``input`` with class
            indices (torch's "expected scalar type").

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import cross_entropy
        >>> logits = mx.zeros((2, 4))
        >>> round(cross_entropy(logits, mx.array([0, 3])).item(), 6)  # log 4
        1.386294
        >>> btv = mx.zeros((2, 3, 4))  # (batch, tokens, vocabulary)
        >>> cross_entropy(btv, mx.zeros((2, 3), mx.int32), axis=-1, reduction="none").shape
        (2, 3)
    """
    fn = "cross_entropy"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    ignore_index = _check_ignore_index(fn, ignore_index)
    label_smoothing = check_label_smoothing(fn, label_smoothing)
    softcap, logit_scale, z_loss, out_dtype = _check_logit_options(
        fn, softcap, logit_scale, z_loss, out_dtype)
    check_class_input(fn, input)
    check_array(fn, "target", target)
    cdim = check_class_axis(fn, axis, input)
    C = input.shape[cdim]
    weight = _check_class_weight(fn, weight, C)

    if tuple(target.shape) == tuple(input.shape):
        return _cross_entropy_probs(fn, input, target, weight, ignore_index, reduction,
                                    label_smoothing, cdim, softcap, logit_scale, z_loss,
                                    out_dtype, group=group)

    C, out_shape = class_index_layout(fn, input, target, cdim)
    _check_weight_dtype(fn, weight, input.dtype)
    target = _as_index(target, ignore_index)
    checked = check_index_range(fn, "target", target, C, ignore_index=ignore_index)
    x2, t1 = _rows(input, target, cdim)
    if softcap is not None or logit_scale is not None:
        # the transformed logits in the accumulation dtype (their gradient
        # is cast back to the input's dtype by astype's)
        x2 = _transform_logits(upcast(x2, x2.dtype), softcap, logit_scale)
    # class weights are not differentiated (as in torch)
    w = mx.stop_gradient(upcast(weight, input.dtype)) if weight is not None else None
    loss = _ce_rows(x2, t1, w, ignore_index, label_smoothing, checked, z_loss)
    return _reduce_index(loss, t1, w, ignore_index, reduction, out_shape,
                         out_dtype or input.dtype, checked, label_smoothing, group=group)


def _cross_entropy_probs(fn, input, target, weight, ignore_index, reduction, eps, cdim=1,
                         softcap=None, logit_scale=None, z_loss=0.0, out_dtype=None, *, group):
    if not mx.issubdtype(target.dtype, mx.floating):
        raise TypeError(
            message(
                fn,
                "target",
                "have a floating dtype when it has `input`'s shape (class probabilities; "
                "Expected floating point type for target with class probabilities)",
                dtype_name(target.dtype),
            )
        )
    if ignore_index >= 0:
        raise ValueError(
            message(fn, "ignore_index", "be negative for class-probability targets",
                    f"{ignore_index}: ignore_index is not supported for floating point target")
        )
    # torch's output dtype promotes the class weights too
    out = result_dtype(input, target, *([weight] if weight is not None else []))
    C = input.shape[cdim]
    x = _transform_logits(upcast(input, out), softcap, logit_scale)
    y = upcast(target, out)
    out = out_dtype or out
    if x.size == 0:
        # nothing to normalize (logsumexp rejects empty arrays)
        return apply_reduction(-accurate_sum(x * y, axis=cdim), reduction, dtype=out, group=group)
    # (x - max) - log(sum exp(x - max)): x - lse would round the log-softmax
    # at the scale of the logits. An all -inf row is shifted by 0 (NaN, as
    # torch); a +inf max stays, so its row is NaN throughout, as torch's.
    m = mx.stop_gradient(mx.max(x, axis=cdim, keepdims=True))
    m = mx.where(m == -math.inf, mx.zeros_like(m), m)
    xs = x - m
    log_s = logsumexp(xs, axis=cdim, keepdims=True)
    logp = xs - log_s
    if eps > 0.0:
        y = y * _c(1.0 - eps, y.dtype) + _c(eps / C, y.dtype)
    prod = logp * y
    if weight is not None:
        shape = [1] * input.ndim
        shape[cdim] = C
        prod = prod * mx.stop_gradient(weight).astype(prod.dtype).reshape(shape)
    loss = -accurate_sum(prod, axis=cdim)
    if z_loss:
        lse = (m + log_s).squeeze(cdim).astype(loss.dtype)
        loss = loss + _c(z_loss, loss.dtype) * mx.square(lse)
    # 'mean': torch divides by numel / C (the number of rows); empty -> NaN.
    return apply_reduction(loss, reduction, dtype=out, group=group)


# --------------------------------------------------------------------------
# nll_loss


@public_loss
def nll_loss(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    axis: int = 1,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Negative log-likelihood of log-probabilities, as ``torch.nn.functional.nll_loss``.

    .. math::
        \ell_n = -w_{y_n}\, x_{n, y_n}, \qquad \ell_n = 0 \text{ where } y_n = \text{ignore\_index}

    ``'mean'`` is :math:`\sum_n \ell_n / \sum_n w_{y_n}` over the counted
    targets (NaN when every target is ignored). ``weight`` must have
    ``input``'s dtype, as in torch. An out-of-range target raises in eager
    mode; under ``mx.compile`` or with the value checks off it gives NaN in
    its loss and gradient.

    Args:
        input (array): Log-probabilities, class dimension 1: :math:`(C)`,
            :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        target (array): Class indices (integer dtype) of shape :math:`()`,
            :math:`(N)` or :math:`(N, d_1, ..., d_K)`.
        weight (array, optional): A weight per class, shape :math:`(C)`.
            Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        ignore_index (int, optional): A target value that is ignored.
            Default: ``-100``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        axis (int, optional): MLX-only, keyword-only: the class axis of
            ``input`` (``-1`` for channels-last log-probabilities), not the
            batch axis 0; the result equals torch's channels-first one.
            Default: ``1``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`.
        - Output: scalar, or the target's shape with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import nll_loss
        >>> logp = mx.array([[-1.0, -0.5], [-2.0, -0.25]])
        >>> nll_loss(logp, mx.array([0, 1]), reduction="none").tolist()
        [1.0, 0.25]
    """
    fn = "nll_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    ignore_index = _check_ignore_index(fn, ignore_index)
    check_class_input(fn, input)
    check_array(fn, "target", target)
    cdim = check_class_axis(fn, axis, input)
    C, out_shape = class_index_layout(fn, input, target, cdim)
    weight = _check_class_weight(fn, weight, C)
    _check_weight_dtype(fn, weight, input.dtype)
    target = _as_index(target, ignore_index)
    checked = check_index_range(fn, "target", target, C, ignore_index=ignore_index)

    x = input.reshape(1, -1) if input.ndim == 1 else input
    t = target.reshape(1) if input.ndim == 1 else target
    cdim = 1 if input.ndim == 1 else cdim
    acc = acc_dtype(input.dtype)
    w = mx.stop_gradient(weight).astype(acc) if weight is not None else None
    ignored, bad, safe = _target_masks(t, C, None if checked else ignore_index)
    if x.size == 0:
        loss = mx.where(ignored, 0.0, 0.0 if C > 0 else float("nan")).astype(acc)
    else:
        # gather along the class axis for every layout; upcast after the
        # gather, so half inputs cost no full-size copy
        xt = mx.take_along_axis(x, mx.expand_dims(safe, cdim), axis=cdim).squeeze(cdim).astype(acc)
        if ignored is None:
            loss = -xt if w is None else -(mx.take(w, safe) * xt)
        else:
            # an out-of-range target's factor is NaN: NaN in its loss and
            # its gradient (as cross_entropy's)
            wt = _c(1.0, acc) if w is None else mx.take(w, safe)
            # the factor is 0 at an ignored row too: its gradient is 0,
            # never 0 * inf (an infinite weight of the ignored class)
            factor = mx.where(ignored, 0.0, mx.where(bad, _c(math.nan, acc), -wt))
            loss = cast(mx.array, zero_where(ignored, factor * xt))
    return _reduce_index(loss, t, w, ignore_index, reduction, out_shape, input.dtype, checked,
                         group=group)


# --------------------------------------------------------------------------
# binary cross-entropy


# torch's EPSILON in binary_cross_entropy_backward: a C++ float, so 1e-12
# rounded to float32 (9.99999996e-13) in every dtype, float64 included.
_BCE_EPS = struct.unpack("f", struct.pack("f", 1e-12))[0]


@compile_by_branch(shapeless=True)
def _bce_logs(x):
    # log(p) and log1p(-p), as torch takes them; the log1p as one log pass
    # on the CPU (_numerics.log1p). A kernel of its own: fused with the loss
    # below, the graph grows past MLX's fusion depth and is split with three
    # more full-size intermediates (twice the peak).
    return mx.log(x), log1p(-x)


@functools.partial(mx.compile, shapeless=True)
def _bce_loss(y, l0, l1):
    # torch clamps each log at -100, so p in {0, 1} gives a finite loss.
    return (y - 1.0) * mx.maximum(l1, -100.0) - y * mx.maximum(l0, -100.0)


def _bce_parts(x, y):
    # The unclamped logs are outputs too: the VJP reuses them (no log pass
    # in the backward).
    l0, l1 = _bce_logs(x)
    return _bce_loss(y, l0, l1), l0, l1


@functools.partial(mx.compile, shapeless=True)
def _bce_grads(x, y, g, l0, l1):
    gx = g * (x - y) / mx.maximum((1.0 - x) * x, _c(_BCE_EPS, x.dtype))
    gy = g * (l1 - l0)  # -logit(x), unclamped as in torch
    return gx, gy


@mx.custom_function
def _bce(x, y):
    return _bce_parts(x, y)


@_bce.vjp
def _bce_vjp(primals, cotangents, outputs):
    # torch's derivative, not autodiff of the clamped logs: finite w.r.t. the
    # input at p in {0, 1} ((x - y) / max(x (1 - x), 1e-12)), and -logit(x)
    # w.r.t. the target. Only the loss is differentiated (the logs are
    # residuals).
    x, y = primals
    _, l0, l1 = outputs
    return _bce_grads(x, y, cotangents[0], l0, l1)


@mx.custom_function
def _bce_weighted(x, y, w):
    loss, l0, l1 = _bce_parts(x, y)
    return loss * w, l0, l1


@_bce_weighted.vjp
def _bce_weighted_vjp(primals, cotangents, outputs):
    # the weight last, as torch: a subnormal one times the cotangent is not
    # rounded to 0 before it meets -logit(x) = +-inf at p in {0, 1}
    x, y, w = primals
    _, l0, l1 = outputs
    gx, gy = _bce_grads(x, y, cotangents[0], l0, l1)
    return gx * w, gy * w, mx.zeros_like(w)


def _check_weight_broadcast(fn: str, name: str, w: mx.array, input: mx.array) -> mx.array:
    check_floating(fn, name, w)
    try:
        shape = tuple(mx.broadcast_shapes(tuple(w.shape), tuple(input.shape)))
    except ValueError:
        shape = None
    if shape != tuple(input.shape):
        raise ShapeError(
            message(fn, name, f"be broadcastable to `input`'s shape {fmt_shape(input.shape)}",
                    fmt_shape(w.shape))
        )
    return w


def _check_same_size(fn: str, input: mx.array, target: mx.array, torch_phrase: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(
            message(fn, "target", f"have the shape of `input`, {fmt_shape(input.shape)} "
                    f"({torch_phrase})", fmt_shape(target.shape))
        )


def _check_unit_interval(fn: str, **arrays: mx.array) -> bool:
    """Every value of each array in [0, 1]; NaN fails, as in torch. The
    arrays are checked in the order given. Returns whether the check ran."""

    def check() -> bool:
        # NumPy on the CPU (_validation.in_unit_interval); elsewhere one
        # eval per array, of two reductions.
        for name, x in arrays.items():
            if x.size and not in_unit_interval(x):
                raise ValueCheckError(
                    message(fn, name, "hold probabilities in [0, 1]",
                            f"values outside it: all elements of {name} should be between 0 and 1")
                )
        return True

    return bool(run_value_check(check))


@public_loss
def binary_cross_entropy(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``.

    .. math::
        \ell_n = -w_n \left( y_n \max(\log x_n, -100)
            + (1 - y_n) \max(\log(1 - x_n), -100) \right)

    The logs are clamped at -100 as in torch, and the gradient is torch's:
    :math:`w (x - y) / \max(x (1 - x), 10^{-12})` w.r.t. the input (finite at
    :math:`x \in \{0, 1\}`) and :math:`-w \operatorname{logit}(x)` w.r.t. the
    target.

    Args:
        input (array): Probabilities in [0, 1], any shape.
        target (array): Targets in [0, 1], the shape and dtype of ``input``.
        weight (array, optional): Weights broadcastable to ``input``'s shape
            (not differentiated). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, the same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in ``input``'s dtype.

    Raises:
        ValueError: ``input`` or ``target`` outside [0, 1] (eager mode; see
            :func:`mlx_losses.set_value_checks`).
        TypeError: ``target`` of another dtype than ``input`` (torch's
            "Found dtype ... but expected ...").

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import binary_cross_entropy
        >>> binary_cross_entropy(mx.array([0.0, 1.0]), mx.array([1.0, 1.0]), reduction="none").tolist()
        [100.0, -0.0]
    """
    fn = "binary_cross_entropy"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    if target.dtype != input.dtype:  # torch's kernel takes one dtype (any weight's)
        want, got = (_TORCH_DTYPE.get(d, dtype_name(d)) for d in (input.dtype, target.dtype))
        raise TypeError(
            message(fn, "target", f"have the dtype of `input`, {dtype_name(input.dtype)}",
                    f"{dtype_name(target.dtype)}: Found dtype {got} but expected {want}")
        )
    _check_same_size(fn, input, target,
                     "Using a target size that is different to the input size is deprecated")
    if weight is not None:
        _check_weight_broadcast(fn, "weight", weight, input)
    checked = _check_unit_interval(fn, input=input, target=target)
    out = result_dtype(input, target)
    y = upcast(target, out)
    x = upcast(input, out)
    if weight is None:
        loss = cast(Tuple[mx.array, ...], _bce(x, y))[0]
    else:
        w = mx.stop_gradient(weight).astype(out)
        loss = cast(Tuple[mx.array, ...], _bce_weighted(x, y, w))[0]
    if not checked:
        # unchecked (switched off, or under mx.compile): a target outside
        # [0, 1] is NaN, value and gradient (a factor), as an input outside it
        loss = loss * mx.where((y >= 0) & (y <= 1), _c(1.0, loss.dtype), _c(math.nan, loss.dtype))
    return apply_reduction(loss, reduction, dtype=out, group=group)


# binary_cross_entropy_with_logits: the forward as torch's formula
# (``mx.logaddexp``: one primitive, no full-size temporaries), a hand-written
# backward. With lw = 1 + (pos_weight - 1) y (1 without pos_weight):
#   loss = (1 - y) x + lw softplus(-x)
#   d/dx = (1 - y) - lw sigmoid(-x)                (sigmoid(x) - y without)
#   d/dy = pos_weight softplus(-x) - softplus(x)   (-x without pos_weight)
# Autodiff through logaddexp takes an exp and a log1p in the backward; this
# takes one fast exp (_numerics.sigmoid: 1 / (1 + e ** -x) on the CPU, one
# full-size array at a time op by op). The backward recomputes it instead
# of keeping it: a residual output would keep the forward's full-size loss
# alive too (the outputs of one primitive live together), and MLX's eager
# grad runs these compiled bodies op by op, so every kept array is peak
# memory. d/dy is only computed if the target's gradient is used (MLX is
# lazy).


@functools.partial(mx.compile, shapeless=True)
def _bce_logits_fwd(x, y):
    # (1 - y) x - log(sigmoid(x)) = (1 - y) x + softplus(-x), stable for any x
    return (1.0 - y) * x + softplus_neg(x)


@functools.partial(mx.compile, shapeless=True)
def _bce_logits_pos_fwd(x, y, pw):
    return (1.0 - y) * x + (1.0 + (pw - 1.0) * y) * softplus_neg(x)


@compile_by_branch(shapeless=True)
def _bce_logits_dx(x, y, g):
    return g * (sigmoid(x) - y)


@compile_by_branch(shapeless=True)
def _bce_logits_pos_dx(x, y, pw, g):
    # (1 - y) - lw sigmoid(-x) keeps both tails; where lw or pw y is not
    # finite (an inf target or pos_weight), torch's form lw sigmoid(x) - pw y
    # and so its NaN / inf (inf - inf)
    t = pw * y
    lw = t + 1.0 - y
    sn = sigmoid_neg(x)
    return g * mx.where(mx.isfinite(t) & mx.isfinite(lw), (1.0 - y) - lw * sn,
                        lw * (1.0 - sn) - t)


@functools.partial(mx.compile, shapeless=True)
def _bce_logits_pos_dy(x, pw, g):
    # torch's form, pw softplus(-x) - softplus(x) (= (pw - 1) softplus(-x) - x)
    return g * (pw * softplus_neg(x) - softplus_neg(-x))


def _with_bce_logits_backward(forward, dx=_bce_logits_dx):
    """``forward(x, y)`` (a per-element loss equal to BCE-with-logits'
    without pos_weight, however computed) as a custom function with
    BCE-with-logits' backward: ``dx(x, y, g)`` = g (sigmoid(x) - y) w.r.t.
    ``x``, -g x w.r.t. ``y``."""

    @mx.custom_function
    def loss(x, y):
        return forward(x, y)

    @loss.vjp
    def loss_vjp(primals, cotangents, outputs):
        x, y = primals
        g = single(cotangents)
        # a broadcast operand's gradient is summed back to its own shape
        return _sum_to(dx(x, y, g), x.shape), _sum_to(-g * x, y.shape)

    return loss


def _sum_to(g: mx.array, shape) -> mx.array:
    """``g`` summed over the axes along which ``shape`` was broadcast to it."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = list(range(lead)) + [lead + i for i, n in enumerate(shape)
                                if n == 1 and g.shape[lead + i] != 1]
    return (mx.sum(g, axis=axes, keepdims=True) if axes else g).reshape(shape)


_bce_logits = _with_bce_logits_backward(_bce_logits_fwd)


@mx.custom_function
def _bce_logits_pos(x, y, pw):
    """Per-element loss; ``pw`` is pos_weight,
    broadcastable to ``x``; it gets no gradient (callers stop it)."""
    return _bce_logits_pos_fwd(x, y, pw)


@_bce_logits_pos.vjp
def _bce_logits_pos_vjp(primals, cotangents, outputs):
    x, y, pw = primals
    g = single(cotangents)
    return _bce_logits_pos_dx(x, y, pw, g), _bce_logits_pos_dy(x, pw, g), mx.zeros_like(pw)


@public_loss
def binary_cross_entropy_with_logits(
    input: mx.array,
    target: mx.array,
    weight: Optional[mx.array] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    pos_weight: Optional[mx.array] = None,
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Binary cross-entropy of logits, as ``torch.nn.functional.binary_cross_entropy_with_logits``.

    .. math::
        \ell_n = w_n \left( (1 - y_n)\, x_n
            + \left(1 + (p_n - 1) y_n\right) \log\left(1 + e^{-x_n}\right) \right)

    computed stably (``mx.logaddexp(0, -x)``) for any logit; :math:`p` is
    ``pos_weight``, broadcast against the target (a weight per class along
    the last dimension, or any broadcastable shape).

    Args:
        input (array): Logits, any shape.
        target (array): Targets (usually in [0, 1]), the same shape as
            ``input``.
        weight (array, optional): Weights broadcastable to ``input``'s shape.
            Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        pos_weight (array, optional): Weight of the positive term,
            broadcastable to ``input``'s shape. Default: ``None``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, the same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in ``target``'s dtype (torch's rule).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import binary_cross_entropy_with_logits
        >>> round(binary_cross_entropy_with_logits(mx.array([0.0]), mx.array([1.0])).item(), 6)
        0.693147
    """
    fn = "binary_cross_entropy_with_logits"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    _check_same_size(fn, input, target, "Target size must be the same as input size")
    if weight is not None:
        _check_weight_broadcast(fn, "weight", weight, input)
    if pos_weight is not None:
        _check_weight_broadcast(fn, "pos_weight", pos_weight, input)
    # torch computes in place into the target's dtype: the output has it.
    out = target.dtype
    comp = result_dtype(input, target)
    x, y = upcast(input, comp), upcast(target, comp)
    if pos_weight is None:
        loss = _bce_logits(x, y)
    else:
        pw = mx.stop_gradient(pos_weight).astype(x.dtype)
        if x.size == 0:
            # a shapeless-compiled kernel broadcasts an empty array against a
            # size-1 one to the size-1 shape (MLX 0.32): give it x's shape
            pw = mx.broadcast_to(pw, x.shape)
        loss = _bce_logits_pos(x, y, pw)
    if weight is not None:
        loss = loss * mx.stop_gradient(weight).astype(loss.dtype)
    return apply_reduction(loss, reduction, dtype=out, group=group)
