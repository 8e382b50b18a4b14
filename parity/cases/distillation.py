"""Parity table: distillation losses (forward KL, reverse KL, generalised JSD)
and the fused JSD over the student's and teacher's LM heads.

The reference is TRL's ``GKDTrainer.generalized_jsd_loss`` written here in
torch (``F.kl_div`` with ``log_target=True``, the mixture's log as a
``logsumexp``, TRL's masking and reductions), run live. One deliberate
difference, documented: ``'none'`` is per token (summed over the
vocabulary, 0 where ignored) where TRL keeps the vocabulary axis and drops
the ignored rows. The fused cases make both logits in torch and feed the
same reference, so they also check the fused form against the plain one.
"""

from parity.runner import Case, ErrorCase
from parity.specs import Index, Normal

N, T, V = 3, 4, 13
HS, HT = 6, 5
_REDS = ("none", "batchmean", "sum", "mean")


def ref_generalized_jsd(student_logits, teacher_logits, labels=None, beta=0.5, temperature=1.0,
                        reduction="batchmean", ignore_index=-100):
    """TRL's generalized_jsd_loss (GKD, Eq. 1), per token then reduced."""
    import torch
    import torch.nn.functional as TF

    s = TF.log_softmax(student_logits / temperature, dim=-1)
    t = TF.log_softmax(teacher_logits / temperature, dim=-1)
    if beta == 0:
        jsd = TF.kl_div(s, t, reduction="none", log_target=True)
    elif beta == 1:
        jsd = TF.kl_div(t, s, reduction="none", log_target=True)
    else:
        b = torch.tensor(beta, dtype=s.dtype)
        m = torch.logsumexp(torch.stack([s + torch.log1p(-b), t + torch.log(b)]), dim=0)
        jsd = b * TF.kl_div(m, t, reduction="none", log_target=True) + (1 - b) * TF.kl_div(
            m, s, reduction="none", log_target=True)
    per = jsd.sum(-1)
    if labels is not None:
        mask = labels != ignore_index
        per = torch.where(mask, per, torch.zeros_like(per))
        count = mask.sum()
    else:
        count = None
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    if reduction == "batchmean":
        denom = count.clamp_min(1) if count is not None else max(per.shape[0], 1)
        return per.sum() / denom
    n = count if count is not None else per.numel()
    return per.sum() / (n * jsd.shape[-1])


def _theirs(beta):
    def f(s, t, *rest, **kw):
        return ref_generalized_jsd(s, t, *rest, beta=beta, **kw)

    return f


def _ours(name):
    def f(s, t, *rest, **kw):
        import mlx_losses.functional as F

        return getattr(F, name)(s, t, *rest, **kw)

    return f


def _ours_fused(xs, ws, xt, wt, *rest, bias=False, **kw):
    import mlx_losses.functional as F

    rest = list(rest)
    if bias:
        kw["student_bias"], kw["teacher_bias"] = rest.pop(), rest.pop()
    return F.fused_linear_jsd_loss(xs, ws, xt, wt, *rest, chunk_size=5, vocab_chunk_size=4, **kw)


def _transform(z, softcap=None, logit_scale=None):
    """A model's logit transform: softcap * tanh(logit_scale * z / softcap)."""
    import torch

    z = z * logit_scale if logit_scale is not None else z
    return softcap * torch.tanh(z / softcap) if softcap is not None else z


def _theirs_fused(xs, ws, xt, wt, *rest, bias=False, **kw):
    rest = list(rest)
    bs = bt = 0.0
    if bias:
        bs, bt = rest.pop(), rest.pop()
    sides = {side: {k: kw.pop(f"{side}_{k}", None) for k in ("softcap", "logit_scale")}
             for side in ("student", "teacher")}
    return ref_generalized_jsd(_transform(xs @ ws.T + bs, **sides["student"]),
                               _transform(xt @ wt.T + bt, **sides["teacher"]), *rest, **kw)


_S = Normal((N, T, V), std=2.0)
_TL = Normal((N, T, V), std=2.0)
_LAB = Index((N, T), V, ignore=-100, ignore_frac=0.3)
_FULL = ("float64", "float32")


def _fused_ours(bias):
    return lambda *a, **kw: _ours_fused(*a, bias=bias, **kw)


def _fused_theirs(bias):
    return lambda *a, **kw: _theirs_fused(*a, bias=bias, **kw)


