"""The shared core without torch: reductions, validation, the Module base."""

import math
import warnings

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

import mlx_losses
from mlx_losses import _dtypes as D
from mlx_losses import _reduction as R
from mlx_losses import _validation as V
from mlx_losses._device import cpu_branches
from mlx_losses.modules._base import _Loss, _WeightedLoss

# ---------------------------------------------------------------- reductions


# torch's _Reduction.legacy_get_string table: (size_average, reduce) -> reduction
_LEGACY = [
    (True, None, "mean"),
    (False, None, "sum"),
    (None, True, "mean"),
    (None, False, "none"),
    (True, True, "mean"),
    (False, True, "sum"),
    (True, False, "none"),
    (False, False, "none"),
]


@pytest.mark.parametrize("size_average, reduce, expected", _LEGACY)
def test_legacy_pair_overrides_reduction_and_warns(size_average, reduce, expected):
    with pytest.warns(UserWarning) as rec:
        got = V.resolve_reduction("f", "sum" if expected != "sum" else "none", size_average, reduce)
    assert got == expected
    assert [str(w.message) for w in rec] == [
        f"size_average and reduce args will be deprecated, please use reduction='{expected}' instead."
    ]


def test_legacy_warning_points_at_the_callers_line():
    x = mx.zeros((2,))
    with pytest.warns(UserWarning, match="reduction='none'") as rec:
        mlx_losses.functional.l1_loss(x, x, reduce=False)
    assert rec[0].filename == __file__
    # a Module subclass with its own __init__ too
    with pytest.warns(UserWarning, match="reduction='sum'") as rec:
        mlx_losses.SmoothL1Loss(size_average=False)
    assert rec[0].filename == __file__


def test_no_legacy_pair_means_no_warning_and_reduction_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for r in ("none", "mean", "sum"):
            assert V.resolve_reduction("f", r) == r
        assert V.resolve_reduction("kl", "batchmean", allowed=("none", "batchmean")) == "batchmean"


@pytest.mark.parametrize("bad", ["avg", "batchmean", None, 1, "Mean"])
def test_bad_reduction_message(bad):
    with pytest.raises(ValueError) as info:
        V.resolve_reduction("my_loss", bad)
    assert str(info.value) == (
        f"my_loss: `reduction` must be one of 'none', 'mean', 'sum', got {bad!r}: "
        f"{bad} is not a valid value for reduction."
    )


def test_legacy_pair_is_not_validated_against_reduction():
    # as in torch: the pair decides, the (ignored) reduction string is not checked
    with pytest.warns(UserWarning):
        assert V.resolve_reduction("f", "bogus", size_average=False) == "sum"


# A series whose exact sum is known in closed form, with every element exact
# in float32 (and bfloat16): x_i = (i mod M) / M.
_N = 16_800_000  # > 2**24: a plain float32 running sum can no longer add 1
_M = 256


def _series_sum(n, m=_M):
    q, r = divmod(n, m)
    return q * (m - 1) / 2 + r * (r - 1) / (2 * m)


@pytest.fixture(scope="module")
def series():
    x = (mx.arange(_N, dtype=mx.int32) % _M).astype(mx.float32) * (1.0 / _M)
    mx.eval(x)
    return x


def test_accurate_sum_and_mean_of_a_large_float32_array(series):
    exact = _series_sum(_N)
    s = R.accurate_sum(series)
    assert s.dtype == mx.float32 and s.shape == ()
    assert abs(s.item() - exact) / exact <= 1e-5
    m = R.accurate_mean(series)
    assert abs(m.item() - exact / _N) / (exact / _N) <= 1e-5
    assert R.accurate_sum(series, keepdims=True).shape == (1,)


def test_accurate_sum_along_an_axis(series):
    rows = 4
    n = _N // rows
    x = series.reshape(rows, n)  # row r: the series over [r n, (r + 1) n)
    exact = np.array([_series_sum((r + 1) * n) - _series_sum(r * n) for r in range(rows)])
    s = R.accurate_sum(x, axis=-1, keepdims=True)
    assert s.shape == (rows, 1) and s.dtype == mx.float32
    assert np.all(np.abs(np.array(s)[:, 0] - exact) / exact <= 1e-5)
    # the long axis first: column j of (n, 8) holds the series at i with
    # i mod 8 == j; 8 n is a multiple of M, so each column's sum is known
    n = 2**18
    cols = np.array(R.accurate_sum(series[: 8 * n].reshape(n, 8), axis=0))
    per_cycle = [sum(k for k in range(_M) if k % 8 == j) / _M for j in range(8)]
    expect = np.array(per_cycle) * (8 * n // _M)
    assert np.allclose(cols, expect, rtol=1e-5)


def test_accurate_sum_of_bfloat16_accumulates_in_float32(series):
    xb = series.astype(mx.bfloat16)  # k / 256 is exact in bfloat16
    exact = _series_sum(_N)
    s = R.accurate_sum(xb)
    assert s.dtype == mx.float32
    assert abs(s.item() - exact) / exact <= 1e-5
    # along an axis: rows of 2**21 elements (each starts at a multiple of M)
    n = 2**21
    m = R.accurate_mean(xb[: 2 * n].reshape(2, n), axis=1)
    assert m.dtype == mx.float32
    assert np.allclose(np.array(m), _series_sum(n) / n, rtol=1e-5)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (1, True), ((0, 2), False), (-1, False)])
