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

import contextlib
import contextvars
import dataclasses
import functools
import math
import warnings
from typing import Any, List, Optional, Tuple, cast

import mlx.core as mx

from .._api import public_loss
from .._reduction import apply_reduction, class_index_reduction, single
from .._validation import (
    Reduction,
    ShapeError,
    check_array,
    check_floating,
    check_index_range,
    check_label_smoothing,
    check_number,
    dtype_name,
    fmt_shape,
    message,
    resolve_reduction,
)
from .._dtypes import result_dtype
from .._numerics import exp
from ._common import zero_where
from .classification import _as_index, _check_logit_options, _check_weight_dtype, cross_entropy

__all__ = ["linear_cross_entropy", "LinearCrossEntropyOptions", "QuantizedWeight"]

_FN = "linear_cross_entropy"

# The smallest vocabulary block the automatic tiling uses before it also
# splits the tokens (narrower blocks make skinny, slow matmuls).
_MIN_VOCAB_BLOCK = 64
# A tile holds at most max(classes, tokens) x in_features / _TILE_SHARE
# logits (and at least _MIN_TILE).
_TILE_SHARE = 64
_MIN_TILE = 1 << 14


def _moved(total: mx.array, m: mx.array, r: mx.array) -> mx.array:
    """``total (m - r)``: a sum against the shift ``r`` moved to ``m``; 0
    where the shift did not move, whatever ``total`` (an infinite weight or
    soft target is then torch's inf, not inf * 0)."""
    return mx.where(m == r, 0.0, total * (m - r))


def _shift(m: mx.array) -> mx.array:
    """The shift of a running max: 0 where every logit so far is -inf (so
    that exp(-inf - shift) is 0, not NaN); a +inf max stays (NaN row)."""
    return mx.where(m == -math.inf, mx.zeros_like(m), m)


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
    # MLX's CPU BLAS a matmul whose right operand is a transposed view is
    # slower than on a contiguous one, and the copy is one block, never the
    # whole weight.
    return mx.contiguous(wj.T)


def _after(xs: List[Optional[mx.array]], dep: Optional[List[mx.array]]) -> List[Optional[mx.array]]:
    # Order the lazy graph: a tile's inputs wait for the previous tile's
    # results, so MLX evaluates tile by tile and frees each tile's logits
    # before it makes the next (otherwise it may schedule every tile's
    # matmul first and hold all the logits at once).
    if not dep:
        return xs
    keep = [i for i, v in enumerate(xs) if v is not None]
    out = mx.depends(cast(List[mx.array], [xs[i] for i in keep]), dep)
    xs = list(xs)
    for i, v in zip(keep, out):
        xs[i] = v
    return xs


@dataclasses.dataclass(frozen=True)
class _Quant:
    """How a quantized head is packed (a closure key, not data)."""

    group_size: int
    bits: int
    mode: str
    biases: bool  # affine: per-group biases


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
    prescale: float = 1.0  # the inputs (and bias) times this before the matmul
    softcap: Optional[float] = None  # z = softcap * tanh(u)
    quant: Optional[_Quant] = None  # the head is packed (frozen: no gradient)


