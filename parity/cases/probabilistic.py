"""Parity table: KL divergence, Poisson NLL, Gaussian NLL."""

import mlx.core as mx
import numpy as np

import mlx_losses.functional as F
from parity.runner import Case, ErrorCase
from parity.specs import Derived, Float, Literal, Positive, Prob

_KL_REDS = ("none", "mean", "sum", "batchmean")


# Mixed dtypes (run at float32): the first argument in float16, promoted.
def _half_first(fn):
    return lambda a, *rest, **kw: fn(a.astype(mx.float16), *rest, **kw)


def _torch_half_first(name):
    def call(a, *rest, **kw):
        import torch.nn.functional as TF

        return getattr(TF, name)(a.half(), *rest, **kw)

    return call
_FULL_PRECISION = ("float64", "float32")


def _counts(shape, lam=2.0):
    """Poisson counts (zeros, ones and larger values), differentiated."""
    return Derived(lambda rng: rng.poisson(lam, size=shape).astype(np.float64))


# log-probabilities: log_softmax of normals along dim 1
def _logprob(shape, axis=1):
    def make(rng):
        z = rng.normal(size=shape)
        z = z - z.max(axis=axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    return Derived(make)


# KL edge values: target exactly 0 (xlogy: zero loss, NaN target gradient as
# in torch), exactly 1, tiny, and negative (NaN, as torch's log gives).
_KL_EDGE_X = Literal([[-1.0, -0.5, -2.0, 0.3, -3.0, -0.1]], grad=True)
_KL_EDGE_T = Literal([[0.0, 0.5, 0.0, 1.0, 1e-3, -0.2]], grad=True)

# Stirling edges: t <= 1 (masked: 0, and NaN target gradient at t <= 0 as in
# torch), t just above 1, and larger counts.
_ST_X = Literal([[0.5, -0.3, 1.2, 0.0, 2.0, -1.0, 0.7, 1.5]], grad=True)
_ST_T = Literal([[0.0, 0.5, 1.0, 1.0625, 1.5, 2.0, 3.0, 7.0]], grad=True)

# var at, below and above eps = 0.1 (and exactly 0): the clamp's value is
# max(var, eps), its gradient passes through to var unclamped.
_G_X = Literal([[0.3, -0.4, 0.1, 0.9, -0.2, 0.5, 0.0]], grad=True)
_G_Y = Literal([[0.1, 0.2, -0.3, 0.6, 0.4, -0.5, 0.0]], grad=True)
_G_V = Literal([[0.01, 0.1, 0.05, 0.0, 0.5, 2.0, 0.125]], grad=True)
# var around the default eps 1e-6 (float64/float32: half cannot hold 1/1e-6)
_G_V_TINY = Literal([[1e-8, 1e-6, 5e-7, 0.0, 2e-6, 1.0, 1e-3]], grad=True)

CASES = [
    # ---- kl_div
    Case("basic", "kl_div", [_logprob((4, 5)), Prob((4, 5), axis=1)], module="KLDivLoss",
         reductions=_KL_REDS, legacy=True, vmap=True),
    Case("log_target", "kl_div", [_logprob((4, 5)), _logprob((4, 5))], {"log_target": True},
         module="KLDivLoss", reductions=_KL_REDS, legacy=True, vmap=True),
    Case("target_zero", "kl_div", [_KL_EDGE_X, _KL_EDGE_T], module="KLDivLoss", reductions=_KL_REDS),
    Case("target_zero_log_target", "kl_div", [_KL_EDGE_X, _KL_EDGE_T], {"log_target": True},
         module="KLDivLoss", reductions=_KL_REDS),
    Case("3d", "kl_div", [_logprob((2, 3, 4)), Prob((2, 3, 4), axis=1)], module="KLDivLoss",
         reductions=_KL_REDS, vmap=True),
    Case("scalar", "kl_div", [Float((), -2.0, -0.1), Prob(())], module="KLDivLoss",
         reductions=_KL_REDS),
    Case("1d", "kl_div", [_logprob((6,), axis=0), Prob((6,), axis=0)], module="KLDivLoss",
         reductions=_KL_REDS),
    # target broadcast up to input, and input broadcast up to target: torch's
    # 'batchmean' divides by input.shape[0] (not at all for a 0-d input).
    Case("broadcast_target", "kl_div", [_logprob((4, 5)), Prob((5,), axis=0)], module="KLDivLoss",
         reductions=_KL_REDS),
    Case("broadcast_input", "kl_div", [_logprob((5,), axis=0), Prob((3, 5), axis=1)],
         module="KLDivLoss", reductions=_KL_REDS),
    Case("broadcast_scalar_input", "kl_div", [Float((), -2.0, -0.1), Prob((3, 5), axis=1)],
         module="KLDivLoss", reductions=_KL_REDS),
    Case("empty", "kl_div", [Float((0, 5), -2.0, -0.1), Prob((0, 5))], module="KLDivLoss",
         reductions=_KL_REDS),
    # torch's quirk: the legacy pair picks the reduction, and 'batchmean' then
    # still divides by the batch size. torch's Module has no such quirk (it
    # maps the pair at construction), hence no Module here.
    Case("legacy_batchmean_reduce_false", "kl_div", [_logprob((4, 5)), Prob((4, 5), axis=1)],
         {"reduction": "batchmean", "reduce": False}, reductions=()),
    Case("legacy_batchmean_size_average_false", "kl_div", [_logprob((4, 5)), Prob((4, 5), axis=1)],
         {"reduction": "batchmean", "size_average": False}, reductions=()),
    Case("legacy_batchmean_mean", "kl_div", [_logprob((4, 5)), Prob((4, 5), axis=1)],
         {"reduction": "batchmean", "size_average": True, "reduce": True}, reductions=()),
    Case("mixed_half_input", "kl_div", [_logprob((4, 5)), Prob((4, 5), axis=1)], reductions=_KL_REDS,
         dtypes=("float32",), ours_fn=_half_first(F.kl_div), torch_fn=_torch_half_first("kl_div")),
    Case("large", "kl_div", [_logprob((64, 1000)), Prob((64, 1000), axis=1)], module="KLDivLoss",
         reductions=_KL_REDS, dtypes=_FULL_PRECISION),
    # ---- poisson_nll_loss
    Case("basic", "poisson_nll_loss", [Float((4, 5)), _counts((4, 5))], module="PoissonNLLLoss",
         legacy=True, vmap=True),
    Case("rate", "poisson_nll_loss", [Positive((4, 5), 0.1, 4.0), _counts((4, 5))],
         {"log_input": False}, module="PoissonNLLLoss", legacy=True, vmap=True),
    Case("full", "poisson_nll_loss", [Float((4, 5)), _counts((4, 5), 3.0)], {"full": True},
         module="PoissonNLLLoss", legacy=True, vmap=True),
    Case("full_rate", "poisson_nll_loss", [Positive((4, 5), 0.1, 4.0), _counts((4, 5), 3.0)],
         {"log_input": False, "full": True}, module="PoissonNLLLoss", vmap=True),
    Case("stirling_edges", "poisson_nll_loss", [_ST_X, _ST_T], {"full": True}, module="PoissonNLLLoss"),
    Case("stirling_edges_rate", "poisson_nll_loss", [Literal([[0.5, 0.3, 1.2, 0.01, 2.0, 1.0, 0.7, 1.5]], grad=True), _ST_T],
         {"full": True, "log_input": False}, module="PoissonNLLLoss"),
    Case("no_full_edges", "poisson_nll_loss", [_ST_X, _ST_T], module="PoissonNLLLoss"),
    Case("eps", "poisson_nll_loss", [Positive((4, 5), 0.0, 1.0), _counts((4, 5))],
         {"log_input": False, "eps": 0.25}, module="PoissonNLLLoss"),
    # rate exactly 0: log(eps). float64/float32 only: 1e-8 is below half's
    # range and the gradient 1 - t / eps overflows there (in torch too).
    Case("rate_zero", "poisson_nll_loss", [Literal([[0.0, 0.0, 1.0, 0.5]], grad=True),
                                           Literal([[0.0, 2.0, 1.0, 3.0]], grad=True)],
         {"log_input": False}, module="PoissonNLLLoss", dtypes=_FULL_PRECISION),
    Case("scalar", "poisson_nll_loss", [Float(()), Positive((), 0.5, 3.0)], {"full": True},
         module="PoissonNLLLoss"),
    Case("3d", "poisson_nll_loss", [Float((2, 3, 4)), _counts((2, 3, 4))], module="PoissonNLLLoss"),
    Case("broadcast", "poisson_nll_loss", [Float((3, 4)), _counts((4,))], {"full": True},
         module="PoissonNLLLoss"),
    Case("empty", "poisson_nll_loss", [Float((0, 3)), Positive((0, 3))], module="PoissonNLLLoss"),
    # torch rounds exp(input) to input's float16 before promoting; we compute
    # every term in the promoted float32 (one rounding, more accurate): up to
    # half an ulp of float16 of exp(input) apart, hence the tolerance.
    Case("mixed_half_input", "poisson_nll_loss", [Float((4, 5)), _counts((4, 5))], {"full": True},
         dtypes=("float32",), ours_fn=_half_first(F.poisson_nll_loss),
         torch_fn=_torch_half_first("poisson_nll_loss"), tol={"float32": (1e-3, 4e-3)}),
    Case("large", "poisson_nll_loss", [Float((64, 1000)), _counts((64, 1000), 4.0)], {"full": True},
         module="PoissonNLLLoss", dtypes=_FULL_PRECISION),
    # ---- gaussian_nll_loss
    Case("hetero", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((4, 5))],
         module="GaussianNLLLoss", vmap=True),
    Case("full", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((4, 5))],
         {"full": True}, module="GaussianNLLLoss", vmap=True),
    Case("var_one_dim_fewer", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((4,))],
         module="GaussianNLLLoss", vmap=True),
    Case("var_last_dim_one", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((4, 1))],
         module="GaussianNLLLoss", vmap=True),
    Case("var_first_dim_one", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((1, 5))],
         module="GaussianNLLLoss"),
    Case("var_middle_dim_one", "gaussian_nll_loss",
         [Float((2, 3, 4)), Float((2, 3, 4)), Positive((2, 1, 4))], module="GaussianNLLLoss", vmap=True),
    Case("var_one_dim_fewer_3d", "gaussian_nll_loss",
         [Float((2, 3, 4)), Float((2, 3, 4)), Positive((2, 3))], module="GaussianNLLLoss", vmap=True),
    # (3, 3) input with (3,) var: one dimension fewer wins (a variance per
    # row), not broadcasting over the last dimension.
    Case("var_square_ambiguity", "gaussian_nll_loss", [Float((3, 3)), Float((3, 3)), Positive((3,))],
         module="GaussianNLLLoss"),
    # (no vmap: mx.vmap takes arrays only; tests/ vmaps a closure over the float)
    Case("var_float", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), 0.7],
         module="GaussianNLLLoss"),
    Case("var_float_below_eps", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), 0.0],
         {"eps": 0.5, "full": True}, module="GaussianNLLLoss"),
    Case("eps_clamp", "gaussian_nll_loss", [_G_X, _G_Y, _G_V], {"eps": 0.1},
         module="GaussianNLLLoss"),
    Case("eps_clamp_default", "gaussian_nll_loss", [_G_X, _G_Y, _G_V_TINY],
         module="GaussianNLLLoss", dtypes=_FULL_PRECISION),
    Case("nan_var", "gaussian_nll_loss",
         [Float((1, 3)), Float((1, 3)), Literal([[float("nan"), 0.5, 1.0]], grad=True)],
         module="GaussianNLLLoss"),
    Case("scalar", "gaussian_nll_loss", [Float(()), Float(()), Positive(())], module="GaussianNLLLoss"),
    Case("vector_scalar_var", "gaussian_nll_loss", [Float((5,)), Float((5,)), Positive(())],
         module="GaussianNLLLoss"),
    Case("broadcast_target", "gaussian_nll_loss", [Float((4, 5)), Float((5,)), Positive((4, 5))],
         module="GaussianNLLLoss"),
    Case("broadcast_target_up", "gaussian_nll_loss", [Float((4, 5)), Float((2, 4, 5)), Positive((4, 1))],
         module="GaussianNLLLoss"),
    Case("empty", "gaussian_nll_loss", [Float((0, 3)), Float((0, 3)), Positive((0, 3))],
         module="GaussianNLLLoss"),
    Case("mixed_half_input", "gaussian_nll_loss", [Float((4, 5)), Float((4, 5)), Positive((4, 1))],
         dtypes=("float32",), ours_fn=_half_first(F.gaussian_nll_loss),
         torch_fn=_torch_half_first("gaussian_nll_loss")),
    Case("large", "gaussian_nll_loss", [Float((64, 1000)), Float((64, 1000)), Positive((64, 1))],
         {"full": True}, module="GaussianNLLLoss", dtypes=_FULL_PRECISION),
]

