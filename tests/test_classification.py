"""Classification losses without torch: identities, custom VJPs, Modules,
transforms, dtypes and errors."""

import math
import warnings

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F
from mlx_losses._device import _forced_branches
from mlx_losses.losses import classification as K


def _logits(shape, seed=0, dtype=mx.float32, scale=1.5):
    rng = np.random.default_rng(seed)
    return mx.array((scale * rng.normal(size=shape)).astype(np.float32)).astype(dtype)


def _targets(shape, C, seed=1, ignore=None, frac=0.3):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, size=shape)
    if ignore is not None:
        t = np.where(rng.uniform(size=shape) < frac, ignore, t)
    return mx.array(t.astype(np.int32))


def _weight(C, seed=2):
    return mx.array(np.random.default_rng(seed).uniform(0.2, 2.0, size=C).astype(np.float32))


def _close(a, b, rtol=1e-5, atol=1e-6):
    a = np.array(a.astype(mx.float32) if isinstance(a, mx.array) else a, dtype=np.float64)
    b = np.array(b.astype(mx.float32) if isinstance(b, mx.array) else b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _plain_ce(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """The textbook formula on (N, C) logits, differentiated by MLX's autodiff."""
    C = x.shape[1]
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    keep = (t != ignore_index).astype(x.dtype)
    safe = mx.where(t == ignore_index, 0, t)
    w = mx.ones((C,), dtype=x.dtype) if weight is None else weight
    wt = w[safe] * keep
    nll = -mx.take_along_axis(logp, safe[:, None], axis=1).squeeze(1) * wt
    smooth = -mx.sum(logp * w, axis=1) * keep
    loss = (1 - eps) * nll + eps / C * smooth
    if reduction == "none":
        return loss
    if reduction == "sum":
        return mx.sum(loss)
    return mx.sum(loss) / mx.sum(wt)


# --------------------------------------------------------------------------
# cross_entropy identities


@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("with_weight", [False, True])
def test_shift_invariance(eps, with_weight):
    x = _logits((6, 9))
    t = _targets((6,), 9, ignore=-100)
    w = _weight(9) if with_weight else None
    for red in ("none", "mean", "sum"):
        a = F.cross_entropy(x, t, weight=w, reduction=red, label_smoothing=eps)
        b = F.cross_entropy(x + 7.25, t, weight=w, reduction=red, label_smoothing=eps)
        _close(a, b, rtol=1e-5, atol=1e-5)
    probs = mx.softmax(_logits((6, 9), seed=5), axis=1)
    _close(F.cross_entropy(x, probs, label_smoothing=eps),
           F.cross_entropy(x - 3.5, probs, label_smoothing=eps), atol=1e-5)


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_equal_logits_give_log_C(eps):
    C = 13
    x = mx.full((5, C), 0.75)
    t = _targets((5,), C)
    w = _weight(C)
    for weight in (None, w):
        out = F.cross_entropy(x, t, weight=weight, label_smoothing=eps, reduction="none")
        if weight is None:
            _close(out, np.full(5, math.log(C)))
        out = F.cross_entropy(x, t, weight=weight, label_smoothing=eps)
        expect = math.log(C)
        if weight is not None:
            # the smoothing term carries every class's weight, the mean
            # divides by the targets' weights only (torch's formula)
            wn = np.array(weight, dtype=np.float64)
            ratio = len(t) * wn.sum() / C / wn[np.array(t)].sum()
            expect = (1 - eps) * math.log(C) + eps * ratio * math.log(C)
        assert math.isclose(out.item(), expect, rel_tol=1e-6)


@pytest.mark.parametrize("shape, tshape", [((6, 5), (6,)), ((2, 5, 3, 4), (2, 3, 4)), ((5,), ())])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_is_nll_of_log_softmax(shape, tshape, reduction):
    x = _logits(shape)
    t = _targets(tshape, 5, ignore=-100 if tshape else None)
    w = _weight(5)
    cdim = 0 if len(shape) == 1 else 1
    logp = x - mx.logsumexp(x, axis=cdim, keepdims=True)
    for weight in (None, w):
        ce = F.cross_entropy(x, t, weight=weight, reduction=reduction)
        nll = F.nll_loss(logp, t, weight=weight, reduction=reduction)
        _close(ce, nll, atol=1e-5)


@pytest.mark.parametrize("eps", [0.1, 0.4])
def test_label_smoothing_is_a_mixture_with_the_uniform_target(eps):
    # index targets with smoothing == probability targets (1 - eps) onehot + eps / C
    C = 8
    x = _logits((7, C))
    t = _targets((7,), C)
    onehot = (mx.arange(C)[None, :] == t[:, None]).astype(mx.float32)
    soft = onehot * (1 - eps) + eps / C
    for red in ("none", "mean", "sum"):
        _close(F.cross_entropy(x, t, label_smoothing=eps, reduction=red),
               F.cross_entropy(x, soft, reduction=red), atol=1e-5)
        # ... and smoothing the one-hot probabilities inside gives the same
        _close(F.cross_entropy(x, onehot, label_smoothing=eps, reduction=red),
               F.cross_entropy(x, soft, reduction=red), atol=1e-5)
    # (1 - eps) * CE + eps * mean_c(-log p_c), elementwise
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    mix = (1 - eps) * F.cross_entropy(x, t, reduction="none") + eps * -mx.mean(logp, axis=1)
    _close(F.cross_entropy(x, t, label_smoothing=eps, reduction="none"), mix, atol=1e-5)


def test_weighted_smoothing_mean_divides_by_target_weights():
    # torch: (1-eps) * nll_mean + eps/C * sum(smooth) / sum(w[t]) over counted targets
    C, eps = 6, 0.3
    x = _logits((9, C))
    t = _targets((9,), C, ignore=-100)
    w = _weight(C)
    out = F.cross_entropy(x, t, weight=w, label_smoothing=eps)
    _close(out, _plain_ce(x, t, weight=w, eps=eps), atol=1e-5)
    per = F.cross_entropy(x, t, weight=w, label_smoothing=eps, reduction="none")
    keep = np.array(t) != -100
    wt = np.where(keep, np.array(w)[np.where(keep, np.array(t), 0)], 0.0)
    assert math.isclose(out.item(), float(np.array(per).sum() / wt.sum()), rel_tol=1e-5)


def test_ignored_targets_and_all_ignored():
    x = _logits((5, 4))
    t = mx.array([0, -100, 2, -100, 3])
    out = F.cross_entropy(x, t, reduction="none")
    assert out[1].item() == 0.0 and out[3].item() == 0.0
    g = mx.grad(lambda a: F.cross_entropy(a, t, label_smoothing=0.2))(x)
    assert np.all(np.array(g)[[1, 3]] == 0.0)
    t_all = mx.full((5,), -100)
    assert math.isnan(F.cross_entropy(x, t_all).item())
    assert math.isnan(F.cross_entropy(x, t_all, weight=_weight(4), label_smoothing=0.1).item())
    assert F.cross_entropy(x, t_all, reduction="sum").item() == 0.0
    # ignore_index inside [0, C) and outside it
    _close(F.cross_entropy(x, mx.array([0, 1, 2, 1, 3]), ignore_index=1, reduction="sum"),
           F.cross_entropy(x, mx.array([0, -100, 2, -100, 3]), reduction="sum"))
    _close(F.cross_entropy(x, mx.array([0, 9, 2, 9, 3]), ignore_index=9),
           F.cross_entropy(x, t))


def test_empty_batch():
    x = mx.zeros((0, 5))
    t = mx.zeros((0,), dtype=mx.int32)
    assert math.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert F.cross_entropy(x, t, reduction="none").shape == (0,)
    assert math.isnan(F.cross_entropy(x, mx.zeros((0, 5))).item())
    g = mx.grad(lambda a: F.cross_entropy(a, t, reduction="sum"))(x)
    assert g.shape == (0, 5)


def test_layouts_1d_and_kdim():
    x = _logits((5,))
    assert F.cross_entropy(x, mx.array(2), reduction="none").shape == ()
    _close(F.cross_entropy(x, mx.array([2])), F.cross_entropy(x[None], mx.array([2])))
    # (N, C, d1, d2) == the same rows as (N*d1*d2, C)
    x4 = _logits((2, 5, 3, 4))
    t4 = _targets((2, 3, 4), 5)
    rows = mx.moveaxis(x4, 1, -1).reshape(-1, 5)
    _close(F.cross_entropy(x4, t4, reduction="none").reshape(-1),
           F.cross_entropy(rows, t4.reshape(-1), reduction="none"))


def test_probability_targets_weight_and_mean():
    C = 6
    x = _logits((4, C))
    y = mx.softmax(_logits((4, C), seed=9), axis=1)
    w = _weight(C)
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    per = -mx.sum(logp * y * w, axis=1)
    _close(F.cross_entropy(x, y, weight=w, reduction="none"), per)
    # 'mean' divides by the number of rows, not by the weights
    _close(F.cross_entropy(x, y, weight=w), mx.mean(per))
    # gradient w.r.t. the target: -w log p
    g = mx.grad(lambda b: F.cross_entropy(x, b, weight=w, reduction="sum"))(y)
    _close(g, -logp * w, atol=1e-6)


# --------------------------------------------------------------------------
# the custom VJP, against autodiff of the plain formula


@pytest.mark.parametrize("eps", [0.0, 0.15])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_custom_vjp_matches_autodiff_of_plain_formula(eps, with_weight, reduction):
    x = _logits((8, 11))
    t = _targets((8,), 11, ignore=-100)
    w = _weight(11) if with_weight else None
    out = F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=eps)
    cot = _logits(out.shape, seed=3)

    def ours(a):
        return F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=eps)

    def plain(a):
        return _plain_ce(a, t, weight=w, reduction=reduction, eps=eps)

    (o1,), (g1,) = mx.vjp(ours, [x], [cot])
    (o2,), (g2,) = mx.vjp(plain, [x], [cot])
    _close(o1, o2, atol=1e-5)
    _close(g1, g2, atol=1e-6)


