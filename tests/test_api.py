"""The public API at its edges: every loss under a shapeless compile (however
it is called), ``group=`` on every public function and Module, and the
options torch takes as numbers (NumPy scalars, bools, 0-d arrays)."""

import importlib
import inspect
import pkgutil

import mlx.core as mx
import numpy as np
import pytest

import mlx_losses
from mlx_losses import functional as F
from mlx_losses.modules._base import _Loss

_HELPERS = ("cosine_similarity", "pairwise_distance", "sequence_log_probs")
LOSSES = [n for n in F.__all__ if n not in _HELPERS]
MODULES = sorted(
    n for n in mlx_losses.modules.__all__
    if isinstance(getattr(mlx_losses, n), type) and issubclass(getattr(mlx_losses, n), _Loss)
)


def _f(*shape, lo=-1.0, hi=1.0, seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    return mx.array(rng.uniform(lo, hi, size=shape).astype(np.float32))


def _value(out):
    """A loss's value: the ``loss`` of a named result (the preference losses)."""
    return np.array(out.loss if isinstance(out, tuple) else out)


def _sign(*shape):
    return mx.where(_f(*shape, seed=7) > 0, 1.0, -1.0)


# One small valid call per loss: positional arrays and keyword options.
def _inputs(name, n=4, c=5):
    t = mx.arange(n) % c
    lp = mx.log(mx.softmax(_f(6, n, c), axis=-1))
    return {
        "l1_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "mse_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "smooth_l1_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "huber_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "cross_entropy": ([_f(n, c), t], {}),
        "nll_loss": ([_f(n, c), t], {}),
        "binary_cross_entropy": ([_f(n, c, lo=0.1, hi=0.9), _f(n, c, lo=0.0, hi=1.0)], {}),
        "binary_cross_entropy_with_logits": ([_f(n, c), _f(n, c, lo=0.0, hi=1.0)], {}),
        "kl_div": ([_f(n, c), _f(n, c, lo=0.1, hi=1.0)], {"reduction": "batchmean"}),
        "poisson_nll_loss": ([_f(n, c), _f(n, c, lo=0.0, hi=3.0)], {}),
        "gaussian_nll_loss": ([_f(n, c), _f(n, c, seed=1), _f(n, c, lo=0.2, hi=2.0)], {}),
        "soft_margin_loss": ([_f(n, c), _sign(n, c)], {}),
        "multilabel_soft_margin_loss": ([_f(n, c), (_f(n, c, seed=2) > 0).astype(mx.float32)], {}),
        "multilabel_margin_loss": ([_f(n, c), mx.array([[3, 0, -1, 1, 2]] * n)], {}),
        "multi_margin_loss": ([_f(n, c), t], {}),
        "hinge_embedding_loss": ([_f(n, c), _sign(n, c)], {}),
        "cosine_embedding_loss": ([_f(n, c), _f(n, c, seed=1), _sign(n)], {}),
        "margin_ranking_loss": ([_f(n), _f(n, seed=1), _sign(n)], {}),
        "triplet_margin_loss": ([_f(n, c), _f(n, c, seed=1), _f(n, c, seed=2)], {}),
        "triplet_margin_with_distance_loss": ([_f(n, c), _f(n, c, seed=1), _f(n, c, seed=2)], {}),
        "ctc_loss": ([lp, mx.array([[1, 2, 3]] * n), mx.array([6] * n), mx.array([3] * n)], {}),
        "linear_cross_entropy": ([_f(n, 3), _f(c, 3), t], {}),
        "dpo_loss": ([_f(n, lo=-5.0, hi=-0.1, seed=s) for s in range(4)], {}),
        "orpo_loss": ([_f(n, lo=-2.0, hi=-0.1), _f(n, lo=-2.0, hi=-0.1, seed=1)], {}),
        "simpo_loss": ([_f(n, lo=-2.0, hi=-0.1), _f(n, lo=-2.0, hi=-0.1, seed=1)], {}),
        "kto_loss": ([_f(n, lo=-5.0, hi=-0.1), _f(n, lo=-5.0, hi=-0.1, seed=1), t % 2], {}),
        "fused_linear_dpo_loss": ([_f(n, 3, 2), _f(c, 2), t[:, None] * mx.ones((1, 3), mx.int32)],
                                  {"ref_input": _f(n, 3, 2, seed=1)}),
        "fused_linear_orpo_loss": ([_f(n, 3, 2), _f(c, 2), t[:, None] * mx.ones((1, 3), mx.int32)], {}),
        "fused_linear_simpo_loss": ([_f(n, 3, 2), _f(c, 2), t[:, None] * mx.ones((1, 3), mx.int32)], {}),
        "fused_linear_kto_loss": ([_f(n, 3, 2), _f(c, 2), t[:, None] * mx.ones((1, 3), mx.int32), t % 2],
                                  {"ref_input": _f(n, 3, 2, seed=1)}),
        "forward_kl_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "reverse_kl_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "generalized_jsd_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "fused_linear_jsd_loss": ([_f(n, 3), _f(c, 3), _f(n, 2), _f(c, 2)], {}),
        "sigmoid_focal_loss": ([_f(n, c), (_f(n, c, seed=2) > 0).astype(mx.float32)], {}),
        "focal_loss": ([_f(n, c), t], {}),
        "poly1_cross_entropy": ([_f(n, c), t], {}),
        "dice_loss": ([_f(n, c, 3), mx.arange(n * 3).reshape(n, 3) % c],
                      {"softmax": True, "to_onehot_y": True}),
        "generalized_dice_loss": ([_f(n, c, 3), mx.arange(n * 3).reshape(n, 3) % c],
                                  {"softmax": True, "to_onehot_y": True}),
        "tversky_loss": ([_f(n, c, 3), mx.arange(n * 3).reshape(n, 3) % c],
                         {"softmax": True, "to_onehot_y": True}),
        "info_nce_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "nt_xent_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "clip_loss": ([_f(n, c), _f(n, c, seed=1), mx.array(10.0)], {}),
        "siglip_loss": ([_f(n, c), _f(n, c, seed=1), mx.array(10.0), mx.array(-5.0)], {}),
        "supcon_loss": ([_f(n, 2, c), t], {}),
        "log_cosh_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
        "cosine_similarity_loss": ([_f(n, c), _f(n, c, seed=1)], {}),
    }[name]


def _family_exports(package):
    """name -> object of everything the family modules of ``package`` export."""
    out = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            family = importlib.import_module(f"{package.__name__}.{info.name}")
            out.update({n: getattr(family, n) for n in family.__all__})
    return out


def test_every_namespace_exports_every_loss():
    # The namespaces list their names literally (for static tools): a loss a
    # family exports but a namespace leaves out, or a name imported there
    # but missing from its __all__, fails here.
    from mlx_losses import losses, modules

    kernels = {n for n, obj in _family_exports(losses).items() if inspect.isfunction(obj)}
    assert kernels <= set(F.__all__), kernels - set(F.__all__)
    assert set(modules.__all__) == set(_family_exports(modules))
    assert set(modules.__all__) <= set(mlx_losses.__all__)
    for space in (F, modules, mlx_losses):
        public = {n for n, obj in vars(space).items()
                  if not n.startswith("_") and not inspect.ismodule(obj)}
        assert public <= set(space.__all__), (space.__name__, public - set(space.__all__))
        assert all(hasattr(space, n) for n in space.__all__), space.__name__


def test_the_input_table_covers_every_loss():
    for name in LOSSES:
        args, kwargs = _inputs(name)
        mx.eval(getattr(F, name)(*args, **kwargs))


def _as_keywords(name, args):
    params = list(inspect.signature(getattr(F, name)).parameters)
    return dict(zip(params, args))


_SHAPELESS = "must not be shapeless around a loss"


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_refuses_a_shapeless_compile_however_called(name):
    # Regression: the guard read only positional arrays, so a keyword call
    # compiled shapeless reused the first call's count (l1_loss gave the
    # mean over 2 rows for 3).
    fn = getattr(F, name)
    args, kwargs = _inputs(name)
    kw = _as_keywords(name, args)
    positional = lambda *a: fn(*a, **kwargs)  # noqa: E731
    keyword = lambda *a: fn(**dict(zip(kw, a)), **kwargs)  # noqa: E731
    mixed = lambda *a: fn(a[0], **dict(list(zip(kw, a))[1:]), **kwargs)  # noqa: E731
    for call in (positional, keyword, mixed):
        with pytest.raises(ValueError, match=_SHAPELESS):
            mx.eval(mx.compile(call, shapeless=True)(*args))
    # ...and a shape-specialised compile still gives the eager numbers
    np.testing.assert_allclose(_value(mx.compile(keyword)(*args)), _value(keyword(*args)),
                               rtol=1e-6, atol=1e-7)


def _function_of(module):
    """The functional loss a Module's ``__call__`` calls (the contract: one
    call into ``functional``), read from its code's names."""
    names = set(getattr(mlx_losses, module).__call__.__code__.co_names) & set(LOSSES)
    assert len(names) == 1, (module, names)
    return names.pop()


def test_every_module_calls_one_functional_loss():
    assert {m: _function_of(m) for m in ("L1Loss", "NLLLoss2d", "KLDivLoss")} == {
        "L1Loss": "l1_loss", "NLLLoss2d": "nll_loss", "KLDivLoss": "kl_div"}
    for m in MODULES:
        _function_of(m)


@pytest.mark.parametrize("name", [m for m in MODULES if m not in ("LinearCrossEntropyLoss",)])
def test_every_module_refuses_a_shapeless_compile(name):
    fname = _function_of(name)
    # the Dice family reads class indices with to_onehot_y (and softmax for logits)
    opts = {"to_onehot_y": True, "softmax": True} if name in (
        "DiceLoss", "GeneralizedDiceLoss", "TverskyLoss") else {}
    module = getattr(mlx_losses, name)(**opts)
    args, _ = _inputs(fname)
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(mx.compile(lambda *a: module(*a), shapeless=True)(*args))


def test_linear_cross_entropy_module_refuses_a_shapeless_compile():
    module = mlx_losses.LinearCrossEntropyLoss(3, 5)
    x, t = _f(4, 3), mx.arange(4)
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(mx.compile(lambda a, b: module(a, b), shapeless=True)(x, t))


def test_a_shapeless_compile_first_called_on_an_empty_batch_raises():
    # Regression: an empty first input carried no guard, so the graph traced
    # for it (a NaN mean) was reused for every later batch.
    f = mx.compile(lambda x, y: F.l1_loss(x, y), shapeless=True)
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(f(mx.zeros((0, 3)), mx.zeros((0, 3))))
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(f(mx.ones((2, 3)), mx.zeros((2, 3))))


def test_shapeless_refused_through_grad_vmap_and_a_closed_over_weight():
    x, y = _f(3, 4), _f(3, 4, seed=1)
    g = mx.grad(lambda a, b: F.mse_loss(target=b, input=a))
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(mx.compile(g, shapeless=True)(x, y))
    v = mx.vmap(lambda a, b: F.l1_loss(input=a, target=b))
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(mx.compile(v, shapeless=True)(x, y))
    # only the weight is traced
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(mx.compile(lambda w: F.l1_loss(x, y, weight=w), shapeless=True)(mx.ones((3, 4))))


def test_vmap_and_grad_of_keyword_calls_match_eager():
    x, y = _f(3, 4), _f(3, 4, seed=1)
    got = mx.vmap(lambda a, b: F.l1_loss(input=a, target=b))(x, y)
    want = F.l1_loss(x, y, reduction="none").mean(axis=1)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-6)
    got = mx.compile(mx.grad(lambda a: F.mse_loss(target=y, input=a)))(x)
    np.testing.assert_allclose(np.array(got), np.array(2 * (x - y) / x.size), rtol=1e-6)


