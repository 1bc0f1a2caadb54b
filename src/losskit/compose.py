"""Weighted sums of losses: ``"0.5*dice + 0.5*cross_entropy"`` and ``0.5 * dice + 0.5 * ce``.

Build a composite from a spec string::

    loss = losskit.get("0.5*dice + 0.5*cross_entropy", dice={"include_background": False})
    value = loss(logits, target)
    loss.last_terms      # {"dice": tensor(...), "cross_entropy": tensor(...)}, detached

or from loss modules with ``*`` and ``+`` (weights may be numbers or schedules)::

    from losskit.schedules import LinearWarmup
    loss = losskit.get("mse") + 0.1 * LinearWarmup(1000) * losskit.get("gaussian_kl")

**Hyperparameters.** ``losskit.get(spec, **kw)``: a keyword named like a term (as
written in the spec) takes a dict for that term only; other keywords go to every
term that has a hyperparameter of that name (``reduction="sum"``); ``schedules=``
maps term names to schedules.

**Terms that need other data than (input, target).** Each term receives the data
arguments of its own function: those *bound* at construction (a term's dict may
hold data arguments as well as hyperparameters, e.g. ``l2_penalty={"params":
model}`` binds a model whose parameters are read at every call), then those passed
to the call by keyword (``loss(recon, x, mu=mu, logvar=logvar)`` routes ``mu`` and
``logvar`` to ``gaussian_kl``; ``loss(logits, y, group=g)`` routes ``group`` to a
fairness gap), and finally the call's positional arguments, in order, fill the
remaining *required* data arguments of every term. Any call keyword is given to
every term whose function accepts it; a keyword no term accepts is an error. Model
parameters (``l1_penalty``, ``l2_penalty``) are never taken from positional
arguments. Modules that are not losskit losses receive the call's arguments as they
are.

**Schedules and the step counter.** A term's weight is ``coefficient *
schedule(step)`` (see :mod:`losskit.schedules`). The composite keeps the step:
``composite.step()`` advances it by one (call it once per optimizer step, like a
learning-rate scheduler); ``composite(..., step=k)`` sets it to ``k`` before
computing. Calling the composite never advances it by itself, so evaluation calls
do not move a warm-up. The step is a buffer, saved in ``state_dict``.

**Logging.** After each call ``last_terms`` maps term name -> detached, *unweighted*
value and ``last_weights`` term name -> the weight used.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import torch

from ._core.registry import LossInfo, close_names, get_info
from ._core.validate import LossInputError
from .nn import Loss, module_class
from .schedules import Constant, Schedule, as_schedule

__all__ = ["Composite", "as_composite", "bind", "parse"]


@dataclass
class _Term:
    name: str
    module: Callable[..., torch.Tensor]
    coefficient: float = 1.0
    schedule: Schedule | None = None
    bound: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> LossInfo | None:
        return self.module.info if isinstance(self.module, Loss) else None

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

    def __init__(self, terms: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._terms: list[_Term] = []
        self.losses = torch.nn.ModuleDict()
        # The step lives in a Python int (read on every call without touching tensor data,
        # so the composite traces under torch.compile) and is mirrored in a buffer so that
        # state_dict saves and restores it.
        self._step = 0
        self.register_buffer("step_count", torch.zeros((), dtype=torch.long))
        self.register_load_state_dict_post_hook(_read_step_after_load)
        self.last_terms: dict[str, torch.Tensor] = {}
        self.last_weights: dict[str, float] = {}
        for name, value in (terms or {}).items():
            weight, module = value if isinstance(value, tuple) else (1.0, value)
            schedule = None if _is_number(weight) else as_schedule(weight)
            coefficient = float(weight) if _is_number(weight) else 1.0
            self._add(_Term(str(name), module, coefficient, schedule))

    @classmethod
    def _from_terms(cls, terms: Iterable[_Term]) -> Composite:
        out = cls()
        for t in terms:
            out._add(t)
        return out

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
        for term in self._terms:
            call_args, call_kwargs, n_pos = _route(term, args, kwargs, used_keywords)
            used_positional = max(used_positional, n_pos)
            value = term.module(*call_args, **call_kwargs)
            w = term.weight(s)
            total = w * value if total is None else total + w * value
            values[term.name] = value.detach()
            weights[term.name] = w
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
        return Composite._from_terms([*self._copy_terms(), *as_composite(other)._copy_terms()])

    def __radd__(self, other: Any) -> Composite:
        if _is_number(other) and other == 0:  # sum([loss_a, loss_b]) starts from 0
            return self
        if not isinstance(other, torch.nn.Module) and not callable(other):
            return NotImplemented
        return as_composite(other) + self

    def __mul__(self, factor: Any) -> Composite:
        if not (_is_number(factor) or isinstance(factor, Schedule)):
            return NotImplemented
        return Composite._from_terms(t.scaled(factor) for t in self._terms)

    __rmul__ = __mul__

    def _copy_terms(self) -> list[_Term]:
        return [_Term(t.name, t.module, t.coefficient, t.schedule, dict(t.bound))
                for t in self._terms]


def _read_step_after_load(module: Composite, incompatible_keys: Any) -> None:
    module._step = int(module.step_count)


def _required(info: LossInfo) -> list[str]:
    params = info.signature.parameters
    return [a for a in info.data_arguments if params[a].default is inspect.Parameter.empty]


def _route(term: _Term, args: tuple, kwargs: dict, used: set[str]) -> tuple[tuple, dict, int]:
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
    if isinstance(loss, Loss):
        name = loss.info.name
    elif isinstance(loss, torch.nn.Module):
        name = _snake(type(loss).__name__)
    elif callable(loss):
        name = getattr(loss, "__name__", "loss")
    else:
        raise LossInputError(f"cannot add {type(loss).__name__} to a loss")
    return Composite._from_terms([_Term(name, loss)])


def _split_term_options(info: LossInfo, term: str, options: Mapping[str, Any]
                        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a term's options into constructor hyperparameters and bound data arguments."""
    if not isinstance(options, Mapping):
        raise LossInputError(f"options for term {term!r} must be a dict, got "
                             f"{type(options).__name__}")
    hyper_names = set(info.hyperparameters) | {"reduction"}
    bindable = set(info.signature.parameters) - hyper_names
    hyper, bound = {}, {}
    for key, value in options.items():
        if key in hyper_names:
            hyper[key] = value
        elif key in bindable:
            bound[key] = value
        else:
            raise LossInputError(
                f"term {term!r} ({info.name}) has no option {key!r}; hyperparameters: "
                f"{sorted(hyper_names)}, data arguments to bind: {sorted(bindable)}"
            )
    return hyper, bound