ERROR_CASES = [
    # ---- kl_div
    ErrorCase("bad_reduction", "kl_div", [Float((3,)), Float((3,))], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    ErrorCase("not_broadcastable", "kl_div", [Float((2, 3)), Float((5,))], match="broadcastable"),
    ErrorCase("int_input", "kl_div", [Literal([1, 2, 3]), Float((3,))], error=TypeError,
              match="`input` must have a floating dtype"),
    # ---- poisson_nll_loss
    ErrorCase("bad_reduction", "poisson_nll_loss", [Float((3,)), Float((3,))], {"reduction": "batchmean"},
              match="is not a valid value for reduction"),
    ErrorCase("not_broadcastable", "poisson_nll_loss", [Float((2, 3)), Float((5,))], match="broadcastable"),
    ErrorCase("eps_not_a_number", "poisson_nll_loss", [Float((3,)), Float((3,))], {"eps": "1e-8"},
              error=TypeError, match="`eps` must be a number"),
    # ---- gaussian_nll_loss
    ErrorCase("negative_var", "gaussian_nll_loss",
              [Float((3,)), Float((3,)), Literal([1.0, -0.5, 2.0])],
              match="var has negative entry/entries"),
    ErrorCase("negative_float_var", "gaussian_nll_loss", [Float((3,)), Float((3,)), -1.0],
              match="var has negative entry/entries"),
    ErrorCase("var_wrong_size", "gaussian_nll_loss", [Float((3, 4)), Float((3, 4)), Positive((4,))],
              match="var is of incorrect size"),
    ErrorCase("var_two_dims_one", "gaussian_nll_loss", [Float((3, 4)), Float((3, 4)), Positive((1, 1))],
              match="var is of incorrect size"),
    ErrorCase("var_extra_dim", "gaussian_nll_loss", [Float((3, 4)), Float((3, 4)), Positive((3, 4, 1))],
              match="var is of incorrect size"),
    ErrorCase("var_scalar_for_matrix", "gaussian_nll_loss", [Float((3, 4)), Float((3, 4)), Positive(())],
              match="var is of incorrect size"),
    ErrorCase("var_python_int", "gaussian_nll_loss", [Float((3,)), Float((3,)), 1], error=TypeError,
              match="`var` must be an mx.array or a Python float"),
    ErrorCase("var_int_dtype", "gaussian_nll_loss", [Float((3,)), Float((3,)), Literal([1, 2, 3])],
              error=TypeError, match="`var` must have a floating dtype"),
    ErrorCase("bad_reduction", "gaussian_nll_loss", [Float((3,)), Float((3,)), Positive((3,))],
              {"reduction": "batchmean"}, match="is not a valid value for reduction"),
    ErrorCase("target_not_broadcastable", "gaussian_nll_loss",
              [Float((2, 3)), Float((5,)), Positive((2, 3))], match="broadcastable"),
]
