"""Parity table: L1, MSE, Smooth L1, Huber."""

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
    ErrorCase("int_input", "l1_loss", [Literal([1, 2]), Float((2,))], error=TypeError,
              match="`input` must have a floating dtype", torch_raises=False),
]
