"""The one fuzz runner: draw an example for a (loss, mode), run torch and
ours, and judge.

torch runs twice on the same rounded inputs: in float64 (the reference) and
in the dtype under test (whether torch raises, the output dtype, and torch's
own error: the half-precision baseline). Where torch has no CPU kernel for a
half dtype, torch in float32 is the baseline. Ours runs in one mode:

    eager        the functional
    module       our Module (torch's constructor keywords, plus ``group=``)
    compile      ``mx.compile`` of the forward and of the VJP
    shapeless    ``mx.compile(..., shapeless=True)`` called on two inputs of
                 different shapes under the same options: each call must
                 raise a clear error or give torch's number
    checks_off   eager under ``mlx_losses.value_checks(False)``

Then (``judge``): if torch raises, ours must raise a clear error (a
``ValueError``/``TypeError``/``IndexError`` whose message names the loss);
if torch computes, ours must compute, with torch's output dtype, and the
outputs and the VJPs (one random non-uniform cotangent) must agree:

- NaN / +-inf positions: each element of ours must be of the class (finite,
  NaN, +inf, -inf) of torch in the dtype under test, or of float64 torch
  rounded to that dtype where a ``more_accurate`` difference covers the loss.
- values where both are finite: ``|ours - ref| <= atol + rtol |ref| + 2
  |torch_dtype - ref|`` with the parity tolerance table (``rtol``, ``atol``
  per dtype) and ``ref`` = float64 torch. The last term is torch's own error
  in the dtype under test: the parity suite's half-precision criterion,
  applied to float32 too, where it only matters for ill-conditioned inputs
  (extreme values, cancellation) on which torch's float32 itself is far from
  float64; for well-conditioned inputs it is far below the table's rtol.
  A reduced output may also be off by the rounding bound of its sum
  (``reduction_scale``: cancellation between terms of both signs); where
  torch's own float64 overflows and a ``more_accurate`` difference covers
  the loss, its exact NumPy formula is the reference (``exact_reference``).

Every exception is a failure with a repro, unless ``parity/known_differences``
or ``known_open`` covers it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import assume, strategies as st

from mlx_losses.testing import TOLERANCES, Mismatch, _dtype_name, _to_np, np_to_mx

from parity import known_differences as KD

from . import draw as D
from . import known_open as KO
from .example import Arr, Example, FuzzLoss, PerSide

OOB_MODES = ("compile", "checks_off")
CLEAR_ERRORS = (ValueError, TypeError, IndexError)


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def effective_reduction(kwargs: Dict[str, Any]) -> str:
    """The reduction torch applies (its legacy pair wins over ``reduction``)."""
    sa, rd = kwargs.get("size_average"), kwargs.get("reduce")
    if sa is not None or rd is not None:
        sa = True if sa is None else sa
        rd = True if rd is None else rd
        return "mean" if (sa and rd) else ("sum" if rd else "none")
    return kwargs.get("reduction", "mean")


# --------------------------------------------------------------------------
# drawing


def draw_example(draw, loss: FuzzLoss, mode: str, deep: bool = False, static=None) -> Example:
    """An example for ``loss`` in ``mode``. ``static`` (dtype, regime,
    options) re-uses another example's choices: the shapeless mode's
    second call."""
    if static is None:
        dtype = draw(st.sampled_from(D.DTYPES))
        regime = draw(st.sampled_from(D.REGIMES))
        oob = (loss.oob is not None and mode in ("eager",) + OOB_MODES
               and draw(st.integers(0, 3)) == 0)
        ctx = D.Ctx(dtype, regime, compiled=mode in ("compile", "shapeless"), deep=deep, oob=oob)
        opts = D.options(draw, ctx, loss.options)
        if "group" in _params(loss) and draw(st.integers(0, 9)) == 0:
            opts["group"] = None  # every loss takes group= (torch's side drops it)
        keyword = loss.keyword_call and draw(st.integers(0, 3)) == 0
    else:
        ctx, opts, keyword = static
    args, akw = loss.inputs(draw, ctx, opts)
    if mode == "module":
        # torch's Module takes these options (ours adds group=)
        kws = module_keywords(loss)
        if kws is not None:
            assume(set(opts) | set(akw) <= kws | {"group"})
    return Example(loss, ctx.dtype, args, {**opts, **akw}, ctx, keyword,
                   cot_seed=draw(st.integers(0, 2**32 - 1)))


def module_keywords(loss: FuzzLoss) -> Optional[set]:
    """The constructor keywords of torch's Module (what a port passes), or
    None where the loss maps options to its Module itself."""
    import inspect

    import torch.nn as nn

    if loss.module_split is not None:
        return None
    sig = inspect.signature(getattr(nn, loss.module).__init__)
    return {p.name for p in sig.parameters.values() if p.name != "self"}


def second_example(draw, loss: FuzzLoss, first: Example) -> Optional[Example]:
    """The shapeless mode's second call: new arrays under the first call's
    dtype, regime and options, each of the same rank as the first call's
    (MLX 0.32 segfaults when a shapeless graph that compiled meets another
    rank: see known_open.CRASHES), or None where no such draw came (or the
    non-array arguments differ: a new closure, no reuse to check)."""
    opts = {k: v for k, v in first.kwargs.items() if not isinstance(v, Arr)}

    def sig(ex):
        return ([("A", a.dtype, np.ndim(a.values)) if isinstance(a, Arr) else ("V", repr(a))
                 for a in ex.args],
                sorted((k, ("A", v.dtype, np.ndim(v.values)) if isinstance(v, Arr) else ("V", repr(v)))
                       for k, v in ex.kwargs.items()))

    for _ in range(4):
        second = draw_example(draw, loss, "shapeless", first.ctx.deep,
                              static=(first.ctx, opts, first.keyword))
        if sig(second) == sig(first):
            return second
    return None


# --------------------------------------------------------------------------
# running


@dataclass
class Outcome:
    out: Optional[np.ndarray] = None
    dtype: Optional[str] = None
    grads: Optional[List[np.ndarray]] = None
    error: Optional[BaseException] = None
    where: str = ""

    @property
    def raised(self) -> bool:
        return self.error is not None


def _rounded(ex: Example) -> Dict[int, np.ndarray]:
    """Each floating array rounded to the dtype under test (as float64)."""
    torch = _torch()
    tdt = getattr(torch, ex.dtype)
    out = {}
    for v in list(ex.args) + list(ex.kwargs.values()):
        if isinstance(v, Arr) and v.floating:
            t = torch.from_numpy(np.array(v.values, dtype=np.float64, order="C")).to(tdt)
            out[id(v)] = t.to(torch.float64).numpy()
    return out


def _call(fn: Callable, ex: Example, args: List[Any], kwargs: Dict[str, Any], names=None):
    if ex.keyword:
        names = list(names or ex.loss.param_names())[: len(args)]
        kwargs = {**dict(zip(names, args)), **kwargs}
        args = []
    return fn(*args, **kwargs)


def run_torch(ex: Example, rounded, dtype: str, cot_seed: int, with_grad: bool = True,
              module: bool = False) -> Outcome:
    """torch's outcome; ``module``: through torch's Module (constructed with
    the options) where the loss has one and no adapter."""
    torch = _torch()
    tdt = getattr(torch, dtype)

    def conv(v):
        if isinstance(v, Arr):
            if v.floating:
                return torch.from_numpy(rounded[id(v)].copy()).to(tdt)
            return torch.from_numpy(np.array(v.values).astype(v.dtype))
        if isinstance(v, PerSide):
            return v.theirs()
        return v

    args = [conv(a) for a in ex.args]
    kwargs = {k: conv(v) for k, v in ex.kwargs.items() if k != "group"}
    gi = ex.grad_idx() if with_grad else []
    leaves = []
    for i in gi:
        args[i] = args[i].detach().clone().requires_grad_(True)
        leaves.append(args[i])
    fn = ex.loss.theirs_fn()
    names = None
    if module and ex.loss.module and ex.loss.theirs is None and ex.loss.module_split is None:
        fn, names = _torch_module(ex.loss.module, kwargs), _forward_names(_torch_module_cls(ex.loss.module))
        kwargs = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _call(fn, ex, args, kwargs, names)
    except Exception as err:  # torch refuses: the verdict to match
        return Outcome(error=err, where="torch forward")
    res = Outcome(out=_to_np(out), dtype=_dtype_name(out))
    if leaves:
        cot = _cotangent(cot_seed, tuple(out.shape), _dtype_name(out))
        grads = [np.zeros(tuple(l.shape)) for l in leaves]
        if out.requires_grad:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gs = torch.autograd.grad(out, leaves, torch.from_numpy(cot).to(out.dtype),
                                             allow_unused=True)
            except Exception as err:
                return Outcome(out=res.out, dtype=res.dtype, error=err, where="torch backward")
            grads = [np.zeros(tuple(l.shape)) if g is None else _to_np(g)
                     for g, l in zip(gs, leaves)]
        res.grads = grads
    return res


def _torch_module_cls(name: str):
    import torch.nn as nn

    return getattr(nn, name)


def _torch_module(name: str, kwargs: Dict[str, Any]) -> Callable:
    """torch's Module, constructed on the first call (inside the caller's
    error handling: torch's constructor raises for some options)."""
    cls = _torch_module_cls(name)
    return lambda *a, **kw: cls(**kwargs)(*a, **kw)


