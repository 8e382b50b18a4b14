"""``from_torch``: a configured ``torch.nn`` loss -> the same mlx_losses Module.

The mapping is written once, from torch's constructor signature: every
keyword torch's class takes is read back from the instance (torch stores each
option under its keyword's name) and handed to our class of the same name,
which takes torch's keywords. Only what torch does not store that way is
special-cased: the deprecated ``size_average`` / ``reduce`` (torch has already
folded them into ``.reduction``), ``distance_function`` (a torch callable),
and ``LinearCrossEntropyLoss``'s own linear layer. Our class is looked up in
``mlx_losses`` when called, so the mapping follows the Modules as they are.

This module never imports torch: a torch module can only come from a program
that has.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from typing import Any, Dict

__all__ = ["from_torch", "TORCH_LOSSES"]

#: ``torch.nn`` loss class -> its ``torch.nn.functional`` (and
#: ``mlx_losses.functional``) name: the porting table.
TORCH_LOSSES: Dict[str, str] = {
    "L1Loss": "l1_loss",
    "MSELoss": "mse_loss",
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll_loss",
    "NLLLoss2d": "nll_loss",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "KLDivLoss": "kl_div",
    "PoissonNLLLoss": "poisson_nll_loss",
    "GaussianNLLLoss": "gaussian_nll_loss",
    "SmoothL1Loss": "smooth_l1_loss",
    "HuberLoss": "huber_loss",
    "SoftMarginLoss": "soft_margin_loss",
    "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
    "MultiLabelMarginLoss": "multilabel_margin_loss",
    "MultiMarginLoss": "multi_margin_loss",
    "HingeEmbeddingLoss": "hinge_embedding_loss",
    "CosineEmbeddingLoss": "cosine_embedding_loss",
    "MarginRankingLoss": "margin_ranking_loss",
    "TripletMarginLoss": "triplet_margin_loss",
    "TripletMarginWithDistanceLoss": "triplet_margin_with_distance_loss",
    "CTCLoss": "ctc_loss",
    "LinearCrossEntropyLoss": "linear_cross_entropy",
}

# torch constructor keywords with nothing to carry over: folded into
# `.reduction` by torch itself, or where torch puts its own tensors.
_FOLDED = ("size_average", "reduce")
_PLACEMENT = ("device", "dtype")


def _fail(kind, msg):
    return kind(f"from_torch: {msg}")


def _torch_base(module):
    """The torch.nn loss class ``module`` is (or inherits unchanged from)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(module, torch.nn.Module):
        raise _fail(
            TypeError,
            f"`module` must be a torch.nn loss Module (one of {', '.join(TORCH_LOSSES)}), "
            f"got {type(module).__name__}.",
        )
    for klass in type(module).__mro__:
        if klass.__name__ in TORCH_LOSSES and getattr(torch.nn, klass.__name__, None) is klass:
            base = klass
            break
    else:
        raise _fail(
            TypeError,
            f"`module` must be a torch.nn loss Module (one of {', '.join(TORCH_LOSSES)}), "
            f"got {type(module).__qualname__}.",
        )
    if type(module) is not base and type(module).forward is not base.forward:
        raise _fail(
            TypeError,
            f"{type(module).__qualname__} overrides {base.__name__}.forward; a custom forward "
            "cannot be translated (build the mlx_losses Module yourself).",
        )
    return torch, base


def _tensor_to_mx(t):
    """A torch tensor -> mx.array with the same values and dtype."""
    import mlx.core as mx

    t = t.detach().cpu()
    name = str(t.dtype).replace("torch.", "")
    if name == "bfloat16":
        return mx.array(t.float().numpy()).astype(mx.bfloat16)
    if not hasattr(mx, name):
        raise _fail(TypeError, f"a tensor option has dtype {t.dtype}, which MLX does not have.")
    return mx.array(t.numpy(), dtype=getattr(mx, name))


def _distance_to_mx(torch, fn):
    """torch's distance_function -> ours; only torch's own pairwise distance
    has a known equivalent."""
    from . import functional as F

    ours = getattr(F, "pairwise_distance", None)
    if fn is None:
        return None
    if fn is torch.nn.functional.pairwise_distance:
        return ours  # None (our default, the same function) until it exists
    if isinstance(fn, torch.nn.PairwiseDistance) and type(fn) is torch.nn.PairwiseDistance:
        if ours is None:
            raise _fail(TypeError, "mlx_losses.functional has no pairwise_distance yet.")
        return functools.partial(ours, p=fn.norm, eps=fn.eps, keepdim=fn.keepdim)
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    raise _fail(
        ValueError,
        f"`distance_function` is a custom torch callable ({name}), which cannot be "
        "translated; pass its MLX equivalent: from_torch(module, distance_function=my_mlx_fn).",
    )


def _is_default(value, default) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if value is default:
        return True
    try:
        return bool(value == default)
    except Exception:  # a tensor against None, say
        return False


def _dtype_to_mx(dtype):
    import mlx.core as mx

    name = str(dtype).replace("torch.", "")
    if not hasattr(mx, name):
        raise _fail(TypeError, f"MLX has no dtype {name}.")
    return getattr(mx, name)


