"""Fuzz table: kl_div, poisson_nll_loss, gaussian_nll_loss."""

from hypothesis import strategies as st

from parity.fuzz import draw as D
from parity.fuzz.example import Arr, FuzzLoss


def _kl(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x = D.floats(draw, base, "logprob" if draw(st.integers(0, 3)) else "real", ctx)
    tshape = D.broadcast_partner(draw, base, ctx)
    kind = "logprob" if opts.get("log_target") is True else "prob"
    y = D.floats(draw, tshape, kind, ctx)
    return [Arr(x, grad=True), Arr(y, grad=True)], {}


def _poisson(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x = D.floats(draw, base, "real" if opts.get("log_input", True) else "nonneg", ctx)
    # counts: grid values (0, 1/8, ... 4) hit Stirling's t <= 1 mask exactly
    y = D.floats(draw, D.broadcast_partner(draw, base, ctx), "nonneg", ctx)
    return [Arr(x, grad=True), Arr(y, grad=True)], {}


def _gaussian(draw, ctx, opts):
    base = D.shape(draw, ctx)
    x = D.floats(draw, base, "real", ctx)
    y = D.floats(draw, D.broadcast_partner(draw, base, ctx, same=0.8), "real", ctx)
    how = draw(st.sampled_from(("same", "fewer", "one", "float", "other")))
    if how == "float":
        return [Arr(x, grad=True), Arr(y, grad=True),
                draw(st.sampled_from((0.5, 1.0, 0.0, 2.0, 1e-8)))], {}
    if how == "same" or not base:
        vshape = base
    elif how == "fewer":
        vshape = base[:-1]
    elif how == "one":
        i = draw(st.integers(0, len(base) - 1))
        vshape = base[:i] + (1,) + base[i + 1:]
    else:
        vshape = D.broadcast_partner(draw, base, ctx)
    v = D.floats(draw, vshape, "nonneg", ctx)
    return [Arr(x, grad=True), Arr(y, grad=True), Arr(v, grad=True)], {}


_BOOL = D.one([D.OMIT, True, False])

LOSSES = [
    FuzzLoss("kl_div", _kl,
             {"*red": D.reduction(extra=("batchmean",)),
              # a non-bool log_target: torch raises a TypeError
              "log_target": D.one([D.OMIT, True, False, True, 1], [D.OMIT, True])},
             module="KLDivLoss"),
    FuzzLoss("poisson_nll_loss", _poisson,
             {"*red": D.reduction(), "log_input": _BOOL, "full": _BOOL,
              "eps": D.one([D.OMIT, 1e-8, 0.25, 0.0, 1e-30], [D.OMIT])},
             module="PoissonNLLLoss"),
    FuzzLoss("gaussian_nll_loss", _gaussian,
             {"*red": D.reduction(legacy=False), "full": _BOOL,
              "eps": D.one([D.OMIT, 1e-6, 0.1, 1e-12, 0.0], [D.OMIT, 0.1])},
             module="GaussianNLLLoss"),
]
