"""Modules for the margin and multi-label losses."""

from __future__ import annotations

from typing import Any, Dict, Optional

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_multi_margin_p, check_number, message
from ._base import _Loss, _WeightedLoss

__all__ = [
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiLabelMarginLoss",
    "MultiMarginLoss",
    "MarginRankingLoss",
]


class HingeEmbeddingLoss(_Loss):
    """Hinge embedding loss; see :func:`mlx_losses.functional.hinge_embedding_loss`.

    Args:
        margin (float, optional): The margin. Default: ``1.0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import HingeEmbeddingLoss
        >>> loss = HingeEmbeddingLoss(margin=2.0)
        >>> loss
        HingeEmbeddingLoss(reduction='mean', margin=2.0)
        >>> loss(mx.array([0.5, 0.5]), mx.array([1.0, -1.0])).item()
        1.0
    """

    def __init__(
        self,
        margin: float = 1.0,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        self.margin = check_number(type(self).__name__, "margin", margin)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "margin": self.margin}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.hinge_embedding_loss(
            input, target, margin=self.margin, reduction=self.reduction, group=self.group
        )


class SoftMarginLoss(_Loss):
    """Two-class logistic loss; see :func:`mlx_losses.functional.soft_margin_loss`.

    Args:
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import SoftMarginLoss
        >>> round(SoftMarginLoss()(mx.array([0.0]), mx.array([1.0])).item(), 4)
        0.6931
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.soft_margin_loss(input, target, reduction=self.reduction, group=self.group)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss; see
    :func:`mlx_losses.functional.multilabel_soft_margin_loss`.

    Args:
        weight (array, optional): Weights, usually per class :math:`(C)`;
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
        >>> from mlx_losses import MultiLabelSoftMarginLoss
        >>> MultiLabelSoftMarginLoss(weight=mx.ones((3,)))
        MultiLabelSoftMarginLoss(weight=array(shape=(3,), dtype=float32), reduction='mean')
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.multilabel_soft_margin_loss(
            input, target, weight=self.weight, reduction=self.reduction, group=self.group
        )


class MultiLabelMarginLoss(_Loss):
    """Multi-class multi-label hinge loss; see
    :func:`mlx_losses.functional.multilabel_margin_loss`.

    Args:
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import MultiLabelMarginLoss
        >>> x, y = mx.array([[0.1, 0.2, 0.4, 0.8]]), mx.array([[3, 0, -1, 1]])
        >>> round(MultiLabelMarginLoss()(x, y).item(), 4)
        0.85
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction, group=self.group)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss; see :func:`mlx_losses.functional.multi_margin_loss`.

    Args:
        p (int, optional): 1 or 2. Default: ``1``.
        margin (float, optional): The margin. Default: ``1.0``.
        weight (array, optional): Per-class weights :math:`(C)`, stored
            frozen (never trained). Default: ``None``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import MultiMarginLoss
        >>> loss = MultiMarginLoss(p=2, margin=0.5)
        >>> loss
        MultiMarginLoss(reduction='mean', p=2, margin=0.5)
        >>> loss(mx.array([[0.0, 1.0]]), mx.array([1])).item()
        0.0
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Optional[mx.array] = None,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        name = type(self).__name__
        p = check_multi_margin_p(name, p)
        if weight is not None and isinstance(weight, mx.array) and weight.ndim != 1:
            raise ValueError(
                message(name, "weight", "be None or a 1-D array",
                        f"{weight.ndim}-D: expected weight to be None or 1D tensor")
            )
        super().__init__(weight, size_average, reduce, reduction, group=group)
        self.p = p
        self.margin = check_number(name, "margin", margin, complex_ok=True)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "p": self.p, "margin": self.margin}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=self.weight,
            reduction=self.reduction,
            group=self.group,
        )


class MarginRankingLoss(_Loss):
    """Margin ranking loss; see :func:`mlx_losses.functional.margin_ranking_loss`.

    Args:
        margin (float, optional): The margin. Default: ``0.0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import MarginRankingLoss
        >>> loss = MarginRankingLoss(margin=0.5)
        >>> loss(mx.array([1.0]), mx.array([2.0]), mx.array([1.0])).item()
        1.5
    """

    def __init__(
        self,
        margin: float = 0.0,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        self.margin = check_number(type(self).__name__, "margin", margin)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "margin": self.margin}

    def __call__(self, input1: mx.array, input2: mx.array, target: mx.array) -> mx.array:
        return F.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction, group=self.group
        )
