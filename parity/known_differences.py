"""Every place mlx-losses deliberately differs from torch, as data.

This is the machine-readable twin of ``docs/differences.md`` (one row per
entry, same ``id``, same losses, same kind; ``tests/test_differences.py``
checks that the two agree). The fuzzer (``parity/fuzz``) reads it: a
mismatch that no entry here explains is a failure. Nothing else may differ.

Kinds:
    ours_raises       we raise a clear ValueError/TypeError where torch
                      computes (``applies(example, mode)`` says where)
    ours_computes     we compute where torch raises; ``reference(example)``
                      is the torch-acceptable input whose result ours must
                      equal (``None``: the documented NaN, see ``nan_where``)
    unchecked         with value checks off (or compiled), an input torch
                      refuses after reading its values is computed as is
    more_accurate     where torch's own result in the dtype under test is
                      inf/NaN only because an intermediate overflowed (the
                      float64 result, rounded to that dtype, is finite), ours
                      may be finite, and is then held to float64 torch
    not_compared      torch's result is not a number to compare with
                      (uninitialised memory, a gradient torch refuses);
                      ``gradients_only``: the outputs are still compared
    compared_through  the parity checks compare through a transform (named
                      in ``summary``)

Importing this module imports neither torch nor MLX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import numpy as np

KINDS = ("ours_raises", "ours_computes", "unchecked", "more_accurate", "not_compared",
         "compared_through")


@dataclass(frozen=True)
class Difference:
    """One deliberate difference.

    Attributes:
        id: short stable name, also the row's id in docs/differences.md.
        losses: functional names it concerns (``("*",)``: every loss).
        kind: one of :data:`KINDS`.
        summary: what differs (the docs table's text).
        why: why we differ.
        applies: ``(example, mode) -> bool`` where the fuzzer may meet it;
            None where the fuzzer never draws such input.
        reference: for ``ours_computes``: ``example -> example`` that torch
            accepts and whose result ours must equal.
        gradients_only: for ``not_compared``: only the gradients are not
            compared (the summary says so).
    """

    id: str
    losses: Tuple[str, ...]
    kind: str
    summary: str
    why: str
    applies: Optional[Callable[[Any, str], bool]] = None
    reference: Optional[Callable[[Any], Any]] = None
    gradients_only: bool = False


# --------------------------------------------------------------------------
# predicates over a fuzz example (duck-typed: example.args / .kwargs hold
# ``Arr`` objects with ``.values`` and ``.dtype``, or plain values)


def _arr(v) -> Optional[np.ndarray]:
    return getattr(v, "values", None)


def _int_dtype(v) -> Optional[str]:
    d = getattr(v, "dtype", None)
    return d if isinstance(d, str) and d.startswith(("int", "uint")) else None


_INDEX_LOSSES = ("cross_entropy", "nll_loss", "multi_margin_loss", "multilabel_margin_loss",
                 "linear_cross_entropy")


def _narrow_index_target(ex, mode) -> bool:
    return ex.loss.name in _INDEX_LOSSES and any(
        _int_dtype(a) not in (None, "int64") for a in ex.args)


def _as_int64(ex):
    from dataclasses import replace

    args = [replace(a, values=np.asarray(a.values).astype(np.int64), dtype="int64")
            if _int_dtype(a) not in (None, "int64") else a for a in ex.args]
    return ex.with_args(args)


def _ctc_target_has_blank(ex, mode) -> bool:
    targets, il, tl = ex.args[1], ex.args[2], ex.args[3]
    blank = ex.kwargs.get("blank", 0)
    t = np.asarray(_arr(targets))
    tls = np.asarray(_arr(tl) if _arr(tl) is not None else tl).reshape(-1)
    if t.ndim <= 1 and (t.ndim == 0 or len(tls) > 1 or t.size == tls.sum()):
        used = t.reshape(-1)[: int(tls.sum())] if t.ndim == 1 else t.reshape(-1)
    else:
        t2 = t.reshape(len(tls), -1)
        used = np.concatenate([t2[i, : int(n)] for i, n in enumerate(tls)]) if len(tls) else t2.reshape(-1)
    return bool((used == blank).any())


def _ctc_lengths(ex, n: int) -> np.ndarray:
    v = ex.args[2]
    a = _arr(v) if _arr(v) is not None else v
    return np.broadcast_to(np.asarray(a, dtype=np.int64).reshape(-1), (n,))


def _ctc_reads_neg_inf(ex, mode) -> bool:
    """A log-probability the loss reads (log_softmax of the logits, in the
    dtype torch runs: float32 for half inputs) is -inf."""
    z = np.asarray(_arr(ex.args[0]), dtype=np.float64)
    if z.size == 0:
        return False
    z = z[:, None, :] if z.ndim == 2 else z
    big = 1.7976931348623157e308 if ex.dtype == "float64" else 3.4028234663852886e38
    with np.errstate(all="ignore"):
        m = np.max(z, axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        lp = z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
        neg_inf = lp < -big
    T, N = z.shape[:2]
    read = np.arange(T)[:, None] < _ctc_lengths(ex, N)[None, :]
    return bool((neg_inf.any(axis=-1) & read).any())


def _ctc_blank_unchecked(ex, mode) -> bool:
    return mode in ("checks_off", "compile") and _ctc_target_has_blank(ex, mode)


def _float32_huge(ex, mode) -> bool:
    """float32 inputs (or weights) with |values| >= 1e18: their products and
    squares overflow float32."""
    if ex.dtype != "float32":
        return False
    for v in list(ex.args) + list(ex.kwargs.values()):
        a = _arr(v)
        if a is not None and np.asarray(a).dtype.kind == "f" and np.asarray(a).size:
            with np.errstate(all="ignore"):
                if (np.abs(np.asarray(a)) >= 1e18).any():
                    return True
    return False


_TINY = {"float64": 2.2250738585072014e-308, "float32": 1.1754943508222875e-38,
         "float16": 6.103515625e-05, "bfloat16": 1.1754943508222875e-38}
_HUGE = {"float64": 1.7976931348623157e308, "float32": 3.4028234663852886e38,
         "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


def _broadcast_operand_at_a_pole(ex, mode) -> bool:
    """A differentiated array broadcasts against the others (or the batch is
    empty), and some value is where a local derivative is infinite or NaN:
    non-finite or beyond the dtype's range (or 0 / subnormal, for the losses
    that take a log of or divide by an input)."""
    grads = [a for a in list(ex.args) + list(ex.kwargs.values())
             if _arr(a) is not None and getattr(a, "grad", False)]
    shapes = [np.shape(a.values) for a in grads]
    if ex.loss.name == "gaussian_nll_loss" and len(shapes) == 3 \
            and shapes[2] == shapes[0][:-1] and len(shapes[0]) > 0:
        # a var of input.shape[:-1] is taken with a trailing 1 (torch's rule)
        shapes[2] = shapes[2] + (1,)
    try:
        full = np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    if not any(s != full for s in shapes) and 0 not in full:
        return False
    # a log or a division by a value: 0 and subnormals are poles too
    at_zero = ex.loss.name in ("poisson_nll_loss", "gaussian_nll_loss", "kl_div")
    tiny = _TINY.get(ex.dtype, 0.0) if at_zero else 0.0
    huge = _HUGE.get(ex.dtype, np.inf)
    for a in list(ex.args) + list(ex.kwargs.values()):
        v = _arr(a)
        if v is None or np.asarray(v).dtype.kind != "f":
            continue
        v = np.abs(np.asarray(v))
        if v.size == 0 or ((v < tiny) | ~(v <= huge)).any():  # (NaN: not <= huge)
            return True
    return False


def _user_distance_nonfinite(ex, mode) -> bool:
    """A distance function of the caller's (not ours) on inputs holding
    inf / NaN (or values beyond the dtype's range)."""
    if not hasattr(ex.kwargs.get("distance_function"), "ours_text"):
        return False
    huge = _HUGE.get(ex.dtype, np.inf)
    return any(_arr(a) is not None and np.asarray(_arr(a)).dtype.kind == "f"
               and (~(np.abs(np.asarray(_arr(a))) <= huge)).any() for a in ex.args)


def _always(ex, mode) -> bool:
    return True


def _half_margin_one_element(ex, mode) -> bool:
    """hinge_embedding_loss, a half input of one element, a finite margin
    beyond the dtype's range."""
    if ex.loss.name != "hinge_embedding_loss" or ex.dtype not in ("float16", "bfloat16"):
        return False
    m = ex.kwargs.get("margin", ex.args[2] if len(ex.args) > 2 else 1.0)
    m = float(np.asarray(_arr(m) if _arr(m) is not None else m).reshape(-1)[0])
    x = _arr(ex.args[0])
    return x is not None and np.size(x) == 1 and np.isfinite(m) and abs(m) > _HUGE[ex.dtype]


def _shapeless(ex, mode) -> bool:
    return mode == "shapeless"


DIFFERENCES: Tuple[Difference, ...] = (
    Difference(
        "ctc-true-gradient", ("ctc_loss",), "compared_through",
        "`ctc_loss`'s gradient w.r.t. `log_probs` is the true one; torch's assumes "
        "`log_probs` came out of `log_softmax` and differs by `exp(log_probs) * grad_out`. "
        "Compared through `log_softmax` (gradients w.r.t. the logits agree).",
        "torch's CPU/CUDA kernels return the gradient after the log_softmax projection "
        "(pytorch/pytorch#52241); the true gradient is right for any input.",
        applies=_always,
    ),
    Difference(
        "shapeless-compile-raises", ("*",), "ours_raises",
        "`mx.compile(loss, shapeless=True)` raises a `ValueError` naming the loss "
        "(however it is called: positional or keyword arrays, the Module, an empty "
        "first batch) instead of computing; so do `pairwise_distance` and "
        "`cosine_similarity`.",
        "A loss computes Python numbers from its input shapes (the 'mean' count, a "
        "blocked sum's layout); a shapeless graph would reuse them for other shapes: a "
        "wrong number with no error. Use the default, shape-specialised `mx.compile`.",
        applies=_shapeless,
    ),
    Difference(
        "integer-class-indices", _INDEX_LOSSES, "ours_computes",
        "Class-index targets may be any integer dtype (int32, MLX's default, and uint8 "
        "everywhere); torch wants int64 (uint8 only in some paths of `nll_loss` / "
        "`cross_entropy`). The result equals torch's on the same indices as int64.",
        "MLX's default integer is int32; refusing it would make every MLX data "
        "pipeline cast. Indices are never cast silently to another value.",
        applies=_narrow_index_target, reference=_as_int64,
    ),
    Difference(
        "ctc-target-is-blank", ("ctc_loss",), "ours_raises",
        "`ctc_loss` rejects targets equal to `blank`; torch computes a meaningless number.",
        "A blank inside a target has no alignment meaning: it is a data bug.",
        applies=_ctc_target_has_blank,
    ),
    Difference(
        "ctc-target-is-blank-unchecked", ("ctc_loss",), "not_compared",
        "With value checks off, or under `mx.compile`, a target equal to `blank` makes "
        "that sample's loss and gradient NaN (as a label out of range); torch computes a "
        "meaningless number.",
        "The eager check refuses it (`ctc-target-is-blank`); where it cannot run, NaN is the "
        "loud answer, never a number for another target.",
        applies=_ctc_blank_unchecked,
    ),
    Difference(
        "ctc-neg-inf-log-probs-gradient", ("ctc_loss",), "not_compared",
        "Where a log-probability a sample reads (a frame before its input length) is -inf "
        "(a masked class), torch's gradient w.r.t. it is NaN (its formula "
        "`exp(lp) - exp(lcab + nll - lp)` meets -inf + inf), and so NaN for that frame's "
        "logits after `log_softmax`; ours is the true gradient there, finite. The losses "
        "agree; the gradients of such examples are not compared.",
        "A -inf log-probability is a valid input; torch's NaN comes from the same gradient "
        "formula as `ctc-true-gradient`.",
        applies=_ctc_reads_neg_inf, gradients_only=True,
    ),
    Difference(
        "ctc-positive-inf-log-probs", ("ctc_loss",), "not_compared",
        "A +inf log-probability (no `log_softmax` gives one) counts as NaN: that sample's "
        "loss is NaN where it can reach the end of the target; torch's recursion gives NaN "
        "there too, except for an empty target read at one or two frames (-inf).",
        "+inf is not a log-probability; one rule for every non-finite value. (The fuzzer "
        "draws log_softmax outputs only.)",
    ),
    Difference(
        "ctc-target-out-of-range", ("ctc_loss",), "ours_raises",
        "`ctc_loss` rejects targets >= C or < 0 (eager); torch's CPU kernel reads "
        "outside the array.",
        "Never a read outside an array. (The fuzzer does not draw these: torch would "
        "read out of bounds; tests/test_memory_safety.py covers ours.)",
    ),
    Difference(
        "ctc-float-targets", ("ctc_loss",), "ours_raises",
        "`ctc_loss` rejects floating `targets`; torch casts them silently.",
        "Class indices are never cast silently.",
    ),
    Difference(
        "triplet-distance-array-margin", ("triplet_margin_with_distance_loss",), "ours_raises",
        "A `margin` that is an array of more than one element raises a `TypeError`; "
        "torch adds it to the distances elementwise.",
        "torch documents `margin` as a float; a number or a 0-d array is what the "
        "Module stores.",
    ),
    Difference(
        "half-margin-overflow-one-element", ("hinge_embedding_loss",), "ours_raises",
        "A float16 / bfloat16 input of one element with a finite `margin` beyond the "
        "dtype's range raises, as torch raises for every larger input; torch computes "
        "there (inf where the margin is used).",
        "torch's one-element path skips the overflow check its other paths make; one "
        "rule for every shape.",
        applies=_half_margin_one_element,
    ),
    Difference(
        "embedding-integer-inputs", ("pairwise_distance", "cosine_similarity",
                                     "cosine_embedding_loss", "triplet_margin_loss",
                                     "triplet_margin_with_distance_loss"),
        "ours_raises",
        "Integer inputs to the embedding losses and helpers raise a `TypeError`; torch "
        "promotes them.",
        "A distance between integer vectors is almost always a dtype bug upstream.",
    ),
    Difference(
        "cosine-embedding-complex-target", ("cosine_embedding_loss",), "ours_raises",
        "A complex `target` raises; torch compares it with 1 / -1 and goes on.",
        "A complex label has no meaning here.",
    ),
    Difference(
        "mixed-float-dtypes", ("*",), "ours_computes",
        "Inputs of different float dtypes are promoted and computed in the promoted "
        "dtype with one rounding; torch refuses some mixes, and in others rounds "
        "intermediates (e.g. `exp(input)` of `poisson_nll_loss`) to the narrower dtype.",
        "One rounding is more accurate, and MLX code mixes float16/bfloat16 with "
        "float32 freely.",
    ),
    Difference(
        "out-of-range-index-nan", ("cross_entropy", "nll_loss", "multi_margin_loss",
                                   "multilabel_margin_loss", "linear_cross_entropy", "ctc_loss"),
        "ours_computes",
        "With value checks off, or under `mx.compile`/`mx.vmap` (where values cannot be "
        "read), an out-of-range class index (a CTC label or length that does not fit) "
        "makes that row's loss and gradient NaN, and a reduced loss NaN; torch raises. "
        "Eager with checks on, ours raises too.",
        "Reading values inside a trace is impossible; NaN is the loud answer, never a "
        "read outside the array.",
    ),
    Difference(
        "value-checks-off", ("binary_cross_entropy", "gaussian_nll_loss"), "unchecked",
        "With value checks off, or inside `mx.compile` (where values cannot be read), "
        "the values torch refuses after reading them are not refused: they give NaN "
        "(loss and gradient) at their elements: a probability outside [0, 1] (input or "
        "target; a NaN too) and a negative `var` (never clamped to `eps`).",
        "The checks need a device synchronisation; the switch exists to skip it, and a "
        "trace cannot read values. NaN is the loud answer, never a plausible number.",
        applies=lambda ex, mode: mode in ("checks_off", "compile"),
    ),
    Difference(
        "margin-empty-batch", ("multi_margin_loss", "multilabel_margin_loss"), "not_compared",
        "An empty batch under 'mean' / 'sum' gives NaN / 0; torch returns uninitialised "
        "memory.",
        "torch's kernel allocates the result and never writes it.",
        applies=lambda ex, mode: _empty_reduced(ex),
    ),
    Difference(
        "weight-gradients", ("*",), "not_compared",
        "Gradients w.r.t. class weights / `weight` / `pos_weight` are zero; torch "
        "refuses to differentiate most of them.",
        "Weights are configuration (frozen in the Modules); the fuzzer never "
        "differentiates them.",
    ),
    Difference(
        "broadcast-gradient-at-a-pole", ("poisson_nll_loss", "gaussian_nll_loss", "kl_div",
                                         "cosine_embedding_loss", "triplet_margin_loss",
                                         "triplet_margin_with_distance_loss"),
        "not_compared",
        "Gradients only: w.r.t. an operand that broadcasts against the others (a 0-d or "
        "size-1 input, target or `var`; any operand of an empty batch) where a local "
        "derivative is infinite or NaN (a value that is 0, subnormal, infinite or NaN), "
        "ours may be 0 or +-inf where torch's is NaN, or NaN where torch's is +-inf. "
        "torch applies such an operand's derivative after summing the incoming gradient "
        "over the broadcast dimensions (an empty sum 0 times inf is NaN; sum(t g) / x is "
        "inf where one term alone is 0 / 0); ours applies it per element, then sums.",
        "Per element is the chain rule of the loss as written (an empty batch has "
        "gradient 0, a NaN term a NaN gradient); torch's NaN or inf there comes from its "
        "internal operation order, at values where the loss itself is NaN, infinite or "
        "empty. Outputs are compared as usual.",
        applies=_broadcast_operand_at_a_pole, gradients_only=True,
    ),
    Difference(
        "user-distance-autodiff", ("triplet_margin_with_distance_loss",), "not_compared",
        "Gradients only, with a caller's `distance_function` on inputs holding inf / NaN: "
        "the gradient through it is MLX's autodiff of that function, which may place NaN "
        "differently from torch's autograd of a torch twin (MLX's `max` gives a NaN "
        "row's elements gradient 0, torch's `amax` 0 / 0 = NaN).",
        "The distance function is the caller's code, differentiated by MLX; the loss "
        "passes its gradient through unchanged. Outputs are compared as usual.",
        applies=_user_distance_nonfinite, gradients_only=True,
    ),
    Difference(
        "half-without-torch-kernel", ("multi_margin_loss", "multilabel_margin_loss", "ctc_loss"),
        "ours_computes",
        "float16 / bfloat16 inputs work where torch's CPU has no half kernel (it raises "
        "\"not implemented for 'Half'\"); the result is torch's in float32, rounded once.",
        "MLX code runs in half precision; the dtype policy computes in float32 anyway. "
        "(The fuzzer and parity compare with torch in float32 there.)",
    ),
    Difference(
        "half-float32-intermediates", ("*",), "more_accurate",
        "float16/bfloat16 inputs are computed in float32 and rounded once: where torch's "
        "half computation overflows an intermediate (or rounds its epsilon to 0, as "
        "float16 `binary_cross_entropy` at p in {0, 1} does) and gives inf/NaN, but the "
        "float64 result fits the dtype, ours is finite and equals float64 torch.",
        "The package's dtype policy (float32 accumulation and intermediates for half "
        "inputs, one rounding at the end).",
        applies=lambda ex, mode: ex.dtype in ("float16", "bfloat16"),
    ),
    Difference(
        "float32-overflowing-intermediates", ("binary_cross_entropy_with_logits",
                                              "gaussian_nll_loss", "pairwise_distance",
                                              "triplet_margin_loss"),
        "more_accurate",
        "In float32, with values near 1e30, where torch overflows an intermediate to "
        "+-inf (`pos_weight` times the softplus in `binary_cross_entropy_with_logits`' "
        "target gradient, the scaled residual in `gaussian_nll_loss`' input gradient, the "
        "squared differences of a 2-norm in `pairwise_distance` / `triplet_margin_loss`) "
        "but the float64 result fits float32, ours is finite and equals float64 torch.",
        "Our formulas form the products in an order that overflows only where the result "
        "does; the finite value is the true gradient.",
        applies=_float32_huge,
    ),
    Difference(
        "softplus-overflow", ("soft_margin_loss", "multilabel_soft_margin_loss"),
        "more_accurate",
        "The softplus losses stay finite where torch's `log1p(exp(.))` overflows to inf "
        "(-y x beyond about 88 in float32, 11 in float16).",
        "softplus(z) = z for large z: the stable form is the exact value.",
        applies=_always,
    ),
    Difference(
        "ce-unbatched-size1-target", ("cross_entropy",), "ours_computes",
        "A `(C)` input with a `(1,)` target: torch's forward accepts it and its backward "
        "raises; ours computes both.",
        "The forward already defines the loss; the gradient follows.",
    ),
    Difference(
        "lce-batched-input", ("linear_cross_entropy",), "ours_computes",
        "An `input` of more than 2 dimensions, `(*, in_features)` (e.g. `(B, T, D)` "
        "with `(B, T)` targets), is taken as its flattened `(N, in_features)` rows on "
        "both paths, the output keeping the batch shape; torch raises \"expected input "
        "with dimensionality 1 or 2\". The result equals torch's on the flattened input "
        "(the fuzzer's torch side flattens it).",
        "Language-model batches are (B, T, D); every caller would flatten them by hand.",
    ),
)

BY_ID = {d.id: d for d in DIFFERENCES}


def _empty_reduced(ex) -> bool:
    red = ex.kwargs.get("reduction", "mean")
    sa, rd = ex.kwargs.get("size_average"), ex.kwargs.get("reduce")
    if sa is not None or rd is not None:
        red = "none" if rd is False else ("sum" if sa is False else "mean")
    x = _arr(ex.args[0])
    return x is not None and np.size(x) == 0 and red != "none"


def for_loss(name: str, kind: Optional[str] = None):
    """The differences that concern ``name`` (and of ``kind``)."""
    return [d for d in DIFFERENCES
            if (name in d.losses or "*" in d.losses) and (kind is None or d.kind == kind)]


def not_compared(name: str, example, mode: str) -> Optional[str]:
    """``"all"`` where a ``not_compared`` difference covers the example,
    ``"gradients"`` where only gradients-only ones do, else None."""
    hit = [d for d in for_loss(name, "not_compared")
           if d.applies is not None and d.applies(example, mode)]
    if not hit:
        return None
    return "gradients" if all(d.gradients_only for d in hit) else "all"


def explain(name: str, kind: str, example, mode: str) -> Optional[Difference]:
    """The first difference of ``kind`` that covers this example, or None."""
    for d in for_loss(name, kind):
        if d.applies is not None and d.applies(example, mode):
            return d
    return None