def test_the_vocab_parallel_loss_refuses_a_shapeless_compile():
    from mlx_losses.distributed import vocab_parallel_cross_entropy

    f = mx.compile(lambda x, t: vocab_parallel_cross_entropy(x, t, group=None, vocab_start=0),
                   shapeless=True)
    with pytest.raises(ValueError, match=_SHAPELESS):
        mx.eval(f(_f(4, 5), mx.arange(4)))


def test_the_vocab_parallel_loss_checks_its_required_group():
    # Regression: a group that is not an mx.distributed.Group raised an
    # AttributeError from inside the kernel.
    from mlx_losses.distributed import vocab_parallel_cross_entropy

    with pytest.raises(TypeError, match=r"vocab_parallel_cross_entropy.*`group`.*Group or None.*str"):
        vocab_parallel_cross_entropy(_f(4, 5), mx.arange(4), group="ring", vocab_start=0)
    with pytest.raises(TypeError, match="group"):
        vocab_parallel_cross_entropy(_f(4, 5), mx.arange(4), vocab_start=0)  # still required


# ---------------------------------------------------------------- group=


@pytest.mark.parametrize("name", LOSSES)
def test_every_public_loss_takes_a_keyword_only_group(name):
    param = inspect.signature(getattr(F, name)).parameters.get("group")
    assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is None
    args, kwargs = _inputs(name)
    group = mx.distributed.init()  # one rank: the same numbers
    np.testing.assert_allclose(
        _value(getattr(F, name)(*args, group=group, **kwargs)),
        _value(getattr(F, name)(*args, **kwargs)), rtol=1e-6,
    )


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_hands_its_group_to_its_reductions(name, monkeypatch):
    # A group of one rank changes no number, so a kernel that dropped its
    # group would pass every value test here: record instead what each
    # reduction is given.
    from mlx_losses import _reduction

    fn = getattr(F, name)
    if "reduction" not in inspect.signature(fn).parameters:
        pytest.skip("no reduction option")
    real, seen = _reduction.active_group, []

    def spy(group=None):
        seen.append(group)
        return real(group)

    monkeypatch.setattr(_reduction, "active_group", spy)
    group = mx.distributed.init()
    args, kwargs = _inputs(name)
    for reduction in ("batchmean" if name == "kl_div" else "mean", "sum"):
        seen.clear()
        mx.eval(_value(fn(*args, **{**kwargs, "reduction": reduction}, group=group)))
        assert seen and all(g is group for g in seen), (reduction, seen)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_module_takes_group(name):
    # Regression: L1Loss, MSELoss, SoftMarginLoss and MultiLabelMarginLoss
    # (no __init__ of their own) refused group=.
    cls = getattr(mlx_losses, name)
    param = inspect.signature(cls).parameters.get("group")
    assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY
    group = mx.distributed.init()
    pos = (3, 5) if name == "LinearCrossEntropyLoss" else ()
    assert cls(*pos, group=group).group is group
    assert cls(*pos).group is None
    with pytest.raises(TypeError, match=rf"{name}: `group` must be an mx.distributed.Group or None, got int"):
        cls(*pos, group=1)


