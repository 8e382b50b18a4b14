"""What the fuzzer draws (an :class:`Example`) and how a loss is described
(a :class:`FuzzLoss`, the data in ``families/``)."""

from __future__ import annotations

import math

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .draw import Ctx


def _literal(values) -> str:
    """A flat Python list literal of the values (exact: repr of each float)."""
    out = []
    for v in np.asarray(values).reshape(-1).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append(f"float({str(v)!r})")
        else:
            out.append(repr(v))
    return "[" + ", ".join(out) + "]"


@dataclass(eq=False)
class Arr:
    """An array argument. ``dtype=None``: floating, follows the dtype under
    test (``values`` are float64 and are rounded to it); otherwise exactly
    this dtype (class indices, lengths, integer or bool inputs)."""

    values: np.ndarray
    dtype: Optional[str] = None
    grad: bool = False

    @property
    def floating(self) -> bool:
        return self.dtype is None

    def __repr__(self) -> str:
        v = np.asarray(self.values)
        body = np.array2string(v, separator=", ", threshold=10**6, max_line_width=10**6,
                               floatmode="unique")
        return f"Arr({body}, shape={v.shape}" + (f", dtype={self.dtype!r}" if self.dtype else "") \
            + (", grad=True" if self.grad else "") + ")"


@dataclass(frozen=True)
class PerSide:
    """A value that differs by side (a distance function, an options object):
    ``ours()`` / ``theirs()`` build it; ``ours_text`` / ``theirs_text`` are
    the Python expressions a repro prints (the module they name is
    imported)."""

    ours_text: str
    theirs_text: str
    ours: Callable[[], Any]
    theirs: Callable[[], Any]

    def __repr__(self) -> str:
        return self.ours_text


Inputs = Tuple[List[Any], Dict[str, Any]]


@dataclass
class FuzzLoss:
    """One loss, as data.

    Attributes:
        name: the functional name (``mlx_losses.functional.<name>``), also
            torch's unless ``theirs`` says otherwise; the test id.
        inputs: ``inputs(draw, ctx, opts) -> (args, array_kwargs)``: the
            positional arguments (``Arr`` or plain values) and keyword arrays
            (``weight``...), drawn for the options ``opts``.
        options: name -> picker ``(draw, ctx) -> value`` (see
            ``draw.options``): the non-array options, drawn first (so that
            the shapeless mode can draw two inputs under the same options).
        module: our Module class (torch's name), or None.
        module_split: ``kwargs -> (constructor kwargs, call kwargs)`` when not
            every option is a constructor keyword (default: all are).
        module_call: ``(module, *args, **call_kwargs)`` when calling it needs
            more than ``module(*args)``.
        ours / theirs: override either side: ``f(*args, **kwargs)``.
        params: the positional parameter names (for keyword calls); default
            from our function's signature.
        oob: ``(args, kwargs) -> bool mask`` of the 'none'-shaped output
            positions whose class index is out of range; set only where our
            kernel masks such indices (never reads outside the array), which
            enables out-of-range draws in the compiled and checks-off modes.
        keyword_call: whether the positional arrays may go by keyword.
        exact: ``(args, kwargs) -> float64 output``, a NumPy formula used
            where torch's own float64 overflows and a ``more_accurate``
            difference says ours is exact (the softplus losses).
        grad_allowance / out_allowance: ``(example, rounded) -> float``, an
            absolute allowance on the gradients / the output, where the gradient is a difference
            of terms much larger than itself (each with its reason); a
            gradient allowance may be a tuple, one per differentiated
            argument.
    """

    name: str
    inputs: Callable[..., Inputs]
    options: Dict[str, Callable] = field(default_factory=dict)
    module: Optional[str] = None
    module_split: Optional[Callable[[Dict[str, Any]], Tuple[Dict[str, Any], Dict[str, Any]]]] = None
    module_call: Optional[Callable] = None
    ours: Optional[Callable] = None
    theirs: Optional[Callable] = None
    params: Optional[Sequence[str]] = None
    oob: Optional[Callable] = None
    keyword_call: bool = True
    exact: Optional[Callable] = None
    grad_allowance: Optional[Callable] = None
    out_allowance: Optional[Callable] = None

    def ours_fn(self) -> Callable:
        if self.ours is not None:
            return self.ours
        import mlx_losses.functional as F

        return getattr(F, self.name)

    def theirs_fn(self) -> Callable:
        if self.theirs is not None:
            return self.theirs
        import torch.nn.functional as TF

        return getattr(TF, self.name)

    def param_names(self) -> Sequence[str]:
        if self.params is not None:
            return self.params
        import inspect

        import mlx_losses.functional as F

        sig = inspect.signature(getattr(F, self.name))
        return [p.name for p in sig.parameters.values()
                if p.kind == p.POSITIONAL_OR_KEYWORD]


