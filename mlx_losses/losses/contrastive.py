"""Representation-learning losses: InfoNCE, NT-Xent, CLIP, SigLIP and
supervised contrastive (SupCon); and two of ``mlx.nn.losses``:
``log_cosh_loss`` and ``cosine_similarity_loss``.

In-batch negatives and ``group=``: a loss whose rows score against the
other rows of the batch gathers every rank's rows (``global_gather``) when a
reduction group is set and the reduction is ``'mean'`` or ``'sum'``; each
rank scores its own rows against the whole batch and the reduction runs over
the group, so the value is the one a single process computes on the
concatenated batch, and each rank's gradient is that loss's gradient w.r.t.
its own inputs (a learned temperature gets this rank's share: sum the
ranks' gradients). Every rank must then hold the same number of rows
(``mx.distributed.all_gather``'s requirement; checked in eager mode).

References: van den Oord et al. 2018 and the ``info-nce-pytorch`` package;
SimCLR (Chen et al. 2020) as lightly's ``NTXentLoss``; CLIP (Radford et al.
2021) as open_clip's ``ClipLoss``; SigLIP (Zhai et al. 2023) as big_vision's
sigmoid loss; Khosla et al. 2020 (SupContrast's ``SupConLoss``);
``mlx.nn.losses``.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple, Union, cast

import mlx.core as mx

from .._dtypes import acc_dtype, promote_types
from .._api import public_loss
from .._reduction import (
    accurate_sum,
    active_group,
    apply_reduction,
    global_gather,
)
from .._validation import (
    Reduction,
    ShapeError,
    ValueCheckError,
    broadcast_shapes,
    check_array,
    check_floating,
    check_number,
    check_option,
    fmt_shape,
    message,
    run_value_check,
    resolve_reduction,
)
from .._numerics import exp_nonpos, logaddexp, logsumexp

__all__ = [
    "info_nce_loss",
    "nt_xent_loss",
    "clip_loss",
    "siglip_loss",
    "supcon_loss",
    "log_cosh_loss",
    "cosine_similarity_loss",
]


# --------------------------------------------------------------------------
# numerics


def _norm(x: mx.array, axis: int, keepdims: bool = False) -> mx.array:
    """The 2-norm along ``axis`` with a zero (not NaN) gradient at a zero
    vector, as torch's: the square root only sees positive sums."""
    s = mx.sum(mx.square(x), axis=axis, keepdims=keepdims)
    pos = s > 0
    return mx.where(pos, mx.sqrt(mx.where(pos, s, mx.ones_like(s))), mx.zeros_like(s))


def _normalize(x: mx.array, eps: float = 1e-12) -> mx.array:
    """``torch.nn.functional.normalize(x, dim=-1)``: x / max(|x|, eps)."""
    return x / mx.maximum(_norm(x, -1, keepdims=True), eps)


def _softplus(x: mx.array) -> mx.array:
    return logaddexp(mx.zeros_like(x), x)


def _ce_at(logits: mx.array, pos: mx.array) -> mx.array:
    """Cross-entropy of each row of ``logits`` whose positive is column
    ``pos[row]``."""
    picked = mx.take_along_axis(logits, pos[:, None], axis=1)[:, 0]
    return logsumexp(logits, axis=1) - picked


def _ce_first(logits: mx.array) -> mx.array:
    """Cross-entropy of each row whose positive is column 0."""
    return logsumexp(logits, axis=1) - logits[:, 0]


# --------------------------------------------------------------------------
# shared checks


def _check_embeddings(fn: str, name: str, x: Any, ndim: int = 2) -> mx.array:
    check_floating(fn, name, x)
    if x.ndim != ndim:
        want = "(N, D)" if ndim == 2 else "(N, M, D)"
        raise ShapeError(
            message(fn, name, f"be {ndim}-D {want}", f"{x.ndim}-D of shape {fmt_shape(x.shape)}")
        )
    return x


def _check_pair(fn: str, a_name: str, a: mx.array, b_name: str, b: mx.array) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ShapeError(
            message(fn, b_name, f"have the shape of `{a_name}`, {fmt_shape(a.shape)} "
                    "(one row per pair)", fmt_shape(b.shape))
        )


