"""Modules for the classification losses."""

from __future__ import annotations

from typing import Any, Dict, Optional

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_label_smoothing, check_number, message
from ..losses.classification import _check_logit_options
from ._base import _Loss, _WeightedLoss

__all__ = ["CrossEntropyLoss", "NLLLoss", "NLLLoss2d", "BCELoss", "BCEWithLogitsLoss"]


def _check_axis_option(name: str, axis: Any) -> int:
    # an int as torch takes one; checked against the input's ndim at call time
    return check_number(name, "axis", axis, integer=True)


def _mlx_options(module: Any, axis_default: Any = 1) -> Dict[str, Any]:
    """The MLX-only options that differ from their defaults, for the repr."""
    opts: Dict[str, Any] = {}
    defaults = (("axis", axis_default), ("softcap", None), ("logit_scale", None),
                ("z_loss", 0.0), ("out_dtype", None))
    for key, default in defaults:
        value = getattr(module, key, default)
        if value is None if default is None else value == default:
            continue
        opts[key] = value
    return opts


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood loss; see :func:`mlx_losses.functional.nll_loss`.

    Args:
        weight (array, optional): A weight per class, shape :math:`(C)`;
            stored frozen (never trained). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        ignore_index (int, optional): A target value that is ignored.
            Default: ``-100``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        axis (int, optional): MLX-only, keyword-only: the class axis of the
            input (``-1`` for channels-last). Default: ``1``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import NLLLoss
        >>> NLLLoss(weight=mx.ones((3,)), ignore_index=0)
        NLLLoss(weight=array(shape=(3,), dtype=float32), reduction='mean', ignore_index=0)
    """

    def __init__(
        self,
        weight: Optional[mx.array] = None,
        size_average: Optional[bool] = None,
        ignore_index: int = -100,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        axis: int = 1,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction, group=group)
        name = type(self).__name__
        self.ignore_index = int(check_number(name, "ignore_index", ignore_index, integer=True))
        self.axis = _check_axis_option(name, axis)

    def _options(self) -> Dict[str, Any]:
        opts = {**super()._options(), "ignore_index": self.ignore_index}
        if self.axis != 1:
            opts["axis"] = self.axis
        return opts

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.nll_loss(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, axis=self.axis,
            group=self.group,
        )


class NLLLoss2d(NLLLoss):
    """torch's deprecated alias of :class:`NLLLoss` (same options, any layout).

    Example:
        >>> from mlx_losses import NLLLoss2d
        >>> NLLLoss2d(reduction="sum")
        NLLLoss2d(reduction='sum', ignore_index=-100)
    """


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits; see :func:`mlx_losses.functional.cross_entropy`.

    Args:
        weight (array, optional): A weight per class, shape :math:`(C)`;
            stored frozen (never trained). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        ignore_index (int, optional): A class-index target value that is
            ignored. Default: ``-100``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        label_smoothing (float, optional): In [0, 1] (a negative or NaN value
            means none, as in torch). Default: ``0.0``.
        axis, softcap, logit_scale, z_loss, out_dtype: MLX-only, keyword-only
            options of :func:`mlx_losses.functional.cross_entropy` (class
            axis, logit softcapping and scaling, z-loss, output dtype).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import CrossEntropyLoss
        >>> loss = CrossEntropyLoss(label_smoothing=0.1)
        >>> loss
        CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.1)
        >>> round(loss(mx.zeros((2, 4)), mx.array([1, 2])).item(), 6)  # log 4
        1.386294
    """

    def __init__(
        self,
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
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction, group=group)
        name = type(self).__name__
        self.ignore_index = int(check_number(name, "ignore_index", ignore_index, integer=True))
        check_label_smoothing(name, label_smoothing)
        # torch keeps the value given (a negative one smooths nothing)
        self.label_smoothing = float(check_number(name, "label_smoothing", label_smoothing))
        self.axis = _check_axis_option(name, axis)
        self.softcap, self.logit_scale, self.z_loss, self.out_dtype = _check_logit_options(
            name, softcap, logit_scale, z_loss, out_dtype)

    def _options(self) -> Dict[str, Any]:
        opts = {
            **super()._options(),
            "ignore_index": self.ignore_index,
            "label_smoothing": self.label_smoothing,
        }
        opts.update(_mlx_options(self))
        return opts

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.cross_entropy(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, label_smoothing=self.label_smoothing, axis=self.axis,
            softcap=self.softcap, logit_scale=self.logit_scale, z_loss=self.z_loss,
            out_dtype=self.out_dtype,
            group=self.group,
        )


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities; see
    :func:`mlx_losses.functional.binary_cross_entropy`.

    Args:
        weight (array, optional): Weights broadcastable to the input's shape;
            stored frozen (never trained). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import BCELoss
        >>> BCELoss(reduction="sum")(mx.array([0.5, 0.5]), mx.array([0.0, 1.0])).item() > 0
        True
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction,
                                      group=self.group)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits; see
    :func:`mlx_losses.functional.binary_cross_entropy_with_logits`.

    Args:
        weight (array, optional): Weights broadcastable to the input's shape;
            stored frozen. Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        pos_weight (array, optional): Weight of the positive term,
            broadcastable to the input's shape (e.g. one per class, last
            dimension); stored frozen. Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import BCEWithLogitsLoss
        >>> BCEWithLogitsLoss(pos_weight=mx.ones((3,)))
        BCEWithLogitsLoss(reduction='mean', pos_weight=array(shape=(3,), dtype=float32))
    """

    def __init__(
        self,
        weight: Optional[mx.array] = None,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        pos_weight: Optional[mx.array] = None,
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        self._store_buffer("weight", weight)
        self._store_buffer("pos_weight", pos_weight)

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if self.weight is not None:
            opts["weight"] = self.weight
        opts.update(super()._options())
        if self.pos_weight is not None:
            opts["pos_weight"] = self.pos_weight
        return opts

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction,
            pos_weight=self.pos_weight,
            group=self.group,
        )
