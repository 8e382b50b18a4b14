"""Preference losses on sequence log-probabilities, and fused with the LM head.

``dpo_loss`` (TRL's loss types), ``orpo_loss``, ``simpo_loss`` and
``kto_loss`` take per-sequence log-probabilities (``sequence_log_probs``
makes them from logits) and return a :class:`PreferenceLossOutput`: the
reduced loss and the reward metrics TRL logs, per pair (per example for
KTO). The ``fused_linear_*`` forms take the hidden states and the LM head
instead: the per-token log-probabilities come from the chunked
``linear_cross_entropy`` kernel, so the ``(tokens, vocabulary)`` logits are
never held; the reference model's side has no gradient.

References: TRL's ``DPOTrainer`` / ``ORPOTrainer`` / ``CPOTrainer`` (SimPO) /
``KTOTrainer`` (huggingface/trl) and Liger-Kernel's chunked losses
(``liger_kernel.chunked_loss``); the papers are named in each docstring.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple, Optional, Tuple, Union, cast

import mlx.core as mx

from .._dtypes import acc_dtype, result_dtype
from .._api import guard_call, public_loss
from .._reduction import apply_reduction, global_sum
from .._validation import (
    Reduction,
    ShapeError,
    ValueCheckError,
    any_negative,
    check_array,
    check_floating,
    check_index_range,
    check_number,
    check_option,
    check_same_shape,
    dtype_name,
    fmt_shape,
    message,
    run_value_check,
    value_checks,
    resolve_reduction,
)
from .._numerics import exp, logaddexp, logsumexp, sigmoid
from ._common import zero_where
from .classification import _check_logit_options
from .linear_cross_entropy import (
    LinearCrossEntropyOptions,
    QuantizedWeight,
    _frozen_as,
    linear_cross_entropy,
)

__all__ = [
    "PreferenceLossOutput",
    "DPO_LOSS_TYPES",
    "sequence_log_probs",
    "dpo_loss",
    "orpo_loss",
    "simpo_loss",
    "kto_loss",
    "fused_linear_dpo_loss",
    "fused_linear_orpo_loss",
    "fused_linear_simpo_loss",
    "fused_linear_kto_loss",
]

Number = Union[int, float]


class PreferenceLossOutput(NamedTuple):
    """What every preference loss returns.

    ``loss`` is reduced as asked (the only field with a gradient); the
    metrics are per pair (``(batch,)``; per example for KTO), without
    gradient, in the loss's dtype: TRL logs their means as
    ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins`` and
    ``rewards/accuracies``. ``mx.value_and_grad`` differentiates ``loss``
    (the first field) and passes the rest through.
    """

    loss: mx.array
    chosen_rewards: mx.array
    rejected_rewards: mx.array
    reward_margins: mx.array
    reward_accuracy: mx.array


DPO_LOSS_TYPES = (
    "sigmoid", "robust", "hinge", "ipo", "exo_pair", "nca_pair", "sppo_hard", "apo_zero", "apo_down",
)
# the loss types that read label_smoothing: (low, low included, high, high included)
_SMOOTHING = {
    "sigmoid": (0.0, True, 1.0, True),
    "robust": (0.0, True, 0.5, False),
    "exo_pair": (0.0, False, 1.0, False),
}


# --------------------------------------------------------------------------
# checks


def _check_reduction(fn: str, reduction: Reduction) -> Reduction:
    return resolve_reduction(fn, reduction)


def _check_seq(fn: str, name: str, x: Any, like_name: Optional[str] = None,
               like: Optional[mx.array] = None) -> mx.array:
    """A floating (batch,) array of sequence log-probabilities."""
    check_floating(fn, name, x)
    if x.ndim != 1:
        raise ShapeError(message(fn, name, "be 1-D, one value per sequence (batch,)",
                                 f"{x.ndim}-D of shape {fmt_shape(x.shape)}"))
    if like is not None:
        check_same_shape(fn, name, x, cast(str, like_name), like)
    return x


def _check_log_probs(fn: str, name: str, x: mx.array) -> None:
    """Tier (c): log-probabilities are <= 0 (NaN passes)."""

    def check() -> None:
        if x.size and any_negative(-x):  # -x < 0 exactly where x > 0
            top = mx.max(x).item()
            raise ValueCheckError(message(fn, name, "hold log-probabilities (<= 0)",
                                          f"a positive value, {top:g}"))

    run_value_check(check)


def _check_lengths(fn: str, name: str, x: Any, like_name: str, like: mx.array) -> mx.array:
    check_array(fn, name, x)
    if not (mx.issubdtype(x.dtype, mx.integer) or mx.issubdtype(x.dtype, mx.floating)):
        raise TypeError(message(fn, name, "have an integer or floating dtype (token counts)",
                                str(x.dtype).replace("mlx.core.", "")))
    check_same_shape(fn, name, x, like_name, like)
    return x


def _check_smoothing(fn: str, loss_type: str, value: Any) -> float:
    value = check_number(fn, "label_smoothing", value)
    if loss_type not in _SMOOTHING:
        if value != 0:
            raise ValueError(message(
                fn, "label_smoothing", f"be 0 for loss_type={loss_type!r} (only "
                + ", ".join(repr(k) for k in _SMOOTHING) + " use it)", repr(value)))
        return 0.0
    lo, lo_in, hi, hi_in = _SMOOTHING[loss_type]
    ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
        left, right = "[" if lo_in else "(", "]" if hi_in else ")"
        raise ValueError(message(fn, "label_smoothing",
                                 f"be in {left}{lo:g}, {hi:g}{right} for loss_type={loss_type!r}",
                                 repr(value)))
    return float(value)


def _check_beta(fn: str, beta: Any, *, allow_zero: bool = False) -> float:
    return float(check_number(fn, "beta", beta, min_value=0.0, min_inclusive=allow_zero))


# --------------------------------------------------------------------------
# numerics (all in the accumulation dtype)


def _c(value: float, dtype: mx.Dtype) -> mx.array:
    return mx.array(value, dtype=dtype)


def _log_sigmoid(x: mx.array) -> mx.array:
    # log sigmoid(x) = -softplus(-x): no overflow for either sign
    return -logaddexp(mx.zeros_like(x), -x)


def _log1mexp(x: mx.array) -> mx.array:
    """log(1 - e**x) for x <= 0, TRL's branch at -log 2 (no cancellation
    on either side); each branch sees only arguments it is finite for."""
    t = -math.log(2.0)
    lo = mx.minimum(x, t)
    hi = mx.maximum(x, t)
    return mx.where(x < t, mx.log1p(-exp(lo)), mx.log(-mx.expm1(hi)))


def _per_token(lp: mx.array, lengths: Optional[mx.array], clamp: bool) -> mx.array:
    """Summed log-probabilities divided by their token counts (TRL's IPO
    clamps the count at 1; its ``get_batch_logps`` does not: 0 / 0 = NaN)."""
    if lengths is None:
        return lp
    n = lengths.astype(lp.dtype)
    return lp / (mx.maximum(n, 1) if clamp else n)


def _finish(loss: mx.array, chosen: mx.array, rejected: mx.array, margins: mx.array,
            accuracy: mx.array, reduction: str, group: Optional[mx.distributed.Group],
            out: mx.Dtype) -> PreferenceLossOutput:
    sg = mx.stop_gradient
    return PreferenceLossOutput(
        apply_reduction(loss, reduction, dtype=out, group=group),
        sg(chosen).astype(out), sg(rejected).astype(out), sg(margins).astype(out),
        sg(accuracy).astype(out),
    )


# --------------------------------------------------------------------------
# the kernels on sequence log-probabilities (acc dtype in, `out` dtype out)


def _dpo(pc, pr, rc, rr, lc, lr, *, beta, loss_type, eps, reduction, group, out):
    dt = pc.dtype
    chosen_lr, rejected_lr = pc - rc, pr - rr
    if loss_type == "ipo":
        # TRL: IPO's squared margin uses per-token log-ratios
        delta = _per_token(chosen_lr, lc, True) - _per_token(rejected_lr, lr, True)
    else:
        delta = chosen_lr - rejected_lr
    z = beta * delta
    if loss_type == "sigmoid":
        # the conservative DPO (cDPO) form: labels flipped with probability eps
        loss = -_c(1 - eps, dt) * _log_sigmoid(z) - _c(eps, dt) * _log_sigmoid(-z)
    elif loss_type == "robust":
        loss = (-_c(1 - eps, dt) * _log_sigmoid(z) + _c(eps, dt) * _log_sigmoid(-z)) / _c(1 - 2 * eps, dt)
    elif loss_type == "hinge":
        h = 1.0 - z
        loss = mx.where(h > 0, h, 0.0)  # relu, with torch's zero gradient at the kink
    elif loss_type == "ipo":
        loss = mx.square(delta - 1.0 / (2.0 * beta))
    elif loss_type == "exo_pair":
        loss = sigmoid(z) * (_log_sigmoid(z) - _c(math.log1p(-eps), dt)) + sigmoid(-z) * (
            _log_sigmoid(-z) - _c(math.log(eps), dt))
    elif loss_type == "nca_pair":
        cr, rj = beta * chosen_lr, beta * rejected_lr
        loss = -_log_sigmoid(cr) - 0.5 * _log_sigmoid(-cr) - 0.5 * _log_sigmoid(-rj)
    elif loss_type == "sppo_hard":
        loss = mx.square(chosen_lr - 0.5 / beta) + mx.square(rejected_lr + 0.5 / beta)
    elif loss_type == "apo_zero":
        loss = (1.0 - sigmoid(beta * chosen_lr)) + sigmoid(beta * rejected_lr)
    else:  # apo_down
        loss = sigmoid(beta * chosen_lr) + (1.0 - sigmoid(z))
    chosen, rejected = beta * chosen_lr, beta * rejected_lr
    return _finish(loss, chosen, rejected, chosen - rejected, (chosen > rejected).astype(dt),
                   reduction, group, out)


def _orpo(pc, pr, nll, *, beta, reduction, group, out):
    # log odds(y|x) = log p - log(1 - p), from average per-token log-probs
    log_odds = (pc - pr) - (_log1mexp(pc) - _log1mexp(pr))
    loss = nll - beta * _log_sigmoid(log_odds)
    chosen, rejected = beta * pc, beta * pr
    return _finish(loss, chosen, rejected, chosen - rejected,
                   (chosen > rejected).astype(pc.dtype), reduction, group, out)


def _simpo(pc, pr, *, beta, gamma, eps, reduction, group, out):
    dt = pc.dtype
    z = beta * (pc - pr) - gamma
    loss = -_c(1 - eps, dt) * _log_sigmoid(z) - _c(eps, dt) * _log_sigmoid(-z)
    chosen, rejected = beta * pc, beta * pr
    return _finish(loss, chosen, rejected, chosen - rejected, (chosen > rejected).astype(dt),
                   reduction, group, out)


def _kto(p, r, desirable, kl, *, beta, wd, wu, reduction, group, out):
    dt = p.dtype
    lr = p - r
    # TRL: the KL estimate is a detached reference point, clamped at 0
    z0 = mx.stop_gradient(mx.maximum(kl, 0.0)) if kl is not None else _c(0.0, dt)
    margin = mx.where(desirable, beta * (lr - z0), beta * (z0 - lr))
    loss = mx.where(desirable, _c(wd, dt), _c(wu, dt)) * (1.0 - sigmoid(margin))
    reward = beta * lr
    zero = mx.zeros_like(reward)
    return _finish(loss, mx.where(desirable, reward, zero), mx.where(desirable, zero, reward),
                   margin, (margin > 0).astype(dt), reduction, group, out)


# --------------------------------------------------------------------------
# sequence log-probabilities from logits


def _token_lse(x: mx.array) -> mx.array:
    """Log-sum-exp over the last axis in the accumulation dtype, without a
    full-size upcast copy of half-precision logits (fused under compile)."""
    if x.dtype == mx.float64:
        return logsumexp(x, axis=-1)
    if x.dtype == mx.float32:
        return mx.logsumexp(x, axis=-1)
    return _half_lse(x)


@mx.compile
def _half_lse(x: mx.array) -> mx.array:
    m = mx.max(x, axis=-1, keepdims=True).astype(mx.float32)
    m = mx.where(mx.isinf(m), 0.0, m)
    s = mx.sum(mx.exp(x.astype(mx.float32) - m), axis=-1, keepdims=True)
    return (m + mx.log(s)).squeeze(-1)


@mx.compile
def _logits_grad(x: mx.array, lse: mx.array, t: mx.array, g: mx.array) -> mx.array:
    """``g * (onehot(t) - softmax(x))`` in ``x``'s dtype, one fused pass."""
    acc = lse.dtype
    p = exp(x.astype(acc) - mx.expand_dims(lse, -1))
    hit = mx.arange(x.shape[-1], dtype=t.dtype) == mx.expand_dims(t, -1)
    return (mx.expand_dims(g, -1) * (hit.astype(acc) - p)).astype(x.dtype)


