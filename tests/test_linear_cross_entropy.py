"""Unit tests for linear_cross_entropy (no torch): chunked vs reference,
identities, errors, the Module, transforms, bounded memory."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten
import pytest

import mlx_losses
from mlx_losses import LinearCrossEntropyLoss, LinearCrossEntropyOptions
from mlx_losses import functional as F
from mlx_losses._validation import ShapeError
from mlx_losses.functional import linear_cross_entropy as lce

N, D, C = 9, 6, 13


def _data(seed=0, n=N, d=D, c=C, dtype=mx.float32):
    mx.random.seed(seed)
    x = mx.random.normal((n, d)).astype(dtype)
    w = (0.7 * mx.random.normal((c, d))).astype(dtype)
    b = (0.5 * mx.random.normal((c,))).astype(dtype)
    t = mx.random.randint(0, c, (n,))
    t = mx.where(mx.arange(n) % 4 == 1, -100, t)
    cw = mx.random.uniform(0.2, 2.0, (c,))
    p = mx.softmax(mx.random.normal((n, c)), axis=-1)
    return x, w, b, t, cw, p


def _close(a, b, rtol=2e-5, atol=2e-6):
    a, b = a.astype(mx.float32), b.astype(mx.float32)
    assert a.shape == b.shape
    nan_a, nan_b = mx.isnan(a), mx.isnan(b)
    assert mx.array_equal(nan_a, nan_b).item()
    a, b = mx.where(nan_a, 0, a), mx.where(nan_b, 0, b)
    assert mx.allclose(a, b, rtol=rtol, atol=atol).item(), (a, b)


OPTS = [
    LinearCrossEntropyOptions(batch_chunk_size=2),
    LinearCrossEntropyOptions(batch_chunk_size=4, vocab_chunk_size=5),
    LinearCrossEntropyOptions(batch_chunk_size=1, vocab_chunk_size=1),
    LinearCrossEntropyOptions(),
]
CONFIGS = [
    {},
    {"weight": "cw"},
    {"label_smoothing": 0.2},
    {"weight": "cw", "label_smoothing": 0.35},
    {"ignore_index": 3},
]


def _kw(cfg, cw):
    return {k: (cw if v == "cw" else v) for k, v in cfg.items()}


# --------------------------------------------------------------------------
# the chunked path equals the reference path, values and gradients


@pytest.mark.parametrize("opt", OPTS, ids=["tokens", "tiles", "unit_tiles", "auto"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["plain", "weight", "smooth", "weight_smooth", "ignore3"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_chunked_matches_reference_index(opt, cfg, reduction):
    x, w, b, t, cw, _ = _data()
    kw = _kw(cfg, cw)
    if "ignore_index" in kw:
        t = mx.where(t == -100, kw["ignore_index"], t)

    def f(x, w, b, options):
        return lce(x, w, t, linear_bias=b, reduction=reduction, options=options, **kw)

    ref, chk = f(x, w, b, None), f(x, w, b, opt)
    _close(chk, ref)
    cot = mx.random.normal(ref.shape)
    g_ref = mx.vjp(lambda *a: f(*a, None), [x, w, b], [cot])[1]
    g_chk = mx.vjp(lambda *a: f(*a, opt), [x, w, b], [cot])[1]
    for a, r in zip(g_chk, g_ref):
        _close(a, r)


@pytest.mark.parametrize("opt", OPTS[:3], ids=["tokens", "tiles", "unit_tiles"])
@pytest.mark.parametrize("cfg", [{}, {"weight": "cw", "label_smoothing": 0.25}], ids=["plain", "weight_smooth"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_chunked_matches_reference_soft(opt, cfg, reduction):
    x, w, b, _, cw, p = _data(1)
    kw = _kw(cfg, cw)

    def f(x, w, b, p, options):
        return lce(x, w, p, linear_bias=b, reduction=reduction, options=options, **kw)

    ref, chk = f(x, w, b, p, None), f(x, w, b, p, opt)
    _close(chk, ref)
    cot = mx.random.normal(ref.shape)
    g_ref = mx.vjp(lambda *a: f(*a, None), [x, w, b, p], [cot])[1]
    g_chk = mx.vjp(lambda *a: f(*a, opt), [x, w, b, p], [cot])[1]
    for a, r in zip(g_chk, g_ref):  # the soft target's gradient too
        _close(a, r)


def test_chunked_gradient_vs_plain_formula():
    # the custom vjp against mx.grad of the plain formula, written here
    x, w, b, t, cw, _ = _data(2)
    t = mx.where(t < 0, 0, t)

    def plain(x, w, b):
        z = x @ w.T + b
        lse = mx.logsumexp(z, axis=-1)
        return mx.mean(lse - mx.take_along_axis(z, t[:, None], axis=-1)[:, 0])

    def chunked(x, w, b):
        return lce(x, w, t, linear_bias=b, options=OPTS[1])

    _close(chunked(x, w, b), plain(x, w, b))
    for a, r in zip(mx.grad(chunked, argnums=(0, 1, 2))(x, w, b),
                    mx.grad(plain, argnums=(0, 1, 2))(x, w, b)):
        _close(a, r)


def test_float64_chunked_matches_reference_tightly():
    x, w, b, t, cw, _ = _data(3, dtype=mx.float64)
    kw = {"weight": cw.astype(mx.float64), "label_smoothing": 0.1}
    with mx.stream(mx.cpu):
        ref = lce(x, w, t, linear_bias=b, reduction="none", **kw)
        chk = lce(x, w, t, linear_bias=b, reduction="none", options=OPTS[1], **kw)
        assert chk.dtype == mx.float64
        assert mx.allclose(chk, ref, rtol=1e-12, atol=1e-13).item()


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_chunked_accumulates_in_float32(dtype):
    x, w, b, t, _, _ = _data(4, dtype=dtype)
    out = lce(x, w, t, linear_bias=b, options=OPTS[1])
    assert out.dtype == dtype
    exact = lce(x.astype(mx.float32), w.astype(mx.float32), t, linear_bias=b.astype(mx.float32))
    _close(out, exact, rtol=2e-2, atol=2e-2)
    gx, gw = mx.grad(lambda x, w: lce(x, w, t, options=OPTS[1]), argnums=(0, 1))(x, w)
    assert gx.dtype == dtype and gw.dtype == dtype


# --------------------------------------------------------------------------
# identities


@pytest.mark.parametrize("options", [None, OPTS[1]], ids=["reference", "chunked"])
def test_equal_logits_give_log_c(options):
    x = mx.random.normal((5, D))
    w = mx.zeros((C, D))
    t = mx.array([0, 3, 5, 7, 12])
    out = lce(x, w, t, options=options)
    assert abs(out.item() - math.log(C)) < 1e-6


@pytest.mark.parametrize("options", [None, OPTS[1]], ids=["reference", "chunked"])
def test_bias_shift_invariance(options):
    x, w, b, t, cw, _ = _data(5)
    a = lce(x, w, t, linear_bias=b, reduction="none", options=options, label_smoothing=0.1)
    c = lce(x, w, t, linear_bias=b + 7.5, reduction="none", options=options, label_smoothing=0.1)
    _close(a, c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [None, OPTS[0]], ids=["reference", "chunked"])
def test_ignored_targets_and_mean(options):
    x, w, b, t, _, _ = _data(6)
    none = lce(x, w, t, reduction="none", options=options)
    counted = t != -100
    assert mx.all(mx.where(counted, True, none == 0)).item()
    mean = lce(x, w, t, options=options)
    _close(mean, mx.sum(none) / mx.sum(counted))
    # every target ignored: 'mean' is 0 / 0 = NaN, as in torch
    allign = mx.full((N,), -100, dtype=mx.int32)
    assert math.isnan(lce(x, w, allign, options=options).item())
    assert lce(x, w, allign, reduction="sum", options=options).item() == 0.0


@pytest.mark.parametrize("options", [None, OPTS[1]], ids=["reference", "chunked"])
def test_one_hot_probabilities_equal_indices(options):
    x, w, b, t, cw, _ = _data(7)
    t = mx.where(t < 0, 1, t)
    onehot = (t[:, None] == mx.arange(C)).astype(mx.float32)
    for red in ("none", "sum"):
        _close(lce(x, w, onehot, reduction=red, options=options, weight=cw),
               lce(x, w, t, reduction=red, options=options, weight=cw))


def test_3d_input_equals_flattened():
    x, w, b, t, _, p = _data(8, n=12)
    opt = OPTS[1]
    x3, t3 = x.reshape(3, 4, D), t.reshape(3, 4)
    none3 = lce(x3, w, t3, linear_bias=b, reduction="none", options=opt, label_smoothing=0.1)
    assert none3.shape == (3, 4)
    flat = lce(x, w, t, linear_bias=b, reduction="none", options=opt, label_smoothing=0.1)
    _close(none3.reshape(-1), flat)
    _close(lce(x3, w, p.reshape(3, 4, C), options=opt), lce(x, w, p, options=opt))


def test_unbatched_equals_batch_of_one():
    x, w, b, t, _, _ = _data(9)
    for options in (None, OPTS[0]):
        one = lce(x[0], w, t[2], linear_bias=b, reduction="none", options=options)
        assert one.shape == ()
        _close(one, lce(x[:1], w, t[2:3], linear_bias=b, reduction="none", options=options)[0])


def test_kdim_reference_is_per_position_cross_entropy():
    mx.random.seed(10)
    x = mx.random.normal((4, D))
    w = mx.random.normal((C, 3, D))
    t = mx.random.randint(0, C, (4, 3))
    out = lce(x, w, t, reduction="none")
    assert out.shape == (4, 3)
    for k in range(3):
        _close(out[:, k], lce(x, w[:, k], t[:, k], reduction="none"))
    with pytest.warns(UserWarning, match="options``? ignored"):
        chk = lce(x, w, t, reduction="none", options=OPTS[0])
    _close(chk, out)


def test_vocab_tiles_in_auto_mode_for_few_tokens():
    # few tokens, huge vocabulary: every token in one tile, the classes split
    tok, voc = LinearCrossEntropyOptions(batch_chunk_size=2)._tiles(2, 64, 100_000)
    assert tok == 2 and 1000 < voc < 100_000 and tok * voc <= 2 * 100_000
    # many tokens: tall tiles (every token), a few (C x in_features) / 64
    # logits each, within torch's (chunk, C) buffer
    for opts in (LinearCrossEntropyOptions(batch_chunk_size=32), LinearCrossEntropyOptions()):
        tok, voc = opts._tiles(2048, 1024, 32000)
        assert tok == 2048 and voc % 64 == 0 and tok * voc <= 32000 * 1024 // 64
    assert LinearCrossEntropyOptions()._tiles(512, 256, 8000) == (512, 64)
    # past the budget the tokens split too, into rows of equal height
    tok, voc = LinearCrossEntropyOptions(batch_chunk_size=2)._tiles(2048, 1024, 32000)
    assert voc == 64 and tok * voc <= 2 * 32000 and -(-2048 // tok) * tok - 2048 < -(-2048 // tok)
    # tiny problems: one tile
    assert LinearCrossEntropyOptions()._tiles(6, 5, 10) == (6, 10)
    # torch's aspect_ratio rule, 'auto' = 'aspect_ratio:2'
    assert LinearCrossEntropyOptions()._chunk_size(2048, 1024, 32000) == 32
    assert LinearCrossEntropyOptions(chunking_method="aspect_ratio")._chunk_size(2048, 1024, 32000) == 64
    assert LinearCrossEntropyOptions(chunking_method=None)._chunk_size(2048, 1024, 32000) == 2048


# --------------------------------------------------------------------------
# transforms


def test_transforms_chunked():
    x, w, b, t, cw, _ = _data(11)
    opt = OPTS[1]

    def f(x, w, b):
        return lce(x, w, t, linear_bias=b, weight=cw, label_smoothing=0.1, options=opt)

    value, grads = mx.value_and_grad(f, argnums=(0, 1, 2))(x, w, b)
    cvalue, cgrads = mx.compile(mx.value_and_grad(f, argnums=(0, 1, 2)))(x, w, b)
    _close(cvalue, value)
    for a, r in zip(cgrads, grads):
        _close(a, r)
    # a second backward over the same loss: MLX has no retain_graph
    again = mx.grad(f, argnums=(0, 1, 2))(x, w, b)
    for a, r in zip(again, grads):
        assert mx.array_equal(a, r).item()
    _close(mx.compile(f)(x, w, b), value)


def test_nn_value_and_grad_trains_the_module_linear_only():
    mx.random.seed(12)
    x, _, _, t, cw, _ = _data(12)
    loss = LinearCrossEntropyLoss(D, C, bias=True, weight=cw, options=OPTS[1])
    keys = sorted(k for k, _ in tree_flatten(loss.trainable_parameters()))
    assert keys == ["linear.bias", "linear.weight"]
    assert "weight" in dict(tree_flatten(loss.parameters()))

    def f(model, x, t):
        return model(x, t)

    value, grads = nn.value_and_grad(loss, f)(loss, x, t)
    assert sorted(k for k, _ in tree_flatten(grads)) == keys
    ref = LinearCrossEntropyLoss(D, C, bias=True, weight=cw)
    ref.update(loss.trainable_parameters())
    rvalue, rgrads = nn.value_and_grad(ref, f)(ref, x, t)
    _close(value, rvalue)
    _close(grads["linear"]["weight"], rgrads["linear"]["weight"])
    _close(grads["linear"]["bias"], rgrads["linear"]["bias"])


def test_peak_memory_is_bounded_by_tiles():
    # (512 tokens, 4000 classes): the logits alone are 8 MB; the chunked
    # forward holds small tiles only.
    mx.random.seed(13)
    n, d, c = 512, 32, 4000
    x = mx.random.normal((n, d))
    w = 0.1 * mx.random.normal((c, d))
    t = mx.random.randint(0, c, (n,))
    mx.eval(x, w, t)
    opt = LinearCrossEntropyOptions(batch_chunk_size=16)
    logits_bytes = n * c * 4

    def peak(fn):
        mx.synchronize()
        base = mx.get_active_memory()
        mx.reset_peak_memory()
        mx.eval(fn())
        return mx.get_peak_memory() - base

    fwd = peak(lambda: lce(x, w, t, options=opt))
    assert fwd < logits_bytes / 3  # ~1 MB: a few 512 x 64 tiles in flight
    grads = peak(lambda: mx.grad(lambda x, w: lce(x, w, t, options=opt), argnums=(0, 1))(x, w))
    ref = peak(lambda: mx.grad(lambda x, w: lce(x, w, t), argnums=(0, 1))(x, w))
    # ~3.3 MB vs ~25 MB: the gradients (0.6 MB) and the ~10 tiles MLX's CPU
    # scheduler allocates ahead of the computation
    assert grads < ref / 6


# --------------------------------------------------------------------------
# the Module


def test_module_matches_functional_and_repr():
    x, _, _, t, cw, _ = _data(14)
    m = LinearCrossEntropyLoss(D, C, bias=True, weight=cw, label_smoothing=0.1, reduction="sum")
    assert m.linear.weight.shape == (C, D) and m.linear.bias.shape == (C,)
    bound = 1 / math.sqrt(D)
    assert mx.all(mx.abs(m.linear.weight) <= bound).item()
    out = m(x, t)
    ref = lce(x, m.linear.weight, t, linear_bias=m.linear.bias, weight=cw,
              label_smoothing=0.1, reduction="sum")
    _close(out, ref)
    text = repr(m)
    for part in ("in_features=6", "num_classes=13", "bias=True", "reduction='sum'",
                 "label_smoothing=0.1", "options=None"):
        assert part in text
    assert "weight" not in dict(tree_flatten(m.trainable_parameters()))


def test_module_kdim_flat_storage_and_dtype():
    m = LinearCrossEntropyLoss(D, C, out_features=(2, 3), bias=True, dtype=mx.float16)
    assert m.linear.weight.shape == (C * 6, D) and m.linear.weight.dtype == mx.float16
    assert m.linear.bias.shape == (C * 6,)
    x = mx.random.normal((4, D)).astype(mx.float16)
    t = mx.random.randint(0, C, (4, 2, 3))
    assert m.__class__(D, C, out_features=(2, 3)).linear.weight.dtype == mx.float32
    out = LinearCrossEntropyLoss(D, C, out_features=(2, 3), reduction="none")
    assert out(x.astype(mx.float32), t).shape == (4, 2, 3)
    assert m(x, t).dtype == mx.float16


def test_exported():
    assert mlx_losses.LinearCrossEntropyOptions is LinearCrossEntropyOptions
    assert "linear_cross_entropy" in mlx_losses.functional.__all__


# --------------------------------------------------------------------------
# errors: type and message


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"acc_policy": "fast"}, "`acc_policy` must be one of"),
        ({"chunking_method": "square"}, "invalid chunking_method"),
        ({"chunking_method": "aspect_ratio:0"}, "invalid chunking_method"),
        ({"batch_chunk_size": 0}, "batch_chunk_size must be positive int or None"),
        ({"vocab_chunk_size": -3}, "vocab_chunk_size must be positive int or None"),
        ({"acc_dtype": mx.int32}, "`acc_dtype` must be None"),
    ],
)
def test_options_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearCrossEntropyOptions(**kwargs)


def test_options_conflict_and_acc_dtype():
    x, w, _, t, _, _ = _data(15)
    bad = LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio")
    with pytest.raises(ValueError, match=r"give different chunk sizes .*pass only one"):
        lce(x, w, t, options=bad)
    with pytest.raises(ValueError, match="`options.acc_dtype` must be"):
        lce(x, w, t, options=LinearCrossEntropyOptions(acc_dtype=mx.float16))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda x, w, t: lce(x[0, 0], w, t[0]), ShapeError,
         "`input` must have at least 1 dimension"),
        (lambda x, w, t: lce(x, w[:, :-1], t), ShapeError, "expected equal input and linear_weight"),
        (lambda x, w, t: lce(x, w[0], t), ShapeError, "at least 2"),
        (lambda x, w, t: lce(x, w, t, linear_bias=mx.zeros((C + 1,))), ShapeError,
         "expected linear_bias shape"),
        (lambda x, w, t: lce(x[0], w.reshape(C, 1, D), t[:1]), ShapeError, "requires batched input"),
        (lambda x, w, t: lce(x, w, t, weight=mx.ones((C - 1,))), ShapeError, "`weight` must have shape"),
        (lambda x, w, t: lce(x, w, t, label_smoothing=1.5), ValueError,
         "label_smoothing must be between 0.0 and 1.0"),
        (lambda x, w, t: lce(x, w, t, reduction="avg"), ValueError, "is not a valid value for reduction"),
        (lambda x, w, t: lce(x, w, t.astype(mx.float32)), TypeError, "`target` must hold class indices"),
        (lambda x, w, t: lce(x, w, t[:-1]), ShapeError, "`target` must have shape"),
        (lambda x, w, t: lce(x, w, mx.where(t < 0, C, t)), ValueError, "out of bounds"),
        (lambda x, w, t: lce(x, w, mx.ones((N, C)), ignore_index=-100), ValueError,
         "ignore_index cannot be specified when target contains probabilities"),
        (lambda x, w, t: lce(x, w, t, options="chunked"), TypeError, "`options` must be"),
        (lambda x, w, t: lce(x.astype(mx.int32), w, t), TypeError, "`input` must have a floating dtype"),
        (lambda x, w, t: lce(x.reshape(1, 3, 3, D), w, t.reshape(1, 3, 1, 3), options=OPTS[0]),
         ShapeError, r"`target` must have shape \(1, 3, 3\)"),
    ],
)
def test_errors(make, error, match, read_path):
    x, w, _, t, _, _ = _data(16)
    with pytest.raises(error, match=match):
        mx.eval(make(x, w, t))


def test_module_errors():
    with pytest.raises(ShapeError, match=r"expected weight shape to be \(13,\)"):
        LinearCrossEntropyLoss(D, C, weight=mx.ones((3,)))
    with pytest.raises(ValueError, match="expected label_smoothing to be in range"):
        LinearCrossEntropyLoss(D, C, label_smoothing=-0.5)
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        LinearCrossEntropyLoss(D, C, reduction="mean_please")
    with pytest.raises(TypeError, match="`options` must be"):
        LinearCrossEntropyLoss(D, C, options={"batch_chunk_size": 2})


def test_value_checks_can_be_switched_off_and_compile_skips_them():
    x, w, _, t, _, _ = _data(17)
    bad = mx.where(t < 0, C + 5, t)
    with mlx_losses.value_checks(False):
        mx.eval(lce(x, w, bad, options=OPTS[0]))
    # under mx.compile the target is a tracer: the check skips itself
    mx.eval(mx.compile(lambda x, t: lce(x, w, t, options=OPTS[0]))(x, bad))


# --------------------------------------------------------------------------
# out-of-range targets, weights summing to 0, weight dtypes


@pytest.mark.parametrize("compiled", [False, True], ids=["unchecked", "compiled"])
def test_out_of_range_targets_give_nan_rows_on_both_paths(compiled):
    # torch raises; with the checks off or under mx.compile both paths give
    # the bad rows a NaN loss and NaN input gradient, the other rows their
    # own values (the chunked path used to read a finite logit instead)
    x, w, b, _, _, _ = _data(11, n=6)
    t = mx.array([0, C, 4, -1, -100, 12])
    bad = [1, 3]

    def run(options):
        def f(x, t):
            return lce(x, w, t, linear_bias=b, reduction="none", options=options)

        vg = mx.value_and_grad(lambda x, t: mx.sum(f(x, t) * mx.linspace(0.5, 1.5, 6)))
        if compiled:
            return mx.compile(f)(x, t), mx.compile(vg)(x, t)[1]
        with mlx_losses.value_checks(False):
            return f(x, t), vg(x, t)[1]

    for options in (None, OPTS[1]):
        out, g = run(options)
        assert mx.all(mx.isnan(out[bad])).item() and not mx.any(mx.isnan(out[[0, 2, 4, 5]])).item()
        assert mx.all(mx.isnan(g[bad])).item() and not mx.any(mx.isnan(g[[0, 2, 4, 5]])).item()
        assert g[4].abs().max().item() == 0.0
    ref, chk = run(None), run(OPTS[1])
    _close(ref[0], chk[0])
    _close(ref[1], chk[1], rtol=1e-4, atol=1e-5)


def _zero_weight_grads(target, eps, options):
    x, w, b, _, cw, _ = _data(12, n=4, dtype=mx.float64)
    cw = mx.where(mx.arange(C) < 2, 0.0, cw.astype(mx.float64))  # classes 0 and 1 weigh 0
    f = lambda a: lce(a, w, target, weight=cw, label_smoothing=eps, options=options)  # noqa: E731
    v, g = mx.value_and_grad(f)(x)
    return v.item(), np.array(g)


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_class_weights_summing_to_zero(eps):
    # 'mean' divides by the counted weights, 0 here: NaN. The reference path
    # (cross_entropy's backward) gives the counted rows NaN gradients and the
    # ignored row 0; so does the chunked path with smoothing (torch's runs the
    # reference then); without smoothing torch's chunked kernel gives every
    # row NaN (0 / 0 times the 0 mask)
    t = mx.array([0, 1, -100, 1])
    for options in (None, OPTS[1]):
        v, g = _zero_weight_grads(t, eps, options)
        assert math.isnan(v)
        assert np.all(np.isnan(g[[0, 1, 3]]))
        if options is None or eps:
            assert np.all(g[2] == 0)
        else:
            assert np.all(np.isnan(g[2]))


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_all_targets_ignored_gradient(eps):
    # the reference path keeps cross_entropy's zero gradient; the chunked path
    # too with smoothing (torch's reference fallback), NaN without (torch's
    # chunked kernel)
    t = mx.full((4,), -100)
    for options in (None, OPTS[1]):
        v, g = _zero_weight_grads(t, eps, options)
        assert math.isnan(v)
        if options is None or eps:
            assert np.all(g == 0)
        else:
            assert np.all(np.isnan(g))


def test_class_weight_dtype_follows_torch_per_path():
    # torch's reference path (and its chunked one with smoothing, which falls
    # back to it) takes class weights of the logits' dtype only; its chunked
    # kernel casts them
    x, w, b, t, cw, p = _data(13)
    cw16 = cw.astype(mx.float16)
    match = (r"`weight` must have the dtype of the logits, float32, got float16: "
             r"expected scalar type Float but found Half")
    with pytest.raises(TypeError, match=match):
        lce(x, w, t, weight=cw16)
    with pytest.raises(TypeError, match=match):
        lce(x, w, t, weight=cw16, label_smoothing=0.1, options=OPTS[0])
    _close(lce(x, w, t, weight=cw16, options=OPTS[0]), lce(x, w, t, weight=cw16.astype(mx.float32)))
    # class probabilities take any weight dtype on both paths
    for options in (None, OPTS[0]):
        _close(lce(x, w, p, weight=cw16, options=options), lce(x, w, p, weight=cw16.astype(mx.float32)))
    # with a wider weight the output promotes (torch's cross_entropy of probabilities)
    for options in (None, OPTS[0]):
        assert lce(x, w, p, weight=cw.astype(mx.float64), options=options).dtype == mx.float64


# --------------------------------------------------------------------------
# (*, in_features) input, the class axis of the logits


def _vjp(f, args, seed=21):
    out = f(*args)
    cot = mx.random.normal(out.shape, key=mx.random.key(seed)).astype(out.dtype)
    return out, mx.vjp(f, list(args), [cot])[1]


@pytest.mark.parametrize("options", [None, OPTS[1]], ids=["reference", "chunked"])
def test_nd_input_equals_flattened(options):
    x, w, b, t, cw, p = _data(22, n=12)
    x4, t4, p4 = x.reshape(2, 3, 2, D), t.reshape(2, 3, 2), p.reshape(2, 3, 2, C)
    kw = dict(linear_bias=b, weight=cw, label_smoothing=0.1, options=options)
    for red in ("none", "mean"):
        out, g = _vjp(lambda x, w: lce(x, w, t4, reduction=red, **kw), [x4, w])
        ref, gr = _vjp(lambda x, w: lce(x, w, t, reduction=red, **kw), [x, w])
        assert out.shape == ((2, 3, 2) if red == "none" else ())
        _close(out.reshape(-1), ref.reshape(-1))
        _close(g[0].reshape(x.shape), gr[0])
        _close(g[1], gr[1])
    # probabilities: classes last by default (torch's layout: after the batch
    # dimensions), or wherever axis puts them
    soft = lce(x4, w, p4, options=options, reduction="none")
    _close(soft.reshape(-1), lce(x, w, p, options=options, reduction="none"))
    _close(lce(x4, w, mx.moveaxis(p4, -1, 1), options=options, reduction="none", axis=1), soft)
    # class indices do not depend on the axis
    _close(lce(x4, w, t4, options=options, axis=1), lce(x4, w, t4, options=options))


def test_logits_axis_errors():
    x, w, _, t, _, _ = _data(23)
    with pytest.raises(ValueError, match=r"`axis` must name a class axis of the logits \(shape "
                                         r"\(9, 13\) in torch's layout\): one of 1..1 or -1..-1"):
        lce(x, w, t, axis=0)
    with pytest.raises(TypeError, match="`axis` must be an int, got str"):
        lce(x, w, t, axis="-1")
    with pytest.raises(TypeError, match="LinearCrossEntropyLoss: `axis` must be an int, got 1.0"):
        LinearCrossEntropyLoss(D, C, axis=1.0)
    # an int as torch takes one: NumPy's too
    _close(lce(x, w, t, axis=np.int64(-1)), lce(x, w, t))


# --------------------------------------------------------------------------
# softcap, logit_scale, z_loss, out_dtype


LOGIT_OPTS = [
    {"softcap": 2.0},
    {"logit_scale": 0.25},
    {"softcap": 3.0, "logit_scale": 1.5, "z_loss": 0.01},
    {"z_loss": 0.1, "weight": "cw", "label_smoothing": 0.2},
    {"softcap": 1.5, "label_smoothing": 0.1},
]


@pytest.mark.parametrize("kw", LOGIT_OPTS, ids=lambda kw: "-".join(kw))
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_logit_options_chunked_match_reference(kw, reduction):
    x, w, b, t, cw, p = _data(24)
    kw = _kw(kw, cw)
    ref_fn = lambda *a: lce(*a[:2], t, linear_bias=a[2], reduction=reduction, **kw)  # noqa: E731
    ref, g_ref = _vjp(ref_fn, [x, w, b])
    # the reference path is cross_entropy of the logits with the same options
    _close(ref, F.cross_entropy(x @ w.T + b, t, reduction=reduction, **kw))
    for opt in OPTS[1:3]:
        chk, g_chk = _vjp(lambda *a: lce(*a[:2], t, linear_bias=a[2], reduction=reduction,
                                         options=opt, **kw), [x, w, b])
        _close(chk, ref)
        for a, r in zip(g_chk, g_ref):
            _close(a, r)
    if "weight" not in kw:  # probabilities
        soft = lambda *a: lce(*a[:2], p, linear_bias=a[2], reduction=reduction, **kw)  # noqa: E731
        ref, g_ref = _vjp(soft, [x, w, b])
        chk, g_chk = _vjp(lambda *a: lce(*a[:2], p, linear_bias=a[2], reduction=reduction,
                                         options=OPTS[1], **kw), [x, w, b])
        _close(chk, ref)
        for a, r in zip(g_chk, g_ref):
            _close(a, r)


def test_logit_options_float64_tight_and_out_dtype():
    x, w, b, t, cw, _ = _data(25, dtype=mx.float64)
    kw = dict(softcap=2.5, logit_scale=0.8, z_loss=1e-2, weight=cw.astype(mx.float64))
    with mx.stream(mx.cpu):
        ref = lce(x, w, t, linear_bias=b, reduction="none", **kw)
        chk = lce(x, w, t, linear_bias=b, reduction="none", options=OPTS[1], **kw)
        assert mx.allclose(chk, ref, rtol=1e-12, atol=1e-13).item()
    xb, wb = x.astype(mx.bfloat16), w.astype(mx.bfloat16)
    for options in (None, OPTS[1]):
        out = lce(xb, wb, t, options=options, out_dtype=mx.float32, softcap=2.5)
        assert out.dtype == mx.float32
        assert lce(xb, wb, t, options=options, softcap=2.5).dtype == mx.bfloat16
        exact = lce(xb.astype(mx.float32), wb.astype(mx.float32), t, softcap=2.5)
        _close(out, exact, rtol=1e-2, atol=1e-2)
    m = LinearCrossEntropyLoss(D, C, options=OPTS[1], softcap=2.0, out_dtype=mx.float32)
    assert "softcap=2.0" in repr(m) and m(x.astype(mx.float32), t).dtype == mx.float32


# --------------------------------------------------------------------------
# torch's dtype rules for input, linear_weight and linear_bias


def test_head_dtypes_follow_torch():
    x, w, b, t, _, p = _data(26)
    chunked = OPTS[1]
    w64, b64 = w.astype(mx.float64), b.astype(mx.float64)
    # torch's reference path: one dtype for input, weight and bias
    with pytest.raises(TypeError, match=r"linear_cross_entropy: `linear_weight` must have the dtype of "
                                        r"`input`, float32, got float64: expected m1 and m2 to have the "
                                        r"same dtype, but got: float != double"):
        lce(x, w64, t)
    with pytest.raises(TypeError, match=r"`linear_bias` must have the dtype of `input`, float32, got "
                                        r"float64: self and mat2 must have the same dtype"):
        lce(x, w, t, linear_bias=b64)
    # its chunked kernel (class indices, no smoothing) casts the bias ...
    out = lce(x, w, t, linear_bias=b64, options=chunked)
    assert out.dtype == mx.float32
    _close(out, lce(x, w, t, linear_bias=b, options=chunked))
    gb = mx.grad(lambda b: lce(x, w, t, linear_bias=b, options=chunked))(b64)
    assert gb.dtype == mx.float64
    # ... and a half input's weight (float32 accumulation); the loss has the input's dtype
    xh = x.astype(mx.float16)
    out = lce(xh, w, t, options=chunked)
    assert out.dtype == mx.float16
    _close(out, lce(xh.astype(mx.float32), w, t), rtol=1e-2, atol=1e-2)
    gx, gw = mx.grad(lambda x, w: lce(x, w, t, options=chunked), argnums=(0, 1))(xh, w)
    assert gx.dtype == mx.float16 and gw.dtype == mx.float32
    # but not a float32 input's, nor where torch falls back to its reference path
    with pytest.raises(TypeError, match="expected m1 and m2 to have the same dtype"):
        lce(x, w64, t, options=chunked)
    with pytest.raises(TypeError, match="`linear_weight` must have the dtype of `input`, float16"):
        lce(xh, w, t, options=chunked, label_smoothing=0.1)
    with pytest.raises(TypeError, match="`linear_bias` must have the dtype"):
        lce(x, w, p, linear_bias=b64, options=chunked)


# --------------------------------------------------------------------------
# quantized heads


def _quantizes(mode, group_size, bits):
    try:
        mx.quantize(mx.zeros((1, 128)), group_size, bits, mode=mode)
    except ValueError:
        return False
    return True


# every (mode, group_size, bits) the installed MLX quantizes (1-bit from 0.32.4)
QUANT = [q for q in [("affine", g, b) for g in (32, 64, 128) for b in (1, 2, 3, 4, 5, 6, 8)]
         + [("mxfp4", 32, 4), ("mxfp8", 32, 8), ("nvfp4", 16, 4)] if _quantizes(*q)]


def _quantized(c, d, mode, group_size, bits, seed=0):
    w = 0.1 * mx.random.normal((c, d), key=mx.random.key(seed))
    return mlx_losses.QuantizedWeight(*mx.quantize(w, group_size, bits, mode=mode),
                                      group_size=group_size, bits=bits, mode=mode)


@pytest.mark.parametrize("mode, group_size, bits", QUANT, ids=[f"{m}{g}x{b}" for m, g, b in QUANT])
def test_quantized_head_equals_dequantized_reference(mode, group_size, bits):
    n, d, c = 6, 128, 37
    x = mx.random.normal((2, 3, d), key=mx.random.key(1))
    b = mx.random.normal((c,), key=mx.random.key(2))
    t = mx.array([[0, 36, -100], [5, 17, 17]])
    qw = _quantized(c, d, mode, group_size, bits)
    dense = qw.dequantize(mx.float32)
    opt = LinearCrossEntropyOptions(batch_chunk_size=4, vocab_chunk_size=8)
    kw = dict(reduction="none", z_loss=1e-3, softcap=5.0)
    ref, g_ref = _vjp(lambda x, b: lce(x, dense, t, linear_bias=b, **kw), [x, b])
    for options in (opt, None):
        out, g = _vjp(lambda x, b: lce(x, qw, t, linear_bias=b, options=options, **kw), [x, b])
        _close(out, ref, rtol=2e-5, atol=1e-5)
        for a, r in zip(g, g_ref):
            _close(a, r, rtol=2e-5, atol=1e-6)


def test_quantized_head_is_frozen():
    x = mx.random.normal((4, 64), key=mx.random.key(3))
    t = mx.array([0, 1, 2, 3])
    head = nn.QuantizedLinear(64, 50, bias=True, bits=4)
    qw = mlx_losses.QuantizedWeight.from_module(head)
    assert qw.shape == (50, 64) and (qw.group_size, qw.bits, qw.mode) == (64, 4, "affine")
    for options in (None, OPTS[0]):
        def f(scales, x):
            q = mlx_losses.QuantizedWeight(qw.weight, scales, qw.biases)
            return lce(x, q, t, linear_bias=head["bias"], options=options)

        gx = mx.grad(f, argnums=1)(qw.scales, x)  # w.r.t. the input: fine
        assert gx.shape == x.shape
        with pytest.raises(ValueError, match=r"`linear_weight` must be frozen when it is a "
                                             r"QuantizedWeight .*got a gradient w.r.t. it"):
            mx.grad(f, argnums=0)(qw.scales, x)
    # the model's own logits + cross_entropy, exactly
    _close(lce(x, qw, t, linear_bias=head["bias"]), F.cross_entropy(head(x), t))
    # the Module after nn.quantize: a frozen quantized head, the bias trains
    m = LinearCrossEntropyLoss(64, 50, bias=True, options=OPTS[0])
    nn.quantize(m)
    assert isinstance(m.linear, nn.QuantizedLinear) and m.in_features == 64
    _close(m(x, t), F.cross_entropy(m.linear(x), t))


_W10 = 0.1 * mx.random.normal((10, 64), key=mx.random.key(4))
_Q4 = mx.quantize(_W10, 64, 4)
_FP4 = mx.quantize(_W10, 32, 4, mode="mxfp4")


@pytest.mark.parametrize("args, error, match", [
    ((*_Q4, 64, 4, "int4"), ValueError, r"QuantizedWeight: `mode` must be one of 'affine', "
                                        r"'mxfp4', 'mxfp8', 'nvfp4' \(MLX's quantization modes\), "
                                        r"got 'int4'"),
    ((*_Q4, 64, 7), ValueError, r"`bits` must be one of 1, 2, 3, 4, 5, 6, 8 for mode 'affine', got 7"),
    ((*_Q4, 16), ValueError, r"`group_size` must be one of 32, 64, 128 for mode 'affine', got 16"),
    ((*_Q4[:2], None), ValueError, r"`biases` must be given for mode 'affine', got None"),
    ((_Q4[0], mx.concatenate(_Q4[1:], axis=1), _Q4[2]), ShapeError,
     r"`scales` must have shape \(10, 1\), got \(10, 2\)"),
    ((_Q4[0].astype(mx.float32), *_Q4[1:]), TypeError, r"`weight` must be the packed uint32 weight"),
    ((*_FP4, _Q4[2], 32, 4, "mxfp4"), ValueError, r"`biases` must be None for mode 'mxfp4', got an "
                                                  r"array of shape \(10, 1\)"),
])
def test_quantized_weight_errors(args, error, match):
    with pytest.raises(error, match=match):
        mlx_losses.QuantizedWeight(*args)
    with pytest.raises(TypeError, match=r"QuantizedWeight.from_module: `module` must be an "
                                        r"nn.QuantizedLinear or nn.QuantizedEmbedding, got Linear"):
        mlx_losses.QuantizedWeight.from_module(nn.Linear(4, 4))


def test_quantized_head_memory_grows_by_a_block_not_the_head():
    mx.random.seed(27)
    n, d, c = 256, 256, 16384
    x = mx.random.normal((n, d))
    t = mx.random.randint(0, c, (n,))
    qw = _quantized(c, d, "affine", 64, 4)
    mx.eval(x, t, qw.weight, qw.scales, qw.biases)
    head_bytes = c * d * 4  # the dequantized head: 16 MiB
    mx.synchronize()
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    mx.eval(mx.value_and_grad(lambda x: lce(x, qw, t, options=LinearCrossEntropyOptions()))(x))
    # ~5 MiB: the tiles MLX's CPU scheduler runs ahead, each with its
    # dequantized block (a whole dequantized head would hold 16-32 MiB)
    assert mx.get_peak_memory() - base < head_bytes / 2


def test_compiled_kernels_do_not_grow_with_the_blocks(tmp_path):
    # A compiled training step builds each fused tile kernel once, however
    # many vocabulary blocks there are (a block's offset compiled in as a
    # constant made kernels for every block). A second vocabulary size, with
    # twice the blocks and a ragged last one, adds at most the two small
    # kernels that compare the targets with the vocabulary size.
    import os
    import subprocess
    import sys

    code = """