def bind(loss: str | Loss, /, **options: Any) -> Composite:
    """A one-term composite with data arguments bound (and hyperparameters set).

    >>> import torch, losskit
    >>> model = torch.nn.Linear(3, 1)
    >>> objective = losskit.get("mse") + 0.01 * bind("l2_penalty", params=model)
    >>> objective.terms
    ('mse', 'l2_penalty')
    """
    if isinstance(loss, str):
        info = get_info(loss)
        hyper, bound = _split_term_options(info, info.name, options)
        module = module_class(info.name)(**hyper)
    elif isinstance(loss, Loss):
        hyper, bound = _split_term_options(loss.info, loss.info.name, options)
        if hyper:
            raise LossInputError(f"set hyperparameters {sorted(hyper)} when building the loss "
                                 "module, bind() only binds data arguments to an existing one")
        module = loss
    else:
        raise LossInputError(f"bind() takes a loss name or a losskit loss module, got "
                             f"{type(loss).__name__}")
    return Composite._from_terms([_Term(module.info.name, module, bound=bound)])


# --- spec strings -------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<op>[+*])
  | (?P<bad>\S)
)""", re.VERBOSE)


def _tokens(spec: str) -> list[tuple[str, str, int]]:
    out = []
    for m in _TOKEN.finditer(spec):
        kind = m.lastgroup
        if kind is None:
            continue
        out.append((kind, m.group(kind), m.start(kind)))
    return out


def _syntax_error(spec: str, pos: int, what: str) -> LossInputError:
    return LossInputError(f"cannot parse loss spec {spec!r}: {what} at position {pos} "
                          f"({spec[:pos]!r} <- here); write a weighted sum such as "
                          "'0.5*dice + 0.5*cross_entropy'")


def _parse_terms(spec: str) -> list[tuple[float, str]]:
    """``[(coefficient, name as written), ...]`` from ``'w1*name1 + name2*w2 + ...'``."""
    terms: list[tuple[float, str]] = []
    coefficient, name, expect_operand, last_pos = 1.0, None, True, 0
    for kind, text, pos in [*_tokens(spec), ("end", "", len(spec))]:
        last_pos = pos
        if kind == "bad":
            raise _syntax_error(spec, pos, f"unexpected character {text!r}")
        if expect_operand:
            if kind == "number":
                coefficient *= float(text)
            elif kind == "name":
                if name is not None:
                    raise _syntax_error(spec, pos, f"two loss names multiplied ({name!r} * "
                                                   f"{text!r})")
                name = text
            else:
                raise _syntax_error(spec, pos, "expected a number or a loss name")
            expect_operand = False
        elif kind == "op" and text == "*":
            expect_operand = True
        elif kind in ("op", "end"):
            if name is None:
                raise _syntax_error(spec, pos, "a term without a loss name")
            terms.append((coefficient, name.lower().replace("-", "_")))
            coefficient, name, expect_operand = 1.0, None, True
            if kind == "end":
                return terms
        else:
            raise _syntax_error(spec, pos, f"expected '+' or '*' before {text!r}")
    raise _syntax_error(spec, last_pos, "unexpected end")  # pragma: no cover


def parse(spec: str, **hyperparameters: Any) -> Composite:
    """Build a :class:`Composite` from a spec such as ``"0.5*dice + 0.5*cross_entropy"``.

    Args:
        spec: terms joined by ``+``; each is a registered loss name or alias, optionally
            multiplied by numbers (``0.5*dice``, ``dice*0.5``, ``1e-3*l2_penalty``).
            Repeating a loss gives terms ``huber``, ``huber_2``, ...
        **hyperparameters: ``<term>={...}`` options for one term (hyperparameters and
            data arguments to bind, e.g. ``l2_penalty={"params": model}``);
            ``schedules={<term>: Schedule}`` multiplies a term's coefficient by a
            schedule; any other keyword is a hyperparameter for every term that has it.

    Raises:
        LossInputError: the spec does not parse, names an unknown loss (the message lists
            close names), or an option fits no term.
    """
    if not isinstance(spec, str):
        raise LossInputError(f"spec must be a string, got {type(spec).__name__}")
    parsed = _parse_terms(spec)
    infos, unknown = [], []
    for _, written in parsed:
        try:
            infos.append(get_info(written))
        except LossInputError:
            unknown.append(written)
    if unknown:
        hints = []
        for u in unknown:
            near = close_names(u)
            hints.append(f"{u!r}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
        raise LossInputError(f"unknown loss {', '.join(hints)} in spec {spec!r}; see "
                             "losskit.list_losses()")

    names: list[str] = []
    for _, written in parsed:
        names.append(_unique(written, set(names)))
    canonical = {}
    for n, info in zip(names, infos):
        canonical.setdefault(info.name, n)

    schedules = dict(hyperparameters.pop("schedules", None) or {})
    per_term: dict[str, Mapping[str, Any]] = {}
    shared: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        target = key if key in names else canonical.get(key)
        if target is not None and isinstance(value, Mapping):
            per_term[target] = value
        elif target is not None:
            raise LossInputError(f"options for term {key!r} must be a dict, e.g. "
                                 f"{key}={{...}}; got {type(value).__name__}")
        else:
            shared[key] = value
    for key in shared:
        if not any(key in info.hyperparameters or key == "reduction" for info in infos):
            raise LossInputError(f"{key!r} is neither a term of {tuple(names)} nor a "
                                 "hyperparameter of any of them")

    terms = []
    for (coefficient, _), name, info in zip(parsed, names, infos):
        hyper = {k: v for k, v in shared.items()
                 if k in info.hyperparameters or k == "reduction"}
        own_hyper, bound = _split_term_options(info, name, per_term.get(name, {}))
        module = module_class(info.name)(**{**hyper, **own_hyper})
        sched_key = name if name in schedules else info.name if info.name in schedules else None
        schedule = as_schedule(schedules.pop(sched_key)) if sched_key is not None else None
        if isinstance(schedule, Constant):
            coefficient, schedule = coefficient * schedule.constant, None
        terms.append(_Term(name, module, coefficient, schedule, bound))
    if schedules:
        raise LossInputError(f"schedules name terms {sorted(schedules)} that are not in "
                             f"{tuple(names)}")
    return Composite._from_terms(terms)
