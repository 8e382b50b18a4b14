"""Parity table: pairwise_distance, cosine_similarity, cosine_embedding_loss,
triplet_margin_loss, triplet_margin_with_distance_loss."""

import math

from parity.runner import Case, ErrorCase
from parity.specs import Float, Literal, Sign

INF = math.inf

# ---- edge values (Literal, differentiated): where a plain formula has no
# gradient, torch has a finite one and ours must equal it.

# Row 0: x1 == x2 (zero difference); row 1: half the elements equal; row 2:
# a plain row.
_PD_X1 = Literal([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5], [0.0, 1.5, -2.0]], grad=True)
_PD_X2 = Literal([[0.5, -1.0, 2.0], [1.0, 1.25, 0.5], [1.0, -0.5, 0.0]], grad=True)

# Zero vectors (row 0 of x1, row 1 of both), a tiny vector below eps (row 2),
# and a plain row.
_CS_X1 = Literal([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-9, -2e-9, 0.0], [1.0, 2.0, -1.0]], grad=True)
_CS_X2 = Literal([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [0.5, 0.5, 1.0], [-0.5, 1.0, 2.0]], grad=True)

# cosine_embedding_loss ties at the hinge (y = -1 and cos == margin == 0:
# orthogonal rows), zero vectors under both labels, and a plain row.
_CE_X1 = Literal([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [0.5, 0.5]], grad=True)
_CE_X2 = Literal([[0.0, 3.0], [1.0, -1.0], [2.0, 1.0], [-2.0, 1.0], [1.0, -2.0]], grad=True)
_CE_Y = Literal([-1.0, 1.0, -1.0, -1.0, 1.0])
_CE_X1_NZ = Literal([[1.0, 0.0], [1.0, 2.0], [0.5, 0.5]], grad=True)
_CE_X2_NZ = Literal([[0.0, 3.0], [-2.0, 1.0], [1.0, -2.0]], grad=True)
_CE_Y_NZ = Literal([-1.0, -1.0, 1.0])

# Triplets: row 0 anchor == positive; row 1 a tie at the hinge with eps=0
# (d(a,p) = 1, d(a,n) = 2, margin 1 under p = 1 and p = 2); row 2 anchor ==
# negative; row 3 positive == negative (swap).
_TR_A = Literal([[1.0, -0.5], [0.0, 0.0], [0.25, 1.0], [-1.0, 0.5]], grad=True)
_TR_P = Literal([[1.0, -0.5], [1.0, 0.0], [1.5, -1.0], [0.5, 0.5]], grad=True)
_TR_N = Literal([[2.0, 0.5], [2.0, 0.0], [0.25, 1.0], [0.5, 0.5]], grad=True)


# Swap ties: d(a, n) == d(p, n) exactly in row 0 (eps = 0; p = 2, p = 1 and
# the l-inf distance), not in row 1: torch's minimum halves the gradient at
# the tie.
_TIE_A = Literal([[0.0, 0.0], [0.0, 0.0]], grad=True)
_TIE_P = Literal([[3.0, 0.0], [2.0, 1.25]], grad=True)
_TIE_N = Literal([[1.5, 2.0], [0.5, 2.5]], grad=True)
NAN = math.nan


# One feature: torch's norm of one element is |x| for every p (no x ** p to
# overflow: 1e30 stays 1e30 in float32); a zero difference in row 3.
_ONE_X1 = Literal([[-1e30], [3.0], [1e-30], [0.5], [-0.25]], grad=True)
_ONE_X2 = Literal([[0.0], [1.0], [0.0], [0.5], [2.0]], grad=True)
# p = +-inf with a NaN element (norm NaN, gradient 0) and a tie
_INF_X1 = Literal([[1.0, -3.0, 3.0, 0.5], [1.0, NAN, -2.0, 0.5], [0.25, 2.0, -1.0, 1.0]], grad=True)
_INF_X2 = Literal([[0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 0.0, 0.0]], grad=True)


# ---- triplet_margin_with_distance_loss: the same distance on each side.


def _mx_cosine_distance(x, y):
    import mlx_losses.functional as F

    return 1.0 - F.cosine_similarity(x, y)


def _torch_cosine_distance(x, y):
    import torch.nn.functional as TF

    return 1.0 - TF.cosine_similarity(x, y)


def _mx_l1(x, y):
    import mlx_losses.functional as F

    return F.pairwise_distance(x, y, p=1.0)


