"""The loss under test, whatever form it came in, behind one calling convention.

``check`` accepts a registered name, a registered function, a ``losskit.nn`` module, or
any user callable ``(input, target) -> tensor``. :class:`Subject` hides the difference:
how to call it with a given reduction, where its inputs come from (the registry, a
user example, or a task), which arguments take gradients, and what is known about it
(perfect prediction, reference implementation, claimed properties, expected failures).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .._core.registry import LossInfo, get_info
from .._core.validate import LossInputError
from ..functional import _examples as ex

__all__ = ["TASKS", "Subject", "build_subject"]

Args = tuple[Any, ...]
Factory = Callable[[int, int], Args]


# --- inputs for a task ---------------------------------------------------------------------


def _binary(n: int, seed: int) -> Args:
    logits, target = ex.binary_logits(n, seed, labels=1)
    return logits[:, 0], target[:, 0]


def _embedding(n: int, seed: int, dim: int = 8, classes: int = 3) -> Args:
    g = ex.generator(seed)
    labels = torch.arange(n) % classes
    labels = labels[torch.randperm(n, generator=g)]
    return ex.randn(n, dim, g=g), labels


def _same_as_target(args: Args) -> Args:
    return (args[1].clone(), args[1], *args[2:])


def _confident_logits(args: Args) -> Args:
    """Logits of +-20 that agree with {0, 1} targets (loss ~ e^-20)."""
    return (20.0 * (2.0 * args[1].to(args[0].dtype) - 1.0), *args[1:])


def _confident_class_logits(args: Args) -> Args:
    """Logits of 20 on the target class and 0 elsewhere, class dimension 1."""
    logits, target = args[0], args[1]
    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    return (20.0 * onehot.movedim(-1, 1), *args[1:])


def _distribution_optimum(args: Args) -> Args:
    return (torch.log(args[1]), *args[1:])


@dataclass(frozen=True)
class Task:
    """How to make inputs for a user's loss that declares only its task."""

    name: str
    make: Factory
    input_kind: str
    target_kind: str
    optimum: Callable[[Args], Args] | None


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("regression", ex.regression, "values", "values", _same_as_target),
    Task("binary", _binary, "logits", "binary", _confident_logits),
    Task("multilabel", ex.binary_logits, "logits", "binary", _confident_logits),
    Task("multiclass", ex.class_logits, "logits", "class_indices", _confident_class_logits),
    Task("segmentation", ex.dense_class_logits, "logits", "class_indices",
         _confident_class_logits),
    Task("distribution", ex.distribution_logits, "logits", "probabilities",
         _distribution_optimum),
    Task("embedding", _embedding, "embeddings", "class_indices", None),
)}


# --- the subject ---------------------------------------------------------------------------


