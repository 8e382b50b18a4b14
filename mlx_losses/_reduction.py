"""Every reduction a loss can ask for, in one place.

torch's "mean" is not one operation: weighted cross-entropy / NLL divide by
the summed weights of the counted targets (all ignored -> NaN), ``kl_div``
has ``'batchmean'``, CTC divides each loss by its target length first. Each
is a named helper here; kernels return the unreduced loss and call one of
them.

Accuracy: MLX's CPU ``sum`` over a whole large float32 array accumulates
with visible error (percent-level at ~1.7e7 elements on some data); summing
blocks of a bounded length first and then the block sums is accurate to
float32 rounding at any size. float16 / bfloat16 are accumulated in float32
and cast back once, as torch does.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from typing import Iterator, Optional, Sequence

import mlx.core as mx

from ._dtypes import acc_dtype
from ._validation import message, user_stacklevel

__all__ = [
    "REDUCTIONS",
    "legacy_get_string",
    "resolve_reduction",
    "accurate_sum",
    "accurate_sum_nograd",
    "accurate_mean",
    "apply_reduction",
    "weighted_mean",
    "mean_from_sum",
    "batchmean",
    "acc_dtype",
    "global_sum",
    "single",
    "current_group",
    "reduction_group",
    "length_normalized_mean",
    "clamped_mean",
    "active_group",
    "global_gather",
    "replicated_reduction",
]

REDUCTIONS = ("none", "mean", "sum")

# The longest run one MLX reduction accumulates before we split it.
_BLOCK = 4096


def legacy_get_string(
    size_average: Optional[bool], reduce: Optional[bool], emit_warning: bool = True
) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` pair."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(
            "size_average and reduce args will be deprecated, "
            f"please use reduction='{ret}' instead.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return ret


def resolve_reduction(
    fn: str,
    reduction: str,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    *,
    allowed: Sequence[str] = REDUCTIONS,
) -> str:
    """Validate ``reduction`` and map the legacy pair onto it, exactly once.

    As in torch, either legacy argument given (not None) overrides
    ``reduction`` and warns.
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            message(
                fn,
                "reduction",
                "be one of " + ", ".join(repr(a) for a in allowed),
                f"{reduction!r}: {reduction} is not a valid value for reduction",
            )
        )
    return reduction


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


def _normalize_axes(x: mx.array, axis) -> tuple:
    if axis is None:
        return tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % x.ndim for a in axes))


def _accurate_sum(x: mx.array, axes: tuple, full: bool, keepdims: bool) -> mx.array:
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


def single(v):
    """The one array of a custom VJP's ``primals`` / ``cotangents`` /
    ``outputs`` for a single-array function: MLX 0.32 passes the array
    itself; a list or tuple of one is taken apart too."""
    return v[0] if isinstance(v, (list, tuple)) else v


def accurate_sum(x: mx.array, axis=None, keepdims: bool = False) -> mx.array:
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
    def summed(x):
        return _accurate_sum(x, axes, full, keepdims)

    @summed.vjp
    def summed_vjp(primals, cotangent, output):
        x = single(primals)
        c = cotangent.astype(x.dtype)
        if not keepdims:
            c = mx.expand_dims(c, axes) if axes else c
        return (mx.broadcast_to(c, x.shape),)

    return summed(x)


def accurate_sum_nograd(x: mx.array) -> mx.array:
    """The whole-array :func:`accurate_sum` without its custom VJP.

    For the forward of an ``mx.custom_function`` whose own VJP covers the
    sum: the inner custom function would add graph nodes (and Python work)
    on every call and its VJP would never run.
    """
    if mx.issubdtype(x.dtype, mx.floating):
        x = x.astype(acc_dtype(x.dtype))
    return _sum_all(x)


def accurate_mean(x: mx.array, axis=None, keepdims: bool = False) -> mx.array:
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


_GROUP: contextvars.ContextVar = contextvars.ContextVar("mlx_losses_group", default=None)


def current_group():
    """The ``mx.distributed.Group`` the loss being computed reduces over
    (set by the public functions' ``group=`` keyword), or None."""
    return _GROUP.get()


@contextlib.contextmanager
def reduction_group(group) -> Iterator[None]:
    """Run a loss kernel with its global reductions over ``group``."""
    token = _GROUP.set(group)
    try:
        yield
    finally:
        _GROUP.reset(token)


def _group(group):
    group = group if group is not None else _GROUP.get()
    if group is None or group.size() == 1:
        return None
    return group


