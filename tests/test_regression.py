"""Regression losses without torch: identities, Modules, transforms, errors."""

import warnings

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F


def _xy(shape=(4, 5), seed=0, dtype=mx.float32):
    rng = np.random.default_rng(seed)
    x = mx.array(rng.normal(size=shape).astype(np.float32)).astype(dtype)
    y = mx.array(rng.normal(size=shape).astype(np.float32)).astype(dtype)
    return x, y


def test_l1_and_mse_are_their_definitions():
    x, y = _xy()
    d = np.array(x) - np.array(y)
    assert np.allclose(F.l1_loss(x, y, reduction="none"), np.abs(d), atol=1e-6)
    assert np.allclose(F.mse_loss(x, y, reduction="sum").item(), (d * d).sum(), rtol=1e-5)


def test_huber_with_huge_delta_is_half_mse():
    x, y = _xy()
    huber = F.huber_loss(x, y, delta=1e6)
    assert np.isclose(huber.item(), 0.5 * F.mse_loss(x, y).item(), rtol=1e-6)


def test_smooth_l1_beta_zero_is_l1_and_huber_is_beta_times_smooth_l1():
    x, y = _xy()
    assert np.allclose(F.smooth_l1_loss(x, y, beta=0.0, reduction="none"), F.l1_loss(x, y, reduction="none"))
    for beta in (0.3, 1.0, 2.5):
        s = F.smooth_l1_loss(x, y, beta=beta, reduction="none")
        h = F.huber_loss(x, y, delta=beta, reduction="none")
        assert np.allclose(np.array(h), beta * np.array(s), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.float64])
def test_smooth_l1_infinite_beta_gradient_at_infinite_differences(dtype):
    # Regression: beta = inf gave NaN at d = +-inf (clip(d) / beta = inf /
    # inf); torch's |d| >= beta branch gives sign(d) there, d / beta (0)
    # elsewhere, NaN at NaN.
    inf = float("inf")
    x = mx.array([inf, -inf, float("nan"), 3.0, -3.0, 0.0]).astype(dtype)
    y = mx.array([1.5, 0.0, 0.0, 1.0, 0.0, 0.0]).astype(dtype)
    f = lambda a: F.smooth_l1_loss(a, y, beta=inf, reduction="sum")  # noqa: E731
    for fn in (mx.grad(f), mx.compile(mx.grad(f))):
        g = np.array(fn(x).astype(mx.float64) if dtype != mx.float64 else fn(x))
        assert g[0] == 1.0 and g[1] == -1.0 and np.isnan(g[2])
        assert (g[3:] == 0.0).all()
    assert np.isnan(np.array(F.smooth_l1_loss(x, y, beta=inf, reduction="none").astype(mx.float32))[:3]).all()


def test_weighted_mean_rules():
    x, y = _xy()
    w = mx.abs(_xy(seed=1)[0]) + 0.1
    l1 = np.abs(np.array(x) - np.array(y))
    wn = np.array(w)
    # l1/mse: sum(w l) / sum(w); huber: plain mean of w l
    assert np.isclose(F.l1_loss(x, y, weight=w).item(), (wn * l1).sum() / wn.sum(), rtol=1e-5)
    hub = np.array(F.huber_loss(x, y, reduction="none"))
    assert np.isclose(F.huber_loss(x, y, weight=w).item(), (wn * hub).mean(), rtol=1e-5)


def test_gradients_match_autodiff_of_plain_formula():
    x, y = _xy()
    g_ours = mx.grad(lambda a: F.smooth_l1_loss(a, y, beta=0.7))(x)
    g_ref = mx.grad(
        lambda a: mx.mean(
            mx.where(mx.abs(a - y) < 0.7, 0.5 * (a - y) ** 2 / 0.7, mx.abs(a - y) - 0.35)
        )
    )(x)
    assert np.allclose(g_ours, g_ref, atol=1e-6)


def test_broadcast_warns_like_torch():
    x, y = _xy((3, 4))
    with pytest.warns(UserWarning, match="target size"):
        out = F.mse_loss(x, y[0], reduction="none")
    assert out.shape == (3, 4)


