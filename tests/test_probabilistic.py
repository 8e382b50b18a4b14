"""Probabilistic losses without torch: identities, Modules, transforms, errors."""

import math
import warnings

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F
from mlx_losses._validation import ShapeError, ValueCheckError


def _rng(seed=0):
    return np.random.default_rng(seed)


def _logp(shape=(4, 5), seed=0, dtype=mx.float32):
    z = mx.array(_rng(seed).normal(size=shape).astype(np.float32))
    return (z - mx.logsumexp(z, axis=-1, keepdims=True)).astype(dtype)


def _np(a):
    return np.array(a.astype(mx.float32) if a.dtype in (mx.float16, mx.bfloat16) else a, dtype=np.float64)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- kl_div


def test_kl_div_is_its_definition_and_zero_on_equal_distributions():
    x, lt = _logp(seed=0), _logp(seed=1)
    t = mx.exp(lt)
    ref = _np(t) * (np.log(_np(t)) - _np(x))
    assert np.allclose(F.kl_div(x, t, reduction="none"), ref, atol=1e-6)
    # log_target gives the same numbers from the log of the target
    assert np.allclose(F.kl_div(x, lt, reduction="none", log_target=True), ref, atol=1e-6)
    # KL(p || p) = 0
    assert abs(F.kl_div(x, mx.exp(x), reduction="batchmean").item()) < 1e-6
    assert abs(F.kl_div(x, x, reduction="sum", log_target=True).item()) == 0.0


def test_kl_div_target_zero_gives_zero_loss_and_torch_gradients():
    x = mx.array([-1.0, -0.5, -2.0])
    t = mx.array([0.0, 0.5, 0.0])
    loss = F.kl_div(x, t, reduction="none")
    assert loss[0].item() == 0.0 and loss[2].item() == 0.0
    gx, gt = mx.grad(lambda a, b: F.kl_div(a, b, reduction="sum"), argnums=(0, 1))(x, t)
    # d/dinput = -target; d/dtarget = log t + 1 - input, NaN at t == 0
    # (torch's xlogy rule: grad * t / t there).
    assert np.allclose(gx, -np.array(t))
    assert np.isnan(np.array(gt)[[0, 2]]).all()
    assert np.isclose(gt[1].item(), math.log(0.5) + 1 + 0.5, rtol=1e-6)
    # a negative target is NaN (log of a negative)
    assert math.isnan(F.kl_div(mx.array([0.0]), mx.array([-0.5]), reduction="sum").item())


def test_kl_div_reductions():
    x, t = _logp((4, 5)), mx.exp(_logp((4, 5), seed=3))
    none = _np(F.kl_div(x, t, reduction="none"))
    assert np.isclose(F.kl_div(x, t, reduction="sum").item(), none.sum(), rtol=1e-5)
    assert np.isclose(F.kl_div(x, t, reduction="batchmean").item(), none.sum() / 4, rtol=1e-5)
    assert np.isclose(_quiet(F.kl_div, x, t).item(), none.mean(), rtol=1e-5)
    # batchmean of a 0-d input is the sum; of an empty batch, NaN
    assert np.isclose(F.kl_div(x[0, 0], t[0, 0], reduction="batchmean").item(), none[0, 0], rtol=1e-6)
    assert math.isnan(F.kl_div(mx.zeros((0, 3)), mx.zeros((0, 3)), reduction="batchmean").item())
    # input broadcast up by target: torch divides by input.shape[0]
    out = F.kl_div(x[0], t, reduction="batchmean")
    full = _np(F.kl_div(x[0], t, reduction="none"))
    assert np.isclose(out.item(), full.sum() / 5, rtol=1e-5)


def test_kl_div_mean_warns_with_torch_text():
    x, t = _logp(), mx.exp(_logp(seed=1))
    with pytest.warns(UserWarning, match=r"reduction: 'mean' divides the total loss by both the batch size and the support size\.") as rec:
        F.kl_div(x, t)
    assert rec[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, t, reduction="batchmean")
        F.kl_div(x, t, reduction="sum")
    # the Module warns on every call, as torch's does
    m = mlx_losses.KLDivLoss()
    for _ in range(2):
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            m(x, t)