def _check_temperature(fn: str, name: str, value: Any) -> float:
    return float(check_number(fn, name, value, min_value=0.0, min_inclusive=False))


def _scalar(fn: str, name: str, value: Any, dtype: mx.Dtype, *, positive: bool) -> mx.array:
    """A scalar option the caller may learn (a logit scale or bias): a
    Python number or a 0-D / size-1 floating array, in ``dtype``; the
    gradient flows to the array. A scale must be > 0 (checked on an array
    in eager mode)."""
    if isinstance(value, mx.array):
        check_floating(fn, name, value)
        if value.size != 1 or value.ndim > 1:
            raise ShapeError(
                message(fn, name, "be a number or a 0-D (or size-1) array", fmt_shape(value.shape))
            )
        if positive:

            def check() -> None:
                v = value.astype(mx.float32).reshape(()).item()
                if not v > 0:
                    raise ValueCheckError(
                        message(fn, name, "be > 0 (the inverse temperature)", f"{v!r}")
                    )

            run_value_check(check)
        return value.reshape(()).astype(dtype)
    if positive:
        value = check_number(fn, name, value, min_value=0.0, min_inclusive=False)
    else:
        value = check_number(fn, name, value)
    return mx.array(float(value), dtype=dtype)


def _gathering(
    reduction: str, group: Optional[mx.distributed.Group]
) -> Optional[mx.distributed.Group]:
    """The group whose every rank's rows are gathered: ``group`` with more
    than one rank unless the reduction is ``'none'`` (which ignores it)."""
    return active_group(group) if reduction != "none" else None


def _check_same_rows(fn: str, name: str, x: mx.array, group: mx.distributed.Group) -> None:
    """Every rank holds as many rows as this one (eager mode: one small
    all-gather and a read)."""

    def check() -> None:
        sizes = cast(List[int], global_gather(mx.array([x.shape[0]], dtype=mx.int32), group).tolist())
        if len(set(sizes)) > 1:
            raise ValueCheckError(
                message(fn, name, "have the same number of rows on every rank of `group` "
                        "(its rows are gathered: mx.distributed.all_gather)",
                        f"{sizes} rows by rank")
            )

    run_value_check(check)


def _batch(fn: str, name: str, x: mx.array, gathered: Optional[mx.distributed.Group],
           check: bool = True) -> Tuple[mx.array, int]:
    """(every rank's rows of ``x``, this rank's first row in them); ``x``
    and 0 without gathering. ``check``: compare the ranks' row counts (once
    per call of a loss: its other inputs have the same rows)."""
    if gathered is None:
        return x, 0
    if check:
        _check_same_rows(fn, name, x, gathered)
    return global_gather(x, gathered), gathered.rank() * x.shape[0]


# --------------------------------------------------------------------------
# InfoNCE (info-nce-pytorch) and NT-Xent (SimCLR)


