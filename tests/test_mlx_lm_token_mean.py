"""token_mean_batches: mlx-lm's own trainer, under gradient accumulation and
under data parallelism (2 ranks), steps on the single-batch full-token-mean
gradient; its default per-micro-batch means do not."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _mlx_lm_token_mean as tm  # noqa: E402


def _worst(got, want):
    """Largest error of any parameter's gradient, relative to its size."""
    return max(float(np.abs(got[k] - want[k]).max() / (np.abs(want[k]).max() + 1e-12))
               for k in want)


@pytest.fixture(scope="module")
def gold():
    return tm.full_batch_gradient()


def test_accumulation_gives_the_full_token_mean(gold, tmp_path):
    got = tm.trainer_gradient(True, str(tmp_path))
    assert got.keys() == gold.keys()
    assert _worst(got, gold) < 2e-4
    # mlx-lm's default: the mean of the micro-batches' means
    biased = tm.trainer_gradient(False, str(tmp_path))
    assert _worst(biased, gold) > 1e-2


def test_token_mean_batches_options():
    from mlx_losses.integrations.mlx_lm import token_mean_batches

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError) as info:
            token_mean_batches(bad)
        assert str(info.value) == (f"token_mean_batches: `grad_accumulation_steps` must be "
                                   f"an int >= 1, got {bad!r}.")


def test_evaluation_batches_pass_through():
    import mlx.core as mx

    from mlx_losses.integrations.mlx_lm import token_mean_batches

    data = tm.dataset()
    plain = token_mean_batches(3)(data, 4, 2048)  # loop=False: evaluate()'s call
    first = next(plain)
    assert len(first) == 2 and first[0].dtype == mx.int32
    looped = token_mean_batches(3)(data, 4, 2048, loop=True)
    window = [next(looped) for _ in range(3)]
    scale = window[0][2]
    assert all(w[2] is scale for w in window)
    counts = sum(((np.arange(1, b.shape[1]) >= np.array(l)[:, :1])
                  & (np.arange(1, b.shape[1]) <= np.array(l)[:, 1:])).sum()
                 for b, l, _ in window)
    assert scale.item() == pytest.approx(3 / counts)


def test_data_parallel_gives_the_full_token_mean(gold, tmp_path):
    port = random.randint(20000, 40000)
    cmd = [
        sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()",
        "-n", "2", "--backend", "ring", "--starting-port", str(port),
        "--python", sys.executable, os.path.join(HERE, "_mlx_lm_token_mean.py"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    files = {(t, r): tmp_path / f"{t}-{r}.npz" for t in (0, 1) for r in (0, 1)}
    assert all(f.exists() for f in files.values()), proc.stdout[-3000:] + proc.stderr[-3000:]
    res = {key: dict(np.load(f)) for key, f in files.items()}
    assert all(r.pop("world_size") == 2 for r in res.values())
    for rank in (0, 1):
        assert _worst(res[1, rank], gold) < 2e-4
        assert _worst(res[0, rank], gold) > 1e-2
