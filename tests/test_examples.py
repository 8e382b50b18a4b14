"""Every example runs in --quick mode and does what it says it does."""

import importlib.util
import os
import random
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_classifier_learns(capsys):
    acc = _load("train_classifier").main(["--quick"])
    assert acc >= 0.85
    assert "final accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("loss", ["cross_entropy", "huber", "bce_with_logits", "nll"])
def test_port_from_pytorch_curves_agree(loss, capsys):
    pytest.importorskip("torch")
    mod = _load("port_from_pytorch")
    worst = mod.main(["--loss", loss, "--quick"])
    assert worst <= mod.TOLERANCE
    assert "max relative difference" in capsys.readouterr().out


def test_ctc_sequence_transcribes(capsys):
    cer = _load("ctc_sequence").main(["--quick"])
    assert cer <= 0.35
    assert "final CER" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [[], ["--cosine"]])
def test_metric_learning_improves_retrieval(flags):
    acc = _load("metric_learning").main(["--quick", *flags])
    assert acc >= 0.8


def test_lm_head_chunked_uses_less_memory_same_loss():
    ref_peak, ch_peak, worst = _load("lm_head_memory").main(["--quick"])
    assert ch_peak < ref_peak
    assert worst < 1e-4


def test_data_parallel_example_under_mlx_launch():
    port = random.randint(20000, 40000)
    cmd = [
        sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()",
        "-n", "2", "--backend", "ring", "--starting-port", str(port), "--python", sys.executable,
        os.path.join(EXAMPLES, "data_parallel.py"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert "matches single-process loss: True" in proc.stdout, proc.stdout + proc.stderr