@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_accurate_sum_gradient_is_the_broadcast_cotangent(axis, keepdims, dtype):
    # big enough for the blocked path (more than one block of 4096)
    x = mx.array(np.random.default_rng(0).normal(size=(40, 30, 9)).astype(np.float32)).astype(dtype)
    out_shape = R.accurate_sum(x, axis=axis, keepdims=keepdims).shape
    w = mx.array(np.random.default_rng(1).normal(size=out_shape).astype(np.float32))
    g = mx.grad(lambda a: mx.sum(R.accurate_sum(a, axis=axis, keepdims=keepdims) * w))(x)
    g_ref = mx.grad(lambda a: mx.sum(mx.sum(a.astype(mx.float32), axis=axis, keepdims=keepdims) * w))(x)
    assert g.dtype == dtype and g.shape == x.shape
    assert np.array_equal(np.array(g.astype(mx.float32)), np.array(g_ref.astype(mx.float32)))
    # forward-mode and vmap go through the same function
    t = mx.jvp(lambda a: R.accurate_sum(a, axis=axis, keepdims=keepdims), [x], [mx.ones_like(x)])[1][0]
    assert np.allclose(np.array(t), np.array(R.accurate_sum(mx.ones_like(x), axis=axis, keepdims=keepdims)))


def test_accurate_sum_small_shapes_and_empties():
    x = mx.arange(24, dtype=mx.float32).reshape(2, 3, 4)
    assert R.accurate_sum(x).item() == 276.0
    assert np.array_equal(R.accurate_sum(x, axis=(0, 2)), np.arange(24).reshape(2, 3, 4).sum(axis=(0, 2)))
    assert R.accurate_sum(mx.zeros((0, 5))).item() == 0.0
    assert math.isnan(R.accurate_mean(mx.zeros((0, 5))).item())
    assert np.isnan(np.array(R.accurate_mean(mx.zeros((3, 0)), axis=1))).all()
    # integers are summed as integers
    assert R.accurate_sum(mx.arange(5)).dtype == mx.arange(5).dtype


def _sum_all_reference(x):
    # the blocked whole-array sum as first written (one level at a time)
    while x.ndim > 1 or x.size > R._BLOCK:
        if x.ndim > 1 and x.shape[-1] <= R._BLOCK:
            x = mx.sum(x, axis=-1)
            continue
        x = x.reshape(-1)
        pad = (-x.size) % R._BLOCK
        if pad:
            x = mx.pad(x, (0, pad))
        x = mx.sum(x.reshape(-1, R._BLOCK), axis=-1)
    return mx.sum(x)


@pytest.mark.parametrize(
    "shape",
    [(), (7,), (4096,), (4097,), (16384,), (16385,), (16, 1000), (4097, 3), (3, 5, 7000),
     (2, 5000), (4096 * 4097 + 3,), (0,), (0, 5), (5, 0), (3, 1)],
)
def test_whole_array_sum_adds_in_the_reference_order(shape):
    # _sum_all builds fewer graph nodes than the level-by-level loop (per-call
    # overhead at small sizes); the runs of additions, so the bits, are the same.
    x = mx.random.normal(shape, key=mx.random.key(0)) * 10
    assert R._sum_all(x).shape == ()
    assert mx.array_equal(R._sum_all(x), _sum_all_reference(x)).item()
    assert mx.array_equal(R.accurate_sum_nograd(x), _sum_all_reference(x)).item()
    h = x.astype(mx.bfloat16)
    assert R.accurate_sum_nograd(h).dtype == mx.float32
    assert mx.array_equal(R.accurate_sum_nograd(h), _sum_all_reference(h.astype(mx.float32))).item()


def test_apply_reduction_keeps_the_loss_dtype():
    x = mx.array([1.0, 2.0, 4.0], dtype=mx.float16)
    assert R.apply_reduction(x, "none") is x
    assert R.apply_reduction(x, "sum").dtype == mx.float16 and R.apply_reduction(x, "sum").item() == 7.0
    m = R.apply_reduction(x, "mean")
    assert m.dtype == mx.float16 and abs(m.item() - 7 / 3) < 2e-3
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        R.apply_reduction(x, "avg")


def test_weighted_mean():
    loss = mx.array([1.0, 2.0, 3.0])
    w = mx.array([1.0, 0.0, 3.0])
    # ``loss`` arrives already weighted: sum(loss) / sum(weights)
    assert R.weighted_mean(loss, w).item() == pytest.approx(6.0 / 4.0)
    # every target ignored: 0 / 0 = NaN, as torch
    assert math.isnan(R.weighted_mean(mx.zeros((3,)), mx.zeros((3,))).item())
    half = R.weighted_mean(loss.astype(mx.bfloat16), w, dtype=mx.bfloat16)
    assert half.dtype == mx.bfloat16


