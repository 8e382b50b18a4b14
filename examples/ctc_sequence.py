"""Learn to transcribe synthetic sequences with CTCLoss, then decode greedily.

    python examples/ctc_sequence.py            # full run
    python examples/ctc_sequence.py --quick    # under a minute on a laptop CPU

Each sample is a label sequence (1 to 4 symbols from an alphabet of 5) drawn
as a noisy signal: every symbol lasts 2 to 4 frames, with silence between
some symbols and around the sequence. Repeated symbols are allowed (CTC needs
a blank between them). A small 1-D convolutional network maps frames to
log-probabilities over blank + 5 symbols; CTCLoss aligns them with the labels.
At the end: greedy decoding (best path, collapse repeats, drop blanks) and the
character error rate on held-out data, printed as ``final CER: X``. The script
exits non-zero if the CER is above 0.35.
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import CTCLoss

ALPHABET, BLANK, FEAT, T_MAX, S_MAX = 5, 0, 8, 24, 4


# How each symbol sounds: one fixed random pattern per symbol (row 0: silence).
CODES = np.random.default_rng(1234).normal(size=(ALPHABET + 1, FEAT)) * 2.0


def make_batch(n: int, rng: np.random.Generator):
    """Signals (N, T, FEAT), padded targets (N, S), input and target lengths."""
    codes = CODES
    x = np.zeros((n, T_MAX, FEAT), np.float32)
    targets = np.zeros((n, S_MAX), np.int32)
    in_len = np.zeros(n, np.int32)
    tgt_len = np.zeros(n, np.int32)
    for i in range(n):
        length = rng.integers(1, S_MAX + 1)
        labels = rng.integers(1, ALPHABET + 1, size=length)
        frames = [0] * rng.integers(0, 3)
        for lab in labels:
            frames += [int(lab)] * rng.integers(2, 5)
            frames += [0] * rng.integers(0, 2)
        frames += [0] * rng.integers(0, 3)
        frames = frames[:T_MAX]
        t = len(frames)
        x[i, :t] = codes[frames] + 0.5 * rng.normal(size=(t, FEAT))
        targets[i, :length] = labels
        in_len[i], tgt_len[i] = t, length
    return x, targets, in_len, tgt_len


class FrameModel(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.conv1 = nn.Conv1d(FEAT, hidden, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=3, padding=1)
        self.out = nn.Linear(hidden, ALPHABET + 1)

    def __call__(self, x):  # (N, T, FEAT) -> (T, N, C) log-probabilities
        h = nn.relu(self.conv1(x))
        h = nn.relu(self.conv2(h))
        logits = self.out(h)
        return nn.log_softmax(logits, axis=-1).transpose(1, 0, 2)


def greedy_decode(log_probs: np.ndarray, lengths: np.ndarray):
    best = log_probs.argmax(-1).T  # (N, T)
    out = []
    for row, n in zip(best, lengths):
        seq, prev = [], None
        for s in row[:n]:
            if s != prev and s != BLANK:
                seq.append(int(s))
            prev = s
        out.append(seq)
    return out


def edit_distance(a, b) -> int:
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    return d[-1]


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 25)
    steps_per_epoch = 30 if args.quick else 60
    rng = np.random.default_rng(0)

    mx.random.seed(0)
    model = FrameModel()
    loss_fn = CTCLoss(blank=BLANK, zero_infinity=True)
    opt = optim.Adam(learning_rate=3e-3)
    loss_and_grad = nn.value_and_grad(
        model, lambda m, x, t, il, tl: loss_fn(m(x), t, il, tl)
    )

    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        for _ in range(steps_per_epoch):
            x, t, il, tl = (mx.array(a) for a in make_batch(16, rng))
            loss, grads = loss_and_grad(model, x, t, il, tl)
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state, loss)
            total += loss.item()
        print(f"epoch {epoch + 1:2d}  ctc loss {total / steps_per_epoch:.4f}  "
              f"({time.perf_counter() - t0:.2f} s)", flush=True)

    x, t, il, tl = make_batch(200, np.random.default_rng(123))
    decoded = greedy_decode(np.array(model(mx.array(x))), il)
    errors = sum(edit_distance(d, list(row[:n])) for d, row, n in zip(decoded, t, tl))
    cer = errors / int(tl.sum())
    print(f"example: target {list(t[0][:tl[0]])}  decoded {decoded[0]}")
    print(f"final CER: {cer:.3f}")
    return cer


if __name__ == "__main__":
    sys.exit(0 if main() <= 0.35 else 1)
