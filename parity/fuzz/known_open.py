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


def _vals(v) -> Optional[np.ndarray]:
    return None if getattr(v, "values", None) is None else np.asarray(v.values)


def _nonfinite(v) -> bool:
    a = _vals(v)
    return a is not None and a.dtype.kind == "f" and not np.isfinite(a).all()


def _any_nonfinite(ex) -> bool:
    return any(_nonfinite(a) for a in list(ex.args) + list(ex.kwargs.values()))


def _empty(v) -> bool:
    a = _vals(v)
    return a is not None and a.size == 0


def _nonfinite_number(x) -> bool:
    return isinstance(x, float) and not math.isfinite(x)


def _counted_weight_zero(ex) -> bool:
    """A class weight whose entries at the counted targets (in range, not
    ignored) sum to 0 (or there are none): torch's weighted mean is 0/0."""
    w = _vals(ex.kwargs.get("weight"))
    if w is None:
        return False
    t = next((a for a in ex.args[1:] if getattr(a, "dtype", None) not in (None,)
              and str(a.dtype).startswith(("int", "uint"))), None)
    if t is None:
        return float(np.sum(w)) == 0.0
    tv = np.asarray(t.values).astype(np.int64).reshape(-1)
    ign = ex.kwargs.get("ignore_index", -100)
    keep = (tv >= 0) & (tv < w.shape[0]) & (tv != (-100 if ign is None else ign))
    return float(np.sum(w[tv[keep]])) == 0.0


def _empty_broadcast_grad(ex, mode, m) -> bool:
    """torch's 0 * NaN in the backward of an empty broadcast output."""
    return ("gradient" in m and "ours 0.0" in m and "nan" in m
            and any(_empty(a) for a in ex.args))