def test_batchmean():
    loss = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    assert R.batchmean(loss).item() == pytest.approx(66.0 / 3)
    assert R.batchmean(mx.array(5.0)).item() == 5.0  # 0-d: the sum
    assert math.isnan(R.batchmean(mx.zeros((0, 4))).item())
    assert R.batchmean(loss.astype(mx.float16)).dtype == mx.float16


def test_batchmean_divides_by_the_batch_of_the_given_array():
    loss = mx.arange(12, dtype=mx.float32).reshape(3, 4)
    # kl_div's target broadcast the loss up: torch divides by input.shape[0]
    assert R.batchmean(loss, batch_of=mx.zeros((6, 4))).item() == pytest.approx(66.0 / 6)
    assert R.batchmean(loss, batch_of=mx.array(0.0)).item() == 66.0  # 0-d input: the sum
    assert R.batchmean(loss, dtype=mx.float16).dtype == mx.float16


def test_apply_reduction_casts_to_the_result_dtype_after_reducing():
    x = mx.array([1.0, 2.0, 4.0, 1e-4])
    for red in ("none", "mean", "sum"):
        got = R.apply_reduction(x, red, dtype=mx.float16)
        assert got.dtype == mx.float16
        assert mx.array_equal(got, R.apply_reduction(x, red).astype(mx.float16)).item()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_reduce_with_vjp_is_the_plain_reduction_with_the_hand_written_gradient(reduction):
    x = mx.array(np.linspace(-2, 3, 24, dtype=np.float32).reshape(4, 6))
    y = mx.ones((4, 6))

    def forward(x, y):
        d = x - y
        return d * d, d  # the loss and a residual

    def backward(primals, saved, cotangent):
        (d,) = saved
        return 2 * d * cotangent, -2 * d * cotangent

    def ours(x, y):
        return R.reduce_with_vjp(forward, backward, (x, y), reduction)

    def plain(x, y):
        return R.apply_reduction(mx.square(x - y), reduction)

    np.testing.assert_allclose(np.array(ours(x, y)), np.array(plain(x, y)), rtol=1e-6)
    ct = mx.array(np.random.default_rng(0).uniform(0.5, 1.5, (4, 6) if reduction == "none" else ()),
                  dtype=mx.float32)
    _, got = mx.vjp(ours, [x, y], [ct])
    _, want = mx.vjp(plain, [x, y], [ct])
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-6)


def test_weighted_reduction_means_over_the_weights_or_the_count():
    loss, w = mx.array([1.0, 2.0, 3.0]), mx.array([1.0, 0.0, 3.0])
    f32 = mx.float32
    by_weights = R.weighted_reduction(loss, w, "mean", mean_over_weights=True, dtype=f32)
    assert by_weights.item() == pytest.approx((1 + 9) / 4)  # L1 / MSE
    by_count = R.weighted_reduction(loss, w, "mean", mean_over_weights=False, dtype=f32)
    assert by_count.item() == pytest.approx(10 / 3)  # Huber
    assert R.weighted_reduction(loss, w, "sum", mean_over_weights=True, dtype=f32).item() == 10.0
    half = R.weighted_reduction(loss, w.astype(mx.float16), "mean", mean_over_weights=True,
                                dtype=mx.float16)
    assert half.dtype == mx.float16
    # all-zero weights: NaN value and gradient (torch's plain division)
    zero = mx.zeros((3,))
    g = mx.grad(lambda l: R.weighted_reduction(l, zero, "mean", mean_over_weights=True, dtype=f32))(loss)
    assert np.isnan(np.array(g)).all()


def test_class_index_reduction():
    loss = mx.array([2.0, 0.0, 4.0])  # row 1 ignored (its loss masked to 0)
    weights = mx.array([1.0, 0.0, 3.0])
    assert R.class_index_reduction(loss, "mean", weights).item() == pytest.approx(6.0 / 4.0)
    assert R.class_index_reduction(loss, "mean").item() == pytest.approx(2.0)  # every row counts 1
    assert R.class_index_reduction(loss, "sum").item() == 6.0
    assert R.class_index_reduction(loss, "none", shape=(3, 1)).shape == (3, 1)
    # everything ignored: 0 / 0 = NaN, and rows masked by selection get a 0 gradient
    from mlx_losses.losses._common import zero_where

    ignored = mx.array([True, True, True])

    def all_ignored(l):
        return R.class_index_reduction(zero_where(ignored, l), "mean", mx.zeros((3,)))

    assert math.isnan(all_ignored(loss).item())
    assert np.array_equal(np.array(mx.grad(all_ignored)(loss)), np.zeros(3))
    # nan_when_empty: NaN even where the loss sum is not 0 (smoothing's NLL part)
    assert math.isinf(R.class_index_reduction(loss, "mean", mx.zeros((3,))).item())
    assert math.isnan(R.class_index_reduction(loss, "mean", mx.zeros((3,)), nan_when_empty=True).item())


