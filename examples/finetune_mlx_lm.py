"""Fine-tune a tiny mlx-lm model with mlx-lm's own trainer: its default loss
against mlx-losses' chunked loss, switched with one argument.

    python examples/finetune_mlx_lm.py
    python examples/finetune_mlx_lm.py --quick

The model is a small llama built from mlx-lm's model classes (random
weights, a large vocabulary); the data are synthetic token rows with a
pattern to learn (each row counts up from a random start) and a prompt that
is masked out of the loss, padded to uneven lengths. The same model, from
the same weights, is trained twice by ``mlx_lm.tuner.trainer.train``:
once with ``loss=default_loss`` (mlx-lm's) and once with
``loss=linear_cross_entropy_loss()``. The script prints a line per report
for each, then both peak memories (``mx.get_peak_memory()`` over the
training) and how far apart the two loss curves are.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np

try:
    from mlx_lm.models import llama
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.trainer import TrainingArgs, default_loss, train
except ImportError:  # pragma: no cover - the example needs the extra
    sys.exit("this example needs mlx-lm: pip install 'mlx-losses[mlx-lm]'")

from mlx_losses.integrations.mlx_lm import linear_cross_entropy_loss


def make_model(vocab: int, hidden: int, seed: int = 0):
    mx.random.seed(seed)
    args = llama.ModelArgs(model_type="llama", hidden_size=hidden, num_hidden_layers=2,
                           intermediate_size=2 * hidden, num_attention_heads=4,
                           num_key_value_heads=2, rms_norm_eps=1e-5, vocab_size=vocab,
                           tie_word_embeddings=False)
    model = llama.Model(args)
    # mlx_lm.lora's full fine-tuning (every layer), and the head too
    model.freeze()
    for layer in model.layers:
        layer.unfreeze()
    model.lm_head.unfreeze()
    mx.eval(model.parameters())
    return model


def make_rows(n: int, length: int, vocab: int, rng: np.random.Generator):
    """(tokens, prompt length) rows: a prompt of 4 random tokens, then a run
    counting up from a random start; lengths vary by up to a quarter."""
    rows = []
    for _ in range(n):
        size = int(rng.integers(3 * length // 4, length + 1))
        start = int(rng.integers(0, vocab - size))
        prompt = rng.integers(0, vocab, size=4).tolist()
        rows.append((prompt + list(range(start, start + size - 4)), 4))
    return rows


class Progress(TrainingCallback):
    def __init__(self, label: str, iters: int):
        self.label, self.iters, self.losses = label, iters, []
        self.t0 = time.perf_counter()

    def on_train_loss_report(self, info):
        self.losses.append(info["train_loss"])
        print(f"[{self.label}] step {info['iteration']}/{self.iters}  loss "
              f"{info['train_loss']:.4f}  ({time.perf_counter() - self.t0:.1f} s)", flush=True)


def finetune(label: str, loss, rows, vocab: int, hidden: int, iters: int, batch: int):
    model = make_model(vocab, hidden)
    progress = Progress(label, iters)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArgs(batch_size=batch, iters=iters, steps_per_report=1,
                            steps_per_save=10 ** 6, max_seq_length=2048,
                            adapter_file=f"{tmp}/adapters.safetensors")
        np.random.seed(0)  # the trainer shuffles the batches with NumPy's global generator
        mx.reset_peak_memory()
        train(model, optim.Adam(learning_rate=1e-3), rows, None, args, loss=loss,
              training_callback=progress)
        peak = mx.get_peak_memory()
    return progress.losses, peak


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smaller run (under a minute)")
    a = p.parse_args(argv)
    vocab, hidden, length, iters, batch = (
        (8000, 32, 64, 4, 4) if a.quick else (32000, 64, 256, 12, 4))
    rows = make_rows(batch * iters, length, vocab, np.random.default_rng(0))
    print(f"tiny llama: vocabulary {vocab:,}, hidden {hidden}, batch {batch} x up to "
          f"{length} tokens, {iters} steps (every layer and the head)", flush=True)
    base, base_peak = finetune("mlx-lm default_loss", default_loss, rows, vocab, hidden,
                               iters, batch)
    ours, our_peak = finetune("mlx-losses chunked", linear_cross_entropy_loss(), rows, vocab,
                              hidden, iters, batch)
    worst = max(abs(x - y) / abs(x) for x, y in zip(base, ours))
    mib = 2 ** 20
    print(f"peak memory: mlx-lm default_loss {base_peak / mib:.1f} MiB, mlx-losses chunked "
          f"{our_peak / mib:.1f} MiB (1/{base_peak / our_peak:.1f})")
    print(f"loss curves: largest relative difference {worst:.2e}; loss {base[0]:.3f} -> "
          f"{base[-1]:.3f}")
    return base_peak, our_peak, worst, base


if __name__ == "__main__":
    base_peak, our_peak, worst, _ = main()
    sys.exit(0 if (our_peak < base_peak and worst < 1e-3) else 1)
