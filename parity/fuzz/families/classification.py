"""Fuzz table: cross_entropy, nll_loss, binary_cross_entropy(_with_logits)."""

import numpy as np
from hypothesis import strategies as st

from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss


def class_layout(draw, ctx, C_sizes=(1, 2, 3, 5)):
    """(input shape, index-target shape, C) in one of torch's layouts:
    unbatched (C), (N, C), or K-dimensional (N, C, d1[, d2])."""
    C = D.size(draw, ctx, C_sizes, (3,))
    how = draw(st.sampled_from(("unbatched", "2d", "2d", "kdim")))
    if how == "unbatched":
        return (C,), (), C
    N = D.size(draw, ctx, (0, 1, 2, 4), (2,))
    if how == "2d":
        return (N, C), (N,), C
    sp = tuple(D.size(draw, ctx, (0, 1, 2, 3), (2,)) for _ in range(draw(st.integers(1, 2))))
    return (N, C) + sp, (N,) + sp, C


def class_weight(draw, ctx, C):
    """An optional (C,) class weight (zeros allowed: a weighted mean of 0/0)."""
    if not draw(st.booleans()):
        return {}
    return {"weight": Arr(D.floats(draw, (C,), "weight", ctx))}


def index_target(draw, ctx, shape, C, ignore_index):
    dt = draw(st.sampled_from(("int64", "int64", "int64", "int32", "uint8")))
    ignore = ignore_index if draw(st.booleans()) else None
    if ignore is not None and dt == "uint8" and not 0 <= ignore < 256:
        ignore = None
    vals = D.indices(draw, shape, C, ignore=ignore, oob=ctx.oob, dtype=dt)
    return Arr(vals, dtype=dt)


def _oob_class_index(target_pos=1):
    """Out-of-range index positions of a class-index target (not the
    ignore_index), and the args with them replaced by class 0."""

    def oob(args, kwargs):
        x, t = args[0], args[target_pos]
        if t.floating:
            return None, args
        C = x.values.shape[0] if x.values.ndim == 1 else x.values.shape[1]
        tv = np.asarray(t.values).astype(np.int64)
        ign = kwargs.get("ignore_index", -100)
        mask = ((tv < 0) | (tv >= C)) & (tv != ign)
        fixed = list(args)
        fixed[target_pos] = Arr(np.where(mask, 0, tv).astype(t.dtype), dtype=t.dtype)
        return mask, fixed

    return oob


def _ce_inputs(probs: bool):
    def inputs(draw, ctx, opts):
        xshape, tshape, C = class_layout(draw, ctx)
        x = Arr(D.floats(draw, xshape, "real", ctx), grad=True)
        if probs and draw(st.integers(0, 3)) == 0:
            t = Arr(D.floats(draw, xshape, "prob", ctx), grad=True)
        else:
            t = index_target(draw, ctx, tshape, C, opts.get("ignore_index", -100))
        return [x, t], class_weight(draw, ctx, C)

    return inputs


_IGNORE = D.one([D.OMIT, D.OMIT, -100, -1, 0, 2, 50], [D.OMIT, -100, 0])
_SMOOTHING = D.one([D.OMIT, 0.0, 0.1, 0.5, 1.0, -0.1, 1.5], [D.OMIT, 0.1])


def _bce_inputs(logits: bool):
    def inputs(draw, ctx, opts):
        base = D.shape(draw, ctx)
        x = D.floats(draw, base, "real" if logits else "prob", ctx)
        tshape = base if draw(st.integers(0, 7)) else D.broadcast_partner(draw, base, ctx)
        y = D.floats(draw, tshape, "prob", ctx)
        kw = {}
        if draw(st.booleans()):
            kw["weight"] = Arr(D.floats(draw, D.broadcast_partner(draw, base, ctx), "weight", ctx))
        if logits and draw(st.booleans()):
            pshape = base[-1:] if base and draw(st.booleans()) else D.broadcast_partner(draw, base, ctx)
            kw["pos_weight"] = Arr(D.floats(draw, pshape, "weight", ctx))
        return [Arr(x, grad=True), Arr(y, grad=True)], kw

    return inputs


LOSSES = [
    FuzzLoss("cross_entropy", _ce_inputs(probs=True),
             {"*red": D.reduction(), "ignore_index": _IGNORE, "label_smoothing": _SMOOTHING},
             module="CrossEntropyLoss", oob=_oob_class_index()),
    FuzzLoss("nll_loss", _ce_inputs(probs=False), {"*red": D.reduction(), "ignore_index": _IGNORE},
             module="NLLLoss", oob=_oob_class_index()),
    FuzzLoss("binary_cross_entropy", _bce_inputs(logits=False), {"*red": D.reduction()},
             module="BCELoss"),
    FuzzLoss("binary_cross_entropy_with_logits", _bce_inputs(logits=True), {"*red": D.reduction()},
             module="BCEWithLogitsLoss"),
]