def test_kl_div_legacy_pair_and_batchmean_quirk():
    x, t = _logp(), mx.exp(_logp(seed=1))
    none = F.kl_div(x, t, reduction="none")
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.kl_div(x, t, reduce=False)
    assert np.array_equal(out, none)
    # torch's quirk: the legacy pair picks the reduction, 'batchmean' still
    # divides by the batch size afterwards.
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.kl_div(x, t, reduction="batchmean", reduce=False)
    assert np.allclose(out, _np(none) / 4, rtol=1e-6)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        out = F.kl_div(x, t, reduction="batchmean", size_average=False)
    assert np.isclose(out.item(), _np(none).sum() / 4, rtol=1e-5)
    # the Module maps the pair at construction: no division
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = mlx_losses.KLDivLoss(reduction="batchmean", size_average=False)
    assert m.reduction == "sum"
    assert np.isclose(m(x, t).item(), _np(none).sum(), rtol=1e-5)


# ---------------------------------------------------------------- poisson_nll_loss


def _stirling(t):
    return t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)


def test_poisson_log_input_and_rate_agree():
    rng = _rng(1)
    rate = mx.array(rng.uniform(0.2, 4.0, size=(4, 5)).astype(np.float32))
    t = mx.array(rng.poisson(2.0, size=(4, 5)).astype(np.float32))
    a = F.poisson_nll_loss(mx.log(rate), t, reduction="none")
    b = F.poisson_nll_loss(rate, t, log_input=False, eps=0.0, reduction="none")
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    ref = _np(rate) - _np(t) * np.log(_np(rate) + 1e-8)
    assert np.allclose(F.poisson_nll_loss(rate, t, log_input=False, reduction="none"), ref, atol=1e-5)


def test_poisson_stirling_term_only_above_one():
    x = mx.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    t = mx.array([0.0, 0.5, 1.0, 1.0625, 2.0, 7.0])
    base = _np(F.poisson_nll_loss(x, t, reduction="none"))
    full = _np(F.poisson_nll_loss(x, t, full=True, reduction="none"))
    tn = _np(t)
    expected = np.where(tn > 1, _stirling(np.where(tn > 1, tn, 2.0)), 0.0)
    assert np.array_equal(full[:3], base[:3])
    assert np.allclose(full - base, expected, rtol=1e-5, atol=1e-6)
    # Stirling is close to log(t!) for the larger counts
    assert abs((full - base)[-1] - math.lgamma(8.0)) < 0.02


def test_poisson_gradients():
    x = mx.array([0.3, -0.2, 1.1, 0.5])
    t = mx.array([0.0, 1.0, 2.0, 3.0])
    gx, gt = mx.grad(lambda a, b: F.poisson_nll_loss(a, b, full=True, reduction="sum"), argnums=(0, 1))(x, t)
    assert np.allclose(gx, np.exp(_np(x)) - _np(t), rtol=1e-6)
    gtn = np.array(gt)
    # t == 0 with full=True: NaN, as torch (0 * log 0 in the masked branch)
    assert np.isnan(gtn[0])
    assert np.isclose(gtn[1], -x[1].item(), rtol=1e-6)  # masked: only -x
    tn = _np(t)[2:]
    assert np.allclose(gtn[2:], -_np(x)[2:] + np.log(tn) + 0.5 / tn, rtol=1e-5)
    # without full, the target gradient is -input everywhere
    gt0 = mx.grad(lambda b: F.poisson_nll_loss(x, b, reduction="sum"))(t)
    assert np.allclose(gt0, -np.array(x))


# ---------------------------------------------------------------- gaussian_nll_loss


def _gxyv(shape=(4, 5), vshape=None, seed=0):
    rng = _rng(seed)
    x = mx.array(rng.normal(size=shape).astype(np.float32))
    y = mx.array(rng.normal(size=shape).astype(np.float32))
    v = mx.array(rng.uniform(0.2, 2.0, size=vshape or shape).astype(np.float32))
    return x, y, v


