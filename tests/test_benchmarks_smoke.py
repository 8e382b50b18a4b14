"""A tiny smoke run of the benchmark harness: the rows' format only.

Never asserts speed (STYLE.md 15): sizes are tiny and there is one
repetition. The MLX-only run needs no torch; the run with the torch provider
and the accuracy check is skipped where torch is not installed.
"""

import json

import pytest

from benchmarks.harness import MODES, Config, run, to_markdown, write_json
from benchmarks.setups import SETUPS, Setup

KEYS = {"loss", "provider", "mode", "dtype", "metric", "unit", "size", "shape",
        "p50", "p20", "p80", "reps", "device", "versions"}
UNITS = {"time": "ms", "time_ratio_vs_torch": "x", "time_ratio_vs_best_mlx": "x",
         "peak_memory": "MiB", "rel_error_vs_torch_float64": "1"}


def _cfg(**kw):
    base = dict(losses=["l1_loss", "mse_loss"], dtypes=["float32"], reps=1, size=64,
                min_sample_s=0.0, log=lambda s: None)
    base.update(kw)
    return Config(**base)


def _check_rows(rows, providers):
    assert rows
    for r in rows:
        assert set(r) == KEYS
        assert r["metric"] in UNITS and r["unit"] == UNITS[r["metric"]]
        assert r["provider"] in providers and r["mode"] in MODES
        assert r["loss"] in ("l1_loss", "mse_loss") and r["dtype"] == "float32"
        assert r["size"] == 64 and isinstance(r["shape"], str)
        assert r["p20"] <= r["p50"] <= r["p80"]
        assert isinstance(r["device"], str) and "mlx" in r["versions"]
    timed = {(r["loss"], r["provider"], r["mode"]) for r in rows if r["metric"] == "time"}
    assert timed == {(l, p, m) for l in ("l1_loss", "mse_loss") for p in providers for m in MODES}


def test_mlx_only_rows(tmp_path):
    providers = ("mlx_losses", "mlx.nn.losses", "naive")
    rows = run(_cfg(providers=providers, accuracy=False))
    _check_rows(rows, providers)
    assert {r["metric"] for r in rows} == {"time", "time_ratio_vs_best_mlx", "peak_memory"}
    path = tmp_path / "rows.json"
    write_json(rows, str(path))
    assert json.loads(path.read_text()) == rows


def test_rows_with_torch():
    pytest.importorskip("torch")
    providers = ("mlx_losses", "mlx.nn.losses", "naive", "torch")
    rows = run(_cfg())
    _check_rows(rows, providers)
    assert {r["metric"] for r in rows} == set(UNITS)
    acc = [r for r in rows if r["metric"] == "rel_error_vs_torch_float64"]
    assert {(r["loss"], r["provider"]) for r in acc} == {
        (l, p) for l in ("l1_loss", "mse_loss") for p in providers}
    md = to_markdown(rows)
    assert md.startswith("Device:") and "| l1_loss | float32 | fwd+bwd | 64 |" in md


def test_missing_loss_is_skipped_with_a_note(monkeypatch):
    fake = Setup("no_such_loss", SETUPS["l1_loss"].make, "ff",
                 lambda F, *a: F.no_such_loss(*a), lambda F, *a: None)
    monkeypatch.setitem(SETUPS, "no_such_loss", fake)
    cfg = _cfg(losses=["no_such_loss"], providers=("mlx_losses",), accuracy=False)
    assert run(cfg) == []
    assert cfg.notes == ["no_such_loss: mlx_losses.functional.no_such_loss not present yet; skipped"]


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_setup_inputs_match_kinds(name):
    import numpy as np

    s = SETUPS[name]
    arrays = s.make(np.random.default_rng(0), s.quick_size)
    assert len(arrays) == len(s.kinds) and set(s.kinds) <= set("fci")
    for a, k in zip(arrays, s.kinds):
        assert (a.dtype == np.float32) if k in "fc" else np.issubdtype(a.dtype, np.integer)


def test_value_check_benchmark_rows_and_restored_state():
    from benchmarks import bench_value_checks as B
    from benchmarks.harness import environment
    from mlx_losses import _validation

    import mlx_losses

    saved = _validation._np
    rows = B.bench(["nll_loss", "binary_cross_entropy"], ["float32"], ["fwd", "fwd+bwd"], reps=2,
                   size=4096, min_s=0.0, log=lambda s: None)
    assert [(r["loss"], r["mode"]) for r in rows] == [
        (l, m) for l in ("nll_loss", "binary_cross_entropy") for m in ("fwd", "fwd+bwd")]
    for r in rows:
        assert all(r[f"{v}_ms"] > 0 for v in B.VARIANTS)
        for k in ("numpy/mlx", "numpy/off"):
            p50, p20, p80 = r[k]
            assert p20 <= p50 <= p80
    assert _validation._np is saved and mlx_losses.value_checks_enabled()
    md = B.to_markdown(rows, environment(), "cmd")
    assert md.count("\n| nll_loss | float32 |") == 2
