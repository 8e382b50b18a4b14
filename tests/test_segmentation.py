"""Segmentation / detection losses without torch: identities, channels-last,
Modules, transforms, errors."""

import math

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F


def _x(shape, seed=0, dtype=mx.float32, scale=1.0):
    rng = np.random.default_rng(seed)
    return mx.array((scale * rng.normal(size=shape)).astype(np.float32)).astype(dtype)


def _idx(shape, C, seed=1, ignore=None):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, size=shape)
    if ignore is not None:
        t = np.where(rng.uniform(size=shape) < 0.3, ignore, t)
    return mx.array(t.astype(np.int32))


def _onehot(t, C, axis=1):
    return mx.moveaxis((mx.expand_dims(t, -1) == mx.arange(C)).astype(mx.float32), -1, axis)


def _close(a, b, **kw):
    kw.setdefault("rtol", 1e-5)
    kw.setdefault("atol", 1e-6)
    np.testing.assert_allclose(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64), **kw)


def _nhwc(x):
    return mx.moveaxis(x, 1, -1)


# --------------------------------------------------------------------------
# sigmoid focal loss


def test_sigmoid_focal_reduces_to_bce_and_scales_with_alpha():
    x, t = _x((4, 6), scale=3.0), (_x((4, 6), 1) > 0).astype(mx.float32)
    bce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    _close(F.sigmoid_focal_loss(x, t, alpha=-1.0, gamma=0.0, reduction="none"), bce)
    # alpha = 1/2 halves every element; gamma weighs by (1 - p_t) ** gamma
    plain = F.sigmoid_focal_loss(x, t, alpha=-1.0, gamma=2.0, reduction="none")
    _close(F.sigmoid_focal_loss(x, t, alpha=0.5, gamma=2.0, reduction="none"), 0.5 * plain)
    p = mx.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    _close(plain, bce * (1 - p_t) ** 2)
    alpha_t = 0.25 * t + 0.75 * (1 - t)
    _close(F.sigmoid_focal_loss(x, t), mx.mean(alpha_t * plain))


def test_sigmoid_focal_is_stable_and_exact_for_confident_logits():
    x = mx.array([100.0, -100.0, 30.0, -30.0, 0.0])
    t = mx.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.sigmoid_focal_loss(x, t, alpha=-1.0, reduction="none")
    # right and confident: ~0; wrong and confident: (1 - e^-30)^2 * 30
    assert loss[0].item() == 0.0 and loss[1].item() == 0.0
    assert abs(loss[2].item() - 30.0) < 1e-4 and abs(loss[3].item() - 30.0) < 1e-4
    g = mx.grad(lambda a: F.sigmoid_focal_loss(a, t, reduction="sum"))(x)
    assert np.isfinite(np.array(g)).all()
    # float64: the small loss of a right answer keeps its digits
    x64 = mx.array([20.0], dtype=mx.float64)
    got = F.sigmoid_focal_loss(x64, mx.array([1.0], dtype=mx.float64), alpha=-1.0, gamma=0.0)
    assert abs(got.item() / math.log1p(math.exp(-20.0)) - 1) < 1e-14


def test_sigmoid_focal_half_precision_accumulates_in_float32():
    x, t = _x((64, 33), scale=2.0), (_x((64, 33), 1) > 0).astype(mx.float32)
    ref = F.sigmoid_focal_loss(x.astype(mx.bfloat16).astype(mx.float32), t)
    got = F.sigmoid_focal_loss(x.astype(mx.bfloat16), t.astype(mx.bfloat16))
    assert got.dtype == mx.bfloat16
    assert abs(got.item() - ref.item()) <= 2 ** -8 * abs(ref.item())


# --------------------------------------------------------------------------
# softmax focal loss and Poly-1: cross-entropy identities


