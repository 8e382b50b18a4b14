"""Embedding losses without torch: identities, Modules, transforms, errors."""

import math

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F
from mlx_losses._validation import ShapeError


def _arrays(*shapes, seed=0, dtype=mx.float32):
    rng = np.random.default_rng(seed)
    return [mx.array(rng.normal(size=s).astype(np.float32)).astype(dtype) for s in shapes]


def _np(x):
    return np.array(x.astype(mx.float32) if x.dtype != mx.float64 else x, dtype=np.float64)


# --------------------------------------------------------------------------
# pairwise_distance


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 1.5, 0.5, math.inf])
def test_pairwise_distance_is_its_definition(p):
    x, y = _arrays((5, 7), (5, 7))
    d = np.abs(_np(x) - _np(y) + 1e-6)
    ref = d.max(-1) if p == math.inf else (d**p).sum(-1) ** (1 / p)
    assert np.allclose(F.pairwise_distance(x, y, p=p), ref, rtol=2e-5)


def test_pairwise_distance_p0_counts_and_neg_inf_is_min():
    x = mx.array([[1.0, 2.0, 3.0]])
    y = mx.array([[1.0, 0.0, 2.5]])
    assert F.pairwise_distance(x, y, p=0.0, eps=0.0).item() == 2.0
    assert F.pairwise_distance(x, y, p=-math.inf, eps=0.0).item() == 0.0
    assert F.pairwise_distance(x, y, p=math.inf, eps=0.0).item() == 2.0


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 0.5, -1.5, math.inf, -math.inf])
def test_norm_over_one_element_is_its_magnitude(p):
    # torch's norm of a single element is |x| for every p (no x ** p to
    # overflow or underflow), with the gradient of its formulas: sign(x),
    # 0 at x = 0
    x = mx.array([[-1e30], [3.0], [1e-30], [0.0], [-0.5]])
    out = F.pairwise_distance(x, mx.zeros((5, 1)), p=p, eps=0.0)
    assert np.array_equal(np.array(out), np.abs(np.array(x)[:, 0]))
    g = mx.grad(lambda a: mx.sum(F.pairwise_distance(a, mx.zeros((2, 1)), p=p, eps=0.0)))(x[[1, 4, 3]][:2])
    assert np.allclose(np.array(g).ravel(), [1.0, -1.0], rtol=1e-6, atol=0)
    g0 = mx.grad(lambda a: mx.sum(F.pairwise_distance(a, mx.zeros((1, 1)), p=p, eps=0.0)))(x[3:4])
    assert np.array(g0).ravel().tolist() == [0.0]
    # the same in cosine_similarity and the triplet loss (one feature)
    assert F.cosine_similarity(x[:1], mx.array([[2.0]])).item() == -1.0
    trip = F.triplet_margin_loss(mx.zeros((1, 1)), x[:1], mx.ones((1, 1)), eps=0.0)
    assert trip.item() == pytest.approx(1e30, rel=1e-6)


def test_inf_norm_gradient_splits_ties_and_gives_nan_elements_zero():
    # torch: the gradient of max |d| goes to the elements equal to it, split
    # evenly; a NaN element makes the norm NaN, takes a share and gives 0
    nan = float("nan")
    x = mx.array([[1.0, -3.0, 3.0, 0.5], [1.0, nan, -2.0, 0.5]])
    for p, want in ((math.inf, [[0.0, -0.5, 0.5, 0.0], [0.0] * 4]),
                    (-math.inf, [[0.0, 0.0, 0.0, 1.0], [0.0] * 4])):
        out = F.pairwise_distance(x, mx.zeros((2, 4)), p=p, eps=0.0)
        assert np.isnan(np.array(out)).tolist() == [False, True]
        g = mx.grad(lambda a: mx.sum(F.pairwise_distance(a, mx.zeros((2, 4)), p=p, eps=0.0)))(x)
        assert np.array(g).tolist() == want


def test_cosine_embedding_overflowing_magnitude_gives_torchs_nan_gradient():
    # float32 |x1|^2 = inf: cos = 0 and, through torch's chain (denominator
    # sqrt(m1 m2)), a NaN gradient for x2 (inf * 0) and 0 for x1
    x1, x2 = mx.array([[1e30, 0.0], [1.0, 2.0]]), mx.array([[1.0, 2.0], [0.5, -1.0]])
    y = mx.array([-1.0, 1.0])
    out = F.cosine_embedding_loss(x1, x2, y, margin=-1.0, reduction="none")
    assert out[0].item() == 1.0
    g1, g2 = mx.grad(lambda a, b: F.cosine_embedding_loss(a, b, y, margin=-1.0, reduction="sum"),
                     argnums=(0, 1))(x1, x2)
    assert np.array(g1)[0].tolist() == [0.0, 0.0] and np.isnan(np.array(g2)[0]).all()
    assert np.isfinite(np.array(g1)[1]).all() and np.isfinite(np.array(g2)[1]).all()


def test_pairwise_distance_symmetry_and_triangle_inequality():
    x, y, z = _arrays((8, 6), (8, 6), (8, 6))
    for p in (1.0, 2.0, 3.0, math.inf):
        dxy = _np(F.pairwise_distance(x, y, p=p, eps=0.0))
        dyx = _np(F.pairwise_distance(y, x, p=p, eps=0.0))
        dyz = _np(F.pairwise_distance(y, z, p=p, eps=0.0))
        dxz = _np(F.pairwise_distance(x, z, p=p, eps=0.0))
        assert np.allclose(dxy, dyx, rtol=1e-6)
        assert np.all(dxz <= dxy + dyz + 1e-5)


