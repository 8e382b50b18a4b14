"""mlx-losses: every torch.nn loss in MLX, with torch's numbers and gradients."""

__version__ = "0.1.0.dev0"

from . import functional
from . import testing  # imports torch only when a check is called
from ._from_torch import from_torch  # imports nothing from torch itself
from ._validation import set_value_checks, value_checks, value_checks_enabled
from .modules import *  # noqa: F401,F403  (the Module classes, torch's names)
from .modules import __all__ as _modules_all

__all__ = [
    "functional",
    "testing",
    "from_torch",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
    "__version__",
    *_modules_all,
]
