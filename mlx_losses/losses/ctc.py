"""Connectionist Temporal Classification loss (``ctc_loss``) and its backward.

The kernels work on the *extended* label sequence of each sample, the target
with a blank before, between and after its labels (``L = 2 S + 1``
positions), for the whole batch at once, in log space, with input lengths
shorter than ``T`` and no per-sample Python work. The gradient is the true
gradient of the loss w.r.t. ``log_probs``, from a hand-written VJP
(``mx.custom_function``): the posterior of each (t, position) is
``exp(alpha + beta - log p)``; blank positions are summed into the blank
class and label positions onto their classes by a cumulative sum over the
positions sorted by class (``_class_sums``).

* The **stacked** kernel (the default, ``_ctc_kernel_stacked``) runs the
  beta (backward) recursion as the alpha recursion of the time- and
  label-reversed problem, stacked with the forward one: one recursion over
  2N rows, one fused three-way log-sum-exp per time step over a flat layout
  (no pad or concatenation per step), one ``mx.compile``'d call per chunk of
  up to 112 steps; the VJP only pairs stored states.
* A **two-pass** kernel (alpha in the forward, beta in the VJP) lives in
  ``tests/_ctc_two_pass.py`` as an independent reference: the tests check
  the two against each other.

float16 / bfloat16 inputs are computed in float32 and the loss is cast back
once; float64 stays float64.

Speed (CPU): the recursion is bound by the exps and the log of the three-way
log-sum-exp (MLX's CPU ``exp`` and ``log`` are several times slower than
NumPy's) and by MLX's per-operation overhead (a handful of operations per
time step). A probability-domain recursion (Rabiner's rescaling) avoids the
exps but cannot be made safe: see the note above ``_ctc_kernel_stacked``.
Under ``mx.grad`` / ``mx.value_and_grad`` in eager mode, MLX calls compiled
functions whose inputs are tracers uncompiled, so the per-step fusion is lost:
wrap the training step in ``mx.compile`` to keep it.
"""

from __future__ import annotations

import functools
import math
from typing import List, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx

from .._api import public_loss
from .._device import compile_by_branch
from .._dtypes import acc_dtype
from .._numerics import exp_nonpos, logsumexp_nonpos
from .._reduction import length_normalized_reduction
from .._validation import (
    Reduction,
    ShapeError,
    ValueCheckError,
    check_bool,
    check_floating,
    check_ndim,
    check_number,
    dtype_name,
    _min_max,
    fmt_shape,
    host_arrays,
    message,
    run_value_check,
    resolve_reduction,
)

__all__ = ["ctc_loss"]

Lengths = Union[mx.array, Sequence[int]]

_NEG_INF = -math.inf


# --------------------------------------------------------------------------
# shared by the stacked kernel and the tests' two-pass reference
# (tests/_ctc_two_pass.py)


def _lse3(a: mx.array, b: mx.array, c: mx.array) -> mx.array:
    """log(exp(a) + exp(b) + exp(c)), elementwise; -inf when all are -inf.

    Sorting out the largest term first costs two exps instead of three
    (exp(max - max) = 1); the exps dominate the recursion's cost on the CPU.
    """
    hi = mx.maximum(a, b)
    lo1 = mx.minimum(a, b)
    m = mx.maximum(hi, c)
    lo2 = mx.minimum(hi, c)
    # all three -inf: shift the smaller two by 0, not by -inf (which would give
    # (-inf) - (-inf) = NaN); the result is then -inf + log(1) = -inf.
    ms = mx.where(m == _NEG_INF, mx.zeros_like(m), m)
    return m + mx.log(1 + exp_nonpos(lo1 - ms) + exp_nonpos(lo2 - ms))


def _cotangents(grad, log_p, zero_infinity, labels, input_lengths, target_lengths):
    """The kernels' VJP outputs: ``grad`` (T, N, C) w.r.t. the log-probs,
    zeroed for impossible samples (``log_p`` inf) with ``zero_infinity``,
    and zeros for the integer inputs."""
    if zero_infinity:
        grad = mx.where(mx.isinf(log_p)[None, :, None], mx.zeros_like(grad), grad)
    return grad, mx.zeros_like(labels), mx.zeros_like(input_lengths), mx.zeros_like(target_lengths)


