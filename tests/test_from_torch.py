"""mlx_losses.from_torch: each of torch's 23 loss classes, built with
non-default options, becomes the mlx_losses Module that gives the same value
and gradient on the same inputs."""

import warnings

import mlx.core as mx
import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import mlx_losses  # noqa: E402
from mlx_losses import from_torch  # noqa: E402
from mlx_losses._from_torch import TORCH_LOSSES  # noqa: E402
from mlx_losses.testing import assert_matches_torch  # noqa: E402

R = np.random.default_rng(0)


def _w(n):
    return torch.tensor(R.uniform(0.3, 2.0, size=n), dtype=torch.float32)


def _f(*shape, low=-2.0, high=2.0):
    return R.uniform(low, high, size=shape)


def _sign(*shape):
    return R.choice([-1.0, 1.0], size=shape).astype(np.float32)


def _idx(shape, C, fill=None):
    t = R.integers(0, C, size=shape)
    if fill is not None:
        t.flat[::3] = fill
    return t


def _log_softmax(x, axis):
    return x - np.log(np.exp(x - x.max(axis, keepdims=True)).sum(axis, keepdims=True)) - x.max(axis, keepdims=True)


# name: (torch constructor, [(value, differentiated?)...]) -- inputs in forward's order.
# Targets are held fixed (not differentiated); they are float32 or int64.
CASES = {
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), [(_f(3, 4), True), (_f(3, 4), True)]),
    "MSELoss": (lambda: nn.MSELoss(size_average=False), [(_f(3, 4), True), (_f(3, 4), True)]),
    "CrossEntropyLoss": (
        lambda: nn.CrossEntropyLoss(weight=_w(5), ignore_index=2, label_smoothing=0.1),
        [(_f(6, 5), True), (_idx((6,), 5, fill=2), False)],
    ),
    "NLLLoss": (
        lambda: nn.NLLLoss(weight=_w(5), ignore_index=1, reduction="sum"),
        [(_log_softmax(_f(6, 5), 1), True), (_idx((6,), 5, fill=1), False)],
    ),
    "NLLLoss2d": (
        lambda: nn.NLLLoss2d(weight=_w(4), reduction="none"),
        [(_log_softmax(_f(2, 4, 3, 3), 1), True), (_idx((2, 3, 3), 4), False)],
    ),
    "BCELoss": (
        lambda: nn.BCELoss(weight=_w(4), reduction="sum"),
        [(_f(3, 4, low=0.05, high=0.95), True), (_f(3, 4, low=0.0, high=1.0).astype(np.float32), False)],
    ),
    "BCEWithLogitsLoss": (
        lambda: nn.BCEWithLogitsLoss(weight=_w(4), pos_weight=_w(4)),
        [(_f(3, 4), True), (R.integers(0, 2, size=(3, 4)).astype(np.float32), False)],
    ),
    "KLDivLoss": (
        lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
        [(_log_softmax(_f(4, 5), 1), True), (_log_softmax(_f(4, 5), 1).astype(np.float32), False)],
    ),
    "PoissonNLLLoss": (
        lambda: nn.PoissonNLLLoss(log_input=False, full=True, eps=1e-4, reduction="sum"),
        [(_f(3, 4, low=0.2, high=3.0), True), (R.integers(0, 6, size=(3, 4)).astype(np.float32), False)],
    ),
    "GaussianNLLLoss": (
        lambda: nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum"),
        [(_f(4, 3), True), (_f(4, 3).astype(np.float32), False), (_f(4, 3, low=0.2, high=2.0), True)],
    ),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(beta=0.5, reduction="none"), [(_f(3, 4), True), (_f(3, 4), True)]),
    "HuberLoss": (lambda: nn.HuberLoss(delta=0.7, reduction="sum"), [(_f(3, 4), True), (_f(3, 4), True)]),
    "SoftMarginLoss": (lambda: nn.SoftMarginLoss(reduction="none"), [(_f(3, 4), True), (_sign(3, 4), False)]),
    "MultiLabelSoftMarginLoss": (
        lambda: nn.MultiLabelSoftMarginLoss(weight=_w(5), reduction="sum"),
        [(_f(4, 5), True), (R.integers(0, 2, size=(4, 5)).astype(np.float32), False)],
    ),
    "MultiLabelMarginLoss": (
        lambda: nn.MultiLabelMarginLoss(reduction="none"),
        [(_f(3, 5), True), (np.array([[3, 0, -1, 1, 1], [4, -1, 0, 0, 0], [1, 2, 3, 4, 0]]), False)],
    ),
    "MultiMarginLoss": (
        lambda: nn.MultiMarginLoss(p=2, margin=0.5, weight=_w(5), reduction="sum"),
        [(_f(4, 5), True), (_idx((4,), 5), False)],
    ),
    "HingeEmbeddingLoss": (
        lambda: nn.HingeEmbeddingLoss(margin=0.5, reduction="sum"),
        [(_f(3, 4), True), (_sign(3, 4), False)],
    ),
    "CosineEmbeddingLoss": (
        lambda: nn.CosineEmbeddingLoss(margin=0.2, reduction="none"),
        [(_f(4, 6), True), (_f(4, 6), True), (_sign(4), False)],
    ),
    "MarginRankingLoss": (
        lambda: nn.MarginRankingLoss(margin=0.3, reduction="sum"),
        [(_f(5), True), (_f(5), True), (_sign(5), False)],
    ),
    "TripletMarginLoss": (
        lambda: nn.TripletMarginLoss(margin=0.5, p=1.0, eps=1e-4, swap=True, reduction="none"),
        [(_f(4, 6), True), (_f(4, 6), True), (_f(4, 6), True)],
    ),
    "TripletMarginWithDistanceLoss": (
        lambda: nn.TripletMarginWithDistanceLoss(
            distance_function=nn.functional.pairwise_distance, margin=0.4, swap=True, reduction="sum"
        ),
        [(_f(4, 6), True), (_f(4, 6), True), (_f(4, 6), True)],
    ),
    "CTCLoss": (
        lambda: nn.CTCLoss(blank=1, reduction="sum", zero_infinity=True),
        # logits (T, N, C); log_softmax is applied on both sides (see below)
        [(_f(6, 2, 4), True), (np.array([[0, 2, 3], [3, 3, 0]]), False),
         (np.array([6, 5]), False), (np.array([3, 2]), False)],
    ),
    "LinearCrossEntropyLoss": (
        lambda: nn.LinearCrossEntropyLoss(
            6, 5, bias=True, weight=_w(5), ignore_index=0, label_smoothing=0.1, reduction="sum"
        ),
        [(_f(4, 6), True), (_idx((4,), 5, fill=0), False)],
    ),
}