import os
import mlx.core as mx
from mlx_losses import LinearCrossEntropyOptions
from mlx_losses.functional import linear_cross_entropy
cache = os.path.join(os.environ["TMPDIR"], "mlx")
def count():
    return sum(len([f for f in fs if f.endswith(".cpp")]) for _, _, fs in os.walk(cache))
opts = LinearCrossEntropyOptions(vocab_chunk_size=8)
counts = []
for v in (40, 84):
    x, w, t = mx.ones((4, 8)), mx.ones((v, 8)), mx.array([0, 1, 2, v - 1])
    step = mx.compile(mx.value_and_grad(lambda x, w: linear_cross_entropy(x, w, t, options=opts),
                                        argnums=(0, 1)))
    mx.eval(step(x, w))
    counts.append(count())
print(counts)
"""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    first, second = eval(res.stdout.strip().splitlines()[-1])
    assert 0 < first and second - first <= 2, (first, second)


def _soft_ce64(z, q):
    """sum_c q_c (lse - z_c) per row, in float64 from the max: loss and d/dz."""
    z = np.asarray(z, np.float64)
    m = z.max(-1, keepdims=True)
    logp = (z - m) - np.log(np.exp(z - m).sum(-1, keepdims=True))
    return -(q * logp).sum(-1), np.exp(logp) * q.sum(-1, keepdims=True) - q


@pytest.mark.parametrize("v", [1e4, 1e8])
@pytest.mark.parametrize("options", [None, OPTS[0], OPTS[2]], ids=["reference", "chunked", "tiles"])
@pytest.mark.parametrize("eps,soft", [(0.0, False), (0.3, False), (0.0, True)])
def test_large_logits_keep_the_loss_digits(v, options, eps, soft):
    # logits z = x I: the O(1) loss was rounded at the logits' scale
    # (lse - z_t with lse = max + log(sum): 0 for log 2 at 1e8 in float32)
    x = np.array([[v, v, v], [v, v + 8.0, v - 16.0], [v + 16.0, v, v - 8.0]], np.float32)
    t = np.array([0, 1, 2])
    q = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]) if soft \
        else np.eye(3)[t] * (1 - eps) + eps / 3
    ref, dref = _soft_ce64(x, q)
    tgt = mx.array(q.astype(np.float32)) if soft else mx.array(t.astype(np.int32))
    f = lambda x: lce(x, mx.eye(3), tgt, reduction="none", label_smoothing=eps,  # noqa: E731
                      options=options)
    _close(f(mx.array(x)), mx.array(ref.astype(np.float32)), rtol=1e-6, atol=1e-6)
    g = mx.grad(lambda x: mx.sum(f(x)))(mx.array(x))
    _close(g, mx.array(dref.astype(np.float32)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(0, D), (2, 0, D)])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_chunked_empty_batch_equals_reference(shape, eps):
    x, w = mx.zeros(shape), _data(10)[1]
    t = mx.zeros(shape[:-1], dtype=mx.int32)
    for red in ("none", "sum", "mean"):
        ref = lce(x, w, t, reduction=red, label_smoothing=eps)
        got = lce(x, w, t, reduction=red, label_smoothing=eps, options=OPTS[1])
        assert got.shape == ref.shape == (shape[:-1] if red == "none" else ())
        _close(got, ref)
    assert lce(x, w, t, reduction="sum", options=OPTS[1]).item() == 0.0


@pytest.mark.parametrize("options", [None, OPTS[1], OPTS[2]], ids=["reference", "chunked", "tiles"])
def test_row_with_both_infinities_is_nan(options):
    # a logit row holding +inf and -inf: softmax is NaN (inf - inf), as
    # cross_entropy (torch's too); never inf, never a finite gradient
    x = mx.array([[-1.5, -1.625, 0.0], [0.0, 0.0, 1.0]])
    w = mx.array([[-np.inf, 0.875, -2.625], [-3.125, np.inf, 0.25], [0.0, 1.0, 0.5]])
    t = mx.array([1, 2])
    f = lambda x: lce(x, w, t, reduction="none", options=options)  # noqa: E731
    out = f(x)
    ce = F.cross_entropy(x @ w.T, t, reduction="none")
    assert math.isnan(out[0].item()) and math.isnan(ce[0].item())
    _close(out[1:], ce[1:])
    g = mx.grad(lambda x: mx.sum(f(x)))(x)
    assert np.isnan(np.array(g[0])).all()


def test_chunked_float64_softmax_is_float64_accurate():
    # two equal logits: p = 0.5 exactly, so d/dx = sum_c (p_c - onehot_c) W_c = 0
    x = mx.array([[0.0, 0.0, 0.125]], dtype=mx.float64)
    w = mx.array([[0.0, 0.0, 1e10], [0.0, 0.0, 1e10]], dtype=mx.float64)
    for options in (None, LinearCrossEntropyOptions(batch_chunk_size=1)):
        g = mx.grad(lambda x: lce(x, w, mx.array([0]), reduction="sum", options=options))(x)
        assert np.array_equal(np.array(g), np.zeros((1, 3))), (options, g)


@pytest.mark.parametrize("options", [None, OPTS[0], OPTS[2]], ids=["reference", "chunked", "tiles"])
def test_infinite_soft_target_at_the_max_logit_is_inf(options):
    # sum_c q_c (lse - z_c) with q = inf where z_c is the max: inf (log s > 0),
    # never inf * 0 from a difference with the shift
    x = mx.zeros((2, 1), dtype=mx.float64)
    w = mx.zeros((3, 1), dtype=mx.float64)
    q = mx.array([[0.0, np.inf, 0.0], [0.5, 0.25, 0.25]], dtype=mx.float64)
    out = lce(x, w, q, reduction="none", options=options)
    assert out[0].item() == math.inf
    assert abs(out[1].item() - math.log(3)) < 1e-12
