"""Checks that a loss works where PyTorch users run it.

* ``meta``: forward and backward on ``meta`` tensors (no data) with value checks off. A
  loss that reads tensor data (``.item()``, ``bool(t)``, ``torch.equal``, ...) fails: on
  a GPU that read is a host-device sync per call, and it breaks tracing. So does one that
  copies between the host and the device, which the meta device would let through:
  ``torch.tensor(0.5, device=x.device)`` or ``as_tensor`` of a Python value (use
  ``torch.full`` or the Python number itself), ``.to(x.device)`` of a CPU tensor, a CPU
  index tensor into a device tensor; each is a blocking copy on CUDA.
* ``compile``: ``torch.compile(fullgraph=True)`` traces the loss without a graph break
  and gives the eager value and gradients.
* ``vmap``: per-sample gradients with ``torch.func.vmap(torch.func.grad(...))`` equal a
  loop over samples (differential privacy, influence functions, data attribution).
* ``double_backward``: ``create_graph=True`` gives exact second derivatives
  (``gradgradcheck``): gradient penalties, meta-learning, Hessian-vector products.
* ``learnable``: a hyperparameter given as a tensor that requires grad (a learnable
  temperature, margin, ...) gets its exact gradient, or the loss refuses it with an
  error. Silently dropping the gradient (``float(t)`` inside) fails.
* ``nan_propagation``: a NaN in any floating argument gives a NaN loss or a
  ``LossInputError``, never a finite value that no monitor can see.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
import traceback
from typing import Any

import torch
from torch.autograd.gradcheck import GradcheckError
from torch.overrides import TorchFunctionMode

from .._core.validate import LossInputError, value_checks
from ._outcome import Failed, Skipped
from ._subject import Args, Subject

__all__ = ["COMPILE_BACKEND", "HostTransfers", "compiled", "double_backward", "learnable",
           "meta", "nan_propagation", "vmap"]

#: Backend of the ``compile`` check: inductor is what users run; tests may pick "aot_eager".
COMPILE_BACKEND = "inductor"


def _call(subject: Subject, args: Args, reduction: str | None = "mean") -> torch.Tensor:
    out = subject(*args, reduction=reduction)
    if not isinstance(out, torch.Tensor):
        raise Failed(f"returned {type(out).__name__}, not a tensor")
    return out


def _first_line(exc: BaseException | None) -> str:
    """The error's type and its first sentences, up to about 300 characters (torch's
    messages wrap mid-sentence: the lines are joined before cutting)."""
    return f"{type(exc).__name__}: {gist(str(exc))}"


def gist(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut after the last full sentence within ``limit``."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat.rstrip(",;:")
    end = flat.rfind(". ", 0, limit)
    return flat[:end + 1] if end > limit // 3 else flat[:limit].rstrip(",;: ") + " ..."


def _positions(subject: Subject, args: Args) -> list[int]:
    return [i for i in subject.grad_args if i < len(args) and isinstance(args[i], torch.Tensor)
            and args[i].requires_grad]


def _replace(args: Args, new: dict[int, Any]) -> Args:
    return tuple(new.get(i, a) for i, a in enumerate(args))


# --- meta ------------------------------------------------------------------------------------


_FACTORIES = (torch.tensor, torch.as_tensor, torch.asarray)
_MOVES = (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.type)
_INDEXING = (torch.Tensor.__getitem__, torch.Tensor.__setitem__, torch.Tensor.index_select,
             torch.index_select, torch.Tensor.index_add, torch.Tensor.index_add_,
             torch.Tensor.index_fill, torch.Tensor.index_fill_, torch.Tensor.index_copy,
             torch.Tensor.index_copy_, torch.Tensor.index_put, torch.Tensor.index_put_,
             torch.Tensor.gather, torch.gather, torch.Tensor.scatter, torch.Tensor.scatter_,
             torch.Tensor.scatter_add, torch.Tensor.scatter_add_, torch.Tensor.take_along_dim,
             torch.take_along_dim)
_TORCH_DIR = os.path.dirname(torch.__file__)


def _on_host(t: object) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == "cpu"


def _tensors(obj: object) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _has_list(index: object) -> bool:
    """Whether an index holds a Python list (advanced indexing: a host tensor made and
    copied to the device); a tuple is the container of a multi-axis index."""
    if isinstance(index, list):
        return True
    return isinstance(index, tuple) and any(isinstance(i, list) for i in index)


class HostTransfers(TorchFunctionMode):
    """Records the host-device copies made inside the block, on any device but the CPU.

    Run a loss on ``meta`` tensors under it: the meta device has no data, so a read fails
    by itself, but a copy from the host (``torch.tensor(0.5, device=x.device)``,
    ``.to(device)`` of a CPU tensor, a CPU index tensor into a device tensor) goes through;
    on CUDA each such copy blocks the host until the GPU has caught up (``torch.full``
    and Python numbers do not). ``found`` lists ``"what (where)"`` once per site.
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        what = self._transfer(func, args, kwargs, out)
        if what is not None:
            entry = f"{what} ({self._where()})"
            if entry not in self.found:
                self.found.append(entry)
        return out

    @staticmethod
    def _transfer(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                  out: Any) -> str | None:
        if not isinstance(out, torch.Tensor) or out.device.type == "cpu":
            return None
        name = getattr(func, "__name__", str(func))
        if (func is torch.Tensor.new and len(args) > 1 and isinstance(args[1], (list, tuple))
                and not isinstance(args[1], torch.Size)):
            return f"new() copies host data to {out.device.type}"  # x.new([0.5]), legacy
        if func in _FACTORIES or func is torch.Tensor.new_tensor:
            data = args[1 if func is torch.Tensor.new_tensor else 0] if args else None
            if data is None:
                data = kwargs.get("data", kwargs.get("obj"))
            if not isinstance(data, torch.Tensor) or data.device.type == "cpu":
                return f"{name}() copies host data to {out.device.type}"
        elif func in _MOVES:
            if args and _on_host(args[0]):
                return f"Tensor.{name}() moves a CPU tensor to {out.device.type}"
        elif func is torch.Tensor.copy_:
            if len(args) > 1 and _on_host(args[1]):
                return f"copy_() from a CPU tensor into {out.device.type}"
        elif func in _INDEXING:
            rest = list(args[1:]) + list(kwargs.values())
            if any(t.dim() > 0 and t.device.type == "cpu" for t in _tensors(rest)):
                return f"{name} with a CPU index tensor on {out.device.type}"
            if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and len(args) > 1 \
                    and _has_list(args[1]):
                return f"{name} with a Python list index (copied to {out.device.type})"
        return None

    @staticmethod
    def _where() -> str:
        here = os.path.dirname(__file__)
        for frame in reversed(traceback.extract_stack()[:-2]):
            if not frame.filename.startswith((here, _TORCH_DIR)):
                return f"{os.path.basename(frame.filename)}:{frame.lineno}"
        return "inside torch"


