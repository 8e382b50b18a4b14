"""The gradient mlx-lm's trainer steps on, with and without token-correct means.

Shared by tests/test_mlx_lm_token_mean.py (one process) and its ranks under
``mlx.launch`` (run as a script: ``python _mlx_lm_token_mean.py OUT_DIR``).
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
import mlx.optimizers as optim  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

import _mlx_lm_models as tiny  # noqa: E402

ACCUM = 3  # micro-batches per update
BATCH = 4  # rows per micro-batch (over all ranks)
LR = 0.5


def dataset():
    """ACCUM * BATCH rows of uneven lengths, most with a prompt to mask."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(ACCUM * BATCH):
        n = int(rng.integers(4, 40))
        offset = int(rng.integers(0, n // 2)) if i % 3 else 0
        rows.append((rng.integers(0, tiny.VOCAB, size=n).tolist(), offset))
    return rows


def model():
    mx.random.seed(0)
    return tiny.build("llama", tie_word_embeddings=False)


def full_batch_gradient():
    """The single-batch, full-token-mean gradient over the whole dataset."""
    from mlx_lm.tuner.trainer import default_loss, iterate_batches

    m = model()
    data = dataset()
    batch, lengths = next(iterate_batches(data, len(data), 2048))
    grads = nn.value_and_grad(m, lambda mm, b, l: default_loss(mm, b, l)[0])(
        m, batch, lengths)[1]
    return {k: np.array(v) for k, v in tree_flatten(grads)}


def trainer_gradient(token_mean: bool, tmp_dir: str):
    """The gradient of mlx-lm's ``train`` over one update of ACCUM
    micro-batches, read off an SGD step (theta -= LR * g)."""
    from mlx_lm.tuner.trainer import TrainingArgs, default_loss, train

    from mlx_losses.integrations.mlx_lm import linear_cross_entropy_loss, token_mean_batches

    m = model()
    before = {k: np.array(v) for k, v in tree_flatten(m.parameters())}
    args = TrainingArgs(batch_size=BATCH, iters=ACCUM, steps_per_report=ACCUM,
                        steps_per_save=10 ** 6, grad_accumulation_steps=ACCUM,
                        adapter_file=os.path.join(tmp_dir, "adapters.safetensors"),
                        max_seq_length=2048)
    kwargs = {"loss": default_loss}
    if token_mean:
        kwargs = {"loss": linear_cross_entropy_loss(),
                  "iterate_batches": token_mean_batches(ACCUM)}
    train(m, optim.SGD(learning_rate=LR), dataset(), None, args, **kwargs)
    after = dict(tree_flatten(m.parameters()))
    return {k: (before[k] - np.array(after[k])) / LR for k in before}


def main():
    out = sys.argv[1]
    group = mx.distributed.init(strict=True, backend="ring")
    for token_mean in (True, False):
        grads = trainer_gradient(token_mean, out)
        # the group mlx-lm's trainer used (mx.distributed.init() inside train)
        grads["world_size"] = np.array(mx.distributed.init().size())
        np.savez(os.path.join(out, f"{int(token_mean)}-{group.rank()}.npz"), **grads)


if __name__ == "__main__":
    main()
