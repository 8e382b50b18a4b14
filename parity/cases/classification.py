"""Parity table: cross_entropy, nll_loss, binary_cross_entropy(_with_logits)."""

from parity.runner import Case, ErrorCase
from parity.specs import Binary, Float, Index, Literal, Normal, Positive, Prob


def _torch_scalar_target(name):
    """torch's function with the class-index target reshaped to 0-D: the
    runner hands torch 0-D arrays as (1,), and a (C) input with a () target
    is the layout under test."""

    def call(input, target, **kw):
        import torch.nn.functional as TF

        return getattr(TF, name)(input, target.reshape(()), **kw)

    return call


def _ours_ce(*args, **kw):
    from mlx_losses.functional import cross_entropy

    return cross_entropy(*args, **kw)


def _torch_ce(*args, **kw):
    import torch.nn.functional as TF

    return TF.cross_entropy(*args, **kw)


def _mx_f32():
    import mlx.core as mx

    return mx.float32


def _mx_f16():
    import mlx.core as mx

    return mx.float16


def _bce_ours(*args, **kw):
    from mlx_losses.functional import binary_cross_entropy

    return binary_cross_entropy(*args, **kw)


def _bce_torch(*args, **kw):
    import torch.nn.functional as TF

    return TF.binary_cross_entropy(*args, **kw)


def _moved(fn):
    """torch's ``fn`` with the class axis of ``input`` (and of a probability
    target) moved from ``axis`` to 1, torch's layout."""

    def call(input, target, *, axis=1, **kw):
        import torch.nn.functional as TF

        if target.is_floating_point() and target.shape == input.shape:
            target = target.movedim(axis, 1).contiguous()
        # contiguous: torch's CPU nll_loss backward refuses a strided input
        return getattr(TF, fn)(input.movedim(axis, 1).contiguous(), target, **kw)

    return call


def torch_ce_options(input, target, *, axis=1, softcap=None, logit_scale=None, z_loss=0.0,
                     out_dtype=None, weight=None, ignore_index=-100, label_smoothing=0.0,
                     reduction="mean"):
    """The MLX-only options of cross_entropy written with torch: its
    cross_entropy of ``softcap * tanh(logit_scale * x / softcap)`` plus
    ``z_loss * logsumexp ** 2`` on each counted row, then torch's reduction
    ('mean' over the summed class weights of the counted rows, or the row
    count for probabilities); ``out_dtype``: computed in float32 (or wider)."""
    import torch
    import torch.nn.functional as TF

    soft = target.is_floating_point() and target.shape == input.shape
    x = input.movedim(axis, 1)
    if soft:
        target = target.movedim(axis, 1)
    if out_dtype is not None:
        x = x.to(torch.promote_types(x.dtype, torch.float32))
    z = x * logit_scale if logit_scale is not None else x
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    per = TF.cross_entropy(z, target, weight=weight, ignore_index=ignore_index,
                           label_smoothing=label_smoothing, reduction="none")
    counted = torch.ones_like(per) if soft else (target != ignore_index).to(per.dtype)
    per = per + z_loss * torch.logsumexp(z, dim=1) ** 2 * counted
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    if soft:
        return per.sum() / per.numel()
    w = torch.ones(z.shape[1], dtype=per.dtype) if weight is None else weight.to(per.dtype)
    wt = w[torch.where(target == ignore_index, 0, target)] * counted
    return per.sum() / wt.sum()


def _f32():
    import mlx.core as mx

    return mx.float32


_INF = float("inf")

# Logits with masked (-inf) classes in some rows, never a whole row.
_MASKED = Literal(
    [[0.5, -_INF, 1.0, -0.3], [-_INF, -_INF, 2.0, 0.1], [0.0, 0.2, -_INF, -1.5]], grad=True
)
# Rows with +inf, all -inf and NaN logits, then a finite row.
_NONFINITE = Literal(
    [[_INF, 0.0, 1.0, 2.0], [-_INF, -_INF, -_INF, -_INF], [float("nan"), 0.0, 1.0, 2.0],
     [0.5, -0.2, 1.0, 0.3]], grad=True
)
# Probabilities at and near the ends of [0, 1] (BCE: clamped logs, torch's
# finite input gradient at 0/1, infinite target gradient there).
_BCE_EDGE_X = Literal([[0.0, 1.0, 0.0, 1.0, 0.5, 1e-30, 1.0 - 2.0**-20, 0.25]], grad=True)
_BCE_EDGE_Y = Literal([[0.0, 1.0, 1.0, 0.0, 0.3, 1.0, 0.0, 0.6]], grad=True)

