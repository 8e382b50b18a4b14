"""Benchmark: mlx-lm's trainer with its default loss against mlx-losses' losses.

Run by hand (never as a test)::

    python benchmarks/bench_mlx_lm.py                       # every configuration
    python benchmarks/bench_mlx_lm.py --vocab 32000 --modes lora --reps 3
    python benchmarks/bench_mlx_lm.py --cli                 # the command-line table

A tiny llama built from mlx-lm's own model classes (hidden size 64, 2 layers,
untied head), batch 4 x 256 tokens, vocabularies 32,000 and 151,936, trained
by mlx-lm's own ``train()`` (its compiled step, Adam) in three modes:
``full`` (every layer), ``lora`` (rank 8 on every layer) and ``qlora`` (the
model quantized to 4 bits, group size 64, then LoRA). Providers:

- ``mlx-lm``: mlx-lm's ``default_loss``;
- ``chunked``: ``linear_cross_entropy_loss()``;
- ``cross_entropy``: ``cross_entropy_loss()`` (the model's logits).

Metrics:

- ``first_step``: seconds of the first training step in a fresh process
  with an empty MLX kernel cache (``TMPDIR`` a new empty folder): mx.compile's
  trace plus compiling every new CPU kernel, the model's included;
- ``peak_memory``: ``mx.get_peak_memory()`` over that process's two training
  steps, after ``mx.reset_peak_memory()`` once the model and data exist (so
  the model's weights and the optimizer's state count, as for the trainer);
- ``step``: warm step seconds, the providers interleaved in one process
  (per repetition, two steps of ``train`` each, the second timed): median,
  p20 and p80 over ``--reps`` repetitions.

``--cli`` runs ``mlx_losses.lora`` on a model folder written here (a
word-level tokenizer, batch 4 x 256 tokens, every layer), with ``--loss
mlx-lm`` (mlx-lm's own ``run`` and ``default_loss``) and with its default
chunked loss, and reads the peak memory it prints after training.

Output: long-format JSON rows (``--json``) and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VOCABS = (32000, 151936)
MODES = ("full", "lora", "qlora")
PROVIDERS = ("mlx-lm", "chunked", "cross_entropy")
BATCH, SEQ = 4, 256
HIDDEN, LAYERS = 64, 2


# --------------------------------------------------------------------------
# the model, data and folders (also used by tests/test_mlx_lm_cli.py)


def llama_config(vocab: int, hidden: int = HIDDEN, layers: int = LAYERS) -> dict:
    return {"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers,
            "intermediate_size": 2 * hidden, "num_attention_heads": 4,
            "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": vocab,
            "tie_word_embeddings": False, "max_position_embeddings": 4096}


def tiny_llama(vocab: int, seed: int = 0, **kw):
    import mlx.core as mx
    from mlx_lm.models import llama

    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(llama_config(vocab, **kw)))
    mx.eval(model.parameters())
    return model


def synthetic_rows(vocab: int, rows: int, length: int, seed: int = 0):
    """Token rows of ``length`` tokens (a real batch is full, as the
    benchmark's batch 4 x 256 is)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [(rng.integers(0, vocab, size=length).tolist(), 0) for _ in range(rows)]


def write_model_dir(path: str, vocab: int, words: int = 200, quantize: bool = False,
                    **kw) -> str:
    """A model folder ``mlx_lm.load`` reads: config, weights and a word-level
    tokenizer over ``w0 .. w{words-1}`` (token ids below ``words``)."""
    from mlx_lm.utils import quantize_model, save_config, save_model
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    os.makedirs(path, exist_ok=True)
    model = tiny_llama(vocab, **kw)
    config = llama_config(vocab, **kw)
    if quantize:
        model, config = quantize_model(model, config, group_size=64, bits=4)
    save_model(path, model)
    save_config(config, os.path.join(path, "config.json"))
    table = {f"w{i}": i for i in range(words)}
    table.update({"<eos>": words, "<unk>": words + 1})
    tok = Tokenizer(models.WordLevel(vocab=table, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>",
                            pad_token="<eos>").save_pretrained(path)
    return path


def write_data_dir(path: str, rows: int = 16, length: int = SEQ - 1, words: int = 200,
                   seed: int = 0) -> str:
    """train/valid/test.jsonl of ``{"text": "w.. w.."}`` rows; with the eos
    the tokenizer adds, a row is ``length + 1`` tokens."""
    import numpy as np

    rng = np.random.default_rng(seed)
    os.makedirs(path, exist_ok=True)
    for split in ("train", "valid", "test"):
        with open(os.path.join(path, f"{split}.jsonl"), "w") as f:
            for _ in range(rows):
                text = " ".join(f"w{i}" for i in rng.integers(0, words, size=length))
                f.write(json.dumps({"text": text}) + "\n")
    return path


# --------------------------------------------------------------------------
# one configuration, in this process


def _loss(provider: str):
    if provider == "mlx-lm":
        from mlx_lm.tuner.trainer import default_loss

        return default_loss
    from mlx_losses.integrations.mlx_lm import cross_entropy_loss, linear_cross_entropy_loss

    return linear_cross_entropy_loss() if provider == "chunked" else cross_entropy_loss()


def _setup(vocab: int, mode: str):
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model = tiny_llama(vocab)
    if mode == "qlora":
        nn.quantize(model, group_size=64, bits=4)
    model.freeze()
    if mode == "full":  # mlx_lm.lora --fine-tune-type full: every layer
        for layer in model.layers:
            layer.unfreeze()
    else:
        linear_to_lora_layers(model, LAYERS, {"rank": 8, "scale": 20.0, "dropout": 0.0})
    mx.eval(model.parameters())
    return model


def _train(model, provider: str, data, steps: int, seconds: list, tmp: str) -> None:
    """mlx-lm's ``train`` for ``steps`` steps; each step's seconds appended."""
    import mlx.optimizers as optim
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.trainer import TrainingArgs, train

    class Clock(TrainingCallback):
        def on_train_loss_report(self, info):
            seconds.append(1.0 / info["iterations_per_second"])

    args = TrainingArgs(batch_size=BATCH, iters=steps, steps_per_report=1,
                        steps_per_save=10 ** 6, max_seq_length=SEQ + 1,
                        adapter_file=os.path.join(tmp, "adapters.safetensors"))
    train(model, optim.Adam(learning_rate=1e-4), data, None, args, loss=_loss(provider),
          training_callback=Clock())


def run_cold(vocab: int, mode: str, provider: str) -> dict:
    """First step (this process starts with an empty kernel cache) and the
    peak memory over two steps."""
    import mlx.core as mx

    model = _setup(vocab, mode)
    data = synthetic_rows(vocab, BATCH * 2, SEQ)
    seconds: list = []
    with tempfile.TemporaryDirectory() as tmp:
        mx.reset_peak_memory()
        _train(model, provider, data, 2, seconds, tmp)
        peak = mx.get_peak_memory()
    return {"first_step": seconds[0], "peak_memory": peak / 2 ** 20}


def run_warm(vocab: int, mode: str, providers, reps: int) -> dict:
    """Warm step seconds, the providers interleaved: per repetition, two
    steps of mlx-lm's trainer each, the second one timed."""
    models = {p: _setup(vocab, mode) for p in providers}
    data = synthetic_rows(vocab, BATCH * 2, SEQ)
    times = {p: [] for p in providers}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            for p in providers:
                seconds: list = []
                _train(models[p], p, data, 2, seconds, tmp)
                times[p].append(seconds[1])
    return {p: {"step": statistics.median(t), "step_p20": _quantile(t, 0.2),
                "step_p80": _quantile(t, 0.8), "reps": len(t)} for p, t in times.items()}


def _quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _versions() -> dict:
    import mlx.core as mx
    import mlx_lm

    return {"mlx": mx.__version__, "mlx_lm": mlx_lm.__version__,
            "python": platform.python_version()}


def _device() -> str:
    import mlx.core as mx

    return f"{mx.default_device()} ({platform.machine()}, {os.cpu_count()} cores)"


# --------------------------------------------------------------------------
# every configuration, each in a fresh process and kernel cache


def _subprocess(args, fresh_cache: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=ROOT)
        if fresh_cache:
            env["TMPDIR"] = tmp  # MLX's CPU kernel cache lives under $TMPDIR/mlx
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_all(vocabs, modes, providers, reps, log=print) -> list:
    rows = []

    def row(vocab, mode, provider, metric, unit, p50, p20, p80, n):
        rows.append({"loss": f"mlx_lm-{mode}", "provider": provider, "mode": "train-step",
                     "metric": metric, "unit": unit, "size": vocab,
                     "shape": f"{BATCH}x{SEQ}, hidden {HIDDEN}", "p50": p50, "p20": p20,
                     "p80": p80, "reps": n, "device": _device(), "versions": _versions()})

    for vocab in vocabs:
        for mode in modes:
            warm = _subprocess(["--warm", f"{vocab},{mode},{'+'.join(providers)}",
                                "--reps", str(reps)], fresh_cache=False)
            for provider in providers:
                cold = _subprocess(["--cold", f"{vocab},{mode},{provider}"], fresh_cache=True)
                w = warm[provider]
                log(f"vocab {vocab:>6} {mode:>5} {provider:>13}: first step "
                    f"{cold['first_step']:6.1f} s, warm step {w['step']:6.2f} s "
                    f"[{w['step_p20']:.2f}, {w['step_p80']:.2f}], peak "
                    f"{cold['peak_memory']:7.1f} MiB")
                row(vocab, mode, provider, "first_step", "s", cold["first_step"],
                    cold["first_step"], cold["first_step"], 1)
                row(vocab, mode, provider, "step", "s", w["step"], w["step_p20"],
                    w["step_p80"], w["reps"])
                row(vocab, mode, provider, "peak_memory", "MiB", cold["peak_memory"],
                    cold["peak_memory"], cold["peak_memory"], 1)
    return rows


def to_markdown(rows) -> str:
    def get(vocab, mode, provider, metric):
        for r in rows:
            if (r["size"], r["loss"], r["provider"], r["metric"]) == (
                    vocab, f"mlx_lm-{mode}", provider, metric):
                return r["p50"]
        return None

    out = ["| vocab | mode | loss | peak memory (MiB) | vs mlx-lm | warm step (s) | "
           "vs mlx-lm | cold first step (s) |", "|---|---|---|---|---|---|---|---|"]
    for vocab in sorted({r["size"] for r in rows}):
        for mode in MODES:
            base_peak = get(vocab, mode, "mlx-lm", "peak_memory")
            base_step = get(vocab, mode, "mlx-lm", "step")
            for provider in PROVIDERS:
                peak = get(vocab, mode, provider, "peak_memory")
                if peak is None:
                    continue
                step = get(vocab, mode, provider, "step")
                first = get(vocab, mode, provider, "first_step")
                rp = f"1/{base_peak / peak:.1f}" if base_peak else ""
                rs = f"{step / base_step:.2f}x" if base_step else ""
                out.append(f"| {vocab:,} | {mode} | {provider} | {peak:,.0f} | {rp} | "
                           f"{step:.2f} | {rs} | {first:.1f} |")
    return "\n".join(out)


# --------------------------------------------------------------------------
# the command line: mlx_lm.lora against mlx_losses.lora


def run_cli(vocab: int, iters: int, log=print) -> list:
    """Peak memory (as the command prints it) of ``mlx_losses.lora`` with
    ``--loss mlx-lm`` (mlx-lm's own run and default_loss, untouched) and with
    its default chunked loss, the same flags otherwise."""
    import re

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data_dir(os.path.join(tmp, "data"), rows=BATCH * iters)
        for fine_tune, quantize in (("full", False), ("lora", False), ("lora", True)):
            model = write_model_dir(os.path.join(tmp, f"model-{quantize}"), vocab,
                                    quantize=quantize)
            flags = ["--model", model, "--train", "--data", data, "--iters", str(iters),
                     "--batch-size", str(BATCH), "--steps-per-report", "1",
                     "--fine-tune-type", fine_tune, "--num-layers", "-1", "--val-batches",
                     "1", "--adapter-path", os.path.join(tmp, "adapters"),
                     "--max-seq-length", str(SEQ + 1)]
            name = "qlora" if quantize else fine_tune
            for loss in ("mlx-lm", "chunked"):
                cmd = [sys.executable, "-m", "mlx_losses.integrations.lora", *flags,
                       "--loss", loss]
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=ROOT),
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])
                peak = float(re.findall(r"mlx-losses: peak memory ([0-9.]+) GB",
                                        proc.stdout)[-1])
                log(f"{name:>5} --loss {loss:>7}: peak {peak:.3f} GB "
                    f"({time.perf_counter() - t0:.0f} s)")
                rows.append({"mode": name, "loss": loss, "vocab": vocab, "peak_gb": peak})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, nargs="*", default=list(VOCABS))
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    ap.add_argument("--providers", nargs="*", default=list(PROVIDERS), choices=PROVIDERS)
    ap.add_argument("--reps", type=int, default=5, help="interleaved warm repetitions")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--markdown", metavar="FILE")
    ap.add_argument("--cli", action="store_true", help="the command-line peaks instead")
    ap.add_argument("--cold", help=argparse.SUPPRESS)
    ap.add_argument("--warm", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.cold:
        vocab, mode, provider = a.cold.split(",")
        print(json.dumps(run_cold(int(vocab), mode, provider)))
        return 0
    if a.warm:
        vocab, mode, providers = a.warm.split(",")
        print(json.dumps(run_warm(int(vocab), mode, providers.split("+"), a.reps)))
        return 0
    if a.cli:
        rows = run_cli(a.vocab[0], 4)
        print(json.dumps(rows, indent=1))
        return 0
    rows = run_all(a.vocab, a.modes, a.providers, a.reps)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    table = to_markdown(rows)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
