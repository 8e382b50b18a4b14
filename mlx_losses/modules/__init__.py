"""``mlx.nn.Module`` wrappers, one file per family (imports only)."""

from ._base import _Loss, _WeightedLoss

# -- regression (issue 2)
from .regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

# -- classification (issue 2)

# -- probabilistic (issue 2)

# -- margin (issue 3)

# -- embedding (issue 3)

# -- ctc (issue 4)

# -- linear_cross_entropy (issue 5)

__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
