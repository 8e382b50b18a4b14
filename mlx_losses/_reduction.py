"""Every reduction a loss can ask for, in one place.

A kernel computes its unreduced loss and returns through exactly one of the
helpers here, passing its ``group`` (an ``mx.distributed.Group`` or None)
explicitly. torch's "mean" is not one operation: weighted cross-entropy /
NLL divide by the summed weights of the counted targets (all ignored ->
NaN), ``kl_div`` has ``'batchmean'``, CTC divides each loss by its target
length first, distillation clamps its token count. Each is a named helper.

With a group of more than one rank every reduction is global: ``'mean'``
and ``'sum'`` are the value one process computes on the concatenated batch,
and each rank's gradient is that of the global loss w.r.t. its local inputs.

Accuracy: MLX's CPU ``sum`` over a whole large float32 array accumulates
with visible error (percent-level at ~1.7e7 elements on some data); summing
blocks of a bounded length first and then the block sums is accurate to
float32 rounding at any size. float16 / bfloat16 are accumulated in float32
(``_dtypes.acc_dtype``) and cast back once, as torch does.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx

from ._dtypes import acc_dtype, upcast

__all__ = [
    "accurate_sum",
    "accurate_sum_nograd",
    "accurate_mean",
    "apply_reduction",
    "reduce_with_vjp",
    "mean_from_sum",
    "weighted_mean",
    "weighted_reduction",
    "class_index_reduction",
    "batchmean",
    "length_normalized_reduction",
    "clamped_mean",
    "global_sum",
    "global_gather",
    "active_group",
    "single",
]

Group = mx.distributed.Group

# The longest run one MLX reduction accumulates before we split it.
_BLOCK = 4096


# --------------------------------------------------------------------------
# accurate sums


def _sum_all(x: mx.array) -> mx.array:
    # Reduce a moderate last axis first, then the rest; split a long run into
    # blocks so no single accumulation runs longer than _BLOCK.
    #
    # Every graph node costs a few microseconds to schedule at eval time,
    # which dominates at small sizes: no reshape of an array that is already
    # flat, and the last two levels as sum(sum(x, -1, keepdims=True)) (the
    # same two runs of additions as summing a (k,) vector, one squeeze fewer).
    while True:
        if x.ndim == 0 or (x.ndim == 1 and x.size <= _BLOCK):
            return mx.sum(x)
        if x.ndim > 1 and x.shape[-1] <= _BLOCK:
            if x.ndim == 2 and x.shape[0] <= _BLOCK:
                return mx.sum(mx.sum(x, axis=-1, keepdims=True))
            x = mx.sum(x, axis=-1)
            continue
        if x.ndim != 1:
            x = x.reshape(-1)
        pad = (-x.size) % _BLOCK
        if pad:
            x = mx.pad(x, (0, pad))
        x = x.reshape(-1, _BLOCK)


def _normalize_axes(x: mx.array, axis: Union[None, int, Sequence[int]]) -> Tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % x.ndim for a in axes))


def _accurate_sum(x: mx.array, axes: Tuple[int, ...], full: bool, keepdims: bool) -> mx.array:
    x = x.astype(acc_dtype(x.dtype)) if mx.issubdtype(x.dtype, mx.floating) else x
    if full:
        out = _sum_all(x)
        if keepdims:
            out = out.reshape((1,) * x.ndim)
        return out
    big = 1
    for a in axes:
        big *= x.shape[a]
    if big <= _BLOCK:
        return mx.sum(x, axis=axes, keepdims=keepdims)
    # Move the reduced axes last, flatten them, and reduce in blocks.
    keep = [a for a in range(x.ndim) if a not in axes]
    xt = mx.transpose(x, keep + list(axes)).reshape([x.shape[a] for a in keep] + [big])
    pad = (-big) % _BLOCK
    if pad:
        xt = mx.pad(xt, [(0, 0)] * len(keep) + [(0, pad)])
    xt = xt.reshape([x.shape[a] for a in keep] + [-1, _BLOCK])
    out = mx.sum(mx.sum(xt, axis=-1), axis=-1)
    if out.shape != tuple(x.shape[a] for a in keep):
        out = out.reshape([x.shape[a] for a in keep])
    if keepdims:
        out = mx.expand_dims(out, axes)
    return out


def single(v: Any) -> Any:
    """The one array of a custom VJP's ``primals`` / ``cotangents`` /
    ``outputs`` for a single-array function: MLX 0.32 passes the array
    itself; a list or tuple of one is taken apart too."""
    return v[0] if isinstance(v, (list, tuple)) else v


def accurate_sum(
    x: mx.array, axis: Union[None, int, Sequence[int]] = None, keepdims: bool = False
) -> mx.array:
    """Sum accumulated in ``acc_dtype``, accurate at any size.

    Returns the accumulation dtype (float32 for half inputs); callers cast
    back once at the end.

    The VJP is the cotangent broadcast (lazily, no copy) to ``x``'s shape in
    ``x``'s dtype: autodiff through the blocked sum would materialise the
    padded, upcast cotangent of every element first.
    """
    full = axis is None
    axes = _normalize_axes(x, axis)
    if not mx.issubdtype(x.dtype, mx.floating) or x.size <= _BLOCK:
        return _accurate_sum(x, axes, full, keepdims)

    @mx.custom_function
    def summed(x: mx.array) -> mx.array:
        return _accurate_sum(x, axes, full, keepdims)

    @summed.vjp
    def summed_vjp(primals: Any, cotangent: mx.array, output: Any) -> Tuple[mx.array]:
        x = single(primals)
        c = cotangent.astype(x.dtype)
        if not keepdims:
            c = mx.expand_dims(c, axes) if axes else c
        return (mx.broadcast_to(c, x.shape),)

    return cast(mx.array, summed(x))


def accurate_sum_nograd(x: mx.array) -> mx.array:
    """The whole-array :func:`accurate_sum` without its custom VJP.

    For the forward of an ``mx.custom_function`` whose own VJP covers the
    sum: the inner custom function would add graph nodes (and Python work)
    on every call and its VJP would never run.
    """
    if mx.issubdtype(x.dtype, mx.floating):
        x = x.astype(acc_dtype(x.dtype))
    return _sum_all(x)


def accurate_mean(
    x: mx.array, axis: Union[None, int, Sequence[int]] = None, keepdims: bool = False
) -> mx.array:
    """Mean accumulated in ``acc_dtype``; an empty reduction gives NaN."""
    if axis is None:
        n = x.size
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        n = 1
        for a in axes:
            n *= x.shape[a]
    s = accurate_sum(x, axis=axis, keepdims=keepdims)
    if n == 0:
        return mx.full(s.shape, float("nan"), dtype=s.dtype)
    return s / n


# --------------------------------------------------------------------------
# the group


def active_group(group: Optional[Group] = None) -> Optional[Group]:
    """The group a reduction runs over: ``group``, or None when there is
    none or it has one rank."""
    if group is None or group.size() == 1:
        return None
    return group


def global_sum(x: mx.array, group: Optional[Group] = None) -> mx.array:
    """``x`` summed over the ranks of ``group`` (``x`` itself when ``group`` is
    None or has one rank).

    MLX's ``all_sum`` has the identity as its VJP, so a loss built as
    ``global_sum(local_sum) / global_sum(local_count)`` gives each rank the
    gradient of the *global* loss w.r.t. its *local* inputs: summing the
    ranks' gradients gives the single-process gradient on the whole batch.
    """
    group = active_group(group)
    if group is None:
        return x
    return mx.distributed.all_sum(x, group=group)


def _count(n: int, like: mx.array, group: Optional[Group]) -> mx.array:
    return global_sum(mx.array(n, dtype=like.dtype), group)


def _cast(out: mx.array, dtype: Optional[mx.Dtype]) -> mx.array:
    return out if dtype is None else out.astype(dtype)


# --------------------------------------------------------------------------
# reductions


def apply_reduction(
    loss: mx.array,
    reduction: str,
    *,
    dtype: Optional[mx.Dtype] = None,
    group: Optional[Group] = None,
) -> mx.array:
    """'none' | 'mean' | 'sum' of an unreduced loss, in the loss's dtype,
    then cast to ``dtype`` if given (the loss's result dtype).

    With ``group``, 'sum' and 'mean' are over every rank's elements: the
    value one process computes on the concatenated batch. 'none' ignores
    ``group``.
    """
    if reduction == "none":
        return _cast(loss, dtype)
    if reduction == "sum":
        return _cast(global_sum(accurate_sum(loss), group).astype(loss.dtype), dtype)
    if reduction == "mean":
        active = active_group(group)
        if active is None:
            return _cast(accurate_mean(loss).astype(loss.dtype), dtype)
        total = global_sum(accurate_sum(loss), active)
        return _cast((total / _count(loss.size, total, active)).astype(loss.dtype), dtype)
    raise ValueError(f"{reduction} is not a valid value for reduction")


Backward = Callable[[Tuple[mx.array, ...], Tuple[mx.array, ...], mx.array], Sequence[mx.array]]


def reduce_with_vjp(
    forward: Callable[..., Any],
    backward: Backward,
    primals: Sequence[mx.array],
    reduction: str,
    *,
    group: Optional[Group] = None,
) -> mx.array:
    """'none' | 'mean' | 'sum' of an elementwise loss with a hand-written
    backward, in the accumulation dtype.

    ``forward(*primals)`` returns the elementwise loss, or a tuple of it and
    residuals for the backward. ``backward(primals, residuals, cotangent)``
    returns one gradient per primal: ``cotangent`` has the loss's shape for
    'none', and is the scalar of the sum otherwise (already divided by the
    count for 'mean').

    For 'mean' / 'sum' the sum is taken inside the custom function: the
    elementwise loss is freed after the forward, and the backward is one
    pass over the primals in their dtype, instead of autodiff's chain
    through the blocked sum and float32 copies. 'mean' divides the (global)
    sum by the (global) count outside it.
    """
    count: List[int] = []

    @mx.custom_function
    def loss(*primals: mx.array) -> Tuple[mx.array, ...]:
        out = forward(*primals)
        elems, saved = (out[0], tuple(out[1:])) if isinstance(out, tuple) else (out, ())
        count.append(elems.size)
        # (the plain blocked sum: this function's VJP covers it)
        total = elems if reduction == "none" else global_sum(accurate_sum_nograd(elems), group)
        return (total, *saved)

    @loss.vjp
    def loss_vjp(primals: Any, cotangents: Any, outputs: Any) -> Sequence[mx.array]:
        saved = tuple(outputs[1:]) if isinstance(outputs, (list, tuple)) else ()
        return tuple(backward(tuple(primals), saved, single(cotangents)))

    out = cast(Tuple[mx.array, ...], loss(*primals))[0]
    return mean_from_sum(out, count[0], group=group) if reduction == "mean" else out


def mean_from_sum(total: mx.array, n: int, *, group: Optional[Group] = None) -> mx.array:
    """'mean' from a sum a kernel already took (over every rank of
    ``group`` when one is set): ``total`` divided by the element count, the
    global count with ``group``. No elements gives NaN. Keeps ``total``'s
    dtype (divide in the accumulation dtype, cast afterwards)."""
    active = active_group(group)
    if active is not None:
        return total / _count(n, total, active)
    if n == 0:
        return mx.full(total.shape, float("nan"), dtype=total.dtype)
    return total / n


def weighted_mean(
    loss: mx.array,
    weights: mx.array,
    dtype: Optional[mx.Dtype] = None,
    *,
    group: Optional[Group] = None,
    zero_grad_when_empty: bool = True,
    nan_when_empty: bool = False,
) -> mx.array:
    """torch's weighted mean: sum(loss) / sum(weights).

    For NLL / cross-entropy ``weights`` holds each element's class weight,
    zero where the target is ignored. When the weights sum to 0 the value is
    sum(loss) / 0 (0 / 0 = NaN when everything is ignored). The gradient is
    then zero with ``zero_grad_when_empty``, or the plain division's (inf
    times each element's gradient: torch's NLL / cross-entropy, weighted
    L1 / MSE and ``linear_cross_entropy``; a loss that masks elements must
    mask their cotangent by selection, not by a 0 factor). With
    ``nan_when_empty`` the value is NaN whenever the weights sum to 0 (a
    0 / 0 added to it). With ``group``, both sums run over every rank.
    """
    out_dtype = dtype if dtype is not None else loss.dtype
    total = global_sum(accurate_sum(loss), group)
    denom = global_sum(accurate_sum(weights.astype(total.dtype)), group)
    if not zero_grad_when_empty:
        out = total / denom
        if nan_when_empty:
            out = out + mx.zeros_like(denom) / mx.stop_gradient(denom)
        return out.astype(out_dtype)
    none_counted = denom == 0
    safe = mx.where(none_counted, 1.0, denom)
    out = mx.where(none_counted, mx.stop_gradient(total) / denom, total / safe)
    return out.astype(out_dtype)


def weighted_reduction(
    loss: mx.array,
    weight: mx.array,
    reduction: str,
    *,
    mean_over_weights: bool,
    dtype: mx.Dtype,
    group: Optional[Group] = None,
) -> mx.array:
    """The reduction of ``loss * weight`` (a per-element weight), in the
    result ``dtype``.

    'mean' is torch's weighted mean ``sum(w l) / sum(w)`` with
    ``mean_over_weights`` (L1, MSE: all-zero weights give NaN value and
    gradient, as torch's division), else the plain mean of the weighted
    losses (Huber).
    """
    # (the weight cast for each use: a half weight's gradient rounds each
    # part, as torch's does)
    weighted = loss * upcast(weight, dtype)
    if reduction == "mean" and mean_over_weights:
        mean = weighted_mean(weighted, upcast(weight, dtype), zero_grad_when_empty=False,
                             group=group)
        return mean.astype(dtype)
    return apply_reduction(weighted, reduction, dtype=dtype, group=group)


def class_index_reduction(
    loss: mx.array,
    reduction: str,
    weights: Optional[mx.array] = None,
    *,
    nan_when_empty: bool = False,
    zero_grad_when_empty: bool = False,
    shape: Optional[Sequence[int]] = None,
    dtype: Optional[mx.Dtype] = None,
    group: Optional[Group] = None,
) -> mx.array:
    """torch's reductions of a loss per class-index target (NLL,
    cross-entropy, linear cross-entropy): 'none' (reshaped to ``shape`` if
    given), 'sum', and 'mean' as ``sum(loss) / sum(weights)``.

    ``weights`` holds each target's class weight, 0 where it is ignored;
    None: every row counts once (the caller knows none is ignored), the
    plain mean. When the weights sum to 0 (everything ignored, or an empty
    batch) the value is 0 / 0 = NaN. The all-ignored rules, named:

    * ``zero_grad_when_empty`` (False, torch's rule): the gradient is the
      plain division's, so rows the kernel masks by selection get 0 and
      counted rows whose weights sum to 0 get inf / NaN;
    * ``nan_when_empty``: the value is NaN whenever the weights sum to 0,
      even where the loss sum is not 0 (torch's NLL part of label-smoothed
      cross-entropy: cross_entropy passes it with smoothing and a class
      weight, linear_cross_entropy with smoothing).

    Cast to ``dtype`` if given. With ``group``, every sum is global.
    """
    if reduction == "none":
        return _cast(loss if shape is None else loss.reshape(tuple(shape)), dtype)
    if reduction == "sum":
        return apply_reduction(loss, "sum", dtype=dtype, group=group)
    if weights is None:
        total = global_sum(accurate_sum(loss), group)
        return _cast(mean_from_sum(total, loss.size, group=group), dtype)
    return weighted_mean(loss, weights, dtype, group=group,
                         zero_grad_when_empty=zero_grad_when_empty, nan_when_empty=nan_when_empty)


def batchmean(
    loss: mx.array,
    *,
    batch_of: Optional[mx.array] = None,
    dtype: Optional[mx.Dtype] = None,
    group: Optional[Group] = None,
) -> mx.array:
    """``kl_div``'s 'batchmean': the sum divided by the batch size, dim 0 of
    ``batch_of`` (default the loss; torch divides by ``input.shape[0]``
    also where the target broadcast the loss up). A 0-d ``batch_of``: the
    sum. With ``group``: the global sum over the global batch size. Cast to
    ``dtype`` if given."""
    ref = loss if batch_of is None else batch_of
    total = global_sum(accurate_sum(loss), group)
    if ref.ndim == 0:
        return _cast(total.astype(loss.dtype), dtype)
    return _cast((total / _count(ref.shape[0], total, group)).astype(loss.dtype), dtype)


def length_normalized_reduction(
    loss: mx.array,
    lengths: mx.array,
    reduction: str,
    *,
    shape: Optional[Sequence[int]] = None,
    group: Optional[Group] = None,
) -> mx.array:
    """CTC's reductions: 'none' (reshaped to ``shape`` if given), 'sum', and
    'mean' as each loss divided by its target length (clamped to >= 1),
    then the mean over the batch (the global batch with ``group``)."""
    if reduction == "none":
        return loss if shape is None else loss.reshape(tuple(shape))
    if reduction == "sum":
        return apply_reduction(loss, "sum", group=group)
    denom = mx.maximum(lengths, 1).astype(acc_dtype(loss.dtype))
    per = loss.astype(denom.dtype) / denom
    active = active_group(group)
    if active is None:
        return accurate_mean(per).astype(loss.dtype)
    total = global_sum(accurate_sum(per), active)
    return (total / _count(per.size, total, active)).astype(loss.dtype)


def clamped_mean(
    loss: mx.array, count: Union[mx.array, int], *, group: Optional[Group] = None
) -> mx.array:
    """The sum of ``loss`` divided by a count clamped to at least 1: TRL's
    and Liger-Kernel's token mean for distillation (GKD's 'batchmean'), where
    nothing counted gives 0 (not NaN) with a zero gradient.

    ``count`` is an array (summed: a 0/1 mask of the counted tokens) or a
    Python int. With ``group``, both sums run over every rank.
    """
    total = global_sum(accurate_sum(loss), group)
    if isinstance(count, mx.array):
        n = global_sum(accurate_sum(count.astype(total.dtype)), group)
    else:
        n = _count(count, total, group)
    return (total / mx.maximum(n, 1)).astype(loss.dtype)


def global_gather(x: mx.array, group: Optional[Group] = None) -> mx.array:
    """``x`` from every rank of ``group`` concatenated along axis 0 in rank
    order; ``x`` itself without one.

    For losses whose rows score against the other rows of the batch
    (in-batch negatives): each rank takes its own rows against the gathered
    ones and reduces with the group, and the VJP gives this rank the
    cotangent of its rows summed over every rank (a reduce-scatter: MLX's
    own ``all_gather`` VJP keeps only this rank's share), so the global
    loss's gradient reaches every rank's inputs and a parameter inside the
    loss (a learned temperature) gets its share on each rank. Every rank
    must hold the same number of rows (``mx.distributed.all_gather``'s
    requirement).
    """
    active = active_group(group)
    if active is None:
        return x
    rank = active.rank()

    @mx.custom_function
    def gather(x: mx.array) -> mx.array:
        return mx.distributed.all_gather(x, group=active)

    @gather.vjp
    def gather_vjp(primals: Any, cotangent: Any, output: Any) -> Tuple[mx.array]:
        n = single(primals).shape[0]
        summed = mx.distributed.all_sum(single(cotangent), group=active)
        return (summed[rank * n:(rank + 1) * n],)

    return cast(mx.array, gather(x))
