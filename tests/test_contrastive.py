"""Contrastive losses and the two from mlx.nn without torch: identities
between them, definitions, Modules, transforms, errors."""

import math

import mlx.core as mx
import mlx.nn.losses as nn_losses
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F


def _x(shape, seed=0, dtype=mx.float32, scale=1.0):
    rng = np.random.default_rng(seed)
    return mx.array((scale * rng.normal(size=shape)).astype(np.float32)).astype(dtype)


def _unit(x):
    return x / mx.linalg.norm(x, axis=-1, keepdims=True)


def _close(a, b, **kw):
    kw.setdefault("rtol", 1e-5)
    kw.setdefault("atol", 1e-6)
    np.testing.assert_allclose(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64), **kw)


def _ce_rows(logits, labels):
    return mx.logsumexp(logits, axis=1) - mx.take_along_axis(logits, labels[:, None], axis=1)[:, 0]


# --------------------------------------------------------------------------
# identities between the losses


def test_info_nce_in_batch_is_the_cross_entropy_of_the_cosine_matrix():
    q, k = _x((6, 5)), _x((6, 5), 1)
    logits = (_unit(q) @ _unit(k).T) / 0.2
    _close(F.info_nce_loss(q, k, temperature=0.2, reduction="none"), _ce_rows(logits, mx.arange(6)))
    # normalised inside: scaling a row changes nothing
    _close(F.info_nce_loss(3.0 * q, k, temperature=0.2), F.info_nce_loss(q, k, temperature=0.2))


def test_info_nce_paired_with_shared_negatives_equals_unpaired():
    q, k, n = _x((4, 3)), _x((4, 3), 1), _x((5, 3), 2)
    unpaired = F.info_nce_loss(q, k, n, reduction="none")
    paired = F.info_nce_loss(q, k, mx.broadcast_to(n, (4, 5, 3)), negative_mode="paired",
                             reduction="none")
    _close(paired, unpaired)
    # the positive in column 0 against the negatives
    logits = mx.concatenate([mx.sum(_unit(q) * _unit(k), 1, keepdims=True), _unit(q) @ _unit(n).T],
                            axis=1) / 0.1
    _close(unpaired, _ce_rows(logits, mx.zeros((4,), mx.int32)))


def test_clip_is_symmetric_and_is_info_nce_when_both_sides_are_one():
    i, t = _unit(_x((5, 4))), _unit(_x((5, 4), 1))
    _close(F.clip_loss(i, t, 7.0), F.clip_loss(t, i, 7.0))
    _close(F.clip_loss(i, i, 1 / 0.3), F.info_nce_loss(i, i, temperature=0.3))
    logits = 7.0 * i @ t.T
    per = 0.5 * (_ce_rows(logits, mx.arange(5)) + _ce_rows(logits.T, mx.arange(5)))
    _close(F.clip_loss(i, t, mx.array(7.0), reduction="none"), per)
    # the scale's gradient (a learned temperature) flows
    g = mx.grad(lambda s: F.clip_loss(i, t, s))(mx.array(7.0))
    eps = 1e-2
    fd = (F.clip_loss(i, t, 7.0 + eps) - F.clip_loss(i, t, 7.0 - eps)) / (2 * eps)
    _close(g, fd, rtol=1e-3)


def test_nt_xent_is_unsupervised_supcon_with_two_views():
    z1, z2 = _x((5, 4)), _x((5, 4), 1)
    nt = F.nt_xent_loss(z1, z2, temperature=0.3, reduction="none")
    feats = mx.stack([_unit(z1), _unit(z2)], axis=1)
    sc = F.supcon_loss(feats, temperature=0.3, base_temperature=0.3, reduction="none")
    assert nt.shape == (10,) and sc.shape == (5, 2)
    _close(nt, sc.T.reshape(-1))
    _close(F.nt_xent_loss(z1, z2, temperature=0.3),
           F.supcon_loss(feats, temperature=0.3, base_temperature=0.3))