def _cotangent(seed: int, shape, dtype: str) -> np.ndarray:
    """A random normal cotangent, rounded to the output dtype (both sides)."""
    torch = _torch()
    c = np.random.default_rng(seed).normal(size=shape)
    if dtype in TOLERANCES:
        c = torch.from_numpy(c).to(getattr(torch, dtype)).to(torch.float64).numpy()
    return c


class _Flat:
    """The example's MLX arrays as one flat list (every array an input of the
    compiled function), and the call that puts them back in place."""

    def __init__(self, ex: Example, rounded, mode: str):
        import mlx.core as mx

        self.ex, self.mode = ex, mode
        self.arrays: List[Any] = []
        self.slots: List[Tuple[str, Any]] = []  # ('a', i) / ('k', name)
        self.args: List[Any] = []
        self.kwargs: Dict[str, Any] = {}

        def conv(v, slot):
            if isinstance(v, Arr):
                if v.floating:
                    m = np_to_mx(rounded[id(v)], ex.dtype)
                else:
                    m = mx.array(np.array(v.values).astype(v.dtype))
                self.arrays.append(m)
                self.slots.append(slot)
                return None
            if isinstance(v, PerSide):
                return v.ours()
            return v

        for i, a in enumerate(ex.args):
            self.args.append(conv(a, ("a", i)))
        for k, v in ex.kwargs.items():
            self.kwargs[k] = conv(v, ("k", k))
        gi = set(ex.grad_idx())
        self.grad_pos = [j for j, (kind, i) in enumerate(self.slots) if kind == "a" and i in gi]

    def fill(self, arrays):
        args, kwargs = list(self.args), dict(self.kwargs)
        for (kind, key), a in zip(self.slots, arrays):
            if kind == "a":
                args[key] = a
            else:
                kwargs[key] = a
        return args, kwargs

    def function(self) -> Callable:
        ex = self.ex
        if self.mode == "module":
            import mlx_losses

            cls = getattr(mlx_losses, ex.loss.module)
            split = ex.loss.module_split or (lambda kw: (kw, {}))

            def f(*arrays):
                args, kwargs = self.fill(arrays)
                ctor, call_kw = split(kwargs)
                m = cls(**ctor)
                if ex.loss.module_call is not None:
                    return ex.loss.module_call(m, *args, **call_kw)
                # by keyword: the forward's names (torch's Module's)
                return _call(m, ex, args, call_kw, names=_forward_names(cls))

            return f
        fn = ex.loss.ours_fn()

        def f(*arrays):
            args, kwargs = self.fill(arrays)
            return _call(fn, ex, args, kwargs)

        return f


