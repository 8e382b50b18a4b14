"""The two-pass CTC kernel: an independent reference for the tests.

Alpha in the forward, beta in the VJP, each in compiled chunks of
``_STEPS`` time steps, against the package's stacked kernel (both
recursions as one). ``ctc_kernel`` has the signature of
``mlx_losses.losses.ctc._ctc_kernel_stacked``: the tests put it in its
place (``monkeypatch.setattr``) to run ``ctc_loss`` through it.
"""

import functools

import mlx.core as mx

from mlx_losses._device import compile_by_branch
from mlx_losses._numerics import exp_nonpos, logsumexp_nonpos
from mlx_losses.losses.ctc import _NEG_INF, _class_sums, _cotangents, _fold, _lse3

__all__ = ["ctc_kernel"]

# Time steps per compiled call of the recursions: fewer, larger calls cost
# less Python and graph overhead; more steps per call cost compile time once
# per shape.
_STEPS = 16


def _alpha_steps_impl(alpha, e, active, skip):
    """``e.shape[0]`` steps of the alpha recursion.

    alpha: (N, L) alpha at the previous step; e: (K, N, L) emissions;
    active: (K, N, 1) whether step t < input_length; skip: (N, L), 0 where
    position l may be entered from l - 2 (a label that differs from the one
    before it), -inf elsewhere. Returns the new alpha and the K alphas.
    """
    pad = mx.full((alpha.shape[0], 2), _NEG_INF, dtype=alpha.dtype)
    outs = []
    for k in range(e.shape[0]):
        ap = mx.concatenate([pad, alpha], axis=1)
        new = _lse3(alpha, ap[:, 1:-1], ap[:, :-2] + skip) + e[k]
        alpha = mx.where(active[k], new, alpha)
        outs.append(alpha)
    return alpha, mx.stack(outs)


def _beta_steps_impl(beta, e_next, act_next, act, alpha, log_p, init, skip_next):
    """``e_next.shape[0]`` steps of the beta recursion, latest step first,
    and the posteriors of the chunk.

    beta: (N, L) beta at step hi (the log-probability of finishing from
    (hi, l), emissions after hi only); e_next[k], act_next[k]: emissions of
    step t + 1 and whether t + 1 < input_length, for t = lo + k; act[k]:
    t < input_length; alpha: (K, N, L); log_p: (N, 1); init: (N, L) the beta
    of a sample's last step (0 at the two end positions); skip_next: (N, L)
    skip mask of position l + 2. Returns the beta at lo and the (K, N, L)
    posteriors exp(alpha + beta - log p), 0 for t >= input_length.
    """
    pad = mx.full((beta.shape[0], 2), _NEG_INF, dtype=beta.dtype)
    posts = [None] * e_next.shape[0]
    for k in reversed(range(e_next.shape[0])):
        x = beta + e_next[k]
        xp = mx.concatenate([x, pad], axis=1)
        rec = _lse3(x, xp[:, 1:-1], xp[:, 2:] + skip_next)
        beta = mx.where(act_next[k], rec, init)
        posts[k] = mx.where(act[k], exp_nonpos(alpha[k] + beta - log_p), mx.zeros_like(beta))
    return beta, mx.stack(posts)


_alpha_steps = compile_by_branch(_alpha_steps_impl)
_beta_steps = compile_by_branch(_beta_steps_impl)


def _pad_time(x: mx.array, total: int) -> mx.array:
    if x.shape[0] == total:
        return x
    return mx.pad(x, [(0, total - x.shape[0])] + [(0, 0)] * (x.ndim - 1))


def _structure(ext: mx.array, dtype: mx.Dtype):
    """The skip masks (0 / -inf) of the extended labels, as alpha and beta use them."""
    N, L = ext.shape
    pos = mx.arange(L)
    prev2 = mx.concatenate([mx.full((N, 2), -1, dtype=ext.dtype), ext[:, :-2]], axis=1)[:, :L]
    # l odd (a label), l >= 3, and a label different from the one two back
    can_skip = (pos % 2 == 1) & (pos >= 3) & (ext != prev2)
    zero = mx.zeros((N, L), dtype=dtype)
    skip = mx.where(can_skip, zero, _NEG_INF)
    skip_next = mx.concatenate([skip[:, 2:], mx.full((N, 2), _NEG_INF, dtype=dtype)], axis=1)[:, :L]
    return skip, skip_next


def _end_positions(target_lengths: mx.array, L: int, dtype: mx.Dtype) -> mx.array:
    """(N, L): 0 at 2 * tl and 2 * tl - 1 (the two states a path may end in), -inf elsewhere."""
    pos = mx.arange(L)[None, :]
    tl2 = (2 * target_lengths.astype(mx.int32))[:, None]
    end = (pos == tl2) | ((pos == tl2 - 1) & (tl2 > 0))
    return mx.where(end, mx.zeros((1, L), dtype=dtype), _NEG_INF)