def test_custom_function_returns_a_cotangent_per_primal():
    x = _logits((4, 6))
    t = _targets((4,), 6)
    w = _weight(6)
    fn = K._ce_index_fn(-100, 0.1, True)
    # outputs: the loss and the residuals (the exps and their row sums)
    cot = [mx.ones((4,)), mx.zeros((4, 6)), mx.zeros((4, 1))]
    _, grads = mx.vjp(lambda a, b, c: fn(a, b, c), [x, t, w], cot)
    assert len(grads) == 3
    assert grads[0].shape == x.shape
    assert grads[1].dtype == t.dtype and not np.any(np.array(grads[1]))
    assert not np.any(np.array(grads[2]))
    fn0 = K._ce_index_fn(-100, 0.0, False)
    _, grads = mx.vjp(lambda a, b: fn0(a, b), [x, t], cot)
    assert len(grads) == 2 and grads[1].dtype == t.dtype


def test_gradient_w_r_t_weight_is_zero():
    x = _logits((4, 6))
    t = _targets((4,), 6)
    gw = mx.grad(lambda w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1))(_weight(6))
    assert not np.any(np.array(gw))


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_inputs_accumulate_in_float32(dtype):
    C = 20000
    x = _logits((4, C), dtype=dtype, scale=3.0)
    t = _targets((4,), C)
    out = F.cross_entropy(x, t)
    assert out.dtype == dtype
    ref = _plain_ce(x.astype(mx.float32), t)
    eps = 2.0**-10 if dtype == mx.float16 else 2.0**-7
    assert abs(out.item() - ref.item()) <= eps * abs(ref.item())
    g = mx.grad(lambda a: F.cross_entropy(a, t, reduction="sum"))(x)
    assert g.dtype == dtype
    g_ref = mx.grad(lambda a: _plain_ce(a, t, reduction="sum"))(x.astype(mx.float32))
    _close(g, g_ref, rtol=0, atol=eps * 1.0)


# --------------------------------------------------------------------------
# transforms


@pytest.mark.parametrize(
    "kw", [{}, {"label_smoothing": 0.1}, {"weight": "w", "ignore_index": 2}]
)
def test_compile_grad_vmap(kw):
    x = _logits((6, 7))
    t = _targets((6,), 7)
    kw = {k: (_weight(7) if v == "w" else v) for k, v in kw.items()}
    f = lambda a: F.cross_entropy(a, t, **kw)
    vg = mx.value_and_grad(f)
    v1, g1 = vg(x)
    v2, g2 = mx.compile(vg)(x)
    _close(v1, v2)
    _close(g1, g2)
    per = mx.vmap(lambda a, b: F.cross_entropy(a, b, **{**kw, "reduction": "none"}))(x, t)
    _close(per, F.cross_entropy(x, t, **{**kw, "reduction": "none"}))
    # per-example gradients under vmap(grad) == rows of the summed loss's grad
    gs = mx.vmap(mx.grad(lambda a, b: F.cross_entropy(a, b, **{**kw, "reduction": "sum"})))(x, t)
    _close(gs, mx.grad(lambda a: F.cross_entropy(a, t, **{**kw, "reduction": "sum"}))(x))


def test_compile_with_probability_targets_and_nll():
    x = _logits((5, 4))
    y = mx.softmax(_logits((5, 4), seed=4), axis=1)
    f = mx.compile(mx.grad(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), argnums=(0, 1)))
    g = mx.grad(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2), argnums=(0, 1))(x, y)
    for a, b in zip(f(x, y), g):
        _close(a, b)
    t = _targets((5,), 4)
    _close(mx.compile(lambda a: F.nll_loss(a, t))(x), F.nll_loss(x, t))


@pytest.mark.skipif(not hasattr(mx.fast, "cross_entropy"), reason="this MLX has no mx.fast.cross_entropy")
def test_fused_path_matches_the_custom_vjp(monkeypatch):
    # mx.fast.cross_entropy is chosen off the CPU; the GPU branches take it
    # here (its CPU fallback), so that the masking and weighting around it
    # are tested. It is really taken:
    x = _logits((6, 5))
    t = mx.array([0, -100, 4, 2, -100, 1])
    w = _weight(5)
    eager = {red: F.cross_entropy(x, t, weight=w, reduction=red) for red in ("none", "mean")}
    g_eager = mx.grad(lambda a: F.cross_entropy(a, t, weight=w))(x)
    with _forced_branches("gpu"):
        assert K._use_fused(x, 0.0) and not K._use_fused(x, 0.1)
        for red, ref in eager.items():
            _close(F.cross_entropy(x, t, weight=w, reduction=red), ref, atol=1e-6)
        _close(mx.grad(lambda a: F.cross_entropy(a, t, weight=w))(x), g_eager, atol=1e-6)


@pytest.mark.skipif(not hasattr(mx.fast, "cross_entropy"), reason="this MLX has no mx.fast.cross_entropy")
def test_fused_path_accumulates_half_logits_in_float32():
    # the GPU kernels accumulate in float32; MLX's CPU fallback, which the
    # GPU branches reach here, in the logits' dtype (1e-2 off at C = 1000)
    x = _logits((64, 1000), dtype=mx.float16, scale=3.0)
    t = _targets((64,), 1000)
    want = F.cross_entropy(x, t, reduction="none")  # float32 accumulation
    with _forced_branches("gpu"):
        assert K._use_fused(x, 0.0)
        got = F.cross_entropy(x, t, reduction="none")
    # within one float16 ulp of values in [4, 8)
    assert np.abs(np.array(got.astype(mx.float32)) - np.array(want.astype(mx.float32))).max() <= 2.0**-8


def test_fused_path_gives_nan_for_a_row_holding_inf():
    # the fused kernel's logsumexp of [inf, ...] is inf, so the row's loss
    # was inf; torch's (and the CPU branch's) is NaN, with NaN gradients.
    # Rows: +inf (target finite), +inf with the target at -inf, target at
    # -inf alone (a true inf), NaN, finite.
    inf = math.inf
    x = mx.array([[inf, 0.0, 1.0], [inf, -inf, 0.5], [-inf, 0.0, 1.0],
                  [math.nan, 0.0, 1.0], [0.5, -0.2, 1.0]])
    t = mx.array([1, 1, 0, 2, 2])
    f = lambda a: F.cross_entropy(a, t, reduction="sum")  # noqa: E731
    out = {}
    for kind in ("cpu", "gpu"):
        with _forced_branches(kind):
            out[kind] = (F.cross_entropy(x, t, reduction="none"), mx.grad(f)(x))
    loss, grad = out["gpu"]
    assert np.isnan(np.array(loss[[0, 1, 3]])).all() and loss[2].item() == inf
    assert np.isnan(np.array(grad[[0, 1, 3]])).all() and np.isfinite(np.array(grad[[2, 4]])).all()
    for a, b in zip(out["gpu"], out["cpu"]):
        assert np.allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------
# out-of-range class indices: an error in eager mode, NaN otherwise


