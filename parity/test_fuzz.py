"""The differential fuzzer: one Hypothesis test per (loss, mode).

    pytest parity/test_fuzz.py -k multilabel_margin            # one loss
    pytest parity/test_fuzz.py -k "compile and not shapeless"  # one mode
    MLX_LOSSES_FUZZ=deep MLX_LOSSES_FUZZ_SEED=1 pytest parity/test_fuzz.py

See docs/fuzzing.md. A failure prints the shrunk example and a repro.
"""

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, given, note, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from parity.fuzz import profile as P  # noqa: E402
from parity.fuzz.families import all_losses  # noqa: E402
from parity.fuzz.runner import draw_example, judge, second_example  # noqa: E402

PROFILE = P.current()
LOSSES = all_losses()


def _params():
    out = []
    for name, loss in LOSSES.items():
        for mode in P.MODES:
            if mode == "module" and loss.module is None:
                continue
            out.append(pytest.param(name, mode, id=f"{name}-{mode}"))
    return out


def _settings(mode):
    kw = dict(
        max_examples=PROFILE.examples[mode],
        deadline=None,
        database=None,  # reproducible: no example replay from a local database
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        print_blob=True,
    )
    if PROFILE.seed is None:
        kw["derandomize"] = True
    return settings(**kw)


def _run(data, name, mode):
    loss = LOSSES[name]
    ex = draw_example(data.draw, loss, mode, PROFILE.deep)
    verdict, pair = judge(ex, mode)
    if mode == "shapeless" and verdict.ok:
        # the same compiled function again, on other shapes
        ex2 = second_example(data.draw, loss, ex)
        if ex2 is not None:
            verdict, _ = judge(ex2, mode, compiled=pair)
    if not verdict.ok:
        if verdict.open is not None:
            note(f"known open finding {verdict.open}: {verdict.message}")
            return
        raise AssertionError(f"{name} [{mode}]: {verdict.message}\n\nrepro:\n{verdict.repro}")


@pytest.mark.parametrize("name, mode", _params())
def test_fuzz(name, mode):
    """torch and ours agree on every drawn example, or a listed difference
    or known-open finding covers the mismatch."""

    @_settings(mode)
    @given(data=st.data())
    def fuzz(data):
        _run(data, name, mode)

    if PROFILE.seed is not None:
        fuzz = seed(PROFILE.seed)(fuzz)
    fuzz()


# ---- the runner itself: it must catch a wrong value, a wrong gradient, a
# wrong dtype and a missing error (a fuzzer that cannot fail is a defect)


def _wrong(kind):
    import mlx.core as mx

    import mlx_losses.functional as F

    def value(x, y, **kw):  # mse instead of l1
        return F.mse_loss(x, y, **kw)

    @mx.custom_function
    def _twice_grad(x, y):
        return F.l1_loss(x, y, reduction="none")

    @_twice_grad.vjp
    def _twice_grad_vjp(primals, cot, out):
        x, y = primals
        g = mx.vjp(lambda a, b: F.l1_loss(a, b, reduction="none"), [x, y], cot)[1]
        return [2 * g[0], g[1]]

    def gradient(x, y, **kw):
        return _twice_grad(*mx.broadcast_arrays(x, y)).sum() if kw.get("reduction") == "sum" \
            else F.l1_loss(x, y, **kw) if kw.get("reduction") != "none" \
            else _twice_grad(*mx.broadcast_arrays(x, y))

    def dtype(x, y, **kw):
        return F.l1_loss(x, y, **kw).astype(mx.float32)

    def no_error(x, y, **kw):
        kw.pop("reduction", None)
        return F.l1_loss(x, y, reduction="sum", **kw)

    return {"value": value, "gradient": gradient, "dtype": dtype, "no_error": no_error}[kind]


@pytest.mark.parametrize("kind", ["value", "gradient", "dtype", "no_error"])
def test_runner_catches(kind):
    from dataclasses import replace

    from hypothesis import find

    import parity.fuzz.draw as D

    base = LOSSES["l1_loss"]
    opts = {"*red": D.reduction(legacy=False, extra=("batchmean",))} if kind == "no_error" \
        else {"reduction": D.one(["none", "sum"] if kind == "gradient" else ["none", "mean", "sum"])}
    loss = replace(base, name="l1_loss", ours=_wrong(kind), options=opts, module=None)

    expect = {"value": "output", "gradient": "gradient", "dtype": "output dtype",
              "no_error": "torch raises"}[kind]

    def fails(data):
        ex = draw_example(data.draw, loss, "eager")
        v = judge(ex, "eager")[0]
        return not v.ok and v.open is None and expect in v.message

    find(st.data(), fails, settings=settings(max_examples=300, database=None, derandomize=True,
                                              deadline=None, phases=(Phase.generate,),
                                              suppress_health_check=list(HealthCheck)))
