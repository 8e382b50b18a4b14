"""Data- and vocabulary-parallel losses on MLX's own distributed engine.

Two pieces:

* Every loss whose reduction is not plain per-rank takes a keyword-only
  ``group`` (an ``mx.distributed.Group``; ``None`` means no communication).
  With ``group``, ``'mean'`` (and cross-entropy/NLL's weighted mean, KL's
  ``'batchmean'``, CTC's per-target-length mean) is the *global* value over
  every rank's samples: exactly the number one process computes on the
  concatenated batch. Each rank's gradient is the gradient of that global
  loss w.r.t. its *local* inputs, so **summing** the ranks' gradients (e.g.
  ``mx.distributed.all_sum``; not averaging them) gives the single-process
  gradient. ``'sum'`` with ``group`` is the global sum; ``'none'`` ignores it.

* :func:`vocab_parallel_cross_entropy`: each rank holds the logits for a
  contiguous slice of the vocabulary (a sharded LM head); the loss and the
  gradient w.r.t. each shard equal the unsharded cross-entropy's.
"""

from __future__ import annotations

from typing import Optional, cast

import mlx.core as mx

from ._api import public_loss
from ._dtypes import acc_dtype
from ._reduction import class_index_reduction
from ._validation import (
    Reduction,
    ShapeError,
    resolve_reduction,
    check_floating,
    check_integer,
    check_number,
    fmt_shape,
    message,
)
from ._numerics import exp
from .losses._common import zero_where
from .losses.classification import _as_index

__all__ = ["vocab_parallel_cross_entropy"]


def _all_sum(x: mx.array, group) -> mx.array:
    if group is None or group.size() == 1:
        return x
    return mx.distributed.all_sum(x, group=group)


def _all_max(x: mx.array, group) -> mx.array:
    if group is None or group.size() == 1:
        return x
    return mx.distributed.all_max(x, group=group)


