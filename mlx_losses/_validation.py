"""Input checks in three tiers, with one message form.

(a) options, in plain Python; (b) shapes, ndim and dtypes, which are safe
under ``mx.compile``; (c) values (class-index range, CTC lengths), which need
the data: they run in eager mode only and can be switched off with
:func:`set_value_checks` / :func:`value_checks`.  Under ``mx.compile`` or
``mx.vmap`` reading a value raises MLX's ``[eval]`` error; tier-(c) checks
detect that and skip themselves, so they never break a trace.

Every message reads ``fn: `arg` must be <expected>, got <what came>.``
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from types import FrameType
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Tuple, TypeVar, cast

import mlx.core as mx

from ._device import cpu_branches

try:  # optional: the value checks read the data through NumPy on the CPU
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by monkeypatching _np
    _np = None  # type: ignore[assignment]

__all__ = [
    "ShapeError",
    "Reduction",
    "KLReduction",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]


class ShapeError(ValueError, RuntimeError):
    """A shape that does not fit.

    Both a ``ValueError`` (our contract) and a ``RuntimeError`` (what torch
    raises for shapes), so ported ``except RuntimeError`` still catches it.
    """


class ValueCheckError(ValueError, RuntimeError):
    """A value that does not fit (class index out of range, bad length...).

    torch raises ``RuntimeError`` / ``IndexError`` for these; ours is a
    ``ValueError`` that is also a ``RuntimeError``.
    """


_state = threading.local()


def value_checks_enabled() -> bool:
    """Whether tier-(c) value checks (which read array values) run."""
    return getattr(_state, "enabled", True)


def set_value_checks(enabled: bool) -> None:
    """Switch tier-(c) value checks on or off for this thread.

    The checks (class indices in range, probabilities in [0, 1], CTC lengths
    that fit, ...) read values, so each costs a synchronisation with the
    device. They never run inside ``mx.compile``/``mx.vmap``. Turn them off
    for speed once your data pipeline is known to be right.
    """
    _state.enabled = bool(enabled)


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Context manager form of :func:`set_value_checks`."""
    old = value_checks_enabled()
    set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(old)


# --------------------------------------------------------------------------
# messages


def fmt_shape(shape: Sequence[int]) -> str:
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def message(fn: str, arg: str, expected: str, got: str) -> str:
    return f"{fn}: `{arg}` must {expected}, got {got}."


def dtype_name(dtype: Any) -> str:
    return str(dtype).replace("mlx.core.", "")


