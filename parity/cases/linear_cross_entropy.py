"""Parity table: linear_cross_entropy, reference (options=None) and chunked paths.

The runner passes positional arrays, so ``linear_bias`` (differentiated) is
routed positionally through ``ours_fn`` / ``torch_fn`` lambdas, and each side
gets its own options object: ours (``mlx_losses.LinearCrossEntropyOptions``)
with small chunks so the chunking really happens, torch's with the same
``batch_chunk_size`` (torch falls back to its reference path, with a warning
the runner silences, where its chunked op has no support: smoothing, soft
targets, K-dim; the numbers are the same by torch's own contract).
"""

from parity.cases.classification import _f32, torch_ce_options
from parity.runner import Case, ErrorCase
from parity.specs import Float, Index, Literal, Normal, Positive, Prob

N, D, C = 6, 5, 10


def _ours(options=None, bias=False):
    def f(x, w, t, *rest, **kw):
        import mlx_losses.functional as F

        b = rest[0] if bias else None
        return F.linear_cross_entropy(x, w, t, linear_bias=b, options=options, **kw)

    return f


def _theirs(chunk=None, bias=False, flatten=False, formula=False):
    """torch's linear_cross_entropy; ``formula``: the MLX-only logit options
    written with torch (``torch_ce_options`` of ``linear``'s logits)."""

    def f(x, w, t, *rest, **kw):
        import torch
        import torch.nn.functional as TF

        opts = None if chunk is None else torch.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk)
        b = rest[0] if bias else None
        if x.dim() == 1 and not t.is_floating_point():
            t = t.reshape(())  # the runner makes 0-d indices 1-d (ascontiguousarray)
        shape = None
        if flatten:  # torch takes (N, D) only: flatten (*, D) as ours does inside
            soft = t.is_floating_point()
            shape = tuple(t.shape[:-1] if soft else t.shape)
            x = x.reshape(-1, x.shape[-1])
            t = t.reshape(-1, t.shape[-1]) if soft else t.reshape(-1)
        if formula:
            kw["ignore_index"] = -100 if kw.get("ignore_index") is None else kw["ignore_index"]
            out = torch_ce_options(TF.linear(x, w, b), t, **kw)
        else:
            out = TF.linear_cross_entropy(x, w, t, linear_bias=b, options=opts, **kw)
        if flatten and out.dim() == 1:
            out = out.reshape(shape)
        return out

    return f


def _opts(**kw):
    from mlx_losses import LinearCrossEntropyOptions

    return LinearCrossEntropyOptions(**kw)


def _module_call(bias=False):
    def call(module, x, w, t, *rest):
        module.linear.weight = w.reshape(-1, w.shape[-1])
        if bias:
            module.linear.bias = rest[0].reshape(-1)
        return module(x, t)

    return call


_X = Normal((N, D))
_W = Normal((C, D), std=0.7)
_B = Normal((C,), std=0.5)
_T = Index((N,), C)
_T_IGN = Index((N,), C, ignore=-100, ignore_frac=0.35)
_T_IGN3 = Index((N,), C, ignore=3, ignore_frac=0.35)
_CW = Positive((C,), grad=False)
_P = Prob((N, C), axis=1)
# classes 0 and 1 weigh 0 and every counted target is one of them
_ZERO_W = Literal([0.0, 0.0] + [1.0, 0.5, 2.0, 1.5, 0.7, 1.2, 0.9, 1.1][:C - 2], grad=False)
_ZERO_WEIGHT_T = Literal([0, 1, -100, 1, 0, -100][:N], dtype="int64")


_MODULE_KEYS = ("weight", "ignore_index", "label_smoothing", "axis", "softcap", "logit_scale",
                "z_loss", "out_dtype")


