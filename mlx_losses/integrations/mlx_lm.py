"""Losses for mlx-lm's trainer: a one-line drop-in for ``default_loss``.

mlx-lm's ``train(..., loss=...)`` takes ``loss(model, batch, lengths) ->
(loss, ntoks)``: the model sees ``batch[:, :-1]``, the targets are
``batch[:, 1:]``, and a target counts where its position ``s`` (1-based)
satisfies ``lengths[:, 0] <= s <= lengths[:, 1]`` (the prompt offset and the
length of each row). The losses here keep that contract and those semantics
exactly::

    from mlx_lm.tuner.trainer import train
    from mlx_losses.integrations.mlx_lm import linear_cross_entropy_loss

    train(model, optimizer, train_set, val_set, args, loss=linear_cross_entropy_loss())

:func:`linear_cross_entropy_loss` never materialises the ``(tokens,
vocabulary)`` logits: it runs the model's own ``__call__`` with its output
head intercepted, takes the hidden states the head receives, and feeds them
with the head's weight to the chunked
:func:`mlx_losses.functional.linear_cross_entropy`. The head and the logit
transform after it are found and checked on a tiny input the first time a
model is used (:func:`find_lm_head`); a model whose logits the loss cannot
reproduce raises :class:`UnsupportedModelError` naming its type.

:func:`token_mean_batches` makes mlx-lm's trainer step on the full-token mean
under gradient accumulation and data parallelism.

:func:`dpo_loss`, :func:`orpo_loss` and :func:`simpo_loss` are the fused
preference losses on the same heads, with the same call,
``loss(model, batch, lengths) -> (loss, ntoks)``, on a batch of chosen rows
then rejected rows (:func:`preference_batch` builds one).

mlx-lm itself is imported only where a function needs it (the default batch
iterator); the losses work on any model object that follows mlx-lm's model
classes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, cast

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

import mlx_losses
from mlx_losses import LinearCrossEntropyOptions, QuantizedWeight
from mlx_losses.functional import (
    cross_entropy,
    fused_linear_dpo_loss,
    fused_linear_orpo_loss,
    fused_linear_simpo_loss,
    linear_cross_entropy,
)
from mlx_losses.losses.preference import DPO_LOSS_TYPES, PreferenceLossOutput

__all__ = [
    "cross_entropy_loss",
    "linear_cross_entropy_loss",
    "find_lm_head",
    "LMHead",
    "UnsupportedModelError",
    "token_mean_batches",
    "dpo_loss",
    "orpo_loss",
    "simpo_loss",
    "preference_batch",
    "QUANTIZATION_MODES",
]

_IGNORE = -100

# Quantization modes whose head the chunked loss reproduces (what
# nn.QuantizedLinear / nn.QuantizedEmbedding compute with mx.quantized_matmul).
QUANTIZATION_MODES = ("affine", "mxfp4", "mxfp8", "nvfp4")

_SUPPORTED_HEADS = (
    "one head applied to the hidden states: an nn.Linear or nn.QuantizedLinear, a "
    "tied nn.Embedding / nn.QuantizedEmbedding (as_linear) or h @ weight.T, followed "
    "by at most a constant logit scale and a tanh softcap"
)


class UnsupportedModelError(ValueError):
    """The chunked loss cannot reproduce this model's logits exactly.

    The message names the model type and what was found; the fallback is
    :func:`cross_entropy_loss`, which takes the model's own logits.
    """


def _msg(fn: str, arg: str, expected: str, got: str) -> str:
    return f"{fn}: `{arg}` must {expected}, got {got}."


def _model_type(model: Any) -> str:
    for obj in (model, getattr(model, "args", None)):
        value = getattr(obj, "model_type", None) if obj is not None else None
        if isinstance(value, str) and value:
            return value
    return f"{type(model).__module__}.{type(model).__name__}"


def _is_tracing_error(err: Exception) -> bool:
    return "[eval]" in str(err)


# --------------------------------------------------------------------------
# mlx-lm's shift and mask (tuner/trainer.py: default_loss)


def _check_batch(fn: str, batch: Any, lengths: Any) -> mx.array:
    """Checks mlx-lm's (batch, lengths); returns ``lengths``."""
    if not isinstance(batch, mx.array):
        raise TypeError(_msg(fn, "batch", "be an mx.array of token ids, (B, T)",
                             type(batch).__name__))
    if not mx.issubdtype(batch.dtype, mx.integer):
        raise TypeError(_msg(fn, "batch", "hold token ids (an integer dtype)",
                             str(batch.dtype).replace("mlx.core.", "")))
    if batch.ndim != 2 or batch.shape[1] < 2:
        raise ValueError(_msg(fn, "batch", "be 2-D, (B, T) with T >= 2 (inputs and "
                              "next-token targets)", f"shape {tuple(batch.shape)}"))
    if lengths is None:
        raise ValueError(_msg(
            fn, "lengths", "be given with the batch: an integer (B, 2) array of "
            "(prompt offset, length) per row, as mlx-lm's iterate_batches yields", "None"))
    if not isinstance(lengths, mx.array) or not mx.issubdtype(lengths.dtype, mx.integer):
        got = type(lengths).__name__ if not isinstance(lengths, mx.array) else str(
            lengths.dtype).replace("mlx.core.", "")
        raise TypeError(_msg(fn, "lengths", "be an integer mx.array, (B, 2)", got))
    if tuple(lengths.shape) != (batch.shape[0], 2):
        raise ValueError(_msg(fn, "lengths", f"have shape ({batch.shape[0]}, 2) for a "
                              f"batch of shape {tuple(batch.shape)}",
                              f"shape {tuple(lengths.shape)}"))
    return lengths


def _shift_and_mask(batch: mx.array, lengths: mx.array) -> Tuple[mx.array, mx.array, mx.array]:
    """(inputs, targets, mask), exactly as mlx-lm's ``default_loss``."""
    inputs = batch[:, :-1]
    targets = batch[:, 1:]
    steps = mx.arange(1, targets.shape[1] + 1)
    mask = mx.logical_and(steps >= lengths[:, 0:1], steps <= lengths[:, 1:])
    return inputs, targets, mask


def _check_token_range(fn: str, model: Any, batch: mx.array, lengths: mx.array,
                       vocab: int) -> None:
    """Eager only, behind mlx_losses' value-check switch: every token the
    loss reads (positions below each row's length) lies in [0, vocab)."""
    if not mlx_losses.value_checks_enabled():
        return
    real = mx.arange(batch.shape[1]) < lengths[:, 1:]
    bad = real & ((batch < 0) | (batch >= vocab))
    try:
        if not mx.any(bad).item():
            return
        picked = mx.where(bad, batch, 0)
        low = cast(int, mx.min(picked).item())
        value = low if low < 0 else cast(int, mx.max(picked).item())
    except ValueError as err:
        if _is_tracing_error(err):
            return  # under mx.compile: the values are not there to read
        raise
    raise ValueError(_msg(fn, "batch", f"hold token ids in [0, {vocab}) (the vocabulary of "
                          f"model type {_model_type(model)!r}) up to each row's length",
                          str(value)))


