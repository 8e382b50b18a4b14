"""CTC loss: mlx_losses (eager and under mx.compile) against torch on the CPU.

    python -m benchmarks.bench_ctc [--reps 5] [--json rows.json] [--sizes small,large]
                                   [--torch-threads N]

Sizes (issue 4): T=200, N=16, C=32, S=50 and T=1000, N=16, C=32, S=100;
input lengths T, target lengths drawn in [S/2, S]; float32; 'mean'.
Modes: ``fwd`` (the loss) and ``fwd+bwd`` (loss and gradient w.r.t.
``log_probs`` in the same run: ``mx.value_and_grad`` / forward +
``torch.autograd.grad``). Providers: ``mlx_losses`` (eager),
``mlx_losses+compile`` (the same function under ``mx.compile``, as an MLX
training step usually runs) and ``torch`` (``torch.nn.functional.ctc_loss``
at torch's default thread count, or ``--torch-threads N``; the count is in
every row, ``versions.torch_threads``, and in the table's title). MLX's CPU
backend runs each operation on one thread. Repetitions are interleaved (each runs
every provider once, in a rotating order) and ratios are medians of the
per-repetition ratios to torch, which is robust on a shared machine. Peak
memory: ``mx.get_peak_memory()`` over one step, minus what was live before.
Not a test: speed is never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Callable, Dict, List

import numpy as np

SIZES = {
    "small": dict(T=200, N=16, C=32, S=50),
    "large": dict(T=1000, N=16, C=32, S=100),
}
PROVIDERS = ("mlx_losses", "mlx_losses+compile", "torch")
MODES = ("fwd", "fwd+bwd")


def make(T, N, C, S, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((T, N, C)).astype(np.float32)
    lp = z - z.max(-1, keepdims=True)
    lp = (lp - np.log(np.exp(lp).sum(-1, keepdims=True))).astype(np.float32)
    targets = rng.integers(1, C, size=(N, S)).astype(np.int32)
    il = np.full((N,), T, dtype=np.int32)
    tl = rng.integers(S // 2, S + 1, size=(N,)).astype(np.int32)
    return lp, targets, il, tl


def steps(arrays) -> Dict[str, Dict[str, Callable[[], None]]]:
    """{provider: {mode: step()}} on the same numbers."""
    import mlx.core as mx
    import torch

    from mlx_losses.functional import ctc_loss

    lp, targets, il, tl = arrays
    m_lp, m_tg, m_il, m_tl = (mx.array(a) for a in arrays)
    t_lp = torch.from_numpy(lp).requires_grad_(True)
    t_tg, t_il, t_tl = (torch.from_numpy(a.astype(np.int64)) for a in (targets, il, tl))

    def loss(x):
        return ctc_loss(x, m_tg, m_il, m_tl)

    vg = mx.value_and_grad(loss)
    c_loss, c_vg = mx.compile(loss), mx.compile(vg)

    def t_fwd():
        with torch.no_grad():
            torch.nn.functional.ctc_loss(t_lp, t_tg, t_il, t_tl)

    def t_fwd_bwd():
        out = torch.nn.functional.ctc_loss(t_lp, t_tg, t_il, t_tl)
        torch.autograd.grad(out, t_lp)

    return {
        "mlx_losses": {"fwd": lambda: mx.eval(loss(m_lp)), "fwd+bwd": lambda: mx.eval(vg(m_lp))},
        "mlx_losses+compile": {"fwd": lambda: mx.eval(c_loss(m_lp)), "fwd+bwd": lambda: mx.eval(c_vg(m_lp))},
        "torch": {"fwd": t_fwd, "fwd+bwd": t_fwd_bwd},
    }


def peak_mib(step: Callable[[], None]) -> float:
    import mlx.core as mx

    mx.synchronize()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    step()
    mx.synchronize()
    return (mx.get_peak_memory() - before) / float(1 << 20)


def environment() -> Dict[str, object]:
    import mlx.core as mx
    import torch

    import mlx_losses

    return {
        "device": f"{mx.default_device()} ({platform.processor() or platform.machine()}, {platform.system()})",
        "versions": {
            "mlx": mx.__version__,
            "torch": torch.__version__,
            "mlx_losses": mlx_losses.__version__,
            "torch_threads": torch.get_num_threads(),
        },
    }


def run(sizes: List[str], reps: int, modes=MODES, log=print) -> List[dict]:
    env = environment()
    rows: List[dict] = []
    for size in sizes:
        dims = SIZES[size]
        label = "T={T},N={N},C={C},S={S}".format(**dims)
        fns = steps(make(**dims))
        for mode in modes:
            for prov in PROVIDERS:  # warm-up (compiles, caches)
                fns[prov][mode]()
            times = {p: [] for p in PROVIDERS}
            for r in range(reps):
                order = PROVIDERS[r % len(PROVIDERS):] + PROVIDERS[:r % len(PROVIDERS)]
                for prov in order:
                    t0 = time.perf_counter()
                    fns[prov][mode]()
                    times[prov].append(time.perf_counter() - t0)
            base = np.array(times["torch"])
            for prov in PROVIDERS:
                t = np.array(times[prov]) * 1e3
                p20, p50, p80 = np.percentile(t, [20, 50, 80])
                common = dict(loss="ctc_loss", provider=prov, mode=mode, size=label,
                              device=env["device"], versions=env["versions"], reps=reps)
                rows.append({**common, "metric": "time", "unit": "ms", "p50": p50, "p20": p20, "p80": p80})
                ratio = np.array(times[prov]) / base
                r20, r50, r80 = np.percentile(ratio, [20, 50, 80])
                rows.append({**common, "metric": "ratio_to_torch", "unit": "x",
                             "p50": r50, "p20": r20, "p80": r80})
                if prov != "torch":
                    mem = peak_mib(fns[prov][mode])
                    rows.append({**common, "metric": "peak_memory", "unit": "MiB",
                                 "p50": mem, "p20": mem, "p80": mem})
            log(f"done {label} {mode}")
    return rows


def to_markdown(rows: List[dict]) -> str:
    out = ["| size | mode | provider | time p50 (p20-p80) ms | ratio to torch p50 (p20-p80) | peak MiB |",
           "|---|---|---|---|---|---|"]
    key = lambda r: (r["size"], r["mode"], r["provider"])  # noqa: E731
    by: Dict[tuple, Dict[str, dict]] = {}
    for r in rows:
        by.setdefault(key(r), {})[r["metric"]] = r
    for (size, mode, prov), m in by.items():
        t, q = m["time"], m["ratio_to_torch"]
        mem = f"{m['peak_memory']['p50']:.1f}" if "peak_memory" in m else "-"
        out.append(f"| {size} | {mode} | {prov} | {t['p50']:.1f} ({t['p20']:.1f}-{t['p80']:.1f}) | "
                   f"{q['p50']:.2f} ({q['p20']:.2f}-{q['p80']:.2f}) | {mem} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="small,large")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--torch-threads", type=int, metavar="N",
                    help="torch.set_num_threads(N) before timing (default: torch's default)")
    a = ap.parse_args(argv)
    if a.torch_threads:
        import torch

        torch.set_num_threads(a.torch_threads)
    rows = run([s for s in a.sizes.split(",") if s], a.reps, [m for m in a.modes.split(",") if m])
    env = environment()
    print(f"ctc_loss on {env['device']}; torch threads: {env['versions']['torch_threads']}\n")
    print(to_markdown(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
