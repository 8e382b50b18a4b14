"""``python -m parity``: selection, summary, reports, exit status."""

import json

import pytest

pytest.importorskip("torch")

import parity.__main__ as cli  # noqa: E402
from parity.runner import Result  # noqa: E402


def test_runs_a_selection_and_writes_both_reports(tmp_path, capsys):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    rc = cli.main(["--losses", "HuberLoss", "--dtypes", "float32", "-k", "_loss-basic",
                   "--no-errors", "-q", "--markdown", str(md), "--json", str(js)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "huber_loss" in out and "3/3 passed" in out
    doc = json.loads(js.read_text())
    assert doc["totals"]["cases"] == 3 and doc["totals"]["failed"] == 0
    assert doc["environment"]["torch"] and doc["environment"]["mlx"]
    assert [r["id"] for r in doc["results"]] == [
        "huber_loss-basic-none-float32", "huber_loss-basic-mean-float32", "huber_loss-basic-sum-float32"]
    text = md.read_text()
    assert "| huber_loss | 3 | 3 |" in text and "| torch | " in text and "| python | " in text
    assert "| device branches | " in text and "Device branches: " in out


def test_runs_the_gpu_branches_and_says_so(tmp_path, capsys):
    js = tmp_path / "r.json"
    rc = cli.main(["--losses", "cross_entropy", "-k", "cross_entropy-2d-mean", "--branches", "gpu",
                   "--no-errors", "-q", "--json", str(js)])
    assert rc == 0
    out = capsys.readouterr().out
    doc = json.loads(js.read_text())
    # a GPU's dtypes only, and the report names the branches
    assert {r["dtype"] for r in doc["results"]} == {"float32", "float16", "bfloat16"}
    assert doc["environment"]["device branches"].startswith("gpu, forced on")
    assert "Device branches: gpu, forced on" in out
    with pytest.raises(SystemExit):
        cli.main(["--branches", "gpu", "--dtypes", "float64"])


def test_a_failure_is_listed_and_exits_non_zero(monkeypatch, capsys):
    def fake(v):
        return Result(v.id, v.case.fn, v.dtype, False, message="[eager] output: worst element ()")

    monkeypatch.setattr(cli, "run_variant", fake)
    rc = cli.main(["--losses", "l1_loss", "--dtypes", "float64", "-k", "_loss-basic-mean", "--no-errors", "-q"])
    assert rc == 1
    out = capsys.readouterr().out
    assert "FAIL l1_loss-basic-mean-float64" in out
    assert "l1_loss-basic-mean-float64: [eager] output: worst element ()" in out


def test_unknown_names_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--losses", "huber_los"])
    assert info.value.code == 2
    assert "unknown loss name(s): 'huber_los' (did you mean huber_loss" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--dtypes", "float8"])


def test_error_columns_are_fractions_of_the_tolerance(tmp_path, capsys):
    # This case's gradient is ~0 everywhere: as max|diff| / max|torch| it read 2.7e+08
    # although every element was well inside its tolerance.
    js = tmp_path / "r.json"
    rc = cli.main(["--losses", "cosine_similarity", "--dtypes", "float32", "-k", "broadcast_on_dim",
                   "--no-errors", "-q", "--json", str(js)])
    assert rc == 0
    doc = json.loads(js.read_text())
    (result,) = doc["results"]
    assert 0 < result["out_used"] <= 1 and 0 < result["grad_used"] <= 1
    (row,) = doc["summary"]
    assert row["output_tol_used"] == {"float32": result["out_used"]}
    assert row["grad_tol_used"] == {"float32": result["grad_used"]}
    out = capsys.readouterr().out
    assert "relative error" not in out
    from parity.report import _pct

    assert f"{_pct(result['out_used'])} / {_pct(result['grad_used'])}" in out


def test_summary_cells():
    from parity import report as R

    rows = R.summarize([
        Result("f-a-float32", "f", "float32", True, 0.37, None),  # no gradient compared
        Result("f-b-float32", "f", "float32", True, 0.001, 0.5),
        Result("f-c-float64", "f", "float64", True, 0.0, 0.002),
    ])
    (row,) = rows
    assert R._cell(row, "float32") == "37% / 50%"
    assert R._cell(row, "float64") == "0% / <1%"
    assert R._cell(row, "float16") == "-"
    assert R._worst(row) == "f-b-float32 (50% of tol)"
