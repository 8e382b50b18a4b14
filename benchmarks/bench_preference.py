"""Benchmark: the fused preference / distillation losses against the plain
ones on materialised logits (peak memory and time).

Run by hand (never as a test)::

    python -m benchmarks.bench_preference --vocab 32000,151936 --reps 3 \\
        --json benchmarks/results/preference_cpu_contended.json

Losses and providers, one forward+backward each (gradients w.r.t. the
policy's / student's hidden states and LM head):

- ``dpo``: ``fused`` = ``fused_linear_dpo_loss(h, W, target, ref_input=h_ref)``;
  ``plain`` = ``sequence_log_probs(h @ W.T, ...)`` for the policy and the
  reference (no gradient) and ``dpo_loss`` on the results.
- ``jsd``: ``fused`` = ``fused_linear_jsd_loss(h_s, W_s, h_t, W_t)``;
  ``plain`` = ``generalized_jsd_loss(h_s @ W_s.T, h_t @ W_t.T)``.
- ``fused_q4`` / ``plain_q4``: the same with 4-bit heads (MLX's affine
  quantization, group size 64: ``QuantizedWeight`` in the fused form,
  ``mx.quantized_matmul`` logits as ``nn.QuantizedLinear`` computes them in
  the plain one; both heads for the JSD), frozen: gradients w.r.t. the
  hidden states only.

Sizes: ``--tokens`` tokens in all (DPO: ``tokens / 128`` sequences of 128,
half chosen, half rejected), hidden size ``--hidden``, each vocabulary of
``--vocab``; float32, default tiles.

Metrics (long-format rows: loss, provider, mode, metric, unit, size, p50,
p20, p80, device, versions):

- ``peak_mem``: ``mx.get_peak_memory()`` after ``mx.reset_peak_memory()``
  minus the active memory before the step (above the inputs; the returned
  gradients included), MiB.
- ``time``: wall seconds with ``mx.eval`` inside; providers interleaved in
  each repetition; p50 / p20 / p80 over repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

SEQ = 128


def _inputs(loss, n, h, v, seed=0):
    import mlx.core as mx

    mx.random.seed(seed)
    if loss == "dpo":
        x = mx.random.normal((n // SEQ, SEQ, h))
        xr = mx.random.normal((n // SEQ, SEQ, h))
        w = 0.05 * mx.random.normal((v, h))
        t = mx.random.randint(0, v, (n // SEQ, SEQ))
        t = mx.where(mx.arange(SEQ) < SEQ // 4, -100, t)  # a prompt
        arrays = (x, w, t, xr)
    else:
        x, xt = mx.random.normal((n, h)), mx.random.normal((n, h))
        w, wt = 0.05 * mx.random.normal((v, h)), 0.05 * mx.random.normal((v, h))
        arrays = (x, w, xt, wt)
    mx.eval(*arrays)
    return arrays


def _quantize(w):
    import mlx.core as mx

    from mlx_losses import QuantizedWeight

    q = QuantizedWeight(*mx.quantize(w, 64, 4), group_size=64, bits=4)
    mx.eval(q.weight, q.scales, q.biases)
    return q


def _step(loss, provider, arrays):
    """A zero-argument forward+backward for ``provider`` on ``arrays``."""
    import mlx.core as mx

    import mlx_losses.functional as F

    quantized = provider.endswith("_q4")
    if quantized:
        # the heads packed once, outside the timed step (as a loaded model's)
        heads = (1, 3) if loss == "jsd" else (1,)
        arrays = tuple(_quantize(a) if i in heads else a for i, a in enumerate(arrays))

    def logits(x, w):
        if quantized:
            return mx.quantized_matmul(x, w.weight, w.scales, w.biases, True, w.group_size, w.bits)
        return x @ w.T

    if loss == "dpo":
        def fused(x, w, t, xr):
            return F.fused_linear_dpo_loss(x, w, t, ref_input=xr).loss

        def plain(x, w, t, xr):
            lp = F.sequence_log_probs(logits(x, w), t)
            rl = mx.stop_gradient(F.sequence_log_probs(logits(xr, w), t))
            b = lp.shape[0] // 2
            return F.dpo_loss(lp[:b], lp[b:], rl[:b], rl[b:]).loss
    else:
        def fused(x, w, xt, wt):
            return F.fused_linear_jsd_loss(x, w, xt, wt)

        def plain(x, w, xt, wt):
            return F.generalized_jsd_loss(logits(x, w), mx.stop_gradient(logits(xt, wt)))

    f = fused if provider.startswith("fused") else plain
    if quantized:  # a frozen head: the hidden states' gradient only
        step = mx.value_and_grad(lambda x: f(x, *arrays[1:]))
        return lambda: step(arrays[0])
    step = mx.value_and_grad(f, argnums=(0, 1))
    return lambda: step(*arrays)


def _q(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--losses", default="dpo,jsd")
    ap.add_argument("--vocab", default="32000,151936")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--providers", default="fused,plain,fused_q4,plain_q4")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)

    import mlx.core as mx

    device = f"{mx.default_device()} ({platform.machine()}, {os.cpu_count()} cpus)"
    versions = f"mlx {mx.__version__}; python {platform.python_version()}"
    rows = []
    for loss in args.losses.split(","):
        for v in (int(s) for s in args.vocab.split(",")):
            size = f"tokens={args.tokens},H={args.hidden},V={v},float32"
            arrays = _inputs(loss, args.tokens, args.hidden, v)
            providers = args.providers.split(",")
            steps = {p: _step(loss, p, arrays) for p in providers}
            times = {p: [] for p in providers}
            peaks = {p: [] for p in providers}
            for rep in range(args.reps):
                order = providers[rep % len(providers):] + providers[:rep % len(providers)]
                for p in order:
                    mx.synchronize()
                    active = mx.get_active_memory()
                    mx.reset_peak_memory()
                    t0 = time.perf_counter()
                    mx.eval(steps[p]())
                    dt = time.perf_counter() - t0
                    peak = (mx.get_peak_memory() - active) / 2**20
                    times[p].append(dt)
                    peaks[p].append(peak)
                    print(f"# {loss} V={v} rep {rep} {p}: {dt:.2f} s, peak {peak:.1f} MiB",
                          file=sys.stderr, flush=True)
            for p in providers:
                for metric, unit, vals in (("time", "s", times[p]), ("peak_mem", "MiB", peaks[p])):
                    rows.append(dict(loss=loss, provider=p, mode="fwd+bwd", metric=metric, unit=unit,
                                     size=size, p50=statistics.median(vals), p20=_q(vals, 0.2),
                                     p80=_q(vals, 0.8), device=device, versions=versions))
            for fp, pp in (("fused", "plain"), ("fused_q4", "plain_q4")):
                if {fp, pp} <= set(providers):
                    ratios = [a / b for a, b in zip(times[fp], times[pp])]
                    peak = statistics.median(peaks[fp]) / statistics.median(peaks[pp])
                    print(f"{loss} V={v}: peak {fp} / {pp} {peak:.4f}, time {fp} / {pp} median "
                          f"{statistics.median(ratios):.2f} (p20 {_q(ratios, 0.2):.2f}, "
                          f"p80 {_q(ratios, 0.8):.2f})")
            del arrays, steps
            mx.clear_cache()

    keys = ["loss", "provider", "mode", "metric", "unit", "size", "p50", "p20", "p80"]
    print(",".join(keys))
    for r in rows:
        print(",".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if hasattr(os, "getloadavg"):
        print("load average at the end (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