def test_supcon_labels_equal_their_mask_and_one_mode_takes_the_first_view():
    f = _unit(_x((6, 3, 4)))
    labels = mx.array([0, 1, 0, 2, 1, 0])
    mask = (labels[:, None] == labels[None, :]).astype(mx.float32)
    _close(F.supcon_loss(f, labels), F.supcon_loss(f, mask=mask))
    all_ = F.supcon_loss(f, labels, reduction="none")
    one = F.supcon_loss(f, labels, contrast_mode="one", reduction="none")
    assert all_.shape == (6, 3) and one.shape == (6, 1)
    _close(one[:, 0], all_[:, 0])
    # base_temperature only scales
    _close(F.supcon_loss(f, labels, base_temperature=0.14), 0.5 * F.supcon_loss(f, labels))
    # an anchor without positives gives 0 (one view, a unique label)
    lone = F.supcon_loss(f[:, :1], labels, reduction="none")
    assert lone[3, 0].item() == 0.0


def test_siglip_is_its_definition_and_its_scale_and_bias_learn():
    i, t = _unit(_x((4, 3))), _unit(_x((4, 3), 1))
    logits = 10.0 * (i @ t.T) - 5.0
    sign = 2 * mx.eye(4) - 1
    ref = mx.sum(mx.logaddexp(0.0, -sign * logits), axis=1)
    _close(F.siglip_loss(i, t, 10.0, -5.0, reduction="none"), ref)
    _close(F.siglip_loss(i, t, mx.array(10.0), mx.array(-5.0)), mx.mean(ref))
    gs, gb = mx.grad(lambda s, b: F.siglip_loss(i, t, s, b), argnums=(0, 1))(
        mx.array(10.0), mx.array(-5.0))
    p = mx.sigmoid(sign * logits)
    _close(gb, -mx.sum(sign * (1 - p)) / 4)
    _close(gs, -mx.sum(sign * (1 - p) * (i @ t.T)) / 4)
    # stable for huge logits: no inf, no NaN
    big = F.siglip_loss(i, t, 1e4, -1e4)
    assert np.isfinite(big.item())


def test_contrastive_float64_and_half_precision():
    q, k = _x((6, 5)), _x((6, 5), 1)
    q64, k64 = q.astype(mx.float64), k.astype(mx.float64)
    qn, kn = np.array(q64), np.array(k64)
    qn /= np.linalg.norm(qn, axis=1, keepdims=True)
    kn /= np.linalg.norm(kn, axis=1, keepdims=True)
    lg = qn @ kn.T / 0.1
    ref = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1) - np.diag(lg)
    got = F.info_nce_loss(q64, k64, reduction="none")
    assert got.dtype == mx.float64
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-12)
    half = F.info_nce_loss(q.astype(mx.bfloat16), k.astype(mx.bfloat16))
    assert half.dtype == mx.bfloat16
    full = F.info_nce_loss(q.astype(mx.bfloat16).astype(mx.float32),
                           k.astype(mx.bfloat16).astype(mx.float32))
    assert abs(half.item() - full.item()) <= 2 ** -8 * full.item()


def test_contrastive_under_compile_and_grad():
    i, t = _x((4, 3)), _x((4, 3), 1)
    f = mx.compile(lambda a, b, s, c: F.siglip_loss(a, b, s, c) + F.clip_loss(a, b, s)
                   + F.nt_xent_loss(a, b) + F.info_nce_loss(a, b))
    eager = (F.siglip_loss(i, t, mx.array(5.0), mx.array(-1.0)) + F.clip_loss(i, t, mx.array(5.0))
             + F.nt_xent_loss(i, t) + F.info_nce_loss(i, t))
    _close(f(i, t, mx.array(5.0), mx.array(-1.0)), eager)
    feats = _x((4, 2, 3))
    labels = mx.array([0, 1, 1, 0])
    fs = mx.compile(lambda a, l: F.supcon_loss(a, l))
    _close(fs(feats, labels), F.supcon_loss(feats, labels))
    g = mx.grad(lambda a: F.supcon_loss(a, labels))(feats)
    assert np.isfinite(np.array(g)).all()


# --------------------------------------------------------------------------
# from mlx.nn.losses


