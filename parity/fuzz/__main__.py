"""``python -m parity.fuzz``: explore without stopping at the first failure.

    python -m parity.fuzz --losses multilabel_margin_loss --modes eager,compile -n 300
    python -m parity.fuzz --seed 7 -n 2000 --show-open

Draws ``-n`` examples per (loss, mode) (no shrinking), groups the failures by
their message with the numbers taken out, and prints each group's count and
its first repro. Failures a ``known_open`` entry covers are counted apart.
Exit status 1 if any failure is not covered.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import OrderedDict

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from .families import all_losses
from .profile import MODES
from .runner import draw_example, judge, second_example

_NUM = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?|nan|inf|\([\d, ]*\)")
_TAIL = re.compile(r"(; (torch|ours) returns|: element|: ours|, torch float64|, ours ).*", re.S)


def _key(message: str) -> str:
    """A failure's group: its message without the values."""
    return _NUM.sub("#", _TAIL.sub("", message))[:160]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m parity.fuzz")
    ap.add_argument("--losses", default="", help="comma-separated functional names (default: all)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("-n", type=int, default=200, help="examples per (loss, mode)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--brief", action="store_true", help="no repros")
    ap.add_argument("--repro-dir", default="", help="write each group's repro to DIR/<n>.py")
    ap.add_argument("--trace", action="store_true",
                    help="print each example's repro to stderr before it runs (to find a crash)")
    ap.add_argument("--show-open", action="store_true", help="also print covered failures")
    a = ap.parse_args(argv)
    losses = all_losses()
    names = [s for s in a.losses.split(",") if s] or list(losses)
    modes = [m for m in a.modes.split(",") if m]
    groups: "OrderedDict[tuple, list]" = OrderedDict()
    t0 = time.time()
    for name in names:
        loss = losses[name]
        for mode in modes:
            if mode == "module" and loss.module is None:
                continue
            t1 = time.time()

            @settings(max_examples=a.n, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), phases=(Phase.generate,))
            @seed(a.seed)
            @given(data=st.data())
            def explore(data):
                ex = draw_example(data.draw, loss, mode)
                if a.trace:
                    print(f"--- {name} [{mode}]\n{ex.repro(mode)}", file=sys.stderr, flush=True)
                v, pair = judge(ex, mode)
                if mode == "shapeless" and v.ok:
                    ex2 = second_example(data.draw, loss, ex)
                    if ex2 is not None:
                        if a.trace:
                            print(f"--- second call\n{ex2.repro(mode)}", file=sys.stderr, flush=True)
                        v, _ = judge(ex2, mode, compiled=pair)
                        ex = ex2
                if not v.ok:
                    key = (name, mode, v.open, _key(v.message))
                    groups.setdefault(key, []).append((v.message, v.repro))

            try:
                explore()
            except Exception as err:  # a crash of the runner itself
                groups.setdefault((name, mode, None, f"runner: {err!r}"[:160]), []).append((str(err), ""))
            print(f"{name} [{mode}]: {time.time() - t1:.1f}s", file=sys.stderr)
    bad = 0
    for (name, mode, fid, key), hits in groups.items():
        if fid is not None and not a.show_open:
            continue
        bad += fid is None
        tag = f"known open {fid}" if fid else "FAIL"
        print(f"\n=== {tag}: {name} [{mode}] x{len(hits)}: {hits[0][0]}")
        if a.repro_dir:
            import os

            os.makedirs(a.repro_dir, exist_ok=True)
            path = os.path.join(a.repro_dir, f"{name}-{mode}-{bad if fid is None else fid}.py")
            with open(path, "w") as fh:
                fh.write(f"# {hits[0][0]}\nimport sys; sys.path.insert(0, {os.getcwd()!r})\n"
                         f"{hits[0][1]}\n")
            print(f"    repro: {path}")
        elif not a.brief:
            print(hits[0][1])
    n_open = sum(len(h) for k, h in groups.items() if k[2] is not None)
    print(f"\n{bad} failure group(s), {n_open} covered by known-open findings; "
          f"{time.time() - t0:.0f}s", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
