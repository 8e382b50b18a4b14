"""Parity table: hinge embedding, soft margin, multi-label soft margin,
multi-label margin, multi-class margin and margin ranking losses."""

import mlx.core as mx
import numpy as np

import mlx_losses.functional as MF
from parity.runner import Case, ErrorCase
from parity.specs import Binary, Derived, Float, Index, Literal, Positive, Prob, Sign

# torch has no float16/bfloat16 CPU kernel for multi_margin_loss and
# multilabel_margin_loss: the half baseline is torch's float32 error there.
_NO_HALF = {"torch_half": False}
_FULL = ("float64", "float32")
# (The softplus losses had a float64 tolerance of 3e-7 for MLX's
# float32-accurate float64 ``exp``; their kernels take ``e ** x`` in float64
# now, and all run at the default 1e-9.)


def _ours_mlsm_weight(x, y, w, **kw):
    return MF.multilabel_soft_margin_loss(x, y, weight=w, **kw)


def _torch_mlsm_weight(x, y, w, **kw):
    import torch.nn.functional as TF

    return TF.multilabel_soft_margin_loss(x, y, weight=w, **kw)


def _torch_0d(name, *zero_d):
    """torch's side with the given positional args made 0-d again: the
    runner's ``np.ascontiguousarray`` turns every 0-d spec into shape (1,)
    (floats on both sides, integers on torch's side only)."""

    def call(*args, **kw):
        import torch.nn.functional as TF

        args = [a.reshape(()) if i in zero_d else a for i, a in enumerate(args)]
        return getattr(TF, name)(*args, **kw)

    return call


def _ours_0d(name, *zero_d):
    """Our side with the given positional args made 0-d (see _torch_0d)."""

    def call(*args, **kw):
        args = [a.reshape(()) if i in zero_d else a for i, a in enumerate(args)]
        return getattr(MF, name)(*args, **kw)

    return call


def _module_0d(*zero_d):
    """The Module call with the given positional args made 0-d."""

    def call(module, *args):
        return module(*[a.reshape(()) if i in zero_d else a for i, a in enumerate(args)])

    return call


def _ours_mlm_int32(x, y, **kw):
    # torch wants int64 targets; MLX's default integer is int32: we take both.
    return MF.multilabel_margin_loss(x, y.astype(mx.int32), **kw)


def _multilabel_targets(n, c, seed_labels=None):
    """(n, c) int64 targets: a random number of distinct labels per row,
    then -1, then garbage after the -1 (ignored by torch)."""

    def make(rng):
        out = rng.integers(0, c, size=(n, c))
        for row in range(n):
            k = rng.integers(0, c + 1)
            out[row, :k] = rng.permutation(c)[:k]
            if k < c:
                out[row, k] = -1
        return out.astype(np.int64)

    return Derived(make, floating=False, grad=False)


# ---- ties exactly at the hinges (Literal specs)
# hinge: margin - x == 0 for y = -1 (x = 1 with margin 1); targets that are
# neither 1 nor -1 get both terms.
_HINGE_X = Literal([[1.0, 0.5, 2.0, 1.0, -1.0, 0.25, 1.0, 0.0]], grad=True)
_HINGE_Y = Literal([[-1.0, -1.0, 1.0, 1.0, 0.5, 2.0, -1.0, -1.0]])
# margin ranking: -y (x1 - x2) + margin == 0 in the first three columns.
_MR_X1 = Literal([[1.0, 2.0, 0.5, 0.0, -1.0]], grad=True)
_MR_X2 = Literal([[1.0, 1.5, 1.0, 0.5, 1.0]], grad=True)
_MR_Y = Literal([[1.0, 1.0, -1.0, -1.0, 1.0]], grad=True)
# multi margin: z = margin - x[t] + x[i] == 0 at several i (strict > 0 in torch).
_MM_X = Literal([[1.0, 0.0, 2.0, 0.5], [0.5, 1.5, -0.5, 0.5], [0.0, 0.0, 0.0, 0.0]], grad=True)
_MM_T = Literal([0, 1, 2])
# multilabel margin: 1 - x[y_j] + x[i] == 0 at ties; a repeated label, a
# row with no labels, a row where every class is a label.
_MLM_X = Literal(
    [[1.0, 0.0, 2.0, 0.5], [1.0, 0.0, 2.0, 0.5], [0.5, -0.5, 0.25, 1.0], [0.3, 0.1, 0.2, 0.9]],
    grad=True,
)
_MLM_Y = Literal([[0, -1, 2, 3], [0, 0, -1, 3], [-1, 0, 1, 2], [0, 1, 2, 3]])