def _torch_l1(x, y):
    import torch.nn.functional as TF

    return TF.pairwise_distance(x, y, p=1.0)


def _mx_linf(x, y):
    import mlx.core as mx

    return mx.max(mx.abs(x - y), axis=-1)


def _torch_linf(x, y):
    import torch

    return torch.amax(torch.abs(x - y), dim=-1)


def _with_distance(ours, theirs, **options):
    """(ours_fn, torch_fn, module_kwargs) for a distance pair."""

    def ours_fn(a, p, n, **kw):
        import mlx_losses.functional as F

        return F.triplet_margin_with_distance_loss(a, p, n, distance_function=ours, **kw)

    def torch_fn(a, p, n, **kw):
        import torch.nn.functional as TF

        return TF.triplet_margin_with_distance_loss(a, p, n, distance_function=theirs, **kw)

    return dict(ours_fn=ours_fn, torch_fn=torch_fn,
                module_kwargs={"distance_function": ours, **options})


def _zero_d(fn, *idx):
    """(ours_fn, torch_fn, module_call) that pass the args at ``idx`` as 0-d:
    the runner turns a 0-d spec into shape (1,) (np.ascontiguousarray)."""

    def fix(args):
        return [a.reshape(()) if i in idx else a for i, a in enumerate(args)]

    def ours_fn(*args, **kw):
        import mlx_losses.functional as F

        return getattr(F, fn)(*fix(args), **kw)

    def torch_fn(*args, **kw):
        import torch.nn.functional as TF

        return getattr(TF, fn)(*fix(args), **kw)

    return dict(ours_fn=ours_fn, torch_fn=torch_fn, module_call=lambda m, *args: m(*fix(args)))


_PD, _CS, _CE = "pairwise_distance", "cosine_similarity", "cosine_embedding_loss"
_TM, _TD = "triplet_margin_loss", "triplet_margin_with_distance_loss"
_NO_RED = ()  # the helpers take no reduction

