"""Parity table: sigmoid_focal_loss, focal_loss, poly1_cross_entropy,
dice_loss, generalized_dice_loss, tversky_loss.

None of these is in torch, so each reference is written here, in torch, from
its published semantics (torchvision's ``sigmoid_focal_loss``; Lin et al.
2017 with MONAI's softmax alpha and torch's cross-entropy reductions;
PolyLoss's Poly-1; MONAI's ``DiceLoss`` / ``GeneralizedDiceLoss`` /
``TverskyLoss`` and ``compute_tp_fp_fn``), and the runner evaluates it live
in float64 (and in the dtype under test, for the half-precision baseline).
The reference takes torch's layout (classes on axis 1); the ``*_nhwc`` cases
hand ours the same values channels-last (``axis=-1``), so values and
gradients must be exactly those of the channels-first reference.
"""

import numpy as np

from parity.runner import Case, ErrorCase
from parity.specs import Binary, Derived, Float, Index, Literal, Positive, Prob

# --------------------------------------------------------------------------
# references (torch, classes on axis 1)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def ref_sigmoid_focal_loss(input, target, alpha=0.25, gamma=2.0, reduction="mean"):
    """torchvision.ops.sigmoid_focal_loss: BCE with logits times
    (1 - p_t) ** gamma, times alpha_t unless alpha < 0."""
    import torch
    import torch.nn.functional as TF

    p = torch.sigmoid(input)
    bce = TF.binary_cross_entropy_with_logits(input, target, reduction="none")
    p_t = target * p + (1 - target) * (1 - p)
    loss = bce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (target * alpha + (1 - target) * (1 - alpha))
    return _reduce(loss, reduction)


def _class_view(v, ndim):
    return v.view([1, -1] + [1] * (ndim - 2))


def _monai_alpha(alpha, C, like):
    """MONAI's softmax alpha: 1 - alpha for class 0, alpha for the others."""
    import torch

    return torch.tensor([1 - alpha] + [alpha] * (C - 1), dtype=like.dtype)


def ref_focal_loss(input, target, weight=None, ignore_index=-100, reduction="mean", gamma=2.0,
                   alpha=None):
    """-w_y a_y (1 - p_y)^gamma log p_y (Lin et al. over a softmax; MONAI's
    alpha), with torch cross-entropy's ignore_index and weighted mean; class
    probabilities: -sum_c w_c a_c t_c (1 - p_c)^gamma log p_c, plain mean."""
    import torch
    import torch.nn.functional as TF

    C = input.shape[1]
    logp = TF.log_softmax(input, dim=1)
    if target.is_floating_point():
        coef = target
        if weight is not None:
            coef = coef * _class_view(weight, input.ndim)
        if alpha is not None:
            coef = coef * _class_view(_monai_alpha(alpha, C, input), input.ndim)
        loss = -(coef * (1 - logp.exp()) ** gamma * logp).sum(1)
        return _reduce(loss, reduction)
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    logp_t = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w_t = weight[safe] if weight is not None else torch.ones_like(logp_t)
    loss = -((1 - logp_t.exp()) ** gamma) * logp_t * w_t
    if alpha is not None:
        loss = loss * _monai_alpha(alpha, C, input)[safe]
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == "mean":
        return loss.sum() / torch.where(valid, w_t, torch.zeros_like(w_t)).sum()
    return _reduce(loss, reduction)


def ref_poly1_cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                            label_smoothing=0.0, epsilon=1.0):
    """PolyLoss's Poly-1: torch's unreduced cross-entropy (weight,
    ignore_index, label_smoothing) plus epsilon * sum_c w_c s_c (1 - p_c)
    with s the (smoothed) target distribution; torch's reductions."""
    import torch
    import torch.nn.functional as TF

    C = input.shape[1]
    ce = TF.cross_entropy(input, target, weight=weight, ignore_index=ignore_index,
                          reduction="none", label_smoothing=label_smoothing)
    p = TF.softmax(input, dim=1)
    if target.is_floating_point():
        s = target
    else:
        valid = target != ignore_index
        safe = torch.where(valid, target, torch.zeros_like(target))
        s = torch.movedim(TF.one_hot(safe, C).to(input.dtype), -1, 1)
    s = s * (1 - label_smoothing) + label_smoothing / C
    if weight is not None:
        s = s * _class_view(weight, input.ndim)
    loss = ce + epsilon * (s * (1 - p)).sum(1)
    if target.is_floating_point():
        return _reduce(loss, reduction)
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == "mean":
        w_t = weight[safe] if weight is not None else torch.ones_like(loss)
        return loss.sum() / torch.where(valid, w_t, torch.zeros_like(w_t)).sum()
    return _reduce(loss, reduction)