C = 7

# Class weights that sum to 0 over the counted targets (classes 0 and 1
# weigh 0), and targets in those classes with an ignored one.
_ZERO_W = Literal([0.0, 0.0, 1.0, 0.5, 2.0, 1.0, 1.5])
_ZERO_WEIGHT_T = Literal([0, 1, -100, 1], dtype="int64")
_ZERO_WEIGHT_T3 = Literal([[0, -100, 1], [1, 1, 0]], dtype="int64")
# Weights of the two counted targets that cancel.
_CANCEL_W = Literal([1.0, -1.0, 1.0, 0.5, 2.0, 1.0, 1.5])


def _half_weight(fn, half):
    """``fn`` with the class weight cast to float16 (the runner gives every
    floating argument the dtype under test)."""

    def call(*args, weight, **kw):
        if half == "torch":
            import torch.nn.functional as TF

            return getattr(TF, fn)(*args, weight=weight.half(), **kw)
        import mlx.core as mx
        import mlx_losses.functional as F

        return getattr(F, fn)(*args, weight=weight.astype(mx.float16), **kw)

    return call


CASES = [
    # ---- cross_entropy, class indices
    Case("2d", "cross_entropy", [Float((6, C)), Index((6,), C)], module="CrossEntropyLoss",
         legacy=True, vmap=True),
    Case("1d", "cross_entropy", [Float((C,)), Index((), C)], module="CrossEntropyLoss",
         torch_fn=_torch_scalar_target("cross_entropy")),
    # (C) input with a (1,) target: torch's forward accepts it but its
    # backward rejects it ("size mismatch"); ours accepts both (unit-tested).
    Case("3d", "cross_entropy", [Float((3, C, 4)), Index((3, 4), C)], module="CrossEntropyLoss"),
    Case("4d", "cross_entropy", [Float((2, C, 3, 4)), Index((2, 3, 4), C)],
         module="CrossEntropyLoss"),
    Case("5d", "cross_entropy", [Float((2, 4, 2, 3, 2)), Index((2, 2, 3, 2), 4)],
         module="CrossEntropyLoss"),
    Case("uint8_target", "cross_entropy", [Float((5, C)), Index((5,), C, dtype="uint8")],
         module="CrossEntropyLoss"),
    Case("ignore_default", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-100)],
         module="CrossEntropyLoss", vmap=True),
    Case("ignore_negative", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-1)],
         {"ignore_index": -1}, module="CrossEntropyLoss"),
    Case("ignore_in_range", "cross_entropy", [Float((8, C)), Index((8,), C)],
         {"ignore_index": 2}, module="CrossEntropyLoss"),
    Case("ignore_out_of_range", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=C + 3)],
         {"ignore_index": C + 3}, module="CrossEntropyLoss"),
    Case("ignore_4d", "cross_entropy", [Float((2, C, 3, 3)), Index((2, 3, 3), C, ignore=-100)],
         module="CrossEntropyLoss"),
    # every target ignored: 'mean' is 0 / 0 = NaN in torch, here too
    Case("all_ignored", "cross_entropy", [Float((4, C)), Literal([-100, -100, -100, -100], dtype="int64")],
         module="CrossEntropyLoss"),
    Case("empty", "cross_entropy", [Float((0, C)), Index((0,), C)], module="CrossEntropyLoss"),
    Case("empty_spatial", "cross_entropy", [Float((2, C, 0)), Index((2, 0), C)],
         module="CrossEntropyLoss"),
    Case("weight", "cross_entropy", [Float((6, C)), Index((6,), C)],
         {"weight": Positive((C,), grad=False)}, module="CrossEntropyLoss", vmap=True),
    Case("weight_ignore", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-100)],
         {"weight": Positive((C,), grad=False)}, module="CrossEntropyLoss"),
    Case("weight_ignore_3d", "cross_entropy", [Float((3, C, 5)), Index((3, 5), C, ignore=1)],
         {"weight": Positive((C,), grad=False), "ignore_index": 1}, module="CrossEntropyLoss"),
    Case("smoothing", "cross_entropy", [Float((6, C)), Index((6,), C)],
         {"label_smoothing": 0.1}, module="CrossEntropyLoss", legacy=True, vmap=True),
    Case("smoothing_one", "cross_entropy", [Float((6, C)), Index((6,), C)],
         {"label_smoothing": 1.0}, module="CrossEntropyLoss"),
    Case("smoothing_ignore", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-100)],
         {"label_smoothing": 0.25}, module="CrossEntropyLoss"),
    Case("smoothing_weight", "cross_entropy", [Float((6, C)), Index((6,), C)],
         {"label_smoothing": 0.2, "weight": Positive((C,), grad=False)}, module="CrossEntropyLoss",
         vmap=True),
    Case("smoothing_weight_ignore", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-100)],
         {"label_smoothing": 0.3, "weight": Positive((C,), grad=False)}, module="CrossEntropyLoss"),
    Case("smoothing_weight_ignore_4d", "cross_entropy",
         [Float((2, C, 3, 2)), Index((2, 3, 2), C, ignore=0)],
         {"label_smoothing": 0.15, "weight": Positive((C,), grad=False), "ignore_index": 0},
         module="CrossEntropyLoss"),
    Case("smoothing_all_ignored", "cross_entropy",
         [Float((3, C)), Literal([-100, -100, -100], dtype="int64")],
         {"label_smoothing": 0.1, "weight": Positive((C,), grad=False)}, module="CrossEntropyLoss"),
    # class weights summing to 0 over the counted targets: 'mean' is sum / 0
    # and torch's gradient NaN in the counted rows, 0 in the ignored ones
    Case("zero_weight_sum", "cross_entropy", [Float((4, C)), _ZERO_WEIGHT_T], {"weight": _ZERO_W},
         module="CrossEntropyLoss"),
    Case("zero_weight_sum_smoothing", "cross_entropy", [Float((4, C)), _ZERO_WEIGHT_T],
         {"weight": _ZERO_W, "label_smoothing": 0.2}, module="CrossEntropyLoss"),
    Case("zero_weight_sum_3d", "cross_entropy", [Float((2, C, 3)), _ZERO_WEIGHT_T3], {"weight": _ZERO_W},
         module="CrossEntropyLoss"),
    # negative weights cancelling: sum / 0 = +-inf, inf gradients
    Case("weights_cancel", "cross_entropy", [Float((3, C)), Literal([0, 1, -100], dtype="int64")],
         {"weight": _CANCEL_W}, module="CrossEntropyLoss"),
    Case("smoothing_1d", "cross_entropy", [Float((C,)), Index((), C)], {"label_smoothing": 0.1},
         module="CrossEntropyLoss", torch_fn=_torch_scalar_target("cross_entropy")),
    Case("masked_logits", "cross_entropy", [_MASKED, Literal([0, 2, 1], dtype="int64")],
         module="CrossEntropyLoss"),
    # +inf / all -inf / NaN rows next to a finite one: torch's softmax makes
    # each such row NaN throughout (values and gradients), the finite row
    # stays finite under 'none'.
    Case("nonfinite_logits", "cross_entropy", [_NONFINITE, Literal([1, 0, 2, 3], dtype="int64")],
         module="CrossEntropyLoss"),
    Case("large_logits", "cross_entropy", [Float((5, C), -500.0, 500.0), Index((5,), C)],
         module="CrossEntropyLoss"),
    Case("shifted_logits", "cross_entropy", [Float((5, C), 995.0, 1005.0), Index((5,), C)],
         {"label_smoothing": 0.1}, module="CrossEntropyLoss", dtypes=("float64", "float32")),
    Case("many_classes", "cross_entropy", [Normal((16, 5000)), Index((16,), 5000, ignore=-100)],
         {"label_smoothing": 0.05}, module="CrossEntropyLoss", dtypes=("float64", "float32")),
    Case("many_classes_half", "cross_entropy", [Normal((8, 3000)), Index((8,), 3000)],
         dtypes=("float16", "bfloat16")),
    # ---- cross_entropy, MLX-only options: the class axis (channels-last,
    # torch's result with the axis moved to 1) and the logit options
    # (torch's formula, torch_ce_options)
    Case("axis_last", "cross_entropy", [Float((3, 4, C)), Index((3, 4), C, ignore=-100)],
         {"axis": -1, "weight": Positive((C,), grad=False), "label_smoothing": 0.1},
         module="CrossEntropyLoss", torch_fn=_moved("cross_entropy")),
    Case("axis_nhwc", "cross_entropy", [Float((2, 3, 2, C)), Index((2, 3, 2), C)], {"axis": 3},
         module="CrossEntropyLoss", torch_fn=_moved("cross_entropy"), compile=False),
    Case("axis_probs", "cross_entropy", [Float((2, 3, C)), Prob((2, 3, C), axis=2)], {"axis": 2},
         module="CrossEntropyLoss", torch_fn=_moved("cross_entropy"), compile=False),
    Case("softcap", "cross_entropy", [Float((6, C), -6.0, 6.0), Index((6,), C)], {"softcap": 2.5},
         module="CrossEntropyLoss", torch_fn=torch_ce_options, compile=False),
    Case("logit_scale", "cross_entropy", [Float((6, C)), Index((6,), C, ignore=-100)],
         {"logit_scale": 0.7}, module="CrossEntropyLoss", torch_fn=torch_ce_options, compile=False),
    Case("softcap_scale_z_loss", "cross_entropy", [Float((8, C), -4.0, 4.0), Index((8,), C, ignore=-100)],
         {"softcap": 3.0, "logit_scale": 1.3, "z_loss": 0.01}, module="CrossEntropyLoss",
         torch_fn=torch_ce_options),
    Case("z_loss_weight_smoothing", "cross_entropy", [Float((8, C)), Index((8,), C, ignore=-100)],
         {"z_loss": 0.05, "weight": Positive((C,), grad=False), "label_smoothing": 0.1},
         module="CrossEntropyLoss", torch_fn=torch_ce_options, compile=False),
    Case("z_loss_axis_last", "cross_entropy", [Float((2, 4, C)), Index((2, 4), C, ignore=3)],
         {"z_loss": 0.02, "softcap": 2.0, "axis": -1, "ignore_index": 3},
         module="CrossEntropyLoss", torch_fn=torch_ce_options, compile=False),
    Case("probs_softcap_z_loss", "cross_entropy", [Float((5, C)), Prob((5, C), axis=1)],
         {"softcap": 2.0, "z_loss": 0.03}, module="CrossEntropyLoss", torch_fn=torch_ce_options,
         compile=False),
    # the loss in float32 for half logits (torch's rule rounds it to theirs)
    Case("out_dtype_float32", "cross_entropy", [Float((6, C)), Index((6,), C, ignore=-100)],
         {"out_dtype": _f32(), "z_loss": 0.01}, module="CrossEntropyLoss",
         torch_fn=torch_ce_options, dtypes=("float16", "bfloat16", "float32"), compile=False),
    # torch smooths only when label_smoothing > 0: a negative value is none
    Case("smoothing_negative", "cross_entropy", [Float((6, C)), Index((6,), C, ignore=-100)],
         {"label_smoothing": -0.1}, module="CrossEntropyLoss", compile=False),
    # ---- cross_entropy, class probabilities (targets differentiated too)
    Case("probs", "cross_entropy", [Float((5, C)), Prob((5, C), axis=1)],
         module="CrossEntropyLoss", legacy=True, vmap=True),
    Case("probs_1d", "cross_entropy", [Float((C,)), Prob((C,), axis=0)], module="CrossEntropyLoss"),
    Case("probs_3d", "cross_entropy", [Float((2, C, 3)), Prob((2, C, 3), axis=1)],
         module="CrossEntropyLoss"),
    Case("probs_weight", "cross_entropy", [Float((5, C)), Prob((5, C), axis=1)],
         {"weight": Positive((C,), grad=False)}, module="CrossEntropyLoss", vmap=True),
    Case("probs_smoothing", "cross_entropy", [Float((5, C)), Prob((5, C), axis=1)],
         {"label_smoothing": 0.2}, module="CrossEntropyLoss", vmap=True),
    Case("probs_smoothing_weight_4d", "cross_entropy",
         [Float((2, C, 2, 3)), Prob((2, C, 2, 3), axis=1)],
         {"label_smoothing": 0.1, "weight": Positive((C,), grad=False)}, module="CrossEntropyLoss"),
    # a negative ignore_index is accepted (and unused) with probabilities
    Case("probs_ignore_negative", "cross_entropy", [Float((4, C)), Prob((4, C), axis=1)],
         {"ignore_index": -1}, module="CrossEntropyLoss"),
    Case("probs_unnormalized", "cross_entropy", [Float((4, C)), Positive((4, C))],
         module="CrossEntropyLoss"),
    Case("probs_empty", "cross_entropy", [Float((0, C)), Prob((0, C), axis=1)],
         module="CrossEntropyLoss"),
    # ---- nll_loss
    Case("2d", "nll_loss", [Float((6, C)), Index((6,), C)], module="NLLLoss", legacy=True,
         vmap=True),
    Case("1d", "nll_loss", [Float((C,)), Index((), C)], module="NLLLoss",
         torch_fn=_torch_scalar_target("nll_loss")),
    Case("3d", "nll_loss", [Float((3, C, 4)), Index((3, 4), C)], module="NLLLoss"),
    Case("4d", "nll_loss", [Float((2, C, 3, 4)), Index((2, 3, 4), C, ignore=-100)],
         module="NLLLoss2d"),
    Case("5d", "nll_loss", [Float((2, 3, 2, 2, 3)), Index((2, 2, 2, 3), 3)], module="NLLLoss"),
    Case("weight", "nll_loss", [Float((6, C)), Index((6,), C)],
         {"weight": Positive((C,), grad=False)}, module="NLLLoss", vmap=True),
    Case("weight_ignore", "nll_loss", [Float((8, C)), Index((8,), C, ignore=-100)],
         {"weight": Positive((C,), grad=False)}, module="NLLLoss", legacy=True),
    Case("weight_ignore_4d", "nll_loss", [Float((2, C, 2, 3)), Index((2, 2, 3), C, ignore=3)],
         {"weight": Positive((C,), grad=False), "ignore_index": 3}, module="NLLLoss2d"),
    Case("ignore_negative", "nll_loss", [Float((8, C)), Index((8,), C, ignore=-1)],
         {"ignore_index": -1}, module="NLLLoss"),
    Case("ignore_out_of_range", "nll_loss", [Float((8, C)), Index((8,), C, ignore=50)],
         {"ignore_index": 50}, module="NLLLoss"),
    Case("all_ignored", "nll_loss", [Float((3, C)), Literal([-100, -100, -100], dtype="int64")],
         {"weight": Positive((C,), grad=False)}, module="NLLLoss"),
    Case("zero_weight_sum", "nll_loss", [Float((4, C)), _ZERO_WEIGHT_T], {"weight": _ZERO_W},
         module="NLLLoss"),
    Case("zero_weight_sum_4d", "nll_loss", [Float((2, C, 3, 1)), Literal([[[0], [-100], [1]], [[1], [1], [0]]],
                                                                         dtype="int64")],
         {"weight": _ZERO_W}, module="NLLLoss2d"),
    Case("zero_weight_sum_1d", "nll_loss", [Float((C,)), Literal(1, dtype="int64")], {"weight": _ZERO_W},
         module="NLLLoss", torch_fn=_torch_scalar_target("nll_loss")),
    Case("weights_cancel", "nll_loss", [Float((3, C)), Literal([0, 1, -100], dtype="int64")],
         {"weight": _CANCEL_W}, module="NLLLoss"),
    Case("empty", "nll_loss", [Float((0, C)), Index((0,), C)], module="NLLLoss"),
    Case("empty_spatial", "nll_loss", [Float((2, C, 0, 3)), Index((2, 0, 3), C)], module="NLLLoss"),
    Case("axis_nhwc", "nll_loss", [Float((2, 3, 2, C)), Index((2, 3, 2), C, ignore=-100)],
         {"axis": -1, "weight": Positive((C,), grad=False)}, module="NLLLoss",
         torch_fn=_moved("nll_loss")),
    Case("uint8_target", "nll_loss", [Float((5, C)), Index((5,), C, dtype="uint8")], module="NLLLoss"),
    # ---- binary_cross_entropy (input and target differentiated)
    Case("basic", "binary_cross_entropy", [Prob((4, 5)), Prob((4, 5))], module="BCELoss",
         legacy=True, vmap=True),
    Case("binary_target", "binary_cross_entropy", [Prob((4, 5)), Binary((4, 5))], module="BCELoss"),
    Case("3d", "binary_cross_entropy", [Prob((2, 3, 4)), Prob((2, 3, 4))], module="BCELoss"),
    Case("1d", "binary_cross_entropy", [Prob((6,)), Prob((6,))], module="BCELoss"),
    Case("weight", "binary_cross_entropy", [Prob((4, 5)), Prob((4, 5))],
         {"weight": Positive((4, 5), grad=False)}, module="BCELoss"),
    Case("weight_broadcast", "binary_cross_entropy", [Prob((4, 5)), Prob((4, 5))],
         {"weight": Positive((5,), grad=False)}, module="BCELoss", vmap=True),
    Case("weight_broadcast_col", "binary_cross_entropy", [Prob((2, 4, 5)), Prob((2, 4, 5))],
         {"weight": Positive((4, 1), grad=False)}, module="BCELoss"),
    Case("empty", "binary_cross_entropy", [Prob((0, 3)), Prob((0, 3))], module="BCELoss"),
    # p in {0, 1}: clamped logs and torch's backward formula. float16 is left
    # out: torch's float16 kernel rounds its EPSILON (1e-12) to 0 and gives
    # 0/0 = NaN there, where float32 accumulation (ours) gives torch's
    # float32 numbers.
    Case("edges", "binary_cross_entropy", [_BCE_EDGE_X, _BCE_EDGE_Y], module="BCELoss",
         dtypes=("float64", "float32", "bfloat16")),
    Case("large", "binary_cross_entropy", [Prob((64, 500)), Prob((64, 500))], module="BCELoss",
         dtypes=("float64", "float32")),
    # ---- binary_cross_entropy_with_logits
    Case("basic", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((4, 5))],
         module="BCEWithLogitsLoss", legacy=True, vmap=True),
    Case("binary_target", "binary_cross_entropy_with_logits", [Float((4, 5)), Binary((4, 5))],
         module="BCEWithLogitsLoss"),
    Case("3d", "binary_cross_entropy_with_logits", [Float((2, 3, 4)), Prob((2, 3, 4))],
         module="BCEWithLogitsLoss"),
    Case("weight", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((4, 5))],
         {"weight": Positive((4, 5), grad=False)}, module="BCEWithLogitsLoss"),
    Case("weight_broadcast", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((4, 5))],
         {"weight": Positive((5,), grad=False)}, module="BCEWithLogitsLoss", vmap=True),
    Case("pos_weight", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((4, 5))],
         {"pos_weight": Positive((5,), 0.5, 4.0, grad=False)}, module="BCEWithLogitsLoss",
         vmap=True),
    Case("pos_weight_weight", "binary_cross_entropy_with_logits", [Float((4, 5)), Binary((4, 5))],
         {"weight": Positive((4, 1), grad=False), "pos_weight": Positive((5,), 0.5, 4.0, grad=False)},
         module="BCEWithLogitsLoss"),
    Case("pos_weight_spatial", "binary_cross_entropy_with_logits",
         [Float((2, 3, 4, 4)), Binary((2, 3, 4, 4))],
         {"pos_weight": Positive((3, 1, 1), 0.5, 4.0, grad=False)}, module="BCEWithLogitsLoss"),
    Case("pos_weight_full", "binary_cross_entropy_with_logits", [Float((3, 4)), Prob((3, 4))],
         {"pos_weight": Positive((3, 4), grad=False)}, module="BCEWithLogitsLoss"),
    # stability: |x| up to 100 (a naive log(sigmoid(x)) overflows / gives inf)
    Case("extreme_logits", "binary_cross_entropy_with_logits",
         [Literal([[-100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0]], grad=True),
          Literal([[1.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.0]], grad=True)],
         {"pos_weight": Positive((7,), grad=False)}, module="BCEWithLogitsLoss"),
    Case("empty", "binary_cross_entropy_with_logits", [Float((0, 4)), Prob((0, 4))],
         module="BCEWithLogitsLoss"),
    Case("large", "binary_cross_entropy_with_logits", [Normal((64, 500), 0.0, 3.0), Prob((64, 500))],
         {"pos_weight": Positive((500,), grad=False)}, module="BCEWithLogitsLoss",
         dtypes=("float64", "float32")),
]

