"""Parity table: L1, MSE, Smooth L1, Huber."""

import numpy as np

from parity.runner import Case, ErrorCase
from parity.specs import Float, Literal

# Ties at the kink: |x - y| == beta / delta exactly, and x == y.
_TIES_X = Literal([[0.0, 1.0, -1.0, 0.5, 2.0, 3.0]], grad=True)
_TIES_Y = Literal([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]], grad=True)

CASES = [
    # ---- l1_loss
    Case("basic", "l1_loss", [Float((4, 5)), Float((4, 5))], module="L1Loss", legacy=True, vmap=True),
    Case("scalar", "l1_loss", [Float(()), Float(())], module="L1Loss"),
    Case("4d", "l1_loss", [Float((2, 3, 4, 5)), Float((2, 3, 4, 5))], module="L1Loss"),
    Case("broadcast", "l1_loss", [Float((3, 4)), Float((4,))], module="L1Loss"),
    Case("ties", "l1_loss", [_TIES_X, _TIES_Y], module="L1Loss"),
    Case("empty", "l1_loss", [Float((0, 3)), Float((0, 3))], module="L1Loss"),
    Case("weight", "l1_loss", [Float((4, 5)), Float((4, 5))], {"weight": Float((4, 5), 0.1, 2.0, grad=False)}),
    Case("weight_all_zero", "l1_loss", [Float((3, 4)), Float((3, 4))], {"weight": Literal([[0.0] * 4] * 3)}),
    # ---- mse_loss
    Case("basic", "mse_loss", [Float((4, 5)), Float((4, 5))], module="MSELoss", legacy=True, vmap=True),
    Case("scalar", "mse_loss", [Float(()), Float(())], module="MSELoss"),
    Case("3d", "mse_loss", [Float((2, 3, 7)), Float((2, 3, 7))], module="MSELoss"),
    Case("broadcast", "mse_loss", [Float((1, 4)), Float((3, 1))], module="MSELoss"),
    Case("empty", "mse_loss", [Float((0,)), Float((0,))], module="MSELoss"),
    Case("weight", "mse_loss", [Float((4, 5)), Float((4, 5))], {"weight": Float((4, 5), 0.1, 2.0, grad=False)}),
    # All-zero weights: 'mean' is 0 / 0, with torch's NaN gradient.
    Case("weight_all_zero", "mse_loss", [Float((3, 4)), Float((3, 4))], {"weight": Literal([[0.0] * 4] * 3)}),
    Case("large", "mse_loss", [Float((64, 1000)), Float((64, 1000))], module="MSELoss",
         dtypes=("float64", "float32")),
    # ---- smooth_l1_loss
    Case("basic", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], module="SmoothL1Loss", legacy=True, vmap=True),
    Case("beta_small", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": 0.1}, module="SmoothL1Loss"),
    Case("beta_large", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": 5.0}, module="SmoothL1Loss"),
    Case("beta_zero", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": 0.0}, module="SmoothL1Loss"),
    Case("ties", "smooth_l1_loss", [_TIES_X, _TIES_Y], {"beta": 1.0}, module="SmoothL1Loss"),
    Case("broadcast", "smooth_l1_loss", [Float((3, 4)), Float((4,))], module="SmoothL1Loss"),
    Case("scalar", "smooth_l1_loss", [Float(()), Float(())], module="SmoothL1Loss"),
    # ---- huber_loss
    Case("basic", "huber_loss", [Float((4, 5)), Float((4, 5))], module="HuberLoss", vmap=True),
    Case("delta_small", "huber_loss", [Float((4, 5)), Float((4, 5))], {"delta": 0.1}, module="HuberLoss"),
    Case("delta_large", "huber_loss", [Float((4, 5)), Float((4, 5))], {"delta": 3.0}, module="HuberLoss"),
    Case("ties", "huber_loss", [_TIES_X, _TIES_Y], {"delta": 1.0}, module="HuberLoss"),
    Case("broadcast", "huber_loss", [Float((2, 1, 4)), Float((3, 4))], module="HuberLoss"),
    Case("weight", "huber_loss", [Float((4, 5)), Float((4, 5))],
         {"weight": Float((4, 5), 0.1, 2.0, grad=False), "delta": 0.5}),
]

# ---- integer, bool and complex inputs (torch's promotion; each kernel's own rules)
_INTS = Literal([[3, -1, 0, 7, 2], [1, 1, -4, 0, 5]], dtype="int64")
_INTS2 = Literal([[1, 2, 0, -7, 2], [0, 3, 4, 1, -5]], dtype="int32")
_BOOLS = Literal([[True, False, True, True, False], [False, False, True, False, True]])
_X = Float((2, 5), -6.0, 6.0)


def _complex(name):
    """l1_loss of complex64 inputs built from real and imaginary parts, so
    the gradient (torch's conjugate convention) is compared as two real
    ones; ``weight`` passes through."""
    def ours(xr, xi, yr, yi, **kw):
        import mlx_losses.functional as F

        return getattr(F, name)(xr + 1j * xi, yr + 1j * yi, **kw)

    def theirs(xr, xi, yr, yi, **kw):
        import torch
        import torch.nn.functional as TF

        return getattr(TF, name)(torch.complex(xr, xi), torch.complex(yr, yi), **kw)

    return dict(ours_fn=ours, torch_fn=theirs, dtypes=("float32",))


def _complex_module(module, *parts):
    xr, xi, yr, yi = parts
    return module(xr + 1j * xi, yr + 1j * yi)


_PARTS = [Float((3, 4)), Float((3, 4)), Float((3, 4)), Float((3, 4))]
_TIED_PARTS = [Literal([[1.0, 0.0, -2.0]], grad=True), Literal([[0.5, 0.0, 1.0]], grad=True),
               Literal([[1.0, 0.0, 3.0]], grad=True), Literal([[0.5, 0.0, 1.0]], grad=True)]

CASES += [
    Case("int_target", "l1_loss", [_X, _INTS], module="L1Loss", legacy=True),
    Case("int_input", "l1_loss", [_INTS, _X], module="L1Loss"),
    # two integer arrays: an integer loss (int64 for 'sum'); torch has no integer 'mean'
    Case("int_int", "l1_loss", [_INTS, _INTS2], module="L1Loss", reductions=("none", "sum"),
         dtypes=("float64",)),
    Case("uint8_wraps", "l1_loss",
         [Literal([1, 200, 7], dtype="uint8"), Literal([3, 100, 7], dtype="uint8")],
         module="L1Loss", reductions=("none", "sum"), dtypes=("float64",)),
    Case("int_int_weight", "l1_loss", [_INTS, _INTS2], {"weight": Float((2, 5), 0.1, 2.0, grad=False)}),
    Case("complex", "l1_loss", _PARTS, module="L1Loss", module_call=_complex_module,
         **_complex("l1_loss")),
    # x == y: torch's gradient is 0 there
    Case("complex_ties", "l1_loss", _TIED_PARTS, **_complex("l1_loss")),
    Case("complex_weight", "l1_loss", _PARTS, {"weight": Float((3, 4), 0.1, 2.0, grad=False)},
         **_complex("l1_loss")),
    Case("int_target", "mse_loss", [_X, _INTS], module="MSELoss", legacy=True),
    Case("bool_target", "mse_loss", [_X, _BOOLS], module="MSELoss"),
    Case("bool_input", "mse_loss", [_BOOLS, _X], module="MSELoss"),
    Case("int_int_weight", "mse_loss", [_INTS, _INTS2], {"weight": Float((2, 5), 0.1, 2.0, grad=False)}),
    Case("int_target", "smooth_l1_loss", [_X, _INTS], module="SmoothL1Loss"),
    Case("bool_input", "smooth_l1_loss", [_BOOLS, _X], {"beta": 0.5}, module="SmoothL1Loss"),
    # torch's huber forward takes an integer / bool target, its backward
    # refuses it ("Found dtype Long but expected Float"); ours differentiates
    # (tests/test_regression.py checks that gradient against a float target).
    Case("int_target", "huber_loss", [_X, _INTS], {"delta": 2.0}, module="HuberLoss", grad=False),
    Case("bool_target", "huber_loss", [_X, _BOOLS], module="HuberLoss", grad=False),
    # ---- options torch takes as numbers: NumPy scalars, bools, infinity
    Case("beta_numpy", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": np.float32(0.5)},
         module="SmoothL1Loss"),
    Case("beta_bool", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": True},
         module="SmoothL1Loss"),
    Case("beta_inf", "smooth_l1_loss", [Float((4, 5)), Float((4, 5))], {"beta": float("inf")},
         module="SmoothL1Loss"),
    # (torch's HuberLoss takes a Python number only: no Module here)
    Case("delta_numpy", "huber_loss", [Float((4, 5)), Float((4, 5))], {"delta": np.int64(2)}),
    Case("delta_inf", "huber_loss", [Float((4, 5)), Float((4, 5))], {"delta": float("inf")},
         module="HuberLoss"),
]

ERROR_CASES = [
    ErrorCase("bad_reduction", "l1_loss", [Float((3,)), Float((3,))], {"reduction": "avg"},
              match="is not a valid value for reduction"),
    ErrorCase("not_broadcastable", "mse_loss", [Float((3, 4)), Float((5,))], match="broadcastable"),
    ErrorCase("weight_shape", "mse_loss", [Float((3, 4)), Float((3, 4))], {"weight": Float((4,))},
              match="`weight` must have the shape of `input`"),
    ErrorCase("negative_beta", "smooth_l1_loss", [Float((3,)), Float((3,))], {"beta": -1.0},
              match="`beta` must be >= 0"),
    ErrorCase("zero_delta", "huber_loss", [Float((3,)), Float((3,))], {"delta": 0.0},
              match="`delta` must be > 0"),
    # NaN fails torch's `beta >= 0` / `delta > 0` checks
    ErrorCase("nan_beta", "smooth_l1_loss", [Float((3,)), Float((3,))], {"beta": float("nan")},
              match="`beta` must be >= 0.0, got nan"),
    ErrorCase("nan_delta", "huber_loss", [Float((3,)), Float((3,))], {"delta": float("nan")},
              match="`delta` must be > 0.0, got nan"),
    ErrorCase("beta_string", "smooth_l1_loss", [Float((3,)), Float((3,))], {"beta": "1"},
              error=TypeError, match="`beta` must be a number, got str"),
    ErrorCase("delta_array", "huber_loss", [Float((3,)), Float((3,))], {"delta": Float((2,))},
              error=TypeError, match="`delta` must be a number or a 0-d mx.array"),
    # dtypes torch's kernels refuse
    ErrorCase("int_int_mean", "l1_loss", [_INTS, _INTS2], error=TypeError,
              match="include a floating or complex array for reduction='mean'"),
    ErrorCase("bool_input", "l1_loss", [_BOOLS, _X], error=TypeError,
              match="`input` must have a numeric dtype, not bool"),
    ErrorCase("bool_target", "l1_loss", [_X, _BOOLS], error=TypeError,
              match="`target` must have a numeric dtype, not bool"),
    ErrorCase("int_int", "mse_loss", [_INTS, _INTS2], error=TypeError,
              match="`input` and `target` must include a floating array, got int64 and int32"),
    ErrorCase("bool_weighted", "mse_loss", [_X, _BOOLS], {"weight": Float((2, 5))}, error=TypeError,
              match="`target` must have a numeric dtype, not bool"),
    ErrorCase("int_int", "smooth_l1_loss", [_INTS, _INTS2], error=TypeError,
              match="must include a floating array"),
    ErrorCase("int_input", "huber_loss", [_INTS, _X], error=TypeError,
              match="`input` must have a floating dtype, got int64"),
    ErrorCase("complex", "mse_loss", _PARTS, error=TypeError,
              match="`input` must have a real dtype, got complex64",
              ours_fn=lambda xr, xi, yr, yi: __import__("mlx_losses").functional.mse_loss(
                  xr + 1j * xi, yr + 1j * yi),
              torch_fn=lambda xr, xi, yr, yi: __import__("torch").nn.functional.mse_loss(
                  __import__("torch").complex(xr, xi), __import__("torch").complex(yr, yi))),
]
