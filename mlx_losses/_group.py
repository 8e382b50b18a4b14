"""The keyword-only ``group=`` of every loss (data-parallel global reductions),
and the check that makes a shapeless compile of a loss raise (``_refuse_shapeless``).

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


_ZERO = mx.array(0.0)


def _shapeless_trace(arrays: list) -> bool:
    """Whether ``arrays`` are being traced by a shapeless ``mx.compile`` (or
    ``mx.export_function(..., shapeless=True)``).

    In a shapeless trace MLX's ``broadcast_arrays`` (since 0.22) ties every
    output to all of its inputs (so that the shapes can be inferred again),
    elsewhere it returns an input of the full shape as it is. So the 0-d constant comes
    back untouched (and evaluating it is free) unless the trace is
    shapeless and an input is traced: then evaluating it reads a tracer,
    which raises MLX's ``[eval]`` error. Nothing here is computed in any
    other case (the sums are never evaluated). An empty input is multiplied
    by 0 first: a sum of an empty array from NumPy is what MLX 0.32 can hang
    on (see ``_fresh_empty``), a fresh product never did.
    """
    if not arrays:
        return False
    scalars = [mx.sum(a) if a.size else mx.sum(a * 0) for a in arrays]
    probe = mx.broadcast_arrays(_ZERO, *scalars)[0]
    try:
        mx.eval(probe)
    except ValueError as err:
        if "[eval]" in str(err):
            return True
        raise
    return False


def _refuse_shapeless(fn: str, args: tuple, kwargs: dict) -> None:
    """Raise under a shapeless compile, however the loss is called.

    A loss computes Python numbers from its input shapes (the 'mean' count,
    a blocked sum's layout); ``mx.compile(..., shapeless=True)`` would bake
    them into a graph it then reuses for other shapes: a wrong number, with
    no error (l1_loss's mean divided by the first call's count, in tests).
    """
    arrays = [a for a in (*args, *kwargs.values()) if isinstance(a, mx.array)]
    if _shapeless_trace(arrays):
        raise ValueError(
            message(
                fn, "mx.compile", "not be shapeless around a loss (its value depends "
                "on the input shapes: compile with the default shapeless=False, which "
                "traces once per new shape)", "shapeless=True",
            )
        )


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
    group, refusing shapeless compiles (``_refuse_shapeless``) and guarded
    against MLX's hang on empty arrays from NumPy (``_fresh_empty``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, group: Any = None, **kwargs: Any) -> Any:
        _refuse_shapeless(fn.__name__, args, kwargs)
        if any(map(_is_empty, args)) or any(map(_is_empty, kwargs.values())):
            args = tuple(map(_fresh_empty, args))
            kwargs = {k: _fresh_empty(v) for k, v in kwargs.items()}
        if group is None:
            return fn(*args, **kwargs)
        check_group(fn.__name__, group)
        with reduction_group(group):
            return fn(*args, **kwargs)

    wrapper.__signature__ = signature_with_group(fn)  # type: ignore[attr-defined]
    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + GROUP_DOC
    return wrapper