_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the first frame
    outside ``mlx_losses`` (the user's line), however many wrappers sit in
    between. Call it in the argument list of ``warnings.warn``."""
    frame: Optional[FrameType] = sys._getframe(1)  # the function that calls warnings.warn
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
        level += 1
    return level


# --------------------------------------------------------------------------
# tier (a): options


def check_option(fn: str, name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(
            message(fn, name, "be one of " + ", ".join(repr(a) for a in allowed), repr(value))
        )


# reduction: torch's option, and the deprecated pair that can set it

#: The reductions every loss takes (``kl_div`` adds ``'batchmean'``).
Reduction = Literal["none", "mean", "sum"]
KLReduction = Literal["none", "batchmean", "sum", "mean"]
REDUCTIONS: Tuple[Reduction, ...] = ("none", "mean", "sum")
KL_REDUCTIONS: Tuple[KLReduction, ...] = ("none", "batchmean", "sum", "mean")

_R = TypeVar("_R", bound=str)


def legacy_get_string(
    size_average: Optional[bool], reduce: Optional[bool], emit_warning: bool = True
) -> Reduction:
    """torch's mapping of the deprecated ``size_average``/``reduce`` pair."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    ret: Reduction
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(
            "size_average and reduce args will be deprecated, "
            f"please use reduction='{ret}' instead.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return ret


def resolve_reduction(
    fn: str,
    reduction: _R,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    *,
    allowed: Sequence[str] = REDUCTIONS,
) -> _R:
    """Validate ``reduction`` and map the legacy pair onto it, exactly once
    (the one check of every loss and Module).

    As in torch, either legacy argument given (not None) overrides
    ``reduction`` and warns.
    """
    if size_average is not None or reduce is not None:
        reduction = cast(_R, legacy_get_string(size_average, reduce))
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            message(
                fn,
                "reduction",
                "be one of " + ", ".join(repr(a) for a in allowed),
                f"{reduction!r}: {reduction} is not a valid value for reduction",
            )
        )
    return reduction


# one check per option that a loss and its Module share


def check_positive_margin(fn: str, margin: Any) -> float:
    """A ``margin`` that must be > 0 (the triplet losses). As torch's test,
    NaN passes (and gives NaN)."""
    margin = check_number(fn, "margin", margin)
    if margin <= 0:
        raise ValueError(message(fn, "margin", "be greater than 0", repr(margin)))
    return margin


def check_multi_margin_p(fn: str, p: Any) -> int:
    """``multi_margin_loss``'s ``p``: any number equal to 1 or 2, as torch's
    ``p != 1 and p != 2`` test (True, 2.0, a 0-d array, 1+0j pass)."""
    p = check_number(fn, "p", p, complex_ok=True)
    if p not in (1, 2):
        raise ValueError(message(fn, "p", "be 1 or 2", f"{p!r}: only p == 1 and p == 2 supported"))
    return int(p)


def _item(fn: str, name: str, value: mx.array) -> Any:
    """A 0-d array option's value as a Python number, as torch takes a 0-d
    Tensor where it takes a number (one host read, as torch's ``.item()``)."""
    try:
        return value.item()
    except ValueError as err:
        if not _is_tracing_error(err):
            raise
        raise TypeError(
            message(fn, name, "be a number or a 0-d mx.array that is not traced",
                    "an mx.array traced by mx.compile / mx.grad / mx.vmap; pass a Python number")
        ) from None


def _is_real_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) or (
        _np is not None and isinstance(value, (_np.integer, _np.floating, _np.bool_))
    )


def check_number(
    fn: str,
    name: str,
    value: Any,
    *,
    min_value: float | None = None,
    min_inclusive: bool = True,
    integer: bool = False,
    complex_ok: bool = False,
) -> Any:
    """A number option (margin, eps, beta, ignore_index...), as a Python number.

    Takes what torch takes for a number: Python and NumPy numbers (bools
    too, as 0 / 1), and a 0-d ``mx.array`` (read once, as torch's ``.item()``
    of a 0-d Tensor). ``integer``: torch's ``int`` arguments, which refuse
    bools and floats. ``complex_ok``: torch's ``Scalar`` arguments, which
    take a complex number with no imaginary part. A bound (``min_value``)
    refuses NaN, as torch's ``x >= 0`` checks do. Returns the value as a
    Python int or float (an ``int`` / ``float`` given is returned as is).
    """
    if isinstance(value, mx.array):
        if value.ndim != 0:
            kind = "an int" if integer else "a number"
            raise TypeError(message(fn, name, f"be {kind} or a 0-d mx.array",
                                    f"an mx.array of shape {fmt_shape(value.shape)}"))
        if integer and not mx.issubdtype(value.dtype, mx.integer):
            raise TypeError(message(fn, name, "be an int or a 0-d integer mx.array",
                                    f"a 0-d mx.array of dtype {dtype_name(value.dtype)}"))
        if value.dtype == mx.complex64 and not complex_ok:
            raise TypeError(message(fn, name, "be a real number", "a complex64 mx.array"))
        value = _item(fn, name, value)
    if complex_ok and (
        isinstance(value, complex) or (_np is not None and isinstance(value, _np.complexfloating))
    ):
        if value.imag != 0:
            raise ValueError(message(fn, name, "be a real number (no imaginary part)", repr(value)))
        value = value.real
    if integer:
        bad = isinstance(value, bool) or not (
            isinstance(value, int) or (_np is not None and isinstance(value, _np.integer))
        )
        if bad:
            got = repr(value) if isinstance(value, (bool, float)) else type(value).__name__
            raise TypeError(message(fn, name, "be an int", got))
        value = int(value)
    elif not _is_real_scalar(value):
        raise TypeError(message(fn, name, "be a number", type(value).__name__))
    elif type(value) not in (int, float):
        # NumPy scalars, bools (torch reads True as 1.0) and subclasses
        whole = isinstance(value, int) or (_np is not None and isinstance(value, _np.integer))
        value = int(value) if whole and not isinstance(value, bool) else float(value)
    if min_value is not None:
        ok = value >= min_value if min_inclusive else value > min_value  # NaN fails
        if not ok:
            op = ">=" if min_inclusive else ">"
            raise ValueError(message(fn, name, f"be {op} {min_value}", repr(value)))
    return value