def test_gaussian_is_its_definition_and_full_adds_half_log_2pi():
    x, y, v = _gxyv()
    ref = 0.5 * (np.log(_np(v)) + (_np(x) - _np(y)) ** 2 / _np(v))
    assert np.allclose(F.gaussian_nll_loss(x, y, v, reduction="none"), ref, rtol=1e-5)
    diff = _np(F.gaussian_nll_loss(x, y, v, full=True)) - _np(F.gaussian_nll_loss(x, y, v))
    assert np.isclose(diff, 0.5 * math.log(2 * math.pi), rtol=1e-5)


@pytest.mark.parametrize("vshape", [(4,), (4, 1), (1, 5)])
def test_gaussian_homoscedastic_layouts_equal_explicit_broadcast(vshape):
    x, y, v = _gxyv(vshape=vshape)
    full_v = mx.broadcast_to(v.reshape((4, 1)) if vshape == (4,) else v, (4, 5))
    a = F.gaussian_nll_loss(x, y, v, reduction="none")
    b = F.gaussian_nll_loss(x, y, full_v, reduction="none")
    assert np.array_equal(a, b)
    # gradients w.r.t. var sum over the broadcast dimension
    g = mx.grad(lambda w: F.gaussian_nll_loss(x, y, w, reduction="sum"), argnums=0)(v)
    gf = mx.grad(lambda w: F.gaussian_nll_loss(x, y, w, reduction="sum"))(full_v)
    axis = 1 if vshape in ((4,), (4, 1)) else 0
    assert np.allclose(np.array(g).reshape(-1), np.array(gf).sum(axis=axis), rtol=1e-5, atol=1e-5)


def test_gaussian_var_float_is_a_constant_array():
    x, y, _ = _gxyv()
    a = F.gaussian_nll_loss(x, y, 0.7, reduction="none")
    b = F.gaussian_nll_loss(x, y, mx.full(x.shape, 0.7), reduction="none")
    assert np.array_equal(a, b)
    # var in input's dtype, as torch's var * ones_like(input)
    assert F.gaussian_nll_loss(x.astype(mx.float16), y.astype(mx.float16), 0.7).dtype == mx.float16


def test_gaussian_eps_clamp_value_and_straight_through_gradient():
    eps = 0.1
    x = mx.array([0.3, 0.3, 0.3, 0.3])
    y = mx.array([0.0, 0.0, 0.0, 0.0])
    v = mx.array([0.0, 0.01, 0.1, 0.5])
    loss = _np(F.gaussian_nll_loss(x, y, v, eps=eps, reduction="none"))
    vc = np.maximum(_np(v), eps)
    assert np.allclose(loss, 0.5 * (np.log(vc) + 0.09 / vc), rtol=1e-6)
    assert loss[0] == loss[1]  # both clamped to exactly eps
    g = np.array(mx.grad(lambda w: F.gaussian_nll_loss(x, y, w, eps=eps, reduction="sum"))(v))
    # d/dvar of the formula at the clamped value, passed through unclamped
    assert np.allclose(g, 0.5 / vc - 0.5 * 0.09 / vc**2, rtol=1e-5)
    # and gradients w.r.t. input / target: (x - y) / var_clamped
    gx, gy = mx.grad(lambda a, b: F.gaussian_nll_loss(a, b, v, eps=eps, reduction="sum"), argnums=(0, 1))(x, y)
    assert np.allclose(gx, 0.3 / vc, rtol=1e-6) and np.allclose(gy, -0.3 / vc, rtol=1e-6)


def test_gaussian_var_gradient_is_nan_where_the_clamped_var_is_zero():
    # Regression: with eps=0 and var=0 the loss is NaN (log 0 + d^2 / 0), and
    # torch's gradient w.r.t. var (1/v - d^2/v^2: inf - inf, or 0/0) too;
    # ours was -inf where d != 0.
    x = mx.array([0.0, 0.0, 0.125, np.inf, 0.125], dtype=mx.float64)
    y = mx.array([0.125, 0.0, 0.0, 0.0, 0.0], dtype=mx.float64)
    v = mx.array([0.0, 0.0, 0.0, 0.0, 0.5], dtype=mx.float64)
    loss = F.gaussian_nll_loss(x, y, v, eps=0.0, reduction="none")
    assert np.isnan(_np(loss)[:4]).all()
    gv = _np(mx.grad(lambda w: F.gaussian_nll_loss(x, y, w, eps=0.0, reduction="sum"))(v))
    assert np.isnan(gv[:4]).all()
    assert np.isclose(gv[4], 0.5 / 0.5 - 0.5 * 0.125**2 / 0.25, rtol=1e-12)
    # the input's gradient (x - y) / v is +-inf there, NaN at d = 0 (torch's)
    gx = _np(mx.grad(lambda a: F.gaussian_nll_loss(a, y, v, eps=0.0, reduction="sum"))(x))
    assert gx[0] == -np.inf and np.isnan(gx[1]) and gx[2] == np.inf


