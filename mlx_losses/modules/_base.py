"""The Module base: a loss Module is configuration plus one functional call."""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional

import mlx.core as mx
import mlx.nn as nn

from .._group import check_group, signature_with_group
from .._reduction import reduction_group, resolve_reduction
from .._validation import check_floating

__all__ = ["_Loss", "_WeightedLoss"]


class _Loss(nn.Module):
    """Base of every loss Module (torch's ``_Loss``).

    Stores ``reduction``, mapping the deprecated ``size_average``/``reduce``
    pair onto it once (with torch's warning). Subclasses add their options
    and list them in ``_options`` for the repr.
    """

    _allowed_reductions = ("none", "mean", "sum")
    _group: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every loss Module takes a keyword-only ``group=`` (an
        # mx.distributed.Group) and computes its reductions over it; see
        # mlx_losses.distributed. Done once here, not in each subclass.
        super().__init_subclass__(**kwargs)
        # The __init__ the class will run: its own, or one it inherits
        # (_Loss's own takes no group=, so a loss without an __init__ of its
        # own, L1Loss, must be wrapped too); one already wrapped is not.
        init = cls.__init__
        if not getattr(init, "_takes_group", False):

            @functools.wraps(init)
            def __init__(self, *args: Any, group: Any = None, **kw: Any) -> None:
                init(self, *args, **kw)
                check_group(type(self).__name__, group)
                if group is not None:
                    self._group = group

            __init__.__signature__ = signature_with_group(init)  # type: ignore[attr-defined]
            __init__._takes_group = True  # type: ignore[attr-defined]
            cls.__init__ = __init__  # type: ignore[method-assign]
        if "__call__" in cls.__dict__:
            call = cls.__dict__["__call__"]

            @functools.wraps(call)
            def __call__(self, *args: Any, **kw: Any) -> Any:
                if self._group is None:
                    return call(self, *args, **kw)
                with reduction_group(self._group):
                    return call(self, *args, **kw)

            cls.__call__ = __call__  # type: ignore[method-assign]

    def __init__(
        self,
        size_average: Optional[bool] = None,
        reduce: Optional[bool] = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.reduction = resolve_reduction(
            type(self).__name__,
            reduction,
            size_average,
            reduce,
            allowed=self._allowed_reductions,
        )

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
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self._store_buffer("weight", weight)

    def _options(self) -> Dict[str, Any]:
        opts: Dict[str, Any] = {}
        if self.weight is not None:
            opts["weight"] = self.weight
        opts.update(super()._options())
        return opts
