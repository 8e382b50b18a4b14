"""Parity table: option values at the edges, for every loss.

What torch takes for a number (NumPy scalars, bools as 0 / 1, 0-d tensors,
NaN and infinity where its checks let them through) we take too, with the
same result; what it refuses (a non-bool flag, NaN past a ``>= 0`` check)
we refuse. A 0-d option array is built inside ``ours_fn`` / ``torch_fn``
(``_array_option``), since a plain value in a table reaches both sides as
it is.
"""

from dataclasses import replace

import numpy as np

from parity.runner import Case, ErrorCase
from parity.specs import Derived, Float, Index, Literal, Positive, Sign

_NAN, _INF = float("nan"), float("inf")


def _array_option(fn, **options):
    """``fn`` called with ``options`` as 0-d arrays: ``mx.array`` on our side,
    ``torch.tensor`` on torch's (each ``(value, dtype name)``)."""

    def ours(*args, **kw):
        import mlx.core as mx
        import mlx_losses.functional as F

        arrays = {k: mx.array(v, dtype=getattr(mx, d)) for k, (v, d) in options.items()}
        return getattr(F, fn)(*args, **arrays, **kw)

    def theirs(*args, **kw):
        import torch
        import torch.nn.functional as TF

        tensors = {k: torch.tensor(v, dtype=getattr(torch, d)) for k, (v, d) in options.items()}
        return getattr(TF, fn)(*args, **tensors, **kw)

    return dict(ours_fn=ours, torch_fn=theirs)


def _log_probs(T, N, C):
    def make(rng):
        z = rng.normal(size=(T, N, C))
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    return Derived(make, grad=False)


_X, _Y = Float((4, 5)), Float((4, 5))
_CE = [Float((4, 5)), Index((4,), 5)]
_CTC = [_log_probs(6, 2, 5), Literal([[1, 2, 3], [4, 1, 0]]), Literal([6, 5]), Literal([3, 2])]
_LCE = [Float((4, 3)), Float((5, 3)), Index((4,), 5)]
_TRIPLET = [Float((4, 5)), Float((4, 5)), Float((4, 5))]