def check_bool(fn: str, name: str, value: Any) -> bool:
    """A flag torch passes to its C++ kernel as a ``bool`` (``log_target``,
    ``swap``, ``zero_infinity``...): True or False only, as torch's argument
    parser (which refuses 0 / 1, NumPy bools and arrays)."""
    if value is not True and value is not False:
        kind = type(value)
        got = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        raise TypeError(message(fn, name, "be a bool", got))
    return value


def check_label_smoothing(fn: str, value: Any, *, module: bool = False) -> float:
    """``label_smoothing`` as the amount torch smooths by.

    torch's cross-entropy kernels smooth only when the value is > 0: a
    negative or NaN one is no smoothing (0.0 is returned); above 1 raises
    (torch's "label_smoothing must be between 0.0 and 1.0"). ``module``:
    torch's ``LinearCrossEntropyLoss`` constructor, which also refuses a
    negative value ("expected label_smoothing to be in range [0, 1]"; NaN
    passes it). The one check of cross_entropy, linear_cross_entropy and
    their Modules.
    """
    value = check_number(fn, "label_smoothing", value)
    if value > 1.0 or (module and value < 0.0):
        torch_text = (f"expected label_smoothing to be in range [0, 1], got {value}" if module
                      else f"label_smoothing must be between 0.0 and 1.0. Got: {value}")
        raise ValueError(message(fn, "label_smoothing", "be in [0, 1]", f"{value!r}: {torch_text}"))
    return float(value) if value > 0.0 else 0.0


# --------------------------------------------------------------------------
# tier (b): types, dtypes, shapes (safe under mx.compile)


def check_array(fn: str, name: str, x: Any) -> mx.array:
    if not isinstance(x, mx.array):
        raise TypeError(message(fn, name, "be an mx.array", type(x).__name__))
    return x


def check_floating(fn: str, name: str, x: Any) -> mx.array:
    check_array(fn, name, x)
    if not mx.issubdtype(x.dtype, mx.floating):
        raise TypeError(
            message(fn, name, "have a floating dtype", f"{dtype_name(x.dtype)}")
        )
    return x


def check_integer(fn: str, name: str, x: Any) -> mx.array:
    check_array(fn, name, x)
    if not mx.issubdtype(x.dtype, mx.integer):
        raise TypeError(
            message(fn, name, "have an integer dtype (class indices)", dtype_name(x.dtype))
        )
    return x


def check_class_input(fn: str, input: Any) -> mx.array:
    """Floating logits (or log-probabilities) with a class axis: 1 or more
    dimensions, ``(C)``, ``(N, C)`` or ``(N, C, d1, ...)``."""
    check_floating(fn, "input", input)
    if input.ndim == 0:
        raise ShapeError(
            message(fn, "input", "have 1 or more dimensions (C), (N, C) or (N, C, d1, ...)",
                    "a 0-D array")
        )
    return input


def check_ndim(fn: str, name: str, x: mx.array, allowed: Sequence[int] | str) -> None:
    ok = x.ndim in allowed if not isinstance(allowed, str) else True
    if not ok:
        want = " or ".join(str(a) for a in allowed)
        raise ShapeError(
            message(fn, name, f"be {want}-D", f"{x.ndim}-D of shape {fmt_shape(x.shape)}")
        )


