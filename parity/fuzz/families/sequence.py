"""Fuzz table: ctc_loss and linear_cross_entropy (the losses that need
adapters on each side)."""

import numpy as np
from hypothesis import strategies as st

from parity.cases import ctc as CTC
from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss, PerSide

# --------------------------------------------------------------------------
# ctc_loss: logits in, log_softmax on each side (the gradient is compared
# w.r.t. the logits: see known_differences 'ctc-true-gradient').


def _ctc_lengths(draw, values, as_tuple, dt):
    if as_tuple:
        return tuple(int(v) for v in values)
    return Arr(np.asarray(values, dtype=np.int64).astype(dt), dtype=dt)


def _ctc(draw, ctx, opts):
    blank = opts.get("blank", 0)
    C = D.size(draw, ctx, (2, 3, 5), (3,))
    T = D.size(draw, ctx, (1, 2, 4, 7), (4,))
    unbatched = not ctx.compiled and draw(st.integers(0, 4)) == 0
    N = 1 if unbatched else D.size(draw, ctx, (1, 2, 3, 0), (2,))
    S = D.size(draw, ctx, (0, 1, 2, 3), (2,))
    z = D.floats(draw, (T, C) if unbatched else (T, N, C), "logit", ctx)
    labels = [c for c in range(C) if c != blank] or [0]
    # sometimes a target equal to blank (torch computes garbage; we raise)
    pool = labels + ([blank] if 0 <= blank < C and draw(st.integers(0, 9)) == 0 else [])
    tl = [draw(st.integers(0, S)) for _ in range(N)]
    il = [draw(st.integers(0, T)) for _ in range(N)]
    dt = draw(st.sampled_from(("int64", "int64", "int32")))
    as_tuple = draw(st.integers(0, 3)) == 0
    concatenated = draw(st.booleans())
    if concatenated:
        t = np.array([draw(st.sampled_from(pool)) for _ in range(sum(tl))], np.int64)
    else:
        t = np.array([[draw(st.sampled_from(pool)) for _ in range(S)] for _ in range(N)],
                     np.int64).reshape(N, S)
        if unbatched and draw(st.booleans()):
            t = t.reshape(-1)[:tl[0]] if concatenated else t  # (1, S) padded
    targets = Arr(t.astype(dt), dtype=dt)
    if unbatched:
        how = draw(st.sampled_from(("0d", "1", "tuple")))
        if how == "0d" and not as_tuple:
            ilv = Arr(np.asarray(il[0], dtype=dt), dtype=dt)
            tlv = Arr(np.asarray(tl[0], dtype=dt), dtype=dt)
            return [Arr(z, grad=True), targets, ilv, tlv], {}
    return [Arr(z, grad=True), targets, _ctc_lengths(draw, il, as_tuple, dt),
            _ctc_lengths(draw, tl, as_tuple, dt)], {}


# --------------------------------------------------------------------------
# linear_cross_entropy: the bias goes positionally (so it is differentiated);
# ``options`` is a per-side object.


def _lce_ours(x, w, t, *rest, **kw):
    import mlx_losses.functional as F

    return F.linear_cross_entropy(x, w, t, linear_bias=rest[0] if rest else None, **kw)


def _lce_theirs(x, w, t, *rest, **kw):
    import torch.nn.functional as TF

    b = rest[0] if rest else None
    shape = None
    if x.dim() == 3:
        # torch takes (D) and (N, D) only: ours flattens (B, T, D) on both
        # paths ('lce-batched-input'); torch gets the flattened input
        shape = tuple(t.shape[:2])
        x = x.reshape(-1, x.shape[-1])
        t = t.reshape(-1) if not t.is_floating_point() else t.reshape(-1, t.shape[-1])
    out = TF.linear_cross_entropy(x, w, t, linear_bias=b, **kw)
    if shape is not None and out.dim() == 1:
        out = out.reshape(shape)
    return out


def _lce_options(batch, vocab):
    def ours():
        from mlx_losses import LinearCrossEntropyOptions

        return LinearCrossEntropyOptions(batch_chunk_size=batch, vocab_chunk_size=vocab)

    def theirs():
        import torch

        return torch.nn.LinearCrossEntropyOptions(batch_chunk_size=batch)

    return PerSide(
        f"mlx_losses.LinearCrossEntropyOptions(batch_chunk_size={batch}, vocab_chunk_size={vocab})",
        f"torch.nn.LinearCrossEntropyOptions(batch_chunk_size={batch})", ours, theirs)


_LCE_OPTIONS = D.one([D.OMIT, None, _lce_options(1, None), _lce_options(2, 2), _lce_options(3, 4)],
                     [D.OMIT, _lce_options(2, 2)])