def _convert(torch, value):
    """A torch option value -> ours: tensors and dtypes are converted, a
    dataclass of options (``LinearCrossEntropyOptions``) becomes our class of
    the same name, field by field; anything else is kept."""
    if isinstance(value, torch.Tensor):
        return _tensor_to_mx(value)
    if isinstance(value, torch.dtype):
        return _dtype_to_mx(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from . import modules

        cls_name = type(value).__name__
        ours = getattr(modules, cls_name, None)
        if ours is None:
            raise _fail(TypeError, f"mlx_losses has no {cls_name} for this option.")
        names = {f.name for f in dataclasses.fields(ours)} if dataclasses.is_dataclass(ours) else set()
        kwargs = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name in names:
                kwargs[f.name] = _convert(torch, v)
            elif not (f.default is not dataclasses.MISSING and _is_default(v, f.default)):
                raise _fail(ValueError, f"mlx_losses.{cls_name} has no field `{f.name}` (set to {v!r}).")
        return ours(**kwargs)
    return value


def from_torch(module: Any, **overrides: Any):
    """The mlx_losses Module equivalent to a configured ``torch.nn`` loss.

    Every option of torch's instance is carried over (``weight``,
    ``pos_weight``, ``reduction`` -- with the deprecated ``size_average`` /
    ``reduce`` that torch has already folded into it --, ``margin``, ``p``,
    ``eps``, ``swap``, ``delta``, ``beta``, ``blank``, ``zero_infinity``,
    ``log_target``, ``log_input``, ``full``, ``label_smoothing``,
    ``ignore_index``, ...). Tensor options become ``mx.array`` s with the
    same values and dtype (stored frozen, like torch's buffers).
    ``LinearCrossEntropyLoss`` gets a copy of the values of its linear
    layer's weight and bias.

    Args:
        module (torch.nn.Module): an instance of one of torch's 23 loss
            classes (or of a subclass that does not override ``forward``).
        **overrides: constructor keywords for our Module that replace the
            translated ones, e.g. ``distance_function=my_mlx_distance`` for a
            ``TripletMarginWithDistanceLoss`` built with a custom torch
            distance.

    Returns:
        mlx.nn.Module: the ``mlx_losses`` Module of the same class name.

    Raises:
        TypeError: ``module`` is not a supported torch loss, overrides
            ``forward``, or has no counterpart in this version of mlx_losses;
            an override names a keyword our Module does not take.
        ValueError: an option has no MLX equivalent (a custom torch
            ``distance_function``) or is set to a value our Module lacks.

    Example::

        import torch, mlx_losses
        loss = mlx_losses.from_torch(torch.nn.CrossEntropyLoss(label_smoothing=0.1))
        loss   # CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.1)
    """
    torch, base = _torch_base(module)
    name = base.__name__
    from . import modules
    from ._version import __version__

    ours_cls = getattr(modules, name, None)
    if ours_cls is None:
        raise _fail(TypeError, f"mlx_losses {__version__} has no {name}.")
    ours_params = inspect.signature(ours_cls.__init__).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in ours_params.values())

    def accepts(key: str) -> bool:
        return takes_any or (key in ours_params and key != "self")

    for key in overrides:
        if not accepts(key):
            raise _fail(TypeError, f"mlx_losses.{name} has no keyword `{key}` (in overrides).")

    kwargs: Dict[str, Any] = {}
    for key, param in inspect.signature(base.__init__).parameters.items():
        if key == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if key in overrides:
            continue
        if name == "LinearCrossEntropyLoss" and key in ("in_features", "bias", "dtype"):
            # torch keeps these in its linear layer
            value = {
                "in_features": module.linear.in_features,
                "bias": module.linear.bias is not None,
                "dtype": _dtype_to_mx(module.linear.weight.dtype),
            }[key]
            if accepts(key):
                kwargs[key] = value
            continue
        if key in _FOLDED or key in _PLACEMENT:
            continue
        if not hasattr(module, key):
            # a keyword torch does not store under its name (a newer torch?):
            # refuse rather than silently drop it
            raise _fail(
                TypeError,
                f"cannot read option `{key}` back from this {name}; build "
                f"mlx_losses.{name} by hand.",
            )
        value = getattr(module, key)
        if key == "distance_function":
            value = _distance_to_mx(torch, value)
            if value is None:
                continue
        else:
            value = _convert(torch, value)
        if accepts(key):
            kwargs[key] = value
        elif not _is_default(getattr(module, key), param.default):
            raise _fail(
                ValueError,
                f"mlx_losses.{name} has no option `{key}`, which this {name} sets to "
                f"{getattr(module, key)!r}.",
            )
    kwargs.update(overrides)
    ours = ours_cls(**kwargs)
    if name == "LinearCrossEntropyLoss":
        _copy_linear(module, ours)
    return ours


def _copy_linear(src, ours) -> None:
    """Copy the values of torch's ``src.linear`` into our Module's linear
    weight (and bias): ``ours.linear`` if it has one, else the one trainable
    parameter of the right size."""
    from mlx.utils import tree_flatten, tree_unflatten

    w = _tensor_to_mx(src.linear.weight)
    b = None if src.linear.bias is None else _tensor_to_mx(src.linear.bias)
    flat = dict(tree_flatten(ours.trainable_parameters()))
    updates = []
    for label, value, prefer in (("weight", w, "linear.weight"), ("bias", b, "linear.bias")):
        if value is None:
            continue
        if prefer in flat:
            path = prefer
        else:
            found = [
                k for k, a in flat.items()
                if a.size == value.size and k.split(".")[-1].endswith(label) and k != "weight"
            ]
            if len(found) != 1:
                raise _fail(
                    ValueError,
                    f"cannot tell where mlx_losses.LinearCrossEntropyLoss keeps its linear {label} "
                    f"({value.size} values); candidates: {found or 'none'}.",
                )
            path = found[0]
        target = flat[path]
        if target.size != value.size:
            raise _fail(
                ValueError,
                f"linear {label} has {value.size} values in torch but {target.size} here.",
            )
        updates.append((path, value.reshape(target.shape)))
    ours.update(tree_unflatten(updates))
