"""``mlx.nn.Module`` wrappers, one file per family (imports only)."""

from ._base import _Loss, _WeightedLoss

# -- regression (issue 2)
from .regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

# -- classification (issue 2)
from .classification import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, NLLLoss2d

# -- probabilistic (issue 2)
from .probabilistic import GaussianNLLLoss, KLDivLoss, PoissonNLLLoss

# -- margin (issue 3)
from .margin import (
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    SoftMarginLoss,
)

# -- embedding (issue 3)
from .embedding import (
    CosineEmbeddingLoss,
    CosineSimilarity,
    PairwiseDistance,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)

# -- ctc (issue 4)
from .ctc import CTCLoss

# -- linear_cross_entropy (issue 5)
from .linear_cross_entropy import (
    LinearCrossEntropyLoss,
    LinearCrossEntropyOptions,
    QuantizedWeight,
)

# -- preference (issue 20)
from .preference import DPOLoss
from .preference import FusedLinearDPOLoss
from .preference import FusedLinearKTOLoss
from .preference import FusedLinearORPOLoss
from .preference import FusedLinearSimPOLoss
from .preference import KTOLoss
from .preference import ORPOLoss
from .preference import PreferenceLossOutput
from .preference import SimPOLoss

# -- distillation (issue 20)
from .distillation import ForwardKLLoss
from .distillation import FusedLinearJSDLoss
from .distillation import GeneralizedJSDLoss
from .distillation import ReverseKLLoss

# -- segmentation (issue 21)
from .segmentation import DiceLoss
from .segmentation import FocalLoss
from .segmentation import GeneralizedDiceLoss
from .segmentation import Poly1CrossEntropyLoss
from .segmentation import SigmoidFocalLoss
from .segmentation import TverskyLoss

# -- contrastive (issue 21)
from .contrastive import ClipLoss
from .contrastive import CosineSimilarityLoss
from .contrastive import InfoNCELoss
from .contrastive import LogCoshLoss
from .contrastive import NTXentLoss
from .contrastive import SigLipLoss
from .contrastive import SupConLoss

__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