@pytest.mark.parametrize("fn, kw", [
    ("focal_loss", {"gamma": 0.0}),
    ("poly1_cross_entropy", {"epsilon": 0.0}),
])
@pytest.mark.parametrize("opts", [
    {},
    {"ignore_index": -100},
    {"weight": True, "ignore_index": 2},
])
def test_focal_and_poly1_reduce_to_cross_entropy(fn, kw, opts):
    x = _x((3, 5, 4, 2), scale=2.0)
    t = _idx((3, 4, 2), 5, ignore=opts.get("ignore_index"))
    opts = dict(opts)
    if opts.pop("weight", False):
        opts["weight"] = mx.array([0.5, 1.0, 2.0, 0.25, 1.5])
    for red in ("none", "mean", "sum"):
        ref = F.cross_entropy(x, t, reduction=red, **opts)
        got = getattr(F, fn)(x, t, reduction=red, **kw, **opts)
        _close(got, ref)
        gr = mx.grad(lambda a: mx.sum(F.cross_entropy(a, t, reduction=red, **opts)))(x)
        gg = mx.grad(lambda a: mx.sum(getattr(F, fn)(a, t, reduction=red, **kw, **opts)))(x)
        _close(gg, gr)


def test_poly1_with_label_smoothing_and_probabilities_reduces_to_cross_entropy():
    x, t = _x((6, 4), scale=2.0), _idx((6,), 4)
    w = mx.array([1.0, 2.0, 0.5, 1.0])
    _close(F.poly1_cross_entropy(x, t, weight=w, label_smoothing=0.2, epsilon=0.0),
           F.cross_entropy(x, t, weight=w, label_smoothing=0.2))
    p = mx.softmax(_x((6, 4), 3), axis=1)
    _close(F.poly1_cross_entropy(x, p, label_smoothing=0.1, epsilon=0.0),
           F.cross_entropy(x, p, label_smoothing=0.1))
    _close(F.focal_loss(x, p, gamma=0.0), F.cross_entropy(x, p))


def test_poly1_adds_epsilon_times_one_minus_pt():
    x, t = _x((6, 4), scale=2.0), _idx((6,), 4)
    p = mx.softmax(x, axis=1)
    p_t = mx.take_along_axis(p, t[:, None], axis=1)[:, 0]
    ce = F.cross_entropy(x, t, reduction="none")
    _close(F.poly1_cross_entropy(x, t, epsilon=2.5, reduction="none"), ce + 2.5 * (1 - p_t))
    # with smoothing: (1 - pt) against the smoothed labels (the paper's code)
    s = 0.9 * _onehot(t, 4) + 0.1 / 4
    one_minus_pt = mx.sum(s * (1 - p), axis=1)
    ce_s = F.cross_entropy(x, t, reduction="none", label_smoothing=0.1)
    _close(F.poly1_cross_entropy(x, t, label_smoothing=0.1, reduction="none"), ce_s + one_minus_pt)


def test_focal_loss_is_its_definition_with_alpha_and_weight():
    x, t = _x((8, 3), scale=2.0), _idx((8,), 3)
    w = mx.array([0.5, 2.0, 1.0])
    logp = mx.take_along_axis(x - mx.logsumexp(x, axis=1, keepdims=True), t[:, None], axis=1)[:, 0]
    a = mx.where(t == 0, 0.75, 0.25)  # MONAI: 1 - alpha for class 0
    ref = -mx.take(w, t) * a * (1 - mx.exp(logp)) ** 1.5 * logp
    got = F.focal_loss(x, t, weight=w, gamma=1.5, alpha=0.25, reduction="none")
    _close(got, ref)
    # 'mean': over the summed class weights of the targets, as cross_entropy
    _close(F.focal_loss(x, t, weight=w, gamma=1.5, alpha=0.25), mx.sum(ref) / mx.sum(mx.take(w, t)))


def test_focal_all_ignored_mean_is_nan_with_zero_gradient():
    x = _x((3, 4))
    t = mx.array([-100, -100, -100])
    assert math.isnan(F.focal_loss(x, t).item())
    g = mx.grad(lambda a: F.focal_loss(a, t))(x)
    assert np.array_equal(np.array(g), np.zeros((3, 4)))


def test_focal_unbatched_and_empty():
    x = _x((5,))
    got = F.focal_loss(x, mx.array(2), gamma=1.0, reduction="none")
    assert got.shape == ()
    _close(got, F.focal_loss(x[None], mx.array([2]), gamma=1.0, reduction="none")[0])
    _close(F.focal_loss(x, mx.array([2]), gamma=1.0), got)
    empty = F.focal_loss(mx.zeros((0, 4)), mx.zeros((0,), mx.int32))
    assert math.isnan(empty.item())


# --------------------------------------------------------------------------
# channels-last: exactly the channels-first result, values and gradients