@functools.lru_cache(maxsize=None)
def ctc_kernel(blank: int, zero_infinity: bool):
    """The two-pass custom-VJP kernel: (log_probs, labels, input_lengths, target_lengths)
    -> (nll per sample, alphas, log p). ``labels`` is (N, S), the padded targets with
    positions past each target length set to ``blank``."""

    def _setup(log_probs, labels, input_lengths):
        T, N, _ = log_probs.shape
        S = labels.shape[1]
        L = 2 * S + 1
        ext = mx.full((N, L), blank, dtype=labels.dtype)
        if S:
            ext = mx.concatenate(
                [mx.full((N, S, 1), blank, dtype=labels.dtype), labels[:, :, None]], axis=2
            ).reshape(N, 2 * S)
            ext = mx.concatenate([ext, mx.full((N, 1), blank, dtype=labels.dtype)], axis=1)
        T_pad = max(-(-T // _STEPS) * _STEPS, _STEPS)
        # every extended position's emissions, gathered once: (T_pad + 1, N, L);
        # the padding rows are never active
        e = mx.take_along_axis(log_probs, mx.broadcast_to(ext[None], (T, N, L)), axis=2)
        e = _pad_time(e, T_pad + 1)
        t = mx.arange(T_pad + 1)[:, None, None]
        active = t < input_lengths.astype(mx.int32)[None, :, None]
        return ext, e, active, T_pad

    @mx.custom_function
    def kernel(log_probs, labels, input_lengths, target_lengths):
        T, N, _ = log_probs.shape
        dtype = log_probs.dtype
        ext, e, active, T_pad = _setup(log_probs, labels, input_lengths)
        L = ext.shape[1]
        skip, _ = _structure(ext, dtype)
        # alpha before the first step: all mass on position 0 (log 1), so that
        # input_length 0 gives log p = 0 for an empty target and -inf otherwise.
        alpha = mx.where(mx.arange(L)[None, :] == 0, mx.zeros((N, L), dtype=dtype), _NEG_INF)
        chunks = []
        for lo in range(0, T_pad, _STEPS):
            alpha, out = _alpha_steps(alpha, e[lo:lo + _STEPS], active[lo:lo + _STEPS], skip)
            chunks.append(out)
        alphas = mx.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]
        log_p = logsumexp_nonpos(alpha + _end_positions(target_lengths, L, dtype), axis=1)
        nll = -log_p
        if zero_infinity:
            nll = mx.where(mx.isinf(nll), mx.zeros_like(nll), nll)
        # alphas and log p are residuals for the VJP (callers ignore them)
        return nll, alphas, log_p

    @kernel.vjp
    def kernel_vjp(primals, cotangents, outputs):
        log_probs, labels, input_lengths, target_lengths = primals
        g = cotangents[0]  # the residual outputs' cotangents are ignored
        alphas = outputs[1]
        T, N, C = log_probs.shape
        dtype = log_probs.dtype
        ext, e, active, T_pad = _setup(log_probs, labels, input_lengths)
        L = ext.shape[1]
        _, skip_next = _structure(ext, dtype)
        init = _end_positions(target_lengths, L, dtype)
        log_p = outputs[2][:, None]
        beta = init
        chunks = []
        for lo in reversed(range(0, T_pad, _STEPS)):
            hi = lo + _STEPS
            beta, post = _beta_steps(
                beta, e[lo + 1:hi + 1], active[lo + 1:hi + 1], active[lo:hi],
                alphas[lo:hi], log_p, init, skip_next,
            )
            chunks.append(post)
        chunks.reverse()
        post = mx.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]
        post = post[:T]  # (T, N, L)
        # d nll / d log_probs = -(the posterior occupation of each class),
        # times the incoming cotangent
        grad = _class_sums(post, ext, C, blank) * (-g.astype(dtype))[None, :, None]
        # (zero_infinity: an impossible sample's posteriors are NaN, -inf - -inf)
        return _cotangents(grad, outputs[2], zero_infinity, labels, input_lengths, target_lengths)

    @kernel.vmap
    def kernel_vmap(inputs, axes):
        # Fold the mapped axis into the batch axis and run once on N * B
        # samples (MLX 0.32's default vmap of the recursion's concatenations
        # gives wrong shapes, so the kernel never runs under vmap itself).
        B = next(x.shape[a] for x, a in zip(inputs, axes) if a is not None)
        nll, alphas, log_p = kernel(
            *(_fold(x, a, n_axis, B) for x, a, n_axis in zip(inputs, axes, (1, 0, 0, 0)))
        )
        N = nll.shape[0] // B
        return (
            (nll.reshape(N, B), alphas.reshape(alphas.shape[0], N, B, alphas.shape[2]), log_p.reshape(N, B)),
            (1, 2, 1),
        )

    return kernel