def test_the_table_covers_every_torch_loss():
    assert sorted(CASES) == sorted(TORCH_LOSSES)
    for name in TORCH_LOSSES:
        assert isinstance(getattr(nn, name), type)


def _fixed(value):
    """A target, the same values on both sides (float32 or int64)."""
    if np.issubdtype(value.dtype, np.floating):
        value = value.astype(np.float32)
    return mx.array(value), torch.from_numpy(value.copy())


@pytest.mark.parametrize("name", sorted(TORCH_LOSSES))
def test_from_torch_gives_the_same_loss(name):
    make, inputs = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # size_average / NLLLoss2d deprecations
        theirs = make()
    ours = from_torch(theirs)
    assert type(ours).__name__ == name
    assert isinstance(ours, getattr(mlx_losses, name))

    diff = [v for v, d in inputs if d]
    fixed = {i: _fixed(v) for i, (v, d) in enumerate(inputs) if not d}

    def merge(side, args):
        it = iter(args)
        return [fixed[i][side] if i in fixed else next(it) for i in range(len(inputs))]

    if name == "CTCLoss":
        # torch's CTC gradient is right only after log_softmax (pytorch#52241)
        def ours_fn(x):
            return ours(*merge(0, [x - mx.logsumexp(x, axis=-1, keepdims=True)]))

        def theirs_fn(x):
            return theirs(*merge(1, [torch.log_softmax(x, dim=-1)]))
    else:
        def ours_fn(*xs):
            return ours(*merge(0, xs))

        def theirs_fn(*xs):
            return theirs(*merge(1, xs))

    assert_matches_torch(ours_fn, theirs_fn, *diff, dtypes=("float32",))