def test_half_precision_keeps_dtype_and_accumulates_in_float32():
    x, y = _xy((256, 256), dtype=mx.bfloat16)
    out = F.mse_loss(x, y)
    assert out.dtype == mx.bfloat16
    ref = ((np.array(x.astype(mx.float32), dtype=np.float64) - np.array(y.astype(mx.float32), dtype=np.float64)) ** 2).mean()
    assert abs(out.item() - ref) / ref < 2**-7


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "fn,kw",
    [(F.l1_loss, {}), (F.mse_loss, {}), (F.huber_loss, {"delta": 0.5}),
     (F.huber_loss, {"delta": 0.3}), (F.smooth_l1_loss, {"beta": 0.3})],
)
def test_half_precision_gradients_are_within_two_ulps(fn, kw, reduction, dtype):
    # The gradient runs in the half dtype (as torch's backward); a delta /
    # beta the half type cannot hold (0.3) stays float32. Against float64
    # on the same rounded values: at most about two roundings of the result.
    x, y = _xy((64, 33), dtype=dtype)
    cot = _xy((64, 33), seed=3)[0] if reduction == "none" else mx.array(1.7)
    g = mx.vjp(lambda a: fn(a, y, reduction=reduction, **kw), [x], [cot.astype(dtype)])[1][0]
    x64, y64 = x.astype(mx.float64), y.astype(mx.float64)
    c64 = cot.astype(dtype).astype(mx.float64)
    g64 = mx.vjp(lambda a: fn(a, y64, reduction=reduction, **kw), [x64], [c64])[1][0]
    assert g.dtype == dtype
    g, g64 = np.array(g.astype(mx.float32), dtype=np.float64), np.array(g64)
    ulp = np.finfo(np.float16).eps if dtype == mx.float16 else 2.0**-7
    tiny = 2.0**-24 if dtype == mx.float16 else 0.0  # float16's subnormal spacing
    assert np.all(np.abs(g - g64) <= 2 * (ulp * np.abs(g64) + tiny))


@pytest.mark.parametrize("fn", [F.l1_loss, F.mse_loss, F.smooth_l1_loss, F.huber_loss])
def test_compile_grad_vmap(fn):
    x, y = _xy()
    eager = fn(x, y)
    assert np.allclose(mx.compile(lambda a, b: fn(a, b))(x, y), eager, rtol=1e-6)
    g = mx.grad(lambda a: fn(a, y))(x)
    assert g.shape == x.shape
    per_row = mx.vmap(lambda a, b: fn(a, b, reduction="sum"))(x, y)
    assert np.allclose(per_row, mx.sum(fn(x, y, reduction="none"), axis=1), rtol=1e-5)


@pytest.mark.parametrize("fn", [F.smooth_l1_loss, F.huber_loss])
@pytest.mark.parametrize("shape", [(37,), (37, 1), (3, 4, 5), ()])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_compiled_step_equals_eager_with_nonfinite_values(fn, shape, reduction):
    # Inside a caller's mx.compile the minimum / clip run as their own loops
    # (reshaped to a flat shape that must differ from the input's: 1-D and
    # (n, 1) inputs take the two branches); values and both gradients must
    # match the eager ones, inf and NaN included.
    x, y = _xy(shape, seed=5)
    if x.size >= 4:
        flat = np.array(x).reshape(-1)
        flat[:4] = [np.inf, -np.inf, np.nan, 0.25]
        x = mx.array(flat.reshape(shape))
        y = y * 3.0
    cot = _xy(shape, seed=6)[0] if reduction == "none" else mx.array(0.7)

    def step(a, b):
        return mx.vjp(lambda a, b: fn(a, b, reduction=reduction), [a, b], [cot])

    (v_e,), (gx_e, gy_e) = step(x, y)
    (v_c,), (gx_c, gy_c) = mx.compile(step)(x, y)
    for eager, compiled in ((v_e, v_c), (gx_e, gx_c), (gy_e, gy_c)):
        assert compiled.shape == eager.shape
        np.testing.assert_allclose(np.array(compiled), np.array(eager), rtol=1e-6, atol=0)


def test_modules_equal_functional_and_repr():
    x, y = _xy()
    assert mlx_losses.L1Loss()(x, y).item() == F.l1_loss(x, y).item()
    assert mlx_losses.MSELoss(reduction="sum")(x, y).item() == F.mse_loss(x, y, reduction="sum").item()
    assert mlx_losses.SmoothL1Loss(beta=0.5)(x, y).item() == F.smooth_l1_loss(x, y, beta=0.5).item()
    assert mlx_losses.HuberLoss(delta=2.0)(x, y).item() == F.huber_loss(x, y, delta=2.0).item()
    assert repr(mlx_losses.HuberLoss(reduction="sum", delta=2.0)) == "HuberLoss(reduction='sum', delta=2.0)"
    assert mlx_losses.L1Loss().trainable_parameters() == {}


