"""Regression losses: L1, MSE, Smooth L1 and Huber."""

from __future__ import annotations

from typing import Optional

import mlx.core as mx

from .._reduction import apply_reduction, accurate_sum, resolve_reduction
from .._validation import ShapeError, check_floating, check_number, fmt_shape, message
from ._common import broadcast_pair, promote_types, upcast

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"]


# Elementwise kernels, compiled: each is one fused pass over the inputs.
@mx.compile
def _abs_diff(x: mx.array, y: mx.array) -> mx.array:
    return mx.abs(x - y)


@mx.compile
def _sq_diff(x: mx.array, y: mx.array) -> mx.array:
    d = x - y
    return d * d


@mx.compile
def _smooth_l1(x: mx.array, y: mx.array, beta: mx.array) -> mx.array:
    ad = mx.abs(x - y)
    # |d| < beta: 0.5 d^2 / beta, else |d| - 0.5 beta (torch's branch order).
    return mx.where(ad < beta, 0.5 * ad * ad / beta, ad - 0.5 * beta)


@mx.compile
def _huber(x: mx.array, y: mx.array, delta: mx.array) -> mx.array:
    ad = mx.abs(x - y)
    return mx.where(ad < delta, 0.5 * ad * ad, delta * (ad - 0.5 * delta))


def _check_weight(fn: str, weight: mx.array, input: mx.array) -> mx.array:
    check_floating(fn, "weight", weight)
    if tuple(weight.shape) != tuple(input.shape):
        raise ShapeError(
            message(
                fn,
                "weight",
                f"have the shape of `input`, {fmt_shape(input.shape)} "
                "(Weights and input must have the same size.)",
                fmt_shape(weight.shape),
            )
        )
    return weight


def _finish(
    fn: str,
    loss: mx.array,
    reduction: str,
    out_dtype: mx.Dtype,
    weight: Optional[mx.array],
    input: mx.array,
    *,
    weighted_mean_over_weights: bool,
) -> mx.array:
    """Apply the per-element weight and the reduction; cast back once."""
    if weight is not None:
        _check_weight(fn, weight, input)
        out_dtype = promote_types(out_dtype, weight.dtype)
        loss = loss * upcast(weight, out_dtype)
        if reduction == "mean" and weighted_mean_over_weights:
            # l1/mse: sum(w * l) / sum(w), torch's weighted mean.
            total = accurate_sum(loss)
            return (total / accurate_sum(upcast(weight, out_dtype))).astype(out_dtype)
    return apply_reduction(loss, reduction).astype(out_dtype)


def l1_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    weight: Optional[mx.array] = None,
) -> mx.array:
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``.

    .. math::
        \ell_n = w_n \left| x_n - y_n \right|

    With ``weight``, ``'mean'`` is :math:`\sum_n w_n \ell_n / \sum_n w_n`.

    Args:
        input (array): Predictions, any shape.
        target (array): Targets, broadcastable to ``input`` (torch warns when
            the sizes differ, and so do we).
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        weight (array, optional): Per-element weights, same shape as
            ``input``. Default: ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input`` and ``target``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import l1_loss
        >>> l1_loss(mx.array([1.0, 2.0]), mx.array([0.0, 4.0])).item()
        1.5
    """
    fn = "l1_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    x, y, out = broadcast_pair(fn, input, target)
    return _finish(fn, _abs_diff(x, y), reduction, out, weight, input,
                   weighted_mean_over_weights=True)


def mse_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    weight: Optional[mx.array] = None,
) -> mx.array:
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``.

    .. math::
        \ell_n = w_n \left( x_n - y_n \right)^2

    With ``weight``, ``'mean'`` is :math:`\sum_n w_n \ell_n / \sum_n w_n`.

    Args:
        input (array): Predictions, any shape.
        target (array): Targets, broadcastable to ``input``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        weight (array, optional): Per-element weights, same shape as
            ``input``. Default: ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import mse_loss
        >>> mse_loss(mx.array([1.0, 2.0]), mx.array([0.0, 4.0]), reduction="sum").item()
        5.0
    """
    fn = "mse_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    x, y, out = broadcast_pair(fn, input, target)
    return _finish(fn, _sq_diff(x, y), reduction, out, weight, input,
                   weighted_mean_over_weights=True)


def smooth_l1_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> mx.array:
    r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss``.

    .. math::
        \ell_n = \begin{cases}
            0.5 (x_n - y_n)^2 / \beta, & |x_n - y_n| < \beta \\
            |x_n - y_n| - 0.5 \beta, & \text{otherwise}
        \end{cases}

    ``beta=0`` is exactly the L1 loss (as in torch).

    Args:
        input (array): Predictions, any shape.
        target (array): Targets, broadcastable to ``input``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        beta (float, optional): Where the loss turns from quadratic to
            linear; must be >= 0. Default: ``1.0``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import smooth_l1_loss
        >>> smooth_l1_loss(mx.array([0.5, 3.0]), mx.array([0.0, 0.0]), reduction="none").tolist()
        [0.125, 2.5]
    """
    fn = "smooth_l1_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_number(fn, "beta", beta, min_value=0.0)
    x, y, out = broadcast_pair(fn, input, target)
    if beta == 0.0:
        loss = _abs_diff(x, y)
    else:
        loss = _smooth_l1(x, y, mx.array(beta, dtype=x.dtype))
    return apply_reduction(loss, reduction).astype(out)


def huber_loss(
    input: mx.array,
    target: mx.array,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Optional[mx.array] = None,
) -> mx.array:
    r"""Huber loss, as ``torch.nn.functional.huber_loss``.

    .. math::
        \ell_n = w_n \begin{cases}
            0.5 (x_n - y_n)^2, & |x_n - y_n| < \delta \\
            \delta \left(|x_n - y_n| - 0.5 \delta\right), & \text{otherwise}
        \end{cases}

    With ``weight``, ``'mean'`` is the plain mean of the weighted losses
    (torch's rule for Huber, unlike L1/MSE).

    Args:
        input (array): Predictions, any shape.
        target (array): Targets, broadcastable to ``input``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        delta (float, optional): Where the loss turns from quadratic to
            linear; must be > 0. Default: ``1.0``.
        weight (array, optional): Per-element weights, same shape as
            ``input``. Default: ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import huber_loss
        >>> huber_loss(mx.array([0.5, 3.0]), mx.array([0.0, 0.0]), delta=2.0, reduction="none").tolist()
        [0.125, 4.0]
    """
    fn = "huber_loss"
    reduction = resolve_reduction(fn, reduction)
    check_number(fn, "delta", delta, min_value=0.0, min_inclusive=False)
    x, y, out = broadcast_pair(fn, input, target)
    loss = _huber(x, y, mx.array(delta, dtype=x.dtype))
    return _finish(fn, loss, reduction, out, weight, input, weighted_mean_over_weights=False)
