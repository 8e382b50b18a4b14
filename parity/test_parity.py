"""pytest entry: one test per parity variant and per error case."""

import pytest

pytest.importorskip("torch")

from parity.runner import all_variants, load_tables, run_error_case, run_variant  # noqa: E402

_VARIANTS = all_variants()
_ERRORS = load_tables()[1]


@pytest.mark.parametrize("variant", _VARIANTS, ids=[v.id for v in _VARIANTS])
def test_parity(variant):
    res = run_variant(variant)
    assert res.passed, f"{res.id}: {res.message}"


@pytest.mark.parametrize("case", _ERRORS, ids=[f"{c.fn}-error-{c.name}" for c in _ERRORS])
def test_parity_error(case):
    res = run_error_case(case)
    assert res.passed, f"{res.id}: {res.message}"
