"""Unit tests for the preference losses (no torch): identities, the fused
forms against the unfused ones, the custom VJP of sequence_log_probs
against autodiff, errors, Modules, determinism."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import LinearCrossEntropyOptions, PreferenceLossOutput
from mlx_losses import functional as F
from mlx_losses._validation import ShapeError
from mlx_losses._numerics import logsumexp

B, T, H, V = 3, 6, 8, 37
SMALL_TILES = LinearCrossEntropyOptions(batch_chunk_size=5, vocab_chunk_size=8)


def _logps(seed, n=B, lo=-9.0, hi=-0.5, dtype=mx.float32):
    rng = np.random.default_rng(seed)
    return mx.array(rng.uniform(lo, hi, size=n)).astype(dtype)


def _close(a, b, rtol=2e-5, atol=2e-6):
    a = np.array(a.astype(mx.float32)) if isinstance(a, mx.array) else np.asarray(a)
    b = np.array(b.astype(mx.float32)) if isinstance(b, mx.array) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- sequence_log_probs


def _plain_seq(x, t, m):
    ls = x - logsumexp(x, axis=-1, keepdims=True)  # float64-accurate, autodiff
    safe = mx.where(m, t, 0)
    lp = mx.take_along_axis(ls, mx.expand_dims(safe, -1), axis=-1).squeeze(-1)
    return mx.sum(mx.where(m, lp, 0.0), axis=-1)


def test_sequence_log_probs_uniform_logits_and_average():
    targets = mx.array([[1, 2, -100, 3], [0, -100, -100, -100]])
    out = F.sequence_log_probs(mx.zeros((2, 4, 5)), targets)
    _close(out, [-3 * math.log(5), -math.log(5)])
    avg = F.sequence_log_probs(mx.zeros((2, 4, 5)), targets, average=True)
    _close(avg, [-math.log(5), -math.log(5)])
    # a mask on top of ignore_index; a sequence with nothing counted: 0, and NaN averaged
    mask = mx.array([[1, 0, 1, 1], [0, 0, 0, 0]])
    out = F.sequence_log_probs(mx.zeros((2, 4, 5)), targets, mask)
    _close(out, [-2 * math.log(5), 0.0])
    assert math.isnan(F.sequence_log_probs(mx.zeros((2, 4, 5)), targets, mask, average=True)[1].item())



def test_sequence_log_probs_refuses_a_shapeless_compile():
    # Regression: MLX's "CustomTransforms cannot infer output shapes" came
    # out instead of the package's refusal (positional, keyword, with a mask)
    x, t, m = mx.zeros((2, 4, 5)), mx.array([[1, 2, -100, 3], [0, 4, 4, 1]]), mx.ones((2, 4))
    calls = [lambda a, b, c: F.sequence_log_probs(a, b),
             lambda a, b, c: F.sequence_log_probs(logits=a, targets=b, mask=c, average=True)]
    for call in calls:
        with pytest.raises(ValueError, match=r"^sequence_log_probs: `mx.compile` must not be shapeless"):
            mx.eval(mx.compile(call, shapeless=True)(x, t, m))
        _close(mx.compile(call)(x, t, m), call(x, t, m))


def test_sequence_log_probs_of_no_tokens():
    # Regression: T = 0 (or an empty batch) raised MLX's "[logsumexp]
    # Received empty array"; a sum over no tokens is 0, its average 0 / 0
    for shape in [(2, 0, 5), (0, 3, 5)]:
        x, t = mx.zeros(shape), mx.zeros(shape[:-1], mx.int32)
        out = F.sequence_log_probs(x, t)
        assert out.shape == shape[:1] and np.array(out).tolist() == [0.0] * shape[0]
        assert np.isnan(np.array(F.sequence_log_probs(x, t, average=True))).all()
        assert mx.grad(lambda a: F.sequence_log_probs(a, t).sum())(x).shape == shape

@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_sequence_log_probs_vjp_matches_autodiff_and_shift_invariance(dtype):
    mx.random.seed(3)
    x = (3 * mx.random.normal((2, 4, 5, 11))).astype(dtype)
    t = mx.random.randint(0, 11, (2, 4, 5))
    m = mx.random.uniform(shape=(2, 4, 5)) > 0.3
    cot = mx.random.normal((2, 4)).astype(dtype)
    (o1,), (g1,) = mx.vjp(lambda a: F.sequence_log_probs(a, t, m), [x], [cot])
    (o2,), (g2,) = mx.vjp(lambda a: _plain_seq(a, t, m), [x], [cot])
    tol = 1e-12 if dtype == mx.float64 else 2e-5
    _close(o1, o2, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.array(g1), np.array(g2), rtol=tol, atol=tol)
    shifted = F.sequence_log_probs(x + 7.0, t, m)
    _close(shifted, o1, rtol=tol * 10, atol=tol * 10)


def test_sequence_log_probs_half_accumulates_in_float32():
    mx.random.seed(0)
    x = mx.random.normal((2, 64, 300))
    t = mx.random.randint(0, 300, (2, 64))
    want = _plain_seq(x.astype(mx.bfloat16).astype(mx.float32), t, mx.ones(t.shape, mx.bool_))
    got = F.sequence_log_probs(x.astype(mx.bfloat16), t)
    assert got.dtype == mx.bfloat16
    _close(got, want, rtol=8e-3)  # one bfloat16 rounding of the sum
    g = mx.grad(lambda a: mx.sum(F.sequence_log_probs(a, t)))(x.astype(mx.bfloat16))
    assert g.dtype == mx.bfloat16


def test_sequence_log_probs_out_of_range_target():
    x, t = mx.zeros((1, 3, 4)), mx.array([[0, 4, 1]])
    with pytest.raises(ValueError, match=r"sequence_log_probs: `targets` must hold class indices in \[0, 4\)"):
        F.sequence_log_probs(x, t)
    with mlx_losses.value_checks(False):  # never a read outside: NaN
        assert math.isnan(F.sequence_log_probs(x, t).item())
        assert math.isnan(mx.compile(F.sequence_log_probs)(x, t).item())
    # a masked-out position may hold anything (padding)
    assert F.sequence_log_probs(x, t, mx.array([[1, 0, 1]])).item() == pytest.approx(-2 * math.log(4))


# ---------------------------------------------------------------- dpo


def _four(seed=0, n=B, dtype=mx.float32):
    return [_logps(seed + i, n, dtype=dtype) for i in range(4)]


@pytest.mark.parametrize("loss_type,want", [
    ("sigmoid", math.log(2)), ("robust", math.log(2)), ("hinge", 1.0), ("ipo", 1.0 / 0.36),
    ("exo_pair", None), ("nca_pair", 2 * math.log(2)), ("sppo_hard", 2 / 0.36),
    ("apo_zero", 1.0), ("apo_down", 1.0),
])
def test_dpo_policy_equal_to_reference(loss_type, want):
    lp = _logps(0)
    lr = _logps(1)
    eps = {"robust": 0.2, "exo_pair": 0.1}.get(loss_type, 0.0)
    out = F.dpo_loss(lp, lr, lp, lr, beta=0.3, loss_type=loss_type, label_smoothing=eps,
                     reduction="none")
    if want is None:  # EXO at a zero margin: KL([1/2, 1/2] || [1 - eps, eps])
        want = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    _close(out.loss, [want] * B, rtol=1e-6)
    _close(out.reward_margins, [0.0] * B)
    _close(out.reward_accuracy, [0.0] * B)


def test_dpo_rewards_reductions_and_smoothing_symmetry():
    pc, pr, rc, rr = _four(1)
    out = F.dpo_loss(pc, pr, rc, rr, beta=0.2, reduction="none")
    _close(out.chosen_rewards, 0.2 * (pc - rc))
    _close(out.rejected_rewards, 0.2 * (pr - rr))
    _close(out.reward_margins, out.chosen_rewards - out.rejected_rewards)
    _close(out.reward_accuracy, (out.chosen_rewards > out.rejected_rewards).astype(mx.float32))
    _close(F.dpo_loss(pc, pr, rc, rr, beta=0.2).loss, mx.mean(out.loss))
    _close(F.dpo_loss(pc, pr, rc, rr, beta=0.2, reduction="sum").loss, mx.sum(out.loss))
    # cDPO: flipping the pair is flipping the label noise
    a = F.dpo_loss(pc, pr, rc, rr, label_smoothing=0.3, reduction="none").loss
    b = F.dpo_loss(pr, pc, rr, rc, label_smoothing=0.7, reduction="none").loss
    _close(a, b, rtol=1e-6)
    # robust at eps = 0 is plain DPO
    _close(F.dpo_loss(pc, pr, rc, rr, loss_type="robust").loss, F.dpo_loss(pc, pr, rc, rr).loss)


def test_dpo_ipo_lengths_normalise_the_log_ratios():
    pc, pr, rc, rr = _four(2)
    lc, lr = mx.array([3, 5, 1]), mx.array([4, 2, 7])
    with_len = F.dpo_loss(pc, pr, rc, rr, loss_type="ipo", chosen_lengths=lc, rejected_lengths=lr)
    # per-token log-ratios: the same as averaged inputs (no clamp triggered)
    avg = F.dpo_loss(pc / lc, pr / lr, rc / lc, rr / lr, loss_type="ipo")
    _close(with_len.loss, avg.loss, rtol=1e-6)
    # zero lengths are clamped at 1 (TRL)
    z = mx.zeros((3,), mx.int32)
    _close(F.dpo_loss(pc, pr, rc, rr, loss_type="ipo", chosen_lengths=z, rejected_lengths=z).loss,
           F.dpo_loss(pc, pr, rc, rr, loss_type="ipo").loss)


def test_dpo_gradient_is_the_sigmoid_of_the_margin():
    pc, pr, rc, rr = _four(3)
    g = mx.grad(lambda a: F.dpo_loss(a, pr, rc, rr, beta=0.5, reduction="sum").loss)(pc)
    z = 0.5 * ((pc - rc) - (pr - rr))
    _close(g, -0.5 * mx.sigmoid(-z), rtol=1e-6)


# ---------------------------------------------------------------- orpo, simpo, kto


def test_orpo_identities():
    pc, pr = _logps(4, lo=-3.0, hi=-0.05), _logps(5, lo=-3.0, hi=-0.05)
    out = F.orpo_loss(pc, pc, beta=0.3, nll_loss=0.0, reduction="none")
    _close(out.loss, [0.3 * math.log(2)] * B, rtol=1e-6)
    # default NLL: the chosen sequences' own; with lengths, the token mean
    plain = F.orpo_loss(pc, pr, beta=0.3, reduction="none")
    _close(plain.loss, F.orpo_loss(pc, pr, beta=0.3, nll_loss=-pc, reduction="none").loss)
    lc, lr = mx.array([2, 3, 5]), mx.array([4, 1, 2])
    summed = F.orpo_loss(pc * lc, pr * lr, beta=0.3, chosen_lengths=lc, rejected_lengths=lr)
    token_mean = -mx.sum(pc * lc) / mx.sum(lc)
    _close(summed.loss, F.orpo_loss(pc, pr, beta=0.3, nll_loss=token_mean).loss, rtol=1e-6)
    # odds: log(p / (1 - p)) on both sides of TRL's branch point
    p = mx.array([-0.01, -0.5, -0.7, -4.0])
    q = mx.array([-4.0, -0.7, -0.5, -0.01])
    odds = lambda v: v - mx.log(-mx.expm1(v.astype(mx.float64)))  # noqa: E731
    want = 0.1 * mx.logaddexp(0, -(odds(p) - odds(q))) + 0.0
    _close(F.orpo_loss(p, q, nll_loss=0.0, reduction="none").loss, want, rtol=1e-5)
    assert out.chosen_rewards.shape == (B,)


def test_simpo_margin_and_lengths():
    pc = _logps(6)
    out = F.simpo_loss(pc, pc - 0.25, beta=2.0, gamma=0.5, reduction="none")
    _close(out.loss, [math.log(2)] * B, rtol=1e-6)  # 2 * 0.25 - 0.5 = 0
    lc, lr = mx.array([2, 3, 4]), mx.array([3, 3, 1])
    a = F.simpo_loss(pc * lc, (pc - 0.1) * lr, chosen_lengths=lc, rejected_lengths=lr)
    b = F.simpo_loss(pc, pc - 0.1)
    _close(a.loss, b.loss, rtol=1e-6)
    _close(out.chosen_rewards, 2.0 * pc)


def test_kto_identities_and_kl_clamp():
    p, r = _logps(7, 4), _logps(8, 4)
    labels = mx.array([True, False, True, False])
    out = F.kto_loss(p, p, labels, desirable_weight=2.0, undesirable_weight=0.5, reduction="none")
    _close(out.loss, [1.0, 0.25, 1.0, 0.25])
    # a negative KL estimate is clamped at 0; its gradient is none
    a = F.kto_loss(p, r, labels, kl=mx.array(-3.0)).loss
    _close(a, F.kto_loss(p, r, labels).loss)
    g = mx.grad(lambda k: F.kto_loss(p, r, labels, kl=k).loss)(mx.array(0.7))
    assert g.item() == 0.0
    out = F.kto_loss(p, r, labels, kl=0.4, beta=0.5, reduction="none")
    lr = p - r
    _close(out.reward_margins, mx.where(labels, 0.5 * (lr - 0.4), 0.5 * (0.4 - lr)))
    _close(out.chosen_rewards, mx.where(labels, 0.5 * lr, 0.0))
    _close(out.rejected_rewards, mx.where(labels, 0.0, 0.5 * lr))
    _close(out.loss, 1 - mx.sigmoid(out.reward_margins), rtol=1e-6)


# ---------------------------------------------------------------- fused == unfused


def _head(seed=0, dtype=mx.float32, n=2 * B):
    mx.random.seed(seed)
    h = mx.random.normal((n, T, H)).astype(dtype)
    hr = mx.random.normal((n, T, H)).astype(dtype)
    w = (0.5 * mx.random.normal((V, H))).astype(dtype)
    b = (0.5 * mx.random.normal((V,))).astype(dtype)
    t = mx.random.randint(0, V, (n, T))
    t = mx.where(mx.arange(T) < 2, -100, t)  # a prompt
    mask = mx.random.uniform(shape=(n, T)) > 0.15
    return h, hr, w, b, t, mask


def _unfused(name, h, w, b, t, mask, hr, **kw):
    counted = mask & (t != -100)
    lp = F.sequence_log_probs(h @ w.T + b, t, counted)
    n = mx.sum(counted, axis=-1)
    rl = mx.stop_gradient(F.sequence_log_probs(hr @ w.T + b, t, counted))
    Bp = h.shape[0] // 2
    if name == "dpo":
        lens = {"chosen_lengths": n[:Bp], "rejected_lengths": n[Bp:]} if kw.get("loss_type") == "ipo" else {}
        return F.dpo_loss(lp[:Bp], lp[Bp:], rl[:Bp], rl[Bp:], **lens, **kw)
    if name == "orpo":
        return F.orpo_loss(lp[:Bp], lp[Bp:], chosen_lengths=n[:Bp], rejected_lengths=n[Bp:], **kw)
    if name == "simpo":
        return F.simpo_loss(lp[:Bp] / n[:Bp], lp[Bp:] / n[Bp:], **kw)
    labels = mx.arange(h.shape[0]) % 3 == 0
    return F.kto_loss(lp, rl, labels, kl=0.2, **kw)


def _fused(name, h, w, b, t, mask, hr, **kw):
    opts = SMALL_TILES
    if name == "dpo":
        return F.fused_linear_dpo_loss(h, w, t, bias=b, mask=mask, ref_input=hr, options=opts, **kw)
    if name == "orpo":
        return F.fused_linear_orpo_loss(h, w, t, bias=b, mask=mask, options=opts, **kw)
    if name == "simpo":
        return F.fused_linear_simpo_loss(h, w, t, bias=b, mask=mask, options=opts, **kw)
    labels = mx.arange(h.shape[0]) % 3 == 0
    return F.fused_linear_kto_loss(h, w, t, labels, bias=b, mask=mask, ref_input=hr, kl=0.2,
                                   options=opts, **kw)


FUSED = [
    ("dpo", {"beta": 0.3, "label_smoothing": 0.1}),
    ("dpo", {"loss_type": "ipo", "beta": 0.5}),
    ("dpo", {"loss_type": "hinge", "reduction": "none"}),
    ("orpo", {"beta": 0.2}),
    ("simpo", {"beta": 2.0, "gamma": 0.3, "reduction": "sum"}),
    ("kto", {"desirable_weight": 1.5}),
]


@pytest.mark.parametrize("name,kw", FUSED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FUSED)])
def test_fused_matches_unfused_values_and_gradients(name, kw):
    h, hr, w, b, t, mask = _head(1)

    def val(fn):
        def f(h, w, b):
            out = fn(name, h, w, b, t, mask, hr, **kw)
            return mx.sum(out.loss * mx.arange(1, out.loss.size + 1)), out
        return f

    (v1, o1), g1 = mx.value_and_grad(val(_fused), argnums=(0, 1, 2))(h, w, b)
    (v2, o2), g2 = mx.value_and_grad(val(_unfused), argnums=(0, 1, 2))(h, w, b)
    _close(v1, v2, rtol=2e-5)
    for a, c in zip(o1[1:], o2[1:]):
        _close(a, c, rtol=2e-5, atol=1e-5)
    for a, c in zip(g1, g2):
        _close(a, c, rtol=1e-4, atol=1e-5)


def test_fused_reference_side_has_no_gradient_and_ref_logps_agree():
    h, hr, w, b, t, mask = _head(2)
    wr = 0.5 * mx.random.normal((V, H))

    def f(hr, wr):
        return F.fused_linear_dpo_loss(h, w, t, bias=b, ref_input=hr, ref_weight=wr, options=SMALL_TILES).loss

    g = mx.grad(f, argnums=(0, 1))(hr, wr)
    assert all(mx.all(x == 0).item() for x in g)
    ref = F.sequence_log_probs(hr @ wr.T, t)
    a = F.fused_linear_dpo_loss(h, w, t, bias=b, ref_input=hr, ref_weight=wr)
    c = F.fused_linear_dpo_loss(h, w, t, bias=b, ref_logps=ref)
    _close(a.loss, c.loss, rtol=1e-5)
    # no reference at all: reference-free (zeros), as Liger's
    free = F.fused_linear_dpo_loss(h, w, t, bias=b)
    _close(free.loss, F.fused_linear_dpo_loss(h, w, t, bias=b, ref_logps=mx.zeros((2 * B,))).loss)


def test_fused_bfloat16_and_compiled():
    h, hr, w, b, t, mask = _head(3)
    f = lambda h, w: F.fused_linear_dpo_loss(h, w, t, ref_input=hr.astype(h.dtype), options=SMALL_TILES).loss  # noqa: E731
    want = f(h, w)
    got = f(h.astype(mx.bfloat16), w.astype(mx.bfloat16))
    assert got.dtype == mx.bfloat16
    _close(got, want, rtol=3e-2)
    _close(mx.compile(f)(h, w), want, rtol=1e-6)
    g1 = mx.grad(f, argnums=(0, 1))(h, w)
    g2 = mx.compile(mx.grad(f, argnums=(0, 1)))(h, w)
    for a, c in zip(g1, g2):
        _close(a, c, rtol=1e-5, atol=1e-6)


def test_fused_empty_completion_nan_loss_and_no_gradient_to_its_tokens():
    # SimPO's 0 / 0 average of an empty completion is NaN, as TRL's; its
    # tokens get a zero gradient (torch's where), not NaN through the mask
    h, hr, w, b, t, mask = _head(5)
    mask = mask.at[1].multiply(False)
    cot = mx.ones((B,))
    (out,), (gh,) = mx.vjp(lambda a: F.fused_linear_simpo_loss(
        a, w, t, mask=mask, reduction="none", options=SMALL_TILES).loss, [h], [cot])
    assert math.isnan(out[1].item()) and mx.all(mx.isfinite(out[mx.array([0, 2])])).item()
    assert mx.all(gh[1] == 0).item()
    counted = (mask[B + 1] & (t[B + 1] != -100))[:, None]
    assert mx.all(mx.where(counted, mx.isnan(gh[B + 1]), gh[B + 1] == 0)).item()  # NaN pair: as torch
    assert mx.all(mx.isfinite(gh[mx.array([0, 2, B, B + 2])])).item()


# ---------------------------------------------------------------- quantized heads, logit transforms, precision


def _qhead(seed, mode="affine", group_size=64, bits=4, v=V, hidden=64):
    w = 0.3 * mx.random.normal((v, hidden), key=mx.random.key(seed))
    return mlx_losses.QuantizedWeight(*mx.quantize(w, group_size, bits, mode=mode),
                                      group_size=group_size, bits=bits, mode=mode)


@pytest.mark.parametrize("name,mode,group_size,bits", [
    ("dpo", "affine", 64, 4), ("orpo", "mxfp4", 32, 4), ("kto", "affine", 32, 8),
])
def test_fused_quantized_heads_match_the_dequantized_head(name, mode, group_size, bits):
    # policy and reference heads quantized (any MLX quantization): the same
    # values and input gradient as the dequantized float heads, the bias trains
    mx.random.seed(21)
    h, hr = mx.random.normal((2 * B, T, 64)), mx.random.normal((2 * B, T, 64))
    b = 0.5 * mx.random.normal((V,))
    t = mx.where(mx.arange(T) < 2, -100, mx.random.randint(0, V, (2 * B, T)))
    qw, qr = _qhead(1, mode, group_size, bits), _qhead(2, mode, group_size, bits)
    labels = mx.arange(2 * B) % 3 == 0

    def loss(w, wr):
        def f(h, b):
            kw = dict(bias=b, options=SMALL_TILES, reduction="none", softcap=4.0)
            if name == "orpo":
                out = F.fused_linear_orpo_loss(h, w, t, **kw)
            elif name == "dpo":
                out = F.fused_linear_dpo_loss(h, w, t, ref_input=hr, ref_weight=wr, ref_bias=b, **kw)
            else:
                out = F.fused_linear_kto_loss(h, w, t, labels, ref_input=hr, ref_weight=wr, **kw)
            return mx.sum(out.loss * mx.arange(1, out.loss.size + 1)), out
        return f

    (v1, o1), g1 = mx.value_and_grad(loss(qw, qr), argnums=(0, 1))(h, b)
    deq = [q.dequantize(mx.float32) for q in (qw, qr)]
    (v2, o2), g2 = mx.value_and_grad(loss(*deq), argnums=(0, 1))(h, b)
    _close(v1, v2, rtol=1e-5)
    for a, c in zip([*o1[1:], *g1], [*o2[1:], *g2]):
        _close(a, c, rtol=1e-4, atol=1e-6)


def test_fused_quantized_head_is_frozen_with_the_arguments_name():
    mx.random.seed(22)
    h = mx.random.normal((2 * B, T, 64))
    t = mx.random.randint(0, V, (2 * B, T))
    qw = _qhead(3)

    def f(scales, h):
        w = mlx_losses.QuantizedWeight(qw.weight, scales, qw.biases)
        return F.fused_linear_simpo_loss(h, w, t, options=SMALL_TILES).loss

    assert mx.grad(f, argnums=1)(qw.scales, h).shape == h.shape
    with pytest.raises(ValueError, match=r"fused_linear_simpo_loss: `weight` must be frozen when it is a "
                                         r"QuantizedWeight .*got a gradient w.r.t. it"):
        mx.grad(f)(qw.scales, h)
    # the reference head never has a gradient: no error, zeros
    g = mx.grad(lambda s: F.fused_linear_dpo_loss(
        h, qw.dequantize(), t, ref_input=h,
        ref_weight=mlx_losses.QuantizedWeight(qw.weight, s, qw.biases)).loss)(qw.scales)
    assert mx.all(g == 0).item()


def test_fused_logit_transform_is_the_models():
    # softcap / logit_scale on the policy's and the reference's logits, as
    # sequence_log_probs on the transformed logits (values and gradients)
    h, hr, w, b, t, mask = _head(23)
    cap, scale = 2.5, 1.7

    def transformed(x, w, b):
        return cap * mx.tanh(scale * (x @ w.T + b) / cap)

    def fused(h, w, b):
        return F.fused_linear_dpo_loss(h, w, t, bias=b, mask=mask, ref_input=hr, options=SMALL_TILES,
                                       softcap=cap, logit_scale=scale, reduction="none").loss

    def plain(h, w, b):
        counted = mask & (t != -100)
        lp = F.sequence_log_probs(transformed(h, w, b), t, counted)
        rl = mx.stop_gradient(F.sequence_log_probs(transformed(hr, w, b), t, counted))
        return F.dpo_loss(lp[:B], lp[B:], rl[:B], rl[B:], reduction="none").loss

    cot = mx.array([0.3, -1.2, 2.0])
    (o1,), g1 = mx.vjp(fused, [h, w, b], [cot])
    (o2,), g2 = mx.vjp(plain, [h, w, b], [cot])
    _close(o1, o2, rtol=2e-5)
    for a, c in zip(g1, g2):
        _close(a, c, rtol=1e-4, atol=1e-6)
    m = mlx_losses.FusedLinearDPOLoss(softcap=cap, logit_scale=scale, options=SMALL_TILES, reduction="none")
    assert "softcap=2.5, logit_scale=1.7" in repr(m)
    _close(m(h, w, t, bias=b, mask=mask, ref_input=hr).loss, o1)


def test_fused_half_inputs_sum_token_log_probs_in_float32():
    # long completions with large per-token losses: rounding each token's
    # log-probability to bfloat16 (ulp 1/16 at 10) would move the summed
    # log-ratios by more than the margins' own bfloat16 rounding
    mx.random.seed(24)
    n, length, hidden, vocab = 4, 256, 16, 512
    h = mx.random.normal((n, length, hidden)).astype(mx.bfloat16)
    hr = (h.astype(mx.float32) + 0.05 * mx.random.normal(h.shape)).astype(mx.bfloat16)
    w = (2.0 * mx.random.normal((vocab, hidden))).astype(mx.bfloat16)
    t = mx.random.randint(0, vocab, (n, length))
    opts = LinearCrossEntropyOptions(batch_chunk_size=128, vocab_chunk_size=128)
    f = lambda *a: F.fused_linear_dpo_loss(*a[:2], t, ref_input=a[2], beta=1.0, options=opts)  # noqa: E731
    half = f(h, w, hr)
    full = f(*(a.astype(mx.float32) for a in (h, w, hr)))  # the same numbers, float32 throughout
    assert half.reward_margins.dtype == mx.bfloat16
    assert mx.all(mx.abs(full.reward_margins) > 1.0).item()  # margins well above bfloat16's ulp
    _close(half.reward_margins, full.reward_margins, rtol=2 ** -8, atol=1e-6)
    _close(half.loss, full.loss, rtol=2 ** -8)


# ---------------------------------------------------------------- errors


def _raises(err, pattern, fn, *args, **kw):
    with pytest.raises(err, match=pattern):
        fn(*args, **kw)


def test_errors_name_the_argument():
    pc, pr, rc, rr = _four(0)
    short = _logps(9, 2)
    _raises(ShapeError, r"dpo_loss: `policy_rejected_logps` must have the shape of `policy_chosen_logps`, "
            r"\(3,\), got \(2,\)", F.dpo_loss, pc, short, rc, rr)
    _raises(ValueError, r"dpo_loss: `ref_chosen_logps` must hold log-probabilities \(<= 0\), got a positive",
            F.dpo_loss, pc, pr, -rc, rr)
    _raises(ValueError, r"dpo_loss: `loss_type` must be one of 'sigmoid'.*got 'dpo'", F.dpo_loss,
            pc, pr, rc, rr, loss_type="dpo")
    _raises(ValueError, r"`label_smoothing` must be in \[0, 0.5\) for loss_type='robust', got 0.5",
            F.dpo_loss, pc, pr, rc, rr, loss_type="robust", label_smoothing=0.5)
    _raises(ValueError, r"`label_smoothing` must be 0 for loss_type='hinge'", F.dpo_loss, pc, pr, rc, rr,
            loss_type="hinge", label_smoothing=0.1)
    _raises(ValueError, r"`label_smoothing` must be in \(0, 1\) for loss_type='exo_pair', got 0.0",
            F.dpo_loss, pc, pr, rc, rr, loss_type="exo_pair")
    _raises(ValueError, r"`chosen_lengths` must be None unless loss_type='ipo'", F.dpo_loss, pc, pr, rc, rr,
            chosen_lengths=mx.ones((3,)), rejected_lengths=mx.ones((3,)))
    _raises(ValueError, r"dpo_loss: `beta` must be > 0.0, got 0", F.dpo_loss, pc, pr, rc, rr, beta=0)
    _raises(TypeError, r"dpo_loss: `policy_chosen_logps` must have a floating dtype, got int32",
            F.dpo_loss, mx.array([-1, -2, -3]), pr, rc, rr)
    _raises(ShapeError, r"orpo_loss: `policy_chosen_logps` must be 1-D", F.orpo_loss, pc[None], pr[None])
    _raises(ValueError, r"simpo_loss: `policy_rejected_logps` must hold log-probabilities",
            F.simpo_loss, pc, mx.array([-1.0, 0.5, -2.0]))
    _raises(ShapeError, r"kto_loss: `labels` must have the shape of `policy_logps`", F.kto_loss,
            pc, rc, mx.array([1, 0]))
    _raises(ShapeError, r"kto_loss: `kl` must be a scalar", F.kto_loss, pc, rc, mx.array([1, 0, 1]),
            kl=mx.zeros((2,)))
    h, hr, w, b, t, mask = _head(0)
    _raises(ShapeError, r"fused_linear_dpo_loss: `mask` must have the shape of `target`, \(6, 6\), got \(6, 5\)",
            F.fused_linear_dpo_loss, h, w, t, mask=mask[:, :5])
    _raises(ShapeError, r"fused_linear_dpo_loss: `input` must have an even batch", F.fused_linear_dpo_loss,
            h[:5], w, t[:5])
    _raises(ShapeError, r"`weight` must have shape \(vocab, 8\)", F.fused_linear_simpo_loss, h, w[:, :5], t)
    _raises(ShapeError, r"`ref_weight` must have the vocabulary of `weight`, 37, got 30",
            F.fused_linear_dpo_loss, h, w, t, ref_input=hr, ref_weight=w[:30])
    _raises(ValueError, r"`ref_logps` must be None when `ref_input` is given", F.fused_linear_dpo_loss,
            h, w, t, ref_input=hr, ref_logps=mx.zeros((6,)))
    _raises(ValueError, r"fused_linear_orpo_loss: `target` must hold class indices in \[0, 37\)",
            F.fused_linear_orpo_loss, h, w, mx.where(t == -100, 37, t))
    _raises(TypeError, r"fused_linear_dpo_loss: `weight` must have the dtype of `input`, float32 \(any "
            r"floating dtype for a float16 / bfloat16 input accumulating in float32\), got bfloat16",
            F.fused_linear_dpo_loss, h, w.astype(mx.bfloat16), t)
    _raises(ValueError, r"fused_linear_orpo_loss: `softcap` must be > 0.0, got 0", F.fused_linear_orpo_loss,
            h, w, t, softcap=0)
    _raises(ValueError, r"sequence_log_probs: `mask` must have the shape of `targets`",
            F.sequence_log_probs, mx.zeros((2, 3, 4)), mx.zeros((2, 3), mx.int32), mx.ones((3, 2)))
    _raises(ValueError, r"`loss_type` must be one of", mlx_losses.DPOLoss, loss_type="kto")


# ---------------------------------------------------------------- modules, group, transforms


def test_modules_call_the_functions():
    pc, pr, rc, rr = _four(5)
    m = mlx_losses.DPOLoss(beta=0.2, loss_type="robust", label_smoothing=0.1, reduction="sum")
    assert repr(m) == "DPOLoss(beta=0.2, loss_type='robust', label_smoothing=0.1, reduction='sum')"
    _close(m(pc, pr, rc, rr).loss, F.dpo_loss(pc, pr, rc, rr, beta=0.2, loss_type="robust",
                                              label_smoothing=0.1, reduction="sum").loss)
    _close(mlx_losses.SimPOLoss(gamma=0.1)(pc, pr).loss, F.simpo_loss(pc, pr, gamma=0.1).loss)
    _close(mlx_losses.ORPOLoss()(pc, pr).loss, F.orpo_loss(pc, pr).loss)
    labels = mx.array([1, 0, 1])
    _close(mlx_losses.KTOLoss(beta=0.3)(pc, rc, labels, kl=0.1).loss,
           F.kto_loss(pc, rc, labels, kl=0.1, beta=0.3).loss)
    h, hr, w, b, t, mask = _head(4)
    fm = mlx_losses.FusedLinearDPOLoss(loss_type="ipo", options=SMALL_TILES)
    assert "loss_type='ipo'" in repr(fm) and "options=LinearCrossEntropyOptions(" in repr(fm)
    _close(fm(h, w, t, bias=b, ref_input=hr).loss,
           F.fused_linear_dpo_loss(h, w, t, bias=b, ref_input=hr, loss_type="ipo").loss, rtol=1e-5)
    assert mlx_losses.FusedLinearKTOLoss().parameters() == {}


def test_named_result_under_value_and_grad_group_and_shapeless_compile():
    pc, pr, rc, rr = _four(6)
    (loss, out), g = mx.value_and_grad(lambda a: (lambda o: (o.loss, o))(F.dpo_loss(a, pr, rc, rr)))(pc)
    assert isinstance(out, PreferenceLossOutput) and g.shape == (B,)
    got = F.dpo_loss(pc, pr, rc, rr, group=None)
    assert isinstance(got, PreferenceLossOutput)
    assert isinstance(mx.compile(lambda *a: F.dpo_loss(*a))(pc, pr, rc, rr), PreferenceLossOutput)
    fn = mx.compile(lambda *a: F.dpo_loss(*a).loss, shapeless=True)
    with pytest.raises(ValueError):
        mx.eval(fn(pc, pr, rc, rr))


# ---------------------------------------------------------------- determinism


def _det_cases():
    pc, pr, rc, rr = _four(11)
    h, hr, w, b, t, mask = _head(12)
    labels = mx.arange(2 * B) % 2 == 0
    x = mx.random.normal((2, T, V))
    tt = mx.random.randint(0, V, (2, T))
    return {
        "sequence_log_probs": ([x], lambda x: mx.sum(F.sequence_log_probs(x, tt))),
        "dpo_loss": ([pc, pr], lambda a, c: F.dpo_loss(a, c, rc, rr, label_smoothing=0.1).loss),
        "orpo_loss": ([pc, pr], lambda a, c: F.orpo_loss(a / 10, c / 10).loss),
        "simpo_loss": ([pc, pr], lambda a, c: F.simpo_loss(a, c).loss),
        "kto_loss": ([pc], lambda a: F.kto_loss(a, rc, mx.array([1, 0, 1]), kl=0.1).loss),
        "fused_linear_dpo_loss": ([h, w, b], lambda h, w, b: F.fused_linear_dpo_loss(
            h, w, t, bias=b, ref_input=hr, options=SMALL_TILES).loss),
        "fused_linear_orpo_loss": ([h, w], lambda h, w: F.fused_linear_orpo_loss(h, w, t, mask=mask).loss),
        "fused_linear_simpo_loss": ([h, w], lambda h, w: F.fused_linear_simpo_loss(h, w, t).loss),
        "fused_linear_kto_loss": ([h, w], lambda h, w: F.fused_linear_kto_loss(
            h, w, t, labels, ref_input=hr, kl=0.3).loss),
    }


@pytest.mark.parametrize("name", list(_det_cases()))
def test_bitwise_deterministic_and_finite(name):
    args, f = _det_cases()[name]
    runs = []
    for _ in range(2):
        v, g = mx.value_and_grad(f, argnums=tuple(range(len(args))))(*args)
        mx.eval(v, g)
        runs.append([np.array(v)] + [np.array(x) for x in g])
    for a, c in zip(*runs):
        assert np.isfinite(a).all()
        assert a.tobytes() == c.tobytes()