def _pair(name, args, kwargs=None, *, bias=False, chunk=2, vocab=4, module=True, flatten=False,
          formula=False, **extra):
    """The same case on the reference path and on the chunked path (tiles
    of ``chunk`` tokens x ``vocab`` classes)."""
    kwargs = dict(kwargs or {})
    mk = {"in_features": D, "num_classes": C, "bias": bias}
    mk.update({k: v for k, v in kwargs.items() if k in _MODULE_KEYS})
    out = [Case(
        name, "linear_cross_entropy", args, kwargs,
        ours_fn=_ours(None, bias), torch_fn=_theirs(None, bias, flatten, formula),
        module="LinearCrossEntropyLoss" if module else None,
        module_kwargs=mk, module_call=_module_call(bias), **extra,
    )]
    opts = _opts(batch_chunk_size=chunk, vocab_chunk_size=vocab)
    cmk = dict(mk, options=opts)
    out.append(Case(
        name + "_chunked", "linear_cross_entropy", args, kwargs,
        ours_fn=_ours(opts, bias), torch_fn=_theirs(chunk, bias, flatten, formula),
        module="LinearCrossEntropyLoss" if module else None,
        module_kwargs=cmk, module_call=_module_call(bias), **extra,
    ))
    return out


CASES = [
    *_pair("basic", [_X, _W, _T]),
    *_pair("bias", [_X, _W, _T, _B], bias=True),
    *_pair("weight", [_X, _W, _T, _B], {"weight": _CW}, bias=True),
    *_pair("ignore_default", [_X, _W, _T_IGN]),
    *_pair("ignore_index", [_X, _W, _T_IGN3], {"ignore_index": 3}),
    *_pair("weight_ignore", [_X, _W, _T_IGN, _B], {"weight": _CW}, bias=True),
    *_pair("smoothing", [_X, _W, _T_IGN], {"label_smoothing": 0.15}),
    *_pair("smoothing_weight", [_X, _W, _T_IGN, _B], {"label_smoothing": 0.3, "weight": _CW}, bias=True),
    *_pair("smoothing_one", [_X, _W, _T], {"label_smoothing": 1.0}),
    *_pair("soft", [_X, _W, _P, _B], bias=True),
    *_pair("soft_smoothing_weight", [_X, _W, _P], {"label_smoothing": 0.2, "weight": _CW}),
    *_pair("unbatched", [Normal((D,)), _W, Index((), C), _B], bias=True),
    *_pair("unbatched_soft", [Normal((D,)), _W, Prob((C,), axis=0)], {"weight": _CW}),
    *_pair("all_ignored", [_X, _W, Literal([-100] * N, dtype="int64")], {"weight": _CW}),
    # torch's chunked kernel runs without smoothing only (else its reference
    # path): 'mean' over counted weights of 0 gives a NaN gradient in every
    # row there, in the counted rows only on the reference path
    *_pair("all_ignored_smoothing", [_X, _W, Literal([-100] * N, dtype="int64")],
           {"weight": _CW, "label_smoothing": 0.1}),
    *_pair("zero_weight_sum", [_X, _W, _ZERO_WEIGHT_T], {"weight": _ZERO_W}),
    *_pair("zero_weight_sum_smoothing", [_X, _W, _ZERO_WEIGHT_T, _B], {"weight": _ZERO_W, "label_smoothing": 0.2},
           bias=True),
    # chunk sizes that do not divide N or C; one vocabulary block; one token tile
    *_pair("ragged_tiles", [Normal((7, D)), Normal((11, D)), Index((7,), 11)], chunk=3, vocab=5,
           module=False),
    *_pair("vocab_only", [_X, _W, _T, _B], bias=True, chunk=N, vocab=3),
    *_pair("tokens_only", [_X, _W, _T_IGN], {"weight": _CW}, chunk=1, vocab=C),
    # (B, T, D) and (B, T, S, D) input: both paths flatten it (torch raises;
    # its side is given the flattened input and reshaped back)
    *_pair("3d", [Normal((2, 3, D)), _W, Index((2, 3), C, ignore=-100), _B], {"label_smoothing": 0.1},
           bias=True, flatten=True, module=False),
    *_pair("3d_soft", [Normal((2, 3, D)), _W, Prob((2, 3, C), axis=2)], flatten=True, module=False),
    *_pair("4d", [Normal((2, 2, 2, D)), _W, Index((2, 2, 2), C, ignore=-100)], flatten=True,
           module=False, compile=False),
    # MLX-only logit options against torch's formula (torch_ce_options of
    # linear's logits), inside the tiles on the chunked path
    *_pair("softcap_scale_z_loss", [_X, _W, _T_IGN, _B], {"softcap": 2.0, "logit_scale": 1.5,
                                                          "z_loss": 0.01}, bias=True, formula=True),
    *_pair("z_loss_weight_smoothing", [_X, _W, _T_IGN], {"z_loss": 0.05, "weight": _CW,
                                                         "label_smoothing": 0.1},
           formula=True, compile=False),
    *_pair("soft_softcap_z_loss", [_X, _W, _P], {"softcap": 1.5, "z_loss": 0.02}, formula=True,
           compile=False),
    *_pair("3d_softcap", [Normal((2, 3, D)), _W, Index((2, 3), C, ignore=-100), _B],
           {"softcap": 2.5}, bias=True, flatten=True, formula=True, module=False, compile=False),
    *_pair("out_dtype_float32", [_X, _W, _T_IGN], {"out_dtype": _f32(), "softcap": 3.0},
           formula=True, dtypes=("float16", "bfloat16", "float32"), compile=False),
    # torch's functional smooths only when label_smoothing > 0 (its Module
    # refuses a negative value: unit-tested)
    *_pair("smoothing_negative", [_X, _W, _T_IGN], {"label_smoothing": -0.1}, module=False,
           compile=False),
    # K-dimensional classes: linear_weight (C, d1, in_features); the chunked
    # path falls back to the reference (as torch's does, with its warning)
    Case("kdim", "linear_cross_entropy", [_X, Normal((C, 3, D), std=0.7), Index((N, 3), C, ignore=-100),
                                          Normal((C, 3), std=0.5)],
         {"weight": _CW, "label_smoothing": 0.1},
         ours_fn=_ours(None, True), torch_fn=_theirs(None, True),
         module="LinearCrossEntropyLoss",
         module_kwargs={"in_features": D, "num_classes": C, "out_features": (3,), "bias": True,
                        "weight": _CW, "label_smoothing": 0.1},
         module_call=_module_call(True)),
    Case("kdim_soft", "linear_cross_entropy", [_X, Normal((C, 2, D), std=0.7), Prob((N, C, 2), axis=1)],
         ours_fn=_ours(None), torch_fn=_theirs(None)),
    Case("kdim_options_fallback", "linear_cross_entropy",
         [_X, Normal((C, 2, D), std=0.7), Index((N, 2), C)],
         ours_fn=_ours(_opts(batch_chunk_size=2)), torch_fn=_theirs(2)),
    # torch's default heuristic (aspect_ratio) on both sides, larger sizes
    Case("auto_chunking", "linear_cross_entropy", [Normal((64, 8)), Normal((96, 8)), Index((64,), 96, ignore=-100)],
         ours_fn=_ours(_opts()), torch_fn=_theirs(None), dtypes=("float64", "float32")),
]