@functools.lru_cache(maxsize=64)
def _kernel(spec: _Spec):
    """A custom function ``(x, *head[, b][, t][, a][, q]) -> stats``.

    ``head`` is ``(w,)``, or the packed weight, its scales (and biases) for
    a quantized head. Each tile's logits are ``u = (prescale x) W_j^T +
    prescale b_j`` and, with a softcap, ``z = softcap tanh(u)`` (else ``z =
    u``). ``stats`` are per-token arrays in ``spec.acc``: the shift ``m``
    (the max of the logits ``z``, 0 if all are -inf) and ``s = sum_c
    exp(z_c - m)``, so that lse = m + log s; then (as the spec asks) the
    target logit, ``sum_c a_c (m - z_c)`` (class weights ``a``, or ones)
    and ``sum_c q_c (m - z_c)``. Callers form a loss from differences with
    ``m`` (``(m - z_t) + log s``), never ``lse - z_t``, which is rounded at
    the scale of the logits. The VJP treats ``m`` as a constant (its
    cotangent is not used): the loss does not depend on the shift.

    The forward keeps a running max per token (``s`` rescaled when it
    grows); the two sums are taken against the first block's shift ``r``
    and moved to ``m`` once at the end (``+ W (m - r)``).

    Every tile runs the same operations on arrays of the same shapes (a
    block's offset is data, not a Python constant), so under ``mx.compile``
    the fused tile kernels are compiled once, whatever the number of tiles.
    """
    quant = spec.quant
    n_head = 1 if quant is None else (3 if quant.biases else 2)
    k = spec.prescale

    def unpack(args):
        args = list(args)
        x, head = args[0], args[1:1 + n_head]
        i = 1 + n_head
        b = t = a = q = None
        if spec.bias:
            b, i = args[i], i + 1
        if spec.index:
            t, i = args[i], i + 1
        if spec.class_weight:
            a, i = args[i], i + 1
        if spec.soft:
            q, i = args[i], i + 1
        return x, head, b, t, a, q

    def block_weight(parts):
        # A block's (classes, in_features) weight in the accumulation dtype
        # from its rows of ``head``: a quantized head is dequantized one
        # block at a time, never whole.
        if quant is None:
            return parts[0].astype(spec.acc)
        biases = parts[2] if quant.biases else None
        return mx.dequantize(parts[0], parts[1], biases, quant.group_size, quant.bits,
                             quant.mode, dtype=spec.acc)

    def scaled(v, acc):
        v = v.astype(acc)
        return v * mx.array(k, dtype=acc) if k != 1.0 else v

    def tile_logits(xi, wt, bj):
        u = xi @ wt if bj is None else mx.addmm(bj, xi, wt)
        if spec.softcap is None:
            return u, None
        th = mx.tanh(u)
        return mx.array(spec.softcap, dtype=u.dtype) * th, th

    def block_starts(t, c):
        # The first class of each block, computed from the targets: traced
        # data, not compile-time constants (a constant is compiled into
        # every fused kernel that reads it: one kernel per block).
        return mx.arange(0, c, spec.vocab, dtype=t.dtype) + mx.sum(t[:1]) * 0

    def target_logit(z, ti, start):
        # z[i, t_i - start] where the target falls in this block, else 0: a
        # gather of one logit per token instead of a (tokens x classes)
        # mask. The clipped index is inside every block, the last narrower
        # one too (the targets are in [0, C)).
        idx = mx.clip(ti - start, 0, spec.vocab - 1)
        # (idx + start, not a shared ti - start: two consumers across the
        # gather would split the fused kernels in two)
        inside = idx + start == ti
        return mx.where(inside, mx.take_along_axis(z, mx.expand_dims(idx, 1), axis=1)[:, 0], 0)

    def logits_grad(z, th, m, g_s, *extra):
        # d stats / d z (m constant): exp(z - m) for s, one-hot for the
        # target logit, -a (or -1) for the smoothing sum, -q for the soft
        # one, each scaled by its cotangent; then through the softcap's
        # tanh. (Elementwise passes over a tile cost little next to its
        # three matmuls; mx.compile here changed neither time nor memory on
        # the CPU.)
        extra = list(extra)
        dz = exp(z - mx.expand_dims(m, 1)) * mx.expand_dims(g_s, 1)
        if spec.index:
            ti, cols, g_t = extra[:3]
            del extra[:3]
            dz = dz + mx.where(mx.expand_dims(ti, 1) == cols, mx.expand_dims(g_t, 1), 0)
        if spec.smooth:
            g_a = mx.expand_dims(extra.pop(0), 1)
            dz = dz - (g_a * extra.pop(0) if spec.class_weight else g_a)
        dqij = None
        if spec.soft:
            qij, g_q = extra
            g_q = mx.expand_dims(g_q, 1)
            dz = dz - g_q * qij.astype(dz.dtype)
            dqij = (g_q * (mx.expand_dims(m, 1) - z)).astype(qij.dtype)
        if th is not None:
            dz = dz * (mx.array(spec.softcap, dtype=dz.dtype) * (1 - mx.square(th)))
        return dz, dqij

    def forward(*args):
        x, head, b, t, a, q = unpack(args)
        acc = spec.acc
        n, c = x.shape[0], head[0].shape[0]
        if n == 0 or c == 0:
            # no logits: m = 0, s = 1 and zero sums (every token has no class
            # then: ignored, or out of range and NaN in the callers)
            zero = mx.zeros((n,), acc)
            outs = [zero, zero + 1]
            outs += [zero] * (int(spec.index) + int(spec.smooth) + int(spec.soft))
            return tuple(outs)
        xa = scaled(x, acc)
        ba = scaled(b, acc) if b is not None else None
        rows = _spans(n, spec.tokens)
        blocks = _spans(c, spec.vocab)
        if t is not None:
            starts = block_starts(t, c)
        # per row of tiles: running max, s, target logit, the two sums (against
        # the first block's shift r), r
        stats: List[List[Optional[mx.array]]] = [[None] * 6 for _ in rows]
        prev: Optional[List[mx.array]] = None
        for jb, (j0, j1) in enumerate(blocks):
            bj = ba[j0:j1] if ba is not None else None
            aj = a[j0:j1].astype(acc) if a is not None else None
            wt = None
            for r, (i0, i1) in enumerate(rows):
                xi, ti, qij, *parts = _after([
                    xa[i0:i1],
                    t[i0:i1] if t is not None else None,
                    q[i0:i1, j0:j1] if q is not None else None,
                    *(h[j0:j1] for h in head),
                ], prev)
                if wt is None:
                    wt = _transposed(block_weight(parts))
                z, _ = tile_logits(xi, wt, bj)
                st = stats[r]
                zmax = mx.max(z, axis=-1)
                first = st[0] is None
                run = zmax if first else mx.maximum(st[0], zmax)
                sh = _shift(run)
                es = mx.sum(exp(z - mx.expand_dims(sh, 1)), axis=-1)
                # exp(old max - new shift) <= 1 rescales the old sum
                st[1] = es if first else st[1] * exp(st[0] - sh) + es
                st[0] = run
                if first:
                    st[5] = sh
                if spec.index:
                    # from zeros: every block runs the same fused kernel
                    zt = target_logit(z, ti, starts[jb])
                    st[2] = (mx.zeros_like(zt) if first else st[2]) + zt
                if spec.smooth or spec.soft:
                    d = mx.expand_dims(st[5], 1) - z
                if spec.smooth:
                    zs = d @ aj if aj is not None else mx.sum(d, axis=-1)
                    st[3] = zs if first else st[3] + zs
                if spec.soft:
                    # q_c (r - z_c) is 0 where z_c is the shift, whatever
                    # q_c: an infinite q_c there is torch's q_c (0 + log s)
                    zq = mx.sum(mx.where(d == 0, 0.0, qij.astype(acc) * d), axis=-1)
                    st[4] = zq if first else st[4] + zq
                # the per-token statistics are small: depending on them
                # directly costs nothing
                prev = [v for v in st if v is not None]
        m = mx.concatenate([_shift(st[0]) for st in stats])
        outs = [m, mx.concatenate([st[1] for st in stats])]
        if spec.index:
            outs.append(mx.concatenate([st[2] for st in stats]))
        if spec.smooth or spec.soft:
            r0 = mx.concatenate([st[5] for st in stats])
        if spec.smooth:
            # sum_c a_c (m - z_c) = sum_c a_c (r - z_c) + W (m - r)
            total = mx.sum(a.astype(acc)) if a is not None else mx.array(float(c), acc)
            outs.append(mx.concatenate([st[3] for st in stats]) + _moved(total, m, r0))
        if spec.soft:
            qsum = mx.sum(q.astype(acc), axis=-1)
            outs.append(mx.concatenate([st[4] for st in stats]) + _moved(qsum, m, r0))
        return tuple(outs)

    fn = mx.custom_function(forward)

    @fn.vjp
    def backward(primals, cotangents, outputs):
        x, head, b, t, a, q = unpack(primals)
        cots = list(cotangents) if isinstance(cotangents, (list, tuple)) else [cotangents]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        acc = spec.acc
        n, c = x.shape[0], head[0].shape[0]
        # a packed head is frozen (QLoRA): zeros, never evaluated unless
        # asked for, and linear_cross_entropy's guard refuses that
        zero_head = [mx.zeros_like(h) for h in head] if quant is not None else None
        zero_t = [mx.zeros_like(t)] if t is not None else []
        if n == 0 or c == 0:
            return tuple(
                [mx.zeros_like(x)] + [mx.zeros_like(h) for h in head]
                + ([mx.zeros_like(b)] if b is not None else [])
                + zero_t
                + ([mx.zeros_like(a)] if a is not None else [])
                + ([mx.zeros_like(q)] if q is not None else [])
            )
        # the shift m is a constant to the VJP (its cotangent is not used)
        m = outs[0]
        i = 2
        g_sum = cots[1].astype(acc)
        g_t = g_s = g_q = None
        if spec.index:
            g_t, i = cots[i].astype(acc), i + 1
        if spec.smooth:
            g_s, i = cots[i].astype(acc), i + 1
        if spec.soft:
            g_q, i = cots[i].astype(acc), i + 1
        xa = scaled(x, acc)
        ba = scaled(b, acc) if b is not None else None
        rows = _spans(n, spec.tokens)
        blocks = _spans(c, spec.vocab)
        one_row, one_block = len(rows) == 1, len(blocks) == 1
        with_dw = quant is None
        # Block by block over the classes. Each block's weight gradient is
        # summed over the token rows by addmm and then written once into the
        # one full-size `dw` (a slice update, done in place: nothing else
        # reads `dw`); each row's input gradient is summed over the blocks
        # by addmm (in place too). So the weight gradient exists once, not
        # as blocks plus their concatenation.
        dx_rows: List[Optional[mx.array]] = [None] * len(rows)
        w = head[0]
        dw = None if (one_block or not with_dw) else mx.zeros(w.shape, w.dtype)
        dq = None if (q is None or (one_row and one_block)) else mx.zeros(q.shape, q.dtype)
        db_blocks, da_blocks = [], []
        prev: Optional[List[mx.array]] = None
        for j0, j1 in blocks:
            bj = ba[j0:j1] if ba is not None else None
            aj = a[j0:j1].astype(acc) if a is not None else None
            cols = mx.arange(j0, j1, dtype=t.dtype) if t is not None else None
            wj = block_weight([h[j0:j1] for h in head])
            wt = _transposed(wj)
            dwj = dbj = daj = None
            for r, (i0, i1) in enumerate(rows):
                xi, ti, qij = _after([
                    xa[i0:i1],
                    t[i0:i1] if t is not None else None,
                    q[i0:i1, j0:j1] if q is not None else None,
                ], prev)
                z, th = tile_logits(xi, wt, bj)
                extra: List[mx.array] = []
                if spec.index:
                    extra += [ti, cols, g_t[i0:i1]]
                if spec.smooth:
                    extra.append(g_s[i0:i1])
                    if spec.class_weight:
                        extra.append(aj)
                        # d/da_c of sum_c a_c (m - z_c)
                        da = g_s[i0:i1] @ (mx.expand_dims(m[i0:i1], 1) - z)
                        daj = da if daj is None else daj + da
                if spec.soft:
                    extra += [qij, g_q[i0:i1]]
                du, dqij = logits_grad(z, th, m[i0:i1], g_sum[i0:i1], *extra)
                if spec.soft:
                    if dq is None:
                        dq = dqij
                    else:
                        dq[i0:i1, j0:j1] = dqij
                # dx += du @ wj and dwj += du.T @ xi, accumulated by addmm
                dxr = dx_rows[r]
                dx_rows[r] = du @ wj if dxr is None else mx.addmm(dxr, du, wj)
                if with_dw:
                    dwj = du.T @ xi if dwj is None else mx.addmm(dwj, du.T, xi)
                if b is not None:
                    dbi = mx.sum(du, axis=0)
                    dbj = dbi if dbj is None else dbj + dbi
                if not one_row:
                    # rows of tiles: keep the row and block accumulators in
                    # step (otherwise MLX may run one ahead and hold every
                    # tile's gradient for the other). One row needs nothing.
                    prev = [_token(v) for v in (dx_rows[r], dwj, dbj, daj) if v is not None]
            if with_dw:
                dwj = dwj.astype(w.dtype)
                if dw is None:
                    dw = dwj
                else:
                    dw[j0:j1] = dwj
            if b is not None:
                db_blocks.append(dbj)
            if a is not None:
                da_blocks.append(daj.astype(a.dtype))
        dx = dx_rows[0] if one_row else mx.concatenate(dx_rows)
        grads = [scaled(dx, acc).astype(x.dtype)]
        grads += [dw] if with_dw else zero_head
        if b is not None:
            grads.append(scaled(mx.concatenate(db_blocks), acc).astype(b.dtype))
        grads += zero_t
        if a is not None:
            grads.append(mx.concatenate(da_blocks))
        if q is not None:
            grads.append(dq)
        return tuple(grads)

    return fn