def test_legacy_arguments_map_once_with_warning():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = mlx_losses.L1Loss(size_average=False)
    assert m.reduction == "sum"
    x, y = _xy()
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.l1_loss(x, y, reduce=False)
    assert out.shape == x.shape


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda x, y: F.l1_loss(x, y, reduction="avg"), ValueError,
         r"l1_loss: `reduction` must be one of 'none', 'mean', 'sum', got 'avg': avg is not a valid value for reduction\."),
        (lambda x, y: F.mse_loss(x, y[:, :2]), ValueError, r"mse_loss: `input` and `target` must be broadcastable"),
        (lambda x, y: F.smooth_l1_loss(x, y, beta=-1.0), ValueError, r"smooth_l1_loss: `beta` must be >= 0"),
        (lambda x, y: F.huber_loss(x, y, delta=0.0), ValueError, r"huber_loss: `delta` must be > 0"),
        (lambda x, y: F.huber_loss(x, y, delta="1"), TypeError, r"huber_loss: `delta` must be a number"),
        (lambda x, y: F.l1_loss(x > 0, y), TypeError,
         r"l1_loss: `input` must have a numeric dtype, not bool, got bool \(subtraction with a bool tensor"),
        (lambda x, y: F.l1_loss(x.astype(mx.int32), y.astype(mx.int32)), TypeError,
         r"l1_loss: `input` and `target` must include a floating or complex array for reduction='mean'"),
        (lambda x, y: F.l1_loss(x.astype(mx.complex64), y.astype(mx.float64)), TypeError,
         r"l1_loss: `input` and `target` must not mix complex64 and float64 \(MLX has no complex128\)"),
        (lambda x, y: F.mse_loss(x.astype(mx.int32), y > 0), TypeError,
         r"mse_loss: `input` and `target` must include a floating array, got int32 and bool"),
        (lambda x, y: F.mse_loss(x, y.astype(mx.complex64)), TypeError,
         r"mse_loss: `target` must have a real dtype, got complex64"),
        (lambda x, y: F.huber_loss(x.astype(mx.int32), y), TypeError,
         r"huber_loss: `input` must have a floating dtype, got int32"),
        (lambda x, y: F.smooth_l1_loss(x, y, beta=float("nan")), ValueError,
         r"smooth_l1_loss: `beta` must be >= 0.0, got nan\."),
        (lambda x, y: F.huber_loss(x, y, delta=float("nan")), ValueError,
         r"huber_loss: `delta` must be > 0.0, got nan\."),
        (lambda x, y: mlx_losses.SmoothL1Loss(beta=float("nan")), ValueError,
         r"SmoothL1Loss: `beta` must be >= 0.0, got nan\."),
        (lambda x, y: F.l1_loss(np.ones(3), y), TypeError, r"l1_loss: `input` must be an mx.array, got ndarray"),
        (lambda x, y: F.mse_loss(x, y, weight=mx.ones((5,))), ValueError, r"mse_loss: `weight` must have the shape of `input`"),
        (lambda x, y: mlx_losses.HuberLoss(delta=-2.0), ValueError, r"HuberLoss: `delta` must be > 0"),
    ],
)
def test_errors_name_the_argument(call, err, pattern):
    x, y = _xy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(err, match=pattern):
            call(x, y)


def test_shape_errors_are_runtime_errors_too():
    x, y = _xy()
    with pytest.warns(UserWarning, match="different to the input size"), pytest.raises(RuntimeError):
        F.mse_loss(x, y[:, :2])


# ---------------------------------------------------------------- integer, bool, complex inputs


def _ints(seed=0, dtype=mx.int32, shape=(3, 4)):
    return mx.array(np.random.default_rng(seed).integers(-9, 9, size=shape)).astype(dtype)


def test_l1_of_two_integer_arrays_is_an_integer_loss():
    x, y = _ints(0), _ints(1, mx.int64)
    none = F.l1_loss(x, y, reduction="none")
    assert none.dtype == mx.int64  # the promoted integer dtype
    assert np.array_equal(np.array(none), np.abs(np.array(x, np.int64) - np.array(y)))
    total = F.l1_loss(x, y, reduction="sum")
    assert total.dtype == mx.int64 and total.item() == int(np.array(none).sum())
    # an 8-bit difference wraps, as torch's does
    a, b = mx.array([1], dtype=mx.uint8), mx.array([3], dtype=mx.uint8)
    assert F.l1_loss(a, b, reduction="none").tolist() == [254]


