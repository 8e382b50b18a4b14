"""Every example runs in --quick mode and does what it says it does."""

import importlib.util
import os
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


def test_segmentation_reaches_its_quality_bar(capsys):
    mod = _load("segmentation")
    miou = mod.main(["--quick"])
    assert miou >= mod.QUALITY_BAR
    out = capsys.readouterr().out
    assert "epoch  1  loss" in out and "final mean IoU" in out


@pytest.mark.parametrize("loss", ["clip", "siglip"])
def test_contrastive_learns_to_retrieve(loss, capsys):
    mod = _load("contrastive")
    acc = mod.main(["--quick", "--loss", loss])
    assert acc >= mod.QUALITY_BAR
    out = capsys.readouterr().out
    assert "temperature" in out and "final retrieval accuracy" in out


def test_lm_head_chunked_uses_less_memory_same_loss(capsys):
    ref_peak, ch_peak, worst = _load("lm_head_memory").main(["--quick"])
    assert ch_peak < ref_peak
    assert worst < 1e-4
    # a line per batch: the full run takes minutes per epoch
    out = capsys.readouterr().out
    assert "[reference] epoch 1 batch 1/3" in out and "[chunked] epoch 2 batch 3/3" in out


@pytest.mark.parametrize("loss", ["dpo", "orpo"])
def test_preference_mlx_lm_reward_accuracy_rises(loss, capsys):
    pytest.importorskip("mlx_lm")
    mod = _load("preference_mlx_lm")
    before, after, peak = mod.main(["--quick", "--loss", loss])
    assert after >= mod.QUALITY_BAR and after > before
    out = capsys.readouterr().out
    assert "step   10  loss" in out and "final held-out reward accuracy" in out and "peak memory" in out


def test_finetune_mlx_lm_same_curve_less_memory(capsys):
    pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")
    base_peak, our_peak, worst, losses = _load("finetune_mlx_lm").main(["--quick"])
    assert our_peak < base_peak
    assert worst < 1e-5
    out = capsys.readouterr().out
    assert "[mlx-lm default_loss] step 1/4" in out and "[mlx-losses chunked] step 4/4" in out
    assert "peak memory: mlx-lm default_loss" in out


def test_plot_without_matplotlib_fails_before_training(monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    with pytest.raises(SystemExit) as info:
        _load("port_from_pytorch").main(["--quick", "--plot", "curves.png"])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "--plot needs matplotlib" in err
    assert out == ""  # no training step ran


# The command exactly as README.md and docs/distributed.md show it.
DATA_PARALLEL = "mlx.launch -n 2 --backend ring examples/data_parallel.py"


def test_data_parallel_as_documented():
    for page in ("README.md", os.path.join("docs", "distributed.md")):
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            assert DATA_PARALLEL in f.read(), page
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # mlx.launch exits 0 even when a rank fails: the printed line is the check.
    # One retry: the ring backend's fixed default ports may be taken by a concurrent run.
    for _ in range(2):
        proc = subprocess.run(["bash", "-c", DATA_PARALLEL], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=180)
        if "matches single-process loss: True" in proc.stdout:
            break
    assert "matches single-process loss: True" in proc.stdout, proc.stdout + proc.stderr
    assert "step  0  global loss" in proc.stdout and "(ranks: 2)" in proc.stdout