def test_gaussian_second_derivative_through_clamp_is_the_formulas():
    x, y = mx.array([0.5]), mx.array([0.0])
    g = mx.grad(lambda w: F.gaussian_nll_loss(x, y, w, eps=0.1, reduction="sum"))
    d2 = mx.grad(lambda w: mx.sum(g(w)))
    v = mx.array([0.4])
    assert np.isclose(d2(v).item(), -0.5 / 0.16 + 0.25 / 0.064, rtol=1e-5)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_gaussian_half_var_check_eager_and_under_compile_and_vmap(dtype, read_path):
    x, y, _ = _gxyv((3,))
    x, y = x.astype(dtype), y.astype(dtype)
    bad = mx.array([1.0, -0.5, 2.0], dtype=dtype)
    with pytest.raises(ValueCheckError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, y, bad)
    F.gaussian_nll_loss(x, y, mx.array([1.0, -0.0, 2.0], dtype=dtype))  # -0.0 passes
    mx.eval(mx.compile(lambda a, b, w: F.gaussian_nll_loss(a, b, w))(x, y, bad))
    mx.eval(mx.vmap(lambda a, b, w: F.gaussian_nll_loss(a, b, w))(x[None], y[None], bad[None]))


def test_gaussian_negative_var_check_and_switch(read_path):
    x, y, _ = _gxyv((3,))
    bad = mx.array([1.0, -0.5, 2.0])
    with pytest.raises(ValueCheckError, match=r"gaussian_nll_loss: `var` must be non-negative, got -0\.5: var has negative entry/entries\."):
        F.gaussian_nll_loss(x, y, bad)
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, y, -1.0)
    # switched off (or under mx.compile) the negative entry is NaN, the
    # others as they are
    want = F.gaussian_nll_loss(x, y, mx.array([1.0, np.nan, 2.0]), reduction="none")
    with mlx_losses.value_checks(False):
        out = F.gaussian_nll_loss(x, y, bad, reduction="none")
    assert np.array_equal(out, want, equal_nan=True) and math.isnan(out[1].item())
    # under mx.compile the check skips itself and the trace works
    out = mx.compile(lambda a, b, w: F.gaussian_nll_loss(a, b, w, reduction="none"))(x, y, bad)
    assert np.array_equal(out, want, equal_nan=True)


def test_gaussian_var_check_with_nan_entries(read_path):
    # A NaN variance alone passes (NaN loss, as in torch); a negative entry
    # beside a NaN is still rejected, wherever the NaN sits.
    x, y, _ = _gxyv((4,))
    nan = float("nan")
    assert math.isnan(F.gaussian_nll_loss(x, y, mx.array([1.0, nan, 2.0, 0.5])).item())
    for var in ([nan, -1.0, 2.0, 0.5], [1.0, 2.0, -1.0, nan], [-0.25, nan, nan, nan]):
        with pytest.raises(ValueCheckError, match="var has negative entry/entries"):
            F.gaussian_nll_loss(x, y, mx.array(var))
    F.gaussian_nll_loss(x, y, mx.array([0.0, -0.0, 1.0, 2.0]))  # -0.0 is not negative


# ---------------------------------------------------------------- all three


