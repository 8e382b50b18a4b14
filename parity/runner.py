"""The parity runner: turns case tables into checks against live torch.

A ``Case`` is data: which function, which input specs, which options. The
runner owns everything else: the dtype product, the reduction and legacy
sweeps, making the values, converting them to torch, calling our function
(eager and under ``mx.compile``), our Module, and torch's function, taking
VJPs with a random cotangent, and comparing.

Tolerances (per dtype, overridable per case with a comment in the table;
the table and the comparison live in ``mlx_losses.testing``, shared with
``mlx_losses.testing.assert_matches_torch``):
  float64   rtol 1e-9,  atol 1e-11   (same formula, different order of ops)
  float32   rtol 2e-5,  atol 2e-6    (a few float32 ulps after a reduction)
  float16 / bfloat16: our error against torch in float64 is no worse than
            twice torch's own error in that dtype, plus one ulp of the value
            (``rtol = atol = eps(dtype)``).
NaN and +-inf positions must match exactly; shape and dtype are compared
before values.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import warnings
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import numpy as np

from mlx_losses.testing import (  # the one comparison, shared with assert_matches_torch
    DTYPES,
    HALF,
    TOLERANCES,
    Mismatch,
    _compare,
    _dtype_name,
    _to_np,
    np_to_mx,
)

from . import specs as S

REDUCTIONS = ("none", "mean", "sum")
# The dtypes a GPU computes in (Metal has no float64): the GPU-branch run's.
GPU_DTYPES = ("float32", "float16", "bfloat16")
LEGACY = ((False, None), (None, False), (True, True), (False, True), (True, False))


@dataclass
class Case:
    """One named parity case.

    Attributes:
        name: short id, unique within its function (``delta_small``).
        fn: our functional name (``mlx_losses.functional.<fn>``), also
            torch's unless ``torch_fn`` says otherwise.
        args: positional input specs (or plain values).
        kwargs: keyword options (specs or plain values). Also the Module's
            constructor keywords unless ``module_kwargs`` is given.
        module: our Module class name, checked with the same inputs; None
            to skip.
        module_kwargs: constructor keywords for the Module (default: kwargs).
        reductions: the reduction sweep; ``()`` keeps ``kwargs`` as is.
        legacy: also sweep torch's deprecated size_average/reduce pairs.
        dtypes: the dtypes to run.
        tol: per-dtype (rtol, atol) overrides; say why in a comment.
        grad: compare VJPs w.r.t. the args whose spec has ``grad=True``.
        compile: also run under ``mx.compile`` (forward and VJP), for each
            reduction in one dtype: float32 where the case has it, else its
            first dtype. ``PARITY_COMPILE=all`` in the environment compiles
            every variant, ``PARITY_COMPILE=none`` none. (Each compiled graph is a new native kernel that
            MLX's CPU backend builds with the C++ compiler, about a second
            each on a cold cache; one dtype keeps a fresh CI run short, and
            the trace is the same for every dtype.)
        vmap: with reduction 'none', check ``mx.vmap`` over dim 0 of the
            positional arrays equals the batched call.
        ours_fn / torch_fn: override either side: ``f(*args, **kwargs)``.
        module_call: ``f(module, *args)`` when calling the Module needs more
            than ``module(*args)``.
        torch_half: False where torch has no CPU kernel for half types; the
            half-precision baseline is then torch's float32 error.
        seed: the RNG seed (default: from the case id).
    """

    name: str
    fn: str
    args: Sequence[Any]
    kwargs: Dict[str, Any] = field(default_factory=dict)
    module: Optional[str] = None
    module_kwargs: Optional[Dict[str, Any]] = None
    reductions: Sequence[str] = REDUCTIONS
    legacy: bool = False
    dtypes: Sequence[str] = DTYPES
    tol: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    grad: bool = True
    compile: bool = True
    vmap: bool = False
    ours_fn: Optional[Callable] = None
    torch_fn: Optional[Callable] = None
    module_call: Optional[Callable] = None
    torch_half: bool = True
    seed: Optional[int] = None


@dataclass
class ErrorCase:
    """Bad input that we must reject with ``error`` and a message matching
    ``match``. With ``torch_raises`` (the default) torch must reject the same
    input too (any exception), so we never refuse what torch accepts."""

    name: str
    fn: str
    args: Sequence[Any]
    kwargs: Dict[str, Any] = field(default_factory=dict)
    error: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = ValueError
    match: str = ""
    torch_raises: bool = True
    ours_fn: Optional[Callable] = None
    torch_fn: Optional[Callable] = None
    dtype: str = "float32"
    seed: Optional[int] = None


@dataclass
class Variant:
    """A case expanded to one (reduction or legacy pair, dtype)."""

    case: Case
    dtype: str
    reduction: Optional[str]
    legacy: Optional[Tuple[Optional[bool], Optional[bool]]] = None

    @property
    def id(self) -> str:
        red = self.reduction or ""
        if self.legacy is not None:
            sa, rd = self.legacy
            red = f"legacy_sa{_b(sa)}_r{_b(rd)}"
        parts = [self.case.fn, self.case.name]
        if red:
            parts.append(red)
        parts.append(self.dtype)
        return "-".join(parts)


def _b(v: Optional[bool]) -> str:
    return "N" if v is None else ("T" if v else "F")


@dataclass
class Result:
    """One variant's (or error case's) outcome.

    ``out_used`` / ``grad_used``: the largest fraction of its allowed error
    (the tolerance criterion at that element) that any element of the
    outputs / of the gradients used: 1.0 is on the edge, above fails
    (``grad_used`` is None where no gradient was compared); ``used`` is the
    larger of the two. ``seconds``: wall time; ``kind``:
    ``'case'`` or ``'error'``."""

    id: str
    fn: str
    dtype: str
    passed: bool
    out_used: float = 0.0
    grad_used: Optional[float] = None  # None: no gradient compared
    message: str = ""
    seconds: float = 0.0
    kind: str = "case"

    @property
    def used(self) -> float:
        return max(self.out_used, self.grad_used or 0.0)


# --------------------------------------------------------------------------
# tables


def load_tables() -> Tuple[List[Case], List[ErrorCase]]:
    """Every ``CASES`` / ``ERROR_CASES`` in ``parity/cases/*.py``."""
    from . import cases as pkg

    all_cases: List[Case] = []
    all_errors: List[ErrorCase] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        all_cases.extend(getattr(mod, "CASES", []))
        all_errors.extend(getattr(mod, "ERROR_CASES", []))
    return all_cases, all_errors


def expand(case: Case) -> List[Variant]:
    out: List[Variant] = []
    reds: List[Tuple[Optional[str], Any]] = [(r, None) for r in case.reductions] or [(None, None)]
    if case.legacy:
        reds += [(None, pair) for pair in LEGACY]
    for red, pair in reds:
        for dt in case.dtypes:
            out.append(Variant(case, dt, red, pair))
    return out


def compiles(v: Variant) -> bool:
    """Whether the variant also runs under ``mx.compile`` (see ``Case.compile``)."""
    if not v.case.compile:
        return False
    mode = os.environ.get("PARITY_COMPILE", "").lower()
    if mode in ("all", "none"):
        return mode == "all"
    dts = v.case.dtypes
    return v.legacy is None and v.dtype == ("float32" if "float32" in dts else dts[0])


def all_variants() -> List[Variant]:
    cases, _ = load_tables()
    variants = [v for c in cases for v in expand(c)]
    ids = [v.id for v in variants]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate parity ids: {sorted(dup)[:5]}")
    return variants


# --------------------------------------------------------------------------
# conversion


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def _mx():
    import mlx.core as mx

    return mx


def _seed(case: Union[Case, ErrorCase]) -> int:
    if case.seed is not None:
        return case.seed
    return zlib.crc32(f"{case.fn}/{case.name}".encode())


@dataclass
class _Inputs:
    """The case's values on both sides, and which are differentiated."""

    mx_args: List[Any]
    torch_args: List[Any]
    ref_args: List[Any]  # float64 torch versions of the rounded values
    mx_kwargs: Dict[str, Any]
    torch_kwargs: Dict[str, Any]
    ref_kwargs: Dict[str, Any]
    grad_idx: List[int]


def _convert(value: Any, rng, dtype: str, torch_dtype):
    """Spec -> (mlx, torch, torch-float64 reference, is_grad)."""
    mx = _mx()
    torch = _torch()
    if not isinstance(value, S.Spec):
        return value, value, value, False
    arr = value.make(rng)
    if isinstance(value, S.Lengths) and value.as_tuple:
        t = tuple(int(v) for v in arr)
        return t, t, t, False
    if value.floating:
        t = torch.from_numpy(np.array(arr, dtype=np.float64, order='C')).to(torch_dtype)
        ref = t.to(torch.float64)
        m = np_to_mx(ref.numpy(), dtype)
        return m, t, ref, bool(value.grad)
    t = torch.from_numpy(np.array(arr, order='C'))
    m = mx.array(arr)
    return m, t, t, False


def make_inputs(case: Union[Case, ErrorCase], dtype: str, kwargs: Dict[str, Any]) -> _Inputs:
    torch = _torch()
    rng = np.random.default_rng(_seed(case))
    tdt = getattr(torch, dtype)
    mx_args, t_args, r_args, grad_idx = [], [], [], []
    for i, a in enumerate(case.args):
        m, t, r, g = _convert(a, rng, dtype, tdt)
        mx_args.append(m)
        t_args.append(t)
        r_args.append(r)
        if g and getattr(case, "grad", False):
            grad_idx.append(i)
    mk, tk, rk = {}, {}, {}
    for k, a in kwargs.items():
        m, t, r, _ = _convert(a, rng, dtype, tdt)
        mk[k], tk[k], rk[k] = m, t, r
    return _Inputs(mx_args, t_args, r_args, mk, tk, rk, grad_idx)


def _ours(case: Union[Case, ErrorCase]) -> Callable:
    if case.ours_fn is not None:
        return case.ours_fn
    import mlx_losses.functional as F

    return getattr(F, case.fn)


def _theirs(case: Union[Case, ErrorCase]) -> Callable:
    if case.torch_fn is not None:
        return case.torch_fn
    import torch.nn.functional as TF

    return getattr(TF, case.fn)


# --------------------------------------------------------------------------
# comparison


# ``Mismatch``, ``_compare`` (shape, dtype, NaN/inf positions, values; the
# half-precision criterion) and the tolerance table are imported above from
# ``mlx_losses.testing``.


# --------------------------------------------------------------------------
# running one variant


def _call_kwargs(v: Variant) -> Dict[str, Any]:
    kw = dict(v.case.kwargs)
    if v.legacy is not None:
        kw.pop("reduction", None)
        kw["size_average"], kw["reduce"] = v.legacy
    elif v.reduction is not None:
        kw["reduction"] = v.reduction
    return kw


def _torch_eval(fn: Callable, args: List[Any], kwargs: Dict[str, Any], grad_idx: List[int], cot_np):
    """torch forward (+ VJP with the cotangent) -> (out, grads, out_dtype)."""
    torch = _torch()
    args = list(args)
    leaves = []
    for i in grad_idx:
        args[i] = args[i].detach().clone().requires_grad_(True)
        leaves.append(args[i])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args, **kwargs)
    grads = []
    if leaves and cot_np is not None:
        cot = torch.from_numpy(cot_np).to(out.dtype)
        if out.requires_grad:
            gs = torch.autograd.grad(out, leaves, grad_outputs=cot, allow_unused=True)
        else:
            gs = [None] * len(leaves)
        grads = [
            np.zeros(tuple(l.shape)) if g is None else _to_np(g) for g, l in zip(gs, leaves)
        ]
    return out, grads


def _mx_eval(fn: Callable, args: List[Any], kwargs: Dict[str, Any], grad_idx: List[int], cot_np, compile: bool):
    mx = _mx()
    arrays = [a for a in args]

    def f(*prim):
        full = list(arrays)
        for i, p in zip(grad_idx, prim):
            full[i] = p
        return fn(*full, **kwargs)

    prim = [arrays[i] for i in grad_idx]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if compile:
            fwd = mx.compile(f)
            out = fwd(*prim)
        else:
            out = f(*prim)
        mx.eval(out)
        grads: List[np.ndarray] = []
        if grad_idx and cot_np is not None:
            cot = np_to_mx(cot_np, _dtype_name(out))

            def vjp(*p_and_c):
                *p, c = p_and_c
                return mx.vjp(f, list(p), [c])[1]

            if compile:
                vjp = mx.compile(vjp)
            gs = vjp(*prim, cot)
            mx.eval(gs)
            grads = [_to_np(g) for g in gs]
    return out, grads


def run_variant(v: Variant) -> Result:
    case = v.case
    mx = _mx()
    torch = _torch()
    kwargs = _call_kwargs(v)
    tol = case.tol.get(v.dtype, TOLERANCES[v.dtype])
    out_used, grad_used = [0.0], [0.0]  # the largest fraction of the allowed error used
    try:
        inp = make_inputs(case, v.dtype, kwargs)
        theirs, ours_fn = _theirs(case), _ours(case)

        # torch's reference (float64 of the same rounded values), and torch in
        # the dtype under test (its own error, the half-precision baseline).
        ref_out, _ = _torch_eval(theirs, inp.ref_args, inp.ref_kwargs, [], None)
        rng = np.random.default_rng(_seed(case) + 1)
        cot_np = None
        if inp.grad_idx:
            cot_np = rng.normal(size=tuple(ref_out.shape))
            # round the cotangent to the dtype under test, for both sides
            cot_np = torch.from_numpy(cot_np).to(getattr(torch, v.dtype)).to(torch.float64).numpy()
        ref_out, ref_grads = _torch_eval(theirs, inp.ref_args, inp.ref_kwargs, inp.grad_idx, cot_np)
        lowp_out, lowp_grads, expect_dtype = None, None, v.dtype
        if v.dtype in HALF or v.dtype == "float32":
            lowp_args, lowp_kwargs = inp.torch_args, inp.torch_kwargs
            if v.dtype in HALF and not case.torch_half:
                # torch has no half kernel: its float32 error is the baseline
                conv = lambda a: a.to(torch.float32) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                lowp_args = [conv(a) for a in lowp_args]
                lowp_kwargs = {k: conv(a) for k, a in lowp_kwargs.items()}
            lo, lg = _torch_eval(theirs, lowp_args, lowp_kwargs, inp.grad_idx, cot_np)
            lowp_out, lowp_grads = _to_np(lo), lg
            if case.torch_half or v.dtype == "float32":
                expect_dtype = _dtype_name(lo)
        else:
            expect_dtype = _dtype_name(ref_out)
        ref_np = _to_np(ref_out)

        modes = ["eager", "compile"] if compiles(v) else ["eager"]
        for mode in modes:
            out, grads = _mx_eval(ours_fn, inp.mx_args, inp.mx_kwargs, inp.grad_idx, cot_np, mode == "compile")
            if _dtype_name(out) != expect_dtype:
                raise Mismatch(f"[{mode}] output dtype {_dtype_name(out)} != torch's {expect_dtype}")
            _compare(f"[{mode}] output", _to_np(out), ref_np, v.dtype, tol, lowp_out, out_used)
            for j, (g, rg) in enumerate(zip(grads, ref_grads)):
                i = inp.grad_idx[j]
                lg = lowp_grads[j] if lowp_grads else None
                _compare(f"[{mode}] grad of arg {i}", g, rg, v.dtype, tol, lg, grad_used)

        if case.module is not None:
            import mlx_losses

            cls = getattr(mlx_losses, case.module)
            mkw = dict(case.module_kwargs) if case.module_kwargs is not None else dict(case.kwargs)
            if case.module_kwargs is not None:
                # the reduction sweep applies to the module too
                if v.legacy is not None:
                    mkw.pop("reduction", None)
                    mkw["size_average"], mkw["reduce"] = v.legacy
                elif v.reduction is not None:
                    mkw["reduction"] = v.reduction
                mkw = {k: (inp.mx_kwargs.get(k, a) if isinstance(a, S.Spec) else a) for k, a in mkw.items()}
            else:
                mkw = {**inp.mx_kwargs}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = cls(**mkw)
                out = case.module_call(module, *inp.mx_args) if case.module_call else module(*inp.mx_args)
            _compare("[module] output", _to_np(out), ref_np, v.dtype, tol, lowp_out, out_used)

        if case.vmap and v.reduction == "none":
            batched = [a for a in inp.mx_args]
            in_axes = tuple(0 if isinstance(a, mx.array) and a.ndim > 0 else None for a in batched)
            vf = mx.vmap(lambda *a: ours_fn(*a, **inp.mx_kwargs), in_axes=in_axes)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out_v = vf(*batched)
            _compare("[vmap] output", _to_np(out_v), ref_np, v.dtype, tol, lowp_out, out_used)

        grad = grad_used[0] if inp.grad_idx and cot_np is not None else None
        return Result(v.id, case.fn, v.dtype, True, out_used[0], grad)
    except Mismatch as err:
        return Result(v.id, case.fn, v.dtype, False, message=str(err))
    except Exception as err:  # an unexpected error is a failure with its text
        return Result(v.id, case.fn, v.dtype, False, message=f"{type(err).__name__}: {err}")


def run_error_case(case: ErrorCase) -> Result:
    """Our function must raise ``case.error`` matching ``case.match``; torch
    must raise too (unless ``torch_raises=False``)."""
    import re

    rid = f"{case.fn}-error-{case.name}"
    try:
        inp = make_inputs(case, case.dtype, case.kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = _ours(case)(*inp.mx_args, **inp.mx_kwargs)
                _mx().eval(out)
            except case.error as err:
                if case.match and not re.search(case.match, str(err)):
                    return Result(rid, case.fn, case.dtype, False,
                                  message=f"message {str(err)!r} does not match {case.match!r}")
            except Exception as err:
                return Result(rid, case.fn, case.dtype, False,
                              message=f"raised {type(err).__name__}: {err}, expected {case.error}")
            else:
                return Result(rid, case.fn, case.dtype, False, message="did not raise")
            if case.torch_raises:
                try:
                    _theirs(case)(*inp.torch_args, **inp.torch_kwargs)
                except Exception:
                    pass
                else:
                    return Result(rid, case.fn, case.dtype, False,
                                  message="torch accepts this input but we reject it")
        return Result(rid, case.fn, case.dtype, True)
    except Exception as err:
        return Result(rid, case.fn, case.dtype, False, message=f"{type(err).__name__}: {err}")
