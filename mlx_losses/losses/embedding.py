"""Embedding losses: cosine embedding, triplet margin (with a distance function),
and their helpers ``pairwise_distance`` and ``cosine_similarity``.

The helpers reproduce torch's forward *and* its gradient at the places where
a plain formula has none: a norm of a zero vector (torch's norm backward
masks it to 0), a zero element under a fractional or negative ``p``, and the
``max(||x||, eps)`` of ``cosine_similarity``, whose clamp torch applies
outside autograd. Hinges are torch's ``clamp_min(z, 0)``: gradient 1 at the
tie ``z == 0``, 0 at a NaN.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Optional, ParamSpec, Tuple, TypeVar, cast

import mlx.core as mx

from .._dtypes import acc_dtype, promote_types, result_dtype, upcast
from .._api import guard_call, public_loss
from .._reduction import apply_reduction, single
from .._validation import (
    Reduction,
    ShapeError,
    broadcast_shapes,
    check_array,
    check_bool,
    check_floating,
    check_number,
    dtype_name,
    fmt_shape,
    message,
    resolve_reduction,
)

__all__ = [
    "pairwise_distance",
    "cosine_similarity",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

# torch's EPSILON in ``cosine_embedding_loss`` (ATen Loss.cpp), added to each
# squared magnitude before the square root. It is a C++ float there: 1e-12
# rounded to float32 (9.99999996e-13), which float64 results (the gradient
# at a zero vector scales with EPSILON^-1/2) show.
_COS_EMBED_EPS = 9.999999960041972e-13


class DimensionError(ShapeError, IndexError):
    """A ``dim`` out of range: torch raises ``IndexError`` here."""


# --------------------------------------------------------------------------
# kernels


def _hinge(z: mx.array) -> mx.array:
    # torch's clamp_min(z, 0): NaN stays NaN, and the gradient is 1 where
    # z >= 0 (at the tie too) and 0 elsewhere, NaN included: MLX's maximum
    # with 0 first (its VJP to z is masked by 0 <= z).
    return mx.maximum(0, z)


def _l2_norm(d: mx.array, axis: int, keepdims: bool) -> mx.array:
    """||d||_2 over ``axis`` with torch's gradient: 0 where the norm is 0."""
    if d.shape[axis] == 1:
        return _norm_fn(2.0, axis, keepdims)(d)
    s = mx.sum(d * d, axis=axis, keepdims=keepdims)
    zero = s == 0
    # sqrt only sees positive (or NaN/inf) values, so its gradient is finite.
    return mx.where(zero, mx.zeros_like(s), mx.sqrt(mx.where(zero, mx.ones_like(s), s)))


@functools.lru_cache(maxsize=None)
def _norm_fn(p: float, axis: int, keepdims: bool):
    """torch's ``linalg.vector_norm(d, p)`` over ``axis`` with torch's own
    backward formulas (``norm_backward``), as an ``mx.custom_function``.

    Over a dimension of one element torch's norm is ``|d|`` for every p (no
    power is taken: no overflow of ``d ** p``). For p = +-inf the gradient
    goes, split evenly, to the elements equal to the norm, and a NaN element
    takes a share (and gives 0): MLX's max gave NaN everywhere.
    """

    @mx.custom_function
    def norm(d):
        a = mx.abs(d)
        if d.shape[axis] == 1:
            return a if keepdims else mx.squeeze(a, axis)
        if p == math.inf:
            return mx.max(a, axis=axis, keepdims=keepdims)
        if p == -math.inf:
            return mx.min(a, axis=axis, keepdims=keepdims)
        if p == 1:
            return mx.sum(a, axis=axis, keepdims=keepdims)
        # |0|^p is 0 (p > 0) or inf (p < 0, and the norm inf^(1/p) = 0)
        return mx.power(mx.sum(mx.power(a, p), axis=axis, keepdims=keepdims), 1.0 / p)

    @norm.vjp
    def norm_vjp(primals, cotangents, outputs):
        d, g, n = single(primals), single(cotangents), single(outputs)
        if not keepdims:
            g, n = mx.expand_dims(g, axis), mx.expand_dims(n, axis)
        a = mx.abs(d)
        # (MLX's sign, as torch's sgn, is 0 at NaN)
        if p == 1:
            return mx.sign(d) * g
        if p == 2:
            return g * mx.where(n == 0, 0, d / n)
        if math.isinf(p):
            # torch's mask also holds the NaN elements of a NaN row, whose
            # sign is 0: every element of such a row gets 0, as here (no hit,
            # the count held at 1)
            hit = a == n
            count = mx.maximum(mx.sum(hit, axis=axis, keepdims=True), 1)
            return mx.sign(d) * ((g / count) * hit)
        if p < 1:
            scaled = mx.sign(d) * mx.where(d == 0, 0, mx.power(a, p - 1))
            return scaled * g * mx.power(n, 1 - p)
        scaled = mx.sign(d) * mx.power(a, p - 1) if p < 2 else d * mx.power(a, p - 2)
        return scaled * mx.where(n == 0, 0, g / mx.power(n, p - 1))

    return norm


