"""Data- and vocabulary-parallel losses across real processes.

Launches 2 and 3 ranks with ``mlx.launch --backend ring`` on localhost and
checks that every rank's loss equals the single-process loss on the
concatenated batch and that the ranks' local gradients, put side by side,
equal the single-process gradient.
"""

import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _dist_cases import GRAD_AXIS, _splits, all_scenarios  # noqa: E402
from _dist_worker import _fname  # noqa: E402

SCENARIOS = all_scenarios()

_RESULTS = {}


def _launch(size, tmp_path_factory):
    if size in _RESULTS:
        return _RESULTS[size]
    out = tmp_path_factory.mktemp(f"dist{size}")
    port = random.randint(20000, 40000)
    cmd = [
        # mlx.launch's entry point (its module has no __main__ guard)
        sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()",
        "-n", str(size), "--backend", "ring", "--starting-port", str(port),
        "--python", sys.executable,
        os.path.join(HERE, "_dist_worker.py"), str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    _RESULTS[size] = (out, proc)
    return out, proc


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_global_loss_equals_single_process(name, size, tmp_path_factory):
    out, proc = _launch(size, tmp_path_factory)
    errors = [out / f"{_fname(name)}-{r}.err" for r in range(size)]
    for e in errors:
        assert not e.exists(), f"{name} failed on a rank:\n{e.read_text()[-3000:]}"
    files = [out / f"{_fname(name)}-{r}.npz" for r in range(size)]
    assert all(f.exists() for f in files), (
        f"ranks did not finish (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    ref = SCENARIOS[name](None, 0, 1)
    ranks = [np.load(f) for f in files]
    for r, res in enumerate(ranks):
        np.testing.assert_allclose(res["loss"], ref["loss"], rtol=2e-6, atol=1e-7,
                                   err_msg=f"{name}: rank {r}'s loss")
    axis = GRAD_AXIS.get(name, 0)
    grad = np.concatenate([res["grad"] for res in ranks], axis=axis)
    np.testing.assert_allclose(grad, ref["grad"], rtol=2e-5, atol=1e-7,
                               err_msg=f"{name}: ranks' gradients side by side")


def test_uneven_splits_really_are_uneven():
    for n, size in ((12, 3), (11, 2), (5, 3), (9, 3)):
        sizes = [e - s for s, e in _splits(n, size)]
        assert sum(sizes) == n and min(sizes) >= 1
    sizes = [e - s for s, e in _splits(12, 3)]
    assert len(set(sizes)) == 3


def test_vocab_parallel_single_shard_out_of_range_and_all_ignored():
    # one shard (group=None) is plain cross_entropy: a target outside the
    # vocabulary gives its row a NaN loss and gradient (cross_entropy's
    # unchecked result; no eager check here, the vocabulary size is only
    # known across the ranks); every target ignored gives 'mean' NaN with
    # cross_entropy's zero gradient
    import mlx.core as mx

    import mlx_losses
    from mlx_losses.distributed import vocab_parallel_cross_entropy as vp
    from mlx_losses.functional import cross_entropy

    x = mx.array(np.random.default_rng(3).normal(size=(5, 6)), dtype=mx.float64)
    t = mx.array([0, 6, -100, -2, 5])
    out = np.array(vp(x, t, group=None, vocab_start=0, reduction="none"))
    g = np.array(mx.grad(lambda a: vp(a, t, group=None, vocab_start=0, reduction="sum"))(x))
    assert np.all(np.isnan(out[[1, 3]])) and np.all(np.isnan(g[[1, 3]]))
    with mlx_losses.value_checks(False):
        ref = np.array(cross_entropy(x, t, reduction="none"))
        ref_g = np.array(mx.grad(lambda a: cross_entropy(a, t, reduction="sum"))(x))
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-15)
    for eps in (0.0, 0.1):
        allign = mx.full((5,), -100)
        v, g = mx.value_and_grad(lambda a: vp(a, allign, group=None, vocab_start=0, label_smoothing=eps))(x)
        assert math.isnan(v.item()) and np.all(np.array(g) == 0)
