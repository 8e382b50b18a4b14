"""Scenarios for the multi-process tests: each rank takes its (uneven) slice of
one global batch; the single-process reference runs on the whole batch.

``run(name, group, rank, size)`` returns ``{"loss": ..., "grad": ...}`` as
NumPy arrays, where ``grad`` is the gradient w.r.t. this rank's local input.
With ``group=None, size=1`` it is the single-process reference.
"""

from __future__ import annotations

import numpy as np


def _splits(n: int, size: int):
    # Uneven on purpose: rank r gets a share growing with r.
    # ... and at least one row each (an empty rank would be a different test).
    weights = np.arange(1, size + 1, dtype=np.float64)
    extra = n - size
    cuts = np.arange(1, size + 1) + np.floor(np.cumsum(weights) / weights.sum() * extra).astype(int)
    starts = np.concatenate([[0], cuts[:-1]])
    return [(int(a), int(b)) for a, b in zip(starts, cuts)]


def _local(arr, rank, size, axis=0):
    s, e = _splits(arr.shape[axis], size)[rank]
    return np.take(arr, np.arange(s, e), axis=axis)


def _value_and_grad(f, x):
    import mlx.core as mx

    loss, grad = mx.value_and_grad(f)(x)
    mx.eval(loss, grad)
    return {"loss": np.array(loss.astype(mx.float32), dtype=np.float64),
            "grad": np.array(grad.astype(mx.float32), dtype=np.float64)}


def _data(seed=0, N=12, C=7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, C)).astype(np.float32)
    target = rng.integers(0, C, size=(N,))
    # Uneven ignored tokens: many in the first rows, none at the end.
    target[[0, 1, 2, 5]] = -100
    weight = rng.uniform(0.2, 2.0, size=(C,)).astype(np.float32)
    return logits, target, weight