def test_pairwise_distance_equal_inputs_is_eps_times_root_d():
    (x,) = _arrays((3, 16))
    out = F.pairwise_distance(x, x)
    assert np.allclose(out, 1e-6 * 4.0, rtol=1e-5)


def test_pairwise_distance_shapes_and_broadcast():
    x, y = _arrays((4, 6), (6,))
    assert F.pairwise_distance(x, y).shape == (4,)
    assert F.pairwise_distance(x, y, keepdim=True).shape == (4, 1)
    assert F.pairwise_distance(y, y).shape == ()
    assert F.pairwise_distance(mx.array(1.0), mx.array(3.0), eps=0.0).item() == 2.0
    a, b = _arrays((2, 1, 6), (3, 6))
    assert F.pairwise_distance(a, b).shape == (2, 3)


def test_pairwise_distance_gradient_at_zero_difference_is_finite():
    (x,) = _arrays((3, 4))
    for p in (2.0, 1.0, 3.0, 0.5, -1.0, math.inf):
        g = mx.grad(lambda a: F.pairwise_distance(a, x, p=p, eps=0.0).sum())(x)
        assert np.all(np.isfinite(_np(g))), p
        assert np.all(_np(g) == 0.0), p  # torch masks the undefined derivative to 0
    # with eps the difference is eps*1 and the 2-norm's gradient is 1/sqrt(D)
    g = mx.grad(lambda a: F.pairwise_distance(a, x).sum())(x)
    assert np.allclose(g, 0.5, rtol=1e-5)


def test_pairwise_distance_gradient_matches_autodiff_away_from_zero():
    x, y = _arrays((4, 5), (4, 5), seed=3)
    for p in (2.0, 3.0, 1.5, -2.0):
        g = mx.grad(lambda a: F.pairwise_distance(a, y, p=p).sum())(x)
        plain = lambda a: mx.sum(mx.power(mx.sum(mx.power(mx.abs(a - y + 1e-6), p), axis=-1), 1 / p))
        assert np.allclose(g, mx.grad(plain)(x), rtol=1e-4, atol=1e-6), p


@pytest.mark.parametrize("p", [-1.5, -1.0, math.inf, -math.inf])
@pytest.mark.parametrize("shape", [(2, 0), (0,), (0, 0)])
def test_a_norm_without_identity_over_an_empty_dim_raises_ours(shape, p):
    # Regression: inf / -inf gave MLX's "[max] Cannot max reduce" error, and
    # p < 0 gave inf (the triplet loss NaN); torch refuses all of them.
    x = mx.zeros(shape)
    with pytest.raises(ValueError, match=r"^pairwise_distance: `p` must be finite and "
                       r"non-negative for an empty last dimension .*, got .* with inputs of shape"):
        F.pairwise_distance(x, x, p=p)
    for swap in (False, True):
        with pytest.raises(ValueError, match=r"^triplet_margin_loss: `p` must be finite and non-neg"):
            F.triplet_margin_loss(x, x, x, p=p, swap=swap)


@pytest.mark.parametrize("p", [math.nan, 0.0, 0.5, 1.0, 2.0, 3.0])
def test_a_norm_over_an_empty_dim_is_zero_for_any_other_p(p):
    # torch: the norm of zero elements is 0 for every p it accepts (NaN too)
    x = mx.zeros((2, 0))
    got = F.pairwise_distance(x, x, p=p)
    assert got.shape == (2,) and got.tolist() == [0.0, 0.0]
    assert F.pairwise_distance(x, x, p=p, keepdim=True).shape == (2, 1)
    assert F.triplet_margin_loss(x, x, x, p=p, margin=0.5).item() == 0.5
    g = mx.grad(lambda a: F.triplet_margin_loss(a, x, x, p=p, swap=True))(x)
    assert g.shape == (2, 0)


# --------------------------------------------------------------------------
# cosine_similarity


def test_cosine_similarity_of_x_with_itself_is_one_and_scale_invariant():
    x, y = _arrays((6, 9), (6, 9))
    assert np.allclose(F.cosine_similarity(x, x), 1.0, atol=1e-6)
    base = _np(F.cosine_similarity(x, y))
    assert np.allclose(F.cosine_similarity(3.5 * x, 0.25 * y), base, atol=1e-6)
    assert np.allclose(F.cosine_similarity(-x, y), -base, atol=1e-6)
    assert np.allclose(F.cosine_similarity(y, x), base, atol=1e-7)
    assert np.all(np.abs(base) <= 1.0)


def test_cosine_similarity_is_its_definition_and_dims():
    x, y = _arrays((2, 3, 4), (2, 3, 4))
    a, b = _np(x), _np(y)
    for dim in (0, 1, 2, -1):
        ref = (a * b).sum(dim) / (np.linalg.norm(a, axis=dim) * np.linalg.norm(b, axis=dim))
        assert np.allclose(F.cosine_similarity(x, y, dim=dim), ref, atol=1e-6)


