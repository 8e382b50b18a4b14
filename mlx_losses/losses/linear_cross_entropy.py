"""Linear + cross-entropy in one loss, with a memory-bounded chunked path.

``linear_cross_entropy(input, linear_weight, target)`` is
``cross_entropy(input @ linear_weight.T + linear_bias, target)``. With
``options=None`` it is exactly that (the reference path). With an
:class:`LinearCrossEntropyOptions` instance it runs a chunked kernel that
never holds the ``(tokens, vocabulary)`` logits: a ``mx.custom_function``
whose forward walks (token x vocabulary) tiles and keeps per-token
statistics only (logsumexp, the target logit, the smoothing sum, the
soft-target dot), and whose backward recomputes each tile's logits to form
the gradients of ``input``, ``linear_weight``, ``linear_bias`` (and of a
soft ``target``). Peak extra memory is O(tile), never O(tokens x vocabulary).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Any, List, Optional, Tuple

import mlx.core as mx

from .._reduction import apply_reduction, resolve_reduction, weighted_mean
from .._validation import (
    ShapeError,
    check_array,
    check_floating,
    check_index_range,
    check_number,
    dtype_name,
    fmt_shape,
    message,
)
from ._common import exp, logaddexp, logsumexp, result_dtype, zero_where
from .classification import _as_index, _check_weight_dtype, cross_entropy

__all__ = ["linear_cross_entropy", "LinearCrossEntropyOptions"]

_FN = "linear_cross_entropy"

# The smallest vocabulary block the automatic tiling uses before it also
# splits the tokens (narrower blocks make skinny, slow matmuls).
_MIN_VOCAB_BLOCK = 64
# A tile holds at most max(classes, tokens) x in_features / _TILE_SHARE
# logits (and at least _MIN_TILE).
_TILE_SHARE = 64
_MIN_TILE = 1 << 14


# --------------------------------------------------------------------------
# float64-accurate exp / logsumexp
#
# MLX's CPU ``exp`` (and so ``logsumexp`` / ``logaddexp``) of float64 has
# float32 accuracy (~1e-7 relative in MLX 0.32); ``power(e, x)`` is exact to
# rounding. float32 and half keep the fused kernels.


_exp, _logsumexp, _logaddexp = exp, logsumexp, logaddexp


# --------------------------------------------------------------------------
# options


_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")
_ACC_DTYPES = (mx.float16, mx.bfloat16, mx.float32, mx.float64)


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """Chunking options for :func:`linear_cross_entropy` (torch's fields).

    Passing an instance (even ``LinearCrossEntropyOptions()``) turns the
    chunked path on; ``options=None`` is the reference path.

    Args:
        allow_retain_graph (bool): Accepted for torch compatibility and has
            no effect: MLX's transforms are functional, so a second
            ``mx.grad`` / ``mx.vjp`` over the same loss always works.
            Default: ``False``.
        batch_chunk_size (int, optional): Tokens per chunk. ``None`` with
            ``chunking_method=None`` means one chunk. An explicit value
            switches the ``"auto"`` heuristic off (as in torch).
            Default: ``None``.
        chunking_method (str, optional): ``"auto"`` | ``"aspect_ratio"`` |
            ``"aspect_ratio:N"`` | ``None``. ``"aspect_ratio"`` sizes a
            chunk so its ``(chunk, C)`` logits match ``input`` in memory:
            ``next_pow2(ceil(N / ceil(C / in_features)))``, divided by
            ``N`` for ``":N"``. ``"auto"`` is ``"aspect_ratio:2"`` (torch's
            pick for devices it has no table entry for). Default: ``"auto"``.
        acc_policy (str): ``"auto"`` | ``"accurate"`` | ``"balanced"`` |
            ``"compact"``. Validated and kept for torch compatibility; the
            MLX kernel has a single policy (every tile in ``acc_dtype``),
            which is torch's ``"accurate"``. Default: ``"auto"``.
        acc_dtype (Dtype, optional): Accumulation dtype: ``None`` picks
            float32 for float16 / bfloat16 inputs and the input dtype
            otherwise. Mixed precision needs a half input with
            ``mx.float32``. Default: ``None``.
        vocab_chunk_size (int, optional): MLX-only: classes per tile. With
            ``None`` the tiling is automatic: a tile holds about
            ``max(C, N) * in_features / 64`` logits (at most torch's
            ``batch_chunk_size * C``), over every token when that fits, in
            blocks of classes (multiples of 64), so the weight gradient is
            written block by block once. Default: ``None``.

    Example:
        >>> from mlx_losses import LinearCrossEntropyOptions
        >>> LinearCrossEntropyOptions(batch_chunk_size=256).batch_chunk_size
        256
    """

    allow_retain_graph: bool = False
    batch_chunk_size: Optional[int] = None
    chunking_method: Optional[str] = "auto"
    acc_policy: str = "auto"
    acc_dtype: Optional[Any] = None
    vocab_chunk_size: Optional[int] = None

    def __post_init__(self) -> None:
        name = "LinearCrossEntropyOptions"
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(
                message(name, "acc_policy", "be one of " + ", ".join(map(repr, _ACC_POLICIES)),
                        f"{self.acc_policy!r}: invalid acc_policy: {self.acc_policy!r}")
            )
        if self.chunking_method is not None and self.chunking_method != "auto":
            method = self.chunking_method
            ok = isinstance(method, str)
            if ok:
                head, sep, factor = method.partition(":")
                factor = factor if sep else "1"
                ok = head == "aspect_ratio" and factor.isdigit() and int(factor) > 0
            if not ok:
                raise ValueError(
                    message(name, "chunking_method",
                            "be 'auto', 'aspect_ratio', 'aspect_ratio:N' (N >= 1) or None",
                            f"{method!r}: invalid chunking_method: {method!r}")
                )
        for field in ("batch_chunk_size", "vocab_chunk_size"):
            value = getattr(self, field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ValueError(
                    message(name, field, "be a positive int or None",
                            f"{value!r}: {field} must be positive int or None")
                )
        if self.acc_dtype is not None and self.acc_dtype not in _ACC_DTYPES:
            raise ValueError(
                message(name, "acc_dtype",
                        "be None, mx.float16, mx.bfloat16, mx.float32 or mx.float64",
                        repr(self.acc_dtype))
            )

    def _chunk_size(self, num_tokens: int, in_features: int, num_classes: int) -> int:
        """torch's ``_adjust`` rule for the number of tokens per chunk."""
        method = self.chunking_method
        if method == "auto" and self.batch_chunk_size is not None:
            method = None
        if method == "auto":
            method = "aspect_ratio:2"
        if self.batch_chunk_size is None:
            size = num_tokens
        else:
            size = min(self.batch_chunk_size, num_tokens)
        if method is not None:
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            inc = -(-num_classes // max(in_features, 1))
            want = -(-num_tokens // max(inc, 1))
            size = min((1 << max(want - 1, 0).bit_length()) // factor, num_tokens)
            if self.batch_chunk_size is not None and self.batch_chunk_size != size:
                raise ValueError(
                    f"{_FN}: batch_chunk_size (={self.batch_chunk_size}) and "
                    f"chunking_method ('{method}') give different chunk sizes "
                    f"({self.batch_chunk_size} vs {size}); pass only one."
                )
        return max(1, size)

    def _tiles(self, num_tokens: int, in_features: int, num_classes: int) -> Tuple[int, int]:
        """(tokens per tile, classes per tile) for the chunked kernel."""
        chunk = self._chunk_size(num_tokens, in_features, num_classes)
        n = max(num_tokens, 1)
        c = max(num_classes, 1)
        if self.vocab_chunk_size is not None:
            return chunk, min(self.vocab_chunk_size, c)
        # Logits per tile: 1/64 of the larger gradient the backward must
        # make anyway (linear_weight's C x in_features or input's N x
        # in_features), never more than torch's (chunk, C) buffer, and at
        # least 16K (tiny problems run in a few tiles). MLX's CPU scheduler
        # allocates ~100 operations ahead of the computation, so ~10 tiles
        # (logits, their gradient and two (classes x in_features) blocks
        # each) are in memory at once: at this size, a fraction of the
        # weight gradient.
        d = max(in_features, 1)
        cap = min(max(c, n) * d // _TILE_SHARE, chunk * c)
        cap = max(cap, _MIN_TILE)
        # Tiles as tall as possible: a block of classes over every token
        # writes its slice of the weight gradient once, with no accumulation
        # over token chunks. Blocks of at least _MIN_VOCAB_BLOCK classes, in
        # multiples of it (narrower blocks make skinny, slow matmuls).
        vocab = max(cap // n, min(c, _MIN_VOCAB_BLOCK))
        if vocab > _MIN_VOCAB_BLOCK:
            vocab -= vocab % _MIN_VOCAB_BLOCK
        vocab = min(vocab, c)
        # all tokens in one tile while that is within 2x of the budget
        # (one row of tiles needs no ordering between rows)
        tokens = n if n * vocab <= 2 * cap else max(1, cap // vocab)
        tokens = -(-n // -(-n // tokens))  # rows of equal height
        return tokens, vocab

    def _acc_dtype(self, dtype: mx.Dtype) -> mx.Dtype:
        half = dtype in (mx.float16, mx.bfloat16)
        if self.acc_dtype is None:
            return mx.float32 if half else dtype
        if self.acc_dtype != dtype and not (half and self.acc_dtype == mx.float32):
            raise ValueError(
                message(_FN, "options.acc_dtype",
                        "be the input dtype, or float32 for float16/bfloat16 inputs",
                        f"{dtype_name(self.acc_dtype)} for {dtype_name(dtype)} inputs "
                        "(linear_cross_entropy supports float32 acc_dtype with float16/"
                        "bfloat16 inputs)")
            )
        return self.acc_dtype


# --------------------------------------------------------------------------
# the chunked kernel


def _spans(n: int, size: int) -> List[Tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)] or [(0, 0)]


def _token(a: mx.array) -> mx.array:
    # A one-element array read from `a`, to order tiles after `a` is
    # written: `mx.depends` on `a` itself would share `a`'s buffer until the
    # dependent tile runs, which stops the next in-place accumulation into
    # `a` (and keeps every accumulator alive in between).
    return mx.sum(a[(slice(0, 1),) * a.ndim]) if a.size else mx.zeros((), a.dtype)


def _transposed(wj: mx.array) -> mx.array:
    # A contiguous copy of a (classes x in_features) block, transposed: on
    # MLX's CPU BLAS a matmul whose right operand is a transposed view runs
    # 2-2.5x slower than on a contiguous one, and the copy is one block,
    # never the whole weight.
    return mx.contiguous(wj.T)


def _after(xs: List[Optional[mx.array]], dep: Optional[List[mx.array]]) -> List[Optional[mx.array]]:
    # Order the lazy graph: a tile's inputs wait for the previous tile's
    # results, so MLX evaluates tile by tile and frees each tile's logits
    # before it makes the next (otherwise it may schedule every tile's
    # matmul first and hold all the logits at once).
    if not dep:
        return xs
    keep = [i for i, v in enumerate(xs) if v is not None]
    out = mx.depends([xs[i] for i in keep], dep)
    xs = list(xs)
    for i, v in zip(keep, out):
        xs[i] = v
    return xs


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What one kernel call computes (a closure key, not data)."""

    tokens: int  # tokens per tile
    vocab: int  # classes per tile
    acc: mx.Dtype
    bias: bool
    index: bool  # class-index target: output the target logit
    smooth: bool  # output sum_c a_c z_c (label smoothing)
    class_weight: bool  # the smoothing sum is weighted by `a`
    soft: bool  # soft target Q: output sum_c Q_c z_c


@functools.lru_cache(maxsize=64)
def _kernel(spec: _Spec):
    """A custom function ``(x, w[, b][, t][, a][, q]) -> stats``.

    ``stats`` are per-token arrays in ``spec.acc``: logsumexp of the logits,
    then (as the spec asks) the target logit, the (class-weighted) sum of
    the logits, and the soft-target dot ``sum_c q_c z_c``.
    """

    def unpack(args):
        args = list(args)
        x, w = args[0], args[1]
        k = 2
        b = t = a = q = None
        if spec.bias:
            b, k = args[k], k + 1
        if spec.index:
            t, k = args[k], k + 1
        if spec.class_weight:
            a, k = args[k], k + 1
        if spec.soft:
            q, k = args[k], k + 1
        return x, w, b, t, a, q

    def tile_logits(xi, wt, bj):
        return xi @ wt if bj is None else mx.addmm(bj, xi, wt)

    def target_logit(z, ti, j0):
        # z[i, t_i - j0] where the target falls in this block, else 0: a
        # gather of one logit per token instead of a (tokens x classes) mask.
        rel = ti - j0
        inside = (rel >= 0) & (rel < z.shape[1])
        idx = mx.expand_dims(mx.clip(rel, 0, max(z.shape[1] - 1, 0)), 1)
        return mx.where(inside, mx.take_along_axis(z, idx, axis=1)[:, 0], 0)

    def logits_grad(z, lse, g_lse, *extra):
        # d stats / d logits: softmax for the logsumexp, one-hot for the
        # target logit, a (or 1) for the smoothing sum, q for the soft-target
        # dot, each scaled by its cotangent. (Elementwise passes over a tile
        # cost little next to its three matmuls; mx.compile here changed
        # neither time nor memory on the CPU.)
        extra = list(extra)
        dz = _exp(z - mx.expand_dims(lse, 1)) * mx.expand_dims(g_lse, 1)
        if spec.index:
            ti, cols, g_t = extra[:3]
            del extra[:3]
            dz = dz + mx.where(mx.expand_dims(ti, 1) == cols, mx.expand_dims(g_t, 1), 0)
        if spec.smooth:
            g_s = mx.expand_dims(extra.pop(0), 1)
            dz = dz + (g_s * extra.pop(0) if spec.class_weight else g_s)
        if spec.soft:
            qij, g_q = extra
            g_q = mx.expand_dims(g_q, 1)
            return dz + g_q * qij.astype(dz.dtype), (g_q * z).astype(qij.dtype)
        return dz

    def forward(*args):
        x, w, b, t, a, q = unpack(args)
        acc = spec.acc
        n, c = x.shape[0], w.shape[0]
        xa = x.astype(acc)
        rows = _spans(n, spec.tokens)
        stats: List[List[Optional[mx.array]]] = [[None, None, None, None] for _ in rows]
        prev: Optional[List[mx.array]] = None
        for j0, j1 in _spans(c, spec.vocab):
            bj = b[j0:j1].astype(acc) if b is not None else None
            aj = a[j0:j1].astype(acc) if a is not None else None
            wt = None
            for r, (i0, i1) in enumerate(rows):
                xi, wj, ti, qij = _after([
                    xa[i0:i1], w[j0:j1],
                    t[i0:i1] if t is not None else None,
                    q[i0:i1, j0:j1] if q is not None else None,
                ], prev)
                if wt is None:
                    wt = _transposed(wj.astype(acc))
                z = tile_logits(xi, wt, bj)
                s = stats[r]
                lse = _logsumexp(z)
                s[0] = lse if s[0] is None else _logaddexp(s[0], lse)
                if spec.index:
                    zt = target_logit(z, ti, j0)
                    s[1] = zt if s[1] is None else s[1] + zt
                if spec.smooth:
                    zs = z @ aj if aj is not None else mx.sum(z, axis=-1)
                    s[2] = zs if s[2] is None else s[2] + zs
                if spec.soft:
                    zq = mx.sum(qij.astype(acc) * z, axis=-1)
                    s[3] = zq if s[3] is None else s[3] + zq
                # the per-token statistics are small: depending on them
                # directly costs nothing
                prev = [v for v in s if v is not None]
        outs = [mx.concatenate([s[0] for s in stats])]
        for k, on in ((1, spec.index), (2, spec.smooth), (3, spec.soft)):
            if on:
                outs.append(mx.concatenate([s[k] for s in stats]))
        return tuple(outs)

    fn = mx.custom_function(forward)

    @fn.vjp
    def backward(primals, cotangents, outputs):
        x, w, b, t, a, q = unpack(primals)
        cots = list(cotangents) if isinstance(cotangents, (list, tuple)) else [cotangents]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        acc = spec.acc
        n, c = x.shape[0], w.shape[0]
        zero_t = [mx.zeros_like(t)] if t is not None else []
        if n == 0 or c == 0:
            return tuple(
                [mx.zeros_like(x), mx.zeros_like(w)]
                + ([mx.zeros_like(b)] if b is not None else [])
                + zero_t
                + ([mx.zeros_like(a)] if a is not None else [])
                + ([mx.zeros_like(q)] if q is not None else [])
            )
        lse = outs[0]
        k = 1
        g_lse = cots[0].astype(acc)
        g_t = g_s = g_q = None
        if spec.index:
            g_t, k = cots[k].astype(acc), k + 1
        if spec.smooth:
            g_s, k = cots[k].astype(acc), k + 1
        if spec.soft:
            g_q, k = cots[k].astype(acc), k + 1
        xa = x.astype(acc)
        rows = _spans(n, spec.tokens)
        blocks = _spans(c, spec.vocab)
        one_row, one_block = len(rows) == 1, len(blocks) == 1
        # Block by block over the classes. Each block's weight gradient is
        # summed over the token rows by addmm and then written once into the
        # one full-size `dw` (a slice update, done in place: nothing else
        # reads `dw`); each row's input gradient is summed over the blocks
        # by addmm (in place too). So the weight gradient exists once, not
        # as blocks plus their concatenation.
        dx_rows: List[Optional[mx.array]] = [None] * len(rows)
        dw = None if one_block else mx.zeros(w.shape, w.dtype)
        dq = None if (q is None or (one_row and one_block)) else mx.zeros(q.shape, q.dtype)
        db_blocks, da_blocks = [], []
        prev: Optional[List[mx.array]] = None
        for j0, j1 in blocks:
            bj = b[j0:j1].astype(acc) if b is not None else None
            aj = a[j0:j1].astype(acc) if a is not None else None
            cols = mx.arange(j0, j1, dtype=t.dtype) if t is not None else None
            wj = w[j0:j1].astype(acc)
            wt = _transposed(wj)
            dwj = dbj = daj = None
            for r, (i0, i1) in enumerate(rows):
                xi, ti, qij = _after([
                    xa[i0:i1],
                    t[i0:i1] if t is not None else None,
                    q[i0:i1, j0:j1] if q is not None else None,
                ], prev)
                z = tile_logits(xi, wt, bj)
                extra: List[mx.array] = []
                if spec.index:
                    extra += [ti, cols, g_t[i0:i1]]
                if spec.smooth:
                    extra.append(g_s[i0:i1])
                    if spec.class_weight:
                        extra.append(aj)
                        da = g_s[i0:i1] @ z
                        daj = da if daj is None else daj + da
                if spec.soft:
                    extra += [qij, g_q[i0:i1]]
                dz = logits_grad(z, lse[i0:i1], g_lse[i0:i1], *extra)
                if spec.soft:
                    dz, dqij = dz
                    if dq is None:
                        dq = dqij
                    else:
                        dq[i0:i1, j0:j1] = dqij
                # dx += dz @ wj and dwj += dz.T @ xi, accumulated by addmm
                dxr = dx_rows[r]
                dx_rows[r] = dz @ wj if dxr is None else mx.addmm(dxr, dz, wj)
                dwj = dz.T @ xi if dwj is None else mx.addmm(dwj, dz.T, xi)
                if b is not None:
                    dbi = mx.sum(dz, axis=0)
                    dbj = dbi if dbj is None else dbj + dbi
                if not one_row:
                    # rows of tiles: keep the row and block accumulators in
                    # step (otherwise MLX may run one ahead and hold every
                    # tile's gradient for the other). One row needs nothing.
                    prev = [_token(v) for v in (dx_rows[r], dwj, dbj, daj) if v is not None]
            dwj = dwj.astype(w.dtype)
            if dw is None:
                dw = dwj
            else:
                dw[j0:j1] = dwj
            if b is not None:
                db_blocks.append(dbj.astype(b.dtype))
            if a is not None:
                da_blocks.append(daj.astype(a.dtype))
        dx = dx_rows[0] if one_row else mx.concatenate(dx_rows)
        grads = [dx.astype(x.dtype), dw]
        if b is not None:
            grads.append(mx.concatenate(db_blocks))
        grads += zero_t
        if a is not None:
            grads.append(mx.concatenate(da_blocks))
        if q is not None:
            grads.append(dq)
        return tuple(grads)

    return fn


# --------------------------------------------------------------------------
# the per-token loss from the statistics (shared by both paths' formulas)


def _reduce_index(
    nll: mx.array,
    smooth: Optional[mx.array],
    counted: mx.array,
    wt: mx.array,
    reduction: str,
    eps: float,
    num_classes: int,
) -> mx.array:
    """torch's reductions of class-index cross-entropy with smoothing.

    'mean' divides both parts, the NLL and the smoothing sum, by the summed
    class weights of the counted (not ignored) targets: all ignored -> NaN.
    """
    loss = nll if smooth is None else (1.0 - eps) * nll + (eps / num_classes) * smooth
    if reduction == "none":
        return loss
    if reduction == "sum":
        return apply_reduction(loss, "sum")
    # The plain division: with the counted weights summing to 0 the
    # gradient is inf times each row's factor (see _chunked for the rows);
    # with smoothing torch's NLL part is 0 / 0 = NaN then (cross_entropy's).
    return weighted_mean(loss, wt * counted, zero_grad_when_empty=False,
                         nan_when_empty=smooth is not None)


def _chunked(
    x: mx.array,
    w: mx.array,
    b: Optional[mx.array],
    target: mx.array,
    soft: bool,
    weight: Optional[mx.array],
    reduction: str,
    ignore_index: int,
    eps: float,
    options: LinearCrossEntropyOptions,
    out_dtype: mx.Dtype,
) -> mx.array:
    """The chunked path on flat tokens: x (N, D), w (C, D), target (N,) or (N, C)."""
    n, d = x.shape
    c = w.shape[0]
    acc = options._acc_dtype(x.dtype)
    tokens, vocab = options._tiles(n, d, c)
    has_weight = weight is not None
    a = weight.astype(acc) if has_weight else None
    if soft:
        # q_nc = a_c ((1 - eps) p_nc + eps / C): the smoothed, weighted target.
        q = target.astype(acc)
        if eps:
            q = (1.0 - eps) * q + eps / c
        if a is not None:
            q = q * a
        spec = _Spec(tokens, vocab, acc, b is not None, False, False, False, True)
        args = [x, w] + ([b] if b is not None else []) + [q]
        lse, zq = _kernel(spec)(*args)
        loss = mx.sum(q, axis=-1) * lse - zq
        if reduction == "none":
            return loss.astype(out_dtype)
        return apply_reduction(loss, reduction).astype(out_dtype)

    counted = target != ignore_index
    # A target outside [0, C) (value checks off, or under mx.compile) is
    # read at a clipped index (the reference path's weight rule) and its
    # row's weight is NaN: NaN loss and gradient, as on the reference path.
    bad = counted & ((target < 0) | (target >= c))
    t = mx.where(counted, mx.clip(target, 0, max(c - 1, 0)), 0)
    smooth_on = eps > 0.0
    spec = _Spec(tokens, vocab, acc, b is not None, True, smooth_on, smooth_on and has_weight, False)
    args = [x, w] + ([b] if b is not None else []) + [t]
    if spec.class_weight:
        args.append(a)
    stats = _kernel(spec)(*args)
    lse, zt = stats[0], stats[1]
    mask = counted.astype(acc)
    wt = mx.take(a, t) if has_weight else mx.ones_like(lse)
    wt_bad = mx.where(bad, mx.array(math.nan, acc), wt)
    smooth = None
    if smooth_on:
        # torch's chunked kernel takes no smoothing: it runs the reference
        # path, whose 'mean' leaves the ignored rows a zero gradient even
        # when the counted weights sum to 0 (a select, not a 0 factor)
        total_a = mx.sum(a) if has_weight else float(c)
        ignored = mx.logical_not(counted)
        nll = zero_where(ignored, wt_bad * (lse - zt))
        smooth = zero_where(ignored, total_a * lse - stats[2])
    else:
        # torch's chunked kernel: with counted weights summing to 0, 'mean'
        # gives every row a NaN gradient (0 / 0 times the 0 mask)
        nll = mask * wt_bad * (lse - zt)
    loss = _reduce_index(nll, smooth, mask, wt, reduction, eps, c)
    return loss.astype(out_dtype)


# --------------------------------------------------------------------------
# the public function


def _reference(
    logits: mx.array,
    target: mx.array,
    weight: Optional[mx.array],
    reduction: str,
    ignore_index: int,
    eps: float,
) -> mx.array:
    """``cross_entropy(logits, target, ...)`` with the logits in hand."""
    return cross_entropy(
        logits, target, weight=weight, reduction=reduction,
        ignore_index=ignore_index, label_smoothing=eps,
    )


def _check_number_in(name: str, value: Any, lo: float, hi: float, torch_text: str) -> float:
    value = check_number(_FN, name, value)
    if not lo <= value <= hi:
        raise ValueError(message(_FN, name, f"be in [{lo:g}, {hi:g}]", f"{value!r}: {torch_text}"))
    return float(value)


def linear_cross_entropy(
    input: mx.array,
    linear_weight: mx.array,
    target: mx.array,
    *,
    linear_bias: Optional[mx.array] = None,
    weight: Optional[mx.array] = None,
    reduction: str = "mean",
    ignore_index: Optional[int] = None,
    label_smoothing: float = 0.0,
    options: Optional[LinearCrossEntropyOptions] = None,
) -> mx.array:
    r"""Cross-entropy of linearly projected inputs, as
    ``torch.nn.functional.linear_cross_entropy``.

    The reference path (``options=None``) is exactly

    .. math::
        z = x W^\top + b, \qquad
        \ell = \operatorname{cross\_entropy}(z, y, \text{weight}, \ldots)

    and for a class-index target with class weights :math:`w_c` and
    smoothing :math:`\epsilon` the unreduced loss of token :math:`n` is

    .. math::
        \ell_n = (1 - \epsilon)\, w_{y_n} \bigl(\operatorname{lse}(z_n) - z_{n, y_n}\bigr)
            + \frac{\epsilon}{C} \sum_c w_c \bigl(\operatorname{lse}(z_n) - z_{n,c}\bigr)

    (0 where :math:`y_n` is ``ignore_index``). A class-probability target
    :math:`p` gives :math:`\ell_n = \sum_c w_c \tilde p_{nc}
    (\operatorname{lse}(z_n) - z_{n,c})` with :math:`\tilde p = (1 -
    \epsilon) p + \epsilon / C`.

    With ``options`` (a :class:`LinearCrossEntropyOptions`), a chunked
    kernel computes the same loss without ever holding the ``(N, C)``
    logits: it walks (token x class) tiles keeping per-token logsumexp (and
    the target logit / smoothing sum / soft-target dot), and its backward
    recomputes each tile's logits. Extra memory is O(tile); float16 /
    bfloat16 accumulate in float32. Beyond torch's chunked path it also
    takes label smoothing, class-probability targets and 3-D ``(B, T,
    in_features)`` input (flattened internally; torch raises for 3-D). It
    works under ``mx.grad``, ``mx.value_and_grad``, ``nn.value_and_grad``
    and ``mx.compile``, and a second backward over the same loss just works
    (MLX has no ``retain_graph``: ``allow_retain_graph`` is accepted and
    ignored). K-dimensional ``linear_weight`` with ``options`` falls back
    to the reference path with torch's warning.

    As in torch, class weights must have the logits' dtype on the reference
    path (and with smoothing, where torch's chunked path falls back to it);
    with counted weights summing to 0, ``'mean'`` is NaN with torch's
    gradients on either path (the chunked path without smoothing: NaN in
    every row, torch's chunked kernel). An out-of-range target raises in
    eager mode; under ``mx.compile`` or with the value checks off it gives
    NaN in its row's loss and gradient on both paths.

    Args:
        input (array): Input samples, ``(in_features)`` or ``(N,
            in_features)``; with ``options`` also ``(B, T, in_features)``.
        linear_weight (array): ``(C, in_features)`` or ``(C, d_1, ..., d_K,
            in_features)``.
        target (array): Class indices (integer dtype) of shape ``()``,
            ``(N)`` or ``(N, d_1, ..., d_K)`` (``(B, T)`` for 3-D input), or
            class probabilities (floating) of the logits' shape: ``(C)``,
            ``(N, C)``, ``(N, C, d_1, ..., d_K)`` (``(B, T, C)`` for 3-D
            input).
        linear_bias (array, optional): ``(C)`` or ``(C, d_1, ..., d_K)``.
            Default: ``None``.
        weight (array, optional): Class weights, ``(C)``. Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        ignore_index (int, optional): Class index that is ignored; ``None``
            means ``-100`` for class-index targets. Must be ``None`` for
            class-probability targets. Default: ``None``.
        label_smoothing (float, optional): In ``[0, 1]``. Default: ``0.0``.
        options (LinearCrossEntropyOptions, optional): ``None`` for the
            reference path; an instance turns chunking on. Default: ``None``.

    Shape:
        - Output: scalar, or the target's (class-index) shape with
          ``reduction='none'``.

    Returns:
        array: The loss, in the dtype of ``input`` and ``linear_weight``.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import linear_cross_entropy
        >>> from mlx_losses import LinearCrossEntropyOptions
        >>> x, W = mx.zeros((4, 3)), mx.ones((10, 3))
        >>> t = mx.array([1, 2, 3, 4])
        >>> round(linear_cross_entropy(x, W, t).item(), 4)  # log(10)
        2.3026
        >>> opts = LinearCrossEntropyOptions(batch_chunk_size=2)
        >>> round(linear_cross_entropy(x, W, t, options=opts).item(), 4)
        2.3026
    """
    reduction = resolve_reduction(_FN, reduction)
    check_floating(_FN, "input", input)
    check_floating(_FN, "linear_weight", linear_weight)
    check_array(_FN, "target", target)
    if options is not None and not isinstance(options, LinearCrossEntropyOptions):
        raise TypeError(message(_FN, "options", "be a LinearCrossEntropyOptions or None",
                                type(options).__name__))
    if ignore_index is not None:
        ignore_index = check_number(_FN, "ignore_index", ignore_index, integer=True)
    eps = _check_number_in("label_smoothing", label_smoothing, 0.0, 1.0,
                           "label_smoothing must be between 0.0 and 1.0")
    chunked = options is not None
    max_ndim = 3 if chunked else 2
    if input.ndim < 1 or input.ndim > max_ndim:
        allowed = "1, 2 or 3 (with options)" if chunked else "1 or 2"
        raise ShapeError(message(
            _FN, "input", f"be {allowed}-D",
            f"{input.ndim}-D of shape {fmt_shape(input.shape)}: expected input with "
            f"dimensionality 1 or 2, got {input.ndim}"))
    if linear_weight.ndim < 2:
        raise ShapeError(message(
            _FN, "linear_weight", "be at least 2-D, (C, [d_1, ..., d_K,] in_features)",
            f"{linear_weight.ndim}-D: expected linear_weight with dimensionality at least 2, "
            f"got {linear_weight.ndim}"))
    batch = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise ShapeError(message(
            _FN, "linear_weight", f"have last dimension in_features = {in_features}",
            f"{linear_weight.shape[-1]}: expected equal input and linear_weight last "
            f"dimensions (in_features), got {in_features} and {linear_weight.shape[-1]}, "
            "respectively"))
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None:
        check_floating(_FN, "linear_bias", linear_bias)
        if tuple(linear_bias.shape) != (num_classes, *out_features):
            raise ShapeError(message(
                _FN, "linear_bias", f"have shape {fmt_shape((num_classes, *out_features))}",
                f"{fmt_shape(linear_bias.shape)}: expected linear_bias shape "
                f"{(num_classes, *out_features)}, got {tuple(linear_bias.shape)}"))
    if out_features and not batch:
        raise ShapeError(message(
            _FN, "input", f"be batched, (N, {in_features}), for a K-dimensional linear_weight",
            f"{fmt_shape(input.shape)}: K-dimensional loss defined by linear_weight shape "
            f"{tuple(linear_weight.shape)} requires batched input, (N, {in_features}), got "
            f"unbatched input with shape {tuple(input.shape)}"))
    if out_features and len(batch) > 1:
        raise ShapeError(message(
            _FN, "input", "be 1-D or 2-D for a K-dimensional linear_weight",
            f"{input.ndim}-D of shape {fmt_shape(input.shape)}"))
    if weight is not None:
        check_floating(_FN, "weight", weight)
        if tuple(weight.shape) != (num_classes,):
            raise ShapeError(message(
                _FN, "weight", f"have shape ({num_classes},), one weight per class",
                f"{fmt_shape(weight.shape)}: expected weight shape to be ({num_classes},)"))

    # torch decides "class probabilities" by the target having the logits' shape.
    if len(batch) == 2:  # (B, T, D) with options: logits (B, T, C)
        logits_shape = (*batch, num_classes)
    else:
        logits_shape = (*batch, num_classes, *out_features)
    soft = tuple(target.shape) == logits_shape
    if soft:
        if ignore_index is not None:
            raise ValueError(message(
                _FN, "ignore_index", "be None for class-probability targets",
                f"{ignore_index}: ignore_index cannot be specified when target contains "
                "probabilities"))
        check_floating(_FN, "target", target)
    else:
        if not mx.issubdtype(target.dtype, mx.integer):
            raise TypeError(message(
                _FN, "target",
                f"hold class indices (an integer dtype) or probabilities of shape "
                f"{fmt_shape(logits_shape)}",
                f"{dtype_name(target.dtype)} of shape {fmt_shape(target.shape)}"))
        want = (*batch, *out_features)
        if tuple(target.shape) != want:
            raise ShapeError(message(
                _FN, "target", f"have shape {fmt_shape(want)} (class indices) or "
                f"{fmt_shape(logits_shape)} (probabilities)", fmt_shape(target.shape)))
    ii = -100 if ignore_index is None else ignore_index
    if not soft:
        target = _as_index(target, ii)
        check_index_range(_FN, "target", target, num_classes, ignore_index=ii)

    dtypes = [input, linear_weight] + ([linear_bias] if linear_bias is not None else [])
    out_dtype = result_dtype(*dtypes)
    x = input.astype(out_dtype)
    w = linear_weight.astype(out_dtype)
    b = linear_bias.astype(out_dtype) if linear_bias is not None else None

    if chunked and out_features:
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; the chunked path needs "
            f"out_features == (), got out_features={out_features}. Using the reference path.",
            UserWarning,
            stacklevel=2,
        )
        chunked = False

    if weight is not None and not soft and not (chunked and eps == 0.0):
        # torch's reference path (its chunked kernel runs without smoothing
        # only) takes class weights of the logits' dtype only
        _check_weight_dtype(_FN, weight, out_dtype, "the logits")

    if chunked:
        xf = x.reshape(-1, in_features)
        tf = target.reshape(-1, num_classes) if soft else target.reshape(-1)
        # class probabilities: torch runs the reference path, whose
        # cross_entropy promotes the output with the class weights
        loss_dtype = result_dtype(x, weight) if soft and weight is not None else out_dtype
        loss = _chunked(xf, w, b, tf, soft, weight, reduction, ii, eps, options, loss_dtype)
        if reduction == "none":
            loss = loss.reshape(batch)
        return loss

    # the reference path: the full logits, then cross_entropy
    flat = math.prod(out_features) * num_classes
    w2 = w.reshape(flat, in_features)
    # torch's linear is one addmm: the bias is added before the single
    # rounding to the input dtype (matters in float16 / bfloat16)
    x2 = x.reshape(-1, in_features)
    logits = x2 @ w2.T if b is None else mx.addmm(b.reshape(flat), x2, w2.T)
    logits = logits.reshape(logits_shape)
    return _reference(logits, target, weight, reduction, ii, eps)
