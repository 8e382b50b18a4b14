"""Regression losses: L1, MSE, Smooth L1 and Huber."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Tuple

import mlx.core as mx

from .._api import public_loss
from .._dtypes import acc_dtype, exact_in, promote_types, upcast
from .._reduction import apply_reduction, reduce_with_vjp, weighted_reduction
from .._validation import (
    Reduction,
    ShapeError,
    check_array,
    check_floating,
    check_number,
    dtype_name,
    fmt_shape,
    message,
    resolve_reduction,
)
from ._common import check_pair, unfused

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"]


# Elementwise kernels. Each is compiled into one pass over its inputs and
# takes them in their own dtype: the upcast of float16 / bfloat16 to float32
# (torch's opmath) happens inside the fused loop, not as extra passes.
#
# Speed note (MLX's CPU JIT): a `minimum` / `clip` / `where` whose result
# feeds more arithmetic in the same compiled loop is emitted as a branch,
# which on real-valued data mispredicts about half the time (several times
# the whole loss; MLX's eager `where` is as slow). So the one
# `minimum` of Huber / Smooth L1 (and the `clip` of their gradients) runs
# as MLX's own vectorised op between compiled loops, fenced off by
# `_common.unfused` so that a caller's `mx.compile` (a compiled training step)
# cannot fuse it back; their gradients are written by hand
# (`mx.custom_function`): a branch-free clip instead of autodiff's `where`,
# one pass instead of autodiff's chain.
#
# L1 / MSE return the elementwise loss in the input dtype, rounded once as
# torch's kernels do, so float16 / bfloat16 temporaries stay half-size; their
# reductions still accumulate in float32. Their hand-written backward is one
# pass in the input dtype (torch's sign(d) * g and 2 d g), instead of
# autodiff's chain through float32 copies.
def _up(x: mx.array) -> mx.array:
    return x.astype(acc_dtype(x.dtype))  # a no-op for float32 / float64


@mx.compile
def _l1_elem(x: mx.array, y: mx.array) -> mx.array:
    # One rounding of the float32 difference, as torch's (input - target).abs().
    return mx.abs(x - y)


@mx.compile
def _mse_elem(x: mx.array, y: mx.array) -> mx.array:
    # torch's reduced-precision kernel squares in float32 and rounds once.
    return mx.square(_up(x) - _up(y)).astype(x.dtype)


@mx.compile
def _mse_elem_reduced(x: mx.array, y: mx.array) -> mx.array:
    # For 'mean' / 'sum' of half inputs: square the rounded difference in the
    # input dtype (no float32 temporaries under mx.grad); the extra rounding
    # of each term averages out in the float32 sum (~2^-9 / sqrt(n) relative).
    return mx.square(x - y)


@mx.compile
def _l1_grad(x: mx.array, y: mx.array, s: mx.array):
    # sign(x - y) is exact in any dtype (rounding keeps the sign).
    return mx.sign(x - y) * s


@mx.compile
def _mse_grad(x: mx.array, y: mx.array, s: mx.array):
    # torch's 2 (x - y) g; 2 s is exact.
    return (x - y) * (2 * s)


@mx.compile
def _abs_diff(x: mx.array, y: mx.array) -> mx.array:
    return mx.abs(_up(x) - _up(y))


@mx.compile
def _huber_q(a: mx.array, q: mx.array) -> mx.array:
    # a = |d|, q = min(a, delta): a < delta gives a * (0.5 a), torch's
    # 0.5 * z * z bit for bit (a - 0.5 a is exact); otherwise
    # delta * (a - 0.5 delta), torch's linear branch as written.
    return q * (a - 0.5 * q)


@mx.compile
def _smooth_l1_q(a: mx.array, q: mx.array, beta: mx.array) -> mx.array:
    # a = |d|, q = min(a, beta): 0.5 q^2 / beta + (a - q) is torch's
    # 0.5 * z * z / beta below beta (the second term is 0) and
    # a - 0.5 beta above it (up to one rounding).
    return 0.5 * q * q / beta + (a - q)


def _huber(x: mx.array, y: mx.array, delta: mx.array) -> mx.array:
    a = _abs_diff(x, y)
    return _huber_q(a, unfused(mx.minimum, a, delta))


def _smooth_l1(x: mx.array, y: mx.array, beta: mx.array) -> mx.array:
    a = _abs_diff(x, y)
    return _smooth_l1_q(a, unfused(mx.minimum, a, beta), beta)


# Huber / Smooth L1 gradients: d/dinput as the difference, its clip and a
# scale (d/dtarget is its negation). ``s`` is the cotangent: an array of the
# loss's shape for 'none', a scalar (already divided by the count for
# 'mean') otherwise.
#
# The gradients run in the input dtype, as torch's backward does, with the
# option constant in that dtype where it is exact there (else float32):
# float32 temporaries of a bfloat16 batch would double the backward's memory
# (under mx.grad / mx.value_and_grad every op is a pass of its own). In an
# outer mx.compile of the training step the difference and the scale fuse
# with their neighbours; the clip stays a loop of its own (``unfused``).
def _huber_grad(x: mx.array, y: mx.array, delta: mx.array, s: mx.array):
    # torch's -delta / d / delta branches as one branch-free clip.
    return unfused(mx.clip, x - y, -delta, delta) * s


def _smooth_l1_grad(x: mx.array, y: mx.array, beta: mx.array, s: mx.array):
    # torch's -1 / d / beta / 1 branches: clip(d, -beta, beta) / beta.
    return unfused(mx.clip, x - y, -beta, beta) * (s / beta)


def _smooth_l1_grad_inf_beta(x: mx.array, y: mx.array, beta: mx.array, s: mx.array):
    # beta = inf: torch's d / beta, but its |d| >= beta branch's sign at
    # d = +-inf (the clip form's inf / inf is NaN there)
    d = x - y
    return mx.where(mx.isinf(d), mx.sign(d), d / beta) * s


def _half_only(grad, dtype: mx.Dtype):
    """L1 / MSE: the hand-written backward for float16 / bfloat16 (it keeps
    the backward's temporaries half-size, a lower peak than autodiff's),
    autodiff otherwise (it reuses the forward's ``x - y``: one pass fewer)."""
    return grad if dtype in (mx.float16, mx.bfloat16) else None


def _grad_const(value: float, dtype: mx.Dtype) -> mx.array:
    """``value`` in ``dtype`` where it is exact there, else in float32."""
    return mx.array(value, dtype=dtype if exact_in(value, dtype) else acc_dtype(dtype))


def _fused(
    kernel: Callable[..., mx.array],
    grad: Optional[Callable[..., mx.array]],
    x: mx.array,
    y: mx.array,
    consts: Tuple[mx.array, ...],
    reduction: str,
    grad_consts: Optional[Tuple[mx.array, ...]] = None,
    *,
    group: Optional[mx.distributed.Group],
) -> mx.array:
    """``kernel(x, y, *consts)`` reduced by ``reduction`` (in the accumulation
    dtype), differentiated by ``grad(x, y, *grad_consts, s)`` (d/dinput;
    d/dtarget is its negation; ``grad_consts`` defaults to ``consts``): one
    backward pass over ``x`` and ``y`` in their dtype, with the scalar
    cotangent for 'mean' / 'sum' (see ``_reduction.reduce_with_vjp``).
    """
    if grad is None:  # plain autodiff
        return apply_reduction(kernel(x, y, *consts), reduction, group=group)
    gconsts = consts if grad_consts is None else grad_consts

    def forward(x: mx.array, y: mx.array) -> mx.array:
        return kernel(x, y, *consts)

    def backward(primals: Tuple[mx.array, ...], saved: Any, cotangent: mx.array):
        x, y = primals
        g = grad(x, y, *gconsts, cotangent.astype(promote_types(x.dtype, y.dtype)))
        gx = g.astype(x.dtype)
        return gx, (-gx if y.dtype == x.dtype else (-g).astype(y.dtype))

    return reduce_with_vjp(forward, backward, (x, y), reduction, group=group)


def _raw_pair(input: mx.array, target: mx.array, shape: tuple):
    """``input`` and ``target`` broadcast to ``shape`` (from ``check_pair``,
    which checks, warns and gives the output dtype), each kept in its own
    dtype (the kernels upcast inside their loop)."""
    x = input if input.shape == shape else mx.broadcast_to(input, shape)
    y = target if target.shape == shape else mx.broadcast_to(target, shape)
    return x, y


def _check_inputs(fn: str, input, target, weight=None):
    """torch's dtype rules for ``input`` and ``target`` of the regression
    losses, then :func:`check_pair`'s broadcast and warning: the broadcast
    shape and the promoted dtype of the two.

    torch promotes an integer or bool array with a floating one (an integer
    ``target`` for float predictions is common). Beyond that its kernels
    differ: ``l1_loss`` takes two integer arrays (an integer loss; no
    'mean') and complex ones (a real loss), never a bool (no bool
    subtraction, nor in ``mse_loss``'s weighted form); ``mse_loss`` and
    ``smooth_l1_loss`` need a floating array (or, for ``mse_loss``, a
    ``weight``); ``huber_loss`` needs a floating ``input`` (it writes into
    that dtype).
    """
    check_array(fn, "input", input)
    check_array(fn, "target", target)
    kinds = {}
    for name, a in (("input", input), ("target", target)):
        if a.dtype == mx.bool_:
            kinds[name] = "bool"
        elif mx.issubdtype(a.dtype, mx.integer):
            kinds[name] = "int"
        elif mx.issubdtype(a.dtype, mx.complexfloating):
            kinds[name] = "complex"
        else:
            kinds[name] = "float"

    def refuse(name: str, expected: str, why: str) -> TypeError:
        got = dtype_name((input if name == "input" else target).dtype)
        return TypeError(message(fn, name, expected, got + why))

    for name, kind in kinds.items():
        if kind == "complex" and fn != "l1_loss":
            raise refuse(name, "have a real dtype", f' ("{fn}" not implemented for complex)')
        if kind == "bool" and (fn == "l1_loss" or (fn == "mse_loss" and weight is not None)):
            raise refuse(name, "have a numeric dtype, not bool",
                         " (subtraction with a bool tensor is not supported)")
    if fn == "huber_loss" and kinds["input"] != "float":
        raise refuse("input", "have a floating dtype",
                     " (result type can't be cast to the desired output type)")
    both = f"{dtype_name(input.dtype)} and {dtype_name(target.dtype)}"
    real = [k for k in kinds.values() if k in ("float", "complex")]
    if not real and fn != "l1_loss" and not (fn == "mse_loss" and weight is not None):
        raise TypeError(message(fn, "input` and `target", "include a floating array",
                                f'{both} ("{fn}" not implemented for them)'))
    if "complex" in real and mx.float64 in (input.dtype, target.dtype):
        raise TypeError(message(fn, "input` and `target",
                                "not mix complex64 and float64 (MLX has no complex128)", both))
    return check_pair(fn, input, target, floating=False)


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


def _float_inputs(x: mx.array, y: mx.array, out: mx.Dtype):
    """An integer or bool array among ``x``, ``y`` cast to the floating
    ``out`` (torch's promotion); floating ones keep their dtype (the
    kernels upcast inside their loop)."""
    cast = lambda a: a if mx.issubdtype(a.dtype, mx.floating) else a.astype(out)  # noqa: E731
    return cast(x), cast(y)


def _integer_l1(
    fn: str, x: mx.array, y: mx.array, reduction: str, group: Optional[mx.distributed.Group]
) -> mx.array:
    """torch's L1 of two integer arrays: ``|x - y|`` in their (promoted)
    integer dtype, wrapping as torch's does; 'sum' in int64 (torch's sum of
    integers); no 'mean' (torch cannot average integers)."""
    if reduction == "mean":
        raise TypeError(
            message(fn, "input` and `target", "include a floating or complex array for "
                    "reduction='mean' (mean(): could not infer output dtype)",
                    f"{dtype_name(x.dtype)} arrays")
        )
    loss = mx.abs(x - y)
    if reduction == "none":
        return loss
    return apply_reduction(loss.astype(mx.int64), "sum", group=group)


def _reduced(
    fn: str,
    kernel: Callable[..., mx.array],
    grad: Optional[Callable[..., mx.array]],
    x: mx.array,
    y: mx.array,
    consts: Tuple[mx.array, ...],
    reduction: str,
    out_dtype: mx.Dtype,
    weight: Optional[mx.array],
    input: mx.array,
    *,
    mean_over_weights: bool,
    grad_consts: Optional[Tuple[mx.array, ...]] = None,
    group: Optional[mx.distributed.Group],
) -> mx.array:
    """The loss reduced, times its per-element ``weight`` if given; cast
    back once."""
    if weight is None:
        loss = _fused(kernel, grad, x, y, consts, reduction, grad_consts, group=group)
        return loss.astype(out_dtype)
    _check_weight(fn, weight, input)
    out_dtype = promote_types(out_dtype, weight.dtype)
    loss = _fused(kernel, grad, x, y, consts, "none", grad_consts, group=group)
    return weighted_reduction(loss, weight, reduction, mean_over_weights=mean_over_weights,
                              dtype=out_dtype, group=group)


@public_loss
def l1_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    weight: Optional[mx.array] = None,
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``.

    .. math::
        \ell_n = w_n \left| x_n - y_n \right|

    With ``weight``, ``'mean'`` is :math:`\sum_n w_n \ell_n / \sum_n w_n`.

    As in torch, an integer array is promoted with a floating one; two
    integer arrays give an integer loss (``'none'``, and ``'sum'`` in int64;
    no ``'mean'``); complex64 inputs give the real :math:`|x_n - y_n|`
    (float32) with torch's gradient :math:`g (x - y) / |x - y|`. Bool arrays
    are refused, as torch refuses to subtract them.

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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(*)`; Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input`` and ``target``
        (float32 for complex64 inputs).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import l1_loss
        >>> l1_loss(mx.array([1.0, 2.0]), mx.array([0.0, 4.0])).item()
        1.5
    """
    fn = "l1_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    shape, out = _check_inputs(fn, input, target, weight)
    x, y = _raw_pair(input, target, shape)
    x, y = x.astype(out), y.astype(out)  # the L1 / MSE kernels take one dtype
    if mx.issubdtype(out, mx.complexfloating):
        # |x - y| is real; MLX's autodiff of abs gives torch's gradient,
        # g (x - y) / |x - y| (0 where x == y).
        return _reduced(fn, _l1_elem, None, x, y, (), reduction, mx.float32, weight, input,
                        mean_over_weights=True, group=group)
    if mx.issubdtype(out, mx.integer) and weight is None:
        return _integer_l1(fn, x, y, reduction, group)
    return _reduced(fn, _l1_elem, _half_only(_l1_grad, out), x, y, (), reduction, out, weight,
                    input, mean_over_weights=True, group=group)


@public_loss
def mse_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    weight: Optional[mx.array] = None,
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``.

    .. math::
        \ell_n = w_n \left( x_n - y_n \right)^2

    With ``weight``, ``'mean'`` is :math:`\sum_n w_n \ell_n / \sum_n w_n`.

    As in torch, an integer or bool array is promoted with a floating one
    (two integer arrays only with ``weight``, torch's weighted formula).

    Args:
        input (array): Predictions, any shape.
        target (array): Targets, broadcastable to ``input``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        weight (array, optional): Per-element weights, same shape as
            ``input``. Default: ``None``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    shape, out = _check_inputs(fn, input, target, weight)
    x, y = _raw_pair(input, target, shape)
    if not mx.issubdtype(out, mx.floating) and weight is not None:
        out = weight.dtype  # two integer arrays: torch's weighted path
    x, y = x.astype(out), y.astype(out)
    kernel = _mse_elem if reduction == "none" or weight is not None else _mse_elem_reduced
    return _reduced(fn, kernel, _half_only(_mse_grad, out), x, y, (), reduction, out, weight, input,
                    mean_over_weights=True, group=group)


@public_loss
def smooth_l1_loss(
    input: mx.array,
    target: mx.array,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    beta: float = 1.0,
    *,
    group: Optional[mx.distributed.Group] = None,
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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    beta = check_number(fn, "beta", beta, min_value=0.0)
    shape, out = _check_inputs(fn, input, target)
    x, y = _raw_pair(input, target, shape)
    x, y = _float_inputs(x, y, out)
    if beta == 0.0:  # exactly the L1 loss, as in torch
        x, y = x.astype(out), y.astype(out)
        return _fused(_l1_elem, _half_only(_l1_grad, out), x, y, (), reduction,
                      group=group).astype(out)
    b = mx.array(beta, dtype=acc_dtype(out))
    grad = _smooth_l1_grad_inf_beta if math.isinf(beta) else _smooth_l1_grad
    return _fused(_smooth_l1, grad, x, y, (b,), reduction, (_grad_const(beta, out),),
                  group=group).astype(out)


@public_loss
def huber_loss(
    input: mx.array,
    target: mx.array,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: Optional[mx.array] = None,
    *,
    group: Optional[mx.distributed.Group] = None,
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
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

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
    delta = check_number(fn, "delta", delta, min_value=0.0, min_inclusive=False)
    shape, out = _check_inputs(fn, input, target)
    x, y = _raw_pair(input, target, shape)
    x, y = _float_inputs(x, y, out)
    d = mx.array(delta, dtype=acc_dtype(out))
    return _reduced(fn, _huber, _huber_grad, x, y, (d,), reduction, out, weight, input,
                    mean_over_weights=False, grad_consts=(_grad_const(delta, out),), group=group)
