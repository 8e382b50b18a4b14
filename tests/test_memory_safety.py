"""No index-taking loss reads outside an array: indices far out of range
(negative, == C, >= C, 2**31 - 1, 10**8, beyond int32), compiled and with
the value checks off, give NaN in the rows they touch (torch raises), leave
the other rows' values and gradients alone, and never crash the process.

The cases run in a subprocess (``_memory_safety_worker.py``): a read
outside an array may kill it, which fails that case here instead of the
test run. After a crash the remaining cases run in a fresh process.
"""

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _memory_safety_worker import case_ids  # noqa: E402

CASES = case_ids()
_TIMEOUT = 600


@pytest.fixture(scope="module")
def results():
    """Every case's result, running the remaining cases again after a crash
    (each run at least one case fewer), within one overall time limit."""
    out, todo = {}, list(CASES)
    deadline = time.monotonic() + _TIMEOUT
    while todo and time.monotonic() < deadline:
        try:
            proc = subprocess.run(
                [sys.executable, os.path.join(HERE, "_memory_safety_worker.py"), *todo],
                capture_output=True, text=True, timeout=max(deadline - time.monotonic(), 1),
            )
            stdout, code = proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as err:
            stdout, code = err.stdout or "", "timed out"
            if isinstance(stdout, bytes):
                stdout = stdout.decode()
        running = None
        for line in stdout.splitlines():
            if line.startswith("START "):
                running = line[len("START "):]
            elif line.startswith("RESULT "):
                res = json.loads(line[len("RESULT "):])
                out[res["id"]] = res
                running = None
        if running is None:  # the worker failed outside a case
            break
        out[running] = {"id": running, "ok": False, "detail": f"the process died ({code})"}
        todo = [c for c in todo if c not in out]
    for cid in CASES:
        out.setdefault(cid, {"id": cid, "ok": False, "detail": "not run (worker failure or time limit)"})
    return out


@pytest.mark.parametrize("case", CASES)
def test_out_of_range_indices_give_nan_and_never_crash(case, results):
    res = results[case]
    assert res["ok"], f"{case}: {res['detail']}"


_SHAPELESS_HELPERS = r"""
import mlx.core as mx, mlx_losses, mlx_losses.functional as F
a = mx.array([[-1.0, 2.19, 2.19], [1e-11, -3.875, -2.5]]); b = mx.array([[2.19], [-2.5]])
calls = {
    "cosine_similarity": lambda x, y: F.cosine_similarity(x, y),
    "pairwise_distance": lambda x, y: F.pairwise_distance(x, y),
    "CosineSimilarity": lambda x, y: mlx_losses.CosineSimilarity()(x, y),
    "PairwiseDistance": lambda x, y: mlx_losses.PairwiseDistance()(x, y),
}
for name, call in calls.items():
    g = mx.compile(call, shapeless=True)
    # broadcast inputs, then the same rank, then a new rank: MLX 0.32 crashed on each
    for x, y in ((a, b), (mx.ones((2, 3)), mx.ones((2, 3))), (mx.ones((2, 1, 3)), mx.ones((2, 1, 3)))):
        try:
            mx.eval(g(x, y))
            print("COMPUTED", name)
        except ValueError as err:
            print("REFUSED", name, str(err).split(":")[0], "must not be shapeless" in str(err))
"""


def test_the_distance_helpers_refuse_a_shapeless_compile_and_never_crash():
    # Regression: the helpers had no shapeless guard, and MLX 0.32 aborted the
    # process (SIGSEGV / SIGFPE / a heap error) on a shapeless cosine
    # similarity of broadcast inputs or a pairwise distance at a new rank.
    proc = subprocess.run([sys.executable, "-c", _SHAPELESS_HELPERS], capture_output=True,
                          text=True, timeout=300, cwd=os.path.dirname(HERE))
    assert proc.returncode == 0, f"the process died ({proc.returncode}): {proc.stderr[-2000:]}"
    lines = proc.stdout.split("\n")
    for name, fn in (("cosine_similarity", "cosine_similarity"), ("pairwise_distance", "pairwise_distance"),
                     ("CosineSimilarity", "cosine_similarity"), ("PairwiseDistance", "pairwise_distance")):
        assert lines.count(f"REFUSED {name} {fn} True") == 3, proc.stdout