def test_cosine_similarity_eps_clamps_each_norm():
    x = mx.array([[1e-3, 0.0]])
    y = mx.array([[2.0, 0.0]])
    # max(||x||, eps) = eps = 0.1, ||y|| = 2: (1e-3 * 2) / (0.1 * 2) = 0.01
    assert np.isclose(F.cosine_similarity(x, y, eps=0.1).item(), 0.01, rtol=1e-6)


def test_cosine_similarity_zero_vector_has_finite_gradient():
    zero = mx.zeros((2, 3))
    (y,) = _arrays((2, 3))
    gx, gy = mx.grad(lambda a, b: F.cosine_similarity(a, b).sum(), argnums=(0, 1))(zero, y)
    assert F.cosine_similarity(zero, y).tolist() == [0.0, 0.0]
    # d/dx of sum(x/eps * y/|y|) at x = 0: y / (eps |y|); the norm's part is 0
    ref = _np(y) / (1e-8 * np.linalg.norm(_np(y), axis=1, keepdims=True))
    assert np.allclose(gx, ref, rtol=1e-5)
    assert np.all(_np(gy) == 0.0)


def test_cosine_similarity_gradient_matches_autodiff_of_plain_formula():
    x, y = _arrays((4, 5), (4, 5), seed=5)

    def plain(a, b):
        na = mx.sqrt(mx.sum(a * a, axis=1, keepdims=True))
        nb = mx.sqrt(mx.sum(b * b, axis=1, keepdims=True))
        return mx.sum((a / na) * (b / nb), axis=1)

    cot = _arrays((4,), seed=6)[0]
    _, g = mx.vjp(lambda a, b: F.cosine_similarity(a, b), [x, y], [cot])
    _, r = mx.vjp(plain, [x, y], [cot])
    for a, b in zip(g, r):
        assert np.allclose(a, b, atol=1e-6)


def test_cosine_similarity_gradient_at_tiny_norms_is_finite():
    # Regression: the gradient through x / ||x|| was MLX's -g x / (n n), and
    # n n underflows to 0 for n < ~1e-19 in float32 (NaN); torch's order
    # -g (x / n) / n keeps it. Over a dim of size 1, cos = sign(x1) sign(x2):
    # gradient 0 for nonzero inputs.
    x1 = mx.array([[0.125, -2.0, 3.0]])
    x2 = mx.array([[1.1754944e-38, 3e-20, -1e-30]])
    g1, g2 = mx.grad(lambda a, b: F.cosine_similarity(a, b, dim=0, eps=0.0).sum(), argnums=(0, 1))(x1, x2)
    assert g1.tolist() == [[0.0, 0.0, 0.0]] and g2.tolist() == [[0.0, 0.0, 0.0]]


# --------------------------------------------------------------------------
# cosine_embedding_loss


def test_cosine_embedding_loss_is_its_definition():
    x, y = _arrays((6, 5), (6, 5))
    t = mx.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    a, b = _np(x), _np(y)
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    ref = np.where(_np(t) == 1, 1 - cos, np.maximum(cos - 0.2, 0))
    assert np.allclose(F.cosine_embedding_loss(x, y, t, margin=0.2, reduction="none"), ref, atol=1e-6)
    assert np.isclose(F.cosine_embedding_loss(x, y, t, margin=0.2).item(), ref.mean(), rtol=1e-5)
    assert np.isclose(F.cosine_embedding_loss(x, y, t, 0.2, reduction="sum").item(), ref.sum(), rtol=1e-5)


def test_cosine_embedding_loss_identities():
    (x,) = _arrays((4, 3))
    ones = mx.ones((4,))
    assert np.allclose(F.cosine_embedding_loss(x, 2.0 * x, ones, reduction="none"), 0.0, atol=1e-6)
    assert np.allclose(F.cosine_embedding_loss(x, -x, ones, reduction="none"), 2.0, atol=1e-6)
    # y = -1: zero once cos <= margin
    assert np.allclose(F.cosine_embedding_loss(x, -x, -ones, reduction="none"), 0.0)
    # labels other than +-1 contribute 0 (torch)
    assert np.allclose(F.cosine_embedding_loss(x, x, mx.zeros((4,)), reduction="none"), 0.0)