def check_same_shape(fn: str, name: str, x: mx.array, ref_name: str, ref: mx.array) -> None:
    if tuple(x.shape) != tuple(ref.shape):
        raise ShapeError(
            message(
                fn,
                name,
                f"have the shape of `{ref_name}`, {fmt_shape(ref.shape)}",
                fmt_shape(x.shape),
            )
        )


def broadcast_shapes(fn: str, names: Sequence[str], *arrays: mx.array) -> tuple[int, ...]:
    """torch's broadcasting rule, with our message when it fails."""
    try:
        return tuple(mx.broadcast_shapes(*[a.shape for a in arrays]))
    except ValueError:
        shapes = ", ".join(f"`{n}` {fmt_shape(a.shape)}" for n, a in zip(names, arrays))
        raise ShapeError(
            f"{fn}: " + " and ".join(f"`{n}`" for n in names)
            + f" must be broadcastable to one shape, got {shapes}."
        ) from None


def check_class_axis(fn: str, axis: Any, input: mx.array, *, name: str = "axis") -> int:
    """The class (channel) axis ``axis`` of ``input`` as an index in [0, ndim).

    torch's layout puts the classes on axis 1 (the default of every loss with
    a class axis); MLX models are channels-last (NHWC), ``axis=-1``. Axis 0
    of a batched input is the batch and cannot hold the classes. A 1-D
    ``input`` is one unbatched sample, whose only axis holds the classes
    (``axis`` 1, 0 or -1 all name it).
    """
    axis = check_number(fn, name, axis, integer=True)
    ndim = input.ndim
    if ndim == 1 and axis in (1, 0, -1):
        return 0
    if ndim < 2 or not (-ndim < axis < ndim) or axis % ndim == 0:
        lo, hi = (1, ndim - 1) if ndim >= 2 else (0, 0)
        want = (
            f"name a class axis of `input` (shape {fmt_shape(input.shape)}): one of "
            f"{lo}..{hi} or {lo - ndim}..{hi - ndim} (axis 0 is the batch)"
            if ndim >= 2
            else f"name a class axis, but `input` is {ndim}-D"
        )
        raise ValueError(
            message(fn, name, want, f"{axis}: Dimension out of range or the batch axis")
        )
    return axis % ndim


# --------------------------------------------------------------------------
# tier (c): values, eager only


def _is_tracing_error(err: BaseException) -> bool:
    return "[eval]" in str(err)


def run_value_check(check: Callable[[], Any]) -> Any:
    """Run a check that reads values, unless switched off or under a trace.

    Returns what ``check`` returns, or None when it did not run."""
    if not value_checks_enabled():
        return None
    try:
        return check()
    except ValueError as err:
        if _is_tracing_error(err) and not isinstance(err, (ShapeError, ValueCheckError)):
            return None
        raise


# The values a check reads, through NumPy where MLX computes on the CPU: the
# buffer is host memory already, and NumPy's reductions are an order of
# magnitude faster than MLX's CPU ones there (figures in docs/performance.md).
# Elsewhere (Metal, CUDA), and without NumPy, the checks reduce with MLX and
# read back a few numbers.

_HALF_ONE_BITS = {mx.float16: 0x3C00, mx.bfloat16: 0x3F80}
_HALF_NEG_INF_BITS = {mx.float16: 0xFC00, mx.bfloat16: 0xFF80}
_NEG_ZERO_BITS = 0x8000


def _on_host() -> bool:
    """Whether the checks can read values through NumPy: it imports and MLX
    computes on the CPU (the buffers are host memory)."""
    return _np is not None and cpu_branches()


