"""Parity table: CTC loss.

Gradients are compared w.r.t. the *logits* before ``log_softmax`` on both
sides (``ours_fn`` / ``torch_fn`` take logits): torch's gradient w.r.t.
``log_probs`` is only right after that projection (pytorch/pytorch#52241),
ours is the true one, and the two agree through ``log_softmax``.
"""

import math

import numpy as np

from parity.runner import Case, ErrorCase
from parity.specs import Derived, Float, Lengths, Literal


def _log_softmax_mx(z):
    """log_softmax over the last axis, accurate in float64 (MLX's float64
    ``exp`` on the CPU has float32 accuracy; ``power`` does not) and computed
    in float32 for half types, rounded back once like torch's."""
    import mlx.core as mx

    dt = z.dtype
    x = z.astype(mx.float32) if dt in (mx.float16, mx.bfloat16) else z
    if x.dtype == mx.float64:
        exp = lambda v: mx.power(mx.array(math.e, dtype=mx.float64), v)  # noqa: E731
    else:
        exp = mx.exp
    m = mx.stop_gradient(mx.max(x, axis=-1, keepdims=True))
    lse = m + mx.log(mx.sum(exp(x - m), axis=-1, keepdims=True))
    return (x - lse).astype(dt)


def _ours(z, targets, input_lengths, target_lengths, **kw):
    from mlx_losses.functional import ctc_loss

    return ctc_loss(_log_softmax_mx(z), targets, input_lengths, target_lengths, **kw)


def _theirs(z, targets, input_lengths, target_lengths, **kw):
    import torch.nn.functional as TF

    return TF.ctc_loss(z.log_softmax(-1), targets, input_lengths, target_lengths, **kw)


def _module_call(module, z, *rest):
    return module(_log_softmax_mx(z), *rest)


def _labels(shape, C, blank=0):
    """Random labels in [0, C) without ``blank``."""
    choices = np.array([c for c in range(C) if c != blank])

    def make(rng):
        return choices[rng.integers(0, len(choices), size=shape)].astype(np.int64)

    return Derived(make, floating=False, grad=False)


def _blank_collapsed(shape, margin):
    """Logits of a model that puts nearly all its mass on blank (class 0)."""

    def make(rng):
        z = rng.normal(size=shape)
        z[..., 0] += margin
        return z

    return make


def _case(name, args, kwargs=None, **extra):
    """A CTC case: logits in, log_softmax on each side, Module checked too."""
    return Case(
        name, "ctc_loss", args, kwargs or {}, module="CTCLoss",
        ours_fn=_ours, torch_fn=_theirs, module_call=_module_call,
        torch_half=False,  # torch has no CPU half kernel: its float32 error is the baseline
        **extra,
    )


T, N, C, S = 12, 3, 6, 4

