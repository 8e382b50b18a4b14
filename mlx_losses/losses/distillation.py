"""Distillation losses between a student's and a teacher's token distributions.

``forward_kl_loss`` (KL(teacher || student)), ``reverse_kl_loss``
(KL(student || teacher)) and ``generalized_jsd_loss`` (the generalised
Jensen-Shannon divergence of GKD) on logits, with a temperature, masked
tokens and TRL's reductions, computed over blocks of rows with a
hand-written backward; and ``fused_linear_jsd_loss``, the same from
the two models' hidden states and LM heads without either ``(tokens,
vocabulary)`` logits tensor: a ``mx.custom_function`` whose forward walks
(token x vocabulary) tiles keeping per-token statistics and whose backward
recomputes each tile.

References: Agarwal et al., "On-Policy Distillation of Language Models:
Learning from Self-Generated Mistakes" (GKD, 2024); TRL's
``GKDTrainer.generalized_jsd_loss`` (huggingface/trl); Liger-Kernel's
``LigerJSD`` / ``LigerFusedLinearJSD`` (linkedin/Liger-Kernel).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, List, Optional, Tuple, cast

import mlx.core as mx

from .._dtypes import acc_dtype, result_dtype
from .._api import public_loss
from .._reduction import apply_reduction, clamped_mean, weighted_mean
from .._validation import (
    KLReduction,
    ShapeError,
    check_array,
    check_floating,
    check_number,
    fmt_shape,
    message,
    resolve_reduction,
)
from .._numerics import exp, logaddexp, logsumexp
from .linear_cross_entropy import QuantizedWeight, _frozen, _Quant

__all__ = [
    "forward_kl_loss",
    "reverse_kl_loss",
    "generalized_jsd_loss",
    "fused_linear_jsd_loss",
]

_REDUCTIONS = ("none", "batchmean", "sum", "mean")

# Logits per tile of the fused kernel (2^19: a tile-sized array is small next to the logits).
_TILE = 1 << 19
# The narrowest vocabulary block the automatic tiling uses.
_MIN_VOCAB_BLOCK = 256


# --------------------------------------------------------------------------
# checks


def _check_options(fn: str, beta: Any, temperature: Any, ignore_index: Any,
                   reduction: KLReduction, *,
                   with_beta: bool) -> Tuple[float, float, int, KLReduction]:
    reduction = resolve_reduction(fn, reduction, allowed=_REDUCTIONS)
    if with_beta:
        beta = check_number(fn, "beta", beta)
        if not 0.0 <= beta <= 1.0:
            raise ValueError(message(fn, "beta", "be in [0, 1]", repr(beta)))
    temperature = check_number(fn, "temperature", temperature, min_value=0.0, min_inclusive=False)
    ignore_index = check_number(fn, "ignore_index", ignore_index, integer=True)
    return float(beta), float(temperature), int(ignore_index), reduction


def _check_labels(fn: str, labels: Any, shape: Tuple[int, ...], like: str) -> Optional[mx.array]:
    if labels is None:
        return None
    check_array(fn, "labels", labels)
    if not mx.issubdtype(labels.dtype, mx.integer):
        raise TypeError(message(fn, "labels", "have an integer dtype (token indices)",
                                str(labels.dtype).replace("mlx.core.", "")))
    if tuple(labels.shape) != tuple(shape):
        raise ShapeError(message(fn, "labels", f"have shape {fmt_shape(shape)}, that of `{like}` "
                                 "without its vocabulary axis", fmt_shape(labels.shape)))
    return labels


def _check_vocab(fn: str, name: str, v: int, student_name: str, sv: int) -> None:
    if v != sv:
        raise ShapeError(message(fn, name, f"have the student's vocabulary size, {sv} (from "
                                 f"`{student_name}`)", f"{v}"))


# --------------------------------------------------------------------------
# the per-token divergence and its reductions


@functools.lru_cache(maxsize=32)
def _plain_kernel(acc, beta: float, inv_t: float):
    """``(student (N, V), teacher (N, V)) -> (loss, lse_s, lse_t, stat)`` per
    token: the fused kernel's tile functions over blocks of rows of the
    logits (about ``_TILE`` logits each, the last one padded). The backward
    recomputes each block from the logits and the per-token statistics, so
    the two logits' gradients are the only full-size arrays it makes
    (autodiff of the formula keeps about twenty)."""
    f_lse, f_loss, f_grad, f_grad_t = _tile_fns(acc, _kind(beta))

    def layout(s):
        n, v = s.shape
        r = min(n, max(1, _TILE // max(v, 1)))
        return n, r, _spans(n, r), mx.array(v, dtype=mx.int32), _coef(beta, inv_t, acc)

    @mx.custom_function
    def f(s, t):
        n, r, starts, nv, coef = layout(s)
        parts, prev = [], None
        for i0 in starts:
            si, ti = _after([_block(s, i0, r), _block(t, i0, r)], prev)
            lse_s, lse_t = f_lse(si, ti, nv, coef)
            loss, stat = f_loss(si, ti, lse_s, lse_t, nv, coef)
            parts.append((loss, lse_s, lse_t, stat))
            prev = [loss, stat]
        return tuple(mx.concatenate([p[k] for p in parts])[:n] for k in range(4))

    @f.vjp
    def f_vjp(primals, cotangents, outputs):
        s, t = primals
        n, r, starts, nv, coef = layout(s)
        per = [cotangents[0].astype(acc), *outputs]
        pad = len(starts) * r - n
        if pad:
            per = [mx.pad(v, (0, pad)) for v in per]
        g, loss, lse_s, lse_t, stat = per
        # written block by block into one array each (in place: nothing else
        # reads them); the teacher's is never evaluated unless asked for
        ds, dt = mx.zeros(s.shape, s.dtype), mx.zeros(t.shape, t.dtype)
        prev = None
        for i0 in starts:
            i1, sl = min(i0 + r, n), slice(i0, i0 + r)
            si, ti = _after([_block(s, i0, r), _block(t, i0, r)], prev)
            a = f_grad(si, ti, lse_s[sl], lse_t[sl], stat[sl], g[sl], nv, coef)
            ds[i0:i1] = a[: i1 - i0].astype(s.dtype)
            b = f_grad_t(si, ti, lse_s[sl], lse_t[sl], loss[sl], stat[sl], g[sl], nv, coef)
            dt[i0:i1] = b[: i1 - i0].astype(t.dtype)
            prev = [_token(a)]
        return ds, dt

    return f


def _reduce(per: mx.array, counted: Optional[mx.array], vocab: int, reduction: str,
            group: Optional[mx.distributed.Group]) -> mx.array:
    """TRL's GKD reductions of the per-token divergence (0 where not counted).

    'batchmean': the sum over the counted tokens (the first axis without
    labels), clamped at 1; 'mean': the mean over every counted (token,
    vocabulary) element; 'sum'; 'none': per token. Over every rank of
    ``group``."""
    if counted is not None:
        per = mx.where(counted, per, 0.0)
    if reduction == "none":
        return per
    if reduction == "sum":
        return apply_reduction(per, "sum", group=group)
    if reduction == "batchmean":
        count = counted if counted is not None else (per.shape[0] if per.ndim else 1)
        return clamped_mean(per, count, group=group)
    weights = counted if counted is not None else mx.ones(per.shape, dtype=mx.bool_)
    return weighted_mean(per, weights.astype(per.dtype) * vocab, group=group)


def _plain(fn: str, student_logits, teacher_logits, labels, beta, temperature, ignore_index,
           reduction, *, with_beta: bool, group: Optional[mx.distributed.Group]) -> mx.array:
    beta, temperature, ignore_index, reduction = _check_options(
        fn, beta, temperature, ignore_index, reduction, with_beta=with_beta)
    check_floating(fn, "student_logits", student_logits)
    check_floating(fn, "teacher_logits", teacher_logits)
    if student_logits.ndim < 2:
        raise ShapeError(message(fn, "student_logits", "be at least 2-D, (..., V)",
                                 f"{student_logits.ndim}-D of shape {fmt_shape(student_logits.shape)}"))
    _check_vocab(fn, "teacher_logits", teacher_logits.shape[-1], "student_logits",
                 student_logits.shape[-1])
    if teacher_logits.shape != student_logits.shape:
        raise ShapeError(message(fn, "teacher_logits", "have the shape of `student_logits`, "
                                 f"{fmt_shape(student_logits.shape)}", fmt_shape(teacher_logits.shape)))
    labels = _check_labels(fn, labels, student_logits.shape[:-1], "student_logits")
    out = result_dtype(student_logits, teacher_logits)
    V = student_logits.shape[-1]
    if V == 0:
        raise ShapeError(message(fn, "student_logits", "have a vocabulary axis of at least 1",
                                 fmt_shape(student_logits.shape)))
    lead = student_logits.shape[:-1]
    kernel = _plain_kernel(acc_dtype(out), beta, 1.0 / temperature)
    if math.prod(lead):
        per = kernel(student_logits.astype(out).reshape(-1, V),
                     teacher_logits.astype(out).reshape(-1, V))[0].reshape(lead)
    else:
        per = mx.zeros(lead, dtype=acc_dtype(out))
    counted = None if labels is None else labels != ignore_index
    return _reduce(per, counted, student_logits.shape[-1], reduction, group).astype(out)


@public_loss
def forward_kl_loss(
    student_logits: mx.array,
    teacher_logits: mx.array,
    labels: Optional[mx.array] = None,
    *,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: KLReduction = "batchmean",
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Forward KL divergence from the teacher to the student, per token.

    .. math::
        \ell_n = \mathrm{KL}(P_T \,\|\, P_S) = \sum_v p_{T,v} (\log p_{T,v} - \log p_{S,v}),
        \qquad P = \operatorname{softmax}(z / \tau)

    (mean-seeking: the usual distillation loss, torch's ``kl_div(log
    p_S, log p_T, log_target=True)`` summed over the vocabulary). It is
    :func:`generalized_jsd_loss` with ``beta=0``, as TRL and Liger define
    that limit. Log-softmax in float32 for half inputs; gradients flow to
    both logits.

    References: Hinton et al., "Distilling the Knowledge in a Neural
    Network" (2015); Agarwal et al. (GKD, 2024). Library: TRL's
    ``generalized_jsd_loss(beta=0)`` (huggingface/trl), Liger-Kernel's
    ``LigerJSD(beta=0)``.

    Args:
        student_logits (array): ``(..., V)``, at least 2-D.
        teacher_logits (array): The same shape.
        labels (array, optional): Integer ``shape[:-1]``; tokens equal to
            ``ignore_index`` are not counted. Default: ``None`` (all counted).
        temperature (float, optional): Both logits are divided by it
            (:math:`\tau > 0`; no :math:`\tau^2` factor, as TRL and Liger).
            Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'batchmean'``: the sum divided by the
            number of counted tokens with ``labels`` (at least 1: nothing
            counted gives 0), by ``shape[0]`` without; ``'mean'``: divided by
            the number of counted tokens times ``V``; ``'sum'``; ``'none'``:
            the per-token divergence, ``shape[:-1]``, 0 where not counted.
            (TRL's ``generalized_jsd_loss`` reductions; its ``'none'`` keeps
            the vocabulary axis and drops the ignored rows.)
            Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: scalar, or ``student_logits.shape[:-1]`` with ``'none'``.

    Returns:
        array: In the logits' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import forward_kl_loss
        >>> s = mx.zeros((2, 4))
        >>> forward_kl_loss(s, s).item()
        0.0
    """
    return _plain("forward_kl_loss", student_logits, teacher_logits, labels, 0.0, temperature,
                  ignore_index, reduction, with_beta=False, group=group)