def test_out_of_range_index_raises_in_eager_mode(read_path):
    x = _logits((3, 4))
    for bad, fn in ((4, F.cross_entropy), (-1, F.cross_entropy), (7, F.nll_loss)):
        t = mx.array([0, bad, 1])
        with pytest.raises(ValueError, match=rf"`target` must hold class indices in \[0, 4\).*Target {bad} is out of bounds"):
            fn(x, t)
        with pytest.raises(RuntimeError):
            fn(x, t)


@pytest.fixture(params=[None, "gpu"], ids=["device_branches", "gpu_branches"])
def branches(request):
    """The device's branches, then a GPU's (the fused cross-entropy path)."""
    with _forced_branches(request.param):
        yield request.param


def test_out_of_range_index_is_nan_when_unchecked_never_a_read(branches):
    x = _logits((3, 4))
    t = mx.array([0, 9, 1])
    with mlx_losses.value_checks(False):
        out = F.cross_entropy(x, t, reduction="none")
        g = mx.grad(lambda a: F.cross_entropy(a, t, reduction="sum"))(x)
        nll = F.nll_loss(x, t, reduction="none")
    assert math.isnan(out[1].item()) and not math.isnan(out[0].item())
    assert np.all(np.isnan(np.array(g)[1])) and not np.any(np.isnan(np.array(g)[0]))
    assert math.isnan(nll[1].item())
    # under mx.compile the check cannot run: NaN as well
    out_c = mx.compile(lambda a, b: F.cross_entropy(a, b, reduction="none"))(x, t)
    assert math.isnan(out_c[1].item())


@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("fused", [False, True], ids=["custom_vjp", "fused"])
def test_out_of_range_index_gives_a_nan_gradient_row_too(with_weight, fused, monkeypatch):
    # the loss of an unchecked out-of-range target is NaN, and so is its
    # gradient (as its value's: never a finite number from a clipped index);
    # an ignored row keeps a zero gradient
    if fused:
        monkeypatch.setattr(K, "_use_fused", lambda x2, eps: eps == 0.0)
    x = _logits((5, 4))
    t = mx.array([0, 9, -100, -3, 2])
    w = _weight(4) if with_weight else None
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    for fn, inp in ((F.cross_entropy, x), (F.nll_loss, logp)):
        with mlx_losses.value_checks(False):
            g = np.array(mx.grad(lambda a: fn(a, t, weight=w, reduction="sum"))(inp))
        assert np.all(np.any(np.isnan(g[[1, 3]]), axis=1)), fn.__name__
        assert np.all(g[2] == 0) and np.all(np.isfinite(g[[0, 4]])), fn.__name__


def _zero_weight_case():
    # classes 0 and 1 weigh 0; the counted targets are all 0 or 1
    x = _logits((4, 5), seed=3, dtype=mx.float64)
    t = mx.array([0, 1, -100, 1])
    w = mx.array([0.0, 0.0, 1.0, 2.0, 0.5], dtype=mx.float64)
    return x, t, w


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_class_weights_summing_to_zero_give_nan_mean_and_gradient(eps):
    # torch: 'mean' is sum / 0 and the backward is grad_output / total_weight
    # times each counted row's gradient: NaN in the counted rows (0 times
    # inf), 0 in the ignored rows
    x, t, w = _zero_weight_case()
    f = lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=eps)  # noqa: E731
    v, g = mx.value_and_grad(f)(x)
    g = np.array(g)
    assert math.isnan(v.item())
    assert np.all(np.isnan(g[[0, 1, 3]])) and np.all(g[2] == 0)
    # nll: the gradient is NaN at each counted row's target, 0 elsewhere
    v, g = mx.value_and_grad(lambda a: F.nll_loss(a, t, weight=w))(x)
    expect = np.zeros((4, 5), dtype=bool)
    expect[[0, 1, 3], [0, 1, 1]] = True
    assert math.isnan(v.item()) and np.array_equal(np.isnan(np.array(g)), expect)
    assert np.all(np.array(g)[~expect] == 0)
    # unbatched and K-dimensional layouts
    g1 = np.array(mx.grad(lambda a: F.cross_entropy(a, mx.array(1), weight=w, label_smoothing=eps))(x[0]))
    assert np.all(np.isnan(g1))
    x4 = _logits((2, 5, 3), seed=4, dtype=mx.float64)
    t4 = mx.array([[0, -100, 1], [1, 1, -100]])
    g4 = np.array(mx.grad(lambda a: F.cross_entropy(a, t4, weight=w, label_smoothing=eps))(x4))
    counted = np.array(t4) != -100
    assert np.all(np.isnan(np.moveaxis(g4, 1, -1)[counted])) and np.all(np.moveaxis(g4, 1, -1)[~counted] == 0)


def test_class_weights_summing_to_zero_by_cancellation():
    # negative weights: w[t] sum to 0 with non-zero terms, so sum / 0 is
    # +-inf and the nll gradient -w[t] g / 0 is +-inf at the targets
    x = _logits((3, 4), seed=6, dtype=mx.float64)
    t, w = mx.array([0, 1, -100]), mx.array([1.0, -1.0, 1.0, 1.0], dtype=mx.float64)
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    v, g = mx.value_and_grad(lambda a: F.nll_loss(a, t, weight=w))(logp)
    g = np.array(g)
    total = -(np.array(logp)[0, 0] - np.array(logp)[1, 1])
    assert v.item() == math.copysign(math.inf, total)
    assert g[0, 0] == -math.inf and g[1, 1] == math.inf
    g[0, 0] = g[1, 1] = 0
    assert np.all(g == 0)


@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("with_weight", [False, True])
def test_all_targets_ignored_keep_a_zero_gradient(eps, with_weight):
    # every target ignored: 0 / 0 = NaN, and torch's gradient is 0 (no row
    # is counted), also with zero class weights
    x = _logits((4, 5), dtype=mx.float64)
    t = mx.full((4,), -100)
    w = mx.zeros((5,), dtype=mx.float64) if with_weight else None
    for fn in (lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=eps),
               lambda a: F.nll_loss(a, t, weight=w)):
        v, g = mx.value_and_grad(fn)(x)
        assert math.isnan(v.item()) and np.all(np.array(g) == 0)


_FLOATS = [mx.float16, mx.bfloat16, mx.float32, mx.float64]


@pytest.mark.parametrize("wdt", _FLOATS, ids=lambda d: str(d).split(".")[-1])
@pytest.mark.parametrize("xdt", _FLOATS, ids=lambda d: str(d).split(".")[-1])
def test_class_weight_dtype_must_be_the_input_dtype_for_class_indices(xdt, wdt):
    # torch: "expected scalar type Float but found Half" (and so on) for any
    # other weight dtype with class-index targets; class-probability targets
    # take any weight dtype and promote the output with it
    x, t = _logits((3, 4), dtype=xdt), mx.array([0, 3, 1])
    w = _weight(4).astype(wdt)
    y = mx.softmax(_logits((3, 4), seed=7), axis=1).astype(xdt)
    calls = [lambda: F.cross_entropy(x, t, weight=w), lambda: F.nll_loss(x, t, weight=w),
             lambda: F.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="none"),
             lambda: mlx_losses.NLLLoss(weight=w)(x, t), lambda: mlx_losses.NLLLoss2d(weight=w)(x, t),
             lambda: mlx_losses.CrossEntropyLoss(weight=w)(x, t)]
    torch_name = {mx.float16: "Half", mx.bfloat16: "BFloat16", mx.float32: "Float", mx.float64: "Double"}
    for call in calls:
        if xdt == wdt:
            assert call().dtype == xdt
        else:
            with pytest.raises(TypeError, match=rf"`weight` must have the dtype of `input`, "
                               rf"{str(xdt).split('.')[-1]}, got {str(wdt).split('.')[-1]}: "
                               rf"expected scalar type {torch_name[xdt]} but found {torch_name[wdt]}"):
                call()
    out = F.cross_entropy(x, y, weight=w)
    assert out.dtype == (mx.zeros((), xdt) + mx.zeros((), wdt)).dtype


