"""Probabilistic losses: KL divergence, Poisson NLL and Gaussian NLL."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Tuple, Union

import mlx.core as mx

from .._api import public_loss
from .._dtypes import result_dtype, upcast
from .._reduction import apply_reduction, batchmean, reduce_with_vjp
from .._validation import (
    KL_REDUCTIONS,
    KLReduction,
    Reduction,
    ShapeError,
    ValueCheckError,
    broadcast_shapes,
    check_bool,
    check_floating,
    check_number,
    any_negative,
    dtype_name,
    fmt_shape,
    message,
    run_value_check,
    user_stacklevel,
    resolve_reduction,
)
from .._numerics import exp
from ._common import broadcast_pair

__all__ = ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"]

# torch's text, word for word (it has no spaces between its sentences).
_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)



# Elementwise kernels, compiled: each is one fused pass over the inputs.
@mx.compile
def _kl(x: mx.array, t: mx.array) -> mx.array:
    # torch: xlogy(t, t) - t * x, where xlogy(0, y) = 0 (y not NaN). Autodiff
    # of this form gives torch's gradients exactly, NaN w.r.t. target at
    # target == 0 included (torch's xlogy rule: grad * t / t = 0 / 0 there).
    return mx.where(t == 0, 0, t * mx.log(t)) - t * x


@mx.compile
def _kl_log_target(x: mx.array, t: mx.array) -> mx.array:
    return exp(t) * (t - x)


@mx.compile
def _poisson_log_input(x: mx.array, t: mx.array) -> mx.array:
    return exp(x) - t * x


@mx.compile
def _poisson(x: mx.array, t: mx.array, eps: mx.array) -> mx.array:
    return x - t * mx.log(x + eps)


@mx.compile
def _stirling(t: mx.array) -> mx.array:
    # log(t!) ~ t log t - t + 0.5 log(2 pi t), added only where t > 1 (torch's
    # masked_fill(target <= 1, 0); the masked branch still meets autodiff, so
    # the target gradient is NaN at t <= 0 exactly as in torch).
    s = t * mx.log(t) - t + 0.5 * mx.log(2 * math.pi * t)
    return mx.where(t <= 1, 0, s)


@mx.compile
def _gaussian(x: mx.array, y: mx.array, var: mx.array, eps: mx.array) -> mx.array:
    # torch clamps var in place under no_grad: the value is max(var, eps),
    # NaN if either is (as torch's clamp); the gradient flows to var as if
    # unclamped (the VJP).
    v = mx.maximum(var, eps)
    d = x - y
    return 0.5 * (mx.log(v) + d * d / v)


@mx.compile
def _gaussian_grads(x: mx.array, y: mx.array, var: mx.array, eps: mx.array, s: mx.array):
    # d/dx = s d / v, d/dy = -d/dx, d/dvar = s (1 - d^2 / v) / (2 v), with v
    # the clamped variance (torch differentiates through the clamp as the
    # identity).
    v = mx.maximum(var, eps)
    r = (x - y) / v
    gx = s * r
    gv = (0.5 * s) * (1 - r * (x - y)) / v
    # at v == 0 the loss is NaN (log 0 + d^2 / 0), and so is torch's
    # 1/v - d^2/v^2 (inf - inf, or 0/0); the form above gives -inf
    return gx, -gx, mx.where(v == 0, math.nan, gv)


def _gaussian_reduced(
    x: mx.array, y: mx.array, v: mx.array, eps: mx.array, reduction: str, full: bool,
    group: Optional[mx.distributed.Group],
) -> mx.array:
    """The loss of broadcast ``x``, ``y``, ``v`` (one shape), reduced, with a
    hand-written backward: one pass per gradient instead of autodiff's chain
    through the log, the division and the clamp (each a full pass under an
    eager ``mx.value_and_grad``)."""

    def forward(x: mx.array, y: mx.array, v: mx.array, eps: mx.array) -> mx.array:
        elems = _gaussian(x, y, v, eps)
        return elems + _HALF_LOG_2PI if full else elems

    def backward(primals: Tuple[mx.array, ...], saved: Any, cotangent: mx.array):
        x, y, v, eps = primals
        gx, gy, gv = _gaussian_grads(x, y, v, eps, cotangent.astype(x.dtype))
        return gx, gy, gv, mx.zeros_like(eps)

    return reduce_with_vjp(forward, backward, (x, y, v, eps), reduction, group=group)


@public_loss
def kl_div(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: KLReduction = "mean",
    log_target: bool = False,
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Kullback-Leibler divergence loss, as ``torch.nn.functional.kl_div``.

    ``input`` holds log-probabilities; ``target`` probabilities (or
    log-probabilities with ``log_target=True``):

    .. math::
        \ell_n = \begin{cases}
            y_n (\log y_n - x_n), & \text{log\_target=False (} 0 \log 0 = 0 \text{)} \\
            e^{y_n} (y_n - x_n), & \text{log\_target=True}
        \end{cases}

    ``'batchmean'`` divides the sum by the batch size (``input.shape[0]``)
    and is the true KL divergence; ``'mean'`` divides by the number of
    elements and warns, as torch does. As in torch, the gradient w.r.t.
    ``target`` is NaN where ``target == 0`` (``log_target=False``).

    Args:
        input (array): Log-probabilities, any shape.
        target (array): Probabilities (or log-probabilities), broadcastable
            with ``input``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'batchmean'`` | ``'sum'``
            | ``'mean'``. Default: ``'mean'``.
        log_target (bool, optional): Whether ``target`` is in log space.
            Default: ``False``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input`` and ``target``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import kl_div
        >>> p = mx.array([[0.5, 0.5], [0.25, 0.75]])
        >>> kl_div(mx.log(p), p, reduction="batchmean").item()
        0.0
    """
    fn = "kl_div"
    legacy = size_average is not None or reduce is not None
    requested = reduction
    reduction = resolve_reduction(fn, reduction, size_average, reduce, allowed=KL_REDUCTIONS)
    check_bool(fn, "log_target", log_target)
    if not legacy and reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=user_stacklevel())
    x, y, out = broadcast_pair(fn, input, target, warn=False)
    loss = (_kl_log_target if log_target else _kl)(x, y)
    if requested == "batchmean" and legacy:
        # torch's quirk, kept: the legacy pair picks the reduction, and
        # 'batchmean' still divides the result by the (local) batch size.
        loss = apply_reduction(loss, reduction, group=group)
        if input.ndim != 0:
            loss = loss / input.shape[0]
        return loss.astype(out)
    if reduction == "batchmean":
        # by input.shape[0], also where `target` broadcast the loss up
        return batchmean(loss, batch_of=input, dtype=out, group=group)
    return apply_reduction(loss, reduction, dtype=out, group=group)