_CALLS = {
    "kl_div": lambda a, b, **k: F.kl_div(a, mx.exp(b), **k),
    "poisson_nll_loss": lambda a, b, **k: F.poisson_nll_loss(a, mx.abs(b), full=True, **k),
    "gaussian_nll_loss": lambda a, b, **k: F.gaussian_nll_loss(a, b, mx.abs(b) + 0.5, **k),
}


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_compile_grad_vmap(name):
    fn = _CALLS[name]
    x, y = _logp(seed=4), _logp(seed=5)
    eager = fn(x, y, reduction="sum")
    assert np.allclose(mx.compile(lambda a, b: fn(a, b, reduction="sum"))(x, y), eager, rtol=1e-6)
    g = mx.grad(lambda a, b: fn(a, b, reduction="sum"), argnums=(0, 1))(x, y)
    assert g[0].shape == x.shape and g[1].shape == y.shape
    # autodiff vs central finite differences in float64
    x64, y64 = x.astype(mx.float64), y.astype(mx.float64)
    f = lambda a: fn(a, y64, reduction="sum")
    gx = np.array(mx.grad(f)(x64))
    h = 1e-6
    e = np.zeros(x.shape)
    e[1, 2] = h
    fd = (f(x64 + mx.array(e)).item() - f(x64 - mx.array(e)).item()) / (2 * h)
    assert np.isclose(gx[1, 2], fd, rtol=1e-6, atol=1e-9)
    per_row = mx.vmap(lambda a, b: fn(a, b, reduction="sum"))(x, y)
    assert np.allclose(per_row, mx.sum(fn(x, y, reduction="none"), axis=1), rtol=1e-5)


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
@pytest.mark.parametrize("name", sorted(_CALLS))
def test_half_precision_keeps_dtype_and_is_close(name, dtype):
    fn = _CALLS[name]
    x, y = _logp((64, 64), seed=6), _logp((64, 64), seed=7)
    xh, yh = x.astype(dtype), y.astype(dtype)
    red = "batchmean" if name == "kl_div" else "mean"
    out = fn(xh, yh, reduction=red)
    assert out.dtype == dtype
    ref = fn(xh.astype(mx.float64), yh.astype(mx.float64), reduction=red).item()
    ulp = 2.0**-10 if dtype == mx.float16 else 2.0**-7
    assert abs(out.item() - ref) <= ulp * abs(ref)


def test_dtype_promotion():
    x = _logp((3, 4))
    t = mx.exp(_logp((3, 4), seed=2))
    assert F.kl_div(x.astype(mx.float16), t, reduction="sum").dtype == mx.float32
    assert F.poisson_nll_loss(x.astype(mx.bfloat16), t.astype(mx.bfloat16)).dtype == mx.bfloat16
    assert F.gaussian_nll_loss(x.astype(mx.float16), t, mx.ones((3, 1), dtype=mx.float64)).dtype == mx.float64


def test_modules_equal_functional_repr_and_nothing_trainable():
    x, y = _logp(seed=8), _logp(seed=9)
    t = mx.exp(y)
    assert mlx_losses.KLDivLoss(reduction="batchmean")(x, t).item() == F.kl_div(x, t, reduction="batchmean").item()
    assert mlx_losses.KLDivLoss(reduction="sum", log_target=True)(x, y).item() == F.kl_div(x, y, reduction="sum", log_target=True).item()
    m = mlx_losses.PoissonNLLLoss(log_input=False, full=True, eps=1e-3, reduction="sum")
    assert m(t, mx.abs(y)).item() == F.poisson_nll_loss(t, mx.abs(y), False, True, None, 1e-3, None, "sum").item()
    g = mlx_losses.GaussianNLLLoss(full=True, eps=0.5, reduction="none")
    assert np.array_equal(g(x, y, t), F.gaussian_nll_loss(x, y, t, full=True, eps=0.5, reduction="none"))
    assert np.array_equal(g(x, y, 0.3), F.gaussian_nll_loss(x, y, 0.3, full=True, eps=0.5, reduction="none"))
    assert repr(mlx_losses.KLDivLoss(reduction="batchmean", log_target=True)) == "KLDivLoss(reduction='batchmean', log_target=True)"
    assert repr(mlx_losses.PoissonNLLLoss()) == "PoissonNLLLoss(reduction='mean', log_input=True, full=False, eps=1e-08)"
    assert repr(mlx_losses.GaussianNLLLoss(eps=0.01)) == "GaussianNLLLoss(reduction='mean', full=False, eps=0.01)"
    for m in (mlx_losses.KLDivLoss(), mlx_losses.PoissonNLLLoss(), mlx_losses.GaussianNLLLoss()):
        assert m.trainable_parameters() == {}
    with pytest.raises(TypeError):
        mlx_losses.GaussianNLLLoss(True)  # keyword-only, as torch's


