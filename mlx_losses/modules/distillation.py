"""Modules for the distillation losses (configuration only)."""

from __future__ import annotations

from typing import Any, Dict, Optional, cast

import mlx.core as mx

from .. import functional as F
from .._validation import KLReduction, Reduction
from ..losses.distillation import _check_chunk, _check_options, _side_options
from ..losses.linear_cross_entropy import QuantizedWeight
from ._base import _Loss

__all__ = ["ForwardKLLoss", "ReverseKLLoss", "GeneralizedJSDLoss", "FusedLinearJSDLoss"]


class _DistillationLoss(_Loss):
    _allowed_reductions = ("none", "batchmean", "sum", "mean")
    _with_beta = False

    def __init__(self, *, beta: float = 0.5, temperature: float = 1.0, ignore_index: int = -100,
                 reduction: KLReduction = "batchmean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        beta, temperature, ignore_index, _ = _check_options(
            type(self).__name__, beta, temperature, ignore_index, reduction,
            with_beta=self._with_beta)
        # (checked against _allowed_reductions, the four of KL)
        super().__init__(reduction=cast(Reduction, reduction), group=group)
        if self._with_beta:
            self.beta = beta
        self.temperature, self.ignore_index = temperature, ignore_index

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {"beta": self.beta} if self._with_beta else {}
        return {**opts, "temperature": self.temperature, "ignore_index": self.ignore_index,
                **super()._options()}


class ForwardKLLoss(_DistillationLoss):
    """Forward KL(teacher || student); see
    :func:`mlx_losses.functional.forward_kl_loss`.

    Args:
        temperature (float, optional): Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import ForwardKLLoss
        >>> loss = ForwardKLLoss(temperature=2.0)
        >>> loss
        ForwardKLLoss(temperature=2.0, ignore_index=-100, reduction='batchmean')
        >>> loss(mx.zeros((2, 4)), mx.zeros((2, 4))).item()
        0.0
    """

    def __init__(self, *, temperature: float = 1.0, ignore_index: int = -100,
                 reduction: KLReduction = "batchmean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        super().__init__(temperature=temperature, ignore_index=ignore_index, reduction=reduction,
                         group=group)

    def __call__(self, student_logits: mx.array, teacher_logits: mx.array,
                 labels: Optional[mx.array] = None) -> mx.array:
        return F.forward_kl_loss(student_logits, teacher_logits, labels,
                                 temperature=self.temperature, ignore_index=self.ignore_index,
                                 reduction=self.reduction, group=self.group)


class ReverseKLLoss(_DistillationLoss):
    """Reverse KL(student || teacher); see
    :func:`mlx_losses.functional.reverse_kl_loss`.

    Args:
        temperature (float, optional): Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import ReverseKLLoss
        >>> ReverseKLLoss()(mx.zeros((2, 4)), mx.zeros((2, 4))).item()
        0.0
    """

    def __init__(self, *, temperature: float = 1.0, ignore_index: int = -100,
                 reduction: KLReduction = "batchmean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        super().__init__(temperature=temperature, ignore_index=ignore_index, reduction=reduction,
                         group=group)

    def __call__(self, student_logits: mx.array, teacher_logits: mx.array,
                 labels: Optional[mx.array] = None) -> mx.array:
        return F.reverse_kl_loss(student_logits, teacher_logits, labels,
                                 temperature=self.temperature, ignore_index=self.ignore_index,
                                 reduction=self.reduction, group=self.group)


class GeneralizedJSDLoss(_DistillationLoss):
    """Generalised Jensen-Shannon divergence (GKD); see
    :func:`mlx_losses.functional.generalized_jsd_loss`.

    Args:
        beta (float, optional): In [0, 1]. Default: ``0.5``.
        temperature (float, optional): Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import GeneralizedJSDLoss
        >>> GeneralizedJSDLoss(beta=0.1)
        GeneralizedJSDLoss(beta=0.1, temperature=1.0, ignore_index=-100, reduction='batchmean')
    """

    _with_beta = True

    def __call__(self, student_logits: mx.array, teacher_logits: mx.array,
                 labels: Optional[mx.array] = None) -> mx.array:
        return F.generalized_jsd_loss(student_logits, teacher_logits, labels, beta=self.beta,
                                      temperature=self.temperature,
                                      ignore_index=self.ignore_index, reduction=self.reduction,
                                      group=self.group)