def _class_sums(post: mx.array, ext: mx.array, C: int, blank: Optional[int]) -> mx.array:
    """(T, N, C): the sum of ``post`` (T, N, L) over the positions of each
    class (``ext``, (N, L): blank at even positions, labels at odd ones).

    Blank positions are summed into the blank class. The label positions are
    sorted by class once per sample; a cumulative sum along them then gives
    every class's sum as the difference of two gathered entries. Gathers
    along the last axis are cheap on the CPU, where a scatter-add or a
    one-hot matmul (MLX's CPU matmul) costs several times more. A NaN
    anywhere in a frame (an impossible sample) reaches every class of that
    frame, as it does in torch.
    """
    T, N, L = post.shape
    classes = mx.arange(C)
    blank_sum = mx.sum(post[:, :, 0::2], axis=2, keepdims=True)  # (T, N, 1)
    # the blank class: ``blank``, or read from ext's first position (an array,
    # so that a compiled caller does not specialise on it)
    is_blank = (classes == blank) if blank is not None else (classes == ext[:, :1])[None]
    out = mx.where(is_blank, blank_sum, mx.zeros((1, 1, C), dtype=post.dtype)) + blank_sum * 0
    S = (L - 1) // 2
    if not S:
        return out
    labels = ext[:, 1::2]  # (N, S)
    order = mx.argsort(labels, axis=1)
    lo = mx.sum((labels[:, :, None] < classes).astype(mx.int32), axis=1)  # (N, C): first index
    hi = lo + mx.sum((labels[:, :, None] == classes).astype(mx.int32), axis=1)  # one past the last
    cs = mx.cumsum(mx.take_along_axis(post[:, :, 1::2], mx.broadcast_to(order[None], (T, N, S)), axis=2), axis=2)

    def upto(i):  # cs[..., i - 1], 0 for i == 0
        got = mx.take_along_axis(cs, mx.broadcast_to(mx.maximum(i - 1, 0)[None], (T, N, C)), axis=2)
        return mx.where((i > 0)[None], got, mx.zeros_like(got))

    return out + upto(hi) - upto(lo) + cs[:, :, -1:] * 0


# --------------------------------------------------------------------------
# the stacked kernel (the default)
#
# The beta (backward) recursion is the alpha recursion of the time- and
# label-reversed problem, so both run as one recursion over 2N rows (forward
# rows, then reversed rows), one compiled call per chunk of up to
# 2 * _MAX_BLOCKS - 1 blocks of _BLOCK steps; per step one fused three-way
# log-sum-exp over all 2N rows, with no copy, pad or concatenation:
#
# * layout: each row holds W = L + 2 columns (two -inf columns, then the L
#   extended positions) and all rows are flattened into one vector, so that
#   "position l - 1" and "l - 2" are the vector shifted by 1 and 2
#   (contiguous views; the -inf columns stop a shift from leaking across
#   rows). A step reads ``s[2:]``, ``s[1:-1]``, ``s[:-2]`` and so writes a
#   vector 2 shorter: D rows of -inf in front absorb what a chunk consumes and
#   are put back once per chunk.
# * reversed rows run the reversed time axis of the padded length T_pad (a
#   multiple of _BLOCK), and the chunk sizes are a palindrome, so reversed
#   chunk n - 1 - j holds the frames of forward chunk j. A sample shorter than
#   T_pad starts late in reversed time: until then its reversed row "holds"
#   its initial state (log-emission 0 at the start position, -inf
#   elsewhere), which needs no per-sample shifting of any array.
# * the loss is read from the reversed rows at frame 0; the VJP pairs forward
#   chunk j with reversed chunk n - 1 - j: the posterior of (t, l) is
#   exp(alpha_t(l) + beta_t(l) - e_t(l) - log p) (both rows include the
#   emission of frame t).
#
# Kept in log space on purpose: a probability-domain version of this
# recursion (Rabiner's rescaling, even with a float64 state rescaled every
# 16 steps) is faster on the CPU, but it loses every path more
# than ~700 nats below the best prefix of its row, e.g. all complete paths of
# a blank-collapsed model with a long target (inf where the loss is ~1000);
# tests/test_ctc.py and the parity table have such cases.

_BLOCK = 16  # chunk sizes are multiples of _BLOCK steps
_MAX_BLOCKS = 4

def _chunk_blocks(n_blocks: int) -> Tuple[int, ...]:
    """Blocks per chunk, a palindrome: _MAX_BLOCKS at both ends, the rest
    (fewer than 2 * _MAX_BLOCKS) in one middle chunk."""
    ends = []
    rem = n_blocks
    while rem >= 2 * _MAX_BLOCKS:
        ends.append(_MAX_BLOCKS)
        rem -= 2 * _MAX_BLOCKS
    return tuple(ends + ([rem] if rem else []) + ends[::-1])


def _emissions(lp, act, ext_w, hold_w):
    """(K, N, W) log-emissions of a chunk in the row layout: ``lp`` (K, N,
    C + 1; class C is -inf) gathered at ``ext_w`` (N, W) for the frames with
    ``act`` (K, N, 1), the hold pattern ``hold_w`` for the others."""
    K = lp.shape[0]
    g = mx.take_along_axis(lp, mx.broadcast_to(ext_w[None], (K,) + tuple(ext_w.shape)), axis=2)
    return mx.where(act, g, hold_w)


