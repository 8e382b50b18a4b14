"""Mismatches the fuzzer found that are not fixed yet.

Each entry names its finding in the team's findings file
(``/work/team/fuzz_findings.md``, ``F<n>``), the loss, the modes, and a
predicate over the example and the failure message that covers exactly
that region. A failing example an entry covers passes (the test notes it);
every other failure fails. When a fix lands, delete its entry: the fuzzer
then checks that region again (``pytest parity/test_fuzz.py -k <loss>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Open:
    finding: str  # "F3": the entry in the findings file
    losses: Tuple[str, ...]  # functional names
    modes: Tuple[str, ...]  # the modes it shows in, or ("*",)
    when: Callable[[Any, str, str], bool]  # (example, mode, message) -> covered
    what: str  # one line


# ---- helpers over an example (its args / kwargs hold Arr or plain values)

_MAX = {"float64": 1.7976931348623157e308, "float32": 3.4028234663852886e38,
        "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


def _vals(v) -> Optional[np.ndarray]:
    return None if getattr(v, "values", None) is None else np.asarray(v.values)


def _nonfinite(v, dtype: str = "float64") -> bool:
    """Whether ``v`` holds inf / NaN once rounded to ``dtype``."""
    a = _vals(v)
    if a is None or a.dtype.kind != "f" or getattr(v, "dtype", None) is not None:
        return False
    return bool((~np.isfinite(a)).any() or (np.abs(a) > _MAX[dtype]).any())


def _any_nonfinite(ex) -> bool:
    return any(_nonfinite(a, ex.dtype) for a in list(ex.args) + list(ex.kwargs.values()))


def _tiny_weight(ex) -> bool:
    """A nonzero weight near the computing dtype's underflow (float32 for
    half inputs): the cotangent times it rounds to 0."""
    w = _vals(ex.kwargs.get("weight"))
    if w is None or not w.size:
        return False
    tiny = np.finfo(np.float64 if ex.dtype == "float64" else np.float32).tiny
    a = np.abs(w.astype(np.float64))
    return bool(((a > 0) & (a < 1e3 * tiny)).any())


def _exp_overflows_float64(ex) -> bool:
    """An input beyond 709 in magnitude (finite in the dtype): torch's
    soft-margin backward exp(-y x) / (1 + exp(-y x)) is inf / inf there,
    in float64 too."""
    a = _vals(ex.args[0]) if ex.args else None
    if a is None or a.dtype.kind != "f":
        return False
    with np.errstate(all="ignore"):
        v = np.abs(a.astype(np.float64))
        return bool(((v > 709.0) & (v <= _MAX[ex.dtype])).any())


def _opt(ex, name: str, default: float = 0.0) -> float:
    v = ex.kwargs.get(name, default)
    return float(np.asarray(_vals(v) if _vals(v) is not None else v).reshape(-1)[0])


def _huge_weight(ex) -> bool:
    w = _vals(ex.kwargs.get("weight"))
    if w is None or not w.size:
        return False
    with np.errstate(all="ignore"):
        a = np.abs(w.astype(np.float64))
        return bool(((a >= 1e4) & np.isfinite(a)).any())


def _near_max(ex) -> bool:
    x = _vals(ex.args[0]) if ex.args else None
    if x is None or x.dtype.kind != "f":
        return False
    with np.errstate(all="ignore"):
        return bool((np.abs(x.astype(np.float64)) >= 1e37).any())


KNOWN_OPEN: Tuple[Open, ...] = (
    Open("F28", ("cross_entropy", "linear_cross_entropy"), ("*",),
         lambda ex, mode, m: _opt(ex, "label_smoothing") > 0 and _huge_weight(ex),
         "label smoothing with class weights of 1e10-1e30 (F22's family): output NaN where torch "
         "gives inf (float16), input gradient 2.7e12 where torch's is 0 (float64)"),
    Open("F31", ("cross_entropy",), ("*",),
         lambda ex, mode, m: _opt(ex, "label_smoothing") > 0 and "NaN/inf" in m and _near_max(ex),
         "bfloat16 logits near 3.4e38 with label smoothing: ours inf (the float32 sum of the "
         "logits overflows) where float64 torch is finite (7.5e37) and bfloat16 torch NaN"),
    Open("F29", ("linear_cross_entropy",), ("*",),
         lambda ex, mode, m: ("gradient" in m and (
             (_opt(ex, "label_smoothing") < 0 and "ours nan" in m) or _any_nonfinite(ex)))
         or (_opt(ex, "label_smoothing") < 0 and _any_nonfinite(ex) and "ours nan" in m)
         or ("gradient" in m and "ours nan" in m
             and ("torch float32 inf" in m or "torch float32 -inf" in m))
         or (_any_nonfinite(ex) and "output" in m and ("ours 0.0" in m or "ours nan" in m)),
         "gradients: negative label_smoothing (torch's LCE accepts it) with every target "
         "ignored, NaN where torch's is 0; a -inf in linear_weight, inf where torch's is NaN "
         "(F20's family); float32 gradients beyond float32's range: NaN where torch's are +-inf; with negative smoothing, an ignored row whose logits are NaN (a NaN "
         "bias) is NaN where torch's is 0; an ignored row of the chunked path whose logits meet an infinite head row (float16) is 0 where torch's is NaN, or NaN where torch's is 0"),
    Open("F32", ("triplet_margin_with_distance_loss",), ("*",),
         lambda ex, mode, m: ex.dtype in ("float16", "bfloat16")
         and (ex.kwargs.get("distance_function") is not None or ex.kwargs.get("swap") is True)
         and "element" in m,
         "a caller's distance function in half precision at |x| ~ 1e4: the loss (a difference "
         "of two distances below their ulp) rounds differently in MLX's and torch's twins "
         "(ours 1.0, torch 0.0, float64 0.25); with swap=True near a swap tie the rounded "
         "distances pick one side where float64 splits the gradient"),
    Open("F34", ("gaussian_nll_loss",), ("*",),
         lambda ex, mode, m: ex.kwargs.get("eps") == 0.0 and "gradient w.r.t. arg 0" in m
         and "ours 0.0" in m and "nan" in m,
         "eps=0 and a subnormal var: the input gradient (x - t) / var is ours 0 (the true value "
         "at x == t), torch NaN (its 1 / var overflows to inf, times 0)"),
    Open("F33", ("gaussian_nll_loss",), ("compile",),
         lambda ex, mode, m: ex.dtype == "bfloat16" and "gradient w.r.t. arg 0" in m
         and ("ours inf" in m or "ours -inf" in m),
         "bfloat16 under mx.compile, a gradient near 1.7e38 (fits bfloat16): ours inf (a float32 "
         "intermediate overflows in the compiled kernel), torch finite"),
    Open("F30", ("hinge_embedding_loss",), ("*",),
         lambda ex, mode, m: "gradient" in m and _any_nonfinite(ex)
         and not np.isfinite(_opt(ex, "margin", 1.0)),
         "margin = +-inf and an infinite input (margin - x = NaN): ours gradient -g, torch's 0 "
         "(its clamp_min backward: NaN >= 0 is false)"),
    Open("F27", ("soft_margin_loss",), ("*",),
         lambda ex, mode, m: _exp_overflows_float64(ex) and "gradient w.r.t. arg 0" in m
         and "(float64 nan)" in m,
         "|y x| > 709: torch's input gradient exp(z) / (1 + exp(z)) is inf / inf = NaN even in "
         "float64; ours the finite true gradient (the softplus-overflow row covers outputs only)"),
)


# Regions that crash the process (so they are never run in it; the finding
# says how to reproduce in a subprocess): (finding, losses, modes, when).
CRASHES: Tuple[Open, ...] = ()


def crashes(ex, mode: str) -> Optional[str]:
    """The finding whose crash this example would hit, or None."""
    for o in CRASHES:
        if ex.loss.name in o.losses and ("*" in o.modes or mode in o.modes) and o.when(ex, mode, ""):
            return o.finding
    return None


def covering(ex, mode: str, message: str) -> Optional[str]:
    """The finding that covers this failure, or None."""
    for o in KNOWN_OPEN:
        if ex.loss.name not in o.losses:
            continue
        if "*" not in o.modes and mode not in o.modes:
            continue
        if o.when(ex, mode, message):
            return o.finding
    return None