@dataclass
class Subject:
    """A loss and everything ``check`` needs to exercise it."""

    name: str
    fn: Callable[..., torch.Tensor]
    make: Factory
    reduction_mode: str | None = None  # "argument", "attribute" or None
    grad_args: tuple[int, ...] = (0,)
    input_kind: str | None = None
    target_kind: str | None = None
    task: str | None = None
    family: str | None = None
    optimum: Callable[[Args], Args] | None = None
    reference: Callable[..., torch.Tensor] | None = None
    properties: frozenset[str] = frozenset()
    expected_failures: dict[str, str] = field(default_factory=dict)
    fixed_example: bool = False
    n: int = 7
    notes: list[str] = field(default_factory=list)
    learnable: tuple[str, ...] = ()
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    none_shape: str = "element"
    #: The optimum is confident logits that agree with the targets: for a logits task the
    #: infimum lies at infinity, or (label smoothing, a temperature) at a finite margin,
    #: so it is a direction to compare, not a minimum to test.
    optimum_is_limit: bool = False
    #: A module loss with its floating buffers (and, once a call needed them, parameters)
    #: in another dtype: (module, cast copy, parameters cast), made once per dtype so that
    #: state it keeps between calls (a running mean) stays visible to the checks.
    _in_dtype: dict[torch.dtype, Any] = field(default_factory=dict, repr=False)

    @property
    def takes_reduction(self) -> bool:
        return self.reduction_mode is not None

    def float64_twin(self) -> tuple[Subject, list[torch.Tensor]]:
        """The subject on a float64 deep copy of its module, and that copy's trainable
        floating parameters (to perturb or train without touching the user's module);
        ``(self, [])`` when the loss has none. Raises RuntimeError or TypeError when the
        module cannot be deep-copied (a non-leaf tensor attribute, a parametrization)."""
        module = self.fn
        if not isinstance(module, torch.nn.Module) or not any(
                p.requires_grad and p.is_floating_point() for p in module.parameters()):
            return self, []
        twin = copy.deepcopy(module).double()
        params: list[torch.Tensor] = [p for p in twin.parameters()
                                      if p.requires_grad and p.is_floating_point()]
        return dataclasses.replace(self, fn=twin, _in_dtype={}), params

    @property
    def ignore_index(self) -> int | None:
        """The class index the loss ignores: a module's ``ignore_index`` attribute (torch's
        losses) or the default of an ``ignore_index`` argument; None when it has none."""
        value = getattr(self.fn, "ignore_index", self.hyperparameters.get("ignore_index"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def __call__(self, *args: Any, reduction: str | None = None) -> torch.Tensor:
        """Call the loss; ``reduction=None`` means the loss's own default."""
        fn = self._in_dtype_of(args)
        try:
            return self._call(fn, args, reduction)
        except RuntimeError as exc:
            # float32 parameters beside float64 inputs (class centres): cast them too, and
            # keep doing so for this dtype. A module that casts its input to its parameters'
            # dtype (emb.float() @ W) is served by the first form.
            cast = self._in_dtype_of(args, parameters=True)
            if cast is fn or ("dtype" not in str(exc) and "scalar type" not in str(exc)):
                raise
            return self._call(cast, args, reduction)

    def _call(self, fn: Callable[..., torch.Tensor], args: Args,
              reduction: str | None) -> torch.Tensor:
        if reduction is None or self.reduction_mode is None:
            return fn(*args)
        if self.reduction_mode == "argument":
            return fn(*args, reduction=reduction)
        module = copy.copy(fn)  # shallow: shares parameters and buffers
        module.reduction = reduction  # type: ignore[attr-defined]
        return module(*args)

    def _in_dtype_of(self, args: Args, parameters: bool = False) -> Callable[..., torch.Tensor]:
        """The loss, with a module's floating buffers (a class weight, a pos_weight), and with
        ``parameters`` (or once they were needed for this dtype) its floating parameters, in
        the dtype the check gives its inputs, as ``module.double()`` would: the checks run
        in float64, and torch refuses a float32 weight beside float64 logits."""
        fn = self.fn
        if not isinstance(fn, torch.nn.Module):
            return fn
        dtype = next((a.dtype for a in args
                      if isinstance(a, torch.Tensor) and a.is_floating_point()), None)
        if dtype is None:
            return fn
        cached = self._in_dtype.get(dtype)
        try:
            if cached is None or cached[0] is not fn:  # a copy (on meta) has its own fn
                cached = self._in_dtype[dtype] = (fn, _buffers_in(fn, dtype), False)
            if parameters and not cached[2]:
                cached = self._in_dtype[dtype] = (
                    fn, _buffers_in(fn, dtype, parameters=True), True)
        except RuntimeError:  # a parametrized module cannot be copied: use it as it is
            return fn
        cast: Callable[..., torch.Tensor] = cached[1]
        return cast

    def example(self, n: int | None = None, seed: int = 0, dtype: torch.dtype = torch.float64,
                requires_grad: bool = True) -> Args:
        """Example arguments in ``dtype``; the ``grad_args`` are fresh leaves."""
        raw = self.make(self.n if n is None else n, seed)
        return self.prepare(raw, dtype=dtype, requires_grad=requires_grad)

    def prepare(self, raw: Args, dtype: torch.dtype = torch.float64,
                requires_grad: bool = True) -> Args:
        out = []
        for i, a in enumerate(raw):
            if isinstance(a, torch.Tensor):
                a = a.detach()
                if a.is_floating_point():
                    a = a.to(dtype)
                    if requires_grad and i in self.grad_args:
                        a = a.clone().requires_grad_(True)
            out.append(a)
        return tuple(out)

    def grad_tensors(self, args: Args) -> list[torch.Tensor]:
        return [args[i] for i in self.grad_args if i < len(args)
                and isinstance(args[i], torch.Tensor) and args[i].requires_grad]


def _reduction_mode(loss: Callable[..., Any]) -> str | None:
    """Whether the loss takes ``reduction`` as an argument, holds it as an attribute, or neither."""
    target = loss.forward if isinstance(loss, torch.nn.Module) else loss
    try:
        if "reduction" in inspect.signature(target).parameters:
            return "argument"
    except (TypeError, ValueError):  # builtins without a signature
        pass
    if isinstance(loss, torch.nn.Module) and isinstance(getattr(loss, "reduction", None), str):
        return "attribute"
    return None


def _keyword_defaults(loss: Callable[..., Any]) -> dict[str, Any]:
    """Arguments with defaults of a user's loss (its hyperparameters): keyword-only ones,
    and positional ones after the data (``def loss(input, target, temperature=0.1)``)."""
    target = loss.forward if isinstance(loss, torch.nn.Module) else loss
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return {}
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {p.name: p.default for p in params if p.kind in kinds
            and p.default is not inspect.Parameter.empty and p.name not in ("reduction",
                                                                             "weight")}


def _label(loss: Any) -> str:
    if isinstance(loss, torch.nn.Module):
        return type(loss).__name__
    for attr in ("__qualname__", "__name__"):
        value = getattr(loss, attr, None)
        if isinstance(value, str):
            return value
    if hasattr(loss, "func"):  # functools.partial
        return f"partial({_label(loss.func)})"
    return type(loss).__name__


def _as_factory(example: Args | Factory) -> tuple[Factory, bool]:
    if callable(example):
        return example, False
    if not isinstance(example, (tuple, list)) or not example:
        raise LossInputError("example must be a non-empty tuple of arguments or a factory "
                             f"(n, seed) -> tuple, got {type(example).__name__}")
    fixed = tuple(example)
    return (lambda n, seed: fixed), True


def _buffers_in(module: torch.nn.Module, dtype: torch.dtype,
                parameters: bool = False) -> torch.nn.Module:
    """``module`` with the floating buffers (and with ``parameters`` the parameters, by a
    differentiable cast, so gradients still reach them) of it and of every submodule (a
    class weight held by a wrapped ``nn.CrossEntropyLoss``) in ``dtype``: shallow copies
    along the paths that hold one; ``module`` itself where none differs."""
    stale = {k: b.to(dtype) for k, b in module._buffers.items()
             if b is not None and b.is_floating_point() and b.dtype != dtype}
    params = {k: p.to(dtype) for k, p in module._parameters.items()
              if parameters and p is not None and p.is_floating_point() and p.dtype != dtype}
    kids = {k: _buffers_in(c, dtype, parameters) for k, c in module._modules.items()
            if c is not None}
    changed = {k: c for k, c in kids.items() if c is not module._modules[k]}
    if not stale and not params and not changed:
        return module
    twin = copy.copy(module)  # shallow: what is not cast is shared
    twin._buffers = {**module._buffers, **stale}
    # a cast is no Parameter; the module only reads the entries
    twin._parameters = {**module._parameters, **params}  # type: ignore[dict-item]
    twin._modules = {**module._modules, **changed}
    return twin


def build_subject(
    loss: Any,
    *,
    task: str | None = None,
    example: Args | Factory | None = None,
    reference: Callable[..., torch.Tensor] | None = None,
    expected_failures: Mapping[str, str] | None = None,
    grad_args: tuple[int, ...] | None = None,
) -> Subject:
    """Normalize whatever the user passed into a :class:`Subject`."""
    if task is not None and task not in TASKS:
        raise LossInputError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    if grad_args is not None and (
            isinstance(grad_args, (str, bytes)) or not all(
                isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in grad_args)):
        raise LossInputError(f"grad_args must be positions of the loss's arguments (ints >= 0), "
                             f"got {grad_args!r}")
    info: LossInfo | None = None
    info_reference: Callable[..., torch.Tensor] | None = None
    if isinstance(loss, str):
        info = get_info(loss)
        fn: Callable[..., Any] = info.fn
        name = info.name
    elif isinstance(getattr(loss, "info", None), LossInfo):
        info = loss.info
        name = info.name
        if isinstance(loss, torch.nn.Module):
            # A losskit.nn wrapper: call the function with the module's hyperparameters so
            # the reduction can still be varied.
            bound = {k: v for k, v in getattr(loss, "hyperparameters", {}).items()
                     if k != "reduction"}
            info_fn = info.fn

            def fn(*args: Any, **kwargs: Any) -> torch.Tensor:
                # a call's own keywords (a check varying a hyperparameter) win over the
                # module's bound values
                return info_fn(*args, **{**bound, **kwargs})

            fn.__signature__ = inspect.signature(info.fn)  # type: ignore[attr-defined]
            fn.bound = bound  # type: ignore[attr-defined]  # read by the meta check
            if info.reference is not None and bound:
                info_ref = info.reference

                def info_reference(*args: Any, **kwargs: Any) -> torch.Tensor:
                    return info_ref(*args, **{**bound, **kwargs})
        else:
            fn = loss
    elif callable(loss):
        fn, name = loss, _label(loss)
    else:
        raise LossInputError(f"loss must be a callable or a registered loss name, got "
                             f"{type(loss).__name__}")

    notes: list[str] = []
    fixed = False
    if example is not None:
        make, fixed = _as_factory(example)
    elif info is not None and task is None:
        make = info.example_inputs
    elif task is not None:
        make = TASKS[task].make
    else:
        task = "regression"
        make = TASKS[task].make
        notes.append("no task or example given: assumed regression (input, target) pairs; "
                     "pass task= or example= for other losses")

    spec = TASKS.get(task) if task is not None else None
    subject = Subject(
        name=name,
        fn=fn,
        make=make,
        reduction_mode=_reduction_mode(fn),
        grad_args=(tuple(grad_args) if grad_args is not None
                   else info.grad_args if info is not None else (0,)),
        input_kind=info.input_kind if info is not None else (spec.input_kind if spec else None),
        target_kind=info.target_kind if info is not None else (spec.target_kind if spec else None),
        task=task if task is not None else (info.tasks[0] if info is not None and info.tasks
                                            else None),
        family=info.family if info is not None else None,
        optimum=(info.optimum if info is not None and example is None and task is None
                 else (spec.optimum if spec else None)),
        reference=reference if reference is not None else (
            info_reference or (info.reference if info else None)),
        properties=info.properties if info is not None else frozenset(),
        expected_failures={**(dict(info.expected_failures) if info else {}),
                           **dict(expected_failures or {})},
        fixed_example=fixed,
        notes=notes,
        learnable=info.learnable if info is not None else (),
        hyperparameters=(dict(info.hyperparameters) if info is not None
                         else _keyword_defaults(fn)),
        none_shape=info.none_shape if info is not None else "element",
    )
    subject.optimum_is_limit = (spec is not None and subject.optimum is spec.optimum
                                and spec.input_kind == "logits")
    if fixed:
        first = subject.example(requires_grad=False)[0]
        subject.n = first.shape[0] if isinstance(first, torch.Tensor) and first.dim() else 1
    return subject