def _monai_prepare(input, target, include_background, to_onehot_y, sigmoid, softmax,
                   other_act):
    import torch

    if sigmoid:
        input = torch.sigmoid(input)
    C = input.shape[1]
    if softmax and C > 1:
        input = torch.softmax(input, 1)
    if other_act is not None:
        input = other_act(input)
    if to_onehot_y and C > 1:
        idx = target.long()
        shape = list(idx.shape)
        shape[1] = C
        # MONAI's one_hot (scatter along dim 1), in the input's dtype
        target = torch.zeros(shape, dtype=input.dtype).scatter_(1, idx, 1)
    if not include_background and C > 1:
        input, target = input[:, 1:], target[:, 1:]
    if target.shape != input.shape:
        raise AssertionError(f"ground truth has different shape ({target.shape}) from input "
                             f"({input.shape})")
    return input, target


def _monai_tp_fp_fn(p, g, dims, order, soft_label, decoupled=True):
    """MONAI's compute_tp_fp_fn."""
    import torch

    if order == 1 and not soft_label:
        tp = (p * g).sum(dims)
        if decoupled:
            return tp, p.sum(dims) - tp, g.sum(dims) - tp
        return tp, (p * (1 - g)).sum(dims), ((1 - p) * g).sum(dims)
    pn = torch.linalg.vector_norm(p, ord=order, dim=dims)
    gn = torch.linalg.vector_norm(g, ord=order, dim=dims)
    dn = torch.linalg.vector_norm(p - g, ord=order, dim=dims)
    if order > 1:
        pn, gn, dn = pn ** order, gn ** order, dn ** order
    tp = (pn + gn - dn) / 2
    return tp, pn - tp, gn - tp


def _dims(ndim, batch):
    dims = list(range(2, ndim))
    return [0] + dims if batch else dims


def ref_dice_loss(input, target, include_background=True, to_onehot_y=False, sigmoid=False,
                  softmax=False, other_act=None, squared_pred=False, jaccard=False,
                  reduction="mean", smooth_nr=1e-5, smooth_dr=1e-5, batch=False, weight=None,
                  soft_label=False):
    """MONAI's DiceLoss ('none': its (N, C) before the broadcastable view)."""
    import torch

    p, g = _monai_prepare(input, target, include_background, to_onehot_y, sigmoid, softmax,
                          other_act)
    tp, fp, fn = _monai_tp_fp_fn(p, g, _dims(p.ndim, batch), 2 if squared_pred else 1,
                                 soft_label)
    if not jaccard:
        fp, fn = 0.5 * fp, 0.5 * fn
    f = 1 - (2 * tp + smooth_nr) / (2 * (tp + fp + fn) + smooth_dr)
    C = g.shape[1]
    if weight is not None and C != 1:
        w = torch.as_tensor(weight, dtype=f.dtype)
        f = f * (w.expand(C) if w.ndim == 0 else w)
    return _reduce(f, reduction)


def ref_generalized_dice_loss(input, target, include_background=True, to_onehot_y=False,
                              sigmoid=False, softmax=False, other_act=None, w_type="square",
                              reduction="mean", smooth_nr=1e-5, smooth_dr=1e-5, batch=False,
                              soft_label=False):
    """MONAI's GeneralizedDiceLoss (weights in the loss's dtype; 'none':
    (N,), or 0-D with batch)."""
    import torch

    p, g = _monai_prepare(input, target, include_background, to_onehot_y, sigmoid, softmax,
                          other_act)
    dims = _dims(p.ndim, batch)
    tp, fp, fn = _monai_tp_fp_fn(p, g, dims, 1, soft_label)
    den = 2 * (tp + 0.5 * fp + 0.5 * fn)
    vol = g.sum(dims)
    w = {"simple": lambda v: 1 / v, "square": lambda v: 1 / (v * v),
         "uniform": torch.ones_like}[w_type](vol)
    infs = torch.isinf(w)
    w = torch.where(infs, torch.zeros_like(w), w)
    w = w + infs * w.max(dim=-1, keepdim=True).values
    f = 1 - (2 * (tp * w).sum(-1) + smooth_nr) / ((den * w).sum(-1) + smooth_dr)
    return _reduce(f, reduction)


