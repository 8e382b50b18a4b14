"""CTC loss without torch: brute-force alignments, the custom VJP against
autodiff of a plain recursion, layouts, Module, transforms, errors."""

import itertools
import math
import os
import sys

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F
from mlx_losses._validation import ShapeError, ValueCheckError


def _logits(shape, seed=0, dtype=mx.float64):
    rng = np.random.default_rng(seed)
    return mx.array(rng.normal(size=shape), dtype=mx.float64).astype(dtype)


def _f64(x):
    return mx.array(np.asarray(x, dtype=np.float64), dtype=mx.float64)


def _log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _brute_force_nll(lp, target, blank):
    """-log of the summed probability of every path that collapses to target."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        collapsed = [k for k in collapsed if k != blank]
        if collapsed == list(target):
            total += math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _exp64(x):
    return mx.power(mx.array(math.e, dtype=x.dtype), x)


def _lse(terms):
    m = terms[0]
    for t in terms[1:]:
        m = mx.maximum(m, t)
    m = mx.stop_gradient(mx.where(mx.isinf(m), 0.0, m))
    return m + mx.log(sum(_exp64(t - m) for t in terms))


def _reference_nll(lp, targets, input_lengths, target_lengths, blank=0):
    """The plain alpha recursion, one sample at a time, differentiated by
    mx.grad through all T steps (slow; the reference for the custom VJP)."""
    out = []
    for n, (Tn, Sn) in enumerate(zip(input_lengths, target_lengths)):
        tgt = [int(v) for v in np.array(targets[n][:Sn])]
        ext = [blank]
        for k in tgt:
            ext += [k, blank]
        L = len(ext)
        if Tn == 0:
            out.append(mx.array(0.0 if Sn == 0 else math.inf, dtype=lp.dtype))
            continue
        # only positions a path can have reached take part (no -inf terms, so
        # autodiff of the reference sees no log(0))
        alpha = {0: lp[0, n, ext[0]]}
        if L > 1:
            alpha[1] = lp[0, n, ext[1]]
        for t in range(1, Tn):
            new = {}
            for l in range(min(L, 2 * t + 2)):
                terms = [alpha[k] for k in (l, l - 1) if k in alpha]
                if l >= 2 and ext[l] != blank and ext[l] != ext[l - 2] and l - 2 in alpha:
                    terms.append(alpha[l - 2])
                if terms:
                    new[l] = _lse(terms) + lp[t, n, ext[l]]
            alpha = new
        ends = [alpha[k] for k in (L - 1, L - 2) if k >= 0 and k in alpha]
        if not ends:
            out.append(mx.array(math.inf, dtype=lp.dtype))
            continue
        out.append(-_lse(ends))
    return mx.stack(out)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    "target,T,blank",
    [((1, 2), 4, 0), ((1, 1), 4, 0), ((2,), 3, 1), ((), 3, 0), ((1, 1), 3, 0), ((2, 0), 4, 1)],
)
def test_forward_equals_brute_force_enumeration(target, T, blank):
    C = 3
    lp = _log_softmax(np.random.default_rng(len(target) + T).normal(size=(T, 1, C)))
    expect = _brute_force_nll(lp[:, 0], target, blank)
    got = F.ctc_loss(mx.array(lp, dtype=mx.float64), mx.array([list(target) or [0]]),
                     (T,), (len(target),), blank=blank, reduction="none")
    if math.isinf(expect):
        assert math.isinf(got.item())
    else:
        assert abs(got.item() - expect) < 1e-12 * max(1.0, expect)


def test_custom_vjp_matches_autodiff_of_plain_recursion():
    T, N, C = 7, 3, 5
    # raw (not normalised) log_probs: the true gradient, not torch's projected one
    lp = _logits((T, N, C), seed=1)
    targets = mx.array([[1, 1, 2], [3, 4, 0], [2, 0, 0]])
    il, tl = (7, 6, 4), (3, 2, 1)
    cot = mx.array([0.3, -1.2, 0.7], dtype=mx.float64)

    def ours(x):
        return (F.ctc_loss(x, targets, il, tl, reduction="none") * cot).sum()

    def ref(x):
        return (_reference_nll(x, targets, il, tl) * cot).sum()

    v1, g1 = mx.value_and_grad(ours)(lp)
    v2, g2 = mx.value_and_grad(ref)(lp)
    assert abs(v1.item() - v2.item()) < 1e-11
    assert np.allclose(np.array(g1), np.array(g2), rtol=1e-10, atol=1e-12)
    # steps past an input length get no gradient
    assert np.all(np.array(g1)[4:, 2] == 0)


def test_true_gradient_is_minus_the_posterior_occupation():
    # the gradient w.r.t. log_probs sums to -(input length) per sample over
    # (t, c): every frame is occupied by exactly one extended position
    lp = _logits((9, 2, 4), seed=2)
    g = mx.grad(lambda x: F.ctc_loss(x, mx.array([[1, 2], [3, 3]]), (9, 6), (2, 2), reduction="sum"))(lp)
    per_sample = np.array(g).sum(axis=(0, 2))
    assert np.allclose(per_sample, [-9.0, -6.0], atol=1e-12)


def test_reductions_and_length_normalised_mean():
    lp = _f64(_log_softmax(np.random.default_rng(3).normal(size=(10, 3, 5))))
    targets = mx.array([[1, 2, 3], [4, 0, 0], [1, 1, 1]])
    il, tl = (10, 8, 6), (3, 0, 2)
    none = np.array(F.ctc_loss(lp, targets, il, tl, reduction="none"))
    assert np.isclose(F.ctc_loss(lp, targets, il, tl, reduction="sum").item(), none.sum(), rtol=1e-12)
    expect = (none / np.maximum(np.array(tl), 1)).mean()
    assert np.isclose(F.ctc_loss(lp, targets, il, tl).item(), expect, rtol=1e-12)


def test_padded_concatenated_and_tuple_layouts_agree():
    lp = _f64(_log_softmax(np.random.default_rng(4).normal(size=(8, 3, 6))))
    padded = mx.array([[1, 2, 9], [3, 3, 9], [5, 9, 9]])  # entries past each length are ignored
    concat = mx.array([1, 2, 3, 3, 5])
    il, tl = (8, 7, 5), (2, 2, 1)
    a = F.ctc_loss(lp, padded, il, tl, reduction="none")
    b = F.ctc_loss(lp, concat, mx.array(il), mx.array(tl), reduction="none")
    c = F.ctc_loss(lp, concat, il, tl, reduction="none")
    d = F.ctc_loss(lp, padded, [8, 7, 5], [2, 2, 1], reduction="none")
    for x in (b, c, d):
        assert np.allclose(np.array(a), np.array(x), rtol=1e-13)


def test_unbatched_equals_batch_of_one():
    lp = _f64(_log_softmax(np.random.default_rng(5).normal(size=(7, 4))))
    one = F.ctc_loss(lp[:, None], mx.array([[1, 2]]), (7,), (2,), reduction="none")
    for tg, il, tl in [(mx.array([1, 2]), mx.array(7), mx.array(2)), (mx.array([1, 2]), (7,), (2,)),
                       (mx.array([[1, 2, 3]]), mx.array([7]), mx.array([2]))]:
        out = F.ctc_loss(lp, tg, il, tl, reduction="none")
        assert out.shape == ()
        assert np.isclose(out.item(), one.item(), rtol=1e-13)


def test_blank_anywhere_is_a_relabelling():
    lp = _log_softmax(np.random.default_rng(6).normal(size=(9, 2, 5)))
    base = F.ctc_loss(_f64(lp), mx.array([[1, 2, 2], [3, 4, 1]]), (9, 8), (3, 3), reduction="none")
    # move the blank from class 0 to class 3: swap columns 0 and 3 everywhere
    perm = [3, 1, 2, 0, 4]
    swap = {0: 3, 3: 0}
    tg = [[swap.get(v, v) for v in row] for row in [[1, 2, 2], [3, 4, 1]]]
    moved = F.ctc_loss(_f64(lp[..., perm]), mx.array(tg), (9, 8), (3, 3), blank=3, reduction="none")
    assert np.allclose(np.array(base), np.array(moved), rtol=1e-13)


def test_impossible_alignment_inf_nan_gradient_and_zero_infinity():
    lp = _logits((4, 2, 3), seed=7)
    targets = mx.array([[1, 1, 1], [1, 2, 0]])
    il, tl = (4, 4), (3, 2)  # [1, 1, 1] needs 5 frames
    out = F.ctc_loss(lp, targets, il, tl, reduction="none")
    assert math.isinf(out[0].item()) and math.isfinite(out[1].item())
    g = np.array(mx.grad(lambda x: F.ctc_loss(x, targets, il, tl, reduction="sum"))(lp))
    assert np.all(np.isnan(g[:, 0])) and np.all(np.isfinite(g[:, 1]))
    out_z = F.ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True)
    assert out_z[0].item() == 0.0 and out_z[1].item() == out[1].item()
    g_z = np.array(mx.grad(lambda x: F.ctc_loss(x, targets, il, tl, reduction="sum", zero_infinity=True))(lp))
    assert np.all(g_z[:, 0] == 0) and np.allclose(g_z[:, 1], g[:, 1])


def test_empty_target_and_zero_input_length():
    lp = _f64(_log_softmax(np.random.default_rng(8).normal(size=(5, 3, 4))))
    out = np.array(F.ctc_loss(lp, mx.array([[1], [1], [1]]), (5, 0, 0), (0, 0, 1), reduction="none"))
    # empty target: all blanks
    assert np.isclose(out[0], -np.array(lp)[:, 0, 0].sum(), rtol=1e-12)
    assert out[1] == 0.0 and math.isinf(out[2])


def test_half_precision_keeps_dtype_and_computes_in_float32():
    z = _logits((20, 4, 8), seed=9, dtype=mx.float32)
    lp = z - mx.logsumexp(z, axis=-1, keepdims=True)
    targets = mx.array([[1, 2, 3], [4, 4, 1], [7, 1, 2], [3, 0, 0]])
    ref = F.ctc_loss(lp.astype(mx.bfloat16).astype(mx.float32), targets, (20,) * 4, (3, 3, 3, 1))
    for dt in (mx.float16, mx.bfloat16):
        out = F.ctc_loss(lp.astype(dt), targets, (20,) * 4, (3, 3, 3, 1))
        assert out.dtype == dt
        g = mx.grad(lambda x: F.ctc_loss(x, targets, (20,) * 4, (3, 3, 3, 1)))(lp.astype(dt))
        assert g.dtype == dt
    assert abs(out.item() - ref.item()) <= 2 * 2**-8 * abs(ref.item())


# ---------------------------------------------------------------- Module, transforms


def test_module_equals_functional_and_repr():
    lp = _f64(_log_softmax(np.random.default_rng(10).normal(size=(6, 2, 4))))
    targets, il, tl = mx.array([[1, 2], [3, 3]]), mx.array([6, 5]), mx.array([2, 2])
    m = mlx_losses.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert repr(m) == "CTCLoss(blank=0, reduction='sum', zero_infinity=True)"
    assert m(lp, targets, il, tl).item() == F.ctc_loss(lp, targets, il, tl, reduction="sum",
                                                       zero_infinity=True).item()
    assert m.trainable_parameters() == {}
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        mlx_losses.CTCLoss(reduction="avg")
    with pytest.raises(TypeError, match="`zero_infinity` must be a bool"):
        mlx_losses.CTCLoss(zero_infinity=1)


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_compile_and_grad(layout):
    lp = _logits((10, 3, 5), seed=11, dtype=mx.float32)
    if layout == "padded":
        targets = mx.array([[1, 2, 3], [4, 4, 0], [2, 0, 0]])
    else:
        targets = mx.array([1, 2, 3, 4, 4, 2])
    il, tl = mx.array([10, 9, 5]), mx.array([3, 2, 1])

    def f(x):
        return F.ctc_loss(x, targets, il, tl)

    eager_v, eager_g = mx.value_and_grad(f)(lp)
    # under mx.compile concatenated targets use the total length as the bound
    comp_v, comp_g = mx.compile(mx.value_and_grad(f))(lp)
    assert np.isclose(eager_v.item(), comp_v.item(), rtol=1e-6)
    assert np.allclose(np.array(eager_g), np.array(comp_g), rtol=1e-5, atol=1e-7)


def test_value_checks_switch():
    lp = _logits((5, 1, 3), dtype=mx.float32)
    with pytest.raises(ValueCheckError):
        F.ctc_loss(lp, mx.array([[1]]), mx.array([6]), mx.array([1]))
    with mlx_losses.value_checks(False):
        F.ctc_loss(lp, mx.array([[1]]), mx.array([5]), mx.array([1]))  # still fine
        F.ctc_loss(lp, mx.array([[0]]), mx.array([5]), mx.array([1]))  # unchecked: no error


# ---------------------------------------------------------------- errors


_LP = _logits((6, 2, 4), dtype=mx.float32)
_TG = mx.array([[1, 2, 3], [1, 1, 0]])


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        ((_TG, mx.array([7, 6]), mx.array([3, 2])), {}, ValueCheckError,
         r"ctc_loss: `input_lengths` must be at most 6 .*Expected input_lengths to have value at most 6, but got value 7"),
        ((_TG, (6, 6), (3, 4)), {}, ValueCheckError,
         r"`target_lengths` must be at most 3 .*Expected tensor to have size at least 4 at dimension 1"),
        ((_TG, mx.array([-1, 6]), mx.array([3, 2])), {}, ValueCheckError,
         r"`input_lengths` must be >= 0, got -1: Expected input_lengths to have value at least 0"),
        ((_TG, (6, 6), (3, 2)), {"blank": 4}, ValueError,
         r"`blank` must be in \[0, 4\) .*blank must be in label range"),
        ((_TG, (6, 6), (3, 2)), {"blank": 1}, ValueCheckError, r"must not contain the blank label \(1\)"),
        ((mx.array([[1, 2, 5], [1, 1, 0]]), (6, 6), (3, 2)), {}, ValueCheckError, "Target 5 is out of bounds"),
        ((_TG, (6, 6, 6), (3, 2)), {}, ShapeError, "input_lengths must be of size batch_size"),
        ((_TG, mx.array([6.0, 6.0]), (3, 2)), {}, TypeError, "input_lengths must be integral"),
        ((_TG, 6, (3, 2)), {}, TypeError, "`input_lengths` must be an mx.array or a tuple/list of ints"),
        ((_TG.astype(mx.float32), (6, 6), (3, 2)), {}, TypeError, "`targets` must have an integer dtype"),
        ((mx.array([1, 2, 3]), (6, 6), (3, 2)), {}, ShapeError, "Expected tensor to have size 5 at dimension 0"),
        ((mx.array([1, 2, 3]), mx.array([6, 6]), mx.array([3, 2])), {}, ValueCheckError,
         "Expected tensor to have size 5 at dimension 0"),
        ((_TG[:1], (6, 6), (3, 2)), {}, ShapeError, r"`targets` must have 2 rows"),
        ((_TG, (6, 6), (3, 2)), {"reduction": "avg"}, ValueError, "is not a valid value for reduction"),
    ],
)
def test_errors(args, kwargs, error, match, read_path):
    with pytest.raises(error, match=match):
        mx.eval(F.ctc_loss(_LP, *args, **kwargs))


def test_errors_on_input_ndim_and_dtype():
    with pytest.raises(ShapeError, match=r"`log_probs` must be 2 or 3-D"):
        F.ctc_loss(mx.zeros((2, 3, 4, 5)), _TG, (2, 2), (1, 1))
    with pytest.raises(TypeError, match="`log_probs` must have a floating dtype"):
        F.ctc_loss(mx.zeros((6, 2, 4), dtype=mx.int32), _TG, (6, 6), (3, 2))


def _vmap_case():
    """Two (T, N, C) problems stacked on a leading axis, the per-sample loss
    function, and the loop over the stack."""
    lp = _logits((2, 6, 3, 4), seed=12, dtype=mx.float32)
    lp = lp - mx.logsumexp(lp, axis=-1, keepdims=True)
    targets, il, tl = mx.array([[1, 1], [2, 3], [3, 0]]), mx.array([6, 5, 4]), mx.array([2, 2, 1])
    f = lambda x: F.ctc_loss(x, targets, il, tl, reduction="none")  # noqa: E731
    loop = np.stack([np.array(f(lp[i])) for i in range(2)])
    return lp, targets, il, tl, f, loop


def test_vmap_over_an_extra_axis_equals_a_loop():
    lp, targets, il, tl, f, loop = _vmap_case()
    assert np.allclose(np.array(mx.vmap(f)(lp)), loop, rtol=1e-6)
    # unbatched samples stacked along a mapped axis, with mapped targets
    z = lp[:, :, 0]
    tg = mx.array([[1, 1], [2, 3]])
    g = lambda x, t: F.ctc_loss(x, t, (6,), (2,), reduction="none")  # noqa: E731
    assert np.allclose(np.array(mx.vmap(g)(z, tg)), [g(z[i], tg[i]).item() for i in range(2)], rtol=1e-6)


# ---------------------------------------------------------------- no underflow
# Guards for any faster kernel: a probability-domain recursion (even in
# float64 with per-step rescaling) loses the far positions of a row whose
# alignment costs span more than ~700 nats, e.g. a blank-collapsed model
# (blank ~1, every label ~e^-12) with a long target; log space does not.


def _blank_collapsed(T, N, C, margin, seed):
    z = np.random.default_rng(seed).normal(size=(T, N, C))
    z[:, :, 0] += margin
    return _log_softmax(z)


def test_blank_collapsed_model_with_long_targets_gives_finite_losses():
    T, N, C, S = 400, 3, 8, 80
    lp = _blank_collapsed(T, N, C, margin=16.0, seed=13)
    targets = mx.array(np.random.default_rng(14).integers(1, C, size=(N, S)))
    il, tl = (T, T, 300), (S, 40, S)
    out64 = np.array(F.ctc_loss(_f64(lp), targets, il, tl, reduction="none"))
    out32 = np.array(F.ctc_loss(mx.array(lp, dtype=mx.float32), targets, il, tl, reduction="none"))
    # each label costs ~16 nats: the full targets' paths lie more than e^-700
    # below the all-blank path, and their losses are finite
    assert np.all(np.isfinite(out64)) and out64[0] > 800 and out64[2] > 800
    assert np.allclose(out32, out64, rtol=1e-5)
    g = np.array(mx.grad(lambda x: F.ctc_loss(x, targets, il, tl, reduction="sum"))(_f64(lp)))
    assert np.all(np.isfinite(g))
    # every frame is occupied by exactly one position: the gradient sums to -T_n
    assert np.allclose(g.sum(axis=(0, 2)), [-T, -T, -300], atol=1e-8)


def test_peaky_float32_inputs_match_float64():
    # log-probabilities down to ~-300 (a float32 probability flushes to zero
    # below ~-104), in many consecutive frames
    rng = np.random.default_rng(4)
    T, N, C = 80, 3, 6
    lp = _log_softmax(rng.normal(size=(T, N, C)) * 60)
    assert lp.min() < -300
    targets = mx.array(rng.integers(1, C, size=(N, 10)))
    il, tl = (80, 70, 60), (10, 8, 10)
    out64 = np.array(F.ctc_loss(_f64(lp), targets, il, tl, reduction="none"))
    out32 = np.array(F.ctc_loss(mx.array(lp, dtype=mx.float32), targets, il, tl, reduction="none"))
    assert np.all(np.isfinite(out64)) and np.all(out64 > 300)
    assert np.allclose(out32, out64, rtol=1e-5)


# ---------------------------------------------------------------- the two kernels
# The package's stacked kernel (forward and reversed rows in one recursion)
# against the two-pass kernel (alpha, then beta in the VJP) of
# tests/_ctc_two_pass.py, an independent reference that ctc_loss runs
# through when it is put in the stacked kernel's place.

from mlx_losses.losses import ctc as _ctc_module  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _ctc_two_pass  # noqa: E402


_STACKED = _ctc_module._ctc_kernel_stacked


def _use_kernel(monkeypatch, stacked: bool) -> None:
    monkeypatch.setattr(_ctc_module, "_ctc_kernel_stacked",
                        _STACKED if stacked else _ctc_two_pass.ctc_kernel)


@pytest.fixture(params=["stacked", "two-pass"])
def kernel(request, monkeypatch):
    _use_kernel(monkeypatch, request.param == "stacked")
    return request.param


def test_both_kernels_match_brute_force_and_autodiff(kernel):
    C = 3
    for target, T, blank in [((1, 2), 4, 0), ((1, 1), 4, 0), ((2, 0), 4, 1), ((1, 1), 3, 0), ((), 3, 0)]:
        lp = _log_softmax(np.random.default_rng(len(target) + T).normal(size=(T, 1, C)))
        expect = _brute_force_nll(lp[:, 0], target, blank)
        got = F.ctc_loss(mx.array(lp, dtype=mx.float64), mx.array([list(target) or [0]]),
                         (T,), (len(target),), blank=blank, reduction="none").item()
        assert (math.isinf(got) and math.isinf(expect)) or abs(got - expect) < 1e-12 * max(1.0, expect)
    lp = _logits((7, 3, 5), seed=1)
    targets, il, tl = mx.array([[1, 1, 2], [3, 4, 0], [2, 0, 0]]), (7, 6, 4), (3, 2, 1)
    cot = mx.array([0.3, -1.2, 0.7], dtype=mx.float64)
    g1 = mx.grad(lambda x: (F.ctc_loss(x, targets, il, tl, reduction="none") * cot).sum())(lp)
    g2 = mx.grad(lambda x: (_reference_nll(x, targets, il, tl) * cot).sum())(lp)
    assert np.allclose(np.array(g1), np.array(g2), rtol=1e-10, atol=1e-12)


def _kernels_agree(lp, targets, il, tl, monkeypatch, rtol, atol, **kw):
    """Values and gradients (random cotangent) of the two kernels, eager and compiled."""
    cot = mx.array(np.random.default_rng(0).normal(size=lp.shape[1]), dtype=lp.dtype)

    def f(x):
        return (F.ctc_loss(x, targets, il, tl, reduction="none", **kw) * cot).sum()

    res = {}
    for stacked in (True, False):
        _use_kernel(monkeypatch, stacked)
        v = F.ctc_loss(lp, targets, il, tl, reduction="none", **kw)
        res[stacked] = [np.array(v), np.array(mx.grad(f)(lp)), np.array(mx.compile(mx.grad(f))(lp))]
    for a, b in zip(res[True], res[False]):
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(np.isinf(a), np.isinf(b))
        ok = np.isfinite(a)
        assert np.allclose(a[ok], b[ok], rtol=rtol, atol=atol)
    assert np.allclose(res[True][1], res[True][2], rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("T", [1, 16, 17, 130, 300])
def test_kernels_agree_over_chunk_layouts(T, monkeypatch):
    # T = 300 is 19 blocks of 16 frames: chunks of (4, 4, 3, 4, 4) blocks
    rng = np.random.default_rng(T)
    N, C, S = 6, 7, 5
    lp = _f64(_log_softmax(rng.normal(size=(T, N, C)) * 2))
    targets = mx.array(rng.integers(1, C, size=(N, S)))
    il = mx.array([T, max(T - 5, 0), T // 2, 0, min(T, 3), T])
    tl = mx.array([min(S, T), 2, 5, 0, 1, 0])
    _kernels_agree(lp, targets, il, tl, monkeypatch, rtol=1e-10, atol=1e-12)


def test_kernels_agree_on_edge_cases(monkeypatch):
    lp = _f64(_log_softmax(np.random.default_rng(3).normal(size=(12, 5, 6))))
    # repeated labels, an impossible alignment, an empty target, input length 0
    targets = mx.array([[1, 1, 1, 1], [2, 3, 4, 5], [1, 1, 2, 2], [3, 0, 0, 0], [1, 2, 0, 0]])
    il, tl = mx.array([12, 3, 12, 0, 5]), mx.array([4, 4, 4, 0, 2])
    _kernels_agree(lp, targets, il, tl, monkeypatch, rtol=1e-10, atol=1e-12)
    _kernels_agree(lp, targets, il, tl, monkeypatch, rtol=1e-10, atol=1e-12, zero_infinity=True)
    _kernels_agree(lp, mx.where(targets == 2, 0, targets), il, tl, monkeypatch, rtol=1e-10, atol=1e-12,
                   blank=2)
    lp32 = lp.astype(mx.float32)
    _kernels_agree(lp32, targets, il, tl, monkeypatch, rtol=1e-5, atol=1e-6)


def test_chunk_sizes_are_a_palindrome_covering_every_block():
    for n in range(1, 100):
        sizes = _ctc_module._chunk_blocks(n)
        assert sum(sizes) == n and sizes == sizes[::-1]
        assert max(sizes) <= 2 * _ctc_module._MAX_BLOCKS - 1


def test_exact_zero_probabilities_make_an_alignment_impossible(kernel):
    # class 2 has probability exactly 0 (log -inf) in every frame: a target
    # containing it is impossible (inf), 0 with zero_infinity
    z = np.random.default_rng(5).normal(size=(6, 2, 4))
    z[:, :, 2] = -np.inf
    lp = _f64(_log_softmax(z))
    targets, il, tl = mx.array([[1, 2], [1, 3]]), (6, 6), (2, 2)
    out = np.array(F.ctc_loss(lp, targets, il, tl, reduction="none"))
    assert math.isinf(out[0]) and math.isfinite(out[1])
    g = np.array(mx.grad(lambda x: F.ctc_loss(x, targets, il, tl, reduction="sum", zero_infinity=True))(lp))
    assert np.all(g[:, 0] == 0) and np.all(np.isfinite(g[:, 1]))
    assert np.isclose(g[:, 1].sum(), -6.0, atol=1e-12)  # one occupied position per frame


def test_both_kernels_under_vmap_and_compile(kernel):
    lp, targets, il, tl, f, loop = _vmap_case()
    assert np.allclose(np.array(mx.vmap(f)(lp)), loop, rtol=1e-6)
    assert np.allclose(np.array(mx.compile(mx.vmap(f))(lp)), loop, rtol=1e-6)


def test_zero_width_targets_and_empty_batch(kernel):
    # padded targets of width 0: every sample's target is empty, its loss is
    # minus the blank log-probabilities of its frames, and its gradient
    # occupies the blank class once per frame
    lp = _f64(_log_softmax(np.random.default_rng(15).normal(size=(20, 3, 5))))
    f = lambda x: F.ctc_loss(x, mx.zeros((3, 0), dtype=mx.int32), (20, 7, 0), (0, 0, 0), reduction="sum")  # noqa: E731
    v, g = mx.value_and_grad(f)(lp)
    expect = -np.array(lp)[:20, 0, 0].sum() - np.array(lp)[:7, 1, 0].sum()
    assert abs(v.item() - expect) < 1e-12 * expect
    assert np.allclose(np.array(g).sum(axis=(0, 2)), [-20.0, -7.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "shape,targets,il,tl",
    [
        ((5, 0, 4), mx.zeros((0, 2), dtype=mx.int32), mx.zeros((0,), mx.int32), mx.zeros((0,), mx.int32)),
        ((5, 0, 4), mx.zeros((0,), dtype=mx.int32), (), ()),
        ((0, 2, 4), mx.ones((2, 2), dtype=mx.int32), (0, 0), (0, 0)),
        ((0, 4), mx.ones((1,), dtype=mx.int32), mx.array(0), mx.array(1)),
        ((6, 2, 0), mx.ones((2, 2), dtype=mx.int32), (6, 6), (2, 2)),
    ],
    ids=["empty_batch", "empty_batch_concatenated", "no_frames", "no_frames_unbatched", "no_classes"],
)
def test_empty_log_probs_raise_as_in_torch(shape, targets, il, tl, reduction):
    # torch: "log_probs tensor must not be empty" (a RuntimeError) for N, T or C of 0
    with pytest.raises(ShapeError, match=r"`log_probs` must not be empty, got shape .*"
                       "log_probs tensor must not be empty") as err:
        F.ctc_loss(mx.zeros(shape), targets, il, tl, reduction=reduction)
    assert isinstance(err.value, RuntimeError)


@pytest.mark.parametrize("compiled", [False, True], ids=["unchecked", "compiled"])
def test_out_of_range_labels_and_lengths_give_nan_samples(kernel, compiled):
    # with the value checks off or under mx.compile (torch raises): a label
    # outside [0, C), an input length outside [0, T], a target length
    # outside [0, S] make that sample's loss and gradient NaN; the others
    # are the losses of the same samples with valid values
    T, C = 6, 4
    lp = _f64(_log_softmax(np.random.default_rng(21).normal(size=(T, 7, C))))
    targets = mx.array([[1, C, 2], [3, -2, 1], [1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 3, 0], [1, 1, 0]])
    il = mx.array([T, T, T + 1, T, -1, T, 5])
    tl = mx.array([3, 3, 3, 4, 3, 2, 2])
    bad = np.array([True] * 5 + [False] * 2)

    def f(x, targets, il, tl):
        return F.ctc_loss(x, targets, il, tl, reduction="none")

    cot = mx.array(np.linspace(0.5, 1.5, 7))
    vg = mx.value_and_grad(lambda x, *a: mx.sum(f(x, *a) * cot))
    if compiled:
        out, (_, g) = mx.compile(f)(lp, targets, il, tl), mx.compile(vg)(lp, targets, il, tl)
    else:
        with mlx_losses.value_checks(False):
            out, (_, g) = f(lp, targets, il, tl), vg(lp, targets, il, tl)
    out, g = np.array(out), np.array(g)
    assert np.all(np.isnan(out[bad])) and np.all(np.isnan(g[:, bad]))
    ref = F.ctc_loss(lp[:, 5:], targets[5:], il[5:], tl[5:], reduction="none")
    ref_g = mx.grad(lambda x: mx.sum(F.ctc_loss(x, targets[5:], il[5:], tl[5:], reduction="none") * cot[5:]))(lp[:, 5:])
    assert np.allclose(out[~bad], np.array(ref), rtol=1e-12)
    assert np.allclose(g[:, ~bad], np.array(ref_g), rtol=1e-10, atol=1e-12)
    # 'mean' and 'sum' see the NaN; zero_infinity does not hide it
    with mlx_losses.value_checks(False):
        for kw in ({"reduction": "mean"}, {"reduction": "sum", "zero_infinity": True}):
            assert math.isnan(F.ctc_loss(lp, targets, il, tl, **kw).item())
    # eager with the checks on still raises
    with pytest.raises(ValueCheckError, match="Expected input_lengths to have value at least 0"):
        F.ctc_loss(lp, targets, il, tl)
    with pytest.raises(ValueCheckError, match="Target -2 is out of bounds"):
        F.ctc_loss(lp, targets, mx.array([T] * 7), mx.array([3] * 7))


def test_concatenated_lengths_that_do_not_sum_to_the_targets_give_nan_everywhere():
    lp = _f64(_log_softmax(np.random.default_rng(22).normal(size=(6, 3, 4))))
    targets = mx.array([1, 2, 3, 1, 2, 3])
    for tl in ([2, 2, 3], [2, 2, 1], [2, 7, -3]):
        with mlx_losses.value_checks(False):
            out = F.ctc_loss(lp, targets, mx.array([6, 6, 6]), mx.array(tl), reduction="none")
        assert np.all(np.isnan(np.array(out))), tl


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("compiled", [False, True])
def test_nonfinite_sample_leaves_the_others_alone(zero_infinity, compiled):
    # a +inf logit in sample 0 (NaN after log_softmax): that sample's loss
    # and gradient are NaN, as torch; the other samples' are what they are
    # alone (the stacked recursion shares state between samples)
    z = np.random.default_rng(0).normal(size=(4, 3, 5))
    z[0, 0, 1] = np.inf
    with np.errstate(invalid="ignore"):
        lp = _f64(_log_softmax(z)).astype(mx.float32)
    tg, il, tl = mx.array([1, 2, 3]), (4, 4, 4), (1, 1, 1)

    def f(lp):
        return F.ctc_loss(lp, tg, il, tl, reduction="none", zero_infinity=zero_infinity)

    fn = mx.compile(f) if compiled else f
    out = np.array(fn(lp))
    g = np.array(mx.grad(lambda lp: mx.sum(fn(lp)))(lp))
    assert math.isnan(out[0]) and np.isnan(g[:, 0]).all()
    for n in (1, 2):
        one = lambda lp: F.ctc_loss(lp, tg[n:n + 1], (4,), (1,), reduction="none",  # noqa: E731
                                    zero_infinity=zero_infinity)
        alone = lp[:, n:n + 1]
        np.testing.assert_allclose(out[n], np.array(one(alone))[0], rtol=1e-6)
        g_alone = np.array(mx.grad(lambda a: mx.sum(one(a)))(alone))[:, 0]
        np.testing.assert_allclose(g[:, n], g_alone, rtol=1e-5, atol=1e-7)


def test_target_equal_to_blank_is_nan_when_unchecked():
    # refused eagerly; unchecked, that sample is NaN, never another target's number
    lp = _f64(_log_softmax(np.random.default_rng(1).normal(size=(5, 2, 4))))
    tg = mx.array([[1, 0], [2, 3]])
    with mlx_losses.value_checks(False):
        out = np.array(F.ctc_loss(lp, tg, (5, 5), (2, 2), reduction="none"))
    assert math.isnan(out[0]) and np.isfinite(out[1])
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(lp, tg, (5, 5), (2, 2), reduction="none")
