"""The parity report: results -> per-loss summary -> text, Markdown, JSON.

``python -m parity`` (``parity/__main__.py``) runs the tables and hands the
results here. The summary has one row per loss: variants and error cases run,
how many passed, per dtype the largest fraction of its tolerance that any
element of an output / of a gradient used (100% = on the edge), and the worst
case: the first failure, or else the passing variant that came closest to its
tolerance.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from mlx_losses.testing import DTYPES, TOLERANCES

from .runner import Result

SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16"}
CELLS = (
    "per dtype, the largest fraction of its tolerance that any element of an output / of a"
    " gradient used over the passing variants (100% = on the edge; - = no gradient)."
)


# --------------------------------------------------------------------------
# environment


def environment() -> Dict[str, str]:
    """The versions the report was made with."""
    import mlx.core as mx
    import numpy as np

    import mlx_losses

    env = {
        "mlx_losses": mlx_losses.__version__,
        "mlx": getattr(mx, "__version__", "?"),
        "mlx device": str(mx.default_device()),
        "device branches": _branches(),
        "torch": "not installed",
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    try:
        import torch

        env["torch"] = torch.__version__
    except Exception:  # not installed, or its import was interrupted
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        env["git commit"] = commit + (" (with local changes)" if dirty else "")
    except Exception:
        pass
    env["date (UTC)"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return env


def _branches() -> str:
    """Which device branches the losses take (``mlx_losses._device``)."""
    from mlx_losses import _device

    kind = _device.branches()
    if _device.forced() is None:
        return f"{kind} (the device's)"
    return f"{kind}, forced on {_device_kind()} (test switch)"


def _device_kind() -> str:
    import mlx.core as mx

    return "the CPU" if mx.default_device() == mx.cpu else "a GPU"


# --------------------------------------------------------------------------
# summary


@dataclass
class Row:
    """One loss's line of the summary."""

    loss: str
    cases: int = 0
    passed: int = 0
    errors_run: int = 0  # error cases (bad input we must reject)
    out_used: Dict[str, float] = field(default_factory=dict)  # per dtype: fraction of tolerance
    grad_used: Dict[str, float] = field(default_factory=dict)
    worst_id: str = ""
    worst_used: float = 0.0  # fraction of the tolerance the worst case used
    failed_ids: List[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.cases - self.passed


def summarize(results: Sequence[Result], order: Optional[Sequence[str]] = None) -> List[Row]:
    """Group results by loss (in ``order``, else first appearance)."""
    rows: Dict[str, Row] = {}
    for name in order or ():
        rows.setdefault(name, Row(name))
    for r in results:
        row = rows.setdefault(r.fn, Row(r.fn))
        row.cases += 1
        row.seconds += r.seconds
        if r.kind == "error":
            row.errors_run += 1
        if r.passed:
            row.passed += 1
            if r.kind == "case":
                row.out_used[r.dtype] = max(row.out_used.get(r.dtype, 0.0), r.out_used)
                if r.grad_used is not None:
                    row.grad_used[r.dtype] = max(row.grad_used.get(r.dtype, 0.0), r.grad_used)
                if not row.failed_ids and r.used >= row.worst_used:
                    row.worst_id, row.worst_used = r.id, r.used
        else:
            if not row.failed_ids:
                row.worst_id, row.worst_used = r.id, math.inf
            row.failed_ids.append(r.id)
    return [row for row in rows.values() if row.cases]


def totals(rows: Sequence[Row]) -> Dict[str, int]:
    return {
        "losses": len(rows),
        "cases": sum(r.cases for r in rows),
        "passed": sum(r.passed for r in rows),
        "failed": sum(r.failed for r in rows),
    }


def _pct(x: Optional[float]) -> str:
    """A fraction of the tolerance as a percentage: 0%, <1%, 37%."""
    if x is None:
        return "-"
    if x == 0:
        return "0%"
    if x < 0.005:
        return "<1%"
    return f"{x:.0%}"


def _cell(row: Row, dt: str) -> str:
    if dt not in row.out_used:
        return "-"
    return f"{_pct(row.out_used.get(dt))} / {_pct(row.grad_used.get(dt))}"


def _worst(row: Row) -> str:
    if row.failed_ids:
        more = f" (+{len(row.failed_ids) - 1} more)" if len(row.failed_ids) > 1 else ""
        return f"FAIL {row.failed_ids[0]}{more}"
    if not row.worst_id:
        return "-"
    return f"{row.worst_id} ({row.worst_used:.0%} of tol)"


def _columns(rows: Sequence[Row], dtypes: Sequence[str]):
    head = ["loss", "cases", "passed"] + [f"{SHORT.get(d, d)} tol used: out / grad" for d in dtypes] + ["worst case"]
    body = [
        [r.loss, str(r.cases), str(r.passed)] + [_cell(r, d) for d in dtypes] + [_worst(r)]
        for r in rows
    ]
    return head, body


def _used_dtypes(results: Sequence[Result]) -> List[str]:
    seen = {r.dtype for r in results if r.kind == "case"}
    return [d for d in DTYPES if d in seen] or list(DTYPES)


def render_text(rows: Sequence[Row], results: Sequence[Result], seconds: float) -> str:
    dtypes = _used_dtypes(results)
    head, body = _columns(rows, dtypes)
    widths = [max(len(x) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
    right = set(range(1, 3 + len(dtypes)))

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    t = totals(rows)
    out.append("")
    out.append(
        f"{t['passed']}/{t['cases']} passed, {t['failed']} failed, {t['losses']} losses, "
        f"{seconds:.1f} s.  Cells: {CELLS}"
    )
    fails = [r for r in results if not r.passed]
    if fails:
        out.append("")
        out.append(f"FAILURES ({len(fails)}):")
        for r in fails:
            out.append(f"  {r.id}: {r.message}")
    return "\n".join(out)


def _tol(x: float) -> str:
    """1e-09, or 2^-10 for a power of two (the half-precision ulps)."""
    m, e = math.frexp(x)
    return f"2^{e - 1}" if m == 0.5 and x < 0.01 else f"{x:.3g}"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(
    rows: Sequence[Row],
    results: Sequence[Result],
    seconds: float,
    env: Dict[str, str],
    command: str = "python -m parity",
) -> str:
    dtypes = _used_dtypes(results)
    head, body = _columns(rows, dtypes)
    t = totals(rows)
    status = "all passed" if t["failed"] == 0 else f"**{t['failed']} failed**"
    md = [
        "# Parity report",
        "",
        f"The case tables in `parity/cases/` run against live PyTorch by `{command}`"
        " (regenerate it with the same command). Each variant runs our function eagerly"
        " (value and VJP with a random cotangent), our Module, and `mx.vmap` where the case"
        " asks for it; each reduction also runs under `mx.compile` (forward and VJP) in one"
        " dtype, float32 where the case has it (`PARITY_COMPILE=all`: every variant).",
        "",
        f"**{t['passed']}/{t['cases']} passed** ({status}) over {t['losses']} losses"
        f" in {seconds:.0f} s.",
        "",
        "| made with | version |",
        "|---|---|",
    ]
    md += [f"| {k} | {_md_escape(v)} |" for k, v in env.items()]
    md += [
        "",
        "## Summary",
        "",
        f"Cells: {CELLS} The comparison is against torch in float64 on the same rounded"
        " inputs, with the criterion of the Tolerances table below. *Worst case*: the first"
        " failure, else the variant that used the largest fraction of its tolerance."
        " *cases* counts variants (case x reduction x dtype) and error cases.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 or i == len(head) - 1 else "---:" for i in range(len(head))) + "|",
    ]
    md += ["| " + " | ".join(_md_escape(c) for c in b) + " |" for b in body]
    md += [
        "",
        "## Tolerances",
        "",
        "| dtype | rtol | atol | criterion |",
        "|---|---|---|---|",
    ]
    for d in DTYPES:
        r, a = TOLERANCES[d]
        crit = (
            "\\|ours - ref\\| <= 2 \\|torch_" + SHORT[d] + " - ref\\| + atol + rtol \\|ref\\|"
            if d in ("float16", "bfloat16")
            else "\\|ours - ref\\| <= atol + rtol \\|ref\\|"
        )
        md.append(f"| {d} | {_tol(r)} | {_tol(a)} | {crit} |")
    md += [
        "",
        "`ref` is torch in float64. NaN and inf positions must match exactly; shapes and"
        " dtypes are compared before values. Per-case overrides sit in the case tables with"
        " a comment saying why.",
        "",
        "## Failures",
        "",
    ]
    fails = [r for r in results if not r.passed]
    if fails:
        md += [f"- `{r.id}`: {_md_escape(r.message)}" for r in fails]
    else:
        md.append("None.")
    md.append("")
    return "\n".join(md)


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def render_json(
    rows: Sequence[Row], results: Sequence[Result], seconds: float, env: Dict[str, str]
) -> str:
    doc: Dict[str, Any] = {
        "environment": env,
        "totals": {**totals(rows), "seconds": round(seconds, 2)},
        "tolerances": {d: list(TOLERANCES[d]) for d in DTYPES},
        "summary": [
            {
                "loss": r.loss,
                "cases": r.cases,
                "passed": r.passed,
                "failed": r.failed,
                "error_cases": r.errors_run,
                "output_tol_used": {d: _finite(v) for d, v in r.out_used.items()},
                "grad_tol_used": {d: _finite(v) for d, v in r.grad_used.items()},
                "worst_case": r.worst_id,
                "worst_used": _finite(r.worst_used),
                "failed_ids": r.failed_ids,
                "seconds": round(r.seconds, 3),
            }
            for r in rows
        ],
        "results": [{k: _finite(v) for k, v in asdict(r).items()} for r in results],
    }
    return json.dumps(doc, indent=1)