def test_cosine_embedding_loss_unbatched_and_zero_vectors():
    x, y = _arrays((5,), (5,))
    out = F.cosine_embedding_loss(x, y, mx.array(1.0), reduction="none")
    batched = F.cosine_embedding_loss(x[None], y[None], mx.array([1.0]), reduction="none")
    assert out.shape == () and np.isclose(out.item(), batched.item())
    zero = mx.zeros((2, 5))
    yy = mx.stack([y, y])
    loss = F.cosine_embedding_loss(zero, yy, mx.array([1.0, -1.0]), reduction="none")
    assert loss.tolist() == [1.0, 0.0]
    g = mx.grad(lambda a: F.cosine_embedding_loss(a, yy, mx.array([1.0, -1.0])))(zero)
    assert np.all(np.isfinite(_np(g)))


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_cosine_embedding_loss_half_inputs_are_computed_in_float32(dtype):
    # Regression: the squares of small half values underflowed (cos = 2.03,
    # loss 1.73 for a true 0.597) and the gradient's row factors overflowed.
    scale = np.array([[2e-6], [1e-3], [1.0], [3e2], [5e-5], [1e-4]])
    rng = np.random.default_rng(3)
    x = mx.array((rng.normal(size=(6, 4)) * scale).astype(np.float32)).astype(dtype)
    y = mx.array(rng.normal(size=(6, 4)).astype(np.float32)).astype(dtype)
    t = mx.array([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0])
    a, b = _np(x), _np(y)
    m1, m2 = (a * a).sum(1) + 1e-12, (b * b).sum(1) + 1e-12
    cos = (a * b).sum(1) / np.sqrt(m1 * m2)
    ref = np.where(_np(t) == 1, 1 - cos, np.maximum(cos - 0.3, 0))
    loss = F.cosine_embedding_loss(x, y, t, margin=0.3, reduction="none")
    assert loss.dtype == dtype
    tol = 1e-2 if dtype == mx.bfloat16 else 1e-3
    np.testing.assert_allclose(_np(loss), ref, rtol=tol, atol=tol)
    # d cos / d x1 = x2 / denom - cos x1 / m1; the loss's sign per target
    c = np.where(_np(t) == 1, -1.0, (cos - 0.3 >= 0).astype(float))[:, None]
    want = c * (b / np.sqrt(m1 * m2)[:, None] - (cos / m1)[:, None] * a)
    g = mx.grad(lambda u: F.cosine_embedding_loss(u, y, t, margin=0.3, reduction="sum"))(x)
    assert g.dtype == dtype
    np.testing.assert_allclose(_np(g), want, rtol=4 * tol, atol=1e-30)


def test_cosine_embedding_loss_tie_at_hinge_passes_gradient():
    x1, x2 = mx.array([[1.0, 0.0]]), mx.array([[0.0, 2.0]])  # cos == 0 == margin
    g = mx.grad(lambda a: F.cosine_embedding_loss(a, x2, mx.array([-1.0])))(x1)
    # d cos / d x1 = x2 / (|x1| |x2|) - cos x1 / |x1|^2 = (0, 1)
    assert np.allclose(g, [[0.0, 1.0]], atol=1e-6)


# --------------------------------------------------------------------------
# triplet losses


def test_triplet_margin_loss_is_its_definition():
    a, p, n = _arrays((6, 5), (6, 5), (6, 5))
    A, P, N = _np(a), _np(p), _np(n)
    dp = np.linalg.norm(A - P + 1e-6, axis=1)
    dn = np.linalg.norm(A - N + 1e-6, axis=1)
    ds = np.linalg.norm(P - N + 1e-6, axis=1)
    ref = np.maximum(1.0 + dp - dn, 0)
    assert np.allclose(F.triplet_margin_loss(a, p, n, reduction="none"), ref, atol=1e-5)
    ref_swap = np.maximum(0.5 + dp - np.minimum(dn, ds), 0)
    out = F.triplet_margin_loss(a, p, n, margin=0.5, swap=True, reduction="none")
    assert np.allclose(out, ref_swap, atol=1e-5)


def test_triplet_margin_loss_equals_with_distance_default_and_lambda():
    a, p, n = _arrays((6, 5), (6, 5), (6, 5), seed=2)
    for p_norm, swap in ((2.0, False), (1.0, True), (3.0, False)):
        ours = F.triplet_margin_loss(a, p, n, p=p_norm, swap=swap, reduction="none")
        dist = lambda x, y: F.pairwise_distance(x, y, p=p_norm)
        other = F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=dist, swap=swap, reduction="none"
        )
        assert np.allclose(ours, other, atol=1e-6)
    default = F.triplet_margin_with_distance_loss(a, p, n)
    assert np.isclose(default.item(), F.triplet_margin_loss(a, p, n).item(), rtol=1e-6)


def test_triplet_anchor_equal_positive_and_hinge_tie_gradients():
    a = mx.array([[0.0, 0.0], [1.0, 2.0]])
    p = mx.array([[1.0, 0.0], [1.0, 2.0]])
    n = mx.array([[2.0, 0.0], [5.0, 5.0]])
    grads = mx.grad(
        lambda x, y, z: F.triplet_margin_loss(x, y, z, eps=0.0, reduction="sum"), argnums=(0, 1, 2)
    )(a, p, n)
    for g in grads:
        assert np.all(np.isfinite(_np(g)))
    # row 0 is a tie (1 + 1 - 2 == 0): gradient 1 through the hinge, as torch
    assert np.allclose(grads[1][0], [1.0, 0.0])
    # row 1: anchor == positive and far negative: hinge inactive
    assert np.allclose(grads[1][1], [0.0, 0.0])
    # with eps, anchor == positive has a finite non-zero gradient
    n2 = mx.array([[0.5, 0.0], [1.5, 2.0]])
    g = mx.grad(lambda y: F.triplet_margin_loss(a, y, n2, reduction="sum"))(p)
    assert np.all(np.isfinite(_np(g)))
    assert np.allclose(g[1], -np.ones(2) / np.sqrt(2), atol=1e-5)