def _lce(draw, ctx, opts):
    Dm = D.size(draw, ctx, (1, 3, 5), (3,))
    C = D.size(draw, ctx, (2, 3, 7), (3,))
    how = draw(st.sampled_from(("2d", "2d", "1d", "3d", "kdim"))) if not ctx.compiled else "2d"
    N = D.size(draw, ctx, (0, 1, 2, 5), (4,))
    extra = ()
    if how == "1d":
        xshape, tshape = (Dm,), ()
    elif how == "3d":
        xshape, tshape = (2, N, Dm), (2, N)
    else:
        xshape, tshape = (N, Dm), (N,)
    if how == "kdim":
        extra = (D.size(draw, ctx, (1, 2), (2,)),)
        tshape = tshape + extra
    x = Arr(D.floats(draw, xshape, "real", ctx), grad=True)
    w = Arr(D.floats(draw, (C,) + extra + (Dm,), "real", ctx), grad=True)
    if draw(st.integers(0, 3)) == 0:
        pshape = tshape[:-len(extra)] + (C,) + extra if extra else tshape + (C,)
        t = Arr(D.floats(draw, pshape, "prob", ctx), grad=True)
    else:
        dt = draw(st.sampled_from(("int64", "int64", "int32")))
        ign = opts.get("ignore_index", None)
        t = Arr(D.indices(draw, tshape, C, ignore=ign if draw(st.booleans()) else None, dtype=dt),
                dtype=dt)
    args = [x, w, t]
    if draw(st.booleans()):
        args.append(Arr(D.floats(draw, (C,) + extra, "real", ctx), grad=True))
    kw = {}
    if draw(st.booleans()):
        kw["weight"] = Arr(D.floats(draw, (C,), "weight", ctx))
    return args, kw


def _lce_class_weight(ex, rounded):
    w = ex.kwargs.get("weight")
    if not isinstance(w, Arr):
        return None
    return rounded.get(id(w), np.asarray(w.values, dtype=np.float64))


def _lce_grad_allowance(ex, rounded):
    """The gradients are sums of products: d input = du W and d linear_weight
    = du^T x (du: the logits' gradient), d linear_bias = the sum of du over
    the tokens, d target = lse - z with z = x W^T + b itself a sum. Two
    correct implementations (a BLAS's FMA, another order) differ by up to
    the sums' rounding bound, n u sum|terms|, which with values of both
    signs near 1e30 is far above the result (exactly 0 where ours is 0 and
    torch's is FMA noise). Per gradient: n u B max|factor|, with B >= sum
    over a row of |du| (softmax, one-hot, smoothing, soft target: at most 2
    + sum|target|, times the class weights' sum and the cotangent, N(0, 1):
    taken as 6); u: the
    computing dtype's unit roundoff (float32 for half inputs)."""
    vals = [rounded.get(id(a)) if isinstance(a, Arr) and a.floating else None for a in ex.args]
    x, w = vals[0], vals[1]
    if x is None or w is None or x.size == 0 or w.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        mx_ = lambda v: float(np.max(np.abs(v))) if v is not None and v.size else 0.0  # noqa: E731
        t, cw = vals[2], _lce_class_weight(ex, rounded)
        bound = 6.0 * (2.0 + (float(np.max(np.sum(np.abs(t), axis=-1))) if t is not None and t.ndim
                              else 0.0)) * max(1.0, float(np.sum(np.abs(cw))) if cw is not None
                                               else 1.0)
        n = max(x.size // x.shape[-1], 1)
        c, d = w.shape[0], x.shape[-1]
        u = 2.0**-53 if ex.dtype == "float64" else 2.0**-24
        per = {0: c * u * bound * mx_(w), 1: n * n * u * bound * mx_(x), 2: d * u * 6.0 * (
            mx_(x) * mx_(w) + mx_(vals[3] if len(vals) > 3 else None)), 3: n * n * u * bound}
    out = tuple(per[i] if np.isfinite(per[i]) else 0.0 for i in ex.grad_idx())
    return out


LOSSES = [
    FuzzLoss("ctc_loss", _ctc,
             {"*red": D.reduction(legacy=False), "blank": D.one([D.OMIT, 0, 1, -1], [D.OMIT]),
              "zero_infinity": D.one([D.OMIT, True, False])},
             module="CTCLoss", ours=CTC._ours, theirs=CTC._theirs, module_call=CTC._module_call,
             keyword_call=False),
    FuzzLoss("linear_cross_entropy", _lce,
             {"*red": D.reduction(legacy=False),
              "ignore_index": D.one([D.OMIT, None, -100, 1], [D.OMIT]),
              "label_smoothing": D.one([D.OMIT, 0.0, 0.1, 1.0, -0.1], [D.OMIT, 0.1]),
              "options": _LCE_OPTIONS},
             ours=_lce_ours, theirs=_lce_theirs, keyword_call=False,
             grad_allowance=_lce_grad_allowance),
]