CASES = [
    # ---- probabilistic
    Case("opt_eps_numpy", "poisson_nll_loss", [_X, Positive((4, 5))],
         {"log_input": False, "eps": np.float32(0.25)}, module="PoissonNLLLoss"),
    Case("opt_eps_array", "poisson_nll_loss", [_X, Positive((4, 5))], {"log_input": False},
         **_array_option("poisson_nll_loss", eps=(0.25, "float64"))),
    # torch's clamp_(min=eps): NaN everywhere, a negative eps clamps nothing
    Case("opt_eps_nan", "gaussian_nll_loss", [_X, _Y, Positive((4, 5))], {"eps": _NAN},
         module="GaussianNLLLoss"),
    Case("opt_eps_negative", "gaussian_nll_loss", [_X, _Y, Positive((4, 5), 0.0, 0.5)], {"eps": -1.0},
         module="GaussianNLLLoss"),
    Case("opt_eps_numpy", "gaussian_nll_loss", [_X, _Y, Positive((4, 5), 0.0, 0.5)],
         {"eps": np.float32(0.25)}, module="GaussianNLLLoss"),
    Case("opt_eps_complex", "gaussian_nll_loss", [_X, _Y, Positive((4, 5), 0.0, 0.5)],
         {"eps": 0.25 + 0j}, module="GaussianNLLLoss"),
    # an array of lower bounds, one per column (torch's clamp takes a tensor)
    Case("opt_eps_per_column", "gaussian_nll_loss", [_X, _Y, Positive((4, 5), 0.0, 0.5)],
         {"eps": Literal([0.1, 0.2, 0.3, 0.05, 0.0])}, module="GaussianNLLLoss"),
    # ---- margin
    Case("opt_margin_numpy", "hinge_embedding_loss", [_X, Sign((4, 5))], {"margin": np.float32(0.5)},
         module="HingeEmbeddingLoss"),
    Case("opt_margin_bool", "hinge_embedding_loss", [_X, Sign((4, 5))], {"margin": True},
         module="HingeEmbeddingLoss"),
    Case("opt_margin_array", "hinge_embedding_loss", [_X, Sign((4, 5))],
         **_array_option("hinge_embedding_loss", margin=(0.5, "float64"))),
    # a float64 0-d margin is a number to torch: float32 inputs stay float32
    Case("opt_margin_array", "margin_ranking_loss", [Float((6,)), Float((6,)), Sign((6,))],
         **_array_option("margin_ranking_loss", margin=(0.25, "float64"))),
    Case("opt_margin_numpy", "margin_ranking_loss", [Float((6,)), Float((6,)), Sign((6,))],
         {"margin": np.int64(1)}, module="MarginRankingLoss"),
    Case("opt_p_numpy", "multi_margin_loss", _CE, {"p": np.int64(2)}, module="MultiMarginLoss",
         torch_half=False),
    Case("opt_p_true", "multi_margin_loss", _CE, {"p": True}, module="MultiMarginLoss",
         torch_half=False),
    Case("opt_p_float", "multi_margin_loss", _CE, {"p": 2.0}, module="MultiMarginLoss",
         torch_half=False),
    Case("opt_p_array", "multi_margin_loss", _CE, torch_half=False,
         **_array_option("multi_margin_loss", p=(2, "int64"))),
    Case("opt_margin_numpy", "multi_margin_loss", _CE, {"margin": np.float32(0.5)},
         module="MultiMarginLoss", torch_half=False),
    Case("opt_margin_complex", "multi_margin_loss", _CE, {"margin": 0.5 + 0j},
         module="MultiMarginLoss", torch_half=False),
    # ---- embedding
    Case("opt_margin_numpy", "cosine_embedding_loss", [_X, _Y, Sign((4,))], {"margin": np.int64(0)},
         module="CosineEmbeddingLoss"),
    # torch's `margin <= 0` test lets NaN through: a NaN loss
    Case("opt_margin_nan", "triplet_margin_loss", _TRIPLET, {"margin": _NAN},
         module="TripletMarginLoss"),
    Case("opt_numpy", "triplet_margin_loss", _TRIPLET,
         {"margin": np.float32(0.5), "p": np.int64(1), "eps": np.float64(1e-3)},
         module="TripletMarginLoss"),
    Case("opt_array", "triplet_margin_loss", _TRIPLET,
         **_array_option("triplet_margin_loss", margin=(2.0, "float32"), p=(2, "int64"))),
    Case("opt_margin_nan", "triplet_margin_with_distance_loss", _TRIPLET, {"margin": _NAN},
         module="TripletMarginWithDistanceLoss"),
    Case("opt_margin_numpy", "triplet_margin_with_distance_loss", _TRIPLET,
         {"margin": np.float64(0.5)}, module="TripletMarginWithDistanceLoss"),
    Case("opt_numpy", "pairwise_distance", [_X, _Y], {"p": np.float32(1.0), "eps": np.float64(0.0)},
         module="PairwiseDistance", reductions=()),
    Case("opt_dim_numpy", "cosine_similarity", [_X, _Y], {"dim": np.int64(0)},
         module="CosineSimilarity", reductions=()),
    Case("opt_dim_array", "cosine_similarity", [_X, _Y], reductions=(),
         **_array_option("cosine_similarity", dim=(-1, "int32"))),
    # ---- classification
    Case("opt_ignore_index_numpy", "cross_entropy", [Float((6, 5)), Index((6,), 5, ignore=2)],
         {"ignore_index": np.int64(2)}, module="CrossEntropyLoss"),
    Case("opt_ignore_index_array", "cross_entropy", [Float((6, 5)), Index((6,), 5, ignore=2)],
         **_array_option("cross_entropy", ignore_index=(2, "int64"))),
    Case("opt_label_smoothing_numpy", "cross_entropy", _CE, {"label_smoothing": np.float32(0.25)},
         module="CrossEntropyLoss"),
    # torch smooths only when label_smoothing > 0: NaN is none
    Case("opt_label_smoothing_nan", "cross_entropy", _CE, {"label_smoothing": _NAN},
         module="CrossEntropyLoss", compile=False),
    Case("opt_ignore_index_numpy", "nll_loss", [Float((6, 5)), Index((6,), 5, ignore=0)],
         {"ignore_index": np.int32(0)}, module="NLLLoss"),
    Case("opt_numpy", "linear_cross_entropy", _LCE,
         {"ignore_index": np.int64(1), "label_smoothing": np.float64(0.1)}, module=None),
    # ---- ctc
    Case("opt_blank_numpy", "ctc_loss", _CTC, {"blank": np.int64(0)}, module="CTCLoss",
         grad=False, torch_half=False),
    Case("opt_lengths_numpy", "ctc_loss",
         [_log_probs(6, 2, 5), Literal([[1, 2, 3], [4, 1, 0]]), (np.int64(6), np.int32(5)),
          (np.int64(3), 2)],
         grad=False, torch_half=False),
]

