"""``mlx.nn.Module`` wrappers, one file per family (imports only)."""

# -- regression
from .regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

# -- classification
from .classification import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, NLLLoss2d

# -- probabilistic
from .probabilistic import GaussianNLLLoss, KLDivLoss, PoissonNLLLoss

# -- margin
from .margin import (
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    SoftMarginLoss,
)

# -- embedding
from .embedding import (
    CosineEmbeddingLoss,
    CosineSimilarity,
    PairwiseDistance,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)

# -- ctc
from .ctc import CTCLoss

# -- linear_cross_entropy
from .linear_cross_entropy import (
    LinearCrossEntropyLoss,
    LinearCrossEntropyOptions,
    QuantizedWeight,
)

# -- preference
from .preference import DPOLoss
from .preference import FusedLinearDPOLoss
from .preference import FusedLinearKTOLoss
from .preference import FusedLinearORPOLoss
from .preference import FusedLinearSimPOLoss
from .preference import KTOLoss
from .preference import ORPOLoss
from .preference import PreferenceLossOutput
from .preference import SimPOLoss

# -- distillation
from .distillation import ForwardKLLoss
from .distillation import FusedLinearJSDLoss
from .distillation import GeneralizedJSDLoss
from .distillation import ReverseKLLoss

# -- segmentation
from .segmentation import DiceLoss
from .segmentation import FocalLoss
from .segmentation import GeneralizedDiceLoss
from .segmentation import Poly1CrossEntropyLoss
from .segmentation import SigmoidFocalLoss
from .segmentation import TverskyLoss

# -- contrastive
from .contrastive import ClipLoss
from .contrastive import CosineSimilarityLoss
from .contrastive import InfoNCELoss
from .contrastive import LogCoshLoss
from .contrastive import NTXentLoss
from .contrastive import SigLipLoss
from .contrastive import SupConLoss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "ClipLoss",
    "CosineEmbeddingLoss",
    "CosineSimilarity",
    "CosineSimilarityLoss",
    "CrossEntropyLoss",
    "DPOLoss",
    "DiceLoss",
    "FocalLoss",
    "ForwardKLLoss",
    "FusedLinearDPOLoss",
    "FusedLinearJSDLoss",
    "FusedLinearKTOLoss",
    "FusedLinearORPOLoss",
    "FusedLinearSimPOLoss",
    "GaussianNLLLoss",
    "GeneralizedDiceLoss",
    "GeneralizedJSDLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "InfoNCELoss",
    "KLDivLoss",
    "KTOLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "LinearCrossEntropyOptions",
    "LogCoshLoss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "NLLLoss2d",
    "NTXentLoss",
    "ORPOLoss",
    "PairwiseDistance",
    "PoissonNLLLoss",
    "Poly1CrossEntropyLoss",
    "PreferenceLossOutput",
    "QuantizedWeight",
    "ReverseKLLoss",
    "SigLipLoss",
    "SigmoidFocalLoss",
    "SimPOLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "SupConLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "TverskyLoss",
]