def test_triplet_swap_tie_splits_the_gradient_as_torch_minimum():
    # With swap, d(a, n) is min(d(a, n), d(p, n)); at a tie torch's minimum
    # gives each side half the gradient (MLX's gives it all to one side).
    # Row 0 ties under p = 2 and p = 1 (eps = 0), row 1 does not.
    a = mx.array([[0.0, 0.0], [0.0, 0.0]])
    p = mx.array([[3.0, 0.0], [2.0, 1.25]])
    n = mx.array([[1.5, 2.0], [0.5, 2.5]])
    linf = lambda x, y: mx.max(mx.abs(x - y), axis=-1)  # noqa: E731
    calls = {
        "p2": (lambda *t: F.triplet_margin_loss(*t, margin=5.0, eps=0.0, swap=True, reduction="none"),
               lambda x, y: mx.sqrt(mx.sum((x - y) ** 2, axis=-1))),
        "p1": (lambda *t: F.triplet_margin_loss(*t, margin=5.0, p=1, eps=0.0, swap=True, reduction="none"),
               lambda x, y: mx.sum(mx.abs(x - y), axis=-1)),
        "linf": (lambda *t: F.triplet_margin_with_distance_loss(*t, distance_function=linf, margin=5.0,
                                                               swap=True, reduction="none"), linf),
    }
    cot = mx.array([1.5, -0.5])
    for name, (ours, dist) in calls.items():
        dn, ds = dist(a, n), dist(p, n)
        assert dn[0].item() == ds[0].item() and dn[1].item() != ds[1].item(), name

        def ref(x, y, z):
            # the split written out: half to each side at the tie
            u, v = dist(x, z), dist(y, z)
            tie = mx.stop_gradient(u == v)
            low = mx.where(tie, 0.5 * (u + v), mx.minimum(u, v))
            return mx.maximum(5.0 + dist(x, y) - low, 0)

        (v,), g = mx.vjp(ours, [a, p, n], [cot])
        (rv,), rg = mx.vjp(ref, [a, p, n], [cot])
        assert np.allclose(v, rv), name
        for gi, ri in zip(g, rg):
            assert np.allclose(gi, ri, atol=1e-6), name


def test_torch_minimum_vjp_halves_ties_and_passes_nan_to_both():
    from mlx_losses.losses.embedding import _minimum

    nan = float("nan")
    a = mx.array([1.0, 2.0, 3.0, nan, 1.0, nan])
    b = mx.array([2.0, 1.0, 3.0, 1.0, nan, nan])
    cot = mx.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    (v,), (ga, gb) = mx.vjp(_minimum, [a, b], [cot])
    assert mx.array_equal(v, mx.minimum(a, b), equal_nan=True).item()
    assert ga.tolist() == [1.0, 0.0, 2.0, 8.0, 16.0, 32.0]
    assert gb.tolist() == [0.0, 2.0, 2.0, 8.0, 16.0, 32.0]


def test_triplet_margins_nan_inf_and_nonpositive_as_torch():
    # torch checks ``margin <= 0``: NaN passes and gives a NaN loss (zero
    # gradient through the hinge), inf gives inf; 0 and below raise
    a, p, n = _arrays((3, 4), (3, 4), (3, 4), seed=5)
    linf = lambda x, y: mx.max(mx.abs(x - y), axis=-1)  # noqa: E731
    calls = [
        lambda m, **kw: F.triplet_margin_loss(a, p, n, margin=m, **kw),
        lambda m, **kw: F.triplet_margin_loss(a, p, n, margin=m, p=1.0, **kw),
        lambda m, **kw: F.triplet_margin_with_distance_loss(a, p, n, margin=m, **kw),
        lambda m, **kw: F.triplet_margin_with_distance_loss(a, p, n, margin=m, distance_function=linf, **kw),
        lambda m, **kw: mlx_losses.TripletMarginLoss(margin=m, **kw)(a, p, n),
        lambda m, **kw: mlx_losses.TripletMarginWithDistanceLoss(margin=m, **kw)(a, p, n),
    ]
    for call in calls:
        for swap in (False, True):
            out = call(float("nan"), swap=swap)
            assert np.isnan(out.item())
            assert call(float("inf"), swap=swap).item() == float("inf")
            for m in (0.0, -1.0, -float("inf")):
                with pytest.raises(ValueError, match="must be greater than 0"):
                    call(m, swap=swap)
    for swap in (False, True):
        g = mx.grad(lambda x: F.triplet_margin_loss(x, p, n, margin=float("nan"), swap=swap))(a)
        assert np.array_equal(np.array(g), np.zeros((3, 4)))


