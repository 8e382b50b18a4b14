"""Modules for the preference losses (configuration only)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_number, check_option, message
from ..losses.classification import _check_logit_options
from ..losses.linear_cross_entropy import LinearCrossEntropyOptions, QuantizedWeight
from ..losses.preference import (
    DPO_LOSS_TYPES,
    PreferenceLossOutput,
    _check_beta,
    _check_ignore_index,
    _check_options,
    _check_smoothing,
)
from ._base import _Loss

__all__ = [
    "DPOLoss",
    "ORPOLoss",
    "SimPOLoss",
    "KTOLoss",
    "FusedLinearDPOLoss",
    "FusedLinearORPOLoss",
    "FusedLinearSimPOLoss",
    "FusedLinearKTOLoss",
    "PreferenceLossOutput",
]

Number = Union[int, float]


class DPOLoss(_Loss):
    """Direct Preference Optimization and its TRL variants; see
    :func:`mlx_losses.functional.dpo_loss`.

    Args:
        beta (float, optional): Default: ``0.1``.
        loss_type (str, optional): Default: ``'sigmoid'``.
        label_smoothing (float, optional): Default: ``0.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import DPOLoss
        >>> loss = DPOLoss(beta=0.5, loss_type="ipo")
        >>> loss
        DPOLoss(beta=0.5, loss_type='ipo', label_smoothing=0.0, reduction='mean')
        >>> z = mx.array([-3.0])
        >>> loss(z, z, z, z).loss.item()  # (0 - 1 / (2 * 0.5)) ** 2
        1.0
    """

    def __init__(self, *, beta: float = 0.1, loss_type: str = "sigmoid",
                 label_smoothing: float = 0.0, reduction: Reduction = "mean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        check_option(name, "loss_type", loss_type, DPO_LOSS_TYPES)
        self_beta = _check_beta(name, beta)
        eps = _check_smoothing(name, loss_type, label_smoothing)
        super().__init__(reduction=reduction, group=group)
        self.beta, self.loss_type, self.label_smoothing = self_beta, loss_type, eps

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "loss_type": self.loss_type,
                "label_smoothing": self.label_smoothing, **super()._options()}

    def __call__(self, policy_chosen_logps: mx.array, policy_rejected_logps: mx.array,
                 ref_chosen_logps: mx.array, ref_rejected_logps: mx.array, *,
                 chosen_lengths: Optional[mx.array] = None,
                 rejected_lengths: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                          ref_rejected_logps, beta=self.beta, loss_type=self.loss_type,
                          label_smoothing=self.label_smoothing, chosen_lengths=chosen_lengths,
                          rejected_lengths=rejected_lengths, reduction=self.reduction,
                          group=self.group)


class ORPOLoss(_Loss):
    """Odds-Ratio Preference Optimization; see
    :func:`mlx_losses.functional.orpo_loss`.

    Args:
        beta (float, optional): The odds-ratio weight (ORPO's lambda).
            Default: ``0.1``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import ORPOLoss
        >>> loss = ORPOLoss(beta=0.2)
        >>> loss
        ORPOLoss(beta=0.2, reduction='mean')
        >>> round(loss(mx.array([-0.5]), mx.array([-0.5]), nll_loss=0.0).loss.item(), 4)
        0.1386
    """

    def __init__(
        self,
        *,
        beta: float = 0.1,
        reduction: Reduction = "mean",
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        beta = _check_beta(type(self).__name__, beta, allow_zero=True)
        super().__init__(reduction=reduction, group=group)
        self.beta = beta

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, **super()._options()}

    def __call__(self, policy_chosen_logps: mx.array, policy_rejected_logps: mx.array, *,
                 nll_loss: Optional[Union[mx.array, Number]] = None,
                 chosen_lengths: Optional[mx.array] = None,
                 rejected_lengths: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.orpo_loss(policy_chosen_logps, policy_rejected_logps, beta=self.beta,
                           nll_loss=nll_loss, chosen_lengths=chosen_lengths,
                           rejected_lengths=rejected_lengths, reduction=self.reduction,
                           group=self.group)


class SimPOLoss(_Loss):
    """Simple Preference Optimization; see :func:`mlx_losses.functional.simpo_loss`.

    Args:
        beta (float, optional): Default: ``0.1``.
        gamma (float, optional): Default: ``0.5``.
        label_smoothing (float, optional): Default: ``0.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import SimPOLoss
        >>> SimPOLoss(beta=2.0, gamma=0.0)(mx.array([-1.0]), mx.array([-1.0])).loss.item() > 0
        True
    """

    def __init__(self, *, beta: float = 0.1, gamma: float = 0.5, label_smoothing: float = 0.0,
                 reduction: Reduction = "mean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        beta = _check_beta(name, beta)
        gamma = float(check_number(name, "gamma", gamma))
        eps = _check_smoothing(name, "sigmoid", label_smoothing)
        super().__init__(reduction=reduction, group=group)
        self.beta, self.gamma, self.label_smoothing = beta, gamma, eps

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "gamma": self.gamma, "label_smoothing": self.label_smoothing,
                **super()._options()}

    def __call__(self, policy_chosen_logps: mx.array, policy_rejected_logps: mx.array, *,
                 chosen_lengths: Optional[mx.array] = None,
                 rejected_lengths: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.simpo_loss(policy_chosen_logps, policy_rejected_logps, beta=self.beta,
                            gamma=self.gamma, label_smoothing=self.label_smoothing,
                            chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths,
                            reduction=self.reduction, group=self.group)


def _kto_weights(name: str, desirable_weight: Any, undesirable_weight: Any):
    return (float(check_number(name, "desirable_weight", desirable_weight, min_value=0.0)),
            float(check_number(name, "undesirable_weight", undesirable_weight, min_value=0.0)))


class KTOLoss(_Loss):
    """Kahneman-Tversky Optimization; see :func:`mlx_losses.functional.kto_loss`.

    Args:
        beta (float, optional): Default: ``0.1``.
        desirable_weight (float, optional): Default: ``1.0``.
        undesirable_weight (float, optional): Default: ``1.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import KTOLoss
        >>> p = mx.array([-4.0, -6.0])
        >>> KTOLoss()(p, p, mx.array([1, 0]), kl=0.0).loss.item()
        0.5
    """

    def __init__(self, *, beta: float = 0.1, desirable_weight: float = 1.0,
                 undesirable_weight: float = 1.0, reduction: Reduction = "mean",
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        beta = _check_beta(name, beta)
        wd, wu = _kto_weights(name, desirable_weight, undesirable_weight)
        super().__init__(reduction=reduction, group=group)
        self.beta, self.desirable_weight, self.undesirable_weight = beta, wd, wu

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "desirable_weight": self.desirable_weight,
                "undesirable_weight": self.undesirable_weight, **super()._options()}

    def __call__(self, policy_logps: mx.array, ref_logps: mx.array, labels: mx.array, *,
                 kl: Optional[Union[mx.array, Number]] = None) -> PreferenceLossOutput:
        return F.kto_loss(policy_logps, ref_logps, labels, kl=kl, beta=self.beta,
                          desirable_weight=self.desirable_weight,
                          undesirable_weight=self.undesirable_weight, reduction=self.reduction,
                          group=self.group)


class _FusedBase(_Loss):
    """Shared options of the fused preference Modules: the head's weight
    is a call argument (the model's LM head), not a parameter here."""

    def __init__(self, *, ignore_index: int, reduction: Reduction,
                 options: Optional[LinearCrossEntropyOptions], softcap: Optional[float],
                 logit_scale: Optional[float], group: Optional[mx.distributed.Group]) -> None:
        name = type(self).__name__
        ignore_index = _check_ignore_index(name, ignore_index)
        _check_options(name, options)
        softcap, logit_scale, _, _ = _check_logit_options(name, softcap, logit_scale, 0.0, None)
        super().__init__(reduction=reduction, group=group)
        self.ignore_index, self.options = ignore_index, options
        self.softcap, self.logit_scale = softcap, logit_scale

    def _fused_options(self) -> Dict[str, Any]:
        opts = {"ignore_index": self.ignore_index, **super()._options(), "options": self.options}
        # the logit transform only where set (most models have none)
        for key in ("softcap", "logit_scale"):
            if getattr(self, key) is not None:
                opts[key] = getattr(self, key)
        return opts

    def _head_options(self) -> Dict[str, Any]:
        return {"ignore_index": self.ignore_index, "reduction": self.reduction,
                "options": self.options, "softcap": self.softcap,
                "logit_scale": self.logit_scale}


class FusedLinearDPOLoss(_FusedBase):
    """DPO fused with the chunked LM head; see
    :func:`mlx_losses.functional.fused_linear_dpo_loss` (Liger-Kernel's
    ``LigerFusedLinearDPOLoss``; the arguments in torch's ``linear``
    order: ``input, weight, target``).

    Args:
        beta (float, optional): Default: ``0.1``.
        loss_type (str, optional): Default: ``'sigmoid'``.
        label_smoothing (float, optional): Default: ``0.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): Default: ``None``.
        softcap (float, optional): The model's final-logit softcap.
            Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits.
            Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FusedLinearDPOLoss
        >>> loss = FusedLinearDPOLoss(beta=0.2)
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> round(loss(h, W, mx.array([[1, 2, 3]] * 2), ref_input=h).loss.item(), 4)
        0.6931
    """

    def __init__(self, *, beta: float = 0.1, loss_type: str = "sigmoid",
                 label_smoothing: float = 0.0, ignore_index: int = -100,
                 reduction: Reduction = "mean",
                 options: Optional[LinearCrossEntropyOptions] = None,
                 softcap: Optional[float] = None, logit_scale: Optional[float] = None,
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        check_option(name, "loss_type", loss_type, DPO_LOSS_TYPES)
        beta = _check_beta(name, beta)
        eps = _check_smoothing(name, loss_type, label_smoothing)
        super().__init__(ignore_index=ignore_index, reduction=reduction, options=options,
                         softcap=softcap, logit_scale=logit_scale, group=group)
        self.beta, self.loss_type, self.label_smoothing = beta, loss_type, eps

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "loss_type": self.loss_type,
                "label_smoothing": self.label_smoothing, **self._fused_options()}

    def __call__(self, input: mx.array, weight: "mx.array | QuantizedWeight",
                 target: mx.array, *, bias: Optional[mx.array] = None,
                 mask: Optional[mx.array] = None,
                 ref_input: Optional[mx.array] = None,
                 ref_weight: "Optional[mx.array | QuantizedWeight]" = None,
                 ref_bias: Optional[mx.array] = None,
                 ref_logps: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.fused_linear_dpo_loss(
            input, weight, target, bias=bias, mask=mask, ref_input=ref_input,
            ref_weight=ref_weight, ref_bias=ref_bias, ref_logps=ref_logps,
            beta=self.beta, loss_type=self.loss_type, label_smoothing=self.label_smoothing,
            **self._head_options(), group=self.group)


class FusedLinearORPOLoss(_FusedBase):
    """ORPO fused with the chunked LM head; see
    :func:`mlx_losses.functional.fused_linear_orpo_loss` (Liger-Kernel's
    ``LigerFusedLinearORPOLoss``).

    Args:
        beta (float, optional): Default: ``0.1``.
        compute_nll_loss (bool, optional): Default: ``True``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): Default: ``None``.
        softcap (float, optional): The model's final-logit softcap.
            Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits.
            Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FusedLinearORPOLoss
        >>> loss = FusedLinearORPOLoss(compute_nll_loss=False)
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> loss(h, W, mx.array([[1, 2, 3]] * 2)).loss.item() > 0
        True
    """

    def __init__(self, *, beta: float = 0.1, compute_nll_loss: bool = True,
                 ignore_index: int = -100, reduction: Reduction = "mean",
                 options: Optional[LinearCrossEntropyOptions] = None,
                 softcap: Optional[float] = None, logit_scale: Optional[float] = None,
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        beta = _check_beta(name, beta, allow_zero=True)
        if not isinstance(compute_nll_loss, bool):
            raise TypeError(message(name, "compute_nll_loss", "be a bool", repr(compute_nll_loss)))
        super().__init__(ignore_index=ignore_index, reduction=reduction, options=options,
                         softcap=softcap, logit_scale=logit_scale, group=group)
        self.beta, self.compute_nll_loss = beta, compute_nll_loss

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "compute_nll_loss": self.compute_nll_loss,
                **self._fused_options()}

    def __call__(self, input: mx.array, weight: "mx.array | QuantizedWeight",
                 target: mx.array, *, bias: Optional[mx.array] = None,
                 mask: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.fused_linear_orpo_loss(
            input, weight, target, bias=bias, mask=mask, beta=self.beta,
            compute_nll_loss=self.compute_nll_loss, **self._head_options(), group=self.group)


class FusedLinearSimPOLoss(_FusedBase):
    """SimPO fused with the chunked LM head; see
    :func:`mlx_losses.functional.fused_linear_simpo_loss` (Liger-Kernel's
    ``LigerFusedLinearSimPOLoss``).

    Args:
        beta (float, optional): Default: ``0.1``.
        gamma (float, optional): Default: ``0.5``.
        label_smoothing (float, optional): Default: ``0.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): Default: ``None``.
        softcap (float, optional): The model's final-logit softcap.
            Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits.
            Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FusedLinearSimPOLoss
        >>> loss = FusedLinearSimPOLoss(gamma=0.0)
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> round(loss(h, W, mx.array([[1, 2, 3]] * 2)).loss.item(), 4)
        0.6931
    """

    def __init__(self, *, beta: float = 0.1, gamma: float = 0.5, label_smoothing: float = 0.0,
                 ignore_index: int = -100, reduction: Reduction = "mean",
                 options: Optional[LinearCrossEntropyOptions] = None,
                 softcap: Optional[float] = None, logit_scale: Optional[float] = None,
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        beta = _check_beta(name, beta)
        gamma = float(check_number(name, "gamma", gamma))
        eps = _check_smoothing(name, "sigmoid", label_smoothing)
        super().__init__(ignore_index=ignore_index, reduction=reduction, options=options,
                         softcap=softcap, logit_scale=logit_scale, group=group)
        self.beta, self.gamma, self.label_smoothing = beta, gamma, eps

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "gamma": self.gamma, "label_smoothing": self.label_smoothing,
                **self._fused_options()}

    def __call__(self, input: mx.array, weight: "mx.array | QuantizedWeight",
                 target: mx.array, *, bias: Optional[mx.array] = None,
                 mask: Optional[mx.array] = None) -> PreferenceLossOutput:
        return F.fused_linear_simpo_loss(
            input, weight, target, bias=bias, mask=mask, beta=self.beta, gamma=self.gamma,
            label_smoothing=self.label_smoothing, **self._head_options(), group=self.group)


class FusedLinearKTOLoss(_FusedBase):
    """KTO fused with the chunked LM head; see
    :func:`mlx_losses.functional.fused_linear_kto_loss` (Liger-Kernel's
    ``LigerFusedLinearKTOLoss``).

    Args:
        beta (float, optional): Default: ``0.1``.
        desirable_weight (float, optional): Default: ``1.0``.
        undesirable_weight (float, optional): Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): Default: ``None``.
        softcap (float, optional): The model's final-logit softcap.
            Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits.
            Default: ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import FusedLinearKTOLoss
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> t, labels = mx.array([[1, 2, 3]] * 2), mx.array([True, False])
        >>> FusedLinearKTOLoss()(h, W, t, labels, ref_input=h).loss.item()
        0.5
    """

    def __init__(self, *, beta: float = 0.1, desirable_weight: float = 1.0,
                 undesirable_weight: float = 1.0, ignore_index: int = -100,
                 reduction: Reduction = "mean",
                 options: Optional[LinearCrossEntropyOptions] = None,
                 softcap: Optional[float] = None, logit_scale: Optional[float] = None,
                 group: Optional[mx.distributed.Group] = None) -> None:
        name = type(self).__name__
        beta = _check_beta(name, beta)
        wd, wu = _kto_weights(name, desirable_weight, undesirable_weight)
        super().__init__(ignore_index=ignore_index, reduction=reduction, options=options,
                         softcap=softcap, logit_scale=logit_scale, group=group)
        self.beta, self.desirable_weight, self.undesirable_weight = beta, wd, wu

    def _options(self) -> Dict[str, Any]:
        return {"beta": self.beta, "desirable_weight": self.desirable_weight,
                "undesirable_weight": self.undesirable_weight, **self._fused_options()}

    def __call__(self, input: mx.array, weight: "mx.array | QuantizedWeight",
                 target: mx.array, labels: mx.array, *, bias: Optional[mx.array] = None,
                 mask: Optional[mx.array] = None,
                 ref_input: Optional[mx.array] = None,
                 ref_weight: "Optional[mx.array | QuantizedWeight]" = None,
                 ref_bias: Optional[mx.array] = None, ref_logps: Optional[mx.array] = None,
                 kl: Optional[Union[mx.array, Number]] = None) -> PreferenceLossOutput:
        return F.fused_linear_kto_loss(
            input, weight, target, labels, bias=bias, mask=mask, ref_input=ref_input,
            ref_weight=ref_weight, ref_bias=ref_bias, ref_logps=ref_logps, kl=kl,
            beta=self.beta, desirable_weight=self.desirable_weight,
            undesirable_weight=self.undesirable_weight, **self._head_options(), group=self.group)