@public_loss
def poisson_nll_loss(
    input: mx.array,
    target: mx.array,
    log_input: bool = True,
    full: bool = False,
    size_average: Optional[bool] = None,
    eps: float = 1e-8,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Poisson negative log-likelihood, as ``torch.nn.functional.poisson_nll_loss``.

    .. math::
        \ell_n = \begin{cases}
            e^{x_n} - y_n x_n, & \text{log\_input=True} \\
            x_n - y_n \log(x_n + \text{eps}), & \text{log\_input=False}
        \end{cases}

    With ``full=True`` the Stirling term
    :math:`y_n \log y_n - y_n + \tfrac12 \log(2\pi y_n)` is added where
    :math:`y_n > 1` (zero elsewhere, as in torch).

    Args:
        input (array): The log-rate (``log_input=True``) or the rate.
        target (array): Counts, broadcastable with ``input``.
        log_input (bool, optional): Whether ``input`` is the log of the rate.
            Default: ``True``.
        full (bool, optional): Add the Stirling approximation of
            :math:`\log(y!)`. Default: ``False``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        eps (float, optional): Added to the rate before the log when
            ``log_input=False``. Default: ``1e-8``.
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import poisson_nll_loss
        >>> poisson_nll_loss(mx.array([0.0, 0.0]), mx.array([1.0, 3.0]), reduction="none").tolist()
        [1.0, 1.0]
    """
    fn = "poisson_nll_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    check_bool(fn, "log_input", log_input)
    check_bool(fn, "full", full)
    eps = check_number(fn, "eps", eps)
    x, y, out = broadcast_pair(fn, input, target, warn=False)
    if log_input:
        loss = _poisson_log_input(x, y)
    else:
        loss = _poisson(x, y, mx.array(eps, dtype=x.dtype))
    if full:
        loss = loss + _stirling(y)
    return apply_reduction(loss, reduction, dtype=out, group=group)


def _gaussian_var(fn: str, input: mx.array, var) -> mx.array:
    """torch's accepted ``var`` layouts, reshaped for broadcasting."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError(
                message(fn, "var", "be non-negative", f"{var!r}: var has negative entry/entries")
            )
        # torch: var * ones_like(input), i.e. the number in input's dtype.
        return mx.array(var, dtype=input.dtype)
    if not isinstance(var, mx.array):
        raise TypeError(
            message(fn, "var", "be an mx.array or a Python float", type(var).__name__)
        )
    check_floating(fn, "var", var)

    def check() -> bool:
        if var.size and any_negative(var):
            raise ValueCheckError(
                message(
                    fn, "var", "be non-negative",
                    f"{mx.min(var).item():g}: var has negative entry/entries",
                )
            )
        return True

    if not run_value_check(check):
        # unchecked (switched off, or under mx.compile): a negative variance
        # is NaN, value and gradient (a factor), never clamped to eps
        var = var * mx.where(var < 0, mx.array(math.nan, var.dtype), mx.array(1.0, var.dtype))
    if tuple(var.shape) == tuple(input.shape):
        return var  # heteroscedastic
    if tuple(input.shape[:-1]) == tuple(var.shape):
        # one dimension short: a variance per row, broadcast over the last dim
        return mx.expand_dims(var, -1)
    if var.ndim == input.ndim and (
        sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1
    ):
        return var  # one mismatched dimension where var is 1 (homoscedastic)
    raise ShapeError(
        message(
            fn,
            "var",
            f"have the shape of `input` {fmt_shape(input.shape)}, that shape with one "
            "dimension fewer, or with one dimension of size 1",
            f"{fmt_shape(var.shape)}: var is of incorrect size",
        )
    )


