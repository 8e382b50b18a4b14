"""Fuzz tables, one module per loss family; each defines ``LOSSES`` (a list
of :class:`parity.fuzz.example.FuzzLoss`). New modules are picked up by
themselves."""

import importlib
import pkgutil
from typing import Dict


def all_losses() -> Dict[str, "object"]:
    out: Dict[str, object] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for loss in getattr(mod, "LOSSES", []):
            if loss.name in out:
                raise ValueError(f"duplicate fuzz loss {loss.name!r}")
            out[loss.name] = loss
    return out
