"""The oldest MLX that pyproject.toml declares passes a subset of the suite.

CI (``.ci/run``) installs the package a second time in a venv whose MLX is
pinned to the declared floor and names that venv's python in
``MLX_LOSSES_FLOOR_PYTHON``; this test runs the subset there in a
subprocess. Without the variable it skips. See docs/mlx-versions.md.
"""

import os
import re
import subprocess

import pytest

ENV = "MLX_LOSSES_FLOOR_PYTHON"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The subset: the unit tests of the core (the numerics' accuracy bounds),
# the device policy, classification (compiled graphs with NaN constants),
# the multi-process tests (mlx.launch) and linear_cross_entropy
# (mx.depends, float64 matmuls); and every parity variant in float32,
# eagerly (PARITY_COMPILE=none: each compiled graph is a new native kernel
# on a cold cache), through both device branches, with every error case:
# each loss, each option and the edge inputs (0-d, empty, non-finite) where
# older MLX crashed or differed.
SUBSET = [
    "tests/test_core.py",
    "tests/test_device.py",
    "tests/test_classification.py",
    "tests/test_distributed.py",
    "tests/test_linear_cross_entropy.py",
    "parity/test_parity.py",
    "-k", "not test_parity or error or float32",
]


def _declared_floors():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    return re.findall(r'"mlx(\[cpu\])?>=([0-9.]+); sys_platform ([!=]=) \'darwin\'"', text)


def _floor() -> str:
    found = _declared_floors()
    return found[0][1]


def test_both_platforms_declare_one_floor():
    found = _declared_floors()
    # the Metal build on macOS, the CPU build elsewhere: the same version
    assert sorted((extra, op) for extra, _, op in found) == [("", "=="), ("[cpu]", "!=")], found
    assert found[0][1] == found[1][1], found


@pytest.mark.timeout(1800)  # one test for the whole subset, on a cold kernel cache
def test_the_suite_passes_on_the_floor_mlx():
    python = os.environ.get(ENV)
    if not python:
        pytest.skip(f"{ENV} is not set: no venv with the floor MLX (.ci/run makes one)")
    version = subprocess.run(
        [python, "-c", "import mlx.core as mx; print(mx.__version__)"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()
    assert version == _floor(), f"{ENV} has MLX {version}, pyproject.toml declares {_floor()}"
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PARITY_COMPILE"] = "none"
    proc = subprocess.run(
        [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SUBSET],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1700,
    )
    assert proc.returncode == 0, (
        f"the suite fails on MLX {version} (exit {proc.returncode}):\n"
        f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    )
