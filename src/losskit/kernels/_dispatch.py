"""The one dispatch between a loss's definition and its accelerators.

A loss in :mod:`losskit.functional` is its definition: the formula in plain torch. Where
something faster exists (a native C kernel, a Triton kernel, torch's own fused builtin,
a custom autograd Function), it is registered here against the loss with
:func:`register`, declaring what it supports. The definition asks :func:`dispatch` at
the one point where the accelerator can stand in for its arithmetic; it gets the
accelerator's result, or ``None`` and computes the formula itself.

The contract of every accelerator:

* it is called with the arguments the definition passes to :func:`dispatch` for that
  loss (documented beside the call) and returns what the definition would have
  computed at that point: the unreduced terms for ``reduction="none"``, otherwise their
  sum. Denominators and the empty-selection rule stay in :mod:`losskit._core.reduce`
  (where ``_core.reduce.fused_mean_ok`` certifies a mean as sum / element count,
  :func:`dispatch_mean` lets an accelerator registered with ``fuses_mean=True`` return
  that mean from its own kernel);
* it declares the devices and dtypes it runs on, whether ``create_graph=True`` gives
  exact higher derivatives, and which hyperparameters may be tensors that require grad;
  the dispatch declines everything outside that before the accelerator is asked;
* its ``supports`` function declines the rest with a reason (a string), without reading
  tensor data on a device other than the CPU;
* the tests check it against the definition (``tests/test_accelerators.py``).

``LOSSKIT_KERNELS=auto|plain|native|triton`` chooses for the process (``auto`` is the
default; ``LOSSKIT_NATIVE=0`` means ``plain``); :func:`use` changes it for the current
thread, e.g. ``with losskit.kernels.use("plain"):``. ``plain`` never accelerates;
``native`` or ``triton`` run that backend wherever one is registered for the loss and
raise :class:`AcceleratorDeclined` when it declines the call, so a test can prove the
accelerator ran; losses without one run their definition.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "BACKENDS",
    "FUSED_MEAN",
    "MODES",
    "Accelerator",
    "AcceleratorDeclined",
    "accelerators",
    "dispatch",
    "dispatch_mean",
    "mode",
    "register",
    "set_mode",
    "use",
]

#: Where an accelerator's arithmetic comes from. "torch": torch's own fused builtins or a
#: custom autograd Function written in torch ops; "native": the C kernels of
#: ``_native.c``; "triton": Triton kernels (CUDA, or CPU tensors in Triton's interpreter).
BACKENDS = ("torch", "native", "triton")
#: "torch" forces torch's builtins like "native" forces C (for tests and benchmarks).
MODES = ("auto", "plain", "native", "triton", "torch")
# In "auto", the first accelerator that takes the call wins: Triton, then native C, then
# torch's builtins (which beat the definition's several ops only by their call overhead).
_ORDER = {"triton": 0, "native": 1, "torch": 2}
# Backends that hand raw data pointers to foreign code: they cannot be traced by
# torch.compile or run on the wrapped tensors of torch.func transforms.
_OPAQUE = frozenset({"native", "triton"})


#: The ``reduction`` an accelerator registered with ``fuses_mean=True`` receives from
#: :func:`dispatch_mean`: return the mean over the elements it was given (torch's
#: ``reduction="mean"``), which ``_core.reduce.fused_mean_ok`` has certified equal to the
#: definition's mean (sum / element count, non-empty, no mask or class weights).
FUSED_MEAN = "fused_mean"


class AcceleratorDeclined(RuntimeError):
    """A forced backend (``LOSSKIT_KERNELS=native|triton``) cannot take this call."""


@dataclass(frozen=True)
class Accelerator:
    """One registered fast path for one loss.

    ``supports(*args, **kwargs)`` returns ``None`` when it takes the call and a reason
    otherwise; ``run(*args, **kwargs)`` computes it. ``devices`` and ``dtypes`` bound
    the first tensor argument's device type and dtype (``dtypes`` empty: any);
    ``double_backward`` says whether ``create_graph=True`` through it gives exact
    higher derivatives; ``tensor_hyperparameters`` names the keyword arguments that may
    be tensors requiring grad (their gradients are exact); any other keyword tensor that
    requires grad makes the dispatch decline. ``min_numel`` is the size below which the
    accelerator never pays off (checked first, on every call). ``traceable`` says whether
    it can run while ``torch.compile`` traces and on the wrapped tensors of ``torch.func``
    transforms
    (torch's builtins can; C, Triton and custom autograd Functions without vmap rules
    cannot, and are declined there).
    """

    loss: str
    backend: str
    name: str
    run: Callable[..., Any]
    supports: Callable[..., str | None]
    devices: frozenset[str]
    dtypes: frozenset[torch.dtype] = frozenset()
    double_backward: bool = False
    tensor_hyperparameters: frozenset[str] = frozenset()
    description: str = ""
    #: The keyword arguments of the call it implements (``definition`` aside): a call
    #: that passes any other keyword with a value other than None is declined, so a
    #: definition can pass a new option before every accelerator knows it.
    options: tuple[str, ...] = field(default=())
    traceable: bool = True
    min_numel: int = 0
    fuses_mean: bool = False

    def static_reason(self, device_type: str, dtype: torch.dtype) -> str | None:
        """Why this accelerator never takes tensors of this device type and dtype."""
        if device_type not in self.devices:
            return f"runs on {sorted(self.devices)}, not {device_type}"
        if self.dtypes and dtype not in self.dtypes:
            names = sorted(str(d).removeprefix("torch.") for d in self.dtypes)
            return f"takes {names}, not {str(dtype).removeprefix('torch.')}"
        return None

    def decline_reason(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """Why this accelerator does not take the call, or ``None`` when it does.

        Cheapest first (this runs on every call of an accelerated loss): the first
        argument's device and dtype, whether torch.compile is tracing an accelerator that
        cannot be traced (before ``supports``, which dynamo would otherwise have to trace:
        a lazy build behind a lock, a lazy import), the accelerator's own ``supports``
        (sizes, options), then transforms, then hyperparameters that require grad.
        """
        first = args[0] if args and isinstance(args[0], torch.Tensor) else next(
            (a for a in args if isinstance(a, torch.Tensor)), None)
        if first is not None and first.numel() < self.min_numel:
            return f"fewer than {self.min_numel} elements: not worth the call"
        if first is not None:
            reason = self.static_reason(first.device.type, first.dtype)
            if reason is not None:
                return reason
        return self.dynamic_reason(args, kwargs)

    def dynamic_reason(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """:meth:`decline_reason` after the size, device and dtype checks."""
        if not self.traceable and torch.compiler.is_compiling():
            return "torch.compile is tracing (compiled graphs use the definition)"
        for key, value in kwargs.items():
            # An option this path never heard of is one it would silently drop.
            if value is not None and key not in self.options and key != "definition":
                return f"{key} is not among the options it implements {self.options}"
        reason = self.supports(*args, **kwargs)
        if reason is not None:
            return reason
        if not self.traceable and any(isinstance(a, torch.Tensor) and not _has_storage(a)
                                      for a in (*args, *kwargs.values())):
            return "inside a torch.func transform (vmap/grad) or on tensors without storage"
        if torch.is_grad_enabled():
            for key, value in kwargs.items():
                if (isinstance(value, torch.Tensor) and value.requires_grad
                        and key not in self.tensor_hyperparameters):
                    return f"{key} is a tensor that requires grad, which this path does " \
                           "not differentiate"
        return None


def _has_storage(t: torch.Tensor) -> bool:
    try:
        t.data_ptr()
    except (RuntimeError, NotImplementedError):
        return False
    return True


_REGISTRY: dict[str, list[Accelerator]] = {}


# (loss, device type, dtype) -> the accelerators whose devices and dtypes admit such a
# first argument, in order: the eager dispatch filters once per kind of call, not per call.
_ADMITTED: dict[tuple[str, str, torch.dtype], tuple[Accelerator, ...]] = {}


def register(loss: str, backend: str, *, name: str, devices: tuple[str, ...],
             supports: Callable[..., str | None], dtypes: tuple[torch.dtype, ...] = (),
             double_backward: bool = False, tensor_hyperparameters: tuple[str, ...] = (),
             description: str = "", options: tuple[str, ...] = (),
             traceable: bool | None = None, min_numel: int = 0, fuses_mean: bool = False
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``run`` as an accelerator of ``loss`` (see :class:`Accelerator`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")

    def decorator(run: Callable[..., Any]) -> Callable[..., Any]:
        acc = Accelerator(loss=loss, backend=backend, name=name, run=run, supports=supports,
                          devices=frozenset(devices), dtypes=frozenset(dtypes),
                          double_backward=double_backward,
                          tensor_hyperparameters=frozenset(tensor_hyperparameters),
                          description=description, options=tuple(options),
                          traceable=(backend not in _OPAQUE) if traceable is None else traceable,
                          min_numel=min_numel, fuses_mean=fuses_mean)
        entries = [a for a in _REGISTRY.get(loss, []) if a.name != name]
        entries.append(acc)
        entries.sort(key=lambda a: _ORDER[a.backend])
        _REGISTRY[loss] = entries
        _ADMITTED.clear()
        return run

    return decorator


def accelerators(loss: str | None = None) -> list[Accelerator]:
    """The registered accelerators (of one loss, or all), in the order ``auto`` tries them.

    Accelerators register when their module is imported; ``import losskit`` imports the
    definitions, which import the accelerators they dispatch to.
    """
    if loss is not None:
        return list(_REGISTRY.get(loss, ()))
    return [a for name in sorted(_REGISTRY) for a in _REGISTRY[name]]


def _initial_mode() -> str:
    value = os.environ.get("LOSSKIT_KERNELS", "").strip().lower() or "auto"
    if os.environ.get("LOSSKIT_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        value = "plain"
    if value not in MODES:
        raise ValueError(f"LOSSKIT_KERNELS must be one of {MODES}, got {value!r}")
    return value


_PROCESS_MODE = _initial_mode()
_MODE: contextvars.ContextVar[str | None] = contextvars.ContextVar("losskit_kernels",
                                                                   default=None)


def mode() -> str:
    """The path in force for this thread: ``auto``, ``plain``, ``native``, ``triton``
    or ``torch``."""
    if torch.compiler.is_compiling():
        return _PROCESS_MODE
    return _MODE.get() or _PROCESS_MODE


def set_mode(value: str) -> None:
    """Set the process-wide mode (what ``LOSSKIT_KERNELS`` sets at start-up)."""
    global _PROCESS_MODE
    if value not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {value!r}")
    _PROCESS_MODE = value


@contextlib.contextmanager
def use(value: str) -> Iterator[None]:
    """Run the block with this mode in the current thread only."""
    if value not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {value!r}")
    token = _MODE.set(value)
    try:
        yield
    finally:
        _MODE.reset(token)


def _first_tensor(args: tuple[Any, ...]) -> torch.Tensor | None:
    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    return next((a for a in args if isinstance(a, torch.Tensor)), None)


def _admitted(loss: str, entries: list[Accelerator], first: torch.Tensor
              ) -> tuple[Accelerator, ...]:
    key = (loss, first.device.type, first.dtype)
    found = _ADMITTED.get(key)
    if found is None:
        found = tuple(a for a in entries if a.static_reason(key[1], key[2]) is None)
        _ADMITTED[key] = found
    return found


def _select(loss: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Accelerator | None:
    """The accelerator that takes the call (see :func:`dispatch`), or ``None``."""
    entries = _REGISTRY.get(loss)
    if not entries:
        return None
    # While torch.compile traces, the process-wide mode applies (dynamo cannot trace a
    # ContextVar; a thread's ``use(...)`` around a compiled call is baked in at tracing).
    compiling = torch.compiler.is_compiling()
    current = _PROCESS_MODE if compiling else (_MODE.get() or _PROCESS_MODE)
    if current == "plain":
        return None
    if current == "auto":
        first = None if compiling else _first_tensor(args)
        if first is None:  # traced (no cache mutation under dynamo) or no tensor argument
            return next((a for a in entries if a.decline_reason(args, kwargs) is None), None)
        numel = first.numel()
        for acc in _admitted(loss, entries, first):
            if numel >= acc.min_numel and acc.dynamic_reason(args, kwargs) is None:
                return acc
        return None
    forced = [a for a in entries if a.backend == current]
    if not forced:
        return None
    reasons = []
    for acc in forced:
        reason = acc.decline_reason(args, kwargs)
        if reason is None:
            return acc
        reasons.append(f"{acc.name}: {reason}")
    raise AcceleratorDeclined(
        f"LOSSKIT_KERNELS={current} forces the {current} accelerator of {loss!r}, which "
        f"declines this call ({'; '.join(reasons)}). Use LOSSKIT_KERNELS=auto to fall back "
        "to the definition."
    )


def dispatch(loss: str, *args: Any, **kwargs: Any) -> Any:
    """The first registered accelerator of ``loss`` that takes the call, run; or ``None``.

    Called by the loss's definition with the arguments its accelerators take. Under a
    forced backend, an accelerator of that backend that declines raises
    :class:`AcceleratorDeclined` instead of falling back.
    """
    acc = _select(loss, args, kwargs)
    return None if acc is None else acc.run(*args, **kwargs)


def dispatch_mean(loss: str, *args: Any, **kwargs: Any) -> tuple[Any, bool] | None:
    """:func:`dispatch` for a call whose ``"mean"`` ``_core.reduce.fused_mean_ok`` has
    certified to be the plain element mean: ``(result, True)`` when the accelerator that
    takes it fuses the mean (it ran with ``reduction=FUSED_MEAN`` and returned the final
    value), ``(result, False)`` when it returned the sum as usual, ``None`` when none
    takes the call. Saves the separate division (an op and, for tiny calls, a good part
    of the call's time) where torch's builtin divides inside its kernel."""
    acc = _select(loss, args, kwargs)
    if acc is None:
        return None
    if acc.fuses_mean:
        return acc.run(*args, **{**kwargs, "reduction": FUSED_MEAN}), True
    return acc.run(*args, **kwargs), False


def differentiate_definition(loss: str, call: Callable[..., torch.Tensor],
                             inputs: tuple[torch.Tensor | None, ...],
                             grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """Gradients of the definition, for an accelerator's backward under ``create_graph``.

    A fused kernel's stored gradient is a constant: differentiating it again would give
    silently wrong (zero) second derivatives. When autograd records the backward
    (``create_graph=True``: grad mode is on inside ``backward``), accelerators call this
    instead: it re-runs the definition (``call(*inputs)``, in plain mode) on the saved
    inputs and differentiates it with ``create_graph=True``, so every higher derivative
    is the definition's own.
    """
    wanted = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    with use("plain"), torch.enable_grad():
        out = call(*inputs)
    grads = iter(torch.autograd.grad(out, wanted, grad_output, create_graph=True,
                                     allow_unused=True))
    return tuple(next(grads) if isinstance(t, torch.Tensor) and t.requires_grad else None
                 for t in inputs)
