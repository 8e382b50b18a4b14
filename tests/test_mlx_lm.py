"""The mlx-lm integration: quantized heads (QLoRA), the options against the
published formulas, mx.compile, the per-model cache, and bad input."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")

import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402
from mlx_lm.tuner.trainer import default_loss  # noqa: E402
from mlx_lm.tuner.utils import linear_to_lora_layers  # noqa: E402

import mlx_losses  # noqa: E402
from mlx_losses.integrations import mlx_lm as integ  # noqa: E402
from mlx_losses import LinearCrossEntropyOptions  # noqa: E402
from mlx_losses.integrations.mlx_lm import (  # noqa: E402
    UnsupportedModelError,
    cross_entropy_loss,
    find_lm_head,
    linear_cross_entropy_loss,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mlx_lm_models as tiny  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _batch(vocab=tiny.VOCAB):
    batch = mx.array([[3, 17, 42, 5, 60, 71, 8, 0, 0],
                      [1, 79, 33, 20, 4, 11, 56, 9, 2]], dtype=mx.int32) % vocab
    lengths = mx.array([[2, 7], [1, 9]], dtype=mx.int32)
    return batch, lengths


def _value_and_grads(model, loss, batch, lengths):
    value, grads = nn.value_and_grad(model, lambda m, b, l: loss(m, b, l)[0])(
        model, batch, lengths)
    mx.eval(value, grads)
    return value.item(), dict(tree_flatten(grads))


def _close(got, want, rtol=2e-5):
    value, grads = got
    ref_value, ref_grads = want
    assert abs(value - ref_value) <= rtol * max(1.0, abs(ref_value)), (value, ref_value)
    assert grads.keys() == ref_grads.keys() and grads
    for key, g in grads.items():
        r = ref_grads[key]
        worst = mx.max(mx.abs(g - r)).item()
        assert worst <= rtol * mx.max(mx.abs(r)).item() + 1e-7, (key, worst)


# --------------------------------------------------------------------------
# quantized heads: QLoRA on tied, untied, softcapped and scaled models

QUANT = [
    ("affine", 32, 2), ("affine", 32, 3), ("affine", 32, 4), ("affine", 64, 5),
    ("affine", 64, 6), ("affine", 128, 8), ("mxfp4", 32, 4), ("mxfp8", 32, 8),
    ("nvfp4", 16, 4),
]
FAMILIES = [("llama", {"tie_word_embeddings": True}), ("llama", {"tie_word_embeddings": False}),
            ("gemma2", {}), ("cohere", {}), ("granite", {"tie_word_embeddings": False})]


@pytest.mark.parametrize("mode, group_size, bits", QUANT,
                         ids=[f"{m}-g{g}-b{b}" for m, g, b in QUANT])
@pytest.mark.parametrize("family, extra", FAMILIES,
                         ids=["llama-tied", "llama-untied", "gemma2", "cohere", "granite"])
def test_qlora_matches_default_loss(family, extra, mode, group_size, bits):
    mx.random.seed(1)
    model = tiny.build(family, hidden_size=128, head_dim=32, intermediate_size=256, **extra)
    nn.quantize(model, group_size=group_size, bits=bits, mode=mode)
    model.freeze()
    linear_to_lora_layers(model, 2, {"rank": 4, "scale": 10.0, "dropout": 0.0})
    head = find_lm_head(model)
    assert head.quantized
    batch, lengths = _batch()
    want = _value_and_grads(model, default_loss, batch, lengths)
    _close(_value_and_grads(model, linear_cross_entropy_loss(), batch, lengths), want)


def test_unsupported_quantization_mode_is_refused(monkeypatch):
    # every mode MLX 0.32 has is supported: a newer one is refused by name
    monkeypatch.setattr(integ, "QUANTIZATION_MODES", ("affine", "mxfp4", "mxfp8"))
    mx.random.seed(1)
    model = tiny.build("llama", hidden_size=64, head_dim=16, intermediate_size=64,
                       tie_word_embeddings=False)
    nn.quantize(model, group_size=16, bits=4, mode="nvfp4")
    with pytest.raises(UnsupportedModelError) as info:
        find_lm_head(model)
    msg = str(info.value)
    assert "model type 'llama'" in msg and "quantized in mode 'nvfp4'" in msg
    assert "supported modes: affine, mxfp4, mxfp8" in msg


# --------------------------------------------------------------------------
# what was found


@pytest.mark.parametrize("family, extra, kind, tied, scale, cap", [
    ("llama", {"tie_word_embeddings": True}, "embedding", True, 1.0, None),
    ("llama", {"tie_word_embeddings": False}, "linear", False, 1.0, None),
    ("gemma2", {"final_logit_softcapping": 2.0}, "embedding", True, 1.0, 2.0),
    ("cohere", {"logit_scale": 0.3}, "embedding", True, 0.3, None),
    ("granite", {"logits_scaling": 3.0}, "embedding", True, 1 / 3, None),
    ("minicpm", {"tie_word_embeddings": True}, "matmul", True, 1.0, None),
    ("muse_glimmer", {"output_multiplier": 0.7, "final_logit_softcapping": 2.0},
     "linear", False, 0.7, 2.0),
])
def test_found_head_and_transform(family, extra, kind, tied, scale, cap):
    mx.random.seed(2)
    head = find_lm_head(tiny.build(family, **extra))
    assert (head.kind, head.tied, head.verified) == (kind, tied, True)
    assert head.logit_scale == pytest.approx(scale, rel=1e-6)
    assert (head.softcap is None) == (cap is None)
    if cap is not None:
        assert head.softcap == pytest.approx(cap, rel=1e-6)


class _GainHead(nn.Module):
    """A head whose output is multiplied by a learned gain (not a constant)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.lm_head = nn.Linear(16, 50, bias=False)
        self.gain = mx.array([0.5])

    def __call__(self, inputs, cache=None):
        return self.lm_head(self.embed(inputs)) * self.gain


