"""The benchmark harness: providers x modes x dtypes for each setup.

Method (STYLE.md 15):

- Providers are timed *interleaved*: each repetition runs every provider
  once, in an order rotated from one repetition to the next, so a burst of
  load from elsewhere hits all of them alike. Ratios are taken per
  repetition (``t_ours[r] / t_torch[r]``) and their median and p20/p80 are
  reported, which is robust on a shared, noisy machine.
- MLX is lazy: ``mx.eval`` is inside the timed region.
- Modes: ``fwd`` (the loss value), ``bwd`` (only the gradient: the forward
  is evaluated untimed first; in torch ``autograd.grad(retain_graph=True)``
  on a forward done untimed; in MLX ``mx.vjp``'s forward output is evaluated
  untimed, then its gradients are timed: MLX keeps the evaluated
  intermediates the backward needs), ``fwd+bwd`` (``mx.value_and_grad`` /
  forward + ``autograd.grad``). torch's forward runs with grad enabled in
  every mode, as in training. Opt-in ``fwd+bwd-compiled``: the MLX
  providers' ``mx.value_and_grad`` wrapped in ``mx.compile``, as a compiled
  training step runs it (under an eager ``mx.value_and_grad`` MLX does not
  fuse compiled kernels); torch runs its eager fwd+bwd.
- Peak memory: ``mx.reset_peak_memory()`` right before one timed step of a
  provider/mode, then ``mx.get_peak_memory()`` minus the memory already live
  (inputs, and for ``bwd`` the saved forward), in MiB. MLX providers only.
- Accuracy: each provider's ``fwd`` value in the benchmark dtype, against
  torch in float64 on the same (dtype-rounded) input values: relative error
  ``max|v - ref| / max|ref|``.

Rows are long-format dicts: loss, provider, mode, dtype, metric, unit, size,
shape, p50, p20, p80, reps, device, versions.
"""

from __future__ import annotations

import gc
import json
import math
import platform
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .setups import Setup, get_setups

__all__ = [
    "PROVIDERS",
    "MODES",
    "ALL_MODES",
    "DTYPES",
    "Config",
    "environment",
    "run",
    "bench_setup",
    "to_markdown",
    "write_json",
]

PROVIDERS = ("mlx_losses", "mlx.nn.losses", "naive", "torch")
MODES = ("fwd", "bwd", "fwd+bwd")
ALL_MODES = MODES + ("fwd+bwd-compiled",)
DTYPES = ("float32", "bfloat16")
_MLX_PROVIDERS = ("mlx_losses", "mlx.nn.losses", "naive")
_MIB = float(1 << 20)


@dataclass
class Config:
    losses: Sequence[str] = ()
    dtypes: Sequence[str] = DTYPES
    modes: Sequence[str] = MODES
    providers: Sequence[str] = PROVIDERS
    reps: int = 7
    quick: bool = False
    size: Optional[int] = None  # overrides every setup's element count
    min_sample_s: float = 2e-3  # a sample repeats the step until this long
    accuracy: bool = True
    memory: bool = True
    seed: int = 0
    log: Callable[[str], None] = print
    notes: List[str] = field(default_factory=list)


# ---------------------------------------------------------------- environment
def environment() -> Dict[str, object]:
    import mlx.core as mx

    import mlx_losses

    try:
        import torch
    except ImportError:  # MLX-only runs: --providers mlx_losses,mlx.nn.losses,naive
        torch = None

    info = {}
    try:
        info = dict(mx.device_info())
    except Exception:  # older MLX
        pass
    device = f"{mx.default_device()}"
    cpu = info.get("device_name") or platform.processor() or platform.machine()
    return {
        "device": f"{device} ({cpu}, {platform.system()} {platform.machine()})",
        "versions": {
            "mlx": mx.__version__,
            "torch": torch.__version__ if torch else None,
            "mlx_losses": mlx_losses.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "torch_threads": torch.get_num_threads() if torch else None,
        },
    }


# ---------------------------------------------------------------- providers
def _mx_dtype(name):
    import mlx.core as mx

    return getattr(mx, name)


def _torch_dtype(name):
    import torch

    return getattr(torch, name)


