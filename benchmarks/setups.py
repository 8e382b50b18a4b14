"""One benchmark setup per torch.nn loss (STYLE.md 15).

A setup says how to make the inputs for a size, and how each provider
computes the *same* number from them:

- ``ours``: ``mlx_losses.functional.<loss>``, looked up at run time (a loss
  not present yet is skipped with a printed note),
- ``mlx_nn``: ``mlx.nn.losses`` where it computes the same thing (class axis
  and reductions converted); ``None`` where it has no such loss or computes
  something else (the note says why),
- ``naive``: the formula a user would write in MLX with ``mx.mean``,
- ``torch``: ``torch.nn.functional.<loss>``, torch's signature being the spec.

Every provider gets the same positional arrays: the ``kinds`` string says,
per array, ``"f"`` a float array cast to the benchmark dtype and
differentiated (``bwd`` modes), ``"c"`` a float array cast to the benchmark
dtype but held constant, ``"i"`` an integer array. ``make(rng, n)`` returns
NumPy arrays where ``n`` is the element count of the main input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

__all__ = ["Setup", "SETUPS", "get_setups"]


@dataclass(frozen=True)
class Setup:
    loss: str
    make: Callable[[np.random.Generator, int], Tuple[np.ndarray, ...]]
    kinds: str
    ours: Callable
    torch: Callable
    naive: Optional[Callable] = None
    mlx_nn: Optional[Callable] = None
    default_size: int = 1 << 21
    quick_size: int = 1 << 14
    note: str = ""
    half: bool = True  # run bfloat16 too


# ---------------------------------------------------------------- helpers
def _mx():
    import mlx.core as mx

    return mx


def _rows(n: int, width: int) -> int:
    return max(1, n // width)


def _normal(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _log_softmax_np(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=axis, keepdims=True))).astype(np.float32)


def _sign(rng, *shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def _pair(rng, n):
    return _normal(rng, n), _normal(rng, n)


_C = 1000  # classes for the classification setups
_D = 128  # embedding width for the pairwise setups
_MC = 32  # classes for the multilabel-margin setup (its naive form is O(C^2))


def _naive_pdist(a, b, eps=1e-6):
    mx = _mx()
    return mx.sqrt(mx.sum(mx.square(a - b + eps), axis=-1))


def _naive_multilabel_margin(x, t):
    mx = _mx()
    n, c = x.shape
    valid = mx.cumprod((t >= 0).astype(x.dtype), axis=1)  # targets up to the first -1
    idx = mx.where(t >= 0, t, 0)
    onehot = (idx[:, :, None] == mx.arange(c)[None, None, :]).astype(x.dtype)
    is_t = mx.minimum(mx.sum(onehot * valid[:, :, None], axis=1), 1)
    xt = mx.take_along_axis(x, idx, axis=1)
    h = mx.maximum(1 - xt[:, :, None] + x[:, None, :], 0)
    h = h * valid[:, :, None] * (1 - is_t)[:, None, :]
    return mx.mean(mx.sum(h, axis=(1, 2)) / c)


def _naive_ctc(lp, t, il, tl, blank=0):
    """The forward recursion a user would write (no custom backward)."""
    mx = _mx()
    T, N, C = lp.shape
    S = t.shape[1]
    L = 2 * S + 1
    ext = mx.full((N, L), blank, dtype=mx.int32)
    ext[:, 1::2] = t
    neg = mx.array(-1e30, dtype=lp.dtype)
    prev2 = mx.concatenate([mx.zeros((N, 2), dtype=mx.int32) + blank, ext[:, :-2]], axis=1)
    skip = (ext != blank) & (ext != prev2)
    skip[:, :2] = False
    pos = mx.arange(L)[None, :]
    alpha = mx.where(pos < 2, mx.take_along_axis(lp[0], ext, axis=1), neg)
    for s in range(1, T):
        a1 = mx.concatenate([mx.full((N, 1), -1e30, dtype=lp.dtype), alpha[:, :-1]], axis=1)
        a2 = mx.concatenate([mx.full((N, 2), -1e30, dtype=lp.dtype), alpha[:, :-2]], axis=1)
        a2 = mx.where(skip, a2, neg)
        new = mx.logsumexp(mx.stack([alpha, a1, a2]), axis=0) + mx.take_along_axis(lp[s], ext, axis=1)
        alpha = mx.where((s < il)[:, None], new, alpha)
    end = 2 * tl
    last = mx.take_along_axis(alpha, end[:, None], axis=1)[:, 0]
    prev = mx.take_along_axis(alpha, mx.maximum(end - 1, 0)[:, None], axis=1)[:, 0]
    nll = -mx.logaddexp(last, mx.where(tl > 0, prev, neg))
    return mx.mean(nll / mx.maximum(tl, 1).astype(nll.dtype))


# ---------------------------------------------------------------- makers
def _make_ce(rng, n):
    r = _rows(n, _C)
    return _normal(rng, r, _C), rng.integers(0, _C, r).astype(np.int32)


def _make_nll(rng, n):
    r = _rows(n, _C)
    return _log_softmax_np(_normal(rng, r, _C), 1), rng.integers(0, _C, r).astype(np.int32)


def _make_bce(rng, n):
    p = 1.0 / (1.0 + np.exp(-_normal(rng, n)))
    return np.clip(p, 1e-4, 1 - 1e-4).astype(np.float32), rng.random(n).astype(np.float32)


def _make_bce_logits(rng, n):
    return _normal(rng, n), rng.random(n).astype(np.float32)


def _make_kl(rng, n):
    r = _rows(n, _C)
    return _log_softmax_np(_normal(rng, r, _C), 1), _log_softmax_np(_normal(rng, r, _C), 1)


def _make_poisson(rng, n):
    return _normal(rng, n), rng.poisson(2.0, n).astype(np.float32)


def _make_gaussian(rng, n):
    return _normal(rng, n), _normal(rng, n), (0.1 + rng.random(n)).astype(np.float32)


def _make_sign(rng, n):
    return _normal(rng, n), _sign(rng, n)


def _make_multilabel_soft(rng, n):
    r = _rows(n, _C)
    return _normal(rng, r, _C), (rng.random((r, _C)) < 0.1).astype(np.float32)


def _make_multilabel_margin(rng, n):
    r = _rows(n, _MC)
    t = np.full((r, _MC), -1, dtype=np.int32)
    for i in range(r):
        k = int(rng.integers(1, 5))
        t[i, :k] = rng.choice(_MC, k, replace=False)
    return _normal(rng, r, _MC), t


def _make_multi_margin(rng, n):
    r = _rows(n, _C)
    return _normal(rng, r, _C), rng.integers(0, _C, r).astype(np.int32)


def _make_cos(rng, n):
    r = _rows(n, _D)
    return _normal(rng, r, _D), _normal(rng, r, _D), _sign(rng, r)


def _make_ranking(rng, n):
    return _normal(rng, n), _normal(rng, n), _sign(rng, n)


def _make_triplet(rng, n):
    r = _rows(n, _D)
    return _normal(rng, r, _D), _normal(rng, r, _D), _normal(rng, r, _D)


_CTC_T, _CTC_C, _CTC_S = 100, 32, 30


def _make_ctc(rng, n):
    N = _rows(n, _CTC_T * _CTC_C)
    lp = _log_softmax_np(_normal(rng, _CTC_T, N, _CTC_C), 2)
    tl = rng.integers(10, _CTC_S + 1, N).astype(np.int32)
    t = rng.integers(1, _CTC_C, (N, _CTC_S)).astype(np.int32)
    il = np.full(N, _CTC_T, dtype=np.int32)
    return lp, t, il, tl


_LCE_H, _LCE_V = 256, 8192


def _make_lce(rng, n):
    N = _rows(n, _LCE_H)
    return (
        (_normal(rng, N, _LCE_H) * 0.1).astype(np.float32),
        (_normal(rng, _LCE_V, _LCE_H) * 0.05).astype(np.float32),
        rng.integers(0, _LCE_V, N).astype(np.int32),
    )


# ---------------------------------------------------------------- naive formulas
def _nv_l1(x, y):
    mx = _mx()
    return mx.mean(mx.abs(x - y))


def _nv_mse(x, y):
    mx = _mx()
    return mx.mean(mx.square(x - y))


def _nv_smooth_l1(x, y, beta=1.0):
    mx = _mx()
    d = mx.abs(x - y)
    return mx.mean(mx.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta))


def _nv_huber(x, y, delta=1.0):
    mx = _mx()
    d = mx.abs(x - y)
    return mx.mean(mx.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)))


def _nv_ce(x, t):
    mx = _mx()
    picked = mx.take_along_axis(x, t[:, None], axis=1)[:, 0]
    return mx.mean(mx.logsumexp(x, axis=1) - picked)


def _nv_nll(x, t):
    mx = _mx()
    return -mx.mean(mx.take_along_axis(x, t[:, None], axis=1)[:, 0])


def _nv_bce(p, t):
    mx = _mx()
    lp = mx.maximum(mx.log(p), -100)
    l1p = mx.maximum(mx.log(1 - p), -100)
    return -mx.mean(t * lp + (1 - t) * l1p)


def _nv_bce_logits(x, t):
    mx = _mx()
    return mx.mean(mx.logaddexp(0, x) - x * t)


def _nv_kl(x, t):
    mx = _mx()
    return mx.sum(mx.exp(t) * (t - x)) / x.shape[0]


def _nv_poisson(x, t):
    mx = _mx()
    return mx.mean(mx.exp(x) - t * x)


def _nv_gaussian(x, t, v, eps=1e-6):
    mx = _mx()
    v = mx.maximum(v, eps)
    return mx.mean(0.5 * (mx.log(v) + mx.square(x - t) / v))


def _nv_soft_margin(x, y):
    mx = _mx()
    return mx.mean(mx.logaddexp(0, -y * x))


def _nv_multilabel_soft(x, y):
    mx = _mx()
    return mx.mean(y * mx.logaddexp(0, -x) + (1 - y) * mx.logaddexp(0, x))


def _nv_multi_margin(x, t):
    mx = _mx()
    c = x.shape[1]
    xy = mx.take_along_axis(x, t[:, None], axis=1)
    h = mx.maximum(1 - xy + x, 0)
    h = mx.where(mx.arange(c)[None, :] == t[:, None], 0, h)
    return mx.mean(mx.sum(h, axis=1) / c)


def _nv_hinge(x, y, margin=1.0):
    mx = _mx()
    return mx.mean(mx.where(y == 1, x, mx.maximum(margin - x, 0)))


def _cos_rows(a, b, eps=1e-12):
    mx = _mx()
    return mx.sum(a * b, axis=1) / mx.sqrt((mx.sum(a * a, axis=1) + eps) * (mx.sum(b * b, axis=1) + eps))


def _nv_cos_emb(a, b, y, margin=0.0):
    mx = _mx()
    c = _cos_rows(a, b)
    return mx.mean(mx.where(y == 1, 1 - c, mx.maximum(c - margin, 0)))


def _nn_cos_emb(L, a, b, y, margin=0.0):
    mx = _mx()
    # mlx.nn's cosine_similarity_loss returns the similarity (eps on the
    # product of norms); the embedding loss is built on top of it.
    c = L.cosine_similarity_loss(a, b, axis=1)
    return mx.mean(mx.where(y == 1, 1 - c, mx.maximum(c - margin, 0)))


def _nv_ranking(a, b, y, margin=0.0):
    mx = _mx()
    return mx.mean(mx.maximum(-y * (a - b) + margin, 0))


def _nv_triplet(a, p, n, margin=1.0):
    mx = _mx()
    return mx.mean(mx.maximum(_naive_pdist(a, p) - _naive_pdist(a, n) + margin, 0))


def _nv_lce(x, w, t):
    return _nv_ce(x @ w.T, t)


# ---------------------------------------------------------------- the table
def _ff(name):
    """ours/torch provider calling ``<namespace>.<name>(*arrays)``."""
    return lambda ns, *a: getattr(ns, name)(*a)


SETUPS: Dict[str, Setup] = {}


def _add(s: Setup) -> None:
    SETUPS[s.loss] = s


_add(Setup("l1_loss", _pair, "ff", _ff("l1_loss"), _ff("l1_loss"), _nv_l1,
           lambda L, x, y: L.l1_loss(x, y, reduction="mean")))
_add(Setup("mse_loss", _pair, "ff", _ff("mse_loss"), _ff("mse_loss"), _nv_mse,
           lambda L, x, y: L.mse_loss(x, y, reduction="mean")))
_add(Setup("smooth_l1_loss", _pair, "ff", _ff("smooth_l1_loss"), _ff("smooth_l1_loss"), _nv_smooth_l1,
           lambda L, x, y: L.smooth_l1_loss(x, y, beta=1.0, reduction="mean")))
_add(Setup("huber_loss", _pair, "ff", _ff("huber_loss"), _ff("huber_loss"), _nv_huber,
           lambda L, x, y: L.huber_loss(x, y, delta=1.0, reduction="mean")))
_add(Setup("cross_entropy", _make_ce, "fi", _ff("cross_entropy"), _ff("cross_entropy"), _nv_ce,
           lambda L, x, t: L.cross_entropy(x, t, axis=1, reduction="mean"),
           note=f"(N, {_C}) logits, class indices"))
_add(Setup("nll_loss", _make_nll, "fi", _ff("nll_loss"), _ff("nll_loss"), _nv_nll,
           lambda L, x, t: L.nll_loss(x, t, axis=1, reduction="mean"),
           note=f"(N, {_C}) log-probabilities"))
_add(Setup("binary_cross_entropy", _make_bce, "fc", _ff("binary_cross_entropy"),
           _ff("binary_cross_entropy"), _nv_bce,
           lambda L, p, t: L.binary_cross_entropy(p, t, with_logits=False, reduction="mean")))
_add(Setup("binary_cross_entropy_with_logits", _make_bce_logits, "fc",
           _ff("binary_cross_entropy_with_logits"), _ff("binary_cross_entropy_with_logits"),
           _nv_bce_logits,
           lambda L, x, t: L.binary_cross_entropy(x, t, with_logits=True, reduction="mean")))
_add(Setup("kl_div", _make_kl, "fc",
           lambda F, x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
           lambda F, x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), _nv_kl,
           # mlx.nn's kl_div_loss takes log-targets and sums over `axis`:
           # its 'mean' over the rows of (N, C) is torch's 'batchmean'.
           lambda L, x, t: L.kl_div_loss(x, t, axis=-1, reduction="mean"),
           note=f"(N, {_C}), log_target=True, reduction='batchmean'"))
_add(Setup("poisson_nll_loss", _make_poisson, "fc", _ff("poisson_nll_loss"), _ff("poisson_nll_loss"),
           _nv_poisson, note="log_input=True; no mlx.nn counterpart"))
_add(Setup("gaussian_nll_loss", _make_gaussian, "fcf", _ff("gaussian_nll_loss"),
           _ff("gaussian_nll_loss"), _nv_gaussian,
           lambda L, x, t, v: L.gaussian_nll_loss(x, t, v, reduction="mean"),
           note="var of the input's shape"))
_add(Setup("soft_margin_loss", _make_sign, "fc", _ff("soft_margin_loss"), _ff("soft_margin_loss"),
           _nv_soft_margin, note="no mlx.nn counterpart (its hinge_loss is another loss)"))
_add(Setup("multilabel_soft_margin_loss", _make_multilabel_soft, "fc",
           _ff("multilabel_soft_margin_loss"), _ff("multilabel_soft_margin_loss"), _nv_multilabel_soft,
           # mean over C then N of equal rows == the mean over all elements.
           lambda L, x, y: L.binary_cross_entropy(x, y, with_logits=True, reduction="mean"),
           note=f"(N, {_C}) multi-hot targets"))
_add(Setup("multilabel_margin_loss", _make_multilabel_margin, "fi", _ff("multilabel_margin_loss"),
           _ff("multilabel_margin_loss"), _naive_multilabel_margin, default_size=1 << 18,
           quick_size=1 << 10, note=f"(N, {_MC}), targets padded with -1"))
_add(Setup("multi_margin_loss", _make_multi_margin, "fi", _ff("multi_margin_loss"),
           _ff("multi_margin_loss"), _nv_multi_margin, note=f"(N, {_C}), p=1, margin=1"))
_add(Setup("hinge_embedding_loss", _make_sign, "fc", _ff("hinge_embedding_loss"),
           _ff("hinge_embedding_loss"), _nv_hinge,
           note="no mlx.nn counterpart (mlx.nn.losses.hinge_loss is max(0, 1 - x*y))"))
_add(Setup("cosine_embedding_loss", _make_cos, "ffc", _ff("cosine_embedding_loss"),
           _ff("cosine_embedding_loss"), _nv_cos_emb, _nn_cos_emb,
           note=f"(N, {_D}); mlx.nn row: cosine_similarity_loss + the embedding-loss where"))
_add(Setup("margin_ranking_loss", _make_ranking, "ffc", _ff("margin_ranking_loss"),
           _ff("margin_ranking_loss"), _nv_ranking,
           lambda L, a, b, y: L.margin_ranking_loss(a, b, y, reduction="mean")))
_add(Setup("triplet_margin_loss", _make_triplet, "fff", _ff("triplet_margin_loss"),
           _ff("triplet_margin_loss"), _nv_triplet,
           note=f"(N, {_D}); mlx.nn.losses.triplet_loss not mapped: it adds eps "
                "after the p-th power sum, torch adds it to the difference"))
_add(Setup("triplet_margin_with_distance_loss", _make_triplet, "fff",
           _ff("triplet_margin_with_distance_loss"), _ff("triplet_margin_with_distance_loss"),
           _nv_triplet, note=f"(N, {_D}), default distance (pairwise_distance)"))
_add(Setup("ctc_loss", _make_ctc, "fiii", _ff("ctc_loss"), _ff("ctc_loss"), _naive_ctc,
           default_size=_CTC_T * _CTC_C * 64, quick_size=_CTC_T * _CTC_C * 2,
           note=f"T={_CTC_T}, C={_CTC_C}, S<={_CTC_S}; naive = the alpha recursion "
                "under autodiff; see also benchmarks/bench_ctc.py"))
_add(Setup("linear_cross_entropy", _make_lce, "ffi", _ff("linear_cross_entropy"),
           _ff("linear_cross_entropy"), _nv_lce,
           lambda L, x, w, t: L.cross_entropy(x @ w.T, t, axis=1, reduction="mean"),
           default_size=_LCE_H * 128, quick_size=_LCE_H * 16,
           note=f"H={_LCE_H}, V={_LCE_V}; naive/mlx.nn materialise the logits; "
                "see also benchmarks/bench_linear_cross_entropy.py"))


def get_setups(names=None):
    """The setups for ``names`` (all when None), in table order."""
    if not names:
        return list(SETUPS.values())
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        raise SystemExit(f"unknown loss(es): {', '.join(unknown)}; known: {', '.join(SETUPS)}")
    return [SETUPS[n] for n in names]

