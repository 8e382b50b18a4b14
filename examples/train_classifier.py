"""Train an MLP classifier with CrossEntropyLoss: class weights, label smoothing,
and padded targets skipped with ignore_index.

    python examples/train_classifier.py            # full run
    python examples/train_classifier.py --quick    # a few seconds

Synthetic data: 5 Gaussian blobs in 16 dimensions; one in five targets is the
padding value -100 and does not count. Prints a line per epoch and, at the
end, ``final accuracy: X`` on held-out data (the script exits non-zero if the
model did not learn: accuracy below 0.85).
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

from mlx_losses import CrossEntropyLoss

NUM_CLASSES, DIM, PAD = 5, 16, -100


def make_data(n: int, key: mx.array):
    k1, k2, k3 = mx.random.split(key, 3)
    centers = 0.8 * mx.random.normal((NUM_CLASSES, DIM), key=k1)
    labels = mx.random.randint(0, NUM_CLASSES, (n,), key=k2)
    x = centers[labels] + mx.random.normal((n, DIM), key=k3)
    return x, labels


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short run for tests")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 20)
    n_train = 2000 if args.quick else 20000

    key = mx.random.key(0)
    x, y = make_data(n_train, key)
    x_test, y_test = make_data(1000, key)  # same centers: same key
    # Padding: every fifth target is ignored by the loss.
    y_padded = mx.where(mx.arange(n_train) % 5 == 0, PAD, y)

    mx.random.seed(1)
    model = nn.Sequential(nn.Linear(DIM, 64), nn.ReLU(), nn.Linear(64, NUM_CLASSES))
    # Rare classes weigh more; smoothing keeps the logits calibrated.
    loss_fn = CrossEntropyLoss(
        weight=mx.array([1.0, 1.5, 1.0, 0.8, 1.2]), ignore_index=PAD, label_smoothing=0.05
    )
    opt = optim.Adam(learning_rate=3e-3)
    loss_and_grad = nn.value_and_grad(model, lambda m, xb, yb: loss_fn(m(xb), yb))

    state = [model.state, opt.state]

    @mx.compile
    def step(xb, yb):
        loss, grads = loss_and_grad(model, xb, yb)
        opt.update(model, grads)
        return loss

    step = mx.compile(step, inputs=state, outputs=state)

    batch = 100
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        perm = mx.random.permutation(n_train)
        for i in range(0, n_train, batch):
            idx = perm[i : i + batch]
            loss = step(x[idx], y_padded[idx])
            mx.eval(state)
            total += loss.item()
        acc = mx.mean(mx.argmax(model(x_test), axis=1) == y_test).item()
        print(f"epoch {epoch + 1:2d}  loss {total / (n_train // batch):.4f}  "
              f"test accuracy {acc:.3f}  ({time.perf_counter() - t0:.2f} s)", flush=True)
    print(f"final accuracy: {acc:.3f}")
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.85 else 1)
