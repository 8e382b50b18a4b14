"""Modules for the detection and segmentation losses."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Union

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_bool, check_number, check_option, message
from ..losses.segmentation import _check_gamma, _check_smooth, _weight_array
from ._base import _Loss

__all__ = [
    "SigmoidFocalLoss",
    "FocalLoss",
    "Poly1CrossEntropyLoss",
    "DiceLoss",
    "GeneralizedDiceLoss",
    "TverskyLoss",
]


def _check_axis(cls: str, axis: Any) -> int:
    # the range is checked against the input at call time
    return check_number(cls, "axis", axis, integer=True)


class SigmoidFocalLoss(_Loss):
    """Sigmoid focal loss (torchvision's); see
    :func:`mlx_losses.functional.sigmoid_focal_loss`.

    Args:
        alpha (float, optional): Positive-class weight in [0, 1], negative
            for none. Default: ``0.25``.
        gamma (float, optional): Focusing exponent, >= 0. Default: ``2.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import SigmoidFocalLoss
        >>> SigmoidFocalLoss(alpha=-1.0)
        SigmoidFocalLoss(reduction='mean', alpha=-1.0, gamma=2.0)
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self.alpha = float(check_number(name, "alpha", alpha))
        self.gamma = _check_gamma(name, gamma)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "alpha": self.alpha, "gamma": self.gamma}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                    reduction=self.reduction, group=self.group)


class FocalLoss(_Loss):
    """Softmax focal loss with class indices or probabilities; see
    :func:`mlx_losses.functional.focal_loss`.

    Args:
        weight (array, optional): A weight per class, stored frozen.
            Default: ``None``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        gamma (float, optional): Default: ``2.0``.
        alpha (float, optional): MONAI's background balance. Default: ``None``.
        axis (int, optional, keyword-only): The class axis (-1 for NHWC).
            Default: ``1``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FocalLoss
        >>> loss = FocalLoss(gamma=0.0, axis=-1)
        >>> loss
        FocalLoss(reduction='mean', ignore_index=-100, gamma=0.0, alpha=None, axis=-1)
        >>> round(loss(mx.zeros((1, 2, 2, 4)), mx.zeros((1, 2, 2), mx.int32)).item(), 6)
        1.386294
    """

    def __init__(
        self,
        weight: Optional[mx.array] = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        gamma: float = 2.0,
        alpha: Optional[float] = None,
        *,
        axis: int = 1,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self._store_buffer("weight", weight)
        self.ignore_index = int(check_number(name, "ignore_index", ignore_index, integer=True))
        self.gamma = _check_gamma(name, gamma)
        self.alpha = None if alpha is None else float(check_number(name, "alpha", alpha))
        self.axis = _check_axis(name, axis)

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if self.weight is not None:
            opts["weight"] = self.weight
        return {**opts, **super()._options(), "ignore_index": self.ignore_index,
                "gamma": self.gamma, "alpha": self.alpha, "axis": self.axis}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.focal_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                            reduction=self.reduction, gamma=self.gamma, alpha=self.alpha,
                            axis=self.axis, group=self.group)