CASES = [
    # ---- pairwise_distance
    Case("basic", _PD, [Float((5, 7)), Float((5, 7))], module="PairwiseDistance", reductions=_NO_RED),
    Case("unbatched", _PD, [Float((7,)), Float((7,))], module="PairwiseDistance", reductions=_NO_RED),
    Case("scalar", _PD, [Float(()), Float(())], module="PairwiseDistance", reductions=_NO_RED,
         **_zero_d("pairwise_distance", 0, 1)),
    Case("broadcast", _PD, [Float((4, 6)), Float((6,))], module="PairwiseDistance", reductions=_NO_RED),
    Case("broadcast_3d", _PD, [Float((2, 1, 6)), Float((3, 6))], module="PairwiseDistance",
         reductions=_NO_RED),
    Case("keepdim", _PD, [Float((4, 6)), Float((4, 6))], {"keepdim": True}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("p1", _PD, [Float((4, 6)), Float((4, 6))], {"p": 1.0}, module="PairwiseDistance", reductions=_NO_RED),
    Case("p0", _PD, [Float((4, 6)), Float((4, 6))], {"p": 0.0}, module="PairwiseDistance", reductions=_NO_RED),
    Case("p3", _PD, [Float((4, 6)), Float((4, 6))], {"p": 3.0}, module="PairwiseDistance", reductions=_NO_RED),
    Case("p1_5", _PD, [Float((4, 6)), Float((4, 6))], {"p": 1.5}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("p0_5", _PD, [Float((4, 6)), Float((4, 6))], {"p": 0.5}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("p_neg", _PD, [Float((4, 6)), Float((4, 6))], {"p": -1.5}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("p_inf", _PD, [Float((4, 6)), Float((4, 6))], {"p": INF}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("p_neginf", _PD, [Float((4, 6)), Float((4, 6))], {"p": -INF}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("big_eps_keepdim", _PD, [Float((3, 2, 5)), Float((3, 2, 5))], {"eps": 0.5, "keepdim": True, "p": 2.5},
         module="PairwiseDistance", reductions=_NO_RED),
    Case("empty", _PD, [Float((0, 4)), Float((0, 4))], module="PairwiseDistance", reductions=_NO_RED),
    # zero differences: eps keeps the norm off 0, or (eps=0) torch's masked 0 gradient
    Case("zero_diff", _PD, [_PD_X1, _PD_X2], module="PairwiseDistance", reductions=_NO_RED),
    Case("zero_diff_eps0", _PD, [_PD_X1, _PD_X2], {"eps": 0.0}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("zero_diff_eps0_p1", _PD, [_PD_X1, _PD_X2], {"eps": 0.0, "p": 1.0}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("zero_diff_eps0_p0_5", _PD, [_PD_X1, _PD_X2], {"eps": 0.0, "p": 0.5}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("zero_diff_eps0_p3", _PD, [_PD_X1, _PD_X2], {"eps": 0.0, "p": 3.0}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("zero_diff_eps0_pneg", _PD, [_PD_X1, _PD_X2], {"eps": 0.0, "p": -2.0}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("zero_diff_eps0_pinf", _PD, [_PD_X1, _PD_X2], {"eps": 0.0, "p": INF}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("one_feature", _PD, [_ONE_X1, _ONE_X2], {"eps": 0.0}, module="PairwiseDistance",
         reductions=_NO_RED, dtypes=("float64", "float32")),
    # (p = 3, -1.5: float64 only; torch's float32 gradient at 1e30 is NaN
    # too, |x|^(p-1) overflows, where the float64 reference is finite)
    Case("one_feature_p3", _PD, [_ONE_X1, _ONE_X2], {"eps": 0.0, "p": 3.0}, module="PairwiseDistance",
         reductions=_NO_RED, dtypes=("float64",)),
    Case("one_feature_p_neg", _PD, [_ONE_X1, _ONE_X2], {"eps": 0.0, "p": -1.5},
         module="PairwiseDistance", reductions=_NO_RED, dtypes=("float64",)),
    Case("one_feature_p_inf", _PD, [_ONE_X1, _ONE_X2], {"p": INF}, module="PairwiseDistance",
         reductions=_NO_RED, dtypes=("float64", "float32")),
    Case("nan_p_inf", _PD, [_INF_X1, _INF_X2], {"eps": 0.0, "p": INF}, module="PairwiseDistance",
         reductions=_NO_RED),
    Case("nan_p_neginf", _PD, [_INF_X1, _INF_X2], {"eps": 0.0, "p": -INF}, module="PairwiseDistance",
         reductions=_NO_RED),
    # ---- cosine_similarity
    Case("basic", _CS, [Float((5, 7)), Float((5, 7))], module="CosineSimilarity", reductions=_NO_RED),
    Case("dim0", _CS, [Float((5, 7)), Float((5, 7))], {"dim": 0}, module="CosineSimilarity",
         reductions=_NO_RED),
    Case("dim_neg_3d", _CS, [Float((2, 3, 4)), Float((2, 3, 4))], {"dim": -1}, module="CosineSimilarity",
         reductions=_NO_RED),
    Case("dim1_3d", _CS, [Float((2, 3, 4)), Float((2, 3, 4))], module="CosineSimilarity", reductions=_NO_RED),
    Case("unbatched", _CS, [Float((6,)), Float((6,))], {"dim": 0}, module="CosineSimilarity",
         reductions=_NO_RED),
    Case("broadcast", _CS, [Float((4, 6)), Float((1, 6))], module="CosineSimilarity", reductions=_NO_RED),
    Case("broadcast_rank", _CS, [Float((4, 6)), Float((6,))], {"dim": -1}, module="CosineSimilarity",
         reductions=_NO_RED),
    # dim along a broadcast axis: the size-1 input is expanded first (as torch)
    Case("broadcast_on_dim", _CS, [Float((3, 1)), Float((3, 5))], module="CosineSimilarity",
         reductions=_NO_RED),
    Case("zero_vectors", _CS, [_CS_X1, _CS_X2], module="CosineSimilarity", reductions=_NO_RED,
         dtypes=("float64", "float32")),
    # the clamp active on ordinary vectors: norms below eps
    Case("big_eps", _CS, [Float((4, 3), -0.2, 0.2), Float((4, 3))], {"eps": 0.5},
         module="CosineSimilarity", reductions=_NO_RED),
    Case("one_feature", _CS, [_ONE_X1, _ONE_X2], module="CosineSimilarity", reductions=_NO_RED,
         dtypes=("float64", "float32")),
    # ---- cosine_embedding_loss
    Case("basic", _CE, [Float((6, 5)), Float((6, 5)), Sign((6,))], module="CosineEmbeddingLoss",
         legacy=True, vmap=True),
    Case("margin", _CE, [Float((6, 5)), Float((6, 5)), Sign((6,))], {"margin": 0.3},
         module="CosineEmbeddingLoss", vmap=True),
    Case("margin_neg", _CE, [Float((6, 5)), Float((6, 5)), Sign((6,))], {"margin": -0.5},
         module="CosineEmbeddingLoss"),
    Case("unbatched_pos", _CE, [Float((5,)), Float((5,)), Literal(1.0)], module="CosineEmbeddingLoss",
         **_zero_d("cosine_embedding_loss", 2)),
    Case("unbatched_neg", _CE, [Float((5,)), Float((5,)), Literal(-1.0)], {"margin": -0.9},
         module="CosineEmbeddingLoss", **_zero_d("cosine_embedding_loss", 2)),
    Case("int_target", _CE, [Float((4, 3)), Float((4, 3)), Literal([1, -1, -1, 1])],
         module="CosineEmbeddingLoss"),
    Case("broadcast_row", _CE, [Float((4, 3)), Float((1, 3)), Sign((4,))], module="CosineEmbeddingLoss"),
    # torch: a label other than 1 / -1 contributes 0 (and counts in the mean)
    Case("other_labels", _CE, [Float((4, 3)), Float((4, 3)), Literal([1.0, 0.0, 2.0, -1.0])],
         {"margin": -1.0}, module="CosineEmbeddingLoss"),
    Case("edges", _CE, [_CE_X1, _CE_X2, _CE_Y], module="CosineEmbeddingLoss", dtypes=("float64", "float32")),
    Case("edges_bf16", _CE, [_CE_X1, _CE_X2, _CE_Y], module="CosineEmbeddingLoss", dtypes=("bfloat16",)),
    # float16: the gradient at a zero vector (~EPSILON^-1/2 = 1e6) is beyond
    # float16's range (ours: inf; torch float16: NaN, EPSILON underflows to
    # 0 there); the tie and plain rows only.
    Case("edges_fp16", _CE, [_CE_X1_NZ, _CE_X2_NZ, _CE_Y_NZ], module="CosineEmbeddingLoss",
         dtypes=("float16",)),
    Case("large", _CE, [Float((256, 64)), Float((256, 64)), Sign((256,))], module="CosineEmbeddingLoss"),
    Case("empty", _CE, [Float((0, 3)), Float((0, 3)), Sign((0,))], module="CosineEmbeddingLoss"),
    # ---- triplet_margin_loss
    Case("basic", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], module="TripletMarginLoss",
         legacy=True, vmap=True),
    Case("swap", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"swap": True},
         module="TripletMarginLoss", vmap=True),
    Case("margin", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"margin": 0.25},
         module="TripletMarginLoss"),
    Case("big_margin", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"margin": 5.0},
         module="TripletMarginLoss"),
    Case("p1", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"p": 1.0}, module="TripletMarginLoss",
         vmap=True),
    Case("p3_swap", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"p": 3.0, "swap": True},
         module="TripletMarginLoss", vmap=True),
    Case("p1_5", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"p": 1.5}, module="TripletMarginLoss"),
    Case("p_inf", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"p": INF},
         module="TripletMarginLoss"),
    Case("eps", _TM, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"eps": 0.1},
         module="TripletMarginLoss"),
    Case("unbatched", _TM, [Float((5,)), Float((5,)), Float((5,))], {"margin": 3.0},
         module="TripletMarginLoss"),
    Case("scalar", _TM, [Float(()), Float(()), Float(())], {"margin": 3.0}, module="TripletMarginLoss",
         **_zero_d("triplet_margin_loss", 0, 1, 2)),
    Case("3d", _TM, [Float((2, 3, 4)), Float((2, 3, 4)), Float((2, 3, 4))], {"margin": 2.0},
         module="TripletMarginLoss", vmap=True),
    Case("broadcast", _TM, [Float((4, 5)), Float((1, 5)), Float((4, 5))], {"margin": 2.0},
         module="TripletMarginLoss"),
    Case("large", _TM, [Float((512, 32)), Float((512, 32)), Float((512, 32))], module="TripletMarginLoss"),
    Case("empty", _TM, [Float((0, 3)), Float((0, 3)), Float((0, 3))], module="TripletMarginLoss"),
    # anchor == positive (finite gradient), anchor == negative, ties at the hinge
    Case("edges", _TM, [_TR_A, _TR_P, _TR_N], {"margin": 1.0}, module="TripletMarginLoss"),
    Case("edges_swap", _TM, [_TR_A, _TR_P, _TR_N], {"margin": 1.0, "swap": True},
         module="TripletMarginLoss"),
    Case("edges_eps0", _TM, [_TR_A, _TR_P, _TR_N], {"margin": 1.0, "eps": 0.0},
         module="TripletMarginLoss"),
    Case("edges_eps0_p1", _TM, [_TR_A, _TR_P, _TR_N], {"margin": 1.0, "eps": 0.0, "p": 1.0},
         module="TripletMarginLoss"),
    Case("edges_eps0_swap", _TM, [_TR_A, _TR_P, _TR_N], {"margin": 1.0, "eps": 0.0, "swap": True},
         module="TripletMarginLoss"),
    Case("swap_tie", _TM, [_TIE_A, _TIE_P, _TIE_N], {"margin": 5.0, "eps": 0.0, "swap": True},
         module="TripletMarginLoss"),
    Case("swap_tie_p1", _TM, [_TIE_A, _TIE_P, _TIE_N], {"margin": 5.0, "eps": 0.0, "p": 1.0, "swap": True},
         module="TripletMarginLoss"),
    # torch checks margin <= 0 only: NaN passes (NaN loss, zero gradient)
    Case("margin_nan", _TM, [Float((4, 3)), Float((4, 3)), Float((4, 3))], {"margin": NAN},
         module="TripletMarginLoss"),
    Case("margin_nan_swap_p1", _TM, [Float((4, 3)), Float((4, 3)), Float((4, 3))],
         {"margin": NAN, "swap": True, "p": 1.0}, module="TripletMarginLoss"),
    Case("margin_inf_swap", _TM, [Float((4, 3)), Float((4, 3)), Float((4, 3))],
         {"margin": INF, "swap": True}, module="TripletMarginLoss"),
    Case("one_feature", _TM, [_ONE_X1, _ONE_X2, Literal([[1.0], [0.0], [2.0], [0.5], [1.0]], grad=True)],
         {"eps": 0.0}, module="TripletMarginLoss", dtypes=("float64", "float32")),
    Case("one_feature_p3_swap", _TM, [_ONE_X1, _ONE_X2, Literal([[1.0], [0.0], [2.0], [0.5], [1.0]], grad=True)],
         {"eps": 0.0, "p": 3.0, "swap": True}, module="TripletMarginLoss", dtypes=("float64",)),
    # ---- triplet_margin_with_distance_loss (keyword-only options)
    Case("default", _TD, [Float((6, 5)), Float((6, 5)), Float((6, 5))],
         module="TripletMarginWithDistanceLoss", vmap=True),
    Case("swap_margin", _TD, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"swap": True, "margin": 0.5},
         module="TripletMarginWithDistanceLoss", vmap=True),
    Case("unbatched", _TD, [Float((5,)), Float((5,)), Float((5,))], {"margin": 3.0},
         module="TripletMarginWithDistanceLoss"),
    Case("edges", _TD, [_TR_A, _TR_P, _TR_N], module="TripletMarginWithDistanceLoss"),
    Case("cosine", _TD, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"margin": 0.5},
         module="TripletMarginWithDistanceLoss", vmap=False,
         **_with_distance(_mx_cosine_distance, _torch_cosine_distance, margin=0.5)),
    Case("cosine_swap", _TD, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"swap": True},
         module="TripletMarginWithDistanceLoss",
         **_with_distance(_mx_cosine_distance, _torch_cosine_distance, swap=True)),
    Case("swap_tie_linf", _TD, [_TIE_A, _TIE_P, _TIE_N], {"margin": 5.0, "swap": True},
         module="TripletMarginWithDistanceLoss",
         **_with_distance(_mx_linf, _torch_linf, margin=5.0, swap=True)),
    Case("margin_nan_swap", _TD, [Float((4, 3)), Float((4, 3)), Float((4, 3))], {"margin": NAN, "swap": True},
         module="TripletMarginWithDistanceLoss"),
    Case("l1", _TD, [Float((6, 5)), Float((6, 5)), Float((6, 5))], {"margin": 2.0},
         module="TripletMarginWithDistanceLoss", vmap=True,
         **_with_distance(_mx_l1, _torch_l1, margin=2.0)),
    Case("linf_3d", _TD, [Float((3, 4, 5)), Float((3, 4, 5)), Float((3, 4, 5))], {"margin": 1.5},
         module="TripletMarginWithDistanceLoss",
         **_with_distance(_mx_linf, _torch_linf, margin=1.5)),
]

