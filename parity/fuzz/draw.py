"""Reusable Hypothesis strategies: dtypes, shapes, float values (with
special values, extremes and ties), class indices, option dictionaries.

Values are made as float64 (or int64) NumPy arrays; the runner rounds the
floating ones to the dtype under test and gives the same rounded numbers to
both sides. The "grid" values (multiples of 1/8 up to 4) are exact in every
float dtype, so ties built from them (x == y, |x - y| == beta, margins at
equality) survive the rounding to float16 and bfloat16.

Each example draws a *regime* once: ``plain`` (ordinary values),
``special`` (also NaN, +-inf, +-0) or ``extreme`` (also +-1e30, values near
the dtype's largest, subnormals). One regime per example keeps most examples
finite (a NaN anywhere makes a 'mean' NaN and hides the rest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = ("float64", "float32", "float16", "bfloat16")
REGIMES = ("plain", "plain", "special", "extreme")

INF, NAN = math.inf, math.nan

#: A sentinel for an option left at its default (not passed at all).
OMIT = type("OMIT", (), {"__repr__": lambda self: "OMIT"})()

# Smallest subnormals and largest finite values per dtype (float64 numbers).
_SUBNORMAL = {
    "float64": (5e-324, 1e-310),
    "float32": (1.401298464324817e-45, 1e-40),
    "float16": (2.0**-24, 3 * 2.0**-20),
    "bfloat16": (9.183549615799121e-41, 1e-39),
}
_MAX = {"float64": 1.7976931348623157e308, "float32": 3.4028234663852886e38,
        "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


@dataclass(frozen=True)
class Ctx:
    """What an input strategy needs to know: the dtype under test, the value
    regime, and whether the mode compiles (then shapes and option values come
    from small fixed sets: every new graph is a native kernel to build)."""

    dtype: str
    regime: str
    compiled: bool
    deep: bool = False
    oob: bool = False  # draw some out-of-range class indices

    @property
    def subnormals(self) -> Tuple[float, float]:
        return _SUBNORMAL[self.dtype]

    @property
    def max(self) -> float:
        return _MAX[self.dtype]


# --------------------------------------------------------------------------
# element strategies


def _grid(lo: int, hi: int, den: int = 8) -> st.SearchStrategy[float]:
    return st.integers(lo, hi).map(lambda k: k / den)


def _plain_real() -> st.SearchStrategy[float]:
    return st.one_of(_grid(-32, 32), st.floats(-4.0, 4.0, allow_nan=False, width=64))


def _special_real() -> st.SearchStrategy[float]:
    return st.sampled_from([NAN, INF, -INF, 0.0, -0.0])


def _extreme_real(ctx: Ctx) -> st.SearchStrategy[float]:
    s0, s1 = ctx.subnormals
    vals = [1e30, -1e30, 1e10, -1e10, 1e4, -1e4, s0, -s0, s1, -s1, 1e-30, -1e-30]
    if ctx.dtype in ("float16", "bfloat16"):
        # the largest half values: float32 intermediates hold them. (Near
        # float32's / float64's own maximum both frameworks overflow
        # intermediates in different places and no reference is exact.)
        vals += [ctx.max, -ctx.max / 2]
    return st.sampled_from(vals)


def elements(kind: str, ctx: Ctx) -> st.SearchStrategy[float]:
    """One element of an array of ``kind``:

    real      any real number
    positive  > 0 (variances, rates, class weights); specials add 0
    nonneg    >= 0
    weight    >= 0 and finite (class / element weights)
    logit     real, extremes bounded (CTC's logits)
    prob      in [0, 1]; specials add values outside it (torch rejects them)
    logprob   <= 0
    sign      +1 / -1; specials add 0, 2, 0.5 and NaN (torch's rule for "other")
    binary    0 / 1
    """
    reg = ctx.regime
    s0, s1 = ctx.subnormals
    if kind == "real":
        base = _plain_real()
        if reg == "special":
            return st.one_of(base, base, _special_real())
        if reg == "extreme":
            return st.one_of(base, base, _extreme_real(ctx))
        return base
    if kind == "weight":
        # weights: >= 0 and finite (an inf/NaN weight is garbage in, and
        # torch's and our NaN patterns from it are both arbitrary)
        base = st.one_of(_grid(0, 32), st.floats(0.05, 4.0, width=64))
        if reg == "extreme":
            return st.one_of(base, base, st.sampled_from([1e30, 1e10, 1e-30, s0, s1]))
        return base
    if kind == "logit":
        # logits of a log_softmax (CTC): extremes up to +-100 only. Beyond,
        # the alignment recursion differences log-probabilities of the
        # loss's own magnitude (1e30 and up): torch's float64 result is
        # rounding noise there, no reference.
        base = _plain_real()
        if reg == "special":
            return st.one_of(base, base, _special_real())
        if reg == "extreme":
            return st.one_of(base, base, st.sampled_from([30.0, -30.0, 100.0, -100.0, s0, -s0]))
        return base
    if kind in ("positive", "nonneg"):
        base = st.one_of(_grid(1, 32), st.floats(0.05, 4.0, width=64))
        if kind == "nonneg":
            base = st.one_of(base, st.just(0.0))
        if reg == "special":
            return st.one_of(base, base, st.sampled_from([0.0, INF, NAN]))
        if reg == "extreme":
            return st.one_of(base, base, st.sampled_from([1e30, 1e10, 1e-30, s0, s1, ctx.max]))
        return base
    if kind == "prob":
        base = st.one_of(_grid(0, 16, 16), st.floats(0.0, 1.0, width=64))
        if reg == "special":
            return st.one_of(base, base, st.sampled_from([0.0, 1.0, NAN, 1.5, -0.5, INF]))
        if reg == "extreme":
            return st.one_of(base, base, st.sampled_from([0.0, 1.0, s0, s1, 1e-30, 1 - 2.0**-11,
                                                          1 - 2.0**-24, 2.0**-11]))
        return base
    if kind == "logprob":
        return elements("real", ctx).map(lambda v: -abs(v) if not math.isnan(v) else v)
    if kind == "sign":
        base = st.sampled_from([1.0, -1.0])
        if reg == "special":
            return st.one_of(base, base, st.sampled_from([0.0, 2.0, 0.5, NAN]))
        return base
    if kind == "binary":
        base = st.sampled_from([0.0, 1.0])
        if reg == "special":
            return st.one_of(base, base, st.sampled_from([0.5, NAN]))
        return base
    raise ValueError(f"unknown element kind {kind!r}")


def floats(draw, shape: Sequence[int], kind: str, ctx: Ctx) -> np.ndarray:
    """A float64 array of ``shape`` whose elements are of ``kind``."""
    return draw(hnp.arrays(np.float64, tuple(shape), elements=elements(kind, ctx),
                           fill=st.nothing()))


def tie(draw, x: np.ndarray, y: np.ndarray, offsets: Sequence[float]) -> np.ndarray:
    """``x`` with some elements moved to exactly ``y + o`` for an ``o`` in
    ``offsets`` (x == y, |x - y| == beta, ...). ``y`` broadcasts to ``x``."""
    if x.size == 0 or not offsets:
        return x
    try:
        yb = np.broadcast_to(y, x.shape)
    except ValueError:
        return x
    if not draw(st.booleans()):
        return x
    mask = draw(hnp.arrays(np.bool_, x.shape, elements=st.booleans(), fill=st.nothing()))
    off = draw(hnp.arrays(np.float64, x.shape, elements=st.sampled_from(list(offsets)),
                          fill=st.nothing()))
    return np.where(mask, yb + off, x)


# --------------------------------------------------------------------------
# shapes

SIZES = (0, 1, 2, 3, 4)
# Compiled modes: a few shapes only (each new graph is a native kernel).
FIXED_SIZES = (1, 3)


def size(draw, ctx: Ctx, sizes: Sequence[int] = SIZES, fixed: Sequence[int] = FIXED_SIZES) -> int:
    return draw(st.sampled_from(tuple(fixed) if ctx.compiled else tuple(sizes)))


def shape(draw, ctx: Ctx, min_dims: int = 0, max_dims: int = 3,
          sizes: Sequence[int] = SIZES) -> Tuple[int, ...]:
    if ctx.compiled:
        return draw(st.sampled_from([s for s in ((), (3,), (2, 3), (2, 1, 3))
                                     if min_dims <= len(s) <= max_dims]))
    nd = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.sampled_from(tuple(sizes))) for _ in range(nd))


def broadcast_partner(draw, base: Tuple[int, ...], ctx: Ctx, same: float = 0.6,
                      allow_bad: bool = True) -> Tuple[int, ...]:
    """A shape to pair with ``base``: the same (most often), a broadcast
    variant (leading dims dropped, dims set to 1, a leading dim added), or
    (rarely, outside compiled modes) one that does not broadcast."""
    choices = ["same", "same", "same", "drop", "ones", "grow"]
    if allow_bad and not ctx.compiled:
        choices.append("bad")
    how = draw(st.sampled_from(choices))
    if how == "same" or not base and how in ("drop", "ones"):
        return base
    if how == "drop":
        k = draw(st.integers(1, len(base)))
        return base[k:]
    if how == "ones":
        mask = [draw(st.booleans()) for _ in base]
        return tuple(1 if m else s for m, s in zip(mask, base))
    if how == "grow":
        return (draw(st.sampled_from((1, 2))),) + base
    # "bad": a dim that neither matches nor is 1
    if not base:
        return (2,)
    i = draw(st.integers(0, len(base) - 1))
    return base[:i] + (base[i] + 2,) + base[i + 1:]


# --------------------------------------------------------------------------
# class indices


def indices(draw, shape: Sequence[int], C: int, *, ignore: Optional[int] = None,
            oob: bool = False, dtype: str = "int64") -> np.ndarray:
    """Class indices in [0, C); with ``ignore`` some are that value; with
    ``oob`` some are out of range (negative, C, far above)."""
    shape = tuple(shape)
    vals = [st.integers(0, max(C - 1, 0))] if C > 0 else []
    if ignore is not None:
        vals.append(st.just(ignore))
    if oob:
        big = 2**31 - 1 if dtype in ("int32", "int64") else 255
        vals.append(st.sampled_from([-1, -2, C, C + 1, big] if dtype != "uint8"
                                    else [C, C + 1, big]))
    if not vals:
        vals = [st.just(0)]
    arr = draw(hnp.arrays(np.int64, shape, elements=st.one_of(*vals), fill=st.nothing()))
    return arr.astype(dtype)


def index_dtype(draw, ctx: Ctx) -> str:
    """int64 mostly (torch's), sometimes int32 (MLX's default integer)."""
    return draw(st.sampled_from(("int64", "int64", "int64", "int32")))


# --------------------------------------------------------------------------
# options


def one(values: Sequence[Any], compiled_values: Optional[Sequence[Any]] = None) -> Callable:
    """An option drawn from ``values`` (``compiled_values`` under compile)."""

    def pick(draw, ctx: Ctx):
        vals = compiled_values if ctx.compiled and compiled_values is not None else values
        return draw(st.sampled_from(tuple(vals)))

    return pick


REDUCTIONS = ("none", "mean", "sum")
# torch's deprecated pairs (and None / None: the default)
LEGACY = ((False, None), (None, False), (True, True), (False, True), (True, False),
          (True, None), (None, True))


def reduction(legacy: bool = True, extra: Sequence[str] = ()) -> Callable:
    """``{'reduction': r}`` (sometimes omitted: the default 'mean'), or with
    ``legacy`` sometimes torch's ``size_average`` / ``reduce`` pair (then
    torch ignores ``reduction``)."""

    def pick(draw, ctx: Ctx) -> Dict[str, Any]:
        reds = REDUCTIONS + tuple(extra)
        how = draw(st.sampled_from(("red", "red", "red", "default") + (("legacy",) if legacy else ())))
        if how == "default":
            return {}
        if how == "red":
            return {"reduction": draw(st.sampled_from(reds))}
        sa, rd = draw(st.sampled_from(LEGACY))
        out: Dict[str, Any] = {}
        if sa is not None:
            out["size_average"] = sa
        if rd is not None:
            out["reduce"] = rd
        if draw(st.booleans()):
            out["reduction"] = draw(st.sampled_from(reds))
        return out

    return pick


def options(draw, ctx: Ctx, spec: Dict[str, Callable]) -> Dict[str, Any]:
    """Draw an option dict from ``spec``: name -> picker(draw, ctx) giving a
    value (``OMIT`` leaves it out); the name ``'*'``-prefixed pickers return
    whole dicts to merge (the reduction)."""
    out: Dict[str, Any] = {}
    for name, pick in spec.items():
        v = pick(draw, ctx)
        if name.startswith("*"):
            out.update(v)
        elif v is not OMIT:
            out[name] = numpy_scalar(draw, v)
    return out


def numpy_scalar(draw, v: Any) -> Any:
    """Sometimes a number option as a NumPy scalar (torch takes those; a
    data pipeline or a config file often hands them over)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or draw(st.integers(0, 5)):
        return v
    if isinstance(v, int):
        return np.int64(v)
    return draw(st.sampled_from((np.float64, np.float32)))(v)
