"""Train a tiny channels-last (NHWC) segmentation net with Dice + focal loss.

    python examples/segmentation.py            # full run
    python examples/segmentation.py --quick    # well under a minute

Synthetic data: 16 x 16 RGB images with a reddish square (class 1) and a
greenish disk (class 2), of random sizes and places, on a background
(class 0), all under heavy pixel noise, so that a pixel alone is ambiguous
and the net must pool its neighbourhood. A three-layer conv net (MLX
convolutions are NHWC) predicts per-pixel logits of shape (N, H, W, 3); the
loss is ``DiceLoss(softmax=True, to_onehot_y=True, axis=-1)`` plus
``FocalLoss(axis=-1)``, both reading the class axis last, so neither the
logits nor the (N, H, W) label maps are transposed. Prints a line per epoch
and ``final mean IoU: X`` (the two shapes' intersection over union on
held-out images); exits non-zero below the bar (0.7).
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import DiceLoss, FocalLoss

SIZE, CLASSES = 16, 3
QUALITY_BAR = 0.7
COLOURS = np.array([[0.0, 0.0, 0.0], [1.0, 0.25, 0.25], [0.25, 1.0, 0.25]])


def make_data(n: int, rng: np.random.Generator):
    """Images (n, H, W, 3) and label maps (n, H, W)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    labels = np.zeros((n, SIZE, SIZE), dtype=np.int32)
    for i in range(n):
        # the square first, then the disk on top of it where they overlap
        s = rng.integers(4, 8)
        r0, c0 = rng.integers(0, SIZE - s, size=2)
        labels[i, r0:r0 + s, c0:c0 + s] = 1
        rad = rng.uniform(2.5, 4.5)
        cy, cx = rng.uniform(rad, SIZE - rad, size=2)
        labels[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= rad ** 2] = 2
    images = COLOURS[labels] + 0.6 * rng.normal(size=(n, SIZE, SIZE, 3))
    return mx.array(images.astype(np.float32)), mx.array(labels)


class TinySegNet(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Conv2d(width, CLASSES, 1)

    def __call__(self, x):
        x = nn.relu(self.conv1(x))
        x = nn.relu(self.conv2(x))
        return self.head(x)  # (N, H, W, classes): channels-last logits


def mean_iou(logits: mx.array, labels: mx.array) -> float:
    pred = mx.argmax(logits, axis=-1)
    ious = []
    for c in range(1, CLASSES):
        inter = mx.sum((pred == c) & (labels == c)).item()
        union = mx.sum((pred == c) | (labels == c)).item()
        ious.append(inter / max(union, 1))
    return float(np.mean(ious))


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short run for tests")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    epochs = args.epochs or (8 if args.quick else 25)
    n_train = 384 if args.quick else 2048

    rng = np.random.default_rng(0)
    x, y = make_data(n_train, rng)
    x_test, y_test = make_data(128, rng)

    mx.random.seed(0)
    model = TinySegNet()
    dice = DiceLoss(softmax=True, to_onehot_y=True, axis=-1)
    focal = FocalLoss(gamma=2.0, axis=-1)
    opt = optim.Adam(learning_rate=1e-2)

    def loss_fn(m, xb, yb):
        logits = m(xb)
        return dice(logits, yb) + focal(logits, yb)

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, opt.state]

    def step(xb, yb):
        loss, grads = loss_and_grad(model, xb, yb)
        opt.update(model, grads)
        return loss

    step = mx.compile(step, inputs=state, outputs=state)

    print(f"before training: mean IoU {mean_iou(model(x_test), y_test):.3f}", flush=True)
    batch = 16
    for epoch in range(epochs):
        t0, total, steps = time.perf_counter(), 0.0, 0
        perm = mx.array(rng.permutation(n_train))
        for i in range(0, n_train, batch):
            idx = perm[i:i + batch]
            loss = step(x[idx], y[idx])
            mx.eval(state)
            total += loss.item()
            steps += 1
        miou = mean_iou(model(x_test), y_test)
        print(f"epoch {epoch + 1:2d}  loss {total / steps:.4f}  test mean IoU {miou:.3f}  "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"final mean IoU: {miou:.3f} (bar: {QUALITY_BAR})")
    return miou


if __name__ == "__main__":
    sys.exit(0 if main() >= QUALITY_BAR else 1)