@public_loss
def reverse_kl_loss(
    student_logits: mx.array,
    teacher_logits: mx.array,
    labels: Optional[mx.array] = None,
    *,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: KLReduction = "batchmean",
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Reverse KL divergence from the student to the teacher, per token.

    .. math::
        \ell_n = \mathrm{KL}(P_S \,\|\, P_T) = \sum_v p_{S,v} (\log p_{S,v} - \log p_{T,v}),
        \qquad P = \operatorname{softmax}(z / \tau)

    (mode-seeking, as in on-policy distillation and MiniLLM). It is
    :func:`generalized_jsd_loss` with ``beta=1``, as TRL and Liger define
    that limit.

    References: Gu et al., "MiniLLM: Knowledge Distillation of Large
    Language Models" (2024); Agarwal et al. (GKD, 2024). Library: TRL's
    ``generalized_jsd_loss(beta=1)`` (huggingface/trl), Liger-Kernel's
    ``LigerJSD(beta=1)``.

    Args:
        student_logits (array): ``(..., V)``, at least 2-D.
        teacher_logits (array): The same shape.
        labels (array, optional): Integer ``shape[:-1]``; tokens equal to
            ``ignore_index`` are not counted. Default: ``None`` (all counted).
        temperature (float, optional): Both logits are divided by it
            (:math:`\tau > 0`; no :math:`\tau^2` factor, as TRL and Liger).
            Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'batchmean'``: the sum divided by the
            number of counted tokens with ``labels`` (at least 1: nothing
            counted gives 0), by ``shape[0]`` without; ``'mean'``: divided by
            the number of counted tokens times ``V``; ``'sum'``; ``'none'``:
            the per-token divergence, ``shape[:-1]``, 0 where not counted.
            (TRL's ``generalized_jsd_loss`` reductions; its ``'none'`` keeps
            the vocabulary axis and drops the ignored rows.)
            Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: scalar, or ``student_logits.shape[:-1]`` with ``'none'``.

    Returns:
        array: In the logits' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import reverse_kl_loss
        >>> s = mx.zeros((2, 4))
        >>> reverse_kl_loss(s, s).item()
        0.0
    """
    return _plain("reverse_kl_loss", student_logits, teacher_logits, labels, 1.0, temperature,
                  ignore_index, reduction, with_beta=False, group=group)


@public_loss
def generalized_jsd_loss(
    student_logits: mx.array,
    teacher_logits: mx.array,
    labels: Optional[mx.array] = None,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: KLReduction = "batchmean",
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Generalised Jensen-Shannon divergence between student and teacher (GKD).

    With :math:`P_S, P_T = \operatorname{softmax}(z / \tau)` and the mixture
    :math:`M = \beta P_T + (1 - \beta) P_S`,

    .. math::
        \ell_n = \beta\, \mathrm{KL}(P_T \,\|\, M) + (1 - \beta)\, \mathrm{KL}(P_S \,\|\, M)

    per token, for :math:`0 < \beta < 1`; ``beta=0`` is the forward
    :math:`\mathrm{KL}(P_T \| P_S)` and ``beta=1`` the reverse
    :math:`\mathrm{KL}(P_S \| P_T)` (TRL's and Liger's definition of the
    limits; the divergence itself tends to 0 there). :math:`\log M` is a
    log-sum-exp of the two log-probabilities, so the value is finite
    wherever the logits are, even where probabilities underflow. The
    backward is hand-written (it recomputes each block of rows from the
    logits and per-token statistics): the two logits' gradients are the
    only full-size arrays it makes; both get one.

    References: Agarwal et al., "On-Policy Distillation of Language Models:
    Learning from Self-Generated Mistakes" (GKD, 2024), Eq. 1. Library: TRL's
    ``GKDTrainer.generalized_jsd_loss`` (huggingface/trl), whose signature
    and reductions these are; Liger-Kernel's ``LigerJSD``.

    Args:
        student_logits (array): ``(..., V)``, at least 2-D.
        teacher_logits (array): The same shape.
        labels (array, optional): Integer ``shape[:-1]``; tokens equal to
            ``ignore_index`` are not counted. Default: ``None`` (all counted).
        temperature (float, optional): Both logits are divided by it
            (:math:`\tau > 0`; no :math:`\tau^2` factor, as TRL and Liger).
            Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        beta (float, optional): :math:`\beta` in [0, 1]. Default: ``0.5``.
        reduction (str, optional): ``'batchmean'``: the sum divided by the
            number of counted tokens with ``labels`` (at least 1: nothing
            counted gives 0), by ``shape[0]`` without; ``'mean'``: divided by
            the number of counted tokens times ``V``; ``'sum'``; ``'none'``:
            the per-token divergence, ``shape[:-1]``, 0 where not counted.
            (TRL's ``generalized_jsd_loss`` reductions; its ``'none'`` keeps
            the vocabulary axis and drops the ignored rows.)
            Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Output: scalar, or ``student_logits.shape[:-1]`` with ``'none'``.

    Returns:
        array: In the logits' promoted dtype.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import generalized_jsd_loss
        >>> s = mx.array([[0.0, 30.0]])  # nearly one-hot
        >>> t = mx.array([[30.0, 0.0]])
        >>> round(generalized_jsd_loss(s, t).item(), 4)  # log 2: disjoint supports
        0.6931
    """
    return _plain("generalized_jsd_loss", student_logits, teacher_logits, labels, beta,
                  temperature, ignore_index, reduction, with_beta=True, group=group)


# --------------------------------------------------------------------------
# the fused kernel over the two heads


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What one fused kernel computes (a cache key, not data)."""

    tokens: int  # tokens per tile (the last row block is padded to it)
    vocab: int  # classes per tile (the last vocabulary block is padded to it)
    acc: Any
    beta: float
    inv_t: float  # 1 / temperature
    student_bias: bool
    teacher_bias: bool
    # each head's logit transform: the inputs (and bias) times the prescale
    # (logit_scale / softcap) before the matmul, then softcap * tanh(u)
    student_prescale: float = 1.0
    teacher_prescale: float = 1.0
    student_softcap: Optional[float] = None
    teacher_softcap: Optional[float] = None
    student_quant: Optional[_Quant] = None  # a packed head (frozen)
    teacher_quant: Optional[_Quant] = None


def _spans(n: int, size: int) -> List[int]:
    return list(range(0, n, size)) or [0]


def _block(a: mx.array, start: int, size: int) -> mx.array:
    """``a[start:start + size]``, zero-padded to ``size`` rows, so every tile
    has one shape (one compiled kernel, not one per remainder)."""
    part = a[start:start + size]
    short = size - part.shape[0]
    if short:
        part = mx.pad(part, [(0, short)] + [(0, 0)] * (a.ndim - 1))
    return part


def _token(a: mx.array) -> mx.array:
    # a one-element read of `a`, to order the next tile after it
    return mx.sum(a[(slice(0, 1),) * a.ndim]) if a.size else mx.zeros((), a.dtype)


def _after(xs: List[mx.array], dep: Optional[List[mx.array]]) -> List[mx.array]:
    # Each tile's inputs wait for the previous tile's results: MLX then runs
    # tile by tile, freeing each tile's logits before making the next.
    if not dep:
        return xs
    return list(mx.depends(xs, dep))


def _kind(beta: float) -> int:
    """The divergence's form: 0 forward KL, 1 reverse KL, 2 JSD."""
    return 0 if beta == 0.0 else (1 if beta == 1.0 else 2)


def _coef(beta: float, inv_t: float, acc, softcaps: Tuple[Optional[float], Optional[float]] = (
        None, None)) -> mx.array:
    """The tile functions' numbers as an input, not compiled-in constants:
    every (beta, temperature, softcaps) then shares one set of kernels."""
    mid = 0.0 < beta < 1.0
    caps = [c if c is not None else 0.0 for c in softcaps]
    return mx.array([inv_t, beta, math.log1p(-beta) if mid else 0.0,
                     math.log(beta) if mid else 0.0, *caps], dtype=acc)


@functools.lru_cache(maxsize=None)
def _tile_fns(acc, kind: int, s_cap: bool = False, t_cap: bool = False):
    """The compiled elementwise work of one (tokens x vocab) tile: the
    log-sum-exp pass, the divergence pass and the two logits' gradients.
    ``coef`` is ``_coef(beta, 1 / temperature, softcaps)``; ``nvalid`` the
    number of real (unpadded) vocabulary columns. With ``s_cap`` /
    ``t_cap`` the logits given are the pre-softcap ``u``, and ``z = softcap
    tanh(u)`` is taken here (its derivative in the gradients)."""
    neg = mx.array(-math.inf, dtype=acc)
    lse = functools.partial(logsumexp, axis=-1)

    def scaled(zs, zt, nvalid, coef):
        # half logits are upcast here, inside the fused kernel (no copy kept)
        valid = mx.arange(zs.shape[-1]) < nvalid
        zs, zt = zs.astype(acc), zt.astype(acc)
        if s_cap:
            zs = coef[4] * mx.tanh(zs)
        if t_cap:
            zt = coef[5] * mx.tanh(zt)
        zs, zt = zs * coef[0], zt * coef[0]
        return valid, mx.where(valid, zs, neg), mx.where(valid, zt, neg)

    def capped(d, u, cap):
        # through z = cap tanh(u): dz / du = cap (1 - tanh(u)^2)
        return d * (cap * (1.0 - mx.square(mx.tanh(u.astype(acc)))))

    def pass_lse(zs, zt, nvalid, coef):
        _, a_s, a_t = scaled(zs, zt, nvalid, coef)
        return lse(a_s), lse(a_t)

    def logs(zs, zt, lse_s, lse_t, nvalid, coef):
        valid, a_s, a_t = scaled(zs, zt, nvalid, coef)
        return valid, a_s - mx.expand_dims(lse_s, -1), a_t - mx.expand_dims(lse_t, -1)

    def mix(ls, lt, coef):
        # log(beta p_t + (1 - beta) p_s), in log space
        return logaddexp(ls + coef[2], lt + coef[3])

    def pass_loss(zs, zt, lse_s, lse_t, nvalid, coef):
        # (divergence, statistic the backward needs), summed over the block
        valid, ls, lt = logs(zs, zt, lse_s, lse_t, nvalid, coef)
        if kind == 0:
            term = exp(lt) * (lt - ls)
            stat = mx.zeros_like(term)
        elif kind == 1:
            term = exp(ls) * (ls - lt)
            stat = term
        else:
            lm = mix(ls, lt, coef)
            stat = (1.0 - coef[1]) * exp(ls) * (ls - lm)
            term = coef[1] * exp(lt) * (lt - lm) + stat
        return (mx.sum(mx.where(valid, term, 0.0), axis=-1),
                mx.sum(mx.where(valid, stat, 0.0), axis=-1))

    def pass_grad(zs, zt, lse_s, lse_t, stat, g, nvalid, coef):
        # d loss / d z_s = (1/tau) d loss / d (z_s / tau); for the KLs and the
        # JSD alike: p_s * (G - sum_v p_s G) with G the loss's d / d log p_s
        valid, ls, lt = logs(zs, zt, lse_s, lse_t, nvalid, coef)
        ps = exp(ls)
        if kind == 0:
            d = ps - exp(lt)
        elif kind == 1:
            d = ps * ((ls - lt) - mx.expand_dims(stat, -1))
        else:
            d = ps * ((1.0 - coef[1]) * (ls - mix(ls, lt, coef)) - mx.expand_dims(stat, -1))
        d = mx.where(valid, d, 0.0) * mx.expand_dims(g * coef[0], -1)
        return capped(d, zs, coef[4]) if s_cap else d

    def pass_grad_teacher(zs, zt, lse_s, lse_t, loss, stat, g, nvalid, coef):
        # the same for the teacher's logits: p_t * (G_t - sum_v p_t G_t),
        # where sum_v p_t G_t is the loss (forward KL) or loss - stat (JSD)
        valid, ls, lt = logs(zs, zt, lse_s, lse_t, nvalid, coef)
        pt = exp(lt)
        if kind == 0:
            d = pt * ((lt - ls) - mx.expand_dims(loss, -1))
        elif kind == 1:
            d = pt - exp(ls)
        else:
            d = pt * (coef[1] * (lt - mix(ls, lt, coef)) - mx.expand_dims(loss - stat, -1))
        d = mx.where(valid, d, 0.0) * mx.expand_dims(g * coef[0], -1)
        return capped(d, zt, coef[5]) if t_cap else d

    return (mx.compile(pass_lse), mx.compile(pass_loss), mx.compile(pass_grad),
            mx.compile(pass_grad_teacher))


@functools.lru_cache(maxsize=32)
def _kernel(spec: _Spec):
    """A custom function ``(xs, *head_s[, bs], xt, *head_t[, bt]) ->
    (loss, lse_s, lse_t, stat)``, per token in ``spec.acc``; gradients to
    the student's input, and to its weight and bias when the head is not
    packed. A head is ``(w,)``, or a packed weight with its scales (and
    biases), dequantized one vocabulary block at a time."""
    acc = spec.acc
    n_s = _head_arrays(spec.student_quant)
    n_t = _head_arrays(spec.teacher_quant)
    caps = (spec.student_softcap, spec.teacher_softcap)
    kind = _kind(spec.beta)
    s_cap, t_cap = spec.student_softcap is not None, spec.teacher_softcap is not None

    def unpack(args):
        args = list(args)
        xs, head_s = args[0], args[1:1 + n_s]
        del args[:1 + n_s]
        bs = args.pop(0) if spec.student_bias else None
        xt, head_t = args[0], args[1:1 + n_t]
        del args[:1 + n_t]
        bt = args.pop(0) if spec.teacher_bias else None
        return xs, head_s, bs, xt, head_t, bt

    def scaled(v, k):
        v = v.astype(acc)
        return v * mx.array(k, dtype=acc) if k != 1.0 else v

    def head_block(parts, quant, b, k, j0):
        if quant is None:
            wj = parts[0].astype(acc)
        else:
            # one block dequantized at a time (its zero padding gives 0 rows)
            wj = mx.dequantize(parts[0], parts[1], parts[2] if quant.biases else None,
                               quant.group_size, quant.bits, quant.mode, dtype=acc)
        bj = scaled(_block(b, j0, spec.vocab), k) if b is not None else None
        return mx.contiguous(wj.T), wj, bj

    def logits(xi, wjt, bj):
        return xi @ wjt if bj is None else mx.addmm(bj, xi, wjt)

    def walk(xs, head_s, bs, xt, head_t, bt, visit, order_on):
        """Call ``visit(r, j, j0, xsi, wsj, zs, zt, nvalid)`` tile by tile,
        each tile's inputs ordered after the previous tile's ``order_on``."""
        n, c = xs.shape[0], head_s[0].shape[0]
        rows, blocks = _spans(n, spec.tokens), _spans(c, spec.vocab)
        # each block's count of real columns, read from an array: data, not
        # a constant compiled into the tile kernels (one per vocabulary size)
        nvalid_all = mx.array([min(spec.vocab, c - j0) for j0 in blocks], dtype=mx.int32)
        prev = None
        for j, j0 in enumerate(blocks):
            nvalid = nvalid_all[j]
            for r, i0 in enumerate(rows):
                xsi = scaled(_block(xs, i0, spec.tokens), spec.student_prescale)
                xti = scaled(_block(xt, i0, spec.tokens), spec.teacher_prescale)
                if r:
                    xsi, xti = _after([xsi, xti], prev)
                else:
                    # a block's head rows wait too: its (dequantized,
                    # transposed) copies are made when its first tile runs
                    parts = _after([xsi, xti] + [_block(h, j0, spec.vocab) for h in head_s + head_t],
                                   prev)
                    xsi, xti = parts[:2]
                    wsj_t, wsj, bsj = head_block(parts[2:2 + n_s], spec.student_quant, bs,
                                                 spec.student_prescale, j0)
                    wtj_t, _, btj = head_block(parts[2 + n_s:], spec.teacher_quant, bt,
                                               spec.teacher_prescale, j0)
                zs, zt = logits(xsi, wsj_t, bsj), logits(xti, wtj_t, btj)
                prev = order_on(visit(r, j, j0, xsi, wsj, zs, zt, nvalid))
        return rows, blocks

    def forward(*args):
        xs, head_s, bs, xt, head_t, bt = unpack(args)
        n = xs.shape[0]
        f_lse, f_loss = _tile_fns(acc, kind, s_cap, t_cap)[:2]
        coef = _coef(spec.beta, spec.inv_t, acc, caps)
        rows = _spans(n, spec.tokens)
        lse_s: List[Optional[mx.array]] = [None] * len(rows)
        lse_t: List[Optional[mx.array]] = [None] * len(rows)

        def visit_lse(r, j, j0, xsi, wsj, zs, zt, nvalid):
            a, b = f_lse(zs, zt, nvalid, coef)
            lse_s[r] = a if lse_s[r] is None else logaddexp(lse_s[r], a)
            lse_t[r] = b if lse_t[r] is None else logaddexp(lse_t[r], b)
            return [lse_s[r], lse_t[r]]

        walk(xs, head_s, bs, xt, head_t, bt, visit_lse, lambda v: v)
        loss: List[Optional[mx.array]] = [None] * len(rows)
        stat: List[Optional[mx.array]] = [None] * len(rows)

        def visit_loss(r, j, j0, xsi, wsj, zs, zt, nvalid):
            a, b = f_loss(zs, zt, lse_s[r], lse_t[r], nvalid, coef)
            loss[r] = a if loss[r] is None else loss[r] + a
            stat[r] = b if stat[r] is None else stat[r] + b
            return [loss[r], stat[r]]

        walk(xs, head_s, bs, xt, head_t, bt, visit_loss, lambda v: v)
        cut = lambda parts: mx.concatenate(parts)[:n]  # noqa: E731  (drop the padded rows)
        return cut(loss), cut(lse_s), cut(lse_t), cut(stat)

    fn = mx.custom_function(forward)

    @fn.vjp
    def backward(primals, cotangents, outputs):
        xs, head_s, bs, xt, head_t, bt = unpack(primals)
        n, c = xs.shape[0], head_s[0].shape[0]
        f_grad = _tile_fns(acc, kind, s_cap, t_cap)[2]
        coef = _coef(spec.beta, spec.inv_t, acc, caps)
        with_dw = spec.student_quant is None
        g = cotangents[0].astype(acc)
        _, lse_s, lse_t, stat = outputs
        pad = (-n) % spec.tokens
        if pad:
            g, lse_s, lse_t, stat = (mx.pad(v, (0, pad)) for v in (g, lse_s, lse_t, stat))
        rows = _spans(n, spec.tokens)
        dx: List[Optional[mx.array]] = [None] * len(rows)
        ws = head_s[0]
        dw = mx.zeros(ws.shape, ws.dtype) if with_dw else None
        db_blocks: List[mx.array] = []
        state = {"dwj": None, "dbj": None}

        def visit(r, j, j0, xsi, wsj, zs, zt, nvalid):
            i0 = r * spec.tokens
            sl = slice(i0, i0 + spec.tokens)
            dz = f_grad(zs, zt, lse_s[sl], lse_t[sl], stat[sl], g[sl], nvalid, coef)
            dx[r] = dz @ wsj if dx[r] is None else mx.addmm(dx[r], dz, wsj)
            if with_dw:
                dwj = state["dwj"]
                state["dwj"] = dz.T @ xsi if (r == 0 or dwj is None) else mx.addmm(dwj, dz.T, xsi)
            if bs is not None:
                dbi = mx.sum(dz, axis=0)
                state["dbj"] = dbi if r == 0 else state["dbj"] + dbi
            if r == len(rows) - 1:  # the block's gradient is complete: write it once
                j1 = min(j0 + spec.vocab, c)
                if with_dw:
                    dw[j0:j1] = state["dwj"][: j1 - j0].astype(ws.dtype)
                if bs is not None:
                    db_blocks.append(state["dbj"][: j1 - j0])
            return [v for v in (dx[r], state["dwj"]) if v is not None]

        walk(xs, head_s, bs, xt, head_t, bt, visit, lambda v: [_token(a) for a in v])
        k = spec.student_prescale
        grads = [scaled(mx.concatenate(dx)[:n], k).astype(xs.dtype)]
        # a packed head is frozen: zeros, never evaluated unless asked for,
        # and the caller's guard refuses that
        grads += [dw] if with_dw else [mx.zeros_like(h) for h in head_s]
        if bs is not None:
            grads.append(scaled(mx.concatenate(db_blocks), k).astype(bs.dtype))
        # the teacher has no gradient (never evaluated when nothing asks)
        grads += [mx.zeros_like(xt)] + [mx.zeros_like(h) for h in head_t]
        if bt is not None:
            grads.append(mx.zeros_like(bt))
        return tuple(grads)

    return fn


def _head_arrays(quant: Optional[_Quant]) -> int:
    return 1 if quant is None else (3 if quant.biases else 2)


def _tiles(n: int, c: int, chunk: Optional[int], vocab_chunk: Optional[int],
           hidden: int = 1) -> Tuple[int, int]:
    """(tokens, classes) per tile: about ``_TILE`` logits, as tall as the
    tokens allow, in equal blocks (the padding of the last is small). A
    block of a head (``hidden`` wide, the wider of the two) holds at most
    about ``_TILE`` numbers too: with few tokens a wide block would copy a
    large part of the heads (dequantized and transposed) at once."""
    n1, c1 = max(n, 1), max(c, 1)
    if vocab_chunk is not None:
        vocab = min(vocab_chunk, c1)
    else:
        vocab = min(c1, max(_MIN_VOCAB_BLOCK, min(_TILE // n1, _TILE // max(hidden, 1))))
    if chunk is not None:
        tokens = min(chunk, n1)
    else:
        tokens = min(n1, max(1, _TILE // vocab))
    tokens = -(-n1 // -(-n1 // tokens))
    if vocab_chunk is None:
        vocab = -(-c1 // -(-c1 // vocab))
    return tokens, vocab


def _check_chunk(fn: str, name: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    value = int(check_number(fn, name, value, integer=True))
    if value <= 0:
        raise ValueError(message(fn, name, "be a positive int or None", repr(value)))
    return value


@public_loss
def fused_linear_jsd_loss(
    student_input: mx.array,
    student_weight: "mx.array | QuantizedWeight",
    teacher_input: mx.array,
    teacher_weight: "mx.array | QuantizedWeight",
    labels: Optional[mx.array] = None,
    *,
    student_bias: Optional[mx.array] = None,
    teacher_bias: Optional[mx.array] = None,
    beta: float = 0.5,
    temperature: float = 1.0,
    ignore_index: int = -100,
    reduction: KLReduction = "batchmean",
    chunk_size: Optional[int] = None,
    vocab_chunk_size: Optional[int] = None,
    student_softcap: Optional[float] = None,
    student_logit_scale: Optional[float] = None,
    teacher_softcap: Optional[float] = None,
    teacher_logit_scale: Optional[float] = None,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Generalised JSD distillation from the two models' hidden states and
    LM heads, neither ``(tokens, vocabulary)`` logits tensor held.

    The value of :func:`generalized_jsd_loss` (``beta=0``: forward KL,
    ``beta=1``: reverse KL) on :math:`z_S = h_S W_S^\top + b_S` and
    :math:`z_T = h_T W_T^\top + b_T`. A ``mx.custom_function`` walks
    (token x vocabulary) tiles: a first pass keeps each token's two
    log-sum-exps, a second its divergence (and the one statistic the
    backward needs); the backward recomputes each tile's logits to form the
    gradients of ``student_input``, ``student_weight`` and
    ``student_bias``. The teacher gets no gradient. Every tile has one
    shape (the last row and vocabulary blocks are zero-padded and masked)
    and a block's count of real columns is data, so a compiled step builds
    its tile kernels once, whatever the vocabulary size and the number of
    tiles; extra memory is O(tile) plus the weight gradient. float16 /
    bfloat16 accumulate in float32.

    Either head may be a :class:`~mlx_losses.QuantizedWeight` (any MLX
    quantization mode, bits and group size; e.g.
    ``QuantizedWeight.from_module(model.lm_head)``): it is dequantized one
    vocabulary block at a time (memory grows by a block, never by the
    head) and is frozen (a quantized student head trains nothing; its
    gradient, when asked for, raises as in ``linear_cross_entropy``).
    Each model's logit transform is applied inside the tiles, before the
    temperature: :math:`z = c \tanh(s\, u / c)` for ``*_softcap`` :math:`c`
    (Gemma 2) and ``*_logit_scale`` :math:`s` (Cohere, Granite), either
    alone too.

    References: Agarwal et al. (GKD, 2024). Library: Liger-Kernel's
    ``LigerFusedLinearJSD`` / ``LigerFusedLinearJSDLoss``
    (linkedin/Liger-Kernel), whose argument order this follows (its
    ``jsd_beta``; its chunked loss's ``weight_hard_loss`` is a separate
    ``linear_cross_entropy`` here); TRL's ``GKDTrainer`` with
    ``use_liger_kernel``.

    Args:
        student_input (array): ``(..., H_S)``, the student's last hidden
            states (``(B, T, H_S)`` or flat ``(N, H_S)``).
        student_weight (array or QuantizedWeight): The student's head,
            ``(V, H_S)``.
        teacher_input (array): ``(..., H_T)`` with the student's leading
            shape.
        teacher_weight (array or QuantizedWeight): The teacher's head,
            ``(V, H_T)``: the same vocabulary.
        labels (array, optional): Integer, ``student_input.shape[:-1]``;
            tokens equal to ``ignore_index`` are not counted.
            Default: ``None``.
        student_bias (array, optional): ``(V,)``. Default: ``None``.
        teacher_bias (array, optional): ``(V,)``. Default: ``None``.
        beta (float, optional): In [0, 1]. Default: ``0.5``.
        temperature (float, optional): :math:`\tau > 0`. Default: ``1.0``.
        ignore_index (int, optional): Default: ``-100``.
        reduction (str, optional): ``'batchmean'``: the sum divided by the
            number of counted tokens with ``labels`` (at least 1: nothing
            counted gives 0), by ``student_input.shape[0]`` without; ``'mean'``: divided by
            the number of counted tokens times ``V``; ``'sum'``; ``'none'``:
            the per-token divergence, ``student_input.shape[:-1]``, 0 where not counted.
            (TRL's ``generalized_jsd_loss`` reductions; its ``'none'`` keeps
            the vocabulary axis and drops the ignored rows.)
            Default: ``'batchmean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        chunk_size (int, optional): Tokens per tile. Default: ``None``
            (automatic: about 512K logits per tile).
        vocab_chunk_size (int, optional): Vocabulary entries per tile.
            Default: ``None`` (automatic).
        student_softcap (float, optional): The student's final-logit
            softcap, ``> 0``. Default: ``None``.
        student_logit_scale (float, optional): A factor on the student's
            logits. Default: ``None``.
        teacher_softcap (float, optional): The teacher's. Default: ``None``.
        teacher_logit_scale (float, optional): The teacher's.
            Default: ``None``.

    Shape:
        - Output: scalar, or ``student_input.shape[:-1]`` with ``'none'``.

    Returns:
        array: In the promoted dtype of the inputs, biases and float heads
        (a quantized head's logits are its input's dtype).

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import fused_linear_jsd_loss, generalized_jsd_loss
        >>> mx.random.seed(0)
        >>> hs, ht = mx.random.normal((2, 5, 8)), mx.random.normal((2, 5, 12))
        >>> ws, wt = mx.random.normal((100, 8)), mx.random.normal((100, 12))
        >>> fused = fused_linear_jsd_loss(hs, ws, ht, wt, chunk_size=4, vocab_chunk_size=32)
        >>> plain = generalized_jsd_loss(hs @ ws.T, ht @ wt.T)
        >>> bool(mx.allclose(fused, plain, rtol=1e-5))
        True
    """
    fn = "fused_linear_jsd_loss"
    beta, temperature, ignore_index, reduction = _check_options(
        fn, beta, temperature, ignore_index, reduction, with_beta=True)
    chunk = _check_chunk(fn, "chunk_size", chunk_size)
    vchunk = _check_chunk(fn, "vocab_chunk_size", vocab_chunk_size)
    s_cap, s_scale = _side_options(fn, "student", student_softcap, student_logit_scale)
    t_cap, t_scale = _side_options(fn, "teacher", teacher_softcap, teacher_logit_scale)
    check_floating(fn, "student_input", student_input)
    check_floating(fn, "teacher_input", teacher_input)
    s_quant = isinstance(student_weight, QuantizedWeight)
    t_quant = isinstance(teacher_weight, QuantizedWeight)
    if not s_quant:
        check_floating(fn, "student_weight", student_weight)
    if not t_quant:
        check_floating(fn, "teacher_weight", teacher_weight)
    if student_input.ndim < 1:
        raise ShapeError(message(fn, "student_input", "be at least 1-D, (..., H_S)", "0-D"))
    lead = tuple(student_input.shape[:-1])
    for name, x, w in (("student", student_input, student_weight),
                       ("teacher", teacher_input, teacher_weight)):
        if w.ndim != 2 or w.shape[1] != x.shape[-1]:
            raise ShapeError(message(fn, f"{name}_weight", f"have shape (V, {x.shape[-1]}) for "
                                     f"`{name}_input` of shape {fmt_shape(x.shape)}",
                                     fmt_shape(w.shape)))
    if teacher_input.ndim < 1 or tuple(teacher_input.shape[:-1]) != lead:
        raise ShapeError(message(fn, "teacher_input", f"have the leading shape of `student_input`, "
                                 f"{fmt_shape(lead)}", fmt_shape(teacher_input.shape[:-1])))
    V = student_weight.shape[0]
    _check_vocab(fn, "teacher_weight", teacher_weight.shape[0], "student_weight", V)
    if V == 0:
        raise ShapeError(message(fn, "student_weight", "have at least one vocabulary row",
                                 fmt_shape(student_weight.shape)))
    for name, b in (("student_bias", student_bias), ("teacher_bias", teacher_bias)):
        if b is not None:
            check_floating(fn, name, b)
            if tuple(b.shape) != (V,):
                raise ShapeError(message(fn, name, f"have shape ({V},)", fmt_shape(b.shape)))
    labels = _check_labels(fn, labels, lead, "student_input")
    arrays: List[Any] = [student_input, teacher_input]
    arrays += [w for w, q in ((student_weight, s_quant), (teacher_weight, t_quant)) if not q]
    arrays += [b for b in (student_bias, teacher_bias) if b is not None]
    out = result_dtype(*arrays)
    acc = acc_dtype(out)
    xs = student_input.astype(out).reshape(-1, student_input.shape[-1])
    xt = mx.stop_gradient(teacher_input).reshape(-1, teacher_input.shape[-1])
    n = xs.shape[0]
    if n == 0:
        per = mx.zeros((0,), dtype=acc)
    else:
        tokens, vocab = _tiles(n, V, chunk, vchunk, max(xs.shape[1], xt.shape[1]))
        spec = _Spec(tokens, vocab, acc, beta, 1.0 / temperature, student_bias is not None,
                     teacher_bias is not None,
                     student_prescale=_prescale(s_cap, s_scale),
                     teacher_prescale=_prescale(t_cap, t_scale),
                     student_softcap=s_cap, teacher_softcap=t_cap,
                     student_quant=cast(QuantizedWeight, student_weight)._spec() if s_quant else None,
                     teacher_quant=cast(QuantizedWeight, teacher_weight)._spec() if t_quant else None)
        if s_quant:
            args = [xs, *_frozen(cast(QuantizedWeight, student_weight)._arrays(), fn, "student_weight")]
        else:
            args = [xs, cast(mx.array, student_weight).astype(out)]
        if student_bias is not None:
            args.append(student_bias.astype(out))
        sg = mx.stop_gradient
        t_arrays = (cast(QuantizedWeight, teacher_weight)._arrays() if t_quant
                    else [cast(mx.array, teacher_weight)])
        args += [xt, *(sg(a) for a in t_arrays)]
        if teacher_bias is not None:
            args.append(sg(teacher_bias))
        per = _kernel(spec)(*args)[0]
    per = per.reshape(lead)
    counted = None if labels is None else labels != ignore_index
    return _reduce(per, counted, V, reduction, group).astype(out)


def _side_options(fn: str, side: str, softcap: Any, logit_scale: Any
                  ) -> Tuple[Optional[float], Optional[float]]:
    """One model's (softcap, logit_scale), checked as cross_entropy's
    (``None`` where they change nothing)."""
    if softcap is not None:
        softcap = float(check_number(fn, f"{side}_softcap", softcap, min_value=0.0,
                                     min_inclusive=False))
        if not math.isfinite(softcap):
            raise ValueError(message(fn, f"{side}_softcap", "be a finite number > 0 or None",
                                     repr(softcap)))
    if logit_scale is not None:
        logit_scale = float(check_number(fn, f"{side}_logit_scale", logit_scale))
        if not math.isfinite(logit_scale):
            raise ValueError(message(fn, f"{side}_logit_scale", "be a finite number or None",
                                     repr(logit_scale)))
        logit_scale = None if logit_scale == 1 else logit_scale
    return softcap, logit_scale


def _prescale(softcap: Optional[float], logit_scale: Optional[float]) -> float:
    # logit_scale and the softcap's 1 / softcap multiply the inputs (and the
    # bias), not every tile of logits
    return (1.0 if logit_scale is None else logit_scale) / (1.0 if softcap is None else softcap)