def test_a_module_with_group_reduces_over_it():
    group = mx.distributed.init()
    x, y = _f(3, 4), _f(3, 4, seed=1)
    for cls in (mlx_losses.L1Loss, mlx_losses.MSELoss):
        np.testing.assert_allclose(np.array(cls(group=group)(x, y)), np.array(cls()(x, y)), rtol=1e-6)


# ---------------------------------------------------------------- number options


_OPTIONS = [
    ("smooth_l1_loss", "beta", 0.5), ("huber_loss", "delta", 0.5),
    ("cross_entropy", "ignore_index", 1), ("cross_entropy", "label_smoothing", 0.25),
    ("nll_loss", "ignore_index", 1), ("poisson_nll_loss", "eps", 0.5),
    ("gaussian_nll_loss", "eps", 0.25), ("hinge_embedding_loss", "margin", 0.5),
    ("cosine_embedding_loss", "margin", 0.25), ("margin_ranking_loss", "margin", 0.25),
    ("multi_margin_loss", "p", 2), ("multi_margin_loss", "margin", 0.5),
    ("triplet_margin_loss", "margin", 0.5), ("triplet_margin_loss", "p", 1),
    ("triplet_margin_loss", "eps", 0.25), ("triplet_margin_with_distance_loss", "margin", 0.5),
    ("ctc_loss", "blank", 0), ("linear_cross_entropy", "ignore_index", 1),
    ("linear_cross_entropy", "label_smoothing", 0.25),
    ("dpo_loss", "beta", 0.5), ("dpo_loss", "label_smoothing", 0.25), ("orpo_loss", "beta", 0.5),
    ("simpo_loss", "gamma", 0.25), ("kto_loss", "kl", 0.25), ("kto_loss", "desirable_weight", 2),
    ("fused_linear_orpo_loss", "ignore_index", 1), ("generalized_jsd_loss", "beta", 0.25),
    ("forward_kl_loss", "temperature", 2), ("fused_linear_jsd_loss", "chunk_size", 2),
    ("sigmoid_focal_loss", "alpha", 0.5), ("focal_loss", "gamma", 1.5),
    ("focal_loss", "ignore_index", 1), ("focal_loss", "axis", -1),
    ("poly1_cross_entropy", "epsilon", 0.5), ("dice_loss", "smooth_nr", 0.5),
    ("dice_loss", "weight", 0.5), ("tversky_loss", "beta", 0.25),
    ("info_nce_loss", "temperature", 0.5), ("supcon_loss", "base_temperature", 0.5),
    ("cosine_similarity_loss", "eps", 0.25),
]