CASES = [
    # padded targets, array lengths, input lengths <= T
    _case("padded", [Float((T, N, C)), _labels((N, S), C), Lengths(N, 2 * S + 1, T), Lengths(N, 1, S)]),
    _case("full_lengths", [Float((T, N, C)), _labels((N, S), C), Literal([T] * N), Literal([S] * N)]),
    _case("tuple_lengths", [Float((T, N, C)), _labels((N, S), C),
                            Lengths(N, 2 * S + 1, T, as_tuple=True), Lengths(N, 1, S, as_tuple=True)]),
    # concatenated 1-D targets (sum of lengths 7), lengths as arrays and as tuples
    _case("concatenated", [Float((T, N, C)), _labels((7,), C), Literal([10, 12, 9]), Literal([4, 3, 0])]),
    _case("concatenated_tuple", [Float((T, N, C)), _labels((7,), C), (12, 8, 11), (2, 1, 4)]),
    # empty targets (and input length 0: loss 0 for an empty target)
    _case("empty_target", [Float((T, N, C)), _labels((N, S), C), Literal([T, 5, 0]), Literal([0, 2, 0])]),
    # repeated labels need a blank between them: [1,1,1,1] needs 7 frames
    _case("repeated", [Float((T, N, C)), Literal([[1, 1, 1, 1], [2, 2, 3, 3], [4, 5, 4, 5]]),
                       Literal([7, 8, 12]), Literal([4, 4, 4])]),
    # impossible alignments: inf (NaN gradient), or 0 with zero_infinity
    _case("impossible", [Float((T, N, C)), Literal([[1, 1, 1, 1], [2, 3, 4, 5], [1, 2, 3, 4]]),
                         Literal([6, 3, 12]), Literal([4, 4, 4])]),
    _case("impossible_zero_inf", [Float((T, N, C)), Literal([[1, 1, 1, 1], [2, 3, 4, 5], [1, 2, 3, 4]]),
                                  Literal([6, 3, 12]), Literal([4, 4, 4])], {"zero_infinity": True}),
    _case("zero_inf_finite", [Float((T, N, C)), _labels((N, S), C), Lengths(N, 2 * S + 1, T),
                              Lengths(N, 1, S)], {"zero_infinity": True}),
    # short input lengths (exactly the minimum for some samples)
    _case("short_inputs", [Float((T, N, C)), Literal([[1, 2, 3, 4], [2, 2, 0, 0], [3, 0, 0, 0]]),
                           Literal([4, 3, 1]), Literal([4, 2, 1])]),
    # blank != 0
    _case("blank_last", [Float((T, N, C)), _labels((N, S), C, blank=C - 1), Lengths(N, 2 * S + 1, T),
                         Lengths(N, 1, S)], {"blank": C - 1}),
    _case("blank_middle", [Float((T, N, C)), _labels((N, S), C, blank=2), Lengths(N, 2 * S + 1, T),
                           Lengths(N, 1, S)], {"blank": 2}),
    # int32 targets and lengths
    _case("int32", [Float((T, N, C)), Literal([[1, 2, 2, 5], [3, 4, 0, 0], [5, 1, 5, 0]], dtype="int32"),
                    Literal([12, 10, 9], dtype="int32"), Literal([4, 2, 3], dtype="int32")]),
    # unbatched: (T, C); 1-D targets hold exactly target_length labels (torch
    # reads them as the concatenated form), (1, S) targets are padded;
    # lengths as 0-d arrays, (1,) arrays or 1-tuples
    _case("unbatched", [Float((T, C)), _labels((3,), C), Literal(10), Literal(3)]),
    _case("unbatched_tuple", [Float((T, C)), _labels((S,), C), (T,), (S,)]),
    _case("unbatched_padded", [Float((T, C)), _labels((1, S), C), Literal([9]), Literal([2])]),
    # longer sequences and more classes (more accumulation)
    _case("long", [Float((60, 4, 20), -3.0, 3.0), _labels((4, 15), 20), Lengths(4, 31, 60),
                   Lengths(4, 5, 15)], dtypes=("float64", "float32"),
          # the posterior exp(alpha + beta - log p) carries the absolute float32
          # rounding of alpha (|alpha| ~ 100 at T = 60): ~2e-5 of the largest
          # gradient, the size of torch's own float32 error on this case
          tol={"float32": (1e-4, 5e-5)}),
    # far-apart alignment costs (guards for any faster kernel: a probability-
    # domain recursion, even in float64, loses paths more than ~700 nats below
    # the best prefix): peaky logits (log-probabilities down to ~-200), and a
    # blank-collapsed model (every label ~e^-16) with long targets. float32:
    # the posterior exp(alpha + beta - log p) carries the absolute float32
    # rounding of |alpha| ~ 1000 (~1e-4 of the largest gradient); torch's own
    # float32 gradient is off by 0.3 to 2.6 (absolute) on these inputs.
    _case("peaky", [Float((40, 3, 6), -100.0, 100.0), _labels((3, 8), 6), Lengths(3, 17, 40),
                    Lengths(3, 4, 8)], dtypes=("float64", "float32"), reductions=("none",),
          tol={"float32": (5e-4, 2e-4)}),
    _case("blank_collapsed", [Derived(_blank_collapsed((300, 2, 8), 16.0)), _labels((2, 60), 8),
                              Literal([300, 280]), Literal([60, 55])],
          dtypes=("float64", "float32"), reductions=("none", "mean"), tol={"float32": (5e-4, 2e-4)}),
]


def _lp(shape=(T, N, C)):
    return Float(shape, grad=False)


_PADDED = Literal([[1, 2, 3, 4], [2, 3, 4, 5], [1, 1, 2, 2]])