def _p_norm(d: mx.array, p: float, axis: int, keepdims: bool) -> mx.array:
    """torch's ``linalg.vector_norm(d, p)`` over ``axis`` and its gradient."""
    if d.shape[axis] == 0:
        # torch's norm over an empty dim is 0 for every p it accepts (NaN
        # too); p < 0 and +-inf raise first (``_check_empty_norm``).
        return mx.sum(d, axis=axis, keepdims=keepdims)
    if p == 0:
        # The number of non-zero elements; torch's gradient is zero.
        nz = (d != 0).astype(d.dtype)
        return mx.stop_gradient(mx.sum(nz, axis=axis, keepdims=keepdims))
    if p == 2:
        return _l2_norm(d, axis, keepdims)
    if p == 1 and d.shape[axis] != 1:
        # (autodiff of |d|: sign(d) g, torch's sgn(d) g)
        return mx.sum(mx.abs(d), axis=axis, keepdims=keepdims)
    return _norm_fn(float(p), axis, keepdims)(d)


@mx.compile
def _l2_distance(x1: mx.array, x2: mx.array, eps: mx.array) -> mx.array:
    return _l2_norm(x1 - x2 + eps, -1, False)


def _distance(x1: mx.array, x2: mx.array, p: float, eps: float, keepdim: bool) -> mx.array:
    """``||x1 - x2 + eps||_p`` over the last dim, in the inputs' dtype."""
    if x1.ndim == 0 and x2.ndim == 0:
        # torch reduces a 0-d difference as a one-element vector.
        x1, x2 = x1.reshape(1), x2.reshape(1)
        keepdim = False
    if p == 2 and not keepdim:
        return _l2_distance(x1, x2, mx.array(eps, dtype=x1.dtype))
    return _p_norm(x1 - x2 + eps, p, -1, keepdim)


def _check_pair(fn: str, n1: str, x1, n2: str, x2) -> mx.Dtype:
    check_floating(fn, n1, x1)
    check_floating(fn, n2, x2)
    broadcast_shapes(fn, (n1, n2), x1, x2)
    return result_dtype(x1, x2)


def _check_p(fn: str, p) -> float:
    return float(check_number(fn, "p", p))


def _check_empty_norm(fn: str, p: float, shape: tuple) -> None:
    # torch: a p-norm over an empty dim needs an identity (none for p < 0,
    # the min of p = -inf, the max of p = inf)
    if len(shape) and shape[-1] == 0 and (p < 0 or math.isinf(p)):
        raise ValueError(
            message(fn, "p", "be finite and non-negative for an empty last dimension "
                    f"(no identity for the {p:g}-norm of zero elements)",
                    f"{p!r} with inputs of shape {fmt_shape(shape)}")
        )


def _check_margin_positive(fn: str, margin) -> float:
    margin = check_number(fn, "margin", margin)
    if margin <= 0:  # torch's test: NaN passes (and gives NaN)
        # torch: "margin must be greater than 0, got 0"
        raise ValueError(message(fn, "margin", "be greater than 0", repr(margin)))
    return margin


def _check_same_ndim(fn: str, anchor, positive, negative) -> None:
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise ShapeError(
            f"{fn}: `anchor`, `positive` and `negative` must have the same number of "
            f"dimensions (The anchor, positive, and negative tensors are expected to have "
            f"the same number of dimensions), got anchor {anchor.ndim}D "
            f"{fmt_shape(anchor.shape)}, positive {positive.ndim}D "
            f"{fmt_shape(positive.shape)}, and negative {negative.ndim}D "
            f"{fmt_shape(negative.shape)}."
        )


# --------------------------------------------------------------------------
# helpers


P = ParamSpec("P")
R = TypeVar("R")