# --------------------------------------------------------------------------
# the per-token loss from the statistics (shared by both paths' formulas)


def _token_loss(
    nll: mx.array,
    smooth: Optional[mx.array],
    eps: float,
    num_classes: int,
    extra: Optional[mx.array] = None,
) -> mx.array:
    """Each token's class-index cross-entropy from its parts: the NLL, the
    smoothing sum (with ``eps``) and ``extra`` (the z-loss)."""
    loss = nll if smooth is None else (1.0 - eps) * nll + (eps / num_classes) * smooth
    return loss if extra is None else loss + extra


def _chunked(
    x: mx.array,
    head: List[mx.array],
    quant: Optional[_Quant],
    b: Optional[mx.array],
    target: mx.array,
    soft: bool,
    weight: Optional[mx.array],
    reduction: str,
    ignore_index: int,
    eps: float,
    options: LinearCrossEntropyOptions,
    out_dtype: mx.Dtype,
    logits: Tuple[Optional[float], Optional[float], float],
    group: Optional[mx.distributed.Group],
) -> mx.array:
    """The chunked path on flat tokens: x (N, D), head (C, D) (or packed),
    target (N,) or (N, C). ``logits``: (softcap, logit_scale, z_loss)."""
    softcap, scale, z_loss = logits
    n, d = x.shape
    c = head[0].shape[0]
    acc = options._acc_dtype(x.dtype)
    tokens, vocab = options._tiles(n, d, c)
    # logit_scale, and the softcap's 1 / softcap, multiply the inputs (an
    # (N, D) pass) rather than every tile of logits
    prescale = (1.0 if scale is None else scale) / (1.0 if softcap is None else softcap)
    kernel = functools.partial(_Spec, tokens, vocab, acc, b is not None,
                               prescale=prescale, softcap=softcap, quant=quant)
    has_weight = weight is not None
    a = weight.astype(acc) if weight is not None else None
    if soft:
        # q_nc = a_c ((1 - eps) p_nc + eps / C): the smoothed, weighted target.
        q = target.astype(acc)
        if eps:
            q = (1.0 - eps) * q + eps / c
        if a is not None:
            q = q * a
        args = [x, *head] + ([b] if b is not None else []) + [q]
        m, s, zq = _kernel(kernel(False, False, False, True))(*args)
        # sum_c q_c (lse - z_c) = sum(q) log s + sum_c q_c (m - z_c)
        log_s = mx.log(s)
        loss = mx.sum(q, axis=-1) * log_s + zq
        if z_loss:
            loss = loss + z_loss * mx.square(m + log_s)
        return apply_reduction(loss, reduction, group=group).astype(out_dtype)

    counted = target != ignore_index
    ignored = mx.logical_not(counted)
    # A target outside [0, C) (value checks off, or under mx.compile) is
    # read at a clipped index (the reference path's weight rule) and its
    # row's weight is NaN: NaN loss and gradient, as on the reference path.
    clipped = mx.clip(target, 0, max(c - 1, 0))
    bad = counted & (clipped != target)
    t = mx.where(counted, clipped, 0)
    smooth_on = eps > 0.0
    spec = kernel(True, smooth_on, smooth_on and has_weight, False)
    args = [x, *head] + ([b] if b is not None else []) + [t]
    if spec.class_weight:
        args.append(cast(mx.array, a))
    stats = _kernel(spec)(*args)
    m, log_s, zt = stats[0], mx.log(stats[1]), stats[2]
    # (m - z_t) + log s: lse - z_t would round the loss at the logits' scale
    nll_t = (m - zt) + log_s
    mask = counted.astype(acc)
    wt = mx.take(a, t) if a is not None else mx.ones_like(m)
    wt_bad = mx.where(bad, mx.array(math.nan, acc), wt)
    smooth = None
    if smooth_on:
        # torch's chunked kernel takes no smoothing: it runs the reference
        # path, whose 'mean' leaves the ignored rows a zero gradient even
        # when the counted weights sum to 0 (a select, not a 0 factor)
        total_a = mx.sum(a) if a is not None else float(c)
        nll = cast(mx.array, zero_where(ignored, wt_bad * nll_t))
        smooth = cast(mx.array, zero_where(ignored, total_a * log_s + stats[3]))
    else:
        # torch's chunked kernel: with counted weights summing to 0, 'mean'
        # gives every row a NaN gradient (0 / 0 times the 0 mask)
        nll = mask * wt_bad * nll_t
    extra = cast(mx.array, zero_where(ignored, z_loss * mx.square(m + log_s))) if z_loss else None
    # 'mean' divides both parts, the NLL and the smoothing sum, by the summed
    # class weights of the counted targets (all ignored: 0 / 0 = NaN); the
    # plain division's gradient: inf times each row's factor (see the rows
    # above); with smoothing torch's NLL part is 0 / 0 = NaN then.
    loss = class_index_reduction(_token_loss(nll, smooth, eps, c, extra), reduction,
                                 wt * mask, nan_when_empty=smooth is not None, group=group)
    return loss.astype(out_dtype)