def test_log_cosh_matches_mlx_nn_and_is_accurate():
    x, y = _x((5, 7), scale=3.0), _x((7,), 1, scale=3.0)
    for red in ("none", "mean", "sum"):
        _close(F.log_cosh_loss(x, y, reduction=red), nn_losses.log_cosh_loss(x, y, reduction=red))
    assert F.log_cosh_loss(x, y).shape == (5, 7)  # mlx.nn's default: 'none'
    # float64: log(cosh(d)) to rounding, where no overflow is possible either
    d = np.array([-800.0, -30.0, -1.5, -1e-3, 0.0, 2e-8, 0.7, 25.0, 700.0])
    got = F.log_cosh_loss(mx.array(d, dtype=mx.float64), mx.zeros((9,), mx.float64))
    a = np.abs(d)
    # the series below 0.01 (log(cosh d) itself rounds cosh d to 1 there)
    ref = np.where(a < 1e-2, d**2 / 2 - d**4 / 12 + d**6 / 45,
                   a + np.log1p(np.exp(-2 * a)) - np.log(2))
    np.testing.assert_allclose(np.array(got), ref, rtol=2e-15, atol=0)
    g = mx.grad(lambda a: F.log_cosh_loss(a, mx.zeros((9,), mx.float64), reduction="sum"))(
        mx.array(d, dtype=mx.float64))
    np.testing.assert_allclose(np.array(g), np.tanh(d), rtol=2e-15, atol=0)
    half = F.log_cosh_loss(x.astype(mx.float16), y.astype(mx.float16), reduction="mean")
    assert half.dtype == mx.float16


def test_cosine_similarity_loss_matches_mlx_nn_with_a_finite_gradient_at_zero():
    a, b = _x((4, 6)), _x((4, 6), 1)
    for red in ("none", "mean", "sum"):
        _close(F.cosine_similarity_loss(a, b, reduction=red),
               nn_losses.cosine_similarity_loss(a, b, reduction=red))
    a3, b3 = _x((2, 3, 5)), _x((2, 3, 5), 2)
    _close(F.cosine_similarity_loss(a3, b3, axis=-1, eps=0.5),
           nn_losses.cosine_similarity_loss(a3, b3, axis=-1, eps=0.5))
    zero = mx.zeros((1, 3))
    other = mx.array([[1.0, -2.0, 0.5]])
    g = mx.grad(lambda z: F.cosine_similarity_loss(z, other, reduction="sum"))(zero)
    _close(g, other / 1e-8, rtol=1e-6)  # d/dz (z . y / eps)
    assert F.cosine_similarity_loss(zero, other).tolist() == [0.0]


# --------------------------------------------------------------------------
# Modules


