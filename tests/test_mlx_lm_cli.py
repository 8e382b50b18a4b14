"""The command line: mlx_lm.lora's own parser and train_model, our loss."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("mlx_lm", reason="mlx-lm is not installed: pip install -e '.[mlx-lm]'")

from benchmarks.bench_mlx_lm import write_data_dir, write_model_dir  # noqa: E402
from mlx_losses.integrations import lora as cli  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = 60


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    model = write_model_dir(str(base / "model"), 300, words=WORDS, hidden=32)
    data = write_data_dir(str(base / "data"), rows=6, length=20, words=WORDS)
    return model, data, base


def _flags(dirs, *extra):
    model, data, base = dirs
    return ["--model", model, "--train", "--data", data, "--iters", "2", "--batch-size", "2",
            "--steps-per-report", "1", "--val-batches", "1", "--num-layers", "-1",
            "--adapter-path", str(base / "adapters"), *extra]


def test_same_flags_as_mlx_lm_plus_ours():
    from mlx_lm import lora

    theirs = {o for a in lora.build_parser()._actions for o in a.option_strings}
    ours = {o for a in cli.build_parser()._actions for o in a.option_strings}
    assert theirs < ours
    assert ours - theirs == {"--loss", "--batch-chunk-size", "--vocab-chunk-size",
                             "--label-smoothing", "--z-loss", "--loss-in-model-dtype",
                             "--token-mean"}


@pytest.mark.parametrize("extra, says", [
    ([], "mlx-losses: loss linear_cross_entropy_loss()"),
    (["--loss", "cross_entropy", "--label-smoothing", "0.1"],
     "mlx-losses: loss cross_entropy_loss(label_smoothing=0.1)"),
    (["--vocab-chunk-size", "128", "--z-loss", "0.001", "--token-mean",
      "--grad-accumulation-steps", "2", "--test", "--test-batches", "1"],
     "token-correct means"),
])
def test_trains_with_our_loss(dirs, extra, says, capsys):
    from mlx_lm import lora

    before = (lora.train, lora.evaluate, lora.build_parser, lora.run)
    cli.main(_flags(dirs, *extra))
    out = capsys.readouterr().out
    assert says in out and "mlx-losses: peak memory" in out
    assert (lora.train, lora.evaluate, lora.build_parser, lora.run) == before
    assert os.path.exists(os.path.join(dirs[2], "adapters", "adapters.safetensors"))
    if "--test" in extra:
        assert "Test loss" in out


def test_mlx_lm_loss_runs_mlx_lm_untouched(dirs, capsys, monkeypatch):
    from mlx_lm import lora

    seen = {}
    real = lora.train
    monkeypatch.setattr(lora, "train", lambda **kw: seen.update(kw) or real(**kw))
    cli.main(_flags(dirs, "--loss", "mlx-lm"))
    assert "loss" not in seen and "iterate_batches" not in seen
    assert "mlx-losses: loss" not in capsys.readouterr().out


@pytest.mark.parametrize("extra, text", [
    (["--loss", "mlx-lm", "--token-mean"],
     "`loss` must be chunked or cross_entropy with --token-mean, got 'mlx-lm'."),
    (["--loss", "cross_entropy", "--vocab-chunk-size", "64"],
     "`loss` must be chunked with --vocab-chunk-size, got 'cross_entropy'."),
    (["--label-smoothing", "2"], "`label_smoothing` must be in [0, 1], got 2.0."),
])
def test_bad_combinations_fail_before_loading(dirs, extra, text, monkeypatch):
    from mlx_lm import lora

    monkeypatch.setattr(lora, "load", lambda *a, **k: pytest.fail("loaded the model"))
    with pytest.raises(ValueError) as info:
        cli.main(_flags(dirs, *extra))
    assert text in str(info.value)


def test_module_runs_as_a_program(dirs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "mlx_losses.integrations.lora", "--help"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "--fine-tune-type" in proc.stdout and "--vocab-chunk-size" in proc.stdout