def _half_weight(options, torch_side=False):
    """Either side with the class weight cast to float16 (the runner gives
    every floating argument the dtype under test)."""

    def call(x, w, t, *, weight, **kw):
        if torch_side:
            return _theirs(options)(x, w, t, weight=weight.half(), **kw)
        import mlx.core as mx

        return _ours(options)(x, w, t, weight=weight.astype(mx.float16), **kw)

    return call


def _err(name, args, kwargs=None, *, options=None, bias=False, error=ValueError, match="",
         torch_raises=True, torch_chunk=None):
    return ErrorCase(
        name, "linear_cross_entropy", args, dict(kwargs or {}), error=error, match=match,
        torch_raises=torch_raises, ours_fn=_ours(options, bias), torch_fn=_theirs(torch_chunk, bias),
    )


def _head_dtypes(chunk, weight=None, bias=None, torch_side=False):
    """Either side with ``linear_weight`` / ``linear_bias`` cast to another
    dtype (a name) than the input's; ``chunk``: the chunked path."""

    def call(x, w, t, *rest, **kw):
        if torch_side:
            import torch

            cast = lambda a, d: a if d is None else a.to(getattr(torch, d))  # noqa: E731
            fn = _theirs(chunk, bias=bool(rest))
        else:
            import mlx.core as mx

            cast = lambda a, d: a if d is None else a.astype(getattr(mx, d))  # noqa: E731
            fn = _ours(_opts(batch_chunk_size=chunk) if chunk else None, bias=bool(rest))
        return fn(x, cast(w, weight), t, *(cast(r, bias) for r in rest), **kw)

    return call