def _to_meta(value: Any) -> Any:
    if not isinstance(value, torch.Tensor) or value.device.type == "meta":
        return value
    moved = value.detach().to("meta")
    return moved.requires_grad_(value.requires_grad) if value.is_floating_point() else moved


def _on_meta(subject: Subject) -> Subject:
    """The subject with its bound tensors (a module's buffers and parameters, the bound
    hyperparameters of a losskit module or a partial, such as a pos_weight) on meta like
    the inputs: on a GPU they live on the device too; copying them there on every call is
    what the check must catch, not their being on the host in the example."""
    fn = subject.fn
    if isinstance(fn, torch.nn.Module) and any(
            t.device.type != "meta" for t in (*fn.parameters(), *fn.buffers())):
        return dataclasses.replace(subject, fn=copy.deepcopy(fn).to("meta"))
    bound = getattr(fn, "bound", None)  # losskit modules (verify._subject)
    if isinstance(fn, functools.partial):
        bound = fn.keywords
    if isinstance(bound, dict) and any(isinstance(v, torch.Tensor) for v in bound.values()):
        # the call's own keywords win over the bound ones in both wrappers
        return dataclasses.replace(subject, fn=functools.partial(
            fn, **{k: _to_meta(v) for k, v in bound.items()}))
    return subject