@pytest.mark.parametrize("fn, eps", [("cross_entropy", 0.0), ("cross_entropy", 0.1), ("nll_loss", 0.0)])
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_checked_targets_skip_the_masks_with_the_same_bits(fn, eps, with_weight, reduction, monkeypatch, branches):
    # When the eager value check proves every target in range and none
    # ignored, the kernels build no masks (fewer graph nodes per call); the
    # values and gradients are bit for bit those of the masked path.
    x, t = _logits((7, 5)), _targets((7,), 5)
    kw = dict(reduction=reduction, weight=_weight(5) if with_weight else None)
    if eps:
        kw["label_smoothing"] = eps
    f = getattr(F, fn)
    cot = _logits((7,) if reduction == "none" else (), seed=5)
    run = lambda: mx.vjp(lambda a: f(a, t, **kw), [x], [cot])  # noqa: E731
    seen = []
    masks = K._target_masks
    monkeypatch.setattr(K, "_target_masks", lambda t_, C, ii: seen.append(ii) or masks(t_, C, ii))
    (fast,), (g_fast,) = run()
    assert seen and all(ii is None for ii in seen)  # the fast path was taken
    seen.clear()
    with mlx_losses.value_checks(False):
        (slow,), (g_slow,) = run()
    assert seen and all(ii == -100 for ii in seen)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert mx.array_equal(fast, slow).item() and mx.array_equal(g_fast, g_slow).item()


def test_ignore_index_inside_the_class_range_still_ignores():
    # ignore_index=0 with a 0 target: the check cannot skip the masks.
    x, t = _logits((4, 3)), mx.array([0, 1, 2, 0])
    for f in (F.cross_entropy, F.nll_loss):
        out = f(x, t, ignore_index=0, reduction="none")
        assert out[0].item() == 0.0 and out[3].item() == 0.0 and out[1].item() != 0.0
        with mlx_losses.value_checks(False):
            ref = f(x, t, ignore_index=0)
        assert mx.array_equal(f(x, t, ignore_index=0), ref).item()


# --------------------------------------------------------------------------
# nll_loss


def test_nll_loss_definition_weight_and_ignore():
    x = _logits((6, 5))
    t = mx.array([0, 4, -100, 2, 2, 1])
    w = _weight(5)
    xn, tn, wn = np.array(x), np.array(t), np.array(w)
    keep = tn != -100
    picked = np.where(keep, -xn[np.arange(6), np.where(keep, tn, 0)], 0.0)
    wt = np.where(keep, wn[np.where(keep, tn, 0)], 0.0)
    _close(F.nll_loss(x, t, weight=w, reduction="none"), picked * wt)
    assert math.isclose(F.nll_loss(x, t, weight=w).item(), (picked * wt).sum() / wt.sum(), rel_tol=1e-6)
    assert math.isclose(F.nll_loss(x, t).item(), picked.sum() / keep.sum(), rel_tol=1e-6)
    g = mx.grad(lambda a: F.nll_loss(a, t, weight=w, reduction="sum"))(x)
    expect = np.zeros((6, 5))
    for i in range(6):
        if keep[i]:
            expect[i, tn[i]] = -wn[tn[i]]
    _close(g, expect)


# --------------------------------------------------------------------------
# binary cross-entropy


def test_bce_definition_clamp_and_torch_gradient_at_the_ends():
    x = mx.array([0.0, 1.0, 0.0, 1.0, 0.3])
    y = mx.array([0.0, 1.0, 1.0, 0.0, 0.6])
    out = F.binary_cross_entropy(x, y, reduction="none")
    # the logs are clamped at -100: a confident wrong answer costs 100
    _close(out, [0.0, 0.0, 100.0, 100.0, -(0.6 * math.log(0.3) + 0.4 * math.log(0.7))])
    gx, gy = mx.grad(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), argnums=(0, 1))(x, y)
    xn, yn = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
    expect = (xn - yn) / np.maximum(xn * (1 - xn), 1e-12)
    _close(gx, expect, rtol=1e-6)
    assert np.all(np.isfinite(np.array(gx)))
    with np.errstate(divide="ignore"):
        expect_y = -np.log(xn / (1 - xn))
    _close(gy, expect_y, rtol=1e-6)



@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_bce_subnormal_weight_keeps_the_infinite_target_gradient(dtype):
    # d/dy = -logit(p) g w is +-inf at p in {0, 1} for any nonzero weight:
    # the weight is applied last (as torch), so g w rounding to 0 first
    # cannot turn it into 0 * inf = NaN
    tiny = float(np.finfo(np.float32 if dtype == mx.float32 else np.float64).smallest_subnormal)
    x, y = mx.array([0.0, 1.0, 0.5, 0.25], dtype=dtype), mx.array([0.25, 0.5, 0.5, 1.0], dtype=dtype)
    w = mx.array([tiny, tiny, tiny, 2.0], dtype=dtype)
    gx, gy = mx.grad(lambda a, b: F.binary_cross_entropy(a, b, weight=w), argnums=(0, 1))(x, y)
    assert np.array(gy)[:3].tolist() == [math.inf, -math.inf, 0.0]
    assert np.isclose(np.array(gy)[3], math.log(3.0) * 2.0 / 4, rtol=1e-6)
    assert np.all(np.isfinite(np.array(gx)))

def test_bce_gradient_matches_autodiff_in_the_interior_and_weight():
    rng = np.random.default_rng(0)
    x = mx.array(rng.uniform(0.05, 0.95, (4, 6)).astype(np.float32))
    y = mx.array(rng.uniform(0, 1, (4, 6)).astype(np.float32))
    w = mx.array(rng.uniform(0.5, 2, (6,)).astype(np.float32))
    plain = lambda a, b: mx.mean(-w * (b * mx.log(a) + (1 - b) * mx.log(1 - a)))
    ours = lambda a, b: F.binary_cross_entropy(a, b, weight=w)
    _close(ours(x, y), plain(x, y))
    for g1, g2 in zip(mx.grad(ours, argnums=(0, 1))(x, y), mx.grad(plain, argnums=(0, 1))(x, y)):
        _close(g1, g2, rtol=1e-4, atol=1e-6)


def test_bce_equals_bce_with_logits_of_the_logit():
    z = _logits((5, 4))
    y = mx.softmax(_logits((5, 4), seed=7), axis=1)
    _close(F.binary_cross_entropy(mx.sigmoid(z), y), F.binary_cross_entropy_with_logits(z, y),
           atol=1e-6)


def test_bce_with_logits_pos_weight_and_stability():
    z = mx.array([[-200.0, -20.0, 0.0, 20.0, 200.0]])
    y = mx.array([[1.0, 0.0, 0.5, 1.0, 0.0]])
    pw = mx.array([2.0, 0.5, 3.0, 1.0, 4.0])
    out = F.binary_cross_entropy_with_logits(z, y, pos_weight=pw, reduction="none")
    zn, yn, pn = (np.array(a, dtype=np.float64) for a in (z, y, pw))
    softplus_neg = np.logaddexp(0.0, -zn)
    _close(out, (1 - yn) * zn + (1 + (pn - 1) * yn) * softplus_neg, rtol=1e-6)
    g = mx.grad(lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=pw, reduction="sum"))(z)
    assert np.all(np.isfinite(np.array(g)))
    # pos_weight of ones is no pos_weight
    _close(F.binary_cross_entropy_with_logits(z, y, pos_weight=mx.ones((5,))),
           F.binary_cross_entropy_with_logits(z, y))


def test_bce_with_logits_gradients_match_autodiff_of_plain_formula():
    z = _logits((3, 5))
    y = mx.softmax(_logits((3, 5), seed=8), axis=1)
    pw = _weight(5)
    plain = lambda a, b: mx.mean((1 - b) * a - (1 + (pw - 1) * b) * mx.log(mx.sigmoid(a)))
    ours = lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw)
    for g1, g2 in zip(mx.grad(ours, argnums=(0, 1))(z, y), mx.grad(plain, argnums=(0, 1))(z, y)):
        _close(g1, g2, atol=1e-6)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_bce_with_logits_backward_against_the_exact_derivative(dtype):
    # d/dx = (1 - y) - (1 + (pw - 1) y) sigmoid(-x) (sigmoid(x) - y without
    # pos_weight), in NumPy float64: both tails, past e**-x's overflow, ties
    if dtype == mx.float64 and mx.default_device() != mx.cpu:
        pytest.skip("float64 runs on the CPU only")
    xs = np.array([-200.0, -100.0, -90.0, -30.0, -1.5, 0.0, 0.25, 30.0, 90.0, 100.0, 200.0])
    ys = np.linspace(0.0, 1.0, xs.size)
    pws = np.linspace(0.5, 3.0, xs.size)
    x, y, pw = (mx.array(a.astype(np.float32)).astype(dtype) for a in (xs, ys, pws))
    xs, ys, pws = (np.array(a.astype(mx.float64)) for a in (x, y, pw))  # as rounded
    with np.errstate(over="ignore"):
        sig = 1.0 / (1.0 + np.exp(-xs))
        sig_neg = 1.0 / (1.0 + np.exp(xs))
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == mx.float32 else dict(rtol=1e-12, atol=1e-300)
    for kw, want in (({}, sig - ys), ({"pos_weight": pw}, (1 - ys) - (1 + (pws - 1) * ys) * sig_neg)):
        g = mx.grad(lambda a: F.binary_cross_entropy_with_logits(a, y, reduction="sum", **kw))(x)
        assert np.allclose(np.array(g.astype(mx.float64)), want, **tol), kw