def _plain_norm(d):
    # ||d|| with torch's gradient (0 at a zero vector), by autodiff
    s = mx.sum(d * d, axis=-1)
    zero = s == 0
    return mx.where(zero, 0.0, mx.sqrt(mx.where(zero, 1.0, s)))


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_triplet_hand_written_backward_matches_autodiff(reduction):
    # random rows; anchor == positive with eps = 0 and an active hinge (zero
    # norm: torch's gradient 0 there); a tie at the hinge; a broadcast negative
    a, p, n = _arrays((6, 5), (6, 5), (5,), seed=21)
    a = mx.concatenate([a, mx.array([[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])])
    p = mx.concatenate([p, mx.array([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]])])
    n = mx.broadcast_to(n, (8, 5)) * mx.array([1.0] * 6 + [0.1, 0.0])[:, None]
    n = mx.concatenate([n[:7], mx.array([[2.0, 0.0, 0.0, 0.0, 0.0]])])
    cot = mx.array(np.linspace(0.5, 2.0, 8).astype(np.float32))

    def plain(x, y, z):
        loss = mx.maximum(0.0, 1.0 + _plain_norm(x - y) - _plain_norm(x - z))
        return loss if reduction == "none" else mx.mean(loss)

    def ours(x, y, z):
        return F.triplet_margin_loss(x, y, z, eps=0.0, reduction=reduction)

    c = cot if reduction == "none" else mx.array(1.0)
    (v,), grads = mx.vjp(ours, [a, p, n], [c])
    (rv,), rgrads = mx.vjp(plain, [a, p, n], [c])
    assert np.allclose(v, rv, atol=1e-6)
    for g, r in zip(grads, rgrads):
        assert np.allclose(g, r, atol=1e-6)
    # the default distance of triplet_margin_with_distance_loss: same path
    gd = mx.grad(lambda x, y: F.triplet_margin_with_distance_loss(x, y, n), argnums=(0, 1))(a, p)
    gt = mx.grad(lambda x, y: F.triplet_margin_loss(x, y, n), argnums=(0, 1))(a, p)
    assert all(np.allclose(u, w) for u, w in zip(gd, gt))
    # broadcast inputs get gradients of their own shape
    g = mx.grad(lambda z: F.triplet_margin_loss(a, p, z))(mx.array([[0.5, 0.0, 0.0, 0.0, 0.0]]))
    assert g.shape == (1, 5)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_cosine_embedding_hand_written_backward_matches_autodiff(dtype):
    # targets 1, -1 and 0; a zero vector (cos 0, finite gradient); a tie
    # cos == margin == 0 (gradient passes, as torch's clamp_min)
    x1, x2 = _arrays((5, 4), (5, 4), seed=31)
    x1 = mx.concatenate([x1, mx.zeros((1, 4)), mx.array([[1.0, 0.0, 0.0, 0.0]])]).astype(dtype)
    x2 = mx.concatenate([x2, mx.ones((1, 4)), mx.array([[0.0, 2.0, 0.0, 0.0]])]).astype(dtype)
    t = mx.array([1, -1, 0, 1, -1, 1, -1])
    cot = mx.array(np.linspace(0.5, 2.0, 7).astype(np.float32))

    def plain(a, b):
        eps = 9.999999960041972e-13
        cos = mx.sum(a * b, axis=-1) / mx.sqrt((mx.sum(a * a, axis=-1) + eps) * (mx.sum(b * b, axis=-1) + eps))
        v = cos - 0.0
        hinge = mx.where(v >= 0, v, mx.stop_gradient(mx.where(v < 0, 0.0, v)))
        return mx.where(t == 1, 1 - cos, 0.0) + mx.where(t == -1, hinge, 0.0)

    (v,), grads = mx.vjp(lambda a, b: F.cosine_embedding_loss(a, b, t, reduction="none"), [x1, x2], [cot.astype(dtype)])
    f32 = [x1.astype(mx.float32), x2.astype(mx.float32)]
    (rv,), rgrads = mx.vjp(plain, f32, [cot.astype(dtype).astype(mx.float32)])
    tol = 1e-6 if dtype == mx.float32 else 2e-2
    assert v.dtype == dtype
    assert np.allclose(_np(v), _np(rv), atol=tol)
    for g, r in zip(grads, rgrads):
        assert g.dtype == dtype and np.allclose(_np(g), _np(r), rtol=tol, atol=tol)
    # a broadcast input gets the summed gradient
    g = mx.grad(lambda b: F.cosine_embedding_loss(x1.astype(mx.float32), b, t))(mx.ones((1, 4)))
    assert g.shape == (1, 4)


def test_triplet_with_distance_custom_callable():
    a, p, n = _arrays((4, 3), (4, 3), (4, 3), seed=4)
    l_inf = lambda x, y: mx.max(mx.abs(x - y), axis=-1)
    out = F.triplet_margin_with_distance_loss(a, p, n, distance_function=l_inf, margin=1.5, reduction="none")
    A, P, N = _np(a), _np(p), _np(n)
    ref = np.maximum(1.5 + np.abs(A - P).max(1) - np.abs(A - N).max(1), 0)
    assert np.allclose(out, ref, atol=1e-6)
    # an nn.Module works as the distance too
    mod = mlx_losses.PairwiseDistance(p=1.0)
    out = F.triplet_margin_with_distance_loss(a, p, n, distance_function=mod, reduction="none")
    assert np.allclose(out, F.triplet_margin_loss(a, p, n, p=1.0, reduction="none"), atol=1e-6)