class Poly1CrossEntropyLoss(_Loss):
    """Poly-1 cross-entropy (PolyLoss); see
    :func:`mlx_losses.functional.poly1_cross_entropy`.

    Args:
        weight (array, optional): A weight per class, stored frozen.
            Default: ``None``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        label_smoothing (float, optional): In [0, 1]. Default: ``0.0``.
        epsilon (float, optional): >= -1. Default: ``1.0``.
        axis (int, optional, keyword-only): The class axis. Default: ``1``.

    Example:
        >>> from mlx_losses import Poly1CrossEntropyLoss
        >>> Poly1CrossEntropyLoss(epsilon=2.0)
        Poly1CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.0, epsilon=2.0, axis=1)
    """

    def __init__(
        self,
        weight: Optional[mx.array] = None,
        ignore_index: int = -100,
        reduction: Reduction = "mean",
        label_smoothing: float = 0.0,
        epsilon: float = 1.0,
        *,
        axis: int = 1,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self._store_buffer("weight", weight)
        self.ignore_index = int(check_number(name, "ignore_index", ignore_index, integer=True))
        check_number(name, "label_smoothing", label_smoothing)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(message(name, "label_smoothing", "be in [0, 1]",
                                     repr(label_smoothing)))
        self.label_smoothing = float(label_smoothing)
        self.epsilon = float(check_number(name, "epsilon", epsilon, min_value=-1.0))
        self.axis = _check_axis(name, axis)

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if self.weight is not None:
            opts["weight"] = self.weight
        return {**opts, **super()._options(), "ignore_index": self.ignore_index,
                "label_smoothing": self.label_smoothing, "epsilon": self.epsilon,
                "axis": self.axis}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.poly1_cross_entropy(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction, label_smoothing=self.label_smoothing,
            epsilon=self.epsilon, axis=self.axis,
            group=self.group,
        )


class _RegionLoss(_Loss):
    """MONAI's options shared by the Dice-family Modules."""

    def _region_options(
        self, include_background, to_onehot_y, sigmoid, softmax, other_act, smooth_nr,
        smooth_dr, batch, soft_label, axis,
    ) -> None:
        name = type(self).__name__
        for key, value in (("include_background", include_background),
                           ("to_onehot_y", to_onehot_y), ("sigmoid", sigmoid),
                           ("softmax", softmax), ("batch", batch), ("soft_label", soft_label)):
            setattr(self, key, check_bool(name, key, value))
        if other_act is not None and not callable(other_act):
            raise TypeError(message(name, "other_act", "be None or callable",
                                    type(other_act).__name__))
        if int(sigmoid) + int(softmax) + int(other_act is not None) > 1:
            raise ValueError(
                message(name, "sigmoid", "be combined with at most one of `softmax` and "
                        "`other_act` (Incompatible values: more than 1 of [sigmoid=True, "
                        "softmax=True, other_act is not None])", "more than one")
            )
        self.other_act = other_act
        self.smooth_nr, self.smooth_dr = _check_smooth(name, smooth_nr, smooth_dr)
        self.axis = _check_axis(name, axis)

    def _common(self) -> Dict[str, Any]:
        return dict(include_background=self.include_background, to_onehot_y=self.to_onehot_y,
                    sigmoid=self.sigmoid, softmax=self.softmax, other_act=self.other_act,
                    reduction=self.reduction, smooth_nr=self.smooth_nr,
                    smooth_dr=self.smooth_dr, batch=self.batch, soft_label=self.soft_label,
                    axis=self.axis)

    def _options(self) -> Dict[str, Any]:
        opts = {k: v for k, v in self._common().items() if k != "other_act"}
        if self.other_act is not None:
            opts["other_act"] = getattr(self.other_act, "__name__", repr(self.other_act))
        return opts


class DiceLoss(_RegionLoss):
    """MONAI's Dice (or Jaccard) loss; see :func:`mlx_losses.functional.dice_loss`.

    Takes MONAI's ``DiceLoss`` keywords, plus the keyword-only ``axis`` and
    ``group``. A
    ``weight`` (number, sequence or array) is stored as a frozen array.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import DiceLoss
        >>> loss = DiceLoss(to_onehot_y=True, softmax=True, axis=-1)  # NHWC logits
        >>> logits = mx.zeros((2, 4, 4, 3))
        >>> labels = mx.zeros((2, 4, 4), dtype=mx.int32)
        >>> round(loss(logits, labels).item(), 4)  # class 0: 1/2; absent classes 1, 2: 1
        0.8333
    """

    def __init__(
        self,
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
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self._region_options(include_background, to_onehot_y, sigmoid, softmax, other_act,
                             smooth_nr, smooth_dr, batch, soft_label, axis)
        self.squared_pred = check_bool(name, "squared_pred", squared_pred)
        self.jaccard = check_bool(name, "jaccard", jaccard)
        self._store_buffer("weight", _weight_array(name, weight))

    def _options(self) -> Dict[str, Any]:
        opts = {**super()._options(), "squared_pred": self.squared_pred, "jaccard": self.jaccard}
        if self.weight is not None:
            opts["weight"] = self.weight
        return opts

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.dice_loss(input, target, squared_pred=self.squared_pred, jaccard=self.jaccard,
                           weight=self.weight, **self._common(), group=self.group)


class GeneralizedDiceLoss(_RegionLoss):
    """MONAI's generalised Dice loss; see
    :func:`mlx_losses.functional.generalized_dice_loss`.

    Example:
        >>> from mlx_losses import GeneralizedDiceLoss
        >>> GeneralizedDiceLoss(w_type="simple", batch=True).w_type
        'simple'
    """

    def __init__(
        self,
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
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        self._region_options(include_background, to_onehot_y, sigmoid, softmax, other_act,
                             smooth_nr, smooth_dr, batch, soft_label, axis)
        check_option(type(self).__name__, "w_type", w_type, ("square", "simple", "uniform"))
        self.w_type = w_type

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "w_type": self.w_type}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.generalized_dice_loss(input, target, w_type=self.w_type, **self._common(),
                                       group=self.group)


class TverskyLoss(_RegionLoss):
    """MONAI's Tversky loss; see :func:`mlx_losses.functional.tversky_loss`.

    Example:
        >>> from mlx_losses import TverskyLoss
        >>> TverskyLoss(alpha=0.3, beta=0.7).beta
        0.7
    """

    def __init__(
        self,
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
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self._region_options(include_background, to_onehot_y, sigmoid, softmax, other_act,
                             smooth_nr, smooth_dr, batch, soft_label, axis)
        self.alpha = float(check_number(name, "alpha", alpha))
        self.beta = float(check_number(name, "beta", beta))

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "alpha": self.alpha, "beta": self.beta}

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        return F.tversky_loss(input, target, alpha=self.alpha, beta=self.beta, **self._common(),
                              group=self.group)