KNOWN_OPEN: Tuple[Open, ...] = (
    Open("F1", ("l1_loss", "mse_loss", "soft_margin_loss", "multilabel_margin_loss"), ("module",),
         lambda ex, mode, m: "group" in ex.kwargs and "'group'" in m,
         "L1Loss, MSELoss, SoftMarginLoss, MultiLabelMarginLoss reject group="),
    Open("F2", ("smooth_l1_loss", "huber_loss"), ("*",),
         lambda ex, mode, m: (_nonfinite_number(ex.kwargs.get("beta")) or
                              _nonfinite_number(ex.kwargs.get("delta"))) and m.startswith("torch raises"),
         "beta=nan / delta=nan: torch raises, ours NaN"),
    Open("F3", ("kl_div",), ("*",),
         lambda ex, mode, m: not isinstance(ex.kwargs.get("log_target", False), bool)
         and m.startswith("torch raises"),
         "kl_div(log_target=1): torch raises a TypeError, ours computes"),
    Open("F4", ("triplet_margin_loss", "triplet_margin_with_distance_loss"), ("*",),
         lambda ex, mode, m: _nonfinite_number(ex.kwargs.get("margin")) and "ours raises" in m,
         "margin=nan: torch returns NaN, ours raises"),
    Open("F5", ("triplet_margin_loss", "triplet_margin_with_distance_loss"), ("*",),
         lambda ex, mode, m: ex.kwargs.get("swap") is True and "gradient" in m,
         "swap=True at a tie d(a, n) == d(p, n): the whole gradient to one side"),
    Open("F6", ("multilabel_margin_loss",), ("*",),
         lambda ex, mode, m: _nonfinite(ex.args[0]),
         "multilabel_margin_loss with +-inf / NaN scores: NaN where torch is finite"),
    Open("F7", ("ctc_loss",), ("*",),
         lambda ex, mode, m: _empty(ex.args[0]) and m.startswith("torch raises"),
         "ctc_loss on an empty batch or T = 0: torch raises, ours NaN"),
    Open("F8", ("cross_entropy", "nll_loss", "linear_cross_entropy"), ("*",),
         lambda ex, mode, m: _counted_weight_zero(ex),
         "class weights summing to 0 over the counted targets: torch NaN, ours 0 / inf"),
    Open("F9", ("multilabel_soft_margin_loss",), ("*",),
         lambda ex, mode, m: "gradient w.r.t. arg 1: shape" in m,
         "gradient w.r.t. a broadcast target has the broadcast shape"),
    Open("F10", ("multilabel_soft_margin_loss",), ("*",),
         lambda ex, mode, m: _nonfinite(ex.args[0]) and "NaN/inf positions" in m,
         "multilabel_soft_margin_loss with +-inf input: NaN where torch is +-inf"),
    Open("F11", ("multilabel_soft_margin_loss",), ("*",),
         lambda ex, mode, m: ex.ctx.regime == "extreme" and ": element" in m,
         "multilabel_soft_margin_loss float32 accuracy at |x| ~ 1e10 (cancellation)"),
    Open("F12", ("binary_cross_entropy_with_logits",), ("*",),
         lambda ex, mode, m: _empty(ex.args[0]) and "pos_weight" in ex.kwargs,
         "empty input with a size-1 pos_weight: shape (1, ...) and a number"),
    Open("F13", ("ctc_loss",), ("*",),
         lambda ex, mode, m: _nonfinite(ex.args[0]),
         "ctc_loss: a non-finite logit in one sample makes every sample NaN"),
    Open("F14", ("linear_cross_entropy",), ("*",),
         lambda ex, mode, m: _empty(ex.args[0]) and "[logsumexp]" in m,
         "linear_cross_entropy chunked path on an empty batch: MLX's logsumexp error"),
    Open("F15", ("multi_margin_loss",), ("*",),
         lambda ex, mode, m: _nonfinite_number(ex.kwargs.get("margin")),
         "multi_margin_loss margin=inf / nan: NaN where torch gives inf / 0"),
    Open("F16", ("pairwise_distance", "triplet_margin_loss"), ("*",),
         lambda ex, mode, m: any(_vals(a) is not None and _vals(a).ndim and _vals(a).shape[-1] == 0
                                 for a in ex.args[:2])
         and ("[max]" in m or "[min]" in m or m.startswith("torch raises")),
         "p-norms over an empty last dim: MLX's reduce error / inf where torch raises"),
    Open("F17", ("pairwise_distance",), ("*",),
         lambda ex, mode, m: _any_nonfinite(ex) and "gradient" in m
         and _nonfinite_number(ex.kwargs.get("p")),
         "pairwise_distance p=+-inf with NaN inputs: gradient NaN where torch's is 0"),
    Open("F18", ("smooth_l1_loss",), ("*",),
         lambda ex, mode, m: _nonfinite_number(ex.kwargs.get("beta")) and _any_nonfinite(ex)
         and "gradient" in m,
         "smooth_l1_loss beta=inf with +-inf input: gradient NaN where torch's is finite"),
    Open("F19", ("hinge_embedding_loss",), ("*",),
         lambda ex, mode, m: ex.dtype == "float16" and m.startswith("torch raises")
         and "without overflow" in m,
         "float16 with a margin beyond float16's range: torch raises, ours computes"),
    Open("F20", ("poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
                 "triplet_margin_with_distance_loss", "triplet_margin_loss"), ("*",),
         _empty_broadcast_grad,
         "gradient of an empty broadcast output: torch NaN (0 * NaN), ours 0"),
    Open("F21", ("binary_cross_entropy_with_logits", "gaussian_nll_loss", "mse_loss"), ("*",),
         lambda ex, mode, m: ex.dtype == "float32" and "NaN/inf positions" in m
         and ("torch float32 inf" in m or "torch float32 -inf" in m),
         "float32: ours finite (= float64 torch) where torch float32 overflows an intermediate"),
    Open("F22", ("cosine_embedding_loss",), ("*",),
         lambda ex, mode, m: ex.dtype in ("float16", "bfloat16") and ex.ctx.regime != "plain",
         "cosine_embedding_loss in half with tiny vectors: norms in half, cos > 1"),
)


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