def _float32_sum(x: mx.array) -> mx.array:
    return x.astype(mx.float32).sum()


# --------------------------------------------------------------------------
# finding the head: the model's own __call__ with the head intercepted


@dataclasses.dataclass(frozen=True)
class LMHead:
    """Where a model's logits come from, as :func:`find_lm_head` found them.

    ``logits = softcap * tanh(logit_scale * head(h) / softcap)`` (without the
    tanh when ``softcap`` is ``None``), ``h`` being what the model passes to
    its head.

    Attributes:
        model_type (str): The model's ``model_type``.
        kind (str): ``"linear"`` (an ``nn.Linear`` / ``nn.QuantizedLinear``
            called on ``h``), ``"embedding"`` (an ``nn.Embedding`` /
            ``nn.QuantizedEmbedding`` called ``as_linear``) or ``"matmul"``
            (``h @ weight.T`` with a weight array of the model).
        path (str): Dotted path of the head layer, or of the weight array
            for ``"matmul"`` (``"lm_head"``, ``"model.embed_tokens"``,
            ``"model.embed_tokens.weight"``...).
        tied (bool): The head's weight is the input embedding's.
        quantized (bool): The head is ``nn.QuantizedLinear`` /
            ``nn.QuantizedEmbedding``.
        vocab_size (int): Rows of the head (the logits' last dimension).
        logit_scale (float): Constant multiplier of the head's output.
        softcap (float, optional): The tanh softcap, or ``None``.
        verified (bool): Whether the reconstruction was also compared with the
            model's own logits (always, unless the model was first met inside
            ``mx.compile``, where its weights have no values: then the
            structure is checked, and the next eager call adds the numbers).
    """

    model_type: str
    kind: str
    path: str
    tied: bool
    quantized: bool
    vocab_size: int
    logit_scale: float = 1.0
    softcap: Optional[float] = None
    verified: bool = False


_LINEAR_TYPES = (nn.Linear, nn.QuantizedLinear)
_EMBEDDING_TYPES = (nn.Embedding, nn.QuantizedEmbedding)
_QUANTIZED_TYPES = (nn.QuantizedLinear, nn.QuantizedEmbedding)
_EXACT_TYPES = (nn.Linear, nn.QuantizedLinear, nn.Embedding, nn.QuantizedEmbedding)


@dataclasses.dataclass(frozen=True)
class _Site:
    """A place where the head can be applied to the hidden states."""

    kind: str  # "linear" | "embedding" | "matmul"
    path: str  # the layer, or the module holding the array ("matmul")
    key: str = ""  # the array's key in that module ("matmul")

    @property
    def name(self) -> str:
        return ".".join(p for p in (self.path, self.key) if p)


# id(module) -> the hook its capture class calls (set only inside _hooked)
_HOOKS: Dict[int, Callable] = {}
_CAPTURE_CLASSES: Dict[type, type] = {}


def _capture_class(cls: type) -> type:
    """A subclass of ``cls`` whose head call goes through the module's hook."""
    sub = _CAPTURE_CLASSES.get(cls)
    if sub is None:
        attrs: Dict[str, Any] = {}
        if issubclass(cls, _EMBEDDING_TYPES):
            def as_linear(self, x, *args, **kwargs):
                return _HOOKS[id(self)](x, lambda: cls.as_linear(self, x, *args, **kwargs),
                                        bool(args or kwargs))
            attrs["as_linear"] = as_linear
        else:
            def __call__(self, x, *args, **kwargs):
                return _HOOKS[id(self)](x, lambda: cls.__call__(self, x, *args, **kwargs),
                                        bool(args or kwargs))
            attrs["__call__"] = __call__
        sub = type(cls.__name__, (cls,), attrs)
        _CAPTURE_CLASSES[cls] = sub
    return sub


def _capture_array(array: mx.array, hook: Callable) -> mx.array:
    """``array``, as an mx.array subclass whose ``.T`` captures ``h @ array.T``
    (Python tries a subclass's reflected ``__rmatmul__`` first)."""

    class _Transposed(mx.array):
        def __rmatmul__(self, other):
            plain = mx.array(self)
            return hook(other, lambda: other @ plain, False)

    class _Weight(mx.array):
        @property
        def T(self):  # noqa: N802 - mx.array's name
            return _Transposed(mx.array.T.fget(self))

    return _Weight(array)


@contextlib.contextmanager
def _hooked(model: nn.Module, sites: List[_Site], hook_for: Callable[[_Site], Callable]):
    """Route each site's head application through ``hook_for(site)`` for the
    duration: ``hook(x, compute, extra_args) -> output``, ``compute()`` giving
    the site's own output. The model's parameters stay where they are."""
    undo: List[Callable[[], None]] = []
    try:
        for site in sites:
            owner = _resolve(model, site.path)
            hook = hook_for(site)
            if site.kind == "matmul":
                old = owner[site.key]
                dict.__setitem__(owner, site.key, _capture_array(old, hook))
                def put_back(o: Any = owner, k: str = site.key, v: Any = old) -> None:
                    dict.__setitem__(o, k, v)

                undo.append(put_back)
            else:
                cls = type(owner)
                owner.__class__ = _capture_class(cls)
                _HOOKS[id(owner)] = hook
                def restore(o: Any = owner, c: type = cls) -> None:
                    o.__class__ = c
                    _HOOKS.pop(id(o), None)

                undo.append(restore)
        yield
    finally:
        for fn in reversed(undo):
            fn()


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """model.eval() for the duration (no dropout, so two calls agree), then
    every module's own training flag back."""
    # getattr: a model class whose __init__ skips nn.Module's has no flag yet
    flags = [(path.count(".") + bool(path), m, getattr(m, "training", True))
             for path, m in model.named_modules()]
    model.eval()
    try:
        yield
    finally:
        for _, m, flag in sorted(flags, key=lambda t: t[0]):
            m.train(flag)


def _resolve(model: nn.Module, path: str) -> Any:
    obj: Any = model
    for part in path.split(".") if path else ():
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def _head_arrays(model: nn.Module, head: LMHead, dtype: mx.Dtype
                 ) -> Tuple[mx.array, Optional[mx.array]]:
    """The head's weight (dequantized if quantized) and bias, in ``dtype``."""
    module = _resolve(model, head.path)
    if head.kind == "matmul":
        return module.astype(dtype), None
    if isinstance(module, _QUANTIZED_TYPES):
        w = mx.dequantize(module["weight"], module["scales"], module.get("biases"),
                          group_size=module.group_size, bits=module.bits,
                          mode=module.mode, dtype=dtype)
    else:
        w = module["weight"].astype(dtype)
    bias = module["bias"].astype(dtype) if (
        isinstance(module, _LINEAR_TYPES) and "bias" in module) else None
    return w, bias


