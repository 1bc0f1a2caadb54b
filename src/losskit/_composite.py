"""The weighted-sum module behind :mod:`losskit.compose` and loss arithmetic.

:class:`Composite` and :func:`as_composite` live here, below ``losskit.nn``, so that loss
modules can build sums (``0.5 * dice + 0.5 * ce``) without importing the spec parser
above them; :mod:`losskit.compose` re-exports them. See that module for the semantics.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import torch

from ._core.registry import LossInfo
from ._core.validate import LossInputError
from .schedules import Schedule, as_schedule

__all__ = ["Composite", "as_composite"]


def _loss_info(module: Any) -> LossInfo | None:
    """The LossInfo of a losskit loss module (``losskit.nn``), None for anything else."""
    info = getattr(type(module), "info", None)
    return info if isinstance(module, torch.nn.Module) and isinstance(info, LossInfo) else None


@dataclass
class _Term:
    name: str
    module: Callable[..., torch.Tensor]
    coefficient: float = 1.0
    schedule: Schedule | None = None
    bound: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> LossInfo | None:
        return _loss_info(self.module)

    def weight(self, step: int) -> float:
        return self.coefficient * (1.0 if self.schedule is None else self.schedule(step))

    def scaled(self, factor: float | Schedule) -> _Term:
        coefficient, schedule = self.coefficient, self.schedule
        if isinstance(factor, Schedule):
            schedule = factor if schedule is None else schedule * factor
        else:
            coefficient *= float(factor)
        return _Term(self.name, self.module, coefficient, schedule, dict(self.bound))


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    k = 2
    while f"{name}_{k}" in taken:
        k += 1
    return f"{name}_{k}"


class Composite(torch.nn.Module):
    """A weighted sum of loss terms that remembers each term's last value.

    Args:
        terms: mapping term name -> loss module, or -> ``(weight, loss module)``; a
            weight is a number or a :class:`~losskit.schedules.Schedule`.

    Call it like its terms (see the module docstring for how arguments are routed);
    ``step=`` sets the schedule step first. Loss modules are registered as submodules
    (so ``.to(device)`` moves their buffers); bound data such as a model are *not*, so
    the composite's ``parameters()`` does not duplicate the model's. ``+`` and ``*`` return
    a new composite that shares the operands' loss modules and starts at step 0.
    """

    step_count: torch.Tensor

    def __init__(self, terms: Mapping[str, Any] | None = None, *,
                 weighting: Callable[..., torch.Tensor] | None = None) -> None:
        super().__init__()
        self._terms: list[_Term] = []
        self.losses = torch.nn.ModuleDict()
        # The step lives in a Python int (read on every call without touching tensor data,
        # so the composite traces under torch.compile) and is mirrored in a buffer so that
        # state_dict saves and restores it.
        self._step = 0
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))
        # Module.register_load_state_dict_post_hook is unannotated in torch's source
        self.register_load_state_dict_post_hook(  # type: ignore[no-untyped-call]
            _read_step_after_load)
        self.last_terms: dict[str, torch.Tensor] = {}
        self.last_weights: dict[str, float] = {}
        self.weighting: Callable[..., torch.Tensor] | None = None
        for name, value in (terms or {}).items():
            weight, module = value if isinstance(value, tuple) else (1.0, value)
            schedule = None if _is_number(weight) else as_schedule(weight)
            coefficient = float(weight) if _is_number(weight) else 1.0
            self._add(_Term(str(name), module, coefficient, schedule))
        self._set_weighting(weighting)

    @classmethod
    def _from_terms(cls, terms: Iterable[_Term],
                    weighting: Callable[..., torch.Tensor] | None = None) -> Composite:
        out = cls()
        for t in terms:
            out._add(t)
        out._set_weighting(weighting)
        return out

    def _set_weighting(self, weighting: Callable[..., torch.Tensor] | None) -> None:
        if weighting is None:
            return
        if not callable(weighting):
            raise LossInputError(f"weighting must be a module that combines the terms, got "
                                 f"{type(weighting).__name__}")
        tasks = getattr(weighting, "n_tasks", None)
        if tasks is not None and tasks != len(self._terms):
            raise LossInputError(f"the weighting combines {tasks} tasks but the composite has "
                                 f"{len(self._terms)} terms {self.terms}")
        self.weighting = weighting

    def _add(self, term: _Term) -> None:
        if not callable(term.module):
            raise LossInputError(f"term {term.name!r} must be a loss module or callable, got "
                                 f"{type(term.module).__name__}")
        term.name = _unique(term.name, {t.name for t in self._terms})
        if isinstance(term.module, torch.nn.Module):
            self.losses[term.name] = term.module
        self._terms.append(term)

    # --- introspection ---------------------------------------------------------------------

    @property
    def terms(self) -> tuple[str, ...]:
        """Term names, in order."""
        return tuple(t.name for t in self._terms)

    @property
    def current_step(self) -> int:
        return self._step

    def _set_step(self, step: int) -> None:
        self._step = int(step)
        self.step_count.fill_(self._step)

    def step(self, n: int = 1) -> int:
        """Advance the schedule step by ``n`` (once per optimizer step); returns the new step."""
        self._set_step(self._step + int(n))
        return self._step

    def weights(self, step: int | None = None) -> dict[str, float]:
        """Each term's weight at ``step`` (default: the current step)."""
        s = self.current_step if step is None else int(step)
        return {t.name: t.weight(s) for t in self._terms}

    def extra_repr(self) -> str:
        parts = []
        for t in self._terms:
            w = [f"{t.coefficient:g}"] if t.coefficient != 1 or t.schedule is None else []
            w += [] if t.schedule is None else [f"({t.schedule!r})"]
            parts.append("*".join([*w, t.name]))
        return " + ".join(parts) + f", step={self.current_step}"

    # --- evaluation ------------------------------------------------------------------------

    def forward(self, *args: Any, step: int | None = None, **kwargs: Any) -> torch.Tensor:
        if step is not None:
            self._set_step(step)
        s = self._step
        used_keywords: set[str] = set()
        used_positional = 0
        total: torch.Tensor | None = None
        values: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        weighted: dict[str, torch.Tensor] = {}
        for term in self._terms:
            call_args, call_kwargs, n_pos = _route(term, args, kwargs, used_keywords)
            used_positional = max(used_positional, n_pos)
            value = term.module(*call_args, **call_kwargs)
            w = term.weight(s)
            total = w * value if total is None else total + w * value
            weighted[term.name] = w * value
            values[term.name] = value.detach()
            weights[term.name] = w
        if self.weighting is not None and weighted:
            total = self.weighting(weighted)
        unused = sorted(set(kwargs) - used_keywords)
        if unused:
            raise LossInputError(f"no term of {self.terms} accepts the keyword {unused[0]!r}")
        if used_positional < len(args):
            raise LossInputError(f"the composite {self.terms} was called with {len(args)} "
                                 f"positional arguments but its terms use only "
                                 f"{used_positional}")
        if total is None:
            raise LossInputError("the composite has no terms")
        self.last_terms, self.last_weights = values, weights
        return total

    # --- arithmetic ------------------------------------------------------------------------

    def __add__(self, other: Any) -> Composite:
        if _is_number(other) and other == 0:
            return self
        if not isinstance(other, (Composite, torch.nn.Module)) and not callable(other):
            return NotImplemented
        other = as_composite(other)
        if self.weighting is not None or other.weighting is not None:
            raise LossInputError("cannot add terms to a composite with a learned weighting (it "
                                 "was built for its number of terms): build the whole sum "
                                 "first, then pass weighting=")
        return Composite._from_terms([*self._copy_terms(), *other._copy_terms()])

    def __radd__(self, other: Any) -> Composite:
        if _is_number(other) and other == 0:  # sum([loss_a, loss_b]) starts from 0
            return self
        if not isinstance(other, torch.nn.Module) and not callable(other):
            return NotImplemented
        return as_composite(other) + self

    def __mul__(self, factor: Any) -> Composite:
        if not (_is_number(factor) or isinstance(factor, Schedule)):
            return NotImplemented
        return Composite._from_terms((t.scaled(factor) for t in self._terms), self.weighting)

    __rmul__ = __mul__

    def _copy_terms(self) -> list[_Term]:
        return [_Term(t.name, t.module, t.coefficient, t.schedule, dict(t.bound))
                for t in self._terms]