def test_poisson_legacy_pair():
    x, y = _logp(seed=8), _logp(seed=9)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = mlx_losses.PoissonNLLLoss(size_average=False)
    assert m.reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.poisson_nll_loss(x, mx.abs(y), reduce=False)
    assert out.shape == x.shape


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda x, y: F.kl_div(x, y, reduction="avg"), ValueError,
         r"kl_div: `reduction` must be one of 'none', 'batchmean', 'sum', 'mean', got 'avg': avg is not a valid value for reduction\."),
        (lambda x, y: F.kl_div(x, y[:, :2]), ShapeError, r"kl_div: `input` and `target` must be broadcastable"),
        (lambda x, y: F.kl_div(x.astype(mx.int32), y), TypeError, r"kl_div: `input` must have a floating dtype, got int32"),
        (lambda x, y: F.poisson_nll_loss(x, y, reduction="batchmean"), ValueError,
         r"poisson_nll_loss: `reduction` must be one of 'none', 'mean', 'sum', got 'batchmean'"),
        (lambda x, y: F.poisson_nll_loss(x, y, eps="1e-8"), TypeError, r"poisson_nll_loss: `eps` must be a number, got str"),
        (lambda x, y: F.poisson_nll_loss(x, y, eps=mx.array([1e-8])), TypeError,
         r"poisson_nll_loss: `eps` must be a number or a 0-d mx.array, got an mx.array of shape \(1,\)"),
        (lambda x, y: F.poisson_nll_loss(x, y, log_input=1), TypeError,
         r"poisson_nll_loss: `log_input` must be a bool, got int"),
        (lambda x, y: F.kl_div(x, y, log_target=1), TypeError, r"kl_div: `log_target` must be a bool, got int"),
        (lambda x, y: mlx_losses.KLDivLoss(log_target=np.bool_(True)), TypeError,
         r"KLDivLoss: `log_target` must be a bool, got numpy.bool"),
        (lambda x, y: mlx_losses.PoissonNLLLoss(full=0), TypeError, r"PoissonNLLLoss: `full` must be a bool, got int"),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones((4, 5)), eps=mx.ones((3,))), ShapeError,
         r"gaussian_nll_loss: `eps` must broadcast to the shape of `var`, \(4, 5\), got \(3,\)"),
        (lambda x, y: F.gaussian_nll_loss(x, y, 1.0, eps=1 + 1j), ValueError,
         r"gaussian_nll_loss: `eps` must be a real number \(no imaginary part\)"),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones((5,))), ShapeError,
         r"gaussian_nll_loss: `var` must have the shape of `input` \(4, 5\), .* got \(5,\): var is of incorrect size\."),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones((1, 1))), ShapeError, r"var is of incorrect size"),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones(())), ShapeError, r"var is of incorrect size"),
        (lambda x, y: F.gaussian_nll_loss(x, y, 1), TypeError,
         r"gaussian_nll_loss: `var` must be an mx.array or a Python float, got int\."),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones((4, 5), dtype=mx.int32)), TypeError,
         r"gaussian_nll_loss: `var` must have a floating dtype, got int32"),
        (lambda x, y: F.gaussian_nll_loss(x, y[:, :2], mx.ones((4, 5))), ShapeError,
         r"gaussian_nll_loss: `input` and `target` and `var` must be broadcastable"),
        (lambda x, y: F.gaussian_nll_loss(x, y, mx.ones((4, 5)), reduction="batchmean"), ValueError,
         r"batchmean is not a valid value for reduction"),
        (lambda x, y: mlx_losses.KLDivLoss(reduction="avg"), ValueError, r"KLDivLoss: `reduction` must be one of"),
        (lambda x, y: mlx_losses.GaussianNLLLoss(eps="x"), TypeError, r"GaussianNLLLoss: `eps` must be a number"),
    ],
)
def test_errors(call, err, pattern):
    x, y = _logp(seed=10), _logp(seed=11)
    with pytest.raises(err, match=pattern):
        _quiet(call, x, y)
    # a ShapeError is also a RuntimeError, as torch raises for shapes
    if err is ShapeError:
        with pytest.raises(RuntimeError):
            _quiet(call, x, y)


