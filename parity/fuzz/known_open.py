"""Mismatches the fuzzer found that are not fixed yet.

Each entry names its finding in the team's findings file
(``/work/team/fuzz_findings.md``, ``F<n>``), the loss, the modes, and a
predicate over the example and the failure message that covers exactly
that region. A failing example an entry covers passes (the test notes it);
every other failure fails. When a fix lands, delete its entry: the fuzzer
then checks that region again (``pytest parity/test_fuzz.py -k <loss>``).
"""

from __future__ import annotations

import math
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


def _empty(v) -> bool:
    a = _vals(v)
    return a is not None and a.size == 0


def _nonfinite_number(x) -> bool:
    return isinstance(x, (float, np.floating)) and not math.isfinite(x)


def _big_logits(ex) -> bool:
    """Logits of magnitude >= 1e3 (cross_entropy's input, or x W^T for
    linear_cross_entropy), or non-finite ones."""
    x = _vals(ex.args[0])
    if x is None or x.dtype.kind != "f" or x.size == 0:
        return False
    with np.errstate(all="ignore"):
        mx_ = np.nanmax(np.abs(x)) if not np.isnan(x).all() else 0.0
        if ex.loss.name == "linear_cross_entropy":
            w = _vals(ex.args[1])
            if w is None or w.size == 0:
                return False
            mx_ = mx_ * np.nanmax(np.abs(w)) * x.shape[-1]
    return bool(mx_ >= 1e3)


def _huge_weight(ex) -> bool:
    w = _vals(ex.kwargs.get("weight"))
    return w is not None and bool((np.abs(w) > 1e29).any())


KNOWN_OPEN: Tuple[Open, ...] = (
    Open("F1", ("multilabel_soft_margin_loss",), ("*",),
         lambda ex, mode, m: "gradient w.r.t. arg" in m and ": shape" in m,
         "gradient w.r.t. a broadcast input or target has the broadcast shape"),
    Open("F3", ("binary_cross_entropy_with_logits",), ("*",),
         lambda ex, mode, m: _empty(ex.args[0]) and "pos_weight" in ex.kwargs,
         "empty input with a size-1 pos_weight: shape (1, ...) and a number"),
    Open("F4", ("ctc_loss",), ("*",),
         lambda ex, mode, m: _nonfinite(ex.args[0], ex.dtype),
         "a non-finite log-probability in one sample makes every sample NaN"),
    Open("F5", ("linear_cross_entropy",), ("*",),
         lambda ex, mode, m: _empty(ex.args[0]) and "[logsumexp]" in m,
         "chunked path on an empty batch: MLX's logsumexp error"),
    Open("F13", ("binary_cross_entropy_with_logits", "gaussian_nll_loss", "mse_loss"), ("*",),
         lambda ex, mode, m: ex.dtype == "float32" and "NaN/inf positions" in m
         and ("torch float32 inf" in m or "torch float32 -inf" in m),
         "float32: ours finite (= float64 torch) where torch float32 overflows an intermediate"),
    Open("F20", ("linear_cross_entropy",), ("*",),
         lambda ex, mode, m: _any_nonfinite(ex) and ("NaN/inf" in m or "gradient" in m),
         "inf / NaN in input or linear_weight: inf / finite where torch is NaN"),
    Open("F21", ("binary_cross_entropy_with_logits",), ("*",),
         lambda ex, mode, m: _any_nonfinite(ex) and ("NaN/inf" in m or "gradient" in m),
         "+inf logits: NaN where torch gives inf"),
    Open("F22", ("cross_entropy",), ("*",),
         lambda ex, mode, m: _huge_weight(ex) and "NaN/inf" in m,
         "class weights ~1e30 (float32): NaN where torch's overflow gives inf"),
    Open("F24", ("cross_entropy", "linear_cross_entropy"), ("*",),
         lambda ex, mode, m: _big_logits(ex) and (": element" in m or "NaN/inf" in m),
         "lse - x_t with lse = max + log(sum): logits >= ~1e3 lose the loss's low digits"),
    Open("F23", ("linear_cross_entropy",), ("*",),
         lambda ex, mode, m: ex.dtype == "float64" and ex.kwargs.get("options") is not None
         and ": element" in m,
         "chunked path in float64: float32-accurate exp (gradient off by ~1e-9 of |W|)"),
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
