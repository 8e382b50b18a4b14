"""Parity table: info_nce_loss, nt_xent_loss, clip_loss, siglip_loss,
supcon_loss, and log_cosh_loss / cosine_similarity_loss (from mlx.nn).

The contrastive references are written here in torch from their published
semantics (the ``info-nce-pytorch`` package; SimCLR's NT-Xent as lightly's
``NTXentLoss``; open_clip's ``ClipLoss``; big_vision's SigLIP sigmoid loss;
SupContrast's ``SupConLoss``) and run live in float64. For the two losses
taken from ``mlx.nn.losses`` the reference is ``mlx.nn.losses`` itself,
called through a torch autograd function that converts the tensors, runs
mlx.nn in the dtype under test (float64 for the reference) and takes its
VJP with ``mx.vjp``.
"""

from parity.runner import Case, ErrorCase
from parity.specs import Binary, Float, Literal, Normal, Positive

# --------------------------------------------------------------------------
# references (torch)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def ref_info_nce_loss(query, positive_key, negative_keys=None, temperature=0.1,
                      reduction="mean", negative_mode="unpaired"):
    """info-nce-pytorch: unit vectors (F.normalize), the positive in column
    0 against explicit negatives, or the diagonal against in-batch ones."""
    import torch
    import torch.nn.functional as TF

    q, k = TF.normalize(query, dim=-1), TF.normalize(positive_key, dim=-1)
    if negative_keys is None:
        logits = q @ k.T
        labels = torch.arange(len(q))
    else:
        n = TF.normalize(negative_keys, dim=-1)
        pos = (q * k).sum(1, keepdim=True)
        if negative_mode == "unpaired":
            neg = q @ n.T
        else:
            neg = (q.unsqueeze(1) @ n.transpose(-2, -1)).squeeze(1)
        logits = torch.cat([pos, neg], dim=1)
        labels = torch.zeros(len(q), dtype=torch.long)
    return TF.cross_entropy(logits / temperature, labels, reduction=reduction)


def ref_nt_xent_loss(z1, z2, temperature=0.5, reduction="mean"):
    """NT-Xent (lightly's NTXentLoss without a memory bank): 2N unit rows,
    the other view positive, every other row but itself negative; the rows
    of z1, then those of z2."""
    import torch
    import torch.nn.functional as TF

    n = len(z1)
    z = torch.cat([TF.normalize(z1, dim=1), TF.normalize(z2, dim=1)])
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return TF.cross_entropy(sim, labels, reduction=reduction)


def ref_clip_loss(image_embeds, text_embeds, logit_scale, reduction="mean"):
    """open_clip's ClipLoss: the mean of the image->text and text->image
    cross-entropies of logit_scale * I @ T.T ('none': per pair)."""
    import torch
    import torch.nn.functional as TF

    logits = logit_scale * image_embeds @ text_embeds.T
    labels = torch.arange(len(logits))
    per = (TF.cross_entropy(logits, labels, reduction="none")
           + TF.cross_entropy(logits.T, labels, reduction="none")) / 2
    return _reduce(per, reduction)


def ref_siglip_loss(image_embeds, text_embeds, logit_scale, logit_bias, reduction="mean"):
    """big_vision's sigmoid loss: -sum_j log sigmoid(z_ij (t x_i.y_j + b)),
    z = +1 on the diagonal, -1 off it; 'mean' over the images."""
    import torch
    import torch.nn.functional as TF

    logits = image_embeds @ text_embeds.T * logit_scale + logit_bias
    z = 2 * torch.eye(len(logits), dtype=logits.dtype) - 1
    per = -TF.logsigmoid(z * logits).sum(-1)
    return _reduce(per, reduction)


def ref_supcon_loss(features, labels=None, mask=None, temperature=0.07, contrast_mode="all",
                    base_temperature=0.07, reduction="mean"):
    """SupContrast's SupConLoss ('none': (N, anchor views))."""
    import torch

    bsz, views = features.shape[:2]
    f = features.reshape(bsz, views, -1)
    if labels is not None:
        labels = labels.reshape(-1, 1)
        pos = torch.eq(labels, labels.T).to(f.dtype)
    elif mask is not None:
        pos = mask.to(f.dtype)
    else:
        pos = torch.eye(bsz, dtype=f.dtype)
    contrast = torch.cat(torch.unbind(f, dim=1), dim=0)
    if contrast_mode == "one":
        anchor, n_anchor = f[:, 0], 1
    else:
        anchor, n_anchor = contrast, views
    logits = anchor @ contrast.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    pos = pos.repeat(n_anchor, views)
    not_self = torch.ones_like(pos)
    not_self[torch.arange(len(anchor)), torch.arange(len(anchor))] = 0
    pos = pos * not_self
    log_prob = logits - torch.log((logits.exp() * not_self).sum(1, keepdim=True))
    count = pos.sum(1)
    count = torch.where(count < 1e-6, torch.ones_like(count), count)
    loss = -(temperature / base_temperature) * (pos * log_prob).sum(1) / count
    return _reduce(loss.view(n_anchor, bsz).T, reduction)