def ref_tversky_loss(input, target, include_background=True, to_onehot_y=False, sigmoid=False,
                     softmax=False, other_act=None, alpha=0.5, beta=0.5, reduction="mean",
                     smooth_nr=1e-5, smooth_dr=1e-5, batch=False, soft_label=False):
    """MONAI's TverskyLoss."""
    p, g = _monai_prepare(input, target, include_background, to_onehot_y, sigmoid, softmax,
                          other_act)
    tp, fp, fn = _monai_tp_fp_fn(p, g, _dims(p.ndim, batch), 1, soft_label, decoupled=False)
    f = 1 - (tp + smooth_nr) / (tp + alpha * fp + beta * fn + smooth_dr)
    return _reduce(f, reduction)


# --------------------------------------------------------------------------
# channels-last: ours gets the same values with the classes last


def _nhwc(fn, move_target=True, **extra):
    """(ours_fn, module_call) calling ours channels-last on the case's
    channels-first values; class-index targets without a class axis stay."""

    def move(x, is_target):
        import mlx.core as mx

        if is_target and not move_target:
            return x
        return mx.moveaxis(x, 1, -1)

    def ours_fn(input, target, **kw):
        import mlx_losses.functional as F

        return getattr(F, fn)(move(input, False), move(target, True), axis=-1, **extra, **kw)

    def module_call(module, input, target):
        return module(move(input, False), move(target, True))

    return dict(ours_fn=ours_fn, module_call=module_call)


def _with_act(fn, ours_act, torch_act):
    """ours / the reference with ``other_act`` set to each side's function."""

    def ours_fn(*args, **kw):
        import mlx_losses.functional as F

        return getattr(F, fn)(*args, other_act=ours_act(), **kw)

    def torch_fn(*args, **kw):
        return globals()[f"ref_{fn}"](*args, other_act=torch_act(), **kw)

    return dict(ours_fn=ours_fn, torch_fn=torch_fn)


def _mx_tanh():
    import mlx.core as mx

    return mx.tanh


def _torch_tanh():
    import torch

    return torch.tanh


# --------------------------------------------------------------------------
# inputs


def _one_hot(shape, absent=None):
    """One-hot labels of ``shape`` (classes on axis 1); ``absent``: (sample,
    class) pairs whose class never occurs in that sample."""

    def make(rng):
        n, c = shape[0], shape[1]
        idx = rng.integers(0, c, size=(n,) + tuple(shape[2:]))
        for s, k in absent or ():
            idx[s] = np.where(idx[s] == k, (k + 1) % c, idx[s])
        return np.moveaxis(np.eye(c)[idx], -1, 1)

    return Derived(make, grad=False)


def _indices(shape, C, absent=None):
    """Class indices with size 1 on axis 1 (MONAI's to_onehot_y layout)."""

    def make(rng):
        idx = rng.integers(0, C, size=shape)
        for s, k in absent or ():
            idx[s] = np.where(idx[s] == k, (k + 1) % C, idx[s])
        return idx.astype(np.int64)

    return Derived(make, floating=False, grad=False)


_SF, _FL, _P1 = "sigmoid_focal_loss", "focal_loss", "poly1_cross_entropy"
_DL, _GD, _TV = "dice_loss", "generalized_dice_loss", "tversky_loss"
_F64_F32 = ("float64", "float32")
_SHAPE = (2, 3, 4, 3)  # (N, C, H, W)

_focal_opts = {"weight": Positive((4,), grad=False), "alpha": 0.25, "gamma": 1.5}
_poly_opts = {"weight": Positive((4,), grad=False), "label_smoothing": 0.1, "epsilon": 2.0}
_dice_soft = {"softmax": True, "to_onehot_y": True, "include_background": False,
              "weight": [0.5, 2.0]}
_gdl_opts = {"sigmoid": True, "w_type": "simple", "batch": True}
_tv_opts = {"softmax": True, "to_onehot_y": True, "batch": True, "alpha": 0.3, "beta": 0.7}

