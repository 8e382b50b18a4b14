"""The device policy: whether a call takes the CPU's paths or the GPU's.

Some kernels and checks have two forms, one for each kind of device MLX
computes on: on the CPU, ``e ** x`` for exps and a one-``log`` ``log1p``
(``_numerics.py``), the unfused cross-entropy formula
(``losses/classification.py``) and value checks that read buffers through
NumPy (``_validation.py``); elsewhere (Metal, CUDA), MLX's fused kernels and
value checks reduced by MLX. :func:`cpu_branches` is the one place that
chooses; every such branch asks it.

A test-only switch makes the GPU's forms run on a CPU-only machine, where
their numbers can be checked against torch: the environment variable
``MLX_LOSSES_DEVICE_BRANCHES`` (``gpu`` or ``cpu``; unset or ``device``
follows the device) read at import, or :func:`_forced_branches` in code.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Callable, Iterator, Optional

import mlx.core as mx

__all__ = ["cpu_branches", "branches", "compile_by_branch"]

ENV = "MLX_LOSSES_DEVICE_BRANCHES"
_KINDS = ("cpu", "gpu")


def _parse(value: Optional[str]) -> Optional[str]:
    v = (value or "").strip().lower()
    if v in ("", "device"):
        return None
    if v not in _KINDS:
        raise ValueError(
            f"{ENV} must be 'cpu', 'gpu', 'device' or unset, got {value!r}."
        )
    return v


_forced: Optional[str] = _parse(os.environ.get(ENV))
# How many times cpu_branches() was asked: a call that never asks takes the
# same code on every device (the tests skip its GPU-branch run).
_asked = 0


def cpu_branches() -> bool:
    """Whether a call now takes the CPU's paths: MLX's default device is the
    CPU, unless the switch forces one kind."""
    global _asked
    _asked += 1
    if _forced is not None:
        return _forced == "cpu"
    return mx.default_device() == mx.cpu


def branches() -> str:
    """``'cpu'`` or ``'gpu'``: which branches a call takes now."""
    return "cpu" if cpu_branches() else "gpu"


def forced() -> Optional[str]:
    """The kind the switch forces, or None (the device decides)."""
    return _forced


@contextlib.contextmanager
def _forced_branches(kind: Optional[str]) -> Iterator[None]:
    """Within the block, take ``kind``'s branches (``'cpu'``, ``'gpu'``, or
    None for the device's) whatever the device. For tests."""
    global _forced
    previous, _forced = _forced, _parse(kind)
    try:
        yield
    finally:
        _forced = previous


def compile_by_branch(fun: Optional[Callable] = None, *, shapeless: bool = False):
    """``mx.compile(fun, shapeless=...)`` for a body that takes device
    branches, traced once per kind: a compiled trace keeps the branches it
    was traced with, so a CPU trace must not serve a GPU-branch call (a
    ``mx.stream(mx.cpu)`` block on a Mac, or the switch). Positional
    arguments only. Usable bare or as ``@compile_by_branch(shapeless=True)``."""
    if fun is None:
        return functools.partial(compile_by_branch, shapeless=shapeless)
    # two distinct callables: MLX caches traces by the function's identity
    traced = {
        kind: mx.compile(functools.partial(fun), shapeless=shapeless) for kind in (True, False)
    }

    @functools.wraps(fun)
    def call(*args):
        return traced[cpu_branches()](*args)

    return call