def test_bce_dtypes():
    p = mx.array([0.2, 0.7])
    assert F.binary_cross_entropy(p.astype(mx.bfloat16), p.astype(mx.bfloat16)).dtype == mx.bfloat16
    # torch's BCE takes one input/target dtype (and a weight of any dtype)
    with pytest.raises(TypeError, match=r"`target` must have the dtype of `input`, float32, got float16: "
                       r"Found dtype Half but expected Float"):
        F.binary_cross_entropy(p, p.astype(mx.float16))
    with pytest.raises(TypeError, match="Found dtype Float but expected Double"):
        mlx_losses.BCELoss()(p.astype(mx.float64), p)
    assert F.binary_cross_entropy(p, p, weight=p.astype(mx.float64)).dtype == mx.float32
    # torch computes BCE-with-logits in place into the target: its dtype wins
    assert F.binary_cross_entropy_with_logits(p, p.astype(mx.float16)).dtype == mx.float16
    assert F.binary_cross_entropy_with_logits(p.astype(mx.float16), p).dtype == mx.float32


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16])
def test_bce_value_checks_can_be_switched_off_and_skip_under_compile(dtype, read_path):
    x = mx.array([0.5, 1.5], dtype=dtype)
    y = mx.array([0.0, 1.0], dtype=dtype)
    with mlx_losses.value_checks(False):
        F.binary_cross_entropy(x, y)
    mx.eval(mx.compile(lambda a, b: F.binary_cross_entropy(a, b))(x, y))
    mx.eval(mx.vmap(lambda a, b: F.binary_cross_entropy(a, b))(x[None], y[None]))
    with pytest.raises(ValueError, match="`input` must hold probabilities"):
        F.binary_cross_entropy(x, y)  # eager still checks


def test_bce_value_check_names_input_first_and_rejects_nan_and_inf(read_path):
    ok = mx.array([0.0, 0.5, 1.0])
    for bad in ([0.5, float("nan")], [float("nan"), 0.5], [0.5, float("inf")], [-1e-30, 0.5],
                [0.5, 1.0000001]):
        b = mx.array(bad)
        with pytest.raises(ValueError, match=r"`input` must hold probabilities in \[0, 1\]"):
            F.binary_cross_entropy(b, ok[:2])
        with pytest.raises(ValueError, match=r"`target` must hold probabilities in \[0, 1\]"):
            F.binary_cross_entropy(ok[:2], b)
        with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
            F.binary_cross_entropy(b, b)  # both bad: the input is named, as before
    for dt in (mx.float16, mx.bfloat16, mx.float64):
        with pytest.raises(ValueError, match="`input`"):
            F.binary_cross_entropy(mx.array([0.5, float("nan")], dtype=dt), ok[:2].astype(dt))
    F.binary_cross_entropy(mx.array([-0.0, 1.0]), mx.array([1.0, 0.0]))  # -0.0 is in [0, 1]
    F.binary_cross_entropy(mx.zeros((0,)), mx.zeros((0,)), reduction="sum")


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_bce_compile_grad_vmap(fn):
    rng = np.random.default_rng(3)
    x = mx.array(rng.uniform(0.05, 0.95, (4, 5)).astype(np.float32))
    y = mx.array(rng.uniform(0, 1, (4, 5)).astype(np.float32))
    vg = mx.value_and_grad(lambda a, b: fn(a, b), argnums=(0, 1))
    (v1, g1), (v2, g2) = vg(x, y), mx.compile(vg)(x, y)
    _close(v1, v2)
    for a, b in zip(g1, g2):
        _close(a, b)
    per = mx.vmap(lambda a, b: fn(a, b, reduction="sum"))(x, y)
    _close(per, mx.sum(fn(x, y, reduction="none"), axis=1), atol=1e-5)


# --------------------------------------------------------------------------
# Modules


def test_modules_equal_functional_repr_and_frozen_buffers():
    x = _logits((6, 5))
    t = _targets((6,), 5, ignore=-100)
    w = _weight(5)
    m = mlx_losses.CrossEntropyLoss(weight=w, ignore_index=-100, label_smoothing=0.1, reduction="sum")
    assert m(x, t).item() == F.cross_entropy(x, t, weight=w, reduction="sum", label_smoothing=0.1).item()
    assert repr(m) == ("CrossEntropyLoss(weight=array(shape=(5,), dtype=float32), reduction='sum', "
                       "ignore_index=-100, label_smoothing=0.1)")
    assert m.trainable_parameters() == {}
    assert "weight" in m.parameters()
    logp = x - mx.logsumexp(x, axis=1, keepdims=True)
    for cls in (mlx_losses.NLLLoss, mlx_losses.NLLLoss2d):
        mod = cls(weight=w, ignore_index=3)
        assert mod(logp, t).item() == F.nll_loss(logp, t, weight=w, ignore_index=3).item()
        assert mod.trainable_parameters() == {}
    p = mx.sigmoid(x)
    y = mx.softmax(_logits((6, 5), seed=4), axis=1)
    assert mlx_losses.BCELoss(weight=w)(p, y).item() == F.binary_cross_entropy(p, y, weight=w).item()
    bl = mlx_losses.BCEWithLogitsLoss(weight=w, pos_weight=w * 2, reduction="none")
    _close(bl(x, y), F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=w * 2, reduction="none"))
    assert bl.trainable_parameters() == {}
    assert repr(mlx_losses.BCELoss()) == "BCELoss(reduction='mean')"
    assert repr(mlx_losses.NLLLoss2d(reduction="none")) == "NLLLoss2d(reduction='none', ignore_index=-100)"


def test_module_legacy_arguments():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = mlx_losses.CrossEntropyLoss(size_average=False)
    assert m.reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.nll_loss(_logits((3, 4)), mx.array([0, 1, 2]), reduce=False)
    assert out.shape == (3,)


