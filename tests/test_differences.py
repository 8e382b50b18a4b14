"""docs/differences.md and parity/known_differences.py list the same
deliberate differences from torch: same ids, losses, kinds and text."""

import os
import re

from parity.known_differences import DIFFERENCES, KINDS

_DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "differences.md")


def _norm(text: str) -> str:
    return " ".join(text.replace("\\|", "|").split())


def _doc_rows():
    rows = {}
    with open(_DOC, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"^\|\s*`([a-z0-9-]+)`\s*\|(.*)\|\s*$", line)
            if not m:
                continue
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            assert len(cells) == 4, f"docs/differences.md: row {m.group(1)!r} needs 5 cells"
            rows[m.group(1)] = cells
    return rows


def _losses_cell(losses) -> str:
    return "all" if tuple(losses) == ("*",) else ", ".join(f"`{n}`" for n in losses)


def test_same_ids():
    doc = _doc_rows()
    data = [d.id for d in DIFFERENCES]
    assert len(set(data)) == len(data), "duplicate ids in parity/known_differences.py"
    assert sorted(doc) == sorted(data)


def test_same_losses_kind_and_text():
    doc = _doc_rows()
    for d in DIFFERENCES:
        losses, kind, summary, why = doc[d.id]
        assert losses == _losses_cell(d.losses), d.id
        assert kind == d.kind and d.kind in KINDS, d.id
        assert _norm(summary) == _norm(d.summary), d.id
        assert _norm(why) == _norm(d.why), d.id


def test_losses_are_public():
    import mlx_losses.functional as F

    for d in DIFFERENCES:
        for name in d.losses:
            assert name == "*" or name in F.__all__, (d.id, name)


def test_fuzzer_sees_every_applied_difference():
    """A difference the fuzzer may meet has a predicate; one it never draws
    says why in its text (so the table stays honest)."""
    for d in DIFFERENCES:
        if d.applies is None:
            assert d.kind in KINDS
        if d.kind == "ours_computes" and d.applies is not None:
            assert d.reference is not None, d.id
