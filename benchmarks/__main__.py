"""``python -m benchmarks``: time every loss, write JSON rows and a markdown table."""

from __future__ import annotations

import argparse
import sys
import time

from .harness import ALL_MODES, DTYPES, MODES, PROVIDERS, Config, run, to_markdown, write_json
from .setups import SETUPS


def _csv(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--losses", type=_csv, default=[],
                    help="comma-separated torch names (default: all): " + ", ".join(SETUPS))
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions")
    ap.add_argument("--json", metavar="FILE", help="write the long-format rows here")
    ap.add_argument("--markdown", metavar="FILE", help="write the markdown table here")
    ap.add_argument("--dtypes", type=_csv, default=list(DTYPES))
    ap.add_argument("--modes", type=_csv, default=list(MODES),
                    help=f"comma-separated, of {', '.join(ALL_MODES)} (default: {','.join(MODES)})")
    ap.add_argument("--providers", type=_csv, default=list(PROVIDERS))
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 7, --quick 3)")
    ap.add_argument("--size", type=int, default=None,
                    help="element count of the main input for every setup (default: per setup)")
    ap.add_argument("--cache-limit", type=int, default=None, metavar="BYTES",
                    help="call mx.set_cache_limit(BYTES) first (this process only)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's own)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-accuracy", action="store_true")
    a = ap.parse_args(argv)

    import mlx.core as mx

    if a.cache_limit is not None:
        mx.set_cache_limit(a.cache_limit)
    if a.torch_threads is not None:
        import torch

        torch.set_num_threads(a.torch_threads)
    for m in a.modes:
        if m not in ALL_MODES:
            ap.error(f"unknown mode {m!r}; one of {ALL_MODES}")
    cfg = Config(losses=a.losses, dtypes=a.dtypes, modes=a.modes, providers=a.providers,
                 reps=a.reps or (3 if a.quick else 7), quick=a.quick, size=a.size,
                 memory=not a.no_memory, accuracy=not a.no_accuracy)
    t0 = time.perf_counter()
    rows = run(cfg)
    md = to_markdown(rows, cfg.notes)
    if a.cache_limit is not None:
        md += f"\nRun with mx.set_cache_limit({a.cache_limit}).\n"
    print()
    print(md)
    print(f"({len(rows)} rows in {time.perf_counter() - t0:.0f} s)")
    if a.json:
        write_json(rows, a.json)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
