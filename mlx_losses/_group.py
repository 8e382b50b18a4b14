"""Transition: ``group=`` for the families not yet on ``_api.public_loss``.

Their kernels do not take ``group``: the wrappers below give the public
function (and the Module) a keyword-only ``group=None`` and set it as the
reduction group that ``_reduction``'s helpers read for the duration of the
call. A family moves to ``public_loss`` by declaring ``group`` itself and
passing it to its reduction call; its lines here then go. This file goes
when the last family has moved.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ._api import check_group, guard_call
from ._reduction import reduction_group
from .losses import ctc as _ctc

GROUP_DOC = """
    Distributed:
        group (mx.distributed.Group, optional, keyword-only): reduce over every
            rank of ``group``: ``'mean'`` (and the weighted / batch / length
            means) and ``'sum'`` become the value one process computes on the
            concatenated batch, and each rank's gradient is that of the global
            loss w.r.t. its local inputs (sum, don't average, the ranks'
            gradients). ``'none'`` ignores it. Default: ``None``.
"""


def signature_with_group(fn: Callable[..., Any]) -> inspect.Signature:
    """``fn``'s signature with a keyword-only ``group=None`` added (before a
    ``**kwargs``, if any), so ``help()`` and ``inspect`` show it."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    new = inspect.Parameter("group", inspect.Parameter.KEYWORD_ONLY, default=None)
    if params and params[-1].kind == inspect.Parameter.VAR_KEYWORD:
        params.insert(len(params) - 1, new)
    else:
        params.append(new)
    return sig.replace(parameters=params)


def with_group(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with a keyword-only ``group=None`` that sets the reduction
    group, and ``public_loss``'s checks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, group: Any = None, **kwargs: Any) -> Any:
        args, kwargs = guard_call(fn.__name__, args, kwargs)
        if group is None:
            return fn(*args, **kwargs)
        check_group(fn.__name__, group)
        with reduction_group(group):
            return fn(*args, **kwargs)

    wrapper.__signature__ = signature_with_group(fn)  # type: ignore[attr-defined]
    wrapper.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + GROUP_DOC
    return wrapper



# -- ctc
ctc_loss = with_group(_ctc.ctc_loss)