ERROR_CASES = [
    # torch's linear takes one dtype for input, weight and bias (its chunked
    # kernel casts the bias, and a half input's weight: unit-tested)
    ErrorCase("weight_dtype", "linear_cross_entropy", [_X, _W, _T], error=TypeError,
              match=r"`linear_weight` must have the dtype of `input`, float32, got float64: "
                    r"expected m1 and m2 to have the same dtype",
              ours_fn=_head_dtypes(None, "float64"), torch_fn=_head_dtypes(None, "float64", torch_side=True)),
    ErrorCase("weight_dtype_chunked", "linear_cross_entropy", [_X, _W, _T], error=TypeError,
              match="expected m1 and m2 to have the same dtype",
              ours_fn=_head_dtypes(2, "float64"), torch_fn=_head_dtypes(2, "float64", torch_side=True)),
    ErrorCase("bias_dtype", "linear_cross_entropy", [_X, _W, _T, _B], error=TypeError,
              match=r"`linear_bias` must have the dtype of `input`, float32, got float64: "
                    r"self and mat2 must have the same dtype",
              ours_fn=_head_dtypes(None, bias="float64"),
              torch_fn=_head_dtypes(None, bias="float64", torch_side=True)),
    _err("input_0d", [Normal(()), _W, Literal(0, dtype="int64")],
         match="`input` must have at least 1 dimension"),
    _err("weight_1d", [_X, Normal((D,)), _T], match="expected linear_weight with dimensionality at least 2"),
    _err("in_features", [_X, Normal((C, D + 1)), _T],
         match="expected equal input and linear_weight last dimensions"),
    _err("bias_shape", [_X, _W, _T, Normal((C + 1,))], bias=True, match="expected linear_bias shape"),
    _err("kdim_unbatched", [Normal((D,)), Normal((C, 2, D)), Index((2,), C)],
         match="requires batched input"),
    _err("ignore_index_soft", [_X, _W, _P], {"ignore_index": -100},
         match="ignore_index cannot be specified when target contains probabilities"),
    _err("ignore_index_soft_chunked", [_X, _W, _P], {"ignore_index": 1}, options=_opts(batch_chunk_size=2),
         torch_chunk=2, match="ignore_index cannot be specified"),
    _err("class_weight_shape", [_X, _W, _T], {"weight": Positive((C + 1,), grad=False)},
         match="`weight` must have shape"),
    _err("smoothing_range", [_X, _W, _T], {"label_smoothing": 1.5},
         match="label_smoothing must be between 0.0 and 1.0"),
    _err("bad_reduction", [_X, _W, _T], {"reduction": "avg"}, match="is not a valid value for reduction"),
    _err("float_target_shape", [_X, _W, Float((N,))], error=TypeError,
         match="`target` must hold class indices"),
    _err("target_shape", [_X, _W, Index((N, 2), C)], match="`target` must have shape"),
    _err("target_out_of_range", [_X, _W, Literal([0, 1, 2, 3, 4, C], dtype="int64")],
         match="out of bounds"),
    _err("target_out_of_range_chunked", [_X, _W, Literal([0, 1, 2, -1, 4, 5], dtype="int64")],
         options=_opts(batch_chunk_size=2), torch_chunk=None, match="out of bounds"),
    # class weights of another dtype than the logits: torch's reference path
    # (its chunked one with smoothing falls back to it) rejects them
    ErrorCase("class_weight_half", "linear_cross_entropy", [_X, _W, _T], {"weight": Positive((C,))},
              error=TypeError, match="`weight` must have the dtype of the logits, float32, got float16: "
                                     "expected scalar type Float but found Half",
              ours_fn=_half_weight(None), torch_fn=_half_weight(None, torch_side=True)),
    ErrorCase("class_weight_half_chunked_smoothing", "linear_cross_entropy", [_X, _W, _T],
              {"weight": Positive((C,)), "label_smoothing": 0.1}, error=TypeError,
              match="expected scalar type Float but found Half",
              ours_fn=_half_weight(_opts(batch_chunk_size=2)), torch_fn=_half_weight(2, torch_side=True)),
]