@functools.lru_cache(maxsize=None)
def _seq_logp_fn():
    """``(logits, safe targets, counted, bad) -> (per-sequence sum, lse)``
    with a VJP that recomputes the softmax from the saved log-sum-exp: the
    logits' gradient is the only full-size array it makes."""

    @mx.custom_function
    def f(x, t, counted, bad):
        lse = _token_lse(x)
        xt = mx.take_along_axis(x, mx.expand_dims(t, -1), axis=-1).squeeze(-1).astype(lse.dtype)
        tok = mx.where(counted, xt - lse, 0.0)
        tok = mx.where(bad, math.nan, tok)  # out-of-range targets: NaN, never a read outside
        return mx.sum(tok, axis=-1), lse

    @f.vjp
    def f_vjp(primals, cotangents, outputs):
        x, t, counted, bad = primals
        g, lse = cotangents[0], outputs[1]
        gt = mx.where(counted, mx.expand_dims(g.astype(lse.dtype), -1), 0.0)
        gt = mx.where(bad, math.nan, gt)
        return (_logits_grad(x, lse, t, gt), mx.zeros_like(t), mx.zeros_like(counted),
                mx.zeros_like(bad))

    return f


def _counted(fn: str, target: mx.array, mask: Optional[mx.array], ignore_index: int,
             shape_name: str, shape: Tuple[int, ...]) -> mx.array:
    counted = target != ignore_index
    if mask is not None:
        check_array(fn, "mask", mask)
        if tuple(mask.shape) != tuple(shape):
            raise ShapeError(message(fn, "mask", f"have the shape of `{shape_name}`, {fmt_shape(shape)}",
                                     fmt_shape(mask.shape)))
        counted = counted & (mask != 0)
    return counted


def _check_ignore_index(fn: str, ignore_index: Any) -> int:
    return int(check_number(fn, "ignore_index", ignore_index, integer=True))


def sequence_log_probs(
    logits: mx.array,
    targets: mx.array,
    mask: Optional[mx.array] = None,
    *,
    average: bool = False,
    ignore_index: int = -100,
) -> mx.array:
    r"""Per-sequence log-probabilities of the target tokens under the logits.

    .. math::
        \log \pi(y \mid x) = \sum_{t \in \text{mask}} \bigl( z_{t, y_t} -
            \operatorname{lse}(z_t) \bigr)

    divided by the number of counted tokens with ``average=True``. This is
    what TRL's trainers compute before a preference loss
    (``selective_log_softmax`` summed over the completion mask;
    ``get_batch_logps`` with ``average_log_prob``). The class axis is the
    last one, as LLM code has it. Stable (log-sum-exp and a gather, no
    log-softmax array); the backward recomputes the softmax from the saved
    per-token log-sum-exp, so the logits' gradient is the only full-size
    array it makes. Shift the logits and targets yourself (``logits[:,
    :-1]``, ``tokens[:, 1:]``) as for any causal LM.

    Args:
        logits (array): ``(..., T, V)``.
        targets (array): Token indices, integer ``(..., T)``. Positions equal
            to ``ignore_index`` are not counted.
        mask (array, optional): ``(..., T)``; nonzero positions are counted
            (TRL's ``completion_mask``). Default: ``None`` (every position
            whose target is not ``ignore_index``).
        average (bool, optional): Divide by the number of counted tokens
            (ORPO, SimPO, IPO). A sequence with none gives NaN (0 / 0), as
            TRL's ``get_batch_logps``. Default: ``False``.
        ignore_index (int, optional): Default: ``-100``.

    Shape:
        - Output: ``logits.shape[:-2]``.

    Returns:
        array: In the logits' dtype (float16 / bfloat16 accumulate in
        float32). A counted target outside ``[0, V)`` gives NaN (eager mode
        raises first; see :func:`mlx_losses.set_value_checks`).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import sequence_log_probs
        >>> logits = mx.zeros((2, 3, 4))  # uniform over 4 tokens
        >>> targets = mx.array([[1, 2, -100], [0, 0, 0]])
        >>> [round(v, 4) for v in sequence_log_probs(logits, targets).tolist()]
        [-2.7726, -4.1589]
        >>> [round(v, 4) for v in sequence_log_probs(logits, targets, average=True).tolist()]
        [-1.3863, -1.3863]
    """
    fn = "sequence_log_probs"
    # no reduction, but a shapeless graph is refused as every loss refuses it
    (logits, targets, mask), _ = guard_call(fn, (logits, targets, mask), {})
    check_floating(fn, "logits", logits)
    if logits.ndim < 2:
        raise ShapeError(message(fn, "logits", "be at least 2-D, (..., T, V)",
                                 f"{logits.ndim}-D of shape {fmt_shape(logits.shape)}"))
    check_array(fn, "targets", targets)
    if not mx.issubdtype(targets.dtype, mx.integer):
        raise TypeError(message(fn, "targets", "have an integer dtype (token indices)",
                                str(targets.dtype).replace("mlx.core.", "")))
    shape = tuple(logits.shape[:-1])
    if tuple(targets.shape) != shape:
        raise ShapeError(message(fn, "targets", f"have shape {fmt_shape(shape)} for `logits` of shape "
                                 f"{fmt_shape(logits.shape)}", fmt_shape(targets.shape)))
    ignore_index = _check_ignore_index(fn, ignore_index)
    counted = _counted(fn, targets, mask, ignore_index, "targets", shape)
    V = logits.shape[-1]
    check_index_range(fn, "targets", mx.where(counted, targets, ignore_index), V,
                      ignore_index=ignore_index)
    bad = counted & ((targets < 0) | (targets >= V))
    safe = mx.where(counted & ~bad, targets, 0).astype(mx.int32)
    if logits.size == 0:
        # no tokens (T = 0, an empty batch) sum to 0; with V = 0 every
        # counted target is out of range (NaN). logsumexp refuses empty rows.
        total = mx.where(mx.any(bad, axis=-1), math.nan, 0.0).astype(acc_dtype(logits.dtype))
    else:
        total, _ = _seq_logp_fn()(logits, safe, counted, bad)
    if average:
        total = total / mx.sum(counted, axis=-1).astype(total.dtype)
    return total.astype(logits.dtype)


