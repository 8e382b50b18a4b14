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


def _some_abs(ex, test) -> bool:
    """Whether some floating arg's |values| pass ``test``."""
    for a in ex.args:
        v = _vals(a)
        if v is not None and v.dtype.kind == "f" and v.size:
            with np.errstate(all="ignore"):
                if test(np.abs(v)).any():
                    return True
    return False


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


def _empty_last_dim(ex) -> bool:
    return any(_vals(a) is not None and _vals(a).ndim and _vals(a).shape[-1] == 0
               for a in ex.args[:3])


def _tiny_weight(ex) -> bool:
    """A nonzero weight near the computing dtype's underflow (float32 for
    half inputs): the cotangent times it rounds to 0."""
    w = _vals(ex.kwargs.get("weight"))
    if w is None or not w.size:
        return False
    tiny = np.finfo(np.float64 if ex.dtype == "float64" else np.float32).tiny
    a = np.abs(w.astype(np.float64))
    return bool(((a > 0) & (a < 1e3 * tiny)).any())


KNOWN_OPEN: Tuple[Open, ...] = (
    Open("F7", ("pairwise_distance", "triplet_margin_loss"), ("*",),
         lambda ex, mode, m: _empty_last_dim(ex)
         and ("[max]" in m or "[min]" in m or m.startswith("torch raises")),
         "p-norms over an empty last dim: MLX's reduce error / inf where torch raises"),
    Open("F9", ("cosine_embedding_loss",), ("*",),
         lambda ex, mode, m: ex.dtype in ("float16", "bfloat16")
         and _some_abs(ex, lambda a: (a > 0) & (a < 1e-3) | (a > 1e3)),
         "half inputs: norms in half precision, tiny vectors give cos > 1"),
    Open("F11", ("pairwise_distance", "smooth_l1_loss", "triplet_margin_loss", "gaussian_nll_loss",
                 "triplet_margin_with_distance_loss", "cosine_embedding_loss", "multi_margin_loss",
                 "cross_entropy"),
         ("*",),
         lambda ex, mode, m: _any_nonfinite(ex) and ("gradient" in m or "NaN/inf" in m),
         "inf / NaN inputs: gradients NaN where torch's are finite, or the reverse"),
    Open("F17", ("gaussian_nll_loss",), ("*",),
         lambda ex, mode, m: ex.kwargs.get("eps") == 0.0 and "gradient w.r.t. arg 2" in m,
         "eps=0 and var=0: gradient w.r.t. var -inf where torch's is NaN"),
    Open("F12", ("poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
                 "triplet_margin_with_distance_loss", "triplet_margin_loss", "kl_div"), ("*",),
         lambda ex, mode, m: "gradient" in m and "ours 0.0" in m and "nan" in m
         and any(_empty(a) for a in ex.args),
         "gradient of an empty broadcast output: torch NaN (0 * NaN), ours 0"),
    Open("F25", ("multilabel_soft_margin_loss",), ("*",),
         lambda ex, mode, m: _any_nonfinite(ex) and "NaN/inf" in m,
         "+-inf target or weight: ours +-inf where torch's two-term form gives NaN "
         "(inf - inf, inf * 0), loss and gradient"),
    Open("F26", ("binary_cross_entropy",), ("*",),
         lambda ex, mode, m: _tiny_weight(ex) and "gradient w.r.t. arg 1" in m and "NaN/inf" in m,
         "subnormal weight, p in {0, 1}: target gradient NaN ((g w = 0) * inf), torch +-inf"),
)


# Regions that crash the process (so they are never run in it; the finding
# says how to reproduce in a subprocess): (finding, losses, modes, when).
CRASHES: Tuple[Open, ...] = (
    Open("F14", ("pairwise_distance", "cosine_similarity"), ("shapeless",),
         lambda ex, mode, m: True,
         "the helpers have no shapeless guard: MLX 0.32 segfaults (broadcast inputs, a new rank)"),
)


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
