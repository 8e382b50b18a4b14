# pyright: strict, reportUnnecessaryTypeIgnoreComment=true
"""A user's script over the whole public API, for the static checkers.

tests/test_typing.py runs ``mypy --strict`` and pyright on it: every loss
and Module resolves from its public path, ``reduction`` is a Literal and
``group=`` is visible in every signature. It is never run: the lines at the
end are calls the types must refuse (each ignore must be needed, or both
checkers report it).
"""

from __future__ import annotations

from typing import List, Optional

import mlx.core as mx

import mlx_losses
from mlx_losses import functional as F
from mlx_losses.distributed import vocab_parallel_cross_entropy

group: Optional[mx.distributed.Group] = None
x, y = mx.zeros((4, 5)), mx.zeros((4, 5))
labels = mx.zeros((4,), dtype=mx.int32)
signs = mx.ones((4,))
seq = mx.zeros((4,))
tokens = mx.zeros((2, 3), dtype=mx.int32)
hidden, head = mx.zeros((2, 3, 8)), mx.zeros((16, 8))


def l2(a: mx.array, b: mx.array) -> mx.array:
    return mx.sqrt(mx.sum(mx.square(a - b), axis=-1))


out: List[mx.array] = [
    # regression
    F.l1_loss(x, y, reduction="mean", group=group),
    F.mse_loss(x, y, reduction="sum", weight=y, group=group),
    F.smooth_l1_loss(x, y, reduction="none", beta=0.5, group=group),
    F.huber_loss(x, y, "mean", 2.0, group=group),
    # classification
    F.binary_cross_entropy(x, y, reduction="mean", group=group),
    F.binary_cross_entropy_with_logits(x, y, pos_weight=y, group=group),
    F.cross_entropy(x, labels, reduction="mean", group=None),
    F.cross_entropy(x, labels, label_smoothing=0.1, axis=-1, out_dtype=mx.float32),
    F.nll_loss(x, labels, ignore_index=-100, reduction="sum", group=group),
    # probabilistic
    F.kl_div(x, y, reduction="batchmean", log_target=True, group=group),
    F.poisson_nll_loss(x, y, log_input=True, reduction="mean", group=group),
    F.gaussian_nll_loss(x, y, 1.0, full=True, eps=1e-6, reduction="sum", group=group),
    # margin
    F.hinge_embedding_loss(x, y, margin=1.0, reduction="mean", group=group),
    F.soft_margin_loss(x, y, reduction="none", group=group),
    F.multilabel_soft_margin_loss(x, y, weight=None, reduction="mean", group=group),
    F.multilabel_margin_loss(x, tokens, reduction="sum", group=group),
    F.multi_margin_loss(x, labels, p=2, margin=0.5, reduction="mean", group=group),
    F.margin_ranking_loss(seq, seq, signs, margin=0.1, reduction="mean", group=group),
    # embedding
    F.cosine_embedding_loss(x, y, signs, margin=0.0, reduction="mean", group=group),
    F.triplet_margin_loss(x, y, x, margin=1.0, p=2.0, swap=True, group=group),
    F.triplet_margin_with_distance_loss(x, y, x, distance_function=l2, group=group),
    F.pairwise_distance(x, y, p=1.0, keepdim=True),
    F.cosine_similarity(x, y, dim=-1),
    # ctc and the LM head
    F.ctc_loss(mx.zeros((6, 2, 4)), tokens, [6, 6], [3, 3], blank=0, reduction="mean",
               group=group),
    F.linear_cross_entropy(hidden, head, tokens, reduction="mean", ignore_index=-100,
                           options=mlx_losses.LinearCrossEntropyOptions(), group=group),
    # segmentation
    F.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="mean", group=group),
    F.focal_loss(x, labels, gamma=2.0, reduction="mean", axis=1, group=group),
    F.poly1_cross_entropy(x, labels, epsilon=1.0, reduction="sum", group=group),
    F.dice_loss(x, y, softmax=True, reduction="mean", batch=True, group=group),
    F.generalized_dice_loss(x, y, w_type="square", reduction="none", group=group),
    F.tversky_loss(x, y, alpha=0.3, beta=0.7, reduction="mean", group=group),
    # contrastive
    F.info_nce_loss(x, y, temperature=0.1, reduction="mean", group=group),
    F.nt_xent_loss(x, y, temperature=0.5, reduction="mean", group=group),
    F.clip_loss(x, y, 10.0, reduction="mean", group=group),
    F.siglip_loss(x, y, 10.0, -10.0, reduction="sum", group=group),
    F.supcon_loss(mx.zeros((4, 2, 5)), labels, reduction="mean", group=group),
    F.log_cosh_loss(x, y, reduction="mean", group=group),
    F.cosine_similarity_loss(x, y, reduction="mean", group=group),
    # distillation
    F.forward_kl_loss(x, y, temperature=2.0, reduction="batchmean", group=group),
    F.reverse_kl_loss(x, y, labels, reduction="mean", group=group),
    F.generalized_jsd_loss(x, y, beta=0.5, reduction="sum", group=group),
    F.fused_linear_jsd_loss(hidden, head, hidden, head, tokens, reduction="batchmean",
                            group=group),
    # preference
    F.sequence_log_probs(mx.zeros((2, 3, 16)), tokens, average=True),
    F.dpo_loss(seq, seq, seq, seq, beta=0.1, loss_type="ipo", reduction="mean", group=group).loss,
    F.orpo_loss(seq, seq, nll_loss=0.0, reduction="none", group=group).loss,
    F.simpo_loss(seq, seq, gamma=0.5, reduction="sum", group=group).chosen_rewards,
    F.kto_loss(seq, seq, signs > 0, kl=0.0, reduction="mean", group=group).loss,
    F.fused_linear_dpo_loss(hidden, head, tokens, ref_input=hidden, group=group).loss,
    F.fused_linear_orpo_loss(hidden, head, tokens, compute_nll_loss=True, group=group).loss,
    F.fused_linear_simpo_loss(hidden, head, tokens, reduction="mean", group=group).loss,
    F.fused_linear_kto_loss(hidden, head, tokens, mx.array([True, False]), group=group).loss,
    # distributed
    vocab_parallel_cross_entropy(x, labels, group=group, vocab_start=0, reduction="mean"),
]