def _to_mx(arrays, kinds, dtype):
    import mlx.core as mx

    out = []
    for a, k in zip(arrays, kinds):
        out.append(mx.array(a).astype(_mx_dtype(dtype)) if k in "fc" else mx.array(a.astype(np.int32)))
    mx.eval(out)
    return out


def _to_torch(arrays, kinds, dtype):
    import torch

    out = []
    for a, k in zip(arrays, kinds):
        if k in "fc":
            t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
            if dtype == "float64":
                t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
            else:
                t = t.to(_torch_dtype(dtype))
            out.append(t.requires_grad_(k == "f"))
        else:
            out.append(torch.from_numpy(a.astype(np.int64)))
    return out


def _mlx_fns(setup: Setup, providers):
    """{provider: fn(*mx arrays)} for the MLX providers present, and notes."""
    fns, notes = {}, []
    if "mlx_losses" in providers:
        import mlx_losses.functional as F

        if hasattr(F, setup.loss):
            fns["mlx_losses"] = lambda *a: setup.ours(F, *a)
        else:
            notes.append(f"{setup.loss}: mlx_losses.functional.{setup.loss} not present yet; skipped")
    if "mlx.nn.losses" in providers and setup.mlx_nn is not None:
        import mlx.nn.losses as L

        fns["mlx.nn.losses"] = lambda *a: setup.mlx_nn(L, *a)
    if "naive" in providers and setup.naive is not None:
        fns["naive"] = setup.naive
    return fns, notes


class _Step:
    """One provider in one mode: ``prep()`` untimed, then ``run(state)`` timed."""

    def __init__(self, prep, run):
        self.prep = prep
        self.run = run


def _mlx_step(fn, arrays, kinds, mode) -> _Step:
    import mlx.core as mx

    diff_idx = [i for i, k in enumerate(kinds) if k == "f"]

    def g(*diff):
        full = list(arrays)
        for i, d in zip(diff_idx, diff):
            full[i] = d
        return fn(*full)

    diff = [arrays[i] for i in diff_idx]
    if mode == "fwd":
        return _Step(lambda: None, lambda s: mx.eval(fn(*arrays)))
    if mode in ("fwd+bwd", "fwd+bwd-compiled"):
        vg = mx.value_and_grad(g, argnums=list(range(len(diff))))
        if mode == "fwd+bwd-compiled":
            vg = mx.compile(vg)
        return _Step(lambda: None, lambda s: mx.eval(vg(*diff)))

    def prep():
        out = g(*diff)
        cot = mx.ones(out.shape, dtype=out.dtype)
        outs, grads = mx.vjp(g, diff, [cot])
        mx.eval(outs)
        return grads

    return _Step(prep, lambda grads: mx.eval(grads))


def _torch_step(fn, tensors, kinds, mode) -> _Step:
    import torch

    diff = [t for t, k in zip(tensors, kinds) if k == "f"]
    if mode == "fwd":
        return _Step(lambda: None, lambda s: fn(*tensors))
    if mode in ("fwd+bwd", "fwd+bwd-compiled"):
        return _Step(lambda: None, lambda s: torch.autograd.grad(fn(*tensors), diff))
    return _Step(lambda: fn(*tensors), lambda out: torch.autograd.grad(out, diff, retain_graph=True))


def _sample(step: _Step, iters: int) -> float:
    """Seconds per step, averaged over ``iters`` steps (prep untimed)."""
    total = 0.0
    for _ in range(iters):
        state = step.prep()
        t0 = time.perf_counter()
        step.run(state)
        total += time.perf_counter() - t0
        del state
    return total / iters