@public_loss
def vocab_parallel_cross_entropy(
    logits_shard: mx.array,
    target: mx.array,
    *,
    group: Optional[mx.distributed.Group],
    vocab_start: int,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
) -> mx.array:
    r"""Cross-entropy over a vocabulary split across the ranks of ``group``.

    Rank ``r`` holds ``logits_shard``, the logits of classes
    ``[vocab_start, vocab_start + V_r)``; every rank holds the same ``target``
    (global class indices). The global logsumexp comes from an ``all_max`` and
    an ``all_sum`` of the shards' partial sums, the target logit from an
    ``all_sum`` of the one shard that owns it. Values equal
    ``cross_entropy(concatenated_logits, target, ...)`` and the gradient
    w.r.t. each shard is that slice of the unsharded gradient.

    .. math::
        \ell_n = \log \sum_{c} e^{x_{n,c}} - (1 - \epsilon)\, x_{n,y_n}
                 - \frac{\epsilon}{C} \sum_c x_{n,c}

    Args:
        logits_shard (array): ``(N, V_r)``, ``(V_r,)`` or ``(N, V_r, d1, ...)``
            (class dimension 1, as torch's ``cross_entropy``).
        target (array): integer class indices in the *global* vocabulary,
            ``(N,)``, ``()`` or ``(N, d1, ...)``. A target that no shard
            holds (outside the vocabulary, not ``ignore_index``) gives NaN in
            its loss and gradient: there is no eager check, as the
            vocabulary size is only known across the ranks.
        group (mx.distributed.Group or None): the ranks sharing the
            vocabulary; ``None`` means one shard (plain cross-entropy).
        vocab_start (int): the global index of this shard's first class.
        ignore_index (int, optional): targets to ignore. Default: ``-100``.
        label_smoothing (float, optional): in [0, 1]. Default: ``0.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``; the
            mean is over non-ignored targets. Default: ``'mean'``.

    Returns:
        array: the loss (the same on every rank), in the logits' dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.distributed import vocab_parallel_cross_entropy
        >>> logits = mx.zeros((2, 4))
        >>> round(vocab_parallel_cross_entropy(logits, mx.array([1, 3]), group=None, vocab_start=0).item(), 4)
        1.3863
    """
    fn = "vocab_parallel_cross_entropy"
    reduction = resolve_reduction(fn, reduction)
    check_floating(fn, "logits_shard", logits_shard)
    check_integer(fn, "target", target)
    vocab_start = check_number(fn, "vocab_start", vocab_start, min_value=0, integer=True)
    ignore_index = check_number(fn, "ignore_index", ignore_index, integer=True)
    label_smoothing = check_number(fn, "label_smoothing", label_smoothing, min_value=0.0)
    if label_smoothing > 1.0:
        raise ValueError(message(fn, "label_smoothing", "be in [0, 1]", repr(label_smoothing)))
    x = logits_shard
    if x.ndim == 1:
        if target.ndim != 0:
            raise ShapeError(message(fn, "target", "be 0-D for 1-D `logits_shard`", fmt_shape(target.shape)))
        x, target = x[None], target[None]
        unbatched = True
    else:
        unbatched = False
        want = (x.shape[0],) + tuple(x.shape[2:])
        if tuple(target.shape) != want:
            raise ShapeError(
                message(fn, "target", f"have shape {fmt_shape(want)} for `logits_shard` of shape "
                        f"{fmt_shape(x.shape)}", fmt_shape(target.shape))
            )
    # a signed dtype that holds ignore_index and vocab_start
    target = _as_index(target, ignore_index)
    if vocab_start >= 2**31:
        target = target.astype(mx.int64)
    out_dtype = x.dtype
    x = x.astype(acc_dtype(x.dtype))
    # Class axis last, for take_along_axis and the reductions.
    x = mx.moveaxis(x, 1, -1)
    v_local = x.shape[-1]

    # Global max (no gradient: it only shifts the logsumexp), then the
    # global sum of exponentials: lse = M + log(sum_r sum_c exp(x - M)).
    m = mx.stop_gradient(_all_max(mx.max(x, axis=-1), group))
    sum_exp = _all_sum(mx.sum(exp(x - m[..., None]), axis=-1), group)
    lse = m + mx.log(sum_exp)

    # The target logit lives on exactly one shard; the others add zero.
    local = target - vocab_start
    owned = (local >= 0) & (local < v_local)
    idx = mx.where(owned, local, 0).astype(mx.int32)
    picked = mx.where(owned, mx.take_along_axis(x, idx[..., None], axis=-1)[..., 0], 0.0)
    if group is None or group.size() == 1:
        found = owned
    else:
        # whether some shard owns the target, in the same all_sum
        both = _all_sum(mx.stack([picked, owned.astype(picked.dtype)]), group)
        picked, found = both[0], both[1] > 0

    loss = lse - picked
    if label_smoothing > 0.0:
        n_classes = _all_sum(mx.array(float(v_local), dtype=x.dtype), group)
        sum_x = _all_sum(mx.sum(x, axis=-1), group)
        smooth = lse - sum_x / n_classes
        loss = (1.0 - label_smoothing) * loss + label_smoothing * smooth

    keep = target != ignore_index
    # A target outside the vocabulary (torch raises): NaN loss and, as a
    # factor, NaN gradient in its row.
    bad = keep & mx.logical_not(found)
    loss = loss * mx.where(bad, mx.array(float("nan"), loss.dtype), mx.array(1.0, loss.dtype))
    # ignored rows: 0, and a zero gradient even when all are (0 / 0 'mean')
    loss = cast(mx.array, zero_where(mx.logical_not(keep), loss))
    if unbatched:
        loss = loss[0]
        keep = keep[0]
    # every rank holds the whole loss (``group`` splits the classes, not the
    # samples): reduced on this rank alone; 'mean' over the counted targets
    return class_index_reduction(loss, reduction, keep, dtype=out_dtype, group=None)
