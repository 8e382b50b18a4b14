"""Fuzz table: pairwise_distance, cosine_similarity, cosine_embedding_loss,
triplet_margin_loss, triplet_margin_with_distance_loss."""

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from parity.cases import embedding as E
from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss, PerSide

INF, NAN = math.inf, math.nan

# p-norms: torch takes any real p (0: a count, negative, +-inf)
_P = D.one([D.OMIT, 2.0, 1.0, 0.0, 3.0, 1.5, 0.5, -1.5, INF, -INF], [D.OMIT, 1.0])
_EPS = D.one([D.OMIT, 1e-6, 0.0, 0.5], [D.OMIT])


def _pair_rows(draw, ctx, opts, min_dims=0):
    base = D.shape(draw, ctx, min_dims=min_dims)
    x1 = D.floats(draw, base, "real", ctx)
    x2 = D.floats(draw, D.broadcast_partner(draw, base, ctx), "real", ctx)
    x1 = D.tie(draw, x1, x2, [0.0])  # x1 == x2: a zero difference (the norm's kink)
    return [Arr(x1, grad=True), Arr(x2, grad=True)], {}


def _cosine_embedding(draw, ctx, opts):
    D_ = D.size(draw, ctx, (1, 2, 3, 5), (3,))
    if draw(st.integers(0, 4)) == 0 and not ctx.compiled:
        shape, tshape = (D_,), ()
    else:
        N = D.size(draw, ctx, (0, 1, 2, 4), (2,))
        shape, tshape = (N, D_), (N,)
    x1 = D.floats(draw, shape, "real", ctx)
    x2 = D.floats(draw, shape if draw(st.integers(0, 4)) else (1, D_) if len(shape) == 2 else shape,
                  "real", ctx)
    if draw(st.booleans()) and x1.size:
        x1 = np.where(draw(hnp.arrays(np.bool_, x1.shape[:-1] + (1,), elements=st.booleans(),
                                      fill=st.nothing())), 0.0, x1)  # zero vectors
    y = D.floats(draw, tshape, "sign", ctx)
    return [Arr(x1, grad=True), Arr(x2, grad=True), Arr(y)], {}


def _triplet(draw, ctx, opts):
    if isinstance(opts.get("distance_function"), PerSide):
        # our adapters (parity/cases/embedding.py) reduce over the last axis
        base = D.shape(draw, ctx, min_dims=1, sizes=(1, 2, 3))
    else:
        base = D.shape(draw, ctx, sizes=(0, 1, 2, 3))
    a = D.floats(draw, base, "real", ctx)
    p = D.floats(draw, D.broadcast_partner(draw, base, ctx, allow_bad=False) if draw(st.integers(0, 4)) == 0
                 else base, "real", ctx)
    n = D.floats(draw, base, "real", ctx)
    if a.size and p.shape == a.shape:
        how = draw(st.sampled_from(("none", "swap_tie", "ap_equal", "an_equal")))
        if how == "swap_tie":
            with np.errstate(all="ignore"):
                p = 2 * n - a  # d(p, n) == d(a, n): swap's tie, exactly (grid values)
        elif how == "ap_equal":
            p = a.copy()
        elif how == "an_equal":
            n = a.copy()
    return [Arr(a, grad=True), Arr(p, grad=True), Arr(n, grad=True)], {}


def _cosine_grad_allowance(ex, rounded) -> float:
    """d cos / d x1 = x2 / (|x1| |x2|) - cos x1 / |x1|^2: two terms of size
    1 / |x1| that cancel where x1 and x2 are (anti)parallel, so each
    framework's gradient carries a rounding of about u / |x1| (u: the
    computing dtype's unit roundoff; float32 for half inputs), however small
    the true gradient. This allows 8 u / min(|x1|, |x2|) (norms clamped by
    torch's 1e-8 floor)."""
    dim = ex.kwargs.get("dim", 1) if ex.loss.name == "cosine_similarity" else -1
    x1, x2 = (rounded[id(a)] for a in ex.args[:2])
    try:
        b1, b2 = np.broadcast_arrays(x1, x2)
        with np.errstate(all="ignore"):
            n = np.minimum(np.linalg.norm(b1, axis=dim), np.linalg.norm(b2, axis=dim))
    except Exception:  # shapes torch refuses, a dim out of range: no allowance
        return 0.0
    n = n[np.isfinite(n)]
    if n.size == 0:
        return 0.0
    u = 2.0**-53 if ex.dtype == "float64" else 2.0**-24
    return 8 * u / max(float(np.min(n)), 1e-8)


