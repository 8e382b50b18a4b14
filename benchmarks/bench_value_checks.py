"""What the eager value checks cost: read through NumPy (their path on the
CPU), through MLX's reductions (their path on other devices and without
NumPy), and switched off, in one interleaved run.

Run by hand: ``python -m benchmarks.bench_value_checks [--reps 21]
[--losses nll_loss,...] [--json out.json] [--markdown out.md]``.

Every loss whose call reads values (class-index ranges, BCE's [0, 1],
gaussian_nll's var, CTC's lengths and labels) at the general harness's
default sizes, float32 and bfloat16, forward and eager forward+backward.
A repetition times each variant once (order rotated); a sample repeats the
step until it lasts >= 2 ms. Ratios are per repetition, median (p20-p80).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import mlx_losses
from mlx_losses import _validation

from .harness import _mlx_step, _quantiles, _to_mx, environment
from .setups import SETUPS

LOSSES = ("nll_loss", "cross_entropy", "binary_cross_entropy", "gaussian_nll_loss",
          "multi_margin_loss", "multilabel_margin_loss", "ctc_loss")
VARIANTS = ("numpy", "mlx", "off")


def _sample(run, min_s) -> float:
    n, total = 0, 0.0
    while n == 0 or total < min_s:
        t0 = time.perf_counter()
        run(None)
        total += time.perf_counter() - t0
        n += 1
    return total / n


def _timed(variant, run, min_s):
    saved = _validation._np
    if variant == "mlx":
        _validation._np = None
    try:
        with mlx_losses.value_checks(variant != "off"):
            return _sample(run, min_s)
    finally:
        _validation._np = saved


def bench(losses, dtypes, modes, reps, size=None, min_s=2e-3, log=print):
    """Rows of medians (ms) and per-repetition ratios (p50, p20, p80) per
    (loss, dtype, mode); ``size`` overrides each setup's element count."""
    import mlx_losses.functional as F

    rows = []
    for name in losses:
        setup = SETUPS[name]
        arrays = setup.make(np.random.default_rng(0), size or setup.default_size)
        shape = "x".join(map(str, arrays[0].shape)) if arrays[0].ndim > 1 else str(arrays[0].size)
        for dtype in dtypes:
            mxa = _to_mx(arrays, setup.kinds, dtype)
            for mode in modes:
                step = _mlx_step(lambda *a: setup.ours(F, *a), mxa, setup.kinds, mode)
                for v in VARIANTS:  # warm-up: kernels built, caches filled
                    _timed(v, step.run, min_s)
                t = {v: [] for v in VARIANTS}
                for r in range(reps):
                    order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
                    for v in order:
                        t[v].append(_timed(v, step.run, min_s))
                row = {"loss": name, "dtype": dtype, "mode": mode, "size": shape}
                for v in VARIANTS:
                    row[f"{v}_ms"] = 1e3 * _quantiles(t[v])[0]
                for a, b in (("numpy", "mlx"), ("numpy", "off")):
                    row[f"{a}/{b}"] = _quantiles(np.array(t[a]) / np.array(t[b]))
                rows.append(row)
                log(f"{name} {dtype} {mode}: " + ", ".join(
                    f"{v} {row[f'{v}_ms']:.3f} ms" for v in VARIANTS))
    return rows


def to_markdown(rows, env, cmd) -> str:
    ver = env["versions"]
    out = [f"# `{cmd}`", "",
           f"Device: {env['device']}. mlx {ver['mlx']}, numpy {ver['numpy']}, "
           f"python {ver['python']}.", "",
           "| loss | dtype | mode | size | checks via NumPy, ms | via MLX, ms | off, ms "
           "| NumPy / MLX | NumPy / off |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        q = [f"{r[k][0]:.2f} ({r[k][1]:.2f}-{r[k][2]:.2f})" for k in ("numpy/mlx", "numpy/off")]
        out.append(f"| {r['loss']} | {r['dtype']} | {r['mode']} | {r['size']} | "
                   f"{r['numpy_ms']:.3f} | {r['mlx_ms']:.3f} | {r['off_ms']:.3f} | {q[0]} | {q[1]} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--modes", default="fwd,fwd+bwd")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    rows = bench(args.losses.split(","), args.dtypes.split(","), args.modes.split(","), args.reps)
    env = environment()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=1)
    if args.markdown:
        cmd = "python -m benchmarks.bench_value_checks --reps " + str(args.reps)
        with open(args.markdown, "w") as f:
            f.write(to_markdown(rows, env, cmd))


if __name__ == "__main__":
    main()
