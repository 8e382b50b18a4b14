"""The device policy (``mlx_losses._device``): one answer, one test switch."""

import mlx.core as mx
import pytest

from mlx_losses import _device as D
from mlx_losses import functional as F
from mlx_losses import _numerics


def test_the_device_decides_unless_forced():
    before = D.forced()  # the environment's, if any
    with D._forced_branches(None):
        assert D.forced() is None
        assert D.cpu_branches() == (mx.default_device() == mx.cpu)
        with mx.stream(mx.cpu):
            assert D.cpu_branches() and D.branches() == "cpu"
        with D._forced_branches("gpu"):
            assert not D.cpu_branches() and D.branches() == "gpu" and D.forced() == "gpu"
            with D._forced_branches("cpu"):
                assert D.cpu_branches()
            assert D.branches() == "gpu"
    assert D.forced() == before


def test_the_switch_names_its_values():
    assert D._parse("GPU") == "gpu" and D._parse(" cpu ") == "cpu"
    assert D._parse(None) is None and D._parse("") is None and D._parse("device") is None
    with pytest.raises(ValueError, match=r"MLX_LOSSES_DEVICE_BRANCHES must be 'cpu', 'gpu', 'device' or unset, got 'metal'\."):
        D._parse("metal")
    with pytest.raises(ValueError, match="got 'tpu'"):
        with D._forced_branches("tpu"):
            pass


def test_a_compiled_trace_serves_only_its_branches():
    # mx.compile keeps the branches a trace took; each kind has its own trace
    f = D.compile_by_branch(lambda x: x + (1.0 if D.cpu_branches() else 2.0))
    x = mx.ones((3,))
    with D._forced_branches("cpu"):
        assert f(x).tolist() == [2.0] * 3
    with D._forced_branches("gpu"):
        assert f(x).tolist() == [3.0] * 3
    with D._forced_branches("cpu"):
        assert f(x).tolist() == [2.0] * 3
    g = D.compile_by_branch(shapeless=True)(lambda x: x * (1.0 if D.cpu_branches() else -1.0))
    with D._forced_branches("gpu"):
        assert g(mx.ones((2,))).tolist() == [-1.0, -1.0]


def test_the_package_kernels_retrace_for_the_other_branches(monkeypatch):
    # BCE's forward is a compiled kernel around _numerics.log1p: after a
    # CPU-branch call, a GPU-branch call must trace it again (and so ask
    # the policy), not replay the CPU trace. (A 6-d input: a trace of its
    # own, whatever ran before; shapeless traces are per ndim.)
    p = mx.array([0.1, 0.5, 0.9]).reshape(1, 1, 1, 1, 1, 3)
    y = mx.array([0.0, 1.0, 0.5]).reshape(1, 1, 1, 1, 1, 3)
    with D._forced_branches("cpu"):
        cpu = F.binary_cross_entropy(p, y, reduction="none")
    asked = []

    def spy():
        asked.append(1)
        return D.cpu_branches()

    monkeypatch.setattr(_numerics, "cpu_branches", spy)
    with D._forced_branches("gpu"):
        gpu = F.binary_cross_entropy(p, y, reduction="none")
    assert asked
    assert mx.allclose(cpu, gpu, rtol=1e-6, atol=1e-7).item()
