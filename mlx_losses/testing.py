"""Check any MLX function against its PyTorch original: values and gradients.

:func:`assert_matches_torch` is the parity check this package runs on its own
losses (``python -m parity``), made public for your code: a loss of your own,
a whole model's forward with its weights passed as inputs, anything that maps
arrays to arrays. It runs both sides on the same values in the dtypes you ask
for, compares the outputs, then the vector-Jacobian products with respect to
every floating input under one random (non-uniform) cotangent, and raises an
``AssertionError`` naming the input, the worst element, both values and the
tolerance.

The comparison itself (:data:`TOLERANCES` and the half-precision criterion)
lives here and nowhere else; ``parity/runner.py`` imports it.

Tolerances, per dtype (``rtol``, ``atol``), against torch in float64 on the
same (already rounded) input values:

=========== ======== ======== ==============================================
dtype       rtol     atol     criterion
=========== ======== ======== ==============================================
float64     1e-9     1e-11    ``|ours - ref| <= atol + rtol |ref|``
float32     2e-5     2e-6     same
float16     2^-10    2^-10    ``|ours - ref| <= 2 |torch16 - ref| + atol + rtol |ref|``
bfloat16    2^-7     2^-7     same, with torch's own bfloat16 error
=========== ======== ======== ==============================================

In half precision we must be no worse than twice torch's own error in that
dtype, plus about one ulp: per element in the parity suite (one fused loss),
and by default per output array in :func:`assert_matches_torch` (see its
``half_criterion``). NaN and +-inf positions must match exactly; the
number of outputs, their shapes and dtypes are compared before the values.

Importing this module never imports torch; calling
:func:`assert_matches_torch` does.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

try:  # NumPy is a test-time dependency: mlx_losses itself runs without it.
    import numpy as np
except ImportError:  # pragma: no cover - exercised only without NumPy
    np = None  # type: ignore[assignment]

__all__ = ["assert_matches_torch", "TOLERANCES", "DTYPES"]

#: Every dtype the checks know, widest first.
DTYPES: Tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")
HALF: Tuple[str, ...] = ("float16", "bfloat16")

#: Default (rtol, atol) per dtype. For float16/bfloat16 they are the slack
#: on top of twice torch's own error in that dtype (see the module docstring).
TOLERANCES: Dict[str, Tuple[float, float]] = {
    "float64": (1e-9, 1e-11),
    "float32": (2e-5, 2e-6),
    "float16": (2.0**-10, 2.0**-10),
    "bfloat16": (2.0**-7, 2.0**-7),
}


class Mismatch(AssertionError):
    """Ours and torch's differ (shape, dtype, NaN/inf positions or values)."""


# --------------------------------------------------------------------------
# conversion helpers (shared with parity/runner.py)


def _need_numpy() -> None:
    if np is None:  # pragma: no cover
        raise ImportError("mlx_losses.testing needs NumPy: pip install numpy")


def np_to_mx(vals, dtype: str):
    """float64 NumPy values (already representable in ``dtype``) -> MLX, exactly.

    ``mx.array`` of a float64 NumPy array would make float32 by default."""
    import mlx.core as mx

    if dtype == "float64":
        return mx.array(vals, dtype=mx.float64)
    return mx.array(np.asarray(vals, dtype=np.float32)).astype(getattr(mx, dtype))


def _to_np(x):
    """An MLX array, a torch tensor or anything array-like -> float64 NumPy."""
    import mlx.core as mx

    if isinstance(x, mx.array):
        if x.dtype == mx.bfloat16:
            x = x.astype(mx.float32)
        return np.array(x).astype(np.float64)
    torch = sys.modules.get("torch")  # only if the caller already has it
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _dtype_name(x) -> str:
    return str(x.dtype).replace("mlx.core.", "").replace("torch.", "")


# --------------------------------------------------------------------------
# the comparison


