"""Forward+backward time of the margin family: mlx_losses vs torch (CPU).

Run by hand: ``python benchmarks/bench_margin.py [--n 4096 --c 100 --reps 15]``.
Interleaved repetitions (ours, torch, ours, ...), medians with p20/p80, one
long-format row per (loss, provider): loss, provider, mode, metric, unit,
size, p50, p20, p80, device, versions. Also prints the per-repetition ratio ours / torch (median, p20, p80).
"""

from __future__ import annotations

import argparse
import time

import mlx.core as mx
import numpy as np
import torch
import torch.nn.functional as TF

import mlx_losses
import mlx_losses.functional as F


def _setups(n: int, c: int, rng: np.random.Generator):
    x = rng.normal(size=(n, c)).astype(np.float32)
    x2 = rng.normal(size=(n, c)).astype(np.float32)
    sign = rng.choice([-1.0, 1.0], size=(n, c)).astype(np.float32)
    binary = (rng.uniform(size=(n, c)) < 0.5).astype(np.float32)
    cls = rng.integers(0, c, size=(n,))
    # multilabel: a few labels per row (1..8), -1, then padding
    ml = np.full((n, c), -1, dtype=np.int64)
    for r in range(n):
        k = int(rng.integers(1, 9))
        ml[r, :k] = rng.choice(c, size=k, replace=False)
    w = rng.uniform(0.5, 2.0, size=(c,)).astype(np.float32)
    return {
        "hinge_embedding_loss": ((x, sign), lambda a, b: F.hinge_embedding_loss(a, b),
                                 lambda a, b: TF.hinge_embedding_loss(a, b)),
        "soft_margin_loss": ((x, sign), lambda a, b: F.soft_margin_loss(a, b),
                             lambda a, b: TF.soft_margin_loss(a, b)),
        "multilabel_soft_margin_loss": ((x, binary, w), lambda a, b, ww: F.multilabel_soft_margin_loss(a, b, weight=ww),
                                        lambda a, b, ww: TF.multilabel_soft_margin_loss(a, b, weight=ww)),
        "multilabel_margin_loss": ((x, ml), lambda a, b: F.multilabel_margin_loss(a, b),
                                   lambda a, b: TF.multilabel_margin_loss(a, b)),
        "multi_margin_loss": ((x, cls), lambda a, b: F.multi_margin_loss(a, b),
                              lambda a, b: TF.multi_margin_loss(a, b)),
        "multi_margin_loss_p2_w": ((x, cls, w), lambda a, b, ww: F.multi_margin_loss(a, b, p=2, weight=ww),
                                   lambda a, b, ww: TF.multi_margin_loss(a, b, p=2, weight=ww)),
        "margin_ranking_loss": ((x, x2, sign), lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.1),
                                lambda a, b, y: TF.margin_ranking_loss(a, b, y, margin=0.1)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--c", type=int, default=100)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--only", default="")
    ap.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    ap.add_argument("--no-checks", action="store_true", help="switch tier-(c) value checks off")
    args = ap.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.no_checks:
        mlx_losses.set_value_checks(False)
    rng = np.random.default_rng(0)
    versions = f"mlx {mx.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    print("loss,provider,mode,metric,unit,size,p50,p20,p80,device,versions")
    ratios = {}
    for name, (arrays, ours, theirs) in _setups(args.n, args.c, rng).items():
        if args.only and args.only not in name:
            continue
        m_args = [mx.array(a) for a in arrays]
        t_args = [torch.from_numpy(a) for a in arrays]

        grad = mx.value_and_grad(lambda a, *rest: ours(a, *rest))

        def run_ours():
            loss, g = grad(*m_args)
            mx.eval(loss, g)

        def run_torch():
            a = t_args[0].detach().requires_grad_(True)
            loss = theirs(a, *t_args[1:])
            loss.backward()

        for f in (run_ours, run_torch, run_ours, run_torch):  # warm-up
            f()
        times = {"mlx_losses": [], "torch": []}
        for _ in range(args.reps):
            for prov, f in (("mlx_losses", run_ours), ("torch", run_torch)):
                t0 = time.perf_counter()
                f()
                times[prov].append(time.perf_counter() - t0)
        size = f"N={args.n},C={args.c}"
        for prov, ts in times.items():
            ms = np.array(ts) * 1e3
            p20, p50, p80 = np.percentile(ms, [20, 50, 80])
            print(f"{name},{prov},fwd+bwd,time,ms,{size},{p50:.3f},{p20:.3f},{p80:.3f},cpu,{versions}")
        # per-repetition ratios (a burst of load hits both providers alike)
        ratios[name] = np.array(times["mlx_losses"]) / np.array(times["torch"])
    print()
    for name, r in ratios.items():
        p20, p50, p80 = np.percentile(r, [20, 50, 80])
        print(f"{name:32s} ours/torch fwd+bwd = {p50:.2f}x  (p20 {p20:.2f}, p80 {p80:.2f})")


if __name__ == "__main__":
    main()
