"""Declarative input specs for parity cases.

A spec says what an argument is (``Float((4, 10))``, ``Index((4,), C=10)``,
``Prob((4, 10), axis=1)``, ...); the runner makes its values with a seeded
generator, casts them to the dtype under test, and hands the same numbers to
MLX and to torch. Values are made in float64 / int64 NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

import numpy as np

Shape = Tuple[int, ...]


class Spec:
    """Base: ``make(rng)`` returns a NumPy array; ``floating`` says whether the
    array follows the dtype under test; ``grad`` whether gradients w.r.t. it
    are compared."""

    floating: bool = True
    grad: bool = False

    def make(self, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Float(Spec):
    """Uniform floats in [low, high); differentiated by default."""

    shape: Shape
    low: float = -2.0
    high: float = 2.0
    grad: bool = True

    def make(self, rng):
        return rng.uniform(self.low, self.high, size=self.shape)


@dataclass(frozen=True)
class Normal(Spec):
    """Normal floats (mean, std); differentiated by default."""

    shape: Shape
    mean: float = 0.0
    std: float = 1.0
    grad: bool = True

    def make(self, rng):
        return rng.normal(self.mean, self.std, size=self.shape)


@dataclass(frozen=True)
class Positive(Spec):
    """Uniform floats in [low, high) with low > 0 (variances, rates, weights)."""

    shape: Shape
    low: float = 0.2
    high: float = 2.0
    grad: bool = True

    def make(self, rng):
        return rng.uniform(self.low, self.high, size=self.shape)


@dataclass(frozen=True)
class Prob(Spec):
    """Probabilities: elementwise in (low, high), or a distribution along
    ``axis`` (softmax of normals) when ``axis`` is given."""

    shape: Shape
    axis: Optional[int] = None
    low: float = 0.02
    high: float = 0.98
    grad: bool = True

    def make(self, rng):
        if self.axis is None:
            return rng.uniform(self.low, self.high, size=self.shape)
        z = rng.normal(size=self.shape)
        z = np.exp(z - z.max(axis=self.axis, keepdims=True))
        return z / z.sum(axis=self.axis, keepdims=True)


@dataclass(frozen=True)
class Binary(Spec):
    """0/1 floats (BCE targets, multi-label targets)."""

    shape: Shape
    grad: bool = False

    def make(self, rng):
        return rng.integers(0, 2, size=self.shape).astype(np.float64)


@dataclass(frozen=True)
class Sign(Spec):
    """+1/-1 floats (hinge, ranking and cosine-embedding targets)."""

    shape: Shape
    grad: bool = False

    def make(self, rng):
        return rng.choice([-1.0, 1.0], size=self.shape)


@dataclass(frozen=True)
class Index(Spec):
    """Class indices in [0, C), a fraction replaced by ``ignore``."""

    shape: Shape
    C: int
    ignore: Optional[int] = None
    ignore_frac: float = 0.25
    dtype: str = "int64"
    floating = False

    def make(self, rng):
        t = rng.integers(0, self.C, size=self.shape)
        if self.ignore is not None and t.size:
            mask = rng.uniform(size=self.shape) < self.ignore_frac
            t = np.where(mask, self.ignore, t)
        return t.astype(self.dtype)


@dataclass(frozen=True)
class Lengths(Spec):
    """Integer lengths in [low, high] (CTC); ``as_tuple`` passes a tuple."""

    n: int
    low: int
    high: int
    as_tuple: bool = False
    dtype: str = "int64"
    floating = False

    def make(self, rng):
        return rng.integers(self.low, self.high + 1, size=(self.n,)).astype(self.dtype)


@dataclass(frozen=True)
class Literal(Spec):
    """Exactly these values. ``floating`` follows the dtype under test unless
    the values are integers; ``grad`` as given."""

    values: Any
    grad: bool = False
    dtype: Optional[str] = None

    @property
    def floating(self) -> bool:  # type: ignore[override]
        arr = np.asarray(self.values)
        if self.dtype is not None:
            return np.issubdtype(np.dtype(self.dtype), np.floating)
        return np.issubdtype(arr.dtype, np.floating)

    def make(self, rng):
        arr = np.array(self.values)
        if self.dtype is not None:
            arr = arr.astype(self.dtype)
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        return arr


@dataclass(frozen=True)
class Derived(Spec):
    """An array computed from a NumPy generator function ``fn(rng)``."""

    fn: Any
    floating: bool = True
    grad: bool = True

    def make(self, rng):
        return np.asarray(self.fn(rng))