def _compare(
    what: str,
    ours,
    ref,
    dtype: str,
    tol: Tuple[float, float],
    lowp=None,
    usage: Optional[List[float]] = None,
    half_criterion: str = "element",
) -> float:
    """Raise :class:`Mismatch` if ``ours`` is not close to ``ref``; return the
    worst relative error (max |ours-ref| / max |ref|).

    ``ref`` is torch in float64; ``lowp`` torch's own result in ``dtype``
    (the half-precision baseline). ``half_criterion``: ``'element'`` allows
    each element twice torch's own error at that element (the parity suite:
    one fused op); ``'tensor'`` twice torch's worst error over the array (a
    chain of ops, where the two frameworks round intermediates differently).
    When ``usage`` (a one-element list) is given, ``usage[0]`` is raised to
    the largest fraction of the allowed error that any element used (1.0 =
    on the edge).
    """
    if ours.shape != ref.shape:
        raise Mismatch(f"{what}: shape {ours.shape} != torch's {ref.shape}")
    on, rn = np.isnan(ours), np.isnan(ref)
    if not np.array_equal(on, rn):
        idx = tuple(int(i) for i in np.argwhere(on != rn)[0])
        raise Mismatch(
            f"{what}: NaN positions differ at {idx}: ours {float(ours[idx])!r}, "
            f"torch {float(ref[idx])!r}"
        )
    oi, ri = np.isinf(ours), np.isinf(ref)
    if not np.array_equal(oi, ri) or not np.array_equal(
        np.sign(ours[oi]), np.sign(ref[ri]) if ri.any() else np.sign(ours[oi])
    ):
        diff = np.argwhere((oi != ri) | (oi & ri & (np.sign(ours) != np.sign(ref))))
        idx = tuple(int(i) for i in diff[0]) if len(diff) else ()
        raise Mismatch(
            f"{what}: inf positions differ at {idx}: ours {float(ours[idx])!r}, "
            f"torch {float(ref[idx])!r}"
        )
    fin = np.isfinite(ref) & np.isfinite(ours)
    if not fin.any():
        return 0.0
    o, r = ours[fin], ref[fin]
    rtol, atol = tol
    err = np.abs(o - r)
    scale = float(np.max(np.abs(r))) if r.size else 0.0
    if dtype in HALF:
        base: Any = 0.0
        if lowp is not None:
            with np.errstate(invalid="ignore"):
                base = np.abs(np.asarray(lowp, dtype=np.float64)[fin] - r)
            # where torch's own half result is NaN / inf and float64's is
            # finite it is no baseline (it would allow anything): float64 alone
            base = np.where(np.isfinite(base), base, 0.0)
        if half_criterion == "tensor" and np.size(base):
            base = np.max(base)
        # Twice torch's own error in this dtype, plus about one ulp.
        allowed = 2.0 * base + atol + rtol * np.abs(r)
    else:
        allowed = atol + rtol * np.abs(r)
    bad = err > allowed
    rel = float(np.max(err) / scale) if scale > 0 else float(np.max(err))
    if usage is not None:
        allowed_b = np.broadcast_to(allowed, err.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(allowed_b > 0, err / allowed_b, np.where(err > 0, np.inf, 0.0))
        usage[0] = max(usage[0], float(np.max(frac)))
    if bad.any():
        k = int(np.argmax(err - allowed))
        full_idx = tuple(int(i) for i in np.argwhere(fin)[k]) if ours.ndim else ()
        raise Mismatch(
            f"{what}: worst element {full_idx}: ours {float(o[k])!r}, torch {float(r[k])!r}, "
            f"|diff| {err[k]:.3g} > allowed {np.broadcast_to(allowed, err.shape)[k]:.3g} "
            f"({dtype}, rtol {rtol:g}, atol {atol:g})"
        )
    return rel


def resolve_tolerance(
    dtype: str,
    rtol: Union[None, float, Mapping[str, float]] = None,
    atol: Union[None, float, Mapping[str, float]] = None,
) -> Tuple[float, float]:
    """The (rtol, atol) for ``dtype``: the table's, with overrides (a number
    for every dtype, or a ``{dtype: number}`` mapping)."""
    base_r, base_a = TOLERANCES[dtype]

    def pick(v, default):
        if v is None:
            return default
        if isinstance(v, Mapping):
            return float(v.get(dtype, default))
        return float(v)

    return pick(rtol, base_r), pick(atol, base_a)


# --------------------------------------------------------------------------
# assert_matches_torch


def _flatten(out) -> List[Any]:
    """An array, or a (nested) tuple / list / dict of arrays -> list of leaves."""
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _flatten(o)]
    if isinstance(out, dict):
        return [leaf for k in sorted(out) for leaf in _flatten(out[k])]
    return [out]