def test_length_normalized_reduction_and_acc_dtype():
    loss = mx.array([4.0, 6.0, 3.0])
    lengths = mx.array([2, 3, 0])  # a zero length counts as 1
    assert R.length_normalized_reduction(loss, lengths, "mean").item() == pytest.approx((2 + 2 + 3) / 3)
    assert R.length_normalized_reduction(loss, lengths, "sum").item() == 13.0
    assert R.length_normalized_reduction(loss[:1], lengths[:1], "none", shape=()).shape == ()
    assert D.acc_dtype(mx.float16) == mx.float32 and D.acc_dtype(mx.bfloat16) == mx.float32
    assert D.acc_dtype(mx.float64) == mx.float64 and D.acc_dtype(mx.float32) == mx.float32


# ---------------------------------------------------------------- validation


def test_message_form_and_error_classes():
    assert V.message("f", "x", "be 2-D", "3-D") == "f: `x` must be 2-D, got 3-D."
    assert issubclass(V.ShapeError, ValueError) and issubclass(V.ShapeError, RuntimeError)
    assert issubclass(V.ValueCheckError, ValueError) and issubclass(V.ValueCheckError, RuntimeError)
    assert V.fmt_shape((3,)) == "(3,)" and V.fmt_shape((2, 3)) == "(2, 3)" and V.fmt_shape(()) == "()"


@pytest.mark.parametrize(
    "call, err, text",
    [
        (lambda: V.check_floating("f", "x", mx.zeros((2,), dtype=mx.int32)), TypeError,
         "f: `x` must have a floating dtype, got int32."),
        (lambda: V.check_integer("f", "t", mx.zeros((2,))), TypeError,
         "f: `t` must have an integer dtype (class indices), got float32."),
        (lambda: V.check_array("f", "x", [1.0]), TypeError, "f: `x` must be an mx.array, got list."),
        (lambda: V.check_ndim("f", "x", mx.zeros((2, 3, 4)), (1, 2)), V.ShapeError,
         "f: `x` must be 1 or 2-D, got 3-D of shape (2, 3, 4)."),
        (lambda: V.check_same_shape("f", "y", mx.zeros((3,)), "x", mx.zeros((2, 3))), V.ShapeError,
         "f: `y` must have the shape of `x`, (2, 3), got (3,)."),
        (lambda: V.broadcast_shapes("f", ("a", "b"), mx.zeros((2, 3)), mx.zeros((4,))), V.ShapeError,
         "f: `a` and `b` must be broadcastable to one shape, got `a` (2, 3), `b` (4,)."),
        (lambda: V.check_number("f", "m", -1.0, min_value=0.0), ValueError, "f: `m` must be >= 0.0, got -1.0."),
        (lambda: V.check_number("f", "m", 0.0, min_value=0.0, min_inclusive=False), ValueError,
         "f: `m` must be > 0.0, got 0.0."),
        (lambda: V.check_number("f", "m", "1"), TypeError, "f: `m` must be a number, got str."),
        (lambda: V.check_number("f", "m", float("nan"), min_value=0.0), ValueError,
         "f: `m` must be >= 0.0, got nan."),
        (lambda: V.check_number("f", "p", 1.5, integer=True), TypeError, "f: `p` must be an int, got 1.5."),
        (lambda: V.check_number("f", "p", True, integer=True), TypeError, "f: `p` must be an int, got True."),
        (lambda: V.check_number("f", "m", mx.array([1.0])), TypeError,
         "f: `m` must be a number or a 0-d mx.array, got an mx.array of shape (1,)."),
        (lambda: V.check_number("f", "p", mx.array(1.0), integer=True), TypeError,
         "f: `p` must be an int or a 0-d integer mx.array, got a 0-d mx.array of dtype float32."),
        (lambda: V.check_number("f", "m", 1 + 0j), TypeError, "f: `m` must be a number, got complex."),
        (lambda: V.check_number("f", "m", 1 + 1j, complex_ok=True), ValueError,
         "f: `m` must be a real number (no imaginary part), got (1+1j)."),
        (lambda: V.check_bool("f", "swap", 1), TypeError, "f: `swap` must be a bool, got int."),
        (lambda: V.check_option("f", "mode", "x", ("a", "b")), ValueError,
         "f: `mode` must be one of 'a', 'b', got 'x'."),
    ],
)
def test_check_messages(call, err, text):
    with pytest.raises(err) as info:
        call()
    assert str(info.value) == text


def test_checks_that_pass_return_their_input():
    x = mx.zeros((2, 3))
    assert V.check_floating("f", "x", x) is x
    assert V.check_number("f", "m", 2) == 2
    assert V.broadcast_shapes("f", ("a", "b"), x, mx.zeros((3,))) == (2, 3)


@pytest.mark.parametrize(
    "value, kw, want",
    [
        # what torch takes for a number: NumPy scalars, bools as 0 / 1, 0-d arrays
        (np.float32(0.5), {}, 0.5),
        (np.float64(0.25), {}, 0.25),
        (np.int64(3), {}, 3),
        (True, {}, 1.0),
        (np.bool_(False), {}, 0.0),
        (mx.array(0.5), {}, 0.5),
        (mx.array(2, dtype=mx.int32), {}, 2),
        (mx.array(True), {}, 1.0),
        (float("nan"), {}, float("nan")),
        (np.int64(-100), {"integer": True}, -100),
        (np.int32(1), {"integer": True}, 1),
        (mx.array(7), {"integer": True}, 7),
        (1 + 0j, {"complex_ok": True}, 1.0),
    ],
)
def test_check_number_takes_what_torch_takes(value, kw, want):
    got = V.check_number("f", "m", value, **kw)
    assert type(got) is type(want)
    assert got == want or (got != got and want != want)


