"""Parity table: preference losses (DPO and its TRL loss types, ORPO, SimPO,
KTO), sequence_log_probs, and the fused forms over the LM head.

There is no torch.nn loss to compare with: the references below are written
here in torch from the published formulas, following the semantics of TRL's
trainers (``DPOTrainer``, ``ORPOTrainer``, ``CPOTrainer`` for SimPO,
``KTOTrainer``) and Liger-Kernel's chunked losses, and run live (float64 for
the reference; in the dtype under test for torch's own error). The fused
cases compute the logits in torch (``h @ W.T + b``) and feed the same
references, so they also check the fused forms against the unfused ones.
"""

import math

from parity.runner import Case, ErrorCase
from parity.specs import Binary, Float, Index, Literal, Normal

B, T, H, V = 3, 5, 6, 11


# --------------------------------------------------------------------------
# torch references (TRL's formulas)


def _ls(x):
    import torch.nn.functional as TF

    return TF.logsigmoid(x)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def ref_dpo_losses(pc, pr, rc, rr, *, beta=0.1, loss_type="sigmoid", label_smoothing=0.0,
                   lc=None, lr=None):
    """Per-pair DPO losses and (chosen, rejected) rewards, as TRL's DPOTrainer."""
    import torch

    eps = label_smoothing
    chosen_lr, rejected_lr = pc - rc, pr - rr
    delta = chosen_lr - rejected_lr
    z = beta * delta
    if loss_type == "sigmoid":  # TRL's cDPO form
        loss = -_ls(z) * (1 - eps) - _ls(-z) * eps
    elif loss_type == "robust":
        loss = (-(1 - eps) * _ls(z) + eps * _ls(-z)) / (1 - 2 * eps)
    elif loss_type == "hinge":
        loss = torch.relu(1 - z)
    elif loss_type == "ipo":
        if lc is not None:
            delta = chosen_lr / lc.clamp(min=1) - rejected_lr / lr.clamp(min=1)
        loss = (delta - 1 / (2 * beta)) ** 2
    elif loss_type == "exo_pair":
        loss = torch.sigmoid(z) * (_ls(z) - math.log(1 - eps)) + torch.sigmoid(-z) * (
            _ls(-z) - math.log(eps))
    elif loss_type == "nca_pair":
        cr, rj = beta * chosen_lr, beta * rejected_lr
        loss = -_ls(cr) - 0.5 * _ls(-cr) - 0.5 * _ls(-rj)
    elif loss_type == "sppo_hard":
        loss = (chosen_lr - 0.5 / beta) ** 2 + (rejected_lr + 0.5 / beta) ** 2
    elif loss_type == "apo_zero":
        loss = 1 - torch.sigmoid(beta * chosen_lr) + torch.sigmoid(beta * rejected_lr)
    else:  # apo_down
        loss = torch.sigmoid(beta * chosen_lr) + 1 - torch.sigmoid(z)
    return loss, beta * chosen_lr.detach(), beta * rejected_lr.detach()


def _metrics(chosen, rejected):
    import torch

    return torch.stack([chosen, rejected, chosen - rejected, (chosen > rejected).to(chosen.dtype)])


def _log1mexp(x):
    import torch

    # TRL's log1mexp: branch at -log 2
    return torch.where(x < -0.6931471805599453, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def ref_orpo_losses(pc, pr, nll, *, beta=0.1):
    """ORPOTrainer.odds_ratio_loss on average log-probs, plus the NLL term."""
    log_odds = (pc - pr) - (_log1mexp(pc) - _log1mexp(pr))
    return nll - beta * _ls(log_odds), beta * pc.detach(), beta * pr.detach()


def ref_simpo_losses(pc, pr, *, beta=0.1, gamma=0.5, label_smoothing=0.0):
    """CPOTrainer with loss_type='simpo' (gamma / beta inside the margin)."""
    logits = (pc - pr) - gamma / beta
    loss = -_ls(beta * logits) * (1 - label_smoothing) - _ls(-beta * logits) * label_smoothing
    return loss, beta * pc.detach(), beta * pr.detach()


def ref_kto_losses(p, r, labels, *, kl=0.0, beta=0.1, desirable_weight=1.0, undesirable_weight=1.0):
    """KTOTrainer's 'kto' loss, per example in the batch's order."""
    import torch

    z0 = torch.as_tensor(kl, dtype=p.dtype).clamp(min=0).detach()
    lr = p - r
    des = labels != 0
    chosen = desirable_weight * (1 - torch.sigmoid(beta * (lr - z0)))
    rejected = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - lr)))
    return torch.where(des, chosen, rejected)