class _SubclassHead(nn.Module):
    class Head(nn.Linear):
        def __call__(self, x):
            return super().__call__(x) + 1.0

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.lm_head = self.Head(16, 50)

    def __call__(self, inputs, cache=None):
        return self.lm_head(self.embed(inputs))


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.lm_head = nn.Linear(16, 50, bias=False)

    def __call__(self, inputs, cache=None):
        h = self.embed(inputs)
        return self.lm_head(h) + self.lm_head(2 * h)


@pytest.mark.parametrize("model, why", [
    (_GainHead, "depend on more than its output"),
    (_SubclassHead, "a subclass whose forward may differ"),
    (_TwoHeads, "applied 2 times per forward"),
])
def test_refused_with_the_reason(model, why):
    with pytest.raises(UnsupportedModelError) as info:
        linear_cross_entropy_loss()(model(), *_batch(50))
    msg = str(info.value)
    assert why in msg, msg
    assert msg.startswith("linear_cross_entropy_loss: `model` must have logits")
    assert "use cross_entropy_loss() for this model" in msg


def test_learned_gain_is_refused_inside_compile_too():
    model = _GainHead()
    loss = linear_cross_entropy_loss()
    step = mx.compile(lambda b, l: loss(model, b, l)[0], inputs=[model.state])
    with pytest.raises(UnsupportedModelError, match="depend on more than its output"):
        step(*_batch(50))


# --------------------------------------------------------------------------
# mx.compile, the cache, the trainer


def test_first_use_inside_compile_then_eager_adds_the_numbers():
    mx.random.seed(3)
    model = tiny.build("gemma2", final_logit_softcapping=2.0)
    loss = linear_cross_entropy_loss()
    batch, lengths = _batch()
    step = mx.compile(lambda b, l: loss(model, b, l)[0], inputs=[model.state])
    got = step(batch, lengths).item()
    head = integ._PLANS[id(model)][1]
    assert head.softcap == pytest.approx(2.0) and not head.verified
    assert got == pytest.approx(default_loss(model, batch, lengths)[0].item(), rel=1e-5)
    assert loss(model, batch, lengths)[0].item() == pytest.approx(got, rel=1e-6)
    assert find_lm_head(model).verified