def _no_meta_kernel(exc: Exception) -> bool:
    """Whether ``exc`` says an operator (or autocast) has no meta implementation."""
    text = str(exc)
    return (isinstance(exc, NotImplementedError) and ("Meta" in text or "meta" in text)) or (
        "autocast" in text.lower() and "meta" in text.lower()) or "unsupported scalarType" in text


def _mixes_devices(exc: Exception) -> bool:
    """Whether ``exc`` is torch's error for an operation on tensors of two devices."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and "device" in text and (
        "is not on the expected device" in text or "same device" in text)


def meta(subject: Subject) -> str:
    subject = _on_meta(subject)
    args = subject.example(n=4)
    if not any(isinstance(a, torch.Tensor) for a in args):
        raise Skipped("no tensor arguments")
    moved_args = tuple(_to_meta(a) for a in args)
    inputs = [moved_args[i] for i in _positions(subject, moved_args)]
    # every reduction: a data read can hide in one branch ("sum" only, say)
    reductions: tuple[str | None, ...] = (("mean", "sum", "none") if subject.takes_reduction
                                          else (None,))
    shapes = []
    for reduction in reductions:
        where = "" if reduction in ("mean", None) else f' (reduction="{reduction}")'
        transfers = HostTransfers()
        with value_checks(False):
            try:
                with transfers:
                    out = _call(subject, moved_args, reduction)
                    total = out.sum() if out.dim() else out
                    grads = torch.autograd.grad(total, inputs, allow_unused=True) if (
                        inputs and out.requires_grad) else ()
            except Failed:
                raise
            except Exception as exc:
                if _no_meta_kernel(exc):
                    raise Skipped(f"an operator has no meta implementation{where}, so reading "
                                  f"data cannot be told from a missing kernel "
                                  f"({_first_line(exc)})") from None
                if _mixes_devices(exc):
                    raise Failed(f"combines the inputs with a tensor it makes on the host"
                                 f"{where} ({_first_line(exc)}): on a GPU the call fails "
                                 "with a device mismatch; make it on the inputs' device "
                                 "(device=input.device in torch.eye, torch.arange, "
                                 "torch.tensor, ...)") from None
                raise Failed(f"cannot run without reading tensor data{where} "
                             f"({_first_line(exc)}); on a GPU such a read is a host-device "
                             "sync on every call") from None
        if transfers.found:
            raise Failed(f"copies between the host and the device{where}, a blocking sync on "
                         "CUDA on every call: " + "; ".join(transfers.found[:4]))
        if out.device.type != "meta":
            raise Failed(f"the result{where} is on {out.device}, not on the inputs' device")
        bad = [g for g in grads if g is not None and g.device.type != "meta"]
        if bad:
            raise Failed(f"a gradient{where} left the inputs' device")
        shapes.append(tuple(out.shape))
    names = ", ".join(r or "default" for r in reductions)
    return f"forward and backward on meta tensors ({names}; shape {shapes[0]}): no data is read"


# --- compile ---------------------------------------------------------------------------------


def compiled(subject: Subject) -> str:
    args = subject.example()
    eager = _call(subject, args)
    inputs = [args[i] for i in _positions(subject, args)]
    eager_grads = (torch.autograd.grad(eager, inputs, allow_unused=True)
                   if inputs and eager.requires_grad else ())

    def fn(*a: Any) -> torch.Tensor:
        return subject(*a, reduction="mean")

    fresh = subject.prepare(args)
    fresh_inputs = [fresh[i] for i in _positions(subject, fresh)]
    torch.compiler.reset()
    try:
        out = torch.compile(fn, backend=COMPILE_BACKEND, fullgraph=True)(*fresh)
        grads = (torch.autograd.grad(out, fresh_inputs, allow_unused=True)
                 if fresh_inputs and out.requires_grad else ())
    except Exception as exc:
        raise Failed(f"torch.compile(fullgraph=True) failed: {_first_line(exc)}") from None
    finally:
        torch.compiler.reset()
    if not _close(out, eager):
        raise Failed(f"compiled {_num(out)} vs eager {_num(eager)}")
    for a, b in zip(grads, eager_grads):
        if (a is None) != (b is None) or (a is not None and not _close(a, b)):
            raise Failed("compiled gradients differ from eager")
    return f"fullgraph ({COMPILE_BACKEND}): value {_num(out)} and gradients equal eager"


# --- vmap ------------------------------------------------------------------------------------


def _batch_positions(subject: Subject, args: Args, n: int) -> list[int]:
    if subject.input_kind == "parameters":
        return []
    first = args[0]
    if not isinstance(first, torch.Tensor) or first.dim() == 0 or first.shape[0] != n:
        return []
    return [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.dim()
            and a.shape[0] == n]


def vmap(subject: Subject) -> str:
    n = 4
    args = subject.example(n=n, requires_grad=False)
    pos = _batch_positions(subject, args, n)
    gpos = [p for p in subject.grad_args if p in pos and args[p].is_floating_point()]
    if not gpos:
        raise Skipped("no batch-first differentiable argument")
    reduction = "sum" if subject.takes_reduction else None

    def one(*vals: torch.Tensor) -> torch.Tensor:
        call = _replace(args, {p: v.unsqueeze(0) for p, v in zip(pos, vals)})
        return _call(subject, call, reduction)

    loop = []
    try:
        for i in range(n):
            vals = [args[p][i].clone().requires_grad_(p in gpos) for p in pos]
            out = one(*vals)
            grads = torch.autograd.grad(out, [vals[pos.index(p)] for p in gpos],
                                        allow_unused=True)
            loop.append([torch.zeros_like(vals[pos.index(p)]) if g is None else g
                         for p, g in zip(gpos, grads)])
    except Failed:
        raise
    except Exception as exc:
        raise Skipped(f"the loss is not defined on a single sample ({_first_line(exc)})") from None
    argnums = tuple(pos.index(p) for p in gpos)
    with value_checks(False):
        try:
            per = torch.func.vmap(torch.func.grad(one, argnums=argnums))(*[args[p] for p in pos])
        except Exception as exc:
            raise Failed(f"torch.func.vmap(torch.func.grad(...)) failed: "
                         f"{_first_line(exc)}") from None
    for i in range(n):
        for k in range(len(gpos)):
            if not _close(per[k][i], loop[i][k]):
                raise Failed(f"per-sample gradient {i} of argument {gpos[k]} differs from the "
                             f"loop's by {_diff(per[k][i], loop[i][k])}")
    return f"per-sample gradients of {n} samples equal a loop"


# --- double backward -------------------------------------------------------------------------


def double_backward(subject: Subject) -> str:
    args = subject.example(n=3, seed=1)
    positions = _positions(subject, args)
    if not positions:
        raise Skipped("no floating-point argument to differentiate")
    inputs = tuple(args[i] for i in positions)

    def fn(*diff: torch.Tensor) -> torch.Tensor:
        return _call(subject, _replace(args, dict(zip(positions, diff))))

    try:
        torch.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4,
                                     fast_mode=True)
    except GradcheckError as exc:
        raise Failed(f"second derivatives disagree with finite differences of the gradient: "
                     f"{_first_line(exc)}") from None
    except Exception as exc:
        raise Failed(f"create_graph=True failed: {_first_line(exc)}") from None
    return "gradgradcheck passes (float64): create_graph=True gives exact second derivatives"


# --- learnable hyperparameters ---------------------------------------------------------------


def _candidates(name: str, default: Any, args: Args) -> list[torch.Tensor]:
    """Tensor values to try for a hyperparameter: its default as a scalar, or (for a
    per-class one with no default) vectors sized by the input's class axis."""
    if isinstance(default, float) and not isinstance(default, bool):
        value = default if abs(default) > 1e-3 else 0.1
        return [torch.tensor(value, dtype=torch.float64)]
    out = [torch.tensor(1.5, dtype=torch.float64)]
    g = torch.Generator().manual_seed(11)
    for a in args[:2]:
        if isinstance(a, torch.Tensor) and a.dim() >= 2:
            size = a.shape[1] if a is args[0] else a.shape[0]
            out.append(torch.rand(size, generator=g, dtype=torch.float64) + 0.5)
    return out


