"""mlx-losses: every torch.nn loss in MLX, with torch's numbers and gradients."""

__version__ = "0.1.0.dev0"

from . import functional
from ._validation import set_value_checks, value_checks, value_checks_enabled
from .modules import *  # noqa: F401,F403  (the Module classes, torch's names)
from .modules import __all__ as _modules_all

__all__ = [
    "functional",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
    "__version__",
    *_modules_all,
]