_X = Float((3, 4))

ERROR_CASES = [
    # ---- pairwise_distance
    ErrorCase("not_broadcastable", _PD, [Float((3, 4)), Float((3, 5))], match="broadcastable"),
    # torch promotes integer inputs (x1 - x2 + eps is float); we ask for floats
    ErrorCase("int_inputs", _PD, [Literal([1, 2]), Literal([3, 4])], error=TypeError,
              match="`x1` must have a floating dtype", torch_raises=False),
    ErrorCase("bad_p", _PD, [_X, _X], {"p": "fro"}, error=TypeError, match="`p` must be a number"),
    # ---- cosine_similarity
    ErrorCase("dim_out_of_range", _CS, [_X, _X], {"dim": 2}, error=IndexError,
              match="Dimension out of range"),
    ErrorCase("dim_unbatched", _CS, [Float((4,)), Float((4,))], error=IndexError,
              match="Dimension out of range"),
    ErrorCase("not_broadcastable", _CS, [Float((3, 4)), Float((3, 5))], match="broadcastable"),
    ErrorCase("int_inputs", _CS, [Literal([[1, 2]]), Literal([[3, 4]])], error=TypeError,
              match="`x1` must have a floating dtype"),
    # ---- cosine_embedding_loss
    ErrorCase("target_2d", _CE, [_X, _X, Sign((3, 1))], match="0D or 1D target tensor expected"),
    ErrorCase("target_1d_inputs_1d", _CE, [Float((4,)), Float((4,)), Sign((1,))],
              match="1D target tensor expects 2D input tensors"),
    ErrorCase("target_0d_inputs_2d", _CE, [_X, _X, Literal(1.0)],
              match="0D target tensor expects 1D input tensors",
              **{k: v for k, v in _zero_d("cosine_embedding_loss", 2).items() if k != "module_call"}),
    ErrorCase("inputs_3d", _CE, [Float((2, 3, 4)), Float((2, 3, 4)), Sign((2,))],
              match="1D target tensor expects 2D input tensors"),
    ErrorCase("mixed_ndim", _CE, [Float((4,)), _X, Sign((3,))], match="expects 2D input tensors"),
    ErrorCase("target_length", _CE, [_X, _X, Sign((2,))], match="broadcastable"),
    ErrorCase("feature_mismatch", _CE, [_X, Float((3, 5)), Sign((3,))], match="broadcastable"),
    ErrorCase("bad_reduction", _CE, [_X, _X, Sign((3,))], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    # torch compares a complex target with 1 / -1 and goes on; we refuse it
    ErrorCase("complex_target", _CE, [_X, _X, Sign((3,))], error=TypeError,
              match="`target` must have a floating, integer or bool dtype", torch_raises=False,
              ours_fn=lambda a, b, t, **kw: __import__("mlx_losses").functional.cosine_embedding_loss(
                  a, b, t.astype(__import__("mlx.core").core.complex64), **kw)),
    # torch promotes integer inputs; we ask for floats
    ErrorCase("int_inputs", _CE, [Literal([[1, 2]]), Literal([[3, 4]]), Literal([1.0])], error=TypeError,
              match="`input1` must have a floating dtype", torch_raises=False),
    # ---- triplet_margin_loss
    ErrorCase("ndim_mismatch", _TM, [_X, Float((4,)), _X],
              match="expected to have the same number of dimensions"),
    ErrorCase("not_broadcastable", _TM, [_X, Float((3, 5)), _X], match="broadcastable"),
    ErrorCase("margin_zero", _TM, [_X, _X, _X], {"margin": 0.0}, match="must be greater than 0"),
    ErrorCase("margin_negative", _TM, [_X, _X, _X], {"margin": -1.0}, match="must be greater than 0"),
    ErrorCase("bad_reduction", _TM, [_X, _X, _X], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    ErrorCase("bad_p", _TM, [_X, _X, _X], {"p": "2"}, error=TypeError, match="`p` must be a number"),
    # ---- triplet_margin_with_distance_loss
    ErrorCase("ndim_mismatch", _TD, [_X, Float((4,)), _X],
              match="expected to have the same number of dimensions"),
    ErrorCase("margin_zero", _TD, [_X, _X, _X], {"margin": 0.0}, match="must be greater than 0"),
    ErrorCase("margin_negative", _TD, [_X, _X, _X], {"margin": -0.5}, match="must be greater than 0"),
    ErrorCase("not_callable", _TD, [_X, _X, _X], {"distance_function": 3}, error=TypeError,
              match="`distance_function` must be callable"),
    ErrorCase("bad_reduction", _TD, [_X, _X, _X], {"reduction": "batchmean"},
              match="is not a valid value for reduction"),
]
