"""Train a tiny two-tower model CLIP-style (or SigLIP-style) on synthetic pairs.

    python examples/contrastive.py                  # ClipLoss, learned temperature
    python examples/contrastive.py --loss siglip    # SigLipLoss, learned scale and bias
    python examples/contrastive.py --quick

Synthetic data: each pair shares a hidden 8-D latent; the "image" is a
32-D and the "text" a 24-D noisy non-linear view of it, through two fixed
random maps. Two MLP towers map them to unit 16-D embeddings. The loss gets
the model's learned logit scale (``exp`` of a parameter, initialised at
1/0.07 for CLIP, 10 for SigLIP) and, for SigLIP, its learned bias
(initialised at -10), as the papers do. Prints a line per epoch with the
learned temperature, and ``final retrieval accuracy: X``: the fraction of
held-out images whose most similar held-out text (out of 256) is their own.
Exits non-zero below 0.8 (chance: 1/256).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import ClipLoss, SigLipLoss

LATENT, IMG, TXT, EMB = 8, 32, 24, 16
QUALITY_BAR = 0.8


def make_pairs(n: int, rng: np.random.Generator, maps):
    a, b = maps
    z = rng.normal(size=(n, LATENT))
    img = np.tanh(z @ a) + 0.1 * rng.normal(size=(n, IMG))
    txt = np.tanh(z @ b) + 0.1 * rng.normal(size=(n, TXT))
    return mx.array(img.astype(np.float32)), mx.array(txt.astype(np.float32))


class TwoTower(nn.Module):
    def __init__(self, siglip: bool):
        super().__init__()
        self.image = nn.Sequential(nn.Linear(IMG, 64), nn.GELU(), nn.Linear(64, EMB))
        self.text = nn.Sequential(nn.Linear(TXT, 64), nn.GELU(), nn.Linear(64, EMB))
        # the learned temperature (and bias), in the papers' parametrisation
        self.log_scale = mx.array(math.log(10.0) if siglip else math.log(1 / 0.07))
        self.bias = mx.array(-10.0)

    def __call__(self, img, txt):
        i = self.image(img)
        t = self.text(txt)
        i = i / mx.linalg.norm(i, axis=-1, keepdims=True)
        t = t / mx.linalg.norm(t, axis=-1, keepdims=True)
        return i, t


def retrieval_accuracy(model: TwoTower, img, txt) -> float:
    i, t = model(img, txt)
    return mx.mean(mx.argmax(i @ t.T, axis=1) == mx.arange(img.shape[0])).item()


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss", choices=("clip", "siglip"), default="clip")
    p.add_argument("--quick", action="store_true", help="a short run for tests")
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)
    siglip = args.loss == "siglip"
    epochs = args.epochs or (5 if args.quick else 30)
    n_train = 2048 if args.quick else 8192

    rng = np.random.default_rng(0)
    maps = (rng.normal(size=(LATENT, IMG)), rng.normal(size=(LATENT, TXT)))
    img, txt = make_pairs(n_train, rng, maps)
    img_test, txt_test = make_pairs(256, rng, maps)

    mx.random.seed(0)
    model = TwoTower(siglip)
    if not siglip:
        model.freeze(keys=["bias"], recurse=False)  # CLIP has no bias
    loss_fn = SigLipLoss() if siglip else ClipLoss()
    opt = optim.Adam(learning_rate=3e-3)

    def objective(m, a, b):
        i, t = m(a, b)
        scale = mx.exp(m.log_scale)
        return loss_fn(i, t, scale, m.bias) if siglip else loss_fn(i, t, scale)

    loss_and_grad = nn.value_and_grad(model, objective)
    state = [model.state, opt.state]

    def step(a, b):
        loss, grads = loss_and_grad(model, a, b)
        opt.update(model, grads)
        return loss

    step = mx.compile(step, inputs=state, outputs=state)

    print(f"{args.loss}: before training retrieval accuracy "
          f"{retrieval_accuracy(model, img_test, txt_test):.3f}", flush=True)
    batch = 128
    for epoch in range(epochs):
        t0, total, steps = time.perf_counter(), 0.0, 0
        perm = mx.array(rng.permutation(n_train))
        for s in range(0, n_train, batch):
            idx = perm[s:s + batch]
            loss = step(img[idx], txt[idx])
            mx.eval(state)
            total += loss.item()
            steps += 1
        acc = retrieval_accuracy(model, img_test, txt_test)
        extra = f"  bias {model.bias.item():.2f}" if siglip else ""
        print(f"epoch {epoch + 1:2d}  loss {total / steps:.4f}  "
              f"temperature {math.exp(-model.log_scale.item()):.4f}{extra}  "
              f"retrieval accuracy {acc:.3f}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"final retrieval accuracy: {acc:.3f} (bar: {QUALITY_BAR})")
    return acc


if __name__ == "__main__":
    sys.exit(0 if main() >= QUALITY_BAR else 1)
