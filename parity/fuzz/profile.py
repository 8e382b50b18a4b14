"""The fuzzer's two profiles: the bounded default (CI) and a deep run.

Environment:
    MLX_LOSSES_FUZZ=deep             the deep profile (default: ``default``)
    MLX_LOSSES_FUZZ_SEED=<int>       deep: the seed (default: random, printed
                                     by pytest's header line)
    MLX_LOSSES_FUZZ_EXAMPLES=<int>   examples per (loss, mode) test; in the
                                     default profile it scales every mode's
                                     count to this number for eager
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Dict, Optional

#: The modes, in the order the tests are generated.
MODES = ("eager", "module", "compile", "shapeless", "checks_off")

# Examples per loss and mode in the default profile. Compiled modes are few
# (each new graph builds native kernels on a cold cache) and draw shapes and
# option values from small fixed sets; a fixed seed makes the same examples,
# hence the same kernels, every run.
DEFAULT_EXAMPLES: Dict[str, int] = {
    "eager": 40,
    "module": 8,
    "compile": 3,
    "shapeless": 3,
    "checks_off": 8,
}
DEEP_EXAMPLES = 1000


@dataclass(frozen=True)
class Profile:
    name: str
    seed: Optional[int]  # None: derandomized (a fixed seed derived from the test)
    examples: Dict[str, int]
    deep: bool


def current() -> Profile:
    name = os.environ.get("MLX_LOSSES_FUZZ", "default").strip().lower() or "default"
    if name not in ("default", "deep"):
        raise ValueError(
            f"MLX_LOSSES_FUZZ must be 'default' or 'deep', got {name!r}."
        )
    n_env = os.environ.get("MLX_LOSSES_FUZZ_EXAMPLES")
    if name == "default":
        ex = dict(DEFAULT_EXAMPLES)
        if n_env:
            scale = int(n_env) / DEFAULT_EXAMPLES["eager"]
            ex = {m: max(1, round(n * scale)) for m, n in ex.items()}
        return Profile("default", None, ex, False)
    seed_env = os.environ.get("MLX_LOSSES_FUZZ_SEED")
    seed = int(seed_env) if seed_env else random.SystemRandom().randrange(2**32)
    n = int(n_env) if n_env else DEEP_EXAMPLES
    ex = {m: n if m in ("eager", "checks_off", "module") else max(1, n // 4) for m in MODES}
    return Profile("deep", seed, ex, True)