# multilabel margin far from 0: each row has scores near +1e6 and -1e6 (on a
# 1/16 grid, where float32 holds every z exactly), its labels near +1e6:
# O(1) terms that a prefix-sum form (sum of x_i minus k t) cancelled away.
def _mlm_far():
    rng = np.random.default_rng(17)
    y = np.array([[0, 3, -1, 0, 0, 0, 0, 0], [7, -1, 0, 0, 0, 0, 0, 0],
                  [1, 2, 4, 5, -1, 0, 0, 0], [6, 6, 1, -1, 0, 0, 0, 0]])
    sign = np.where(np.arange(8) % 2 == 0, 1.0, -1.0) * np.ones((4, 1))
    for r, row in enumerate(y):
        sign[r, row[: list(row).index(-1)]] = 1.0
    return sign * 1e6 + rng.integers(0, 24, size=(4, 8)) / 16.0, y


_MLM_FAR_X, _MLM_FAR_Y = _mlm_far()
# multilabel margin at non-finite scores: an inf non-target (inf), a -inf
# label (inf), a +inf label (adds nothing), NaN scores (add nothing); the
# gradient stays finite.
_INF, _NAN = float("inf"), float("nan")
_MLM_SPECIAL_X = Literal(
    [[0.5, _INF, 0.25, -1.0, 0.0], [-_INF, 0.5, 2.0, 0.25, -0.5], [_INF, 0.5, 2.0, 0.25, -_INF],
     [0.5, _NAN, 0.25, 1.5, -0.5], [_NAN, 0.5, 0.25, 1.5, -0.5], [0.75, -_INF, _NAN, 0.0, 1.0]],
    grad=True,
)
_MLM_SPECIAL_Y = Literal([[0, 2, -1, 0, 0], [0, 3, -1, 0, 0], [0, 1, -1, 0, 0], [0, 2, -1, 0, 0],
                          [0, 3, -1, 0, 0], [0, 1, 3, -1, 0]])
_MLM_FINITE_SPECIAL_X = Literal(
    [[0.5, 1.5, 0.25, -1.0, 0.0], [0.5, 0.5, 2.0, 0.25, -0.5], [_INF, 0.5, 2.0, 0.25, -_INF],
     [0.5, _NAN, 0.25, 1.5, -0.5], [_NAN, 0.5, 0.25, 1.5, -0.5], [0.75, -_INF, _NAN, 0.0, 1.0]],
    grad=True,
)
# multi margin with a large margin and a small loss: the target is about the
# margin above the other scores (the target column's z, the margin itself,
# was subtracted from the row sum, losing the small terms).
_MM_BIG_X = Literal([[1000.0, 0.0234, -5.0, -3.0], [0.5, 1000.25, 0.125, 0.75],
                     [-2.0, -1.5, 998.5, -1.25]], grad=True)
_MM_BIG_T = Literal([0, 1, 2])
# multi margin at non-finite scores (target and not)
_MM_SPECIAL_X = Literal([[0.5, _INF, 0.25, -1.0], [-_INF, 0.5, 2.0, 0.25], [_INF, 0.5, 2.0, -_INF],
                         [0.5, _NAN, 0.25, 1.5], [_NAN, 0.5, 0.25, 1.5]], grad=True)
