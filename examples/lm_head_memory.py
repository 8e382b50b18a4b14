"""A tiny language model whose head is LinearCrossEntropyLoss: the chunked path
(never materialises the tokens x vocabulary logits) against the reference path.

    python examples/lm_head_memory.py
    python examples/lm_head_memory.py --quick

The model is a bigram-style LM on synthetic text (embedding -> MLP -> head).
Both heads start from the same weights and train on the same batches. For
each path the script prints the loss per epoch and the peak memory of one
training step (``mx.get_peak_memory``), then the ratio. The losses agree to
float32 rounding; the chunked step's peak is a fraction of the reference's.
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import LinearCrossEntropyLoss, LinearCrossEntropyOptions


class TinyLM(nn.Module):
    def __init__(self, vocab: int, dim: int, options):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.head = LinearCrossEntropyLoss(dim, vocab, options=options)

    def __call__(self, tokens, targets):
        h = self.mlp(self.embed(tokens))
        return self.head(h.reshape(-1, h.shape[-1]), targets.reshape(-1))


def make_text(n_tokens: int, vocab: int, rng: np.random.Generator) -> np.ndarray:
    # A random sparse bigram chain: each token has 4 likely successors.
    succ = rng.integers(0, vocab, size=(vocab, 4))
    out = np.empty(n_tokens, np.int64)
    out[0] = 0
    for i in range(1, n_tokens):
        out[i] = succ[out[i - 1], rng.integers(0, 4)]
    return out


def train(model, batches, epochs, label):
    opt = optim.Adam(learning_rate=3e-3)
    loss_and_grad = nn.value_and_grad(model, lambda m, x, y: m(x, y))
    peak, losses = 0, []
    print(f"[{label}] training: {epochs} epochs x {len(batches)} batches", flush=True)
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        for i, (x, y) in enumerate(batches, 1):
            mx.eval(model.parameters())
            mx.reset_peak_memory()
            loss, grads = loss_and_grad(model, x, y)
            mx.eval(loss, grads)
            peak = max(peak, mx.get_peak_memory())
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state)
            total += loss.item()
            print(f"[{label}] epoch {epoch + 1} batch {i}/{len(batches)}  loss {loss.item():.4f}  "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        losses.append(total / len(batches))
        print(f"[{label}] epoch {epoch + 1}  loss {losses[-1]:.4f}  ({time.perf_counter() - t0:.2f} s)",
              flush=True)
    return losses, peak


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    vocab, dim, seq = (4000, 32, 512) if args.quick else (16000, 64, 2048)
    epochs, n_batches = (2, 3) if args.quick else (3, 10)
    rng = np.random.default_rng(0)
    text = make_text(seq * n_batches + 1, vocab, rng)
    batches = [
        (mx.array(text[i * seq : (i + 1) * seq][None]), mx.array(text[i * seq + 1 : (i + 1) * seq + 1][None]))
        for i in range(n_batches)
    ]

    mx.random.seed(0)
    ref = TinyLM(vocab, dim, options=None)
    chunked = TinyLM(vocab, dim, options=LinearCrossEntropyOptions(batch_chunk_size=64))
    chunked.update(ref.parameters())  # identical initial weights
    mx.eval(ref.parameters(), chunked.parameters())

    ref_losses, ref_peak = train(ref, batches, epochs, "reference")
    ch_losses, ch_peak = train(chunked, batches, epochs, "chunked")
    worst = max(abs(a - b) / abs(a) for a, b in zip(ref_losses, ch_losses))
    mib = 1024 * 1024
    print(f"peak memory per step: reference {ref_peak / mib:.1f} MiB, chunked {ch_peak / mib:.1f} MiB "
          f"(ratio {ch_peak / ref_peak:.2f}); logits alone would be {seq * vocab * 4 / mib:.1f} MiB")
    print(f"max relative loss difference: {worst:.2e}")
    return ref_peak, ch_peak, worst


if __name__ == "__main__":
    ref_peak, ch_peak, worst = main()
    sys.exit(0 if (ch_peak < ref_peak and worst < 1e-4) else 1)