modules: List[object] = [
    mlx_losses.L1Loss(reduction="mean", group=group),
    mlx_losses.MSELoss(reduction="sum", group=group),
    mlx_losses.SmoothL1Loss(beta=0.5, group=group),
    mlx_losses.HuberLoss(delta=2.0, group=group),
    mlx_losses.BCELoss(weight=None, reduction="mean", group=group),
    mlx_losses.BCEWithLogitsLoss(pos_weight=None, group=group),
    mlx_losses.CrossEntropyLoss(label_smoothing=0.1, reduction="mean", group=group),
    mlx_losses.NLLLoss(ignore_index=-1, reduction="sum", group=group),
    mlx_losses.NLLLoss2d(group=group),
    mlx_losses.KLDivLoss(reduction="batchmean", log_target=False, group=group),
    mlx_losses.PoissonNLLLoss(log_input=False, group=group),
    mlx_losses.GaussianNLLLoss(full=True, group=group),
    mlx_losses.HingeEmbeddingLoss(margin=2.0, group=group),
    mlx_losses.SoftMarginLoss(group=group),
    mlx_losses.MultiLabelSoftMarginLoss(group=group),
    mlx_losses.MultiLabelMarginLoss(group=group),
    mlx_losses.MultiMarginLoss(p=1, margin=1.0, group=group),
    mlx_losses.MarginRankingLoss(margin=0.1, group=group),
    mlx_losses.CosineEmbeddingLoss(margin=0.0, group=group),
    mlx_losses.TripletMarginLoss(margin=1.0, group=group),
    mlx_losses.TripletMarginWithDistanceLoss(distance_function=l2, group=group),
    mlx_losses.PairwiseDistance(p=2.0),
    mlx_losses.CosineSimilarity(dim=1),
    mlx_losses.CTCLoss(blank=0, zero_infinity=True, group=group),
    mlx_losses.LinearCrossEntropyLoss(8, 16, reduction="mean", group=group),
    mlx_losses.SigmoidFocalLoss(alpha=0.25, group=group),
    mlx_losses.FocalLoss(gamma=2.0, axis=-1, group=group),
    mlx_losses.Poly1CrossEntropyLoss(epsilon=2.0, group=group),
    mlx_losses.DiceLoss(softmax=True, group=group),
    mlx_losses.GeneralizedDiceLoss(group=group),
    mlx_losses.TverskyLoss(alpha=0.3, beta=0.7, group=group),
    mlx_losses.InfoNCELoss(temperature=0.1, group=group),
    mlx_losses.NTXentLoss(temperature=0.5, group=group),
    mlx_losses.ClipLoss(group=group),
    mlx_losses.SigLipLoss(group=group),
    mlx_losses.SupConLoss(group=group),
    mlx_losses.LogCoshLoss(reduction="mean", group=group),
    mlx_losses.CosineSimilarityLoss(reduction="mean", group=group),
    mlx_losses.ForwardKLLoss(temperature=2.0, reduction="batchmean", group=group),
    mlx_losses.ReverseKLLoss(group=group),
    mlx_losses.GeneralizedJSDLoss(beta=0.5, group=group),
    mlx_losses.FusedLinearJSDLoss(beta=0.5, group=group),
    mlx_losses.DPOLoss(beta=0.1, loss_type="sigmoid", group=group),
    mlx_losses.ORPOLoss(beta=0.1, group=group),
    mlx_losses.SimPOLoss(gamma=0.5, group=group),
    mlx_losses.KTOLoss(beta=0.1, group=group),
    mlx_losses.FusedLinearDPOLoss(beta=0.1, group=group),
    mlx_losses.FusedLinearORPOLoss(group=group),
    mlx_losses.FusedLinearSimPOLoss(group=group),
    mlx_losses.FusedLinearKTOLoss(group=group),
]

ce: mx.array = mlx_losses.CrossEntropyLoss()(x, labels)
l1: mx.array = mlx_losses.L1Loss(reduction="none")(x, y)
dpo: mlx_losses.PreferenceLossOutput = mlx_losses.DPOLoss()(seq, seq, seq, seq)
rewards: mx.array = dpo.chosen_rewards

# what the types refuse: a reduction outside the Literal, a group that is not
# one, group given positionally
F.l1_loss(x, y, reduction="avg")  # type: ignore[arg-type]
F.l1_loss(x, y, reduction="batchmean")  # type: ignore[arg-type]
F.kl_div(x, y, reduction="avg")  # type: ignore[arg-type]
F.dice_loss(x, y, group="ring")  # type: ignore[arg-type]
F.mse_loss(x, y, None, None, "mean", None, group)  # type: ignore[call-arg]
mlx_losses.L1Loss(reduction="avg")  # type: ignore[arg-type]
mlx_losses.DPOLoss(reduction="batchmean")  # type: ignore[arg-type]
mlx_losses.ForwardKLLoss(group="ring")  # type: ignore[arg-type]
