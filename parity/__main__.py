"""``python -m parity``: every case table against live torch, and a report.

    python -m parity                                   # everything
    python -m parity --losses cross_entropy,CTCLoss    # functional or Module names
    python -m parity --dtypes float32,bfloat16 -k ignore_index
    python -m parity --markdown parity/REPORT.md --json parity.json
    python -m parity --format markdown > summary.md    # e.g. $GITHUB_STEP_SUMMARY
    python -m parity --branches gpu                    # a GPU's code paths, on any device

Run it from the repository root (``parity`` is not installed with the package;
from elsewhere: ``PYTHONPATH=/path/to/mlx-losses python -m parity``).
Progress goes to stderr (one line per loss), the summary to stdout. The exit
status is 1 if any case fails, 2 for a bad option, 130 when interrupted
(Ctrl-C or SIGTERM, e.g. a CI timeout: the reports of what ran are still
printed and written), 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mlx_losses._device import _forced_branches, forced
from mlx_losses._from_torch import TORCH_LOSSES
from mlx_losses.testing import DTYPES

from . import report as R
from .runner import (
    GPU_DTYPES,
    ErrorCase,
    Result,
    Variant,
    all_variants,
    load_tables,
    run_error_case,
    run_variant,
)


def _split(s: Optional[str]) -> List[str]:
    return [p.strip() for p in (s or "").split(",") if p.strip()]


def _aliases(variants: Sequence[Variant], errors: Sequence[ErrorCase]) -> Dict[str, str]:
    """Every accepted name (lower case) -> the functional name of the tables."""
    fns = {v.case.fn for v in variants} | {e.fn for e in errors}
    names: Dict[str, str] = {fn.lower(): fn for fn in fns}
    for cls, fn in TORCH_LOSSES.items():
        names.setdefault(cls.lower(), fn)
    for v in variants:
        if v.case.module:
            names.setdefault(v.case.module.lower(), v.case.fn)
    return names


def _select_losses(spec: str, variants, errors) -> Tuple[Optional[set], str]:
    wanted = _split(spec)
    if not wanted:
        return None, ""
    names = _aliases(variants, errors)
    chosen, bad = set(), []
    for w in wanted:
        fn = names.get(w.lower())
        if fn is None:
            close = difflib.get_close_matches(w.lower(), list(names), n=3)
            bad.append(f"{w!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        else:
            chosen.add(fn)
    if bad:
        return None, "unknown loss name(s): " + "; ".join(bad)
    return chosen, ""


def _progress(enabled: bool, tty: bool, text: str, final: bool) -> None:
    if not enabled:
        return
    if tty:
        sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
        sys.stderr.flush()
    elif final:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m parity",
        description="Run every parity case table against live PyTorch and print a report.",
    )
    p.add_argument("--losses", metavar="LIST", default="",
                   help="comma-separated losses: functional names (cross_entropy) or "
                        "Module class names (CTCLoss); default: all")
    p.add_argument("--dtypes", metavar="LIST", default="",
                   help=f"comma-separated dtypes out of {','.join(DTYPES)}; default: all")
    p.add_argument("-k", dest="keyword", metavar="TEXT", default="",
                   help="only ids containing TEXT (comma-separated: any of them)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="what goes to stdout (default: text)")
    p.add_argument("--markdown", metavar="FILE", help="write the full report as Markdown")
    p.add_argument("--json", metavar="FILE", help="write the full report (every result) as JSON")
    p.add_argument("--no-errors", action="store_true", help="skip the error cases")
    p.add_argument("--branches", choices=("device", "cpu", "gpu"), default=None,
                   help="which device branches the losses take: the device's (the default, "
                        "or $MLX_LOSSES_DEVICE_BRANCHES), or the CPU's or a GPU's on any "
                        "device; 'gpu' runs a GPU's dtypes only (no float64)")
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--list", action="store_true", help="list the losses and their case counts")
    args = p.parse_args(argv)

    variants = all_variants()
    errors = [] if args.no_errors else list(load_tables()[1])

    dtypes = _split(args.dtypes)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        p.error(f"--dtypes: unknown {', '.join(bad)}; choose from {', '.join(DTYPES)}")
    if args.branches == "gpu" or (args.branches is None and forced() == "gpu"):
        bad = [d for d in dtypes if d not in GPU_DTYPES]
        if bad:
            p.error(f"GPU branches: a GPU has no {', '.join(bad)}")
        dtypes = dtypes or list(GPU_DTYPES)
        errors = [e for e in errors if e.dtype in GPU_DTYPES]
    chosen, err = _select_losses(args.losses, variants, errors)
    if err:
        p.error(err)
    keys = _split(args.keyword)

    def keep(fn: str, rid: str, dtype: Optional[str]) -> bool:
        if chosen is not None and fn not in chosen:
            return False
        if dtype is not None and dtypes and dtype not in dtypes:
            return False
        return not keys or any(k in rid for k in keys)

    variants = [v for v in variants if keep(v.case.fn, v.id, v.dtype)]
    errors = [e for e in errors if keep(e.fn, f"{e.fn}-error-{e.name}", None)]

    order: List[str] = []
    for fn in [v.case.fn for v in variants] + [e.fn for e in errors]:
        if fn not in order:
            order.append(fn)

    if args.list:
        for fn in order:
            n = sum(v.case.fn == fn for v in variants)
            m = sum(e.fn == fn for e in errors)
            mods = sorted({v.case.module for v in variants if v.case.fn == fn and v.case.module})
            print(f"{fn:36s} {n:5d} variants {m:3d} error cases  {', '.join(mods)}")
        return 0
    if not variants and not errors:
        p.error("no case matches the selection")

    show = not args.quiet
    tty = sys.stderr.isatty()
    results: List[Result] = []
    start = time.perf_counter()
    interrupted = False

    def _on_term(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _on_term)
    except ValueError:  # not the main thread
        previous = None
    branches = (contextlib.nullcontext() if args.branches is None
                else _forced_branches(None if args.branches == "device" else args.branches))
    with branches:
        try:
            _run_all(order, variants, errors, results, args.exitfirst, show, tty)
        except KeyboardInterrupt:
            interrupted = True
            _progress(show, tty, f"interrupted after {len(results)} results", True)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        seconds = time.perf_counter() - start
        env = R.environment()  # says which device branches ran

    rows = R.summarize(results, order)
    if interrupted:
        env["note"] = f"interrupted: {len(results)} of {len(variants) + len(errors)} results"
    # the command that regenerates this report (selection + Markdown file)
    command = " ".join(
        ["python -m parity"]
        + [f"--losses {args.losses}"] * bool(args.losses)
        + [f"--dtypes {args.dtypes}"] * bool(args.dtypes)
        + [f"-k {args.keyword}"] * bool(args.keyword)
        + ["--no-errors"] * args.no_errors
        + [f"--branches {args.branches}"] * bool(args.branches)
        + [f"--markdown {args.markdown}"] * bool(args.markdown)
    )
    if args.format == "text":
        print(R.render_text(rows, results, seconds))
        print(f"Device branches: {env['device branches']}.")
        if interrupted:
            print(f"INTERRUPTED: {env['note']}")
    elif args.format == "markdown":
        print(R.render_markdown(rows, results, seconds, env, command))
    else:
        print(R.render_json(rows, results, seconds, env))
    if args.markdown:
        _write(args.markdown, R.render_markdown(rows, results, seconds, env, command))
    if args.json:
        _write(args.json, R.render_json(rows, results, seconds, env))
    if interrupted:
        return 130
    return 1 if any(not r.passed for r in results) else 0


def _run_all(order, variants, errors, results: List[Result], exitfirst: bool, show: bool, tty: bool) -> None:
    """Each loss's variants, then its error cases; appends to ``results``."""
    stop = False
    for i, fn in enumerate(order, 1):
        todo: List[object] = [v for v in variants if v.case.fn == fn]
        todo += [e for e in errors if e.fn == fn]
        t0 = time.perf_counter()
        nfail = 0
        label = f"[{i:2d}/{len(order)}] {fn}"
        for j, item in enumerate(todo, 1):
            t1 = time.perf_counter()
            if isinstance(item, Variant):
                res = run_variant(item)
            else:
                res = run_error_case(item)
                res.kind = "error"
            res.seconds = time.perf_counter() - t1
            results.append(res)
            nfail += not res.passed
            if tty and (j % 5 == 0 or j == len(todo)):
                _progress(show, tty, f"{label}: {j}/{len(todo)}" + (f", {nfail} failed" if nfail else ""), False)
            if exitfirst and not res.passed:
                stop = True
                break
        done = len([r for r in results if r.fn == fn])
        _progress(
            show, tty,
            f"{label}: {done - nfail}/{done} passed in {time.perf_counter() - t0:.1f} s"
            + (f"  ({nfail} FAILED)" if nfail else ""),
            True,
        )
        if stop:
            break


def _write(path: str, text: str) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