def _forward_names(cls) -> List[str]:
    """A Module's call parameters (torch's ``forward``, our ``__call__``)."""
    import inspect

    fn = getattr(cls, "forward", None) or cls.__call__
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def run_ours(ex: Example, rounded, mode: str, cot_seed: int, with_grad: bool = True,
             compiled: Optional[Tuple[Callable, Callable]] = None) -> Tuple[Outcome, Any]:
    """Our outcome; ``compiled`` re-uses a (forward, vjp) pair already
    compiled (the shapeless mode's second call). Returns (outcome, pair)."""
    import mlx.core as mx

    import mlx_losses

    flat = _Flat(ex, rounded, mode)
    f = flat.function()
    gp = flat.grad_pos if with_grad else []

    def vjp(*arrays_and_cot):
        *arrays, cot = arrays_and_cot

        def g(*prims):
            full = list(arrays)
            for j, p in zip(gp, prims):
                full[j] = p
            return f(*full)

        return mx.vjp(g, [arrays[j] for j in gp], [cot])[1]

    if compiled is not None:
        fwd, bwd = compiled
    elif mode == "compile":
        fwd, bwd = mx.compile(f), mx.compile(vjp)
    elif mode == "shapeless":
        fwd, bwd = mx.compile(f, shapeless=True), mx.compile(vjp, shapeless=True)
    else:
        fwd, bwd = f, vjp
    checks = mlx_losses.value_checks(mode != "checks_off")
    res = Outcome()
    with checks, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fwd(*flat.arrays)
            mx.eval(out)
        except Exception as err:
            return Outcome(error=err, where="ours forward"), (fwd, bwd)
        if not isinstance(out, mx.array):
            return Outcome(error=TypeError(f"returned {type(out).__name__}"), where="ours forward"), (fwd, bwd)
        res.out, res.dtype = _to_np(out), _dtype_name(out)
        if gp:
            cot = np_to_mx(_cotangent(cot_seed, tuple(out.shape), res.dtype), res.dtype) \
                if res.dtype in TOLERANCES else mx.zeros(out.shape, out.dtype)
            try:
                gs = bwd(*flat.arrays, cot)
                mx.eval(gs)
            except Exception as err:
                return Outcome(out=res.out, dtype=res.dtype, error=err, where="ours backward"), (fwd, bwd)
            res.grads = [_to_np(g) for g in gs]
    return res, (fwd, bwd)