def test_triplet_with_distance_options_are_keyword_only():
    a, p, n = _arrays((2, 3), (2, 3), (2, 3))
    with pytest.raises(TypeError):
        F.triplet_margin_with_distance_loss(a, p, n, None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        mlx_losses.TripletMarginWithDistanceLoss(None)  # type: ignore[misc]


# --------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("dtype", [mx.float16, mx.bfloat16])
def test_half_precision_keeps_dtype(dtype):
    a, p, n = _arrays((64, 32), (64, 32), (64, 32), dtype=dtype)
    t = mx.array(np.where(np.arange(64) % 2, 1.0, -1.0)).astype(dtype)
    ref_args = [x.astype(mx.float32) for x in (a, p, n)]
    for fn, args, ref in (
        (F.triplet_margin_loss, (a, p, n), F.triplet_margin_loss(*ref_args)),
        (F.cosine_embedding_loss, (a, p, t), F.cosine_embedding_loss(ref_args[0], ref_args[1], t)),
    ):
        out = fn(*args)
        assert out.dtype == dtype
        assert abs(out.item() - ref.item()) <= 2 * abs(ref.item()) * (2**-7 if dtype == mx.bfloat16 else 2**-10)
    assert F.pairwise_distance(a, p).dtype == dtype
    assert F.cosine_similarity(a, p).dtype == dtype
    assert F.pairwise_distance(a, p.astype(mx.float32)).dtype == mx.float32


# --------------------------------------------------------------------------
# Modules


def test_modules_equal_functional_and_repr():
    a, p, n = _arrays((5, 4), (5, 4), (5, 4))
    t = mx.array([1.0, -1.0, 1.0, 1.0, -1.0])
    cases = [
        (mlx_losses.PairwiseDistance(p=1.5, eps=0.0, keepdim=True), (a, p),
         F.pairwise_distance(a, p, 1.5, 0.0, True)),
        (mlx_losses.CosineSimilarity(dim=0, eps=1e-3), (a, p), F.cosine_similarity(a, p, 0, 1e-3)),
        (mlx_losses.CosineEmbeddingLoss(margin=0.1, reduction="sum"), (a, p, t),
         F.cosine_embedding_loss(a, p, t, margin=0.1, reduction="sum")),
        (mlx_losses.TripletMarginLoss(margin=0.5, p=1.0, eps=1e-3, swap=True, reduction="none"), (a, p, n),
         F.triplet_margin_loss(a, p, n, 0.5, 1.0, 1e-3, True, reduction="none")),
        (mlx_losses.TripletMarginWithDistanceLoss(margin=0.5, swap=True), (a, p, n),
         F.triplet_margin_with_distance_loss(a, p, n, margin=0.5, swap=True)),
    ]
    for module, args, ref in cases:
        assert np.array_equal(np.array(module(*args)), np.array(ref)), type(module).__name__
    assert repr(mlx_losses.PairwiseDistance()) == "PairwiseDistance(p=2.0, eps=1e-06, keepdim=False)"
    assert mlx_losses.PairwiseDistance(p=3).norm == 3  # torch's attribute name
    assert repr(mlx_losses.CosineSimilarity()) == "CosineSimilarity(dim=1, eps=1e-08)"
    assert repr(mlx_losses.CosineEmbeddingLoss()) == "CosineEmbeddingLoss(reduction='mean', margin=0.0)"
    assert repr(mlx_losses.TripletMarginLoss()) == (
        "TripletMarginLoss(reduction='mean', margin=1.0, p=2.0, eps=1e-06, swap=False)"
    )
    fn = lambda x, y: F.pairwise_distance(x, y)
    r = repr(mlx_losses.TripletMarginWithDistanceLoss(distance_function=fn, margin=2.0))
    assert r.startswith("TripletMarginWithDistanceLoss(reduction='mean', distance_function=<function")
    assert r.endswith("margin=2.0, swap=False)")


def test_modules_have_no_trainable_parameters_and_legacy_reduction():
    for module in (
        mlx_losses.CosineEmbeddingLoss(),
        mlx_losses.TripletMarginLoss(),
        mlx_losses.TripletMarginWithDistanceLoss(),
        mlx_losses.PairwiseDistance(),
        mlx_losses.CosineSimilarity(),
    ):
        assert isinstance(module, nn.Module)
        assert tree_flatten(module.trainable_parameters()) == []
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = mlx_losses.TripletMarginLoss(size_average=False)
    assert m.reduction == "sum"
    with pytest.warns(UserWarning):
        m = mlx_losses.CosineEmbeddingLoss(reduce=False)
    assert m.reduction == "none"


# --------------------------------------------------------------------------
# transforms


_FNS = {
    "pairwise_distance": (lambda a, p, n, t: F.pairwise_distance(a, p).sum()),
    "cosine_similarity": (lambda a, p, n, t: F.cosine_similarity(a, p, dim=-1).sum()),
    "cosine_embedding_loss": (lambda a, p, n, t: F.cosine_embedding_loss(a, p, t, margin=0.1)),
    "triplet_margin_loss": (lambda a, p, n, t: F.triplet_margin_loss(a, p, n, swap=True)),
    "triplet_margin_loss_p3": (lambda a, p, n, t: F.triplet_margin_loss(a, p, n, p=3.0)),
    "triplet_margin_with_distance_loss": (
        lambda a, p, n, t: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y, dim=-1), margin=0.5
        )
    ),
}


@pytest.mark.parametrize("name", sorted(_FNS))
def test_compile_grad_vmap(name):
    f = _FNS[name]
    a, p, n = _arrays((6, 5), (6, 5), (6, 5), seed=7)
    t = mx.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    eager = f(a, p, n, t)
    compiled = mx.compile(f)(a, p, n, t)
    assert np.allclose(eager, compiled, rtol=1e-6, atol=1e-7)
    g_eager = mx.grad(f, argnums=(0, 1, 2))(a, p, n, t)
    g_comp = mx.compile(mx.grad(f, argnums=(0, 1, 2)))(a, p, n, t)
    for x, y in zip(g_eager, g_comp):
        assert np.allclose(x, y, rtol=1e-5, atol=1e-7)
    # vmap over the batch: per-example losses equal the batched 'none' result
    per = mx.vmap(lambda x, y, z, w: f(x[None], y[None], z[None], w[None]))(a, p, n, t)
    rows = mx.stack([f(a[i : i + 1], p[i : i + 1], n[i : i + 1], t[i : i + 1]) for i in range(6)])
    assert np.allclose(per, rows, rtol=1e-6, atol=1e-7)