# --------------------------------------------------------------------------
# quantized heads


# MLX 0.32's quantization modes: group sizes, bits, their defaults, and
# whether a group has a bias besides its scale (mx.quantize's table).
_QUANT_MODES = {
    "affine": ((32, 64, 128), (1, 2, 3, 4, 5, 6, 8), 64, 4, True),
    "mxfp4": ((32,), (4,), 32, 4, False),
    "mxfp8": ((32,), (8,), 32, 8, False),
    "nvfp4": ((16,), (4,), 16, 4, False),
}


@dataclasses.dataclass(frozen=True, eq=False)
class QuantizedWeight:
    """A quantized ``(C, in_features)`` head for :func:`linear_cross_entropy`,
    in MLX's packed format (what ``mx.quantize`` returns, and what
    ``nn.QuantizedLinear`` / ``nn.QuantizedEmbedding`` hold).

    Pass it as ``linear_weight``. The chunked path (``options`` given)
    dequantizes one vocabulary block at a time, so memory grows by one block,
    never by the head; the reference path computes the logits as
    ``nn.QuantizedLinear`` does (``mx.quantized_matmul``). The head is
    frozen, as in QLoRA: gradients flow to the input and ``linear_bias``;
    asking for one w.r.t. ``weight``, ``scales`` or ``biases`` raises a
    ``ValueError`` (MLX's ``quantized_matmul`` has no gradient w.r.t. the
    packed weight either).

    Args:
        weight (array): The packed weight, ``uint32`` of shape ``(C,
            in_features * bits / 32)``.
        scales (array): One scale per group, ``(C, in_features /
            group_size)``.
        biases (array, optional): One bias per group (``'affine'`` only,
            where it is required), the shape of ``scales``. Default: ``None``.
        group_size (int, optional): ``None`` is MLX's default for ``mode``.
            Default: ``None``.
        bits (int, optional): ``None`` is MLX's default for ``mode``.
            Default: ``None``.
        mode (str, optional): ``'affine'`` (group sizes 32, 64, 128; bits 1,
            2, 3, 4, 5, 6, 8), ``'mxfp4'`` (32, 4), ``'mxfp8'`` (32, 8) or
            ``'nvfp4'`` (16, 4). Default: ``'affine'``.

    Example:
        >>> import mlx.core as mx
        >>> import mlx.nn as nn
        >>> from mlx_losses import QuantizedWeight
        >>> head = nn.QuantizedLinear(64, 100, bias=False, bits=4)
        >>> qw = QuantizedWeight.from_module(head)
        >>> qw.shape, qw.bits, qw.group_size, qw.mode
        ((100, 64), 4, 64, 'affine')
    """

    weight: mx.array
    scales: mx.array
    biases: Optional[mx.array] = None
    group_size: Optional[int] = None
    bits: Optional[int] = None
    mode: str = "affine"

    def __post_init__(self) -> None:
        name = "QuantizedWeight"
        if not isinstance(self.mode, str) or self.mode not in _QUANT_MODES:
            raise ValueError(message(
                name, "mode", "be one of " + ", ".join(map(repr, _QUANT_MODES))
                + " (MLX's quantization modes)", repr(self.mode)))
        sizes, bit_widths, size0, bits0, has_biases = _QUANT_MODES[self.mode]
        group_size = size0 if self.group_size is None else self.group_size
        bits = bits0 if self.bits is None else self.bits
        for field, value, allowed in (("group_size", group_size, sizes),
                                      ("bits", bits, bit_widths)):
            if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
                raise ValueError(message(
                    name, field, f"be one of {', '.join(map(str, allowed))} for mode "
                    f"{self.mode!r}", repr(value)))
        object.__setattr__(self, "group_size", group_size)
        object.__setattr__(self, "bits", bits)
        w = check_array(name, "weight", self.weight)
        if w.dtype != mx.uint32 or w.ndim != 2:
            raise TypeError(message(
                name, "weight", "be the packed uint32 weight of shape (C, in_features * bits / 32)",
                f"{dtype_name(w.dtype)} of shape {fmt_shape(w.shape)}"))
        in_features = w.shape[1] * 32 // bits
        if (w.shape[1] * 32) % bits or in_features % group_size:
            raise ShapeError(message(
                name, "weight", f"pack a whole number of groups of {group_size} at {bits} bits",
                f"shape {fmt_shape(w.shape)}"))
        groups = (w.shape[0], in_features // group_size)
        check_array(name, "scales", self.scales)
        if tuple(self.scales.shape) != groups:
            raise ShapeError(message(name, "scales", f"have shape {fmt_shape(groups)}",
                                     fmt_shape(self.scales.shape)))
        if has_biases:
            if self.biases is None:
                raise ValueError(message(name, "biases", f"be given for mode {self.mode!r}",
                                         "None"))
            check_array(name, "biases", self.biases)
            if tuple(self.biases.shape) != groups:
                raise ShapeError(message(name, "biases", f"have shape {fmt_shape(groups)}",
                                         fmt_shape(self.biases.shape)))
        elif self.biases is not None:
            raise ValueError(message(name, "biases", f"be None for mode {self.mode!r}",
                                     f"an array of shape {fmt_shape(self.biases.shape)}"))

    @classmethod
    def from_module(cls, module: Any) -> "QuantizedWeight":
        """The head of an ``nn.QuantizedLinear`` or ``nn.QuantizedEmbedding``
        (a tied head). A ``QuantizedLinear``'s own bias is not part of it:
        pass ``linear_bias=module.get("bias")``."""
        import mlx.nn as nn

        if not isinstance(module, (nn.QuantizedLinear, nn.QuantizedEmbedding)):
            raise TypeError(message("QuantizedWeight.from_module", "module",
                                    "be an nn.QuantizedLinear or nn.QuantizedEmbedding",
                                    type(module).__name__))
        return cls(module["weight"], module["scales"], module.get("biases"),
                   module.group_size, module.bits, getattr(module, "mode", "affine"))

    @property
    def shape(self) -> Tuple[int, int]:
        """``(C, in_features)``, the shape of the weight it stands for."""
        return (self.weight.shape[0], self.weight.shape[1] * 32 // cast(int, self.bits))

    @property
    def ndim(self) -> int:
        return 2

    def dequantize(self, dtype: Optional[mx.Dtype] = None) -> mx.array:
        """The whole ``(C, in_features)`` weight (for references and tests:
        the loss itself never builds it)."""
        return mx.dequantize(self.weight, self.scales, self.biases, self.group_size, self.bits,
                             self.mode, dtype=dtype)

    def _spec(self) -> _Quant:
        return _Quant(cast(int, self.group_size), cast(int, self.bits), self.mode,
                      self.biases is not None)

    def _arrays(self) -> List[mx.array]:
        return [self.weight, self.scales] + ([self.biases] if self.biases is not None else [])


# The (function, argument) a frozen quantized head's error names: a loss
# built on linear_cross_entropy sets its own for the duration of the call.
_FROZEN_AS: contextvars.ContextVar = contextvars.ContextVar("frozen_as",
                                                           default=(_FN, "linear_weight"))


@contextlib.contextmanager
def _frozen_as(fn: str, name: str):
    token = _FROZEN_AS.set((fn, name))
    try:
        yield
    finally:
        _FROZEN_AS.reset(token)


def _frozen(arrays: List[mx.array], fn: Optional[str] = None,
            name: Optional[str] = None) -> List[mx.array]:
    """The arrays of a quantized head, unchanged, behind a VJP that raises:
    a gradient w.r.t. them is asked for only when the caller differentiates
    them (QLoRA freezes the quantized layers). The error names ``fn`` and
    ``name`` (by default those of the current :func:`_frozen_as`)."""
    default_fn, default_name = _FROZEN_AS.get()
    fn, name = fn or default_fn, name or default_name

    @mx.custom_function
    def frozen(*xs):
        return tuple(xs)

    @frozen.vjp
    def frozen_vjp(primals, cotangents, outputs):
        raise ValueError(message(
            fn, name, "be frozen when it is a QuantizedWeight (no gradient w.r.t. "
            "its packed weight, scales or biases, as MLX's quantized_matmul; freeze the "
            "quantized head, e.g. model.freeze() before adding LoRA layers)",
            "a gradient w.r.t. it"))

    return list(cast(Tuple[mx.array, ...], frozen(*arrays)))


@functools.lru_cache(maxsize=None)
def _quantized_linear(quant: _Quant):
    """``x @ W^T`` of a packed head, as ``nn.QuantizedLinear`` computes it,
    with the gradient w.r.t. ``x`` only: the head's cotangents are zeros
    that :func:`_frozen` refuses when they are asked for (MLX's own VJP
    would raise first, with its message)."""

    def qmm(x, head, transpose):
        return mx.quantized_matmul(x, head[0], head[1], head[2] if quant.biases else None,
                                   transpose, quant.group_size, quant.bits, quant.mode)

    @mx.custom_function
    def linear(x, *head):
        return qmm(x, head, True)

    @linear.vjp
    def linear_vjp(primals, cotangents, outputs):
        x, *head = primals
        g = single(cotangents)
        return (qmm(g, head, False).astype(x.dtype), *[mx.zeros_like(h) for h in head])

    return linear


# --------------------------------------------------------------------------
# the public function


_TORCH_MM = {mx.float16: "c10::Half", mx.bfloat16: "c10::BFloat16", mx.float32: "float",
             mx.float64: "double"}


def _check_head_dtypes(input: mx.array, linear_weight: mx.array,
                       linear_bias: Optional[mx.array], torch_chunked: bool,
                       acc: Optional[mx.Dtype]) -> None:
    """torch's dtype rules for the head: its reference path's linear takes
    one dtype for input, weight and bias; its chunked kernel casts the bias
    to its accumulation dtype, and a float16 / bfloat16 input's weight too
    (CPU, float32 accumulation), but otherwise needs the input's dtype."""
    dt = input.dtype
    cast_weight = torch_chunked and dt in (mx.float16, mx.bfloat16) and acc == mx.float32
    if linear_weight.dtype != dt and not cast_weight:
        raise TypeError(message(
            _FN, "linear_weight", f"have the dtype of `input`, {dtype_name(dt)}",
            f"{dtype_name(linear_weight.dtype)}: expected m1 and m2 to have the same dtype, "
            f"but got: {_TORCH_MM[dt]} != {_TORCH_MM[linear_weight.dtype]}"))
    if linear_bias is not None and linear_bias.dtype != dt and not torch_chunked:
        raise TypeError(message(
            _FN, "linear_bias", f"have the dtype of `input`, {dtype_name(dt)}",
            f"{dtype_name(linear_bias.dtype)}: self and mat2 must have the same dtype"))


def _logits_axis(axis: Any, ndim: int, default: int, shape: Tuple[int, ...]) -> int:
    """The class axis of the logits (shape ``shape``, classes at ``default``
    in torch's layout), as an index."""
    if axis is None:
        return default
    axis = check_number(_FN, "axis", axis, integer=True)
    if ndim == 1 and axis in (1, 0, -1):
        return 0
    if not -ndim < axis < ndim or axis % ndim == 0:
        raise ValueError(message(
            _FN, "axis", f"name a class axis of the logits (shape {fmt_shape(shape)} in "
            f"torch's layout): one of 1..{ndim - 1} or {1 - ndim}..-1 (axis 0 is the batch)",
            f"{axis}: Dimension out of range or the batch axis"))
    return axis % ndim


@public_loss
def linear_cross_entropy(
    input: mx.array,
    linear_weight: "mx.array | QuantizedWeight",
    target: mx.array,
    *,
    linear_bias: Optional[mx.array] = None,
    weight: Optional[mx.array] = None,
    reduction: Reduction = "mean",
    ignore_index: Optional[int] = None,
    label_smoothing: float = 0.0,
    options: Optional[LinearCrossEntropyOptions] = None,
    axis: Optional[int] = None,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    z_loss: float = 0.0,
    out_dtype: Optional[mx.Dtype] = None,
    group: Optional[mx.distributed.Group] = None,
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
    takes label smoothing and class-probability targets. It works under
    ``mx.grad``, ``mx.value_and_grad``, ``nn.value_and_grad`` and
    ``mx.compile`` (whose fused tile kernels are compiled once, whatever the
    number of tiles), and a second backward over the same loss just works
    (MLX has no ``retain_graph``: ``allow_retain_graph`` is accepted and
    ignored). K-dimensional ``linear_weight`` with ``options`` falls back to
    the reference path with torch's warning.

    Beyond torch (keyword-only, MLX-only, both paths): ``input`` of any
    shape ``(*, in_features)``, e.g. an LLM's ``(B, T, H)`` hidden states
    with ``(B, T)`` targets (torch takes ``(in_features)`` and ``(N,
    in_features)``); ``linear_weight`` may be a :class:`QuantizedWeight`
    (a frozen quantized head, dequantized a vocabulary block at a time on
    the chunked path); ``logit_scale``, ``softcap``, ``z_loss`` and
    ``out_dtype`` as in :func:`mlx_losses.functional.cross_entropy`, applied
    to the logits ``z`` (inside each tile on the chunked path):
    :math:`\text{softcap} \cdot \tanh(\text{logit\_scale} \cdot z /
    \text{softcap})`, and :math:`\lambda \operatorname{lse}^2` added to
    each counted token's loss.

    As in torch, ``input``, ``linear_weight`` and ``linear_bias`` must have
    one dtype on the reference path; torch's chunked kernel (class indices,
    no smoothing) casts the bias, and a float16 / bfloat16 input's weight,
    to its accumulation dtype. Class weights must have the logits' dtype on
    the reference path (and with smoothing, where torch's chunked path falls
    back to it); with counted weights summing to 0, ``'mean'`` is NaN with
    torch's gradients on either path (the chunked path without smoothing:
    NaN in every row, torch's chunked kernel). An out-of-range target
    raises in eager mode; under ``mx.compile`` or with the value checks off
    it gives NaN in its row's loss and gradient on both paths.

    Args:
        input (array): Input samples, ``(in_features)``, ``(N,
            in_features)`` or any ``(*, in_features)``.
        linear_weight (array or QuantizedWeight): ``(C, in_features)`` or
            ``(C, d_1, ..., d_K, in_features)``; a :class:`QuantizedWeight`
            stands for a ``(C, in_features)`` one.
        target (array): Class indices (integer dtype) of shape ``()``,
            ``(N)``, ``(N, d_1, ..., d_K)`` or the batch shape ``(*)`` of
            ``input`` (then ``(*, d_1, ..., d_K)``), or class probabilities
            (floating) of the logits' shape, ``(*, C, d_1, ..., d_K)``.
        linear_bias (array, optional): ``(C)`` or ``(C, d_1, ..., d_K)``.
            Default: ``None``.
        weight (array, optional): Class weights, ``(C)``. Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        ignore_index (int, optional): Class index that is ignored; ``None``
            means ``-100`` for class-index targets. Must be ``None`` for
            class-probability targets. Default: ``None``.
        label_smoothing (float, optional): In ``[0, 1]``; a negative or NaN
            value means no smoothing, as in torch. Default: ``0.0``.
        options (LinearCrossEntropyOptions, optional): ``None`` for the
            reference path; an instance turns chunking on. Default: ``None``.
        axis (int, optional): The class axis of the logits, and so of a
            probability target (class-index targets do not depend on it);
            ``None`` is torch's layout, the classes right after the batch
            dimensions of ``input``. Default: ``None``.
        softcap (float, optional): Final-logit softcapping, ``> 0``.
            Default: ``None``.
        logit_scale (float, optional): A factor on the logits. Default:
            ``None``.
        z_loss (float, optional): :math:`\lambda \ge 0` of the z-loss.
            Default: ``0.0``.
        out_dtype (Dtype, optional): The dtype of the returned loss (e.g.
            ``mx.float32`` for a bfloat16 model); ``None`` is torch's rule.
            Default: ``None``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: scalar, or the target's (class-index) shape with
          ``reduction='none'``.

    Returns:
        array: The loss, in ``out_dtype`` if given, else in ``input``'s dtype
        (the promoted dtype with the class weights for a probability
        target).

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
        >>> h = mx.zeros((2, 5, 3))  # (batch, tokens, hidden)
        >>> linear_cross_entropy(h, W, mx.zeros((2, 5), mx.int32), options=opts,
        ...                      reduction="none").shape
        (2, 5)
    """
    reduction = resolve_reduction(_FN, reduction)
    check_floating(_FN, "input", input)
    quantized = isinstance(linear_weight, QuantizedWeight)
    if not quantized:
        check_floating(_FN, "linear_weight", linear_weight)
    check_array(_FN, "target", target)
    if options is not None and not isinstance(options, LinearCrossEntropyOptions):
        raise TypeError(message(_FN, "options", "be a LinearCrossEntropyOptions or None",
                                type(options).__name__))
    if ignore_index is not None:
        ignore_index = check_number(_FN, "ignore_index", ignore_index, integer=True)
    eps = check_label_smoothing(_FN, label_smoothing)
    softcap, logit_scale, z_loss, out_dtype = _check_logit_options(
        _FN, softcap, logit_scale, z_loss, out_dtype)
    chunked = options is not None
    if input.ndim < 1:
        raise ShapeError(message(
            _FN, "input", "have at least 1 dimension, (*, in_features)",
            f"0-D: expected input with dimensionality 1 or 2, got {input.ndim}"))
    if linear_weight.ndim < 2:
        raise ShapeError(message(
            _FN, "linear_weight", "be at least 2-D, (C, [d_1, ..., d_K,] in_features)",
            f"{linear_weight.ndim}-D: expected linear_weight with dimensionality at least 2, "
            f"got {linear_weight.ndim}"))
    batch = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    w_shape = tuple(linear_weight.shape)
    if in_features != w_shape[-1]:
        raise ShapeError(message(
            _FN, "linear_weight", f"have last dimension in_features = {in_features}",
            f"{w_shape[-1]}: expected equal input and linear_weight last "
            f"dimensions (in_features), got {in_features} and {w_shape[-1]}, "
            "respectively"))
    num_classes = w_shape[0]
    out_features = w_shape[1:-1]
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
            f"{w_shape} requires batched input, (N, {in_features}), got "
            f"unbatched input with shape {tuple(input.shape)}"))
    if weight is not None:
        check_floating(_FN, "weight", weight)
        if tuple(weight.shape) != (num_classes,):
            raise ShapeError(message(
                _FN, "weight", f"have shape ({num_classes},), one weight per class",
                f"{fmt_shape(weight.shape)}: expected weight shape to be ({num_classes},)"))

    # torch's layout: the logits are (*batch, C, *out_features); torch
    # decides "class probabilities" by the target having the logits' shape.
    logits_shape = (*batch, num_classes, *out_features)
    cax = len(batch)
    user_cax = _logits_axis(axis, len(logits_shape), cax, logits_shape)
    user_shape = list(logits_shape)
    user_shape.insert(user_cax, user_shape.pop(cax))
    soft = tuple(target.shape) == tuple(user_shape)
    if soft:
        if ignore_index is not None:
            raise ValueError(message(
                _FN, "ignore_index", "be None for class-probability targets",
                f"{ignore_index}: ignore_index cannot be specified when target contains "
                "probabilities"))
        check_floating(_FN, "target", target)
        if user_cax != cax:
            target = mx.moveaxis(target, user_cax, cax)
    else:
        if not mx.issubdtype(target.dtype, mx.integer):
            raise TypeError(message(
                _FN, "target",
                f"hold class indices (an integer dtype) or probabilities of shape "
                f"{fmt_shape(user_shape)}",
                f"{dtype_name(target.dtype)} of shape {fmt_shape(target.shape)}"))
        want = (*batch, *out_features)
        if tuple(target.shape) != want:
            raise ShapeError(message(
                _FN, "target", f"have shape {fmt_shape(want)} (class indices) or "
                f"{fmt_shape(user_shape)} (probabilities)", fmt_shape(target.shape)))
    ii = -100 if ignore_index is None else ignore_index
    if not soft:
        target = _as_index(target, ii)
        check_index_range(_FN, "target", target, num_classes, ignore_index=ii)

    if quantized and out_features:
        raise ShapeError(message(_FN, "linear_weight", "be (C, in_features) when quantized",
                                 f"a QuantizedWeight of shape {fmt_shape(w_shape)}"))
    if chunked and out_features:
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; the chunked path needs "
            f"out_features == (), got out_features={out_features}. Using the reference path.",
            UserWarning,
            stacklevel=2,
        )
        chunked = False
    # the path torch takes: its chunked kernel for class indices without
    # smoothing, else its reference path (whose dtype rules ours follow)
    torch_chunked = chunked and not soft and eps == 0.0
    # (``quantized`` and ``chunked`` tell which type each of these has)
    dense = cast(mx.array, linear_weight)
    packed = cast(QuantizedWeight, linear_weight)
    opts = cast(LinearCrossEntropyOptions, options)
    if not quantized:
        acc = opts._acc_dtype(input.dtype) if chunked else None
        _check_head_dtypes(input, dense, linear_bias, torch_chunked, acc)
    logits_dtype = input.dtype
    if quantized and mx.issubdtype(packed.scales.dtype, mx.floating) and not chunked:
        logits_dtype = result_dtype(input, packed.scales)
    if weight is not None and not soft and not torch_chunked:
        # torch's reference path (its chunked kernel runs without smoothing
        # only) takes class weights of the logits' dtype only
        _check_weight_dtype(_FN, weight, logits_dtype, "the logits")

    if quantized:
        quant = packed._spec()
        head = _frozen(packed._arrays())
    else:
        quant, head = None, [dense]

    if chunked:
        xf = input.reshape(-1, in_features)
        tf = target.reshape(-1, num_classes) if soft else target.reshape(-1)
        # class probabilities: torch runs the reference path, whose
        # cross_entropy promotes the output with the class weights
        loss_dtype = result_dtype(input, weight) if soft and weight is not None else input.dtype
        loss = _chunked(xf, head, quant, linear_bias, tf, soft, weight, reduction, ii, eps,
                        opts, out_dtype or loss_dtype, (softcap, logit_scale, z_loss), group)
        if reduction == "none":
            loss = loss.reshape(batch)
        return loss

    # the reference path: the full logits, then cross_entropy
    flat = math.prod(out_features) * num_classes
    x2 = input.reshape(-1, in_features)
    if quantized:
        logits = _quantized_linear(quant)(x2, *head)
        if linear_bias is not None:
            logits = logits + linear_bias
    else:
        w2 = dense.reshape(flat, in_features)
        # torch's linear is one addmm: the bias is added before the single
        # rounding to the input dtype (matters in float16 / bfloat16)
        logits = x2 @ w2.T if linear_bias is None else mx.addmm(linear_bias.reshape(flat), x2, w2.T)
    logits = logits.reshape(logits_shape)
    return cross_entropy(
        logits, target, weight=weight, reduction=reduction, ignore_index=ii,
        label_smoothing=eps, axis=max(cax, 1), softcap=softcap, logit_scale=logit_scale,
        z_loss=z_loss, out_dtype=out_dtype, group=group,
    )
