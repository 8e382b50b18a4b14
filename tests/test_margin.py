"""Margin / multi-label losses without torch: identities, Modules, transforms, errors."""

import math
import warnings

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F


def _x(shape=(4, 5), seed=0, dtype=mx.float32, scale=1.0):
    rng = np.random.default_rng(seed)
    return mx.array((scale * rng.normal(size=shape)).astype(np.float32)).astype(dtype)


def _sign(shape=(4, 5), seed=1):
    rng = np.random.default_rng(seed)
    return mx.array(rng.choice([-1.0, 1.0], size=shape).astype(np.float32))


def _labels(n, c, seed=2):
    """Padded multi-label targets and, for the reference, the label lists."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, c, size=(n, c))
    lists = []
    for row in range(n):
        k = int(rng.integers(0, c + 1))
        labels = list(rng.integers(0, c, size=k))  # repeats allowed
        out[row, :k] = labels
        if k < c:
            out[row, k] = -1
        lists.append(labels)
    return mx.array(out.astype(np.int32)), lists


# --------------------------------------------------------------------------
# values through definitions and identities


def test_hinge_embedding_is_its_definition():
    x, y = _x(), _sign()
    xn, yn = np.array(x), np.array(y)
    ref = np.where(yn == 1, xn, np.maximum(0.0, 0.7 - xn))
    assert np.allclose(F.hinge_embedding_loss(x, y, margin=0.7, reduction="none"), ref, atol=1e-6)
    # a target that is neither 1 nor -1 gets both terms (torch's rule)
    out = F.hinge_embedding_loss(mx.array([0.25]), mx.array([0.0]), reduction="none")
    assert out.tolist() == [0.25 + 0.75]


def test_soft_margin_is_log1p_exp_and_stable():
    x, y = _x(), _sign()
    ref = np.log1p(np.exp(-np.array(y) * np.array(x)))
    assert np.allclose(F.soft_margin_loss(x, y, reduction="none"), ref, rtol=1e-6)
    big = F.soft_margin_loss(mx.array([100.0, -100.0]), mx.array([-1.0, -1.0]), reduction="none")
    assert np.allclose(big, [100.0, 0.0])
    g = mx.grad(lambda a: F.soft_margin_loss(a, mx.array([-1.0, 1.0]), reduction="sum"))(
        mx.array([200.0, 200.0])
    )
    assert np.all(np.isfinite(np.array(g))) and np.allclose(g, [1.0, 0.0])


def test_multilabel_soft_margin_is_class_mean_of_bce_with_logits():
    x, y = _x(), mx.array((np.random.default_rng(3).uniform(size=(4, 5))).astype(np.float32))
    w = mx.abs(_x((5,), seed=4)) + 0.1
    xn, yn, wn = (np.array(a, dtype=np.float64) for a in (x, y, w))
    bce = yn * np.log1p(np.exp(-xn)) + (1 - yn) * np.log1p(np.exp(xn))
    assert np.allclose(F.multilabel_soft_margin_loss(x, y, reduction="none"), bce.mean(1), rtol=1e-5)
    assert np.isclose(F.multilabel_soft_margin_loss(x, y, weight=w).item(), (bce * wn).mean(1).mean(), rtol=1e-5)
    # stable at large logits: the (1 - y) log sigmoid(-x) term does not cancel
    far = F.multilabel_soft_margin_loss(mx.array([[40.0, -40.0]]), mx.array([[1.0, 0.0]]))
    assert 0 < far.item() < 1e-15
    # at x = 0 the gradient is sigmoid(0) - y = 1/2 - y (over C), not a subgradient
    y0 = mx.array([[0.0, 1.0, 0.25]])
    g0 = mx.grad(lambda a: F.multilabel_soft_margin_loss(a, y0, reduction="sum"))(mx.zeros((1, 3)))
    assert np.allclose(g0, (0.5 - np.array(y0)) / 3, atol=1e-7)


def _mlm_reference(x, lists):
    x = np.array(x, dtype=np.float64)
    n, c = x.shape
    out = np.zeros(n)
    for r in range(n):
        targets = set(lists[r])
        for j in lists[r]:
            for i in range(c):
                if i not in targets:
                    out[r] += max(0.0, 1.0 - (x[r, j] - x[r, i]))
    return out / c


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_soft_margins_at_infinite_scores_are_torchs(dtype):
    # soft margin: log(1 + e^(-y x)) is 0 at y x = +inf (float64 gave
    # inf - inf), inf at -inf. multilabel soft margin: y softplus(-x) +
    # (1 - y) softplus(x) is inf at x = +-inf, NaN where the inf meets a zero
    # factor (y = 1 at +inf, y = 0 at -inf), as torch's composite.
    inf = float("inf")
    x = mx.array([inf, -inf, inf, -inf], dtype=dtype)
    out = F.soft_margin_loss(x, mx.array([1.0, 1.0, -1.0, -1.0]), reduction="none")
    assert out.tolist() == [0.0, inf, inf, 0.0]
    g = mx.grad(lambda a: F.soft_margin_loss(a, mx.array([1.0, -1.0]), reduction="sum"))(x[:2])
    assert np.array(g).tolist() == [0.0, 0.0]
    y = mx.array([0.7, 0.3, 1.0, 0.0, 0.5, 0.5], dtype=dtype)
    xs = mx.array([inf, -inf, inf, -inf, 30.0, -30.0], dtype=dtype)
    out = np.array(F.multilabel_soft_margin_loss(xs[:, None], y[:, None], reduction="none"))
    assert np.isinf(out[:2]).all() and np.isnan(out[2:4]).all()
    assert np.allclose(out[4:], 15.0 + np.log1p(np.exp(-30.0)), rtol=1e-6)


def _mlm_kernel_reference(x, y):
    """torch's CPU kernel as loops: per row, for each label before the first
    -1 (repeats count again) and each class i not among the labels,
    z = (1 - x[y_j]) + x_i in x's own dtype, added (in float64) and counted
    in the gradient (+1 at i, -1 at y_j) only if z > 0. Returns the per-row
    loss over C and the per-row gradient over C."""
    x = np.asarray(x)
    one = x.dtype.type(1)
    n, c = x.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    with np.errstate(invalid="ignore", over="ignore"):
        for r in range(n):
            labels = []
            for v in np.asarray(y)[r]:
                if v < 0:
                    break
                labels.append(int(v))
            for j in labels:
                a = one - x[r, j]
                for i in range(c):
                    if i not in labels and a + x[r, i] > 0:
                        loss[r] += float(a + x[r, i])
                        grad[r, i] += 1
                        grad[r, j] -= 1
    return loss / c, grad / c


def _mlm_vjp(x, y, cot):
    f = lambda a: F.multilabel_margin_loss(a, y, reduction="none")  # noqa: E731
    (v,), (g,) = mx.vjp(f, [x], [cot])
    return np.array(v.astype(mx.float64)), np.array(g.astype(mx.float64))


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_multilabel_margin_far_from_zero_is_exact(dtype):
    # Rows with scores near both +far and -far (1e6 in float32, 1e15 in
    # float64; on a grid where every z is exact), the labels near +far: each
    # term is O(1), so is the loss, and it must be exact to rounding. (A
    # prefix-sum form, sum of x_i minus k t, cancels ~k far to ~1: no shift
    # of the row brings both clusters near 0.)
    rng = np.random.default_rng(4)
    far, step = (1e6, 1 / 16) if dtype == mx.float32 else (1e15, 1 / 8)
    y = np.array([[0, 3, -1, 0, 0, 0, 0, 0, 0], [8, -1, 0, 0, 0, 0, 0, 0, 0],
                  [1, 2, 4, 5, -1, 0, 0, 0, 0], [6, 6, -1, 0, 0, 0, 0, 0, 0],
                  [0, 1, 2, 3, 4, 5, 6, 7, 8], [2, -1, 0, 0, 0, 0, 0, 0, 0]])
    sign = np.where(np.arange(9) % 2 == 0, 1.0, -1.0) * np.ones((6, 1))
    for r, row in enumerate(y):
        labels = row[: list(row).index(-1)] if -1 in row else row
        sign[r, labels] = 1.0
    xn = sign * far + rng.integers(0, 24, size=(6, 9)) * step
    xn = xn.astype(np.float32 if dtype == mx.float32 else np.float64)
    ref, gref = _mlm_kernel_reference(xn, y)
    assert np.all(np.delete(ref, 4) > 0.05) and ref.max() < 20  # O(1) losses
    cot = rng.normal(size=6)
    v, g = _mlm_vjp(mx.array(xn, dtype=dtype), mx.array(y), mx.array(cot, dtype=dtype))
    tol = 1e-6 if dtype == mx.float32 else 1e-12
    assert np.allclose(v, ref, rtol=tol, atol=0)
    assert np.allclose(g, gref * cot[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_multilabel_margin_infinite_and_nan_scores_follow_torch(dtype):
    # torch's terms at non-finite scores: an inf non-target adds inf, a -inf
    # label makes every term inf, a +inf label or a NaN (label or not) adds
    # nothing; the gradient counts the positive terms, finite everywhere.
    inf, nan = float("inf"), float("nan")
    xn = np.array([
        [0.5, inf, 0.25, -1.0, 0.0],    # inf non-target: inf
        [-inf, 0.5, 2.0, 0.25, -0.5],   # -inf label: inf
        [inf, 0.5, 2.0, 0.25, -inf],    # +inf label: no term; -inf non-target: none
        [0.5, nan, 0.25, 1.5, -0.5],    # NaN non-target: no term
        [nan, 0.5, 0.25, 1.5, -0.5],    # NaN label: no term from it
        [inf, -inf, nan, 0.0, 1.0],     # all at once
        [inf, inf, 0.0, 0.0, 0.0],      # inf label and inf non-target: NaN z, none
    ], dtype=np.float32 if dtype == mx.float32 else np.float64)
    y = mx.array([[0, 2, -1, 0, 0], [0, 3, -1, 0, 0], [0, 1, -1, 0, 0], [0, 2, -1, 0, 0],
                  [0, 3, -1, 0, 0], [0, 1, 2, 3, -1], [0, -1, 0, 0, 0]])
    ref, gref = _mlm_kernel_reference(xn, np.array(y))
    cot = np.linspace(0.5, 2.0, 7)
    v, g = _mlm_vjp(mx.array(xn, dtype=dtype), y, mx.array(cot, dtype=dtype))
    assert np.array_equal(np.isinf(v), np.isinf(ref)) and not np.isnan(v).any()
    fin = np.isfinite(ref)
    assert np.allclose(v[fin], ref[fin], rtol=1e-6)
    assert np.allclose(g, gref * cot[:, None], rtol=1e-6, atol=0)


_INT_DTYPES = [mx.int8, mx.int16, mx.int32, mx.int64, mx.uint8, mx.uint16, mx.uint32, mx.uint64]


@pytest.mark.parametrize("dtype", _INT_DTYPES)
@pytest.mark.parametrize("checks", [True, False])
def test_multilabel_margin_every_integer_dtype_gives_the_same(dtype, checks):
    # Nothing in the kernel depends on the index dtype: every integer dtype
    # gives the int32 result, value and gradient, bit for bit (unsigned
    # types hold no -1: their rows are padded by a full label list instead).
    x = _x((5, 6), seed=3)
    signed = mx.iinfo(dtype).min < 0
    rows = [[0, 3, -1, 5, 5, 5], [5, 4, 3, 2, 1, 0], [2, 2, -1, 0, 0, 0], [1, -1, 0, 0, 0, 0],
            [-1, 0, 0, 0, 0, 0]] if signed else [[0, 3, 3, 5, 5, 5], [5, 4, 3, 2, 1, 0],
                                                 [2, 2, 2, 2, 2, 2], [1, 1, 1, 1, 1, 1],
                                                 [0, 5, 0, 5, 0, 5]]
    ref_y = mx.array(rows, dtype=mx.int32)
    cot = _x((5,), seed=4)
    with mlx_losses.value_checks(checks):
        want = _mlm_vjp(x, ref_y, cot)
        got = _mlm_vjp(x, ref_y.astype(dtype), cot)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_multilabel_margin_is_its_definition():
    x = _x((6, 7))
    y, lists = _labels(6, 7)
    ours = F.multilabel_margin_loss(x, y, reduction="none")
    assert np.allclose(ours, _mlm_reference(x, lists), rtol=1e-5, atol=1e-6)
    # only labels before the first -1 count: garbage after it changes nothing
    y2 = mx.array([[2, -1, 0, 1, 1, 4, 6]] * 6)
    y3 = mx.array([[2, -1, 5, 5, 3, 3, 3]] * 6)
    assert np.array_equal(
        F.multilabel_margin_loss(x, y2, reduction="none"),
        F.multilabel_margin_loss(x, y3, reduction="none"),
    )
    # unbatched (C) equals the batch of one
    assert np.isclose(F.multilabel_margin_loss(x[0], y[0]).item(), ours[0].item(), rtol=1e-6)


def _mm_reference(x, t, p, margin, w=None):
    x = np.array(x, dtype=np.float64)
    n, c = x.shape
    out = np.zeros(n)
    for r in range(n):
        for i in range(c):
            if i != t[r]:
                z = max(0.0, margin - x[r, t[r]] + x[r, i]) ** p
                out[r] += z * (1.0 if w is None else w[t[r]])
    return out / c


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_is_its_definition(p):
    x = _x((5, 6))
    t = [0, 5, 2, 2, 3]
    w = np.linspace(0.5, 2.0, 6).astype(np.float32)
    ours = F.multi_margin_loss(x, mx.array(t), p=p, margin=0.6, weight=mx.array(w), reduction="none")
    assert np.allclose(ours, _mm_reference(x, t, p, 0.6, w), rtol=1e-5, atol=1e-6)
    assert F.multi_margin_loss(x[1], mx.array(5), p=p).shape == ()
    assert F.multi_margin_loss(x[1], mx.array([5]), p=p, reduction="none").shape == (1,)


def _mm_kernel_reference(x, t, p, margin, w=None):
    """torch's CPU kernel as loops: z = (margin - x[t]) + x_i in x's dtype for
    each class i but the target, h = w[t] z^p added and differentiated only if
    z > 0 (a row without such terms is 0 with a 0 gradient, whatever its
    weight). Returns the per-row loss over C and its gradient over C."""
    x = np.asarray(x)
    m = x.dtype.type(margin)
    n, c = x.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    with np.errstate(invalid="ignore", over="ignore"):
        for r in range(n):
            wt = 1.0 if w is None else float(w[t[r]])
            for i in range(c):
                z = (m - x[r, t[r]]) + x[r, i]
                if i != t[r] and z > 0:
                    loss[r] += wt * float(z) ** p
                    d = wt * (1.0 if p == 1 else 2.0 * float(z))
                    grad[r, i] += d
                    grad[r, t[r]] -= d
    return loss / c, grad / c


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", [mx.float32, mx.float64])
def test_multi_margin_large_margin_and_small_loss_is_exact(p, dtype):
    # margin 1000, each target about the margin above the rest: small terms
    # next to the target column's z (the margin itself), which must not be
    # subtracted from the row sum (float32 lost 2% of the loss that way)
    npt = np.float32 if dtype == mx.float32 else np.float64
    xn = np.array([[1000.0, 0.0234, -5.0, -3.0], [0.5, 1000.25, 0.125, 0.75],
                   [-2.0, -1.5, 998.5, -1.25]], dtype=npt)
    t = [0, 1, 2]
    ref, gref = _mm_kernel_reference(xn, t, p, 1000.0)
    assert 0 < ref.min() and ref.max() < 2
    cot = np.array([0.5, -1.0, 2.0])
    f = lambda a: F.multi_margin_loss(a, mx.array(t), p=p, margin=1000.0, reduction="none")  # noqa: E731
    (v,), (g,) = mx.vjp(f, [mx.array(xn, dtype=dtype)], [mx.array(cot, dtype=dtype)])
    tol = 1e-6 if dtype == mx.float32 else 1e-12
    assert np.allclose(np.array(v), ref, rtol=tol, atol=0)
    assert np.allclose(np.array(g), gref * cot[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_nonfinite_margin_scores_and_weights_follow_torch(p):
    # margins inf / -inf / NaN, inf and NaN scores, weights inf / 0 / NaN on
    # rows with and without positive terms: the loss and its gradient as
    # torch's kernel (NaN and inf in its places, 0 where no term adds)
    inf, nan = float("inf"), float("nan")
    xn = np.array([[0.5, inf, 0.25, -1.0], [-inf, 0.5, 2.0, 0.25], [inf, 0.5, 2.0, -inf],
                   [0.5, nan, 0.25, 1.5], [5.0, 0.5, 0.25, 1.0], [0.5, 0.25, 1.0, 0.0]])
    t = [0, 0, 0, 0, 0, 1]
    cot = np.linspace(0.5, 2.0, 6)
    cases = [(1.0, None), (inf, None), (-inf, None), (nan, None),
             (1.0, np.array([inf, 1.0, 1.0, 1.0])), (1.0, np.array([0.0, nan, 1.0, 1.0]))]
    for margin, w in cases:
        ref, gref = _mm_kernel_reference(xn, t, p, margin, w)
        kw = {} if w is None else {"weight": mx.array(w, dtype=mx.float64)}
        f = lambda a: F.multi_margin_loss(a, mx.array(t), p=p, margin=margin, reduction="none", **kw)  # noqa: E731
        (v,), (g,) = mx.vjp(f, [mx.array(xn, dtype=mx.float64)], [mx.array(cot, dtype=mx.float64)])
        v, g, gref = np.array(v), np.array(g), gref * cot[:, None]
        assert np.array_equal(np.isnan(v), np.isnan(ref)) and np.array_equal(np.isinf(v), np.isinf(ref))
        assert np.array_equal(np.isnan(g), np.isnan(gref)) and np.array_equal(np.isinf(g), np.isinf(gref))
        fin, gfin = np.isfinite(ref), np.isfinite(gref)
        assert np.allclose(v[fin], ref[fin], rtol=1e-12) and np.allclose(g[gfin], gref[gfin], rtol=1e-12)


def test_margins_that_overflow_the_input_dtype_raise_as_torch():
    # torch converts hinge_embedding's and multi_margin's margin to the
    # input's dtype and refuses a finite one that overflows it; inf passes.
    # multi_margin has no half kernel in torch: half inputs get its float32
    # result, so the margin must fit float32 there
    x = _x((2, 3))
    t = mx.array([0, 2])
    for dtype, big in [(mx.float32, 1e39), (mx.float16, 7e4), (mx.bfloat16, -3.5e38)]:
        xd = x.astype(dtype)
        with pytest.raises(ValueError, match=r"`margin` must fit in .* without overflow") as err:
            F.hinge_embedding_loss(xd, _sign((2, 3)), margin=big)
        assert isinstance(err.value, RuntimeError)
        # one element too (torch's one-element path skips its check: a listed difference)
        with pytest.raises(ValueError, match=r"`margin` must fit in .* without overflow"):
            F.hinge_embedding_loss(xd[:1, 0], mx.array([1]), margin=big)
        if dtype != mx.float16:
            with pytest.raises(RuntimeError, match=r"multi_margin_loss: `margin` must fit in float32"):
                F.multi_margin_loss(xd, t, margin=big)
    xd = x.astype(mx.float64)
    assert np.isfinite(F.hinge_embedding_loss(xd, _sign((2, 3)), margin=1e39).item())
    assert F.multi_margin_loss(x, t, margin=float("inf")).item() == float("inf")
    assert F.hinge_embedding_loss(x.astype(mx.float16), _sign((2, 3)), margin=65504.0).dtype == mx.float16



@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_multi_margin_half_margin_beyond_the_dtype_is_the_float32_result_rounded(dtype):
    # no half kernel in torch: a margin beyond float16's range computes in
    # float32 and rounds once (inf where the loss overflows the dtype)
    x, t = _x((3, 4)).astype(dtype), mx.array([0, 3, 1])
    for margin, red in [(7e4, "none"), (1e6, "none"), (1e6, "mean"), (1e6, "sum")]:
        ours = F.multi_margin_loss(x, t, margin=margin, reduction=red)
        ref = F.multi_margin_loss(x.astype(mx.float32), t, margin=margin, reduction=red).astype(dtype)
        assert ours.dtype == dtype and np.array_equal(np.array(ours.astype(mx.float32)), np.array(ref.astype(mx.float32)))
    assert (F.multi_margin_loss(x, t, margin=1e6).item() == math.inf) == (dtype == mx.float16)
    g = mx.grad(lambda a: F.multi_margin_loss(a, t, margin=1e6))(x)
    g32 = mx.grad(lambda a: F.multi_margin_loss(a, t, margin=1e6))(x.astype(mx.float32))
    assert g.dtype == dtype and np.array_equal(np.array(g.astype(mx.float32)), np.array(g32.astype(dtype).astype(mx.float32)))

def test_margin_ranking_is_its_definition_and_broadcasts():
    a, b, y = _x((3, 1), seed=5), _x((1, 4), seed=6), _sign((3, 4))
    ref = np.maximum(0.0, -np.array(y) * (np.array(a) - np.array(b)) + 0.3)
    assert np.allclose(F.margin_ranking_loss(a, b, y, margin=0.3, reduction="none"), ref, atol=1e-6)
    # swapping the inputs and the target's sign changes nothing
    assert np.allclose(
        F.margin_ranking_loss(a, b, y, reduction="none"), F.margin_ranking_loss(b, a, -y, reduction="none")
    )


def test_reductions_and_empty_inputs():
    x, y = _x(), _sign()
    none = F.hinge_embedding_loss(x, y, reduction="none")
    assert np.isclose(F.hinge_embedding_loss(x, y, reduction="sum").item(), np.array(none).sum(), rtol=1e-6)
    assert np.isclose(F.hinge_embedding_loss(x, y).item(), np.array(none).mean(), rtol=1e-6)
    assert np.isnan(F.soft_margin_loss(mx.zeros((0,)), mx.zeros((0,))).item())
    assert F.multi_margin_loss(mx.zeros((0, 3)), mx.zeros((0,), mx.int32), reduction="sum").item() == 0.0


# --------------------------------------------------------------------------
# gradients: ties follow torch; autodiff of the plain formulas elsewhere


def test_hinge_and_ranking_ties_pass_the_gradient():
    # torch's clamp_min passes the gradient at v == 0
    g = mx.grad(lambda a: F.hinge_embedding_loss(a, mx.array([-1.0]), reduction="sum"))(mx.array([1.0]))
    assert g.tolist() == [-1.0]
    g = mx.grad(lambda a: F.margin_ranking_loss(a, mx.array([1.0]), mx.array([1.0]), reduction="sum"))(
        mx.array([1.0])
    )
    assert g.tolist() == [-1.0]


def test_multi_class_ties_have_zero_gradient():
    # torch's kernels add a term only if z > 0: zero gradient at z == 0
    x = mx.array([[1.0, 0.0, 2.0, 0.5]])
    g = mx.grad(lambda a: F.multi_margin_loss(a, mx.array([0]), reduction="sum"))(x)
    assert g.tolist() == [[-0.5, 0.0, 0.25, 0.25]]
    g = mx.grad(lambda a: F.multilabel_margin_loss(a, mx.array([[0, -1, 2, 3]]), reduction="sum"))(x)
    assert g.tolist() == [[-0.5, 0.0, 0.25, 0.25]]


def test_gradients_match_autodiff_of_plain_formulas():
    x = _x((4, 6), scale=0.5)
    t = mx.array([0, 3, 5, 1])

    def plain_mm(a):
        u = mx.take_along_axis(a, t[:, None], axis=1)
        z = mx.maximum(1.0 - u + a, 0.0) ** 2
        z = mx.where(mx.arange(6) == t[:, None], 0.0, z)
        return mx.mean(mx.sum(z, axis=1) / 6)

    g1 = mx.grad(lambda a: F.multi_margin_loss(a, t, p=2))(x)
    assert np.allclose(g1, mx.grad(plain_mm)(x), atol=1e-6)

    y = mx.array(np.random.default_rng(7).uniform(size=(4, 6)).astype(np.float32))

    def plain_mlsm(a, b):
        return mx.mean(mx.mean(-(b * mx.log(mx.sigmoid(a)) + (1 - b) * mx.log(mx.sigmoid(-a))), axis=1))

    gx, gy = mx.grad(lambda a, b: F.multilabel_soft_margin_loss(a, b), argnums=(0, 1))(x, y)
    rx, ry = mx.grad(plain_mlsm, argnums=(0, 1))(x, y)
    assert np.allclose(gx, rx, atol=1e-6) and np.allclose(gy, ry, atol=1e-6)


def test_multilabel_soft_margin_backward_at_extremes():
    # the hand-written backward (sigmoid(x) - y from exp(-|x|)) against
    # autodiff of the stable logaddexp formula, in float64: ties at 0 (1/2 - y),
    # large logits of both signs, and the target's gradient -x / C
    x = mx.array([[0.0, -30.0, 30.0, -100.0, 100.0, 1.5], [2.0, -0.25, 0.0, 60.0, -60.0, 7.0]], dtype=mx.float64)
    y = mx.array([[1.0, 0.0, 1.0, 1.0, 0.0, 0.3], [0.0, 1.0, 0.5, 0.0, 1.0, 1.0]], dtype=mx.float64)

    def plain(a, b):
        per = b * mx.logaddexp(mx.zeros_like(a), -a) + (1 - b) * mx.logaddexp(mx.zeros_like(a), a)
        return mx.sum(mx.mean(per, axis=1))

    with mx.stream(mx.cpu):
        gx, gy = mx.grad(lambda a, b: F.multilabel_soft_margin_loss(a, b, reduction="sum"), argnums=(0, 1))(x, y)
        rx, ry = mx.grad(plain, argnums=(0, 1))(x, y)
        assert np.allclose(np.array(gx), np.array(rx), rtol=1e-6, atol=1e-12)
        assert np.allclose(np.array(gy), np.array(ry), rtol=1e-6, atol=1e-12)
        assert np.array(gx)[0, 0] == (0.5 - 1.0) / 6



def test_multilabel_soft_margin_nonfinite_target_and_weight_follow_the_two_term_form():
    # torch's -(y log sigmoid(x) + (1 - y) log sigmoid(-x)) term by term, and
    # its autograd's g (1 - y) sigmoid(x) - g y sigmoid(-x) and g softplus(-x)
    # - g softplus(x): an infinite target is inf - inf (NaN), an infinite
    # weight meets a zero factor (NaN), a target far outside [0, 1] cancels
    inf = np.inf
    x, y, w = np.meshgrid([-inf, -3.0, 0.0, 2.5, 40.0, inf], [-inf, -1e30, -2.0, 0.0, 0.25, 1.0, inf],
                          [1.5, inf, -inf, 0.0], indexing="ij")
    x, y, w = (a.reshape(-1, 1) for a in (x, y, w))
    cot = np.random.default_rng(3).normal(size=x.shape[0])

    def ls(v):
        return np.minimum(v, 0) - np.log1p(np.exp(-np.abs(v)))

    with np.errstate(all="ignore"):
        z = np.exp(-np.abs(x))
        s_pos = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
        s_neg = np.where(x >= 0, z / (1 + z), 1 - z / (1 + z))
        h = -(cot[:, None] * w)
        ref = (-(y * ls(x) + (1 - y) * ls(-x)) * w)[:, 0]
        ref_dx = (h * y) * s_neg - (h * (1 - y)) * s_pos
        ref_dy = h * ls(x) - h * ls(-x)

    def f(a, b):
        return F.multilabel_soft_margin_loss(a, b, weight=mx.array(w, dtype=mx.float64), reduction="none")

    args = [mx.array(x, dtype=mx.float64), mx.array(y, dtype=mx.float64)]
    (out,), (dx, dy) = mx.vjp(f, args, [mx.array(cot, dtype=mx.float64)])
    for ours, theirs in [(out, ref), (dx, ref_dx), (dy, ref_dy)]:
        ours = np.array(ours)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs))
        assert np.array_equal(np.isinf(ours), np.isinf(theirs))
        assert np.array_equal(ours[np.isinf(ours)], theirs[np.isinf(ours)])
        fin = np.isfinite(theirs)
        assert np.allclose(ours[fin], theirs[fin], rtol=1e-12, atol=1e-300)

@pytest.mark.parametrize("dtype", [mx.float64, mx.float32, mx.bfloat16])
def test_soft_margin_hand_written_backward_matches_autodiff(dtype):
    # -y exp(-y x - loss) from the forward's output, under a random
    # cotangent, against the exact derivative -g y sigmoid(-y x) in NumPy
    # float64 and (float32, bfloat16) autodiff of the plain logaddexp
    # formula (in float32 for bfloat16, as the loss computes; MLX's float64
    # exp is only float32-accurate, so float64 has NumPy alone): ties at 0
    # (-y / 2), large |y x| of both signs. The target gets no gradient
    # (torch refuses to take one).
    rng = np.random.default_rng(3)
    x_np = np.concatenate([rng.normal(size=40) * 4, [0.0, 30.0, -30.0, 100.0, -100.0, 1e-3]])
    y_np = np.where(rng.random(x_np.size) < 0.5, -1.0, 1.0)
    g_np = rng.normal(size=x_np.size)
    acc = mx.float32 if dtype == mx.bfloat16 else dtype
    x, y = mx.array(x_np).astype(dtype), mx.array(y_np).astype(dtype)
    g = mx.array(g_np).astype(dtype)
    xr, gr = np.array(x.astype(mx.float64)), np.array(g.astype(mx.float64))
    t = -y_np * xr
    sig = np.where(t >= 0, 1.0 / (1.0 + np.exp(-np.abs(t))), np.exp(-np.abs(t)) / (1.0 + np.exp(-np.abs(t))))
    exact = -gr * y_np * sig

    def plain(a):
        return mx.logaddexp(mx.zeros((), dtype=acc), -y.astype(acc) * a.astype(acc)).astype(dtype)

    tol = {mx.float64: 1e-12, mx.float32: 1e-6, mx.bfloat16: 1e-2}[dtype]
    with mx.stream(mx.cpu):
        (gx, gy) = mx.vjp(lambda a, b: F.soft_margin_loss(a, b, reduction="none"), [x, y], [g])[1]
        assert gx.dtype == dtype
        got = np.array(gx.astype(mx.float64))
        assert np.allclose(got, exact, rtol=tol, atol=tol * np.abs(exact).max())
        if dtype != mx.float64:
            (rx,) = mx.vjp(plain, [x], [g])[1]
            assert np.allclose(got, np.array(rx.astype(mx.float64)), rtol=tol, atol=tol)
        assert not np.any(np.array(gy.astype(mx.float32)))
        tie = xr == 0.0
        assert got[tie][0] == pytest.approx(-y_np[tie][0] * gr[tie][0] / 2, rel=tol)


def _hinge_where_formula(x, y, margin=1.0):
    # torch's composite, written with where and the where-form of clamp_min
    v = margin - x
    clamp = mx.where(v >= 0, v, mx.stop_gradient(mx.where(v < 0, 0.0, v)))
    return mx.where(y != 1, clamp, 0.0) + mx.where(y != -1, x, 0.0)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_hinge_embedding_hand_written_backward_matches_autodiff(reduction, dtype):
    # targets 1, -1 and neither (both terms), ties at the margin, infinities
    x = mx.array([1.0, 1.0, 1.0, 0.25, -2.0, 3.0, float("inf"), float("inf"), -float("inf"), 0.5, 0.5, -0.75])
    y = mx.array([1.0, -1.0, 0.0, 2.0, -1.0, 0.5, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
    x = x.astype(dtype)
    cot = mx.array(np.linspace(0.5, 2.0, x.size).astype(np.float32)).astype(dtype)

    def ref(a):
        loss = _hinge_where_formula(a, y)
        return loss if reduction == "none" else getattr(mx, reduction)(loss)

    def ours(a):
        return F.hinge_embedding_loss(a, y, reduction=reduction)

    c = cot if reduction == "none" else mx.array(1.5, dtype=dtype)
    (v, ), (g, ) = mx.vjp(ours, [x], [c])
    (rv, ), (rg, ) = mx.vjp(ref, [x], [c])
    assert v.dtype == dtype and g.dtype == dtype
    assert np.array_equal(np.array(v.astype(mx.float32)), np.array(rv.astype(mx.float32)), equal_nan=True)
    assert np.array_equal(np.array(g.astype(mx.float32)), np.array(rg.astype(mx.float32)), equal_nan=True)


def test_hinge_embedding_broadcast_target_and_inexact_margin():
    # the gradient is summed back over a broadcast input; a margin that
    # bfloat16 cannot hold is subtracted in float32 (one rounding at the end)
    x = _x((5,), seed=4)
    y = _sign((3, 5), seed=5)
    g = mx.grad(lambda a: F.hinge_embedding_loss(a, y, margin=0.3, reduction="sum"))(x)
    r = mx.grad(lambda a: mx.sum(_hinge_where_formula(mx.broadcast_to(a, (3, 5)), y, 0.3)))(x)
    assert g.shape == (5,) and np.allclose(g, r)
    xb = x.astype(mx.bfloat16)
    out = F.hinge_embedding_loss(xb, y, margin=0.3, reduction="none")
    ref = _hinge_where_formula(xb.astype(mx.float32), y, 0.3).astype(mx.bfloat16)
    assert out.dtype == mx.bfloat16 and np.array_equal(np.array(out.astype(mx.float32)), np.array(ref.astype(mx.float32)))


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_multi_margin_p1_hand_written_backward_matches_autodiff(dtype):
    # random rows, a tie (z == 0: no term, zero gradient) and a NaN score
    # (torch adds nothing for a NaN term); weights and a margin
    x = _x((5, 7), seed=11, scale=0.7).astype(dtype)
    x = mx.concatenate([x, mx.array([[1.0, 0.0, 2.0, 0.5, 0.0, 0.0, 0.0]], dtype=dtype)])
    t = mx.array([0, 3, 6, 1, 2, 0])
    w = mx.array(np.linspace(0.5, 1.5, 7).astype(np.float32))

    def plain(a):
        u = mx.take_along_axis(a, t[:, None], axis=1)
        z = 0.8 - u + a
        h = mx.where(z > 0, z, 0.0)
        h = mx.where(mx.arange(7) == t[:, None], 0.0, h)
        return (mx.sum(h, axis=1) / 7) * w[t]

    cot = mx.array(np.linspace(-1.0, 2.0, 6).astype(np.float32))
    (v,), (g,) = mx.vjp(lambda a: F.multi_margin_loss(a, t, margin=0.8, weight=w, reduction="none"), [x], [cot.astype(dtype)])
    (rv,), (rg,) = mx.vjp(plain, [x.astype(mx.float32)], [cot.astype(dtype).astype(mx.float32)])
    assert g.dtype == dtype
    tol = 1e-6 if dtype == mx.float32 else 2e-2
    assert np.allclose(np.array(v.astype(mx.float32)), np.array(rv), atol=tol)
    assert np.allclose(np.array(g.astype(mx.float32)), np.array(rg), atol=tol)
    # NaN: that term adds nothing to the value and gets no gradient
    xn = mx.array([[0.5, float("nan"), 0.25]])
    out, gn = mx.value_and_grad(lambda a: F.multi_margin_loss(a, mx.array([0]), reduction="sum"))(xn)
    assert np.isclose(out.item(), 0.75 / 3)
    assert np.allclose(np.array(gn), [[-1 / 3, 0.0, 1 / 3]]) and gn[0, 1].item() == 0.0


def test_multilabel_margin_gradient_matches_finite_differences():
    x = _x((3, 5), seed=9)
    y, _ = _labels(3, 5, seed=10)
    f = lambda a: F.multilabel_margin_loss(a, y, reduction="sum")  # noqa: E731
    g = np.array(mx.grad(f)(x.astype(mx.float64)))
    xn = np.array(x, dtype=np.float64)
    eps = 1e-6
    for idx in [(0, 0), (1, 2), (2, 4), (0, 3)]:
        d = np.zeros_like(xn)
        d[idx] = eps
        fd = (f(mx.array(xn + d, dtype=mx.float64)).item() - f(mx.array(xn - d, dtype=mx.float64)).item()) / (2 * eps)
        assert np.isclose(g[idx], fd, atol=1e-5)


# --------------------------------------------------------------------------
# transforms and dtypes

_CALLS = {
    "hinge_embedding_loss": lambda x: (x, _sign((4, 6))),
    "soft_margin_loss": lambda x: (x, _sign((4, 6))),
    "multilabel_soft_margin_loss": lambda x: (x, (_sign((4, 6)) > 0).astype(mx.float32)),
    "multilabel_margin_loss": lambda x: (x, _labels(4, 6)[0]),
    "multi_margin_loss": lambda x: (x, mx.array([0, 5, 2, 1])),
    "margin_ranking_loss": lambda x: (x, _x((4, 6), seed=11), _sign((4, 6))),
}


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_compile_grad_vmap(name):
    fn = getattr(F, name)
    args = _CALLS[name](_x((4, 6)))
    eager = fn(*args)
    assert np.allclose(mx.compile(lambda *a: fn(*a))(*args), eager, rtol=1e-6)
    g = mx.grad(lambda a: fn(a, *args[1:]))(args[0])
    assert g.shape == args[0].shape and np.all(np.isfinite(np.array(g)))
    rows = fn(*args, reduction="none")
    if rows.ndim == 2:  # elementwise losses: per-row sums
        rows = mx.sum(rows, axis=1)
    per_row = mx.vmap(lambda *a: fn(*a, reduction="sum"))(*args)
    assert np.allclose(per_row, rows, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(_CALLS))
@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_precision_keeps_dtype_and_is_close(name, dtype):
    fn = getattr(F, name)
    args = _CALLS[name](_x((4, 6)))
    def cast(a, dt):
        return a.astype(dt) if mx.issubdtype(a.dtype, mx.floating) else a

    half = tuple(cast(a, dtype) for a in args)
    out = fn(*half)
    assert out.dtype == dtype
    ref = fn(*(cast(a, mx.float32) for a in half)).item()
    assert abs(out.item() - ref) <= 2 * np.finfo(np.float16).eps * max(1.0, abs(ref)) * (8 if dtype == mx.bfloat16 else 1)


def test_dtype_rules():
    x = _x()
    # hinge / soft margin: the input's dtype; the others promote
    assert F.hinge_embedding_loss(x.astype(mx.float16), _sign()).dtype == mx.float16
    assert F.soft_margin_loss(x.astype(mx.float16), _sign()).dtype == mx.float16
    assert F.multilabel_soft_margin_loss(x.astype(mx.float16), mx.ones((4, 5), mx.int32),
                                         weight=mx.ones((5,))).dtype == mx.float32
    assert F.margin_ranking_loss(x.astype(mx.float16), x, _sign()).dtype == mx.float32
    # integer targets work where torch takes them
    ints = _sign().astype(mx.int32)
    assert np.allclose(F.soft_margin_loss(x, ints), F.soft_margin_loss(x, _sign()))
    assert np.allclose(F.hinge_embedding_loss(x, ints), F.hinge_embedding_loss(x, _sign()))


# --------------------------------------------------------------------------
# out-of-range class indices: errors in eager mode, NaN rows otherwise


def test_out_of_range_targets_raise_in_eager_mode(read_path):
    x = _x((3, 4))
    with pytest.raises(ValueError, match=r"multi_margin_loss: `target` must hold class indices in \[0, 4\), got 4: target out of range\."):
        F.multi_margin_loss(x, mx.array([0, 4, 1]))
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, mx.array([0, -3, 1]))
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: `target` must hold class indices in \[0, 4\) padded with -1, got 9: argument #2 'target' is out of range\."):
        F.multilabel_margin_loss(x, mx.array([[0, -1, 9, 0], [1, -1, 0, 0], [2, -1, 0, 0]]))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", ["mm_p1", "mm_p2_weight", "mlm"])
def test_checked_targets_skip_the_masks_with_the_same_bits(case, reduction):
    # In eager mode with the value check on, targets proven in range let the
    # kernels skip their range masks (fewer graph nodes per call); with the
    # check off the masked path runs. Same values and gradients, bit for bit.
    x = _x((6, 5), scale=2.0)
    if case == "mlm":
        t, _ = _labels(6, 5)
        f = lambda a: F.multilabel_margin_loss(a, t, reduction=reduction)  # noqa: E731
    else:
        t = mx.array([0, 4, 2, 2, 1, 3])
        kw = dict(p=2, weight=mx.array([0.5, 1.0, 2.0, 1.5, 0.25])) if case == "mm_p2_weight" else {}
        f = lambda a: F.multi_margin_loss(a, t, reduction=reduction, **kw)  # noqa: E731
    cot = _x((6,) if reduction == "none" else (), seed=7)
    (fast,), (g_fast,) = mx.vjp(f, [x], [cot])
    with mlx_losses.value_checks(False):
        (slow,), (g_slow,) = mx.vjp(f, [x], [cot])
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert mx.array_equal(fast, slow).item() and mx.array_equal(g_fast, g_slow).item()


@pytest.mark.parametrize("dtype", [mx.float32, mx.float16, mx.bfloat16, mx.float64])
def test_clamp_min0_is_torch_clamp_min_in_value_sign_and_gradient(dtype):
    # _clamp_min0 is one mx.maximum(0, v) (few graph nodes under mx.grad);
    # it must equal the explicit where-form of torch's clamp_min(v, 0): NaN
    # propagates, -0.0 is kept, the gradient passes at the tie and not at NaN.
    from mlx_losses.losses.margin import _clamp_min0

    def where_form(v):
        return mx.where(v >= 0, v, mx.stop_gradient(mx.where(v < 0, 0, v)))

    inf, nan = float("inf"), float("nan")
    v = mx.array([-2.0, -0.0, 0.0, 1e-30, 3.0, nan, inf, -inf, -1e-30], dtype=dtype)
    cot = mx.arange(1, 10).astype(dtype)
    with mx.stream(mx.cpu):
        a, b = _clamp_min0(v), where_form(v)
        ga = mx.grad(lambda u: mx.sum(_clamp_min0(u) * cot))(v)
        gb = mx.grad(lambda u: mx.sum(where_form(u) * cot))(v)
    assert a.dtype == b.dtype == dtype
    assert mx.array_equal(a, b, equal_nan=True).item()
    assert np.array_equal(np.signbit(np.array(a.astype(mx.float32))),
                          np.signbit(np.array(b.astype(mx.float32))))
    assert mx.array_equal(ga, gb, equal_nan=True).item()
    assert ga.tolist()[1:3] == [2.0, 3.0] and ga.tolist()[5] == 0.0  # tie passes, NaN does not


def test_out_of_range_targets_give_nan_rows_when_unchecked():
    x = _x((3, 4))
    bad_mm = mx.array([0, 4, 1])
    bad_mlm = mx.array([[0, -1, 0, 0], [7, -1, 0, 0], [2, -1, 0, 0]])
    with mlx_losses.value_checks(False):
        mm = F.multi_margin_loss(x, bad_mm, reduction="none")
        mlm = F.multilabel_margin_loss(x, bad_mlm, reduction="none")
    assert np.isnan(np.array(mm)).tolist() == [False, True, False]
    assert np.isnan(np.array(mlm)).tolist() == [False, True, False]
    # under mx.compile the check skips itself; the row is NaN too
    out = mx.compile(lambda a, t: F.multi_margin_loss(a, t, reduction="none"))(x, bad_mm)
    assert np.isnan(np.array(out)).tolist() == [False, True, False]


@pytest.mark.parametrize("dtype", [mx.int32, mx.int64, mx.uint8, mx.uint64])
@pytest.mark.parametrize("mode", ["checks_off", "compiled"])
def test_out_of_range_indices_never_read_out_of_bounds(dtype, mode):
    # Unchecked (value checks off, or traced by mx.compile), every index
    # outside [0, C) (multilabel: [-1, C)) gives a NaN loss row and NaN in
    # that row's gradient, in every integer dtype, including values an int32
    # cast would wrap into range (2**32 + 1 is no 1); the other rows keep
    # their values and gradients.
    info = mx.iinfo(dtype)
    bad_values = [v for v in (-2, -7, 4, 11, 2**31 - 1, -(2**31), 2**32 + 1, 2**40, info.max, info.min)
                  if info.min <= v <= info.max and v not in (-1, 0, 1, 2, 3)]
    x = _x((3, 4), seed=6)
    cot = mx.array([0.5, -1.0, 2.0])

    np_dtype = np.dtype(str(dtype).split(".")[-1])

    def run(f, t):
        def step(a, t, c):
            (v,), (g,) = mx.vjp(lambda a: f(a, t), [a], [c])
            return v, g

        if mode == "compiled":  # the whole step traced: the check skips itself
            step = mx.compile(step)
        with mlx_losses.value_checks(mode != "checks_off"):
            v, g = step(x, mx.array(np.array(t, dtype=np_dtype)), cot)
        return np.array(v), np.array(g)

    mm = lambda a, t: F.multi_margin_loss(a, t, p=2, reduction="none")  # noqa: E731
    mlm = lambda a, t: F.multilabel_margin_loss(a, t, reduction="none")  # noqa: E731
    good_mm = [0, 3, 2]
    good_mlm = [[0, -1, 0, 0], [3, 1, -1, 0], [2, 2, 3, -1]] if info.min < 0 else \
        [[0, 0, 0, 0], [3, 1, 1, 1], [2, 2, 3, 3]]
    v_mm, g_mm = run(mm, good_mm)
    v_mlm, g_mlm = run(mlm, good_mlm)
    for bad in bad_values:
        rows = [list(r) for r in good_mlm]
        rows[1][3] = bad  # after the first -1 (signed) or not: torch rejects it anywhere
        for f, t, v_ok, g_ok in ((mm, [good_mm[0], bad, good_mm[2]], v_mm, g_mm), (mlm, rows, v_mlm, g_mlm)):
            v, g = run(f, t)
            assert np.isnan(v).tolist() == [False, True, False]
            assert np.isnan(g[1]).all() and np.isfinite(g[[0, 2]]).all()
            assert np.array_equal(v[[0, 2]], v_ok[[0, 2]]) and np.array_equal(g[[0, 2]], g_ok[[0, 2]])


# --------------------------------------------------------------------------
# Modules


def test_modules_equal_functional():
    x, y = _x((4, 6)), _sign((4, 6))
    lab = _labels(4, 6)[0]
    t = mx.array([0, 5, 2, 1])
    w = mx.abs(_x((6,), seed=12)) + 0.1
    pairs = [
        (mlx_losses.HingeEmbeddingLoss(margin=0.5)(x, y), F.hinge_embedding_loss(x, y, margin=0.5)),
        (mlx_losses.SoftMarginLoss(reduction="sum")(x, y), F.soft_margin_loss(x, y, reduction="sum")),
        (mlx_losses.MultiLabelMarginLoss()(x, lab), F.multilabel_margin_loss(x, lab)),
        (mlx_losses.MultiMarginLoss(p=2, margin=0.5, weight=w)(x, t),
         F.multi_margin_loss(x, t, p=2, margin=0.5, weight=w)),
        (mlx_losses.MarginRankingLoss(margin=0.1)(x, x[::-1], y),
         F.margin_ranking_loss(x, x[::-1], y, margin=0.1)),
    ]
    yb = (y > 0).astype(mx.float32)
    pairs.append((mlx_losses.MultiLabelSoftMarginLoss(weight=w)(x, yb), F.multilabel_soft_margin_loss(x, yb, weight=w)))
    for mod, fun in pairs:
        assert mod.item() == fun.item()


def test_module_repr_and_frozen_weight():
    w = mx.ones((4,))
    m = mlx_losses.MultiMarginLoss(p=2, margin=0.5, weight=w, reduction="sum")
    assert repr(m) == "MultiMarginLoss(weight=array(shape=(4,), dtype=float32), reduction='sum', p=2, margin=0.5)"
    assert m.trainable_parameters() == {} and "weight" in m.parameters()
    s = mlx_losses.MultiLabelSoftMarginLoss(weight=w)
    assert s.trainable_parameters() == {} and "weight" in s.parameters()
    assert repr(mlx_losses.HingeEmbeddingLoss()) == "HingeEmbeddingLoss(reduction='mean', margin=1.0)"
    assert repr(mlx_losses.MarginRankingLoss()) == "MarginRankingLoss(reduction='mean', margin=0.0)"
    assert repr(mlx_losses.SoftMarginLoss(reduction="none")) == "SoftMarginLoss(reduction='none')"
    assert repr(mlx_losses.MultiLabelMarginLoss()) == "MultiLabelMarginLoss(reduction='mean')"


def test_legacy_arguments_map_once_with_warning():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = mlx_losses.MultiMarginLoss(size_average=False)
    assert m.reduction == "sum"
    x = _x((3, 4))
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.multilabel_margin_loss(x, mx.zeros((3, 4), mx.int32), reduce=False)
    assert out.shape == (3,)


# --------------------------------------------------------------------------
# errors: type and message

_X34 = _x((3, 4))


@pytest.mark.parametrize(
    "call, err, pattern",
    [
        (lambda: F.hinge_embedding_loss(_X34, _sign((3, 4)), reduction="avg"), ValueError,
         r"hinge_embedding_loss: `reduction` must be one of 'none', 'mean', 'sum', got 'avg': avg is not a valid value for reduction\."),
        (lambda: F.hinge_embedding_loss(_X34, _sign((3, 4)), margin="1"), TypeError,
         r"hinge_embedding_loss: `margin` must be a number, got str\."),
        (lambda: F.soft_margin_loss(_X34[0], _sign((3, 4))), ValueError,
         r"soft_margin_loss: `target` must broadcast to the shape of `input`, \(4,\), got \(3, 4\): output with shape \[4\] doesn't match the broadcast shape \[3, 4\]\."),
        (lambda: F.soft_margin_loss(_X34.astype(mx.int32), _sign((3, 4))), TypeError,
         r"soft_margin_loss: `input` must have a floating dtype, got int32\."),
        (lambda: F.multilabel_soft_margin_loss(_X34, mx.ones((3, 4), mx.bool_)), TypeError,
         r"multilabel_soft_margin_loss: `target` must have a floating or integer dtype, got bool\."),
        (lambda: F.multilabel_soft_margin_loss(_X34[0, 0], mx.array(1.0)), ValueError,
         r"multilabel_soft_margin_loss: `input` must have a class dimension"),
        (lambda: F.multilabel_margin_loss(_X34, mx.zeros((3, 4))), TypeError,
         r"multilabel_margin_loss: `target` must have an integer dtype \(class indices\), got float32\."),
        (lambda: F.multilabel_margin_loss(_X34, mx.zeros((3, 3), mx.int32)), ValueError,
         r"multilabel_margin_loss: `target` must have the shape of `input`, \(3, 4\), got \(3, 3\) \(inconsistent target size\)\."),
        (lambda: F.multilabel_margin_loss(mx.zeros((2, 3, 4)), mx.zeros((2, 3, 4), mx.int32)), ValueError,
         r"multilabel_margin_loss: `input` must be \(C\) or \(N, C\) with C > 0"),
        (lambda: F.multi_margin_loss(_X34, mx.array([0, 1, 2]), p=3), ValueError,
         r"multi_margin_loss: `p` must be 1 or 2, got 3: only p == 1 and p == 2 supported\."),
        (lambda: F.multi_margin_loss(_X34, mx.array([0, 1])), ValueError,
         r"multi_margin_loss: `target` must have shape \(3,\) for `input` of shape \(3, 4\)"),
        (lambda: F.multi_margin_loss(_X34, mx.array([0, 1, 2]), weight=mx.ones((2, 2))), ValueError,
         r"multi_margin_loss: `weight` must be 1-D \(weight must be one-dimensional\), got 2-D"),
        (lambda: F.multi_margin_loss(_X34, mx.array([0, 1, 2]), weight=mx.ones((3,))), ValueError,
         r"multi_margin_loss: `weight` must have shape \(4,\) \(inconsistent weight size\), got \(3,\)\."),
        (lambda: mlx_losses.MultiMarginLoss(p=0), ValueError,
         r"MultiMarginLoss: `p` must be 1 or 2, got 0: only p == 1 and p == 2 supported\."),
        (lambda: mlx_losses.MultiMarginLoss(weight=mx.ones((2, 2))), ValueError,
         r"MultiMarginLoss: `weight` must be None or a 1-D array, got 2-D"),
        (lambda: F.margin_ranking_loss(_X34, _X34[0], _sign((3, 4))), ValueError,
         r"margin_ranking_loss: `input1`, `input2` and `target` must have the same number of dimensions \(All input tensors should have same dimension\), got input1: \(3, 4\), input2: \(4,\), target: \(3, 4\)\."),
        (lambda: F.margin_ranking_loss(_X34, _X34[:, :3], _sign((3, 4))), ValueError,
         r"margin_ranking_loss: `input1` and `input2` and `target` must be broadcastable"),
    ],
)
def test_errors_name_the_argument(call, err, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(err, match=pattern):
            call()


def test_shape_errors_are_runtime_errors_too():
    with pytest.raises(RuntimeError):
        F.multi_margin_loss(_X34, mx.array([0, 1]))
    with pytest.raises(RuntimeError):
        F.margin_ranking_loss(_X34, _X34[0], _sign((3, 4)))


def test_multi_margin_p2_gradient_near_the_float32_limit_is_finite():
    # x_i near float32's largest value: 2 z overflows, the gradient (2 z / C) fits
    x = mx.array([3.3895313892515355e38, 0.0], dtype=mx.bfloat16)
    t = mx.array(1)
    g = mx.grad(lambda x: F.multi_margin_loss(x, t, p=2, reduction="sum"))(x)
    z = 1.0 - 0.0 + float(x[0].astype(mx.float32).item())
    want = 2.0 * z / 2
    got = g.astype(mx.float32).tolist()
    assert math.isfinite(got[0]) and abs(got[0] - want) <= 1e-2 * want, got
    assert math.isfinite(got[1]) and abs(got[1] + want) <= 1e-2 * want, got