def test_gaussian_float_var_under_vmap_and_compile():
    x, y, _ = _gxyv()
    f = lambda a, b: F.gaussian_nll_loss(a, b, 0.7, reduction="sum")
    per_row = mx.vmap(f)(x, y)
    assert np.allclose(per_row, mx.sum(F.gaussian_nll_loss(x, y, 0.7, reduction="none"), axis=1), rtol=1e-6)
    assert np.allclose(mx.compile(f)(x, y), f(x, y), rtol=1e-6)


# ---------------------------------------------------------------- options at the edges


def test_gaussian_eps_is_torchs_clamp_min():
    rng = np.random.default_rng(0)
    x, y = (mx.array(rng.normal(size=(4, 5)).astype(np.float32)) for _ in range(2))
    var = mx.array(rng.uniform(0.0, 0.5, (4, 5)).astype(np.float32))

    def formula(v):
        d = np.array(x) - np.array(y)
        return 0.5 * (np.log(v) + d * d / v)

    # torch's clamp_(min=nan) is NaN everywhere; a negative eps clamps nothing
    assert np.isnan(np.array(F.gaussian_nll_loss(x, y, var, eps=float("nan"), reduction="none"))).all()
    got = F.gaussian_nll_loss(x, y, var, eps=-1.0, reduction="none")
    assert np.allclose(np.array(got), formula(np.array(var)), rtol=1e-5)
    # an array of lower bounds broadcast over var, and a complex number with no imaginary part
    eps = mx.array([0.1, 0.2, 0.3, 0.05, 0.0])
    got = F.gaussian_nll_loss(x, y, var, eps=eps, reduction="none")
    assert np.allclose(np.array(got), formula(np.maximum(np.array(var), np.array(eps))), rtol=1e-5)
    module = mlx_losses.GaussianNLLLoss(eps=eps, reduction="none")
    assert np.allclose(np.array(module(x, y, var)), np.array(got))
    assert not module.trainable_parameters()  # a frozen buffer, never trained
    same = F.gaussian_nll_loss(x, y, var, eps=0.25 + 0j)
    assert same.item() == F.gaussian_nll_loss(x, y, var, eps=0.25).item()


def test_numpy_and_0d_eps_equal_the_python_number():
    rng = np.random.default_rng(1)
    x = mx.array(rng.uniform(0.1, 2, (3, 4)).astype(np.float32))  # rates
    t = mx.array(rng.uniform(0, 3, (3, 4)).astype(np.float32))
    want = F.poisson_nll_loss(x, t, log_input=False, eps=0.5).item()
    assert want == want
    for eps in (np.float32(0.5), np.float64(0.5), mx.array(0.5), mx.array(0.5, dtype=mx.float16)):
        assert F.poisson_nll_loss(x, t, log_input=False, eps=eps).item() == want
        assert mlx_losses.PoissonNLLLoss(log_input=False, eps=eps)(x, t).item() == want


@pytest.mark.parametrize("how", ["checks_off", "compile"])
def test_gaussian_negative_var_is_nan_when_unchecked(how):
    # torch refuses it eagerly (as ours); unchecked it is NaN at that
    # element, loss and gradient, never clamped to eps (a huge plausible loss)
    x, y, v = mx.array([0.0, 0.0]), mx.array([1.0, 1.0]), mx.array([-1.0, 2.0])
    f = lambda v: F.gaussian_nll_loss(x, y, v, reduction="none")  # noqa: E731
    g = mx.grad(lambda v: mx.sum(f(v)))
    if how == "compile":
        out, gv = mx.compile(f)(v), mx.compile(g)(v)
    else:
        with mlx_losses.value_checks(False):
            out, gv = f(v), g(v)
    assert math.isnan(out[0].item()) and math.isnan(gv[0].item())
    assert abs(out[1].item() - 0.5 * (math.log(2.0) + 0.5)) < 1e-6
    assert abs(gv[1].item() - 0.5 * (1 / 2.0 - 1 / 4.0)) < 1e-6
    with pytest.raises(ValueError, match="var"):
        f(v)