ERROR_CASES = [
    ErrorCase("input_length_gt_T", "ctc_loss", [_lp(), _PADDED, Literal([T + 1, T, T]), Literal([4, 4, 4])],
              match="Expected input_lengths to have value at most 12"),
    ErrorCase("input_length_tuple_gt_T", "ctc_loss", [_lp(), _PADDED, (T, T + 3, T), (4, 4, 4)],
              match="`input_lengths` must be at most 12"),
    ErrorCase("target_length_gt_S", "ctc_loss", [_lp(), _PADDED, Literal([T, T, T]), Literal([4, 5, 4])],
              match="`target_lengths` must be at most 4"),
    ErrorCase("negative_input_length", "ctc_loss", [_lp(), _PADDED, Literal([T, -1, T]), Literal([4, 4, 4])],
              match="Expected input_lengths to have value at least 0"),
    ErrorCase("negative_target_length", "ctc_loss", [_lp(), _PADDED, (T, T, T), (4, -2, 4)],
              match="Expected target_lengths to have value at least 0"),
    ErrorCase("blank_too_large", "ctc_loss", [_lp(), _PADDED, (T, T, T), (4, 4, 4)], {"blank": C},
              match="blank must be in label range"),
    ErrorCase("blank_negative", "ctc_loss", [_lp(), _PADDED, (T, T, T), (4, 4, 4)], {"blank": -1},
              match="blank must be in label range"),
    ErrorCase("lengths_wrong_size", "ctc_loss", [_lp(), _PADDED, Literal([T, T]), Literal([4, 4, 4])],
              match="input_lengths must be of size batch_size"),
    ErrorCase("concatenated_total", "ctc_loss", [_lp(), Literal([1, 2, 3, 4, 5]), (T, T, T), (2, 2, 2)],
              match="Expected tensor to have size 6 at dimension 0"),
    ErrorCase("concatenated_total_array", "ctc_loss",
              [_lp(), Literal([1, 2, 3, 4, 5]), Literal([T, T, T]), Literal([2, 2, 2])],
              match="Expected tensor to have size 6 at dimension 0"),
    ErrorCase("float_lengths", "ctc_loss", [_lp(), _PADDED, Literal([12.0, 12.0, 12.0]), Literal([4, 4, 4])],
              error=TypeError, match="must be integral"),
    ErrorCase("targets_3d", "ctc_loss", [_lp(), Literal([[[1, 2]]] * 3), (T, T, T), (2, 2, 2)],
              match="`targets` must be 1 or 2-D"),
    # torch accepts targets equal to blank and computes a meaningless number
    ErrorCase("target_is_blank", "ctc_loss", [_lp(), Literal([[1, 0, 3, 4], [2, 3, 4, 5], [1, 1, 2, 2]]),
                                              (T, T, T), (4, 4, 4)],
              match="must not contain the blank label", torch_raises=False),
    # torch reads out of bounds for a target >= C (no check on the CPU)
    ErrorCase("target_out_of_range", "ctc_loss", [_lp(), Literal([[1, 9, 3, 4], [2, 3, 4, 5], [1, 1, 2, 2]]),
                                                  (T, T, T), (4, 4, 4)],
              match="Target 9 is out of bounds", torch_raises=False),
    # torch casts float targets silently; we never cast class indices
    # torch: "log_probs tensor must not be empty" for no samples, frames or classes
    ErrorCase("empty_batch", "ctc_loss", [Float((T, 0, C)), Literal(np.zeros((0, 4)), dtype="int64"),
                                          Literal(np.zeros(0), dtype="int64"), Literal(np.zeros(0), dtype="int64")],
              match="`log_probs` must not be empty, got shape .*log_probs tensor must not be empty"),
    ErrorCase("empty_batch_tuples", "ctc_loss", [Float((T, 0, C)), Literal(np.zeros(0), dtype="int64"), (), ()],
              {"reduction": "sum"}, match="log_probs tensor must not be empty"),
    ErrorCase("no_frames", "ctc_loss", [Float((0, 3, C)), _PADDED, (0, 0, 0), (0, 0, 0)],
              match="log_probs tensor must not be empty"),
    ErrorCase("no_frames_unbatched", "ctc_loss", [Float((0, C)), Literal([1, 2], dtype="int64"), (0,), (2,)],
              {"reduction": "none"}, match="log_probs tensor must not be empty"),
    ErrorCase("float_targets", "ctc_loss", [_lp(), Literal([[1.0, 2.0, 3.0, 4.0]] * 3), (T, T, T), (4, 4, 4)],
              error=TypeError, match="`targets` must have an integer dtype", torch_raises=False),
]