# --------------------------------------------------------------------------
# comparing

_FIN, _NAN, _PINF, _NINF = 0, 1, 2, 3


def _cls(x: np.ndarray) -> np.ndarray:
    c = np.zeros(x.shape, np.int8)
    c[np.isnan(x)] = _NAN
    c[np.isposinf(x)] = _PINF
    c[np.isneginf(x)] = _NINF
    return c


def _round_to(x: np.ndarray, dtype: str) -> np.ndarray:
    torch = _torch()
    if dtype not in TOLERANCES or dtype == "float64":
        return x
    return torch.from_numpy(np.array(x, dtype=np.float64)).to(getattr(torch, dtype)).double().numpy()


def compare(what: str, ours: np.ndarray, ref: np.ndarray, low: Optional[np.ndarray], dtype: str,
            more_accurate: bool, scale: float = 0.0) -> None:
    """Raise ``Mismatch`` unless ``ours`` agrees with torch (see the module
    docstring). ``ref``: float64 torch; ``low``: torch in ``dtype`` (None:
    no baseline); ``scale``: an extra absolute allowance (a rule's)."""
    if ours.shape != ref.shape:
        raise Mismatch(f"{what}: shape {ours.shape} != torch's {ref.shape}")
    ref_r = _round_to(ref, dtype)
    co, cr = _cls(ours), _cls(ref_r)
    cl = _cls(low) if low is not None else cr
    ok = co == cl
    if more_accurate:
        ok |= co == cr
    if dtype == "float64":
        ok |= co == cr
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise Mismatch(f"{what}: NaN/inf positions differ at {idx}: ours {float(ours[idx])!r}, "
                       f"{_theirs_at(ref, low, dtype, idx)}")
    fin = (co == _FIN) & np.isfinite(ref)
    if not fin.any():
        return
    rtol, atol = TOLERANCES[dtype] if dtype in TOLERANCES else TOLERANCES["float32"]
    o, r = ours[fin], ref[fin]
    err = np.abs(o - r)
    allowed = atol + rtol * np.abs(r) + scale
    if low is not None:
        lf = low[fin]
        own = np.where(np.isfinite(lf), np.abs(lf - r), 0.0)
        allowed = allowed + 2.0 * own
    bad = err > allowed
    if bad.any():
        k = int(np.argmax(np.where(bad, err - allowed, -np.inf)))
        idx = tuple(int(i) for i in np.argwhere(fin)[k]) if ours.ndim else ()
        raise Mismatch(f"{what}: element {idx}: ours {float(o[k])!r}, "
                       f"{_theirs_at(ref, low, dtype, idx)}; |diff| {err[k]:.3g} > "
                       f"allowed {allowed[k]:.3g}")