def _triplet_grad_allowance(ex, rounded) -> float:
    """With the cosine distance (``1 - cosine_similarity`` over dim 1), the
    cosine losses' allowance over the three inputs' norms; else none."""
    if not getattr(ex.kwargs.get("distance_function"), "ours_text", "").endswith("_cosine_distance"):
        return 0.0
    try:
        arrays = np.broadcast_arrays(*(rounded[id(a)] for a in ex.args[:3]))
        with np.errstate(all="ignore"):
            n = np.concatenate([np.ravel(np.linalg.norm(b, axis=1)) for b in arrays])
    except Exception:  # shapes torch refuses, no dim 1: no allowance
        return 0.0
    n = n[np.isfinite(n)]
    if n.size == 0:
        return 0.0
    u = 2.0**-53 if ex.dtype == "float64" else 2.0**-24
    return 8 * u / max(float(np.min(n)), 1e-8)


_DISTANCE = D.one([
    D.OMIT, None,
    PerSide("parity.cases.embedding._mx_l1", "parity.cases.embedding._torch_l1",
            lambda: E._mx_l1, lambda: E._torch_l1),
    PerSide("parity.cases.embedding._mx_cosine_distance",
            "parity.cases.embedding._torch_cosine_distance",
            lambda: E._mx_cosine_distance, lambda: E._torch_cosine_distance),
    PerSide("parity.cases.embedding._mx_linf", "parity.cases.embedding._torch_linf",
            lambda: E._mx_linf, lambda: E._torch_linf),
], [D.OMIT])

_TRIPLET_MARGIN = D.one([D.OMIT, 1.0, 0.25, 5.0, 1e6, 0.0, -1.0, INF, NAN], [D.OMIT, 0.5])

LOSSES = [
    FuzzLoss("pairwise_distance", _pair_rows,
             {"p": _P, "eps": _EPS, "keepdim": D.one([D.OMIT, True, False])},
             module="PairwiseDistance"),
    FuzzLoss("cosine_similarity", lambda draw, ctx, opts: _pair_rows(draw, ctx, opts, min_dims=1),
             {"dim": D.one([D.OMIT, 0, 1, -1, 2], [D.OMIT, -1]),
              "eps": D.one([D.OMIT, 1e-8, 0.0, 0.5], [D.OMIT])},
             module="CosineSimilarity", grad_allowance=_cosine_grad_allowance),
    FuzzLoss("cosine_embedding_loss", _cosine_embedding,
             {"*red": D.reduction(), "margin": D.one([D.OMIT, 0.0, 0.3, -0.5, 1.0, -1.0], [D.OMIT, 0.3])},
             module="CosineEmbeddingLoss", grad_allowance=_cosine_grad_allowance),
    FuzzLoss("triplet_margin_loss", _triplet,
             {"*red": D.reduction(), "margin": _TRIPLET_MARGIN, "p": _P, "eps": _EPS,
              "swap": D.one([D.OMIT, True, False])},
             module="TripletMarginLoss"),
    FuzzLoss("triplet_margin_with_distance_loss", _triplet,
             {"*red": D.reduction(legacy=False), "margin": _TRIPLET_MARGIN,
              "swap": D.one([D.OMIT, True, False]), "distance_function": _DISTANCE},
             module="TripletMarginWithDistanceLoss", grad_allowance=_triplet_grad_allowance),
]
