"""Run index-taking losses on indices far outside their range; print one
result line per case (run by tests/test_memory_safety.py in a subprocess,
so a read outside an array that kills the process fails the test instead
of the test run).

Usage: ``python _memory_safety_worker.py CASE [CASE ...]`` (``all`` for
every case). Before each case the worker prints ``START <case>``; after it
``RESULT <json>`` with ``ok`` and, on failure, ``detail``.

Every case builds a batch whose rows (samples, for CTC) each carry one bad
index value (or length), next to good rows (and rows equal to the ignore
index). Under ``mx.compile`` and with the value checks off it asserts:
the unreduced loss is NaN exactly at the bad rows; the good rows equal the
eager loss on the same batch with the bad indices replaced by valid ones;
the gradient w.r.t. the input is NaN somewhere in every bad row and equals
the sanitized gradient on the good rows; ``'mean'`` is NaN.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import numpy as np

# the checkout's package, not an installed one (the script's own folder is
# first on sys.path, not the repository root)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mlx.core as mx

import mlx_losses
import mlx_losses.functional as F
from mlx_losses import LinearCrossEntropyOptions
from mlx_losses.distributed import vocab_parallel_cross_entropy

C = 7
T = 8
S = 3
# far outside [0, C): negative, == C, >= C, the int32 extremes, and 10**8
# (a read that far past a small array faults)
BAD32 = (-1, -7, C, C + 3, 10**8, 2**31 - 1, -(2**31))
BAD64 = BAD32 + (2**40, -(2**40))
IDX_DTYPES = {"int32": (mx.int32, BAD32), "int64": (mx.int64, BAD64)}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _classes_rows(bad, n_good=3, ignore=True):
    """(targets, sanitized, bad_mask) of class indices: one row per bad
    value, then good rows and an ignored (-100) row."""
    rng = _rng(1)
    good = list(rng.integers(0, C, size=n_good))
    t = list(bad) + good + ([-100] if ignore else [])
    sane = [1] * len(bad) + good + ([-100] if ignore else [])
    mask = [True] * len(bad) + [False] * (len(t) - len(bad))
    return np.array(t), np.array(sane), np.array(mask)


# ---------------------------------------------------------------- cases
#
# A case returns (fn, args, sanitized_args, bad_rows, x_index, row_axis):
# ``fn(*args, reduction=...)`` is the loss, ``args[x_index]`` the floating
# input differentiated, ``row_axis`` the axis of its gradient that holds
# the rows of ``bad_rows``.


def _ce(dtype, bad, weighted, smoothing):
    t, sane, mask = _classes_rows(bad)
    x = mx.array(_rng(2).normal(size=(len(t), C)), dtype=mx.float32)
    w = mx.array(_rng(3).uniform(0.5, 2.0, size=(C,)), dtype=mx.float32) if weighted else None

    def fn(x, t, reduction):
        return F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=smoothing)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _nll(dtype, bad):
    t, sane, mask = _classes_rows(bad)
    z = _rng(4).normal(size=(len(t), C))
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    x = mx.array(lp, dtype=mx.float32)
    w = mx.array(_rng(5).uniform(0.5, 2.0, size=(C,)), dtype=mx.float32)

    def fn(x, t, reduction):
        return F.nll_loss(x, t, weight=w, reduction=reduction)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _lce(dtype, bad, chunked):
    t, sane, mask = _classes_rows(bad)
    D = 5
    x = mx.array(_rng(6).normal(size=(len(t), D)), dtype=mx.float32)
    W = mx.array(_rng(7).normal(size=(C, D)), dtype=mx.float32)
    w = mx.array(_rng(8).uniform(0.5, 2.0, size=(C,)), dtype=mx.float32)
    opts = LinearCrossEntropyOptions(batch_chunk_size=4, vocab_chunk_size=3) if chunked else None

    def fn(x, t, reduction):
        return F.linear_cross_entropy(x, W, t, weight=w, reduction=reduction, options=opts)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _vocab_parallel(dtype, bad):
    t, sane, mask = _classes_rows(bad)
    x = mx.array(_rng(9).normal(size=(len(t), C)), dtype=mx.float32)

    def fn(x, t, reduction):
        return vocab_parallel_cross_entropy(x, t, group=None, vocab_start=0, reduction=reduction,
                                            label_smoothing=0.1)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _multi_margin(dtype, bad):
    t, sane, mask = _classes_rows(bad, ignore=False)
    x = mx.array(_rng(10).normal(size=(len(t), C)), dtype=mx.float32)
    w = mx.array(_rng(11).uniform(0.5, 2.0, size=(C,)), dtype=mx.float32)

    def fn(x, t, reduction):
        return F.multi_margin_loss(x, t, weight=w, reduction=reduction)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _multilabel_margin(dtype, bad):
    # each row: labels then -1; a bad row carries its bad value first (-1
    # itself ends the labels: not bad here)
    rng = _rng(12)
    rows, sane, mask = [], [], []
    for v in (v for v in bad if v != -1):
        rows.append([v, 2, -1] + [0] * (C - 3))
        sane.append([1, 2, -1] + [0] * (C - 3))
        mask.append(True)
    for _ in range(3):
        labels = list(rng.permutation(C)[:3])
        rows.append(labels + [-1] + [0] * (C - 4))
        sane.append(rows[-1])
        mask.append(False)
    x = mx.array(rng.normal(size=(len(rows), C)), dtype=mx.float32)

    def fn(x, t, reduction):
        return F.multilabel_margin_loss(x, t, reduction=reduction)

    return (fn, [x, mx.array(np.array(rows), dtype=dtype)], [x, mx.array(np.array(sane), dtype=dtype)],
            np.array(mask), 0, 0)


def _ctc_logprobs(n):
    z = _rng(13).normal(size=(T, n, C))
    return mx.array(z - np.log(np.exp(z).sum(-1, keepdims=True)), dtype=mx.float32)


def _ctc_padded(dtype, bad):
    """Bad labels, then bad input / target lengths, then good samples."""
    big = [v for v in bad if v > 0 and v not in (C, C + 3)]
    labels, sane_labels, il, tl, sane_il, sane_tl, mask = [], [], [], [], [], [], []
    for v in bad:  # a bad label in the middle of a target of length S
        labels.append([1, v, 2])
        sane_labels.append([1, 3, 2])
        il.append(T), tl.append(S), sane_il.append(T), sane_tl.append(S), mask.append(True)
    for v in [T + 1, -1] + big:  # a bad input length
        labels.append([1, 2, 3]), sane_labels.append([1, 2, 3])
        il.append(v), tl.append(S), sane_il.append(T), sane_tl.append(S), mask.append(True)
    for v in [S + 1, -1] + big:  # a bad target length
        labels.append([1, 2, 3]), sane_labels.append([1, 2, 3])
        il.append(T), tl.append(v), sane_il.append(T), sane_tl.append(S), mask.append(True)
    for row, n_in, n_t in (([3, 3, 4], T, 3), ([5, 6, 0], 6, 2), ([2, 0, 0], 3, 1)):
        labels.append(row), sane_labels.append(row)
        il.append(n_in), tl.append(n_t), sane_il.append(n_in), sane_tl.append(n_t), mask.append(False)
    lp = _ctc_logprobs(len(labels))

    def fn(lp, targets, il, tl, reduction):
        return F.ctc_loss(lp, targets, il, tl, reduction=reduction)

    a = lambda v: mx.array(np.array(v), dtype=dtype)  # noqa: E731
    return (fn, [lp, a(labels), a(il), a(tl)], [lp, a(sane_labels), a(sane_il), a(sane_tl)],
            np.array(mask), 0, 1)


def _ctc_concatenated(dtype, bad):
    """Concatenated targets of length 2 per sample, a bad label in some."""
    flat, sane, mask = [], [], []
    for v in bad:
        flat += [1, v]
        sane += [1, 3]
        mask.append(True)
    for row in ([3, 4], [5, 5], [2, 6]):
        flat += row
        sane += row
        mask.append(False)
    n = len(mask)
    lp = _ctc_logprobs(n)
    il, tl = [T] * n, [2] * n

    def fn(lp, targets, il, tl, reduction):
        return F.ctc_loss(lp, targets, il, tl, reduction=reduction)

    a = lambda v: mx.array(np.array(v), dtype=dtype)  # noqa: E731
    return fn, [lp, a(flat), a(il), a(tl)], [lp, a(sane), a(il), a(tl)], np.array(mask), 0, 1


def _ctc_concatenated_lengths(dtype, bad):
    """Concatenated targets whose lengths do not sum to their size (torch
    raises for the whole batch): every sample is NaN."""
    big = max(v for v in bad if v > 0)
    lp = _ctc_logprobs(4)
    flat = [1, 2, 3, 4, 5, 6, 1, 2]

    def fn(lp, targets, il, tl, reduction):
        return F.ctc_loss(lp, targets, il, tl, reduction=reduction)

    a = lambda v: mx.array(np.array(v), dtype=dtype)  # noqa: E731
    args = [lp, a(flat), a([T, T, T, T]), a([2, big, 2, 2])]
    sane = [lp, a(flat), a([T, T, T, T]), a([2, 2, 2, 2])]
    return fn, args, sane, np.array([True] * 4), 0, 1


def _focal(dtype, bad, poly):
    t, sane, mask = _classes_rows(bad)
    x = mx.array(_rng(6).normal(size=(len(t), C)), dtype=mx.float32)
    w = mx.array(_rng(7).uniform(0.5, 2.0, size=(C,)), dtype=mx.float32)

    def fn(x, t, reduction):
        if poly:
            return F.poly1_cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction=reduction)
        return F.focal_loss(x, t, weight=w, alpha=0.25, reduction=reduction)

    return fn, [x, mx.array(t, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0, 0


def _dice_onehot(dtype, bad):
    # one sample (a row) per bad label, at one pixel of it; then good samples
    rng = _rng(8)
    n = len(bad) + 2
    labels = rng.integers(0, C, size=(n, 4))
    sane = labels.copy()
    labels[np.arange(len(bad)), 1] = bad
    x = mx.array(rng.normal(size=(n, C, 4)), dtype=mx.float32)
    mask = np.array([True] * len(bad) + [False] * 2)

    def fn(x, t, reduction):
        out = F.dice_loss(x, t, softmax=True, to_onehot_y=True, reduction=reduction)
        return out.mean(axis=1) if reduction == "none" else out

    return (fn, [x, mx.array(labels, dtype=dtype)], [x, mx.array(sane, dtype=dtype)], mask, 0,
            0)


LOSSES = {
    "focal_loss": lambda d, b: _focal(d, b, False),
    "poly1_cross_entropy": lambda d, b: _focal(d, b, True),
    "dice_loss_to_onehot_y": _dice_onehot,
    "cross_entropy": lambda d, b: _ce(d, b, False, 0.0),
    "cross_entropy_weight_smoothing": lambda d, b: _ce(d, b, True, 0.1),
    "nll_loss": _nll,
    "linear_cross_entropy": lambda d, b: _lce(d, b, False),
    "linear_cross_entropy_chunked": lambda d, b: _lce(d, b, True),
    "ctc_loss_padded": _ctc_padded,
    "ctc_loss_concatenated": _ctc_concatenated,
    "ctc_loss_concatenated_lengths": _ctc_concatenated_lengths,
    "vocab_parallel_cross_entropy": _vocab_parallel,
    "multi_margin_loss": _multi_margin,
    "multilabel_margin_loss": _multilabel_margin,
}
MODES = ("compiled", "unchecked")


def case_ids():
    return [f"{loss}-{d}-{m}" for loss in LOSSES for d in IDX_DTYPES for m in MODES]


# ---------------------------------------------------------------- running


def _grad_fn(fn, n_args, cot):
    def total(*args):
        return mx.sum(fn(*args, reduction="none") * cot)

    return mx.grad(total, argnums=0)


def _run(case_id):
    loss, dname, mode = case_id.split("-")
    dtype, bad = IDX_DTYPES[dname]
    fn, args, sane, mask, xi, row_axis = LOSSES[loss](dtype, bad)
    assert xi == 0
    with mlx_losses.value_checks(True):
        ref = fn(*sane, reduction="none")
        cot = mx.array(_rng(99).uniform(0.5, 1.5, size=ref.shape), dtype=mx.float32)
        ref_g = _grad_fn(fn, len(args), cot)(*sane)
        mx.eval(ref, ref_g)
    ref, ref_g = np.array(ref), np.array(ref_g)

    def per_row(red):
        return lambda *a: fn(*a, reduction=red)

    if mode == "compiled":
        out = mx.compile(per_row("none"))(*args)
        mean = mx.compile(per_row("mean"))(*args)
        g = mx.compile(_grad_fn(fn, len(args), cot))(*args)
        mx.eval(out, mean, g)
    else:
        with mlx_losses.value_checks(False):
            out = fn(*args, reduction="none")
            mean = fn(*args, reduction="mean")
            g = _grad_fn(fn, len(args), cot)(*args)
            mx.eval(out, mean, g)
    out, mean, g = np.array(out), np.array(mean), np.array(g)
    problems = []
    if out.shape != mask.shape:
        return [f"output shape {out.shape}, expected {mask.shape}"]
    if not np.all(np.isnan(out[mask])):
        problems.append(f"bad rows not NaN: {out[mask].tolist()}")
    good = ~mask
    if not np.allclose(out[good], ref[good], rtol=1e-5, atol=1e-6):
        problems.append(f"good rows {out[good].tolist()} != {ref[good].tolist()}")
    if not np.isnan(mean):
        problems.append(f"'mean' is {mean}, not NaN")
    gr = np.moveaxis(g, row_axis, 0).reshape(len(mask), -1)
    rg = np.moveaxis(ref_g, row_axis, 0).reshape(len(mask), -1)
    no_nan = [i for i in np.flatnonzero(mask) if not np.isnan(gr[i]).any()]
    if no_nan:
        problems.append(f"gradient rows {no_nan} (bad) have no NaN")
    if not np.allclose(gr[good], rg[good], rtol=1e-4, atol=1e-6):
        problems.append("gradient of the good rows differs from the sanitized batch's")
    return problems


def main(argv):
    ids = case_ids() if argv == ["all"] else argv
    for cid in ids:
        print(f"START {cid}", flush=True)
        try:
            problems = _run(cid)
            res = {"id": cid, "ok": not problems, "detail": "; ".join(problems)}
        except Exception as err:  # a raise is a failure too: compiled / unchecked must not raise
            res = {"id": cid, "ok": False,
                   "detail": f"raised {type(err).__name__}: {err}\n{traceback.format_exc()[-1500:]}"}
        print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