_MM_SPECIAL_T = Literal([0, 0, 0, 0, 0])
# class weights: inf on a row with no positive term (0, as torch), 0 and
# inf on rows with terms, NaN on a row without (0).
_MM_W_X = Literal([[5.0, 0.5, 0.25, 1.0], [0.5, 0.25, 1.0, 0.0], [0.0, 0.5, 0.25, 0.75],
                   [0.25, 0.5, 9.0, 0.0]], grad=True)
_MM_W_T = Literal([0, 1, 3, 2])
_MM_W = Literal([_INF, 0.0, 2.0, _NAN], grad=False)

# soft margins at infinite scores (log(1 + e^(-y x)) = 0 at y x = +inf, inf
# at -inf; NaN where an inf meets a zero factor in the multi-label form)
_SM_INF_X = Literal([[_INF, -_INF, 0.5, _NAN], [-_INF, _INF, -2.0, 1.0]], grad=True)
_SM_INF_Y = Literal([[1.0, 1.0, -1.0, 1.0], [-1.0, -1.0, 1.0, 1.0]])
_MLSM_INF_X = Literal([[_INF, -_INF, 0.5, 2.0], [_INF, -_INF, 3.0, -1.0]], grad=True)
_MLSM_INF_Y = Literal([[0.75, 0.25, 1.0, 0.0], [1.0, 0.0, 0.5, 0.5]])