def _gaussian_eps(fn: str, eps, var_shape: tuple):
    """torch clamps ``var`` with ``clamp_(min=eps)``, which takes a number
    (NaN and negative ones too; a complex one with no imaginary part) or an
    array that broadcasts to ``var``'s shape (read as ``var``'s dtype)."""
    if not isinstance(eps, mx.array) or eps.ndim == 0:
        return check_number(fn, "eps", eps, complex_ok=True)
    if not (mx.issubdtype(eps.dtype, mx.floating) or mx.issubdtype(eps.dtype, mx.integer)):
        raise TypeError(message(fn, "eps", "be a number or a real array", dtype_name(eps.dtype)))
    try:
        ok = tuple(mx.broadcast_shapes(eps.shape, var_shape)) == var_shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(message(fn, "eps", f"broadcast to the shape of `var`, {fmt_shape(var_shape)}",
                                 fmt_shape(eps.shape)))
    return mx.stop_gradient(eps)


@public_loss
def gaussian_nll_loss(
    input: mx.array,
    target: mx.array,
    var: Union[mx.array, float],
    full: bool = False,
    eps: Union[float, mx.array] = 1e-6,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Gaussian negative log-likelihood, as ``torch.nn.functional.gaussian_nll_loss``.

    .. math::
        \ell_n = \frac12 \left( \log \max(v_n, \text{eps})
            + \frac{(x_n - y_n)^2}{\max(v_n, \text{eps})} \right)
            \; \left[ + \tfrac12 \log 2\pi \text{ with } \texttt{full} \right]

    The clamp to ``eps`` does not touch the gradient: w.r.t. ``var`` it is the
    derivative of the formula at the clamped value, passed through as if
    unclamped (torch clamps under ``no_grad``).

    Args:
        input (array): The predicted means.
        target (array): Samples, broadcastable with ``input``.
        var (array or float): Non-negative variances: same shape as ``input``
            (heteroscedastic), that shape with one dimension fewer (the last),
            or with one dimension of size 1 (homoscedastic), or a Python
            float for all.
        full (bool, optional): Add the constant :math:`\tfrac12 \log 2\pi`.
            Default: ``False``.
        eps (float, optional): The lower clamp of ``var``. Default: ``1e-6``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(N, *)` or :math:`(*)`; Target: same shape, or
          broadcastable.
        - Var: as described above.
        - Output: scalar, or the broadcast shape with ``reduction='none'``.

    Returns:
        array: The loss.

    Raises:
        ValueError: ``var`` has a negative entry (checked in eager mode;
            see :func:`mlx_losses.set_value_checks`) or an unsupported shape.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import gaussian_nll_loss
        >>> gaussian_nll_loss(mx.array([1.0, 0.0]), mx.array([3.0, 0.0]), 1.0, reduction="none").tolist()
        [2.0, 0.0]
    """
    fn = "gaussian_nll_loss"
    reduction = resolve_reduction(fn, reduction)
    check_floating(fn, "input", input)
    check_floating(fn, "target", target)
    given = var
    var = _gaussian_var(fn, input, var)
    # a float var is torch's var * ones_like(input): eps broadcasts to input
    clamp = _gaussian_eps(fn, eps, tuple(var.shape if isinstance(given, mx.array) else input.shape))
    out = result_dtype(input, target, var)
    shape = broadcast_shapes(fn, ("input", "target", "var"), input, target, var)
    x, y, v = (mx.broadcast_to(upcast(a, out), shape) for a in (input, target, var))
    lower = clamp.astype(v.dtype) if isinstance(clamp, mx.array) else mx.array(clamp, dtype=v.dtype)
    return _gaussian_reduced(x, y, v, lower, reduction, full, group).astype(out)