def _theirs_at(ref, low, dtype, idx) -> str:
    if low is None:
        return f"torch {float(ref[idx])!r}"
    return f"torch {dtype} {float(low[idx])!r} (float64 {float(ref[idx])!r})"


# --------------------------------------------------------------------------
# judging


def _clear(err: BaseException, ex: Example) -> bool:
    """A clear error: ValueError/TypeError/IndexError in our message form,
    ``fn: ...`` naming the loss, its Module or (inside a user's distance
    function) the public function that raised."""
    if not isinstance(err, CLEAR_ERRORS):
        return False
    import mlx_losses
    import mlx_losses.functional as F

    names = list(F.__all__) + list(mlx_losses.__all__)
    return any(str(err).startswith(f"{n}:") for n in names)


def _fmt(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err)[:300]}"


@dataclass
class Verdict:
    ok: bool
    message: str = ""
    open: Optional[str] = None  # the known-open finding that covers a failure
    repro: str = ""


def _fail(ex: Example, mode: str, msg: str, t_ex: Optional[Example] = None,
          torch_dtype: Optional[str] = None) -> Verdict:
    fid = KO.covering(ex, mode, msg)
    cot = ex.cot_seed if "gradient" in msg else None
    return Verdict(False, msg, fid, ex.repro(mode, t_ex, torch_dtype, cot))


def _torch_side(ex: Example, rounded, cot_seed: int, module: bool = False
                ) -> Tuple[Outcome, Optional[Outcome], bool]:
    """(torch in the dtype under test or its float32 baseline, torch float64,
    whether the half kernel is missing)."""
    low = run_torch(ex, rounded, ex.dtype, cot_seed, module=module)
    half_missing = False
    if ex.dtype in ("float16", "bfloat16") and low.raised and \
            "not implemented for" in str(low.error):
        low = run_torch(ex, rounded, "float32", cot_seed, module=module)
        half_missing = True
    if low.raised and low.where == "torch forward":
        return low, None, half_missing
    ref = run_torch(ex, rounded, "float64", cot_seed, module=module)
    return low, ref, half_missing