@pytest.mark.parametrize(
    "name, tdtype",
    [(n, mx.int32) for n in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")]
    # torch's l1_loss refuses bool arrays (no bool subtraction)
    + [(n, mx.bool_) for n in ("mse_loss", "smooth_l1_loss", "huber_loss")],
)
def test_an_integer_or_bool_target_is_promoted(name, tdtype):
    x, _ = _xy((3, 4))
    y = _ints(2, tdtype) if tdtype != mx.bool_ else _ints(2) > 0
    fn = getattr(F, name)
    for red in ("none", "mean", "sum"):
        got, want = fn(x, y, reduction=red), fn(x, y.astype(mx.float32), reduction=red)
        assert got.dtype == mx.float32
        assert np.allclose(np.array(got), np.array(want))
    # the gradient w.r.t. the float input is the float target's (torch's
    # huber backward refuses such a target; its forward takes it)
    g = mx.grad(lambda a: fn(a, y))(x)
    want = mx.grad(lambda a: fn(a, y.astype(mx.float32)))(x)
    assert np.allclose(np.array(g), np.array(want))
    assert fn(x.astype(mx.float16), y).dtype == mx.float16


def test_mse_of_two_integer_arrays_with_a_weight_is_the_weighted_formula():
    x, y = _ints(0), _ints(1)
    w = mx.array(np.random.default_rng(3).uniform(0.1, 2.0, (3, 4)).astype(np.float32))
    d2 = (np.array(x) - np.array(y)).astype(np.float64) ** 2
    got = F.mse_loss(x, y, weight=w, reduction="none")
    assert got.dtype == mx.float32
    assert np.allclose(np.array(got), d2 * np.array(w))
    mean = F.mse_loss(x, y, weight=w)
    assert np.isclose(mean.item(), (d2 * np.array(w)).sum() / np.array(w).sum(), rtol=1e-6)


def test_complex_l1_is_the_modulus_and_its_gradient_torchs_convention():
    rng = np.random.default_rng(0)
    z = mx.array((rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))).astype(np.complex64))
    w = mx.array((rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))).astype(np.complex64))
    d = np.array(z) - np.array(w)
    none = F.l1_loss(z, w, reduction="none")
    assert none.dtype == mx.float32
    assert np.allclose(np.array(none), np.abs(d), rtol=1e-6)
    assert F.l1_loss(z, w).dtype == mx.float32
    assert np.isclose(mlx_losses.L1Loss(reduction="sum")(z, w).item(), np.abs(d).sum(), rtol=1e-6)
    # d|z|: dL/dRe + i dL/dIm = (z - w) / |z - w| (torch's), 0 where z == w
    g = mx.grad(lambda a: F.l1_loss(a, w, reduction="sum"))(z)
    assert np.allclose(np.array(g), d / np.abs(d), rtol=1e-5, atol=1e-6)
    g0 = mx.grad(lambda a: F.l1_loss(a, a * 1, reduction="sum"))(z)
    assert np.array_equal(np.array(g0), np.zeros((3, 4), np.complex64))


@pytest.mark.parametrize(
    "value", [np.float32(0.5), np.float64(0.5), mx.array(0.5), mx.array(0.5, dtype=mx.float16)]
)
def test_numpy_and_0d_array_options_equal_the_python_number(value):
    x, y = _xy()
    want_s = F.smooth_l1_loss(x, y, beta=0.5, reduction="none")
    want_h = F.huber_loss(x, y, delta=0.5, reduction="none")
    assert np.array_equal(np.array(F.smooth_l1_loss(x, y, beta=value, reduction="none")), np.array(want_s))
    assert np.array_equal(np.array(F.huber_loss(x, y, delta=value, reduction="none")), np.array(want_h))
    assert mlx_losses.SmoothL1Loss(beta=value).beta == 0.5


def test_huber_module_takes_a_python_number_only_as_torchs():
    assert mlx_losses.HuberLoss(delta=2).delta == 2
    assert mlx_losses.HuberLoss(delta=True).delta == 1.0
    for value in (np.float32(0.5), mx.array(0.5)):
        with pytest.raises(TypeError, match="HuberLoss: `delta` must be a float or int, got"):
            mlx_losses.HuberLoss(delta=value)
