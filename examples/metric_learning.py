"""Train embeddings with TripletMarginLoss and measure retrieval accuracy.

    python examples/metric_learning.py              # Euclidean TripletMarginLoss
    python examples/metric_learning.py --cosine     # TripletMarginWithDistanceLoss, cosine distance
    python examples/metric_learning.py --quick

Synthetic data: 10 classes, each a cluster in 32 dimensions seen through a
fixed random non-linear distortion. An MLP maps points to 16-D embeddings;
triplets (anchor, positive of the same class, negative of another class) are
drawn at random. Retrieval accuracy: the fraction of held-out points whose
nearest other held-out point (in the embedding) has the same class, before
and after training, printed as ``final retrieval accuracy: X``. Exits
non-zero if training did not improve it above 0.8.
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import TripletMarginLoss, TripletMarginWithDistanceLoss
from mlx_losses.functional import cosine_similarity

CLASSES, DIM, EMB = 10, 32, 16


def make_data(n: int, rng: np.random.Generator, centers, mix):
    y = rng.integers(0, CLASSES, size=n)
    z = centers[y] + 0.9 * rng.normal(size=(n, DIM))
    x = np.tanh(z @ mix)  # the same distortion for every split
    return x.astype(np.float32), y


def retrieval_accuracy(emb: np.ndarray, y: np.ndarray, cosine: bool) -> float:
    if cosine:
        e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        d = -e @ e.T
    else:
        d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((y[d.argmin(1)] == y).mean())


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cosine", action="store_true", help="cosine distance")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else 20)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(CLASSES, DIM)) * 1.2
    mix = rng.normal(size=(DIM, DIM)) / np.sqrt(DIM)
    x_train, y_train = make_data(3000, rng, centers, mix)
    x_test, y_test = make_data(500, rng, centers, mix)
    by_class = [np.flatnonzero(y_train == c) for c in range(CLASSES)]

    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(DIM, 64), nn.ReLU(), nn.Linear(64, EMB))
    if args.cosine:
        loss_fn = TripletMarginWithDistanceLoss(
            distance_function=lambda a, b: 1.0 - cosine_similarity(a, b), margin=0.3
        )
    else:
        loss_fn = TripletMarginLoss(margin=1.0, p=2.0)
    opt = optim.Adam(learning_rate=2e-3)
    loss_and_grad = nn.value_and_grad(model, lambda m, a, p_, n: loss_fn(m(a), m(p_), m(n)))

    before = retrieval_accuracy(np.array(model(mx.array(x_test))), y_test, args.cosine)
    print(f"retrieval accuracy before training: {before:.3f}")
    batch, steps = 128, 30
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        for _ in range(steps):
            a_idx = rng.integers(0, len(y_train), size=batch)
            pos = np.array([rng.choice(by_class[c]) for c in y_train[a_idx]])
            neg_cls = (y_train[a_idx] + rng.integers(1, CLASSES, size=batch)) % CLASSES
            neg = np.array([rng.choice(by_class[c]) for c in neg_cls])
            loss, grads = loss_and_grad(
                model, mx.array(x_train[a_idx]), mx.array(x_train[pos]), mx.array(x_train[neg])
            )
            opt.update(model, grads)
            mx.eval(model.parameters(), opt.state, loss)
            total += loss.item()
        acc = retrieval_accuracy(np.array(model(mx.array(x_test))), y_test, args.cosine)
        print(f"epoch {epoch + 1:2d}  triplet loss {total / steps:.4f}  "
              f"retrieval accuracy {acc:.3f}  ({time.perf_counter() - t0:.2f} s)", flush=True)
    print(f"final retrieval accuracy: {acc:.3f} (before training: {before:.3f})")
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() >= 0.8 else 1)