def judge(ex: Example, mode: str, compiled=None) -> Tuple[Verdict, Any]:
    """Run one example in one mode. Returns (verdict, the compiled pair)."""
    loss = ex.loss
    cot_seed = ex.cot_seed
    rounded = _rounded(ex)

    # ---- the input torch is compared on (a documented equivalent where
    # torch refuses ours by design)
    t_ex = ex
    computes = KD.explain(loss.name, "ours_computes", ex, mode)
    if computes is not None and computes.reference is not None:
        t_ex = computes.reference(ex)
    oob_mask = None
    if ex.ctx.oob and mode in OOB_MODES and loss.oob is not None:
        oob_mask, fixed_args = loss.oob(t_ex.args, t_ex.kwargs)
        if oob_mask is not None and oob_mask.any():
            t_ex = t_ex.with_args(fixed_args)
        else:
            oob_mask = None
    t_rounded = rounded if t_ex is ex else _rounded(t_ex)
    half_missing = False
    _fail_t = lambda msg: _fail(ex, mode, msg, t_ex,  # noqa: E731
                                "float32" if half_missing else None)
    # a gradient of a NaN row is not compared (torch has none to give)
    want_grad = oob_mask is None
    crash = KO.crashes(ex, mode)
    if crash is not None:  # never run in this process (see known_open.CRASHES)
        return Verdict(False, "skipped: crashes the process", crash), None
    ours, pair = run_ours(ex, rounded, mode, cot_seed, want_grad, compiled)
    # our Module against torch's Module (torch maps the legacy pair at
    # construction there, unlike its functional kl_div)
    low, ref, half_missing = _torch_side(t_ex, t_rounded, cot_seed, module=mode == "module")

    # ---- torch raises
    if low.raised and low.where == "torch forward":
        if not ours.raised and KD.explain(loss.name, "unchecked", ex, mode) is not None:
            return Verdict(True), pair
        if ours.raised:
            if _clear(ours.error, ex):
                return Verdict(True), pair
            return _fail_t(f"both raise, ours unclearly: {_fmt(ours.error)} "
                                   f"(torch: {_fmt(low.error)})"), pair
        return _fail_t(f"torch raises {_fmt(low.error)}; ours returns "
                               f"{_short(ours.out)}"), pair
    # ---- torch computes
    if ours.raised:
        d = KD.explain(loss.name, "ours_raises", ex, mode)
        if d is not None and isinstance(ours.error, CLEAR_ERRORS):
            return Verdict(True), pair
        return _fail_t(f"ours raises ({ours.where}) {_fmt(ours.error)}; torch returns "
                               f"{_short(low.out)}"), pair
    uncompared = KD.not_compared(loss.name, ex, mode)
    if uncompared == "all":
        return Verdict(True), pair
    if uncompared == "gradients":
        want_grad = False
    assert ref is not None
    if ref.raised and ref.where == "torch forward":
        # torch float64 refuses what torch in the dtype accepts: no reference
        return Verdict(True), pair
    exp_dtype = ex.dtype if half_missing else low.dtype
    if ours.dtype != exp_dtype:
        return _fail_t(f"output dtype {ours.dtype} != torch's {exp_dtype}"), pair
    more = KD.explain(loss.name, "more_accurate", ex, mode) is not None
    ref_out, low_out = ref.out, (None if ex.dtype == "float64" else low.out)
    if oob_mask is not None:
        ref_out, low_out = _nan_rows(ref_out, oob_mask), (None if low_out is None else _nan_rows(low_out, oob_mask))
    scale = reduction_scale(t_ex, t_rounded, ref_out)
    if loss.out_allowance is not None:
        scale += loss.out_allowance(ex, t_rounded)
    exact = exact_reference(ex, t_ex, t_rounded, ref_out) if more else None
    if exact is not None:
        # torch's own float64 overflowed: the exact formula is the reference
        # there (its gradient there is torch's NaN: not compared)
        ref_out, low_out, want_grad = exact, None, False
    try:
        compare(f"[{mode}] output", ours.out, ref_out, low_out, ex.dtype, more, scale)
        if want_grad and ours.grads is not None:
            if ref.raised or low.raised:
                # torch's backward refuses (a derivative it does not implement)
                return Verdict(True), pair
            for j, (g, rg) in enumerate(zip(ours.grads, ref.grads)):
                lg = None if ex.dtype == "float64" else low.grads[j]
                i = ex.grad_idx()[j]
                gscale = loss.grad_allowance(ex, t_rounded) if loss.grad_allowance else 0.0
                if isinstance(gscale, tuple):  # one per differentiated argument
                    gscale = gscale[j]
                compare(f"[{mode}] gradient w.r.t. arg {i}", g, rg, lg, ex.dtype, more, gscale)
    except Mismatch as err:
        return _fail_t(str(err)), pair
    return Verdict(True), pair