def _helper(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` refusing a shapeless compile as every loss does (MLX 0.32
    crashes the process on these reductions in a shapeless graph met with
    broadcast inputs or a new rank), and guarded against MLX's hang on empty
    arrays from NumPy (``mlx_losses._api.guard_call``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        checked, options = guard_call(fn.__name__, args, kwargs)
        return fn(*checked, **options)

    return wrapper


@_helper
def pairwise_distance(
    x1: mx.array,
    x2: mx.array,
    p: float = 2.0,
    eps: float = 1e-6,
    keepdim: bool = False,
) -> mx.array:
    r"""The p-norm distance over the last dimension, as
    ``torch.nn.functional.pairwise_distance``.

    .. math::
        \operatorname{dist}(x_1, x_2) = \left\Vert x_1 - x_2 + \epsilon e \right\Vert_p

    where :math:`e` is the vector of ones (``eps`` is added to the
    difference, as in torch, so equal inputs are at distance
    :math:`\epsilon D^{1/p}` with a finite gradient). ``p`` may be any real:
    ``0`` counts the non-zero elements (zero gradient), ``inf`` / ``-inf``
    take the largest / smallest magnitude, fractional and negative ``p`` use
    :math:`(\sum_i |d_i|^p)^{1/p}`. Gradients equal torch's, including at a
    zero difference (0 where the norm's derivative is undefined).

    Args:
        x1 (array): First input, :math:`(N, D)` or :math:`(D)`.
        x2 (array): Second input, broadcastable with ``x1``.
        p (float, optional): The norm degree. Default: ``2.0``.
        eps (float, optional): Added to the difference. Default: ``1e-6``.
        keepdim (bool, optional): Keep the reduced last dimension with size 1.
            Default: ``False``.

    Shape:
        - Input1: :math:`(N, D)` or :math:`(D)`; Input2: broadcastable to it.
        - Output: :math:`(N)` or :math:`()`; :math:`(N, 1)` / :math:`(1)`
          with ``keepdim=True``.

    Returns:
        array: The distances, in the promoted dtype of ``x1`` and ``x2``
        (computed in float32 for float16 / bfloat16 inputs).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import pairwise_distance
        >>> x1, x2 = mx.array([[3.0, 0.0], [1.0, 1.0]]), mx.array([[0.0, 4.0], [1.0, 1.0]])
        >>> pairwise_distance(x1, x2, eps=0.0).tolist()
        [5.0, 0.0]
    """
    fn = "pairwise_distance"
    out = _check_pair(fn, "x1", x1, "x2", x2)
    p = _check_p(fn, p)
    _check_empty_norm(fn, p, broadcast_shapes(fn, ("x1", "x2"), x1, x2))
    eps = check_number(fn, "eps", eps)
    check_bool(fn, "keepdim", keepdim)
    return _distance(upcast(x1, out), upcast(x2, out), p, eps, keepdim).astype(out)


@_helper
def cosine_similarity(
    x1: mx.array, x2: mx.array, dim: int = 1, eps: float = 1e-8
) -> mx.array:
    r"""Cosine similarity along ``dim``, as ``torch.nn.functional.cosine_similarity``.

    .. math::
        \text{similarity} = \sum_d \frac{x_{1,d}}{\max(\Vert x_1 \Vert_2, \epsilon)}
            \cdot \frac{x_{2,d}}{\max(\Vert x_2 \Vert_2, \epsilon)}

    Each input is normalised separately (torch's current formula, which
    keeps the result in [-1, 1]). As in torch, the clamp by ``eps`` is not
    differentiated: the gradient is that of :math:`x / \Vert x \Vert` with
    the clamped value in the denominator, and the norm's gradient is 0 at a
    zero vector, so zero vectors get torch's finite gradients.

    Args:
        x1 (array): First input.
        x2 (array): Second input, broadcastable with ``x1``.
        dim (int, optional): The dimension of the broadcast shape along which
            the similarity is computed; it is removed. Default: ``1``.
        eps (float, optional): Lower bound of each norm. Default: ``1e-8``.

    Shape:
        - Input1: :math:`(*_1, D, *_2)`; Input2: broadcastable with Input1.
        - Output: :math:`(*_1, *_2)`.

    Returns:
        array: The similarities, in the promoted dtype of ``x1`` and ``x2``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import cosine_similarity
        >>> x1 = mx.array([[1.0, 0.0], [2.0, 2.0]])
        >>> x2 = mx.array([[0.0, 3.0], [1.0, 1.0]])
        >>> [round(v, 6) for v in cosine_similarity(x1, x2).tolist()]
        [0.0, 1.0]
    """
    fn = "cosine_similarity"
    out = _check_pair(fn, "x1", x1, "x2", x2)
    dim = check_number(fn, "dim", dim, integer=True)
    eps = check_number(fn, "eps", eps, min_value=0.0)  # torch: eps must be non-negative
    shape = broadcast_shapes(fn, ("x1", "x2"), x1, x2)
    ndim = max(len(shape), 1)
    if not -ndim <= dim < ndim:
        raise DimensionError(
            message(
                fn,
                "dim",
                f"be in [{-ndim}, {ndim - 1}] for the broadcast shape {fmt_shape(shape)}",
                f"{dim} (Dimension out of range)",
            )
        )
    a = mx.broadcast_to(upcast(x1, out), shape)
    b = mx.broadcast_to(upcast(x2, out), shape)
    if len(shape) == 0:
        a, b = a.reshape(1), b.reshape(1)
    return _cosine_similarity(a, b, dim % ndim, mx.array(eps, dtype=a.dtype)).astype(out)


def _clamped_norm(x: mx.array, axis: int, eps: mx.array) -> mx.array:
    # max(||x||, eps) in value; in gradient, that of ||x|| (torch clamps the
    # norm in place under no_grad).
    r = _l2_norm(x, axis, True)
    return mx.where(r < eps, (r - mx.stop_gradient(r)) + eps, r)


@mx.custom_function
def _divide(x: mx.array, c: mx.array) -> mx.array:
    """``x / c`` (same shapes) with torch's gradient w.r.t. ``c``,
    ``-g (x / c) / c``: MLX's ``-g x / (c c)`` underflows ``c c`` to 0 for
    a tiny norm ``c`` (|c| < ~1e-19 in float32) and gives inf or NaN."""
    return x / c


@_divide.vjp
def _divide_vjp(primals, cotangents, outputs):
    x, c = primals
    g, q = single(cotangents), single(outputs)
    return g / c, -(g * (q / c))


def _normalized(x: mx.array, axis: int, eps: mx.array) -> mx.array:
    c = _clamped_norm(x, axis, eps)
    return cast(mx.array, _divide(x, mx.broadcast_to(c, x.shape)))


def _cosine_similarity(a: mx.array, b: mx.array, axis: int, eps: mx.array) -> mx.array:
    return mx.sum(_normalized(a, axis, eps) * _normalized(b, axis, eps), axis=axis)


# --------------------------------------------------------------------------
# losses


def _check_target(fn: str, target) -> None:
    check_array(fn, "target", target)
    dt = target.dtype
    if not (
        mx.issubdtype(dt, mx.floating) or mx.issubdtype(dt, mx.integer) or dt == mx.bool_
    ):
        raise TypeError(
            message(fn, "target", "have a floating, integer or bool dtype", dtype_name(dt))
        )


def _compiled_unless_bfloat16(body: Callable) -> Callable:
    """``body`` compiled (one fused pass when no gradient is traced), except
    when its first argument is bfloat16: MLX's compiled CPU kernels convert
    bfloat16 element by element, slower than its eager ops."""
    compiled = mx.compile(body)

    def run(*args):
        return (body if args[0].dtype == mx.bfloat16 else compiled)(*args)

    return run


def _cos_terms(x1, x2, eps):
    # torch's ATen formula: prod / sqrt((|x1|^2 + EPS) (|x2|^2 + EPS)), in
    # float32 for half inputs: squares of small half values underflow (a
    # cosine above 1), and products of half values are exact in float32.
    a, b = upcast(x1, x1.dtype), upcast(x2, x2.dtype)
    prod = mx.sum(a * b, axis=-1)
    m1 = mx.sum(mx.square(a), axis=-1) + eps
    m2 = mx.sum(mx.square(b), axis=-1) + eps
    denom = mx.sqrt(m1 * m2)
    return prod / denom, denom, m1, m2


# Forward and backward written by hand (``mx.custom_function``): under an
# eager ``mx.grad`` autodiff's chain through the three row sums costs about
# ten full (N, D) passes; the gradient below is six (two products and a
# difference per input), with the row statistics (cos, denominator, squared
# magnitudes: (N,) each) returned by the forward as residuals. The (N, D)
# passes read the inputs in their dtype and compute in float32 for float16 /
# bfloat16 (rounded once, in the gradient too).
def _cosine_embedding_body(x1, x2, target, margin, eps):
    cos, denom, m1, m2 = _cos_terms(x1, x2, eps)
    zero = mx.zeros_like(cos)
    pos = mx.where(target == 1, 1 - cos, zero)
    neg = mx.where(target == -1, _hinge(cos - margin), zero)
    return pos + neg, cos, denom, m1, m2


_cosine_embedding_fwd = _compiled_unless_bfloat16(_cosine_embedding_body)


@mx.custom_function
def _cosine_embedding(x1, x2, target, margin, eps):
    return _cosine_embedding_fwd(x1, x2, target, margin, eps)


@_cosine_embedding.vjp
def _cosine_embedding_vjp(primals, cotangents, outputs):
    x1, x2, target, margin, eps = primals
    _, cos, denom, m1, m2 = outputs
    g = cotangents[0]
    # d loss / d cos: -1 where target == 1; where target == -1, 1 where
    # cos - margin >= 0 (torch's clamp_min passes the tie; NaN gives 0).
    zero = mx.zeros_like(cos)
    gc = mx.where(target == 1, -g, mx.where((target == -1) & (cos - margin >= 0), g, zero))
    # d cos / d x1 = x2 / denom - cos x1 / m1 (and symmetrically for x2),
    # the row factors in torch's order (through denom = sqrt(m1 m2)): the
    # same NaN where a squared magnitude overflows (inf * 0), not cos / inf.
    dt = x1.dtype
    s = mx.expand_dims(gc / denom, -1)
    half = (gc * (cos / denom)) / (2 * denom)
    k1 = mx.expand_dims(2 * (half * m2), -1)
    k2 = mx.expand_dims(2 * (half * m1), -1)
    a, b = upcast(x1, dt), upcast(x2, dt)
    return (
        (b * s - a * k1).astype(dt),
        (a * s - b * k2).astype(dt),
        mx.zeros_like(target),
        mx.zeros_like(margin),
        mx.zeros_like(eps),
    )


@public_loss
def cosine_embedding_loss(
    input1: mx.array,
    input2: mx.array,
    target: mx.array,
    margin: float = 0,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss``.

    .. math::
        \ell_n = \begin{cases}
            1 - \cos(x_{1,n}, x_{2,n}), & y_n = 1 \\
            \max(0, \cos(x_{1,n}, x_{2,n}) - \text{margin}), & y_n = -1
        \end{cases}
        \qquad
        \cos(x_1, x_2) = \frac{x_1 \cdot x_2}
            {\sqrt{(\Vert x_1 \Vert^2 + \epsilon)(\Vert x_2 \Vert^2 + \epsilon)}}

    with torch's :math:`\epsilon = 10^{-12}`, so a zero vector has cosine 0
    and a finite gradient. As in torch, a target that is neither 1 nor -1
    contributes 0 (and still counts in the mean).

    Args:
        input1 (array): :math:`(N, D)` or :math:`(D)`; floating.
        input2 (array): Same dimensions as ``input1`` (broadcastable).
        target (array): Labels 1 or -1: :math:`(N)` for 2-D inputs,
            :math:`()` for 1-D inputs (floating, integer or bool; not
            differentiated).
        margin (float, optional): Should lie in [-1, 1]; 0 to 0.5 is
            suggested. Default: ``0``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input1: :math:`(N, D)` or :math:`(D)`; Input2: same as Input1.
        - Target: :math:`(N)` or :math:`()`.
        - Output: scalar, or :math:`(N)` / :math:`()` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of ``input1`` and ``input2``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import cosine_embedding_loss
        >>> x1 = mx.array([[1.0, 0.0], [1.0, 1.0]])
        >>> x2 = mx.array([[0.0, 1.0], [2.0, 2.0]])
        >>> cosine_embedding_loss(x1, x2, mx.array([1, -1]), margin=0.5, reduction="none").tolist()
        [1.0, 0.5]
    """
    fn = "cosine_embedding_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    out = _check_pair(fn, "input1", input1, "input2", input2)
    _check_target(fn, target)
    margin = check_number(fn, "margin", margin)
    if target.ndim not in (0, 1):
        raise ShapeError(
            message(fn, "target", "be 0-D or 1-D (0D or 1D target tensor expected, "
                    "multi-target not supported)", f"{target.ndim}-D of shape {fmt_shape(target.shape)}")
        )
    want = 2 if target.ndim == 1 else 1
    if input1.ndim != want or input2.ndim != want:
        raise ShapeError(
            message(
                fn,
                "input1` and `input2",
                f"be {want}-D for a {target.ndim}-D target ({target.ndim}D target tensor "
                f"expects {want}D input tensors)",
                f"{fmt_shape(input1.shape)} and {fmt_shape(input2.shape)}",
            )
        )
    n = broadcast_shapes(fn, ("input1", "input2"), input1, input2)[:-1]
    broadcast_shapes(fn, ("cosine", "target"), mx.zeros(n), target)
    shape = broadcast_shapes(fn, ("input1", "input2"), input1, input2)
    # broadcast before the custom function: autodiff sums the gradient back
    x1 = mx.broadcast_to(input1.astype(out), shape)
    x2 = mx.broadcast_to(input2.astype(out), shape)
    acc = acc_dtype(out)
    loss, *_ = cast(Tuple[mx.array, ...], _cosine_embedding(
        x1,
        x2,
        target,
        mx.array(margin, dtype=acc),
        mx.array(_COS_EMBED_EPS, dtype=acc),
    ))
    return apply_reduction(loss, reduction, dtype=out, group=group)


@mx.custom_function
def _minimum(a: mx.array, b: mx.array) -> mx.array:
    """``torch.minimum(a, b)``, whose gradient torch splits in half at a tie
    (MLX's gives it all to one side); where either is NaN both get it."""
    return mx.minimum(a, b)


@_minimum.vjp
def _minimum_vjp(primals, cotangents, outputs):
    a, b = primals
    g = single(cotangents)
    # torch: where(a == b, g / 2, g), zeroed where a > b (for a; a < b for b)
    shared = mx.where(a == b, g / 2, g)
    zero = mx.zeros_like(shared)
    return mx.where(a > b, zero, shared), mx.where(a < b, zero, shared)


def _triplet_terms(
    dist_pos: mx.array, dist_neg: mx.array, dist_swap: Optional[mx.array], margin: float
) -> mx.array:
    if dist_swap is not None:
        dist_neg = cast(mx.array, _minimum(dist_neg, dist_swap))
    return _hinge(margin + dist_pos - dist_neg)


@public_loss
def triplet_margin_loss(
    anchor: mx.array,
    positive: mx.array,
    negative: mx.array,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Triplet margin loss, as ``torch.nn.functional.triplet_margin_loss``.

    .. math::
        \ell_n = \max\{d(a_n, p_n) - d(a_n, n_n) + \text{margin}, 0\},
        \qquad d(x, y) = \Vert x - y + \epsilon e \Vert_p

    (:func:`pairwise_distance` over the last dimension). With ``swap``,
    :math:`d(a_n, n_n)` is replaced by :math:`\min(d(a_n, n_n), d(p_n, n_n))`
    (Balntas et al., 2016). Gradients are torch's, also where
    ``anchor == positive`` and at the hinge (gradient 1 at a tie).

    Args:
        anchor (array): :math:`(N, D)` or :math:`(D)`; floating.
        positive (array): Same number of dimensions as ``anchor``
            (broadcastable).
        negative (array): Same number of dimensions as ``anchor``
            (broadcastable).
        margin (float, optional): Must be > 0. Default: ``1.0``.
        p (float, optional): The norm degree of the distance. Default: ``2``.
        eps (float, optional): Added to the differences. Default: ``1e-6``.
        swap (bool, optional): Use the distance swap. Default: ``False``.
        size_average (bool, optional): Deprecated (see ``reduction``).
        reduce (bool, optional): Deprecated (see ``reduction``).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(N, D)` or :math:`(D)` (more leading dimensions work
          as in torch).
        - Output: scalar, or :math:`(N)` / :math:`()` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of the three inputs.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import triplet_margin_loss
        >>> a, pos, neg = mx.array([[0.0, 0.0]]), mx.array([[3.0, 4.0]]), mx.array([[0.0, 1.0]])
        >>> triplet_margin_loss(a, pos, neg, eps=0.0).item()
        5.0
    """
    fn = "triplet_margin_loss"
    reduction = resolve_reduction(fn, reduction, size_average, reduce)
    margin = _check_margin_positive(fn, margin)
    p = _check_p(fn, p)
    eps = check_number(fn, "eps", eps)
    check_bool(fn, "swap", swap)
    for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_floating(fn, name, x)
    _check_same_ndim(fn, anchor, positive, negative)
    shape = broadcast_shapes(fn, ("anchor", "positive", "negative"), anchor, positive, negative)
    _check_empty_norm(fn, p, shape)
    out = result_dtype(anchor, positive, negative)
    if p == 2:
        acc = acc_dtype(out)
        a, pos, neg = anchor.astype(out), positive.astype(out), negative.astype(out)
        if swap:
            a, pos, neg = upcast(a, out), upcast(pos, out), upcast(neg, out)
        loss = _triplet_l2(a, pos, neg, mx.array(margin, acc), mx.array(eps, acc), bool(swap))
    else:
        a, pos, neg = upcast(anchor, out), upcast(positive, out), upcast(negative, out)
        dist_swap = _distance(pos, neg, p, eps, False) if swap else None
        loss = _triplet_terms(
            _distance(a, pos, p, eps, False), _distance(a, neg, p, eps, False), dist_swap, margin
        )
    return apply_reduction(loss, reduction, dtype=out, group=group)


@mx.compile
def _triplet_l2_swap(a, pos, neg, margin, eps):
    dist_neg = _minimum(_l2_norm(a - neg + eps, -1, False), _l2_norm(pos - neg + eps, -1, False))
    return _hinge(margin + _l2_norm(a - pos + eps, -1, False) - dist_neg)


# triplet loss, p = 2, no swap: forward and backward by hand
# (``mx.custom_function``). The backward is two products d * (c / ||d||) and
# a sum, where d = a - x + eps: four (N, D) passes (plus two to form each d
# again), against autodiff's chain through both norms and the sums.
# float32 / float64 / float16 inputs form d in float32 or wider, converting
# only the anchor (the subtraction promotes the other input, exactly), and
# the backward forms d again: keeping them costs more (two (N, D) float32
# arrays held, past MLX's small CPU buffer cache) than recomputing. bfloat16
# inputs keep d in bfloat16, rounded as torch's own x1 - x2 + eps; there
# keeping the two half-size d for the backward is faster than forming them
# again. Every norm sums its squares in float32.
def _triplet_diffs(a, pos, neg, eps):
    if a.dtype == mx.bfloat16:
        e = eps.astype(a.dtype)
        return (a - pos) + e, (a - neg) + e
    a32 = upcast(a, a.dtype)
    return (a32 - pos) + eps, (a32 - neg) + eps


def _row_norm(d: mx.array) -> mx.array:
    if d.shape[-1] == 1:
        # torch's norm of one element is |d| (no square to overflow)
        return mx.abs(upcast(d, d.dtype))[..., 0]
    return mx.sqrt(mx.sum(mx.square(upcast(d, d.dtype)), axis=-1))


def _triplet_l2_body(a, pos, neg, margin, eps):
    d1, d2 = _triplet_diffs(a, pos, neg, eps)
    n1, n2 = _row_norm(d1), _row_norm(d2)
    z = margin + n1 - n2
    saved = (d1, d2) if a.dtype == mx.bfloat16 else ()
    return (_hinge(z), n1, n2, z) + saved


_triplet_l2_fwd = _compiled_unless_bfloat16(_triplet_l2_body)


@mx.custom_function
def _triplet_l2_plain(a, pos, neg, margin, eps):
    return _triplet_l2_fwd(a, pos, neg, margin, eps)


@_triplet_l2_plain.vjp
def _triplet_l2_plain_vjp(primals, cotangents, outputs):
    a, pos, neg, margin, eps = primals
    n1, n2, z = outputs[1:4]
    g, g1, g2 = cotangents[:3]
    # clamp_min(z, 0) passes the tie (z == 0); NaN gives 0.
    c = mx.where(z >= 0, g, mx.zeros_like(g))
    zero = mx.zeros_like(n1)
    # d ||d|| / d d = d / ||d||, and 0 at a zero norm (torch's norm backward)
    k1 = mx.expand_dims(mx.where(n1 == 0, zero, (c + g1) / mx.where(n1 == 0, 1, n1)), -1)
    k2 = mx.expand_dims(mx.where(n2 == 0, zero, (g2 - c) / mx.where(n2 == 0, 1, n2)), -1)
    d1, d2 = outputs[4:] if len(outputs) > 4 else _triplet_diffs(a, pos, neg, eps)
    dt = a.dtype
    gp = (d1 * -k1.astype(d1.dtype)).astype(dt)
    gn = (d2 * -k2.astype(d2.dtype)).astype(dt)
    return -(gp + gn), gp, gn, mx.zeros_like(margin), mx.zeros_like(eps)


def _triplet_l2(a, pos, neg, margin, eps, swap: bool, fn: str = "triplet_margin_loss"):
    if a.ndim == 0:
        a, pos, neg = a.reshape(1), pos.reshape(1), neg.reshape(1)
    if swap:
        return _triplet_l2_swap(a, pos, neg, margin, eps)
    shape = broadcast_shapes(fn, ("anchor", "positive", "negative"), a, pos, neg)
    # broadcast before the custom function: autodiff sums the gradients back
    a, pos, neg = (mx.broadcast_to(v, shape) for v in (a, pos, neg))
    return cast(Tuple[mx.array, ...], _triplet_l2_plain(a, pos, neg, margin, eps))[0]


@public_loss
def triplet_margin_with_distance_loss(
    anchor: mx.array,
    positive: mx.array,
    negative: mx.array,
    *,
    distance_function: Optional[Callable[[mx.array, mx.array], mx.array]] = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: Reduction = "mean",
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Triplet margin loss with a custom distance, as
    ``torch.nn.functional.triplet_margin_with_distance_loss``.

    .. math::
        \ell_n = \max\{d(a_n, p_n) - d(a_n, n_n) + \text{margin}, 0\}

    where :math:`d` is ``distance_function`` (default
    :func:`pairwise_distance`). With ``swap``, :math:`d(a_n, n_n)` becomes
    :math:`\min(d(a_n, n_n), d(p_n, n_n))`. Options are keyword-only, as in
    torch.

    Args:
        anchor (array): :math:`(N, *)`; any shape ``distance_function``
            accepts.
        positive (array): Same number of dimensions as ``anchor``.
        negative (array): Same number of dimensions as ``anchor``.
        distance_function (callable, optional): Any MLX callable mapping two
            arrays to non-negative distances. Default: ``None``
            (:func:`pairwise_distance`).
        margin (float, optional): Must be > 0. Default: ``1.0``.
        swap (bool, optional): Use the distance swap. Default: ``False``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Input: :math:`(N, *)`.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Returns:
        array: The loss, in the dtype of the distances.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import triplet_margin_with_distance_loss
        >>> l_inf = lambda x, y: mx.max(mx.abs(x - y), axis=-1)
        >>> a, pos, neg = mx.array([[0.0, 0.0]]), mx.array([[1.0, 3.0]]), mx.array([[2.0, 0.0]])
        >>> triplet_margin_with_distance_loss(a, pos, neg, distance_function=l_inf, margin=0.5).item()
        1.5
    """
    fn = "triplet_margin_with_distance_loss"
    reduction = resolve_reduction(fn, reduction)
    margin = _check_margin_positive(fn, margin)
    if distance_function is not None and not callable(distance_function):
        raise TypeError(
            message(fn, "distance_function", "be callable or None",
                    f"{type(distance_function).__name__} ('{type(distance_function).__name__}' "
                    "object is not callable)")
        )
    for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_array(fn, name, x)
    _check_same_ndim(fn, anchor, positive, negative)
    if distance_function is None and not swap:
        # The default distance is pairwise_distance (p = 2, eps = 1e-6): the
        # same kernel as triplet_margin_loss, with pairwise_distance's checks.
        out = _check_pair("pairwise_distance", "x1", anchor, "x2", positive)
        out = promote_types(out, _check_pair("pairwise_distance", "x1", anchor, "x2", negative))
        acc = acc_dtype(out)
        a, pos, neg = anchor.astype(out), positive.astype(out), negative.astype(out)
        loss = _triplet_l2(a, pos, neg, mx.array(margin, acc), mx.array(1e-6, acc), False, fn)
        return apply_reduction(loss, reduction, dtype=out, group=group)
    dist = pairwise_distance if distance_function is None else distance_function
    dist_pos = dist(anchor, positive)
    dist_neg = dist(anchor, negative)
    dist_swap = dist(positive, negative) if swap else None
    for name, d in (("dist_pos", dist_pos), ("dist_neg", dist_neg), ("dist_swap", dist_swap)):
        if d is not None and not isinstance(d, mx.array):
            raise TypeError(
                message(fn, "distance_function", "return an mx.array", type(d).__name__)
            )
    arrays = [d for d in (dist_pos, dist_neg, dist_swap) if d is not None]
    out = result_dtype(*arrays)
    if not mx.issubdtype(out, mx.floating):
        raise TypeError(
            message(fn, "distance_function", "return floating distances", dtype_name(out))
        )
    up = [upcast(d, out) for d in arrays]
    loss = _triplet_terms(up[0], up[1], up[2] if swap else None, margin)
    return apply_reduction(loss, reduction, dtype=out, group=group)
