"""The comparison under the parity suite and assert_matches_torch
(mlx_losses.testing._compare), without torch: the half-precision baseline."""

import numpy as np
import pytest

from mlx_losses.testing import TOLERANCES, Mismatch, _compare


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("criterion", ["element", "tensor"])
@pytest.mark.parametrize("low", [np.nan, np.inf, -np.inf])
def test_nonfinite_half_baseline_falls_back_to_float64(dtype, criterion, low):
    # torch's half result overflowed (inf) or is NaN where float64's is
    # finite: twice its error is no allowance, ours is held to float64
    ref = np.array([1.0, 2.0])
    lowp = np.array([low, 2.0])
    tol = TOLERANCES[dtype]
    _compare("out", np.array([1.0, 2.0]), ref, dtype, tol, lowp, None, criterion)
    with pytest.raises(Mismatch, match="worst element"):
        _compare("out", np.array([5.0, 2.0]), ref, dtype, tol, lowp, None, criterion)
    with pytest.raises(Mismatch, match="worst element"):
        _compare("out", np.array([1.0, 3.0]), ref, dtype, tol, lowp, None, criterion)


def test_finite_half_baseline_still_allows_twice_torchs_error():
    ref, lowp = np.array([1.0]), np.array([1.25])
    _compare("out", np.array([1.5]), ref, "float16", TOLERANCES["float16"], lowp)
    with pytest.raises(Mismatch):
        _compare("out", np.array([1.6]), ref, "float16", TOLERANCES["float16"], lowp)
