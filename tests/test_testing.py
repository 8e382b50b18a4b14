"""mlx_losses.testing.assert_matches_torch: passes right code, catches wrong
code (value, gradient only, dtype) with a readable message."""

import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlx_losses.testing import TOLERANCES, assert_matches_torch  # noqa: E402

ALL = ("float64", "float32", "bfloat16")


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- a user's own loss: cross-entropy with class indices, written by hand


def my_ce_mx(logits, target):
    lse = mx.logsumexp(logits, axis=1)
    picked = mx.take_along_axis(logits, mx.expand_dims(target, 1), axis=1).squeeze(1)
    return mx.mean(lse - picked)


def my_ce_torch(logits, target):
    return torch.nn.functional.cross_entropy(logits, target)


def _ce_inputs():
    r = _rng(1)
    return r.normal(size=(6, 5)), r.integers(0, 5, size=(6,))


# A squared multi-class hinge: no exp, so float64 holds to 1e-9 too (MLX's
# float64 exp on the CPU is accurate to about 1e-8 relative only).


def my_hinge_mx(scores, target):
    picked = mx.take_along_axis(scores, mx.expand_dims(target, 1), axis=1)
    return mx.mean(mx.maximum(1.0 - picked + scores, 0.0) ** 2, axis=1)


def my_hinge_torch(scores, target):
    picked = scores.gather(1, target.unsqueeze(1))
    return (torch.clamp(1.0 - picked + scores, min=0.0) ** 2).mean(dim=1)


@pytest.mark.parametrize("dtype", ALL)
def test_right_loss_passes(dtype):
    rep = assert_matches_torch(my_hinge_mx, my_hinge_torch, *_ce_inputs(), dtypes=(dtype,))
    assert set(rep) == {dtype}
    assert rep[dtype]["reference"] == "float64"
    if dtype != "float64":
        assert rep[dtype]["output"] > 0 and rep[dtype]["grad"] > 0  # really compared


@pytest.mark.parametrize("dtype", ("float32", "bfloat16"))
def test_right_cross_entropy_passes(dtype):
    assert_matches_torch(my_ce_mx, my_ce_torch, *_ce_inputs(), dtypes=(dtype,), compile=True)


# ---- a small MLP's forward, weights passed as inputs, two outputs


def mlp_mx(x, w1, b1, w2):
    h = mx.tanh(x @ w1.T + b1)
    return h @ w2.T, h


def mlp_torch(x, w1, b1, w2):
    h = torch.tanh(x @ w1.T + b1)
    return h @ w2.T, h


def _mlp_inputs():
    r = _rng(2)
    return [r.normal(size=s) for s in [(4, 3), (8, 3), (8,), (2, 8)]]


def test_mlp_forward_passes_in_every_dtype_and_compiled():
    rep = assert_matches_torch(mlp_mx, mlp_torch, *_mlp_inputs(), dtypes=ALL, compile=True)
    assert list(rep) == list(ALL)
    # bfloat16 really ran in bfloat16: its error is far above float32's
    assert rep["bfloat16"]["output"] > 100 * rep["float32"]["output"]


# ---- wrong code is caught, with the place, both values and the tolerance


@pytest.mark.parametrize("dtype", ALL)
def test_wrong_value_is_caught(dtype):
    def off(logits, target):  # 2% too large: beyond every dtype's tolerance
        return my_ce_mx(logits, target) * 1.02

    with pytest.raises(AssertionError) as info:
        assert_matches_torch(off, my_ce_torch, *_ce_inputs(), dtypes=(dtype,))
    msg = str(info.value)
    assert f"assert_matches_torch(test_wrong_value_is_caught.<locals>.off) [{dtype}]: output" in msg
    assert "worst element ()" in msg and "ours " in msg and "torch " in msg
    assert "> allowed" in msg and f"rtol {TOLERANCES[dtype][0]:g}" in msg


@mx.custom_function
def _square(x):
    return x * x


@_square.vjp
def _square_vjp(x, cotangent, output):
    return 3.0 * x * cotangent  # wrong: d(x^2)/dx is 2x


@pytest.mark.parametrize("dtype", ALL)
def test_wrong_gradient_only_is_caught(dtype):
    x = _rng(3).normal(size=(3, 4))
    with pytest.raises(AssertionError) as info:
        assert_matches_torch(_square, lambda t: t * t, x, dtypes=(dtype,))
    msg = str(info.value)
    assert "gradient w.r.t. input 0 (shape (3, 4))" in msg
    assert "worst element (" in msg
    # the value alone is right
    assert_matches_torch(_square, lambda t: t * t, x, dtypes=(dtype,), grad=False)


def test_wrong_gradient_of_one_weight_names_that_input():
    def bad(x, w1, b1, w2):
        h = mx.tanh(x @ w1.T + mx.stop_gradient(b1))  # b1 gets no gradient
        return h @ w2.T, h

    with pytest.raises(AssertionError, match=r"gradient w.r.t. input 2 \(shape \(8,\)\)"):
        assert_matches_torch(bad, mlp_torch, *_mlp_inputs())


def test_wrong_dtype_is_caught():
    def upcasts(logits, target):  # returns float32 for bfloat16 input; torch keeps bfloat16
        return my_ce_mx(logits.astype(mx.float32), target)

    with pytest.raises(AssertionError, match=r"\[bfloat16\]: output: dtype float32 != torch's bfloat16"):
        assert_matches_torch(upcasts, my_ce_torch, *_ce_inputs(), dtypes=("float32", "bfloat16"))


def test_wrong_shape_nan_and_output_count_are_caught():
    x = _rng(4).normal(size=(3, 4))
    with pytest.raises(AssertionError, match=r"output: shape \(4, 3\) != torch's \(3, 4\)"):
        assert_matches_torch(lambda a: a.T, lambda t: t, x)
    with pytest.raises(AssertionError, match="NaN positions differ"):
        assert_matches_torch(lambda a: mx.log(a), lambda t: torch.log(t.abs()), x, grad=False)
    with pytest.raises(AssertionError, match="returned 2 output"):
        assert_matches_torch(lambda a: (a, a), lambda t: t, x)


def test_tolerance_overrides_and_bad_dtype():
    def off(logits, target):
        return my_ce_mx(logits, target) * (1 + 1e-4)

    with pytest.raises(AssertionError):
        assert_matches_torch(off, my_ce_torch, *_ce_inputs())
    assert_matches_torch(off, my_ce_torch, *_ce_inputs(), rtol={"float32": 1e-3})
    with pytest.raises(ValueError, match="`dtypes` must contain only"):
        assert_matches_torch(my_ce_mx, my_ce_torch, *_ce_inputs(), dtypes=("int8",))


def test_torch_module_with_float32_state_uses_a_float32_reference():
    lin = torch.nn.Linear(3, 2)
    w, b = mx.array(lin.weight.detach().numpy()), mx.array(lin.bias.detach().numpy())
    rep = assert_matches_torch(lambda x: x @ w.T + b, lin, _rng(5).normal(size=(4, 3)))
    assert rep["float32"]["reference"] == "float32"


def test_importing_mlx_losses_does_not_import_torch():
    code = "import sys, mlx_losses, mlx_losses.testing; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