@dataclass
class Example:
    """One drawn input: the loss, the dtype, positional args, keyword
    options, whether the array args go by keyword, and the regime."""

    loss: FuzzLoss
    dtype: str
    args: List[Any]
    kwargs: Dict[str, Any]
    ctx: Ctx
    keyword: bool = False  # pass the positional arrays by name (input=..., target=...)
    cot_seed: int = 0  # the gradient's random cotangent

    def grad_idx(self) -> List[int]:
        return [i for i, a in enumerate(self.args) if isinstance(a, Arr) and a.grad]

    def with_args(self, args: List[Any]) -> "Example":
        return replace(self, args=list(args))

    def __repr__(self) -> str:
        return (f"Example({self.loss.name}, dtype={self.dtype!r}, regime={self.ctx.regime!r}, "
                f"keyword={self.keyword}, args={self.args!r}, kwargs={self.kwargs!r})")

    # ------------------------------------------------------------------
    def repro(self, mode: str, torch_example: Optional["Example"] = None,
              torch_dtype: Optional[str] = None, cot_seed: Optional[int] = None) -> str:
        """A short script that shows the mismatch: our call and torch's on
        the same values (and, with ``cot_seed``, both VJPs under the
        fuzzer's cotangent). Adapters (CTC's log_softmax, LCE's options) are
        imported by name. ``torch_example``: the input torch gets where a
        documented difference gives it an equivalent (int64 for int32
        indices); ``torch_dtype``: torch's dtype where it has no half
        kernel."""
        tex = torch_example or self
        dt = self.dtype
        tdt = torch_dtype or dt
        head = ["import numpy as np, mlx.core as mx, torch, mlx_losses, mlx_losses.functional as F",
                "torch.set_num_threads(1)"]
        lines: List[str] = []
        names: Dict[int, str] = {}
        for e in (self, tex):
            for v in list(e.args) + list(e.kwargs.values()):
                if isinstance(v, Arr) and id(v) not in names:
                    nm = f"a{len(names)}"
                    names[id(v)] = nm
                    npdt = "np.float64" if v.dtype is None else f"np.{v.dtype}"
                    lines.append(f"{nm} = np.array({_literal(v.values)}, dtype={npdt})"
                                 f".reshape({np.shape(v.values)})")

        def mx_of(v):
            n = names[id(v)]
            if v.dtype is not None:
                return f"mx.array({n})"
            if dt == "float64":
                return f"mx.array({n}, dtype=mx.float64)"
            return f"mx.array({n}.astype(np.float32)).astype(mx.{dt})"

        def t_of(v, tdtype):
            n = names[id(v)]
            if v.dtype is not None:
                return f"torch.from_numpy({n})"
            if tdtype == "float64" and dt != "float64":
                # the reference: float64 on the values rounded to the dtype under test
                return f"torch.from_numpy({n}).to(torch.{dt}).double()"
            return f"torch.from_numpy({n}).to(torch.{tdtype})"

        def fn_name(f, default):
            if f is None:
                return default
            head.append(f"import {f.__module__}")
            return f"{f.__module__}.{f.__qualname__}"

        params = list(self.loss.param_names())

        def call(fname, e, side, tdtype="", grads=()):
            def val(i, v):
                if isinstance(v, Arr):
                    if i in grads:
                        return f"p{grads.index(i)}" if side == "mx" else f"t{tdtype[-2:]}_{grads.index(i)}"
                    return mx_of(v) if side == "mx" else t_of(v, tdtype)
                if isinstance(v, PerSide):
                    text = v.ours_text if side == "mx" else v.theirs_text
                    mod = text.split("(")[0].rsplit(".", 1)[0]
                    if f"import {mod}" not in head:
                        head.append(f"import {mod}")
                    return text
                if isinstance(v, float) and not math.isfinite(v):
                    return f"float({str(v)!r})"
                return repr(v)

            if e.keyword and len(params) >= len(e.args):
                a = [f"{p}={val(i, v)}" for i, (p, v) in enumerate(zip(params, e.args))]
            else:
                a = [val(i, v) for i, v in enumerate(e.args)]
            a += [f"{n}={val(None, v)}" for n, v in e.kwargs.items() if side == "mx" or n != "group"]
            return f"{fname}({', '.join(a)})"

        gi = self.grad_idx() if cot_seed is not None else []
        ours = call(fn_name(self.loss.ours, f"F.{self.loss.name}"), self, "mx", grads=gi)
        theirs_name = fn_name(self.loss.theirs, f"torch.nn.functional.{self.loss.name}")
        wrap = {"checks_off": "with mlx_losses.value_checks(False):\n    ",
                "module": f"# (the fuzzer calls the Module mlx_losses.{self.loss.module})\n",
                "compile": "# (the fuzzer runs this under mx.compile, the arrays as inputs)\n",
                "shapeless": "# (the fuzzer runs this under mx.compile(shapeless=True))\n"}.get(mode, "")
        if gi:
            ps = ", ".join(f"p{j}" for j in range(len(gi)))
            prims = ", ".join(mx_of(self.args[i]) for i in gi)
            lines.append(f"f = lambda {ps}: {ours}")
            lines.append(f"{wrap}ours = f({prims})")
        else:
            lines.append(f"{wrap}ours = {ours}")
        if tdt != dt:
            lines.append(f"# (torch has no {dt} CPU kernel: the fuzzer's baseline is torch in float32)")
        for tdtype in (tdt, "float64"):
            for j, i in enumerate(gi):
                lines.append(f"t{tdtype[-2:]}_{j} = {t_of(tex.args[i], tdtype)}.requires_grad_()")
        lines.append(f"theirs = {call(theirs_name, tex, 'torch', tdt, gi)}")
        lines.append(f"theirs64 = {call(theirs_name, tex, 'torch', 'float64', gi)}  # the reference")
        lines.append("print('ours', ours, 'torch', theirs, 'torch float64', theirs64, sep='\\n')")
        if gi:
            lines.append(f"cot = np.random.default_rng({cot_seed}).normal(size=tuple(theirs.shape))"
                         "  # the fuzzer's cotangent")
            if dt == "float64":
                lines.append("cot_mx = mx.array(cot, dtype=mx.float64)")
            else:
                lines.append("cot = torch.from_numpy(cot).to(theirs.dtype).double().numpy()  # rounded")
                lines.append("cot_mx = mx.array(cot.astype(np.float32)).astype(ours.dtype)")
            lines.append(f"print('ours grads', *mx.vjp(f, [{prims}], [cot_mx])[1], sep='\\n')")
            for tdtype, out in ((tdt, "theirs"), ("float64", "theirs64")):
                leaves = ", ".join(f"t{tdtype[-2:]}_{j}" for j in range(len(gi)))
                lines.append(f"print('torch {tdtype} grads', *torch.autograd.grad({out}, [{leaves}], "
                             f"torch.from_numpy(cot).to({out}.dtype), allow_unused=True), sep='\\n')")
        return "\n".join(head + lines)