def host_arrays(*xs: mx.array):
    """The values of ``xs`` as NumPy arrays sharing their buffers (one
    ``mx.eval`` for all of them), or None.

    None off the CPU, without NumPy, or when one of ``xs`` is a
    half-precision float (NumPy has no bfloat16 and its float16 reductions
    are slow: see :func:`_host_half_bits`). Under a trace the eval raises
    MLX's ``[eval]`` error, as any value check's read does.
    """
    if not _on_host() or any(x.dtype in _HALF_ONE_BITS for x in xs):
        return None
    mx.eval(*xs)
    return [_np.asarray(x) for x in xs]


def _host(x: mx.array):
    """:func:`host_arrays` of one array: its NumPy view, or None."""
    views = host_arrays(x)
    return None if views is None else views[0]


def _host_half_bits(x: mx.array):
    """A half-precision ``x``'s bit patterns as a flat NumPy uint16 array
    sharing its buffer, or None (off the CPU, without NumPy, or when ``x``
    is not row-contiguous: a strided buffer cannot be reinterpreted)."""
    if not _on_host() or x.dtype not in _HALF_ONE_BITS:
        return None
    mx.eval(x)  # under a trace: MLX's [eval] ValueError (the buffer's is a RuntimeError)
    try:
        raw = memoryview(cast(Any, x)).cast("B")
    except TypeError:  # not C-contiguous
        return None
    return _np.frombuffer(raw, dtype=_np.uint16)


def _min_max(x: mx.array, ignore: int | None = None) -> tuple:
    """``(min, max)`` of an integer ``x`` as Python ints, entries equal to
    ``ignore`` counted as 0; from NumPy on the CPU, else one ``mx.eval``."""
    a = _host(x)
    if a is not None:
        if ignore is not None:
            a = _np.where(a == ignore, 0, a)
        return int(a.min()), int(a.max())
    if ignore is not None:
        x = mx.where(x == ignore, 0, x)
    lo = mx.min(x, keepdims=True)
    hi = mx.max(x, keepdims=True)
    mx.eval(lo, hi)
    return int(cast(int, lo.item())), int(cast(int, hi.item()))


def any_negative(x: mx.array) -> bool:
    """Whether a floating ``x`` has an entry < 0 (-0.0 and NaN are not)."""
    a = _host(x)
    if a is not None:
        lo = a.min()  # no full-size temporary; NaN if any entry is
        return bool(lo < 0) if lo == lo else bool((a < 0).any())
    bits = _host_half_bits(x)
    if bits is not None:
        # Patterns above -0.0's (0x8000) have the sign bit: -inf and the
        # negatives up to it, then the NaNs with the sign bit.
        if int(bits.max()) <= _NEG_ZERO_BITS:
            return False
        return bool(_np.any((bits > _NEG_ZERO_BITS) & (bits <= _HALF_NEG_INF_BITS[x.dtype])))
    if x.dtype in _HALF_ONE_BITS:
        return bool(mx.any(x < 0).item())
    lo = cast(float, mx.min(x, keepdims=True).item())  # MLX's min propagates NaN
    return lo < 0 or (lo != lo and bool(mx.any(x < 0).item()))


def in_unit_interval(x: mx.array) -> bool:
    """Every entry of a floating ``x`` in [0, 1] (-0.0 included, NaN not),
    as torch's BCE checks its input and target."""
    a = _host(x)
    if a is not None:
        return bool(a.min() >= 0) and bool(a.max() <= 1)  # NaN compares False
    bits = _host_half_bits(x)
    if bits is not None:
        # Sign bit clear and at most 1.0's pattern: [+0, 1]; NaN, +-inf and
        # every negative pattern lie above it. Only -0.0 (0x8000) is in
        # [0, 1] above it.
        one = _HALF_ONE_BITS[x.dtype]
        if int(bits.max()) <= one:
            return True
        return bool(_np.all((bits <= one) | (bits == _NEG_ZERO_BITS)))
    if x.dtype in _HALF_ONE_BITS:
        # MLX's CPU min / max of half types are slower than its comparisons
        return bool(mx.all((x >= 0) & (x <= 1)).item())
    lo, hi = mx.min(x, keepdims=True), mx.max(x, keepdims=True)
    mx.eval(lo, hi)
    return cast(float, lo.item()) >= 0 and cast(float, hi.item()) <= 1


