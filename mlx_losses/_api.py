"""The one decorator every public loss wears: :func:`public_loss`.

A public loss declares its keyword-only ``group`` itself and passes it to
its reduction call; the decorator keeps the signature (for ``help()``,
``inspect``, mypy and pyright) and adds, on every call, what no kernel
should carry:

* ``group`` checked: an ``mx.distributed.Group`` or None;
* a shapeless ``mx.compile`` refused, however the loss is called
  (:func:`refuse_shapeless`);
* an empty input swapped for a fresh MLX array (:func:`fresh_empty`), the
  workaround for MLX 0.32's hang on empty arrays from NumPy.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, Optional, ParamSpec, Sequence, Tuple, TypeVar

import mlx.core as mx

from ._validation import message

__all__ = ["public_loss", "check_group", "guard_call", "refuse_shapeless", "fresh_empty"]

P = ParamSpec("P")
R = TypeVar("R")


def check_group(fn: str, group: Any) -> Optional[mx.distributed.Group]:
    """``group`` as given: an ``mx.distributed.Group`` or None."""
    if group is not None and not isinstance(group, mx.distributed.Group):
        raise TypeError(
            message(fn, "group", "be an mx.distributed.Group or None", type(group).__name__)
        )
    return group


_ZERO = mx.array(0.0)


def _shapeless_trace(arrays: Sequence[mx.array]) -> bool:
    """Whether ``arrays`` are being traced by a shapeless ``mx.compile`` (or
    ``mx.export_function(..., shapeless=True)``).

    In a shapeless trace MLX's ``broadcast_arrays`` (since 0.22) ties every
    output to all of its inputs (so that the shapes can be inferred again),
    elsewhere it returns an input of the full shape as it is. So the 0-d
    constant comes back untouched (and evaluating it is free) unless the
    trace is shapeless and an input is traced: then evaluating it reads a
    tracer, which raises MLX's ``[eval]`` error. Nothing here is computed in
    any other case (the sums are never evaluated). An empty input is
    multiplied by 0 first: a sum of an empty array from NumPy is what MLX
    0.32 can hang on (see :func:`fresh_empty`), a fresh product never did.
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


def refuse_shapeless(fn: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
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


def fresh_empty(a: Any) -> Any:
    """An empty array as a fresh ``mx.zeros`` of its shape and dtype.

    In MLX 0.32 an empty array converted from NumPy (``mx.array(np.zeros((3,
    0)))``, as a data loader's empty last batch gives) can make a CPU
    reduction over it read a stale layout and loop forever: ``mx.sum(x,
    axis=-1)`` hung in about half of 3,000-call runs, ``mx.sum(x[..., :0])``
    too. The same shapes made by MLX never did. An empty array holds no
    values, so the swap loses nothing (its gradient is empty either way).
    """
    return mx.zeros(a.shape, dtype=a.dtype) if _is_empty(a) else a


def guard_call(
    fn: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]
) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """The arguments of one call of the loss ``fn``, checked: a shapeless
    compile refused, empty inputs swapped for fresh ones."""
    refuse_shapeless(fn, args, kwargs)
    if any(map(_is_empty, args)) or any(map(_is_empty, kwargs.values())):
        return tuple(map(fresh_empty, args)), {k: fresh_empty(v) for k, v in kwargs.items()}
    return args, kwargs


def public_loss(fn: Callable[P, R]) -> Callable[P, R]:
    """Make ``fn`` a public loss: the same signature, which must take a
    keyword-only ``group=None`` (or a required keyword-only ``group``, where
    the group is the layout of the loss's data), with the checks above on
    every call.

    ``fn`` passes ``group`` to its reduction itself: nothing here sets it
    aside for the kernel.
    """
    name = fn.__name__
    param = inspect.signature(fn).parameters.get("group")
    if (
        param is None
        or param.kind is not param.KEYWORD_ONLY
        or param.default not in (None, param.empty)
    ):
        raise TypeError(f"public_loss: {name} must take a keyword-only `group=None`.")

    @functools.wraps(fn)
    def loss(*args: P.args, **kwargs: P.kwargs) -> R:
        checked, options = guard_call(name, args, kwargs)
        check_group(name, options.get("group"))
        return fn(*checked, **options)

    return loss
