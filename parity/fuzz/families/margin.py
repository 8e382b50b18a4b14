"""Fuzz table: hinge_embedding_loss, soft_margin_loss,
multilabel_soft_margin_loss, multilabel_margin_loss, multi_margin_loss,
margin_ranking_loss."""

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss

INF, NAN = math.inf, math.nan

# margins: ordinary, 0, negative, huge (float32 cancellation), non-finite
_MARGIN = D.one([D.OMIT, 1.0, 0.5, 0.0, -0.5, 2.5, 1000.0, 1e6, INF, NAN], [D.OMIT, 0.5])


def _sign_target(draw, ctx, shape):
    """+-1 labels; sometimes integer or bool-free other labels (torch's rule:
    anything but 1 / -1 gets both terms or none)."""
    y = D.floats(draw, shape, "sign", ctx)
    if draw(st.integers(0, 5)) == 0 and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return Arr(y.astype(np.int64), dtype="int64")
    return Arr(y)


def _hinge(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x = D.floats(draw, base, "real", ctx)
    m = opts.get("margin", 1.0)
    if isinstance(m, (float, np.floating)) and math.isfinite(m):
        x = D.tie(draw, x, np.zeros(()), [m, 0.0])  # x == margin: the hinge's kink
    return [Arr(x, grad=True), _sign_target(draw, ctx, D.broadcast_partner(draw, base, ctx))], {}


def _soft_margin(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x = D.floats(draw, base, "real", ctx)
    return [Arr(x, grad=True), _sign_target(draw, ctx, D.broadcast_partner(draw, base, ctx))], {}


def _classes(draw, ctx):
    """(input shape, C): (C), (N, C), and rarely 0-d or 3-D (torch refuses 3-D)."""
    C = D.size(draw, ctx, (1, 2, 3, 5), (3,))
    how = draw(st.sampled_from(("2d", "2d", "2d", "1d", "0d", "3d")))
    if ctx.compiled:
        how = "2d"
    if how == "0d":
        return (), 1
    if how == "1d":
        return (C,), C
    N = D.size(draw, ctx, (0, 1, 2, 4), (2,))
    if how == "3d":
        return (N, C, 2), C
    return (N, C), C


def _mlsm(draw, ctx, opts):
    shape, C = _classes(draw, ctx)
    x = D.floats(draw, shape, "real", ctx)
    y = D.floats(draw, shape if draw(st.integers(0, 5)) else D.broadcast_partner(draw, shape, ctx),
                 draw(st.sampled_from(("binary", "prob"))), ctx)
    kw = {}
    if draw(st.booleans()):
        wshape = draw(st.sampled_from([(C,), shape, (1,) * len(shape)]))
        kw["weight"] = Arr(D.floats(draw, wshape, "weight", ctx))
    return [Arr(x, grad=True), Arr(y, grad=True)], kw


def _mlm(draw, ctx, opts):
    shape, C = _classes(draw, ctx)
    x = D.floats(draw, shape, "real", ctx)
    # ties: some scores equal to another class's score minus 1 (z == 0)
    if x.ndim and x.size and draw(st.booleans()):
        flat = x.reshape(-1, x.shape[-1])
        i, j = draw(st.integers(0, x.shape[-1] - 1)), draw(st.integers(0, x.shape[-1] - 1))
        flat[:, i] = flat[:, j] - 1.0
        x = flat.reshape(shape)
    dt = draw(st.sampled_from(("int64", "int64", "int32")))
    rows = x.reshape(-1, C) if x.ndim else x.reshape(1, 1)
    t = np.zeros(rows.shape, np.int64)
    for r in range(rows.shape[0]):
        k = draw(st.integers(0, C))
        labels = draw(st.permutations(list(range(C))))[:k]
        if draw(st.integers(0, 4)) == 0 and k:
            labels[-1] = labels[0]  # a repeated label
        row = list(labels) + ([-1] if k < C else [])
        row += [draw(st.integers(-1, C - 1)) for _ in range(C - len(row))]  # garbage after -1
        t[r] = row
    if ctx.oob and t.size:
        mask = draw(hnp.arrays(np.bool_, t.shape, elements=st.booleans(), fill=st.nothing()))
        bad = draw(hnp.arrays(np.int64, t.shape, elements=st.sampled_from([-2, -5, C, C + 1, 2**31 - 1]),
                              fill=st.nothing()))
        t = np.where(mask, bad, t)
    t = t.reshape(shape).astype(dt)
    return [Arr(x, grad=True), Arr(t, dtype=dt)], {}


def _mlm_oob(args, kwargs):
    x, t = args
    tv = np.asarray(t.values).astype(np.int64)
    C = x.values.shape[-1] if x.values.ndim else 1
    if tv.ndim == 0:
        bad = (tv < -1) | (tv >= C)
        return np.asarray(bad), [x, Arr(np.where(bad, -1, tv).astype(t.dtype), dtype=t.dtype)]
    bad_entry = (tv < -1) | (tv >= C)
    mask = bad_entry.any(axis=-1)
    fixed = np.where(bad_entry, -1, tv)
    return mask, [x, Arr(fixed.astype(t.dtype), dtype=t.dtype)]


def _mm(draw, ctx, opts):
    shape, C = _classes(draw, ctx)
    x = D.floats(draw, shape, "real", ctx)
    tshape = {0: (), 1: draw(st.sampled_from([(), (1,)])), 2: shape[:1], 3: shape[:1]}[len(shape)]
    dt = draw(st.sampled_from(("int64", "int64", "int32")))
    t = D.indices(draw, tshape, C, oob=ctx.oob, dtype=dt)
    # ties: margin - x[t] + x[i] == 0 exactly
    m = opts.get("margin", 1.0)
    if x.ndim == 2 and x.size and isinstance(m, (float, np.floating)) and math.isfinite(m) and draw(st.booleans()):
        i = draw(st.integers(0, C - 1))
        safe = np.clip(t.astype(np.int64), 0, C - 1).reshape(-1)
        x[:, i] = x[np.arange(x.shape[0]), safe] - m
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(D.floats(draw, (C,), "weight", ctx))
    return [Arr(x, grad=True), Arr(t, dtype=dt)], kw


def _mm_oob(args, kwargs):
    x, t = args
    tv = np.asarray(t.values).astype(np.int64)
    C = x.values.shape[-1] if x.values.ndim else 1
    bad = (tv < 0) | (tv >= C)
    out_shape = x.values.shape[:1] if x.values.ndim == 2 else ()
    mask = bad.reshape(out_shape) if bad.size == max(1, int(np.prod(out_shape))) else bad
    return mask, [x, Arr(np.where(bad, 0, tv).astype(t.dtype), dtype=t.dtype)]


def _ranking(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x1 = D.floats(draw, base, "real", ctx)
    x2 = D.floats(draw, D.broadcast_partner(draw, base, ctx), "real", ctx)
    m = opts.get("margin", 0.0)
    if isinstance(m, (float, np.floating)) and math.isfinite(m):
        x1 = D.tie(draw, x1, x2, [m, -m, 0.0])  # -y (x1 - x2) + margin == 0
    y = _sign_target(draw, ctx, D.broadcast_partner(draw, base, ctx))
    if y.floating:
        y.grad = True
    return [Arr(x1, grad=True), Arr(x2, grad=True), y], {}


def _reduce(loss, kwargs):
    from parity.fuzz.runner import effective_reduction

    red = effective_reduction(kwargs)
    if red == "none":
        return loss
    total = np.sum(loss)
    return total if red == "sum" else (total / loss.size if loss.size else np.nan)


def _soft_margin_exact(args, kwargs):
    """softplus(-y x) in float64 (torch's log1p(exp(.)) overflows past ~709)."""
    x, y = np.broadcast_arrays(args[0], np.asarray(args[1], dtype=np.float64))
    return _reduce(np.logaddexp(0.0, -y * x), kwargs)


def _mlsm_exact(args, kwargs):
    """torch's formula with stable softplus terms, in float64."""
    x, y = args[0], np.asarray(args[1], dtype=np.float64)
    loss = y * np.logaddexp(0.0, -x) + (1 - y) * np.logaddexp(0.0, x)
    if kwargs.get("weight") is not None:
        loss = loss * kwargs["weight"]
    C = x.shape[-1] if x.ndim else 1
    return _reduce(loss.sum(axis=-1) / C if x.ndim else loss, kwargs)


def _mlsm_grad_allowance(ex, rounded):
    """torch's gradient w.r.t. the target is w g / C (log sigmoid(-x) -
    log sigmoid(x)): two terms of size |x| + log 2 that cancel to -x (ours
    forms -x w g / C directly), so torch's float64 value carries a rounding
    of about 2 u (|x| + log 2) |w g| / C, however small the true gradient
    (x = 1e-30 with w = 1e30: torch 0, ours the true -g / C). Allowed per
    element summed into the target (a broadcast target sums several); the
    cotangent N(0, 1) taken as 6; u: float64's unit roundoff (the
    reference's). None for the input's gradient."""
    x = rounded.get(id(ex.args[0]))
    y = rounded.get(id(ex.args[1]))
    w = ex.kwargs.get("weight")
    w = rounded.get(id(w), getattr(w, "values", None)) if isinstance(w, Arr) else None
    if x is None or y is None or x.size == 0 or y.size == 0:
        return (0.0, 0.0)
    with np.errstate(all="ignore"):
        C = x.shape[-1] if x.ndim else 1
        size = int(np.prod(np.broadcast_shapes(x.shape, y.shape)))
        wmax = float(np.max(np.abs(np.asarray(w, dtype=np.float64)))) if w is not None and \
            np.size(w) else 1.0
        a = (size // max(y.size, 1)) * 2.0 * 2.0**-53 * (float(np.max(np.abs(x))) + 0.7) \
            * wmax * 6.0 / C
    return (0.0, a if np.isfinite(a) else 0.0)


def _ranking_grad_allowance(ex, rounded):
    """The gradient w.r.t. a target that broadcasts is a sum over the
    broadcast elements of -(x1 - x2) g: with differences of both signs near
    1e30 two correct summation orders differ by up to n u sum|terms| (u of
    the computing dtype, float32 for half inputs; the cotangent N(0, 1)
    taken as 6). Nothing for the inputs' gradients (no sum)."""
    x1, x2, y = (rounded.get(id(a)) for a in ex.args[:3])
    out = []
    for i in ex.grad_idx():
        a = 0.0
        if i == 2 and x1 is not None and x2 is not None and y is not None and y.size:
            with np.errstate(all="ignore"):
                d = np.abs(np.subtract(x1, x2, dtype=np.float64))
                size = int(np.prod(np.broadcast_shapes(x1.shape, x2.shape, y.shape)))
                n = size // max(y.size, 1)
                u = 2.0**-53 if ex.dtype == "float64" else 2.0**-24
                a = n * u * n * float(np.max(d)) * 6.0 if d.size else 0.0
            a = a if np.isfinite(a) else 0.0
        out.append(a)
    return tuple(out)


_P = D.one([D.OMIT, 1, 2, 2, 3], [D.OMIT, 2])

LOSSES = [
    FuzzLoss("hinge_embedding_loss", _hinge, {"*red": D.reduction(), "margin": _MARGIN},
             module="HingeEmbeddingLoss"),
    FuzzLoss("soft_margin_loss", _soft_margin, {"*red": D.reduction()}, module="SoftMarginLoss",
             exact=_soft_margin_exact),
    FuzzLoss("multilabel_soft_margin_loss", _mlsm, {"*red": D.reduction()},
             module="MultiLabelSoftMarginLoss", exact=_mlsm_exact,
             grad_allowance=_mlsm_grad_allowance),
    FuzzLoss("multilabel_margin_loss", _mlm, {"*red": D.reduction()},
             module="MultiLabelMarginLoss", oob=_mlm_oob),
    FuzzLoss("multi_margin_loss", _mm, {"*red": D.reduction(), "p": _P, "margin": _MARGIN},
             module="MultiMarginLoss", oob=_mm_oob),
    FuzzLoss("margin_ranking_loss", _ranking, {"*red": D.reduction(), "margin": _MARGIN},
             module="MarginRankingLoss", grad_allowance=_ranking_grad_allowance),
]