# --------------------------------------------------------------------------
# mlx.nn.losses as a torch function (values and VJP from MLX)


def _mlx_nn(name):
    """``mlx.nn.losses.<name>`` wrapped for the runner: torch tensors in and
    out, computed by mlx.nn in the tensors' dtype, differentiated by mx.vjp."""

    def torch_fn(*tensors, **kw):
        import mlx.core as mx
        import mlx.nn.losses as L
        import numpy as np
        import torch

        fn = getattr(L, name)
        tdtype = tensors[0].dtype
        dname = str(tdtype).replace("torch.", "")

        def to_mx(t):
            return mx.array(t.detach().to(torch.float64).numpy(), dtype=getattr(mx, dname))

        def to_torch(a):
            return torch.from_numpy(np.array(a.astype(mx.float64), dtype=np.float64)).to(tdtype)

        class MlxNN(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *ts):
                ctx.xs = [to_mx(t) for t in ts]
                return to_torch(fn(*ctx.xs, **kw))

            @staticmethod
            def backward(ctx, cot):
                _, grads = mx.vjp(lambda *a: fn(*a, **kw), ctx.xs, [to_mx(cot)])
                return tuple(to_torch(g) for g in grads)

        return MlxNN.apply(*tensors)

    return torch_fn


_IN, _NT, _CL, _SL, _SC = "info_nce_loss", "nt_xent_loss", "clip_loss", "siglip_loss", "supcon_loss"
_LC, _CS = "log_cosh_loss", "cosine_similarity_loss"
_F64_F32 = ("float64", "float32")

