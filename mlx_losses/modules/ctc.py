"""Module for the CTC loss."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_bool, check_number, message
from ._base import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss; see
    :func:`mlx_losses.functional.ctc_loss` (its gradient is the true gradient
    w.r.t. ``log_probs``; torch's equals it only after ``log_softmax``).

    Args:
        blank (int, optional): The blank class. Default: ``0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``;
            ``'mean'`` divides each loss by its target length first.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        zero_infinity (bool, optional): Replace infinite losses and their
            gradients by 0. Default: ``False``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import CTCLoss
        >>> CTCLoss(blank=3, zero_infinity=True)
        CTCLoss(blank=3, reduction='mean', zero_infinity=True)
        >>> lp = mx.log(mx.full((2, 1, 2), 0.5))
        >>> round(CTCLoss(reduction="sum")(lp, mx.array([[1]]), (2,), (1,)).item(), 6)
        0.287682
    """

    def __init__(
        self,
        blank: int = 0,
        reduction: Reduction = "mean",
        zero_infinity: bool = False,
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        blank = check_number(name, "blank", blank, integer=True)
        if blank < 0:
            raise ValueError(message(name, "blank", "be >= 0", f"{blank}: blank must be in label range"))
        self.blank = blank
        self.zero_infinity = check_bool(name, "zero_infinity", zero_infinity)

    def _options(self) -> Dict[str, Any]:
        return {"blank": self.blank, **super()._options(), "zero_infinity": self.zero_infinity}

    def __call__(
        self,
        log_probs: mx.array,
        targets: mx.array,
        input_lengths: Union[mx.array, Sequence[int]],
        target_lengths: Union[mx.array, Sequence[int]],
    ) -> mx.array:
        return F.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            blank=self.blank,
            reduction=self.reduction,
            zero_infinity=self.zero_infinity,
            group=self.group,
        )
