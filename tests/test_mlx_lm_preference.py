"""The preference losses of the mlx-lm integration (dpo_loss, orpo_loss,
simpo_loss) against the unfused formulas on the model's own logits (TRL's
semantics: per-sequence log-probabilities summed over the completion mask),
values and gradients, on tiny mlx-lm models; and bad input."""

import math
import os
import sys

import numpy as np
import pytest

pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")

import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from mlx_losses.integrations.mlx_lm import (  # noqa: E402
    UnsupportedModelError,
    dpo_loss,
    orpo_loss,
    preference_batch,
    simpo_loss,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _mlx_lm_models as tiny  # noqa: E402

FAMILIES = [("llama", {"tie_word_embeddings": True}), ("llama", {"tie_word_embeddings": False}),
            ("gemma2", {}), ("cohere", {})]
FAMILY_IDS = ["llama-tied", "llama-untied", "gemma2-softcap", "cohere-scale"]


def _pairs(vocab=tiny.VOCAB):
    """Three pairs: prompts and completions of uneven lengths (padding)."""
    rng = np.random.default_rng(0)
    out = []
    for p, c, r in ((3, 4, 2), (1, 5, 6), (4, 1, 3)):
        out.append(tuple(rng.integers(0, vocab, size=n).tolist() for n in (p, c, r)))
    return out


def _build(family, extra, seed):
    mx.random.seed(seed)
    return tiny.build(family, **extra)


def _quantize(model):
    """4 bits, group size 32: every layer whose input size allows it."""
    nn.quantize(model, group_size=32, bits=4,
                class_predicate=lambda _, m: hasattr(m, "to_quantized")
                and m.weight.shape[-1] % 32 == 0)


def _seq_logps(model, batch, lengths):
    """Summed completion log-probabilities and token counts from the model's
    own logits, in float64: TRL's ``get_batch_logps`` on the completion mask."""
    logits = model(batch[:, :-1]).astype(mx.float64)
    targets = batch[:, 1:]
    logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    tok = mx.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    steps = mx.arange(1, targets.shape[1] + 1)
    mask = (steps >= lengths[:, :1]) & (steps < lengths[:, 1:])
    return mx.where(mask, tok, 0.0).sum(-1), mask.sum(-1).astype(mx.float64)


def _log_sigmoid(z):
    return -mx.logaddexp(mx.zeros_like(z), -z)


def _dpo_formula(beta, reference=None, ref_logps=None):
    def f(model, batch, lengths):
        lp, _ = _seq_logps(model, batch, lengths)
        if reference is not None:
            ref = mx.stop_gradient(_seq_logps(reference, batch, lengths)[0])
        elif ref_logps is not None:
            ref = ref_logps.astype(mx.float64)
        else:
            ref = mx.zeros_like(lp)
        b = lp.shape[0] // 2
        z = beta * ((lp[:b] - ref[:b]) - (lp[b:] - ref[b:]))
        return mx.mean(-_log_sigmoid(z))
    return f


def _orpo_formula(beta):
    def f(model, batch, lengths):
        lp, n = _seq_logps(model, batch, lengths)
        b = lp.shape[0] // 2
        avg = lp / n
        ac, ar = avg[:b], avg[b:]
        log_odds = (ac - ar) - (mx.log1p(-mx.exp(ac)) - mx.log1p(-mx.exp(ar)))
        nll = -mx.sum(lp[:b]) / mx.sum(n[:b])
        return mx.mean(nll - beta * _log_sigmoid(log_odds))
    return f


def _simpo_formula(beta, gamma):
    def f(model, batch, lengths):
        lp, n = _seq_logps(model, batch, lengths)
        b = lp.shape[0] // 2
        avg = lp / n
        return mx.mean(-_log_sigmoid(beta * (avg[:b] - avg[b:]) - gamma))
    return f


def _value_and_grads(model, f, batch, lengths):
    with mx.stream(mx.cpu):  # the float64 formulas
        value, grads = nn.value_and_grad(model, f)(model, batch, lengths)
        mx.eval(value, grads)
    return value.item(), dict(tree_flatten(grads))


def _close(got, want, rtol=3e-5):
    value, grads = got
    ref_value, ref_grads = want
    assert abs(value - ref_value) <= rtol * max(1.0, abs(ref_value)), (value, ref_value)
    assert grads.keys() == ref_grads.keys() and grads
    for key, g in grads.items():
        r = ref_grads[key].astype(mx.float32)
        worst = mx.max(mx.abs(g - r)).item()
        assert worst <= rtol * mx.max(mx.abs(r)).item() + 1e-7, (key, worst)


def _ours(loss, **kw):
    return lambda m, b, l: loss(m, b, l, **kw)[0]


@pytest.mark.parametrize("family, extra", FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("ref", ["model", "model-4bit", "ref_logps", "none"])
def test_dpo_matches_the_unfused_formula(family, extra, ref):
    policy = _build(family, extra, 0)
    batch, lengths = preference_batch(_pairs())
    reference = ref_logps = None
    if ref.startswith("model"):
        reference = _build(family, extra, 1)
        if ref == "model-4bit":
            _quantize(reference)
        reference.freeze()
    elif ref == "ref_logps":
        ref_logps = mx.array([-9.0, -12.5, -4.0, -7.0, -20.0, -8.5])
    beta = 0.7
    loss = dpo_loss(reference=reference, beta=beta)
    kw = {} if ref_logps is None else {"ref_logps": ref_logps}
    got = _value_and_grads(policy, _ours(loss, **kw), batch, lengths)
    want = _value_and_grads(policy, _dpo_formula(beta, reference, ref_logps), batch, lengths)
    _close(got, want)


def test_dpo_metrics_and_token_count():
    policy, reference = _build("llama", {}, 0), _build("llama", {}, 1)
    batch, lengths = preference_batch(_pairs())
    loss = dpo_loss(reference=reference, beta=0.5)
    out = loss.output(policy, batch, lengths)
    with mx.stream(mx.cpu):
        lp, n = _seq_logps(policy, batch, lengths)
        ref, _ = _seq_logps(reference, batch, lengths)
    chosen, rejected = 0.5 * (lp[:3] - ref[:3]), 0.5 * (lp[3:] - ref[3:])
    np.testing.assert_allclose(np.array(out.chosen_rewards), np.array(chosen), rtol=1e-5)
    np.testing.assert_allclose(np.array(out.rejected_rewards), np.array(rejected), rtol=1e-5)
    np.testing.assert_array_equal(np.array(out.reward_accuracy),
                                  np.array(chosen > rejected).astype(np.float32))
    value, ntoks = loss(policy, batch, lengths)
    assert value.item() == out.loss.item()
    assert ntoks.item() == int(n.sum().item()) == 4 + 5 + 1 + 2 + 6 + 3


@pytest.mark.parametrize("family, extra", FAMILIES, ids=FAMILY_IDS)
def test_orpo_and_simpo_match_the_unfused_formulas(family, extra):
    policy = _build(family, extra, 0)
    batch, lengths = preference_batch(_pairs())
    got = _value_and_grads(policy, _ours(orpo_loss(beta=0.3)), batch, lengths)
    _close(got, _value_and_grads(policy, _orpo_formula(0.3), batch, lengths))
    got = _value_and_grads(policy, _ours(simpo_loss(beta=2.0, gamma=0.4)), batch, lengths)
    _close(got, _value_and_grads(policy, _simpo_formula(2.0, 0.4), batch, lengths))


def test_qlora_policy_with_a_quantized_head():
    """A 4-bit policy (head quantized, frozen) with LoRA layers: the gradient
    reaches the adapters through the quantized head, dequantized per block."""
    from mlx_lm.tuner.utils import linear_to_lora_layers

    policy = _build("llama", {"tie_word_embeddings": False}, 0)
    reference = _build("llama", {"tie_word_embeddings": False}, 0)
    for m in (policy, reference):
        _quantize(m)
        m.freeze()
    linear_to_lora_layers(policy, 2, {"rank": 4, "scale": 10.0, "dropout": 0.0})
    mx.eval(policy.parameters())
    batch, lengths = preference_batch(_pairs())
    loss = dpo_loss(reference=reference, beta=0.2, vocab_chunk_size=16, batch_chunk_size=8)
    got = _value_and_grads(policy, _ours(loss), batch, lengths)
    want = _value_and_grads(policy, _dpo_formula(0.2, reference), batch, lengths)
    _close(got, want)
    # the LoRA B matrices start at 0: the policy equals the reference, the loss log 2
    assert got[0] == pytest.approx(math.log(2), abs=1e-6)


def test_preference_batch_layout():
    batch, lengths = preference_batch([([1, 2], [3], [4, 5, 6]), ([7], [8, 9], [10])])
    assert batch.dtype == mx.int32 and lengths.dtype == mx.int32
    assert batch.tolist() == [[1, 2, 3, 0, 0], [7, 8, 9, 0, 0], [1, 2, 4, 5, 6],
                              [7, 10, 0, 0, 0]]
    assert lengths.tolist() == [[2, 3], [1, 3], [2, 5], [1, 2]]


BAD_BUILD = [
    (dpo_loss, {"beta": 0.0}, ValueError, "dpo_loss: `beta` must be finite and > 0, got 0.0."),
    (dpo_loss, {"beta": "1"}, TypeError, "dpo_loss: `beta` must be a float, got str."),
    (dpo_loss, {"loss_type": "kto"}, ValueError, "dpo_loss: `loss_type` must be one of sigmoid"),
    (dpo_loss, {"reference": "m"}, TypeError,
     "dpo_loss: `reference` must be an mlx.nn.Module (the reference model) or None, got str."),
    (orpo_loss, {"beta": -1.0}, ValueError, "orpo_loss: `beta` must be finite and >= 0, got -1.0."),
    (orpo_loss, {"compute_nll_loss": 1}, TypeError,
     "orpo_loss: `compute_nll_loss` must be a bool, got int."),
    (simpo_loss, {"gamma": math.inf}, ValueError, "simpo_loss: `gamma` must be finite, got inf."),
    (simpo_loss, {"label_smoothing": 2.0}, ValueError,
     "simpo_loss: `label_smoothing` must be in [0, 1], got 2.0."),
    (simpo_loss, {"batch_chunk_size": 8, "options": object()}, ValueError,
     "simpo_loss: `options` must be None when batch_chunk_size or vocab_chunk_size is given"),
]


@pytest.mark.parametrize("make, kwargs, err, text", BAD_BUILD)
def test_bad_options(make, kwargs, err, text):
    with pytest.raises(err) as info:
        make(**kwargs)
    assert type(info.value) is err and str(info.value).startswith(text)


def test_bad_calls():
    policy = _build("llama", {}, 0)
    batch, lengths = preference_batch(_pairs())
    with pytest.raises(ValueError) as info:
        dpo_loss()(policy, batch[:5], lengths[:5])
    assert str(info.value) == ("dpo_loss: `batch` must have an even number of rows: the B "
                               "chosen rows, then the B rejected rows, got 5 rows.")
    with pytest.raises(ValueError) as info:
        dpo_loss()(policy, batch)
    assert str(info.value).startswith("dpo_loss: `lengths` must be given with the batch")
    with pytest.raises(ValueError) as info:
        dpo_loss(reference=_build("llama", {}, 1))(policy, batch, lengths, mx.zeros((6,)))
    assert str(info.value).startswith("dpo_loss: `ref_logps` must be None for a loss built "
                                      "with a `reference` model")
    with pytest.raises(ValueError) as info:
        orpo_loss()(policy, batch, lengths, mx.zeros((6,)))
    assert str(info.value) == ("orpo_loss: `ref_logps` must be None: this loss has no "
                               "reference model, got an array.")
    other = _build("llama", {"vocab_size": 96}, 1)
    with pytest.raises(UnsupportedModelError) as info:
        dpo_loss(reference=other)(policy, batch, lengths)
    assert "the reference's logits (vocabulary 96" in str(info.value)
    bad = mx.where(mx.arange(batch.shape[1]) == 1, tiny.VOCAB + 3, batch)
    with pytest.raises(ValueError) as info:
        simpo_loss()(policy, bad, lengths)
    assert str(info.value).startswith(f"simpo_loss: `batch` must hold token ids in [0, "
                                      f"{tiny.VOCAB})")
    for pairs, text in (([], "preference_batch: `pairs` must hold at least one"),
                        ([([1], [], [2])], "preference_batch: `pairs[0]` must have a non-empty"),
                        ([([1], [2])], "preference_batch: `pairs[0]` must be (prompt, chosen, "
                                       "rejected)")):
        with pytest.raises(ValueError) as info:
            preference_batch(pairs)
        assert str(info.value).startswith(text)


def test_compiled_step_matches_eager():
    """Under mx.compile (as mlx-lm's training step), first use included: the
    same loss and gradients as eagerly."""
    from functools import partial

    batch, lengths = preference_batch(_pairs())
    results = []
    for compiled in (False, True):
        policy, reference = _build("gemma2", {}, 0), _build("gemma2", {}, 1)
        reference.freeze()
        loss = dpo_loss(reference=reference, beta=0.5)
        grad_fn = nn.value_and_grad(policy, lambda m, b, l: loss(m, b, l)[0])

        def step(b, l):
            return grad_fn(policy, b, l)

        if compiled:
            step = partial(mx.compile, inputs=policy.state)(step)
        value, grads = step(batch, lengths)
        mx.eval(value, grads)
        results.append((value.item(), dict(tree_flatten(grads))))
    _close(results[1], results[0], rtol=1e-5)