def _stacked_chunk_impl(s, lf, lr, act_f, act_r, ext_f, ext_r, hold_f, hold_r, k):
    """``lf.shape[0]`` steps of the stacked recursion.

    s: ((D + R) W,) the state (D rows of -inf, then R = 2N rows of W
    columns); lf / lr: (K, N, C + 1) log-probabilities of this chunk's frames,
    and of the mirrored frames in reversed order; act_*: (K, N, 1) frame <
    input length; ext_*: (N, W) class of each column (C: none); hold_*:
    (N, W); k: ((D + R) W,) 0 where a column may be entered from two columns
    back, -inf elsewhere. Returns the new state and the K states (K, 2, N, W).
    """
    K, N, _ = lf.shape
    W = ext_f.shape[1]
    R = 2 * N
    RW = R * W
    D = s.shape[0] // W - R
    e = mx.concatenate(
        [mx.full((K, D, W), _NEG_INF, dtype=s.dtype),
         _emissions(lf, act_f, ext_f, hold_f), _emissions(lr, act_r, ext_r, hold_r)], axis=1,
    ).reshape(K, (D + R) * W)
    outs = []
    for j in range(K):
        s = _lse3(s[2:], s[1:-1], s[:-2] + k[2 * j + 2:]) + e[j, 2 * j + 2:]
        outs.append(s[s.shape[0] - RW:])  # the R rows are always the last R * W elements
    s = mx.concatenate([mx.full((D * W,), _NEG_INF, dtype=s.dtype), s[s.shape[0] - RW:]])
    return s, mx.stack(outs).reshape(K, 2, N, W)


def _stacked_posterior_impl(sf, sr, lf, act, ext_l, log_p, ext_cls, neg_g):
    """(K, N, C): the gradient of a chunk's frames, ``neg_g`` (1, N, 1) times
    the posterior occupation of each class.

    sf: (K, N, W) forward states of the chunk's frames; sr: (K, N, W)
    reversed states of the same frames (reversed in time and columns); lf,
    act: as for the chunk; ext_l: (N, L) class of each position (C: none);
    log_p: (1, N, 1); ext_cls: (N, L) class of each position.
    """
    K, N, W = sf.shape
    L = W - 2
    e = mx.take_along_axis(lf, mx.broadcast_to(ext_l[None], (K, N, L)), axis=2)
    beta = sr[::-1, :, ::-1][:, :, :L]  # includes the emission of frame t
    ok = act & (e > _NEG_INF)
    # an impossible sample (log p = -inf) or a NaN one gets NaN at every
    # entry of its frames, as in torch (-inf - log p is NaN for both)
    x = mx.where(ok, sf[:, :, 2:] + beta - mx.where(ok, e, mx.zeros_like(e)) - log_p,
                 _NEG_INF - log_p)
    post = mx.where(act, exp_nonpos(x), mx.zeros_like(x))
    return _class_sums(post, ext_cls, lf.shape[2] - 1, None) * neg_g


_stacked_chunk = compile_by_branch(_stacked_chunk_impl)
_stacked_posterior = compile_by_branch(_stacked_posterior_impl)