CASES = [
    # ---- sigmoid_focal_loss (torchvision)
    Case("basic", _SF, [Float((4, 5), -12.0, 12.0), Binary((4, 5))], module="SigmoidFocalLoss",
         torch_fn=ref_sigmoid_focal_loss, vmap=True),
    # alpha < 0 and gamma = 0: plain BCE with logits
    Case("bce", _SF, [Float((4, 5), -6.0, 6.0), Binary((4, 5))], {"alpha": -1.0, "gamma": 0.0},
         module="SigmoidFocalLoss", torch_fn=ref_sigmoid_focal_loss, dtypes=_F64_F32),
    # soft targets (differentiated), a fractional gamma, alpha > 0.5
    Case("soft_targets", _SF, [Float((3, 4, 5), -4.0, 4.0), Prob((3, 4, 5))],
         {"alpha": 0.75, "gamma": 0.5}, module="SigmoidFocalLoss",
         torch_fn=ref_sigmoid_focal_loss),
    # ---- focal_loss (softmax)
    Case("2d", _FL, [Float((6, 4), -3.0, 3.0), Index((6,), 4)], module="FocalLoss",
         torch_fn=ref_focal_loss, vmap=True),
    Case("nchw_options", _FL, [Float(_SHAPE[:1] + (4,) + _SHAPE[2:], -3.0, 3.0),
                               Index(_SHAPE[:1] + _SHAPE[2:], 4, ignore=-100)],
         _focal_opts, module="FocalLoss", torch_fn=ref_focal_loss),
    Case("nhwc_options", _FL, [Float(_SHAPE[:1] + (4,) + _SHAPE[2:], -3.0, 3.0),
                               Index(_SHAPE[:1] + _SHAPE[2:], 4, ignore=-100)],
         _focal_opts, module="FocalLoss", module_kwargs={**_focal_opts, "axis": -1},
         torch_fn=ref_focal_loss, **_nhwc(_FL, move_target=False)),
    Case("probs", _FL, [Float(_SHAPE), Prob(_SHAPE, axis=1, grad=False)],
         {"weight": Positive((3,), grad=False), "gamma": 2.0, "alpha": 0.4}, module="FocalLoss",
         torch_fn=ref_focal_loss, dtypes=_F64_F32),
    # ---- poly1_cross_entropy
    Case("2d", _P1, [Float((6, 4), -3.0, 3.0), Index((6,), 4)], module="Poly1CrossEntropyLoss",
         torch_fn=ref_poly1_cross_entropy, vmap=True),
    Case("nchw_options", _P1, [Float((2, 4, 3, 3)), Index((2, 3, 3), 4, ignore=-100)],
         _poly_opts, module="Poly1CrossEntropyLoss", torch_fn=ref_poly1_cross_entropy),
    Case("nhwc_options", _P1, [Float((2, 4, 3, 3)), Index((2, 3, 3), 4, ignore=-100)],
         _poly_opts, module="Poly1CrossEntropyLoss", module_kwargs={**_poly_opts, "axis": -1},
         torch_fn=ref_poly1_cross_entropy, **_nhwc(_P1, move_target=False)),
    Case("probs", _P1, [Float((5, 4)), Prob((5, 4), axis=1, grad=False)],
         {"weight": Positive((4,), grad=False), "label_smoothing": 0.2, "epsilon": -0.5},
         module="Poly1CrossEntropyLoss", torch_fn=ref_poly1_cross_entropy, dtypes=_F64_F32),
    # ---- dice_loss (MONAI)
    Case("probs", _DL, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)], module="DiceLoss",
         torch_fn=ref_dice_loss),
    Case("softmax_indices", _DL, [Float(_SHAPE), _indices((2, 1, 4, 3), 3)], _dice_soft,
         module="DiceLoss", torch_fn=ref_dice_loss),
    Case("softmax_indices_nhwc", _DL, [Float(_SHAPE), _indices((2, 1, 4, 3), 3)], _dice_soft,
         module="DiceLoss", module_kwargs={**_dice_soft, "axis": -1}, torch_fn=ref_dice_loss,
         **_nhwc(_DL)),
    Case("sigmoid_squared_jaccard_batch", _DL, [Float(_SHAPE), _one_hot(_SHAPE)],
         {"sigmoid": True, "squared_pred": True, "jaccard": True, "batch": True,
          "smooth_nr": 0.0, "smooth_dr": 1e-3}, module="DiceLoss", torch_fn=ref_dice_loss,
         dtypes=_F64_F32),
    # soft labels against a tanh activation (negative predictions: the L1 norms)
    Case("tanh_soft_label", _DL, [Float(_SHAPE), Prob(_SHAPE, grad=False)], {"soft_label": True},
         dtypes=_F64_F32, **_with_act(_DL, _mx_tanh, _torch_tanh)),
    # ---- generalized_dice_loss (MONAI)
    # class 2 absent from sample 0: its weight is the sample's largest
    Case("softmax_absent_class", _GD, [Float(_SHAPE), _indices((2, 1, 4, 3), 3, [(0, 2)])],
         {"softmax": True, "to_onehot_y": True}, module="GeneralizedDiceLoss",
         torch_fn=ref_generalized_dice_loss),
    Case("sigmoid_simple_batch_nhwc", _GD, [Float(_SHAPE), _one_hot(_SHAPE, [(0, 1), (1, 1)])],
         _gdl_opts, module="GeneralizedDiceLoss", module_kwargs={**_gdl_opts, "axis": -1},
         torch_fn=ref_generalized_dice_loss, dtypes=_F64_F32, **_nhwc(_GD)),
    Case("uniform_soft_label", _GD, [Prob(_SHAPE), Prob(_SHAPE, grad=False)],
         {"w_type": "uniform", "soft_label": True, "include_background": False},
         module="GeneralizedDiceLoss", torch_fn=ref_generalized_dice_loss, dtypes=_F64_F32),
    # ---- tversky_loss (MONAI)
    Case("probs", _TV, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)], {"alpha": 0.3, "beta": 0.7},
         module="TverskyLoss", torch_fn=ref_tversky_loss),
    Case("softmax_batch_nhwc", _TV, [Float(_SHAPE), _indices((2, 1, 4, 3), 3)], _tv_opts,
         module="TverskyLoss", module_kwargs={**_tv_opts, "axis": -1}, torch_fn=ref_tversky_loss,
         dtypes=_F64_F32, **_nhwc(_TV)),
    Case("soft_label", _TV, [Prob(_SHAPE), Prob(_SHAPE, grad=False)],
         {"soft_label": True, "alpha": 0.6, "beta": 0.4}, module="TverskyLoss",
         torch_fn=ref_tversky_loss, dtypes=_F64_F32),
]