def test_found_once_per_model_and_again_when_the_head_changes(monkeypatch):
    calls = []
    real = integ._discover
    monkeypatch.setattr(integ, "_discover", lambda fn, m: calls.append(1) or real(fn, m))
    mx.random.seed(4)
    model = tiny.build("llama", hidden_size=64, head_dim=16, intermediate_size=64,
                       tie_word_embeddings=False)
    loss = linear_cross_entropy_loss()
    batch, lengths = _batch()
    for _ in range(3):
        loss(model, batch, lengths)
    assert len(calls) == 1
    nn.quantize(model, group_size=32, bits=4)
    assert loss(model, batch, lengths)[0].item() == pytest.approx(
        default_loss(model, batch, lengths)[0].item(), rel=1e-5)
    assert len(calls) == 2 and find_lm_head(model).quantized


def test_mlx_lm_trainer_runs_with_the_loss(tmp_path):
    from mlx_lm.tuner.trainer import TrainingArgs, train
    import mlx.optimizers as optim

    mx.random.seed(5)
    model = tiny.build("llama", tie_word_embeddings=False)
    rng = np.random.default_rng(0)
    data = [(rng.integers(0, tiny.VOCAB, size=int(n)).tolist(), 0)
            for n in rng.integers(5, 20, 8)]
    args = TrainingArgs(batch_size=2, iters=4, steps_per_report=2, steps_per_save=100,
                        adapter_file=str(tmp_path / "a.safetensors"), max_seq_length=64)
    before = default_loss(model, *next(_batches(data)))[0].item()
    train(model, optim.Adam(learning_rate=1e-2), data, None, args,
          loss=linear_cross_entropy_loss())
    after = default_loss(model, *next(_batches(data)))[0].item()
    assert after < before


def _batches(data):
    from mlx_lm.tuner.trainer import iterate_batches

    return iterate_batches(data, 8, 64)


# --------------------------------------------------------------------------
# options against the formulas (float64, from the model's own logits)


def _reference(model, batch, lengths, eps=0.0, z=0.0):
    logits = np.asarray(model(batch[:, :-1]).astype(mx.float32), dtype=np.float64)
    targets = np.asarray(batch[:, 1:])
    steps = np.arange(1, targets.shape[1] + 1)
    lens = np.asarray(lengths)
    mask = (steps >= lens[:, :1]) & (steps <= lens[:, 1:])
    top = logits.max(-1, keepdims=True)
    lse = (top + np.log(np.exp(logits - top).sum(-1, keepdims=True)))[..., 0]
    nll = lse - np.take_along_axis(logits, targets[..., None], -1)[..., 0]
    smooth = lse - logits.mean(-1)
    per = (1 - eps) * nll + eps * smooth + z * lse ** 2
    return float((per * mask).sum() / mask.sum())


@pytest.mark.parametrize("make", [cross_entropy_loss, linear_cross_entropy_loss])
@pytest.mark.parametrize("eps, z", [(0.1, 0.0), (0.0, 1e-3), (0.2, 1e-2)])
def test_label_smoothing_and_z_loss_follow_the_formula(make, eps, z):
    mx.random.seed(6)
    model = tiny.build("gemma2", final_logit_softcapping=2.0)
    batch, lengths = _batch()
    got = make(label_smoothing=eps, z_loss=z)(model, batch, lengths)[0].item()
    assert got == pytest.approx(_reference(model, batch, lengths, eps, z), rel=2e-6)


@pytest.mark.parametrize("make", [cross_entropy_loss, linear_cross_entropy_loss])
def test_float32_loss_for_a_bfloat16_model(make):
    mx.random.seed(7)
    model = tiny.build("llama", tie_word_embeddings=False)
    model.set_dtype(mx.bfloat16)
    batch, lengths = _batch()
    exact = _reference(model, batch, lengths)
    got = make()(model, batch, lengths)[0]
    assert got.dtype == mx.float32
    # per-token losses in float32: the bfloat16 logits' rounding (the chunked
    # path's logits are not rounded to bfloat16 at all) and nothing more
    assert got.item() == pytest.approx(exact, rel=3e-3)
    half = make(float32=False)(model, batch, lengths)[0]
    mlx_lm_value = default_loss(model, batch, lengths)[0].item()
    assert half.dtype == mx.float32
    assert half.item() == pytest.approx(mlx_lm_value, rel=2e-2)
    if make is cross_entropy_loss:
        assert abs(got.item() - exact) < abs(half.item() - exact) + 1e-6


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("make", [cross_entropy_loss, linear_cross_entropy_loss])
def test_batch_without_lengths(make):
    model = tiny.build("llama")
    batch, _ = _batch()
    with pytest.raises(ValueError) as info:
        make()(model, batch)
    assert str(info.value).startswith(f"{make.__name__}: `lengths` must be given with the batch")
    assert "got None." in str(info.value)