def _head_weight(model: nn.Module, head: LMHead) -> Tuple[Any, Optional[mx.array]]:
    """The head as linear_cross_entropy takes it: the weight array, or a
    QuantizedWeight (dequantized a block at a time there), and the bias."""
    module = _resolve(model, head.path)
    if head.kind == "matmul":
        return module, None
    weight = (QuantizedWeight.from_module(module) if isinstance(module, _QUANTIZED_TYPES)
              else module["weight"])
    bias = module["bias"] if isinstance(module, _LINEAR_TYPES) and "bias" in module else None
    return weight, bias


def _apply_transform(z: mx.array, head: LMHead) -> mx.array:
    if head.logit_scale != 1.0:
        z = z * head.logit_scale
    if head.softcap is not None:
        z = mx.tanh(z / head.softcap) * head.softcap
    return z


def _eps(dtype: mx.Dtype) -> float:
    return {mx.float16: 2.0 ** -10, mx.bfloat16: 2.0 ** -7}.get(dtype, 2.0 ** -23)


def _is_traced(array: mx.array) -> bool:
    """Whether ``array`` is a placeholder of an ``mx.compile`` trace."""
    try:
        mx.eval(array)
    except ValueError as err:
        if _is_tracing_error(err):
            return True
        raise
    return False


# Values the probe head returns (exact in every float dtype): zeros, small
# and moderate logits of both signs, and two huge ones (2^13, 2^14) that
# tell a softcap (both saturate to the cap) from a scale (the second is
# twice the first).
_HUGE = 8192.0
_PROBE = (0.0, 1.0, -1.0, 0.5, -0.5, 0.125, -0.25, 2.0, -2.0, 3.0, -3.0, 5.0, -5.0,
          7.5, -10.0, 15.0, -20.0, 30.0, -40.0, _HUGE, -_HUGE, 2 * _HUGE, -2 * _HUGE, 0.75)