_LAYOUT = [
    ("focal_loss", {"gamma": 1.5, "alpha": 0.3}, "index"),
    ("poly1_cross_entropy", {"label_smoothing": 0.1, "epsilon": 2.0}, "index"),
    ("focal_loss", {"weight": "w"}, "probs"),
    ("dice_loss", {"softmax": True, "to_onehot_y": True, "include_background": False}, "mask"),
    ("dice_loss", {"sigmoid": True, "squared_pred": True, "jaccard": True, "batch": True},
     "onehot"),
    ("generalized_dice_loss", {"softmax": True, "to_onehot_y": True, "w_type": "simple"},
     "mask"),
    ("tversky_loss", {"softmax": True, "alpha": 0.3, "beta": 0.7, "batch": True}, "onehot"),
]


@pytest.mark.parametrize("fn, opts, kind", _LAYOUT)
def test_channels_last_equals_channels_first(fn, opts, kind):
    C = 4
    x = _x((2, C, 5, 3), scale=2.0)
    labels = _idx((2, 5, 3), C)
    opts = {k: (mx.array([1.0, 0.5, 2.0, 1.0]) if v == "w" else v) for k, v in opts.items()}
    if kind == "index":
        t_first, t_last = labels, labels
    elif kind == "mask":  # MONAI's (N, 1, H, W) indices
        t_first, t_last = labels[:, None], labels[..., None]
    else:
        t_first = _onehot(labels, C) if kind == "onehot" else mx.softmax(_x((2, C, 5, 3), 7), 1)
        t_last = _nhwc(t_first)
    f = getattr(F, fn)
    for red in ("none", "mean"):
        first = f(x, t_first, reduction=red, **opts)
        last = f(_nhwc(x), t_last, reduction=red, axis=-1, **opts)
        last3 = f(_nhwc(x), t_last, reduction=red, axis=3, **opts)
        _close(last, first, rtol=1e-6, atol=1e-7)
        _close(last3, last, rtol=0, atol=0)
        g_first = mx.grad(lambda a: mx.sum(f(a, t_first, reduction=red, **opts) * 1.3))(x)
        g_last = mx.grad(lambda a: mx.sum(f(a, t_last, reduction=red, axis=-1, **opts) * 1.3))(
            _nhwc(x))
        _close(_nhwc(g_first), g_last, rtol=1e-5, atol=1e-7)


def test_class_axis_helper():
    from mlx_losses._validation import check_class_axis

    x = mx.zeros((2, 3, 4, 5))
    assert [check_class_axis("f", a, x) for a in (1, 2, 3, -1, -3)] == [1, 2, 3, 3, 1]
    assert [check_class_axis("f", a, mx.zeros((4,))) for a in (1, 0, -1)] == [0, 0, 0]
    for bad in (0, -4, 4, 7):
        with pytest.raises(ValueError, match=rf"f: `axis` must name a class axis of `input` "
                           rf"\(shape \(2, 3, 4, 5\)\): one of 1..3 or -3..-1 \(axis 0 is the "
                           rf"batch\), got {bad}: Dimension out of range or the batch axis\."):
            check_class_axis("f", bad, x)
    with pytest.raises(TypeError, match=r"f: `axis` must be an int, got 1\.0\."):
        check_class_axis("f", 1.0, x)
    with pytest.raises(TypeError, match=r"f: `dim` must be an int, got True\."):
        check_class_axis("f", True, x, name="dim")
    # what torch takes for an int: NumPy integers and 0-d integer arrays
    assert check_class_axis("f", np.int64(-1), x) == 3
    assert check_class_axis("f", mx.array(2), x) == 2


# --------------------------------------------------------------------------
# Dice family: definitions and identities


