"""The keyword-only ``group=`` of every loss (data-parallel global reductions),
and the guard that makes a shapeless compile of a loss raise (``_no_shapeless``).

A loss's kernel never sees ``group``: the public function (and the Module)
set it as the current reduction group, and the reduction helpers in
``_reduction.py`` (``apply_reduction``, ``weighted_mean``, ``batchmean``,
``length_normalized_mean``) read it. So every reduction of every loss is
global over the group's ranks, from one place.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import mlx.core as mx

from ._reduction import reduction_group
from ._validation import message

__all__ = ["check_group", "signature_with_group", "with_group", "GROUP_DOC"]

GROUP_DOC = """
    Distributed:
        group (mx.distributed.Group, optional, keyword-only): reduce over every
            rank of ``group``: ``'mean'`` (and the weighted / batch / length
            means) and ``'sum'`` become the value one process computes on the
            concatenated batch, and each rank's gradient is that of the global
            loss w.r.t. its local inputs (sum, don't average, the ranks'
            gradients). ``'none'`` ignores it. Default: ``None``.
"""


def check_group(fn: str, group: Any) -> None:
    if group is not None and not isinstance(group, mx.distributed.Group):
        raise TypeError(
            message(fn, "group", "be an mx.distributed.Group or None", type(group).__name__)
        )


def signature_with_group(fn: Callable) -> inspect.Signature:
    """``fn``'s signature with a keyword-only ``group=None`` added (before a
    ``**kwargs``, if any), so ``help()`` and ``inspect`` show it."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    new = inspect.Parameter("group", inspect.Parameter.KEYWORD_ONLY, default=None)
    if params and params[-1].kind == inspect.Parameter.VAR_KEYWORD:
        params.insert(len(params) - 1, new)
    else:
        params.append(new)
    return sig.replace(parameters=params)


def _no_shapeless(out: mx.array, args: tuple) -> mx.array:
    """``out`` minus 0 taken from an empty slice of the first array input.

    A loss computes Python numbers from its input shapes (the 'mean' count,
    a blocked sum's layout); ``mx.compile(..., shapeless=True)`` would bake
    them into a graph it then reuses for other shapes: a wrong number, with
    no error (l1_loss's mean divided by the first call's count, in tests).
    MLX 0.32 cannot infer a slice's output shape in a shapeless graph, so
    this slice makes every shapeless compile of a loss raise instead. Exact
    (``x - (+0.0)`` keeps -0.0, inf and NaN), no gradient path; four graph
    nodes, a few us per eager call (interleaved medians with and without it
    were within noise at 64 x 10 and at 2M elements; nothing to speak of
    inside a compiled step). The most it was seen to cost: 20-30 us of an
    eager forward+backward of nll_loss at 2097 x 1000 (354 -> 384 us
    float32, 221 -> 241 us bfloat16; interleaved medians of 31).
    ``mx.depends`` would be one node, but it has no vmap rule.

    Only a non-empty input carries it: an empty batch has no number worth
    guarding, and the sum of a slice of an empty array is where MLX 0.32 can
    hang (see ``_fresh_empty``; the parity suite hung on
    ``soft_margin_loss``'s empty case).
    """
    for a in args:
        if isinstance(a, mx.array) and a.ndim > 0 and a.size > 0:
            zero = mx.sum(mx.stop_gradient(a)[..., :0])
            return out - zero.astype(out.dtype)
    return out


def _is_empty(a: Any) -> bool:
    return isinstance(a, mx.array) and a.size == 0


def _fresh_empty(a: Any) -> Any:
    """An empty array as a fresh ``mx.zeros`` of its shape and dtype.

    In MLX 0.32 an empty array converted from NumPy (``mx.array(np.zeros((3,
    0)))``, as a data loader's empty last batch gives) can make a CPU
    reduction over it read a stale layout and loop forever: ``mx.sum(x,
    axis=-1)`` hung in about half of 3,000-call runs, ``mx.sum(x[..., :0])``
    too. The same shapes made by MLX never did. An empty array holds no
    values, so the swap loses nothing (its gradient is empty either way).
    """
    return mx.zeros(a.shape, dtype=a.dtype) if _is_empty(a) else a


def with_group(fn: Callable) -> Callable:
    """``fn`` with a keyword-only ``group=None`` that sets the reduction
    group, guarded against shapeless compiles (``_no_shapeless``) and
    against MLX's hang on empty arrays from NumPy (``_fresh_empty``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, group: Any = None, **kwargs: Any) -> Any:
        if any(map(_is_empty, args)) or any(map(_is_empty, kwargs.values())):
            args = tuple(map(_fresh_empty, args))
            kwargs = {k: _fresh_empty(v) for k, v in kwargs.items()}
        if group is None:
            return _no_shapeless(fn(*args, **kwargs), args)
        check_group(fn.__name__, group)
        with reduction_group(group):
            return _no_shapeless(fn(*args, **kwargs), args)

    wrapper.__signature__ = signature_with_group(fn)  # type: ignore[attr-defined]
    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + GROUP_DOC
    return wrapper