@public_loss
def info_nce_loss(
    query: mx.array,
    positive_key: mx.array,
    negative_keys: Optional[mx.array] = None,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
    negative_mode: str = "unpaired",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""InfoNCE: each query's cross-entropy against its positive key among
    negatives, over cosine similarities divided by a temperature.

    With unit vectors :math:`\hat q_n, \hat k^+_n` and negatives
    :math:`\hat k^-_{m}` (for ``'paired'``, :math:`\hat k^-_{n,m}`):

    .. math::
        \ell_n = -\log \frac{\exp(\hat q_n \cdot \hat k^+_n / \tau)}
            {\exp(\hat q_n \cdot \hat k^+_n / \tau)
             + \sum_m \exp(\hat q_n \cdot \hat k^-_m / \tau)}

    Without ``negative_keys`` the negatives are the other rows' positive
    keys (in-batch negatives): the cross-entropy of the rows of
    :math:`\hat Q \hat K^{+\top} / \tau` with the diagonal as the labels.

    Reference: van den Oord et al. 2018, "Representation Learning with
    Contrastive Predictive Coding"; the ``info-nce-pytorch`` package's
    ``info_nce`` (normalisation as ``F.normalize``, ``negative_mode``,
    defaults), option for option. With ``group=`` and in-batch negatives
    the keys of every rank are the negatives (see the module notes);
    explicit negatives are each rank's own.

    Args:
        query (array): :math:`(N, D)` queries (normalised here).
        positive_key (array): :math:`(N, D)` positives, row for row.
        negative_keys (array, optional): :math:`(M, D)` negatives shared by
            every query (``'unpaired'``), or :math:`(N, M, D)` per query
            (``'paired'``); None for in-batch negatives. Default: ``None``.
        temperature (float, optional): :math:`\tau > 0`. Default: ``0.1``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.
        negative_mode (str, optional): ``'unpaired'`` | ``'paired'``.
            Default: ``'unpaired'``.

    Shape:
        - Query, positive_key: :math:`(N, D)`.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of the inputs.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import info_nce_loss
        >>> q = mx.array([[1.0, 0.0], [0.0, 1.0]])
        >>> loss = info_nce_loss(q, q, temperature=1.0)  # log(e + 1) - 1
        >>> round(loss.item(), 6)
        0.313262
    """
    fn = "info_nce_loss"
    reduction = resolve_reduction(fn, reduction)
    temperature = _check_temperature(fn, "temperature", temperature)
    check_option(fn, "negative_mode", negative_mode, ("unpaired", "paired"))
    _check_embeddings(fn, "query", query)
    _check_embeddings(fn, "positive_key", positive_key)
    _check_pair(fn, "query", query, "positive_key", positive_key)
    out = promote_types(query.dtype, positive_key.dtype)
    if negative_keys is not None:
        paired = negative_mode == "paired"
        _check_embeddings(fn, "negative_keys", negative_keys, 3 if paired else 2)
        if paired and negative_keys.shape[0] != query.shape[0]:
            raise ShapeError(
                message(fn, "negative_keys", f"have {query.shape[0]} rows, one per query, with "
                        "negative_mode='paired'", fmt_shape(negative_keys.shape))
            )
        if negative_keys.shape[-1] != query.shape[-1]:
            raise ShapeError(
                message(fn, "negative_keys", f"have {query.shape[-1]} components, as `query`",
                        fmt_shape(negative_keys.shape))
            )
        out = promote_types(out, negative_keys.dtype)
    acc = acc_dtype(out)
    q = _normalize(query.astype(acc))
    k = _normalize(positive_key.astype(acc))
    if negative_keys is None:
        keys, first = _batch(fn, "positive_key", k, _gathering(reduction, group))
        loss = _ce_at((q @ keys.T) / temperature, mx.arange(first, first + q.shape[0]))
        return apply_reduction(loss, reduction, dtype=out, group=group)
    neg = _normalize(negative_keys.astype(acc))
    pos = mx.sum(q * k, axis=1, keepdims=True)
    if negative_mode == "unpaired":
        negs = q @ neg.T
    else:
        negs = mx.squeeze(mx.expand_dims(q, 1) @ mx.swapaxes(neg, 1, 2), axis=1)
    loss = _ce_first(mx.concatenate([pos, negs], axis=1) / temperature)
    return apply_reduction(loss, reduction, dtype=out, group=group)


@public_loss
def nt_xent_loss(
    z1: mx.array,
    z2: mx.array,
    temperature: float = 0.5,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""NT-Xent, SimCLR's normalised temperature-scaled cross-entropy over
    two views of a batch.

    With :math:`z = [\hat z^{(1)}; \hat z^{(2)}]` (:math:`2N` unit rows) and
    :math:`s_{ij} = z_i \cdot z_j / \tau`, the positive of row :math:`i` is
    its other view :math:`j(i) = i \pm N`, and every other row but itself is
    a negative:

    .. math::
        \ell_i = -\log \frac{\exp(s_{i, j(i)})}{\sum_{k \ne i} \exp(s_{ik})}

    Reference: Chen et al. 2020, "A Simple Framework for Contrastive
    Learning of Visual Representations" (SimCLR); lightly's ``NTXentLoss``
    (the mean over the :math:`2N` rows; SimCLR's TensorFlow code adds the
    two views' means, twice this). With ``group=`` every rank's rows are
    negatives (see the module notes).

    Args:
        z1 (array): :math:`(N, D)` embeddings of the first view.
        z2 (array): :math:`(N, D)` embeddings of the second view.
        temperature (float, optional): :math:`\tau > 0`. Default: ``0.5``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - z1, z2: :math:`(N, D)`.
        - Output: scalar, or :math:`(2N)` with ``reduction='none'`` (the
          rows of ``z1``, then those of ``z2``).

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import nt_xent_loss
        >>> z = mx.array([[1.0, 0.0], [0.0, 1.0]])
        >>> round(nt_xent_loss(z, z, temperature=1.0).item(), 6)  # log(e + 2) - 1
        0.551445
    """
    fn = "nt_xent_loss"
    reduction = resolve_reduction(fn, reduction)
    temperature = _check_temperature(fn, "temperature", temperature)
    _check_embeddings(fn, "z1", z1)
    _check_embeddings(fn, "z2", z2)
    _check_pair(fn, "z1", z1, "z2", z2)
    out = promote_types(z1.dtype, z2.dtype)
    acc = acc_dtype(out)
    a, b = _normalize(z1.astype(acc)), _normalize(z2.astype(acc))
    gathered = _gathering(reduction, group)
    all_a, first = _batch(fn, "z1", a, gathered)
    all_b, _ = _batch(fn, "z2", b, gathered, check=False)
    n, total = a.shape[0], all_a.shape[0]
    sim = (mx.concatenate([a, b], axis=0) @ mx.concatenate([all_a, all_b], axis=0).T) / temperature
    # row i of z1 is column first + i; its positive, the other view, is
    # column total + first + i (and the reverse for the rows of z2)
    own = mx.arange(first, first + n)
    self_col = mx.concatenate([own, own + total])
    pos_col = mx.concatenate([own + total, own])
    is_self = mx.arange(2 * total)[None, :] == self_col[:, None]
    neg_inf = mx.full(sim.shape, -math.inf, dtype=sim.dtype)
    picked = mx.take_along_axis(sim, pos_col[:, None], axis=1)[:, 0]
    loss = logsumexp(mx.where(is_self, neg_inf, sim), axis=1) - picked
    return apply_reduction(loss, reduction, dtype=out, group=group)


# --------------------------------------------------------------------------
# CLIP (open_clip) and SigLIP (big_vision)


def _check_pairs(fn, image_embeds, text_embeds):
    _check_embeddings(fn, "image_embeds", image_embeds)
    _check_embeddings(fn, "text_embeds", text_embeds)
    _check_pair(fn, "image_embeds", image_embeds, "text_embeds", text_embeds)
    out = promote_types(image_embeds.dtype, text_embeds.dtype)
    acc = acc_dtype(out)
    return image_embeds.astype(acc), text_embeds.astype(acc), out, acc


@public_loss
def clip_loss(
    image_embeds: mx.array,
    text_embeds: mx.array,
    logit_scale: Union[float, mx.array],
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""CLIP's symmetric contrastive loss: cross-entropy over the rows and
    over the columns of the scaled image-text similarity matrix.

    With :math:`L = s\, I T^\top` (:math:`s` = ``logit_scale``, the inverse
    temperature) and the matching pairs on the diagonal:

    .. math::
        \ell_n = \tfrac12 \left( -\log \mathrm{softmax}(L_{n,:})_n
            - \log \mathrm{softmax}(L_{:,n})_n \right)

    so ``'mean'`` is the mean of the image-to-text and text-to-image
    cross-entropies.

    Reference: Radford et al. 2021, "Learning Transferable Visual Models
    From Natural Language Supervision"; open_clip's ``ClipLoss`` (the
    embeddings come normalised by the model, and the model passes
    ``logit_scale.exp()``; here too: nothing is normalised, and
    ``logit_scale`` is the multiplier itself). With ``group=`` every rank's
    pairs are negatives, as open_clip's gathered features (see the module
    notes).

    Args:
        image_embeds (array): :math:`(N, D)` image embeddings (normalised).
        text_embeds (array): :math:`(N, D)` text embeddings, row for row.
        logit_scale (float or array): :math:`s > 0`, a number or a 0-D
            array (learned: its gradient is returned).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - image_embeds, text_embeds: :math:`(N, D)`; logit_scale: :math:`()`.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Returns:
        array: The loss, in the promoted dtype of the embeddings.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import clip_loss
        >>> e = mx.array([[1.0, 0.0], [0.0, 1.0]])
        >>> round(clip_loss(e, e, 1.0).item(), 6)  # log(e + 1) - 1
        0.313262
    """
    fn = "clip_loss"
    reduction = resolve_reduction(fn, reduction)
    i, t, out, acc = _check_pairs(fn, image_embeds, text_embeds)
    scale = _scalar(fn, "logit_scale", logit_scale, acc, positive=True)
    gathered = _gathering(reduction, group)
    all_i, first = _batch(fn, "image_embeds", i, gathered)
    all_t, _ = _batch(fn, "text_embeds", t, gathered, check=False)
    pos = mx.arange(first, first + i.shape[0])
    # this rank's rows of L = s I T^T, and its columns (rows of s T I^T)
    loss = 0.5 * (_ce_at(scale * (i @ all_t.T), pos) + _ce_at(scale * (t @ all_i.T), pos))
    return apply_reduction(loss, reduction, dtype=out, group=group)


@public_loss
def siglip_loss(
    image_embeds: mx.array,
    text_embeds: mx.array,
    logit_scale: Union[float, mx.array],
    logit_bias: Union[float, mx.array],
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""SigLIP's pairwise sigmoid loss over every image-text pair.

    With :math:`L = t\, I T^\top + b` and :math:`z_{ij} = 1` for a matching
    pair (the diagonal), :math:`-1` otherwise:

    .. math::
        \ell_i = -\sum_j \log \sigma\!\left(z_{ij} L_{ij}\right)

    and ``'mean'`` is the mean over the images, the paper's sum over all
    pairs divided by the batch size.

    Reference: Zhai et al. 2023, "Sigmoid Loss for Language Image
    Pre-Training"; big_vision's ``sigmoid_loss`` (``t`` passed as the
    multiplier, i.e. the model's ``exp(t')``, and ``b`` the learned bias;
    the paper initialises them at 10 and -10). :math:`\log\sigma` is taken
    stably (a softplus). With ``group=`` every rank's pairs are included
    (see the module notes).

    Args:
        image_embeds (array): :math:`(N, D)` image embeddings (normalised).
        text_embeds (array): :math:`(N, D)` text embeddings, row for row.
        logit_scale (float or array): :math:`t > 0` (a number or a 0-D
            array; learned).
        logit_bias (float or array): :math:`b` (a number or a 0-D array;
            learned).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'``.
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - image_embeds, text_embeds: :math:`(N, D)`.
        - Output: scalar, or :math:`(N)` (one per image) with
          ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import siglip_loss
        >>> e = mx.array([[1.0, 0.0], [0.0, 1.0]])
        >>> round(siglip_loss(e, e, 1.0, 0.0).item(), 6)  # softplus(-1) + log 2
        1.006409
    """
    fn = "siglip_loss"
    reduction = resolve_reduction(fn, reduction)
    i, txt, out, acc = _check_pairs(fn, image_embeds, text_embeds)
    t = _scalar(fn, "logit_scale", logit_scale, acc, positive=True)
    b = _scalar(fn, "logit_bias", logit_bias, acc, positive=False)
    all_txt, first = _batch(fn, "text_embeds", txt, _gathering(reduction, group))
    logits = (i @ all_txt.T) * t + b
    # +1 for the matching pair (column first + row), -1 for every other
    match = mx.arange(all_txt.shape[0])[None, :] == mx.arange(first, first + i.shape[0])[:, None]
    signed = mx.where(match, logits, -logits)
    loss = accurate_sum(_softplus(-signed), axis=1)
    return apply_reduction(loss, reduction, dtype=out, group=group)