def check_index_range(
    fn: str,
    name: str,
    target: mx.array,
    num_classes: int,
    *,
    ignore_index: int | None = None,
) -> bool:
    """Every class index (except ``ignore_index``) lies in [0, num_classes).

    Returns True when the check ran and found every index in range and none
    equal to ``ignore_index`` (a kernel may then skip its masks), else False.
    """

    def check() -> bool:
        if target.size == 0:
            return False
        # One min and max (NumPy on the CPU, else one eval); the ignore_index
        # masking runs only when the minimum or maximum could be an ignored
        # entry.
        lo_v, hi_v = _min_max(target)
        # ignore_index outside the raw [lo, hi]: no entry is ignored
        none_ignored = ignore_index is None or not lo_v <= ignore_index <= hi_v
        if ignore_index is not None and (lo_v == ignore_index or hi_v == ignore_index):
            lo_v, hi_v = _min_max(target, ignore=ignore_index)
        if lo_v < 0 or hi_v >= num_classes:
            bad = lo_v if lo_v < 0 else hi_v
            extra = f" (or {ignore_index}, the ignore_index)" if ignore_index is not None else ""
            raise ValueCheckError(
                message(
                    fn,
                    name,
                    f"hold class indices in [0, {num_classes}){extra}",
                    f"{bad}: Target {bad} is out of bounds",
                )
            )
        return none_ignored

    return bool(run_value_check(check))


def check_values_in(
    fn: str, name: str, x: mx.array, lo: float, hi: float, what: str
) -> None:
    """All values of ``x`` in [lo, hi] (NaN passes, as in torch)."""

    def check() -> None:
        if x.size == 0:
            return
        bad = mx.any((x < lo) | (x > hi))
        if bool(bad.item()):
            xmin, xmax = mx.min(x).item(), mx.max(x).item()
            raise ValueCheckError(
                message(fn, name, what, f"values in [{xmin:g}, {xmax:g}]")
            )

    run_value_check(check)


def class_index_layout(fn: str, input: mx.array, target: mx.array, cdim: int = 1,
                       name_axis: bool = False) -> Tuple[int, Tuple[int, ...]]:
    """Check a class-index target against ``input``; return (C, loss shape).

    Layouts (class axis ``cdim``, 1 as torch): ``(C)`` with target ``()`` or
    ``(1,)``; otherwise the target has ``input``'s shape without the class
    axis: ``(N,)`` for ``(N, C)``, ``(N, d1, ..., dK)`` for ``(N, C, d1,
    ..., dK)`` (or ``(N, d1, ..., dK, C)`` with ``cdim = -1``).
    ``name_axis``: the shape error names the class axis (losses that take
    an ``axis`` keyword for it).
    """
    if not mx.issubdtype(target.dtype, mx.integer):
        raise TypeError(
            message(
                fn,
                "target",
                "hold class indices (an integer dtype) or class probabilities "
                f"(a floating dtype and the shape of `input`, {fmt_shape(input.shape)})",
                f"{dtype_name(target.dtype)} of shape {fmt_shape(target.shape)}",
            )
        )
    if input.ndim == 1:
        C = input.shape[0]
        if target.ndim == 0 or tuple(target.shape) == (1,):
            return C, ()
        want = "()"
    else:
        C = input.shape[cdim]
        expected = tuple(input.shape[:cdim]) + tuple(input.shape[cdim + 1:])
        if tuple(target.shape) == expected:
            return C, expected
        want = fmt_shape(expected)
    axis_words = f" with the classes on axis {cdim}" if name_axis else ""
    raise ShapeError(
        message(
            fn,
            "target",
            f"have shape {want} for `input` of shape {fmt_shape(input.shape)}{axis_words}",
            fmt_shape(target.shape),
        )
    )
