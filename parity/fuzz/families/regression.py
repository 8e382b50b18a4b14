"""Fuzz table: l1_loss, mse_loss, smooth_l1_loss, huber_loss."""

import math

import numpy as np
from hypothesis import strategies as st

from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss

INF, NAN = math.inf, math.nan


def _pair(tie_option=None, weight=False):
    """input and target (both differentiated), broadcastable shapes; ties
    x == y and |x - y| == the option named ``tie_option`` (beta / delta);
    with ``weight`` an optional elementwise weight of the input's shape
    (torch requires exactly that shape)."""

    def inputs(draw, ctx, opts):
        base = D.shape(draw, ctx)
        x = D.floats(draw, base, "real", ctx)
        y = D.floats(draw, D.broadcast_partner(draw, base, ctx), "real", ctx)
        offs = [0.0]
        k = opts.get(tie_option)
        if isinstance(k, (float, np.floating)) and math.isfinite(k):
            offs += [k, -k]
        elif tie_option is not None and k is None:
            offs += [1.0, -1.0]  # the default beta / delta
        x = D.tie(draw, x, y, offs)
        kw = {}
        if weight and draw(st.booleans()):
            wshape = base if draw(st.integers(0, 5)) else D.broadcast_partner(draw, base, ctx)
            kw["weight"] = Arr(D.floats(draw, wshape, "weight", ctx))
        return [Arr(x, grad=True), Arr(y, grad=True)], kw

    return inputs


# beta / delta: ordinary, 0 (smooth_l1's L1 limit), tiny, huge, inf, and
# values torch rejects (negative, NaN; delta 0).
_BETA = D.one([D.OMIT, 1.0, 0.5, 2.0, 0.0, 1e-3, 1e6, INF, NAN, -1.0], [D.OMIT, 0.5, 0.0])
_DELTA = D.one([D.OMIT, 1.0, 0.5, 2.0, 1e-3, 1e6, INF, NAN, 0.0, -1.0], [D.OMIT, 0.5])

LOSSES = [
    FuzzLoss("l1_loss", _pair(weight=True), {"*red": D.reduction()}, module="L1Loss"),
    FuzzLoss("mse_loss", _pair(weight=True), {"*red": D.reduction()}, module="MSELoss"),
    FuzzLoss("smooth_l1_loss", _pair("beta"), {"*red": D.reduction(), "beta": _BETA},
             module="SmoothL1Loss"),
    FuzzLoss("huber_loss", _pair("delta", weight=True),
             {"*red": D.reduction(legacy=False), "delta": _DELTA}, module="HuberLoss"),
]