def _nan_rows(out: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The documented result of out-of-range indices: NaN rows ('none'), a
    NaN reduction otherwise."""
    out = np.array(out, dtype=np.float64)
    if out.shape == mask.shape:
        out[mask] = np.nan
        return out
    return np.full(out.shape, np.nan)


def reduction_scale(t_ex: Example, t_rounded, ref_out: np.ndarray) -> float:
    """The rounding error a reduced output ('mean', 'sum', 'batchmean') may
    carry: ``n u sum|terms|`` (over the count for a mean), the textbook bound
    of a floating sum of n terms (u: the accumulation dtype's unit
    roundoff; float32 for half inputs). Two correct implementations that sum
    in different orders can each be anywhere within it: with terms of both
    signs and magnitudes like 1e30 (hinge_embedding_loss, kl_div, the NLL
    losses) the reduced value is pure cancellation, far below the terms, and
    a relative tolerance on it says nothing. For well-conditioned sums
    (terms of one sign) the bound is below the table's rtol."""
    red = effective_reduction(t_ex.kwargs)
    if red == "none" or np.ndim(ref_out) != 0 or "reduction" not in _params(t_ex.loss):
        return 0.0
    kw = {k: v for k, v in t_ex.kwargs.items() if k not in ("size_average", "reduce")}
    kw["reduction"] = "none"
    terms = run_torch(replace(t_ex, kwargs=kw), t_rounded, "float64", 0, with_grad=False)
    if terms.raised or terms.out is None or terms.out.size == 0:
        return 0.0
    t = terms.out[np.isfinite(terms.out)]
    n = terms.out.size
    total = float(np.sum(np.abs(t)))
    if red == "mean":
        total /= n
    elif red == "batchmean":
        x = t_ex.args[0]
        total /= max(int(np.shape(x.values)[0]) if isinstance(x, Arr) and np.ndim(x.values) else 1, 1)
    u = 2.0**-53 if t_ex.dtype == "float64" else 2.0**-24
    return n * u * total


def _params(loss: FuzzLoss) -> set:
    import inspect

    fn = getattr(__import__("mlx_losses.functional", fromlist=["x"]), loss.name)
    return set(inspect.signature(fn).parameters)


def exact_reference(ex: Example, t_ex: Example, t_rounded, ref_out: np.ndarray):
    """Where a ``more_accurate`` difference covers the loss and it has an
    exact float64 NumPy formula (``FuzzLoss.exact``), that formula's value
    at the elements where torch's float64 overflowed (``None``: none)."""
    if ex.loss.exact is None:
        return None
    vals = [t_rounded[id(a)] if isinstance(a, Arr) and a.floating else
            (np.asarray(a.values) if isinstance(a, Arr) else a) for a in t_ex.args]
    kw = {k: (t_rounded[id(v)] if isinstance(v, Arr) and v.floating else v)
          for k, v in t_ex.kwargs.items()}
    with np.errstate(all="ignore"):
        exact = np.asarray(ex.loss.exact(vals, kw), dtype=np.float64)
    if exact.shape != np.shape(ref_out):
        return None
    fix = ~np.isfinite(ref_out) & np.isfinite(exact)
    return np.where(fix, exact, ref_out) if fix.any() else None


def _short(x) -> str:
    if x is None:
        return "None"
    x = np.asarray(x)
    if x.size <= 8:
        return np.array2string(x, precision=6)
    return f"array of shape {x.shape}"
