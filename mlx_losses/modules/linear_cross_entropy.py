"""The Module for linear cross-entropy: it owns its linear layer."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Union

import mlx.core as mx
import mlx.nn as nn

from .. import functional as F
from .._validation import (
    Reduction,
    ShapeError,
    check_floating,
    check_label_smoothing,
    check_number,
    fmt_shape,
    message,
)
from ..losses.classification import _check_logit_options
from ..losses.linear_cross_entropy import LinearCrossEntropyOptions, QuantizedWeight
from ._base import _WeightedLoss
from .classification import _mlx_options

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions", "QuantizedWeight"]


class LinearCrossEntropyLoss(_WeightedLoss):
    """Linear layer + cross-entropy; see
    :func:`mlx_losses.functional.linear_cross_entropy`.

    Like torch's, the Module owns its projection: ``self.linear`` is an
    ``mlx.nn.Linear(in_features, num_classes * prod(out_features))`` whose
    ``weight`` (flat storage, ``(C * prod(out_features), in_features)``)
    and optional ``bias`` are trainable parameters, initialised as torch's
    ``Linear`` (uniform in :math:`\\pm 1/\\sqrt{in\\_features}`). They are
    reshaped to ``(C, *out_features, in_features)`` / ``(C,
    *out_features)`` on each call. The class ``weight`` is stored frozen.
    After ``nn.quantize(loss)`` the layer is an ``nn.QuantizedLinear``, used
    as a frozen :class:`QuantizedWeight` head (``out_features == ()``).

    Args:
        in_features (int): Size of each input sample.
        num_classes (int): Number of classes :math:`C`.
        out_features (tuple of int, optional): ``(d_1, ..., d_K)`` for a
            K-dimensional loss. Default: ``()``.
        bias (bool, optional): Whether the linear layer has a bias.
            Default: ``False``.
        device (optional): Accepted for torch compatibility; MLX arrays live
            in unified memory. Default: ``None``.
        dtype (Dtype, optional): dtype of the linear parameters (float32 if
            ``None``). Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        weight (array, optional): Class weights, ``(C)``. Default: ``None``.
        ignore_index (int, optional): Ignored class index; ``None`` means
            ``-100`` for class-index targets. Default: ``None``.
        label_smoothing (float, optional): In ``[0, 1]``; NaN means none.
            Default: ``0.0``.
        options (LinearCrossEntropyOptions, optional): ``None`` for the
            reference path, an instance for the chunked path.
            Default: ``None``.
        axis, softcap, logit_scale, z_loss, out_dtype: MLX-only options of
            :func:`mlx_losses.functional.linear_cross_entropy`.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses import LinearCrossEntropyLoss
        >>> from mlx.utils import tree_flatten
        >>> loss = LinearCrossEntropyLoss(8, 10, bias=True)
        >>> sorted(k for k, _ in tree_flatten(loss.trainable_parameters()))
        ['linear.bias', 'linear.weight']
        >>> loss(mx.zeros((4, 8)), mx.array([0, 1, 2, 3])).shape
        ()
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: Sequence[int] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Optional[mx.Dtype] = None,
        reduction: Reduction = "mean",
        weight: Optional[mx.array] = None,
        ignore_index: Optional[int] = None,
        label_smoothing: float = 0.0,
        options: Optional[LinearCrossEntropyOptions] = None,
        axis: Optional[int] = None,
        softcap: Optional[float] = None,
        logit_scale: Optional[float] = None,
        z_loss: float = 0.0,
        out_dtype: Optional[mx.Dtype] = None,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        name = type(self).__name__
        in_features = check_number(name, "in_features", in_features, min_value=0, integer=True)
        num_classes = check_number(name, "num_classes", num_classes, min_value=0, integer=True)
        out_features = tuple(out_features)
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in out_features):
            raise ValueError(message(name, "out_features", "be a tuple of non-negative ints",
                                     repr(out_features)))
        if weight is not None:
            check_floating(name, "weight", weight)
            if tuple(weight.shape) != (num_classes,):
                raise ShapeError(message(
                    name, "weight", f"have shape ({num_classes},)",
                    f"{fmt_shape(weight.shape)}: expected weight shape to be ({num_classes},)"))
        check_label_smoothing(name, label_smoothing, module=True)
        label_smoothing = check_number(name, "label_smoothing", label_smoothing)
        if axis is not None:
            axis = check_number(name, "axis", axis, integer=True)
        logit_options = _check_logit_options(name, softcap, logit_scale, z_loss, out_dtype)
        if options is not None and not isinstance(options, LinearCrossEntropyOptions):
            raise TypeError(message(name, "options", "be a LinearCrossEntropyOptions or None",
                                    type(options).__name__))
        super().__init__(weight=weight, reduction=reduction, group=group)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = float(label_smoothing)
        self.options = options
        self.axis = axis
        self.softcap, self.logit_scale, self.z_loss, self.out_dtype = logit_options
        # Flat storage, as torch's (Linear has no multi-dimensional weight);
        # mlx.nn.Linear draws from U(-1/sqrt(in), 1/sqrt(in)) like torch.
        self.linear = nn.Linear(in_features, math.prod(out_features) * num_classes, bias=bias)
        if dtype is not None:
            self.linear.set_dtype(dtype)

    @property
    def in_features(self) -> int:
        if isinstance(self.linear, nn.QuantizedLinear):
            return self.linear.weight.shape[-1] * 32 // self.linear.bits
        return self.linear.weight.shape[-1]

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {
            "in_features": self.in_features,
            "num_classes": self.num_classes,
            "out_features": self.out_features,
            "bias": "bias" in self.linear,
        }
        if self.weight is not None:
            opts["weight"] = self.weight
        opts.update(
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )
        opts.update(_mlx_options(self, axis_default=None))
        return opts

    def __call__(self, input: mx.array, target: mx.array) -> mx.array:
        shape = (self.num_classes, *self.out_features)
        linear_weight: Union[mx.array, QuantizedWeight]
        if isinstance(self.linear, nn.QuantizedLinear):
            if self.out_features:
                raise ValueError(message(
                    type(self).__name__, "out_features", "be () with a quantized linear layer",
                    repr(self.out_features)))
            linear_weight = QuantizedWeight.from_module(self.linear)
        else:
            linear_weight = self.linear.weight.reshape(*shape, self.in_features)
        linear_bias = self.linear.bias.reshape(shape) if "bias" in self.linear else None
        return F.linear_cross_entropy(
            input,
            linear_weight,
            target,
            linear_bias=linear_bias,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
            axis=self.axis,
            softcap=self.softcap,
            logit_scale=self.logit_scale,
            z_loss=self.z_loss,
            out_dtype=self.out_dtype,
            group=self.group,
        )