CASES = [
    # ---- info_nce_loss (info-nce-pytorch)
    Case("in_batch", _IN, [Normal((6, 8)), Normal((6, 8))], module="InfoNCELoss",
         torch_fn=ref_info_nce_loss),
    Case("unpaired", _IN, [Normal((6, 8)), Normal((6, 8)), Normal((5, 8))],
         {"temperature": 0.5}, module="InfoNCELoss", torch_fn=ref_info_nce_loss),
    Case("paired", _IN, [Normal((6, 8)), Normal((6, 8)), Normal((6, 4, 8))],
         {"temperature": 0.3, "negative_mode": "paired"}, module="InfoNCELoss",
         torch_fn=ref_info_nce_loss, dtypes=_F64_F32),
    # ---- nt_xent_loss (SimCLR / lightly)
    Case("basic", _NT, [Normal((5, 8)), Normal((5, 8))], {"temperature": 0.2},
         module="NTXentLoss", torch_fn=ref_nt_xent_loss),
    # ---- clip_loss (open_clip): the learned scale is differentiated
    Case("learned_scale", _CL, [Normal((6, 8), std=0.4), Normal((6, 8), std=0.4),
                                Positive((), 5.0, 15.0)],
         module="ClipLoss", torch_fn=ref_clip_loss),
    Case("number_scale", _CL, [Normal((5, 4), std=0.4), Normal((5, 4), std=0.4), 1 / 0.07],
         module="ClipLoss", torch_fn=ref_clip_loss, dtypes=_F64_F32),
    # ---- siglip_loss (big_vision): scale and bias differentiated
    Case("learned_scale_bias", _SL, [Normal((6, 8), std=0.4), Normal((6, 8), std=0.4),
                                     Positive((), 5.0, 15.0), Float((), -4.0, 0.0)],
         module="SigLipLoss", torch_fn=ref_siglip_loss),
    # ---- supcon_loss (SupContrast)
    # 1 / temperature = 14 makes the feature gradients sums of O(10) terms
    # that cancel: float32 rounding of those terms is about 1e-5 absolute
    # (torch's own float32 error here: 7e-6). In float16 the reference
    # itself is NaN (it shifts by the row's max, the masked self-similarity,
    # and the other exps flush to 0), so the half baseline is torch's float32.
    Case("labels", _SC, [Normal((6, 2, 8), std=0.4), Literal([0, 1, 0, 2, 1, 0], dtype="int64")],
         module="SupConLoss", torch_fn=ref_supcon_loss, tol={"float32": (2e-5, 3e-5)},
         torch_half=False),
    Case("unsupervised_one", _SC, [Normal((5, 3, 4), std=0.4)],
         {"contrast_mode": "one", "temperature": 0.5}, module="SupConLoss",
         torch_fn=ref_supcon_loss, dtypes=_F64_F32),
    # an asymmetric mask, some anchors without positives (the reference's guard)
    Case("mask", _SC, [Normal((5, 2, 2, 3), std=0.4), None, Binary((5, 5))],
         {"temperature": 0.2, "base_temperature": 0.1}, module="SupConLoss",
         torch_fn=ref_supcon_loss, dtypes=_F64_F32),
    # ---- from mlx.nn.losses: the reference is mlx.nn itself.
    # mlx.nn's float64 log-cosh goes through MLX's CPU logaddexp, whose exp
    # is float32-accurate even in float64 (about 3e-8 absolute on these
    # values); ours is accurate to float64 rounding (tests/test_contrastive.py
    # checks it against NumPy), so float64 compares at mlx.nn's level.
    Case("basic", _LC, [Float((4, 5), -6.0, 6.0), Float((4, 5), -6.0, 6.0)], module="LogCoshLoss",
         torch_fn=_mlx_nn("log_cosh_loss"), tol={"float64": (1e-7, 5e-8)}, vmap=True),
    Case("broadcast", _LC, [Float((3, 4)), Float((4,))], module="LogCoshLoss",
         torch_fn=_mlx_nn("log_cosh_loss"), tol={"float64": (1e-7, 5e-8)}, dtypes=_F64_F32),
    # (no vmap: mlx.nn's axis=1 is an absolute axis, absent from one example)
    Case("basic", _CS, [Float((4, 6)), Float((4, 6))], module="CosineSimilarityLoss",
         torch_fn=_mlx_nn("cosine_similarity_loss")),
    Case("axis_last_eps", _CS, [Float((2, 3, 5), -0.1, 0.1), Float((2, 3, 5))],
         {"axis": -1, "eps": 0.05}, module="CosineSimilarityLoss",
         torch_fn=_mlx_nn("cosine_similarity_loss"), dtypes=_F64_F32),
]

_T = {"torch_raises": False}

ERROR_CASES = [
    ErrorCase("zero_temperature", _IN, [Normal((4, 3)), Normal((4, 3))], {"temperature": 0.0},
              match="`temperature` must be > 0", **_T),
    ErrorCase("pair_shape", _IN, [Normal((4, 3)), Normal((5, 3))],
              match="`positive_key` must have the shape of `query`, \\(4, 3\\)", **_T),
    ErrorCase("paired_negatives_2d", _IN, [Normal((4, 3)), Normal((4, 3)), Normal((6, 3))],
              {"negative_mode": "paired"}, match="`negative_keys` must be 3-D", **_T),
    ErrorCase("negative_temperature", _NT, [Normal((4, 3)), Normal((4, 3))],
              {"temperature": -0.5}, match="`temperature` must be > 0", **_T),
    ErrorCase("zero_scale", _CL, [Normal((4, 3)), Normal((4, 3)), 0.0],
              match="`logit_scale` must be > 0", **_T),
    ErrorCase("negative_scale_array", _CL, [Normal((4, 3)), Normal((4, 3)), Literal(-1.0)],
              match="`logit_scale` must be > 0", **_T),
    ErrorCase("pair_shape", _SL, [Normal((4, 3)), Normal((4, 2)), 10.0, -10.0],
              match="`text_embeds` must have the shape of `image_embeds`", **_T),
    ErrorCase("labels_and_mask", _SC, [Normal((4, 2, 3)), Literal([0, 1, 0, 1], dtype="int64"),
                                       Binary((4, 4))],
              match="`mask` must be None when `labels` is given", **_T),
    ErrorCase("zero_base_temperature", _SC, [Normal((4, 2, 3))], {"base_temperature": 0.0},
              match="`base_temperature` must be > 0", **_T),
    ErrorCase("not_broadcastable", _LC, [Float((3, 4)), Float((5,))],
              match="broadcastable", **_T),
    ErrorCase("axis_out_of_range", _CS, [Float((3, 4)), Float((3, 4))], {"axis": 2},
              match="`axis` must be in \\[-2, 2\\)", **_T),
]
