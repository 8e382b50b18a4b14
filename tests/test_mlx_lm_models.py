"""Every model file mlx-lm ships, on a tiny random config: the chunked loss
equals the model's own logits + cross-entropy (mlx-lm's ``default_loss``),
values and gradients, or it raises ``UnsupportedModelError`` naming the
model type. ``cross_entropy_loss`` (the model's own logits) matches
``default_loss`` on every model."""

import os
import sys

import pytest

pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")

import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402
from mlx_lm.tuner.trainer import default_loss  # noqa: E402

from mlx_losses.integrations.mlx_lm import (  # noqa: E402
    UnsupportedModelError,
    cross_entropy_loss,
    linear_cross_entropy_loss,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mlx_lm_models as tiny  # noqa: E402

# The model files (and tie settings) whose logits the chunked loss refuses,
# and why: the test requires the refusal, naming the model type.
REFUSED = {
    ("phi3small", None): "its forward sets the logits of 96 token ids to -inf after the head",
    ("prism_hadamard_qwen35", None): "the head is a Hadamard-rotated 2-bit layer of its own type",
    ("talkie", None): "the head's output is multiplied by a learned gain",
}

_METAL = mx.metal.is_available()


def _cases():
    import dataclasses
    import importlib

    cases = []
    for name in tiny.model_files():
        cases.append(pytest.param(name, None, id=name))
        if name in tiny.NOT_BUILDABLE or name in tiny.METAL_ONLY or name in tiny.NO_TIE_FLIP:
            continue
        module = importlib.import_module(f"mlx_lm.models.{name}")
        fields = {f.name: f for f in dataclasses.fields(module.ModelArgs)}
        if "tie_word_embeddings" in fields:
            default = tiny.tiny_config(name).get("tie_word_embeddings")
            flipped = not default
            cases.append(pytest.param(name, flipped, id=f"{name}-tied={flipped}"))
    return cases


def _batch():
    # uneven padding (lengths 7 and 9) and a prompt mask (offsets 2 and 1)
    batch = mx.array([[3, 17, 42, 5, 60, 71, 8, 0, 0],
                      [1, 79, 33, 20, 4, 11, 56, 9, 2]], dtype=mx.int32)
    lengths = mx.array([[2, 7], [1, 9]], dtype=mx.int32)
    return batch, lengths


def _floating_only(model):
    # gradients w.r.t. the floating parameters (some models keep integer tables)
    for _, m in model.named_modules():
        keys = [k for k, v in m.items()
                if isinstance(v, mx.array) and not mx.issubdtype(v.dtype, mx.floating)]
        if keys:
            m.freeze(keys=keys, recurse=False)


def _value_and_grads(model, loss, batch, lengths):
    def scalar(m, b, l):
        value, ntoks = loss(m, b, l)
        return value

    value, grads = nn.value_and_grad(model, scalar)(model, batch, lengths)
    mx.eval(value, grads)
    return value, dict(tree_flatten(grads))


def _values(model, loss, batch, lengths):
    value, _ = loss(model, batch, lengths)
    mx.eval(value)
    return value, {}


def _assert_same(name, got, want):
    value, grads = got
    ref_value, ref_grads = want
    assert value.dtype == mx.float32
    assert abs(value.item() - ref_value.item()) <= 1e-5 * max(1.0, abs(ref_value.item())), (
        f"{name}: loss {value.item()} vs default_loss {ref_value.item()}")
    assert grads.keys() == ref_grads.keys()
    for key, g in grads.items():
        r = ref_grads[key]
        scale = mx.max(mx.abs(r)).item()
        worst = mx.max(mx.abs(g - r)).item()
        assert worst <= 2e-5 * scale + 1e-7, (
            f"{name}: gradient of {key} off by {worst} (largest {scale})")


@pytest.mark.parametrize("name, tied", _cases())
def test_model_file(name, tied):
    if name in tiny.NOT_BUILDABLE:
        pytest.skip(tiny.NOT_BUILDABLE[name])
    if name in tiny.METAL_ONLY and not _METAL:
        pytest.skip("runs hand-written Metal kernels (mx.fast.metal_kernel): Apple silicon only")
    mx.random.seed(0)
    extra = {} if tied is None else {"tie_word_embeddings": tied}
    model = tiny.build(name, **extra)
    if "_no_grad" not in vars(model):
        # recurrent_gemma's Model skips nn.Module.__init__ (mlx-lm cannot train it as shipped)
        nn.Module.__init__(model)
    _floating_only(model)
    if tied is None:
        tied = tiny.tiny_config(name).get("tie_word_embeddings")
    batch, lengths = _batch()
    run = _value_and_grads
    if name in tiny.NO_GRADIENT:
        with pytest.raises(ValueError, match="Cannot calculate VJP"):
            _value_and_grads(model, default_loss, batch, lengths)
        run = _values
    want = run(model, default_loss, batch, lengths)
    _assert_same(name, run(model, cross_entropy_loss(), batch, lengths), want)
    loss = linear_cross_entropy_loss()
    refused = REFUSED.get((name, tied)) or REFUSED.get((name, None))
    if refused:
        with pytest.raises(UnsupportedModelError) as info:
            loss(model, batch, lengths)
        model_type = model.args.model_type if hasattr(model, "args") else name
        assert f"model type {model_type!r}" in str(info.value)
        assert "use cross_entropy_loss() for this model" in str(info.value)
        return
    _assert_same(name, run(model, loss, batch, lengths), want)
    assert loss(model, batch, lengths)[1].item() == default_loss(model, batch, lengths)[1].item()


def test_every_model_file_is_covered():
    # a new model file in mlx-lm shows up here: it gets a case automatically,
    # and this keeps the listed exceptions honest
    names = set(tiny.model_files())
    assert len(names) >= 120
    listed = [*tiny.NOT_BUILDABLE, *tiny.METAL_ONLY, *tiny.NO_TIE_FLIP, *tiny.NO_GRADIENT,
              *(n for n, _ in REFUSED)]
    for key in listed:
        assert key in names, f"{key} is listed but mlx-lm ships no such model file"
