"""pytest entry: one test per parity variant and per error case, through the
device's branches, and again through a GPU's (``mlx_losses._device``) in the
dtypes a GPU has, so that a Mac's code paths are checked against torch on a
CPU-only machine too."""

import pytest

pytest.importorskip("torch")

from mlx_losses import _device  # noqa: E402
from parity.runner import GPU_DTYPES, all_variants, load_tables, run_error_case, run_variant  # noqa: E402

_VARIANTS = all_variants()
_ERRORS = load_tables()[1]
_GPU_VARIANTS = [v for v in _VARIANTS if v.dtype in GPU_DTYPES]
_GPU_ERRORS = [c for c in _ERRORS if c.dtype in GPU_DTYPES]
_ERROR_ID = "{0.fn}-error-{0.name}".format

# id -> whether its run through the device's branches asked the device policy
_ASKED = {}


def _run(run, item, rid):
    before = _device._asked
    res = run(item)
    _ASKED[rid] = _device._asked > before
    return res


def _run_gpu_branches(run, item, rid):
    if _ASKED.get(rid) is False:
        # it asked no branch: the GPU's run would be the same code again
        pytest.skip("takes no device branch (same code as its test_parity run)")
    with _device._forced_branches("gpu"):
        return run(item)


@pytest.mark.parametrize("variant", _VARIANTS, ids=[v.id for v in _VARIANTS])
def test_parity(variant):
    res = _run(run_variant, variant, variant.id)
    assert res.passed, f"{res.id}: {res.message}"


@pytest.mark.parametrize("case", _ERRORS, ids=[_ERROR_ID(c) for c in _ERRORS])
def test_parity_error(case):
    res = _run(run_error_case, case, _ERROR_ID(case))
    assert res.passed, f"{res.id}: {res.message}"


@pytest.mark.parametrize("variant", _GPU_VARIANTS, ids=[v.id for v in _GPU_VARIANTS])
def test_parity_gpu_branches(variant):
    res = _run_gpu_branches(run_variant, variant, variant.id)
    assert res.passed, f"{res.id} (GPU branches): {res.message}"


@pytest.mark.parametrize("case", _GPU_ERRORS, ids=[_ERROR_ID(c) for c in _GPU_ERRORS])
def test_parity_error_gpu_branches(case):
    res = _run_gpu_branches(run_error_case, case, _ERROR_ID(case))
    assert res.passed, f"{res.id} (GPU branches): {res.message}"
