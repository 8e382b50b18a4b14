"""The functional API: torch.nn.functional's loss functions (imports only)."""

# -- regression
from .losses.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

# -- classification
from .losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)

# -- probabilistic
from .losses.probabilistic import gaussian_nll_loss, kl_div, poisson_nll_loss

# -- margin
from .losses.margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)

# -- embedding
from .losses.embedding import (
    cosine_embedding_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .losses.embedding import cosine_similarity, pairwise_distance

# -- ctc
from .losses.ctc import ctc_loss

# -- linear_cross_entropy
from .losses.linear_cross_entropy import linear_cross_entropy

# -- preference
from .losses.preference import (
    dpo_loss,
    fused_linear_dpo_loss,
    fused_linear_kto_loss,
    fused_linear_orpo_loss,
    fused_linear_simpo_loss,
    kto_loss,
    orpo_loss,
    sequence_log_probs,
    simpo_loss,
)

# -- distillation
from .losses.distillation import (
    forward_kl_loss,
    fused_linear_jsd_loss,
    generalized_jsd_loss,
    reverse_kl_loss,
)

# -- segmentation
from .losses.segmentation import (
    dice_loss,
    focal_loss,
    generalized_dice_loss,
    poly1_cross_entropy,
    sigmoid_focal_loss,
    tversky_loss,
)

# -- contrastive
from .losses.contrastive import (
    clip_loss,
    cosine_similarity_loss,
    info_nce_loss,
    log_cosh_loss,
    nt_xent_loss,
    siglip_loss,
    supcon_loss,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "clip_loss",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cosine_similarity_loss",
    "cross_entropy",
    "ctc_loss",
    "dice_loss",
    "dpo_loss",
    "focal_loss",
    "forward_kl_loss",
    "fused_linear_dpo_loss",
    "fused_linear_jsd_loss",
    "fused_linear_kto_loss",
    "fused_linear_orpo_loss",
    "fused_linear_simpo_loss",
    "gaussian_nll_loss",
    "generalized_dice_loss",
    "generalized_jsd_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "info_nce_loss",
    "kl_div",
    "kto_loss",
    "l1_loss",
    "linear_cross_entropy",
    "log_cosh_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "nt_xent_loss",
    "orpo_loss",
    "pairwise_distance",
    "poisson_nll_loss",
    "poly1_cross_entropy",
    "reverse_kl_loss",
    "sequence_log_probs",
    "sigmoid_focal_loss",
    "siglip_loss",
    "simpo_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "supcon_loss",
    "tversky_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