def test_dice_perfect_disjoint_and_definition():
    labels = _idx((2, 4, 4), 3)
    g = _onehot(labels, 3)
    _close(F.dice_loss(g, g, reduction="none"), mx.zeros((2, 3)), atol=1e-6)
    p = mx.softmax(_x((2, 3, 4, 4), 2), axis=1)
    inter = mx.sum(p * g, axis=(2, 3))
    den = mx.sum(p, axis=(2, 3)) + mx.sum(g, axis=(2, 3))
    _close(F.dice_loss(p, g, reduction="none"), 1 - (2 * inter + 1e-5) / (den + 1e-5))
    # batch=True: sums over the batch first, one loss per class
    ib, db = mx.sum(inter, axis=0), mx.sum(den, axis=0)
    _close(F.dice_loss(p, g, batch=True, reduction="none"), 1 - (2 * ib + 1e-5) / (db + 1e-5))
    # squared_pred: squares in the denominator
    den2 = mx.sum(p * p, axis=(2, 3)) + mx.sum(g, axis=(2, 3))
    _close(F.dice_loss(p, g, squared_pred=True, reduction="none", smooth_nr=0, smooth_dr=0),
           1 - 2 * inter / den2)


def test_jaccard_is_dice_over_two_minus_dice_and_tversky_half_is_dice():
    p = mx.sigmoid(_x((3, 2, 5, 5), 4))
    g = _onehot(_idx((3, 5, 5), 2), 2)
    kw = {"smooth_nr": 0.0, "smooth_dr": 0.0, "reduction": "none"}
    d = 1 - F.dice_loss(p, g, **kw)
    j = 1 - F.dice_loss(p, g, jaccard=True, **kw)
    _close(j, d / (2 - d))
    _close(F.tversky_loss(p, g, **kw), F.dice_loss(p, g, **kw))
    # with soft labels Tversky's FP / FN are p (1 - g) and (1 - p) g
    s = mx.sigmoid(_x((3, 2, 5, 5), 5))
    tp = mx.sum(p * s, axis=(2, 3))
    fp = mx.sum(p * (1 - s), axis=(2, 3))
    fn = mx.sum((1 - p) * s, axis=(2, 3))
    _close(F.tversky_loss(p, s, alpha=0.2, beta=0.8, **kw), 1 - tp / (tp + 0.2 * fp + 0.8 * fn))


def test_soft_label_overlap_is_the_l1_form_and_equals_the_plain_one_for_hard_labels():
    p = mx.sigmoid(_x((2, 3, 4, 4), 6))
    g = _onehot(_idx((2, 4, 4), 3), 3)
    _close(F.dice_loss(p, g, soft_label=True), F.dice_loss(p, g), rtol=1e-6)
    s = mx.sigmoid(_x((2, 3, 4, 4), 7))
    tp = mx.sum(mx.minimum(p, s), axis=(2, 3))  # (|p| + |s| - |p - s|) / 2 for p, s >= 0
    den = mx.sum(p, axis=(2, 3)) + mx.sum(s, axis=(2, 3))
    _close(F.dice_loss(p, s, soft_label=True, reduction="none"), 1 - (2 * tp + 1e-5) / (den + 1e-5))


def test_to_onehot_y_matches_an_explicit_one_hot_and_float_indices():
    x = _x((2, 4, 3, 3))
    labels = _idx((2, 3, 3), 4)
    g = _onehot(labels, 4)
    for fn in ("dice_loss", "generalized_dice_loss", "tversky_loss"):
        f = getattr(F, fn)
        ref = f(x, g, softmax=True)
        _close(f(x, labels[:, None], softmax=True, to_onehot_y=True), ref)
        _close(f(x, labels, softmax=True, to_onehot_y=True), ref)  # without the size-1 axis
        _close(f(x, labels[:, None].astype(mx.float32), softmax=True, to_onehot_y=True), ref)


def test_include_background_drops_class_zero_and_weight_scales_classes():
    p = mx.softmax(_x((2, 3, 4, 4)), axis=1)
    g = _onehot(_idx((2, 4, 4), 3), 3)
    full = F.dice_loss(p, g, reduction="none")
    _close(F.dice_loss(p, g, include_background=False, reduction="none"), full[:, 1:])
    w = [0.5, 2.0, 1.0]
    _close(F.dice_loss(p, g, weight=w, reduction="none"), full * mx.array(w))
    _close(F.dice_loss(p, g, weight=2.0, reduction="none"), 2 * full)
    _close(F.dice_loss(p, g, weight=mx.array(w), reduction="sum"), mx.sum(full * mx.array(w)))