def _stacked_structure(labels, input_lengths, target_lengths, T, C, blank, dtype):
    """The arrays every chunk shares (shapes and index structure)."""
    N, S = labels.shape
    L = 2 * S + 1
    W = L + 2
    n_blocks = max(-(-T // _BLOCK), 1)
    sizes = _chunk_blocks(n_blocks)
    T_pad = n_blocks * _BLOCK
    il = input_lengths.astype(mx.int32)
    act = (mx.arange(T_pad)[:, None] < il[None, :])[:, :, None]  # (T_pad, N, 1)
    tl2 = (2 * target_lengths.astype(mx.int32))[:, None]
    pos = mx.arange(L)[None, :]
    ext = mx.full((N, L), blank, dtype=mx.int32)
    if S:
        ext = mx.concatenate([mx.full((N, S, 1), blank, dtype=mx.int32), labels[:, :, None]], axis=2)
        ext = mx.concatenate([ext.reshape(N, 2 * S), mx.full((N, 1), blank, dtype=mx.int32)], axis=1)
    # l may be entered from l - 2: a label different from the label before it
    prev2 = mx.concatenate([mx.full((N, 2), -1, dtype=mx.int32), ext[:, :-2]], axis=1)[:, :L]
    k_f = (pos % 2 == 1) & (pos >= 3) & (ext != prev2)
    # reversed: l' = L - 1 - l is entered from l' - 2 when l -> l + 2 is a skip
    k_r = mx.concatenate([k_f[:, 2:], mx.zeros((N, 2), dtype=mx.bool_)], axis=1)[:, :L][:, ::-1]
    ext_cls = ext
    ext = mx.where(pos <= tl2, ext, mx.array(C, dtype=mx.int32))  # past the target: no class
    zero = mx.zeros((1,), dtype=dtype)
    ninf = mx.full((1,), _NEG_INF, dtype=dtype)

    def log01(b):
        return mx.where(b, zero, ninf)

    def cols(a, v):  # two leading columns of v
        return mx.concatenate([mx.full((a.shape[0], 2), v, dtype=a.dtype), a], axis=1)

    D = -(-2 * _BLOCK * max(sizes) // W)
    head = mx.full((D * W,), _NEG_INF, dtype=dtype)
    k = mx.concatenate([head, cols(log01(mx.concatenate([k_f, k_r], axis=0)), _NEG_INF).reshape(-1)])
    # before the first frame: forward rows at position 0, reversed rows at the
    # last blank of their target; a frame past the input length holds the
    # state there (forward rows are not read there, reversed rows wait)
    init = mx.concatenate([mx.broadcast_to(pos == 0, (N, L)), pos == L - 1 - tl2], axis=0)
    s0 = mx.concatenate([head, cols(log01(init), _NEG_INF).reshape(-1)])
    return dict(
        sizes=sizes, T_pad=T_pad, act=act, ext_l=ext, ext_cls=ext_cls, ext_f=cols(ext, C),
        ext_r=cols(ext[:, ::-1], C), hold_f=cols(log01(pos == tl2), _NEG_INF),
        hold_r=cols(log01(pos == L - 1 - tl2), _NEG_INF), k=k, s0=s0,
    )


def _readable(log_probs, labels, input_lengths, target_lengths, blank):
    """``log_probs`` with the NaN / +inf entries a sample reads (frames
    t < its input length) set to 0, and the samples whose loss torch's
    recursion makes NaN (N,).

    The stacked recursion shares one state vector between the samples, and
    a NaN would cross the -inf columns between them (NaN + -inf is NaN), so
    it runs on finite values and those samples' log p is set to NaN
    afterwards. torch's recursion: a non-finite log-probability makes the
    states that read it NaN (at frame 0 only the first two states are read;
    later, every state of the target), and the NaN spreads along the
    alignment graph; the loss is NaN if it reaches an end state by the last
    frame (otherwise the loss is what it is without it).
    """
    T = log_probs.shape[0]
    N, S = labels.shape
    L = 2 * S + 1
    il, tl = input_lengths, target_lengths
    frames = mx.arange(T)[:, None, None]
    off = (frames < il[None, :, None]) & mx.logical_not(log_probs < math.inf)
    # per class: the first frame >= 1 that reads it non-finite (T if none)
    first = mx.min(mx.where(off & (frames >= 1), frames, T), axis=0)  # (N, C)
    # the class of each extended position: blank, label 0, blank, label 1, ...
    ext = mx.full((N, L), blank, dtype=labels.dtype)
    if S:
        ext = mx.concatenate([mx.full((N, S, 1), blank, dtype=labels.dtype), labels[:, :, None]],
                             axis=2).reshape(N, 2 * S)
        ext = mx.concatenate([ext, mx.full((N, 1), blank, dtype=labels.dtype)], axis=1)
    pos = mx.arange(L)[None, :]
    at = mx.take_along_axis(first, ext, axis=1)  # (N, L)
    at = mx.where(mx.take_along_axis(off[0], ext, axis=1) & (pos <= 1), 0, at)
    # frames from each position to an end state: one per later label, one
    # more per repeated label (a blank between the two); one more from the
    # blank before a label; 0 from the last label and the final blank
    k = mx.arange(S)[None, :]
    g = mx.where((k >= 1) & (k < tl[:, None]),
                 1 + (labels == mx.concatenate([labels[:, :1], labels[:, :-1]], axis=1)), 0)
    rest = mx.sum(g, axis=1, keepdims=True) - mx.cumsum(g, axis=1)  # after label k
    steps = mx.concatenate([mx.stack([rest + 1, rest], axis=2).reshape(N, 2 * S),
                            mx.zeros((N, 1), dtype=rest.dtype)], axis=1)
    steps = mx.where(pos == 2 * tl[:, None], 0, steps)
    bad = mx.any((pos <= 2 * tl[:, None]) & (at + steps <= il[:, None] - 1), axis=1)
    return mx.where(off, mx.zeros((), log_probs.dtype), log_probs), bad


@functools.lru_cache(maxsize=None)
def _ctc_kernel_stacked(blank: int, zero_infinity: bool):
    """The stacked custom-VJP kernel: (log_probs, labels, input_lengths,
    target_lengths) -> (nll per sample, log p, the states of each chunk...).
    Callers use the first output; the others are the VJP's residuals."""

    def _log_probs(log_probs, T_pad):
        # frames past T and class C ("none"): -inf
        return mx.pad(log_probs, [(0, T_pad - log_probs.shape[0]), (0, 0), (0, 1)], constant_values=_NEG_INF)

    @mx.custom_function
    def kernel(log_probs, labels, input_lengths, target_lengths):
        T, N, C = log_probs.shape
        z = _stacked_structure(labels, input_lengths, target_lengths, T, C, blank, log_probs.dtype)
        log_probs, nonfinite = _readable(log_probs, labels, input_lengths, target_lengths, blank)
        lp = _log_probs(log_probs, z["T_pad"])
        act = z["act"]
        lp_rev, act_rev = lp[::-1], act[::-1]
        s, t0, states = z["s0"], 0, []
        for nb in z["sizes"]:
            sl = slice(t0, t0 + nb * _BLOCK)
            t0 += nb * _BLOCK
            s, st = _stacked_chunk(s, lp[sl], lp_rev[sl], act[sl], act_rev[sl], z["ext_f"], z["ext_r"],
                                   z["hold_f"], z["hold_r"], z["k"])
            states.append(st)
        # the reversed rows at frame 0 hold beta_0; paths start at position 0
        # or 1, the reversed columns L + 1 and L
        L = z["ext_l"].shape[1]
        last = states[-1][-1, 1]
        log_p = logsumexp_nonpos(mx.stack([last[:, L + 1], last[:, L]], axis=1), axis=1)
        # NaN, as torch: the VJP's posteriors are then NaN at the sample's
        # frames (zero_infinity keeps them: NaN is not inf)
        log_p = mx.where(nonfinite, mx.array(math.nan, log_p.dtype), log_p)
        nll = -log_p
        if zero_infinity:
            nll = mx.where(mx.isinf(nll), mx.zeros_like(nll), nll)
        return (nll, log_p) + tuple(states)

    @kernel.vjp
    def kernel_vjp(primals, cotangents, outputs):
        log_probs, labels, input_lengths, target_lengths = primals
        g = cotangents[0]
        log_p, states = outputs[1], outputs[2:]
        T, N, C = log_probs.shape
        dtype = log_probs.dtype
        z = _stacked_structure(labels, input_lengths, target_lengths, T, C, blank, dtype)
        lp = _log_probs(_readable(log_probs, labels, input_lengths, target_lengths, blank)[0],
                        z["T_pad"])
        act, n, t0, chunks = z["act"], len(states), 0, []
        neg_g = (-g.astype(dtype))[None, :, None]
        for j, nb in enumerate(z["sizes"]):
            sl = slice(t0, t0 + nb * _BLOCK)
            t0 += nb * _BLOCK
            chunks.append(_stacked_posterior(states[j][:, 0], states[n - 1 - j][:, 1], lp[sl], act[sl],
                                             z["ext_l"], log_p[None, :, None], z["ext_cls"], neg_g))
        grad = (mx.concatenate(chunks, axis=0) if n > 1 else chunks[0])[:T]
        return _cotangents(grad, log_p, zero_infinity, labels, input_lengths, target_lengths)

    @kernel.vmap
    def kernel_vmap(inputs, axes):
        # fold the mapped axis into the batch axis and run once on N * B
        # samples (the kernel never runs under vmap itself)
        B = next(x.shape[a] for x, a in zip(inputs, axes) if a is not None)
        lp, labels, il, tl = (_fold(x, a, n_axis, B) for x, a, n_axis in zip(inputs, axes, (1, 0, 0, 0)))
        outs = kernel(lp, labels, il, tl)
        N = outs[0].shape[0] // B
        states = tuple(st.reshape(st.shape[0], 2, N, B, st.shape[-1]) for st in outs[2:])
        return (outs[0].reshape(N, B), outs[1].reshape(N, B)) + states, (1, 1) + (3,) * len(states)

    return kernel


def _fold(x, a, n_axis, B):
    """Move a vmapped axis ``a`` of ``x`` next to its batch axis and merge them."""
    if a is None:
        x = mx.broadcast_to(x[None], (B,) + tuple(x.shape))
    else:
        x = mx.moveaxis(x, a, 0)
    x = mx.moveaxis(x, 0, n_axis + 1)  # (..., N, B, ...)
    s = x.shape
    return x.reshape(s[:n_axis] + (s[n_axis] * B,) + s[n_axis + 2:])


# --------------------------------------------------------------------------
# argument handling


def _lengths(fn: str, name: str, value, batch: int, unbatched: bool) -> Tuple[mx.array, Optional[Tuple[int, ...]]]:
    """Lengths as an int array of shape (N,), plus their Python values when given as a sequence."""
    static: Optional[Tuple[int, ...]] = None
    if isinstance(value, mx.array):
        if not mx.issubdtype(value.dtype, mx.integer):
            raise TypeError(
                message(fn, name, "have an integer dtype", f"{dtype_name(value.dtype)}: "
                        f"{name} must be integral")
            )
        arr = value
    elif isinstance(value, (tuple, list)):
        vals: List[int] = []
        for v in value:
            try:  # ints as torch's IntArrayRef takes them (NumPy ints, 0-d integer arrays too)
                vals.append(check_number(fn, name, v, integer=True))
            except TypeError:
                raise TypeError(
                    message(fn, name, "be an mx.array or a tuple/list of ints",
                            f"an element {v!r} of type {type(v).__name__}")
                ) from None
        static = tuple(vals)
        arr = mx.array(static, dtype=mx.int32) if static else mx.zeros((0,), dtype=mx.int32)
    else:
        raise TypeError(
            message(fn, name, "be an mx.array or a tuple/list of ints", type(value).__name__)
        )
    if unbatched and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.shape[0] != batch:
        want = "() or (1,)" if unbatched else f"({batch},)"
        raise ShapeError(
            message(fn, name, f"have shape {want}",
                    f"{fmt_shape(arr.shape)}: {name} must be of size batch_size")
        )
    return arr, static


def _check_length_values(fn, name, arr, static, lo, hi, hi_what):
    """lo <= lengths <= hi, with torch's phrases."""

    def report(v):
        if v < lo:
            raise ValueCheckError(
                message(fn, name, f"be >= {lo}",
                        f"{v}: Expected {name} to have value at least {lo}, but got value {v}")
            )
        raise ValueCheckError(message(fn, name, f"be at most {hi} ({hi_what})", hi_msg(v)))

    def hi_msg(v):
        if name == "input_lengths":
            return f"{v}: Expected input_lengths to have value at most {hi}, but got value {v}"
        return (f"{v}: Expected tensor to have size at least {v} at dimension 1, "
                f"but got size {hi} for argument #2 'targets'")

    if static is not None:
        for v in static:
            if v < lo or (hi is not None and v > hi):
                report(v)
        return

    def check():
        if arr.size == 0:
            return
        mn, mxv = _min_max(arr)
        if mn < lo:
            report(mn)
        if hi is not None and mxv > hi:
            report(mxv)

    run_value_check(check)


def _check_labels(fn: str, labels: mx.array, valid: mx.array, C: int, blank: int) -> None:
    """Valid target positions hold classes in [0, C) other than ``blank``."""

    def check():
        if labels.size == 0:
            return
        views = host_arrays(labels, valid)  # NumPy on the CPU (faster)
        if views is not None:
            lab, ok = views
            lab = lab * ok  # 0 outside the target lengths
            lo_v, hi_v = int(lab.min()), int(lab.max())
            blank_in = bool((ok & (lab == blank)).any())
        else:
            lab = mx.where(valid, labels, 0)
            lo, hi = mx.min(lab), mx.max(lab)
            has_blank = mx.any(valid & (labels == blank))
            mx.eval(lo, hi, has_blank)
            lo_v, hi_v = int(lo.item()), int(hi.item())
            blank_in = bool(has_blank.item())
        if lo_v < 0 or hi_v >= C:
            bad = lo_v if lo_v < 0 else hi_v
            raise ValueCheckError(
                message(fn, "targets", f"hold class indices in [0, {C})",
                        f"{bad}: Target {bad} is out of bounds")
            )
        if blank_in:
            raise ValueCheckError(
                message(fn, "targets", f"not contain the blank label ({blank}) within the "
                        "target lengths", f"a target equal to {blank}")
            )

    run_value_check(check)


def _int_sum(arr: mx.array) -> int:
    """The sum of an integer array as a Python int, in 64 bits (NumPy on
    the CPU, else one eval)."""
    if arr.size == 0:
        return 0
    views = host_arrays(arr)
    if views is not None:
        return int(views[0].sum(dtype="int64"))
    return int(cast(int, mx.sum(arr.astype(mx.int64)).item()))


def _max_length(static, arr: mx.array, bound: int) -> int:
    """The longest target, as a Python int: from the tuple when given, else
    read from the array in eager mode (one small synchronisation), else (under
    ``mx.compile``) the static bound."""
    if static is not None:
        return max(static, default=0)
    if arr.size == 0:
        return 0
    try:
        return max(0, min(_min_max(arr)[1], bound))
    except ValueError as err:  # under a trace the value cannot be read
        if "[eval]" in str(err):
            return bound
        raise


@public_loss
def ctc_loss(
    log_probs: mx.array,
    targets: mx.array,
    input_lengths: Lengths,
    target_lengths: Lengths,
    blank: int = 0,
    reduction: Reduction = "mean",
    zero_infinity: bool = False,
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Connectionist Temporal Classification loss, as ``torch.nn.functional.ctc_loss``.

    The negative log-likelihood of the target under all monotonic alignments
    of the input frames to the target, with ``blank`` as the "no label"
    symbol (Graves et al., 2006):

    .. math::
        \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)}
            \prod_{t=1}^{T_n} p_t(\pi_t \mid x_n)

    where :math:`\mathcal{B}` removes repeated labels and then blanks, and
    :math:`T_n` is the input length. Repeated labels in a target need a blank
    between them, so a target may be impossible to align (input too short):
    its loss is ``inf`` (0 with ``zero_infinity=True``, its gradient too).

    Gradient: this is the *true* gradient of the loss w.r.t. ``log_probs``,
    :math:`-\sum_{l: \text{ext}_l = c} \gamma_t(l)` (the posterior occupation
    of the extended positions with class c), from a forward-backward pass.
    torch's own gradient w.r.t. ``log_probs`` assumes they come from
    ``log_softmax`` and adds :math:`\exp(\text{log\_probs})` times the
    incoming gradient (pytorch/pytorch#52241): after a ``log_softmax``
    (the usual case) both give the same gradient w.r.t. the logits; on raw
    ``log_probs`` they differ (and where a log-probability is -inf, torch's
    is NaN; ours is finite). For an infinite loss without
    ``zero_infinity`` the gradient is NaN at the sample's steps
    ``t < input_length``, as in torch.

    A NaN log-probability (a +inf or NaN logit before ``log_softmax``)
    makes that sample's loss and gradient NaN, as in torch (when the NaN
    can still reach the end of the target; the other samples are not
    affected); ``zero_infinity`` does not zero it. A +inf log-probability
    counts as NaN.

    Lengths given as an ``mx.array`` are checked in eager mode (switch off
    with :func:`mlx_losses.set_value_checks`); concatenated 1-D targets with
    array lengths read the longest target length once in eager mode (under
    ``mx.compile`` the total target length is used as the bound instead,
    which gives the same values at more cost). Lengths given as tuples are
    checked in plain Python and cost no synchronisation. Where the checks do
    not run (switched off, or under ``mx.compile``), a sample with a label
    outside ``[0, C)`` or equal to ``blank``, an input length outside ``[0, T]`` or a target length
    outside ``[0, S]`` gets a NaN loss and gradient (torch raises), and
    concatenated target lengths that do not sum to the size of ``targets``
    make every sample NaN; no index ever reads outside an array.

    Args:
        log_probs (array): Log-probabilities of the classes (e.g. the output
            of ``log_softmax``), time first.
        targets (array): Integer targets, padded ``(N, S)`` (entries past each
            target length are ignored) or concatenated 1-D
            ``(sum(target_lengths),)``. No target may equal ``blank``.
        input_lengths (array or tuple of ints): Each input's length, ``<= T``.
        target_lengths (array or tuple of ints): Each target's length,
            ``<= S`` for padded targets.
        blank (int, optional): The blank class, in ``[0, C)``. Default: ``0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            ``'mean'`` divides each loss by its target length (clamped to at
            least 1) and then takes the mean over the batch. Default: ``'mean'``.
        zero_infinity (bool, optional): Replace infinite losses (and their
            gradients) by 0. Default: ``False``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - log_probs: :math:`(T, N, C)` or :math:`(T, C)` (unbatched).
        - targets: :math:`(N, S)` or :math:`(\sum_n \text{target\_lengths}_n)`;
          unbatched: :math:`(\text{target\_length})` or :math:`(1, S)`.
        - input_lengths, target_lengths: :math:`(N)`; unbatched :math:`()` or :math:`(1)`.
        - Output: scalar; :math:`(N)` with ``reduction='none'`` (scalar when unbatched).

    Returns:
        array: The loss, in the dtype of ``log_probs`` (computed in float32
        for float16 / bfloat16).

    Raises:
        ShapeError: An empty ``log_probs`` (no frames, samples or classes),
            as torch's "log_probs tensor must not be empty".

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import ctc_loss
        >>> lp = mx.log(mx.full((2, 1, 2), 0.5))  # T=2, N=1, C=2 (blank 0)
        >>> # label 1 over 2 frames: alignments (1,1), (0,1), (1,0), so p = 3 * 0.25
        >>> round(ctc_loss(lp, mx.array([[1]]), (2,), (1,), reduction="sum").item(), 6)
        0.287682
    """
    fn = "ctc_loss"
    reduction = resolve_reduction(fn, reduction)
    check_floating(fn, "log_probs", log_probs)
    check_ndim(fn, "log_probs", log_probs, (2, 3))
    if not isinstance(targets, mx.array):
        raise TypeError(message(fn, "targets", "be an mx.array", type(targets).__name__))
    if not mx.issubdtype(targets.dtype, mx.integer):
        raise TypeError(
            message(fn, "targets", "have an integer dtype (class indices)", dtype_name(targets.dtype))
        )
    blank = check_number(fn, "blank", blank, integer=True)
    check_bool(fn, "zero_infinity", zero_infinity)
    if log_probs.size == 0:
        raise ShapeError(
            message(fn, "log_probs", "not be empty",
                    f"shape {fmt_shape(log_probs.shape)}: log_probs tensor must not be empty")
        )
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs[:, None, :]
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise ValueError(
            message(fn, "blank", f"be in [0, {C}) (the classes of `log_probs`)",
                    f"{blank}: blank must be in label range")
        )
    # unbatched 1-D targets are the concatenated form of one sample (their
    # size is the target length), 2-D (1, S) targets the padded form, as in torch
    check_ndim(fn, "targets", targets, (1, 2))
    il, il_static = _lengths(fn, "input_lengths", input_lengths, N, unbatched)
    tl, tl_static = _lengths(fn, "target_lengths", target_lengths, N, unbatched)

    _check_length_values(fn, "input_lengths", il, il_static, 0, T, "the length of `log_probs`")
    concatenated = targets.ndim == 1
    if concatenated:
        _check_length_values(fn, "target_lengths", tl, tl_static, 0, None, "")
        total = targets.shape[0]
        if tl_static is not None:
            if sum(tl_static) != total:
                raise ShapeError(
                    message(fn, "targets", f"have sum(target_lengths) = {sum(tl_static)} elements",
                            f"{total}: Expected tensor to have size {sum(tl_static)} at dimension 0")
                )
        else:
            def check_total():
                s = _int_sum(tl)
                if s != total:
                    raise ValueCheckError(
                        message(fn, "targets", f"have sum(target_lengths) = {s} elements",
                                f"{total}: Expected tensor to have size {s} at dimension 0")
                    )

            run_value_check(check_total)
        S = _max_length(tl_static, tl, total)
        pos = mx.arange(S)[None, :]
        valid = pos < tl[:, None]
        if S and total:
            offsets = mx.cumsum(tl.astype(mx.int32)) - tl.astype(mx.int32)
            idx = mx.clip(offsets[:, None] + pos, 0, total - 1)
            padded = mx.take(targets, idx)
        else:
            padded = mx.zeros((N, S), dtype=targets.dtype)
        # lengths that do not add up to the targets' size (torch rejects the
        # whole batch) make every sample bad
        tl_in = (tl >= 0) & (tl <= total)
        summed = mx.sum(mx.where(tl_in, tl, 0).astype(mx.int64))
        bad_lengths = mx.logical_not(tl_in) | (summed != total)
    else:
        if targets.shape[0] != N:
            raise ShapeError(
                message(fn, "targets", f"have {N} rows (the batch size of `log_probs`)",
                        f"shape {fmt_shape(targets.shape)}")
            )
        S = targets.shape[1]
        _check_length_values(fn, "target_lengths", tl, tl_static, 0, S,
                             "the padded length of `targets`")
        valid = mx.arange(S)[None, :] < tl[:, None]
        padded = targets
        bad_lengths = (tl < 0) | (tl > S)
    _check_labels(fn, padded, valid, C, blank)
    # With the value checks off or under mx.compile, labels outside [0, C)
    # and lengths that do not fit get here: the kernels see blank labels and
    # clipped lengths (no gather leaves the array) and those samples' losses
    # and gradients are NaN (torch raises). A label equal to blank (refused
    # in eager mode) is NaN too, never a number of another target.
    in_range = (padded >= 0) & (padded < C) & (padded != blank)
    bad = mx.any(valid & mx.logical_not(in_range), axis=1) | bad_lengths | (il < 0) | (il > T)
    labels = mx.where(valid & in_range, padded, mx.array(blank, dtype=padded.dtype)).astype(mx.int32)
    il_k = mx.clip(il, 0, T).astype(mx.int32)
    tl_k = mx.clip(tl, 0, S).astype(mx.int32)

    out_dtype = log_probs.dtype
    lp = log_probs.astype(acc_dtype(out_dtype))
    nll = _ctc_kernel_stacked(blank, zero_infinity)(lp, labels, il_k, tl_k)[0]
    # a factor, not a select: the NaN reaches the sample's gradient too
    nll = nll * mx.where(bad, mx.array(math.nan, nll.dtype), mx.array(1.0, nll.dtype))
    out = length_normalized_reduction(nll, tl, reduction, shape=() if unbatched else None,
                                      group=group)
    return out.astype(out_dtype)
