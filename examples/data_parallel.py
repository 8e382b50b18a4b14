#!/usr/bin/env python3
"""Data-parallel training whose loss is the global one, with mx.distributed.

    mlx.launch -n 2 --backend ring examples/data_parallel.py     # two processes
    python examples/data_parallel.py                              # one process

Each rank holds a different number of real tokens (the rest is padding,
ignored with ignore_index). The common recipe (local mean on each rank, then
average the gradients) weights ranks wrongly whenever their counts differ.
Here the loss gets ``group=``: its 'mean' is the global mean over every
rank's non-ignored targets, each rank's gradient is that of the global loss
w.r.t. its local inputs, and the ranks' gradients are SUMMED. The printed
losses are then the same numbers one process computes on the whole batch
(the script checks that at the end with an ``all_sum`` of the per-rank
sums and prints ``matches single-process loss: True``).
"""

from __future__ import annotations

import sys

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses import CrossEntropyLoss
from mlx_losses.functional import cross_entropy

PAD, CLASSES, DIM = -100, 6, 10


def main() -> bool:
    group = mx.distributed.init()
    rank, size = group.rank(), group.size()
    rng = np.random.default_rng(0)  # the same global data on every rank
    n = 240
    x_all = rng.normal(size=(n, DIM)).astype(np.float32)
    y_all = (x_all[:, :CLASSES].argmax(1)).astype(np.int64)
    # Uneven padding: the first rows are mostly padding.
    y_all[rng.uniform(size=n) < np.linspace(0.8, 0.0, n)] = PAD
    shard = np.array_split(np.arange(n), size)[rank]
    x, y = mx.array(x_all[shard]), mx.array(y_all[shard])

    mx.random.seed(0)  # identical initial weights on every rank
    model = nn.Sequential(nn.Linear(DIM, 32), nn.ReLU(), nn.Linear(32, CLASSES))
    loss_fn = CrossEntropyLoss(ignore_index=PAD, group=group)
    opt = optim.SGD(learning_rate=0.5)
    loss_and_grad = nn.value_and_grad(model, lambda m, a, b: loss_fn(m(a), b))

    for step in range(20):
        loss, grads = loss_and_grad(model, x, y)
        if size > 1:  # sum (not average) the ranks' gradients
            grads = nn.utils.tree_map(lambda g: mx.distributed.all_sum(g, group=group), grads)
        opt.update(model, grads)
        mx.eval(model.parameters(), loss)
        if rank == 0 and step % 5 == 0:
            print(f"step {step:2d}  global loss {loss.item():.5f}  (ranks: {size})", flush=True)

    # Check: the global loss equals the single-process loss on the whole batch.
    full = cross_entropy(model(mx.array(x_all)), mx.array(y_all), ignore_index=PAD)
    ok = bool(np.isclose(loss_fn(model(x), y).item(), full.item(), rtol=1e-5))
    if rank == 0:
        print(f"final global loss {full.item():.5f}; matches single-process loss: {ok}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
