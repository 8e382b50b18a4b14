"""Determinism: the same inputs twice give bitwise-identical values and
gradients, for every loss, eagerly, through the Module and under
``mx.compile``.

The inputs are the fuzzer's (``parity/fuzz``: every option, special values,
every float dtype), drawn with a fixed seed; no torch is needed.
"""

import inspect

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlx_losses
from parity.fuzz.example import Arr, PerSide
from parity.fuzz.families import all_losses
from parity.fuzz.runner import draw_example

LOSSES = all_losses()
MODES = ("eager", "module", "compile")
_BITS = {mx.float64: mx.uint64, mx.float32: mx.uint32, mx.float16: mx.uint16,
         mx.bfloat16: mx.uint16}


def _mx(v, dtype):
    if isinstance(v, Arr):
        if v.floating:
            if dtype == "float64":
                return mx.array(np.asarray(v.values, np.float64), dtype=mx.float64)
            return mx.array(np.asarray(v.values, np.float32)).astype(getattr(mx, dtype))
        return mx.array(np.asarray(v.values).astype(v.dtype))
    if isinstance(v, PerSide):
        return v.ours()
    return v


def _bits(a: mx.array) -> np.ndarray:
    """The raw bits (NaN payloads and signed zeros included)."""
    return np.array(a.view(_BITS[a.dtype]) if a.dtype in _BITS else a)


def _module_fn(loss, kwargs):
    """Our Module with the options as constructor keywords, or None where
    the Module takes none of some option (e.g. ``L1Loss`` and ``weight``)."""
    if loss.module is None:
        return None
    cls = getattr(mlx_losses, loss.module)
    if loss.module_split is not None:
        ctor, call_kw = loss.module_split(kwargs)
    else:
        params = inspect.signature(cls.__init__).parameters
        if not set(kwargs) <= set(params):
            return None
        ctor, call_kw = kwargs, {}

    def f(*args):
        m = cls(**ctor)
        if loss.module_call is not None:
            return loss.module_call(m, *args, **call_kw)
        return m(*args, **call_kw)

    return f


def _run_twice(fn, args, grad_idx):
    """(outputs, gradients) of two calls, each as raw bits."""
    runs = []
    for _ in range(2):
        prims = [args[i] for i in grad_idx]

        def g(*p):
            full = list(args)
            for i, v in zip(grad_idx, p):
                full[i] = v
            return fn(*full)

        out = g(*prims)
        mx.eval(out)
        grads = []
        if grad_idx and mx.issubdtype(out.dtype, mx.floating):
            cot = mx.cos(mx.arange(out.size, dtype=mx.float32)).reshape(out.shape).astype(out.dtype)
            grads = mx.vjp(g, prims, [cot])[1]
            mx.eval(grads)
        runs.append([_bits(out)] + [_bits(x) for x in grads])
    return runs


# Examples per loss: compiled graphs are native kernels to build on a cold cache.
_EXAMPLES = {"eager": 3, "module": 3, "compile": 2}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_same_inputs_same_bits(name, mode):
    @settings(max_examples=_EXAMPLES[mode], derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        _check(name, mode, data)

    check()


def _check(name, mode, data):
    loss = LOSSES[name]
    ex = draw_example(data.draw, loss, "compile" if mode == "compile" else "eager")
    args = [_mx(a, ex.dtype) for a in ex.args]
    kwargs = {k: _mx(v, ex.dtype) for k, v in ex.kwargs.items()}
    if mode == "module":
        fn = _module_fn(loss, kwargs)
        if fn is None:
            return
    else:
        base = loss.ours_fn()
        fn = (lambda *a: base(*a, **kwargs))
    arrays = [i for i, a in enumerate(args) if isinstance(a, mx.array)]
    grad_idx = [i for i in ex.grad_idx() if i in arrays]
    if mode == "compile":
        inner = fn

        def fn(*a):  # every array an input of the compiled graph
            return compiled(*[a[i] for i in arrays])

        def flat(*arrs):
            full = list(args)
            for i, v in zip(arrays, arrs):
                full[i] = v
            return inner(*full)

        compiled = mx.compile(flat)
    try:
        first, second = _run_twice(fn, args, grad_idx)
    except (ValueError, TypeError, IndexError):
        return  # an input the loss refuses (the fuzzer checks the error itself)
    assert len(first) == len(second)
    for k, (a, b) in enumerate(zip(first, second)):
        what = "output" if k == 0 else f"gradient {k - 1}"
        assert a.shape == b.shape and np.array_equal(a, b), f"{name} [{mode}] {what} differs: {ex!r}"


def test_detects_a_difference():
    """The comparison is bitwise: a loss that adds fresh noise fails it, and
    so does one that differs only in a NaN's sign or a zero's sign."""
    x = mx.array([1.0, 2.0, 3.0])
    noisy = lambda a: mx.sum(a * mx.random.uniform(shape=a.shape))  # noqa: E731
    first, second = _run_twice(noisy, [x], [0])
    assert not np.array_equal(first[0], second[0])
    assert not np.array_equal(_bits(mx.array(0.0)), _bits(mx.array(-0.0)))
