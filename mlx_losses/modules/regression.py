"""Modules for the regression losses."""

from __future__ import annotations

from typing import Any, Dict, Optional

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_number, message
from ._base import _Loss

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss"]


class L1Loss(_Loss):
    """Mean absolute error; see :func:`mlx_losses.functional.l1_loss`.

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
        >>> from mlx_losses import L1Loss
        >>> L1Loss()(mx.array([1.0, 2.0]), mx.array([0.0, 4.0])).item()
        1.5
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.l1_loss(input, target, reduction=self.reduction, group=self.group)


class MSELoss(_Loss):
    """Mean squared error; see :func:`mlx_losses.functional.mse_loss`.

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
        >>> from mlx_losses import MSELoss
        >>> MSELoss(reduction="sum")(mx.array([1.0, 2.0]), mx.array([0.0, 4.0])).item()
        5.0
    """

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.mse_loss(input, target, reduction=self.reduction, group=self.group)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss; see :func:`mlx_losses.functional.smooth_l1_loss`.

    Args:
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        beta (float, optional): Quadratic-to-linear threshold, >= 0.
            Default: ``1.0``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import SmoothL1Loss
        >>> SmoothL1Loss(beta=0.5)
        SmoothL1Loss(reduction='mean', beta=0.5)
    """

    def __init__(
        self,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        beta: float = 1.0,
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        self.beta = check_number(type(self).__name__, "beta", beta, min_value=0.0)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "beta": self.beta}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.smooth_l1_loss(
            input, target, reduction=self.reduction, beta=self.beta, group=self.group
        )


class HuberLoss(_Loss):
    """Huber loss; see :func:`mlx_losses.functional.huber_loss`.

    Args:
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        delta (float, optional): Quadratic-to-linear threshold, > 0.
            Default: ``1.0``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import HuberLoss
        >>> HuberLoss(delta=2.0)
        HuberLoss(reduction='mean', delta=2.0)
    """

    def __init__(
        self,
        reduction: Reduction = "mean",
        delta: float = 1.0,
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        if not isinstance(delta, (float, int)):
            # torch's HuberLoss takes a Python number only (its function takes more)
            raise TypeError(message(name, "delta", "be a float or int",
                                    f"{type(delta).__name__}: delta must be a float or int"))
        self.delta = check_number(name, "delta", delta, min_value=0.0, min_inclusive=False)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "delta": self.delta}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.huber_loss(
            input, target, reduction=self.reduction, delta=self.delta, group=self.group
        )
