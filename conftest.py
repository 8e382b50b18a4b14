"""Make ``parity`` importable from the repository root under pytest, and say
up front when MLX will spend the run compiling its CPU kernels."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


import pytest  # noqa: E402

# About how many distinct fused kernels a full test run makes MLX build.
SUITE_KERNELS = 1400


def kernel_cache():
    """(directory, kernels in it) of MLX's on-disk CPU kernel cache, or None
    where MLX does not compile C++ kernels (not Linux, or not on the CPU)."""
    if not sys.platform.startswith("linux"):
        return None
    import mlx.core as mx

    if mx.default_device().type != mx.DeviceType.cpu:
        return None
    path = os.path.join(tempfile.gettempdir(), "mlx", mx.__version__, "cpu")
    try:
        n = sum(name.endswith(".so") for name in os.listdir(path))
    except OSError:
        n = 0
    return path, n


def cold_cache_note(path, n):
    """The line a run prints when most kernels are still to be compiled."""
    if n >= SUITE_KERNELS * 3 // 4:
        return None
    missing = SUITE_KERNELS - n
    low, high = max(1, round(missing * 0.5 / 60)), max(1, round(missing * 1.2 / 60))
    return (
        f"NOTE: MLX's CPU kernel cache ({path}) holds {n} of the about {SUITE_KERNELS} "
        "kernels a full test run uses. MLX compiles each missing one with the C++ compiler "
        f"on first use (0.5-1.2 s each on 2 CPU cores), so a full run takes up to {low}-{high} "
        "minutes longer this time, with few dots meanwhile; later runs reuse the cache."
    )


_at_start = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    global _at_start
    cache = kernel_cache()
    if cache is None:
        return
    _at_start = cache[1]
    note = cold_cache_note(*cache)
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if note and tr is not None:
        tr.write_line(note, yellow=True, bold=True)


def pytest_terminal_summary(terminalreporter):
    cache = kernel_cache() if _at_start is not None else None
    if cache and cache[1] > _at_start:
        terminalreporter.write_line(
            f"MLX's CPU kernel cache grew by {cache[1] - _at_start} kernels during this run "
            f"({cache[1]} cached in {cache[0]})."
        )


@pytest.fixture(params=["numpy", "mlx"])
def read_path(request, monkeypatch):
    """Run the value checks (class-index ranges, BCE's [0, 1], CTC lengths,
    gaussian_nll's var) through NumPy, their path on the CPU, and through
    MLX's own reductions, their path on other devices and without NumPy."""
    if request.param == "mlx":
        from mlx_losses import _validation

        monkeypatch.setattr(_validation, "_np", None)
    return request.param
