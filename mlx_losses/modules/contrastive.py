"""Modules for the representation-learning losses and the two losses from
``mlx.nn.losses``."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import mlx.core as mx

from .. import functional as F
from .._validation import Reduction, check_number, check_option
from ._base import _Loss

__all__ = [
    "InfoNCELoss",
    "NTXentLoss",
    "ClipLoss",
    "SigLipLoss",
    "SupConLoss",
    "LogCoshLoss",
    "CosineSimilarityLoss",
]


def _temperature(cls: str, name: str, value: Any) -> float:
    return float(check_number(cls, name, value, min_value=0.0, min_inclusive=False))


class InfoNCELoss(_Loss):
    """InfoNCE (``info-nce-pytorch``'s ``InfoNCE``); see
    :func:`mlx_losses.functional.info_nce_loss`.

    Args:
        temperature (float, optional): > 0. Default: ``0.1``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        negative_mode (str, optional): ``'unpaired'`` | ``'paired'``.
            Default: ``'unpaired'``.

    Example:
        >>> from mlx_losses import InfoNCELoss
        >>> InfoNCELoss(temperature=0.2)
        InfoNCELoss(reduction='mean', temperature=0.2, negative_mode='unpaired')
    """

    def __init__(
        self,
        temperature: float = 0.1,
        reduction: Reduction = "mean",
        negative_mode: str = "unpaired",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self.temperature = _temperature(name, "temperature", temperature)
        check_option(name, "negative_mode", negative_mode, ("unpaired", "paired"))
        self.negative_mode = negative_mode

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "temperature": self.temperature,
                "negative_mode": self.negative_mode}

    def __call__(
        self, query: mx.array, positive_key: mx.array, negative_keys: Optional[mx.array] = None
    ) -> mx.array:
        return F.info_nce_loss(query, positive_key, negative_keys, temperature=self.temperature,
                               reduction=self.reduction, negative_mode=self.negative_mode,
                               group=self.group)


class NTXentLoss(_Loss):
    """SimCLR's NT-Xent; see :func:`mlx_losses.functional.nt_xent_loss`.

    Args:
        temperature (float, optional): > 0. Default: ``0.5``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import NTXentLoss
        >>> NTXentLoss(temperature=0.1)
        NTXentLoss(reduction='mean', temperature=0.1)
    """

    def __init__(
        self,
        temperature: float = 0.5,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        self.temperature = _temperature(type(self).__name__, "temperature", temperature)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "temperature": self.temperature}

    def __call__(self, z1: mx.array, z2: mx.array) -> mx.array:
        return F.nt_xent_loss(z1, z2, temperature=self.temperature, reduction=self.reduction,
                              group=self.group)


class ClipLoss(_Loss):
    """CLIP's symmetric contrastive loss (open_clip's ``ClipLoss``); see
    :func:`mlx_losses.functional.clip_loss`. The logit scale is the model's
    (learned), so it is an argument of the call, not an option.

    Args:
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import ClipLoss
        >>> e = mx.array([[1.0, 0.0], [0.0, 1.0]])
        >>> round(ClipLoss()(e, e, mx.array(1.0)).item(), 6)
        0.313262
    """

    def __init__(
        self,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)

    def __call__(
        self, image_embeds: mx.array, text_embeds: mx.array, logit_scale: Union[float, mx.array]
    ) -> mx.array:
        return F.clip_loss(image_embeds, text_embeds, logit_scale, reduction=self.reduction,
                           group=self.group)


class SigLipLoss(_Loss):
    """SigLIP's sigmoid loss; see :func:`mlx_losses.functional.siglip_loss`.
    The logit scale and bias are the model's (learned): arguments of the call.

    Args:
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import SigLipLoss
        >>> SigLipLoss(reduction="sum")
        SigLipLoss(reduction='sum')
    """

    def __init__(
        self,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)

    def __call__(
        self,
        image_embeds: mx.array,
        text_embeds: mx.array,
        logit_scale: Union[float, mx.array],
        logit_bias: Union[float, mx.array],
    ) -> mx.array:
        return F.siglip_loss(image_embeds, text_embeds, logit_scale, logit_bias,
                             reduction=self.reduction, group=self.group)


class SupConLoss(_Loss):
    """Supervised contrastive loss (SupContrast's ``SupConLoss``); see
    :func:`mlx_losses.functional.supcon_loss`.

    Args:
        temperature (float, optional): > 0. Default: ``0.07``.
        contrast_mode (str, optional): ``'all'`` | ``'one'``. Default: ``'all'``.
        base_temperature (float, optional): > 0. Default: ``0.07``.
        reduction (str, optional): Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import SupConLoss
        >>> SupConLoss(temperature=0.1, contrast_mode="one")
        SupConLoss(reduction='mean', temperature=0.1, contrast_mode='one', base_temperature=0.07)
    """

    def __init__(
        self,
        temperature: float = 0.07,
        contrast_mode: str = "all",
        base_temperature: float = 0.07,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self.temperature = _temperature(name, "temperature", temperature)
        check_option(name, "contrast_mode", contrast_mode, ("all", "one"))
        self.contrast_mode = contrast_mode
        self.base_temperature = _temperature(name, "base_temperature", base_temperature)

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "temperature": self.temperature,
                "contrast_mode": self.contrast_mode, "base_temperature": self.base_temperature}

    def __call__(
        self, features: mx.array, labels: Optional[mx.array] = None,
        mask: Optional[mx.array] = None,
    ) -> mx.array:
        return F.supcon_loss(features, labels, mask, temperature=self.temperature,
                             contrast_mode=self.contrast_mode,
                             base_temperature=self.base_temperature, reduction=self.reduction,
                             group=self.group)


class LogCoshLoss(_Loss):
    """Log-cosh loss (``mlx.nn.losses.log_cosh_loss``); see
    :func:`mlx_losses.functional.log_cosh_loss`.

    Args:
        reduction (str, optional): Default: ``'none'`` (``mlx.nn``'s).
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import LogCoshLoss
        >>> LogCoshLoss()
        LogCoshLoss(reduction='none')
    """

    def __init__(
        self,
        reduction: Reduction = "none",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)

    def __call__(self, inputs: mx.array, targets: mx.array) -> mx.array:
        return F.log_cosh_loss(inputs, targets, reduction=self.reduction, group=self.group)


class CosineSimilarityLoss(_Loss):
    """Cosine similarity (``mlx.nn.losses.cosine_similarity_loss``); see
    :func:`mlx_losses.functional.cosine_similarity_loss`.

    Args:
        axis (int, optional): The embedding axis. Default: ``1``.
        eps (float, optional): >= 0. Default: ``1e-8``.
        reduction (str, optional): Default: ``'none'`` (``mlx.nn``'s).
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Example:
        >>> from mlx_losses import CosineSimilarityLoss
        >>> CosineSimilarityLoss(axis=-1)
        CosineSimilarityLoss(reduction='none', axis=-1, eps=1e-08)
    """

    def __init__(
        self,
        axis: int = 1,
        eps: float = 1e-8,
        reduction: Reduction = "none",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(reduction=reduction, group=group)
        name = type(self).__name__
        self.axis = check_number(name, "axis", axis, integer=True)
        self.eps = float(check_number(name, "eps", eps, min_value=0.0))

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "axis": self.axis, "eps": self.eps}

    def __call__(self, x1: mx.array, x2: mx.array) -> mx.array:
        return F.cosine_similarity_loss(x1, x2, axis=self.axis, eps=self.eps,
                                        reduction=self.reduction, group=self.group)