def test_generalized_dice_definition_and_absent_classes():
    p = mx.softmax(_x((2, 3, 4, 4), 3), axis=1)
    labels = np.array(_idx((2, 4, 4), 3))
    labels[0][labels[0] == 2] = 1  # class 2 absent from sample 0
    g = _onehot(mx.array(labels), 3)
    vol = mx.sum(g, axis=(2, 3))
    inter = mx.sum(p * g, axis=(2, 3))
    den = mx.sum(p, axis=(2, 3)) + vol
    w = 1 / vol
    w = mx.where(mx.isinf(w), 0.0, w)
    w = w + mx.isinf(1 / vol) * mx.max(w, axis=1, keepdims=True)  # the sample's largest
    ref = 1 - (2 * mx.sum(w * inter, 1) + 1e-5) / (mx.sum(w * den, 1) + 1e-5)
    _close(F.generalized_dice_loss(p, g, w_type="simple", reduction="none"), ref)
    uni = F.generalized_dice_loss(p, g, w_type="uniform", batch=True, reduction="none")
    assert uni.shape == ()
    _close(uni, 1 - (2 * mx.sum(inter) + 1e-5) / (mx.sum(den) + 1e-5))


def test_region_losses_half_precision_and_output_dtype():
    x = _x((2, 3, 8, 8), scale=2.0)
    g = _onehot(_idx((2, 8, 8), 3), 3)
    for fn in ("dice_loss", "generalized_dice_loss", "tversky_loss"):
        f = getattr(F, fn)
        ref = f(x.astype(mx.bfloat16).astype(mx.float32), g, softmax=True)
        got = f(x.astype(mx.bfloat16), g.astype(mx.bfloat16), softmax=True)
        assert got.dtype == mx.bfloat16
        assert abs(got.item() - ref.item()) <= 2 ** -8 * abs(ref.item()) + 1e-6
        labels = _idx((2, 8, 8), 3)
        assert f(x.astype(mx.float16), labels, softmax=True, to_onehot_y=True).dtype == mx.float16


def test_single_channel_warnings_as_monai():
    p = mx.sigmoid(_x((2, 1, 4, 4)))
    g = (p > 0.5).astype(mx.float32)
    for key in ("softmax", "to_onehot_y", "include_background"):
        value = key != "include_background"
        with pytest.warns(UserWarning, match=f"single channel prediction, `{key}=.*` ignored."):
            out = F.dice_loss(p, g, **{key: value})
        _close(out, F.dice_loss(p, g))


def test_region_losses_under_compile_and_with_value_checks_off():
    x = _x((2, 3, 4, 4))
    labels = _idx((2, 4, 4), 3)
    f = mx.compile(lambda a, t: F.dice_loss(a, t, softmax=True, to_onehot_y=True))
    _close(f(x, labels), F.dice_loss(x, labels, softmax=True, to_onehot_y=True))
    # an out-of-range label (sample 1 only): an error in eager mode; under
    # compile or with the checks off that sample's loss and gradient are NaN
    # (never a read outside an array), the other sample's are untouched
    bad_np = np.array(labels)
    bad_np[1, 2, 3] = 7
    bad = mx.array(bad_np)
    with pytest.raises(ValueError, match=r"dice_loss: `target` must hold class indices in \[0, 3\)"):
        F.dice_loss(x, bad, softmax=True, to_onehot_y=True)
    ref = F.dice_loss(x, labels, softmax=True, to_onehot_y=True, reduction="none")
    ref_g = mx.grad(lambda a: mx.sum(F.dice_loss(a, labels, softmax=True, to_onehot_y=True,
                                                 reduction="none")))(x)
    for fn in (F.dice_loss, F.generalized_dice_loss, F.tversky_loss):
        with mlx_losses.value_checks(False):
            off = fn(x, bad, softmax=True, to_onehot_y=True, reduction="none")
        assert np.isnan(np.array(off)[1]).all() and np.isfinite(np.array(off)[0]).all()
    with mlx_losses.value_checks(False):
        off = F.dice_loss(x, bad, softmax=True, to_onehot_y=True, reduction="none")
        g = mx.grad(lambda a: mx.sum(F.dice_loss(a, bad, softmax=True, to_onehot_y=True,
                                                 reduction="none")))(x)
    _close(off[0], ref[0])
    _close(g[0], ref_g[0])
    assert np.isnan(np.array(g[1])).all()
    assert math.isnan(f(x, bad).item())
    # raw logits where probabilities are expected: an error, unless switched off
    with pytest.raises(ValueError, match=r"dice_loss: `input` must hold probabilities in \[0, 1\] "
                       r"\(pass logits with sigmoid=True or softmax=True\), got values outside"):
        F.dice_loss(x, _onehot(labels, 3))
    with mlx_losses.value_checks(False):
        assert np.isfinite(F.dice_loss(x, _onehot(labels, 3)).item())


