"""DPO (or ORPO) on a tiny mlx-lm model with the fused preference losses
(``mlx_losses.integrations.mlx_lm.dpo_loss`` / ``orpo_loss``): the (tokens x
vocabulary) logits are never held.

    python examples/preference_mlx_lm.py
    python examples/preference_mlx_lm.py --loss orpo --quick
    python examples/preference_mlx_lm.py --quantize-reference

The model is mlx-lm's own Llama class with a tiny config (tied embeddings),
trained from scratch on synthetic preference pairs: a random prompt, a
chosen completion that follows a rule (count up from the prompt's last
token) and a rejected one that does not (random tokens). DPO's reference is
a frozen copy of the initial policy (4-bit with ``--quantize-reference``);
ORPO needs none. The script prints the loss and the reward accuracy on a
held-out set as training goes (the fraction of pairs whose chosen
completion gets the larger reward), then the peak memory of the run. Needs
mlx-lm (``pip install mlx-lm``).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from mlx_losses.integrations.mlx_lm import dpo_loss, orpo_loss, preference_batch

QUALITY_BAR = 0.9  # held-out reward accuracy the --quick run reaches


def tiny_llama(vocab: int, hidden: int, layers: int):
    from mlx_lm.models import llama

    args = llama.ModelArgs(model_type="llama", hidden_size=hidden, num_hidden_layers=layers,
                           intermediate_size=2 * hidden, num_attention_heads=4, rms_norm_eps=1e-5,
                           vocab_size=vocab, tie_word_embeddings=True)
    return llama.Model(args)


def make_pairs(n: int, vocab: int, prompt: int, completion: int, rng: np.random.Generator):
    """(batch, lengths) for n pairs: the n chosen rows, then the n rejected
    ones (``preference_batch``); only the completions are counted."""
    p = rng.integers(0, vocab, size=(n, prompt))
    chosen = (p[:, -1:] + np.arange(1, completion + 1)) % vocab  # the rule: count up
    rejected = rng.integers(0, vocab, size=(n, completion))
    return preference_batch(zip(p.tolist(), chosen.tolist(), rejected.tolist()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loss", choices=("dpo", "orpo"), default="dpo")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--quantize-reference", action="store_true",
                    help="DPO's reference model in 4 bits (its head a QuantizedWeight)")
    args = ap.parse_args(argv)
    if args.quick:
        vocab, hidden, layers, steps, pairs = 512, 64, 2, 60, 16
    else:
        vocab, hidden, layers, steps, pairs = 32000, 128, 4, 300, 32
    prompt, completion = 6, 6
    beta = 0.1 if args.loss == "dpo" else 0.2
    rng = np.random.default_rng(0)
    mx.random.seed(0)

    model = tiny_llama(vocab, hidden, layers)
    reference = None
    if args.loss == "dpo":
        reference = copy.deepcopy(model)  # the initial policy, frozen
        if args.quantize_reference:
            nn.quantize(reference, group_size=64, bits=4)
        reference.freeze()
    mx.eval(model.parameters())
    # the model's head (tied here, quantized or not) is found by the loss itself
    loss_fn = dpo_loss(reference=reference, beta=beta) if args.loss == "dpo" else orpo_loss(beta=beta)
    held_out = make_pairs(128, vocab, prompt, completion, rng)

    def evaluate():
        out = loss_fn.output(model, *held_out)
        return mx.mean(out.reward_accuracy).item(), mx.mean(out.reward_margins).item()

    step_fn = nn.value_and_grad(model, lambda m, b, l: loss_fn(m, b, l)[0])
    opt = optim.AdamW(learning_rate=3e-3, weight_decay=0.0)
    acc0, _ = evaluate()
    print(f"{args.loss}: vocab {vocab}, hidden {hidden}, {layers} layers, {pairs} pairs per step; "
          f"held-out reward accuracy before training {acc0:.2f}", flush=True)
    mx.reset_peak_memory()
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        batch, lengths = make_pairs(pairs, vocab, prompt, completion, rng)
        loss, grads = step_fn(model, batch, lengths)
        opt.update(model, grads)
        mx.eval(loss, model.parameters(), opt.state)
        if step % (steps // 6) == 0 or step == steps:
            acc, margin = evaluate()
            print(f"step {step:4d}  loss {loss.item():.4f}  held-out reward accuracy {acc:.2f}  "
                  f"margin {margin:+.3f}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    peak = mx.get_peak_memory() / 2**20
    logits = 2 * pairs * (prompt + completion - 1) * vocab * 4 / 2**20
    print(f"final held-out reward accuracy {acc:.2f} (from {acc0:.2f})")
    print(f"peak memory {peak:.1f} MiB (one batch's float32 logits alone: {logits:.1f} MiB, "
          f"twice with the reference)")
    return acc0, acc, peak


if __name__ == "__main__":
    acc0, acc, _ = main()
    sys.exit(0 if acc > acc0 else 1)