# --------------------------------------------------------------------------
# errors: type and message


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda x, t: F.cross_entropy(x, t, reduction="avg"), ValueError,
         r"cross_entropy: `reduction` must be one of 'none', 'mean', 'sum', got 'avg': avg is not a valid value for reduction\."),
        (lambda x, t: F.cross_entropy(x, t[:3]), ValueError,
         r"cross_entropy: `target` must have shape \(4,\) for `input` of shape \(4, 5\), got \(3,\)\."),
        (lambda x, t: F.cross_entropy(x, t.astype(mx.float32)), TypeError,
         r"cross_entropy: `target` must hold class indices \(an integer dtype\) or class probabilities"),
        (lambda x, t: F.cross_entropy(x, mx.zeros((4, 5), dtype=mx.int32)), TypeError,
         r"Expected floating point type for target with class probabilities"),
        (lambda x, t: F.cross_entropy(x, t, weight=mx.ones((4,))), ValueError,
         r"cross_entropy: `weight` must have shape \(5,\), one weight per class"),
        (lambda x, t: F.cross_entropy(x, t, label_smoothing=1.5), ValueError,
         r"cross_entropy: `label_smoothing` must be in \[0, 1\], got 1.5: label_smoothing must be between 0.0 and 1.0\."),
        (lambda x, t: F.cross_entropy(x, t, ignore_index=1.5), TypeError,
         r"cross_entropy: `ignore_index` must be an int"),
        (lambda x, t: F.cross_entropy(x, mx.softmax(x, axis=1), ignore_index=0), ValueError,
         r"ignore_index is not supported for floating point target"),
        (lambda x, t: F.cross_entropy(x[0, 0], t[0]), ValueError, r"`input` must have 1 or more dimensions"),
        (lambda x, t: F.cross_entropy(x.astype(mx.int32), t), TypeError,
         r"cross_entropy: `input` must have a floating dtype, got int32"),
        (lambda x, t: F.nll_loss(x, t, weight=mx.ones((6,))), ValueError,
         r"nll_loss: `weight` must have shape \(5,\)"),
        (lambda x, t: F.nll_loss(x[0], t), ValueError, r"nll_loss: `target` must have shape \(\)"),
        (lambda x, t: F.binary_cross_entropy(mx.sigmoid(x), mx.sigmoid(x)[0]), ValueError,
         r"binary_cross_entropy: `target` must have the shape of `input`, \(4, 5\)"),
        (lambda x, t: F.binary_cross_entropy(x, mx.sigmoid(x)), ValueError,
         r"binary_cross_entropy: `input` must hold probabilities in \[0, 1\], got values outside it: all elements of input should be between 0 and 1\."),
        (lambda x, t: F.binary_cross_entropy(mx.sigmoid(x), x), ValueError,
         r"all elements of target should be between 0 and 1"),
        (lambda x, t: F.binary_cross_entropy(mx.sigmoid(x), mx.sigmoid(x), weight=mx.ones((3,))), ValueError,
         r"binary_cross_entropy: `weight` must be broadcastable to `input`'s shape \(4, 5\), got \(3,\)\."),
        (lambda x, t: F.binary_cross_entropy_with_logits(x, x[:2]), ValueError,
         r"binary_cross_entropy_with_logits: `target` must have the shape of `input`"),
        (lambda x, t: F.binary_cross_entropy_with_logits(x, x, pos_weight=mx.ones((2, 4, 5))), ValueError,
         r"`pos_weight` must be broadcastable to `input`'s shape \(4, 5\), got \(2, 4, 5\)"),
        (lambda x, t: F.binary_cross_entropy_with_logits(x, t), TypeError,
         r"`target` must have a floating dtype"),
        (lambda x, t: mlx_losses.CrossEntropyLoss(label_smoothing=2.0), ValueError,
         r"CrossEntropyLoss: `label_smoothing` must be in \[0, 1\]"),
        (lambda x, t: mlx_losses.NLLLoss(ignore_index="a"), TypeError, r"NLLLoss: `ignore_index` must be an int"),
        (lambda x, t: mlx_losses.BCEWithLogitsLoss(pos_weight=mx.array([1, 2])), TypeError,
         r"BCEWithLogitsLoss: `pos_weight` must have a floating dtype"),
    ],
)
def test_errors_name_the_argument(call, err, pattern):
    x = _logits((4, 5))
    t = _targets((4,), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(err, match=pattern):
            mx.eval(call(x, t))


def test_shape_errors_are_runtime_errors_too():
    with pytest.raises(RuntimeError):
        F.cross_entropy(_logits((4, 5)), mx.array([0, 1]))


def test_ignore_index_beyond_int32_with_int32_targets():
    # torch's ignore_index is an int64; MLX refuses to compare an int32
    # array with a Python int it cannot hold, so such targets are widened
    # (with the checks off: the masked path compares every target)
    x, t = _logits((4, 5)), mx.array([0, 4, 2, 1], dtype=mx.int32)
    eye = mx.eye(5)
    for ii in (2**40, -(2**40), 2**31):
        with mlx_losses.value_checks(False):
            _close(F.cross_entropy(x, t, ignore_index=ii), F.cross_entropy(x, t))
            _close(F.nll_loss(x, t, ignore_index=ii), F.nll_loss(x, t))
            for options in (None, mlx_losses.LinearCrossEntropyOptions(batch_chunk_size=2)):
                _close(F.linear_cross_entropy(x, eye, t, ignore_index=ii, options=options),
                       F.cross_entropy(x, t))
    t64 = mx.array([0, 2**40, 2, 1], dtype=mx.int64)
    _close(F.cross_entropy(x, t64, ignore_index=2**40, reduction="none"),
           F.cross_entropy(x, mx.array([0, -100, 2, 1]), reduction="none"))


# --------------------------------------------------------------------------
# the class axis: channels-last gives exactly the channels-first result


def _vjp(f, *args, seed=5):
    """(value, gradients) with a random, non-uniform cotangent."""
    out = f(*args)
    cot = mx.array(np.random.default_rng(seed).normal(size=out.shape).astype(np.float32))
    _, grads = mx.vjp(f, list(args), [cot.astype(out.dtype)])
    return out, grads


@pytest.mark.parametrize("shape, axis", [((6, 5), -1), ((3, 5, 4), -1), ((2, 5, 3, 4), -1),
                                         ((2, 5, 3, 4), 2), ((2, 3, 5), 2)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_class_axis_equals_channels_first(shape, axis, reduction):
    C = shape[1]
    x = _logits(shape)
    t = _targets(shape[:1] + shape[2:], C, ignore=-100)
    y = mx.softmax(_logits(shape, seed=3), axis=1)
    w = _weight(C)
    moved = lambda a: mx.moveaxis(a, 1, axis)  # noqa: E731
    opts = [{}, {"weight": w, "label_smoothing": 0.2}, {"z_loss": 0.05, "softcap": 3.0}]
    for kw in opts:
        ref = _vjp(lambda x: F.cross_entropy(x, t, reduction=reduction, **kw), x)
        got = _vjp(lambda x: F.cross_entropy(x, t, reduction=reduction, axis=axis, **kw), moved(x))
        _close(got[0], ref[0])
        _close(got[1][0], moved(ref[1][0]))
        ref = _vjp(lambda x, y: F.cross_entropy(x, y, reduction=reduction, **kw), x, y)
        got = _vjp(lambda x, y: F.cross_entropy(x, y, reduction=reduction, axis=axis, **kw),
                   moved(x), moved(y))
        _close(got[0], ref[0])
        for g, r in zip(got[1], ref[1]):
            _close(g, moved(r))
    lp = x - mx.logsumexp(x, axis=1, keepdims=True)
    ref = _vjp(lambda x: F.nll_loss(x, t, weight=w, reduction=reduction), lp)
    got = _vjp(lambda x: F.nll_loss(x, t, weight=w, reduction=reduction, axis=axis), moved(lp))
    _close(got[0], ref[0])
    _close(got[1][0], moved(ref[1][0]))


def test_class_axis_modules_and_unbatched():
    x, t = _logits((2, 3, 5)), _targets((2, 3), 5)
    ce = mlx_losses.CrossEntropyLoss(axis=-1, reduction="none")
    assert "axis=-1" in repr(ce)
    _close(ce(x, t), F.cross_entropy(mx.moveaxis(x, -1, 1), t, reduction="none"))
    nll = mlx_losses.NLLLoss(axis=2)
    _close(nll(x, t), F.nll_loss(mx.moveaxis(x, -1, 1), t))
    # a 1-D input's only axis holds the classes, whatever it is called
    for axis in (1, 0, -1):
        _close(F.cross_entropy(x[0, 0], t[0, 0], axis=axis), F.cross_entropy(x[0, 0], t[0, 0]))


@pytest.mark.parametrize("axis, err, pattern", [
    (0, ValueError, r"cross_entropy: `axis` must name a class axis of `input` \(shape \(2, 3, 5\)\): "
                    r"one of 1..2 or -2..-1 \(axis 0 is the batch\), got 0"),
    (3, ValueError, r"got 3: Dimension out of range"),
    (-3, ValueError, r"got -3"),
    (1.0, TypeError, r"cross_entropy: `axis` must be an int, got 1.0"),
    (True, TypeError, r"`axis` must be an int, got True"),
])
def test_class_axis_errors(axis, err, pattern):
    x, t = _logits((2, 3, 5)), _targets((2, 3), 5)
    with pytest.raises(err, match=pattern):
        F.cross_entropy(x, t, axis=axis)
    with pytest.raises(err, match=pattern.replace("cross_entropy", "nll_loss")):
        F.nll_loss(x, t, axis=axis)
    # the target must fit the axis it names
    with pytest.raises(ValueError, match=r"`target` must have shape \(2, 5\)"):
        F.cross_entropy(x, t, axis=1)
    with pytest.raises(TypeError, match="CrossEntropyLoss: `axis` must be an int"):
        mlx_losses.CrossEntropyLoss(axis="last")


# --------------------------------------------------------------------------
# softcap, logit_scale, z_loss, out_dtype


def _by_hand(x, t, softcap=None, logit_scale=None, z_loss=0.0, reduction="mean", **kw):
    """The options written out: cross_entropy of the transformed logits plus
    the z-loss of each counted row, then torch's reduction."""
    z = x * logit_scale if logit_scale is not None else x
    if softcap is not None:
        z = softcap * mx.tanh(z / softcap)
    per = F.cross_entropy(z, t, reduction="none", **kw)
    ii = kw.get("ignore_index", -100)
    if t.shape == x.shape:
        counted = mx.ones(per.shape)
    else:
        counted = (t != ii).astype(x.dtype)
    per = per + z_loss * mx.logsumexp(z, axis=1) ** 2 * counted
    if reduction == "none":
        return per
    if reduction == "sum":
        return mx.sum(per)
    if t.shape == x.shape:
        return mx.mean(per)
    w = kw.get("weight")
    wt = counted if w is None else mx.where(t == ii, 0.0, w[mx.where(t == ii, 0, t)])
    return mx.sum(per) / mx.sum(wt)


@pytest.mark.parametrize("opts", [
    {"softcap": 2.5},
    {"logit_scale": 0.6},
    {"softcap": 4.0, "logit_scale": 1.7},
    {"z_loss": 0.1},
    {"softcap": 3.0, "z_loss": 0.02, "label_smoothing": 0.1, "weight": "w"},
])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("probs", [False, True], ids=["index", "probs"])
def test_logit_options_equal_the_formula(opts, reduction, probs):
    x = _logits((8, 6), scale=3.0)
    t = mx.softmax(_logits((8, 6), seed=4), axis=1) if probs else _targets((8,), 6, ignore=-100)
    kw = {k: (_weight(6) if v == "w" else v) for k, v in opts.items()}
    ours = _vjp(lambda x: F.cross_entropy(x, t, reduction=reduction, **kw), x)
    ref = _vjp(lambda x: _by_hand(x, t, reduction=reduction, **kw), x)
    _close(ours[0], ref[0])
    _close(ours[1][0], ref[1][0])


def test_logit_options_float64_and_half():
    x64 = _logits((5, 7), scale=4.0).astype(mx.float64)
    t = _targets((5,), 7)
    kw = dict(softcap=3.0, logit_scale=0.5, z_loss=1e-2)
    _close(F.cross_entropy(x64, t, **kw), _by_hand(x64, t, **kw), rtol=1e-12, atol=1e-14)
    # half logits: the transform runs in float32, the gradient comes back in bfloat16
    xb = x64.astype(mx.bfloat16)
    out, (g,) = _vjp(lambda x: F.cross_entropy(x, t, **kw), xb)
    assert out.dtype == mx.bfloat16 and g.dtype == mx.bfloat16
    ref = _by_hand(xb.astype(mx.float32), t, **kw)
    _close(F.cross_entropy(xb, t, out_dtype=mx.float32, **kw), ref, rtol=1e-6)


def test_out_dtype_keeps_the_float32_accumulation():
    xb = _logits((64, 50), scale=2.0).astype(mx.bfloat16)
    t = _targets((64,), 50)
    out = F.cross_entropy(xb, t, out_dtype=mx.float32)
    assert out.dtype == mx.float32
    _close(out, F.cross_entropy(xb.astype(mx.float32), t), rtol=1e-6)
    # torch's rule rounds the same value to bfloat16
    assert F.cross_entropy(xb, t).item() == out.astype(mx.bfloat16).item()
    g = mx.grad(lambda x: F.cross_entropy(x, t, out_dtype=mx.float32))(xb)
    assert g.dtype == mx.bfloat16
    for red in ("none", "sum"):
        assert F.cross_entropy(xb, t, reduction=red, out_dtype=mx.float32).dtype == mx.float32
    assert F.cross_entropy(xb, mx.softmax(xb.astype(mx.float32), axis=1),
                           out_dtype=mx.float32).dtype == mx.float32
    assert F.cross_entropy(xb.astype(mx.float64), t, out_dtype=mx.float32).dtype == mx.float32
    m = mlx_losses.CrossEntropyLoss(out_dtype=mx.float32, z_loss=1e-4)
    assert m(xb, t).dtype == mx.float32 and "out_dtype=" in repr(m) and "z_loss=0.0001" in repr(m)


def test_z_loss_ignores_ignored_rows_and_shifts():
    x, t = _logits((6, 5)), mx.array([0, -100, 2, -100, 4, 1])
    lse = mx.logsumexp(x, axis=1)
    per = F.cross_entropy(x, t, reduction="none", z_loss=0.3)
    _close(per, F.cross_entropy(x, t, reduction="none") + 0.3 * lse**2 * (t != -100))
    # the z-loss is what a shift of the logits changes (cross-entropy is shift-invariant)
    delta = F.cross_entropy(x + 2.0, t, z_loss=0.3) - F.cross_entropy(x, t, z_loss=0.3)
    _close(delta, 0.3 * mx.sum(((lse + 2) ** 2 - lse**2) * (t != -100)) / 4)


@pytest.mark.parametrize("kw, err, pattern", [
    ({"softcap": 0.0}, ValueError, r"cross_entropy: `softcap` must be > 0.0, got 0.0"),
    ({"softcap": -1.0}, ValueError, r"`softcap` must be > 0.0"),
    ({"softcap": math.inf}, ValueError, r"`softcap` must be a finite number > 0 or None, got inf"),
    ({"softcap": math.nan}, ValueError, r"`softcap` must be > 0.0, got nan"),
    ({"softcap": "30"}, TypeError, r"`softcap` must be a number, got str"),
    ({"logit_scale": math.inf}, ValueError, r"`logit_scale` must be a finite number or None"),
    ({"z_loss": -1e-4}, ValueError, r"`z_loss` must be >= 0.0, got -0.0001"),
    ({"z_loss": math.nan}, ValueError, r"`z_loss` must be >= 0.0, got nan"),
    ({"out_dtype": mx.int32}, TypeError, r"`out_dtype` must be None, mx.float16, mx.bfloat16"),
    ({"out_dtype": "float32"}, TypeError, r"`out_dtype` must be None"),
])
def test_logit_option_errors(kw, err, pattern):
    x, t = _logits((4, 5)), _targets((4,), 5)
    with pytest.raises(err, match=pattern):
        F.cross_entropy(x, t, **kw)
    with pytest.raises(err, match=pattern.replace("cross_entropy", "CrossEntropyLoss")):
        mlx_losses.CrossEntropyLoss(**kw)


# --------------------------------------------------------------------------
# label_smoothing as torch: negative or NaN is none, above 1 raises


@pytest.mark.parametrize("value", [-0.1, -math.inf, math.nan, np.float32(-2.0)])
def test_label_smoothing_negative_or_nan_is_none(value):
    x, t = _logits((6, 5)), _targets((6,), 5, ignore=-100)
    y = mx.softmax(_logits((6, 5), seed=3), axis=1)
    _close(F.cross_entropy(x, t, label_smoothing=value), F.cross_entropy(x, t))
    _close(F.cross_entropy(x, y, label_smoothing=value), F.cross_entropy(x, y))
    _close(mlx_losses.CrossEntropyLoss(label_smoothing=value)(x, t), F.cross_entropy(x, t))
    w = _logits((5, 5), seed=7)
    opts = mlx_losses.LinearCrossEntropyOptions(batch_chunk_size=2)
    for options in (None, opts):
        _close(F.linear_cross_entropy(x, w, t, label_smoothing=value, options=options),
               F.linear_cross_entropy(x, w, t, options=options))


def test_label_smoothing_one_message_everywhere():
    x, t = _logits((4, 5)), _targets((4,), 5)
    torch_text = r"got 1.5: label_smoothing must be between 0.0 and 1.0. Got: 1.5\."
    calls = {
        "cross_entropy": lambda: F.cross_entropy(x, t, label_smoothing=1.5),
        "CrossEntropyLoss": lambda: mlx_losses.CrossEntropyLoss(label_smoothing=1.5),
        "linear_cross_entropy": lambda: F.linear_cross_entropy(x, x, t, label_smoothing=1.5),
    }
    for fn, call in calls.items():
        with pytest.raises(ValueError, match=rf"{fn}: `label_smoothing` must be in \[0, 1\], {torch_text}"):
            call()
    # torch's LinearCrossEntropyLoss refuses a negative value too (not NaN)
    for value in (1.5, -0.5):
        with pytest.raises(ValueError, match=r"LinearCrossEntropyLoss: `label_smoothing` must be in "
                                             r"\[0, 1\], got .*expected label_smoothing to be in range"):
            mlx_losses.LinearCrossEntropyLoss(5, 5, label_smoothing=value)
    mlx_losses.LinearCrossEntropyLoss(5, 5, label_smoothing=math.nan)


def _ce_ref64(x, t, w=None, eps=0.0):
    """Per-row cross-entropy of float64 logits (any shift): loss and d/dx."""
    x = np.asarray(x, np.float64)
    C = x.shape[-1]
    m = x.max(-1, keepdims=True)
    logp = (x - m) - np.log(np.exp(x - m).sum(-1, keepdims=True))
    w = np.ones(C) if w is None else np.asarray(w, np.float64)
    q = np.eye(C)[t] * (1 - eps) + eps / C  # smoothed one-hot
    loss = -(q * w * logp).sum(-1) if eps else -(w[t] * logp[np.arange(len(t)), t])
    p = np.exp(logp)
    # d/dx_c of -sum_k a_k logp_k = p_c sum_k a_k - a_c
    a = q * w if eps else np.eye(C)[t] * w[t][:, None]
    return loss, p * a.sum(-1, keepdims=True) - a


@pytest.mark.parametrize("v", [1e4, 1e8])
@pytest.mark.parametrize("eps,with_weight", [(0.0, False), (0.0, True), (0.1, False), (0.1, True)])
def test_large_logits_keep_the_loss_digits(v, eps, with_weight, branches):
    # the loss is O(1) at any shift: lse - x_t with lse = max + log(sum)
    # rounded it at the logits' scale (0 for log 2 at 1e8 in float32)
    x = np.array([[v, v, v], [v, v + 8.0, v - 16.0], [v + 16.0, v, v - 8.0]], np.float32)
    t = np.array([0, 1, 2])
    w = np.array([0.5, 1.0, 2.0]) if with_weight else None
    kw = dict(weight=mx.array(w.astype(np.float32)) if with_weight else None,
              label_smoothing=eps, reduction="none")
    ref, dref = _ce_ref64(x, t, w, eps)
    f = lambda x: F.cross_entropy(x, mx.array(t.astype(np.int32)), **kw)  # noqa: E731
    out = f(mx.array(x))
    _close(out, ref, rtol=1e-6, atol=1e-6)
    g = mx.grad(lambda x: mx.sum(f(x)))(mx.array(x))
    _close(g, dref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("v", [1e4, 1e8])
def test_large_logits_probability_targets(v):
    x = np.array([[v, v, v - 16.0], [v + 8.0, v, v]], np.float32)
    y = np.array([[1.0, 0.0, 0.0], [0.25, 0.5, 0.25]], np.float32)
    x64 = x.astype(np.float64)
    m = x64.max(-1, keepdims=True)
    logp = (x64 - m) - np.log(np.exp(x64 - m).sum(-1, keepdims=True))
    f = lambda x, y: F.cross_entropy(x, y, reduction="none")  # noqa: E731
    _close(f(mx.array(x), mx.array(y)), -(y * logp).sum(-1), rtol=1e-6, atol=1e-6)
    # d/dy = -log_softmax(x), d/dx = softmax(x) sum(y) - y
    gx, gy = mx.grad(lambda x, y: mx.sum(f(x, y)), argnums=(0, 1))(mx.array(x), mx.array(y))
    _close(gy, -logp, rtol=1e-6, atol=1e-6)
    _close(gx, np.exp(logp) * y.sum(-1, keepdims=True) - y, rtol=1e-6, atol=1e-6)
    assert abs(F.cross_entropy(mx.array([[1e8, 1e8]]), mx.array([0])).item() - math.log(2)) < 1e-6


@pytest.mark.parametrize("shape,pw_shape", [((0, 0), (1, 1)), ((0, 3), (1, 3)), ((0, 3), (3,))])
def test_bce_logits_empty_input_with_size1_pos_weight(shape, pw_shape):
    # the loss has the input's (empty) shape; a size-1 pos_weight is not a row
    kw = dict(pos_weight=mx.ones(pw_shape))
    x, y = mx.zeros(shape), mx.zeros(shape)
    assert F.binary_cross_entropy_with_logits(x, y, reduction="none", **kw).shape == shape
    assert F.binary_cross_entropy_with_logits(x, y, reduction="sum", **kw).item() == 0.0


def test_bce_logits_gradients_at_infinite_logits_and_targets():
    # d/dy = pw softplus(-x) - softplus(x), d/dx = lw sigmoid(x) - pw y with
    # lw = 1 + (pw - 1) y: inf at x = -inf (never inf - inf through
    # (pw - 1) softplus(-x) - x), and NaN where lw is inf - inf (y = inf)
    x = mx.array([-np.inf, np.inf, -np.inf, np.inf, 1.0], dtype=mx.float64)
    y = mx.array([0.5, 0.5, 1.0, 0.0, np.inf], dtype=mx.float64)
    for pw in (1.0, 2.0):
        f = lambda x, y: F.binary_cross_entropy_with_logits(  # noqa: E731
            x, y, reduction="sum", pos_weight=mx.array([pw], dtype=mx.float64))
        gx, gy = mx.grad(f, argnums=(0, 1))(x, y)
        sp = lambda v: np.logaddexp(0.0, v)  # noqa: E731
        xn, yn = np.array(x), np.array(y)
        with np.errstate(all="ignore"):
            want_dy = pw * sp(-xn) - sp(xn)
        want_dy[4] = pw * sp(-1.0) - sp(1.0)
        np.testing.assert_allclose(np.array(gy), want_dy, rtol=1e-12)
        sig = np.array([0.0, 1.0, 0.0, 1.0])
        want_dx = (1 + (pw - 1) * yn[:4]) * sig - pw * yn[:4]
        np.testing.assert_allclose(np.array(gx)[:4], want_dx, rtol=1e-12)
        assert math.isnan(np.array(gx)[4])


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_ignored_row_with_infinite_class_weight_has_zero_gradient(fn):
    # the ignored row's weight never reaches its gradient (0 * inf = NaN)
    x = mx.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]])
    t, w = mx.array([1, 2]), mx.array([1.0, np.inf, 2.0])
    g = mx.grad(lambda x: getattr(F, fn)(x, t, weight=w, ignore_index=1, reduction="sum"))(x)
    assert np.array_equal(np.array(g[0]), np.zeros(3))
    assert np.isfinite(np.array(g[1])).all()
    with mlx_losses.value_checks(False):
        g2 = mx.grad(lambda x: getattr(F, fn)(x, t, weight=w, ignore_index=1, reduction="sum"))(x)
    assert np.array_equal(np.array(g2), np.array(g))


@pytest.mark.parametrize("x_shape,y_shape", [((4, 3), (3,)), ((4, 3), (1, 3)), ((1, 3), (4, 3)),
                                             ((2, 4, 3), (4, 1))])
def test_multilabel_soft_margin_gradient_of_a_broadcast_operand_has_its_shape(x_shape, y_shape):
    # each operand's gradient is the sum of the broadcast one (torch's
    # shapes): checked against the loss with both broadcast up front
    rng = np.random.default_rng(3)
    x = mx.array(rng.normal(size=x_shape).astype(np.float32))
    y = mx.array(rng.uniform(size=y_shape).astype(np.float32))
    shape = np.broadcast_shapes(x_shape, y_shape)
    f = lambda x, y: F.multilabel_soft_margin_loss(x, y, reduction="sum")  # noqa: E731
    gx, gy = mx.grad(f, argnums=(0, 1))(x, y)
    assert gx.shape == x_shape and gy.shape == y_shape
    bx, by = mx.broadcast_to(x, shape), mx.broadcast_to(y, shape)
    fx, fy = mx.grad(f, argnums=(0, 1))(bx, by)
    lead = len(shape) - len(x_shape)
    _close(gx, mx.sum(fx, axis=[i for i in range(len(shape)) if i < lead or
                                 x_shape[i - lead] == 1 and shape[i] != 1], keepdims=True)
           .reshape(x_shape), rtol=1e-5)
    lead = len(shape) - len(y_shape)
    _close(gy, mx.sum(fy, axis=[i for i in range(len(shape)) if i < lead or
                                 y_shape[i - lead] == 1 and shape[i] != 1], keepdims=True)
           .reshape(y_shape), rtol=1e-5)


@pytest.mark.parametrize("how", ["checks_off", "compile"])
def test_bce_target_outside_unit_interval_is_nan_when_unchecked(how):
    # torch refuses it eagerly (as ours); unchecked it is NaN at that
    # element, loss and gradient, never the formula's plausible number
    x, y = mx.array([0.3, 0.3, 0.3, 0.3]), mx.array([-0.5, 1.5, np.nan, 0.25])
    f = lambda x, y: F.binary_cross_entropy(x, y, reduction="none")  # noqa: E731
    g = lambda x, y: mx.grad(lambda x, y: mx.sum(f(x, y)), argnums=(0, 1))(x, y)  # noqa: E731
    if how == "compile":
        out, (gx, gy) = mx.compile(f)(x, y), mx.compile(g)(x, y)
    else:
        with mlx_losses.value_checks(False):
            out, (gx, gy) = f(x, y), g(x, y)
    want = -(0.25 * math.log(0.3) + 0.75 * math.log(0.7))
    for a in (out, gx, gy):
        assert np.isnan(np.array(a)[:3]).all() and np.isfinite(np.array(a)[3])
    assert abs(out[3].item() - want) < 1e-6
    with pytest.raises(ValueError, match="target"):
        f(x, y)
