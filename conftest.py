"""Make ``parity`` importable from the repository root under pytest."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


import pytest  # noqa: E402


@pytest.fixture(params=["numpy", "mlx"])
def read_path(request, monkeypatch):
    """Run the value checks (class-index ranges, BCE's [0, 1], CTC lengths,
    gaussian_nll's var) through NumPy, their path on the CPU, and through
    MLX's own reductions, their path on other devices and without NumPy."""
    if request.param == "mlx":
        from mlx_losses import _validation

        monkeypatch.setattr(_validation, "_np", None)
    return request.param