def test_vmap_of_unbatched_calls_equals_batched():
    a, p, n = _arrays((6, 5), (6, 5), (6, 5), seed=8)
    t = mx.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    v = mx.vmap(lambda x, y, z: F.triplet_margin_loss(x, y, z, reduction="none"))(a, p, n)
    assert np.allclose(v, F.triplet_margin_loss(a, p, n, reduction="none"), atol=1e-6)
    v = mx.vmap(lambda x, y, w: F.cosine_embedding_loss(x, y, w, reduction="none"))(a, p, t)
    assert np.allclose(v, F.cosine_embedding_loss(a, p, t, reduction="none"), atol=1e-6)
    v = mx.vmap(lambda x, y: F.pairwise_distance(x, y, p=3.0))(a, p)
    assert np.allclose(v, F.pairwise_distance(a, p, p=3.0), atol=1e-6)
    v = mx.vmap(lambda x, y: F.cosine_similarity(x, y, dim=0))(a, p)
    assert np.allclose(v, F.cosine_similarity(a, p), atol=1e-6)


# --------------------------------------------------------------------------
# errors: type and message


_X = mx.zeros((3, 4))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.pairwise_distance(_X, mx.zeros((3, 5))), ShapeError, "must be broadcastable"),
        (lambda: F.pairwise_distance(mx.array([1, 2]), mx.array([1, 2])), TypeError,
         "pairwise_distance: `x1` must have a floating dtype, got int32"),
        (lambda: F.pairwise_distance(_X, _X, p="fro"), TypeError, "`p` must be a number"),
        (lambda: F.cosine_similarity(_X, _X, dim=2), IndexError, "Dimension out of range"),
        (lambda: F.cosine_similarity(_X, _X, dim=-3), ValueError, r"`dim` must be in \[-2, 1\]"),
        (lambda: F.cosine_similarity(_X, _X, dim=1.0), TypeError, "`dim` must be an int"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.ones((3, 1))), ShapeError,
         "0D or 1D target tensor expected"),
        (lambda: F.cosine_embedding_loss(_X[0], _X[0], mx.ones((1,))), RuntimeError,
         "1D target tensor expects 2D input tensors"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.array(1.0)), ShapeError,
         "0D target tensor expects 1D input tensors"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.ones((2,))), ShapeError, "broadcastable"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.ones((3,), mx.complex64)), TypeError,
         "`target` must have a floating, integer or bool dtype, got complex64"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.ones((3,)), reduction="avg"), ValueError,
         "avg is not a valid value for reduction"),
        (lambda: F.cosine_embedding_loss(_X, _X, mx.ones((3,)), margin=mx.array([0.5])), TypeError,
         "`margin` must be a number or a 0-d mx.array"),
        (lambda: F.triplet_margin_loss(_X, _X[0], _X), ShapeError,
         "anchor 2D .*positive 1D .*negative 2D"),
        (lambda: F.triplet_margin_loss(_X, _X, _X, margin=0.0), ValueError,
         "triplet_margin_loss: `margin` must be greater than 0, got 0.0"),
        (lambda: F.triplet_margin_loss(_X, _X, mx.zeros((3, 5))), ShapeError, "broadcastable"),
        (lambda: F.triplet_margin_loss(_X, _X, _X.astype(mx.int32)), TypeError,
         "`negative` must have a floating dtype"),
        (lambda: F.triplet_margin_with_distance_loss(_X, _X, _X, margin=-1), ValueError,
         "must be greater than 0, got -1"),
        (lambda: F.triplet_margin_with_distance_loss(_X, _X, _X, distance_function=3), TypeError,
         "`distance_function` must be callable or None, got int"),
        (lambda: F.triplet_margin_with_distance_loss(_X, _X, _X, distance_function=lambda x, y: 1.0),
         TypeError, "`distance_function` must return an mx.array, got float"),
        (lambda: F.triplet_margin_with_distance_loss(_X, _X[0], _X), RuntimeError,
         "same number of dimensions"),
        (lambda: F.triplet_margin_with_distance_loss(_X, _X, _X, reduction="batchmean"), ValueError,
         "is not a valid value for reduction"),
        (lambda: mlx_losses.TripletMarginLoss(margin=0), ValueError,
         "TripletMarginLoss: `margin` must be greater than 0, got 0"),
        (lambda: mlx_losses.TripletMarginWithDistanceLoss(margin=-0.5), ValueError,
         "TripletMarginWithDistanceLoss: `margin` must be greater than 0"),
        (lambda: mlx_losses.TripletMarginWithDistanceLoss(distance_function="l2"), TypeError,
         "`distance_function` must be callable or None, got str"),
        (lambda: mlx_losses.CosineEmbeddingLoss(reduction="avg"), ValueError,
         "is not a valid value for reduction"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
