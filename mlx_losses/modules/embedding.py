"""Modules for the embedding losses and the distance helpers."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import mlx.core as mx
import mlx.nn as nn

from .. import functional as F
from .._validation import Reduction, check_bool, check_number, message
from ._base import _Loss

__all__ = [
    "PairwiseDistance",
    "CosineSimilarity",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]


def _positive_margin(cls: str, margin) -> float:
    margin = check_number(cls, "margin", margin)
    if margin <= 0:  # torch's test: NaN passes
        # torch: "expected margin to be greater than 0, got 0 instead"
        raise ValueError(message(cls, "margin", "be greater than 0", repr(margin)))
    return margin


class PairwiseDistance(nn.Module):
    """The p-norm distance over the last dimension; see
    :func:`mlx_losses.functional.pairwise_distance`.

    As in torch, the degree is stored as ``norm``.

    Args:
        p (float, optional): The norm degree (any real, ``inf`` included).
            Default: ``2.0``.
        eps (float, optional): Added to the difference. Default: ``1e-6``.
        keepdim (bool, optional): Keep the reduced dimension. Default: ``False``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import PairwiseDistance
        >>> PairwiseDistance(eps=0.0)(mx.array([3.0, 0.0]), mx.array([0.0, 4.0])).item()
        5.0
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        self.norm = check_number(name, "p", p)
        self.eps = check_number(name, "eps", eps)
        self.keepdim = check_bool(name, "keepdim", keepdim)

    def _extra_repr(self) -> str:
        return f"p={self.norm!r}, eps={self.eps!r}, keepdim={self.keepdim!r}"

    def __call__(self, x1: mx.array, x2: mx.array) -> mx.array:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(nn.Module):
    """Cosine similarity along ``dim``; see
    :func:`mlx_losses.functional.cosine_similarity`.

    Args:
        dim (int, optional): The dimension reduced. Default: ``1``.
        eps (float, optional): Lower bound of each norm. Default: ``1e-8``.

    Example:
        >>> from mlx_losses import CosineSimilarity
        >>> CosineSimilarity(dim=-1)
        CosineSimilarity(dim=-1, eps=1e-08)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        name = type(self).__name__
        self.dim = check_number(name, "dim", dim, integer=True)
        self.eps = check_number(name, "eps", eps, min_value=0.0)

    def _extra_repr(self) -> str:
        return f"dim={self.dim!r}, eps={self.eps!r}"

    def __call__(self, x1: mx.array, x2: mx.array) -> mx.array:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class CosineEmbeddingLoss(_Loss):
    """Cosine embedding loss; see :func:`mlx_losses.functional.cosine_embedding_loss`.

    Args:
        margin (float, optional): In [-1, 1]; 0 to 0.5 suggested. Default: ``0.0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import CosineEmbeddingLoss
        >>> loss = CosineEmbeddingLoss(margin=0.5)
        >>> loss
        CosineEmbeddingLoss(reduction='mean', margin=0.5)
        >>> loss(mx.array([1.0, 1.0]), mx.array([2.0, 2.0]), mx.array(-1)).item()
        0.5
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
        return F.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction,
            group=self.group,
        )


class TripletMarginLoss(_Loss):
    """Triplet margin loss; see :func:`mlx_losses.functional.triplet_margin_loss`.

    Args:
        margin (float, optional): Must be > 0. Default: ``1.0``.
        p (float, optional): The norm degree of the distance. Default: ``2.0``.
        eps (float, optional): Added to the differences. Default: ``1e-6``.
        swap (bool, optional): Use the distance swap. Default: ``False``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import TripletMarginLoss
        >>> TripletMarginLoss(margin=0.5, swap=True)
        TripletMarginLoss(reduction='mean', margin=0.5, p=2.0, eps=1e-06, swap=True)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        name = type(self).__name__
        self.margin = _positive_margin(name, margin)
        self.p = check_number(name, "p", p)
        self.eps = check_number(name, "eps", eps)
        self.swap = check_bool(name, "swap", swap)

    def _options(self) -> Dict[str, Any]:
        return {
            **super()._options(),
            "margin": self.margin,
            "p": self.p,
            "eps": self.eps,
            "swap": self.swap,
        }

    def __call__(self, anchor: mx.array, positive: mx.array, negative: mx.array) -> mx.array:
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
            group=self.group,
        )


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet margin loss with a custom distance; see
    :func:`mlx_losses.functional.triplet_margin_with_distance_loss`.

    Keyword-only, as in torch. Without ``distance_function`` a
    :class:`PairwiseDistance` is used. A ``distance_function`` that is an
    ``nn.Module`` with parameters becomes a child of this Module (its
    parameters are then part of this one's, as in torch).

    Args:
        distance_function (callable, optional): Maps two arrays to
            non-negative distances. Default: ``None`` (``PairwiseDistance()``).
        margin (float, optional): Must be > 0. Default: ``1.0``.
        swap (bool, optional): Use the distance swap. Default: ``False``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import TripletMarginWithDistanceLoss
        >>> l_inf = lambda x, y: mx.max(mx.abs(x - y), axis=-1)
        >>> loss = TripletMarginWithDistanceLoss(distance_function=l_inf, margin=0.5)
        >>> a, pos, neg = mx.array([[0.0, 0.0]]), mx.array([[1.0, 3.0]]), mx.array([[2.0, 0.0]])
        >>> loss(a, pos, neg).item()
        1.5
        >>> TripletMarginWithDistanceLoss(margin=2.0)
        TripletMarginWithDistanceLoss(reduction='mean', margin=2.0, swap=False
          (distance_function): PairwiseDistance(p=2.0, eps=1e-06, keepdim=False)
        )
    """

    def __init__(
        self,
        *,
        distance_function: Optional[Callable[[mx.array, mx.array], mx.array]] = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: Reduction = "mean",
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self.margin = _positive_margin(name, margin)
        if distance_function is not None and not callable(distance_function):
            raise TypeError(
                message(name, "distance_function", "be callable or None",
                        type(distance_function).__name__)
            )
        self.distance_function = (
            distance_function if distance_function is not None else PairwiseDistance()
        )
        self.swap = swap

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = dict(super()._options())
        if not isinstance(self.distance_function, nn.Module):
            # A Module shows as a child in the repr; a plain callable here.
            opts["distance_function"] = self.distance_function
        opts.update(margin=self.margin, swap=self.swap)
        return opts

    def _extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self._options().items())

    def __call__(self, anchor: mx.array, positive: mx.array, negative: mx.array) -> mx.array:
        return F.triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
            group=self.group,
        )