def _probe_values(shape: Tuple[int, ...], dtype: mx.Dtype) -> mx.array:
    n = math.prod(shape)
    reps = -(-n // len(_PROBE))
    return mx.array(list(_PROBE) * reps, dtype=mx.float32)[:n].reshape(shape).astype(dtype)


def _fit_transform(p: mx.array, y: mx.array) -> Tuple[Optional[Tuple[float, Optional[float]]], str]:
    """((scale, softcap), "") with ``y = cap * tanh(scale * p / cap)`` (or
    ``scale * p``) elementwise to ``y``'s rounding, else (None, why not)."""
    import numpy as np

    pv = np.asarray(p.astype(mx.float32), dtype=np.float64).ravel()
    yv = np.asarray(y.astype(mx.float32), dtype=np.float64).ravel()
    if not np.all(np.isfinite(yv)):
        return None, "it sets some logits to inf or NaN after the head"
    tol = 8 * _eps(y.dtype)
    y1 = float(yv[pv == _HUGE][0])
    y2 = float(yv[pv == 2 * _HUGE][0])
    cap: Optional[float] = None
    if y1 > 0 and abs(y2 - y1) <= tol * abs(y1):
        cap = y1
        u = yv / cap
        use = (pv != 0) & (np.abs(u) < 0.9)
        if not use.any():
            return None, "its logits saturate like a softcap, but not as tanh does"
        scale = float(np.median(cap * np.arctanh(u[use]) / pv[use]))
    else:
        use = (pv != 0) & (np.abs(pv) < _HUGE)
        scale = float(np.median(yv[use] / pv[use]))
    if not math.isfinite(scale) or scale == 0.0:
        return None, "the head's output does not reach the logits"
    if abs(scale - 1.0) <= tol:
        scale = 1.0
    want = scale * pv if cap is None else cap * np.tanh(scale * pv / cap)
    bound = tol * (np.abs(want) + (abs(cap) if cap is not None else 1.0))
    if not np.all(np.abs(yv - want) <= bound):
        return None, ("what it does to the head's output is not a constant scale and a "
                      "tanh softcap")
    return (scale, cap), ""


def _refuse(fn: str, model: Any, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(_msg(
        fn, "model", f"have logits the chunked loss can reproduce ({_SUPPORTED_HEADS})",
        f"model type {_model_type(model)!r}: {why}; use cross_entropy_loss() for this model"))


def _sites(model: nn.Module, vocab: int) -> List[_Site]:
    """Every place a vocabulary-sized head could be applied."""
    layers, arrays = [], []
    for path, m in model.named_modules():
        if isinstance(m, (*_LINEAR_TYPES, *_EMBEDDING_TYPES)):
            w = m.get("weight")
            if isinstance(w, mx.array) and w.ndim == 2 and w.shape[0] == vocab:
                kind = "embedding" if isinstance(m, _EMBEDDING_TYPES) else "linear"
                layers.append(_Site(kind, path))
            if isinstance(m, _LINEAR_TYPES):
                continue  # a linear layer's weight only enters through its call
        for key, value in m.items():
            if (isinstance(value, mx.array) and value.ndim == 2 and value.shape[0] == vocab
                    and mx.issubdtype(value.dtype, mx.floating)):
                arrays.append(_Site("matmul", path, key))
    return layers + arrays


def _run_probe(model: nn.Module, tiny: mx.array, site: _Site):
    """The model on ``tiny`` with ``site`` returning probe values.

    Returns (calls, output): each call as (input, probe or None)."""
    calls: List[Tuple[mx.array, Optional[mx.array]]] = []

    def hook_for(_site):
        def hook(x, compute, extra):
            real = compute()
            if not isinstance(real, mx.array) or extra:
                calls.append((x, None))
                return real
            probe = _probe_values(tuple(real.shape), real.dtype)
            calls.append((x, probe))
            return probe
        return hook

    with _hooked(model, [site], hook_for):
        out = model(tiny)
    return calls, out


def _probe_free(model: nn.Module, tiny: mx.array, site: _Site):
    """Run the probe with every array of the model unknown (an mx.compile
    trace): the output then has a value only if it needs nothing but the
    probe. Returns (calls, output, output has a value)."""
    result: Dict[str, Any] = {}
    flat = cast(List[Tuple[str, Any]], tree_flatten(model.parameters()))

    def traced(*arrays):
        model.update(tree_unflatten(list(zip([k for k, _ in flat], arrays))))
        calls, out = _run_probe(model, tiny, site)
        result["calls"], result["out"] = calls, out
        try:
            mx.eval(out)
            result["free"] = True
        except ValueError as err:
            if not _is_tracing_error(err):
                raise
            result["free"] = False
        return mx.zeros(())

    if flat and not _is_traced(flat[0][1]):
        try:
            mx.compile(traced)(*[v for _, v in flat])
        finally:
            model.update(tree_unflatten(flat))
    else:  # inside mx.compile already: the model's arrays are unknown as they are
        traced(*[v for _, v in flat])
        model.update(tree_unflatten(flat))
    return result["calls"], result["out"], result["free"]


def _vocab_sized(model: nn.Module, vocab: int) -> str:
    """Where the model keeps its vocabulary-sized weights (for a refusal)."""
    found = []
    for path, m in model.named_modules():
        for key, value in m.items():
            if (isinstance(value, mx.array) and value.ndim == 2 and value.shape[0] == vocab
                    and key not in ("scales", "biases")):
                where = f"{path}.{key}" if path else key
                found.append(f"{where!r} ({type(m).__name__})")
    if not found:
        return "it holds no weight with that many rows"
    return ("its vocabulary-sized weights " + ", ".join(found[:4])
            + " are used some other way (another layer type, or not as h @ weight.T)")


def _discover(fn: str, model: nn.Module) -> LMHead:
    tiny = mx.array([[0, 1, 2, 3]], dtype=mx.int32)
    with _eval_mode(model):
        ref = model(tiny)
        if not isinstance(ref, mx.array) or ref.ndim != 3 or tuple(ref.shape[:2]) != (1, 4):
            got = (f"shape {tuple(ref.shape)}" if isinstance(ref, mx.array)
                   else type(ref).__name__)
            raise _refuse(fn, model, f"its __call__ returns {got}, not (B, T, vocabulary) logits")
        vocab = ref.shape[-1]
        sites = _sites(model, vocab)
        # which of them run, in call order (the head runs last, as a rule)
        order: List[_Site] = []

        def record_for(site):
            def hook(x, compute, extra):
                order.append(site)
                return compute()
            return hook

        with _hooked(model, sites, record_for):
            model(tiny)
        ran = list(dict.fromkeys(reversed(order)))
        ran = [s for s in ran if s.kind != "matmul"] + [s for s in ran if s.kind == "matmul"]
        if not ran:
            raise _refuse(fn, model, "no nn.Linear / nn.Embedding layer with "
                          f"{vocab} rows is called on the hidden states; "
                          + _vocab_sized(model, vocab))
        found = None
        tried = []
        for site in ran:
            calls, out, free = _probe_free(model, tiny, site)
            if len(calls) != 1:
                why = f"it is applied {len(calls)} times per forward"
            elif calls[0][1] is None:
                why = "it is called with extra arguments"
            elif not isinstance(out, mx.array) or out.shape != calls[0][1].shape:
                why = "the logits do not have the shape of its output"
            elif not free:
                why = "the logits depend on more than its output (another weight, a learned scale)"
            else:
                fit, why = _fit_transform(calls[0][1], out)
                if fit is not None:
                    found = (site, fit)
                    break
            tried.append(f"{site.name!r}: {why}")
        if found is None:
            raise _refuse(fn, model, "no single head application explains its logits: "
                          + "; ".join(tried))
        site, (scale, cap) = found
        # the real hidden states the head sees (for the shapes and the numbers)
        seen: List[mx.array] = []

        def see_for(_site):
            def hook(x, compute, extra):
                seen.append(x)
                return compute()
            return hook

        with _hooked(model, [site], see_for):
            model(tiny)
    x = seen[0]
    owner = _resolve(model, site.path)
    if site.kind != "matmul" and type(owner) not in _EXACT_TYPES:
        raise _refuse(fn, model, f"its head {site.name!r} is a {type(owner).__name__}, a "
                      "subclass whose forward may differ from mlx.nn's")
    if x.ndim != 3 or tuple(x.shape[:2]) != (1, 4):
        raise _refuse(fn, model, f"its head {site.name!r} sees input of shape "
                      f"{tuple(x.shape)}, not the hidden state of every position")
    if isinstance(owner, _QUANTIZED_TYPES) and owner.mode not in QUANTIZATION_MODES:
        raise _refuse(fn, model, f"its head {site.name!r} is quantized in mode "
                      f"{owner.mode!r}; supported modes: {', '.join(QUANTIZATION_MODES)}")
    tied = site.kind == "embedding" or (
        site.kind == "matmul" and isinstance(owner, _EMBEDDING_TYPES))
    head = LMHead(
        model_type=_model_type(model), kind=site.kind, path=site.name, tied=tied,
        quantized=isinstance(owner, _QUANTIZED_TYPES), vocab_size=vocab,
        logit_scale=scale, softcap=cap, verified=False)
    if _is_traced(ref):
        return head  # inside mx.compile: the numbers wait for an eager call
    # the numbers: the reconstruction against the model's own logits
    w, b = _head_arrays(model, head, mx.float32)
    z = x.astype(mx.float32) @ w.T
    if b is not None:
        z = z + b
    mine = _apply_transform(z, head)
    theirs = ref.astype(mx.float32)
    tol = 16 * _eps(ref.dtype) + 16 * _eps(x.dtype)
    err = cast(float, mx.max(mx.abs(mine - theirs)).item())
    size = cast(float, mx.max(mx.abs(theirs)).item())
    if not (math.isfinite(err) and err <= tol * (size + 1.0)):
        raise _refuse(fn, model, f"rebuilding its logits from head {site.name!r} gives a "
                      f"largest difference of {err:.3g} (logits up to {size:.3g})")
    return dataclasses.replace(head, verified=True)


# id(model) -> (weakref to the model, the head, the head object's type then)
_PLANS: Dict[int, Tuple[Any, LMHead, type]] = {}


def find_lm_head(model: nn.Module, *, _fn: str = "find_lm_head") -> LMHead:
    """Find and check how ``model`` makes its logits (cached per model).

    Runs the model's own ``__call__`` on a 4-token input with the places its
    head could be applied intercepted, and requires exactly one head
    application to the hidden state of every position: an ``nn.Linear`` or
    ``nn.QuantizedLinear`` (quantization mode in :data:`QUANTIZATION_MODES`)
    called on it, an ``nn.Embedding`` / ``nn.QuantizedEmbedding`` called
    ``as_linear`` (tied), or ``h @ weight.T`` with a weight array of the
    model; then at most a constant scale and a tanh softcap, fitted on probe
    values with every model array unknown (so cohere's ``logit_scale``,
    granite's ``logits_scaling``, gemma's final-logit softcapping... are
    found whatever they are called, and a learned scale is refused). Then
    it compares the reconstruction with the model's own logits. The result
    is cached per model object and found again when the head changes type
    (quantized, wrapped).

    Raises:
        UnsupportedModelError: naming the model type and what was found,
            when the logits cannot be reproduced.
    """
    key = id(model)
    entry = _PLANS.get(key)
    if entry is not None:
        ref, head, cls = entry
        if ref() is model:
            obj: Any
            try:
                obj = _resolve(model, head.path)
            except (KeyError, IndexError, TypeError):
                obj = None
            same_type = type(obj) is cls
            if same_type and (head.verified or _is_traced(obj if head.kind == "matmul"
                                                          else obj["weight"])):
                return head
    head = _discover(_fn, model)
    cls = type(_resolve(model, head.path))
    def forget(_ref: Any, k: int = key) -> None:
        _PLANS.pop(k, None)

    _PLANS[key] = (weakref.ref(model, forget), head, cls)
    return head


def _hidden(fn: str, model: nn.Module, head: LMHead, inputs: mx.array) -> mx.array:
    """The hidden states the model passes to its head, from its own __call__.

    The head still runs (its lazy output is never evaluated: nothing the
    loss returns depends on it)."""
    if head.kind == "matmul":
        path, _, key = head.path.rpartition(".")
        site = _Site("matmul", path, key)
    else:
        site = _Site(head.kind, head.path)
    seen: List[mx.array] = []

    def hook_for(_site):
        def hook(x, compute, extra):
            seen.append(x)
            return compute()
        return hook

    with _hooked(model, [site], hook_for):
        model(inputs)
    if len(seen) != 1 or tuple(seen[0].shape[:-1]) != tuple(inputs.shape):
        shapes = ", ".join(str(tuple(s.shape)) for s in seen) or "none"
        raise _refuse(fn, model, f"its head {head.path!r} was applied to {shapes} for inputs "
                      f"of shape {tuple(inputs.shape)}")
    return seen[0]


# --------------------------------------------------------------------------
# the losses


def _check_float(fn: str, name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(_msg(fn, name, "be a float", type(value).__name__))
    value = float(value)
    if not (lo <= value <= hi):
        raise ValueError(_msg(fn, name, f"be in [{lo:g}, {hi:g}]", repr(value)))
    return value


class _MLXLMLoss:
    """``loss(model, batch, lengths[, token_scale]) -> (loss, ntoks)``."""

    _fn = ""
    # (model, batch, lengths, inputs, target) -> the summed token losses
    _token_losses: Callable[..., mx.array]

    def __init__(self, label_smoothing: float, z_loss: float, float32: bool) -> None:
        fn = self._fn
        self.label_smoothing = _check_float(fn, "label_smoothing", label_smoothing, 0.0, 1.0)
        self.z_loss = _check_float(fn, "z_loss", z_loss, 0.0, math.inf)
        if not isinstance(float32, bool):
            raise TypeError(_msg(fn, "float32", "be a bool", type(float32).__name__))
        self.float32 = float32

    @property
    def _out_dtype(self) -> Optional[mx.Dtype]:
        # float32 per-token losses for half-precision models; else torch's rule
        return mx.float32 if self.float32 else None

    def _options(self) -> Dict[str, Any]:
        return {"label_smoothing": self.label_smoothing, "z_loss": self.z_loss,
                "float32": self.float32}

    def __repr__(self) -> str:
        defaults = {"label_smoothing": 0.0, "z_loss": 0.0, "float32": True, "options": None}
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items()
                         if not (k in defaults and v == defaults[k]))
        return f"{self._fn}({opts})"

    def __call__(self, model: nn.Module, batch: mx.array, lengths: Optional[mx.array] = None,
                 token_scale: Optional[mx.array] = None) -> Tuple[mx.array, mx.array]:
        fn = self._fn
        lengths = _check_batch(fn, batch, lengths)
        inputs, targets, mask = _shift_and_mask(batch, lengths)
        target = mx.where(mask, targets, _IGNORE).reshape(-1)
        total = self._token_losses(model, batch, lengths, inputs, target)
        ntoks = mask.sum()
        if token_scale is not None:
            return total * token_scale, ntoks
        return total / ntoks, ntoks


class _CrossEntropyLoss(_MLXLMLoss):
    _fn = "cross_entropy_loss"

    def _token_losses(self, model, batch, lengths, inputs, target):
        logits = model(inputs)
        vocab = logits.shape[-1]
        _check_token_range(self._fn, model, batch, lengths, vocab)
        ce = cross_entropy(logits.reshape(-1, vocab), target, reduction="none",
                           label_smoothing=self.label_smoothing, z_loss=self.z_loss,
                           out_dtype=self._out_dtype)
        return _float32_sum(ce)


class _LinearCrossEntropyLoss(_MLXLMLoss):
    _fn = "linear_cross_entropy_loss"

    def __init__(self, label_smoothing, z_loss, float32, options) -> None:
        super().__init__(label_smoothing, z_loss, float32)
        if options is not None and not isinstance(options, LinearCrossEntropyOptions):
            raise TypeError(_msg(self._fn, "options", "be a LinearCrossEntropyOptions",
                                 type(options).__name__))
        self.options = options

    def _options(self) -> Dict[str, Any]:
        return {**super()._options(), "options": self.options}

    def _token_losses(self, model, batch, lengths, inputs, target):
        fn = self._fn
        head = find_lm_head(model, _fn=fn)
        _check_token_range(fn, model, batch, lengths, head.vocab_size)
        h = _hidden(fn, model, head, inputs)
        x = h.reshape(-1, h.shape[-1])
        w, b = _head_weight(model, head)
        if not isinstance(w, QuantizedWeight) and w.dtype != x.dtype:
            # the head's matmul promotes the two dtypes: so here
            dtype = mx.promote_types(w.dtype, x.dtype)
            x, w = x.astype(dtype), w.astype(dtype)
            b = b.astype(dtype) if b is not None else None
        ce = linear_cross_entropy(
            x, w, target, linear_bias=b, reduction="none",
            label_smoothing=self.label_smoothing,
            options=self.options or _default_options(x.shape[0], x.shape[1], head.vocab_size),
            softcap=head.softcap, logit_scale=head.logit_scale, z_loss=self.z_loss,
            out_dtype=self._out_dtype)
        return _float32_sum(ce)


def cross_entropy_loss(*, label_smoothing: float = 0.0, z_loss: float = 0.0,
                       float32: bool = True) -> Callable:
    """mlx-lm's ``default_loss`` contract on the model's own logits.

    ``loss(model, batch, lengths) -> (loss, ntoks)`` with mlx-lm's shift and
    mask: the mean over the counted tokens of
    :func:`mlx_losses.functional.cross_entropy`, plus ``z_loss`` times the
    mean squared log-sum-exp of the logits (PaLM / ST-MoE's z-loss). Works
    for every model (it takes the ``(B, T, V)`` logits the model returns);
    see :func:`linear_cross_entropy_loss` for the memory-saving form.

    Args:
        label_smoothing (float, optional): In ``[0, 1]``, torch's
            definition. Default: ``0.0``.
        z_loss (float, optional): Weight of the squared log-sum-exp
            penalty. Default: ``0.0``.
        float32 (bool, optional): Compute each token's loss in float32 for
            float16 / bfloat16 models. ``False`` reproduces ``default_loss``,
            which rounds each token's loss to the model's dtype before the
            float32 sum. Default: ``True``.

    Returns:
        A callable ``loss(model, batch, lengths) -> (loss, ntoks)``: ``loss``
        a float32 scalar, ``ntoks`` the int32 count of counted tokens.
    """
    return _CrossEntropyLoss(label_smoothing, z_loss, float32)


def linear_cross_entropy_loss(*, label_smoothing: float = 0.0, z_loss: float = 0.0,
                              float32: bool = True, batch_chunk_size: Optional[int] = None,
                              vocab_chunk_size: Optional[int] = None,
                              options: Optional[LinearCrossEntropyOptions] = None) -> Callable:
    """mlx-lm's ``default_loss`` contract without the ``(tokens, vocabulary)`` logits.

    The same loss as :func:`cross_entropy_loss` (values and gradients, to
    rounding), computed by the chunked
    :func:`mlx_losses.functional.linear_cross_entropy` from the hidden states
    the model passes to its head: tied and untied heads, quantized ones, and
    a logit scale or softcap after the head. The head is found and checked
    against the model's own logits on first use (:func:`find_lm_head`); a
    model it cannot reproduce raises :class:`UnsupportedModelError`.

    Args:
        label_smoothing (float, optional): In ``[0, 1]``. Default: ``0.0``.
        z_loss (float, optional): Weight of the squared log-sum-exp penalty.
            Default: ``0.0``.
        float32 (bool, optional): float32 loss for float16 / bfloat16
            models (see :func:`cross_entropy_loss`). Default: ``True``.
        batch_chunk_size (int, optional): Tokens per chunk
            (``LinearCrossEntropyOptions.batch_chunk_size``). Default: ``None``.
        vocab_chunk_size (int, optional): Classes per chunk
            (``LinearCrossEntropyOptions.vocab_chunk_size``). Default: ``None``.
        options (LinearCrossEntropyOptions, optional): All chunking options at
            once (instead of the two above). Default: ``None``: with none of
            the three, ``linear_cross_entropy``'s automatic tiling, but
            tiles of at least 2^18 logits (every token of the batch against
            a block of classes) where that tiling's would be smaller (small
            hidden sizes).

    Returns:
        A callable ``loss(model, batch, lengths) -> (loss, ntoks)``.
    """
    fn = _LinearCrossEntropyLoss._fn
    if options is None:
        if batch_chunk_size is not None or vocab_chunk_size is not None:
            options = LinearCrossEntropyOptions(batch_chunk_size=batch_chunk_size,
                                                vocab_chunk_size=vocab_chunk_size)
    elif batch_chunk_size is not None or vocab_chunk_size is not None:
        raise ValueError(_msg(fn, "options", "be None when batch_chunk_size or "
                              "vocab_chunk_size is given", repr(options)))
    return _LinearCrossEntropyLoss(label_smoothing, z_loss, float32, options)


# The smallest tile (logits) of the default tiling: below it, per-tile
# overhead dominates a step at small hidden sizes (docs/mlx-lm.md).
_MIN_TILE_LOGITS = 1 << 18


def _default_options(tokens: int, hidden: int, vocab: int) -> LinearCrossEntropyOptions:
    """linear_cross_entropy's automatic tiling (a tile of about max(C, N) *
    in_features / 64 logits), or, where that is under _MIN_TILE_LOGITS (small
    hidden sizes), every token against blocks of that many logits."""
    if max(vocab, tokens) * hidden // 64 >= _MIN_TILE_LOGITS or tokens == 0:
        return LinearCrossEntropyOptions()
    block = max(64, (_MIN_TILE_LOGITS // tokens) // 64 * 64)
    return LinearCrossEntropyOptions(batch_chunk_size=tokens, vocab_chunk_size=min(block, vocab))


# --------------------------------------------------------------------------
# token-correct means under gradient accumulation and data parallelism


def _count(batch: mx.array, lengths: mx.array) -> mx.array:
    return _shift_and_mask(batch, lengths)[2].sum()


def token_mean_batches(grad_accumulation_steps: int = 1,
                       iterate_batches: Optional[Callable] = None) -> Callable:
    """An ``iterate_batches`` for mlx-lm's ``train`` whose steps use the
    full-token mean.

    mlx-lm's trainer averages per-micro-batch means over
    ``grad_accumulation_steps`` micro-batches and per-rank means over the
    ranks: with uneven token counts (padding, prompt masks) that weights the
    tokens unequally. This wraps mlx-lm's batch iterator so that each
    training batch also carries ``K * N / T`` (``K`` micro-batches per
    update, ``N`` ranks, ``T`` counted tokens in the update's micro-batches
    on all ranks); the losses here then return their token sum times it, and
    the trainer's own sum-then-divide makes each update's gradient (and the
    reported loss) the mean over every counted token of the update.
    Evaluation batches pass through unchanged.

    Use it with this module's losses and the same accumulation::

        train(model, opt, train_set, val_set, args, loss=linear_cross_entropy_loss(),
              iterate_batches=token_mean_batches(args.grad_accumulation_steps))

    Args:
        grad_accumulation_steps (int, optional): The trainer's
            ``grad_accumulation_steps``. Default: ``1``.
        iterate_batches (callable, optional): The iterator to wrap.
            Default: mlx-lm's ``tuner.trainer.iterate_batches``.
    """
    fn = "token_mean_batches"
    k = grad_accumulation_steps
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(_msg(fn, "grad_accumulation_steps", "be an int >= 1", repr(k)))
    if iterate_batches is None:
        from mlx_lm.tuner.trainer import iterate_batches as default_batches

        iterate_batches = default_batches
    batches_of: Callable[..., Any] = iterate_batches

    def iterate(dataset, batch_size, max_seq_length, loop=False, seed=None,
                comm_group=None, **kwargs) -> Iterator[Tuple[mx.array, ...]]:
        batches = batches_of(dataset=dataset, batch_size=batch_size,
                             max_seq_length=max_seq_length, loop=loop, seed=seed,
                             comm_group=comm_group, **kwargs)
        if not loop:  # evaluate(): it weights each batch's mean by its count
            yield from batches
            return
        ranks = comm_group.size() if comm_group is not None else 1
        while True:
            window = list(itertools.islice(batches, k))
            if not window:
                return
            total = sum((_count(b, l) for b, l in window[1:]), _count(*window[0]))
            if ranks > 1:
                total = mx.distributed.all_sum(total, group=comm_group, stream=mx.cpu)
            scale = mx.array(k * ranks, mx.float32) / total.astype(mx.float32)
            mx.eval(scale)
            for batch, lengths in window:
                yield batch, lengths, scale

    return iterate


# --------------------------------------------------------------------------
# preference losses on the model's head: the fused DPO / ORPO / SimPO


def preference_batch(pairs) -> Tuple[mx.array, mx.array]:
    """The batch the preference losses take, from ``(prompt, chosen,
    rejected)`` token-id lists.

    Returns ``(batch, lengths)``: ``batch`` int32 ``(2B, T)``, the ``B``
    prompt + chosen rows and then the ``B`` prompt + rejected rows, padded
    with 0; ``lengths`` int32 ``(2B, 2)``, each row's ``(prompt length,
    length)`` (mlx-lm's ``(offset, length)`` layout).
    """
    fn = "preference_batch"
    rows: List[List[int]] = []
    spans: List[Tuple[int, int]] = []
    pairs = list(pairs)
    if not pairs:
        raise ValueError(_msg(fn, "pairs", "hold at least one (prompt, chosen, rejected)",
                              "none"))
    for side in (1, 2):
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 3:
                raise ValueError(_msg(fn, f"pairs[{i}]", "be (prompt, chosen, rejected) "
                                      "token-id lists", repr(pair)))
            prompt, completion = list(pair[0]), list(pair[side])
            if not completion:
                raise ValueError(_msg(fn, f"pairs[{i}]", "have a non-empty chosen and "
                                      "rejected completion", "an empty one"))
            rows.append(prompt + completion)
            spans.append((len(prompt), len(prompt) + len(completion)))
    width = max(len(r) for r in rows)
    batch = [r + [0] * (width - len(r)) for r in rows]
    return mx.array(batch, dtype=mx.int32), mx.array(spans, dtype=mx.int32)


def _completion_mask(batch: mx.array, lengths: mx.array) -> Tuple[mx.array, mx.array, mx.array]:
    """(inputs, targets, mask): a target counts where it is a completion
    token, ``offset <= s < length`` (TRL's completion mask; mlx-lm's
    ``default_loss`` also counts position ``length``, the padding after a
    row)."""
    inputs = batch[:, :-1]
    targets = batch[:, 1:]
    steps = mx.arange(1, targets.shape[1] + 1)
    mask = mx.logical_and(steps >= lengths[:, 0:1], steps < lengths[:, 1:])
    return inputs, targets, mask


def _head_inputs(fn: str, model: nn.Module, head: LMHead, inputs: mx.array
                 ) -> Tuple[mx.array, Any, Optional[mx.array]]:
    """The hidden states ``model`` passes to its head, and the head's weight
    and bias as the fused losses take them (a float head promoted with the
    hidden states, as the head's own matmul)."""
    h = _hidden(fn, model, head, inputs)
    w, b = _head_weight(model, head)
    if not isinstance(w, QuantizedWeight) and w.dtype != h.dtype:
        dtype = mx.promote_types(w.dtype, h.dtype)  # type: ignore[attr-defined]
        h, w = h.astype(dtype), w.astype(dtype)
        b = b.astype(dtype) if b is not None else None
    return h, w, b


def _chunk_options(fn: str, batch_chunk_size, vocab_chunk_size, options
                   ) -> Optional[LinearCrossEntropyOptions]:
    if options is None:
        if batch_chunk_size is not None or vocab_chunk_size is not None:
            return LinearCrossEntropyOptions(batch_chunk_size=batch_chunk_size,
                                             vocab_chunk_size=vocab_chunk_size)
        return None
    if batch_chunk_size is not None or vocab_chunk_size is not None:
        raise ValueError(_msg(fn, "options", "be None when batch_chunk_size or "
                              "vocab_chunk_size is given", repr(options)))
    if not isinstance(options, LinearCrossEntropyOptions):
        raise TypeError(_msg(fn, "options", "be a LinearCrossEntropyOptions",
                             type(options).__name__))
    return options


def _check_beta(fn: str, beta: Any, allow_zero: bool) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(_msg(fn, "beta", "be a float", type(beta).__name__))
    beta = float(beta)
    if not (beta >= 0.0 if allow_zero else beta > 0.0) or math.isinf(beta):
        raise ValueError(_msg(fn, "beta", "be finite and " + (">= 0" if allow_zero else "> 0"),
                              repr(beta)))
    return beta


class _PreferenceLoss:
    """``loss(model, batch, lengths[, ref_logps]) -> (loss, ntoks)`` on a
    batch of ``B`` chosen rows then ``B`` rejected rows."""

    _fn = ""
    _kernel: Callable  # the fused loss, a staticmethod of each subclass

    def __init__(self, options: Optional[LinearCrossEntropyOptions], **kwargs: Any) -> None:
        self.options = options
        self.kwargs = kwargs

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in {**self.kwargs, "options": self.options}.items()
                         if v is not None)
        return f"{self._fn}({opts})"

    def _reference_kwargs(self, fn, model, head, inputs, ref_logps) -> Dict[str, Any]:
        if ref_logps is not None:
            raise ValueError(_msg(fn, "ref_logps", "be None: this loss has no reference model",
                                  "an array"))
        return {}

    def output(self, model: nn.Module, batch: mx.array, lengths: Optional[mx.array] = None,
               ref_logps: Optional[mx.array] = None) -> PreferenceLossOutput:
        """The loss and its reward metrics (chosen / rejected rewards,
        margins, accuracy per pair), as the fused loss returns them."""
        fn = self._fn
        lengths = _check_batch(fn, batch, lengths)
        if batch.shape[0] % 2:
            raise ValueError(_msg(fn, "batch", "have an even number of rows: the B chosen "
                                  "rows, then the B rejected rows", f"{batch.shape[0]} rows"))
        inputs, targets, mask = _completion_mask(batch, lengths)
        head = find_lm_head(model, _fn=fn)
        _check_token_range(fn, model, batch, lengths, head.vocab_size)
        h, w, b = _head_inputs(fn, model, head, inputs)
        kwargs = dict(self.kwargs)
        kwargs.update(self._reference_kwargs(fn, model, head, inputs, ref_logps))
        options = self.options or _default_options(h.shape[0] * h.shape[1], h.shape[-1],
                                                    head.vocab_size)
        target = mx.where(mask, targets, _IGNORE)
        return self._kernel(
            h, w, target, bias=b, options=options,
            softcap=head.softcap, logit_scale=None if head.logit_scale == 1.0 else head.logit_scale,
            **kwargs)

    def __call__(self, model: nn.Module, batch: mx.array, lengths: Optional[mx.array] = None,
                 ref_logps: Optional[mx.array] = None) -> Tuple[mx.array, mx.array]:
        out = self.output(model, batch, lengths, ref_logps)
        return out.loss, _completion_mask(batch, _check_batch(self._fn, batch, lengths))[2].sum()


class _DPOLoss(_PreferenceLoss):
    _fn = "dpo_loss"
    _kernel = staticmethod(fused_linear_dpo_loss)

    def __init__(self, reference, options, **kwargs) -> None:
        super().__init__(options, **kwargs)
        if reference is not None and not isinstance(reference, nn.Module):
            raise TypeError(_msg(self._fn, "reference", "be an mlx.nn.Module (the reference "
                                 "model) or None", type(reference).__name__))
        self.reference = reference

    def _reference_kwargs(self, fn, model, head, inputs, ref_logps) -> Dict[str, Any]:
        if ref_logps is not None:
            if self.reference is not None:
                raise ValueError(_msg(fn, "ref_logps", "be None for a loss built with a "
                                      "`reference` model (one source of reference "
                                      "log-probabilities)", "an array"))
            return {"ref_logps": ref_logps}
        if self.reference is None:
            return {}
        ref = self.reference
        ref_head = find_lm_head(ref, _fn=fn)
        same = (ref_head.vocab_size == head.vocab_size and ref_head.softcap == head.softcap
                and ref_head.logit_scale == head.logit_scale)
        if not same:
            raise _refuse(fn, ref, f"the reference's logits (vocabulary {ref_head.vocab_size}, "
                          f"scale {ref_head.logit_scale:g}, softcap {ref_head.softcap}) differ "
                          f"in form from the policy's (vocabulary {head.vocab_size}, scale "
                          f"{head.logit_scale:g}, softcap {head.softcap}); pass its "
                          "log-probabilities as `ref_logps` instead")
        h_ref, w_ref, b_ref = _head_inputs(fn, ref, ref_head, inputs)
        return {"ref_input": mx.stop_gradient(h_ref), "ref_weight": w_ref, "ref_bias": b_ref}


class _ORPOLoss(_PreferenceLoss):
    _fn = "orpo_loss"
    _kernel = staticmethod(fused_linear_orpo_loss)


class _SimPOLoss(_PreferenceLoss):
    _fn = "simpo_loss"
    _kernel = staticmethod(fused_linear_simpo_loss)


def dpo_loss(*, reference: Optional[nn.Module] = None, beta: float = 0.1,
             loss_type: str = "sigmoid", label_smoothing: float = 0.0,
             batch_chunk_size: Optional[int] = None, vocab_chunk_size: Optional[int] = None,
             options: Optional[LinearCrossEntropyOptions] = None) -> Callable:
    """DPO for mlx-lm models, the ``(tokens, vocabulary)`` logits never held.

    ``loss(model, batch, lengths, ref_logps=None) -> (loss, ntoks)``: ``batch``
    holds ``B`` chosen rows, then the ``B`` rejected rows of the same
    prompts (:func:`preference_batch`), ``lengths`` each row's ``(prompt
    length, length)``; ``ntoks`` counts the completion tokens. The loss is
    :func:`mlx_losses.functional.fused_linear_dpo_loss` on the hidden states
    the model passes to its head and that head (found as for
    :func:`linear_cross_entropy_loss`: tied, untied, quantized, with the
    model's logit scale / softcap): with TRL's semantics, each completion's
    log-probability is the sum of its tokens' log-probabilities, and for
    ``'sigmoid'`` the loss is the mean over pairs of
    ``-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))``.
    ``loss.output(model, batch, lengths)`` returns the
    :class:`~mlx_losses.losses.preference.PreferenceLossOutput` with the reward
    metrics.

    Args:
        reference (nn.Module, optional): The reference model (frozen: no
            gradient reaches it; may be quantized). ``None``: the
            ``ref_logps`` passed to the call, or reference-free (0) without
            them. Default: ``None``.
        beta (float, optional): Default: ``0.1``.
        loss_type (str, optional): One of TRL's loss types
            (``DPO_LOSS_TYPES``). Default: ``'sigmoid'``.
        label_smoothing (float, optional): As
            :func:`mlx_losses.functional.dpo_loss`. Default: ``0.0``.
        batch_chunk_size, vocab_chunk_size, options: The chunking, as
            :func:`linear_cross_entropy_loss`.

    Returns:
        A callable ``loss(model, batch, lengths, ref_logps=None) -> (loss, ntoks)``.
    """
    fn = "dpo_loss"
    beta = _check_beta(fn, beta, False)
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(_msg(fn, "loss_type", f"be one of {', '.join(DPO_LOSS_TYPES)}",
                              repr(loss_type)))
    label_smoothing = _check_float(fn, "label_smoothing", label_smoothing, 0.0, 1.0)
    options = _chunk_options(fn, batch_chunk_size, vocab_chunk_size, options)
    return _DPOLoss(reference, options, beta=beta, loss_type=loss_type,
                    label_smoothing=label_smoothing)


def orpo_loss(*, beta: float = 0.1, compute_nll_loss: bool = True,
              batch_chunk_size: Optional[int] = None, vocab_chunk_size: Optional[int] = None,
              options: Optional[LinearCrossEntropyOptions] = None) -> Callable:
    """ORPO for mlx-lm models, the ``(tokens, vocabulary)`` logits never held.

    The call and the batch are :func:`dpo_loss`'s (no reference). The loss
    is :func:`mlx_losses.functional.fused_linear_orpo_loss`: the mean over
    pairs of ``nll - beta * log sigmoid(log odds(chosen) - log odds(rejected))``
    on the completions' average per-token log-probabilities, ``nll`` the
    chosen completions' token-mean negative log-likelihood (Liger's; TRL's
    ``ORPOTrainer`` also counts the prompt there).

    Args:
        beta (float, optional): ORPO's lambda, ``>= 0``. Default: ``0.1``.
        compute_nll_loss (bool, optional): Add the NLL term. Default: ``True``.
        batch_chunk_size, vocab_chunk_size, options: The chunking, as
            :func:`linear_cross_entropy_loss`.

    Returns:
        A callable ``loss(model, batch, lengths) -> (loss, ntoks)``.
    """
    fn = "orpo_loss"
    beta = _check_beta(fn, beta, True)
    if not isinstance(compute_nll_loss, bool):
        raise TypeError(_msg(fn, "compute_nll_loss", "be a bool", type(compute_nll_loss).__name__))
    options = _chunk_options(fn, batch_chunk_size, vocab_chunk_size, options)
    return _ORPOLoss(options, beta=beta, compute_nll_loss=compute_nll_loss)


def simpo_loss(*, beta: float = 0.1, gamma: float = 0.5, label_smoothing: float = 0.0,
               batch_chunk_size: Optional[int] = None, vocab_chunk_size: Optional[int] = None,
               options: Optional[LinearCrossEntropyOptions] = None) -> Callable:
    """SimPO for mlx-lm models, the ``(tokens, vocabulary)`` logits never held.

    The call and the batch are :func:`dpo_loss`'s (no reference). The loss
    is :func:`mlx_losses.functional.fused_linear_simpo_loss`: the mean over
    pairs of ``-log sigmoid(beta * (avg_c - avg_r) - gamma)`` on the
    completions' average per-token log-probabilities (TRL's ``CPOTrainer``
    with ``loss_type='simpo'``).

    Args:
        beta (float, optional): Default: ``0.1``.
        gamma (float, optional): The target margin. Default: ``0.5``.
        label_smoothing (float, optional): In ``[0, 1]``. Default: ``0.0``.
        batch_chunk_size, vocab_chunk_size, options: The chunking, as
            :func:`linear_cross_entropy_loss`.

    Returns:
        A callable ``loss(model, batch, lengths) -> (loss, ntoks)``.
    """
    fn = "simpo_loss"
    beta = _check_beta(fn, beta, False)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise TypeError(_msg(fn, "gamma", "be a float", type(gamma).__name__))
    if not math.isfinite(gamma):
        raise ValueError(_msg(fn, "gamma", "be finite", repr(gamma)))
    label_smoothing = _check_float(fn, "label_smoothing", label_smoothing, 0.0, 1.0)
    options = _chunk_options(fn, batch_chunk_size, vocab_chunk_size, options)
    return _SimPOLoss(options, beta=beta, gamma=float(gamma), label_smoothing=label_smoothing)