CASES = [
    # ---- hinge_embedding_loss
    Case("basic", "hinge_embedding_loss", [Float((4, 5)), Sign((4, 5))],
         module="HingeEmbeddingLoss", legacy=True, vmap=True),
    Case("margin", "hinge_embedding_loss", [Float((4, 5)), Sign((4, 5))], {"margin": 0.5},
         module="HingeEmbeddingLoss"),
    Case("negative_margin", "hinge_embedding_loss", [Float((4, 5)), Sign((4, 5))],
         {"margin": -0.5}, module="HingeEmbeddingLoss"),
    Case("ties", "hinge_embedding_loss", [_HINGE_X, _HINGE_Y], module="HingeEmbeddingLoss"),
    Case("broadcast", "hinge_embedding_loss", [Float((3, 4)), Sign((4,))],
         module="HingeEmbeddingLoss"),
    Case("broadcast_input", "hinge_embedding_loss", [Float((4,)), Sign((3, 4))],
         module="HingeEmbeddingLoss"),
    Case("int_target", "hinge_embedding_loss", [Float((2, 4)), Literal([[1, -1, 1, -1], [-1, -1, 1, 1]])],
         module="HingeEmbeddingLoss"),
    Case("3d", "hinge_embedding_loss", [Float((2, 3, 4)), Sign((2, 3, 4))],
         module="HingeEmbeddingLoss"),
    Case("scalar", "hinge_embedding_loss", [Float(()), Sign(())], module="HingeEmbeddingLoss",
         ours_fn=_ours_0d("hinge_embedding_loss", 0, 1), module_call=_module_0d(0, 1),
         torch_fn=_torch_0d("hinge_embedding_loss", 0, 1)),
    Case("empty", "hinge_embedding_loss", [Float((0, 3)), Sign((0, 3))],
         module="HingeEmbeddingLoss"),
    # ---- soft_margin_loss
    Case("basic", "soft_margin_loss", [Float((4, 5)), Sign((4, 5))],
         module="SoftMarginLoss", legacy=True, vmap=True),
    Case("broadcast_target", "soft_margin_loss", [Float((3, 4)), Sign((4,))],
         module="SoftMarginLoss"),
    Case("int_target", "soft_margin_loss", [Float((2, 4)), Literal([[1, -1, 1, -1], [-1, -1, 1, 1]])],
         module="SoftMarginLoss"),
    Case("3d", "soft_margin_loss", [Float((2, 3, 4)), Sign((2, 3, 4))], module="SoftMarginLoss"),
    Case("scalar", "soft_margin_loss", [Float(()), Sign(())], module="SoftMarginLoss",
         ours_fn=_ours_0d("soft_margin_loss", 0, 1), module_call=_module_0d(0, 1),
         torch_fn=_torch_0d("soft_margin_loss", 0, 1)),
    Case("empty", "soft_margin_loss", [Float((0,)), Sign((0,))], module="SoftMarginLoss"),
    # |y x| up to 30: torch's exp(.) is still finite in float32 / float64
    # (in half it overflows to inf where we stay finite: a documented divergence).
    Case("wide", "soft_margin_loss", [Float((4, 5), -30.0, 30.0), Sign((4, 5))],
         module="SoftMarginLoss", dtypes=_FULL),
    Case("infinite_scores", "soft_margin_loss", [_SM_INF_X, _SM_INF_Y], module="SoftMarginLoss",
         dtypes=_FULL),
    # ---- multilabel_soft_margin_loss
    Case("basic", "multilabel_soft_margin_loss", [Float((4, 5)), Binary((4, 5))],
         module="MultiLabelSoftMarginLoss", legacy=True, vmap=True),
    Case("soft_target", "multilabel_soft_margin_loss", [Float((4, 5)), Prob((4, 5))],
         module="MultiLabelSoftMarginLoss", vmap=True),
    Case("weight", "multilabel_soft_margin_loss", [Float((4, 5)), Binary((4, 5))],
         {"weight": Positive((5,), grad=False)}, module="MultiLabelSoftMarginLoss", legacy=True),
    Case("weight_2d", "multilabel_soft_margin_loss", [Float((4, 5)), Prob((4, 5))],
         {"weight": Positive((4, 5), grad=False)}, module="MultiLabelSoftMarginLoss"),
    # gradient w.r.t. weight too (torch differentiates it): weight passed positionally
    Case("weight_grad", "multilabel_soft_margin_loss",
         [Float((4, 5)), Prob((4, 5)), Positive((5,))],
         ours_fn=_ours_mlsm_weight, torch_fn=_torch_mlsm_weight),
    Case("unbatched", "multilabel_soft_margin_loss", [Float((6,)), Binary((6,))],
         module="MultiLabelSoftMarginLoss"),
    Case("3d", "multilabel_soft_margin_loss", [Float((2, 3, 4)), Prob((2, 3, 4))],
         module="MultiLabelSoftMarginLoss"),
    Case("broadcast_target", "multilabel_soft_margin_loss", [Float((3, 4)), Binary((4,))],
         module="MultiLabelSoftMarginLoss"),
    Case("int_target", "multilabel_soft_margin_loss",
         [Float((2, 4)), Literal([[1, 0, 1, 0], [0, 0, 1, 1]])], module="MultiLabelSoftMarginLoss"),
    Case("empty", "multilabel_soft_margin_loss", [Float((0, 4)), Binary((0, 4))],
         module="MultiLabelSoftMarginLoss"),
    Case("wide", "multilabel_soft_margin_loss", [Float((4, 5), -30.0, 30.0), Binary((4, 5))],
         module="MultiLabelSoftMarginLoss", dtypes=_FULL),
    Case("infinite_scores", "multilabel_soft_margin_loss", [_MLSM_INF_X, _MLSM_INF_Y],
         module="MultiLabelSoftMarginLoss", dtypes=_FULL),
    # ---- multilabel_margin_loss
    Case("basic", "multilabel_margin_loss", [Float((5, 6)), _multilabel_targets(5, 6)],
         module="MultiLabelMarginLoss", legacy=True, vmap=True, **_NO_HALF),
    Case("ties", "multilabel_margin_loss", [_MLM_X, _MLM_Y], module="MultiLabelMarginLoss",
         vmap=True, **_NO_HALF),
    Case("unbatched", "multilabel_margin_loss", [Float((5,)), Literal([4, 1, -1, 2, 3])],
         module="MultiLabelMarginLoss", **_NO_HALF),
    Case("scalar", "multilabel_margin_loss", [Float(()), Literal(0)],
         module="MultiLabelMarginLoss", ours_fn=_ours_0d("multilabel_margin_loss", 0, 1), module_call=_module_0d(0, 1),
         torch_fn=_torch_0d("multilabel_margin_loss", 0, 1),
         **_NO_HALF),
    # torch returns uninitialised memory for an empty batch under 'mean' /
    # 'sum' (we give NaN / 0): only 'none' is comparable.
    Case("empty", "multilabel_margin_loss", [Float((0, 4)), Literal(np.zeros((0, 4), np.int64))],
         module="MultiLabelMarginLoss", reductions=("none",), **_NO_HALF),
    Case("int32_target", "multilabel_margin_loss", [Float((3, 4)), Literal([[1, -1, 0, 0], [3, 2, 1, 0], [-1, 0, 0, 0]])],
         module="MultiLabelMarginLoss", dtypes=_FULL, ours_fn=_ours_mlm_int32),
    Case("wide", "multilabel_margin_loss", [Float((16, 40), -3.0, 3.0), _multilabel_targets(16, 40)],
         module="MultiLabelMarginLoss", dtypes=_FULL),
    Case("far_from_zero", "multilabel_margin_loss", [Literal(_MLM_FAR_X, grad=True), Literal(_MLM_FAR_Y)],
         module="MultiLabelMarginLoss", dtypes=_FULL),
    Case("nonfinite_scores", "multilabel_margin_loss", [_MLM_SPECIAL_X, _MLM_SPECIAL_Y],
         module="MultiLabelMarginLoss", dtypes=_FULL),
    # (half: torch's float32 baseline; no row sums to inf here)
    Case("nonfinite_scores_half", "multilabel_margin_loss", [_MLM_FINITE_SPECIAL_X, _MLM_SPECIAL_Y],
         module="MultiLabelMarginLoss", dtypes=("float16", "bfloat16"), **_NO_HALF),
    # ---- multi_margin_loss
    Case("basic", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)],
         module="MultiMarginLoss", legacy=True, vmap=True, **_NO_HALF),
    Case("p2", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)], {"p": 2},
         module="MultiMarginLoss", vmap=True, **_NO_HALF),
    Case("margin", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)], {"margin": 0.3},
         module="MultiMarginLoss", **_NO_HALF),
    Case("weight", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)],
         {"weight": Positive((5,), grad=False)}, module="MultiMarginLoss", legacy=True, **_NO_HALF),
    Case("p2_weight_margin", "multi_margin_loss", [Float((6, 5)), Index((6,), 5)],
         {"p": 2, "margin": 2.5, "weight": Positive((5,), grad=False)},
         module="MultiMarginLoss", **_NO_HALF),
    Case("ties", "multi_margin_loss", [_MM_X, _MM_T], module="MultiMarginLoss", **_NO_HALF),
    Case("ties_p2", "multi_margin_loss", [_MM_X, _MM_T], {"p": 2}, module="MultiMarginLoss",
         **_NO_HALF),
    Case("unbatched", "multi_margin_loss", [Float((5,)), Literal(2)], module="MultiMarginLoss",
         torch_fn=_torch_0d("multi_margin_loss", 1), **_NO_HALF),
    Case("unbatched_t1", "multi_margin_loss", [Float((5,)), Literal([2])],
         module="MultiMarginLoss", **_NO_HALF),
    Case("scalar", "multi_margin_loss", [Float(()), Literal(0)], module="MultiMarginLoss",
         ours_fn=_ours_0d("multi_margin_loss", 0, 1), module_call=_module_0d(0, 1),
         torch_fn=_torch_0d("multi_margin_loss", 0, 1), **_NO_HALF),
    # torch returns uninitialised memory for an empty batch under 'mean' /
    # 'sum' (we give NaN / 0): only 'none' is comparable.
    Case("empty", "multi_margin_loss", [Float((0, 5)), Literal(np.zeros((0,), np.int64))],
         module="MultiMarginLoss", reductions=("none",), **_NO_HALF),
    Case("wide", "multi_margin_loss", [Float((32, 100), -3.0, 3.0), Index((32,), 100)],
         {"p": 2}, module="MultiMarginLoss", dtypes=_FULL),
    Case("big_margin_small_loss", "multi_margin_loss", [_MM_BIG_X, _MM_BIG_T], {"margin": 1000.0},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("big_margin_small_loss_p2", "multi_margin_loss", [_MM_BIG_X, _MM_BIG_T],
         {"margin": 1000.0, "p": 2}, module="MultiMarginLoss", dtypes=_FULL),
    Case("big_margin_weight", "multi_margin_loss", [_MM_BIG_X, _MM_BIG_T],
         {"margin": 999.5, "weight": Positive((4,), grad=False)}, module="MultiMarginLoss", dtypes=_FULL),
    Case("tiny_margin", "multi_margin_loss", [Float((6, 5)), Index((6,), 5)], {"margin": 1e-3},
         module="MultiMarginLoss", **_NO_HALF),
    Case("tiny_margin_p2", "multi_margin_loss", [Float((6, 5)), Index((6,), 5)], {"margin": 1e-3, "p": 2},
         module="MultiMarginLoss", **_NO_HALF),
    Case("margin_inf", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)], {"margin": _INF},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("margin_inf_p2", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)], {"margin": _INF, "p": 2},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("margin_nan_p2", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)], {"margin": _NAN, "p": 2},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("margin_neg_inf_p2", "multi_margin_loss", [Float((4, 5)), Index((4,), 5)],
         {"margin": -_INF, "p": 2}, module="MultiMarginLoss", dtypes=_FULL),
    Case("nonfinite_scores", "multi_margin_loss", [_MM_SPECIAL_X, _MM_SPECIAL_T],
         module="MultiMarginLoss", dtypes=_FULL),
    Case("nonfinite_scores_p2", "multi_margin_loss", [_MM_SPECIAL_X, _MM_SPECIAL_T], {"p": 2},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("nonfinite_weight", "multi_margin_loss", [_MM_W_X, _MM_W_T], {"weight": _MM_W},
         module="MultiMarginLoss", dtypes=_FULL),
    Case("nonfinite_weight_p2", "multi_margin_loss", [_MM_W_X, _MM_W_T], {"weight": _MM_W, "p": 2},
         module="MultiMarginLoss", dtypes=_FULL),
    # ---- margin_ranking_loss
    Case("basic", "margin_ranking_loss", [Float((6,)), Float((6,)), Sign((6,), grad=True)],
         module="MarginRankingLoss", legacy=True, vmap=True),
    Case("margin", "margin_ranking_loss", [Float((3, 4)), Float((3, 4)), Sign((3, 4), grad=True)],
         {"margin": 0.5}, module="MarginRankingLoss", vmap=True),
    Case("ties", "margin_ranking_loss", [_MR_X1, _MR_X2, _MR_Y], module="MarginRankingLoss"),
    Case("ties_margin", "margin_ranking_loss", [_MR_X1, _MR_X2, _MR_Y], {"margin": 0.5},
         module="MarginRankingLoss"),
    Case("broadcast", "margin_ranking_loss",
         [Float((3, 1)), Float((1, 4)), Sign((3, 4), grad=True)], {"margin": 0.2},
         module="MarginRankingLoss"),
    Case("int_target", "margin_ranking_loss", [Float((4,)), Float((4,)), Literal([1, -1, -1, 1])],
         module="MarginRankingLoss"),
    Case("scalar", "margin_ranking_loss", [Float(()), Float(()), Sign((), grad=True)],
         ours_fn=_ours_0d("margin_ranking_loss", 0, 1, 2), module_call=_module_0d(0, 1, 2),
         torch_fn=_torch_0d("margin_ranking_loss", 0, 1, 2),
         module="MarginRankingLoss"),
    Case("empty", "margin_ranking_loss", [Float((0,)), Float((0,)), Sign((0,))],
         module="MarginRankingLoss"),
]

