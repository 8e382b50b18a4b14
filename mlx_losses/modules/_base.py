"""The Module base: a loss Module is configuration plus one functional call."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Sequence

import mlx.core as mx
import mlx.nn as nn

from .._api import check_group
from .._validation import REDUCTIONS, Reduction, check_floating, resolve_reduction

__all__ = ["_Loss", "_WeightedLoss"]


class _Loss(nn.Module):
    """Base of every loss Module (torch's ``_Loss``).

    Stores ``reduction``, mapping the deprecated ``size_average``/``reduce``
    pair onto it once (with torch's warning), and ``group`` (an
    ``mx.distributed.Group`` or None), which ``__call__`` passes to the
    functional call. Subclasses add their options, list them in
    ``_options`` for the repr, and take ``group`` keyword-only.
    """

    _allowed_reductions: ClassVar[Sequence[str]] = REDUCTIONS
    # one of _allowed_reductions: a Reduction (KLDivLoss's: a KLReduction)
    reduction: Any
    group: Optional[mx.distributed.Group]

    def __init__(
        self,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.reduction = resolve_reduction(
            name, reduction, size_average, reduce, allowed=self._allowed_reductions
        )
        self.group = check_group(name, group)

    def _options(self) -> Dict[str, Any]:
        return {"reduction": self.reduction}

    def _extra_repr(self) -> str:
        parts = []
        for key, value in self._options().items():
            if isinstance(value, mx.array):
                value = f"array(shape={tuple(value.shape)}, dtype={str(value.dtype).replace('mlx.core.', '')})"
            else:
                value = repr(value)
            parts.append(f"{key}={value}")
        return ", ".join(parts)

    def _store_buffer(self, name: str, value: Optional[mx.array]) -> None:
        """Store an array option (class weight, pos_weight) frozen.

        MLX's counterpart of torch's ``register_buffer``: the array shows in
        ``parameters()`` but not in ``trainable_parameters()``, so an
        optimizer never trains it.
        """
        if value is None:
            setattr(self, name, None)
            return
        check_floating(type(self).__name__, name, value)
        setattr(self, name, value)
        self.freeze(keys=[name], recurse=False)


class _WeightedLoss(_Loss):
    """torch's ``_WeightedLoss``: a ``_Loss`` with a frozen ``weight``."""

    def __init__(
        self,
        weight: Optional[mx.array] = None,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: Reduction = "mean",
        *,
        group: Optional[mx.distributed.Group] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction, group=group)
        self._store_buffer("weight", weight)

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if self.weight is not None:
            opts["weight"] = self.weight
        opts.update(super()._options())
        return opts