def test_check_number_of_a_traced_array_says_so():
    def f(m):
        V.check_number("f", "margin", m)
        return m

    with pytest.raises(TypeError, match=r"f: `margin` must be a number or a 0-d mx.array that is "
                                        r"not traced, got an mx.array traced by mx.compile"):
        mx.compile(f)(mx.array(1.0))


def test_check_bool_takes_only_bools():
    assert V.check_bool("f", "swap", True) is True
    assert V.check_bool("f", "swap", False) is False
    for bad in (0, 1, np.bool_(True), mx.array(True), None, "True"):
        with pytest.raises(TypeError, match="f: `swap` must be a bool, got"):
            V.check_bool("f", "swap", bad)


def _index_check(t):
    V.check_index_range("f", "target", t, 3, ignore_index=-100)
    return t * 2


def test_index_range_check_eager_message_and_ignore_index(read_path):
    with pytest.raises(V.ValueCheckError) as info:
        _index_check(mx.array([0, 5, 1]))
    assert str(info.value) == (
        "f: `target` must hold class indices in [0, 3) (or -100, the ignore_index), "
        "got 5: Target 5 is out of bounds."
    )
    with pytest.raises(V.ValueCheckError, match="got -1"):
        _index_check(mx.array([0, -1]))
    _index_check(mx.array([0, -100, 2]))  # ignore_index is allowed


def test_index_range_check_reports_whether_every_target_is_plainly_in_range(read_path):
    # True lets a kernel skip its masks: only when the check ran, every index
    # is in [0, C) and none is the ignore_index.
    check = lambda t, ii=-100: V.check_index_range("f", "target", t, 3, ignore_index=ii)  # noqa: E731
    assert check(mx.array([0, 2, 1])) is True
    assert check(mx.array([0, 2, 1]), None) is True
    assert check(mx.array([0, -100, 2])) is False  # an ignored entry
    assert check(mx.array([0, 1, 2]), 1) is False  # ignore_index inside [0, C), present
    assert check(mx.array([0, 2, 2]), 1) is False  # inside the [min, max] of the targets
    assert check(mx.array([0, 0]), 2) is True  # in [0, C) but above every target
    assert check(mx.array([], dtype=mx.int32)) is False
    with mlx_losses.value_checks(False):
        assert check(mx.array([0, 2, 1])) is False  # did not run
    # the bad value named is the same whether or not ignored entries sit at an end
    for t, bad in (([-100, 5, 1], 5), ([-100, -7, 1], -7), ([-7, -100, 1], -7),
                   ([9, -100, 1], 9), ([-100, -100], None), ([-200, -100, 4], -200)):
        if bad is None:
            assert check(mx.array(t)) is False
            continue
        with pytest.raises(V.ValueCheckError, match=rf"got {bad}: Target {bad} is out of bounds"):
            check(mx.array(t))


def test_values_in_check():
    with pytest.raises(V.ValueCheckError, match=r"f: `p` must be in \[0, 1\], got values in \[-0\.5, 1\]\."):
        V.check_values_in("f", "p", mx.array([-0.5, 1.0]), 0.0, 1.0, "be in [0, 1]")
    V.check_values_in("f", "p", mx.array([0.0, float("nan"), 1.0]), 0.0, 1.0, "be in [0, 1]")  # NaN passes


def test_value_checks_read_through_numpy_on_the_cpu():
    # the fast path is taken here, for the types NumPy reduces quickly
    if not cpu_branches():
        pytest.skip("the NumPy path is the CPU's")
    assert isinstance(V._host(mx.array([1, 2])), np.ndarray)
    assert isinstance(V._host(mx.array([0.5])), np.ndarray)
    assert V._host(mx.array([0.5], dtype=mx.bfloat16)) is None
    bits = V._host_half_bits(mx.array([0.5, 1.0], dtype=mx.bfloat16))
    assert bits.dtype == np.uint16 and bits.tolist() == [0x3F00, 0x3F80]
    assert V._host_half_bits(mx.zeros((4, 3), dtype=mx.float16).T) is None  # strided