# --------------------------------------------------------------------------
# the public losses on sequence log-probabilities


def _upcast(*xs: Optional[mx.array]):
    arrays = [x for x in xs if x is not None]
    out = result_dtype(*arrays)
    acc = acc_dtype(out)
    return [None if x is None else x.astype(acc) for x in xs], out


@public_loss
def dpo_loss(
    policy_chosen_logps: mx.array,
    policy_rejected_logps: mx.array,
    ref_chosen_logps: mx.array,
    ref_rejected_logps: mx.array,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: Optional[mx.array] = None,
    rejected_lengths: Optional[mx.array] = None,
    reduction: Reduction = "mean",
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""Direct Preference Optimization and its variants, as TRL's ``DPOTrainer``.

    With the log-ratios :math:`r_w = \log\pi(y_w|x) - \log\pi_\text{ref}(y_w|x)`
    (chosen) and :math:`r_l` (rejected), :math:`\Delta = r_w - r_l` and
    :math:`z = \beta \Delta`, the per-pair loss of each ``loss_type`` is

    .. math::
        \begin{aligned}
        \text{sigmoid} &: -(1-\epsilon)\log\sigma(z) - \epsilon\log\sigma(-z)
            \quad\text{(DPO; cDPO for } \epsilon > 0\text{)} \\
        \text{robust} &: \frac{-(1-\epsilon)\log\sigma(z) + \epsilon\log\sigma(-z)}{1 - 2\epsilon} \\
        \text{hinge} &: \max(0, 1 - z) \quad\text{(SLiC)} \\
        \text{ipo} &: \Bigl(\frac{r_w}{n_w} - \frac{r_l}{n_l} - \frac{1}{2\beta}\Bigr)^2 \\
        \text{exo\_pair} &: \sigma(z)\bigl(\log\sigma(z) - \log(1-\epsilon)\bigr)
            + \sigma(-z)\bigl(\log\sigma(-z) - \log\epsilon\bigr) \\
        \text{nca\_pair} &: -\log\sigma(\beta r_w) - \tfrac12\log\sigma(-\beta r_w)
            - \tfrac12\log\sigma(-\beta r_l) \\
        \text{sppo\_hard} &: (r_w - \tfrac{1}{2\beta})^2 + (r_l + \tfrac{1}{2\beta})^2 \\
        \text{apo\_zero} &: 1 - \sigma(\beta r_w) + \sigma(\beta r_l) \\
        \text{apo\_down} &: \sigma(\beta r_w) + 1 - \sigma(z)
        \end{aligned}

    The rewards are :math:`\beta r_w` and :math:`\beta r_l`, the margin their
    difference, the accuracy :math:`[\beta r_w > \beta r_l]` (TRL's logged
    metrics, per pair here). Log-sigmoids are softplus-stable for any
    margin; float16 / bfloat16 compute in float32.

    References: Rafailov et al., "Direct Preference Optimization" (2023);
    Mitchell, "A note on DPO with noisy preferences" (cDPO, 2023); Chowdhury
    et al., "Provably Robust DPO" (2024); Zhao et al., SLiC-HF (2023); Azar
    et al., "A General Theoretical Paradigm to Understand Learning from Human
    Preferences" (IPO, 2023); Ji et al., EXO (2024); Chen et al., NCA
    (2024); Wu et al., SPPO (2024); D'Oosterlinck et al., APO (2024). Library:
    TRL's ``DPOTrainer`` loss types (huggingface/trl), whose semantics and
    names these follow; Liger-Kernel's ``LigerFusedLinearDPOLoss``.

    Args:
        policy_chosen_logps (array): :math:`\log\pi(y_w|x)`, ``(batch,)``,
            summed over the completion (``sequence_log_probs``).
        policy_rejected_logps (array): :math:`\log\pi(y_l|x)`, ``(batch,)``.
        ref_chosen_logps (array): The reference model's, ``(batch,)``.
            Zeros for reference-free DPO. No gradient is meant to flow
            here: pass values computed without one.
        ref_rejected_logps (array): ``(batch,)``.
        beta (float, optional): :math:`\beta > 0` (IPO's :math:`\tau`).
            Default: ``0.1``.
        loss_type (str, optional): One of ``'sigmoid'``, ``'robust'``,
            ``'hinge'``, ``'ipo'``, ``'exo_pair'``, ``'nca_pair'``,
            ``'sppo_hard'``, ``'apo_zero'``, ``'apo_down'``.
            Default: ``'sigmoid'``.
        label_smoothing (float, optional): :math:`\epsilon`, the assumed
            rate of flipped labels: ``'sigmoid'`` in [0, 1] (cDPO),
            ``'robust'`` in [0, 0.5), ``'exo_pair'`` in (0, 1); the other
            types take none (a nonzero value is an error). Default: ``0.0``.
        chosen_lengths (array, optional): ``'ipo'`` only: the completions'
            token counts :math:`n_w`, ``(batch,)``, to make the log-ratios
            per token as TRL does (counts clamped at 1). Without them the
            log-probabilities are taken as already averaged (older TRL
            averaged them for IPO). Default: ``None``.
        rejected_lengths (array, optional): ``'ipo'`` only: :math:`n_l`.
            Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the pairs. Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Inputs: ``(batch,)`` each.
        - Output: ``loss`` scalar, or ``(batch,)`` with ``'none'``; the
          metrics ``(batch,)``.

    Returns:
        PreferenceLossOutput: ``(loss, chosen_rewards, rejected_rewards,
        reward_margins, reward_accuracy)`` in the inputs' promoted dtype.

    Raises:
        ValueError: Mismatched batch sizes, an unknown ``loss_type``, or
            (eager mode) a positive log-probability.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import dpo_loss
        >>> pc, pr = mx.array([-5.0, -7.0]), mx.array([-9.0, -6.0])
        >>> rc, rr = mx.array([-6.0, -6.5]), mx.array([-8.0, -6.5])
        >>> out = dpo_loss(pc, pr, rc, rr, beta=0.5)
        >>> round(out.loss.item(), 4), out.reward_accuracy.tolist()
        (0.6437, [1.0, 0.0])
    """
    fn = "dpo_loss"
    reduction = _check_reduction(fn, reduction)
    check_option(fn, "loss_type", loss_type, DPO_LOSS_TYPES)
    beta = _check_beta(fn, beta)
    eps = _check_smoothing(fn, loss_type, label_smoothing)
    _check_seq(fn, "policy_chosen_logps", policy_chosen_logps)
    for name, x in (("policy_rejected_logps", policy_rejected_logps),
                    ("ref_chosen_logps", ref_chosen_logps),
                    ("ref_rejected_logps", ref_rejected_logps)):
        _check_seq(fn, name, x, "policy_chosen_logps", policy_chosen_logps)
    if (chosen_lengths is not None or rejected_lengths is not None) and loss_type != "ipo":
        name = "chosen_lengths" if chosen_lengths is not None else "rejected_lengths"
        raise ValueError(message(fn, name, "be None unless loss_type='ipo' (the only type "
                                 "that normalises by length)", f"lengths with loss_type={loss_type!r}"))
    _lengths_pair(fn, chosen_lengths, rejected_lengths, policy_chosen_logps)
    for name, x in (("policy_chosen_logps", policy_chosen_logps),
                    ("policy_rejected_logps", policy_rejected_logps),
                    ("ref_chosen_logps", ref_chosen_logps),
                    ("ref_rejected_logps", ref_rejected_logps)):
        _check_log_probs(fn, name, x)
    (pc, pr, rc, rr), out = _upcast(policy_chosen_logps, policy_rejected_logps,
                                    ref_chosen_logps, ref_rejected_logps)
    return _dpo(pc, pr, rc, rr, chosen_lengths, rejected_lengths, beta=beta, loss_type=loss_type,
                eps=eps, reduction=reduction, group=group, out=out)


def _lengths_pair(fn: str, chosen_lengths, rejected_lengths, like: mx.array):
    if (chosen_lengths is None) != (rejected_lengths is None):
        name = "rejected_lengths" if chosen_lengths is not None else "chosen_lengths"
        raise ValueError(message(fn, name, "be given together with the other lengths", "None"))
    if chosen_lengths is not None:
        _check_lengths(fn, "chosen_lengths", chosen_lengths, "policy_chosen_logps", like)
        _check_lengths(fn, "rejected_lengths", rejected_lengths, "policy_chosen_logps", like)


@public_loss
def orpo_loss(
    policy_chosen_logps: mx.array,
    policy_rejected_logps: mx.array,
    *,
    beta: float = 0.1,
    nll_loss: Optional[Union[mx.array, Number]] = None,
    chosen_lengths: Optional[mx.array] = None,
    rejected_lengths: Optional[mx.array] = None,
    reduction: Reduction = "mean",
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""Odds-Ratio Preference Optimization, as TRL's ``ORPOTrainer``.

    From the average per-token log-probabilities :math:`\bar\ell_w`,
    :math:`\bar\ell_l` of the chosen and rejected completions,

    .. math::
        \log\frac{\text{odds}_w}{\text{odds}_l} = (\bar\ell_w - \bar\ell_l)
            - \bigl(\log(1 - e^{\bar\ell_w}) - \log(1 - e^{\bar\ell_l})\bigr), \qquad
        \ell = \mathcal{L}_\text{NLL} - \beta \log\sigma\Bigl(\log\frac{\text{odds}_w}{\text{odds}_l}\Bigr)

    per pair; :math:`\beta` is the paper's :math:`\lambda`. The NLL term is
    ``nll_loss`` when given (TRL adds the chosen sequences' token-mean
    cross-entropy); otherwise it is the chosen sequences' own: the token
    mean :math:`-\sum \ell_w / \sum n_w` over the batch with lengths (TRL's
    and Liger's value when the lengths count the NLL's tokens), else
    :math:`-\bar\ell_w` per pair (the same for equal lengths). It is added
    to every pair's term, so ``'mean'`` is TRL's ``nll - mean(ratio)``.
    :math:`\log(1 - e^x)` switches form at :math:`-\log 2`, as TRL's
    ``log1mexp``. Rewards are :math:`\beta\bar\ell_w` and
    :math:`\beta\bar\ell_l`.

    References: Hong et al., "ORPO: Monolithic Preference Optimization
    without Reference Model" (2024). Library: TRL's
    ``ORPOTrainer.odds_ratio_loss`` (huggingface/trl); Liger-Kernel's
    ``LigerFusedLinearORPOLoss``.

    Args:
        policy_chosen_logps (array): Average per-token log-probabilities of
            the chosen completions, ``(batch,)`` (summed ones with
            ``chosen_lengths``).
        policy_rejected_logps (array): Of the rejected ones, ``(batch,)``.
        beta (float, optional): :math:`\beta \ge 0`, the odds-ratio weight.
            Default: ``0.1``.
        nll_loss (array or float, optional): The NLL term, a scalar or
            ``(batch,)``; ``0.0`` leaves the odds-ratio term alone.
            Default: ``None`` (from the chosen log-probabilities, above).
        chosen_lengths (array, optional): Token counts; with them the
            log-probabilities are sums, averaged here (0 / 0 = NaN, as
            TRL's ``get_batch_logps``). Default: ``None``.
        rejected_lengths (array, optional): Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(batch,)`` with ``'none'``; the
          metrics ``(batch,)``.

    Returns:
        PreferenceLossOutput: in the inputs' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import orpo_loss
        >>> out = orpo_loss(mx.array([-0.5]), mx.array([-0.5]), beta=0.1)
        >>> round(out.loss.item(), 4)  # 0.5 + 0.1 log 2
        0.5693
    """
    fn = "orpo_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta, allow_zero=True)
    _check_seq(fn, "policy_chosen_logps", policy_chosen_logps)
    _check_seq(fn, "policy_rejected_logps", policy_rejected_logps, "policy_chosen_logps",
               policy_chosen_logps)
    _lengths_pair(fn, chosen_lengths, rejected_lengths, policy_chosen_logps)
    nll_arr = None
    if nll_loss is not None and not isinstance(nll_loss, mx.array):
        nll_loss = float(check_number(fn, "nll_loss", nll_loss))
    if isinstance(nll_loss, mx.array):
        check_floating(fn, "nll_loss", nll_loss)
        if nll_loss.ndim > 1 or (nll_loss.ndim == 1 and nll_loss.shape != policy_chosen_logps.shape):
            raise ShapeError(message(fn, "nll_loss", f"be a scalar or have shape "
                                     f"{fmt_shape(policy_chosen_logps.shape)}", fmt_shape(nll_loss.shape)))
        nll_arr = nll_loss
    _check_log_probs(fn, "policy_chosen_logps", policy_chosen_logps)
    _check_log_probs(fn, "policy_rejected_logps", policy_rejected_logps)
    (pc, pr, nl), out = _upcast(policy_chosen_logps, policy_rejected_logps, nll_arr)
    if chosen_lengths is not None:
        nc = chosen_lengths.astype(pc.dtype)
        if nll_loss is None:
            nl = -global_sum(mx.sum(pc), group) / global_sum(mx.sum(nc), group)
        pc, pr = _per_token(pc, chosen_lengths, False), _per_token(pr, rejected_lengths, False)
    elif nll_loss is None:
        nl = -pc
    if nl is None:
        nl = _c(float(cast(float, nll_loss)), pc.dtype)
    return _orpo(pc, pr, nl, beta=beta, reduction=reduction, group=group, out=out)


@public_loss
def simpo_loss(
    policy_chosen_logps: mx.array,
    policy_rejected_logps: mx.array,
    *,
    beta: float = 0.1,
    gamma: float = 0.5,
    label_smoothing: float = 0.0,
    chosen_lengths: Optional[mx.array] = None,
    rejected_lengths: Optional[mx.array] = None,
    reduction: Reduction = "mean",
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""Simple Preference Optimization (reference-free, length-normalised).

    With average per-token log-probabilities :math:`\bar\ell_w, \bar\ell_l`
    and :math:`z = \beta(\bar\ell_w - \bar\ell_l) - \gamma`,

    .. math::
        \ell = -(1 - \epsilon)\log\sigma(z) - \epsilon\log\sigma(-z)

    per pair (TRL's ``CPOTrainer`` with ``loss_type='simpo'`` writes
    :math:`\beta(\bar\ell_w - \bar\ell_l - \gamma/\beta)`, the same). Rewards
    are :math:`\beta\bar\ell_w` and :math:`\beta\bar\ell_l`.

    References: Meng et al., "SimPO: Simple Preference Optimization with a
    Reference-Free Reward" (2024). Library: TRL's ``CPOTrainer``
    (``loss_type='simpo'``, huggingface/trl); Liger-Kernel's
    ``LigerFusedLinearSimPOLoss``, whose defaults these are.

    Args:
        policy_chosen_logps (array): Average per-token log-probabilities,
            ``(batch,)`` (sums with ``chosen_lengths``).
        policy_rejected_logps (array): ``(batch,)``.
        beta (float, optional): :math:`\beta > 0`. Default: ``0.1``.
        gamma (float, optional): The target reward margin :math:`\gamma`.
            Default: ``0.5``.
        label_smoothing (float, optional): :math:`\epsilon` in [0, 1].
            Default: ``0.0``.
        chosen_lengths (array, optional): Token counts: the
            log-probabilities are then sums, normalised here (0 / 0 = NaN).
            Default: ``None``.
        rejected_lengths (array, optional): Default: ``None``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(batch,)`` with ``'none'``; the
          metrics ``(batch,)``.

    Returns:
        PreferenceLossOutput: in the inputs' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import simpo_loss
        >>> out = simpo_loss(mx.array([-1.0]), mx.array([-1.0]), beta=2.0, gamma=0.0)
        >>> round(out.loss.item(), 4)  # log 2
        0.6931
    """
    fn = "simpo_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta)
    gamma = float(check_number(fn, "gamma", gamma))
    eps = _check_smoothing(fn, "sigmoid", label_smoothing)
    _check_seq(fn, "policy_chosen_logps", policy_chosen_logps)
    _check_seq(fn, "policy_rejected_logps", policy_rejected_logps, "policy_chosen_logps",
               policy_chosen_logps)
    _lengths_pair(fn, chosen_lengths, rejected_lengths, policy_chosen_logps)
    _check_log_probs(fn, "policy_chosen_logps", policy_chosen_logps)
    _check_log_probs(fn, "policy_rejected_logps", policy_rejected_logps)
    (pc, pr), out = _upcast(policy_chosen_logps, policy_rejected_logps)
    pc, pr = _per_token(pc, chosen_lengths, False), _per_token(pr, rejected_lengths, False)
    return _simpo(pc, pr, beta=beta, gamma=gamma, eps=eps, reduction=reduction, group=group,
                  out=out)


def _check_kl(fn: str, kl: Any) -> Optional[Union[mx.array, float]]:
    if kl is None:
        return None
    if not isinstance(kl, mx.array) or kl.ndim == 0 and not mx.issubdtype(kl.dtype, mx.floating):
        # a number: made an array in the accumulation dtype (no float32 rounding)
        return float(check_number(fn, "kl", kl))
    check_floating(fn, "kl", kl)
    if kl.size != 1:
        raise ShapeError(message(fn, "kl", "be a scalar (the batch's KL estimate)",
                                 f"shape {fmt_shape(kl.shape)}"))
    return kl.reshape(())


def _check_labels(fn: str, labels: Any, like_name: str, like: mx.array) -> mx.array:
    check_array(fn, "labels", labels)
    check_same_shape(fn, "labels", labels, like_name, like)
    return labels != 0


@public_loss
def kto_loss(
    policy_logps: mx.array,
    ref_logps: mx.array,
    labels: mx.array,
    *,
    kl: Optional[Union[mx.array, Number]] = None,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    reduction: Reduction = "mean",
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""Kahneman-Tversky Optimization on unpaired examples, as TRL's ``KTOTrainer``.

    With the log-ratio :math:`r = \log\pi(y|x) - \log\pi_\text{ref}(y|x)` and
    the reference point :math:`z_0 = \max(\text{KL}, 0)` (no gradient),

    .. math::
        \ell = \begin{cases}
            \lambda_D \bigl(1 - \sigma(\beta(r - z_0))\bigr) & y \text{ desirable} \\
            \lambda_U \bigl(1 - \sigma(\beta(z_0 - r))\bigr) & y \text{ undesirable}
        \end{cases}

    ``kl`` is the caller's estimate of :math:`\text{KL}(\pi \| \pi_\text{ref})`
    (TRL: the batch mean of the policy's minus the reference's log-probs of
    mismatched completions, gathered over processes); ``None`` is 0.

    Metrics, per example: ``chosen_rewards`` is :math:`\beta r` on desirable
    examples and 0 elsewhere, ``rejected_rewards`` the same for undesirable
    ones (TRL logs ``sum(chosen_rewards) / #desirable``); ``reward_margins``
    is the sigmoid's argument (:math:`\beta(r - z_0)` or
    :math:`\beta(z_0 - r)`: the reward's distance to the reference point on
    its label's side) and ``reward_accuracy`` whether it is positive. TRL
    logs ``rewards/margins`` as the difference of the two reward means.

    References: Ethayarajh et al., "KTO: Model Alignment as Prospect
    Theoretic Optimization" (2024). Library: TRL's ``KTOTrainer`` (the
    ``'kto'`` loss, huggingface/trl); Liger-Kernel's
    ``LigerFusedLinearKTOLoss``.

    Args:
        policy_logps (array): :math:`\log\pi(y|x)`, ``(batch,)``.
        ref_logps (array): :math:`\log\pi_\text{ref}(y|x)`, ``(batch,)``.
        labels (array): ``(batch,)``, nonzero / True for desirable.
        kl (array or float, optional): The KL estimate, a scalar.
            Default: ``None`` (0).
        beta (float, optional): :math:`\beta > 0`. Default: ``0.1``.
        desirable_weight (float, optional): :math:`\lambda_D \ge 0`.
            Default: ``1.0``.
        undesirable_weight (float, optional): :math:`\lambda_U \ge 0`.
            Default: ``1.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the examples (TRL takes the mean). Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(batch,)`` with ``'none'``; the
          metrics ``(batch,)``.

    Returns:
        PreferenceLossOutput: in the inputs' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import kto_loss
        >>> p, r = mx.array([-4.0, -6.0]), mx.array([-4.0, -6.0])
        >>> out = kto_loss(p, r, mx.array([True, False]))
        >>> out.loss.item()  # 1 - sigmoid(0)
        0.5
    """
    fn = "kto_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta)
    wd = float(check_number(fn, "desirable_weight", desirable_weight, min_value=0.0))
    wu = float(check_number(fn, "undesirable_weight", undesirable_weight, min_value=0.0))
    _check_seq(fn, "policy_logps", policy_logps)
    _check_seq(fn, "ref_logps", ref_logps, "policy_logps", policy_logps)
    desirable = _check_labels(fn, labels, "policy_logps", policy_logps)
    kl_arr = _check_kl(fn, kl)
    _check_log_probs(fn, "policy_logps", policy_logps)
    _check_log_probs(fn, "ref_logps", ref_logps)
    (p, r), out = _upcast(policy_logps, ref_logps)
    if kl_arr is not None:
        kl_arr = mx.array(kl_arr, dtype=p.dtype) if isinstance(kl_arr, float) else kl_arr.astype(p.dtype)
    return _kto(p, r, desirable, kl_arr, beta=beta, wd=wd, wu=wu, reduction=reduction,
                group=group, out=out)


# --------------------------------------------------------------------------
# fused with the chunked LM head


class _Head(NamedTuple):
    x: mx.array
    w: Union[mx.array, QuantizedWeight]
    b: Optional[mx.array]
    name: str  # the weight's argument name, for the frozen quantized head's error

    def dtype(self) -> mx.Dtype:
        """The loss's dtype: torch's promotion of the hidden states, a float
        head and the bias (a quantized head's logits are the input's dtype,
        as linear_cross_entropy's chunked path)."""
        arrays = [self.x, self.b] + ([] if isinstance(self.w, QuantizedWeight) else [self.w])
        return result_dtype(*[a for a in arrays if a is not None])


def _check_head(fn: str, prefix: str, x: Any, w: Any, b: Any, batch_t: Optional[Tuple[int, int]],
                vocab: Optional[int], options: LinearCrossEntropyOptions) -> _Head:
    xn, wn, bn = f"{prefix}input", f"{prefix}weight", f"{prefix}bias"
    check_floating(fn, xn, x)
    if x.ndim != 3:
        raise ShapeError(message(fn, xn, "be 3-D, (batch, T, hidden)",
                                 f"{x.ndim}-D of shape {fmt_shape(x.shape)}"))
    if batch_t is not None and tuple(x.shape[:2]) != batch_t:
        raise ShapeError(message(fn, xn, f"have (batch, T) = {fmt_shape(batch_t)}, as `input`",
                                 fmt_shape(x.shape[:2])))
    quantized = isinstance(w, QuantizedWeight)
    if not quantized:
        check_floating(fn, wn, w)
    if w.ndim != 2 or w.shape[1] != x.shape[2]:
        raise ShapeError(message(fn, wn, f"have shape (vocab, {x.shape[2]}) for `{xn}` of shape "
                                 f"{fmt_shape(x.shape)}", fmt_shape(w.shape)))
    half = x.dtype in (mx.float16, mx.bfloat16)
    if not quantized and w.dtype != x.dtype and not (half and options._acc_dtype(x.dtype) == mx.float32):
        # linear_cross_entropy's chunked rule (torch's): a half input's head
        # is cast to the float32 accumulation, any other must match
        raise TypeError(message(fn, wn, f"have the dtype of `{xn}`, {dtype_name(x.dtype)} (any "
                                "floating dtype for a float16 / bfloat16 input accumulating in "
                                "float32)", dtype_name(w.dtype)))
    if vocab is not None and w.shape[0] != vocab:
        raise ShapeError(message(fn, wn, f"have the vocabulary of `weight`, {vocab}",
                                 str(w.shape[0])))
    if b is not None:
        check_floating(fn, bn, b)
        if tuple(b.shape) != (w.shape[0],):
            raise ShapeError(message(fn, bn, f"have shape ({w.shape[0]},)", fmt_shape(b.shape)))
    return _Head(x, w, b, wn)


def _check_options(fn: str, options: Any) -> LinearCrossEntropyOptions:
    if options is None:
        return LinearCrossEntropyOptions()
    if not isinstance(options, LinearCrossEntropyOptions):
        raise TypeError(message(fn, "options", "be a LinearCrossEntropyOptions or None",
                                type(options).__name__))
    return options


def _check_target(fn: str, target: Any, x: mx.array, mask: Any, ignore_index: int,
                  vocab: int) -> Tuple[mx.array, mx.array, mx.array]:
    """(counted, safe target, bad) for (batch, T) token targets."""
    check_array(fn, "target", target)
    if not mx.issubdtype(target.dtype, mx.integer):
        raise TypeError(message(fn, "target", "have an integer dtype (token indices)",
                                str(target.dtype).replace("mlx.core.", "")))
    shape = tuple(x.shape[:2])
    if tuple(target.shape) != shape:
        raise ShapeError(message(fn, "target", f"have shape {fmt_shape(shape)} for `input` of shape "
                                 f"{fmt_shape(x.shape)}", fmt_shape(target.shape)))
    counted = _counted(fn, target, mask, ignore_index, "target", shape)
    check_index_range(fn, "target", mx.where(counted, target, ignore_index), vocab,
                      ignore_index=ignore_index)
    bad = counted & ((target < 0) | (target >= vocab))
    return counted, mx.where(counted & ~bad, target, -100), bad


class _Logits(NamedTuple):
    """What the fused losses pass through to ``linear_cross_entropy``."""

    options: LinearCrossEntropyOptions
    softcap: Optional[float]
    logit_scale: Optional[float]


def _head_logps(fn: str, head: _Head, target: mx.array, counted: mx.array, bad: mx.array,
                logits: _Logits) -> Tuple[mx.array, mx.array]:
    """(summed log-probabilities, token counts) per sequence, from the
    chunked linear cross-entropy's per-token ``-log p`` (0 where ignored),
    kept in the accumulation dtype (float32 for half inputs) until summed."""
    acc = acc_dtype(head.x.dtype)
    # checked above, under this function's name (a frozen quantized head's
    # error too)
    with value_checks(False), _frozen_as(fn, head.name):
        nll = linear_cross_entropy(head.x, head.w, target, linear_bias=head.b, reduction="none",
                                   ignore_index=-100, options=logits.options,
                                   softcap=logits.softcap, logit_scale=logits.logit_scale,
                                   out_dtype=acc)
    # zero_where: a NaN cotangent (the 0 / 0 average of an empty completion)
    # gives its uncounted tokens a 0 gradient, as torch's masking
    lp = -mx.sum(cast(mx.array, zero_where(mx.logical_not(counted), nll.astype(acc))), axis=-1)
    lp = mx.where(mx.any(bad, axis=-1), math.nan, lp)  # out-of-range targets: NaN
    return lp, mx.sum(counted, axis=-1).astype(acc)


def _reference_logps(fn: str, policy: _Head, ref_input, ref_weight, ref_bias, ref_logps,
                     target, counted, bad, logits: _Logits, n: int) -> Optional[mx.array]:
    """The reference model's summed log-probabilities (no gradient), or None
    (reference-free)."""
    if ref_logps is not None:
        if ref_input is not None or ref_weight is not None or ref_bias is not None:
            raise ValueError(message(fn, "ref_logps", "be None when `ref_input` is given (one "
                                     "source of reference log-probabilities)", "both"))
        _check_seq(fn, "ref_logps", ref_logps)
        if ref_logps.shape != (n,):
            raise ShapeError(message(fn, "ref_logps", f"have shape ({n},), one per sequence of "
                                     "`input`", fmt_shape(ref_logps.shape)))
        _check_log_probs(fn, "ref_logps", ref_logps)
        return mx.stop_gradient(ref_logps.astype(acc_dtype(ref_logps.dtype)))
    if ref_input is None:
        if ref_weight is not None or ref_bias is not None:
            raise ValueError(message(fn, "ref_input", "be given with `ref_weight` / `ref_bias`",
                                     "None"))
        return None
    if ref_weight is None:
        if ref_bias is not None:
            raise ValueError(message(fn, "ref_weight", "be given with `ref_bias`", "None"))
        ref_weight, ref_bias = policy.w, policy.b
    batch_t = cast(Tuple[int, int], tuple(policy.x.shape[:2]))
    ref = _check_head(fn, "ref_", ref_input, ref_weight, ref_bias, batch_t,
                      policy.w.shape[0], logits.options)
    sg = mx.stop_gradient
    w: Union[mx.array, QuantizedWeight]
    if isinstance(ref.w, QuantizedWeight):
        w = dataclasses.replace(ref.w, weight=sg(ref.w.weight), scales=sg(ref.w.scales),
                                biases=None if ref.w.biases is None else sg(ref.w.biases))
    else:
        w = sg(ref.w)
    ref = _Head(sg(ref.x), w, None if ref.b is None else sg(ref.b), ref.name)
    lp, _ = _head_logps(fn, ref, target, counted, bad, logits)
    return sg(lp)


def _paired(fn: str, x: mx.array) -> int:
    n = x.shape[0]
    if n % 2:
        raise ShapeError(message(fn, "input", "have an even batch: the chosen sequences, then "
                                 "the rejected ones", f"batch {n}"))
    return n // 2


def _fused_common(fn, input, weight, target, bias, mask, ignore_index, options, softcap,
                  logit_scale):
    ignore_index = _check_ignore_index(fn, ignore_index)
    options = _check_options(fn, options)
    softcap, logit_scale, _, _ = _check_logit_options(fn, softcap, logit_scale, 0.0, None)
    head = _check_head(fn, "", input, weight, bias, None, None, options)
    counted, safe, bad = _check_target(fn, target, input, mask, ignore_index, weight.shape[0])
    return head, counted, safe, bad, _Logits(options, softcap, logit_scale), head.dtype()


@public_loss
def fused_linear_dpo_loss(
    input: mx.array,
    weight: Union[mx.array, QuantizedWeight],
    target: mx.array,
    *,
    bias: Optional[mx.array] = None,
    mask: Optional[mx.array] = None,
    ref_input: Optional[mx.array] = None,
    ref_weight: Optional[Union[mx.array, QuantizedWeight]] = None,
    ref_bias: Optional[mx.array] = None,
    ref_logps: Optional[mx.array] = None,
    ignore_index: int = -100,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    options: Optional[LinearCrossEntropyOptions] = None,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""DPO from hidden states and the LM head, the logits never held.

    :func:`dpo_loss` on the summed completion log-probabilities of the
    policy (and of the reference), computed chunk by chunk by the
    memory-bounded ``linear_cross_entropy`` kernel: extra memory is
    O(tile) plus the head's gradient, never O(tokens x vocabulary). The
    gradient flows to ``input``, ``weight`` and ``bias``; the reference side
    has none. ``'ipo'`` uses the completions' token counts (from the
    target and mask) as TRL does.

    .. math::
        \log\pi(y|x) = \sum_{t \in \text{mask}} \log\operatorname{softmax}(h_t W^\top + b)_{y_t}

    References: Rafailov et al. (2023) and the variants of
    :func:`dpo_loss`. Library: Liger-Kernel's ``LigerFusedLinearDPOLoss``
    (linkedin/Liger-Kernel), TRL's ``DPOTrainer`` with ``use_liger_kernel``.

    Args:
        input (array): The policy's last hidden states, ``(2B, T, H)``: the
            ``B`` chosen sequences, then the ``B`` rejected ones (TRL's and
            Liger's concatenated batch).
        weight (array or QuantizedWeight): The LM head, ``(V, H)``; a
            :class:`~mlx_losses.QuantizedWeight` (a quantized or tied
            quantized-embedding head) is frozen and dequantized a
            vocabulary block at a time.
        target (array): The next tokens, integer ``(2B, T)``; positions
            equal to ``ignore_index`` are not counted (prompt, padding).
        bias (array, optional): The head's bias, ``(V,)``. Default: ``None``.
        mask (array, optional): ``(2B, T)``, nonzero where counted (TRL's
            completion mask), on top of ``ignore_index``. Default: ``None``.
        ignore_index (int, optional): Default: ``-100``.
        ref_input (array, optional): The reference model's hidden states,
            ``(2B, T, H_ref)``. Default: ``None``.
        ref_weight (array or QuantizedWeight, optional): Its head,
            ``(V, H_ref)``; ``None`` with ``ref_input`` given uses
            ``weight`` and ``bias`` (a frozen copy of the policy's head).
            Default: ``None``.
        ref_bias (array, optional): Default: ``None``.
        ref_logps (array, optional): Precomputed reference log-probabilities
            instead, ``(2B,)`` in the batch's order (TRL's
            ``precompute_ref_log_probs``). With neither, the reference is
            0 (reference-free, as Liger's). Default: ``None``.
        beta (float, optional): Default: ``0.1``.
        loss_type (str, optional): As :func:`dpo_loss`. Default: ``'sigmoid'``.
        label_smoothing (float, optional): As :func:`dpo_loss`. Default: ``0.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the ``B`` pairs. Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): The chunking of the
            linear cross-entropy kernel the log-probabilities come from
            (``batch_chunk_size``, ``vocab_chunk_size``, ``acc_dtype``...).
            Default: ``None`` (``LinearCrossEntropyOptions()``, automatic
            tiles).
        softcap (float, optional): The model's final-logit softcap (Gemma 2:
            :math:`z = c \tanh(z / c)`), applied in each tile, to the
            policy's and the reference's logits. Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits
            (Cohere's ``logit_scale``, Granite's ``1 / logits_scaling``),
            applied before the softcap. Default: ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(B,)`` with ``'none'``; the metrics
          ``(B,)``.

    Returns:
        PreferenceLossOutput: in the promoted dtype of ``input``,
        ``weight`` (unless quantized) and ``bias``; the per-token
        log-probabilities of float16 / bfloat16 inputs are summed in float32.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import fused_linear_dpo_loss
        >>> h, W = mx.zeros((4, 3, 8)), mx.zeros((16, 8))
        >>> t = mx.array([[1, 2, 3]] * 4)
        >>> out = fused_linear_dpo_loss(h, W, t, ref_input=h)  # policy == reference
        >>> round(out.loss.item(), 4)
        0.6931
    """
    fn = "fused_linear_dpo_loss"
    reduction = _check_reduction(fn, reduction)
    check_option(fn, "loss_type", loss_type, DPO_LOSS_TYPES)
    beta = _check_beta(fn, beta)
    eps = _check_smoothing(fn, loss_type, label_smoothing)
    head, counted, safe, bad, logits, out = _fused_common(
        fn, input, weight, target, bias, mask, ignore_index, options, softcap, logit_scale)
    B = _paired(fn, input)
    lp, n = _head_logps(fn, head, safe, counted, bad, logits)
    ref = _reference_logps(fn, head, ref_input, ref_weight, ref_bias, ref_logps, safe, counted,
                           bad, logits, 2 * B)
    if ref is None:
        ref = mx.zeros_like(lp)
    ref = ref.astype(lp.dtype)
    lc = lr = None
    if loss_type == "ipo":
        lc, lr = n[:B], n[B:]
    return _dpo(lp[:B], lp[B:], ref[:B], ref[B:], lc, lr, beta=beta, loss_type=loss_type, eps=eps,
                reduction=reduction, group=group, out=out)


@public_loss
def fused_linear_orpo_loss(
    input: mx.array,
    weight: Union[mx.array, QuantizedWeight],
    target: mx.array,
    *,
    bias: Optional[mx.array] = None,
    mask: Optional[mx.array] = None,
    ignore_index: int = -100,
    beta: float = 0.1,
    compute_nll_loss: bool = True,
    reduction: Reduction = "mean",
    options: Optional[LinearCrossEntropyOptions] = None,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""ORPO from hidden states and the LM head, the logits never held.

    :func:`orpo_loss` on the average per-token log-probabilities of the
    chosen and rejected completions, plus (``compute_nll_loss``) the NLL of
    the chosen completions as a token mean over the batch (Liger's:
    :math:`-\sum_{w} \sum_t \log p / \#\text{counted chosen tokens}`,
    over every rank with ``group=``). Log-probabilities come chunk by chunk
    from the ``linear_cross_entropy`` kernel; gradients flow to ``input``,
    ``weight`` and ``bias``. A completion with no counted token gives NaN.

    References: Hong et al. (2024). Library: Liger-Kernel's
    ``LigerFusedLinearORPOLoss`` (linkedin/Liger-Kernel); TRL's
    ``ORPOTrainer`` (whose NLL also counts the prompt: mask it in through
    ``target`` to match).

    Args:
        input (array): The policy's last hidden states, ``(2B, T, H)``: the
            ``B`` chosen sequences, then the ``B`` rejected ones (TRL's and
            Liger's concatenated batch).
        weight (array or QuantizedWeight): The LM head, ``(V, H)``; a
            :class:`~mlx_losses.QuantizedWeight` (a quantized or tied
            quantized-embedding head) is frozen and dequantized a
            vocabulary block at a time.
        target (array): The next tokens, integer ``(2B, T)``; positions
            equal to ``ignore_index`` are not counted (prompt, padding).
        bias (array, optional): The head's bias, ``(V,)``. Default: ``None``.
        mask (array, optional): ``(2B, T)``, nonzero where counted (TRL's
            completion mask), on top of ``ignore_index``. Default: ``None``.
        ignore_index (int, optional): Default: ``-100``.
        beta (float, optional): :math:`\beta \ge 0` (ORPO's :math:`\lambda`).
            Default: ``0.1``.
        compute_nll_loss (bool, optional): Add the chosen NLL term.
            Default: ``True``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the ``B`` pairs (the NLL added to each). Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): The chunking of the
            linear cross-entropy kernel the log-probabilities come from
            (``batch_chunk_size``, ``vocab_chunk_size``, ``acc_dtype``...).
            Default: ``None`` (``LinearCrossEntropyOptions()``, automatic
            tiles).
        softcap (float, optional): The model's final-logit softcap (Gemma 2:
            :math:`z = c \tanh(z / c)`), applied in each tile, to the
            policy's and the reference's logits. Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits
            (Cohere's ``logit_scale``, Granite's ``1 / logits_scaling``),
            applied before the softcap. Default: ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(B,)`` with ``'none'``; the metrics
          ``(B,)``.

    Returns:
        PreferenceLossOutput: in the promoted dtype of ``input``,
        ``weight`` (unless quantized) and ``bias``; the per-token
        log-probabilities of float16 / bfloat16 inputs are summed in float32.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import fused_linear_orpo_loss
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> out = fused_linear_orpo_loss(h, W, mx.array([[1, 2, 3]] * 2))
        >>> round(out.loss.item(), 4)  # log 16 + 0.1 log 2
        2.8419
    """
    fn = "fused_linear_orpo_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta, allow_zero=True)
    if not isinstance(compute_nll_loss, bool):
        raise TypeError(message(fn, "compute_nll_loss", "be a bool", repr(compute_nll_loss)))
    head, counted, safe, bad, logits, out = _fused_common(
        fn, input, weight, target, bias, mask, ignore_index, options, softcap, logit_scale)
    B = _paired(fn, input)
    lp, n = _head_logps(fn, head, safe, counted, bad, logits)
    if compute_nll_loss:
        nll = -global_sum(mx.sum(lp[:B]), group) / global_sum(mx.sum(n[:B]), group)
    else:
        nll = _c(0.0, lp.dtype)
    avg = lp / n
    return _orpo(avg[:B], avg[B:], nll, beta=beta, reduction=reduction, group=group, out=out)


@public_loss
def fused_linear_simpo_loss(
    input: mx.array,
    weight: Union[mx.array, QuantizedWeight],
    target: mx.array,
    *,
    bias: Optional[mx.array] = None,
    mask: Optional[mx.array] = None,
    ignore_index: int = -100,
    beta: float = 0.1,
    gamma: float = 0.5,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
    options: Optional[LinearCrossEntropyOptions] = None,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""SimPO from hidden states and the LM head, the logits never held.

    :func:`simpo_loss` on the average per-token log-probabilities of the
    chosen and rejected completions, computed chunk by chunk by the
    ``linear_cross_entropy`` kernel; gradients flow to ``input``, ``weight``
    and ``bias``. A completion with no counted token gives NaN.

    References: Meng et al. (2024). Library: Liger-Kernel's
    ``LigerFusedLinearSimPOLoss`` (linkedin/Liger-Kernel); TRL's
    ``CPOTrainer`` with ``loss_type='simpo'``.

    Args:
        input (array): The policy's last hidden states, ``(2B, T, H)``: the
            ``B`` chosen sequences, then the ``B`` rejected ones (TRL's and
            Liger's concatenated batch).
        weight (array or QuantizedWeight): The LM head, ``(V, H)``; a
            :class:`~mlx_losses.QuantizedWeight` (a quantized or tied
            quantized-embedding head) is frozen and dequantized a
            vocabulary block at a time.
        target (array): The next tokens, integer ``(2B, T)``; positions
            equal to ``ignore_index`` are not counted (prompt, padding).
        bias (array, optional): The head's bias, ``(V,)``. Default: ``None``.
        mask (array, optional): ``(2B, T)``, nonzero where counted (TRL's
            completion mask), on top of ``ignore_index``. Default: ``None``.
        ignore_index (int, optional): Default: ``-100``.
        beta (float, optional): Default: ``0.1``.
        gamma (float, optional): Default: ``0.5``.
        label_smoothing (float, optional): Default: ``0.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the ``B`` pairs. Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): The chunking of the
            linear cross-entropy kernel the log-probabilities come from
            (``batch_chunk_size``, ``vocab_chunk_size``, ``acc_dtype``...).
            Default: ``None`` (``LinearCrossEntropyOptions()``, automatic
            tiles).
        softcap (float, optional): The model's final-logit softcap (Gemma 2:
            :math:`z = c \tanh(z / c)`), applied in each tile, to the
            policy's and the reference's logits. Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits
            (Cohere's ``logit_scale``, Granite's ``1 / logits_scaling``),
            applied before the softcap. Default: ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(B,)`` with ``'none'``; the metrics
          ``(B,)``.

    Returns:
        PreferenceLossOutput: in the promoted dtype of ``input``,
        ``weight`` (unless quantized) and ``bias``; the per-token
        log-probabilities of float16 / bfloat16 inputs are summed in float32.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import fused_linear_simpo_loss
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> out = fused_linear_simpo_loss(h, W, mx.array([[1, 2, 3]] * 2), gamma=0.0)
        >>> round(out.loss.item(), 4)
        0.6931
    """
    fn = "fused_linear_simpo_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta)
    gamma = float(check_number(fn, "gamma", gamma))
    eps = _check_smoothing(fn, "sigmoid", label_smoothing)
    head, counted, safe, bad, logits, out = _fused_common(
        fn, input, weight, target, bias, mask, ignore_index, options, softcap, logit_scale)
    B = _paired(fn, input)
    lp, n = _head_logps(fn, head, safe, counted, bad, logits)
    avg = lp / n
    return _simpo(avg[:B], avg[B:], beta=beta, gamma=gamma, eps=eps, reduction=reduction,
                  group=group, out=out)


@public_loss
def fused_linear_kto_loss(
    input: mx.array,
    weight: Union[mx.array, QuantizedWeight],
    target: mx.array,
    labels: mx.array,
    *,
    bias: Optional[mx.array] = None,
    mask: Optional[mx.array] = None,
    ref_input: Optional[mx.array] = None,
    ref_weight: Optional[Union[mx.array, QuantizedWeight]] = None,
    ref_bias: Optional[mx.array] = None,
    ref_logps: Optional[mx.array] = None,
    kl: Optional[Union[mx.array, Number]] = None,
    ignore_index: int = -100,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    reduction: Reduction = "mean",
    options: Optional[LinearCrossEntropyOptions] = None,
    softcap: Optional[float] = None,
    logit_scale: Optional[float] = None,
    group: Optional[mx.distributed.Group] = None,
) -> PreferenceLossOutput:
    r"""KTO from hidden states and the LM head, the logits never held.

    :func:`kto_loss` on the summed completion log-probabilities of the
    policy and the reference, computed chunk by chunk by the
    ``linear_cross_entropy`` kernel; gradients flow to ``input``, ``weight``
    and ``bias``, none to the reference side or to ``kl``.

    References: Ethayarajh et al. (2024). Library: Liger-Kernel's
    ``LigerFusedLinearKTOLoss`` (linkedin/Liger-Kernel); TRL's
    ``KTOTrainer`` with ``use_liger_kernel``.

    Args:
        input (array): The policy's last hidden states, ``(N, T, H)``
            (unpaired examples).
        weight (array or QuantizedWeight): The LM head, ``(V, H)``; a
            :class:`~mlx_losses.QuantizedWeight` (a quantized or tied
            quantized-embedding head) is frozen and dequantized a
            vocabulary block at a time.
        target (array): Next tokens, integer ``(N, T)``; ``ignore_index``
            positions are not counted.
        labels (array): ``(N,)``, nonzero / True for desirable examples.
        bias (array, optional): ``(V,)``. Default: ``None``.
        mask (array, optional): ``(N, T)``, nonzero where counted.
            Default: ``None``.
        ref_input (array, optional): Reference hidden states ``(N, T,
            H_ref)``. Default: ``None``.
        ref_weight (array or QuantizedWeight, optional): ``(V, H_ref)``;
            ``None`` uses ``weight`` and ``bias``. Default: ``None``.
        ref_bias (array, optional): Default: ``None``.
        ref_logps (array, optional): Precomputed reference log-probabilities
            ``(N,)`` instead; with neither, the reference is 0.
            Default: ``None``.
        kl (array or float, optional): The KL estimate (scalar), clamped at
            0. Default: ``None`` (0).
        ignore_index (int, optional): Default: ``-100``.
        beta (float, optional): Default: ``0.1``.
        desirable_weight (float, optional): Default: ``1.0``.
        undesirable_weight (float, optional): Default: ``1.0``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'`` over
            the examples. Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        options (LinearCrossEntropyOptions, optional): The chunking of the
            linear cross-entropy kernel the log-probabilities come from
            (``batch_chunk_size``, ``vocab_chunk_size``, ``acc_dtype``...).
            Default: ``None`` (``LinearCrossEntropyOptions()``, automatic
            tiles).
        softcap (float, optional): The model's final-logit softcap (Gemma 2:
            :math:`z = c \tanh(z / c)`), applied in each tile, to the
            policy's and the reference's logits. Default: ``None``.
        logit_scale (float, optional): The model's factor on the logits
            (Cohere's ``logit_scale``, Granite's ``1 / logits_scaling``),
            applied before the softcap. Default: ``None``.

    Shape:
        - Output: ``loss`` scalar, or ``(N,)`` with ``'none'``; the metrics
          ``(N,)``.

    Returns:
        PreferenceLossOutput: in the promoted dtype of ``input``,
        ``weight`` (unless quantized) and ``bias``; the per-token
        log-probabilities of float16 / bfloat16 inputs are summed in float32.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import fused_linear_kto_loss
        >>> h, W = mx.zeros((2, 3, 8)), mx.zeros((16, 8))
        >>> t, labels = mx.array([[1, 2, 3]] * 2), mx.array([True, False])
        >>> fused_linear_kto_loss(h, W, t, labels, ref_input=h).loss.item()
        0.5
    """
    fn = "fused_linear_kto_loss"
    reduction = _check_reduction(fn, reduction)
    beta = _check_beta(fn, beta)
    wd = float(check_number(fn, "desirable_weight", desirable_weight, min_value=0.0))
    wu = float(check_number(fn, "undesirable_weight", undesirable_weight, min_value=0.0))
    head, counted, safe, bad, logits, out = _fused_common(
        fn, input, weight, target, bias, mask, ignore_index, options, softcap, logit_scale)
    N = input.shape[0]
    check_array(fn, "labels", labels)
    if tuple(labels.shape) != (N,):
        raise ShapeError(message(fn, "labels", f"have shape ({N},), one per sequence of `input`",
                                 fmt_shape(labels.shape)))
    desirable = labels != 0
    kl_arr = _check_kl(fn, kl)
    lp, _ = _head_logps(fn, head, safe, counted, bad, logits)
    ref = _reference_logps(fn, head, ref_input, ref_weight, ref_bias, ref_logps, safe, counted,
                           bad, logits, N)
    ref = mx.zeros_like(lp) if ref is None else ref.astype(lp.dtype)
    if kl_arr is not None:
        kl_arr = mx.array(kl_arr, dtype=lp.dtype) if isinstance(kl_arr, float) else kl_arr.astype(lp.dtype)
    return _kto(lp, ref, desirable, kl_arr, beta=beta, wd=wd, wu=wu, reduction=reduction,
                group=group, out=out)