def _read_step_after_load(module: Composite, incompatible_keys: Any) -> None:
    module._step = int(module.step_count)


def _required(info: LossInfo) -> list[str]:
    params = info.signature.parameters
    return [a for a in info.data_arguments if params[a].default is inspect.Parameter.empty]


def _route(term: _Term, args: tuple[Any, ...], kwargs: dict[str, Any], used: set[str]
           ) -> tuple[tuple[Any, ...], dict[str, Any], int]:
    """The positional and keyword arguments of one term, and how many positionals it took."""
    info = term.info
    if info is None:  # a foreign module: give it the call as it is
        used.update(kwargs)
        return args, dict(kwargs), len(args)
    accepted = info.signature.parameters
    call = dict(term.bound)
    for key, value in kwargs.items():
        if key in accepted:
            call[key] = value
            used.add(key)
    free = [a for a in _required(info) if a not in call]
    if info.input_kind == "parameters" and free and free[0] == info.data_arguments[0]:
        raise LossInputError(
            f"term {term.name!r} penalizes model parameters, which are never taken from the "
            f"positional arguments: bind them (losskit.get(spec, {term.name}={{'params': "
            f"model}}) or losskit.compose.bind(loss, params=model)) or pass params= to the call"
        )
    if len(args) < len(free):
        raise LossInputError(
            f"term {term.name!r} needs the data arguments {free}, but the call gave "
            f"{len(args)} positional arguments; pass the others by keyword or bind them"
        )
    call.update(zip(free, args))
    return (), call, len(free)


def as_composite(loss: Any) -> Composite:
    """A composite view of ``loss``: itself if it is one, else a single term of weight 1."""
    if isinstance(loss, Composite):
        return loss
    info = _loss_info(loss)
    if info is not None:
        name = info.name
    elif isinstance(loss, torch.nn.Module):
        name = _snake(type(loss).__name__)
    elif callable(loss):
        name = getattr(loss, "__name__", "loss")
    else:
        raise LossInputError(f"cannot add {type(loss).__name__} to a loss")
    return Composite._from_terms([_Term(name, loss)])