CASES = [
    # ---- the plain losses on logits (gradients w.r.t. both logits)
    Case("basic", "forward_kl_loss", [_S, _TL, _LAB], {"temperature": 2.0}, ours_fn=_ours("forward_kl_loss"),
         torch_fn=_theirs(0.0), reductions=("none", "batchmean"), module="ForwardKLLoss",
         module_kwargs={"temperature": 2.0}),
    Case("basic", "reverse_kl_loss", [_S, _TL, _LAB], ours_fn=_ours("reverse_kl_loss"),
         torch_fn=_theirs(1.0), reductions=("none", "sum"), module="ReverseKLLoss", module_kwargs={}),
    Case("basic", "generalized_jsd_loss", [_S, _TL, _LAB], {"beta": 0.5, "temperature": 0.7},
         ours_fn=_ours("generalized_jsd_loss"), torch_fn=lambda s, t, *r, beta, **kw: ref_generalized_jsd(
             s, t, *r, beta=beta, **kw), reductions=_REDS, module="GeneralizedJSDLoss",
         module_kwargs={"beta": 0.5, "temperature": 0.7}),
    Case("beta_small", "generalized_jsd_loss", [_S, _TL, _LAB], {"beta": 0.1},
         ours_fn=_ours("generalized_jsd_loss"), torch_fn=lambda s, t, *r, beta, **kw: ref_generalized_jsd(
             s, t, *r, beta=beta, **kw), reductions=("none",), compile=False),
    # no labels: 'batchmean' divides by shape[0]; flat (tokens, V) input
    Case("no_labels", "generalized_jsd_loss", [Normal((7, V), std=3.0), Normal((7, V), std=3.0)],
         {"beta": 0.7}, ours_fn=_ours("generalized_jsd_loss"),
         torch_fn=lambda s, t, beta, **kw: ref_generalized_jsd(s, t, beta=beta, **kw),
         reductions=("batchmean", "mean"), compile=False),
    # far-apart distributions: probabilities underflow, the value stays finite
    Case("far", "generalized_jsd_loss", [Normal((4, V), std=60.0), Normal((4, V), std=60.0)],
         {"beta": 0.5}, ours_fn=_ours("generalized_jsd_loss"),
         torch_fn=lambda s, t, beta, **kw: ref_generalized_jsd(s, t, beta=beta, **kw),
         reductions=("none",), compile=False, dtypes=_FULL),
    # ---- fused over the heads: gradients w.r.t. the student's hidden states,
    # head and bias; the teacher's side has none
    Case("jsd", "fused_linear_jsd_loss",
         [Normal((N, T, HS)), Normal((V, HS), std=0.7), Normal((N, T, HT), grad=False),
          Normal((V, HT), std=0.7, grad=False), _LAB],
         {"beta": 0.4, "temperature": 1.5}, ours_fn=_fused_ours(False), torch_fn=_fused_theirs(False),
         reductions=_REDS),
    Case("forward_kl_bias", "fused_linear_jsd_loss",
         [Normal((N, T, HS)), Normal((V, HS), std=0.7), Normal((N, T, HT), grad=False),
          Normal((V, HT), std=0.7, grad=False), _LAB, Normal((V,), std=0.5, grad=False), Normal((V,), std=0.5)],
         {"beta": 0.0}, ours_fn=_fused_ours(True), torch_fn=_fused_theirs(True),
         reductions=("none", "batchmean"), compile=False),
    Case("reverse_kl_flat", "fused_linear_jsd_loss",
         [Normal((11, HS)), Normal((V, HS), std=0.7), Normal((11, HT), grad=False),
          Normal((V, HT), std=0.7, grad=False)],
         {"beta": 1.0, "temperature": 0.8}, ours_fn=_fused_ours(False), torch_fn=_fused_theirs(False),
         reductions=("none", "sum"), compile=False),
    # each model's logit transform (Gemma 2's softcap, Cohere's logit_scale)
    # inside the tiles, before the temperature
    Case("logit_transforms", "fused_linear_jsd_loss",
         [Normal((N, T, HS)), Normal((V, HS), std=1.5), Normal((N, T, HT), grad=False),
          Normal((V, HT), std=1.5, grad=False), _LAB, Normal((V,), std=0.5, grad=False), Normal((V,), std=0.5)],
         {"beta": 0.3, "temperature": 1.3, "student_softcap": 2.0, "student_logit_scale": 1.5,
          "teacher_logit_scale": 0.8}, ours_fn=_fused_ours(True), torch_fn=_fused_theirs(True),
         reductions=("none", "batchmean")),
]


def _err(name, fn, args, kwargs=None, *, error=ValueError, match="", ours_fn=None):
    return ErrorCase(name, fn, args, dict(kwargs or {}), error=error, match=match,
                     torch_raises=False, ours_fn=ours_fn)


ERROR_CASES = [
    _err("vocab_mismatch", "generalized_jsd_loss", [_S, Normal((N, T, V + 1))],
         match=r"generalized_jsd_loss: `teacher_logits` must have the student's vocabulary size, 13"),
    _err("temperature_zero", "forward_kl_loss", [_S, _TL], {"temperature": 0.0},
         match=r"forward_kl_loss: `temperature` must be > 0.0, got 0.0"),
    _err("temperature_negative", "generalized_jsd_loss", [_S, _TL], {"temperature": -1.0},
         match=r"`temperature` must be > 0.0"),
    _err("beta_range", "generalized_jsd_loss", [_S, _TL], {"beta": -0.1},
         match=r"generalized_jsd_loss: `beta` must be in \[0, 1\], got -0.1"),
    _err("labels_shape", "reverse_kl_loss", [_S, _TL, Index((N,), V)],
         match=r"reverse_kl_loss: `labels` must have shape \(3, 4\)"),
    _err("vocab_mismatch", "fused_linear_jsd_loss",
         [Normal((N, HS)), Normal((V, HS)), Normal((N, HT)), Normal((V - 1, HT))],
         match=r"fused_linear_jsd_loss: `teacher_weight` must have the student's vocabulary size, 13"),
    _err("temperature_zero", "fused_linear_jsd_loss",
         [Normal((N, HS)), Normal((V, HS)), Normal((N, HT)), Normal((V, HT))], {"temperature": 0.0},
         match=r"fused_linear_jsd_loss: `temperature` must be > 0.0"),
    _err("bad_reduction", "fused_linear_jsd_loss",
         [Normal((N, HS)), Normal((V, HS)), Normal((N, HT)), Normal((V, HT))], {"reduction": "elementwise"},
         match=r"`reduction` must be one of 'none', 'batchmean', 'sum', 'mean'"),
]