def cross_entropy_ignore(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import cross_entropy

    logits, target, _ = _data()
    x = mx.array(_local(logits, rank, size))
    t = mx.array(_local(target, rank, size))
    return _value_and_grad(lambda a: cross_entropy(a, t, group=group), x)


def cross_entropy_weight_smoothing(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import cross_entropy

    logits, target, weight = _data(1)
    x = mx.array(_local(logits, rank, size))
    t = mx.array(_local(target, rank, size))
    w = mx.array(weight)
    return _value_and_grad(
        lambda a: cross_entropy(a, t, weight=w, label_smoothing=0.1, group=group), x
    )


def nll_weight(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import nll_loss

    logits, target, weight = _data(2)
    x = mx.array(_local(logits, rank, size))
    t = mx.array(_local(target, rank, size))
    return _value_and_grad(lambda a: nll_loss(a, t, weight=mx.array(weight), group=group), x)


def kl_batchmean(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import kl_div

    rng = np.random.default_rng(3)
    inp = np.log(rng.dirichlet(np.ones(5), size=11)).astype(np.float32)
    tgt = rng.dirichlet(np.ones(5), size=11).astype(np.float32)
    x = mx.array(_local(inp, rank, size))
    t = mx.array(_local(tgt, rank, size))
    return _value_and_grad(lambda a: kl_div(a, t, reduction="batchmean", group=group), x)


def mse_mean(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import mse_loss

    rng = np.random.default_rng(4)
    inp = rng.normal(size=(10, 3)).astype(np.float32)
    tgt = rng.normal(size=(10, 3)).astype(np.float32)
    x = mx.array(_local(inp, rank, size))
    t = mx.array(_local(tgt, rank, size))
    return _value_and_grad(lambda a: mse_loss(a, t, group=group), x)


def huber_mean(group, rank, size):
    # the hand-written backward (one pass) must divide by the global count
    import mlx.core as mx
    from mlx_losses.functional import huber_loss

    rng = np.random.default_rng(7)
    inp = rng.normal(size=(11, 4)).astype(np.float32) * 2
    tgt = rng.normal(size=(11, 4)).astype(np.float32)
    x = mx.array(_local(inp, rank, size))
    t = mx.array(_local(tgt, rank, size))
    return _value_and_grad(lambda a: huber_loss(a, t, delta=0.7, group=group), x)


def ctc_mean(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import ctc_loss

    rng = np.random.default_rng(5)
    T, N, C, S = 12, 6, 5, 4
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = rng.integers(1, C, size=(N, S))
    tlen = np.array([4, 1, 3, 2, 4, 1])
    ilen = np.array([12, 10, 12, 9, 11, 12])
    x = mx.array(_local(lp, rank, size, axis=1))
    return _value_and_grad(
        lambda a: ctc_loss(
            a,
            mx.array(_local(targets, rank, size)),
            mx.array(_local(ilen, rank, size)),
            mx.array(_local(tlen, rank, size)),
            group=group,
        ),
        x,
    )


def vocab_parallel(group, rank, size):
    import mlx.core as mx
    from mlx_losses.distributed import vocab_parallel_cross_entropy

    logits, target, _ = _data(6, N=9, C=11)
    s, e = _splits(logits.shape[1], size)[rank]
    x = mx.array(logits[:, s:e])
    t = mx.array(target)
    return _value_and_grad(
        lambda a: vocab_parallel_cross_entropy(
            a, t, group=group, vocab_start=int(s), label_smoothing=0.1
        ),
        x,
    )


def vocab_parallel_bad_target(group, rank, size):
    # targets outside the vocabulary (owned by no shard): NaN in their rows
    # on every rank, the other rows as without them
    import mlx.core as mx
    from mlx_losses.distributed import vocab_parallel_cross_entropy

    logits, target, _ = _data(7, N=9, C=11)
    target[[3, 6]] = [11, -4]
    s, e = _splits(logits.shape[1], size)[rank]
    x = mx.array(logits[:, s:e])
    t = mx.array(target)
    cot = mx.array(np.linspace(0.5, 1.5, 9).astype(np.float32))
    return _value_and_grad(
        lambda a: mx.sum(vocab_parallel_cross_entropy(
            a, t, group=group, vocab_start=int(s), reduction="none") * cot),
        x,
    )


SCENARIOS = {
    f.__name__: f
    for f in (
        cross_entropy_ignore,
        cross_entropy_weight_smoothing,
        nll_weight,
        kl_batchmean,
        mse_mean,
        huber_mean,
        ctc_mean,
        vocab_parallel,
        vocab_parallel_bad_target,
    )
}

# How each scenario splits its gradient across ranks: along the batch axis
# (data parallel) or the class axis (vocabulary parallel).
GRAD_AXIS = {"ctc_mean": 1, "vocab_parallel": 1, "vocab_parallel_bad_target": 1}


# --------------------------------------------------------------------------
# Every per-example parity case (``vmap=True``: dim 0 of every positional
# array is the batch), split unevenly across the ranks, under 'mean' and
# 'sum'. This catches any kernel that reduces without the group-aware helpers.


# Families whose reduction path the named scenarios above do not cover (one
# per kernel file); every process start and kernel build costs seconds here.
_GENERIC = (
    "binary_cross_entropy_with_logits",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
    "triplet_margin_loss",
    "gaussian_nll_loss",
    "poisson_nll_loss",
)


def _parity_cases():
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from parity.runner import load_tables

    out, seen = {}, set()
    for case in load_tables()[0]:
        # One per-example case per loss: enough to cover its reduction path.
        if not case.vmap or case.ours_fn is not None or case.fn in seen or case.fn not in _GENERIC:
            continue
        seen.add(case.fn)
        for red in ("mean",):
            if case.reductions and red not in case.reductions:
                continue
            out[f"case:{case.fn}/{case.name}/{red}"] = (case, red)
    return out


def _make(spec, rng):
    import mlx.core as mx
    from parity import specs as S

    if not isinstance(spec, S.Spec):
        return spec, False
    arr = spec.make(rng)
    if isinstance(spec, S.Lengths) and spec.as_tuple:
        return tuple(int(v) for v in arr), False
    if spec.floating:
        return mx.array(np.asarray(arr, dtype=np.float32)), bool(spec.grad)
    return mx.array(arr), False


def run_parity_case(key, group, rank, size):
    import zlib

    import mlx.core as mx
    import mlx_losses.functional as F

    case, red = _parity_cases()[key]
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    made = [_make(a, rng) for a in case.args]
    kwargs = {k: _make(v, rng)[0] for k, v in case.kwargs.items()}
    kwargs["reduction"] = red
    n = next(a.shape[0] for a, _ in made if isinstance(a, mx.array) and a.ndim > 0)
    s, e = (int(v) for v in _splits(n, size)[rank])
    args = [a[s:e] if isinstance(a, mx.array) and a.ndim > 0 else a for a, _ in made]
    gi = [i for i, (_, g) in enumerate(made) if g]
    fn = getattr(F, case.fn)

    def f(*prim):
        full = list(args)
        for i, p in zip(gi, prim):
            full[i] = p
        return fn(*full, group=group, **kwargs)

    prim = [args[i] for i in gi]
    if prim:
        loss, grads = mx.value_and_grad(f, argnums=list(range(len(prim))))(*prim)
        # gradients of batch-shaped inputs, side by side (per-row layout)
        per_row = [
            g.reshape(e - s, int(np.prod(g.shape[1:], dtype=np.int64)))
            for g in grads
            if g.ndim > 0 and g.shape[0] == e - s
        ]
        grad = mx.concatenate(per_row, axis=1) if per_row else mx.zeros((e - s, 0))
    else:
        loss, grad = f(), mx.zeros((e - s, 0))
    mx.eval(loss, grad)
    return {"loss": np.array(loss.astype(mx.float32), dtype=np.float64),
            "grad": np.array(grad.astype(mx.float32), dtype=np.float64)}


def all_scenarios():
    """Named scenarios plus every per-example parity case."""
    from _dist_vision import SCENARIOS as VISION  # segmentation and contrastive

    out = {**SCENARIOS, **VISION}
    for key in _parity_cases():
        out[key] = lambda group, rank, size, _k=key: run_parity_case(_k, group, rank, size)
    return out