@pytest.mark.parametrize("name, option, value", _OPTIONS, ids=[f"{n}-{o}" for n, o, _ in _OPTIONS])
def test_numpy_and_0d_array_options_equal_the_python_number(name, option, value):
    # Regression: NumPy scalars and 0-d arrays (which torch takes where it
    # takes a number) were refused.
    fn = getattr(F, name)
    args, kwargs = _inputs(name)
    if name == "poisson_nll_loss":
        args, kwargs = [mx.abs(args[0]) + 0.1, args[1]], {"log_input": False}
    want = _value(fn(*args, **{option: value}, **kwargs))
    integer = isinstance(value, int)
    for alias in ((np.int64(value), np.int32(value), mx.array(value)) if integer
                  else (np.float32(value), np.float64(value), mx.array(value),
                        mx.array(value, dtype=mx.float64))):
        got = _value(fn(*args, **{option: alias}, **kwargs))
        np.testing.assert_array_equal(got, want, err_msg=f"{option}={alias!r}")


@pytest.mark.parametrize("name, option", [("hinge_embedding_loss", "margin"), ("multi_margin_loss", "p"),
                                          ("triplet_margin_loss", "p")])
def test_a_bool_number_option_is_0_or_1(name, option):
    fn = getattr(F, name)
    args, kwargs = _inputs(name)
    np.testing.assert_array_equal(np.array(fn(*args, **{option: True}, **kwargs)),
                                  np.array(fn(*args, **{option: 1}, **kwargs)))
