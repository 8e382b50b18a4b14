"""The functional API: torch.nn.functional's loss functions (imports only)."""

# -- regression (issue 2)
from .losses.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

# -- classification (issue 2)
from .losses.classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)

# -- probabilistic (issue 2)
from .losses.probabilistic import gaussian_nll_loss, kl_div, poisson_nll_loss

# -- margin (issue 3)
from .losses.margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)

# -- embedding (issue 3)
from .losses.embedding import (
    cosine_embedding_loss,
    cosine_similarity,
    pairwise_distance,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)

# -- ctc (issue 4)
from .losses.ctc import ctc_loss

# -- linear_cross_entropy (issue 5)
from .losses.linear_cross_entropy import linear_cross_entropy

# -- preference (issue 20)
from .losses.preference import dpo_loss
from .losses.preference import fused_linear_dpo_loss
from .losses.preference import fused_linear_kto_loss
from .losses.preference import fused_linear_orpo_loss
from .losses.preference import fused_linear_simpo_loss
from .losses.preference import kto_loss
from .losses.preference import orpo_loss
from .losses.preference import sequence_log_probs
from .losses.preference import simpo_loss

# -- distillation (issue 20)
from .losses.distillation import forward_kl_loss
from .losses.distillation import fused_linear_jsd_loss
from .losses.distillation import generalized_jsd_loss
from .losses.distillation import reverse_kl_loss

# -- segmentation (issue 21)
from .losses.segmentation import dice_loss
from .losses.segmentation import focal_loss
from .losses.segmentation import generalized_dice_loss
from .losses.segmentation import poly1_cross_entropy
from .losses.segmentation import sigmoid_focal_loss
from .losses.segmentation import tversky_loss

# -- contrastive (issue 21)
from .losses.contrastive import clip_loss
from .losses.contrastive import cosine_similarity_loss
from .losses.contrastive import info_nce_loss
from .losses.contrastive import log_cosh_loss
from .losses.contrastive import nt_xent_loss
from .losses.contrastive import siglip_loss
from .losses.contrastive import supcon_loss

from ._group import with_group as _with_group

# Every loss takes a keyword-only ``group=`` (mx.distributed): wrap them here,
# once, so that no kernel carries it (see mlx_losses/_group.py).
_HELPERS = ("cosine_similarity", "pairwise_distance", "sequence_log_probs")
__all__ = sorted(name for name in dir() if not name.startswith("_"))
for _name in __all__:
    if _name not in _HELPERS:
        globals()[_name] = _with_group(globals()[_name])
del _name