def _half_patterns(dtype):
    """Every 16-bit pattern as a ``dtype`` array, with its float64 values."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    if dtype == mx.float16:
        values = bits.view(np.float16).astype(np.float64)
    else:
        with np.errstate(invalid="ignore"):  # NaN patterns
            values = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return mx.array(bits).view(dtype), values


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_value_checks_agree_with_float64_pattern_by_pattern(dtype, read_path):
    arr, values = _half_patterns(dtype)
    mx.eval(arr)
    with np.errstate(invalid="ignore"):
        in_unit = (values >= 0) & (values <= 1)
        negative = values < 0
    # one pattern per call, beside an ordinary value (so the whole-array
    # shortcut is exercised too): every pattern near a boundary (zeros, one,
    # the infinities, the NaNs) and a sample of the rest; through MLX a
    # thinner sample, as each of its calls evals
    step = 13 if read_path == "numpy" else 127
    edges = [0, 0x3C00, 0x3F80, 0x7C00, 0x7F80, 0x8000, 0xFC00, 0xFF80, 0xFFFF]
    picks = set(range(0, 1 << 16, step))
    for e in edges:
        picks |= set(range(max(e - 3, 0), min(e + 4, 1 << 16)))
    half = mx.array([0.5], dtype=dtype)
    for i in sorted(picks):
        one = mx.concatenate([half, arr[i : i + 1]])
        assert V.in_unit_interval(one) == bool(in_unit[i]), hex(i)
        assert V.any_negative(one) == bool(negative[i]), hex(i)
    # whole arrays, contiguous and strided (the strided one through MLX)
    ok = arr[mx.array(np.flatnonzero(in_unit))]
    assert V.in_unit_interval(ok) and V.in_unit_interval(ok.reshape(-1, 1)[::2])
    assert not V.in_unit_interval(arr) and not V.in_unit_interval(arr.reshape(256, 256).T)
    nonneg = arr[mx.array(np.flatnonzero(~negative))]
    assert not V.any_negative(nonneg) and not V.any_negative(nonneg.reshape(-1, 1)[::3])
    assert V.any_negative(arr) and V.any_negative(arr.reshape(256, 256).T)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_float_value_checks_on_special_values(dtype, read_path):
    if dtype == mx.float64 and mx.default_device() != mx.cpu:
        pytest.skip("float64 runs on the CPU only")
    tiny = np.finfo(np.float64 if dtype == mx.float64 else np.float32).smallest_subnormal
    cases = {  # value: (in [0, 1], negative)
        0.0: (True, False), -0.0: (True, False), 1.0: (True, False), 0.25: (True, False),
        float(tiny): (True, False), -float(tiny): (False, True),
        float(np.nextafter(1.0, 2.0, dtype=np.float32)): (False, False),
        2.0: (False, False), -1.0: (False, True), math.inf: (False, False),
        -math.inf: (False, True), math.nan: (False, False),
    }
    for v, (unit, neg) in cases.items():
        for arr in (mx.array([0.5, v], dtype=dtype), mx.array([[v, 0.5]], dtype=dtype).T):
            assert V.in_unit_interval(arr) == unit, v
            assert V.any_negative(arr) == neg, v
    # a negative entry beside a NaN is still found
    assert V.any_negative(mx.array([math.nan, -1.0, 2.0], dtype=dtype))


def test_min_max_with_and_without_ignored_entries(read_path):
    for dtype in (mx.int32, mx.int64, mx.uint8, mx.int16):
        t = mx.array([3, 7, 2, 9], dtype=dtype)
        assert V._min_max(t) == (2, 9)
        assert V._min_max(t, ignore=9) == (0, 7)
        assert V._min_max(t[::2]) == (2, 3)  # strided
    assert V._min_max(mx.array([-100, 4, -100]), ignore=-100) == (0, 4)


def test_value_check_switch_and_context_manager():
    bad = mx.array([7])
    assert mlx_losses.value_checks_enabled()
    with mlx_losses.value_checks(False):
        assert not mlx_losses.value_checks_enabled()
        _index_check(bad)  # skipped
        with mlx_losses.value_checks(True):
            with pytest.raises(V.ValueCheckError):
                _index_check(bad)
        assert not mlx_losses.value_checks_enabled()
    assert mlx_losses.value_checks_enabled()  # restored
    mlx_losses.set_value_checks(False)
    try:
        _index_check(bad)
    finally:
        mlx_losses.set_value_checks(True)
    with pytest.raises(V.ValueCheckError):
        _index_check(bad)
    # restored even when the body raises
    with pytest.raises(KeyError):
        with mlx_losses.value_checks(False):
            raise KeyError("x")
    assert mlx_losses.value_checks_enabled()


def test_value_checks_skip_under_compile_and_vmap_without_breaking_the_trace():
    bad = mx.array([7, 1])
    out = mx.compile(_index_check)(bad)  # no error: the check skips itself
    assert out.tolist() == [14, 2]
    out = mx.vmap(_index_check)(mx.array([[7], [1]]))
    assert out.tolist() == [[14], [2]]
    # and eager still checks afterwards
    with pytest.raises(V.ValueCheckError):
        _index_check(bad)


def test_run_value_check_passes_other_errors_through():
    def boom():
        raise ValueError("not a trace error")

    with pytest.raises(ValueError, match="not a trace error"):
        V.run_value_check(boom)


# ---------------------------------------------------------------- Module base


class _Toy(_Loss):
    def __init__(self, pos_weight=None, reduction="mean"):
        super().__init__(reduction=reduction)
        self._store_buffer("pos_weight", pos_weight)
        self.scale = mx.array(2.0)  # an ordinary (trainable) array, for contrast

    def _options(self):
        return {"pos_weight": self.pos_weight, **super()._options()}

    def __call__(self, x):
        return R.apply_reduction(x * self.scale, self.reduction)


def test_store_buffer_freezes_the_array():
    w = mx.array([1.0, 2.0])
    m = _Toy(w)
    assert "pos_weight" in m.parameters()
    assert "pos_weight" not in m.trainable_parameters()
    assert "scale" in m.trainable_parameters()
    # a gradient step over trainable parameters leaves the buffer alone
    grads = nn.value_and_grad(m, lambda x: m(x))(mx.ones((2,)))[1]
    assert "pos_weight" not in grads and "scale" in grads
    assert _Toy(None).pos_weight is None


def test_weighted_loss_base_and_repr():
    w = mx.array([1.0, 2.0, 3.0])
    m = _WeightedLoss(w, reduction="sum")
    assert m.trainable_parameters() == {}
    assert "weight" in m.parameters()
    assert repr(m) == "_WeightedLoss(weight=array(shape=(3,), dtype=float32), reduction='sum')"
    assert repr(_WeightedLoss()) == "_WeightedLoss(reduction='mean')"
    with pytest.raises(TypeError, match="_WeightedLoss: `weight` must have a floating dtype, got int32"):
        _WeightedLoss(mx.array([1, 2], dtype=mx.int32))


def test_loss_base_maps_legacy_pair_and_validates():
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert _Loss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match=r"_Loss: `reduction` must be one of 'none', 'mean', 'sum', got 'avg'"):
        _Loss(reduction="avg")
    assert repr(_Toy(reduction="sum")) == "_Toy(pos_weight=None, reduction='sum')"


# ---------------------------------------------------------------- shapeless compile


_SHAPELESS = [
    ("l1_loss", lambda F, x, y: F.l1_loss(x, y)),
    ("smooth_l1_loss", lambda F, x, y: F.smooth_l1_loss(x, y, reduction="none")),
    ("huber_loss", lambda F, x, y: F.huber_loss(x, y)),
    ("cross_entropy", lambda F, x, y: F.cross_entropy(x, y)),
    ("nll_loss", lambda F, x, y: F.nll_loss(x, y)),
    ("hinge_embedding_loss", lambda F, x, y: F.hinge_embedding_loss(x, mx.sign(y - 0.5))),
    ("MSELoss", lambda F, x, y: mlx_losses.MSELoss()(x, y)),
]


@pytest.mark.parametrize("name,call", _SHAPELESS, ids=[n for n, _ in _SHAPELESS])
def test_shapeless_compile_raises_or_matches_eager(name, call):
    # A shapeless graph reuses Python numbers computed from the first call's
    # shapes (the 'mean' count): every loss carries a guard that makes MLX
    # 0.32 raise there (README, Contract). Whatever a future MLX supports, a
    # shapeless compile must give the eager numbers for every input shape,
    # or raise: never a number from a graph traced for another shape. (The
    # eager call first: with the inner kernels already compiled, l1_loss's
    # shapeless graph used to be reused at 7 rows with the count of 4.)
    from mlx_losses import functional as F

    rng = np.random.default_rng(0)
    mx.eval(call(F, mx.ones((3, 5)), mx.zeros((3,), dtype=mx.int32)
                 if name in ("cross_entropy", "nll_loss") else mx.zeros((3, 5))))
    fn = mx.compile(lambda x, y: call(F, x, y), shapeless=True)
    for rows in (4, 7):
        x = mx.array(rng.normal(size=(rows, 5)).astype(np.float32))
        if name in ("cross_entropy", "nll_loss"):
            y = mx.array(rng.integers(0, 5, size=rows).astype(np.int32))
        else:
            y = mx.array(rng.random(size=(rows, 5)).astype(np.float32))
        try:
            got = fn(x, y)
            mx.eval(got)
        except ValueError:
            continue
        want = call(F, x, y)
        assert got.shape == want.shape
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-6)


# ---------------------------------------------------------------- empty inputs


def test_the_shapeless_probe_is_false_outside_a_shapeless_trace():
    # Eagerly, under a shape-specialised compile, mx.grad and mx.vmap the
    # probe sees an untouched constant (nothing is computed); empty inputs
    # from NumPy (what MLX 0.32's CPU reductions can hang on) included.
    from mlx_losses._api import _shapeless_trace

    empty = mx.array(np.zeros((3, 0), np.float32))
    seen = []

    def f(x):
        seen.append(_shapeless_trace([x, empty]))
        return x * 2

    f(mx.ones((2, 3)))
    mx.compile(f)(mx.ones((2, 3)))
    mx.grad(lambda x: f(x).sum())(mx.ones((2, 3)))
    mx.vmap(f)(mx.ones((2, 3)))
    assert seen == [False] * 4
    mx.compile(f, shapeless=True)(mx.ones((2, 3)))
    assert seen[-1] is True
    assert _shapeless_trace([]) is False


def test_empty_inputs_are_swapped_for_mlx_made_ones():
    # An empty array from NumPy is what MLX 0.32's CPU reductions can loop
    # on (below); every public function swaps it for a fresh mx.zeros.
    from mlx_losses._api import public_loss

    seen = {}

    @public_loss
    def kernel(x, y, *, weight=None, group=None):
        seen.update(x=x, y=y, weight=weight)
        return x

    fn = kernel
    empty = mx.array(np.zeros((3, 0), np.float32))
    full = mx.ones((2,))
    w = mx.array(np.zeros((0,), np.int64))
    fn(empty, full, weight=w)
    assert seen["x"] is not empty and seen["x"].shape == (3, 0) and seen["x"].dtype == mx.float32
    assert seen["y"] is full
    assert seen["weight"] is not w and seen["weight"].shape == (0,) and seen["weight"].dtype == w.dtype
    fn(full, full)
    assert seen["x"] is full


_EMPTY_LOOP = """
import mlx.core as mx, numpy as np
import mlx_losses.functional as F
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    for shape in [(0,), (0, 0), (0, 3), (2, 0, 0)]:
        for _ in range(1500):
            # recycled buffers with stale contents, as in a long test session
            junk = mx.array(rng.normal(size=int(rng.integers(1, 5000))) * 1e9)
            mx.eval(junk * 3)
            x = mx.array(np.zeros(shape, dtype))
            mx.eval(
                F.l1_loss(x, x, reduction="none"), F.soft_margin_loss(x, x, reduction="sum"),
                F.mse_loss(x, x), F.pairwise_distance(x, x) if x.ndim > 1 else x,
            )