def _is_float_mx(a) -> bool:
    import mlx.core as mx

    return isinstance(a, mx.array) and mx.issubdtype(a.dtype, mx.floating)


def _as_numpy_input(x):
    """User input -> NumPy (floating kept as float64 values), or None if the
    object is passed through to both sides untouched (a Python number, a
    string, None, a tuple of ints...)."""
    import mlx.core as mx

    if isinstance(x, mx.array):
        if x.dtype == mx.bfloat16:
            x = x.astype(mx.float32)
        return np.array(x)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.to(torch.float64)
        return x.numpy()
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return np.asarray(x)
    return None


class _Run:
    """One side's results: flat outputs and gradients (NumPy float64)."""

    def __init__(self, outs, dtypes, grads):
        self.outs = outs  # list of float64 NumPy
        self.dtypes = dtypes  # list of dtype names
        self.grads = grads  # list (per grad input) of float64 NumPy, or []


def _torch_run(torch_fn, args, grad_idx, cots, torch) -> _Run:
    args = list(args)
    leaves = []
    for i in grad_idx:
        args[i] = args[i].detach().clone().requires_grad_(True)
        leaves.append(args[i])
    out = _flatten(torch_fn(*args))
    for o in out:
        if not isinstance(o, torch.Tensor):
            raise TypeError(
                f"assert_matches_torch: torch_fn must return tensors (or a tuple/list of "
                f"them), got {type(o).__name__}"
            )
    grads: List[Any] = []
    if leaves and cots is not None:
        pairs = [(o, c) for o, c in zip(out, cots) if c is not None and o.requires_grad]
        if pairs:
            gs = torch.autograd.grad(
                [o for o, _ in pairs],
                leaves,
                grad_outputs=[torch.from_numpy(c).to(o.dtype) for o, c in pairs],
                allow_unused=True,
            )
        else:
            gs = [None] * len(leaves)
        grads = [np.zeros(tuple(l.shape)) if g is None else _to_np(g) for g, l in zip(gs, leaves)]
    return _Run([_to_np(o) for o in out], [_dtype_name(o) for o in out], grads)


def _mlx_forward(mlx_fn, args, grad_idx, compile: bool):
    """Our outputs (flat list of mx.arrays) and the function of the
    differentiated inputs that makes them."""
    import mlx.core as mx

    def f(*prim):
        full = list(args)
        for i, p in zip(grad_idx, prim):
            full[i] = p
        return _flatten(mlx_fn(*full))

    prim = [args[i] for i in grad_idx]
    out = (mx.compile(f) if compile else f)(*prim)
    for o in out:
        if not isinstance(o, mx.array):
            raise TypeError(
                f"assert_matches_torch: mlx_fn must return mx.arrays (or a tuple/list of "
                f"them), got {type(o).__name__}"
            )
    mx.eval(out)
    return out, f, prim


def _mlx_vjp(f, prim, out, cots, compile: bool):
    """Our VJP w.r.t. ``prim`` under the cotangents (None for outputs that are
    not floating), as float64 NumPy."""
    import mlx.core as mx

    keep = [k for k, c in enumerate(cots) if c is not None and _is_float_mx(out[k])]
    if not keep:
        return []

    def f_float(*p):
        outs = f(*p)
        return [outs[k] for k in keep]

    cot_mx = [np_to_mx(cots[k], _dtype_name(out[k])) for k in keep]

    def vjp(*p_and_c):
        p, c = p_and_c[: len(prim)], p_and_c[len(prim):]
        return mx.vjp(f_float, list(p), list(c))[1]

    gs = (mx.compile(vjp) if compile else vjp)(*prim, *cot_mx)
    mx.eval(gs)
    return [_to_np(g) for g in gs]