def test_legacy_options_arrive_folded_into_reduction():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = {
            (False, None): "sum",
            (None, False): "none",
            (True, True): "mean",
        }
        for (sa, rd), red in pairs.items():
            assert from_torch(nn.MSELoss(size_average=sa, reduce=rd)).reduction == red


def test_array_options_are_copied_with_dtype_and_frozen():
    w = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    ours = from_torch(nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.2))
    assert ours.weight.dtype == mx.float64
    np.testing.assert_array_equal(np.array(ours.weight), w.numpy())
    assert (ours.ignore_index, ours.label_smoothing) == (1, 0.2)
    assert not ours.trainable_parameters()


def test_linear_cross_entropy_copies_the_linear_layer_and_options():
    opts = nn.LinearCrossEntropyOptions(batch_chunk_size=2, chunking_method=None)
    theirs = nn.LinearCrossEntropyLoss(6, 5, bias=True, options=opts)
    ours = from_torch(theirs)
    assert type(ours.options) is mlx_losses.LinearCrossEntropyOptions
    assert (ours.options.batch_chunk_size, ours.options.chunking_method) == (2, None)
    from mlx.utils import tree_flatten

    values = sorted(np.array(v).size for _, v in tree_flatten(ours.trainable_parameters()))
    assert values == [5, 30]
    x = R.normal(size=(4, 6)).astype(np.float32)
    t = R.integers(0, 5, size=(4,))
    got = ours(mx.array(x), mx.array(t)).item()
    want = theirs(torch.from_numpy(x), torch.from_numpy(t)).item()
    assert got == pytest.approx(want, rel=1e-5)


def test_subclass_without_own_forward_is_accepted():
    class MyMSE(nn.MSELoss):
        pass

    assert type(from_torch(MyMSE(reduction="sum"))).__name__ == "MSELoss"


def test_unsupported_modules_raise_type_error():
    with pytest.raises(TypeError, match=r"from_torch: `module` must be a torch.nn loss Module .*got Linear"):
        from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="got str"):
        from_torch("MSELoss")

    class Custom(nn.MSELoss):
        def forward(self, a, b):
            return super().forward(a, b) * 2

    with pytest.raises(TypeError, match="Custom overrides MSELoss.forward"):
        from_torch(Custom())


def test_unknown_override_raises_type_error():
    with pytest.raises(TypeError, match="mlx_losses.MSELoss has no keyword `margin`"):
        from_torch(nn.MSELoss(), margin=1.0)


def test_custom_distance_function_needs_an_mlx_override():
    theirs = nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: (a - b).abs().sum(-1))
    with pytest.raises(ValueError, match="`distance_function` is a custom torch callable"):
        from_torch(theirs)

    def l1(a, b):
        return mx.sum(mx.abs(a - b), axis=-1)

    ours = from_torch(theirs, distance_function=l1)
    a, p, n = (R.normal(size=(3, 4)).astype(np.float32) for _ in range(3))
    got = ours(mx.array(a), mx.array(p), mx.array(n)).item()
    want = theirs(*(torch.from_numpy(v) for v in (a, p, n))).item()
    assert got == pytest.approx(want, rel=1e-5)


def test_pairwise_distance_module_becomes_ours_with_its_options():
    theirs = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1.0, eps=1e-3), margin=2.0)
    ours = from_torch(theirs)
    a, p, n = (R.normal(size=(3, 4)).astype(np.float32) for _ in range(3))
    got = ours(mx.array(a), mx.array(p), mx.array(n)).item()
    want = theirs(*(torch.from_numpy(v) for v in (a, p, n))).item()
    assert got == pytest.approx(want, rel=1e-5)