"""


def test_empty_inputs_never_hang():
    # Regression: the parity suite (and CI) hung in soft_margin_loss's empty
    # case, in MLX's CPU sum of a slice of an empty array from NumPy. In a
    # subprocess with a timeout, so that a regression fails instead of
    # hanging (without the fix it hung in 5 of 6 runs).
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", _EMPTY_LOOP], check=True, timeout=120)


# ---------------------------------------------------------------- fast transcendentals


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_log1p_fast_path_is_accurate(compiled):
    # _numerics.log1p (one log pass in float32 on the CPU) against float64
    # log1p over [-1, 1]: dense in (-1, 0) (BCE's log1p(-p)), tiny and
    # exact-edge arguments, and e**-|z| in (0, 1].
    from mlx_losses._numerics import log1p

    rng = np.random.default_rng(0)
    xs = np.concatenate([
        -rng.random(200_000), rng.random(200_000),
        -np.logspace(-12, 0, 2_000), np.logspace(-12, 0, 2_000),
        [-1.0, -0.5, 0.0, 1.0, 2.0**-24, -(2.0**-24), 2.0**-23, -(2.0**-25)],
    ]).astype(np.float32)
    f = mx.compile(log1p) if compiled else log1p
    got = np.array(f(mx.array(xs))).astype(np.float64)
    with np.errstate(divide="ignore"):
        want = np.log1p(xs.astype(np.float64))
    finite = np.isfinite(want)
    rel = np.abs(got[finite] - want[finite]) / np.maximum(np.abs(want[finite]), 1e-45)
    assert rel.max() <= 4e-7, xs[finite][rel.argmax()]
    assert got[xs == -1.0][0] == -np.inf
    # -0.0 keeps its sign; NaN stays NaN
    special = np.array(f(mx.array(np.array([-0.0, np.nan], np.float32))))
    assert special[0] == 0.0 and np.signbit(special[0])
    assert np.isnan(special[1])


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64, mx.bfloat16])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_sigmoid_forms_are_accurate(dtype, compiled):
    # _numerics.sigmoid / sigmoid_neg (1 / (1 + e**-x) in float32 on the CPU
    # and in float64) against float64 over both tails, the overflow of
    # e**-x below -88, zeros, infinities and NaN.
    from mlx_losses._numerics import sigmoid, sigmoid_neg

    if dtype == mx.float64 and mx.default_device() != mx.cpu:
        pytest.skip("float64 runs on the CPU only")
    rng = np.random.default_rng(1)
    xs = np.concatenate([np.linspace(-120, 120, 48_001), 4 * rng.standard_normal(50_000),
                         [0.0, -0.0, 88.7, -88.7, 103.0, -103.0, np.inf, -np.inf]])
    x = mx.array(xs.astype(np.float32)).astype(dtype)
    xs = np.array(x.astype(mx.float64) if dtype != mx.float64 else x)  # the rounded inputs
    tol = {mx.float32: 4e-6, mx.float64: 1e-13, mx.bfloat16: 8e-3}[dtype]
    for fn, sign in ((sigmoid, 1.0), (sigmoid_neg, -1.0)):
        f = mx.compile(fn) if compiled else fn
        got = np.array(f(x).astype(mx.float64) if dtype != mx.float64 else f(x))
        with np.errstate(over="ignore"):
            want = 1.0 / (1.0 + np.exp(-sign * xs))
        normal = want > (1e-37 if dtype != mx.float64 else 1e-300)
        rel = np.abs(got[normal] - want[normal]) / want[normal]
        assert rel.max() <= tol, (fn.__name__, xs[normal][rel.argmax()])
        assert np.all(np.abs(got[~normal]) <= 1e-37)  # subnormal or zero
        assert got[xs * sign == 0][0] == 0.5
        nan = np.array(f(mx.array([np.nan], dtype=dtype)).astype(mx.float32))
        assert np.isnan(nan[0])