def _describe(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def assert_matches_torch(
    mlx_fn: Callable,
    torch_fn: Callable,
    *inputs: Any,
    dtypes: Sequence[str] = ("float32",),
    grad: bool = True,
    rtol: Union[None, float, Mapping[str, float]] = None,
    atol: Union[None, float, Mapping[str, float]] = None,
    compile: bool = False,
    seed: int = 0,
    half_criterion: str = "tensor",
) -> Dict[str, Dict[str, Any]]:
    """Assert that ``mlx_fn`` and ``torch_fn`` agree, values and gradients.

    Both are called positionally on the same values: ``mlx_fn`` with
    ``mx.array`` s, ``torch_fn`` with ``torch.Tensor`` s. Floating NumPy
    inputs are rounded to each dtype under test (the rounded values go to
    both sides); integer and bool arrays are passed exactly; anything that
    is not an array (a Python number, ``None``, a tuple of ints) is passed
    to both sides as it is. Outputs may be one array or a tuple / list /
    dict of arrays of any shapes.

    For each dtype the check (1) runs torch in float64 on the rounded values
    (the reference), (2) runs torch in that dtype (the dtype our outputs
    must have, and in float16/bfloat16 the error we may have: twice torch's
    own plus about one ulp), (3) runs ``mlx_fn`` and compares the number of
    outputs, their shapes, dtypes, NaN/inf positions and values, and (4)
    with ``grad=True`` compares the vector-Jacobian products with respect
    to every floating input under one random normal cotangent per floating
    output (never ones, which hide permuted or mis-scaled gradients).

    If ``torch_fn`` cannot run in float64 (a torch module that holds float32
    weights, say), the reference is torch in float32 instead. If torch has
    no kernel for a half dtype on this machine, torch's float32 error is the
    baseline there.

    Args:
        mlx_fn (callable): the MLX function under test.
        torch_fn (callable): the PyTorch function it should equal.
        *inputs: example inputs, NumPy arrays (also accepted: ``mx.array`` s,
            ``torch.Tensor`` s, and plain Python values passed through).
        dtypes (sequence of str, optional): any of ``'float64'``,
            ``'float32'``, ``'float16'``, ``'bfloat16'``. float64 runs on
            MLX's CPU stream. Default: ``('float32',)``.
        grad (bool, optional): also compare the gradients. Default: ``True``.
        rtol (float or dict, optional): relative tolerance for every dtype,
            or ``{dtype: rtol}``; default from :data:`TOLERANCES`.
        atol (float or dict, optional): absolute tolerance, the same way.
        compile (bool, optional): also check ``mx.compile(mlx_fn)`` (forward
            and VJP). Default: ``False``.
        seed (int, optional): seed of the random cotangents. Default: ``0``.
        half_criterion (str, optional): in float16/bfloat16, ``'tensor'``
            lets every element be off by twice torch's worst error over that
            output (or gradient) plus about one ulp: right for a chain of
            ops (a model), where the two frameworks round intermediates
            differently. ``'element'`` holds each element to twice torch's
            own error there, as the parity suite does for one fused loss.
            Default: ``'tensor'``.

    Returns:
        dict: per dtype, ``{'output': worst relative error, 'grad': worst
        relative error, 'reference': 'float64' | 'float32'}`` (handy for a
        CI log).

    Raises:
        AssertionError: with the dtype, the output or input concerned, the
            worst element, both values and the tolerance.

    Example::

        import numpy as np, mlx.core as mx, torch
        from mlx_losses.testing import assert_matches_torch

        def mlp_mx(x, w1, b1, w2):
            return mx.maximum(x @ w1.T + b1, 0) @ w2.T

        def mlp_torch(x, w1, b1, w2):
            return torch.relu(x @ w1.T + b1) @ w2.T

        rng = np.random.default_rng(0)
        x, w1, b1, w2 = (rng.normal(size=s) for s in [(8, 4), (16, 4), (16,), (3, 16)])
        assert_matches_torch(mlp_mx, mlp_torch, x, w1, b1, w2,
                             dtypes=("float32", "bfloat16"))
    """
    _need_numpy()
    import mlx.core as mx
    import torch

    name = _describe(mlx_fn)
    if half_criterion not in ("tensor", "element"):
        raise ValueError(
            "assert_matches_torch: `half_criterion` must be 'tensor' or 'element', "
            f"got {half_criterion!r}."
        )
    for dt in dtypes:
        if dt not in TOLERANCES:
            raise ValueError(
                f"assert_matches_torch: `dtypes` must contain only {list(TOLERANCES)}, got {dt!r}."
            )
    np_inputs = [_as_numpy_input(x) for x in inputs]
    report: Dict[str, Dict[str, Any]] = {}
    for n, dt in enumerate(dtypes):
        tol = resolve_tolerance(dt, rtol, atol)
        tdt = getattr(torch, dt)
        t_args, r_args, m_args, grad_idx = [], [], [], []
        for i, (x, a) in enumerate(zip(inputs, np_inputs)):
            if a is None:
                t_args.append(x)
                r_args.append(x)
                m_args.append(x)
            elif np.issubdtype(a.dtype, np.floating):
                t = torch.from_numpy(np.array(a, dtype=np.float64, order='C')).to(tdt)
                t64 = t.to(torch.float64)
                t_args.append(t)
                r_args.append(t64)
                m_args.append(np_to_mx(t64.numpy(), dt))
                if grad:
                    grad_idx.append(i)
            else:
                a = np.array(a, order='C')
                t_args.append(torch.from_numpy(a.copy()))
                r_args.append(torch.from_numpy(a.copy()))
                m_args.append(mx.array(a))

        prefix = f"assert_matches_torch({name}) [{dt}]"
        ref_dtype = "float64"
        # (1) the reference, forward only first: its shapes size the cotangents
        try:
            ref = _torch_run(torch_fn, r_args, [], None, torch)
        except Exception:
            # torch_fn holds float32 state (weights of a torch module): it
            # cannot run in float64, so torch float32 is the reference.
            ref_dtype = "float32"
            r_args = [
                a.to(torch.float32) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                for a in r_args
            ]
            ref = _torch_run(torch_fn, r_args, [], None, torch)
        # (2) torch in the dtype under test
        base_args = t_args
        try:
            low = _torch_run(torch_fn, base_args, [], None, torch)
            expect = low.dtypes
        except Exception as err:
            if dt not in HALF:
                raise TypeError(f"{prefix}: torch_fn fails on {dt} inputs: {err}") from err
            # no half kernel in torch here: torch float32's error is the baseline
            base_args = [
                a.to(torch.float32) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                for a in t_args
            ]
            low = _torch_run(torch_fn, base_args, [], None, torch)
            expect = [dt if d == "float32" else d for d in low.dtypes]

        rng = np.random.default_rng(seed + 7919 * n)
        cots: Optional[List[Any]] = None
        if grad_idx:
            cots = []
            for o, d in zip(ref.outs, expect):
                if d in TOLERANCES:
                    c = rng.normal(size=o.shape)
                    # round the cotangent to the output dtype, for both sides
                    c = torch.from_numpy(c).to(getattr(torch, d)).to(torch.float64).numpy()
                    cots.append(c)
                else:
                    cots.append(None)
            ref = _torch_run(torch_fn, r_args, grad_idx, cots, torch)
            low = _torch_run(torch_fn, base_args, grad_idx, cots, torch)

        worst_out, worst_grad = 0.0, 0.0
        modes = ("eager", "compile") if compile else ("eager",)
        # float64 runs on the CPU stream (MLX has no float64 on the GPU).
        stream = mx.cpu if dt == "float64" else mx.default_device()
        for mode in modes:
            tag = prefix if mode == "eager" else f"{prefix} [mx.compile]"
            with mx.stream(stream):
                out, f, prim = _mlx_forward(mlx_fn, m_args, grad_idx, mode == "compile")
            if len(out) != len(ref.outs):
                raise Mismatch(
                    f"{tag}: mlx_fn returned {len(out)} output(s), torch_fn {len(ref.outs)}"
                )
            single = len(out) == 1
            for k, (o, r, e) in enumerate(zip(out, ref.outs, expect)):
                what = f"{tag}: output" if single else f"{tag}: output {k}"
                if _dtype_name(o) != e:
                    raise Mismatch(f"{what}: dtype {_dtype_name(o)} != torch's {e}")
                worst_out = max(
                    worst_out, _compare(what, _to_np(o), r, dt, tol, low.outs[k], None, half_criterion)
                )
            if not (grad_idx and cots is not None):
                continue
            with mx.stream(stream):
                grads = _mlx_vjp(f, prim, out, cots, mode == "compile")
            for j, (g, rg) in enumerate(zip(grads, ref.grads)):
                i = grad_idx[j]
                what = f"{tag}: gradient w.r.t. input {i} (shape {tuple(rg.shape)})"
                worst_grad = max(
                    worst_grad, _compare(what, g, rg, dt, tol, low.grads[j], None, half_criterion)
                )
        report[dt] = {"output": worst_out, "grad": worst_grad, "reference": ref_dtype}
    return report
