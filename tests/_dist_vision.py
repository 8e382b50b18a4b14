"""Multi-process scenarios for the segmentation and contrastive losses (run
by tests/test_distributed.py through ``_dist_cases.all_scenarios``).

Per-element / per-sample losses take uneven slices of the global batch. The
losses whose rows score against the whole batch (in-batch negatives) gather
every rank's rows, which needs equal slices (``mx.distributed.all_gather``).
"""

from __future__ import annotations

import numpy as np

from _dist_cases import _local, _value_and_grad


def _even(arr, rank, size, axis=0):
    n = arr.shape[axis] // size
    return np.take(arr, np.arange(rank * n, (rank + 1) * n), axis=axis)


def _value_and_grads(f, *xs):
    """Loss and the gradients w.r.t. every ``xs``, side by side per row."""
    import mlx.core as mx

    loss, grads = mx.value_and_grad(f, argnums=list(range(len(xs))))(*xs)
    grad = mx.concatenate([g.reshape(g.shape[0], -1) for g in grads], axis=1)
    mx.eval(loss, grad)
    return {"loss": np.array(loss.astype(mx.float32), dtype=np.float64),
            "grad": np.array(grad.astype(mx.float32), dtype=np.float64)}


def _seg_data(seed, N=11, C=4, H=3, W=2):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, H, W, C)).astype(np.float32)  # NHWC
    labels = rng.integers(0, C, size=(N, H, W))
    return logits, labels


def focal_nhwc_weight_ignore(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import focal_loss

    logits, labels = _seg_data(10)
    labels[[0, 1, 4]] = -100  # uneven ignored pixels
    w = mx.array([0.5, 1.0, 2.0, 1.5])
    t = mx.array(_local(labels, rank, size))
    return _value_and_grad(
        lambda a: focal_loss(a, t, weight=w, gamma=1.5, alpha=0.25, axis=-1, group=group),
        mx.array(_local(logits, rank, size)))


def poly1_smoothing_weight(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import poly1_cross_entropy

    logits, labels = _seg_data(11)
    labels[[2, 3]] = -100
    w = mx.array([0.5, 1.0, 2.0, 1.5])
    t = mx.array(_local(labels, rank, size))
    return _value_and_grad(
        lambda a: poly1_cross_entropy(a, t, weight=w, label_smoothing=0.1, epsilon=2.0, axis=-1,
                                      group=group),
        mx.array(_local(logits, rank, size)))


def dice_batch_nhwc(group, rank, size):
    # batch=True: the overlap sums run over the global batch
    import mlx.core as mx
    from mlx_losses.functional import dice_loss

    logits, labels = _seg_data(12)
    t = mx.array(_local(labels, rank, size))
    return _value_and_grad(
        lambda a: dice_loss(a, t, softmax=True, to_onehot_y=True, batch=True, axis=-1,
                            group=group),
        mx.array(_local(logits, rank, size)))


def generalized_dice_batch(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import generalized_dice_loss

    logits, labels = _seg_data(13)
    onehot = np.eye(4, dtype=np.float32)[labels]
    onehot[..., 3] = 0.0  # a class absent from the whole batch
    t = mx.array(_local(onehot, rank, size))
    return _value_and_grad(
        lambda a: generalized_dice_loss(a, t, sigmoid=True, batch=True, axis=-1, group=group),
        mx.array(_local(logits, rank, size)))


def tversky_per_sample(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import tversky_loss

    logits, labels = _seg_data(14)
    t = mx.array(_local(labels, rank, size))
    return _value_and_grad(
        lambda a: tversky_loss(a, t, softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7,
                               axis=-1, group=group),
        mx.array(_local(logits, rank, size)))


def _pairs(seed, N=12, D=5):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, D)).astype(np.float32) * 0.5,
            rng.normal(size=(N, D)).astype(np.float32) * 0.5)


def clip_gathered(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import clip_loss

    i, t = _pairs(20)
    return _value_and_grads(lambda a, b: clip_loss(a, b, mx.array(7.0), group=group),
                            mx.array(_even(i, rank, size)), mx.array(_even(t, rank, size)))


def clip_scale_share(group, rank, size):
    # the learned scale's gradient: the ranks' shares sum to the global one
    # (returned on rank 0, so the ranks' results side by side are that sum)
    import mlx.core as mx
    from mlx_losses.functional import clip_loss

    i, t = _pairs(21)
    a, b = mx.array(_even(i, rank, size)), mx.array(_even(t, rank, size))
    loss, g = mx.value_and_grad(lambda s: clip_loss(a, b, s, group=group))(mx.array(7.0))
    if group is not None:
        g = mx.distributed.all_sum(g, group=group)
    mx.eval(g)  # on every rank: the collective must run on all of them
    g = g.reshape(1, 1) if rank == 0 else mx.zeros((0, 1))
    mx.eval(loss, g)
    return {"loss": np.array(loss, dtype=np.float64), "grad": np.array(g, dtype=np.float64)}


def siglip_gathered(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import siglip_loss

    i, t = _pairs(22)
    return _value_and_grads(lambda a, b: siglip_loss(a, b, 10.0, -5.0, group=group),
                            mx.array(_even(i, rank, size)), mx.array(_even(t, rank, size)))


def nt_xent_gathered(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import nt_xent_loss

    z1, z2 = _pairs(23)
    return _value_and_grads(lambda a, b: nt_xent_loss(a, b, temperature=0.3, group=group),
                            mx.array(_even(z1, rank, size)), mx.array(_even(z2, rank, size)))


def info_nce_in_batch(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import info_nce_loss

    q, k = _pairs(24)
    return _value_and_grads(lambda a, b: info_nce_loss(a, b, temperature=0.2, group=group),
                            mx.array(_even(q, rank, size)), mx.array(_even(k, rank, size)))


def supcon_labels_gathered(group, rank, size):
    import mlx.core as mx
    from mlx_losses.functional import supcon_loss

    rng = np.random.default_rng(25)
    f = rng.normal(size=(12, 2, 4)).astype(np.float32) * 0.5
    labels = rng.integers(0, 3, size=(12,))
    lab = mx.array(_even(labels, rank, size))
    return _value_and_grad(lambda a: supcon_loss(a, lab, temperature=0.2, group=group),
                           mx.array(_even(f, rank, size)))


def supcon_mask_rows(group, rank, size):
    # with group=, a mask holds this rank's rows against the global batch
    import mlx.core as mx
    from mlx_losses.functional import supcon_loss

    rng = np.random.default_rng(26)
    f = rng.normal(size=(12, 2, 4)).astype(np.float32) * 0.5
    mask = (rng.uniform(size=(12, 12)) < 0.3).astype(np.float32)
    m = mx.array(_even(mask, rank, size))
    return _value_and_grad(
        lambda a: supcon_loss(a, mask=m, temperature=0.3, contrast_mode="one", group=group),
        mx.array(_even(f, rank, size)))


SCENARIOS = {
    f.__name__: f
    for f in (
        focal_nhwc_weight_ignore,
        poly1_smoothing_weight,
        dice_batch_nhwc,
        generalized_dice_batch,
        tversky_per_sample,
        clip_gathered,
        clip_scale_share,
        siglip_gathered,
        nt_xent_gathered,
        info_nce_in_batch,
        supcon_labels_gathered,
        supcon_mask_rows,
    )
}
