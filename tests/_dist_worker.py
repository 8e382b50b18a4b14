"""One rank of a multi-process test (run by ``mlx.launch``)."""

import os
import sys
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlx.core as mx  # noqa: E402

from _dist_cases import all_scenarios  # noqa: E402


def _fname(name: str) -> str:
    return name.replace("/", "__").replace(":", "_")


def main() -> None:
    out_dir = sys.argv[1]
    scenarios = all_scenarios()
    names = sorted(scenarios)
    group = mx.distributed.init(strict=True, backend="ring")
    rank, size = group.rank(), group.size()
    for name in names:
        try:
            res = scenarios[name](group, rank, size)
        except Exception:  # recorded for the test to show
            with open(os.path.join(out_dir, f"{_fname(name)}-{rank}.err"), "w") as fh:
                fh.write(traceback.format_exc())
            # The other ranks may be waiting in a collective of this scenario:
            # stop now, so mlx.launch ends them too, rather than hang.
            sys.stdout.flush()
            os._exit(1)
        np.savez(os.path.join(out_dir, f"{_fname(name)}-{rank}.npz"), **res)


if __name__ == "__main__":
    main()