def ref_seq_logps(logits, targets, mask=None, average=False, ignore_index=-100):
    """TRL's selective_log_softmax summed over the counted tokens."""
    import torch

    counted = targets != ignore_index
    if mask is not None:
        counted = counted & (mask != 0)
    safe = torch.where(counted, targets, 0)
    lp = torch.log_softmax(logits, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    lp = torch.where(counted, lp, torch.zeros_like(lp))
    total = lp.sum(-1)
    if average:
        total = total / counted.sum(-1)
    return total


# --------------------------------------------------------------------------
# both sides of each case


def _ours_seq(x, t, m=None, **kw):
    import mlx_losses.functional as F

    return F.sequence_log_probs(x, t, m, **kw)


def _ours_dpo(metrics=False, lengths=False):
    def f(pc, pr, rc, rr, *rest, **kw):
        import mlx.core as mx
        import mlx_losses.functional as F

        if lengths:
            kw = dict(kw, chosen_lengths=rest[0], rejected_lengths=rest[1])
        out = F.dpo_loss(pc, pr, rc, rr, **kw)
        if metrics:
            return mx.stack([out.chosen_rewards, out.rejected_rewards, out.reward_margins,
                             out.reward_accuracy])
        return out.loss

    return f


def _theirs_dpo(metrics=False, lengths=False):
    def f(pc, pr, rc, rr, *rest, reduction="mean", **kw):
        if lengths:
            kw = dict(kw, lc=rest[0], lr=rest[1])
        loss, c, r = ref_dpo_losses(pc, pr, rc, rr, **kw)
        return _metrics(c, r) if metrics else _reduce(loss, reduction)

    return f


def _ours_out(name, metrics=False):
    def f(*args, **kw):
        import mlx.core as mx
        import mlx_losses.functional as F

        out = getattr(F, name)(*args, **kw)
        if metrics:
            return mx.stack([out.chosen_rewards, out.rejected_rewards, out.reward_margins,
                             out.reward_accuracy])
        return out.loss

    return f


def _theirs_orpo(metrics=False):
    def f(pc, pr, reduction="mean", nll_loss=None, beta=0.1):
        nll = -pc if nll_loss is None else nll_loss
        loss, c, r = ref_orpo_losses(pc, pr, nll, beta=beta)
        return _metrics(c, r) if metrics else _reduce(loss, reduction)

    return f


def _theirs_simpo(metrics=False):
    def f(pc, pr, reduction="mean", **kw):
        loss, c, r = ref_simpo_losses(pc, pr, **kw)
        return _metrics(c, r) if metrics else _reduce(loss, reduction)

    return f


def _theirs_kto(p, r, labels, reduction="mean", **kw):
    return _reduce(ref_kto_losses(p, r, labels, **kw), reduction)


def _module_loss(cls, positional, keywords=()):
    def call(module, *args):
        kw = dict(zip(keywords, args[positional:]))
        return module(*args[:positional], **kw).loss

    return call


# fused: positional (h, W, target, bias, mask, ref_h) -> keywords; the
# torch side makes the logits and feeds the unfused references
def _ours_fused(name, metrics=False, labels=False, ref=True):
    def f(h, w, t, b, m, *rest, **kw):
        import mlx.core as mx
        import mlx_losses.functional as F
        from mlx_losses import LinearCrossEntropyOptions

        rest = list(rest)
        extra = [rest.pop(0)] if labels else []
        if ref:
            kw["ref_input"] = rest.pop(0)
        opts = LinearCrossEntropyOptions(batch_chunk_size=4, vocab_chunk_size=4)
        out = getattr(F, name)(h, w, t, *extra, bias=b, mask=m, options=opts, **kw)
        if metrics:
            return mx.stack([out.chosen_rewards, out.rejected_rewards, out.reward_margins,
                             out.reward_accuracy])
        return out.loss

    return f


def _torch_logps(h, w, t, b, m, softcap=None, logit_scale=None):
    import torch

    counted = (t != -100) & (m != 0)
    z = h @ w.T + b
    z = z * logit_scale if logit_scale is not None else z
    z = softcap * torch.tanh(z / softcap) if softcap is not None else z
    lp = ref_seq_logps(z, t, counted)
    return lp, counted.sum(-1).to(lp.dtype)


def _theirs_fused(name, metrics=False):
    def f(h, w, t, b, m, *rest, reduction="mean", **kw):
        import torch

        # the model's logit transform, on the policy's and the reference's logits
        logit = {k: kw.pop(k, None) for k in ("softcap", "logit_scale")}
        lp, n = _torch_logps(h, w, t, b, m, **logit)
        if name == "kto":
            labels, hr = rest
            with torch.no_grad():
                rl, _ = _torch_logps(hr, w, t, b, m, **logit)
            return _reduce(ref_kto_losses(lp, rl, labels, **kw), reduction)
        k = lp.shape[0] // 2
        if name == "dpo":
            with torch.no_grad():
                rl, _ = _torch_logps(rest[0], w, t, b, m, **logit)
            lens = {"lc": n[:k], "lr": n[k:]} if kw.get("loss_type") == "ipo" else {}
            loss, c, r = ref_dpo_losses(lp[:k], lp[k:], rl[:k], rl[k:], **lens, **kw)
        elif name == "orpo":
            avg = lp / n
            nll = -lp[:k].sum() / n[:k].sum()  # Liger's token mean over the chosen tokens
            loss, c, r = ref_orpo_losses(avg[:k], avg[k:], nll, **kw)
        else:
            avg = lp / n
            loss, c, r = ref_simpo_losses(avg[:k], avg[k:], **kw)
        return _metrics(c, r) if metrics else _reduce(loss, reduction)

    return f


# --------------------------------------------------------------------------
# specs

_LP = Float((B,), -9.0, -0.5)  # summed log-probabilities
_AVG = Float((B,), -3.0, -0.05)  # average per-token log-probabilities
_LENS = Literal([3, 1, 6], dtype="int64")
_LENS2 = Literal([2, 5, 0], dtype="int64")  # a zero length: TRL's clamp at 1
_LABELS = Literal([1, 0, 0, 1], dtype="int64")
_FULL = ("float64", "float32")
_MAIN = ("none", "mean", "sum")

_H = Normal((2 * B, T, H))
_W = Normal((V, H), std=0.6)
_T = Index((2 * B, T), V, ignore=-100, ignore_frac=0.2)
_BIAS = Normal((V,), std=0.5)
_MASK = Binary((2 * B, T))
_HREF = Normal((2 * B, T, H), grad=False)


def _dpo(name, kwargs, *, reductions=("none",), compile=False, module=False, **extra):
    out = [Case(name, "dpo_loss", [_LP, _LP, _LP, _LP], kwargs, ours_fn=_ours_dpo(),
                torch_fn=_theirs_dpo(), reductions=reductions, compile=compile,
                module="DPOLoss" if module else None,
                module_kwargs=dict(kwargs) if module else None,
                module_call=_module_loss("DPOLoss", 4) if module else None, **extra)]
    return out


CASES = [
    # ---- sequence_log_probs (TRL's selective_log_softmax, summed or averaged)
    Case("sum", "sequence_log_probs", [Normal((B, T, V), std=2.0), Index((B, T), V, ignore=-100)],
         ours_fn=_ours_seq, torch_fn=lambda x, t, **kw: ref_seq_logps(x, t, **kw), reductions=()),
    Case("mask_average", "sequence_log_probs",
         [Normal((2, B, T, V), std=2.0), Index((2, B, T), V, ignore=-100, ignore_frac=0.1),
          Binary((2, B, T))], {"average": True},
         ours_fn=_ours_seq, torch_fn=lambda x, t, m, **kw: ref_seq_logps(x, t, m, **kw), reductions=()),
    # ---- dpo_loss: every loss type; the first with the reduction sweep,
    # the Module and mx.compile
    *_dpo("sigmoid", {"beta": 0.3}, reductions=_MAIN, compile=True, module=True),
    *_dpo("sigmoid_cdpo", {"beta": 0.5, "label_smoothing": 0.2}),
    *_dpo("robust", {"beta": 0.2, "loss_type": "robust", "label_smoothing": 0.1}, reductions=_MAIN),
    *_dpo("hinge", {"beta": 0.4, "loss_type": "hinge"}),
    *_dpo("ipo", {"beta": 0.5, "loss_type": "ipo"}),
    *_dpo("exo_pair", {"beta": 0.3, "loss_type": "exo_pair", "label_smoothing": 1e-3}),
    *_dpo("nca_pair", {"beta": 0.3, "loss_type": "nca_pair"}),
    *_dpo("sppo_hard", {"beta": 0.7, "loss_type": "sppo_hard"}),
    *_dpo("apo_zero", {"beta": 0.3, "loss_type": "apo_zero"}),
    *_dpo("apo_down", {"beta": 0.3, "loss_type": "apo_down"}),
    Case("ipo_lengths", "dpo_loss", [_LP, _LP, _LP, _LP, _LENS, _LENS2],
         {"beta": 0.5, "loss_type": "ipo"}, ours_fn=_ours_dpo(lengths=True),
         torch_fn=_theirs_dpo(lengths=True), reductions=("none",)),
    Case("metrics", "dpo_loss", [_LP, _LP, _LP, _LP], {"beta": 0.3}, ours_fn=_ours_dpo(metrics=True),
         torch_fn=_theirs_dpo(metrics=True), reductions=(), grad=False, dtypes=_FULL, compile=False),
    # ---- orpo_loss (average log-probs; the NLL term given, or the chosen's own)
    Case("basic", "orpo_loss", [_AVG, _AVG], {"beta": 0.2}, ours_fn=_ours_out("orpo_loss"),
         torch_fn=_theirs_orpo(), module="ORPOLoss", module_kwargs={"beta": 0.2},
         module_call=_module_loss("ORPOLoss", 2), reductions=("none", "mean")),
    Case("nll_given", "orpo_loss", [_AVG, _AVG], {"beta": 1.0, "nll_loss": Float((), 0.5, 3.0)},
         ours_fn=_ours_out("orpo_loss"), torch_fn=_theirs_orpo(), reductions=("mean",), compile=False),
    # both sides of log1mexp's branch at -log 2, and near 0
    Case("branch", "orpo_loss", [Literal([-1e-4, -0.69, -0.7, -5.0], grad=True),
                                 Literal([-0.7, -0.69, -1e-3, -0.2], grad=True)],
         {"beta": 0.5}, ours_fn=_ours_out("orpo_loss"), torch_fn=_theirs_orpo(),
         reductions=("none",), compile=False, dtypes=_FULL),
    Case("metrics", "orpo_loss", [_AVG, _AVG], {"beta": 0.2}, ours_fn=_ours_out("orpo_loss", True),
         torch_fn=_theirs_orpo(True), reductions=(), grad=False, dtypes=_FULL, compile=False),
    # ---- simpo_loss
    Case("basic", "simpo_loss", [_AVG, _AVG], {"beta": 2.0, "gamma": 0.4},
         ours_fn=_ours_out("simpo_loss"), torch_fn=_theirs_simpo(), module="SimPOLoss",
         module_kwargs={"beta": 2.0, "gamma": 0.4}, module_call=_module_loss("SimPOLoss", 2),
         reductions=("none", "sum")),
    Case("smoothing", "simpo_loss", [_AVG, _AVG], {"beta": 2.5, "gamma": 1.0, "label_smoothing": 0.2},
         ours_fn=_ours_out("simpo_loss"), torch_fn=_theirs_simpo(), reductions=("none",), compile=False),
    Case("metrics", "simpo_loss", [_AVG, _AVG], {"beta": 2.0}, ours_fn=_ours_out("simpo_loss", True),
         torch_fn=_theirs_simpo(True), reductions=(), grad=False, dtypes=_FULL, compile=False),
    # ---- kto_loss (labels; the KL reference point, negative: clamped at 0)
    Case("basic", "kto_loss", [Float((4,), -9.0, -0.5), Float((4,), -9.0, -0.5), _LABELS],
         {"kl": 0.3, "beta": 0.5, "desirable_weight": 1.3, "undesirable_weight": 0.7},
         ours_fn=_ours_out("kto_loss"), torch_fn=_theirs_kto, module="KTOLoss",
         module_kwargs={"beta": 0.5, "desirable_weight": 1.3, "undesirable_weight": 0.7},
         module_call=lambda m, p, r, lab: m(p, r, lab, kl=0.3).loss, reductions=("none", "mean")),
    Case("kl_negative", "kto_loss", [Float((4,), -9.0, -0.5), Float((4,), -9.0, -0.5), _LABELS],
         {"kl": -0.4}, ours_fn=_ours_out("kto_loss"), torch_fn=_theirs_kto, reductions=("none",),
         compile=False),
    # ---- fused forms: values and gradients w.r.t. hidden states, head, bias
    Case("sigmoid", "fused_linear_dpo_loss", [_H, _W, _T, _BIAS, _MASK, _HREF],
         {"beta": 0.3, "label_smoothing": 0.1}, ours_fn=_ours_fused("fused_linear_dpo_loss"),
         torch_fn=_theirs_fused("dpo"), reductions=("none", "mean")),
    Case("ipo", "fused_linear_dpo_loss", [_H, _W, _T, _BIAS, _MASK, _HREF],
         {"beta": 0.5, "loss_type": "ipo"}, ours_fn=_ours_fused("fused_linear_dpo_loss"),
         torch_fn=_theirs_fused("dpo"), reductions=("none",), compile=False),
    Case("metrics", "fused_linear_dpo_loss", [_H, _W, _T, _BIAS, _MASK, _HREF], {"beta": 0.3},
         ours_fn=_ours_fused("fused_linear_dpo_loss", metrics=True),
         torch_fn=_theirs_fused("dpo", metrics=True), reductions=(), grad=False, dtypes=_FULL,
         compile=False),
    Case("basic", "fused_linear_orpo_loss", [_H, _W, _T, _BIAS, _MASK], {"beta": 0.2},
         ours_fn=_ours_fused("fused_linear_orpo_loss", ref=False), torch_fn=_theirs_fused("orpo"),
         reductions=("none", "mean")),
    Case("basic", "fused_linear_simpo_loss", [_H, _W, _T, _BIAS, _MASK], {"beta": 2.0, "gamma": 0.3},
         ours_fn=_ours_fused("fused_linear_simpo_loss", ref=False), torch_fn=_theirs_fused("simpo"),
         reductions=("none", "sum")),
    Case("basic", "fused_linear_kto_loss",
         [_H, _W, _T, _BIAS, _MASK, Literal([1, 0, 1, 1, 0, 0], dtype="int64"), _HREF],
         {"beta": 0.4, "kl": 0.2}, ours_fn=_ours_fused("fused_linear_kto_loss", labels=True),
         torch_fn=_theirs_fused("kto"), reductions=("none", "mean")),
    # the model's logit transform (softcap, logit_scale) on the policy's and
    # the reference's logits
    Case("logit_transform", "fused_linear_dpo_loss", [_H, Normal((V, H), std=1.5), _T, _BIAS, _MASK, _HREF],
         {"beta": 0.3, "softcap": 2.0, "logit_scale": 1.4}, ours_fn=_ours_fused("fused_linear_dpo_loss"),
         torch_fn=_theirs_fused("dpo"), reductions=("none",)),
]


def _err(name, fn, args, kwargs=None, *, error=ValueError, match="", ours_fn=None):
    return ErrorCase(name, fn, args, dict(kwargs or {}), error=error, match=match,
                     torch_raises=False, ours_fn=ours_fn)


ERROR_CASES = [
    _err("batch_mismatch", "dpo_loss", [_LP, Float((B + 1,), -9.0, -0.5), _LP, _LP],
         match=r"dpo_loss: `policy_rejected_logps` must have the shape of `policy_chosen_logps`"),
    _err("positive_logps", "dpo_loss", [_LP, Float((B,), 0.1, 1.0), _LP, _LP],
         match=r"dpo_loss: `policy_rejected_logps` must hold log-probabilities \(<= 0\), got a positive"),
    _err("unknown_loss_type", "dpo_loss", [_LP, _LP, _LP, _LP], {"loss_type": "bco"},
         match=r"dpo_loss: `loss_type` must be one of 'sigmoid', .* got 'bco'"),
    _err("robust_smoothing", "dpo_loss", [_LP, _LP, _LP, _LP],
         {"loss_type": "robust", "label_smoothing": 0.5}, match=r"`label_smoothing` must be in \[0, 0.5\)"),
    _err("positive_avg", "orpo_loss", [_AVG, Float((B,), 0.0, 0.5)],
         match=r"orpo_loss: `policy_rejected_logps` must hold log-probabilities"),
    _err("batch_mismatch", "simpo_loss", [_AVG, Float((B - 1,), -2.0, -0.1)],
         match=r"simpo_loss: `policy_rejected_logps` must have the shape of `policy_chosen_logps`"),
    _err("labels_shape", "kto_loss", [_LP, _LP, Literal([1, 0], dtype="int64")],
         match=r"kto_loss: `labels` must have the shape of `policy_logps`"),
    _err("mask_shape", "fused_linear_dpo_loss", [_H, _W, _T], {"mask": Binary((2 * B, T + 1))},
         match=r"fused_linear_dpo_loss: `mask` must have the shape of `target`, \(6, 5\), got \(6, 6\)"),
    _err("odd_batch", "fused_linear_dpo_loss", [Normal((5, T, H)), _W, Index((5, T), V)],
         match=r"fused_linear_dpo_loss: `input` must have an even batch"),
    _err("unknown_loss_type", "fused_linear_dpo_loss", [_H, _W, _T], {"loss_type": "kto"},
         match=r"fused_linear_dpo_loss: `loss_type` must be one of"),
    _err("mask_shape", "sequence_log_probs", [Normal((B, T, V)), Index((B, T), V), Binary((B, T - 1))],
         match=r"sequence_log_probs: `mask` must have the shape of `targets`"),
    _err("target_dtype", "sequence_log_probs", [Normal((B, T, V)), Float((B, T))], error=TypeError,
         match=r"sequence_log_probs: `targets` must have an integer dtype"),
]
