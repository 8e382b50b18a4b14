"""Benchmark: triplet_margin_loss (forward+backward) vs torch and mlx.nn.losses.triplet_loss.

Run by hand (never as a test)::

    python benchmarks/bench_embedding.py --n 4096 --d 128 --reps 21

Providers, each a forward+backward w.r.t. the three inputs, reduction 'mean':

- ``mlx_losses``: ``mlx_losses.functional.triplet_margin_loss``
- ``mlx.nn.losses``: ``mlx.nn.losses.triplet_loss(..., reduction='mean')``
  (eps inside the root, not on the difference: a different function, timed
  for speed only)
- ``torch``: ``torch.nn.functional.triplet_margin_loss`` + ``autograd.grad``
  on the CPU (torch's own thread count unless ``--torch-threads``).

Repetitions are interleaved (every provider once per repetition, order
rotated) and ratios are taken per repetition, then their median and p20/p80:
robust on a shared, noisy machine. ``mx.eval`` is inside the timed region.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _q(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--swap", action="store_true")
    ap.add_argument("--p", type=float, default=2.0)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--torch-threads", type=int, default=None)
    a = ap.parse_args(argv)

    import mlx.core as mx
    import mlx.nn.losses as L
    import numpy as np
    import torch

    import mlx_losses.functional as F

    if a.torch_threads is not None:
        torch.set_num_threads(a.torch_threads)
    rng = np.random.default_rng(0)
    vals = [rng.normal(size=(a.n, a.d)).astype(np.float32) for _ in range(3)]
    mdt = getattr(mx, a.dtype)
    tdt = getattr(torch, a.dtype)
    m_in = [mx.array(v).astype(mdt) for v in vals]
    t_in = [torch.from_numpy(v).to(tdt).requires_grad_(True) for v in vals]
    mx.eval(m_in)

    ours = mx.value_and_grad(
        lambda x, y, z: F.triplet_margin_loss(x, y, z, p=a.p, swap=a.swap), argnums=(0, 1, 2)
    )
    theirs_mlx = mx.value_and_grad(
        lambda x, y, z: L.triplet_loss(x, y, z, p=int(a.p), reduction="mean"), argnums=(0, 1, 2)
    )

    def run_ours():
        mx.eval(ours(*m_in))

    def run_mlx_nn():
        mx.eval(theirs_mlx(*m_in))

    def run_torch():
        out = torch.nn.functional.triplet_margin_loss(*t_in, p=a.p, swap=a.swap)
        torch.autograd.grad(out, t_in)

    providers = {"mlx_losses": run_ours, "mlx.nn.losses": run_mlx_nn, "torch": run_torch}
    if a.swap:
        del providers["mlx.nn.losses"]  # it has no swap
    for f in providers.values():  # warm-up (compilation, allocator)
        f()
        f()
    times = {k: [] for k in providers}
    names = list(providers)
    for r in range(a.reps):
        order = names[r % len(names):] + names[: r % len(names)]
        for k in order:
            t0 = time.perf_counter()
            providers[k]()
            times[k].append(time.perf_counter() - t0)

    print(f"triplet_margin_loss fwd+bwd, N={a.n}, D={a.d}, p={a.p}, swap={a.swap}, "
          f"{a.dtype}, reps={a.reps}, torch threads={torch.get_num_threads()}")
    print(f"{'provider':<16}{'p50 ms':>10}{'p20 ms':>10}{'p80 ms':>10}")
    for k in names:
        ts = times[k]
        print(f"{k:<16}{1e3 * statistics.median(ts):>10.3f}{1e3 * _q(ts, 0.2):>10.3f}"
              f"{1e3 * _q(ts, 0.8):>10.3f}")
    for other in names[1:]:
        ratios = [o / t for o, t in zip(times["mlx_losses"], times[other])]
        print(f"mlx_losses / {other:<14} median {statistics.median(ratios):.3f}  "
              f"p20 {_q(ratios, 0.2):.3f}  p80 {_q(ratios, 0.8):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