# --------------------------------------------------------------------------
# SupCon (SupContrast)


@public_loss
def supcon_loss(
    features: mx.array,
    labels: Optional[mx.array] = None,
    mask: Optional[mx.array] = None,
    temperature: float = 0.07,
    contrast_mode: str = "all",
    base_temperature: float = 0.07,
    reduction: Reduction = "mean",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Supervised contrastive loss (SupCon); SimCLR's loss without labels.

    The :math:`V` views of each of the :math:`N` samples are stacked view by
    view into :math:`2 \le VN` contrast rows :math:`c_k`; the anchors are all
    of them (``'all'``) or the first view's (``'one'``). For anchor
    :math:`a` with positives :math:`P(a)` (the rows whose sample shares its
    label, or as ``mask`` says; never itself):

    .. math::
        \ell_a = -\frac{\tau}{\tau_b} \frac{1}{|P(a)|} \sum_{p \in P(a)}
            \log \frac{\exp(c_a \cdot c_p / \tau)}{\sum_{k \ne a} \exp(c_a \cdot c_k / \tau)}

    An anchor without positives gives 0 (the reference's guard).

    Reference: Khosla et al. 2020, "Supervised Contrastive Learning";
    SupContrast's ``SupConLoss`` (features not normalised here, as there;
    ``mask`` weights may be any non-negative numbers, as there), option for
    option. With ``group=`` every rank's samples are contrasted (see the
    module notes); a ``mask`` then holds this rank's rows against the
    global batch, :math:`(N_{local}, N_{global})`.

    Args:
        features (array): :math:`(N, V, ...)`, flattened to :math:`(N, V, D)`.
        labels (array, optional): :math:`(N)` class labels. Default: ``None``.
        mask (array, optional): :math:`(N, N)` with ``mask[i, j]`` 1 when
            sample :math:`j` is a positive of :math:`i`. Not with
            ``labels``; with neither, each sample's own views are its
            positives (SimCLR). Default: ``None``.
        temperature (float, optional): :math:`\tau > 0`. Default: ``0.07``.
        contrast_mode (str, optional): ``'all'`` | ``'one'``. Default: ``'all'``.
        base_temperature (float, optional): :math:`\tau_b > 0`. Default: ``0.07``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'mean'`` (the reference's).
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Features: :math:`(N, V, D)` (or more trailing axes).
        - Output: scalar, or :math:`(N, V)` (:math:`(N, 1)` for ``'one'``)
          with ``reduction='none'``.

    Returns:
        array: The loss.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import supcon_loss
        >>> f = mx.array([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
        >>> round(supcon_loss(f, temperature=1.0, base_temperature=1.0).item(), 6)
        0.551445
    """
    fn = "supcon_loss"
    reduction = resolve_reduction(fn, reduction)
    temperature = _check_temperature(fn, "temperature", temperature)
    base_temperature = _check_temperature(fn, "base_temperature", base_temperature)
    check_option(fn, "contrast_mode", contrast_mode, ("all", "one"))
    check_floating(fn, "features", features)
    if features.ndim < 3:
        raise ShapeError(
            message(fn, "features", "be at least 3-D (N, V, ...): samples, views, features",
                    f"{features.ndim}-D of shape {fmt_shape(features.shape)}")
        )
    if labels is not None and mask is not None:
        raise ValueError(message(fn, "mask", "be None when `labels` is given",
                                 "both `labels` and `mask`"))
    bsz, views = features.shape[0], features.shape[1]
    out = features.dtype
    acc = acc_dtype(out)
    f = features.astype(acc).reshape(bsz, views, -1)
    if labels is not None:
        check_array(fn, "labels", labels)
        if labels.size != bsz:
            raise ShapeError(
                message(fn, "labels", f"have {bsz} entries, one per sample (Num of labels does "
                        "not match num of features)", fmt_shape(labels.shape))
            )
    if mask is not None:
        check_array(fn, "mask", mask)
    gathered = _gathering(reduction, group)
    all_f, first = _batch(fn, "features", f, gathered)
    n, total = bsz, all_f.shape[0]
    own = mx.arange(first, first + n)
    # which of the batch's samples are positives of each of this rank's: (n, total)
    if labels is not None:
        labels = labels.reshape(-1)
        all_labels = labels if gathered is None else global_gather(labels, gathered)
        pos = (labels[:, None] == all_labels[None, :]).astype(acc)
    elif mask is not None:
        if tuple(mask.shape) != (n, total):
            want = f"({n}, {total}): this rank's samples against the batch" if gathered is not None \
                else f"({n}, {n}) for {n} samples"
            raise ShapeError(message(fn, "mask", f"have shape {want}", fmt_shape(mask.shape)))
        pos = mask.astype(acc)
    else:
        pos = (own[:, None] == mx.arange(total)[None, :]).astype(acc)
    # the views stacked view by view: row v * total + j is view v of sample j
    contrast = mx.swapaxes(all_f, 0, 1).reshape(views * total, -1)
    n_anchor_views = views if contrast_mode == "all" else 1
    anchors = mx.swapaxes(f[:, :n_anchor_views], 0, 1).reshape(n_anchor_views * n, -1)
    logits = (anchors @ contrast.T) / temperature
    # anchor row v * n + i is contrast row v * total + first + i
    self_col = (mx.arange(n_anchor_views)[:, None] * total + own[None, :]).reshape(-1)
    is_self = mx.arange(views * total)[None, :] == self_col[:, None]
    neg_inf = mx.full(logits.shape, -math.inf, dtype=logits.dtype)
    log_prob = logits - logsumexp(mx.where(is_self, neg_inf, logits), axis=1, keepdims=True)
    pos = mx.where(is_self, mx.zeros_like(logits), mx.tile(pos, (n_anchor_views, views)))
    count = mx.sum(pos, axis=1)
    count = mx.where(count < 1e-6, mx.ones_like(count), count)
    mean_log_prob_pos = mx.sum(pos * log_prob, axis=1) / count
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    # (anchor view, sample) -> (sample, anchor view)
    loss = mx.swapaxes(loss.reshape(n_anchor_views, n), 0, 1)
    return apply_reduction(loss, reduction, dtype=out, group=group)


# --------------------------------------------------------------------------
# from mlx.nn.losses


@public_loss
def log_cosh_loss(
    inputs: mx.array,
    targets: mx.array,
    reduction: Reduction = "none",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Log-cosh loss, as ``mlx.nn.losses.log_cosh_loss``.

    .. math::
        \ell = \log \cosh (x - y)

    computed as :math:`|d| + \log(1 + e^{-2|d|}) - \log 2` for
    :math:`|d| \geq 1` (no overflow) and from :math:`\mathrm{expm1}(|d|)`
    below (relative accuracy as :math:`d \to 0`); its gradient is
    :math:`\tanh(x - y)`. Quadratic for small errors, linear for large ones.

    Reference: ``mlx.nn.losses.log_cosh_loss``: the same names, defaults
    (``reduction='none'``, unlike the rest of this package: a drop-in
    replacement) and broadcasting; float16 / bfloat16 accumulate in float32.

    Args:
        inputs (array): Predictions.
        targets (array): Targets, broadcastable with ``inputs``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'none'`` (``mlx.nn``'s).
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - Inputs, targets: broadcastable to one shape :math:`(*)`.
        - Output: :math:`(*)` with ``reduction='none'``, else scalar.

    Returns:
        array: The loss, in the promoted dtype of the inputs.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import log_cosh_loss
        >>> loss = log_cosh_loss(mx.array([0.0, 1.0]), mx.array([0.0, 0.0]))
        >>> [round(v, 6) for v in loss.tolist()]  # [0, log cosh 1]
        [0.0, 0.433781]
    """
    fn = "log_cosh_loss"
    reduction = resolve_reduction(fn, reduction)
    check_floating(fn, "inputs", inputs)
    check_floating(fn, "targets", targets)
    broadcast_shapes(fn, ("inputs", "targets"), inputs, targets)
    out = promote_types(inputs.dtype, targets.dtype)
    acc = acc_dtype(out)
    a = mx.abs(inputs.astype(acc) - targets.astype(acc))
    small = a < 1.0
    # |d| < 1: log1p(cosh d - 1) with cosh d - 1 = u^2 / (2 (u + 1)), u =
    # expm1|d|: relative accuracy down to d ~ 0, where the other form cancels
    u = mx.expm1(mx.where(small, a, mx.zeros_like(a)))
    near = mx.log1p(u * u / (2.0 * (u + 1.0)))
    # otherwise |d| + log1p(e^-2|d|) - log 2, which never overflows
    b = mx.where(small, mx.ones_like(a), a)
    far = b + mx.log1p(exp_nonpos(-2.0 * b)) - math.log(2.0)
    return apply_reduction(mx.where(small, near, far), reduction, dtype=out, group=group)


@public_loss
def cosine_similarity_loss(
    x1: mx.array,
    x2: mx.array,
    axis: int = 1,
    eps: float = 1e-8,
    reduction: Reduction = "none",
    *,
    group: Optional[mx.distributed.Group] = None,
) -> mx.array:
    r"""Cosine similarity along ``axis``, as ``mlx.nn.losses.cosine_similarity_loss``.

    .. math::
        \ell = \frac{x_1 \cdot x_2}{\max(\|x_1\| \|x_2\|, \epsilon)}

    (the similarity itself, not :math:`1 - \cos`: negate it, or use
    :func:`cosine_embedding_loss`, to pull pairs together).

    Reference: ``mlx.nn.losses.cosine_similarity_loss``: the same names,
    defaults (``axis=1``, ``eps=1e-8``, ``reduction='none'``, unlike the
    rest of this package: a drop-in replacement) and eps placement (on the
    product of the norms; torch's ``cosine_similarity`` clamps each norm).
    Deliberate difference: at a zero vector the gradient is the finite one
    of the clamped denominator (:math:`x_2 / \epsilon`), where ``mlx.nn``'s
    is NaN.

    Args:
        x1 (array): First inputs.
        x2 (array): Second inputs, broadcastable with ``x1``.
        axis (int, optional): The embedding axis. Default: ``1``.
        eps (float, optional): The smallest denominator, >= 0. Default: ``1e-8``.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``.
            Default: ``'none'`` (``mlx.nn``'s).
        group (mx.distributed.Group, optional): Keyword-only. Reduce over
            every rank of the group (see ``docs/distributed.md``). Default:
            ``None``.

    Shape:
        - x1, x2: broadcastable to one shape; ``axis`` is reduced.
        - Output: the broadcast shape without ``axis`` with
          ``reduction='none'``, else scalar.

    Returns:
        array: The similarity, in the promoted dtype of the inputs.

    Example:
        >>> import mlx.core as mx
        >>> from mlx_losses.functional import cosine_similarity_loss
        >>> cosine_similarity_loss(mx.array([[1.0, 0.0]]), mx.array([[1.0, 1.0]])).tolist()
        [0.7071067...]
    """
    fn = "cosine_similarity_loss"
    reduction = resolve_reduction(fn, reduction)
    eps = float(check_number(fn, "eps", eps, min_value=0.0))
    check_floating(fn, "x1", x1)
    check_floating(fn, "x2", x2)
    broadcast_shapes(fn, ("x1", "x2"), x1, x2)
    axis = check_number(fn, "axis", axis, integer=True)
    for name, x in (("x1", x1), ("x2", x2)):
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(
                message(fn, "axis", f"be in [{-x.ndim}, {x.ndim}) for `{name}` of shape "
                        f"{fmt_shape(x.shape)}", repr(axis))
            )
    out = promote_types(x1.dtype, x2.dtype)
    acc = acc_dtype(out)
    a, b = x1.astype(acc), x2.astype(acc)
    loss = mx.sum(a * b, axis=axis) / mx.maximum(_norm(a, axis) * _norm(b, axis), eps)
    return apply_reduction(loss, reduction, dtype=out, group=group)