ERROR_CASES = [
    ErrorCase("target_shape", _SF, [Float((3, 4)), Binary((3, 5))],
              match="`target` must have the shape of `input`, \\(3, 4\\)",
              torch_fn=ref_sigmoid_focal_loss),
    ErrorCase("negative_gamma", _SF, [Float((3, 4)), Binary((3, 4))], {"gamma": -1.0},
              match="`gamma` must be >= 0", torch_raises=False),
    ErrorCase("target_shape", _FL, [Float((2, 4, 3, 3)), Index((2, 3, 4), 4)],
              error=ValueError, match="`target` must have shape \\(2, 3, 3\\)",
              torch_fn=ref_focal_loss),
    ErrorCase("axis_out_of_range", _FL, [Float((2, 3, 3, 4)), Index((2, 3, 3), 4)],
              {"axis": 4}, match="`axis` must name a class axis", torch_raises=False),
    ErrorCase("axis_is_batch", _FL, [Float((2, 3, 3, 4)), Index((2, 3, 3), 4)],
              {"axis": -4}, match="`axis` must name a class axis", torch_raises=False),
    ErrorCase("index_out_of_range", _FL, [Float((4, 3)), Literal([0, 1, 3, 2], dtype="int64")],
              match="`target` must hold class indices in \\[0, 3\\)", torch_fn=ref_focal_loss),
    ErrorCase("epsilon_below_minus_one", _P1, [Float((4, 3)), Index((4,), 3)],
              {"epsilon": -2.0}, match="`epsilon` must be >= -1", torch_raises=False),
    ErrorCase("axis_out_of_range", _DL, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)],
              {"axis": 5}, match="`axis` must name a class axis", torch_raises=False),
    ErrorCase("not_probabilities", _DL, [Float(_SHAPE), _one_hot(_SHAPE)],
              match="`input` must hold probabilities in \\[0, 1\\]", torch_raises=False),
    ErrorCase("target_shape", _DL, [Prob(_SHAPE, axis=1), _one_hot((2, 3, 4, 4))],
              match="`target` must have the shape of `input`, \\(2, 3, 4, 3\\)",
              torch_fn=ref_dice_loss),
    ErrorCase("onehot_target_shape", _DL, [Float(_SHAPE), _indices((2, 1, 4, 4), 3)],
              {"to_onehot_y": True, "softmax": True},
              match="`target` must have shape \\(2, 1, 4, 3\\)", torch_fn=ref_dice_loss),
    ErrorCase("sigmoid_and_softmax", _DL, [Float(_SHAPE), _one_hot(_SHAPE)],
              {"sigmoid": True, "softmax": True}, match="`sigmoid` must be combined with at "
              "most one", torch_raises=False),
    ErrorCase("negative_weight", _DL, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)],
              {"weight": [1.0, -1.0, 1.0]}, match="`weight` must be >= 0", torch_raises=False),
    ErrorCase("weight_length", _DL, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)],
              {"weight": [1.0, 1.0]}, match="`weight` must have 3 values", torch_raises=False),
    ErrorCase("bad_w_type", _GD, [Prob(_SHAPE, axis=1), _one_hot(_SHAPE)],
              {"w_type": "cube"}, match="`w_type` must be one of", torch_raises=False),
    ErrorCase("2d_input", _TV, [Prob((4, 3), axis=1), _one_hot((4, 3))],
              match="`input` must have 3 or more dimensions", torch_raises=False),
]