_X = Float((3, 4))

ERROR_CASES = [
    # ---- hinge_embedding_loss
    ErrorCase("bad_reduction", "hinge_embedding_loss", [_X, Sign((3, 4))], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    ErrorCase("int_input", "hinge_embedding_loss", [Literal([1, 2]), Sign((2,))], error=TypeError,
              match="`input` must have a floating dtype"),
    ErrorCase("not_broadcastable", "hinge_embedding_loss", [_X, Sign((3, 5))],
              match="broadcastable"),
    ErrorCase("margin_overflows", "hinge_embedding_loss", [_X, Sign((3, 4))], {"margin": -1e39},
              match="value cannot be converted to type float32 without overflow"),
    # ---- soft_margin_loss
    ErrorCase("bad_reduction", "soft_margin_loss", [_X, Sign((3, 4))], {"reduction": "batchmean"},
              match="is not a valid value for reduction"),
    ErrorCase("target_grows_input", "soft_margin_loss", [Float((4,)), Sign((3, 4))],
              match="doesn't match the broadcast shape"),
    ErrorCase("not_broadcastable", "soft_margin_loss", [_X, Sign((3, 2))], match="broadcastable"),
    ErrorCase("int_input", "soft_margin_loss", [Literal([1, 2]), Sign((2,))], error=TypeError,
              match="`input` must have a floating dtype"),
    # ---- multilabel_soft_margin_loss
    ErrorCase("bad_reduction", "multilabel_soft_margin_loss", [_X, Binary((3, 4))],
              {"reduction": "avg"}, match="is not a valid value for reduction"),
    ErrorCase("bool_target", "multilabel_soft_margin_loss",
              [Float((2,)), Literal([True, False])], error=TypeError,
              match="`target` must have a floating or integer dtype, got bool"),
    ErrorCase("scalar_input", "multilabel_soft_margin_loss", [Float(()), Binary(())],
              match="must have a class dimension",
              ours_fn=_ours_0d("multilabel_soft_margin_loss", 0, 1),
              torch_fn=_torch_0d("multilabel_soft_margin_loss", 0, 1)),
    ErrorCase("weight_shape", "multilabel_soft_margin_loss", [_X, Binary((3, 4))],
              {"weight": Positive((3,))}, match="broadcastable"),
    ErrorCase("int_input", "multilabel_soft_margin_loss", [Literal([[1, 2]]), Binary((1, 2))],
              error=TypeError, match="`input` must have a floating dtype"),
    # ---- multilabel_margin_loss
    ErrorCase("float_target", "multilabel_margin_loss", [_X, Float((3, 4))], error=TypeError,
              match="`target` must have an integer dtype"),
    ErrorCase("target_shape", "multilabel_margin_loss", [_X, Literal([[0, 1, -1], [0, 1, -1], [0, 1, -1]])],
              match="inconsistent target size"),
    ErrorCase("target_unbatched", "multilabel_margin_loss", [_X, Literal([0, 1, -1, 0])],
              match="inconsistent target size"),
    ErrorCase("3d_input", "multilabel_margin_loss", [Float((1, 3, 4)), Literal(np.zeros((1, 3, 4), np.int64))],
              match="Expected non-empty vector or matrix"),
    ErrorCase("no_classes", "multilabel_margin_loss", [Float((3, 0)), Literal(np.zeros((3, 0), np.int64))],
              match="Expected non-empty vector or matrix"),
    ErrorCase("target_too_big", "multilabel_margin_loss",
              [_X, Literal([[0, 4, -1, 0], [1, -1, 0, 0], [3, 2, 1, 0]])],
              match=r"argument #2 'target' is out of range"),
    ErrorCase("target_too_big_after_end", "multilabel_margin_loss",
              [_X, Literal([[0, -1, 7, 0], [1, -1, 0, 0], [3, 2, 1, 0]])],
              match=r"7: argument #2 'target' is out of range"),
    ErrorCase("target_below_minus_one", "multilabel_margin_loss",
              [_X, Literal([[0, -2, -1, 0], [1, -1, 0, 0], [3, 2, 1, 0]])],
              match=r"-2: argument #2 'target' is out of range"),
    ErrorCase("bad_reduction", "multilabel_margin_loss", [_X, Literal(np.zeros((3, 4), np.int64))],
              {"reduction": "max"}, match="is not a valid value for reduction"),
    # ---- multi_margin_loss
    ErrorCase("p3", "multi_margin_loss", [_X, Index((3,), 4)], {"p": 3},
              match="only p == 1 and p == 2 supported"),
    ErrorCase("p0", "multi_margin_loss", [_X, Index((3,), 4)], {"p": 0},
              match="only p == 1 and p == 2 supported"),
    ErrorCase("float_target", "multi_margin_loss", [_X, Float((3,))], error=TypeError,
              match="`target` must have an integer dtype"),
    ErrorCase("target_size", "multi_margin_loss", [_X, Index((2,), 4)],
              match="target tensor should be 1-D with size equal to the number of input samples"),
    ErrorCase("target_2d", "multi_margin_loss", [_X, Index((3, 1), 4)],
              match="target tensor should be 1-D"),
    ErrorCase("3d_input", "multi_margin_loss", [Float((1, 3, 4)), Index((3,), 4)],
              match="Expected non-empty vector or matrix"),
    ErrorCase("no_classes", "multi_margin_loss", [Float((3, 0)), Literal(np.zeros((3,), np.int64))],
              match="Expected non-empty vector or matrix"),
    ErrorCase("weight_2d", "multi_margin_loss", [_X, Index((3,), 4)], {"weight": Positive((2, 2))},
              match="weight must be one-dimensional"),
    ErrorCase("weight_size", "multi_margin_loss", [_X, Index((3,), 4)], {"weight": Positive((3,))},
              match="inconsistent weight size"),
    ErrorCase("target_too_big", "multi_margin_loss", [_X, Literal([0, 1, 4])],
              match="4: target out of range"),
    ErrorCase("target_negative", "multi_margin_loss", [_X, Literal([0, -1, 2])],
              match="-1: target out of range"),
    ErrorCase("bad_reduction", "multi_margin_loss", [_X, Index((3,), 4)], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    # torch converts the margin to the input's dtype and refuses an overflow
    ErrorCase("margin_overflows", "multi_margin_loss", [_X, Index((3,), 4)], {"margin": 1e39},
              match="value cannot be converted to type float32 without overflow"),
    # ---- margin_ranking_loss
    ErrorCase("ndim_mismatch", "margin_ranking_loss", [_X, Float((4,)), Sign((3, 4))],
              match="All input tensors should have same dimension"),
    ErrorCase("not_broadcastable", "margin_ranking_loss", [_X, Float((3, 3)), Sign((3, 4))],
              match="broadcastable"),
    ErrorCase("bool_target", "margin_ranking_loss", [Float((2,)), Float((2,)), Literal([True, False])],
              error=TypeError, match="`target` must have a floating or integer dtype, got bool"),
    ErrorCase("bad_reduction", "margin_ranking_loss", [Float((2,)), Float((2,)), Sign((2,))],
              {"reduction": "avg"}, match="is not a valid value for reduction"),
]