ERROR_CASES = [
    # ---- cross_entropy
    ErrorCase("bad_reduction", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"reduction": "avg"}, match="is not a valid value for reduction"),
    ErrorCase("float_target_wrong_shape", "cross_entropy", [Float((4, 5)), Float((4,))],
              error=TypeError, match="`target` must hold class indices"),
    ErrorCase("int_target_input_shape", "cross_entropy", [Float((4, 5)), Index((4, 5), 5)],
              error=TypeError, match="Expected floating point type for target with class probabilities"),
    ErrorCase("target_batch_mismatch", "cross_entropy", [Float((4, 5)), Index((3,), 5)],
              match=r"`target` must have shape \(4,\) for `input` of shape \(4, 5\), got \(3,\)"),
    ErrorCase("target_extra_dim", "cross_entropy", [Float((4, 5)), Index((4, 1), 5)],
              match=r"`target` must have shape \(4,\)"),
    ErrorCase("target_spatial_mismatch", "cross_entropy", [Float((2, 3, 4)), Index((2, 5), 3)],
              match=r"`target` must have shape \(2, 4\)"),
    ErrorCase("target_1d_input_size3", "cross_entropy", [Float((5,)), Index((3,), 5)],
              match=r"`target` must have shape \(\)"),
    ErrorCase("weight_wrong_size", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((4,))}, match="classes or no classes"),
    ErrorCase("weight_2d", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((1, 5))}, match="one weight per class"),
    ErrorCase("weight_wrong_size_probs", "cross_entropy", [Float((4, 5)), Prob((4, 5), axis=1)],
              {"weight": Positive((4,))}, match="classes or no classes"),
    ErrorCase("class_index_too_large", "cross_entropy",
              [Float((4, 5)), Literal([0, 1, 2, 5], dtype="int64")], match="Target 5 is out of bounds"),
    ErrorCase("class_index_negative", "cross_entropy",
              [Float((4, 5)), Literal([0, -1, 2, 3], dtype="int64")], match="Target -1 is out of bounds"),
    ErrorCase("class_index_oob_4d", "cross_entropy",
              [Float((1, 3, 2, 2)), Literal([[[0, 1], [3, 2]]], dtype="int64")],
              match="Target 3 is out of bounds"),
    # a class weight of another dtype than the input: torch's "expected scalar type"
    ErrorCase("weight_half_for_float32", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((5,))}, error=TypeError,
              match="`weight` must have the dtype of `input`, float32, got float16: "
                    "expected scalar type Float but found Half",
              ours_fn=_half_weight("cross_entropy", "ours"), torch_fn=_half_weight("cross_entropy", "torch")),
    ErrorCase("weight_half_for_float32_smoothing", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((5,)), "label_smoothing": 0.1}, error=TypeError,
              match="expected scalar type Float but found Half",
              ours_fn=_half_weight("cross_entropy", "ours"), torch_fn=_half_weight("cross_entropy", "torch")),
    ErrorCase("weight_float32_for_float64", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((5,))}, error=TypeError, dtype="float64",
              match="expected scalar type Double but found Float",
              ours_fn=lambda i, t, weight, **kw: _ours_ce(i, t, weight=weight.astype(_mx_f32()), **kw),
              torch_fn=lambda i, t, weight, **kw: _torch_ce(i, t, weight=weight.float(), **kw)),
    ErrorCase("label_smoothing_above_one", "cross_entropy", [Float((4, 5)), Index((4,), 5)],
              {"label_smoothing": 1.1}, match="label_smoothing must be between 0.0 and 1.0"),
    # the class axis: MLX-only, torch has no such keyword
    ErrorCase("axis_batch", "cross_entropy", [Float((4, 5, 3)), Index((5, 3), 5)], {"axis": 0},
              match=r"`axis` must name a class axis of `input` .*axis 0 is the batch",
              torch_raises=False, torch_fn=_moved("cross_entropy")),
    ErrorCase("probs_ignore_index", "cross_entropy", [Float((4, 5)), Prob((4, 5), axis=1)],
              {"ignore_index": 0}, match="ignore_index is not supported for floating point target"),
    # (the runner hands 0-D floats over as (1,): reshape both sides to 0-D)
    ErrorCase("scalar_input", "cross_entropy", [Float(()), Literal(1, dtype="int64")],
              match="1 or more dimensions",
              ours_fn=lambda i, t, **kw: _ours_ce(i.reshape(()), t, **kw),
              torch_fn=lambda i, t, **kw: _torch_ce(i.reshape(()), t.reshape(()), **kw)),
    ErrorCase("int_input", "cross_entropy", [Literal([[1, 2], [3, 4]], dtype="int64"), Index((2,), 2)],
              error=TypeError, match="`input` must have a floating dtype"),
    # ---- nll_loss
    ErrorCase("bad_reduction", "nll_loss", [Float((4, 5)), Index((4,), 5)],
              {"reduction": "batchmean"}, match="is not a valid value for reduction"),
    ErrorCase("float_target", "nll_loss", [Float((4, 5)), Float((4,))], error=TypeError,
              match="`target` must hold class indices"),
    ErrorCase("target_batch_mismatch", "nll_loss", [Float((4, 5)), Index((2,), 5)],
              match=r"`target` must have shape \(4,\)"),
    ErrorCase("weight_wrong_size", "nll_loss", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((6,))}, match="classes or no classes"),
    ErrorCase("weight_half_for_float32", "nll_loss", [Float((4, 5)), Index((4,), 5)],
              {"weight": Positive((5,))}, error=TypeError,
              match="`weight` must have the dtype of `input`, float32, got float16: "
                    "expected scalar type Float but found Half",
              ours_fn=_half_weight("nll_loss", "ours"), torch_fn=_half_weight("nll_loss", "torch")),
    ErrorCase("weight_half_for_float32_4d", "nll_loss", [Float((2, 5, 2, 2)), Index((2, 2, 2), 5)],
              {"weight": Positive((5,))}, error=TypeError, match="expected scalar type Float but found Half",
              ours_fn=_half_weight("nll_loss", "ours"), torch_fn=_half_weight("nll_loss", "torch")),
    ErrorCase("class_index_too_large", "nll_loss",
              [Float((4, 5)), Literal([0, 7, 2, 1], dtype="int64")], match="Target 7 is out of bounds"),
    ErrorCase("class_index_negative_4d", "nll_loss",
              [Float((1, 3, 2, 2)), Literal([[[0, 1], [-2, 2]]], dtype="int64")],
              match="Target -2 is out of bounds"),
    # ---- binary_cross_entropy
    ErrorCase("bad_reduction", "binary_cross_entropy", [Prob((4,)), Prob((4,))],
              {"reduction": "elementwise"}, match="is not a valid value for reduction"),
    ErrorCase("input_above_one", "binary_cross_entropy", [Float((4, 3), 0.5, 1.5), Prob((4, 3))],
              match="all elements of input should be between 0 and 1"),
    ErrorCase("input_negative", "binary_cross_entropy",
              [Literal([0.5, -0.25, 0.5]), Literal([0.0, 1.0, 1.0])],
              match="all elements of input should be between 0 and 1"),
    ErrorCase("input_nan", "binary_cross_entropy",
              [Literal([0.5, float("nan")]), Literal([0.0, 1.0])],
              match="all elements of input should be between 0 and 1"),
    ErrorCase("target_above_one", "binary_cross_entropy",
              [Prob((3,)), Literal([0.0, 1.5, 1.0])],
              match="all elements of target should be between 0 and 1"),
    ErrorCase("size_mismatch", "binary_cross_entropy", [Prob((4, 5)), Prob((5,))],
              match="`target` must have the shape of `input`"),
    ErrorCase("size_mismatch_same_numel", "binary_cross_entropy", [Prob((4, 5)), Prob((5, 4))],
              match="`target` must have the shape of `input`"),
    ErrorCase("target_half_for_float32", "binary_cross_entropy", [Prob((4, 3)), Prob((4, 3))],
              error=TypeError, match="Found dtype Half but expected Float",
              ours_fn=lambda i, t, **kw: _bce_ours(i, t.astype(_mx_f16()), **kw),
              torch_fn=lambda i, t, **kw: _bce_torch(i, t.half(), **kw)),
    ErrorCase("weight_not_broadcastable", "binary_cross_entropy", [Prob((4, 5)), Prob((4, 5))],
              {"weight": Positive((3,))}, match="`weight` must be broadcastable"),
    ErrorCase("weight_larger", "binary_cross_entropy", [Prob((4, 5)), Prob((4, 5))],
              {"weight": Positive((2, 4, 5))}, match="`weight` must be broadcastable"),
    # ---- binary_cross_entropy_with_logits
    ErrorCase("bad_reduction", "binary_cross_entropy_with_logits", [Float((4,)), Prob((4,))],
              {"reduction": "avg"}, match="is not a valid value for reduction"),
    ErrorCase("size_mismatch", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((5,))],
              match="Target size must be the same as input size"),
    ErrorCase("weight_larger", "binary_cross_entropy_with_logits", [Float((4, 5)), Prob((4, 5))],
              {"weight": Positive((2, 4, 5))}, match="`weight` must be broadcastable"),
    ErrorCase("pos_weight_wrong_size", "binary_cross_entropy_with_logits",
              [Float((4, 5)), Prob((4, 5))], {"pos_weight": Positive((3,))},
              match="`pos_weight` must be broadcastable"),
    ErrorCase("pos_weight_larger", "binary_cross_entropy_with_logits",
              [Float((4, 5)), Prob((4, 5))], {"pos_weight": Positive((2, 4, 5))},
              match="`pos_weight` must be broadcastable"),
    ErrorCase("int_target", "binary_cross_entropy_with_logits",
              [Float((3,)), Literal([0, 1, 1], dtype="int64")], error=TypeError,
              match="`target` must have a floating dtype"),
]