@pytest.mark.parametrize("batch, lengths, err, text", [
    ([[1.0, 2.0]], [[0, 2]], TypeError, "`batch` must hold token ids (an integer dtype), got float32"),
    ([1, 2, 3], [[0, 2]], ValueError, "`batch` must be 2-D, (B, T) with T >= 2"),
    ([[1], [2]], [[0, 1], [0, 1]], ValueError, "`batch` must be 2-D, (B, T) with T >= 2"),
    ([[1, 2, 3]], [[0, 2], [0, 2]], ValueError, "`lengths` must have shape (1, 2) for a batch"),
    ([[1, 2, 3]], [[0.0, 2.0]], TypeError, "`lengths` must be an integer mx.array, (B, 2), got float32"),
])
def test_bad_batch(batch, lengths, err, text):
    model = tiny.build("llama")
    with pytest.raises(err) as info:
        linear_cross_entropy_loss()(model, mx.array(batch), mx.array(lengths))
    assert text in str(info.value)


@pytest.mark.parametrize("make", [cross_entropy_loss, linear_cross_entropy_loss])
def test_token_out_of_range(make):
    model = tiny.build("llama")
    batch, lengths = _batch()
    batch[1, 3] = tiny.VOCAB + 5
    with pytest.raises(ValueError) as info:
        make()(model, batch, lengths)
    msg = str(info.value)
    assert f"`batch` must hold token ids in [0, {tiny.VOCAB})" in msg
    assert "model type 'llama'" in msg and msg.endswith(f"got {tiny.VOCAB + 5}.")
    batch[1, 3] = -1
    with pytest.raises(ValueError, match="got -1"):
        make()(model, batch, lengths)
    # padding after a row's length is not read: anything may be there
    batch, lengths = _batch()
    batch[0, 8] = 10 ** 6
    make()(model, batch, lengths)
    with mlx_losses.value_checks(False):
        batch[1, 3] = tiny.VOCAB + 5
        make()(model, batch, lengths)


@pytest.mark.parametrize("kwargs, err, text", [
    ({"label_smoothing": 1.5}, ValueError, "`label_smoothing` must be in [0, 1], got 1.5."),
    ({"label_smoothing": "0.1"}, TypeError, "`label_smoothing` must be a float, got str."),
    ({"z_loss": -1.0}, ValueError, "`z_loss` must be in [0, inf], got -1.0."),
    ({"float32": 1}, TypeError, "`float32` must be a bool, got int."),
])
@pytest.mark.parametrize("make", [cross_entropy_loss, linear_cross_entropy_loss])
def test_bad_options(make, kwargs, err, text):
    with pytest.raises(err) as info:
        make(**kwargs)
    assert str(info.value) == f"{make.__name__}: {text}"


def test_chunk_options():
    loss = linear_cross_entropy_loss(batch_chunk_size=8, vocab_chunk_size=64)
    assert loss.options == LinearCrossEntropyOptions(batch_chunk_size=8, vocab_chunk_size=64)
    with pytest.raises(ValueError, match="`options` must be None when batch_chunk_size"):
        linear_cross_entropy_loss(options=LinearCrossEntropyOptions(), vocab_chunk_size=64)
    with pytest.raises(TypeError, match="`options` must be a LinearCrossEntropyOptions"):
        linear_cross_entropy_loss(options={"batch_chunk_size": 8})
    model = tiny.build("llama")
    batch, lengths = _batch()
    assert loss(model, batch, lengths)[0].item() == pytest.approx(
        default_loss(model, batch, lengths)[0].item(), rel=1e-5)


def test_import_mlx_losses_does_not_import_mlx_lm():
    code = ("import sys, mlx_losses; "
            "print('mlx_lm' in sys.modules, 'mlx_losses.integrations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr
