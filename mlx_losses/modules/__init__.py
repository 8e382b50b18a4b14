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
from .linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions

__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