def global_sum(x: mx.array, group: Optional["mx.distributed.Group"] = None) -> mx.array:
    """``x`` summed over the ranks of ``group`` (``x`` itself when ``group`` is
    None or has one rank).

    MLX's ``all_sum`` has the identity as its VJP, so a loss built as
    ``global_sum(local_sum) / global_sum(local_count)`` gives each rank the
    gradient of the *global* loss w.r.t. its *local* inputs: summing the
    ranks' gradients gives the single-process gradient on the whole batch.
    """
    group = _group(group)
    if group is None:
        return x
    return mx.distributed.all_sum(x, group=group)


def _count(n: int, like: mx.array, group) -> mx.array:
    return global_sum(mx.array(n, dtype=like.dtype), group)


def apply_reduction(loss: mx.array, reduction: str, *, group=None) -> mx.array:
    """'none' | 'mean' | 'sum' of an unreduced loss, in the loss's dtype.

    With ``group`` (an ``mx.distributed.Group``), 'sum' and 'mean' are over
    every rank's elements: the value one process computes on the
    concatenated batch. 'none' ignores ``group``.
    """
    if reduction == "none":
        return loss
    if reduction == "sum":
        return global_sum(accurate_sum(loss), group).astype(loss.dtype)
    if reduction == "mean":
        group = _group(group)
        if group is None:
            return accurate_mean(loss).astype(loss.dtype)
        total = global_sum(accurate_sum(loss), group)
        return (total / _count(loss.size, total, group)).astype(loss.dtype)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mean_from_sum(total: mx.array, n: int, *, group=None) -> mx.array:
    """'mean' from a sum a kernel already took (over every rank of
    ``group`` when one is set): ``total`` divided by the element count, the
    global count with ``group``. No elements gives NaN. Keeps ``total``'s
    dtype (divide in the accumulation dtype, cast afterwards)."""
    group = _group(group)
    if group is not None:
        return total / _count(n, total, group)
    if n == 0:
        return mx.full(total.shape, float("nan"), dtype=total.dtype)
    return total / n


def weighted_mean(
    loss: mx.array,
    weights: mx.array,
    dtype: Optional[mx.Dtype] = None,
    *,
    group=None,
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


def batchmean(loss: mx.array, *, group=None) -> mx.array:
    """``kl_div``'s 'batchmean': the sum divided by the batch size (dim 0).

    With ``group``: the global sum over the global batch size."""
    total = global_sum(accurate_sum(loss), group)
    if loss.ndim == 0:
        return total.astype(loss.dtype)
    return (total / _count(loss.shape[0], total, group)).astype(loss.dtype)


def length_normalized_mean(loss: mx.array, lengths: mx.array, *, group=None) -> mx.array:
    """CTC's 'mean': each loss divided by its target length (clamped to >= 1),
    then the mean over the batch (the global batch with ``group``)."""
    denom = mx.maximum(lengths, 1).astype(acc_dtype(loss.dtype))
    per = loss.astype(denom.dtype) / denom
    group = _group(group)
    if group is None:
        return accurate_mean(per).astype(loss.dtype)
    total = global_sum(accurate_sum(per), group)
    return (total / _count(per.size, total, group)).astype(loss.dtype)


def clamped_mean(loss: mx.array, count, *, group=None) -> mx.array:
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


def active_group(group=None):
    """The group a reduction runs over (``group``, else the current one), or
    None when there is none or it has one rank."""
    return _group(group)


def global_gather(x: mx.array, group=None) -> mx.array:
    """``x`` from every rank of ``group`` (the current reduction group when
    None), concatenated along axis 0 in rank order; ``x`` itself without one.

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
    group = _group(group)
    if group is None:
        return x
    rank = group.rank()

    @mx.custom_function
    def gather(x):
        return mx.distributed.all_gather(x, group=group)

    @gather.vjp
    def gather_vjp(primals, cotangent, output):
        n = single(primals).shape[0]
        summed = mx.distributed.all_sum(single(cotangent), group=group)
        return (summed[rank * n:(rank + 1) * n],)

    return gather(x)


def replicated_reduction(loss: mx.array, reduction: str) -> mx.array:
    """'none' | 'mean' | 'sum' of a loss that every rank already holds whole
    (computed from :func:`global_sum`-med inputs, e.g. Dice over the global
    batch): reduced on this rank alone, never summed over the group again."""
    with reduction_group(None):
        return apply_reduction(loss, reduction, group=None)