def test_focal_out_of_range_target_is_nan_without_checks():
    x, t = _x((3, 4)), mx.array([0, 9, 1])
    with pytest.raises(ValueError, match=r"focal_loss: `target` must hold class indices in "
                       r"\[0, 4\) \(or -100, the ignore_index\), got 9"):
        F.focal_loss(x, t)
    with mlx_losses.value_checks(False):
        out = F.focal_loss(x, t, reduction="none")
    assert math.isnan(out[1].item()) and np.isfinite(np.array(out)[[0, 2]]).all()
    out_c = mx.compile(lambda a, b: F.focal_loss(a, b, reduction="none"))(x, t)
    assert math.isnan(out_c[1].item())


# --------------------------------------------------------------------------
# Modules


def test_modules_call_the_functions_and_freeze_weights():
    x = _x((2, 3, 4, 4))
    labels = _idx((2, 4, 4), 3)
    w = mx.array([1.0, 2.0, 0.5])
    m = mlx_losses.FocalLoss(weight=w, gamma=1.0, axis=-1)
    assert m.trainable_parameters() == {} and "weight" in m.parameters()
    _close(m(_nhwc(x), labels), F.focal_loss(x, labels, weight=w, gamma=1.0))
    d = mlx_losses.DiceLoss(to_onehot_y=True, softmax=True, weight=[1.0, 2.0, 3.0])
    assert d.trainable_parameters() == {} and d.weight.tolist() == [1.0, 2.0, 3.0]
    _close(d(x, labels[:, None]), F.dice_loss(x, labels[:, None], to_onehot_y=True, softmax=True,
                                              weight=[1.0, 2.0, 3.0]))
    assert "DiceLoss(include_background=True, to_onehot_y=True, sigmoid=False, softmax=True" \
        in repr(d) and "weight=array(shape=(3,), dtype=float32)" in repr(d)
    t = mlx_losses.TverskyLoss(other_act=mx.tanh, soft_label=True)
    assert "other_act='tanh'" in repr(t)
    s = mlx_losses.SigmoidFocalLoss(reduction="sum")
    xs, ts = _x((5,)), mx.array([1.0, 0.0, 1.0, 0.0, 0.0])
    _close(s(xs, ts), F.sigmoid_focal_loss(xs, ts, reduction="sum"))
    gd = mlx_losses.GeneralizedDiceLoss(sigmoid=True, w_type="uniform", axis=-1)
    g1 = _onehot(labels, 3)
    _close(gd(_nhwc(x), _nhwc(g1)), F.generalized_dice_loss(x, g1, sigmoid=True, w_type="uniform"))
    p1 = mlx_losses.Poly1CrossEntropyLoss(label_smoothing=0.1)
    _close(p1(x, labels), F.poly1_cross_entropy(x, labels, label_smoothing=0.1))