def learnable(subject: Subject) -> str:
    declared = set(subject.learnable)
    names = [k for k, v in subject.hyperparameters.items()
             if k in declared or (isinstance(v, float) and not isinstance(v, bool))]
    if not names:
        raise Skipped("no float hyperparameters")
    base = subject.example(n=3, seed=1)
    # the data without gradients, so only the hyperparameter can give the result a graph
    fixed = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in base)
    notes = []
    for name in names:
        taken = None
        error = None
        for value in _candidates(name, subject.hyperparameters[name], base):
            h = value.clone().requires_grad_(True)
            try:
                out = subject.fn(*fixed, **{name: h})
            except Exception as exc:
                error = exc
                continue
            taken = value
            break
        if taken is None:
            if name in declared:
                raise Failed(f"{name} is declared learnable but a tensor value raised "
                             f"{_first_line(error)}")
            notes.append(f"{name} refuses a tensor")
            continue
        if not (isinstance(out, torch.Tensor) and out.requires_grad):
            # No graph to it: frozen (read with float(t)) if the value moves with it, or
            # simply unused under these options (beta of a divergence that has none).
            with torch.no_grad():
                step = 1e-3 * max(1.0, float(taken.abs().max()))
                moved = [subject.fn(*fixed, **{name: taken + s}) for s in (step, -step)]
            if not torch.equal(moved[0], moved[1]):
                raise Failed(f"{name} given as a tensor that requires grad: the result has no "
                             "gradient for it but changes with it (the value was read and "
                             "frozen, e.g. float(t)); learn it or refuse tensors with an error")
            notes.append(f"{name} has no effect with these options")
            continue

        def fn(hyper: torch.Tensor, _name: str = name, _fixed: Args = fixed) -> torch.Tensor:
            return subject.fn(*_fixed, **{_name: hyper})

        # The hyperparameter's own gradient (the inputs' gradients are the other checks').
        inputs = (taken.clone().requires_grad_(True),)
        try:
            torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)
        except GradcheckError as exc:
            raise Failed(f"the gradient with respect to a tensor {name} is wrong: "
                         f"{_first_line(exc)}") from None
        except RuntimeError as exc:
            raise Failed(f"{name} given as a tensor: {_first_line(exc)}") from None
        notes.append(f"{name} exact" + ("" if name in declared else " (not declared learnable)"))
    return "; ".join(notes)


