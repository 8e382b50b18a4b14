"""Benchmark: linear_cross_entropy, chunked vs reference vs naive vs torch.

Run by hand (never as a test)::

    python benchmarks/bench_linear_cross_entropy.py --size quarter --reps 5
    python benchmarks/bench_linear_cross_entropy.py --size full --reps 1
    python benchmarks/bench_linear_cross_entropy.py --cold --size lm   # first compiled step

Sizes: ``full`` is N=2048 tokens, D=1024, V=32000 (float32); ``quarter`` is
512 x 256 x 8000; ``lm`` is 4 x 256 tokens, D=256, V=32000 (a small LLM's
fine-tuning batch). Providers:

- ``mlx_losses-chunked``: ``linear_cross_entropy(..., options=LinearCrossEntropyOptions())``
- ``mlx_losses-chunked-q4``: the same with the head quantized to 4 bits
  (``QuantizedWeight``, affine, group size 64), dequantized a block at a time
- ``mlx_losses-reference``: ``linear_cross_entropy(..., options=None)``
- ``naive``: ``x @ W.T`` then ``mlx.nn.losses.cross_entropy(..., reduction='mean')``
- ``torch-chunked`` / ``torch-reference``: torch's ``F.linear_cross_entropy`` on
  the CPU with ``LinearCrossEntropyOptions()`` / ``None``.

Metrics, one forward+backward (``mode=fwd+bwd``) and a forward (``mode=fwd``):

- ``time``: wall seconds with ``mx.eval`` inside the timed region; providers
  are interleaved within each repetition; p50 / p20 / p80 over repetitions.
- ``peak_mem``: MLX: ``mx.get_peak_memory()`` after ``mx.reset_peak_memory()``
  minus the active memory before the call (so: above the inputs; the
  gradients, which every provider must return, are included).
- ``peak_rss``: every provider, each in a fresh subprocess: the process's
  peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` once the
  inputs exist) during one forward+backward, minus its RSS at that point. torch's CPU allocator returns large blocks to the
  OS (``munmap``), so this tracks its live tensors; MLX's allocator caches
  freed buffers, which RSS also counts. This is the number comparable
  across MLX and torch.

``--cold``: the compile cost of a training step. A fresh process with a
fresh kernel cache (``TMPDIR`` set to a new directory, so MLX's CPU backend
compiles every fused kernel with the C++ compiler again) runs
``mx.compile(mx.value_and_grad(loss))`` of the chunked path ``--reps`` + 1
times: ``cold_step`` is the first call (trace, kernel builds and the step),
``warm_step`` the median of the others, and ``kernels`` the number of
kernels the first call built.

Output: long-format rows (loss, provider, mode, metric, unit, size, p50, p20,
p80, device, versions), printed as CSV, plus the ratios the issue asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SIZES = {"full": (2048, 1024, 32000), "quarter": (512, 256, 8000), "lm": (1024, 256, 32000),
         "tiny": (128, 64, 2000)}
PROVIDERS = ("mlx_losses-chunked", "mlx_losses-chunked-q4", "mlx_losses-reference", "naive",
             "torch-chunked", "torch-reference")


def _mlx_inputs(n, d, v, seed=0):
    import mlx.core as mx

    mx.random.seed(seed)
    x = mx.random.normal((n, d))
    w = 0.02 * mx.random.normal((v, d))
    t = mx.random.randint(0, v, (n,))
    mx.eval(x, w, t)
    return x, w, t


def _mlx_step(provider, mode):
    import mlx.core as mx
    import mlx.nn as nn

    from mlx_losses import LinearCrossEntropyOptions
    from mlx_losses.functional import linear_cross_entropy

    if provider == "mlx_losses-chunked":
        opts = LinearCrossEntropyOptions()
        f = lambda x, w, t: linear_cross_entropy(x, w, t, options=opts)  # noqa: E731
    elif provider == "mlx_losses-chunked-q4":
        from mlx_losses import QuantizedWeight

        opts, cache = LinearCrossEntropyOptions(), {}

        def f(x, w, t):
            # the head quantized once (not timed after the first call)
            if id(w) not in cache:
                cache[id(w)] = QuantizedWeight(*mx.quantize(w, 64, 4))
                mx.eval(cache[id(w)].weight, cache[id(w)].scales, cache[id(w)].biases)
            return linear_cross_entropy(x, cache[id(w)], t, options=opts)

        if mode == "fwd":
            return f
        vg = mx.value_and_grad(f)  # the quantized head is frozen: input only
        return lambda x, w, t: vg(x, w, t)
    elif provider == "mlx_losses-reference":
        f = lambda x, w, t: linear_cross_entropy(x, w, t)  # noqa: E731
    else:
        f = lambda x, w, t: nn.losses.cross_entropy(x @ w.T, t, reduction="mean")  # noqa: E731
    if mode == "fwd":
        return lambda x, w, t: f(x, w, t)
    vg = mx.value_and_grad(f, argnums=(0, 1))
    return lambda x, w, t: vg(x, w, t)


def _torch_inputs(n, d, v, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = 0.02 * torch.randn(v, d, generator=g)
    t = torch.randint(0, v, (n,), generator=g)
    return x, w, t


def _torch_step(provider, mode):
    import torch
    import torch.nn.functional as TF

    opts = torch.nn.LinearCrossEntropyOptions() if provider == "torch-chunked" else None

    def run(x, w, t):
        if mode == "fwd":
            with torch.no_grad():
                return TF.linear_cross_entropy(x, w, t, options=opts)
        x = x.detach().requires_grad_(True)
        w = w.detach().requires_grad_(True)
        loss = TF.linear_cross_entropy(x, w, t, options=opts)
        gx, gw = torch.autograd.grad(loss, (x, w))
        return loss, gx, gw

    return run


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_hwm():
    # Linux: writing 5 to clear_refs resets the peak-RSS mark (VmHWM). (Not
    # ru_maxrss: that one carries the parent's RSS over fork + exec.)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _child(provider, size):
    """One forward+backward in this fresh process; print the RSS high-water
    mark above the inputs (and MLX's own peak for MLX providers)."""
    n, d, v = SIZES[size]
    out = {"provider": provider, "size": size}
    if provider.startswith("torch"):
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
        x, w, t = _torch_inputs(n, d, v)
        step = _torch_step(provider, "fwd+bwd")
        base = _status_kib("VmRSS")
        _reset_hwm()
        t0 = time.perf_counter()
        step(x, w, t)
        out["seconds"] = time.perf_counter() - t0
    else:
        import mlx.core as mx

        x, w, t = _mlx_inputs(n, d, v)
        step = _mlx_step(provider, "fwd+bwd")
        mx.synchronize()
        base = _status_kib("VmRSS")
        _reset_hwm()
        active = mx.get_active_memory()
        mx.reset_peak_memory()
        t0 = time.perf_counter()
        mx.eval(step(x, w, t))
        out["seconds"] = time.perf_counter() - t0
        out["mx_peak_above_inputs"] = mx.get_peak_memory() - active
    out["rss_peak_above_inputs"] = (_status_kib("VmHWM") - base) * 1024
    print(json.dumps(out))


def _cold_child(size, reps):
    """In this fresh process (and kernel cache): the first compiled training
    step of the chunked path, then ``reps`` warm ones."""
    import mlx.core as mx

    from mlx_losses import LinearCrossEntropyOptions
    from mlx_losses.functional import linear_cross_entropy

    n, d, v = SIZES[size]
    x, w, t = _mlx_inputs(n, d, v)
    opts = LinearCrossEntropyOptions()
    step = mx.compile(mx.value_and_grad(
        lambda x, w: linear_cross_entropy(x, w, t, options=opts), argnums=(0, 1)))
    cache = os.path.join(os.environ["TMPDIR"], "mlx")

    def kernels():
        return sum(len([f for f in fs if f.endswith(".cpp")]) for _, _, fs in os.walk(cache))

    times = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        mx.eval(step(x, w))
        times.append(time.perf_counter() - t0)
        if len(times) == 1:
            built = kernels()
    print(json.dumps({"cold": times[0], "warm": times[1:], "kernels": built}))


def _versions():
    import mlx.core as mx

    try:
        import torch

        tv = torch.__version__
    except ImportError:  # pragma: no cover
        tv = "-"
    return f"mlx {mx.__version__}; torch {tv}; python {platform.python_version()}"


def _q(values, q):
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="quarter")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--providers", default=",".join(PROVIDERS))
    ap.add_argument("--modes", default="fwd+bwd,fwd")
    ap.add_argument("--no-time", action="store_true", help="memory only")
    ap.add_argument("--no-rss", action="store_true", help="skip the subprocess RSS runs")
    ap.add_argument("--rss-only", action="store_true", help="only the subprocess RSS runs")
    ap.add_argument("--rss-providers", default=None,
                    help="providers for the RSS runs (default: --providers)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--cold", action="store_true",
                    help="the first compiled training step with a fresh kernel cache")
    ap.add_argument("--child", nargs=2, metavar=("PROVIDER", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--cold-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    if args.cold_child:
        _cold_child(args.cold_child, args.reps)
        return
    if args.cold:
        _cold(args)
        return

    import mlx.core as mx

    n, d, v = SIZES[args.size]
    size = f"N={n},D={d},V={v},float32"
    device = f"{mx.default_device()} ({platform.machine()}, {os.cpu_count()} cpus)"
    versions = _versions()
    providers = args.providers.split(",")
    modes = args.modes.split(",")
    rows = []

    def row(provider, mode, metric, unit, vals):
        rows.append(dict(loss="linear_cross_entropy", provider=provider, mode=mode, metric=metric,
                         unit=unit, size=size, p50=statistics.median(vals), p20=_q(vals, 0.2),
                         p80=_q(vals, 0.8), device=device, versions=versions))

    # in-process: MLX peak memory and interleaved times
    mlx_x = _mlx_inputs(n, d, v)
    torch_x = _torch_inputs(n, d, v) if any(p.startswith("torch") for p in providers) else None
    if any(p.startswith("torch") for p in providers):
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    if args.rss_only:
        providers, modes = [], ["fwd+bwd"]
    times = {(p, m): [] for p in providers for m in modes}
    peaks = {(p, m): [] for p in providers for m in modes if not p.startswith("torch")}
    steps = {}
    for p in providers:
        for m in modes:
            steps[p, m] = _torch_step(p, m) if p.startswith("torch") else _mlx_step(p, m)
    reps = 0 if args.no_time else args.reps
    for rep in range(max(reps, 1) if providers else 0):
        for m in modes:
            for p in providers:
                if p.startswith("torch"):
                    if args.no_time:
                        continue
                    t0 = time.perf_counter()
                    steps[p, m](*torch_x)
                    times[p, m].append(time.perf_counter() - t0)
                    continue
                mx.synchronize()
                active = mx.get_active_memory()
                mx.reset_peak_memory()
                t0 = time.perf_counter()
                mx.eval(steps[p, m](*mlx_x))
                dt = time.perf_counter() - t0
                peaks[p, m].append(mx.get_peak_memory() - active)
                if not args.no_time:
                    times[p, m].append(dt)
                print(f"# rep {rep} {m} {p}: {dt:.3f}s peak {(mx.get_peak_memory() - active) / 2**20:.1f} MiB",
                      file=sys.stderr, flush=True)
    for (p, m), vals in times.items():
        if vals:
            row(p, m, "time", "s", vals)
    for (p, m), vals in peaks.items():
        row(p, m, "peak_mem", "MiB", [b / 2**20 for b in vals])

    # subprocess: RSS high-water marks, comparable across MLX and torch
    if not args.no_rss and "fwd+bwd" in modes:
        for p in (args.rss_providers or args.providers).split(","):
            res = subprocess.run([sys.executable, __file__, "--child", p, args.size],
                                 capture_output=True, text=True, check=True)
            out = json.loads(res.stdout.strip().splitlines()[-1])
            row(p, "fwd+bwd", "peak_rss", "MiB", [out["rss_peak_above_inputs"] / 2**20])

    keys = ["loss", "provider", "mode", "metric", "unit", "size", "p50", "p20", "p80", "device", "versions"]
    print(",".join(keys))
    for r in rows:
        print(",".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)

    # the ratios the issue asks for (medians; interleaved repetitions)
    def get(p, m, metric):
        for r in rows:
            if (r["provider"], r["mode"], r["metric"]) == (p, m, metric):
                return r["p50"]
        return None

    print()
    for m in modes:
        # medians of per-repetition ratios (providers interleaved within a
        # repetition, so a burst of contention hits both sides of a ratio)
        c, r = times.get(("mlx_losses-chunked", m)), times.get(("mlx_losses-reference", m))
        if c and r:
            ratios = [a / b for a, b in zip(c, r)]
            print(f"time chunked / reference ({m}): median {statistics.median(ratios):.3f} "
                  f"(p20 {_q(ratios, 0.2):.3f}, p80 {_q(ratios, 0.8):.3f}, "
                  f"{len(ratios)} interleaved reps)")
        for other in ("mlx_losses-reference", "naive"):
            c, r = get("mlx_losses-chunked", m, "peak_mem"), get(other, m, "peak_mem")
            if c and r:
                print(f"peak_mem chunked / {other} ({m}): {c / r:.3f}")
    for other in ("torch-chunked", "torch-reference", "mlx_losses-reference"):
        c, t = get("mlx_losses-chunked", "fwd+bwd", "peak_rss"), get(other, "fwd+bwd", "peak_rss")
        if c and t:
            print(f"peak_rss chunked / {other} (fwd+bwd): {c / t:.3f}")
    if hasattr(os, "getloadavg"):
        print("load average at the end (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())


def _cold(args):
    import tempfile

    import mlx.core as mx

    n, d, v = SIZES[args.size]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        res = subprocess.run([sys.executable, __file__, "--cold-child", args.size,
                              "--reps", str(max(args.reps, 1))],
                             env=env, capture_output=True, text=True, check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    warm = statistics.median(out["warm"])
    size = f"N={n},D={d},V={v},float32"
    device = f"{mx.default_device()} ({platform.machine()}, {os.cpu_count()} cpus)"
    rows = [
        dict(metric="cold_step", unit="s", vals=[out["cold"]]),
        dict(metric="warm_step", unit="s", vals=out["warm"]),
        dict(metric="kernels_built", unit="1", vals=[out["kernels"]]),
    ]
    keys = ["loss", "provider", "mode", "metric", "unit", "size", "p50", "p20", "p80", "device",
            "versions"]
    full = []
    for r in rows:
        vals = r.pop("vals")
        full.append(dict(loss="linear_cross_entropy", provider="mlx_losses-chunked",
                         mode="fwd+bwd-compiled", size=size, p50=statistics.median(vals),
                         p20=_q(vals, 0.2), p80=_q(vals, 0.8), device=device,
                         versions=_versions(), **r))
    print(",".join(keys))
    for r in full:
        print(",".join(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print(f"\ncold / warm step: {out['cold'] / warm:.2f} ({out['kernels']} kernels built)")
    if hasattr(os, "getloadavg"):
        print("load average at the end (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