@pytest.mark.parametrize("make, err, text", [
    (lambda: mlx_losses.FocalLoss(gamma=-1.0), ValueError, "FocalLoss: `gamma` must be >= 0.0, got -1.0."),
    (lambda: mlx_losses.FocalLoss(axis=1.5), TypeError, "FocalLoss: `axis` must be an int, got 1.5."),
    (lambda: mlx_losses.DiceLoss(sigmoid=True, softmax=True), ValueError,
     "DiceLoss: `sigmoid` must be combined with at most one of `softmax` and `other_act`"),
    (lambda: mlx_losses.DiceLoss(weight=[1.0, -2.0]), ValueError, "DiceLoss: `weight` must be >= 0.0, got -2.0."),
    (lambda: mlx_losses.DiceLoss(batch=1), TypeError, "DiceLoss: `batch` must be a bool, got int."),
    (lambda: mlx_losses.GeneralizedDiceLoss(w_type="cube"), ValueError,
     "GeneralizedDiceLoss: `w_type` must be one of 'square', 'simple', 'uniform', got 'cube'."),
    (lambda: mlx_losses.TverskyLoss(other_act="tanh"), TypeError,
     "TverskyLoss: `other_act` must be None or callable, got str."),
    (lambda: mlx_losses.Poly1CrossEntropyLoss(epsilon=-1.5), ValueError,
     "Poly1CrossEntropyLoss: `epsilon` must be >= -1.0, got -1.5."),
    (lambda: mlx_losses.SigmoidFocalLoss(reduction="avg"), ValueError, "is not a valid value for reduction"),
])
def test_module_options_are_validated(make, err, text):
    with pytest.raises(err, match=text.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
                       .replace("[", r"\[")):
        make()


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("call, err, text", [
    (lambda: F.sigmoid_focal_loss(mx.zeros((3, 4)), mx.zeros((4, 3))), ValueError,
     "sigmoid_focal_loss: `target` must have the shape of `input`, (3, 4), got (4, 3)."),
    (lambda: F.sigmoid_focal_loss(mx.zeros((3,)), mx.zeros((3,)), gamma="2"), TypeError,
     "sigmoid_focal_loss: `gamma` must be a number, got str."),
    (lambda: F.focal_loss(mx.zeros((2, 4, 3)), mx.zeros((2, 4), mx.int32)), ValueError,
     "focal_loss: `target` must have shape (2, 3) for `input` of shape (2, 4, 3) with the "
     "classes on axis 1, got (2, 4)."),
    (lambda: F.focal_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3), mx.int32), axis=-1,
                          weight=mx.ones((3,))), ValueError,
     "focal_loss: `weight` must have shape (4,), one weight per class, got (3,)."),
    (lambda: F.focal_loss(mx.zeros((2, 3)), mx.zeros((2, 3), mx.int32)), TypeError,
     "focal_loss: `target` must have a floating dtype when it has `input`'s shape"),
    (lambda: F.focal_loss(mx.zeros((2, 3)), mx.zeros((2,), mx.float32)), TypeError,
     "focal_loss: `target` must hold class indices (an integer dtype) or class probabilities"),
    (lambda: F.poly1_cross_entropy(mx.zeros((2, 3)), mx.zeros((2,), mx.int32), axis=0), ValueError,
     "poly1_cross_entropy: `axis` must name a class axis of `input` (shape (2, 3)): one of "
     "1..1 or -1..-1 (axis 0 is the batch), got 0"),
    (lambda: F.poly1_cross_entropy(mx.zeros((2, 3)), mx.zeros((2,), mx.int32),
                                   label_smoothing=1.5), ValueError,
     "poly1_cross_entropy: `label_smoothing` must be in [0, 1], got 1.5."),
    (lambda: F.dice_loss(mx.zeros((2, 3)), mx.zeros((2, 3))), ValueError,
     "dice_loss: `input` must have 3 or more dimensions (N, C, d1, ...), the classes on `axis`, "
     "got 2-D of shape (2, 3)."),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 5))), ValueError,
     "dice_loss: `target` must have the shape of `input`, (2, 3, 4) (one-hot or probabilities; "
     "class indices need to_onehot_y=True), got (2, 3, 5)."),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 2, 4), mx.int32), to_onehot_y=True),
     ValueError, "dice_loss: `target` must have shape (2, 1, 4) (or (2, 4)) of class indices"),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)), weight=[1.0, 2.0]), ValueError,
     "dice_loss: `weight` must have 3 values, one per class"),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)), weight="a"), TypeError,
     "dice_loss: `weight` must be None, a number, a sequence or an mx.array, got str."),
    (lambda: F.tversky_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)), alpha=None), TypeError,
     "tversky_loss: `alpha` must be a number, got NoneType."),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.full((2, 3, 4), 2.0)), ValueError,
     "dice_loss: `target` must hold probabilities in [0, 1]"),
    (lambda: F.generalized_dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)),
                                     sigmoid=True, other_act=mx.tanh), ValueError,
     "generalized_dice_loss: `sigmoid` must be combined with at most one of"),
    (lambda: F.dice_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4)), weight=mx.array([1.0, -1.0, 1.0])),
     ValueError, "dice_loss: `weight` must be >= 0, got a negative weight."),
])
def test_bad_input_messages(call, err, text):
    with pytest.raises(err) as info:
        call()
    assert text in str(info.value)