# Option parsing does not depend on the dtype under test: two dtypes keep
# the table cheap (the families' own tables sweep all four).
CASES = [replace(c, dtypes=("float64", "float32")) for c in CASES]

ERROR_CASES = [
    # flags torch's argument parser takes as bools only
    ErrorCase("opt_log_target_int", "kl_div", [_X, _Y], {"log_target": 1}, error=TypeError,
              match="`log_target` must be a bool, got int"),
    ErrorCase("opt_log_target_numpy", "kl_div", [_X, _Y], {"log_target": np.bool_(True)},
              error=TypeError, match="`log_target` must be a bool, got numpy.bool"),
    ErrorCase("opt_log_input_int", "poisson_nll_loss", [_X, _Y], {"log_input": 1}, error=TypeError,
              match="`log_input` must be a bool, got int"),
    ErrorCase("opt_full_float", "poisson_nll_loss", [_X, _Y], {"full": 0.0}, error=TypeError,
              match="`full` must be a bool, got float"),
    ErrorCase("opt_swap_int", "triplet_margin_loss", _TRIPLET, {"swap": 1}, error=TypeError,
              match="`swap` must be a bool, got int"),
    ErrorCase("opt_keepdim_int", "pairwise_distance", [_X, _Y], {"keepdim": 1}, error=TypeError,
              match="`keepdim` must be a bool, got int"),
    ErrorCase("opt_zero_infinity_int", "ctc_loss", _CTC, {"zero_infinity": 1}, error=TypeError,
              match="`zero_infinity` must be a bool, got int"),
    # ints torch's argument parser refuses as an int
    ErrorCase("opt_ignore_index_bool", "cross_entropy", _CE, {"ignore_index": True}, error=TypeError,
              match="`ignore_index` must be an int, got True"),
    ErrorCase("opt_ignore_index_float", "nll_loss", _CE, {"ignore_index": np.float32(1.0)},
              error=TypeError, match="`ignore_index` must be an int, got float32"),
    ErrorCase("opt_blank_bool", "ctc_loss", _CTC, {"blank": False}, error=TypeError,
              match="`blank` must be an int, got False"),
    ErrorCase("opt_dim_float", "cosine_similarity", [_X, _Y], {"dim": 1.0}, error=TypeError,
              match="`dim` must be an int, got 1.0"),
    # values torch's checks refuse (NaN fails `eps >= 0`)
    ErrorCase("opt_eps_nan", "cosine_similarity", [_X, _Y], {"eps": _NAN},
              match="`eps` must be >= 0.0, got nan"),
    ErrorCase("opt_eps_negative", "cosine_similarity", [_X, _Y], {"eps": -1.0},
              match="`eps` must be >= 0.0, got -1.0"),
    ErrorCase("opt_margin_zero_numpy", "triplet_margin_loss", _TRIPLET, {"margin": np.int64(0)},
              match="`margin` must be greater than 0, got 0"),
    ErrorCase("opt_p_three", "multi_margin_loss", _CE, {"p": np.int64(3)},
              match="`p` must be 1 or 2, got 3"),
    ErrorCase("opt_margin_imaginary", "multi_margin_loss", _CE, {"margin": 1 + 1j},
              match=r"`margin` must be a real number \(no imaginary part\)"),
    ErrorCase("opt_margin_string", "hinge_embedding_loss", [_X, Sign((4, 5))], {"margin": "1"},
              error=TypeError, match="`margin` must be a number, got str"),
    # torch's triplet_margin_with_distance_loss adds an array margin to the
    # distances; ours takes a number or a 0-d array (README, "Known differences")
    ErrorCase("opt_margin_1d_array", "triplet_margin_with_distance_loss", _TRIPLET,
              {"margin": Float((1,), 0.5, 1.0)}, error=TypeError,
              match="`margin` must be a number or a 0-d mx.array", torch_raises=False),
]