def _quantiles(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    return tuple(float(np.percentile(v, q)) for q in (50, 20, 80))


def _peak_mib(step: _Step) -> float:
    import mlx.core as mx

    gc.collect()
    state = step.prep()
    mx.synchronize()
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    step.run(state)
    peak = mx.get_peak_memory()
    del state
    return max(0.0, (peak - base) / _MIB)


def _value64(x) -> np.ndarray:
    import mlx.core as mx

    if isinstance(x, mx.array):
        return np.array(x.astype(mx.float32) if x.dtype != mx.float64 else x, dtype=np.float64)
    return x.detach().to(dtype=_torch_dtype("float64")).numpy()


def _rel_error(v: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if not np.all(np.isfinite(v)):
        return float("inf")
    err = float(np.max(np.abs(v - ref))) if ref.size else 0.0
    return err / scale if scale > 0 else err


# ---------------------------------------------------------------- one setup
def bench_setup(setup: Setup, cfg: Config, env) -> List[dict]:
    import mlx.core as mx

    tF = None
    if "torch" in cfg.providers or cfg.accuracy:
        import torch.nn.functional as tF

    log = cfg.log
    fns, notes = _mlx_fns(setup, cfg.providers)
    for n in notes:
        log("  note: " + n)
        cfg.notes.append(n)
    if "mlx_losses" in cfg.providers and "mlx_losses" not in fns:
        return []  # nothing of ours to compare yet
    n = cfg.size or (setup.quick_size if cfg.quick else setup.default_size)
    rng = np.random.default_rng(cfg.seed)
    arrays = setup.make(rng, n)
    size = int(arrays[0].size)
    shape = "x".join(str(d) for d in arrays[0].shape)
    base = dict(loss=setup.loss, size=size, shape=shape, device=env["device"], versions=env["versions"])
    rows: List[dict] = []

    def row(provider, mode, dtype, metric, unit, q, reps):
        rows.append(dict(base, provider=provider, mode=mode, dtype=dtype, metric=metric, unit=unit,
                         p50=q[0], p20=q[1], p80=q[2], reps=reps))

    for dtype in cfg.dtypes:
        if dtype != "float32" and not setup.half:
            continue
        xs = _to_mx(arrays, setup.kinds, dtype)
        ts = _to_torch(arrays, setup.kinds, dtype) if tF is not None else None
        providers = {p: (lambda f=f: (lambda m: _mlx_step(f, xs, setup.kinds, m))) for p, f in fns.items()}
        if "torch" in cfg.providers:
            tfn = lambda *a: setup.torch(tF, *a)  # noqa: E731
            providers["torch"] = lambda: (lambda m: _torch_step(tfn, ts, setup.kinds, m))
        # Accuracy first: it also warms up every provider's forward.
        values = {}
        for p, mk in list(providers.items()):
            try:
                if p == "torch":
                    values[p] = _value64(setup.torch(tF, *ts))
                elif cfg.accuracy:
                    values[p] = _value64(fns[p](*xs))
            except Exception as e:  # a provider that cannot run this dtype
                msg = f"{setup.loss} [{dtype}] {p}: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
                log("  note: " + msg)
                cfg.notes.append(msg)
                del providers[p]
        if cfg.accuracy and values and tF is not None:
            try:
                ref = _value64(setup.torch(tF, *_to_torch(
                    [_value64(x) if k in "fc" else a for x, a, k in zip(xs, arrays, setup.kinds)],
                    setup.kinds, "float64")))
                for p, v in values.items():
                    e = _rel_error(v, ref)
                    row(p, "fwd", dtype, "rel_error_vs_torch_float64", "1", (e, e, e), 1)
            except Exception as e:
                log(f"  note: {setup.loss} [{dtype}] float64 reference failed: {e}")
        for mode in cfg.modes:
            steps = {}
            for p, mk in providers.items():
                try:
                    st = mk()(mode)
                    st.run(st.prep())  # warm-up (compiles, JIT caches)
                    t1 = _sample(st, 1)
                    steps[p] = (st, max(1, min(50, math.ceil(cfg.min_sample_s / max(t1, 1e-7)))))
                except Exception as e:
                    msg = f"{setup.loss} [{dtype}, {mode}] {p}: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
                    log("  note: " + msg)
                    cfg.notes.append(msg)
            if not steps:
                continue
            order = list(steps)
            times = {p: [] for p in order}
            for r in range(cfg.reps):
                k = r % len(order)
                for p in order[k:] + order[:k]:
                    st, iters = steps[p]
                    times[p].append(_sample(st, iters))
            for p, ts_ in times.items():
                row(p, mode, dtype, "time", "ms", _quantiles(np.array(ts_) * 1e3), cfg.reps)
            if "torch" in times:
                for p in order:
                    if p != "torch":
                        ratio = np.array(times[p]) / np.array(times["torch"])
                        row(p, mode, dtype, "time_ratio_vs_torch", "x", _quantiles(ratio), cfg.reps)
            others = [p for p in ("mlx.nn.losses", "naive") if p in times]
            if "mlx_losses" in times and others:
                best = np.min(np.array([times[p] for p in others]), axis=0)
                ratio = np.array(times["mlx_losses"]) / best
                row("mlx_losses", mode, dtype, "time_ratio_vs_best_mlx", "x", _quantiles(ratio), cfg.reps)
            if cfg.memory:
                for p in order:
                    if p in _MLX_PROVIDERS:
                        m = _peak_mib(steps[p][0])
                        row(p, mode, dtype, "peak_memory", "MiB", (m, m, m), 1)
            summary = "  ".join(
                f"{p}={np.median(times[p]) * 1e3:.2f}ms" for p in order
            )
            log(f"  {setup.loss:<34} {dtype:<8} {mode:<7} {summary}")
        del xs, ts, providers
        gc.collect()
        mx.clear_cache()
    return rows


def run(cfg: Config) -> List[dict]:
    env = environment()
    cfg.log(f"device: {env['device']}; versions: {env['versions']}")
    rows: List[dict] = []
    for setup in get_setups(cfg.losses):
        rows.extend(bench_setup(setup, cfg, env))
    return rows


# ---------------------------------------------------------------- output
def write_json(rows: List[dict], path: str) -> None:
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")


def _fmt(v, digits=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}"


def _fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r['p50']:.2f} ({r['p20']:.2f}-{r['p80']:.2f})"


def to_markdown(rows: List[dict], notes: Sequence[str] = ()) -> str:
    """Times (ms, median) per provider; our ratio to torch and to the faster of
    mlx.nn.losses / naive (median of per-repetition ratios, p20-p80); peak
    memory (MiB above the live inputs); relative error vs torch float64."""
    idx = {}
    for r in rows:
        idx[(r["loss"], r["dtype"], r["mode"], r["provider"], r["metric"])] = r
    keys = []
    for r in rows:
        k = (r["loss"], r["dtype"], r["mode"])
        if r["metric"] == "time" and k not in keys:
            keys.append(k)
    lines = []
    if rows:
        lines.append(f"Device: {rows[0]['device']}. Versions: "
                     + ", ".join(f"{k} {v}" for k, v in rows[0]["versions"].items()) + ".")
        lines.append("")
    lines.append("| loss | dtype | mode | size | mlx_losses ms | mlx.nn ms | naive ms | torch ms "
                 "| ours/torch | ours/best MLX | peak MiB ours / nn / naive |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for loss, dtype, mode in keys:
        def g(p, m):
            return idx.get((loss, dtype, mode, p, m))

        t = {p: g(p, "time") for p in PROVIDERS}
        size = next(r for r in (t[p] for p in PROVIDERS) if r is not None)["shape"]
        mem = " / ".join(_fmt(g(p, "peak_memory")["p50"], 1) if g(p, "peak_memory") else "-"
                         for p in _MLX_PROVIDERS)
        lines.append(
            f"| {loss} | {dtype} | {mode} | {size} | "
            + " | ".join(_fmt(t[p]["p50"]) if t[p] else "-" for p in PROVIDERS)
            + f" | {_fmt_ratio(g('mlx_losses', 'time_ratio_vs_torch'))}"
            + f" | {_fmt_ratio(g('mlx_losses', 'time_ratio_vs_best_mlx'))} | {mem} |"
        )
    acc = [r for r in rows if r["metric"] == "rel_error_vs_torch_float64"]
    if acc:
        lines += ["", "Relative error of the forward value vs torch float64 on the same values:", "",
                  "| loss | dtype | " + " | ".join(PROVIDERS) + " |",
                  "|---|---|" + "---|" * len(PROVIDERS)]
        seen = []
        for r in acc:
            if (r["loss"], r["dtype"]) not in seen:
                seen.append((r["loss"], r["dtype"]))
        for loss, dtype in seen:
            cells = []
            for p in PROVIDERS:
                r = idx.get((loss, dtype, "fwd", p, "rel_error_vs_torch_float64"))
                cells.append(f"{r['p50']:.1e}" if r else "-")
            lines.append(f"| {loss} | {dtype} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