class FusedLinearJSDLoss(_DistillationLoss):
    """Generalised JSD fused over the student's and teacher's LM heads; see
    :func:`mlx_losses.functional.fused_linear_jsd_loss` (Liger-Kernel's
    ``LigerFusedLinearJSD``). The heads are call arguments.

    Args:
        beta (float, optional): In [0, 1]. Default: ``0.5``.
        temperature (float, optional): Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        chunk_size (int, optional): Tokens per tile. Default: ``None``.
        vocab_chunk_size (int, optional): Vocabulary per tile.
            Default: ``None``.
        student_softcap (float, optional): Default: ``None``.
        student_logit_scale (float, optional): Default: ``None``.
        teacher_softcap (float, optional): Default: ``None``.
        teacher_logit_scale (float, optional): Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FusedLinearJSDLoss
        >>> loss = FusedLinearJSDLoss(beta=0.0)
        >>> h, W = mx.ones((3, 4)), mx.ones((10, 4))
        >>> loss(h, W, h, W).item()
        0.0
    """

    _with_beta = True

    def __init__(self, *, beta: float = 0.5, temperature: float = 1.0, ignore_index: int = -100,
                 reduction: KLReduction = "batchmean", chunk_size: Optional[int] = None,
                 vocab_chunk_size: Optional[int] = None, student_softcap: Optional[float] = None,
                 student_logit_scale: Optional[float] = None,
                 teacher_softcap: Optional[float] = None,
                 teacher_logit_scale: Optional[float] = None,
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        chunk_size = _check_chunk(name, "chunk_size", chunk_size)
        vocab_chunk_size = _check_chunk(name, "vocab_chunk_size", vocab_chunk_size)
        s_cap, s_scale = _side_options(name, "student", student_softcap, student_logit_scale)
        t_cap, t_scale = _side_options(name, "teacher", teacher_softcap, teacher_logit_scale)
        super().__init__(beta=beta, temperature=temperature, ignore_index=ignore_index,
                         reduction=reduction, group=group)
        self.chunk_size, self.vocab_chunk_size = chunk_size, vocab_chunk_size
        self.student_softcap, self.student_logit_scale = s_cap, s_scale
        self.teacher_softcap, self.teacher_logit_scale = t_cap, t_scale

    _LOGIT_OPTIONS = ("student_softcap", "student_logit_scale", "teacher_softcap",
                      "teacher_logit_scale")

    def _options(self) -> Dict[str, Any]:
        opts = {**super()._options(), "chunk_size": self.chunk_size,
                "vocab_chunk_size": self.vocab_chunk_size}
        # the logit transforms only where set (most models have none)
        opts.update({k: getattr(self, k) for k in self._LOGIT_OPTIONS if getattr(self, k) is not None})
        return opts

    def __call__(self, student_input: mx.array, student_weight: "mx.array | QuantizedWeight",
                 teacher_input: mx.array, teacher_weight: "mx.array | QuantizedWeight",
                 labels: Optional[mx.array] = None, *, student_bias: Optional[mx.array] = None,
                 teacher_bias: Optional[mx.array] = None) -> mx.array:
        return F.fused_linear_jsd_loss(
            student_input, student_weight, teacher_input, teacher_weight, labels,
            student_bias=student_bias, teacher_bias=teacher_bias, beta=self.beta,
            temperature=self.temperature, ignore_index=self.ignore_index,
            reduction=self.reduction, chunk_size=self.chunk_size,
            vocab_chunk_size=self.vocab_chunk_size,
            **{k: getattr(self, k) for k in self._LOGIT_OPTIONS}, group=self.group,
        )