def test_contrastive_modules():
    q, k = _x((4, 3)), _x((4, 3), 1)
    assert repr(mlx_losses.InfoNCELoss(temperature=0.2)) == \
        "InfoNCELoss(reduction='mean', temperature=0.2, negative_mode='unpaired')"
    _close(mlx_losses.InfoNCELoss(temperature=0.2)(q, k), F.info_nce_loss(q, k, temperature=0.2))
    _close(mlx_losses.NTXentLoss(reduction="sum")(q, k), F.nt_xent_loss(q, k, reduction="sum"))
    _close(mlx_losses.ClipLoss()(q, k, 3.0), F.clip_loss(q, k, 3.0))
    _close(mlx_losses.SigLipLoss()(q, k, 3.0, -1.0), F.siglip_loss(q, k, 3.0, -1.0))
    f = _x((4, 2, 3))
    _close(mlx_losses.SupConLoss(temperature=0.5)(f, mx.array([0, 0, 1, 1])),
           F.supcon_loss(f, mx.array([0, 0, 1, 1]), temperature=0.5))
    _close(mlx_losses.LogCoshLoss()(q, k), F.log_cosh_loss(q, k))
    _close(mlx_losses.CosineSimilarityLoss(axis=-1, reduction="mean")(q, k),
           F.cosine_similarity_loss(q, k, axis=-1, reduction="mean"))
    for m in (mlx_losses.ClipLoss(), mlx_losses.SupConLoss()):
        assert m.parameters() == {}


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("call, err, text", [
    (lambda: F.info_nce_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), temperature=0.0), ValueError,
     "info_nce_loss: `temperature` must be > 0.0, got 0.0."),
    (lambda: F.info_nce_loss(mx.zeros((4,)), mx.zeros((4,))), ValueError,
     "info_nce_loss: `query` must be 2-D (N, D), got 1-D of shape (4,)."),
    (lambda: F.info_nce_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), mx.zeros((3, 2, 3)),
                             negative_mode="paired"), ValueError,
     "info_nce_loss: `negative_keys` must have 4 rows, one per query, with "
     "negative_mode='paired', got (3, 2, 3)."),
    (lambda: F.info_nce_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), mx.zeros((3, 2))), ValueError,
     "info_nce_loss: `negative_keys` must have 3 components, as `query`, got (3, 2)."),
    (lambda: F.info_nce_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), negative_mode="both"), ValueError,
     "info_nce_loss: `negative_mode` must be one of 'unpaired', 'paired', got 'both'."),
    (lambda: F.nt_xent_loss(mx.zeros((4, 3)), mx.zeros((3, 3))), ValueError,
     "nt_xent_loss: `z2` must have the shape of `z1`, (4, 3) (one row per pair), got (3, 3)."),
    (lambda: F.clip_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), -1.0), ValueError,
     "clip_loss: `logit_scale` must be > 0.0, got -1.0."),
    (lambda: F.clip_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), mx.array(0.0)), ValueError,
     "clip_loss: `logit_scale` must be > 0 (the inverse temperature), got 0.0."),
    (lambda: F.clip_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), mx.ones((2,))), ValueError,
     "clip_loss: `logit_scale` must be a number or a 0-D (or size-1) array, got (2,)."),
    (lambda: F.siglip_loss(mx.zeros((4, 3)), mx.zeros((4, 3)), 1.0, "b"), TypeError,
     "siglip_loss: `logit_bias` must be a number, got str."),
    (lambda: F.supcon_loss(mx.zeros((4, 3))), ValueError,
     "supcon_loss: `features` must be at least 3-D (N, V, ...): samples, views, features, got "
     "2-D of shape (4, 3)."),
    (lambda: F.supcon_loss(mx.zeros((4, 2, 3)), mx.zeros((5,), mx.int32)), ValueError,
     "supcon_loss: `labels` must have 4 entries, one per sample"),
    (lambda: F.supcon_loss(mx.zeros((4, 2, 3)), mask=mx.zeros((4, 3))), ValueError,
     "supcon_loss: `mask` must have shape (4, 4)"),
    (lambda: F.supcon_loss(mx.zeros((4, 2, 3)), mx.zeros((4,)), mx.zeros((4, 4))), ValueError,
     "supcon_loss: `mask` must be None when `labels` is given, got both `labels` and `mask`."),
    (lambda: F.supcon_loss(mx.zeros((4, 2, 3)), temperature=-0.1), ValueError,
     "supcon_loss: `temperature` must be > 0.0, got -0.1."),
    (lambda: F.supcon_loss(mx.zeros((4, 2, 3)), contrast_mode="two"), ValueError,
     "supcon_loss: `contrast_mode` must be one of 'all', 'one', got 'two'."),
    (lambda: F.log_cosh_loss(mx.zeros((3, 4)), mx.zeros((5,))), ValueError,
     "log_cosh_loss: `inputs` and `targets` must be broadcastable to one shape"),
    (lambda: F.log_cosh_loss(mx.zeros((3,), mx.int32), mx.zeros((3,))), TypeError,
     "log_cosh_loss: `inputs` must have a floating dtype, got int32."),
    (lambda: F.cosine_similarity_loss(mx.zeros((3, 4)), mx.zeros((3, 4)), axis=2), ValueError,
     "cosine_similarity_loss: `axis` must be in [-2, 2) for `x1` of shape (3, 4), got 2."),
    (lambda: F.cosine_similarity_loss(mx.zeros((3, 4)), mx.zeros((3, 4)), eps=-1.0), ValueError,
     "cosine_similarity_loss: `eps` must be >= 0.0, got -1.0."),
    (lambda: mlx_losses.InfoNCELoss(temperature=0), ValueError,
     "InfoNCELoss: `temperature` must be > 0.0, got 0."),
    (lambda: mlx_losses.SupConLoss(base_temperature=-1.0), ValueError,
     "SupConLoss: `base_temperature` must be > 0.0, got -1.0."),
])
def test_bad_input_messages(call, err, text):
    with pytest.raises(err) as info:
        call()
    assert text in str(info.value)


def test_scale_check_skips_under_compile_and_when_switched_off():
    i, t = _x((3, 2)), _x((3, 2), 1)
    with mlx_losses.value_checks(False):
        assert np.isfinite(F.clip_loss(i, t, mx.array(-1.0)).item())
    out = mx.compile(lambda s: F.clip_loss(i, t, s))(mx.array(-1.0))
    assert np.isfinite(out.item())
    assert math.isfinite(F.clip_loss(i, t, mx.array([2.0])).item())