# --- NaN propagation -------------------------------------------------------------------------


def nan_propagation(subject: Subject) -> str:
    base = subject.example(requires_grad=False)
    floating = [i for i, a in enumerate(base) if isinstance(a, torch.Tensor)
                and a.is_floating_point() and a.numel()]
    if not floating:
        raise Skipped("no floating-point argument")
    notes = []
    for i in floating:
        for checks in (True, False):
            args = list(base)
            poisoned = args[i].clone()
            poisoned.view(-1)[0] = math.nan
            args[i] = poisoned
            with value_checks(checks), torch.no_grad():
                try:
                    out = _call(subject, tuple(args), None)
                except LossInputError:
                    notes.append(f"argument {i}: LossInputError" if checks else "")
                    continue
                except Exception as exc:
                    raise Failed(f"a NaN in argument {i} raised {_first_line(exc)} instead of "
                                 "a NaN loss or a LossInputError") from None
            if not bool(torch.isnan(out).any()):
                state = "on" if checks else "off"
                raise Failed(f"a NaN in argument {i} gave the finite loss {_num(out)} (value "
                             f"checks {state}): a monitor cannot see the bad input")
    return "a NaN in any floating argument gives a NaN loss or a LossInputError" + (
        f" ({'; '.join(n for n in notes if n)})" if any(notes) else "")


# --- helpers ---------------------------------------------------------------------------------


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    return a.shape == b.shape and bool(torch.isclose(a.detach().double(), b.detach().double(),
                                                     rtol=rtol, atol=atol, equal_nan=True).all())


def _diff(a: torch.Tensor, b: torch.Tensor) -> str:
    return f"{float((a.detach().double() - b.detach().double()).abs().max()):.3g}"


def _num(t: torch.Tensor) -> str:
    return f"{float(t.detach().double().reshape(-1)[0]):.6g}" if t.numel() else "[]"
